/* proxy/http/req.c — a request's lifetime: arena, cleanups, replies, finish.
 *
 * Every evhttp request gets a struct pg_req (server.c calls pg_req_new)
 * with an arena that grows by PG_ARENA_CHUNK up to PG_ARENA_MAX; all its
 * per-request memory comes from there.  Non-memory resources (an fd, a
 * waiter registration) register a cleanup.  Exactly one function ends a
 * request, pg_req_finish(): it runs the cleanups (last registered first),
 * writes the access-log line, counts the request in the metrics and frees
 * the arena (nginx's pool + finalize).  Every reply helper here ends in it.
 *
 * Client disconnects: evhttp disables reading while a handler runs, so a
 * closed client is noticed when a write fails or times out.  Then evhttp
 * frees the connection and calls our close callback (on_close): the request
 * is marked client_gone; if evhttp detached the request from the connection
 * (a reply was started, not ended) it is ours to free, else evhttp frees it
 * right after the callback and we never touch it again.
 *
 * Owns: the pg_req, its arena.  Borrows: the server, the evhttp request
 * (until finish).  Runs on: loop.  Spec: style.md "Lifetimes".
 */
#include <errno.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "metrics_int.h"
#include "upstream_int.h"
#include "server_int.h"

#define PG_MAX_SINGLE_WRITE (2 * 1024 * 1024) /* bytes per socket write
                                        (nginx: sendfile_max_chunk 2m) */

struct pg_arena_chunk {
    struct pg_arena_chunk *next;
    size_t size, used;
    unsigned char data[];
};

/* The first arena chunk lives in the request's own allocation: most
 * requests (a path, a file lookup) never need another malloc. */
#define PG_REQ_INLINE 1024

static void on_close(struct evhttp_connection *evcon, void *arg);
static const struct pg_req_ops ev_ops;

void *
pg_req_alloc(struct pg_req *r, size_t n)
{
    struct pg_arena_chunk *c = r->arena;
    size_t need = (n + 15) & ~(size_t)15, size;
    void *p;

    if (n == 0 || need < n) {
        return NULL;
    }
    if (c == NULL || c->size - c->used < need) {
        size = need > PG_ARENA_CHUNK ? need : PG_ARENA_CHUNK;
        if (r->arena_total + size > PG_ARENA_MAX) {
            return NULL;
        }
        c = malloc(sizeof(*c) + size);
        if (c == NULL) {
            return NULL;
        }
        c->size = size;
        c->used = 0;
        c->next = r->arena;
        r->arena = c;
        r->arena_total += size;
    }
    p = c->data + c->used;
    c->used += need;
    memset(p, 0, n);
    return p;
}

