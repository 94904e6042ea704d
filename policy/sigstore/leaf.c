/* policy/sigstore/leaf.c — read a leaf certificate without OpenSSL's X509 (V0).
 *
 * OpenSSL 3.0 decodes the public key of every certificate it parses through
 * its provider decoder framework, which costs more CPU than the P-256
 * verification the key is then used for (about 0.3 ms per d2i_X509 here).
 * A Fulcio leaf is verified once and thrown away, so that cost would be
 * paid per attestation.  This reader walks the certificate's DER (RFC 5280
 * §4.1) with bounds checks and records where the pieces are: the
 * TBSCertificate bytes, signature algorithm and value, issuer name,
 * validity, extensions block.  OpenSSL still decodes what it is good at —
 * the extensions (X509_EXTENSIONS), the times (ASN1_TIME) — and the key is
 * built from its raw point, which skips the decoder (an EC key copies its
 * curve from a per-process parameters key; see curve_tmpl).
 * Keys other than EC P-256/384/521 and Ed25519 fall back to d2i_PUBKEY.
 *
 * Owns: the extension stack and key in struct pg_sig_cert
 * (pg_sig_cert_clear).  Borrows: the DER, which must outlive the cert.
 * Runs on: either.  Spec: RFC 5280 §4.1; sigstore-verification V0, V2, V4.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "sig_int.h"

struct tlv {
    unsigned char tag;
    const unsigned char *start;   /* first byte of the tag */
    const unsigned char *val;     /* content */
    size_t len;                   /* content length */
    size_t total;                 /* tag + length + content */
};

/* Reads one TLV at *p (below end); advances *p past it. */
static int
tlv_next(const unsigned char **p, const unsigned char *end, struct tlv *t)
{
    const unsigned char *q = *p;
    size_t len, n, i;

    if (end - q < 2) {
        return -1;
    }
    t->start = q;
    t->tag = *q++;
    if ((t->tag & 0x1f) == 0x1f) {
        return -1;                /* high tag numbers: not in X.509 */
    }
    len = *q++;
    if (len & 0x80) {
        n = len & 0x7f;
        if (n == 0 || n > 4 || (size_t) (end - q) < n) {
            return -1;            /* indefinite or absurd length */
        }
        for (len = 0, i = 0; i < n; i++) {
            len = (len << 8) | *q++;
        }
    }
    if ((size_t) (end - q) < len) {
        return -1;
    }
    t->val = q;
    t->len = len;
    t->total = (size_t) (q - t->start) + len;
    *p = q + len;
    return 0;
}

static int
expect(const unsigned char **p, const unsigned char *end, unsigned char tag,
    struct tlv *t)
{
    return tlv_next(p, end, t) == 0 && t->tag == tag ? 0 : -1;
}

static int
oid_is(const struct tlv *t, const unsigned char *oid, size_t len)
{
    return t->tag == 0x06 && t->len == len && memcmp(t->val, oid, len) == 0;
}

static const unsigned char OID_ECDSA_SHA256[] =
    { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02 };
static const unsigned char OID_ECDSA_SHA384[] =
    { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03 };
static const unsigned char OID_ECDSA_SHA512[] =
    { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04 };
static const unsigned char OID_RSA_SHA256[] =
    { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b };
static const unsigned char OID_RSA_SHA384[] =
    { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c };
static const unsigned char OID_RSA_SHA512[] =
    { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d };
static const unsigned char OID_ED25519[] = { 0x2b, 0x65, 0x70 };
static const unsigned char OID_EC_PUBKEY[] =
    { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 };
static const unsigned char OID_P256[] =
    { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 };
static const unsigned char OID_P384[] = { 0x2b, 0x81, 0x04, 0x00, 0x22 };
static const unsigned char OID_P521[] = { 0x2b, 0x81, 0x04, 0x00, 0x23 };

#define OID(t, o) oid_is((t), (o), sizeof(o))

