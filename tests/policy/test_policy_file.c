/* tests/policy/test_policy_file.c — the policy file: values, merge, errors.
 *
 * Loads policy texts from memory and checks the merged rules each project
 * gets, that every error is reported as "NAME:LINE: message" (all of them,
 * not only the first), the limits at their value and one past it, and that
 * conf/policy.ini passes and documents every directive and nothing else.
 *
 * Spec: design §7, style "Config tables", issue 4 item 2.
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

#ifndef PG_SOURCE_DIR
#define PG_SOURCE_DIR "."
#endif

static struct pg_policy_diag diag;

static struct pg_policy *
load_ok(const char *text)
{
    struct pg_policy *p = NULL;
    int rc = pg_policy_load_buf("t.ini", text, strlen(text), &p, &diag);
    size_t i;

    for (i = 0; i < diag.n; i++) {
        print_message("unexpected: %s\n", diag.msg[i]);
    }
    assert_int_equal(rc, PG_POLICY_OK);
    assert_non_null(p);
    return p;
}

static void
load_fails(const char *text)
{
    struct pg_policy *p = NULL;
    int rc = pg_policy_load_buf("t.ini", text, strlen(text), &p, &diag);

    assert_int_equal(rc, PG_POLICY_ECONFIG);
    assert_null(p);
}

static int
diag_has(const char *needle)
{
    size_t i;

    for (i = 0; i < diag.n; i++) {
        if (strstr(diag.msg[i], needle) != NULL) {
            return 1;
        }
    }
    for (i = 0; i < diag.n; i++) {
        print_message("diag: %s\n", diag.msg[i]);
    }
    return 0;
}

static void
builtin_policy_is_tofu_yank_legacy_allow(void **state)
{
    struct pg_policy *p = pg_policy_builtin();
    const struct pg_policy_rules *r;

    (void) state;
    assert_non_null(p);
    r = pg_policy_for(p, "anything");
    assert_int_equal(r->mode, PG_MODE_TOFU);
    assert_int_equal(r->on_violation, PG_VIOL_YANK);
    assert_int_equal(r->legacy, PG_LEGACY_ALLOW);
    assert_int_equal(r->min_age_s, 0);
    assert_int_equal(r->n_publishers, 0);
    assert_int_equal(pg_policy_generation(p), 0);
    pg_policy_unref(p);
}

static void
empty_file_gives_the_defaults(void **state)
{
    struct pg_policy *p = load_ok("; nothing\n");
    const struct pg_policy_rules *r = pg_policy_for(p, "x");

    (void) state;
    assert_int_equal(r->mode, PG_MODE_TOFU);
    assert_int_equal(r->on_violation, PG_VIOL_YANK);
    assert_int_equal(r->legacy, PG_LEGACY_ALLOW);
    assert_int_equal(r->min_age_s, 0);
    pg_policy_unref(p);
}

static void
defaults_section_sets_every_key(void **state)
{
    struct pg_policy *p = load_ok(
        "[defaults]\n"
        "mode = allow            ; inline comment\n"
        "on_violation = hide\n"
        "legacy = deny\n"
        "min_age = 3d\n");
    const struct pg_policy_rules *r = pg_policy_for(p, "other");

    (void) state;
    assert_int_equal(r->mode, PG_MODE_ALLOW);
    assert_int_equal(r->on_violation, PG_VIOL_HIDE);
    assert_int_equal(r->legacy, PG_LEGACY_DENY);
    assert_int_equal(r->min_age_s, 3 * 86400);
    pg_policy_unref(p);
}

static void
project_inherits_what_it_leaves_out(void **state)
{
    struct pg_policy *p = load_ok(
        "[defaults]\n"
        "on_violation = deny\n"
        "min_age = 12h\n"
        "[project:demo]\n"
        "mode = allow\n");
    const struct pg_policy_rules *r = pg_policy_for(p, "demo");

    (void) state;
    assert_int_equal(r->mode, PG_MODE_ALLOW);
    assert_int_equal(r->on_violation, PG_VIOL_DENY);
    assert_int_equal(r->legacy, PG_LEGACY_ALLOW);
    assert_int_equal(r->min_age_s, 12 * 3600);
    assert_int_equal(pg_policy_for(p, "other")->mode, PG_MODE_TOFU);
    pg_policy_unref(p);
}

static void
project_section_before_defaults_still_merges(void **state)
{
    struct pg_policy *p = load_ok(
        "[project:demo]\n"
        "legacy = deny\n"
        "[defaults]\n"
        "on_violation = hide\n");
    const struct pg_policy_rules *r = pg_policy_for(p, "demo");

    (void) state;
    assert_int_equal(r->legacy, PG_LEGACY_DENY);
    assert_int_equal(r->on_violation, PG_VIOL_HIDE);
    pg_policy_unref(p);
}

static void
project_names_are_pep503_normalized(void **state)
{
    struct pg_policy *p = load_ok(
        "[project:Foo__Bar.baz]\n"
        "mode = off\n");

    (void) state;
    assert_int_equal(pg_policy_for(p, "foo-bar-baz")->mode, PG_MODE_OFF);
    assert_int_equal(pg_policy_n_projects(p), 1);
    pg_policy_unref(p);
}

static void
publisher_lines_repeat_and_replace_the_defaults(void **state)
{
    struct pg_policy *p = load_ok(
        "[defaults]\n"
        "publisher = github:org/one:release.yml\n"
        "[project:a]\n"
        "mode = require\n"
        "publisher = github:org/a:publish.yml:pypi\n"
        "publisher = google:ci@example.iam.gserviceaccount.com\n"
        "[project:b]\n"
        "mode = require\n");
    const struct pg_policy_rules *a = pg_policy_for(p, "a");
    const struct pg_policy_rules *b = pg_policy_for(p, "b");

    (void) state;
    assert_int_equal(a->n_publishers, 2);
    assert_string_equal(a->publishers[0].repository, "org/a");
    assert_string_equal(a->publishers[0].environment, "pypi");
    assert_int_equal(a->publishers[1].kind, PG_PUB_GOOGLE);
    assert_int_equal(b->n_publishers, 1);
    assert_string_equal(b->publishers[0].repository, "org/one");
    pg_policy_unref(p);
}

static void
every_error_is_reported_with_its_line(void **state)
{
    (void) state;
    load_fails(
        "mode = tofu\n"                     /* 1: outside a section */
        "[defaults]\n"                      /* 2 */
        "mode = sometimes\n"                /* 3: bad word */
        "colour = blue\n"                   /* 4: unknown directive */
        "min_age = soon\n"                  /* 5: bad duration */
        "just words\n"                      /* 6: no '=' */
        "[elsewhere]\n"                     /* 7: unknown section */
        "[project:bad name]\n"              /* 8: bad project name */
        "[project:ok]\n"                    /* 9 */
        "legacy = allow\n"                  /* 10 */
        "legacy = deny\n"                   /* 11: duplicate */
        "publisher = nonsense\n"            /* 12: bad publisher */
        "on_violation =\n"                  /* 13: no value */
        "[project:OK]\n"                    /* 14: duplicate section */
        "[unterminated\n");                 /* 15 */
    assert_true(diag_has("t.ini:1: mode: outside a section"));
    assert_true(diag_has("t.ini:3: mode: expected tofu, require, allow or "
        "off, not 'sometimes'"));
    assert_true(diag_has("t.ini:4: unknown directive 'colour'"));
    assert_true(diag_has("t.ini:5: min_age: expected a duration"));
    assert_true(diag_has("t.ini:6: expected 'name = value'"));
    assert_true(diag_has("t.ini:7: unknown section [elsewhere]"));
    assert_true(diag_has("t.ini:8: [project:bad name]: not a valid project"));
    assert_true(diag_has("t.ini:11: legacy: is duplicate (first at line 10)"));
    assert_true(diag_has("t.ini:12: publisher: "));
    assert_true(diag_has("t.ini:13: on_violation: needs a value"));
    assert_true(diag_has("t.ini:14: [project:ok] is duplicate (first at "
        "line 9)"));
    assert_true(diag_has("t.ini:15: section header: expected ']'"));
    assert_int_equal(diag.total, 12);
}

