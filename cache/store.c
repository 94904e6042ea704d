/* cache/store.c — the LMDB environment and the key/value API.
 *
 * One environment at <dir>/state.lmdb/ with a named database per enum
 * pg_cache_db and two private ones ("_blob_lru", "_cache").  Every call runs
 * in its own transaction and ends it before returning: reads copy the value
 * out (malloc) so nothing borrowed from the map outlives the call.  The
 * environment is opened with MDB_NOTLS (read transactions are not bound to
 * a thread) and without MDB_NOSYNC (a committed write is durable).
 *
 * Damage (issue 10 item 3).  Before LMDB maps data.mdb,
 * pg_cache_check_file (datafile.c) reads its structure with pread and
 * refuses a damaged file with PG_CACHE_EDAMAGED ("FILE: damaged (...)").
 * LMDB's own corruption codes
 * (MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, ...) map to the same
 * code wherever they surface.  pg_cache_check walks every database
 * (cursors over every key and every value byte); pg_cache_rebuild moves
 * a state directory aside so the next open starts empty.
 *
 * Opening also claims <dir>/cache.lock: every read-write opener holds a
 * shared flock for its lifetime; the one that can first take it exclusively
 * knows no other process is writing temp files and empties <dir>/tmp.
 *
 * Owns: the environment, the lock fd, the batches.  Borrows: nothing.
 * Runs on: either (see pg_cache.h for costs).  Spec: design §8.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache_int.h"

static const char *const pg_cache_db_names[PG_CACHE_DBI_TOTAL] = {
    [PG_CACHE_DB_INDEX] = "index",
    [PG_CACHE_DB_FILES] = "files",
    [PG_CACHE_DB_PATHS] = "paths",
    [PG_CACHE_DB_PROVENANCE] = "provenance",
    [PG_CACHE_DB_VERDICTS] = "verdicts",
    [PG_CACHE_DB_PINS] = "pins",
    [PG_CACHE_DB_BLOBS] = "blobs",
    [PG_CACHE_DB_META] = "meta",
    [PG_CACHE_DBI_LRU] = "_blob_lru",
    [PG_CACHE_DBI_OWN] = "_cache",
};

static int mkdir_p(char *path, struct pg_cache_err *err);
static int open_env(struct pg_cache *c, uint64_t map_size,
    struct pg_cache_err *err);
static int open_dbis(struct pg_cache *c, struct pg_cache_err *err);
static int claim_lock(struct pg_cache *c, int *alone,
    struct pg_cache_err *err);
static int clean_tmp(struct pg_cache *c, int alone, uint64_t *removed,
    struct pg_cache_err *err);
static int setup_cap(struct pg_cache *c, const struct pg_cache_options *opt,
    struct pg_cache_err *err);
static int check_kv(struct pg_cache *c, enum pg_cache_db db, size_t klen,
    int write, const char *step, struct pg_cache_err *err);

/* ---- helpers shared by the module ------------------------------------- */

int
pg_cache_fail(struct pg_cache_err *err, enum pg_cache_code code,
    const char *step, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->code != PG_CACHE_OK) {
        return code;
    }
    err->code = code;
    err->step = step;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    return code;
}

int
pg_cache_fail_mdb(struct pg_cache_err *err, int rc, const char *step,
    const char *what)
{
    enum pg_cache_code code;

    switch (rc) {
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
    case MDB_READERS_FULL:
    case ENOSPC:
        code = PG_CACHE_EFULL;
        break;
    case ENOMEM:
        code = PG_CACHE_ENOMEM;
        break;
    case MDB_BAD_VALSIZE:
        code = PG_CACHE_EINVAL;
        break;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
    case MDB_VERSION_MISMATCH:
    case MDB_INCOMPATIBLE:
    case MDB_BAD_DBI:
        code = PG_CACHE_EDAMAGED;
        break;
    default:
        code = PG_CACHE_EIO;
        break;
    }
    return pg_cache_fail(err, code, step, "%s: %s", what, mdb_strerror(rc));
}

int
pg_cache_hex_ok(const char *hex)
{
    size_t i;

    if (hex == NULL) {
        return 0;
    }
    for (i = 0; i < PG_CACHE_HEX_LEN; i++) {
        char ch = hex[i];

        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) {
            return 0;
        }
    }
    return hex[PG_CACHE_HEX_LEN] == '\0';
}