/* signatureAlgorithm → digest (NULL for Ed25519); -1 if unsupported. */
static int
sig_md(const struct tlv *alg, const EVP_MD **md)
{
    const unsigned char *p = alg->val;
    struct tlv oid;

    if (tlv_next(&p, alg->val + alg->len, &oid) != 0) {
        return -1;
    }
    if (OID(&oid, OID_ECDSA_SHA256) || OID(&oid, OID_RSA_SHA256)) {
        *md = EVP_sha256();
    } else if (OID(&oid, OID_ECDSA_SHA384) || OID(&oid, OID_RSA_SHA384)) {
        *md = EVP_sha384();
    } else if (OID(&oid, OID_ECDSA_SHA512) || OID(&oid, OID_RSA_SHA512)) {
        *md = EVP_sha512();
    } else if (OID(&oid, OID_ED25519)) {
        *md = NULL;
    } else {
        return -1;
    }
    return 0;
}

/* One parameters-only EC key per curve (P-256, P-384, P-521), made once
 * per process: a leaf key is a copy of its curve's parameters plus the
 * point, which skips building the curve group from its name for every
 * certificate as EVP_PKEY_fromdata does (the larger part of importing a
 * key).  Curve constants only, nothing from any input; read-only after
 * pthread_once (EVP_PKEY_copy_parameters only reads its source), so
 * threads share them; never freed, like OpenSSL's own method caches.  An
 * entry OpenSSL could not make is NULL and that curve uses fromdata. */
static EVP_PKEY *curve_tmpl[3];
static pthread_once_t curve_once = PTHREAD_ONCE_INIT;
static const char *const curve_names[3] = { "P-256", "P-384", "P-521" };

static void
curve_init(void)
{
    size_t i;

    for (i = 0; i < 3; i++) {
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
        OSSL_PARAM params[2];

        params[0] = OSSL_PARAM_construct_utf8_string(
            OSSL_PKEY_PARAM_GROUP_NAME, (char *) curve_names[i], 0);
        params[1] = OSSL_PARAM_construct_end();
        if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
            || EVP_PKEY_fromdata(ctx, &curve_tmpl[i],
                EVP_PKEY_KEY_PARAMETERS, params) != 1)
        {
            EVP_PKEY_free(curve_tmpl[i]);
            curve_tmpl[i] = NULL;
        }
        EVP_PKEY_CTX_free(ctx);
    }
}

/* The EC public key at point pt on curve i (index into curve_names):
 * EC_POINT_oct2point decodes the point and rejects one not on the curve,
 * on both paths. */
static EVP_PKEY *
ec_key(size_t i, const unsigned char *pt, size_t len)
{
    EVP_PKEY_CTX *ctx;
    OSSL_PARAM params[3];
    EVP_PKEY *k = NULL;

    if (pthread_once(&curve_once, curve_init) == 0
        && curve_tmpl[i] != NULL)
    {
        k = EVP_PKEY_new();
        if (k == NULL || EVP_PKEY_copy_parameters(k, curve_tmpl[i]) != 1
            || EVP_PKEY_set1_encoded_public_key(k, pt, len) != 1)
        {
            EVP_PKEY_free(k);
            return NULL;
        }
        return k;
    }
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    params[0] = OSSL_PARAM_construct_utf8_string(
        OSSL_PKEY_PARAM_GROUP_NAME, (char *) curve_names[i], 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
        (void *) pt, len);
    params[2] = OSSL_PARAM_construct_end();
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1
        || EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        EVP_PKEY_free(k);
        k = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* The key of a SubjectPublicKeyInfo TLV, without the decoder framework
 * for the key types Sigstore uses. */
static EVP_PKEY *
spki_key(const struct tlv *spki)
{
    const unsigned char *p = spki->val, *end = spki->val + spki->len, *q;
    struct tlv alg, oid, param, bits;
    int curve = -1;

    if (expect(&p, end, 0x30, &alg) != 0 || expect(&p, end, 0x03, &bits)
        != 0 || p != end || bits.len < 2 || bits.val[0] != 0)
    {
        return NULL;
    }
    q = alg.val;
    if (tlv_next(&q, alg.val + alg.len, &oid) != 0) {
        return NULL;
    }
    if (OID(&oid, OID_ED25519)) {
        return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
            bits.val + 1, bits.len - 1);
    }
    if (OID(&oid, OID_EC_PUBKEY)
        && tlv_next(&q, alg.val + alg.len, &param) == 0)
    {
        curve = OID(&param, OID_P256) ? 0 : OID(&param, OID_P384) ? 1
            : OID(&param, OID_P521) ? 2 : -1;
    }
    if (curve >= 0) {
        return ec_key((size_t) curve, bits.val + 1, bits.len - 1);
    }
    /* anything else (RSA, …): the general, slower decoder */
    p = spki->start;
    return d2i_PUBKEY(NULL, &p, (long) spki->total);
}

