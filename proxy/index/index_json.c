/* proxy/index/index_json.c — PEP 691 JSON pages → the index model; validation.
 *
 * An upstream JSON page is checked in three passes, each bounded: its size
 * (max_bytes) before anything else, its nesting depth on the raw bytes
 * (jansson has no depth option, and a pre-scan refuses a deep document
 * without building it), then jansson parses it (duplicate keys refused)
 * and pg_index_finish_project() checks every key the model knows.  The
 * HTML parser ends in the same function, so both upstream forms give the
 * same model.  Wrong types for page keys, a missing name or files, an
 * unsupported major api-version or a cap refuse the whole page with a
 * reason: the caller answers 502 and caches nothing.  A file entry that is
 * wrong on its own (bad filename, hashes, time, a key of the wrong type)
 * is dropped and noted (PG_INDEX_DROPPED): one bad entry does not cost
 * the project its page.
 *
 * Choices: "_" keys from upstream are dropped at every level we walk (top,
 * meta, files, projects) except meta["_last-serial"] (PyPI's serial, an
 * integer, useful to the cache).  null for requires-python, upload-time or
 * core-metadata means absent and is dropped.  The legacy JSON key
 * "data-dist-info-metadata" that PyPI still emits is kept verbatim and
 * also used for dist-info-metadata when that is missing; after parsing,
 * core-metadata and dist-info-metadata are either both present with the
 * same value or both absent (PEP 714).
 *
 * Owns: the json_t returned (caller json_decref).  Borrows: input bytes.
 * Runs on: either.  Spec: PEP 691, 700, 714, 592, 740, 792, 629.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "index_int.h"
#include "index_priv.h"

static int fail(char *msg, size_t mlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void drop_private(json_t *obj, const char *keep);
static int check_hashes(json_t *h, char *msg, size_t mlen, size_t i,
    const char *key);
static int check_metadata(json_t *f, const char *key, char *msg,
    size_t mlen, size_t i);
static int check_url(json_t *f, const char *key, const char *base_url,
    int nullable, char *msg, size_t mlen, size_t i);
static int check_file(json_t *f, const char *base_url, char *msg,
    size_t mlen, size_t i);
static int check_meta(json_t *model, char *msg, size_t mlen);
static json_t *load(const char *buf, size_t len, size_t max_bytes,
    char *msg, size_t mlen);

static int
fail(char *msg, size_t mlen, const char *fmt, ...)
{
    va_list ap;

    if (msg != NULL && mlen > 0) {
        va_start(ap, fmt);
        vsnprintf(msg, mlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* 1 if a string value or object key anywhere in v holds a NUL byte (the
 * parser allows them so that one such entry can be dropped rather than
 * the page refused; C code would read them cut short).  Recursion is
 * bounded by the depth pre-scan (PG_INDEX_MAX_DEPTH). */
static int
has_nul(json_t *v)
{
    const char *k;
    size_t kl, i;
    json_t *x;

    switch (json_typeof(v)) {
    case JSON_STRING:
        return strlen(json_string_value(v)) != json_string_length(v);
    case JSON_OBJECT:
        json_object_keylen_foreach(v, k, kl, x) {
            if (strlen(k) != kl || has_nul(x))
                return 1;
        }
        return 0;
    case JSON_ARRAY:
        json_array_foreach(v, i, x) {
            if (has_nul(x))
                return 1;
        }
        return 0;
    case JSON_INTEGER:
    case JSON_REAL:
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        return 0;
    }
    return 0;
}

/* Out of memory inside a file entry: the page's failure, not the
 * entry's (-2 tells check_file's caller which). */
static int
nomem(char *msg, size_t mlen)
{
    fail(msg, mlen, "out of memory");
    return -2;
}

/* Removes keys beginning with "_" except keep (may be NULL). */
static void
drop_private(json_t *obj, const char *keep)
{
    const char *k;
    json_t *v;
    void *tmp;

    json_object_foreach_safe(obj, tmp, k, v) {
        if (k[0] == '_' && (keep == NULL || strcmp(k, keep) != 0))
            json_object_del(obj, k);
    }
}

