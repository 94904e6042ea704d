/* cache/evict.c — blob records, access-time batches and LRU eviction.
 *
 * Each committed blob has a record in PG_CACHE_DB_BLOBS (hex → size, last
 * access) and an entry in the private LRU index "_blob_lru" (big-endian
 * access time + hex → size), so the least recently used blob is the first
 * key of the index and eviction never scans.  The private "_cache" database
 * keeps the total of blob sizes, updated in the same transaction as the
 * records, so every process sees consistent totals (the count is the
 * database's own entry count).
 *
 * pg_blob_open only records accesses in memory (struct pg_cache.atimes);
 * every writer of records here first applies that batch, so eviction always
 * sees the freshest access times of this process.  Files are unlinked only
 * after the transaction that dropped their records committed: a crash can
 * leave an unrecorded file (gc removes it), never a record without a file
 * that looks valid.
 *
 * Owns: the spare batch while flush_mu is held.  Borrows: the cache.
 * Runs on: worker (commits and unlinks).  Spec: design §8.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache_int.h"

static const char pg_cache_key_bytes[] = "blob_bytes";

struct change {
    const char *hex;
    int add;                    /* 1 add/replace, 0 remove */
    uint64_t size;
    int found;                  /* remove: the record existed */
    int if_missing;             /* remove only if the file is gone */
};

struct evicted {
    char hex[PG_CACHE_EVICT_BATCH][PG_CACHE_HEX_LEN + 1];
    size_t n;
    uint64_t bytes;
};

static size_t take_batch(struct pg_cache *c);
static void remerge_batch(struct pg_cache *c, size_t n);
static int apply_batch(struct pg_cache *c, MDB_txn *txn, size_t n,
    struct pg_cache_err *err);
static int apply_change(struct pg_cache *c, MDB_txn *txn,
    struct change *ch, uint64_t *bytes, struct pg_cache_err *err);
static int evict_some(struct pg_cache *c, MDB_txn *txn, const char *keep,
    uint64_t *bytes, struct evicted *ev, int *more,
    struct pg_cache_err *err);
static int update(struct pg_cache *c, struct change *ch,
    struct pg_cache_gc_result *res, struct pg_cache_err *err);
static int update_locked(struct pg_cache *c, struct change *ch,
    struct pg_cache_gc_result *res, struct pg_cache_err *err);
static int read_bytes(struct pg_cache *c, MDB_txn *txn, uint64_t *bytes);
static int write_bytes(struct pg_cache *c, MDB_txn *txn, uint64_t bytes);
static void lru_key(unsigned char *k, uint64_t at, const char *hex);
static uint64_t next_stamp(struct pg_cache *c);

void
pg_cache_blob_path(const struct pg_cache *c, const char *hex, char *out,
    size_t outlen)
{
    snprintf(out, outlen, "%s/%.2s/%.64s", c->blobs, hex, hex);
}

/* A strictly increasing access stamp (ns); mu held. */
static uint64_t
stamp_locked(struct pg_cache *c, uint64_t now)
{
    if (now <= c->last_stamp) {
        now = c->last_stamp + 1;
    }
    c->last_stamp = now;
    return now;
}

static uint64_t
next_stamp(struct pg_cache *c)
{
    uint64_t now = pg_cache_now_ns();

    pthread_mutex_lock(&c->mu);
    now = stamp_locked(c, now);
    pthread_mutex_unlock(&c->mu);
    return now;
}

static size_t
slot_of(const char *hex)
{
    size_t h = 0;
    int i;

    for (i = 0; i < 12; i++) {
        h = h * 16 + (size_t) (hex[i] <= '9' ? hex[i] - '0'
            : hex[i] - 'a' + 10);
    }
    return h % PG_CACHE_ATIME_SLOTS;
}

