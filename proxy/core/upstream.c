/* proxy/core/upstream.c — the upstream HTTP client: libcurl multi on libevent.
 *
 * hiperfifo, grown up.  libcurl tells us which sockets to watch
 * (on_curl_socket) and when to wake it (on_curl_timer); both only record
 * that in libevent events.  When an event fires, drive() calls
 * curl_multi_socket_action and, after it returns, handles what it left
 * behind: finished transfers (check_multi_info) and work that could not be
 * done inside a libcurl callback (the deferred list).  No curl_multi_*
 * call and no free of a transfer ever happens inside a libcurl callback;
 * "in_curl" counts how deep we are inside libcurl so that the public calls
 * know whether to act now or defer (a deferred op also activates the
 * "kick" event, so it runs on the next loop turn at the latest).
 *
 * Allowed origins: every URL (a request's, each redirect's) is reduced
 * to its exact origin, scheme + canonical host + effective port
 * (origin.c), and must equal the upstream's own or one made from a
 * file_hosts entry: "host" allows https on 443 and, with allow_http, http
 * on 80; "host:port" allows that port (https, or http with allow_http).
 * libcurl is handed the URL as the same parser normalised it.
 *
 * libcurl never follows redirects (CURLOPT_FOLLOWLOCATION is 0): at the end
 * of a 301/302/303/307/308 response's headers we resolve its Location
 * against the current URL, and when the transfer completes we check that
 * URL's origin like any other (origin_allowed), then re-add the same easy
 * handle with the new URL, at most PG_UPSTREAM_MAX_REDIRECTS times.  A
 * disallowed Location therefore never causes a connection.
 *
 * A transfer reports its headers once, at the end of the final response's
 * header block (the blank line libcurl passes to the header callback; as a
 * fallback at the first body byte or at completion), then body bytes as
 * they arrive, then exactly one on_done — unless it was cancelled.  The
 * idle timeout is our own timer, not CURLOPT_LOW_SPEED_*, so that a
 * transfer we paused ourselves (slow client) is not counted as idle.
 *
 * Owns: the CURLM, every easy handle and transfer, one libevent event per
 * socket libcurl watches, the timer and kick events.
 * Borrows: the event_base and its upstream's options (both outlive it).
 * Runs on: loop.
 * Spec: issue 2 items 4 and 8; style.md "Callbacks" and curl etiquette;
 * libcurl docs/examples/hiperfifo.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "config_int.h"
#include "origin_int.h"
#include "upstream_int.h"

#define PG_UP_USER_AGENT "provgate/0.1"
#define PG_UP_REASON 256
#define PG_UP_MAX_ORIGINS (1 + 2 * PG_CONFIG_MAX_HOSTS) /* the upstream's,
                                   then up to two per file_hosts entry */

enum pg_xfer_state {
    XFER_PENDING,       /* created inside a callback, not yet added */
    XFER_ACTIVE,        /* in the multi handle */
    XFER_DONE           /* removed; on_done given or cancelled */
};

enum pg_defer {
    DEFER_ADD = 1,
    DEFER_CANCEL = 2,
    DEFER_PAUSE = 4,
    DEFER_RESUME = 8,
    DEFER_FAIL = 16
};

/* One socket libcurl asked us to watch. */
struct pg_up_sock {
    struct pg_upstream *up;
    curl_socket_t fd;
    struct event ev;
    struct pg_up_sock *prev, *next;
};

struct pg_upstream_xfer {
    struct pg_upstream *up;
    CURL *easy;
    struct curl_slist *headers;
    struct pg_upstream_req req;     /* strings not kept: see start() */
    enum pg_xfer_state state;
    int cancelled;                  /* no callback runs any more */
    int paused;                     /* paused by pg_upstream_pause */
    int headers_sent;               /* on_headers ran (or was due) */
    int hops;
    unsigned defer;                 /* enum pg_defer bits */
    enum pg_upstream_code abort_code;   /* why a callback stopped it */
    enum pg_upstream_code fail_code;    /* DEFER_FAIL */
    size_t received;                /* body bytes delivered (this hop) */
    size_t dropped;                 /* body bytes of a followed 3xx */
    char *url;                      /* current URL */
    char *redirect;                 /* Location to follow, or NULL */
    int64_t deadline_ms;            /* whole-transfer deadline, 0 = none */
    int64_t last_activity_ms;
    struct event idle_ev;
    struct pg_upstream_resp resp;
    char ctype[PG_UPSTREAM_MAX_HEADER + 1];
    char etag[PG_UPSTREAM_MAX_HEADER + 1];
    char lastmod[PG_UPSTREAM_MAX_HEADER + 1];
    char errbuf[CURL_ERROR_SIZE];
    struct pg_upstream_xfer *prev, *next;           /* up->xfers */
    struct pg_upstream_xfer *dprev, *dnext;         /* up->deferred */
    int on_deferred;
};

