/* proxy/http/threads/loops_int.h — the serving loops and threads.
 *
 * loops.c owns the loops (the main one and the serving threads'), the
 * listening socket and the per-client connection limit; front.c runs h2o
 * on each serving thread; relay.c hands what a thread cannot answer to
 * the main loop.  The three call each other (one component); nothing
 * below them calls them: a request reaches its loop's idle check through
 * struct pg_loop's idle_check and its transport through struct
 * pg_req_ops.
 *
 * Owns: see loops.c, front.c, relay.c.  Runs on: see each function.
 * Spec: issue 2 benchmark; issue 9 item 4; issue 10 items 2, 4.
 */
#ifndef PG_LOOPS_INT_H
#define PG_LOOPS_INT_H

#include <stdint.h>

#include "peers_int.h"
#include "server_int.h"

struct bufferevent;

#define PG_RELAY_TIMEOUT_S 3600     /* a relayed request's silence (the
                                       main loop bounds its requests; this
                                       only catches a hang) */
#define PG_CONN_SWEEP_MS 100        /* closed client connections are
                                       counted out (and their sockets
                                       closed) within this long */
#define PG_MAX_HEAD_READ (8192 + 4096 * 100) /* evhttp reads a head this
                                       long (h2o's H2O_MAX_REQLEN), so one
                                       over PG_MAX_HEADERS_BYTES gets the
                                       same 431 as on the threads */

/* One accepted client connection (server.c), counted against
 * max_connections from accept until evhttp freed it.  bev holds our own
 * reference (bufferevent_incref), so the bufferevent outlives evhttp's
 * use of it and the sweep can see that evhttp let go (its callbacks are
 * cleared); then the reference is dropped, which closes the socket. */
struct pg_conn {
    struct bufferevent *bev;
    struct pg_conn *prev, *next;
    struct pg_peer_key peer;            /* counted in s->peers */
    int checked;                        /* its address was looked at */
    int closing;                        /* shut down by us (idle at the
                                           cap, header timeout, limit):
                                           out of nconns_total already */
    int64_t head_ms;                    /* a request head is awaited
                                           since (0: none) */
};

/* ---- loops.c: per-client limit, shared by both front ends --------------- */
/* Counts a new connection from sa against max_client_connections
 * (key filled); 0, or -1 when it must be closed (counted and logged). */
int pg_loops_client_admit(struct pg_loop *lp, const struct sockaddr *sa,
    struct pg_peer_key *key);
/* Counts a connection admitted so out. */
void pg_loops_client_gone(struct pg_loop *lp, struct pg_peer_key *key);

/* ---- loops.c, relay.c ---------------------------------------------------- */
/* Creates the listening socket, loops[0] on s->base and the serving
 * threads' loops (not started); -1 with msg. */
int pg_loops_setup(struct pg_server *s, char *msg, size_t mlen);
int pg_loops_start(struct pg_server *s, char *msg, size_t mlen);
/* The client listener (after pg_loops_setup); -1 with msg. */
int pg_loops_listen(struct pg_server *s, char *msg, size_t mlen);
/* Main loop: stop accepting everywhere; serving threads finish their
 * requests and end (ev_thread_done tells the main loop). */
void pg_loops_stop(struct pg_server *s);
/* Joins the threads (breaking their loops first) and frees the loops. */
void pg_loops_free(struct pg_server *s);
/* A connection closed at accept (max_connections): counted, and one log
 * line a second at most per loop. */
void pg_loops_refused(struct pg_loop *lp);
/* Counts lp's closed connections out (lp's thread). */
void pg_loops_sweep(struct pg_loop *lp);
/* The main loop's base, libevent set up for threads first; NULL if not. */
struct event_base *pg_loops_main_base(void);
/* The evhttp limits and timeouts every client-facing server shares. */
void pg_loops_http_setup(struct evhttp *http, const struct pg_config *cfg);
void pg_loops_free_main(struct pg_server *s);
/* After a request of lp ended: ends a stopping loop with nothing left. */
void pg_loop_idle_check(struct pg_loop *lp);
/* Requests in flight, each once (a relayed one counts on the main loop). */
long pg_loops_inflight(struct pg_server *s);
/* Serving thread: relays r to the main loop and streams the answer back
 * (relay.c). */
void pg_relay_start(struct pg_loop *lp, struct pg_req *r);

/* ---- front.c: the serving threads' h2o side --------------------------- */
struct pg_front;
struct pg_front_loop;
/* Shared h2o configuration, and each serving loop's side (not started). */
int pg_front_setup(struct pg_server *s, char *msg, size_t mlen);
/* Starts serving loop lp's thread on its listening socket (owned from
 * here on). */
int pg_front_start(struct pg_loop *lp, int lfd, char *msg, size_t mlen);
/* Main loop: asks lp's thread to stop (it ends by itself). */
void pg_front_stop(struct pg_loop *lp);
/* lp's thread, after one of its requests ended (pg_loop_idle_check). */
void pg_front_idle_check(struct pg_loop *lp);
/* After the threads were joined. */
void pg_front_free(struct pg_server *s);
/* Main loop: the listener relayed requests arrive on; handler gets each
 * (admit.c's pg_admit_on_relayed, arg s). */
typedef void (*pg_relay_handler_fn)(struct evhttp_request *ereq, void *arg);
int pg_relay_listen(struct pg_server *s, pg_relay_handler_fn handler,
    char *msg, size_t mlen);
/* evhttp's new-connection callback of every evhttp listener (loops.c). */
struct bufferevent *pg_server_on_new_bev(struct event_base *base,
    void *arg);

#endif
