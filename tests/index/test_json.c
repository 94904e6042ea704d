/* tests/index/test_json.c — PEP 691 JSON: parse, render, round trip,
 * malformed pages refused with a reason.
 *
 * Spec: PEP 691, 700, 714, 592, 740, 792, 629; issue 2 item 3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index_int.h"
#include "fixtures.h"

#define CAP ((size_t) 64 << 20)

static json_t *
parse_fixture(void)
{
    char msg[200] = "";
    json_t *m = pg_index_parse_project_json(fixture_json,
        strlen(fixture_json), PAGE_URL, CAP, msg, sizeof(msg));

    if (m == NULL)
        fail_msg("fixture rejected: %s", msg);
    return m;
}

static json_t *
file_at(json_t *m, size_t i)
{
    return json_array_get(json_object_get(m, "files"), i);
}

static void
parse_keeps_every_field(void **state)
{
    json_t *m = parse_fixture(), *f, *meta;

    (void) state;
    assert_string_equal(json_string_value(json_object_get(m, "name")),
        "demo-pkg");
    meta = json_object_get(m, "meta");
    assert_string_equal(json_string_value(json_object_get(meta,
        "api-version")), "1.3");
    assert_int_equal(json_integer_value(json_object_get(meta,
        "_last-serial")), 123);
    assert_null(json_object_get(meta, "_private"));
    assert_null(json_object_get(m, "_upstream_private"));
    assert_int_equal(json_array_size(json_object_get(m, "versions")), 3);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m,
        "project-status"), "status")), "archived");
    assert_non_null(json_object_get(m, "alternate-locations"));

    f = file_at(m, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(f,
        "hashes"), "sha256")), SHA_A);      /* lower-cased */
    assert_string_equal(json_string_value(json_object_get(f,
        "requires-python")), ">=3.8, <4");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f,
        "core-metadata"), "sha256")), SHA_M);
    assert_string_equal(json_string_value(json_object_get(json_object_get(f,
        "dist-info-metadata"), "sha256")), SHA_M);
    assert_non_null(json_object_get(f, "data-dist-info-metadata"));
    assert_true(json_is_false(json_object_get(f, "gpg-sig")));
    assert_true(json_is_false(json_object_get(f, "yanked")));
    assert_int_equal(json_integer_value(json_object_get(f, "size")), 1234);
    assert_string_equal(json_string_value(json_object_get(f, "upload-time")),
        "2024-01-02T03:04:05.123456Z");
    assert_non_null(json_object_get(json_object_get(f, "x-unknown"),
        "nested"));
    assert_null(json_object_get(f, "_provenance"));

    f = file_at(m, 1);
    assert_string_equal(json_string_value(json_object_get(f, "url")),
        "https://pypi.org/packages/ef/01/demo-pkg-2.0.tar.gz");
    assert_null(json_object_get(f, "requires-python"));
    assert_true(json_is_true(json_object_get(f, "core-metadata")));
    assert_true(json_is_true(json_object_get(f, "dist-info-metadata")));
    assert_string_equal(json_string_value(json_object_get(f, "yanked")),
        "broken build");
    assert_string_equal(json_string_value(json_object_get(f, "upload-time")),
        "2024-01-02T03:04:05Z");
    assert_true(json_is_null(json_object_get(f, "provenance")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(f,
        "hashes"), "md5")), "0123456789abcdef");

    f = file_at(m, 2);
    assert_true(json_is_true(json_object_get(f, "yanked")));
    assert_string_equal(json_string_value(json_object_get(f, "provenance")),
        "https://pypi.org/integrity/demo-pkg/3.0/"
        "demo_pkg-3.0-py3-none-any.whl/provenance");
    json_decref(m);
}

