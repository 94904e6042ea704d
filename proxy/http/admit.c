/* proxy/http/admit.c — admission: from a parsed head to a route.
 *
 * Every request, on whichever loop and front end it arrived, passes the
 * same checks in the same order before a route sees it: framing (evhttp;
 * h2o's own parser on the threads, framing.c), allow_clients, the target
 * and its length, the method.  Then the route table (struct pg_route,
 * rows given by each route module, composed by server.c) picks the
 * handler: exact paths first, then prefixes, in table order; no match is
 * a 404.  A relayed request (relay.c) carries the per-process token, the
 * client's address and its token's name, and skips the checks its serving
 * thread made.
 *
 * Owns: nothing.  Borrows: the request.  Runs on: any loop (admission);
 * the main loop (dispatch).  Spec: design §5; issue 10 items 2, 5.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "auth_int.h"
#include "config_int.h"
#include "admit_int.h"
#include "framing_int.h"
#include "metrics_int.h"
#include "server_int.h"

/* ---- clients: allow_clients ------------------------------------------ */

/* Why a 403 and not a close at accept (as max_connections does): evhttp
 * (libevent 2.1) does not tell on_new_bev the peer's address, but each
 * request's connection knows it (evhttp_connection_get_addr), so checking
 * it first thing in on_request is simple, and a misconfigured client (pip,
 * uv) then shows why it was refused: design §5's refusal, a 4xx whose
 * reason phrase is the reason, with a problem+json body — never a bare
 * reset that looks like a network fault and invites retries.  The reply
 * carries "Connection: close", so evhttp closes the connection after it:
 * a refused client holds a connection slot only until its first request
 * is answered (or for client_timeout if it sends nothing).  TLS clients
 * complete the handshake first.  A firewall remains the tool against
 * floods; this is an access rule, not a shield.  Each refusal counts in
 * provgate_http_clients_refused_total; one log line per second at most
 * names a refused client.  Returns 1 when r was refused (and finished). */
static int
client_refused(struct pg_loop *lp, struct pg_req *r, const char *path,
    const struct sockaddr *sa)
{
    struct pg_server *s = lp->s;
    time_t now;

    if (s->cfg->allow_clients.n == 0) {
        return 0;
    }
    if (pg_config_client_allowed(&s->cfg->allow_clients, sa)) {
        return 0;
    }
    pg_metric_inc(s->m_clients_refused, 1, NULL);
    now = time(NULL);
    if (now != lp->clients_refused_logged) {
        lp->clients_refused_logged = now;
        pg_log(s, "client %s refused: not in allow_clients (at most one "
            "such line per second)", r->client);
    }
    r->route = "refused";
    if (path != NULL && strlen(path) <= PG_MAX_PATH) {
        r->path = pg_req_strdup(r, path);       /* for the access line */
    }
    pg_req_set_header(r, "Connection", "close");
    pg_req_refuse(r, PG_REFUSE_CLIENT,
        "client address not allowed");
    return 1;
}

static const char *
method_name(enum evhttp_cmd_type cmd)
{
    switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "-";
}

/* The checks every loop makes before routing: target, length, method.
 * Returns the path, or NULL when r was answered (and finished). */
static const char *
check_target(struct pg_req *r, const char *path, int get_or_head)
{
    size_t plen;

    if (path == NULL || path[0] != '/') {
        r->path = pg_req_strdup(r, "-");
        pg_req_set_header(r, "Connection", "close");
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "malformed request target");
        return NULL;
    }
    plen = strlen(path);
    if (plen > PG_MAX_PATH) {
        r->path = pg_req_strdup(r, "(too long)");
        pg_req_refuse(r, PG_REFUSE_URI_TOO_LONG,
            "request path longer than %d bytes", PG_MAX_PATH);
        return NULL;
    }
    r->path = pg_req_strdup(r, path);
    if (r->path == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return NULL;
    }
    if (!get_or_head && !(strcmp(r->method, "POST") == 0
        && strncmp(path, "/-/", 3) == 0))
    {
        /* POST only for the operator pages' actions (routes/ui_route.c) */
        pg_req_set_header(r, "Allow", "GET, HEAD");
        pg_req_refuse(r, PG_REFUSE_METHOD,
            "method not allowed: provgate serves GET and HEAD only");
        return NULL;
    }
    return path;
}