struct pg_upstream {
    struct event_base *base;
    const struct pg_upstream_conf *cfg;    /* this upstream's options */
    CURLM *multi;
    struct event timer_ev;
    struct event kick_ev;
    struct pg_origin origins[PG_UP_MAX_ORIGINS]; /* allowed, exact */
    size_t n_origins;
    int has_own;                    /* origins[0] is the upstream's own
                                       (the only one credentials go to) */
    int in_curl;                    /* depth inside libcurl calls */
    struct pg_upstream_xfer *cb_xfer;   /* whose callback runs now */
    struct pg_upstream_xfer *xfers;
    struct pg_upstream_xfer *deferred;
    struct pg_up_sock *socks;
};

static int on_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp);
static void on_sock_event(evutil_socket_t fd, short kind, void *arg);
static void on_timer_event(evutil_socket_t fd, short kind, void *arg);
static void on_kick_event(evutil_socket_t fd, short kind, void *arg);
static void on_idle_event(evutil_socket_t fd, short kind, void *arg);
static size_t on_curl_header(char *buf, size_t size, size_t n, void *arg);
static size_t on_curl_write(char *buf, size_t size, size_t n, void *arg);
static void drive(struct pg_upstream *up, curl_socket_t fd, int action);
static void check_multi_info(struct pg_upstream *up);
static void run_deferred(struct pg_upstream *up);
static void defer(struct pg_upstream_xfer *x, unsigned what);
static void xfer_destroy(struct pg_upstream_xfer *x);
static void xfer_finish(struct pg_upstream_xfer *x,
    enum pg_upstream_code code, const char *reason);
static int xfer_add(struct pg_upstream_xfer *x);
static char *origin_allowed(const struct pg_upstream *up, const char *url);
static int origins_init(struct pg_upstream *up);

static int64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
pg_upstream_strerror(enum pg_upstream_code code)
{
    switch (code) {
    case PG_UP_OK:
        return "ok";
    case PG_UP_ECONNECT:
        return "could not connect to upstream";
    case PG_UP_ETIMEOUT:
        return "upstream timed out";
    case PG_UP_ETOOBIG:
        return "upstream response too large";
    case PG_UP_EHOST:
        return "origin not allowed";
    case PG_UP_EABORTED:
        return "transfer aborted";
    case PG_UP_EPROTO:
        return "upstream protocol error";
    }
    return "unknown upstream error";
}

void
pg_upstream_describe(char *out, size_t olen)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    snprintf(out, olen, "%s; async DNS: %s; HTTP/2: %s",
        curl_version(),
        !(v->features & CURL_VERSION_ASYNCHDNS) ? "no (blocking!)"
        : v->ares != NULL ? "c-ares" : "threaded resolver",
        (v->features & CURL_VERSION_HTTP2) ? "yes" : "no");
}

/* ---- allowed URLs ---- */

/* The URL as libcurl's parser normalised it (malloc'd), if it is http(s)
 * (http only when allowed) on an allowed origin; NULL otherwise. */
static char *
origin_allowed(const struct pg_upstream *up, const char *url)
{
    struct pg_origin o;
    char *canon = NULL;
    size_t i;

    if (strlen(url) > PG_UPSTREAM_MAX_URL
        || pg_origin_from_url(url, &o, &canon) != 0)
    {
        return NULL;
    }
    if (strcmp(o.scheme, "http") == 0 && !up->cfg->allow_http) {
        free(canon);
        return NULL;
    }
    for (i = 0; i < up->n_origins; i++) {
        if (pg_origin_equal(&o, &up->origins[i])) {
            return canon;
        }
    }
    free(canon);
    return NULL;
}

/* up->origins: the upstream's, then each file_hosts entry's (https, and
 * http when allow_http; the scheme's default port unless the entry names
 * one).  -1 if one does not parse (the config parsers checked them). */
static int
origins_init(struct pg_upstream *up)
{
    static const struct { const char *scheme; int port; } schemes[] = {
        { "https", 443 }, { "http", 80 }
    };
    const struct pg_upstream_conf *cfg = up->cfg;
    struct pg_origin o;
    size_t i, k;

    up->n_origins = 0;
    if (cfg->upstream != NULL) {
        if (pg_origin_from_url(cfg->upstream, &o, NULL) != 0) {
            return -1;
        }
        up->origins[up->n_origins++] = o;
        up->has_own = 1;
    }
    for (i = 0; i < cfg->n_file_hosts && i < PG_CONFIG_MAX_HOSTS; i++) {
        if (cfg->file_hosts[i] == NULL
            || pg_origin_from_host_entry(cfg->file_hosts[i], &o) != 0)
        {
            return -1;
        }
        for (k = 0; k < 2 && (k == 0 || cfg->allow_http); k++) {
            struct pg_origin *d = &up->origins[up->n_origins++];

            *d = o;
            memcpy(d->scheme, schemes[k].scheme,
                strlen(schemes[k].scheme) + 1);
            if (o.port == 0) {
                d->port = schemes[k].port;
            }
        }
    }
    return 0;
}

