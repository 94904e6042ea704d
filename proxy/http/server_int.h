/* proxy/http/server_int.h — the HTTP layer's contract: the server's
 * state, the request and its transports, views, the hot table.
 *
 * One struct pg_server holds everything the loop owns: the evhttp server,
 * the cache, the upstream client, metrics, the worker pool and the route
 * states (pages.c, files.c) as opaque pointers.  A request (struct
 * pg_req) is born on its transport (req.c: evhttp; front.c: h2o; both
 * behind struct pg_req_ops), passes admission (admit.c) and ends in
 * exactly one place, pg_req_finish() (req.c), which runs the request's
 * cleanups, writes the access-log line, updates the request metrics and
 * frees the request's arena.  Nothing here names a folder above http/.
 * What one part of http/ alone needs has its own header: admission
 * (admit_int.h), framing (framing_int.h), the per-address counts
 * (peers_int.h), the connections and loops' limits (threads/loops_int.h);
 * the file route's own limits are in routes/routes_int.h.
 *
 * Owns: see each struct.  Runs on: loop (everything here).
 * Spec: design §2, §5, §8, §9; issue 2 items 2-8.
 */
#ifndef PG_SERVER_INT_H
#define PG_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "pg_cache.h"
#include "config_int.h"
#include "hooks_int.h"
#include "times_int.h"
#include "upstream_int.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_bound_socket;
struct evhttp_request;
struct evhttp_connection;
struct evbuffer;
struct bufferevent;
struct pg_config;
struct pg_cache;
struct pg_upstream;
struct pg_metrics;
struct pg_metric;
struct pg_workers;
struct pg_pages;
struct pg_files;
struct pg_full;
struct pg_hot;
struct pg_body;
struct pg_req;
struct pg_auth;
struct pg_conn;
struct evbuffer_file_segment;
struct sockaddr;

/* ---- limits on untrusted input (each tested at limit and limit + 1) ---- */
#define PG_MAX_PATH 1024            /* request path bytes (else 414) */
#define PG_MAX_HEADERS_BYTES 16384  /* request line + header lines, CRLFs
                                       not counted (else evhttp's 4xx) */
#define PG_MAX_REQ_BODY 4096        /* request body bytes (else 413) */
#define PG_MAX_HEADER_FIELDS 100    /* header fields (h2o's H2O_MAX_HEADERS:
                                       over it both front ends answer 400) */
#define PG_MAX_REASON 200           /* reason phrase bytes we emit */
/* ---- resource bounds ---------------------------------------------------- */
#define PG_ARENA_CHUNK 4096         /* arena grows by chunks of this */
#define PG_ARENA_MAX (1024 * 1024)  /* per-request arena ceiling */
#define PG_MAX_CLEANUPS 16          /* cleanups per request */
#define PG_SENDFILE_MIN (64 * 1024) /* smaller bodies (a blob mapped once
                                       with its cached segment, a page in
                                       memory) go out in the same writev as
                                       the headers; larger ones (blobs,
                                       pages in a memfd) by sendfile */
#define PG_FILE_CLIENT_HIGH (1024 * 1024) /* client output above this
                                       pauses the upstream transfer */
#define PG_FILECACHE_FD_VALID_MS 1000 /* an open blob (filecache.c, hot.c)
                                       is trusted this long */
#define PG_STOP_GRACE_S 10          /* SIGTERM: wait this long for requests */
#define PG_FLUSH_INTERVAL_S 30      /* pg_cache_flush period (worker) */

/* One event loop (loops.c).  loops[0] is the main loop (s->base, s->http),
 * which runs everything else and, with serve_loops = 1, serves clients;
 * loops[1..] are serving threads (front.c: h2o, each on its own
 * SO_REUSEPORT socket): they answer hot-table hits (hot.c) themselves and
 * relay every other request to the main loop (relay.c). */
