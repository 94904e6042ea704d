/* policy/sigstore/dsse.c — DSSE pre-authentication encoding and signature (V7).
 *
 * PAE = "DSSEv1" SP len(type) SP type SP len(payload) SP payload, lengths
 * as ASCII decimal, payload the decoded bytes exactly as received (never
 * re-serialized).  The envelope's one signature is checked over PAE with
 * the leaf (or managed) key, with the digest and padding the algorithm
 * registry gives that key (algorithm.c): SHA-384 for P-384, SHA-512 for
 * P-521, pure Ed25519, PKCS#1 v1.5 or PSS for RSA.  sigstore-python and
 * sigstore-js verify every ECDSA DSSE signature with SHA-256, sigstore-go
 * with the curve's digest (and SHA-256 as a compatibility fallback); we
 * follow the registry and name the SHA-256 case when refusing it.
 *
 * Owns: the PAE buffer it returns (caller frees).  Borrows: its inputs.
 * Runs on: either.  Spec: sigstore-verification V7.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sig_int.h"

#define STEP "signature"

unsigned char *
pg_sig_dsse_pae(const char *type, const unsigned char *payload,
    size_t payload_len, size_t *out_len)
{
    size_t tlen = strlen(type), hlen, total;
    char head[64];
    unsigned char *buf;
    int n;

    n = snprintf(head, sizeof(head), "DSSEv1 %zu ", tlen);
    if (n < 0 || (size_t) n >= sizeof(head)) {
        return NULL;
    }
    hlen = (size_t) n;
    total = hlen + tlen + 1 + 21 + 1 + payload_len;
    buf = malloc(total);
    if (buf == NULL) {
        return NULL;
    }
    memcpy(buf, head, hlen);
    memcpy(buf + hlen, type, tlen);
    n = snprintf((char *) buf + hlen + tlen, 24, " %zu ", payload_len);
    if (n < 0) {
        free(buf);
        return NULL;
    }
    memcpy(buf + hlen + tlen + (size_t) n, payload, payload_len);
    *out_len = hlen + tlen + (size_t) n + payload_len;
    return buf;
}

int
pg_sig_verify_dsse(EVP_PKEY *key, const struct pg_sig_alg *const *algs,
    size_t nalgs, const char *type, const unsigned char *payload,
    size_t payload_len, const unsigned char *sig, size_t sig_len,
    const struct pg_sig_alg **used, struct pg_sig_err *err)
{
    unsigned char *pae;
    size_t len, i;
    int sha256_ok = 0;

    *used = NULL;
    pae = pg_sig_dsse_pae(type, payload, payload_len, &len);
    if (pae == NULL) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "DSSE PAE");
    }
    for (i = 0; i < nalgs && *used == NULL; i++) {
        if (pg_sig_alg_verify(algs[i], key, pae, len, sig, sig_len)) {
            *used = algs[i];
        }
    }
    /* only to name the failure: an ECDSA P-384/P-521 signature over
     * SHA-256 (what sigstore-python and sigstore-js sign and verify DSSE
     * with) is the registry's retired pairing */
    if (*used == NULL && nalgs == 1 && algs[0]->key_id == EVP_PKEY_EC
        && algs[0]->hash != PG_SIG_SHA2_256)
    {
        sha256_ok = pg_sig_pkey_verify(key, EVP_sha256(), pae, len, sig,
            sig_len);
    }
    free(pae);
    if (sha256_ok) {
        return pg_sig_fail(err, PG_SIG_ESIG, STEP, "DSSE signature is %s "
            "over SHA2_256; the algorithm registry pairs %s with %s only",
            algs[0]->label, algs[0]->label, pg_sig_hash_name(algs[0]->hash));
    }
    if (*used == NULL) {
        return pg_sig_fail(err, PG_SIG_ESIG, STEP, "DSSE signature does not "
            "verify over the envelope");
    }
    return PG_SIG_OK;
}
