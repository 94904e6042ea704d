/* policy/sigstore/bundle.c — parse a Sigstore bundle and check its shape (V0).
 *
 * Turns bundle JSON (v0.1, v0.2, v0.3; messageSignature or dsseEnvelope;
 * x509CertificateChain, certificate or publicKey) into a struct
 * pg_sig_bundle holding decoded bytes, and rejects everything §3 V0 lists
 * before any cryptography runs: unknown media type, wrong material form for
 * the version, leaf that is not a leaf, a self-signed CA in the chain, bad
 * base64 or DER, != 1 DSSE signature, != 1 tlog entry, unknown kind
 * version, missing proof or checkpoint, the promise/timestamp rule, and
 * negative or out-of-range indices.  The same entry-parsing code serves
 * pg_sig_bundle_from_dsse, the PEP 740 conversion.
 *
 * Owns: the bundle and its buffers (pg_sig_bundle_free).  Borrows: the
 * JSON text.  Runs on: either.  Spec: sigstore-verification §1.3, V0.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "sig_int.h"

#define STEP "bundle"

static int
bad(struct pg_sig_err *err, const char *fmt, const char *what)
{
    return pg_sig_fail(err, PG_SIG_EPARSE, STEP, fmt, what);
}

/* Decodes a required base64 member; the error names it. */
static int
need_b64(const json_t *obj, const char *key, const char *what,
    const struct pg_sig_limits *limits, unsigned char **out, size_t *len,
    struct pg_sig_err *err)
{
    int rc = pg_sig_jb64(obj, key, limits->b64_chars, out, len);

    if (rc == 1) {
        return pg_sig_fail(err, PG_SIG_EPARSE, STEP, "missing %s", what);
    }
    if (rc == -2) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "%s longer than %zu "
            "base64 characters", what, limits->b64_chars);
    }
    if (rc != 0) {
        return pg_sig_fail(err, PG_SIG_EPARSE, STEP, "invalid base64 in %s",
            what);
    }
    return PG_SIG_OK;
}

static X509 *
der_cert(const unsigned char *der, size_t len)
{
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long) len);

    if (x != NULL && p != der + len) {
        X509_free(x);
        return NULL;
    }
    if (x != NULL) {
        X509_check_purpose(x, -1, 0);
    }
    return x;
}

/* [py] leaf rule: v3, not a CA, KU digitalSignature, EKU codeSigning. */
static int
is_leaf(const struct pg_sig_cert *c)
{
    return c->version == 3 && !c->is_ca && c->has_ku
        && c->ku_digital_signature && c->has_eku && c->eku_code_signing;
}

/* Reads the bundle's leaf (b->leaf_der) into b->leaf. */
static int
read_leaf(struct pg_sig_bundle *b, struct pg_sig_err *err)
{
    if (pg_sig_cert_parse(b->leaf_der, b->leaf_der_len, &b->leaf_cert)
        != 0)
    {
        pg_sig_cert_clear(&b->leaf_cert);
        return bad(err, "%s is not a usable DER X.509 certificate", "leaf");
    }
    b->leaf = &b->leaf_cert;
    if (!is_leaf(b->leaf)) {
        return bad(err, "first certificate is not a %s (v3, not CA, "
            "digitalSignature, codeSigning)", "leaf");
    }
    return PG_SIG_OK;
}

