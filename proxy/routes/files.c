/* proxy/routes/files.c — the file route: /packages/… (files and .metadata).
 *
 * A file is served only if an index page listed it: the request path is
 * looked up in PATHS (proxy path → the file record: sha256, project,
 * filename, upstream URL, size).  The record is the path's own, not the
 * sha256's: the same bytes listed by two projects are decided by the
 * project whose page listed the path asked for, and a refusal names that
 * file (issue 10 item 8).  An unknown path loads the page of the
 * project named by the filename (wheel: before the first '-'; sdist: before
 * the last '-'), then is looked up again or answered 404.  The provenance
 * decision hook (pg_proxy.h) is asked before any byte is served.
 *
 * Warm requests skip LMDB: the path's parsed record and the open blob come
 * from filecache.c (records valid while the LMDB generation is unchanged;
 * open blobs re-checked with pg_blob_open after PG_FILECACHE_FD_VALID_MS).
 * The decision hook is still asked on every request.
 *
 * Cached (blob present): sendfile of the blob (a shared file segment) with
 * Content-Length, ETag "<sha256>", Cache-Control: max-age=365000000,
 * immutable, Accept-Ranges: bytes; a single Range gets 206 with an exact
 * Content-Range (416 when unsatisfiable), If-Range (ETag or date) decides
 * whether the range applies, If-None-Match gets 304.  Never content-encoded.
 *
 * A cached blob is re-hashed (rehash.c, on a worker) before this process
 * first serves it: a damaged one is removed and fetched again, never
 * served (issue 10 item 3).
 *
 * Disk full (issue 10 item 7): when the store cannot take a file (no
 * space for its temp file or its bytes, over the cap, or the commit
 * fails), the download goes on as a verified pass-through: hashed with
 * the same hold-back, served to the live client, not cached; waiters get
 * 503 with Retry-After.  The cache is then "full" (a log line, the
 * provgate_cache_full gauge) until a commit succeeds or a probe (statvfs,
 * on a worker, every PG_FULL_PROBE_S) sees room for the file that did
 * not fit; meanwhile every download streams this way (check_before_send
 * needs a blob to wait for).  A page whose file records could not be
 * committed is still usable for its files: a path LMDB does not know is
 * looked up in the page just loaded.
 *
 * Uncached: one download per sha256 (struct pg_dl, files_dl.c).  A file
 * of at most check_before_send bytes (the index's size, else the upstream's
 * Content-Length) is received whole into its temp blob before any answer
 * starts: every request for it waits (below), so a mismatch reaches even
 * the first one as a 403 with the reason and a problem+json body, never
 * as a reset after a 200 (issue 9 item 3).  Above it, the request that
 * started the download is the "live" client: bytes go to it as they
 * arrive, with the Content-Length from the index (or upstream), hashed and
 * written to a temp blob on the way, except the last PG_FILE_HOLD_BYTES,
 * held back until the download ended and its sha256 equals the index's.
 * Match: the held bytes are sent, the blob is committed (fsync + rename)
 * on a worker.  Mismatch: the live client's connection is reset (it never
 * holds a complete wrong file), the temp blob is deleted,
 * provgate_hash_mismatches_total counts it, a log line names the file and
 * which check failed (size or sha256), and for mismatch_hold seconds every
 * request for that sha256 gets 403 with the reason (naming the file it
 * asked for) instead of another fetch.  Every
 * other request for the same file while it downloads (and every Range,
 * HEAD without a known size, or request when no Content-Length is known)
 * waits: once the hash matched it is served from the temp blob while the
 * commit runs (pg_blob_reader; a request arriving during the commit, from
 * the committed blob), or it gets the same 403 or 502 with the same
 * reason.  One upstream fetch, memory bounded by the hold-back plus the
 * live client's output threshold.
 * Back-pressure: when the live client's output buffer holds more than
 * PG_FILE_CLIENT_HIGH bytes the upstream transfer is paused until it
 * drained; a live client that goes away no longer paces the download,
 * which continues into the cache for the waiters.
 *
 * Owns: downloads, their temp blobs and transfers, the hold table, the
 * file cache.
 * Borrows: the server.  Runs on: loop (commit on a worker).
 * Spec: design §2, §5, §8; issue 2 items 4, 5, 7; issue 9 item 3;
 * PEP 658/714.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "config_int.h"
#include "filecache_int.h"
#include "files_int.h"
#include "index_int.h"
#include "lru_int.h"
#include "metrics_int.h"
#include "pg_cache.h"
#include "rehash_int.h"
#include "routes_int.h"
#include "server_int.h"
#include "upstream_int.h"
#include "worker_int.h"

static void lookup(struct file_req *fr);
static void rehash(struct file_req *fr);

const char *
pg_files_rec_kind(const struct file_rec *rec)
{
    return rec->is_meta ? "metadata" : "file";
}

/* ---- hold table -------------------------------------------------------- */

