/* proxy/index/index_html.c — PEP 503 HTML pages → the index model.
 *
 * A hand-written tokenizer, because the pages are simple and no library we
 * use parses HTML: it walks the bytes once, left to right, and looks only
 * at comments, <a>, <meta>, <base> and <title>; everything else is
 * skipped up to its ">" (quotes respected).  Attribute values may be
 * double-, single- or unquoted, names are case-insensitive, the first of
 * duplicated attributes wins, character references (&amp; &#39; &#x27;
 * …) are decoded.  It is tolerant in the ways real indexes need (PyPI
 * writes a space before ">", odd spacing, <meta> and <title> on one line)
 * and bounded: one pass, no recursion, each decoded value at most
 * PG_INDEX_MAX_ATTR bytes, at most PG_INDEX_MAX_FILES links, at most
 * PG_INDEX_MAX_HTML_ATTRS attributes per tag.  Text without a single tag
 * or declaration is not an HTML page and is refused (a bare "PWNED" is
 * not an empty index).
 *
 * Mapping (PEP 503/592/629/658/714/740/792 and uv's data-upload-time):
 * href → url (fragment "#<hash>=<hex>" → hashes); the filename is the URL's
 * last path segment, percent-decoded (what pip uses), or the link text if
 * the URL has none; data-requires-python → requires-python;
 * data-yanked → yanked (PEP 592: a value is the reason, a bare or empty
 * attribute is yanked without one → true); data-core-metadata and
 * data-dist-info-metadata ("true" or "<hash>=<hex>") → core-metadata and
 * dist-info-metadata; data-gpg-sig → gpg-sig; data-provenance →
 * provenance; data-upload-time → upload-time (ignored unless RFC 3339);
 * data-size (ours) → size; <meta name="pypi:repository-version"> →
 * meta.api-version; pypi:project-status(-reason) → project-status.  Other
 * attributes, provgate's own data-provenance-status and data-publisher
 * included, are not taken from upstream.  The project name is the last
 * segment of base_url, else "Links for <name>" of the <title>; versions
 * are derived from the filenames.  Relative URLs resolve against
 * <base href> if the page has one, else against base_url (PEP 503).  The
 * result goes through
 * pg_index_finish_project() like a JSON page.
 *
 * Owns: the json_t returned.  Borrows: input bytes.  Runs on: either.
 * Spec: PEP 503, 592, 629, 658, 714, 740, 792; HTML Living Standard
 * §13.2.5 (tokenization, simplified).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "index_int.h"
#include "index_priv.h"

struct html_attr {
    const char *name;
    size_t nlen;
    const char *val;            /* NULL for a bare attribute */
    size_t vlen;
};

struct html_tag {
    struct html_attr a[PG_INDEX_MAX_HTML_ATTRS];
    int n;
};

/* What a parse collects beside the files. */
struct html_page {
    json_t *files;
    char title[PG_INDEX_MAX_NAME + 16];
    char api[32];
    char base[PG_INDEX_MAX_URL + 1];    /* <base href>, first one */
    char status[64];
    char *status_reason;        /* malloc'd */
    char *v;                    /* PG_INDEX_MAX_ATTR + 1 scratch, malloc'd */
    char *err;
    size_t elen;
    int failed;
    size_t tags;                /* start tags and declarations seen */
    size_t links;               /* file links seen (dropped ones too) */
    size_t dropped;             /* malformed links left out */
    char drop_first[160];       /* why the first one was */
};

static const char *parse_tag(const char *p, const char *end,
    struct html_tag *t);
static const struct html_attr *attr(const struct html_tag *t,
    const char *name);
static size_t put_utf8(char *o, unsigned long cp);
static int unescape(const char *s, size_t n, int strip_tags, char *out,
    size_t outlen);
static int attr_text(const struct html_tag *t, const char *name, char *out,
    size_t outlen);
static const char *find_close(const char *p, const char *end,
    const char *name);
static int add_hash_spec(json_t *obj, const char *key, const char *spec);
static int fail_pg(struct html_page *pg, const char *m);
static char *trim(char *s);
static int on_anchor(struct html_page *pg, const struct html_tag *t,
    const char *text, size_t tlen);
