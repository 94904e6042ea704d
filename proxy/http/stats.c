/* proxy/http/stats.c — the serving layer's metric families and counters.
 *
 * The families every request, page and download counts in are rows of one
 * table (name, help, labels, where the family pointer goes in struct
 * pg_server), registered at start by pg_stats_add through
 * pg_metrics_add_table, as config.c's directives are rows.  Routes count
 * cache outcomes (pg_stats_cache_event) and upstream outcomes
 * (pg_stats_upstream_done) here, not through the server.
 *
 * Owns: nothing (the families are the registry's).  Runs on: loop.
 * Spec: issue 2 item 6.
 */
#include <stddef.h>
#include <string.h>

#include "metrics_int.h"
#include "server_int.h"

static const double pg_latency_buckets[] = {
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define N_BUCKETS (sizeof(pg_latency_buckets) / sizeof(pg_latency_buckets[0]))

/* Rows: type, name, help, labels, buckets, zero (a label-less family a
 * scrape shows as 0 from the start), the field of struct pg_server. */
static const struct pg_metric_def stats_metrics[] = {
    { PG_METRIC_COUNTER, "provgate_http_requests_total",
      "HTTP requests answered, by route and status",
      "route,status", NULL, 0, 0,
      offsetof(struct pg_server, m_requests) },
    { PG_METRIC_HISTOGRAM, "provgate_http_request_duration_seconds",
      "Time from request to reply queued, by route",
      "route",
      pg_latency_buckets, N_BUCKETS, 0,
      offsetof(struct pg_server, m_duration) },
    { PG_METRIC_GAUGE, "provgate_http_requests_in_flight",
      "HTTP requests being served",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_inflight) },
    { PG_METRIC_COUNTER, "provgate_http_response_bytes_total",
      "Response body bytes sent, by route",
      "route", NULL, 0, 0,
      offsetof(struct pg_server, m_bytes) },
    { PG_METRIC_COUNTER, "provgate_cache_hits_total",
      "Requests answered from the cache, by kind (page, list, file, "
      "metadata)",
      "kind", NULL, 0, 0,
      offsetof(struct pg_server, m_hits) },
    { PG_METRIC_COUNTER, "provgate_cache_misses_total",
      "Requests that needed the upstream, by kind",
      "kind", NULL, 0, 0,
      offsetof(struct pg_server, m_misses) },
    { PG_METRIC_COUNTER, "provgate_cache_stale_served_total",
      "Stale pages served because the upstream failed, by kind",
      "kind", NULL, 0, 0,
      offsetof(struct pg_server, m_stale) },
    { PG_METRIC_COUNTER, "provgate_upstream_requests_total",
      "Upstream requests started, by kind",
      "kind", NULL, 0, 0,
      offsetof(struct pg_server, m_up_requests) },
    { PG_METRIC_COUNTER, "provgate_upstream_errors_total",
      "Upstream requests that failed, by kind and reason",
      "kind,reason", NULL, 0, 0,
      offsetof(struct pg_server, m_up_errors) },
    { PG_METRIC_HISTOGRAM, "provgate_upstream_request_duration_seconds",
      "Upstream request time, by kind",
      "kind",
      pg_latency_buckets, N_BUCKETS, 0,
      offsetof(struct pg_server, m_up_duration) },
    { PG_METRIC_GAUGE, "provgate_blob_store_bytes",
      "Bytes of committed blobs",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_blob_bytes) },
    { PG_METRIC_GAUGE, "provgate_blob_store_blobs",
      "Committed blobs",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_blob_count) },
    { PG_METRIC_COUNTER, "provgate_blob_store_evictions_total",
      "Blobs evicted (least recently used, over cache_max_bytes)",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_evictions) },
    { PG_METRIC_GAUGE, "provgate_index_pages_in_memory",
      "Rendered index pages held in memory",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_pages_mem) },
    { PG_METRIC_GAUGE, "provgate_index_pages_memory_bytes",
      "Memory the index pages in memory take (models and bodies not on "
      "disk; capped by page_cache_max_bytes)",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_pages_bytes) },
    { PG_METRIC_GAUGE, "provgate_file_downloads_in_flight",
      "Upstream file downloads in progress or being committed",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_downloads) },
    { PG_METRIC_GAUGE, "provgate_http_connections_open",
      "Client connections open (counted against max_connections)",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_conns) },
    { PG_METRIC_COUNTER, "provgate_http_connections_refused_total",
      "Client connections closed at accept because max_connections were "
      "open",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_conns_refused) },
    { PG_METRIC_COUNTER, "provgate_http_send_timeouts_total",
      "Client connections closed because the client read nothing of its "
      "answer for client_timeout",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_send_timeouts) },
    { PG_METRIC_COUNTER, "provgate_http_client_limit_refused_total",
      "Client connections closed at accept because their address had "
      "max_client_connections open",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_client_limit) },
    { PG_METRIC_COUNTER, "provgate_http_header_timeouts_total",
      "Client connections closed because a request head did not all "
      "arrive within client_header_timeout",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_header_timeouts) },
    { PG_METRIC_COUNTER, "provgate_http_idle_closed_total",
      "Idle keep-alive client connections closed to make room at "
      "max_connections",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_idle_closed) },
    { PG_METRIC_COUNTER, "provgate_http_clients_refused_total",
      "Requests refused (403) because the client address is not in "
      "allow_clients",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_clients_refused) },
    { PG_METRIC_COUNTER, "provgate_auth_refused_total",
      "Requests refused with 401: no, a wrong, an expired or a revoked "
      "client token (auth = token), or no metrics token on /metrics",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_auth_refused) },
    { PG_METRIC_COUNTER, "provgate_auth_rate_limited_total",
      "Requests refused with 429 because their address made "
      "auth_max_failures failed authentications within a minute",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_auth_limited) },
    { PG_METRIC_COUNTER, "provgate_index_jobs_total",
      "Index page work handed off the event loop, by step (load, parse, "
      "render, touch) and the thread it ran on (worker; loop only when no"
      " worker could take it)",
      "step,thread", NULL, 0, 0,
      offsetof(struct pg_server, m_page_jobs) },
    { PG_METRIC_HISTOGRAM, "provgate_index_job_duration_seconds",
      "Time index page work took on its thread, by step",
      "step",
      pg_latency_buckets, N_BUCKETS, 0,
      offsetof(struct pg_server, m_page_job_seconds) },
    { PG_METRIC_COUNTER, "provgate_hash_mismatches_total",
      "Upstream files whose sha256 did not match the index",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_mismatch) },
    { PG_METRIC_COUNTER, "provgate_index_entries_dropped_total",
      "Malformed file entries left out of upstream project pages (the "
      "rest was served)",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_entries_dropped) },
    { PG_METRIC_COUNTER, "provgate_loop_requests_total",
      "Client requests each loop took (loop 0: the main loop, serve_loops"
      " = 1; 1 and up: serving threads)",
      "loop", NULL, 0, 0,
      offsetof(struct pg_server, m_loop_requests) },
    { PG_METRIC_COUNTER, "provgate_loop_hot_hits_total",
      "Requests answered from the hot table (cached hits the main loop "
      "published), by loop",
      "loop", NULL, 0, 0,
      offsetof(struct pg_server, m_hot_hits) },
    { PG_METRIC_GAUGE, "provgate_hot_table_entries",
      "Cached hits the serving threads may answer (the hot table)",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_hot_entries) },
    { PG_METRIC_GAUGE, "provgate_hot_table_bytes",
      "Memory the hot table's entries hold (page bodies, file sizes; "
      "capped by hot_table_max_bytes)",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_hot_bytes) },
    { PG_METRIC_COUNTER, "provgate_hot_table_evictions_total",
      "Hot table entries dropped to stay within its bounds, least "
      "recently used first",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_hot_evictions) },
    { PG_METRIC_COUNTER, "provgate_loop_relayed_requests_total",
      "Requests serving threads relayed to the main loop (misses, stale "
      "pages, refusals, metrics)",
      NULL, NULL, 0, 1,
      offsetof(struct pg_server, m_relayed) },
    { PG_METRIC_COUNTER, "provgate_blob_damaged_total",
      "Cached files whose bytes on disk were not their sha256, removed "
      "(fetched again), by what found them (serve: the re-hash before "
      "first serve, scrub)",
      "found", NULL, 0, 0,
      offsetof(struct pg_server, m_blob_damaged) },
    { PG_METRIC_COUNTER, "provgate_blob_rehash_bytes_total",
      "Bytes of cached files re-hashed, by what for (serve: before first "
      "serve, scrub)",
      "by", NULL, 0, 0,
      offsetof(struct pg_server, m_rehash_bytes) },
    { PG_METRIC_HISTOGRAM, "provgate_blob_rehash_duration_seconds",
      "Time a request waited for the re-hash of a cached file before this"
      " process first served it",
      NULL,
      pg_latency_buckets, N_BUCKETS, 0,
      offsetof(struct pg_server, m_rehash_seconds) },
    { PG_METRIC_GAUGE, "provgate_cache_full",
      "1 while the cache disk cannot take files (they are served hash-"
      "checked, not cached), else 0",
      NULL, NULL, 0, 0,
      offsetof(struct pg_server, m_cache_full) },
};

