/* proxy/index_negotiate.c — Accept / ?format= / Accept-Encoding.
 *
 * Each media range of Accept ("type/subtype; p=v; q=0.5") is compared,
 * case-insensitively, with the three formats provgate serves.  For each
 * format the most specific matching range decides its q (exact >
 * "type/any" > "any/any"; among equally specific ones the highest q); the
 * format with the highest q > 0 wins and ties go to the server's
 * preference JSON > v1+html > text/html (PEP 691).  "latest" media types
 * alias v1.  ?format= replaces the Accept header when present and
 * non-empty (as PyPI does), so it takes the same media type names; a "+"
 * that a form decoder turned into " " is accepted.  No Accept header means
 * text/html (PEP 691: old clients).  The parser never allocates: it walks
 * the header in place.
 *
 * Owns: nothing.  Borrows: the header strings.  Runs on: the loop.
 * Spec: RFC 9110 §12.5.1 and §12.5.3, PEP 691 (content negotiation).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "index_int.h"

#define NFMT 3                  /* JSON, HTML_V1, HTML */

struct range {
    const char *type;
    size_t tlen;
    const char *sub;
    size_t slen;
    int q;                      /* 0..1000 */
};

static const char *skip_ws(const char *p, const char *end);
static const char *find_ch(const char *p, const char *end, char c);
static int parse_q(const char *p, size_t n);
static int parse_range(const char *p, const char *end, struct range *r);
static int tok_eq(const char *s, size_t n, const char *lit);
static int range_match(const struct range *r, int fmt);
static enum pg_index_format negotiate(const char *accept);

static const char *
skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The first c in [p, end), or NULL. */
static const char *
find_ch(const char *p, const char *end, char c)
{
    for (; p < end; p++)
        if (*p == c)
            return p;
    return NULL;
}

/* Case-insensitive comparison of n bytes with a lower-case literal; a ' '
 * in s matches a '+' in lit (a form decoder's "+" → " " in ?format=). */
static int
tok_eq(const char *s, size_t n, const char *lit)
{
    size_t i;

    if (strlen(lit) != n)
        return 0;
    for (i = 0; i < n; i++) {
        char a = (char) tolower((unsigned char) s[i]);

        if (a != lit[i] && !(a == ' ' && lit[i] == '+'))
            return 0;
    }
    return 1;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) → 0..1000,
 * -1 if malformed. */
static int
parse_q(const char *p, size_t n)
{
    int v, scale = 100;
    size_t i;

    if (n == 0 || (p[0] != '0' && p[0] != '1'))
        return -1;
    v = (p[0] - '0') * 1000;
    if (n == 1)
        return v;
    if (p[1] != '.' || n > 5)
        return -1;
    for (i = 2; i < n; i++) {
        if (!isdigit((unsigned char) p[i]))
            return -1;
        v += (p[i] - '0') * scale;
        scale /= 10;
    }
    return v > 1000 ? -1 : v;
}

