/* proxy/core/metrics.c — Prometheus metrics: a small registry and its text
 * exposition.
 *
 * A family (counter, gauge, histogram) is registered once with its label
 * names.  A child — one tuple of label values — is created the first time
 * the tuple is used and lives as long as the registry; a family holds at
 * most PG_METRICS_MAX_CHILDREN of them, and values for further tuples are
 * added to one overflow child whose every label is "other", so an
 * attacker who controls a label value (a project name) cannot grow memory.
 * Children are found through a small open-addressing table keyed by a hash
 * of the values, so an update costs a hash and a compare.  Label values
 * are made safe when the child is created: cut to PG_METRICS_MAX_VALUE
 * bytes at a UTF-8 boundary, invalid UTF-8 replaced by '?'; escaping
 * (backslash, quote, newline) happens when rendering.  Rendering follows
 * the text format 0.0.4: "# HELP" (escaped), "# TYPE", then samples;
 * histograms as cumulative _bucket{le} series ending in le="+Inf", then
 * _sum and _count.  Floats are printed with the fewest digits that read
 * back to the same double (%.15g, else %.17g), +Inf/-Inf/NaN as spelled.
 *
 * Updates and rendering may come from any loop thread (loops.c): one
 * process-wide mutex guards every child lookup, update and the rendering.
 * It is held for a hash and a compare, so it is uncontended in practice;
 * registering families (pg_metrics_add) happens before any loop runs.
 *
 * Owns: families, children, copies of names, help, label names, values.
 * Borrows: nothing (every argument is copied).
 * Runs on: any loop thread (updates, render); setup before the loops.
 * Spec: issue 2 item 6; Prometheus text exposition format 0.0.4.
 */
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics_int.h"

#define PG_METRICS_SLOTS 512    /* hash slots per family, > 2 * children */
#define PG_METRICS_OTHER "other"

static pthread_mutex_t pg_metrics_mu = PTHREAD_MUTEX_INITIALIZER;

_Static_assert(PG_METRICS_SLOTS >= 2 * PG_METRICS_MAX_CHILDREN,
    "hash table at most half full");

struct pg_metric_child {
    char *values[PG_METRICS_MAX_LABELS];
    double value;           /* counter, gauge */
    double sum;             /* histogram */
    uint64_t count;
    uint64_t *buckets;      /* per upper bound, not cumulative */
};

struct pg_metric {
    enum pg_metric_type type;
    char *name;
    char *help;
    char *labels[PG_METRICS_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    struct pg_metric_child *children[PG_METRICS_MAX_CHILDREN];
    size_t nchildren;
    struct pg_metric_child *other;
    int16_t slots[PG_METRICS_SLOTS];    /* child index + 1, 0 = empty */
};

struct pg_metrics {
    struct pg_metric *families[PG_METRICS_MAX_FAMILIES];
    size_t n;
};

static void family_free(struct pg_metric *f);

struct pg_metrics *
pg_metrics_new(void)
{
    return calloc(1, sizeof(struct pg_metrics));
}

static void
child_free(struct pg_metric_child *c)
{
    size_t i;

    if (c == NULL) {
        return;
    }
    for (i = 0; i < PG_METRICS_MAX_LABELS; i++) {
        free(c->values[i]);
    }
    free(c->buckets);
    free(c);
}

static void
family_free(struct pg_metric *f)
{
    size_t i;

    for (i = 0; i < f->nchildren; i++) {
        child_free(f->children[i]);
    }
    child_free(f->other);
    for (i = 0; i < f->nlabels; i++) {
        free(f->labels[i]);
    }
    free(f->bounds);
    free(f->name);
    free(f->help);
    free(f);
}

void
pg_metrics_free(struct pg_metrics *m)
{
    size_t i;

    if (m == NULL) {
        return;
    }
    for (i = 0; i < m->n; i++) {
        family_free(m->families[i]);
    }
    free(m);
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* (metric) or without ':' (label). */
static int
name_ok(const char *s, size_t len, int colon)
{
    size_t i;

    if (len == 0) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];

        if (!(isalpha(ch) || ch == '_' || (colon && ch == ':')
            || (i > 0 && isdigit(ch))))
        {
            return 0;
        }
    }
    return 1;
}

static int
ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);

    return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

