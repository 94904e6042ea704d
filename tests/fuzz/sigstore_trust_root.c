/* tests/fuzz/sigstore_trust_root.c — libFuzzer: trusted_root.json parser.
 *
 * Input: one trusted_root.json document.  Seeds: the production and staging
 * roots and every conformance case's custom root.
 * Entry point: pg_sig_trust_root_load (+ pg_sig_trust_root_id on success).
 * Runs on: the fuzzer.  Spec: sigstore-verification §2, T0.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_sig_trust_root *root = NULL;
    struct pg_sig_err err;

    if (pg_sig_trust_root_load((const char *) data, size, &root, &err) == 0) {
        if (pg_sig_trust_root_id(root) == NULL)
            abort();
        pg_sig_trust_root_free(root);
    }
    return 0;
}
