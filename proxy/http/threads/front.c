/* proxy/http/threads/front.c — the serving threads: h2o in front, the main
 * loop behind.
 *
 * A profile of a cached hit put evhttp itself (an allocation and a printf
 * per header, sscanf per request line, a loop turn per write) at two thirds
 * of provgate's user time: 13-16 µs a request where nginx spends 5-6.  h2o
 * (Debian's libh2o-evloop: picohttpparser, headers flattened with memcpy,
 * writes done at once) answers the same bytes in about 2 µs.  So with
 * serve_loops >= 2 each serving thread runs an h2o event loop on a dup of
 * the listening socket, and the main loop stops accepting clients itself:
 * it owns the state and does all upstream work, like an nginx worker's
 * upstream, and serves the threads only.
 *
 * A serving thread takes a request through the same steps the main loop
 * would (admit.c's pg_admit: allow_clients, target, method), then
 * answers a hot-table hit (hot.c) with the very functions the main loop
 * uses (views.c: pg_view_serve_page, pg_view_serve_file) through struct pg_req,
 * whose helpers (req.c) call the h2o side here: request headers, response
 * headers, the reply.  Anything else is relayed to the main loop
 * (relay.c).  The access line and the metrics come from pg_req_finish as
 * for any request.
 *
 * Replies.  A reply body is an evbuffer (memory pages by reference, blob
 * file segments mapped by libevent): it is handed to h2o as iovecs and
 * kept alive, linked to the h2o request's pool, until h2o wrote it.  h2o
 * makes Date, Connection and Content-Length itself (from what req.c set),
 * and writes header names as we spelled them.
 *
 * Connections.  Each accepted socket is counted against max_connections
 * (s->nconns_total, shared with the main loop) and its client address
 * against max_client_connections (peers.c, shared by every thread) until
 * h2o closes it (the socket's on_close hook).  Over its address's limit a
 * new connection is closed at once, unanswered.  At max_connections the
 * keep-alive connection idle the longest, on any thread, is closed to make
 * room (close_idle); with none idle the new one is closed unanswered, as
 * loops.c does for evhttp.  A watchdog (every PG_FRONT_WATCHDOG_MS) closes
 * connections whose request head takes longer than client_header_timeout
 * and those that read nothing of their answer for client_timeout.
 *
 * Stopping (SIGTERM, via a pipe from the main loop).  The listener is
 * closed and h2o told to end keep-alive; once the thread's requests
 * finished (or after PG_STOP_GRACE_S) every connection is shut down,
 * h2o closes them, and the thread leaves its loop.
 *
 * Owns: the shared h2o configuration (struct pg_front), each thread's
 * context, loop, listener and connection list.  Borrows: the server.
 * Runs on: the main loop (setup, start, stop, free) and each serving
 * thread (everything else; close_idle reads other threads' lists under
 * their conns_mu).  Spec: issue 2 benchmark; design §5; issue 10 items 4
 * and 5.
 */
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config_int.h"
#include "admit_int.h"
#include "framing_int.h"
#include "front_int.h"
#include "metrics_int.h"

struct pg_front {
    h2o_globalconf_t conf;
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
};

#define PG_RELAY_IDLE_MS 2000      /* a kept-alive relay connection */
#define PG_FRONT_WATCHDOG_MS 250   /* send and header timeouts, idle
                                      marks: checked this often */
#define PG_FRONT_SENDFILE_TURN (512 * 1024) /* per loop turn: one
                                        client does not hold the thread;
                                        4 MiB cost the big rows 10-20% */

struct pg_front_conn {
    struct pg_front_loop *fl;
    h2o_socket_t *sock;
    LIST_ENTRY(pg_front_conn) link;     /* fl->conns */
    struct front_body *sending;         /* a sendfile reply under way */
    size_t sent;                        /* its bytes so far */
    size_t seen_written;                /* sock->bytes_written at ... */
    uint64_t seen_ms;                   /* ... this time (watchdog) */
    struct pg_peer_key peer;            /* counted in s->peers */
    int active;                         /* requests h2o has not disposed */
    int nreq;                           /* requests it took */
    int closing;                        /* shut down by us: out of
                                           nconns_total already */
    _Atomic uint64_t idle_ms;           /* idle keep-alive since (accept
                                           or its last request's end); 0:
                                           busy, or claimed by close_idle */
    atomic_int out;                     /* counted out of nconns_total
                                           (whoever sets it, once: this
                                           thread closing it, or another
                                           thread's close_idle claiming
                                           it) */
    uint64_t head_ms;                   /* a request head is awaited since
                                           (0: none; watchdog) */
};

/* A reply body kept until h2o is done with the request.  A file range
 * (blob, big page) on a plain connection goes out with sendfile(2)
 * straight from the file, as nginx sends it (h2o 2.2 has no sendfile: it
 * would write the mapped bytes, one more copy per byte): h2o writes the
 * head, then each time the socket can take more (h2o_socket_notify_write)
 * the thread sends the next part, and ends the reply through h2o. */
struct front_body {
    h2o_generator_t gen;                /* first: h2o hands it back */
    struct evbuffer *buf;               /* keeps the file segment open */
    h2o_req_t *req;
    struct pg_front_conn *conn;         /* NULL once the client left */
    int fd;
    off_t off;
    size_t left;
};

static h2o_generator_t front_done_gen = { NULL, NULL };

static void front_idle(struct pg_front_loop *fl);
static void shut_conns(struct pg_front_loop *fl, int all);
static void on_conn_close(void *data);

/* ---- request helpers (req.c calls these) --------------------------------- */