/* Inserts or raises one access time; mu held. */
static void
batch_put(struct pg_cache *c, const char *hex, uint64_t at)
{
    size_t i = slot_of(hex), probes;

    for (probes = 0; probes < PG_CACHE_ATIME_SLOTS; probes++) {
        struct pg_cache_atime *s = &c->atimes[i];

        if (s->at == 0) {
            if (c->n_atimes >= PG_CACHE_ATIME_BATCH_MAX) {
                c->atime_dropped++;
                return;
            }
            memcpy(s->hex, hex, PG_CACHE_HEX_LEN);
            s->at = at;
            c->n_atimes++;
            return;
        }
        if (memcmp(s->hex, hex, PG_CACHE_HEX_LEN) == 0) {
            if (at > s->at) {
                s->at = at;
            }
            return;
        }
        i = (i + 1) % PG_CACHE_ATIME_SLOTS;
    }
    c->atime_dropped++;
}

void
pg_cache_touch(struct pg_cache *c, const char *hex)
{
    uint64_t now = pg_cache_now_ns();

    pthread_mutex_lock(&c->mu);
    batch_put(c, hex, stamp_locked(c, now));
    pthread_mutex_unlock(&c->mu);
}

uint64_t
pg_cache_generation(struct pg_cache *c)
{
    MDB_envinfo info;

    if (mdb_env_info(c->env, &info) != 0) {
        return 0;
    }
    return (uint64_t)info.me_last_txnid + 1;
}

/* Moves the batch into c->spare; flush_mu held. */
static size_t
take_batch(struct pg_cache *c)
{
    size_t i, n = 0;

    pthread_mutex_lock(&c->mu);
    if (c->n_atimes > 0) {
        for (i = 0; i < PG_CACHE_ATIME_SLOTS; i++) {
            if (c->atimes[i].at != 0 && n < PG_CACHE_ATIME_BATCH_MAX) {
                c->spare[n++] = c->atimes[i];
            }
        }
        memset(c->atimes, 0, PG_CACHE_ATIME_SLOTS * sizeof(*c->atimes));
        c->n_atimes = 0;
    }
    pthread_mutex_unlock(&c->mu);
    return n;
}

/* A failed transaction gives its batch back; flush_mu held. */
static void
remerge_batch(struct pg_cache *c, size_t n)
{
    size_t i;

    pthread_mutex_lock(&c->mu);
    for (i = 0; i < n; i++) {
        batch_put(c, c->spare[i].hex, c->spare[i].at);
    }
    pthread_mutex_unlock(&c->mu);
}

static void
lru_key(unsigned char *k, uint64_t at, const char *hex)
{
    pg_cache_be64(k, at);
    memcpy(k + 8, hex, PG_CACHE_HEX_LEN);
}

static int
read_bytes(struct pg_cache *c, MDB_txn *txn, uint64_t *bytes)
{
    MDB_val k, v;
    int rc;

    *bytes = 0;
    k.mv_size = sizeof(pg_cache_key_bytes) - 1;
    k.mv_data = (void *) pg_cache_key_bytes;
    rc = mdb_get(txn, c->dbi[PG_CACHE_DBI_OWN], &k, &v);
    if (rc == MDB_NOTFOUND) {
        return 0;
    }
    if (rc == 0 && v.mv_size == 8) {
        *bytes = pg_cache_get_be64(v.mv_data);
    }
    return rc;
}

static int
write_bytes(struct pg_cache *c, MDB_txn *txn, uint64_t bytes)
{
    MDB_val k, v;
    unsigned char buf[8];

    pg_cache_be64(buf, bytes);
    k.mv_size = sizeof(pg_cache_key_bytes) - 1;
    k.mv_data = (void *) pg_cache_key_bytes;
    v.mv_size = 8;
    v.mv_data = buf;
    return mdb_put(txn, c->dbi[PG_CACHE_DBI_OWN], &k, &v, 0);
}

static int
apply_batch(struct pg_cache *c, MDB_txn *txn, size_t n,
    struct pg_cache_err *err)
{
    size_t i;
    int rc;

