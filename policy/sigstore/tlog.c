/* policy/sigstore/tlog.c — the transparency log entry (V1 SET, V5, V8).
 *
 * Three entry points, one per spec sub-step that touches the entry:
 *  - pg_sig_tlog_verify_set (V1/V5d): the Rekor v1 inclusion promise, an
 *    ECDSA signature over the RFC 8785 JSON {"body","integratedTime",
 *    "logID","logIndex"} (global index); only a verified SET makes the
 *    integrated time a verified time.
 *  - pg_sig_tlog_verify_proof (V5a–c): the log's key window at every
 *    verified time, the Merkle inclusion proof over the exact body bytes,
 *    and the checkpoint, whose size and root must equal the proof's.
 *  - pg_sig_tlog_verify_body (V8): the canonicalized body describes this
 *    bundle — hashedrekord 0.0.1/0.0.2, dsse 0.0.1, intoto 0.0.2; dsse
 *    0.0.2 is rejected.  Bytes are compared decoded, never as base64.
 * The log is found by exact logId (no fallback key search).
 *
 * Owns: the parsed body, for the call.  Borrows: bundle, log, root.
 * Runs on: either.  Spec: sigstore-verification V5, V8, §2.2, §7.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

#include "sig_int.h"

const struct pg_sig_log *
pg_sig_tlog_find(const struct pg_sig_trust_root *root,
    const struct pg_sig_tlog_entry *e)
{
    size_t i;

    if (e->log_id_len != 32) {
        return NULL;
    }
    for (i = 0; i < root->ntlogs; i++) {
        if (memcmp(root->tlogs[i].log_id, e->log_id, 32) == 0) {
            return &root->tlogs[i];
        }
    }
    return NULL;
}

/* ----------------------------------------------------------------- SET */

int
pg_sig_tlog_verify_set(const struct pg_sig_tlog_entry *e,
    const struct pg_sig_log *log, struct pg_sig_err *err)
{
    char *body, hex[65], *msg;
    size_t cap;
    int n, ok;

    if (e->set == NULL || !e->has_time) {
        return pg_sig_fail(err, PG_SIG_ETLOG, "set", "entry has no "
            "inclusion promise with an integrated time");
    }
    body = pg_sig_b64_encode(e->body, e->body_len);
    if (body == NULL) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, "set", "SET payload");
    }
    pg_sig_hex(e->log_id, 32, hex);
    cap = strlen(body) + 160;
    msg = malloc(cap);
    if (msg == NULL) {
        free(body);
        return pg_sig_fail(err, PG_SIG_ENOMEM, "set", "SET payload");
    }
    n = snprintf(msg, cap, "{\"body\":\"%s\",\"integratedTime\":%lld,"
        "\"logID\":\"%s\",\"logIndex\":%lld}", body,
        (long long) e->integrated_time, hex, (long long) e->log_index);
    free(body);
    ok = n > 0 && (size_t) n < cap
        && pg_sig_pkey_verify_v(&log->vctx, 1, log->key, EVP_sha256(),
            (const unsigned char *) msg, (size_t) n, e->set, e->set_len);
    free(msg);
    if (!ok) {
        return pg_sig_fail(err, PG_SIG_ETLOG, "set", "signed entry "
            "timestamp does not verify with the log key");
    }
    return PG_SIG_OK;
}

/* --------------------------------------------------------------- proof */

static int
is_v2_entry(const struct pg_sig_tlog_entry *e)
{
    return strcmp(e->version, "0.0.2") == 0 && strcmp(e->kind, "intoto")
        != 0;
}

