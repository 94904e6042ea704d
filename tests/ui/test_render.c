/* tests/ui/test_render.c — every operator page rendered from fixtures
 * whose strings are hostile: markup (<script>, quotes that would end an
 * attribute), a right-to-left override (U+202E), invalid UTF-8, control
 * characters, a javascript: URL and a 10,000-character publisher claim.
 * Each test asserts what a reader relies on: the markup is ours alone, the
 * hostile text is shown escaped and visible, the statuses and the
 * side-by-side change are there, forms appear only for an administrator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ui_int.h"

#define SCRIPT "<script>alert(1)</script>"
#define QUOTES "x\" onmouseover=\"alert(2)' y"
#define RLO "evil\xe2\x80\xae" "lmy.esaeler"        /* U+202E */
#define BAD_UTF8 "caf\xc3(\xff"
#define T0 1765000000                               /* 2025-12-06 */

static char long_claim[10001];

static char *
render_project(const struct pg_ui_project *m, size_t *len)
{
    struct pg_buf b;

    pg_buf_init(&b, 4096, PG_UI_MAX_PAGE);
    assert_int_equal(pg_ui_render_project(m, &b), 0);
    pg_buf_put(&b, "", 1);
    assert_false(b.failed);
    *len = b.len - 1;
    return b.p;
}

/* No byte sequence of the hostile inputs reaches the page raw. */
static void
assert_clean(const char *html)
{
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "onmouseover=\""));
    assert_null(strstr(html, "\xe2\x80\xae"));
    assert_null(strstr(html, "\xff"));
    assert_null(strstr(html, "href=\"javascript:"));
    assert_null(strstr(html, "\x01"));
}

static struct pg_ui_file files[] = {
    { "demo-1.0-py3-none-any.whl", "1.0", "2025-01-01T00:00:00Z",
      PG_UI_VERIFIED, "allow", NULL, "github:org/demo:release.yml" },
    { "demo-0.9.tar.gz", "0.9", "2024-06-01T00:00:00Z", PG_UI_LEGACY,
      "allow", NULL, NULL },
    { "demo-1.1-py3-none-any.whl", "1.1", NULL, PG_UI_PENDING, "pending",
      "provgate: demo-1.1 waits for its provenance", NULL },
    { "demo-1.2-" SCRIPT ".whl", "1.2", "2025-03-01T00:00:00Z",
      PG_UI_REJECTED, "yank", "provgate: publisher " QUOTES
      " is not accepted for demo", RLO },
    { "demo-1.3.tar.gz", "1.3", "2025-04-01T00:00:00Z", PG_UI_UNATTESTED,
      "allow", BAD_UTF8 "\x01", NULL },
};

static void
fill_project(struct pg_ui_project *m, struct pg_ui_change *c,
    struct pg_ui_pin *pin, struct pg_ui_hist *h)
{
    memset(m, 0, sizeof(*m));
    memset(c, 0, sizeof(*c));
    c->old_id.spec = "github:org/demo:release.yml";
    c->old_id.repository = "org/demo";
    c->old_id.workflow = "release.yml";
    c->old_id.ref = "refs/tags/v1.0";
    c->old_id.digest = "1111111111111111111111111111111111111111";
    c->old_id.first_file = "demo-1.0-py3-none-any.whl";
    c->old_id.when = T0 - 86400;
    c->old_id.how = "tofu";
    c->old_id.repo_url = "https://github.com/org/demo";
    c->old_id.run_url = "https://github.com/org/demo/actions/runs/1";
    c->new_id.spec = long_claim;
    c->new_id.repository = RLO;
    c->new_id.workflow = "release.yml";
    c->new_id.ref = SCRIPT;
    c->new_id.digest = "2222222222222222222222222222222222222222";
    c->new_id.first_file = "demo-1.2-" SCRIPT ".whl";
    c->new_id.when = T0;
    c->new_id.repo_url = "javascript:alert(3)";
    c->new_id.run_url = "https://github.com/x/y\"><script>";
    c->nfiles = 1;
    memset(pin, 0, sizeof(*pin));
    pin->spec = "github:org/demo:release.yml";
    pin->how = "tofu";
    pin->file = "demo-1.0-py3-none-any.whl";
    pin->time = T0 - 86400;
    memset(h, 0, sizeof(*h));
    h->time = T0 - 86400;
    h->what = "tofu";
    h->after = "github:org/demo:release.yml";
    h->by = "provgate@" SCRIPT;
    h->why = QUOTES;
    h->file = "demo-1.0-py3-none-any.whl";
    m->name = "demo";
    m->mode = "tofu";
    m->on_violation = "yank";
    m->legacy = "allow";
    m->upstream_url = "https://pypi.org/simple/demo/";
    m->pypi_url = "https://pypi.org/project/demo/";
    m->pins = pin;
    m->npins = 1;
    m->hist = h;
    m->nhist = 1;
    m->changes = c;
    m->nchanges = 1;
    m->files = files;
    m->nfiles = sizeof(files) / sizeof(files[0]);
}

