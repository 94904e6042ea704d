/* tests/index/test_negotiate.c — Accept, ?format= and Accept-Encoding.
 *
 * The negotiation table carries Warehouse's own cases
 * (tests/unit/api/test_simple.py TestContentNegotiation: no Accept and
 * text/plain give text/html; each type alone selects itself; all three at
 * q=1 give text/html; pip's/uv's q order gives JSON), then the clients'
 * exact headers (docs/clients.md, issue 9: poetry and requests send
 * "any/any", browsers their own), the WebOb rules Warehouse relies on
 * (most specific range first, the first of equal ranges, ties in offer
 * order, media type parameters), bad input (malformed syntax, q out of
 * range, duplicate types: all text/html, never nothing) and ?format=.
 * tests/index/negotiate_webob.py compares the same function with WebOb
 * itself on thousands of generated headers.
 * Spec: RFC 9110 §12.5.1/§12.5.3, PEP 691; issue 9 item 2.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "index_int.h"

#define JSON_T "application/vnd.pypi.simple.v1+json"
#define HTML_T "application/vnd.pypi.simple.v1+html"
#define PIP_ACCEPT JSON_T ", " HTML_T "; q=0.1, text/html; q=0.01"
#define UV_ACCEPT JSON_T ", " HTML_T ";q=0.2, text/html;q=0.01"
#define FIREFOX_ACCEPT "text/html,application/xhtml+xml,application/xml;" \
    "q=0.9,image/avif,image/webp,*/*;q=0.8"
#define CHROME_ACCEPT "text/html,application/xhtml+xml,application/xml;" \
    "q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8," \
    "application/signed-exchange;v=b3;q=0.7"

struct neg_case {
    const char *name;
    const char *accept;
    const char *format;
    enum pg_index_format want;
};