int
pg_index_json_depth_ok(const char *buf, size_t len, int max_depth)
{
    size_t i;
    int depth = 0, in_str = 0;

    for (i = 0; i < len; i++) {
        char c = buf[i];

        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return -1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

/* hashes objects: 1..PG_INDEX_MAX_HASHES names of [a-z0-9_-] to hex
 * strings (lower-cased here); sha256 must be 64 digits. */
static int
check_hashes(json_t *h, char *msg, size_t mlen, size_t i, const char *key)
{
    const char *k;
    json_t *v;

    if (!json_is_object(h))
        return fail(msg, mlen, "files[%zu].%s: not an object", i, key);
    if (json_object_size(h) > PG_INDEX_MAX_HASHES)
        return fail(msg, mlen, "files[%zu].%s: more than %d hashes", i, key,
            PG_INDEX_MAX_HASHES);
    json_object_foreach(h, k, v) {
        const char *p;
        char low[129];
        size_t n, j;

        if (k[0] == '\0' || strlen(k) > 32)
            return fail(msg, mlen, "files[%zu].%s: bad hash name", i, key);
        for (p = k; *p != '\0'; p++)
            if (!islower((unsigned char) *p) && !isdigit((unsigned char) *p)
                && *p != '_' && *p != '-')
                return fail(msg, mlen, "files[%zu].%s: bad hash name", i,
                    key);
        if (!json_is_string(v))
            return fail(msg, mlen, "files[%zu].%s.%s: not a string", i, key,
                k);
        n = json_string_length(v);
        p = json_string_value(v);
        if (n == 0 || n > 128)
            return fail(msg, mlen, "files[%zu].%s.%s: bad digest length", i,
                key, k);
        for (j = 0; j < n; j++) {
            if (!isxdigit((unsigned char) p[j]))
                return fail(msg, mlen, "files[%zu].%s.%s: not hex", i, key,
                    k);
            low[j] = (char) tolower((unsigned char) p[j]);
        }
        low[n] = '\0';
        if (strcmp(k, "sha256") == 0 && n != 64)
            return fail(msg, mlen, "files[%zu].%s.sha256: not 64 hex digits",
                i, key);
        if (json_string_set(v, low) != 0)
            return nomem(msg, mlen);
    }
    return 0;
}

/* core-metadata and friends: true/false or a hashes object (PEP 714). */
static int
check_metadata(json_t *f, const char *key, char *msg, size_t mlen, size_t i)
{
    json_t *v = json_object_get(f, key);

    if (v == NULL)
        return 0;
    if (json_is_null(v)) {
        json_object_del(f, key);
        return 0;
    }
    if (json_is_boolean(v))
        return 0;
    if (!json_is_object(v))
        return fail(msg, mlen, "files[%zu].%s: not a boolean or object", i,
            key);
    return check_hashes(v, msg, mlen, i, key);
}

/* A URL-valued key: resolved against base_url when relative. */
static int
check_url(json_t *f, const char *key, const char *base_url, int nullable,
    char *msg, size_t mlen, size_t i)
{
    json_t *v = json_object_get(f, key);
    char abs[PG_INDEX_MAX_URL + 1];
    const char *s;

    if (v == NULL || (nullable && json_is_null(v)))
        return 0;
    if (!json_is_string(v))
        return fail(msg, mlen, "files[%zu].%s: not a string", i, key);
    s = json_string_value(v);
    if (json_string_length(v) == 0 || json_string_length(v) > PG_INDEX_MAX_URL)
        return fail(msg, mlen, "files[%zu].%s: empty or longer than %d", i,
            key, PG_INDEX_MAX_URL);
    if (pg_index_resolve_url(base_url, s, abs, sizeof(abs)) == 0) {
        if (strcmp(abs, s) != 0 && json_string_set(v, abs) != 0)
            return nomem(msg, mlen);
    }
    return 0;
}

/* 0, -1 (the entry is malformed: reason in msg) or -2 (out of memory). */
static int
check_file(json_t *f, const char *base_url, char *msg, size_t mlen, size_t i)
{
    json_t *v, *cm, *dm, *src;
    const char *s;
    size_t n;
    int rc;

    if (!json_is_object(f))
        return fail(msg, mlen, "files[%zu]: not an object", i);
    if (has_nul(f))
        return fail(msg, mlen, "files[%zu]: NUL byte in a string", i);
    drop_private(f, NULL);

    v = json_object_get(f, "filename");
    if (!json_is_string(v))
        return fail(msg, mlen, "files[%zu].filename: missing or not a string",
            i);
    s = json_string_value(v);
    n = json_string_length(v);
    if (n == 0 || n > PG_INDEX_MAX_FILENAME)
        return fail(msg, mlen, "files[%zu].filename: empty or longer than %d",
            i, PG_INDEX_MAX_FILENAME);
    if (strpbrk(s, "/\\") != NULL || strcmp(s, ".") == 0
        || strcmp(s, "..") == 0)
        return fail(msg, mlen, "files[%zu].filename: not a file name", i);
    for (; *s != '\0'; s++)
        if ((unsigned char) *s < 0x20 || *s == 0x7f)
            return fail(msg, mlen, "files[%zu].filename: control character",
                i);

    if (!json_is_string(json_object_get(f, "url")))
        return fail(msg, mlen, "files[%zu].url: missing or not a string", i);
    rc = check_url(f, "url", base_url, 0, msg, mlen, i);
    if (rc == 0)
        rc = check_url(f, "provenance", base_url, 1, msg, mlen, i);
    if (rc != 0)
        return rc;

    v = json_object_get(f, "hashes");
    if (v == NULL) {
        if (json_object_set_new(f, "hashes", json_object()) != 0)
            return nomem(msg, mlen);
    } else {
        rc = check_hashes(v, msg, mlen, i, "hashes");
        if (rc != 0)
            return rc;
    }

    v = json_object_get(f, "requires-python");
    if (json_is_null(v))
        json_object_del(f, "requires-python");
    else if (v != NULL && !json_is_string(v))
        return fail(msg, mlen, "files[%zu].requires-python: not a string", i);

    v = json_object_get(f, "yanked");
    if (v != NULL && !json_is_boolean(v) && !json_is_string(v))
        return fail(msg, mlen, "files[%zu].yanked: not a boolean or string",
            i);
    v = json_object_get(f, "gpg-sig");
    if (v != NULL && !json_is_boolean(v))
        return fail(msg, mlen, "files[%zu].gpg-sig: not a boolean", i);

    v = json_object_get(f, "size");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0))
        return fail(msg, mlen, "files[%zu].size: not a non-negative integer",
            i);

    v = json_object_get(f, "upload-time");
    if (json_is_null(v)) {
        json_object_del(f, "upload-time");
    } else if (v != NULL) {
        char t[64];

        if (!json_is_string(v)
            || pg_index_norm_time(json_string_value(v), t, sizeof(t)) != 0)
            return fail(msg, mlen, "files[%zu].upload-time: not RFC 3339", i);
        if (json_string_set(v, t) != 0)
            return nomem(msg, mlen);
    }

    rc = check_metadata(f, "core-metadata", msg, mlen, i);
    if (rc == 0)
        rc = check_metadata(f, "dist-info-metadata", msg, mlen, i);
    if (rc == 0)
        rc = check_metadata(f, "data-dist-info-metadata", msg, mlen, i);
    if (rc != 0)
        return rc;
    cm = json_object_get(f, "core-metadata");
    dm = json_object_get(f, "dist-info-metadata");
    src = cm != NULL ? cm : dm;
    if (src == NULL)
        src = json_object_get(f, "data-dist-info-metadata");
    if (src != NULL && cm == NULL
        && json_object_set_new(f, "core-metadata", json_deep_copy(src)) != 0)
        return nomem(msg, mlen);
    if (src != NULL && dm == NULL
        && json_object_set_new(f, "dist-info-metadata", json_deep_copy(src))
        != 0)
        return nomem(msg, mlen);
    return 0;
}

