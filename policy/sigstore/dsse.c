/* policy/sigstore/dsse.c — DSSE pre-authentication encoding and signature (V7).
 *
 * PAE = "DSSEv1" SP len(type) SP type SP len(payload) SP payload, lengths
 * as ASCII decimal, payload the decoded bytes exactly as received (never
 * re-serialized).  The envelope's one signature is checked over PAE with
 * the leaf (or managed) key, ECDSA with SHA-256 as sigstore-python does.
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
pg_sig_verify_dsse(EVP_PKEY *key, const char *type,
    const unsigned char *payload, size_t payload_len,
    const unsigned char *sig, size_t sig_len, struct pg_sig_err *err)
{
    unsigned char *pae;
    size_t len;
    int ok;

    pae = pg_sig_dsse_pae(type, payload, payload_len, &len);
    if (pae == NULL) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "DSSE PAE");
    }
    ok = pg_sig_pkey_verify(key, EVP_sha256(), pae, len, sig, sig_len);
    free(pae);
    if (!ok) {
        return pg_sig_fail(err, PG_SIG_ESIG, STEP, "DSSE signature does not "
            "verify over the envelope");
    }
    return PG_SIG_OK;
}
