/* proxy/server.c — the HTTP server: listener, routes, metrics, signals.
 *
 * libevent's evhttp parses requests and writes replies.  It does what the
 * serving core needs: custom reason phrases (evhttp_send_reply's reason),
 * streamed replies with our own Content-Length (evhttp_send_reply_start +
 * chunks, no chunked encoding when Content-Length is set), a drained-output
 * callback for back-pressure (evhttp_send_reply_chunk_with_cb), sendfile of
 * cached blobs (evbuffer_add_file), and limits on the request line, headers
 * and body.  An aborted stream resets the connection (SO_LINGER 0, then
 * evhttp_connection_free), see req.c.  Every method is let through to our
 * handler (evhttp would answer 501 to the ones it does not allow) so that
 * we answer 405 with a problem body.
 *
 * on_request builds a pg_req and dispatches by path:
 *   /simple/ and /simple/<name>/   pages.c
 *   /packages/…                    files.c
 *   /metrics /healthz /readyz      here
 * A client whose address is not in allow_clients gets a 403 before any
 * routing (see "clients: allow_clients").
 * Connections are counted from accept until evhttp frees them (see
 * "connections: max_connections"); over max_connections a new one is
 * closed at once, unanswered.
 * SIGTERM/SIGINT stop accepting and let in-flight requests finish (at most
 * PG_STOP_GRACE_S); SIGHUP calls the provenance reload hook.  A timer flushes
 * the cache's batched access times on a worker every PG_FLUSH_INTERVAL_S.
 *
 * Owns: the server and everything it opens.  Borrows: the config.
 * Runs on: loop.  Spec: design §5, §9; issue 2 items 2, 6, 7, 8.
 */
#include <errno.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "config_int.h"
#include "metrics_int.h"
#include "pg_cache.h"
#include "provenance_int.h"
#include "server_int.h"
#include "upstream_int.h"
#include "worker_int.h"

static const double pg_latency_buckets[] = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define N_BUCKETS (sizeof(pg_latency_buckets) / sizeof(pg_latency_buckets[0]))


