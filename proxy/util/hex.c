/* proxy/util/hex.c — bytes to lower-case hex and back (see hex_int.h). */
#include "hex_int.h"

static int
hex_val(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

void
pg_hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int
pg_hex_decode(const char *hex, size_t n, unsigned char *out)
{
    size_t i;
    int hi, lo;

    for (i = 0; i < n; i++) {
        hi = hex_val((unsigned char) hex[2 * i]);
        lo = hi < 0 ? -1 : hex_val((unsigned char) hex[2 * i + 1]);
        if (lo < 0) {
            return -1;
        }
        out[i] = (unsigned char) (hi << 4 | lo);
    }
    return 0;
}
