/* tests/policy/test_audit.c — the JSON-lines audit log (proxy/audit.c).
 *
 * One event is one line of valid JSON whatever a hostile index put in a
 * filename (quotes, newlines, bytes that are not UTF-8); absent facts are
 * left out; lines written by two processes to one file never interleave;
 * an over-long field is cut at its limit, not dropped.
 *
 * Spec: design §7 (audit), issue 4 item 6.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit_int.h"

#define FIELD_MAX PG_AUDIT_MAX_FIELD

static char path[64];

static int
setup(void **state)
{
    int fd;

    (void) state;
    snprintf(path, sizeof(path), "/tmp/pg-audit-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    unlink(path);
    return 0;
}

/* Reads the file's lines as JSON objects; returns how many. */
static size_t
read_lines(json_t **out, size_t max)
{
    FILE *f = fopen(path, "r");
    char line[16384];
    size_t n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        json_error_t e;

        assert_true(strlen(line) > 0 && line[strlen(line) - 1] == '\n');
        assert_true(n < max);
        out[n] = json_loads(line, 0, &e);
        if (out[n] == NULL) {
            fail_msg("line %zu is not JSON: %s: %s", n + 1, e.text, line);
        }
        n++;
    }
    fclose(f);
    return n;
}

static void
event_is_one_json_line_with_every_fact(void **state)
{
    struct pg_audit *a = NULL;
    struct pg_audit_event ev;
    char msg[160];
    json_t *l[4];

    (void) state;
    assert_int_equal(pg_audit_open(path, &a, msg, sizeof(msg)), 0);
    memset(&ev, 0, sizeof(ev));
    ev.event = "reject";
    ev.time = 1700000000;
    ev.client = "127.0.0.1";
    ev.project = "demo";
    ev.file = "demo-1.2.tar.gz\"}\n{\"event\":\"forged";
    ev.sha256 = "ab";
    ev.expected = "github:org/demo:release.yml";
    ev.seen = "github:evil/demo:release.yml";
    ev.decision = "yank";
    ev.reason = "provgate: publisher github:evil/demo:release.yml is not "
        "accepted for demo";
    assert_int_equal(pg_audit_log(a, &ev), 0);
    pg_audit_close(a);
    assert_int_equal(read_lines(l, 4), 1);
    assert_string_equal(json_string_value(json_object_get(l[0], "time")),
        "2023-11-14T22:13:20Z");
    assert_string_equal(json_string_value(json_object_get(l[0], "event")),
        "reject");
    assert_string_equal(json_string_value(json_object_get(l[0], "file")),
        ev.file);
    assert_string_equal(json_string_value(json_object_get(l[0], "client")),
        "127.0.0.1");
    assert_string_equal(json_string_value(json_object_get(l[0], "seen")),
        ev.seen);
    assert_string_equal(json_string_value(json_object_get(l[0],
        "expected")), ev.expected);
    assert_null(json_object_get(l[0], "actor"));
    json_decref(l[0]);
}

static void
bytes_that_are_not_utf8_still_give_a_line(void **state)
{
    struct pg_audit *a = NULL;
    struct pg_audit_event ev;
    char msg[160];
    json_t *l[2];

    (void) state;
    assert_int_equal(pg_audit_open(path, &a, msg, sizeof(msg)), 0);
    memset(&ev, 0, sizeof(ev));
    ev.event = "reject";
    ev.file = "demo-\xff\xfe.tar.gz";
    assert_int_equal(pg_audit_log(a, &ev), 0);
    pg_audit_close(a);
    assert_int_equal(read_lines(l, 2), 1);
    assert_string_equal(json_string_value(json_object_get(l[0], "file")),
        "demo-??.tar.gz");
    json_decref(l[0]);
}

static void
long_field_is_cut_at_its_limit(void **state)
{
    struct pg_audit *a = NULL;
    struct pg_audit_event ev;
    char msg[160], *big = malloc(FIELD_MAX + 2);
    json_t *l[3];
    size_t i;

    (void) state;
    assert_non_null(big);
    assert_int_equal(pg_audit_open(path, &a, msg, sizeof(msg)), 0);
    memset(&ev, 0, sizeof(ev));
    ev.event = "reject";
    memset(big, 'r', FIELD_MAX);
    big[FIELD_MAX] = '\0';
    ev.reason = big;
    assert_int_equal(pg_audit_log(a, &ev), 0);
    memset(big, 's', FIELD_MAX + 1);
    big[FIELD_MAX + 1] = '\0';
    assert_int_equal(pg_audit_log(a, &ev), 0);
    pg_audit_close(a);
    assert_int_equal(read_lines(l, 3), 2);
    for (i = 0; i < 2; i++) {
        assert_int_equal(strlen(json_string_value(json_object_get(l[i],
            "reason"))), FIELD_MAX);
        json_decref(l[i]);
    }
    free(big);
}

static void
two_writers_never_interleave_lines(void **state)
{
    struct pg_audit_event ev;
    char msg[160], reason[600];
    json_t *l[450];
    pid_t pid[2];
    size_t i, n;
    int k;

    (void) state;
    memset(&ev, 0, sizeof(ev));
    for (k = 0; k < 2; k++) {
        pid[k] = fork();
        assert_true(pid[k] >= 0);
        if (pid[k] == 0) {
            struct pg_audit *a = NULL;

            if (pg_audit_open(path, &a, msg, sizeof(msg)) != 0) {
                _exit(3);
            }
            memset(reason, k == 0 ? 'a' : 'b', sizeof(reason) - 1);
            reason[sizeof(reason) - 1] = '\0';
            ev.event = k == 0 ? "pin-approve" : "reject";
            ev.reason = reason;
            for (i = 0; i < 200; i++) {
                if (pg_audit_log(a, &ev) != 0) {
                    _exit(4);
                }
            }
            pg_audit_close(a);
            _exit(0);
        }
    }
    for (k = 0; k < 2; k++) {
        int st = 0;

        assert_int_equal(waitpid(pid[k], &st, 0), pid[k]);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    n = read_lines(l, 450);
    assert_int_equal(n, 400);
    for (i = 0; i < n; i++) {
        const char *r = json_string_value(json_object_get(l[i], "reason"));

        assert_int_equal(strlen(r), 599);
        assert_true(strspn(r, "a") == 599 || strspn(r, "b") == 599);
        json_decref(l[i]);
    }
}

static void
unwritable_destination_is_reported(void **state)
{
    struct pg_audit *a = NULL;
    char msg[160];

    (void) state;
    assert_int_equal(pg_audit_open("/nonexistent/dir/audit.log", &a, msg,
        sizeof(msg)), -1);
    assert_null(a);
    assert_non_null(strstr(msg, "/nonexistent/dir/audit.log"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
        T(event_is_one_json_line_with_every_fact),
        T(bytes_that_are_not_utf8_still_give_a_line),
        T(long_field_is_cut_at_its_limit),
        T(two_writers_never_interleave_lines),
        T(unwritable_destination_is_reported),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
