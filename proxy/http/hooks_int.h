/* proxy/http/hooks_int.h — what the server hands the modules it
 * composes: the provenance hooks and the context routes are built with.
 *
 * The server (server.c) is the composition root: it builds the loop, the
 * cache, the upstream client, the metrics and the workers, then gives the
 * modules above the HTTP layer (pages, files, provenance) a struct pg_ctx
 * at construction, so they never reach back into the server for them; a
 * route is handed its module's state by its row of the route table.  The
 * provenance engine (routes/provenance.c) answers the file and page
 * routes' questions through struct pg_proxy_hooks.
 *
 * Owns: nothing.  Runs on: loop.  Spec: design §5-§7.
 */
#ifndef PG_HOOKS_INT_H
#define PG_HOOKS_INT_H

#include <stddef.h>

#include <jansson.h>

struct event_base;
struct pg_bind;
struct pg_cache;
struct pg_auth;
struct pg_config;
struct pg_files;
struct pg_full;
struct pg_hot;
struct pg_metrics;
struct pg_pages;
struct pg_server;
struct pg_upstream;
struct pg_workers;

struct pg_proxy_hooks {
    void (*annotate_page)(void *arg, const char *project, json_t *model,
        void (*done)(void *done_arg, int rc, const char *reason),
        void *done_arg);
    int (*file_decision)(void *arg, const char *project,
        const char *filename, const char *sha256_hex,
        const json_t *file_obj, char *reason, size_t rlen);
    void (*reload)(void *arg);
    void *arg;
    /* Added by issue 4 (provenance): file_decision may return
     * PG_PROXY_DECISION_WAIT when the file's provenance is still being
     * verified (design §7: "verified before its first byte is served").
     * The file route then calls file_wait; 0 means resume(resume_arg) will
     * be called exactly once, on the loop, when asking file_decision again
     * makes sense (unless the server stops first); -1 means refuse now
     * with the reason file_decision wrote.  Optional (NULL: refuse). */
    int (*file_wait)(void *arg, const char *project,
        void (*resume)(void *resume_arg), void *resume_arg);
    /* Added by issue 12: /readyz asks it.  1 when nothing is degraded;
     * 0 with a one-line why (e.g. the shared pin store is unreachable:
     * known pins still work but new projects cannot be pinned, so the
     * answer is 503 with the why, and a balancer prefers another
     * replica).  Optional. */
    int (*ready)(void *arg, char *why, size_t len);
    /* Added by issue 13 (routes/guard.c), with their own argument:
     * private_page is called when a private upstream's (up > 0) project
     * page was fetched or revalidated from it; public_name when
     * [upstream]'s project list holds a name private upstream up owns.
     * Optional. */
    void (*private_page)(void *arg, const char *project, size_t up);
    void (*public_name)(void *arg, const char *project, size_t up);
    void *guard_arg;
};

#define PG_PROXY_DECISION_WAIT 2

/* A route module's context (borrowed; valid until pg_server_free). */
struct pg_ctx {
    struct event_base *base;            /* the main loop */
    const struct pg_config *cfg;
    struct pg_cache *cache;
    struct pg_upstream *up;             /* [upstream]'s client: ups[0] */
    struct pg_upstream *const *ups;     /* one per cfg->upstreams[i] */
    struct pg_bind *bind;               /* which upstream owns a name
                                           (core/bind.c; pages.c gives it
                                           the @list upstreams' lists) */
    struct pg_metrics *metrics;
    struct pg_workers *workers;         /* I/O: commits, pages, stores */
    struct pg_workers *verifiers;       /* signature checks: one per core */
    struct pg_server *log;              /* pg_log's stream, the serving
                                           metrics (pg_stats_*) */
    const struct pg_proxy_hooks *hooks; /* the provenance engine's answers
                                           (filled in once it is built) */
    struct pg_hot *hot;                 /* answers every loop may give */
    struct pg_full *full;               /* the cache's disk-full state */
    struct pg_pages *pages;             /* index pages, for the routes
                                           that decide on one (NULL while
                                           the pages are being built) */
    const char *base_url;               /* render base, no final '/' */
    struct pg_auth *auth;               /* client tokens, NULL when auth
                                           is off (auth.c) */
    /* Drops every rendered page so the next request re-annotates it. */
    void (*reannotate)(void *arg);
    void *arg;
};

#endif
