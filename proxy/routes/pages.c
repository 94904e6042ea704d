/* proxy/routes/pages.c — index routes: /simple/ and /simple/<project>/.
 *
 * A page (struct pg_page, keyed by normalized project, "/" for the project
 * list) lives in memory with its model (annotated by the provenance hook)
 * and four rendered bodies: JSON, JSON gzip, HTML, HTML gzip.  They are
 * rendered once per cache update (upstream 200, or a load from LMDB after a
 * restart or a reannotate) and shared with every reply by reference
 * (evbuffer_add_reference on a refcounted body), so a hit costs no render,
 * no copy and no compression.
 *
 * Memory is bounded in bytes (page_cache_max_bytes, issue 10 item 6): each
 * page counts its model (jansson's own allocations, model_bytes) and the
 * bodies it holds in memory (in the heap or a memfd); least recently used
 * idle pages are dropped when the sum is over the cap (LMDB keeps them).
 * A page that alone would take more than the cap is kept out of memory:
 * the render job writes its bodies to unlinked files in <cache_dir>/tmp
 * (served with sendfile and ranges like a memfd body or a blob), and once
 * its waiters are answered its model is dropped ("shed").  The page stays
 * ready for the index routes; a caller that needs the model (a file's
 * decision, /integrity/) reloads it from LMDB, annotated and rendered as
 * on any install, and it is shed again after that caller is answered.
 *
 * Freshness: fetched_at + ttl (index_ttl, list_ttl).  A stale or missing
 * page starts ONE upstream fetch; every request for it meanwhile waits on
 * the page's waiter list (concurrent misses cost one upstream request).
 * The fetch asks for PEP 691 JSON and sends the stored validators
 * (If-None-Match / If-Modified-Since): a 304 only refreshes fetched_at.  A
 * 200 is parsed (JSON or HTML by Content-Type; any other type, or none,
 * is a failed fetch like a malformed page), stored in LMDB (INDEX:
 * upstream model + validators + times; FILES: sha256 → file record; PATHS:
 * proxy path → sha256; the .metadata file of each file that has one too),
 * then annotated, rendered and installed.  On an upstream error, timeout,
 * 5xx or a body over max_json_bytes, a stale page is served (when
 * stale_if_error) with a log line, else 502 with the reason; nothing from a
 * failed fetch is stored.
 *
 * Nothing heavy runs on the loop (see "worker jobs"): parsing an upstream
 * page (up to max_json_bytes) and writing its records to LMDB (durable
 * commits, an fsync each), reading and parsing a stored page, rendering
 * both formats with their gzip, and recording a revalidation's time all
 * run on the worker pool; the loop only moves the results in.  Requests
 * for a page with a job in flight wait like those for a page in fetch.
 *
 * Owns: the pages, their bodies (refcounted), fetch transfers, the jobs
 * not yet done.  Borrows: the server.  Runs on: loop; the job_work side of
 * the worker jobs on a worker.
 * Spec: design §5, §8; issue 2 items 3, 5, 7, 8; PEP 503, 691.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <malloc.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/sha.h>

#include "audit_int.h"
#include "bind_int.h"
#include "config_int.h"
#include "index_int.h"
#include "lru_int.h"
#include "pages_int.h"
#include "pg_cache.h"
#include "routes_int.h"
#include "server_int.h"
#include "metrics_int.h"
#include "upstream_int.h"
#include "worker_int.h"

#define PAGES_BUCKETS 4096
#define PG_STALE_RETRY_S 10         /* while stale after a failed refresh,
                                       retry upstream at most this often
                                       (or every TTL if shorter) */
                                    /* "NAME:project" (a private
                                       upstream's), "project" ([upstream]'s) */
#define PAGE_ACCEPT "application/vnd.pypi.simple.v1+json, " \
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


enum page_outcome { OUT_HIT, OUT_MISS, OUT_REVALIDATED, OUT_STALE };

/* Work over this many bytes (an upstream body, a model) gives its freed
 * memory back to the system once done (malloc_trim): glibc keeps the
 * small chunks of a freed jansson tree in its arenas otherwise. */
#define PAGE_TRIM_MIN ((size_t)256 << 10)



struct merge_memo;

struct pg_page_wait {
    struct pg_req *r;
    pg_page_ready_fn cb;
    int need_model;             /* pg_pages_load: the caller reads the
                                   model, not only the bodies */
    struct pg_page_wait *next;
};

struct pg_page {
    struct pg_lru_node n;       /* first; key = key, bytes = what this
                                   page holds in memory */
    struct pg_pages *owner;
    char key[PAGE_KEY_MAX];
    const char *project;        /* in key: the name after "NAME:", or "/" */
    size_t up;                  /* its upstream: index in cfg->upstreams */
    uint64_t gen;               /* changes with each model installed */
    int is_list;
    json_t *model;              /* annotated; NULL until ready, or
                                   shed (a page over the cap) */
    size_t model_bytes;         /* jansson's allocations for model */
    struct pg_body *body[B_COUNT];
    char hash[2][24];           /* per plain body (json, html) */
    time_t fetched_at, changed_at;
    char lm[32];                /* changed_at as Last-Modified ("" none) */
    char *up_etag, *up_lastmod; /* upstream validators */
    int ready;
    /* busy states */
    int fetching, installing;
    int waking;                 /* waiter callbacks running: keep alive */
    int invalid;                /* invalidated while busy: removed once
                                   its waiters are answered (reannotate) */
    time_t stale_until;         /* after a failed refresh: serve stale
                                   without asking upstream until then */
    json_t *stored;             /* LMDB model, not yet installed */
    time_t stored_fetched, stored_changed;
    struct page_job *job;       /* load, parse or render on a worker */
    struct pg_upstream_xfer *xfer;
    struct evbuffer *acc;
    int too_big;
    int64_t t0;
    enum page_outcome outcome;
    struct pg_page_wait *waiters, *wtail;
};

struct pg_pages {
    struct pg_ctx ctx;          /* given at construction */
    struct pg_server *log;      /* ctx.log: pg_log's stream, the serving
                                   metrics (pg_stats_*) */
    struct pg_lru *table;       /* key → page, bounded by max_bytes */
    size_t max_bytes;           /* page_cache_max_bytes */
    int closing;                /* pg_pages_free: hot table left alone */
    struct page_job *jobs;      /* submitted, done not yet run */
    uint64_t gen;               /* last page generation given */
    uint64_t list_gen[PG_CONFIG_MAX_UPSTREAMS]; /* of the list page the
                                   binding last took upstream i's names
                                   from (0: none) */
    struct merge_memo *merge;   /* /simple/ with private upstreams */
    pthread_t loop_thread;      /* the thread that runs the loop */
};

/* Work done on a worker for a page (see "worker jobs" below).  The job owns
 * every input and output; the loop side (pg, ps) is touched only by
 * job_done, on the loop.  pg is NULL for JOB_TOUCH and JOB_DROP. */
enum job_step { JOB_LOAD, JOB_PARSE, JOB_RENDER, JOB_TOUCH, JOB_DROP };

struct page_job {
    struct pg_pages *ps;
    struct pg_page *pg;
    enum job_step step;
    struct pg_cache *cache;         /* borrowed: outlives the pool */
    const char *base_url;           /* borrowed: the server's */
    const char *cache_dir;          /* borrowed: the server's config */
    size_t cap_bytes;               /* JOB_RENDER: the page cache cap */
    char key[PAGE_KEY_MAX];
    int is_list;
    int reload;                     /* JOB_LOAD: the model of a shed
                                       page, installed whatever its age */
    /* JOB_PARSE input: the upstream body, its type and URL */
    struct evbuffer *body;
    int is_json;
    char *base;
    uint64_t max_bytes;
    /* validators: JOB_PARSE input, JOB_LOAD output */
    char *etag, *lastmod;
    /* times: JOB_PARSE/JOB_TOUCH input, JOB_LOAD output, JOB_RENDER
     * passes them through to the install */
    time_t fetched, changed;
    /* model: JOB_LOAD/JOB_PARSE output, JOB_RENDER/JOB_DROP input */
    json_t *model;
    /* JOB_RENDER output */
    struct pg_body *nb[B_COUNT];
    char nh[2][24];
    size_t model_bytes;             /* JOB_RENDER output, JOB_DROP input */
    /* results */
    int rc;
    char msg[PG_MAX_REASON];
    struct pg_cache_err err;
    int64_t up_ms;                  /* JOB_PARSE: the upstream request's
                                       own duration (metrics) */
    size_t dropped;                 /* JOB_PARSE: malformed file entries
                                       left out (PG_INDEX_DROPPED) */
    char drop_first[160];
    int off_loop;                   /* work ran on another thread */
    int64_t work_ms;
    struct page_job *prev, *next;
};

/* ---- table ------------------------------------------------------------- */

/* The pages are entries of one bounded table (util/lru.c): linked without
 * dropping anything (a page may be busy), their bytes recounted in place
 * (page_account), and trimmed to page_cache_max_bytes skipping busy ones
 * (evict_idle).  Leaving the table frees a page (on_page_drop). */

