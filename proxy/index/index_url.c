/* proxy/index/index_url.c — URLs and times of the index model.
 *
 * Upstream pages may use relative URLs (PEP 503, PEP 691, PEP 740); the
 * parsers resolve them here against the page's own URL (RFC 3986 §5.2,
 * with dot-segment removal) so that the model holds absolute URLs only.
 * The proxy path of a file is taken from its URL's path; a URL that is not
 * http(s), has no file path, or whose path holds characters or segments
 * that could change meaning on the way ("..", encoded "/") has none, and
 * such a file is never offered to clients.  Upload times are kept as
 * RFC 3339 in UTC with "Z" (PEP 700), which uv requires.
 *
 * Owns: nothing.  Borrows: its string arguments.  Runs on: either.
 * Spec: RFC 3986 §5.2, RFC 3339 §5.6, PEP 691 (url), PEP 700
 * (upload-time), PEP 629 (api-version); design §5.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "index_int.h"
#include "index_priv.h"

struct url_parts {
    const char *scheme;         /* without ':' */
    size_t scheme_len;
    const char *auth;           /* without "//"; NULL if none */
    size_t auth_len;
    const char *path;
    size_t path_len;
    const char *query;          /* with '?'; NULL if none */
    size_t query_len;
};

static void split_url(const char *u, struct url_parts *p);
static int remove_dots(const char *in, size_t n, char *out, size_t outlen);
static int path_char_ok(const char *p, size_t n);
static int digits(const char *s, int n, int *v);

/* Splits u (RFC 3986 appendix B), the fragment dropped. */
static void
split_url(const char *u, struct url_parts *p)
{
    const char *s = u, *e;

    memset(p, 0, sizeof(*p));
    e = s;
    if (isalpha((unsigned char) *e)) {
        while (isalnum((unsigned char) *e) || *e == '+' || *e == '-'
            || *e == '.')
            e++;
        if (*e == ':') {
            p->scheme = s;
            p->scheme_len = (size_t) (e - s);
            s = e + 1;
        }
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        e = s + strcspn(s, "/?#");
        p->auth = s;
        p->auth_len = (size_t) (e - s);
        s = e;
    }
    e = s + strcspn(s, "?#");
    p->path = s;
    p->path_len = (size_t) (e - s);
    s = e;
    if (*s == '?') {
        e = s + strcspn(s, "#");
        p->query = s;
        p->query_len = (size_t) (e - s);
    }
}

/* RFC 3986 §5.2.4 on n bytes of in. */
static int
remove_dots(const char *in, size_t n, char *out, size_t outlen)
{
    size_t i = 0, o = 0;

    while (i < n) {
        const char *s = in + i;
        size_t left = n - i;

        if (left >= 3 && memcmp(s, "../", 3) == 0) {
            i += 3;
        } else if (left >= 2 && memcmp(s, "./", 2) == 0) {
            i += 2;
        } else if (left >= 3 && memcmp(s, "/./", 3) == 0) {
            i += 2;
        } else if (left == 2 && memcmp(s, "/.", 2) == 0) {
            i += 1;
            if (o + 1 >= outlen)
                return -1;
            out[o++] = '/';
            i += 1;
        } else if ((left >= 4 && memcmp(s, "/../", 4) == 0)
            || (left == 3 && memcmp(s, "/..", 3) == 0)) {
            while (o > 0 && out[o - 1] != '/')
                o--;
            if (o > 0)
                o--;
            if (left == 3) {
                if (o + 1 >= outlen)
                    return -1;
                out[o++] = '/';
                i += 3;
            } else {
                i += 3;
            }
        } else if ((left == 1 && s[0] == '.')
            || (left == 2 && memcmp(s, "..", 2) == 0)) {
            i = n;
        } else {
            size_t k = 1;

            while (k < left && s[k] != '/')
                k++;
            if (s[0] != '/') {
                k = 0;
                while (k < left && s[k] != '/')
                    k++;
            }
            if (o + k >= outlen)
                return -1;
            memcpy(out + o, s, k);
            o += k;
            i += k;
        }
    }
    if (o >= outlen)
        return -1;
    out[o] = '\0';
    return 0;
}

