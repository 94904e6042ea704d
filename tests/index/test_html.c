/* tests/index/test_html.c — PEP 503 HTML: parse, render, round trip,
 * tolerance of real-world markup, refusals.
 *
 * Spec: PEP 503, 592, 629, 658, 714, 740, 792; uv's data-upload-time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index_int.h"
#include "fixtures.h"

#define CAP ((size_t) 64 << 20)

static json_t *
parse_html(const char *page, const char *base)
{
    char msg[200] = "";
    json_t *m = pg_index_parse_project_html(page, strlen(page), base, CAP,
        msg, sizeof(msg));

    if (m == NULL)
        fail_msg("page rejected: %s", msg);
    return m;
}

static json_t *
file_at(json_t *m, size_t i)
{
    return json_array_get(json_object_get(m, "files"), i);
}

static const char *
str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void
parse_maps_every_attribute(void **state)
{
    json_t *m = parse_html(fixture_html, PAGE_URL), *f, *ps, *vs;

    (void) state;
    assert_string_equal(str(m, "name"), "demo-pkg");
    assert_string_equal(str(json_object_get(m, "meta"), "api-version"),
        "1.4");
    ps = json_object_get(m, "project-status");
    assert_string_equal(str(ps, "status"), "quarantined");
    assert_string_equal(str(ps, "reason"), "malware & <worse>");
    assert_int_equal(json_array_size(json_object_get(m, "files")), 3);
    vs = json_object_get(m, "versions");
    assert_int_equal(json_array_size(vs), 3);
    assert_string_equal(json_string_value(json_array_get(vs, 1)), "2.0");

    f = file_at(m, 0);
    assert_string_equal(str(f, "filename"), "demo_pkg-1.0-py3-none-any.whl");
    assert_string_equal(str(f, "url"),
        FILES_HOST "/packages/ab/cd/demo_pkg-1.0-py3-none-any.whl");
    assert_string_equal(str(json_object_get(f, "hashes"), "sha256"), SHA_A);
    assert_string_equal(str(f, "requires-python"), ">=3.8, <4");
    assert_string_equal(str(json_object_get(f, "core-metadata"), "sha256"),
        SHA_M);
    assert_string_equal(str(json_object_get(f, "dist-info-metadata"),
        "sha256"), SHA_M);
    assert_true(json_is_false(json_object_get(f, "gpg-sig")));
    assert_string_equal(str(f, "provenance"), "https://pypi.org/integrity/"
        "demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/provenance");
    assert_string_equal(str(f, "upload-time"), "2024-01-02T03:04:05.123456Z");
    assert_int_equal(json_integer_value(json_object_get(f, "size")), 1234);
    assert_null(json_object_get(f, "yanked"));

    f = file_at(m, 1);
    assert_string_equal(str(f, "url"),
        "https://pypi.org/packages/ef/01/demo-pkg-2.0.tar.gz");
    assert_string_equal(str(json_object_get(f, "hashes"), "md5"),
        "0123456789abcdef");
    assert_string_equal(str(f, "yanked"), "broken \"build\" 'x'");
    assert_true(json_is_true(json_object_get(f, "core-metadata")));
    assert_true(json_is_true(json_object_get(f, "dist-info-metadata")));
    /* provgate's own attributes are never taken from upstream */
    assert_null(json_object_get(f, "_provenance"));
    assert_null(json_object_get(f, "provenance-status"));
    assert_null(json_object_get(f, "publisher"));

    f = file_at(m, 2);
    assert_true(json_is_true(json_object_get(f, "yanked")));   /* PEP 592 */
    assert_string_equal(str(f, "upload-time"), "2025-06-30T23:59:59Z");
    assert_string_equal(str(json_object_get(f, "hashes"), "sha256"), SHA_B);
    json_decref(m);
}

