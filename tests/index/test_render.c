/* tests/index/test_render.c — URL rewriting, foreign URLs, escaping.
 *
 * A client must only ever be pointed at the proxy, and no value from
 * upstream may break out of its HTML attribute or text.
 * Spec: design §5; HTML Living Standard (attribute values, text).
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
#include "index_priv.h"
#include "fixtures.h"

#define CAP ((size_t) 64 << 20)

struct path_case {
    const char *url;
    const char *path;           /* NULL: no proxy path */
};

static const struct path_case paths[] = {
    { "https://files.pythonhosted.org/packages/ab/cd/x-1.0.whl",
      "/packages/ab/cd/x-1.0.whl" },
    { "HTTP://mirror.example:8080/packages/x-1.0.tar.gz",
      "/packages/x-1.0.tar.gz" },
    { "https://mirror.example/a/b/x-1.0.whl", "/packages/a/b/x-1.0.whl" },
    { "https://h/a/packages/b/packages/c.whl", "/packages/c.whl" },
    { "https://h/packages/x-1.0.whl?token=1#frag", "/packages/x-1.0.whl" },
    { "https://h/packages/x%2B1-1.0.tar.gz", "/packages/x%2B1-1.0.tar.gz" },
    { "https://h/packages/", NULL },
    { "https://h/", NULL },
    { "https://h", NULL },
    { "https:///packages/x.whl", NULL },
    { "ftp://h/packages/x.whl", NULL },
    { "javascript:alert(1)", NULL },
    { "data:text/html,<script>", NULL },
    { "/packages/x.whl", NULL },
    { "//h/packages/x.whl", NULL },
    { "https://h/packages/../../etc/passwd", NULL },
    { "https://h/packages/./x.whl", NULL },
    { "https://h/packages/%2e%2e/x.whl", NULL },
    { "https://h/packages/a%2Fb.whl", NULL },
    { "https://h/packages/a%5cb.whl", NULL },
    { "https://h/packages/a%00b.whl", NULL },
    { "https://h/packages/a%zzb.whl", NULL },
    { "https://h//packages/x.whl", NULL },
    { "https://h/packages/a\"b.whl", NULL },
    { "https://h/packages/a<b.whl", NULL },
    { "https://h/packages/a b.whl", NULL },
    { "https://h/packages/a\\b.whl", NULL },
    { "https://h/packages/x.whl/", NULL },
};

static void
file_path_table(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        char out[PG_INDEX_MAX_URL + 1];
        int rc = pg_index_file_path(paths[i].url, out, sizeof(out));

        if (paths[i].path == NULL) {
            if (rc != -1)
                fail_msg("'%s' mapped to '%s'", paths[i].url, out);
        } else {
            if (rc != 0)
                fail_msg("'%s' not mapped", paths[i].url);
            assert_string_equal(out, paths[i].path);
        }
    }
}

/* RFC 3986 §5.4.1 and §5.4.2 (fragments dropped: the model keeps none). */
static const struct path_case resolve[] = {
    { "g:h", "g:h" }, { "g", "http://a/b/c/g" }, { "./g", "http://a/b/c/g" },
    { "g/", "http://a/b/c/g/" }, { "/g", "http://a/g" },
    { "//g", "http://g" }, { "?y", "http://a/b/c/d;p?y" },
    { "g?y", "http://a/b/c/g?y" }, { "#s", "http://a/b/c/d;p?q" },
    { "g#s", "http://a/b/c/g" }, { "g?y#s", "http://a/b/c/g?y" },
    { ";x", "http://a/b/c/;x" }, { "g;x", "http://a/b/c/g;x" },
    { "", "http://a/b/c/d;p?q" }, { ".", "http://a/b/c/" },
    { "./", "http://a/b/c/" }, { "..", "http://a/b/" },
    { "../", "http://a/b/" }, { "../g", "http://a/b/g" },
    { "../..", "http://a/" }, { "../../", "http://a/" },
    { "../../g", "http://a/g" }, { "../../../g", "http://a/g" },
    { "../../../../g", "http://a/g" }, { "/./g", "http://a/g" },
    { "/../g", "http://a/g" }, { "g.", "http://a/b/c/g." },
    { ".g", "http://a/b/c/.g" }, { "g..", "http://a/b/c/g.." },
    { "..g", "http://a/b/c/..g" }, { "./../g", "http://a/b/g" },
    { "./g/.", "http://a/b/c/g/" }, { "g/./h", "http://a/b/c/g/h" },
    { "g/../h", "http://a/b/c/h" }, { "g;x=1/./y", "http://a/b/c/g;x=1/y" },
    { "g;x=1/../y", "http://a/b/c/y" },
};

