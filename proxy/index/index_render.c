/* proxy/index/index_render.c — the model → what clients read (JSON and HTML).
 *
 * A page is rendered once per cache update into each format; the caller
 * keeps the bytes (and their gzip) and serves them as they are.  Every
 * file URL is rewritten to the proxy (base + pg_index_file_path()), every
 * provenance URL to base/integrity/<project>/<version>/<filename>/
 * provenance; a file whose URL has no proxy path is left out, so a client
 * is never pointed at a foreign host.  JSON rendering shares the model's
 * unchanged values (reference counts, no deep copy) and lets jansson emit
 * compact JSON; HTML is written straight into a bounded buffer, every
 * value HTML-escaped.
 *
 * api-version: provgate renders "1.4" (PEP 792, the newest minor it
 * implements), or the upstream's 1.x if that is higher: minor versions
 * only add keys, and the JSON rendering keeps unknown keys verbatim, so a
 * newer upstream's additions reach the client with the version that
 * announces them.  HTML renders the same number.
 *
 * Owns: *out (malloc'd, caller free()).  Borrows: the model.
 * Runs on: either (a 2,000-file page takes a few milliseconds).
 * Spec: PEP 503, 592, 629, 658, 691, 700, 714, 740, 792; design §5.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "index_int.h"
#include "index_priv.h"

static size_t base_len(const char *base);
static int join(char *out, size_t outlen, size_t *o, const char *s,
    size_t n);
static void api_version(const json_t *model, char *out, size_t outlen);
static int integrity_url(const char *base, size_t bl, const char *project,
    const char *filename, char *out, size_t outlen);
static void put_json_str(struct pg_buf *b, const char *s, size_t n);
static void put_json_cstr(struct pg_buf *b, const char *s);
static void put_dumped(struct pg_buf *b, const json_t *v);
static void put_json_value(struct pg_buf *b, const json_t *v);
static void put_key(struct pg_buf *b, int *n, const char *k);
static void render_file_json(struct pg_buf *b, int *nfiles,
    const json_t *f, const char *base, size_t bl, const char *project);
static int render_json(const json_t *model, const char *base, char **out,
    size_t *outlen);
static const json_t *metadata_of(const json_t *f, const char *key);
static void put_metadata_attr(struct pg_buf *b, const char *attr,
    const json_t *v);
static void put_publisher(struct pg_buf *b, const json_t *pub);
static void put_provenance_attrs(struct pg_buf *b, const json_t *pv);
static void render_file_html(struct pg_buf *b, const json_t *f,
    const char *base, size_t bl, const char *project);
static int render_html(const json_t *model, const char *base, char **out,
    size_t *outlen);
static int take(struct pg_buf *b, char **out, size_t *outlen);

/* base without its trailing slashes. */
static size_t
base_len(const char *base)
{
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    return n;
}

/* Appends n bytes of s at out + *o, keeping a NUL; -1 if it does not
 * fit. */
static int
join(char *out, size_t outlen, size_t *o, const char *s, size_t n)
{
    if (*o + n + 1 > outlen)
        return -1;
    memcpy(out + *o, s, n);
    *o += n;
    out[*o] = '\0';
    return 0;
}

static void
api_version(const json_t *model, char *out, size_t outlen)
{
    const json_t *meta = json_object_get(model, "meta");
    int m = pg_index_api_minor(json_string_value(json_object_get(meta,
        "api-version")));

    if (m < PG_INDEX_OUR_MINOR)
        m = PG_INDEX_OUR_MINOR;
    snprintf(out, outlen, "1.%d", m);
}

/* Percent-encodes everything but RFC 3986 unreserved characters and the
 * '+' and '!' of versions. */