static void model_drop(struct pg_page *pg, json_t *model, size_t bytes);

/* The request path a page answers (its hot-table key). */
static void
page_path(const struct pg_page *pg, char *out, size_t outlen)
{
    if (pg->is_list) {
        snprintf(out, outlen, "/simple/");
    } else {
        snprintf(out, outlen, "/simple/%s/", pg->project);
    }
}

/* A page leaving memory leaves the hot table too (its bodies go). */
static void
hot_forget(struct pg_pages *ps, const struct pg_page *pg)
{
    char path[PG_INDEX_MAX_NAME + 16];

    if (pg->is_list && pg->up != 0) {
        return;     /* a private upstream's list is never served as is */
    }
    page_path(pg, path, sizeof(path));
    pg_hot_remove(ps->ctx.hot, path);
}

static int
page_busy(const struct pg_page *pg)
{
    return pg->fetching || pg->installing || pg->waking
        || pg->job != NULL || pg->waiters != NULL;
}

static void
page_free(struct pg_page *pg)
{
    int i;

    if (pg->xfer != NULL) {
        pg_upstream_cancel(pg->xfer);
    }
    for (i = 0; i < B_COUNT; i++) {
        pg_body_unref(pg->body[i]);
    }
    model_drop(pg, pg->model, pg->model_bytes);
    model_drop(pg, pg->stored, 0);
    free(pg->up_etag);
    free(pg->up_lastmod);
    if (pg->acc != NULL) {
        evbuffer_free(pg->acc);
    }
    free(pg);
}

/* A page leaving the table (removed or evicted) leaves memory. */
static void
on_page_drop(void *arg, struct pg_lru_node *n)
{
    struct pg_pages *ps = arg;
    struct pg_page *pg = (struct pg_page *)n;

    if (!ps->closing) {
        hot_forget(ps, pg);
    }
    page_free(pg);
}

static int
on_page_busy(void *arg, const struct pg_lru_node *n)
{
    (void) arg;
    return page_busy((const struct pg_page *)n);
}

static void
page_remove(struct pg_pages *ps, struct pg_page *pg)
{
    pg_lru_remove(ps->table, &pg->n);
}

/* Recounts what pg holds in memory (after its model or bodies changed). */
static void
page_account(struct pg_pages *ps, struct pg_page *pg)
{
    size_t b = sizeof(*pg) + (pg->model != NULL ? pg->model_bytes : 0);
    int i;

    for (i = 0; i < B_COUNT; i++) {
        b += pg_body_bytes(pg->body[i]);
    }
    pg_lru_set_bytes(ps->table, &pg->n, b);
}

/* Drops least recently used idle pages while over the cap (busy ones
 * stay: requests wait on them; so does keep, the caller's). */
static void
evict_idle(struct pg_pages *ps, const struct pg_page *keep)
{
    pg_lru_trim(ps->table, keep != NULL ? &keep->n : NULL, on_page_busy,
        NULL);
}

/* pg has just become idle with a new state: a page over the cap alone
 * drops its model (its bodies are on disk, render_job saw to it), and if
 * that is not enough (no disk file could be made) leaves memory whole;
 * then the others make room. */
static void
page_settle(struct pg_pages *ps, struct pg_page *pg)
{
    if (pg->n.bytes > ps->max_bytes && pg->model != NULL) {
        model_drop(pg, pg->model, pg->model_bytes);
        pg->model = NULL;
        page_account(ps, pg);
    }
    if (pg->n.bytes > ps->max_bytes) {
        page_remove(ps, pg);
        pg = NULL;
    }
    evict_idle(ps, pg);
}

/* The cache key of a page: "project" or "/" of [upstream] (as before
 * issue 13, so an existing cache keeps its pages), "NAME:project" or
 * "NAME:/" of [upstream:NAME]: two upstreams never share an entry, in
 * memory or in LMDB. */
static void
page_key(const struct pg_config *cfg, size_t up, const char *project,
    char *out, size_t outlen)
{
    if (up == 0) {
        snprintf(out, outlen, "%s", project);
    } else {
        snprintf(out, outlen, "%s:%s", cfg->upstreams[up].name, project);
    }
}

static struct pg_page *
page_get(struct pg_pages *ps, const char *key, int is_list, size_t up)
{
    struct pg_page *pg = (struct pg_page *)pg_lru_find(ps->table, key);

    if (pg != NULL) {
        pg_lru_touch(ps->table, &pg->n);
        return pg;
    }
    pg = calloc(1, sizeof(*pg));
    if (pg == NULL) {
        return NULL;
    }
    pg->owner = ps;
    snprintf(pg->key, sizeof(pg->key), "%s", key);
    pg->project = pg_pages_key_project(pg->key);
    pg->up = up;
    pg->is_list = is_list;
    pg->n.key = pg->key;
    pg_lru_link(ps->table, &pg->n);
    page_account(ps, pg);
    evict_idle(ps, pg);
    return pg;
}

/* ---- helpers ----------------------------------------------------------- */

static int64_t
page_ttl(const struct pg_page *pg)
{
    const struct pg_config *cfg = pg->owner->ctx.cfg;

    return pg->is_list ? cfg->list_ttl_s : cfg->index_ttl_s;
}

static int
page_fresh(const struct pg_page *pg, time_t fetched_at)
{
    return (int64_t)(time(NULL) - fetched_at) < page_ttl(pg);
}

static const char *
page_kind(const struct pg_page *pg)
{
    return pg->is_list ? "list" : "page";
}

/* ---- worker jobs ------------------------------------------------------- */

/* What would block the loop runs on a worker (style: nothing on the loop
 * blocks): reading and parsing a stored page (JOB_LOAD), parsing an
 * upstream page and writing its records durably to LMDB (JOB_PARSE: a
 * 2,000-file page is ~40 ms of jansson and several ~7 ms commits),
 * rendering both formats with their gzip (JOB_RENDER), recording the
 * time of a revalidation (JOB_TOUCH, one commit) and freeing a replaced
 * model (JOB_DROP: a 60,000-file model is ~10^6 jansson nodes).  The
 * loop fills a job's inputs and submits it; the worker touches only the
 * job; job_done continues on the loop.  While a page has a job it is
 * busy (never evicted) and new requests for it wait on it, so the order
 * stays fetch -> parse -> store -> annotate -> render -> install.  A
 * client that leaves meanwhile is a waiter marked client_gone, finished
 * without an answer when the page is ready.  At
 * shutdown pg_workers_free lets running work end and runs no done; the
 * jobs still listed on ps->jobs are then freed by pg_pages_free. */

static void wake_waiters(struct pg_page *pg, int status, const char *reason);
static void page_install(struct pg_page *pg, json_t *model, time_t fetched,
    time_t changed);
static void page_fetch(struct pg_page *pg);
static void job_submit(struct page_job *j);
static void page_fetch_failed(struct pg_page *pg, int status,
    const char *reason);

static const char *
job_step_name(enum job_step step)
{
    switch (step) {
    case JOB_LOAD: return "load";
    case JOB_PARSE: return "parse";
    case JOB_RENDER: return "render";
    case JOB_TOUCH: return "touch";
    case JOB_DROP: return "drop";
    }
    return "?";
}

static void
job_free(struct page_job *j)
{
    int i;

    if (j->body != NULL) {
        evbuffer_free(j->body);
    }
    free(j->base);
    free(j->etag);
    free(j->lastmod);
    json_decref(j->model);
    for (i = 0; i < B_COUNT; i++) {
        pg_body_unref(j->nb[i]);
    }
    free(j);
}

/* A job for pg's key; JOB_TOUCH jobs do not hold the page. */
static struct page_job *
job_new(struct pg_page *pg, enum job_step step)
{
    struct pg_pages *ps = pg->owner;
    struct page_job *j = calloc(1, sizeof(*j));

    if (j == NULL) {
        return NULL;
    }
    j->ps = ps;
    j->pg = step == JOB_TOUCH || step == JOB_DROP ? NULL : pg;
    j->step = step;
    j->cache = ps->ctx.cache;
    j->base_url = ps->ctx.base_url;
    j->cache_dir = ps->ctx.cfg->cache_dir;
    j->cap_bytes = ps->max_bytes;
    snprintf(j->key, sizeof(j->key), "%s", pg->key);
    j->is_list = pg->is_list;
    return j;
}

