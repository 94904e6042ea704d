/* policy/sigstore/encoding.c — base64, JSON, time and signature helpers.
 *
 * The small pieces every step needs to read untrusted input the same way:
 * strict base64 (verification §7.5), bounded JSON loading (size and depth
 * are checked by a pre-scan before jansson builds anything; the same scan
 * lets long base64 values skip jansson's byte-at-a-time lexer, see "Bulk
 * strings"), protobuf-JSON int64 fields (§7.3), RFC 3339 and ASN.1 times at
 * full precision (§7.2), the first-failure-wins error record, and one
 * signature helper per form.
 *
 * Owns: the buffers it returns (caller frees).  Borrows: its inputs.
 * Runs on: either (no state but the SHA-256/384 implementations fetched
 * once per process).  Spec: sigstore-verification §7.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "sig_int.h"

void
pg_sig_limits_default(struct pg_sig_limits *l)
{
    l->json_bytes = PG_SIG_MAX_JSON_BYTES;
    l->json_depth = PG_SIG_MAX_JSON_DEPTH;
    l->b64_chars = PG_SIG_MAX_B64_CHARS;
    l->chain_certs = PG_SIG_MAX_CHAIN_CERTS;
    l->tlog_entries = PG_SIG_MAX_TLOG_ENTRIES;
    l->proof_hashes = PG_SIG_MAX_PROOF_HASHES;
    l->timestamps = PG_SIG_MAX_TIMESTAMPS;
    l->checkpoint_bytes = PG_SIG_MAX_CHECKPOINT_BYTES;
    l->note_sigs = PG_SIG_MAX_NOTE_SIGS;
    l->attestations = PG_SIG_MAX_ATTESTATIONS;
    l->prov_bundles = PG_SIG_MAX_PROV_BUNDLES;
    l->root_entries = PG_SIG_MAX_ROOT_ENTRIES;
}

void
pg_sig_err_init(struct pg_sig_err *err)
{
    err->code = PG_SIG_OK;
    err->step = "";
    err->reason[0] = '\0';
}

int
pg_sig_fail(struct pg_sig_err *err, enum pg_sig_code code, const char *step,
    const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || err->code != PG_SIG_OK) {
        return code;
    }
    err->code = code;
    err->step = step;
    va_start(ap, fmt);
    vsnprintf(err->reason, sizeof(err->reason), fmt, ap);
    va_end(ap);
    pg_sig_err_sanitize(err);
    return code;
}

void
pg_sig_err_sanitize(struct pg_sig_err *err)
{
    char *c;

    /* reasons quote untrusted input and end up in logs: printable only */
    for (c = err->reason; *c != '\0'; c++) {
        if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f) {
            *c = '?';
        }
    }
}

/* ------------------------------------------------------------- base64 */

/* Standard base64 alphabet: value 0..63; 253 CR/LF (skipped), 254 '=',
 * 255 anything else.  A read-only table. */
static const unsigned char b64_tab[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 253, 255,
    255, 253, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255,  62, 255, 255, 255,  63,
     52,  53,  54,  55,  56,  57,  58,  59,  60,  61, 255, 255,
    255, 254, 255, 255, 255,   0,   1,   2,   3,   4,   5,   6,
      7,   8,   9,  10,  11,  12,  13,  14,  15,  16,  17,  18,
     19,  20,  21,  22,  23,  24,  25, 255, 255, 255, 255, 255,
    255,  26,  27,  28,  29,  30,  31,  32,  33,  34,  35,  36,
     37,  38,  39,  40,  41,  42,  43,  44,  45,  46,  47,  48,
     49,  50,  51, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255,
};

/* Decodes into out (room for 3 * inlen / 4 + 3 bytes).  The fast loop
 * takes whole quads of alphabet characters; anything else (line breaks,
 * padding, errors) goes through the careful loop below. */