/* The held sha256s are an index (util/lru.c) over a ring of
 * PG_HOLD_SLOTS slots: a new mismatch reuses the oldest slot, one of a
 * sha256 already held replaces its entry.  Nothing is allocated. */

static void
on_hold_drop(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    ((struct hold_slot *)n)->linked = 0;
}

static const struct hold_slot *
hold_find(struct pg_files *fs, const char *sha)
{
    time_t now = time(NULL);
    const struct hold_slot *h;

    if (now >= fs->hold_until_max) {
        return NULL;        /* nothing held: no look-up per request */
    }
    h = (const struct hold_slot *)pg_lru_find(fs->held, sha);
    return h != NULL && h->until > now ? h : NULL;
}

void
pg_files_hold_add(struct pg_files *fs, const char *sha, int size)
{
    struct hold_slot *h = &fs->hold[fs->hold_next];

    fs->hold_next = (fs->hold_next + 1) % PG_HOLD_SLOTS;
    if (h->linked) {
        pg_lru_remove(fs->held, &h->n);
    }
    snprintf(h->sha, sizeof(h->sha), "%s", sha);
    h->size = size;
    h->until = time(NULL) + (time_t)fs->ctx.cfg->mismatch_hold_s;
    if (h->until > fs->hold_until_max) {
        fs->hold_until_max = h->until;
    }
    h->n.key = h->sha;
    h->n.bytes = 0;
    if (pg_lru_insert(fs->held, &h->n) == 0) {
        h->linked = 1;
    }
}

/* ---- records ----------------------------------------------------------- */

/* Project named by a distribution filename (normalized); -1 if none. */
static int
project_of(const char *path, char *out, size_t outlen)
{
    const char *fn = strrchr(path, '/');
    char name[512];
    size_t n;
    char *dash;
    static const char *const sdist[] = { ".tar.gz", ".zip", ".tar.bz2",
        ".tgz", ".tar.xz", ".tar" };
    size_t i;
    int is_sdist = 0;

    fn = fn != NULL ? fn + 1 : path;
    n = strlen(fn);
    if (n == 0 || n >= sizeof(name)) {
        return -1;
    }
    memcpy(name, fn, n + 1);
    if (n > 9 && strcmp(name + n - 9, ".metadata") == 0) {
        n -= 9;
        name[n] = '\0';
    }
    for (i = 0; i < sizeof(sdist) / sizeof(sdist[0]); i++) {
        size_t el = strlen(sdist[i]);

        if (n > el && strcasecmp(name + n - el, sdist[i]) == 0) {
            name[n - el] = '\0';
            is_sdist = 1;
            break;
        }
    }
    dash = is_sdist ? strrchr(name, '-') : strchr(name, '-');
    if (dash == NULL || dash == name) {
        return -1;
    }
    *dash = '\0';
    return pg_index_normalize(name, out, outlen);
}

/* Copies a cached record into the request's arena. */
static int
rec_from_cache(struct file_req *fr, const struct pg_filecache_rec *c)
{
    struct pg_req *r = fr->r;

    memcpy(fr->rec.sha, c->sha, sizeof(fr->rec.sha));
    fr->rec.project = pg_req_strdup(r, c->project);
    fr->rec.filename = pg_req_strdup(r, c->filename);
    fr->rec.url = pg_req_strdup(r, c->url);
    fr->rec.upload_time = c->upload_time != NULL
        ? pg_req_strdup(r, c->upload_time) : NULL;
    fr->rec.size = c->size;
    fr->rec.is_meta = c->is_meta;
    if (fr->rec.project == NULL || fr->rec.filename == NULL
        || fr->rec.url == NULL
        || (c->upload_time != NULL && fr->rec.upload_time == NULL))
    {
        return -1;
    }
    return 0;
}

