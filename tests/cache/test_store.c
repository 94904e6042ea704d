/* tests/cache/test_store.c — the cache's key/value API over LMDB.
 *
 * Each test opens a fresh cache in its own directory under the build tree.
 * The binary runs one test when given its name (ctest registers each as
 * cache.<name>), all of them without arguments.  Run with
 * "--reader DIR KEY VALUE" it is the second process of
 * read_only_second_process_sees_writes: it opens DIR read-only and exits 0
 * only if META[KEY] == VALUE and a write is refused.
 *
 * Spec: design §8; issue 2 item 5; tests named after behaviour.
 */
#include "cache_test_util.h"

#include <errno.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "pg_cache.h"

extern char **environ;

struct fx {
    char *dir;
    struct pg_cache *c;
};

static int
open_at(const char *dir, uint64_t map_size, struct pg_cache **c)
{
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };

    opt.dir = dir;
    opt.map_size = map_size;
    return pg_cache_open(&opt, c, &err);
}

static int
setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    f->dir = ctu_mkdtemp();
    assert_non_null(f->dir);
    assert_int_equal(open_at(f->dir, 0, &f->c), PG_CACHE_OK);
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
put_s(struct pg_cache *c, enum pg_cache_db db, const char *k, const char *v)
{
    struct pg_cache_err err = { 0 };

    assert_int_equal(pg_cache_put(c, db, k, strlen(k), v, strlen(v), &err),
        PG_CACHE_OK);
}

static void
assert_value(struct pg_cache *c, enum pg_cache_db db, const char *k,
    const char *want)
{
    struct pg_cache_err err = { 0 };
    void *val;
    size_t len;

    assert_int_equal(pg_cache_get(c, db, k, strlen(k), &val, &len, &err),
        PG_CACHE_OK);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(val, want, len);
    assert_int_equal(((char *) val)[len], '\0');
    free(val);
}

static void
assert_absent(struct pg_cache *c, enum pg_cache_db db, const char *k)
{
    struct pg_cache_err err = { 0 };
    void *val = (void *) 1;
    size_t len = 7;

    assert_int_equal(pg_cache_get(c, db, k, strlen(k), &val, &len, &err),
        PG_CACHE_NOTFOUND);
    assert_null(val);
    assert_int_equal(len, 0);
    assert_int_equal(err.code, PG_CACHE_OK);
}

/* ---- tests ------------------------------------------------------------- */

static void
put_then_get_returns_a_copy(void **state)
{
    struct fx *f = *state;

    put_s(f->c, PG_CACHE_DB_INDEX, "requests", "{\"page\":1}");
    assert_value(f->c, PG_CACHE_DB_INDEX, "requests", "{\"page\":1}");
    put_s(f->c, PG_CACHE_DB_INDEX, "requests", "{\"page\":2}");
    assert_value(f->c, PG_CACHE_DB_INDEX, "requests", "{\"page\":2}");
}

static void
databases_are_separate(void **state)
{
    struct fx *f = *state;

    put_s(f->c, PG_CACHE_DB_INDEX, "k", "index");
    put_s(f->c, PG_CACHE_DB_PINS, "k", "pins");
    assert_value(f->c, PG_CACHE_DB_INDEX, "k", "index");
    assert_value(f->c, PG_CACHE_DB_PINS, "k", "pins");
    assert_absent(f->c, PG_CACHE_DB_FILES, "k");
}

static void
get_of_missing_key_is_notfound(void **state)
{
    struct fx *f = *state;

    assert_absent(f->c, PG_CACHE_DB_FILES, "nope");
}

static void
del_removes_and_missing_del_is_notfound(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };

    put_s(f->c, PG_CACHE_DB_PATHS, "/packages/a", "abc");
    assert_int_equal(pg_cache_del(f->c, PG_CACHE_DB_PATHS, "/packages/a", 11,
        &err), PG_CACHE_OK);
    assert_absent(f->c, PG_CACHE_DB_PATHS, "/packages/a");
    assert_int_equal(pg_cache_del(f->c, PG_CACHE_DB_PATHS, "/packages/a", 11,
        &err), PG_CACHE_NOTFOUND);
    assert_int_equal(err.code, PG_CACHE_OK);
}

