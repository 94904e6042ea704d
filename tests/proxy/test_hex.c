/* tests/proxy/test_hex.c — bytes to hex and back (proxy/util/hex.c), the
 * one encoder behind tokens, salts, CSRF MACs and page ETags, and the
 * decoder behind token files and index sha256 values.
 *
 * Table rows: hex text, whether it decodes, and the bytes it stands for;
 * every row that decodes must encode back to its lower-case form.
 *
 * Owns: nothing.  Runs on: the test process.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hex_int.h"

struct hex_case {
    const char *hex;
    int ok;
    size_t n;
    unsigned char bytes[4];
};

static const struct hex_case hex_cases[] = {
    { .hex = "", .ok = 1, .n = 0 },
    { .hex = "00ff", .ok = 1, .n = 2, .bytes = { 0x00, 0xff } },
    { .hex = "DeadBEEF", .ok = 1, .n = 4,
      .bytes = { 0xde, 0xad, 0xbe, 0xef } },
    { .hex = "0a1b2c3d", .ok = 1, .n = 4,
      .bytes = { 0x0a, 0x1b, 0x2c, 0x3d } },
    { .hex = "0g", .ok = 0, .n = 1 },
    { .hex = "g0", .ok = 0, .n = 1 },
    { .hex = "12 4", .ok = 0, .n = 2 },
    { .hex = "1\x80", .ok = 0, .n = 1 },
};

static void
test_hex_table(void **state)
{
    size_t i, k;

    (void) state;
    for (i = 0; i < sizeof(hex_cases) / sizeof(hex_cases[0]); i++) {
        const struct hex_case *c = &hex_cases[i];
        unsigned char out[4];
        char back[9], lower[9];

        assert_int_equal(pg_hex_decode(c->hex, c->n, out), c->ok ? 0 : -1);
        if (!c->ok) {
            continue;
        }
        assert_memory_equal(out, c->bytes, c->n);
        pg_hex_encode(out, c->n, back);
        for (k = 0; k <= 2 * c->n; k++) {
            lower[k] = (char) tolower((unsigned char) c->hex[k]);
        }
        assert_string_equal(back, lower);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hex_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
