/* tests/cache/test_blobs.c — the blob store: write, hash, commit, open,
 * LRU eviction, gc, stats, restart.
 *
 * Each test opens a fresh cache in its own directory under the build tree.
 * The binary runs one test when given its name (ctest: cache.<name>).
 * Helper modes for other tests:
 *   --populate DIR N SIZE   commits N blobs of SIZE bytes and a few kv
 *                           entries (the `provgate cache` CLI test);
 *   --open-rw DIR           opens DIR read-write and closes it (a second
 *                           process while this one writes a blob).
 *
 * Spec: design §8; issue 2 items 4–5.
 */
#include "cache_test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "pg_cache.h"

extern char **environ;

struct fx {
    char *dir;
    struct pg_cache *c;
};

static int
open_cap(const char *dir, uint64_t cap, struct pg_cache **c)
{
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };
    int rc;

    opt.dir = dir;
    opt.max_bytes = cap;
    rc = pg_cache_open(&opt, c, &err);
    if (rc != PG_CACHE_OK) {
        fprintf(stderr, "open: %s: %s\n", err.step, err.reason);
    }
    return rc;
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = ctu_mkdtemp();
    assert_non_null(f->dir);
    assert_int_equal(open_cap(f->dir, 0, &f->c), PG_CACHE_OK);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;

    pg_cache_close(f->c);
    ctu_rmtree(f->dir);
    free(f);
    return 0;
}

static void
reopen(struct fx *f, uint64_t cap)
{
    pg_cache_close(f->c);
    f->c = NULL;
    assert_int_equal(open_cap(f->dir, cap, &f->c), PG_CACHE_OK);
}

/* Fills buf with bytes derived from seed; hex = its sha256. */
static void
make_content(unsigned char *buf, size_t len, unsigned seed, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0, i;
    size_t j;

    for (j = 0; j < len; j++) {
        buf[j] = (unsigned char) (seed * 131 + j * 7 + (j >> 8));
    }
    EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++) {
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
}

/* Writes len bytes (in two pieces) and commits; returns the code. */
static int
put_blob(struct pg_cache *c, size_t len, unsigned seed, char hex[65])
{
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;
    unsigned char *buf = malloc(len + 1);
    int rc;

    assert_non_null(buf);
    make_content(buf, len, seed, hex);
    assert_int_equal(pg_blob_begin(c, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, buf, len / 2, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, buf + len / 2, len - len / 2, &err),
        PG_CACHE_OK);
    assert_int_equal(pg_blob_written(w), len);
    rc = pg_blob_commit(w, hex, &err);
    if (rc != PG_CACHE_OK) {
        fprintf(stderr, "commit: %s: %s\n", err.step, err.reason);
    }
    free(buf);
    return rc;
}

static int
tmp_files(const struct fx *f)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/tmp", f->dir);
    return ctu_count_files(path);
}

static int
blob_file_exists(const struct fx *f, const char *hex)
{
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, hex, hex);
    return stat(path, &st) == 0;
}

static void
open_and_close(struct pg_cache *c, const char *hex)
{
    struct pg_cache_err err = { 0 };
    uint64_t size;
    int fd;

    assert_int_equal(pg_blob_open(c, hex, &fd, &size, &err), PG_CACHE_OK);
    close(fd);
}

/* ---- tests ------------------------------------------------------------- */

static void
committed_blob_opens_with_its_bytes(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    unsigned char want[5000], got[5001];
    char hex[65];
    uint64_t size = 0;
    int fd;
    ssize_t n;

    assert_int_equal(put_blob(f->c, sizeof(want), 1, hex), PG_CACHE_OK);
    make_content(want, sizeof(want), 1, hex);
    assert_true(blob_file_exists(f, hex));
    assert_int_equal(pg_blob_exists(f->c, hex), 1);
    assert_int_equal(pg_blob_open(f->c, hex, &fd, &size, &err), PG_CACHE_OK);
    assert_int_equal(size, sizeof(want));
    n = pread(fd, got, sizeof(got), 0);
    assert_int_equal(n, sizeof(want));
    assert_memory_equal(got, want, sizeof(want));
    close(fd);
    assert_int_equal(tmp_files(f), 0);
}