/* Runs on: worker.  Parses the upstream body; stores the model. */
static void
parse_work(struct page_job *j)
{
    size_t len = evbuffer_get_length(j->body);
    const char *buf = (const char *)evbuffer_pullup(j->body, -1);
    json_t *model, *dropped;

    j->msg[0] = '\0';
    if (j->is_list) {
        model = j->is_json
            ? pg_index_parse_list_json(buf, len, j->max_bytes, j->msg,
                sizeof(j->msg))
            : pg_index_parse_list_html(buf, len, j->max_bytes, j->msg,
                sizeof(j->msg));
    } else {
        model = j->is_json
            ? pg_index_parse_project_json(buf, len, j->base, j->max_bytes,
                j->msg, sizeof(j->msg))
            : pg_index_parse_project_html(buf, len, j->base, j->max_bytes,
                j->msg, sizeof(j->msg));
    }
    evbuffer_free(j->body);
    j->body = NULL;
    if (model == NULL) {
        j->rc = -1;
        return;
    }
    /* the parser's note of dropped entries is not part of the page */
    dropped = json_object_get(model, PG_INDEX_DROPPED);
    if (dropped != NULL) {
        j->dropped = (size_t)json_integer_value(json_object_get(dropped,
            "count"));
        snprintf(j->drop_first, sizeof(j->drop_first), "%s",
            json_string_value(json_object_get(dropped, "first")) != NULL
            ? json_string_value(json_object_get(dropped, "first")) : "?");
        json_object_del(model, PG_INDEX_DROPPED);
    }
    j->model = model;
    j->rc = 0;
    /* Before annotation: LMDB keeps the upstream model (pg_proxy.h). */
    memset(&j->err, 0, sizeof(j->err));
    pg_pages_store(j->cache, j->key, j->is_list, j->etag, j->lastmod, model,
        j->fetched, j->fetched, &j->err);
}

/* Runs on: worker.  Records the time of a revalidation (304). */
static void
touch_work(struct page_job *j)
{
    char mk[PAGE_KEY_MAX + 16], v[32];

    memset(&j->err, 0, sizeof(j->err));
    pg_pages_meta_key(j->key, mk, sizeof(mk));
    snprintf(v, sizeof(v), "%lld", (long long)j->fetched);
    j->rc = pg_cache_put(j->cache, PG_CACHE_DB_META, mk, strlen(mk), v,
        strlen(v), &j->err);
}

/* Runs on: worker (on the loop only when no worker could take it). */
static void
job_work(void *arg)
{
    struct page_job *j = arg;
    int64_t t0 = pg_now_ms();
    int trim = 0;

    j->off_loop = !pthread_equal(pthread_self(), j->ps->loop_thread);
    switch (j->step) {
    case JOB_LOAD:
        j->rc = pg_pages_read_store(j->cache, j->key, &j->model, &j->fetched,
            &j->changed, &j->etag, &j->lastmod);
        break;
    case JOB_PARSE:
        trim = j->body != NULL
            && evbuffer_get_length(j->body) >= PAGE_TRIM_MIN;
        parse_work(j);
        break;
    case JOB_RENDER:
        j->model_bytes = pg_pages_model_bytes(j->model);
        j->rc = pg_pages_render(j->is_list, j->base_url, j->model,
            j->model_bytes, j->cap_bytes, j->cache_dir, j->nb, j->nh);
        trim = j->model_bytes >= PAGE_TRIM_MIN;
        break;
    case JOB_TOUCH:
        touch_work(j);
        break;
    case JOB_DROP:
        if (j->model_bytes == 0) {
            j->model_bytes = pg_pages_model_bytes(j->model);
        }
        json_decref(j->model);
        j->model = NULL;
        trim = j->model_bytes >= PAGE_TRIM_MIN;
        break;
    }
    if (trim) {
        /* The freed parse buffers, renderings or tree go back to the
         * system now, not whenever glibc would. */
        malloc_trim(0);
    }
    j->work_ms = pg_now_ms() - t0;
}

/* A stored page was read (or not): install it if fresh, else ask the
 * upstream (with its validators). */
static void
load_done(struct page_job *j)
{
    struct pg_page *pg = j->pg;
    json_t *m;

    if (j->rc != 0) {
        if (j->reload) {
            /* Not in LMDB (a store that failed): the upstream's whole
             * page, not a 304, brings the model back. */
            pg_pages_set_str(&pg->up_etag, NULL);
            pg_pages_set_str(&pg->up_lastmod, NULL);
        }
        page_fetch(pg);
        return;
    }
    if (j->reload) {
        /* A shed page's model, for a caller that reads it: the page's
         * age is what it was (the bodies rendered again are the same). */
        m = j->model;
        j->model = NULL;
        page_install(pg, m, pg->fetched_at, pg->changed_at);
        return;
    }
    json_decref(pg->stored);
    pg->stored = j->model;
    j->model = NULL;
    pg->stored_fetched = j->fetched;
    pg->stored_changed = j->changed;
    pg_pages_set_str(&pg->up_etag, j->etag);
    pg_pages_set_str(&pg->up_lastmod, j->lastmod);
    if (page_fresh(pg, pg->stored_fetched)) {
        m = pg->stored;
        pg->stored = NULL;
        pg->outcome = OUT_HIT;
        pg_stats_cache_event(pg->owner->log, page_kind(pg), "hit");
        page_install(pg, m, pg->stored_fetched, pg->stored_changed);
        return;
    }
    page_fetch(pg);
}

static void
parse_done(struct page_job *j)
{
    struct pg_page *pg = j->pg;
    struct pg_server *s = pg->owner->log;
    char why[PG_MAX_REASON];
    json_t *m;

    if (j->rc != 0) {
        snprintf(why, sizeof(why), "upstream %s %.60s is malformed: %.100s",
            page_kind(pg), pg->key, j->msg);
        pg_stats_upstream_done(s, page_kind(pg), "malformed",
            pg_now_ms() - j->up_ms);
        page_fetch_failed(pg, 502, why);
        return;
    }
    pg_stats_upstream_done(s, page_kind(pg), NULL, pg_now_ms() - j->up_ms);
    if (j->dropped > 0) {
        pg_log(s, "%s %s: left out %zu malformed file entr%s (first: %s)",
            page_kind(pg), pg->key, j->dropped, j->dropped == 1 ? "y"
            : "ies", j->drop_first);
        pg_stats_entries_dropped(s, j->dropped);
    }
    pg_pages_set_str(&pg->up_etag, j->etag);
    pg_pages_set_str(&pg->up_lastmod, j->lastmod);
    if (j->err.code != PG_CACHE_OK) {
        /* Serve what we got; the next request fetches again.  Its files
         * stay servable from the page (files.c). */
        pg_log(s, "%s %s: not cached: %s: %s", page_kind(pg), pg->key,
            pg_cache_strerror(j->err.code), j->err.reason);
        if (j->err.code == PG_CACHE_EFULL) {
            pg_full_set(pg->owner->ctx.full, j->err.reason, 0);
        }
    }
    model_drop(pg, pg->stored, 0);
    pg->stored = NULL;
    pg->outcome = OUT_MISS;
    m = j->model;
    j->model = NULL;
    page_install(pg, m, j->fetched, j->fetched);
}

static void
render_done(struct page_job *j)
{
    struct pg_page *pg = j->pg;
    int i;

    pg->installing = 0;
    if (j->rc != 0) {
        wake_waiters(pg, 502, "cannot render the index page");
        return;
    }
    for (i = 0; i < B_COUNT; i++) {
        pg_body_unref(pg->body[i]);
        pg->body[i] = j->nb[i];
        j->nb[i] = NULL;
    }
    /* New bodies and a new model: what other loops answer (pages, and
     * files decided from this page) must come from the main loop again. */
    pg_hot_invalidate(pg->owner->ctx.hot);
    /* Same bytes as before: Last-Modified stays (the ETag does anyway). */
    if (!pg->ready || strcmp(pg->hash[0], j->nh[0]) != 0
        || strcmp(pg->hash[1], j->nh[1]) != 0)
    {
        pg->changed_at = j->changed;
        if (pg_http_date(pg->changed_at, pg->lm, sizeof(pg->lm)) != 0) {
            pg->lm[0] = '\0';
        }
    }
    memcpy(pg->hash, j->nh, sizeof(j->nh));
    model_drop(pg, pg->model, pg->model_bytes);
    pg->model = j->model;
    pg->gen = ++pg->owner->gen;
    pg->model_bytes = j->model_bytes;
    j->model = NULL;
    pg->fetched_at = j->fetched;
    pg->ready = 1;
    page_account(pg->owner, pg);
    wake_waiters(pg, 200, NULL);
}

/* Frees a model no longer used on a worker (a big one takes a while).
 * bytes: pg_pages_model_bytes(model), 0 if not known. */
static void
model_drop(struct pg_page *pg, json_t *model, size_t bytes)
{
    struct page_job *j;

    if (model == NULL) {
        return;
    }
    j = job_new(pg, JOB_DROP);
    if (j == NULL) {
        json_decref(model);
        return;
    }
    j->model = model;
    j->model_bytes = bytes;
    job_submit(j);
}

