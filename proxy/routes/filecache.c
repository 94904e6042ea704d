/* proxy/routes/filecache.c — the file route's in-memory record and open-blob
 * caches (see filecache_int.h for the rules that keep them correct).
 *
 * Each table is a fixed array of hash buckets (FNV-1a of the key) with
 * chained entries plus one LRU list (most recently used at the head); an
 * insert over the count or byte bound drops entries from the tail.  A
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
#include "pg_cache.h"
#include "routes_int.h"
#include "server_int.h"

#define REC_BUCKETS 8192
#define FD_BUCKETS 256

struct fc_node {
    struct fc_node *hnext;      /* bucket chain */
    struct fc_node *prev, *next;    /* LRU, head = most recent */
    const char *key;
    uint32_t hash;
    size_t bytes;
};

struct fc_table {
    struct fc_node **buckets;
    size_t nbuckets;
    struct fc_node *head, *tail;
    size_t count, bytes, max_count, max_bytes;
    void (*drop)(struct fc_node *n);
};

struct fc_rec {
    struct fc_node n;           /* first */
    uint64_t gen;
    struct pg_filecache_rec rec;
    char data[];                /* key, then the strings */
};

struct fc_blob {
    struct fc_node n;           /* first */
    char sha[65];
    struct evbuffer_file_segment *seg;
    uint64_t size;
    int64_t checked_ms;
};

struct pg_filecache {
    struct pg_cache *cache;
    struct fc_table recs, blobs;
};

static uint32_t
fnv1a(const char *s)
{
    uint32_t h = 2166136261u;

    while (*s != '\0') {
        h ^= (unsigned char)*s++;
        h *= 16777619u;
    }
    return h;
}

/* ---- generic table ------------------------------------------------------ */

static int
table_init(struct fc_table *t, size_t nbuckets, size_t max_count,
    size_t max_bytes, void (*drop)(struct fc_node *n))
{
    memset(t, 0, sizeof(*t));
    t->buckets = calloc(nbuckets, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        return -1;
    }
    t->nbuckets = nbuckets;
    t->max_count = max_count;
    t->max_bytes = max_bytes;
    t->drop = drop;
    return 0;
}

static void
lru_unlink(struct fc_table *t, struct fc_node *n)
{
    if (n->prev != NULL) {
        n->prev->next = n->next;
    } else {
        t->head = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    } else {
        t->tail = n->prev;
    }
    n->prev = n->next = NULL;
}

static void
lru_push_head(struct fc_table *t, struct fc_node *n)
{
    n->prev = NULL;
    n->next = t->head;
    if (t->head != NULL) {
        t->head->prev = n;
    }
    t->head = n;
    if (t->tail == NULL) {
        t->tail = n;
    }
}

static struct fc_node *
table_find(struct fc_table *t, const char *key, uint32_t h)
{
    struct fc_node *n = t->buckets[h % t->nbuckets];

    while (n != NULL && (n->hash != h || strcmp(n->key, key) != 0)) {
        n = n->hnext;
    }
    return n;
}

static void
table_remove(struct fc_table *t, struct fc_node *n)
{
    struct fc_node **pp = &t->buckets[n->hash % t->nbuckets];

    while (*pp != NULL && *pp != n) {
        pp = &(*pp)->hnext;
    }
    if (*pp == n) {
        *pp = n->hnext;
    }
    lru_unlink(t, n);
    t->count--;
    t->bytes -= n->bytes;
    t->drop(n);
}

/* Inserts n (its key not present); drops least recently used entries to
 * stay within the bounds. */
static void
table_insert(struct fc_table *t, struct fc_node *n)
{
    size_t b = n->hash % t->nbuckets;

    while (t->tail != NULL && (t->count + 1 > t->max_count
            || t->bytes + n->bytes > t->max_bytes))
    {
        table_remove(t, t->tail);
    }
    n->hnext = t->buckets[b];
    t->buckets[b] = n;
    lru_push_head(t, n);
    t->count++;
    t->bytes += n->bytes;
}

static void
table_touch(struct fc_table *t, struct fc_node *n)
{
    if (t->head != n) {
        lru_unlink(t, n);
        lru_push_head(t, n);
    }
}

static void
table_clear(struct fc_table *t)
{
    while (t->tail != NULL) {
        table_remove(t, t->tail);
    }
    free(t->buckets);
    t->buckets = NULL;
}

static void
drop_rec(struct fc_node *n)
{
    free(n);
}

static void
drop_blob(struct fc_node *n)
{
    struct fc_blob *b = (struct fc_blob *)n;

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
    if (table_init(&fc->recs, REC_BUCKETS, PG_FILECACHE_REC_MAX,
            PG_FILECACHE_REC_BYTES, drop_rec) != 0
        || table_init(&fc->blobs, FD_BUCKETS, PG_FILECACHE_FD_MAX,
            (size_t)-1, drop_blob) != 0)
    {
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
    if (fc->recs.buckets != NULL) {
        table_clear(&fc->recs);
    }
    if (fc->blobs.buckets != NULL) {
        table_clear(&fc->blobs);
    }
    free(fc);
}

const struct pg_filecache_rec *
pg_filecache_rec_get(struct pg_filecache *fc, const char *path, uint64_t gen)
{
    struct fc_node *n = table_find(&fc->recs, path, fnv1a(path));
    struct fc_rec *e = (struct fc_rec *)n;

    if (e == NULL) {
        return NULL;
    }
    if (gen == 0 || e->gen != gen) {
        table_remove(&fc->recs, n);     /* stale: LMDB changed since */
        return NULL;
    }
    table_touch(&fc->recs, n);
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
    struct fc_node *old;
    uint32_t h = fnv1a(path);
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
    old = table_find(&fc->recs, path, h);
    if (old != NULL) {
        table_remove(&fc->recs, old);
    }
    p = e->data;
    e->n.key = put_str(&p, path);
    e->n.hash = h;
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
    table_insert(&fc->recs, &e->n);
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
    uint32_t h = fnv1a(sha256_hex);
    struct fc_node *n = table_find(&fc->blobs, sha256_hex, h);
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
        table_touch(&fc->blobs, n);
        *seg = b->seg;
        *size = b->size;
        return PG_CACHE_OK;
    }
    /* Absent or due for a check: ask the store again. */
    rc = open_segment(fc, sha256_hex, &ns, &nsize, err);
    if (rc != PG_CACHE_OK) {
        if (b != NULL) {
            table_remove(&fc->blobs, n);
        }
        return rc;
    }
    if (b != NULL) {
        evbuffer_file_segment_free(b->seg);
        b->seg = ns;
        b->size = nsize;
        b->checked_ms = now;
        table_touch(&fc->blobs, n);
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
        b->n.hash = h;
        b->n.bytes = 1;
        table_insert(&fc->blobs, &b->n);
    }
    *seg = b->seg;
    *size = b->size;
    return PG_CACHE_OK;
}

void
pg_filecache_forget(struct pg_filecache *fc, const char *sha256_hex)
{
    struct fc_node *n = table_find(&fc->blobs, sha256_hex,
        fnv1a(sha256_hex));

    if (n != NULL) {
        table_remove(&fc->blobs, n);
    }
}