int
pg_stats_add(struct pg_server *s)
{
    return pg_metrics_add_table(s->metrics, stats_metrics,
        sizeof(stats_metrics) / sizeof(stats_metrics[0]), s);
}

void
pg_stats_upstream_done(struct pg_server *s, const char *kind,
    const char *error, int64_t t0_ms)
{
    const char *lv[2];

    lv[0] = kind;
    lv[1] = error;
    pg_metric_inc(s->m_up_requests, 1, lv);
    pg_metric_observe(s->m_up_duration,
        (double)(pg_now_ms() - t0_ms) / 1000.0, lv);
    if (error != NULL) {
        pg_metric_inc(s->m_up_errors, 1, lv);
    }
}

void
pg_stats_cache_event(struct pg_server *s, const char *kind,
    const char *what)
{
    const char *lv[1];

    lv[0] = kind;
    if (strcmp(what, "hit") == 0) {
        pg_metric_inc(s->m_hits, 1, lv);
    } else if (strcmp(what, "miss") == 0) {
        pg_metric_inc(s->m_misses, 1, lv);
    } else if (strcmp(what, "stale") == 0) {
        pg_metric_inc(s->m_stale, 1, lv);
    }
}

void
pg_stats_entries_dropped(struct pg_server *s, size_t n)
{
    pg_metric_inc(s->m_entries_dropped, (double)n, NULL);
}

void
pg_stats_page_job(struct pg_server *s, const char *step, const char *thread,
    double seconds)
{
    const char *lv[2];

    lv[0] = step;
    lv[1] = thread;
    pg_metric_inc(s->m_page_jobs, 1, lv);
    pg_metric_observe(s->m_page_job_seconds, seconds, lv);
}

void
pg_stats_mismatch(struct pg_server *s)
{
    pg_metric_inc(s->m_mismatch, 1, NULL);
}
