/* proxy/routes/provenance.c — serving only verified files (see
 * provenance_int.h).
 *
 * One annotation is a struct prov_job: the project's files as the model
 * lists them, each with a state (queued for fetch, fetching, verifying,
 * done).  Fetches share a global cap (provenance_concurrency) across all
 * jobs; a finished fetch hands its object to a worker (pg_workers_submit)
 * for pg_pep740_verify_provenance; a finished verification comes back to
 * the loop.  The job answers the server (done()) when every file is done
 * or when the budget timer fires, whichever is first; files not done then
 * are "pending".  A job that answered early keeps running in the
 * background and, once complete, asks the server to re-annotate its pages.
 * New verdicts and provenance objects are written to LMDB in one
 * transaction per job, on a worker (LMDB commits fsync).  A TOFU pin the
 * rules ask for is written to the pin store on a worker too
 * (pg_pins_insert_if_absent), and the job answers only once that returns,
 * deciding against the winner's pin: with a pin store shared by replicas,
 * a pin another replica made first wins.  If the store cannot take the
 * pin, the project's attested files are refused ("pin store unavailable")
 * rather than pinned locally.
 *
 * Only successful verifications are cached: an invalid object might be a
 * transient upstream fault, so it is fetched and checked again next time
 * (and rejected again, never served).
 *
 * Owns: jobs, transfers, worker tasks, policy ref, trust root, audit log,
 * hidden-file table.  Borrows: the server.  Runs on: loop; verify_work and
 * store_work on workers (they touch only their task).
 * Spec: design §5–§7, issue 4 items 1, 4, 5, 6.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "audit_int.h"
#include "auth_int.h"
#include "bind_int.h"
#include "hex_int.h"
#include "config_int.h"
#include "index_int.h"
#include "lru_int.h"
#include "metrics_int.h"
#include "pg_cache.h"
#include "pg_policy.h"
#include "pg_sigstore.h"
#include "provenance_int.h"
#include "routes_int.h"
#include "tokens_sync_int.h"
#include "server_int.h"
#include "upstream_int.h"
#include "worker_int.h"

#define INTEGRITY_TYPE "application/vnd.pypi.integrity.v1+json"

enum pf_state {
    PF_DONE = 0,        /* vres is final for this job */
    PF_QUEUED,          /* waits for a fetch slot */
    PF_FETCHING,
    PF_VERIFYING
};

struct prov_job;

struct prov_file {
    struct prov_job *job;
    char *filename;
    char sha[65];
    unsigned char shabin[32];
    int64_t upload;
    char *url;                  /* upstream provenance URL or NULL */
    enum pf_state st;
    enum pg_vresult vres;
    struct pg_publisher *pub;   /* verified: who published it (else NULL;
                                   ~900 bytes: most files have none) */
    char *reason;               /* why not verified, or NULL */
    char *json;                 /* object being verified / to store */
    size_t jlen, jcap;
    size_t counted;             /* bytes it counts in p->mem: a fetch's
                                   reservation (grown with its buffer),
                                   then jcap */
    int big;                    /* outgrew a small reservation when memory
                                   was short: fetch again reserving the
                                   largest object */
    int regrow;                 /* this fetch was stopped for that */
    size_t pos;                 /* its place in the job's pump order */
    int too_big;
    int no_sha;                 /* the index gives no (valid) sha256 */
    int store;                  /* newly verified: write to LMDB */
    struct pg_upstream_xfer *xfer;
    int64_t t0;
};

struct prov_job {
    struct pg_prov *p;
    int refs;
    char project[PG_POLICY_MAX_NAME + 1];
    size_t up;                  /* the project's upstream (issue 13): its
                                   provenance is fetched through it */
    struct pg_policy_rules rules_tmp;   /* a private upstream's mode */
    json_t *model;              /* borrowed until answered */
    void (*done)(void *done_arg, int rc, const char *reason);
    void *done_arg;
    struct pg_policy *policy;
    size_t n;
    struct prov_file *files;
    size_t *order;              /* files by upload time, newest first */
    size_t scan;                /* next place in order to look at */
    size_t outstanding;         /* files not PF_DONE */
    int64_t t0;                 /* on_annotate, ms */
    int answered;
    int learned_late;           /* a result arrived after answering */
    int stopped;
    int pinning;                /* a TOFU pin is being written: answer
                                   when it returns */
    int pin_tries;
    int pin_failed;             /* the store could not take the pin */
    struct event *timer;
    struct prov_job *prev, *next;
};

enum task_kind { T_VERIFY, T_STORE, T_PIN };

struct prov_task {
    enum task_kind kind;
    struct pg_prov *p;
    struct prov_job *job;       /* T_VERIFY (ref held) */
    struct prov_file *f;        /* T_VERIFY */
    int rc;
    struct pg_sig_err serr;
    struct pg_publisher seen;
    /* T_STORE */
    size_t mem;                 /* objects moved here (in p->mem) */
    struct pg_cache_op *ops;
    size_t nops;
    char **bufs;
    size_t nbufs;
    int reannotate;
    int wake;
    struct pg_cache_err cerr;
    /* T_PIN (job: ref held) */
    char project[PG_POLICY_MAX_NAME + 1];
    struct pg_pin_entry entry;
    int added;
    struct pg_pin_set *winner;
    struct pg_policy_err perr;
    struct prov_task *prev, *next;
};

/* A file request waiting for its project's verification to finish. */
struct prov_wait {
    char project[PG_POLICY_MAX_NAME + 1];
    void (*resume)(void *resume_arg);
    void *resume_arg;
    int ready;
    struct prov_wait *next;
};

/* A file whose provenance could not be had when its job finished: a
 * download asked for it meanwhile is refused at once, not parked again. */
struct prov_failed {
    struct pg_lru_node n;       /* first; key = "project/filename" */
    int linked;                 /* in p->failed_index */
    char key[PG_POLICY_MAX_NAME + 1 + 256];
    char reason[256];
    time_t until;
};

/* Recently used verified verdicts, in memory (the trust root is fixed for
 * the process, so the sha256 and the filename are the whole key): a warm
 * page costs no LMDB read or JSON parse per file.  The PG_PROV_VCACHE_SLOTS
 * most recently used, in the bounded table (util/lru.c). */
struct vcache_entry {
    struct pg_lru_node n;       /* first; key = sha (hex) */
    const char *root_id;        /* the trust root it was verified under */
    char sha[65];
    struct pg_publisher pub;
    char filename[];
};

/* A rejection audited lately (its event, file and reason hashed): the
 * same one is not audited again while it is among the last
 * PG_PROV_AUDIT_SEEN.  The ring's slots are indexed by the bounded table
 * (util/lru.c); nothing is allocated per rejection. */
struct audit_seen {
    struct pg_lru_node n;       /* first; key = hash in hex */
    int linked;                 /* in p->audit_index */
    char key[17];
};

struct hidden_entry {
    struct pg_lru_node n;       /* first; key = project */
    json_t *list;               /* [{"filename","reason"}] */
    char project[PG_POLICY_MAX_NAME + 1];
};

struct pg_prov {
    struct pg_ctx ctx;                  /* given at construction */
    struct pg_server *s;                /* ctx.log: pg_log's stream */
    const struct pg_config *cfg;
    struct pg_cache *cache;
    struct pg_pinstore *pins;           /* the pin store (owned) */
    char pin_by[96];                    /* who pins: provgate@HOST */
    int shared_pins;                    /* PostgreSQL: refresh, listen */
    struct event *pins_notify;          /* its LISTEN descriptor, or NULL */
    int refresh_busy, refresh_again;    /* one refresh on a worker */
    int refresh_rc;
    struct pg_policy_err refresh_err;
    int64_t refresh_last_ms;
    int pins_up;                        /* last known availability */
    struct pg_policy *policy;
    struct pg_sig_trust_root *root;
    const char *root_id;
    /* issue 13: an [upstream:NAME] with its own trust_root (a private
     * Sigstore instance): its projects' provenance is verified against
     * it; NULL: p->root */
    struct pg_sig_trust_root *roots[PG_CONFIG_MAX_UPSTREAMS];
    struct pg_audit *audit;
    struct prov_job *jobs;
    size_t njobs;
    struct prov_task *tasks;
    int active_fetches;
    size_t mem, mem_peak;       /* provenance objects held or reserved */
    int mem_blocked;            /* the pump waits for memory */
    int stopped;
    struct event *poll;
    struct event *resume_ev;    /* runs ready waits on the next turn */
    uint64_t pins_gen;
    uint64_t tokens_gen;                /* tokens_sync.c */
    char tokens_msg[256];               /* the last one logged */
    time_t release_at;          /* a min_age hold ends; 0 = none */
    struct pg_lru *hidden;      /* project → struct hidden_entry */
    struct pg_lru *vcache;      /* sha256 → struct vcache_entry */
    struct prov_wait *waits;
    size_t nwaits;
    struct prov_failed failed[PG_PROV_FAILED_MAX];  /* a ring, indexed */
    struct pg_lru *failed_index;        /* "project/filename" → failed */
    size_t failed_pos;
    struct audit_seen *audit_seen;      /* PG_PROV_AUDIT_SEEN, a ring */
    struct pg_lru *audit_index;         /* hash (hex) → its audit_seen */
    size_t audit_pos;
    /* metrics */
    struct pg_metric *m_fetches;        /* result */
    struct pg_metric *m_fetch_seconds;
    struct pg_metric *m_verdicts;       /* result, source */
    struct pg_metric *m_decisions;      /* decision, reason */
    struct pg_metric *m_refusals;       /* reason */
    struct pg_metric *m_pins;           /* how */
    struct pg_metric *m_reloads;        /* result */
    struct pg_metric *m_pending;
    struct pg_metric *m_waits;
    struct pg_metric *m_annotate_seconds;
    struct pg_metric *m_pin_store_up;
    struct pg_metric *m_pin_store_refreshes;    /* result */
    struct pg_metric *m_mem, *m_mem_peak;
};

static const double annotate_buckets[] = { 0.001, 0.005, 0.01, 0.025,
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10 };
static const double fetch_buckets[] = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
    0.5, 1, 2.5, 5, 10, 30 };

static void job_pump(struct pg_prov *p);
static void job_answer(struct prov_job *j);
static void job_unref(struct prov_job *j);
static void job_file_done(struct prov_file *f);
static void job_complete(struct prov_job *j);
static void waits_wake(struct pg_prov *p, const char *project);
static void job_note_failures(struct prov_job *j);

/* ---- small helpers ------------------------------------------------------ */

