/* proxy/routes/files_dl.c — one download per sha256 (struct pg_dl).
 *
 * The request that starts a download is its live client: bytes go to it
 * as they arrive (through the transport's stream ops), hashed and written
 * to a temp blob on the way, except the last PG_FILE_HOLD_BYTES, held
 * back until the sha256 equals the index's; a file of at most
 * check_before_send bytes is received whole before any answer.  Every
 * other request for it waits.  A match commits the blob on a worker and
 * serves the waiters; a mismatch resets the live client, holds the sha256
 * (files.c's hold table) and refuses the waiters with the reason.  Every
 * download ends through dl_finish.  See files.c for the whole route.
 *
 * Owns: downloads, their temp blobs, transfers and waiters.
 * Borrows: the route's state.  Runs on: loop (commit on a worker).
 * Spec: design §2, §8; issue 2 items 4, 7; issue 9 item 3; issue 10 item 7.
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

#include "files_int.h"

/* A download leaves the table in dl_free, which frees it: the table's
 * drop has nothing to do. */
void
pg_files_dl_drop(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    (void) n;
}

struct pg_dl *
pg_files_dl_find(struct pg_files *fs, const char *sha)
{
    return (struct pg_dl *)pg_lru_find(fs->dls, sha);
}

static void
dl_free(struct pg_dl *d)
{
    pg_lru_remove(d->fs->dls, &d->n);
    if (d->xfer != NULL) {
        pg_upstream_cancel(d->xfer);
    }
    if (d->w != NULL && !d->committing) {
        pg_blob_abort(d->w);
    }
    if (d->held != NULL) {
        evbuffer_free(d->held);
    }
    if (d->tmp != NULL) {
        evbuffer_free(d->tmp);
    }
    free(d->rec.project);
    free(d->rec.filename);
    free(d->rec.url);
    free(d->rec.upload_time);
    free(d);
}