static int
time_ns(const struct tlv *t, int64_t *ns)
{
    const unsigned char *p = t->start;
    ASN1_TIME *a = d2i_ASN1_TIME(NULL, &p, (long) t->total);
    int rc;

    if (a == NULL) {
        return -1;
    }
    rc = pg_sig_asn1_time_ns(a, ns);
    ASN1_TIME_free(a);
    return rc;
}

/* Profile flags from the decoded extensions.  One pass finds the four
 * extensions read here (X509V3_get_d2i per extension would look every
 * OID up again each time); as with X509V3_get_d2i, one that occurs twice
 * or does not decode fails the certificate. */
static int
read_profile(struct pg_sig_cert *c)
{
    static const int nids[4] = { NID_key_usage, NID_ext_key_usage,
        NID_basic_constraints, NID_authority_key_identifier };
    X509_EXTENSION *found[4] = { NULL, NULL, NULL, NULL };
    ASN1_BIT_STRING *ku;
    EXTENDED_KEY_USAGE *eku;
    BASIC_CONSTRAINTS *bc;
    AUTHORITY_KEYID *aki;
    int i, k;

    for (i = 0; i < sk_X509_EXTENSION_num(c->exts); i++) {
        X509_EXTENSION *e = sk_X509_EXTENSION_value(c->exts, i);
        int nid = OBJ_obj2nid(X509_EXTENSION_get_object(e));

        if (X509_EXTENSION_get_critical(e) && nid != NID_key_usage
            && nid != NID_ext_key_usage && nid != NID_subject_alt_name
            && nid != NID_basic_constraints)
        {
            c->unknown_critical = 1;
        }
        for (k = 0; k < 4; k++) {
            if (nid == nids[k]) {
                if (found[k] != NULL) {
                    return -1;
                }
                found[k] = e;
            }
        }
    }
    ku = found[0] != NULL ? X509V3_EXT_d2i(found[0]) : NULL;
    eku = found[1] != NULL ? X509V3_EXT_d2i(found[1]) : NULL;
    bc = found[2] != NULL ? X509V3_EXT_d2i(found[2]) : NULL;
    aki = found[3] != NULL ? X509V3_EXT_d2i(found[3]) : NULL;
    if ((found[0] != NULL && ku == NULL) || (found[1] != NULL && eku == NULL)
        || (found[2] != NULL && bc == NULL)
        || (found[3] != NULL && aki == NULL))
    {
        ASN1_BIT_STRING_free(ku);
        EXTENDED_KEY_USAGE_free(eku);
        BASIC_CONSTRAINTS_free(bc);
        AUTHORITY_KEYID_free(aki);
        return -1;
    }
    c->has_ku = ku != NULL;
    c->ku_digital_signature = ku != NULL && ASN1_BIT_STRING_get_bit(ku, 0);
    c->ku_cert_sign = ku != NULL && ASN1_BIT_STRING_get_bit(ku, 5);
    ASN1_BIT_STRING_free(ku);
    c->has_eku = eku != NULL;
    for (i = 0; eku != NULL && i < sk_ASN1_OBJECT_num(eku); i++) {
        if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_code_sign) {
            c->eku_code_signing = 1;
        }
    }
    EXTENDED_KEY_USAGE_free(eku);
    c->is_ca = bc != NULL && bc->ca;
    BASIC_CONSTRAINTS_free(bc);
    if (aki != NULL && aki->keyid != NULL
        && (size_t) ASN1_STRING_length(aki->keyid) <= sizeof(c->aki))
    {
        c->aki_len = (size_t) ASN1_STRING_length(aki->keyid);
        memcpy(c->aki, ASN1_STRING_get0_data(aki->keyid), c->aki_len);
    }
    AUTHORITY_KEYID_free(aki);
    return 0;
}