int
pg_upstream_url_allowed(const struct pg_upstream *up, const char *url)
{
    char *canon = origin_allowed(up, url);

    free(canon);
    return canon != NULL;
}

/* ---- life of the client ---- */

int
pg_upstream_new(struct event_base *base, const struct pg_upstream_conf *cfg,
    struct pg_upstream **out)
{
    const curl_version_info_data *v;
    struct pg_upstream *up;

    *out = NULL;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return -1;
    }
    v = curl_version_info(CURLVERSION_NOW);
    if (!(v->features & CURL_VERSION_ASYNCHDNS)
        || !(v->features & CURL_VERSION_HTTP2))
    {
        curl_global_cleanup();
        return -1;
    }
    up = calloc(1, sizeof(*up));
    if (up == NULL) {
        curl_global_cleanup();
        return -1;
    }
    up->base = base;
    up->cfg = cfg;
    up->multi = curl_multi_init();
    if (up->multi == NULL || origins_init(up) != 0) {
        goto fail;
    }
    evtimer_assign(&up->timer_ev, base, on_timer_event, up);
    event_assign(&up->kick_ev, base, -1, 0, on_kick_event, up);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
        (long)(cfg->max_upstream_connections > 0
        ? cfg->max_upstream_connections : 16));
    /* A page's provenance objects go out at once as streams of one HTTP/2
     * connection; libcurl's own cap (100) would open a second connection
     * (two more round trips) for the rest.  The server's own limit
     * (SETTINGS_MAX_CONCURRENT_STREAMS) still applies. */
    curl_multi_setopt(up->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, 256L);
    *out = up;
    return 0;
fail:
    if (up->multi != NULL) {
        curl_multi_cleanup(up->multi);
    }
    free(up);
    curl_global_cleanup();
    return -1;
}

void
pg_upstream_free(struct pg_upstream *up)
{
    struct pg_up_sock *s;

    if (up == NULL) {
        return;
    }
    while (up->xfers != NULL) {
        up->xfers->cancelled = 1;
        xfer_destroy(up->xfers);
    }
    /* libcurl may still hold idle connections; it closes them in
     * curl_multi_cleanup, and must not call us back while it does. */
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, NULL);
    curl_multi_cleanup(up->multi);
    while (up->socks != NULL) {
        s = up->socks;
        up->socks = s->next;
        event_del(&s->ev);
        free(s);
    }
    event_del(&up->timer_ev);
    event_del(&up->kick_ev);
    free(up);
    curl_global_cleanup();
}

/* ---- libcurl → libevent (hiperfifo) ---- */

/* CURLMOPT_SOCKETFUNCTION: watch s for what libcurl asks.
 * curl_multi_assign is the one multi call libcurl documents for use here
 * (it only stores our pointer with the socket). */
