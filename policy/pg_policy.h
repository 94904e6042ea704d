/* policy/pg_policy.h — everything that decides whether a file may be served.
 *
 * Two parts, one header:
 *  1. PEP 740: provenance and attestation objects, publisher identities
 *     (parse, format, match), and verification of a provenance object for a
 *     file against the trust root (built on policy/sigstore).
 *  2. The policy: the policy file (INI), TOFU pins (in a pin store of
 *     their own: LMDB or PostgreSQL), and the rules that turn verdicts into decisions (design §7).
 *
 * Owns: what its *_free functions free.  Borrows: input buffers.
 * Runs on: either.  Spec: design §6–§7, sigstore-verification §1, §4, §5.
 */
#ifndef PG_POLICY_H
#define PG_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

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
/* The n publishers in that form, joined by ", ", cut to fit buf. */
void pg_publisher_format_list(const struct pg_publisher *const *p, size_t n,
    char *buf, size_t len);
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

/* Reads a publisher object of a provenance document (kind "GitHub",
 * "GitLab" or "Google"; an environment of "", null or absent is the same;
 * extra keys are ignored).  Returns 0, or -1 with a short reason. */
int pg_publisher_from_json(const json_t *obj, struct pg_publisher *out,
    char *reason, size_t rlen);
/* The certificate identity policy for publisher p (GitHub/GitLab/Google
 * rules of sigstore-verification §4.2).  *out points into p. */
void pg_publisher_policy(const struct pg_publisher *p,
    struct pg_sig_policy *out);

/* Options of the PEP 740 entry points below. */
struct pg_pep740_opts {
    const struct pg_sig_trust_root *root;  /* required */
    const struct pg_sig_limits *limits;    /* NULL: limits.h defaults */
    const struct pg_publisher *expected;   /* provenance: NULL = its own */
    const struct pg_sig_policy *identity;  /* provenance: extra SAN/issuer
                                              check on every leaf, or NULL */
    int64_t now;                           /* Unix seconds; 0: no check of
                                              signing times in the future */
    const unsigned char *sha384;           /* bundle: the file's SHA-384 /
                                              SHA-512 if known, or NULL */
    const unsigned char *sha512;           /* (a P-384 / P-521 message
                                              signature signs those) */
};

/* pg_pep740_verify_provenance with explicit options (no clock read).
 * pg_pep740_verify_provenance itself = this with default limits, no extra
 * identity, and now = time(NULL) read once at that API edge. */
int pg_pep740_verify_provenance_ex(const struct pg_pep740_opts *o,
    const char *json, size_t len, const char *filename,
    const unsigned char sha256[32], struct pg_publisher *seen,
    struct pg_sig_err *err);
/* Verifies one PEP 740 attestation object for the distribution (filename,
 * sha256) under an identity policy (e.g. from pg_publisher_policy). */
int pg_pep740_verify_attestation(const struct pg_pep740_opts *o,
    const char *json, size_t len, const char *filename,
    const unsigned char sha256[32], const struct pg_sig_policy *policy,
    struct pg_sig_err *err);
/* Verifies a Sigstore bundle for the distribution: a DSSE bundle must hold
 * a PEP 740 statement for it (§5), a messageSignature bundle must sign
 * its sha256. */
int pg_pep740_verify_bundle(const struct pg_pep740_opts *o,
    const char *json, size_t len, const char *filename,
    const unsigned char sha256[32], const struct pg_sig_policy *policy,
    struct pg_sig_err *err);
/* §5 statement checks of an in-toto payload for (filename, sha256). */
int pg_pep740_check_statement(const unsigned char *payload, size_t len,
    const char *filename, const unsigned char sha256[32],
    const struct pg_sig_limits *limits, struct pg_sig_err *err);
/* 1 if two distribution file names are equal after parsing (wheel: name,
 * PEP 440 version, build tag, tag set; sdist: name, version), 0 if not,
 * -1 if either is not a valid wheel or sdist name. */
int pg_pep740_filename_match(const char *a, const char *b);

/* ======================================================================
 * Part 2 — policy file, pins, decisions (issue 4)
 * ====================================================================== */

