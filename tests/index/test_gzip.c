/* tests/index/test_gzip.c — pg_index_gzip produces RFC 1952 gzip that
 * zlib inflates back to the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "index_int.h"

static void
check_round_trip(const char *in, size_t len)
{
    char *gz = NULL, *back;
    size_t glen = 0;
    z_stream zs;

    assert_int_equal(pg_index_gzip(in, len, &gz, &glen), 0);
    assert_true(glen >= 18);
    assert_int_equal((unsigned char) gz[0], 0x1f);    /* gzip magic */
    assert_int_equal((unsigned char) gz[1], 0x8b);
    assert_int_equal(gz[2], 8);                       /* deflate */
    back = malloc(len + 1);
    assert_non_null(back);
    memset(&zs, 0, sizeof(zs));
    assert_int_equal(inflateInit2(&zs, 31), Z_OK);    /* gzip only */
    zs.next_in = (Bytef *) gz;
    zs.avail_in = (uInt) glen;
    zs.next_out = (Bytef *) back;
    zs.avail_out = (uInt) len + 1;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    assert_int_equal(zs.total_out, len);
    assert_memory_equal(back, in, len);
    inflateEnd(&zs);
    free(back);
    free(gz);
}

static void
gzip_inflates_back_to_input(void **state)
{
    size_t n = 1 << 20, i;
    char *big = malloc(n);

    (void) state;
    assert_non_null(big);
    for (i = 0; i < n; i++)
        big[i] = (char) ("<a href=\"/packages/x\">x</a>\n"[i % 28] ^ (i % 7));
    check_round_trip("hello", 5);
    check_round_trip(big, n);
    free(big);
}

static void
gzip_of_empty_input(void **state)
{
    (void) state;
    check_round_trip("", 0);
}

static void
gzip_shrinks_a_page(void **state)
{
    size_t n = 200000, i;
    char *page = malloc(n), *gz;
    size_t glen;

    (void) state;
    for (i = 0; i < n; i++)
        page[i] = "<a href=\"/packages/ab/cd/x-1.0.tar.gz\">x</a><br />\n"
            [i % 50];
    assert_int_equal(pg_index_gzip(page, n, &gz, &glen), 0);
    assert_true(glen < n / 10);
    free(gz);
    free(page);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gzip_inflates_back_to_input),
        cmocka_unit_test(gzip_of_empty_input),
        cmocka_unit_test(gzip_shrinks_a_page),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