int
pg_index_resolve_url(const char *base, const char *ref, char *out,
    size_t outlen)
{
    struct url_parts b, r;
    char merged[2 * PG_INDEX_MAX_URL + 2];
    char path[2 * PG_INDEX_MAX_URL + 2];
    const char *qs = NULL;
    size_t ql = 0, ml;
    int n;

    if (ref == NULL || out == NULL || outlen == 0)
        return -1;
    split_url(ref, &r);
    if (r.scheme != NULL) {
        if (remove_dots(r.path, r.path_len, path, sizeof(path)) != 0)
            return -1;
        n = snprintf(out, outlen, "%.*s:%s%.*s%s%.*s", (int) r.scheme_len,
            r.scheme, r.auth != NULL ? "//" : "",
            r.auth != NULL ? (int) r.auth_len : 0,
            r.auth != NULL ? r.auth : "", path, (int) r.query_len,
            r.query != NULL ? r.query : "");
        return n < 0 || (size_t) n >= outlen ? -1 : 0;
    }
    if (base == NULL || base[0] == '\0')
        return -1;
    split_url(base, &b);
    if (b.scheme == NULL)
        return -1;
    if (r.auth != NULL) {
        if (remove_dots(r.path, r.path_len, path, sizeof(path)) != 0)
            return -1;
        b.auth = r.auth;
        b.auth_len = r.auth_len;
        qs = r.query;
        ql = r.query_len;
    } else if (r.path_len == 0) {
        if (b.path_len + 1 > sizeof(path))
            return -1;
        memcpy(path, b.path, b.path_len);
        path[b.path_len] = '\0';
        qs = r.query != NULL ? r.query : b.query;
        ql = r.query != NULL ? r.query_len : b.query_len;
    } else {
        if (r.path[0] == '/') {
            ml = r.path_len;
            if (ml + 1 > sizeof(merged))
                return -1;
            memcpy(merged, r.path, ml);
        } else {
            size_t keep = b.path_len;

            while (keep > 0 && b.path[keep - 1] != '/')
                keep--;
            if (keep == 0 && b.auth != NULL) {
                merged[0] = '/';
                ml = 1;
            } else {
                ml = keep;
                if (ml + r.path_len + 1 > sizeof(merged))
                    return -1;
                memcpy(merged, b.path, keep);
            }
            if (ml + r.path_len + 1 > sizeof(merged))
                return -1;
            memcpy(merged + ml, r.path, r.path_len);
            ml += r.path_len;
        }
        if (remove_dots(merged, ml, path, sizeof(path)) != 0)
            return -1;
        qs = r.query;
        ql = r.query_len;
    }
    n = snprintf(out, outlen, "%.*s:%s%.*s%s%.*s", (int) b.scheme_len,
        b.scheme, b.auth != NULL ? "//" : "",
        b.auth != NULL ? (int) b.auth_len : 0, b.auth != NULL ? b.auth : "",
        path, (int) ql, qs != NULL ? qs : "");
    return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

/* RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':', '@'. */
static const unsigned char pchar[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['-'] = 1, ['.'] = 1, ['_'] = 1, ['~'] = 1, ['!'] = 1, ['$'] = 1,
    ['&'] = 1, ['\''] = 1, ['('] = 1, [')'] = 1, ['*'] = 1, ['+'] = 1,
    [','] = 1, [';'] = 1, ['='] = 1, [':'] = 1, ['@'] = 1
};

/* A path made of RFC 3986 pchars and "/", without "." or ".." segments,
 * empty segments, encoded "/" or "\" or NUL, ending in a file name. */
static int
path_char_ok(const char *p, size_t n)
{
    size_t i, seg = 0;

    if (n < 2 || p[0] != '/' || p[n - 1] == '/')
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) p[i];

        if (c == '/') {
            if (i > 0) {
                size_t len = i - seg;

                if (len == 0 || (len == 1 && p[seg] == '.')
                    || (len == 2 && p[seg] == '.' && p[seg + 1] == '.'))
                    return 0;
            }
            seg = i + 1;
            continue;
        }
        if (c == '%') {
            if (i + 2 >= n || !isxdigit((unsigned char) p[i + 1])
                || !isxdigit((unsigned char) p[i + 2]))
                return 0;
            if (strncasecmp(p + i, "%2f", 3) == 0
                || strncasecmp(p + i, "%5c", 3) == 0
                || strncmp(p + i, "%00", 3) == 0
                || strncasecmp(p + i, "%2e", 3) == 0)
                return 0;
            continue;
        }
        if (pchar[c])
            continue;
        return 0;
    }
    {
        size_t len = n - seg;

        if ((len == 1 && p[seg] == '.')
            || (len == 2 && p[seg] == '.' && p[seg + 1] == '.'))
            return 0;
    }
    return 1;
}

