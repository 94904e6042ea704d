/* proxy/cli/cmd_cache.c — `provgate cache stats|gc|check|rebuild|verify`:
 * inspect, tidy and repair a cache.
 *
 * stats opens the cache directory read-only (safe while the server runs)
 * and prints the blob count, bytes and cap and the entry count of every
 * database.  gc opens it read-write (LMDB lets it share the directory with
 * a running server), evicts least recently used blobs down to the cap, and
 * deletes stale temp files, unrecorded blob files and records whose file is
 * gone (pg_cache_gc).  The cap is the one the server recorded in the cache
 * (its cache_max_bytes) unless --max-bytes gives another.
 *
 * check reads every page of state.lmdb (pg_cache_check) in a child
 * process: a damaged file that makes the reader fault is reported as
 * damaged, not as a crash of the tool.  rebuild moves a damaged state aside
 * (pg_cache_rebuild; refused while a server has the cache open) so the
 * next start is empty.  verify re-hashes every blob and removes those
 * whose bytes are not their sha256 (fetched again on the next request).
 *
 * Exit status: 0 done (check: not damaged; verify: no damaged blob), 1 the
 * cache is damaged or could not be read or changed, 2 usage.
 *
 * Owns: the cache handle it opens.  Runs on: the CLI process.
 * Spec: design §8–9; issue 2 item 5; issue 10 item 3.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_int.h"
#include "config_int.h"
#include "pg_cache.h"

struct cache_args {
    const char *dir;
    uint64_t max_bytes;
    int have_max;
};

static void
cache_usage(FILE *out)
{
    fprintf(out,
        "usage: provgate cache stats [--cache-dir DIR] [--max-bytes SIZE]\n"
        "       provgate cache gc [--cache-dir DIR] [--max-bytes SIZE]\n"
        "       provgate cache check|rebuild|verify [--cache-dir DIR]\n"
        "\n"
        "  stats   blob count, bytes and cap; entries per database\n"
        "  gc      evict least recently used blobs down to the cap; delete\n"
        "          stale temp files, unrecorded blob files, dangling records\n"
        "  check   read every page of state.lmdb; exit 1 if it is damaged\n"
        "  rebuild move state.lmdb aside (state.lmdb.damaged-TIME) so the\n"
        "          next start is empty; refused while a server runs\n"
        "  verify  re-hash every blob; remove those whose bytes are not\n"
        "          their sha256 (exit 1 if any)\n"
        "\n"
        "  --cache-dir DIR   the cache directory (default ./var)\n"
        "  --max-bytes SIZE  cap to report/enforce instead of the one the\n"
        "                    server recorded (bytes; K, M, G, T = powers of\n"
        "                    1000, KiB, MiB, GiB, TiB = of 1024; 0 = unlimited)\n");
}

/* A size as provgate.conf writes it (pg_conf_bytes: K/M/G/T are powers of
 * 1000, KiB/MiB/GiB/TiB of 1024), so "--max-bytes 10G" means what
 * "cache_max_bytes = 10G" means; -1 on anything else. */
static int
parse_size(const char *s, uint64_t *out)
{
    struct pg_directive d;

    memset(&d, 0, sizeof(d));
    d.name = "max-bytes";
    d.min = 0;
    d.max = INT64_MAX;
    return s != NULL && pg_conf_bytes(&d, out, s) == NULL ? 0 : -1;
}

enum cache_flag { CACHE_DIR, CACHE_MAX_BYTES };

static const struct pg_cmd_flag cache_flags[] = {
    [CACHE_DIR] = { "cache-dir", 1 },
    [CACHE_MAX_BYTES] = { "max-bytes", 1 },
};

static int
cache_on_arg(void *arg, int flag, const char *val)
{
    struct cache_args *a = arg;

    if (flag == CACHE_DIR) {
        if (val[0] == '\0') {
            fprintf(stderr, "provgate: cache: empty --cache-dir\n");
            return 2;
        }
        a->dir = val;
    } else if (flag == CACHE_MAX_BYTES) {
        if (parse_size(val, &a->max_bytes) != 0) {
            fprintf(stderr, "provgate: cache: --max-bytes: '%s' is not "
                "a size (e.g. 10G)\n", val);
            return 2;
        }
        a->have_max = 1;
    } else {
        fprintf(stderr, "provgate: cache: unknown argument '%s'\n", val);
        return 2;
    }
    return 0;
}

/* argv[0]: the action.  Returns 0, PG_CMD_HELP, or 2 after printing
 * why. */
