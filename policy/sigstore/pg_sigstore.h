/* policy/sigstore/pg_sigstore.h — in-process Sigstore bundle verification.
 *
 * This module checks Sigstore bundles (v0.1–v0.3) against a trusted root,
 * exactly as ../shared/docs/sigstore-verification.md specifies: certificate
 * chain (V2), SCT (V3), leaf profile (V4), transparency log (V5), validity
 * windows (V6), signature (V7) and the log body binding (V8).  It depends on
 * nothing else of provgate's, never touches the network, never reads the
 * clock or a global: the caller passes the trust root and the limits.
 *
 * Owns: what its *_free functions free.  Borrows: input buffers, for the
 * call only.  Runs on: either (pure CPU work; thread-safe on distinct or
 * shared read-only trust roots).
 *
 * Using it (see also policy/pg_policy.h for PEP 740 provenance objects):
 *
 *     struct pg_sig_trust_root *root;     load once, share between threads
 *     struct pg_sig_limits lim;
 *     struct pg_sig_policy pol = { .kind = PG_SIG_POLICY_SAN_ISSUER,
 *         .san = "https://github.com/o/r/.github/workflows/x.yml@refs/...",
 *         .issuer = "https://token.actions.githubusercontent.com" };
 *     struct pg_sig_verify_opts o = { .root = root, .limits = &lim,
 *         .policy = &pol, .artifact_sha256 = sha, .now = time(NULL) };
 *     struct pg_sig_err err;
 *
 *     pg_sig_trust_root_builtin(0, &root, &err);   (or _load_file)
 *     pg_sig_limits_default(&lim);
 *     if (pg_sig_verify_bundle_json(&o, json, len, &err) != PG_SIG_OK)
 *         report err.step, err.reason (once, at your edge);
 *     pg_sig_trust_root_free(root);               when no caller uses it
 *
 * Step names in err.step: "trust-root" (T0), "bundle" (V0), "time", "tsa",
 * "set" (V1, SET = V5d), "chain" (V2), "sct" (V3), "identity", "key" (V4),
 * "tlog" (V5a), "inclusion" (V5b), "checkpoint" (V5c), "validity" (V6),
 * "signature" (V7), "binding" (V8).
 */
#ifndef PG_SIGSTORE_H
#define PG_SIGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Which step failed (the error class callers act on). */
enum pg_sig_code {
    PG_SIG_OK = 0,
    PG_SIG_ENOMEM,
    PG_SIG_ELIMIT,      /* input over a bound (size, depth, count) */
    PG_SIG_EPARSE,      /* malformed JSON / base64 / DER / shape */
    PG_SIG_EROOT,       /* trusted root unusable */
    PG_SIG_ECHAIN,      /* certificate chain */
    PG_SIG_ESCT,        /* signed certificate timestamp */
    PG_SIG_ETLOG,       /* transparency log entry, SET, inclusion, checkpoint */
    PG_SIG_ETSA,        /* RFC 3161 timestamp */
    PG_SIG_ETIME,       /* times outside validity windows */
    PG_SIG_ESIG,        /* signature over the content */
    PG_SIG_EBINDING,    /* log body does not match the bundle */
    PG_SIG_EIDENTITY,   /* certificate identity / publisher mismatch */
    PG_SIG_ESTATEMENT   /* in-toto statement: subject, digest, predicate */
};

/* First failure wins.  step is a static string naming the spec step
 * ("chain", "sct", "tlog", "checkpoint", "dsse", "statement", …). */
struct pg_sig_err {
    enum pg_sig_code code;
    const char *step;
    char reason[160];
};

const char *pg_sig_strerror(enum pg_sig_code code);
/* Clears an error record (every public entry point does this first). */
void pg_sig_err_init(struct pg_sig_err *err);
/* Replaces bytes outside printable ASCII in err->reason by '?' (reasons
 * quote untrusted input; every reason the verifier writes is sanitized). */
void pg_sig_err_sanitize(struct pg_sig_err *err);

/* A parsed trusted_root.json; immutable once loaded, safe to share between
 * threads.  Freed with pg_sig_trust_root_free. */
struct pg_sig_trust_root;

/* Parses a trusted_root.json document (bounded size).  *out is the caller's. */
int pg_sig_trust_root_load(const char *json, size_t len,
    struct pg_sig_trust_root **out, struct pg_sig_err *err);
int pg_sig_trust_root_load_file(const char *path,
    struct pg_sig_trust_root **out, struct pg_sig_err *err);