static void
relative_urls_resolve_as_rfc3986(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(resolve) / sizeof(resolve[0]); i++) {
        char out[256];

        if (pg_index_resolve_url("http://a/b/c/d;p?q", resolve[i].url, out,
            sizeof(out)) != 0)
            fail_msg("'%s' not resolved", resolve[i].url);
        if (strcmp(out, resolve[i].path) != 0)
            fail_msg("'%s' → '%s', want '%s'", resolve[i].url, out,
                resolve[i].path);
    }
    {
        char out[64];

        assert_int_equal(pg_index_resolve_url(NULL, "g", out, sizeof(out)),
            -1);
        assert_int_equal(pg_index_resolve_url("", "https://h/x", out,
            sizeof(out)), 0);
        assert_string_equal(out, "https://h/x");
        assert_int_equal(pg_index_resolve_url("https://h/", "g", out, 10),
            -1);
    }
}

static const struct path_case times[] = {
    { "2024-01-02T03:04:05Z", "2024-01-02T03:04:05Z" },
    { "2024-01-02t03:04:05z", "2024-01-02T03:04:05Z" },
    { "2024-01-02 03:04:05Z", "2024-01-02T03:04:05Z" },
    { "2024-01-02T03:04:05.5+00:00", "2024-01-02T03:04:05.5Z" },
    { "2024-01-02T03:04:05.123456789-05:30",
      "2024-01-02T08:34:05.123456789Z" },
    { "2024-12-31T23:30:00-01:00", "2025-01-01T00:30:00Z" },
    { "2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00Z" },
    { "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z" },
    { "2023-02-29T00:00:00Z", NULL },
    { "2024-13-01T00:00:00Z", NULL },
    { "2024-01-01T24:00:00Z", NULL },
    { "2024-01-01T23:60:00Z", NULL },
    { "2024-01-01T23:00:60Z", NULL },
    { "2024-01-01T23:00:00", NULL },
    { "2024-01-01T23:00:00.Z", NULL },
    { "2024-01-01T23:00:00.1234567890Z", NULL },
    { "2024-01-01T23:00:00+0100", NULL },
    { "2024-01-01T23:00:00+01:00x", NULL },
    { "2024-1-01T23:00:00Z", NULL },
    { "yesterday", NULL },
    { "", NULL },
};

static void
upload_times_become_utc_z(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char out[64];
        int rc = pg_index_norm_time(times[i].url, out, sizeof(out));

        if (times[i].path == NULL) {
            if (rc != -1)
                fail_msg("'%s' accepted as '%s'", times[i].url, out);
        } else {
            if (rc != 0)
                fail_msg("'%s' rejected", times[i].url);
            assert_string_equal(out, times[i].path);
        }
    }
}

static void
file_path_refuses_small_output(void **state)
{
    char out[19];                   /* "/packages/abcd.whl" + NUL */

    (void) state;
    assert_int_equal(pg_index_file_path("https://h/packages/abcd.whl", out,
        sizeof(out)), 0);
    assert_int_equal(pg_index_file_path("https://h/packages/abcde.whl", out,
        sizeof(out)), -1);
}

/* Files whose URL has no proxy path are left out of both renderings.
 * (Dot segments are resolved when the page is parsed, RFC 3986 §5.2.4, so
 * x-3 maps to /packages/x-3.tar.gz; whether its host may be fetched from
 * is the server's check, not the renderer's.) */
static void
unmappable_files_are_dropped(void **state)
{
    const char *page = "{\"name\":\"x\",\"files\":["
        "{\"filename\":\"x-1.tar.gz\",\"url\":"
        "\"ftp://evil.example/x-1.tar.gz\"},"
        "{\"filename\":\"x-2.tar.gz\",\"url\":\"javascript:alert(1)\"},"
        "{\"filename\":\"x-3.tar.gz\",\"url\":"
        "\"https://evil.example/packages/../../x-3.tar.gz\"},"
        "{\"filename\":\"x-4.tar.gz\",\"url\":\"x-4.tar.gz\"},"
        "{\"filename\":\"x-5.tar.gz\",\"url\":"
        "\"https://files.example/packages/aa/x-5.tar.gz\"}]}";
    char msg[200] = "", *out;
    size_t len;
    json_t *m = pg_index_parse_project_json(page, strlen(page), NULL, CAP,
        msg, sizeof(msg)), *r;

    (void) state;
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &out,
        &len), 0);
    assert_null(strstr(out, "evil"));
    assert_null(strstr(out, "javascript"));
    assert_null(strstr(out, "ftp:"));
    r = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(r, "files")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(r, "files"), 0), "url")),
        PROXY "/packages/x-3.tar.gz");
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(r, "files"), 1), "url")),
        PROXY "/packages/aa/x-5.tar.gz");
    json_decref(r);
    free(out);
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), 0);
    assert_null(strstr(out, "evil"));
    assert_null(strstr(out, "javascript"));
    assert_int_equal(count_str(out, "<a href="), 2);
    free(out);
    json_decref(m);
}

