/* policy/sigstore/algorithm.c — the Sigstore algorithm registry (V7, V8).
 *
 * Which signing algorithms a bundle's signer may use, as sigstore's
 * algorithm registry (architecture-docs algorithm-registry.md, the
 * PublicKeyDetails enum of protobuf-specs) lists them: ECDSA P-256/SHA-256,
 * P-384/SHA-384, P-521/SHA-512, Ed25519 (pure), and RSA 2048/3072/4096
 * with SHA-256 in PKCS#1 v1.5 or PSS padding.  The signer's key decides:
 * its type and size select the entries (an RSA key selects two, one per
 * padding: the certificate does not say which one the signer used), and
 * every digest the bundle names must be the one of that entry.  Any other
 * key (another curve, RSA of another size, DSA, …) or pairing (P-384 with
 * SHA-256, the registry's retired PKIX_ECDSA_P384_SHA_256) is refused.
 * Not supported although listed: Ed25519ph (OpenSSL 3.0 cannot verify it),
 * ML-DSA (experimental in the registry).  An RSA key is an rsaEncryption
 * SubjectPublicKeyInfo, as Fulcio (Go's x509) issues them; id-RSASSA-PSS
 * keys are not among the registry's PKIX encodings and are refused.
 *
 * Owns: nothing (a read-only table).  Borrows: keys, for the call.
 * Runs on: either.  Spec: sigstore-verification V7, V8; issue 9 item 6.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

#include "sig_int.h"

#define STEP "signature"

static const struct pg_sig_alg algs[] = {
    { "ecdsa-sha2-256-nistp256", "PKIX_ECDSA_P256_SHA_256", "ECDSA P-256",
        EVP_PKEY_EC, NID_X9_62_prime256v1, PG_SIG_SHA2_256,
        PG_SIG_SHA2_256, 0 },
    { "ecdsa-sha2-384-nistp384", "PKIX_ECDSA_P384_SHA_384", "ECDSA P-384",
        EVP_PKEY_EC, NID_secp384r1, PG_SIG_SHA2_384, PG_SIG_SHA2_384, 0 },
    { "ecdsa-sha2-512-nistp521", "PKIX_ECDSA_P521_SHA_512", "ECDSA P-521",
        EVP_PKEY_EC, NID_secp521r1, PG_SIG_SHA2_512, PG_SIG_SHA2_512, 0 },
    /* pure Ed25519 signs the message itself; Rekor v2 logs SHA-512 */
    { "ed25519", "PKIX_ED25519", "Ed25519", EVP_PKEY_ED25519, 0,
        PG_SIG_HASH_NONE, PG_SIG_SHA2_512, 0 },
    { "rsa-sign-pkcs1-2048-sha256", "PKIX_RSA_PKCS1V15_2048_SHA256",
        "RSA-2048 PKCS#1 v1.5", EVP_PKEY_RSA, 2048, PG_SIG_SHA2_256,
        PG_SIG_SHA2_256, 0 },
    { "rsa-sign-pss-2048-sha256", "PKIX_RSA_PSS_2048_SHA256",
        "RSA-2048 PSS", EVP_PKEY_RSA, 2048, PG_SIG_SHA2_256,
        PG_SIG_SHA2_256, 1 },
    { "rsa-sign-pkcs1-3072-sha256", "PKIX_RSA_PKCS1V15_3072_SHA256",
        "RSA-3072 PKCS#1 v1.5", EVP_PKEY_RSA, 3072, PG_SIG_SHA2_256,
        PG_SIG_SHA2_256, 0 },
    { "rsa-sign-pss-3072-sha256", "PKIX_RSA_PSS_3072_SHA256",
        "RSA-3072 PSS", EVP_PKEY_RSA, 3072, PG_SIG_SHA2_256,
        PG_SIG_SHA2_256, 1 },
    { "rsa-sign-pkcs1-4096-sha256", "PKIX_RSA_PKCS1V15_4096_SHA256",
        "RSA-4096 PKCS#1 v1.5", EVP_PKEY_RSA, 4096, PG_SIG_SHA2_256,
        PG_SIG_SHA2_256, 0 },
    { "rsa-sign-pss-4096-sha256", "PKIX_RSA_PSS_4096_SHA256",
        "RSA-4096 PSS", EVP_PKEY_RSA, 4096, PG_SIG_SHA2_256,
        PG_SIG_SHA2_256, 1 },
};

#define NALGS (sizeof(algs) / sizeof(algs[0]))

const char *
pg_sig_hash_name(enum pg_sig_hash h)
{
    switch (h) {
    case PG_SIG_HASH_NONE:
        return "none";
    case PG_SIG_SHA2_256:
        return "SHA2_256";
    case PG_SIG_SHA2_384:
        return "SHA2_384";
    case PG_SIG_SHA2_512:
        return "SHA2_512";
    }
    return "?";
}

/* The lower-case name Rekor v1 hashedrekord entries use ("sha384"). */
const char *
pg_sig_hash_rekor_name(enum pg_sig_hash h)
{
    switch (h) {
    case PG_SIG_HASH_NONE:
        return "none";
    case PG_SIG_SHA2_256:
        return "sha256";
    case PG_SIG_SHA2_384:
        return "sha384";
    case PG_SIG_SHA2_512:
        return "sha512";
    }
    return "?";
}