static int
integrity_url(const char *base, size_t bl, const char *project,
    const char *filename, char *out, size_t outlen)
{
    char ver[128];
    size_t o = 0;
    const char *s;

    if (project == NULL || filename == NULL
        || pg_index_filename_version(filename, project, ver, sizeof(ver))
        != 0)
        return -1;
    if (join(out, outlen, &o, base, bl) != 0
        || join(out, outlen, &o, "/integrity/", 11) != 0
        || join(out, outlen, &o, project, strlen(project)) != 0
        || join(out, outlen, &o, "/", 1) != 0
        || join(out, outlen, &o, ver, strlen(ver)) != 0
        || join(out, outlen, &o, "/", 1) != 0)
        return -1;
    for (s = filename; *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;

        if (isalnum(c) || strchr("-._~+!", c) != NULL) {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char) c;
        } else {
            if (o + 3 >= outlen)
                return -1;
            snprintf(out + o, 4, "%%%02X", c);
            o += 3;
        }
    }
    return join(out, outlen, &o, "/provenance", 11);
}

/* Bytes a JSON string literal must escape: controls, '"' and '\\'. */
static const unsigned char json_special[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1
};

/* The two-character escape of a special byte, if it has one (else
 * \u00XX). */
static const char json_short[256] = {
    ['"'] = '"', ['\\'] = '\\', ['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't',
    ['\b'] = 'b', ['\f'] = 'f'
};

/* JSON string literal of n bytes of s (valid UTF-8, as jansson keeps
 * it): only '"', '\\' and control characters are escaped. */
static void
put_json_str(struct pg_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i, run = 0;

    pg_buf_put(b, "\"", 1);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];
        char esc[6];

        if (!json_special[c])
            continue;
        pg_buf_put(b, s + run, i - run);
        run = i + 1;
        esc[0] = '\\';
        esc[1] = json_short[c];
        if (esc[1] != '\0') {
            pg_buf_put(b, esc, 2);
            continue;
        }
        memcpy(esc + 1, "u00", 3);
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        pg_buf_put(b, esc, 6);
    }
    pg_buf_put(b, s + run, n - run);
    pg_buf_put(b, "\"", 1);
}

static void
put_json_cstr(struct pg_buf *b, const char *s)
{
    put_json_str(b, s, strlen(s));
}

/* What jansson makes of v (reals, and anything nested deeper than the
 * emitter's stack). */
static void
put_dumped(struct pg_buf *b, const json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

    if (s == NULL) {
        b->failed = 1;
        return;
    }
    pg_buf_puts(b, s);
    free(s);
}

#define EMIT_MAX_DEPTH (PG_INDEX_MAX_DEPTH + 8)

struct emit_frame {
    const json_t *c;
    void *it;                   /* next member of an object */
    size_t i;                   /* members emitted so far */
};

/* Any JSON value, compact, iteratively (an explicit stack of
 * EMIT_MAX_DEPTH frames; deeper values go through jansson). */
static void
put_json_value(struct pg_buf *b, const json_t *v)
{
    struct emit_frame st[EMIT_MAX_DEPTH];
    const json_t *cur = v;
    int sp = 0;
    char num[32];

    for (;;) {
        if (cur != NULL) {
            switch (json_typeof(cur)) {
            case JSON_OBJECT:
            case JSON_ARRAY:
                if (sp == EMIT_MAX_DEPTH) {
                    put_dumped(b, cur);
                    break;
                }
                pg_buf_put(b, json_is_object(cur) ? "{" : "[", 1);
                st[sp].c = cur;
                st[sp].it = json_is_object(cur)
                    ? json_object_iter((json_t *) cur) : NULL;
                st[sp].i = 0;
                sp++;
                break;
            case JSON_STRING:
                put_json_str(b, json_string_value(cur),
                    json_string_length(cur));
                break;
            case JSON_INTEGER:
                snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                    json_integer_value(cur));
                pg_buf_puts(b, num);
                break;
            case JSON_REAL:
                put_dumped(b, cur);
                break;
            case JSON_TRUE:
                pg_buf_put(b, "true", 4);
                break;
            case JSON_FALSE:
                pg_buf_put(b, "false", 5);
                break;
            case JSON_NULL:
                pg_buf_put(b, "null", 4);
                break;
            }
        }
        cur = NULL;
        while (sp > 0 && cur == NULL) {
            struct emit_frame *f = &st[sp - 1];

            if (json_is_object(f->c)) {
                if (f->it == NULL) {
                    pg_buf_put(b, "}", 1);
                    sp--;
                    continue;
                }
                if (f->i++ > 0)
                    pg_buf_put(b, ",", 1);
                put_json_cstr(b, json_object_iter_key(f->it));
                pg_buf_put(b, ":", 1);
                cur = json_object_iter_value(f->it);
                f->it = json_object_iter_next((json_t *) f->c, f->it);
            } else {
                if (f->i >= json_array_size(f->c)) {
                    pg_buf_put(b, "]", 1);
                    sp--;
                    continue;
                }
                if (f->i > 0)
                    pg_buf_put(b, ",", 1);
                cur = json_array_get(f->c, f->i++);
            }
        }
        if (cur == NULL)
            return;
    }
}