char *
pg_req_strndup(struct pg_req *r, const char *s, size_t n)
{
    char *p = pg_req_alloc(r, n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *
pg_req_strdup(struct pg_req *r, const char *s)
{
    return pg_req_strndup(r, s, strlen(s));
}

int
pg_req_cleanup_add(struct pg_req *r, void (*fn)(void *), void *arg)
{
    if (r->ncleanups >= PG_MAX_CLEANUPS) {
        return -1;
    }
    r->cleanups[r->ncleanups].fn = fn;
    r->cleanups[r->ncleanups].arg = arg;
    r->ncleanups++;
    return 0;
}

static struct pg_req *
req_alloc(struct pg_loop *lp)
{
    struct pg_req *r = malloc(sizeof(*r) + sizeof(struct pg_arena_chunk)
        + PG_REQ_INLINE);

    if (r == NULL) {
        return NULL;
    }
    memset(r, 0, sizeof(*r));
    r->arena = (struct pg_arena_chunk *)(void *)(r + 1);
    r->arena->next = NULL;
    r->arena->size = PG_REQ_INLINE;
    r->arena->used = 0;
    r->arena_total = PG_REQ_INLINE;
    r->s = lp->s;
    r->loop = lp;
    clock_gettime(CLOCK_MONOTONIC, &r->t0);
    r->route = "other";
    r->cache = "-";
    r->method = "-";
    r->body_fd = -1;
    atomic_fetch_add(&lp->inflight, 1);
    return r;
}

struct pg_req *
pg_req_new_ops(struct pg_loop *lp, const struct pg_req_ops *ops,
    void *conn)
{
    struct pg_req *r = req_alloc(lp);

    if (r != NULL) {
        r->ops = ops;
        r->front = conn;
        memcpy(r->client, "-", 2);
    }
    return r;
}

struct pg_req *
pg_req_new(struct pg_loop *lp, struct evhttp_request *ereq)
{
    struct pg_req *r = req_alloc(lp);
    const char *host = NULL;
    ev_uint16_t port = 0;

    if (r == NULL) {
        return NULL;
    }
    r->ops = &ev_ops;
    r->ereq = ereq;
    r->evcon = evhttp_request_get_connection(ereq);
    if (r->evcon != NULL) {
        evhttp_connection_get_peer(r->evcon, (char **)&host, &port);
        evhttp_connection_set_closecb(r->evcon, on_close, r);
    }
    snprintf(r->client, sizeof(r->client), "%s",
        host != NULL ? host : "-");
    return r;
}

int
pg_req_live(const struct pg_req *r)
{
    return !r->client_gone && r->ops->live(r);
}

int
pg_req_sendfile_ok(const struct pg_req *r)
{
    return r->s->tls == NULL && r->ops->sendfile;
}

const char *
pg_req_query(struct pg_req *r)
{
    return r->ops->query(r);
}

static void
on_close(struct evhttp_connection *evcon, void *arg)
{
    struct pg_req *r = arg;

    (void) evcon;
    r->client_gone = 1;
    r->evcon = NULL;
    if (r->ereq != NULL && evhttp_request_get_connection(r->ereq) == NULL) {
        r->ereq_detached = 1;       /* ours to free */
    } else {
        r->ereq = NULL;             /* evhttp frees it after this call */
    }
    if (r->note[0] == '\0') {
        snprintf(r->note, sizeof(r->note), "client closed the connection");
    }
    if (r->on_gone != NULL) {
        r->on_gone(r);
    }
}

void
pg_req_finish(struct pg_req *r)
{
    struct pg_server *s = r->s;
    struct pg_loop *lp = r->loop;
    struct pg_arena_chunk *c;
    struct timespec t1;
    double ms;
    char status[16];
    const char *lv[2];
    int i;

    for (i = r->ncleanups - 1; i >= 0; i--) {
        r->cleanups[i].fn(r->cleanups[i].arg);
    }
    r->ncleanups = 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (double)(t1.tv_sec - r->t0.tv_sec) * 1000.0
        + (double)(t1.tv_nsec - r->t0.tv_nsec) / 1e6;
    if (!r->quiet) {
        pg_log_access(s, r, ms);
        snprintf(status, sizeof(status), "%d", r->status);
        lv[0] = r->route;
        lv[1] = status;
        pg_metric_inc(s->m_requests, 1, lv);
        pg_metric_observe(s->m_duration, ms / 1000.0, lv);
        if (r->bytes > 0) {
            pg_metric_inc(s->m_bytes, (double)r->bytes, lv);
        }
    }
    if (r->relayed) {
        atomic_fetch_sub(&lp->relaying, 1);
    }
    atomic_fetch_sub(&lp->inflight, 1);

    if (r->ops->done != NULL) {
        r->ops->done(r);
    }
    while (r->arena != NULL) {
        c = r->arena;
        r->arena = c->next;
        if (c != (struct pg_arena_chunk *)(void *)(r + 1)) {
            free(c);
        }
    }
    free(r);
    if (lp->idle_check != NULL) {
        lp->idle_check(lp);
    }
}

/* A reason phrase: printable ASCII only, at most PG_MAX_REASON - 1. */
static void
sanitize_reason(const char *in, char *out, size_t outlen)
{
    size_t i, j = 0;

    for (i = 0; in[i] != '\0' && j + 1 < outlen; i++) {
        unsigned char ch = (unsigned char)in[i];

        out[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : ' ';
    }
    out[j] = '\0';
    if (j == 0 && outlen > 2) {
        memcpy(out, "-", 2);
    }
}

/* The Date header from a string made once a second per thread (evhttp
 * would format it with strftime for every reply; it adds one only when
 * none is set). */
static void
add_date(struct pg_req *r)
{
    static __thread time_t sec = (time_t)-1;
    static __thread char date[40];
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ereq);
    time_t now = time(NULL);

    if (now != sec) {
        if (pg_http_date(now, date, sizeof(date)) != 0) {
            return;
        }
        sec = now;
    }
    if (evhttp_find_header(h, "Date") == NULL) {
        evhttp_add_header(h, "Date", date);
    }
}

/* Hands the evhttp request back to evhttp for its last call (a reply or
 * the end of a stream): from here evhttp frees it, possibly at once (a
 * closing connection), so the close callback is removed first and the
 * request forgets both pointers. */
static struct evhttp_request *
release(struct pg_req *r)
{
    struct evhttp_request *ereq = r->ereq;
    struct bufferevent *bev;

    if (r->evcon != NULL) {
        evhttp_connection_set_closecb(r->evcon, NULL, NULL);
        /* libevent writes at most 16 KiB per socket-ready event by
         * default: a 1 MiB sendfile or page took 64 loop turns. */
        bev = evhttp_connection_get_bufferevent(r->evcon);
        if (bev != NULL) {
            bufferevent_set_max_single_write(bev, PG_MAX_SINGLE_WRITE);
        }
    }
    r->on_gone = NULL;
    r->ereq = NULL;
    r->evcon = NULL;
    return ereq;
}

void
pg_req_send(struct pg_req *r, int code, const char *reason,
    struct evbuffer *body)
{
    char phrase[PG_MAX_REASON];
    size_t len = body != NULL ? evbuffer_get_length(body) : 0;

    r->status = code;
    if (!pg_req_live(r)) {
        if (body != NULL) {
            evbuffer_free(body);
        }
        pg_req_finish(r);
        return;
    }
    sanitize_reason(reason != NULL ? reason : "OK", phrase, sizeof(phrase));
    if (r->is_head || code == 304 || code == 204) {
        if (body != NULL) {
            evbuffer_drain(body, len);
        }
        len = 0;
    }
    r->bytes += len;
    r->ops->reply(r, code, phrase, body);
}

void
pg_req_start_stream(struct pg_req *r, int code, const char *phrase)
{
    r->status = code;
    r->started = 1;
    if (!r->client_gone && r->ops->start_stream != NULL) {
        r->ops->start_stream(r, code, phrase);
    }
}

void
pg_req_stream(struct pg_req *r, struct evbuffer *chunk,
    void (*drained)(void *arg), void *arg)
{
    if (r->client_gone || r->ops->stream == NULL) {
        return;
    }
    r->bytes += evbuffer_get_length(chunk);
    r->ops->stream(r, chunk, drained, arg);
}

void
pg_req_end_stream(struct pg_req *r)
{
    if (!r->client_gone && r->ops->end_stream != NULL) {
        r->ops->end_stream(r);
    }
    pg_req_finish(r);
}

/* The refusals provgate answers with: a reason class → (status, title).
 * Every refusal site names its class; the HTTP edge is this table. */
static const struct {
    int status;
    const char *title;
} refusals[] = {
    [PG_REFUSE_MOVED] = { 301, "Moved permanently" },
    [PG_REFUSE_BAD_REQUEST] = { 400, "Bad request" },
    [PG_REFUSE_UNAUTHORIZED] = { 401, "Unauthorized" },
    [PG_REFUSE_FORBIDDEN] = { 403, "Forbidden" },
    [PG_REFUSE_CLIENT] = { 403, "Client address not allowed" },
    [PG_REFUSE_NOT_FOUND] = { 404, "Not found" },
    [PG_REFUSE_METHOD] = { 405, "Method not allowed" },
    [PG_REFUSE_NOT_ACCEPTABLE] = { 406, "Not acceptable" },
    [PG_REFUSE_URI_TOO_LONG] = { 414, "URI too long" },
    [PG_REFUSE_RANGE] = { 416, "Range not satisfiable" },
    [PG_REFUSE_TOO_MANY] = { 429, "Too many requests" },
    [PG_REFUSE_HEAD_TOO_LARGE] = { 431, "Request header fields too large" },
    [PG_REFUSE_BAD_GATEWAY] = { 502, "Bad gateway" },
    [PG_REFUSE_NOMEM] = { 503, "Out of memory" },
    [PG_REFUSE_UNAVAILABLE] = { 503, "Unavailable" },
    [PG_REFUSE_RETRY] = { 503, "Service unavailable" },
    [PG_REFUSE_STOPPING] = { 503, "Stopping" },
};

int
pg_refusal_status(enum pg_refusal why)
{
    return refusals[why].status;
}

const char *
pg_refusal_title(enum pg_refusal why)
{
    return refusals[why].title;
}

enum pg_refusal
pg_refusal_of_upstream(enum pg_upstream_code code)
{
    /* A host the configuration does not allow is a refusal (clients would
     * retry a 5xx); every other failure of the upstream a 502. */
    return code == PG_UP_EHOST ? PG_REFUSE_FORBIDDEN : PG_REFUSE_BAD_GATEWAY;
}

static void
req_vproblem(struct pg_req *r, int code, const char *title,
    const char *fmt, va_list ap)
{
    char detail[PG_MAX_REASON], phrase[PG_MAX_REASON];
    struct evbuffer *body;
    json_t *o;
    char *js;

    vsnprintf(detail, sizeof(detail), fmt, ap);
    sanitize_reason(detail, phrase, sizeof(phrase));
    snprintf(r->note, sizeof(r->note), "%s", phrase);
    body = evbuffer_new();
    o = json_pack("{s:s, s:s, s:i, s:s}", "type", "about:blank",
        "title", title, "status", code, "detail", phrase);
    js = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (body != NULL && js != NULL) {
        evbuffer_add(body, js, strlen(js));
        evbuffer_add(body, "\n", 1);
    }
    free(js);
    json_decref(o);
    if (pg_req_live(r)) {
        pg_req_set_header(r, "Content-Type", "application/problem+json");
        /* Refusals are not cached, unless the caller said otherwise (a
         * 301 to the normalized name may be kept). */
        if (!pg_req_has_out_header(r, "Cache-Control")) {
            pg_req_set_header(r, "Cache-Control", "no-store");
        }
        if (r->is_head && body != NULL) {
            char cl[32];

            snprintf(cl, sizeof(cl), "%zu", evbuffer_get_length(body));
            pg_req_set_header(r, "Content-Length", cl);
        }
    }
    pg_req_send(r, code, phrase, body);
}

void
pg_req_refuse(struct pg_req *r, enum pg_refusal why, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    req_vproblem(r, refusals[why].status, refusals[why].title, fmt, ap);
    va_end(ap);
}

void
pg_req_abort(struct pg_req *r, const char *why)
{
    /* The access line says what the client got: the status it was sent
     * (or was about to be), then a reset — never a 5xx nobody saw. */
    if (why != NULL) {
        snprintf(r->note, sizeof(r->note), "connection reset: %s", why);
    }
    if (r->status == 0) {
        r->status = 200;
    }
    if (!r->client_gone && r->ops->live(r)) {
        r->ops->abort(r);       /* client_gone from here */
    }
    pg_req_finish(r);
}

const char *
pg_req_header(struct pg_req *r, const char *name)
{
    return r->ops->header(r, name);
}

void
pg_req_set_header(struct pg_req *r, const char *name, const char *v)
{
    if (!r->client_gone) {
        r->ops->set_header(r, name, v);
    }
}

int
pg_req_has_out_header(struct pg_req *r, const char *name)
{
    return r->ops->has_out_header(r, name);
}

size_t
pg_req_output_pending(struct pg_req *r)
{
    return r->client_gone ? 0 : r->ops->output_pending(r);
}

/* ---- the evhttp transport (the main loop's clients, relayed requests) -- */

static int
ev_live(const struct pg_req *r)
{
    return r->ereq != NULL;
}

static const char *
ev_query(struct pg_req *r)
{
    const struct evhttp_uri *uri;

    if (r->ereq == NULL) {
        return NULL;
    }
    uri = evhttp_request_get_evhttp_uri(r->ereq);
    return uri != NULL ? evhttp_uri_get_query(uri) : NULL;
}

static const char *
ev_header(struct pg_req *r, const char *name)
{
    if (r->ereq == NULL) {
        return NULL;
    }
    return evhttp_find_header(evhttp_request_get_input_headers(r->ereq),
        name);
}

static void
ev_set_header(struct pg_req *r, const char *name, const char *v)
{
    struct evkeyvalq *h;

    if (r->ereq == NULL) {
        return;
    }
    h = evhttp_request_get_output_headers(r->ereq);
    evhttp_remove_header(h, name);
    evhttp_add_header(h, name, v);
}

static int
ev_has_out_header(struct pg_req *r, const char *name)
{
    if (r->ereq == NULL) {
        return 0;
    }
    return evhttp_find_header(evhttp_request_get_output_headers(r->ereq),
        name) != NULL;
}

static size_t
ev_output_pending(struct pg_req *r)
{
    struct bufferevent *bev;

    if (r->evcon == NULL) {
        return 0;
    }
    bev = evhttp_connection_get_bufferevent(r->evcon);
    return bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev))
        : 0;
}