/* Splits "a,b" into f->labels; -1 on a bad name. */
static int
parse_labels(struct pg_metric *f, const char *labels)
{
    const char *p = labels;
    size_t len;

    while (*p != '\0') {
        len = strcspn(p, ",");
        if (f->nlabels == PG_METRICS_MAX_LABELS || !name_ok(p, len, 0)
            || (len >= 2 && p[0] == '_' && p[1] == '_')
            || (f->type == PG_METRIC_HISTOGRAM && len == 2
            && memcmp(p, "le", 2) == 0))
        {
            return -1;
        }
        f->labels[f->nlabels] = strndup(p, len);
        if (f->labels[f->nlabels] == NULL) {
            return -1;
        }
        f->nlabels++;
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return -1;
            }
        }
    }
    return 0;
}

static struct pg_metric_child *child_new(struct pg_metric *f,
    char safe[][PG_METRICS_MAX_VALUE + 1]);

struct pg_metric *
pg_metrics_add(struct pg_metrics *m, enum pg_metric_type type,
    const char *name, const char *help, const char *labels,
    const double *buckets, size_t nbuckets)
{
    struct pg_metric *f;
    size_t i;

    if (m == NULL || name == NULL || m->n == PG_METRICS_MAX_FAMILIES
        || !name_ok(name, strlen(name), 1)
        || (type == PG_METRIC_COUNTER && !ends_with(name, "_total")))
    {
        return NULL;
    }
    for (i = 0; i < m->n; i++) {
        if (strcmp(m->families[i]->name, name) == 0) {
            return NULL;
        }
    }
    if (type == PG_METRIC_HISTOGRAM) {
        if (buckets == NULL || nbuckets == 0) {
            return NULL;
        }
        if (isinf(buckets[nbuckets - 1]) && buckets[nbuckets - 1] > 0) {
            nbuckets--;         /* +Inf is ours to add */
        }
        if (nbuckets == 0 || nbuckets > PG_METRICS_MAX_BUCKETS) {
            return NULL;
        }
        for (i = 0; i < nbuckets; i++) {
            if (isnan(buckets[i]) || isinf(buckets[i])
                || (i > 0 && !(buckets[i] > buckets[i - 1])))
            {
                return NULL;
            }
        }
    }
    f = calloc(1, sizeof(*f));
    if (f == NULL) {
        return NULL;
    }
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help != NULL ? help : "");
    if (f->name == NULL || f->help == NULL
        || (labels != NULL && parse_labels(f, labels) != 0))
    {
        goto fail;
    }
    if (type == PG_METRIC_HISTOGRAM) {
        f->bounds = malloc(nbuckets * sizeof(double));
        if (f->bounds == NULL) {
            goto fail;
        }
        memcpy(f->bounds, buckets, nbuckets * sizeof(double));
        f->nbounds = nbuckets;
    }
    /* a family without labels always shows its one sample */
    if (f->nlabels == 0 && child_new(f, NULL) == NULL) {
        goto fail;
    }
    m->families[m->n++] = f;
    return f;
fail:
    family_free(f);
    return NULL;
}

/* ---- children ---- */

/* Writes v into out (PG_METRICS_MAX_VALUE + 1 bytes) as a safe label
 * value: never cut inside a UTF-8 sequence, invalid bytes as '?'. */
static void
safe_value(const char *v, char *out)
{
    size_t i = 0, o = 0, k, n;
    const unsigned char *s = (const unsigned char *)(v != NULL ? v : "");

    while (s[i] != '\0') {
        n = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 && s[i] >= 0xc2 ? 2
            : (s[i] & 0xf0) == 0xe0 ? 3
            : (s[i] & 0xf8) == 0xf0 && s[i] <= 0xf4 ? 4 : 0;
        for (k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80) {
                n = 0;      /* also stops at the terminating NUL */
                break;
            }
        }
        if (n == 0) {
            if (o + 1 > PG_METRICS_MAX_VALUE) {
                break;
            }
            out[o++] = '?';
            i++;
            continue;
        }
        if (o + n > PG_METRICS_MAX_VALUE) {
            break;
        }
        memcpy(out + o, s + i, n);
        o += n;
        i += n;
    }
    out[o] = '\0';
}

static uint32_t
hash_values(const struct pg_metric *f,
    char safe[][PG_METRICS_MAX_VALUE + 1])
{
    uint32_t h = 2166136261u;
    const unsigned char *p;
    size_t i;

    for (i = 0; i < f->nlabels; i++) {
        for (p = (const unsigned char *)safe[i]; *p != '\0'; p++) {
            h = (h ^ *p) * 16777619u;
        }
        h = (h ^ 0xff) * 16777619u;
    }
    return h;
}