static void
render_is_pep503_with_every_attribute(void **state)
{
    json_t *m = parse_html(fixture_html, PAGE_URL);
    char *out;
    size_t len;

    (void) state;
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), 0);
    assert_int_equal(strlen(out), len);
    assert_int_equal(strncmp(out, "<!DOCTYPE html>\n", 16), 0);
    assert_non_null(strstr(out, "<meta name=\"pypi:repository-version\" "
        "content=\"1.4\">"));
    assert_non_null(strstr(out, "<meta name=\"pypi:project-status\" "
        "content=\"quarantined\">"));
    assert_non_null(strstr(out, "<meta name=\"pypi:project-status-reason\" "
        "content=\"malware &amp; &lt;worse&gt;\">"));
    assert_non_null(strstr(out, "<a href=\"" PROXY "/packages/ab/cd/"
        "demo_pkg-1.0-py3-none-any.whl#sha256=" SHA_A "\" "
        "data-requires-python=\"&gt;=3.8, &lt;4\" "
        "data-dist-info-metadata=\"sha256=" SHA_M "\" "
        "data-core-metadata=\"sha256=" SHA_M "\" data-gpg-sig=\"false\" "
        "data-provenance=\"" PROXY "/integrity/demo-pkg/1.0/"
        "demo_pkg-1.0-py3-none-any.whl/provenance\" "
        "data-upload-time=\"2024-01-02T03:04:05.123456Z\" "
        "data-size=\"1234\">demo_pkg-1.0-py3-none-any.whl</a><br />"));
    assert_non_null(strstr(out, "#md5=0123456789abcdef\""));
    assert_non_null(strstr(out, "data-yanked=\"broken &quot;build&quot; "
        "&#39;x&#39;\""));
    assert_non_null(strstr(out, "data-dist-info-metadata=\"true\" "
        "data-core-metadata=\"true\""));
    /* PEP 592 yanked without a reason: an empty value, as PyPI writes it
     * (pip needs a value; poetry would print a non-empty one as the
     * reason) */
    assert_non_null(strstr(out, "data-yanked=\"\""));
    assert_null(strstr(out, "data-yanked=\"yanked\""));
    assert_null(strstr(out, "data-yanked>"));
    assert_null(strstr(out, "data-yanked "));
    assert_null(strstr(out, "pythonhosted"));
    assert_null(strstr(out, "https://pypi.org"));
    assert_int_equal(count_str(out, "<a href="), 3);
    free(out);

    /* text/html and v1+html are the same bytes */
    {
        char *o2;
        size_t l2;

        assert_int_equal(pg_index_render_project(m, PG_FMT_HTML_V1, PROXY,
            &o2, &l2), 0);
        assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY,
            &out, &len), 0);
        assert_int_equal(len, l2);
        assert_memory_equal(out, o2, len);
        free(o2);
        free(out);
    }
    assert_int_equal(pg_index_render_project(m, PG_FMT_NONE, PROXY, &out,
        &len), -1);
    json_decref(m);
}

/* parse → render → parse: every field survives, the PEP 592 yank without
 * a reason too (data-yanked="" reads back as true). */
static void
html_round_trip_keeps_every_field(void **state)
{
    json_t *m = parse_html(fixture_html, PAGE_URL), *m2, *want, *files;
    char *out, *out2, msg[200] = "";
    size_t len, len2, i;

    (void) state;
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), 0);
    m2 = pg_index_parse_project_html(out, len, PROXY "/simple/demo-pkg/",
        CAP, msg, sizeof(msg));
    if (m2 == NULL)
        fail_msg("rendering rejected: %s", msg);
    want = json_deep_copy(m);
    files = json_object_get(want, "files");
    for (i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        char path[PG_INDEX_MAX_URL + 1], url[PG_INDEX_MAX_URL + 64];

        assert_int_equal(pg_index_file_path(str(f, "url"), path,
            sizeof(path)), 0);
        snprintf(url, sizeof(url), "%s%s", PROXY, path);
        json_object_set_new(f, "url", json_string(url));
    }
    json_object_set_new(json_array_get(files, 0), "provenance", json_string(
        PROXY "/integrity/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/"
        "provenance"));
    if (!json_equal(want, m2)) {
        char *a = json_dumps(want, JSON_SORT_KEYS);
        char *b = json_dumps(m2, JSON_SORT_KEYS);

        fail_msg("round trip differs:\nwant %s\ngot  %s", a, b);
    }
    assert_int_equal(pg_index_render_project(m2, PG_FMT_HTML, PROXY, &out2,
        &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(out, out2, len);
    free(out);
    free(out2);
    json_decref(want);
    json_decref(m);
    json_decref(m2);
}

/* JSON → HTML → model keeps what HTML can carry. */
static void
json_page_survives_html_rendering(void **state)
{
    char msg[200] = "", *out;
    size_t len;
    json_t *m = pg_index_parse_project_json(fixture_json,
        strlen(fixture_json), PAGE_URL, CAP, msg, sizeof(msg)), *m2, *f, *g;
    size_t i;
    static const char *const keys[] = {
        "filename", "hashes", "requires-python", "core-metadata",
        "dist-info-metadata", "gpg-sig", "size", "upload-time"
    };

    (void) state;
    assert_non_null(m);
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), 0);
    m2 = pg_index_parse_project_html(out, len, PROXY "/simple/demo-pkg/",
        CAP, msg, sizeof(msg));
    if (m2 == NULL)
        fail_msg("rejected: %s", msg);
    assert_string_equal(str(json_object_get(m2, "project-status"), "reason"),
        "moved to <demo2> & \"more\"");
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        size_t k;

        for (k = 0; k < 3; k++) {
            f = json_object_get(file_at(m, k), keys[i]);
            g = json_object_get(file_at(m2, k), keys[i]);
            /* HTML carries one hash: sha256 */
            if (strcmp(keys[i], "hashes") == 0)
                f = json_pack("{s:O}", "sha256", json_object_get(f,
                    "sha256"));
            else
                json_incref(f);
            if (!json_equal(f, g) && !(f == NULL && g == NULL))
                fail_msg("files[%zu].%s differs", k, keys[i]);
            json_decref(f);
        }
    }
    assert_string_equal(str(file_at(m2, 1), "yanked"), "broken build");
    assert_true(json_is_true(json_object_get(file_at(m2, 2), "yanked")));
    assert_string_equal(str(file_at(m2, 2), "provenance"), PROXY
        "/integrity/demo-pkg/3.0/demo_pkg-3.0-py3-none-any.whl/provenance");
    free(out);
    json_decref(m);
    json_decref(m2);
}

