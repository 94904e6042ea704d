/* proxy/core/metrics_int.h — Prometheus metrics: a small registry.
 *
 * Families (counter, gauge, histogram) are registered at start with their
 * label names; children are created on first use of a label-value tuple
 * (bounded: at most PG_METRICS_MAX_CHILDREN per family, beyond which values
 * land in a child labelled "other").  Rendering follows the text exposition
 * format 0.0.4 and passes `promtool check metrics` (provgate_ prefix,
 * _total counters, base units: seconds, bytes).
 *
 * Owns: its families and children.  Runs on: loop (not thread-safe; worker
 * threads post results back to the loop, which updates metrics).
 */
#ifndef PG_METRICS_INT_H
#define PG_METRICS_INT_H

#include <stddef.h>

#define PG_METRICS_MAX_CHILDREN 256
#define PG_METRICS_MAX_LABELS 4
#define PG_METRICS_MAX_FAMILIES 128     /* pg_metrics_add refuses more */
#define PG_METRICS_MAX_BUCKETS 32       /* histogram upper bounds */
#define PG_METRICS_MAX_VALUE 128        /* bytes of a label value; longer
                                           values are cut (at a UTF-8
                                           boundary), invalid UTF-8 bytes
                                           become '?' */

struct evbuffer;
struct pg_metrics;
struct pg_metric;

enum pg_metric_type { PG_METRIC_COUNTER, PG_METRIC_GAUGE,
    PG_METRIC_HISTOGRAM };

struct pg_metrics *pg_metrics_new(void);
void pg_metrics_free(struct pg_metrics *m);

/* labels: comma-separated label names ("route,status") or NULL.
 * buckets: upper bounds for histograms (ascending), else NULL/0; +Inf is
 * added by the registry.  Returns NULL (registers nothing) for an invalid
 * or duplicate name, bad label names ("le" on a histogram, "__" prefix),
 * a counter not ending in _total, unsorted buckets, or no memory: all
 * programming errors, found by the first test that registers them.
 * name, help, labels and buckets are copied. */
struct pg_metric *pg_metrics_add(struct pg_metrics *m,
    enum pg_metric_type type, const char *name, const char *help,
    const char *labels, const double *buckets, size_t nbuckets);

/* One family as a table row (registered by its owner at start). */
struct pg_metric_def {
    enum pg_metric_type type;
    const char *name, *help;
    const char *labels;                 /* as pg_metrics_add */
    const double *buckets;              /* histograms, else NULL */
    size_t nbuckets;
    int zero;                           /* label-less: a scrape shows 0
                                           from the start */
    size_t field;                       /* offsetof the struct pg_metric *
                                           in the owner's struct */
};

/* Registers every row, storing each family at (char *)owner + field; -1
 * if one is refused (as pg_metrics_add). */
int pg_metrics_add_table(struct pg_metrics *m,
    const struct pg_metric_def *defs, size_t n, void *owner);

/* Label values in the order of the family's label names (as many as it
 * has; NULL or a NULL entry = "").  Counter: adds v (v < 0 or NaN is
 * ignored).  Gauge: pg_metric_set sets, pg_metric_inc adds (may be
 * negative).  Histogram: pg_metric_observe.  A call that does not fit the
 * family's type is ignored.  f may be NULL (ignored). */
void pg_metric_inc(struct pg_metric *f, double v, const char *const *values);
void pg_metric_set(struct pg_metric *f, double v, const char *const *values);
void pg_metric_observe(struct pg_metric *f, double v,
    const char *const *values);

/* Sum over every label set of a counter or gauge (0 for a histogram). */
double pg_metric_total(struct pg_metric *f);

/* Appends the whole exposition to out. */
void pg_metrics_render(struct pg_metrics *m, struct evbuffer *out);

#endif
