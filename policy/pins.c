/* policy/pins.c — TOFU pins: each project's set of accepted publishers.
 *
 * A pin set is one compact JSON value per project (PEP 503-normalized name)
 * in the cache's PG_CACHE_DB_PINS:
 *   {"project":"demo","publishers":[
 *     {"publisher":"github:o/demo:release.yml","how":"tofu",
 *      "time":"2026-01-02T03:04:05Z","file":"demo-1.0.tar.gz",
 *      "sha256":"…","upload_time":"2025-…Z"},
 *     {"publisher":"github:o/demo2:release.yml","how":"approved",
 *      "time":"…","by":"alice"}]}
 * Every write also stores a new pins generation (PG_CACHE_DB_META key
 * "pins_generation", 16 hex digits) in the same transaction.  Readers key
 * cached decisions by it, so a change made by any process (the server's
 * TOFU pin, `provgate pins approve` next to a running server) invalidates
 * them.  The generation is a fresh random value rather than old + 1: two
 * processes racing on read-modify-write can then never publish the same
 * generation for different pin states.
 *
 * Records read back from the store or from `pins import` are untrusted
 * input: every field is bounded and checked (PG_PINS_MAX_*).
 *
 * Owns: nothing past a call (values it returns are caller's buffers).
 * Borrows: the cache.  Runs on: worker or CLI for writes (an LMDB commit
 * may fsync); reads are cheap and may run on the loop.
 * Spec: design §7 (TOFU pins), issue 4 item 3.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <jansson.h>

#include "pg_cache.h"
#include "pg_policy.h"

#define PINS_META_KEY "pins_generation"

static void perr_set(struct pg_policy_err *err, enum pg_policy_code code,
    const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* First failure wins; the reason is cut to fit if it must be. */
static void
perr_set(struct pg_policy_err *err, enum pg_policy_code code,
    const char *step, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->code != PG_POLICY_OK) {
        return;
    }
    err->code = code;
    err->step = step;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
}

static int
perr_cache(struct pg_policy_err *err, const char *step,
    const struct pg_cache_err *cerr)
{
    perr_set(err, PG_POLICY_ESTORE, step, "%s", cerr->reason[0] != '\0'
        ? cerr->reason : pg_cache_strerror(cerr->code));
    return PG_POLICY_ESTORE;
}

/* ---- time --------------------------------------------------------------- */

static void
fmt_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, len, "1970-01-01T00:00:00Z");
    }
}

int64_t
pg_policy_parse_time(const char *s)
{
    struct tm tm;
    const char *e;

    if (s == NULL) {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (e == NULL) {
        return -1;
    }
    if (*e == '.') {
        e++;
        while (*e >= '0' && *e <= '9') {
            e++;
        }
    }
    if (strcmp(e, "Z") != 0 && strcmp(e, "+00:00") != 0) {
        return -1;
    }
    return (int64_t) timegm(&tm);
}

/* ---- JSON form ---------------------------------------------------------- */

int
pg_pins_to_json(const struct pg_pin_set *set, char **out, size_t *len,
    struct pg_policy_err *err)
{
    json_t *root = NULL, *arr = NULL;
    char spec[1024], ts[32];
    size_t i;

    *out = NULL;
    root = json_object();
    arr = json_array();
    if (root == NULL || arr == NULL) {
        goto nomem;
    }
    if (json_object_set_new(root, "project", json_string(set->project)) != 0
        || json_object_set(root, "publishers", arr) != 0)
    {
        goto nomem;
    }
    for (i = 0; i < set->n; i++) {
        const struct pg_pin_entry *e = &set->e[i];
        json_t *o = json_object();

        if (o == NULL || json_array_append_new(arr, o) != 0) {
            goto nomem;
        }
        pg_publisher_format(&e->publisher, spec, sizeof(spec));
        fmt_time(e->time, ts, sizeof(ts));
        if (json_object_set_new(o, "publisher", json_string(spec)) != 0
            || json_object_set_new(o, "how", json_string(
                e->how == PG_PIN_TOFU ? "tofu" : "approved")) != 0
            || json_object_set_new(o, "time", json_string(ts)) != 0)
        {
            goto nomem;
        }
        if (e->how == PG_PIN_TOFU) {
            if (json_object_set_new(o, "file", json_string(e->file)) != 0
                || (e->sha256[0] != '\0' && json_object_set_new(o, "sha256",
                    json_string(e->sha256)) != 0))
            {
                goto nomem;
            }
            if (e->upload_time >= 0) {
                fmt_time(e->upload_time, ts, sizeof(ts));
                if (json_object_set_new(o, "upload_time", json_string(ts))
                    != 0)
                {
                    goto nomem;
                }
            }
        } else if (json_object_set_new(o, "by", json_string(e->by)) != 0) {
            goto nomem;
        }
    }
    *out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (*out == NULL) {
        goto nomem;
    }
    *len = strlen(*out);
    json_decref(arr);
    json_decref(root);
    return PG_POLICY_OK;

nomem:
    json_decref(arr);
    json_decref(root);
    perr_set(err, PG_POLICY_ENOMEM, "pins-json", "%s", "out of memory");
    return PG_POLICY_ENOMEM;
}

static int
is_hex64(const char *s)
{
    size_t i;

    for (i = 0; i < 64; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return 0;
        }
    }
    return s[64] == '\0';
}

