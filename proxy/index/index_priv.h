/* proxy/index/index_priv.h — helpers shared by the index_*.c files only.
 *
 * The index model is split into small files (names, negotiation, URLs and
 * times, JSON parse and validation, HTML parse, rendering, gzip).  What
 * they share lives here: HTML escaping onto the output buffer, URL
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

#include "buf_int.h"

/* The renderers write into the shared bounded buffer (util/buf_int.h).
 * Appends s HTML-escaped for text and double-quoted attribute values. */
void pg_index_put_html(struct pg_buf *b, const char *s);

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