static void
rec_to_cache(struct file_req *fr, uint64_t gen)
{
    struct pg_filecache_rec c;

    memcpy(c.sha, fr->rec.sha, sizeof(c.sha));
    c.project = fr->rec.project;
    c.filename = fr->rec.filename;
    c.url = fr->rec.url;
    c.upload_time = fr->rec.upload_time;
    c.size = fr->rec.size;
    c.is_meta = fr->rec.is_meta;
    pg_filecache_rec_put(fr->fs->fc, fr->r->path, gen, &c);
}

/* Fills fr->rec from a PATHS value (a JSON file record with its sha256);
 * -1 if it is not one (a cache written before records moved to PATHS
 * keeps the bare sha256 there: such a path is looked up in its page). */
static int
load_record(struct file_req *fr, const void *val, size_t len)
{
    struct pg_req *r = fr->r;
    json_t *o;
    json_error_t jerr;
    const char *sha, *p, *f, *u, *ut, *kind;

    o = json_loadb(val, len, 0, &jerr);
    sha = json_string_value(json_object_get(o, "sha256"));
    p = json_string_value(json_object_get(o, "project"));
    f = json_string_value(json_object_get(o, "filename"));
    u = json_string_value(json_object_get(o, "url"));
    ut = json_string_value(json_object_get(o, "upload_time"));
    kind = json_string_value(json_object_get(o, "kind"));
    if (sha == NULL || strlen(sha) != 64 || p == NULL || f == NULL
        || u == NULL)
    {
        json_decref(o);
        return -1;
    }
    snprintf(fr->rec.sha, sizeof(fr->rec.sha), "%s", sha);
    fr->rec.project = pg_req_strdup(r, p);
    fr->rec.filename = pg_req_strdup(r, f);
    fr->rec.url = pg_req_strdup(r, u);
    fr->rec.upload_time = ut != NULL ? pg_req_strdup(r, ut) : NULL;
    fr->rec.size = json_is_integer(json_object_get(o, "size"))
        ? (int64_t)json_integer_value(json_object_get(o, "size")) : -1;
    fr->rec.is_meta = kind != NULL && strcmp(kind, "metadata") == 0;
    json_decref(o);
    if (fr->rec.project == NULL || fr->rec.filename == NULL
        || fr->rec.url == NULL)
    {
        return -1;
    }
    return 0;
}

/* ---- serving a committed blob ----------------------------------------- */

static time_t
upload_time(const struct file_rec *rec)
{
    struct tm tm;
    const char *end;

    if (rec->upload_time == NULL) {
        return (time_t)-1;
    }
    memset(&tm, 0, sizeof(tm));
    end = strptime(rec->upload_time, "%Y-%m-%dT%H:%M:%S", &tm);
    if (end == NULL) {
        return (time_t)-1;
    }
    return timegm(&tm);
}


/* Last-Modified for ut ("" when there is none). */
static void
format_lm(time_t ut, char *lm, size_t lmlen)
{
    if (ut == (time_t)-1 || pg_http_date(ut, lm, lmlen) != 0) {
        lm[0] = '\0';
    }
}

/* The view of a file record: what views.c answers from. */
static void
rec_view(const struct file_rec *rec, struct pg_file_view *v)
{
    memset(v, 0, sizeof(*v));
    v->fd = -1;
    memcpy(v->sha, rec->sha, sizeof(v->sha));
    v->filename = rec->filename;
    v->upload_time = rec->upload_time;
    v->is_meta = rec->is_meta;
    v->size = rec->size >= 0 ? (uint64_t)rec->size : 0;
    if (rec->lm_pre != NULL) {
        snprintf(v->lm, sizeof(v->lm), "%s", rec->lm_pre);
        v->lm_time = rec->ut_pre;
    } else {
        v->lm_time = upload_time(rec);
        format_lm(v->lm_time, v->lm, sizeof(v->lm));
    }
}

void
pg_files_set_headers(struct pg_req *r, const struct file_rec *rec)
{
    struct pg_file_view v;

    rec_view(rec, &v);
    pg_view_file_headers(r, &v);
}

void
pg_files_serve_blob(struct file_req *fr, struct evbuffer_file_segment *seg,
    int fd, uint64_t size)
{
    struct pg_file_view v;

    rec_view(&fr->rec, &v);
    pg_view_file_send(fr->r, &v, seg, fd, size);
}