/* Runs on: loop. */
static void
job_done(void *arg)
{
    struct page_job *j = arg;
    struct pg_pages *ps = j->ps;
    const char *lv[2];

    if (j->prev != NULL) {
        j->prev->next = j->next;
    } else {
        ps->jobs = j->next;
    }
    if (j->next != NULL) {
        j->next->prev = j->prev;
    }
    lv[0] = job_step_name(j->step);
    lv[1] = j->off_loop ? "worker" : "loop";
    pg_stats_page_job(ps->log, lv[0], lv[1], (double)j->work_ms / 1000.0);
    if (j->pg != NULL) {
        j->pg->job = NULL;
    }
    switch (j->step) {
    case JOB_LOAD:
        load_done(j);
        break;
    case JOB_PARSE:
        parse_done(j);
        break;
    case JOB_RENDER:
        render_done(j);
        break;
    case JOB_TOUCH:
        if (j->rc != PG_CACHE_OK) {
            pg_log(ps->log, "page %s: cannot record fetch time: %s", j->key,
                j->err.reason);
        }
        break;
    case JOB_DROP:
        break;
    }
    job_free(j);
}

/* Hands j to a worker; its done continues on the loop.  Without a worker
 * (out of memory) the job runs here rather than failing the page.  May
 * finish before returning: callers touch nothing after it. */
static void
job_submit(struct page_job *j)
{
    struct pg_pages *ps = j->ps;

    j->prev = NULL;
    j->next = ps->jobs;
    if (ps->jobs != NULL) {
        ps->jobs->prev = j;
    }
    ps->jobs = j;
    if (j->pg != NULL) {
        j->pg->job = j;
    }
    if (pg_workers_submit(ps->ctx.workers, job_work, job_done, j) != 0) {
        job_work(j);
        job_done(j);
    }
}

/* Records a revalidation's time in LMDB, on a worker. */
static void
store_fetched(struct pg_page *pg, time_t t)
{
    struct page_job *j = job_new(pg, JOB_TOUCH);

    if (j == NULL) {
        pg_log(pg->owner->log, "page %s: cannot record fetch time: out of "
            "memory", pg->key);
        return;
    }
    j->fetched = t;
    job_submit(j);
}

struct install_ctx {
    struct pg_page *pg;
    json_t *model;
    time_t fetched, changed;
};

static void
on_annotated(void *arg, int rc, const char *reason)
{
    struct install_ctx *ic = arg;
    struct pg_page *pg = ic->pg;
    struct page_job *j;

    if (rc != 0) {
        pg->installing = 0;
        json_decref(ic->model);
        free(ic);
        wake_waiters(pg, 502, reason != NULL ? reason
            : "provenance annotation failed");
        return;
    }
    /* Rendering and gzip of a big page go to a worker; the page stays
     * "installing" (requests wait) until render_done. */
    j = job_new(pg, JOB_RENDER);
    if (j == NULL) {
        pg->installing = 0;
        json_decref(ic->model);
        free(ic);
        wake_waiters(pg, 502, "out of memory");
        return;
    }
    j->model = ic->model;
    j->fetched = ic->fetched;
    j->changed = ic->changed;
    free(ic);
    job_submit(j);
}

/* Annotates model (consumed) and installs it; wakes the waiters. */
static void
page_install(struct pg_page *pg, json_t *model, time_t fetched,
    time_t changed)
{
    struct install_ctx *ic = calloc(1, sizeof(*ic));

    if (ic == NULL) {
        json_decref(model);
        wake_waiters(pg, 502, "out of memory");
        return;
    }
    ic->pg = pg;
    ic->model = model;
    ic->fetched = fetched;
    ic->changed = changed;
    pg->installing = 1;
    if (!pg->is_list) {
        /* issue 13: the page says which upstream it comes from (a
         * top-level key of its own, replacing any upstream's) */
        json_object_set_new(model, "_provenance", json_pack("{s:s}",
            "upstream", pg->owner->ctx.cfg->upstreams[pg->up].name));
    }
    if (!pg->is_list && pg->owner->ctx.hooks->annotate_page != NULL) {
        pg->owner->ctx.hooks->annotate_page(pg->owner->ctx.hooks->arg,
            pg->project, model,
            on_annotated, ic);
        return;     /* pg may be woken already: touch nothing */
    }
    on_annotated(ic, 0, NULL);
}

static void
wake_waiters(struct pg_page *pg, int status, const char *reason)
{
    struct pg_pages *ps = pg->owner;
    struct pg_page_wait *w = pg->waiters, *next;
    const char *cache = "-";

    pg->waiters = pg->wtail = NULL;
    switch (pg->outcome) {
    case OUT_HIT: cache = "hit"; break;
    case OUT_MISS: cache = "miss"; break;
    case OUT_REVALIDATED: cache = "revalidated"; break;
    case OUT_STALE: cache = "stale"; break;
    }
    /* Keep the page alive while callbacks run (they may load it again:
     * a ready page answers them at once). */
    pg->waking++;
    while (w != NULL) {
        next = w->next;
        w->r->cache = cache;
        w->cb(w->r, status == 200 ? pg : NULL, status, reason);
        w = next;
    }
    pg->waking--;
    if ((!pg->ready || pg->invalid) && !page_busy(pg)) {
        page_remove(ps, pg);
    } else if (!page_busy(pg)) {
        page_settle(ps, pg);
    }
}

static int
waiters_need_model(const struct pg_page *pg)
{
    const struct pg_page_wait *w;

    for (w = pg->waiters; w != NULL; w = w->next) {
        if (w->need_model) {
            return 1;
        }
    }
    return 0;
}

/* Reads a shed page's model back from LMDB (load_done installs it). */
static void
model_reload(struct pg_page *pg)
{
    struct page_job *j = job_new(pg, JOB_LOAD);

    if (j == NULL) {
        wake_waiters(pg, 502, "out of memory");
        return;
    }
    j->reload = 1;
    job_submit(j);
}

/* A ready page answers its waiters, once the model is back if one of
 * them reads it and the page was shed. */
static void
wake_ready(struct pg_page *pg)
{
    if (pg->model == NULL && waiters_need_model(pg)) {
        model_reload(pg);
        return;
    }
    wake_waiters(pg, 200, NULL);
}

/* ---- upstream fetch ---------------------------------------------------- */

static int
on_page_data(void *arg, const void *buf, size_t len)
{
    struct pg_page *pg = arg;
    const struct pg_config *cfg = pg->owner->ctx.cfg;

    if (evbuffer_get_length(pg->acc) + len > cfg->upstreams[0].max_json_bytes) {
        pg->too_big = 1;
        return 1;
    }
    return evbuffer_add(pg->acc, buf, len) == 0 ? 0 : 1;
}

/* What an upstream answer's Content-Type says it is: 1 a PEP 691 JSON
 * page, 0 an HTML page (PEP 503 / 691), -1 anything else (absent too).
 * The media type is compared whole; parameters (charset) are ignored. */
static int
page_type(const char *ct)
{
    static const struct { const char *type; int json; } types[] = {
        { "application/vnd.pypi.simple.v1+json", 1 },
        { "application/vnd.pypi.simple.latest+json", 1 },
        { "application/vnd.pypi.simple.v1+html", 0 },
        { "application/vnd.pypi.simple.latest+html", 0 },
        { "text/html", 0 },
    };
    size_t i, n;

    if (ct == NULL) {
        return -1;
    }
    ct += strspn(ct, " \t");
    n = strcspn(ct, "; \t");
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strlen(types[i].type) == n
            && strncasecmp(ct, types[i].type, n) == 0)
        {
            return types[i].json;
        }
    }
    return -1;
}

/* The page could not be fetched: stale copy or an error to the waiters. */
static void
page_fetch_failed(struct pg_page *pg, int status, const char *reason)
{
    struct pg_server *s = pg->owner->log;

    if (pg->owner->ctx.cfg->stale_if_error && (pg->ready || pg->stored != NULL)
        && status == 502)
    {
        pg_log(s, "serving stale %s %s: %s", page_kind(pg), pg->key, reason);
        pg->stale_until = time(NULL) + (page_ttl(pg) < PG_STALE_RETRY_S
            ? (time_t)page_ttl(pg) : PG_STALE_RETRY_S);
        pg_stats_cache_event(s, page_kind(pg), "stale");
        pg->outcome = OUT_STALE;
        if (pg->ready) {
            wake_ready(pg);
        } else {
            json_t *m = pg->stored;

            pg->stored = NULL;
            page_install(pg, m, pg->stored_fetched, pg->stored_changed);
        }
        return;
    }
    wake_waiters(pg, status, reason);
}