static void
tolerates_real_world_markup(void **state)
{
    const char *page =
        "<html><body><h1>x</h1>\n"
        "<a\thref = 'https://h/packages/x-1.0.tar.gz#SHA256=" SHA_A "'"
        " >x-1.0.tar.gz</a>\n"
        "<a href=https://h/packages/x-1.1.tar.gz data-requires-python="
        "&gt;=3 >x-1.1.tar.gz</a>\n"
        "<a href=\"https://h/packages/x-1.2.tar.gz\" "
        "href=\"https://evil/x-1.2.tar.gz\"><b>x-1.2</b>.tar.gz</a>\n"
        "<a name=\"no-href\">nothing</a>\n"
        "<a href=\"https://h/packages/x-1.3.tar.gz\" data-upload-time=\"bad\""
        " data-size=\"12x\" data-gpg-sig=\"maybe\" "
        "data-core-metadata=\"nonsense\">x-1.3.tar.gz</a>"
        "<a href=\"https://h/packages/x%2B1-2.0.tar.gz\">x+1-2.0.tar.gz</a>"
        "<a href=\"https://h/packages/x-3.0.tar.gz\" data-requires-python="
        "\"&#x3C;4&#60;&#0;&bogus;&amp\">x</a>"
        "<a href=\"https://h/packages/x-4.0.tar.gz\"";   /* truncated */
    json_t *m = parse_html(page, "https://h/simple/x/"), *f;

    (void) state;
    assert_int_equal(json_array_size(json_object_get(m, "files")), 6);
    f = file_at(m, 0);
    assert_string_equal(str(json_object_get(f, "hashes"), "sha256"), SHA_A);
    f = file_at(m, 1);
    assert_string_equal(str(f, "requires-python"), ">=3");
    f = file_at(m, 2);
    assert_string_equal(str(f, "url"), "https://h/packages/x-1.2.tar.gz");
    assert_string_equal(str(f, "filename"), "x-1.2.tar.gz");
    f = file_at(m, 3);
    assert_null(json_object_get(f, "upload-time"));
    assert_null(json_object_get(f, "size"));
    assert_null(json_object_get(f, "gpg-sig"));
    assert_null(json_object_get(f, "core-metadata"));
    f = file_at(m, 4);
    assert_string_equal(str(f, "filename"), "x+1-2.0.tar.gz");
    f = file_at(m, 5);
    assert_string_equal(str(f, "requires-python"),
        "<4<\xef\xbf\xbd&bogus;&amp");
    json_decref(m);
}

static void
relative_urls_follow_base_element(void **state)
{
    const char *page = "<base href=\"../../mirror/root/\">"
        "<a href=\"pkgs/x-1.0.tar.gz\" data-provenance=\"/p/x\">x</a>"
        "<base href=\"https://ignored.example/\">"
        "<a href=\"https://abs.example/packages/x-2.0.tar.gz\">x</a>";
    json_t *m = parse_html(page, "https://h/simple/x/");

    (void) state;
    assert_string_equal(str(file_at(m, 0), "url"),
        "https://h/mirror/root/pkgs/x-1.0.tar.gz");
    assert_string_equal(str(file_at(m, 0), "provenance"), "https://h/p/x");
    assert_string_equal(str(file_at(m, 1), "url"),
        "https://abs.example/packages/x-2.0.tar.gz");
    json_decref(m);
    m = parse_html("<a href=\"../../packages/x-1.0.tar.gz?a=1#sha256="
        SHA_A "\">x</a>", "https://h/simple/x/");
    assert_string_equal(str(file_at(m, 0), "url"),
        "https://h/packages/x-1.0.tar.gz?a=1");
    assert_string_equal(str(file_at(m, 0), "filename"), "x-1.0.tar.gz");
    json_decref(m);
}

