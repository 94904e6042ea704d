/* proxy/cmd_cache.c — `provgate cache stats|gc`: inspect and tidy a cache.
 *
 * stats opens the cache directory read-only (safe while the server runs)
 * and prints the blob count, bytes and cap and the entry count of every
 * database.  gc opens it read-write (LMDB lets it share the directory with
 * a running server), evicts least recently used blobs down to the cap, and
 * deletes stale temp files, unrecorded blob files and records whose file is
 * gone (pg_cache_gc).  The cap is the one the server recorded in the cache
 * (its cache_max_bytes) unless --max-bytes gives another.
 *
 * Exit status: 0 done, 1 the cache could not be read or changed, 2 usage.
 *
 * Owns: the cache handle it opens.  Runs on: the CLI process.
 * Spec: design §8–9; issue 2 item 5.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        "\n"
        "  stats   blob count, bytes and cap; entries per database\n"
        "  gc      evict least recently used blobs down to the cap; delete\n"
        "          stale temp files, unrecorded blob files, dangling records\n"
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

/* Returns 0, or 2 after printing why. */
static int
parse_args(int argc, char **argv, struct cache_args *a)
{
    int i;

    a->dir = "./var";
    a->max_bytes = 0;
    a->have_max = 0;
    for (i = 2; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        size_t n;

        if (strcmp(arg, "--cache-dir") == 0
            || strcmp(arg, "--max-bytes") == 0)
        {
            if (i + 1 >= argc) {
                fprintf(stderr, "provgate: cache: %s needs a value\n", arg);
                return 2;
            }
            val = argv[++i];
            n = strlen(arg);
        } else if (strncmp(arg, "--cache-dir=", 12) == 0
            || strncmp(arg, "--max-bytes=", 12) == 0)
        {
            val = arg + 12;
            n = 11;
        } else {
            fprintf(stderr, "provgate: cache: unknown argument '%s'\n", arg);
            return 2;
        }
        if (strncmp(arg, "--cache-dir", n) == 0) {
            if (val[0] == '\0') {
                fprintf(stderr, "provgate: cache: empty --cache-dir\n");
                return 2;
            }
            a->dir = val;
        } else {
            if (parse_size(val, &a->max_bytes) != 0) {
                fprintf(stderr, "provgate: cache: --max-bytes: '%s' is not "
                    "a size (e.g. 10G)\n", val);
                return 2;
            }
            a->have_max = 1;
        }
    }
    return 0;
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

int
pg_cmd_cache(int argc, char **argv)
{
    struct cache_args a;
    int rc;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0))
    {
        cache_usage(stdout);
        return 0;
    }
    if (argc < 2 || (strcmp(argv[1], "stats") != 0
        && strcmp(argv[1], "gc") != 0))
    {
        if (argc >= 2) {
            fprintf(stderr, "provgate: cache: unknown action '%s'\n",
                argv[1]);
        }
        cache_usage(stderr);
        return 2;
    }
    rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        cache_usage(stderr);
        return rc;
    }
    if (strcmp(argv[1], "stats") == 0) {
        return run_stats(&a);
    }
    return run_gc(&a);
}