static void
ev_reply(struct pg_req *r, int code, const char *phrase,
    struct evbuffer *body)
{
    struct evhttp_request *ereq;

    add_date(r);
    ereq = release(r);
    evhttp_send_reply(ereq, code, phrase, body);
    if (body != NULL) {
        evbuffer_free(body);
    }
    pg_req_finish(r);
}

static void
ev_start_stream(struct pg_req *r, int code, const char *phrase)
{
    evhttp_send_reply_start(r->ereq, code, phrase);
}

static void
ev_on_drained(struct evhttp_connection *evcon, void *arg)
{
    struct pg_req *r = arg;

    (void) evcon;
    if (r->on_drained != NULL) {
        r->on_drained(r->drained_arg);
    }
}

static void
ev_stream(struct pg_req *r, struct evbuffer *chunk,
    void (*drained)(void *arg), void *arg)
{
    r->on_drained = drained;
    r->drained_arg = arg;
    if (drained != NULL) {
        evhttp_send_reply_chunk_with_cb(r->ereq, chunk, ev_on_drained, r);
    } else {
        evhttp_send_reply_chunk(r->ereq, chunk);
    }
}

static void
ev_end_stream(struct pg_req *r)
{
    struct evhttp_request *ereq;

    if (r->ereq != NULL) {
        ereq = release(r);
        evhttp_send_reply_end(ereq);
    }
}