/* h2o keeps header names in lower case. */
static size_t
lower_name(const char *name, char *out, size_t outlen)
{
    size_t n = strlen(name);

    if (n == 0 || n >= outlen) {
        return 0;
    }
    memcpy(out, name, n + 1);
    h2o_strtolower(out, n);
    return n;
}

static const char *
pg_front_header(struct pg_req *r, const char *name)
{
    h2o_req_t *req = pg_front_req(r);
    char lc[64];
    size_t n = lower_name(name, lc, sizeof(lc));
    ssize_t i;
    h2o_iovec_t val;

    if (n == 0) {
        return NULL;
    }
    if (n == 4 && memcmp(lc, "host", 4) == 0) {
        val = req->input.authority;     /* h2o keeps Host apart */
    } else {
        i = h2o_find_header_by_str(&req->headers, lc, n, -1);
        if (i < 0) {
            return NULL;
        }
        val = req->headers.entries[i].value;
    }
    return pg_req_strndup(r, val.base, val.len);
}

static void
delete_out_header(h2o_req_t *req, const char *lc, size_t n)
{
    ssize_t i;

    while ((i = h2o_find_header_by_str(&req->res.headers, lc, n, -1)) >= 0)
    {
        h2o_delete_header(&req->res.headers, i);
    }
}

static void
pg_front_set_header(struct pg_req *r, const char *name, const char *v)
{
    h2o_req_t *req = pg_front_req(r);
    char lc[64];
    size_t n = lower_name(name, lc, sizeof(lc));
    h2o_iovec_t nm, on, val;
    size_t cl;

    if (n == 0) {
        return;
    }
    /* h2o writes these three itself. */
    if (strcmp(lc, "content-length") == 0) {
        cl = h2o_strtosize(v, strlen(v));
        if (cl != SIZE_MAX) {
            req->res.content_length = cl;   /* else h2o's SIZE_MAX: unset */
        }
        return;
    }
    if (strcmp(lc, "date") == 0) {
        return;
    }
    if (strcmp(lc, "connection") == 0) {
        if (strcasecmp(v, "close") == 0) {
            req->http1_is_persistent = 0;
        }
        return;
    }
    delete_out_header(req, lc, n);
    nm = h2o_strdup(&req->pool, lc, n);
    on = h2o_strdup(&req->pool, name, n);
    val = h2o_strdup(&req->pool, v, strlen(v));
    h2o_add_header_by_str(&req->pool, &req->res.headers, nm.base, n, 1,
        on.base, val.base, val.len);
}

static int
pg_front_has_out_header(struct pg_req *r, const char *name)
{
    h2o_req_t *req = pg_front_req(r);
    char lc[64];
    size_t n = lower_name(name, lc, sizeof(lc));

    return n > 0
        && h2o_find_header_by_str(&req->res.headers, lc, n, -1) >= 0;
}

static void
on_body_dispose(void *p)
{
    struct front_body *fb = p;

    if (fb->conn != NULL && fb->conn->sending == fb) {
        fb->conn->sending = NULL;
    }
    if (fb->buf != NULL) {
        evbuffer_free(fb->buf);
    }
}

static void sf_pump(struct front_body *fb);

/* The head and the first part of the body leave in full packets (nginx's
 * tcp_nopush): corked from the head until the body was sent. */
static void
cork(h2o_socket_t *sock, int on)
{
    setsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_CORK, &on,
        sizeof(on));
}

/* The reply ends (FINAL: all sent; ERROR: the client went or the file
 * ended early). */
static void
sf_end(struct front_body *fb, h2o_send_state_t state)
{
    fb->conn->sending = NULL;
    if (state == H2O_SEND_STATE_FINAL) {
        cork(fb->conn->sock, 0);
    }
    fb->conn = NULL;
    h2o_send(fb->req, NULL, 0, state);
}

static void
sf_on_writable(h2o_socket_t *sock, const char *err)
{
    struct pg_front_conn *c = sock->on_close.data;

    if (c->sending == NULL) {
        return;
    }
    if (err != NULL) {
        sf_end(c->sending, H2O_SEND_STATE_ERROR);
        return;
    }
    sf_pump(c->sending);
}

/* Sends what the socket takes, at most PG_FRONT_SENDFILE_TURN bytes a
 * turn (one client does not hold the thread), then waits for room. */
static void
sf_pump(struct front_body *fb)
{
    struct pg_front_conn *c = fb->conn;
    size_t turn = 0, want;
    ssize_t n;

    while (fb->left > 0 && turn < PG_FRONT_SENDFILE_TURN) {
        want = fb->left < PG_FRONT_SENDFILE_TURN - turn ? fb->left
            : PG_FRONT_SENDFILE_TURN - turn;
        n = sendfile(h2o_socket_get_fd(c->sock), fb->fd, &fb->off, want);
        if (n > 0) {
            fb->left -= (size_t)n;
            turn += (size_t)n;
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        /* The client went (EPIPE, reset) or the file ended early. */
        sf_end(fb, H2O_SEND_STATE_ERROR);
        return;
    }
    if (fb->left == 0) {
        sf_end(fb, H2O_SEND_STATE_FINAL);
        return;
    }
    h2o_socket_notify_write(c->sock, sf_on_writable);
}

/* h2o wrote the head: the body follows. */
static void
sf_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct front_body *fb = (struct front_body *)gen;

    (void) req;
    if (fb->conn != NULL) {
        sf_pump(fb);
    }
}

static void
sf_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    struct front_body *fb = (struct front_body *)gen;

    (void) req;
    if (fb->conn != NULL && fb->conn->sending == fb) {
        fb->conn->sending = NULL;
    }
    fb->conn = NULL;
}

