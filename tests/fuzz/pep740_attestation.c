/* tests/fuzz/pep740_attestation.c — libFuzzer: PEP 740 attestation objects.
 *
 * Input: one attestation object (JSON).  Seeds: the PyPI .attestation
 * vectors.  Verified under the production root for the file
 * pypi_attestations-0.0.19.tar.gz (its real digest) against the GitHub
 * publisher that really signed it, so the matching seed verifies
 * completely and every step after the attestation → bundle conversion
 * (§1.4) sees the fuzzed bytes.
 * Entry points: pg_pep740_verify_attestation (pg_publisher_policy).
 * Runs on: the fuzzer.  Spec: sigstore-verification §1.2, §1.4, §3–§5.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "pg_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_publisher pub;
    struct pg_sig_policy policy;
    struct pg_pep740_opts opts;
    struct pg_sig_err err;
    char reason[160];

    if (pg_publisher_parse("github:trailofbits/pypi-attestations:release.yml",
            &pub, reason, sizeof reason) != 0)
        abort();
    pg_publisher_policy(&pub, &policy);
    memset(&opts, 0, sizeof opts);
    opts.root = fuzz_prod_root();
    (void) pg_pep740_verify_attestation(&opts, (const char *) data, size,
        "pypi_attestations-0.0.19.tar.gz", fuzz_sha_pypi_attestations,
        &policy, &err);
    return 0;
}
