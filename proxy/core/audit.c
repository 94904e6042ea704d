/* proxy/core/audit.c — the audit log: one JSON line per decision that matters.
 *
 * See audit_int.h for the line format.  A line is built with jansson
 * (so every string is escaped properly, whatever a hostile index put in a
 * filename) and written with one write(2) on an O_APPEND descriptor: the
 * kernel appends it whole, so several writers never interleave lines.
 *
 * Owns: its fd (unless stderr).  Runs on: loop or CLI.
 * Spec: design §7, issue 4 item 6.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "audit_int.h"

#define PG_AUDIT_MAX_LINE 131072 /* above 11 fields x 1024 chars escaped */

struct pg_audit {
    int fd;
    int own;
    uint64_t failures;
    pg_audit_tap_fn tap;        /* also told every event (or NULL) */
    void *tap_arg;
};

int
pg_audit_open(const char *dest, struct pg_audit **out, char *msg,
    size_t mlen)
{
    struct pg_audit *a;

    *out = NULL;
    a = calloc(1, sizeof(*a));
    if (a == NULL) {
        snprintf(msg, mlen, "audit log: out of memory");
        return -1;
    }
    if (dest == NULL || dest[0] == '\0' || strcmp(dest, "-") == 0) {
        a->fd = STDERR_FILENO;
        a->own = 0;
    } else {
        a->fd = open(dest, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (a->fd < 0) {
            snprintf(msg, mlen, "audit log %s: %s", dest, strerror(errno));
            free(a);
            return -1;
        }
        a->own = 1;
    }
    *out = a;
    return 0;
}

void
pg_audit_close(struct pg_audit *a)
{
    if (a == NULL) {
        return;
    }
    if (a->own) {
        close(a->fd);
    }
    free(a);
}

void
pg_audit_set_tap(struct pg_audit *a, pg_audit_tap_fn fn, void *arg)
{
    a->tap = fn;
    a->tap_arg = arg;
}

uint64_t
pg_audit_failures(const struct pg_audit *a)
{
    return a->failures;
}

static int
put(json_t *o, const char *key, const char *v)
{
    char cut[PG_AUDIT_MAX_FIELD + 1];
    size_t n;

    if (v == NULL || v[0] == '\0') {
        return 0;
    }
    n = strlen(v);
    if (n > PG_AUDIT_MAX_FIELD) {
        memcpy(cut, v, PG_AUDIT_MAX_FIELD);
        cut[PG_AUDIT_MAX_FIELD] = '\0';
        v = cut;
        n = PG_AUDIT_MAX_FIELD;
    }
    /* json_stringn_nocheck would keep invalid UTF-8; a lossy copy is
     * better than losing the line: replace bytes jansson refuses. */
    {
        json_t *s = json_stringn(v, n);

        if (s == NULL) {
            char tmp[PG_AUDIT_MAX_FIELD + 1];
            size_t i;

            for (i = 0; i < n; i++) {
                unsigned char ch = (unsigned char) v[i];

                tmp[i] = (ch >= 0x20 && ch < 0x7f) ? (char) ch : '?';
            }
            s = json_stringn(tmp, n);
        }
        if (s == NULL) {
            return -1;
        }
        return json_object_set_new(o, key, s);
    }
}

int
pg_audit_log(struct pg_audit *a, const struct pg_audit_event *ev)
{
    char ts[32], *line = NULL;
    struct tm tm;
    time_t t;
    json_t *o;
    size_t len;
    ssize_t w;
    int rc = -1;

    if (a == NULL) {
        return -1;
    }
    t = ev->time != 0 ? (time_t) ev->time : time(NULL);
    if (a->tap != NULL) {
        a->tap(a->tap_arg, ev, (int64_t) t);
    }
    if (gmtime_r(&t, &tm) == NULL
        || strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(ts, sizeof(ts), "1970-01-01T00:00:00Z");
    }
    o = json_object();
    if (o == NULL) {
        goto done;
    }
    if (put(o, "time", ts) != 0 || put(o, "event", ev->event) != 0
        || put(o, "client", ev->client) != 0
        || put(o, "user", ev->user) != 0
        || put(o, "project", ev->project) != 0
        || put(o, "file", ev->file) != 0
        || put(o, "sha256", ev->sha256) != 0
        || put(o, "expected", ev->expected) != 0
        || put(o, "seen", ev->seen) != 0
        || put(o, "decision", ev->decision) != 0
        || put(o, "reason", ev->reason) != 0
        || put(o, "actor", ev->actor) != 0)
    {
        goto done;
    }
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line == NULL) {
        goto done;
    }
    len = strlen(line);
    if (len + 1 > PG_AUDIT_MAX_LINE) {
        goto done;
    }
    line[len] = '\n';
    w = write(a->fd, line, len + 1);
    rc = (w == (ssize_t) (len + 1)) ? 0 : -1;

done:
    if (rc != 0) {
        a->failures++;
    }
    free(line);
    json_decref(o);
    return rc;
}
