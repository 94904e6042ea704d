/* tests/proxy/test_bind.c — which upstream serves a name (core/bind.c).
 *
 * One configuration with a [upstream] and three private upstreams (names
 * and prefixes, @list, @list again), lists given as the pages route gives
 * them, and a table of names with the upstream and the way the binding
 * must answer: static claims first, a list not known yet is "unknown"
 * (never the default), a name two lists hold is a "conflict", names are
 * compared normalized.  argv[1], if given, is a cmocka test-name filter.
 *
 * Owns: its temp file.  Runs on: the test process.  Spec: issue 13 item 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bind_int.h"
#include "config_int.h"

static const char conf_text[] =
    "[upstream:corp]\n"
    "upstream = https://corp.example/simple/\n"
    "projects = corp-*, Internal_Tools\n"
    "[upstream:lab]\n"
    "upstream = https://lab.example/simple/\n"
    "projects = @list\n"
    "[upstream:gl]\n"
    "upstream = https://gl.example/simple/\n"
    "projects = gl-*, @list\n";

static void
load(struct pg_config *cfg)
{
    char path[] = "/tmp/pgbindXXXXXX", msg[512];
    int fd = mkstemp(path);
    FILE *f;

    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(conf_text, f);
    fclose(f);
    pg_config_defaults(cfg);
    assert_int_equal(pg_config_load(cfg, path, msg, sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(cfg, msg, sizeof(msg)), 0);
    unlink(path);
}

struct want {
    const char *name;           /* normalized */
    const char *up;             /* upstream name */
    enum pg_bind_how how;
    const char *claim;
};

static void
expect(const struct pg_bind *b, const struct pg_config *cfg,
    const struct want *w, size_t n)
{
    struct pg_binding got;
    size_t i;

    for (i = 0; i < n; i++) {
        pg_bind_which(b, w[i].name, &got);
        if (got.how != w[i].how
            || strcmp(cfg->upstreams[got.up].name, w[i].up) != 0
            || strcmp(got.claim, w[i].claim) != 0)
        {
            fail_msg("%s: got %s %s '%s', want %s %s '%s'", w[i].name,
                cfg->upstreams[got.up].name, pg_bind_how_name(got.how),
                got.claim, w[i].up, pg_bind_how_name(w[i].how),
                w[i].claim);
        }
    }
}

static void
bind_unknown_until_every_list_is_known(void **state)
{
    static const struct want before[] = {
        { "corp-web", "corp", PG_BIND_PREFIX, "corp-*" },
        { "internal-tools", "corp", PG_BIND_NAME, "internal-tools" },
        { "gl-runner", "gl", PG_BIND_PREFIX, "gl-*" },
        { "requests", "lab", PG_BIND_UNKNOWN, "" },
    };
    static const char *const lab[] = { "Lab_Thing", "shared" };
    static const struct want half[] = {
        { "lab-thing", "gl", PG_BIND_UNKNOWN, "" },    /* gl's not known */
        { "requests", "gl", PG_BIND_UNKNOWN, "" },
    };
    struct pg_config cfg;
    struct pg_bind *b;

    (void)state;
    load(&cfg);
    assert_int_equal(pg_bind_new(&cfg, &b), 0);
    expect(b, &cfg, before, sizeof(before) / sizeof(before[0]));
    assert_int_equal(pg_bind_set_list(b, 2, lab, 2), 1);
    expect(b, &cfg, half, sizeof(half) / sizeof(half[0]));
    pg_bind_free(b);
    pg_config_free(&cfg);
}

static void
bind_lists_decide_after_static_claims(void **state)
{
    static const char *const lab[] = { "Lab_Thing", "shared", "corp-x",
        "bad name!" };
    static const char *const gl[] = { "shared", "gl.Only", "LAB_thing2" };
    static const char *const gl_again[] = { "gl-only", "shared",
        "lab-thing2" };
    static const struct want w[] = {
        { "lab-thing", "lab", PG_BIND_LIST, "" },
        { "gl-only", "gl", PG_BIND_PREFIX, "gl-*" },
        { "lab-thing2", "gl", PG_BIND_LIST, "" },
        { "corp-x", "corp", PG_BIND_PREFIX, "corp-*" },  /* claim first */
        { "shared", "lab", PG_BIND_CONFLICT, "" },
        { "requests", "default", PG_BIND_DEFAULT, "" },
        { "corp", "default", PG_BIND_DEFAULT, "" },
    };
    struct pg_config cfg;
    struct pg_bind *b;
    struct pg_binding got;

    (void)state;
    load(&cfg);
    assert_int_equal(pg_bind_new(&cfg, &b), 0);
    assert_int_equal(pg_bind_set_list(b, 2, lab, 4), 1);
    assert_int_equal(pg_bind_set_list(b, 3, gl, 3), 1);
    expect(b, &cfg, w, sizeof(w) / sizeof(w[0]));
    pg_bind_which(b, "shared", &got);
    assert_string_equal(cfg.upstreams[got.other].name, "gl");
    /* the same names in other spellings: no change */
    assert_int_equal(pg_bind_set_list(b, 3, gl_again, 3), 0);
    /* [upstream] and a section without @list take no list */
    assert_int_equal(pg_bind_set_list(b, 0, lab, 1), -1);
    assert_int_equal(pg_bind_set_list(b, 1, lab, 1), -1);
    assert_true(pg_bind_listed(b, 2, "lab-thing"));
    assert_false(pg_bind_listed(b, 2, "bad-name"));
    pg_bind_free(b);
    pg_config_free(&cfg);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bind_unknown_until_every_list_is_known),
        cmocka_unit_test(bind_lists_decide_after_static_claims),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