static int
child_matches(const struct pg_metric *f, const struct pg_metric_child *c,
    char safe[][PG_METRICS_MAX_VALUE + 1])
{
    size_t i;

    for (i = 0; i < f->nlabels; i++) {
        if (strcmp(c->values[i], safe[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

/* A new child with the given (already safe) values, or the overflow
 * child when safe is NULL. */
static struct pg_metric_child *
child_new(struct pg_metric *f, char safe[][PG_METRICS_MAX_VALUE + 1])
{
    struct pg_metric_child *c;
    size_t i;

    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        return NULL;
    }
    for (i = 0; i < f->nlabels; i++) {
        c->values[i] = strdup(safe != NULL ? safe[i] : PG_METRICS_OTHER);
        if (c->values[i] == NULL) {
            child_free(c);
            return NULL;
        }
    }
    if (f->type == PG_METRIC_HISTOGRAM) {
        c->buckets = calloc(f->nbounds, sizeof(uint64_t));
        if (c->buckets == NULL) {
            child_free(c);
            return NULL;
        }
    }
    if (safe == NULL && f->nlabels > 0) {
        f->other = c;
    } else {
        f->children[f->nchildren++] = c;
    }
    return c;
}

/* The child for values: found, created, or the overflow child.  NULL only
 * when memory runs out (the update is dropped). */
static struct pg_metric_child *
child_get(struct pg_metric *f, const char *const *values)
{
    char safe[PG_METRICS_MAX_LABELS][PG_METRICS_MAX_VALUE + 1];
    struct pg_metric_child *c;
    uint32_t slot;
    int16_t idx;
    size_t i;

    if (f->nlabels == 0) {
        return f->children[0];
    }
    for (i = 0; i < f->nlabels; i++) {
        safe_value(values != NULL ? values[i] : NULL, safe[i]);
    }
    slot = hash_values(f, safe) % PG_METRICS_SLOTS;
    for (;;) {
        idx = f->slots[slot];
        if (idx == 0) {
            break;
        }
        if (child_matches(f, f->children[idx - 1], safe)) {
            return f->children[idx - 1];
        }
        slot = (slot + 1) % PG_METRICS_SLOTS;
    }
    if (f->nchildren == PG_METRICS_MAX_CHILDREN) {
        return f->other != NULL ? f->other : child_new(f, NULL);
    }
    c = child_new(f, safe);
    if (c != NULL) {
        f->slots[slot] = (int16_t)f->nchildren;
    }
    return c;
}

void
pg_metric_inc(struct pg_metric *f, double v, const char *const *values)
{
    struct pg_metric_child *c;

    if (f == NULL || f->type == PG_METRIC_HISTOGRAM || isnan(v)
        || (f->type == PG_METRIC_COUNTER && v < 0))
    {
        return;
    }
    pthread_mutex_lock(&pg_metrics_mu);
    c = child_get(f, values);
    if (c != NULL) {
        c->value += v;
    }
    pthread_mutex_unlock(&pg_metrics_mu);
}

/* The sum of a counter's or gauge's children (the operator pages' totals:
 * hits, misses, upstream requests and errors). */
double
pg_metric_total(struct pg_metric *f)
{
    double t = 0;
    size_t i;

    if (f == NULL || f->type == PG_METRIC_HISTOGRAM) {
        return 0;
    }
    pthread_mutex_lock(&pg_metrics_mu);
    for (i = 0; i < f->nchildren; i++) {
        t += f->children[i]->value;
    }
    if (f->other != NULL) {
        t += f->other->value;
    }
    pthread_mutex_unlock(&pg_metrics_mu);
    return t;
}

void
pg_metric_set(struct pg_metric *f, double v, const char *const *values)
{
    struct pg_metric_child *c;

    if (f == NULL || f->type != PG_METRIC_GAUGE) {
        return;
    }
    pthread_mutex_lock(&pg_metrics_mu);
    c = child_get(f, values);
    if (c != NULL) {
        c->value = v;
    }
    pthread_mutex_unlock(&pg_metrics_mu);
}

void
pg_metric_observe(struct pg_metric *f, double v, const char *const *values)
{
    struct pg_metric_child *c;
    size_t i;

    if (f == NULL || f->type != PG_METRIC_HISTOGRAM || isnan(v)) {
        return;
    }
    pthread_mutex_lock(&pg_metrics_mu);
    c = child_get(f, values);
    if (c != NULL) {
        for (i = 0; i < f->nbounds; i++) {
            if (v <= f->bounds[i]) {
                c->buckets[i]++;
                break;
            }
        }
        c->count++;
        c->sum += v;
    }
    pthread_mutex_unlock(&pg_metrics_mu);
}

/* ---- rendering ---- */

static void
fmt_double(double v, char *out, size_t olen)
{
    if (isnan(v)) {
        snprintf(out, olen, "NaN");
    } else if (isinf(v)) {
        snprintf(out, olen, v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, olen, "%.15g", v);
        if (strtod(out, NULL) != v) {
            snprintf(out, olen, "%.17g", v);
        }
    }
}

/* Appends s with backslash and newline escaped (and '"' when quote). */
static void
add_escaped(struct evbuffer *out, const char *s, int quote)
{
    const char *p = s;
    size_t run;

    while (*p != '\0') {
        run = strcspn(p, quote ? "\\\n\"" : "\\\n");
        evbuffer_add(out, p, run);
        p += run;
        if (*p == '\0') {
            break;
        }
        evbuffer_add(out, *p == '\\' ? "\\\\" : *p == '\n' ? "\\n" : "\\\"",
            2);
        p++;
    }
}

/* name{l1="v1",…[,le="x"]} value */
static void
add_sample(struct evbuffer *out, const struct pg_metric *f,
    const struct pg_metric_child *c, const char *suffix, const char *le,
    const char *value)
{
    size_t i;

    evbuffer_add_printf(out, "%s%s", f->name, suffix);
    if (f->nlabels > 0 || le != NULL) {
        evbuffer_add(out, "{", 1);
        for (i = 0; i < f->nlabels; i++) {
            evbuffer_add_printf(out, "%s%s=\"", i > 0 ? "," : "",
                f->labels[i]);
            add_escaped(out, c->values[i], 1);
            evbuffer_add(out, "\"", 1);
        }
        if (le != NULL) {
            evbuffer_add_printf(out, "%sle=\"%s\"", f->nlabels > 0 ? ","
                : "", le);
        }
        evbuffer_add(out, "}", 1);
    }
    evbuffer_add_printf(out, " %s\n", value);
}

static void
render_child(struct evbuffer *out, const struct pg_metric *f,
    const struct pg_metric_child *c)
{
    char v[64], le[64];
    uint64_t cum = 0;
    size_t i;

    if (f->type != PG_METRIC_HISTOGRAM) {
        fmt_double(c->value, v, sizeof(v));
        add_sample(out, f, c, "", NULL, v);
        return;
    }
    for (i = 0; i < f->nbounds; i++) {
        cum += c->buckets[i];
        fmt_double(f->bounds[i], le, sizeof(le));
        snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
        add_sample(out, f, c, "_bucket", le, v);
    }
    snprintf(v, sizeof(v), "%llu", (unsigned long long)c->count);
    add_sample(out, f, c, "_bucket", "+Inf", v);
    fmt_double(c->sum, le, sizeof(le));
    add_sample(out, f, c, "_sum", NULL, le);
    add_sample(out, f, c, "_count", NULL, v);
}

void
pg_metrics_render(struct pg_metrics *m, struct evbuffer *out)
{
    static const char *const types[] = {
        [PG_METRIC_COUNTER] = "counter", [PG_METRIC_GAUGE] = "gauge",
        [PG_METRIC_HISTOGRAM] = "histogram",
    };
    const struct pg_metric *f;
    size_t i, j;

    pthread_mutex_lock(&pg_metrics_mu);
    for (i = 0; i < m->n; i++) {
        f = m->families[i];
        evbuffer_add_printf(out, "# HELP %s ", f->name);
        add_escaped(out, f->help, 0);
        evbuffer_add_printf(out, "\n# TYPE %s %s\n", f->name,
            types[f->type]);
        for (j = 0; j < f->nchildren; j++) {
            render_child(out, f, f->children[j]);
        }
        if (f->other != NULL) {
            render_child(out, f, f->other);
        }
    }
    pthread_mutex_unlock(&pg_metrics_mu);
}

int
pg_metrics_add_table(struct pg_metrics *m, const struct pg_metric_def *defs,
    size_t n, void *owner)
{
    struct pg_metric *f;
    size_t i;

    for (i = 0; i < n; i++) {
        f = pg_metrics_add(m, defs[i].type, defs[i].name, defs[i].help,
            defs[i].labels, defs[i].buckets, defs[i].nbuckets);
        if (f == NULL) {
            return -1;
        }
        memcpy((char *)owner + defs[i].field, &f, sizeof(f));
        if (defs[i].zero) {
            pg_metric_inc(f, 0, NULL);
        }
    }
    return 0;
}
