/* tests/policy/test_pins.c — TOFU pins in the pin store.
 *
 * Runs against a real pin store: by default a fresh LMDB one in a
 * temporary directory; with PG_TEST_PIN_STORE=URI (tests/policy/
 * CMakeLists.txt runs it so against a PostgreSQL the test starts) the
 * same cases run against that database, emptied before each case.  TOFU
 * insert-if-absent, approve, forget, import, the history each change
 * appends, the pins generation, another process changing pins while this
 * one has the store open, and the JSON form's checks on untrusted records
 * (limits at their value and one past it); the clients' tokens kept
 * beside the pins (issue 13).
 *
 * Spec: design §7 (TOFU pins), issue 4 item 3, issue 12 items 1–2.
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

#include "pg_cache.h"
#include "pg_policy.h"

struct fixture {
    char dir[64];
    char uri[1100];
    struct pg_pinstore *store;
    struct pg_pin_set set;
};

static struct pg_pinstore *
store_open(const char *uri)
{
    struct pg_pinstore_opts opt;
    struct pg_policy_err err;
    struct pg_pinstore *s = NULL;

    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.uri = uri;
    opt.create = 1;
    if (pg_pinstore_open(&opt, &s, &err) != PG_POLICY_OK) {
        fail_msg("pin store %s: %s", uri, err.reason);
    }
    return s;
}

/* PostgreSQL: an empty store for each case (the test empties it through
 * psql, as an operator would). */
static void
store_wipe(const char *uri)
{
    char cmd[1400];

    snprintf(cmd, sizeof(cmd), "psql -q -X -v ON_ERROR_STOP=1 '%s' -c "
        "'DROP SCHEMA IF EXISTS provgate CASCADE' >/dev/null 2>&1", uri);
    assert_int_equal(system(cmd), 0);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *pq = getenv("PG_TEST_PIN_STORE");

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/pg-pins-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    if (pq != NULL && pq[0] != '\0') {
        snprintf(f->uri, sizeof(f->uri), "%s", pq);
        store_wipe(f->uri);
    } else {
        snprintf(f->uri, sizeof(f->uri), "lmdb:%s/pins.lmdb", f->dir);
    }
    f->store = store_open(f->uri);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    pg_pinstore_close(f->store);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static struct pg_pin_entry
tofu_entry(const char *spec, const char *file, int64_t up)
{
    struct pg_pin_entry e;
    char why[160];

    memset(&e, 0, sizeof(e));
    assert_int_equal(pg_publisher_parse(spec, &e.publisher, why, sizeof(why)),
        0);
    e.how = PG_PIN_TOFU;
    e.time = 1760000000;
    snprintf(e.file, sizeof(e.file), "%s", file);
    memset(e.sha256, 'a', 64);
    e.upload_time = up;
    return e;
}

static struct pg_pin_entry
approved_entry(const char *spec, const char *by)
{
    struct pg_pin_entry e;
    char why[160];

    memset(&e, 0, sizeof(e));
    assert_int_equal(pg_publisher_parse(spec, &e.publisher, why, sizeof(why)),
        0);
    e.how = PG_PIN_APPROVED;
    e.time = 1760000100;
    e.upload_time = -1;
    snprintf(e.by, sizeof(e.by), "%s", by);
    return e;
}

static uint64_t
generation(struct fixture *f)
{
    struct pg_policy_err err;
    uint64_t g = 99;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_generation(f->store, &g, &err), PG_POLICY_OK);
    return g;
}

static void
unknown_project_has_no_pin_and_generation_zero(void **state)
{
    struct fixture *f = *state;
    struct pg_policy_err err;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_get(f->store, "demo", &f->set, &err),
        PG_POLICY_OK);
    assert_int_equal(f->set.n, 0);
    assert_true(generation(f) == 0);
}

static void
tofu_pin_is_stored_with_its_file_and_times(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry e = tofu_entry("github:Org/Demo:release.yml:pypi",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_policy_err err;
    int added = 0;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &e, "test", NULL, &added, &err),
        PG_POLICY_OK);
    assert_true(added);
    assert_int_equal(pg_pins_get(f->store, "demo", &f->set, &err),
        PG_POLICY_OK);
    assert_int_equal(f->set.n, 1);
    assert_string_equal(f->set.project, "demo");
    assert_int_equal(f->set.e[0].how, PG_PIN_TOFU);
    assert_string_equal(f->set.e[0].publisher.repository, "Org/Demo");
    assert_string_equal(f->set.e[0].publisher.environment, "pypi");
    assert_string_equal(f->set.e[0].file, "demo-1.0.tar.gz");
    assert_int_equal(f->set.e[0].time, 1760000000);
    assert_int_equal(f->set.e[0].upload_time, 1700000000);
    assert_int_equal(pg_pins_since(&f->set), 1700000000);
    assert_true(generation(f) != 0);
}

