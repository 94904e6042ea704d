/* cache/blobs.c — the content-addressed blob store.
 *
 * A blob is written to a temp file in <dir>/tmp/ (mkostemp) while a SHA-256
 * (OpenSSL EVP) runs over the same bytes.  Commit compares the digest with
 * the expected one; only on a match is the file fsynced, renamed to
 * <dir>/blobs/<2 hex>/<sha256> and its directory fsynced, and then its
 * record (size, last access) written in LMDB, where eviction finds it.  A
 * crash at any point leaves either a temp file (removed at open) or a
 * complete blob with or without its record (an unrecorded one is never
 * served and gc removes it), never a partial file under its final name.
 *
 * Reading is pg_blob_open: the record must exist, the file is opened and
 * its size checked, and the access is batched in memory (evict.c).
 *
 * Owns: a writer's fd, temp file and digest context until commit/abort.
 * Borrows: the cache.  Runs on: begin/write/abort/open/exists on the loop;
 * commit/remove on a worker (fsync).  Spec: design §8, issue 2 item 4.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cache_int.h"

struct pg_blob_writer {
    struct pg_cache *c;
    int fd;
    int failed;                 /* a write failed: only abort may follow */
    int hash_only;              /* the store cannot take it: hash only */
    int finished;               /* digest computed */
    EVP_MD_CTX *md;
    uint64_t written;
    char hex[PG_CACHE_HEX_LEN + 1];
    char path[PG_CACHE_MAX_DIR + 64];
};

static void writer_free(struct pg_blob_writer *w, int unlink_temp);
static struct pg_blob_writer *writer_new(struct pg_cache *c);
static int fsync_dir(const char *path, struct pg_cache_err *err);

static struct pg_blob_writer *
writer_new(struct pg_cache *c)
{
    struct pg_blob_writer *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->c = c;
    w->fd = -1;
    w->md = EVP_MD_CTX_new();
    if (w->md == NULL || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        writer_free(w, 0);
        return NULL;
    }
    return w;
}

int
pg_blob_begin_hash_only(struct pg_cache *c, struct pg_blob_writer **out,
    struct pg_cache_err *err)
{
    *out = writer_new(c);
    if (*out == NULL) {
        return pg_cache_fail(err, PG_CACHE_ENOMEM, "blob", "out of memory");
    }
    (*out)->hash_only = 1;
    return PG_CACHE_OK;
}

/* The store cannot take w's blob: drop its temp file, keep hashing. */
static int
become_hash_only(struct pg_blob_writer *w, const char *step,
    struct pg_cache_err *err, const char *why)
{
    if (w->fd >= 0) {
        close(w->fd);
        unlink(w->path);
        w->fd = -1;
    }
    w->hash_only = 1;
    return pg_cache_fail(err, PG_CACHE_EFULL, step, "%s", why);
}

int
pg_blob_begin(struct pg_cache *c, struct pg_blob_writer **out,
    struct pg_cache_err *err)
{
    struct pg_blob_writer *w;

    *out = NULL;
    if (c->read_only) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "blob",
            "cache opened read-only");
    }
    w = writer_new(c);
    if (w == NULL) {
        return pg_cache_fail(err, PG_CACHE_ENOMEM, "blob",
            "cannot start sha256");
    }
    snprintf(w->path, sizeof(w->path), "%s/blob.XXXXXX", c->tmp);
    w->fd = mkostemp(w->path, O_CLOEXEC);
    if (w->fd < 0) {
        int e = errno;

        writer_free(w, 0);
        return pg_cache_fail(err, e == ENOSPC ? PG_CACHE_EFULL : PG_CACHE_EIO,
            "blob", "temp file in %.100s: %s", c->tmp, strerror(e));
    }
    *out = w;
    return PG_CACHE_OK;
}

int
pg_blob_write(struct pg_blob_writer *w, const void *buf, size_t len,
    struct pg_cache_err *err)
{
    const unsigned char *p = buf;
    uint64_t cap;
    size_t left = len;

    if (w->failed || w->finished) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "blob",
            "write after a failure or after the digest");
    }
    if (EVP_DigestUpdate(w->md, buf, len) != 1) {
        w->failed = 1;
        return pg_cache_fail(err, PG_CACHE_EIO, "blob", "sha256 update");
    }
    w->written += len;
    if (w->hash_only) {
        return PG_CACHE_OK;
    }
    pthread_mutex_lock(&w->c->mu);
    cap = w->c->max_bytes;
    pthread_mutex_unlock(&w->c->mu);
    if (cap != 0 && w->written > cap) {
        char why[96];

        snprintf(why, sizeof(why), "blob larger than the cache cap of "
            "%llu bytes", (unsigned long long) cap);
        return become_hash_only(w, "blob", err, why);
    }
    while (left > 0) {
        ssize_t n = write(w->fd, p, left);

        if (n < 0) {
            int e = errno;

            if (e == EINTR) {
                continue;
            }
            if (e == ENOSPC || e == EDQUOT) {
                return become_hash_only(w, "disk", err, strerror(e));
            }
            w->failed = 1;
            return pg_cache_fail(err, PG_CACHE_EIO, "blob",
                "write %.100s: %s", w->path, strerror(e));
        }
        p += n;
        left -= (size_t) n;
    }
    return PG_CACHE_OK;
}

