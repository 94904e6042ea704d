/* proxy/routes/provenance_int.h — serving only verified files: the provenance
 * engine behind the server's seams (pg_proxy.h).
 *
 * When a project page is (re)built the server calls our annotate hook with
 * its model.  We collect every file that advertises provenance, take its
 * verdict from memory (PG_PROV_VCACHE_SLOTS recent ones) or the cache
 * (PG_CACHE_DB_VERDICTS, keyed by the file's sha256 and the trust root's
 * id) or its provenance object from the cache
 * (PG_CACHE_DB_PROVENANCE, by sha256 and filename) or from the upstream
 * (in parallel, at most provenance_concurrency transfers, Accept:
 * application/vnd.pypi.integrity.v1+json), verify each object on the worker
 * pool, then apply the policy rules (policy/rules.c) to the whole file
 * list and annotate the model: "_provenance" per file, "yanked" for
 * on_violation = yank, files removed and listed under "_provenance_hidden"
 * for hide.  Whatever has not arrived within provenance_budget_ms is
 * "pending"; the fetches go on in the background and the pages are
 * re-annotated when they finish.  The file route asks our decision hook
 * before the first byte of any file is served.
 *
 * Decisions depend on the policy generation and the pins generation; they
 * are recomputed on every annotation (cheap: a pure function over the file
 * list) and every page is re-annotated when either changes (SIGHUP, or a
 * pins change by this process or by `provgate pins` — polled every
 * PG_PROV_POLL_MS).  What is expensive — fetching and verifying — is
 * cached by sha256 + trust root, which is all a verification depends on.
 *
 * Owns: the policy, the trust root, the audit log, fetches and worker jobs
 * in flight.  Borrows: the server (its loop, cache, upstream, workers,
 * metrics).  Runs on: loop (verification on workers).
 * Spec: design §5–§7, issue 4 items 1, 4, 5, 6.
 */
#ifndef PG_PROVENANCE_INT_H
#define PG_PROVENANCE_INT_H

#include <stddef.h>

#include "pins_migrate_int.h"

struct pg_server;
struct pg_ctx;
struct pg_proxy_hooks;
struct pg_req;
struct pg_prov;
struct pg_cache;
struct pg_config;
struct pg_pinstore;
struct pg_policy_err;

#define PG_PROV_MAX_BYTES (4 * 1024 * 1024) /* one provenance object */
#define PG_PROV_POLL_MS 500         /* pins generation / min_age check */
#define PG_PROV_PINS_REFRESH_MS 2000 /* shared pin store re-read (besides
                                       its notifications) */
#define PG_PROV_HIDDEN_MAX 4096     /* projects whose hidden files we keep */
#define PG_PROV_HIDDEN_BYTES (16u << 20) /* …and the memory their lists take */
#define PG_PROV_AUDIT_SEEN 4096     /* recent rejections not re-audited */
#define PG_PROV_MAX_JOBS 1024       /* page annotations in flight */
#define PG_PROV_VCACHE_SLOTS 16384  /* verified verdicts kept in memory */
#define PG_PROV_MAX_WAITS 4096      /* downloads parked on a pending file */
#define PG_PROV_FAILED_MAX 256      /* recent unverifiable pending files */
#define PG_PROV_FAILED_HOLD_S 60    /* …refused at once for this long */

/* Loads the policy (cfg->policy_file, else the built-in one) and the trust
 * root (cfg->trust_root, cfg->staging, else the built-in production root),
 * opens the audit log, registers metrics and fills the hooks for
 * pg_server_set_hooks (ctx and hooks are copied from / written to).  On failure writes the reason (for a policy file:
 * every "FILE:LINE: message", one per line) into msg and returns -1. */
int pg_prov_new(const struct pg_ctx *ctx, struct pg_proxy_hooks *hooks,
    struct pg_prov **out, char *msg, size_t mlen);
/* Cancels fetches and timers; call before pg_server_free. */
void pg_prov_stop(struct pg_prov *p);
/* Frees what is left; call after pg_server_free (workers are joined). */
void pg_prov_free(struct pg_prov *p);

/* GET /integrity/<project>/<version>/<filename>/provenance: the cached
 * provenance object (application/vnd.pypi.integrity.v1+json), 404 when
 * none is cached.  Finishes the request. */
void pg_prov_handle_integrity(struct pg_req *r);

/* For the operator pages (ui_route.c), loop only: the pin store, the
 * current policy (borrowed until the next SIGHUP: use it within the
 * callback), the audit log, whether the pin store is reachable, and
 * "pins changed here: annotate every page again". */
struct pg_policy;
struct pg_audit;
struct pg_pinstore *pg_prov_pinstore(struct pg_prov *p);
const struct pg_policy *pg_prov_policy(struct pg_prov *p);
struct pg_audit *pg_prov_audit(struct pg_prov *p);
/* issue 13: the upstream a project comes from (index in cfg->upstreams),
 * and the rules that apply to it: the policy file's, except that a
 * private upstream's project without a [project:NAME] section gets that
 * upstream's mode (tmp is filled and returned then).  Borrowed from
 * policy (or tmp). */
struct pg_policy;
struct pg_policy_rules;
size_t pg_prov_upstream(const struct pg_prov *p, const char *project);
const struct pg_policy_rules *pg_prov_rules(const struct pg_prov *p,
    const struct pg_policy *policy, const char *project,
    struct pg_policy_rules *tmp);
int pg_prov_pins_up(struct pg_prov *p);
void pg_prov_pins_changed(struct pg_prov *p);
/* Re-verify: forget a file's verdict in memory (loop); the LMDB key of
 * its stored verdict (delete it on a worker), -1 if it does not fit. */
void pg_prov_forget_verdict(struct pg_prov *p, const char *sha);
int pg_prov_verdict_key(struct pg_prov *p, const char *sha, char *key,
    size_t len);
/* The stored provenance object of a file (sha256 hex and the filename it
 * was listed under; one stored by an older provgate, keyed by sha256
 * alone, also answers): PG_CACHE_OK with *val malloc'd, else the cache's
 * code.  Runs on: any thread (an LMDB read). */
int pg_prov_stored(struct pg_prov *p, const char *sha, const char *filename,
    void **val, size_t *len);

#endif
