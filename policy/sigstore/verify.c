/* policy/sigstore/verify.c — verify a bundle: the steps in spec order.
 *
 * pg_sig_verify runs V1 (verified times: SET-backed integrated time and
 * RFC 3161 timestamps), V2 (chain), V3 (SCT), V4 (leaf profile and
 * identity), V5 (log key window, inclusion proof, checkpoint), V6 (times
 * inside the leaf's validity), V7 (signature over the content) and V8 (log
 * body matches the bundle), each in its own file; V0 ran in the parser.
 * The first failure fills the error record and ends the run: its step
 * string names the check.  The only inputs are the options (trust root,
 * limits, policy, artifact digest, the caller's "now"); no clock, no
 * globals, so one trust root serves any number of threads.
 *
 * Owns: per-call scratch (managed key, statement JSON).  Borrows: options
 * and bundle.  Runs on: either (CPU only: a worker, not the loop).
 * Spec: sigstore-verification §3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "sig_int.h"

/* The key that signed the content: the leaf's, or the policy's managed
 * key.  *owned is set when the caller must free it. */
static int
signer_key(const struct pg_sig_verify_opts *o, const struct pg_sig_bundle *b,
    EVP_PKEY **key, EVP_PKEY **owned, struct pg_sig_err *err)
{
    BIO *bio;

    *key = NULL;
    *owned = NULL;
    if (b->leaf != NULL) {
        if (o->policy->kind == PG_SIG_POLICY_KEY) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, "identity", "a public "
                "key was given but the bundle carries a certificate");
        }
        *key = b->leaf->key;
        if (*key == NULL) {
            return pg_sig_fail(err, PG_SIG_EPARSE, "bundle", "leaf public "
                "key is unusable");
        }
        return PG_SIG_OK;
    }
    if (o->policy->kind != PG_SIG_POLICY_KEY) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, "identity", "bundle is "
            "signed by a managed key but an identity policy was given");
    }
    if (o->policy->key_pem == NULL || o->policy->key_pem_len > 65536) {
        return pg_sig_fail(err, PG_SIG_EPARSE, "key", "no usable public "
            "key given");
    }
    bio = BIO_new_mem_buf(o->policy->key_pem, (int) o->policy->key_pem_len);
    *owned = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (*owned == NULL) {
        return pg_sig_fail(err, PG_SIG_EPARSE, "key", "public key is not a "
            "PEM SubjectPublicKeyInfo");
    }
    *key = *owned;
    return PG_SIG_OK;
}

/* V1: verified times.  *log is set when the entry's log was looked up. */
static int
verified_times(const struct pg_sig_verify_opts *o,
    const struct pg_sig_bundle *b, const struct pg_sig_log **log,
    int64_t *times, size_t *ntimes, struct pg_sig_err *err)
{
    size_t i, k;
    int rc;

    *ntimes = 0;
    if (b->tlog.set != NULL) {
        /* V5a then V5d early: only a verified SET makes a time */
        *log = pg_sig_tlog_find(o->root, &b->tlog);
        if (*log == NULL) {
            return pg_sig_fail(err, PG_SIG_ETLOG, "tlog", "log id of the "
                "entry is not in the trusted root");
        }
        rc = pg_sig_tlog_verify_set(&b->tlog, *log, err);
        if (rc != PG_SIG_OK) {
            return rc;
        }
        times[(*ntimes)++] = pg_sig_secs_to_ns(b->tlog.integrated_time);
    }
    for (i = 0; i < b->ntsr; i++) {
        int64_t gen;

        for (k = 0; k < i; k++) {
            if (b->tsr_len[k] == b->tsr_len[i]
                && memcmp(b->tsr[k], b->tsr[i], b->tsr_len[i]) == 0)
            {
                return pg_sig_fail(err, PG_SIG_ETSA, "tsa", "duplicate "
                    "timestamp");
            }
        }
        rc = pg_sig_verify_tsa(b->tsr[i], b->tsr_len[i], b->sig, b->sig_len,
            o->root, &gen, err);
        if (rc != PG_SIG_OK) {
            return rc;
        }
        times[(*ntimes)++] = gen;
    }
    if (*ntimes == 0) {
        return pg_sig_fail(err, PG_SIG_ETIME, "time", "no verified time: "
            "neither an integrated time with promise nor a timestamp");
    }
    for (i = 0; o->now != 0 && i < *ntimes; i++) {
        if (times[i] > pg_sig_secs_to_ns(o->now + PG_SIG_CLOCK_SKEW)) {
            return pg_sig_fail(err, PG_SIG_ETIME, "time", "signing time is "
                "in the future");
        }
    }
    return PG_SIG_OK;
}