uint64_t
pg_cache_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void
pg_cache_be64(unsigned char *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (unsigned char) (v & 0xff);
        v >>= 8;
    }
}

uint64_t
pg_cache_get_be64(const unsigned char *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

const char *
pg_cache_db_name(enum pg_cache_db db)
{
    if ((int) db < 0 || db >= PG_CACHE_DB_COUNT) {
        return "?";
    }
    return pg_cache_db_names[db];
}

/* ---- open / close ------------------------------------------------------ */

/* An EDAMAGED reason from LMDB ("index: MDB_CORRUPTED: ...") becomes
 * "DIR/state.lmdb/data.mdb: damaged (index: ...)", the form every edge
 * prints. */
static void
name_damage(struct pg_cache_err *err, const char *dir)
{
    char was[sizeof(err->reason)];
    int n;

    if (err == NULL || err->code != PG_CACHE_EDAMAGED
        || strstr(err->reason, "damaged (") != NULL)
    {
        return;
    }
    memcpy(was, err->reason, sizeof(was));
    n = snprintf(err->reason, sizeof(err->reason),
        "%.80s/state.lmdb/data.mdb: damaged (", dir);
    if (n > 0 && (size_t) n < sizeof(err->reason) - 2) {
        size_t room = sizeof(err->reason) - (size_t) n - 2;
        size_t wl = strnlen(was, room);

        memcpy(err->reason + n, was, wl);
        memcpy(err->reason + n + wl, ")", 2);
    }
}

int
pg_cache_open(const struct pg_cache_options *opt, struct pg_cache **out,
    struct pg_cache_err *err)
{
    struct pg_cache *c;
    size_t dlen;
    int alone = 0, rc, n;
    uint64_t removed;
    char env_dir[PG_CACHE_MAX_DIR + 16];

    *out = NULL;
    if (opt == NULL || opt->dir == NULL || opt->dir[0] == '\0') {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "open",
            "no cache directory given");
    }
    dlen = strlen(opt->dir);
    if (dlen > PG_CACHE_MAX_DIR) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "open",
            "cache directory path longer than %d bytes", PG_CACHE_MAX_DIR);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return pg_cache_fail(err, PG_CACHE_ENOMEM, "open", "out of memory");
    }
    c->lock_fd = -1;
    c->read_only = opt->read_only != 0;
    memcpy(c->dir, opt->dir, dlen + 1);
    while (dlen > 1 && c->dir[dlen - 1] == '/') {
        c->dir[--dlen] = '\0';
    }
    snprintf(c->blobs, sizeof(c->blobs), "%s/blobs", c->dir);
    snprintf(c->tmp, sizeof(c->tmp), "%s/tmp", c->dir);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->flush_mu, NULL);
    c->atimes = calloc(PG_CACHE_ATIME_SLOTS, sizeof(*c->atimes));
    c->spare = calloc(PG_CACHE_ATIME_BATCH_MAX, sizeof(*c->spare));
    if (c->atimes == NULL || c->spare == NULL) {
        rc = pg_cache_fail(err, PG_CACHE_ENOMEM, "open", "out of memory");
        goto fail;
    }

    n = snprintf(env_dir, sizeof(env_dir), "%s/state.lmdb", c->dir);
    if (n < 0 || (size_t) n >= sizeof(env_dir)) {
        rc = pg_cache_fail(err, PG_CACHE_EINVAL, "open", "path too long");
        goto fail;
    }
    if (c->read_only) {
        struct stat st;

        if (stat(env_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = pg_cache_fail(err, PG_CACHE_EIO, "open",
                "no cache in %.100s (missing state.lmdb)", c->dir);
            goto fail;
        }
    } else {
        rc = mkdir_p(env_dir, err);
        if (rc == PG_CACHE_OK) {
            rc = mkdir_p(c->blobs, err);
        }
        if (rc == PG_CACHE_OK) {
            rc = mkdir_p(c->tmp, err);
        }
        if (rc != PG_CACHE_OK) {
            goto fail;
        }
        rc = claim_lock(c, &alone, err);
        if (rc != PG_CACHE_OK) {
            goto fail;
        }
    }
    rc = pg_cache_check_file(env_dir, err);
    if (rc != PG_CACHE_OK) {
        goto fail;
    }
    rc = open_env(c, opt->map_size, err);
    if (rc != PG_CACHE_OK) {
        goto fail;
    }
    rc = open_dbis(c, err);
    if (rc != PG_CACHE_OK) {
        goto fail;
    }
    if (!c->read_only) {
        rc = clean_tmp(c, alone, &removed, err);
        if (rc != PG_CACHE_OK) {
            goto fail;
        }
        c->tmp_removed_at_open = removed;
    }
    rc = setup_cap(c, opt, err);
    if (rc != PG_CACHE_OK) {
        goto fail;
    }
    rc = pg_cache_blob_recount(c, err);
    if (rc != PG_CACHE_OK) {
        goto fail;
    }
    *out = c;
    return PG_CACHE_OK;

fail:
    name_damage(err, c->dir);
    pg_cache_close(c);
    return rc;
}

