/* tests/index/test_negotiate.c — Accept, ?format= and Accept-Encoding.
 *
 * The table holds pip's and uv's exact headers (docs/clients.md), q=0,
 * wildcards, parameters, case, whitespace, ?format= and garbage.
 * Spec: RFC 9110 §12.5.1/§12.5.3, PEP 691.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "index_int.h"

#define PIP_ACCEPT "application/vnd.pypi.simple.v1+json, " \
    "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"
#define UV_ACCEPT "application/vnd.pypi.simple.v1+json, " \
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"

struct neg_case {
    const char *name;
    const char *accept;
    const char *format;
    enum pg_index_format want;
};

static const struct neg_case cases[] = {
    { "pip chooses JSON", PIP_ACCEPT, NULL, PG_FMT_JSON },
    { "uv chooses JSON", UV_ACCEPT, NULL, PG_FMT_JSON },
    { "no Accept is text/html", NULL, NULL, PG_FMT_HTML },
    { "empty Accept is text/html", "  ", NULL, PG_FMT_HTML },
    { "text/html alone", "text/html", NULL, PG_FMT_HTML },
    { "v1+html alone", "application/vnd.pypi.simple.v1+html", NULL,
      PG_FMT_HTML_V1 },
    { "latest+json aliases v1", "application/vnd.pypi.simple.latest+json",
      NULL, PG_FMT_JSON },
    { "latest+html aliases v1", "application/vnd.pypi.simple.latest+html",
      NULL, PG_FMT_HTML_V1 },
    { "higher q wins over preference",
      "application/vnd.pypi.simple.v1+json;q=0.5, text/html", NULL,
      PG_FMT_HTML },
    { "tie goes to JSON", "text/html, application/vnd.pypi.simple.v1+json",
      NULL, PG_FMT_JSON },
    { "q=0 refuses JSON",
      "application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.1", NULL,
      PG_FMT_HTML },
    { "q=0 everywhere is nothing",
      "application/vnd.pypi.simple.v1+json;q=0, text/html;q=0.000", NULL,
      PG_FMT_NONE },
    { "*/* ties to JSON", "*/*", NULL, PG_FMT_JSON },
    { "browser header prefers html",
      "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
      NULL, PG_FMT_HTML },
    { "application/* ties to JSON", "application/*", NULL, PG_FMT_JSON },
    { "text/* is text/html", "text/*", NULL, PG_FMT_HTML },
    { "specific q=0 beats wildcard",
      "application/vnd.pypi.simple.v1+json;q=0, */*", NULL,
      PG_FMT_HTML_V1 },
    { "media types are case-insensitive",
      "APPLICATION/VND.PYPI.SIMPLE.V1+JSON", NULL, PG_FMT_JSON },
    { "parameters and blanks are tolerated",
      "  text/html ; charset=utf-8 ; Q = 0.7 ,\t"
      "application/vnd.pypi.simple.v1+json ;level=1; q=0.6", NULL,
      PG_FMT_HTML },
    { "unknown types only is nothing", "text/plain, image/png", NULL,
      PG_FMT_NONE },
    { "garbage is nothing", ";;;,,,/;q=", NULL, PG_FMT_NONE },
    { "malformed q drops the range",
      "application/vnd.pypi.simple.v1+json;q=2, text/html;q=0.5", NULL,
      PG_FMT_HTML },
    { "q with too many digits drops the range",
      "application/vnd.pypi.simple.v1+json;q=0.1234, text/html;q=0.5", NULL,
      PG_FMT_HTML },
    { "format overrides Accept", PIP_ACCEPT, "text/html", PG_FMT_HTML },
    { "format v1+html", NULL, "application/vnd.pypi.simple.v1+html",
      PG_FMT_HTML_V1 },
    { "format json", "text/html", "application/vnd.pypi.simple.v1+json",
      PG_FMT_JSON },
    { "format with + decoded as space", "text/html",
      "application/vnd.pypi.simple.v1 json", PG_FMT_JSON },
    { "format latest", NULL, "application/vnd.pypi.simple.latest+json",
      PG_FMT_JSON },
    { "unknown format is nothing", PIP_ACCEPT, "application/pdf",
      PG_FMT_NONE },
    { "empty format is ignored", PIP_ACCEPT, "", PG_FMT_JSON },
};

static void
negotiation_table(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum pg_index_format got = pg_index_negotiate(cases[i].accept,
            cases[i].format);

        if (got != cases[i].want)
            fail_msg("%s: got %d, want %d", cases[i].name, (int) got,
                (int) cases[i].want);
    }
}

static void
content_types_are_exact(void **state)
{
    (void) state;
    assert_string_equal(pg_index_content_type(PG_FMT_JSON),
        "application/vnd.pypi.simple.v1+json");
    assert_string_equal(pg_index_content_type(PG_FMT_HTML_V1),
        "application/vnd.pypi.simple.v1+html");
    assert_int_equal(strncmp(pg_index_content_type(PG_FMT_HTML),
        "text/html", 9), 0);
    assert_null(pg_index_content_type(PG_FMT_NONE));
}

struct gz_case {
    const char *ae;
    int want;
};

static const struct gz_case gz_cases[] = {
    { "gzip, deflate", 1 },                   /* pip */
    { "gzip, deflate, zstd", 1 },             /* uv */
    { "identity", 0 },                        /* files */
    { NULL, 0 },
    { "", 0 },
    { "GZIP", 1 },
    { "deflate, gzip;q=0", 0 },
    { "gzip;q=0.000", 0 },
    { "gzip ; q=0.5", 1 },
    { "x-gzip", 1 },
    { "*", 1 },
    { "*;q=0", 0 },
    { "gzip;q=0, *", 0 },
    { "br, *;q=0.1", 1 },
    { "gzipx", 0 },
    { "gzip;q=abc", 0 },
};

static void
accept_encoding_table(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(gz_cases) / sizeof(gz_cases[0]); i++)
        if (pg_index_accepts_gzip(gz_cases[i].ae) != gz_cases[i].want)
            fail_msg("Accept-Encoding '%s': want %d",
                gz_cases[i].ae != NULL ? gz_cases[i].ae : "(none)",
                gz_cases[i].want);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(negotiation_table),
        cmocka_unit_test(content_types_are_exact),
        cmocka_unit_test(accept_encoding_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