static int
on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
    void *socketp)
{
    struct pg_upstream *up = userp;
    struct pg_up_sock *sk = socketp;
    short kind;

    if (what == CURL_POLL_REMOVE) {
        if (sk != NULL) {
            event_del(&sk->ev);
            if (sk->prev != NULL) {
                sk->prev->next = sk->next;
            } else {
                up->socks = sk->next;
            }
            if (sk->next != NULL) {
                sk->next->prev = sk->prev;
            }
            free(sk);
        }
        return 0;
    }
    if (sk == NULL) {
        sk = calloc(1, sizeof(*sk));
        if (sk == NULL) {
            return -1;  /* libcurl fails the transfer */
        }
        sk->up = up;
        sk->fd = s;
        sk->next = up->socks;
        if (up->socks != NULL) {
            up->socks->prev = sk;
        }
        up->socks = sk;
        curl_multi_assign(up->multi, s, sk);
    } else {
        event_del(&sk->ev);
    }
    kind = EV_PERSIST;
    if (what & CURL_POLL_IN) {
        kind |= EV_READ;
    }
    if (what & CURL_POLL_OUT) {
        kind |= EV_WRITE;
    }
    event_assign(&sk->ev, up->base, s, kind, on_sock_event, sk);
    event_add(&sk->ev, NULL);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: wake libcurl after timeout_ms (-1: never). */
static int
on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct pg_upstream *up = userp;
    struct timeval tv;

    if (timeout_ms < 0) {
        evtimer_del(&up->timer_ev);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(&up->timer_ev, &tv);
    return 0;
}

static void
on_sock_event(evutil_socket_t fd, short kind, void *arg)
{
    struct pg_up_sock *sk = arg;
    int action = 0;

    if (kind & EV_READ) {
        action |= CURL_CSELECT_IN;
    }
    if (kind & EV_WRITE) {
        action |= CURL_CSELECT_OUT;
    }
    /* sk may be freed inside drive (CURL_POLL_REMOVE) */
    drive(sk->up, fd, action);
}

static void
on_timer_event(evutil_socket_t fd, short kind, void *arg)
{
    struct pg_upstream *up = arg;

    drive(up, CURL_SOCKET_TIMEOUT, 0);
}

static void
on_kick_event(evutil_socket_t fd, short kind, void *arg)
{
    struct pg_upstream *up = arg;

    run_deferred(up);
    check_multi_info(up);
}

/* Lets libcurl act on fd (or its timers), then handles what it finished
 * and what was deferred while it ran. */
static void
drive(struct pg_upstream *up, curl_socket_t fd, int action)
{
    int running = 0;

    up->in_curl++;
    curl_multi_socket_action(up->multi, fd, action, &running);
    up->in_curl--;
    if (up->in_curl > 0) {
        return;
    }
    do {
        check_multi_info(up);
        run_deferred(up);
    } while (up->deferred != NULL);
}

/* ---- deferred work ---- */

static void
defer(struct pg_upstream_xfer *x, unsigned what)
{
    struct pg_upstream *up = x->up;

    x->defer |= what;
    if (!x->on_deferred) {
        x->on_deferred = 1;
        x->dprev = NULL;
        x->dnext = up->deferred;
        if (up->deferred != NULL) {
            up->deferred->dprev = x;
        }
        up->deferred = x;
    }
    event_active(&up->kick_ev, 0, 0);
}

static void
undefer(struct pg_upstream_xfer *x)
{
    struct pg_upstream *up = x->up;

    if (!x->on_deferred) {
        return;
    }
    if (x->dprev != NULL) {
        x->dprev->dnext = x->dnext;
    } else {
        up->deferred = x->dnext;
    }
    if (x->dnext != NULL) {
        x->dnext->dprev = x->dprev;
    }
    x->on_deferred = 0;
    x->dprev = x->dnext = NULL;
}

/* Runs outside libcurl only.  Each op clears its bit first, so a callback
 * that defers again is picked up by the loop, and an on_done that cancels
 * another transfer unlinks it before we reach it. */
static void
run_deferred(struct pg_upstream *up)
{
    struct pg_upstream_xfer *x;
    unsigned what;
    CURLcode rc;

    if (up->in_curl > 0) {
        return;
    }
    while (up->deferred != NULL) {
        x = up->deferred;
        undefer(x);
        what = x->defer;
        x->defer = 0;
        if (x->cancelled || (what & DEFER_CANCEL)) {
            xfer_destroy(x);
            continue;
        }
        if (what & DEFER_FAIL) {
            xfer_finish(x, x->fail_code, "resuming the transfer failed");
            continue;
        }
        if ((what & DEFER_ADD) && x->state == XFER_PENDING) {
            if (xfer_add(x) != 0) {
                xfer_finish(x, PG_UP_EPROTO, "could not start transfer");
                continue;
            }
        }
        if (x->state != XFER_ACTIVE) {
            continue;
        }
        if ((what & DEFER_PAUSE) && x->paused) {
            curl_easy_pause(x->easy, CURLPAUSE_RECV);
        }
        if ((what & DEFER_RESUME) && !x->paused) {
            up->in_curl++;
            rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
            up->in_curl--;
            if (rc != CURLE_OK && !x->cancelled) {
                x->fail_code = x->abort_code != PG_UP_OK ? x->abort_code
                    : PG_UP_EPROTO;
                defer(x, DEFER_FAIL);
            }
        }
    }
}

/* ---- transfers ---- */

static void
arm_idle(struct pg_upstream_xfer *x, int64_t ms)
{
    struct timeval tv;

    if (x->req.idle_timeout_ms <= 0) {
        return;
    }
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    evtimer_add(&x->idle_ev, &tv);
}

static void
on_idle_event(evutil_socket_t fd, short kind, void *arg)
{
    struct pg_upstream_xfer *x = arg;
    int64_t idle = now_ms() - x->last_activity_ms;
    char reason[PG_UP_REASON];

    if (x->paused) {
        /* we hold it back ourselves: not the upstream's silence */
        x->last_activity_ms = now_ms();
        arm_idle(x, x->req.idle_timeout_ms);
        return;
    }
    if (idle < x->req.idle_timeout_ms) {
        arm_idle(x, x->req.idle_timeout_ms - idle);
        return;
    }
    snprintf(reason, sizeof(reason), "no data from %s for %lld ms", x->url,
        (long long)idle);
    xfer_finish(x, PG_UP_ETIMEOUT, reason);
}

/* The upstream's credentials on this hop: set when its URL's origin is
 * exactly the upstream's own, cleared otherwise.  libcurl's own rule
 * (CURLOPT_UNRESTRICTED_AUTH off: no credentials to another host after
 * a redirect) does not apply here, since we follow redirects ourselves
 * by giving the same handle a new URL, which libcurl then treats as the
 * first; so every hop decides again, and a file host or a redirect's
 * target (another host, port or scheme) never gets them. */
static int
xfer_hop_cred(struct pg_upstream_xfer *x)
{
    const struct pg_up_cred *c = &x->up->cfg->cred;
    struct pg_origin o;
    CURL *e = x->easy;
    int own, bad = 0;

    if (c->username == NULL && c->token == NULL) {
        return 0;
    }
    own = x->up->has_own && pg_origin_from_url(x->url, &o, NULL) == 0
        && pg_origin_equal(&o, &x->up->origins[0]);
    bad |= curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERNAME, own && c->token == NULL
        ? c->username : NULL) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PASSWORD, own && c->token == NULL
        ? c->password : NULL) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_XOAUTH2_BEARER, own
        ? c->token : NULL) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTPAUTH, !own ? (long)CURLAUTH_NONE
        : c->token != NULL ? (long)CURLAUTH_BEARER : (long)CURLAUTH_BASIC)
        != CURLE_OK;
    return bad ? -1 : 0;
}