static void cutf(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* snprintf that may cut: for messages built from untrusted names. */
static void
cutf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* A sha256 as the index gives it: 64 lower-case hex digits. */
static int
hex_to_bin(const char *hex, unsigned char out[32])
{
    return strspn(hex, "0123456789abcdef") == 64 && hex[64] == '\0'
        ? pg_hex_decode(hex, 32, out) : -1;
}

static uint64_t
fnv1a(const char *a, const char *b, const char *c)
{
    const char *parts[3] = { a, b, c };
    uint64_t h = 1469598103934665603ULL;
    int i;

    for (i = 0; i < 3; i++) {
        const char *s = parts[i] != NULL ? parts[i] : "";

        while (*s != '\0') {
            h ^= (unsigned char) *s++;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- memory budget ------------------------------------------------------
 *
 * Provenance objects in memory, across every job, stay within
 * provenance_max_bytes (issue 10 item 6): a fetch reserves what a
 * typical object takes (PROV_RESERVE_SMALL; PyPI's are a few KiB) when it
 * starts, takes more from the budget as its buffer grows past that, and
 * counts what its buffer holds once done; an object read from LMDB counts
 * its length; an object moved to a store task counts until the task is
 * freed.  A fetch that would grow past the budget is stopped and queued
 * again to reserve the largest object (PG_PROV_MAX_BYTES + 1) up front,
 * so every file is still verified, later.  Small reservations let one
 * page's fetches all be in flight at once (HTTP/2 multiplexes them on one
 * connection) without giving up the bound.  A queued file is fetched or
 * read only while its reservation fits; when none does, the verified
 * objects waiting for their job's end are written to LMDB now (and
 * freed), and the pump runs again whenever memory is given back. */
#define PROV_RESERVE ((size_t) PG_PROV_MAX_BYTES + 1)
#define PROV_RESERVE_SMALL ((size_t) 256 * 1024)

static void
mem_change(struct pg_prov *p, size_t add, size_t sub)
{
    p->mem = p->mem + add - sub;
    if (p->mem > p->mem_peak) {
        p->mem_peak = p->mem;
        if (p->m_mem_peak != NULL) {
            pg_metric_set(p->m_mem_peak, (double) p->mem_peak, NULL);
        }
    }
    if (p->m_mem != NULL) {
        pg_metric_set(p->m_mem, (double) p->mem, NULL);
    }
}

/* f's object is gone (freed or moved): it counts no more. */
static void
file_mem_release(struct pg_prov *p, struct prov_file *f)
{
    mem_change(p, 0, f->counted);
    f->counted = 0;
}

static size_t
file_reserve(const struct prov_file *f)
{
    return f->big ? PROV_RESERVE : PROV_RESERVE_SMALL;
}

/* f's object (fetched, or a fetch's buffer) is freed and counts no more. */
static void
file_drop_object(struct pg_prov *p, struct prov_file *f)
{
    free(f->json);
    f->json = NULL;
    f->jlen = f->jcap = 0;
    file_mem_release(p, f);
}

static int
mem_room(const struct pg_prov *p, size_t need)
{
    return p->mem + need <= (size_t) p->cfg->provenance_max_bytes;
}

static void
task_link(struct pg_prov *p, struct prov_task *t)
{
    t->p = p;
    t->prev = NULL;
    t->next = p->tasks;
    if (p->tasks != NULL) {
        p->tasks->prev = t;
    }
    p->tasks = t;
}

static void
task_free(struct prov_task *t)
{
    struct pg_prov *p = t->p;
    size_t i;

    if (t->prev != NULL) {
        t->prev->next = t->next;
    } else if (p->tasks == t) {
        p->tasks = t->next;
    }
    if (t->next != NULL) {
        t->next->prev = t->prev;
    }
    for (i = 0; i < t->nbufs; i++) {
        free(t->bufs[i]);
    }
    mem_change(p, 0, t->mem);
    free(t->bufs);
    free(t->ops);
    free(t->winner);
    free(t);
}

static json_t *
publisher_json(const struct pg_publisher *pub)
{
    json_t *o = json_object();
    char spec[1024];

    if (o == NULL) {
        return NULL;
    }
    switch (pub->kind) {
    case PG_PUB_GITHUB:
        json_object_set_new(o, "kind", json_string("github"));
        break;
    case PG_PUB_GITLAB:
        json_object_set_new(o, "kind", json_string("gitlab"));
        break;
    case PG_PUB_GOOGLE:
        json_object_set_new(o, "kind", json_string("google"));
        break;
    case PG_PUB_NONE:
        json_decref(o);
        return json_null();
    }
    if (pub->repository[0] != '\0') {
        json_object_set_new(o, "repository", json_string(pub->repository));
    }
    if (pub->workflow[0] != '\0') {
        json_object_set_new(o, "workflow", json_string(pub->workflow));
    }
    if (pub->environment[0] != '\0') {
        json_object_set_new(o, "environment",
            json_string(pub->environment));
    }
    if (pub->email[0] != '\0') {
        json_object_set_new(o, "email", json_string(pub->email));
    }
    pg_publisher_format(pub, spec, sizeof(spec));
    json_object_set_new(o, "spec", json_string(spec));    /* policy form */
    return o;
}

/* ---- audit --------------------------------------------------------------- */

/* Rejections are audited once per (file, reason) while they stay in the
 * recent ring: a page re-annotated every TTL does not flood the log. */
/* A file's publisher, copied (allocated on first use).  -1: no memory. */
static int
file_set_pub(struct prov_file *f, const struct pg_publisher *pub)
{
    if (f->pub == NULL && (f->pub = malloc(sizeof(*f->pub))) == NULL) {
        return -1;
    }
    *f->pub = *pub;
    return 0;
}

/* Why a file is not verified (printf-style, cut at 255 bytes).  Without
 * memory for it the reason stays what it was (or unknown). */
static void
file_reason(struct prov_file *f, const char *fmt, ...)
{
    char buf[256];
    char *r;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    r = strdup(buf);
    if (r != NULL) {
        free(f->reason);
        f->reason = r;
    }
}

static void
audit_seen_drop(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    ((struct audit_seen *)n)->linked = 0;
}

static void
audit_reject(struct pg_prov *p, const char *client, const char *project,
    const struct prov_file *f, const struct pg_rules_out *o, int dedupe,
    const char *event)
{
    struct pg_audit_event ev;
    char seen[1024];
    uint64_t h = fnv1a(event, f->sha, o->reason);
    struct audit_seen *a;
    char key[17];

    if (dedupe) {
        snprintf(key, sizeof(key), "%016" PRIx64, h);
        if (pg_lru_find(p->audit_index, key) != NULL) {
            return;
        }
        a = &p->audit_seen[p->audit_pos];
        p->audit_pos = (p->audit_pos + 1) % PG_PROV_AUDIT_SEEN;
        if (a->linked) {
            pg_lru_remove(p->audit_index, &a->n);
        }
        memcpy(a->key, key, sizeof(a->key));
        a->n.key = a->key;
        a->n.bytes = 0;
        if (pg_lru_insert(p->audit_index, &a->n) == 0) {
            a->linked = 1;
        }
    }
    seen[0] = '\0';
    if (f->vres == PG_VRES_VERIFIED) {
        pg_publisher_format(f->pub, seen, sizeof(seen));
    }
    memset(&ev, 0, sizeof(ev));
    ev.event = event;
    ev.client = client;
    ev.project = project;
    ev.file = f->filename;
    ev.sha256 = f->sha;
    ev.expected = o->expected;
    ev.seen = seen;
    ev.decision = pg_rules_decision_name(o->decision);
    ev.reason = o->reason;
    pg_audit_log(p->audit, &ev);
}

/* ---- hidden files (for the file route) ----------------------------------- */

/* Projects' hidden files, least recently used dropped first beyond
 * PG_PROV_HIDDEN_MAX projects or PG_PROV_HIDDEN_BYTES (util/lru.c).  A
 * project whose list is not kept still has its hidden files refused, as
 * not listed on the page, without their reason. */
static struct hidden_entry *
hidden_find(struct pg_prov *p, const char *project)
{
    struct pg_lru_node *n = pg_lru_find(p->hidden, project);

    if (n != NULL) {
        pg_lru_touch(p->hidden, n);
    }
    return (struct hidden_entry *)n;
}

static void
hidden_drop(void *arg, struct pg_lru_node *n)
{
    struct hidden_entry *h = (struct hidden_entry *)n;

    (void) arg;
    json_decref(h->list);
    free(h);
}

/* What a list keeps in memory: its strings and jansson's objects (two
 * members each, see pages.c's model_bytes for the sizes). */
static size_t
hidden_bytes(const json_t *list)
{
    size_t i, b = sizeof(struct hidden_entry) + 64;
    json_t *e;

    json_array_foreach(list, i, e) {
        const char *fn = json_string_value(json_object_get(e, "filename"));
        const char *why = json_string_value(json_object_get(e, "reason"));

        b += 320 + (fn != NULL ? strlen(fn) : 0)
            + (why != NULL ? strlen(why) : 0);
    }
    return b;
}

/* Records (list != NULL, consumed) or clears a project's hidden files. */
static void
hidden_set(struct pg_prov *p, const char *project, json_t *list)
{
    struct pg_lru_node *old = pg_lru_find(p->hidden, project);
    struct hidden_entry *h;

    if (old != NULL) {
        pg_lru_remove(p->hidden, old);
    }
    if (list == NULL || json_array_size(list) == 0) {
        json_decref(list);
        return;
    }
    h = calloc(1, sizeof(*h));
    if (h == NULL) {
        json_decref(list);
        return;
    }
    snprintf(h->project, sizeof(h->project), "%s", project);
    h->list = list;
    h->n.key = h->project;
    h->n.bytes = hidden_bytes(list);
    if (pg_lru_insert(p->hidden, &h->n) != 0) {
        hidden_drop(p, &h->n);      /* larger than the bound alone */
    }
}

/* ---- the verdict cache --------------------------------------------------- */

/* The trust root upstream up's provenance is verified against. */
static const struct pg_sig_trust_root *
root_of(const struct pg_prov *p, size_t up)
{
    return up < PG_CONFIG_MAX_UPSTREAMS && p->roots[up] != NULL
        ? p->roots[up] : p->root;
}

static const char *
root_id_of(const struct pg_prov *p, size_t up)
{
    return pg_sig_trust_root_id(root_of(p, up));
}

/* A verdict's key: the sha256 and the trust root it was made under. */
static int
verdict_key_up(const struct pg_prov *p, size_t up, const char *sha,
    char *key, size_t len)
{
    int n = snprintf(key, len, "%s:%s", sha, root_id_of(p, up));

    return (n > 0 && (size_t) n < len) ? n : -1;
}

static int
verdict_key(const struct pg_prov *p, const char *sha, char *key, size_t len)
{
    return verdict_key_up(p, 0, sha, key, len);
}

static void
vcache_drop(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    free(n);
}

static void
vcache_put(struct pg_prov *p, const struct prov_file *f)
{
    size_t fnlen = strlen(f->filename);
    struct vcache_entry *e = malloc(sizeof(*e) + fnlen + 1);

    if (e == NULL) {
        return;
    }
    memcpy(e->sha, f->sha, sizeof(e->sha));
    e->root_id = root_id_of(p, f->job->up);
    e->pub = *f->pub;
    memcpy(e->filename, f->filename, fnlen + 1);
    e->n.key = e->sha;
    e->n.bytes = sizeof(*e) + fnlen + 1;
    if (pg_lru_insert(p->vcache, &e->n) != 0) {
        free(e);
    }
}

static int
vcache_get(struct pg_prov *p, struct prov_file *f)
{
    struct vcache_entry *e =
        (struct vcache_entry *)pg_lru_find(p->vcache, f->sha);

    if (e == NULL || strcmp(e->filename, f->filename) != 0
        || e->root_id != root_id_of(p, f->job->up))
    {
        return 0;
    }
    if (file_set_pub(f, &e->pub) != 0) {
        return 0;
    }
    pg_lru_touch(p->vcache, &e->n);
    f->vres = PG_VRES_VERIFIED;
    return 1;
}

/* A cached verification of this file under this trust root, if any. */
static int
verdict_lookup(struct pg_prov *p, struct prov_file *f)
{
    struct pg_cache_err cerr;
    char key[256], why[160];
    void *val = NULL;
    size_t len = 0;
    json_t *o;
    const char *fn, *res, *pub;
    struct pg_publisher seen;
    int klen, ok = 0;

    if (vcache_get(p, f)) {
        return 1;
    }
    klen = verdict_key_up(p, f->job->up, f->sha, key, sizeof(key));
    memset(&cerr, 0, sizeof(cerr));
    if (klen < 0 || pg_cache_get(p->cache, PG_CACHE_DB_VERDICTS, key,
        (size_t) klen, &val, &len, &cerr) != PG_CACHE_OK)
    {
        return 0;
    }
    o = json_loadb(val, len, 0, NULL);
    free(val);
    fn = json_string_value(json_object_get(o, "filename"));
    res = json_string_value(json_object_get(o, "result"));
    pub = json_string_value(json_object_get(o, "publisher"));
    if (fn != NULL && res != NULL && pub != NULL
        && strcmp(fn, f->filename) == 0 && strcmp(res, "verified") == 0
        && pg_publisher_parse(pub, &seen, why, sizeof(why)) == 0
        && file_set_pub(f, &seen) == 0)
    {
        f->vres = PG_VRES_VERIFIED;
        vcache_put(p, f);
        ok = 1;
    }
    json_decref(o);
    return ok;
}

/* A provenance object's key: the sha256 and the filename it attests (the
 * same bytes listed by two projects under two names have two objects,
 * issue 10 item 8).  -1 if it does not fit. */
static int
provenance_key(const char *sha, const char *filename, char *key, size_t len)
{
    int n = snprintf(key, len, "%s:%s", sha, filename);

    return (n > 0 && (size_t) n < len && (size_t) n <= PG_CACHE_MAX_KEY)
        ? n : -1;
}

static int
provenance_lookup(struct pg_prov *p, struct prov_file *f)
{
    struct pg_cache_err cerr;
    void *val = NULL;
    size_t len = 0;
    char key[PG_CACHE_MAX_KEY + 1];
    int klen = provenance_key(f->sha, f->filename, key, sizeof(key));

    memset(&cerr, 0, sizeof(cerr));
    if (klen < 0 || pg_cache_get(p->cache, PG_CACHE_DB_PROVENANCE, key,
        (size_t) klen, &val, &len, &cerr) != PG_CACHE_OK)
    {
        return 0;
    }
    f->json = val;
    f->jlen = len;
    f->jcap = len;
    f->counted = len;
    mem_change(p, len, 0);
    return 1;
}

/* ---- verification on a worker ------------------------------------------- */

static void
verify_work(void *arg)
{
    struct prov_task *t = arg;
    struct prov_file *f = t->f;

    memset(&t->serr, 0, sizeof(t->serr));
    memset(&t->seen, 0, sizeof(t->seen));
    t->rc = pg_pep740_verify_provenance(root_of(t->p, f->job->up), f->json,
        f->jlen,
        f->filename, f->shabin, NULL, &t->seen, &t->serr);
}

static void
verify_done(void *arg)
{
    struct prov_task *t = arg;
    struct prov_file *f = t->f;
    struct prov_job *j = t->job;
    struct pg_prov *p = t->p;
    const char *lv[2];

    if (t->rc == PG_SIG_OK && file_set_pub(f, &t->seen) != 0) {
        f->vres = PG_VRES_PENDING;
        file_reason(f, "out of memory");
        file_drop_object(p, f);
        lv[0] = "invalid";
    } else if (t->rc == PG_SIG_OK) {
        f->vres = PG_VRES_VERIFIED;
        f->store = 1;
        vcache_put(p, f);
        lv[0] = "verified";
    } else {
        f->vres = PG_VRES_INVALID;
        file_reason(f, "%s: %s",
            t->serr.step != NULL ? t->serr.step : "verify",
            t->serr.reason[0] != '\0' ? t->serr.reason
            : pg_sig_strerror((enum pg_sig_code) t->rc));
        file_drop_object(p, f);
        lv[0] = "invalid";
    }
    lv[1] = "verified_now";
    pg_metric_inc(p->m_verdicts, 1, lv);
    task_free(t);
    job_file_done(f);
    job_unref(j);
    if (p->mem_blocked) {
        job_pump(p);
    }
}

static void
verify_submit(struct prov_file *f)
{
    struct pg_prov *p = f->job->p;
    struct prov_task *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        f->vres = PG_VRES_PENDING;
        file_reason(f, "out of memory");
        job_file_done(f);
        return;
    }
    t->kind = T_VERIFY;
    t->job = f->job;
    t->f = f;
    f->st = PF_VERIFYING;
    f->job->refs++;
    task_link(p, t);
    if (pg_workers_submit(p->ctx.verifiers != NULL ? p->ctx.verifiers
        : p->ctx.workers, verify_work, verify_done, t) != 0)
    {
        task_free(t);
        f->job->refs--;
        f->vres = PG_VRES_PENDING;
        file_reason(f, "worker queue full");
        job_file_done(f);
    }
}

/* ---- fetches ------------------------------------------------------------- */

static int
on_fetch_data(void *arg, const void *buf, size_t len)
{
    struct prov_file *f = arg;
    struct pg_prov *p = f->job->p;

    if (f->jlen + len > PG_PROV_MAX_BYTES) {
        f->too_big = 1;
        return 1;
    }
    if (f->jlen + len + 1 > f->jcap) {
        size_t ncap = f->jcap == 0 ? 16384 : f->jcap;
        char *nb;

        while (ncap < f->jlen + len + 1) {
            ncap *= 2;
        }
        if (ncap > PG_PROV_MAX_BYTES + 1) {
            ncap = PG_PROV_MAX_BYTES + 1;
        }
        if (ncap > f->counted) {
            /* past the reservation: take the rest from the budget, or
             * stop and fetch again with the largest reservation */
            if (!mem_room(p, ncap - f->counted)) {
                f->regrow = 1;
                return 1;
            }
            mem_change(p, ncap - f->counted, 0);
            f->counted = ncap;
        }
        nb = realloc(f->json, ncap);
        if (nb == NULL) {
            return 1;
        }
        f->json = nb;
        f->jcap = ncap;
    }
    memcpy(f->json + f->jlen, buf, len);
    f->jlen += len;
    f->json[f->jlen] = '\0';
    return 0;
}

static void
on_fetch_done(void *arg, enum pg_upstream_code code, const char *reason,
    const struct pg_upstream_resp *resp)
{
    struct prov_file *f = arg;
    struct prov_job *j = f->job;
    struct pg_prov *p = j->p;
    const char *lv[1];
    double secs = (double) (pg_now_ms() - f->t0) / 1000.0;

    f->xfer = NULL;
    p->active_fetches--;
    pg_metric_observe(p->m_fetch_seconds, secs, NULL);
    if (f->regrow) {
        /* memory was short for this object: queue it again, to be fetched
         * with the largest reservation once that fits */
        file_drop_object(p, f);
        f->regrow = 0;
        f->big = 1;
        f->st = PF_QUEUED;
        if (j->scan > f->pos) {
            j->scan = f->pos;
        }
        lv[0] = "requeued";
        pg_metric_inc(p->m_fetches, 1, lv);
    } else if (code == PG_UP_OK && resp != NULL && resp->status == 200) {
        /* The reservation becomes what the object takes. */
        if (f->json != NULL && f->jcap > f->jlen + 1) {
            char *nb = realloc(f->json, f->jlen + 1);

            if (nb != NULL) {
                f->json = nb;
                f->jcap = f->jlen + 1;
            }
        }
        mem_change(p, f->jcap, f->counted);
        f->counted = f->jcap;
        lv[0] = "ok";
        pg_metric_inc(p->m_fetches, 1, lv);
        verify_submit(f);
    } else {
        file_drop_object(p, f);
        if (code == PG_UP_OK && resp != NULL && resp->status == 404) {
            /* The index advertises an object the upstream does not have:
             * not verifiable, so never served (not cached either). */
            f->vres = PG_VRES_INVALID;
            file_reason(f, "the index advertises "
                "provenance but the upstream answers 404");
            lv[0] = "not_found";
        } else if (code == PG_UP_ETOOBIG || f->too_big) {
            f->vres = PG_VRES_INVALID;
            file_reason(f, "provenance object "
                "larger than %d bytes", PG_PROV_MAX_BYTES);
            lv[0] = "too_big";
        } else {
            f->vres = PG_VRES_PENDING;
            if (code == PG_UP_OK && resp != NULL) {
                file_reason(f, "provenance fetch: "
                    "upstream status %ld", resp->status);
            } else {
                file_reason(f, "provenance fetch: "
                    "%s", reason != NULL ? reason : pg_upstream_strerror(code));
            }
            lv[0] = code == PG_UP_ETIMEOUT ? "timeout" : "error";
        }
        pg_metric_inc(p->m_fetches, 1, lv);
        job_file_done(f);
    }
    job_pump(p);
    job_unref(j);
}

/* ---- several upstreams (issue 13) ---------------------------------------
 *
 * A project's upstream is the one that owns its name (core/bind.c, as the
 * pages route loaded its page).  A private upstream's projects without a
 * [project:NAME] section of their own in the policy file get that
 * upstream's mode (its `mode`, off unless stated) over the [defaults]. */

size_t
pg_prov_upstream(const struct pg_prov *p, const char *project)
{
    struct pg_binding w;

    if (p->ctx.bind == NULL || p->cfg->n_upstreams < 2) {
        return 0;
    }
    pg_bind_which(p->ctx.bind, project, &w);
    return w.how == PG_BIND_UNKNOWN || w.how == PG_BIND_CONFLICT ? 0 : w.up;
}

const struct pg_policy_rules *
pg_prov_rules(const struct pg_prov *p, const struct pg_policy *policy,
    const char *project, struct pg_policy_rules *tmp)
{
    static const struct { const char *word; enum pg_policy_mode mode; }
    modes[] = {
        { "off", PG_MODE_OFF }, { "tofu", PG_MODE_TOFU },
        { "require", PG_MODE_REQUIRE }, { "allow", PG_MODE_ALLOW },
    };
    const struct pg_policy_rules *r = pg_policy_for(policy, project);
    size_t up = pg_prov_upstream(p, project), i;
    const char *word;

    if (up == 0 || r != pg_policy_for(policy, NULL)) {
        return r;       /* [upstream]'s, or the project's own section */
    }
    word = p->cfg->upstreams[up].mode != NULL
        ? p->cfg->upstreams[up].mode : "off";
    *tmp = *r;
    tmp->mode = PG_MODE_OFF;
    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (strcmp(word, modes[i].word) == 0) {
            tmp->mode = modes[i].mode;
        }
    }
    return tmp;
}

static int
fetch_start(struct pg_prov *p, struct prov_file *f)
{
    struct pg_upstream_req req;
    enum pg_upstream_code code = PG_UP_OK;

    memset(&req, 0, sizeof(req));
    req.url = f->url;
    req.accept = INTEGRITY_TYPE;
    req.max_body = PG_PROV_MAX_BYTES;
    req.timeout_ms = p->cfg->upstreams[f->job->up].timeout_ms > 0
        ? p->cfg->upstreams[f->job->up].timeout_ms : 30000;
    req.on_data = on_fetch_data;
    req.on_done = on_fetch_done;
    req.arg = f;
    req.compressed = 1;
    f->t0 = pg_now_ms();
    f->st = PF_FETCHING;
    f->job->refs++;
    p->active_fetches++;
    f->counted = file_reserve(f);
    mem_change(p, f->counted, 0);
    f->xfer = pg_upstream_start(p->ctx.ups[f->job->up], &req, &code);
    if (f->xfer == NULL) {
        p->active_fetches--;
        f->job->refs--;
        file_mem_release(p, f);
        f->vres = code == PG_UP_EHOST ? PG_VRES_INVALID : PG_VRES_PENDING;
        file_reason(f, "provenance URL %s",
            code == PG_UP_EHOST ? "is on an origin that is not allowed"
            : "could not be fetched");
        return -1;
    }
    return 0;
}

static void job_store(struct prov_job *j, int reannotate, int wake);

/* Memory is short: every job writes the objects it verified so far to
 * LMDB now instead of at its end (they are freed when written). */
static void
mem_flush(struct pg_prov *p)
{
    struct prov_job *j;
    size_t i;

    for (j = p->jobs; j != NULL; j = j->next) {
        for (i = 0; i < j->n && !j->files[i].store; i++) {
        }
        if (i < j->n) {
            job_store(j, 0, 0);
        }
    }
}

/* Starts queued work of any job: a file whose object LMDB holds is read
 * and verified, another is fetched while a slot is free; both only while
 * memory allows (see "memory budget").  A failed start may complete (and
 * unlink) its job: the walk then starts over. */
static void
job_pump(struct pg_prov *p)
{
    int cap = p->cfg->provenance_concurrency > 0
        ? p->cfg->provenance_concurrency : 64;
    struct prov_job *j, *next;
    int unlinked, blocked = 0;

    if (p->stopped) {
        return;
    }
restart:
    for (j = p->jobs; j != NULL && !blocked; j = next) {
        j->refs++;
        while (j->scan < j->n && !j->stopped) {
            struct prov_file *f = &j->files[j->order[j->scan]];

            if (f->st != PF_QUEUED) {
                j->scan++;
                continue;
            }
            if (!mem_room(p, file_reserve(f))) {
                blocked = 1;
                break;
            }
            if (provenance_lookup(p, f)) {
                j->scan++;
                verify_submit(f);
                continue;
            }
            if (p->active_fetches >= cap) {
                break;
            }
            j->scan++;
            if (fetch_start(p, f) != 0) {
                job_file_done(f);
            }
        }
        unlinked = j->stopped;
        next = j->next;
        job_unref(j);
        if (unlinked && !blocked) {
            goto restart;
        }
    }
    p->mem_blocked = blocked;
    if (blocked) {
        mem_flush(p);
    }
}

/* ---- storing results --------------------------------------------------- */

static void
store_work(void *arg)
{
    struct prov_task *t = arg;

    memset(&t->cerr, 0, sizeof(t->cerr));
    t->rc = pg_cache_put_many(t->p->cache, t->ops, t->nops, &t->cerr);
}

static void
store_done(void *arg)
{
    struct prov_task *t = arg;
    struct pg_prov *p = t->p;

    if (t->rc != PG_CACHE_OK) {
        pg_log(p->s, "provenance: storing verdicts failed: %s",
            t->cerr.reason);
    }
    if (t->reannotate && !p->stopped) {
        p->ctx.reannotate(p->ctx.arg);
    }
    if (t->wake) {
        waits_wake(p, t->project);
    }
    task_free(t);
    if (p->mem_blocked) {
        job_pump(p);
    }
}

/* Writes the newly verified objects and verdicts of a finished job in one
 * transaction, on a worker; then (if the job had answered with pending
 * files) re-annotates the pages. */
static void
job_store(struct prov_job *j, int reannotate, int wake)
{
    struct pg_prov *p = j->p;
    struct prov_task *t;
    size_t i, n = 0, k = 0;

    for (i = 0; i < j->n; i++) {
        n += j->files[i].store ? 1 : 0;
    }
    t = n > 0 ? calloc(1, sizeof(*t)) : NULL;
    if (t == NULL) {
        if (reannotate && !p->stopped) {
            p->ctx.reannotate(p->ctx.arg);
        }
        if (wake) {
            waits_wake(p, j->project);
        }
        return;
    }
    t->kind = T_STORE;
    t->reannotate = reannotate;
    t->wake = wake;
    snprintf(t->project, sizeof(t->project), "%s", j->project);
    t->ops = calloc(2 * n, sizeof(*t->ops));
    t->bufs = calloc(4 * n, sizeof(*t->bufs));
    task_link(p, t);
    if (t->ops == NULL || t->bufs == NULL) {
        task_free(t);
        return;
    }
    for (i = 0; i < j->n; i++) {
        struct prov_file *f = &j->files[i];
        char key[256], spec[1024], pkey[PG_CACHE_MAX_KEY + 1];
        json_t *o;
        int klen;

        if (!f->store) {
            continue;
        }
        f->store = 0;
        klen = verdict_key_up(p, j->up, f->sha, key, sizeof(key));
        pg_publisher_format(f->pub, spec, sizeof(spec));
        o = json_pack("{s:s, s:s, s:s, s:s}", "filename", f->filename,
            "result", "verified", "publisher", spec, "root",
            root_id_of(p, j->up));
        t->bufs[t->nbufs] = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        t->bufs[t->nbufs + 1] = strdup(key);
        t->bufs[t->nbufs + 2] = provenance_key(f->sha, f->filename, pkey,
            sizeof(pkey)) >= 0 ? strdup(pkey) : NULL;
        t->bufs[t->nbufs + 3] = f->json;        /* moved to the task */
        f->json = NULL;
        t->mem += f->counted;
        f->counted = 0;
        if (klen < 0 || t->bufs[t->nbufs] == NULL
            || t->bufs[t->nbufs + 1] == NULL || t->bufs[t->nbufs + 2] == NULL
            || t->bufs[t->nbufs + 3] == NULL)
        {
            t->nbufs += 4;
            continue;
        }
        t->ops[k].db = PG_CACHE_DB_PROVENANCE;
        t->ops[k].key = t->bufs[t->nbufs + 2];
        t->ops[k].klen = strlen(t->bufs[t->nbufs + 2]);
        t->ops[k].val = t->bufs[t->nbufs + 3];
        t->ops[k].len = f->jlen;
        k++;
        t->ops[k].db = PG_CACHE_DB_VERDICTS;
        t->ops[k].key = t->bufs[t->nbufs + 1];
        t->ops[k].klen = (size_t) klen;
        t->ops[k].val = t->bufs[t->nbufs];
        t->ops[k].len = strlen(t->bufs[t->nbufs]);
        k++;
        t->nbufs += 4;
    }
    t->nops = k;
    if (k == 0 || pg_workers_submit(p->s->workers, store_work, store_done,
        t) != 0)
    {
        if (reannotate && !p->stopped) {
            p->ctx.reannotate(p->ctx.arg);
        }
        if (wake) {
            waits_wake(p, j->project);
        }
        task_free(t);
    }
}

/* ---- TOFU pin ------------------------------------------------------------ */

static void
pin_work(void *arg)
{
    struct prov_task *t = arg;

    memset(&t->perr, 0, sizeof(t->perr));
    t->rc = pg_pins_insert_if_absent(t->p->pins, t->project, &t->entry,
        t->p->pin_by, t->winner, &t->added, &t->perr);
}

static void
pin_done(void *arg)
{
    struct prov_task *t = arg;
    struct pg_prov *p = t->p;
    struct prov_job *j = t->job;
    struct pg_audit_event ev;
    char spec[1024], won[1024];
    const char *lv[1] = { "tofu" };

    pg_publisher_format(&t->entry.publisher, spec, sizeof(spec));
    if (t->rc != PG_POLICY_OK) {
        pg_log(p->s, "provenance: pinning %s to %s failed: %s: %s",
            t->project, spec, t->perr.step != NULL ? t->perr.step : "pins",
            t->perr.reason);
    } else if (t->added) {
        pg_metric_inc(p->m_pins, 1, lv);
        memset(&ev, 0, sizeof(ev));
        ev.event = "pin-create";
        ev.project = t->project;
        ev.file = t->entry.file;
        ev.sha256 = t->entry.sha256;
        ev.seen = spec;
        ev.decision = "pin";
        ev.reason = "first attested upload (tofu)";
        pg_audit_log(p->audit, &ev);
        pg_log(p->s, "provenance: pinned %s to %s (from %s)", t->project,
            spec, t->entry.file);
    } else {
        pg_pins_format(t->winner, won, sizeof(won));
        pg_log(p->s, "provenance: %s was pinned meanwhile (to %s); "
            "deciding against that pin", t->project, won);
    }
    t->job = NULL;
    if (j != NULL) {
        j->pinning = 0;
        j->pin_failed = t->rc != PG_POLICY_OK;
        if (!p->stopped && !j->answered) {
            job_answer(j);
        }
        job_unref(j);
    }
    task_free(t);
}

/* Writes the pin the rules asked for; the job answers in pin_done. */
static int
pin_submit(struct prov_job *j, const struct prov_file *f,
    const struct pg_publisher *pub)
{
    struct pg_prov *p = j->p;
    struct prov_task *t = calloc(1, sizeof(*t));

    if (t == NULL) {
        return -1;
    }
    t->winner = calloc(1, sizeof(*t->winner));
    if (t->winner == NULL) {
        free(t);
        return -1;
    }
    t->kind = T_PIN;
    t->p = p;
    snprintf(t->project, sizeof(t->project), "%s", j->project);
    t->entry.publisher = *pub;
    t->entry.how = PG_PIN_TOFU;
    t->entry.time = (int64_t) time(NULL);
    snprintf(t->entry.file, sizeof(t->entry.file), "%s", f->filename);
    snprintf(t->entry.sha256, sizeof(t->entry.sha256), "%s", f->sha);
    t->entry.upload_time = f->upload;
    t->job = j;
    j->refs++;
    task_link(p, t);
    if (pg_workers_submit(p->s->workers, pin_work, pin_done, t) != 0) {
        t->job = NULL;
        j->refs--;
        task_free(t);
        return -1;
    }
    return 0;
}

/* ---- jobs ---------------------------------------------------------------- */

static void
job_free(struct prov_job *j)
{
    size_t i;

    for (i = 0; i < j->n; i++) {
        file_mem_release(j->p, &j->files[i]);
        free(j->files[i].filename);
        free(j->files[i].url);
        free(j->files[i].json);
        free(j->files[i].pub);
        free(j->files[i].reason);
    }
    free(j->files);
    free(j->order);
    if (j->timer != NULL) {
        event_free(j->timer);
    }
    pg_policy_unref(j->policy);
    free(j);
}

static void
job_unlink(struct prov_job *j)
{
    struct pg_prov *p = j->p;

    if (j->prev != NULL) {
        j->prev->next = j->next;
    } else if (p->jobs == j) {
        p->jobs = j->next;
    }
    if (j->next != NULL) {
        j->next->prev = j->prev;
    }
    j->prev = j->next = NULL;
    p->njobs--;
}

static void
job_unref(struct prov_job *j)
{
    if (--j->refs == 0) {
        job_free(j);
    }
}

/* The job has every result: answer (if the budget did not already), store
 * what was verified, leave the jobs list. */
static void
job_complete(struct prov_job *j)
{
    int was_answered = j->answered;

    if (!was_answered) {
        job_answer(j);
    }
    if (was_answered) {
        job_note_failures(j);
    }
    j->stopped = 1;
    if (j->timer != NULL) {
        event_del(j->timer);
    }
    job_unlink(j);
    /* Stores what was verified; then (if the job had answered with
     * pending files) re-annotates and wakes the downloads waiting for
     * this project. */
    job_store(j, was_answered && j->learned_late, was_answered);
    job_unref(j);                   /* the jobs list's reference */
}

/* Called once per file when its result is final for this job. */
static void
job_file_done(struct prov_file *f)
{
    struct prov_job *j = f->job;

    f->st = PF_DONE;
    if (j->answered && f->vres != PG_VRES_PENDING) {
        j->learned_late = 1;
    }
    if (j->outstanding > 0) {
        j->outstanding--;
    }
    if (j->outstanding > 0 || j->stopped) {
        return;
    }
    job_complete(j);
}

static void
on_budget(evutil_socket_t fd, short what, void *arg)
{
    struct prov_job *j = arg;

    (void) fd;
    (void) what;
    if (!j->answered && !j->pinning) {
        pg_metric_inc(j->p->m_pending, (double) j->outstanding, NULL);
        job_answer(j);
    }
}

/* The project has no pin and the store could not take one: its attested
 * files are refused until it can (pinning locally would let replicas
 * diverge); unattested legacy files are decided as the rules said. */
static void
refuse_unpinned(const struct prov_job *j, const struct pg_rules_file *rf,
    struct pg_rules_out *out)
{
    size_t i;

    for (i = 0; i < j->n; i++) {
        if (rf[i].vres == PG_VRES_NONE || out[i].status == PG_FS_NONE) {
            continue;
        }
        out[i].status = PG_FS_REJECTED;
        out[i].decision = PG_DEC_DENY;
        out[i].why = PG_WHY_PIN_STORE;
        out[i].expected[0] = '\0';
        cutf(out[i].reason, sizeof(out[i].reason), "provgate: pin store "
            "unavailable: %s has no pin yet and cannot be pinned now",
            j->project);
    }
}

/* Applies the rules and annotates the model, then answers the server. */
static void
job_answer(struct prov_job *j)
{
    struct pg_prov *p = j->p;
    const struct pg_policy_rules *rules = pg_prov_rules(p, j->policy,
        j->project, &j->rules_tmp);
    struct pg_pin_set *pins = NULL;
    struct pg_rules_file *rf = NULL;
    struct pg_rules_out *out = NULL;
    struct pg_rules_pin newpin;
    struct pg_policy_err perr;
    json_t *files, *kept = NULL, *hidden = NULL, *hidden_copy = NULL;
    time_t now = time(NULL);
    size_t i;
    const char *fail = NULL;

    if (j->pinning) {
        return;                     /* pin_done answers */
    }
    j->answered = 1;
    pins = calloc(1, sizeof(*pins));
    rf = calloc(j->n > 0 ? j->n : 1, sizeof(*rf));
    out = calloc(j->n > 0 ? j->n : 1, sizeof(*out));
    kept = json_array();
    hidden = json_array();
    if (pins == NULL || rf == NULL || out == NULL || kept == NULL
        || hidden == NULL)
    {
        fail = "out of memory";
        goto done;
    }
    memset(&perr, 0, sizeof(perr));
    if (pg_pins_get(p->pins, j->project, pins, &perr) != PG_POLICY_OK) {
        /* Fail closed: without the pins no file can be judged. */
        pg_log(p->s, "provenance: %s: reading pins: %s", j->project,
            perr.reason);
        fail = "provgate: the project's pins cannot be read";
        goto done;
    }
    for (i = 0; i < j->n; i++) {
        struct prov_file *f = &j->files[i];

        rf[i].filename = f->filename;
        rf[i].sha256 = f->sha;
        rf[i].upload_time = f->upload;
        rf[i].vres = f->st == PF_DONE ? f->vres : PG_VRES_PENDING;
        if (f->pub != NULL) {
            rf[i].publisher = *f->pub;
        }
        rf[i].invalid_reason = f->reason != NULL ? f->reason : "";
        rf[i].no_sha256 = f->no_sha;
    }
    pg_rules_decide(j->project, rules, pins, rf, j->n, (int64_t) now, out,
        &newpin);
    if (newpin.needed && !j->pin_failed && j->pin_tries < 2) {
        /* First sight: the decisions wait for the pin store's answer
         * (ours, or the pin another replica made first). */
        j->pin_tries++;
        if (pin_submit(j, &j->files[newpin.file], &newpin.publisher)
            == 0)
        {
            j->answered = 0;
            j->pinning = 1;
            free(pins);
            free(rf);
            free(out);
            json_decref(kept);
            json_decref(hidden);
            return;
        }
        j->pin_failed = 1;
    }
    if (newpin.needed) {
        refuse_unpinned(j, rf, out);
    }
    files = json_object_get(j->model, "files");
    for (i = 0; i < j->n && i < json_array_size(files); i++) {
        json_t *fo = json_array_get(files, i);
        struct prov_file *f = &j->files[i];
        struct pg_rules_out *o = &out[i];
        json_t *pv;
        const char *lv[2];

        if (o->status == PG_FS_NONE) {
            json_array_append(kept, fo);
            continue;
        }
        lv[0] = pg_rules_decision_name(o->decision);
        lv[1] = pg_rules_why_name(o->why);
        pg_metric_inc(p->m_decisions, 1, lv);
        if (o->why == PG_WHY_MIN_AGE && f->upload >= 0) {
            time_t at = (time_t) (f->upload + rules->min_age_s);

            if (p->release_at == 0 || at < p->release_at) {
                p->release_at = at;
            }
        }
        pv = json_object();
        if (pv == NULL) {
            fail = "out of memory";
            goto done;
        }
        json_object_set_new(pv, "status",
            json_string(pg_rules_status_name(o->status)));
        json_object_set_new(pv, "publisher", rf[i].vres == PG_VRES_VERIFIED
            ? publisher_json(f->pub) : json_null());
        json_object_set_new(pv, "decision",
            json_string(pg_rules_decision_name(o->decision)));
        if (o->reason[0] != '\0') {
            json_object_set_new(pv, "reason", json_string(o->reason));
        }
        if (o->expected[0] != '\0' && pg_rules_refused(o->decision)) {
            json_object_set_new(pv, "expected", json_string(o->expected));
        }
        if (pg_rules_refused(o->decision)) {
            audit_reject(p, NULL, j->project, f, o, 1, "reject");
        }
        switch (o->decision) {
        case PG_DEC_HIDE: {
            json_t *h = json_pack("{s:s, s:s, s:s, s:O}", "filename",
                f->filename, "status", pg_rules_status_name(o->status),
                "reason", o->reason, "publisher",
                json_object_get(pv, "publisher"));

            /* what the operator pages show of a hidden file */
            if (h != NULL && f->sha[0] != '\0') {
                json_object_set_new(h, "sha256", json_string(f->sha));
            }
            if (h != NULL && json_is_string(json_object_get(fo,
                "upload-time")))
            {
                json_object_set(h, "upload-time", json_object_get(fo,
                    "upload-time"));
            }

            if (h != NULL) {
                json_array_append_new(hidden, h);
            }
            json_decref(pv);
            continue;
        }
        case PG_DEC_YANK:
            json_object_set_new(fo, "yanked", json_string(o->reason));
            break;
        case PG_DEC_NONE:
        case PG_DEC_ALLOW:
        case PG_DEC_PENDING:
        case PG_DEC_DENY:
            break;
        }
        json_object_set_new(fo, "_provenance", pv);
        json_array_append(kept, fo);
    }
    /* Files past j->n (none in practice) stay as they are. */
    for (; i < json_array_size(files); i++) {
        json_array_append(kept, json_array_get(files, i));
    }
    json_object_set(j->model, "files", kept);
    if (json_array_size(hidden) > 0) {
        json_object_set(j->model, "_provenance_hidden", hidden);
        hidden_copy = json_deep_copy(hidden);
    }
    hidden_set(p, j->project, hidden_copy);

done:
    json_decref(kept);
    json_decref(hidden);
    free(pins);
    free(rf);
    free(out);
    pg_metric_observe(p->m_annotate_seconds,
        (double) (pg_now_ms() - j->t0) / 1000.0, NULL);
    j->model = NULL;
    j->done(j->done_arg, fail != NULL ? -1 : 0, fail);
}

/* ---- downloads waiting for a verdict ------------------------------------ */

/* A job for project runs, or its results are being stored and the pages
 * re-annotated (store_done wakes the waits): until then the page still
 * says "pending", and a download must wait rather than be refused. */
static int
job_running(const struct pg_prov *p, const char *project)
{
    const struct prov_job *j;
    const struct prov_task *t;

    for (j = p->jobs; j != NULL; j = j->next) {
        if (!j->stopped && strcmp(j->project, project) == 0) {
            return 1;
        }
    }
    for (t = p->tasks; t != NULL; t = t->next) {
        if (t->kind == T_STORE && t->wake
            && strcmp(t->project, project) == 0)
        {
            return 1;
        }
    }
    return 0;
}

/* Marks the project's waits ready; they resume on the next loop turn
 * (never from inside a fetch or worker completion). */
static void
waits_wake(struct pg_prov *p, const char *project)
{
    struct prov_wait *w;
    int any = 0;

    for (w = p->waits; w != NULL; w = w->next) {
        if (strcmp(w->project, project) == 0) {
            w->ready = 1;
            any = 1;
        }
    }
    if (any && p->resume_ev != NULL && !p->stopped) {
        event_active(p->resume_ev, EV_TIMEOUT, 0);
    }
}

static void
on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct pg_prov *p = arg;
    struct prov_wait **pp = &p->waits, *ready = NULL, *w;

    (void) fd;
    (void) what;
    while (*pp != NULL) {
        w = *pp;
        if (w->ready) {
            *pp = w->next;
            w->next = ready;
            ready = w;
            p->nwaits--;
        } else {
            pp = &w->next;
        }
    }
    while (ready != NULL) {
        w = ready;
        ready = w->next;
        w->resume(w->resume_arg);
        free(w);
    }
}