static int
add_metrics(struct pg_server *s)
{
    struct pg_metrics *m = s->metrics;

    s->m_requests = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_requests_total", "HTTP requests answered, by route "
        "and status", "route,status", NULL, 0);
    s->m_duration = pg_metrics_add(m, PG_METRIC_HISTOGRAM,
        "provgate_http_request_duration_seconds", "Time from request to "
        "reply queued, by route", "route", pg_latency_buckets, N_BUCKETS);
    s->m_inflight = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_http_requests_in_flight", "HTTP requests being served",
        NULL, NULL, 0);
    s->m_bytes = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_response_bytes_total", "Response body bytes sent, "
        "by route", "route", NULL, 0);
    s->m_hits = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_cache_hits_total", "Requests answered from the cache, by "
        "kind (page, list, file, metadata)", "kind", NULL, 0);
    s->m_misses = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_cache_misses_total", "Requests that needed the upstream, "
        "by kind", "kind", NULL, 0);
    s->m_stale = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_cache_stale_served_total", "Stale pages served because "
        "the upstream failed, by kind", "kind", NULL, 0);
    s->m_up_requests = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_upstream_requests_total", "Upstream requests started, by "
        "kind", "kind", NULL, 0);
    s->m_up_errors = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_upstream_errors_total", "Upstream requests that failed, "
        "by kind and reason", "kind,reason", NULL, 0);
    s->m_up_duration = pg_metrics_add(m, PG_METRIC_HISTOGRAM,
        "provgate_upstream_request_duration_seconds", "Upstream request "
        "time, by kind", "kind", pg_latency_buckets, N_BUCKETS);
    s->m_blob_bytes = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_blob_store_bytes", "Bytes of committed blobs", NULL,
        NULL, 0);
    s->m_blob_count = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_blob_store_blobs", "Committed blobs", NULL, NULL, 0);
    s->m_evictions = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_blob_store_evictions_total", "Blobs evicted (least "
        "recently used, over cache_max_bytes)", NULL, NULL, 0);
    s->m_pages_mem = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_index_pages_in_memory", "Rendered index pages held in "
        "memory", NULL, NULL, 0);
    s->m_pages_bytes = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_index_pages_memory_bytes", "Memory the index pages in "
        "memory take (models and bodies not on disk; capped by "
        "page_cache_max_bytes)", NULL, NULL, 0);
    s->m_downloads = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_file_downloads_in_flight", "Upstream file downloads in "
        "progress or being committed", NULL, NULL, 0);
    s->m_conns = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_http_connections_open", "Client connections open "
        "(counted against max_connections)", NULL, NULL, 0);
    s->m_conns_refused = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_connections_refused_total", "Client connections "
        "closed at accept because max_connections were open", NULL, NULL,
        0);
    s->m_send_timeouts = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_send_timeouts_total", "Client connections closed "
        "because the client read nothing of its answer for client_timeout",
        NULL, NULL, 0);
    s->m_client_limit = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_client_limit_refused_total", "Client connections "
        "closed at accept because their address had "
        "max_client_connections open", NULL, NULL, 0);
    s->m_header_timeouts = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_header_timeouts_total", "Client connections closed "
        "because a request head did not all arrive within "
        "client_header_timeout", NULL, NULL, 0);
    s->m_idle_closed = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_idle_closed_total", "Idle keep-alive client "
        "connections closed to make room at max_connections", NULL, NULL,
        0);
    s->m_clients_refused = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_clients_refused_total", "Requests refused (403) "
        "because the client address is not in allow_clients", NULL, NULL,
        0);
    s->m_page_jobs = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_index_jobs_total", "Index page work handed off the event "
        "loop, by step (load, parse, render, touch) and the thread it ran "
        "on (worker; loop only when no worker could take it)",
        "step,thread", NULL, 0);
    s->m_page_job_seconds = pg_metrics_add(m, PG_METRIC_HISTOGRAM,
        "provgate_index_job_duration_seconds", "Time index page work took "
        "on its thread, by step", "step", pg_latency_buckets, N_BUCKETS);
    s->m_mismatch = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_hash_mismatches_total", "Upstream files whose sha256 did "
        "not match the index", NULL, NULL, 0);
    s->m_entries_dropped = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_index_entries_dropped_total", "Malformed file entries "
        "left out of upstream project pages (the rest was served)", NULL,
        NULL, 0);
    s->m_loop_requests = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_loop_requests_total", "Client requests each loop took "
        "(loop 0: the main loop, serve_loops = 1; 1 and up: serving "
        "threads)", "loop", NULL,
        0);
    s->m_hot_hits = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_loop_hot_hits_total", "Requests answered from the hot "
        "table (cached hits the main loop published), by loop",
        "loop", NULL, 0);
    s->m_relayed = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_loop_relayed_requests_total", "Requests serving threads "
        "relayed to the main loop (misses, stale pages, refusals, metrics)",
        NULL, NULL, 0);
    s->m_blob_damaged = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_blob_damaged_total", "Cached files whose bytes on disk "
        "were not their sha256, removed (fetched again), by what found "
        "them (serve: the re-hash before first serve, scrub)", "found",
        NULL, 0);
    s->m_rehash_bytes = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_blob_rehash_bytes_total", "Bytes of cached files "
        "re-hashed, by what for (serve: before first serve, scrub)", "by",
        NULL, 0);
    s->m_rehash_seconds = pg_metrics_add(m, PG_METRIC_HISTOGRAM,
        "provgate_blob_rehash_duration_seconds", "Time a request waited "
        "for the re-hash of a cached file before this process first "
        "served it", NULL, pg_latency_buckets, N_BUCKETS);
    s->m_cache_full = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_cache_full", "1 while the cache disk cannot take files "
        "(they are served hash-checked, not cached), else 0", NULL, NULL,
        0);
    if (s->m_blob_damaged == NULL || s->m_rehash_bytes == NULL
        || s->m_rehash_seconds == NULL || s->m_cache_full == NULL)
    {
        return -1;
    }
    if (s->m_requests == NULL || s->m_duration == NULL
        || s->m_inflight == NULL || s->m_bytes == NULL || s->m_hits == NULL
        || s->m_misses == NULL || s->m_stale == NULL
        || s->m_up_requests == NULL || s->m_up_errors == NULL
        || s->m_up_duration == NULL || s->m_blob_bytes == NULL
        || s->m_blob_count == NULL || s->m_evictions == NULL
        || s->m_mismatch == NULL || s->m_pages_mem == NULL
        || s->m_pages_bytes == NULL || s->m_entries_dropped == NULL
        || s->m_downloads == NULL || s->m_conns == NULL
        || s->m_conns_refused == NULL || s->m_clients_refused == NULL
        || s->m_send_timeouts == NULL || s->m_client_limit == NULL
        || s->m_header_timeouts == NULL || s->m_idle_closed == NULL
        || s->m_page_jobs == NULL || s->m_loop_requests == NULL
        || s->m_hot_hits == NULL || s->m_relayed == NULL
        || s->m_page_job_seconds == NULL)
    {
        return -1;
    }
    /* Label-less families exist from the start (a scrape shows 0). */
    pg_metric_inc(s->m_mismatch, 0, NULL);
    pg_metric_inc(s->m_entries_dropped, 0, NULL);
    pg_metric_inc(s->m_inflight, 0, NULL);
    pg_metric_inc(s->m_evictions, 0, NULL);
    pg_metric_inc(s->m_conns, 0, NULL);
    pg_metric_inc(s->m_conns_refused, 0, NULL);
    pg_metric_inc(s->m_send_timeouts, 0, NULL);
    pg_metric_inc(s->m_client_limit, 0, NULL);
    pg_metric_inc(s->m_header_timeouts, 0, NULL);
    pg_metric_inc(s->m_idle_closed, 0, NULL);
    pg_metric_inc(s->m_clients_refused, 0, NULL);
    pg_metric_inc(s->m_relayed, 0, NULL);
    return 0;
}

