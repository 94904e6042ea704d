/* tests/sigstore/test_filename.c — distribution names after parsing (§5.4).
 *
 * pg_pep740_filename_match compares wheel and sdist file names the way
 * packaging parses them: normalized project names, PEP 440 version
 * equality, build tags, the set of expanded wheel tags; and statement
 * checks built on it (subject count, name, lower-case sha256, predicate
 * type, unknown digest keys).
 */
#include "sig_test.h"

#include "pg_policy.h"

static void
equal_names_after_parsing_match(void **state)
{
    static const char *const same[][2] = {
        { "foo-1.0.tar.gz", "foo-1.0.tar.gz" },
        { "Foo_Bar-1.0.tar.gz", "foo.bar-1.0.tar.gz" },
        { "foo--bar-1.0.tar.gz", "foo-bar-1.0.tar.gz" },
        { "foo-1.0.zip", "foo-1.0.tar.gz" },
        { "foo-1.0-py3-none-any.whl", "foo-1.0.0-py3-none-any.whl" },
        { "foo-1.0beta1-py3-none-any.whl", "foo-1.0b1-py3-none-any.whl" },
        { "foo-1.0-1-py3-none-any.whl", "foo-1.0-1-py3-none-any.whl" },
        { "foo-1.0.post1.tar.gz", "foo-1.0_post1.tar.gz" },
        { "foo-1.0rev2.tar.gz", "foo-1.0.post2.tar.gz" },
        { "foo-1.0.dev0.tar.gz", "foo-1.0dev.tar.gz" },
        { "foo-1.0c1.tar.gz", "foo-1.0rc1.tar.gz" },
        { "foo-v1.0.tar.gz", "foo-1.0.tar.gz" },
        { "foo-0!1.0.tar.gz", "foo-1.0.tar.gz" },
        { "foo-1.0+ubuntu.01.tar.gz", "foo-1.0+Ubuntu_1.tar.gz" },
        { "spt3g-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64"
          ".whl", "spt3g-1.0-cp310-cp310-manylinux2014_x86_64.manylinux_2_17"
          "_x86_64.whl" },
        { "foo-1.0-py2.py3-none-any.whl", "foo-1.0-py3.py2-none-any.whl" },
        { "foo-1.0-PY3-NONE-ANY.whl", "foo-1.0-py3-none-any.whl" },
    };
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
        if (pg_pep740_filename_match(same[i][0], same[i][1]) != 1) {
            fail_msg("%s vs %s should match", same[i][0], same[i][1]);
        }
    }
}

static void
different_distributions_do_not_match(void **state)
{
    static const char *const diff[][2] = {
        { "foo-1.0.tar.gz", "foo-1.1.tar.gz" },
        { "foo-1.0.tar.gz", "bar-1.0.tar.gz" },
        { "foo-1.0.tar.gz", "foo-1.0-py3-none-any.whl" },
        { "foo-1!1.0.tar.gz", "foo-1.0.tar.gz" },
        { "foo-1.0a1.tar.gz", "foo-1.0b1.tar.gz" },
        { "foo-1.0.post1.tar.gz", "foo-1.0.tar.gz" },
        { "foo-1.0.dev1.tar.gz", "foo-1.0.tar.gz" },
        { "foo-1.0+a.tar.gz", "foo-1.0.tar.gz" },
        { "foo-1.0-1-py3-none-any.whl", "foo-1.0-2-py3-none-any.whl" },
        { "foo-1.0-1-py3-none-any.whl", "foo-1.0-py3-none-any.whl" },
        { "foo-1.0-py3-none-any.whl", "foo-1.0-py2-none-any.whl" },
        { "foo-1.0-py2.py3-none-any.whl", "foo-1.0-py3-none-any.whl" },
        { "abi3info-2024.10.8-py3-none-any.whl", "abi3info-2024.10.8.tar.gz" },
    };
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(diff) / sizeof(diff[0]); i++) {
        if (pg_pep740_filename_match(diff[i][0], diff[i][1]) != 0) {
            fail_msg("%s vs %s should differ", diff[i][0], diff[i][1]);
        }
    }
}

