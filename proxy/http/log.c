/* proxy/http/log.c — the access log and the server's event lines.
 *
 * One line per request, written by pg_req_finish through pg_log_access:
 *   <UTC time> <client> <method> <path> <status> <bytes> <ms>ms <cache>
 *   [user=<token name>] ["note"]
 * where cache is hit, miss, revalidated, stale, wait or "-", and the user
 * the name of the client's token (auth = token; never the token).  Event lines
 * (a stale page served, a hash mismatch, a failed commit) start with
 * "provgate: " on the same stream.
 *
 * Buffering (config-free, like nginx's `access_log … buffer=64k flush=1s`
 * for files): when access_log is a file, access lines are appended to a
 * PG_LOG_BUFFER-byte buffer and written with one write(2) when the next
 * line would not fit, PG_LOG_FLUSH_S after the first line buffered (a
 * one-shot timer on the loop), before any event line, and at close (clean
 * shutdown).  Lines are never split across writes.  A crash loses at most
 * the last PG_LOG_FLUSH_S of access lines.  When access_log is stderr
 * ("-", the default: a terminal, journald or a test reading it) every line
 * is written at once.  Event lines are always written at once.
 *
 * Every loop thread (the main loop, the serving threads of front.c)
 * writes here: lines are formatted outside
 * any lock (the once-a-second timestamp is cached per thread), then a
 * mutex in struct pg_alog guards the buffer and the writes, so lines from
 * two loops never interleave.  The flush timer is a one-shot event on the
 * main loop's base (libevent is set up for threads: adding it from another
 * loop's thread is safe).
 *
 * Owns: struct pg_alog (s->access_log) and the log file's fd.
 * Runs on: any loop thread (pg_log also before the loops exist and after
 * they ended).
 * Spec: issue 2 item 2 ("one log line per request"), issue 2 benchmark.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "server_int.h"

#define PG_LOG_BUFFER (64 * 1024)   /* buffered access-log bytes */
#define PG_LOG_FLUSH_S 1            /* buffered lines written within this */
#define PG_LOG_LINE_MAX 1024        /* one line (longer: cut) */

struct pg_alog {
    pthread_mutex_t mu;             /* everything below */
    int fd;
    int own;                        /* fd is ours to close */
    int buffered;                   /* a file: buffer access lines */
    int scheduled;                  /* flush timer pending */
    size_t len;
    char buf[PG_LOG_BUFFER];
};

static void
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;     /* nowhere to report it: the log is the report */
        }
        p += w;
        n -= (size_t)w;
    }
}

static void
alog_flush(struct pg_alog *a)
{
    if (a->len > 0) {
        write_all(a->fd, a->buf, a->len);
        a->len = 0;
    }
}

int
pg_log_open(struct pg_server *s, const char *path)
{
    struct pg_alog *a = calloc(1, sizeof(*a));

    s->access_log = NULL;
    if (a == NULL) {
        errno = ENOMEM;
        return -1;
    }
    a->fd = STDERR_FILENO;
    if (path != NULL && strcmp(path, "-") != 0) {
        a->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (a->fd < 0) {
            int e = errno;

            free(a);
            errno = e;
            return -1;
        }
        a->own = 1;
        a->buffered = 1;
    }
    pthread_mutex_init(&a->mu, NULL);
    s->access_log = a;
    return 0;
}

void
pg_log_close(struct pg_server *s)
{
    struct pg_alog *a = s->access_log;

    if (a == NULL) {
        return;
    }
    pthread_mutex_lock(&a->mu);
    alog_flush(a);
    pthread_mutex_unlock(&a->mu);
    if (a->own) {
        close(a->fd);
    }
    pthread_mutex_destroy(&a->mu);
    free(a);
    s->access_log = NULL;
}

/* The UTC time as "%Y-%m-%dT%H:%M:%SZ", formatted once per second per
 * thread (each serving loop keeps its own copy: no lock needed). */
static __thread time_t ts_sec = (time_t)-1;
static __thread char ts_buf[32];