static void
digest_is_sha256_of_written_bytes(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;
    char hex[65];

    /* sha256("abc") */
    assert_int_equal(pg_blob_begin(f->c, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, "ab", 2, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, "c", 1, &err), PG_CACHE_OK);
    pg_blob_digest(w, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
        "b00361a396177a9cb410ff61f20015ad");
    assert_int_equal(pg_blob_commit(w, hex, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_exists(f->c, hex), 1);
}

static void
hash_mismatch_deletes_temp_and_returns_ehash(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;
    const char *expected = "ba7816bf8f01cfea414140de5dae2223"
        "b00361a396177a9cb410ff61f20015ad";
    struct pg_cache_stats st;

    assert_int_equal(pg_blob_begin(f->c, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, "abd", 3, &err), PG_CACHE_OK);
    assert_int_equal(tmp_files(f), 1);
    assert_int_equal(pg_blob_commit(w, expected, &err), PG_CACHE_EHASH);
    assert_string_equal(err.step, "commit");
    assert_non_null(strstr(err.reason, expected));
    assert_int_equal(tmp_files(f), 0);
    assert_int_equal(pg_blob_exists(f->c, expected), 0);
    assert_false(blob_file_exists(f, expected));
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_count, 0);
    assert_int_equal(st.blob_bytes, 0);
}

static void
abort_deletes_temp(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;

    assert_int_equal(pg_blob_begin(f->c, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, "partial", 7, &err), PG_CACHE_OK);
    assert_int_equal(tmp_files(f), 1);
    pg_blob_abort(w);
    assert_int_equal(tmp_files(f), 0);
}

static void
bad_hex_is_rejected(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;
    const char *upper = "BA7816BF8F01CFEA414140DE5DAE2223"
        "B00361A396177A9CB410FF61F20015AD";
    const char *longer = "ba7816bf8f01cfea414140de5dae2223"
        "b00361a396177a9cb410ff61f20015ad0";
    const char *dots = "../../../../../../../../../../../"
        "../../../../../../../../etc/passwd";
    int fd;

    assert_int_equal(pg_blob_open(f->c, upper, &fd, NULL, &err),
        PG_CACHE_EINVAL);
    assert_int_equal(fd, -1);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_blob_open(f->c, longer, &fd, NULL, &err),
        PG_CACHE_EINVAL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_blob_open(f->c, "abc", &fd, NULL, &err),
        PG_CACHE_EINVAL);
    assert_int_equal(pg_blob_exists(f->c, dots), 0);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_blob_remove(f->c, dots, &err), PG_CACHE_EINVAL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_blob_begin(f->c, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, "abc", 3, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_commit(w, upper, &err), PG_CACHE_EINVAL);
    assert_int_equal(tmp_files(f), 0);
}

static void
missing_blob_is_notfound(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    int fd;

    assert_int_equal(pg_blob_open(f->c, "ba7816bf8f01cfea414140de5dae2223"
        "b00361a396177a9cb410ff61f20015ad", &fd, NULL, &err),
        PG_CACHE_NOTFOUND);
    assert_int_equal(err.code, PG_CACHE_OK);
}

static void
temp_leftovers_removed_at_open(void **state)
{
    struct fx *f = *state;
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/tmp/blob.crashed", f->dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "half", 4), 4);
    close(fd);
    assert_int_equal(tmp_files(f), 1);
    reopen(f, 0);
    assert_int_equal(tmp_files(f), 0);
}