/* Part 2 in one paragraph.  A policy file (policy_file.c) is read once into
 * an immutable, refcounted struct pg_policy: [defaults] plus one merged
 * struct pg_policy_rules per [project:<normalized name>].  Pins
 * (pins.c) are the TOFU memory, one JSON value per project in a pin store
 * of their own (pinstore*.c: LMDB or PostgreSQL, never the cache), with a
 * pins generation that changes on every write and an append-only history.  The rules (rules.c) are a pure function from (merged
 * rules, pin set, the project's files with their verification results,
 * now) to one decision per file, plus the pin to create, if any. */

/* Errors of Part 2 (the policy file reports its own "FILE:LINE: message"
 * list through struct pg_policy_diag instead). */
enum pg_policy_code {
    PG_POLICY_OK = 0,
    PG_POLICY_ENOMEM,
    PG_POLICY_ECONFIG,      /* policy file invalid (see the diag) */
    PG_POLICY_EIO,          /* file could not be read */
    PG_POLICY_ESTORE,       /* the pin store failed or is unreachable */
    PG_POLICY_EPARSE,       /* a stored or imported pin record is malformed */
    PG_POLICY_ELIMIT,       /* over a named limit */
    PG_POLICY_EINVAL        /* bad argument (project name, publisher spec) */
};

struct pg_policy_err {
    enum pg_policy_code code;
    const char *step;       /* static: "read", "pins-get", "pins-put", … */
    char reason[160];
};

const char *pg_policy_strerror(enum pg_policy_code code);

/* ---- limits on untrusted input (each tested at the limit and +1) ------ */
#define PG_POLICY_MAX_FILE_BYTES   (1024 * 1024) /* policy file size */
#define PG_POLICY_MAX_LINE         190   /* characters per line, no '\n'
                                            (libinih reads 200-byte lines) */
#define PG_POLICY_MAX_PROJECTS     10000 /* [project:x] sections */
#define PG_POLICY_MAX_PUBLISHERS   16    /* publisher lines per section */
#define PG_POLICY_MAX_ERRORS       64    /* diagnostics kept */
#define PG_POLICY_MAX_NAME         200   /* project name length */
#define PG_PINS_MAX_PUBLISHERS     16    /* accepted publishers per pin */
#define PG_PINS_MAX_RECORD         (64 * 1024) /* one stored pin value */
#define PG_PINS_MAX_IMPORT         (16 * 1024 * 1024) /* pins import file */
#define PG_RULES_MAX_REASON        512

/* ---- the policy file (policy_file.c) ---------------------------------- */

enum pg_policy_mode {
    PG_MODE_UNSET = 0,      /* only inside a section before the merge */
    PG_MODE_TOFU,
    PG_MODE_REQUIRE,
    PG_MODE_ALLOW,
    PG_MODE_OFF
};

enum pg_policy_violation {
    PG_VIOL_UNSET = 0,
    PG_VIOL_YANK,
    PG_VIOL_HIDE,
    PG_VIOL_DENY
};

enum pg_policy_legacy {
    PG_LEGACY_UNSET = 0,
    PG_LEGACY_ALLOW,
    PG_LEGACY_DENY
};

/* One section's settings.  In a loaded policy every section is merged
 * (no UNSET, min_age_s >= 0); publishers is NULL when n_publishers is 0.
 * A [project:x] section that names publishers replaces the defaults'
 * list; one that names none inherits it. */
struct pg_policy_rules {
    enum pg_policy_mode mode;
    enum pg_policy_violation on_violation;
    enum pg_policy_legacy legacy;
    int64_t min_age_s;              /* -1 = unset before the merge */
    int publishers_set;             /* a publisher line was seen */
    size_t n_publishers;
    struct pg_publisher *publishers;
};

/* One directive of the policy file: the table behind the parser, the
 * option reference and the test that conf/policy.ini documents every row. */
struct pg_policy_directive {
    const char *name;
    /* NULL or a short reason ("expected tofu, require, allow or off"). */
    const char *(*parse)(const char *value, void *field, char *buf,
        size_t blen);
    size_t offset;                  /* offsetof(struct pg_policy_rules, …);
                                       publisher: 0 (it appends to the
                                       whole rules) */
    int repeatable;                 /* may appear several times */
    const char *def;                /* default, as written in the file */
    const char *help;               /* one line */
};
extern const struct pg_policy_directive pg_policy_directives[];
extern const size_t pg_policy_n_directives;

