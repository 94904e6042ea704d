/* proxy/routes/ui_route_int.h — the operator pages under /-/ (ui_route.c).
 *
 * pg_uisrv_new installs the route on the server (requests for "/-" and
 * "/-/…" reach pg_uisrv_handle) and the audit log's tap that feeds the
 * pages' event store; cmd_serve.c calls it after pg_prov_new when
 * ui = on.  Without it every /-/ URL is a 404.
 *
 * Owns: the event store, the administrators.  Borrows: the server and the
 * provenance engine (both outlive it).  Runs on: loop.  Spec: issue 15.
 */
#ifndef PG_UI_ROUTE_INT_H
#define PG_UI_ROUTE_INT_H

#include <stddef.h>

struct pg_server;
struct pg_prov;
struct pg_req;
struct pg_uisrv;

/* Reads admin_token_file (if set); -1 with "FILE:LINE: why" in msg. */
int pg_uisrv_new(struct pg_server *s, struct pg_prov *prov,
    struct pg_uisrv **out, char *msg, size_t mlen);
/* Before pg_server_free (it unhooks itself). */
void pg_uisrv_free(struct pg_uisrv *u);
/* The route (server.c calls it for /-/ paths; finishes r). */
void pg_uisrv_handle(void *arg, struct pg_req *r, const char *path);

#endif