    for (i = 0; i < n; i++) {
        const struct pg_cache_atime *a = &c->spare[i];
        unsigned char rec[PG_CACHE_REC_LEN], lk[PG_CACHE_LRU_KLEN];
        MDB_val k, v, lkv, lv;
        uint64_t old;

        k.mv_size = PG_CACHE_HEX_LEN;
        k.mv_data = (void *) a->hex;
        rc = mdb_get(txn, c->dbi[PG_CACHE_DB_BLOBS], &k, &v);
        if (rc == MDB_NOTFOUND || (rc == 0 && v.mv_size != PG_CACHE_REC_LEN))
        {
            continue;           /* removed meanwhile */
        }
        if (rc != 0) {
            return pg_cache_fail_mdb(err, rc, "flush", "blobs");
        }
        memcpy(rec, v.mv_data, PG_CACHE_REC_LEN);
        old = pg_cache_get_be64(rec + 8);
        if (old >= a->at) {
            continue;
        }
        lru_key(lk, old, a->hex);
        lkv.mv_size = PG_CACHE_LRU_KLEN;
        lkv.mv_data = lk;
        rc = mdb_del(txn, c->dbi[PG_CACHE_DBI_LRU], &lkv, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return pg_cache_fail_mdb(err, rc, "flush", "lru");
        }
        pg_cache_be64(rec + 8, a->at);
        v.mv_size = PG_CACHE_REC_LEN;
        v.mv_data = rec;
        rc = mdb_put(txn, c->dbi[PG_CACHE_DB_BLOBS], &k, &v, 0);
        if (rc != 0) {
            return pg_cache_fail_mdb(err, rc, "flush", "blobs");
        }
        lru_key(lk, a->at, a->hex);
        lv.mv_size = 8;
        lv.mv_data = rec;       /* the size, first 8 bytes */
        rc = mdb_put(txn, c->dbi[PG_CACHE_DBI_LRU], &lkv, &lv, 0);
        if (rc != 0) {
            return pg_cache_fail_mdb(err, rc, "flush", "lru");
        }
    }
    return PG_CACHE_OK;
}

static int
apply_change(struct pg_cache *c, MDB_txn *txn, struct change *ch,
    uint64_t *bytes, struct pg_cache_err *err)
{
    unsigned char rec[PG_CACHE_REC_LEN], lk[PG_CACHE_LRU_KLEN];
    MDB_val k, v, lkv, lv;
    const char *step = ch->add ? "commit" : "remove";
    int rc;

    k.mv_size = PG_CACHE_HEX_LEN;
    k.mv_data = (void *) ch->hex;
    lkv.mv_size = PG_CACHE_LRU_KLEN;
    lkv.mv_data = lk;
    ch->found = 0;
    if (ch->if_missing) {
        char path[PG_CACHE_MAX_DIR + 96];

        /* Checked under the writer lock: a commit renames, then records,
         * so a file present now keeps its record. */
        pg_cache_blob_path(c, ch->hex, path, sizeof(path));
        if (access(path, F_OK) == 0) {
            return PG_CACHE_OK;
        }
    }
    rc = mdb_get(txn, c->dbi[PG_CACHE_DB_BLOBS], &k, &v);
    if (rc == 0 && v.mv_size == PG_CACHE_REC_LEN) {
        uint64_t osize = pg_cache_get_be64(v.mv_data);

        ch->found = 1;
        lru_key(lk, pg_cache_get_be64((unsigned char *) v.mv_data + 8),
            ch->hex);
        *bytes = *bytes >= osize ? *bytes - osize : 0;
        rc = mdb_del(txn, c->dbi[PG_CACHE_DBI_LRU], &lkv, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            return pg_cache_fail_mdb(err, rc, step, "lru");
        }
        rc = mdb_del(txn, c->dbi[PG_CACHE_DB_BLOBS], &k, NULL);
        if (rc != 0) {
            return pg_cache_fail_mdb(err, rc, step, "blobs");
        }
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return pg_cache_fail_mdb(err, rc, step, "blobs");
    }
    if (!ch->add) {
        return PG_CACHE_OK;
    }
    pg_cache_be64(rec, ch->size);
    pg_cache_be64(rec + 8, next_stamp(c));
    v.mv_size = PG_CACHE_REC_LEN;
    v.mv_data = rec;
    rc = mdb_put(txn, c->dbi[PG_CACHE_DB_BLOBS], &k, &v, 0);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, step, "blobs");
    }
    lru_key(lk, pg_cache_get_be64(rec + 8), ch->hex);
    lv.mv_size = 8;
    lv.mv_data = rec;
    rc = mdb_put(txn, c->dbi[PG_CACHE_DBI_LRU], &lkv, &lv, 0);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, step, "lru");
    }
    *bytes += ch->size;
    return PG_CACHE_OK;
}