static const char *
str_field(json_t *o, const char *key, size_t max, int required,
    const char **why)
{
    json_t *v = json_object_get(o, key);

    if (v == NULL) {
        if (required) {
            *why = key;
        }
        return NULL;
    }
    if (!json_is_string(v) || json_string_length(v) > max
        || strlen(json_string_value(v)) != json_string_length(v))
    {
        *why = key;
        return NULL;
    }
    return json_string_value(v);
}

static int
entry_from_json(json_t *o, struct pg_pin_entry *e, const char **why)
{
    const char *spec, *how, *ts, *s;
    char reason[160];

    memset(e, 0, sizeof(*e));
    e->upload_time = -1;
    if (!json_is_object(o)) {
        *why = "publisher entry";
        return -1;
    }
    spec = str_field(o, "publisher", 1000, 1, why);
    how = str_field(o, "how", 16, 1, why);
    ts = str_field(o, "time", 40, 1, why);
    if (spec == NULL || how == NULL || ts == NULL) {
        return -1;
    }
    if (pg_publisher_parse(spec, &e->publisher, reason, sizeof(reason))
        != 0)
    {
        *why = "publisher";
        return -1;
    }
    e->time = pg_policy_parse_time(ts);
    if (e->time < 0) {
        *why = "time";
        return -1;
    }
    if (strcmp(how, "tofu") == 0) {
        e->how = PG_PIN_TOFU;
        s = str_field(o, "file", sizeof(e->file) - 1, 0, why);
        if (s == NULL && *why != NULL) {
            return -1;
        }
        snprintf(e->file, sizeof(e->file), "%s", s != NULL ? s : "");
        s = str_field(o, "sha256", 64, 0, why);
        if (s != NULL && !is_hex64(s)) {
            *why = "sha256";
        }
        if (*why != NULL) {
            return -1;
        }
        snprintf(e->sha256, sizeof(e->sha256), "%s", s != NULL ? s : "");
        s = str_field(o, "upload_time", 40, 0, why);
        if (s != NULL) {
            e->upload_time = pg_policy_parse_time(s);
            if (e->upload_time < 0) {
                *why = "upload_time";
            }
        }
        return *why != NULL ? -1 : 0;
    }
    if (strcmp(how, "approved") == 0) {
        e->how = PG_PIN_APPROVED;
        s = str_field(o, "by", sizeof(e->by) - 1, 0, why);
        if (*why != NULL) {
            return -1;
        }
        snprintf(e->by, sizeof(e->by), "%s", s != NULL ? s : "");
        return 0;
    }
    *why = "how";
    return -1;
}

int
pg_pins_from_json(const char *json, size_t len, struct pg_pin_set *set,
    struct pg_policy_err *err)
{
    json_t *root, *pubs;
    json_error_t jerr;
    const char *project, *why = NULL;
    char norm[PG_POLICY_MAX_NAME + 1];
    size_t i;

