/* proxy/ui/ui_project.c — /-/project/NAME: every file's status and reason,
 * the accepted publishers, the pin's history, and each publisher change
 * side by side.
 *
 * A publisher change is the decision an administrator has to make, so it
 * comes first: the accepted identity and the new one in two columns, one
 * row per certificate fact (publisher, repository, workflow, ref, commit
 * digest, environment, the first file that showed it, when, the source
 * repository and the workflow run), and the rows whose values differ
 * marked "differs" in words and colour.  With administrator rights the
 * change carries an approve form, the pin a forget form and the project a
 * re-verify form (POST, with the CSRF token); without, the page is
 * read-only and says how to act from the command line.
 *
 * The file table is one row per file in the order of the index (a
 * 2,000-file project renders in a few milliseconds; see tests/ui).
 *
 * Owns: nothing.  Borrows: the model.  Runs on: either.
 * Spec: issue 15 items 1 (project page), 2 (approvals), 3.
 */
#include <string.h>

#include "ui_int.h"

static const char *const status_class[PG_UI_NSTATUS] = {
    "st-verified", "st-unattested", "st-legacy", "st-pending",
    "st-rejected", "st-not"
};

static void
badge(struct pg_buf *b, enum pg_ui_status s)
{
    if ((int) s < 0 || s >= PG_UI_NSTATUS) {
        s = PG_UI_UNDECIDED;
    }
    pg_buf_putf(b, "<span class=\"st %s\">%s</span>", status_class[s],
        pg_ui_status_name(s));
}

static int
differs(const char *a, const char *b)
{
    if (a == NULL || a[0] == '\0') {
        return b != NULL && b[0] != '\0';
    }
    return b == NULL || strcmp(a, b) != 0;
}

/* One row of the side-by-side table (values untrusted; code: monospace). */
static void
fact(struct pg_buf *b, const char *name, const char *oldv,
    const char *newv, int code)
{
    int d = differs(oldv, newv);

    pg_buf_putf(b, "<tr%s><th scope=\"row\">%s%s</th>", d ? " class=\"diff\""
        : "", name, d ? " <span class=\"muted\">(differs)</span>" : "");
    pg_buf_puts(b, code ? "<td class=\"mono\">" : "<td>");
    if (oldv != NULL && oldv[0] != '\0') {
        pg_ui_text(b, oldv);
    } else {
        pg_buf_puts(b, "<span class=\"muted\">—</span>");
    }
    pg_buf_puts(b, code ? "</td><td class=\"mono\">" : "</td><td>");
    if (newv != NULL && newv[0] != '\0') {
        pg_ui_text(b, newv);
    } else {
        pg_buf_puts(b, "<span class=\"muted\">—</span>");
    }
    pg_buf_puts(b, "</td></tr>");
}

static void
link_fact(struct pg_buf *b, const char *name, const char *oldv,
    const char *newv)
{
    int d = differs(oldv, newv);

    pg_buf_putf(b, "<tr%s><th scope=\"row\">%s%s</th><td>", d
        ? " class=\"diff\"" : "", name, d
        ? " <span class=\"muted\">(differs)</span>" : "");
    if (oldv != NULL && oldv[0] != '\0') {
        pg_ui_ext_link(b, oldv, oldv);
    } else {
        pg_buf_puts(b, "<span class=\"muted\">—</span>");
    }
    pg_buf_puts(b, "</td><td>");
    if (newv != NULL && newv[0] != '\0') {
        pg_ui_ext_link(b, newv, newv);
    } else {
        pg_buf_puts(b, "<span class=\"muted\">—</span>");
    }
    pg_buf_puts(b, "</td></tr>");
}

static void
when_fact(struct pg_buf *b, int64_t o, int64_t n)
{
    pg_buf_puts(b, o != n ? "<tr class=\"diff\"><th scope=\"row\">uploaded "
        "<span class=\"muted\">(differs)</span></th><td>"
        : "<tr><th scope=\"row\">uploaded</th><td>");
    pg_ui_time(b, o);
    pg_buf_puts(b, "</td><td>");
    pg_ui_time(b, n);
    pg_buf_puts(b, "</td></tr>");
}