int
pg_files_not_modified(struct pg_req *r, const struct file_rec *rec)
{
    struct pg_file_view v;

    rec_view(rec, &v);
    return pg_view_file_not_modified(r, &v);
}

/* ---- other loops (hot.c) ------------------------------------------------ */

/* A hit the main loop decided: every loop may answer it the same way
 * while the page it was decided on is fresh and LMDB is unchanged. */
static void
publish(struct file_req *fr, uint64_t size)
{
    struct pg_req *r = fr->r;
    struct pg_file_view v;

    if (r->client_gone || r->path == NULL || fr->cache_gen == 0
        || (fr->decided && fr->fresh_until <= time(NULL))
        || (fr->fs->ctx.hooks->file_decision != NULL && !fr->decided))
    {
        return;
    }
    memset(&v, 0, sizeof(v));
    v.fd = -1;
    memcpy(v.sha, fr->rec.sha, sizeof(v.sha));
    v.filename = fr->rec.filename;
    v.upload_time = fr->rec.upload_time;
    v.is_meta = fr->rec.is_meta;
    v.page_hit = fr->page_hit;
    v.size = size;
    v.cache_gen = fr->cache_gen;
    v.fresh_until = fr->decided ? fr->fresh_until : PG_FILE_NO_PAGE;
    v.lm_time = upload_time(&fr->rec);
    format_lm(v.lm_time, v.lm, sizeof(v.lm));
    pg_hot_publish_file(fr->fs->ctx.hot, r->path, &v);
}

/* r's file state, in its arena; NULL when r was answered (503). */
static struct file_req *
file_req_new(struct pg_files *fs, struct pg_req *r)
{
    struct file_req *fr = pg_req_alloc(r, sizeof(*fr));

    r->route = "file";
    if (fr == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return NULL;
    }
    fr->fs = fs;
    fr->r = r;
    r->route_state = fr;
    return fr;
}

/* ---- the route --------------------------------------------------------- */

void
pg_files_proceed(struct file_req *fr)
{
    struct pg_req *r = fr->r;
    struct pg_files *fs = fr->fs;
    const struct hold_slot *h;
    struct pg_cache_err err;
    struct pg_dl *d;
    struct evbuffer_file_segment *seg = NULL;
    uint64_t size = 0;
    int rc;

    h = hold_find(fs, fr->rec.sha);
    if (h != NULL) {
        char why[PG_MAX_REASON];

        pg_files_mismatch_reason(h->size, r, fr->rec.filename, why,
            sizeof(why));
        pg_req_refuse(r, PG_REFUSE_FORBIDDEN, "%s", why);
        return;
    }
    if (pg_files_not_modified(r, &fr->rec)) {
        pg_files_set_headers(r, &fr->rec);
        pg_req_send(r, 304, "Not Modified", NULL);
        return;
    }
    memset(&err, 0, sizeof(err));
    rc = pg_filecache_blob(fs->fc, fr->rec.sha, &seg, &size, &err);
    if (rc == PG_CACHE_OK && !pg_blob_verified(fs->ctx.cache, fr->rec.sha)) {
        rehash(fr);
        return;
    }
    if (rc == PG_CACHE_OK) {
        if (!fr->after_commit) {
            r->cache = "hit";
            pg_stats_cache_event(fs->log, pg_files_rec_kind(&fr->rec), "hit");
            publish(fr, size);
        }
        pg_files_serve_blob(fr, seg, -1, size);
        return;
    }
    if (fr->after_commit) {
        pg_req_refuse(r, PG_REFUSE_BAD_GATEWAY, "%s was stored but is gone "
            "(cache_max_bytes too small?)", fr->rec.filename);
        return;
    }
    if (rc != PG_CACHE_NOTFOUND) {
        pg_log(fs->log, "blob %s: %s: %s", fr->rec.sha,
            pg_cache_strerror(err.code), err.reason);
    }
    r->cache = "miss";
    if (r->is_head && fr->rec.size >= 0) {
        char cl[32];

        pg_files_set_headers(r, &fr->rec);
        snprintf(cl, sizeof(cl), "%lld", (long long)fr->rec.size);
        pg_req_set_header(r, "Content-Length", cl);
        pg_req_send(r, 200, "OK", NULL);
        return;
    }
    d = pg_files_dl_find(fs, fr->rec.sha);
    if (d != NULL) {
        pg_files_dl_add_waiter(d, fr);
        return;
    }
    pg_files_dl_start(fr, !r->is_head && pg_req_header(r, "Range") == NULL);
}

