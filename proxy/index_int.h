/* proxy/index_int.h — the index model: parse, annotate, render.
 *
 * The model of a project page is a jansson object in PEP 691 JSON form
 * (api-version 1.x), whatever the upstream sent:
 *   { "meta": {"api-version": "1.4", "_last-serial"?: …, "project-status"?…},
 *     "name": "<normalized>", "versions": [...], "project-status"?: {...},
 *     "files": [ { "filename", "url" (absolute upstream URL), "hashes",
 *                  "requires-python", "core-metadata", "dist-info-metadata",
 *                  "yanked", "size", "upload-time", "provenance",
 *                  "_provenance"? … every other key kept as is } ] }
 * An HTML (PEP 503) upstream page is parsed into the same form (data-*
 * attributes → keys, #sha256= fragment → hashes, relative URLs resolved).
 * Unknown keys are kept verbatim; keys beginning with "_" are provgate's
 * own (upstream ones are dropped).  The project list (/simple/) is
 * {"meta": …, "projects": [{"name": …}, …]}.
 *
 * Rendering rewrites each file URL to the proxy's own path
 * (pg_index_file_path() below) and provenance URLs to
 * <base>/integrity/<project>/<version>/<filename>/provenance.  Pages are
 * rendered once per cache update into both formats (and gzip by the
 * caller), never per request.
 *
 * Owns: the json_t it returns (caller json_decref).  Borrows: input bytes.
 * Runs on: either (pure functions).  Spec: PEP 503, 592, 658, 691, 700,
 * 714, 740, 792; design §5; issue 2 item 3.
 */
#ifndef PG_INDEX_INT_H
#define PG_INDEX_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PG_INDEX_MAX_DEPTH 32       /* JSON nesting accepted from upstream */
#define PG_INDEX_MAX_FILES 200000   /* files per project page */
#define PG_INDEX_MAX_NAME 200       /* project name length */
#define PG_INDEX_MAX_URL 4096       /* a file or provenance URL */
#define PG_INDEX_MAX_FILENAME 255   /* a distribution filename */
#define PG_INDEX_MAX_PROJECTS 2000000 /* entries of the project list */
#define PG_INDEX_MAX_ATTR 8192      /* an HTML attribute value, unescaped */
#define PG_INDEX_MAX_HASHES 16      /* entries of one "hashes" object */
#define PG_INDEX_MAX_RENDER ((size_t) 1 << 30) /* bytes of one rendering */
#define PG_INDEX_API_VERSION "1.4"  /* what provgate renders at least:
                                       PEP 792 project-status is 1.4 */

/* PEP 503 normalization: lower-case, runs of [-_.] become "-".  Writes at
 * most outlen-1 bytes + NUL.  Returns -1 if name is not a valid project
 * name (empty, too long, characters outside [A-Za-z0-9._-], or not starting
 * and ending with a letter/digit); 0 otherwise. */
int pg_index_normalize(const char *name, char *out, size_t outlen);

/* Content negotiation (issue 2 item 3). */
enum pg_index_format {
    PG_FMT_NONE = 0,        /* nothing acceptable → 406 */
    PG_FMT_JSON,            /* application/vnd.pypi.simple.v1+json */
    PG_FMT_HTML_V1,         /* application/vnd.pypi.simple.v1+html */
    PG_FMT_HTML             /* text/html */
};
/* Picks the best format from an Accept header (q-values honoured, ties go
 * to the server's preference JSON > v1+html > text/html; "*" / "*" and
 * application/vnd.pypi.simple.latest+json count) and an optional ?format=
 * value, which wins when present.  A missing Accept means text/html. */
enum pg_index_format pg_index_negotiate(const char *accept,
    const char *format_param);
const char *pg_index_content_type(enum pg_index_format fmt);

/* Whether the client accepts gzip (Accept-Encoding with q > 0). */
int pg_index_accepts_gzip(const char *accept_encoding);

/* Parses an upstream project page.  base_url is the page's own URL (for
 * relative links).  Caps: max_bytes, PG_INDEX_MAX_DEPTH, PG_INDEX_MAX_FILES.
 * Returns the model or NULL with a one-line reason in msg. */
json_t *pg_index_parse_project_json(const char *buf, size_t len,
    const char *base_url, size_t max_bytes, char *msg, size_t mlen);
json_t *pg_index_parse_project_html(const char *buf, size_t len,
    const char *base_url, size_t max_bytes, char *msg, size_t mlen);
/* Project list (/simple/). */
json_t *pg_index_parse_list_json(const char *buf, size_t len,
    size_t max_bytes, char *msg, size_t mlen);
json_t *pg_index_parse_list_html(const char *buf, size_t len,
    size_t max_bytes, char *msg, size_t mlen);

/* The proxy path of a file: "/packages/<the upstream URL's path after its
 * last "/packages/" or, if none, after the host>", so
 * https://files.pythonhosted.org/packages/ab/cd/x.whl → /packages/ab/cd/x.whl.
 * Writes into out; -1 if it does not fit or the URL has no path. */
int pg_index_file_path(const char *upstream_url, char *out, size_t outlen);

/* Renders a model for clients.  base is the proxy's public URL without a
 * trailing slash ("http://127.0.0.1:3141").  File URLs become
 * base + pg_index_file_path(); "provenance" URLs become
 * base/integrity/<project>/<version>/<filename>/provenance; keys of the
 * model beginning with "_" are emitted in JSON, and _provenance is shown in
 * HTML as data-provenance-status / data-publisher.  *out is malloc'd. */
int pg_index_render_project(const json_t *model, enum pg_index_format fmt,
    const char *base, char **out, size_t *outlen);
int pg_index_render_list(const json_t *model, enum pg_index_format fmt,
    const char *base, char **out, size_t *outlen);

/* gzip (RFC 1952) of a buffer; *out is malloc'd. */
int pg_index_gzip(const char *in, size_t len, char **out, size_t *outlen);

/* Version of a distribution filename (wheel or sdist) for /integrity/ URLs;
 * -1 if the filename cannot be parsed. */
int pg_index_filename_version(const char *filename, const char *project,
    char *out, size_t outlen);

#endif