static void
put_key(struct pg_buf *b, int *n, const char *k)
{
    if ((*n)++ > 0)
        pg_buf_put(b, ",", 1);
    put_json_cstr(b, k);
    pg_buf_put(b, ":", 1);
}

/* One file object; nothing when its URL has no proxy path. */
static void
render_file_json(struct pg_buf *b, int *nfiles, const json_t *f,
    const char *base, size_t bl, const char *project)
{
    char path[PG_INDEX_MAX_URL + 1], iu[2 * PG_INDEX_MAX_URL + 2];
    char url[2 * PG_INDEX_MAX_URL + 2];
    const char *k, *fn;
    const json_t *v, *cm, *dm;
    int n = 0;
    size_t o = 0;

    if (pg_index_file_path(json_string_value(json_object_get(f, "url")),
        path, sizeof(path)) != 0
        || join(url, sizeof(url), &o, base, bl) != 0
        || join(url, sizeof(url), &o, path, strlen(path)) != 0)
        return;
    fn = json_string_value(json_object_get(f, "filename"));
    if ((*nfiles)++ > 0)
        pg_buf_put(b, ",", 1);
    pg_buf_put(b, "{", 1);
    json_object_foreach((json_t *) f, k, v) {
        /* The metadata keys are written below, under their JSON names. */
        if (strcmp(k, "dist-info-metadata") == 0
            || strcmp(k, "data-dist-info-metadata") == 0)
        {
            continue;
        }
        put_key(b, &n, k);
        if (strcmp(k, "url") == 0) {
            put_json_cstr(b, url);
        } else if (strcmp(k, "provenance") == 0 && json_is_string(v)) {
            if (integrity_url(base, bl, project, fn, iu, sizeof(iu)) == 0)
                put_json_cstr(b, iu);
            else
                pg_buf_put(b, "null", 4);
        } else {
            put_json_value(b, v);
        }
    }
    /* PEP 714: "core-metadata" is the JSON key.  The legacy value goes out
     * as "data-dist-info-metadata", the name PyPI's JSON uses, never as
     * "dist-info-metadata": pip 22.3-23.0 read that key as a string and
     * crash on the hash object (the bug PEP 714 renamed the key for). */
    cm = json_object_get(f, "core-metadata");
    dm = json_object_get(f, "dist-info-metadata");
    if (dm == NULL)
        dm = json_object_get(f, "data-dist-info-metadata");
    if (cm == NULL && dm != NULL) {
        put_key(b, &n, "core-metadata");
        put_json_value(b, dm);
    }
    if (dm != NULL || cm != NULL) {
        put_key(b, &n, "data-dist-info-metadata");
        put_json_value(b, dm != NULL ? dm : cm);
    }
    pg_buf_put(b, "}", 1);
}

