/* tests/index/test_vectors.c — real PyPI pages from ../shared/vectors/index
 * (iniconfig HTML with PEP 740 data-provenance, qypi HTML from 2018,
 * argset PEP 691 JSON).  Exits 77 when the directory is absent.
 *
 * Each page is parsed, checked against facts read from the page by hand,
 * rendered to JSON and HTML, and the renderings are fixed points
 * (render → parse → render gives the same bytes).
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

static const char *dir;

static char *
slurp(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t) n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t) n;
    return buf;
}

static json_t *
file_at(json_t *m, size_t i)
{
    return json_array_get(json_object_get(m, "files"), i);
}

/* render(fmt) → parse → render(fmt) gives the same bytes. */
static void
fixed_point(json_t *m, enum pg_index_format fmt, const char *name)
{
    char *a, *b, msg[200] = "", page[256];
    size_t al, bl;
    json_t *m2;

    snprintf(page, sizeof(page), PROXY "/simple/%s/", name);
    assert_int_equal(pg_index_render_project(m, fmt, PROXY, &a, &al), 0);
    m2 = fmt == PG_FMT_JSON
        ? pg_index_parse_project_json(a, al, page, CAP, msg, sizeof(msg))
        : pg_index_parse_project_html(a, al, page, CAP, msg, sizeof(msg));
    if (m2 == NULL)
        fail_msg("%s: rendering rejected: %s", name, msg);
    assert_int_equal(pg_index_render_project(m2, fmt, PROXY, &b, &bl), 0);
    assert_int_equal(al, bl);
    assert_memory_equal(a, b, al);
    assert_null(strstr(a, "pythonhosted"));
    free(a);
    free(b);
    json_decref(m2);
}

static void
iniconfig_html_page(void **state)
{
    size_t len, i, prov = 0, meta = 0;
    char *buf = slurp("iniconfig.simple.html", &len), msg[200] = "";
    json_t *m = pg_index_parse_project_html(buf, len,
        "https://pypi.org/simple/iniconfig/", CAP, msg, sizeof(msg)), *f;
    char *out;
    size_t ol;

    (void) state;
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    assert_string_equal(json_string_value(json_object_get(m, "name")),
        "iniconfig");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m,
        "meta"), "api-version")), "1.4");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m,
        "project-status"), "status")), "active");
    assert_int_equal(json_array_size(json_object_get(m, "files")), 16);
    f = file_at(m, 0);
    assert_string_equal(json_string_value(json_object_get(f, "filename")),
        "iniconfig-0.1.tar.gz");
    assert_string_equal(json_string_value(json_object_get(json_object_get(f,
        "hashes"), "sha256")),
        "f0a16b26d6439c6cf0841a1d77d8fe93c6bacdeff9e7d45dadf8fc83a2e56ae1");
    for (i = 0; i < 16; i++) {
        f = file_at(m, i);
        if (json_is_string(json_object_get(f, "provenance"))) {
            prov++;
            assert_int_equal(strncmp(json_string_value(json_object_get(f,
                "provenance")), "https://pypi.org/integrity/iniconfig/", 37),
                0);
        }
        if (json_object_get(f, "core-metadata") != NULL)
            meta++;
    }
    assert_int_equal(prov, 4);
    assert_true(meta > 0);
    assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &out,
        &ol), 0);
    assert_int_equal(count_str(out, "\"provenance\":\"" PROXY
        "/integrity/iniconfig/"), 4);
    assert_int_equal(count_str(out, "\"filename\":"), 16);
    free(out);
    fixed_point(m, PG_FMT_JSON, "iniconfig");
    fixed_point(m, PG_FMT_HTML, "iniconfig");
    json_decref(m);
    free(buf);
}

static void
qypi_html_page(void **state)
{
    size_t len, i, n;
    char *buf = slurp("qypi.html", &len), msg[200] = "";
    json_t *m = pg_index_parse_project_html(buf, len,
        "https://pypi.org/simple/qypi/", CAP, msg, sizeof(msg));

    (void) state;
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    n = json_array_size(json_object_get(m, "files"));
    assert_int_equal(n, (size_t) count_str(buf, "<a href="));
    for (i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_object_get(file_at(m, i),
            "requires-python")), "~=3.4");
    assert_string_equal(json_string_value(json_object_get(file_at(m, 0),
        "filename")), "qypi-0.1.0-py3-none-any.whl");
    assert_string_equal(json_string_value(json_array_get(json_object_get(m,
        "versions"), 0)), "0.1.0");
    fixed_point(m, PG_FMT_JSON, "qypi");
    fixed_point(m, PG_FMT_HTML, "qypi");
    json_decref(m);
    free(buf);
}

static void
argset_json_page(void **state)
{
    size_t len;
    char *buf = slurp("argset.json", &len), msg[200] = "";
    json_t *m = pg_index_parse_project_json(buf, len,
        "https://pypi.org/simple/argset/", CAP, msg, sizeof(msg)), *f;

    (void) state;
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    assert_int_equal(json_array_size(json_object_get(m, "files")), 2);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m,
        "meta"), "_last-serial")), 10562871);
    f = file_at(m, 1);
    assert_string_equal(json_string_value(json_object_get(f, "filename")),
        "argset-0.1.0.tar.gz");
    assert_string_equal(json_string_value(json_object_get(f,
        "requires-python")), "~=3.6");
    assert_true(json_is_false(json_object_get(f, "yanked")));
    fixed_point(m, PG_FMT_JSON, "argset");
    fixed_point(m, PG_FMT_HTML, "argset");
    json_decref(m);
    free(buf);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iniconfig_html_page),
        cmocka_unit_test(qypi_html_page),
        cmocka_unit_test(argset_json_page),
    };
    FILE *f;
    char probe[1024];

    dir = argc > 1 ? argv[1] : "../shared/vectors/index";
    snprintf(probe, sizeof(probe), "%s/iniconfig.simple.html", dir);
    f = fopen(probe, "rb");
    if (f == NULL) {
        printf("skip: %s not found (needs ../shared beside the checkout)\n",
            probe);
        return 77;
    }
    fclose(f);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