/* The connection a request came on (its socket's close hook is ours). */
static struct pg_front_conn *
req_conn(h2o_req_t *req)
{
    h2o_socket_t *sock = pg_front_req_socket(req);

    return sock != NULL && sock->on_close.cb == on_conn_close
        ? sock->on_close.data : NULL;
}

/* A request is under way on its connection from on_req until h2o
 * disposes of it (its answer was sent, or the connection closes: h2o
 * disposes of the request before it closes the socket, so c is alive). */
struct front_mark {
    struct pg_front_conn *c;
};

static void
on_mark_dispose(void *p)
{
    struct front_mark *m = p;

    m->c->active--;
    if (m->c->active == 0 && !m->c->closing && !atomic_load(&m->c->out))
    {
        atomic_store(&m->c->idle_ms, h2o_now(m->c->fl->ctx.loop));
    }
}

static void
mark_active(h2o_req_t *req)
{
    struct pg_front_conn *c = req_conn(req);
    struct front_mark *m;

    if (c == NULL) {
        return;
    }
    m = h2o_mem_alloc_shared(&req->pool, sizeof(*m), on_mark_dispose);
    m->c = c;
    c->active++;
    c->nreq++;
    c->head_ms = 0;
    atomic_store(&c->idle_ms, 0);
}

/* A reply made, not yet sent (pg_front_send): req.c writes the access
 * line in between, so the line is out before the client has the answer
 * (as on the evhttp path, which writes on the next loop turn). */
struct pg_front_reply {
    h2o_req_t *req;
    h2o_generator_t *gen;
    h2o_iovec_t *vecs;
    size_t n;
    h2o_send_state_t state;
};

static struct pg_front_reply *
prepared(struct pg_req *r, h2o_generator_t *gen, h2o_iovec_t *vecs,
    size_t n, h2o_send_state_t state)
{
    h2o_req_t *req = pg_front_req(r);
    struct pg_front_reply *fr = h2o_mem_alloc_pool(&req->pool, sizeof(*fr));

    fr->req = req;
    fr->gen = gen;
    fr->vecs = vecs;
    fr->n = n;
    fr->state = state;
    r->front = NULL;            /* h2o's from here */
    return fr;
}

static struct pg_front_reply *
pg_front_reply(struct pg_req *r, int code, const char *phrase,
    struct evbuffer *body)
{
    h2o_req_t *req = pg_front_req(r);
    size_t len = body != NULL ? evbuffer_get_length(body) : 0;
    struct pg_front_conn *c;
    struct front_body *fb;
    struct evbuffer_iovec *ev = NULL;
    h2o_iovec_t *vecs = NULL;
    int n = 0, i;

    req->res.status = code;
    req->res.reason = h2o_strdup(&req->pool, phrase, strlen(phrase)).base;
    /* Content-Length set (HEAD) stays; a 304 or 204 has none. */
    if (req->res.content_length == SIZE_MAX && code != 304 && code != 204) {
        req->res.content_length = len;
    }
    if (len >= PG_SENDFILE_MIN && r->body_fd >= 0
        && r->s->tls == NULL && (c = req_conn(req)) != NULL
        && c->sending == NULL)
    {
        fb = h2o_mem_alloc_shared(&req->pool, sizeof(*fb), on_body_dispose);
        memset(fb, 0, sizeof(*fb));
        fb->gen.proceed = sf_proceed;
        fb->gen.stop = sf_stop;
        fb->buf = body;
        fb->req = req;
        fb->conn = c;
        fb->fd = r->body_fd;
        fb->off = (off_t)r->body_off;
        fb->left = len;
        c->sending = fb;
        cork(c->sock, 1);
        return prepared(r, &fb->gen, NULL, 0, H2O_SEND_STATE_IN_PROGRESS);
    }
    if (len > 0) {
        /* h2o writes from these bytes (no copy) until the request is
         * disposed: the buffer lives as long, linked to its pool. */
        fb = h2o_mem_alloc_shared(&req->pool, sizeof(*fb), on_body_dispose);
        memset(fb, 0, sizeof(*fb));
        fb->buf = body;
        body = NULL;
        n = evbuffer_peek(fb->buf, -1, NULL, NULL, 0);
        ev = h2o_mem_alloc_pool(&req->pool, sizeof(*ev) * (size_t)n);
        vecs = h2o_mem_alloc_pool(&req->pool, sizeof(*vecs) * (size_t)n);
        n = evbuffer_peek(fb->buf, -1, NULL, ev, n);
        for (i = 0; i < n; i++) {
            vecs[i] = h2o_iovec_init(ev[i].iov_base, ev[i].iov_len);
        }
    }
    if (body != NULL) {
        evbuffer_free(body);
    }
    return prepared(r, &front_done_gen, vecs, (size_t)n,
        H2O_SEND_STATE_FINAL);
}

static void
pg_front_send(struct pg_front_reply *fr)
{
    h2o_start_response(fr->req, fr->gen);
    h2o_send(fr->req, fr->vecs, fr->n, fr->state);
}

h2o_socket_t *
pg_front_req_socket(h2o_req_t *req)
{
    return req->conn->callbacks->get_socket != NULL
        ? req->conn->callbacks->get_socket(req->conn) : NULL;
}

h2o_socket_t *
pg_front_reset_on_close(h2o_req_t *req)
{
    h2o_socket_t *sock = pg_front_req_socket(req);
    struct linger lg = { 1, 0 };

    if (sock != NULL) {
        setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_LINGER, &lg,
            sizeof(lg));
    }
    req->http1_is_persistent = 0;
    return sock;
}