static int
render_json(const json_t *model, const char *base, char **out,
    size_t *outlen)
{
    const char *k, *project;
    const json_t *v;
    char ver[16];
    size_t bl = base_len(base), i;
    struct pg_buf b;
    int n = 0;

    project = json_string_value(json_object_get(model, "name"));
    api_version(model, ver, sizeof(ver));
    pg_buf_init(&b, 256 + json_array_size(json_object_get(model, "files"))
        * 900, PG_INDEX_MAX_RENDER);
    pg_buf_put(&b, "{", 1);
    json_object_foreach((json_t *) model, k, v) {
        put_key(&b, &n, k);
        if (strcmp(k, "files") == 0 && json_is_array(v)) {
            int nf = 0;

            pg_buf_put(&b, "[", 1);
            for (i = 0; i < json_array_size(v); i++)
                render_file_json(&b, &nf, json_array_get(v, i), base, bl,
                    project);
            pg_buf_put(&b, "]", 1);
        } else if (strcmp(k, "meta") == 0 && json_is_object(v)) {
            const char *mk;
            const json_t *mv;
            int nm = 0;

            pg_buf_put(&b, "{", 1);
            put_key(&b, &nm, "api-version");
            put_json_cstr(&b, ver);
            json_object_foreach((json_t *) v, mk, mv) {
                if (strcmp(mk, "api-version") == 0)
                    continue;
                put_key(&b, &nm, mk);
                put_json_value(&b, mv);
            }
            pg_buf_put(&b, "}", 1);
        } else {
            put_json_value(&b, v);
        }
    }
    if (json_object_get(model, "meta") == NULL) {
        put_key(&b, &n, "meta");
        pg_buf_puts(&b, "{\"api-version\":");
        put_json_cstr(&b, ver);
        pg_buf_put(&b, "}", 1);
    }
    pg_buf_put(&b, "}", 1);
    return take(&b, out, outlen);
}

static const json_t *
metadata_of(const json_t *f, const char *key)
{
    const json_t *v = json_object_get(f, key);

    if (v == NULL)
        v = json_object_get(f, strcmp(key, "core-metadata") == 0
            ? "dist-info-metadata" : "core-metadata");
    return v;
}

/* data-core-metadata="true" or "sha256=…" (PEP 658/714). */
static void
put_metadata_attr(struct pg_buf *b, const char *attr, const json_t *v)
{
    const json_t *h;

    if (json_is_true(v)) {
        pg_buf_puts(b, " ");
        pg_buf_puts(b, attr);
        pg_buf_puts(b, "=\"true\"");
    } else if (json_is_object(v) && json_object_size(v) > 0) {
        const char *name = "sha256";

        h = json_object_get(v, name);
        if (!json_is_string(h)) {
            void *it = json_object_iter((json_t *) v);

            name = json_object_iter_key(it);
            h = json_object_iter_value(it);
        }
        if (!json_is_string(h))
            return;
        pg_buf_puts(b, " ");
        pg_buf_puts(b, attr);
        pg_buf_puts(b, "=\"");
        pg_index_put_html(b, name);
        pg_buf_puts(b, "=");
        pg_index_put_html(b, json_string_value(h));
        pg_buf_puts(b, "\"");
    }
}

/* _provenance.publisher: a string as it is, or an object: its "spec"
 * (proxy/provenance.c sets it), else built in the policy's spec form
 * kind:repository:workflow[:environment] / google:email. */