/* V6: every verified time inside the leaf's validity (inclusive). */
static int
times_in_leaf(const struct pg_sig_cert *leaf, const int64_t *times,
    size_t ntimes, struct pg_sig_err *err)
{
    size_t i;
    char ts[40];

    for (i = 0; i < ntimes; i++) {
        if (times[i] < leaf->not_before || times[i] > leaf->not_after) {
            pg_sig_fmt_time(times[i], ts, sizeof(ts));
            return pg_sig_fail(err, PG_SIG_ETIME, "validity", "signing time "
                "%s outside the leaf's validity", ts);
        }
    }
    return PG_SIG_OK;
}

/* V7 (artifact): some in-toto subject carries the artifact's sha256. */
static int
subject_has_digest(const struct pg_sig_verify_opts *o,
    const struct pg_sig_bundle *b, struct pg_sig_err *err)
{
    struct pg_sig_err jerr = { PG_SIG_OK, "", "" };
    json_t *j, *subs;
    char hex[65];
    size_t i;
    int found = 0;

    pg_sig_hex(o->artifact_sha256, 32, hex);
    j = pg_sig_json_load((const char *) b->payload, b->payload_len,
        o->limits, "signature", &jerr);
    subs = pg_sig_jget(j, "subject");
    for (i = 0; json_is_array(subs) && i < json_array_size(subs); i++) {
        const char *d = pg_sig_jstr(pg_sig_jget(json_array_get(subs, i),
            "digest"), "sha256");

        if (d != NULL && strcmp(d, hex) == 0) {
            found = 1;
        }
    }
    json_decref(j);
    if (!found) {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "no in-toto "
            "subject has the artifact's sha256");
    }
    return PG_SIG_OK;
}

/* The artifact's digest in hash h, if the caller gave it. */
static const unsigned char *
artifact_digest(const struct pg_sig_verify_opts *o, enum pg_sig_hash h)
{
    switch (h) {
    case PG_SIG_HASH_NONE:
        return NULL;
    case PG_SIG_SHA2_256:
        return o->artifact_sha256;
    case PG_SIG_SHA2_384:
        return o->artifact_sha384;
    case PG_SIG_SHA2_512:
        return o->artifact_sha512;
    }
    return NULL;
}

/* V7 (messageSignature): the signature over the artifact's digest, in
 * the hash the key's registry entry signs; a messageDigest naming another
 * hash is refused before any comparison. */
static int
message_signature(const struct pg_sig_verify_opts *o,
    const struct pg_sig_bundle *b, EVP_PKEY *key,
    const struct pg_sig_alg *const *algs, size_t nalgs,
    const struct pg_sig_alg **used, struct pg_sig_err *err)
{
    enum pg_sig_hash h = algs[0]->hash;   /* same for every entry of a key */
    const unsigned char *dgst;
    size_t i;

    if (h == PG_SIG_HASH_NONE) {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "%s message "
            "signatures are not supported (pure Ed25519 signs the whole "
            "artifact, Ed25519ph needs OpenSSL 3.2); use a DSSE envelope",
            algs[0]->label);
    }
    if (b->has_msg_digest && b->msg_hash != h) {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "messageDigest "
            "is %s but an %s key signs %s (Sigstore algorithm registry)",
            pg_sig_hash_name(b->msg_hash), algs[0]->label,
            pg_sig_hash_name(h));
    }
    if (o->artifact_sha256 == NULL) {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "message "
            "signature needs the artifact");
    }
    dgst = artifact_digest(o, h);
    if (dgst == NULL) {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "message "
            "signature by an %s key needs the artifact's %s, not only its "
            "SHA2_256", algs[0]->label, pg_sig_hash_name(h));
    }
    if (b->has_msg_digest
        && CRYPTO_memcmp(b->msg_digest, dgst, b->msg_digest_len) != 0)
    {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "messageDigest "
            "differs from the artifact's %s", pg_sig_hash_rekor_name(h));
    }
    for (i = 0; i < nalgs && *used == NULL; i++) {
        if (pg_sig_alg_verify_digest(algs[i], key, dgst,
                pg_sig_hash_len(h), b->sig, b->sig_len))
        {
            *used = algs[i];
        }
    }
    if (*used == NULL) {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "message "
            "signature does not verify over the artifact");
    }
    return PG_SIG_OK;
}

/* V7: the signature over the content, by a registry algorithm of the
 * key; *used is the entry that verified (V8 checks the log names it). */