static void
project_page_escapes_every_untrusted_string(void **state)
{
    struct pg_ui_project m;
    struct pg_ui_change c;
    struct pg_ui_pin pin;
    struct pg_ui_hist h;
    size_t len;
    char *html;

    (void) state;
    fill_project(&m, &c, &pin, &h);
    html = render_project(&m, &len);
    assert_clean(html);
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "x&quot; onmouseover=&quot;alert(2)&#39;"));
    /* the override is shown, not obeyed */
    assert_non_null(strstr(html, "evil<span class=\"mark\">&lt;U+202E&gt;"
        "</span>lmy.esaeler"));
    assert_non_null(strstr(html, "caf\xef\xbf\xbd(\xef\xbf\xbd<span "
        "class=\"mark\">&lt;U+0001&gt;</span>"));
    /* the 10,000-character claim is cut, with what was left out */
    assert_non_null(strstr(html, "(9700 more bytes)"));
    assert_true(len < 40000);
    /* hostile URLs are text, not links */
    assert_null(strstr(html, "href=\"javascript"));
    assert_null(strstr(html, "href=\"https://github.com/x/y"));
    assert_non_null(strstr(html, "href=\"https://github.com/org/demo/"
        "actions/runs/1\""));
    free(html);
}

static void
project_page_shows_each_status_and_reason(void **state)
{
    struct pg_ui_project m;
    struct pg_ui_change c;
    struct pg_ui_pin pin;
    struct pg_ui_hist h;
    size_t len;
    char *html;

    (void) state;
    fill_project(&m, &c, &pin, &h);
    html = render_project(&m, &len);
    assert_non_null(strstr(html, "<span class=\"st st-verified\">verified"));
    assert_non_null(strstr(html, "<span class=\"st st-legacy\">legacy"));
    assert_non_null(strstr(html, "<span class=\"st st-pending\">pending"));
    assert_non_null(strstr(html, "<span class=\"st st-rejected\">rejected"));
    assert_non_null(strstr(html, "<span class=\"st st-unattested\">"
        "unattested"));
    assert_non_null(strstr(html, "provgate: demo-1.1 waits for its "
        "provenance"));
    assert_non_null(strstr(html, "<h2 id=\"files\">Files (5)</h2>"));
    /* history newest first, with who and why */
    assert_non_null(strstr(html, "provgate@&lt;script&gt;"));
    free(html);
}

static void
publisher_change_is_side_by_side_with_differences_marked(void **state)
{
    struct pg_ui_project m;
    struct pg_ui_change c;
    struct pg_ui_pin pin;
    struct pg_ui_hist h;
    size_t len;
    char *html, *tab, *row;

    (void) state;
    fill_project(&m, &c, &pin, &h);
    c.new_id.spec = "github:org/demo-moved:release.yml";
    c.new_id.repository = "org/demo-moved";
    html = render_project(&m, &len);
    tab = strstr(html, "<table class=\"side\">");
    assert_non_null(tab);
    assert_non_null(strstr(tab, "<th scope=\"col\">accepted (pinned or "
        "required)</th><th scope=\"col\">new (not accepted)</th>"));
    row = strstr(tab, "<tr class=\"diff\"><th scope=\"row\">repository "
        "<span class=\"muted\">(differs)</span></th><td class=\"mono\">"
        "org/demo</td><td class=\"mono\">org/demo-moved</td></tr>");
    assert_non_null(row);
    /* equal facts are not marked */
    assert_non_null(strstr(tab, "<tr><th scope=\"row\">workflow</th><td "
        "class=\"mono\">release.yml</td><td class=\"mono\">release.yml"
        "</td></tr>"));
    assert_non_null(strstr(tab, "commit digest <span class=\"muted\">"
        "(differs)</span></th><td class=\"mono\">1111111111111111111111111"
        "111111111111111</td><td class=\"mono\">2222222222222222222222222"
        "222222222222222</td>"));
    assert_non_null(strstr(tab, "ref <span class=\"muted\">(differs)"));
    /* read-only: the command to run, no form */
    assert_null(strstr(html, "<form"));
    assert_non_null(strstr(html, "provgate pins approve demo --publisher "
        "github:org/demo-moved:release.yml"));
    free(html);
}