static void
render_rewrites_urls_and_version(void **state)
{
    json_t *m = parse_fixture(), *r, *f;
    char *out = NULL, msg[200];
    size_t len = 0;

    (void) state;
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY "/",
        &out, &len), 0);
    assert_int_equal(strlen(out), len);
    assert_null(strstr(out, "files.pythonhosted.org"));
    assert_null(strstr(out, "https://pypi.org"));
    assert_null(strchr(out, '\n'));                 /* compact */
    r = json_loads(out, 0, NULL);
    assert_non_null(r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r,
        "meta"), "api-version")), "1.4");
    f = file_at(r, 0);
    assert_string_equal(json_string_value(json_object_get(f, "url")),
        PROXY "/packages/ab/cd/demo_pkg-1.0-py3-none-any.whl");
    assert_string_equal(json_string_value(json_object_get(f, "provenance")),
        PROXY "/integrity/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/"
        "provenance");
    f = file_at(r, 1);
    assert_string_equal(json_string_value(json_object_get(f, "url")),
        PROXY "/packages/ef/01/demo-pkg-2.0.tar.gz");
    assert_true(json_is_null(json_object_get(f, "provenance")));
    json_decref(r);
    free(out);

    /* A newer upstream minor version is passed on. */
    json_object_set_new(json_object_get(m, "meta"), "api-version",
        json_string("1.17"));
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &out,
        &len), 0);
    assert_non_null(strstr(out, "\"api-version\":\"1.17\""));
    free(out);
    json_decref(m);
    (void) msg;
}

/* parse → render → parse keeps every field; rendering is a fixed point. */
static void
json_round_trip_keeps_every_field(void **state)
{
    json_t *m = parse_fixture(), *m2, *want, *files;
    char *out = NULL, *out2 = NULL, msg[200] = "";
    size_t len, len2, i;

    (void) state;
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &out,
        &len), 0);
    m2 = pg_index_parse_project_json(out, len, PROXY "/simple/demo-pkg/",
        CAP, msg, sizeof(msg));
    if (m2 == NULL)
        fail_msg("rendering rejected: %s", msg);

    /* Expected: the first model with proxy URLs and api-version 1.4. */
    want = json_deep_copy(m);
    json_object_set_new(json_object_get(want, "meta"), "api-version",
        json_string("1.4"));
    files = json_object_get(want, "files");
    for (i = 0; i < json_array_size(files); i++) {
        json_t *f = json_array_get(files, i);
        char path[PG_INDEX_MAX_URL + 1], url[PG_INDEX_MAX_URL + 64];

        assert_int_equal(pg_index_file_path(json_string_value(
            json_object_get(f, "url")), path, sizeof(path)), 0);
        snprintf(url, sizeof(url), "%s%s", PROXY, path);
        json_object_set_new(f, "url", json_string(url));
        /* The legacy metadata value travels as PyPI's
         * "data-dist-info-metadata" (pip 22.3-23.0 crash on a hash object
         * under "dist-info-metadata"). */
        if (json_object_get(f, "dist-info-metadata") != NULL)
            json_object_set(f, "data-dist-info-metadata",
                json_object_get(f, "dist-info-metadata"));
    }
    if (strstr(out, "\"dist-info-metadata\"") != NULL)
        fail_msg("JSON rendering carries \"dist-info-metadata\"");
    json_object_set_new(json_array_get(files, 0), "provenance", json_string(
        PROXY "/integrity/demo-pkg/1.0/demo_pkg-1.0-py3-none-any.whl/"
        "provenance"));
    json_object_set_new(json_array_get(files, 2), "provenance", json_string(
        PROXY "/integrity/demo-pkg/3.0/demo_pkg-3.0-py3-none-any.whl/"
        "provenance"));
    if (!json_equal(want, m2)) {
        char *a = json_dumps(want, JSON_SORT_KEYS);
        char *b = json_dumps(m2, JSON_SORT_KEYS);

        fail_msg("round trip differs:\nwant %s\ngot  %s", a, b);
    }
    assert_int_equal(pg_index_render_project(m2, PG_FMT_JSON, PROXY, &out2,
        &len2), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(out, out2, len);
    free(out);
    free(out2);
    json_decref(want);
    json_decref(m);
    json_decref(m2);
}