/* The compiled-in production (staging = 0) or staging (staging = 1) root. */
int pg_sig_trust_root_builtin(int staging, struct pg_sig_trust_root **out,
    struct pg_sig_err *err);
void pg_sig_trust_root_free(struct pg_sig_trust_root *root);
/* sha256 of the root's bytes as 64 hex + NUL: a verdict made under one root
 * is not reused under another. */
const char *pg_sig_trust_root_id(const struct pg_sig_trust_root *root);

/* ----------------------------------------------------------------------
 * Limits (limits.h holds the constants).  Every step gets them explicitly.
 * ---------------------------------------------------------------------- */
struct pg_sig_limits {
    size_t json_bytes;       /* PG_SIG_MAX_JSON_BYTES */
    int json_depth;          /* PG_SIG_MAX_JSON_DEPTH */
    size_t b64_chars;        /* PG_SIG_MAX_B64_CHARS */
    size_t chain_certs;      /* PG_SIG_MAX_CHAIN_CERTS */
    size_t tlog_entries;     /* PG_SIG_MAX_TLOG_ENTRIES */
    size_t proof_hashes;     /* PG_SIG_MAX_PROOF_HASHES */
    size_t timestamps;       /* PG_SIG_MAX_TIMESTAMPS */
    size_t checkpoint_bytes; /* PG_SIG_MAX_CHECKPOINT_BYTES */
    size_t note_sigs;        /* PG_SIG_MAX_NOTE_SIGS */
    size_t attestations;     /* PG_SIG_MAX_ATTESTATIONS */
    size_t prov_bundles;     /* PG_SIG_MAX_PROV_BUNDLES */
    size_t root_entries;     /* PG_SIG_MAX_ROOT_ENTRIES */
};

/* Fills *l with the limits.h defaults. */
void pg_sig_limits_default(struct pg_sig_limits *l);

/* ----------------------------------------------------------------------
 * Bundles.  A parsed bundle is immutable and owns copies of everything it
 * needs; V0 (shape) is checked by the parser.
 * ---------------------------------------------------------------------- */
struct pg_sig_bundle;

/* Parses a Sigstore bundle JSON document (v0.1–v0.3).  *out is the
 * caller's (pg_sig_bundle_free).  Errors carry step "bundle". */
int pg_sig_bundle_parse(const char *json, size_t len,
    const struct pg_sig_limits *limits, struct pg_sig_bundle **out,
    struct pg_sig_err *err);

/* Builds a v0.3 DSSE bundle from its parts: the PEP 740 attestation →
 * bundle conversion (verification §1.4) uses it.  tlog_entry is a jansson
 * json_t * holding one protobuf-JSON TransparencyLogEntry (borrowed);
 * tsr[i]/tsr_len[i] are DER TimeStampResp (ntsr may be 0).  Every buffer
 * is copied.  Same V0 rules as pg_sig_bundle_parse. */
int pg_sig_bundle_from_dsse(const unsigned char *cert_der, size_t cert_len,
    const unsigned char *payload, size_t payload_len,
    const char *payload_type,
    const unsigned char *sig, size_t sig_len,
    const void *tlog_entry,
    const unsigned char *const *tsr, const size_t *tsr_len, size_t ntsr,
    const struct pg_sig_limits *limits, struct pg_sig_bundle **out,
    struct pg_sig_err *err);

void pg_sig_bundle_free(struct pg_sig_bundle *b);

/* ----------------------------------------------------------------------
 * Identity policy (V4).  Strings are borrowed for the call.
 * ---------------------------------------------------------------------- */
enum pg_sig_policy_kind {
    PG_SIG_POLICY_UNSAFE_NONE = 0, /* no identity check: DANGEROUS, tests */
    PG_SIG_POLICY_SAN_ISSUER,      /* exact SAN + OIDC issuer */
    PG_SIG_POLICY_GITHUB,          /* PyPI GitHub Trusted Publisher */
    PG_SIG_POLICY_GITLAB,          /* PyPI GitLab Trusted Publisher */
    PG_SIG_POLICY_GOOGLE,          /* PyPI Google Trusted Publisher */
    PG_SIG_POLICY_KEY              /* managed key: bundle has publicKey */
};

struct pg_sig_policy {
    enum pg_sig_policy_kind kind;
    const char *san;        /* SAN_ISSUER: URI, e-mail or otherName value */
    const char *issuer;     /* SAN_ISSUER: OIDC issuer (ext .8, else .1) */
    const char *repository; /* GITHUB owner/repo (case-insensitive),
                               GITLAB namespace/project */
    const char *workflow;   /* GITHUB workflow file, GITLAB filepath */
    const char *email;      /* GOOGLE service account */
    const char *key_pem;    /* KEY: PEM SubjectPublicKeyInfo */
    size_t key_pem_len;
};

