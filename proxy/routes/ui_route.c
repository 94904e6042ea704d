/* proxy/routes/ui_route.c — the operator pages' route: /-/, /-/project/NAME,
 * /-/events, /-/login and the approval actions.
 *
 * Builds the plain models of proxy/ui/ from what the server holds and
 * hands them to the pure renderers:
 *  - the event store (ui/ui_store.c), fed by the audit log's tap: every
 *    event this process audits, from its start (the audit log file keeps
 *    them all);
 *  - a project's annotated page (pages.c: memory, LMDB or the upstream,
 *    as a client's request would load it) for each file's status,
 *    decision and reason, the hidden files included;
 *  - the pin store: the pin (never blocks) and its history (on a worker:
 *    PostgreSQL is a round trip);
 *  - the cached provenance of the first file of each identity in a
 *    publisher change, for the certificate facts (Fulcio extensions:
 *    source repository, ref, commit digest, workflow run).
 *
 * Administrators.  With admin_token_file set, /-/login asks for HTTP
 * Basic credentials (a NAME and its token); the browser then sends them
 * with every /-/ request, and a request whose credentials do not verify
 * is a 401 (constant-time comparison of salted SHA-256 hashes).  An
 * administrator's project page carries forms: approve a new publisher,
 * forget the pin, re-verify.  Each opens a confirmation page (GET, no
 * effect) whose button POSTs to the same URL with the CSRF token, an HMAC
 * of the administrator's name under a per-process secret, compared in
 * constant time.  The POST carries its fields in the URL's query, not in
 * a body: provgate's front ends take no request body at all (the
 * request-smuggling guard, framing.c), and a POST with an empty body
 * passes it.  The query is never logged (the access log writes the path)
 * and the pages send no Referer.  Approve and forget run on a worker
 * against the pin store exactly as `provgate pins approve|forget` do;
 * re-verify drops the project's verdicts (memory, then LMDB on a worker)
 * so that its provenance is verified again.  Each is audited with the
 * administrator's name as actor and re-annotates every page.
 *
 * Owns: the store, the admins table, request state in the arena.
 * Borrows: the server, the provenance engine.  Runs on: loop (pin store
 * writes and history reads on workers).  Spec: issue 15.
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

#include "audit_int.h"
#include "config_int.h"
#include "index_int.h"
#include "metrics_int.h"
#include "pg_cache.h"
#include "pg_policy.h"
#include "pg_sigstore.h"
#include "provenance_int.h"
#include "routes_int.h"
#include "server_int.h"
#include "ui_int.h"
#include "ui_route_int.h"
#include "worker_int.h"

#define UI_MAX_ADMINS 16
#define UI_MAX_CHANGES 16       /* new identities shown per project */
#define UI_MAX_HIST 64          /* newest history events shown */
#define UI_MAX_REFUSALS 100     /* projects listed with refusals */
#define UI_MAX_PENDING 50       /* publisher changes on the overview */
#define UI_MAX_PIN_EVENTS 20
#define UI_MAX_FIELD 1024       /* a query value */
#define UI_MAX_TOKEN_FILE (64 * 1024)


struct pg_uisrv {
    struct pg_server *s;
    struct pg_prov *prov;
    struct pg_ui_store *store;
    struct pg_auth_entry admins[UI_MAX_ADMINS];
    size_t nadmins;
    unsigned char secret[32];   /* CSRF tokens' HMAC key */
};

/* Per request (arena). */
struct ui_req {
    struct pg_uisrv *u;
    char project[PG_INDEX_MAX_NAME + 2];
    const char *admin;          /* NULL: read-only */
    char csrf[65];
    const char *flash;
    /* history, read on a worker */
    struct pg_pin_event *hist;  /* malloc'd ring of UI_MAX_HIST */
    size_t nhist_total;
    int hist_rc;
    struct pg_policy_err hist_err;
    json_t *model;              /* a copy of the page's model */
    /* an action, run on a worker */
    int action;                 /* ACT_* */
    struct pg_pin_entry entry;
    char why[PG_PINS_MAX_WHY];
    int changed;
    char (*keys)[160];          /* reverify: stored verdicts to delete */
    size_t nkeys;
    size_t nfiles_reverified;
    int act_rc;
    struct pg_policy_err act_err;
    struct pg_req *r;
};

enum { ACT_NONE, ACT_APPROVE, ACT_FORGET, ACT_REVERIFY };

static struct pg_uisrv *ui_of(struct pg_req *r);

/* ---- replies ------------------------------------------------------------ */

static void
send_html(struct pg_req *r, int code, const char *reason,
    struct pg_buf *b)
{
    struct evbuffer *body;