static const char *
timestamp(void)
{
    struct tm tm;
    time_t now = time(NULL);

    if (now != ts_sec) {
        gmtime_r(&now, &tm);
        if (strftime(ts_buf, sizeof(ts_buf), "%Y-%m-%dT%H:%M:%SZ", &tm)
            == 0)
        {
            memcpy(ts_buf, "-", 2);
        }
        ts_sec = now;
    }
    return ts_buf;
}

static void
on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
    struct pg_server *s = arg;
    struct pg_alog *a = s->access_log;

    (void) fd;
    (void) what;
    if (a != NULL) {
        pthread_mutex_lock(&a->mu);
        a->scheduled = 0;
        alog_flush(a);
        pthread_mutex_unlock(&a->mu);
    }
}

/* Appends one line (n bytes, ending in '\n'); a->mu held. */
static void
alog_line(struct pg_server *s, struct pg_alog *a, const char *line,
    size_t n)
{
    struct timeval tv;

    if (!a->buffered || s->base == NULL) {
        alog_flush(a);
        write_all(a->fd, line, n);
        return;
    }
    if (a->len + n > sizeof(a->buf)) {
        alog_flush(a);
    }
    memcpy(a->buf + a->len, line, n);
    a->len += n;
    if (!a->scheduled) {
        tv.tv_sec = PG_LOG_FLUSH_S;
        tv.tv_usec = 0;
        /* A one-shot event belongs to the base: freed with it if the
         * server stops first (pg_log_close then writes the rest). */
        if (event_base_once(s->base, -1, EV_TIMEOUT, on_flush_timer, s,
                &tv) == 0)
        {
            a->scheduled = 1;
        } else {
            alog_flush(a);
        }
    }
}

/* Ends a line formatted into line[0..n) (n as snprintf returned). */
static size_t
end_line(char *line, size_t cap, int n)
{
    size_t len;

    if (n < 0) {
        n = 0;
    }
    len = (size_t)n < cap - 1 ? (size_t)n : cap - 2;
    line[len++] = '\n';
    return len;
}

void
pg_log(struct pg_server *s, const char *fmt, ...)
{
    char line[PG_LOG_LINE_MAX];
    struct pg_alog *a = s->access_log;
    va_list ap;
    int n, m;

    n = snprintf(line, sizeof(line), "%s provgate: ", timestamp());
    if (n < 0 || (size_t)n >= sizeof(line)) {
        return;
    }
    va_start(ap, fmt);
    m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (m < 0) {
        m = 0;
    }
    if (a == NULL) {        /* no log open (yet): stderr */
        write_all(STDERR_FILENO, line, end_line(line, sizeof(line), n + m));
        return;
    }
    pthread_mutex_lock(&a->mu);
    alog_flush(a);
    write_all(a->fd, line, end_line(line, sizeof(line), n + m));
    pthread_mutex_unlock(&a->mu);
}

void
pg_log_access(struct pg_server *s, const struct pg_req *r, double ms)
{
    char line[PG_LOG_LINE_MAX];
    struct pg_alog *a = s->access_log;
    long long tenths = (long long)(ms * 10.0 + 0.5);
    int n;
    size_t len;

    if (a == NULL) {
        return;
    }
    /* Tenths of a millisecond as integers: the same text as "%.1f"
     * without the floating-point formatter on every request. */
    if (tenths < 0) {
        tenths = 0;
    }
    n = snprintf(line, sizeof(line),
        "%s %s %s %.400s %d %llu %lld.%lldms %s%s%s%s%s%s", timestamp(),
        r->client, r->method, r->path != NULL ? r->path : "-", r->status,
        (unsigned long long)r->bytes, tenths / 10, tenths % 10, r->cache,
        r->user[0] != '\0' ? " user=" : "", r->user,
        r->note[0] != '\0' ? " \"" : "", r->note,
        r->note[0] != '\0' ? "\"" : "");
    len = end_line(line, sizeof(line), n);
    pthread_mutex_lock(&a->mu);
    alog_line(s, a, line, len);
    pthread_mutex_unlock(&a->mu);
}