static void
put_publisher(struct pg_buf *b, const json_t *pub)
{
    /* PEP 740 names a GitLab workflow "workflow_filepath"; kinds are
     * spelled "GitHub", "GitLab", "Google" (the spec form is lower case). */
    const char *kind, *parts[4] = { "repository", "workflow",
        "workflow_filepath", "environment" };
    char lk[16];
    size_t n;
    int i;

    if (json_is_object(pub) && json_is_string(json_object_get(pub, "spec")))
        pub = json_object_get(pub, "spec");
    if (json_is_string(pub)) {
        pg_buf_puts(b, " data-publisher=\"");
        pg_index_put_html(b, json_string_value(pub));
        pg_buf_puts(b, "\"");
        return;
    }
    if (!json_is_object(pub))
        return;
    kind = json_string_value(json_object_get(pub, "kind"));
    if (kind == NULL || (n = strlen(kind)) == 0 || n >= sizeof(lk))
        return;
    for (i = 0; i < (int)n; i++)
        lk[i] = (char)tolower((unsigned char)kind[i]);
    lk[n] = '\0';
    pg_buf_puts(b, " data-publisher=\"");
    pg_index_put_html(b, lk);
    if (json_is_string(json_object_get(pub, "email"))) {
        pg_buf_puts(b, ":");
        pg_index_put_html(b, json_string_value(json_object_get(pub, "email")));
    }
    for (i = 0; i < 4; i++) {
        const char *s = json_string_value(json_object_get(pub, parts[i]));

        if (s == NULL || s[0] == '\0')
            continue;
        pg_buf_puts(b, ":");
        pg_index_put_html(b, s);
    }
    pg_buf_puts(b, "\"");
}

/* Every string member of _provenance but "publisher" as
 * data-provenance-<key> ("status", "decision", "reason", "expected", …;
 * "_" becomes "-"; keys outside [a-z0-9_-] or over 32 bytes are
 * skipped), so HTML carries the same facts as JSON (design §5). */
static void
put_provenance_attrs(struct pg_buf *b, const json_t *pv)
{
    const char *k;
    json_t *v;

    if (!json_is_object(pv))
        return;
    json_object_foreach((json_t *) pv, k, v) {
        char name[40];
        size_t i, n = strlen(k);

        if (!json_is_string(v) || strcmp(k, "publisher") == 0 || n == 0
            || n > 32)
            continue;
        for (i = 0; i < n; i++) {
            char c = k[i];

            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                || c == '-' || c == '_'))
                break;
            name[i] = c == '_' ? '-' : c;
        }
        if (i < n)
            continue;
        name[n] = '\0';
        pg_buf_puts(b, " data-provenance-");
        pg_buf_puts(b, name);
        pg_buf_puts(b, "=\"");
        pg_index_put_html(b, json_string_value(v));
        pg_buf_puts(b, "\"");
    }
}

static const char *const hash_pref[] = {
    "sha256", "sha384", "sha512", "sha224", "sha1", "md5"
};

static void
render_file_html(struct pg_buf *b, const json_t *f, const char *base,
    size_t bl, const char *project)
{
    char path[PG_INDEX_MAX_URL + 1], num[32];
    char url[2 * PG_INDEX_MAX_URL + 2];
    const char *fn = json_string_value(json_object_get(f, "filename"));
    const json_t *hashes = json_object_get(f, "hashes"), *v, *pv;
    size_t i, o;

    o = 0;
    if (fn == NULL
        || pg_index_file_path(json_string_value(json_object_get(f, "url")),
        path, sizeof(path)) != 0
        || join(url, sizeof(url), &o, base, bl) != 0
        || join(url, sizeof(url), &o, path, strlen(path)) != 0)
        return;
    pg_buf_puts(b, "<a href=\"");
    pg_index_put_html(b, url);
    for (i = 0; i < sizeof(hash_pref) / sizeof(hash_pref[0]); i++) {
        v = json_object_get(hashes, hash_pref[i]);
        if (json_is_string(v)) {
            pg_buf_puts(b, "#");
            pg_buf_puts(b, hash_pref[i]);
            pg_buf_puts(b, "=");
            pg_index_put_html(b, json_string_value(v));
            break;
        }
    }
    pg_buf_puts(b, "\"");
    v = json_object_get(f, "requires-python");
    if (json_is_string(v)) {
        pg_buf_puts(b, " data-requires-python=\"");
        pg_index_put_html(b, json_string_value(v));
        pg_buf_puts(b, "\"");
    }
    put_metadata_attr(b, "data-dist-info-metadata",
        metadata_of(f, "dist-info-metadata"));
    put_metadata_attr(b, "data-core-metadata",
        metadata_of(f, "core-metadata"));
    v = json_object_get(f, "gpg-sig");
    if (json_is_boolean(v))
        pg_buf_puts(b, json_is_true(v) ? " data-gpg-sig=\"true\""
            : " data-gpg-sig=\"false\"");
    /* PEP 592: the reason is the value, "" when there is none (as PyPI
     * writes it; pip and poetry read data-yanked="" as yanked without a
     * reason).  Never a bare attribute: pip reads that as not yanked. */
    v = json_object_get(f, "yanked");
    if (json_is_true(v) || (json_is_string(v))) {
        pg_buf_puts(b, " data-yanked=\"");
        if (json_is_string(v))
            pg_index_put_html(b, json_string_value(v));
        pg_buf_puts(b, "\"");
    }
    v = json_object_get(f, "provenance");
    if (json_is_string(v)) {
        char iu[2 * PG_INDEX_MAX_URL + 2];

        if (integrity_url(base, bl, project, fn, iu, sizeof(iu)) == 0) {
            pg_buf_puts(b, " data-provenance=\"");
            pg_index_put_html(b, iu);
            pg_buf_puts(b, "\"");
        }
    }
    v = json_object_get(f, "upload-time");
    if (json_is_string(v)) {
        pg_buf_puts(b, " data-upload-time=\"");
        pg_index_put_html(b, json_string_value(v));
        pg_buf_puts(b, "\"");
    }
    v = json_object_get(f, "size");
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%lld", (long long) json_integer_value(v));
        pg_buf_puts(b, " data-size=\"");
        pg_buf_puts(b, num);
        pg_buf_puts(b, "\"");
    }
    pv = json_object_get(f, "_provenance");
    put_provenance_attrs(b, pv);
    put_publisher(b, json_object_get(pv, "publisher"));
    pg_buf_puts(b, ">");
    pg_index_put_html(b, fn);
    pg_buf_puts(b, "</a><br />\n");
}