static void
on_page_done(void *arg, enum pg_upstream_code code, const char *reason,
    const struct pg_upstream_resp *resp)
{
    struct pg_page *pg = arg;
    struct pg_server *s = pg->owner->log;
    char why[PG_MAX_REASON];
    const char *base;
    json_t *model;
    struct page_job *j;
    time_t now = time(NULL);

    pg->xfer = NULL;
    pg->fetching = 0;
    if (pg->too_big || code == PG_UP_ETOOBIG) {
        snprintf(why, sizeof(why), "upstream %s %.60s is larger than "
            "max_json_bytes (%llu)", page_kind(pg), pg->key,
            (unsigned long long)
            pg->owner->ctx.cfg->upstreams[0].max_json_bytes);
        pg_stats_upstream_done(s, page_kind(pg), "too_big", pg->t0);
        evbuffer_drain(pg->acc, evbuffer_get_length(pg->acc));
        page_fetch_failed(pg, 502, why);
        return;
    }
    if (code != PG_UP_OK) {
        snprintf(why, sizeof(why), "upstream unreachable for %s %.60s: %.100s",
            page_kind(pg), pg->key, reason != NULL ? reason
            : pg_upstream_strerror(code));
        pg_stats_upstream_done(s, page_kind(pg),
            code == PG_UP_ETIMEOUT ? "timeout" : "connect", pg->t0);
        evbuffer_drain(pg->acc, evbuffer_get_length(pg->acc));
        page_fetch_failed(pg, 502, why);
        return;
    }
    if ((resp->status == 304 || resp->status == 200) && pg->up != 0
        && !pg->is_list && pg->owner->ctx.hooks->private_page != NULL)
    {
        /* issue 13: is the private name on [upstream] too? */
        pg->owner->ctx.hooks->private_page(pg->owner->ctx.hooks->guard_arg,
            pg->project, pg->up);
    }
    if (resp->status == 304 && (pg->ready || pg->stored != NULL)) {
        pg_stats_upstream_done(s, page_kind(pg), NULL, pg->t0);
        evbuffer_drain(pg->acc, evbuffer_get_length(pg->acc));
        store_fetched(pg, now);
        pg->outcome = OUT_REVALIDATED;
        if (pg->ready) {
            pg->fetched_at = now;
            wake_ready(pg);
        } else {
            model = pg->stored;
            pg->stored = NULL;
            page_install(pg, model, now, pg->stored_changed);
        }
        return;
    }
    if (resp->status == 404 || resp->status == 410) {
        pg_stats_upstream_done(s, page_kind(pg), NULL, pg->t0);
        evbuffer_drain(pg->acc, evbuffer_get_length(pg->acc));
        snprintf(why, sizeof(why), "project %.60s not found upstream",
            pg->key);
        wake_waiters(pg, 404, why);
        return;
    }
    if (resp->status != 200) {
        snprintf(why, sizeof(why), "upstream answered %ld for %s %.60s",
            resp->status, page_kind(pg), pg->key);
        pg_stats_upstream_done(s, page_kind(pg), "status", pg->t0);
        evbuffer_drain(pg->acc, evbuffer_get_length(pg->acc));
        page_fetch_failed(pg, 502, why);
        return;
    }
    /* Only a page is parsed as a page: a body of another (or no) type,
     * wherever a redirect found it, is not an empty index. */
    if (page_type(resp->content_type) < 0) {
        snprintf(why, sizeof(why), "upstream %s %.60s is not an index "
            "page: Content-Type %.60s (want PEP 691 JSON or HTML)",
            page_kind(pg), pg->key, resp->content_type != NULL
            ? resp->content_type : "absent");
        pg_stats_upstream_done(s, page_kind(pg), "malformed", pg->t0);
        evbuffer_drain(pg->acc, evbuffer_get_length(pg->acc));
        page_fetch_failed(pg, 502, why);
        return;
    }
    /* Parse and store on a worker (parse_done continues). */
    base = resp->effective_url;
    j = job_new(pg, JOB_PARSE);
    if (j != NULL) {
        j->body = evbuffer_new();
        j->base = base != NULL ? strdup(base) : NULL;
    }
    if (j == NULL || j->body == NULL || (base != NULL && j->base == NULL)
        || evbuffer_add_buffer(j->body, pg->acc) != 0)
    {
        if (j != NULL) {
            job_free(j);
        }
        evbuffer_drain(pg->acc, evbuffer_get_length(pg->acc));
        pg_stats_upstream_done(s, page_kind(pg), "memory", pg->t0);
        page_fetch_failed(pg, 502, "out of memory");
        return;
    }
    j->is_json = page_type(resp->content_type) == 1;
    j->max_bytes = pg->owner->ctx.cfg->upstreams[pg->up].max_json_bytes;
    pg_pages_set_str(&j->etag, resp->etag);
    pg_pages_set_str(&j->lastmod, resp->last_modified);
    j->fetched = now;
    j->up_ms = pg_now_ms() - pg->t0;
    job_submit(j);
}

static void
page_fetch(struct pg_page *pg)
{
    struct pg_server *s = pg->owner->log;
    struct pg_upstream_req req;
    enum pg_upstream_code code = PG_UP_OK;
    char url[2048];
    int have = pg->ready || pg->stored != NULL;
    const struct pg_upstream_conf *uc =
        &pg->owner->ctx.cfg->upstreams[pg->up];

    if (pg->is_list) {
        snprintf(url, sizeof(url), "%s", uc->upstream);
    } else {
        snprintf(url, sizeof(url), "%s%s%s/", uc->upstream,
            uc->upstream[strlen(uc->upstream) - 1] == '/' ? "" : "/",
            pg->project);
    }
    if (pg->acc == NULL) {
        pg->acc = evbuffer_new();
        if (pg->acc == NULL) {
            wake_waiters(pg, 502, "out of memory");
            return;
        }
    }
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.accept = PAGE_ACCEPT;
    req.compressed = 1;
    req.if_none_match = have ? pg->up_etag : NULL;
    req.if_modified_since = have ? pg->up_lastmod : NULL;
    req.max_body = (size_t)uc->max_json_bytes;
    req.timeout_ms = uc->timeout_ms;
    req.on_data = on_page_data;
    req.on_done = on_page_done;
    req.arg = pg;
    pg->too_big = 0;
    pg->outcome = OUT_MISS;
    pg->t0 = pg_now_ms();
    pg->fetching = 1;
    pg_stats_cache_event(s, page_kind(pg), "miss");
    pg->xfer = pg_upstream_start(pg->owner->ctx.ups[pg->up], &req, &code);
    if (pg->xfer == NULL) {
        char why[PG_MAX_REASON];

        pg->fetching = 0;
        snprintf(why, sizeof(why), "cannot fetch %.120s: %.40s", url,
            pg_upstream_strerror(code));
        pg_stats_upstream_done(s, page_kind(pg), "refused", pg->t0);
        page_fetch_failed(pg, 502, why);
    }
}

static int
add_waiter(struct pg_page *pg, struct pg_req *r, pg_page_ready_fn cb,
    int need_model)
{
    struct pg_page_wait *w = pg_req_alloc(r, sizeof(*w));

    if (w == NULL) {
        return -1;
    }
    w->r = r;
    w->cb = cb;
    w->need_model = need_model;
    w->next = NULL;
    if (pg->wtail != NULL) {
        pg->wtail->next = w;
    } else {
        pg->waiters = w;
    }
    pg->wtail = w;
    return 0;
}

/* need_model: the caller reads the model (pg_pages_load), not only the
 * bodies (the index routes): a shed page's model is read back first. */
static void
load_key(struct pg_pages *ps, struct pg_req *r, const char *key, int is_list,
    int need_model, pg_page_ready_fn cb, size_t up)
{
    struct pg_page *pg = page_get(ps, key, is_list, up);
    int fresh;

    if (pg == NULL) {
        cb(r, NULL, 502, "out of memory");
        return;
    }
    if (pg->fetching || pg->installing || pg->job != NULL) {
        if (add_waiter(pg, r, cb, need_model) != 0) {
            cb(r, NULL, 502, "out of memory");
        }
        return;
    }
    fresh = pg->ready && page_fresh(pg, pg->fetched_at);
    if (fresh || (pg->ready && time(NULL) < pg->stale_until)) {
        if (need_model && pg->model == NULL) {
            if (add_waiter(pg, r, cb, need_model) != 0) {
                cb(r, NULL, 502, "out of memory");
                return;
            }
            pg->outcome = fresh ? OUT_HIT : OUT_STALE;
            pg_stats_cache_event(ps->log, page_kind(pg), fresh ? "hit"
                : "stale");
            model_reload(pg);
            return;
        }
        r->cache = fresh ? "hit" : "stale";
        pg_stats_cache_event(ps->log, page_kind(pg), r->cache);
        cb(r, pg, 200, NULL);
        return;
    }
    if (add_waiter(pg, r, cb, need_model) != 0) {
        cb(r, NULL, 502, "out of memory");
        return;
    }
    if (!pg->ready && pg->stored == NULL) {
        /* Read the stored page on a worker; load_done installs it or
         * fetches. */
        struct page_job *j = job_new(pg, JOB_LOAD);

        if (j != NULL) {
            job_submit(j);
            return;
        }
    }
    page_fetch(pg);
}

/* ---- which upstream (issue 13) ------------------------------------------
 *
 * A project page is loaded from the one upstream that owns its name
 * (core/bind.c).  When a private upstream owns the names of its /simple/
 * list (@list), that list page is loaded first (cached, revalidated on
 * list_ttl, served stale on an upstream error like any list) and its names
 * given to the binding; a name no static claim settles is never sent to
 * [upstream] while such a list cannot be had (502).  The request's state
 * lives in its arena (r->page_state). */