static int
check_meta(json_t *model, char *msg, size_t mlen)
{
    json_t *meta = json_object_get(model, "meta"), *v;
    int minor;

    if (meta == NULL) {
        meta = json_object();
        if (meta == NULL || json_object_set_new(model, "meta", meta) != 0)
            return fail(msg, mlen, "out of memory");
    }
    if (!json_is_object(meta))
        return fail(msg, mlen, "meta: not an object");
    drop_private(meta, "_last-serial");
    v = json_object_get(meta, "_last-serial");
    if (v != NULL && !json_is_integer(v))
        json_object_del(meta, "_last-serial");
    v = json_object_get(meta, "api-version");
    if (v == NULL) {
        if (json_object_set_new(meta, "api-version", json_string("1.0")) != 0)
            return fail(msg, mlen, "out of memory");
        return 0;
    }
    if (!json_is_string(v))
        return fail(msg, mlen, "meta.api-version: not a string");
    minor = pg_index_api_minor(json_string_value(v));
    if (minor < 0)
        return fail(msg, mlen,
            "meta.api-version: unsupported version \"%.20s\"",
            json_string_value(v));
    return 0;
}

int
pg_index_finish_project(json_t *model, const char *base_url, char *msg,
    size_t mlen)
{
    char norm[PG_INDEX_MAX_NAME + 1];
    char emsg[160], first[160];
    json_t *v, *files;
    const char *k;
    size_t i, at, dropped = 0;
    int rc;

    if (!json_is_object(model))
        return fail(msg, mlen, "page: not a JSON object");
    drop_private(model, NULL);
    json_object_foreach(model, k, v) {
        if (strcmp(k, "files") != 0 && has_nul(v))
            return fail(msg, mlen, "%s: NUL byte in a string", k);
    }
    if (check_meta(model, msg, mlen) != 0)
        return -1;

    v = json_object_get(model, "name");
    if (!json_is_string(v))
        return fail(msg, mlen, "name: missing or not a string");
    if (pg_index_normalize(json_string_value(v), norm, sizeof(norm)) != 0)
        return fail(msg, mlen, "name: not a valid project name");
    if (json_string_set(v, norm) != 0)
        return fail(msg, mlen, "out of memory");

    v = json_object_get(model, "versions");
    if (v != NULL) {
        if (!json_is_array(v))
            return fail(msg, mlen, "versions: not an array");
        if (json_array_size(v) > PG_INDEX_MAX_FILES)
            return fail(msg, mlen, "versions: more than %d",
                PG_INDEX_MAX_FILES);
        for (i = 0; i < json_array_size(v); i++)
            if (!json_is_string(json_array_get(v, i)))
                return fail(msg, mlen, "versions[%zu]: not a string", i);
    }

    v = json_object_get(model, "project-status");
    if (json_is_null(v)) {
        json_object_del(model, "project-status");
    } else if (v != NULL) {
        json_t *st, *rs;

        if (!json_is_object(v))
            return fail(msg, mlen, "project-status: not an object");
        st = json_object_get(v, "status");
        rs = json_object_get(v, "reason");
        if (st != NULL && !json_is_string(st))
            return fail(msg, mlen, "project-status.status: not a string");
        if (rs != NULL && !json_is_string(rs) && !json_is_null(rs))
            return fail(msg, mlen, "project-status.reason: not a string");
    }

    files = json_object_get(model, "files");
    if (!json_is_array(files))
        return fail(msg, mlen, "files: missing or not an array");
    if (json_array_size(files) > PG_INDEX_MAX_FILES)
        return fail(msg, mlen, "files: more than %d", PG_INDEX_MAX_FILES);
    /* One malformed entry is dropped, not the page (it is logged and
     * counted by the caller from the PG_INDEX_DROPPED note). */
    for (i = 0, at = 0; i < json_array_size(files); at++) {
        rc = check_file(json_array_get(files, i), base_url, emsg,
            sizeof(emsg), at);
        if (rc == -2)
            return fail(msg, mlen, "out of memory");
        if (rc == 0) {
            i++;
            continue;
        }
        if (dropped++ == 0)
            memcpy(first, emsg, sizeof(first));
        if (json_array_remove(files, i) != 0)
            return fail(msg, mlen, "out of memory");
    }
    if (dropped > 0 && pg_index_note_dropped(model, dropped, first) != 0)
        return fail(msg, mlen, "out of memory");
    return 0;
}