int
pg_admit(struct pg_loop *lp, struct pg_req *r,
    const struct sockaddr *peer, const char *path, int get_or_head)
{
    if (client_refused(lp, r, path, peer)) {
        return 0;
    }
    if (check_target(r, path, get_or_head) == NULL) {
        return 0;
    }
    if (pg_auth_admit(lp->s->auth, r, r->path)) {
        return 0;
    }
    /* Counted here, added to the metrics at a scrape (handle_metrics):
     * an atomic add instead of a labelled lookup per request. */
    atomic_fetch_add_explicit(&lp->nreq, 1, memory_order_relaxed);
    return 1;
}


/* evhttp keeps a CONNECT's connection open after any answer and sends
 * that answer without a length (libevent 2.1: the tunnel would follow).
 * So nothing more is read from it: what the client sent after the head
 * is dropped and the socket's read side shut, and evhttp, which reads for
 * the next request once the answer (400: CONNECT's target is no path) is
 * written, sees the end and closes the connection, as the threads do. */
static void
connect_no_more(struct evhttp_request *ereq)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ereq);
    struct bufferevent *bev = evcon != NULL
        ? evhttp_connection_get_bufferevent(evcon) : NULL;
    struct evbuffer *in = bev != NULL ? bufferevent_get_input(bev) : NULL;

    if (in != NULL) {
        evbuffer_drain(in, evbuffer_get_length(in));
        shutdown(bufferevent_getfd(bev), SHUT_RD);
    }
}

/* evhttp parsed the head its own way (framing.c): what h2o's parser
 * would have refused, and what framing.c refuses, is answered as on the
 * serving threads, in their order (h2o's parser, size, framing, target).
 * Sets *path to the target's path (NULL: malformed).  1 when r was
 * answered. */
static int
evhttp_framing_refused(struct pg_req *r, struct evhttp_request *ereq,
    const char **path)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ereq);
    const char *target = evhttp_request_get_uri(ereq), *why;
    struct pg_framing f;
    struct evkeyval *kv;
    enum pg_framing_verdict v;
    size_t at;

    if (evhttp_request_get_command(ereq) == EVHTTP_REQ_CONNECT) {
        connect_no_more(ereq);
    }
    memset(&f, 0, sizeof(f));
    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(ereq), next) {
        pg_framing_add(&f, kv->key, strlen(kv->key), kv->value,
            strlen(kv->value));
    }
    f.body = evbuffer_get_length(evhttp_request_get_input_buffer(ereq)) > 0;
    *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    v = pg_framing_judge(&f, &why);
    if (v == PG_FRAMING_UNPARSABLE || v == PG_FRAMING_TE_UNKNOWN
        || v == PG_FRAMING_TE_AND_CL)
    {
        pg_framing_answer(r, v, why);
        return 1;
    }
    if (strlen(r->method) + 1 + (target != NULL ? strlen(target) : 0) + 9
        + f.bytes > PG_MAX_HEADERS_BYTES)
    {
        r->path = pg_req_strdup(r, "(too long)");
        pg_req_set_header(r, "Connection", "close");
        pg_req_refuse(r, PG_REFUSE_HEAD_TOO_LARGE,
            "request line and headers longer than %d bytes",
            PG_MAX_HEADERS_BYTES);
        return 1;
    }
    if (v != PG_FRAMING_OK) {
        pg_framing_answer(r, v, why);
        return 1;
    }
    switch (pg_framing_target(r, target != NULL ? target : "",
        target != NULL ? strlen(target) : 0, &at))
    {
    case PG_TARGET_ORIGIN:
    case PG_TARGET_ORIGIN_ABSOLUTE:     /* evhttp's path is the path */
        return 0;
    case PG_TARGET_OTHER:
        pg_framing_answer(r, PG_FRAMING_REFUSED,
            "request target names another origin: provgate is no proxy");
        return 1;
    case PG_TARGET_MALFORMED:
        *path = NULL;
        return 0;
    }
    return 0;
}