static void
require_without_publisher_is_an_error(void **state)
{
    (void) state;
    load_fails(
        "[defaults]\n"
        "on_violation = hide\n"
        "\n"
        "[project:demo]\n"
        "mode = require\n");
    assert_true(diag_has("t.ini:4: [project:demo]: mode = require needs at "
        "least one publisher line"));
    assert_int_equal(diag.total, 1);
}

static void
durations_parse_with_units(void **state)
{
    static const struct { const char *in; int64_t s; } ok[] = {
        { "0", 0 }, { "90", 90 }, { "90s", 90 }, { "15m", 900 },
        { "12h", 43200 }, { "3d", 259200 }, { "2w", 1209600 },
        { "3660d", 3660LL * 86400 },
    };
    static const char *bad[] = { "", "-1", "3 d", "3dd", "d", "1.5h", "3y",
        "3661d", "99999999999999999999" };
    size_t i;
    int64_t v;

    (void) state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        v = -1;
        assert_null(pg_policy_parse_duration(ok[i].in, &v));
        assert_int_equal(v, ok[i].s);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_non_null(pg_policy_parse_duration(bad[i], &v));
    }
}

static void
line_length_limit_is_enforced(void **state)
{
    char text[PG_POLICY_MAX_LINE + 64];
    struct pg_policy *p = NULL;
    size_t n;

    (void) state;
    /* A comment line of exactly the limit passes … */
    n = (size_t) snprintf(text, sizeof(text), "[defaults]\n;");
    memset(text + n, 'x', PG_POLICY_MAX_LINE - 1);
    memcpy(text + n + PG_POLICY_MAX_LINE - 1, "\n", 2);
    assert_int_equal(pg_policy_load_buf("t.ini", text, strlen(text), &p,
        &diag), PG_POLICY_OK);
    pg_policy_unref(p);
    /* … one more character does not. */
    memset(text + n, 'x', PG_POLICY_MAX_LINE);
    memcpy(text + n + PG_POLICY_MAX_LINE, "\n", 2);
    load_fails(text);
    assert_true(diag_has("t.ini:2: line is too long"));
}

