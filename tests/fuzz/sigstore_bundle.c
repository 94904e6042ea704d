/* tests/fuzz/sigstore_bundle.c — libFuzzer: Sigstore bundle parse + verify.
 *
 * Input: one bundle JSON document.  Seeds: every conformance case's
 * bundle.sigstore.json and the PyPI .sigstore bundles.  Parsed bundles are
 * verified (V1–V8) under the production root with no identity policy and
 * the conformance default artifact's digest, so seeds that verify in
 * production (happy-path-*) reach every step.
 * Entry points: pg_sig_bundle_parse, pg_sig_verify, and
 * pg_sig_verify_bundle_json (the verify-bundle CLI path).
 * Runs on: the fuzzer.  Spec: sigstore-verification §1.3, §3.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_sig_limits limits;
    struct pg_sig_policy policy;
    struct pg_sig_verify_opts opts;
    struct pg_sig_bundle *bundle = NULL;
    struct pg_sig_result res;
    struct pg_sig_err err;

    pg_sig_limits_default(&limits);
    memset(&policy, 0, sizeof policy);
    policy.kind = PG_SIG_POLICY_UNSAFE_NONE;
    memset(&opts, 0, sizeof opts);
    opts.root = fuzz_prod_root();
    opts.limits = &limits;
    opts.policy = &policy;
    opts.artifact_sha256 = fuzz_sha_a_txt;

    if (pg_sig_bundle_parse((const char *) data, size, &limits, &bundle,
            &err) == 0) {
        memset(&res, 0, sizeof res);
        (void) pg_sig_verify(&opts, bundle, &res, &err);
        pg_sig_bundle_free(bundle);
    }
    /* the same input through the one-call path, with the SAN + issuer
     * policy the conformance cases use */
    policy.kind = PG_SIG_POLICY_SAN_ISSUER;
    policy.san = "https://github.com/sigstore-conformance/"
        "extremely-dangerous-public-oidc-beacon/.github/workflows/"
        "extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    policy.issuer = "https://token.actions.githubusercontent.com";
    (void) pg_sig_verify_bundle_json(&opts, (const char *) data, size, &err);
    return 0;
}
