/* proxy/util/buf.c — one growable byte buffer with a ceiling (see
 * buf_int.h for the contract).
 *
 * Growth doubles the capacity and stops at the ceiling, so a buffer of
 * max bytes takes at most about log2(max / initial) reallocations and
 * never more than max bytes.
 *
 * Owns: b->p.  Runs on: either.  Spec: style.md, issue 11.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf_int.h"

#define BUF_MIN 64

void
pg_buf_init(struct pg_buf *b, size_t initial, size_t max)
{
    b->len = 0;
    b->max = max;
    if (initial < BUF_MIN) {
        initial = BUF_MIN;
    }
    if (initial > max) {
        initial = max;      /* the capacity never passes the ceiling: the
                               inline put checks only the capacity */
    }
    b->p = malloc(initial > 0 ? initial : 1);
    b->cap = b->p != NULL ? initial : 0;
    b->failed = b->p == NULL;
}

void
pg_buf_free(struct pg_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void
pg_buf_put_grow(struct pg_buf *b, const char *s, size_t n)
{
    if (b->failed) {
        return;
    }
    if (n > b->max - b->len) {
        b->failed = 1;
        return;
    }
    if (n > b->cap - b->len) {
        size_t nc = b->cap;
        char *np;

        while (nc - b->len < n) {
            nc = nc > b->max / 2 ? b->max : nc * 2;
        }
        np = realloc(b->p, nc);
        if (np == NULL) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void
pg_buf_puts(struct pg_buf *b, const char *s)
{
    pg_buf_put(b, s, strlen(s));
}

void
pg_buf_putf(struct pg_buf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    pg_buf_put(b, tmp, (size_t) n < sizeof(tmp) ? (size_t) n
        : sizeof(tmp) - 1);
}