/* One media range between p and end.  0 if usable, -1 to ignore it. */
static int
parse_range(const char *p, const char *end, struct range *r)
{
    const char *slash, *q;

    p = skip_ws(p, end);
    q = p;
    while (q < end && *q != ';')
        q++;
    /* q now ends the media type; trim trailing blanks. */
    {
        const char *te = q;

        while (te > p && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        slash = find_ch(p, te, '/');
        if (slash == NULL || slash == p || slash + 1 >= te)
            return -1;
        r->type = p;
        r->tlen = (size_t) (slash - p);
        r->sub = slash + 1;
        r->slen = (size_t) (te - slash - 1);
    }
    r->q = 1000;
    while (q < end && *q == ';') {
        const char *ps = skip_ws(q + 1, end), *pe = ps, *eq;

        while (pe < end && *pe != ';')
            pe++;
        eq = find_ch(ps, pe, '=');
        if (eq != NULL) {
            const char *ne = eq, *vs = skip_ws(eq + 1, pe), *ve = pe;

            while (ne > ps && (ne[-1] == ' ' || ne[-1] == '\t'))
                ne--;
            while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            if (ne - ps == 1 && (*ps == 'q' || *ps == 'Q')) {
                r->q = parse_q(vs, (size_t) (ve - vs));
                if (r->q < 0)
                    return -1;
            }
        }
        q = pe;
    }
    return 0;
}

/* Specificity with which r matches format fmt (0-based): 3 exact,
 * 2 type wildcard, 1 full wildcard, 0 no match. */
static int
range_match(const struct range *r, int fmt)
{
    int all_t = r->tlen == 1 && r->type[0] == '*';
    int all_s = r->slen == 1 && r->sub[0] == '*';

    if (all_t)
        return all_s ? 1 : 0;
    if (fmt == 2) {
        if (!tok_eq(r->type, r->tlen, "text"))
            return 0;
        if (all_s)
            return 2;
        return tok_eq(r->sub, r->slen, "html") ? 3 : 0;
    }
    if (!tok_eq(r->type, r->tlen, "application"))
        return 0;
    if (all_s)
        return 2;
    if (fmt == 0)
        return tok_eq(r->sub, r->slen, "vnd.pypi.simple.v1+json")
            || tok_eq(r->sub, r->slen, "vnd.pypi.simple.latest+json")
            ? 3 : 0;
    return tok_eq(r->sub, r->slen, "vnd.pypi.simple.v1+html")
        || tok_eq(r->sub, r->slen, "vnd.pypi.simple.latest+html") ? 3 : 0;
}

static enum pg_index_format
negotiate(const char *accept)
{
    static const enum pg_index_format fmts[NFMT] = {
        PG_FMT_JSON, PG_FMT_HTML_V1, PG_FMT_HTML
    };
    int spec[NFMT] = { 0, 0, 0 }, qv[NFMT] = { 0, 0, 0 };
    const char *p = accept, *end = accept + strlen(accept);
    int i, best = -1;

    while (p < end) {
        const char *e = find_ch(p, end, ',');
        struct range r;

        if (e == NULL)
            e = end;
        if (parse_range(p, e, &r) == 0) {
            for (i = 0; i < NFMT; i++) {
                int s = range_match(&r, i);

                if (s == 0 || s < spec[i])
                    continue;
                if (s > spec[i] || r.q > qv[i])
                    qv[i] = r.q;
                spec[i] = s;
            }
        }
        p = e + 1;
    }
    for (i = 0; i < NFMT; i++)
        if (qv[i] > 0 && (best < 0 || qv[i] > qv[best]))
            best = i;
    return best < 0 ? PG_FMT_NONE : fmts[best];
}

enum pg_index_format
pg_index_negotiate(const char *accept, const char *format_param)
{
    const char *p;

    if (format_param != NULL) {
        p = format_param;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\0')
            return negotiate(format_param);
    }
    if (accept == NULL)
        return PG_FMT_HTML;
    p = accept;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return PG_FMT_HTML;
    return negotiate(accept);
}

const char *
pg_index_content_type(enum pg_index_format fmt)
{
    switch (fmt) {
    case PG_FMT_JSON:
        return "application/vnd.pypi.simple.v1+json";
    case PG_FMT_HTML_V1:
        return "application/vnd.pypi.simple.v1+html";
    case PG_FMT_HTML:
        return "text/html; charset=utf-8";
    case PG_FMT_NONE:
        return NULL;
    }
    return NULL;
}

int
pg_index_accepts_gzip(const char *accept_encoding)
{
    const char *p, *end;
    int gz = -1, star = -1;

    if (accept_encoding == NULL)
        return 0;
    p = accept_encoding;
    end = p + strlen(p);
    while (p < end) {
        const char *e = find_ch(p, end, ',');
        const char *ts, *te, *semi;
        int q = 1000;

        if (e == NULL)
            e = end;
        ts = skip_ws(p, e);
        semi = find_ch(ts, e, ';');
        te = semi != NULL ? semi : e;
        while (te > ts && (te[-1] == ' ' || te[-1] == '\t'))
            te--;
        while (semi != NULL) {
            const char *ps = skip_ws(semi + 1, e), *pe = ps, *eq;

            while (pe < e && *pe != ';')
                pe++;
            eq = find_ch(ps, pe, '=');
            if (eq != NULL && (*ps == 'q' || *ps == 'Q')
                && skip_ws(ps + 1, eq) == eq) {
                const char *vs = skip_ws(eq + 1, pe), *ve = pe;

                while (ve > vs && (ve[-1] == ' ' || ve[-1] == '\t'))
                    ve--;
                q = parse_q(vs, (size_t) (ve - vs));
            }
            semi = pe < e ? pe : NULL;
        }
        if (q >= 0) {
            if (tok_eq(ts, (size_t) (te - ts), "gzip")
                || tok_eq(ts, (size_t) (te - ts), "x-gzip"))
                gz = q > gz ? q : gz;
            else if (te - ts == 1 && *ts == '*')
                star = q;
        }
        p = e + 1;
    }
    if (gz >= 0)
        return gz > 0;
    return star > 0;
}