static void
forms_only_for_an_administrator_with_a_token(void **state)
{
    struct pg_ui_project m;
    struct pg_ui_change c;
    struct pg_ui_pin pin;
    struct pg_ui_hist h;
    size_t len;
    char *html;

    (void) state;
    fill_project(&m, &c, &pin, &h);
    m.admin = 1;                        /* no token: still no form */
    html = render_project(&m, &len);
    assert_null(strstr(html, "<form"));
    free(html);
    m.csrf = "tok\"en";
    html = render_project(&m, &len);
    assert_non_null(strstr(html, "<form class=\"inline\" method=\"post\" "
        "action=\"/-/project/demo/approve\"><input type=\"hidden\" name="
        "\"csrf\" value=\"tok&quot;en\">"));
    assert_non_null(strstr(html, "action=\"/-/project/demo/forget\""));
    assert_non_null(strstr(html, "action=\"/-/project/demo/reverify\""));
    assert_null(strstr(html, "method=\"get\" action=\"/-/project"));
    assert_clean(html);
    free(html);
}

static void
overview_counts_bars_and_hostile_names(void **state)
{
    struct pg_ui_overview m;
    struct pg_ui_count ref[1] = { { "x\"<b>", 3 } };
    struct pg_ui_pending pend[1] = { { "demo", RLO, "github:org/demo:r.yml",
        SCRIPT, T0 } };
    struct pg_ui_event pe[1];
    struct pg_buf b;
    size_t d;

    (void) state;
    memset(&m, 0, sizeof(m));
    memset(pe, 0, sizeof(pe));
    pe[0].time = T0;
    pe[0].event = "pin-create";
    pe[0].project = QUOTES;
    pe[0].seen = long_claim;
    m.now = T0;
    for (d = 0; d < PG_UI_DAYS; d++) {
        m.days[d].start = T0 / 86400 * 86400 - (int64_t) (PG_UI_DAYS - 1
            - d) * 86400;
        m.days[d].n[PG_UI_K_YANK] = (uint32_t) d;
        m.days[d].n[PG_UI_K_PIN] = 1;
    }
    m.last_day[PG_UI_K_YANK] = 6;
    m.last_week[PG_UI_K_YANK] = 21;
    m.last_week[PG_UI_K_PIN] = 7;
    m.refusals = ref;
    m.nrefusals = 1;
    m.pending = pend;
    m.npending = 1;
    m.pins = pe;
    m.npins = 1;
    m.upstream = "https://pypi.org/simple/";
    m.pin_store = "lmdb";
    m.pin_store_up = 1;
    m.hits = 3;
    m.misses = 1;
    pg_buf_init(&b, 4096, PG_UI_MAX_PAGE);
    assert_int_equal(pg_ui_render_overview(&m, &b), 0);
    pg_buf_put(&b, "", 1);
    assert_clean(b.p);
    assert_non_null(strstr(b.p, "<meta name=\"viewport\""));
    assert_non_null(strstr(b.p, "<svg role=\"img\""));
    /* the busiest day (6 refused + 1 pin) has the full height */
    assert_non_null(strstr(b.p, "<title>"));
    assert_non_null(strstr(b.p, ": 6 refused, 1 pin events</title>"));
    assert_non_null(strstr(b.p, "<span class=\"v\">21</span>refused, last "
        "7 days"));
    assert_non_null(strstr(b.p, "href=\"/-/project/x%22%3Cb%3E\">x&quot;"
        "&lt;b&gt;</a>"));
    assert_non_null(strstr(b.p, "75.0% (3 of 4 requests"));
    assert_non_null(strstr(b.p, "(9700 more bytes)"));
    pg_buf_free(&b);
}

