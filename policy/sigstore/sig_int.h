/* policy/sigstore/sig_int.h — the verifier's private structures and steps.
 *
 * The parsed trusted root, the parsed bundle and the step entry points that
 * verify.c calls in spec order.  Each step lives in its own file and has
 * one entry point (tlog.c has three, one per spec sub-step: SET for V1,
 * proof for V5, body for V8).  Times are int64 nanoseconds since the Unix
 * epoch (clamped outside years 1678–2262), so windows compare at full
 * precision.
 *
 * Owns: nothing (declarations).  Runs on: either.
 * Spec: sigstore-verification §2, §3.
 */
#ifndef PG_SIG_INT_H
#define PG_SIG_INT_H

#include <stdarg.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "limits.h"
#include "pg_sigstore.h"

#define PG_SIG_NS 1000000000LL
#define PG_SIG_TIME_MAX INT64_MAX
#define PG_SIG_TIME_MIN INT64_MIN

/* ---------------------------------------------------------------- root */

enum pg_sig_keytype {
    PG_SIG_KEY_EC_P256 = 1,
    PG_SIG_KEY_EC_P384,
    PG_SIG_KEY_EC_P521,
    PG_SIG_KEY_ED25519,
    PG_SIG_KEY_RSA
};

struct pg_sig_window {
    int64_t start;          /* ns; PG_SIG_TIME_MIN if the root had none */
    int64_t end;            /* ns; PG_SIG_TIME_MAX if open */
};

/* A trust-root ECDSA key made ready once, when the root is loaded: a
 * context initialised for verification with its digest set.  Each check
 * verifies with a private duplicate (EVP_PKEY_CTX_dup only reads the
 * original), so one root serves any number of threads; this skips the
 * per-call method fetch and initialisation of EVP_DigestVerifyInit.
 * ctx NULL: not prepared (other key types, or a struct built by hand). */
struct pg_sig_vctx {
    EVP_PKEY_CTX *ctx;      /* owned */
    int md_nid;             /* the digest it expects */
};

struct pg_sig_log {
    char name[256];         /* baseUrl without scheme: the note key name */
    unsigned char log_id[32];
    EVP_PKEY *key;
    struct pg_sig_vctx vctx; /* key with SHA-256 */
    enum pg_sig_keytype keytype;
    struct pg_sig_window valid;
};

struct pg_sig_ca {
    X509 *certs[PG_SIG_MAX_CHAIN_CERTS]; /* issuing first, anchor last */
    size_t ncerts;
    unsigned char *subject_der;  /* certs[0]'s subject, DER */
    size_t subject_len;
    unsigned char ski[64];       /* certs[0]'s subject key id, if any */
    size_t ski_len;
    unsigned char spki_sha256[PG_SIG_MAX_CHAIN_CERTS][32]; /* SCT issuer */
    int64_t cert_nb[PG_SIG_MAX_CHAIN_CERTS]; /* each cert's validity, ns */
    int64_t cert_na[PG_SIG_MAX_CHAIN_CERTS];
    int links_ok;           /* the chain itself validated at load */
    struct pg_sig_window valid;
    struct pg_sig_vctx vctx[3]; /* certs[0]'s key with SHA-256/384/512 */
};

struct pg_sig_trust_root {
    struct pg_sig_log tlogs[PG_SIG_MAX_ROOT_ENTRIES];
    size_t ntlogs;
    struct pg_sig_log ctlogs[PG_SIG_MAX_ROOT_ENTRIES];
    size_t nctlogs;
    struct pg_sig_ca cas[PG_SIG_MAX_ROOT_ENTRIES];
    size_t ncas;
    struct pg_sig_ca tsas[PG_SIG_MAX_ROOT_ENTRIES];
    size_t ntsas;
    char id[65];
};

/* ----------------------------------------------------------- algorithm */

/* Digests the algorithm registry pairs with signing keys (algorithm.c). */
enum pg_sig_hash {
    PG_SIG_HASH_NONE = 0,   /* pure Ed25519: no digest is signed */
    PG_SIG_SHA2_256,
    PG_SIG_SHA2_384,
    PG_SIG_SHA2_512
};

/* One entry of the Sigstore algorithm registry. */
struct pg_sig_alg {
    const char *name;       /* registry name, "ecdsa-sha2-384-nistp384" */
    const char *details;    /* PublicKeyDetails, "PKIX_ECDSA_P384_SHA_384" */
    const char *label;      /* for reasons, "ECDSA P-384" */
    int key_id;             /* EVP_PKEY_EC, _ED25519, _RSA */
    int key_param;          /* EC: curve NID; RSA: modulus bits; else 0 */
    enum pg_sig_hash hash;  /* the digest signed (NONE: pure Ed25519) */
    enum pg_sig_hash log_hash; /* the digest Rekor v2 hashedrekord logs */
    int pss;                /* RSA: 1 PSS, 0 PKCS#1 v1.5 */
};