static void
put_many_applies_puts_and_deletes_together(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_cache_op ops[3] = {
        { PG_CACHE_DB_FILES, "f1", 2, "one", 3 },
        { PG_CACHE_DB_PATHS, "p1", 2, "f1", 2 },
        { PG_CACHE_DB_INDEX, "old", 3, NULL, 0 },
    };

    put_s(f->c, PG_CACHE_DB_INDEX, "old", "x");
    assert_int_equal(pg_cache_put_many(f->c, ops, 3, &err), PG_CACHE_OK);
    assert_value(f->c, PG_CACHE_DB_FILES, "f1", "one");
    assert_value(f->c, PG_CACHE_DB_PATHS, "p1", "f1");
    assert_absent(f->c, PG_CACHE_DB_INDEX, "old");
    /* Deleting an absent key inside a batch is not an error. */
    assert_int_equal(pg_cache_put_many(f->c, &ops[2], 1, &err), PG_CACHE_OK);
}

static void
put_many_with_an_invalid_entry_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char longkey[PG_CACHE_MAX_KEY + 1];
    struct pg_cache_op ops[2] = {
        { PG_CACHE_DB_FILES, "f1", 2, "one", 3 },
        { PG_CACHE_DB_FILES, longkey, sizeof(longkey), "two", 3 },
    };

    memset(longkey, 'k', sizeof(longkey));
    assert_int_equal(pg_cache_put_many(f->c, ops, 2, &err), PG_CACHE_EINVAL);
    assert_string_equal(err.step, "put_many");
    assert_absent(f->c, PG_CACHE_DB_FILES, "f1");
}

static void
put_many_failing_inside_the_transaction_changes_nothing(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_cache *small;
    char *dir = ctu_mkdtemp();
    size_t big = 4u * 1024 * 1024;
    char *bigval = calloc(1, big);
    struct pg_cache_op ops[3] = {
        { PG_CACHE_DB_FILES, "f1", 2, "one", 3 },
        { PG_CACHE_DB_PATHS, "p1", 2, "f1", 2 },
        { PG_CACHE_DB_INDEX, "big", 3, NULL, 0 },
    };

    (void) f;
    assert_non_null(bigval);
    ops[2].val = bigval;
    ops[2].len = big;
    /* A 1 MiB map cannot take a 4 MiB value: LMDB fails mid-batch. */
    assert_int_equal(open_at(dir, 1024 * 1024, &small), PG_CACHE_OK);
    put_s(small, PG_CACHE_DB_FILES, "f1", "before");
    assert_int_equal(pg_cache_put_many(small, ops, 3, &err), PG_CACHE_EFULL);
    assert_string_equal(err.step, "put_many");
    assert_value(small, PG_CACHE_DB_FILES, "f1", "before");
    assert_absent(small, PG_CACHE_DB_PATHS, "p1");
    assert_absent(small, PG_CACHE_DB_INDEX, "big");
    pg_cache_close(small);
    free(bigval);
    ctu_rmtree(dir);
}

static void
put_many_at_op_limit_accepted_over_it_rejected(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct pg_cache_op *ops = calloc(PG_CACHE_MAX_OPS + 1, sizeof(*ops));
    char (*keys)[16] = calloc(PG_CACHE_MAX_OPS + 1, 16);
    uint64_t n;
    size_t i;

    assert_non_null(ops);
    assert_non_null(keys);
    for (i = 0; i < PG_CACHE_MAX_OPS + 1; i++) {
        snprintf(keys[i], 16, "k%05zu", i);
        ops[i].db = PG_CACHE_DB_VERDICTS;
        ops[i].key = keys[i];
        ops[i].klen = strlen(keys[i]);
        ops[i].val = "v";
        ops[i].len = 1;
    }
    assert_int_equal(pg_cache_put_many(f->c, ops, PG_CACHE_MAX_OPS + 1,
        &err), PG_CACHE_EINVAL);
    assert_string_equal(err.step, "put_many");
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_cache_count(f->c, PG_CACHE_DB_VERDICTS, &n, &err),
        PG_CACHE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(pg_cache_put_many(f->c, ops, PG_CACHE_MAX_OPS, &err),
        PG_CACHE_OK);
    assert_int_equal(pg_cache_count(f->c, PG_CACHE_DB_VERDICTS, &n, &err),
        PG_CACHE_OK);
    assert_int_equal(n, PG_CACHE_MAX_OPS);
    free(ops);
    free(keys);
}

struct seen {
    char keys[8][32];
    int n;
    int stop_after;
};

