/* policy/sigstore/limits.h — every cap the verifier puts on untrusted input.
 *
 * Anything read from a bundle, an attestation, a provenance object or a
 * trusted root is bounded by one of these named constants before it is
 * allocated or walked.  pg_sig_limits_default() copies them into a
 * struct pg_sig_limits (pg_sigstore.h), which every step receives
 * explicitly; tests/sigstore/test_limits.c checks each one at the limit and
 * at limit + 1.
 *
 * Owns: nothing.  Borrows: nothing.  Runs on: either.
 * Spec: style §2 ("every limit on untrusted input"), verification §7.
 */
/* This directory is on the include path of everything that links
 * pg_sigstore, so <limits.h> finds this file first: hand over to the
 * system header too (a GCC/Clang extension, like the rest of the build). */
#include_next <limits.h>

#ifndef PG_SIG_LIMITS_H
#define PG_SIG_LIMITS_H

/* Bytes of one JSON document (bundle, attestation, provenance, root). */
#define PG_SIG_MAX_JSON_BYTES       (4u * 1024u * 1024u)
/* Nesting depth of arrays/objects in one JSON document. */
#define PG_SIG_MAX_JSON_DEPTH       32
/* Characters of one base64 field before decoding. */
#define PG_SIG_MAX_B64_CHARS        (1024u * 1024u)
/* Certificates in a bundle's x509CertificateChain. */
#define PG_SIG_MAX_CHAIN_CERTS      8
/* Transparency log entries looked at in one bundle/attestation. */
#define PG_SIG_MAX_TLOG_ENTRIES     32
/* Hashes in one Merkle inclusion proof (a 2^63 tree needs 63 + 63). */
#define PG_SIG_MAX_PROOF_HASHES     128
/* RFC 3161 timestamps in one bundle ([py] rejects more than 32). */
#define PG_SIG_MAX_TIMESTAMPS       32
/* Bytes of a checkpoint (signed note) envelope. */
#define PG_SIG_MAX_CHECKPOINT_BYTES (16u * 1024u)
/* Signature lines in one signed note (C2SP asks verifiers for >= 16). */
#define PG_SIG_MAX_NOTE_SIGS        64
/* Attestations in one provenance object, over all its bundles. */
#define PG_SIG_MAX_ATTESTATIONS     16
/* Attestation bundles in one provenance object. */
#define PG_SIG_MAX_PROV_BUNDLES     16
/* Entries of each list (tlogs, ctlogs, CAs, TSAs) of a trusted root. */
#define PG_SIG_MAX_ROOT_ENTRIES     32

#endif