void
pg_server_upstream_done(struct pg_server *s, const char *kind,
    const char *error, int64_t t0_ms)
{
    const char *lv[2];

    lv[0] = kind;
    lv[1] = error;
    pg_metric_inc(s->m_up_requests, 1, lv);
    pg_metric_observe(s->m_up_duration,
        (double)(pg_now_ms() - t0_ms) / 1000.0, lv);
    if (error != NULL) {
        pg_metric_inc(s->m_up_errors, 1, lv);
    }
}

void
pg_server_cache_event(struct pg_server *s, const char *kind,
    const char *what)
{
    const char *lv[1];

    lv[0] = kind;
    if (strcmp(what, "hit") == 0) {
        pg_metric_inc(s->m_hits, 1, lv);
    } else if (strcmp(what, "miss") == 0) {
        pg_metric_inc(s->m_misses, 1, lv);
    } else if (strcmp(what, "stale") == 0) {
        pg_metric_inc(s->m_stale, 1, lv);
    }
}

/* ---- small routes ------------------------------------------------------ */

static void
handle_metrics(struct pg_req *r)
{
    struct pg_server *s = r->s;
    struct pg_cache_stats st;
    struct evbuffer *body = evbuffer_new();
    int i;

    r->route = "metrics";
    pg_loops_sweep(r->loop);
    pg_metric_set(s->m_inflight, (double)pg_loops_inflight(s), NULL);
    for (i = 0; s->nloops > 1 && i < s->nloops; i++) {
        struct pg_loop *lp = &s->loops[i];
        unsigned long n = atomic_load(&lp->nreq), h = atomic_load(&lp->nhot);
        const char *lv[1] = { lp->name };

        pg_metric_inc(s->m_loop_requests, (double)(n - lp->nreq_seen), lv);
        pg_metric_inc(s->m_hot_hits, (double)(h - lp->nhot_seen), lv);
        lp->nreq_seen = n;
        lp->nhot_seen = h;
    }
    pg_cache_stats(r->s->cache, &st);
    pg_metric_set(r->s->m_blob_bytes, (double)st.blob_bytes, NULL);
    pg_metric_set(r->s->m_blob_count, (double)st.blob_count, NULL);
    pg_metric_set(r->s->m_pages_mem, (double)pg_pages_count(r->s->pages),
        NULL);
    pg_metric_set(r->s->m_pages_bytes, (double)pg_pages_bytes(r->s->pages),
        NULL);
    pg_metric_set(r->s->m_downloads, (double)pg_files_active(r->s->files),
        NULL);
    if (st.evictions > r->s->evictions_seen) {
        pg_metric_inc(r->s->m_evictions,
            (double)(st.evictions - r->s->evictions_seen), NULL);
        r->s->evictions_seen = st.evictions;
    }
    if (body == NULL) {
        pg_req_problem(r, 503, "Out of memory", "out of memory");
        return;
    }
    pg_metrics_render(r->s->metrics, body);
    pg_req_set_header(r, "Content-Type",
        "text/plain; version=0.0.4; charset=utf-8");
    pg_req_set_header(r, "Cache-Control", "no-store");
    pg_req_send(r, 200, "OK", body);
}