/* Diagnostics: every error of a file, "FILE:LINE: message" each. */
struct pg_policy_diag {
    size_t n;                       /* kept (<= PG_POLICY_MAX_ERRORS) */
    size_t total;                   /* found, including those not kept */
    char msg[PG_POLICY_MAX_ERRORS][PG_POLICY_MAX_LINE + 160];
};

struct pg_policy;   /* immutable, refcounted */

/* The built-in policy (mode tofu, yank, legacy allow, min_age 0, no
 * projects) when no file is configured.  NULL only on allocation failure. */
struct pg_policy *pg_policy_builtin(void);
/* Reads a policy file.  On success *out holds one reference.  On failure
 * returns PG_POLICY_ECONFIG (diag lists every error), PG_POLICY_EIO (diag
 * holds "FILE: reason") or PG_POLICY_ENOMEM; *out is NULL. */
int pg_policy_load(const char *path, struct pg_policy **out,
    struct pg_policy_diag *diag);
/* Same from memory (name is used in messages; tests). */
int pg_policy_load_buf(const char *name, const char *buf, size_t len,
    struct pg_policy **out, struct pg_policy_diag *diag);
/* References: thread-safe (atomic). */
struct pg_policy *pg_policy_ref(struct pg_policy *p);
void pg_policy_unref(struct pg_policy *p);
/* The generation: 64 bits of the sha256 of the file's bytes (0 for the
 * built-in policy), so a verdict cached under one policy text is never
 * reused under another, across restarts too. */
uint64_t pg_policy_generation(const struct pg_policy *p);
/* The file name given to pg_policy_load ("(built-in)" otherwise). */
const char *pg_policy_source(const struct pg_policy *p);
/* The merged rules for a project (normalized name): its own section or
 * the defaults.  Borrowed from p: valid while the caller holds a ref. */
const struct pg_policy_rules *pg_policy_for(const struct pg_policy *p,
    const char *project);
size_t pg_policy_n_projects(const struct pg_policy *p);
/* Word forms ("tofu", "yank", "allow") for logs and annotations. */
const char *pg_policy_mode_name(enum pg_policy_mode m);
const char *pg_policy_violation_name(enum pg_policy_violation v);
/* PEP 503 normalization (lower-case, runs of -_. become -); -1 if name is
 * empty, too long or has other characters. */
int pg_policy_normalize(const char *name, char *out, size_t outlen);
/* Parses "90", "90s", "15m", "12h", "3d", "2w" into seconds; NULL or a
 * reason. */
const char *pg_policy_parse_duration(const char *s, int64_t *out);

/* ---- pins (pins.c) ----------------------------------------------------- */

enum pg_pin_how {
    PG_PIN_TOFU = 1,        /* set by the proxy from the earliest attested
                               file */
    PG_PIN_APPROVED         /* added by an administrator */
};

struct pg_pin_entry {
    struct pg_publisher publisher;
    enum pg_pin_how how;
    int64_t time;                   /* when added, Unix seconds */
    char file[256];                 /* tofu: the file that set it */
    char sha256[65];                /* tofu: its sha256 hex ("" if unknown) */
    int64_t upload_time;            /* tofu: its upload time, -1 unknown */
    char by[64];                    /* approved: the actor */
};

/* A project's accepted publishers.  n == 0: no pin. */
struct pg_pin_set {
    char project[PG_POLICY_MAX_NAME + 1];
    size_t n;
    struct pg_pin_entry e[PG_PINS_MAX_PUBLISHERS];
};

/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SS[.frac]" + "Z" or "+00:00" (pins' times,
 * the index's upload-time) to Unix seconds; -1 if NULL or malformed. */
int64_t pg_policy_parse_time(const char *s);

/* ---- the pin store (pinstore.c, pinstore_lmdb.c, pinstore_pq.c) -------- */

/* Pins are the trust anchor, kept apart from the cache (design §11): a
 * store is opened from a URI and answers through a small table of
 * operations, one implementation per engine:
 *   "lmdb:DIR"            an LMDB environment of its own (default
 *                         "<cache_dir>/../pins.lmdb", see
 *                         pg_pinstore_default_uri)
 *   "postgresql://…", "postgres://…", or a libpq "key=value" string
 *                         a PostgreSQL database shared by replicas.
 * Every change (TOFU pin, approval, forget, import, migration) appends one
 * event to the store's history in the same transaction as the change.
 *
 * Threads: every function may be called from any thread.  get and
 * generation never touch the network or the disk's write path: LMDB reads
 * its map; PostgreSQL answers from a local copy refreshed by
 * pg_pinstore_refresh (notifications, a periodic re-read).  The writes
 * (insert_if_absent, approve, forget, import) and refresh may block (an
 * LMDB commit's fsync, a database round trip): "Runs on: worker or CLI". */