static int
parse_tlog(const json_t *t, struct pg_sig_tlog_entry *e,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *kv, *ip, *proof, *hashes;
    const char *s;
    unsigned char *buf = NULL;
    size_t len, i;
    int rc;

    if (!json_is_object(t)) {
        return bad(err, "%s is not an object", "tlog entry");
    }
    rc = pg_sig_jint64(t, "logIndex", &e->log_index);
    if (rc != 0) {
        return bad(err, "%s missing or not an integer", "logIndex");
    }
    if (e->log_index < 0) {
        return bad(err, "negative %s", "logIndex");
    }
    s = pg_sig_jstr(pg_sig_jget(t, "logId"), "keyId");
    if (s == NULL) {
        return bad(err, "missing %s", "logId.keyId");
    }
    if (pg_sig_b64_decode(s, strlen(s), 64, &buf, &len) != 0 || len == 0
        || len > 32)
    {
        free(buf);
        return bad(err, "invalid %s", "logId.keyId");
    }
    memcpy(e->log_id, buf, len);
    e->log_id_len = len;
    free(buf);
    kv = pg_sig_jget(t, "kindVersion");
    if (pg_sig_jstr(kv, "kind") == NULL || pg_sig_jstr(kv, "version") == NULL
        || strlen(pg_sig_jstr(kv, "kind")) >= sizeof(e->kind))
    {
        return bad(err, "missing or bad %s", "kindVersion");
    }
    snprintf(e->kind, sizeof(e->kind), "%s", pg_sig_jstr(kv, "kind"));
    s = pg_sig_jstr(kv, "version");
    if (strcmp(s, "0.0.1") != 0 && strcmp(s, "0.0.2") != 0) {
        return bad(err, "unsupported kindVersion.version '%.12s'", s);
    }
    snprintf(e->version, sizeof(e->version), "%s", s);
    rc = pg_sig_jint64(t, "integratedTime", &e->integrated_time);
    if (rc < 0 || (rc == 0 && e->integrated_time < 0)) {
        return bad(err, "bad %s", "integratedTime");
    }
    e->has_time = rc == 0 && e->integrated_time != 0;
    ip = pg_sig_jget(t, "inclusionPromise");
    if (ip != NULL) {
        rc = need_b64(ip, "signedEntryTimestamp", "signedEntryTimestamp",
            limits, &e->set, &e->set_len, err);
        if (rc != PG_SIG_OK) {
            return rc;
        }
    }
    rc = need_b64(t, "canonicalizedBody", "canonicalizedBody", limits,
        &e->body, &e->body_len, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    proof = pg_sig_jget(t, "inclusionProof");
    if (proof == NULL) {
        return bad(err, "tlog entry has no %s", "inclusionProof");
    }
    e->has_proof = 1;
    if (pg_sig_jint64(proof, "logIndex", &e->proof_index) != 0
        || pg_sig_jint64(proof, "treeSize", &e->tree_size) != 0)
    {
        return bad(err, "%s: bad logIndex or treeSize", "inclusionProof");
    }
    if (e->proof_index < 0 || e->tree_size <= 0
        || e->proof_index >= e->tree_size)
    {
        return bad(err, "%s: logIndex out of range of treeSize",
            "inclusionProof");
    }
    s = pg_sig_jstr(proof, "rootHash");
    if (s == NULL || pg_sig_b64_decode_fixed(s, strlen(s), e->root_hash, 32)
        != 0)
    {
        return bad(err, "%s: rootHash is not 32 bytes", "inclusionProof");
    }
    hashes = pg_sig_jget(proof, "hashes");
    if (hashes != NULL && !json_is_array(hashes)) {
        return bad(err, "%s: hashes is not an array", "inclusionProof");
    }
    if (hashes != NULL && json_array_size(hashes) > limits->proof_hashes) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "inclusion proof has "
            "more than %zu hashes", limits->proof_hashes);
    }
    if (hashes != NULL && json_array_size(hashes) > 0) {
        e->nhashes = json_array_size(hashes);
        e->hashes = malloc(e->nhashes * 32);
        if (e->hashes == NULL) {
            return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "proof hashes");
        }
        for (i = 0; i < e->nhashes; i++) {
            json_t *h = json_array_get(hashes, i);

            if (!json_is_string(h) || pg_sig_b64_decode_fixed(
                    json_string_value(h), json_string_length(h),
                    e->hashes[i], 32) != 0)
            {
                return bad(err, "%s: a hash is not 32 bytes",
                    "inclusionProof");
            }
        }
    }
    s = pg_sig_jstr(pg_sig_jget(proof, "checkpoint"), "envelope");
    if (s == NULL || s[0] == '\0') {
        return bad(err, "%s has no checkpoint", "inclusionProof");
    }
    len = strlen(s);
    if (len > limits->checkpoint_bytes) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "checkpoint longer "
            "than %zu bytes", limits->checkpoint_bytes);
    }
    e->checkpoint = malloc(len + 1);
    if (e->checkpoint == NULL) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "checkpoint");
    }
    memcpy(e->checkpoint, s, len + 1);
    e->checkpoint_len = len;
    return PG_SIG_OK;
}

