/* tests/bench/verify/bench_verify.c — verifier throughput, one thread or N.
 *
 * Verifies one PEP 740 provenance object for its distribution over and
 * over with the compiled-in production trust root, through the same entry
 * point the proxy uses (pg_pep740_verify_provenance), and prints
 * verifications per second.  Every verification is complete: the JSON,
 * base64 and DER are parsed again each time; only the trust root is loaded
 * once and shared by every thread (as in the proxy's verifier pool).  The
 * first verification must succeed, or the figure would measure a failure
 * path.
 *
 * One thread (default) divides by process CPU time, as `openssl speed`
 * does, so the figure compares with its crypto bound.  --threads N runs N
 * threads for the same wall time and divides by wall time: run.sh compares
 * it with --threads 1 (also wall time) in the same run, which shows
 * whether anything shared (the trust root, OpenSSL's stores, allocators)
 * serializes the verifiers.
 *
 * Usage: pg-bench-verify PROVENANCE DIST [--name FILENAME] [--seconds N]
 *            [--threads N] [--trust-root FILE (default: production)]
 * Output (one line each): threads=…, clock=cpu|wall, runs=…, seconds=…,
 * attestations=…, provenance_per_s=…, attestations_per_s=….  Run by run.sh.
 *
 * Owns: everything it allocates.  Runs on: its own threads.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "pg_policy.h"
#include "pg_sigstore.h"

#define BENCH_MAX_FILE (16u * 1024u * 1024u)
#define BENCH_MAX_THREADS 64

/* What every thread verifies, and until when. */
struct bench_job {
    const struct pg_sig_trust_root *root;
    const char *prov, *name;
    size_t prov_len;
    const unsigned char *sha;
    double seconds;
    atomic_int failed;
};

struct bench_thread {
    struct bench_job *job;
    pthread_t tid;
    long runs;
};

static char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n = -1;

    if (f != NULL && fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || (unsigned long) n > BENCH_MAX_FILE
        || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "pg-bench-verify: %s: cannot read\n", path);
        exit(2);
    }
    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "pg-bench-verify: %s: cannot read\n", path);
        exit(2);
    }
    buf[n] = '\0';
    fclose(f);
    *len = (size_t) n;
    return buf;
}

/* Process CPU time, the same divisor `openssl speed` uses by default (CPU
 * user time; -elapsed would switch it to wall time): on a shared machine a
 * wall-clock rate would be compared with a CPU-time bound. */