static void
pg_front_abort(struct pg_req *r)
{
    h2o_req_t *req = pg_front_req(r);
    h2o_socket_t *sock = pg_front_reset_on_close(req);

    if (sock != NULL) {
        /* Nothing more reaches the client (a reply not started is never
         * started): h2o's writes fail and it closes the socket, which the
         * linger turns into a reset. */
        shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
    }
    if (req->_generator == NULL) {
        req->res.status = pg_refusal_status(PG_REFUSE_BAD_GATEWAY);
        req->res.reason = pg_refusal_title(PG_REFUSE_BAD_GATEWAY);
        req->res.content_length = SIZE_MAX;
        h2o_start_response(req, &front_done_gen);
    }
    h2o_send(req, NULL, 0, H2O_SEND_STATE_ERROR);
}

/* ---- struct pg_req_ops: the request helpers of req.c on h2o ------------ */

static int
front_live(const struct pg_req *r)
{
    return r->front != NULL;
}

static const char *
front_query(struct pg_req *r)
{
    return r->front != NULL ? r->query : NULL;
}

static const char *
front_header(struct pg_req *r, const char *name)
{
    return r->front != NULL ? pg_front_header(r, name) : NULL;
}

static void
front_set_header(struct pg_req *r, const char *name, const char *v)
{
    if (r->front != NULL) {
        pg_front_set_header(r, name, v);
    }
}

static int
front_has_out_header(struct pg_req *r, const char *name)
{
    return r->front != NULL && pg_front_has_out_header(r, name);
}

static size_t
front_output_pending(struct pg_req *r)
{
    return 0;                           /* h2o paces itself */
}

static void
front_reply(struct pg_req *r, int code, const char *phrase,
    struct evbuffer *body)
{
    struct pg_front_reply *fr = pg_front_reply(r, code, phrase, body);

    pg_req_finish(r);           /* the access line first, as evhttp */
    pg_front_send(fr);
}

static void
front_abort(struct pg_req *r)
{
    pg_front_abort(r);
    r->client_gone = 1;
    r->front = NULL;
}

static const struct pg_req_ops front_ops = {
    .live = front_live,
    .query = front_query,
    .header = front_header,
    .set_header = front_set_header,
    .has_out_header = front_has_out_header,
    .output_pending = front_output_pending,
    .reply = front_reply,
    .abort = front_abort,
};

/* ---- requests ------------------------------------------------------------ */

static const char *
method_name(h2o_iovec_t m)
{
    static const char *const names[] = {
        "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE",
        "CONNECT", "PATCH", NULL
    };
    int i;

    for (i = 0; names[i] != NULL; i++) {
        if (h2o_memis(m.base, m.len, names[i], strlen(names[i]))) {
            return names[i];
        }
    }
    return "-";
}


/* The request line and header lines as evhttp counts them for
 * PG_MAX_HEADERS_BYTES (CRLFs not counted); h2o's own limit is larger. */
static size_t
head_bytes(const h2o_req_t *req)
{
    size_t n = req->input.method.len + 1 + req->input.path.len + 9, i;

    if (req->input.authority.len > 0) {
        n += 6 + req->input.authority.len;
    }
    for (i = 0; i != req->headers.size; i++) {
        n += req->headers.entries[i].name->len + 2
            + req->headers.entries[i].value.len;
    }
    return n;
}

/* h2o read a body for req (a Content-Length or Transfer-Encoding field
 * came; h2o keeps neither in req->headers): framing.c judges the raw head,
 * still at the start of the socket's input until the answer is sent.
 * 1 when r was answered. */
static int
framing_refused(struct pg_req *r, h2o_req_t *req)
{
    h2o_socket_t *sock = pg_front_req_socket(req);
    struct pg_framing f;
    enum pg_framing_verdict v;
    const char *why;

    memset(&f, 0, sizeof(f));
    if (sock != NULL && sock->input != NULL) {
        pg_framing_scan(&f, sock->input->bytes, sock->input->size);
    }
    f.body = req->entity.len > 0 || (f.cl == 0 && f.te == 0);
    v = pg_framing_judge(&f, &why);
    if (v == PG_FRAMING_OK) {
        return 0;
    }
    pg_framing_answer(r, v, why);
    return 1;
}

static int
on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct pg_front_loop *fl = H2O_STRUCT_FROM_MEMBER(struct pg_front_loop,
        ctx, req->conn->ctx);
    struct pg_loop *lp = fl->lp;
    struct pg_server *s = lp->s;
    struct sockaddr_storage ss;
    struct sockaddr *sa = (struct sockaddr *)&ss;
    socklen_t sl;
    size_t plen, hlen, at;
    struct pg_req *r;
    char *path, host[NI_MAXHOST];

    (void) self;
    mark_active(req);
    r = pg_req_new_ops(lp, &front_ops, req);
    if (r == NULL) {
        h2o_send_error_503(req, "Service Unavailable", "out of memory\n",
            0);
        return 0;
    }
    r->method = method_name(req->input.method);
    r->is_head = strcmp(r->method, "HEAD") == 0;
    memset(&ss, 0, sizeof(ss));
    sl = req->conn->callbacks->get_peername(req->conn, sa);
    hlen = sl > 0 ? h2o_socket_getnumerichost(sa, sl, host) : SIZE_MAX;
    if (hlen < sizeof(r->client)) {
        memcpy(r->client, host, hlen + 1);
    }
    plen = req->input.query_at != SIZE_MAX ? req->input.query_at
        : req->input.path.len;
    if (head_bytes(req) > PG_MAX_HEADERS_BYTES) {
        r->path = pg_req_strdup(r, "(too long)");
        pg_req_set_header(r, "Connection", "close");
        pg_req_refuse(r, PG_REFUSE_HEAD_TOO_LARGE,
            "request line and headers longer than %d bytes",
            PG_MAX_HEADERS_BYTES);
        return 0;
    }
    if (req->entity.base != NULL && framing_refused(r, req)) {
        return 0;
    }
    switch (pg_framing_target(r, req->input.path.base, plen, &at)) {
    case PG_TARGET_ORIGIN:
    case PG_TARGET_MALFORMED:           /* pg_admit answers */
        at = 0;
        break;
    case PG_TARGET_ORIGIN_ABSOLUTE:
        break;
    case PG_TARGET_OTHER:
        pg_framing_answer(r, PG_FRAMING_REFUSED,
            "request target names another origin: provgate is no proxy");
        return 0;
    }
    path = pg_req_strndup(r, req->input.path.base + at, plen - at);
    if (req->input.query_at != SIZE_MAX) {
        r->query = pg_req_strndup(r, req->input.path.base + plen + 1,
            req->input.path.len - plen - 1);
    }
    if (!pg_admit(lp, r, sl > 0 ? sa : NULL, path,
            strcmp(r->method, "GET") == 0 || r->is_head))
    {
        return 0;
    }
    if (pg_hot_serve(s->hot, r)) {
        atomic_fetch_add_explicit(&lp->nhot, 1, memory_order_relaxed);
        return 0;
    }
    pg_relay_start(lp, r);
    return 0;
}