static int
spawn_self(const char *mode, const char *dir)
{
    char self[4096];
    ssize_t n;
    pid_t pid;
    int status;
    char *argv[4];

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    argv[0] = self;
    argv[1] = (char *) mode;
    argv[2] = (char *) dir;
    argv[3] = NULL;
    assert_int_equal(posix_spawn(&pid, self, NULL, NULL, argv, environ), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void
second_process_open_keeps_temp_files_in_use(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;
    char hex[65];

    /* This process is writing a blob when another opens the directory
     * (as `provgate pins` does while the server runs). */
    assert_int_equal(pg_blob_begin(f->c, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, "abc", 3, &err), PG_CACHE_OK);
    assert_int_equal(spawn_self("--open-rw", f->dir), 0);
    assert_int_equal(tmp_files(f), 1);
    pg_blob_digest(w, hex);
    assert_int_equal(pg_blob_commit(w, hex, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_exists(f->c, hex), 1);
}

static void
committed_blobs_visible_after_reopen(void **state)
{
    struct fx *f = *state;
    struct pg_cache_stats st;
    char a[65], b[65];

    assert_int_equal(put_blob(f->c, 1000, 1, a), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 2000, 2, b), PG_CACHE_OK);
    reopen(f, 0);
    assert_int_equal(pg_blob_exists(f->c, a), 1);
    assert_int_equal(pg_blob_exists(f->c, b), 1);
    open_and_close(f->c, a);
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_count, 2);
    assert_int_equal(st.blob_bytes, 3000);
}

static void
lru_evicts_least_recently_opened_first(void **state)
{
    struct fx *f = *state;
    struct pg_cache_stats st;
    char a[65], b[65], c[65], d[65];

    reopen(f, 300);
    assert_int_equal(put_blob(f->c, 100, 1, a), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 100, 2, b), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 100, 3, c), PG_CACHE_OK);
    /* a becomes the most recent; b is now the least recently used. */
    open_and_close(f->c, a);
    assert_int_equal(put_blob(f->c, 100, 4, d), PG_CACHE_OK);
    assert_int_equal(pg_blob_exists(f->c, b), 0);
    assert_false(blob_file_exists(f, b));
    assert_int_equal(pg_blob_exists(f->c, a), 1);
    assert_int_equal(pg_blob_exists(f->c, c), 1);
    assert_int_equal(pg_blob_exists(f->c, d), 1);
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_bytes, 300);
    assert_int_equal(st.blob_count, 3);
    assert_int_equal(st.evictions, 1);
}

static void
lru_order_without_opens_is_commit_order(void **state)
{
    struct fx *f = *state;
    char a[65], b[65], c[65];

    reopen(f, 250);
    assert_int_equal(put_blob(f->c, 100, 1, a), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 100, 2, b), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 100, 3, c), PG_CACHE_OK);
    assert_int_equal(pg_blob_exists(f->c, a), 0);
    assert_int_equal(pg_blob_exists(f->c, b), 1);
    assert_int_equal(pg_blob_exists(f->c, c), 1);
}

static void
flushed_access_times_survive_reopen(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char a[65], b[65], c[65];

    assert_int_equal(put_blob(f->c, 100, 1, a), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 100, 2, b), PG_CACHE_OK);
    open_and_close(f->c, a);
    assert_int_equal(pg_cache_flush(f->c, &err), PG_CACHE_OK);
    reopen(f, 200);
    assert_int_equal(put_blob(f->c, 100, 3, c), PG_CACHE_OK);
    assert_int_equal(pg_blob_exists(f->c, b), 0);
    assert_int_equal(pg_blob_exists(f->c, a), 1);
    assert_int_equal(pg_blob_exists(f->c, c), 1);
}

static void
close_writes_batched_access_times(void **state)
{
    struct fx *f = *state;
    char a[65], b[65], c[65];

    assert_int_equal(put_blob(f->c, 100, 1, a), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 100, 2, b), PG_CACHE_OK);
    open_and_close(f->c, a);
    reopen(f, 200);         /* no explicit flush */
    assert_int_equal(put_blob(f->c, 100, 3, c), PG_CACHE_OK);
    assert_int_equal(pg_blob_exists(f->c, b), 0);
    assert_int_equal(pg_blob_exists(f->c, a), 1);
}

