/* proxy/relay.c — serving loops hand what they cannot answer to the main
 * loop, and stream its answer back.
 *
 * A serving loop (loops.c) answers hot-table hits itself.  Every other
 * request — a miss, a stale page, a refusal, /metrics — must be answered by
 * the main loop, which owns the state.  libevent cannot move an evhttp
 * request or connection between loops, so the serving loop forwards the
 * request over loopback HTTP to a listener only the main loop serves
 * (pg_relay_listen: 127.0.0.1, ephemeral port), the way nginx forwards to
 * an upstream:
 *
 *   - the request line and the client's headers are sent as they came
 *     (hop-by-hop headers dropped), plus "X-Provgate-Relay: <token>
 *     <client address>": a random per-process token (so no other local
 *     process can pass for a relay) and the address the main loop logs and
 *     audits.  allow_clients, the method and the target were checked by
 *     the serving loop already, exactly as the main loop checks them.
 *   - the answer's status, reason phrase (pip prints it) and headers are
 *     copied to the client; a body is streamed chunk by chunk as it comes
 *     (a download from upstream reaches the client as it arrives);
 *   - back-pressure: while the client's output holds more than
 *     PG_FILE_CLIENT_HIGH bytes, the relay connection is not read; the
 *     main loop's output towards it then fills, and it pauses its upstream
 *     transfer as for any slow client — memory stays bounded;
 *   - a reset from the main loop (a hash mismatch: pg_req_abort) resets
 *     the client connection: the client never holds a complete wrong file;
 *   - a client that goes away cancels the relayed request: the main loop
 *     sees its client (the relay connection) go.
 * The main loop writes the access-log line and counts the request (with
 * the client's address); the serving loop stays quiet about it unless the
 * relay itself fails before the main loop answered.
 *
 * Owns: struct pg_relay and its outgoing evhttp connection (freed on
 * completion by libevent).  Borrows: the client request until it ends.
 * Runs on: a serving loop (pg_relay_start and its callbacks); the main
 * loop (pg_relay_listen).  Spec: issue 2 benchmark; design §5.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <openssl/rand.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "config_int.h"
#include "server_int.h"

#define PG_RELAY_TIMEOUT_S 3600     /* the main loop bounds its requests
                                       (upstream timeouts, provenance
                                       budget); this only catches a hang */

struct pg_relay {
    struct pg_req *r;               /* NULL once the client request ended */
    struct evhttp_connection *evcon;
    struct evhttp_request *ireq;    /* NULL once libevent let it go */
    int started, paused;
    enum evhttp_request_error error;
    int failed;
};

static const char *const hop_by_hop[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Content-Length", "Expect",
    "X-Provgate-Relay", NULL
};