/* Reads every byte of v (so a value on a damaged overflow page faults
 * here, in the checker, not in a server). */
static unsigned
touch_bytes(const MDB_val *v)
{
    const unsigned char *p = v->mv_data;
    unsigned x = 0;
    size_t i;

    for (i = 0; i < v->mv_size; i++) {
        x += p[i];
    }
    return x;
}

/* Walks one database: every key and value. */
static int
walk_db(MDB_txn *txn, MDB_dbi dbi, const char *name, uint64_t limit,
    uint64_t *entries, struct pg_cache_err *err)
{
    MDB_cursor *cur;
    MDB_val k, v;
    volatile unsigned sink = 0;
    int rc;

    rc = mdb_cursor_open(txn, dbi, &cur);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "check", name);
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (v.mv_size > limit || k.mv_size > PG_CACHE_MAX_KEY) {
            mdb_cursor_close(cur);
            return pg_cache_fail(err, PG_CACHE_EDAMAGED, "check",
                "%s: an entry of %zu bytes in a %llu-byte file", name,
                v.mv_size, (unsigned long long) limit);
        }
        sink += touch_bytes(&k) + touch_bytes(&v);
        (*entries)++;
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    (void) sink;
    if (rc != MDB_NOTFOUND) {
        return pg_cache_fail_mdb(err, rc, "check", name);
    }
    return PG_CACHE_OK;
}

int
pg_cache_check(const char *dir, uint64_t *entries, struct pg_cache_err *err)
{
    struct pg_cache_options opt = { 0 };
    struct pg_cache *c = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi main_dbi;
    MDB_envinfo info;
    MDB_stat st;
    uint64_t limit;
    int i, rc;

    *entries = 0;
    opt.dir = dir;
    opt.read_only = 1;
    opt.use_recorded_cap = 1;
    rc = pg_cache_open(&opt, &c, err);
    if (rc != PG_CACHE_OK) {
        return rc;
    }
    if (mdb_env_info(c->env, &info) != 0 || mdb_env_stat(c->env, &st) != 0)
    {
        pg_cache_close(c);
        return pg_cache_fail(err, PG_CACHE_EIO, "check", "mdb_env_info");
    }
    limit = ((uint64_t) info.me_last_pgno + 1) * st.ms_psize;
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        rc = pg_cache_fail_mdb(err, rc, "check", "mdb_txn_begin");
        goto done;
    }
    rc = mdb_dbi_open(txn, NULL, 0, &main_dbi);
    if (rc != 0) {
        rc = pg_cache_fail_mdb(err, rc, "check", "main");
        goto done;
    }
    rc = walk_db(txn, main_dbi, "main", limit, entries, err);
    for (i = 0; rc == PG_CACHE_OK && i < PG_CACHE_DBI_TOTAL; i++) {
        if (c->has_dbi[i]) {
            rc = walk_db(txn, c->dbi[i], pg_cache_db_names[i], limit,
                entries, err);
        }
    }
done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    name_damage(err, c->dir);
    pg_cache_close(c);
    return rc;
}

int
pg_cache_rebuild(const char *dir, char *moved_to, size_t mlen,
    struct pg_cache_err *err)
{
    char lock[PG_CACHE_MAX_DIR + 32], state[PG_CACHE_MAX_DIR + 32];
    char stamp[32];
    struct stat st;
    struct tm tm;
    time_t now = time(NULL);
    int fd, n;