static void
hidden_field(struct pg_buf *b, const char *name, const char *value)
{
    pg_buf_putf(b, "<input type=\"hidden\" name=\"%s\" value=\"", name);
    pg_ui_text_max(b, value, 4096);
    pg_buf_puts(b, "\">");
}

/* action: approve, forget, reverify. */
static void
form_begin(struct pg_buf *b, const struct pg_ui_project *m,
    const char *action)
{
    pg_buf_puts(b, "<form class=\"inline\" method=\"post\" action=\""
        "/-/project/");
    pg_ui_urlpart(b, m->name);
    pg_buf_putf(b, "/%s\">", action);
    hidden_field(b, "csrf", m->csrf);
}

static void
change(struct pg_buf *b, const struct pg_ui_project *m, size_t i)
{
    const struct pg_ui_change *c = &m->changes[i];
    const struct pg_ui_identity *o = &c->old_id, *n = &c->new_id;

    pg_buf_putf(b, "<section class=\"change\" id=\"change-%zu\" aria-label="
        "\"Publisher change %zu\"><div class=\"scroll\"><table class="
        "\"side\"><caption>", i + 1, i + 1);
    pg_buf_putf(b, "%zu file%s from a publisher that is not accepted",
        c->nfiles, c->nfiles == 1 ? "" : "s");
    pg_buf_puts(b, "</caption><thead><tr><th scope=\"col\">fact</th>"
        "<th scope=\"col\">accepted (pinned or required)</th><th scope="
        "\"col\">new (not accepted)</th></tr></thead><tbody>");
    fact(b, "publisher", o->spec, n->spec, 1);
    fact(b, "repository", o->repository, n->repository, 1);
    fact(b, "workflow", o->workflow, n->workflow, 1);
    fact(b, "ref", o->ref, n->ref, 1);
    fact(b, "commit digest", o->digest, n->digest, 1);
    fact(b, "environment", o->environment, n->environment, 1);
    fact(b, "first file", o->first_file, n->first_file, 0);
    when_fact(b, o->when, n->when);
    pg_buf_puts(b, "<tr><th scope=\"row\">how</th><td>");
    pg_ui_text(b, o->how);
    pg_buf_puts(b, "</td><td>");
    pg_ui_text(b, n->how);
    pg_buf_puts(b, "</td></tr>");
    link_fact(b, "source repository", o->repo_url, n->repo_url);
    link_fact(b, "workflow run", o->run_url, n->run_url);
    pg_buf_puts(b, "</tbody></table></div>");
    if (m->admin && m->csrf != NULL) {
        form_begin(b, m, "approve");
        hidden_field(b, "publisher", n->spec);
        pg_buf_puts(b, "<label for=\"why-");
        pg_buf_putf(b, "%zu\">why</label><input id=\"why-%zu\" name=\"why\" "
            "maxlength=\"200\" required placeholder=\"e.g. repository "
            "moved\"> <button type=\"submit\">Approve ", i + 1, i + 1);
        pg_ui_text(b, n->spec);
        pg_buf_puts(b, "</button></form>");
    } else {
        pg_buf_puts(b, "<p class=\"muted\">To accept it: <code>provgate pins"
            " approve ");
        pg_ui_text(b, m->name);
        pg_buf_puts(b, " --publisher ");
        pg_ui_text(b, n->spec);
        pg_buf_puts(b, " --by NAME --why REASON</code></p>");
    }
    pg_buf_puts(b, "</section>");
}