int
pg_index_note_dropped(json_t *model, size_t n, const char *first)
{
    json_t *note = json_object_get(model, PG_INDEX_DROPPED);
    json_int_t had = json_integer_value(json_object_get(note, "count"));

    if (note == NULL) {
        note = json_pack("{s:I,s:s}", "count", (json_int_t) 0, "first",
            first);
        if (note == NULL
            || json_object_set_new(model, PG_INDEX_DROPPED, note) != 0)
            return -1;
    }
    return json_object_set_new(note, "count", json_integer(had
        + (json_int_t) n));
}

/* Size cap, depth pre-scan, then jansson. */
static json_t *
load(const char *buf, size_t len, size_t max_bytes, char *msg, size_t mlen)
{
    json_error_t jerr;
    json_t *root;

    if (buf == NULL) {
        fail(msg, mlen, "no body");
        return NULL;
    }
    if (len > max_bytes) {
        fail(msg, mlen, "page of %zu bytes is over the %zu-byte cap", len,
            max_bytes);
        return NULL;
    }
    if (pg_index_json_depth_ok(buf, len, PG_INDEX_MAX_DEPTH) != 0) {
        fail(msg, mlen, "JSON nested deeper than %d", PG_INDEX_MAX_DEPTH);
        return NULL;
    }
    /* NULs are allowed here and refused per entry (has_nul): a \u0000 in
     * one file's name drops that file, not the page */
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
        &jerr);
    if (root == NULL) {
        fail(msg, mlen, "malformed JSON at line %d column %d: %s", jerr.line,
            jerr.column, jerr.text);
        return NULL;
    }
    return root;
}