/* Entries array: exactly one, after the count cap. */
static int
parse_tlogs(const json_t *arr, struct pg_sig_tlog_entry *e,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    if (!json_is_array(arr)) {
        return bad(err, "missing %s", "tlogEntries");
    }
    if (json_array_size(arr) > limits->tlog_entries) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "more than %zu tlog "
            "entries", limits->tlog_entries);
    }
    if (json_array_size(arr) != 1) {
        return pg_sig_fail(err, PG_SIG_EPARSE, STEP, "expected exactly one "
            "tlog entry, got %zu", json_array_size(arr));
    }
    return parse_tlog(json_array_get(arr, 0), e, limits, err);
}

static int
parse_timestamps(const json_t *tvd, struct pg_sig_bundle *b,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *a = pg_sig_jget(tvd, "rfc3161Timestamps");
    size_t i;
    int rc;

    if (a == NULL) {
        return PG_SIG_OK;
    }
    if (!json_is_array(a)) {
        return bad(err, "%s is not an array", "rfc3161Timestamps");
    }
    if (json_array_size(a) > limits->timestamps
        || json_array_size(a) > PG_SIG_MAX_TIMESTAMPS)
    {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "more than %zu RFC "
            "3161 timestamps", limits->timestamps);
    }
    for (i = 0; i < json_array_size(a); i++) {
        rc = need_b64(json_array_get(a, i), "signedTimestamp",
            "signedTimestamp", limits, &b->tsr[i], &b->tsr_len[i], err);
        if (rc != PG_SIG_OK) {
            return rc;
        }
        b->ntsr++;
    }
    return PG_SIG_OK;
}

/* Rules shared by both construction paths (§1.3 structural rules). */
static int
check_entry_rules(const struct pg_sig_bundle *b, struct pg_sig_err *err)
{
    if (b->version == 1 && b->tlog.set == NULL) {
        return bad(err, "%s bundle needs an inclusion promise", "v0.1");
    }
    if (b->tlog.set == NULL && b->ntsr == 0) {
        return bad(err, "%s: no inclusion promise and no RFC 3161 "
            "timestamp", "tlog entry");
    }
    return PG_SIG_OK;
}

static int
parse_material(const json_t *vm, struct pg_sig_bundle *b,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *chain = pg_sig_jget(vm, "x509CertificateChain");
    json_t *cert = pg_sig_jget(vm, "certificate");
    json_t *pk = pg_sig_jget(vm, "publicKey");
    size_t i, n;
    int rc, forms = (chain != NULL) + (cert != NULL) + (pk != NULL);

    if (forms != 1) {
        return bad(err, "%s must hold exactly one of x509CertificateChain, "
            "certificate, publicKey", "verificationMaterial");
    }
    if (pk != NULL) {
        b->has_public_key = 1;
        return PG_SIG_OK;
    }
    if (b->version == 3 && cert == NULL) {
        return bad(err, "%s bundle needs verificationMaterial.certificate",
            "v0.3");
    }
    if (b->version < 3 && chain == NULL) {
        return bad(err, "%s bundle needs x509CertificateChain",
            b->version == 1 ? "v0.1" : "v0.2");
    }
    if (cert != NULL) {
        rc = need_b64(cert, "rawBytes", "certificate.rawBytes", limits,
            &b->leaf_der, &b->leaf_der_len, err);
        if (rc != PG_SIG_OK) {
            return rc;
        }
    } else {
        json_t *certs = pg_sig_jget(chain, "certificates");

        if (!json_is_array(certs) || json_array_size(certs) == 0) {
            return bad(err, "empty %s", "x509CertificateChain");
        }
        n = json_array_size(certs);
        if (n > limits->chain_certs || n > PG_SIG_MAX_CHAIN_CERTS) {
            return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "certificate chain "
                "longer than %zu", limits->chain_certs);
        }
        rc = need_b64(json_array_get(certs, 0), "rawBytes",
            "certificates[0].rawBytes", limits, &b->leaf_der,
            &b->leaf_der_len, err);
        if (rc != PG_SIG_OK) {
            return rc;
        }
        for (i = 1; i < n; i++) {
            unsigned char *der;
            size_t len;

            rc = need_b64(json_array_get(certs, i), "rawBytes",
                "chain certificate rawBytes", limits, &der, &len, err);
            if (rc != PG_SIG_OK) {
                return rc;
            }
            b->extra[b->nextra] = der_cert(der, len);
            free(der);
            if (b->extra[b->nextra] == NULL) {
                return bad(err, "%s: bad DER", "chain certificate");
            }
            b->nextra++;
            if (X509_get_extension_flags(b->extra[b->nextra - 1])
                & EXFLAG_SS)
            {
                return bad(err, "%s contains a self-signed root",
                    "x509CertificateChain");
            }
        }
    }
    return read_leaf(b, err);
}

