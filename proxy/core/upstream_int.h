/* proxy/core/upstream_int.h — the upstream HTTP client: libcurl multi on
 * libevent.
 *
 * One pg_upstream per configured upstream ([upstream], each
 * [upstream:NAME]: struct pg_upstream_conf, its own origins, TLS settings,
 * proxy and timeouts) drives every upstream transfer through
 * libcurl's multi-socket API on the server's event_base (hiperfifo style):
 * socket and timer callbacks only call curl_multi_socket_action, and
 * completions are handled after it returns.  HTTP/2 is used where the
 * upstream offers it (multiplexed), DNS is asynchronous (c-ares or threaded
 * resolver inside libcurl), nothing blocks the loop.
 *
 * A transfer reports headers once, body bytes as they arrive (streaming),
 * then exactly one on_done.  After pg_upstream_cancel no callback runs.
 * Redirects are followed only to hosts in cfg->file_hosts or the upstream's
 * host; a URL on any other host is refused before any connection is made.
 *
 * Calls from inside a callback: pg_upstream_start, _cancel (of another
 * transfer), _pause and _resume may be called from any callback; what
 * libcurl does not allow inside its callbacks is deferred to just after
 * libcurl returns (a transfer cancelled that way still runs no callback).
 * pg_upstream_pause from a transfer's own on_headers/on_data takes effect
 * at once (the bytes already delivered stay delivered).  on_data may run
 * inside pg_upstream_resume (libcurl hands over what it held back).  After
 * on_done returns the transfer is freed: do not touch it again.
 *
 * Security: only http and https (http only with cfg->allow_http), libcurl
 * never follows redirects itself (we check the host of each Location, at
 * most PG_UPSTREAM_MAX_REDIRECTS hops), proxies come only from
 * cfg->http_proxy (environment variables are ignored), TLS is verified
 * (cfg->ca_bundle or the system store; cfg->client_cert presented when
 * set).
 *
 * Owns: the CURLM, its easy handles, the libevent events for its sockets.
 * Borrows: the event_base and the config (must outlive it).
 * Runs on: loop.
 */
#ifndef PG_UPSTREAM_INT_H
#define PG_UPSTREAM_INT_H

#include <stddef.h>
#include <stdint.h>

#define PG_UPSTREAM_MAX_REDIRECTS 5     /* hops followed per transfer */
#define PG_UPSTREAM_MAX_URL 8192        /* bytes of a URL or Location */
#define PG_UPSTREAM_MAX_HEADER 1024     /* bytes of a header value we
                                           report; longer = reported absent */
#define PG_UPSTREAM_MAX_REDIRECT_BODY 65536 /* body of a 3xx we follow,
                                           read and dropped; longer aborts
                                           that hop (not the transfer) */

struct event_base;
struct pg_upstream_conf;
struct pg_upstream;
struct pg_upstream_xfer;

enum pg_upstream_code {
    PG_UP_OK = 0,           /* transfer complete (any HTTP status) */
    PG_UP_ECONNECT,         /* could not connect / DNS / TLS */
    PG_UP_ETIMEOUT,
    PG_UP_ETOOBIG,          /* body over max_body */
    PG_UP_EHOST,            /* URL or redirect to a host not allowed */
    PG_UP_EABORTED,         /* a callback asked to stop */
    PG_UP_EPROTO            /* anything else libcurl reports */
};

/* Response facts, valid during the callback that receives them. */
struct pg_upstream_resp {
    long status;
    const char *content_type;   /* NULL if absent */
    const char *etag;
    const char *last_modified;
    int64_t content_length;     /* -1 if unknown */
    const char *effective_url;  /* after redirects */
    int http_version;           /* 1 or 2 */
};

struct pg_upstream_req {
    const char *url;
    const char *accept;             /* Accept header, optional */
    const char *if_none_match;      /* optional */
    const char *if_modified_since;  /* optional */
    const char *range;              /* "bytes=a-b", optional */
    size_t max_body;                /* 0 = no cap (streaming) */
    int64_t timeout_ms;             /* whole transfer; 0 = none */
    int64_t idle_timeout_ms;        /* no bytes for this long; 0 = none */
    /* Return non-zero to abort the transfer (on_done gets PG_UP_EABORTED). */
    int (*on_headers)(void *arg, const struct pg_upstream_resp *resp);
    /* Body bytes as they arrive.  Return non-zero to abort. */
    int (*on_data)(void *arg, const void *buf, size_t len);
    /* Exactly once, unless cancelled.  reason is a short message for logs
     * ("connect to pypi.org:443 failed: …"). */
    void (*on_done)(void *arg, enum pg_upstream_code code,
        const char *reason, const struct pg_upstream_resp *resp);
    void *arg;
    /* Added: 1 = send Accept-Encoding (gzip, br, zstd, deflate) and
     * decode; on_data then gets decoded bytes, max_body counts decoded
     * bytes and resp->content_length is the encoded length.  Leave 0 for
     * files and Range requests. */
    int compressed;
};

/* Returns 0, or -1 if libcurl lacks asynchronous DNS or HTTP/2 support
 * (nothing on the loop may block) or on allocation failure. */
int pg_upstream_new(struct event_base *base,
    const struct pg_upstream_conf *cfg, struct pg_upstream **out);
/* Cancels every transfer still running (no callbacks) and frees up.  Not
 * from a transfer's callback. */
void pg_upstream_free(struct pg_upstream *up);

/* Writes "libcurl/7.88.1 OpenSSL/3.0.11 …; async DNS: threaded resolver;
 * HTTP/2: yes" into out — for the start-up log line. */
void pg_upstream_describe(char *out, size_t olen);

/* Starts a transfer.  Returns NULL (and calls nothing) if the URL's host is
 * not allowed or on allocation failure; *code says which. */
struct pg_upstream_xfer *pg_upstream_start(struct pg_upstream *up,
    const struct pg_upstream_req *req, enum pg_upstream_code *code);
/* Stops a transfer; no callback runs after this.  Not from its own
 * callbacks: return non-zero there instead. */
void pg_upstream_cancel(struct pg_upstream_xfer *x);
/* Back-pressure: stop/resume delivering body bytes (slow client). */
void pg_upstream_pause(struct pg_upstream_xfer *x);
void pg_upstream_resume(struct pg_upstream_xfer *x);

/* 1 if url is http(s) on an allowed host (and http only if allowed). */
int pg_upstream_url_allowed(const struct pg_upstream *up, const char *url);

const char *pg_upstream_strerror(enum pg_upstream_code code);

#endif
