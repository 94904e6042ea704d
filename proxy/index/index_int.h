/* proxy/index/index_int.h — the index model: parse, annotate, render.
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
 * own (upstream ones are dropped, except meta["_last-serial"], PyPI's
 * integer serial).  The project list (/simple/) is
 * {"meta": …, "projects": [{"name": …}, …]}.
 *
 * After parsing, a model holds: "name" normalized; "meta"."api-version"
 * a "1.x" string (a page of another major version is refused, PEP 629);
 * every "url" and "provenance" absolute (resolved against base_url, or
 * the HTML <base href>); "hashes" an object of lower-case hex digests
 * (sha256 exactly 64 digits; {} when upstream gave none); "upload-time"
 * RFC 3339 UTC with "Z"; "core-metadata" and "dist-info-metadata" both
 * present with the same value, or both absent (PEP 714; PyPI's legacy
 * JSON key "data-dist-info-metadata" is kept verbatim too); JSON null
 * for requires-python / upload-time / metadata / project-status means
 * absent and is dropped; "yanked" false, true or a reason (PEP 592: a
 * bare or empty HTML data-yanked is true).  HTML pages also get
 * "versions" derived from their filenames.
 *
 * Rendering rewrites each file URL to the proxy's own path
 * (pg_index_file_path() below) and provenance URLs to
 * <base>/integrity/<project>/<version>/<filename>/provenance; a file
 * whose URL has no proxy path is left out, and a provenance URL whose
 * filename yields no version becomes null (JSON) / is omitted (HTML), so
 * a client is never pointed at another host.  api-version is rendered as
 * PG_INDEX_API_VERSION ("1.4") or the upstream's 1.x when that is
 * higher (JSON keeps unknown keys, so a newer minor's additions pass
 * through under the version that announces them).  HTML (the same bytes
 * for text/html and v1+html) carries <!DOCTYPE html>, the
 * repository-version meta tag, pypi:project-status(-reason) meta tags
 * and per link: href with one hash fragment (sha256 preferred),
 * data-requires-python, data-dist-info-metadata, data-core-metadata,
 * data-gpg-sig, data-yanked (always with a value: the reason, or ""
 * without one as PyPI writes it; pip reads a bare attribute as not
 * yanked),
 * data-provenance, data-upload-time (read by uv), data-size (ours), and
 * from _provenance: data-publisher (its publisher's "spec", or the
 * publisher string) and data-provenance-<key> for each other string
 * member (status, decision, reason, expected, …); every value is
 * HTML-escaped.  Pages are rendered once per cache update into
 * both formats (and gzip by the caller), never per request.
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
#define PG_INDEX_MAX_HTML_ATTRS 32  /* attributes read per HTML tag (the
                                       rest of the tag is ignored) */
#define PG_INDEX_MAX_RENDER ((size_t) 1 << 30) /* bytes of one rendering */
#define PG_INDEX_API_VERSION "1.4"  /* what provgate renders at least:
                                       PEP 792 project-status is 1.4 */

/* PEP 503 normalization: lower-case, runs of [-_.] become "-".  Writes at
 * most outlen-1 bytes + NUL.  Returns -1 if name is not a valid project
 * name (empty, too long, characters outside [A-Za-z0-9._-], or not starting
 * and ending with a letter/digit); 0 otherwise. */
int pg_index_normalize(const char *name, char *out, size_t outlen);

/* Content negotiation (issue 2 item 3, issue 9 item 2). */
enum pg_index_format {
    PG_FMT_NONE = 0,        /* ?format= selects nothing → 406 */
    PG_FMT_JSON,            /* application/vnd.pypi.simple.v1+json */
    PG_FMT_HTML_V1,         /* application/vnd.pypi.simple.v1+html */
    PG_FMT_HTML             /* text/html */
};
/* Picks the format as PyPI's Warehouse does (index_negotiate.c): the
 * offers text/html, v1+html, v1+json in that order, each getting the q of
 * its most specific matching Accept range; the highest q > 0 wins, ties
 * go to the earlier offer.  No Accept, an invalid one, or one that
 * accepts none of them gives text/html, so JSON comes only when the
 * client names the JSON type (v1, or PEP 691's "latest" alias) at a
 * higher q than the HTML types.  An optional ?format= value (present and
 * non-empty) replaces Accept and is read the same way (" " between token
 * characters read as a form-decoded "+"), except that a value selecting
 * nothing gives PG_FMT_NONE (406).  Never allocates. */