static void on_meta(struct html_page *pg, const struct html_tag *t);
static int walk(const char *buf, size_t len, struct html_page *pg,
    int list);
static int name_from_base(const char *base_url, char *out, size_t outlen);
static json_t *derive_versions(const json_t *files, const char *project);

/* p is just after the tag name; returns just after the closing ">",
 * or NULL if the input ends inside the tag (HTML drops such a tag).
 * Fills t with the attributes. */
static const char *
parse_tag(const char *p, const char *end, struct html_tag *t)
{
    t->n = 0;
    while (p < end) {
        const char *ns, *vs;
        size_t nl, vl;
        int has_val = 0;

        while (p < end && (isspace((unsigned char) *p) || *p == '/'))
            p++;
        if (p >= end)
            return NULL;
        if (*p == '>')
            return p + 1;
        ns = p;
        while (p < end && !isspace((unsigned char) *p) && *p != '/'
            && *p != '>' && *p != '=')
            p++;
        nl = (size_t) (p - ns);
        if (nl == 0)
            p++;
        while (p < end && isspace((unsigned char) *p))
            p++;
        vs = NULL;
        vl = 0;
        if (p < end && *p == '=') {
            p++;
            while (p < end && isspace((unsigned char) *p))
                p++;
            has_val = 1;
            if (p < end && (*p == '"' || *p == '\'')) {
                const char *q = memchr(p + 1, *p, (size_t) (end - p - 1));

                if (q == NULL)
                    return NULL;
                vs = p + 1;
                vl = (size_t) (q - vs);
                p = q + 1;
            } else {
                vs = p;
                while (p < end && !isspace((unsigned char) *p) && *p != '>')
                    p++;
                vl = (size_t) (p - vs);
            }
        }
        if (nl > 0 && t->n < PG_INDEX_MAX_HTML_ATTRS) {
            t->a[t->n].name = ns;
            t->a[t->n].nlen = nl;
            t->a[t->n].val = has_val ? vs : NULL;
            t->a[t->n].vlen = vl;
            t->n++;
        }
    }
    return NULL;
}

/* The first attribute called name (lower-case literal), or NULL. */
static const struct html_attr *
attr(const struct html_tag *t, const char *name)
{
    size_t n = strlen(name);
    int i;

    for (i = 0; i < t->n; i++)
        if (t->a[i].nlen == n && strncasecmp(t->a[i].name, name, n) == 0)
            return &t->a[i];
    return NULL;
}

