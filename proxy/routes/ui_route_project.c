/* proxy/routes/ui_route_project.c — a project's operator page
 * (/-/project/NAME): each file's status, decision and reason from the
 * annotated page (loaded as a client's request would load it), the pin and
 * its history (read on a worker), and the certificate facts of each new
 * identity from its stored provenance.
 *
 * Owns: the request's copies (model, history) until its cleanup.
 * Borrows: the route's state, the provenance engine.  Runs on: loop
 * (history on a worker).  Spec: issue 15 items 1, 2.
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

/* ---- project ------------------------------------------------------------- */

static char *
adup(struct pg_req *r, const char *s)
{
    return s != NULL ? pg_req_strdup(r, s) : NULL;
}

const char *
pg_uir_jstr(const json_t *o, const char *key)
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
        const char *fn = pg_uir_jstr(fo, "filename");

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
    const char *st = pg_uir_jstr(pv, "status");

    f->filename = pg_uir_jstr(fo, "filename");
    f->version = f->filename != NULL ? version_of(f->filename, vb) : NULL;
    f->upload_time = pg_uir_jstr(fo, "upload-time");
    f->decision = hidden ? "hide" : pg_uir_jstr(pv, "decision");
    f->reason = pg_uir_jstr(pv, "reason");
    *pub = json_object_get(pv, "publisher");
    f->publisher = pg_uir_jstr(*pub, "spec");
    *sha = hidden ? pg_uir_jstr(fo, "sha256") : pg_uir_jstr(json_object_get(fo, "hashes"),
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
        const char *spec = pg_uir_jstr(pub, "spec");

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
    pg_uir_send_html(r, 200, "OK", &b);
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

void
pg_uir_show_project(struct ui_req *q)
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
