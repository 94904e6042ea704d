/* proxy/core/audit_int.h — the audit log: one JSON line per decision that
 * matters.
 *
 * Every rejection, pin creation, pin approval (and forget/import) and
 * policy reload is written as one JSON object on one line:
 *   {"time":"2026-…Z","event":"reject","client":"127.0.0.1","user":"ci",
 *    "project":"demo","file":"demo-1.2.tar.gz","sha256":"…",
 *    "expected":"github:org/demo:release.yml","seen":"github:evil/demo:…",
 *    "decision":"yank","reason":"provgate: publisher … is not accepted …"}
 * Absent facts are left out.  The destination is a file opened with
 * O_APPEND, or stderr ("-"); each line is a single write(2), so lines from
 * the server and from `provgate pins` sharing one file never interleave.
 *
 * Owns: its fd (unless stderr).  Runs on: loop or CLI (a small write, no
 * fsync).  Spec: design §7 (audit), issue 4 item 6.
 */
#ifndef PG_AUDIT_INT_H
#define PG_AUDIT_INT_H

#include <stddef.h>
#include <stdint.h>

#define PG_AUDIT_MAX_FIELD 1024     /* bytes kept of a field (longer: cut) */

struct pg_audit;

struct pg_audit_event {
    const char *event;      /* "reject", "dependency-confusion",
                               "pin-create", "pin-approve",
                               "pin-forget", "pin-import", "policy-reload",
                               "policy-reload-failed" */
    int64_t time;           /* Unix seconds; 0 = now */
    const char *client;     /* the rest: NULL or "" = absent */
    const char *user;       /* the client's token name (auth = token) */
    const char *project;
    const char *file;
    const char *sha256;
    const char *expected;   /* accepted publishers */
    const char *seen;       /* the verified publisher */
    const char *decision;   /* "yank", "hide", "deny", "pin", … */
    const char *reason;
    const char *actor;      /* approvals: who */
};

/* dest: NULL or "-" for stderr, else a file appended to (created 0640).
 * -1 with a reason in msg if it cannot be opened. */
int pg_audit_open(const char *dest, struct pg_audit **out, char *msg,
    size_t mlen);
void pg_audit_close(struct pg_audit *a);
/* Writes one line; returns 0 or -1 (write failed: counted, not retried). */
int pg_audit_log(struct pg_audit *a, const struct pg_audit_event *ev);
/* A tap is told every event pg_audit_log writes (with its time, Unix
 * seconds), on the thread that logs it, before the line is written: the
 * operator pages' event store (ui_route.c).  The event is borrowed for the
 * call.  NULL removes it. */
typedef void (*pg_audit_tap_fn)(void *arg, const struct pg_audit_event *ev,
    int64_t time);
void pg_audit_set_tap(struct pg_audit *a, pg_audit_tap_fn fn, void *arg);
/* Lines that could not be written since open. */
uint64_t pg_audit_failures(const struct pg_audit *a);

#endif