static void
flush_evicts_down_to_a_lowered_cap(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_cache_stats st;
    char hex[10][65];
    int i, kept = 0;

    for (i = 0; i < 10; i++) {
        assert_int_equal(put_blob(f->c, 100 + i, (unsigned) i, hex[i]),
            PG_CACHE_OK);
    }
    pg_cache_set_max_bytes(f->c, 350);
    assert_int_equal(pg_cache_flush(f->c, &err), PG_CACHE_OK);
    pg_cache_stats(f->c, &st);
    assert_true(st.blob_bytes <= 350);
    for (i = 0; i < 10; i++) {
        kept += pg_blob_exists(f->c, hex[i]);
        assert_int_equal(pg_blob_exists(f->c, hex[i]),
            blob_file_exists(f, hex[i]));
    }
    /* The three most recent: 107 + 108 + 109 = 324. */
    assert_int_equal(kept, 3);
    assert_int_equal(st.blob_bytes, 324);
    assert_int_equal(pg_blob_exists(f->c, hex[9]), 1);
}

static void
cap_is_respected_over_many_commits(void **state)
{
    struct fx *f = *state;
    struct pg_cache_stats st;
    char hex[65], path[4096];
    int i, files = 0;

    reopen(f, 10000);
    for (i = 0; i < 60; i++) {
        assert_int_equal(put_blob(f->c, 700 + (size_t) i * 13, (unsigned) i,
            hex), PG_CACHE_OK);
        pg_cache_stats(f->c, &st);
        assert_true(st.blob_bytes <= 10000);
    }
    /* Files on disk match the records. */
    for (i = 0; i < 256; i++) {
        int n;

        snprintf(path, sizeof(path), "%s/blobs/%02x", f->dir, i);
        n = ctu_count_files(path);
        files += n > 0 ? n : 0;
    }
    assert_int_equal((uint64_t) files, st.blob_count);
    assert_int_equal(st.blob_count + st.evictions, 60);
}

static void
blob_at_cap_is_kept_over_cap_is_refused(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;
    unsigned char buf[1001];
    char a[65], b[65];

    reopen(f, 1000);
    assert_int_equal(put_blob(f->c, 500, 1, a), PG_CACHE_OK);
    /* Exactly the cap: kept, everything else evicted. */
    assert_int_equal(put_blob(f->c, 1000, 2, b), PG_CACHE_OK);
    assert_int_equal(pg_blob_exists(f->c, b), 1);
    assert_int_equal(pg_blob_exists(f->c, a), 0);
    /* One byte more can never be kept: refused while writing. */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(pg_blob_begin(f->c, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, buf, 1000, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, buf, 1, &err), PG_CACHE_EFULL);
    assert_string_equal(err.step, "blob");
    pg_blob_abort(w);
    assert_int_equal(tmp_files(f), 0);
    assert_int_equal(pg_blob_exists(f->c, b), 1);
}

static void
stats_count_blobs_and_bytes(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_cache_stats st;
    char a[65], b[65];

    reopen(f, 123456);
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_count, 0);
    assert_int_equal(st.max_bytes, 123456);
    assert_int_equal(put_blob(f->c, 10, 1, a), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 20, 2, b), PG_CACHE_OK);
    /* The same blob again does not count twice. */
    assert_int_equal(put_blob(f->c, 20, 2, b), PG_CACHE_OK);
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_count, 2);
    assert_int_equal(st.blob_bytes, 30);
    assert_int_equal(pg_blob_remove(f->c, a, &err), PG_CACHE_OK);
    assert_false(blob_file_exists(f, a));
    assert_int_equal(pg_blob_remove(f->c, a, &err), PG_CACHE_NOTFOUND);
    assert_int_equal(err.code, PG_CACHE_OK);
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_count, 1);
    assert_int_equal(st.blob_bytes, 20);
    reopen(f, 0);
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_count, 1);
    assert_int_equal(st.blob_bytes, 20);
    assert_int_equal(st.max_bytes, 0);
}

