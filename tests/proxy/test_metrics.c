/* tests/proxy/test_metrics.c — the metrics registry and its exposition.
 *
 * Exact renderings of small registries (types, labels, escaping,
 * histogram buckets), the bounds (children, label value bytes, families,
 * buckets) at their limit and limit + 1, and the refusals of
 * pg_metrics_add.  "test_metrics --render FILE" writes a sample exposition
 * with every feature for promtool_check.sh; otherwise argv[1], if given,
 * is a cmocka test filter.
 *
 * Owns: its registries.  Runs on: the test process.
 * Spec: issue 2 item 6; proxy/metrics_int.h.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "metrics_int.h"

static const double buckets[] = { 0.005, 0.1, 1, 2.5 };

/* Renders m into a NUL-terminated malloc'd string. */
static char *
render(struct pg_metrics *m)
{
    struct evbuffer *b = evbuffer_new();
    size_t len;
    char *s;

    pg_metrics_render(m, b);
    len = evbuffer_get_length(b);
    s = malloc(len + 1);
    evbuffer_remove(b, s, len);
    s[len] = '\0';
    evbuffer_free(b);
    return s;
}

static void
exposition_has_help_type_and_samples(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    struct pg_metric *c, *g;
    const char *v1[] = { "page", "200" }, *v2[] = { "file", "404" };
    char *s;

    c = pg_metrics_add(m, PG_METRIC_COUNTER, "provgate_requests_total",
        "Requests by route and status", "route,status", NULL, 0);
    g = pg_metrics_add(m, PG_METRIC_GAUGE, "provgate_in_flight",
        "Requests in flight", NULL, NULL, 0);
    assert_non_null(c);
    assert_non_null(g);
    pg_metric_inc(c, 1, v1);
    pg_metric_inc(c, 2, v1);
    pg_metric_inc(c, 1, v2);
    pg_metric_inc(c, -5, v2);           /* counters never go down */
    pg_metric_inc(g, 3, NULL);
    pg_metric_inc(g, -1, NULL);
    pg_metric_observe(g, 7, NULL);      /* wrong type: ignored */
    s = render(m);
    assert_string_equal(s,
        "# HELP provgate_requests_total Requests by route and status\n"
        "# TYPE provgate_requests_total counter\n"
        "provgate_requests_total{route=\"page\",status=\"200\"} 3\n"
        "provgate_requests_total{route=\"file\",status=\"404\"} 1\n"
        "# HELP provgate_in_flight Requests in flight\n"
        "# TYPE provgate_in_flight gauge\n"
        "provgate_in_flight 2\n");
    free(s);
    pg_metrics_free(m);
}

static void
histogram_has_cumulative_buckets_inf_sum_and_count(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    struct pg_metric *h;
    const char *v[] = { "page" };
    char *s;

    h = pg_metrics_add(m, PG_METRIC_HISTOGRAM, "provgate_seconds",
        "Latency", "route", buckets, 4);
    assert_non_null(h);
    pg_metric_observe(h, 0.005, v);     /* le is inclusive */
    pg_metric_observe(h, 0.05, v);
    pg_metric_observe(h, 0.1, v);
    pg_metric_observe(h, 3, v);         /* only +Inf */
    pg_metric_observe(h, NAN, v);       /* ignored */
    s = render(m);
    assert_string_equal(s,
        "# HELP provgate_seconds Latency\n"
        "# TYPE provgate_seconds histogram\n"
        "provgate_seconds_bucket{route=\"page\",le=\"0.005\"} 1\n"
        "provgate_seconds_bucket{route=\"page\",le=\"0.1\"} 3\n"
        "provgate_seconds_bucket{route=\"page\",le=\"1\"} 3\n"
        "provgate_seconds_bucket{route=\"page\",le=\"2.5\"} 3\n"
        "provgate_seconds_bucket{route=\"page\",le=\"+Inf\"} 4\n"
        "provgate_seconds_sum{route=\"page\"} 3.155\n"
        "provgate_seconds_count{route=\"page\"} 4\n");
    free(s);
    pg_metrics_free(m);
}

