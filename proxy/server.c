/* proxy/server.c — the composition root: listener, routes, context, signals.
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
 * The route table is each route module's rows (struct pg_route):
 *   /simple, /simple/ and /simple/<name>/   pages.c
 *   /packages/…                             files.c
 *   /integrity/…                            provenance.c
 *   /metrics /healthz /readyz               here
 * admit.c runs the checks every request passes (allow_clients, target,
 * method, the client's token) and dispatches.
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
#include <unistd.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admit_int.h"
#include "auth_int.h"
#include "bind_int.h"
#include "config_int.h"
#include "metrics_int.h"
#include "loops_int.h"
#include "pg_cache.h"
#include "pg_proxy.h"
#include "provenance_int.h"
#include "routes_int.h"
#include "server_int.h"
#include "upstream_int.h"
#include "worker_int.h"

/* ---- small routes ------------------------------------------------------ */

static void
handle_metrics(struct pg_req *r)
{
    struct pg_server *s = r->s;
    struct pg_cache_stats st;
    struct evbuffer *body = evbuffer_new();
    size_t hot_count, hot_bytes;
    uint64_t hot_evictions, auth_refused, auth_limited;
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
    pg_auth_counts(s->auth, &auth_refused, &auth_limited);
    pg_metric_inc(s->m_auth_refused,
        (double)(auth_refused - s->auth_refused_seen), NULL);
    pg_metric_inc(s->m_auth_limited,
        (double)(auth_limited - s->auth_limited_seen), NULL);
    s->auth_refused_seen = auth_refused;
    s->auth_limited_seen = auth_limited;
    pg_hot_stats(s->hot, &hot_count, &hot_bytes, &hot_evictions);
    pg_metric_set(s->m_hot_entries, (double)hot_count, NULL);
    pg_metric_set(s->m_hot_bytes, (double)hot_bytes, NULL);
    if (hot_evictions > s->hot_evictions_seen) {
        pg_metric_inc(s->m_hot_evictions,
            (double)(hot_evictions - s->hot_evictions_seen), NULL);
        s->hot_evictions_seen = hot_evictions;
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
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
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

static void
route_metrics(void *arg, struct pg_req *r, const char *rest)
{
    handle_metrics(r);
}

static void
route_healthz(void *arg, struct pg_req *r, const char *rest)
{
    r->route = "health";
    handle_text(r, 200, "OK", "ok\n");
}

static void
route_readyz(void *arg, struct pg_req *r, const char *rest)
{
    struct pg_server *s = arg;
    char why[256];

    why[0] = '\0';
    r->route = "health";
    if (s->stopping) {
        handle_text(r, 503, "Stopping", "stopping\n");
    } else if (s->hooks.ready != NULL
        && !s->hooks.ready(s->hooks.arg, why, sizeof(why) - 1))
    {
        /* Degraded: it still serves what it can, but a balancer
         * should prefer a replica that can do all of its job (the pin
         * store away: no TOFU for new projects).  Why in the body, and
         * in the metrics. */
        size_t n = strnlen(why, sizeof(why) - 2);

        why[n] = '\n';
        why[n + 1] = '\0';
        handle_text(r, 503, "Not ready", why);
    } else {
        handle_text(r, 200, "OK", "ready\n");
    }
}

/* /-/: the operator pages, when ui = on (routes/ui_route.c installs
 * them); "/-" itself and a POST outside /-/ are theirs to answer too. */
static void
route_ui(void *arg, struct pg_req *r, const char *rest)
{
    struct pg_server *s = arg;

    if (s->ui_handle == NULL || (rest[0] != '\0' && rest[0] != '/')) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no such route: %s%s",
            r->path, s->ui_handle == NULL ? " (the operator pages are "
            "off: ui = off)" : "");
        return;
    }
    s->ui_handle(s->ui_arg, r, r->path);
}

static const struct pg_route server_routes[] = {
    { "/-", 1, route_ui, NULL },
    { "/metrics", 0, route_metrics, NULL },
    { "/healthz", 0, route_healthz, NULL },
    { "/readyz", 0, route_readyz, NULL },
};

/* The route table: each route module's rows, then the server's own. */
static int
routes_setup(struct pg_server *s)
{
    const struct pg_route *parts[] = { pg_pages_routes, pg_files_routes,
        pg_prov_routes, server_routes };
    const size_t counts[] = { pg_pages_nroutes, pg_files_nroutes,
        pg_prov_nroutes, sizeof(server_routes) / sizeof(server_routes[0]) };
    void *args[] = { s->pages, s->files, NULL, s };
    size_t i, j, n = 0;

    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        n += counts[i];
    }
    s->routes = calloc(n, sizeof(*s->routes));
    if (s->routes == NULL) {
        return -1;
    }
    for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        for (j = 0; j < counts[i]; j++) {
            s->routes[s->nroutes] = parts[i][j];
            s->routes[s->nroutes++].arg = args[i];
        }
    }
    return 0;
}

/* The route modules, each given the context (the pages first: the file
 * route decides on them), then the route table that hands them requests. */
