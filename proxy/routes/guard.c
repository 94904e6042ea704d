/* proxy/routes/guard.c — the dependency-confusion guard (see guard_int.h).
 *
 * A name a private upstream owns is served only from it (core/bind.c,
 * pages.c).  An attacker who publishes that name on the public index
 * ([upstream]) therefore changes nothing that provgate serves, but the
 * operator wants to know: each sighting is logged, written to the audit
 * log (event "dependency-confusion") and counted
 * (provgate_dependency_confusion_total{upstream, via}).  Sightings come
 * from two places:
 *   page  each time a private project page is fetched or revalidated from
 *         its upstream (at most once per index_ttl per project), the
 *         guard asks [upstream] for the same name's page: a 200 is a
 *         sighting.  Only the status is read (the transfer stops at the
 *         headers), nothing is parsed or stored.
 *   list  when [upstream]'s project list is loaded (for /simple/), every
 *         private name it holds (pages.c calls the public_name hook).
 * The same (name, via) is reported at most once per list_ttl (a table of
 * PG_GUARD_SEEN recent reports; a collision in it can only repeat a
 * report early).  Probes in flight are bounded (PG_GUARD_MAX_PROBES; more
 * are skipped, counted as
 * provgate_dependency_confusion_probes_total{result="skipped"}).
 *
 * Owns: its probes (cancelled by pg_guard_free).  Borrows: the context,
 * the audit log (provenance's).  Runs on: loop.
 * Spec: issue 13 item 2; design §11.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit_int.h"
#include "bind_int.h"
#include "config_int.h"
#include "guard_int.h"
#include "metrics_int.h"
#include "server_int.h"
#include "upstream_int.h"

#define PG_GUARD_SEEN 4096          /* recent reports remembered */
#define PG_GUARD_MAX_PROBES 64      /* public page lookups at once */

struct guard_probe {
    struct pg_guard *g;
    struct pg_upstream_xfer *xfer;
    char project[PG_CONFIG_MAX_PROJECT + 1];
    size_t up;
    long status;
    struct guard_probe *prev, *next;
};

struct pg_guard {
    struct pg_ctx ctx;
    struct pg_audit *audit;
    struct pg_metric *m_confusion;
    struct pg_metric *m_probes;
    uint64_t seen[PG_GUARD_SEEN];
    time_t seen_at[PG_GUARD_SEEN];
    struct guard_probe *probes;
    size_t nprobes;
};

#define NB(a) (sizeof(a) / sizeof((a)[0]))

static const struct pg_metric_def guard_metrics[] = {
    { PG_METRIC_COUNTER, "provgate_dependency_confusion_total",
      "Names a private upstream owns seen on [upstream] (a dependency-"
      "confusion attempt or a name collision; nothing is served from "
      "[upstream] for them), by private upstream and where they were seen "
      "(page, list)", "upstream,via", NULL, 0, 0,
      offsetof(struct pg_guard, m_confusion) },
    { PG_METRIC_COUNTER, "provgate_dependency_confusion_probes_total",
      "Lookups of private names on [upstream], by result (absent, present, "
      "error, skipped)", "result", NULL, 0, 0,
      offsetof(struct pg_guard, m_probes) },
};