int
pg_sig_cert_parse(const unsigned char *der, size_t len,
    struct pg_sig_cert *c)
{
    const unsigned char *p = der, *end = der + len, *q, *tend;
    struct tlv cert, tbs, alg, bits, t, inner_alg, validity, nb, na, spki;
    int have_spki = 0;

    memset(c, 0, sizeof(*c));
    c->der = der;
    c->der_len = len;
    if (expect(&p, end, 0x30, &cert) != 0 || p != end) {
        return -1;
    }
    p = cert.val;
    end = cert.val + cert.len;
    if (expect(&p, end, 0x30, &tbs) != 0 || expect(&p, end, 0x30, &alg) != 0
        || expect(&p, end, 0x03, &bits) != 0 || p != end
        || bits.len < 2 || bits.val[0] != 0 || sig_md(&alg, &c->md) != 0)
    {
        return -1;
    }
    c->tbs = tbs.start;
    c->tbs_len = tbs.total;
    c->sig = bits.val + 1;
    c->sig_len = bits.len - 1;
    q = tbs.val;
    tend = tbs.val + tbs.len;
    if (tlv_next(&q, tend, &t) != 0) {
        return -1;
    }
    c->version = 1;
    if (t.tag == 0xa0) {
        if (t.len != 3 || t.val[0] != 0x02 || t.val[1] != 1) {
            return -1;
        }
        c->version = t.val[2] + 1;
        if (tlv_next(&q, tend, &t) != 0) {
            return -1;
        }
    }
    /* serialNumber, signature (== outer), issuer, validity, subject, spki */
    if (t.tag != 0x02 || expect(&q, tend, 0x30, &inner_alg) != 0
        || inner_alg.total != alg.total
        || memcmp(inner_alg.start, alg.start, alg.total) != 0
        || expect(&q, tend, 0x30, &t) != 0)
    {
        return -1;
    }
    c->issuer = t.start;
    c->issuer_len = t.total;
    if (expect(&q, tend, 0x30, &validity) != 0
        || expect(&q, tend, 0x30, &t) != 0
        || expect(&q, tend, 0x30, &spki) != 0)
    {
        return -1;
    }
    have_spki = 1;
    p = validity.val;
    if (tlv_next(&p, validity.val + validity.len, &nb) != 0
        || tlv_next(&p, validity.val + validity.len, &na) != 0
        || time_ns(&nb, &c->not_before) != 0
        || time_ns(&na, &c->not_after) != 0)
    {
        return -1;
    }
    /* optional [1], [2] unique IDs, then [3] extensions */
    while (q < tend) {
        if (tlv_next(&q, tend, &t) != 0) {
            return -1;
        }
        if (t.tag == 0xa3) {
            const unsigned char *e = t.val;

            c->exts_tlv = t.start;
            c->exts_tlv_len = t.total;
            c->exts = d2i_X509_EXTENSIONS(NULL, &e, (long) t.len);
            if (c->exts == NULL || e != t.val + t.len) {
                return -1;
            }
        } else if (t.tag != 0x81 && t.tag != 0x82) {
            return -1;
        }
    }
    if (c->exts == NULL) {
        c->exts = sk_X509_EXTENSION_new_null();
        if (c->exts == NULL) {
            return -1;
        }
    }
    if (read_profile(c) != 0 || !have_spki) {
        return -1;
    }
    c->spki = spki.start;
    c->spki_len = spki.total;
    c->key = spki_key(&spki);
    return c->key != NULL ? 0 : -1;
}