static void
annotations_are_rendered(void **state)
{
    json_t *m = parse_fixture();
    char *out;
    size_t len;

    (void) state;
    json_object_set_new(file_at(m, 0), "_provenance",
        json_pack("{s:s,s:{s:s,s:s,s:s}}", "status", "verified", "publisher",
        "kind", "github", "repository", "demo/pkg", "workflow",
        "release.yml"));
    json_object_set_new(m, "_provenance_hidden", json_array());
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &out,
        &len), 0);
    assert_non_null(strstr(out, "\"_provenance\":{\"status\":\"verified\""));
    assert_non_null(strstr(out, "\"_provenance_hidden\":[]"));
    free(out);
    json_decref(m);
}

struct bad_case {
    const char *name;
    const char *page;
    const char *reason;          /* substring of the message */
};

#define F0(extra) "{\"name\":\"x\",\"files\":[{\"filename\":\"x-1.tar.gz\"," \
    "\"url\":\"https://h/packages/x-1.tar.gz\",\"hashes\":{}" extra "}]}"

static const struct bad_case bad[] = {
    { "not JSON", "{", "malformed JSON" },
    { "trailing garbage", "{\"name\":\"x\",\"files\":[]} x", "malformed" },
    { "top level array", "[]", "not a JSON object" },
    { "missing name", "{\"files\":[]}", "name: missing" },
    { "name not a string", "{\"name\":1,\"files\":[]}", "name: missing" },
    { "invalid name", "{\"name\":\"bad name\",\"files\":[]}",
      "not a valid project name" },
    { "missing files", "{\"name\":\"x\"}", "files: missing" },
    { "files not an array", "{\"name\":\"x\",\"files\":{}}",
      "files: missing or not an array" },
    { "versions not an array", "{\"name\":\"x\",\"files\":[],"
      "\"versions\":\"1.0\"}", "versions" },
    { "version not a string", "{\"name\":\"x\",\"files\":[],"
      "\"versions\":[1]}", "versions[0]" },
    { "project-status a string", "{\"name\":\"x\",\"files\":[],"
      "\"project-status\":\"archived\"}", "project-status" },
    { "project-status.status a number", "{\"name\":\"x\",\"files\":[],"
      "\"project-status\":{\"status\":1}}", "project-status.status" },
    { "meta not an object", "{\"name\":\"x\",\"files\":[],\"meta\":1}",
      "meta: not an object" },
    { "api-version 2.0", "{\"name\":\"x\",\"files\":[],\"meta\":"
      "{\"api-version\":\"2.0\"}}", "unsupported" },
    { "api-version a number", "{\"name\":\"x\",\"files\":[],\"meta\":"
      "{\"api-version\":1.0}}", "api-version" },
    { "duplicate keys", "{\"name\":\"x\",\"name\":\"y\",\"files\":[]}",
      "duplicate" },
    { "empty body", "", "malformed JSON" },
    { "hashes not an object", F0(",\"hashes\":\"abc\""), "hashes" },
};

/* A file entry malformed on its own: the entry is dropped and noted
 * (PG_INDEX_DROPPED), the page kept. */
