/* proxy/routes/filecache_int.h — the file route's in-memory caches (files.c).
 *
 * Two bounded LRU tables, both only ever read and written on the loop:
 *
 *  - records: request path → the parsed file record (sha256, project,
 *    filename, upstream URL, upload time, size, kind) that PATHS and FILES
 *    hold in LMDB.  An entry remembers the LMDB generation
 *    (pg_cache_generation) read BEFORE the LMDB reads that filled it and is
 *    used only while the generation is unchanged: any committed write to
 *    the cache (a page update rewriting PATHS/FILES, in this process or
 *    another) makes every entry stale, so a record is never served that
 *    LMDB would not return now.
 *
 *  - blobs: sha256 → an open blob as a refcounted libevent file segment
 *    (sendfile when the output drains to a socket), like nginx's
 *    open_file_cache.  An entry is trusted for PG_FILECACHE_FD_VALID_MS
 *    after the pg_blob_open that filled or last revalidated it; the next
 *    use after that calls pg_blob_open again (which checks the blob's
 *    record and file and marks it used for LRU eviction).  So a blob
 *    evicted or removed from the store is served for at most
 *    PG_FILECACHE_FD_VALID_MS after its last check (plus replies already
 *    queued), and a blob in steady use is marked used at least once per
 *    PG_FILECACHE_FD_VALID_MS.
 *
 * Owns: the entries, their strings and file segments (a segment is freed,
 * closing its fd, when neither the table nor a queued reply holds it).
 * Borrows: the cache.  Runs on: loop.  Spec: issue 2 (benchmark).
 */
#ifndef PG_FILECACHE_INT_H
#define PG_FILECACHE_INT_H

#include <stddef.h>
#include <stdint.h>

struct pg_cache;
struct pg_cache_err;
struct pg_filecache;
struct evbuffer_file_segment;

#define PG_FILECACHE_REC_MAX 16384          /* record entries */
#define PG_FILECACHE_REC_BYTES (16u << 20)  /* record bytes (with keys) */
#define PG_FILECACHE_FD_MAX 128             /* open blobs kept */

struct pg_filecache_rec {
    char sha[65];
    const char *project, *filename, *url, *upload_time; /* upload_time may
                                                           be NULL */
    int64_t size;
    int is_meta;
};

int pg_filecache_new(struct pg_cache *cache, struct pg_filecache **out);
void pg_filecache_free(struct pg_filecache *fc);

/* The record cached for path if it was filled at generation gen (the
 * caller's pg_cache_generation, read before any LMDB read it would do),
 * else NULL.  Borrowed until the next call on fc. */
const struct pg_filecache_rec *pg_filecache_rec_get(struct pg_filecache *fc,
    const char *path, uint64_t gen);
/* Remembers rec (copied) for path, read from LMDB after gen was read.
 * Silently does nothing when it cannot (memory, too big, gen 0). */
void pg_filecache_rec_put(struct pg_filecache *fc, const char *path,
    uint64_t gen, const struct pg_filecache_rec *rec);

/* The blob sha256 as a file segment (borrowed: add it to a buffer with
 * evbuffer_add_file_segment, which takes its own reference) and its size.
 * PG_CACHE_OK, PG_CACHE_NOTFOUND or an error (err filled) as
 * pg_blob_open. */
int pg_filecache_blob(struct pg_filecache *fc, const char *sha256_hex,
    struct evbuffer_file_segment **seg, uint64_t *size,
    struct pg_cache_err *err);

/* Drops the open blob sha256 (removed from the store: damaged). */
void pg_filecache_forget(struct pg_filecache *fc, const char *sha256_hex);

#endif