static int
take(struct pg_buf *b, char **out, size_t *outlen)
{
    pg_buf_put(b, "", 1);
    if (b->failed) {
        pg_buf_free(b);
        return -1;
    }
    *out = b->p;
    *outlen = b->len - 1;
    b->p = NULL;
    return 0;
}

static int
render_html(const json_t *model, const char *base, char **out,
    size_t *outlen)
{
    const char *name = json_string_value(json_object_get(model, "name"));
    const json_t *files = json_object_get(model, "files");
    const json_t *ps = json_object_get(model, "project-status");
    const char *up;
    struct pg_buf b;
    size_t bl = base_len(base), i;
    char ver[16];

    if (name == NULL)
        return -1;
    api_version(model, ver, sizeof(ver));
    pg_buf_init(&b, 512 + json_array_size(files) * 400, PG_INDEX_MAX_RENDER);
    pg_buf_puts(&b, "<!DOCTYPE html>\n<html>\n  <head>\n"
        "    <meta name=\"pypi:repository-version\" content=\"");
    pg_buf_puts(&b, ver);
    pg_buf_puts(&b, "\">\n");
    if (json_is_string(json_object_get(ps, "status"))) {
        pg_buf_puts(&b, "    <meta name=\"pypi:project-status\" content=\"");
        pg_index_put_html(&b, json_string_value(json_object_get(ps, "status")));
        pg_buf_puts(&b, "\">\n");
    }
    if (json_is_string(json_object_get(ps, "reason"))) {
        pg_buf_puts(&b,
            "    <meta name=\"pypi:project-status-reason\" content=\"");
        pg_index_put_html(&b, json_string_value(json_object_get(ps, "reason")));
        pg_buf_puts(&b, "\">\n");
    }
    up = json_string_value(json_object_get(json_object_get(model,
        "_provenance"), "upstream"));
    if (up != NULL) {
        /* issue 13: the upstream the page comes from */
        pg_buf_puts(&b, "    <meta name=\"provgate:upstream\" content=\"");
        pg_index_put_html(&b, up);
        pg_buf_puts(&b, "\">\n");
    }
    pg_buf_puts(&b, "    <title>Links for ");
    pg_index_put_html(&b, name);
    pg_buf_puts(&b, "</title>\n  </head>\n  <body>\n    <h1>Links for ");
    pg_index_put_html(&b, name);
    pg_buf_puts(&b, "</h1>\n");
    for (i = 0; i < json_array_size(files); i++)
        render_file_html(&b, json_array_get(files, i), base, bl, name);
    pg_buf_puts(&b, "  </body>\n</html>\n");
    return take(&b, out, outlen);
}