static const struct bad_case bad_entry[] = {
    { "file not an object", "{\"name\":\"x\",\"files\":[1]}",
      "files[0]: not an object" },
    { "filename missing", "{\"name\":\"x\",\"files\":[{\"url\":\"u\"}]}",
      "files[0].filename" },
    { "filename with a slash", "{\"name\":\"x\",\"files\":[{\"filename\":"
      "\"../x.whl\",\"url\":\"https://h/x.whl\"}]}", "not a file name" },
    { "filename with a control char", "{\"name\":\"x\",\"files\":[{"
      "\"filename\":\"x\\u0001.whl\",\"url\":\"https://h/x.whl\"}]}",
      "control character" },
    { "url missing", "{\"name\":\"x\",\"files\":[{\"filename\":\"x.whl\"}]}",
      "files[0].url" },
    { "url not a string", "{\"name\":\"x\",\"files\":[{\"filename\":"
      "\"x.whl\",\"url\":[]}]}", "files[0].url" },
    { "sha256 too short", "{\"name\":\"x\",\"files\":[{\"filename\":"
      "\"x.whl\",\"url\":\"https://h/x.whl\",\"hashes\":{\"sha256\":"
      "\"abcd\"}}]}", "not 64 hex" },
    { "digest not hex", "{\"name\":\"x\",\"files\":[{\"filename\":"
      "\"x.whl\",\"url\":\"https://h/x.whl\",\"hashes\":{\"md5\":"
      "\"xyz\"}}]}", "not hex" },
    { "hash name with a quote", "{\"name\":\"x\",\"files\":[{\"filename\":"
      "\"x.whl\",\"url\":\"https://h/x.whl\",\"hashes\":{\"s\\\"\":"
      "\"ab\"}}]}", "bad hash name" },
    { "negative size", F0(",\"size\":-1"), "size" },
    { "size as a string", F0(",\"size\":\"12\""), "size" },
    { "size as a float", F0(",\"size\":1.5"), "size" },
    { "yanked a number", F0(",\"yanked\":1"), "yanked" },
    { "gpg-sig a string", F0(",\"gpg-sig\":\"no\""), "gpg-sig" },
    { "upload-time not RFC 3339", F0(",\"upload-time\":\"yesterday\""),
      "upload-time" },
    { "upload-time without zone", F0(",\"upload-time\":"
      "\"2024-01-02T03:04:05\""), "upload-time" },
    { "upload-time on Feb 30", F0(",\"upload-time\":"
      "\"2024-02-30T03:04:05Z\""), "upload-time" },
    { "core-metadata a string", F0(",\"core-metadata\":\"yes\""),
      "core-metadata" },
    { "dist-info-metadata a number", F0(",\"dist-info-metadata\":1"),
      "dist-info-metadata" },
    { "requires-python a number", F0(",\"requires-python\":3"),
      "requires-python" },
    { "provenance a number", F0(",\"provenance\":3"), "provenance" },
    { "filename with a NUL", "{\"name\":\"x\",\"files\":[{\"filename\":"
      "\"x\\u0000.whl\",\"url\":\"https://h/x.whl\"}]}", "NUL byte" },
    { "metadata hash with a NUL", F0(",\"core-metadata\":{\"md5\":"
      "\"ab\\u0000\"}"), "NUL" },
};

static void
malformed_entries_are_dropped_and_the_page_kept(void **state)
{
    static const char good[] = "{\"filename\":\"x-2.tar.gz\",\"url\":"
        "\"https://h/packages/x-2.tar.gz\"}";
    char page[1024], msg[200];
    size_t i, n;
    json_t *m, *note;

    (void) state;
    for (i = 0; i < sizeof(bad_entry) / sizeof(bad_entry[0]); i++) {
        /* the bad entry, then a good one after it */
        n = strlen(bad_entry[i].page);
        assert_true(n > 2 && n + sizeof(good) + 2 < sizeof(page));
        memcpy(page, bad_entry[i].page, n - 2);
        snprintf(page + n - 2, sizeof(page) - (n - 2), ",%s]}", good);
        msg[0] = '\0';
        m = pg_index_parse_project_json(page, strlen(page), PAGE_URL, CAP,
            msg, sizeof(msg));
        if (m == NULL)
            fail_msg("%s: page refused: %s", bad_entry[i].name, msg);
        assert_int_equal(json_array_size(json_object_get(m, "files")), 1);
        assert_string_equal(json_string_value(json_object_get(file_at(m, 0),
            "filename")), "x-2.tar.gz");
        note = json_object_get(m, PG_INDEX_DROPPED);
        assert_int_equal(json_integer_value(json_object_get(note, "count")),
            1);
        if (strstr(json_string_value(json_object_get(note, "first")),
            bad_entry[i].reason) == NULL
            || strstr(json_string_value(json_object_get(note, "first")),
            "files[0]") == NULL)
            fail_msg("%s: note '%s' lacks '%s'", bad_entry[i].name,
                json_string_value(json_object_get(note, "first")),
                bad_entry[i].reason);
        json_decref(m);
    }
    /* a NUL outside the files still refuses the page */
    m = pg_index_parse_project_json("{\"name\":\"x\\u0000y\",\"files\":[]}",
        30, PAGE_URL, CAP, msg, sizeof(msg));
    assert_null(m);
    assert_non_null(strstr(msg, "name: NUL byte"));
}