/* The failed files are an index (util/lru.c) over a ring of
 * PG_PROV_FAILED_MAX slots: a new failure reuses the oldest slot, one of
 * a file already there replaces its entry.  Nothing is allocated. */
static void
failed_key(char *out, size_t outlen, const char *project,
    const char *filename)
{
    snprintf(out, outlen, "%s/%s", project, filename);
}

static void
failed_drop(void *arg, struct pg_lru_node *n)
{
    (void) arg;
    ((struct prov_failed *)n)->linked = 0;
}

static void
job_note_failures(struct prov_job *j)
{
    struct pg_prov *p = j->p;
    size_t i;

    for (i = 0; i < j->n; i++) {
        const struct prov_file *f = &j->files[i];
        struct prov_failed *x;

        if (f->st != PF_DONE || f->vres != PG_VRES_PENDING || f->url == NULL)
        {
            continue;
        }
        x = &p->failed[p->failed_pos];
        p->failed_pos = (p->failed_pos + 1) % PG_PROV_FAILED_MAX;
        if (x->linked) {
            pg_lru_remove(p->failed_index, &x->n);
        }
        failed_key(x->key, sizeof(x->key), j->project, f->filename);
        cutf(x->reason, sizeof(x->reason), "provgate: provenance of %s "
            "could not be verified: %s", f->filename,
            f->reason != NULL ? f->reason : "unknown");
        x->until = time(NULL) + PG_PROV_FAILED_HOLD_S;
        x->n.key = x->key;
        x->n.bytes = 0;
        if (pg_lru_insert(p->failed_index, &x->n) == 0) {
            x->linked = 1;
        }
    }
}