/* Entries one key can select (RSA: PKCS#1 v1.5 and PSS). */
#define PG_SIG_MAX_KEY_ALGS 2

/* The registry entries key may sign with (out has PG_SIG_MAX_KEY_ALGS
 * slots, padding order: PKCS#1 v1.5 first); ESIG with step "signature"
 * and the key named when the registry lists none. */
int pg_sig_alg_for_key(EVP_PKEY *key, const struct pg_sig_alg **out,
    size_t *nout, struct pg_sig_err *err);
/* sig over msg (digested with alg's hash; pure Ed25519 over msg itself),
 * and sig over an already computed digest.  1 valid, 0 not. */
int pg_sig_alg_verify(const struct pg_sig_alg *alg, EVP_PKEY *key,
    const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen);
int pg_sig_alg_verify_digest(const struct pg_sig_alg *alg, EVP_PKEY *key,
    const unsigned char *dgst, size_t dlen,
    const unsigned char *sig, size_t siglen);
/* "SHA2_384" (protobuf HashAlgorithm), "sha384" (Rekor v1), EVP_MD, bytes. */
const char *pg_sig_hash_name(enum pg_sig_hash h);
const char *pg_sig_hash_rekor_name(enum pg_sig_hash h);
const EVP_MD *pg_sig_hash_md(enum pg_sig_hash h);
size_t pg_sig_hash_len(enum pg_sig_hash h);
/* "SHA2_256" / "SHA2_384" / "SHA2_512" to the enum: 0, or -1 if another. */
int pg_sig_hash_from_name(const char *s, enum pg_sig_hash *out);

/* ---------------------------------------------------------------- leaf */

/* A leaf certificate read by leaf.c: positions in the DER (borrowed) and
 * what the steps need, decoded once. */
struct pg_sig_cert {
    const unsigned char *der;
    size_t der_len;
    const unsigned char *tbs;       /* TBSCertificate TLV */
    size_t tbs_len;
    const EVP_MD *md;               /* signature digest (NULL: Ed25519) */
    const unsigned char *sig;       /* signatureValue */
    size_t sig_len;
    const unsigned char *issuer;    /* issuer Name TLV */
    size_t issuer_len;
    const unsigned char *spki;      /* SubjectPublicKeyInfo TLV */
    size_t spki_len;
    const unsigned char *exts_tlv;  /* [3] extensions TLV, or NULL */
    size_t exts_tlv_len;
    int version;                    /* 1..3 */
    int64_t not_before;             /* ns */
    int64_t not_after;
    STACK_OF(X509_EXTENSION) *exts; /* owned */
    EVP_PKEY *key;                  /* owned */
    int has_ku, ku_digital_signature, ku_cert_sign;
    int has_eku, eku_code_signing;
    int is_ca, unknown_critical;
    unsigned char aki[64];
    size_t aki_len;
};

int pg_sig_cert_parse(const unsigned char *der, size_t len,
    struct pg_sig_cert *c);
void pg_sig_cert_clear(struct pg_sig_cert *c);
/* The TBS with one extension (by OID body bytes) removed; malloc'd. */
unsigned char *pg_sig_cert_tbs_without(const struct pg_sig_cert *c,
    const unsigned char *oid, size_t oid_len, size_t *out_len);

/* -------------------------------------------------------------- bundle */

enum pg_sig_content { PG_SIG_CONTENT_MSG = 1, PG_SIG_CONTENT_DSSE };

struct pg_sig_tlog_entry {
    int64_t log_index;
    unsigned char log_id[32];
    size_t log_id_len;
    char kind[32];
    char version[16];
    int has_time;
    int64_t integrated_time;    /* seconds */
    unsigned char *set;
    size_t set_len;
    int has_proof;
    int64_t proof_index;
    int64_t tree_size;
    unsigned char root_hash[32];
    unsigned char (*hashes)[32];
    size_t nhashes;
    char *checkpoint;           /* NUL-terminated, checkpoint_len bytes */
    size_t checkpoint_len;
    unsigned char *body;
    size_t body_len;
};