static uint64_t
fnv1a(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    const char *s;

    for (s = a; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    h = (h ^ 0xff) * 1099511628211ULL;
    for (s = b; *s != '\0'; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

static void
guard_seen(struct pg_guard *g, const char *project, size_t up,
    const char *via)
{
    const struct pg_config *cfg = g->ctx.cfg;
    struct pg_audit_event ev;
    const char *lv[2];
    char reason[512], expected[96];
    uint64_t h = fnv1a(via, project);
    size_t slot = (size_t)(h % PG_GUARD_SEEN);
    time_t now = time(NULL);

    if (g->seen[slot] == h && now - g->seen_at[slot] < cfg->list_ttl_s) {
        return;
    }
    g->seen[slot] = h;
    g->seen_at[slot] = now;
    lv[0] = cfg->upstreams[up].name;
    lv[1] = via;
    pg_metric_inc(g->m_confusion, 1, lv);
    snprintf(reason, sizeof(reason), "%.200s belongs to [upstream:%s] and "
        "is also on [upstream] %s (its %s): a dependency-confusion attempt "
        "or a name collision; served from [upstream:%s] only", project,
        cfg->upstreams[up].name, cfg->upstreams[0].upstream,
        strcmp(via, "list") == 0 ? "project list" : "project page",
        cfg->upstreams[up].name);
    pg_log(g->ctx.log, "dependency confusion: %s", reason);
    snprintf(expected, sizeof(expected), "[upstream:%s]",
        cfg->upstreams[up].name);
    memset(&ev, 0, sizeof(ev));
    ev.event = "dependency-confusion";
    ev.project = project;
    ev.expected = expected;
    ev.seen = "[upstream]";
    ev.decision = "private-only";
    ev.reason = reason;
    if (g->audit != NULL) {
        pg_audit_log(g->audit, &ev);
    }
}

static void
probe_free(struct guard_probe *pr)
{
    struct pg_guard *g = pr->g;

    if (pr->prev != NULL) {
        pr->prev->next = pr->next;
    } else {
        g->probes = pr->next;
    }
    if (pr->next != NULL) {
        pr->next->prev = pr->prev;
    }
    g->nprobes--;
    free(pr);
}

static int
on_probe_headers(void *arg, const struct pg_upstream_resp *resp)
{
    struct guard_probe *pr = arg;

    pr->status = resp->status;
    return 1;       /* the status is all we want: stop here */
}

static int
on_probe_data(void *arg, const void *buf, size_t len)
{
    (void)arg;
    (void)buf;
    (void)len;
    return 1;
}

static void
on_probe_done(void *arg, enum pg_upstream_code code, const char *reason,
    const struct pg_upstream_resp *resp)
{
    struct guard_probe *pr = arg;
    struct pg_guard *g = pr->g;
    const char *lv[1];
    long status = pr->status;

    /* the headers came (on_probe_headers): their status decides, however
     * the transfer was then stopped */
    if (status == 0 && resp != NULL) {
        status = resp->status;
    }
    pr->xfer = NULL;
    if (status == 200) {
        lv[0] = "present";
        pg_metric_inc(g->m_probes, 1, lv);
        guard_seen(g, pr->project, pr->up, "page");
    } else if (status == 404 || status == 410) {
        lv[0] = "absent";
        pg_metric_inc(g->m_probes, 1, lv);
    } else {
        lv[0] = "error";
        pg_metric_inc(g->m_probes, 1, lv);
        pg_log(g->ctx.log, "dependency-confusion lookup of %s on [upstream] "
            "failed: %s (status %ld)", pr->project, reason != NULL ? reason
            : pg_upstream_strerror(code), status);
    }
    probe_free(pr);
}

/* pg_proxy_hooks.public_name: [upstream]'s list holds a private name. */
static void
on_public_name(void *arg, const char *project, size_t up)
{
    if (up != 0) {
        guard_seen(arg, project, up, "list");
    }
}

/* pg_proxy_hooks.private_page: a private project page was fetched. */
static void
on_private_page(void *arg, const char *project, size_t up)
{
    struct pg_guard *g = arg;
    const struct pg_upstream_conf *u0 = &g->ctx.cfg->upstreams[0];
    struct pg_upstream_req req;
    enum pg_upstream_code code;
    struct guard_probe *pr;
    const char *lv[1];
    char url[PG_UPSTREAM_MAX_URL];

    if (up == 0 || strlen(project) > PG_CONFIG_MAX_PROJECT) {
        return;
    }
    if (g->nprobes >= PG_GUARD_MAX_PROBES
        || (pr = calloc(1, sizeof(*pr))) == NULL)
    {
        lv[0] = "skipped";
        pg_metric_inc(g->m_probes, 1, lv);
        return;
    }
    pr->g = g;
    pr->up = up;
    snprintf(pr->project, sizeof(pr->project), "%s", project);
    snprintf(url, sizeof(url), "%s%s%s/", u0->upstream,
        u0->upstream[strlen(u0->upstream) - 1] == '/' ? "" : "/", project);
    memset(&req, 0, sizeof(req));
    req.url = url;
    req.accept = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";
    req.max_body = 65536;      /* on_probe_headers stops it before */
    req.timeout_ms = u0->timeout_ms;
    req.on_headers = on_probe_headers;
    req.on_data = on_probe_data;
    req.on_done = on_probe_done;
    req.arg = pr;
    pr->next = g->probes;
    if (g->probes != NULL) {
        g->probes->prev = pr;
    }
    g->probes = pr;
    g->nprobes++;
    pr->xfer = pg_upstream_start(g->ctx.ups[0], &req, &code);
    if (pr->xfer == NULL) {
        lv[0] = "error";
        pg_metric_inc(g->m_probes, 1, lv);
        probe_free(pr);
    }
}

int
pg_guard_new(const struct pg_ctx *ctx, struct pg_audit *audit,
    struct pg_proxy_hooks *hooks, struct pg_guard **out)
{
    struct pg_guard *g = calloc(1, sizeof(*g));

    *out = NULL;
    if (g == NULL) {
        return -1;
    }
    g->ctx = *ctx;
    g->audit = audit;
    if (pg_metrics_add_table(ctx->metrics, guard_metrics, NB(guard_metrics),
        g) != 0)
    {
        free(g);
        return -1;
    }
    if (ctx->cfg->n_upstreams > 1) {
        hooks->private_page = on_private_page;
        hooks->public_name = on_public_name;
        hooks->guard_arg = g;
    }
    *out = g;
    return 0;
}

void
pg_guard_free(struct pg_guard *g)
{
    if (g == NULL) {
        return;
    }
    while (g->probes != NULL) {
        if (g->probes->xfer != NULL) {
            pg_upstream_cancel(g->probes->xfer);
        }
        probe_free(g->probes);
    }
    free(g);
}