static void
malformed_pages_are_refused_with_a_reason(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[200] = "";
        json_t *m = pg_index_parse_project_json(bad[i].page,
            strlen(bad[i].page), PAGE_URL, CAP, msg, sizeof(msg));

        if (m != NULL) {
            json_decref(m);
            fail_msg("%s: accepted", bad[i].name);
        }
        if (strstr(msg, bad[i].reason) == NULL)
            fail_msg("%s: reason '%s' lacks '%s'", bad[i].name, msg,
                bad[i].reason);
    }
}

static void
minimal_page_is_accepted(void **state)
{
    char msg[200] = "";
    const char *page = "{\"name\":\"X\",\"files\":[{\"filename\":"
        "\"x-1.tar.gz\","
        "\"url\":\"https://h/x-1.tar.gz\"}]}";
    json_t *m = pg_index_parse_project_json(page, strlen(page), NULL, CAP,
        msg, sizeof(msg));

    (void) state;
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m,
        "meta"), "api-version")), "1.0");
    assert_true(json_is_object(json_object_get(file_at(m, 0), "hashes")));
    json_decref(m);
}

static void
project_list_round_trip(void **state)
{
    const char *page = "{\"meta\":{\"_last-serial\":9,\"api-version\":\"1.1\"},"
        "\"projects\":[{\"name\":\"Demo_Pkg\",\"_last-serial\":3},"
        "{\"name\":\"a<b\"},{\"name\":\"zope.interface\"}]}";
    char msg[200] = "", *out, *html;
    size_t len, hlen;
    json_t *m = pg_index_parse_list_json(page, strlen(page), CAP, msg,
        sizeof(msg)), *m2;

    (void) state;
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    assert_null(json_object_get(json_array_get(json_object_get(m,
        "projects"), 0), "_last-serial"));
    assert_int_equal(pg_index_render_list(m, PG_FMT_JSON, PROXY, &out,
        &len), 0);
    assert_string_equal(out, "{\"meta\":{\"api-version\":\"1.4\"},"
        "\"projects\":[{\"name\":\"Demo_Pkg\"},"
        "{\"name\":\"zope.interface\"}]}");
    m2 = pg_index_parse_list_json(out, len, CAP, msg, sizeof(msg));
    assert_non_null(m2);
    assert_int_equal(json_array_size(json_object_get(m2, "projects")), 2);
    assert_int_equal(pg_index_render_list(m, PG_FMT_HTML, PROXY, &html,
        &hlen), 0);
    assert_non_null(strstr(html, "<a href=\"" PROXY
        "/simple/demo-pkg/\">Demo_Pkg</a>"));
    assert_non_null(strstr(html, "/simple/zope-interface/\">"
        "zope.interface</a>"));
    assert_null(strstr(html, "a<b"));
    json_decref(m2);
    m2 = pg_index_parse_list_html(html, hlen, CAP, msg, sizeof(msg));
    assert_non_null(m2);
    assert_int_equal(json_array_size(json_object_get(m2, "projects")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(m2, "projects"), 0), "name")), "Demo_Pkg");
    free(out);
    free(html);
    json_decref(m);
    json_decref(m2);
    assert_null(pg_index_parse_list_json("{\"projects\":[{}]}", 17, CAP, msg,
        sizeof(msg)));
    assert_non_null(strstr(msg, "projects[0].name"));
    assert_null(pg_index_parse_list_json("{\"projects\":1}", 14, CAP, msg,
        sizeof(msg)));
    assert_non_null(strstr(msg, "projects"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_keeps_every_field),
        cmocka_unit_test(render_rewrites_urls_and_version),
        cmocka_unit_test(json_round_trip_keeps_every_field),
        cmocka_unit_test(annotations_are_rendered),
        cmocka_unit_test(malformed_pages_are_refused_with_a_reason),
        cmocka_unit_test(malformed_entries_are_dropped_and_the_page_kept),
        cmocka_unit_test(minimal_page_is_accepted),
        cmocka_unit_test(project_list_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
