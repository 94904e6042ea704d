/* proxy/routes/full.c — the cache disk is full: pass-through until space
 * returns.
 *
 * When the store cannot take a file or a page's records (no space, over
 * the cap, a failed commit), the routes say so here (pg_full_set): one
 * log line, the provgate_cache_full gauge at 1, and files stream as a
 * verified pass-through (files.c) until a commit succeeds
 * (pg_full_clear) or a probe (statvfs, on a worker, every
 * PG_FULL_PROBE_S) sees room for what did not fit.
 *
 * Owns: struct pg_full and its probe timer.  Runs on: loop (the probe's
 * statvfs on a worker).  Spec: issue 10 item 7.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>

#include <event2/event.h>

#include "config_int.h"
#include "metrics_int.h"
#include "routes_int.h"
#include "server_int.h"
#include "worker_int.h"

#define PG_FULL_PROBE_S 5           /* while full, look for space this often */
#define PG_FULL_MIN_FREE (1u << 20) /* room a probe wants at least */

struct pg_full {
    struct pg_server *s;
    int full;
    uint64_t need;                  /* bytes a probe wants free */
    struct event *ev_probe;
    int probing;
    uint64_t probe_free;            /* written by the probe job */
};

int
pg_full_is(const struct pg_full *f)
{
    return f->full;
}

void
pg_full_set(struct pg_full *f, const char *why, uint64_t need)
{
    struct timeval tv = { PG_FULL_PROBE_S, 0 };

    if (need < PG_FULL_MIN_FREE) {
        need = PG_FULL_MIN_FREE;
    }
    if (need > f->need) {
        f->need = need;
    }
    if (f->full) {
        return;
    }
    f->full = 1;
    pg_metric_set(f->s->m_cache_full, 1, NULL);
    pg_log(f->s, "cache full: %s; files are served pass-through "
        "(hash-checked, not cached) until space returns", why);
    event_add(f->ev_probe, &tv);
}

void
pg_full_clear(struct pg_full *f, const char *how)
{
    if (!f->full) {
        return;
    }
    f->full = 0;
    f->need = 0;
    pg_metric_set(f->s->m_cache_full, 0, NULL);
    pg_log(f->s, "cache full: cleared (%s)", how);
    event_del(f->ev_probe);
}

static void
probe_work(void *arg)
{
    struct pg_full *f = arg;
    struct statvfs st;

    f->probe_free = statvfs(f->s->cfg->cache_dir, &st) == 0
        ? (uint64_t)st.f_bavail * st.f_frsize : 0;
}

static void
probe_done(void *arg)
{
    struct pg_full *f = arg;
    char how[96];

    f->probing = 0;
    if (f->full && f->probe_free >= f->need) {
        snprintf(how, sizeof(how), "%llu bytes free",
            (unsigned long long)f->probe_free);
        pg_full_clear(f, how);
    }
}

static void
on_probe_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pg_full *f = arg;

    (void) fd;
    (void) what;
    if (!f->probing && f->full) {
        f->probing = 1;
        if (pg_workers_submit(f->s->workers, probe_work, probe_done, f)
            != 0)
        {
            f->probing = 0;
        }
    }
}

int
pg_full_new(struct pg_server *s, struct pg_full **out)
{
    struct pg_full *f = calloc(1, sizeof(*f));

    *out = NULL;
    if (f == NULL) {
        return -1;
    }
    f->s = s;
    f->ev_probe = event_new(s->base, -1, EV_PERSIST, on_probe_timer, f);
    if (f->ev_probe == NULL) {
        free(f);
        return -1;
    }
    pg_metric_set(s->m_cache_full, 0, NULL);
    *out = f;
    return 0;
}

void
pg_full_free(struct pg_full *f)
{
    if (f == NULL) {
        return;
    }
    event_free(f->ev_probe);
    free(f);
}
