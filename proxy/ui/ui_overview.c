/* proxy/ui/ui_overview.c — /-/: what was refused, pinned and approved.
 *
 * Cards with the totals of the last 24 hours and of the week (each links
 * to the events behind it), one inline SVG bar per day (refusals stacked
 * on pins and approvals, with a <title> per bar and the same numbers in a
 * table for screen readers and for copying), the projects with refusals,
 * the publisher changes waiting for an administrator, the recent pin
 * events, the cache and the upstream.  Every string is written through
 * pg_ui_text.
 *
 * Owns: nothing.  Borrows: the model.  Runs on: either.
 * Spec: issue 15 item 1 (overview).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ui_int.h"

#define CHART_W 560
#define CHART_H 180
#define CHART_TOP 16
#define CHART_BOTTOM 28

static uint64_t
refused(const uint32_t *n)
{
    return (uint64_t) n[PG_UI_K_YANK] + n[PG_UI_K_HIDE] + n[PG_UI_K_DENY];
}

static uint64_t
refused64(const uint64_t *n)
{
    return n[PG_UI_K_YANK] + n[PG_UI_K_HIDE] + n[PG_UI_K_DENY];
}

static uint64_t
pins(const uint32_t *n)
{
    return (uint64_t) n[PG_UI_K_PIN] + n[PG_UI_K_APPROVE]
        + n[PG_UI_K_FORGET];
}

static void
day_label(int64_t start, char *out, size_t len)
{
    time_t t = (time_t) start;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL
        || strftime(out, len, "%m-%d", &tm) == 0)
    {
        snprintf(out, len, "?");
    }
}

static void
day_iso(int64_t start, char *out, size_t len)
{
    time_t t = (time_t) start;
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL
        || strftime(out, len, "%Y-%m-%d", &tm) == 0)
    {
        snprintf(out, len, "1970-01-01");
    }
}

static void
card(struct pg_buf *b, const char *label, uint64_t v, const char *href)
{
    pg_buf_puts(b, "<div class=\"card\">");
    if (href != NULL) {
        pg_buf_putf(b, "<a href=\"%s\"><span class=\"v\">%llu</span>", href,
            (unsigned long long) v);
        pg_buf_puts(b, label);
        pg_buf_puts(b, "</a>");
    } else {
        pg_buf_putf(b, "<span class=\"v\">%llu</span>",
            (unsigned long long) v);
        pg_buf_puts(b, label);
    }
    pg_buf_puts(b, "</div>");
}

/* One bar per day: refusals (dark red) on top of pin events (blue). */
static void
chart(struct pg_buf *b, const struct pg_ui_overview *m)
{
    uint64_t max = 1;
    int plot = CHART_H - CHART_TOP - CHART_BOTTOM, slot = CHART_W
        / PG_UI_DAYS, bw = slot * 3 / 5;
    size_t d;

    for (d = 0; d < PG_UI_DAYS; d++) {
        uint64_t t = refused(m->days[d].n) + pins(m->days[d].n);

        if (t > max) {
            max = t;
        }
    }
    pg_buf_putf(b, "<svg role=\"img\" aria-labelledby=\"chart-title\" "
        "viewBox=\"0 0 %d %d\" width=\"100%%\" style=\"max-width:%dpx\">"
        "<title id=\"chart-title\">Refusals and pin events per day, the "
        "last %d days (numbers in the table below)</title>", CHART_W,
        CHART_H, CHART_W, PG_UI_DAYS);
    pg_buf_putf(b, "<line x1=\"0\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
        "stroke=\"#4a4a4a\"/>", CHART_H - CHART_BOTTOM, CHART_W,
        CHART_H - CHART_BOTTOM);
    for (d = 0; d < PG_UI_DAYS; d++) {
        uint64_t r = refused(m->days[d].n), p = pins(m->days[d].n);
        int hr = (int) (r * (uint64_t) plot / max);
        int hp = (int) (p * (uint64_t) plot / max);
        int x = (int) d * slot + (slot - bw) / 2;
        int base = CHART_H - CHART_BOTTOM;
        char lab[16];

        day_label(m->days[d].start, lab, sizeof(lab));
        pg_buf_putf(b, "<g><title>%s: %llu refused, %llu pin events</title>",
            lab, (unsigned long long) r, (unsigned long long) p);
        if (hp > 0) {
            pg_buf_putf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\""
                " fill=\"#1f5fa8\"/>", x, base - hp, bw, hp);
        }
        if (hr > 0) {
            pg_buf_putf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\""
                " fill=\"#9b1c1c\"/>", x, base - hp - hr, bw, hr);
        }
        pg_buf_putf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%llu"
            "</text>", x + bw / 2, base - hp - hr - 3,
            (unsigned long long) (r + p));
        pg_buf_putf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s"
            "</text></g>", x + bw / 2, CHART_H - 10, lab);
    }
    pg_buf_puts(b, "</svg><p class=\"muted\"><span style=\"color:#9b1c1c\">"
        "&#9632;</span> refused (yank, hide, deny) "
        "<span style=\"color:#1f5fa8\">&#9632;</span> pins, approvals, "
        "forgets</p>");
}