/* Drops records, oldest access first, until *bytes <= cap or a batch is
 * full (*more = 1).  Never the blob named keep. */
static int
evict_some(struct pg_cache *c, MDB_txn *txn, const char *keep,
    uint64_t *bytes, struct evicted *ev, int *more,
    struct pg_cache_err *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t cap;
    int rc;

    *more = 0;
    pthread_mutex_lock(&c->mu);
    cap = c->max_bytes;
    pthread_mutex_unlock(&c->mu);
    if (cap == 0 || *bytes <= cap) {
        return PG_CACHE_OK;
    }
    rc = mdb_cursor_open(txn, c->dbi[PG_CACHE_DBI_LRU], &cur);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "evict", "mdb_cursor_open");
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0 && *bytes > cap) {
        const char *hex = (const char *) k.mv_data + 8;
        uint64_t size;
        MDB_val bk;

        if (k.mv_size != PG_CACHE_LRU_KLEN || v.mv_size != 8
            || (keep != NULL && memcmp(hex, keep, PG_CACHE_HEX_LEN) == 0))
        {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
            continue;
        }
        if (ev->n >= PG_CACHE_EVICT_BATCH) {
            *more = 1;
            break;
        }
        size = pg_cache_get_be64(v.mv_data);
        memcpy(ev->hex[ev->n], hex, PG_CACHE_HEX_LEN);
        ev->hex[ev->n][PG_CACHE_HEX_LEN] = '\0';
        bk.mv_size = PG_CACHE_HEX_LEN;
        bk.mv_data = ev->hex[ev->n];
        rc = mdb_cursor_del(cur, 0);
        if (rc != 0) {
            break;
        }
        rc = mdb_del(txn, c->dbi[PG_CACHE_DB_BLOBS], &bk, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND) {
            break;
        }
        ev->n++;
        ev->bytes += size;
        *bytes = *bytes >= size ? *bytes - size : 0;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return pg_cache_fail_mdb(err, rc, "evict", "lru");
    }
    return PG_CACHE_OK;
}

/* One writer of blob records: batch, the change, eviction; then unlinks.
 * Repeats the eviction in further transactions while a batch was full.
 * flush_mu held: no commit renames a file between our transaction and the
 * unlink of what it evicted (in this process). */
static int
update_locked(struct pg_cache *c, struct change *ch,
    struct pg_cache_gc_result *res, struct pg_cache_err *err)
{
    struct evicted *ev;
    MDB_txn *txn;
    MDB_stat st;
    size_t n, i;
    uint64_t bytes;
    int rc, more, first = 1;
    const char *step = ch == NULL ? "flush" : (ch->add ? "commit" : "remove");

    if (c->read_only) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, step,
            "cache opened read-only");
    }
    ev = malloc(sizeof(*ev));
    if (ev == NULL) {
        return pg_cache_fail(err, PG_CACHE_ENOMEM, step, "out of memory");
    }
    n = take_batch(c);
    do {
        ev->n = 0;
        ev->bytes = 0;
        rc = mdb_txn_begin(c->env, NULL, 0, &txn);
        if (rc != 0) {
            rc = pg_cache_fail_mdb(err, rc, step, "mdb_txn_begin");
            break;
        }
        rc = read_bytes(c, txn, &bytes);
        if (rc != 0) {
            mdb_txn_abort(txn);
            rc = pg_cache_fail_mdb(err, rc, step, "read totals");
            break;
        }
        rc = PG_CACHE_OK;
        if (first) {
            rc = apply_batch(c, txn, n, err);
            if (rc == PG_CACHE_OK && ch != NULL) {
                rc = apply_change(c, txn, ch, &bytes, err);
            }
        }
        if (rc == PG_CACHE_OK) {
            rc = evict_some(c, txn, ch != NULL && ch->add ? ch->hex : NULL,
                &bytes, ev, &more, err);
        }
        if (rc == PG_CACHE_OK) {
            rc = write_bytes(c, txn, bytes);
            if (rc != 0) {
                rc = pg_cache_fail_mdb(err, rc, step, "write totals");
            }
        }
        if (rc == PG_CACHE_OK) {
            rc = mdb_stat(txn, c->dbi[PG_CACHE_DB_BLOBS], &st);
            if (rc != 0) {
                rc = pg_cache_fail_mdb(err, rc, step, "mdb_stat");
            }
        }
        if (rc != PG_CACHE_OK) {
            mdb_txn_abort(txn);
            break;
        }
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            rc = pg_cache_fail_mdb(err, rc, step, "mdb_txn_commit");
            break;
        }
        first = 0;
        for (i = 0; i < ev->n; i++) {
            char path[PG_CACHE_MAX_DIR + 96];

            pg_cache_blob_path(c, ev->hex[i], path, sizeof(path));
            unlink(path);
        }
        pthread_mutex_lock(&c->mu);
        c->blob_bytes = bytes;
        c->blob_count = st.ms_entries;
        c->evictions += ev->n;
        pthread_mutex_unlock(&c->mu);
        if (res != NULL) {
            res->evicted += ev->n;
            res->evicted_bytes += ev->bytes;
        }
    } while (more);
    if (first && n > 0) {
        remerge_batch(c, n);
    }
    free(ev);
    return rc;
}