static void
publishers(struct pg_buf *b, const struct pg_ui_project *m)
{
    size_t i;

    pg_buf_puts(b, "<h2 id=\"publishers\">Accepted publishers</h2>");
    if (m->npins == 0 && m->nrequired == 0) {
        pg_buf_puts(b, "<p class=\"muted\">No pin and no publisher in the "
            "policy: the first attested upload will be pinned (mode tofu)."
            "</p>");
    }
    if (m->npins > 0) {
        pg_buf_puts(b, "<div class=\"scroll\"><table><caption class=\"muted"
            "\">pinned</caption><thead><tr><th scope=\"col\">publisher</th>"
            "<th scope=\"col\">how</th><th scope=\"col\">since</th><th "
            "scope=\"col\">from file</th><th scope=\"col\">by</th></tr>"
            "</thead><tbody>");
        for (i = 0; i < m->npins; i++) {
            const struct pg_ui_pin *p = &m->pins[i];

            pg_buf_puts(b, "<tr><td><code>");
            pg_ui_text(b, p->spec);
            pg_buf_puts(b, "</code></td><td>");
            pg_ui_text(b, p->how);
            pg_buf_puts(b, "</td><td>");
            pg_ui_time(b, p->time);
            pg_buf_puts(b, "</td><td>");
            pg_ui_text(b, p->file);
            pg_buf_puts(b, "</td><td>");
            pg_ui_text(b, p->by);
            pg_buf_puts(b, "</td></tr>");
        }
        pg_buf_puts(b, "</tbody></table></div>");
    }
    if (m->nrequired > 0) {
        pg_buf_puts(b, "<p>Required by the policy:</p><ul>");
        for (i = 0; i < m->nrequired; i++) {
            pg_buf_puts(b, "<li><code>");
            pg_ui_text(b, m->required[i]);
            pg_buf_puts(b, "</code></li>");
        }
        pg_buf_puts(b, "</ul>");
    }
    if (m->admin && m->csrf != NULL) {
        if (m->npins > 0) {
            form_begin(b, m, "forget");
            pg_buf_puts(b, "<label for=\"why-forget\">why</label><input "
                "id=\"why-forget\" name=\"why\" maxlength=\"200\" required>"
                " <button class=\"danger\" type=\"submit\">Forget the pin"
                "</button></form>");
        }
        form_begin(b, m, "reverify");
        pg_buf_puts(b, "<button type=\"submit\">Re-verify the project"
            "</button></form>");
    }
}

static void
files(struct pg_buf *b, const struct pg_ui_project *m)
{
    size_t counts[PG_UI_NSTATUS] = { 0 }, i;
    int s;

    for (i = 0; i < m->nfiles; i++) {
        if ((int) m->files[i].status >= 0
            && m->files[i].status < PG_UI_NSTATUS)
        {
            counts[m->files[i].status]++;
        }
    }
    pg_buf_putf(b, "<h2 id=\"files\">Files (%zu)</h2><p>", m->nfiles);
    for (s = 0; s < PG_UI_NSTATUS; s++) {
        if (counts[s] > 0) {
            badge(b, (enum pg_ui_status) s);
            pg_buf_putf(b, " %zu &nbsp; ", counts[s]);
        }
    }
    pg_buf_puts(b, "</p>");
    if (m->note != NULL) {
        pg_buf_puts(b, "<p class=\"muted\">");
        pg_ui_text(b, m->note);
        pg_buf_puts(b, "</p>");
    }
    pg_buf_puts(b, "<div class=\"scroll\"><table id=\"file-table\"><thead>"
        "<tr><th scope=\"col\">version</th><th scope=\"col\">file</th>"
        "<th scope=\"col\">uploaded</th><th scope=\"col\">status</th>"
        "<th scope=\"col\">decision</th><th scope=\"col\">publisher</th>"
        "<th scope=\"col\">reason</th></tr></thead><tbody>");
    for (i = 0; i < m->nfiles; i++) {
        const struct pg_ui_file *f = &m->files[i];

        pg_buf_puts(b, "<tr><td>");
        pg_ui_text(b, f->version);
        pg_buf_puts(b, "</td><td class=\"mono\">");
        pg_ui_text(b, f->filename);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, f->upload_time);
        pg_buf_puts(b, "</td><td>");
        badge(b, f->status);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, f->decision);
        pg_buf_puts(b, "</td><td class=\"mono\">");
        pg_ui_text(b, f->publisher);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, f->reason);
        pg_buf_puts(b, "</td></tr>\n");
    }
    pg_buf_puts(b, "</tbody></table></div>");
}