static void
on_rehashed(void *arg, int rc)
{
    struct file_req *fr = arg;

    if (rc == PG_REHASH_STOPPING) {
        pg_req_refuse(fr->r, PG_REFUSE_STOPPING, "stopping");
        return;
    }
    pg_files_proceed(fr);   /* verified: served; damaged: removed, fetched
                               again */
}

/* The blob is cached but this process never hashed it: hash it on a
 * worker first (issue 10 item 3). */
static void
rehash(struct file_req *fr)
{
    struct pg_req *r = fr->r;

    if (fr->rehashed) {
        pg_req_refuse(r, PG_REFUSE_BAD_GATEWAY, "the cached %s could not be "
            "verified", fr->rec.filename);
        return;
    }
    fr->rehashed = 1;
    if (pg_rehash_blob(fr->fs->rh, fr->rec.sha, on_rehashed, fr) != 0)
    {
        pg_req_refuse(r, PG_REFUSE_UNAVAILABLE, "cannot verify the cached %s "
            "now", fr->rec.filename);
    }
}

static json_t *
find_file_obj(json_t *model, const char *filename, int is_meta)
{
    json_t *files = json_object_get(model, "files"), *f;
    size_t i, n = strlen(filename);

    if (is_meta && n > 9) {
        n -= 9;
    }
    json_array_foreach(files, i, f) {
        const char *fn = json_string_value(json_object_get(f, "filename"));

        if (fn != NULL && strlen(fn) == n && memcmp(fn, filename, n) == 0) {
            return f;
        }
    }
    return NULL;
}

/* 1 if fo (a page's file object) lists rec's bytes: its sha256 (or its
 * core-metadata's, for a .metadata record) is rec->sha. */
static int
file_obj_is(json_t *fo, const struct file_rec *rec)
{
    json_t *h = rec->is_meta ? json_object_get(fo, "core-metadata")
        : json_object_get(fo, "hashes");
    const char *sha = json_string_value(json_object_get(h, "sha256"));

    return fo != NULL && sha != NULL && strcmp(sha, rec->sha) == 0;
}

static void on_page_for_decision(struct pg_req *r, struct pg_page *page,
    int status, const char *reason);

/* issue 4: the provenance hook has a verdict for a parked download: ask
 * again (the page is re-annotated first if it was invalidated). */
static void
on_decision_resume(void *arg)
{
    struct pg_req *r = arg;
    struct file_req *fr = r->route_state;

    if (r->client_gone) {
        pg_req_finish(r);
        return;
    }
    pg_pages_load(fr->fs->ctx.pages, r, fr->rec.project,
        on_page_for_decision);
}

static void
on_page_for_decision(struct pg_req *r, struct pg_page *page, int status,
    const char *reason)
{
    struct file_req *fr = r->route_state;
    const struct pg_config *cfg = fr->fs->ctx.cfg;
    const struct pg_proxy_hooks *hk = fr->fs->ctx.hooks;
    char why[PG_MAX_REASON];
    json_t *fo;
    int rc;

    if (page == NULL) {
        pg_req_refuse(r, status == 404 ? PG_REFUSE_NOT_FOUND
            : PG_REFUSE_BAD_GATEWAY, "%s", reason != NULL ? reason
            : "index page unavailable");
        return;
    }
    fr->fresh_until = pg_page_fresh_until(page);
    fr->page_hit = r->cache != NULL && strcmp(r->cache, "hit") == 0;
    fo = find_file_obj(pg_page_model(page), fr->rec.filename,
        fr->rec.is_meta);
    fr->up = pg_page_upstream(page);
    if (fr->up != 0 && !file_obj_is(fo, &fr->rec)) {
        /* issue 13: a private upstream's file is served only as its own
         * current page lists it (a record another upstream's page left
         * behind is not) */
        pg_req_refuse(r, PG_REFUSE_FORBIDDEN, "provgate: %s is not listed "
            "with this sha256 on the index page of %s ([upstream:%s])",
            fr->rec.filename, fr->rec.project,
            cfg->upstreams[fr->up].name);
        return;
    }
    why[0] = '\0';
    rc = hk->file_decision(hk->arg, fr->rec.project,
        fr->rec.filename, fr->rec.sha, fo, why, sizeof(why));
    if (rc == PG_PROXY_DECISION_WAIT && hk->file_wait != NULL
        && hk->file_wait(hk->arg, fr->rec.project,
            on_decision_resume, r) == 0)
    {
        return;     /* issue 4: provenance still being verified */
    }
    if (rc != 0) {
        pg_req_refuse(r, PG_REFUSE_FORBIDDEN, "%s", why[0] != '\0' ? why
            : "refused by policy");
        return;
    }
    fr->decided = 1;
    pg_files_proceed(fr);
}