static void
day_table(struct pg_buf *b, const struct pg_ui_overview *m)
{
    static const enum pg_ui_kind rows[] = { PG_UI_K_YANK, PG_UI_K_HIDE,
        PG_UI_K_DENY, PG_UI_K_PIN, PG_UI_K_APPROVE, PG_UI_K_FORGET };
    size_t d, k;

    pg_buf_puts(b, "<div class=\"scroll\"><table id=\"per-day\"><caption "
        "class=\"muted\">Audited decisions per day (UTC)</caption><thead>"
        "<tr><th scope=\"col\">decision</th>");
    for (d = 0; d < PG_UI_DAYS; d++) {
        char lab[16];

        day_label(m->days[d].start, lab, sizeof(lab));
        pg_buf_putf(b, "<th scope=\"col\" class=\"n\">%s</th>", lab);
    }
    pg_buf_puts(b, "<th scope=\"col\" class=\"n\">24 h</th><th scope=\"col\""
        " class=\"n\">week</th></tr></thead><tbody>");
    for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
        const char *name = pg_ui_kind_name(rows[k]);

        pg_buf_putf(b, "<tr><th scope=\"row\">%s</th>", name);
        for (d = 0; d < PG_UI_DAYS; d++) {
            char iso[16];

            day_iso(m->days[d].start, iso, sizeof(iso));
            pg_buf_putf(b, "<td class=\"n\"><a href=\"/-/events?decision=%s"
                "&amp;since=%s\">%u</a></td>", name, iso,
                m->days[d].n[rows[k]]);
        }
        pg_buf_putf(b, "<td class=\"n\"><a href=\"/-/events?decision=%s"
            "&amp;since=24h\">%llu</a></td><td class=\"n\"><a href=\""
            "/-/events?decision=%s&amp;since=7d\">%llu</a></td></tr>", name,
            (unsigned long long) m->last_day[rows[k]], name,
            (unsigned long long) m->last_week[rows[k]]);
    }
    pg_buf_puts(b, "</tbody></table></div>");
}

static void
refusals(struct pg_buf *b, const struct pg_ui_overview *m)
{
    size_t i;

    pg_buf_puts(b, "<h2 id=\"refusals\">Projects with refusals</h2>");
    if (m->nrefusals == 0) {
        pg_buf_puts(b, "<p class=\"muted\">None among the events held.</p>");
        return;
    }
    pg_buf_puts(b, "<div class=\"scroll\"><table><thead><tr><th scope="
        "\"col\">project</th><th scope=\"col\" class=\"n\">refusals</th>"
        "</tr></thead><tbody>");
    for (i = 0; i < m->nrefusals; i++) {
        const char *p = m->refusals[i].project;

        pg_buf_puts(b, "<tr><td><a href=\"/-/project/");
        pg_ui_urlpart(b, p);
        pg_buf_puts(b, "\">");
        pg_ui_text(b, p);
        pg_buf_puts(b, "</a></td><td class=\"n\"><a href=\"/-/events?"
            "decision=refused&amp;project=");
        pg_ui_urlpart(b, p);
        pg_buf_putf(b, "\">%zu</a></td></tr>", m->refusals[i].n);
    }
    pg_buf_puts(b, "</tbody></table></div>");
}

static void
pending(struct pg_buf *b, const struct pg_ui_overview *m)
{
    size_t i;

    pg_buf_puts(b, "<h2 id=\"pending\">Publisher changes waiting for "
        "approval</h2>");
    if (m->npending == 0) {
        pg_buf_puts(b, "<p class=\"muted\">None.</p>");
        return;
    }
    pg_buf_puts(b, "<div class=\"scroll\"><table><thead><tr><th scope="
        "\"col\">project</th><th scope=\"col\">new publisher</th><th "
        "scope=\"col\">accepted</th><th scope=\"col\">file</th><th scope="
        "\"col\">since</th></tr></thead><tbody>");
    for (i = 0; i < m->npending; i++) {
        const struct pg_ui_pending *p = &m->pending[i];

        pg_buf_puts(b, "<tr><td><a href=\"/-/project/");
        pg_ui_urlpart(b, p->project);
        pg_buf_puts(b, "\">");
        pg_ui_text(b, p->project);
        pg_buf_puts(b, "</a></td><td><code>");
        pg_ui_text(b, p->seen);
        pg_buf_puts(b, "</code></td><td><code>");
        pg_ui_text(b, p->expected);
        pg_buf_puts(b, "</code></td><td>");
        pg_ui_text(b, p->file);
        pg_buf_puts(b, "</td><td>");
        pg_ui_time(b, p->time);
        pg_buf_puts(b, "</td></tr>");
    }
    pg_buf_puts(b, "</tbody></table></div>");
}

