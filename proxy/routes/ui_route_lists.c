/* proxy/routes/ui_route_lists.c — the operator pages' lists: the overview
 * (/-/: refusals, publisher changes waiting, the last days' counts) and
 * the events (/-/events, filtered and paged), both from the event store
 * fed by the audit tap, with the pins for what is still waiting.
 *
 * Owns: nothing (models in the request's arena).  Borrows: the route's
 * state.  Runs on: loop.  Spec: issue 15 item 1.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "ui_route_priv.h"

/* ---- overview ------------------------------------------------------------ */

/* 1 if spec is one of the ", "-separated publishers of list. */
static int
in_list(const char *spec, const char *list)
{
    size_t n = strlen(spec);
    const char *p = list;

    while (p != NULL && *p != '\0') {
        const char *e = strstr(p, ", ");
        size_t l = e != NULL ? (size_t) (e - p) : strlen(p);

        if (l == n && strncmp(p, spec, n) == 0) {
            return 1;
        }
        p = e != NULL ? e + 2 : NULL;
    }
    return 0;
}

/* 1 if the project's pin or policy now accepts spec (an approval from the
 * command line since the event). */
static int
now_accepted(struct pg_uisrv *u, const char *project, const char *spec)
{
    struct pg_publisher pub;
    struct pg_pin_set *set;
    struct pg_policy_err err;
    const struct pg_policy_rules *rules;
    char why[128];
    size_t i;
    int ok = 0;

    if (pg_publisher_parse(spec, &pub, why, sizeof(why)) != 0) {
        return 0;
    }
    rules = pg_policy_for(pg_prov_policy(u->prov), project);
    for (i = 0; rules != NULL && i < rules->n_publishers; i++) {
        if (pg_publisher_match(&rules->publishers[i], &pub)) {
            return 1;
        }
    }
    set = calloc(1, sizeof(*set));
    memset(&err, 0, sizeof(err));
    if (set != NULL && pg_pins_get(pg_prov_pinstore(u->prov), project, set,
            &err) == PG_POLICY_OK)
    {
        for (i = 0; i < set->n; i++) {
            if (pg_publisher_match(&set->e[i].publisher, &pub)) {
                ok = 1;
            }
        }
    }
    free(set);
    return ok;
}

