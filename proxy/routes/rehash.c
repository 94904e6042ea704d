/* proxy/routes/rehash.c — re-hashing cached blobs before first serve, and the
 * background scrub (see rehash_int.h for the rules).
 *
 * Jobs are few (one per blob being re-hashed, only for blobs not yet
 * verified by this process): a table by sha256 (util/lru.c) that never
 * drops one (a job leaves when it ends).  A job's waiters
 * are malloc'd nodes; the job is freed in its done callback, after every
 * waiter was called.  The scrub is one job at a time, started by a
 * one-second timer with a budget of scrub_rate bytes, so it reads at most
 * scrub_rate bytes a second on one worker.
 *
 * Owns: jobs, waiters, the scrub state and timer.  Borrows: the server
 * (cache, workers, metrics, log).  Runs on: loop; pg_blob_verify and
 * pg_blob_scrub_step on a worker.  Spec: design §8; issue 10 item 3.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config_int.h"
#include "lru_int.h"
#include "metrics_int.h"
#include "pg_cache.h"
#include "rehash_int.h"
#include "routes_int.h"
#include "server_int.h"
#include "worker_int.h"

struct rh_waiter {
    pg_rehash_done_fn done;
    void *arg;
    struct rh_waiter *next;
};

struct rh_job {
    struct pg_lru_node n;           /* first; key = sha */
    struct pg_rehash *rh;
    char sha[65];
    struct rh_waiter *waiters;
    int rc;
    uint64_t bytes;
    int64_t t0;
    struct pg_cache_err err;
};

struct pg_rehash {
    struct pg_server *s;
    pg_rehash_damaged_fn on_damaged;
    void *arg;
    struct pg_lru *jobs;            /* sha256 → job (never dropped: a
                                       job leaves by job_end) */
    /* scrub */
    struct event *ev_scrub;
    struct pg_blob_scrub *scrub;
    int scrubbing;                  /* a step is on a worker */
    time_t pass_started;            /* 0: no pass under way */
    time_t next_pass;               /* no new pass before this */
    struct pg_blob_scrub_result res;
    struct pg_cache_err serr;
    int src;
};

static void
count_damaged(struct pg_rehash *rh, const char *found, const char *sha,
    const char *reason)
{
    const char *lv[1] = { found };

    pg_metric_inc(rh->s->m_blob_damaged, 1, lv);
    pg_log(rh->s, "blob %s damaged on disk (%s, found by %s); it is "
        "fetched again on the next request", sha, reason, found);
    if (rh->on_damaged != NULL) {
        rh->on_damaged(rh->arg, sha);
    }
}

/* ---- re-hash before first serve ---------------------------------------- */

static void
job_work(void *arg)
{
    struct rh_job *j = arg;

    j->rc = pg_blob_verify(j->rh->s->cache, j->sha, &j->bytes, &j->err);
}

/* A job leaves the table in job_end, which frees it. */
static void
on_job_drop(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    (void) n;
}

static void
job_end(struct rh_job *j, int rc)
{
    struct rh_waiter *w = j->waiters, *next;

    pg_lru_remove(j->rh->jobs, &j->n);
    j->waiters = NULL;
    while (w != NULL) {
        next = w->next;
        w->done(w->arg, rc);
        free(w);
        w = next;
    }
    free(j);
}

static void
job_done(void *arg)
{
    struct rh_job *j = arg;
    const char *lv[1] = { "serve" };

    pg_metric_observe(j->rh->s->m_rehash_seconds,
        (double) (pg_now_ms() - j->t0) / 1000.0, NULL);
    pg_metric_inc(j->rh->s->m_rehash_bytes, (double) j->bytes, lv);
    if (j->rc == PG_CACHE_EDAMAGED) {
        count_damaged(j->rh, "serve", j->sha, j->err.reason);
    } else if (j->rc != PG_CACHE_OK && j->rc != PG_CACHE_NOTFOUND) {
        pg_log(j->rh->s, "blob %s: cannot re-hash it: %s: %s", j->sha,
            pg_cache_strerror(j->err.code), j->err.reason);
    }
    job_end(j, j->rc);
}