static void
ev_abort(struct pg_req *r)
{
    struct evhttp_connection *evcon = r->evcon;
    struct bufferevent *bev;
    struct linger lg;
    evutil_socket_t fd;

    if (evcon == NULL) {
        return;
    }
    bev = evhttp_connection_get_bufferevent(evcon);
    fd = bev != NULL ? bufferevent_getfd(bev) : -1;
    if (fd >= 0) {
        lg.l_onoff = 1;
        lg.l_linger = 0;
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    r->client_gone = 1;
    r->ereq = NULL;             /* evhttp_connection_free frees it */
    r->evcon = NULL;
    evhttp_connection_free(evcon);
}

static void
ev_done(struct pg_req *r)
{
    if (!r->client_gone && r->evcon != NULL) {
        evhttp_connection_set_closecb(r->evcon, NULL, NULL);
    }
    if (r->ereq_detached && r->ereq != NULL) {
        evhttp_request_free(r->ereq);
    }
}

static const struct pg_req_ops ev_ops = {
    .live = ev_live,
    .query = ev_query,
    .header = ev_header,
    .set_header = ev_set_header,
    .has_out_header = ev_has_out_header,
    .output_pending = ev_output_pending,
    .reply = ev_reply,
    .start_stream = ev_start_stream,
    .stream = ev_stream,
    .end_stream = ev_end_stream,
    .abort = ev_abort,
    .done = ev_done,
    .sendfile = 1,
};

int
pg_etag_match_list(const char *inm, const char *etag)
{
    const char *p = inm, *e = etag;
    size_t elen;

    if (inm == NULL || etag == NULL) {
        return 0;
    }
    if (strncmp(e, "W/", 2) == 0) {
        e += 2;
    }
    elen = strlen(e);
    while (*p != '\0') {
        const char *start, *end;

        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        if (*p == '*') {
            return 1;
        }
        start = p;
        if (strncmp(start, "W/", 2) == 0) {
            start += 2;
        }
        end = strchr(start, ',');
        if (end == NULL) {
            end = start + strlen(start);
        }
        p = end;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        if ((size_t)(end - start) == elen && memcmp(start, e, elen) == 0) {
            return 1;
        }
    }
    return 0;
}
