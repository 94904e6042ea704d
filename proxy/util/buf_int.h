/* proxy/util/buf_int.h — one growable byte buffer with a ceiling.
 *
 * The renderers (index pages, operator pages) append to this buffer
 * without checking each call: the ceiling is fixed at creation, the first
 * failure (no memory, or a put that would cross the ceiling) sets failed,
 * and from then on every put is a no-op; the caller checks failed once at
 * the end (curl's dynbuf, DYNBUF.md).  The buffer never holds more than
 * max bytes, whatever is put in it.
 *
 * Owns: b->p until pg_buf_free (or a caller that takes it and clears it).
 * Runs on: either.  Spec: style.md (every growable buffer has a ceiling),
 * issue 11 (one buffer for both renderers).
 */
#ifndef PG_BUF_INT_H
#define PG_BUF_INT_H

#include <stddef.h>
#include <string.h>

struct pg_buf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    int failed;
};

/* An empty buffer of initial bytes (at least 64, at most max) that may
 * grow to max bytes; failed is set when even the first block cannot be
 * had. */
void pg_buf_init(struct pg_buf *b, size_t initial, size_t max);
/* Frees the bytes; the buffer is empty (and may be initialized again). */
void pg_buf_free(struct pg_buf *b);
/* The slow path of pg_buf_put: grow (or fail), then append. */
void pg_buf_put_grow(struct pg_buf *b, const char *s, size_t n);

/* Appends n bytes of s (inline: most puts fit without growing). */
static inline void
pg_buf_put(struct pg_buf *b, const char *s, size_t n)
{
    if (!b->failed && n <= b->cap - b->len) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        return;
    }
    pg_buf_put_grow(b, s, n);
}

/* Appends the string s (without its NUL). */
void pg_buf_puts(struct pg_buf *b, const char *s);
/* Appends printf output, cut at 511 bytes (numbers, our own words). */
void pg_buf_putf(struct pg_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