    if (b->failed) {
        pg_buf_free(b);
        pg_req_refuse(r, PG_REFUSE_NOMEM, "the page could not be "
            "rendered (out of memory or over its size limit)");
        return;
    }
    body = evbuffer_new();
    if (body == NULL || evbuffer_add(body, b->p, b->len) != 0) {
        if (body != NULL) {
            evbuffer_free(body);
        }
        pg_buf_free(b);
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    pg_buf_free(b);
    pg_req_set_header(r, "Content-Type", "text/html; charset=utf-8");
    pg_req_set_header(r, "Cache-Control", "no-store");
    pg_req_set_header(r, "X-Content-Type-Options", "nosniff");
    pg_req_set_header(r, "X-Frame-Options", "DENY");
    pg_req_set_header(r, "Referrer-Policy", "no-referrer");
    pg_req_set_header(r, "Content-Security-Policy", "default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'");
    pg_req_send(r, code, reason, body);
}

static void
redirect(struct pg_req *r, int code, const char *to)
{
    pg_req_set_header(r, "Location", to);
    pg_req_set_header(r, "Cache-Control", "no-store");
    pg_req_send(r, code, code == 301 ? "Moved permanently" : "See other",
        NULL);
}

/* ---- query strings ------------------------------------------------------ */

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The value of key in the request's query, percent- and '+'-decoded into
 * the arena; NULL when absent (or over UI_MAX_FIELD, or holding a NUL). */
static const char *
qget(struct pg_req *r, const char *key)
{
    const char *q = pg_req_query(r), *p;
    size_t kl = strlen(key);

    for (p = q; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&'), *end = amp != NULL ? amp
            : p + strlen(p);

        if ((size_t) (end - p) > kl && strncmp(p, key, kl) == 0
            && p[kl] == '=')
        {
            const char *v = p + kl + 1;
            size_t n = (size_t) (end - v), o = 0, i;
            char *out;

            if (n > 3 * UI_MAX_FIELD) {
                return NULL;
            }
            out = pg_req_alloc(r, n + 1);
            if (out == NULL) {
                return NULL;
            }
            for (i = 0; i < n; i++) {
                if (v[i] == '+') {
                    out[o++] = ' ';
                } else if (v[i] == '%' && i + 2 < n
                    && hexval((unsigned char) v[i + 1]) >= 0
                    && hexval((unsigned char) v[i + 2]) >= 0)
                {
                    int c = hexval((unsigned char) v[i + 1]) * 16
                        + hexval((unsigned char) v[i + 2]);

                    if (c == 0) {
                        return NULL;
                    }
                    out[o++] = (char) c;
                    i += 2;
                } else {
                    out[o++] = v[i];
                }
            }
            out[o] = '\0';
            return o <= UI_MAX_FIELD ? out : NULL;
        }
        if (amp == NULL) {
            break;
        }
        p = amp + 1;
    }
    return NULL;
}

/* "24h", "7d", "90m" back from now, or "YYYY-MM-DD[THH:MM:SSZ]"; 0 for
 * none or not understood. */
static int64_t
parse_since(const char *s, int64_t now)
{
    int64_t d;
    char buf[40];

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    if (isdigit((unsigned char) s[0]) && strlen(s) < 8
        && pg_policy_parse_duration(s, &d) == NULL)
    {
        return now - d;
    }
    if (strlen(s) == 10) {
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        return pg_policy_parse_time(buf) > 0 ? pg_policy_parse_time(buf) : 0;
    }
    d = pg_policy_parse_time(s);
    return d > 0 ? d : 0;
}

/* ---- administrators ------------------------------------------------------ */

/* The administrator the request's Basic credentials name, NULL when it
 * sends none; *bad when it sends credentials that do not verify. */
static const char *
admin_of(struct pg_uisrv *u, struct pg_req *r, int *bad)
{
    const char *h = pg_req_header(r, "Authorization");
    char user[PG_AUTH_MAX_NAME + 8], pass[400];
    size_t i;
    int found = -1, ok;

    *bad = 0;
    if (h == NULL) {
        return NULL;
    }
    *bad = 1;
    if (u->nadmins == 0
        || pg_auth_basic(h, user, sizeof(user), pass, sizeof(pass)) != 0)
    {
        return NULL;
    }
    for (i = 0; i < u->nadmins; i++) {
        if (strcmp(u->admins[i].name, user) == 0) {
            found = (int) i;
        }
    }
    ok = found >= 0 && pg_auth_entry_check(&u->admins[found], pass,
        strlen(pass));
    OPENSSL_cleanse(pass, sizeof(pass));
    if (!ok) {
        return NULL;
    }
    *bad = 0;
    return u->admins[found].name;
}

static void
csrf_of(struct pg_uisrv *u, const char *name, char out[65])
{
    unsigned char mac[32];
    unsigned int ml = sizeof(mac);
    size_t i;

    if (HMAC(EVP_sha256(), u->secret, sizeof(u->secret),
            (const unsigned char *) name, strlen(name), mac, &ml) == NULL)
    {
        memset(mac, 0, sizeof(mac));
    }
    for (i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
    }
}

static void
unauthorized(struct pg_req *r)
{
    pg_req_set_header(r, "WWW-Authenticate",
        "Basic realm=\"provgate operator pages\", charset=\"UTF-8\"");
    pg_req_refuse(r, PG_REFUSE_UNAUTHORIZED, "administrator credentials "
        "required (NAME and token from admin_token_file)");
}

/* ---- the audit tap ------------------------------------------------------- */

static void
on_audit(void *arg, const struct pg_audit_event *ev, int64_t t)
{
    struct pg_uisrv *u = arg;
    struct pg_ui_event e;

    e.time = t;
    e.event = ev->event;
    e.client = ev->client;
    e.project = ev->project;
    e.file = ev->file;
    e.sha256 = ev->sha256;
    e.expected = ev->expected;
    e.seen = ev->seen;
    e.decision = ev->decision;
    e.reason = ev->reason;
    e.actor = ev->actor;
    pg_ui_store_add(u->store, &e);
}

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

static void
handle_overview(struct pg_uisrv *u, struct pg_req *r, const char *admin)
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
    send_html(r, 200, "OK", &b);
}

/* ---- events -------------------------------------------------------------- */

static void
handle_events(struct pg_uisrv *u, struct pg_req *r, const char *admin)
{
    struct pg_ui_events m;
    struct pg_ui_filter f;
    struct pg_ui_event *ev;
    struct pg_buf b;
    const char *page = qget(r, "page");
    size_t i, skip, matched = 0, held = pg_ui_store_held(u->store);

    r->route = "ui";
    memset(&m, 0, sizeof(m));
    m.admin = admin != NULL;
    m.project = qget(r, "project");
    m.decision = qget(r, "decision");
    m.since = qget(r, "since");
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
    f.since = parse_since(m.since, (int64_t) time(NULL));
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
    send_html(r, 200, "OK", &b);
}