uint64_t
pg_blob_written(const struct pg_blob_writer *w)
{
    return w->written;
}

int
pg_blob_reader(const struct pg_blob_writer *w)
{
    if (w->hash_only) {
        return -1;              /* nothing on disk */
    }
    return open(w->path, O_RDONLY | O_CLOEXEC);
}

void
pg_blob_digest(struct pg_blob_writer *w, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    if (!w->finished) {
        w->finished = 1;
        if (EVP_DigestFinal_ex(w->md, md, &mdlen) != 1 || mdlen != 32) {
            w->failed = 1;
            memset(w->hex, '0', PG_CACHE_HEX_LEN);
        } else {
            for (i = 0; i < mdlen; i++) {
                w->hex[2 * i] = digits[md[i] >> 4];
                w->hex[2 * i + 1] = digits[md[i] & 15];
            }
        }
        w->hex[PG_CACHE_HEX_LEN] = '\0';
    }
    memcpy(hex, w->hex, PG_CACHE_HEX_LEN + 1);
}

int
pg_blob_commit(struct pg_blob_writer *w, const char *sha256_hex,
    struct pg_cache_err *err)
{
    struct pg_cache *c = w->c;
    char got[PG_CACHE_HEX_LEN + 1];
    char sub[PG_CACHE_MAX_DIR + 32], final[PG_CACHE_MAX_DIR + 96];
    uint64_t size = w->written;
    int rc;

    if (!pg_cache_hex_ok(sha256_hex)) {
        writer_free(w, 1);
        return pg_cache_fail(err, PG_CACHE_EINVAL, "commit",
            "expected sha256 is not 64 lower-case hex digits");
    }
    if (w->failed) {
        writer_free(w, 1);
        return pg_cache_fail(err, PG_CACHE_EIO, "commit",
            "an earlier write failed");
    }
    pg_blob_digest(w, got);
    if (w->failed) {
        writer_free(w, 1);
        return pg_cache_fail(err, PG_CACHE_EIO, "commit", "sha256 final");
    }
    if (memcmp(got, sha256_hex, PG_CACHE_HEX_LEN) != 0) {
        writer_free(w, 1);
        return pg_cache_fail(err, PG_CACHE_EHASH, "commit",
            "sha256 %.64s, expected %.64s", got, sha256_hex);
    }
    if (w->hash_only) {
        writer_free(w, 0);
        return pg_cache_fail(err, PG_CACHE_EFULL, "commit",
            "the bytes match, but the store could not take them");
    }
    if (fsync(w->fd) != 0) {
        int e = errno;

        writer_free(w, 1);
        return pg_cache_fail(err, e == ENOSPC || e == EDQUOT ? PG_CACHE_EFULL
            : PG_CACHE_EIO, "commit", "fsync: %s", strerror(e));
    }
    fchmod(w->fd, 0644);
    snprintf(sub, sizeof(sub), "%s/%.2s", c->blobs, got);
    if (mkdir(sub, 0755) == 0) {
        rc = fsync_dir(c->blobs, err);
        if (rc != PG_CACHE_OK) {
            writer_free(w, 1);
            return rc;
        }
    } else if (errno != EEXIST) {
        int e = errno;

        writer_free(w, 1);
        return pg_cache_fail(err, PG_CACHE_EIO, "commit", "mkdir %.100s: %s",
            sub, strerror(e));
    }
    pg_cache_blob_path(c, got, final, sizeof(final));
    /* From rename to record, no eviction in this process may unlink what
     * it evicted: it could be this very blob, committed again. */
    pthread_mutex_lock(&c->flush_mu);
    if (rename(w->path, final) != 0) {
        int e = errno;

        pthread_mutex_unlock(&c->flush_mu);
        writer_free(w, 1);
        return pg_cache_fail(err, PG_CACHE_EIO, "commit", "rename: %s",
            strerror(e));
    }
    writer_free(w, 0);
    rc = fsync_dir(sub, err);
    if (rc == PG_CACHE_OK) {
        rc = pg_cache_blob_record_locked(c, got, size, err);
    }
    if (rc == PG_CACHE_OK) {
        pg_cache_verified_mark(c, got, 1);     /* hashed as it was written */
    }
    /* On failure the file stays unrecorded: never served, gc removes it. */
    pthread_mutex_unlock(&c->flush_mu);
    return rc;
}