#define PG_PINS_MAX_EVENT      (32 * 1024)  /* one stored history event */
#define PG_PINS_MAX_WHY        256          /* why of an event */
#define PG_PINS_MAX_URI        1024         /* pin_store value */

struct pg_pinstore;

/* One history event.  before/after are the publishers of the pin before
 * and after the change, as pg_pins_format writes them ("" = no pin). */
struct pg_pin_event {
    uint64_t id;                    /* store order, from 1 */
    int64_t time;                   /* Unix seconds */
    char project[PG_POLICY_MAX_NAME + 1];
    char what[16];                  /* tofu, approve, forget, import,
                                       migrate */
    char before[4096];
    char after[4096];
    char by[64];                    /* who: an administrator, or the
                                       replica that pinned */
    char why[PG_PINS_MAX_WHY];
    char file[256];                 /* tofu: the file that caused it */
};

struct pg_pinstore_opts {
    const char *uri;                /* required */
    int create;                     /* create/upgrade the schema (server,
                                       `pins migrate`, writing commands) */
    int read_only;                  /* CLI reads: open nothing for write */
};

/* Opens a store.  PG_POLICY_EINVAL: a malformed URI; PG_POLICY_ESTORE:
 * cannot open or connect (credentials are never in the reason);
 * PG_POLICY_ECONFIG: the location holds something that is not a pin store
 * of ours (e.g. a foreign table of the same name), or a newer schema.
 * *out is the caller's (pg_pinstore_close).  Runs on: start-up, CLI. */
int pg_pinstore_open(const struct pg_pinstore_opts *opt,
    struct pg_pinstore **out, struct pg_policy_err *err);
void pg_pinstore_close(struct pg_pinstore *s);
/* "lmdb" or "postgresql". */
const char *pg_pinstore_kind(const struct pg_pinstore *s);
/* Where it is, for logs: "lmdb:DIR", or host/port/database of the
 * connection (never a password). */
const char *pg_pinstore_where(const struct pg_pinstore *s);
/* 1 if the store can take writes now (PostgreSQL: the last round trip
 * succeeded); 0 while it is unreachable.  LMDB: always 1. */
int pg_pinstore_available(const struct pg_pinstore *s);
/* The URI "lmdb" names for a cache directory: "lmdb:" + the directory
 * beside it, "pins.lmdb" in the cache directory's parent.  Writes at most
 * len bytes; -1 if it does not fit. */
int pg_pinstore_default_uri(const char *cache_dir, char *out, size_t len);

/* Reads a project's pin set (normalized name).  Absent: PG_POLICY_OK with
 * set->n == 0.  Never blocks on the network. */
int pg_pins_get(struct pg_pinstore *s, const char *project,
    struct pg_pin_set *set, struct pg_policy_err *err);
/* TOFU: creates the project's pin with this one entry unless it has one.
 * *created says whether this call created it; *winner (may be NULL) is
 * the project's pin after the call (ours or the one that was there). */
int pg_pins_insert_if_absent(struct pg_pinstore *s, const char *project,
    const struct pg_pin_entry *entry, const char *by,
    struct pg_pin_set *winner, int *created, struct pg_policy_err *err);
/* Adds a publisher to a project's set (creating it) unless the same
 * publisher is there (*added = 0 then).  Event "approve". */
int pg_pins_approve(struct pg_pinstore *s, const char *project,
    const struct pg_pin_entry *entry, const char *why, int *added,
    struct pg_policy_err *err);
/* Removes a project's pin; *removed says whether there was one. */
int pg_pins_forget(struct pg_pinstore *s, const char *project,
    const char *by, const char *why, int *removed,
    struct pg_policy_err *err);
/* Replaces a project's whole set (n == 0 deletes).  what is "import" or
 * "migrate" (the event's kind). */
int pg_pins_import(struct pg_pinstore *s, const struct pg_pin_set *set,
    const char *what, const char *by, const char *why,
    struct pg_policy_err *err);
/* Calls fn for every pin set in project order; fn returns non-zero to
 * stop.  set is borrowed for the call. */