static const struct prov_failed *
failed_find(const struct pg_prov *p, const char *project, const char *name)
{
    char key[sizeof(((struct prov_failed *)NULL)->key)];
    const struct prov_failed *x;

    failed_key(key, sizeof(key), project, name);
    x = (const struct prov_failed *)pg_lru_find(p->failed_index, key);
    return x != NULL && x->until > time(NULL) ? x : NULL;
}

/* The file route parks a download whose file is pending until the
 * project's running verification finishes (bounded by the fetch timeout),
 * then asks again.  -1: nothing is running that could decide it. */
static int
on_file_wait(void *arg, const char *project, void (*resume)(void *),
    void *resume_arg)
{
    struct pg_prov *p = arg;
    struct prov_wait *w;

    if (p->stopped || !job_running(p, project)
        || p->nwaits >= PG_PROV_MAX_WAITS)
    {
        return -1;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return -1;
    }
    snprintf(w->project, sizeof(w->project), "%s", project);
    w->resume = resume;
    w->resume_arg = resume_arg;
    w->next = p->waits;
    p->waits = w;
    p->nwaits++;
    pg_metric_inc(p->m_waits, 1, NULL);
    return 0;
}

/* ---- the hooks --------------------------------------------------------- */

static int
order_cmp(const void *a, const void *b, void *arg)
{
    const struct prov_file *files = arg;
    size_t x = *(const size_t *) a, y = *(const size_t *) b;

    if (files[x].upload != files[y].upload) {
        return files[x].upload > files[y].upload ? -1 : 1;
    }
    return x < y ? -1 : x > y;
}