static void
handle_text(struct pg_req *r, int code, const char *reason, const char *txt)
{
    struct evbuffer *body = evbuffer_new();

    if (body != NULL) {
        evbuffer_add(body, txt, strlen(txt));
    }
    pg_req_set_header(r, "Content-Type", "text/plain; charset=utf-8");
    pg_req_set_header(r, "Cache-Control", "no-store");
    pg_req_send(r, code, reason, body);
}

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
    pg_req_problem(r, 403, "Client address not allowed",
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
        pg_req_problem(r, 400, "Bad request", "malformed request target");
        return NULL;
    }
    plen = strlen(path);
    if (plen > PG_MAX_PATH) {
        r->path = pg_req_strdup(r, "(too long)");
        pg_req_problem(r, 414, "URI too long",
            "request path longer than %d bytes", PG_MAX_PATH);
        return NULL;
    }
    r->path = pg_req_strdup(r, path);
    if (r->path == NULL) {
        pg_req_problem(r, 503, "Out of memory", "out of memory");
        return NULL;
    }
    if (!get_or_head) {
        pg_req_set_header(r, "Allow", "GET, HEAD");
        pg_req_problem(r, 405, "Method not allowed",
            "method not allowed: provgate serves GET and HEAD only");
        return NULL;
    }
    return path;
}

/* Main loop: the routes. */
static void
route(struct pg_server *s, struct pg_req *r, const char *path)
{
    if (strcmp(path, "/simple") == 0 || strcmp(path, "/simple/") == 0) {
        if (path[7] == '\0') {
            pg_req_set_header(r, "Location", "/simple/");
            r->route = "list";
            pg_req_problem(r, 301, "Moved permanently", "see /simple/");
            return;
        }
        pg_pages_handle_list(r);
        return;
    }
    if (strncmp(path, "/simple/", 8) == 0) {
        pg_pages_handle_project(r, path + 8);
        return;
    }
    if (strncmp(path, "/packages/", 10) == 0) {
        pg_files_handle(r);
        return;
    }
    if (strncmp(path, "/integrity/", 11) == 0) {
        pg_prov_handle_integrity(r);
        return;
    }
    if (strcmp(path, "/metrics") == 0) {
        handle_metrics(r);
        return;
    }
    if (strcmp(path, "/healthz") == 0) {
        r->route = "health";
        handle_text(r, 200, "OK", "ok\n");
        return;
    }
    if (strcmp(path, "/readyz") == 0) {
        char why[256];

        why[0] = '\0';
        r->route = "health";
        if (s->stopping) {
            handle_text(r, 503, "Stopping", "stopping\n");
        } else if (s->hooks.ready != NULL
            && !s->hooks.ready(s->hooks.arg, why, sizeof(why) - 1))
        {
            /* Degraded, still serving: said in the body (and metrics). */
            size_t n = strnlen(why, sizeof(why) - 2);

            why[n] = '\n';
            why[n + 1] = '\0';
            handle_text(r, 200, "OK", why);
        } else {
            handle_text(r, 200, "OK", "ready\n");
        }
        return;
    }
    pg_req_problem(r, 404, "Not found", "no such route: %s", path);
}

