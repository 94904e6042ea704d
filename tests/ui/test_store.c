/* tests/ui/test_store.c — the operator pages' event store: the ring is
 * bounded by count and by bytes (the oldest leave first), a field is cut
 * at its limit, the day counts stay exact after the ring forgot the
 * events, and the filters of /-/events match what they say.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ui_int.h"

#define DAY 86400
#define NOW (20000 * (int64_t) DAY + 12 * 3600)    /* noon UTC */

static void
add(struct pg_ui_store *st, int64_t t, const char *event,
    const char *decision, const char *project, const char *reason)
{
    struct pg_ui_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.time = t;
    ev.event = event;
    ev.decision = decision;
    ev.project = project;
    ev.reason = reason;
    pg_ui_store_add(st, &ev);
}

static void
ring_keeps_the_newest_events_up_to_its_count(void **state)
{
    struct pg_ui_store *st;
    char name[32];
    size_t i;

    (void) state;
    assert_int_equal(pg_ui_store_new(&st), 0);
    for (i = 0; i < PG_UI_STORE_MAX_EVENTS + 100; i++) {
        snprintf(name, sizeof(name), "p%zu", i);
        add(st, NOW - 1000 + (int64_t) i / 100, "reject", "yank", name,
            "r");
    }
    assert_int_equal(pg_ui_store_held(st), PG_UI_STORE_MAX_EVENTS);
    assert_int_equal(pg_ui_store_seen(st), PG_UI_STORE_MAX_EVENTS + 100);
    snprintf(name, sizeof(name), "p%d", PG_UI_STORE_MAX_EVENTS + 99);
    assert_string_equal(pg_ui_store_get(st, 0)->project, name);
    assert_string_equal(pg_ui_store_get(st, PG_UI_STORE_MAX_EVENTS - 1)
        ->project, "p100");
    assert_null(pg_ui_store_get(st, PG_UI_STORE_MAX_EVENTS));
    pg_ui_store_free(st);
}

static void
ring_is_bounded_by_bytes_and_fields_are_cut(void **state)
{
    struct pg_ui_store *st;
    char *big = malloc(100000);
    size_t i, n, per;

    (void) state;
    assert_non_null(big);
    memset(big, 'x', 99999);
    big[99999] = '\0';
    assert_int_equal(pg_ui_store_new(&st), 0);
    for (i = 0; i < PG_UI_STORE_MAX_EVENTS; i++) {
        struct pg_ui_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.time = NOW;
        ev.event = "reject";
        ev.project = big;
        ev.file = big;
        ev.reason = big;
        ev.seen = big;
        ev.expected = big;
        pg_ui_store_add(st, &ev);
    }
    /* per event: five fields cut to PG_UI_STORE_MAX_FIELD bytes, "reject",
     * four empty fields, each with its NUL: as many as fit, no more */
    n = pg_ui_store_held(st);
    per = 5 * (PG_UI_STORE_MAX_FIELD + 1) + 7 + 4;
    assert_true(n * per <= PG_UI_STORE_MAX_BYTES);
    assert_true((n + 1) * per > PG_UI_STORE_MAX_BYTES);
    assert_true(n < PG_UI_STORE_MAX_EVENTS);
    assert_int_equal(strlen(pg_ui_store_get(st, 0)->reason),
        PG_UI_STORE_MAX_FIELD);
    assert_null(pg_ui_store_get(st, 0)->actor);
    pg_ui_store_free(st);
    free(big);
}

