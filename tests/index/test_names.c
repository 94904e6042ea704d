/* tests/index/test_names.c — PEP 503 normalization, PEP 508 validity and
 * the version of distribution filenames.
 *
 * Tables of {input, expected}; each row is checked on its own so a failure
 * names it.  Spec: PEP 503, PEP 508, wheel and sdist filename rules.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "index_int.h"

struct norm_case {
    const char *in;
    const char *out;            /* NULL: invalid */
};

static const struct norm_case norm_cases[] = {
    { "requests", "requests" },
    { "Requests", "requests" },
    { "Django_REST.framework", "django-rest-framework" },
    { "zope.interface", "zope-interface" },
    { "a--b__c..d", "a-b-c-d" },
    { "a-_.-b", "a-b" },
    { "x", "x" },
    { "9", "9" },
    { "A1", "a1" },
    { "typing_extensions", "typing-extensions" },
    { "", NULL },
    { "-leading", NULL },
    { "trailing_", NULL },
    { ".dot", NULL },
    { "has space", NULL },
    { "slash/name", NULL },
    { "..", NULL },
    { "name%2f", NULL },
    { "caf\xc3\xa9", NULL },
    { "a<b", NULL },
    { "a\"b", NULL },
};

static void
normalization_table(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(norm_cases) / sizeof(norm_cases[0]); i++) {
        char out[PG_INDEX_MAX_NAME + 1];
        int rc = pg_index_normalize(norm_cases[i].in, out, sizeof(out));

        if (norm_cases[i].out == NULL) {
            if (rc != -1)
                fail_msg("'%s' accepted as '%s'", norm_cases[i].in, out);
        } else {
            if (rc != 0)
                fail_msg("'%s' rejected", norm_cases[i].in);
            assert_string_equal(out, norm_cases[i].out);
        }
    }
}

static void
name_length_at_limit_and_over(void **state)
{
    char name[PG_INDEX_MAX_NAME + 2], out[PG_INDEX_MAX_NAME + 8];

    (void) state;
    memset(name, 'a', PG_INDEX_MAX_NAME);
    name[PG_INDEX_MAX_NAME] = '\0';
    assert_int_equal(pg_index_normalize(name, out, sizeof(out)), 0);
    assert_int_equal(strlen(out), PG_INDEX_MAX_NAME);
    name[PG_INDEX_MAX_NAME] = 'a';
    name[PG_INDEX_MAX_NAME + 1] = '\0';
    assert_int_equal(pg_index_normalize(name, out, sizeof(out)), -1);
}

static void
normalize_refuses_small_output(void **state)
{
    char out[4];

    (void) state;
    assert_int_equal(pg_index_normalize("abc", out, sizeof(out)), 0);
    assert_int_equal(pg_index_normalize("abcd", out, sizeof(out)), -1);
    assert_int_equal(pg_index_normalize(NULL, out, sizeof(out)), -1);
}

struct ver_case {
    const char *file;
    const char *project;
    const char *version;        /* NULL: cannot be parsed */
};

static const struct ver_case ver_cases[] = {
    { "iniconfig-2.0.0-py3-none-any.whl", "iniconfig", "2.0.0" },
    { "iniconfig-2.0.0.tar.gz", "iniconfig", "2.0.0" },
    { "zope.interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl",
      "zope-interface", "6.0" },
    { "zope_interface-7.1.1-cp312-cp312-win_amd64.whl", "zope.interface",
      "7.1.1" },
    { "foo-bar-1.2.3.tar.gz", "foo-bar", "1.2.3" },
    { "foo-bar-1.2.3.zip", "Foo_Bar", "1.2.3" },
    { "foo_bar-1.2.3.tar.gz", "foo-bar", "1.2.3" },
    { "pkg-1.0-1-py3-none-any.whl", "pkg", "1.0" },
    { "pkg-1!2.0+local.7-py3-none-any.whl", "pkg", "1!2.0+local.7" },
    { "pkg-1.0.post1.tar.bz2", "pkg", "1.0.post1" },
    { "pkg-0.1-py2.7.egg", "pkg", "0.1" },
    { "renamed-3.1.tar.gz", "other", "3.1" },
    { "pkg-1.0.exe", "pkg", NULL },
    { "pkg.tar.gz", "pkg", NULL },
    { "pkg-1.0.whl", "pkg", NULL },
    { "pkg-.tar.gz", "pkg", NULL },
    { "pkg-1.0\"x.tar.gz", "pkg", NULL },
    { "pkg-1/0.tar.gz", "pkg", NULL },
};

static void
filename_version_table(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(ver_cases) / sizeof(ver_cases[0]); i++) {
        char out[64];
        int rc = pg_index_filename_version(ver_cases[i].file,
            ver_cases[i].project, out, sizeof(out));

        if (ver_cases[i].version == NULL) {
            if (rc != -1)
                fail_msg("'%s' gave '%s'", ver_cases[i].file, out);
        } else {
            if (rc != 0)
                fail_msg("'%s' rejected", ver_cases[i].file);
            assert_string_equal(out, ver_cases[i].version);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(normalization_table),
        cmocka_unit_test(name_length_at_limit_and_over),
        cmocka_unit_test(normalize_refuses_small_output),
        cmocka_unit_test(filename_version_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