int pg_pins_iter(struct pg_pinstore *s,
    int (*fn)(void *arg, const struct pg_pin_set *set), void *arg,
    struct pg_policy_err *err);
/* Calls fn for every history event of project (NULL: all), oldest
 * first.  Reads the store itself (PostgreSQL: a round trip).
 * Runs on: worker or CLI. */
int pg_pins_history(struct pg_pinstore *s, const char *project,
    int (*fn)(void *arg, const struct pg_pin_event *ev), void *arg,
    struct pg_policy_err *err);
/* The pins generation: changes on every change by any process (and, for
 * PostgreSQL, when the local copy learns of one); 0 when no pin was ever
 * written. */
int pg_pins_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err);
/* PostgreSQL: re-reads every pin into the local copy (blocking; a worker).
 * LMDB: nothing.  Reconnects (with back-off) when the connection broke. */
int pg_pinstore_refresh(struct pg_pinstore *s, struct pg_policy_err *err);
/* PostgreSQL: the descriptor of the connection that LISTENs for changes,
 * -1 when there is none (LMDB, or not connected).  When it is readable,
 * call pg_pinstore_on_notify (never blocks) on the same thread; it
 * returns 1 if a change was announced (then refresh on a worker), 0 if
 * not, -1 if the connection broke (drop the descriptor; refresh
 * reconnects). */
int pg_pinstore_notify_fd(struct pg_pinstore *s);
int pg_pinstore_on_notify(struct pg_pinstore *s);

/* JSON form of one event (an element of `pins export`'s "history"). */
json_t *pg_pin_event_to_json(const struct pg_pin_event *ev);
int pg_pin_event_from_json(const json_t *o, struct pg_pin_event *ev,
    struct pg_policy_err *err);

/* The stored JSON form of a set (also one element of `pins export`):
 * {"project": …, "publishers": [{"publisher": "github:o/r:wf.yml",
 *  "how": "tofu"|"approved", "time": "RFC 3339", "file"?, "sha256"?,
 *  "upload_time"?, "by"?}]}.  *out is malloc'd (caller frees). */
int pg_pins_to_json(const struct pg_pin_set *set, char **out, size_t *len,
    struct pg_policy_err *err);
int pg_pins_from_json(const char *json, size_t len, struct pg_pin_set *set,
    struct pg_policy_err *err);
/* Earliest upload time among the set's tofu entries, -1 if none. */
int64_t pg_pins_since(const struct pg_pin_set *set);
/* Formats the set's publishers as "a, b, c" (truncated like snprintf). */
void pg_pins_format(const struct pg_pin_set *set, char *buf, size_t len);

/* ---- client tokens (tokens.c; issue 13 item 5) ------------------------- */

/* [server] auth = token: the clients' tokens live in the pin store (its
 * LMDB environment, or its PostgreSQL database, so a fleet shares them),
 * as a salted hash only ("sha256$SALT$HASH", proxy/http/auth.c's
 * hashing).  A change (add, revoke) moves the store's tokens generation
 * and, on PostgreSQL, notifies every replica like a pin change does.
 * Threads: as the pins (list and generation never block; add and revoke
 * on a worker or the CLI). */
#define PG_TOKENS_MAX          4096     /* tokens in a store */
#define PG_TOKENS_MAX_RECORD   1024     /* one stored token */

struct pg_token_rec {
    char name[64];                  /* letters, digits, . _ - @ */
    char id[16];                    /* the token's first 12 hex digits */
    char hash[160];                 /* "sha256$SALT$HASH" */
    int64_t created;                /* Unix seconds */
    int64_t expires;                /* 0: never */
    int64_t revoked;                /* 0: not revoked */
    char by[64];                    /* who made it (user@host) */
};

/* Adds a token.  *exists = 1 (and nothing written) when name has a token
 * that is not revoked; a revoked one is replaced. */
int pg_tokens_add(struct pg_pinstore *s, const struct pg_token_rec *t,
    int *exists, struct pg_policy_err *err);
/* Revokes name's token at `when`; *found = 0 when there is none (or it
 * is revoked already). */
int pg_tokens_revoke(struct pg_pinstore *s, const char *name, int64_t when,
    int *found, struct pg_policy_err *err);
/* Every token, sorted by name; *out malloc'd (caller frees; NULL when
 * *n is 0).  Never blocks on the network (PostgreSQL: the local copy). */