static int
is_hop(const char *name, int response)
{
    int i;

    for (i = 0; hop_by_hop[i] != NULL; i++) {
        /* A response's Content-Length is the body's: keep it. */
        if (response && strcasecmp(hop_by_hop[i], "Content-Length") == 0) {
            continue;
        }
        if (strcasecmp(name, hop_by_hop[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

static void
copy_headers(struct evkeyvalq *to, const struct evkeyvalq *from,
    int response)
{
    const struct evkeyval *kv;

    TAILQ_FOREACH(kv, from, next) {
        if (!is_hop(kv->key, response)) {
            evhttp_add_header(to, kv->key, kv->value);
        }
    }
}

/* The client request ends (any path): the relay forgets it. */
static void
relay_detach(struct pg_relay *rl)
{
    if (rl->r != NULL) {
        rl->r->on_gone = NULL;
        rl->r->route_state = NULL;
        rl->r = NULL;
    }
}

static void
relay_free_if_done(struct pg_relay *rl)
{
    if (rl->r == NULL && rl->ireq == NULL) {
        free(rl);
    }
}

/* The client went away: cancel the relayed request (libevent then frees
 * its connection; the main loop sees its client go). */
static void
on_client_gone(struct pg_req *r)
{
    struct pg_relay *rl = r->route_state;
    struct evhttp_request *ireq;

    if (rl == NULL) {
        return;
    }
    relay_detach(rl);
    ireq = rl->ireq;
    if (ireq != NULL) {
        rl->ireq = NULL;
        rl->failed = 1;
        evhttp_cancel_request(ireq);
    }
    pg_req_finish(r);
    relay_free_if_done(rl);
}

static void
on_client_drained(struct evhttp_connection *evcon, void *arg)
{
    struct pg_relay *rl = arg;
    struct bufferevent *bev;

    (void) evcon;
    if (rl->paused && rl->ireq != NULL && rl->evcon != NULL) {
        bev = evhttp_connection_get_bufferevent(rl->evcon);
        rl->paused = 0;
        if (bev != NULL) {
            bufferevent_enable(bev, EV_READ);
        }
    }
}

static int
on_headers(struct evhttp_request *ireq, void *arg)
{
    struct pg_relay *rl = arg;
    struct pg_req *r = rl->r;
    int code = evhttp_request_get_response_code(ireq);

    if (r == NULL || r->ereq == NULL || r->client_gone) {
        return -1;
    }
    copy_headers(evhttp_request_get_output_headers(r->ereq),
        evhttp_request_get_input_headers(ireq), 1);
    r->quiet = 1;       /* the main loop logs and counts it */
    r->status = code;
    if (r->is_head || code == 304 || code == 204 || code < 200) {
        return 0;       /* no body: answered when it completes */
    }
    evhttp_send_reply_start(r->ereq, code,
        evhttp_request_get_response_code_line(ireq));
    r->started = 1;
    rl->started = 1;
    return 0;
}

static void
on_chunk(struct evhttp_request *ireq, void *arg)
{
    struct pg_relay *rl = arg;
    struct pg_req *r = rl->r;
    struct evbuffer *in = evhttp_request_get_input_buffer(ireq);
    struct bufferevent *bev;

    if (r == NULL || r->ereq == NULL || r->client_gone) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    if (!rl->started) {
        evhttp_send_reply_start(r->ereq, evhttp_request_get_response_code(
            ireq), evhttp_request_get_response_code_line(ireq));
        r->started = 1;
        rl->started = 1;
    }
    r->bytes += evbuffer_get_length(in);
    evhttp_send_reply_chunk_with_cb(r->ereq, in, on_client_drained, rl);
    if (!rl->paused && pg_req_output_pending(r) > PG_FILE_CLIENT_HIGH) {
        /* libevent 2.1 does not re-enable reading while a body is read
         * (evhttp_read_body), so this holds until the client drained. */
        bev = evhttp_connection_get_bufferevent(rl->evcon);
        if (bev != NULL) {
            bufferevent_disable(bev, EV_READ);
            rl->paused = 1;
        }
    }
}

static void
on_error(enum evhttp_request_error error, void *arg)
{
    struct pg_relay *rl = arg;

    rl->failed = 1;
    rl->error = error;
}

static const char *
error_text(enum evhttp_request_error e)
{
    switch (e) {
    case EVREQ_HTTP_TIMEOUT: return "timed out";
    case EVREQ_HTTP_EOF: return "connection closed";
    case EVREQ_HTTP_INVALID_HEADER: return "invalid header";
    case EVREQ_HTTP_BUFFER_ERROR: return "buffer error";
    case EVREQ_HTTP_REQUEST_CANCEL: return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG: return "body too long";
    }
    return "failed";
}

/* The relayed request completed (ireq != NULL) or failed (NULL): libevent
 * frees ireq and, on completion or failure, the connection
 * (evhttp_connection_free_on_completion). */
static void
on_done(struct evhttp_request *ireq, void *arg)
{
    struct pg_relay *rl = arg;
    struct pg_req *r = rl->r;
    char why[PG_MAX_REASON];

    rl->ireq = NULL;
    rl->evcon = NULL;
    if (r == NULL) {
        relay_free_if_done(rl);
        return;
    }
    relay_detach(rl);
    if (ireq == NULL || rl->failed
        || evhttp_request_get_response_code(ireq) == 0)
    {
        /* The main loop reset the relay (a hash mismatch), or it could
         * not be reached: the client's connection is reset the same way,
         * so it never holds a complete wrong file. */
        snprintf(why, sizeof(why), "relay to the main loop: %s",
            error_text(rl->error));
        if (!r->quiet) {
            r->status = 502;
        }
        pg_req_abort(r, why);
    } else if (rl->started) {
        pg_req_end_stream(r);
    } else {
        pg_req_send(r, evhttp_request_get_response_code(ireq),
            evhttp_request_get_response_code_line(ireq), NULL);
    }
    relay_free_if_done(rl);
}

void
pg_relay_start(struct pg_loop *lp, struct pg_req *r)
{
    struct pg_server *s = lp->s;
    struct pg_relay *rl = calloc(1, sizeof(*rl));
    struct evkeyvalq *out;
    char tag[33 + sizeof(r->client) + 1];
    const char *uri = evhttp_request_get_uri(r->ereq);

    r->route = "relay";
    /* The main loop counts it in flight while it serves it. */
    r->relayed = 1;
    atomic_fetch_add(&lp->relaying, 1);
    if (rl == NULL) {
        pg_req_problem(r, 503, "Out of memory", "out of memory");
        return;
    }
    rl->r = r;
    rl->evcon = evhttp_connection_base_new(lp->base, NULL, "127.0.0.1",
        (ev_uint16_t)s->iport);
    rl->ireq = evhttp_request_new(on_done, rl);
    if (rl->evcon == NULL || rl->ireq == NULL) {
        if (rl->ireq != NULL) {
            evhttp_request_free(rl->ireq);
        }
        if (rl->evcon != NULL) {
            evhttp_connection_free(rl->evcon);
        }
        free(rl);
        pg_req_problem(r, 503, "Out of memory", "out of memory");
        return;
    }
    evhttp_connection_set_timeout(rl->evcon, PG_RELAY_TIMEOUT_S);
    evhttp_connection_free_on_completion(rl->evcon);
    evhttp_request_set_header_cb(rl->ireq, on_headers);
    evhttp_request_set_chunked_cb(rl->ireq, on_chunk);
    evhttp_request_set_error_cb(rl->ireq, on_error);
    out = evhttp_request_get_output_headers(rl->ireq);
    copy_headers(out, evhttp_request_get_input_headers(r->ereq), 0);
    snprintf(tag, sizeof(tag), "%s %s", s->relay_token, r->client);
    evhttp_add_header(out, "X-Provgate-Relay", tag);
    /* One request per relay connection: libevent frees it on completion
     * only when it closes (evhttp_connection_free_on_completion). */
    evhttp_add_header(out, "Connection", "close");
    r->route_state = rl;
    r->on_gone = on_client_gone;
    if (evhttp_make_request(rl->evcon, rl->ireq, r->is_head
            ? EVHTTP_REQ_HEAD : EVHTTP_REQ_GET, uri != NULL ? uri : "/")
        != 0)
    {
        /* libevent freed the request; the connection is ours. */
        rl->ireq = NULL;
        evhttp_connection_free(rl->evcon);
        rl->evcon = NULL;
        relay_detach(rl);
        free(rl);
        pg_req_problem(r, 503, "Unavailable", "cannot relay the request");
    }
}

/* ---- main loop: the relay listener --------------------------------------- */

int
pg_relay_listen(struct pg_server *s, char *msg, size_t mlen)
{
    unsigned char rnd[16];
    struct sockaddr_storage ss;
    ev_socklen_t sl = sizeof(ss);
    int i;

    if (s->nloops < 2) {
        return 0;
    }
    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        snprintf(msg, mlen, "relay: no random bytes for its token");
        return -1;
    }
    for (i = 0; i < 16; i++) {
        snprintf(s->relay_token + 2 * i, 3, "%02x", rnd[i]);
    }
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
    evhttp_set_gencb(s->ihttp, pg_server_on_relayed, s);
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
