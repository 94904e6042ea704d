/* policy/sigstore/trust_root.c — load a trusted_root.json (step T0).
 *
 * Parses the Sigstore trusted root once and precomputes everything the
 * per-verification steps need, so a verification never re-parses it: log
 * keys (Rekor and CT) as EVP_PKEY with their IDs and note key names, and
 * for each CA its certificates, their validity in ns, the issuing
 * certificate's subject DER and key id, SHA-256 of every certificate's SPKI
 * (the SCT issuer key hash), and the result of validating the CA chain
 * itself with X509_verify_cert (the costly P-384 intermediate→root link is
 * verified here, once).  ECDSA keys that verify per bundle (log keys, each
 * CA's issuing key) get a verify-ready context (struct pg_sig_vctx).
 * After load the object is never written again, so threads may share it.
 *
 * Owns: the root and every OpenSSL object in it (pg_sig_trust_root_free).
 * Borrows: the JSON text, for the call.  Runs on: either.
 * Spec: sigstore-verification §2, T0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "sig_int.h"

extern const unsigned char pg_sig_root_prod[];
extern const unsigned long pg_sig_root_prod_len;
extern const unsigned char pg_sig_root_staging[];
extern const unsigned long pg_sig_root_staging_len;

#define STEP "trust-root"

static int
parse_window(const json_t *obj, struct pg_sig_window *w,
    struct pg_sig_err *err, const char *what)
{
    json_t *vf = pg_sig_jget(obj, "validFor");
    const char *s;

    w->start = PG_SIG_TIME_MIN;
    w->end = PG_SIG_TIME_MAX;
    if (vf == NULL) {
        return PG_SIG_OK;
    }
    s = pg_sig_jstr(vf, "start");
    if (s == NULL) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP,
            "%s: validFor without start", what);
    }
    if (pg_sig_parse_rfc3339(s, &w->start) != 0) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP,
            "%s: bad validFor.start '%.40s'", what, s);
    }
    s = pg_sig_jstr(vf, "end");
    if (s != NULL && pg_sig_parse_rfc3339(s, &w->end) != 0) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP,
            "%s: bad validFor.end '%.40s'", what, s);
    }
    return PG_SIG_OK;
}

static int
keytype_of(EVP_PKEY *k, enum pg_sig_keytype *out)
{
    int id = EVP_PKEY_get_base_id(k), bits = EVP_PKEY_get_bits(k);

    if (id == EVP_PKEY_ED25519) {
        *out = PG_SIG_KEY_ED25519;
    } else if (id == EVP_PKEY_RSA) {
        *out = PG_SIG_KEY_RSA;
    } else if (id == EVP_PKEY_EC && bits == 256) {
        *out = PG_SIG_KEY_EC_P256;
    } else if (id == EVP_PKEY_EC && bits == 384) {
        *out = PG_SIG_KEY_EC_P384;
    } else if (id == EVP_PKEY_EC && bits == 521) {
        *out = PG_SIG_KEY_EC_P521;
    } else {
        return -1;
    }
    return 0;
}

static int
parse_log(const json_t *j, struct pg_sig_log *log, const char *what,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *pk = pg_sig_jget(j, "publicKey");
    const char *url = pg_sig_jstr(j, "baseUrl"), *details, *host;
    unsigned char *raw = NULL;
    const unsigned char *p;
    size_t rawlen;
    int rc;

    if (url == NULL || pk == NULL) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: missing baseUrl or "
            "publicKey", what);
    }
    host = strstr(url, "://");
    host = host != NULL ? host + 3 : url;
    if (strlen(host) >= sizeof(log->name)) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: baseUrl too long",
            what);
    }
    snprintf(log->name, sizeof(log->name), "%s", host);
    rc = parse_window(pk, &log->valid, err, what);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    if (pg_sig_jb64(pk, "rawBytes", limits->b64_chars, &raw, &rawlen) != 0) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: bad publicKey."
            "rawBytes", what);
    }
    details = pg_sig_jstr(pk, "keyDetails");
    p = raw;
    log->key = d2i_PUBKEY(NULL, &p, (long) rawlen);
    if (log->key == NULL && details != NULL
        && strncmp(details, "PKCS1_RSA", 9) == 0)
    {
        /* a bare PKCS#1 RSAPublicKey (one staging CT log, §7.6) */
        p = raw;
        log->key = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, (long) rawlen);
    }
    free(raw);
    if (log->key == NULL || keytype_of(log->key, &log->keytype) != 0) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: undecodable or "
            "unsupported public key", what);
    }
    /* SET, checkpoint and SCT signatures are all over SHA-256 */
    pg_sig_vctx_init(&log->vctx, log->key, EVP_sha256());
    if (pg_sig_jget(j, "logId") == NULL
        || pg_sig_jstr(pg_sig_jget(j, "logId"), "keyId") == NULL)
    {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: missing logId",
            what);
    }
    {
        const char *kid = pg_sig_jstr(pg_sig_jget(j, "logId"), "keyId");

        if (pg_sig_b64_decode_fixed(kid, strlen(kid), log->log_id, 32)
            != 0)
        {
            return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: logId is not "
                "32 bytes of base64", what);
        }
    }
    return PG_SIG_OK;
}

