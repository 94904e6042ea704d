/* tests/fuzz/sigstore_identity.c — libFuzzer: leaf certificate identity.
 *
 * Input: one DER certificate.  Seeds: every Fulcio leaf of the vectors
 * (the certs.json .pem files and the leaves inside the attestations).
 * Decodes every Fulcio extension (.1–.23) and checks the leaf against a
 * GitHub, a GitLab, a Google and a SAN + issuer policy.
 * Entry points: pg_sig_fulcio_ext_der, pg_sig_check_identity_der.
 * Runs on: the fuzzer.  Spec: sigstore-verification §4, V4.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_sig_policy p[4];
    struct pg_sig_err err;
    char buf[512];
    int n;
    size_t i;

    for (n = 1; n <= 23; n++)
        (void) pg_sig_fulcio_ext_der(data, size, n, buf, sizeof buf);
    memset(p, 0, sizeof p);
    p[0].kind = PG_SIG_POLICY_GITHUB;
    p[0].repository = "trailofbits/pypi-attestations";
    p[0].workflow = "release.yml";
    p[1].kind = PG_SIG_POLICY_GITLAB;
    p[1].repository = "facutuesca/gitlab-oidc-project";
    p[1].workflow = ".gitlab-ci.yml";
    p[2].kind = PG_SIG_POLICY_GOOGLE;
    p[2].email = "919436158236-compute@developer.gserviceaccount.com";
    p[3].kind = PG_SIG_POLICY_SAN_ISSUER;
    p[3].san = "https://github.com/trailofbits/pypi-attestations/.github/"
        "workflows/release.yml@refs/tags/v0.0.19";
    p[3].issuer = "https://token.actions.githubusercontent.com";
    for (i = 0; i < sizeof p / sizeof p[0]; i++)
        (void) pg_sig_check_identity_der(data, size, &p[i], &err);
    return 0;
}