static void
pin_events(struct pg_buf *b, const struct pg_ui_overview *m)
{
    size_t i;

    pg_buf_puts(b, "<h2 id=\"pins\">Recent pin events</h2>");
    if (m->npins == 0) {
        pg_buf_puts(b, "<p class=\"muted\">None since the server started."
            "</p>");
        return;
    }
    pg_buf_puts(b, "<div class=\"scroll\"><table><thead><tr><th scope="
        "\"col\">when</th><th scope=\"col\">event</th><th scope=\"col\">"
        "project</th><th scope=\"col\">publisher</th><th scope=\"col\">by"
        "</th><th scope=\"col\">reason</th></tr></thead><tbody>");
    for (i = 0; i < m->npins; i++) {
        const struct pg_ui_event *e = &m->pins[i];

        pg_buf_puts(b, "<tr><td>");
        pg_ui_time(b, e->time);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, e->event);
        pg_buf_puts(b, "</td><td><a href=\"/-/project/");
        pg_ui_urlpart(b, e->project);
        pg_buf_puts(b, "\">");
        pg_ui_text(b, e->project);
        pg_buf_puts(b, "</a></td><td><code>");
        pg_ui_text(b, e->seen != NULL && e->seen[0] != '\0' ? e->seen
            : e->expected);
        pg_buf_puts(b, "</code></td><td>");
        pg_ui_text(b, e->actor);
        pg_buf_puts(b, "</td><td>");
        pg_ui_text(b, e->reason);
        pg_buf_puts(b, "</td></tr>");
    }
    pg_buf_puts(b, "</tbody></table></div>");
}

static void
service(struct pg_buf *b, const struct pg_ui_overview *m)
{
    uint64_t all = m->hits + m->misses;

    pg_buf_puts(b, "<h2 id=\"service\">Cache and upstream</h2><div class="
        "\"scroll\"><table><tbody>");
    pg_buf_putf(b, "<tr><th scope=\"row\">cache size</th><td>%.1f MiB of "
        "%.1f MiB, %llu files</td></tr>", (double) m->cache_bytes
        / 1048576.0, (double) m->cache_max / 1048576.0,
        (unsigned long long) m->cache_files);
    if (all > 0) {
        pg_buf_putf(b, "<tr><th scope=\"row\">hit rate</th><td>%.1f%% "
            "(%llu of %llu requests from the cache)</td></tr>",
            100.0 * (double) m->hits / (double) all,
            (unsigned long long) m->hits, (unsigned long long) all);
    } else {
        pg_buf_puts(b, "<tr><th scope=\"row\">hit rate</th><td>no "
            "requests yet</td></tr>");
    }
    pg_buf_puts(b, "<tr><th scope=\"row\">upstream</th><td><code>");
    pg_ui_text(b, m->upstream);
    pg_buf_putf(b, "</code>: %llu requests, %llu failed", (unsigned long long)
        m->up_requests, (unsigned long long) m->up_errors);
    if (m->up_requests > 0) {
        pg_buf_putf(b, " (%.1f%%)", 100.0 * (double) m->up_errors
            / (double) m->up_requests);
    }
    pg_buf_puts(b, "</td></tr><tr><th scope=\"row\">pin store</th><td>");
    pg_ui_text(b, m->pin_store);
    pg_buf_puts(b, m->pin_store_up ? " (available)" : " (<strong>"
        "unavailable</strong>: known pins still work)");
    pg_buf_putf(b, "</td></tr><tr><th scope=\"row\">events held</th><td>"
        "%llu of %llu since start (<a href=\"/metrics\">metrics</a>)</td>"
        "</tr></tbody></table></div>", (unsigned long long) m->events_held,
        (unsigned long long) m->events_seen);
}

int
pg_ui_render_overview(const struct pg_ui_overview *m, struct pg_buf *out)
{
    pg_ui_page_begin(out, "Overview", m->admin);
    pg_buf_puts(out, "<h1>Overview</h1><section aria-label=\"Totals\" "
        "class=\"cards\">");
    card(out, "refused, last 24 h", refused64(m->last_day),
        "/-/events?decision=refused&amp;since=24h");
    card(out, "refused, last 7 days", refused64(m->last_week),
        "/-/events?decision=refused&amp;since=7d");
    card(out, "pins created, 7 days", m->last_week[PG_UI_K_PIN],
        "/-/events?decision=pin&amp;since=7d");
    card(out, "approvals, 7 days", m->last_week[PG_UI_K_APPROVE],
        "/-/events?decision=approve&amp;since=7d");
    card(out, "waiting for approval", m->npending, "#pending");
    card(out, "projects with refusals", m->nrefusals, "#refusals");
    pg_buf_puts(out, "</section><h2 id=\"days\">Per day</h2>");
    chart(out, m);
    day_table(out, m);
    pending(out, m);
    refusals(out, m);
    pin_events(out, m);
    service(out, m);
    pg_ui_page_end(out);
    return out->failed ? -1 : 0;
}