/* ---- connections ----------------------------------------------------------- */

static void
on_conn_close(void *data)
{
    struct pg_front_conn *c = data;
    struct pg_front_loop *fl = c->fl;

    if (c->sending != NULL) {
        c->sending->conn = NULL;
    }
    pthread_mutex_lock(&fl->conns_mu);
    LIST_REMOVE(c, link);
    pthread_mutex_unlock(&fl->conns_mu);
    fl->nconns--;
    if (atomic_exchange(&c->out, 1) == 0) {
        atomic_fetch_sub(&fl->lp->s->nconns_total, 1);
    }
    pg_loops_client_gone(fl->lp, &c->peer);
    free(c);
    front_idle(fl);
}

static void
refuse(struct pg_front_loop *fl, h2o_socket_t *sock)
{
    pg_loops_refused(fl->lp);
    h2o_socket_close(sock);
}

/* h2o sees the end and closes the connection (on_conn_close).  It
 * leaves max_connections' count at once: a new one may take its slot. */
static void
conn_shut(struct pg_front_conn *c)
{
    if (atomic_exchange(&c->out, 1) == 0) {
        atomic_fetch_sub(&c->fl->lp->s->nconns_total, 1);
    }
    atomic_store(&c->idle_ms, 0);
    c->closing = 1;
    c->head_ms = 0;
    shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
}

static void tell(struct pg_loop *lp, const char *what);

/* At max_connections: the keep-alive connection idle the longest, on any
 * serving thread (no request under way or begun, nothing being written),
 * is closed to make room, as nginx reuses its oldest idle connections;
 * the new one takes its slot at once.  A connection is claimed by setting
 * its "out" flag (under its thread's conns_mu, which keeps it listed and
 * alive; the flag makes sure it is counted out once, whoever closes it);
 * another thread's is shut by that thread, told by "d" on its pipe: a
 * thread touches only its own sockets.  1 if one was. */
static int
close_idle(struct pg_front_loop *fl)
{
    struct pg_server *s = fl->lp->s;
    struct pg_front_loop *o;
    struct pg_front_conn *c, *got = NULL;
    uint64_t best = UINT64_MAX, v;
    int i, bi = -1;

    for (i = 1; i < s->nloops; i++) {
        o = s->loops[i].front;
        if (o == NULL) {
            continue;
        }
        pthread_mutex_lock(&o->conns_mu);
        LIST_FOREACH(c, &o->conns, link) {
            v = atomic_load(&c->idle_ms);
            if (v != 0 && v < best) {
                best = v;
                bi = i;
            }
        }
        pthread_mutex_unlock(&o->conns_mu);
    }
    if (bi < 0) {
        return 0;
    }
    o = s->loops[bi].front;
    pthread_mutex_lock(&o->conns_mu);
    LIST_FOREACH(c, &o->conns, link) {
        v = atomic_load(&c->idle_ms);
        if (v != 0 && v <= best && atomic_exchange(&c->out, 1) == 0) {
            atomic_store(&c->idle_ms, 0);
            atomic_fetch_sub(&s->nconns_total, 1);
            got = c;
            break;
        }
    }
    if (got != NULL && o == fl) {
        conn_shut(got);                 /* counted out above */
    }
    pthread_mutex_unlock(&o->conns_mu);
    if (got == NULL) {
        return 0;
    }
    pg_metric_inc(s->m_idle_closed, 1, NULL);
    if (o != fl) {
        tell(&s->loops[bi], "d");
    }
    return 1;
}

/* Shuts down this thread's connections another thread claimed. */
static void
drain_claimed(struct pg_front_loop *fl)
{
    struct pg_front_conn *c;

    LIST_FOREACH(c, &fl->conns, link) {
        if (atomic_load(&c->out) && !c->closing) {
            c->closing = 1;
            c->head_ms = 0;
            shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
        }
    }
}