/* The CA chain's own path, checked once with OpenSSL: certs[0] up to the
 * anchor (last), the middle ones untrusted, no time (times are checked
 * per verification), partial chain when the anchor is not self-signed.
 * certs[0] must be a CA that may sign certificates. */
static int
chain_links_ok(const struct pg_sig_ca *ca)
{
    X509 *anchor = ca->certs[ca->ncerts - 1];
    STACK_OF(X509) *mid = sk_X509_new_null();
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    unsigned long flags = X509_V_FLAG_NO_CHECK_TIME;
    size_t i;
    int ok = 0;

    if (mid == NULL || store == NULL || ctx == NULL
        || X509_STORE_add_cert(store, anchor) != 1)
    {
        goto done;
    }
    for (i = 1; i + 1 < ca->ncerts; i++) {
        if (sk_X509_push(mid, ca->certs[i]) <= 0) {
            goto done;
        }
    }
    if ((X509_get_extension_flags(anchor) & EXFLAG_SS) == 0) {
        flags |= X509_V_FLAG_PARTIAL_CHAIN;
    }
    X509_STORE_set_flags(store, flags);
    ok = X509_check_ca(ca->certs[0]) != 0
        && (X509_get_key_usage(ca->certs[0]) & KU_KEY_CERT_SIGN) != 0
        && X509_STORE_CTX_init(ctx, store, ca->certs[0], mid) == 1
        && X509_verify_cert(ctx) == 1;
done:
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    sk_X509_free(mid);
    return ok;
}

/* What the per-verification steps read instead of re-deriving it. */
static int
ca_precompute(struct pg_sig_ca *ca)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca->certs[0]);
    unsigned char *spki;
    size_t i;
    int n;

    n = i2d_X509_NAME(X509_get_subject_name(ca->certs[0]),
        &ca->subject_der);
    if (n <= 0) {
        return -1;
    }
    ca->subject_len = (size_t) n;
    if (ski != NULL && (size_t) ASN1_STRING_length(ski) <= sizeof(ca->ski)) {
        ca->ski_len = (size_t) ASN1_STRING_length(ski);
        memcpy(ca->ski, ASN1_STRING_get0_data(ski), ca->ski_len);
    }
    for (i = 0; i < ca->ncerts; i++) {
        spki = NULL;
        n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(ca->certs[i]), &spki);
        if (n <= 0) {
            return -1;
        }
        SHA256(spki, (size_t) n, ca->spki_sha256[i]);
        OPENSSL_free(spki);
    }
    return 0;
}