    memset(set, 0, sizeof(*set));
    if (len > PG_PINS_MAX_RECORD) {
        perr_set(err, PG_POLICY_ELIMIT, "pins-json",
            "pin record is larger than %d bytes", PG_PINS_MAX_RECORD);
        return PG_POLICY_ELIMIT;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        perr_set(err, PG_POLICY_EPARSE, "pins-json", "not JSON: %s",
            jerr.text);
        return PG_POLICY_EPARSE;
    }
    if (!json_is_object(root)) {
        why = "record";
        goto bad;
    }
    project = str_field(root, "project", PG_POLICY_MAX_NAME, 1, &why);
    if (project == NULL
        || pg_policy_normalize(project, norm, sizeof(norm)) != 0
        || strcmp(norm, project) != 0)
    {
        why = "project";
        goto bad;
    }
    memcpy(set->project, norm, sizeof(set->project));
    pubs = json_object_get(root, "publishers");
    if (!json_is_array(pubs)) {
        why = "publishers";
        goto bad;
    }
    if (json_array_size(pubs) > PG_PINS_MAX_PUBLISHERS) {
        json_decref(root);
        perr_set(err, PG_POLICY_ELIMIT, "pins-json",
            "more than %d publishers in one pin", PG_PINS_MAX_PUBLISHERS);
        return PG_POLICY_ELIMIT;
    }
    for (i = 0; i < json_array_size(pubs); i++) {
        if (entry_from_json(json_array_get(pubs, i), &set->e[i], &why)
            != 0)
        {
            goto bad;
        }
        set->n++;
    }
    json_decref(root);
    return PG_POLICY_OK;

bad:
    json_decref(root);
    set->n = 0;
    perr_set(err, PG_POLICY_EPARSE, "pins-json", "bad or missing '%s'",
        why != NULL ? why : "?");
    return PG_POLICY_EPARSE;
}

int64_t
pg_pins_since(const struct pg_pin_set *set)
{
    int64_t since = -1;
    size_t i;

    for (i = 0; i < set->n; i++) {
        const struct pg_pin_entry *e = &set->e[i];

        if (e->how == PG_PIN_TOFU && e->upload_time >= 0
            && (since < 0 || e->upload_time < since))
        {
            since = e->upload_time;
        }
    }
    return since;
}

void
pg_pins_format(const struct pg_pin_set *set, char *buf, size_t len)
{
    const struct pg_publisher *p[PG_PINS_MAX_PUBLISHERS];
    size_t i, n = set->n < PG_PINS_MAX_PUBLISHERS ? set->n
        : PG_PINS_MAX_PUBLISHERS;

    for (i = 0; i < n; i++) {
        p[i] = &set->e[i].publisher;
    }
    pg_publisher_format_list(p, n, buf, len);
}

/* ---- store -------------------------------------------------------------- */

static int
project_key(const char *project, struct pg_policy_err *err)
{
    char norm[PG_POLICY_MAX_NAME + 1];

    if (project == NULL || pg_policy_normalize(project, norm, sizeof(norm))
        != 0 || strcmp(norm, project) != 0)
    {
        perr_set(err, PG_POLICY_EINVAL, "pins", "'%s' is not a normalized "
            "project name", project != NULL ? project : "");
        return -1;
    }
    return 0;
}

int
pg_pins_get(struct pg_cache *c, const char *project, struct pg_pin_set *set,
    struct pg_policy_err *err)
{
    struct pg_cache_err cerr;
    void *val = NULL;
    size_t len = 0;
    int rc;

    memset(set, 0, sizeof(*set));
    if (project_key(project, err) != 0) {
        return PG_POLICY_EINVAL;
    }
    snprintf(set->project, sizeof(set->project), "%s", project);
    memset(&cerr, 0, sizeof(cerr));
    rc = pg_cache_get(c, PG_CACHE_DB_PINS, project, strlen(project), &val,
        &len, &cerr);
    if (rc == PG_CACHE_NOTFOUND) {
        return PG_POLICY_OK;
    }
    if (rc != PG_CACHE_OK) {
        return perr_cache(err, "pins-get", &cerr);
    }
    rc = pg_pins_from_json(val, len, set, err);
    free(val);
    if (rc == PG_POLICY_OK && strcmp(set->project, project) != 0) {
        set->n = 0;
        perr_set(err, PG_POLICY_EPARSE, "pins-get", "record under '%s' names "
            "another project", project);
        return PG_POLICY_EPARSE;
    }
    return rc;
}

