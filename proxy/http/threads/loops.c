/* proxy/http/threads/loops.c — the serving loops: one listening socket,
 * several loops.
 *
 * One event loop saturates one core long before the kernel does.  nginx
 * answers with one worker process per core; provgate with threads:
 * loops[0] is the main loop, which owns all state (cache, upstream, pages,
 * downloads, provenance).  With serve_loops = 1 it also serves clients
 * itself (evhttp on the listening socket).  With serve_loops = N >= 2, N
 * serving threads (front.c: h2o on a dup of the listening socket each, the
 * kernel handing each new connection to one of them) serve the clients:
 * they answer what the hot table (hot.c) holds — fresh pages, cached files
 * the main loop allowed — and relay everything else to the main loop over
 * loopback (relay.c), so every decision, every upstream fetch and every
 * "one fetch for concurrent misses" stays in one place; the main loop then
 * stops accepting clients itself.  libevent is set up for threads
 * (evthread_use_pthreads) so that a serving thread may wake the main loop
 * (event_active) and the log may add a timer to it from any thread.
 *
 * Connections (max_connections) are counted in total (atomic): the main
 * loop's evhttp connections (serve_loops = 1 only) by the list and sweep
 * below, on the main loop alone; a serving thread's by its own accept and
 * close hooks (front.c).  Their client addresses are counted against
 * max_client_connections in one table for the process (peers.c), by
 * pg_loops_client_admit for both kinds of loop; client_header_timeout and
 * closing idle connections at the cap are done here for evhttp and in
 * front.c for the threads.
 *
 * Stopping (SIGTERM, main loop): every loop stops accepting; a serving
 * thread ends once its requests finished (or after PG_STOP_GRACE_S) and
 * tells the main loop; the main loop ends once its own requests finished
 * and every serving thread ended (or after its own grace period).
 *
 * Owns: the loops, the main loop's connection list.  Borrows: the server.
 * Runs on: the main loop (setup, stop, free), each loop's thread (its
 * counters).  Spec: issue 2 items 2, 6 ("max_connections"), benchmark;
 * issue 10 item 4.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/thread.h>

#include "config_int.h"
#include "metrics_int.h"
#include "loops_int.h"

#define PG_LOOPS_MAX 64
#define PG_LISTEN_BACKLOG 511        /* as nginx's default */

/* ---- connections: max_connections ------------------------------------- */

/* evhttp (libevent 2.1) has no connection cap and no hook when it frees a
 * connection (the close callback slot is req.c's, per request), but it
 * asks us for each accepted connection's bufferevent (evhttp_set_bevcb).
 * pg_server_on_new_bev counts the connection, keeps a reference on its
 * bufferevent and links it on its loop's list.  When evhttp frees the
 * connection it clears the bufferevent's callbacks and drops its
 * reference; ours keeps the object alive, so the sweep (every
 * PG_CONN_SWEEP_MS while connections are open, before refusing one, and
 * before a /metrics scrape) sees the cleared callbacks, drops our
 * reference (which closes the socket) and counts the connection out.
 *
 * Over the cap a new connection is closed at once, unanswered, like
 * nginx's worker_connections: no request is read, so no status is sent
 * (a 503 would make clients retry; a refusal is never 5xx).  It is done by
 * handing evhttp a bufferevent that cannot take a socket (one end of a
 * pair): evhttp then frees the connection and closes the socket itself
 * (libevent logs "evhttp_get_request: cannot get connection").  Each
 * refusal counts in provgate_http_connections_refused_total; one log line
 * per second at most (per loop) says the cap was reached. */

static void on_conn_input(struct evbuffer *buf,
    const struct evbuffer_cb_info *info, void *arg);
static void on_conn_output(struct evbuffer *buf,
    const struct evbuffer_cb_info *info, void *arg);

static void
conn_unlink(struct pg_loop *lp, struct pg_conn *c)
{
    if (c->prev != NULL) {
        c->prev->next = c->next;
    } else {
        lp->conns = c->next;
    }
    if (c->next != NULL) {
        c->next->prev = c->prev;
    }
    lp->nconns--;
    if (!c->closing) {
        atomic_fetch_sub(&lp->s->nconns_total, 1);
    }
    pg_loops_client_gone(lp, &c->peer);
}

/* Shuts a live connection down: evhttp reads the end and frees the
 * connection.  It leaves max_connections' count at once (a new one may
 * take its slot while it closes); the sweep unlinks it. */