static void
unlabelled_histogram_renders_before_any_observation(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    const double inf_last[] = { 1, INFINITY };
    char *s;

    assert_non_null(pg_metrics_add(m, PG_METRIC_HISTOGRAM, "x_seconds",
        "X", NULL, inf_last, 2));
    s = render(m);
    assert_string_equal(s,
        "# HELP x_seconds X\n# TYPE x_seconds histogram\n"
        "x_seconds_bucket{le=\"1\"} 0\nx_seconds_bucket{le=\"+Inf\"} 0\n"
        "x_seconds_sum 0\nx_seconds_count 0\n");
    free(s);
    pg_metrics_free(m);
}

static void
label_values_and_help_are_escaped(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    struct pg_metric *c;
    const char *v[] = { "a\\b\"c\nd" };
    char *s;

    c = pg_metrics_add(m, PG_METRIC_COUNTER, "e_total",
        "Help with \\ and\nnewline and \"quotes\"", "k", NULL, 0);
    pg_metric_inc(c, 1, v);
    s = render(m);
    assert_string_equal(s,
        "# HELP e_total Help with \\\\ and\\nnewline and \"quotes\"\n"
        "# TYPE e_total counter\n"
        "e_total{k=\"a\\\\b\\\"c\\nd\"} 1\n");
    free(s);
    pg_metrics_free(m);
}

static void
floats_render_shortest_and_special_values(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    struct pg_metric *g;
    const char *a[] = { "a" }, *b[] = { "b" }, *c[] = { "c" }, *d[] = { "d" };
    char *s;

    g = pg_metrics_add(m, PG_METRIC_GAUGE, "g", "G", "k", NULL, 0);
    pg_metric_set(g, 0.1, a);
    pg_metric_set(g, INFINITY, b);
    pg_metric_set(g, 1e21, c);
    pg_metric_set(g, 1.0 / 3.0, d);
    s = render(m);
    assert_string_equal(s, "# HELP g G\n# TYPE g gauge\n"
        "g{k=\"a\"} 0.1\ng{k=\"b\"} +Inf\ng{k=\"c\"} 1e+21\n"
        "g{k=\"d\"} 0.33333333333333331\n");
    free(s);
    pg_metrics_free(m);
}

static void
children_are_bounded_and_overflow_goes_to_other(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    struct pg_metric *c;
    char name[32], *s, *p;
    const char *v[1] = { name };
    int i, lines = 0;

    c = pg_metrics_add(m, PG_METRIC_COUNTER, "p_total", "P", "project",
        NULL, 0);
    for (i = 0; i < PG_METRICS_MAX_CHILDREN; i++) {
        snprintf(name, sizeof(name), "proj%d", i);
        pg_metric_inc(c, 1, v);
    }
    /* the limit: every tuple has its own child */
    snprintf(name, sizeof(name), "proj%d", PG_METRICS_MAX_CHILDREN - 1);
    pg_metric_inc(c, 1, v);
    /* limit + 1 and beyond: "other" */
    for (i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "new%d", i);
        pg_metric_inc(c, 1, v);
    }
    s = render(m);
    for (p = s; *p != '\0'; p++) {
        lines += *p == '\n';
    }
    assert_int_equal(lines, 2 + PG_METRICS_MAX_CHILDREN + 1);
    assert_non_null(strstr(s, "p_total{project=\"proj255\"} 2\n"));
    assert_non_null(strstr(s, "p_total{project=\"other\"} 10\n"));
    assert_null(strstr(s, "new0"));
    free(s);
    pg_metrics_free(m);
}