static void
on_accept(h2o_socket_t *listener, const char *err)
{
    struct pg_front_loop *fl = listener->data;
    struct pg_server *s = fl->lp->s;
    struct sockaddr_storage ss;
    struct pg_peer_key peer;
    struct pg_front_conn *c;
    h2o_socket_t *sock;
    int i;

    if (err != NULL) {
        return;
    }
    /* A bounded batch per turn, as h2o's own server does (each thread
     * has its own SO_REUSEPORT socket: loops.c). */
    for (i = 0; i < 16; i++) {
        sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL) {
            break;
        }
        memset(&ss, 0, sizeof(ss));
        if (h2o_socket_getpeername(sock, (struct sockaddr *)&ss) == 0
            || pg_loops_client_admit(fl->lp, (struct sockaddr *)&ss, &peer)
                != 0)
        {
            h2o_socket_close(sock);     /* over max_client_connections */
            continue;
        }
        if ((atomic_load(&s->nconns_total) >= s->cfg->max_connections
                && !close_idle(fl))
            || (c = calloc(1, sizeof(*c))) == NULL)
        {
            pg_loops_client_gone(fl->lp, &peer);
            refuse(fl, sock);
            continue;
        }
        c->fl = fl;
        c->sock = sock;
        c->peer = peer;
        c->seen_ms = h2o_now(fl->ctx.loop);
        atomic_init(&c->idle_ms, c->seen_ms);
        atomic_init(&c->out, 0);
        c->head_ms = c->seen_ms;        /* the first head is awaited */
        pthread_mutex_lock(&fl->conns_mu);
        LIST_INSERT_HEAD(&fl->conns, c, link);
        pthread_mutex_unlock(&fl->conns_mu);
        fl->nconns++;
        atomic_fetch_add(&s->nconns_total, 1);
        sock->on_close.cb = on_conn_close;
        sock->on_close.data = c;
        h2o_accept(&fl->actx, sock);
    }
}

/* ---- send timeout --------------------------------------------------------- */

/* client_header_timeout.  h2o's one request timer (http1.req_timeout,
 * client_timeout here) runs from the moment it waits for a request, idle
 * keep-alive time included, so it cannot be shorter than the idle limit.
 * A head is awaited from the accept, and on a kept-alive connection from
 * the first of its bytes the watchdog sees (h2o keeps an unparsed head in
 * the socket's input) until on_req took the request; past the timeout the
 * connection is shut down.  Checked every PG_FRONT_WATCHDOG_MS, which
 * also marks such a connection not idle for close_idle (so one whose
 * head began within that time may still be taken for idle). */
static void
header_check(struct pg_front_loop *fl, struct pg_front_conn *c,
    uint64_t now)
{
    struct pg_server *s = fl->lp->s;

    if (c->closing || c->active > 0) {
        return;
    }
    if (c->sock->input->size > 0) {
        atomic_store(&c->idle_ms, 0);   /* a head begun: not idle */
    }
    if (c->head_ms == 0 && c->sock->input->size > 0) {
        c->head_ms = now;
    } else if (c->nreq > 0 && c->sock->input->size == 0) {
        c->head_ms = 0;                 /* idle between requests */
    }
    if (c->head_ms != 0
        && now - c->head_ms >= (uint64_t)s->cfg->client_header_timeout_ms)
    {
        pg_metric_inc(s->m_header_timeouts, 1, NULL);
        conn_shut(c);
    }
}

/* h2o 2.2 times out reading a request (http1.req_timeout) but not writing
 * an answer: a client that stops reading would hold its connection for
 * ever.  Every PG_FRONT_WATCHDOG_MS the thread looks at each connection
 * that is writing; one whose written byte count has not moved for
 * client_timeout is shut down (h2o then closes it), as evhttp's write
 * timeout and nginx's send_timeout do. */
static void
on_watchdog(h2o_timeout_entry_t *entry)
{
    struct pg_front_loop *fl = H2O_STRUCT_FROM_MEMBER(struct pg_front_loop,
        watchdog_entry, entry);
    uint64_t now = h2o_now(fl->ctx.loop);
    uint64_t limit = (uint64_t)fl->lp->s->cfg->client_timeout_ms;
    struct pg_front_conn *c;

    LIST_FOREACH(c, &fl->conns, link) {
        header_check(fl, c, now);
        if ((!h2o_socket_is_writing(c->sock) && c->sending == NULL)
            || c->sock->bytes_written + c->sent != c->seen_written)
        {
            c->seen_written = c->sock->bytes_written + c->sent;
            c->seen_ms = now;
        } else if (now - c->seen_ms >= limit) {
            pg_metric_inc(fl->lp->s->m_send_timeouts, 1, NULL);
            shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
            c->seen_ms = now;
        }
    }
    if (fl->lp->stopping && atomic_load(&fl->lp->inflight) == 0) {
        shut_conns(fl, 0);
    }
    h2o_timeout_link(fl->ctx.loop, &fl->watchdog, &fl->watchdog_entry);
}

/* ---- stopping ------------------------------------------------------------ */

/* Connections are shut down (h2o sees it fail and closes them): idle ones
 * (waiting for a request) once the thread's requests are done, so a reply
 * being written is not cut; all of them when the grace period is over.
 * A connection still writing closes after its reply or is shut by a later
 * pass (the end of a request, the watchdog's second). */
static void
shut_conns(struct pg_front_loop *fl, int all)
{
    struct pg_front_conn *c;

    LIST_FOREACH(c, &fl->conns, link) {
        if (all || (!h2o_socket_is_writing(c->sock) && c->sending == NULL)) {
            shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
        }
    }
}

static void
front_idle(struct pg_front_loop *fl)
{
    if (!fl->lp->stopping) {
        return;
    }
    if (atomic_load(&fl->lp->inflight) == 0
        && !h2o_timeout_is_linked(&fl->idle_entry))
    {
        /* After this turn: the request that just ended is being sent. */
        h2o_timeout_link(fl->ctx.loop, &fl->ctx.zero_timeout,
            &fl->idle_entry);
    }
    if (fl->nconns == 0) {
        fl->done = 1;
    }
}

