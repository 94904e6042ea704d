/* tests/policy/test_rules.c — the decision table of design §7.
 *
 * Each row is one behaviour: a project's merged rules, its pin set, its
 * files (upload time, verification result, verified publisher) and "now";
 * the expected status, decision, reason class and reason text of every
 * file, and the pin that must be written, if any.  pg_rules_decide is
 * pure, so the table is the whole specification.
 *
 * Spec: design §7, issue 4 item 4.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pg_policy.h"

#define T0 1700000000           /* first attested upload in most rows */
#define DAY 86400
#define NOW (T0 + 365 * DAY)
#define MAXF 6

#define EVIL "github:evil/demo:release.yml"
#define GOOD "github:org/demo:release.yml"
#define MOVED "github:org/demo-new:release.yml"

struct tfile {
    const char *name;
    int64_t t;                  /* upload time, -1 unknown */
    enum pg_vresult v;
    const char *pub;            /* VERIFIED: publisher spec */
};

struct texp {
    enum pg_file_status st;
    enum pg_decision d;
    enum pg_rules_why why;
    const char *reason;         /* substring, or NULL for an empty reason */
};

struct tcase {
    const char *name;
    enum pg_policy_mode mode;
    enum pg_policy_violation viol;
    enum pg_policy_legacy legacy;
    int64_t min_age;
    const char *policy_pubs[3];
    const char *pins[3];         /* accepted publishers already pinned */
    int64_t pin_since;          /* upload time recorded by a tofu pin */
    size_t n;
    struct tfile f[MAXF];
    struct texp e[MAXF];
    int pin_needed;
    size_t pin_file;
    int64_t now;                /* 0 = NOW */
};

#define V PG_VRES_VERIFIED
#define NONE PG_VRES_NONE
#define PEND PG_VRES_PENDING
#define BAD PG_VRES_INVALID
#define OK_V { PG_FS_VERIFIED, PG_DEC_ALLOW, PG_WHY_NONE, NULL }
#define OK_U { PG_FS_UNATTESTED, PG_DEC_ALLOW, PG_WHY_NONE, NULL }
#define TOFU PG_MODE_TOFU, PG_VIOL_YANK, PG_LEGACY_ALLOW, 0

