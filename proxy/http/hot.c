/* proxy/http/hot.c — the hot table: cache hits any serving loop may answer.
 *
 * The main loop owns every decision: page freshness, the provenance
 * verdict, the policy, the blob store.  When it answers a cache hit it
 * also publishes what it answered with here, keyed by the request path:
 * for a page, its rendered bodies (shared by reference count) and the
 * times its headers are made from; for a file, its record and a file
 * segment of its blob.  A serving thread (front.c) looks the path up and, if
 * the entry is still valid, answers with the same code the main loop uses
 * (views.c: pg_view_serve_page, pg_view_serve_file), so a hit is byte for byte
 * the answer the main loop would give.  Anything else — a miss, a stale
 * page, a refusal, a 301 — is relayed to the main loop (relay.c), which
 * then publishes the entry again.  This is nginx's worker model for the
 * hot path with one owner for the state (no cross-loop fetch
 * coordination is needed: misses only ever happen on the main loop).
 *
 * Every entry is dropped (pg_hot_invalidate) whenever the main loop's
 * view may change: pages re-annotated (policy reload, pins, verdicts), a
 * page installed from upstream or LMDB.  An entry in the table is valid
 * while:
 *   - a page (and the page a file's decision was made from) is fresh:
 *     time(NULL) < fresh_until (after it the main loop revalidates);
 *   - a file's LMDB generation is unchanged (records, evictions, pins by
 *     another process all move it), and its blob file is still linked in
 *     the store, checked every PG_FILECACHE_FD_VALID_MS (as the main
 *     loop's open blobs: a blob file removed behind provgate's back stops
 *     being served).
 * A dropped page (pages.c's memory cap) drops its entry, so the table
 * never holds bodies the pages module let go of.
 *
 * The table is bounded in entries (PG_HOT_MAX) and in bytes
 * (hot_table_max_bytes, issue 10 item 6), least recently published or
 * used evicted first (util/lru.c): an entry counts itself, its strings,
 * for a page the bodies it holds in memory, for a file its blob's size
 * (the segment may map the whole blob: a serving thread that cannot use
 * sendfile, TLS or a small range, reads it through a mapping).  An entry
 * larger than the bound alone is not published: the main loop keeps
 * answering it.
 *
 * Lookups take one mutex for a hash and a compare, then hold the entry by
 * reference count while its answer is built, outside the lock.
 *
 * Owns: the entries, their body references and file segments.
 * Borrows: the server (cache, for the LMDB generation).
 * Runs on: any loop thread.  Spec: issue 2 benchmark (cached serving).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "config_int.h"
#include "lru_int.h"
#include "pg_cache.h"
#include "server_int.h"

#define PG_HOT_BUCKETS 4096
#define PG_HOT_MAX 16384

struct pg_hot_entry {
    struct pg_lru_node n;               /* first; key = path */
    char *path;
    int refs;                           /* table + lookups; mu held */
    int is_page;
    struct pg_page_view page;           /* bodies referenced */
    struct pg_file_view file;           /* strings and segment owned */
};

struct pg_hot {
    pthread_mutex_t mu;
    struct pg_server *s;
    struct pg_lru *table;               /* mu held */
};

static void
entry_free(struct pg_hot_entry *e)
{
    if (e->is_page) {
        pg_page_view_unref(&e->page);
    } else {
        free(e->file.filename);
        free(e->file.upload_time);
        if (e->file.seg != NULL) {
            evbuffer_file_segment_free(e->file.seg);
        }
    }
    free(e->path);
    free(e);
}

/* mu held */
static void
entry_put(struct pg_hot_entry *e)
{
    if (--e->refs == 0) {
        entry_free(e);
    }
}

/* The table let e go (mu held): its reference goes. */
static void
on_drop(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    entry_put((struct pg_hot_entry *)n);
}

/* What keeping e costs (see the top of the file). */
static size_t
entry_bytes(const struct pg_hot_entry *e)
{
    size_t b = sizeof(*e) + strlen(e->path) + 1;

    if (e->is_page) {
        return b + pg_page_view_bytes(&e->page);
    }
    return b + strlen(e->file.filename) + 1 + (e->file.upload_time != NULL
        ? strlen(e->file.upload_time) + 1 : 0) + (size_t)e->file.size;
}