static int
parse_content(const json_t *j, struct pg_sig_bundle *b,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *ms = pg_sig_jget(j, "messageSignature");
    json_t *de = pg_sig_jget(j, "dsseEnvelope");
    json_t *sigs, *md;
    const char *s;
    int rc;

    if ((ms != NULL) == (de != NULL)) {
        return bad(err, "%s needs exactly one of messageSignature, "
            "dsseEnvelope", "bundle");
    }
    if (ms != NULL) {
        b->content = PG_SIG_CONTENT_MSG;
        md = pg_sig_jget(ms, "messageDigest");
        if (md != NULL) {
            /* which one the signing key needs is V7's question */
            s = pg_sig_jstr(md, "algorithm");
            if (pg_sig_hash_from_name(s, &b->msg_hash) != 0) {
                return pg_sig_fail(err, PG_SIG_EPARSE, STEP, "messageDigest "
                    "algorithm %.40s is not SHA2_256, SHA2_384 or SHA2_512",
                    s != NULL ? s : "(none)");
            }
            b->msg_digest_len = pg_sig_hash_len(b->msg_hash);
            s = pg_sig_jstr(md, "digest");
            if (s == NULL || pg_sig_b64_decode_fixed(s, strlen(s),
                    b->msg_digest, b->msg_digest_len) != 0)
            {
                return pg_sig_fail(err, PG_SIG_EPARSE, STEP, "messageDigest "
                    "digest is not %zu bytes of base64", b->msg_digest_len);
            }
            b->has_msg_digest = 1;
        }
        rc = need_b64(ms, "signature", "messageSignature.signature", limits,
            &b->sig, &b->sig_len, err);
        if (rc == PG_SIG_OK && b->sig_len == 0) {
            rc = bad(err, "empty %s", "messageSignature.signature");
        }
        return rc;
    }
    b->content = PG_SIG_CONTENT_DSSE;
    rc = need_b64(de, "payload", "dsseEnvelope.payload", limits, &b->payload,
        &b->payload_len, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    s = pg_sig_jstr(de, "payloadType");
    if (s == NULL) {
        return bad(err, "missing %s", "dsseEnvelope.payloadType");
    }
    b->payload_type = strdup(s);
    if (b->payload_type == NULL) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "payloadType");
    }
    sigs = pg_sig_jget(de, "signatures");
    if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
        return bad(err, "%s must carry exactly one signature",
            "dsseEnvelope");
    }
    rc = need_b64(json_array_get(sigs, 0), "sig", "dsseEnvelope sig",
        limits, &b->sig, &b->sig_len, err);
    if (rc == PG_SIG_OK && b->sig_len == 0) {
        rc = bad(err, "empty %s", "dsseEnvelope sig");
    }
    return rc;
}

static int
media_version(const char *mt)
{
    if (mt == NULL) {
        return 0;
    }
    if (strcmp(mt, "application/vnd.dev.sigstore.bundle+json;version=0.1")
        == 0)
    {
        return 1;
    }
    if (strcmp(mt, "application/vnd.dev.sigstore.bundle+json;version=0.2")
        == 0)
    {
        return 2;
    }
    if (strcmp(mt, "application/vnd.dev.sigstore.bundle+json;version=0.3")
            == 0
        || strcmp(mt, "application/vnd.dev.sigstore.bundle.v0.3+json") == 0)
    {
        return 3;
    }
    return 0;
}

int
pg_sig_bundle_parse(const char *json, size_t len,
    const struct pg_sig_limits *limits, struct pg_sig_bundle **out,
    struct pg_sig_err *err)
{
    struct pg_sig_bundle *b;
    json_t *j, *vm;
    int rc;