static void
read_only_handle_adopts_recorded_cap_and_sees_blobs(void **state)
{
    struct fx *f = *state;
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };
    struct pg_cache_stats st;
    struct pg_cache *ro;
    struct pg_blob_writer *w;
    char a[65];
    int fd;

    reopen(f, 5555);
    assert_int_equal(put_blob(f->c, 10, 1, a), PG_CACHE_OK);
    pg_cache_close(f->c);
    f->c = NULL;
    opt.dir = f->dir;
    opt.read_only = 1;
    opt.use_recorded_cap = 1;
    assert_int_equal(pg_cache_open(&opt, &ro, &err), PG_CACHE_OK);
    pg_cache_stats(ro, &st);
    assert_int_equal(st.max_bytes, 5555);
    assert_int_equal(st.blob_count, 1);
    assert_int_equal(pg_blob_open(ro, a, &fd, NULL, &err), PG_CACHE_OK);
    close(fd);
    assert_int_equal(pg_blob_begin(ro, &w, &err), PG_CACHE_EINVAL);
    pg_cache_close(ro);
    assert_int_equal(open_cap(f->dir, 0, &f->c), PG_CACHE_OK);
}

static void
gc_removes_stale_temps_orphans_and_dangling_records(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_cache_gc_result res;
    struct pg_cache_stats st;
    struct timespec old[2];
    char a[65], b[65], path[4096], orphan[4096];
    int fd;

    assert_int_equal(put_blob(f->c, 100, 1, a), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 200, 2, b), PG_CACHE_OK);
    /* a's file disappears behind the cache's back. */
    snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, a, a);
    assert_int_equal(unlink(path), 0);
    /* An unrecorded blob file, two hours old, and a fresh one. */
    snprintf(orphan, sizeof(orphan), "%s/blobs/%.2s/%.2s%062d", f->dir, b,
        b, 0);
    fd = open(orphan, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    close(fd);
    old[0].tv_sec = time(NULL) - 2 * PG_CACHE_GC_GRACE_S;
    old[0].tv_nsec = 0;
    old[1] = old[0];
    assert_int_equal(utimensat(AT_FDCWD, orphan, old, 0), 0);
    /* A stale temp file and a fresh one (someone is writing it). */
    snprintf(path, sizeof(path), "%s/tmp/blob.stale", f->dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    snprintf(path, sizeof(path), "%s/tmp/blob.fresh", f->dir);
    fd = open(path, O_WRONLY | O_CREAT, 0600);
    close(fd);

    assert_int_equal(pg_cache_gc(f->c, &res, &err), PG_CACHE_OK);
    assert_int_equal(res.records_dropped, 1);
    assert_int_equal(res.orphans_removed, 1);
    assert_int_equal(res.tmp_removed, 1);
    assert_int_equal(res.evicted, 0);
    assert_int_equal(tmp_files(f), 1);
    assert_int_equal(access(orphan, F_OK), -1);
    assert_int_equal(pg_blob_exists(f->c, a), 0);
    assert_int_equal(pg_blob_exists(f->c, b), 1);
    pg_cache_stats(f->c, &st);
    assert_int_equal(st.blob_count, 1);
    assert_int_equal(st.blob_bytes, 200);
}

struct worker_arg {
    struct pg_cache *c;
    unsigned base;
    int failures;
};

static void *
committer(void *p)
{
    struct worker_arg *a = p;
    struct pg_cache_err err = { 0 };
    unsigned char buf[300];
    char hex[65];
    unsigned i;

    for (i = 0; i < 25; i++) {
        struct pg_blob_writer *w;

        make_content(buf, sizeof(buf), a->base + i, hex);
        if (pg_blob_begin(a->c, &w, &err) != PG_CACHE_OK
            || pg_blob_write(w, buf, sizeof(buf), &err) != PG_CACHE_OK
            || pg_blob_commit(w, hex, &err) != PG_CACHE_OK)
        {
            a->failures++;
        }
        if (i % 5 == 0 && pg_cache_flush(a->c, &err) != PG_CACHE_OK) {
            a->failures++;
        }
    }
    return NULL;
}

static void
commits_and_flushes_on_threads_while_opening(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_cache_stats st;
    struct worker_arg args[3];
    pthread_t th[3];
    char first[65];
    int i, j, fd;

    reopen(f, 300 * 40);
    assert_int_equal(put_blob(f->c, 300, 999, first), PG_CACHE_OK);
    for (i = 0; i < 3; i++) {
        args[i].c = f->c;
        args[i].base = (unsigned) i * 100;
        args[i].failures = 0;
        assert_int_equal(pthread_create(&th[i], NULL, committer, &args[i]),
            0);
    }
    /* The loop thread keeps reading the first blob meanwhile. */
    for (j = 0; j < 200; j++) {
        if (pg_blob_open(f->c, first, &fd, NULL, &err) == PG_CACHE_OK) {
            close(fd);
        }
    }
    for (i = 0; i < 3; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    assert_int_equal(err.code, PG_CACHE_OK);
    pg_cache_stats(f->c, &st);
    assert_true(st.blob_bytes <= 300 * 40);
    assert_int_equal(st.blob_count * 300, st.blob_bytes);
    assert_int_equal(st.blob_count + st.evictions, 76);
}

static int
populate_main(const char *dir, long n, long size)
{
    struct pg_cache *c;
    struct pg_cache_err err = { 0 };
    char hex[65];
    long i;
    int rc = 0;

    if (open_cap(dir, 1000000, &c) != PG_CACHE_OK) {
        return 2;
    }
    for (i = 0; i < n && rc == 0; i++) {
        struct pg_blob_writer *w;
        unsigned char *buf = malloc((size_t) size + 1);

        if (buf == NULL) {
            return 1;
        }
        make_content(buf, (size_t) size, (unsigned) i, hex);
        if (pg_blob_begin(c, &w, &err) != PG_CACHE_OK
            || pg_blob_write(w, buf, (size_t) size, &err) != PG_CACHE_OK
            || pg_blob_commit(w, hex, &err) != PG_CACHE_OK)
        {
            fprintf(stderr, "populate: %s: %s\n", err.step, err.reason);
            rc = 1;
        }
        free(buf);
    }
    if (pg_cache_put(c, PG_CACHE_DB_INDEX, "demo", 4, "{}", 2, &err) != 0
        || pg_cache_put(c, PG_CACHE_DB_FILES, "f1", 2, "{}", 2, &err) != 0
        || pg_cache_put(c, PG_CACHE_DB_FILES, "f2", 2, "{}", 2, &err) != 0)
    {
        rc = 1;
    }
    pg_cache_close(c);
    return rc;
}

/* pg_cache_generation: unchanged by reads, changed by every
 * write (put, del). */
static void
generation_changes_on_every_write(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    void *val = NULL;
    size_t len = 0;
    uint64_t g0, g1, g2;

    g0 = pg_cache_generation(f->c);
    assert_true(g0 != 0);
    assert_int_equal(pg_cache_get(f->c, PG_CACHE_DB_PATHS, "k", 1, &val,
        &len, &err), PG_CACHE_NOTFOUND);
    assert_true(pg_cache_generation(f->c) == g0);
    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_PATHS, "k", 1, "v", 1,
        &err), PG_CACHE_OK);
    g1 = pg_cache_generation(f->c);
    assert_true(g1 != g0 && g1 != 0);
    assert_int_equal(pg_cache_del(f->c, PG_CACHE_DB_PATHS, "k", 1, &err),
        PG_CACHE_OK);
    g2 = pg_cache_generation(f->c);
    assert_true(g2 != g1 && g2 != g0 && g2 != 0);
}