/* ---- project ------------------------------------------------------------- */

static char *
adup(struct pg_req *r, const char *s)
{
    return s != NULL ? pg_req_strdup(r, s) : NULL;
}

static const char *
jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The version part of a distribution filename (wheel: the second
 * dash-separated part; sdist: after the last dash, before the suffix),
 * written at *vb (advanced past it and its NUL); NULL if there is none. */
static const char *
version_of(const char *fn, char **vb)
{
    static const char *const sfx[] = { ".tar.gz", ".zip", ".tar.bz2",
        ".tgz", ".tar.xz", ".tar" };
    size_t n = strlen(fn), i;
    const char *a, *e;
    char *out = *vb;

    if (n > 4 && strcmp(fn + n - 4, ".whl") == 0) {
        a = strchr(fn, '-');
        if (a == NULL) {
            return NULL;
        }
        a++;
        e = strchr(a, '-');
        if (e == NULL) {
            return NULL;
        }
    } else {
        e = fn + n;
        for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
            size_t l = strlen(sfx[i]);

            if (n > l && strcmp(fn + n - l, sfx[i]) == 0) {
                e = fn + n - l;
                break;
            }
        }
        a = e;
        while (a > fn && a[-1] != '-') {
            a--;
        }
        if (a == fn) {
            return NULL;
        }
    }
    memcpy(out, a, (size_t) (e - a));
    out[e - a] = '\0';
    *vb = out + (e - a) + 1;
    return out;
}

/* The certificate facts of the first attestation of the cached
 * provenance of sha listed as filename (nothing when it is not cached). */
static void
cert_facts(struct pg_uisrv *u, struct pg_req *r, const char *sha,
    const char *filename, struct pg_ui_identity *id)
{
    json_t *o = NULL, *att;
    const char *b64;
    unsigned char *der = NULL;
    size_t dlen = 0;
    void *val = NULL;
    size_t len = 0;
    char buf[1024];

    if (pg_prov_stored(u->prov, sha, filename, &val, &len) != PG_CACHE_OK) {
        return;
    }
    o = len <= PG_PROV_MAX_BYTES ? json_loadb(val, len, 0, NULL) : NULL;
    free(val);
    att = json_array_get(json_object_get(json_array_get(json_object_get(o,
        "attestation_bundles"), 0), "attestations"), 0);
    b64 = json_string_value(json_object_get(json_object_get(att,
        "verification_material"), "certificate"));
    if (b64 == NULL || pg_sig_b64_decode(b64, strlen(b64), 65536, &der,
            &dlen) != 0)
    {
        json_decref(o);
        return;
    }
    if (pg_sig_fulcio_ext_der(der, dlen, 14, buf, sizeof(buf)) == 1) {
        id->ref = adup(r, buf);
    }
    if (pg_sig_fulcio_ext_der(der, dlen, 13, buf, sizeof(buf)) == 1) {
        id->digest = adup(r, buf);
    }
    if (pg_sig_fulcio_ext_der(der, dlen, 12, buf, sizeof(buf)) == 1) {
        id->repo_url = adup(r, buf);
    }
    if (pg_sig_fulcio_ext_der(der, dlen, 21, buf, sizeof(buf)) == 1) {
        id->run_url = adup(r, buf);
    }
    free(der);
    json_decref(o);
}

static void
identity_of(struct pg_req *r, const struct pg_publisher *pub,
    struct pg_ui_identity *id)
{
    char spec[1024], url[600];

    pg_publisher_format(pub, spec, sizeof(spec));
    id->spec = adup(r, spec);
    id->repository = pub->repository[0] != '\0' ? adup(r, pub->repository)
        : adup(r, pub->email);
    id->workflow = adup(r, pub->workflow);
    id->environment = adup(r, pub->environment);
    if (pub->kind == PG_PUB_GITHUB || pub->kind == PG_PUB_GITLAB) {
        snprintf(url, sizeof(url), "https://%s/%s", pub->kind
            == PG_PUB_GITHUB ? "github.com" : "gitlab.com", pub->repository);
        id->repo_url = adup(r, url);
    }
}

struct change_acc {
    struct pg_publisher pub;
    const char *first_file, *first_time, *first_sha;
    size_t n;
};

static int
accepted(const struct pg_pin_set *pins,
    const struct pg_policy_rules *rules, const struct pg_publisher *pub)
{
    size_t i;

    for (i = 0; i < pins->n; i++) {
        if (pg_publisher_match(&pins->e[i].publisher, pub)) {
            return 1;
        }
    }
    for (i = 0; i < rules->n_publishers; i++) {
        if (pg_publisher_match(&rules->publishers[i], pub)) {
            return 1;
        }
    }
    return 0;
}

/* One file of the page (fo: a file object, or a _provenance_hidden
 * entry). */
/* Bytes of the files' names (their versions are shorter). */
static size_t
names_bytes(const json_t *files)
{
    const json_t *fo;
    size_t i, n = 0;

    json_array_foreach(files, i, fo) {
        const char *fn = jstr(fo, "filename");

        n += fn != NULL ? strlen(fn) + 1 : 0;
    }
    return n;
}

/* Strings point into the model: it outlives the rendering (same call). */
static void
file_of(const json_t *fo, int hidden, int pinned, char **vb,
    struct pg_ui_file *f, const json_t **pub, const char **sha)
{
    const json_t *pv = hidden ? fo : json_object_get(fo, "_provenance");
    const char *st = jstr(pv, "status");