static int
update(struct pg_cache *c, struct change *ch, struct pg_cache_gc_result *res,
    struct pg_cache_err *err)
{
    int rc;

    pthread_mutex_lock(&c->flush_mu);
    rc = update_locked(c, ch, res, err);
    pthread_mutex_unlock(&c->flush_mu);
    return rc;
}

int
pg_cache_blob_record_locked(struct pg_cache *c, const char *hex,
    uint64_t size, struct pg_cache_err *err)
{
    struct change ch = { hex, 1, size, 0, 0 };

    return update_locked(c, &ch, NULL, err);
}

int
pg_cache_blob_unrecord(struct pg_cache *c, const char *hex, int *found,
    struct pg_cache_err *err)
{
    struct change ch = { hex, 0, 0, 0, 0 };
    int rc;

    rc = update(c, &ch, NULL, err);
    *found = ch.found;
    return rc;
}

static int
unrecord_if_missing(struct pg_cache *c, const char *hex, int *found,
    struct pg_cache_err *err)
{
    struct change ch = { hex, 0, 0, 0, 1 };
    int rc;

    rc = update(c, &ch, NULL, err);
    *found = ch.found;
    return rc;
}

int
pg_cache_flush(struct pg_cache *c, struct pg_cache_err *err)
{
    return update(c, NULL, NULL, err);
}

int
pg_cache_blob_totals(struct pg_cache *c, uint64_t *bytes, uint64_t *count,
    struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc;

    *bytes = 0;
    *count = 0;
    if (!c->has_dbi[PG_CACHE_DB_BLOBS] || !c->has_dbi[PG_CACHE_DBI_OWN]) {
        return PG_CACHE_OK;
    }
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "stats", "mdb_txn_begin");
    }
    rc = read_bytes(c, txn, bytes);
    if (rc == 0) {
        rc = mdb_stat(txn, c->dbi[PG_CACHE_DB_BLOBS], &st);
    }
    mdb_txn_abort(txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "stats", "totals");
    }
    *count = st.ms_entries;
    return PG_CACHE_OK;
}

/* Scans the blob records: their byte total and count.  In a read-write
 * cache, also repairs the stored total and the LRU index if they disagree
 * (they cannot after a clean history; this makes the totals self-healing). */