/* Checks a DER leaf against a policy (V4 only: no chain, no times).
 * Useful for publisher-policy-only tests (certs.json). */
int pg_sig_check_identity_der(const unsigned char *der, size_t len,
    const struct pg_sig_policy *policy, struct pg_sig_err *err);

/* Reads Fulcio extension 1.3.6.1.4.1.57264.1.<n> (n = 1..6 raw, 8..23 DER
 * UTF8String) from a DER leaf into buf (NUL-terminated).  Returns 1 if
 * present and well-formed, 0 if absent, -1 if malformed or too long. */
int pg_sig_fulcio_ext_der(const unsigned char *der, size_t len, int n,
    char *buf, size_t buflen);

/* ----------------------------------------------------------------------
 * Verification (V1..V8, verification §3).
 * ---------------------------------------------------------------------- */
struct pg_sig_verify_opts {
    const struct pg_sig_trust_root *root;   /* required */
    const struct pg_sig_limits *limits;     /* required */
    const struct pg_sig_policy *policy;     /* required */
    /* SHA-256 of the artifact, or NULL.  messageSignature bundles need it;
     * for DSSE bundles, when given, some in-toto subject must carry it. */
    const unsigned char *artifact_sha256;
    /* SHA-384 / SHA-512 of the artifact, or NULL: a messageSignature made
     * with an ECDSA P-384 / P-521 key signs that digest (the algorithm
     * registry's pairing), so verifying one needs it. */
    const unsigned char *artifact_sha384;
    const unsigned char *artifact_sha512;
    /* Unix seconds "now", from the caller: a signing time later than
     * now + PG_SIG_CLOCK_SKEW is rejected.  0 disables that check. */
    int64_t now;
    /* 1: DSSE leaf must be ECDSA P-256 (PEP 740 v1 suite).  Otherwise
     * any signing algorithm of the Sigstore algorithm registry (ECDSA
     * P-256/384/521 with SHA-256/384/512, Ed25519, RSA 2048/3072/4096
     * PKCS#1 v1.5 or PSS with SHA-256); the key decides, and a digest the
     * bundle names must be the key's. */
    int require_p256;
};

#define PG_SIG_CLOCK_SKEW 60

/* What a successful verification established.  Pointers borrow from the
 * bundle and live as long as it does. */
struct pg_sig_result {
    int64_t signing_time_ns;            /* earliest verified time, ns */
    size_t ntimes;                      /* verified time sources */
    int is_dsse;
    const unsigned char *payload;       /* DSSE payload (NULL otherwise) */
    size_t payload_len;
    const char *payload_type;
};

/* Verifies a parsed bundle.  Returns PG_SIG_OK or the failing step's code
 * with err filled (err->step names the step).  Thread-safe; allocates only
 * per call. */
int pg_sig_verify(const struct pg_sig_verify_opts *opts,
    const struct pg_sig_bundle *bundle, struct pg_sig_result *res,
    struct pg_sig_err *err);

/* 1 if the bundle's content is a DSSE envelope, 0 if a messageSignature. */
int pg_sig_bundle_is_dsse(const struct pg_sig_bundle *b);

/* V4 alone on a parsed bundle's leaf (an extra identity check on top of
 * pg_sig_verify's policy).  Fails if the bundle has no certificate. */
int pg_sig_check_identity_bundle(const struct pg_sig_bundle *b,
    const struct pg_sig_policy *policy, struct pg_sig_err *err);

/* Bounded, strict readers of untrusted text, shared with the PEP 740
 * layer.  pg_sig_json_load: size and depth checked before parsing,
 * duplicate keys rejected, the document must be an object; NULL with err
 * (code, `step`) on failure; the result is the caller's (json_decref).
 * pg_sig_b64_decode: standard padded base64, CR/LF skipped; 0, -1 invalid,
 * -2 over max_chars, -3 no memory; *out is malloc'd, NUL-terminated. */
json_t *pg_sig_json_load(const char *buf, size_t len,
    const struct pg_sig_limits *limits, const char *step,
    struct pg_sig_err *err);
int pg_sig_b64_decode(const char *in, size_t inlen, size_t max_chars,
    unsigned char **out, size_t *outlen);

/* Parse + verify in one call (the verify-bundle CLI path). */
int pg_sig_verify_bundle_json(const struct pg_sig_verify_opts *opts,
    const char *json, size_t len, struct pg_sig_err *err);

#endif
