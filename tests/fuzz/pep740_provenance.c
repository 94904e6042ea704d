/* tests/fuzz/pep740_provenance.c — libFuzzer: PEP 740 provenance objects.
 *
 * Input: one Integrity API provenance document.  Seeds: the PyPI
 * .provenance vectors.  Verified under the production root for the file
 * pypi_attestations-0.0.19.tar.gz (its real digest), so that seed verifies
 * completely; inputs of odd length also pin the expected publisher.
 * Entry point: pg_pep740_verify_provenance.
 * Runs on: the fuzzer.  Spec: sigstore-verification §1.1, §1.4, §4, §5.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "pg_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_publisher expected, seen;
    struct pg_sig_err err;
    char reason[160];

    if (pg_publisher_parse("github:trailofbits/pypi-attestations:release.yml",
            &expected, reason, sizeof reason) != 0)
        abort();
    (void) pg_pep740_verify_provenance(fuzz_prod_root(), (const char *) data,
        size, "pypi_attestations-0.0.19.tar.gz", fuzz_sha_pypi_attestations,
        size % 2 == 1 ? &expected : NULL, &seen, &err);
    return 0;
}