    moved_to[0] = '\0';
    if (dir == NULL || strlen(dir) > PG_CACHE_MAX_DIR) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "rebuild",
            "no usable cache directory");
    }
    snprintf(state, sizeof(state), "%s/state.lmdb", dir);
    if (stat(state, &st) != 0) {
        return pg_cache_fail(err, PG_CACHE_NOTFOUND, "rebuild",
            "no cache in %.100s (missing state.lmdb)", dir);
    }
    snprintf(lock, sizeof(lock), "%s/cache.lock", dir);
    fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return pg_cache_fail(err, PG_CACHE_EIO, "rebuild", "%.100s: %s",
            lock, strerror(errno));
    }
    /* A server or CLI with the cache open holds the lock shared. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        return pg_cache_fail(err, PG_CACHE_EINVAL, "rebuild",
            "%.100s is in use by another process (stop the server first)",
            dir);
    }
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
    n = snprintf(moved_to, mlen, "%s/state.lmdb.damaged-%s", dir, stamp);
    if (n < 0 || (size_t) n >= mlen || rename(state, moved_to) != 0) {
        int e = n < 0 || (size_t) n >= mlen ? ENAMETOOLONG : errno;

        close(fd);
        moved_to[0] = '\0';
        return pg_cache_fail(err, PG_CACHE_EIO, "rebuild",
            "cannot move %.100s aside: %s", state, strerror(e));
    }
    close(fd);
    return PG_CACHE_OK;
}

void
pg_cache_close(struct pg_cache *c)
{
    if (c == NULL) {
        return;
    }
    if (c->env != NULL && !c->read_only && c->n_atimes > 0) {
        struct pg_cache_err err = { 0 };

        pg_cache_flush(c, &err);    /* best effort: access times are hints */
    }
    if (c->env != NULL) {
        mdb_env_close(c->env);
    }
    if (c->lock_fd >= 0) {
        close(c->lock_fd);
    }
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->flush_mu);
    free(c->atimes);
    free(c->spare);
    free(c->vset);
    free(c->vset_used);
    free(c);
}

static int
mkdir_p(char *path, struct pg_cache_err *err)
{
    char *p;

    for (p = path + 1; *p != '\0'; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            int e = errno;

            *p = '/';
            return pg_cache_fail(err, PG_CACHE_EIO, "open",
                "mkdir %.100s: %s", path, strerror(e));
        }
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return pg_cache_fail(err, PG_CACHE_EIO, "open", "mkdir %.100s: %s",
            path, strerror(errno));
    }
    return PG_CACHE_OK;
}

static int
open_env(struct pg_cache *c, uint64_t map_size, struct pg_cache_err *err)
{
    char env_dir[PG_CACHE_MAX_DIR + 16];
    unsigned int flags = MDB_NOTLS;
    int rc, dead;

    snprintf(env_dir, sizeof(env_dir), "%s/state.lmdb", c->dir);
    rc = mdb_env_create(&c->env);
    if (rc != 0) {
        c->env = NULL;
        return pg_cache_fail_mdb(err, rc, "open", "mdb_env_create");
    }
    if (map_size == 0) {
        map_size = PG_CACHE_DEFAULT_MAP_SIZE;
    }
    rc = mdb_env_set_mapsize(c->env, (size_t) map_size);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(c->env, PG_CACHE_DBI_TOTAL);
    }
    if (rc == 0) {
        rc = mdb_env_set_maxreaders(c->env, 256);
    }
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "open", "mdb_env_set");
    }
    if (c->read_only) {
        flags |= MDB_RDONLY;
    }
    rc = mdb_env_open(c->env, env_dir, flags, 0644);
    if (rc != 0) {
        struct pg_cache_err e = { 0 };

        pg_cache_fail_mdb(&e, rc, "open", "");
        if (e.code == PG_CACHE_EDAMAGED) {
            return pg_cache_fail(err, PG_CACHE_EDAMAGED, "open",
                "%.200s/data.mdb: damaged (%s)", env_dir, mdb_strerror(rc));
        }
        return pg_cache_fail(err, PG_CACHE_EIO, "open", "lmdb %.100s: %s",
            env_dir, mdb_strerror(rc));
    }
    /* Reader slots left by crashed processes would pin old pages. */
    mdb_reader_check(c->env, &dead);
    return PG_CACHE_OK;
}