static void
on_page_for_file(struct pg_req *r, struct pg_page *page, int status,
    const char *reason)
{
    struct file_req *fr = r->route_state;

    if (page == NULL && status != 404) {
        pg_req_refuse(r, PG_REFUSE_BAD_GATEWAY, "%s", reason != NULL ? reason
            : "index page unavailable");
        return;
    }
    fr->page = page;        /* borrowed: lookup takes it at once */
    lookup(fr);
}

/* The sha256 of a hashes object, if it is 64 lower-case hex. */
static const char *
model_sha256(json_t *hashes)
{
    const char *h = json_string_value(json_object_get(hashes, "sha256"));

    return h != NULL && strlen(h) == 64
        && strspn(h, "0123456789abcdef") == 64 ? h : NULL;
}

/* issue 10 item 7: r's file in the page just loaded (its records may not
 * be in LMDB: a commit that failed on a full disk).  0 found, -1 not. */
static int
rec_from_page(struct file_req *fr, struct pg_page *page, const char *project)
{
    struct pg_req *r = fr->r;
    json_t *files = json_object_get(pg_page_model(page), "files"), *f;
    size_t i, plen = strlen(r->path);
    int is_meta = plen > 9 && strcmp(r->path + plen - 9, ".metadata") == 0;
    char path[PG_MAX_PATH + 16];

    json_array_foreach(files, i, f) {
        const char *url = json_string_value(json_object_get(f, "url"));
        const char *fn = json_string_value(json_object_get(f, "filename"));
        const char *sha, *ut;
        json_t *size = json_object_get(f, "size");

        if (url == NULL || fn == NULL
            || pg_index_file_path(url, path, sizeof(path)) != 0
            || strlen(path) != (is_meta ? plen - 9 : plen)
            || strncmp(path, r->path, strlen(path)) != 0)
        {
            continue;
        }
        sha = model_sha256(is_meta ? json_object_get(f, "core-metadata")
            : json_object_get(f, "hashes"));
        if (sha == NULL) {
            return -1;
        }
        ut = json_string_value(json_object_get(f, "upload-time"));
        memcpy(fr->rec.sha, sha, 65);
        fr->rec.project = pg_req_strdup(r, project);
        fr->rec.filename = is_meta ? pg_req_alloc(r, strlen(fn) + 10)
            : pg_req_strdup(r, fn);
        fr->rec.url = is_meta ? pg_req_alloc(r, strlen(url) + 10)
            : pg_req_strdup(r, url);
        if (fr->rec.project == NULL || fr->rec.filename == NULL
            || fr->rec.url == NULL)
        {
            return -1;
        }
        if (is_meta) {
            snprintf(fr->rec.filename, strlen(fn) + 10, "%s.metadata", fn);
            snprintf(fr->rec.url, strlen(url) + 10, "%s.metadata", url);
        }
        fr->rec.upload_time = !is_meta && ut != NULL
            ? pg_req_strdup(r, ut) : NULL;
        fr->rec.size = !is_meta && json_is_integer(size)
            ? (int64_t)json_integer_value(size) : -1;
        fr->rec.is_meta = is_meta;
        return 0;
    }
    return -1;
}