static void
on_idle(h2o_timeout_entry_t *entry)
{
    struct pg_front_loop *fl = H2O_STRUCT_FROM_MEMBER(struct pg_front_loop,
        idle_entry, entry);

    if (atomic_load(&fl->lp->inflight) == 0) {
        shut_conns(fl, 0);
    }
    if (fl->nconns == 0) {
        fl->done = 1;
    }
}

void
pg_front_idle_check(struct pg_loop *lp)
{
    if (lp->front != NULL) {
        front_idle(lp->front);
    }
}

static void
on_grace_over(h2o_timeout_entry_t *entry)
{
    struct pg_front_loop *fl = H2O_STRUCT_FROM_MEMBER(struct pg_front_loop,
        grace_entry, entry);

    shut_conns(fl, 1);
    front_idle(fl);
}

/* The main loop writes "s" (stop: pg_front_stop) or "x" (pg_front_free);
 * another serving thread "d" (shut the connections it claimed:
 * close_idle).  The pipe is read here (h2o only says it is readable):
 * any byte but "d", or an error, stops the thread as before. */
static void
on_stop(h2o_socket_t *sock, const char *err)
{
    struct pg_front_loop *fl = sock->data;
    char buf[64];
    ssize_t n, i;
    int stop = err != NULL, drain = 0, leave = 0;

    do {
        n = read(fl->stop_fds[0], buf, sizeof(buf));
        for (i = 0; i < n; i++) {
            if (buf[i] == 'd') {
                drain = 1;
            } else {
                stop = 1;
                leave |= buf[i] == 'x';
            }
        }
    } while (n == (ssize_t)sizeof(buf) || (n < 0 && errno == EINTR));
    if (n == 0) {
        stop = 1;                       /* the main loop closed its end */
    }
    if (drain) {
        drain_claimed(fl);
    }
    if (err != NULL || leave) {
        fl->done = 1;       /* "x": leave now, open connections or not (a
                               request the main loop gave up on would keep
                               its connection, and pg_front_free wait, for
                               ever) */
    }
    if (!stop || fl->lp->stopping) {
        return;
    }
    fl->lp->stopping = 1;
    if (fl->listener != NULL) {
        h2o_socket_read_stop(fl->listener);
        h2o_socket_close(fl->listener);
        fl->listener = NULL;
    }
    /* No keep-alive from here (what h2o_context_request_shutdown does for
     * HTTP/1; its HTTP/2 part would leave a timer behind). */
    fl->ctx.shutdown_requested = 1;
    h2o_timeout_link(fl->ctx.loop, &fl->grace, &fl->grace_entry);
    front_idle(fl);
}

static void
tell(struct pg_loop *lp, const char *what)
{
    ssize_t n;

    if (lp->front != NULL && lp->front->stop_fds[1] >= 0) {
        do {
            n = write(lp->front->stop_fds[1], what, 1);
        } while (n < 0 && errno == EINTR);
    }
}

void
pg_front_stop(struct pg_loop *lp)
{
    tell(lp, "s");
}

/* ---- threads ------------------------------------------------------------- */

/* h2o keeps free lists per thread (socket buffers, memory-pool chunks)
 * that only that thread reaches: a thread that exits orphans them.  So a
 * serving thread, once its loop ended and its h2o state is gone, parks
 * until the process exits (h2o's own server never joins its threads
 * either); pg_front_free waits for it to park instead of joining it. */
static pthread_mutex_t park_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t park_cv = PTHREAD_COND_INITIALIZER;

/* The thread's h2o state, on the thread, once every connection closed
 * (else it is left as is: the process is ending). */
static void
front_dispose(struct pg_front_loop *fl)
{
    h2o_evloop_t *loop = fl->ctx.loop;
    h2o_multithread_queue_t *queue;

    if (fl->nconns != 0) {
        return;
    }
    if (fl->listener != NULL) {
        h2o_socket_close(fl->listener);
        fl->listener = NULL;
    }
    h2o_socket_close(fl->stop_sock);
    fl->stop_sock = NULL;
    fl->stop_fds[0] = -1;               /* closed with its socket */
    h2o_socketpool_dispose(&fl->relay_pool);
    if (h2o_timeout_is_linked(&fl->grace_entry)) {
        h2o_timeout_unlink(&fl->grace_entry);
    }
    if (h2o_timeout_is_linked(&fl->idle_entry)) {
        h2o_timeout_unlink(&fl->idle_entry);
    }
    h2o_timeout_dispose(loop, &fl->grace);
    h2o_timeout_unlink(&fl->watchdog_entry);
    h2o_timeout_dispose(loop, &fl->watchdog);
    h2o_timeout_dispose(loop, &fl->relay_timeout);
    queue = fl->ctx.queue;
    h2o_context_dispose(&fl->ctx);
#if H2O_VERSION_MAJOR == 2 && H2O_VERSION_MINOR == 2
    /* h2o 2.2's evloop h2o_multithread_destroy_queue closes the queue's
     * pipe but never frees the queue itself (its libuv twin does). */
    free(queue);
#endif
    h2o_evloop_run(loop, 0);            /* frees the sockets closed above */
    h2o_evloop_destroy(loop);
    fl->disposed = 1;
}

static void *
front_thread(void *arg)
{
    struct pg_front_loop *fl = arg;
    struct pg_server *s = fl->lp->s;

    while (!fl->done) {
        h2o_evloop_run(fl->ctx.loop, INT32_MAX);
    }
    front_dispose(fl);
    atomic_fetch_sub(&s->threads_running, 1);
    event_active(s->ev_thread_done, EV_TIMEOUT, 0);
    pthread_mutex_lock(&park_mu);
    fl->parked = 1;
    pthread_cond_broadcast(&park_cv);
    for (;;) {
        pthread_cond_wait(&park_cv, &park_mu);
    }
    return NULL;
}