int
pg_hot_new(struct pg_server *s, struct pg_hot **out)
{
    struct pg_hot *h = calloc(1, sizeof(*h));
    size_t max_bytes = (size_t)s->cfg->hot_table_max_bytes;

    *out = NULL;
    if (h == NULL) {
        return -1;
    }
    h->table = pg_lru_new(PG_HOT_BUCKETS, PG_HOT_MAX, max_bytes, on_drop,
        h);
    if (h->table == NULL) {
        free(h);
        return -1;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->s = s;
    *out = h;
    return 0;
}

void
pg_hot_free(struct pg_hot *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    pg_lru_free(h->table);
    h->table = NULL;
    pthread_mutex_unlock(&h->mu);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void
pg_hot_invalidate(struct pg_hot *h)
{
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    pg_lru_clear(h->table);
    pthread_mutex_unlock(&h->mu);
}

void
pg_hot_remove(struct pg_hot *h, const char *path)
{
    struct pg_lru_node *n;

    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    n = pg_lru_find(h->table, path);
    if (n != NULL) {
        pg_lru_remove(h->table, n);
    }
    pthread_mutex_unlock(&h->mu);
}

void
pg_hot_stats(struct pg_hot *h, size_t *count, size_t *bytes,
    uint64_t *evictions)
{
    *count = *bytes = 0;
    *evictions = 0;
    if (h == NULL) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    *count = pg_lru_count(h->table);
    *bytes = pg_lru_bytes(h->table);
    *evictions = pg_lru_evictions(h->table);
    pthread_mutex_unlock(&h->mu);
}

/* Links e (one reference: the table's), replacing an entry for the same
 * path and evicting the least recently used ones over the bounds; an
 * entry over the byte bound alone is freed instead.  Publications and
 * invalidations both happen on the main loop, so nothing can be
 * invalidated between the main loop's answer and this. */
static void
insert(struct pg_hot *h, struct pg_hot_entry *e)
{
    int rc;

    e->n.key = e->path;
    e->n.bytes = entry_bytes(e);
    e->refs = 1;
    pthread_mutex_lock(&h->mu);
    rc = pg_lru_insert(h->table, &e->n);
    if (rc != 0) {
        /* Too big to keep: an older entry for the path must not answer
         * in its place. */
        struct pg_lru_node *old = pg_lru_find(h->table, e->path);

        if (old != NULL) {
            pg_lru_remove(h->table, old);
        }
        entry_put(e);
    }
    pthread_mutex_unlock(&h->mu);
}

/* Whether the table already holds an entry for path that answers as the
 * view would: then publishing again (an allocation, for a file an open and
 * a mapping, and unmapping the old one) is skipped.  Every hit the main
 * loop answers calls publish, so this is the common case. */
static int
current(struct pg_hot *h, const char *path, const struct pg_page_view *pv,
    const struct pg_file_view *fv)
{
    struct pg_hot_entry *e;
    int same = 0;

    pthread_mutex_lock(&h->mu);
    e = (struct pg_hot_entry *)pg_lru_find(h->table, path);
    if (e != NULL) {
        if (pv != NULL) {
            same = e->is_page
                && memcmp(e->page.body, pv->body, sizeof(pv->body)) == 0
                && e->page.fetched_at == pv->fetched_at
                && e->page.changed_at == pv->changed_at
                && e->page.fresh_until == pv->fresh_until;
        } else if (fv != NULL) {
            same = !e->is_page && strcmp(e->file.sha, fv->sha) == 0
                && e->file.cache_gen == fv->cache_gen
                && e->file.fresh_until == fv->fresh_until
                && e->file.valid_until_ms > pg_now_ms();
        }
    }
    pthread_mutex_unlock(&h->mu);
    return same;
}

void
pg_hot_publish_page(struct pg_hot *h, const char *path,
    const struct pg_page_view *v)
{
    struct pg_hot_entry *e;

    if (h == NULL || h->s->nloops < 2 || current(h, path, v, NULL)) {
        return;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL || (e->path = strdup(path)) == NULL) {
        free(e);
        return;
    }
    e->is_page = 1;
    e->page = *v;
    pg_page_view_ref(&e->page);
    insert(h, e);
}

void
pg_hot_publish_file(struct pg_hot *h, const char *path,
    const struct pg_file_view *v)
{
    struct pg_hot_entry *e;
    struct pg_cache_err err;
    uint64_t size = 0;
    int fd = -1;

    if (h == NULL || h->s->nloops < 2 || current(h, path, NULL, v)) {
        return;
    }
    e = calloc(1, sizeof(*e));
    if (e == NULL) {
        return;
    }
    e->file = *v;
    e->file.filename = strdup(v->filename);
    e->file.upload_time = v->upload_time != NULL ? strdup(v->upload_time)
        : NULL;
    e->file.seg = NULL;
    e->file.fd = -1;
    /* Like the main loop's open blobs (filecache.c): a blob removed behind
     * our back stops being served within PG_FILECACHE_FD_VALID_MS. */
    e->file.valid_until_ms = pg_now_ms() + PG_FILECACHE_FD_VALID_MS;
    e->file.touched_ms = pg_now_ms();   /* pg_blob_open touched it */
    e->path = strdup(path);
    memset(&err, 0, sizeof(err));
    /* The entry's own segment (libevent has no way to share a reference
     * to another): one open per publication, not per hit. */
    if (e->path != NULL && e->file.filename != NULL
        && (v->upload_time == NULL || e->file.upload_time != NULL)
        && pg_blob_open(h->s->cache, v->sha, &fd, &size, &err)
            == PG_CACHE_OK)
    {
        if (size == v->size) {
            e->file.seg = evbuffer_file_segment_new(fd, 0, (ev_off_t)size,
                EVBUF_FS_CLOSE_ON_FREE);
            e->file.fd = fd;
        }
        if (e->file.seg == NULL) {
            close(fd);
        }
    }
    if (e->file.seg == NULL) {
        free(e->file.filename);
        free(e->file.upload_time);
        free(e->path);
        free(e);
        return;
    }
    insert(h, e);
}

/* mu held.  Once a second a file entry's blob is checked: still linked
 * in the store, it stays (a relay to the main loop for every file every
 * second cost the big-file rows of the benchmark); removed behind our
 * back (st_nlink 0), the entry is no longer used. */
static int
still_linked(struct pg_hot_entry *e, int64_t now_ms)
{
    struct stat st;

    if (e->file.fd < 0 || fstat(e->file.fd, &st) != 0 || st.st_nlink == 0) {
        return 0;
    }
    e->file.valid_until_ms = now_ms + PG_FILECACHE_FD_VALID_MS;
    return 1;
}

int
pg_hot_serve(struct pg_hot *h, struct pg_req *r)
{
    struct pg_hot_entry *e;
    time_t now;
    uint64_t cgen = 0;
    int64_t now_ms;
    int touch;

    if (h == NULL || r->path == NULL) {
        return 0;
    }
    now = time(NULL);
    now_ms = 0;
    if (strncmp(r->path, "/packages/", 10) == 0) {
        now_ms = pg_now_ms();
        /* Read before the entry: a file published under this LMDB
         * generation is what LMDB held while it is unchanged. */
        cgen = pg_cache_generation(h->s->cache);
    }
    pthread_mutex_lock(&h->mu);
    e = (struct pg_hot_entry *)pg_lru_find(h->table, r->path);
    if (e != NULL && ((e->is_page && now >= e->page.fresh_until)
        || (!e->is_page && (now >= e->file.fresh_until
            || e->file.cache_gen != cgen
            || (now_ms >= e->file.valid_until_ms && !still_linked(e,
                now_ms))))))
    {
        e = NULL;
    }
    touch = 0;
    if (e != NULL) {
        e->refs++;
        pg_lru_touch(h->table, &e->n);
        /* The LRU needs a blob's use, not every use: once a second. */
        if (!e->is_page && now_ms - e->file.touched_ms >= 1000) {
            e->file.touched_ms = now_ms;
            touch = 1;
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (e == NULL) {
        return 0;
    }
    if (touch) {
        pg_cache_touch(h->s->cache, e->file.sha);
    }
    if (e->is_page) {
        /* As the main loop counts a page answered from memory. */
        r->cache = "hit";
        pg_stats_cache_event(h->s, e->page.is_list ? "list" : "page",
            "hit");
        pg_view_serve_page(r, &e->page);
    } else {
        pg_view_serve_file(r, &e->file);
    }
    pthread_mutex_lock(&h->mu);
    entry_put(e);
    pthread_mutex_unlock(&h->mu);
    return 1;
}