static const struct tcase cases[] = {
    { "off_mode_annotates_nothing",
      PG_MODE_OFF, PG_VIOL_YANK, PG_LEGACY_DENY, 3 * DAY, { NULL },
      { GOOD }, -1, 2,
      { { "demo-1.0.tar.gz", T0, BAD, NULL },
        { "demo-1.1.tar.gz", NOW, NONE, NULL } },
      { { PG_FS_NONE, PG_DEC_NONE, PG_WHY_NONE, NULL },
        { PG_FS_NONE, PG_DEC_NONE, PG_WHY_NONE, NULL } }, 0, 0, 0 },

    { "invalid_provenance_is_rejected_and_never_pins",
      TOFU, { NULL }, { NULL }, -1, 2,
      { { "demo-1.0.tar.gz", T0, BAD, NULL },
        { "demo-1.1.tar.gz", T0 + DAY, V, GOOD } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_INVALID,
          "provgate: provenance of demo-1.0.tar.gz does not verify: "
          "signature mismatch" },
        OK_V }, 1, 1, 0 },

    { "invalid_provenance_is_rejected_even_in_allow_mode",
      PG_MODE_ALLOW, PG_VIOL_DENY, PG_LEGACY_ALLOW, 0, { NULL }, { NULL },
      -1, 1,
      { { "demo-1.0.tar.gz", T0, BAD, NULL } },
      { { PG_FS_REJECTED, PG_DEC_DENY, PG_WHY_INVALID, "does not verify" } },
      0, 0, 0 },

    { "first_sight_pins_the_earliest_uploaded_attested_file",
      TOFU, { NULL }, { NULL }, -1, 3,
      { { "demo-2.0.tar.gz", T0 + 2 * DAY, V, GOOD },
        { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.5.tar.gz", T0 + DAY, V, GOOD } },
      { OK_V, OK_V, OK_V }, 1, 1, 0 },

    { "first_sight_rejects_a_later_file_from_another_publisher",
      TOFU, { NULL }, { NULL }, -1, 2,
      { { "demo-1.1.tar.gz", T0 + DAY, V, EVIL },
        { "demo-1.0.tar.gz", T0, V, GOOD } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER,
          "provgate: publisher " EVIL " is not accepted for demo" },
        OK_V }, 1, 1, 0 },

    { "upload_time_tie_is_broken_by_index_order",
      TOFU, { NULL }, { NULL }, -1, 2,
      { { "demo-1.0-py3-none-any.whl", T0, V, EVIL },
        { "demo-1.0.tar.gz", T0, V, GOOD } },
      { OK_V,
        { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER,
          "publisher " GOOD " is not accepted" } }, 1, 0, 0 },

    { "file_without_upload_time_pins_only_if_no_file_has_one",
      TOFU, { NULL }, { NULL }, -1, 2,
      { { "demo-0.9.tar.gz", -1, V, EVIL },
        { "demo-1.0.tar.gz", T0, V, GOOD } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER, EVIL },
        OK_V }, 1, 1, 0 },

    { "pinned_project_rejects_another_publisher_whenever_uploaded",
      TOFU, { NULL }, { GOOD }, T0, 3,
      { { "demo-0.9.tar.gz", T0 - DAY, V, EVIL },
        { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.2.tar.gz", T0 + DAY, V, EVIL } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER, EVIL },
        OK_V,
        { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER,
          "provgate: publisher " EVIL " is not accepted for demo" } },
      0, 0, 0 },

    { "approved_publisher_joins_the_set",
      TOFU, { NULL }, { GOOD, MOVED }, T0, 2,
      { { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.2.tar.gz", T0 + DAY, V, MOVED } },
      { OK_V, OK_V }, 0, 0, 0 },

    { "github_owner_and_repository_compare_case_insensitively",
      TOFU, { NULL }, { "github:Org/Demo:release.yml" }, T0, 1,
      { { "demo-1.0.tar.gz", T0, V, "github:org/DEMO:release.yml" } },
      { OK_V }, 0, 0, 0 },

    { "pin_without_environment_accepts_any_environment",
      TOFU, { NULL }, { GOOD }, T0, 1,
      { { "demo-1.0.tar.gz", T0, V, GOOD ":pypi" } },
      { OK_V }, 0, 0, 0 },

    { "pin_with_environment_rejects_another_environment",
      TOFU, { NULL }, { GOOD ":pypi" }, T0, 1,
      { { "demo-1.0.tar.gz", T0, V, GOOD ":staging" } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER, ":staging is not "
          "accepted" } }, 0, 0, 0 },

    { "file_without_provenance_after_the_first_attested_upload_is_a_"
      "downgrade",
      TOFU, { NULL }, { NULL }, -1, 2,
      { { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.1.tar.gz", T0 + DAY, NONE, NULL } },
      { OK_V,
        { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_DOWNGRADE,
          "provgate: demo-1.1.tar.gz has no provenance, but demo publishes "
          "with provenance since 2023-11-14T22:13:20Z (downgrade)" } },
      1, 0, 0 },

    { "older_file_without_provenance_is_legacy_and_allowed",
      TOFU, { NULL }, { GOOD }, T0, 3,
      { { "demo-0.8.tar.gz", T0 - 2 * DAY, NONE, NULL },
        { "demo-0.9.tar.gz", T0, NONE, NULL },
        { "demo-1.0.tar.gz", T0, V, GOOD } },
      { OK_U, OK_U, OK_V }, 0, 0, 0 },

    { "legacy_deny_rejects_older_files_without_provenance",
      PG_MODE_TOFU, PG_VIOL_HIDE, PG_LEGACY_DENY, 0, { NULL }, { GOOD }, T0,
      2,
      { { "demo-0.9.tar.gz", T0 - DAY, NONE, NULL },
        { "demo-1.0.tar.gz", T0, V, GOOD } },
      { { PG_FS_REJECTED, PG_DEC_HIDE, PG_WHY_LEGACY,
          "provgate: demo-0.9.tar.gz has no provenance (legacy = deny for "
          "demo)" },
        OK_V }, 0, 0, 0 },

    { "pin_remembers_the_first_attested_upload_when_a_page_loses_all_"
      "provenance",
      TOFU, { NULL }, { GOOD }, T0, 2,
      { { "demo-0.9.tar.gz", T0 - DAY, NONE, NULL },
        { "demo-1.0.tar.gz", T0 + DAY, NONE, NULL } },
      { OK_U,
        { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_DOWNGRADE, "(downgrade)" } },
      0, 0, 0 },

    { "unknown_upload_time_without_provenance_in_a_pinned_project_is_a_"
      "downgrade",
      TOFU, { NULL }, { GOOD }, T0, 1,
      { { "demo-1.1.tar.gz", -1, NONE, NULL } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_DOWNGRADE, "no upload time" } },
      0, 0, 0 },

    { "never_attested_project_is_served_unattested_and_not_pinned",
      PG_MODE_TOFU, PG_VIOL_YANK, PG_LEGACY_DENY, 0, { NULL }, { NULL }, -1,
      2,
      { { "old-1.0.tar.gz", T0, NONE, NULL },
        { "old-1.1.tar.gz", -1, NONE, NULL } },
      { OK_U, OK_U }, 0, 0, 0 },

    { "approved_pin_without_any_attested_upload_rejects_unattested_files",
      TOFU, { NULL }, { GOOD }, -1, 1,
      { { "demo-1.0.tar.gz", T0, NONE, NULL } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_UNATTESTED,
          "provgate: demo-1.0.tar.gz has no provenance; demo accepts only "
          GOOD } }, 0, 0, 0 },

    { "tofu_publisher_lines_replace_the_automatic_pin",
      TOFU, { GOOD }, { NULL }, -1, 2,
      { { "demo-0.9.tar.gz", T0 - DAY, V, EVIL },
        { "demo-1.0.tar.gz", T0, V, GOOD } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER, EVIL },
        OK_V }, 0, 0, 0 },

    { "require_accepts_a_listed_publisher_and_pins_nothing",
      PG_MODE_REQUIRE, PG_VIOL_YANK, PG_LEGACY_ALLOW, 0, { EVIL, GOOD },
      { NULL }, -1, 1,
      { { "demo-1.0.tar.gz", T0, V, GOOD } },
      { OK_V }, 0, 0, 0 },

    { "require_rejects_every_other_publisher_ignoring_pins",
      PG_MODE_REQUIRE, PG_VIOL_HIDE, PG_LEGACY_ALLOW, 0, { MOVED },
      { GOOD }, T0, 2,
      { { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.0-py3-none-any.whl", T0, V, GOOD } },
      { { PG_FS_REJECTED, PG_DEC_HIDE, PG_WHY_PUBLISHER,
          "publisher " GOOD " is not accepted for demo" },
        { PG_FS_REJECTED, PG_DEC_HIDE, PG_WHY_PUBLISHER, GOOD } }, 0, 0, 0 },

    { "require_rejects_files_of_a_project_that_never_attested",
      PG_MODE_REQUIRE, PG_VIOL_DENY, PG_LEGACY_ALLOW, 0, { GOOD }, { NULL },
      -1, 1,
      { { "demo-1.0.tar.gz", T0, NONE, NULL } },
      { { PG_FS_REJECTED, PG_DEC_DENY, PG_WHY_UNATTESTED,
          "accepts only " GOOD } }, 0, 0, 0 },

    { "require_rejects_a_downgrade_and_allows_legacy",
      PG_MODE_REQUIRE, PG_VIOL_YANK, PG_LEGACY_ALLOW, 0, { GOOD }, { NULL },
      -1, 3,
      { { "demo-0.9.tar.gz", T0 - DAY, NONE, NULL },
        { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.1.tar.gz", T0 + DAY, NONE, NULL } },
      { OK_U, OK_V,
        { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_DOWNGRADE, "downgrade" } },
      0, 0, 0 },

    { "allow_mode_accepts_any_publisher_and_no_provenance",
      PG_MODE_ALLOW, PG_VIOL_YANK, PG_LEGACY_DENY, 0, { GOOD }, { GOOD },
      T0, 3,
      { { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.1.tar.gz", T0 + DAY, V, EVIL },
        { "demo-1.2.tar.gz", T0 + 2 * DAY, NONE, NULL } },
      { OK_V, OK_V, OK_U }, 0, 0, 0 },

    { "pending_earliest_file_defers_the_pin",
      TOFU, { NULL }, { NULL }, -1, 3,
      { { "demo-1.0.tar.gz", T0, PEND, NULL },
        { "demo-1.1.tar.gz", T0 + DAY, V, GOOD },
        { "demo-1.2.tar.gz", T0 + 2 * DAY, NONE, NULL } },
      { { PG_FS_PENDING, PG_DEC_PENDING, PG_WHY_NONE, "not verified yet" },
        { PG_FS_VERIFIED, PG_DEC_PENDING, PG_WHY_NONE,
          "waits for an earlier file's provenance to pin demo" },
        { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_DOWNGRADE, "downgrade" } },
      0, 0, 0 },

    { "pending_file_of_a_pinned_project_is_pending",
      TOFU, { NULL }, { GOOD }, T0, 2,
      { { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.1.tar.gz", T0 + DAY, PEND, NULL } },
      { OK_V,
        { PG_FS_PENDING, PG_DEC_PENDING, PG_WHY_NONE,
          "provgate: provenance of demo-1.1.tar.gz is not verified yet" } },
      0, 0, 0 },

    { "min_age_holds_back_recent_files",
      PG_MODE_TOFU, PG_VIOL_DENY, PG_LEGACY_ALLOW, 3 * DAY, { NULL },
      { GOOD }, T0, 3,
      { { "demo-1.0.tar.gz", T0, V, GOOD },
        { "demo-1.1.tar.gz", T0 + 10 * DAY - 1, V, GOOD },
        { "demo-1.1-py3-none-any.whl", T0 + 10 * DAY - 1, PEND, NULL } },
      { OK_V,
        { PG_FS_VERIFIED, PG_DEC_DENY, PG_WHY_MIN_AGE,
          "provgate: demo-1.1.tar.gz was uploaded less than 3d ago "
          "(min_age for demo)" },
        { PG_FS_PENDING, PG_DEC_DENY, PG_WHY_MIN_AGE, "less than 3d" } },
      0, 0, T0 + 13 * DAY - 2 },

    { "min_age_lets_a_file_exactly_that_old_through",
      PG_MODE_ALLOW, PG_VIOL_YANK, PG_LEGACY_ALLOW, 12 * 3600, { NULL },
      { NULL }, -1, 1,
      { { "demo-1.0.tar.gz", T0, NONE, NULL } },
      { OK_U }, 0, 0, T0 + 12 * 3600 },

    { "min_age_holds_back_files_without_upload_time",
      PG_MODE_ALLOW, PG_VIOL_HIDE, PG_LEGACY_ALLOW, 90, { NULL }, { NULL },
      -1, 1,
      { { "demo-1.0.tar.gz", -1, NONE, NULL } },
      { { PG_FS_UNATTESTED, PG_DEC_HIDE, PG_WHY_MIN_AGE,
          "provgate: demo-1.0.tar.gz has no upload time (min_age = 90s for "
          "demo)" } }, 0, 0, 0 },

    { "min_age_does_not_touch_files_already_rejected",
      PG_MODE_TOFU, PG_VIOL_YANK, PG_LEGACY_ALLOW, 2 * DAY, { NULL },
      { GOOD }, T0, 1,
      { { "demo-1.2.tar.gz", NOW - 1, V, EVIL } },
      { { PG_FS_REJECTED, PG_DEC_YANK, PG_WHY_PUBLISHER, "not accepted" } },
      0, 0, 0 },
};

static void
parse(const char *spec, struct pg_publisher *p)
{
    char why[160];

    memset(p, 0, sizeof(*p));
    if (pg_publisher_parse(spec, p, why, sizeof(why)) != 0) {
        fail_msg("bad spec in table: %s: %s", spec, why);
    }
}

static void
run_case(const struct tcase *c)
{
    struct pg_policy_rules rules;
    struct pg_publisher pubs[3];
    struct pg_pin_set *pins = calloc(1, sizeof(*pins));
    struct pg_rules_file files[MAXF];
    struct pg_rules_out out[MAXF];
    struct pg_rules_pin newpin;
    size_t i;

    assert_non_null(pins);
    memset(&rules, 0, sizeof(rules));
    rules.mode = c->mode;
    rules.on_violation = c->viol;
    rules.legacy = c->legacy;
    rules.min_age_s = c->min_age;
    for (i = 0; i < 3 && c->policy_pubs[i] != NULL; i++) {
        parse(c->policy_pubs[i], &pubs[i]);
    }
    rules.n_publishers = i;
    rules.publishers = i > 0 ? pubs : NULL;
    snprintf(pins->project, sizeof(pins->project), "demo");
    for (i = 0; i < 3 && c->pins[i] != NULL; i++) {
        parse(c->pins[i], &pins->e[i].publisher);
        pins->e[i].how = i == 0 && c->pin_since >= 0 ? PG_PIN_TOFU
            : PG_PIN_APPROVED;
        pins->e[i].upload_time = i == 0 ? c->pin_since : -1;
    }
    pins->n = i;
    memset(files, 0, sizeof(files));
    for (i = 0; i < c->n; i++) {
        files[i].filename = c->f[i].name;
        files[i].sha256 = NULL;
        files[i].upload_time = c->f[i].t;
        files[i].vres = c->f[i].v;
        if (c->f[i].pub != NULL) {
            parse(c->f[i].pub, &files[i].publisher);
        }
        files[i].invalid_reason = c->f[i].v == BAD ? "signature mismatch"
            : NULL;
    }
    memset(out, 0x5a, sizeof(out));
    pg_rules_decide("demo", &rules, pins, files, c->n,
        c->now != 0 ? c->now : NOW, out, &newpin);
    for (i = 0; i < c->n; i++) {
        const struct texp *e = &c->e[i];

        if (out[i].status != e->st || out[i].decision != e->d
            || out[i].why != e->why)
        {
            fail_msg("%s: file %zu (%s): got %s/%s/%s, want %s/%s/%s (%s)",
                c->name, i, c->f[i].name,
                pg_rules_status_name(out[i].status),
                pg_rules_decision_name(out[i].decision),
                pg_rules_why_name(out[i].why), pg_rules_status_name(e->st),
                pg_rules_decision_name(e->d), pg_rules_why_name(e->why),
                out[i].reason);
        }
        if (e->reason == NULL && out[i].reason[0] != '\0') {
            fail_msg("%s: file %zu: unexpected reason '%s'", c->name, i,
                out[i].reason);
        }
        if (e->reason != NULL && strstr(out[i].reason, e->reason) == NULL) {
            fail_msg("%s: file %zu: reason '%s' lacks '%s'", c->name, i,
                out[i].reason, e->reason);
        }
        assert_int_equal(pg_rules_refused(out[i].decision),
            out[i].decision == PG_DEC_YANK || out[i].decision == PG_DEC_HIDE
            || out[i].decision == PG_DEC_DENY);
    }
    if (newpin.needed != c->pin_needed) {
        fail_msg("%s: pin needed %d, want %d", c->name, newpin.needed,
            c->pin_needed);
    }
    if (c->pin_needed) {
        assert_int_equal(newpin.file, c->pin_file);
        assert_true(pg_publisher_match(&files[c->pin_file].publisher,
            &newpin.publisher));
    }
    free(pins);
}

static void
decision_table(void **state)
{
    const struct tcase *c = *state;

    run_case(c);
}

static void
rejected_files_name_the_expected_publishers(void **state)
{
    struct pg_policy_rules rules;
    struct pg_pin_set *pins = calloc(1, sizeof(*pins));
    struct pg_rules_file f;
    struct pg_rules_out out;
    struct pg_rules_pin newpin;

    (void) state;
    assert_non_null(pins);
    memset(&rules, 0, sizeof(rules));
    rules.mode = PG_MODE_TOFU;
    rules.on_violation = PG_VIOL_YANK;
    rules.legacy = PG_LEGACY_ALLOW;
    parse(GOOD, &pins->e[0].publisher);
    parse(MOVED, &pins->e[1].publisher);
    pins->e[0].upload_time = pins->e[1].upload_time = -1;
    pins->n = 2;
    memset(&f, 0, sizeof(f));
    f.filename = "demo-1.2.tar.gz";
    f.upload_time = T0;
    f.vres = PG_VRES_VERIFIED;
    parse(EVIL, &f.publisher);
    pg_rules_decide("demo", &rules, pins, &f, 1, NOW, &out, &newpin);
    assert_string_equal(out.expected, GOOD ", " MOVED);
    free(pins);
}

static void
empty_project_decides_nothing_and_pins_nothing(void **state)
{
    struct pg_policy_rules rules;
    struct pg_rules_pin newpin;
    struct pg_rules_out out;

    (void) state;
    memset(&rules, 0, sizeof(rules));
    rules.mode = PG_MODE_TOFU;
    pg_rules_decide("demo", &rules, NULL, NULL, 0, NOW, &out, &newpin);
    assert_int_equal(newpin.needed, 0);
}

/* A file the index gives no sha256 for can never be served (files are
 * served only when their sha256 equals the index's): refused with the
 * reason, as on_violation says, in every mode but off, whatever its
 * provenance; the other files are decided as without it. */
static void
file_without_sha256_is_refused_with_the_reason_in_every_mode_but_off(
    void **state)
{
    static const struct {
        enum pg_policy_mode mode;
        enum pg_policy_violation viol;
        enum pg_vresult vres;
        enum pg_file_status st;
        enum pg_decision d;
    } rows[] = {
        { PG_MODE_ALLOW, PG_VIOL_YANK, PG_VRES_NONE, PG_FS_REJECTED,
          PG_DEC_YANK },
        { PG_MODE_TOFU, PG_VIOL_HIDE, PG_VRES_NONE, PG_FS_REJECTED,
          PG_DEC_HIDE },
        { PG_MODE_TOFU, PG_VIOL_DENY, PG_VRES_VERIFIED, PG_FS_REJECTED,
          PG_DEC_DENY },
        { PG_MODE_REQUIRE, PG_VIOL_YANK, PG_VRES_INVALID, PG_FS_REJECTED,
          PG_DEC_YANK },
        { PG_MODE_OFF, PG_VIOL_YANK, PG_VRES_NONE, PG_FS_NONE, PG_DEC_NONE },
    };
    struct pg_policy_rules rules;
    struct pg_rules_file f[2];
    struct pg_rules_out out[2];
    struct pg_rules_pin newpin;
    struct pg_publisher good;
    size_t i;

    (void) state;
    parse(GOOD, &good);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        memset(&rules, 0, sizeof(rules));
        rules.mode = rows[i].mode;
        rules.on_violation = rows[i].viol;
        rules.legacy = PG_LEGACY_ALLOW;
        rules.publishers = &good;
        rules.n_publishers = 1;
        memset(f, 0, sizeof(f));
        f[0].filename = "demo-0.9.tar.gz";
        f[0].upload_time = T0 - DAY;
        f[0].vres = PG_VRES_NONE;
        f[1].filename = "demo-1.0.tar.gz";
        f[1].upload_time = T0;
        f[1].vres = rows[i].vres;
        f[1].publisher = good;
        f[1].no_sha256 = 1;
        pg_rules_decide("demo", &rules, NULL, f, 2, NOW, out, &newpin);
        if (out[1].status != rows[i].st || out[1].decision != rows[i].d) {
            fail_msg("row %zu: got %s/%s", i,
                pg_rules_status_name(out[1].status),
                pg_rules_decision_name(out[1].decision));
        }
        if (rows[i].mode == PG_MODE_OFF) {
            assert_string_equal(out[1].reason, "");
            continue;
        }
        assert_int_equal(out[1].why, PG_WHY_NO_SHA256);
        assert_string_equal(pg_rules_why_name(out[1].why), "no_sha256");
        assert_string_equal(out[1].reason, "provgate: the index gives no "
            "sha256 for demo-1.0.tar.gz, so it cannot be checked and is "
            "never served");
        /* the other file has its sha256 and is judged on its own */
        assert_true(out[0].why != PG_WHY_NO_SHA256);
    }
}

int
main(void)
{
    struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) + 3];
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(&tests[i], 0, sizeof(tests[i]));
        tests[i].name = cases[i].name;
        tests[i].test_func = decision_table;
        tests[i].initial_state = (void *) &cases[i];
    }
    memset(&tests[i], 0, sizeof(tests[i]));
    tests[i].name = "rejected_files_name_the_expected_publishers";
    tests[i].test_func = rejected_files_name_the_expected_publishers;
    i++;
    memset(&tests[i], 0, sizeof(tests[i]));
    tests[i].name = "empty_project_decides_nothing_and_pins_nothing";
    tests[i].test_func = empty_project_decides_nothing_and_pins_nothing;
    i++;
    memset(&tests[i], 0, sizeof(tests[i]));
    tests[i].name = "file_without_sha256_is_refused_with_the_reason_in_every_"
        "mode_but_off";
    tests[i].test_func =
        file_without_sha256_is_refused_with_the_reason_in_every_mode_but_off;
    i++;
    return _cmocka_run_group_tests("rules", tests, i, NULL, NULL);
}