static int
on_entry(void *arg, const void *key, size_t klen, const void *val,
    size_t len)
{
    struct seen *s = arg;

    (void) val;
    (void) len;
    if (s->n < 8 && klen < 32) {
        memcpy(s->keys[s->n], key, klen);
        s->keys[s->n][klen] = '\0';
    }
    s->n++;
    return s->stop_after != 0 && s->n >= s->stop_after;
}

static void
iter_with_prefix_visits_matching_keys_in_order(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    struct seen s = { .n = 0 };

    put_s(f->c, PG_CACHE_DB_VERDICTS, "abc:2", "x");
    put_s(f->c, PG_CACHE_DB_VERDICTS, "abd:1", "x");
    put_s(f->c, PG_CACHE_DB_VERDICTS, "abc:1", "x");
    put_s(f->c, PG_CACHE_DB_VERDICTS, "ab", "x");
    put_s(f->c, PG_CACHE_DB_VERDICTS, "zzz", "x");
    assert_int_equal(pg_cache_iter(f->c, PG_CACHE_DB_VERDICTS, "abc", 3,
        on_entry, &s, &err), PG_CACHE_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.keys[0], "abc:1");
    assert_string_equal(s.keys[1], "abc:2");

    memset(&s, 0, sizeof(s));
    assert_int_equal(pg_cache_iter(f->c, PG_CACHE_DB_VERDICTS, NULL, 0,
        on_entry, &s, &err), PG_CACHE_OK);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.keys[0], "ab");
    assert_string_equal(s.keys[4], "zzz");

    memset(&s, 0, sizeof(s));
    s.stop_after = 2;
    assert_int_equal(pg_cache_iter(f->c, PG_CACHE_DB_VERDICTS, "a", 1,
        on_entry, &s, &err), PG_CACHE_OK);
    assert_int_equal(s.n, 2);

    memset(&s, 0, sizeof(s));
    assert_int_equal(pg_cache_iter(f->c, PG_CACHE_DB_VERDICTS, "q", 1,
        on_entry, &s, &err), PG_CACHE_OK);
    assert_int_equal(s.n, 0);
}

static void
values_survive_close_and_reopen(void **state)
{
    struct fx *f = *state;

    put_s(f->c, PG_CACHE_DB_PINS, "demo", "github:o/r:w.yml");
    put_s(f->c, PG_CACHE_DB_META, "schema", "1");
    pg_cache_close(f->c);
    f->c = NULL;
    assert_int_equal(open_at(f->dir, 0, &f->c), PG_CACHE_OK);
    assert_value(f->c, PG_CACHE_DB_PINS, "demo", "github:o/r:w.yml");
    assert_value(f->c, PG_CACHE_DB_META, "schema", "1");
}

static void
key_at_length_limit_is_accepted(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char key[PG_CACHE_MAX_KEY];
    void *val;
    size_t len;

    memset(key, 'a', sizeof(key));
    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_PATHS, key, sizeof(key),
        "v", 1, &err), PG_CACHE_OK);
    assert_int_equal(pg_cache_get(f->c, PG_CACHE_DB_PATHS, key, sizeof(key),
        &val, &len, &err), PG_CACHE_OK);
    assert_int_equal(len, 1);
    free(val);
}

static void
key_over_length_limit_is_rejected(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char key[PG_CACHE_MAX_KEY + 1];
    void *val;
    size_t len;

    memset(key, 'a', sizeof(key));
    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_PATHS, key, sizeof(key),
        "v", 1, &err), PG_CACHE_EINVAL);
    assert_string_equal(err.step, "put");
    assert_non_null(strstr(err.reason, "key of 512 bytes"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_cache_get(f->c, PG_CACHE_DB_PATHS, key, sizeof(key),
        &val, &len, &err), PG_CACHE_EINVAL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_PATHS, key, 0, "v", 1,
        &err), PG_CACHE_EINVAL);
}

static void
value_at_size_limit_is_accepted(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char *big = malloc(PG_CACHE_MAX_VALUE);
    void *val;
    size_t len;

    assert_non_null(big);
    memset(big, 'v', PG_CACHE_MAX_VALUE);
    big[PG_CACHE_MAX_VALUE - 1] = 'z';
    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_INDEX, "big", 3, big,
        PG_CACHE_MAX_VALUE, &err), PG_CACHE_OK);
    free(big);
    assert_int_equal(pg_cache_get(f->c, PG_CACHE_DB_INDEX, "big", 3, &val,
        &len, &err), PG_CACHE_OK);
    assert_int_equal(len, PG_CACHE_MAX_VALUE);
    assert_int_equal(((char *) val)[len - 1], 'z');
    free(val);
}

