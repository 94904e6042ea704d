/* policy/pg_policy.h — everything that decides whether a file may be served.
 *
 * Two parts, one header:
 *  1. PEP 740: provenance and attestation objects, publisher identities
 *     (parse, format, match), and verification of a provenance object for a
 *     file against the trust root (built on policy/sigstore).
 *  2. The policy: the policy file (INI), TOFU pins (stored through
 *     cache/), and the rules that turn verdicts into decisions (design §7).
 *
 * Owns: what its *_free functions free.  Borrows: input buffers.
 * Runs on: either.  Spec: design §6–§7, sigstore-verification §1, §4, §5.
 */
#ifndef PG_POLICY_H
#define PG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "pg_sigstore.h"

/* ======================================================================
 * Part 1 — PEP 740 and publishers (issue 3)
 * ====================================================================== */

enum pg_pub_kind {
    PG_PUB_NONE = 0,
    PG_PUB_GITHUB,
    PG_PUB_GITLAB,
    PG_PUB_GOOGLE
};

/* A PyPI Trusted Publisher.  Empty strings mean "absent". */
struct pg_publisher {
    enum pg_pub_kind kind;
    char repository[256];   /* GitHub owner/repo, GitLab namespace/project */
    char workflow[256];     /* GitHub workflow file; GitLab workflow_filepath */
    char environment[128];  /* optional */
    char email[256];        /* Google service account */
};

/* "github:OWNER/REPO:WORKFLOW[:ENV]", "gitlab:NS/PROJECT:PATH[:ENV]",
 * "google:EMAIL".  Returns 0, or -1 with a short reason in reason[]. */
int pg_publisher_parse(const char *spec, struct pg_publisher *out,
    char *reason, size_t rlen);
/* The same spec form; returns the length written (truncated like snprintf). */
int pg_publisher_format(const struct pg_publisher *p, char *buf, size_t len);
/* 1 if seen satisfies expected: kinds equal; GitHub owner/repo compared
 * case-insensitively; environment compared only when expected names one. */
int pg_publisher_match(const struct pg_publisher *expected,
    const struct pg_publisher *seen);

/* Verifies a PEP 740 provenance object (the Integrity API document) for the
 * distribution `filename` whose sha256 is `sha256` (32 bytes).  Succeeds only
 * if the object has at least one attestation and every attestation verifies
 * against its bundle's publisher and, if expected != NULL, against expected.
 * On success *seen (if not NULL) is the verified publisher.
 * Returns PG_SIG_OK or the failing step's code with err filled. */
int pg_pep740_verify_provenance(const struct pg_sig_trust_root *root,
    const char *json, size_t len, const char *filename,
    const unsigned char sha256[32], const struct pg_publisher *expected,
    struct pg_publisher *seen, struct pg_sig_err *err);

/* ======================================================================
 * Part 2 — policy file, pins, decisions (issue 4)
 * ====================================================================== */

#endif