static void
day_counts_stay_exact_after_the_ring_forgot(void **state)
{
    struct pg_ui_store *st;
    struct pg_ui_day days[PG_UI_DAYS];
    uint64_t last_day[PG_UI_NKINDS], week[PG_UI_NKINDS];
    size_t i;

    (void) state;
    assert_int_equal(pg_ui_store_new(&st), 0);
    add(st, NOW - 8 * DAY, "reject", "deny", "old", "");   /* outside */
    add(st, NOW - 6 * DAY, "pin-create", "pin", "a", "");
    add(st, NOW - 2 * DAY, "pin-approve", NULL, "a", "");
    add(st, NOW - 13 * 3600, "reject", "hide", "a", "");   /* yesterday,
                                                               in 24 h */
    for (i = 0; i < PG_UI_STORE_MAX_EVENTS + 10; i++) {
        add(st, NOW - 60, "reject", "yank", "b", "");
    }
    pg_ui_store_days(st, NOW, days, last_day, week);
    assert_int_equal(days[PG_UI_DAYS - 1].start, NOW / DAY * DAY);
    assert_int_equal(days[PG_UI_DAYS - 1].n[PG_UI_K_YANK],
        PG_UI_STORE_MAX_EVENTS + 10);
    assert_int_equal(days[PG_UI_DAYS - 2].n[PG_UI_K_HIDE], 1);
    assert_int_equal(days[PG_UI_DAYS - 3].n[PG_UI_K_APPROVE], 1);
    assert_int_equal(days[0].n[PG_UI_K_PIN], 1);
    assert_int_equal(week[PG_UI_K_DENY], 0);
    assert_int_equal(week[PG_UI_K_YANK], PG_UI_STORE_MAX_EVENTS + 10);
    assert_int_equal(last_day[PG_UI_K_HIDE], 1);
    assert_int_equal(last_day[PG_UI_K_APPROVE], 0);
    assert_int_equal(last_day[PG_UI_K_PIN], 0);
    /* a week later, those days have left the window */
    pg_ui_store_days(st, NOW + 8 * DAY, days, last_day, week);
    for (i = 0; i < PG_UI_NKINDS; i++) {
        assert_int_equal(week[i], 0);
    }
    pg_ui_store_free(st);
}

static void
filters_match_project_decision_kind_and_time(void **state)
{
    static const struct {
        const char *project, *decision;
        int64_t since;
        const char *event, *ev_decision, *ev_project;
        int64_t time;
        int want;
    } rows[] = {
        { NULL, NULL, 0, "reject", "yank", "a", NOW, 1 },
        { "a", NULL, 0, "reject", "yank", "a", NOW, 1 },
        { "a", NULL, 0, "reject", "yank", "ab", NOW, 0 },
        { "a", NULL, 0, "policy-reload", NULL, NULL, NOW, 0 },
        { NULL, "refused", 0, "reject", "hide", "a", NOW, 1 },
        { NULL, "refused", 0, "pin-create", "pin", "a", NOW, 0 },
        { NULL, "pin", 0, "pin-create", "pin", "a", NOW, 1 },
        { NULL, "approve", 0, "pin-approve", NULL, "a", NOW, 1 },
        { NULL, "forget", 0, "pin-forget", NULL, "a", NOW, 1 },
        { NULL, "deny", 0, "reject", "yank", "a", NOW, 0 },
        { NULL, NULL, NOW, "reject", "yank", "a", NOW - 1, 0 },
        { NULL, NULL, NOW, "reject", "yank", "a", NOW, 1 },
    };
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct pg_ui_filter f = { rows[i].project, rows[i].decision,
            rows[i].since };
        struct pg_ui_event ev;

        memset(&ev, 0, sizeof(ev));
        ev.event = rows[i].event;
        ev.decision = rows[i].ev_decision;
        ev.project = rows[i].ev_project;
        ev.time = rows[i].time;
        if (pg_ui_filter_match(&f, &ev) != rows[i].want) {
            fail_msg("row %zu: want %d", i, rows[i].want);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ring_keeps_the_newest_events_up_to_its_count),
        cmocka_unit_test(ring_is_bounded_by_bytes_and_fields_are_cut),
        cmocka_unit_test(day_counts_stay_exact_after_the_ring_forgot),
        cmocka_unit_test(filters_match_project_decision_kind_and_time),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