static void
label_values_are_cut_at_the_limit_on_utf8_boundaries(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    struct pg_metric *g;
    char val[PG_METRICS_MAX_VALUE + 8], want[PG_METRICS_MAX_VALUE + 64];
    const char *v[1] = { val };
    char *s;

    g = pg_metrics_add(m, PG_METRIC_GAUGE, "l", "L", "k", NULL, 0);
    /* exactly the limit: kept whole */
    memset(val, 'a', PG_METRICS_MAX_VALUE);
    val[PG_METRICS_MAX_VALUE] = '\0';
    pg_metric_set(g, 1, v);
    /* limit + 1: cut to the limit, same child */
    val[PG_METRICS_MAX_VALUE] = 'a';
    val[PG_METRICS_MAX_VALUE + 1] = '\0';
    pg_metric_inc(g, 1, v);
    s = render(m);
    memset(val, 'a', PG_METRICS_MAX_VALUE);
    val[PG_METRICS_MAX_VALUE] = '\0';
    snprintf(want, sizeof(want), "# HELP l L\n# TYPE l gauge\nl{k=\"%s\"} 2\n",
        val);
    assert_string_equal(s, want);
    free(s);

    /* a 2-byte character straddling the limit is dropped whole */
    memset(val, 'b', PG_METRICS_MAX_VALUE - 1);
    memcpy(val + PG_METRICS_MAX_VALUE - 1, "\xc3\xa9", 3);
    pg_metric_set(g, 5, v);
    s = render(m);
    val[PG_METRICS_MAX_VALUE - 1] = '\0';
    snprintf(want, sizeof(want), "l{k=\"%s\"} 5\n", val);
    assert_non_null(strstr(s, want));
    free(s);

    /* invalid UTF-8 becomes '?' */
    memcpy(val, "x\xff\xc3(\xe2\x82\xac", 8);
    pg_metric_set(g, 6, v);
    s = render(m);
    assert_non_null(strstr(s, "l{k=\"x?\?(\xe2\x82\xac\"} 6\n"));
    free(s);
    pg_metrics_free(m);
}

static void
registration_refuses_bad_families(void **state)
{
    struct pg_metrics *m = pg_metrics_new();
    double many[PG_METRICS_MAX_BUCKETS + 1];
    const double unsorted[] = { 1, 0.5 };
    char name[32];
    int i;

    for (i = 0; i <= PG_METRICS_MAX_BUCKETS; i++) {
        many[i] = i + 1;
    }
    assert_null(pg_metrics_add(m, PG_METRIC_COUNTER, "no_suffix", "h",
        NULL, NULL, 0));
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "9bad", "h", NULL, NULL,
        0));
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "bad-name", "h", NULL,
        NULL, 0));
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "g", "h", "a,b-c", NULL,
        0));
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "g", "h", "__x", NULL,
        0));
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "g", "h", "a,", NULL,
        0));
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "g", "h", "a,b,c,d,e",
        NULL, 0));
    assert_non_null(pg_metrics_add(m, PG_METRIC_GAUGE, "g4", "h", "a,b,c,d",
        NULL, 0));
    assert_null(pg_metrics_add(m, PG_METRIC_HISTOGRAM, "h", "h", "le",
        many, 1));
    assert_null(pg_metrics_add(m, PG_METRIC_HISTOGRAM, "h", "h", NULL,
        unsorted, 2));
    assert_null(pg_metrics_add(m, PG_METRIC_HISTOGRAM, "h", "h", NULL,
        NULL, 0));
    assert_null(pg_metrics_add(m, PG_METRIC_HISTOGRAM, "h", "h", NULL,
        many, PG_METRICS_MAX_BUCKETS + 1));
    assert_non_null(pg_metrics_add(m, PG_METRIC_HISTOGRAM, "h", "h", NULL,
        many, PG_METRICS_MAX_BUCKETS));
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "h", "dup", NULL, NULL,
        0));
    /* families: the limit, then limit + 1 */
    for (i = 2; i < PG_METRICS_MAX_FAMILIES; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        assert_non_null(pg_metrics_add(m, PG_METRIC_GAUGE, name, "h", NULL,
            NULL, 0));
    }
    assert_null(pg_metrics_add(m, PG_METRIC_GAUGE, "one_more", "h", NULL,
        NULL, 0));
    pg_metric_inc(NULL, 1, NULL);       /* a failed registration's NULL */
    pg_metrics_free(m);
}