struct pg_loop {
    struct pg_server *s;
    int index;
    char name[12];                      /* "0", "1", … (metric label) */
    struct event_base *base;
    struct evhttp *http;                /* loops[1..] (the main: s->http) */
    struct evhttp_bound_socket *bound;  /* loops[1..] (the main: s->bound) */
    pthread_t thread;                   /* loops[1..] */
    int started;
    struct pg_conn *conns;              /* main loop, evhttp: accepted,
                                           not yet swept */
    long nconns;
    struct event *ev_sweep;             /* counts closed connections out */
    struct event *ev_admit;             /* checks new connections' client
                                           addresses (evhttp) */
    struct event *ev_stop;              /* loops[1..]: the main loop asks */
    struct event *ev_stop_timeout;
    void (*idle_check)(struct pg_loop *lp); /* after a request of this
                                           loop ended (loops.c) */
    atomic_long inflight;               /* requests of this loop */
    atomic_long relaying;               /* of them, relayed to the main
                                           loop (in flight there too) */
    atomic_ulong nreq, nhot;            /* requests taken, hot hits */
    unsigned long nreq_seen, nhot_seen; /* counted in the metrics (main) */
    int stopping;
    struct pg_front_loop *front;        /* loops[1..]: the h2o side
                                           (front.c) */
    time_t refused_logged;              /* last "max_connections" line */
    time_t client_limit_logged;         /* last "max_client_connections" */
    time_t clients_refused_logged;      /* last "allow_clients" line */
};

struct pg_server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;  /* serve_loops = 1 */
    int listen_fd;                      /* serving thread 1's, until it
                                           started */
    struct pg_loop *loops;              /* nloops; loops[0] is the main */
    int nloops;
    atomic_long nconns_total;           /* every loop's connections */
    struct pg_peers *peers;             /* per client address (peers.c) */
    atomic_int threads_running;         /* serving threads not yet done */
    struct evhttp *ihttp;               /* relay listener (main loop) */
    struct evhttp_bound_socket *ibound;
    int iport;
    char relay_token[33];
    struct event *ev_thread_done;       /* a serving thread ended */
    struct pg_hot *hot;
    struct pg_auth *auth;               /* client tokens (auth.c) */
    struct pg_front *front;             /* h2o config of the serving
                                           threads (front.c) */
    void *tls;                          /* SSL_CTX * of the TLS listener */
    const struct pg_config *cfg;        /* borrowed from cmd_serve */
    struct pg_cache *cache;
    struct pg_upstream *up;             /* ups[0]: [upstream] */
    struct pg_upstream *ups[PG_CONFIG_MAX_UPSTREAMS]; /* one client per
                                           cfg->upstreams[i] */
    struct pg_bind *bind;               /* which upstream owns a name */
    struct pg_metrics *metrics;
    struct pg_workers *workers;
    struct pg_workers *verifiers;       /* provenance verification */
    struct pg_pages *pages;
    struct pg_files *files;
    struct pg_full *full;               /* cache disk full (full.c) */
    struct pg_proxy_hooks hooks;
    /* the operator pages (routes/ui_route.c), NULL when ui = off */
    void (*ui_handle)(void *arg, struct pg_req *r, const char *path);
    void *ui_arg;
    struct pg_route *routes;            /* the route table (server.c) */
    size_t nroutes;
    char base_url[512];                 /* render base, no final '/' */
    void *access_log;                   /* struct pg_alog * (log.c) */
    struct event *ev_term, *ev_int, *ev_hup, *ev_flush, *ev_stop;
    int stopping;
    int flushing;
    struct pg_cache_err flush_err;      /* written by the flush job */
    uint64_t evictions_seen;            /* for the evictions counter */
    /* metric families */
    struct pg_metric *m_requests;       /* route, status */
    struct pg_metric *m_duration;       /* route */
    struct pg_metric *m_inflight;
    struct pg_metric *m_bytes;          /* route */
    struct pg_metric *m_hits;           /* kind */
    struct pg_metric *m_misses;         /* kind */
    struct pg_metric *m_stale;          /* kind */
    struct pg_metric *m_up_requests;    /* kind */
    struct pg_metric *m_up_errors;      /* kind, reason */
    struct pg_metric *m_up_duration;    /* kind */
    struct pg_metric *m_blob_bytes;
    struct pg_metric *m_blob_count;
    struct pg_metric *m_evictions;
    struct pg_metric *m_mismatch;
    struct pg_metric *m_entries_dropped; /* malformed page file entries */
    struct pg_metric *m_pages_mem;
    struct pg_metric *m_pages_bytes;
    struct pg_metric *m_downloads;
    struct pg_metric *m_conns;          /* gauge: client connections */
    struct pg_metric *m_conns_refused;  /* closed at accept (cap) */
    struct pg_metric *m_send_timeouts;  /* serving threads' send timeout */
    struct pg_metric *m_client_limit;   /* closed at accept: the address
                                           had max_client_connections */
    struct pg_metric *m_header_timeouts; /* client_header_timeout */
    struct pg_metric *m_idle_closed;    /* idle, closed at the cap */
    struct pg_metric *m_clients_refused; /* 403: not in allow_clients */
    struct pg_metric *m_auth_refused;   /* 401 (auth.c) */
    struct pg_metric *m_auth_limited;   /* 429 (auth.c) */
    uint64_t auth_refused_seen, auth_limited_seen;
    struct pg_metric *m_page_jobs;      /* step, thread (pages.c) */
    struct pg_metric *m_loop_requests;  /* loop: requests each loop took */
    struct pg_metric *m_hot_hits;       /* loop: answered from hot.c */
    struct pg_metric *m_hot_entries, *m_hot_bytes, *m_hot_evictions;
    uint64_t hot_evictions_seen;
    struct pg_metric *m_relayed;        /* relayed to the main loop */
    struct pg_metric *m_page_job_seconds; /* step */
    struct pg_metric *m_blob_damaged;   /* found: serve, scrub */
    struct pg_metric *m_rehash_bytes;   /* by: serve, scrub */
    struct pg_metric *m_rehash_seconds; /* re-hash before first serve */
    struct pg_metric *m_cache_full;     /* gauge: the store is full */
};