int
pg_cache_blob_recount(struct pg_cache *c, struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    MDB_stat st_lru;
    uint64_t bytes = 0, count = 0, stored = 0;
    int rc, dirty = 0;

    if (!c->has_dbi[PG_CACHE_DB_BLOBS]) {
        return PG_CACHE_OK;
    }
    rc = mdb_txn_begin(c->env, NULL, c->read_only ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "open", "mdb_txn_begin");
    }
    rc = mdb_cursor_open(txn, c->dbi[PG_CACHE_DB_BLOBS], &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return pg_cache_fail_mdb(err, rc, "open", "mdb_cursor_open");
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (v.mv_size == PG_CACHE_REC_LEN) {
            bytes += pg_cache_get_be64(v.mv_data);
        }
        count++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return pg_cache_fail_mdb(err, rc, "open", "scan blobs");
    }
    rc = 0;
    if (!c->read_only) {
        rc = read_bytes(c, txn, &stored);
        if (rc == 0 && stored != bytes) {
            dirty = 1;
            rc = write_bytes(c, txn, bytes);
        }
        if (rc == 0) {
            rc = mdb_stat(txn, c->dbi[PG_CACHE_DBI_LRU], &st_lru);
        }
        if (rc == 0 && st_lru.ms_entries != count) {
            /* Rebuild the LRU index from the records. */
            dirty = 1;
            rc = mdb_drop(txn, c->dbi[PG_CACHE_DBI_LRU], 0);
            if (rc == 0) {
                rc = mdb_cursor_open(txn, c->dbi[PG_CACHE_DB_BLOBS], &cur);
            }
            if (rc == 0) {
                rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
                while (rc == 0) {
                    unsigned char lk[PG_CACHE_LRU_KLEN];
                    MDB_val lkv = { PG_CACHE_LRU_KLEN, lk }, lv;

                    if (k.mv_size == PG_CACHE_HEX_LEN
                        && v.mv_size == PG_CACHE_REC_LEN)
                    {
                        lru_key(lk, pg_cache_get_be64(
                            (unsigned char *) v.mv_data + 8), k.mv_data);
                        lv.mv_size = 8;
                        lv.mv_data = v.mv_data;
                        rc = mdb_put(txn, c->dbi[PG_CACHE_DBI_LRU], &lkv,
                            &lv, 0);
                        if (rc != 0) {
                            break;
                        }
                    }
                    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
                }
                mdb_cursor_close(cur);
                if (rc == MDB_NOTFOUND) {
                    rc = 0;
                }
            }
        }
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return pg_cache_fail_mdb(err, rc, "open", "recount");
    }
    if (dirty) {
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            return pg_cache_fail_mdb(err, rc, "open", "recount commit");
        }
    } else {
        mdb_txn_abort(txn);
    }
    pthread_mutex_lock(&c->mu);
    c->blob_bytes = bytes;
    c->blob_count = count;
    pthread_mutex_unlock(&c->mu);
    return PG_CACHE_OK;
}

/* ---- gc ---------------------------------------------------------------- */

static int
is_recorded(struct pg_cache *c, const char *hex, int *yes,
    struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_val k, v;
    int rc;

    *yes = 0;
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "gc", "mdb_txn_begin");
    }
    k.mv_size = PG_CACHE_HEX_LEN;
    k.mv_data = (void *) hex;
    rc = mdb_get(txn, c->dbi[PG_CACHE_DB_BLOBS], &k, &v);
    mdb_txn_abort(txn);
    if (rc == 0) {
        *yes = 1;
    } else if (rc != MDB_NOTFOUND) {
        return pg_cache_fail_mdb(err, rc, "gc", "blobs");
    }
    return PG_CACHE_OK;
}

/* Deletes blob files that no record names, once older than the grace. */
static int
gc_orphans(struct pg_cache *c, struct pg_cache_gc_result *res,
    struct pg_cache_err *err)
{
    DIR *top, *sub;
    struct dirent *de, *fe;
    time_t now = time(NULL);
    int rc = PG_CACHE_OK;