static void
tofu_never_overwrites_an_existing_pin(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_pin_entry b = tofu_entry("github:evil/demo:release.yml",
        "demo-0.9.tar.gz", 1600000000);
    struct pg_policy_err err;
    uint64_t g;
    int added = 0;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "test", NULL, &added, &err), 0);
    g = generation(f);
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &b, "test", NULL, &added, &err), 0);
    assert_false(added);
    assert_true(generation(f) == g);
    assert_int_equal(pg_pins_get(f->store, "demo", &f->set, &err), 0);
    assert_int_equal(f->set.n, 1);
    assert_string_equal(f->set.e[0].publisher.repository, "org/demo");
}

static void
approve_adds_to_the_set_and_changes_the_generation(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_pin_entry b = approved_entry("github:org/demo2:release.yml",
        "alice");
    struct pg_policy_err err;
    char list[512];
    uint64_t g;
    int added = 0;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "test", NULL, &added, &err), 0);
    g = generation(f);
    assert_int_equal(pg_pins_approve(f->store, "demo", &b, NULL, &added, &err), 0);
    assert_true(added);
    assert_true(generation(f) != g);
    g = generation(f);
    /* The same publisher again is no change. */
    assert_int_equal(pg_pins_approve(f->store, "demo", &b, NULL, &added, &err), 0);
    assert_false(added);
    assert_true(generation(f) == g);
    assert_int_equal(pg_pins_get(f->store, "demo", &f->set, &err), 0);
    assert_int_equal(f->set.n, 2);
    assert_int_equal(f->set.e[1].how, PG_PIN_APPROVED);
    assert_string_equal(f->set.e[1].by, "alice");
    pg_pins_format(&f->set, list, sizeof(list));
    assert_string_equal(list, "github:org/demo:release.yml, "
        "github:org/demo2:release.yml");
}

static void
forget_removes_the_pin(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_policy_err err;
    uint64_t g;
    int added = 0, removed = 0;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "test", NULL, &added, &err), 0);
    g = generation(f);
    assert_int_equal(pg_pins_forget(f->store, "demo", "test", NULL, &removed, &err), 0);
    assert_true(removed);
    assert_true(generation(f) != g);
    assert_int_equal(pg_pins_get(f->store, "demo", &f->set, &err), 0);
    assert_int_equal(f->set.n, 0);
    assert_int_equal(pg_pins_forget(f->store, "demo", "test", NULL, &removed, &err), 0);
    assert_false(removed);
}

static void
publisher_limit_per_pin_is_enforced(void **state)
{
    struct fixture *f = *state;
    struct pg_policy_err err;
    char spec[128];
    int i, added = 0;

    for (i = 0; i < PG_PINS_MAX_PUBLISHERS; i++) {
        struct pg_pin_entry e;

        snprintf(spec, sizeof(spec), "github:org/r%d:release.yml", i);
        e = approved_entry(spec, "bob");
        memset(&err, 0, sizeof(err));
        assert_int_equal(pg_pins_approve(f->store, "demo", &e, NULL, &added, &err),
            PG_POLICY_OK);
        assert_true(added);
    }
    {
        struct pg_pin_entry e = approved_entry("github:org/one-more:r.yml",
            "bob");

        memset(&err, 0, sizeof(err));
        assert_int_equal(pg_pins_approve(f->store, "demo", &e, NULL, &added, &err),
            PG_POLICY_ELIMIT);
        assert_false(added);
    }
}

static void
names_must_be_normalized(void **state)
{
    struct fixture *f = *state;
    struct pg_policy_err err;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_get(f->store, "Demo_Pkg", &f->set, &err),
        PG_POLICY_EINVAL);
    assert_non_null(strstr(err.reason, "normalized"));
}

static int
collect(void *arg, const struct pg_pin_set *set)
{
    char *names = arg;
    size_t off = strlen(names);

    snprintf(names + off, 256 - off, "%s ", set->project);
    return 0;
}

static void
iter_visits_every_project_in_order(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry e = approved_entry("github:org/x:r.yml", "carol");
    struct pg_policy_err err;
    char names[256] = "";
    int added;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_approve(f->store, "zeta", &e, NULL, &added, &err), 0);
    assert_int_equal(pg_pins_approve(f->store, "alpha", &e, NULL, &added, &err), 0);
    assert_int_equal(pg_pins_approve(f->store, "mid", &e, NULL, &added, &err), 0);
    assert_int_equal(pg_pins_iter(f->store, collect, names, &err), 0);
    assert_string_equal(names, "alpha mid zeta ");
}

