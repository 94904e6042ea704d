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
 * NOTE TO THE IMPLEMENTER: this header is the verifier's contract with the
 * rest of provgate.  Extend it; keep the declarations below working.
 */
#ifndef PG_SIGSTORE_H
#define PG_SIGSTORE_H

#include <stddef.h>
#include <stdint.h>

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

#endif