static int
parse_args(int argc, char **argv, struct cache_args *a)
{
    char bad[256];
    int rc;

    a->dir = "./var";
    a->max_bytes = 0;
    a->have_max = 0;
    rc = pg_cmd_getopt(argc, argv, cache_flags, sizeof(cache_flags)
        / sizeof(cache_flags[0]), cache_on_arg, a, bad, sizeof(bad));
    if (rc == PG_CMD_NO_VALUE) {
        fprintf(stderr, "provgate: cache: %s needs a value\n", bad);
        return 2;
    }
    if (rc == PG_CMD_UNKNOWN) {
        fprintf(stderr, "provgate: cache: unknown argument '%s'\n", bad);
        return 2;
    }
    return rc;
}

static void
print_cap(uint64_t max_bytes)
{
    if (max_bytes == 0) {
        printf("max_bytes: unlimited\n");
    } else {
        printf("max_bytes: %llu\n", (unsigned long long) max_bytes);
    }
}

static int
open_cache(const struct cache_args *a, int read_only, struct pg_cache **c)
{
    struct pg_cache_options opt = { 0 };
    struct pg_cache_err err = { 0 };

    opt.dir = a->dir;
    opt.read_only = read_only;
    opt.use_recorded_cap = 1;
    if (pg_cache_open(&opt, c, &err) != PG_CACHE_OK) {
        fprintf(stderr, "provgate: cache: %s: %s: %s\n", a->dir,
            err.step != NULL ? err.step : "open", err.reason);
        return 1;
    }
    if (a->have_max) {
        pg_cache_set_max_bytes(*c, a->max_bytes);
    }
    return 0;
}

static int
run_stats(const struct cache_args *a)
{
    struct pg_cache *c;
    struct pg_cache_stats st;
    struct pg_cache_err err = { 0 };
    int i, rc = 0;

    if (open_cache(a, 1, &c) != 0) {
        return 1;
    }
    pg_cache_stats(c, &st);
    printf("cache: %s\n", a->dir);
    printf("blob_count: %llu\n", (unsigned long long) st.blob_count);
    printf("blob_bytes: %llu\n", (unsigned long long) st.blob_bytes);
    print_cap(st.max_bytes);
    for (i = 0; i < PG_CACHE_DB_COUNT; i++) {
        uint64_t n;

        if (pg_cache_count(c, (enum pg_cache_db) i, &n, &err)
            != PG_CACHE_OK)
        {
            fprintf(stderr, "provgate: cache: %s: %s: %s\n", a->dir,
                err.step, err.reason);
            rc = 1;
            break;
        }
        printf("entries.%s: %llu\n", pg_cache_db_name((enum pg_cache_db) i),
            (unsigned long long) n);
    }
    pg_cache_close(c);
    return rc;
}

static int
run_gc(const struct cache_args *a)
{
    struct pg_cache *c;
    struct pg_cache_stats st;
    struct pg_cache_gc_result res;
    struct pg_cache_err err = { 0 };
    int rc;

    if (open_cache(a, 0, &c) != 0) {
        return 1;
    }
    rc = pg_cache_gc(c, &res, &err);
    printf("evicted: %llu blobs, %llu bytes\n",
        (unsigned long long) res.evicted,
        (unsigned long long) res.evicted_bytes);
    printf("tmp_removed: %llu\n", (unsigned long long) res.tmp_removed);
    printf("orphans_removed: %llu\n",
        (unsigned long long) res.orphans_removed);
    printf("records_dropped: %llu\n",
        (unsigned long long) res.records_dropped);
    pg_cache_stats(c, &st);
    printf("blob_count: %llu\n", (unsigned long long) st.blob_count);
    printf("blob_bytes: %llu\n", (unsigned long long) st.blob_bytes);
    print_cap(st.max_bytes);
    pg_cache_close(c);
    if (rc != PG_CACHE_OK) {
        fprintf(stderr, "provgate: cache: %s: %s: %s\n", a->dir, err.step,
            err.reason);
        return 1;
    }
    return 0;
}