int
pg_index_render_project(const json_t *model, enum pg_index_format fmt,
    const char *base, char **out, size_t *outlen)
{
    if (model == NULL || base == NULL || out == NULL || outlen == NULL
        || !json_is_object(model))
        return -1;
    switch (fmt) {
    case PG_FMT_JSON:
        return render_json(model, base, out, outlen);
    case PG_FMT_HTML_V1:
    case PG_FMT_HTML:
        return render_html(model, base, out, outlen);
    case PG_FMT_NONE:
        return -1;
    }
    return -1;
}

int
pg_index_render_list(const json_t *model, enum pg_index_format fmt,
    const char *base, char **out, size_t *outlen)
{
    const json_t *projects, *p;
    size_t bl, i;
    char ver[16], norm[PG_INDEX_MAX_NAME + 1], hbase[PG_INDEX_MAX_URL + 1];
    struct pg_buf b;
    int n = 0;

    if (model == NULL || base == NULL || out == NULL || outlen == NULL
        || !json_is_object(model))
        return -1;
    projects = json_object_get(model, "projects");
    bl = base_len(base);
    if (bl >= sizeof(hbase))
        return -1;
    memcpy(hbase, base, bl);
    hbase[bl] = '\0';
    api_version(model, ver, sizeof(ver));
    switch (fmt) {
    case PG_FMT_JSON:
        pg_buf_init(&b, 64 + json_array_size(projects) * 24,
            PG_INDEX_MAX_RENDER);
        pg_buf_puts(&b, "{\"meta\":{\"api-version\":\"");
        pg_buf_puts(&b, ver);
        pg_buf_puts(&b, "\"},\"projects\":[");
        for (i = 0; i < json_array_size(projects); i++) {
            p = json_object_get(json_array_get(projects, i), "name");
            if (!json_is_string(p)
                || pg_index_normalize(json_string_value(p), norm,
                sizeof(norm)) != 0)
                continue;
            pg_buf_puts(&b, n++ > 0 ? ",{\"name\":" : "{\"name\":");
            put_json_value(&b, p);
            pg_buf_puts(&b, "}");
        }
        pg_buf_puts(&b, "]}");
        return take(&b, out, outlen);
    case PG_FMT_HTML_V1:
    case PG_FMT_HTML:
        pg_buf_init(&b, 256 + json_array_size(projects) * 48,
            PG_INDEX_MAX_RENDER);
        pg_buf_puts(&b, "<!DOCTYPE html>\n<html>\n  <head>\n"
            "    <meta name=\"pypi:repository-version\" content=\"");
        pg_buf_puts(&b, ver);
        pg_buf_puts(&b, "\">\n    <title>Simple index</title>\n  </head>\n"
            "  <body>\n");
        for (i = 0; i < json_array_size(projects); i++) {
            p = json_object_get(json_array_get(projects, i), "name");
            if (!json_is_string(p)
                || pg_index_normalize(json_string_value(p), norm,
                sizeof(norm)) != 0)
                continue;
            pg_buf_puts(&b, "    <a href=\"");
            pg_index_put_html(&b, hbase);
            pg_buf_puts(&b, "/simple/");
            pg_buf_puts(&b, norm);
            pg_buf_puts(&b, "/\">");
            pg_index_put_html(&b, json_string_value(p));
            pg_buf_puts(&b, "</a>\n");
        }
        pg_buf_puts(&b, "  </body>\n</html>\n");
        return take(&b, out, outlen);
    case PG_FMT_NONE:
        return -1;
    }
    return -1;
}