static int
content_signature(const struct pg_sig_verify_opts *o,
    const struct pg_sig_bundle *b, EVP_PKEY *key,
    const struct pg_sig_alg **used, struct pg_sig_err *err)
{
    const struct pg_sig_alg *algs[PG_SIG_MAX_KEY_ALGS];
    size_t nalgs;
    int rc;

    *used = NULL;
    rc = pg_sig_alg_for_key(key, algs, &nalgs, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    if (b->content != PG_SIG_CONTENT_DSSE) {
        return message_signature(o, b, key, algs, nalgs, used, err);
    }
    if (o->require_p256 && (algs[0]->key_id != EVP_PKEY_EC
            || algs[0]->hash != PG_SIG_SHA2_256))
    {
        return pg_sig_fail(err, PG_SIG_ESIG, "signature", "signing key "
            "is not ECDSA P-256");
    }
    rc = pg_sig_verify_dsse(key, algs, nalgs, b->payload_type, b->payload,
        b->payload_len, b->sig, b->sig_len, used, err);
    if (rc == PG_SIG_OK && o->artifact_sha256 != NULL) {
        rc = subject_has_digest(o, b, err);
    }
    return rc;
}

int
pg_sig_verify(const struct pg_sig_verify_opts *o,
    const struct pg_sig_bundle *b, struct pg_sig_result *res,
    struct pg_sig_err *err)
{
    int64_t times[1 + PG_SIG_MAX_TIMESTAMPS];
    const struct pg_sig_log *log = NULL;
    const struct pg_sig_ca *ca = NULL;
    const struct pg_sig_alg *alg = NULL;
    EVP_PKEY *key, *owned;
    size_t ntimes = 0, i;
    int rc;

    pg_sig_err_init(err);
    memset(res, 0, sizeof(*res));
    rc = signer_key(o, b, &key, &owned, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }

    /* V1: establish verified times (SET first, then RFC 3161) */
    rc = verified_times(o, b, &log, times, &ntimes, err);
    if (rc != PG_SIG_OK) {
        goto done;
    }
    if (b->leaf != NULL) {
        /* V2: path to a Fulcio CA at every verified time */
        rc = pg_sig_verify_chain(b, o->root, times, ntimes, &ca, err);
        if (rc != PG_SIG_OK) {
            goto done;
        }
        /* V3: the embedded SCT */
        rc = pg_sig_verify_sct(b->leaf, ca, o->root, err);
        if (rc != PG_SIG_OK) {
            goto done;
        }
        /* V4: leaf profile and identity policy */
        rc = pg_sig_verify_identity(b->leaf, o->policy, err);
        if (rc != PG_SIG_OK) {
            goto done;
        }
    }

    /* V5: the log entry — key window, inclusion proof, checkpoint */
    if (log == NULL) {
        log = pg_sig_tlog_find(o->root, &b->tlog);
    }
    if (log == NULL) {
        rc = pg_sig_fail(err, PG_SIG_ETLOG, "tlog", "log id of the entry is "
            "not in the trusted root");
        goto done;
    }
    rc = pg_sig_tlog_verify_proof(&b->tlog, log, times, ntimes, o->limits,
        err);
    if (rc != PG_SIG_OK) {
        goto done;
    }

    /* V6: every verified time inside the leaf's validity */
    if (b->leaf != NULL) {
        rc = times_in_leaf(b->leaf, times, ntimes, err);
        if (rc != PG_SIG_OK) {
            goto done;
        }
    }

    /* V7: the signature over the content */
    rc = content_signature(o, b, key, &alg, err);
    if (rc != PG_SIG_OK) {
        goto done;
    }

    /* V8: the log body describes this bundle */
    rc = pg_sig_tlog_verify_body(b, key, alg,
        b->content == PG_SIG_CONTENT_DSSE ? NULL
        : artifact_digest(o, alg->hash), o->limits, err);
    if (rc != PG_SIG_OK) {
        goto done;
    }

    res->ntimes = ntimes;
    res->signing_time_ns = times[0];
    for (i = 1; i < ntimes; i++) {
        if (times[i] < res->signing_time_ns) {
            res->signing_time_ns = times[i];
        }
    }
    if (b->content == PG_SIG_CONTENT_DSSE) {
        res->is_dsse = 1;
        res->payload = b->payload;
        res->payload_len = b->payload_len;
        res->payload_type = b->payload_type;
    }
done:
    EVP_PKEY_free(owned);
    return rc;
}

int
pg_sig_verify_bundle_json(const struct pg_sig_verify_opts *opts,
    const char *json, size_t len, struct pg_sig_err *err)
{
    struct pg_sig_bundle *b;
    struct pg_sig_result res;
    int rc;

    pg_sig_err_init(err);
    rc = pg_sig_bundle_parse(json, len, opts->limits, &b, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    rc = pg_sig_verify(opts, b, &res, err);
    pg_sig_bundle_free(b);
    return rc;
}

int
pg_sig_bundle_is_dsse(const struct pg_sig_bundle *b)
{
    return b->content == PG_SIG_CONTENT_DSSE;
}

int
pg_sig_check_identity_bundle(const struct pg_sig_bundle *b,
    const struct pg_sig_policy *policy, struct pg_sig_err *err)
{
    if (b->leaf == NULL) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, "identity", "bundle has "
            "no certificate");
    }
    return pg_sig_verify_identity(b->leaf, policy, err);
}
