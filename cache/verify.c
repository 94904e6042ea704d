/* cache/verify.c — re-hashing blobs on disk: before a process first serves
 * one, and a background scrub of the whole store.
 *
 * A blob was hash-checked when it was written, but a disk can flip a bit
 * afterwards, and its name (the sha256) would then vouch for wrong bytes
 * forever: strong ETag, immutable.  So a process trusts a blob only after
 * it hashed that file itself: pg_blob_verify re-hashes it once (the
 * verified set remembers it, also for blobs this process committed), and
 * pg_blob_scrub_step walks every recorded blob in key order, a budget of
 * bytes per call, so a caller can bound the rate.  A file whose sha256 is
 * not its name is removed (record, then file) and reported as
 * PG_CACHE_EDAMAGED: it is fetched again on the next request.
 *
 * The verified set is open addressing over the 32-byte digests, at most
 * PG_CACHE_VERIFIED_MAX entries; when it is full it is emptied (blobs are
 * then re-hashed once more: a cost, never a wrong answer).
 *
 * Owns: the verified set, a scrub's fd and digest state.  Borrows: the
 * cache.  Runs on: pg_blob_verified on any thread (a mutex, no I/O);
 * pg_blob_verify and pg_blob_scrub_step read whole files: worker or CLI.
 * Spec: design §8; issue 10 item 3.
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

#define VSET_SLOTS      (2 * PG_CACHE_VERIFIED_MAX)
#define READ_CHUNK      (256u * 1024)

struct pg_blob_scrub {
    char after[PG_CACHE_HEX_LEN + 1];   /* last key started ("" = none) */
    char hex[PG_CACHE_HEX_LEN + 1];     /* blob being hashed */
    int fd;                             /* its file, -1 none */
    uint64_t off;
    EVP_MD_CTX *md;
    unsigned char *buf;
};

static int
unhex(const char *hex, unsigned char out[32])
{
    int i;

    if (!pg_cache_hex_ok(hex)) {
        return -1;
    }
    for (i = 0; i < 32; i++) {
        unsigned hi = (unsigned) (hex[2 * i] <= '9' ? hex[2 * i] - '0'
            : hex[2 * i] - 'a' + 10);
        unsigned lo = (unsigned) (hex[2 * i + 1] <= '9'
            ? hex[2 * i + 1] - '0' : hex[2 * i + 1] - 'a' + 10);

        out[i] = (unsigned char) (hi << 4 | lo);
    }
    return 0;
}

static size_t
vset_slot(const unsigned char *d)
{
    size_t h;

    memcpy(&h, d, sizeof(h));   /* a digest: its bytes are uniform */
    return h % VSET_SLOTS;
}

/* Caller holds c->mu.  Returns the slot of d, or of the free slot where
 * it would go. */
static size_t
vset_find(struct pg_cache *c, const unsigned char *d)
{
    size_t i = vset_slot(d);

    while (c->vset_used[i]
        && memcmp(c->vset + i * 32, d, 32) != 0)
    {
        i = (i + 1) % VSET_SLOTS;
    }
    return i;
}

