/* policy/sigstore/sct.c — the leaf's embedded SCT (V3).
 *
 * OpenSSL parses the SCT list extension (X509_get_ext_d2i with
 * NID_ct_precert_scts) and exposes each SCT's fields; OpenSSL's CT
 * *validation* cannot be used because its CTLOG_STORE can only be filled
 * from a file, and our logs come from the trusted root (one of them a bare
 * PKCS#1 RSA key).  So the signed structure is rebuilt here as RFC 6962
 * §3.2 defines it for a precertificate entry: version, signature type,
 * timestamp, entry type 1, SHA-256 of the issuer's SPKI (precomputed with
 * the root), the leaf's TBSCertificate with the SCT extension cut out of
 * its DER (leaf.c), and the SCT's extensions verbatim — so the Static-CT
 * leaf-index extension (bundle-with-sct-with-extensions) verifies.  The
 * log is chosen by exact log_id among the root's CT logs; an unknown log
 * is rejected (no fallback key search).  Exactly one SCT is required.
 *
 * Owns: the SCT list and the signed buffer, for the call.  Borrows: leaf,
 * CA, root.  Runs on: either.
 * Spec: sigstore-verification V3; RFC 6962 §3.2.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/ct.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "sig_int.h"

#define STEP "sct"

/* Index in ca of the certificate that signed the precertificate. */
static size_t
sct_issuer(const struct pg_sig_ca *ca)
{
    X509 *x = ca->certs[0];
    size_t idx = 0;

    if ((X509_get_extension_flags(x) & EXFLAG_XKUSAGE) != 0
        && ca->ncerts > 1)
    {
        EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage,
            NULL, NULL);
        int i, precert = 0;

        for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++) {
            if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i))
                == NID_ct_precert_signer)
            {
                precert = 1;
            }
        }
        EXTENDED_KEY_USAGE_free(eku);
        if (precert) {
            idx = 1;
        }
    }
    return idx;
}

/* DER body of the SCT list extension's OID, 1.3.6.1.4.1.11129.2.4.2. */
static const unsigned char sct_oid[] = {
    0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02
};

static const struct pg_sig_log *
find_ct_log(const struct pg_sig_trust_root *root, const unsigned char *id,
    size_t idlen)
{
    size_t i;

    for (i = 0; idlen == 32 && i < root->nctlogs; i++) {
        if (memcmp(root->ctlogs[i].log_id, id, 32) == 0) {
            return &root->ctlogs[i];
        }
    }
    return NULL;
}

static void
put_be(unsigned char *p, uint64_t v, int n)
{
    int i;

    for (i = n - 1; i >= 0; i--) {
        p[i] = (unsigned char) (v & 0xff);
        v >>= 8;
    }
}

/* The RFC 6962 digitally-signed struct for a precert entry. */
static unsigned char *
signed_data(SCT *sct, const struct pg_sig_cert *leaf,
    const unsigned char ikh[32], size_t *outlen)
{
    unsigned char *tbs, *ext, *buf, *p;
    size_t tbslen = 0, extlen, total;

    tbs = pg_sig_cert_tbs_without(leaf, sct_oid, sizeof(sct_oid), &tbslen);
    if (tbs == NULL || tbslen > 0xffffff) {
        free(tbs);
        return NULL;
    }
    extlen = SCT_get0_extensions(sct, &ext);
    if (extlen > 0xffff) {
        free(tbs);
        return NULL;
    }
    total = 1 + 1 + 8 + 2 + 32 + 3 + tbslen + 2 + extlen;
    buf = malloc(total);
    if (buf == NULL) {
        free(tbs);
        return NULL;
    }
    p = buf;
    *p++ = 0;                               /* v1 */
    *p++ = 0;                               /* certificate_timestamp */
    put_be(p, SCT_get_timestamp(sct), 8);
    p += 8;
    put_be(p, 1, 2);                        /* precert_entry */
    p += 2;
    memcpy(p, ikh, 32);
    p += 32;
    put_be(p, tbslen, 3);
    p += 3;
    memcpy(p, tbs, tbslen);
    p += tbslen;
    put_be(p, extlen, 2);
    p += 2;
    if (extlen > 0) {
        memcpy(p, ext, extlen);
    }
    free(tbs);
    *outlen = total;
    return buf;
}

int
pg_sig_verify_sct(const struct pg_sig_cert *leaf, const struct pg_sig_ca *ca,
    const struct pg_sig_trust_root *root, struct pg_sig_err *err)
{
    STACK_OF(SCT) *scts;
    const struct pg_sig_log *log;
    unsigned char *id, *sig, *msg = NULL;
    size_t idlen, siglen, msglen = 0;
    size_t issuer;
    SCT *sct;
    int crit = -1, rc = PG_SIG_OK, nid;

    scts = X509V3_get_d2i(leaf->exts, NID_ct_precert_scts, &crit, NULL);
    if (scts == NULL) {
        return pg_sig_fail(err, PG_SIG_ESCT, STEP, crit == -1
            ? "leaf has no embedded SCT" : "embedded SCT list is malformed");
    }
    if (sk_SCT_num(scts) != 1) {
        rc = pg_sig_fail(err, PG_SIG_ESCT, STEP, "expected exactly one SCT, "
            "got %d", sk_SCT_num(scts));
        goto done;
    }
    sct = sk_SCT_value(scts, 0);
    nid = SCT_get_signature_nid(sct);
    if (SCT_get_version(sct) != SCT_VERSION_V1
        || (nid != NID_ecdsa_with_SHA256
            && nid != NID_sha256WithRSAEncryption))
    {
        rc = pg_sig_fail(err, PG_SIG_ESCT, STEP, "SCT is not v1 with a "
            "SHA-256 signature");
        goto done;
    }
    idlen = SCT_get0_log_id(sct, &id);
    log = find_ct_log(root, id, idlen);
    if (log == NULL) {
        rc = pg_sig_fail(err, PG_SIG_ESCT, STEP, "SCT log is not in the "
            "trusted root");
        goto done;
    }
    issuer = sct_issuer(ca);
    if ((X509_get_extension_flags(ca->certs[issuer]) & EXFLAG_CA) == 0) {
        rc = pg_sig_fail(err, PG_SIG_ESCT, STEP, "SCT issuer is not a CA");
        goto done;
    }
    msg = signed_data(sct, leaf, ca->spki_sha256[issuer], &msglen);
    if (msg == NULL) {
        rc = pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "SCT signed data");
        goto done;
    }
    siglen = SCT_get0_signature(sct, &sig);
    if (!pg_sig_pkey_verify_v(&log->vctx, 1, log->key, EVP_sha256(), msg,
            msglen, sig, siglen))
    {
        rc = pg_sig_fail(err, PG_SIG_ESCT, STEP, "SCT signature does not "
            "verify with CT log %.60s", log->name);
    }
done:
    free(msg);
    SCT_LIST_free(scts);
    return rc;
}
