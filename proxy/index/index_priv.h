/* proxy/index/index_priv.h — helpers shared by the index_*.c files only.
 *
 * The index model is split into small files (names, negotiation, URLs and
 * times, JSON parse and validation, HTML parse, rendering, gzip).  What
 * they share lives here: a growable output buffer with a ceiling, URL
 * resolution, RFC 3339 normalization, the JSON depth pre-scan and the
 * validation every parser ends with.  Nothing here is used outside
 * proxy/index_*.c.
 *
 * Owns: nothing beyond what each function says.  Runs on: either.
 * Spec: issue 2 item 3.
 */
#ifndef PG_INDEX_PRIV_H
#define PG_INDEX_PRIV_H

#include <stddef.h>
#include <string.h>

#include <jansson.h>

/* A growable byte buffer with a ceiling fixed at creation (curl's dynbuf).
 * After the first failure (no memory, over max) every put is a no-op and
 * failed stays set; the caller checks once at the end. */
struct pg_ibuf {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    int failed;
};

void pg_ibuf_init(struct pg_ibuf *b, size_t initial, size_t max);
/* The slow path of pg_ibuf_put: grow (or fail), then append. */
void pg_ibuf_put_grow(struct pg_ibuf *b, const char *s, size_t n);

static inline void
pg_ibuf_put(struct pg_ibuf *b, const char *s, size_t n)
{
    if (!b->failed && n <= b->cap - b->len) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
        return;
    }
    pg_ibuf_put_grow(b, s, n);
}

void pg_ibuf_puts(struct pg_ibuf *b, const char *s);
/* Appends s HTML-escaped for text and double-quoted attribute values. */
void pg_ibuf_put_html(struct pg_ibuf *b, const char *s);
void pg_ibuf_free(struct pg_ibuf *b);

/* Resolves ref against base (RFC 3986 §5.2, without fragment).  A NULL or
 * empty base leaves ref as it is when it is absolute, fails otherwise.
 * Returns 0 or -1 (does not fit, no usable base). */
int pg_index_resolve_url(const char *base, const char *ref, char *out,
    size_t outlen);

/* RFC 3339 date-time → the same instant in UTC with "Z"
 * ("2024-01-02T03:04:05.123456Z").  Returns 0 or -1 (not RFC 3339). */
int pg_index_norm_time(const char *in, char *out, size_t outlen);

/* Nesting depth of a JSON text, counted on the bytes (strings skipped),
 * without building anything.  Returns 0 if it is at most max_depth,
 * -1 otherwise. */
int pg_index_json_depth_ok(const char *buf, size_t len, int max_depth);

/* Validates and normalizes a project model in place (shared by the JSON
 * and HTML parsers): known keys' types, name, api-version, files cap,
 * hashes, URLs resolved against base_url, upload-time to UTC "Z",
 * core-metadata and dist-info-metadata both present, upstream "_" keys
 * dropped; a malformed file entry is dropped and noted (see
 * PG_INDEX_DROPPED).  Returns 0 or -1 with a reason in msg. */
int pg_index_finish_project(json_t *model, const char *base_url,
    char *msg, size_t mlen);

/* Adds n dropped file entries to model's PG_INDEX_DROPPED note (first:
 * the reason of the first one noted).  0, or -1 out of memory. */
int pg_index_note_dropped(json_t *model, size_t n, const char *first);

/* Highest 1.x minor version provgate renders ("1.4" → 4). */
#define PG_INDEX_OUR_MINOR 4

/* Parses "1.N" into N; -1 if it is not a 1.x version. */
int pg_index_api_minor(const char *v);

#endif
