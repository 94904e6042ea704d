/* tests/index/test_caps.c — every limit on upstream pages, at the limit
 * (accepted) and one past it (refused with a reason).
 *
 * Limits: max_bytes (caller's), PG_INDEX_MAX_DEPTH, PG_INDEX_MAX_FILES,
 * PG_INDEX_MAX_URL, PG_INDEX_MAX_FILENAME, PG_INDEX_MAX_HASHES,
 * PG_INDEX_MAX_ATTR, PG_INDEX_MAX_HTML_ATTRS, PG_INDEX_MAX_PROJECTS
 * (proxy/index_int.h); PG_INDEX_MAX_NAME is in test_names.c.
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

#define CAP ((size_t) 256 << 20)

/* Over a cap is refused: the page (NULL, reason in msg), or, for a cap on
 * one file entry, that entry (left out, PG_INDEX_DROPPED names why).  At
 * the cap nothing is refused or dropped.  Frees m. */
static void
check_refused(json_t *m, const char *msg, int ok, const char *reason)
{
    json_t *note = m != NULL ? json_object_get(m, PG_INDEX_DROPPED) : NULL;
    const char *first = json_string_value(json_object_get(note, "first"));

    if (ok && m == NULL)
        fail_msg("rejected: %s", msg);
    if (ok && note != NULL)
        fail_msg("an entry was dropped: %s", first);
    if (!ok && m != NULL && note == NULL)
        fail_msg("accepted, expected '%s'", reason);
    if (!ok && m == NULL && strstr(msg, reason) == NULL)
        fail_msg("reason '%s' lacks '%s'", msg, reason);
    if (!ok && m != NULL && (first == NULL || strstr(first, reason) == NULL))
        fail_msg("dropped for '%s', expected '%s'", first, reason);
    json_decref(m);
}

static void
expect_json(const char *page, size_t len, size_t cap, int ok,
    const char *reason)
{
    char msg[200] = "";
    json_t *m = pg_index_parse_project_json(page, len, PAGE_URL, cap, msg,
        sizeof(msg));

    check_refused(m, msg, ok, reason);
}

static void
expect_html(const char *page, size_t len, size_t cap, int ok,
    const char *reason)
{
    char msg[200] = "";
    json_t *m = pg_index_parse_project_html(page, len, PAGE_URL, cap, msg,
        sizeof(msg));

    check_refused(m, msg, ok, reason);
}

static void
page_size_cap(void **state)
{
    size_t jl = strlen(fixture_json), hl = strlen(fixture_html);

    (void) state;
    expect_json(fixture_json, jl, jl, 1, NULL);
    expect_json(fixture_json, jl, jl - 1, 0, "cap");
    expect_html(fixture_html, hl, hl, 1, NULL);
    expect_html(fixture_html, hl, hl - 1, 0, "cap");
}

/* {"name":"x","files":[],"k":[[…]]}: the object is depth 1. */
static char *
nested(int depth)
{
    size_t n = 64 + 2 * (size_t) depth;
    char *s = malloc(n), *p;
    int i;

    assert_non_null(s);
    p = s + snprintf(s, n, "{\"name\":\"x\",\"files\":[],\"k\":");
    for (i = 1; i < depth; i++)
        *p++ = '[';
    for (i = 1; i < depth; i++)
        *p++ = ']';
    *p++ = '}';
    *p = '\0';
    return s;
}