void
pg_uir_overview(struct pg_uisrv *u, struct pg_req *r, const char *admin)
{
    struct pg_server *s = u->s;
    struct pg_ui_overview m;
    struct pg_cache_stats cs;
    struct pg_ui_count *ref;
    struct pg_ui_pending *pend;
    struct pg_ui_event *pins;
    struct pg_buf b;
    size_t i, j, held = pg_ui_store_held(u->store);

    r->route = "ui";
    memset(&m, 0, sizeof(m));
    m.now = (int64_t) time(NULL);
    m.admin = admin != NULL;
    pg_ui_store_days(u->store, m.now, m.days, m.last_day, m.last_week);
    ref = pg_req_alloc(r, UI_MAX_REFUSALS * sizeof(*ref));
    pend = pg_req_alloc(r, UI_MAX_PENDING * sizeof(*pend));
    pins = pg_req_alloc(r, UI_MAX_PIN_EVENTS * sizeof(*pins));
    if (ref == NULL || pend == NULL || pins == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    for (i = 0; i < held; i++) {
        const struct pg_ui_event *e = pg_ui_store_get(u->store, i);
        enum pg_ui_kind k = pg_ui_kind_of(e->event, e->decision);

        if (e->project == NULL || e->project[0] == '\0') {
            continue;
        }
        if (k == PG_UI_K_YANK || k == PG_UI_K_HIDE || k == PG_UI_K_DENY) {
            for (j = 0; j < m.nrefusals; j++) {
                if (strcmp(ref[j].project, e->project) == 0) {
                    break;
                }
            }
            if (j < m.nrefusals) {
                ref[j].n++;
            } else if (m.nrefusals < UI_MAX_REFUSALS) {
                ref[m.nrefusals].project = e->project;
                ref[m.nrefusals++].n = 1;
            }
            if (e->seen != NULL && e->seen[0] != '\0' && e->expected != NULL
                && !in_list(e->seen, e->expected)
                && m.npending < UI_MAX_PENDING)
            {
                for (j = 0; j < m.npending; j++) {
                    if (strcmp(pend[j].project, e->project) == 0
                        && strcmp(pend[j].seen, e->seen) == 0)
                    {
                        break;
                    }
                }
                if (j < m.npending) {
                    pend[j].file = e->file;     /* older: the first */
                    pend[j].time = e->time;
                } else if (!now_accepted(u, e->project, e->seen)) {
                    pend[m.npending].project = e->project;
                    pend[m.npending].seen = e->seen;
                    pend[m.npending].expected = e->expected;
                    pend[m.npending].file = e->file;
                    pend[m.npending++].time = e->time;
                }
            }
        } else if ((k == PG_UI_K_PIN || k == PG_UI_K_APPROVE
            || k == PG_UI_K_FORGET) && m.npins < UI_MAX_PIN_EVENTS)
        {
            pins[m.npins++] = *e;
        }
    }
    /* most refused first (a stable insertion sort: at most 100) */
    for (i = 1; i < m.nrefusals; i++) {
        struct pg_ui_count c = ref[i];

        for (j = i; j > 0 && ref[j - 1].n < c.n; j--) {
            ref[j] = ref[j - 1];
        }
        ref[j] = c;
    }
    m.refusals = ref;
    m.pending = pend;
    m.pins = pins;
    pg_cache_stats(s->cache, &cs);
    m.cache_bytes = cs.blob_bytes;
    m.cache_max = cs.max_bytes;
    m.cache_files = cs.blob_count;
    m.hits = (uint64_t) pg_metric_total(s->m_hits);
    m.misses = (uint64_t) pg_metric_total(s->m_misses);
    m.up_requests = (uint64_t) pg_metric_total(s->m_up_requests);
    m.up_errors = (uint64_t) pg_metric_total(s->m_up_errors);
    m.upstream = s->cfg->upstreams[0].upstream;
    m.pin_store = pg_pinstore_kind(pg_prov_pinstore(u->prov));
    m.pin_store_up = pg_prov_pins_up(u->prov);
    m.events_held = held;
    m.events_seen = pg_ui_store_seen(u->store);
    pg_buf_init(&b, 32 * 1024, PG_UI_MAX_PAGE);
    pg_ui_render_overview(&m, &b);
    pg_uir_send_html(r, 200, "OK", &b);
}

/* ---- events -------------------------------------------------------------- */

void
pg_uir_events(struct pg_uisrv *u, struct pg_req *r, const char *admin)
{
    struct pg_ui_events m;
    struct pg_ui_filter f;
    struct pg_ui_event *ev;
    struct pg_buf b;
    const char *page = pg_uir_qget(r, "page");
    size_t i, skip, matched = 0, held = pg_ui_store_held(u->store);

    r->route = "ui";
    memset(&m, 0, sizeof(m));
    m.admin = admin != NULL;
    m.project = pg_uir_qget(r, "project");
    m.decision = pg_uir_qget(r, "decision");
    m.since = pg_uir_qget(r, "since");
    m.page = 1;
    if (page != NULL) {
        char *end;
        unsigned long v = strtoul(page, &end, 10);

        if (*end == '\0' && v >= 1 && v <= 100000) {
            m.page = v;
        }
    }
    f.project = m.project;
    f.decision = m.decision;
    f.since = pg_uir_parse_since(m.since, (int64_t) time(NULL));
    ev = pg_req_alloc(r, PG_UI_PAGE_EVENTS * sizeof(*ev));
    if (ev == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    skip = (m.page - 1) * PG_UI_PAGE_EVENTS;
    for (i = 0; i < held; i++) {
        const struct pg_ui_event *e = pg_ui_store_get(u->store, i);

        if (!pg_ui_filter_match(&f, e)) {
            continue;
        }
        if (matched++ < skip) {
            continue;
        }
        if (m.nev == PG_UI_PAGE_EVENTS) {
            m.has_next = 1;
            break;
        }
        ev[m.nev++] = *e;
    }
    m.ev = ev;
    m.events_held = held;
    pg_buf_init(&b, 32 * 1024, PG_UI_MAX_PAGE);
    pg_ui_render_events(&m, &b);
    pg_uir_send_html(r, 200, "OK", &b);
}