/* Every feature promtool should see: counters with and without labels,
 * gauges, histograms with and without labels, escapes, overflow. */
static int
render_sample(const char *path)
{
    static const double lat[] = {
        0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
    };
    struct pg_metrics *m = pg_metrics_new();
    struct pg_metric *req, *dur, *inflight, *bytes, *mism, *hits, *blob;
    const char *lv[2];
    char name[32], *s;
    FILE *f;
    int i;

    req = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_requests_total", "HTTP requests answered, by route "
        "and status", "route,status", NULL, 0);
    dur = pg_metrics_add(m, PG_METRIC_HISTOGRAM,
        "provgate_http_request_duration_seconds", "Time to answer, by route",
        "route", lat, 13);
    inflight = pg_metrics_add(m, PG_METRIC_GAUGE,
        "provgate_http_requests_in_flight", "Requests being served", NULL,
        NULL, 0);
    bytes = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_http_response_bytes_total", "Body bytes sent", "route",
        NULL, 0);
    mism = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_hash_mismatches_total", "Files whose sha256 did not "
        "match\nthe index (\\ escaped)", NULL, NULL, 0);
    hits = pg_metrics_add(m, PG_METRIC_COUNTER,
        "provgate_cache_hits_total", "Cache hits by project", "project",
        NULL, 0);
    blob = pg_metrics_add(m, PG_METRIC_HISTOGRAM,
        "provgate_upstream_request_duration_seconds", "Upstream time", NULL,
        lat, 13);
    if (req == NULL || dur == NULL || inflight == NULL || bytes == NULL
        || mism == NULL || hits == NULL || blob == NULL)
    {
        return 1;
    }
    for (i = 0; i < 50; i++) {
        lv[0] = i % 3 == 0 ? "page" : i % 3 == 1 ? "file" : "metrics";
        lv[1] = i % 7 == 0 ? "404" : "200";
        pg_metric_inc(req, 1, lv);
        pg_metric_observe(dur, i * 0.013, lv);
        pg_metric_inc(bytes, i * 1000.0, lv);
        pg_metric_observe(blob, i * 0.7, NULL);
    }
    pg_metric_inc(inflight, 2, NULL);
    pg_metric_inc(mism, 1, NULL);
    lv[0] = "we\"ird\\na\nme \xff";
    pg_metric_inc(hits, 1, lv);
    for (i = 0; i < PG_METRICS_MAX_CHILDREN + 5; i++) {
        snprintf(name, sizeof(name), "project-%d", i);
        lv[0] = name;
        pg_metric_inc(hits, 1, lv);
    }
    s = render(m);
    f = fopen(path, "w");
    if (f == NULL) {
        free(s);
        pg_metrics_free(m);
        return 1;
    }
    fputs(s, f);
    fclose(f);
    free(s);
    pg_metrics_free(m);
    return 0;
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exposition_has_help_type_and_samples),
        cmocka_unit_test(histogram_has_cumulative_buckets_inf_sum_and_count),
        cmocka_unit_test(unlabelled_histogram_renders_before_any_observation),
        cmocka_unit_test(label_values_and_help_are_escaped),
        cmocka_unit_test(floats_render_shortest_and_special_values),
        cmocka_unit_test(children_are_bounded_and_overflow_goes_to_other),
        cmocka_unit_test(
            label_values_are_cut_at_the_limit_on_utf8_boundaries),
        cmocka_unit_test(registration_refuses_bad_families),
    };

    if (argc > 2 && strcmp(argv[1], "--render") == 0) {
        return render_sample(argv[2]);
    }
    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