int pg_tokens_list(struct pg_pinstore *s, struct pg_token_rec **out,
    size_t *n, struct pg_policy_err *err);
/* Changes whenever a token changes, by any process (PostgreSQL: once the
 * local copy learnt of it).  Never blocks. */
int pg_tokens_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err);
/* The stored JSON form of a token, and back (refusing a record over
 * PG_TOKENS_MAX_RECORD or of another name). */
int pg_token_to_json(const struct pg_token_rec *t, char **out,
    size_t *len, struct pg_policy_err *err);
int pg_token_from_json(const char *name, const char *json, size_t len,
    struct pg_token_rec *t, struct pg_policy_err *err);

/* ---- rules (rules.c) --------------------------------------------------- */

/* What verification said about one file. */
enum pg_vresult {
    PG_VRES_NONE = 0,       /* the index advertises no provenance */
    PG_VRES_PENDING,        /* advertised, not (yet) verified */
    PG_VRES_VERIFIED,       /* every attestation verified; publisher set */
    PG_VRES_INVALID         /* advertised, does not verify */
};

struct pg_rules_file {
    const char *filename;
    const char *sha256;             /* hex, may be NULL */
    int64_t upload_time;            /* Unix seconds, -1 unknown */
    enum pg_vresult vres;
    struct pg_publisher publisher;  /* VERIFIED: the verified publisher */
    const char *invalid_reason;     /* INVALID: why (may be NULL) */
    int no_sha256;                  /* the index gives no sha256 for it:
                                       it can never be checked, so it is
                                       refused (on_violation) in every
                                       mode but off */
};

enum pg_file_status {
    PG_FS_NONE = 0,         /* mode off: no annotation */
    PG_FS_VERIFIED,
    PG_FS_UNATTESTED,
    PG_FS_PENDING,
    PG_FS_REJECTED
};

enum pg_decision {
    PG_DEC_NONE = 0,        /* mode off: serve, annotate nothing */
    PG_DEC_ALLOW,
    PG_DEC_PENDING,         /* verify before the first byte, then decide */
    PG_DEC_YANK,            /* refused: listed yanked with the reason */
    PG_DEC_HIDE,            /* refused: left out of the page */
    PG_DEC_DENY             /* refused: listed, download refused */
};

/* Why (metrics label, audit). */
enum pg_rules_why {
    PG_WHY_NONE = 0,        /* allowed / not decided */
    PG_WHY_INVALID,         /* provenance does not verify */
    PG_WHY_PUBLISHER,       /* verified publisher not accepted */
    PG_WHY_DOWNGRADE,       /* no provenance after the first attested one */
    PG_WHY_LEGACY,          /* no provenance, before it, legacy = deny */
    PG_WHY_UNATTESTED,      /* require mode, project never attested */
    PG_WHY_MIN_AGE,         /* uploaded too recently (or time unknown) */
    PG_WHY_PIN_STORE,       /* first sight while the pin store cannot
                               take the pin (set by the server) */
    PG_WHY_NO_SHA256        /* the index gives no sha256: never servable */
};

struct pg_rules_out {
    enum pg_file_status status;
    enum pg_decision decision;
    enum pg_rules_why why;
    char reason[PG_RULES_MAX_REASON];   /* "provgate: …" or "" */
    char expected[PG_RULES_MAX_REASON]; /* accepted publishers, or "" */
};

/* A pin the caller must write (tofu, project had none). */
struct pg_rules_pin {
    int needed;
    size_t file;                    /* index into files[] that set it */
    struct pg_publisher publisher;
};

/* Decides every file of a project (design §7).  rules: the merged rules
 * (pg_policy_for); pins: the project's pin set (n == 0: none); now: Unix
 * seconds (for min_age).  out[i] answers files[i].  Pure: no I/O, no
 * clock, no globals. */
void pg_rules_decide(const char *project, const struct pg_policy_rules *rules,
    const struct pg_pin_set *pins, const struct pg_rules_file *files,
    size_t n, int64_t now, struct pg_rules_out *out,
    struct pg_rules_pin *newpin);

const char *pg_rules_status_name(enum pg_file_status s);
const char *pg_rules_decision_name(enum pg_decision d);
const char *pg_rules_why_name(enum pg_rules_why w);
/* 1 for YANK, HIDE, DENY. */
int pg_rules_refused(enum pg_decision d);

#endif