int
pg_sig_tlog_verify_proof(const struct pg_sig_tlog_entry *e,
    const struct pg_sig_log *log, const int64_t *times, size_t ntimes,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    struct pg_sig_checkpoint cp;
    char ts[40];
    size_t i;
    int rc;

    /* V5a: the log key's validFor holds every verified time */
    for (i = 0; i < ntimes; i++) {
        if (!pg_sig_window_contains(&log->valid, times[i])) {
            pg_sig_fmt_time(times[i], ts, sizeof(ts));
            return pg_sig_fail(err, PG_SIG_ETLOG, "tlog", "log key of "
                "%.60s not valid at %s", log->name, ts);
        }
    }
    /* V5b: inclusion of the exact body bytes */
    rc = pg_sig_merkle_verify(e->body, e->body_len, e->proof_index,
        e->tree_size, (const unsigned char (*)[32]) e->hashes, e->nhashes,
        e->root_hash, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    /* V5c: the checkpoint signs the same tree */
    rc = pg_sig_checkpoint_verify(e->checkpoint, e->checkpoint_len, log,
        limits, &cp, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    if (CRYPTO_memcmp(cp.root_hash, e->root_hash, 32) != 0) {
        return pg_sig_fail(err, PG_SIG_ETLOG, "checkpoint", "checkpoint "
            "root hash differs from the inclusion proof's");
    }
    if (cp.size != e->tree_size) {
        return pg_sig_fail(err, PG_SIG_ETLOG, "checkpoint", "checkpoint "
            "size %lld differs from treeSize %lld", (long long) cp.size,
            (long long) e->tree_size);
    }
    if (is_v2_entry(e) && strcmp(cp.origin, log->name) != 0) {
        return pg_sig_fail(err, PG_SIG_ETLOG, "checkpoint", "checkpoint "
            "origin %.60s is not the log %.60s", cp.origin, log->name);
    }
    return PG_SIG_OK;
}

/* ---------------------------------------------------------------- body */

#define BSTEP "binding"

static int
mismatch(struct pg_sig_err *err, const char *what)
{
    return pg_sig_fail(err, PG_SIG_EBINDING, BSTEP, "log entry %s does not "
        "match the bundle", what);
}

/* base64 member equal to bytes. */
static int
b64_equals(const json_t *obj, const char *key, const unsigned char *want,
    size_t wlen, const struct pg_sig_limits *limits)
{
    unsigned char *buf;
    size_t len;
    int eq;

    if (pg_sig_jb64(obj, key, limits->b64_chars, &buf, &len) != 0) {
        return 0;
    }
    eq = len == wlen && CRYPTO_memcmp(buf, want, len) == 0;
    free(buf);
    return eq;
}

static int
hex_equals(const char *s, const unsigned char *digest, size_t dlen)
{
    char hex[2 * EVP_MAX_MD_SIZE + 1];

    pg_sig_hex(digest, dlen, hex);
    return s != NULL && strcmp(s, hex) == 0;
}

/* 1 if pem is exactly the usual PEM text of the certificate der (64-column
 * base64 lines, "\n" line ends, as Rekor and Go's pem.Encode write it).
 * Any such text is one PEM_read_bio would decode to der, so a match
 * settles the check without the line-by-line PEM reader; 0 says nothing
 * and the caller reads the PEM. */
static int
is_usual_cert_pem(const unsigned char *pem, size_t pemlen,
    const unsigned char *der, size_t derlen)
{
    static const char head[] = "-----BEGIN CERTIFICATE-----\n";
    static const char tail[] = "-----END CERTIFICATE-----\n";
    unsigned char line[66];
    size_t off, n, pos = sizeof(head) - 1;

    if (pemlen < pos || memcmp(pem, head, pos) != 0) {
        return 0;
    }
    for (off = 0; off < derlen; off += n) {
        n = derlen - off < 48 ? derlen - off : 48;
        line[EVP_EncodeBlock(line, der + off, (int) n)] = '\n';
        if (pemlen - pos < 4 * ((n + 2) / 3) + 1
            || memcmp(pem + pos, line, 4 * ((n + 2) / 3) + 1) != 0)
        {
            return 0;
        }
        pos += 4 * ((n + 2) / 3) + 1;
    }
    return derlen > 0 && pemlen - pos == sizeof(tail) - 1
        && memcmp(pem + pos, tail, sizeof(tail) - 1) == 0;
}

/* b64(PEM) member names the signer: leaf DER or the managed key. */
static int
pem_verifier_ok(const json_t *obj, const char *key,
    const struct pg_sig_bundle *b, EVP_PKEY *signer,
    const struct pg_sig_limits *limits)
{
    unsigned char *pem, *data = NULL;
    char *name = NULL, *header = NULL;
    size_t pemlen;
    long dlen = 0;
    BIO *bio;
    int ok = 0;

    if (pg_sig_jb64(obj, key, limits->b64_chars, &pem, &pemlen) != 0) {
        return 0;
    }
    if (b->leaf != NULL
        && is_usual_cert_pem(pem, pemlen, b->leaf_der, b->leaf_der_len))
    {
        free(pem);
        return 1;
    }
    bio = BIO_new_mem_buf(pem, (int) pemlen);
    if (bio == NULL) {
        free(pem);
        return 0;
    }
    if (b->leaf != NULL) {
        ok = PEM_read_bio(bio, &name, &header, &data, &dlen) == 1
            && strcmp(name, "CERTIFICATE") == 0
            && (size_t) dlen == b->leaf_der_len
            && memcmp(data, b->leaf_der, b->leaf_der_len) == 0;
    } else {
        EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

        ok = k != NULL && EVP_PKEY_eq(k, signer) == 1;
        EVP_PKEY_free(k);
    }
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    free(pem);
    return ok;
}

/* The digest a hashedrekord entry must carry, in hash h: the artifact's
 * (messageSignature; the caller's, checked in V7) or the PAE's (DSSE). */
static int
hashed_digest(const struct pg_sig_bundle *b,
    const unsigned char *artifact_digest, enum pg_sig_hash h,
    unsigned char *out, unsigned int *outlen)
{
    unsigned char *pae;
    size_t len;
    int ok;

    if (b->content == PG_SIG_CONTENT_MSG) {
        if (artifact_digest == NULL || h == PG_SIG_HASH_NONE) {
            return 0;
        }
        *outlen = (unsigned int) pg_sig_hash_len(h);
        memcpy(out, artifact_digest, *outlen);
        return 1;
    }
    pae = pg_sig_dsse_pae(b->payload_type, b->payload, b->payload_len, &len);
    if (pae == NULL) {
        return 0;
    }
    ok = h != PG_SIG_HASH_NONE && EVP_Digest(pae, len, out, outlen,
        pg_sig_hash_md(h), NULL) == 1;
    free(pae);
    return ok;
}

/* Rekor v1 hashedrekord: data.hash in the digest alg signs (Rekor v1
 * takes sha256, sha384 and sha512). */
static int
body_hashedrekord_v1(const json_t *spec, const struct pg_sig_bundle *b,
    EVP_PKEY *signer, const struct pg_sig_alg *alg,
    const unsigned char *artifact_digest,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *sig = pg_sig_jget(spec, "signature");
    json_t *hash = pg_sig_jget(pg_sig_jget(spec, "data"), "hash");
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen;
    const char *a = pg_sig_jstr(hash, "algorithm");

    if (!b64_equals(sig, "content", b->sig, b->sig_len, limits)) {
        return mismatch(err, "signature");
    }
    if (!pem_verifier_ok(pg_sig_jget(sig, "publicKey"), "content", b,
            signer, limits))
    {
        return mismatch(err, "public key");
    }
    if (a == NULL || strcmp(a, pg_sig_hash_rekor_name(alg->hash)) != 0
        || !hashed_digest(b, artifact_digest, alg->hash, d, &dlen)
        || !hex_equals(pg_sig_jstr(hash, "value"), d, dlen))
    {
        return mismatch(err, "artifact digest");
    }
    return PG_SIG_OK;
}

/* Rekor v2 hashedrekord: keyDetails names the registry entry that
 * verified the signature, data the digest that entry logs. */
static int
body_hashedrekord_v2(const json_t *spec, const struct pg_sig_bundle *b,
    EVP_PKEY *signer, const struct pg_sig_alg *alg,
    const unsigned char *artifact_digest,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    json_t *h = pg_sig_jget(spec, "hashedRekordV002");
    json_t *data = pg_sig_jget(h, "data"), *sig = pg_sig_jget(h, "signature");
    json_t *ver = pg_sig_jget(sig, "verifier");
    const char *s;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dlen;

    if (h == NULL) {
        return mismatch(err, "spec.hashedRekordV002");
    }
    if (!b64_equals(sig, "content", b->sig, b->sig_len, limits)) {
        return mismatch(err, "signature");
    }
    s = pg_sig_jstr(ver, "keyDetails");
    if (s == NULL || strcmp(s, alg->details) != 0) {
        return mismatch(err, "key details");
    }
    if (b->leaf != NULL) {
        if (!b64_equals(pg_sig_jget(ver, "x509Certificate"), "rawBytes",
                b->leaf_der, b->leaf_der_len, limits))
        {
            return mismatch(err, "certificate");
        }
    } else {
        unsigned char *spki = NULL;
        int n = i2d_PUBKEY(signer, &spki), eq;

        eq = n > 0 && b64_equals(pg_sig_jget(ver, "publicKey"), "rawBytes",
            spki, (size_t) n, limits);
        OPENSSL_free(spki);
        if (!eq) {
            return mismatch(err, "public key");
        }
    }
    s = pg_sig_jstr(data, "algorithm");
    if (s == NULL || strcmp(s, pg_sig_hash_name(alg->log_hash)) != 0
        || !hashed_digest(b, artifact_digest, alg->log_hash, d, &dlen)
        || !b64_equals(data, "digest", d, dlen, limits))
    {
        return mismatch(err, "artifact digest");
    }
    return PG_SIG_OK;
}

static int
payload_hash_ok(const json_t *ph, const struct pg_sig_bundle *b)
{
    unsigned char d[32];
    const char *alg = pg_sig_jstr(ph, "algorithm");

    SHA256(b->payload, b->payload_len, d);
    return alg != NULL && strcmp(alg, "sha256") == 0
        && hex_equals(pg_sig_jstr(ph, "value"), d, 32);
}

static int
body_dsse_v1(const json_t *spec, const struct pg_sig_bundle *b,
    EVP_PKEY *signer, const struct pg_sig_limits *limits,
    struct pg_sig_err *err)
{
    json_t *sigs = pg_sig_jget(spec, "signatures"), *s0;

    if (b->content != PG_SIG_CONTENT_DSSE) {
        return mismatch(err, "kind dsse (bundle is not DSSE)");
    }
    if (!payload_hash_ok(pg_sig_jget(spec, "payloadHash"), b)) {
        return mismatch(err, "payload hash");
    }
    if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
        return mismatch(err, "signature list");
    }
    s0 = json_array_get(sigs, 0);
    if (!b64_equals(s0, "signature", b->sig, b->sig_len, limits)) {
        return mismatch(err, "signature");
    }
    if (!pem_verifier_ok(s0, "verifier", b, signer, limits)) {
        return mismatch(err, "verifier");
    }
    return PG_SIG_OK;
}

static int
body_intoto_v2(const json_t *spec, const struct pg_sig_bundle *b,
    EVP_PKEY *signer, const struct pg_sig_limits *limits,
    struct pg_sig_err *err)
{
    json_t *content = pg_sig_jget(spec, "content");
    json_t *sigs = pg_sig_jget(pg_sig_jget(content, "envelope"),
        "signatures"), *s0;
    unsigned char *once;
    size_t len;
    int eq;

    if (b->content != PG_SIG_CONTENT_DSSE) {
        return mismatch(err, "kind intoto (bundle is not DSSE)");
    }
    if (!payload_hash_ok(pg_sig_jget(content, "payloadHash"), b)) {
        return mismatch(err, "payload hash");
    }
    if (!json_is_array(sigs) || json_array_size(sigs) != 1) {
        return mismatch(err, "signature list");
    }
    s0 = json_array_get(sigs, 0);
    /* sig is base64 of the base64 signature */
    if (pg_sig_jb64(s0, "sig", limits->b64_chars, &once, &len) != 0) {
        return mismatch(err, "signature");
    }
    {
        unsigned char *twice;
        size_t tlen;

        eq = pg_sig_b64_decode((const char *) once, len, limits->b64_chars,
            &twice, &tlen) == 0 && tlen == b->sig_len
            && CRYPTO_memcmp(twice, b->sig, tlen) == 0;
        free(twice);
    }
    free(once);
    if (!eq) {
        return mismatch(err, "signature");
    }
    if (pg_sig_jget(s0, "publicKey") != NULL
        && !pem_verifier_ok(s0, "publicKey", b, signer, limits))
    {
        return mismatch(err, "public key");
    }
    return PG_SIG_OK;
}

int
pg_sig_tlog_verify_body(const struct pg_sig_bundle *b, EVP_PKEY *signer,
    const struct pg_sig_alg *alg, const unsigned char *artifact_digest,
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    const struct pg_sig_tlog_entry *e = &b->tlog;
    const char *kind, *ver;
    json_t *j, *spec;
    int rc;

    j = pg_sig_json_load((const char *) e->body, e->body_len, limits, BSTEP,
        err);
    if (j == NULL) {
        return (int) err->code;
    }
    kind = pg_sig_jstr(j, "kind");
    ver = pg_sig_jstr(j, "apiVersion");
    spec = pg_sig_jget(j, "spec");
    if (kind == NULL || ver == NULL || strcmp(kind, e->kind) != 0
        || strcmp(ver, e->version) != 0)
    {
        rc = mismatch(err, "kind/apiVersion");
    } else if (spec == NULL) {
        rc = mismatch(err, "spec");
    } else if (strcmp(kind, "hashedrekord") == 0
        && strcmp(ver, "0.0.1") == 0)
    {
        rc = body_hashedrekord_v1(spec, b, signer, alg, artifact_digest,
            limits, err);
    } else if (strcmp(kind, "hashedrekord") == 0
        && strcmp(ver, "0.0.2") == 0)
    {
        rc = body_hashedrekord_v2(spec, b, signer, alg, artifact_digest,
            limits, err);
    } else if (strcmp(kind, "dsse") == 0 && strcmp(ver, "0.0.1") == 0) {
        rc = body_dsse_v1(spec, b, signer, limits, err);
    } else if (strcmp(kind, "intoto") == 0 && strcmp(ver, "0.0.2") == 0) {
        rc = body_intoto_v2(spec, b, signer, limits, err);
    } else {
        rc = pg_sig_fail(err, PG_SIG_EBINDING, BSTEP, "unsupported entry "
            "kind %.20s %.10s", kind, ver);
    }
    json_decref(j);
    return rc;
}