static int
b64_decode_into(const char *in, size_t inlen, unsigned char *out,
    size_t *outlen)
{
    const unsigned char *u = (const unsigned char *) in;
    unsigned int quad[4];
    size_t i = 0, nq = 0, o = 0;
    int pad = 0;

    while (i + 4 <= inlen) {
        unsigned int a = b64_tab[u[i]], b = b64_tab[u[i + 1]];
        unsigned int c = b64_tab[u[i + 2]], d = b64_tab[u[i + 3]];

        if ((a | b | c | d) > 63) {
            break;
        }
        out[o++] = (unsigned char) ((a << 2) | (b >> 4));
        out[o++] = (unsigned char) ((b << 4) | (c >> 2));
        out[o++] = (unsigned char) ((c << 6) | d);
        i += 4;
    }
    for (; i < inlen; i++) {
        unsigned int v = b64_tab[u[i]];

        if (v == 253) {
            continue;
        }
        if (v == 254) {
            /* padding only in positions 3 and 4 of the last quad */
            if (nq < 2) {
                return -1;
            }
            pad++;
            quad[nq++] = 0;
        } else {
            if (pad > 0 || v == 255) {
                return -1;
            }
            quad[nq++] = v;
        }
        if (nq == 4) {
            out[o++] = (unsigned char) ((quad[0] << 2) | (quad[1] >> 4));
            if (pad < 2) {
                out[o++] = (unsigned char) ((quad[1] << 4) | (quad[2] >> 2));
            }
            if (pad < 1) {
                out[o++] = (unsigned char) ((quad[2] << 6) | quad[3]);
            }
            nq = 0;
            if (pad > 0) {
                /* nothing but line breaks may follow the padding */
                for (i++; i < inlen; i++) {
                    if (in[i] != '\r' && in[i] != '\n') {
                        return -1;
                    }
                }
                break;
            }
        }
    }
    if (nq != 0) {
        return -1;
    }
    *outlen = o;
    return 0;
}

int
pg_sig_b64_decode(const char *in, size_t inlen, size_t max_chars,
    unsigned char **out, size_t *outlen)
{
    unsigned char *buf;

    *out = NULL;
    *outlen = 0;
    if (inlen > max_chars) {
        return -2;
    }
    buf = malloc(inlen / 4 * 3 + 4);
    if (buf == NULL) {
        return -3;
    }
    if (b64_decode_into(in, inlen, buf, outlen) != 0) {
        free(buf);
        return -1;
    }
    buf[*outlen] = '\0';
    *out = buf;
    return 0;
}

int
pg_sig_b64_decode_fixed(const char *in, size_t inlen, unsigned char *out,
    size_t want)
{
    unsigned char tmp[96];
    size_t n;

    if (inlen > 128) {
        return -1;
    }
    if (b64_decode_into(in, inlen, tmp, &n) != 0 || n != want) {
        return -1;
    }
    memcpy(out, tmp, want);
    return 0;
}

char *
pg_sig_b64_encode(const unsigned char *in, size_t len)
{
    char *out;

    if (len > ((size_t) 1 << 30)) {
        return NULL;
    }
    out = malloc((len + 2) / 3 * 4 + 1);
    if (out == NULL) {
        return NULL;
    }
    EVP_EncodeBlock((unsigned char *) out, in, (int) len);
    return out;
}

void
pg_sig_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

/* --------------------------------------------------------------- JSON */