int
pg_index_file_path(const char *upstream_url, char *out, size_t outlen)
{
    struct url_parts u;
    const char *rest, *hit = NULL, *s;
    size_t rl;

    if (upstream_url == NULL || out == NULL || outlen == 0)
        return -1;
    if (strlen(upstream_url) > PG_INDEX_MAX_URL)
        return -1;
    split_url(upstream_url, &u);
    if (u.scheme == NULL || u.auth == NULL || u.auth_len == 0)
        return -1;
    if (!((u.scheme_len == 4 && strncasecmp(u.scheme, "http", 4) == 0)
        || (u.scheme_len == 5 && strncasecmp(u.scheme, "https", 5) == 0)))
        return -1;
    if (!path_char_ok(u.path, u.path_len))
        return -1;
    for (s = u.path + u.path_len; s >= u.path + 10; s--)
        if (s[-10] == '/' && memcmp(s - 10, "/packages/", 10) == 0) {
            hit = s - 10;
            break;
        }
    if (hit != NULL) {
        rest = hit + 10;
        rl = u.path_len - (size_t) (rest - u.path);
        if (rl == 0)
            return -1;
    } else {
        rest = u.path + 1;
        rl = u.path_len - 1;
    }
    if (10 + rl + 1 > outlen)
        return -1;
    memcpy(out, "/packages/", 10);
    memcpy(out + 10, rest, rl);
    out[10 + rl] = '\0';
    return 0;
}

static int
digits(const char *s, int n, int *v)
{
    int i;

    *v = 0;
    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char) s[i]))
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int
pg_index_norm_time(const char *in, char *out, size_t outlen)
{
    struct tm tm, chk;
    int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0, n;
    size_t fl = 0;
    const char *p, *frac = NULL;
    time_t t;

    if (in == NULL || strlen(in) < 20)
        return -1;
    if (digits(in, 4, &y) || in[4] != '-' || digits(in + 5, 2, &mo)
        || in[7] != '-' || digits(in + 8, 2, &d)
        || (in[10] != 'T' && in[10] != 't' && in[10] != ' ')
        || digits(in + 11, 2, &h) || in[13] != ':'
        || digits(in + 14, 2, &mi) || in[16] != ':'
        || digits(in + 17, 2, &se))
        return -1;
    p = in + 19;
    if (*p == '.') {
        frac = ++p;
        while (isdigit((unsigned char) *p))
            p++;
        fl = (size_t) (p - frac);
        if (fl == 0 || fl > 9)
            return -1;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':'
        && digits(p + 1, 2, &oh) == 0 && digits(p + 4, 2, &om) == 0) {
        sign = *p == '+' ? 1 : -1;
        if (oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59
        || se > 59)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    t = timegm(&tm);
    if (gmtime_r(&t, &chk) == NULL || chk.tm_mday != d || chk.tm_mon != mo - 1)
        return -1;
    t -= (time_t) sign * (oh * 3600 + om * 60);
    if (gmtime_r(&t, &chk) == NULL)
        return -1;
    if (chk.tm_year + 1900 < 1 || chk.tm_year + 1900 > 9999)
        return -1;
    n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%s%.*sZ",
        chk.tm_year + 1900, chk.tm_mon + 1, chk.tm_mday, chk.tm_hour,
        chk.tm_min, chk.tm_sec, frac != NULL ? "." : "", (int) fl,
        frac != NULL ? frac : "");
    return n < 0 || (size_t) n >= outlen ? -1 : 0;
}

int
pg_index_api_minor(const char *v)
{
    int m = 0;
    const char *p;

    if (v == NULL || v[0] != '1' || v[1] != '.' || v[2] == '\0')
        return -1;
    for (p = v + 2; *p != '\0'; p++) {
        if (!isdigit((unsigned char) *p) || p - v > 8)
            return -1;
        m = m * 10 + (*p - '0');
    }
    return m;
}
