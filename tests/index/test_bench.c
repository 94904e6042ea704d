/* tests/index/test_bench.c — a 2,000-file page (the size of a busy
 * project): parse, render in both formats and gzip, checking what comes
 * out and printing how long each step took.  No timing is asserted (the
 * machine is shared); the figures are for the report and the README.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "index_int.h"
#include "fixtures.h"

#define NFILES 2000
#define REPEAT 3

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static char *
big_page(size_t *len)
{
    size_t cap = 1024 + NFILES * 900, i;
    char *s = malloc(cap), *p;

    assert_non_null(s);
    p = s + snprintf(s, cap, "{\"meta\":{\"api-version\":\"1.4\"},"
        "\"name\":\"big\",\"versions\":[],\"files\":[");
    for (i = 0; i < NFILES; i++)
        p += snprintf(p, cap - (size_t) (p - s), "%s{\"filename\":"
            "\"big-%zu.0-cp312-cp312-manylinux_2_17_x86_64.whl\","
            "\"url\":\"" FILES_HOST "/packages/ab/cd/0123456789abcdef0123456789"
            "abcdef0123456789abcdef0123456789/big-%zu.0-cp312-cp312-"
            "manylinux_2_17_x86_64.whl\",\"hashes\":{\"sha256\":\"" SHA_A
            "\"},\"requires-python\":\">=3.9\",\"core-metadata\":"
            "{\"sha256\":\"" SHA_M "\"},\"data-dist-info-metadata\":"
            "{\"sha256\":\"" SHA_M "\"},\"size\":123456,\"upload-time\":"
            "\"2024-05-06T07:08:09.123456Z\",\"yanked\":false,"
            "\"provenance\":\"https://pypi.org/integrity/big/%zu.0/"
            "big-%zu.0-cp312-cp312-manylinux_2_17_x86_64.whl/provenance\"}",
            i ? "," : "", i, i, i, i);
    p += snprintf(p, cap - (size_t) (p - s), "]}");
    *len = (size_t) (p - s);
    return s;
}

static void
two_thousand_file_page(void **state)
{
    size_t len, jl, hl, gl;
    char *page = big_page(&len), *js, *html, *gz, msg[200] = "";
    double t0, t1, t2, t3, t4, tp, dj, dh, dg;
    int r;
    json_t *m;

    (void) state;
    t0 = now_ms();
    m = pg_index_parse_project_json(page, len, PAGE_URL, (size_t) 64 << 20,
        msg, sizeof(msg));
    t1 = now_ms();
    tp = t1 - t0;
    if (m == NULL)
        fail_msg("rejected: %s", msg);
    /* the best of REPEAT runs of each step: the machine is shared */
    js = html = gz = NULL;
    dj = dh = dg = 1e9;
    for (r = 0; r < REPEAT; r++) {
        free(js);
        free(html);
        free(gz);
        t1 = now_ms();
        assert_int_equal(pg_index_render_project(m, PG_FMT_JSON, PROXY, &js,
            &jl), 0);
        t2 = now_ms();
        assert_int_equal(pg_index_render_project(m, PG_FMT_HTML, PROXY,
            &html, &hl), 0);
        t3 = now_ms();
        assert_int_equal(pg_index_gzip(js, jl, &gz, &gl), 0);
        t4 = now_ms();
        dj = t2 - t1 < dj ? t2 - t1 : dj;
        dh = t3 - t2 < dh ? t3 - t2 : dh;
        dg = t4 - t3 < dg ? t4 - t3 : dg;
    }
    assert_int_equal(count_str(js, "\"url\":\"" PROXY "/packages/"), NFILES);
    assert_int_equal(count_str(js, "\"provenance\":\"" PROXY
        "/integrity/big/"), NFILES);
    assert_int_equal(count_str(html, "<a href=\"" PROXY "/packages/"),
        NFILES);
    printf("index (CPU time): %d files, upstream %zu B: parse %.1f ms; "
        "JSON %zu B in "
        "%.1f ms; HTML %zu B in %.1f ms; gzip(JSON) %zu B in %.1f ms\n",
        NFILES, len, tp, jl, dj, hl, dh, gl, dg);
    free(page);
    free(js);
    free(html);
    free(gz);
    json_decref(m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_thousand_file_page),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