/* pg_blob_reader: the temp file's bytes, readable while (and after) the
 * blob is committed under its final name, or after it was aborted. */
static void
reader_reads_written_bytes_across_commit_and_abort(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_writer *w;
    unsigned char buf[5000], back[6000];
    char hex[65], got[65];
    int fd, i;

    for (i = 0; i < 2; i++) {
        make_content(buf, sizeof(buf), 40 + (unsigned)i, hex);
        assert_int_equal(pg_blob_begin(f->c, &w, &err), PG_CACHE_OK);
        assert_int_equal(pg_blob_write(w, buf, sizeof(buf), &err),
            PG_CACHE_OK);
        pg_blob_digest(w, got);
        assert_string_equal(got, hex);
        fd = pg_blob_reader(w);
        assert_true(fd >= 0);
        if (i == 0) {
            assert_int_equal(pg_blob_commit(w, hex, &err), PG_CACHE_OK);
            assert_true(blob_file_exists(f, hex));
        } else {
            pg_blob_abort(w);
            assert_int_equal(tmp_files(f), 0);
        }
        assert_int_equal(pread(fd, back, sizeof(back), 0), sizeof(buf));
        assert_memory_equal(back, buf, sizeof(buf));
        assert_int_equal(write(fd, "x", 1), -1);    /* read-only */
        close(fd);
    }
}