static void
another_process_sees_and_changes_the_same_store(void **state)
{
    struct fixture *f = *state;
    struct pg_policy_err err;
    uint64_t g = generation(f);
    pid_t pid;
    int status = 0;

    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct pg_pinstore_opts opt;
        struct pg_pinstore *c = NULL;
        struct pg_pin_entry e = approved_entry("github:org/demo:r.yml", "cli");
        int added = 0;

        memset(&opt, 0, sizeof(opt));
        memset(&err, 0, sizeof(err));
        opt.uri = f->uri;
        if (pg_pinstore_open(&opt, &c, &err) != PG_POLICY_OK) {
            _exit(3);
        }
        if (pg_pins_approve(c, "demo", &e, NULL, &added, &err) != 0
            || !added)
        {
            _exit(4);
        }
        pg_pinstore_close(c);
        _exit(0);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    memset(&err, 0, sizeof(err));
    /* PostgreSQL answers from its local copy: the server refreshes it on a
     * notification; here the test does. */
    assert_int_equal(pg_pinstore_refresh(f->store, &err), PG_POLICY_OK);
    assert_int_equal(pg_pins_get(f->store, "demo", &f->set, &err), 0);
    assert_int_equal(f->set.n, 1);
    assert_string_equal(f->set.e[0].by, "cli");
    assert_true(generation(f) != g);
}

static int
from_json(const char *j, struct pg_pin_set *set)
{
    struct pg_policy_err err;

    memset(&err, 0, sizeof(err));
    return pg_pins_from_json(j, strlen(j), set, &err);
}

static void
json_round_trip_keeps_every_field(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_set *b = malloc(sizeof(*b));
    struct pg_policy_err err;
    char *j = NULL, *j2 = NULL;
    size_t len = 0, len2 = 0;

    assert_non_null(b);
    memset(&f->set, 0, sizeof(f->set));
    snprintf(f->set.project, sizeof(f->set.project), "demo");
    f->set.e[0] = tofu_entry("github:org/demo:release.yml", "demo-1.tgz",
        1700000000);
    f->set.e[1] = approved_entry("google:ci@x.iam.gserviceaccount.com", "al");
    f->set.n = 2;
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_to_json(&f->set, &j, &len, &err), 0);
    assert_int_equal(pg_pins_from_json(j, len, b, &err), 0);
    assert_int_equal(pg_pins_to_json(b, &j2, &len2, &err), 0);
    assert_string_equal(j, j2);
    assert_non_null(strstr(j, "\"how\":\"tofu\""));
    assert_non_null(strstr(j, "\"upload_time\":\"2023-11-14T22:13:20Z\""));
    assert_non_null(strstr(j, "\"by\":\"al\""));
    free(j);
    free(j2);
    free(b);
}

static void
malformed_records_are_refused(void **state)
{
    static const char *bad[] = {
        "not json",
        "[]",
        "{\"project\":\"Demo\",\"publishers\":[]}",
        "{\"project\":\"demo\"}",
        "{\"project\":\"demo\",\"publishers\":[{\"publisher\":\"github:o/r:w\","
        "\"how\":\"magic\",\"time\":\"2025-01-01T00:00:00Z\"}]}",
        "{\"project\":\"demo\",\"publishers\":[{\"publisher\":\"github:o/r:w\","
        "\"how\":\"approved\",\"time\":\"yesterday\"}]}",
        "{\"project\":\"demo\",\"publishers\":[{\"publisher\":\"nonsense\","
        "\"how\":\"approved\",\"time\":\"2025-01-01T00:00:00Z\"}]}",
        "{\"project\":\"demo\",\"publishers\":[{\"publisher\":\"github:o/r:w\","
        "\"how\":\"tofu\",\"time\":\"2025-01-01T00:00:00Z\","
        "\"sha256\":\"zz\"}]}",
        "{\"project\":\"demo\",\"project\":\"other\",\"publishers\":[]}",
    };
    struct fixture *f = *state;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_not_equal(from_json(bad[i], &f->set), PG_POLICY_OK);
        assert_int_equal(f->set.n, 0);
    }
}

static char *
record_with(size_t n)
{
    size_t cap = 64 + n * 128, off, i;
    char *j = malloc(cap);

    assert_non_null(j);
    off = (size_t) snprintf(j, cap, "{\"project\":\"demo\",\"publishers\":[");
    for (i = 0; i < n; i++) {
        off += (size_t) snprintf(j + off, cap - off, "%s{\"publisher\":"
            "\"github:o/r%zu:w.yml\",\"how\":\"approved\",\"time\":"
            "\"2025-01-01T00:00:00Z\"}", i == 0 ? "" : ",", i);
    }
    snprintf(j + off, cap - off, "]}");
    return j;
}

static void
record_limits_are_enforced(void **state)
{
    struct fixture *f = *state;
    struct pg_policy_err err;
    char *j, *big;

    j = record_with(PG_PINS_MAX_PUBLISHERS);
    assert_int_equal(from_json(j, &f->set), PG_POLICY_OK);
    assert_int_equal(f->set.n, PG_PINS_MAX_PUBLISHERS);
    free(j);
    j = record_with(PG_PINS_MAX_PUBLISHERS + 1);
    assert_int_equal(from_json(j, &f->set), PG_POLICY_ELIMIT);
    free(j);
    /* Size: PG_PINS_MAX_RECORD bytes is parsed, one more is not. */
    big = malloc(PG_PINS_MAX_RECORD + 1);
    assert_non_null(big);
    j = record_with(1);
    memset(big, ' ', PG_PINS_MAX_RECORD + 1);
    memcpy(big, j, strlen(j));
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_from_json(big, PG_PINS_MAX_RECORD, &f->set,
        &err), PG_POLICY_OK);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_from_json(big, PG_PINS_MAX_RECORD + 1, &f->set,
        &err), PG_POLICY_ELIMIT);
    free(j);
    free(big);
}