int
pg_pins_generation(struct pg_cache *c, uint64_t *gen,
    struct pg_policy_err *err)
{
    struct pg_cache_err cerr;
    void *val = NULL;
    size_t len = 0;
    char *end = NULL;
    int rc;

    *gen = 0;
    memset(&cerr, 0, sizeof(cerr));
    rc = pg_cache_get(c, PG_CACHE_DB_META, PINS_META_KEY,
        strlen(PINS_META_KEY), &val, &len, &cerr);
    if (rc == PG_CACHE_NOTFOUND) {
        return PG_POLICY_OK;
    }
    if (rc != PG_CACHE_OK) {
        return perr_cache(err, "pins-generation", &cerr);
    }
    errno = 0;
    *gen = strtoull(val, &end, 16);
    if (len != 16 || errno != 0 || end != (char *) val + 16) {
        *gen = 0;
        free(val);
        perr_set(err, PG_POLICY_EPARSE, "pins-generation", "%s",
            "stored pins generation is malformed");
        return PG_POLICY_EPARSE;
    }
    free(val);
    return PG_POLICY_OK;
}

/* Writes (or deletes, json == NULL) one project's value and a fresh
 * generation in one transaction. */
static int
pins_write(struct pg_cache *c, const char *project, const char *json,
    size_t len, struct pg_policy_err *err)
{
    struct pg_cache_op ops[2];
    struct pg_cache_err cerr;
    uint64_t g = 0;
    char hex[17];

    while (g == 0) {
        if (getrandom(&g, sizeof(g), 0) != (ssize_t) sizeof(g)) {
            perr_set(err, PG_POLICY_EIO, "pins-put", "getrandom: %s",
                strerror(errno));
            return PG_POLICY_EIO;
        }
    }
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long) g);
    memset(ops, 0, sizeof(ops));
    ops[0].db = PG_CACHE_DB_PINS;
    ops[0].key = project;
    ops[0].klen = strlen(project);
    ops[0].val = json;
    ops[0].len = len;
    ops[1].db = PG_CACHE_DB_META;
    ops[1].key = PINS_META_KEY;
    ops[1].klen = strlen(PINS_META_KEY);
    ops[1].val = hex;
    ops[1].len = 16;
    memset(&cerr, 0, sizeof(cerr));
    if (pg_cache_put_many(c, ops, 2, &cerr) != PG_CACHE_OK) {
        return perr_cache(err, "pins-put", &cerr);
    }
    return PG_POLICY_OK;
}

int
pg_pins_put(struct pg_cache *c, const struct pg_pin_set *set,
    struct pg_policy_err *err)
{
    char *json = NULL;
    size_t len = 0;
    int rc;

    if (project_key(set->project, err) != 0) {
        return PG_POLICY_EINVAL;
    }
    if (set->n > PG_PINS_MAX_PUBLISHERS) {
        perr_set(err, PG_POLICY_ELIMIT, "pins-put", "more than %d "
            "publishers in one pin", PG_PINS_MAX_PUBLISHERS);
        return PG_POLICY_ELIMIT;
    }
    if (set->n == 0) {
        return pins_write(c, set->project, NULL, 0, err);
    }
    rc = pg_pins_to_json(set, &json, &len, err);
    if (rc != PG_POLICY_OK) {
        return rc;
    }
    rc = pins_write(c, set->project, json, len, err);
    free(json);
    return rc;
}

static int
same_publisher(const struct pg_publisher *a, const struct pg_publisher *b)
{
    char x[1024], y[1024];

    pg_publisher_format(a, x, sizeof(x));
    pg_publisher_format(b, y, sizeof(y));
    return strcmp(x, y) == 0
        || (pg_publisher_match(a, b) && pg_publisher_match(b, a));
}

int
pg_pins_add(struct pg_cache *c, const char *project,
    const struct pg_pin_entry *entry, int only_if_empty, int *added,
    struct pg_policy_err *err)
{
    struct pg_pin_set *set;
    size_t i;
    int rc;

