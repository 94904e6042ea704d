/* policy/sigstore/tsa.c — an RFC 3161 timestamp as a verified time (V1).
 *
 * The response must be "granted"; its message imprint must be the hash
 * (SHA-256/384/512, as the imprint names) of the bundle's raw signature
 * bytes.  Then, for each TSA of the trusted root with a chain of at least
 * two certificates, OpenSSL's TS API verifies the CMS signature and builds
 * the TSA path at genTime (not now): anchor = last certificate, the others
 * untrusted helpers, timestamping EKU required by OpenSSL's purpose.  The
 * signer must be that TSA's leaf, and genTime must lie inside the TSA's
 * validFor (inclusive).  A timestamp no TSA accepts is an error (stricter
 * than [py], which drops it; equal on every conformance case).
 *
 * Owns: the parsed response and a per-call X509_STORE (its time differs
 * per call, so it cannot live in the shared root).  Borrows: inputs.
 * Runs on: either.  Spec: sigstore-verification V1, §2.3.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ts.h>
#include <openssl/x509v3.h>

#include "sig_int.h"

#define STEP "tsa"

static int
imprint_ok(TS_TST_INFO *tst, const unsigned char *sig, size_t sig_len)
{
    TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
    X509_ALGOR *alg = TS_MSG_IMPRINT_get_algo(mi);
    ASN1_OCTET_STRING *want = TS_MSG_IMPRINT_get_msg(mi);
    const ASN1_OBJECT *obj;
    const EVP_MD *md;
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen;
    int nid;

    X509_ALGOR_get0(&obj, NULL, NULL, alg);
    nid = OBJ_obj2nid(obj);
    if (nid == NID_sha256) {
        md = EVP_sha256();
    } else if (nid == NID_sha384) {
        md = EVP_sha384();
    } else if (nid == NID_sha512) {
        md = EVP_sha512();
    } else {
        return 0;
    }
    if (EVP_Digest(sig, sig_len, h, &hlen, md, NULL) != 1) {
        return 0;
    }
    return (size_t) ASN1_STRING_length(want) == hlen
        && CRYPTO_memcmp(ASN1_STRING_get0_data(want), h, hlen) == 0;
}

/* 1 if the token verifies under TSA ca at time gen_secs. */
static int
try_tsa(PKCS7 *token, const struct pg_sig_ca *ca, time_t gen_secs)
{
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    X509_STORE *store = X509_STORE_new();
    X509_VERIFY_PARAM *param;
    X509 *anchor = ca->certs[ca->ncerts - 1], *signer = NULL;
    size_t i;
    int ok = 0;

    if (untrusted == NULL || store == NULL
        || X509_STORE_add_cert(store, anchor) != 1)
    {
        goto done;
    }
    for (i = 0; i + 1 < ca->ncerts; i++) {
        if (sk_X509_push(untrusted, ca->certs[i]) <= 0) {
            goto done;
        }
    }
    param = X509_STORE_get0_param(store);
    X509_VERIFY_PARAM_set_time(param, gen_secs);
    if ((X509_get_extension_flags(anchor) & EXFLAG_SS) == 0) {
        X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
    }
    ERR_set_mark();
    ok = TS_RESP_verify_signature(token, untrusted, store, &signer) == 1
        && signer != NULL && X509_cmp(signer, ca->certs[0]) == 0;
    ERR_pop_to_mark();
    if (ok && PKCS7_get_signer_info(token) != NULL
        && sk_PKCS7_SIGNER_INFO_num(PKCS7_get_signer_info(token)) != 1)
    {
        ok = 0;
    }
done:
    X509_free(signer);
    sk_X509_free(untrusted);
    X509_STORE_free(store);
    return ok;
}

int
pg_sig_verify_tsa(const unsigned char *tsr, size_t tsr_len,
    const unsigned char *signature, size_t sig_len,
    const struct pg_sig_trust_root *root, int64_t *gen_ns,
    struct pg_sig_err *err)
{
    const unsigned char *p = tsr;
    TS_RESP *resp;
    TS_TST_INFO *tst;
    PKCS7 *token;
    const ASN1_INTEGER *status;
    int64_t gen;
    size_t i;
    int rc = PG_SIG_OK, chain_ok = 0;
    char ts[40];

    if (root->ntsas == 0) {
        return pg_sig_fail(err, PG_SIG_ETSA, STEP, "bundle has timestamps "
            "but the trusted root has no timestamp authority");
    }
    resp = d2i_TS_RESP(NULL, &p, (long) tsr_len);
    if (resp == NULL || p != tsr + tsr_len) {
        TS_RESP_free(resp);
        return pg_sig_fail(err, PG_SIG_ETSA, STEP, "timestamp is not a DER "
            "TimeStampResp");
    }
    status = TS_STATUS_INFO_get0_status(TS_RESP_get_status_info(resp));
    token = TS_RESP_get_token(resp);
    tst = TS_RESP_get_tst_info(resp);
    if (status == NULL || ASN1_INTEGER_get(status) != 0 || token == NULL
        || tst == NULL)
    {
        rc = pg_sig_fail(err, PG_SIG_ETSA, STEP, "timestamp status is not "
            "granted");
        goto done;
    }
    if (pg_sig_asn1_time_ns(TS_TST_INFO_get_time(tst), &gen) != 0) {
        rc = pg_sig_fail(err, PG_SIG_ETSA, STEP, "bad genTime");
        goto done;
    }
    if (!imprint_ok(tst, signature, sig_len)) {
        rc = pg_sig_fail(err, PG_SIG_ETSA, STEP, "timestamp imprint is not "
            "the hash of the signature");
        goto done;
    }
    for (i = 0; i < root->ntsas; i++) {
        const struct pg_sig_ca *ca = &root->tsas[i];

        if (ca->ncerts < 2 || !try_tsa(token, ca, (time_t) (gen / PG_SIG_NS)))
        {
            continue;
        }
        chain_ok = 1;
        if (pg_sig_window_contains(&ca->valid, gen)) {
            *gen_ns = gen;
            goto done;
        }
    }
    pg_sig_fmt_time(gen, ts, sizeof(ts));
    rc = pg_sig_fail(err, PG_SIG_ETSA, STEP, chain_ok
        ? "genTime %s outside the TSA's validFor"
        : "no trusted TSA verifies the timestamp at genTime %s", ts);
done:
    TS_RESP_free(resp);
    return rc;
}