    *out = NULL;
    pg_sig_err_init(err);
    j = pg_sig_json_load(json, len, limits, STEP, err);
    if (j == NULL) {
        return err->code;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        json_decref(j);
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "bundle");
    }
    b->version = media_version(pg_sig_jstr(j, "mediaType"));
    if (b->version == 0) {
        rc = bad(err, "unknown mediaType '%.60s'",
            pg_sig_jstr(j, "mediaType") != NULL
            ? pg_sig_jstr(j, "mediaType") : "(none)");
        goto done;
    }
    vm = pg_sig_jget(j, "verificationMaterial");
    if (!json_is_object(vm)) {
        rc = bad(err, "missing %s", "verificationMaterial");
        goto done;
    }
    rc = parse_material(vm, b, limits, err);
    if (rc == PG_SIG_OK) {
        rc = parse_content(j, b, limits, err);
    }
    if (rc == PG_SIG_OK) {
        rc = parse_timestamps(pg_sig_jget(vm, "timestampVerificationData"),
            b, limits, err);
    }
    if (rc == PG_SIG_OK) {
        rc = parse_tlogs(pg_sig_jget(vm, "tlogEntries"), &b->tlog, limits,
            err);
    }
    if (rc == PG_SIG_OK) {
        rc = check_entry_rules(b, err);
    }
done:
    json_decref(j);
    if (rc != PG_SIG_OK) {
        pg_sig_bundle_free(b);
        return rc;
    }
    *out = b;
    return PG_SIG_OK;
}

static unsigned char *
dup_bytes(const unsigned char *p, size_t n)
{
    unsigned char *d = malloc(n + 1);

    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

int
pg_sig_bundle_from_dsse(const unsigned char *cert_der, size_t cert_len,
    const unsigned char *payload, size_t payload_len,
    const char *payload_type, const unsigned char *sig, size_t sig_len,
    const void *tlog_entry, const unsigned char *const *tsr,
    const size_t *tsr_len, size_t ntsr, const struct pg_sig_limits *limits,
    struct pg_sig_bundle **out, struct pg_sig_err *err)
{
    struct pg_sig_bundle *b;
    size_t i;
    int rc = PG_SIG_OK;

    *out = NULL;
    pg_sig_err_init(err);
    if (ntsr > limits->timestamps || ntsr > PG_SIG_MAX_TIMESTAMPS) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "more than %zu RFC "
            "3161 timestamps", limits->timestamps);
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "bundle");
    }
    b->version = 3;
    b->content = PG_SIG_CONTENT_DSSE;
    b->leaf_der = dup_bytes(cert_der, cert_len);
    b->leaf_der_len = cert_len;
    b->payload = dup_bytes(payload, payload_len);
    b->payload_len = payload_len;
    b->payload_type = strdup(payload_type);
    b->sig = dup_bytes(sig, sig_len);
    b->sig_len = sig_len;
    if (b->leaf_der == NULL || b->payload == NULL || b->payload_type == NULL
        || b->sig == NULL)
    {
        rc = pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "bundle parts");
        goto done;
    }
    if (sig_len == 0) {
        rc = bad(err, "empty %s", "signature");
        goto done;
    }
    rc = read_leaf(b, err);
    if (rc != PG_SIG_OK) {
        goto done;
    }
    for (i = 0; i < ntsr; i++) {
        b->tsr[i] = dup_bytes(tsr[i], tsr_len[i]);
        b->tsr_len[i] = tsr_len[i];
        if (b->tsr[i] == NULL) {
            rc = pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "timestamp");
            goto done;
        }
        b->ntsr++;
    }
    rc = parse_tlog((const json_t *) tlog_entry, &b->tlog, limits, err);
    if (rc == PG_SIG_OK) {
        rc = check_entry_rules(b, err);
    }
done:
    if (rc != PG_SIG_OK) {
        pg_sig_bundle_free(b);
        return rc;
    }
    *out = b;
    return PG_SIG_OK;
}

void
pg_sig_bundle_free(struct pg_sig_bundle *b)
{
    size_t i;

    if (b == NULL) {
        return;
    }
    if (b->leaf != NULL) {
        pg_sig_cert_clear(b->leaf);
    }
    free(b->leaf_der);
    for (i = 0; i < b->nextra; i++) {
        X509_free(b->extra[i]);
    }
    free(b->sig);
    free(b->payload);
    free(b->payload_type);
    free(b->tlog.set);
    free(b->tlog.hashes);
    free(b->tlog.checkpoint);
    free(b->tlog.body);
    for (i = 0; i < b->ntsr; i++) {
        free(b->tsr[i]);
    }
    free(b);
}