/* Bulk strings.  jansson lexes a string a byte at a time (a stream read,
 * a UTF-8 check and a one-byte buffer append per byte, about 150
 * instructions a byte), and most bytes of a Sigstore document are long
 * base64 values (certificate, log body, verifier, signatures) that need
 * none of that: no escapes, no control characters, no UTF-8.  The pre-scan
 * that checks the depth also notes every string value (not key) of at least
 * PG_SIG_JSON_BULK_MIN bytes made only of base64, base64url and hex
 * characters, up to PG_SIG_JSON_BULK_MAX of them; jansson then parses a copy
 * in which each one's text is a short stand-in "\u0001<index>", and the
 * stand-ins are replaced by the real text afterwards.
 *
 * Same result as parsing the document itself: the copy differs only inside
 * strings the scan delimits by the JSON rules (opening quote outside a
 * string, closing at the first quote after an even run of backslashes;
 * noted strings hold no backslash or quote at all), so jansson sees the
 * same tokens in both, and a value's text never affects parsing (keys,
 * which duplicate detection compares, are never replaced).  A stand-in
 * cannot be confused with the document's own text: a document containing
 * the escape \u0001 in any string is parsed as it is.  Every doubt (copy not
 * parsed, stand-in count wrong, nesting deeper than the walk's stack) means
 * parsing the document itself, which also gives jansson's own error text. */
static const unsigned char bulk_char[256] = {
    ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1, ['0' ... '9'] = 1,
    ['+'] = 1, ['/'] = 1, ['='] = 1, ['-'] = 1, ['_'] = 1
};

struct json_scan {
    size_t n;                               /* bulk strings noted */
    size_t bulk_bytes;                      /* their total length */
    int u0001;                              /* a string holds "\u0001" */
    size_t off[PG_SIG_JSON_BULK_MAX];       /* first byte of the text */
    size_t len[PG_SIG_JSON_BULK_MAX];
};

/* Notes buf[start, end) (a string's text) if it is a bulk value. */
static void
note_bulk(const char *buf, size_t len, size_t start, size_t end,
    struct json_scan *sc)
{
    const unsigned char *p = (const unsigned char *) buf;
    unsigned char all = 1;
    size_t k;

    if (sc->n >= PG_SIG_JSON_BULK_MAX || end - start < PG_SIG_JSON_BULK_MIN) {
        return;
    }
    for (k = end + 1; k < len && (p[k] == ' ' || p[k] == '\t'
        || p[k] == '\n' || p[k] == '\r'); k++) {
    }
    if (k < len && p[k] == ':') {
        return;                             /* a key */
    }
    for (k = start; k < end; k++) {
        all &= bulk_char[p[k]];     /* no early exit: bulk text is the rule */
    }
    if (!all) {
        return;
    }
    sc->off[sc->n] = start;
    sc->len[sc->n] = end - start;
    sc->bulk_bytes += end - start;
    sc->n++;
}

/* 1 if brackets outside strings nest at most max_depth deep, else 0; notes
 * bulk strings in *sc on the way. */