    f->filename = jstr(fo, "filename");
    f->version = f->filename != NULL ? version_of(f->filename, vb) : NULL;
    f->upload_time = jstr(fo, "upload-time");
    f->decision = hidden ? "hide" : jstr(pv, "decision");
    f->reason = jstr(pv, "reason");
    *pub = json_object_get(pv, "publisher");
    f->publisher = jstr(*pub, "spec");
    *sha = hidden ? jstr(fo, "sha256") : jstr(json_object_get(fo, "hashes"),
        "sha256");
    if (st == NULL) {
        f->status = PG_UI_UNDECIDED;
    } else if (strcmp(st, "verified") == 0) {
        f->status = PG_UI_VERIFIED;
    } else if (strcmp(st, "unattested") == 0) {
        f->status = pinned && f->decision != NULL
            && strcmp(f->decision, "allow") == 0 ? PG_UI_LEGACY
            : PG_UI_UNATTESTED;
    } else if (strcmp(st, "pending") == 0) {
        f->status = PG_UI_PENDING;
    } else if (strcmp(st, "rejected") == 0) {
        f->status = PG_UI_REJECTED;
    } else {
        f->status = PG_UI_UNDECIDED;
    }
}

static void
add_change(struct change_acc *acc, size_t *nacc, const json_t *pub,
    const struct pg_ui_file *f, const char *sha,
    const struct pg_pin_set *pins, const struct pg_policy_rules *rules)
{
    struct pg_publisher p;
    char why[128];
    size_t i;

    if (!json_is_object(pub)
        || pg_publisher_from_json(pub, &p, why, sizeof(why)) != 0)
    {
        /* annotations write "kind" in lower case: read the spec */
        const char *spec = jstr(pub, "spec");

        if (spec == NULL || pg_publisher_parse(spec, &p, why, sizeof(why))
            != 0)
        {
            return;
        }
    }
    if (accepted(pins, rules, &p)) {
        return;
    }
    for (i = 0; i < *nacc; i++) {
        if (acc[i].pub.kind == p.kind && pg_publisher_match(&acc[i].pub, &p)
            && pg_publisher_match(&p, &acc[i].pub))
        {
            break;
        }
    }
    if (i == *nacc) {
        if (*nacc == UI_MAX_CHANGES) {
            return;
        }
        memset(&acc[i], 0, sizeof(acc[i]));
        acc[i].pub = p;
        (*nacc)++;
    }
    acc[i].n++;
    if (acc[i].first_file == NULL || (f->upload_time != NULL
        && (acc[i].first_time == NULL
            || strcmp(f->upload_time, acc[i].first_time) < 0)))
    {
        acc[i].first_file = f->filename;
        acc[i].first_time = f->upload_time;
        acc[i].first_sha = sha;
    }
}

static const char *
how_of(struct pg_req *r, const struct pg_pin_entry *e)
{
    char buf[128];

    if (e->how == PG_PIN_APPROVED) {
        snprintf(buf, sizeof(buf), "approved by %s", e->by);
        return adup(r, buf);
    }
    return "tofu (first attested upload)";
}