/* The pump's order: the newest uploads first (what a resolver picks, so
 * what a budget that runs out should have covered), then page order. */
static void
job_order(struct prov_job *j)
{
    size_t i;

    for (i = 0; i < j->n; i++) {
        j->order[i] = i;
    }
    qsort_r(j->order, j->n, sizeof(*j->order), order_cmp, j->files);
    for (i = 0; i < j->n; i++) {
        j->files[j->order[i]].pos = i;
    }
}

static void
on_annotate(void *arg, const char *project, json_t *model,
    void (*done)(void *done_arg, int rc, const char *reason), void *done_arg)
{
    struct pg_prov *p = arg;
    struct pg_policy_rules tmp;
    const struct pg_policy_rules *rules = pg_prov_rules(p, p->policy,
        project, &tmp);
    json_t *files = json_object_get(model, "files"), *fo;
    struct prov_job *j;
    struct timeval tv;
    size_t i, n;

    if (rules->mode == PG_MODE_OFF) {
        hidden_set(p, project, NULL);
        done(done_arg, 0, NULL);
        return;
    }
    if (p->njobs >= PG_PROV_MAX_JOBS) {
        done(done_arg, -1, "provgate: too many index pages being verified");
        return;
    }
    n = json_array_size(files);
    j = calloc(1, sizeof(*j));
    if (j == NULL || (n > 0 && ((j->files = calloc(n, sizeof(*j->files)))
        == NULL || (j->order = calloc(n, sizeof(*j->order))) == NULL)))
    {
        if (j != NULL) {
            free(j->files);
        }
        free(j);
        done(done_arg, -1, "out of memory");
        return;
    }
    j->p = p;
    j->t0 = pg_now_ms();
    j->refs = 1;                    /* the jobs list */
    snprintf(j->project, sizeof(j->project), "%s", project);
    j->up = pg_prov_upstream(p, project);
    j->model = model;
    j->done = done;
    j->done_arg = done_arg;
    j->policy = pg_policy_ref(p->policy);
    j->n = n;
    j->next = p->jobs;
    if (p->jobs != NULL) {
        p->jobs->prev = j;
    }
    p->jobs = j;
    p->njobs++;
    json_array_foreach(files, i, fo) {
        struct prov_file *f = &j->files[i];
        const char *fn = json_string_value(json_object_get(fo, "filename"));
        const char *sha = json_string_value(json_object_get(
            json_object_get(fo, "hashes"), "sha256"));
        const char *url = json_string_value(json_object_get(fo,
            "provenance"));

        f->job = j;
        f->filename = strdup(fn != NULL ? fn : "");
        f->upload = pg_policy_parse_time(json_string_value(json_object_get(fo,
            "upload-time")));
        f->st = PF_DONE;
        f->vres = PG_VRES_NONE;
        if (f->filename == NULL) {
            f->vres = PG_VRES_PENDING;
            continue;
        }
        if (sha != NULL && strlen(sha) == 64
            && hex_to_bin(sha, f->shabin) == 0)
        {
            memcpy(f->sha, sha, 65);
        } else {
            f->no_sha = 1;                      /* refused by the rules */
        }
        if (url == NULL) {
            continue;                           /* unattested */
        }
        if (f->no_sha) {
            f->vres = PG_VRES_INVALID;
            file_reason(f, "the index gives no "
                "sha256 to bind the provenance to");
            continue;
        }
        if (verdict_lookup(p, f)) {
            const char *lv[2] = { "verified", "cache" };

            pg_metric_inc(p->m_verdicts, 1, lv);
            continue;
        }
        f->url = strdup(url);
        j->outstanding++;
        f->st = PF_QUEUED;              /* read or fetched by job_pump */
        if (f->url == NULL) {
            f->st = PF_DONE;
            f->vres = PG_VRES_PENDING;
            j->outstanding--;
        }
    }
    if (j->outstanding == 0) {
        job_complete(j);
        return;
    }
    job_order(j);
    j->refs++;                      /* held while we pump */
    job_pump(p);
    if (!j->answered && !j->stopped) {
        j->timer = evtimer_new(p->ctx.base, on_budget, j);
        tv.tv_sec = (time_t) (p->cfg->provenance_budget_ms / 1000);
        tv.tv_usec = (suseconds_t) ((p->cfg->provenance_budget_ms % 1000)
            * 1000);
        if (j->timer == NULL || evtimer_add(j->timer, &tv) != 0) {
            job_answer(j);
        }
    }
    job_unref(j);
}