static int
open_dbis(struct pg_cache *c, struct pg_cache_err *err)
{
    MDB_txn *txn;
    int i, rc;

    rc = mdb_txn_begin(c->env, NULL, c->read_only ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "open", "mdb_txn_begin");
    }
    for (i = 0; i < PG_CACHE_DBI_TOTAL; i++) {
        rc = mdb_dbi_open(txn, pg_cache_db_names[i],
            c->read_only ? 0 : MDB_CREATE, &c->dbi[i]);
        if (rc == MDB_NOTFOUND && c->read_only) {
            continue;       /* written by no one yet: reads find nothing */
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            return pg_cache_fail_mdb(err, rc, "open",
                pg_cache_db_names[i]);
        }
        c->has_dbi[i] = 1;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "open", "mdb_txn_commit");
    }
    return PG_CACHE_OK;
}

static int
claim_lock(struct pg_cache *c, int *alone, struct pg_cache_err *err)
{
    char path[PG_CACHE_MAX_DIR + 16];

    *alone = 0;
    snprintf(path, sizeof(path), "%s/cache.lock", c->dir);
    c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->lock_fd < 0) {
        return pg_cache_fail(err, PG_CACHE_EIO, "open", "%.100s: %s", path,
            strerror(errno));
    }
    if (flock(c->lock_fd, LOCK_EX | LOCK_NB) == 0) {
        *alone = 1;
        /* Keep it exclusive until tmp/ is clean; clean_tmp downgrades. */
        return PG_CACHE_OK;
    }
    if (errno != EWOULDBLOCK) {
        return pg_cache_fail(err, PG_CACHE_EIO, "open", "flock: %s",
            strerror(errno));
    }
    while (flock(c->lock_fd, LOCK_SH) != 0) {
        if (errno != EINTR) {
            return pg_cache_fail(err, PG_CACHE_EIO, "open", "flock: %s",
                strerror(errno));
        }
    }
    return PG_CACHE_OK;
}

/* Deletes regular files in tmp/: all of them when alone, else only those
 * not modified for PG_CACHE_GC_GRACE_S (another process may be writing). */
static int
clean_tmp(struct pg_cache *c, int alone, uint64_t *removed,
    struct pg_cache_err *err)
{
    DIR *d;
    struct dirent *de;
    int dfd, rc = PG_CACHE_OK;
    time_t now = time(NULL);

    *removed = 0;
    d = opendir(c->tmp);
    if (d == NULL) {
        rc = pg_cache_fail(err, PG_CACHE_EIO, "open", "%.100s: %s", c->tmp,
            strerror(errno));
        goto done;
    }
    dfd = dirfd(d);
    for (;;) {
        struct stat st;

        errno = 0;
        de = readdir(d);
        if (de == NULL) {
            break;
        }
        if (de->d_name[0] == '.') {
            continue;
        }
        if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISREG(st.st_mode))
        {
            continue;
        }
        if (!alone && now - st.st_mtime < PG_CACHE_GC_GRACE_S) {
            continue;
        }
        if (unlinkat(dfd, de->d_name, 0) == 0) {
            (*removed)++;
        }
    }
    closedir(d);
done:
    if (alone && c->lock_fd >= 0) {
        flock(c->lock_fd, LOCK_SH);
    }
    return rc;
}

int
pg_cache_clean_tmp_stale(struct pg_cache *c, uint64_t *removed,
    struct pg_cache_err *err)
{
    return clean_tmp(c, 0, removed, err);
}

static int
setup_cap(struct pg_cache *c, const struct pg_cache_options *opt,
    struct pg_cache_err *err)
{
    static const char key[] = "max_bytes";
    MDB_txn *txn;
    MDB_val k = { sizeof(key) - 1, (void *) key }, v;
    unsigned char buf[8];
    int rc;

    if (!opt->use_recorded_cap) {
        c->max_bytes = opt->max_bytes;
        if (c->read_only || c->max_bytes == 0) {
            return PG_CACHE_OK;
        }
        rc = mdb_txn_begin(c->env, NULL, 0, &txn);
        if (rc != 0) {
            return pg_cache_fail_mdb(err, rc, "open", "mdb_txn_begin");
        }
        pg_cache_be64(buf, c->max_bytes);
        v.mv_size = 8;
        v.mv_data = buf;
        rc = mdb_put(txn, c->dbi[PG_CACHE_DBI_OWN], &k, &v, 0);
        if (rc != 0) {
            mdb_txn_abort(txn);
            return pg_cache_fail_mdb(err, rc, "open", "record cap");
        }
        rc = mdb_txn_commit(txn);
        if (rc != 0) {
            return pg_cache_fail_mdb(err, rc, "open", "record cap");
        }
        return PG_CACHE_OK;
    }
    c->max_bytes = 0;
    if (!c->has_dbi[PG_CACHE_DBI_OWN]) {
        return PG_CACHE_OK;
    }
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "open", "mdb_txn_begin");
    }
    rc = mdb_get(txn, c->dbi[PG_CACHE_DBI_OWN], &k, &v);
    if (rc == 0 && v.mv_size == 8) {
        c->max_bytes = pg_cache_get_be64(v.mv_data);
    }
    mdb_txn_abort(txn);
    return PG_CACHE_OK;
}

