/* proxy/ui/ui_events.c — /-/events: the audit stream, filtered and paged.
 *
 * A GET form (labelled fields: project, decision, since) so the URL of a
 * filtered view is stable and can be shared; the events newest first,
 * PG_UI_PAGE_EVENTS a page, with previous/next links that keep the
 * filters.  The route does the filtering (pg_ui_filter_match); this only
 * writes what it was given.
 *
 * Owns: nothing.  Borrows: the model.  Runs on: either.
 * Spec: issue 15 item 1 (events).
 */
#include <string.h>

#include "ui_int.h"

static const char *const decisions[] = { "refused", "yank", "hide", "deny",
    "pin", "approve", "forget", "other" };

static void
query(struct pg_buf *b, const struct pg_ui_events *m, size_t page)
{
    pg_buf_puts(b, "/-/events?project=");
    pg_ui_urlpart(b, m->project);
    pg_buf_puts(b, "&amp;decision=");
    pg_ui_urlpart(b, m->decision);
    pg_buf_puts(b, "&amp;since=");
    pg_ui_urlpart(b, m->since);
    pg_buf_putf(b, "&amp;page=%zu", page);
}

static void
form(struct pg_buf *b, const struct pg_ui_events *m)
{
    size_t i;

    pg_buf_puts(b, "<form method=\"get\" action=\"/-/events\" class=\""
        "filters\"><fieldset><legend>Filter</legend><div><label for=\""
        "f-project\">project</label><input id=\"f-project\" name=\"project"
        "\" value=\"");
    pg_ui_text(b, m->project);
    pg_buf_puts(b, "\"></div><div><label for=\"f-decision\">decision</label>"
        "<select id=\"f-decision\" name=\"decision\"><option value=\"\">"
        "any</option>");
    for (i = 0; i < sizeof(decisions) / sizeof(decisions[0]); i++) {
        int sel = m->decision != NULL
            && strcmp(m->decision, decisions[i]) == 0;

        pg_buf_putf(b, "<option%s>%s</option>", sel ? " selected" : "",
            decisions[i]);
    }
    pg_buf_puts(b, "</select></div><div><label for=\"f-since\">since</label>"
        "<input id=\"f-since\" name=\"since\" placeholder=\"24h, 7d or "
        "2026-12-01\" value=\"");
    pg_ui_text(b, m->since);
    pg_buf_puts(b, "\"></div> <button type=\"submit\">Show</button>"
        "</fieldset></form>");
}

int
pg_ui_render_events(const struct pg_ui_events *m, struct pg_buf *out)
{
    size_t i;

    pg_ui_page_begin(out, "Events", m->admin);
    pg_buf_puts(out, "<h1>Events</h1>");
    form(out, m);
    pg_buf_putf(out, "<p class=\"muted\">The audit stream since the server "
        "started: %llu events held in memory, the newest up to the store's "
        "bounds (the audit log file has them all).  Page %zu.</p>", (unsigned long long) m->events_held,
        m->page);
    if (m->nev == 0) {
        pg_buf_puts(out, "<p>No event matches.</p>");
    } else {
        pg_buf_puts(out, "<div class=\"scroll\"><table id=\"events\"><thead>"
            "<tr><th scope=\"col\">when</th><th scope=\"col\">event</th>"
            "<th scope=\"col\">decision</th><th scope=\"col\">project</th>"
            "<th scope=\"col\">file</th><th scope=\"col\">seen</th><th "
            "scope=\"col\">expected</th><th scope=\"col\">reason</th><th "
            "scope=\"col\">who</th></tr></thead><tbody>");
    }
    for (i = 0; i < m->nev; i++) {
        const struct pg_ui_event *e = &m->ev[i];

        pg_buf_puts(out, "<tr><td>");
        pg_ui_time(out, e->time);
        pg_buf_puts(out, "</td><td>");
        pg_ui_text(out, e->event);
        pg_buf_puts(out, "</td><td>");
        pg_ui_text(out, e->decision);
        pg_buf_puts(out, "</td><td>");
        if (e->project != NULL && e->project[0] != '\0') {
            pg_buf_puts(out, "<a href=\"/-/project/");
            pg_ui_urlpart(out, e->project);
            pg_buf_puts(out, "\">");
            pg_ui_text(out, e->project);
            pg_buf_puts(out, "</a>");
        }
        pg_buf_puts(out, "</td><td class=\"mono\">");
        pg_ui_text(out, e->file);
        pg_buf_puts(out, "</td><td class=\"mono\">");
        pg_ui_text(out, e->seen);
        pg_buf_puts(out, "</td><td class=\"mono\">");
        pg_ui_text(out, e->expected);
        pg_buf_puts(out, "</td><td>");
        pg_ui_text(out, e->reason);
        pg_buf_puts(out, "</td><td>");
        pg_ui_text(out, e->actor != NULL && e->actor[0] != '\0' ? e->actor
            : e->client);
        pg_buf_puts(out, "</td></tr>\n");
    }
    if (m->nev > 0) {
        pg_buf_puts(out, "</tbody></table></div>");
    }
    pg_buf_puts(out, "<nav aria-label=\"Pages\"><p>");
    if (m->page > 1) {
        pg_buf_puts(out, "<a rel=\"prev\" href=\"");
        query(out, m, m->page - 1);
        pg_buf_puts(out, "\">← newer</a> ");
    }
    if (m->has_next) {
        pg_buf_puts(out, "<a rel=\"next\" href=\"");
        query(out, m, m->page + 1);
        pg_buf_puts(out, "\">older →</a>");
    }
    pg_buf_puts(out, "</p></nav>");
    pg_ui_page_end(out);
    return out->failed ? -1 : 0;
}