/* ---- history (issue 12 item 2) ------------------------------------------ */

struct events {
    size_t n;
    struct pg_pin_event ev[8];
};

static int
collect_event(void *arg, const struct pg_pin_event *ev)
{
    struct events *e = arg;

    if (e->n < 8) {
        e->ev[e->n] = *ev;
    }
    e->n++;
    return 0;
}

static void
every_change_appends_a_history_event(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_pin_entry b = approved_entry("github:org/demo2:release.yml",
        "alice");
    struct pg_pin_entry o = approved_entry("github:org/other:r.yml", "bob");
    struct pg_policy_err err;
    struct events *h = calloc(1, sizeof(*h));
    int added = 0, removed = 0;

    assert_non_null(h);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a,
        "provgate@r1", NULL, &added, &err), 0);
    assert_int_equal(pg_pins_approve(f->store, "demo", &b, "repo moved",
        &added, &err), 0);
    assert_int_equal(pg_pins_approve(f->store, "other", &o, NULL, &added,
        &err), 0);
    /* No change, no event. */
    assert_int_equal(pg_pins_approve(f->store, "demo", &b, "again", &added,
        &err), 0);
    assert_false(added);
    assert_int_equal(pg_pins_forget(f->store, "demo", "carol", "reset",
        &removed, &err), 0);
    assert_int_equal(pg_pins_history(f->store, "demo", collect_event, h,
        &err), PG_POLICY_OK);
    assert_int_equal(h->n, 3);
    assert_string_equal(h->ev[0].what, "tofu");
    assert_string_equal(h->ev[0].before, "");
    assert_string_equal(h->ev[0].after, "github:org/demo:release.yml");
    assert_string_equal(h->ev[0].by, "provgate@r1");
    assert_string_equal(h->ev[0].file, "demo-1.0.tar.gz");
    assert_non_null(strstr(h->ev[0].why, "tofu"));
    assert_string_equal(h->ev[1].what, "approve");
    assert_string_equal(h->ev[1].before, "github:org/demo:release.yml");
    assert_string_equal(h->ev[1].after, "github:org/demo:release.yml, "
        "github:org/demo2:release.yml");
    assert_string_equal(h->ev[1].by, "alice");
    assert_string_equal(h->ev[1].why, "repo moved");
    assert_string_equal(h->ev[2].what, "forget");
    assert_string_equal(h->ev[2].after, "");
    assert_string_equal(h->ev[2].by, "carol");
    assert_string_equal(h->ev[2].why, "reset");
    assert_true(h->ev[0].id < h->ev[1].id && h->ev[1].id < h->ev[2].id);
    assert_true(h->ev[0].time > 1700000000);
    /* All projects: the other project's event sits between, in order. */
    memset(h, 0, sizeof(*h));
    assert_int_equal(pg_pins_history(f->store, NULL, collect_event, h,
        &err), PG_POLICY_OK);
    assert_int_equal(h->n, 4);
    assert_string_equal(h->ev[2].project, "other");
    free(h);
}

static void
tofu_returns_the_winner_when_a_pin_exists(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_pin_entry b = tofu_entry("github:evil/demo:release.yml",
        "demo-0.9.tar.gz", 1600000000);
    struct pg_policy_err err;
    int created = 0;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "r1",
        &f->set, &created, &err), 0);
    assert_true(created);
    assert_int_equal(f->set.n, 1);
    memset(&f->set, 0, sizeof(f->set));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &b, "r2",
        &f->set, &created, &err), 0);
    assert_false(created);
    assert_int_equal(f->set.n, 1);
    assert_string_equal(f->set.e[0].publisher.repository, "org/demo");
}

static void
import_replaces_the_set_and_records_it(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_policy_err err;
    struct pg_pin_set *in = calloc(1, sizeof(*in));
    struct events *h = calloc(1, sizeof(*h));
    int added = 0;

    assert_non_null(in);
    assert_non_null(h);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "r1",
        NULL, &added, &err), 0);
    snprintf(in->project, sizeof(in->project), "demo");
    in->n = 1;
    in->e[0] = approved_entry("github:org/new:r.yml", "dave");
    assert_int_equal(pg_pins_import(f->store, in, "import", "dave",
        "restore", &err), PG_POLICY_OK);
    assert_int_equal(pg_pins_get(f->store, "demo", &f->set, &err), 0);
    assert_int_equal(f->set.n, 1);
    assert_string_equal(f->set.e[0].publisher.repository, "org/new");
    assert_int_equal(pg_pins_history(f->store, "demo", collect_event, h,
        &err), 0);
    assert_int_equal(h->n, 2);
    assert_string_equal(h->ev[1].what, "import");
    assert_string_equal(h->ev[1].before, "github:org/demo:release.yml");
    assert_string_equal(h->ev[1].after, "github:org/new:r.yml");
    free(in);
    free(h);
}

