/* cache/cache_int.h — the cache module's private state and helpers.
 *
 * One struct pg_cache per opened directory: the LMDB environment with one
 * handle per named database (plus two private ones: the blob LRU index and
 * the module's own counters), the directory paths, and the in-memory batch
 * of blob access times that pg_blob_open fills and pg_cache_flush (or the
 * next blob commit) writes.
 *
 * Owns: everything in struct pg_cache.  Runs on: either (see pg_cache.h).
 * Spec: design §8.
 */
#ifndef PG_CACHE_INT_H
#define PG_CACHE_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>

#include <lmdb.h>

#include "pg_cache.h"

/* Private databases beside the public ones. */
#define PG_CACHE_DBI_LRU    (PG_CACHE_DB_COUNT)       /* atime+hex → size */
#define PG_CACHE_DBI_OWN    (PG_CACHE_DB_COUNT + 1)   /* counters */
#define PG_CACHE_DBI_TOTAL  (PG_CACHE_DB_COUNT + 2)

#define PG_CACHE_HEX_LEN    64
#define PG_CACHE_REC_LEN    16      /* blobs value: size BE64, atime BE64 */
#define PG_CACHE_LRU_KLEN   (8 + PG_CACHE_HEX_LEN)

/* Access-time batch: open addressing over hex keys. */
#define PG_CACHE_ATIME_SLOTS (2 * PG_CACHE_ATIME_BATCH_MAX)

struct pg_cache_atime {
    char hex[PG_CACHE_HEX_LEN];
    uint64_t at;                /* ns since the epoch; 0 = free slot */
};

struct pg_cache {
    MDB_env *env;
    MDB_dbi dbi[PG_CACHE_DBI_TOTAL];
    unsigned char has_dbi[PG_CACHE_DBI_TOTAL];  /* read-only: may be absent */
    int read_only;
    int lock_fd;                /* <dir>/cache.lock, shared while open */
    uint64_t max_bytes;
    uint64_t tmp_removed_at_open;   /* reported by the first gc */

    char dir[PG_CACHE_MAX_DIR + 1];
    char blobs[PG_CACHE_MAX_DIR + 16];
    char tmp[PG_CACHE_MAX_DIR + 16];

    /* mu guards everything below it. */
    pthread_mutex_t mu;
    uint64_t blob_bytes;        /* last known totals (fallback for stats) */
    uint64_t blob_count;
    uint64_t evictions;
    uint64_t atime_dropped;     /* batch full: updates lost */
    uint64_t last_stamp;
    struct pg_cache_atime *atimes;      /* PG_CACHE_ATIME_SLOTS slots */
    size_t n_atimes;

    /* Blobs this process hashed (verify.c): 32-byte digests, open
     * addressing; allocated on first use.  Guarded by mu. */
    unsigned char *vset;
    unsigned char *vset_used;
    size_t vset_n;

    /* flush_mu serializes the writers of blob records in this process
     * (commit, flush, remove, gc), so only one owns the spare batch. */
    pthread_mutex_t flush_mu;
    struct pg_cache_atime *spare;       /* PG_CACHE_ATIME_BATCH_MAX */
};

/* First failure wins; err may be NULL.  Returns code. */
int pg_cache_fail(struct pg_cache_err *err, enum pg_cache_code code,
    const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Maps an LMDB return code to ours and fills err. */
int pg_cache_fail_mdb(struct pg_cache_err *err, int rc, const char *step,
    const char *what);

int pg_cache_hex_ok(const char *hex);
uint64_t pg_cache_now_ns(void);
void pg_cache_be64(unsigned char *p, uint64_t v);
uint64_t pg_cache_get_be64(const unsigned char *p);

/* Blob records (evict.c).  All run a write transaction.  _locked: the
 * caller holds flush_mu (blob commit holds it from rename to record). */
int pg_cache_blob_record_locked(struct pg_cache *c, const char *hex,
    uint64_t size, struct pg_cache_err *err);
int pg_cache_blob_unrecord(struct pg_cache *c, const char *hex, int *found,
    struct pg_cache_err *err);
/* Recomputes blob totals from the blobs database; rebuilds the LRU index if
 * it disagrees.  Write transaction unless the cache is read-only. */
int pg_cache_blob_recount(struct pg_cache *c, struct pg_cache_err *err);
/* Reads the persisted totals (read transaction). */
int pg_cache_blob_totals(struct pg_cache *c, uint64_t *bytes,
    uint64_t *count, struct pg_cache_err *err);

/* Deletes temp files not modified for PG_CACHE_GC_GRACE_S (store.c). */
int pg_cache_clean_tmp_stale(struct pg_cache *c, uint64_t *removed,
    struct pg_cache_err *err);


/* Checks <env_dir>/data.mdb with pread before LMDB maps it (datafile.c):
 * PG_CACHE_OK (also when it is missing or empty: a new environment),
 * PG_CACHE_EDAMAGED with "FILE: damaged (...)", or PG_CACHE_EIO. */
int pg_cache_check_file(const char *env_dir, struct pg_cache_err *err);

/* Marks (on) or forgets a blob as hashed by this process (verify.c). */
void pg_cache_verified_mark(struct pg_cache *c, const char *hex, int on);

void pg_cache_blob_path(const struct pg_cache *c, const char *hex,
    char *out, size_t outlen);

#endif