static char *
publisher_lines(size_t count)
{
    size_t cap = 64 + count * 64, off, i;
    char *t = malloc(cap);

    assert_non_null(t);
    off = (size_t) snprintf(t, cap, "[project:demo]\nmode = require\n");
    for (i = 0; i < count; i++) {
        off += (size_t) snprintf(t + off, cap - off,
            "publisher = github:org/r%zu:publish.yml\n", i);
    }
    return t;
}

static void
publisher_count_limit_is_enforced(void **state)
{
    struct pg_policy *p;
    char *t;

    (void) state;
    t = publisher_lines(PG_POLICY_MAX_PUBLISHERS);
    p = load_ok(t);
    assert_int_equal(pg_policy_for(p, "demo")->n_publishers,
        PG_POLICY_MAX_PUBLISHERS);
    pg_policy_unref(p);
    free(t);
    t = publisher_lines(PG_POLICY_MAX_PUBLISHERS + 1);
    load_fails(t);
    assert_true(diag_has("publisher: more than 16 publisher lines"));
    free(t);
}

static char *
project_sections(size_t count)
{
    size_t cap = 64 + count * 40, off = 0, i;
    char *t = malloc(cap);

    assert_non_null(t);
    t[0] = '\0';
    for (i = 0; i < count; i++) {
        off += (size_t) snprintf(t + off, cap - off,
            "[project:p%zu]\nmode = off\n", i);
    }
    return t;
}

static void
project_count_limit_is_enforced(void **state)
{
    struct pg_policy *p;
    char *t;

    (void) state;
    t = project_sections(PG_POLICY_MAX_PROJECTS);
    p = load_ok(t);
    assert_int_equal(pg_policy_n_projects(p), PG_POLICY_MAX_PROJECTS);
    assert_int_equal(pg_policy_for(p, "p9999")->mode, PG_MODE_OFF);
    assert_int_equal(pg_policy_for(p, "p10000")->mode, PG_MODE_TOFU);
    pg_policy_unref(p);
    free(t);
    t = project_sections(PG_POLICY_MAX_PROJECTS + 1);
    load_fails(t);
    assert_true(diag_has("more than 10000 [project:"));
    free(t);
}

