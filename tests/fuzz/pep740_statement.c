/* tests/fuzz/pep740_statement.c — libFuzzer: in-toto statement checks.
 *
 * Input: one in-toto statement (the DSSE payload).  Seeds: the statements
 * inside the PyPI vectors.  Checked for pypi_attestations-0.0.19.tar.gz
 * and its real digest, so the matching seed passes every check.
 * Entry point: pg_pep740_check_statement.
 * Runs on: the fuzzer.  Spec: sigstore-verification §5.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "pg_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_sig_err err;

    (void) pg_pep740_check_statement(data, size,
        "pypi_attestations-0.0.19.tar.gz", fuzz_sha_pypi_attestations, NULL,
        &err);
    return 0;
}
