/* tests/bench/pinstore/bench_pinstore_ops.c — the pin store's own costs,
 * one call at a time (a command, not a test; run.py runs it).
 *
 *   pg-bench-pinstore-ops URI N
 *
 * Opens the store at URI (lmdb:DIR or a PostgreSQL URI), then times N
 * TOFU inserts of projects it has never seen (pg_pins_insert_if_absent:
 * for PostgreSQL the one-statement write, a round trip) and N reads of
 * pins it knows (pg_pins_get: what a decision costs; for PostgreSQL the
 * local copy, no round trip), each call on its own with CLOCK_MONOTONIC.
 * Prints one line per operation: "OP n=N median_us=… p99_us=… max_us=…".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pg_policy.h"

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}

static void
report(const char *op, int64_t *ns, size_t n)
{
    qsort(ns, n, sizeof(ns[0]), cmp_i64);
    printf("%s n=%zu median_us=%.1f p99_us=%.1f max_us=%.1f\n", op, n,
        (double) ns[n / 2] / 1000.0, (double) ns[(n * 99) / 100] / 1000.0,
        (double) ns[n - 1] / 1000.0);
}

int
main(int argc, char **argv)
{
    struct pg_pinstore_opts opt;
    struct pg_policy_err err;
    struct pg_pinstore *s = NULL;
    struct pg_pin_entry e;
    struct pg_pin_set *set;
    char project[64], why[160];
    int64_t *ns, t0;
    size_t i, n;
    int created;

    if (argc != 3 || (n = strtoul(argv[2], NULL, 10)) == 0) {
        fprintf(stderr, "usage: pg-bench-pinstore-ops URI N\n");
        return 2;
    }
    ns = calloc(n, sizeof(*ns));
    set = calloc(1, sizeof(*set));
    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.uri = argv[1];
    opt.create = 1;
    if (ns == NULL || set == NULL
        || pg_pinstore_open(&opt, &s, &err) != PG_POLICY_OK)
    {
        fprintf(stderr, "pin store: %s\n", err.reason);
        return 1;
    }
    memset(&e, 0, sizeof(e));
    if (pg_publisher_parse("github:org/bench:release.yml", &e.publisher, why,
        sizeof(why)) != 0)
    {
        fprintf(stderr, "publisher: %s\n", why);
        return 1;
    }
    e.how = PG_PIN_TOFU;
    e.time = (int64_t) time(NULL);
    e.upload_time = e.time - 86400;
    memset(e.sha256, 'a', 64);
    for (i = 0; i < n; i++) {
        snprintf(project, sizeof(project), "bench-%d-%zu", (int) getpid(), i);
        snprintf(e.file, sizeof(e.file), "%s-1.0.tar.gz", project);
        t0 = now_ns();
        if (pg_pins_insert_if_absent(s, project, &e, "bench", NULL,
            &created, &err) != PG_POLICY_OK || !created)
        {
            fprintf(stderr, "insert %s: %s\n", project, err.reason);
            return 1;
        }
        ns[i] = now_ns() - t0;
    }
    report("tofu_insert", ns, n);
    for (i = 0; i < n; i++) {
        snprintf(project, sizeof(project), "bench-%d-%zu", (int) getpid(),
            (i * 7919) % n);
        t0 = now_ns();
        if (pg_pins_get(s, project, set, &err) != PG_POLICY_OK
            || set->n != 1)
        {
            fprintf(stderr, "get %s: %s\n", project, err.reason);
            return 1;
        }
        ns[i] = now_ns() - t0;
    }
    report("pin_read", ns, n);
    pg_pinstore_close(s);
    free(ns);
    free(set);
    return 0;
}