static void
event_json_round_trip_and_bad_events_refused(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_event ev, back;
    struct pg_policy_err err;
    json_t *o;

    (void) f;
    memset(&ev, 0, sizeof(ev));
    ev.id = 7;
    ev.time = 1760000000;
    snprintf(ev.project, sizeof(ev.project), "demo");
    snprintf(ev.what, sizeof(ev.what), "approve");
    snprintf(ev.after, sizeof(ev.after), "github:o/r:w.yml");
    snprintf(ev.by, sizeof(ev.by), "alice");
    o = pg_pin_event_to_json(&ev);
    assert_non_null(o);
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pin_event_from_json(o, &back, &err), PG_POLICY_OK);
    assert_memory_equal(&ev, &back, sizeof(ev));
    json_object_set_new(o, "what", json_string("rewrite"));
    assert_int_equal(pg_pin_event_from_json(o, &back, &err),
        PG_POLICY_EPARSE);
    assert_non_null(strstr(err.reason, "what"));
    json_object_set_new(o, "what", json_string("approve"));
    json_object_set_new(o, "project", json_string("Not Normal"));
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pin_event_from_json(o, &back, &err),
        PG_POLICY_EPARSE);
    json_decref(o);
}

/* Eight processes, each with its own store handle (its own connection
 * for PostgreSQL), race to pin the same projects to eight different
 * publishers, round after round: every round exactly one creates the pin
 * and every one of them is told the same winner. */
static void
tofu_race_between_processes_makes_exactly_one_pin(void **state)
{
    struct fixture *f = *state;
    enum { PROCS = 8, ROUNDS = 10 };
    int fds[PROCS][2];
    pid_t pids[PROCS];
    int i, r;

    for (i = 0; i < PROCS; i++) {
        assert_int_equal(pipe(fds[i]), 0);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            struct pg_pinstore_opts opt;
            struct pg_pinstore *c = NULL;
            struct pg_policy_err err;
            struct pg_pin_set *won = calloc(1, sizeof(*won));
            char spec[64], project[32], line[128];
            int created = 0;

            close(fds[i][0]);
            memset(&opt, 0, sizeof(opt));
            memset(&err, 0, sizeof(err));
            opt.uri = f->uri;
            if (won == NULL || pg_pinstore_open(&opt, &c, &err) != 0) {
                _exit(3);
            }
            for (r = 0; r < ROUNDS; r++) {
                struct pg_pin_entry e;

                snprintf(spec, sizeof(spec), "github:org/r%d:release.yml", i);
                snprintf(project, sizeof(project), "race-%d", r);
                e = tofu_entry(spec, "race-1.0.tar.gz", 1700000000);
                if (pg_pins_insert_if_absent(c, project, &e, "racer", won,
                    &created, &err) != 0 || won->n != 1)
                {
                    _exit(4);
                }
                snprintf(line, sizeof(line), "%d %.60s\n", created,
                    won->e[0].publisher.repository);
                if (write(fds[i][1], line, strlen(line)) < 0) {
                    _exit(5);
                }
            }
            pg_pinstore_close(c);
            free(won);
            _exit(0);
        }
        close(fds[i][1]);
    }
    {
        char winners[ROUNDS][64];
        int creators[ROUNDS];

        memset(winners, 0, sizeof(winners));
        memset(creators, 0, sizeof(creators));
        for (i = 0; i < PROCS; i++) {
            char buf[4096];
            ssize_t n, got = 0;
            char *line, *nl;
            int status = 0;

            while ((n = read(fds[i][0], buf + got, sizeof(buf) - 1
                - (size_t) got)) > 0)
            {
                got += n;
            }
            buf[got] = '\0';
            close(fds[i][0]);
            assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
            assert_true(WIFEXITED(status));
            assert_int_equal(WEXITSTATUS(status), 0);
            r = 0;
            for (line = buf; (nl = strchr(line, '\n')) != NULL;
                line = nl + 1)
            {
                *nl = '\0';
                assert_true(r < ROUNDS);
                creators[r] += line[0] == '1';
                if (winners[r][0] == '\0') {
                    snprintf(winners[r], sizeof(winners[r]), "%s", line + 2);
                }
                assert_string_equal(winners[r], line + 2);
                r++;
            }
            assert_int_equal(r, ROUNDS);
        }
        for (r = 0; r < ROUNDS; r++) {
            char project[32];
            struct pg_policy_err err;

            assert_int_equal(creators[r], 1);
            snprintf(project, sizeof(project), "race-%d", r);
            memset(&err, 0, sizeof(err));
            assert_int_equal(pg_pinstore_refresh(f->store, &err), 0);
            assert_int_equal(pg_pins_get(f->store, project, &f->set, &err),
                0);
            assert_int_equal(f->set.n, 1);
            assert_string_equal(f->set.e[0].publisher.repository,
                winners[r]);
        }
    }
}