static double
clock_s(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Verifies until the job's time is up (wall clock: the threads share it);
 * stops early when another thread failed. */
static void *
bench_thread_main(void *arg)
{
    struct bench_thread *t = arg;
    struct bench_job *j = t->job;
    struct pg_publisher seen;
    struct pg_sig_err err;
    double t0 = clock_s(CLOCK_MONOTONIC);
    int batch;

    do {
        for (batch = 0; batch < 16; batch++) {
            if (pg_pep740_verify_provenance(j->root, j->prov, j->prov_len,
                    j->name, j->sha, NULL, &seen, &err) != PG_SIG_OK) {
                fprintf(stderr, "pg-bench-verify: run %ld failed: %s: %s\n",
                    t->runs, err.step, err.reason);
                atomic_store(&j->failed, 1);
                return NULL;
            }
            t->runs++;
        }
    } while (clock_s(CLOCK_MONOTONIC) - t0 < j->seconds
             && !atomic_load(&j->failed));
    return NULL;
}

/* Attestations in the provenance object (the unit of the bound). */
static size_t
count_attestations(const char *json, size_t len)
{
    json_t *doc = json_loadb(json, len, 0, NULL);
    json_t *bundles = json_object_get(doc, "attestation_bundles");
    size_t i, n = 0;

    for (i = 0; i < json_array_size(bundles); i++)
        n += json_array_size(json_object_get(json_array_get(bundles, i),
            "attestations"));
    json_decref(doc);
    return n;
}

int
main(int argc, char **argv)
{
    const char *prov_path = NULL, *dist_path = NULL, *name = NULL;
    const char *root_path = NULL;
    double seconds = 5.0, t0, t1;
    struct bench_thread threads[BENCH_MAX_THREADS];
    struct bench_job job;
    long nthreads = 0;
    clockid_t clk;
    char *prov, *dist;
    size_t prov_len, dist_len, natt;
    unsigned char sha[32];
    struct pg_sig_trust_root *root;
    struct pg_publisher seen;
    struct pg_sig_err err;
    long runs = 0;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = strtod(argv[++i], NULL);
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            nthreads = strtol(argv[++i], NULL, 10);
            if (nthreads < 1 || nthreads > BENCH_MAX_THREADS) {
                prov_path = NULL;
                break;
            }
        } else if (strcmp(argv[i], "--trust-root") == 0 && i + 1 < argc) {
            root_path = argv[++i];
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (prov_path == NULL) {
            prov_path = argv[i];
        } else if (dist_path == NULL) {
            dist_path = argv[i];
        } else {
            prov_path = NULL;
            break;
        }
    }
    if (prov_path == NULL || dist_path == NULL || seconds <= 0) {
        fprintf(stderr, "usage: pg-bench-verify PROVENANCE DIST"
            " [--name FILENAME] [--seconds N] [--threads 1..64]"
            " [--trust-root FILE]\n");
        return 2;
    }
    if (name == NULL) {
        name = strrchr(dist_path, '/');
        name = name != NULL ? name + 1 : dist_path;
    }
    prov = read_all(prov_path, &prov_len);
    dist = read_all(dist_path, &dist_len);
    EVP_Digest(dist, dist_len, sha, NULL, EVP_sha256(), NULL);
    natt = count_attestations(prov, prov_len);
    if ((root_path != NULL
            ? pg_sig_trust_root_load_file(root_path, &root, &err)
            : pg_sig_trust_root_builtin(0, &root, &err)) != PG_SIG_OK) {
        fprintf(stderr, "pg-bench-verify: root: %s: %s\n", err.step,
            err.reason);
        return 1;
    }
    if (pg_pep740_verify_provenance(root, prov, prov_len, name, sha, NULL,
            &seen, &err) != PG_SIG_OK) {
        fprintf(stderr, "pg-bench-verify: %s: %s: %s\n", prov_path,
            err.step, err.reason);
        return 1;
    }
    /* No --threads: one thread, CPU time (the crypto bound's divisor).
     * --threads N (also 1): N threads, wall time. */
    clk = nthreads == 0 ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
    if (nthreads == 0) {
        nthreads = 1;
    }
    memset(&job, 0, sizeof(job));
    job.root = root;
    job.prov = prov;
    job.prov_len = prov_len;
    job.name = name;
    job.sha = sha;
    job.seconds = seconds;
    t0 = clock_s(clk);
    for (i = 0; i < nthreads; i++) {
        threads[i].job = &job;
        threads[i].runs = 0;
        if (pthread_create(&threads[i].tid, NULL, bench_thread_main,
                &threads[i]) != 0) {
            fprintf(stderr, "pg-bench-verify: cannot start thread %d\n", i);
            return 1;
        }
    }
    for (i = 0; i < nthreads; i++) {
        pthread_join(threads[i].tid, NULL);
        runs += threads[i].runs;
    }
    t1 = clock_s(clk);
    if (atomic_load(&job.failed)) {
        return 1;
    }
    printf("threads=%ld\nclock=%s\nruns=%ld\nseconds=%.3f\n"
        "attestations=%zu\nprovenance_per_s=%.1f\nattestations_per_s=%.1f\n",
        nthreads, clk == CLOCK_MONOTONIC ? "wall" : "cpu", runs, t1 - t0,
        natt, (double) runs / (t1 - t0),
        (double) runs * (double) natt / (t1 - t0));
    pg_sig_trust_root_free(root);
    free(prov);
    free(dist);
    return 0;
}