struct bind_wait {
    struct pg_pages *ps;
    char norm[PG_INDEX_MAX_NAME + 2];
    int need_model;
    pg_page_ready_fn cb;
    unsigned asked;             /* bit i: upstream i's list was loaded for
                                   this request */
    size_t loading;             /* the upstream whose list is loading */
};

static void bind_step(struct pg_req *r);

/* Gives upstream pg->up's list page's names to the binding, once per
 * model. */
static void
bind_take_list(struct pg_pages *ps, struct pg_page *pg)
{
    json_t *projects = json_object_get(pg->model, "projects"), *e;
    const char **names;
    size_t i, n = json_array_size(projects), k = 0;

    if (pg->gen == ps->list_gen[pg->up]) {
        return;
    }
    names = calloc(n > 0 ? n : 1, sizeof(*names));
    if (names == NULL) {
        return;     /* the old list stays; tried again next time */
    }
    json_array_foreach(projects, i, e) {
        const char *nm = json_string_value(json_object_get(e, "name"));

        if (nm != NULL) {
            names[k++] = nm;
        }
    }
    if (pg_bind_set_list(ps->ctx.bind, pg->up, names, k) >= 0) {
        ps->list_gen[pg->up] = pg->gen;
    }
    free(names);
}

static void
on_bind_list(struct pg_req *r, struct pg_page *pg, int status,
    const char *reason)
{
    struct bind_wait *bw = r->page_state;
    char why[640];

    (void)status;
    if (pg != NULL && pg->model != NULL) {
        bind_take_list(bw->ps, pg);
    } else if (!pg_bind_has_list(bw->ps->ctx.bind, bw->loading)) {
        snprintf(why, sizeof(why), "which upstream serves %.100s is not "
            "known: the project list of [upstream:%s] is unavailable: %s",
            bw->norm, bw->ps->ctx.cfg->upstreams[bw->loading].name,
            reason != NULL ? reason : "no memory");
        bw->cb(r, NULL, 502, why);
        return;
    }   /* else: the list known before stands */
    bind_step(r);
}

/* Loads what the binding needs, then the page of the upstream that owns
 * bw->norm (bw->cb answers). */
static void
bind_step(struct pg_req *r)
{
    struct bind_wait *bw = r->page_state;
    const struct pg_config *cfg = bw->ps->ctx.cfg;
    struct pg_binding w;
    char key[PAGE_KEY_MAX], why[640];
    size_t up;

    pg_bind_which(bw->ps->ctx.bind, bw->norm, &w);
    if (w.how == PG_BIND_DEFAULT || w.how == PG_BIND_UNKNOWN
        || w.how == PG_BIND_LIST)
    {
        /* a list may change the answer: load each (once per request) */
        for (up = 1; up < cfg->n_upstreams; up++) {
            if (!cfg->upstreams[up].own_list || (bw->asked & (1u << up))) {
                continue;
            }
            bw->asked |= 1u << up;
            bw->loading = up;
            page_key(cfg, up, "/", key, sizeof(key));
            load_key(bw->ps, r, key, 1, 1, on_bind_list, up);
            return;
        }
        pg_bind_which(bw->ps->ctx.bind, bw->norm, &w);
    }
    switch (w.how) {
    case PG_BIND_UNKNOWN:
        snprintf(why, sizeof(why), "which upstream serves %.100s is not known: "
            "the project list of [upstream:%s] is unavailable", bw->norm,
            cfg->upstreams[w.up].name);
        bw->cb(r, NULL, 502, why);
        return;
    case PG_BIND_CONFLICT:
        snprintf(why, sizeof(why), "provgate: %.100s is listed by two private "
            "upstreams ([upstream:%s] and [upstream:%s]) and served by "
            "neither", bw->norm, cfg->upstreams[w.up].name,
            cfg->upstreams[w.other].name);
        bw->cb(r, NULL, 403, why);
        return;
    case PG_BIND_DEFAULT:
    case PG_BIND_NAME:
    case PG_BIND_PREFIX:
    case PG_BIND_LIST:
        break;
    }
    page_key(cfg, w.up, bw->norm, key, sizeof(key));
    load_key(bw->ps, r, key, 0, bw->need_model, bw->cb, w.up);
}

/* The page of the normalized project name norm, from its upstream. */
static void
load_project(struct pg_pages *ps, struct pg_req *r, const char *norm,
    int need_model, pg_page_ready_fn cb)
{
    struct bind_wait *bw;

    if (ps->ctx.cfg->n_upstreams == 1) {
        load_key(ps, r, norm, 0, need_model, cb, 0);
        return;
    }
    bw = pg_req_alloc(r, sizeof(*bw));
    if (bw == NULL) {
        cb(r, NULL, 502, "out of memory");
        return;
    }
    bw->ps = ps;
    snprintf(bw->norm, sizeof(bw->norm), "%s", norm);
    bw->need_model = need_model;
    bw->cb = cb;
    r->page_state = bw;
    bind_step(r);
}

void
pg_pages_load(struct pg_pages *ps, struct pg_req *r, const char *project,
    pg_page_ready_fn cb)
{
    load_project(ps, r, project, 1, cb);
}

size_t
pg_page_upstream(struct pg_page *page)
{
    return page->up;
}

json_t *
pg_page_model(struct pg_page *page)
{
    return page->model;
}

time_t
pg_page_fresh_until(struct pg_page *page)
{
    return page->fetched_at + (time_t)page_ttl(page);
}

/* ---- serving ----------------------------------------------------------- */

static void
serve_page(struct pg_req *r, struct pg_page *pg)
{
    struct pg_page_view v;
    int i;

    memset(&v, 0, sizeof(v));
    for (i = 0; i < B_COUNT; i++) {
        v.body[i] = pg->body[i];
    }
    memcpy(v.hash, pg->hash, sizeof(v.hash));
    v.fetched_at = pg->fetched_at;
    v.changed_at = pg->changed_at;
    v.ttl = page_ttl(pg);
    v.fresh_until = pg->fetched_at + (time_t)v.ttl;
    v.is_list = pg->is_list;
    memcpy(v.lm, pg->lm, sizeof(v.lm));
    /* A fresh, settled page may be answered by every loop until it
     * expires (hot.c); a stale one is the main loop's to revalidate. */
    if (!r->client_gone && r->ereq != NULL && pg->ready && !pg->invalid
        && page_fresh(pg, pg->fetched_at) && r->path != NULL)
    {
        pg_hot_publish_page(pg->owner->ctx.hot, r->path, &v);
    }
    pg_view_serve_page(r, &v);
}

static void
on_page_ready(struct pg_req *r, struct pg_page *pg, int status,
    const char *reason)
{
    if (pg == NULL) {
        pg_req_refuse(r, status == 404 ? PG_REFUSE_NOT_FOUND
            : status == 403 ? PG_REFUSE_FORBIDDEN : PG_REFUSE_BAD_GATEWAY,
            "%s", reason != NULL ? reason : "unavailable");
        return;
    }
    serve_page(r, pg);
}

/* ---- /simple/ with private upstreams (issue 13) -------------------------
 *
 * The project list a client gets names each project once, from the
 * upstream that serves it: [upstream]'s names that no private upstream
 * owns, and each private upstream's names that it owns (by its projects
 * line or, with @list, all of them; a name two @list upstreams hold is in
 * neither, as it is served by neither).  A request loads every private
 * list, then [upstream]'s (each a list page: cached, revalidated on
 * list_ttl); the merge and its render run on a worker (a public list may
 * hold 600,000 names) and are kept until one of those pages changes
 * (their generations are the merge's signature).  Requests that arrive
 * while a merge runs wait for it.  [upstream]'s names that a private
 * upstream owns are given to the guard (hooks.public_name, via "list").
 * Nothing in the models is changed on the worker: it reads them under a
 * reference taken on the loop and builds its own. */

#define MERGE_MAX_SEEN 1000     /* public names a merge reports as owned
                                   by a private upstream */

struct merge_wait {
    struct pg_req *r;
    struct merge_wait *next;
};

struct merge_job {
    struct pg_pages *ps;
    const struct pg_config *cfg;    /* borrowed: outlives the pool */
    const char *base_url;
    size_t cap_bytes;
    const char *cache_dir;
    json_t *lists[PG_CONFIG_MAX_UPSTREAMS];  /* referenced; [0] public */
    uint64_t sig[PG_CONFIG_MAX_UPSTREAMS];
    time_t fetched, changed;
    /* output */
    int rc;
    struct pg_body *nb[B_COUNT];
    char nh[2][24];
    char *seen;                 /* public names owned privately: "up\0name\0"
                                   records, n_seen of them */
    size_t seen_len, n_seen;
};

struct merge_memo {
    uint64_t sig[PG_CONFIG_MAX_UPSTREAMS];  /* 0: no memo */
    struct pg_body *body[B_COUNT];
    char hash[2][24];
    time_t fetched, changed;
    char lm[32];
    struct merge_job *job;      /* running */
    struct merge_wait *waiters;
};