static void
build_and_render(struct ui_req *q, struct pg_req *r, json_t *model)
{
    struct pg_uisrv *u = q->u;
    struct pg_policy_rules tmp;
    const struct pg_policy_rules *rules = pg_prov_rules(u->prov,
        pg_prov_policy(u->prov), q->project, &tmp);
    const char *upurl = u->s->cfg->upstreams[pg_prov_upstream(u->prov,
        q->project)].upstream;
    struct pg_pin_set *pins = calloc(1, sizeof(*pins));
    struct change_acc acc[UI_MAX_CHANGES];
    size_t nacc = 0, i, nf, nh;
    json_t *files = json_object_get(model, "files"),
        *hidden = json_object_get(model, "_provenance_hidden"), *fo;
    struct pg_ui_project m;
    struct pg_ui_file *uf;
    char *vbuf, *vb;
    struct pg_ui_pin *up = NULL;
    struct pg_ui_hist *uh = NULL;
    struct pg_ui_change *ch = NULL;
    const char **req = NULL;
    struct pg_policy_err err;
    struct pg_buf b;
    char url[1200];
    int pinned;

    memset(&m, 0, sizeof(m));
    memset(&err, 0, sizeof(err));
    if (pins == NULL || pg_pins_get(pg_prov_pinstore(u->prov), q->project,
            pins, &err) != PG_POLICY_OK)
    {
        free(pins);
        pg_req_refuse(r, PG_REFUSE_UNAVAILABLE, "the pins of %s "
            "cannot be read", q->project);
        return;
    }
    pinned = pins->n > 0 || rules->mode == PG_MODE_REQUIRE;
    nf = json_array_size(files);
    nh = json_array_size(hidden);
    uf = malloc((nf + nh + 1) * sizeof(*uf));
    vbuf = vb = malloc(names_bytes(files) + names_bytes(hidden) + 1);
    if (pins->n > 0) {
        up = pg_req_alloc(r, pins->n * sizeof(*up));
    }
    if (rules->n_publishers > 0) {
        req = pg_req_alloc(r, rules->n_publishers * sizeof(*req));
    }
    if (uf == NULL || vbuf == NULL || (pins->n > 0 && up == NULL)
        || (rules->n_publishers > 0 && req == NULL))
    {
        free(uf);
        free(vbuf);
        free(pins);
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    json_array_foreach(files, i, fo) {
        const json_t *pub;
        const char *sha;

        file_of(fo, 0, pinned, &vb, &uf[m.nfiles], &pub, &sha);
        if (uf[m.nfiles].status == PG_UI_REJECTED) {
            add_change(acc, &nacc, pub, &uf[m.nfiles], sha, pins, rules);
        }
        m.nfiles++;
    }
    json_array_foreach(hidden, i, fo) {
        const json_t *pub;
        const char *sha;

        file_of(fo, 1, pinned, &vb, &uf[m.nfiles], &pub, &sha);
        if (uf[m.nfiles].status == PG_UI_REJECTED) {
            add_change(acc, &nacc, pub, &uf[m.nfiles], sha, pins, rules);
        }
        m.nfiles++;
    }
    m.files = uf;
    for (i = 0; i < pins->n; i++) {
        char spec[1024];

        pg_publisher_format(&pins->e[i].publisher, spec, sizeof(spec));
        up[i].spec = adup(r, spec);
        up[i].how = pins->e[i].how == PG_PIN_APPROVED ? "approved" : "tofu";
        up[i].file = adup(r, pins->e[i].file);
        up[i].by = adup(r, pins->e[i].by);
        up[i].time = pins->e[i].time;
    }
    m.pins = up;
    m.npins = pins->n;
    for (i = 0; i < rules->n_publishers; i++) {
        char spec[1024];

        pg_publisher_format(&rules->publishers[i], spec, sizeof(spec));
        req[i] = adup(r, spec);
    }
    m.required = req;
    m.nrequired = rules->n_publishers;
    if (nacc > 0) {
        ch = pg_req_alloc(r, nacc * sizeof(*ch));
    }
    for (i = 0; ch != NULL && i < nacc; i++) {
        struct pg_ui_change *c = &ch[i];

        memset(c, 0, sizeof(*c));
        identity_of(r, &acc[i].pub, &c->new_id);
        c->new_id.first_file = acc[i].first_file;
        c->new_id.when = acc[i].first_time != NULL
            ? pg_policy_parse_time(acc[i].first_time) : -1;
        c->new_id.how = "seen, not accepted";
        cert_facts(u, r, acc[i].first_sha, acc[i].first_file,
            &c->new_id);
        c->old_id.when = -1;
        if (pins->n > 0) {
            identity_of(r, &pins->e[0].publisher, &c->old_id);
            c->old_id.first_file = up[0].file;
            c->old_id.when = pins->e[0].upload_time >= 0
                ? pins->e[0].upload_time : pins->e[0].time;
            c->old_id.how = how_of(r, &pins->e[0]);
            cert_facts(u, r, pins->e[0].sha256, pins->e[0].file,
                &c->old_id);
        } else if (rules->n_publishers > 0) {
            identity_of(r, &rules->publishers[0], &c->old_id);
            c->old_id.how = "required by the policy";
        }
        c->nfiles = acc[i].n;
        m.nchanges++;
    }
    m.changes = ch;
    if (q->hist != NULL && q->hist_rc == PG_POLICY_OK) {
        size_t n = q->nhist_total < UI_MAX_HIST ? q->nhist_total
            : UI_MAX_HIST, first = q->nhist_total - n;

        uh = n > 0 ? pg_req_alloc(r, n * sizeof(*uh)) : NULL;
        for (i = 0; uh != NULL && i < n; i++) {
            const struct pg_pin_event *e = &q->hist[(first + i)
                % UI_MAX_HIST];

            uh[i].time = e->time;
            uh[i].what = adup(r, e->what);
            uh[i].before = adup(r, e->before);
            uh[i].after = adup(r, e->after);
            uh[i].by = adup(r, e->by);
            uh[i].why = adup(r, e->why);
            uh[i].file = adup(r, e->file);
            m.nhist++;
        }
        m.hist = uh;
        if (q->nhist_total > UI_MAX_HIST) {
            snprintf(url, sizeof(url), "The newest %d of %zu events; "
                "`provgate pins show` lists them all.", UI_MAX_HIST,
                q->nhist_total);
            m.hist_note = adup(r, url);
        }
    } else {
        snprintf(url, sizeof(url), "The history cannot be read now: %s",
            q->hist_err.reason);
        m.hist_note = adup(r, url);
    }
    free(pins);
    m.name = q->project;
    m.mode = pg_policy_mode_name(rules->mode);
    m.on_violation = pg_policy_violation_name(rules->on_violation);
    m.legacy = rules->legacy == PG_LEGACY_DENY ? "deny" : "allow";
    /* issue 13: the upstream the project comes from */
    snprintf(url, sizeof(url), "%s%s%s/", upurl,
        upurl[strlen(upurl) - 1] == '/' ? "" : "/", q->project);
    m.upstream_url = adup(r, url);
    if (strncmp(upurl, "https://pypi.org/", 17) == 0) {
        snprintf(url, sizeof(url), "https://pypi.org/project/%s/",
            q->project);
        m.pypi_url = adup(r, url);
    }
    m.admin = q->admin != NULL;
    m.csrf = q->admin != NULL ? q->csrf : NULL;
    m.flash = q->flash;
    pg_buf_init(&b, 64 * 1024, PG_UI_MAX_PAGE);
    pg_ui_render_project(&m, &b);
    free(uf);
    free(vbuf);
    send_html(r, 200, "OK", &b);
}

static int
on_hist_event(void *arg, const struct pg_pin_event *ev)
{
    struct ui_req *q = arg;

    q->hist[q->nhist_total % UI_MAX_HIST] = *ev;
    q->nhist_total++;
    return 0;
}

static void
hist_work(void *arg)
{
    struct ui_req *q = arg;

    memset(&q->hist_err, 0, sizeof(q->hist_err));
    q->hist_rc = pg_pins_history(pg_prov_pinstore(q->u->prov), q->project,
        on_hist_event, q, &q->hist_err);
}

static void
hist_done(void *arg)
{
    struct ui_req *q = arg;

    if (!pg_req_live(q->r)) {
        pg_req_finish(q->r);
        return;
    }
    build_and_render(q, q->r, q->model);
}

static void
free_state(void *arg)
{
    struct ui_req *q = arg;

    free(q->hist);
    q->hist = NULL;
    json_decref(q->model);
    q->model = NULL;
}

/* The page is there (its decisions made, a first sight pinned): copy its
 * model (borrowed only for this call), then read the history. */
static void
on_project_page(struct pg_req *r, struct pg_page *page, int status,
    const char *reason)
{
    struct ui_req *q = r->route_state;

    if (page == NULL && status == 404) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "%s", reason != NULL ? reason
            : "no such project");
        return;
    }
    /* The upstream is away and nothing is cached: still show the pin and
     * its history (the file list is empty). */
    q->model = page != NULL ? json_deep_copy(pg_page_model(page))
        : json_object();
    if (q->model == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    if (pg_workers_submit(r->s->workers, hist_work, hist_done, q) != 0) {
        hist_work(q);
        hist_done(q);
    }
}