static int
parse_ca(const json_t *j, struct pg_sig_ca *ca, const char *what,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *certs = pg_sig_jget(pg_sig_jget(j, "certChain"), "certificates");
    EVP_PKEY *key;
    size_t i;
    int rc;

    rc = parse_window(j, &ca->valid, err, what);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    if (!json_is_array(certs) || json_array_size(certs) == 0) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: empty certChain",
            what);
    }
    if (json_array_size(certs) > PG_SIG_MAX_CHAIN_CERTS) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "%s: certChain longer "
            "than %d", what, PG_SIG_MAX_CHAIN_CERTS);
    }
    for (i = 0; i < json_array_size(certs); i++) {
        unsigned char *der = NULL;
        const unsigned char *p;
        size_t len;

        if (pg_sig_jb64(json_array_get(certs, i), "rawBytes",
                limits->b64_chars, &der, &len) != 0)
        {
            return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: certificate "
                "%zu: bad base64", what, i);
        }
        p = der;
        ca->certs[i] = d2i_X509(NULL, &p, (long) len);
        free(der);
        if (ca->certs[i] == NULL) {
            return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: certificate "
                "%zu: bad DER", what, i);
        }
        ca->ncerts++;
        /* cache extension flags now: later readers share the object */
        X509_check_purpose(ca->certs[i], -1, 0);
        if (pg_sig_asn1_time_ns(X509_get0_notBefore(ca->certs[i]),
                &ca->cert_nb[i]) != 0
            || pg_sig_asn1_time_ns(X509_get0_notAfter(ca->certs[i]),
                &ca->cert_na[i]) != 0)
        {
            return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s: certificate "
                "%zu: bad validity", what, i);
        }
    }
    if (ca_precompute(ca) != 0) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "%s: certificate "
            "digests", what);
    }
    ca->links_ok = chain_links_ok(ca);
    key = X509_get0_pubkey(ca->certs[0]);
    if (key != NULL) {
        pg_sig_vctx_init(&ca->vctx[0], key, EVP_sha256());
        pg_sig_vctx_init(&ca->vctx[1], key, EVP_sha384());
        pg_sig_vctx_init(&ca->vctx[2], key, EVP_sha512());
    }
    return PG_SIG_OK;
}

static int
parse_list(const json_t *j, const char *key, size_t *n, size_t max,
    struct pg_sig_err *err)
{
    json_t *a = pg_sig_jget(j, key);

    *n = 0;
    if (a == NULL) {
        return PG_SIG_OK;
    }
    if (!json_is_array(a)) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "%s is not an array",
            key);
    }
    if (json_array_size(a) > max) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "%s has more than %zu "
            "entries", key, max);
    }
    *n = json_array_size(a);
    return PG_SIG_OK;
}

int
pg_sig_trust_root_load(const char *json, size_t len,
    struct pg_sig_trust_root **out, struct pg_sig_err *err)
{
    struct pg_sig_limits limits;
    struct pg_sig_trust_root *r;
    const char *mt;
    unsigned char digest[32];
    json_t *j, *a;
    char what[48];
    size_t i;
    int rc;

