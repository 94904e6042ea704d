/* tests/proxy/test_buf.c — the bounded growing buffer (proxy/util/buf.c)
 * that the index and the operator pages render into.
 *
 * A table of scripts: each case makes a buffer with an initial size and a
 * ceiling, appends pieces (plain, string, printf) and states what must
 * hold: the bytes kept, whether the buffer failed, and that it never
 * holds more than its ceiling.  The ceiling is tested at the limit and
 * one past it, with puts that fit the current block and puts that grow
 * it, and a put after the failure must change nothing.
 *
 * Owns: its buffers.  Runs on: the test process.
 * Spec: style.md (every growable buffer has a ceiling), issue 11.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf_int.h"

struct buf_case {
    const char *name;
    size_t initial, max;
    const char *ops;            /* "p:text" put (n bytes), "s:text" puts,
                                   "f:N" putf("%d", N), "r:N" N 'x' bytes;
                                   separated by '|' */
    const char *want;           /* bytes kept; NULL: only its length */
    size_t want_len;
    int failed;
};

static const struct buf_case cases[] = {
    { "puts_are_appended_in_order", 64, 1024,
      "p:ab|s:cd|f:42", "abcd42", 6, 0 },
    { "empty_puts_change_nothing", 64, 1024,
      "p:|s:|p:a", "a", 1, 0 },
    { "grows_past_its_first_block", 64, 1 << 20,
      "r:100|r:1000|r:10000", NULL, 11100, 0 },
    { "at_the_ceiling_all_is_kept", 64, 200,
      "r:150|r:50", NULL, 200, 0 },
    { "one_past_the_ceiling_fails_and_keeps_what_fitted", 64, 200,
      "r:150|r:51", NULL, 150, 1 },
    { "after_a_failure_puts_are_no_ops", 64, 10,
      "p:0123456789a|p:b|s:c|f:7", "", 0, 1 },
    { "a_small_ceiling_below_the_first_block_still_bounds", 64, 5,
      "p:abc|p:de|p:f", "abcde", 5, 1 },
    { "putf_is_cut_at_511_bytes", 64, 4096,
      "f:-1", NULL, 511, 0 },
    { "initial_larger_than_the_ceiling_is_the_ceiling", 1 << 20, 100,
      "r:100", NULL, 100, 0 },
};

static void
run_op(struct pg_buf *b, const char *op, size_t n)
{
    char tmp[20000];
    size_t k;

    switch (op[0]) {
    case 'p':
        pg_buf_put(b, op + 2, n - 2);
        break;
    case 's':
        snprintf(tmp, sizeof(tmp), "%.*s", (int)(n - 2), op + 2);
        pg_buf_puts(b, tmp);
        break;
    case 'f':
        k = strtoul(op + 2, NULL, 10);
        if (op[2] == '-') {
            memset(tmp, 'y', 600);
            tmp[600] = '\0';
            pg_buf_putf(b, "%s", tmp);
        } else {
            pg_buf_putf(b, "%zu", k);
        }
        break;
    case 'r':
        k = strtoul(op + 2, NULL, 10);
        assert_true(k <= sizeof(tmp));
        memset(tmp, 'x', k);
        pg_buf_put(b, tmp, k);
        break;
    default:
        fail_msg("bad op %s", op);
    }
}

static void
run_case(const struct buf_case *c)
{
    struct pg_buf b;
    const char *p = c->ops;

    pg_buf_init(&b, c->initial, c->max);
    assert_false(b.failed);
    while (*p != '\0') {
        size_t n = strcspn(p, "|");

        run_op(&b, p, n);
        assert_true(b.len <= c->max);
        p += n;
        if (*p == '|') {
            p++;
        }
    }
    if (b.len != c->want_len || b.failed != c->failed) {
        fail_msg("%s: %zu bytes, failed %d; want %zu, %d", c->name, b.len,
            b.failed, c->want_len, c->failed);
    }
    if (c->want != NULL && memcmp(b.p, c->want, b.len) != 0) {
        fail_msg("%s: \"%.*s\", want \"%s\"", c->name, (int)b.len, b.p,
            c->want);
    }
    pg_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.len, 0);
}

static void
buf_table_cases(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_table_cases),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