static size_t
put_utf8(char *o, unsigned long cp)
{
    if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        cp = 0xfffd;
    if (cp < 0x80) {
        o[0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char) (0xc0 | (cp >> 6));
        o[1] = (char) (0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char) (0xe0 | (cp >> 12));
        o[1] = (char) (0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char) (0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char) (0xf0 | (cp >> 18));
    o[1] = (char) (0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char) (0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char) (0x80 | (cp & 0x3f));
    return 4;
}

static const struct {
    const char *name;
    unsigned long cp;
} entities[] = {
    { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
    { "apos", '\'' }, { "nbsp", 0xa0 }
};

/* Decodes character references in n bytes of s (and drops <…> tags when
 * strip_tags) into out.  Returns the length, or -1 if it does not fit. */
static int
unescape(const char *s, size_t n, int strip_tags, char *out, size_t outlen)
{
    size_t i = 0, o = 0;

    while (i < n) {
        char tmp[4];
        size_t tl = 1;

        tmp[0] = s[i];
        if (strip_tags && s[i] == '<') {
            const char *gt = memchr(s + i, '>', n - i);

            i = gt != NULL ? (size_t) (gt - s) + 1 : n;
            continue;
        }
        if (s[i] == '&') {
            const char *semi = memchr(s + i, ';', n - i > 12 ? 12 : n - i);

            if (semi != NULL) {
                const char *e = s + i + 1;
                size_t el = (size_t) (semi - e), k;
                unsigned long cp = 0;
                int ok = 0;

                if (el >= 2 && e[0] == '#') {
                    int hex = e[1] == 'x' || e[1] == 'X';
                    size_t d = hex ? 2 : 1;

                    ok = d < el;
                    for (k = d; k < el && ok; k++) {
                        if (hex ? !isxdigit((unsigned char) e[k])
                            : !isdigit((unsigned char) e[k]))
                            ok = 0;
                        else
                            cp = cp * (hex ? 16 : 10) + (unsigned long)
                                (isdigit((unsigned char) e[k]) ? e[k] - '0'
                                : tolower((unsigned char) e[k]) - 'a' + 10);
                        if (cp > 0x10ffff)
                            cp = 0x110000;
                    }
                } else {
                    for (k = 0; k < sizeof(entities) / sizeof(entities[0]);
                        k++)
                        if (strlen(entities[k].name) == el
                            && memcmp(entities[k].name, e, el) == 0) {
                            cp = entities[k].cp;
                            ok = 1;
                            break;
                        }
                }
                if (ok) {
                    tl = put_utf8(tmp, cp);
                    i = (size_t) (semi - s) + 1;
                    if (o + tl >= outlen)
                        return -1;
                    memcpy(out + o, tmp, tl);
                    o += tl;
                    continue;
                }
            }
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = s[i++];
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return (int) o;
}

/* Decoded value of an attribute: 1 if present with a value, 0 if absent
 * or bare (out = ""), -1 if too long. */
static int
attr_text(const struct html_tag *t, const char *name, char *out,
    size_t outlen)
{
    const struct html_attr *a = attr(t, name);

    out[0] = '\0';
    if (a == NULL || a->val == NULL)
        return 0;
    return unescape(a->val, a->vlen, 0, out, outlen) < 0 ? -1 : 1;
}

/* The "</name" at or after p (case-insensitive), or NULL. */
static const char *
find_close(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);

    while (p < end) {
        const char *lt = memchr(p, '<', (size_t) (end - p));

        if (lt == NULL)
            return NULL;
        if ((size_t) (end - lt) >= n + 2 && lt[1] == '/'
            && strncasecmp(lt + 2, name, n) == 0)
            return lt;
        p = lt + 1;
    }
    return NULL;
}

/* "<hash>=<hex>" → obj[key] = {hash: hex}; "true" → true; "false" →
 * false; anything else is ignored. */
static int
add_hash_spec(json_t *obj, const char *key, const char *spec)
{
    const char *eq = strchr(spec, '=');
    char name[33];
    size_t nl;
    json_t *h;

    if (strcmp(spec, "true") == 0)
        return json_object_set_new(obj, key, json_true());
    if (strcmp(spec, "false") == 0)
        return json_object_set_new(obj, key, json_false());
    if (eq == NULL || eq == spec || eq[1] == '\0')
        return 0;
    nl = (size_t) (eq - spec);
    if (nl >= sizeof(name))
        return 0;
    memcpy(name, spec, nl);
    name[nl] = '\0';
    h = json_object();
    if (h == NULL || json_object_set_new(h, name, json_string(eq + 1)) != 0) {
        json_decref(h);
        return -1;
    }
    return json_object_set_new(obj, key, h);
}

static int
fail_pg(struct html_page *pg, const char *m)
{
    if (!pg->failed && pg->err != NULL && pg->elen > 0)
        snprintf(pg->err, pg->elen, "%s", m);
    pg->failed = 1;
    return -1;
}

/* A link that is malformed on its own is left out (appended: its file
 * object is the last one) and noted; the page goes on.  Returns 0. */
static int
drop_link(struct html_page *pg, int appended, const char *m)
{
    if (appended)
        json_array_remove(pg->files, json_array_size(pg->files) - 1);
    if (pg->dropped++ == 0)
        snprintf(pg->drop_first, sizeof(pg->drop_first), "link %zu: %s",
            pg->links - 1, m);
    return 0;
}

/* s without its leading and trailing white space (cut in place). */
static char *
trim(char *s)
{
    size_t n;

    while (isspace((unsigned char) *s))
        s++;
    n = strlen(s);
    while (n > 0 && isspace((unsigned char) s[n - 1]))
        s[--n] = '\0';
    return s;
}

static int
on_anchor(struct html_page *pg, const struct html_tag *t, const char *text,
    size_t tlen)
{
    char *v = pg->v;
    const size_t vsz = PG_INDEX_MAX_ATTR + 1;
    char href[PG_INDEX_MAX_URL + 1], fname[PG_INDEX_MAX_FILENAME + 1];
    char *hash, *seg, *qs;
    json_t *f, *h;
    int r;
    size_t i, o;

    r = attr_text(t, "href", href, sizeof(href));
    if (r == 0 || (r > 0 && href[0] == '\0'))
        return 0;
    pg->links++;
    if (r < 0)
        return drop_link(pg, 0, "href longer than the URL cap");
    if (json_array_size(pg->files) >= PG_INDEX_MAX_FILES)
        return fail_pg(pg, "more links than the files cap");
    f = json_object();
    if (f == NULL || json_object_set_new(f, "hashes", json_object()) != 0) {
        json_decref(f);
        return fail_pg(pg, "out of memory");
    }
    h = json_object_get(f, "hashes");
    if (json_array_append_new(pg->files, f) != 0)
        return fail_pg(pg, "out of memory");

    hash = strchr(href, '#');
    if (hash != NULL) {
        char *eq = strchr(hash + 1, '=');

        *hash = '\0';
        if (eq != NULL && eq > hash + 1 && eq[1] != '\0'
            && strspn(eq + 1, "0123456789abcdefABCDEF") == strlen(eq + 1)) {
            *eq = '\0';
            for (seg = hash + 1; *seg != '\0'; seg++)
                *seg = (char) tolower((unsigned char) *seg);
            if (json_object_set_new(h, hash + 1, json_string(eq + 1)) != 0)
                return fail_pg(pg, "out of memory");
        }
    }
    /* filename: last path segment of the URL, percent-decoded. */
    qs = href + strcspn(href, "?");
    seg = qs;
    while (seg > href && seg[-1] != '/')
        seg--;
    for (i = 0, o = 0; seg + i < qs && o < PG_INDEX_MAX_FILENAME; i++) {
        if (seg[i] == '%' && seg + i + 2 < qs
            && isxdigit((unsigned char) seg[i + 1])
            && isxdigit((unsigned char) seg[i + 2])) {
            char hx[3] = { seg[i + 1], seg[i + 2], '\0' };

            fname[o] = (char) strtol(hx, NULL, 16);
            if (fname[o++] == '\0')
                return drop_link(pg, 1, "filename with an encoded NUL");
            i += 2;
        } else {
            fname[o++] = seg[i];
        }
    }
    if (seg + i < qs)
        return drop_link(pg, 1, "filename longer than the cap");
    fname[o] = '\0';
    if (o == 0) {
        r = unescape(text, tlen, 1, v, vsz);
        if (r < 0 || (size_t) r > PG_INDEX_MAX_FILENAME)
            return drop_link(pg, 1, "link text longer than the filename cap");
        snprintf(fname, sizeof(fname), "%s", trim(v));
    }
    if (json_object_set_new(f, "filename", json_string(fname)) != 0
        || json_object_set_new(f, "url", json_string(href)) != 0)
        return drop_link(pg, 1, "bad filename or URL (not UTF-8?)");

    r = attr_text(t, "data-requires-python", v, vsz);
    if (r < 0)
        return drop_link(pg, 1, "data-requires-python longer than the cap");
    if (r > 0 && json_object_set_new(f, "requires-python", json_string(v)))
        return drop_link(pg, 1, "data-requires-python is not UTF-8");

    if (attr(t, "data-yanked") != NULL) {
        r = attr_text(t, "data-yanked", v, vsz);
        if (r < 0)
            return drop_link(pg, 1, "data-yanked longer than the cap");
        if (json_object_set_new(f, "yanked",
            v[0] != '\0' ? json_string(v) : json_true()) != 0)
            return drop_link(pg, 1, "data-yanked is not UTF-8");
    }
    r = attr_text(t, "data-core-metadata", v, vsz);
    if (r < 0 || (r > 0 && add_hash_spec(f, "core-metadata", v) != 0))
        return drop_link(pg, 1, "bad data-core-metadata");
    r = attr_text(t, "data-dist-info-metadata", v, vsz);
    if (r < 0 || (r > 0 && add_hash_spec(f, "dist-info-metadata", v) != 0))
        return drop_link(pg, 1, "bad data-dist-info-metadata");
    r = attr_text(t, "data-gpg-sig", v, vsz);
    if (r > 0 && (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
        && json_object_set_new(f, "gpg-sig", json_boolean(v[0] == 't')) != 0)
        return fail_pg(pg, "out of memory");
    r = attr_text(t, "data-provenance", v, vsz);
    if (r < 0)
        return drop_link(pg, 1, "data-provenance longer than the cap");
    if (r > 0 && v[0] != '\0'
        && json_object_set_new(f, "provenance", json_string(v)) != 0)
        return drop_link(pg, 1, "data-provenance is not UTF-8");
    r = attr_text(t, "data-upload-time", v, vsz);
    if (r > 0) {
        char tm[64];

        if (pg_index_norm_time(v, tm, sizeof(tm)) == 0
            && json_object_set_new(f, "upload-time", json_string(tm)) != 0)
            return fail_pg(pg, "out of memory");
    }
    r = attr_text(t, "data-size", v, vsz);
    if (r > 0 && v[0] != '\0' && strlen(v) <= 18
        && strspn(v, "0123456789") == strlen(v)
        && json_object_set_new(f, "size", json_integer(strtoll(v, NULL, 10)))
        != 0)
        return fail_pg(pg, "out of memory");
    return 0;
}

static void
on_meta(struct html_page *pg, const struct html_tag *t)
{
    char name[64], content[PG_INDEX_MAX_ATTR + 1];

    if (attr_text(t, "name", name, sizeof(name)) <= 0
        || attr_text(t, "content", content, sizeof(content)) <= 0)
        return;
    if (strcasecmp(name, "pypi:repository-version") == 0) {
        snprintf(pg->api, sizeof(pg->api), "%s", content);
    } else if (strcasecmp(name, "pypi:project-status") == 0) {
        snprintf(pg->status, sizeof(pg->status), "%s", content);
    } else if (strcasecmp(name, "pypi:project-status-reason") == 0) {
        free(pg->status_reason);
        pg->status_reason = strdup(content);
    }
}

/* One pass over the page.  list: anchors are projects, not files. */
static int
walk(const char *buf, size_t len, struct html_page *pg, int list)
{
    char text[PG_INDEX_MAX_NAME + 1];
    const char *p = buf, *end = buf + len;
    struct html_tag t;

    while (p < end && !pg->failed) {
        const char *lt = memchr(p, '<', (size_t) (end - p)), *q, *ns;
        size_t nl;

        if (lt == NULL)
            break;
        if ((size_t) (end - lt) >= 4 && memcmp(lt, "<!--", 4) == 0) {
            q = memmem(lt + 4, (size_t) (end - lt - 4), "-->", 3);
            p = q != NULL ? q + 3 : end;
            continue;
        }
        q = lt + 1;
        if (q < end && (*q == '/' || *q == '!' || *q == '?')) {
            pg->tags += *q == '!';
            q = memchr(q, '>', (size_t) (end - q));
            p = q != NULL ? q + 1 : end;
            continue;
        }
        ns = q;
        while (q < end && isalnum((unsigned char) *q))
            q++;
        nl = (size_t) (q - ns);
        if (nl == 0) {
            p = lt + 1;
            continue;
        }
        p = parse_tag(q, end, &t);
        if (p == NULL)
            break;
        pg->tags++;
        if (nl == 1 && (*ns == 'a' || *ns == 'A')) {
            const char *close = find_close(p, end, "a");
            const char *te = close != NULL ? close : end;

            if (list) {
                json_t *o;
                int r = unescape(p, (size_t) (te - p), 1, text, sizeof(text));
                const char *s;

                if (r < 0)
                    return fail_pg(pg, "project name longer than the cap");
                s = trim(text);
                if (s[0] != '\0') {
                    if (json_array_size(pg->files) >= PG_INDEX_MAX_PROJECTS)
                        return fail_pg(pg, "more projects than the cap");
                    o = json_pack("{s:s}", "name", s);
                    if (o == NULL || json_array_append_new(pg->files, o) != 0)
                        return fail_pg(pg, "bad project name (not UTF-8?)");
                }
            } else if (on_anchor(pg, &t, p, (size_t) (te - p)) != 0) {
                return -1;
            }
            if (close != NULL) {
                q = memchr(close, '>', (size_t) (end - close));
                p = q != NULL ? q + 1 : end;
            } else {
                p = end;
            }
        } else if (nl == 4 && strncasecmp(ns, "meta", 4) == 0) {
            on_meta(pg, &t);
        } else if (nl == 4 && strncasecmp(ns, "base", 4) == 0
            && pg->base[0] == '\0'
            && attr_text(&t, "href", pg->base, sizeof(pg->base)) < 0) {
            return fail_pg(pg, "<base href> longer than the URL cap");
        } else if (nl == 5 && strncasecmp(ns, "title", 5) == 0) {
            const char *close = find_close(p, end, "title");
            size_t tl = close != NULL ? (size_t) (close - p) : 0;

            if (tl < sizeof(pg->title)
                && unescape(p, tl, 1, pg->title, sizeof(pg->title)) < 0)
                pg->title[0] = '\0';
        }
    }
    if (!pg->failed && pg->tags == 0)
        return fail_pg(pg, "not an HTML page (no tags)");
    return pg->failed ? -1 : 0;
}

/* Last non-empty path segment of base_url, if it is a project name. */
static int
name_from_base(const char *base_url, char *out, size_t outlen)
{
    const char *e, *s;
    char seg[PG_INDEX_MAX_NAME + 1];

    if (base_url == NULL)
        return -1;
    e = base_url + strcspn(base_url, "?#");
    while (e > base_url && e[-1] == '/')
        e--;
    s = e;
    while (s > base_url && s[-1] != '/')
        s--;
    if (e == s || (size_t) (e - s) > PG_INDEX_MAX_NAME)
        return -1;
    memcpy(seg, s, (size_t) (e - s));
    seg[e - s] = '\0';
    return pg_index_normalize(seg, out, outlen);
}

static json_t *
derive_versions(const json_t *files, const char *project)
{
    json_t *vs = json_array(), *seen = json_object();
    size_t i;

    if (vs == NULL || seen == NULL)
        goto err;
    for (i = 0; i < json_array_size(files); i++) {
        const char *fn = json_string_value(json_object_get(
            json_array_get(files, i), "filename"));
        char ver[128];

        if (fn == NULL
            || pg_index_filename_version(fn, project, ver, sizeof(ver)) != 0
            || json_object_get(seen, ver) != NULL)
            continue;
        if (json_object_set_new(seen, ver, json_true()) != 0
            || json_array_append_new(vs, json_string(ver)) != 0)
            goto err;
    }
    json_decref(seen);
    return vs;
err:
    json_decref(vs);
    json_decref(seen);
    return NULL;
}

json_t *
pg_index_parse_project_html(const char *buf, size_t len,
    const char *base_url, size_t max_bytes, char *msg, size_t mlen)
{
    struct html_page pg;
    char name[PG_INDEX_MAX_NAME + 1];
    json_t *model = NULL, *meta, *vs;

    memset(&pg, 0, sizeof(pg));
    pg.err = msg;
    pg.elen = mlen;
    if (msg != NULL && mlen > 0)
        msg[0] = '\0';
    if (buf == NULL || len > max_bytes) {
        if (msg != NULL)
            snprintf(msg, mlen, "page of %zu bytes is over the %zu-byte cap",
                len, max_bytes);
        return NULL;
    }
    pg.files = json_array();
    pg.v = malloc(PG_INDEX_MAX_ATTR + 1);
    if (pg.files == NULL || pg.v == NULL) {
        fail_pg(&pg, "out of memory");
        goto err;
    }
    if (walk(buf, len, &pg, 0) != 0)
        goto err;
    if (name_from_base(base_url, name, sizeof(name)) != 0) {
        const char *tn = strncmp(pg.title, "Links for ", 10) == 0
            ? pg.title + 10 : "";

        if (pg_index_normalize(tn, name, sizeof(name)) != 0) {
            fail_pg(&pg, "cannot tell the project name (URL or <title>)");
            goto err;
        }
    }
    meta = json_pack("{s:s}", "api-version", pg.api[0] != '\0' ? pg.api
        : "1.0");
    vs = derive_versions(pg.files, name);
    model = json_pack("{s:o*,s:s,s:o*,s:O}", "meta", meta, "name", name,
        "versions", vs, "files", pg.files);
    if (model == NULL) {
        fail_pg(&pg, "out of memory or bad meta values");
        goto err;
    }
    if (pg.status[0] != '\0' || pg.status_reason != NULL) {
        json_t *ps = json_object();

        if (ps == NULL || json_object_set_new(model, "project-status", ps)) {
            fail_pg(&pg, "out of memory");
            goto err;
        }
        if ((pg.status[0] != '\0' && json_object_set_new(ps, "status",
            json_string(pg.status)) != 0)
            || (pg.status_reason != NULL && json_object_set_new(ps, "reason",
            json_string(pg.status_reason)) != 0)) {
            fail_pg(&pg, "out of memory or project status not UTF-8");
            goto err;
        }
    }
    /* PEP 503: relative URLs resolve against <base href> when present. */
    if (pg.base[0] != '\0') {
        char eff[PG_INDEX_MAX_URL + 1];

        if (pg_index_resolve_url(base_url, pg.base, eff, sizeof(eff)) != 0) {
            fail_pg(&pg, "<base href> cannot be resolved");
            goto err;
        }
        memcpy(pg.base, eff, strlen(eff) + 1);
    }
    if (pg_index_finish_project(model, pg.base[0] != '\0' ? pg.base
        : base_url, msg, mlen) != 0)
        goto err;
    if (pg.dropped > 0
        && pg_index_note_dropped(model, pg.dropped, pg.drop_first) != 0) {
        fail_pg(&pg, "out of memory");
        goto err;
    }
    json_decref(pg.files);
    free(pg.status_reason);
    free(pg.v);
    return model;
err:
    json_decref(model);
    json_decref(pg.files);
    free(pg.status_reason);
    free(pg.v);
    return NULL;
}

json_t *
pg_index_parse_list_html(const char *buf, size_t len, size_t max_bytes,
    char *msg, size_t mlen)
{
    struct html_page pg;
    json_t *model;

    memset(&pg, 0, sizeof(pg));
    pg.err = msg;
    pg.elen = mlen;
    if (buf == NULL || len > max_bytes) {
        if (msg != NULL)
            snprintf(msg, mlen, "page of %zu bytes is over the %zu-byte cap",
                len, max_bytes);
        return NULL;
    }
    pg.files = json_array();
    if (pg.files == NULL)
        return NULL;
    if (walk(buf, len, &pg, 1) != 0) {
        json_decref(pg.files);
        free(pg.status_reason);
        return NULL;
    }
    free(pg.status_reason);
    if (pg_index_api_minor(pg.api[0] != '\0' ? pg.api : "1.0") < 0) {
        if (msg != NULL)
            snprintf(msg, mlen, "meta.api-version: unsupported version");
        json_decref(pg.files);
        return NULL;
    }
    model = json_pack("{s:{s:s},s:o}", "meta", "api-version",
        pg.api[0] != '\0' ? pg.api : "1.0", "projects", pg.files);
    if (model == NULL && msg != NULL)
        snprintf(msg, mlen, "out of memory or bad meta values");
    return model;
}