static void
events_page_keeps_filters_in_links(void **state)
{
    struct pg_ui_events m;
    struct pg_ui_event ev[2];
    struct pg_buf b;

    (void) state;
    memset(&m, 0, sizeof(m));
    memset(ev, 0, sizeof(ev));
    ev[0].time = T0;
    ev[0].event = "reject";
    ev[0].decision = "yank";
    ev[0].project = "demo";
    ev[0].file = SCRIPT;
    ev[0].reason = long_claim;
    ev[1].time = T0 - 10;
    ev[1].event = "pin-approve";
    ev[1].project = "demo";
    ev[1].actor = QUOTES;
    m.project = "de mo&\"";
    m.decision = "yank";
    m.since = "<7d>";
    m.page = 2;
    m.has_next = 1;
    m.ev = ev;
    m.nev = 2;
    pg_buf_init(&b, 4096, PG_UI_MAX_PAGE);
    assert_int_equal(pg_ui_render_events(&m, &b), 0);
    pg_buf_put(&b, "", 1);
    assert_clean(b.p);
    assert_non_null(strstr(b.p, "<label for=\"f-project\">project</label>"
        "<input id=\"f-project\" name=\"project\" value=\"de mo&amp;&quot;"
        "\">"));
    assert_non_null(strstr(b.p, "<option selected>yank</option>"));
    assert_non_null(strstr(b.p, "href=\"/-/events?project=de%20mo%26%22"
        "&amp;decision=yank&amp;since=%3C7d%3E&amp;page=1\">← newer"));
    assert_non_null(strstr(b.p, "&amp;page=3\">older →"));
    assert_non_null(strstr(b.p, "x&quot; onmouseover"));
    pg_buf_free(&b);
}

static void
text_cut_counts_bytes_and_keeps_utf8_whole(void **state)
{
    struct pg_buf b;
    char s[PG_UI_MAX_STR * 2 + 3];
    size_t i;

    (void) state;
    /* 301 two-byte characters: cut after the 300th, whole */
    for (i = 0; i + 1 < sizeof(s); i += 2) {
        s[i] = '\xc3';
        s[i + 1] = '\xa9';
    }
    s[sizeof(s) - 1] = '\0';
    pg_buf_init(&b, 64, 1 << 20);
    pg_ui_text(&b, s);
    pg_buf_put(&b, "", 1);
    assert_non_null(strstr(b.p, "\xc3\xa9<span class=\"cut\">… (2 more "
        "bytes)</span>"));
    pg_buf_free(&b);
    /* exactly at the limit: not cut */
    s[PG_UI_MAX_STR * 2] = '\0';
    pg_buf_init(&b, 64, 1 << 20);
    pg_ui_text(&b, s);
    pg_buf_put(&b, "", 1);
    assert_null(strstr(b.p, "cut"));
    assert_int_equal(b.len - 1, (size_t) PG_UI_MAX_STR * 2);
    pg_buf_free(&b);
}

static void
buffer_ceiling_fails_the_render(void **state)
{
    struct pg_ui_project m;
    struct pg_ui_change c;
    struct pg_ui_pin pin;
    struct pg_ui_hist h;
    struct pg_buf b;

    (void) state;
    fill_project(&m, &c, &pin, &h);
    pg_buf_init(&b, 256, 4096);
    assert_int_equal(pg_ui_render_project(&m, &b), -1);
    assert_true(b.failed);
    assert_true(b.len <= 4096);
    pg_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(project_page_escapes_every_untrusted_string),
        cmocka_unit_test(project_page_shows_each_status_and_reason),
        cmocka_unit_test(
            publisher_change_is_side_by_side_with_differences_marked),
        cmocka_unit_test(forms_only_for_an_administrator_with_a_token),
        cmocka_unit_test(overview_counts_bars_and_hostile_names),
        cmocka_unit_test(events_page_keeps_filters_in_links),
        cmocka_unit_test(text_cut_counts_bytes_and_keeps_utf8_whole),
        cmocka_unit_test(buffer_ceiling_fails_the_render),
    };

    memset(long_claim, 'A', sizeof(long_claim) - 1);
    long_claim[sizeof(long_claim) - 1] = '\0';
    return cmocka_run_group_tests(tests, NULL, NULL);
}