void
pg_cache_set_max_bytes(struct pg_cache *c, uint64_t max_bytes)
{
    pthread_mutex_lock(&c->mu);
    c->max_bytes = max_bytes;
    pthread_mutex_unlock(&c->mu);
}

/* ---- key/value --------------------------------------------------------- */

static int
check_kv(struct pg_cache *c, enum pg_cache_db db, size_t klen, int write,
    const char *step, struct pg_cache_err *err)
{
    if (c == NULL || (int) db < 0 || db >= PG_CACHE_DB_COUNT) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, step, "no such database");
    }
    if (klen == 0 || klen > PG_CACHE_MAX_KEY) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, step,
            "key of %zu bytes (1 to %d allowed)", klen, PG_CACHE_MAX_KEY);
    }
    if (write && c->read_only) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, step,
            "cache opened read-only");
    }
    if (write && db == PG_CACHE_DB_BLOBS) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, step,
            "the blobs database is written by the blob store only");
    }
    return PG_CACHE_OK;
}

int
pg_cache_get(struct pg_cache *c, enum pg_cache_db db, const void *key,
    size_t klen, void **val, size_t *len, struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_val k, v;
    int rc;
    char *copy;

    *val = NULL;
    *len = 0;
    rc = check_kv(c, db, klen, 0, "get", err);
    if (rc != PG_CACHE_OK) {
        return rc;
    }
    if (!c->has_dbi[db]) {
        return PG_CACHE_NOTFOUND;
    }
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "get", "mdb_txn_begin");
    }
    k.mv_size = klen;
    k.mv_data = (void *) key;
    rc = mdb_get(txn, c->dbi[db], &k, &v);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return PG_CACHE_NOTFOUND;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return pg_cache_fail_mdb(err, rc, "get", pg_cache_db_names[db]);
    }
    copy = malloc(v.mv_size + 1);
    if (copy == NULL) {
        mdb_txn_abort(txn);
        return pg_cache_fail(err, PG_CACHE_ENOMEM, "get",
            "value of %zu bytes", v.mv_size);
    }
    memcpy(copy, v.mv_data, v.mv_size);
    copy[v.mv_size] = '\0';
    *len = v.mv_size;
    mdb_txn_abort(txn);
    *val = copy;
    return PG_CACHE_OK;
}

int
pg_cache_put(struct pg_cache *c, enum pg_cache_db db, const void *key,
    size_t klen, const void *val, size_t len, struct pg_cache_err *err)
{
    struct pg_cache_op op;

    if (val == NULL) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "put", "no value");
    }
    op.db = db;
    op.key = key;
    op.klen = klen;
    op.val = val;
    op.len = len;
    return pg_cache_put_many(c, &op, 1, err);
}

int
pg_cache_del(struct pg_cache *c, enum pg_cache_db db, const void *key,
    size_t klen, struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_val k;
    int rc;

    rc = check_kv(c, db, klen, 1, "del", err);
    if (rc != PG_CACHE_OK) {
        return rc;
    }
    rc = mdb_txn_begin(c->env, NULL, 0, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "del", "mdb_txn_begin");
    }
    k.mv_size = klen;
    k.mv_data = (void *) key;
    rc = mdb_del(txn, c->dbi[db], &k, NULL);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return PG_CACHE_NOTFOUND;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return pg_cache_fail_mdb(err, rc, "del", pg_cache_db_names[db]);
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "del", "mdb_txn_commit");
    }
    return PG_CACHE_OK;
}

