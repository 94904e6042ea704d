/* proxy/routes/filecache.c — the file route's in-memory record and open-blob
 * caches (see filecache_int.h for the rules that keep them correct).
 *
 * Each table is a bounded LRU table (util/lru.c): an insert over the
 * count or byte bound drops least recently used entries.  A
 * record entry is one allocation (struct, key and strings); a blob entry
 * holds one reference to its libevent file segment, which closes the fd
 * when the last reference (ours or a queued reply's) goes.
 *
 * Owns: the entries.  Borrows: the cache.  Runs on: loop.
 * Spec: issue 2 (benchmark: a warm hit without LMDB read, JSON parse or
 * open/fstat/close per request).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "filecache_int.h"
#include "lru_int.h"
#include "pg_cache.h"
#include "routes_int.h"
#include "server_int.h"

#define REC_BUCKETS 8192
#define FD_BUCKETS 256

struct fc_rec {
    struct pg_lru_node n;       /* first */
    uint64_t gen;
    struct pg_filecache_rec rec;
    char data[];                /* key, then the strings */
};

struct fc_blob {
    struct pg_lru_node n;       /* first */
    char sha[65];
    struct evbuffer_file_segment *seg;
    uint64_t size;
    int64_t checked_ms;
};

struct pg_filecache {
    struct pg_cache *cache;
    struct pg_lru *recs, *blobs;
};

static void
drop_rec(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    free(n);
}

static void
drop_blob(void *arg, struct pg_lru_node *n)
{
    struct fc_blob *b = (struct fc_blob *)n;

    (void) arg;
    if (b->seg != NULL) {
        evbuffer_file_segment_free(b->seg);
    }
    free(b);
}

/* ---- public ------------------------------------------------------------- */

int
pg_filecache_new(struct pg_cache *cache, struct pg_filecache **out)
{
    struct pg_filecache *fc = calloc(1, sizeof(*fc));

    *out = NULL;
    if (fc == NULL) {
        return -1;
    }
    fc->cache = cache;
    fc->recs = pg_lru_new(REC_BUCKETS, PG_FILECACHE_REC_MAX,
        PG_FILECACHE_REC_BYTES, drop_rec, fc);
    fc->blobs = pg_lru_new(FD_BUCKETS, PG_FILECACHE_FD_MAX, (size_t)-1,
        drop_blob, fc);
    if (fc->recs == NULL || fc->blobs == NULL) {
        pg_filecache_free(fc);
        return -1;
    }
    *out = fc;
    return 0;
}

void
pg_filecache_free(struct pg_filecache *fc)
{
    if (fc == NULL) {
        return;
    }
    pg_lru_free(fc->recs);
    pg_lru_free(fc->blobs);
    free(fc);
}

const struct pg_filecache_rec *
pg_filecache_rec_get(struct pg_filecache *fc, const char *path, uint64_t gen)
{
    struct pg_lru_node *n = pg_lru_find(fc->recs, path);
    struct fc_rec *e = (struct fc_rec *)n;

    if (e == NULL) {
        return NULL;
    }
    if (gen == 0 || e->gen != gen) {
        pg_lru_remove(fc->recs, n);     /* stale: LMDB changed since */
        return NULL;
    }
    pg_lru_touch(fc->recs, n);
    return &e->rec;
}

/* Copies s (may be NULL) to *p, advancing it. */
static const char *
put_str(char **p, const char *s)
{
    size_t n;
    char *d = *p;

    if (s == NULL) {
        return NULL;
    }
    n = strlen(s) + 1;
    memcpy(d, s, n);
    *p = d + n;
    return d;
}