/* Sets the per-hop options (URL, credentials, whole-transfer timeout
 * left). */
static int
xfer_setup_hop(struct pg_upstream_xfer *x)
{
    int64_t left;

    if (curl_easy_setopt(x->easy, CURLOPT_URL, x->url) != CURLE_OK
        || xfer_hop_cred(x) != 0)
    {
        return -1;
    }
    if (x->deadline_ms > 0) {
        left = x->deadline_ms - now_ms();
        if (left < 1) {
            left = 1;
        }
        curl_easy_setopt(x->easy, CURLOPT_TIMEOUT_MS, (long)left);
    }
    x->received = 0;
    x->dropped = 0;
    x->errbuf[0] = '\0';
    free(x->redirect);
    x->redirect = NULL;
    return 0;
}

static int
xfer_add(struct pg_upstream_xfer *x)
{
    if (curl_multi_add_handle(x->up->multi, x->easy) != CURLM_OK) {
        return -1;
    }
    x->state = XFER_ACTIVE;
    if (x->paused) {
        curl_easy_pause(x->easy, CURLPAUSE_RECV);
    }
    x->last_activity_ms = now_ms();
    arm_idle(x, x->req.idle_timeout_ms);
    return 0;
}

static int
xfer_configure(struct pg_upstream_xfer *x)
{
    const struct pg_upstream_conf *cfg = x->up->cfg;
    const char *protos = cfg->allow_http ? "http,https" : "https";
    char line[PG_UPSTREAM_MAX_HEADER + 32];
    const struct { const char *name; const char *value; } hdrs[] = {
        { "Accept", x->req.accept },
        { "If-None-Match", x->req.if_none_match },
        { "If-Modified-Since", x->req.if_modified_since },
        { "Range", x->req.range },
    };
    struct curl_slist *l;
    CURL *e = x->easy;
    size_t i;
    int bad = 0;

    for (i = 0; i < sizeof(hdrs) / sizeof(hdrs[0]); i++) {
        if (hdrs[i].value == NULL) {
            continue;
        }
        if (strlen(hdrs[i].value) > PG_UPSTREAM_MAX_HEADER
            || strpbrk(hdrs[i].value, "\r\n") != NULL)
        {
            return -1;
        }
        snprintf(line, sizeof(line), "%s: %s", hdrs[i].name,
            hdrs[i].value);
        l = curl_slist_append(x->headers, line);
        if (l == NULL) {
            return -1;
        }
        x->headers = l;
    }
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, x) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, protos) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, protos)
        != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
        (long)CURL_HTTP_VERSION_2TLS) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, PG_UP_USER_AGENT)
        != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
        (long)(cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
        : 10000)) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_curl_header)
        != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_curl_write)
        != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x) != CURLE_OK;
    bad |= curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L)
        != CURLE_OK;
    /* proxies only from the configuration, never from the environment */
    bad |= curl_easy_setopt(e, CURLOPT_PROXY,
        cfg->http_proxy != NULL ? cfg->http_proxy : "") != CURLE_OK;
    if (cfg->ca_bundle != NULL) {
        bad |= curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_bundle)
            != CURLE_OK;
    }
    if (cfg->client_cert != NULL && cfg->client_key != NULL) {
        bad |= curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->client_cert)
            != CURLE_OK;
        bad |= curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->client_key)
            != CURLE_OK;
    }
    if (x->req.compressed) {
        bad |= curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "")
            != CURLE_OK;
    }
    if (x->headers != NULL) {
        bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers)
            != CURLE_OK;
    }
    return bad ? -1 : 0;
}

struct pg_upstream_xfer *
pg_upstream_start(struct pg_upstream *up, const struct pg_upstream_req *req,
    enum pg_upstream_code *code)
{
    struct pg_upstream_xfer *x;
    char *canon;