int
pg_server_admit(struct pg_loop *lp, struct pg_req *r,
    const struct sockaddr *peer, const char *path, int get_or_head)
{
    if (client_refused(lp, r, path, peer)) {
        return 0;
    }
    if (check_target(r, path, get_or_head) == NULL) {
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
        pg_req_problem(r, 431, "Request header fields too large",
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
pg_server_on_request(struct evhttp_request *ereq, void *arg)
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
    if (pg_server_admit(lp, r, r->evcon != NULL
            ? evhttp_connection_get_addr(r->evcon) : NULL, path,
            cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD))
    {
        route(s, r, r->path);
    }
}

/* A request a serving thread relayed (the internal listener, main loop).
 * Its first line and headers are the client's; X-Provgate-Relay carries
 * the per-process token and the client's address. */
void
pg_server_on_relayed(struct evhttp_request *ereq, void *arg)
{
    struct pg_server *s = arg;
    const char *h = evhttp_find_header(evhttp_request_get_input_headers(
        ereq), "X-Provgate-Relay");
    const struct evhttp_uri *uri;
    enum evhttp_cmd_type cmd;
    const char *path;
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
    snprintf(r->client, sizeof(r->client), "%s", h + 33);
    cmd = evhttp_request_get_command(ereq);
    uri = evhttp_request_get_evhttp_uri(ereq);
    r->method = method_name(cmd);
    r->is_head = cmd == EVHTTP_REQ_HEAD;
    pg_metric_inc(s->m_relayed, 1, NULL);
    path = check_target(r, uri != NULL ? evhttp_uri_get_path(uri) : NULL,
        cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD);
    if (path != NULL) {
        route(s, r, path);
    }
}

/* ---- TLS listener ------------------------------------------------------ */

static int
tls_setup(struct pg_server *s, char *msg, size_t mlen)
{
    const struct pg_config *cfg = s->cfg;
    SSL_CTX *ctx;
    unsigned long e;

    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        snprintf(msg, mlen, "tls: out of memory");
        return -1;
    }
    s->tls = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1
        || SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM)
            != 1
        || SSL_CTX_check_private_key(ctx) != 1)
    {
        e = ERR_get_error();
        snprintf(msg, mlen, "tls_cert %s / tls_key %s: %s", cfg->tls_cert,
            cfg->tls_key, e != 0 ? ERR_reason_error_string(e)
            : "unusable");
        ERR_clear_error();
        return -1;
    }
    return 0;
}

/* ---- signals and timers ------------------------------------------------ */

static void
on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pg_server *s = arg;

    (void) fd;
    (void) what;
    pg_log(s, "stop: %ld requests still in flight after %d s, exiting",
        pg_loops_inflight(s), PG_STOP_GRACE_S);
    event_base_loopexit(s->base, NULL);
}

static void
on_term(evutil_socket_t sig, short what, void *arg)
{
    struct pg_server *s = arg;
    struct timeval tv = { PG_STOP_GRACE_S, 0 };

    (void) what;
    if (s->stopping) {
        return;
    }
    s->stopping = 1;
    pg_log(s, "signal %d: stopping (%ld requests in flight)", (int)sig,
        pg_loops_inflight(s));
    /* Stop accepting: close the listener, keep the connections.  The
     * serving threads do the same and end when idle (front.c). */
    if (s->http != NULL && s->bound != NULL) {
        evhttp_del_accept_socket(s->http, s->bound);
        s->bound = NULL;
    }
    pg_loops_stop(s);
    if (atomic_load(&s->loops[0].inflight) == 0
        && atomic_load(&s->threads_running) == 0)
    {
        event_base_loopexit(s->base, NULL);
        return;
    }
    s->ev_stop = evtimer_new(s->base, on_stop_timeout, s);
    if (s->ev_stop != NULL) {
        evtimer_add(s->ev_stop, &tv);
    }
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct pg_server *s = arg;

    (void) sig;
    (void) what;
    pg_log(s, "SIGHUP: reload");
    if (s->hooks.reload != NULL) {
        s->hooks.reload(s->hooks.arg);
    } else {
        pg_pages_invalidate(s->pages);
    }
}

static void
flush_work(void *arg)
{
    struct pg_server *s = arg;

    memset(&s->flush_err, 0, sizeof(s->flush_err));
    pg_cache_flush(s->cache, &s->flush_err);
}

static void
flush_done(void *arg)
{
    struct pg_server *s = arg;

    if (s->flush_err.code != PG_CACHE_OK) {
        pg_log(s, "cache flush: %s: %s", pg_cache_strerror(
            s->flush_err.code), s->flush_err.reason);
    }
    s->flushing = 0;
}

