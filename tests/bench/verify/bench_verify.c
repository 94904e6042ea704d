/* tests/bench/verify/bench_verify.c — single-thread verifier throughput.
 *
 * Verifies one PEP 740 provenance object for its distribution over and
 * over on one thread with the compiled-in production trust root, through
 * the same entry point the proxy uses (pg_pep740_verify_provenance), and
 * prints verifications per second.  Every verification is complete: the
 * JSON, base64 and DER are parsed again each time; only the trust root is
 * loaded once (as in the proxy).  The first verification must succeed, or
 * the figure would measure a failure path.
 *
 * Usage: pg-bench-verify PROVENANCE DIST [--name FILENAME] [--seconds N]
 * Output (one line each): provenance_per_s=…, attestations=…,
 * attestations_per_s=…, runs=…, seconds=….  Run by run.sh.
 *
 * Owns: everything it allocates.  Runs on: its own (only) thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "pg_policy.h"
#include "pg_sigstore.h"

#define BENCH_MAX_FILE (16u * 1024u * 1024u)

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
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
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
    double seconds = 5.0, t0, t1;
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
            " [--name FILENAME] [--seconds N]\n");
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
    if (pg_sig_trust_root_builtin(0, &root, &err) != PG_SIG_OK) {
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
    t0 = now_s();
    do {
        int batch;

        for (batch = 0; batch < 16; batch++) {
            if (pg_pep740_verify_provenance(root, prov, prov_len, name, sha,
                    NULL, &seen, &err) != PG_SIG_OK) {
                fprintf(stderr, "pg-bench-verify: run %ld failed: %s: %s\n",
                    runs, err.step, err.reason);
                return 1;
            }
            runs++;
        }
        t1 = now_s();
    } while (t1 - t0 < seconds);
    printf("runs=%ld\nseconds=%.3f\nattestations=%zu\n"
        "provenance_per_s=%.1f\nattestations_per_s=%.1f\n", runs, t1 - t0,
        natt, (double) runs / (t1 - t0),
        (double) runs * (double) natt / (t1 - t0));
    pg_sig_trust_root_free(root);
    free(prov);
    free(dist);
    return 0;
}