static void
show_project(struct ui_req *q)
{
    struct pg_req *r = q->r;

    q->hist = calloc(UI_MAX_HIST, sizeof(*q->hist));
    if (q->hist == NULL || pg_req_cleanup_add(r, free_state, q) != 0) {
        free(q->hist);
        q->hist = NULL;
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    r->route_state = q;
    pg_pages_load(r->s->pages, r, q->project, on_project_page);
}

/* ---- actions ------------------------------------------------------------- */

static void
act_work(void *arg)
{
    struct ui_req *q = arg;
    struct pg_pinstore *ps = pg_prov_pinstore(q->u->prov);

    memset(&q->act_err, 0, sizeof(q->act_err));
    q->act_rc = PG_POLICY_OK;
    switch (q->action) {
    case ACT_APPROVE:
        q->act_rc = pg_pins_approve(ps, q->project, &q->entry, q->why,
            &q->changed, &q->act_err);
        break;
    case ACT_FORGET:
        q->act_rc = pg_pins_forget(ps, q->project, q->entry.by, q->why,
            &q->changed, &q->act_err);
        break;
    case ACT_REVERIFY: {
        struct pg_cache_op ops[64];
        struct pg_cache_err cerr;
        size_t i = 0, n;

        while (i < q->nkeys) {
            for (n = 0; n < 64 && i < q->nkeys; n++, i++) {
                ops[n].db = PG_CACHE_DB_VERDICTS;
                ops[n].key = q->keys[i];
                ops[n].klen = strlen(q->keys[i]);
                ops[n].val = NULL;
                ops[n].len = 0;
            }
            memset(&cerr, 0, sizeof(cerr));
            if (pg_cache_put_many(q->u->s->cache, ops, n, &cerr)
                != PG_CACHE_OK)
            {
                q->act_rc = PG_POLICY_ESTORE;
                q->act_err.code = PG_POLICY_ESTORE;
                snprintf(q->act_err.reason, sizeof(q->act_err.reason),
                    "cache: %.150s", cerr.reason);
                return;
            }
        }
        break;
    }
    case ACT_NONE:
        break;
    }
}

static void
act_done(void *arg)
{
    struct ui_req *q = arg;
    struct pg_req *r = q->r;
    struct pg_audit_event ev;
    char spec[1024], to[PG_INDEX_MAX_NAME + 64];
    const char *what = "reverified";

    if (q->act_rc != PG_POLICY_OK) {
        pg_log(r->s, "ui: %s by %s on %s failed: %s", q->action
            == ACT_APPROVE ? "approve" : q->action == ACT_FORGET ? "forget"
            : "reverify", q->admin, q->project, q->act_err.reason);
        pg_req_refuse(r, PG_REFUSE_UNAVAILABLE, "the change could not "
            "be made: %s", q->act_err.reason);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.project = q->project;
    ev.actor = q->admin;
    ev.reason = q->why;
    ev.client = r->client;
    ev.user = r->user;
    if (q->action == ACT_APPROVE && q->changed) {
        pg_publisher_format(&q->entry.publisher, spec, sizeof(spec));
        ev.event = "pin-approve";
        ev.seen = spec;
        ev.decision = "approved";
        pg_audit_log(pg_prov_audit(q->u->prov), &ev);
        what = "approved";
    } else if (q->action == ACT_APPROVE) {
        what = "already-accepted";
    } else if (q->action == ACT_FORGET && q->changed) {
        ev.event = "pin-forget";
        ev.decision = "forgotten";
        pg_audit_log(pg_prov_audit(q->u->prov), &ev);
        what = "forgotten";
    } else if (q->action == ACT_FORGET) {
        what = "no-pin";
    } else {
        char n[32];

        snprintf(n, sizeof(n), "%zu files", q->nkeys);
        ev.event = "reverify";
        ev.decision = "reverify";
        ev.file = n;
        pg_audit_log(pg_prov_audit(q->u->prov), &ev);
    }
    pg_prov_pins_changed(q->u->prov);
    snprintf(to, sizeof(to), "/-/project/%s?done=%s", q->project, what);
    redirect(r, 303, to);
}

static void
free_keys(void *arg)
{
    struct ui_req *q = arg;

    free(q->keys);
    q->keys = NULL;
}

static void
add_key(struct ui_req *q, const char *sha)
{
    if (sha == NULL || strlen(sha) != 64
        || pg_prov_verdict_key(q->u->prov, sha, q->keys[q->nkeys],
            sizeof(q->keys[0])) < 0)
    {
        return;
    }
    pg_prov_forget_verdict(q->u->prov, sha);
    q->nkeys++;
}

/* Re-verify: every file of the page forgets its verdict (memory now, LMDB
 * on a worker); the next annotation verifies each provenance again. */
static void
on_reverify_page(struct pg_req *r, struct pg_page *page, int status,
    const char *reason)
{
    struct ui_req *q = r->route_state;
    json_t *model, *files, *hidden, *fo;
    size_t i;

    if (page == NULL) {
        pg_req_refuse(r, status == 404 ? PG_REFUSE_NOT_FOUND
            : PG_REFUSE_BAD_GATEWAY, "%s", reason != NULL ? reason
            : "index page unavailable");
        return;
    }
    model = pg_page_model(page);
    files = json_object_get(model, "files");
    hidden = json_object_get(model, "_provenance_hidden");
    q->keys = calloc(json_array_size(files) + json_array_size(hidden) + 1,
        sizeof(*q->keys));
    if (q->keys == NULL || pg_req_cleanup_add(r, free_keys, q) != 0) {
        free(q->keys);
        q->keys = NULL;
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    json_array_foreach(files, i, fo) {
        add_key(q, jstr(json_object_get(fo, "hashes"), "sha256"));
    }
    json_array_foreach(hidden, i, fo) {
        add_key(q, jstr(fo, "sha256"));
    }
    if (pg_workers_submit(r->s->workers, act_work, act_done, q) != 0) {
        pg_req_refuse(r, PG_REFUSE_RETRY, "no worker could take the change; "
            "try again");
    }
}

static const char *
flash_of(const char *done)
{
    static const struct {
        const char *key, *text;
    } t[] = {
        { "approved", "Approved: the publisher is accepted, the pages are "
          "annotated again." },
        { "already-accepted", "That publisher was already accepted." },
        { "forgotten", "Forgotten: the next attested upload seen will be "
          "pinned again." },
        { "no-pin", "There was no pin to forget." },
        { "reverified", "Re-verify: the project's verdicts were dropped; "
          "its provenance is verified again as the page loads." },
    };
    size_t i;

    for (i = 0; done != NULL && i < sizeof(t) / sizeof(t[0]); i++) {
        if (strcmp(done, t[i].key) == 0) {
            return t[i].text;
        }
    }
    return NULL;
}

/* GET: the confirmation page; POST (CSRF checked): the action. */
static void
handle_action(struct ui_req *q, int action)
{
    struct pg_req *r = q->r;
    const char *spec = qget(r, "publisher"), *why = qget(r, "why");
    const char *csrf = qget(r, "csrf");
    const char *verb = action == ACT_APPROVE ? "approve" : action
        == ACT_FORGET ? "forget" : "reverify";
    char reason[160];
    struct pg_buf b;

    if (q->admin == NULL) {
        unauthorized(r);
        return;
    }
    memset(&q->entry, 0, sizeof(q->entry));
    if (action == ACT_APPROVE && (spec == NULL || pg_publisher_parse(spec,
            &q->entry.publisher, reason, sizeof(reason)) != 0))
    {
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "publisher: %s", spec == NULL
            ? "missing" : reason);
        return;
    }
    snprintf(q->why, sizeof(q->why), "%s", why != NULL ? why : "");
    if (strcmp(r->method, "POST") != 0) {
        pg_buf_init(&b, 8192, 1 << 20);
        pg_ui_page_begin(&b, "Confirm", 1);
        pg_buf_puts(&b, "<h1>Confirm: ");
        pg_buf_puts(&b, verb);
        pg_buf_puts(&b, " for ");
        pg_ui_text(&b, q->project);
        pg_buf_puts(&b, "</h1>");
        if (action == ACT_APPROVE) {
            pg_buf_puts(&b, "<p>Accept <code>");
            pg_ui_text(&b, spec);
            pg_buf_puts(&b, "</code> as a publisher of ");
            pg_ui_text(&b, q->project);
            pg_buf_puts(&b, ", as <code>provgate pins approve</code> "
                "would.</p>");
        } else if (action == ACT_FORGET) {
            pg_buf_puts(&b, "<p>Remove the pin: the next attested upload "
                "seen is pinned again.</p>");
        } else {
            pg_buf_puts(&b, "<p>Drop the project's cached verdicts: each "
                "file's provenance is verified again, and every page "
                "decided again under the current pins and policy.</p>");
        }
        pg_buf_puts(&b, "<p>Why: ");
        pg_ui_text(&b, q->why);
        pg_buf_puts(&b, "</p><form method=\"post\" action=\"/-/project/");
        pg_ui_urlpart(&b, q->project);
        pg_buf_putf(&b, "/%s?csrf=%s&amp;why=", verb, q->csrf);
        pg_ui_urlpart(&b, q->why);
        if (spec != NULL) {
            pg_buf_puts(&b, "&amp;publisher=");
            pg_ui_urlpart(&b, spec);
        }
        pg_buf_puts(&b, "\"><button type=\"submit\">Yes, ");
        pg_buf_puts(&b, verb);
        pg_buf_puts(&b, "</button></form><p><a href=\"/-/project/");
        pg_ui_urlpart(&b, q->project);
        pg_buf_puts(&b, "\">Cancel</a></p>");
        pg_ui_page_end(&b);
        send_html(r, 200, "OK", &b);
        return;
    }
    if (csrf == NULL || strlen(csrf) != 64
        || CRYPTO_memcmp(csrf, q->csrf, 64) != 0)
    {
        pg_req_refuse(r, PG_REFUSE_FORBIDDEN, "missing or wrong CSRF token: "
            "use the form on the project page");
        return;
    }
    q->action = action;
    q->entry.how = PG_PIN_APPROVED;
    q->entry.time = (int64_t) time(NULL);
    q->entry.upload_time = -1;
    snprintf(q->entry.by, sizeof(q->entry.by), "%s", q->admin);
    r->route_state = q;
    if (action == ACT_REVERIFY) {
        pg_pages_load(r->s->pages, r, q->project,
            on_reverify_page);
        return;
    }
    if (pg_workers_submit(r->s->workers, act_work, act_done, q) != 0) {
        pg_req_refuse(r, PG_REFUSE_RETRY, "no worker could take the change; "
            "try again");
    }
}

/* ---- dispatch ------------------------------------------------------------ */

static struct pg_uisrv *
ui_of(struct pg_req *r)
{
    return r->s->ui_arg;
}

void
pg_uisrv_handle(void *arg, struct pg_req *r, const char *path)
{
    struct pg_uisrv *u = arg;
    struct ui_req *q;
    const char *admin, *rest;
    char raw[PG_INDEX_MAX_NAME + 2];
    size_t n;
    int bad, post = strcmp(r->method, "POST") == 0;

    r->route = "ui";
    (void) ui_of;
    if (strcmp(path, "/-") == 0) {
        redirect(r, 301, "/-/");
        return;
    }
    admin = admin_of(u, r, &bad);
    if (admin == NULL && r->s->auth != NULL
        && r->s->cfg->auth == PG_AUTH_TOKEN)
    {
        /* auth = token: a client's token reads the pages too */
        if (pg_auth_admit_client(r->s->auth, r)) {
            return;
        }
        bad = 0;
    }
    if (bad) {
        unauthorized(r);
        return;
    }
    if (strcmp(path, "/-/login") == 0) {
        if (u->nadmins == 0) {
            pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no admin_token_file: the "
                "operator pages are read-only");
        } else if (admin == NULL) {
            unauthorized(r);
        } else {
            redirect(r, 303, "/-/");
        }
        return;
    }
    if (post && strncmp(path, "/-/project/", 11) != 0) {
        pg_req_set_header(r, "Allow", "GET, HEAD");
        pg_req_refuse(r, PG_REFUSE_METHOD, "method not allowed");
        return;
    }
    if (strcmp(path, "/-/") == 0) {
        handle_overview(u, r, admin);
        return;
    }
    if (strcmp(path, "/-/events") == 0) {
        handle_events(u, r, admin);
        return;
    }
    if (strncmp(path, "/-/project/", 11) != 0) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no such page: %s", path);
        return;
    }
    q = pg_req_alloc(r, sizeof(*q));
    if (q == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    memset(q, 0, sizeof(*q));
    q->u = u;
    q->r = r;
    q->admin = admin;
    if (admin != NULL) {
        csrf_of(u, admin, q->csrf);
    }
    path += 11;
    rest = strchr(path, '/');
    n = rest != NULL ? (size_t) (rest - path) : strlen(path);
    if (n == 0 || n >= sizeof(raw)) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "expected /-/project/NAME");
        return;
    }
    memcpy(raw, path, n);
    raw[n] = '\0';
    if (pg_index_normalize(raw, q->project, sizeof(q->project)) != 0) {
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "not a project name");
        return;
    }
    if (rest == NULL || strcmp(rest, "/") == 0) {
        if (post) {
            pg_req_set_header(r, "Allow", "GET, HEAD");
            pg_req_refuse(r, PG_REFUSE_METHOD, "method not "
                "allowed");
            return;
        }
        if (strcmp(raw, q->project) != 0 || rest != NULL) {
            char to[PG_INDEX_MAX_NAME + 16];

            snprintf(to, sizeof(to), "/-/project/%s", q->project);
            redirect(r, 301, to);
            return;
        }
        q->flash = flash_of(qget(r, "done"));
        show_project(q);
        return;
    }
    if (strcmp(raw, q->project) != 0) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "use the normalized name");
    } else if (strcmp(rest, "/approve") == 0) {
        handle_action(q, ACT_APPROVE);
    } else if (strcmp(rest, "/forget") == 0) {
        handle_action(q, ACT_FORGET);
    } else if (strcmp(rest, "/reverify") == 0) {
        handle_action(q, ACT_REVERIFY);
    } else {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no such page");
    }
}