enum pg_index_format pg_index_negotiate(const char *accept,
    const char *format_param);
const char *pg_index_content_type(enum pg_index_format fmt);

/* Whether the client accepts gzip: "gzip" or "x-gzip" with q > 0, or,
 * when neither is named, "*" with q > 0. */
int pg_index_accepts_gzip(const char *accept_encoding);

/* Parses an upstream project page.  base_url is the page's own URL (for
 * relative links; for HTML also the source of the project name, else
 * "<title>Links for NAME"; may be NULL).  Caps: max_bytes,
 * PG_INDEX_MAX_DEPTH (JSON, checked on the bytes before parsing),
 * PG_INDEX_MAX_FILES, PG_INDEX_MAX_URL, PG_INDEX_MAX_FILENAME,
 * PG_INDEX_MAX_HASHES, PG_INDEX_MAX_ATTR (HTML).  Wrong types for known
 * page keys, a missing name or files, or a cap refuse the page.  A file
 * entry that is malformed on its own (bad filename, an encoded NUL, bad
 * digest, time or type of one of its keys) is dropped and the rest kept:
 * the model then holds PG_INDEX_DROPPED, {"count": N, "first": reason},
 * which the caller takes out (json_object_del) after logging and counting
 * it, before storing or rendering the model.
 * Returns the model or NULL with a one-line reason in msg. */
#define PG_INDEX_DROPPED "_provgate_dropped"
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
 * The query and fragment are not part of it.  Writes into out; -1 if it
 * does not fit, the URL is not absolute http(s), longer than
 * PG_INDEX_MAX_URL, or its path has no file name, an empty, "." or ".."
 * segment, an encoded "/", "\", "." or NUL, or a character outside
 * RFC 3986 pchar (so the result is safe in HTML and in a cache key). */
int pg_index_file_path(const char *upstream_url, char *out, size_t outlen);

/* Renders a model for clients (see the top of this file).  base is the
 * proxy's public URL ("http://127.0.0.1:3141"; trailing slashes are
 * ignored).  File URLs become base + pg_index_file_path(); "provenance"
 * URLs become base/integrity/<project>/<version>/<filename>/provenance;
 * keys of the model beginning with "_" are emitted in JSON, and
 * _provenance is shown in HTML as data-provenance-status (its "status")
 * and data-publisher (its "publisher": a string as is, or an object
 * {kind, repository, workflow, environment | email} in the policy's
 * kind:repository:workflow[:environment] form); the page's own top-level
 * _provenance.upstream (issue 13) as <meta name="provgate:upstream">.
 * JSON is compact.
 * Returns 0, or -1 (bad arguments, PG_FMT_NONE, no "name", no memory,
 * over PG_INDEX_MAX_RENDER).  *out is malloc'd and NUL-terminated;
 * *outlen excludes the NUL.  The list renders only entries whose name
 * is valid, linking /simple/<normalized>/. */
int pg_index_render_project(const json_t *model, enum pg_index_format fmt,
    const char *base, char **out, size_t *outlen);
int pg_index_render_list(const json_t *model, enum pg_index_format fmt,
    const char *base, char **out, size_t *outlen);

/* gzip (RFC 1952) of a buffer; *out is malloc'd. */
int pg_index_gzip(const char *in, size_t len, char **out, size_t *outlen);

/* Version of a distribution filename for /integrity/ URLs: wheel
 * (name-version-....whl), egg, or sdist (.tar.gz, .zip, .tar.bz2, .tar.xz,
 * .tgz, .tar, …) where the name may contain "-": the prefix that
 * normalizes to project ends the name (else, for a renamed project, the
 * wheel's first "-" or the sdist's last).  -1 if it cannot be parsed or
 * the version has characters outside [A-Za-z0-9.+!_-]. */
int pg_index_filename_version(const char *filename, const char *project,
    char *out, size_t outlen);

#endif