static void
conn_shut(struct pg_loop *lp, struct pg_conn *c)
{
    evutil_socket_t fd = bufferevent_getfd(c->bev);

    if (!c->closing) {
        atomic_fetch_sub(&lp->s->nconns_total, 1);
    }
    c->closing = 1;
    c->head_ms = 0;
    if (fd >= 0) {
        shutdown(fd, SHUT_RDWR);
    }
}

/* client_header_timeout on evhttp (it has only one timeout, reset by
 * every read, which a client trickling its head keeps alive).  A head is
 * awaited from the accept, and again from the first byte after an answer
 * (on_conn_input; on_conn_output clears it when an answer is written);
 * bytes left unparsed while evhttp reads start it too. */
static void
header_check(struct pg_loop *lp, struct pg_conn *c, int64_t now)
{
    const struct pg_config *cfg = lp->s->cfg;

    if (c->closing) {
        return;
    }
    if (!(bufferevent_get_enabled(c->bev) & EV_READ)) {
        c->head_ms = 0;                 /* a request is being answered */
        return;
    }
    if (c->head_ms == 0
        && evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
    {
        c->head_ms = now;
    }
    if (c->head_ms != 0 && now - c->head_ms >= cfg->client_header_timeout_ms)
    {
        pg_metric_inc(lp->s->m_header_timeouts, 1, NULL);
        conn_shut(lp, c);
    }
}

static void
sweep(struct pg_loop *lp)
{
    struct pg_conn *c = lp->conns, *next;
    bufferevent_event_cb ecb;
    int64_t now = pg_now_ms();

    while (c != NULL) {
        next = c->next;
        ecb = NULL;
        bufferevent_getcb(c->bev, NULL, NULL, &ecb, NULL);
        if (ecb == NULL) {
            /* evhttp let go (it sets its error callback on every live
             * connection): ours is the last reference. */
            conn_unlink(lp, c);
            bufferevent_disable(c->bev, EV_READ | EV_WRITE);
            evbuffer_remove_cb(bufferevent_get_input(c->bev),
                on_conn_input, c);
            evbuffer_remove_cb(bufferevent_get_output(c->bev),
                on_conn_output, c);
            bufferevent_decref(c->bev);
            free(c);
        } else {
            header_check(lp, c, now);
        }
        c = next;
    }
    if (lp->nconns == 0 && lp->ev_sweep != NULL) {
        event_del(lp->ev_sweep);
    }
}

void
pg_loops_sweep(struct pg_loop *lp)
{
    sweep(lp);
    pg_metric_set(lp->s->m_conns, (double)atomic_load(&lp->s->nconns_total),
        NULL);
}

static void
on_sweep_timer(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    pg_loops_sweep(arg);
}

static void
conns_free(struct pg_loop *lp)
{
    struct pg_conn *c;

    while (lp->conns != NULL) {
        c = lp->conns;
        conn_unlink(lp, c);
        bufferevent_decref(c->bev);
        free(c);
    }
}

/* Bytes arrived: a request head begins, unless one is being read. */
static void
on_conn_input(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
    struct pg_conn *c = arg;

    (void) buf;
    if (info->n_added > 0 && c->head_ms == 0 && !c->closing) {
        c->head_ms = pg_now_ms();
    }
}

/* An answer is being written: its request's head had arrived. */
static void
on_conn_output(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
    struct pg_conn *c = arg;

    (void) buf;
    if (info->n_added > 0) {
        c->head_ms = 0;
    }
}

/* ---- clients: max_client_connections ------------------------------------ */

int
pg_loops_client_admit(struct pg_loop *lp, const struct sockaddr *sa,
    struct pg_peer_key *key)
{
    struct pg_server *s = lp->s;
    char host[NI_MAXHOST];
    time_t now;

    memset(key, 0, sizeof(*key));
    if (s->cfg->max_client_connections == 0
        || pg_peer_key_of(sa, key) != 0)
    {
        memset(key, 0, sizeof(*key));  /* not counted (no limit, AF_UNIX) */
        return 0;
    }
    if (pg_peers_take(s->peers, key, s->cfg->max_client_connections) == 0)
    {
        return 0;
    }
    memset(key, 0, sizeof(*key));
    pg_metric_inc(s->m_client_limit, 1, NULL);
    now = time(NULL);
    if (now != lp->client_limit_logged) {
        lp->client_limit_logged = now;
        if (getnameinfo(sa, sa->sa_family == AF_INET
                ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6),
                host, sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
        {
            snprintf(host, sizeof(host), "?");
        }
        pg_log(s, "client %s has max_client_connections (%d) open: "
            "closing its new connections (at most one such line per "
            "second)", host, s->cfg->max_client_connections);
    }
    return -1;
}

void
pg_loops_client_gone(struct pg_loop *lp, struct pg_peer_key *key)
{
    if (key->family != 0) {
        pg_peers_release(lp->s->peers, key);
        key->family = 0;
    }
}

/* evhttp does not tell pg_server_on_new_bev the peer (it sets the socket
 * on the bufferevent after): the connections it linked are looked at on
 * the next one's accept, or right after the accepts, in the same loop
 * turn (ev_admit), before their socket can be read (a new socket's read
 * event is armed only at the next poll).  One over its address's limit is
 * shut down: evhttp reads the end and closes it, unanswered. */
static void
admit_pending(struct pg_loop *lp)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    struct pg_conn *c;

    for (c = lp->conns; c != NULL && !c->checked; c = c->next) {
        c->checked = 1;
        sl = sizeof(ss);
        if (getpeername(bufferevent_getfd(c->bev), (struct sockaddr *)&ss,
                &sl) != 0)
        {
            continue;
        }
        if (pg_loops_client_admit(lp, (struct sockaddr *)&ss, &c->peer)
            != 0)
        {
            conn_shut(lp, c);
        }
    }
}

static void
on_admit(evutil_socket_t fd, short what, void *arg)
{
    (void) fd;
    (void) what;
    admit_pending(arg);
}

/* At max_connections: the oldest idle keep-alive connection (waiting
 * for a request, nothing of one received, nothing being written) is shut
 * down to make room, as nginx reuses its oldest idle connections.  evhttp
 * keeps no idle time, so "oldest" is the oldest connection (the list's
 * tail).  1 if one was. */
static int
close_idle(struct pg_loop *lp)
{
    struct pg_conn *c, *oldest = NULL;

    for (c = lp->conns; c != NULL; c = c->next) {
        if (!c->closing && c->checked
            && (bufferevent_get_enabled(c->bev) & EV_READ)
            && evbuffer_get_length(bufferevent_get_input(c->bev)) == 0
            && evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
        {
            oldest = c;
        }
    }
    if (oldest == NULL) {
        return 0;
    }
    pg_metric_inc(lp->s->m_idle_closed, 1, NULL);
    conn_shut(lp, oldest);
    return 1;
}

/* A bufferevent evhttp cannot set a socket on: it closes the connection
 * at once (see above). */
void
pg_loops_refused(struct pg_loop *lp)
{
    time_t now = time(NULL);

    pg_metric_inc(lp->s->m_conns_refused, 1, NULL);
    if (now != lp->refused_logged) {
        lp->refused_logged = now;
        pg_log(lp->s, "max_connections (%d) reached: closing new "
            "connections", lp->s->cfg->max_connections);
    }
}

static struct bufferevent *
refuse_bev(struct pg_loop *lp, struct event_base *base)
{
    struct bufferevent *pair[2];

    pg_loops_refused(lp);
    /* BEV_OPT_CLOSE_ON_FREE: evhttp then leaves the close to
     * evhttp_get_request, which closes the socket exactly once. */
    if (bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE, pair) != 0) {
        return NULL;
    }
    bufferevent_free(pair[1]);
    return pair[0];
}

/* evhttp asks for each accepted connection's bufferevent: a socket one,
 * or a server-side OpenSSL one when tls_cert/tls_key are configured. */
struct bufferevent *
pg_server_on_new_bev(struct event_base *base, void *arg)
{
    struct pg_loop *lp = arg;
    struct pg_server *s = lp->s;
    struct bufferevent *bev = NULL;
    struct pg_conn *c;
    struct timeval tv;
    SSL *ssl;

    admit_pending(lp);
    if (atomic_load(&s->nconns_total) >= s->cfg->max_connections) {
        pg_loops_sweep(lp);
    }
    if (atomic_load(&s->nconns_total) >= s->cfg->max_connections
        && !close_idle(lp))
    {
        return refuse_bev(lp, base);
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return refuse_bev(lp, base);
    }
    if (s->tls != NULL) {
        ssl = SSL_new(s->tls);
        if (ssl != NULL) {
            bev = bufferevent_openssl_socket_new(base, -1, ssl,
                BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
        }
    } else {
        bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    }
    if (bev == NULL) {
        free(c);
        return refuse_bev(lp, base);
    }
    bufferevent_incref(bev);
    c->bev = bev;
    c->head_ms = pg_now_ms();           /* the first head is awaited */
    evbuffer_add_cb(bufferevent_get_input(bev), on_conn_input, c);
    evbuffer_add_cb(bufferevent_get_output(bev), on_conn_output, c);
    if (lp->ev_admit != NULL) {
        event_active(lp->ev_admit, EV_TIMEOUT, 0);
    }
    c->next = lp->conns;
    if (lp->conns != NULL) {
        lp->conns->prev = c;
    }
    lp->conns = c;
    lp->nconns++;
    atomic_fetch_add(&s->nconns_total, 1);
    if (lp->nconns == 1 && lp->ev_sweep != NULL) {
        tv.tv_sec = PG_CONN_SWEEP_MS / 1000;
        tv.tv_usec = (PG_CONN_SWEEP_MS % 1000) * 1000;
        event_add(lp->ev_sweep, &tv);
    }
    return bev;
}

/* ---- loops --------------------------------------------------------------- */

static pthread_once_t threads_once = PTHREAD_ONCE_INIT;
static int threads_ok;

static void
threads_init(void)
{
    threads_ok = evthread_use_pthreads() == 0;
}

static struct event_base *
base_new(void)
{
    struct event_config *ecfg = event_config_new();
    struct event_base *base = NULL;

    /* The epoll changelist folds the add/del pairs a request makes in one
     * loop turn into one epoll_ctl: 4 calls per cached hit became 1. */
    if (ecfg != NULL) {
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        base = event_base_new_with_config(ecfg);
        event_config_free(ecfg);
    }
    return base;
}

/* The evhttp settings every client-facing server shares. */
void
pg_loops_http_setup(struct evhttp *http, const struct pg_config *cfg)
{
    /* Read a head up to PG_MAX_HEAD_READ: one over PG_MAX_HEADERS_BYTES
     * then gets the 431 server.c gives, as on the serving threads. */
    evhttp_set_max_headers_size(http, PG_MAX_HEAD_READ);
    evhttp_set_max_body_size(http, PG_MAX_REQ_BODY);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST
        | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE
        | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_PATCH
        | EVHTTP_REQ_CONNECT);
    evhttp_set_timeout(http, (int)((cfg->client_timeout_ms + 999) / 1000));
}

/* serve_loops: 1, the main loop alone; N >= 2, N serving threads in
 * front of it; 0, one serving thread per core (one core: the main loop
 * alone). */
static int
count_loops(const struct pg_config *cfg)
{
    long n = cfg->serve_loops;

    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
    }
    if (n <= 1) {
        return 1;
    }
    return n >= PG_LOOPS_MAX ? PG_LOOPS_MAX : (int)n + 1;    /* + main */
}

