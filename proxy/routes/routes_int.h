/* proxy/routes/routes_int.h — the index and file routes (pages.c,
 * files.c).
 *
 * Each route module gives its rows of the route table (struct pg_route,
 * composed by server.c) and its state's constructor; pages.c also loads
 * pages for the other routes (files.c's decisions, provenance.c).
 *
 * Owns: see pages.c, files.c.  Runs on: loop.
 * Spec: design §2, §5, §8; PEP 503, PEP 691.
 */
#ifndef PG_ROUTES_INT_H
#define PG_ROUTES_INT_H

#include <jansson.h>

#include "server_int.h"

#define PG_HOLD_SLOTS 1024          /* remembered hash mismatches */
#define PG_FILE_HOLD_BYTES (64 * 1024) /* final bytes held back until the
                                       sha256 matched */

/* ---- pages.c ----------------------------------------------------------- */
struct pg_page;
/* ctx: borrowed services (copied; see hooks_int.h). */
int pg_pages_new(const struct pg_ctx *ctx, struct pg_pages **out);
void pg_pages_free(struct pg_pages *p);
/* /simple, /simple/ and /simple/<project>/. */
extern const struct pg_route pg_pages_routes[];
extern const size_t pg_pages_nroutes;
/* Makes the project's page available (memory, LMDB or upstream), then
 * calls cb once: page != NULL (borrowed for the call) or page == NULL with
 * an HTTP status and a one-line reason.  May call cb before returning. */
typedef void (*pg_page_ready_fn)(struct pg_req *r, struct pg_page *page,
    int status, const char *reason);
void pg_pages_load(struct pg_pages *p, struct pg_req *r, const char *project,
    pg_page_ready_fn cb);
json_t *pg_page_model(struct pg_page *page);
/* issue 13: the page's upstream (index in cfg->upstreams; 0: [upstream]).
 * pg_pages_load loads a project's page from the upstream that owns its
 * name (core/bind.c), so this is the upstream its files come from. */
size_t pg_page_upstream(struct pg_page *page);
/* When the page stops being fresh (fetched_at + its TTL). */
time_t pg_page_fresh_until(struct pg_page *page);
/* Drops every page (policy reload, pins change); a busy one is marked and
 * dropped once its waiters are answered. */
void pg_pages_invalidate(struct pg_pages *p);
size_t pg_pages_count(struct pg_pages *p);
/* Memory the pages in memory take (counted against page_cache_max_bytes:
 * models and the bodies not on disk). */
size_t pg_pages_bytes(struct pg_pages *p);

/* ---- files.c ----------------------------------------------------------- */
/* ctx: borrowed services (copied; ctx->pages decides on pages). */
int pg_files_new(const struct pg_ctx *ctx, struct pg_files **out);
void pg_files_free(struct pg_files *f);
/* /packages/… */
extern const struct pg_route pg_files_routes[];
extern const size_t pg_files_nroutes;
size_t pg_files_active(struct pg_files *f);

/* ---- full.c: the cache disk is full (issue 10 item 7) ------------------ */
struct pg_full;
int pg_full_new(struct pg_server *s, struct pg_full **out);
void pg_full_free(struct pg_full *f);
/* The store could not take something (why); the cache is "full" until a
 * file is stored (pg_full_clear) or need bytes are free.  Loop only. */
void pg_full_set(struct pg_full *f, const char *why, uint64_t need);
void pg_full_clear(struct pg_full *f, const char *how);
int pg_full_is(const struct pg_full *f);

/* ---- provenance.c (see provenance_int.h) ------------------------------- */
/* /integrity/… */
extern const struct pg_route pg_prov_routes[];
extern const size_t pg_prov_nroutes;

#endif