static void
value_over_size_limit_is_rejected(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char small[4] = "abc";

    /* Refused on its length, before a byte is read. */
    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_INDEX, "big", 3, small,
        (size_t) PG_CACHE_MAX_VALUE + 1, &err), PG_CACHE_EINVAL);
    assert_non_null(strstr(err.reason, "value of"));
    assert_absent(f->c, PG_CACHE_DB_INDEX, "big");
}

static void
blobs_database_is_not_writable_through_kv(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };

    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_BLOBS, "k", 1, "v", 1,
        &err), PG_CACHE_EINVAL);
    assert_string_equal(err.step, "put");
}

static void
first_failure_wins_in_err(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    char key[PG_CACHE_MAX_KEY + 1];

    memset(key, 'a', sizeof(key));
    assert_int_equal(pg_cache_del(f->c, PG_CACHE_DB_PATHS, key, sizeof(key),
        &err), PG_CACHE_EINVAL);
    assert_string_equal(err.step, "del");
    assert_int_equal(pg_cache_put(f->c, PG_CACHE_DB_BLOBS, "k", 1, "v", 1,
        &err), PG_CACHE_EINVAL);
    assert_string_equal(err.step, "del");
    assert_non_null(strstr(err.reason, "key of"));
    assert_string_equal(pg_cache_strerror(err.code), "invalid argument");
}

static void
read_only_open_of_missing_cache_fails(void **state)
{
    struct fx *f = *state;
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };
    struct pg_cache *c = (struct pg_cache *) 1;
    char path[4096];
    struct stat st;

    snprintf(path, sizeof(path), "%s/nothing-here", f->dir);
    opt.dir = path;
    opt.read_only = 1;
    assert_int_equal(pg_cache_open(&opt, &c, &err), PG_CACHE_EIO);
    assert_null(c);
    assert_string_equal(err.step, "open");
    assert_int_not_equal(stat(path, &st), 0);   /* nothing created */
}

static void
read_only_handle_refuses_writes(void **state)
{
    struct fx *f = *state;
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };
    struct pg_cache *ro;

    put_s(f->c, PG_CACHE_DB_PINS, "p", "v");
    pg_cache_close(f->c);
    f->c = NULL;
    opt.dir = f->dir;
    opt.read_only = 1;
    assert_int_equal(pg_cache_open(&opt, &ro, &err), PG_CACHE_OK);
    assert_value(ro, PG_CACHE_DB_PINS, "p", "v");
    assert_int_equal(pg_cache_put(ro, PG_CACHE_DB_PINS, "p", 1, "w", 1,
        &err), PG_CACHE_EINVAL);
    assert_non_null(strstr(err.reason, "read-only"));
    pg_cache_close(ro);
    assert_int_equal(open_at(f->dir, 0, &f->c), PG_CACHE_OK);
}