int
pg_loops_setup(struct pg_server *s, char *msg, size_t mlen)
{
    struct pg_loop *lp;
    int i;

    s->nloops = count_loops(s->cfg);
    s->loops = calloc((size_t)s->nloops, sizeof(*s->loops));
    if (s->loops == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    for (i = 0; i < s->nloops; i++) {
        lp = &s->loops[i];
        lp->s = s;
        lp->index = i;
        lp->idle_check = pg_loop_idle_check;
        snprintf(lp->name, sizeof(lp->name), "%d", i);
        atomic_init(&lp->inflight, 0);
        atomic_init(&lp->relaying, 0);
    }
    lp = &s->loops[0];
    lp->base = s->base;                 /* its evhttp is s->http */
    lp->ev_sweep = event_new(lp->base, -1, EV_PERSIST, on_sweep_timer, lp);
    lp->ev_admit = event_new(lp->base, -1, 0, on_admit, lp);
    if (lp->ev_sweep == NULL || lp->ev_admit == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    return s->nloops > 1 ? pg_front_setup(s, msg, mlen) : 0;
}

/* The main loop's base, with libevent set up for threads first. */
struct event_base *
pg_loops_main_base(void)
{
    pthread_once(&threads_once, threads_init);
    return threads_ok ? base_new() : NULL;
}

void
pg_loop_idle_check(struct pg_loop *lp)
{
    struct pg_server *s = lp->s;

    if (lp->index > 0) {
        pg_front_idle_check(lp);
        return;
    }
    if (s->stopping && atomic_load(&lp->inflight) == 0
        && atomic_load(&s->threads_running) == 0)
    {
        event_base_loopexit(s->base, NULL);
    }
}

static void
on_thread_done(evutil_socket_t fd, short what, void *arg)
{
    struct pg_server *s = arg;

    (void) fd;
    (void) what;
    pg_loop_idle_check(&s->loops[0]);
}

/* A listening socket on sa (TCP_NODELAY: accepted sockets inherit it on
 * Linux, so headers and a sendfile body go out without a Nagle delay);
 * SO_REUSEPORT when serving threads each have one.  -1 with errno. */
static int
listen_on(const struct sockaddr *sa, socklen_t sl, int reuseport)
{
    int fd, one = 1, e;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
        0);
    if (fd < 0) {
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
            sizeof(one)) != 0)
        || bind(fd, sa, sl) != 0 || listen(fd, PG_LISTEN_BACKLOG) != 0)
    {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* The client listener.  serve_loops = 1: one socket, the main loop's
 * evhttp accepts on it.  Serving threads: one socket each, all bound to
 * the same address with SO_REUSEPORT, so the kernel spreads connections
 * evenly over them (on one shared socket, every thread woke for each
 * connection and whichever came first took it: 30/70 splits under load,
 * one thread saturated while the other idled).  The first is made here,
 * so a bad address fails at start-up; the others in pg_loops_start. */
int
pg_loops_listen(struct pg_server *s, char *msg, size_t mlen)
{
    const struct pg_config *cfg = s->cfg;
    struct addrinfo hints, *ai = NULL;
    char port[16];
    int fd, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%d", cfg->listen_port);
    rc = getaddrinfo(cfg->listen_host, port, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        snprintf(msg, mlen, "listen %s: %s", cfg->listen,
            rc != 0 ? gai_strerror(rc) : "no address");
        return -1;
    }
    fd = listen_on(ai->ai_addr, ai->ai_addrlen, s->nloops > 1);
    freeaddrinfo(ai);
    if (fd < 0) {
        snprintf(msg, mlen, "listen %s: %s", cfg->listen, strerror(errno));
        return -1;
    }
    if (s->nloops > 1) {
        s->listen_fd = fd;
        return 0;
    }
    s->bound = evhttp_accept_socket_with_handle(s->http, fd);
    if (s->bound == NULL) {
        close(fd);
        snprintf(msg, mlen, "listen %s: cannot accept", cfg->listen);
        return -1;
    }
    return 0;
}

int
pg_loops_start(struct pg_server *s, char *msg, size_t mlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int i, fd;

    if (s->nloops < 2) {
        return 0;
    }
    s->ev_thread_done = event_new(s->base, -1, 0, on_thread_done, s);
    if (s->ev_thread_done == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    if (getsockname(s->listen_fd, (struct sockaddr *)&ss, &sl) != 0) {
        snprintf(msg, mlen, "listen %s: %s", s->cfg->listen,
            strerror(errno));
        return -1;
    }
    for (i = 1; i < s->nloops; i++) {
        if (i == 1) {
            fd = s->listen_fd;          /* the thread owns it from here */
            s->listen_fd = -1;
        } else {
            fd = listen_on((struct sockaddr *)&ss, sl, 1);
        }
        if (fd < 0) {
            snprintf(msg, mlen, "listen %s (serving thread %d): %s",
                s->cfg->listen, i, strerror(errno));
            return -1;
        }
        if (pg_front_start(&s->loops[i], fd, msg, mlen) != 0) {
            return -1;
        }
    }
    return 0;
}

void
pg_loops_stop(struct pg_server *s)
{
    int i;

    for (i = 1; i < s->nloops; i++) {
        if (s->loops[i].started) {
            pg_front_stop(&s->loops[i]);
        }
    }
}

long
pg_loops_inflight(struct pg_server *s)
{
    long n = 0;
    int i;

    for (i = 0; i < s->nloops; i++) {
        n += atomic_load(&s->loops[i].inflight)
            - atomic_load(&s->loops[i].relaying);
    }
    return n;
}

/* Serving threads first (parked: nothing runs on their loops any more). */
void
pg_loops_free(struct pg_server *s)
{
    if (s->loops == NULL) {
        return;
    }
    pg_front_free(s);
    if (s->ev_thread_done != NULL) {
        event_free(s->ev_thread_done);
        s->ev_thread_done = NULL;
    }
}

/* The main loop's part, after its evhttp was freed. */
void
pg_loops_free_main(struct pg_server *s)
{
    struct pg_loop *lp;

    if (s->loops == NULL) {
        return;
    }
    lp = &s->loops[0];
    conns_free(lp);
    if (lp->ev_sweep != NULL) {
        event_free(lp->ev_sweep);
    }
    if (lp->ev_admit != NULL) {
        event_free(lp->ev_admit);
    }
    free(s->loops);
    s->loops = NULL;
}