/* A client request on the main loop's own listener (serve_loops = 1: with
 * serving threads, clients reach them instead, front.c). */
void
pg_admit_on_request(struct evhttp_request *ereq, void *arg)
{
    struct pg_loop *lp = arg;
    struct pg_server *s = lp->s;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(ereq);
    const char *path;
    struct pg_req *r;

    r = pg_req_new(lp, ereq);
    if (r == NULL) {
        evhttp_send_error(ereq, 503, "out of memory");
        return;
    }
    r->method = method_name(cmd);
    r->is_head = cmd == EVHTTP_REQ_HEAD;
    if (evhttp_framing_refused(r, ereq, &path)) {
        return;
    }
    if (pg_admit(lp, r, r->evcon != NULL
            ? evhttp_connection_get_addr(r->evcon) : NULL, path,
            cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD))
    {
        pg_route_dispatch(s, r, r->path);
    }
}

/* A request a serving thread relayed (the internal listener, main loop).
 * Its first line and headers are the client's; X-Provgate-Relay carries
 * the per-process token and the client's address. */
void
pg_admit_on_relayed(struct evhttp_request *ereq, void *arg)
{
    struct pg_server *s = arg;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(
        ereq), "X-Provgate-Relay");
    const struct evhttp_uri *uri;
    enum evhttp_cmd_type cmd;
    const char *path, *sp;
    struct pg_req *r;

    if (h == NULL || strlen(h) < 34 || memcmp(h, s->relay_token, 32) != 0
        || h[32] != ' ')
    {
        evhttp_send_error(ereq, 403, "not a relayed request");
        return;
    }
    r = pg_req_new(&s->loops[0], ereq);
    if (r == NULL) {
        evhttp_send_error(ereq, 503, "out of memory");
        return;
    }
    /* "<token> <client> <user>": the thread checked the credentials
     * (auth.c) and names the token; "-" for none. */
    sp = strchr(h + 33, ' ');
    snprintf(r->client, sizeof(r->client), "%.*s", sp != NULL
        ? (int) (sp - (h + 33)) : (int) strlen(h + 33), h + 33);
    if (sp != NULL && strcmp(sp + 1, "-") != 0) {
        snprintf(r->user, sizeof(r->user), "%s", sp + 1);
    }
    cmd = evhttp_request_get_command(ereq);
    uri = evhttp_request_get_evhttp_uri(ereq);
    r->method = method_name(cmd);
    r->is_head = cmd == EVHTTP_REQ_HEAD;
    pg_metric_inc(s->m_relayed, 1, NULL);
    path = check_target(r, uri != NULL ? evhttp_uri_get_path(uri) : NULL,
        cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD);
    if (path != NULL) {
        pg_route_dispatch(s, r, path);
    }
}

void
pg_route_dispatch(struct pg_server *s, struct pg_req *r, const char *path)
{
    const struct pg_route *rt;
    size_t i, n;
    int pass;

    /* Exact rows first, then prefixes: "/simple/" is the list, not the
     * project "". */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < s->nroutes; i++) {
            rt = &s->routes[i];
            n = strlen(rt->path);
            if (pass == 0 && !rt->prefix && strcmp(path, rt->path) == 0) {
                rt->handle(rt->arg, r, path + n);
                return;
            }
            if (pass == 1 && rt->prefix && strncmp(path, rt->path, n) == 0) {
                rt->handle(rt->arg, r, path + n);
                return;
            }
        }
    }
    pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no such route: %s", path);
}