struct pg_arena_chunk;
struct pg_req;

/* How a request is answered on its transport (nginx's c->send, curl's
 * connection filters): req.c's helpers call these, never a transport by
 * name.  evhttp's are in req.c, h2o's in front.c, a test's fake in
 * tests/http.  conn is r->front for the transports other than evhttp. */
struct pg_req_ops {
    /* Whether the transport still holds the request (client_gone aside). */
    int (*live)(const struct pg_req *r);
    const char *(*query)(struct pg_req *r);     /* raw query, NULL none */
    const char *(*header)(struct pg_req *r, const char *name);
    void (*set_header)(struct pg_req *r, const char *name, const char *v);
    int (*has_out_header)(struct pg_req *r, const char *name);
    size_t (*output_pending)(struct pg_req *r);
    /* The whole reply (body consumed, NULL for none); calls
     * pg_req_finish. */
    void (*reply)(struct pg_req *r, int code, const char *phrase,
        struct evbuffer *body);
    /* A streamed reply (NULL: this transport does not stream; the serving
     * threads relay downloads to the main loop): start_stream sends the
     * status line and the headers set, stream queues a chunk (consumed)
     * and calls drained(arg) once the client took it (NULL: nothing),
     * end_stream ends the reply. */
    void (*start_stream)(struct pg_req *r, int code, const char *phrase);
    void (*stream)(struct pg_req *r, struct evbuffer *chunk,
        void (*drained)(void *arg), void *arg);
    void (*end_stream)(struct pg_req *r);
    /* Resets the client connection; sets client_gone. */
    void (*abort)(struct pg_req *r);
    /* At pg_req_finish, before r is freed (NULL: nothing). */
    void (*done)(struct pg_req *r);
    int sendfile;               /* a body may hold a sendfile segment */
};

/* One row of the route table: path exact, or a prefix whose rest is
 * handed over.  Exact rows are tried first (admit.c). */
/* A row of the route table: a module's handler and, set by the
 * composition root, the module state it is handed (arg). */
struct pg_route {
    const char *path;
    int prefix;
    void (*handle)(void *arg, struct pg_req *r, const char *rest);
    void *arg;
};

struct pg_req_cleanup {
    void (*fn)(void *arg);
    void *arg;
};

