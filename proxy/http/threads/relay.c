/* proxy/http/threads/relay.c — serving threads hand what they cannot answer
 * to the main loop, and stream its answer back.
 *
 * A serving thread (front.c) answers hot-table hits itself.  Every other
 * request — a miss, a stale page, a refusal, /metrics — must be answered by
 * the main loop, which owns the state.  The thread forwards the request
 * over loopback HTTP/1.1 to a listener only the main loop serves
 * (pg_relay_listen: 127.0.0.1, ephemeral port), the way nginx forwards to
 * an upstream, with h2o's HTTP/1 client on the thread's own loop:
 *
 *   - the request line and the client's headers are sent as they came
 *     (hop-by-hop headers dropped), plus "X-Provgate-Relay: <token>
 *     <client address> <token name>": a random per-process token (so no
 *     other local process can pass for a relay), the address the main
 *     loop logs and audits and the client token's name ("-": none).  allow_clients, the method and the target were checked by
 *     the thread already, exactly as the main loop checks them;
 *   - connections to the main loop are kept alive and reused (a socket
 *     pool per thread), so a miss costs no connect;
 *   - the answer's status, reason phrase (pip prints it) and headers are
 *     copied to the client; a body is streamed as it comes (a download
 *     from upstream reaches the client as it arrives);
 *   - back-pressure: while more than PG_FILE_CLIENT_HIGH bytes wait for the
 *     client, the relay connection is not read; the main loop's output
 *     towards it then fills, and it pauses its upstream transfer as for
 *     any slow client — memory stays bounded;
 *   - a reset from the main loop (a hash mismatch: pg_req_abort) or any
 *     failure mid-body resets the client connection: the client never
 *     holds a complete wrong file;
 *   - a client that goes away cancels the relayed request: the main loop
 *     sees its client (the relay connection) go.
 * One request, one answer, one log line (issue 9 item 4): once the
 * request is handed to the main loop (connected), the main loop writes
 * the access-log line and counts the request (with the client's address)
 * whatever happens — its answer, its reset, the client going away — and
 * the thread stays quiet.  Only a request that never reached the main
 * loop (no connection to it) is the thread's to answer (502, which a
 * client may retry), log and count.  (The socket pool drops pooled
 * connections the main loop closed before it hands one out.)
 *
 * Owns: struct relay (in the h2o request's pool) and its client.
 * Borrows: the client request until it ends.  Runs on: a serving thread
 * (pg_relay_start and its callbacks); the main loop (pg_relay_listen).
 * Spec: issue 2 benchmark; issue 9 item 4; design §5.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include <event2/event.h>
#include <event2/http.h>

#include "config_int.h"
#include "front_int.h"
#include "hex_int.h"

struct relay {
    h2o_generator_t gen;                /* first: h2o hands it back */
    h2o_req_t *req;
    struct pg_req *r;                   /* NULL once it was finished */
    h2o_http1client_t *client;          /* NULL once done with it */
    h2o_iovec_t head;                   /* the request we send */
    h2o_doublebuffer_t sending;
    h2o_buffer_t *last;                 /* body left when the client
                                           ended */
    h2o_socket_cb paused_cb;            /* non-NULL: not reading */
    int failed;                         /* the body ended in an error */
    int handed;                         /* connected: the main loop has
                                           the request (and logs it) */
    int final_sent;
};

static const char *const hop_by_hop[] = {
    "connection", "keep-alive", "proxy-connection", "te", "trailer",
    "transfer-encoding", "upgrade", "content-length", "expect",
    "x-provgate-relay", "date", NULL
};

static int
is_hop(const char *name, size_t len)
{
    int i;

    for (i = 0; hop_by_hop[i] != NULL; i++) {
        if (h2o_lcstris(name, len, hop_by_hop[i], strlen(hop_by_hop[i]))) {
            return 1;
        }
    }
    return 0;
}

/* The client request ends: logged (unless quiet) and freed. */
static void
relay_finish(struct relay *rl)
{
    struct pg_req *r = rl->r;

    if (r != NULL) {
        rl->r = NULL;
        r->front = NULL;
        pg_req_finish(r);
    }
}

static void
relay_cancel(struct relay *rl)
{
    if (rl->client != NULL) {
        h2o_http1client_cancel(rl->client);
        rl->client = NULL;
    }
}

/* The client went away before the end: the relayed request is cancelled
 * (the main loop sees its client go) and the client request ends. */
static void
client_left(struct relay *rl)
{
    relay_cancel(rl);
    if (rl->r != NULL) {
        rl->r->client_gone = 1;
        if (rl->r->note[0] == '\0') {
            snprintf(rl->r->note, sizeof(rl->r->note),
                "client closed the connection");
        }
        relay_finish(rl);
    }
}

static void
on_dispose(void *p)
{
    struct relay *rl = p;

    client_left(rl);
    h2o_doublebuffer_dispose(&rl->sending);
    h2o_buffer_dispose(&rl->last);
}

