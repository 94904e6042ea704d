/* cache/pg_cache.h — the cache module: LMDB state and the blob store.
 *
 * The cache keeps everything provgate remembers across restarts: upstream
 * index pages with their validators, file records, the request-path map,
 * provenance objects, verdicts, TOFU pins, and the distribution files
 * themselves (blobs, content-addressed by sha256).
 *
 * Two halves:
 *  - A small key/value API over LMDB named databases (enum pg_cache_db).
 *    Values are opaque bytes to this module; their encoding belongs to the
 *    caller (provgate uses compact JSON).  Reads return a malloc'd copy, so
 *    no LMDB transaction ever outlives the call (style: "no transaction
 *    spans a loop turn").
 *  - A blob store under <dir>/blobs/<2 hex>/<sha256>.  A blob is written to
 *    <dir>/tmp/ while its bytes arrive, hashed on the way, and becomes
 *    visible only after its sha256 equals the expected one, the file was
 *    fsynced and renamed.  A crash never leaves a half file that looks
 *    complete.  The store has a size cap with least-recently-used eviction.
 *
 * Several processes may open the same directory at once (the server and
 * `provgate pins …`): LMDB handles that.  One process opens a directory at
 * most once at a time (an LMDB rule: a second open in the same process
 * breaks its locks).
 *
 * Threads.  Every function may be called from any thread, concurrently with
 * any other, on the same struct pg_cache, except pg_cache_open/close (no
 * other call may run on c during them) and the calls on one
 * pg_blob_writer (one thread at a time per writer).  The environment is
 * opened with MDB_NOTLS, so read transactions are not tied to a thread.
 * Writers (put, del, put_many, blob commit/remove, flush, gc) are
 * serialized by LMDB's writer lock, also across processes.
 * Cost.  get, iter, pg_blob_open, pg_blob_exists, pg_cache_stats only read
 * (no fsync, no lock held across the call; pg_blob_open takes a mutex for a
 * few hundred ns).  put, del and put_many commit durably: one LMDB commit
 * (fdatasync of the data file, no MDB_NOSYNC) and they wait for a
 * concurrent writer.  Measured on the CI VM: get ~1 us, pg_blob_open ~9 us
 * (with close), put ~7 ms (the fsync), 1 MiB blob commit ~22 ms.  pg_blob_commit, pg_cache_flush, pg_blob_remove and
 * pg_cache_gc fsync files and commit: "Runs on: worker".
 *
 * Layout on disk: <dir>/state.lmdb/ (LMDB data.mdb + lock.mdb),
 * <dir>/blobs/<2 hex>/<sha256>, <dir>/tmp/ (blobs being written),
 * <dir>/cache.lock (flock: shared while open; the first opener alone may
 * empty tmp/).
 *
 * Owns: the LMDB environment, the blob directory.  Borrows: nothing.
 * Runs on: either; functions marked "Runs on: worker" may block on disk
 * flushes and must not be called from the event loop.
 * Spec: design §8.
 */
#ifndef PG_CACHE_H
#define PG_CACHE_H

#include <stddef.h>
#include <stdint.h>

enum pg_cache_code {
    PG_CACHE_OK = 0,
    PG_CACHE_NOTFOUND,      /* key or blob absent (not an error to log) */
    PG_CACHE_ENOMEM,
    PG_CACHE_EIO,           /* file system or LMDB failure */
    PG_CACHE_EFULL,         /* map full / over a limit */
    PG_CACHE_EHASH,         /* blob bytes do not have the expected sha256 */
    PG_CACHE_EINVAL,        /* bad argument (key too long, bad hex) */
    PG_CACHE_EDAMAGED       /* the state file or a blob on disk is damaged:
                               refuse it (state) or drop it (blob) */
};

/* First failure wins: a function fills this only if code is still OK. */
struct pg_cache_err {
    enum pg_cache_code code;
    const char *step;           /* static string: "open", "put", "blob" … */
    char reason[160];
};

const char *pg_cache_strerror(enum pg_cache_code code);

/* Limits (each tested at the limit and at limit + 1). */
#define PG_CACHE_MAX_KEY        511     /* key bytes (LMDB's maximum) */
#define PG_CACHE_MAX_VALUE      (128u * 1024 * 1024)   /* value bytes */
#define PG_CACHE_MAX_OPS        4096    /* entries of one put_many */
#define PG_CACHE_MAX_DIR        3800    /* cache directory path bytes */
/* Tuning (internal batch sizes and ages, not limits on input). */
#define PG_CACHE_ATIME_BATCH_MAX 4096   /* distinct blobs opened between two
                                           flushes; more are not recorded */