static int
merge_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The normalized names of list model m, sorted, in one block (*block);
 * NULL on no memory.  Runs on: worker. */
static const char **
merge_sorted(const json_t *m, char **block, size_t *n)
{
    const json_t *projects = json_object_get(m, "projects"), *e;
    size_t i, k = 0, total = 0, off = 0, cnt = json_array_size(projects);
    const char **names;

    json_array_foreach(projects, i, e) {
        const char *nm = json_string_value(json_object_get(e, "name"));

        total += nm != NULL ? strlen(nm) + 2 : 0;
    }
    names = malloc((cnt > 0 ? cnt : 1) * sizeof(*names));
    *block = malloc(total > 0 ? total : 1);
    if (names == NULL || *block == NULL) {
        free(names);
        free(*block);
        *block = NULL;
        return NULL;
    }
    json_array_foreach(projects, i, e) {
        const char *nm = json_string_value(json_object_get(e, "name"));
        char *dst = *block + off;

        if (nm == NULL || pg_config_normalize(nm, dst, strlen(nm) + 2) != 0) {
            continue;
        }
        names[k++] = dst;
        off += strlen(dst) + 1;
    }
    qsort(names, k, sizeof(*names), merge_cmp);
    *n = k;
    return names;
}

/* Who serves norm, from the job's lists: 0 ([upstream]), an upstream
 * index, or -1 (two @list upstreams: nobody).  Runs on: worker. */
static int
merge_owner(const struct merge_job *j, const char *norm,
    const char **sets[], const size_t *nsets)
{
    const struct pg_config *cfg = j->cfg;
    size_t up;
    int owner = 0;

    for (up = 1; up < cfg->n_upstreams; up++) {
        if (pg_config_claims(&cfg->upstreams[up], norm)) {
            return (int)up;
        }
    }
    for (up = 1; up < cfg->n_upstreams; up++) {
        if (cfg->upstreams[up].own_list && nsets[up] > 0
            && bsearch(&norm, sets[up], nsets[up], sizeof(char *),
            merge_cmp) != NULL)
        {
            if (owner != 0) {
                return -1;
            }
            owner = (int)up;
        }
    }
    return owner;
}

static void
merge_add(json_t *out, const char *name)
{
    json_array_append_new(out, json_pack("{s:s}", "name", name));
}

/* Runs on: worker. */
static void
merge_work(void *arg)
{
    struct merge_job *j = arg;
    const struct pg_config *cfg = j->cfg;
    const char **sets[PG_CONFIG_MAX_UPSTREAMS] = { NULL };
    char *blocks[PG_CONFIG_MAX_UPSTREAMS] = { NULL };
    size_t nsets[PG_CONFIG_MAX_UPSTREAMS] = { 0 };
    json_t *model = NULL, *out, *e;
    char norm[PG_INDEX_MAX_NAME + 2];
    size_t up, i, cap = 0;

    j->rc = -1;
    for (up = 1; up < cfg->n_upstreams; up++) {
        sets[up] = merge_sorted(j->lists[up], &blocks[up], &nsets[up]);
        if (sets[up] == NULL) {
            goto done;
        }
    }
    out = json_array();
    model = json_pack("{s:O, s:o}", "meta", json_object_get(j->lists[0],
        "meta") != NULL ? json_object_get(j->lists[0], "meta")
        : json_null(), "projects", out);
    if (model == NULL || out == NULL) {
        goto done;
    }
    json_array_foreach(json_object_get(j->lists[0], "projects"), i, e) {
        const char *nm = json_string_value(json_object_get(e, "name"));
        int owner;

        if (nm == NULL || pg_config_normalize(nm, norm, sizeof(norm)) != 0) {
            continue;
        }
        owner = merge_owner(j, norm, sets, nsets);
        if (owner == 0) {
            merge_add(out, nm);
            continue;
        }
        if (owner > 0 && j->n_seen < MERGE_MAX_SEEN) {
            size_t need = j->seen_len + 4 + strlen(norm) + 1;
            char *ns;

            if (need > cap) {
                cap = need * 2;
                ns = realloc(j->seen, cap);
                if (ns == NULL) {
                    goto done;
                }
                j->seen = ns;
            }
            j->seen[j->seen_len] = (char)owner;
            memcpy(j->seen + j->seen_len + 1, norm, strlen(norm) + 1);
            j->seen_len += 1 + strlen(norm) + 1;
            j->n_seen++;
        }
    }
    /* each private upstream's names it owns, once (normalized) */
    for (up = 1; up < cfg->n_upstreams; up++) {
        for (i = 0; i < nsets[up]; i++) {
            if ((i == 0 || strcmp(sets[up][i - 1], sets[up][i]) != 0)
                && merge_owner(j, sets[up][i], sets, nsets) == (int)up)
            {
                merge_add(out, sets[up][i]);
            }
        }
    }
    j->rc = pg_pages_render(1, j->base_url, model,
        pg_pages_model_bytes(model), j->cap_bytes, j->cache_dir, j->nb,
        j->nh);
done:
    json_decref(model);
    for (up = 0; up < PG_CONFIG_MAX_UPSTREAMS; up++) {
        free(sets[up]);
        free(blocks[up]);
    }
}

static void
merge_job_free(struct merge_job *j)
{
    size_t i;

    for (i = 0; i < PG_CONFIG_MAX_UPSTREAMS; i++) {
        json_decref(j->lists[i]);
    }
    for (i = 0; i < B_COUNT; i++) {
        pg_body_unref(j->nb[i]);
    }
    free(j->seen);
    free(j);
}

static void
merge_serve(struct pg_pages *ps, struct pg_req *r,
    const struct merge_memo *m)
{
    struct pg_page_view v;
    int i;

    memset(&v, 0, sizeof(v));
    for (i = 0; i < B_COUNT; i++) {
        v.body[i] = m->body[i];
    }
    memcpy(v.hash, m->hash, sizeof(v.hash));
    v.fetched_at = m->fetched;
    v.changed_at = m->changed;
    v.ttl = ps->ctx.cfg->list_ttl_s;
    v.fresh_until = m->fetched + (time_t)v.ttl;
    v.is_list = 1;
    memcpy(v.lm, m->lm, sizeof(v.lm));
    pg_view_serve_page(r, &v);
}

static void
merge_done(void *arg)
{
    struct merge_job *j = arg;
    struct pg_pages *ps = j->ps;
    struct merge_memo *m = ps->merge;
    const struct pg_proxy_hooks *hk = ps->ctx.hooks;
    struct merge_wait *w = m->waiters, *next;
    size_t i, off;

    m->job = NULL;
    m->waiters = NULL;
    if (j->rc == 0) {
        for (i = 0; i < B_COUNT; i++) {
            pg_body_unref(m->body[i]);
            m->body[i] = j->nb[i];
            j->nb[i] = NULL;
        }
        memcpy(m->hash, j->nh, sizeof(m->hash));
        memcpy(m->sig, j->sig, sizeof(m->sig));
        m->fetched = j->fetched;
        m->changed = j->changed;
        if (pg_http_date(m->changed, m->lm, sizeof(m->lm)) != 0) {
            m->lm[0] = '\0';
        }
        for (i = 0, off = 0; i < j->n_seen && hk->public_name != NULL; i++) {
            size_t up = (unsigned char)j->seen[off];

            hk->public_name(hk->guard_arg, j->seen + off + 1, up);
            off += 1 + strlen(j->seen + off + 1) + 1;
        }
    }
    for (; w != NULL; w = next) {
        next = w->next;
        if (w->r->client_gone) {
            pg_req_finish(w->r);
        } else if (j->rc != 0) {
            pg_req_refuse(w->r, PG_REFUSE_BAD_GATEWAY, "the project list "
                "could not be merged (out of memory)");
        } else {
            merge_serve(ps, w->r, m);
        }
    }
    merge_job_free(j);
}