const EVP_MD *
pg_sig_hash_md(enum pg_sig_hash h)
{
    switch (h) {
    case PG_SIG_HASH_NONE:
        return NULL;
    case PG_SIG_SHA2_256:
        return EVP_sha256();
    case PG_SIG_SHA2_384:
        return EVP_sha384();
    case PG_SIG_SHA2_512:
        return EVP_sha512();
    }
    return NULL;
}

size_t
pg_sig_hash_len(enum pg_sig_hash h)
{
    switch (h) {
    case PG_SIG_HASH_NONE:
        return 0;
    case PG_SIG_SHA2_256:
        return 32;
    case PG_SIG_SHA2_384:
        return 48;
    case PG_SIG_SHA2_512:
        return 64;
    }
    return 0;
}

int
pg_sig_hash_from_name(const char *s, enum pg_sig_hash *out)
{
    static const enum pg_sig_hash all[] = { PG_SIG_SHA2_256,
        PG_SIG_SHA2_384, PG_SIG_SHA2_512 };
    size_t i;

    for (i = 0; s != NULL && i < sizeof(all) / sizeof(all[0]); i++) {
        if (strcmp(s, pg_sig_hash_name(all[i])) == 0) {
            *out = all[i];
            return 0;
        }
    }
    return -1;
}

/* The curve of an EC key as a NID (NID_undef if it has no named one). */
static int
ec_curve_nid(EVP_PKEY *key)
{
    char name[64];
    size_t len = 0;
    int nid;

    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
            name, sizeof(name), &len) != 1)
    {
        return NID_undef;
    }
    nid = OBJ_sn2nid(name);
    return nid != NID_undef ? nid : EC_curve_nist2nid(name);
}

/* "EC secp256k1", "RSA 1024 bits", "DSA" for reasons. */
static void
describe_key(EVP_PKEY *key, int id, char *buf, size_t len)
{
    char name[64];
    size_t n = 0;

    if (id == EVP_PKEY_EC) {
        if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME,
                name, sizeof(name), &n) != 1)
        {
            snprintf(name, sizeof(name), "explicit curve");
        }
        snprintf(buf, len, "EC %.60s", name);
    } else if (id == EVP_PKEY_RSA || id == EVP_PKEY_RSA_PSS) {
        snprintf(buf, len, "%s %d bits", id == EVP_PKEY_RSA ? "RSA"
            : "RSASSA-PSS", EVP_PKEY_get_bits(key));
    } else {
        snprintf(buf, len, "%.60s", OBJ_nid2sn(id));
    }
}

int
pg_sig_alg_for_key(EVP_PKEY *key, const struct pg_sig_alg **out,
    size_t *nout, struct pg_sig_err *err)
{
    int id = EVP_PKEY_get_base_id(key), param = 0;
    size_t i;
    char what[96];

    *nout = 0;
    if (id == EVP_PKEY_EC) {
        param = ec_curve_nid(key);
    } else if (id == EVP_PKEY_RSA) {
        param = EVP_PKEY_get_bits(key);
    }
    for (i = 0; i < NALGS && *nout < PG_SIG_MAX_KEY_ALGS; i++) {
        if (algs[i].key_id == id && algs[i].key_param == param) {
            out[(*nout)++] = &algs[i];
        }
    }
    if (*nout == 0) {
        describe_key(key, id, what, sizeof(what));
        return pg_sig_fail(err, PG_SIG_ESIG, STEP, "signing key (%s) is "
            "not in the Sigstore algorithm registry", what);
    }
    return PG_SIG_OK;
}

/* A verification context for alg over key: digest md, RSA padding. */
static int
set_padding(const struct pg_sig_alg *alg, EVP_PKEY_CTX *pctx)
{
    if (alg->key_id != EVP_PKEY_RSA) {
        return 1;
    }
    if (!alg->pss) {
        return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1;
    }
    /* MGF1 with the signature digest (the default); any salt length, as
     * Go's rsa.VerifyPSS with PSSSaltLengthAuto and node's verify do */
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1
        && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
}

int
pg_sig_alg_verify(const struct pg_sig_alg *alg, EVP_PKEY *key,
    const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *ctx;
    int ok;

    if (alg->key_id == EVP_PKEY_EC) {
        /* the shared path, with its fetched digests */
        return pg_sig_pkey_verify(key, pg_sig_hash_md(alg->hash), msg,
            msglen, sig, siglen);
    }
    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return 0;
    }
    ok = EVP_DigestVerifyInit(ctx, &pctx, pg_sig_hash_md(alg->hash), NULL,
            key) == 1
        && set_padding(alg, pctx)
        && EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

int
pg_sig_alg_verify_digest(const struct pg_sig_alg *alg, EVP_PKEY *key,
    const unsigned char *dgst, size_t dlen,
    const unsigned char *sig, size_t siglen)
{
    EVP_PKEY_CTX *ctx;
    int ok;

    if (alg->hash == PG_SIG_HASH_NONE
        || dlen != pg_sig_hash_len(alg->hash))
    {
        return 0;               /* pure Ed25519 signs no digest */
    }
    ctx = EVP_PKEY_CTX_new(key, NULL);
    if (ctx == NULL) {
        return 0;
    }
    ok = EVP_PKEY_verify_init(ctx) == 1
        && EVP_PKEY_CTX_set_signature_md(ctx, pg_sig_hash_md(alg->hash)) == 1
        && set_padding(alg, ctx)
        && EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}