/* Flips one byte of a committed blob's file. */
static void
flip_blob_byte(const struct fx *f, const char *hex, off_t at)
{
    char path[4096];
    unsigned char b;
    int fd;

    snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, hex, hex);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x01;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void
committed_blob_is_verified_reopened_blob_is_not(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char hex[65];
    uint64_t bytes;

    assert_int_equal(put_blob(f->c, 5000, 1, hex), PG_CACHE_OK);
    assert_true(pg_blob_verified(f->c, hex));
    reopen(f, 0);
    assert_false(pg_blob_verified(f->c, hex));
    assert_int_equal(pg_blob_verify(f->c, hex, &bytes, &err), PG_CACHE_OK);
    assert_int_equal(bytes, 5000);
    assert_true(pg_blob_verified(f->c, hex));
}

static void
verify_removes_a_flipped_blob(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char hex[65], other[65];

    assert_int_equal(put_blob(f->c, 70000, 2, hex), PG_CACHE_OK);
    assert_int_equal(put_blob(f->c, 3000, 3, other), PG_CACHE_OK);
    reopen(f, 0);
    flip_blob_byte(f, hex, 65000);
    assert_int_equal(pg_blob_verify(f->c, hex, NULL, &err),
        PG_CACHE_EDAMAGED);
    assert_non_null(strstr(err.reason, hex));
    assert_false(pg_blob_verified(f->c, hex));
    assert_false(pg_blob_exists(f->c, hex));
    assert_false(blob_file_exists(f, hex));
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_blob_verify(f->c, hex, NULL, &err),
        PG_CACHE_NOTFOUND);
    assert_int_equal(pg_blob_verify(f->c, other, NULL, &err), PG_CACHE_OK);
}

static void
verified_set_forgets_one_and_keeps_the_rest(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char hex[40][65];
    int i;

    for (i = 0; i < 40; i++) {
        assert_int_equal(put_blob(f->c, 100 + (size_t) i, 10 + (unsigned) i,
            hex[i]), PG_CACHE_OK);
    }
    for (i = 0; i < 40; i += 3) {
        assert_int_equal(pg_blob_remove(f->c, hex[i], &err), PG_CACHE_OK);
    }
    for (i = 0; i < 40; i++) {
        assert_int_equal(pg_blob_verified(f->c, hex[i]), i % 3 != 0);
    }
}