void
pg_blob_abort(struct pg_blob_writer *w)
{
    if (w != NULL) {
        writer_free(w, 1);
    }
}

static void
writer_free(struct pg_blob_writer *w, int unlink_temp)
{
    if (w->fd >= 0) {
        close(w->fd);
        if (unlink_temp) {
            unlink(w->path);
        }
    }
    EVP_MD_CTX_free(w->md);
    free(w);
}

static int
fsync_dir(const char *path, struct pg_cache_err *err)
{
    int fd, rc = PG_CACHE_OK;

    fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return pg_cache_fail(err, PG_CACHE_EIO, "commit", "open %.100s: %s",
            path, strerror(errno));
    }
    if (fsync(fd) != 0) {
        rc = pg_cache_fail(err, PG_CACHE_EIO, "commit", "fsync %.100s: %s",
            path, strerror(errno));
    }
    close(fd);
    return rc;
}

static int
lookup(struct pg_cache *c, const char *hex, uint64_t *size,
    struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_val k, v;
    int rc;

    if (!c->has_dbi[PG_CACHE_DB_BLOBS]) {
        return PG_CACHE_NOTFOUND;
    }
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "blob", "mdb_txn_begin");
    }
    k.mv_size = PG_CACHE_HEX_LEN;
    k.mv_data = (void *) hex;
    rc = mdb_get(txn, c->dbi[PG_CACHE_DB_BLOBS], &k, &v);
    if (rc == 0 && v.mv_size == PG_CACHE_REC_LEN) {
        *size = pg_cache_get_be64(v.mv_data);
    }
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) {
        return PG_CACHE_NOTFOUND;
    }
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "blob", "blobs");
    }
    return PG_CACHE_OK;
}

int
pg_blob_open(struct pg_cache *c, const char *sha256_hex, int *fd,
    uint64_t *size, struct pg_cache_err *err)
{
    char path[PG_CACHE_MAX_DIR + 96];
    struct stat st;
    uint64_t rsize = 0;
    int rc, f;

    *fd = -1;
    if (size != NULL) {
        *size = 0;
    }
    if (!pg_cache_hex_ok(sha256_hex)) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "blob",
            "sha256 is not 64 lower-case hex digits");
    }
    rc = lookup(c, sha256_hex, &rsize, err);
    if (rc != PG_CACHE_OK) {
        return rc;
    }
    pg_cache_blob_path(c, sha256_hex, path, sizeof(path));
    f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) {
        if (errno == ENOENT) {
            return PG_CACHE_NOTFOUND;   /* evicted meanwhile */
        }
        return pg_cache_fail(err, PG_CACHE_EIO, "blob", "open %.100s: %s",
            path, strerror(errno));
    }
    if (fstat(f, &st) != 0 || (uint64_t) st.st_size != rsize) {
        close(f);
        return pg_cache_fail(err, PG_CACHE_EIO, "blob",
            "%.64s: file size differs from its record", sha256_hex);
    }
    if (!c->read_only) {
        pg_cache_touch(c, sha256_hex);
    }
    *fd = f;
    if (size != NULL) {
        *size = rsize;
    }
    return PG_CACHE_OK;
}

int
pg_blob_exists(struct pg_cache *c, const char *sha256_hex)
{
    uint64_t size;

    if (!pg_cache_hex_ok(sha256_hex)) {
        return 0;
    }
    return lookup(c, sha256_hex, &size, NULL) == PG_CACHE_OK;
}

int
pg_blob_remove(struct pg_cache *c, const char *sha256_hex,
    struct pg_cache_err *err)
{
    char path[PG_CACHE_MAX_DIR + 96];
    int rc, found = 0, unlinked;

    if (!pg_cache_hex_ok(sha256_hex)) {
        return pg_cache_fail(err, PG_CACHE_EINVAL, "remove",
            "sha256 is not 64 lower-case hex digits");
    }
    pg_cache_verified_mark(c, sha256_hex, 0);
    rc = pg_cache_blob_unrecord(c, sha256_hex, &found, err);
    if (rc != PG_CACHE_OK) {
        return rc;
    }
    pg_cache_blob_path(c, sha256_hex, path, sizeof(path));
    unlinked = unlink(path) == 0;
    if (!unlinked && errno != ENOENT) {
        return pg_cache_fail(err, PG_CACHE_EIO, "remove", "unlink: %s",
            strerror(errno));
    }
    return found || unlinked ? PG_CACHE_OK : PG_CACHE_NOTFOUND;
}