static void
invalid_names_are_rejected(void **state)
{
    static const char *const bad[] = {
        "foo-1.0.exe", "foo-1.0.TAR.GZ", "foo.tar.gz", "foo-1.0-any.whl",
        "foo-1.0-1-2-py3-none-any.whl", "foo__bar-1.0-py3-none-any.whl",
        "foo-1.0.x.y-py3-none-any.whl", "foo-notaversion.tar.gz",
        "fo o-1.0-py3-none-any.whl", "foo-1.0-x-py3-none-any.whl",
        "foo-1.0+-py3-none-any.whl", "",
    };
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (pg_pep740_filename_match(bad[i], "foo-1.0.tar.gz") != -1) {
            fail_msg("%s should be invalid", bad[i]);
        }
    }
}

#define SHA_HEX "c4e92e9ecc828bef2aa7dba1de8ac983" \
    "511f7532a0df11c770d39099a25cf201"

static int
statement(const char *json, const char *fn, struct pg_sig_err *err)
{
    unsigned char sha[32];
    size_t i;

    for (i = 0; i < 32; i++) {
        unsigned int v;

        sscanf(SHA_HEX + 2 * i, "%2x", &v);
        sha[i] = (unsigned char) v;
    }
    pg_sig_err_init(err);
    return pg_pep740_check_statement((const unsigned char *) json,
        strlen(json), fn, sha, NULL, err);
}

static void
statement_rules_are_enforced(void **state)
{
    static const struct {
        const char *json;
        int ok;
        const char *reason;
    } cases[] = {
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"name\":\"rfc8785-0.1.2-py3-none-any.whl\",\"digest\":{\"sha256\""
          ":\"" SHA_HEX "\"}}],\"predicateType\":\"https://docs.pypi.org/"
          "attestations/publish/v1\",\"predicate\":null}", 1, "" },
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"name\":\"rfc8785-0.1.2-py3-none-any.whl\",\"digest\":{\"sha256\""
          ":\"" SHA_HEX "\"}}],\"predicateType\":\"https://slsa.dev/"
          "provenance/v1\",\"predicate\":{}}", 1, "" },
        { "{\"_type\":\"https://in-toto.io/Statement/v0.1\",\"subject\":[],"
          "\"predicateType\":\"x\"}", 0, "_type" },
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"name\":\"rfc8785-0.1.2-py3-none-any.whl\",\"digest\":{\"sha256\""
          ":\"" SHA_HEX "\"}},{\"name\":\"x-1.0.tar.gz\",\"digest\":{}}],"
          "\"predicateType\":\"https://slsa.dev/provenance/v1\"}", 0,
          "exactly one subject" },
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"name\":\"rfc8785-0.1.2-py3-none-any.whl\",\"digest\":{\"sha256\""
          ":\"" SHA_HEX "\",\"gitCommit\":\"ab\"}}],\"predicateType\":"
          "\"https://slsa.dev/provenance/v1\"}", 0, "malformed subject" },
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"name\":\"rfc8785-0.1.2-py3-none-any.whl\",\"digest\":{\"sha256\""
          ":\"C4E92E9ECC828BEF2AA7DBA1DE8AC983511F7532A0DF11C770D39099A25CF20"
          "1\"}}],\"predicateType\":\"https://slsa.dev/provenance/v1\"}", 0,
          "sha256" },
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"name\":\"rfc8785-0.1.3-py3-none-any.whl\",\"digest\":{\"sha256\""
          ":\"" SHA_HEX "\"}}],\"predicateType\":\"https://slsa.dev/"
          "provenance/v1\"}", 0, "is not this file" },
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"name\":\"rfc8785-0.1.2-py3-none-any.whl\",\"digest\":{\"sha256\""
          ":\"" SHA_HEX "\"}}],\"predicateType\":\"https://example.com/v1\"}",
          0, "predicateType" },
        { "{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{"
          "\"digest\":{\"sha256\":\"" SHA_HEX "\"}}],\"predicateType\":"
          "\"https://slsa.dev/provenance/v1\"}", 0, "malformed subject" },
        { "[1]", 0, "not a JSON object" },
    };
    struct pg_sig_err err;
    size_t i;
    int rc;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rc = statement(cases[i].json, "rfc8785-0.1.2-py3-none-any.whl", &err);
        if (cases[i].ok ? rc != PG_SIG_OK : (rc != PG_SIG_ESTATEMENT
                || strstr(err.reason, cases[i].reason) == NULL))
        {
            fail_msg("case %zu: rc %d reason '%s'", i, rc, err.reason);
        }
        if (!cases[i].ok) {
            assert_string_equal(err.step, "statement");
        }
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equal_names_after_parsing_match),
        cmocka_unit_test(different_distributions_do_not_match),
        cmocka_unit_test(invalid_names_are_rejected),
        cmocka_unit_test(statement_rules_are_enforced),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
