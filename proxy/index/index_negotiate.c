/* proxy/index/index_negotiate.c — Accept / ?format= / Accept-Encoding.
 *
 * Index pages are negotiated exactly as PyPI's Warehouse does it
 * (warehouse/api/simple.py _select_content_type, which asks WebOb's
 * acceptable_offers() about the offers text/html, v1+html, v1+json in
 * that order):
 *   - No Accept, or one that is not valid RFC 9110 Accept syntax
 *     (checked whole: media ranges of tokens, parameters, "q=" with at
 *     most three decimals in 0..1, optional extensions), means text/html.
 *   - For each offer the most specific matching range gives its q: an
 *     exact type without parameters (a range with media type parameters
 *     matches no offer, since offers have none), then "type/any", then
 *     "any/any"; among equally specific ranges the first one wins.
 *   - The offer with the highest q > 0 wins; ties go to the offer order,
 *     so text/html first: "any/any", "text/any", a browser's Accept,
 *     "application/json" and no acceptable range at all give text/html,
 *     and JSON comes only when a client names the PEP 691 JSON type at a
 *     higher q than the HTML types (pip, uv).
 * The one addition to Warehouse is PEP 691's alias: ".latest+json" and
 * ".latest+html" count as the v1 types.  ?format= (present and non-empty)
 * replaces the Accept header and is read the same way, with " " between
 * two token characters read as the "+" a form decoder turned into a
 * blank; a value that selects no format is a 406, as before.  The parser
 * never allocates: it walks the header in place.
 *
 * Owns: nothing.  Borrows: the header strings.  Runs on: either.
 * Spec: RFC 9110 §12.5.1 and §12.5.3, PEP 691 (content negotiation);
 * issue 9 item 2.
 */
#include <ctype.h>
#include <string.h>

#include "index_int.h"

#define NEG_NOFFER 3
#define NEG_MAX_FORMAT 512      /* bytes of a ?format= value */

/* Warehouse's offers in its order, which breaks ties. */
static const enum pg_index_format neg_offer_fmt[NEG_NOFFER] = {
    PG_FMT_HTML, PG_FMT_HTML_V1, PG_FMT_JSON
};

/* One media range of an Accept header, pointing into it. */
struct neg_range {
    const char *type;
    size_t tlen;
    const char *sub;
    size_t slen;
    int has_params;             /* media type parameters before the q */
    int q;                      /* 0..1000 */
};

/* For each offer: the specificity of its best range so far (0: none
 * matched) and that range's q. */
struct neg_offers {
    int spec[NEG_NOFFER];
    int q[NEG_NOFFER];
};

static int neg_is_tchar(unsigned char c);
static const char *skip_ws(const char *p, const char *end);
static const char *find_ch(const char *p, const char *end, char c);
static const char *neg_token_end(const char *p, const char *end);
static const char *neg_value_end(const char *p, const char *end);
static const char *neg_qvalue_end(const char *p, const char *end, int *q);
static const char *neg_element(const char *p, const char *end,
    struct neg_range *r);
static int tok_eq(const char *s, size_t n, const char *lit);
static int neg_spec(const struct neg_range *r, int offer);
static void neg_apply(struct neg_offers *o, const struct neg_range *r);
static int neg_parse(const char *p, const char *end, struct neg_offers *o);
static enum pg_index_format neg_select(const char *p, const char *end,
    int strict);
static int parse_q(const char *p, size_t n);

/* RFC 9110 §5.6.2 tchar. */
static int
neg_is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

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

/* The end of the token at p (p itself when there is none). */
static const char *
neg_token_end(const char *p, const char *end)
{
    while (p < end && neg_is_tchar((unsigned char) *p))
        p++;
    return p;
}

/* The end of the token or quoted-string (RFC 9110 §5.6.4) at p; p itself
 * when there is neither, or the quoted-string is not closed. */