static void
history(struct pg_buf *b, const struct pg_ui_project *m)
{
    size_t i;

    pg_buf_puts(b, "<h2 id=\"history\">Pin history</h2>");
    if (m->hist_note != NULL) {
        pg_buf_puts(b, "<p class=\"muted\">");
        pg_ui_text(b, m->hist_note);
        pg_buf_puts(b, "</p>");
    }
    if (m->nhist == 0) {
        pg_buf_puts(b, "<p class=\"muted\">No pin event.</p>");
        return;
    }
    pg_buf_puts(b, "<div class=\"scroll\"><table id=\"history-table\">"
        "<thead><tr><th scope=\"col\">when</th><th scope=\"col\">what</th>"
        "<th scope=\"col\">before</th><th scope=\"col\">after</th><th "
        "scope=\"col\">by</th><th scope=\"col\">why</th><th scope=\"col\">"
        "file</th></tr></thead><tbody>");
    for (i = m->nhist; i-- > 0;) {         /* newest first */
        const struct pg_ui_hist *h = &m->hist[i];

        pg_buf_puts(b, "<tr><td>");
        pg_ui_time(b, h->time);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, h->what);
        pg_buf_puts(b, "</td><td class=\"mono\">");
        pg_ui_text(b, h->before);
        pg_buf_puts(b, "</td><td class=\"mono\">");
        pg_ui_text(b, h->after);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, h->by);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, h->why);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, h->file);
        pg_buf_puts(b, "</td></tr>");
    }
    pg_buf_puts(b, "</tbody></table></div>");
}

int
pg_ui_render_project(const struct pg_ui_project *m, struct pg_buf *out)
{
    size_t i;

    pg_ui_page_begin(out, m->name, m->admin);
    pg_buf_puts(out, "<h1>");
    pg_ui_text(out, m->name);
    pg_buf_puts(out, "</h1>");
    if (m->flash != NULL) {
        pg_buf_puts(out, "<p class=\"flash\" role=\"status\">");
        pg_ui_text(out, m->flash);
        pg_buf_puts(out, "</p>");
    }
    pg_buf_puts(out, "<p>Policy: mode <strong>");
    pg_ui_text(out, m->mode);
    pg_buf_puts(out, "</strong>, on_violation <strong>");
    pg_ui_text(out, m->on_violation);
    pg_buf_puts(out, "</strong>, legacy <strong>");
    pg_ui_text(out, m->legacy);
    pg_buf_puts(out, "</strong>. ");
    if (m->upstream_url != NULL) {
        pg_ui_ext_link(out, m->upstream_url, "upstream index page");
    }
    if (m->pypi_url != NULL) {
        pg_buf_puts(out, " · ");
        pg_ui_ext_link(out, m->pypi_url, "project on PyPI");
    }
    pg_buf_puts(out, " · <a href=\"/-/events?project=");
    pg_ui_urlpart(out, m->name);
    pg_buf_puts(out, "\">events</a></p>");
    pg_buf_putf(out, "<h2 id=\"changes\">Publisher changes waiting for "
        "approval (%zu)</h2>", m->nchanges);
    if (m->nchanges == 0) {
        pg_buf_puts(out, "<p class=\"muted\">None.</p>");
    }
    for (i = 0; i < m->nchanges; i++) {
        change(out, m, i);
    }
    publishers(out, m);
    files(out, m);
    history(out, m);
    pg_ui_page_end(out);
    return out->failed ? -1 : 0;
}
