/* tests/index/test_robust.c — failure paths of the parsers and renderers.
 *
 * allocation failures: jansson's allocator is replaced by one that fails
 * the n-th call, for every n up to what a successful run needs (curl's
 * torture idea); each run must end in a clean refusal or a complete
 * result, never a crash or a leak (LeakSanitizer checks at exit).  For
 * JSON pages the failures start after json_loadb(): jansson 2.14 itself
 * crashes when an allocation fails inside json_loadb() on the fixture
 * (reproduced without any provgate code), so what is tortured there is
 * our validation and rendering (pg_index_finish_project and renderers).
 * mutations: the fixtures with deterministic pseudo-random byte flips,
 * insertions and truncations are parsed and rendered; only crashes,
 * sanitizer reports and leaks fail.  (The libFuzzer targets of
 * tests/fuzz/ are the open-ended version of this.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "index_int.h"
#include "index_priv.h"
#include "fixtures.h"

#define CAP ((size_t) 1 << 20)
#define MUTATIONS 10000

static long alloc_calls, alloc_fail_at;

static void *
failing_malloc(size_t n)
{
    if (++alloc_calls == alloc_fail_at)
        return NULL;
    return malloc(n);
}

/* The fixture JSON as jansson parses it, before our validation. */
static json_t *raw_json;

static void
run_once(int html, int *ok)
{
    char msg[200] = "", *out = NULL;
    size_t len;
    json_t *m;

    if (html) {
        alloc_calls = 0;
        m = pg_index_parse_project_html(fixture_html, strlen(fixture_html),
            PAGE_URL, CAP, msg, sizeof(msg));
    } else {
        long fail_at = alloc_fail_at;

        alloc_fail_at = -1;
        m = json_deep_copy(raw_json);
        assert_non_null(m);
        alloc_calls = 0;
        alloc_fail_at = fail_at;
        if (pg_index_finish_project(m, PAGE_URL, msg, sizeof(msg)) != 0) {
            json_decref(m);
            m = NULL;
        }
    }
    *ok = m != NULL;
    if (m == NULL) {
        assert_true(msg[0] != '\0');
        return;
    }
    if (pg_index_render_project(m, PG_FMT_JSON, PROXY, &out, &len) == 0)
        free(out);
    if (pg_index_render_project(m, PG_FMT_HTML, PROXY, &out, &len) == 0)
        free(out);
    json_decref(m);
}

static void
torture(int html)
{
    long total, n;
    int ok;

    raw_json = json_loads(fixture_json, 0, NULL);
    assert_non_null(raw_json);
    json_set_alloc_funcs(failing_malloc, free);
    alloc_fail_at = -1;
    run_once(html, &ok);
    assert_true(ok);
    total = alloc_calls;
    assert_true(total > 10);
    for (n = 1; n <= total; n++) {
        alloc_fail_at = n;
        run_once(html, &ok);
    }
    json_set_alloc_funcs(malloc, free);
    json_decref(raw_json);
}

static void
json_parse_survives_every_allocation_failure(void **state)
{
    (void) state;
    torture(0);
}

static void
html_parse_survives_every_allocation_failure(void **state)
{
    (void) state;
    torture(1);
}

static uint32_t
next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static const char *const tokens[] = {
    "<a href=", "\"", "'", ">", "<", "&", "&#", "&#x", ";", "#sha256=",
    "data-yanked", "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "null",
    "true", "-1", "%2F", "..", "/", "<!--", "-->", "<base href=\"/\">",
    "\"files\":", "\"url\":", "1e999",
};

/* Every file URL of a rendering is the proxy's, every provenance URL the
 * proxy's /integrity/ route or null. */
static void
check_points_at_proxy(const char *out)
{
    json_t *r = json_loads(out, 0, NULL), *f;
    size_t i;

    assert_non_null(r);
    json_array_foreach(json_object_get(r, "files"), i, f) {
        const char *u = json_string_value(json_object_get(f, "url"));
        json_t *p = json_object_get(f, "provenance");

        assert_non_null(u);
        if (strncmp(u, PROXY "/packages/", strlen(PROXY "/packages/")) != 0)
            fail_msg("file URL %s", u);
        if (json_is_string(p) && strncmp(json_string_value(p),
            PROXY "/integrity/", strlen(PROXY "/integrity/")) != 0)
            fail_msg("provenance URL %s", json_string_value(p));
    }
    json_decref(r);
}

static void
mutate_and_parse(const char *src, int html, uint32_t *seed)
{
    size_t n = strlen(src), len, i, k;
    char *buf = malloc(n + 64), msg[200], *out;
    json_t *m;

    assert_non_null(buf);
    memcpy(buf, src, n);
    len = n;
    k = 1 + next_rand(seed) % 4;
    for (i = 0; i < k; i++) {
        uint32_t r = next_rand(seed), at = len ? next_rand(seed) % len : 0;

        switch (r % 4) {
        case 0:
            buf[at] = (char) next_rand(seed);
            break;
        case 1:
            len = at;
            break;
        case 2: {
            const char *t = tokens[next_rand(seed) % (sizeof(tokens)
                / sizeof(tokens[0]))];
            size_t tl = strlen(t);

            if (len + tl <= n + 63) {
                memmove(buf + at + tl, buf + at, len - at);
                memcpy(buf + at, t, tl);
                len += tl;
            }
            break;
        }
        default:
            if (len > at + 8) {
                memmove(buf + at, buf + at + 8, len - at - 8);
                len -= 8;
            }
            break;
        }
    }
    m = html ? pg_index_parse_project_html(buf, len, PAGE_URL, CAP, msg,
        sizeof(msg))
        : pg_index_parse_project_json(buf, len, PAGE_URL, CAP, msg,
        sizeof(msg));
    if (m != NULL) {
        if (pg_index_render_project(m, PG_FMT_JSON, PROXY, &out, &len) == 0) {
            check_points_at_proxy(out);
            free(out);
        }
        if (pg_index_render_project(m, PG_FMT_HTML, PROXY, &out, &len) == 0)
            free(out);
        json_decref(m);
    }
    free(buf);
}

static void
mutated_pages_do_not_crash(void **state)
{
    uint32_t seed = 0x9e3779b9u;
    int i;

    (void) state;
    for (i = 0; i < MUTATIONS; i++) {
        mutate_and_parse(fixture_json, 0, &seed);
        mutate_and_parse(fixture_html, 1, &seed);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_parse_survives_every_allocation_failure),
        cmocka_unit_test(html_parse_survives_every_allocation_failure),
        cmocka_unit_test(mutated_pages_do_not_crash),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