static void
provenance_urls_point_at_integrity_route(void **state)
{
    const char *page = "{\"name\":\"Foo-Bar\",\"files\":["
        "{\"filename\":\"foo-bar-1.0.tar.gz\",\"url\":"
        "\"https://h/packages/foo-bar-1.0.tar.gz\","
        "\"provenance\":\"https://evil.example/p\"},"
        "{\"filename\":\"foo_bar-2.0+local-py3-none-any.whl\",\"url\":"
        "\"https://h/packages/foo_bar-2.0+local-py3-none-any.whl\","
        "\"provenance\":\"https://pypi.org/integrity/x\"},"
        "{\"filename\":\"foo-bar.exe\",\"url\":"
        "\"https://h/packages/foo-bar.exe\","
        "\"provenance\":\"https://evil.example/q\"}]}";
    char msg[200] = "", *out;
    size_t len;
    json_t *m = pg_index_parse_project_json(page, strlen(page), NULL, CAP,
        msg, sizeof(msg)), *r, *files;

    (void) state;
    assert_non_null(m);
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &out,
        &len), 0);
    assert_null(strstr(out, "evil"));
    r = json_loads(out, 0, NULL);
    files = json_object_get(r, "files");
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        files, 0), "provenance")), PROXY
        "/integrity/foo-bar/1.0/foo-bar-1.0.tar.gz/provenance");
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        files, 1), "provenance")), PROXY "/integrity/foo-bar/2.0+local/"
        "foo_bar-2.0+local-py3-none-any.whl/provenance");
    /* no version to build the route from: no provenance offered */
    assert_true(json_is_null(json_object_get(json_array_get(files, 2),
        "provenance")));
    json_decref(r);
    free(out);
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), 0);
    assert_null(strstr(out, "evil"));
    assert_int_equal(count_str(out, "data-provenance="), 2);
    free(out);
    json_decref(m);
}

#define HOSTILE "\"><script>alert('x')</script>&amp;<!--"

static void
hostile_values_are_escaped_and_survive(void **state)
{
    json_t *m, *f, *m2, *f2;
    char *out, msg[200] = "";
    size_t len;

    (void) state;
    m = json_pack("{s:{s:s},s:s,s:{s:s,s:s},s:[{s:s,s:s,s:{s:s},s:s,"
        "s:s,s:s,s:{s:s,s:s}}]}",
        "meta", "api-version", "1.1",
        "name", "x",
        "project-status", "status", HOSTILE, "reason", HOSTILE,
        "files",
        "filename", "x-1.0<b>\"'&.tar.gz",
        "url", "https://h/packages/x-1.0.tar.gz",
        "hashes", "sha256", SHA_A,
        "requires-python", HOSTILE,
        "yanked", HOSTILE,
        "upload-time", HOSTILE,
        "_provenance", "status", HOSTILE, "publisher", HOSTILE);
    assert_non_null(m);
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), 0);
    assert_null(strstr(out, "<script"));
    assert_null(strstr(out, "\"><"));
    assert_null(strstr(out, "'x'"));
    assert_null(strstr(out, "<!--"));
    assert_null(strstr(out, "<b>"));
    assert_non_null(strstr(out, "data-requires-python=\"&quot;&gt;&lt;script"
        "&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;amp;&lt;!--\""));
    assert_non_null(strstr(out, "data-provenance-status=\"&quot;&gt;"));
    assert_non_null(strstr(out, "data-publisher=\"&quot;&gt;"));
    assert_non_null(strstr(out, ">x-1.0&lt;b&gt;&quot;&#39;&amp;.tar.gz</a>"));
    /* the escaped values read back as they were */
    m2 = pg_index_parse_project_html(out, len, PROXY "/simple/x/", CAP, msg,
        sizeof(msg));
    if (m2 == NULL)
        fail_msg("rejected: %s", msg);
    f = json_array_get(json_object_get(m, "files"), 0);
    f2 = json_array_get(json_object_get(m2, "files"), 0);
    assert_string_equal(json_string_value(json_object_get(f2,
        "requires-python")), HOSTILE);
    assert_string_equal(json_string_value(json_object_get(f2, "yanked")),
        HOSTILE);
    assert_string_equal(json_string_value(json_object_get(json_object_get(
        m2, "project-status"), "reason")), HOSTILE);
    assert_null(json_object_get(f2, "_provenance"));
    (void) f;
    free(out);
    json_decref(m2);

    /* JSON: jansson escapes; the document stays one valid object */
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &out,
        &len), 0);
    m2 = json_loads(out, 0, NULL);
    assert_non_null(m2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(m2, "files"), 0), "requires-python")), HOSTILE);
    json_decref(m2);
    free(out);
    json_decref(m);
}