/* pg_cache_check in a child: a fault while reading is damage too. */
static int
run_check(const struct cache_args *a)
{
    struct pg_cache_err err = { 0 };
    uint64_t entries = 0;
    int fds[2], status;
    pid_t pid;
    char msg[256];
    ssize_t n;

    if (pipe(fds) != 0) {
        fprintf(stderr, "provgate: cache: check: pipe: %s\n",
            strerror(errno));
        return 1;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        fprintf(stderr, "provgate: cache: check: fork: %s\n",
            strerror(errno));
        close(fds[0]);
        close(fds[1]);
        return 1;
    }
    if (pid == 0) {
        int rc;

        close(fds[0]);
        rc = pg_cache_check(a->dir, &entries, &err);
        if (rc == PG_CACHE_OK) {
            n = snprintf(msg, sizeof(msg), "%llu",
                (unsigned long long) entries);
        } else {
            n = snprintf(msg, sizeof(msg), "%s", err.reason);
        }
        if (write(fds[1], msg, n > 0 ? (size_t) n : 0) < 0) {
            _exit(3);
        }
        _exit(rc == PG_CACHE_OK ? 0 : rc == PG_CACHE_EDAMAGED ? 1 : 2);
    }
    close(fds[1]);
    n = read(fds[0], msg, sizeof(msg) - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            fprintf(stderr, "provgate: cache: check: wait: %s\n",
                strerror(errno));
            return 1;
        }
    }
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "provgate: cache: %s/state.lmdb/data.mdb: damaged "
            "(reading it faulted with signal %d)\n", a->dir,
            WTERMSIG(status));
        return 1;
    }
    if (WEXITSTATUS(status) == 0) {
        printf("cache: %s\nstate: ok (%s entries read)\n", a->dir, msg);
        return 0;
    }
    fprintf(stderr, "provgate: cache: %s\n", msg[0] != '\0' ? msg
        : "check failed");
    return 1;
}

static int
run_rebuild(const struct cache_args *a)
{
    struct pg_cache_err err = { 0 };
    struct pg_cache_options opt = { 0 };
    struct pg_cache *c = NULL;
    char moved[PG_CACHE_MAX_DIR + 64];

    if (pg_cache_rebuild(a->dir, moved, sizeof(moved), &err)
        != PG_CACHE_OK)
    {
        fprintf(stderr, "provgate: cache: rebuild: %s\n", err.reason);
        return 1;
    }
    printf("moved: %s\n", moved);
    opt.dir = a->dir;
    opt.use_recorded_cap = 1;
    if (pg_cache_open(&opt, &c, &err) != PG_CACHE_OK) {
        fprintf(stderr, "provgate: cache: %s: %s: %s\n", a->dir,
            err.step != NULL ? err.step : "open", err.reason);
        return 1;
    }
    pg_cache_close(c);
    printf("state: new and empty (blob files stay; `provgate cache gc` "
        "removes them once unrecorded for an hour)\n");
    return 0;
}

static int
run_verify(const struct cache_args *a)
{
    struct pg_cache *c;
    struct pg_blob_scrub *sc = NULL;
    struct pg_blob_scrub_result res;
    struct pg_cache_err err = { 0 };
    uint64_t checked = 0, damaged = 0, bytes = 0;
    int rc = 0;

    if (open_cache(a, 0, &c) != 0) {
        return 1;
    }
    if (pg_blob_scrub_new(&sc) != PG_CACHE_OK) {
        fprintf(stderr, "provgate: cache: verify: out of memory\n");
        pg_cache_close(c);
        return 1;
    }
    do {
        if (pg_blob_scrub_step(c, sc, UINT64_MAX, &res, &err)
            != PG_CACHE_OK)
        {
            fprintf(stderr, "provgate: cache: verify: %s\n", err.reason);
            rc = 1;
            break;
        }
        checked += res.checked;
        damaged += res.damaged;
        bytes += res.bytes;
        if (res.damaged > 0) {
            fprintf(stderr, "provgate: cache: %s: damaged (%s)\n", a->dir,
                res.reason);
        }
    } while (!res.pass_done);
    pg_blob_scrub_free(sc);
    pg_cache_close(c);
    printf("checked: %llu blobs, %llu bytes\ndamaged: %llu (removed)\n",
        (unsigned long long) checked, (unsigned long long) bytes,
        (unsigned long long) damaged);
    return rc != 0 || damaged > 0 ? 1 : 0;
}

static const struct {
    const char *name;
    int (*run)(const struct cache_args *a);
} cache_actions[] = {
    { "stats", run_stats },
    { "gc", run_gc },
    { "check", run_check },
    { "rebuild", run_rebuild },
    { "verify", run_verify },
};

int
pg_cmd_cache(int argc, char **argv)
{
    struct cache_args a;
    size_t i, n = sizeof(cache_actions) / sizeof(cache_actions[0]);
    int rc;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0))
    {
        cache_usage(stdout);
        return 0;
    }
    for (i = 0; argc >= 2 && i < n; i++) {
        if (strcmp(argv[1], cache_actions[i].name) == 0) {
            break;
        }
    }
    if (argc < 2 || i == n) {
        if (argc >= 2) {
            fprintf(stderr, "provgate: cache: unknown action '%s'\n",
                argv[1]);
        }
        cache_usage(stderr);
        return 2;
    }
    rc = parse_args(argc - 1, argv + 1, &a);
    if (rc == PG_CMD_HELP) {
        cache_usage(stdout);
        return 0;
    }
    if (rc != 0) {
        cache_usage(stderr);
        return rc;
    }
    return cache_actions[i].run(&a);
}