struct pg_req {
    struct pg_server *s;
    const struct pg_req_ops *ops;       /* its transport */
    struct pg_loop *loop;               /* the loop it arrived on */
    struct evhttp_request *ereq;        /* NULL once libevent freed it */
    struct evhttp_connection *evcon;
    void *front;                        /* the transport's request when
                                           not evhttp (h2o_req_t * on a
                                           serving thread, front.c; a
                                           test's fake); then ereq and
                                           evcon are NULL */
    int body_fd;                        /* >= 0: the reply body is the
                                           file range [body_off, +len) of
                                           this fd (the body's file
                                           segment keeps it open) */
    uint64_t body_off;
    struct timespec t0;
    const char *route;                  /* static: "project", "file", … */
    const char *cache;                  /* static: "hit", "miss", "-", … */
    const char *method;
    char *path;                         /* arena copy of the raw path */
    char *query;                        /* front: arena copy of the raw
                                           query (NULL: none) */
    char client[64];                    /* peer address */
    char user[64];                      /* the client's token name ("":
                                           none; auth.c) */
    int is_head;
    int status;                         /* what we answered */
    uint64_t bytes;                     /* body bytes queued */
    int client_gone;                    /* connection closed under us */
    int ereq_detached;                  /* libevent left ereq to us */
    int started;                        /* a streamed reply was started */
    void (*on_gone)(struct pg_req *r);  /* client closed while streaming */
    void (*on_drained)(void *arg);      /* the last chunk streamed was
                                           taken (pg_req_stream) */
    void *drained_arg;
    void *route_state;                  /* files.c per-request state */
    void *page_state;                   /* pages.c: the binding of the
                                           project being loaded */
    int quiet;                          /* relayed: the main loop logs and
                                           counts it, not this loop */
    int relayed;                        /* counted in loop->relaying */
    char note[PG_MAX_REASON];           /* why, for the access line */
    struct pg_arena_chunk *arena;
    size_t arena_total;
    struct pg_req_cleanup cleanups[PG_MAX_CLEANUPS];
    int ncleanups;
};

/* ---- req.c ------------------------------------------------------------- */
/* Allocates from the request's arena (zeroed, 16-byte aligned); NULL over
 * PG_ARENA_MAX.  Freed by pg_req_finish. */
void *pg_req_alloc(struct pg_req *r, size_t n);
char *pg_req_strdup(struct pg_req *r, const char *s);
char *pg_req_strndup(struct pg_req *r, const char *s, size_t n);
/* Registers fn(arg) to run at pg_req_finish (reverse order); -1 if full. */
int pg_req_cleanup_add(struct pg_req *r, void (*fn)(void *), void *arg);
struct pg_req *pg_req_new(struct pg_loop *lp, struct evhttp_request *ereq);
/* A request on another transport (h2o: front.c; a test's fake); conn
 * goes to r->front. */
struct pg_req *pg_req_new_ops(struct pg_loop *lp,
    const struct pg_req_ops *ops, void *conn);
/* Whether r can still be answered (client there, request not handed
 * back). */
int pg_req_live(const struct pg_req *r);
/* Whether a reply body may hold a sendfile segment (plain evhttp). */
int pg_req_sendfile_ok(const struct pg_req *r);
/* The raw query string of the target (NULL if none). */
const char *pg_req_query(struct pg_req *r);
/* Whether a response header name was set. */
int pg_req_has_out_header(struct pg_req *r, const char *name);
/* Ends the request: cleanups, access line, metrics, frees r. */
void pg_req_finish(struct pg_req *r);
/* Sends a complete reply (body may be NULL; consumed) and finishes. */
void pg_req_send(struct pg_req *r, int code, const char *reason,
    struct evbuffer *body);
/* A streamed reply (files.c's downloads): the status line and the
 * headers set (r->status, r->started set); chunks (consumed; counted in
 * r->bytes; drained(arg) runs once the client took the chunk, NULL:
 * nothing); the end, which finishes r.  Only the main loop's transport
 * streams (the serving threads relay downloads to it); on another these
 * send nothing. */
void pg_req_start_stream(struct pg_req *r, int code, const char *phrase);
void pg_req_stream(struct pg_req *r, struct evbuffer *chunk,
    void (*drained)(void *arg), void *arg);
void pg_req_end_stream(struct pg_req *r);
/* Why a request is refused: each class has one status and title (req.c's
 * table), so no call site picks them. */