/* LMDB only: the store is an environment of its own and refuses one that
 * holds other data (such as a cache's state.lmdb). */
static void
lmdb_store_refuses_a_foreign_environment(void **state)
{
    struct fixture *f = *state;
    struct pg_cache_options copt;
    struct pg_cache_err cerr;
    struct pg_cache *c = NULL;
    struct pg_pinstore_opts opt;
    struct pg_pinstore *s = NULL;
    struct pg_policy_err err;
    char dir[128], uri[160];

    if (strncmp(f->uri, "lmdb:", 5) != 0) {
        skip();
    }
    snprintf(dir, sizeof(dir), "%s/cache", f->dir);
    memset(&copt, 0, sizeof(copt));
    memset(&cerr, 0, sizeof(cerr));
    copt.dir = dir;
    copt.map_size = 64u << 20;
    assert_int_equal(pg_cache_open(&copt, &c, &cerr), PG_CACHE_OK);
    pg_cache_close(c);
    snprintf(uri, sizeof(uri), "lmdb:%s/state.lmdb", dir);
    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.uri = uri;
    opt.create = 1;
    assert_int_equal(pg_pinstore_open(&opt, &s, &err), PG_POLICY_ECONFIG);
    assert_null(s);
    assert_non_null(strstr(err.reason, "not a provgate pin store"));
}

static void
malformed_store_uris_are_refused(void **state)
{
    static const struct {
        const char *uri;
        const char *reason;
    } cases[] = {
        { "", "no pin store" },
        { "lmdb:", "needs a directory" },
        { "redis://localhost/", "expected lmdb" },
    };
    struct pg_pinstore_opts opt;
    struct pg_pinstore *s = NULL;
    struct pg_policy_err err;
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&opt, 0, sizeof(opt));
        memset(&err, 0, sizeof(err));
        opt.uri = cases[i].uri;
        assert_int_equal(pg_pinstore_open(&opt, &s, &err),
            PG_POLICY_EINVAL);
        assert_null(s);
        if (strstr(err.reason, cases[i].reason) == NULL) {
            fail_msg("%s: reason '%s'", cases[i].uri, err.reason);
        }
    }
}

static void
default_uri_is_beside_the_cache(void **state)
{
    char out[64];

    (void) state;
    assert_int_equal(pg_pinstore_default_uri("/var/lib/pg/cache/", out,
        sizeof(out)), 0);
    assert_string_equal(out, "lmdb:/var/lib/pg/pins.lmdb");
    assert_int_equal(pg_pinstore_default_uri("./var", out, sizeof(out)), 0);
    assert_string_equal(out, "lmdb:./pins.lmdb");
    assert_int_equal(pg_pinstore_default_uri("var", out, sizeof(out)), 0);
    assert_string_equal(out, "lmdb:pins.lmdb");
    assert_int_equal(pg_pinstore_default_uri("/cache", out, sizeof(out)),
        0);
    assert_string_equal(out, "lmdb:/pins.lmdb");
    assert_int_equal(pg_pinstore_default_uri("/a/very/long/path/to/the/"
        "cache/directory/here", out, 16), -1);
}

/* A change decided on a record another writer has changed since (this
 * store's copy is stale: PostgreSQL's local copy before the notification
 * is read) keeps that writer's change and adds its own. */
static void
change_on_a_stale_copy_keeps_the_other_writers_change(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_pin_entry x = approved_entry("github:org/x:release.yml", "x");
    struct pg_pin_entry y = approved_entry("github:org/y:release.yml", "y");
    struct pg_pinstore *other;
    struct pg_policy_err err;
    int added = 0, removed = 0;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "r1",
        NULL, &added, &err), PG_POLICY_OK);
    other = store_open(f->uri);
    assert_int_equal(pg_pins_approve(other, "demo", &x, NULL, &added, &err),
        PG_POLICY_OK);
    assert_true(added);
    assert_int_equal(pg_pins_approve(f->store, "demo", &y, NULL, &added,
        &err), PG_POLICY_OK);
    assert_true(added);
    pg_pinstore_close(other);
    other = store_open(f->uri);
    assert_int_equal(pg_pins_get(other, "demo", &f->set, &err),
        PG_POLICY_OK);
    assert_int_equal(f->set.n, 3);
    assert_string_equal(f->set.e[1].by, "x");
    assert_string_equal(f->set.e[2].by, "y");
    /* Forgotten by the other writer, then a first sight here: the stale
     * copy still shows the pin, the store has none: TOFU pins anew. */
    assert_int_equal(pg_pins_forget(other, "demo", "z", NULL, &removed,
        &err), PG_POLICY_OK);
    assert_true(removed);
    pg_pinstore_close(other);
    assert_int_equal(pg_pins_forget(f->store, "demo", "w", NULL, &removed,
        &err), PG_POLICY_OK);
    assert_false(removed);
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "r1",
        &f->set, &added, &err), PG_POLICY_OK);
    assert_true(added);
    assert_int_equal(f->set.n, 1);
}

