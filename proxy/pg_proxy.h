/* proxy/pg_proxy.h — the proxy module's public header: the server and its
 * two seams for provenance.
 *
 * provgate serve builds one struct pg_server from a finished pg_config and
 * runs it until SIGTERM/SIGINT.  The server owns the HTTP listener (libevent
 * evhttp), the LMDB cache and blob store, the libcurl upstream client, the
 * metrics registry and a small worker pool; all of it runs on one event
 * loop.  The routes are /simple/, /simple/<project>/, /packages/…, /metrics,
 * /healthz and /readyz.
 *
 * Seams for provenance verification (design §5-§7; the hooks are
 * struct pg_proxy_hooks, http/hooks_int.h, filled by
 * routes/provenance.c, built with the server's struct pg_ctx, and
 * installed with pg_server_set_hooks by cli/cmd_serve.c right after
 * pg_server_new):
 *
 *  1. annotate_page: after an upstream project page model (jansson, PEP 691
 *     form, see index_int.h) was parsed -- from an upstream answer, or
 *     re-read from LMDB after a restart or a reannotate (struct pg_ctx) --
 *     and before it is rendered, the hook may change the model in place: add
 *     "_provenance" objects, set "yanked" with a reason, remove files and
 *     list them under "_provenance_hidden", rewrite nothing else.  It runs
 *     on the loop and must call done(done_arg, 0) exactly once, now or
 *     later (after its own asynchronous work: provenance fetches, a worker
 *     job); done(done_arg, -1, ...) makes the page answer 502 with reason.
 *     The model stays valid and untouched by the server until done runs.
 *     LMDB keeps the UPSTREAM model (as parsed, before annotation), so
 *     annotations are recomputed under the current policy on every load.
 *     The /simple/ project list is never annotated.
 *
 *  2. file_decision: before any byte of a file (or its .metadata) is served
 *     -- from the blob store or from upstream -- the server calls it with
 *     the project, filename, expected sha256 and the file's object in the
 *     (annotated) page model, which the server loaded first.  Return 0 to
 *     allow; non-zero to refuse, with a one-line reason in reason[]: the
 *     client gets 403 with that reason phrase and a problem+json body.
 *     Synchronous, on the loop, must not block.
 *     PG_PROXY_DECISION_WAIT with file_wait: see pg_proxy_hooks.
 *
 *  3. reload: called on SIGHUP (on the loop).  After reloading its policy
 *     the engine calls its context's reannotate so pages are annotated again.
 *
 * Owns: the server and everything it opened.  Borrows: the config (must
 * outlive the server).  Runs on: loop.  Spec: design §2, §5, §8, §9.
 */
#ifndef PG_PROXY_H
#define PG_PROXY_H

#include <stddef.h>

#include <jansson.h>

#include "hooks_int.h"

struct pg_config;
struct pg_server;
struct pg_cache;
struct event_base;
struct pg_upstream;


/* Opens the cache, the upstream client and the listener (binds now, so a
 * busy port fails here).  On failure writes a one-line reason into msg and
 * returns -1, or PG_SERVER_EDAMAGED when the cache state on disk is
 * damaged (msg: "FILE: damaged (...)"; nothing was mapped). */
#define PG_SERVER_EDAMAGED (-2)
int pg_server_new(const struct pg_config *cfg, struct pg_server **out,
    char *msg, size_t mlen);
/* Installs the provenance hooks (copied).  Before pg_server_run. */
void pg_server_set_hooks(struct pg_server *s,
    const struct pg_proxy_hooks *hooks);
/* Runs the loop until SIGTERM/SIGINT and a graceful stop; 0 or -1. */
int pg_server_run(struct pg_server *s);
void pg_server_free(struct pg_server *s);

/* The context the modules composed with the server are built with
 * (struct pg_ctx: the loop, config, cache, upstream client, metrics,
 * workers; reannotate drops every rendered page so the next request
 * re-reads the model from LMDB and annotates it again).  Borrowed until
 * pg_server_free. */
void pg_server_ctx(struct pg_server *s, struct pg_ctx *ctx);

#endif
