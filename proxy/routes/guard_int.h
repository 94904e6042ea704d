/* proxy/routes/guard_int.h — the dependency-confusion guard.
 *
 * When a name a private upstream ([upstream:NAME]) owns shows up on the
 * public one ([upstream]): on its project page (looked up each time the
 * private page is fetched from its upstream) or in its project list (as
 * the pages route loads it), the guard logs it, writes an audit event
 * "dependency-confusion" and counts it
 * (provgate_dependency_confusion_total{upstream, via}).  It never changes
 * what is served: the name is served from its private upstream only
 * (core/bind.c, routes/pages.c).
 *
 * Owns: its lookups.  Borrows: the context and the audit log (both
 * outlive it).  Runs on: loop.  Spec: issue 13 item 2.
 */
#ifndef PG_GUARD_INT_H
#define PG_GUARD_INT_H

#include "hooks_int.h"

struct pg_audit;
struct pg_guard;

/* Registers its metrics and, when private upstreams are configured, sets
 * hooks->private_page, hooks->public_name and hooks->guard_arg.  0, or -1
 * (no memory). */
int pg_guard_new(const struct pg_ctx *ctx, struct pg_audit *audit,
    struct pg_proxy_hooks *hooks, struct pg_guard **out);
/* Cancels the lookups in flight; before the upstream clients go
 * (pg_server_free). */
void pg_guard_free(struct pg_guard *g);

#endif