/* Before the main loop's answer arrived.  Not handed over (no connection
 * to the main loop): nothing was said yet, the client gets a 502 with the
 * reason, logged here.  Handed over: the main loop reset the relay (a
 * hash mismatch found before its answer's head left: a reset drops what
 * the socket held) and has logged what it answered; the client's
 * connection is reset the same way, so it never holds a complete wrong
 * file, and nothing more is logged. */
static void
relay_fail(struct relay *rl, const char *why)
{
    struct pg_req *r = rl->r;

    relay_cancel(rl);
    if (r == NULL) {
        return;
    }
    rl->r = NULL;
    if (!rl->handed) {
        r->quiet = 0;
        pg_req_refuse(r, PG_REFUSE_BAD_GATEWAY, "relay to the main loop: %s",
            why);
        return;
    }
    pg_req_abort(r, NULL);
}


static void
resume(struct relay *rl)
{
    h2o_socket_cb cb = rl->paused_cb;

    if (cb != NULL && rl->client != NULL
        && rl->client->sock->input->size < PG_FILE_CLIENT_HIGH)
    {
        rl->paused_cb = NULL;
        h2o_socket_read_start(rl->client->sock, cb);
    }
}

static void
do_send(struct relay *rl)
{
    h2o_iovec_t vec;
    h2o_send_state_t state;

    if (rl->final_sent || rl->sending.bytes_inflight != 0) {
        return;
    }
    vec = h2o_doublebuffer_prepare(&rl->sending, rl->client != NULL
        ? &rl->client->sock->input : &rl->last,
        rl->req->preferred_chunk_size);
    if (rl->client == NULL && vec.len == rl->sending.buf->size
        && rl->last->size == 0)
    {
        state = rl->failed ? H2O_SEND_STATE_ERROR : H2O_SEND_STATE_FINAL;
        rl->final_sent = 1;
        if (rl->failed) {
            pg_front_reset_on_close(rl->req);
        }
    } else {
        if (vec.len == 0) {
            return;
        }
        state = H2O_SEND_STATE_IN_PROGRESS;
    }
    if (rl->r != NULL) {
        rl->r->bytes += vec.len;
    }
    if (rl->final_sent) {
        relay_finish(rl);
    }
    h2o_send(rl->req, &vec, vec.len != 0 ? 1 : 0, state);
    if (state == H2O_SEND_STATE_IN_PROGRESS) {
        /* After the last send h2o may have freed the request's pool, rl
         * with it (an ERROR closes the connection at once); there is
         * nothing left to read then anyway. */
        resume(rl);
    }
}

static void
on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    struct relay *rl = (struct relay *)gen;

    (void) req;
    h2o_doublebuffer_consume(&rl->sending);
    resume(rl);
    do_send(rl);
}

static void
on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void) req;
    client_left((struct relay *)gen);
}

static int
on_body(h2o_http1client_t *client, const char *errstr)
{
    struct relay *rl = client->data;
    h2o_socket_t *sock = client->sock;

    if (errstr != NULL) {
        /* The client (and its socket) ends after this call. */
        h2o_buffer_dispose(&rl->last);
        rl->last = sock->input;
        h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
        rl->client = NULL;
        rl->paused_cb = NULL;
        if (errstr != h2o_http1client_error_is_eos) {
            rl->failed = 1;     /* a reset (hash mismatch) or a failure */
        }
    } else if (rl->paused_cb == NULL
        && sock->input->size >= PG_FILE_CLIENT_HIGH)
    {
        rl->paused_cb = sock->_cb.read;
        h2o_socket_read_stop(sock);
    }
    do_send(rl);
    return 0;
}

static h2o_http1client_body_cb
on_head(h2o_http1client_t *client, const char *errstr, int minor_version,
    int status, h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers,
    int rlen)
{
    struct relay *rl = client->data;
    h2o_req_t *req = rl->req;
    size_t i;

    (void) minor_version;
    (void) rlen;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        rl->client = NULL;
        relay_fail(rl, errstr);
        return NULL;
    }
    if (rl->r == NULL) {
        return NULL;
    }
    rl->r->status = status;
    req->res.status = status;
    req->res.reason = h2o_strdup(&req->pool, msg.base, msg.len).base;
    for (i = 0; i != num_headers; i++) {
        const h2o_iovec_t *nm = headers[i].name;

        if (h2o_lcstris(nm->base, nm->len, H2O_STRLIT("content-length"))) {
            req->res.content_length = h2o_strtosize(headers[i].value.base,
                headers[i].value.len);
            continue;
        }
        if (is_hop(nm->base, nm->len)) {
            continue;
        }
        h2o_add_header_by_str(&req->pool, &req->res.headers,
            h2o_strdup(&req->pool, nm->base, nm->len).base, nm->len, 1,
            headers[i].orig_name != NULL ? h2o_strdup(&req->pool,
                headers[i].orig_name, nm->len).base : NULL,
            h2o_strdup(&req->pool, headers[i].value.base,
                headers[i].value.len).base, headers[i].value.len);
    }
    rl->r->front = NULL;        /* the reply is under way */
    h2o_start_response(req, &rl->gen);
    if (errstr == h2o_http1client_error_is_eos) {
        rl->client = NULL;
        do_send(rl);
        return NULL;
    }
    return on_body;
}