json_t *
pg_index_parse_project_json(const char *buf, size_t len,
    const char *base_url, size_t max_bytes, char *msg, size_t mlen)
{
    json_t *root = load(buf, len, max_bytes, msg, mlen);

    if (root == NULL)
        return NULL;
    if (pg_index_finish_project(root, base_url, msg, mlen) != 0) {
        json_decref(root);
        return NULL;
    }
    return root;
}

json_t *
pg_index_parse_list_json(const char *buf, size_t len, size_t max_bytes,
    char *msg, size_t mlen)
{
    json_t *root = load(buf, len, max_bytes, msg, mlen), *projects;
    size_t i;

    if (root == NULL)
        return NULL;
    if (!json_is_object(root)) {
        fail(msg, mlen, "page: not a JSON object");
        goto err;
    }
    drop_private(root, NULL);
    if (has_nul(root)) {
        fail(msg, mlen, "NUL byte in a string");
        goto err;
    }
    if (check_meta(root, msg, mlen) != 0)
        goto err;
    projects = json_object_get(root, "projects");
    if (!json_is_array(projects)) {
        fail(msg, mlen, "projects: missing or not an array");
        goto err;
    }
    if (json_array_size(projects) > PG_INDEX_MAX_PROJECTS) {
        fail(msg, mlen, "projects: more than %d", PG_INDEX_MAX_PROJECTS);
        goto err;
    }
    for (i = 0; i < json_array_size(projects); i++) {
        json_t *p = json_array_get(projects, i), *name;

        if (!json_is_object(p)) {
            fail(msg, mlen, "projects[%zu]: not an object", i);
            goto err;
        }
        name = json_object_get(p, "name");
        if (!json_is_string(name)) {
            fail(msg, mlen, "projects[%zu].name: missing or not a string", i);
            goto err;
        }
        drop_private(p, NULL);
    }
    return root;
err:
    json_decref(root);
    return NULL;
}