struct pg_sig_bundle {
    int version;                /* 1, 2, 3 (minor of 0.x) */
    struct pg_sig_cert *leaf;   /* &leaf_cert, NULL for public-key bundles */
    struct pg_sig_cert leaf_cert;
    unsigned char *leaf_der;
    size_t leaf_der_len;
    X509 *extra[PG_SIG_MAX_CHAIN_CERTS];
    size_t nextra;
    int has_public_key;
    enum pg_sig_content content;
    int has_msg_digest;
    enum pg_sig_hash msg_hash;  /* messageDigest.algorithm */
    unsigned char msg_digest[64];
    size_t msg_digest_len;
    unsigned char *sig;
    size_t sig_len;
    unsigned char *payload;
    size_t payload_len;
    char *payload_type;
    struct pg_sig_tlog_entry tlog;
    unsigned char *tsr[PG_SIG_MAX_TIMESTAMPS];
    size_t tsr_len[PG_SIG_MAX_TIMESTAMPS];
    size_t ntsr;
};

/* ------------------------------------------------------------ encoding */

int pg_sig_fail(struct pg_sig_err *err, enum pg_sig_code code,
    const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Decodes into a fixed buffer; returns -1 unless exactly `want` bytes. */
int pg_sig_b64_decode_fixed(const char *in, size_t inlen,
    unsigned char *out, size_t want);
/* Standard padded base64 of in into a malloc'd NUL-terminated string. */
char *pg_sig_b64_encode(const unsigned char *in, size_t len);
void pg_sig_hex(const unsigned char *in, size_t len, char *out);

/* pg_sig_json_load hands jansson a copy in which string values of at least
 * PG_SIG_JSON_BULK_MIN base64/hex characters (the first
 * PG_SIG_JSON_BULK_MAX of them) are short stand-ins, and puts the texts back
 * after parsing (encoding.c); the tree is the same as parsing the document
 * itself.  Not limits on input: longer documents or more strings just take
 * jansson's own byte-at-a-time path for the rest. */
#define PG_SIG_JSON_BULK_MIN 64
#define PG_SIG_JSON_BULK_MAX 64

/* JSON helpers: null counts as absent. */
json_t *pg_sig_jget(const json_t *obj, const char *key);
const char *pg_sig_jstr(const json_t *obj, const char *key);
/* protobuf-JSON int64: string or integer.  0 ok, -1 bad, 1 absent. */
int pg_sig_jint64(const json_t *obj, const char *key, int64_t *out);
/* Decodes a base64 string member into a malloc'd buffer: 0 ok, 1 absent,
 * -1 not a string / invalid, -2 over limit. */
int pg_sig_jb64(const json_t *obj, const char *key, size_t max_chars,
    unsigned char **out, size_t *outlen);

/* RFC 3339 ("2021-01-12T11:53:27.999Z") to ns. */
int pg_sig_parse_rfc3339(const char *s, int64_t *ns);
/* ASN.1 UTCTime/GeneralizedTime (fractions kept) to ns. */
int pg_sig_asn1_time_ns(const ASN1_TIME *t, int64_t *ns);
int64_t pg_sig_secs_to_ns(int64_t secs);
int pg_sig_window_contains(const struct pg_sig_window *w, int64_t t);
/* "2025-06-12T12:02:16Z" for reasons. */
void pg_sig_fmt_time(int64_t ns, char *buf, size_t len);

/* Verifies sig over msg: ECDSA (digest from key size unless md given),
 * Ed25519 (pure) or RSA PKCS#1 v1.5 SHA-256.  1 valid, 0 not. */
int pg_sig_pkey_verify(EVP_PKEY *key, const EVP_MD *md,
    const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen);
/* Prepares v for key with md: ECDSA keys only; v stays empty for other
 * keys or when OpenSSL cannot prepare it (the checks then take the
 * general path: slower, same result). */
void pg_sig_vctx_init(struct pg_sig_vctx *v, EVP_PKEY *key,
    const EVP_MD *md);
void pg_sig_vctx_clear(struct pg_sig_vctx *v);
/* md itself, or for EVP_sha256()/EVP_sha384() the same digest fetched once
 * per process (no implementation lookup per digest; encoding.c). */
const EVP_MD *pg_sig_md_fetched(const EVP_MD *md);
/* pg_sig_pkey_verify through the first of v[0..nv) prepared for md (same
 * result, less set-up); without one, pg_sig_pkey_verify itself. */
int pg_sig_pkey_verify_v(const struct pg_sig_vctx *v, size_t nv,
    EVP_PKEY *key, const EVP_MD *md, const unsigned char *msg,
    size_t msglen, const unsigned char *sig, size_t siglen);
/* Verifies a DER ECDSA/RSA signature over an already computed digest. */
int pg_sig_pkey_verify_digest(EVP_PKEY *key, const EVP_MD *md,
    const unsigned char *dgst, size_t dlen,
    const unsigned char *sig, size_t siglen);

/* --------------------------------------------------------------- steps */

/* V2 certificate.c: path from leaf to a CA of the root at every time;
 * *ca_out is the CA used (borrowed from root). */
int pg_sig_verify_chain(const struct pg_sig_bundle *b,
    const struct pg_sig_trust_root *root, const int64_t *times,
    size_t ntimes, const struct pg_sig_ca **ca_out, struct pg_sig_err *err);

/* V3 sct.c: the leaf's embedded SCT against the root's CT logs. */
int pg_sig_verify_sct(const struct pg_sig_cert *leaf,
    const struct pg_sig_ca *ca,
    const struct pg_sig_trust_root *root, struct pg_sig_err *err);

/* V4 identity.c: leaf profile (KU/EKU) and identity policy. */
int pg_sig_verify_identity(const struct pg_sig_cert *leaf,
    const struct pg_sig_policy *policy,
    struct pg_sig_err *err);

/* V1 tsa.c: one RFC 3161 response over `signature`; *gen_ns on success. */
int pg_sig_verify_tsa(const unsigned char *tsr, size_t tsr_len,
    const unsigned char *signature, size_t sig_len,
    const struct pg_sig_trust_root *root, int64_t *gen_ns,
    struct pg_sig_err *err);

/* V5a tlog.c: the log of an entry, by logId. */
const struct pg_sig_log *pg_sig_tlog_find(
    const struct pg_sig_trust_root *root, const struct pg_sig_tlog_entry *e);
/* V1/V5d tlog.c: SET of a Rekor v1 entry; the integrated time it proves. */
int pg_sig_tlog_verify_set(const struct pg_sig_tlog_entry *e,
    const struct pg_sig_log *log, struct pg_sig_err *err);
/* V5 tlog.c: key window at times, inclusion proof and checkpoint. */
int pg_sig_tlog_verify_proof(const struct pg_sig_tlog_entry *e,
    const struct pg_sig_log *log, const int64_t *times, size_t ntimes,
    const struct pg_sig_limits *limits, struct pg_sig_err *err);
/* V8 tlog.c: the entry's body describes this bundle, signed with alg (the
 * registry entry V7 verified); artifact_digest is the artifact's digest
 * in alg's hash (messageSignature bundles; NULL for DSSE). */
int pg_sig_tlog_verify_body(const struct pg_sig_bundle *b,
    EVP_PKEY *signer, const struct pg_sig_alg *alg,
    const unsigned char *artifact_digest,
    const struct pg_sig_limits *limits, struct pg_sig_err *err);

/* V5b merkle.c: RFC 6962/9162 inclusion of leaf data. */
int pg_sig_merkle_verify(const unsigned char *leaf, size_t leaf_len,
    int64_t index, int64_t size, const unsigned char (*hashes)[32],
    size_t nhashes, const unsigned char root_hash[32],
    struct pg_sig_err *err);
void pg_sig_merkle_leaf_hash(const unsigned char *leaf, size_t len,
    unsigned char out[32]);

/* V5c checkpoint.c: a parsed signed note. */
struct pg_sig_checkpoint {
    char origin[256];
    int64_t size;
    unsigned char root_hash[32];
};
int pg_sig_checkpoint_verify(const char *note, size_t len,
    const struct pg_sig_log *log, const struct pg_sig_limits *limits,
    struct pg_sig_checkpoint *out, struct pg_sig_err *err);

/* V7 dsse.c: PAE into a malloc'd buffer, and the envelope signature. */
unsigned char *pg_sig_dsse_pae(const char *type, const unsigned char *payload,
    size_t payload_len, size_t *out_len);
/* The signature over PAE with one of the key's registry entries (algs,
 * nalgs from pg_sig_alg_for_key); *used is the one that verified. */
int pg_sig_verify_dsse(EVP_PKEY *key, const struct pg_sig_alg *const *algs,
    size_t nalgs, const char *type, const unsigned char *payload,
    size_t payload_len, const unsigned char *sig, size_t sig_len,
    const struct pg_sig_alg **used, struct pg_sig_err *err);

/* identity.c helper shared with sct.c/tests: Fulcio extension by arc n. */
int pg_sig_fulcio_ext(const struct pg_sig_cert *c, int n, char *buf,
    size_t buflen);

#endif