    *code = PG_UP_OK;
    canon = req->url != NULL ? origin_allowed(up, req->url) : NULL;
    if (canon == NULL) {
        *code = PG_UP_EHOST;
        return NULL;
    }
    *code = PG_UP_EPROTO;
    x = calloc(1, sizeof(*x));
    if (x == NULL) {
        free(canon);
        return NULL;
    }
    x->up = up;
    /* the request's strings are borrowed only for this call: the URL is
     * kept as checked (canonical), the header values go into x->headers
     * (xfer_configure) */
    x->req = *req;
    x->req.url = NULL;
    x->state = XFER_PENDING;
    x->resp.content_length = -1;
    evtimer_assign(&x->idle_ev, up->base, on_idle_event, x);
    x->url = canon;
    x->easy = curl_easy_init();
    if (x->url == NULL || x->easy == NULL || xfer_configure(x) != 0) {
        goto fail;
    }
    x->req.accept = x->req.if_none_match = NULL;
    x->req.if_modified_since = x->req.range = NULL;
    if (req->timeout_ms > 0) {
        x->deadline_ms = now_ms() + req->timeout_ms;
    }
    if (xfer_setup_hop(x) != 0) {
        goto fail;
    }
    x->next = up->xfers;
    if (up->xfers != NULL) {
        up->xfers->prev = x;
    }
    up->xfers = x;
    if (up->in_curl > 0) {
        defer(x, DEFER_ADD);
    } else if (xfer_add(x) != 0) {
        xfer_destroy(x);
        return NULL;
    }
    *code = PG_UP_OK;
    return x;
fail:
    curl_slist_free_all(x->headers);
    if (x->easy != NULL) {
        curl_easy_cleanup(x->easy);
    }
    free(x->url);
    free(x);
    return NULL;
}

/* Removes x from everything and frees it.  Outside libcurl only. */
static void
xfer_destroy(struct pg_upstream_xfer *x)
{
    struct pg_upstream *up = x->up;

    undefer(x);
    if (x->state == XFER_ACTIVE) {
        curl_multi_remove_handle(up->multi, x->easy);
    }
    x->state = XFER_DONE;
    event_del(&x->idle_ev);
    if (x->prev != NULL) {
        x->prev->next = x->next;
    } else if (up->xfers == x) {
        up->xfers = x->next;
    }
    if (x->next != NULL) {
        x->next->prev = x->prev;
    }
    if (up->cb_xfer == x) {
        up->cb_xfer = NULL;
    }
    curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->url);
    free(x->redirect);
    free(x);
}

void
pg_upstream_cancel(struct pg_upstream_xfer *x)
{
    if (x == NULL || x->cancelled) {
        return;
    }
    x->cancelled = 1;
    if (x->up->in_curl > 0) {
        defer(x, DEFER_CANCEL);
        return;
    }
    xfer_destroy(x);
}

void
pg_upstream_pause(struct pg_upstream_xfer *x)
{
    struct pg_upstream *up = x->up;

    if (x->cancelled || x->paused) {
        return;
    }
    x->paused = 1;
    if (x->state != XFER_ACTIVE) {
        return;             /* applied when it is added */
    }
    if (up->in_curl > 0 && up->cb_xfer != x) {
        defer(x, DEFER_PAUSE);
        return;
    }
    /* outside libcurl, or inside this transfer's own callback: libcurl
     * allows both */
    curl_easy_pause(x->easy, CURLPAUSE_RECV);
}

void
pg_upstream_resume(struct pg_upstream_xfer *x)
{
    struct pg_upstream *up = x->up;
    CURLcode rc;

    if (x->cancelled || !x->paused) {
        return;
    }
    x->paused = 0;
    x->last_activity_ms = now_ms();
    if (x->state != XFER_ACTIVE) {
        return;
    }
    if (up->in_curl > 0) {
        defer(x, DEFER_RESUME);
        return;
    }
    /* libcurl may deliver held-back bytes to on_data before returning */
    up->in_curl++;
    rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
    up->in_curl--;
    if (rc != CURLE_OK && !x->cancelled) {
        x->fail_code = x->abort_code != PG_UP_OK ? x->abort_code
            : PG_UP_EPROTO;
        defer(x, DEFER_FAIL);
    } else if (up->deferred != NULL) {
        event_active(&up->kick_ev, 0, 0);
    }
}

/* ---- response ---- */

/* Copies header name's value of the current response into buf, or leaves
 * it absent when missing or longer than the buffer. */
static const char *
header_value(CURL *e, const char *name, char *buf, size_t blen)
{
    struct curl_header *h;
    size_t len;

    if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK) {
        return NULL;
    }
    len = strlen(h->value);
    if (len >= blen) {
        return NULL;
    }
    memcpy(buf, h->value, len + 1);
    return buf;
}