    *out = NULL;
    pg_sig_err_init(err);
    pg_sig_limits_default(&limits);
    j = pg_sig_json_load(json, len, &limits, STEP, err);
    if (j == NULL) {
        return err->code;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        json_decref(j);
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "trust root");
    }
    mt = pg_sig_jstr(j, "mediaType");
    if (mt == NULL || (strcmp(mt,
            "application/vnd.dev.sigstore.trustedroot+json;version=0.1") != 0
        && strcmp(mt, "application/vnd.dev.sigstore.trustedroot.v0.2+json")
            != 0))
    {
        rc = pg_sig_fail(err, PG_SIG_EROOT, STEP, "unknown mediaType");
        goto fail;
    }
    rc = parse_list(j, "tlogs", &r->ntlogs, limits.root_entries, err);
    if (rc == PG_SIG_OK) {
        rc = parse_list(j, "ctlogs", &r->nctlogs, limits.root_entries, err);
    }
    if (rc == PG_SIG_OK) {
        rc = parse_list(j, "certificateAuthorities", &r->ncas,
            limits.root_entries, err);
    }
    if (rc == PG_SIG_OK) {
        rc = parse_list(j, "timestampAuthorities", &r->ntsas,
            limits.root_entries, err);
    }
    if (rc != PG_SIG_OK) {
        r->ntlogs = r->nctlogs = r->ncas = r->ntsas = 0;
        goto fail;
    }
    a = pg_sig_jget(j, "tlogs");
    for (i = 0; i < r->ntlogs; i++) {
        snprintf(what, sizeof(what), "tlogs[%zu]", i);
        rc = parse_log(json_array_get(a, i), &r->tlogs[i], what, &limits,
            err);
        if (rc != PG_SIG_OK) {
            goto fail;
        }
    }
    a = pg_sig_jget(j, "ctlogs");
    for (i = 0; i < r->nctlogs; i++) {
        snprintf(what, sizeof(what), "ctlogs[%zu]", i);
        rc = parse_log(json_array_get(a, i), &r->ctlogs[i], what, &limits,
            err);
        if (rc != PG_SIG_OK) {
            goto fail;
        }
    }
    a = pg_sig_jget(j, "certificateAuthorities");
    for (i = 0; i < r->ncas; i++) {
        snprintf(what, sizeof(what), "certificateAuthorities[%zu]", i);
        rc = parse_ca(json_array_get(a, i), &r->cas[i], what, &limits, err);
        if (rc != PG_SIG_OK) {
            goto fail;
        }
    }
    a = pg_sig_jget(j, "timestampAuthorities");
    for (i = 0; i < r->ntsas; i++) {
        snprintf(what, sizeof(what), "timestampAuthorities[%zu]", i);
        rc = parse_ca(json_array_get(a, i), &r->tsas[i], what, &limits, err);
        if (rc != PG_SIG_OK) {
            goto fail;
        }
    }
    SHA256((const unsigned char *) json, len, digest);
    pg_sig_hex(digest, 32, r->id);
    json_decref(j);
    *out = r;
    return PG_SIG_OK;
fail:
    json_decref(j);
    pg_sig_trust_root_free(r);
    return rc;
}

int
pg_sig_trust_root_load_file(const char *path,
    struct pg_sig_trust_root **out, struct pg_sig_err *err)
{
    FILE *f;
    char *buf;
    size_t n;
    int rc;

    *out = NULL;
    pg_sig_err_init(err);
    f = fopen(path, "rb");
    if (f == NULL) {
        return pg_sig_fail(err, PG_SIG_EROOT, STEP, "cannot open %.100s",
            path);
    }
    buf = malloc(PG_SIG_MAX_JSON_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "trust root buffer");
    }
    n = fread(buf, 1, PG_SIG_MAX_JSON_BYTES + 1, f);
    fclose(f);
    rc = pg_sig_trust_root_load(buf, n, out, err);
    free(buf);
    return rc;
}

int
pg_sig_trust_root_builtin(int staging, struct pg_sig_trust_root **out,
    struct pg_sig_err *err)
{
    if (staging) {
        return pg_sig_trust_root_load((const char *) pg_sig_root_staging,
            pg_sig_root_staging_len, out, err);
    }
    return pg_sig_trust_root_load((const char *) pg_sig_root_prod,
        pg_sig_root_prod_len, out, err);
}

static void
free_ca(struct pg_sig_ca *ca)
{
    size_t i;

    for (i = 0; i < 3; i++) {
        pg_sig_vctx_clear(&ca->vctx[i]);
    }
    for (i = 0; i < ca->ncerts; i++) {
        X509_free(ca->certs[i]);
    }
    OPENSSL_free(ca->subject_der);
}

void
pg_sig_trust_root_free(struct pg_sig_trust_root *r)
{
    size_t i;

    if (r == NULL) {
        return;
    }
    for (i = 0; i < r->ntlogs; i++) {
        pg_sig_vctx_clear(&r->tlogs[i].vctx);
        EVP_PKEY_free(r->tlogs[i].key);
    }
    for (i = 0; i < r->nctlogs; i++) {
        pg_sig_vctx_clear(&r->ctlogs[i].vctx);
        EVP_PKEY_free(r->ctlogs[i].key);
    }
    for (i = 0; i < r->ncas; i++) {
        free_ca(&r->cas[i]);
    }
    for (i = 0; i < r->ntsas; i++) {
        free_ca(&r->tsas[i]);
    }
    free(r);
}

const char *
pg_sig_trust_root_id(const struct pg_sig_trust_root *root)
{
    return root->id;
}