static int
on_file_decision(void *arg, const char *project, const char *filename,
    const char *sha256_hex, const json_t *file_obj, char *reason,
    size_t rlen)
{
    struct pg_prov *p = arg;
    struct pg_policy_rules tmp;
    const struct pg_policy_rules *rules = pg_prov_rules(p, p->policy,
        project, &tmp);
    char name[512];
    const char *dec, *why, *lv[1];
    size_t n;
    struct hidden_entry *h;
    const json_t *pv;

    if (rules->mode == PG_MODE_OFF) {
        return 0;
    }
    snprintf(name, sizeof(name), "%s", filename);
    n = strlen(name);
    if (n > 9 && strcmp(name + n - 9, ".metadata") == 0) {
        name[n - 9] = '\0';
    }
    if (file_obj == NULL) {
        h = hidden_find(p, project);
        if (h != NULL) {
            size_t i;
            json_t *e;

            json_array_foreach(h->list, i, e) {
                const char *fn = json_string_value(json_object_get(e,
                    "filename"));

                if (fn != NULL && strcmp(fn, name) == 0) {
                    snprintf(reason, rlen, "%s", json_string_value(
                        json_object_get(e, "reason")));
                    lv[0] = "hidden";
                    pg_metric_inc(p->m_refusals, 1, lv);
                    return 1;
                }
            }
        }
        snprintf(reason, rlen, "provgate: %s is not listed on the current "
            "index page of %s", name, project);
        lv[0] = "unlisted";
        pg_metric_inc(p->m_refusals, 1, lv);
        return 1;
    }
    pv = json_object_get(file_obj, "_provenance");
    dec = json_string_value(json_object_get(pv, "decision"));
    why = json_string_value(json_object_get(pv, "reason"));
    if (dec != NULL && strcmp(dec, "allow") == 0) {
        return 0;
    }
    if (dec != NULL && strcmp(dec, "pending") == 0) {
        const struct prov_failed *x = failed_find(p, project, name);

        if (x != NULL) {
            snprintf(reason, rlen, "%s", x->reason);
            lv[0] = "unverifiable";
        } else {
            snprintf(reason, rlen, "provgate: provenance of %s is not "
                "verified yet; try again in a few seconds", name);
            if (job_running(p, project)) {
                return PG_PROXY_DECISION_WAIT;  /* see on_file_wait */
            }
            lv[0] = "pending";
        }
    } else if (dec != NULL) {
        snprintf(reason, rlen, "%s", why != NULL ? why
            : "provgate: refused by policy");
        lv[0] = dec;
    } else {
        snprintf(reason, rlen, "provgate: %s has no verdict", name);
        lv[0] = "no_verdict";
    }
    (void) sha256_hex;
    pg_metric_inc(p->m_refusals, 1, lv);
    return 1;
}

static void
on_reload(void *arg)
{
    struct pg_prov *p = arg;
    struct pg_policy_diag *diag;
    struct pg_policy *np = NULL;
    struct pg_audit_event ev;
    const char *lv[1];
    char gen[32];
    size_t i;
    int rc;

    if (p->cfg->policy_file == NULL) {
        pg_log(p->s, "policy: no policy file configured; built-in policy "
            "kept");
        p->ctx.reannotate(p->ctx.arg);
        return;
    }
    diag = calloc(1, sizeof(*diag));
    if (diag == NULL) {
        pg_log(p->s, "policy: reload: out of memory; old policy kept");
        return;
    }
    rc = pg_policy_load(p->cfg->policy_file, &np, diag);
    memset(&ev, 0, sizeof(ev));
    if (rc != PG_POLICY_OK) {
        /* the main log says it as well as the audit log, at least once
         * (a failure may come without a line-numbered message) */
        for (i = 0; i < diag->n || i == 0; i++) {
            pg_log(p->s, "policy: reload failed, keeping generation "
                "%016llx: %s%s%s", (unsigned long long)
                pg_policy_generation(p->policy), diag->n > 0 ? diag->msg[i]
                : p->cfg->policy_file, diag->n > 0 ? "" : ": ",
                diag->n > 0 ? "" : pg_policy_strerror(rc));
        }
        lv[0] = "error";
        pg_metric_inc(p->m_reloads, 1, lv);
        ev.event = "policy-reload-failed";
        ev.reason = diag->n > 0 ? diag->msg[0] : pg_policy_strerror(rc);
        ev.file = p->cfg->policy_file;
        pg_audit_log(p->audit, &ev);
        free(diag);
        return;
    }
    free(diag);
    pg_policy_unref(p->policy);
    p->policy = np;
    snprintf(gen, sizeof(gen), "%016llx",
        (unsigned long long) pg_policy_generation(np));
    pg_log(p->s, "policy: reloaded %s (generation %s, %zu project sections)",
        p->cfg->policy_file, gen, pg_policy_n_projects(np));
    lv[0] = "ok";
    pg_metric_inc(p->m_reloads, 1, lv);
    ev.event = "policy-reload";
    ev.file = p->cfg->policy_file;
    ev.reason = gen;
    pg_audit_log(p->audit, &ev);
    p->ctx.reannotate(p->ctx.arg);
}

/* ---- a pin store shared by replicas (PostgreSQL) -------------------------- */

static void pins_refresh(struct pg_prov *p);

static void
on_pins_notify(evutil_socket_t fd, short what, void *arg)
{
    struct pg_prov *p = arg;
    int rc;

    (void) fd;
    (void) what;
    rc = pg_pinstore_on_notify(p->pins);
    if (rc < 0 && p->pins_notify != NULL) {
        /* The LISTEN connection broke: the next refresh makes another. */
        event_free(p->pins_notify);
        p->pins_notify = NULL;
    }
    if (rc != 0) {
        pins_refresh(p);
    }
}

static void
pins_watch(struct pg_prov *p)
{
    int fd;

    if (p->pins_notify != NULL || p->stopped) {
        return;
    }
    fd = pg_pinstore_notify_fd(p->pins);
    if (fd < 0) {
        return;
    }
    p->pins_notify = event_new(p->ctx.base, fd,
        EV_READ | EV_PERSIST, on_pins_notify, p);
    if (p->pins_notify != NULL && event_add(p->pins_notify, NULL) != 0) {
        event_free(p->pins_notify);
        p->pins_notify = NULL;
    }
    if (p->pins_notify != NULL) {
        /* Notifications may have arrived before we watched. */
        event_active(p->pins_notify, EV_READ, 0);
    }
}

static void
pins_up_set(struct pg_prov *p, int up, const char *why)
{
    pg_metric_set(p->m_pin_store_up, up ? 1 : 0, NULL);
    if (up == p->pins_up) {
        return;
    }
    p->pins_up = up;
    if (up) {
        pg_log(p->s, "pins: pin store %s is available again",
            pg_pinstore_where(p->pins));
        /* Projects refused while it was away can be pinned now. */
        p->ctx.reannotate(p->ctx.arg);
    } else {
        pg_log(p->s, "pins: %s; known pins keep working, projects seen "
            "for the first time are refused until it is back", why);
    }
}

static void
refresh_work(void *arg)
{
    struct pg_prov *p = arg;

    memset(&p->refresh_err, 0, sizeof(p->refresh_err));
    p->refresh_rc = pg_pinstore_refresh(p->pins, &p->refresh_err);
}

static void on_poll(evutil_socket_t fd, short what, void *arg);

static void
refresh_done(void *arg)
{
    struct pg_prov *p = arg;
    const char *lv[1];

    p->refresh_busy = 0;
    if (p->stopped) {
        return;
    }
    lv[0] = p->refresh_rc == PG_POLICY_OK ? "ok" : "error";
    pg_metric_inc(p->m_pin_store_refreshes, 1, lv);
    pins_up_set(p, pg_pinstore_available(p->pins), p->refresh_err.reason);
    pins_watch(p);
    on_poll(-1, 0, p);              /* re-annotate now if pins changed */
    if (p->refresh_again) {
        p->refresh_again = 0;
        pins_refresh(p);
    }
}