void
pg_filecache_rec_put(struct pg_filecache *fc, const char *path, uint64_t gen,
    const struct pg_filecache_rec *rec)
{
    size_t need;
    struct fc_rec *e;
    char *p;

    if (gen == 0 || rec->project == NULL || rec->filename == NULL
        || rec->url == NULL)
    {
        return;
    }
    need = sizeof(*e) + strlen(path) + 1 + strlen(rec->project) + 1
        + strlen(rec->filename) + 1 + strlen(rec->url) + 1
        + (rec->upload_time != NULL ? strlen(rec->upload_time) + 1 : 0);
    if (need > PG_FILECACHE_REC_BYTES / 16) {
        return;
    }
    e = malloc(need);
    if (e == NULL) {
        return;
    }
    memset(e, 0, sizeof(*e));
    p = e->data;
    e->n.key = put_str(&p, path);
    e->n.bytes = need;
    e->gen = gen;
    memcpy(e->rec.sha, rec->sha, sizeof(e->rec.sha));
    e->rec.sha[64] = '\0';
    e->rec.project = put_str(&p, rec->project);
    e->rec.filename = put_str(&p, rec->filename);
    e->rec.url = put_str(&p, rec->url);
    e->rec.upload_time = put_str(&p, rec->upload_time);
    e->rec.size = rec->size;
    e->rec.is_meta = rec->is_meta;
    if (pg_lru_insert(fc->recs, &e->n) != 0) {
        free(e);                /* cannot be: need is under the bound */
    }
}

/* Opens the blob through the store (record check, access-time mark) and
 * wraps it in a segment that closes the fd when freed. */
static int
open_segment(struct pg_filecache *fc, const char *sha,
    struct evbuffer_file_segment **seg, uint64_t *size,
    struct pg_cache_err *err)
{
    int fd = -1, rc;

    *seg = NULL;
    rc = pg_blob_open(fc->cache, sha, &fd, size, err);
    if (rc != PG_CACHE_OK) {
        return rc;
    }
    *seg = evbuffer_file_segment_new(fd, 0, (ev_off_t)*size,
        EVBUF_FS_CLOSE_ON_FREE);
    if (*seg == NULL) {
        close(fd);
        err->code = PG_CACHE_ENOMEM;
        err->step = "blob";
        memcpy(err->reason, "cannot map the blob", 20);
        return PG_CACHE_ENOMEM;
    }
    return PG_CACHE_OK;
}

int
pg_filecache_blob(struct pg_filecache *fc, const char *sha256_hex,
    struct evbuffer_file_segment **seg, uint64_t *size,
    struct pg_cache_err *err)
{
    struct pg_lru_node *n = pg_lru_find(fc->blobs, sha256_hex);
    struct fc_blob *b = (struct fc_blob *)n;
    struct evbuffer_file_segment *ns = NULL;
    uint64_t nsize = 0;
    int64_t now = pg_now_ms();
    int rc;

    *seg = NULL;
    *size = 0;
    if (b != NULL && now - b->checked_ms < PG_FILECACHE_FD_VALID_MS
        && now >= b->checked_ms)
    {
        pg_lru_touch(fc->blobs, n);
        *seg = b->seg;
        *size = b->size;
        return PG_CACHE_OK;
    }
    /* Absent or due for a check: ask the store again. */
    rc = open_segment(fc, sha256_hex, &ns, &nsize, err);
    if (rc != PG_CACHE_OK) {
        if (b != NULL) {
            pg_lru_remove(fc->blobs, n);
        }
        return rc;
    }
    if (b != NULL) {
        evbuffer_file_segment_free(b->seg);
        b->seg = ns;
        b->size = nsize;
        b->checked_ms = now;
        pg_lru_touch(fc->blobs, n);
    } else {
        b = calloc(1, sizeof(*b));
        if (b == NULL) {
            evbuffer_file_segment_free(ns);
            err->code = PG_CACHE_ENOMEM;
            err->step = "blob";
            memcpy(err->reason, "out of memory", 14);
            return PG_CACHE_ENOMEM;
        }
        memcpy(b->sha, sha256_hex, 64);
        b->sha[64] = '\0';
        b->seg = ns;
        b->size = nsize;
        b->checked_ms = now;
        b->n.key = b->sha;
        b->n.bytes = 1;
        if (pg_lru_insert(fc->blobs, &b->n) != 0) {
            drop_blob(fc, &b->n);   /* cannot be: 1 byte */
            err->code = PG_CACHE_ENOMEM;
            err->step = "blob";
            memcpy(err->reason, "out of memory", 14);
            return PG_CACHE_ENOMEM;
        }
    }
    *seg = b->seg;
    *size = b->size;
    return PG_CACHE_OK;
}

void
pg_filecache_forget(struct pg_filecache *fc, const char *sha256_hex)
{
    struct pg_lru_node *n = pg_lru_find(fc->blobs, sha256_hex);

    if (n != NULL) {
        pg_lru_remove(fc->blobs, n);
    }
}
