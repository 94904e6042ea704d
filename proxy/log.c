/* proxy/log.c — the access log and the server's event lines.
 *
 * One line per request, written by pg_req_finish through pg_log_access:
 *   <UTC time> <client> <method> <path> <status> <bytes> <ms>ms <cache>
 *   ["note"]
 * where cache is hit, miss, revalidated, stale, wait or "-".  Event lines
 * (a stale page served, a hash mismatch, a failed commit) start with
 * "provgate: " on the same stream.  Each line is one fputs + fflush of a
 * line-buffered stream (the cost nginx's access log also pays on its loop).
 *
 * Owns: the log FILE when it is not stderr.  Runs on: loop.
 * Spec: issue 2 item 2 ("one log line per request").
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "server_int.h"

static FILE *
log_stream(struct pg_server *s)
{
    return s->access_log != NULL ? (FILE *)s->access_log : stderr;
}

int
pg_log_open(struct pg_server *s, const char *path)
{
    FILE *f;

    s->access_log = NULL;
    if (path == NULL || strcmp(path, "-") == 0) {
        return 0;
    }
    f = fopen(path, "ae");
    if (f == NULL) {
        return -1;
    }
    setvbuf(f, NULL, _IOLBF, 0);
    s->access_log = f;
    return 0;
}

void
pg_log_close(struct pg_server *s)
{
    if (s->access_log != NULL) {
        fclose((FILE *)s->access_log);
        s->access_log = NULL;
    }
}

static void
timestamp(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, outlen, "-");
    }
}

void
pg_log(struct pg_server *s, const char *fmt, ...)
{
    char line[1024], ts[32];
    va_list ap;
    int n;

    timestamp(ts, sizeof(ts));
    n = snprintf(line, sizeof(line), "%s provgate: ", ts);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(log_stream(s), "%s\n", line);
    fflush(log_stream(s));
}

void
pg_log_access(struct pg_server *s, const struct pg_req *r, double ms)
{
    char ts[32];
    FILE *f = log_stream(s);

    timestamp(ts, sizeof(ts));
    if (r->note[0] != '\0') {
        fprintf(f, "%s %s %s %.400s %d %llu %.1fms %s \"%s\"\n", ts,
            r->client, r->method, r->path != NULL ? r->path : "-",
            r->status, (unsigned long long)r->bytes, ms, r->cache, r->note);
    } else {
        fprintf(f, "%s %s %s %.400s %d %llu %.1fms %s\n", ts, r->client,
            r->method, r->path != NULL ? r->path : "-", r->status,
            (unsigned long long)r->bytes, ms, r->cache);
    }
    fflush(f);
}