static const char *
neg_value_end(const char *p, const char *end)
{
    const char *s;

    if (p >= end || *p != '"')
        return neg_token_end(p, end);
    for (s = p + 1; s < end; s++) {
        unsigned char c = (unsigned char) *s;

        if (c == '"')
            return s + 1;
        if (c == '\\') {
            if (s + 1 >= end)
                return p;
            c = (unsigned char) *++s;
            if (c != '\t' && (c < 0x20 || c == 0x7f))
                return p;
        } else if (c != '\t' && (c < 0x20 || c == 0x7f)) {
            return p;
        }
    }
    return p;
}

/* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), the
 * longest one at p: its end, with *q = 0..1000; NULL if there is none. */
static const char *
neg_qvalue_end(const char *p, const char *end, int *q)
{
    int scale = 100, v, one;

    if (p >= end || (*p != '0' && *p != '1'))
        return NULL;
    one = *p++ == '1';
    v = one ? 1000 : 0;
    if (p < end && *p == '.') {
        p++;
        while (p < end && scale > 0 && *p >= '0' && *p <= '9'
            && (!one || *p == '0')) {
            v += (*p++ - '0') * scale;
            scale /= 10;
        }
    }
    *q = v;
    return p;
}

/* One element of Accept (RFC 9110 §12.5.1):
 *   type "/" subtype *( OWS ";" OWS parameter )
 *       [ OWS ";" OWS "q=" qvalue *( OWS ";" OWS token [ "=" value ] ) ]
 * where a media type parameter is never named "q".  Returns the end of
 * the element, or NULL where it breaks that grammar. */