static void
fill_resp(struct pg_upstream_xfer *x)
{
    long status = 0, version = 0;
    curl_off_t cl = -1;

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_HTTP_VERSION, &version);
    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    x->resp.status = status;
    x->resp.http_version = version == CURL_HTTP_VERSION_2_0 ? 2
        : version == CURL_HTTP_VERSION_3 ? 3 : 1;
    x->resp.content_length = cl >= 0 ? (int64_t)cl : -1;
    x->resp.effective_url = x->url;
    x->resp.content_type = header_value(x->easy, "Content-Type", x->ctype,
        sizeof(x->ctype));
    x->resp.etag = header_value(x->easy, "ETag", x->etag, sizeof(x->etag));
    x->resp.last_modified = header_value(x->easy, "Last-Modified",
        x->lastmod, sizeof(x->lastmod));
}

static int
is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303
        || status == 307 || status == 308;
}

/* The absolute URL of a Location header relative to base, malloc'd, or
 * NULL if it does not parse.  libcurl's URL API resolves it the way
 * libcurl itself would. */
static char *
resolve_location(const char *base, const char *location)
{
    CURLU *u = curl_url();
    char *abs = NULL, *out = NULL;

    if (u != NULL && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK
        && curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK
        && curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK)
    {
        out = strdup(abs);
    }
    curl_free(abs);
    curl_url_cleanup(u);
    return out;
}

/* The final response's headers are complete.  Either notes a redirect to
 * follow, or hands the headers to the caller.  -1 stops the transfer. */
static int
headers_complete(struct pg_upstream_xfer *x)
{
    struct curl_header *h;
    int rc;

    fill_resp(x);
    if (is_redirect(x->resp.status)
        && curl_easy_header(x->easy, "Location", 0, CURLH_HEADER, -1, &h)
        == CURLHE_OK)
    {
        if (strlen(h->value) > PG_UPSTREAM_MAX_URL) {
            x->abort_code = PG_UP_EHOST;
            return -1;
        }
        x->redirect = resolve_location(x->url, h->value);
        if (x->redirect == NULL) {
            x->abort_code = PG_UP_EHOST;
            return -1;
        }
        /* a big 3xx body is not worth reading to keep the connection */
        if (x->resp.content_length > PG_UPSTREAM_MAX_REDIRECT_BODY) {
            return -1;
        }
        return 0;
    }
    x->headers_sent = 1;
    if (x->req.max_body > 0 && x->resp.content_length >= 0
        && !x->req.compressed && x->resp.status != 304
        && (uint64_t)x->resp.content_length > x->req.max_body)
    {
        x->abort_code = PG_UP_ETOOBIG;
        return -1;
    }
    if (x->req.on_headers == NULL) {
        return 0;
    }
    x->up->cb_xfer = x;
    rc = x->req.on_headers(x->req.arg, &x->resp);
    x->up->cb_xfer = NULL;
    if (x->cancelled) {
        return -1;
    }
    if (rc != 0) {
        x->abort_code = PG_UP_EABORTED;
        return -1;
    }
    return 0;
}

/* CURLOPT_HEADERFUNCTION: one header line at a time; the blank line ends
 * a block (1xx blocks are skipped, trailers come after headers_sent). */
static size_t
on_curl_header(char *buf, size_t size, size_t n, void *arg)
{
    struct pg_upstream_xfer *x = arg;
    size_t len = size * n;
    long status = 0;

    if (x->cancelled) {
        return 0;
    }
    x->last_activity_ms = now_ms();
    if (x->headers_sent || x->redirect != NULL) {
        return len;
    }
    if (len > 2 || (len > 0 && buf[0] != '\r' && buf[0] != '\n')) {
        return len;
    }
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200) {
        return len;
    }
    return headers_complete(x) == 0 ? len : 0;
}

/* CURLOPT_WRITEFUNCTION: body bytes of the current hop. */
static size_t
on_curl_write(char *buf, size_t size, size_t n, void *arg)
{
    struct pg_upstream_xfer *x = arg;
    size_t len = size * n;
    int rc;

    if (x->cancelled) {
        return 0;
    }
    if (x->paused) {
        /* curl_easy_pause inside a callback does not stop libcurl from
         * handing over the rest of what it already read (the next chunks
         * of a chunked body); refusing them makes libcurl keep them until
         * the resume */
        return CURL_WRITEFUNC_PAUSE;
    }
    x->last_activity_ms = now_ms();
    if (!x->headers_sent && x->redirect == NULL
        && headers_complete(x) != 0)
    {
        return 0;
    }
    if (x->redirect != NULL) {
        x->dropped += len;
        return x->dropped > PG_UPSTREAM_MAX_REDIRECT_BODY ? 0 : len;
    }
    if (x->req.max_body > 0 && (x->received > x->req.max_body
        || len > x->req.max_body - x->received))
    {
        x->abort_code = PG_UP_ETOOBIG;
        return 0;
    }
    x->received += len;
    if (x->req.on_data == NULL) {
        return len;
    }
    x->up->cb_xfer = x;
    rc = x->req.on_data(x->req.arg, buf, len);
    x->up->cb_xfer = NULL;
    if (x->cancelled) {
        return 0;
    }
    if (rc != 0) {
        x->abort_code = PG_UP_EABORTED;
        return 0;
    }
    return len;
}