enum pg_refusal {
    PG_REFUSE_MOVED,                    /* 301 (a Location is set) */
    PG_REFUSE_BAD_REQUEST,              /* 400 */
    PG_REFUSE_UNAUTHORIZED,             /* 401: operator pages' admin (a
                                           WWW-Authenticate is set) */
    PG_REFUSE_FORBIDDEN,                /* 403: policy, mismatch, host */
    PG_REFUSE_CLIENT,                   /* 403: not in allow_clients */
    PG_REFUSE_NOT_FOUND,                /* 404 */
    PG_REFUSE_METHOD,                   /* 405 */
    PG_REFUSE_NOT_ACCEPTABLE,           /* 406 */
    PG_REFUSE_URI_TOO_LONG,             /* 414 */
    PG_REFUSE_RANGE,                    /* 416 */
    PG_REFUSE_TOO_MANY,                 /* 429: failed authentications
                                           (a Retry-After is set) */
    PG_REFUSE_HEAD_TOO_LARGE,           /* 431 */
    PG_REFUSE_BAD_GATEWAY,              /* 502: the upstream failed */
    PG_REFUSE_NOMEM,                    /* 503 */
    PG_REFUSE_UNAVAILABLE,              /* 503: a local resource */
    PG_REFUSE_RETRY,                    /* 503: retry (cache full) */
    PG_REFUSE_STOPPING                  /* 503: the server stops */
};
int pg_refusal_status(enum pg_refusal why);
const char *pg_refusal_title(enum pg_refusal why);
/* An upstream client failure's refusal (403 for a host not allowed). */
enum pg_refusal pg_refusal_of_upstream(enum pg_upstream_code code);
/* Refuses r: the class's status and title, an application/problem+json
 * body whose detail is also the reason phrase (sanitized).  Finishes the
 * request. */