int
pg_rehash_blob(struct pg_rehash *rh, const char *sha,
    pg_rehash_done_fn done, void *arg)
{
    struct rh_job *j = (struct rh_job *)pg_lru_find(rh->jobs, sha);
    struct rh_waiter *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        return -1;
    }
    w->done = done;
    w->arg = arg;
    if (j != NULL) {
        w->next = j->waiters;
        j->waiters = w;
        return 0;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        free(w);
        return -1;
    }
    j->rh = rh;
    memcpy(j->sha, sha, 64);
    j->sha[64] = '\0';
    j->waiters = w;
    j->t0 = pg_now_ms();
    if (pg_workers_submit(rh->s->workers, job_work, job_done, j) != 0) {
        free(w);
        free(j);
        return -1;
    }
    j->n.key = j->sha;
    pg_lru_link(rh->jobs, &j->n);
    return 0;
}

/* ---- scrub ------------------------------------------------------------- */

static void
scrub_work(void *arg)
{
    struct pg_rehash *rh = arg;

    memset(&rh->serr, 0, sizeof(rh->serr));
    rh->src = pg_blob_scrub_step(rh->s->cache, rh->scrub,
        rh->s->cfg->scrub_rate, &rh->res, &rh->serr);
}

static void
scrub_done(void *arg)
{
    struct pg_rehash *rh = arg;
    const char *lv[1] = { "scrub" };

    rh->scrubbing = 0;
    pg_metric_inc(rh->s->m_rehash_bytes, (double) rh->res.bytes, lv);
    if (rh->src != PG_CACHE_OK) {
        pg_log(rh->s, "scrub: %s: %s", pg_cache_strerror(rh->serr.code),
            rh->serr.reason);
    }
    if (rh->res.damaged > 0) {
        count_damaged(rh, "scrub", rh->res.damaged_hex, rh->res.reason);
    }
    if (rh->res.pass_done) {
        rh->next_pass = rh->pass_started + PG_SCRUB_PASS_S;
        rh->pass_started = 0;
    }
}

static void
on_scrub_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pg_rehash *rh = arg;
    time_t now = time(NULL);

    (void) fd;
    (void) what;
    if (rh->scrubbing || rh->s->stopping) {
        return;
    }
    if (rh->pass_started == 0) {
        if (now < rh->next_pass) {
            return;
        }
        rh->pass_started = now;
    }
    rh->scrubbing = 1;
    if (pg_workers_submit(rh->s->workers, scrub_work, scrub_done, rh) != 0)
    {
        rh->scrubbing = 0;
    }
}

/* ---- life ---------------------------------------------------------------- */

int
pg_rehash_new(struct pg_server *s, pg_rehash_damaged_fn on_damaged,
    void *arg, struct pg_rehash **out)
{
    struct pg_rehash *rh = calloc(1, sizeof(*rh));
    struct timeval tv = { 1, 0 };

    *out = NULL;
    if (rh == NULL) {
        return -1;
    }
    rh->s = s;
    rh->jobs = pg_lru_new(64, SIZE_MAX, SIZE_MAX, on_job_drop, rh);
    if (rh->jobs == NULL) {
        free(rh);
        return -1;
    }
    rh->on_damaged = on_damaged;
    rh->arg = arg;
    if (s->cfg->scrub_rate > 0) {
        rh->ev_scrub = event_new(s->base, -1, EV_PERSIST, on_scrub_timer,
            rh);
        if (rh->ev_scrub == NULL
            || pg_blob_scrub_new(&rh->scrub) != PG_CACHE_OK)
        {
            pg_rehash_free(rh);
            return -1;
        }
        event_add(rh->ev_scrub, &tv);
    }
    *out = rh;
    return 0;
}

void
pg_rehash_free(struct pg_rehash *rh)
{
    if (rh == NULL) {
        return;
    }
    while (rh->jobs != NULL && pg_lru_count(rh->jobs) > 0) {
        job_end((struct rh_job *)pg_lru_first(rh->jobs),
            PG_REHASH_STOPPING);
    }
    pg_lru_free(rh->jobs);
    if (rh->ev_scrub != NULL) {
        event_free(rh->ev_scrub);
    }
    pg_blob_scrub_free(rh->scrub);
    free(rh);
}