static void
merge_start(struct pg_pages *ps, struct pg_req *r)
{
    const struct pg_config *cfg = ps->ctx.cfg;
    struct merge_memo *m = ps->merge;
    struct merge_wait *w;
    struct merge_job *j;
    uint64_t sig[PG_CONFIG_MAX_UPSTREAMS] = { 0 };
    struct pg_page *pgs[PG_CONFIG_MAX_UPSTREAMS];
    char key[PAGE_KEY_MAX];
    size_t up;

    for (up = 0; up < cfg->n_upstreams; up++) {
        page_key(cfg, up, "/", key, sizeof(key));
        pgs[up] = (struct pg_page *)pg_lru_find(ps->table, key);
        if (pgs[up] == NULL || pgs[up]->model == NULL) {
            pg_req_refuse(r, PG_REFUSE_BAD_GATEWAY, "the project list of "
                "%s%s%s left memory meanwhile; try again", up == 0
                ? "[upstream]" : "[upstream:", up == 0 ? ""
                : cfg->upstreams[up].name, up == 0 ? "" : "]");
            return;
        }
        sig[up] = pgs[up]->gen;
    }
    if (m->job == NULL && memcmp(sig, m->sig, sizeof(sig)) == 0) {
        r->cache = "hit";
        merge_serve(ps, r, m);
        return;
    }
    w = pg_req_alloc(r, sizeof(*w));
    if (w == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    w->r = r;
    w->next = m->waiters;
    m->waiters = w;
    if (m->job != NULL) {
        return;     /* answered when it is done */
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        m->waiters = w->next;
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    j->ps = ps;
    j->cfg = cfg;
    j->base_url = ps->ctx.base_url;
    j->cap_bytes = ps->max_bytes;
    j->cache_dir = cfg->cache_dir;
    memcpy(j->sig, sig, sizeof(sig));
    j->fetched = pgs[0]->fetched_at;
    j->changed = pgs[0]->changed_at;
    for (up = 0; up < cfg->n_upstreams; up++) {
        j->lists[up] = json_incref(pgs[up]->model);
        if (pgs[up]->fetched_at < j->fetched) {
            j->fetched = pgs[up]->fetched_at;
        }
        if (pgs[up]->changed_at > j->changed) {
            j->changed = pgs[up]->changed_at;
        }
    }
    m->job = j;
    if (pg_workers_submit(ps->ctx.workers, merge_work, merge_done, j) != 0) {
        merge_work(j);
        merge_done(j);
    }
}

struct merge_state {
    struct pg_pages *ps;
    size_t step;                /* lists loaded so far */
    size_t cur;                 /* the upstream whose list is loading */
};

static void merge_step(struct pg_req *r);

static void
on_merge_list(struct pg_req *r, struct pg_page *pg, int status,
    const char *reason)
{
    struct merge_state *ms = r->page_state;
    const struct pg_config *cfg = ms->ps->ctx.cfg;
    size_t up = ms->cur;

    if (pg == NULL) {
        pg_req_refuse(r, status == 404 ? PG_REFUSE_NOT_FOUND
            : PG_REFUSE_BAD_GATEWAY, "the project list of %s%s%s: %s",
            up == 0 ? "[upstream]" : "[upstream:", up == 0 ? ""
            : cfg->upstreams[up].name, up == 0 ? "" : "]",
            reason != NULL ? reason : "unavailable");
        return;
    }
    if (up != 0 && cfg->upstreams[up].own_list && pg->model != NULL) {
        bind_take_list(ms->ps, pg);
    }
    merge_step(r);
}

/* Loads the private lists (1 .. n-1), then [upstream]'s (0), then
 * merges. */
static void
merge_step(struct pg_req *r)
{
    struct merge_state *ms = r->page_state;
    const struct pg_config *cfg = ms->ps->ctx.cfg;
    char key[PAGE_KEY_MAX];

    if (ms->step == cfg->n_upstreams) {
        merge_start(ms->ps, r);
        return;
    }
    ms->cur = ms->step + 1 < cfg->n_upstreams ? ms->step + 1 : 0;
    ms->step++;
    page_key(cfg, ms->cur, "/", key, sizeof(key));
    load_key(ms->ps, r, key, 1, 1, on_merge_list, ms->cur);
}

static void
handle_list(void *arg, struct pg_req *r, const char *rest)
{
    struct pg_pages *ps = arg;
    struct merge_state *ms;

    r->route = "list";

    if (ps->ctx.cfg->n_upstreams == 1) {
        load_key(ps, r, "/", 1, 0, on_page_ready, 0);
        return;
    }
    ms = pg_req_alloc(r, sizeof(*ms));
    if (ms == NULL || ps->merge == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    ms->ps = ps;
    ms->step = 0;
    r->page_state = ms;
    merge_step(r);
}

static void
handle_project(void *arg, struct pg_req *r, const char *raw)
{
    char name[PG_INDEX_MAX_NAME + 2], norm[PG_INDEX_MAX_NAME + 2];
    char loc[PG_INDEX_MAX_NAME + 2048];
    const char *slash = strchr(raw, '/');
    const char *q = pg_req_query(r);
    size_t n = slash != NULL ? (size_t)(slash - raw) : strlen(raw);

    r->route = "project";
    if (slash != NULL && slash[1] != '\0') {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no such route: %s", r->path);
        return;
    }
    if (n == 0 || n > PG_INDEX_MAX_NAME) {
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "malformed project name");
        return;
    }
    memcpy(name, raw, n);
    name[n] = '\0';
    if (pg_index_normalize(name, norm, sizeof(norm)) != 0) {
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST,
            "malformed project name: %.100s", name);
        return;
    }
    if (slash == NULL || strcmp(name, norm) != 0) {
        snprintf(loc, sizeof(loc), "/simple/%s/%s%s", norm,
            q != NULL ? "?" : "", q != NULL ? q : "");
        pg_req_set_header(r, "Location", loc);
        pg_req_set_header(r, "Cache-Control", "max-age=86400");
        pg_req_refuse(r, PG_REFUSE_MOVED,
            "the normalized name is %s", norm);
        return;
    }
    load_project(arg, r, norm, 0, on_page_ready);
}

/* "/simple" without its slash: the list's address. */
static void
handle_list_redirect(void *arg, struct pg_req *r, const char *rest)
{
    pg_req_set_header(r, "Location", "/simple/");
    r->route = "list";
    pg_req_refuse(r, PG_REFUSE_MOVED, "see /simple/");
}

const struct pg_route pg_pages_routes[] = {
    { "/simple", 0, handle_list_redirect, NULL },
    { "/simple/", 0, handle_list, NULL },
    { "/simple/", 1, handle_project, NULL },
};
const size_t pg_pages_nroutes =
    sizeof(pg_pages_routes) / sizeof(pg_pages_routes[0]);

/* ---- module ------------------------------------------------------------ */

int
pg_pages_new(const struct pg_ctx *ctx, struct pg_pages **out)
{
    struct pg_pages *ps = calloc(1, sizeof(*ps));

    *out = ps;
    if (ps == NULL) {
        return -1;
    }
    ps->ctx = *ctx;
    ps->log = ctx->log;
    ps->max_bytes = (size_t)ctx->cfg->page_cache_max_bytes;
    ps->loop_thread = pthread_self();
    /* No bound on the count; a cap of 0 keeps no idle page, as 1 does. */
    ps->table = pg_lru_new(PAGES_BUCKETS, SIZE_MAX,
        ps->max_bytes > 0 ? ps->max_bytes : 1, on_page_drop, ps);
    if (ctx->cfg->n_upstreams > 1) {
        ps->merge = calloc(1, sizeof(*ps->merge));
    }
    if (ps->table == NULL || (ctx->cfg->n_upstreams > 1 && ps->merge == NULL))
    {
        pg_lru_free(ps->table);
        free(ps->merge);
        free(ps);
        *out = NULL;
        return -1;
    }
    return 0;
}

void
pg_pages_free(struct pg_pages *ps)
{
    struct pg_lru_node *n;

    if (ps == NULL) {
        return;
    }
    /* The workers are gone (pg_server_free): no job runs or finishes,
     * and what is dropped from here is freed inline. */
    ps->ctx.workers = NULL;
    while (ps->jobs != NULL) {
        struct page_job *j = ps->jobs;

        ps->jobs = j->next;
        if (j->pg != NULL) {
            j->pg->job = NULL;
        }
        job_free(j);
    }
    for (n = pg_lru_first(ps->table); n != NULL; n = pg_lru_next(n)) {
        struct pg_page *pg = (struct pg_page *)n;
        struct pg_page_wait *w = pg->waiters, *wn;

        pg->waiters = pg->wtail = NULL;
        while (w != NULL) {
            wn = w->next;
            w->r->status = 503;
            pg_req_finish(w->r);
            w = wn;
        }
    }
    if (ps->merge != NULL) {
        struct merge_memo *m = ps->merge;
        struct merge_wait *w = m->waiters, *wn;
        int i;

        if (m->job != NULL) {
            merge_job_free(m->job);     /* its done will not run */
        }
        m->waiters = NULL;
        for (; w != NULL; w = wn) {
            wn = w->next;
            w->r->status = 503;
            pg_req_finish(w->r);
        }
        for (i = 0; i < B_COUNT; i++) {
            pg_body_unref(m->body[i]);
        }
        free(m);
    }
    ps->closing = 1;
    pg_lru_free(ps->table);
    free(ps);
}

void
pg_pages_invalidate(struct pg_pages *ps)
{
    struct pg_lru_node *n = pg_lru_first(ps->table), *next;

    pg_hot_invalidate(ps->ctx.hot);
    while (n != NULL) {
        struct pg_page *pg = (struct pg_page *)n;

        next = pg_lru_next(n);
        if (!page_busy(pg)) {
            page_remove(ps, pg);
        } else {
            pg->invalid = 1;    /* its model is annotated under the old
                                   policy/pins: drop it when idle */
        }
        n = next;
    }
}

size_t
pg_pages_count(struct pg_pages *ps)
{
    return pg_lru_count(ps->table);
}

size_t
pg_pages_bytes(struct pg_pages *ps)
{
    return pg_lru_bytes(ps->table);
}