static void
lookup(struct file_req *fr)
{
    struct pg_req *r = fr->r;
    struct pg_cache_err err;
    void *val = NULL;
    size_t len = 0;
    char project[PG_INDEX_MAX_NAME + 2];
    const struct pg_filecache_rec *cached;
    struct pg_page *page = fr->page;    /* only during on_page_for_file */
    uint64_t gen;
    int rc;

    fr->page = NULL;
    /* The generation is read before any LMDB read: a record cached with it
     * is what LMDB holds while it is unchanged. */
    gen = pg_cache_generation(fr->fs->ctx.cache);
    fr->cache_gen = gen;
    cached = pg_filecache_rec_get(fr->fs->fc, r->path, gen);
    if (cached != NULL) {
        if (rec_from_cache(fr, cached) != 0) {
            pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
            return;
        }
        goto found;
    }
    memset(&err, 0, sizeof(err));
    rc = pg_cache_get(fr->fs->ctx.cache, PG_CACHE_DB_PATHS, r->path,
        strlen(r->path), &val, &len, &err);
    if (rc == PG_CACHE_OK) {
        rc = load_record(fr, val, len) == 0 ? PG_CACHE_OK
            : PG_CACHE_NOTFOUND;
        free(val);
    }
    if (rc != PG_CACHE_OK) {
        if (fr->page_tried && page != NULL
            && project_of(r->path, project, sizeof(project)) == 0
            && rec_from_page(fr, page, project) == 0)
        {
            goto found;     /* the page is served: so are its files */
        }
        if (fr->page_tried) {
            pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "%s is not listed by any "
                "index page", r->path);
            return;
        }
        if (project_of(r->path, project, sizeof(project)) != 0) {
            pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "not a distribution "
                "filename: %s", r->path);
            return;
        }
        fr->page_tried = 1;
        pg_pages_load(fr->fs->ctx.pages, r, project, on_page_for_file);
        return;
    }
    rec_to_cache(fr, gen);
found:
    if (fr->fs->ctx.hooks->file_decision != NULL && !fr->decided) {
        pg_pages_load(fr->fs->ctx.pages, r, fr->rec.project,
            on_page_for_decision);
        return;
    }
    pg_files_proceed(fr);
}

static void
handle_file(void *arg, struct pg_req *r, const char *rest)
{
    struct file_req *fr = file_req_new(arg, r);

    if (fr != NULL) {
        lookup(fr);
    }
}

const struct pg_route pg_files_routes[] = {
    { "/packages/", 1, handle_file, NULL },
};
const size_t pg_files_nroutes =
    sizeof(pg_files_routes) / sizeof(pg_files_routes[0]);

/* A blob was found damaged and removed: no open descriptor of it is
 * served again (hot.c's entries go with the LMDB generation). */
static void
on_blob_damaged(void *arg, const char *sha)
{
    struct pg_files *fs = arg;

    pg_filecache_forget(fs->fc, sha);
}

int
pg_files_new(const struct pg_ctx *ctx, struct pg_files **out)
{
    struct pg_files *fs = calloc(1, sizeof(*fs));

    *out = fs;
    if (fs == NULL) {
        return -1;
    }
    fs->ctx = *ctx;
    fs->log = ctx->log;
    fs->dls = pg_lru_new(DL_BUCKETS, SIZE_MAX, SIZE_MAX, pg_files_dl_drop, fs);
    fs->held = pg_lru_new(PG_HOLD_SLOTS, PG_HOLD_SLOTS, SIZE_MAX,
        on_hold_drop, fs);
    if (fs->dls == NULL || fs->held == NULL
        || pg_filecache_new(ctx->cache, &fs->fc) != 0
        || pg_rehash_new(ctx->log, on_blob_damaged, fs, &fs->rh) != 0)
    {
        pg_filecache_free(fs->fc);
        pg_lru_free(fs->dls);
        pg_lru_free(fs->held);
        free(fs);
        *out = NULL;
        return -1;
    }
    return 0;
}

void
pg_files_free(struct pg_files *fs)
{
    struct pg_lru_node *n;

    if (fs == NULL) {
        return;
    }
    fs->ctx.workers = NULL;     /* gone (pg_server_free): work runs inline */
    for (n = pg_lru_first(fs->dls); n != NULL; n = pg_lru_first(fs->dls)) {
        struct pg_dl *d = (struct pg_dl *)n;

        pg_files_dl_stop(d);
    }
    pg_lru_free(fs->dls);
    pg_lru_free(fs->held);
    pg_rehash_free(fs->rh);
    pg_filecache_free(fs->fc);
    free(fs);
}

size_t
pg_files_active(struct pg_files *fs)
{
    return pg_lru_count(fs->dls);
}