/* The first line psql prints for sql, "" on failure. */
static void
psql_value(const char *uri, const char *sql, char *out, size_t len)
{
    char cmd[2048];
    FILE *p;

    snprintf(cmd, sizeof(cmd), "psql -q -X -A -t -v ON_ERROR_STOP=1 '%s' "
        "-c \"%s\" 2>/dev/null", uri, sql);
    out[0] = '\0';
    p = popen(cmd, "r");
    assert_non_null(p);
    if (fgets(out, (int) len, p) == NULL) {
        out[0] = '\0';
    }
    out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

/* Statements the database ran since the last reset (not counting the
 * test's own psql calls), from pg_stat_statements. */
static long
pq_statements(const char *uri)
{
    char v[64];

    psql_value(uri, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements"
        " WHERE query NOT LIKE '%pg_stat_statements%'", v, sizeof(v));
    return strtol(v, NULL, 10);
}

static void
pq_reset_statements(const char *uri)
{
    char v[64];

    psql_value(uri, "SELECT pg_stat_statements_reset() IS NULL", v,
        sizeof(v));
}

/* PostgreSQL: a pin write is one statement (one round trip); a TOFU
 * decided against a pin the local copy holds is none. */
static void
pq_write_is_one_round_trip(void **state)
{
    struct fixture *f = *state;
    struct pg_pin_entry a = tofu_entry("github:org/demo:release.yml",
        "demo-1.0.tar.gz", 1700000000);
    struct pg_pin_entry b = approved_entry("github:org/b:release.yml", "b");
    struct pg_policy_err err;
    char v[64];
    int added = 0, removed = 0;

    if (strncmp(f->uri, "lmdb:", 5) == 0) {
        skip();
    }
    psql_value(f->uri, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements;"
        " SELECT 1 FROM pg_stat_statements LIMIT 1", v, sizeof(v));
    if (v[0] == '\0') {
        /* without the extension preloaded nothing can be counted */
        skip();
    }
    memset(&err, 0, sizeof(err));
    pq_reset_statements(f->uri);
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "r1",
        NULL, &added, &err), PG_POLICY_OK);
    assert_true(added);
    assert_int_equal(pq_statements(f->uri), 1);
    pq_reset_statements(f->uri);
    assert_int_equal(pg_pins_insert_if_absent(f->store, "demo", &a, "r2",
        NULL, &added, &err), PG_POLICY_OK);
    assert_false(added);
    assert_int_equal(pq_statements(f->uri), 0);
    pq_reset_statements(f->uri);
    assert_int_equal(pg_pins_approve(f->store, "demo", &b, NULL, &added,
        &err), PG_POLICY_OK);
    assert_true(added);
    assert_int_equal(pq_statements(f->uri), 1);
    pq_reset_statements(f->uri);
    assert_int_equal(pg_pins_forget(f->store, "demo", "c", NULL, &removed,
        &err), PG_POLICY_OK);
    assert_true(removed);
    assert_int_equal(pq_statements(f->uri), 1);
}

/* ---- client tokens (tokens.c; issue 13 item 5) ----------------------- */

static struct pg_token_rec
token_rec(const char *name, char idc)
{
    struct pg_token_rec t;

    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    memset(t.id, idc, 12);
    snprintf(t.hash, sizeof(t.hash), "sha256$%032d$%064d", 7, 9);
    t.created = 1760000000;
    snprintf(t.by, sizeof(t.by), "test@host");
    return t;
}