    *added = 0;
    set = malloc(sizeof(*set));
    if (set == NULL) {
        perr_set(err, PG_POLICY_ENOMEM, "pins-add", "%s", "out of memory");
        return PG_POLICY_ENOMEM;
    }
    rc = pg_pins_get(c, project, set, err);
    if (rc != PG_POLICY_OK) {
        free(set);
        return rc;
    }
    if (only_if_empty && set->n > 0) {
        free(set);
        return PG_POLICY_OK;
    }
    for (i = 0; i < set->n; i++) {
        if (same_publisher(&set->e[i].publisher, &entry->publisher)) {
            free(set);
            return PG_POLICY_OK;
        }
    }
    if (set->n >= PG_PINS_MAX_PUBLISHERS) {
        free(set);
        perr_set(err, PG_POLICY_ELIMIT, "pins-add", "'%s' already has the "
            "maximum number of accepted publishers", project);
        return PG_POLICY_ELIMIT;
    }
    set->e[set->n++] = *entry;
    rc = pg_pins_put(c, set, err);
    free(set);
    if (rc == PG_POLICY_OK) {
        *added = 1;
    }
    return rc;
}

int
pg_pins_forget(struct pg_cache *c, const char *project, int *removed,
    struct pg_policy_err *err)
{
    struct pg_cache_err cerr;
    void *val = NULL;
    size_t len = 0;
    int rc;

    *removed = 0;
    if (project_key(project, err) != 0) {
        return PG_POLICY_EINVAL;
    }
    memset(&cerr, 0, sizeof(cerr));
    rc = pg_cache_get(c, PG_CACHE_DB_PINS, project, strlen(project), &val,
        &len, &cerr);
    if (rc == PG_CACHE_NOTFOUND) {
        return PG_POLICY_OK;
    }
    if (rc != PG_CACHE_OK) {
        return perr_cache(err, "pins-forget", &cerr);
    }
    free(val);
    rc = pins_write(c, project, NULL, 0, err);
    if (rc == PG_POLICY_OK) {
        *removed = 1;
    }
    return rc;
}

struct pins_iter_ctx {
    int (*fn)(void *arg, const struct pg_pin_set *set);
    void *arg;
    struct pg_pin_set *set;
    struct pg_policy_err *err;
    int rc;
    int stopped;
};

static int
on_pin_record(void *arg, const void *key, size_t klen, const void *val,
    size_t len)
{
    struct pins_iter_ctx *ctx = arg;
    char name[PG_POLICY_MAX_NAME + 1];

    ctx->rc = pg_pins_from_json(val, len, ctx->set, ctx->err);
    if (ctx->rc != PG_POLICY_OK) {
        snprintf(name, sizeof(name), "%.*s", (int) (klen < PG_POLICY_MAX_NAME
            ? klen : PG_POLICY_MAX_NAME), (const char *) key);
        /* Name the record in the (already filled) reason. */
        if (ctx->err != NULL) {
            size_t off = strlen(ctx->err->reason);

            snprintf(ctx->err->reason + off, sizeof(ctx->err->reason) - off,
                " (pin of '%s')", name);
        }
        return 1;
    }
    if (ctx->fn(ctx->arg, ctx->set) != 0) {
        ctx->stopped = 1;
        return 1;
    }
    return 0;
}

int
pg_pins_iter(struct pg_cache *c,
    int (*fn)(void *arg, const struct pg_pin_set *set), void *arg,
    struct pg_policy_err *err)
{
    struct pins_iter_ctx ctx;
    struct pg_cache_err cerr;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    ctx.fn = fn;
    ctx.arg = arg;
    ctx.err = err;
    ctx.set = malloc(sizeof(*ctx.set));
    if (ctx.set == NULL) {
        perr_set(err, PG_POLICY_ENOMEM, "pins-iter", "%s", "out of memory");
        return PG_POLICY_ENOMEM;
    }
    memset(&cerr, 0, sizeof(cerr));
    rc = pg_cache_iter(c, PG_CACHE_DB_PINS, NULL, 0, on_pin_record, &ctx,
        &cerr);
    free(ctx.set);
    if (ctx.rc != PG_POLICY_OK) {
        return ctx.rc;
    }
    if (rc != PG_CACHE_OK) {
        return perr_cache(err, "pins-iter", &cerr);
    }
    return PG_POLICY_OK;
}