int
pg_front_setup(struct pg_server *s, char *msg, size_t mlen)
{
    const struct pg_config *cfg = s->cfg;
    struct pg_front *f;
    h2o_handler_t *h;

    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    s->front = f;
    h2o_config_init(&f->conf);
    f->conf.server_name = h2o_iovec_init("", 0);      /* no Server: */
    f->conf.http1.req_timeout = (uint64_t)cfg->client_timeout_ms;
    f->conf.http1.upgrade_to_http2 = 0;
    /* provgate takes GET and HEAD: a body is refused, never buffered. */
    f->conf.max_request_entity_size = PG_MAX_REQ_BODY;
    f->host = h2o_config_register_host(&f->conf,
        h2o_iovec_init(H2O_STRLIT("default")), 65535);
    f->path = h2o_config_register_path(f->host, "/", 0);
    h = h2o_create_handler(f->path, sizeof(*h));
    h->on_req = on_req;
    return 0;
}

int
pg_front_start(struct pg_loop *lp, int lfd, char *msg, size_t mlen)
{
    struct pg_server *s = lp->s;
    struct pg_front_loop *fl;
    struct sockaddr_in sin;
    h2o_evloop_t *loop;

    fl = calloc(1, sizeof(*fl));
    if (fl == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    fl->stop_fds[0] = fl->stop_fds[1] = -1;
    pthread_mutex_init(&fl->conns_mu, NULL);
    lp->front = fl;
    fl->lp = lp;
    if (pipe2(fl->stop_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        snprintf(msg, mlen, "serving thread %d: %s", lp->index,
            strerror(errno));
        close(lfd);
        return -1;
    }
    loop = h2o_evloop_create();
    h2o_context_init(&fl->ctx, loop, &s->front->conf);
    fl->actx.ctx = &fl->ctx;
    fl->actx.hosts = s->front->conf.hosts;
    fl->actx.ssl_ctx = s->tls;
    fl->listener = h2o_evloop_socket_create(loop, lfd,
        H2O_SOCKET_FLAG_DONT_READ);
    fl->listener->data = fl;
    h2o_socket_read_start(fl->listener, on_accept);
    fl->stop_sock = h2o_evloop_socket_create(loop, fl->stop_fds[0],
        H2O_SOCKET_FLAG_DONT_READ);
    fl->stop_sock->data = fl;
    h2o_socket_read_start(fl->stop_sock, on_stop);
    h2o_timeout_init(loop, &fl->grace, PG_STOP_GRACE_S * 1000);
    fl->grace_entry.cb = on_grace_over;
    fl->idle_entry.cb = on_idle;
    h2o_timeout_init(loop, &fl->watchdog, PG_FRONT_WATCHDOG_MS);
    fl->watchdog_entry.cb = on_watchdog;
    h2o_timeout_link(loop, &fl->watchdog, &fl->watchdog_entry);
    h2o_timeout_init(loop, &fl->relay_timeout,
        (uint64_t)PG_RELAY_TIMEOUT_S * 1000);
    fl->client_ctx.loop = loop;
    fl->client_ctx.getaddr_receiver = &fl->ctx.receivers.hostinfo_getaddr;
    fl->client_ctx.io_timeout = &fl->relay_timeout;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)s->iport);
    h2o_socketpool_init_by_address(&fl->relay_pool, (struct sockaddr *)&sin,
        sizeof(sin), 0, SIZE_MAX);
    h2o_socketpool_set_timeout(&fl->relay_pool, loop, PG_RELAY_IDLE_MS);
    atomic_fetch_add(&s->threads_running, 1);
    if (pthread_create(&lp->thread, NULL, front_thread, fl) != 0) {
        atomic_fetch_sub(&s->threads_running, 1);
        snprintf(msg, mlen, "serving thread %d: cannot start a thread",
            lp->index);
        return -1;
    }
    lp->started = 1;
    return 0;
}

/* Main loop, at the end: each thread is told to leave its loop (open
 * connections or not) and waited for until it parked. */
void
pg_front_free(struct pg_server *s)
{
    struct pg_front_loop *fl;
    int i;

    if (s->loops == NULL) {
        return;
    }
    /* Every thread parked before any is freed: a thread's close_idle
     * looks at the others' connection lists. */
    for (i = 1; i < s->nloops; i++) {
        fl = s->loops[i].front;
        if (fl == NULL || !s->loops[i].started) {
            continue;
        }
        tell(&s->loops[i], "x");
        pthread_mutex_lock(&park_mu);
        while (!fl->parked) {
            pthread_cond_wait(&park_cv, &park_mu);
        }
        pthread_mutex_unlock(&park_mu);
        s->loops[i].started = 0;
    }
    for (i = 1; i < s->nloops; i++) {
        fl = s->loops[i].front;
        if (fl == NULL) {
            continue;
        }
        if (fl->stop_fds[1] >= 0) {
            close(fl->stop_fds[1]);
        }
        s->loops[i].front = NULL;
        if (!fl->disposed && fl->ctx.loop != NULL) {
            continue;   /* still referenced by what h2o left open */
        }
        if (fl->stop_fds[0] >= 0) {
            close(fl->stop_fds[0]);
        }
        pthread_mutex_destroy(&fl->conns_mu);
        free(fl);
    }
    if (s->front != NULL) {
        h2o_config_dispose(&s->front->conf);
        free(s->front);
        s->front = NULL;
    }
}