void pg_req_refuse(struct pg_req *r, enum pg_refusal why, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
/* Resets the client connection (SO_LINGER 0): the client sees an
 * incomplete body.  why (or NULL: the note stays) goes to the access line
 * as "connection reset: why"; the status stays the one started (200 if
 * none).  Finishes the request. */
void pg_req_abort(struct pg_req *r, const char *why);
/* Request header (NULL if absent). */
const char *pg_req_header(struct pg_req *r, const char *name);
void pg_req_set_header(struct pg_req *r, const char *name, const char *v);
/* Whether the client connection's output holds more than n bytes. */
size_t pg_req_output_pending(struct pg_req *r);
/* 1 if the If-None-Match value lists etag (weak comparison) or "*". */
int pg_etag_match_list(const char *inm, const char *etag);

/* ---- log.c ------------------------------------------------------------- */
int pg_log_open(struct pg_server *s, const char *path);
void pg_log_close(struct pg_server *s);
/* One event line ("provgate: …") on the access log's stream. */
void pg_log(struct pg_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void pg_log_access(struct pg_server *s, const struct pg_req *r, double ms);

/* ---- hot.c (see there) -------------------------------------------------- */
/* What answering a page needs; bodies by reference (pages.c). */
struct pg_page_view {
    struct pg_body *body[4];            /* json, json gz, html, html gz */
    char hash[2][24];
    time_t fetched_at, changed_at, fresh_until;
    int64_t ttl;
    int is_list;
    char lm[32];                        /* Last-Modified, made once */
};
/* What answering a cached file needs (files.c). */
struct pg_file_view {
    char sha[65];
    char *filename, *upload_time;
    int is_meta;
    int page_hit;                       /* its decision loaded the page */
    uint64_t size;
    uint64_t cache_gen;                 /* LMDB generation it was read at */
    time_t fresh_until;                 /* of the page it was decided on */
    int64_t valid_until_ms;             /* segment age limit (hot.c) */
    int64_t touched_ms;                 /* last LRU touch (hot.c) */
    char lm[32];                        /* Last-Modified ("" none) */
    time_t lm_time;                     /* its time ((time_t)-1 none) */
    struct evbuffer_file_segment *seg;
    int fd;                             /* seg's (hot.c; else -1) */
};
/* A rendered page body, shared by reference by every loop's replies. */
struct pg_body {
    atomic_int refs;            /* replies on any loop hold references */
    size_t len;
    struct evbuffer_file_segment *seg; /* len >= PG_SENDFILE_MIN: the
                                   bytes are in a memfd instead of data[]
                                   and go out with sendfile */
    int fd;                     /* seg's memfd (the segment owns it) */
    int on_disk;                /* seg is a file in <cache_dir>/tmp, not
                                   memory (a page over the cap) */
    char data[];
};
#define PG_VIEW_BODIES 4
void pg_body_unref(struct pg_body *b);
/* Memory a body takes (its header only when on disk); 0 for NULL. */
size_t pg_body_bytes(const struct pg_body *b);
/* evbuffer_add_reference's cleanup: drops the reply's reference. */
void pg_body_on_done(const void *data, size_t len, void *arg);

/* ---- views.c: answering from a ready view (see there) ------------------ */
/* One "bytes=" range of a representation of size bytes (RFC 9110 14.2):
 * 0 and [*a, *b]; 1 unsatisfiable (416); -1 ignore the header (malformed,
 * or several ranges: the whole body is sent). */
int pg_http_parse_range(const char *h, uint64_t size, uint64_t *a,
    uint64_t *b);
/* Whether an If-Range value (NULL: none) lets the range apply: our strong
 * etag, or the Last-Modified date lm ("" none). */
int pg_http_if_range_ok(const char *ir, const char *etag, const char *lm);
void pg_page_view_ref(struct pg_page_view *v);
void pg_page_view_unref(struct pg_page_view *v);
/* Memory v's bodies take (bodies on disk count their header only). */
size_t pg_page_view_bytes(const struct pg_page_view *v);
/* Answers r (any loop) from v: negotiation, validators, 304, gzip. */
void pg_view_serve_page(struct pg_req *r, const struct pg_page_view *v);
/* Answers r (any loop) from a cached file's view: 304, Range, HEAD; a
 * cache hit (route "file"). */
void pg_view_serve_file(struct pg_req *r, const struct pg_file_view *v);
/* The pieces files.c answers with: "file" or "metadata"; the headers of
 * a file answer; 1 if the validators say 304; the reply from seg (fd its
 * file, or -1) of size bytes. */
const char *pg_view_file_kind(const struct pg_file_view *v);
void pg_view_file_headers(struct pg_req *r, const struct pg_file_view *v);
int pg_view_file_not_modified(struct pg_req *r,
    const struct pg_file_view *v);
void pg_view_file_send(struct pg_req *r, const struct pg_file_view *v,
    struct evbuffer_file_segment *seg, int fd, uint64_t size);

/* ---- hot.c -------------------------------------------------------------- */
int pg_hot_new(struct pg_server *s, struct pg_hot **out);
void pg_hot_free(struct pg_hot *h);
/* Drops every entry (main loop: whatever other loops answer may change). */
void pg_hot_invalidate(struct pg_hot *h);
void pg_hot_remove(struct pg_hot *h, const char *path);
/* Main loop, after answering a hit from v (copied; references taken). */
void pg_hot_publish_page(struct pg_hot *h, const char *path,
    const struct pg_page_view *v);
void pg_hot_publish_file(struct pg_hot *h, const char *path,
    const struct pg_file_view *v);
/* Any loop: 1 if r was answered (and finished) from a valid entry. */
int pg_hot_serve(struct pg_hot *h, struct pg_req *r);
/* Entries and bytes held, and entries evicted to stay within the bounds
 * (hot_table_max_bytes, PG_HOT_MAX). */
void pg_hot_stats(struct pg_hot *h, size_t *count, size_t *bytes,
    uint64_t *evictions);

/* ---- stats.c: the serving layer's metric families ---------------------- */
/* Registers them (one table); -1 on a refused row. */
int pg_stats_add(struct pg_server *s);
/* Counts an upstream request's outcome (kind: "page", "list", "file",
 * "metadata"; error NULL on success). */
void pg_stats_upstream_done(struct pg_server *s, const char *kind,
    const char *error, int64_t t0_ms);
/* A cache outcome ("hit", "miss", "stale") of kind. */
void pg_stats_cache_event(struct pg_server *s, const char *kind,
    const char *what);
/* Malformed file entries left out of an upstream page. */
void pg_stats_entries_dropped(struct pg_server *s, size_t n);
/* A page job done (step: load, parse, …; thread: worker or loop). */
void pg_stats_page_job(struct pg_server *s, const char *step,
    const char *thread, double seconds);
/* A downloaded file did not match its index (size or sha256). */
void pg_stats_mismatch(struct pg_server *s);

#endif