static void
on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pg_server *s = arg;

    (void) fd;
    (void) what;
    if (s->flushing) {
        return;
    }
    s->flushing = 1;
    if (pg_workers_submit(s->workers, flush_work, flush_done, s) != 0) {
        s->flushing = 0;
    }
}

/* ---- public ------------------------------------------------------------ */

int
pg_server_new(const struct pg_config *cfg, struct pg_server **out,
    char *msg, size_t mlen)
{
    struct pg_server *s;
    struct pg_cache_options copt;
    struct pg_cache_err cerr;
    struct timeval tv;
    size_t n;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    s->cfg = cfg;
    s->listen_fd = -1;
    signal(SIGPIPE, SIG_IGN);
    if (pg_log_open(s, cfg->access_log) != 0) {
        snprintf(msg, mlen, "access_log %s: %s", cfg->access_log,
            strerror(errno));
        goto err;
    }
    snprintf(s->base_url, sizeof(s->base_url), "%s",
        cfg->public_url != NULL ? cfg->public_url : "");
    n = strlen(s->base_url);
    while (n > 0 && s->base_url[n - 1] == '/') {
        s->base_url[--n] = '\0';
    }
    s->base = pg_loops_main_base();
    s->metrics = pg_metrics_new();
    if (s->base == NULL || s->metrics == NULL || add_metrics(s) != 0) {
        snprintf(msg, mlen, "out of memory");
        goto err;
    }
    memset(&copt, 0, sizeof(copt));
    memset(&cerr, 0, sizeof(cerr));
    copt.dir = cfg->cache_dir;
    copt.max_bytes = cfg->cache_max_bytes;
    if (pg_cache_open(&copt, &s->cache, &cerr) != PG_CACHE_OK) {
        if (cerr.code == PG_CACHE_EDAMAGED) {
            /* issue 10: refused, never mapped; the operator decides. */
            snprintf(msg, mlen, "%s; check it with `provgate cache check "
                "--cache-dir %s`, move it aside with `provgate cache "
                "rebuild`", cerr.reason, cfg->cache_dir);
            pg_server_free(s);
            return PG_SERVER_EDAMAGED;
        }
        snprintf(msg, mlen, "cache %s: %s: %s", cfg->cache_dir,
            pg_cache_strerror(cerr.code), cerr.reason);
        goto err;
    }
    if (pg_upstream_new(s->base, cfg, &s->up) != 0) {
        snprintf(msg, mlen, "upstream client: cannot start");
        goto err;
    }
    if (pg_workers_new(s->base, 2, &s->workers) != 0) {
        snprintf(msg, mlen, "worker threads: cannot start");
        goto err;
    }
    if (pg_peers_new(2 * (size_t)cfg->max_connections, &s->peers) != 0
        || pg_hot_new(s, &s->hot) != 0 || pg_pages_new(s, &s->pages) != 0
        || pg_files_new(s, &s->files) != 0)
    {
        snprintf(msg, mlen, "out of memory");
        goto err;
    }
    s->http = evhttp_new(s->base);
    if (s->http == NULL) {
        snprintf(msg, mlen, "out of memory");
        goto err;
    }
    pg_loops_http_setup(s->http, cfg);
    if (cfg->tls_cert != NULL && cfg->tls_key != NULL
        && tls_setup(s, msg, mlen) != 0)
    {
        goto err;
    }
    if (pg_loops_setup(s, msg, mlen) != 0
        || pg_loops_listen(s, msg, mlen) != 0
        || pg_relay_listen(s, msg, mlen) != 0)
    {
        goto err;
    }
    evhttp_set_gencb(s->http, pg_server_on_request, &s->loops[0]);
    evhttp_set_bevcb(s->http, pg_server_on_new_bev, &s->loops[0]);
    s->ev_term = evsignal_new(s->base, SIGTERM, on_term, s);
    s->ev_int = evsignal_new(s->base, SIGINT, on_term, s);
    s->ev_hup = evsignal_new(s->base, SIGHUP, on_hup, s);
    s->ev_flush = event_new(s->base, -1, EV_PERSIST, on_flush_timer, s);
    if (s->ev_term == NULL || s->ev_int == NULL || s->ev_hup == NULL
        || s->ev_flush == NULL)
    {
        snprintf(msg, mlen, "out of memory");
        goto err;
    }
    evsignal_add(s->ev_term, NULL);
    evsignal_add(s->ev_int, NULL);
    evsignal_add(s->ev_hup, NULL);
    tv.tv_sec = PG_FLUSH_INTERVAL_S;
    tv.tv_usec = 0;
    event_add(s->ev_flush, &tv);
    *out = s;
    return 0;
err:
    pg_server_free(s);
    return -1;
}