#define PG_CACHE_EVICT_BATCH    1024    /* blobs evicted per transaction */
#define PG_CACHE_DEFAULT_MAP_SIZE (4ull * 1024 * 1024 * 1024)
/* gc leaves temp files and unrecorded blob files younger than this alone:
 * another process (the server) may be writing or committing them. */
#define PG_CACHE_GC_GRACE_S     3600

/* Named databases (design §8).  Keys are 1 to PG_CACHE_MAX_KEY bytes. */
enum pg_cache_db {
    PG_CACHE_DB_INDEX = 0,      /* project → upstream page model + validators */
    PG_CACHE_DB_FILES,          /* sha256 hex → file record */
    PG_CACHE_DB_PATHS,          /* request path → file record + sha256 */
    PG_CACHE_DB_PROVENANCE,     /* sha256 hex ":" filename → provenance
                                   object (immutable) */
    PG_CACHE_DB_VERDICTS,       /* sha256 hex + generation → verdict */
    PG_CACHE_DB_PINS,           /* project → accepted publishers */
    PG_CACHE_DB_BLOBS,          /* sha256 hex → size + last access (module's) */
    PG_CACHE_DB_META,           /* misc: schema version, counters */
    PG_CACHE_DB_COUNT
};

struct pg_cache;

struct pg_cache_options {
    const char *dir;            /* cache directory, created if missing */
    uint64_t max_bytes;         /* blob store cap; 0 = unlimited */
    uint64_t map_size;          /* LMDB map size; 0 = default (4 GiB) */
    int read_only;              /* open for reading only (CLI tools) */
    /* Added: a read-write open with max_bytes != 0 (the server's
     * cache_max_bytes) records it in the cache.  CLI tools set
     * use_recorded_cap to adopt the last recorded cap instead (0 if none);
     * max_bytes is then ignored and nothing is recorded. */
    int use_recorded_cap;
};

/* Opens (creating if needed) <dir>/state.lmdb and <dir>/blobs, removes
 * leftovers in <dir>/tmp (all of them when no other process has the
 * directory open, else only those older than PG_CACHE_GC_GRACE_S), and
 * recomputes the blob totals.  A read-only open creates nothing and fails
 * (PG_CACHE_EIO) when there is no cache in dir.  *out is the caller's:
 * pg_cache_close().  Runs on: start-up. */
int pg_cache_open(const struct pg_cache_options *opt, struct pg_cache **out,
    struct pg_cache_err *err);
/* Writes batched access times (best effort, may fsync), then closes.
 * No other call may run on c meanwhile. */
void pg_cache_close(struct pg_cache *c);

/* Added (issue 10): checks the state of the cache in dir without
 * changing it: the data file's meta pages against its size (as every open
 * does), then every key and value of every database is read.  Returns
 * PG_CACHE_OK (and the number of entries read), PG_CACHE_EDAMAGED with
 * "FILE: damaged (...)" in err, or another code if it cannot be read.
 * A damaged file may still fault while it is read: the CLI runs this in a
 * child process.  Runs on: the CLI. */
int pg_cache_check(const char *dir, uint64_t *entries,
    struct pg_cache_err *err);

/* Added (issue 10): moves <dir>/state.lmdb aside to
 * <dir>/state.lmdb.damaged-<UTC time> (written to moved_to) so the next
 * open starts with an empty state; blob files stay (unrecorded: gc removes
 * them).  Refuses (PG_CACHE_EINVAL) while another process has the cache
 * open; PG_CACHE_NOTFOUND when there is no state.  Runs on: the CLI. */
int pg_cache_rebuild(const char *dir, char *moved_to, size_t mlen,
    struct pg_cache_err *err);

/* Added: the database's name ("index", "files", …), for tools. */
const char *pg_cache_db_name(enum pg_cache_db db);

/* ---- key/value ---------------------------------------------------------- */

/* Gets a copy of the value: *val is malloc'd (NUL-terminated for
 * convenience, the NUL not counted in *len); the caller frees it.
 * Returns PG_CACHE_NOTFOUND when absent (err is not filled). */
int pg_cache_get(struct pg_cache *c, enum pg_cache_db db, const void *key,
    size_t klen, void **val, size_t *len, struct pg_cache_err *err);

/* Stores a copy of val (len <= PG_CACHE_MAX_VALUE) under key, replacing.
 * PG_CACHE_DB_BLOBS is the module's: put, del and put_many refuse it
 * (PG_CACHE_EINVAL), as they do on a read-only cache.  A map full is
 * PG_CACHE_EFULL. */
int pg_cache_put(struct pg_cache *c, enum pg_cache_db db, const void *key,
    size_t klen, const void *val, size_t len, struct pg_cache_err *err);