static void
name_comes_from_url_or_title(void **state)
{
    const char *page = "<title>Links for Foo.Bar</title>"
        "<a href=\"https://h/packages/foo.bar-1.0.tar.gz\">x</a>";
    char msg[200] = "";
    json_t *m = parse_html(page, NULL);

    (void) state;
    assert_string_equal(str(m, "name"), "foo-bar");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m,
        "versions"), 0)), "1.0");
    json_decref(m);
    m = parse_html(page, "https://h/simple/Other_Name/");
    assert_string_equal(str(m, "name"), "other-name");
    json_decref(m);
    assert_null(pg_index_parse_project_html("<a href=\"x\">x</a>", 17, NULL,
        CAP, msg, sizeof(msg)));
    assert_non_null(strstr(msg, "project name"));
}

struct bad_case {
    const char *name;
    const char *page;
    const char *reason;
};

static const struct bad_case bad[] = {
    { "plain text is not a page", "PWNED", "not an HTML page" },
    { "empty body is not a page", "", "not an HTML page" },
    { "major api-version 2",
      "<meta name=\"pypi:repository-version\" content=\"2.0\">",
      "unsupported" },
};

/* A link malformed on its own is dropped and noted, the page kept. */
static const struct bad_case bad_link[] = {
    { "encoded slash in filename",
      "<a href=\"https://h/packages/a%2Fb.tar.gz\">x</a>", "not a file name" },
    { "encoded NUL in filename",
      "<a href=\"https://h/packages/a%00b.tar.gz\">x</a>", "NUL" },
    { "bad sha256 in fragment",
      "<a href=\"https://h/packages/x-1.tar.gz#sha256=abcd\">x</a>",
      "not 64 hex" },
};

static void
malformed_links_are_dropped_and_the_page_kept(void **state)
{
    char page[512], msg[200];
    size_t i;
    json_t *m, *note;

    (void) state;
    for (i = 0; i < sizeof(bad_link) / sizeof(bad_link[0]); i++) {
        snprintf(page, sizeof(page), "%s<a href=\"https://h/packages/"
            "x-2.tar.gz\">x-2.tar.gz</a>", bad_link[i].page);
        msg[0] = '\0';
        m = pg_index_parse_project_html(page, strlen(page),
            "https://h/simple/x/", CAP, msg, sizeof(msg));
        if (m == NULL)
            fail_msg("%s: page refused: %s", bad_link[i].name, msg);
        assert_int_equal(json_array_size(json_object_get(m, "files")), 1);
        assert_string_equal(str(file_at(m, 0), "filename"), "x-2.tar.gz");
        note = json_object_get(m, PG_INDEX_DROPPED);
        assert_int_equal(json_integer_value(json_object_get(note, "count")),
            1);
        if (strstr(json_string_value(json_object_get(note, "first")),
            bad_link[i].reason) == NULL)
            fail_msg("%s: note '%s' lacks '%s'", bad_link[i].name,
                json_string_value(json_object_get(note, "first")),
                bad_link[i].reason);
        json_decref(m);
    }
}

static void
malformed_pages_are_refused_with_a_reason(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[200] = "";
        json_t *m = pg_index_parse_project_html(bad[i].page,
            strlen(bad[i].page), "https://h/simple/x/", CAP, msg,
            sizeof(msg));

        if (m != NULL) {
            json_decref(m);
            fail_msg("%s: accepted", bad[i].name);
        }
        if (strstr(msg, bad[i].reason) == NULL)
            fail_msg("%s: reason '%s' lacks '%s'", bad[i].name, msg,
                bad[i].reason);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_maps_every_attribute),
        cmocka_unit_test(render_is_pep503_with_every_attribute),
        cmocka_unit_test(html_round_trip_keeps_every_field),
        cmocka_unit_test(json_page_survives_html_rendering),
        cmocka_unit_test(tolerates_real_world_markup),
        cmocka_unit_test(relative_urls_follow_base_element),
        cmocka_unit_test(name_comes_from_url_or_title),
        cmocka_unit_test(malformed_pages_are_refused_with_a_reason),
        cmocka_unit_test(malformed_links_are_dropped_and_the_page_kept),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