/* Re-reads the shared pins on a worker (one at a time; asked again while
 * one runs, it runs once more after it). */
static void
pins_refresh(struct pg_prov *p)
{
    if (!p->shared_pins || p->stopped) {
        return;
    }
    if (p->refresh_busy) {
        p->refresh_again = 1;
        return;
    }
    p->refresh_busy = 1;
    p->refresh_last_ms = pg_now_ms();
    if (pg_workers_submit(p->s->workers, refresh_work, refresh_done, p)
        != 0)
    {
        p->refresh_busy = 0;
    }
}

/* /readyz: 1 when nothing is degraded; else 0 with why. */
static int
on_ready(void *arg, char *why, size_t len)
{
    struct pg_prov *p = arg;

    if (p->shared_pins && !pg_pinstore_available(p->pins)) {
        snprintf(why, len, "pin store unavailable: known pins are served, "
            "projects seen for the first time are refused");
        return 0;
    }
    return 1;
}

/* The client tokens, when the store's changed (tokens_sync.c); a failure
 * keeps the table and is logged once per kind. */
static void
tokens_poll(struct pg_prov *p)
{
    char msg[256];
    int rc;

    msg[0] = '\0';
    rc = pg_tokens_sync(p->ctx.auth, p->pins, &p->tokens_gen, 0, msg,
        sizeof(msg));
    if (rc != 0 && strcmp(msg, p->tokens_msg) != 0) {
        pg_log(p->s, "%s", msg);
        snprintf(p->tokens_msg, sizeof(p->tokens_msg), "%s", msg);
    } else if (rc == 0 && msg[0] == '\0' && p->tokens_msg[0] != '\0'
        && p->tokens_gen != 0)
    {
        p->tokens_msg[0] = '\0';
    }
}

/* Every PG_PROV_POLL_MS: a pins change by anyone, or the end of a min_age
 * hold, re-annotates the pages; every PG_PROV_PINS_REFRESH_MS a shared
 * pin store is re-read (the safety net under its notifications). */
static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct pg_prov *p = arg;
    struct pg_policy_err err;
    uint64_t g = 0;

    (void) what;
    tokens_poll(p);
    if (fd != -1 || what != 0) {
        if (p->shared_pins && pg_now_ms() - p->refresh_last_ms
            >= PG_PROV_PINS_REFRESH_MS)
        {
            pins_refresh(p);
        }
    }
    memset(&err, 0, sizeof(err));
    if (pg_pins_generation(p->pins, &g, &err) == PG_POLICY_OK
        && g != p->pins_gen)
    {
        p->pins_gen = g;
        p->ctx.reannotate(p->ctx.arg);
        return;
    }
    if (p->release_at != 0 && time(NULL) >= p->release_at) {
        p->release_at = 0;
        p->ctx.reannotate(p->ctx.arg);
    }
}

/* ---- /integrity/ --------------------------------------------------------- */

struct integrity_req {
    char project[PG_INDEX_MAX_NAME + 2];
    char filename[512];
};

static void
on_page_for_integrity(struct pg_req *r, struct pg_page *page, int status,
    const char *reason)
{
    struct integrity_req *ir = r->route_state;
    struct pg_prov *p = r->s->hooks.arg;
    struct evbuffer *body;
    json_t *files, *fo;
    const char *sha = NULL;
    void *val = NULL;
    size_t len = 0, i;
    int rc;

    if (page == NULL) {
        pg_req_refuse(r, status == 404 ? PG_REFUSE_NOT_FOUND
            : PG_REFUSE_BAD_GATEWAY, "%s", reason != NULL ? reason
            : "index page unavailable");
        return;
    }
    files = json_object_get(pg_page_model(page), "files");
    json_array_foreach(files, i, fo) {
        const char *fn = json_string_value(json_object_get(fo, "filename"));

        if (fn != NULL && strcmp(fn, ir->filename) == 0) {
            sha = json_string_value(json_object_get(json_object_get(fo,
                "hashes"), "sha256"));
            break;
        }
    }
    rc = p == NULL ? PG_CACHE_NOTFOUND : pg_prov_stored(p, sha,
        ir->filename, &val, &len);
    if (rc != PG_CACHE_OK) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no verified provenance of %s "
            "is cached", ir->filename);
        return;
    }
    body = evbuffer_new();
    if (body == NULL || evbuffer_add(body, val, len) != 0) {
        free(val);
        if (body != NULL) {
            evbuffer_free(body);
        }
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    free(val);
    pg_req_set_header(r, "Content-Type", INTEGRITY_TYPE);
    pg_req_set_header(r, "Cache-Control", "max-age=365000000, immutable");
    pg_req_send(r, 200, "OK", body);
}

void
pg_prov_handle_integrity(struct pg_req *r)
{
    struct integrity_req *ir = pg_req_alloc(r, sizeof(*ir));
    const char *path = r->path + strlen("/integrity/");
    const char *parts[4];
    size_t lens[4], k = 0;
    const char *s = path;
    char raw[PG_INDEX_MAX_NAME + 2];

    r->route = "integrity";
    if (ir == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    while (k < 4 && *s != '\0') {
        const char *e = strchr(s, '/');

        parts[k] = s;
        lens[k] = e != NULL ? (size_t) (e - s) : strlen(s);
        k++;
        s = e != NULL ? e + 1 : s + strlen(s);
    }
    if (k != 4 || *s != '\0' || lens[3] != 10
        || memcmp(parts[3], "provenance", 10) != 0 || lens[0] == 0
        || lens[0] >= sizeof(raw) || lens[2] == 0
        || lens[2] >= sizeof(ir->filename))
    {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "expected /integrity/PROJECT/"
            "VERSION/FILENAME/provenance");
        return;
    }
    memcpy(raw, parts[0], lens[0]);
    raw[lens[0]] = '\0';
    memcpy(ir->filename, parts[2], lens[2]);
    ir->filename[lens[2]] = '\0';
    if (pg_index_normalize(raw, ir->project, sizeof(ir->project)) != 0) {
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "not a project name: %s", raw);
        return;
    }
    r->route_state = ir;
    pg_pages_load(r->s->pages, r, ir->project, on_page_for_integrity);
}

static void
handle_integrity(void *arg, struct pg_req *r, const char *rest)
{
    pg_prov_handle_integrity(r);
}

const struct pg_route pg_prov_routes[] = {
    { "/integrity/", 1, handle_integrity, NULL },
};
const size_t pg_prov_nroutes =
    sizeof(pg_prov_routes) / sizeof(pg_prov_routes[0]);

/* ---- life cycle ---------------------------------------------------------- */

/* The engine's metric families: rows of one table (type, name, help,
 * labels, buckets, zero, field), registered at construction. */
#define NB(a) (sizeof(a) / sizeof((a)[0]))
static const struct pg_metric_def prov_metrics[] = {
    { PG_METRIC_COUNTER, "provgate_provenance_fetches_total",
      "Provenance objects fetched from the upstream, by result",
      "result", NULL, 0, 0, offsetof(struct pg_prov, m_fetches) },
    { PG_METRIC_HISTOGRAM, "provgate_provenance_fetch_duration_seconds",
      "Time to fetch one provenance object from the upstream", NULL,
      fetch_buckets, NB(fetch_buckets), 0,
      offsetof(struct pg_prov, m_fetch_seconds) },
    { PG_METRIC_COUNTER, "provgate_provenance_verdicts_total",
      "Verification verdicts, by result and source (cache or verified "
      "now)", "result,source", NULL, 0, 0,
      offsetof(struct pg_prov, m_verdicts) },
    { PG_METRIC_COUNTER, "provgate_policy_decisions_total",
      "Per-file policy decisions made while annotating pages, by "
      "decision and reason", "decision,reason", NULL, 0, 0,
      offsetof(struct pg_prov, m_decisions) },
    { PG_METRIC_COUNTER, "provgate_policy_refused_downloads_total",
      "File downloads refused by the policy, by decision", "decision",
      NULL, 0, 0, offsetof(struct pg_prov, m_refusals) },
    { PG_METRIC_COUNTER, "provgate_pins_created_total",
      "TOFU pins created by the server", "how", NULL, 0, 0,
      offsetof(struct pg_prov, m_pins) },
    { PG_METRIC_COUNTER, "provgate_policy_reloads_total",
      "Policy reloads (SIGHUP), by result", "result", NULL, 0, 0,
      offsetof(struct pg_prov, m_reloads) },
    { PG_METRIC_COUNTER, "provgate_provenance_pending_total",
      "Files annotated pending because their provenance was not verified "
      "within the time budget", NULL, NULL, 0, 0,
      offsetof(struct pg_prov, m_pending) },
    { PG_METRIC_GAUGE, "provgate_provenance_memory_bytes",
      "Memory provenance objects being fetched, verified or stored hold "
      "(reservations included; capped by provenance_max_bytes)", NULL, NULL,
      0, 0, offsetof(struct pg_prov, m_mem) },
    { PG_METRIC_GAUGE, "provgate_provenance_memory_peak_bytes",
      "The most provgate_provenance_memory_bytes has been since the start",
      NULL, NULL, 0, 0, offsetof(struct pg_prov, m_mem_peak) },
    { PG_METRIC_COUNTER, "provgate_provenance_download_waits_total",
      "Downloads that waited for their file's pending verification", NULL,
      NULL, 0, 0, offsetof(struct pg_prov, m_waits) },
    { PG_METRIC_GAUGE, "provgate_pin_store_up",
      "1 while the pin store can take new pins (PostgreSQL reachable; "
      "always 1 for lmdb), 0 while it cannot", NULL, NULL, 0, 0,
      offsetof(struct pg_prov, m_pin_store_up) },
    { PG_METRIC_COUNTER, "provgate_pin_store_refreshes_total",
      "Re-reads of a shared pin store (notification or periodic), by "
      "result", "result", NULL, 0, 0,
      offsetof(struct pg_prov, m_pin_store_refreshes) },
    { PG_METRIC_HISTOGRAM,
      "provgate_provenance_annotation_duration_seconds",
      "From the start of a page's annotation to its answer (verdict "
      "lookups, fetches and verification within the budget, rules)", NULL,
      annotate_buckets, NB(annotate_buckets), 0,
      offsetof(struct pg_prov, m_annotate_seconds) },
};

static int
add_metrics(struct pg_prov *p, struct pg_metrics *m)
{
    return pg_metrics_add_table(m, prov_metrics, NB(prov_metrics), p);
}

/* Opens the pin store (creating or upgrading its schema) and, once per
 * cache, moves an old cache's pins into it. */
static int
pins_open(struct pg_prov *p, char *msg, size_t mlen)
{
    struct pg_pinstore_opts opt;
    struct pg_policy_err err;
    char uri[PG_PINS_MAX_URI + 1], host[64];
    size_t moved = 0, kept = 0;
    int rc;

    if (pg_pins_store_uri(p->cfg, p->cfg->cache_dir, uri, sizeof(uri))
        != 0)
    {
        snprintf(msg, mlen, "pin_store: the path is too long");
        return -1;
    }
    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.uri = uri;
    opt.create = 1;
    if (pg_pinstore_open(&opt, &p->pins, &err) != PG_POLICY_OK) {
        snprintf(msg, mlen, "pin_store: %s", err.reason);
        return -1;
    }
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(p->pin_by, sizeof(p->pin_by), "provgate@%s", host);
    rc = pg_pins_migrate_cache(p->cache, p->cfg->cache_dir, p->pins, &moved,
        &kept, &err);
    if (rc < 0) {
        snprintf(msg, mlen, "pin_store: migrating the pins of the cache "
            "%s: %s", p->cfg->cache_dir, err.reason);
        return -1;
    }
    if (rc == 0 && moved + kept > 0) {
        pg_log(p->s, "pins: migrated %zu pins from the cache %s to the pin "
            "store %s (%zu were there already); this happens once",
            moved, p->cfg->cache_dir, pg_pinstore_where(p->pins), kept);
    }
    pg_log(p->s, "pins: pin store %s", pg_pinstore_where(p->pins));
    return 0;
}