void
pg_cache_verified_mark(struct pg_cache *c, const char *hex, int on)
{
    unsigned char d[32];
    size_t i;

    if (unhex(hex, d) != 0) {
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (c->vset == NULL && on) {
        c->vset = malloc((size_t) VSET_SLOTS * 32);
        c->vset_used = calloc(VSET_SLOTS, 1);
        if (c->vset == NULL || c->vset_used == NULL) {
            free(c->vset);
            free(c->vset_used);
            c->vset = NULL;
            c->vset_used = NULL;
        }
    }
    if (c->vset == NULL) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (on) {
        if (c->vset_n >= PG_CACHE_VERIFIED_MAX) {
            memset(c->vset_used, 0, VSET_SLOTS);
            c->vset_n = 0;
        }
        i = vset_find(c, d);
        if (!c->vset_used[i]) {
            memcpy(c->vset + i * 32, d, 32);
            c->vset_used[i] = 1;
            c->vset_n++;
        }
    } else {
        size_t j, k;

        i = vset_find(c, d);
        if (c->vset_used[i]) {
            /* Backward-shift deletion keeps every probe chain whole. */
            c->vset_used[i] = 0;
            c->vset_n--;
            j = i;
            for (;;) {
                j = (j + 1) % VSET_SLOTS;
                if (!c->vset_used[j]) {
                    break;
                }
                k = vset_slot(c->vset + j * 32);
                if ((j > i && (k <= i || k > j))
                    || (j < i && (k <= i && k > j)))
                {
                    memcpy(c->vset + i * 32, c->vset + j * 32, 32);
                    c->vset_used[i] = 1;
                    c->vset_used[j] = 0;
                    i = j;
                }
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
}

int
pg_blob_verified(struct pg_cache *c, const char *sha256_hex)
{
    unsigned char d[32];
    int yes = 0;

    if (unhex(sha256_hex, d) != 0) {
        return 0;
    }
    pthread_mutex_lock(&c->mu);
    if (c->vset != NULL) {
        yes = c->vset_used[vset_find(c, d)];
    }
    pthread_mutex_unlock(&c->mu);
    return yes;
}

static void
to_hex(const unsigned char *md, char hex[PG_CACHE_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    int i;

    for (i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[PG_CACHE_HEX_LEN] = '\0';
}

/* Removes a blob found damaged, if the file at its name is still the one
 * that was hashed (fd's inode): a blob evicted and committed again
 * meanwhile is a new, hash-checked file. */
static int
drop_damaged(struct pg_cache *c, const char *hex, int fd, const char *got,
    const char *step, struct pg_cache_err *err)
{
    char path[PG_CACHE_MAX_DIR + 96];
    struct stat a, b;
    struct pg_cache_err rerr = { 0 };

    pg_cache_verified_mark(c, hex, 0);
    pg_cache_blob_path(c, hex, path, sizeof(path));
    if (fstat(fd, &a) != 0 || stat(path, &b) != 0 || a.st_ino != b.st_ino
        || a.st_dev != b.st_dev)
    {
        return PG_CACHE_NOTFOUND;
    }
    if (!c->read_only) {
        pg_blob_remove(c, hex, &rerr);
    }
    return pg_cache_fail(err, PG_CACHE_EDAMAGED, step,
        "blob %.64s: the file's sha256 is %.12s…%s", hex, got,
        c->read_only ? "" : ": removed");
}

int
pg_blob_verify(struct pg_cache *c, const char *sha256_hex, uint64_t *bytes,
    struct pg_cache_err *err)
{
    char path[PG_CACHE_MAX_DIR + 96], got[PG_CACHE_HEX_LEN + 1];
    unsigned char md[EVP_MAX_MD_SIZE], *buf = NULL;
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = NULL;
    int fd = -1, rc = PG_CACHE_OK;

    if (bytes != NULL) {
        *bytes = 0;
    }
    if (!pg_blob_exists(c, sha256_hex)) {
        return pg_cache_hex_ok(sha256_hex) ? PG_CACHE_NOTFOUND
            : pg_cache_fail(err, PG_CACHE_EINVAL, "verify",
                "sha256 is not 64 lower-case hex digits");
    }
    pg_cache_blob_path(c, sha256_hex, path, sizeof(path));
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno == ENOENT ? PG_CACHE_NOTFOUND
            : pg_cache_fail(err, PG_CACHE_EIO, "verify", "open %.100s: %s",
                path, strerror(errno));
    }
    buf = malloc(READ_CHUNK);
    ctx = EVP_MD_CTX_new();
    if (buf == NULL || ctx == NULL
        || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
    {
        rc = pg_cache_fail(err, PG_CACHE_ENOMEM, "verify", "out of memory");
        goto done;
    }
    for (;;) {
        ssize_t n = read(fd, buf, READ_CHUNK);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = pg_cache_fail(err, PG_CACHE_EIO, "verify",
                "read %.100s: %s", path, strerror(errno));
            goto done;
        }
        if (n == 0) {
            break;
        }
        EVP_DigestUpdate(ctx, buf, (size_t) n);
        if (bytes != NULL) {
            *bytes += (uint64_t) n;
        }
    }
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        rc = pg_cache_fail(err, PG_CACHE_EIO, "verify", "sha256 final");
        goto done;
    }
    to_hex(md, got);
    if (memcmp(got, sha256_hex, PG_CACHE_HEX_LEN) != 0) {
        rc = drop_damaged(c, sha256_hex, fd, got, "verify", err);
        goto done;
    }
    pg_cache_verified_mark(c, sha256_hex, 1);
done:
    EVP_MD_CTX_free(ctx);
    free(buf);
    close(fd);
    return rc;
}

/* ---- scrub -------------------------------------------------------------- */

int
pg_blob_scrub_new(struct pg_blob_scrub **out)
{
    struct pg_blob_scrub *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL) {
        return PG_CACHE_ENOMEM;
    }
    s->fd = -1;
    s->md = EVP_MD_CTX_new();
    s->buf = malloc(READ_CHUNK);
    if (s->md == NULL || s->buf == NULL) {
        pg_blob_scrub_free(s);
        return PG_CACHE_ENOMEM;
    }
    *out = s;
    return PG_CACHE_OK;
}

static void
scrub_close(struct pg_blob_scrub *s)
{
    if (s->fd >= 0) {
        close(s->fd);
    }
    s->fd = -1;
    s->hex[0] = '\0';
}

void
pg_blob_scrub_free(struct pg_blob_scrub *s)
{
    if (s == NULL) {
        return;
    }
    scrub_close(s);
    EVP_MD_CTX_free(s->md);
    free(s->buf);
    free(s);
}

/* The first recorded blob after s->after (all when ""); 0 or NOTFOUND. */
static int
scrub_next_key(struct pg_cache *c, struct pg_blob_scrub *s,
    struct pg_cache_err *err)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    MDB_val k, v;
    int rc;

    if (!c->has_dbi[PG_CACHE_DB_BLOBS]) {
        return PG_CACHE_NOTFOUND;
    }
    rc = mdb_txn_begin(c->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "scrub", "mdb_txn_begin");
    }
    rc = mdb_cursor_open(txn, c->dbi[PG_CACHE_DB_BLOBS], &cur);
    if (rc != 0) {
        mdb_txn_abort(txn);
        return pg_cache_fail_mdb(err, rc, "scrub", "mdb_cursor_open");
    }
    if (s->after[0] == '\0') {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    } else {
        k.mv_size = PG_CACHE_HEX_LEN;
        k.mv_data = s->after;
        rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        if (rc == 0 && k.mv_size == PG_CACHE_HEX_LEN
            && memcmp(k.mv_data, s->after, PG_CACHE_HEX_LEN) == 0)
        {
            rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
    }
    while (rc == 0 && k.mv_size != PG_CACHE_HEX_LEN) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == 0) {
        memcpy(s->hex, k.mv_data, PG_CACHE_HEX_LEN);
        s->hex[PG_CACHE_HEX_LEN] = '\0';
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (rc == MDB_NOTFOUND) {
        return PG_CACHE_NOTFOUND;
    }
    if (rc != 0) {
        return pg_cache_fail_mdb(err, rc, "scrub", "blobs");
    }
    return PG_CACHE_OK;
}

/* Opens the next blob to hash; NOTFOUND at the end of a pass. */
static int
scrub_open_next(struct pg_cache *c, struct pg_blob_scrub *s,
    struct pg_cache_err *err)
{
    char path[PG_CACHE_MAX_DIR + 96];
    int rc;

    for (;;) {
        rc = scrub_next_key(c, s, err);
        if (rc != PG_CACHE_OK) {
            return rc;
        }
        memcpy(s->after, s->hex, sizeof(s->after));
        pg_cache_blob_path(c, s->hex, path, sizeof(path));
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) {
            continue;       /* removed meanwhile: gc drops its record */
        }
        s->off = 0;
        if (EVP_DigestInit_ex(s->md, EVP_sha256(), NULL) != 1) {
            scrub_close(s);
            return pg_cache_fail(err, PG_CACHE_ENOMEM, "scrub",
                "cannot start sha256");
        }
        return PG_CACHE_OK;
    }
}

int
pg_blob_scrub_step(struct pg_cache *c, struct pg_blob_scrub *s,
    uint64_t budget, struct pg_blob_scrub_result *res,
    struct pg_cache_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char got[PG_CACHE_HEX_LEN + 1];
    int rc;

    memset(res, 0, sizeof(*res));
    while (res->bytes < budget) {
        size_t want;
        ssize_t n;

        if (s->fd < 0) {
            rc = scrub_open_next(c, s, err);
            if (rc == PG_CACHE_NOTFOUND) {
                s->after[0] = '\0';
                res->pass_done = 1;
                return PG_CACHE_OK;
            }
            if (rc != PG_CACHE_OK) {
                return rc;
            }
        }
        want = budget - res->bytes < READ_CHUNK
            ? (size_t) (budget - res->bytes) : READ_CHUNK;
        n = pread(s->fd, s->buf, want, (off_t) s->off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            rc = pg_cache_fail(err, PG_CACHE_EIO, "scrub", "read %.64s: %s",
                s->hex, strerror(errno));
            scrub_close(s);
            return rc;
        }
        if (n > 0) {
            EVP_DigestUpdate(s->md, s->buf, (size_t) n);
            s->off += (uint64_t) n;
            res->bytes += (uint64_t) n;
            continue;
        }
        res->checked++;
        if (EVP_DigestFinal_ex(s->md, md, &mdlen) != 1 || mdlen != 32) {
            scrub_close(s);
            return pg_cache_fail(err, PG_CACHE_EIO, "scrub", "sha256 final");
        }
        to_hex(md, got);
        if (memcmp(got, s->hex, PG_CACHE_HEX_LEN) == 0) {
            pg_cache_verified_mark(c, s->hex, 1);
        } else {
            struct pg_cache_err derr = { 0 };

            if (drop_damaged(c, s->hex, s->fd, got, "scrub", &derr)
                == PG_CACHE_EDAMAGED)
            {
                res->damaged++;
                memcpy(res->damaged_hex, s->hex, sizeof(res->damaged_hex));
                memcpy(res->reason, derr.reason, sizeof(res->reason));
                scrub_close(s);
                return PG_CACHE_OK;     /* one damaged blob per step */
            }
        }
        scrub_close(s);
    }
    return PG_CACHE_OK;
}