static void
tokens_add_revoke_list_and_generation(void **state)
{
    struct fixture *f = *state;
    struct pg_policy_err err;
    struct pg_token_rec a = token_rec("alice", 'a'), b = token_rec("bob",
        'b'), *v = NULL;
    uint64_t g0 = 1, g1 = 0, g2 = 0;
    size_t n = 9;
    int exists = -1, found = -1;

    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_tokens_generation(f->store, &g0, &err), PG_POLICY_OK);
    assert_int_equal(pg_tokens_list(f->store, &v, &n, &err), PG_POLICY_OK);
    assert_int_equal(n, 0);
    b.expires = 1770000000;
    assert_int_equal(pg_tokens_add(f->store, &b, &exists, &err),
        PG_POLICY_OK);
    assert_int_equal(exists, 0);
    assert_int_equal(pg_tokens_add(f->store, &a, &exists, &err),
        PG_POLICY_OK);
    assert_int_equal(exists, 0);
    assert_int_equal(pg_tokens_generation(f->store, &g1, &err), PG_POLICY_OK);
    assert_true(g1 != g0);
    /* a name keeps one live token */
    a.created = 1;
    assert_int_equal(pg_tokens_add(f->store, &a, &exists, &err),
        PG_POLICY_OK);
    assert_int_equal(exists, 1);
    assert_int_equal(pg_tokens_list(f->store, &v, &n, &err), PG_POLICY_OK);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].name, "alice");    /* sorted by name */
    assert_int_equal(v[0].created, 1760000000);
    assert_string_equal(v[0].id, "aaaaaaaaaaaa");
    assert_string_equal(v[1].name, "bob");
    assert_int_equal(v[1].expires, 1770000000);
    assert_string_equal(v[1].hash, b.hash);
    free(v);
    /* revoke: once; then the name may have a new token */
    assert_int_equal(pg_tokens_revoke(f->store, "alice", 1765000000, &found,
        &err), PG_POLICY_OK);
    assert_int_equal(found, 1);
    assert_int_equal(pg_tokens_revoke(f->store, "alice", 1765000001, &found,
        &err), PG_POLICY_OK);
    assert_int_equal(found, 0);
    assert_int_equal(pg_tokens_revoke(f->store, "nobody", 1, &found, &err),
        PG_POLICY_OK);
    assert_int_equal(found, 0);
    assert_int_equal(pg_tokens_generation(f->store, &g2, &err), PG_POLICY_OK);
    assert_true(g2 != g1);
    assert_int_equal(pg_tokens_list(f->store, &v, &n, &err), PG_POLICY_OK);
    assert_int_equal(v[0].revoked, 1765000000);
    free(v);
    a = token_rec("alice", 'c');
    assert_int_equal(pg_tokens_add(f->store, &a, &exists, &err),
        PG_POLICY_OK);
    assert_int_equal(exists, 0);
    assert_int_equal(pg_tokens_list(f->store, &v, &n, &err), PG_POLICY_OK);
    assert_int_equal(v[0].revoked, 0);
    assert_string_equal(v[0].id, "cccccccccccc");
    free(v);
    /* names are checked before anything is written */
    assert_int_equal(pg_tokens_revoke(f->store, "a b", 1, &found, &err),
        PG_POLICY_EINVAL);
    a = token_rec("", 'a');
    assert_int_equal(pg_tokens_add(f->store, &a, &exists, &err),
        PG_POLICY_EINVAL);
}

static void
token_records_are_checked(void **state)
{
    struct pg_policy_err err;
    struct pg_token_rec t = token_rec("alice", 'a'), back;
    char *js = NULL, big[PG_TOKENS_MAX_RECORD + 2];
    size_t len = 0;

    (void) state;
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_token_to_json(&t, &js, &len, &err), PG_POLICY_OK);
    assert_int_equal(pg_token_from_json("alice", js, len, &back, &err),
        PG_POLICY_OK);
    assert_memory_equal(&t, &back, sizeof(t));
    /* a record filed under another name */
    assert_int_equal(pg_token_from_json("bob", js, len, &back, &err),
        PG_POLICY_EPARSE);
    free(js);
    assert_int_equal(pg_token_from_json("alice", "[]", 2, &back, &err),
        PG_POLICY_EPARSE);
    js = "{\"name\":\"alice\",\"id\":\"a\",\"hash\":\"h\",\"by\":\"x\","
        "\"created\":-1,\"expires\":0,\"revoked\":0}";
    assert_int_equal(pg_token_from_json("alice", js, strlen(js), &back,
        &err), PG_POLICY_EPARSE);
    memset(big, ' ', sizeof(big));
    assert_int_equal(pg_token_from_json("alice", big, sizeof(big), &back,
        &err), PG_POLICY_ELIMIT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
        T(unknown_project_has_no_pin_and_generation_zero),
        T(tofu_pin_is_stored_with_its_file_and_times),
        T(tofu_never_overwrites_an_existing_pin),
        T(approve_adds_to_the_set_and_changes_the_generation),
        T(forget_removes_the_pin),
        T(publisher_limit_per_pin_is_enforced),
        T(names_must_be_normalized),
        T(iter_visits_every_project_in_order),
        T(another_process_sees_and_changes_the_same_store),
        T(json_round_trip_keeps_every_field),
        T(malformed_records_are_refused),
        T(record_limits_are_enforced),
        T(every_change_appends_a_history_event),
        T(tofu_returns_the_winner_when_a_pin_exists),
        T(tofu_race_between_processes_makes_exactly_one_pin),
        T(import_replaces_the_set_and_records_it),
        T(event_json_round_trip_and_bad_events_refused),
        T(lmdb_store_refuses_a_foreign_environment),
        T(malformed_store_uris_are_refused),
        T(default_uri_is_beside_the_cache),
        T(change_on_a_stale_copy_keeps_the_other_writers_change),
        T(pq_write_is_one_round_trip),
        T(tokens_add_revoke_list_and_generation),
        T(token_records_are_checked),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