void
pg_sig_cert_clear(struct pg_sig_cert *c)
{
    sk_X509_EXTENSION_pop_free(c->exts, X509_EXTENSION_free);
    EVP_PKEY_free(c->key);
    memset(c, 0, sizeof(*c));
}

/* The TBS with the extension whose OID body is `oid` removed, lengths
 * re-encoded (the RFC 6962 precertificate TBS). */
static size_t
put_len(unsigned char *out, size_t len)
{
    if (len < 0x80) {
        out[0] = (unsigned char) len;
        return 1;
    }
    if (len < 0x100) {
        out[0] = 0x81;
        out[1] = (unsigned char) len;
        return 2;
    }
    if (len < 0x10000) {
        out[0] = 0x82;
        out[1] = (unsigned char) (len >> 8);
        out[2] = (unsigned char) len;
        return 3;
    }
    out[0] = 0x83;
    out[1] = (unsigned char) (len >> 16);
    out[2] = (unsigned char) (len >> 8);
    out[3] = (unsigned char) len;
    return 4;
}

unsigned char *
pg_sig_cert_tbs_without(const struct pg_sig_cert *c,
    const unsigned char *oid, size_t oid_len, size_t *out_len)
{
    const unsigned char *p, *end, *cut = NULL;
    struct tlv seq, ext, eoid, tbs;
    size_t cut_len = 0, seq_len, a3_len, tbs_len, pre, post, n = 0;
    unsigned char *out, hdr[5];

    if (c->exts_tlv == NULL) {
        return NULL;
    }
    p = c->exts_tlv;
    end = c->exts_tlv + c->exts_tlv_len;
    if (expect(&p, end, 0xa3, &seq) != 0) {
        return NULL;
    }
    p = seq.val;
    if (expect(&p, seq.val + seq.len, 0x30, &seq) != 0) {
        return NULL;
    }
    p = seq.val;
    while (p < seq.val + seq.len) {
        const unsigned char *q;

        if (expect(&p, seq.val + seq.len, 0x30, &ext) != 0) {
            return NULL;
        }
        q = ext.val;
        if (tlv_next(&q, ext.val + ext.len, &eoid) != 0) {
            return NULL;
        }
        if (eoid.tag == 0x06 && eoid.len == oid_len
            && memcmp(eoid.val, oid, oid_len) == 0)
        {
            cut = ext.start;
            cut_len = ext.total;
        }
    }
    if (cut == NULL) {
        return NULL;
    }
    p = c->tbs;
    if (expect(&p, c->tbs + c->tbs_len, 0x30, &tbs) != 0) {
        return NULL;
    }
    seq_len = seq.len - cut_len;
    a3_len = 1 + put_len(hdr, seq_len) + seq_len;
    /* TBS content = [before exts] + a3 TLV (+ anything after it) */
    pre = (size_t) (c->exts_tlv - tbs.val);
    post = (size_t) (tbs.val + tbs.len - (c->exts_tlv + c->exts_tlv_len));
    tbs_len = pre + 1 + put_len(hdr, a3_len) + a3_len + post;
    out = malloc(tbs_len + 16);
    if (out == NULL) {
        return NULL;
    }
    out[n++] = 0x30;
    n += put_len(out + n, tbs_len);
    memcpy(out + n, tbs.val, pre);
    n += pre;
    out[n++] = 0xa3;
    n += put_len(out + n, a3_len);
    out[n++] = 0x30;
    n += put_len(out + n, seq_len);
    memcpy(out + n, seq.val, (size_t) (cut - seq.val));
    n += (size_t) (cut - seq.val);
    memcpy(out + n, cut + cut_len, (size_t) (seq.val + seq.len - cut
        - cut_len));
    n += (size_t) (seq.val + seq.len - cut - cut_len);
    memcpy(out + n, c->exts_tlv + c->exts_tlv_len, post);
    n += post;
    *out_len = n;
    return out;
}