void
pg_files_dl_add_waiter(struct pg_dl *d, struct file_req *fr)
{
    struct dl_wait *w = pg_req_alloc(fr->r, sizeof(*w));

    if (w == NULL) {
        pg_req_refuse(fr->r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    w->fr = fr;
    if (d->wtail != NULL) {
        d->wtail->next = w;
    } else {
        d->waiters = w;
    }
    d->wtail = w;
    fr->r->cache = "wait";
}

/* Ends every waiter: after a commit they are served from the blob,
 * otherwise refused with d->reason (a 503 with Retry-After). */
static void
dl_end_waiters(struct pg_dl *d, int stored, enum pg_refusal why)
{
    struct dl_wait *w = d->waiters, *next;

    d->waiters = d->wtail = NULL;
    while (w != NULL) {
        next = w->next;
        if (stored) {
            w->fr->after_commit = 1;
            pg_files_proceed(w->fr);
        } else {
            if (pg_refusal_status(why) == 503) {
                pg_req_set_header(w->fr->r, "Retry-After", "5");
            }
            pg_req_refuse(w->fr->r, why, "%s", d->reason);
        }
        w = next;
    }
}

static void
live_detach(struct pg_dl *d)
{
    if (d->live != NULL) {
        d->live->dl = NULL;
        d->live->r->on_gone = NULL;
        d->live = NULL;
    }
}

/* How a download ends for its clients (struct pg_dl's one exit, as
 * nginx's ngx_http_upstream_finalize_request): the live client, if any,
 * gets the refusal code/title (or a reset when its answer was started),
 * every waiter gets the same refusal (200: served from the stored blob),
 * then the download is freed.  The texts default to d->reason. */
struct dl_end {
    int stored;                     /* waiters served from the blob */
    enum pg_refusal why;            /* else their refusal */
    const char *live_reason;        /* the live client's refusal */
    const char *abort_reason;       /* its reset (access line) */
    int stopping;                   /* the live client just ends */
};

static const struct dl_end dl_stored = { .stored = 1 };
static const struct dl_end dl_full = { .why = PG_REFUSE_RETRY };
static const struct dl_end dl_store_failed = {
    .why = PG_REFUSE_BAD_GATEWAY };
static const struct dl_end dl_stopping = { .why = PG_REFUSE_STOPPING,
    .stopping = 1 };

static void
dl_finish(struct pg_dl *d, const struct dl_end *e)
{
    if (d->live != NULL) {
        struct pg_req *r = d->live->r;

        live_detach(d);
        if (e->stopping) {
            pg_req_finish(r);
        } else if (r->started) {
            pg_req_abort(r, e->abort_reason != NULL ? e->abort_reason
                : d->reason);
        } else {
            pg_req_refuse(r, e->why, "%s",
                e->live_reason != NULL ? e->live_reason : d->reason);
        }
    }
    dl_end_waiters(d, e->stored, e->why);
    dl_free(d);
}

/* An upstream failure's refusal: a host the configuration does not allow
 * is a 403 (clients would retry a 5xx), anything else a 502. */
static void
dl_finish_upstream(struct pg_dl *d, enum pg_upstream_code code)
{
    struct dl_end e = { .why = pg_refusal_of_upstream(code) };

    dl_finish(d, &e);
}

static void
on_live_gone(struct pg_req *r)
{
    struct file_req *fr = r->route_state;
    struct pg_dl *d = fr->dl;

    if (d != NULL) {
        live_detach(d);
        if (d->paused && d->xfer != NULL) {
            d->paused = 0;
            pg_upstream_resume(d->xfer);
        }
    }
    pg_req_finish(r);
}

static void
on_client_drained(void *arg)
{
    struct pg_dl *d = arg;

    if (d->paused && d->xfer != NULL) {
        d->paused = 0;
        pg_upstream_resume(d->xfer);
    }
}

static int
dl_on_headers(void *arg, const struct pg_upstream_resp *resp)
{
    struct pg_dl *d = arg;
    struct pg_req *r;
    char cl[32];
    uint64_t check_first = d->fs->ctx.cfg->check_before_send;

    d->up_status = resp->status;
    if (resp->status != 200) {
        snprintf(d->reason, sizeof(d->reason), "upstream answered %ld for "
            "%s", resp->status, d->rec.filename);
        return 1;
    }
    if (d->rec.size >= 0 && resp->content_length >= 0
        && resp->content_length != d->rec.size)
    {
        d->mismatch = 1;
        d->size_mismatch = 1;
        snprintf(d->reason, sizeof(d->reason), "upstream sent %lld bytes "
            "for %s, the index lists %lld", (long long)resp->content_length,
            d->rec.filename, (long long)d->rec.size);
        return 1;
    }
    d->declared = d->rec.size >= 0 ? d->rec.size : resp->content_length;
    if (d->live == NULL) {
        return 0;
    }
    if (d->declared < 0 || (check_first > 0 && !d->passthrough
            && (uint64_t)d->declared <= check_first))
    {
        /* No length to promise, or small enough to check first (issue 9
         * item 3): the client waits for the blob like any waiter, and a
         * mismatch reaches it as a 403 with the reason, never as a
         * reset after a 200. */
        struct file_req *fr = d->live;

        live_detach(d);
        pg_files_dl_add_waiter(d, fr);
        fr->r->cache = "miss";      /* it started the download */
        return 0;
    }
    r = d->live->r;
    if (r->client_gone) {
        return 0;
    }
    pg_files_set_headers(r, &d->rec);
    snprintf(cl, sizeof(cl), "%lld", (long long)d->declared);
    pg_req_set_header(r, "Content-Length", cl);
    pg_req_start_stream(r, 200, "OK");
    return 0;
}

static int
dl_on_data(void *arg, const void *buf, size_t len)
{
    struct pg_dl *d = arg;
    struct pg_req *r;
    size_t hl;
    struct pg_cache_err err;
    int rc;

    memset(&err, 0, sizeof(err));
    rc = pg_blob_write(d->w, buf, len, &err);
    if (rc == PG_CACHE_EFULL) {
        /* The writer goes on hashing: a verified pass-through. */
        d->passthrough = 1;
        if (strcmp(err.step, "disk") == 0) {
            pg_full_set(d->fs->ctx.full, err.reason,
                d->declared > 0 ? (uint64_t)d->declared : 0);
        }
    } else if (rc != PG_CACHE_OK) {
        snprintf(d->reason, sizeof(d->reason), "cannot store %s: %s",
            d->rec.filename, err.reason);
        return 1;
    }
    d->received += len;
    if (d->declared >= 0 && d->received > (uint64_t)d->declared) {
        d->mismatch = 1;
        d->size_mismatch = 1;
        snprintf(d->reason, sizeof(d->reason), "upstream sent more than "
            "the %lld bytes listed for %s", (long long)d->declared,
            d->rec.filename);
        return 1;
    }
    if (d->live == NULL || !d->live->r->started || d->live->r->client_gone)
    {
        return 0;
    }
    r = d->live->r;
    if (evbuffer_add(d->held, buf, len) != 0) {
        snprintf(d->reason, sizeof(d->reason), "out of memory");
        return 1;
    }
    hl = evbuffer_get_length(d->held);
    if (hl > PG_FILE_HOLD_BYTES) {
        evbuffer_remove_buffer(d->held, d->tmp, hl - PG_FILE_HOLD_BYTES);
        pg_req_stream(r, d->tmp, on_client_drained, d);
        if (!d->paused && pg_req_output_pending(r) > PG_FILE_CLIENT_HIGH) {
            d->paused = 1;
            pg_upstream_pause(d->xfer);
        }
    }
    return 0;
}

static void
commit_work(void *arg)
{
    struct pg_dl *d = arg;

    d->commit_rc = pg_blob_commit(d->w, d->rec.sha, &d->cerr);
}

static void
commit_done(void *arg)
{
    struct pg_dl *d = arg;
    struct pg_server *s = d->fs->log;

    d->w = NULL;
    d->committing = 0;
    if (d->commit_rc == PG_CACHE_EFULL) {
        pg_full_set(d->fs->ctx.full, d->cerr.reason, d->received);
        snprintf(d->reason, sizeof(d->reason), "the cache is full: %s "
            "could not be stored; retry", d->rec.filename);
        dl_finish(d, &dl_full);
    } else if (d->commit_rc != PG_CACHE_OK) {
        pg_log(s, "file %s (%s): not cached: %s: %s", d->rec.filename,
            d->rec.sha, pg_cache_strerror(d->cerr.code), d->cerr.reason);
        snprintf(d->reason, sizeof(d->reason), "cannot store %s: %s",
            d->rec.filename, pg_cache_strerror(d->cerr.code));
        dl_finish(d, &dl_store_failed);
    } else {
        pg_full_clear(d->fs->ctx.full, "a file was stored");
        dl_finish(d, &dl_stored);
    }
}

/* The hash matched: the waiters are answered from the temp blob at once;
 * the commit (fsync, rename, LMDB) need not delay them: a file checked
 * before its status line waits for its bytes, not for the disk (issue 9
 * item 3).  Unless the temp blob cannot be opened: then they wait for the
 * commit.  A waiter's entry lives in its arena: next is read first. */
static void
dl_serve_checked(struct pg_dl *d)
{
    struct evbuffer_file_segment *seg;
    struct dl_wait *w, *next;
    int fd;

    if (d->waiters == NULL) {
        return;
    }
    fd = pg_blob_reader(d->w);
    if (fd < 0) {
        return;
    }
    seg = evbuffer_file_segment_new(fd, 0, (ev_off_t)d->received,
        EVBUF_FS_CLOSE_ON_FREE);
    if (seg == NULL) {
        close(fd);
        return;
    }
    w = d->waiters;
    d->waiters = d->wtail = NULL;
    for (; w != NULL; w = next) {
        struct file_req *fr = w->fr;

        next = w->next;
        if (pg_files_not_modified(fr->r, &fr->rec)) {
            pg_files_set_headers(fr->r, &fr->rec);
            pg_req_send(fr->r, 304, "Not Modified", NULL);
        } else {
            pg_files_serve_blob(fr, seg, -1, d->received);
        }
    }
    evbuffer_file_segment_free(seg);
}

/* The refusal of a file whose download did not match: which check
 * failed, named after the file the client asked for (the last segment of
 * its path: the record of the sha256 may name another project's file). */
void
pg_files_mismatch_reason(int size, const struct pg_req *r,
    const char *dflt, char *out, size_t olen)
{
    const char *filename = r != NULL && r->path != NULL
        ? strrchr(r->path, '/') : NULL;

    filename = filename != NULL ? filename + 1 : dflt;
    snprintf(out, olen, size ? "upstream sent a file whose size does not "
        "match the index's for %s" : "upstream sent a file that does not "
        "match the index's sha256 for %s", filename);
}

static void
dl_mismatch(struct pg_dl *d)
{
    struct pg_server *s = d->fs->log;
    char why[PG_MAX_REASON], live_why[PG_MAX_REASON], tech[PG_MAX_REASON];

    pg_stats_mismatch(s);
    pg_log(s, "%s mismatch: %s %s from %s: %s; refusing it for %lld s",
        d->size_mismatch ? "size" : "sha256", d->rec.project,
        d->rec.filename, d->rec.url, d->reason,
        (long long)d->fs->ctx.cfg->mismatch_hold_s);
    pg_files_mismatch_reason(d->size_mismatch, NULL, d->rec.filename, why,
        sizeof(why));
    pg_files_hold_add(d->fs, d->rec.sha, d->size_mismatch);
    /* The live client's refusal names the file it asked for, its reset
     * the check that failed; the waiters' names the record's file. */
    pg_files_mismatch_reason(d->size_mismatch,
        d->live != NULL ? d->live->r : NULL, d->rec.filename, live_why,
        sizeof(live_why));
    snprintf(tech, sizeof(tech), "%s", d->reason);
    snprintf(d->reason, sizeof(d->reason), "%s", why);
    dl_finish(d, &(struct dl_end){ .why = PG_REFUSE_FORBIDDEN,
        .live_reason = live_why,
        .abort_reason = tech });
}

static void
dl_on_done(void *arg, enum pg_upstream_code code, const char *reason,
    const struct pg_upstream_resp *resp)
{
    struct pg_dl *d = arg;
    struct pg_server *s = d->fs->log;
    char hex[65];

    (void) resp;
    d->xfer = NULL;
    if (d->mismatch) {
        pg_stats_upstream_done(s, pg_files_rec_kind(&d->rec), "mismatch",
            d->t0);
        dl_mismatch(d);
        return;
    }
    if (code == PG_UP_OK && d->up_status == 200) {
        pg_stats_upstream_done(s, pg_files_rec_kind(&d->rec), NULL, d->t0);
        pg_blob_digest(d->w, hex);
        if (d->declared >= 0 && d->received != (uint64_t)d->declared) {
            d->size_mismatch = 1;
            snprintf(d->reason, sizeof(d->reason), "upstream sent %llu "
                "bytes, the index lists %lld", (unsigned long long)
                d->received, (long long)d->declared);
            dl_mismatch(d);
            return;
        }
        if (strcmp(hex, d->rec.sha) != 0) {
            snprintf(d->reason, sizeof(d->reason), "sha256 %s, index says "
                "%s (%llu bytes)", hex, d->rec.sha,
                (unsigned long long)d->received);
            dl_mismatch(d);
            return;
        }
        if (d->live != NULL) {
            struct pg_req *r = d->live->r;

            live_detach(d);
            if (!r->client_gone && r->started) {
                pg_req_stream(r, d->held, NULL, NULL);
            }
            pg_req_end_stream(r);
        }
        if (d->passthrough) {
            /* Served to the live client, hash-checked; not cached. */
            pg_blob_abort(d->w);
            d->w = NULL;
            snprintf(d->reason, sizeof(d->reason), "the cache is full: %s "
                "could not be kept for this request; retry",
                d->rec.filename);
            dl_finish(d, &dl_full);
            return;
        }
        dl_serve_checked(d);
        d->committing = 1;
        if (pg_workers_submit(d->fs->ctx.workers, commit_work, commit_done, d)
            != 0)
        {
            d->committing = 0;
            snprintf(d->reason, sizeof(d->reason), "cannot store %s: "
                "worker queue unavailable", d->rec.filename);
            dl_finish(d, &dl_store_failed);
        }
        return;
    }
    if (d->reason[0] == '\0') {
        snprintf(d->reason, sizeof(d->reason), "upstream failed for %s: %s",
            d->rec.filename, reason != NULL ? reason
            : pg_upstream_strerror(code));
    }
    pg_stats_upstream_done(s, pg_files_rec_kind(&d->rec),
        code == PG_UP_ETIMEOUT ? "timeout"
        : code == PG_UP_OK ? "status" : "connect", d->t0);
    dl_finish_upstream(d, code);
}

/* Starts the download of fr's file; fr is live if live, else a waiter. */
void
pg_files_dl_start(struct file_req *fr, int live)
{
    struct pg_req *r = fr->r;
    struct pg_files *fs = fr->fs;
    struct pg_dl *d = calloc(1, sizeof(*d));
    struct pg_upstream_req req;
    enum pg_upstream_code code = PG_UP_OK;
    struct pg_cache_err err;

    memset(&err, 0, sizeof(err));
    if (d == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    d->fs = fs;
    d->rec = fr->rec;
    d->rec.project = strdup(fr->rec.project);
    d->rec.filename = strdup(fr->rec.filename);
    d->rec.url = strdup(fr->rec.url);
    d->rec.upload_time = fr->rec.upload_time != NULL
        ? strdup(fr->rec.upload_time) : NULL;
    d->held = evbuffer_new();
    d->tmp = evbuffer_new();
    d->declared = -1;
    d->n.key = d->rec.sha;
    pg_lru_link(fs->dls, &d->n);
    if (d->rec.project == NULL || d->rec.filename == NULL
        || d->rec.url == NULL || d->held == NULL || d->tmp == NULL)
    {
        dl_free(d);
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    if (pg_full_is(fs->ctx.full)) {
        /* Nothing is stored while the cache is full: stream it with the
         * hold-back (no check_before_send: there is no blob to wait
         * for). */
        err.code = PG_CACHE_EFULL;
        snprintf(err.reason, sizeof(err.reason), "cache full");
    } else if (pg_blob_begin(fs->ctx.cache, &d->w, &err) != PG_CACHE_OK) {
        d->w = NULL;
    }
    if (err.code != PG_CACHE_OK) {
        if (err.code == PG_CACHE_EFULL) {
            pg_full_set(fs->ctx.full, err.reason,
                fr->rec.size > 0 ? (uint64_t)fr->rec.size : 0);
            memset(&err, 0, sizeof(err));
            d->passthrough = 1;
        }
        if (!d->passthrough
            || pg_blob_begin_hash_only(fs->ctx.cache, &d->w, &err)
            != PG_CACHE_OK)
        {
            d->w = NULL;
            dl_free(d);
            pg_req_refuse(r, PG_REFUSE_BAD_GATEWAY, "cannot store %s: %s",
                fr->rec.filename, err.reason);
            return;
        }
    }
    if (live) {
        d->live = fr;
        fr->dl = d;
        r->on_gone = on_live_gone;
    } else {
        pg_files_dl_add_waiter(d, fr);
    }
    memset(&req, 0, sizeof(req));
    req.url = d->rec.url;
    req.max_body = 0;
    req.idle_timeout_ms = fs->ctx.cfg->upstreams[fr->up].file_idle_timeout_ms;
    req.on_headers = dl_on_headers;
    req.on_data = dl_on_data;
    req.on_done = dl_on_done;
    req.arg = d;
    d->t0 = pg_now_ms();
    pg_stats_cache_event(fs->log, pg_files_rec_kind(&d->rec), "miss");
    d->xfer = pg_upstream_start(fs->ctx.ups[fr->up], &req, &code);
    if (d->xfer == NULL) {
        snprintf(d->reason, sizeof(d->reason), "cannot fetch %s: %s",
            d->rec.filename, pg_upstream_strerror(code));
        pg_stats_upstream_done(fs->log, pg_files_rec_kind(&d->rec), "refused",
            d->t0);
        dl_finish_upstream(d, code);
    }
}

/* Ends a download at stop: its live client just ends, its waiters get
 * 503 "stopping". */
void
pg_files_dl_stop(struct pg_dl *d)
{
    snprintf(d->reason, sizeof(d->reason), "stopping");
    dl_finish(d, &dl_stopping);
}
