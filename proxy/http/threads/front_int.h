/* proxy/http/threads/front_int.h — what front.c and relay.c share: a serving
 * thread's h2o side.
 *
 * Owns: nothing (declarations).  Runs on: the serving thread it belongs
 * to (everything in struct pg_front_loop but stop_fds[1] and, under
 * conns_mu, the conns list).
 * Spec: issue 2 benchmark (cached serving).
 */
#ifndef PG_FRONT_INT_H
#define PG_FRONT_INT_H

#include <sys/queue.h>

#define H2O_USE_LIBUV 0
#include <h2o.h>
#include <h2o/http1client.h>
#include <h2o/socket/evloop.h>

#include "loops_int.h"

struct pg_front_conn;

struct pg_front_loop {
    struct pg_loop *lp;
    h2o_context_t ctx;                  /* its loop: ctx.loop */
    h2o_accept_ctx_t actx;
    h2o_socket_t *listener;             /* NULL once stopping */
    int stop_fds[2];                    /* the main loop writes [1] */
    h2o_socket_t *stop_sock;            /* reads stop_fds[0] */
    h2o_timeout_t grace;                /* PG_STOP_GRACE_S */
    h2o_timeout_entry_t grace_entry;
    h2o_timeout_t watchdog;             /* send timeout, once a second */
    h2o_timeout_entry_t watchdog_entry;
    LIST_HEAD(, pg_front_conn) conns;   /* accepted, not yet closed */
    pthread_mutex_t conns_mu;           /* conns' membership: other
                                           threads look for idle ones
                                           (front.c close_idle) */
    long nconns;
    h2o_timeout_entry_t idle_entry;     /* stopping: shut idle ones */
    int done;                           /* the thread leaves its loop */
    int disposed;                       /* its h2o state is gone */
    int parked;                         /* park_mu: the thread is done */
    h2o_http1client_ctx_t client_ctx;   /* relay.c's connections */
    h2o_timeout_t relay_timeout;
    h2o_socketpool_t relay_pool;        /* kept-alive ones to the main
                                           loop's relay listener */
};

/* The client socket of a request (NULL if h2o has none to give). */
h2o_socket_t *pg_front_req_socket(h2o_req_t *req);
/* The client connection will be reset when it closes (SO_LINGER 0) and
 * is not kept alive; returns its socket. */
h2o_socket_t *pg_front_reset_on_close(h2o_req_t *req);

/* The serving thread's side of a request (the h2o request). */
static inline h2o_req_t *
pg_front_req(const struct pg_req *r)
{
    return (h2o_req_t *)r->front;
}

#endif