void
pg_server_set_hooks(struct pg_server *s, const struct pg_proxy_hooks *hooks)
{
    s->hooks = *hooks;
}

int
pg_server_run(struct pg_server *s)
{
    char msg[256];

    if (pg_loops_start(s, msg, sizeof(msg)) != 0) {
        pg_log(s, "%s", msg);
        return -1;
    }
    if (s->nloops == 1) {
        pg_log(s, "listening on %s (the main loop serves clients), "
            "upstream %s, cache %s", s->cfg->listen, s->cfg->upstream,
            s->cfg->cache_dir);
    } else {
        pg_log(s, "listening on %s (%d serving threads), upstream %s, "
            "cache %s", s->cfg->listen, s->nloops - 1, s->cfg->upstream,
            s->cfg->cache_dir);
    }
    if (event_base_dispatch(s->base) < 0) {
        return -1;
    }
    pg_log(s, "stopped");
    return 0;
}

void
pg_server_reannotate(struct pg_server *s)
{
    pg_pages_invalidate(s->pages);
}

struct event_base *
pg_server_base(struct pg_server *s)
{
    return s->base;
}

struct pg_cache *
pg_server_cache(struct pg_server *s)
{
    return s->cache;
}

const struct pg_config *
pg_server_config(struct pg_server *s)
{
    return s->cfg;
}

struct pg_upstream *
pg_server_upstream(struct pg_server *s)
{
    return s->up;
}

void
pg_server_free(struct pg_server *s)
{
    struct pg_cache_err cerr;

    if (s == NULL) {
        return;
    }
    /* Order: connections first (their requests end with client_gone),
     * then the workers (queued blob commits still run, no done callback),
     * then downloads and pages (they cancel transfers), then the upstream
     * client and the cache. */
    pg_loops_free(s);           /* serving threads joined first */
    if (s->listen_fd >= 0) {
        close(s->listen_fd);    /* no thread took it */
    }
    if (s->ihttp != NULL) {
        evhttp_free(s->ihttp);
    }
    if (s->http != NULL) {
        evhttp_free(s->http);
    }
    pg_loops_free_main(s);
    if (s->workers != NULL) {
        pg_workers_free(s->workers);
        s->workers = NULL;      /* later submits fail: work runs inline */
    }
    if (s->files != NULL) {
        pg_files_free(s->files);
    }
    if (s->pages != NULL) {
        pg_pages_free(s->pages);
    }
    pg_hot_free(s->hot);
    s->hot = NULL;
    pg_peers_free(s->peers);
    s->peers = NULL;
    if (s->up != NULL) {
        pg_upstream_free(s->up);
    }
    if (s->cache != NULL) {
        memset(&cerr, 0, sizeof(cerr));
        pg_cache_flush(s->cache, &cerr);
        pg_cache_close(s->cache);
    }
    if (s->ev_term != NULL) {
        event_free(s->ev_term);
    }
    if (s->ev_int != NULL) {
        event_free(s->ev_int);
    }
    if (s->ev_hup != NULL) {
        event_free(s->ev_hup);
    }
    if (s->ev_flush != NULL) {
        event_free(s->ev_flush);
    }
    if (s->ev_stop != NULL) {
        event_free(s->ev_stop);
    }
    if (s->metrics != NULL) {
        pg_metrics_free(s->metrics);
    }
    if (s->tls != NULL) {
        SSL_CTX_free(s->tls);
    }
    if (s->base != NULL) {
        event_base_free(s->base);
    }
    pg_log_close(s);
    free(s);
}
