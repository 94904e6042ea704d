/* tests/fuzz/pep740_attestation.c — libFuzzer: PEP 740 attestation objects.
 *
 * Input: one attestation object (JSON).  Seeds: the PyPI .attestation
 * vectors.  The input is placed, byte for byte, as the only attestation of
 * a provenance object whose publisher is the real one of
 * pypi_attestations-0.0.19, then verified under the production root for
 * that file; so the attestation → bundle conversion (§1.4) and every step
 * after it see the fuzzed bytes.
 * Entry point: pg_pep740_verify_provenance.
 * Runs on: the fuzzer.  Spec: sigstore-verification §1.2, §1.4.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "pg_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char head[] =
    "{\"version\":1,\"attestation_bundles\":[{\"publisher\":{\"kind\":"
    "\"GitHub\",\"repository\":\"trailofbits/pypi-attestations\","
    "\"workflow\":\"release.yml\",\"environment\":null},"
    "\"attestations\":[";
static const char tail[] = "]}]}";

/* bigger than any real attestation, far under the verifier's JSON cap */
#define FUZZ_MAX_ATTESTATION (1024u * 1024u)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_publisher seen;
    struct pg_sig_err err;
    size_t len = sizeof head - 1 + size + sizeof tail - 1;
    char *doc;

    if (size > FUZZ_MAX_ATTESTATION)
        return 0;
    doc = malloc(len);
    if (doc == NULL)
        abort();
    memcpy(doc, head, sizeof head - 1);
    memcpy(doc + sizeof head - 1, data, size);
    memcpy(doc + sizeof head - 1 + size, tail, sizeof tail - 1);
    (void) pg_pep740_verify_provenance(fuzz_prod_root(), doc, len,
        "pypi_attestations-0.0.19.tar.gz", fuzz_sha_pypi_attestations, NULL,
        &seen, &err);
    free(doc);
    return 0;
}