int
pg_prov_new(const struct pg_ctx *ctx, struct pg_proxy_hooks *hooks,
    struct pg_prov **out, char *msg, size_t mlen)
{
    struct pg_server *s = ctx->log;
    struct pg_prov *p;
    struct pg_policy_diag *diag = NULL;
    struct pg_sig_err serr;
    struct pg_policy_err perr;
    struct timeval tv;
    size_t i, off = 0;
    int rc;

    *out = NULL;
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(msg, mlen, "out of memory");
        return -1;
    }
    p->ctx = *ctx;
    p->s = s;
    p->cfg = ctx->cfg;
    p->cache = ctx->cache;
    if (p->cfg->policy_file != NULL) {
        diag = calloc(1, sizeof(*diag));
        if (diag == NULL) {
            snprintf(msg, mlen, "out of memory");
            goto err;
        }
        rc = pg_policy_load(p->cfg->policy_file, &p->policy, diag);
        if (rc != PG_POLICY_OK) {
            msg[0] = '\0';
            for (i = 0; i < diag->n && off + 1 < mlen; i++) {
                int w = snprintf(msg + off, mlen - off, "%s%s",
                    i > 0 ? "\n" : "", diag->msg[i]);

                off += w > 0 ? (size_t) w : 0;
            }
            if (diag->n == 0) {
                snprintf(msg, mlen, "%s: %s", p->cfg->policy_file,
                    pg_policy_strerror(rc));
            }
            goto err;
        }
    } else {
        p->policy = pg_policy_builtin();
        if (p->policy == NULL) {
            snprintf(msg, mlen, "out of memory");
            goto err;
        }
    }
    memset(&serr, 0, sizeof(serr));
    if (p->cfg->trust_root != NULL) {
        rc = pg_sig_trust_root_load_file(p->cfg->trust_root, &p->root,
            &serr);
    } else {
        rc = pg_sig_trust_root_builtin(p->cfg->staging ? 1 : 0, &p->root,
            &serr);
    }
    if (rc != PG_SIG_OK) {
        snprintf(msg, mlen, "trust root %s: %s", p->cfg->trust_root != NULL
            ? p->cfg->trust_root : "(built-in)", serr.reason[0] != '\0'
            ? serr.reason : pg_sig_strerror((enum pg_sig_code) rc));
        goto err;
    }
    p->root_id = pg_sig_trust_root_id(p->root);
    for (i = 1; i < p->cfg->n_upstreams; i++) {
        const char *path = p->cfg->upstreams[i].trust_root;

        if (path == NULL) {
            continue;
        }
        memset(&serr, 0, sizeof(serr));
        rc = pg_sig_trust_root_load_file(path, &p->roots[i], &serr);
        if (rc != PG_SIG_OK) {
            snprintf(msg, mlen, "[upstream:%s]: trust root %s: %s",
                p->cfg->upstreams[i].name, path, serr.reason[0] != '\0'
                ? serr.reason : pg_sig_strerror((enum pg_sig_code) rc));
            goto err;
        }
    }
    p->vcache = pg_lru_new(PG_PROV_VCACHE_SLOTS, PG_PROV_VCACHE_SLOTS,
        SIZE_MAX, vcache_drop, p);
    p->failed_index = pg_lru_new(PG_PROV_FAILED_MAX, PG_PROV_FAILED_MAX,
        SIZE_MAX, failed_drop, p);
    p->hidden = pg_lru_new(1024, PG_PROV_HIDDEN_MAX, PG_PROV_HIDDEN_BYTES,
        hidden_drop, p);
    p->audit_seen = calloc(PG_PROV_AUDIT_SEEN, sizeof(*p->audit_seen));
    p->audit_index = pg_lru_new(PG_PROV_AUDIT_SEEN, PG_PROV_AUDIT_SEEN,
        SIZE_MAX, audit_seen_drop, p);
    if (p->vcache == NULL || p->hidden == NULL || p->failed_index == NULL
        || p->audit_seen == NULL || p->audit_index == NULL)
    {
        snprintf(msg, mlen, "out of memory (verdict cache)");
        goto err;
    }
    if (pg_audit_open(p->cfg->audit_log, &p->audit, msg, mlen) != 0) {
        goto err;
    }
    if (add_metrics(p, ctx->metrics) != 0) {
        snprintf(msg, mlen, "out of memory (metrics)");
        goto err;
    }
    memset(&perr, 0, sizeof(perr));
    if (pins_open(p, msg, mlen) != 0) {
        goto err;
    }
    (void) pg_pins_generation(p->pins, &p->pins_gen, &perr);
    if (pg_tokens_sync(ctx->auth, p->pins, &p->tokens_gen, 1, msg, mlen)
        < 0)
    {
        goto err;
    }
    if (ctx->auth != NULL && ctx->cfg->auth == PG_AUTH_TOKEN) {
        pg_log(p->s, "auth: %zu client tokens from %s", pg_auth_ntokens(
            ctx->auth), pg_pinstore_where(p->pins));
    }
    p->shared_pins = strcmp(pg_pinstore_kind(p->pins), "lmdb") != 0;
    p->pins_up = 1;
    pg_metric_set(p->m_pin_store_up, 1, NULL);
    p->refresh_last_ms = pg_now_ms();
    p->resume_ev = evtimer_new(ctx->base, on_resume, p);
    if (p->resume_ev == NULL) {
        snprintf(msg, mlen, "out of memory (timer)");
        goto err;
    }
    p->poll = event_new(ctx->base, -1, EV_PERSIST, on_poll, p);
    tv.tv_sec = PG_PROV_POLL_MS / 1000;
    tv.tv_usec = (PG_PROV_POLL_MS % 1000) * 1000;
    if (p->poll == NULL || event_add(p->poll, &tv) != 0) {
        snprintf(msg, mlen, "out of memory (timer)");
        goto err;
    }
    memset(hooks, 0, sizeof(*hooks));
    hooks->annotate_page = on_annotate;
    hooks->file_decision = on_file_decision;
    hooks->file_wait = on_file_wait;
    hooks->reload = on_reload;
    hooks->ready = on_ready;
    hooks->arg = p;
    pins_watch(p);
    pg_log(s, "policy: %s (generation %016llx, default mode %s); trust root "
        "%s", pg_policy_source(p->policy), (unsigned long long)
        pg_policy_generation(p->policy),
        pg_policy_mode_name(pg_policy_for(p->policy, NULL)->mode),
        p->cfg->trust_root != NULL ? p->cfg->trust_root
        : (p->cfg->staging ? "built-in staging" : "built-in production"));
    free(diag);
    *out = p;
    return 0;

err:
    free(diag);
    pg_prov_stop(p);
    pg_prov_free(p);
    return -1;
}

void
pg_prov_stop(struct pg_prov *p)
{
    struct prov_job *j;
    size_t i;

    if (p == NULL || p->stopped) {
        return;
    }
    p->stopped = 1;
    if (p->poll != NULL) {
        event_free(p->poll);
        p->poll = NULL;
    }
    if (p->pins_notify != NULL) {
        event_free(p->pins_notify);
        p->pins_notify = NULL;
    }
    if (p->resume_ev != NULL) {
        event_free(p->resume_ev);
        p->resume_ev = NULL;
    }
    /* Parked downloads are the server's requests: it finishes them as it
     * stops; their resume is never called. */
    while (p->waits != NULL) {
        struct prov_wait *w = p->waits;

        p->waits = w->next;
        free(w);
    }
    p->nwaits = 0;
    for (j = p->jobs; j != NULL; j = j->next) {
        j->stopped = 1;
        if (j->timer != NULL) {
            event_free(j->timer);
            j->timer = NULL;
        }
        for (i = 0; i < j->n; i++) {
            if (j->files[i].xfer != NULL) {
                pg_upstream_cancel(j->files[i].xfer);
                j->files[i].xfer = NULL;
                j->refs--;
            }
        }
    }
}

void
pg_prov_free(struct pg_prov *p)
{
    size_t i;

    if (p == NULL) {
        return;
    }
    p->m_mem = p->m_mem_peak = NULL;    /* the server's metrics are gone */
    /* Workers are joined: tasks whose done never ran are freed here, with
     * the job references they held. */
    while (p->tasks != NULL) {
        struct prov_task *t = p->tasks;

        if ((t->kind == T_VERIFY || t->kind == T_PIN) && t->job != NULL) {
            t->job->refs--;
        }
        task_free(t);
    }
    while (p->jobs != NULL) {
        struct prov_job *j = p->jobs;

        job_unlink(j);
        job_free(j);
    }
    pg_lru_free(p->hidden);
    pg_lru_free(p->vcache);
    pg_lru_free(p->failed_index);
    pg_lru_free(p->audit_index);
    free(p->audit_seen);
    pg_audit_close(p->audit);
    for (i = 0; i < PG_CONFIG_MAX_UPSTREAMS; i++) {
        if (p->roots[i] != NULL) {
            pg_sig_trust_root_free(p->roots[i]);
        }
    }
    if (p->root != NULL) {
        pg_sig_trust_root_free(p->root);
    }
    pg_policy_unref(p->policy);
    pg_pinstore_close(p->pins);
    free(p);
}

/* ---- what the operator pages read (ui_route.c) --------------------------- */

struct pg_pinstore *
pg_prov_pinstore(struct pg_prov *p)
{
    return p->pins;
}

const struct pg_policy *
pg_prov_policy(struct pg_prov *p)
{
    return p->policy;
}

struct pg_audit *
pg_prov_audit(struct pg_prov *p)
{
    return p->audit;
}

int
pg_prov_pins_up(struct pg_prov *p)
{
    return p->pins_up;
}

void
pg_prov_pins_changed(struct pg_prov *p)
{
    p->ctx.reannotate(p->ctx.arg);
}

/* Forgets the in-memory verdict of one file (sha256 hex) so its next
 * annotation reads LMDB, or verifies it again once the caller deleted
 * the stored verdict (key from pg_prov_verdict_key). */
void
pg_prov_forget_verdict(struct pg_prov *p, const char *sha)
{
    unsigned char bin[32];
    struct pg_lru_node *n;

    if (strlen(sha) != 64 || hex_to_bin(sha, bin) != 0) {
        return;
    }
    n = pg_lru_find(p->vcache, sha);
    if (n != NULL) {
        pg_lru_remove(p->vcache, n);
    }
}

int
pg_prov_verdict_key(struct pg_prov *p, const char *sha, char *key,
    size_t len)
{
    return verdict_key(p, sha, key, len);
}

int
pg_prov_stored(struct pg_prov *p, const char *sha, const char *filename,
    void **val, size_t *len)
{
    struct pg_cache_err cerr;
    char key[PG_CACHE_MAX_KEY + 1];
    int klen, rc;

    if (sha == NULL || strlen(sha) != 64 || filename == NULL) {
        return PG_CACHE_NOTFOUND;
    }
    memset(&cerr, 0, sizeof(cerr));
    klen = provenance_key(sha, filename, key, sizeof(key));
    rc = klen < 0 ? PG_CACHE_NOTFOUND : pg_cache_get(p->cache,
        PG_CACHE_DB_PROVENANCE, key, (size_t) klen, val, len, &cerr);
    if (rc == PG_CACHE_NOTFOUND) {
        /* stored by a provgate that keyed objects by sha256 alone */
        rc = pg_cache_get(p->cache, PG_CACHE_DB_PROVENANCE, sha, 64, val,
            len, &cerr);
    }
    return rc;
}
