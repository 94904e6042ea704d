/* tests/ui/test_bench.c — a 2,000-file project page rendered from memory
 * (the bar: within 20 ms).  Prints the median and best CPU time of
 * several renders and checks the page; no timing is asserted (the machine
 * is shared), the figure is for the report and the README.
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

#include "ui_int.h"

#define NFILES 2000
#define REPEAT 9

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static void
two_thousand_file_project_page(void **state)
{
    static char names[NFILES][96], versions[NFILES][16];
    struct pg_ui_file *files = calloc(NFILES, sizeof(*files));
    struct pg_ui_project m;
    double t[REPEAT];
    size_t i, len = 0;

    (void) state;
    assert_non_null(files);
    for (i = 0; i < NFILES; i++) {
        snprintf(versions[i], sizeof(versions[i]), "%zu.%zu", i / 10,
            i % 10);
        snprintf(names[i], sizeof(names[i]), "big-%s-cp312-cp312-"
            "manylinux_2_17_x86_64.whl", versions[i]);
        files[i].filename = names[i];
        files[i].version = versions[i];
        files[i].upload_time = "2024-05-06T07:08:09.123456Z";
        files[i].status = i % 7 == 0 ? PG_UI_REJECTED : PG_UI_VERIFIED;
        files[i].decision = i % 7 == 0 ? "yank" : "allow";
        files[i].reason = i % 7 == 0 ? "provgate: publisher github:evil/"
            "big:release.yml is not accepted for big" : NULL;
        files[i].publisher = i % 7 == 0 ? "github:evil/big:release.yml"
            : "github:org/big:release.yml";
    }
    memset(&m, 0, sizeof(m));
    m.name = "big";
    m.mode = "tofu";
    m.on_violation = "yank";
    m.legacy = "allow";
    m.files = files;
    m.nfiles = NFILES;
    for (i = 0; i < REPEAT; i++) {
        struct pg_buf b;
        double t0 = now_ms();

        pg_buf_init(&b, 64 * 1024, PG_UI_MAX_PAGE);
        assert_int_equal(pg_ui_render_project(&m, &b), 0);
        t[i] = now_ms() - t0;
        len = b.len;
        pg_buf_put(&b, "", 1);
        assert_non_null(strstr(b.p, "<h2 id=\"files\">Files (2000)</h2>"));
        assert_non_null(strstr(b.p, "big-199.9-cp312"));
        pg_buf_free(&b);
    }
    qsort(t, REPEAT, sizeof(t[0]), cmp);
    printf("ui: project page of %d files, %zu bytes: median %.2f ms, best "
        "%.2f ms (CPU time, %d renders)\n", NFILES, len, t[REPEAT / 2], t[0],
        REPEAT);
    free(files);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_thousand_file_project_page),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