static int
spawn_reader(const char *dir, const char *key, const char *want)
{
    char self[4096];
    ssize_t n;
    pid_t pid;
    int status;
    char *argv[6];

    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    argv[0] = self;
    argv[1] = (char *) "--reader";
    argv[2] = (char *) dir;
    argv[3] = (char *) key;
    argv[4] = (char *) want;
    argv[5] = NULL;
    assert_int_equal(posix_spawn(&pid, self, NULL, NULL, argv, environ), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

static void
read_only_second_process_sees_writes(void **state)
{
    struct fx *f = *state;

    /* The writer keeps the environment open throughout. */
    put_s(f->c, PG_CACHE_DB_META, "gen", "41");
    assert_int_equal(spawn_reader(f->dir, "gen", "41"), 0);
    put_s(f->c, PG_CACHE_DB_META, "gen", "42");
    assert_int_equal(spawn_reader(f->dir, "gen", "42"), 0);
    assert_int_equal(spawn_reader(f->dir, "gen", "41"), 1);
    /* And the writer still works after the reader went away. */
    put_s(f->c, PG_CACHE_DB_META, "gen", "43");
    assert_value(f->c, PG_CACHE_DB_META, "gen", "43");
}

static int
reader_main(const char *dir, const char *key, const char *want)
{
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };
    struct pg_cache *c;
    void *val;
    size_t len;
    int rc, ok;

    opt.dir = dir;
    opt.read_only = 1;
    if (pg_cache_open(&opt, &c, &err) != PG_CACHE_OK) {
        fprintf(stderr, "reader: %s: %s\n", err.step, err.reason);
        return 2;
    }
    rc = pg_cache_get(c, PG_CACHE_DB_META, key, strlen(key), &val, &len,
        &err);
    ok = rc == PG_CACHE_OK && len == strlen(want)
        && memcmp(val, want, len) == 0;
    if (rc == PG_CACHE_OK) {
        free(val);
    }
    if (pg_cache_put(c, PG_CACHE_DB_META, key, strlen(key), "x", 1, &err)
        != PG_CACHE_EINVAL)
    {
        ok = 0;
    }
    pg_cache_close(c);
    return ok ? 0 : 1;
}

/* A path of exactly len bytes under f->dir (components of 200 bytes). */
static char *
long_path(const struct fx *f, size_t len)
{
    char *p = malloc(len + 1);
    size_t n = strlen(f->dir), comp = 200;

    assert_non_null(p);
    assert_true(n < len);
    memcpy(p, f->dir, n);
    for (; n < len; n++) {
        if (n == len - 1) {
            p[n] = 'z';
        } else if (comp == 200) {
            p[n] = '/';
            comp = 0;
        } else {
            p[n] = 'd';
            comp++;
        }
    }
    p[len] = '\0';
    return p;
}

static void
dir_path_at_limit_is_accepted(void **state)
{
    struct fx *f = *state;
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };
    struct pg_cache *c;
    char *dir = long_path(f, PG_CACHE_MAX_DIR);

    opt.dir = dir;
    assert_int_equal(pg_cache_open(&opt, &c, &err), PG_CACHE_OK);
    put_s(c, PG_CACHE_DB_META, "k", "v");
    assert_value(c, PG_CACHE_DB_META, "k", "v");
    pg_cache_close(c);
    free(dir);
}

static void
dir_path_over_limit_is_rejected(void **state)
{
    struct fx *f = *state;
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };
    struct pg_cache *c;
    char *dir = long_path(f, PG_CACHE_MAX_DIR + 1);
    struct stat st;

    opt.dir = dir;
    assert_int_equal(pg_cache_open(&opt, &c, &err), PG_CACHE_EINVAL);
    assert_null(c);
    assert_non_null(strstr(err.reason, "longer than"));
    assert_int_not_equal(stat(dir, &st), 0);
    free(dir);
}

static void
count_reports_entries_per_database(void **state)
{
    struct fx *f = *state;
    struct pg_cache_err err = { 0 };
    uint64_t n = 99;

    assert_int_equal(pg_cache_count(f->c, PG_CACHE_DB_FILES, &n, &err),
        PG_CACHE_OK);
    assert_int_equal(n, 0);
    put_s(f->c, PG_CACHE_DB_FILES, "a", "1");
    put_s(f->c, PG_CACHE_DB_FILES, "b", "2");
    assert_int_equal(pg_cache_count(f->c, PG_CACHE_DB_FILES, &n, &err),
        PG_CACHE_OK);
    assert_int_equal(n, 2);
    assert_string_equal(pg_cache_db_name(PG_CACHE_DB_FILES), "files");
    assert_string_equal(pg_cache_db_name(PG_CACHE_DB_META), "meta");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        T(put_then_get_returns_a_copy),
        T(databases_are_separate),
        T(get_of_missing_key_is_notfound),
        T(del_removes_and_missing_del_is_notfound),
        T(put_many_applies_puts_and_deletes_together),
        T(put_many_with_an_invalid_entry_changes_nothing),
        T(put_many_failing_inside_the_transaction_changes_nothing),
        T(put_many_at_op_limit_accepted_over_it_rejected),
        T(iter_with_prefix_visits_matching_keys_in_order),
        T(values_survive_close_and_reopen),
        T(key_at_length_limit_is_accepted),
        T(key_over_length_limit_is_rejected),
        T(value_at_size_limit_is_accepted),
        T(value_over_size_limit_is_rejected),
        T(blobs_database_is_not_writable_through_kv),
        T(first_failure_wins_in_err),
        T(read_only_open_of_missing_cache_fails),
        T(read_only_handle_refuses_writes),
        T(read_only_second_process_sees_writes),
        T(count_reports_entries_per_database),
        T(dir_path_at_limit_is_accepted),
        T(dir_path_over_limit_is_rejected),
    };

    if (argc == 5 && strcmp(argv[1], "--reader") == 0) {
        return reader_main(argv[2], argv[3], argv[4]);
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