/* ---- completion ---- */

/* Calls on_done (unless cancelled) and frees x.  Outside libcurl only. */
static void
xfer_finish(struct pg_upstream_xfer *x, enum pg_upstream_code code,
    const char *reason)
{
    struct pg_upstream *up = x->up;

    if (x->state == XFER_ACTIVE) {
        curl_multi_remove_handle(up->multi, x->easy);
        x->state = XFER_DONE;
    }
    event_del(&x->idle_ev);
    if (!x->cancelled && x->req.on_done != NULL) {
        x->cancelled = 1;   /* exactly once */
        if (x->resp.effective_url == NULL) {
            x->resp.effective_url = x->url;
        }
        x->req.on_done(x->req.arg, code, reason, &x->resp);
    }
    xfer_destroy(x);
}

static enum pg_upstream_code
map_curl_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_OK:
        return PG_UP_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return PG_UP_ETIMEOUT;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
        return PG_UP_ECONNECT;
    case CURLE_FILESIZE_EXCEEDED:
        return PG_UP_ETOOBIG;
    case CURLE_UNSUPPORTED_PROTOCOL:
        return PG_UP_EHOST;
    default:
        return PG_UP_EPROTO;
    }
}

/* A completed hop with a Location to follow: check it, then re-add the
 * same handle with the new URL. */
static void
follow_redirect(struct pg_upstream_xfer *x)
{
    char reason[PG_UP_REASON];
    char *next = x->redirect, *canon;

    x->redirect = NULL;
    if (x->hops >= PG_UPSTREAM_MAX_REDIRECTS) {
        snprintf(reason, sizeof(reason), "more than %d redirects from %s",
            PG_UPSTREAM_MAX_REDIRECTS, x->url);
        free(next);
        xfer_finish(x, PG_UP_EPROTO, reason);
        return;
    }
    canon = origin_allowed(x->up, next);
    if (canon == NULL) {
        snprintf(reason, sizeof(reason),
            "origin not allowed: redirect from %.96s to %.96s",
            x->url, next);
        free(next);
        xfer_finish(x, PG_UP_EHOST, reason);
        return;
    }
    free(next);
    next = canon;
    if (x->deadline_ms > 0 && now_ms() >= x->deadline_ms) {
        free(next);
        xfer_finish(x, PG_UP_ETIMEOUT, "timed out following redirects");
        return;
    }
    x->hops++;
    curl_multi_remove_handle(x->up->multi, x->easy);
    x->state = XFER_DONE;
    free(x->url);
    x->url = next;
    x->resp = (struct pg_upstream_resp){ .content_length = -1 };
    if (xfer_setup_hop(x) != 0 || xfer_add(x) != 0) {
        xfer_finish(x, PG_UP_EPROTO, "could not follow redirect");
    }
}

static void
check_multi_info(struct pg_upstream *up)
{
    struct pg_upstream_xfer *x;
    enum pg_upstream_code code;
    char reason[PG_UP_REASON];
    CURLMsg *msg;
    CURLcode rc;
    int left;
    char *priv;

    if (up->in_curl > 0) {
        return;
    }
    for (;;) {
        msg = curl_multi_info_read(up->multi, &left);
        if (msg == NULL) {
            break;
        }
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        priv = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
        x = (struct pg_upstream_xfer *)(void *)priv;
        rc = msg->data.result;
        if (x == NULL) {
            continue;
        }
        if (x->cancelled) {
            xfer_destroy(x);
            continue;
        }
        if (x->redirect != NULL && x->abort_code == PG_UP_OK) {
            follow_redirect(x);
            continue;
        }
        code = x->abort_code != PG_UP_OK ? x->abort_code
            : map_curl_code(rc);
        if (code == PG_UP_OK && !x->headers_sent) {
            /* a response without a body (204, 304, empty 200) */
            if (headers_complete(x) != 0 || x->cancelled) {
                code = x->abort_code;
            }
        }
        if (code == PG_UP_OK) {
            reason[0] = '\0';
        } else if (code == PG_UP_ETOOBIG) {
            snprintf(reason, sizeof(reason), "%.160s: body over %zu bytes",
                x->url, x->req.max_body);
        } else if (code == PG_UP_EABORTED) {
            snprintf(reason, sizeof(reason), "%.160s: aborted", x->url);
        } else {
            snprintf(reason, sizeof(reason), "%.160s: %.80s", x->url,
                x->errbuf[0] != '\0' ? x->errbuf : curl_easy_strerror(rc));
        }
        if (x->cancelled) {
            xfer_destroy(x);
            continue;
        }
        xfer_finish(x, code, code == PG_UP_OK ? NULL : reason);
    }
}