/* PG_CACHE_NOTFOUND when absent (err is not filled). */
int pg_cache_del(struct pg_cache *c, enum pg_cache_db db, const void *key,
    size_t klen, struct pg_cache_err *err);

/* Several puts/deletes in one transaction: all happen or none.  An entry
 * with val == NULL is a delete (of an absent key: no error).  At most
 * PG_CACHE_MAX_OPS entries; n == 0 does nothing. */
struct pg_cache_op {
    enum pg_cache_db db;
    const void *key;
    size_t klen;
    const void *val;
    size_t len;
};
int pg_cache_put_many(struct pg_cache *c, const struct pg_cache_op *ops,
    size_t n, struct pg_cache_err *err);

/* Calls fn for every key of db (in key order) whose key starts with prefix
 * (prefix may be NULL).  The key and value are borrowed for the call only.
 * fn returns 0 to continue, non-zero to stop. */
typedef int (*pg_cache_iter_fn)(void *arg, const void *key, size_t klen,
    const void *val, size_t len);
int pg_cache_iter(struct pg_cache *c, enum pg_cache_db db, const void *prefix,
    size_t plen, pg_cache_iter_fn fn, void *arg, struct pg_cache_err *err);

/* Added: the number of entries in db (a read, no scan). */
int pg_cache_count(struct pg_cache *c, enum pg_cache_db db, uint64_t *n,
    struct pg_cache_err *err);

/* ---- blob store --------------------------------------------------------- */

/* A blob being written.  Runs on: loop (begin/write/abort are cheap). */
struct pg_blob_writer;

/* Creates a temp file in <dir>/tmp.  *w is the caller's until
 * pg_blob_commit or pg_blob_abort.  PG_CACHE_EINVAL on a read-only cache. */
int pg_blob_begin(struct pg_cache *c, struct pg_blob_writer **w,
    struct pg_cache_err *err);
/* Added (issue 10 item 7): a writer that only hashes (nothing on disk),
 * for a file the store cannot take (disk full): write and digest work,
 * commit checks the digest and returns PG_CACHE_EFULL on a match. */
int pg_blob_begin_hash_only(struct pg_cache *c, struct pg_blob_writer **w,
    struct pg_cache_err *err);
/* Appends bytes and feeds the running sha256.  PG_CACHE_EFULL when the blob
 * would exceed max_bytes (it could never be kept; err->step "blob") or the
 * disk is full (err->step "disk"): the temp file is dropped and the writer
 * goes on hashing only (every later write returns PG_CACHE_OK; commit
 * then checks the digest and returns PG_CACHE_EFULL, or PG_CACHE_EHASH).
 * After any other failure only pg_blob_abort may follow. */
int pg_blob_write(struct pg_blob_writer *w, const void *buf, size_t len,
    struct pg_cache_err *err);
/* The digest of everything written so far, as 64 lower-case hex + NUL.
 * Finishes the hash: only pg_blob_commit or pg_blob_abort may follow. */
void pg_blob_digest(struct pg_blob_writer *w, char hex[65]);
/* Checks the digest against sha256_hex; on a match fsyncs, renames to
 * blobs/<2 hex>/<sha256>, records size and access time, then evicts least
 * recently used blobs beyond max_bytes.  On a mismatch deletes the temp
 * file and returns PG_CACHE_EHASH.  A hash-only writer (see above) is
 * PG_CACHE_EFULL on a match; so is a disk that fills during the commit.
 * Frees w in every case.
 * Runs on: worker (fsync). */
int pg_blob_commit(struct pg_blob_writer *w, const char *sha256_hex,
    struct pg_cache_err *err);
/* Deletes the temp file and frees w. */
void pg_blob_abort(struct pg_blob_writer *w);
/* Bytes written so far. */
uint64_t pg_blob_written(const struct pg_blob_writer *w);
/* A new read-only descriptor of the temp file (the bytes written so far),
 * the caller's to close.  It stays valid whatever pg_blob_commit or
 * pg_blob_abort do to the name (rename, unlink), so a checked blob can be
 * served while it is committed.  -1 (errno set) on failure.
 * Runs on: loop. */
int pg_blob_reader(const struct pg_blob_writer *w);

/* Marks a blob used now, as pg_blob_open does, for a blob already open
 * (a hit served from a descriptor opened earlier).  Batched in memory. */
void pg_cache_touch(struct pg_cache *c, const char *sha256_hex);

/* Opens a committed blob read-only: *fd is the caller's.  Marks it used
 * now (cheap: access times are batched in memory and flushed by
 * pg_cache_flush, never an fsync per hit).  PG_CACHE_NOTFOUND if absent. */
int pg_blob_open(struct pg_cache *c, const char *sha256_hex, int *fd,
    uint64_t *size, struct pg_cache_err *err);

