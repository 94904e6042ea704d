/* proxy/http/admit_int.h — admission and the route table (admit.c).
 *
 * The first checks every loop makes on a request (allow_clients, target,
 * method), the evhttp entry points of the main loop's listener and of
 * the relay, and the dispatch of an admitted request to its row of the
 * route table.  Used by the composition root (server.c) and the serving
 * threads (front.c); the routes never call it.
 *
 * Owns: nothing.  Runs on: any loop (dispatch: main loop).
 * Spec: design §2; issue 11.
 */
#ifndef PG_ADMIT_INT_H
#define PG_ADMIT_INT_H

struct evhttp_request;
struct pg_loop;
struct pg_req;
struct pg_server;
struct sockaddr;

/* The first checks every loop makes (allow_clients, target, method);
 * 1 when r may go on (r->path set), 0 when r was answered. */
int pg_admit(struct pg_loop *lp, struct pg_req *r,
    const struct sockaddr *peer, const char *path, int get_or_head);
/* evhttp callbacks: a client's request on the main loop's listener
 * (arg: the loop), a relayed one (arg: the server). */
void pg_admit_on_request(struct evhttp_request *ereq, void *arg);
void pg_admit_on_relayed(struct evhttp_request *ereq, void *arg);
/* Main loop: hands r to the route of path (404 if none). */
void pg_route_dispatch(struct pg_server *s, struct pg_req *r,
    const char *path);

#endif