static int
routes_build(struct pg_server *s)
{
    struct pg_ctx ctx;

    pg_server_ctx(s, &ctx);
    if (pg_pages_new(&ctx, &s->pages) != 0) {
        return -1;
    }
    pg_server_ctx(s, &ctx);
    if (pg_files_new(&ctx, &s->files) != 0) {
        return -1;
    }
    return routes_setup(s);
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

/* verify_threads, or one per online core (at most 16, the pool's cap). */
static int
verify_threads(const struct pg_config *cfg)
{
    long n = cfg->verify_threads;

    if (n <= 0) {
        n = sysconf(_SC_NPROCESSORS_ONLN);
    }
    return n < 1 ? 1 : n > 16 ? 16 : (int) n;
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
    size_t n, i;

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
    if (s->base == NULL || s->metrics == NULL || pg_stats_add(s) != 0) {
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
    if ((cfg->auth == PG_AUTH_TOKEN || cfg->metrics_token_file != NULL)
        && pg_auth_new(cfg, &s->auth, msg, mlen) != 0)
    {
        goto err;
    }
    if (pg_bind_new(cfg, &s->bind) != 0) {
        snprintf(msg, mlen, "out of memory");
        goto err;
    }
    for (i = 0; i < cfg->n_upstreams; i++) {
        if (pg_upstream_new(s->base, &cfg->upstreams[i], &s->ups[i]) != 0) {
            snprintf(msg, mlen, "upstream client %s: cannot start",
                cfg->upstreams[i].name);
            goto err;
        }
    }
    s->up = s->ups[0];
    if (pg_workers_new(s->base, 2, &s->workers) != 0) {
        snprintf(msg, mlen, "worker threads: cannot start");
        goto err;
    }
    /* Verification is CPU work: its own pool, one thread per core, so it
     * never queues behind a blob's fsync or a big page's parse. */
    if (pg_workers_new(s->base, verify_threads(cfg), &s->verifiers) != 0) {
        snprintf(msg, mlen, "verification threads: cannot start");
        goto err;
    }
    if (pg_peers_new(2 * (size_t)cfg->max_connections, &s->peers) != 0
        || pg_hot_new(s, &s->hot) != 0 || pg_full_new(s, &s->full) != 0
        || routes_build(s) != 0)
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
        || pg_relay_listen(s, pg_admit_on_relayed, msg, mlen) != 0)
    {
        goto err;
    }
    evhttp_set_gencb(s->http, pg_admit_on_request, &s->loops[0]);
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
    size_t i;

    if (pg_loops_start(s, msg, sizeof(msg)) != 0) {
        pg_log(s, "%s", msg);
        return -1;
    }
    if (s->nloops == 1) {
        pg_log(s, "listening on %s (the main loop serves clients), "
            "upstream %s, cache %s", s->cfg->listen,
            s->cfg->upstreams[0].upstream,
            s->cfg->cache_dir);
    } else {
        pg_log(s, "listening on %s (%d serving threads), upstream %s, "
            "cache %s", s->cfg->listen, s->nloops - 1,
            s->cfg->upstreams[0].upstream,
            s->cfg->cache_dir);
    }
    for (i = 1; i < s->cfg->n_upstreams; i++) {
        const struct pg_upstream_conf *u = &s->cfg->upstreams[i];

        /* issue 13: what each private upstream owns, for the operator */
        pg_log(s, "upstream %s: %s, %zu name%s and prefix%s%s, mode %s%s%s",
            u->name, u->upstream, u->n_claims, u->n_claims == 1 ? "" : "s",
            u->n_claims == 1 ? "" : "es", u->own_list ? " and its list"
            : "", u->mode, u->trust_root != NULL ? ", trust root "
            : "", u->trust_root != NULL ? u->trust_root : "");
    }
    if (event_base_dispatch(s->base) < 0) {
        return -1;
    }
    pg_log(s, "stopped");
    return 0;
}

static void
reannotate(void *arg)
{
    struct pg_server *s = arg;

    pg_pages_invalidate(s->pages);
}

void
pg_server_ctx(struct pg_server *s, struct pg_ctx *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->base = s->base;
    ctx->cfg = s->cfg;
    ctx->cache = s->cache;
    ctx->up = s->up;
    ctx->ups = s->ups;
    ctx->bind = s->bind;
    ctx->metrics = s->metrics;
    ctx->workers = s->workers;
    ctx->verifiers = s->verifiers;
    ctx->log = s;
    ctx->auth = s->auth;
    ctx->hooks = &s->hooks;
    ctx->hot = s->hot;
    ctx->full = s->full;
    ctx->pages = s->pages;
    ctx->base_url = s->base_url;
    ctx->reannotate = reannotate;
    ctx->arg = s;
}

void
pg_server_free(struct pg_server *s)
{
    struct pg_cache_err cerr;
    size_t i;

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
    if (s->verifiers != NULL) {
        pg_workers_free(s->verifiers);
        s->verifiers = NULL;
    }
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
    pg_loops_free_main(s);      /* after the requests pages and downloads
                                   still held were finished (their loop) */
    pg_full_free(s->full);
    s->full = NULL;
    pg_hot_free(s->hot);
    s->hot = NULL;
    pg_peers_free(s->peers);
    s->peers = NULL;
    pg_auth_free(s->auth);
    s->auth = NULL;
    for (i = 0; i < PG_CONFIG_MAX_UPSTREAMS; i++) {
        if (s->ups[i] != NULL) {
            pg_upstream_free(s->ups[i]);
            s->ups[i] = NULL;
        }
    }
    s->up = NULL;
    pg_bind_free(s->bind);
    s->bind = NULL;
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
    free(s->routes);
    free(s);
}