static int
json_scan(const char *buf, size_t len, int max_depth, struct json_scan *sc)
{
    size_t i;
    int depth = 0;

    sc->n = 0;
    sc->bulk_bytes = 0;
    sc->u0001 = 0;
    for (i = 0; i < len; i++) {
        char c = buf[i];

        if (c == '"') {
            /* skip the string: it ends at the first quote preceded by an
             * even run of backslashes (memchr: strings are most bytes) */
            size_t open = i;
            int escaped = 0;

            for (;;) {
                const char *q = memchr(buf + i + 1, '"', len - i - 1);
                size_t k, bs = 0;

                if (q == NULL) {
                    sc->n = 0;
                    return 1;   /* unterminated: jansson rejects it */
                }
                k = (size_t) (q - buf);
                while (k - bs > i + 1 && buf[k - bs - 1] == '\\') {
                    bs++;
                }
                i = k;
                if (bs % 2 == 0) {
                    break;
                }
                escaped = 1;
            }
            if (!escaped) {
                note_bulk(buf, len, open + 1, i, sc);
            } else if (memmem(buf + open, i - open, "\\u0001", 6) != NULL) {
                sc->u0001 = 1;
            }
        } else if (c == '{' || c == '[') {
            depth++;
            if (depth > max_depth) {
                return 0;
            }
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 1;
}

/* The copy jansson parses: buf with each bulk string's text replaced by
 * "\u0001<index>" (at most 9 bytes; a bulk text has at least
 * PG_SIG_JSON_BULK_MIN).  NULL if out of memory. */
static char *
bulk_skeleton(const char *buf, size_t len, const struct json_scan *sc,
    size_t *outlen)
{
    size_t cap = len - sc->bulk_bytes + 9 * sc->n + 1;
    char *s = malloc(cap);
    size_t i, from = 0, o = 0;

    if (s == NULL) {
        return NULL;
    }
    for (i = 0; i < sc->n; i++) {
        memcpy(s + o, buf + from, sc->off[i] - from);
        o += sc->off[i] - from;
        o += (size_t) snprintf(s + o, cap - o, "\\u0001%zu", i);
        from = sc->off[i] + sc->len[i];
    }
    memcpy(s + o, buf + from, len - from);
    o += len - from;
    *outlen = o;
    return s;
}

/* Puts the bulk texts back in place of the stand-ins of tree j.  0 if every
 * stand-in was found exactly once, -1 otherwise. */
static int
bulk_restore(json_t *j, const char *buf, const struct json_scan *sc)
{
    struct {
        json_t *c;
        size_t i;
        void *it;
    } st[PG_SIG_MAX_JSON_DEPTH + 1];
    unsigned char seen[PG_SIG_JSON_BULK_MAX];
    size_t top = 0, found = 0;

    memset(seen, 0, sizeof(seen));
    st[0].c = j;
    st[0].i = 0;
    st[0].it = json_object_iter(j);
    for (;;) {
        json_t *c = st[top].c, *v = NULL;

        if (json_is_object(c)) {
            if (st[top].it != NULL) {
                v = json_object_iter_value(st[top].it);
                st[top].it = json_object_iter_next(c, st[top].it);
            }
        } else if (st[top].i < json_array_size(c)) {
            v = json_array_get(c, st[top].i++);
        }
        if (v == NULL) {
            if (top == 0) {
                break;
            }
            top--;
            continue;
        }
        if (json_is_object(v) || json_is_array(v)) {
            if (top + 1 >= sizeof(st) / sizeof(st[0])) {
                return -1;
            }
            top++;
            st[top].c = v;
            st[top].i = 0;
            st[top].it = json_is_object(v) ? json_object_iter(v) : NULL;
        } else if (json_is_string(v) && json_string_length(v) >= 2
            && json_string_length(v) <= 3
            && json_string_value(v)[0] == '\001') {
            const char *t = json_string_value(v) + 1;
            size_t k = 0;

            for (; *t >= '0' && *t <= '9'; t++) {
                k = k * 10 + (size_t) (*t - '0');
            }
            if (*t != '\0' || k >= sc->n || seen[k]
                || json_string_setn_nocheck(v, buf + sc->off[k],
                    sc->len[k]) != 0) {
                return -1;
            }
            seen[k] = 1;
            found++;
        }
    }
    return found == sc->n ? 0 : -1;
}

/* jansson on the bulk-string copy when there is something to gain, NULL if
 * that did not work out (the caller then parses buf itself). */
static json_t *
json_load_bulk(const char *buf, size_t len, const struct json_scan *sc)
{
    json_t *j;
    char *s;
    size_t slen;

    if (sc->n == 0 || sc->u0001) {
        return NULL;
    }
    s = bulk_skeleton(buf, len, sc, &slen);
    if (s == NULL) {
        return NULL;
    }
    j = json_loadb(s, slen, JSON_REJECT_DUPLICATES, NULL);
    free(s);
    if (j != NULL && bulk_restore(j, buf, sc) != 0) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

json_t *
pg_sig_json_load(const char *buf, size_t len,
    const struct pg_sig_limits *limits, const char *step,
    struct pg_sig_err *err)
{
    json_error_t jerr;
    json_t *j;
    struct json_scan sc;

    if (len > limits->json_bytes) {
        pg_sig_fail(err, PG_SIG_ELIMIT, step,
            "JSON document of %zu bytes exceeds %zu", len,
            limits->json_bytes);
        return NULL;
    }
    if (!json_scan(buf, len, limits->json_depth, &sc)) {
        pg_sig_fail(err, PG_SIG_ELIMIT, step,
            "JSON nesting deeper than %d", limits->json_depth);
        return NULL;
    }
    j = json_load_bulk(buf, len, &sc);
    if (j == NULL) {
        j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    }
    if (j == NULL) {
        pg_sig_fail(err, PG_SIG_EPARSE, step, "malformed JSON: %s (line %d)",
            jerr.text, jerr.line);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        pg_sig_fail(err, PG_SIG_EPARSE, step, "JSON document is not an "
            "object");
        return NULL;
    }
    return j;
}

json_t *
pg_sig_jget(const json_t *obj, const char *key)
{
    json_t *v;

    if (!json_is_object(obj)) {
        return NULL;
    }
    v = json_object_get(obj, key);
    if (v == NULL || json_is_null(v)) {
        return NULL;
    }
    return v;
}

const char *
pg_sig_jstr(const json_t *obj, const char *key)
{
    json_t *v = pg_sig_jget(obj, key);

    if (!json_is_string(v)) {
        return NULL;
    }
    return json_string_value(v);
}

int
pg_sig_jint64(const json_t *obj, const char *key, int64_t *out)
{
    json_t *v = pg_sig_jget(obj, key);
    const char *s, *p;
    int64_t n = 0;
    int neg = 0;

    if (v == NULL) {
        return 1;
    }
    if (json_is_integer(v)) {
        *out = (int64_t) json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    s = json_string_value(v);
    p = s;
    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (*p == '\0' || json_string_length(v) > 20) {
        return -1;
    }
    for (; *p != '\0'; p++) {
        int d;

        if (*p < '0' || *p > '9') {
            return -1;
        }
        d = *p - '0';
        if (n > (INT64_MAX - d) / 10) {
            return -1;
        }
        n = n * 10 + d;
    }
    *out = neg ? -n : n;
    return 0;
}

int
pg_sig_jb64(const json_t *obj, const char *key, size_t max_chars,
    unsigned char **out, size_t *outlen)
{
    json_t *v = pg_sig_jget(obj, key);
    int rc;

    *out = NULL;
    *outlen = 0;
    if (v == NULL) {
        return 1;
    }
    if (!json_is_string(v)) {
        return -1;
    }
    rc = pg_sig_b64_decode(json_string_value(v), json_string_length(v),
        max_chars, out, outlen);
    if (rc == -2) {
        return -2;
    }
    return rc == 0 ? 0 : -1;
}

/* --------------------------------------------------------------- time */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t
pg_sig_secs_to_ns(int64_t secs)
{
    if (secs > INT64_MAX / PG_SIG_NS) {
        return PG_SIG_TIME_MAX;
    }
    if (secs < INT64_MIN / PG_SIG_NS) {
        return PG_SIG_TIME_MIN;
    }
    return secs * PG_SIG_NS;
}

static int
digits(const char *s, int n, int *out)
{
    int i, v = 0;

    for (i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Fraction ".ddd" (1..9 digits) at *p; advances *p. */
static int
fraction(const char **p, int64_t *ns)
{
    int64_t f = 0, scale = PG_SIG_NS;
    int n = 0;

    *ns = 0;
    if (**p != '.') {
        return 0;
    }
    (*p)++;
    while (**p >= '0' && **p <= '9') {
        if (n == 9) {
            return -1;
        }
        scale /= 10;
        f += (**p - '0') * scale;
        n++;
        (*p)++;
    }
    if (n == 0) {
        return -1;
    }
    *ns = f;
    return 0;
}

static int64_t
compose(int y, int mo, int d, int h, int mi, int s, int64_t frac)
{
    int64_t secs;

    secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return pg_sig_secs_to_ns(secs) + frac;
}

static int
fields_ok(int mo, int d, int h, int mi, int s)
{
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59
        && s <= 60;
}

int
pg_sig_parse_rfc3339(const char *s, int64_t *ns)
{
    int y, mo, d, h, mi, sec;
    int64_t frac;
    const char *p;

    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-'
        || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
    {
        return -1;
    }
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d)
        || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi)
        || digits(s + 17, 2, &sec) || !fields_ok(mo, d, h, mi, sec))
    {
        return -1;
    }
    p = s + 19;
    if (fraction(&p, &frac) != 0) {
        return -1;
    }
    if ((p[0] != 'Z' && p[0] != 'z') || p[1] != '\0') {
        return -1;
    }
    if (y > 2261) {
        *ns = PG_SIG_TIME_MAX;
        return 0;
    }
    if (y < 1679) {
        *ns = PG_SIG_TIME_MIN;
        return 0;
    }
    *ns = compose(y, mo, d, h, mi, sec, frac);
    return 0;
}

int
pg_sig_asn1_time_ns(const ASN1_TIME *t, int64_t *ns)
{
    const char *s = (const char *) ASN1_STRING_get0_data(t);
    int len = ASN1_STRING_length(t);
    int y, mo, d, h, mi, sec, off;
    int64_t frac = 0;
    const char *p;
    char buf[40];

    if (len <= 0 || len >= (int) sizeof(buf)) {
        return -1;
    }
    memcpy(buf, s, (size_t) len);
    buf[len] = '\0';
    if (ASN1_STRING_type(t) == V_ASN1_UTCTIME) {
        if (len != 13 || digits(buf, 2, &y)) {
            return -1;
        }
        y += y < 50 ? 2000 : 1900;
        off = 2;
    } else if (ASN1_STRING_type(t) == V_ASN1_GENERALIZEDTIME) {
        if (len < 15 || digits(buf, 4, &y)) {
            return -1;
        }
        off = 4;
    } else {
        return -1;
    }
    if (digits(buf + off, 2, &mo) || digits(buf + off + 2, 2, &d)
        || digits(buf + off + 4, 2, &h) || digits(buf + off + 6, 2, &mi)
        || digits(buf + off + 8, 2, &sec) || !fields_ok(mo, d, h, mi, sec))
    {
        return -1;
    }
    p = buf + off + 10;
    if (fraction(&p, &frac) != 0 || p[0] != 'Z' || p[1] != '\0') {
        return -1;
    }
    if (y > 2261) {
        *ns = PG_SIG_TIME_MAX;
        return 0;
    }
    *ns = compose(y, mo, d, h, mi, sec, frac);
    return 0;
}

int
pg_sig_window_contains(const struct pg_sig_window *w, int64_t t)
{
    return w->start <= t && t <= w->end;
}

void
pg_sig_fmt_time(int64_t ns, char *buf, size_t len)
{
    int64_t secs = ns / PG_SIG_NS, z, era, doe, yoe, y, doy, mp, d, m;
    int64_t sod;

    if (ns == PG_SIG_TIME_MAX || ns == PG_SIG_TIME_MIN) {
        snprintf(buf, len, "%s", ns == PG_SIG_TIME_MAX ? "+inf" : "-inf");
        return;
    }
    z = (secs >= 0 ? secs : secs - 86399) / 86400;
    sod = secs - z * 86400;
    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = yoe + era * 400;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(buf, len, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ",
        (long long) y, (long long) m, (long long) d,
        (long long) (sod / 3600), (long long) (sod / 60 % 60),
        (long long) (sod % 60));
}

/* ---------------------------------------------------------- signatures */

/* SHA-256 and SHA-384 fetched once per process.  OpenSSL 3 looks the
 * implementation up again on every digest started with EVP_sha256() (a
 * locked method-store search, about 2,000 instructions); a fetched EVP_MD
 * skips that.  Process constants, never freed; nothing from any input. */
static pthread_once_t md_once = PTHREAD_ONCE_INIT;
static EVP_MD *md_sha256, *md_sha384;

static void
md_init(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    md_sha384 = EVP_MD_fetch(NULL, "SHA384", NULL);
}

const EVP_MD *
pg_sig_md_fetched(const EVP_MD *md)
{
    if (pthread_once(&md_once, md_init) != 0) {
        return md;
    }
    if (md == EVP_sha256() && md_sha256 != NULL) {
        return md_sha256;
    }
    if (md == EVP_sha384() && md_sha384 != NULL) {
        return md_sha384;
    }
    return md;
}

static const EVP_MD *
default_md(EVP_PKEY *key)
{
    int bits = EVP_PKEY_get_bits(key);

    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        if (bits > 384) {
            return EVP_sha512();
        }
        if (bits > 256) {
            return EVP_sha384();
        }
    }
    return EVP_sha256();
}

int
pg_sig_pkey_verify(EVP_PKEY *key, const EVP_MD *md, const unsigned char *msg,
    size_t msglen, const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *ctx;
    int ok, id = EVP_PKEY_get_base_id(key);

    ctx = EVP_MD_CTX_new();
    if (ctx == NULL) {
        return 0;
    }
    if (id == EVP_PKEY_ED25519) {
        md = NULL;
    } else if (md == NULL) {
        md = default_md(key);
    }
    ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, key) == 1
        && EVP_DigestVerify(ctx, sig, siglen, msg, msglen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

void
pg_sig_vctx_init(struct pg_sig_vctx *v, EVP_PKEY *key, const EVP_MD *md)
{
    v->ctx = NULL;
    v->md_nid = NID_undef;
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
        return;
    }
    v->ctx = EVP_PKEY_CTX_new(key, NULL);
    if (v->ctx == NULL || EVP_PKEY_verify_init(v->ctx) != 1
        || EVP_PKEY_CTX_set_signature_md(v->ctx, md) != 1)
    {
        pg_sig_vctx_clear(v);
        return;
    }
    v->md_nid = EVP_MD_get_type(md);
}

void
pg_sig_vctx_clear(struct pg_sig_vctx *v)
{
    EVP_PKEY_CTX_free(v->ctx);
    v->ctx = NULL;
    v->md_nid = NID_undef;
}

int
pg_sig_pkey_verify_v(const struct pg_sig_vctx *v, size_t nv, EVP_PKEY *key,
    const EVP_MD *md, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
    unsigned char dgst[EVP_MAX_MD_SIZE];
    unsigned int dlen;
    EVP_PKEY_CTX *ctx;
    size_t i;
    int nid, ok;

    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
        return pg_sig_pkey_verify(key, md, msg, msglen, sig, siglen);
    }
    if (md == NULL) {
        md = default_md(key);
    }
    nid = EVP_MD_get_type(md);
    i = 0;
    while (i < nv && (v[i].ctx == NULL || v[i].md_nid != nid
            || EVP_PKEY_CTX_get0_pkey(v[i].ctx) != key))
    {
        i++;
    }
    if (i == nv) {
        return pg_sig_pkey_verify(key, md, msg, msglen, sig, siglen);
    }
    /* what EVP_DigestVerify does for ECDSA: hash, then verify the digest */
    if (EVP_Digest(msg, msglen, dgst, &dlen, pg_sig_md_fetched(md),
            NULL) != 1) {
        return 0;
    }
    ctx = EVP_PKEY_CTX_dup(v[i].ctx);
    ok = ctx != NULL && EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

int
pg_sig_pkey_verify_digest(EVP_PKEY *key, const EVP_MD *md,
    const unsigned char *dgst, size_t dlen, const unsigned char *sig,
    size_t siglen)
{
    EVP_PKEY_CTX *ctx;
    int ok;

    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
        return 0;
    }
    ctx = EVP_PKEY_CTX_new(key, NULL);
    if (ctx == NULL) {
        return 0;
    }
    ok = EVP_PKEY_verify_init(ctx) == 1
        && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1
        && EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}