static const struct neg_case cases[] = {
    /* Warehouse's TestContentNegotiation, case for case. */
    { "warehouse: no Accept is text/html", NULL, NULL, PG_FMT_HTML },
    { "warehouse: text/plain is text/html", "text/plain", NULL,
      PG_FMT_HTML },
    { "warehouse: text/html selects text/html", "text/html", NULL,
      PG_FMT_HTML },
    { "warehouse: v1+html selects v1+html", HTML_T, NULL, PG_FMT_HTML_V1 },
    { "warehouse: v1+json selects v1+json", JSON_T, NULL, PG_FMT_JSON },
    { "warehouse: all three at q=1 is text/html",
      "text/html, " HTML_T ", " JSON_T, NULL, PG_FMT_HTML },
    { "warehouse: json over html q order is JSON",
      "text/html;q=0.01, " HTML_T ";q=0.2, " JSON_T, NULL, PG_FMT_JSON },
    /* The clients. */
    { "pip chooses JSON", PIP_ACCEPT, NULL, PG_FMT_JSON },
    { "uv chooses JSON", UV_ACCEPT, NULL, PG_FMT_JSON },
    { "poetry/requests/curl */* is text/html", "*/*", NULL, PG_FMT_HTML },
    { "firefox is text/html", FIREFOX_ACCEPT, NULL, PG_FMT_HTML },
    { "chrome is text/html", CHROME_ACCEPT, NULL, PG_FMT_HTML },
    { "application/json is text/html", "application/json", NULL,
      PG_FMT_HTML },
    { "image/png is text/html", "image/png", NULL, PG_FMT_HTML },
    { "empty Accept is text/html", "", NULL, PG_FMT_HTML },
    { "blank Accept is text/html", "  ", NULL, PG_FMT_HTML },
    /* WebOb's rules. */
    { "text/* is text/html", "text/*", NULL, PG_FMT_HTML },
    { "application/* ties to v1+html (offer order)", "application/*", NULL,
      PG_FMT_HTML_V1 },
    { "*/html matches nothing", "*/html", NULL, PG_FMT_HTML },
    { "tie between html and json is text/html",
      JSON_T ", text/html", NULL, PG_FMT_HTML },
    { "json named above */* is JSON", "*/*;q=0.5, " JSON_T ";q=0.6", NULL,
      PG_FMT_JSON },
    { "json below application/* is v1+html",
      "application/*;q=0.5, " JSON_T ";q=0.4", NULL, PG_FMT_HTML_V1 },
    { "higher q wins", JSON_T ";q=0.5, text/html", NULL, PG_FMT_HTML },
    { "v1+html above text/html", JSON_T ";q=0.1, " HTML_T, NULL,
      PG_FMT_HTML_V1 },
    { "q=0 on the exact type beats */*", JSON_T ";q=0, */*", NULL,
      PG_FMT_HTML },
    { "q=0 everywhere is text/html",
      JSON_T ";q=0, text/html;q=0.000, " HTML_T ";q=0", NULL, PG_FMT_HTML },
    { "media types are case-insensitive", "APPLICATION/VND.PYPI.SIMPLE.V1"
      "+JSON, TEXT/HTML;Q=0.5", NULL, PG_FMT_JSON },
    { "a range with parameters matches no exact offer",
      JSON_T ";level=1, text/html;q=0.5", NULL, PG_FMT_HTML },
    { "parameters after q are extensions",
      JSON_T ";q=1.0;ext;ext2=\"x,y\", text/html;q=0.5", NULL,
      PG_FMT_JSON },
    { "a quoted value may hold a comma",
      "text/html;q=0.1;a=\"x, y\", " JSON_T ";q=0.2", NULL, PG_FMT_JSON },
    { "blanks around separators", JSON_T " ; q=0.9 ,\t text/html ;q=0.1",
      NULL, PG_FMT_JSON },
    { "empty list elements", "text/html;q=0.1,, ," JSON_T, NULL,
      PG_FMT_JSON },
    { "latest+json aliases v1", "application/vnd.pypi.simple.latest+json",
      NULL, PG_FMT_JSON },
    { "latest+html aliases v1", "application/vnd.pypi.simple.latest+html",
      NULL, PG_FMT_HTML_V1 },
    /* Bad input: text/html, never nothing. */
    { "duplicate json: the first q counts",
      JSON_T ";q=0.5, " JSON_T ", text/html;q=0.8", NULL, PG_FMT_HTML },
    { "duplicate json: the first q counts, reversed",
      JSON_T ", " JSON_T ";q=0.1, text/html;q=0.8", NULL, PG_FMT_JSON },
    { "duplicate text/html at q=0 then 1", "text/html;q=0, text/html, "
      JSON_T ";q=0.5", NULL, PG_FMT_JSON },
    { "q above 1 makes the header invalid", JSON_T ";q=2", NULL,
      PG_FMT_HTML },
    { "q=1.001 makes the header invalid", JSON_T ";q=1.001", NULL,
      PG_FMT_HTML },
    { "negative q makes the header invalid", JSON_T ";q=-1", NULL,
      PG_FMT_HTML },
    { "four decimals make the header invalid", JSON_T ";q=0.1234", NULL,
      PG_FMT_HTML },
    { "q without a value makes the header invalid", JSON_T ";q=", NULL,
      PG_FMT_HTML },
    { "blank around = makes the header invalid", JSON_T ";q = 0.5", NULL,
      PG_FMT_HTML },
    { "garbage is text/html", ";;;,,,/;q=", NULL, PG_FMT_HTML },
    { "a leading comma element is invalid", "," JSON_T, NULL, PG_FMT_HTML },
    { "a type without subtype is invalid", "text, " JSON_T, NULL,
      PG_FMT_HTML },
    { "a space inside a type is invalid", JSON_T ", te xt/html", NULL,
      PG_FMT_HTML },
    { "an unterminated quote is invalid", JSON_T ", text/html;q=0.1;a=\"x",
      NULL, PG_FMT_HTML },
    { "a parameter without value is invalid", JSON_T ", text/html;level",
      NULL, PG_FMT_HTML },
    { "a control byte in a quoted value is invalid",
      JSON_T ", text/html;q=0.1;a=\"\001\"", NULL, PG_FMT_HTML },
    { "high bytes in a quoted value are valid",
      JSON_T ", text/html;q=0.1;a=\"\xff\"", NULL, PG_FMT_JSON },
    /* ?format= replaces Accept; what selects nothing is a 406. */
    { "format overrides Accept", PIP_ACCEPT, "text/html", PG_FMT_HTML },
    { "format v1+html", NULL, HTML_T, PG_FMT_HTML_V1 },
    { "format json", "text/html", JSON_T, PG_FMT_JSON },
    { "format with + decoded as space", "text/html",
      "application/vnd.pypi.simple.v1 json", PG_FMT_JSON },
    { "format latest", NULL, "application/vnd.pypi.simple.latest+json",
      PG_FMT_JSON },
    { "format */* is text/html", PIP_ACCEPT, "*/*", PG_FMT_HTML },
    { "unknown format is nothing", PIP_ACCEPT, "application/pdf",
      PG_FMT_NONE },
    { "malformed format is nothing", PIP_ACCEPT, "json", PG_FMT_NONE },
    { "format q=0 is nothing", PIP_ACCEPT, JSON_T ";q=0", PG_FMT_NONE },
    { "empty format is ignored", PIP_ACCEPT, "", PG_FMT_JSON },
    { "blank format is ignored", PIP_ACCEPT, "  ", PG_FMT_JSON },
};

static void
negotiation_table(void **state)
{
    size_t i, bad = 0;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        enum pg_index_format got = pg_index_negotiate(cases[i].accept,
            cases[i].format);

        if (got != cases[i].want) {
            print_error("%s: got %d, want %d\n", cases[i].name, (int) got,
                (int) cases[i].want);
            bad++;
        }
    }
    if (bad > 0)
        fail_msg("%zu of %zu cases differ", bad,
            sizeof(cases) / sizeof(cases[0]));
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
