/* proxy/index/index_buf.c — the growable output buffer of the renderers.
 *
 * A buffer has a ceiling given at creation; the first failure (no memory,
 * over the ceiling) sets "failed" and makes every later put a no-op, so a
 * renderer appends without checking each call and tests once at the end
 * (curl's dynbuf, DYNBUF.md).
 *
 * Owns: b->p until the caller takes it or pg_ibuf_free.  Runs on: either.
 * Spec: style.md (every growable buffer has a ceiling).
 */
#include <stdlib.h>
#include <string.h>

#include "index_priv.h"

void
pg_ibuf_init(struct pg_ibuf *b, size_t initial, size_t max)
{
    b->len = 0;
    b->max = max;
    b->failed = 0;
    if (initial > max)
        initial = max;
    if (initial < 64)
        initial = 64;
    b->p = malloc(initial);
    b->cap = b->p != NULL ? initial : 0;
    if (b->p == NULL)
        b->failed = 1;
}

void
pg_ibuf_put_grow(struct pg_ibuf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (n > b->max - b->len) {
        b->failed = 1;
        return;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap;
        char *np;

        while (nc < b->len + n)
            nc = nc > b->max / 2 ? b->max : nc * 2;
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
pg_ibuf_puts(struct pg_ibuf *b, const char *s)
{
    pg_ibuf_put(b, s, strlen(s));
}

/* Characters that need a character reference in text and attributes. */
static const unsigned char html_special[256] = {
    ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1
};

void
pg_ibuf_put_html(struct pg_ibuf *b, const char *s)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        const char *rep;

        if (!html_special[(unsigned char) *s])
            continue;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        default:
            rep = "&#39;";
            break;
        }
        pg_ibuf_put(b, run, (size_t) (s - run));
        pg_ibuf_puts(b, rep);
        run = s + 1;
    }
    pg_ibuf_put(b, run, (size_t) (s - run));
}

void
pg_ibuf_free(struct pg_ibuf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}