static void
provenance_annotation_becomes_data_attributes(void **state)
{
    json_t *m = json_pack("{s:s,s:[{s:s,s:s,s:{},s:{s:s,s:{s:s,s:s},s:s,"
        "s:s,s:s,s:s,s:i,s:s}}]}", "name", "x", "files", "filename",
        "x-1.0.tar.gz", "url", "https://h/packages/x-1.0.tar.gz", "hashes",
        "_provenance", "status", "rejected", "publisher", "kind", "github",
        "spec", "github:evil/demo:release.yml", "decision", "yank",
        "reason", "provgate: publisher <github:evil/demo> is not accepted",
        "expected", "github:good/demo:release.yml", "Bad Key", "x",
        "count", 3, "extra_key", "y");
    char *out;
    size_t len;

    (void) state;
    assert_non_null(m);
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), 0);
    assert_non_null(strstr(out, " data-provenance-status=\"rejected\""));
    assert_non_null(strstr(out, " data-provenance-decision=\"yank\""));
    assert_non_null(strstr(out, " data-provenance-reason=\"provgate: "
        "publisher &lt;github:evil/demo&gt; is not accepted\""));
    assert_non_null(strstr(out, " data-provenance-expected=\"github:good/"
        "demo:release.yml\""));
    assert_non_null(strstr(out, " data-provenance-extra-key=\"y\""));
    assert_non_null(strstr(out, " data-publisher=\"github:evil/demo:"
        "release.yml\""));
    assert_null(strstr(out, "Bad Key"));
    assert_null(strstr(out, "count"));
    free(out);
    json_decref(m);
}

static void
publisher_object_is_shown_in_spec_form(void **state)
{
    json_t *m = json_pack("{s:s,s:[{s:s,s:s,s:{},s:{s:s,s:{s:s,s:s,s:s,"
        "s:s}}}]}", "name", "x", "files", "filename", "x-1.0.tar.gz", "url",
        "https://h/packages/x-1.0.tar.gz", "hashes", "_provenance", "status",
        "verified", "publisher", "kind", "github", "repository", "o/r",
        "workflow", "rel.yml", "environment", "pypi");
    char *out;
    size_t len;

    (void) state;
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY "/", &out,
        &len), 0);
    assert_non_null(strstr(out, "href=\"" PROXY "/packages/x-1.0.tar.gz\""
        " data-provenance-status=\"verified\" "
        "data-publisher=\"github:o/r:rel.yml:pypi\">"));
    free(out);
    json_decref(m);
}

/* A PEP 740 publisher object as PyPI spells it (mixed-case kind, GitLab's
 * workflow_filepath) is shown in the lower-case spec form. */
static void
pep740_gitlab_publisher_is_shown_in_spec_form(void **state)
{
    json_t *m = json_pack("{s:s,s:[{s:s,s:s,s:{},s:{s:s,s:{s:s,s:s,s:s,"
        "s:s}}}]}", "name", "x", "files", "filename", "x-1.0.tar.gz", "url",
        "https://h/packages/x-1.0.tar.gz", "hashes", "_provenance", "status",
        "verified", "publisher", "kind", "GitLab", "repository", "ns/proj",
        "workflow_filepath", ".gitlab-ci.yml", "environment", "release");
    char *out;
    size_t len;

    (void) state;
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY "/", &out,
        &len), 0);
    assert_non_null(strstr(out, "data-publisher=\"gitlab:ns/proj:"
        ".gitlab-ci.yml:release\">"));
    free(out);
    json_decref(m);
}

static void
bad_arguments_are_refused(void **state)
{
    json_t *m = json_pack("{s:[]}", "files");
    char *out = NULL;
    size_t len;

    (void) state;
    assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY, &out,
        &len), -1);                 /* no name */
    assert_int_equal(pg_index_render_project(NULL, PG_FMT_JSON, PROXY, &out,
        &len), -1);
    assert_int_equal(pg_index_render_list(m, PG_FMT_NONE, PROXY, &out,
        &len), -1);
    assert_null(out);
    json_decref(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(file_path_table),
        cmocka_unit_test(file_path_refuses_small_output),
        cmocka_unit_test(relative_urls_resolve_as_rfc3986),
        cmocka_unit_test(upload_times_become_utc_z),
        cmocka_unit_test(unmappable_files_are_dropped),
        cmocka_unit_test(provenance_urls_point_at_integrity_route),
        cmocka_unit_test(hostile_values_are_escaped_and_survive),
        cmocka_unit_test(publisher_object_is_shown_in_spec_form),
        cmocka_unit_test(pep740_gitlab_publisher_is_shown_in_spec_form),
        cmocka_unit_test(provenance_annotation_becomes_data_attributes),
        cmocka_unit_test(bad_arguments_are_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