static h2o_http1client_head_cb
on_connect(h2o_http1client_t *client, const char *errstr,
    h2o_iovec_t **reqbufs, size_t *reqbufcnt, int *method_is_head)
{
    struct relay *rl = client->data;

    if (errstr != NULL) {
        rl->client = NULL;
        relay_fail(rl, errstr);
        return NULL;
    }
    rl->handed = 1;
    if (rl->r != NULL) {
        rl->r->quiet = 1;       /* the main loop logs and counts it */
    }
    *reqbufs = &rl->head;
    *reqbufcnt = 1;
    *method_is_head = rl->r != NULL && rl->r->is_head;
    return on_head;
}

/* The request line and headers for the main loop. */
static h2o_iovec_t
build_head(struct pg_server *s, struct pg_req *r, h2o_req_t *req)
{
    size_t cap = req->input.method.len + req->input.path.len
        + req->input.authority.len + 128 + sizeof(r->client)
        + sizeof(r->user), i, n = 0;
    char *p;

    for (i = 0; i != req->headers.size; i++) {
        cap += req->headers.entries[i].name->len
            + req->headers.entries[i].value.len + 4;
    }
    p = h2o_mem_alloc_pool(&req->pool, cap);
    n += (size_t)snprintf(p + n, cap - n, "%.*s %.*s HTTP/1.1\r\n"
        "Host: %.*s\r\n", (int)req->input.method.len,
        req->input.method.base, (int)req->input.path.len,
        req->input.path.base, (int)req->input.authority.len,
        req->input.authority.base);
    for (i = 0; i != req->headers.size; i++) {
        const h2o_header_t *h = req->headers.entries + i;

        if (is_hop(h->name->base, h->name->len)) {
            continue;
        }
        memcpy(p + n, h->orig_name != NULL ? h->orig_name : h->name->base,
            h->name->len);
        n += h->name->len;
        memcpy(p + n, ": ", 2);
        n += 2;
        memcpy(p + n, h->value.base, h->value.len);
        n += h->value.len;
        memcpy(p + n, "\r\n", 2);
        n += 2;
    }
    n += (size_t)snprintf(p + n, cap - n,
        "X-Provgate-Relay: %s %s %s\r\n\r\n", s->relay_token, r->client,
        r->user[0] != '\0' ? r->user : "-");
    return h2o_iovec_init(p, n);
}

void
pg_relay_start(struct pg_loop *lp, struct pg_req *r)
{
    struct pg_front_loop *fl = lp->front;
    h2o_req_t *req = pg_front_req(r);
    struct relay *rl;

    r->route = "relay";
    /* The main loop counts it in flight while it serves it. */
    r->relayed = 1;
    atomic_fetch_add(&lp->relaying, 1);
    rl = h2o_mem_alloc_shared(&req->pool, sizeof(*rl), on_dispose);
    memset(rl, 0, sizeof(*rl));
    rl->gen.proceed = on_proceed;
    rl->gen.stop = on_stop;
    rl->req = req;
    rl->r = r;
    h2o_doublebuffer_init(&rl->sending, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&rl->last, &h2o_socket_buffer_prototype);
    rl->head = build_head(lp->s, r, req);
    h2o_http1client_connect_with_pool(&rl->client, rl, &fl->client_ctx,
        &fl->relay_pool, on_connect);
}

/* ---- main loop: the relay listener --------------------------------------- */

int
pg_relay_listen(struct pg_server *s, pg_relay_handler_fn handler,
    char *msg, size_t mlen)
{
    unsigned char rnd[16];
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof(ss);

    if (s->nloops < 2) {
        return 0;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        snprintf(msg, mlen, "relay: no random bytes for its token");
        return -1;
    }
    pg_hex_encode(rnd, 16, s->relay_token);
    s->ihttp = evhttp_new(s->base);
    if (s->ihttp == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    pg_loops_http_setup(s->ihttp, s->cfg);
    /* The client's headers were held to PG_MAX_HEADERS_BYTES by the
     * serving loop; the relay adds its own two. */
    evhttp_set_max_headers_size(s->ihttp, PG_MAX_HEADERS_BYTES + 1024);
    evhttp_set_timeout(s->ihttp, PG_RELAY_TIMEOUT_S);
    evhttp_set_gencb(s->ihttp, handler, s);
    s->ibound = evhttp_bind_socket_with_handle(s->ihttp, "127.0.0.1", 0);
    if (s->ibound == NULL
        || getsockname(evhttp_bound_socket_get_fd(s->ibound),
            (struct sockaddr *)&ss, &sl) != 0)
    {
        snprintf(msg, mlen, "relay listener on 127.0.0.1: cannot bind");
        return -1;
    }
    s->iport = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}