    top = opendir(c->blobs);
    if (top == NULL) {
        return pg_cache_fail(err, PG_CACHE_EIO, "gc", "%.100s: %s", c->blobs,
            strerror(errno));
    }
    while (rc == PG_CACHE_OK) {
        int sfd;

        de = readdir(top);
        if (de == NULL) {
            break;
        }
        if (strlen(de->d_name) != 2 || de->d_name[0] == '.') {
            continue;
        }
        sfd = openat(dirfd(top), de->d_name, O_RDONLY | O_DIRECTORY
            | O_CLOEXEC);
        if (sfd < 0) {
            continue;
        }
        sub = fdopendir(sfd);
        if (sub == NULL) {
            close(sfd);
            continue;
        }
        while (rc == PG_CACHE_OK) {
            struct stat st;
            int yes;

            fe = readdir(sub);
            if (fe == NULL) {
                break;
            }
            if (!pg_cache_hex_ok(fe->d_name)
                || memcmp(fe->d_name, de->d_name, 2) != 0)
            {
                continue;
            }
            if (fstatat(sfd, fe->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
                || !S_ISREG(st.st_mode)
                || now - st.st_mtime < PG_CACHE_GC_GRACE_S)
            {
                continue;
            }
            rc = is_recorded(c, fe->d_name, &yes, err);
            if (rc == PG_CACHE_OK && !yes
                && unlinkat(sfd, fe->d_name, 0) == 0)
            {
                res->orphans_removed++;
            }
        }
        closedir(sub);
    }
    closedir(top);
    return rc;
}

struct missing {
    char hex[PG_CACHE_EVICT_BATCH][PG_CACHE_HEX_LEN + 1];
    size_t n;
};

/* Drops records whose file is gone (deleted by hand, lost in a crash). */
static int
gc_missing(struct pg_cache *c, struct pg_cache_gc_result *res,
    struct pg_cache_err *err)
{
    struct missing *m;
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    char path[PG_CACHE_MAX_DIR + 96];
    char after[PG_CACHE_HEX_LEN + 1] = "";
    size_t i;
    int rc = PG_CACHE_OK, mrc, done = 0;

    m = malloc(sizeof(*m));
    if (m == NULL) {
        return pg_cache_fail(err, PG_CACHE_ENOMEM, "gc", "out of memory");
    }
    while (!done && rc == PG_CACHE_OK) {
        m->n = 0;
        mrc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
        if (mrc != 0) {
            rc = pg_cache_fail_mdb(err, mrc, "gc", "mdb_txn_begin");
            break;
        }
        mrc = mdb_cursor_open(txn, c->dbi[PG_CACHE_DB_BLOBS], &cur);
        if (mrc != 0) {
            mdb_txn_abort(txn);
            rc = pg_cache_fail_mdb(err, mrc, "gc", "mdb_cursor_open");
            break;
        }
        if (after[0] != '\0') {
            k.mv_size = PG_CACHE_HEX_LEN;
            k.mv_data = after;
            mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        } else {
            mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        }
        done = 1;
        while (mrc == 0) {
            char hex[PG_CACHE_HEX_LEN + 1];

            if (k.mv_size == PG_CACHE_HEX_LEN) {
                memcpy(hex, k.mv_data, PG_CACHE_HEX_LEN);
                hex[PG_CACHE_HEX_LEN] = '\0';
                pg_cache_blob_path(c, hex, path, sizeof(path));
                if (access(path, F_OK) != 0 && errno == ENOENT) {
                    if (m->n == PG_CACHE_EVICT_BATCH) {
                        memcpy(after, hex, sizeof(after));
                        done = 0;
                        break;
                    }
                    memcpy(m->hex[m->n++], hex, sizeof(hex));
                }
            }
            mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        for (i = 0; i < m->n && rc == PG_CACHE_OK; i++) {
            int found;

            rc = unrecord_if_missing(c, m->hex[i], &found, err);
            if (rc == PG_CACHE_OK && found) {
                res->records_dropped++;
            }
        }
    }
    free(m);
    return rc;
}

int
pg_cache_gc(struct pg_cache *c, struct pg_cache_gc_result *out,
    struct pg_cache_err *err)
{
    struct pg_cache_gc_result res;
    int rc;

    memset(&res, 0, sizeof(res));
    if (c->read_only) {
        rc = pg_cache_fail(err, PG_CACHE_EINVAL, "gc",
            "cache opened read-only");
        goto done;
    }
    rc = gc_missing(c, &res, err);
    if (rc == PG_CACHE_OK) {
        rc = update(c, NULL, &res, err);
    }
    if (rc == PG_CACHE_OK) {
        rc = pg_cache_clean_tmp_stale(c, &res.tmp_removed, err);
        pthread_mutex_lock(&c->mu);
        res.tmp_removed += c->tmp_removed_at_open;
        c->tmp_removed_at_open = 0;
        pthread_mutex_unlock(&c->mu);
    }
    if (rc == PG_CACHE_OK) {
        rc = gc_orphans(c, &res, err);
    }
done:
    if (out != NULL) {
        *out = res;
    }
    return rc;
}