/* ---- life cycle ---------------------------------------------------------- */

int
pg_uisrv_new(struct pg_server *s, struct pg_prov *prov,
    struct pg_uisrv **out, char *msg, size_t mlen)
{
    struct pg_uisrv *u = calloc(1, sizeof(*u));

    *out = NULL;
    if (u == NULL || pg_ui_store_new(&u->store) != 0
        || RAND_bytes(u->secret, sizeof(u->secret)) != 1)
    {
        snprintf(msg, mlen, "operator pages: out of memory");
        pg_uisrv_free(u);
        return -1;
    }
    u->s = s;
    u->prov = prov;
    if (s->cfg->admin_token_file != NULL
        && pg_auth_load_file("admin_token_file", s->cfg->admin_token_file,
        u->admins, UI_MAX_ADMINS, &u->nadmins, msg, mlen) != 0)
    {
        pg_uisrv_free(u);
        return -1;
    }
    pg_audit_set_tap(pg_prov_audit(prov), on_audit, u);
    s->ui_handle = pg_uisrv_handle;
    s->ui_arg = u;
    *out = u;
    return 0;
}

void
pg_uisrv_free(struct pg_uisrv *u)
{
    if (u == NULL) {
        return;
    }
    if (u->prov != NULL && pg_prov_audit(u->prov) != NULL) {
        pg_audit_set_tap(pg_prov_audit(u->prov), NULL, NULL);
    }
    if (u->s != NULL && u->s->ui_arg == u) {
        u->s->ui_handle = NULL;
        u->s->ui_arg = NULL;
    }
    pg_ui_store_free(u->store);
    OPENSSL_cleanse(u->secret, sizeof(u->secret));
    free(u);
}