static void
file_size_limit_is_enforced(void **state)
{
    char *t = malloc(PG_POLICY_MAX_FILE_BYTES + 2);
    struct pg_policy *p = NULL;
    size_t i;

    (void) state;
    assert_non_null(t);
    for (i = 0; i < PG_POLICY_MAX_FILE_BYTES; i++) {
        t[i] = (i % 64 == 63) ? '\n' : ';';
    }
    assert_int_equal(pg_policy_load_buf("t.ini", t, PG_POLICY_MAX_FILE_BYTES,
        &p, &diag), PG_POLICY_OK);
    pg_policy_unref(p);
    t[PG_POLICY_MAX_FILE_BYTES] = '\n';
    assert_int_equal(pg_policy_load_buf("t.ini", t,
        PG_POLICY_MAX_FILE_BYTES + 1, &p, &diag), PG_POLICY_ECONFIG);
    assert_true(diag_has("larger than"));
    free(t);
}

static void
generation_follows_the_text(void **state)
{
    struct pg_policy *a = load_ok("[defaults]\nmode = tofu\n");
    struct pg_policy *b = load_ok("[defaults]\nmode = tofu\n");
    struct pg_policy *c = load_ok("[defaults]\nmode = allow\n");

    (void) state;
    assert_true(pg_policy_generation(a) != 0);
    assert_true(pg_policy_generation(a) == pg_policy_generation(b));
    assert_true(pg_policy_generation(a) != pg_policy_generation(c));
    assert_ptr_equal(pg_policy_ref(a), a);
    pg_policy_unref(a);
    pg_policy_unref(a);
    pg_policy_unref(b);
    pg_policy_unref(c);
}

static void
missing_file_is_an_io_error_naming_it(void **state)
{
    struct pg_policy *p = NULL;

    (void) state;
    assert_int_equal(pg_policy_load("/nonexistent/policy.ini", &p, &diag),
        PG_POLICY_EIO);
    assert_true(diag_has("/nonexistent/policy.ini: "));
}

static void
shipped_policy_ini_passes_and_documents_every_directive(void **state)
{
    const char *path = PG_SOURCE_DIR "/conf/policy.ini";
    struct pg_policy *p = NULL;
    char line[512];
    int documented[16];
    FILE *f;
    size_t i;

    (void) state;
    assert_true(pg_policy_n_directives <= 16);
    assert_int_equal(pg_policy_load(path, &p, &diag), PG_POLICY_OK);
    pg_policy_unref(p);
    memset(documented, 0, sizeof(documented));
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = line, name[64];
        size_t n = 0;

        while (*s == ';' || *s == '#' || *s == ' ' || *s == '\t') {
            s++;
        }
        while ((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_') {
            n++;
        }
        if (n == 0 || n >= sizeof(name)) {
            continue;
        }
        {
            const char *t = s + n;

            while (*t == ' ') {
                t++;
            }
            if (*t != '=') {
                continue;   /* prose, not "name = value" */
            }
        }
        memcpy(name, s, n);
        name[n] = '\0';
        for (i = 0; i < pg_policy_n_directives; i++) {
            if (strcmp(pg_policy_directives[i].name, name) == 0) {
                documented[i] = 1;
                break;
            }
        }
        if (i == pg_policy_n_directives) {
            fail_msg("conf/policy.ini documents '%s', which is no directive",
                name);
        }
    }
    fclose(f);
    for (i = 0; i < pg_policy_n_directives; i++) {
        if (!documented[i]) {
            fail_msg("conf/policy.ini does not document '%s'",
                pg_policy_directives[i].name);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_policy_is_tofu_yank_legacy_allow),
        cmocka_unit_test(empty_file_gives_the_defaults),
        cmocka_unit_test(defaults_section_sets_every_key),
        cmocka_unit_test(project_inherits_what_it_leaves_out),
        cmocka_unit_test(project_section_before_defaults_still_merges),
        cmocka_unit_test(project_names_are_pep503_normalized),
        cmocka_unit_test(publisher_lines_repeat_and_replace_the_defaults),
        cmocka_unit_test(every_error_is_reported_with_its_line),
        cmocka_unit_test(require_without_publisher_is_an_error),
        cmocka_unit_test(durations_parse_with_units),
        cmocka_unit_test(line_length_limit_is_enforced),
        cmocka_unit_test(publisher_count_limit_is_enforced),
        cmocka_unit_test(project_count_limit_is_enforced),
        cmocka_unit_test(file_size_limit_is_enforced),
        cmocka_unit_test(generation_follows_the_text),
        cmocka_unit_test(missing_file_is_an_io_error_naming_it),
        cmocka_unit_test(
            shipped_policy_ini_passes_and_documents_every_directive),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