int
pg_cache_put_many(struct pg_cache *c, const struct pg_cache_op *ops,
    size_t n, struct pg_cache_err *err)
{
    MDB_txn *txn;
    size_t i;
    int rc;
    const char *step = n == 1 && ops[0].val != NULL ? "put" : "put_many";

    if (n == 0) {
        return PG_CACHE_OK;
    }
    if (n > PG_CACHE_MAX_OPS) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, step,
            "%zu operations (at most %d)", n, PG_CACHE_MAX_OPS);
    }
    for (i = 0; i < n; i++) {
        rc = check_kv(c, ops[i].db, ops[i].klen, 1, step, err);
        if (rc != PG_CACHE_OK) {
            return rc;
        }
        if (ops[i].val != NULL && ops[i].len > PG_CACHE_MAX_VALUE) {
            return pg_cache_fail(err, PG_CACHE_EINVAL, step,
                "value of %zu bytes (at most %u)", ops[i].len,
                PG_CACHE_MAX_VALUE);
        }
    }
    rc = mdb_txn_begin(c->env, NULL, 0, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, step, "mdb_txn_begin");
    }
    for (i = 0; i < n; i++) {
        MDB_val k, v;

        k.mv_size = ops[i].klen;
        k.mv_data = (void *) ops[i].key;
        if (ops[i].val == NULL) {
            rc = mdb_del(txn, c->dbi[ops[i].db], &k, NULL);
            if (rc == MDB_NOTFOUND) {
                rc = 0;
            }
        } else {
            v.mv_size = ops[i].len;
            v.mv_data = (void *) ops[i].val;
            rc = mdb_put(txn, c->dbi[ops[i].db], &k, &v, 0);
        }
        if (rc != 0) {
            mdb_txn_abort(txn);
            return pg_cache_fail_mdb(err, rc, step,
                pg_cache_db_names[ops[i].db]);
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, step, "mdb_txn_commit");
    }
    return PG_CACHE_OK;
}

int
pg_cache_iter(struct pg_cache *c, enum pg_cache_db db, const void *prefix,
    size_t plen, pg_cache_iter_fn fn, void *arg, struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if (prefix == NULL) {
        plen = 0;
    }
    if (c == NULL || (int) db < 0 || db >= PG_CACHE_DB_COUNT || fn == NULL) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "iter", "bad argument");
    }
    if (plen > PG_CACHE_MAX_KEY) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "iter",
            "prefix of %zu bytes (at most %d)", plen, PG_CACHE_MAX_KEY);
    }
    if (!c->has_dbi[db]) {
        return PG_CACHE_OK;
    }
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "iter", "mdb_txn_begin");
    }
    rc = mdb_cursor_open(txn, c->dbi[db], &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return pg_cache_fail_mdb(err, rc, "iter", "mdb_cursor_open");
    }
    if (plen > 0) {
        k.mv_size = plen;
        k.mv_data = (void *) prefix;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    } else {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == 0) {
        if (plen > 0 && (k.mv_size < plen
            || memcmp(k.mv_data, prefix, plen) != 0))
        {
            break;
        }
        if (fn(arg, k.mv_data, k.mv_size, v.mv_data, v.mv_size) != 0) {
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return pg_cache_fail_mdb(err, rc, "iter", pg_cache_db_names[db]);
    }
    return PG_CACHE_OK;
}

int
pg_cache_count(struct pg_cache *c, enum pg_cache_db db, uint64_t *n,
    struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc;

    *n = 0;
    if (c == NULL || (int) db < 0 || db >= PG_CACHE_DB_COUNT) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "count", "bad argument");
    }
    if (!c->has_dbi[db]) {
        return PG_CACHE_OK;
    }
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "count", "mdb_txn_begin");
    }
    rc = mdb_stat(txn, c->dbi[db], &st);
    mdb_txn_abort(txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "count", pg_cache_db_names[db]);
    }
    *n = st.ms_entries;
    return PG_CACHE_OK;
}

void
pg_cache_stats(struct pg_cache *c, struct pg_cache_stats *out)
{
    uint64_t bytes, count;
    struct pg_cache_err err = { 0 };

    memset(out, 0, sizeof(*out));
    if (pg_cache_blob_totals(c, &bytes, &count, &err) == PG_CACHE_OK) {
        pthread_mutex_lock(&c->mu);
        c->blob_bytes = bytes;
        c->blob_count = count;
        pthread_mutex_unlock(&c->mu);
    }
    pthread_mutex_lock(&c->mu);
    out->blob_bytes = c->blob_bytes;
    out->blob_count = c->blob_count;
    out->max_bytes = c->max_bytes;
    out->evictions = c->evictions;
    pthread_mutex_unlock(&c->mu);
}