static const char *
neg_element(const char *p, const char *end, struct neg_range *r)
{
    const char *s, *t;

    s = neg_token_end(p, end);
    if (s == p || s >= end || *s != '/')
        return NULL;
    t = neg_token_end(s + 1, end);
    if (t == s + 1)
        return NULL;
    r->type = p;
    r->tlen = (size_t) (s - p);
    r->sub = s + 1;
    r->slen = (size_t) (t - s - 1);
    r->has_params = 0;
    r->q = 1000;
    p = t;
    for (;;) {
        s = skip_ws(p, end);
        if (s >= end || *s != ';')
            return p;
        s = skip_ws(s + 1, end);
        if (end - s >= 2 && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
            break;
        t = neg_token_end(s, end);
        if (t == s || t >= end || *t != '=')
            return NULL;
        s = neg_value_end(t + 1, end);
        if (s == t + 1)
            return NULL;
        r->has_params = 1;
        p = s;
    }
    p = neg_qvalue_end(s + 2, end, &r->q);
    if (p == NULL)
        return NULL;
    for (;;) {
        s = skip_ws(p, end);
        if (s >= end || *s != ';')
            return p;
        s = skip_ws(s + 1, end);
        t = neg_token_end(s, end);
        if (t == s)
            return NULL;
        p = t;
        if (t < end && *t == '=') {
            s = neg_value_end(t + 1, end);
            if (s != t + 1)
                p = s;
        }
    }
}

/* Case-insensitive comparison of n bytes with a lower-case literal. */
static int
tok_eq(const char *s, size_t n, const char *lit)
{
    size_t i;

    if (strlen(lit) != n)
        return 0;
    for (i = 0; i < n; i++) {
        char a = s[i];

        if (a >= 'A' && a <= 'Z')
            a = (char) (a - 'A' + 'a');
        if (a != lit[i])
            return 0;
    }
    return 1;
}

/* How specifically range r matches offer (an index of neg_offer_fmt):
 * 3 the exact type without parameters, 2 "type/any", 1 "any/any", 0 no
 * match (also the exact type with media type parameters: WebOb compares
 * them with the offer's, which has none). */
static int
neg_spec(const struct neg_range *r, int offer)
{
    static const char *const sub_of[NEG_NOFFER][2] = {
        { "html", "html" },
        { "vnd.pypi.simple.v1+html", "vnd.pypi.simple.latest+html" },
        { "vnd.pypi.simple.v1+json", "vnd.pypi.simple.latest+json" },
    };
    int any_sub = r->slen == 1 && r->sub[0] == '*';

    if (r->tlen == 1 && r->type[0] == '*')
        return any_sub ? 1 : 0;
    if (!tok_eq(r->type, r->tlen, offer == 0 ? "text" : "application"))
        return 0;
    if (any_sub)
        return 2;
    if (!tok_eq(r->sub, r->slen, sub_of[offer][0])
        && !tok_eq(r->sub, r->slen, sub_of[offer][1]))
        return 0;
    return r->has_params ? 0 : 3;
}

/* A more specific range replaces an offer's q; of equally specific ones
 * the first stays (WebOb: "<=" keeps the earlier range). */
static void
neg_apply(struct neg_offers *o, const struct neg_range *r)
{
    int i;

    for (i = 0; i < NEG_NOFFER; i++) {
        int s = neg_spec(r, i);

        if (s > o->spec[i]) {
            o->spec[i] = s;
            o->q[i] = r->q;
        }
    }
}

/* The whole header, RFC 9110 §5.6.1 list (blanks already trimmed at both
 * ends):  [ ( "," / element ) *( OWS "," [ OWS element ] ) ].  0 if it is
 * valid (every element applied to o), -1 if not. */
static int
neg_parse(const char *p, const char *end, struct neg_offers *o)
{
    struct neg_range r;
    const char *e;

    if (p >= end)
        return 0;
    if (*p == ',') {
        p++;
    } else {
        e = neg_element(p, end, &r);
        if (e == NULL)
            return -1;
        neg_apply(o, &r);
        p = e;
    }
    while (p < end) {
        p = skip_ws(p, end);
        if (p >= end || *p != ',')
            return -1;
        e = skip_ws(p + 1, end);
        p++;
        if (e < end && neg_is_tchar((unsigned char) *e)) {
            e = neg_element(e, end, &r);
            if (e == NULL)
                return -1;
            neg_apply(o, &r);
            p = e;
        }
    }
    return 0;
}

/* Warehouse's choice for the header [p, end); strict (?format=) gives
 * PG_FMT_NONE where Warehouse falls back to text/html. */
static enum pg_index_format
neg_select(const char *p, const char *end, int strict)
{
    struct neg_offers o;
    int i, best = -1;

    memset(&o, 0, sizeof(o));
    p = skip_ws(p, end);
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (neg_parse(p, end, &o) != 0)
        return strict ? PG_FMT_NONE : PG_FMT_HTML;
    for (i = 0; i < NEG_NOFFER; i++)
        if (o.spec[i] > 0 && o.q[i] > 0 && (best < 0 || o.q[i] > o.q[best]))
            best = i;
    if (best < 0)
        return strict ? PG_FMT_NONE : PG_FMT_HTML;
    return neg_offer_fmt[best];
}

enum pg_index_format
pg_index_negotiate(const char *accept, const char *format_param)
{
    if (format_param != NULL
        && format_param[strspn(format_param, " \t")] != '\0') {
        char buf[NEG_MAX_FORMAT];
        size_t i, n = strlen(format_param);

        if (n >= sizeof(buf))
            return PG_FMT_NONE;
        /* A form decoder made "v1+json" "v1 json": a blank between two
         * token characters is read as "+". */
        for (i = 0; i < n; i++) {
            buf[i] = format_param[i];
            if (buf[i] == ' ' && i > 0 && i + 1 < n
                && neg_is_tchar((unsigned char) format_param[i - 1])
                && neg_is_tchar((unsigned char) format_param[i + 1]))
                buf[i] = '+';
        }
        return neg_select(buf, buf + n, 1);
    }
    if (accept == NULL)
        return PG_FMT_HTML;
    return neg_select(accept, accept + strlen(accept), 0);
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