static void
json_depth_cap(void **state)
{
    char *ok = nested(PG_INDEX_MAX_DEPTH), *over = nested(PG_INDEX_MAX_DEPTH
        + 1);
    /* brackets inside strings do not count */
    const char *strs = "{\"name\":\"x\",\"files\":[],\"k\":\"[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"[[[[[[\"}";

    (void) state;
    expect_json(ok, strlen(ok), CAP, 1, NULL);
    expect_json(over, strlen(over), CAP, 0, "nested deeper than 32");
    expect_json(strs, strlen(strs), CAP, 1, NULL);
    free(ok);
    free(over);
}

static char *
many_files_json(size_t n, size_t *len)
{
    size_t cap = 64 + n * 80, i;
    char *s = malloc(cap), *p;

    assert_non_null(s);
    p = s + snprintf(s, cap, "{\"name\":\"x\",\"files\":[");
    for (i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t) (p - s), "%s{\"filename\":"
            "\"x-%zu.tar.gz\",\"url\":\"https://h/packages/x-%zu.tar.gz\"}",
            i ? "," : "", i, i);
    p += snprintf(p, cap - (size_t) (p - s), "]}");
    *len = (size_t) (p - s);
    return s;
}

static char *
many_files_html(size_t n, size_t *len)
{
    size_t cap = 64 + n * 60, i;
    char *s = malloc(cap), *p = s;

    assert_non_null(s);
    for (i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t) (p - s),
            "<a href=\"https://h/packages/x-%zu.tar.gz\">x</a>\n", i);
    *len = (size_t) (p - s);
    return s;
}

static void
files_cap(void **state)
{
    size_t len;
    char *s;

    (void) state;
    s = many_files_json(PG_INDEX_MAX_FILES, &len);
    expect_json(s, len, CAP, 1, NULL);
    free(s);
    s = many_files_json(PG_INDEX_MAX_FILES + 1, &len);
    expect_json(s, len, CAP, 0, "files: more than 200000");
    free(s);
    s = many_files_html(PG_INDEX_MAX_FILES, &len);
    expect_html(s, len, CAP, 1, NULL);
    free(s);
    s = many_files_html(PG_INDEX_MAX_FILES + 1, &len);
    expect_html(s, len, CAP, 0, "files cap");
    free(s);
}

/* A URL of exactly n bytes (long directory, short file name). */
static void
url_of(char *out, size_t n)
{
    const char *pre = "https://h/packages/";
    size_t pl = strlen(pre);

    memcpy(out, pre, pl);
    memset(out + pl, 'a', n - pl - 9);
    memcpy(out + n - 9, "/x.tar.gz", 9);
    out[n] = '\0';
}

static void
url_length_cap(void **state)
{
    char url[PG_INDEX_MAX_URL + 2], page[PG_INDEX_MAX_URL + 256];

    (void) state;
    url_of(url, PG_INDEX_MAX_URL);
    snprintf(page, sizeof(page), "{\"name\":\"x\",\"files\":[{\"filename\":"
        "\"x.tar.gz\",\"url\":\"%s\"}]}", url);
    expect_json(page, strlen(page), CAP, 1, NULL);
    snprintf(page, sizeof(page), "<a href=\"%s\">x</a>", url);
    expect_html(page, strlen(page), CAP, 1, NULL);
    url_of(url, PG_INDEX_MAX_URL + 1);
    snprintf(page, sizeof(page), "{\"name\":\"x\",\"files\":[{\"filename\":"
        "\"x.tar.gz\",\"url\":\"%s\"}]}", url);
    expect_json(page, strlen(page), CAP, 0, "longer than 4096");
    snprintf(page, sizeof(page), "<a href=\"%s\">x</a>", url);
    expect_html(page, strlen(page), CAP, 0, "URL cap");
}

static void
filename_length_cap(void **state)
{
    char fn[PG_INDEX_MAX_FILENAME + 2], page[1024];

    (void) state;
    memset(fn, 'a', sizeof(fn));
    fn[PG_INDEX_MAX_FILENAME] = '\0';
    snprintf(page, sizeof(page), "{\"name\":\"x\",\"files\":[{\"filename\":"
        "\"%s\",\"url\":\"https://h/packages/x\"}]}", fn);
    expect_json(page, strlen(page), CAP, 1, NULL);
    snprintf(page, sizeof(page), "<a href=\"https://h/packages/%s\">x</a>",
        fn);
    expect_html(page, strlen(page), CAP, 1, NULL);
    fn[PG_INDEX_MAX_FILENAME] = 'a';
    fn[PG_INDEX_MAX_FILENAME + 1] = '\0';
    snprintf(page, sizeof(page), "{\"name\":\"x\",\"files\":[{\"filename\":"
        "\"%s\",\"url\":\"https://h/packages/x\"}]}", fn);
    expect_json(page, strlen(page), CAP, 0, "longer than 255");
    snprintf(page, sizeof(page), "<a href=\"https://h/packages/%s\">x</a>",
        fn);
    expect_html(page, strlen(page), CAP, 0, "filename longer than the cap");
}

static void
hashes_cap(void **state)
{
    char page[2048], *p;
    int i;

    (void) state;
    for (int n = PG_INDEX_MAX_HASHES; n <= PG_INDEX_MAX_HASHES + 1; n++) {
        p = page + snprintf(page, sizeof(page), "{\"name\":\"x\",\"files\":"
            "[{\"filename\":\"x.tar.gz\",\"url\":\"https://h/packages/x\","
            "\"hashes\":{");
        for (i = 0; i < n; i++)
            p += snprintf(p, sizeof(page) - (size_t) (p - page),
                "%s\"h%d\":\"ab\"", i ? "," : "", i);
        snprintf(p, sizeof(page) - (size_t) (p - page), "}}]}");
        expect_json(page, strlen(page), CAP, n == PG_INDEX_MAX_HASHES,
            "more than 16 hashes");
    }
}

static void
html_attribute_cap(void **state)
{
    size_t n = PG_INDEX_MAX_ATTR + 128;
    char *page = malloc(n), *val = malloc(PG_INDEX_MAX_ATTR + 2);

    (void) state;
    assert_non_null(page);
    assert_non_null(val);
    memset(val, '1', PG_INDEX_MAX_ATTR);
    val[PG_INDEX_MAX_ATTR] = '\0';
    snprintf(page, n, "<a href=\"https://h/packages/x-1.tar.gz\" "
        "data-requires-python=\"%s\">x</a>", val);
    expect_html(page, strlen(page), CAP, 1, NULL);
    val[PG_INDEX_MAX_ATTR] = '1';
    val[PG_INDEX_MAX_ATTR + 1] = '\0';
    snprintf(page, n, "<a href=\"https://h/packages/x-1.tar.gz\" "
        "data-requires-python=\"%s\">x</a>", val);
    expect_html(page, strlen(page), CAP, 0, "data-requires-python longer");
    free(page);
    free(val);
}

/* A link whose n-th attribute is data-requires-python. */
static void
attribute_count_cap(void **state)
{
    char page[4096], *p;
    char msg[200] = "";
    json_t *m;
    int n, i;

    (void) state;
    for (n = PG_INDEX_MAX_HTML_ATTRS; n <= PG_INDEX_MAX_HTML_ATTRS + 1; n++) {
        p = page + snprintf(page, sizeof(page),
            "<a href=\"https://h/packages/x-1.tar.gz\"");
        for (i = 2; i < n; i++)
            p += snprintf(p, sizeof(page) - (size_t) (p - page),
                " data-x%d=\"%d\"", i, i);
        snprintf(p, sizeof(page) - (size_t) (p - page),
            " data-requires-python=\">=3\">x</a>");
        m = pg_index_parse_project_html(page, strlen(page), PAGE_URL, CAP,
            msg, sizeof(msg));
        if (m == NULL)
            fail_msg("rejected: %s", msg);
        if (n == PG_INDEX_MAX_HTML_ATTRS)
            assert_string_equal(json_string_value(json_object_get(
                json_array_get(json_object_get(m, "files"), 0),
                "requires-python")), ">=3");
        else
            assert_null(json_object_get(json_array_get(json_object_get(m,
                "files"), 0), "requires-python"));
        json_decref(m);
    }
}

static char *
many_projects(size_t n, size_t *len)
{
    size_t cap = 64 + n * 24, i;
    char *s = malloc(cap), *p;

    assert_non_null(s);
    p = s + snprintf(s, cap, "{\"projects\":[");
    for (i = 0; i < n; i++)
        p += snprintf(p, cap - (size_t) (p - s), "%s{\"name\":\"p%zu\"}",
            i ? "," : "", i);
    p += snprintf(p, cap - (size_t) (p - s), "]}");
    *len = (size_t) (p - s);
    return s;
}

static void
projects_cap(void **state)
{
    char msg[200] = "";
    size_t len;
    char *s;
    json_t *m;

    (void) state;
    s = many_projects(PG_INDEX_MAX_PROJECTS, &len);
    m = pg_index_parse_list_json(s, len, CAP, msg, sizeof(msg));
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    json_decref(m);
    free(s);
    s = many_projects(PG_INDEX_MAX_PROJECTS + 1, &len);
    m = pg_index_parse_list_json(s, len, CAP, msg, sizeof(msg));
    assert_null(m);
    assert_non_null(strstr(msg, "projects: more than"));
    free(s);
}

/* argv[1] picks a group so that ctest can run the two big ones (hundreds
 * of thousands of entries) beside the rest: "files", "projects" or
 * "small" (everything else). */
int
main(int argc, char **argv)
{
    const struct CMUnitTest small[] = {
        cmocka_unit_test(page_size_cap),
        cmocka_unit_test(json_depth_cap),
        cmocka_unit_test(url_length_cap),
        cmocka_unit_test(filename_length_cap),
        cmocka_unit_test(hashes_cap),
        cmocka_unit_test(html_attribute_cap),
        cmocka_unit_test(attribute_count_cap),
    };
    const struct CMUnitTest files[] = {
        cmocka_unit_test(files_cap),
    };
    const struct CMUnitTest projects[] = {
        cmocka_unit_test(projects_cap),
    };
    const char *g = argc > 1 ? argv[1] : "small";

    if (strcmp(g, "files") == 0)
        return cmocka_run_group_tests(files, NULL, NULL);
    if (strcmp(g, "projects") == 0)
        return cmocka_run_group_tests(projects, NULL, NULL);
    return cmocka_run_group_tests(small, NULL, NULL);
}