/* Added (issue 2 benchmark): the id of the last committed LMDB write
 * transaction, in this process or another.  It changes whenever any
 * database's content changed, so a value cached from LMDB together with
 * the generation read BEFORE it is still what LMDB holds while the
 * generation is unchanged.  0 if it cannot be read (never equal to a
 * remembered value: treat as changed).  Cheap (reads the meta pages, no
 * transaction).  Runs on: any thread. */
uint64_t pg_cache_generation(struct pg_cache *c);

/* Whether a blob is present (no access-time update). */
int pg_blob_exists(struct pg_cache *c, const char *sha256_hex);

/* ---- re-hashing blobs on disk (verify.c; issue 10 item 3) ------------- */

#define PG_CACHE_VERIFIED_MAX   65536   /* blobs remembered as verified */

/* Whether this process hashed the blob's file since it opened the cache
 * (pg_blob_verify, a scrub, or its own pg_blob_commit).  A blob that is
 * not verified must be verified before it is served.  Cheap (a mutex, no
 * I/O).  Runs on: any thread. */
int pg_blob_verified(struct pg_cache *c, const char *sha256_hex);

/* Re-hashes the blob's file.  Match: it is marked verified, PG_CACHE_OK.
 * Mismatch: the blob is removed (record, then file; not on a read-only
 * cache) and PG_CACHE_EDAMAGED is returned with the reason.
 * PG_CACHE_NOTFOUND (err not filled) when there is no such blob.  *bytes
 * (may be NULL): bytes read.  Runs on: worker (reads the whole file). */
int pg_blob_verify(struct pg_cache *c, const char *sha256_hex,
    uint64_t *bytes, struct pg_cache_err *err);

/* A walk over every recorded blob, in key order, a budget of bytes per
 * step; at the end of the store it starts over (pass_done).  Each blob is
 * hashed as pg_blob_verify does (a damaged one is removed).  One scrub
 * per caller; one thread at a time on it. */
struct pg_blob_scrub;
struct pg_blob_scrub_result {
    uint64_t bytes;             /* read this step */
    uint64_t checked;           /* blobs finished this step */
    uint64_t damaged;           /* of them, damaged (and removed): 0, 1 */
    char damaged_hex[65];       /* the damaged one */
    char reason[160];           /* and why */
    int pass_done;              /* the walk reached the end of the store */
};
int pg_blob_scrub_new(struct pg_blob_scrub **out);
void pg_blob_scrub_free(struct pg_blob_scrub *s);
/* Hashes up to budget bytes (more than 0), continuing where the last step
 * stopped; returns early after a damaged blob (so each one is reported).
 * Runs on: worker. */
int pg_blob_scrub_step(struct pg_cache *c, struct pg_blob_scrub *s,
    uint64_t budget, struct pg_blob_scrub_result *res,
    struct pg_cache_err *err);

/* Removes one blob (e.g. operator `cache gc`): its record, then its file.
 * PG_CACHE_NOTFOUND (err not filled) when neither existed.
 * Runs on: worker. */
int pg_blob_remove(struct pg_cache *c, const char *sha256_hex,
    struct pg_cache_err *err);

/* Writes batched access times and evicts down to max_bytes.
 * Runs on: worker. */
int pg_cache_flush(struct pg_cache *c, struct pg_cache_err *err);

struct pg_cache_stats {
    uint64_t blob_bytes;        /* sum of committed blob sizes */
    uint64_t blob_count;
    uint64_t max_bytes;
    uint64_t evictions;         /* since open */
};
/* Totals as committed in LMDB (so a second process's changes show), read
 * with one read transaction; the last known totals if that fails. */
void pg_cache_stats(struct pg_cache *c, struct pg_cache_stats *out);

/* Added: changes the cap of this handle (not recorded). */
void pg_cache_set_max_bytes(struct pg_cache *c, uint64_t max_bytes);

/* Added: what `provgate cache gc` does.  Writes batched access times,
 * evicts down to max_bytes, deletes temp files and unrecorded blob files
 * older than PG_CACHE_GC_GRACE_S, and drops blob records whose file is
 * gone.  Runs on: worker (or the CLI). */
struct pg_cache_gc_result {
    uint64_t evicted;           /* blobs evicted to honour the cap */
    uint64_t evicted_bytes;
    uint64_t tmp_removed;       /* stale temp files deleted (including
                                   those this handle's open deleted) */
    uint64_t orphans_removed;   /* blob files without a record deleted */
    uint64_t records_dropped;   /* records whose file was missing */
};
int pg_cache_gc(struct pg_cache *c, struct pg_cache_gc_result *out,
    struct pg_cache_err *err);

#endif
