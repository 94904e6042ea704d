/* tests/index/fixtures.h — pages shared by the index tests.
 *
 * Self-contained fixtures (no ../shared): a PEP 691 JSON page and a
 * PEP 503 HTML page that between them use every field provgate keeps
 * (PEP 592, 658, 691, 700, 714, 740, 792, unknown keys, upstream "_"
 * keys that must be dropped), plus small helpers.
 */
#ifndef TESTS_INDEX_FIXTURES_H
#define TESTS_INDEX_FIXTURES_H

#include <string.h>

#include <jansson.h>

#define SHA_A "ab0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
#define SHA_B "cd0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
#define SHA_M "ef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
#define PAGE_URL "https://pypi.org/simple/demo-pkg/"
#define PROXY "http://127.0.0.1:3141"
#define FILES_HOST "https://files.pythonhosted.org"

static const char fixture_json[] =
    "{\"meta\":{\"api-version\":\"1.3\",\"_last-serial\":123,"
    "\"_private\":\"x\"},"
    "\"name\":\"Demo_Pkg\","
    "\"versions\":[\"1.0\",\"2.0\",\"3.0\"],"
    "\"project-status\":{\"status\":\"archived\","
    "\"reason\":\"moved to <demo2> & \\\"more\\\"\"},"
    "\"alternate-locations\":[\"https://example.org/simple/demo-pkg/\"],"
    "\"_upstream_private\":1,"
    "\"files\":["
    "{\"filename\":\"demo_pkg-1.0-py3-none-any.whl\","
    "\"url\":\"" FILES_HOST "/packages/ab/cd/demo_pkg-1.0-py3-none-any.whl\","
    "\"hashes\":{\"sha256\":\"AB0123456789ABCDEF0123456789abcdef0123456789"
    "abcdef0123456789abcd\"},"
    "\"requires-python\":\">=3.8, <4\","
    "\"core-metadata\":{\"sha256\":\"" SHA_M "\"},"
    "\"dist-info-metadata\":{\"sha256\":\"" SHA_M "\"},"
    "\"data-dist-info-metadata\":{\"sha256\":\"" SHA_M "\"},"
    "\"gpg-sig\":false,\"yanked\":false,\"size\":1234,"
    "\"upload-time\":\"2024-01-02T03:04:05.123456Z\","
    "\"provenance\":\"https://pypi.org/integrity/demo-pkg/1.0/"
    "demo_pkg-1.0-py3-none-any.whl/provenance\","
    "\"x-unknown\":{\"nested\":[1,2,{\"deep\":true}]},"
    "\"_provenance\":{\"status\":\"verified\"}},"
    "{\"filename\":\"demo-pkg-2.0.tar.gz\","
    "\"url\":\"../../packages/ef/01/demo-pkg-2.0.tar.gz\","
    "\"hashes\":{\"sha256\":\"" SHA_B "\",\"md5\":\"0123456789abcdef\"},"
    "\"requires-python\":null,\"core-metadata\":true,"
    "\"yanked\":\"broken build\",\"size\":99,"
    "\"upload-time\":\"2024-01-02T05:04:05+02:00\",\"provenance\":null},"
    "{\"filename\":\"demo_pkg-3.0-py3-none-any.whl\","
    "\"url\":\"" FILES_HOST "/packages/12/34/demo_pkg-3.0-py3-none-any.whl\","
    "\"hashes\":{\"sha256\":\"" SHA_A "\"},\"yanked\":true,\"size\":0,"
    "\"gpg-sig\":true,\"upload-time\":\"2025-06-30T23:59:59Z\","
    "\"provenance\":\"/integrity/demo-pkg/3.0/"
    "demo_pkg-3.0-py3-none-any.whl/provenance\"}"
    "]}";

static const char fixture_html[] =
    "<!DOCTYPE html>\n<html>\n  <head>\n"
    "    <meta name=\"pypi:repository-version\" content=\"1.4\">\n"
    "<META NAME='pypi:project-status' CONTENT='quarantined'>"
    "<meta name=\"pypi:project-status-reason\" "
    "content=\"malware &amp; &lt;worse&gt;\">    <title>Links for demo-pkg"
    "</title>\n  </head>\n  <body>\n    <h1>Links for demo-pkg</h1>\n"
    "<!-- <a href=\"https://evil.example/x-1.0.tar.gz\">x</a> -->\n"
    "<a href=\"" FILES_HOST "/packages/ab/cd/demo_pkg-1.0-py3-none-any.whl"
    "#sha256=" SHA_A "\" data-requires-python=\"&gt;=3.8, &lt;4\" "
    "data-dist-info-metadata=\"sha256=" SHA_M "\" "
    "data-core-metadata=\"sha256=" SHA_M "\" data-gpg-sig=\"false\" "
    "data-provenance=\"https://pypi.org/integrity/demo-pkg/1.0/"
    "demo_pkg-1.0-py3-none-any.whl/provenance\" "
    "data-upload-time=\"2024-01-02T03:04:05.123456Z\" data-size=\"1234\""
    " >demo_pkg-1.0-py3-none-any.whl</a><br />\n"
    "<A HREF='../../packages/ef/01/demo-pkg-2.0.tar.gz#md5=0123456789abcdef'"
    " data-yanked=\"broken &quot;build&quot; &#39;x&#x27;\""
    "  data-core-metadata=true data-provenance-status=\"verified\" "
    "data-publisher=\"github:evil/x:w.yml\">demo-pkg-2.0.tar.gz</A><br/>\n"
    "<a href=\"" FILES_HOST "/packages/12/34/demo_pkg-3.0-py3-none-any.whl"
    "#sha256=" SHA_B "\" data-yanked "
    "data-upload-time=\"2025-07-01T01:59:59+02:00\">"
    "demo_pkg-3.0-py3-none-any.whl</a>\n"
    "  </body>\n</html>\n";

/* Occurrences of needle in hay. */
static inline int
count_str(const char *hay, const char *needle)
{
    int n = 0;
    const char *p = hay;

    for (;;) {
        p = strstr(p, needle);
        if (p == NULL)
            break;
        n++;
        p += strlen(needle);
    }
    return n;
}

#endif