static void
scrub_walks_every_blob_in_steps_and_removes_damaged_ones(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_blob_scrub *sc;
    struct pg_blob_scrub_result res;
    char hex[6][65];
    uint64_t checked = 0, damaged = 0, bytes = 0, steps = 0;
    int i;

    for (i = 0; i < 6; i++) {
        assert_int_equal(put_blob(f->c, 40000, 20 + (unsigned) i, hex[i]),
            PG_CACHE_OK);
    }
    reopen(f, 0);
    flip_blob_byte(f, hex[1], 0);
    flip_blob_byte(f, hex[4], 39999);
    assert_int_equal(pg_blob_scrub_new(&sc), PG_CACHE_OK);
    do {
        assert_int_equal(pg_blob_scrub_step(f->c, sc, 10000, &res, &err),
            PG_CACHE_OK);
        assert_true(res.bytes <= 10000);
        assert_true(res.damaged <= 1);
        if (res.damaged) {
            assert_true(strcmp(res.damaged_hex, hex[1]) == 0
                || strcmp(res.damaged_hex, hex[4]) == 0);
        }
        checked += res.checked;
        damaged += res.damaged;
        bytes += res.bytes;
        steps++;
    } while (!res.pass_done && steps < 1000);
    pg_blob_scrub_free(sc);
    assert_int_equal(checked, 6);
    assert_int_equal(damaged, 2);
    assert_int_equal(bytes, 6 * 40000);
    assert_true(steps >= 24);
    for (i = 0; i < 6; i++) {
        int bad = i == 1 || i == 4;

        assert_int_equal(pg_blob_exists(f->c, hex[i]), !bad);
        assert_int_equal(pg_blob_verified(f->c, hex[i]), !bad);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        T(committed_blob_opens_with_its_bytes),
        T(digest_is_sha256_of_written_bytes),
        T(hash_mismatch_deletes_temp_and_returns_ehash),
        T(abort_deletes_temp),
        T(bad_hex_is_rejected),
        T(missing_blob_is_notfound),
        T(temp_leftovers_removed_at_open),
        T(second_process_open_keeps_temp_files_in_use),
        T(committed_blobs_visible_after_reopen),
        T(lru_evicts_least_recently_opened_first),
        T(lru_order_without_opens_is_commit_order),
        T(flushed_access_times_survive_reopen),
        T(close_writes_batched_access_times),
        T(flush_evicts_down_to_a_lowered_cap),
        T(cap_is_respected_over_many_commits),
        T(blob_at_cap_is_kept_over_cap_is_refused),
        T(stats_count_blobs_and_bytes),
        T(read_only_handle_adopts_recorded_cap_and_sees_blobs),
        T(gc_removes_stale_temps_orphans_and_dangling_records),
        T(commits_and_flushes_on_threads_while_opening),
        T(generation_changes_on_every_write),
        T(reader_reads_written_bytes_across_commit_and_abort),
        T(committed_blob_is_verified_reopened_blob_is_not),
        T(verify_removes_a_flipped_blob),
        T(verified_set_forgets_one_and_keeps_the_rest),
        T(scrub_walks_every_blob_in_steps_and_removes_damaged_ones),
    };

    if (argc == 5 && strcmp(argv[1], "--populate") == 0) {
        return populate_main(argv[2], strtol(argv[3], NULL, 10),
            strtol(argv[4], NULL, 10));
    }
    if (argc == 3 && strcmp(argv[1], "--open-rw") == 0) {
        struct pg_cache *c;

        if (open_cap(argv[2], 0, &c) != PG_CACHE_OK) {
            return 2;
        }
        pg_cache_close(c);
        return 0;
    }
    if (argc == 2) {
        size_t i, found = 0;

        /* A name that matches no test must fail, not pass empty. */
        for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
            found += strcmp(tests[i].name, argv[1]) == 0;
        }
        if (found != 1) {
            fprintf(stderr, "no test named %s\n", argv[1]);
            return 1;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
