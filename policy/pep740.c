/* policy/pep740.c — PEP 740 attestations and provenance objects.
 *
 * Sits on top of policy/sigstore: converts a PEP 740 attestation into a
 * Sigstore v0.3 DSSE bundle exactly as pypi-attestations does (leaf from
 * `certificate`, payload = decoded `statement`, payload type fixed to
 * application/vnd.in-toto+json, entry = transparency_entries[0], optional
 * RFC 3161 `timestamps`), verifies it under the publisher's identity
 * policy, then applies the statement checks of §5: in-toto Statement v1,
 * exactly one subject whose name equals the distribution's file name after
 * parsing both (wheel: normalized name, PEP 440 version equality, build
 * tag, set of tags; sdist: name and version), whose sha256 is the file's,
 * and a publish-v1 or SLSA-v1 predicate type.  A provenance object
 * verifies only if it has at least one attestation and every attestation
 * in every bundle verifies against that bundle's publisher and, when one
 * is expected, the publisher matches it.
 *
 * Owns: per-call JSON trees and bundles.  Borrows: inputs, trust root.
 * Runs on: either (CPU only).  Spec: sigstore-verification §1, §4, §5;
 * design §6.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "limits.h"
#include "pg_policy.h"

#define PUBLISH_V1 "https://docs.pypi.org/attestations/publish/v1"
#define SLSA_V1 "https://slsa.dev/provenance/v1"
#define INTOTO_TYPE "application/vnd.in-toto+json"
#define STATEMENT_V1 "https://in-toto.io/Statement/v1"

/* Bounds of filename parsing (file names are short by nature). */
#define DIST_NAME_MAX 256
#define VERSION_PARTS_MAX 32
#define WHEEL_TAGS_MAX 64

static int
fail(struct pg_sig_err *err, enum pg_sig_code code, const char *step,
    const char *fmt, const char *arg)
{
    if (err->code != PG_SIG_OK) {
        return (int) err->code;
    }
    err->code = code;
    err->step = step;
    snprintf(err->reason, sizeof(err->reason), fmt, arg);
    pg_sig_err_sanitize(err);
    return (int) code;
}

/* -------------------------------------------------------------- PEP 440 */

struct pep440 {
    uint64_t epoch;
    uint64_t release[VERSION_PARTS_MAX];
    int nrelease;
    int pre_kind;            /* 0 none, 1 a, 2 b, 3 rc */
    uint64_t pre_n;
    int has_post;
    uint64_t post_n;
    int has_dev;
    uint64_t dev_n;
    char local[64];          /* normalized: lower-case, '.'-separated */
};

static int
read_num(const char **p, uint64_t *out)
{
    uint64_t v = 0;
    int n = 0;

    while (isdigit((unsigned char) **p)) {
        if (v > (UINT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t) (**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n > 0 ? 0 : -1;
}

static int
is_sep(char c)
{
    return c == '-' || c == '_' || c == '.';
}

/* Case-insensitive prefix match; advances *p past word. */
static int
take_word(const char **p, const char *word)
{
    size_t n = strlen(word);

    if (strncasecmp(*p, word, n) == 0) {
        *p += n;
        return 1;
    }
    return 0;
}

static void
skip_sep(const char **p)
{
    if (is_sep(**p)) {
        (*p)++;
    }
}

/* Parses s as packaging's VERSION_PATTERN (whole string). */
static int
pep440_parse(const char *s, struct pep440 *v)
{
    const char *p = s, *save;
    uint64_t n;
    size_t li = 0;

    memset(v, 0, sizeof(*v));
    while (isspace((unsigned char) *p)) {
        p++;
    }
    if (*p == 'v' || *p == 'V') {
        p++;
    }
    if (read_num(&p, &n) != 0) {
        return -1;
    }
    if (*p == '!') {
        v->epoch = n;
        p++;
        if (read_num(&p, &n) != 0) {
            return -1;
        }
    }
    v->release[v->nrelease++] = n;
    while (*p == '.' && isdigit((unsigned char) p[1])) {
        p++;
        if (v->nrelease == VERSION_PARTS_MAX || read_num(&p, &n) != 0) {
            return -1;
        }
        v->release[v->nrelease++] = n;
    }
    /* pre-release */
    save = p;
    skip_sep(&p);
    if (take_word(&p, "alpha") || take_word(&p, "a")) {
        v->pre_kind = 1;
    } else if (take_word(&p, "beta") || take_word(&p, "b")) {
        v->pre_kind = 2;
    } else if (take_word(&p, "preview") || take_word(&p, "pre")
        || take_word(&p, "rc") || take_word(&p, "c"))
    {
        v->pre_kind = 3;
    } else {
        p = save;
    }
    if (v->pre_kind != 0) {
        const char *q = p;

        skip_sep(&q);
        if (isdigit((unsigned char) *q)) {
            p = q;
            if (read_num(&p, &v->pre_n) != 0) {
                return -1;
            }
        }
    }
    /* post-release: "-N" or [sep](post|rev|r)[sep][N] */
    save = p;
    if (*p == '-' && isdigit((unsigned char) p[1])) {
        p++;
        v->has_post = 1;
        if (read_num(&p, &v->post_n) != 0) {
            return -1;
        }
    } else {
        skip_sep(&p);
        if (take_word(&p, "post") || take_word(&p, "rev")
            || take_word(&p, "r"))
        {
            const char *q = p;

            v->has_post = 1;
            skip_sep(&q);
            if (isdigit((unsigned char) *q)) {
                p = q;
                if (read_num(&p, &v->post_n) != 0) {
                    return -1;
                }
            }
        } else {
            p = save;
        }
    }
    /* dev-release */
    save = p;
    skip_sep(&p);
    if (take_word(&p, "dev")) {
        const char *q = p;

        v->has_dev = 1;
        skip_sep(&q);
        if (isdigit((unsigned char) *q)) {
            p = q;
            if (read_num(&p, &v->dev_n) != 0) {
                return -1;
            }
        }
    } else {
        p = save;
    }
    /* local version: +seg([-_.]seg)* */
    if (*p == '+') {
        int need = 1;

        p++;
        while (*p != '\0' && !isspace((unsigned char) *p)) {
            if (is_sep(*p)) {
                if (need) {
                    return -1;
                }
                need = 1;
                if (li + 1 >= sizeof(v->local)) {
                    return -1;
                }
                v->local[li++] = '.';
                p++;
                continue;
            }
            if (!isalnum((unsigned char) *p) || li + 1 >= sizeof(v->local)) {
                return -1;
            }
            v->local[li++] = (char) tolower((unsigned char) *p);
            need = 0;
            p++;
        }
        if (need) {
            return -1;
        }
        v->local[li] = '\0';
    }
    while (isspace((unsigned char) *p)) {
        p++;
    }
    return *p == '\0' ? 0 : -1;
}

/* Local segments compare numerically when numeric ("01" == "1"). */
static int
local_eq(const char *a, const char *b)
{
    while (*a != '\0' || *b != '\0') {
        size_t la = strcspn(a, "."), lb = strcspn(b, ".");
        int na = la > 0, nb = lb > 0;
        size_t i;

        for (i = 0; i < la; i++) {
            na = na && isdigit((unsigned char) a[i]);
        }
        for (i = 0; i < lb; i++) {
            nb = nb && isdigit((unsigned char) b[i]);
        }
        if (na && nb) {
            while (la > 1 && *a == '0') {
                a++;
                la--;
            }
            while (lb > 1 && *b == '0') {
                b++;
                lb--;
            }
        }
        if (na != nb || la != lb || memcmp(a, b, la) != 0) {
            return 0;
        }
        a += la;
        b += lb;
        if (*a == '.') {
            a++;
        }
        if (*b == '.') {
            b++;
        }
    }
    return 1;
}

static int
pep440_eq(const struct pep440 *a, const struct pep440 *b)
{
    int i, n = a->nrelease > b->nrelease ? a->nrelease : b->nrelease;

    if (a->epoch != b->epoch || a->pre_kind != b->pre_kind
        || a->has_post != b->has_post || a->has_dev != b->has_dev
        || (a->pre_kind != 0 && a->pre_n != b->pre_n)
        || (a->has_post && a->post_n != b->post_n)
        || (a->has_dev && a->dev_n != b->dev_n)
        || !local_eq(a->local, b->local))
    {
        return 0;
    }
    for (i = 0; i < n; i++) {
        uint64_t x = i < a->nrelease ? a->release[i] : 0;
        uint64_t y = i < b->nrelease ? b->release[i] : 0;

        if (x != y) {
            return 0;
        }
    }
    return 1;
}

/* ------------------------------------------------------------ filenames */

struct dist {
    int wheel;
    char name[DIST_NAME_MAX];            /* normalized */
    struct pep440 version;
    int has_build;
    uint64_t build_n;
    char build_rest[64];
    char tags[WHEEL_TAGS_MAX][96];       /* sorted "interp-abi-plat" */
    int ntags;
};

/* PEP 503 normalization: lower-case, runs of -_. become one '-'. */
static int
normalize_name(const char *s, size_t len, char *out, size_t cap)
{
    size_t i, o = 0;
    int in_sep = 0;

    for (i = 0; i < len; i++) {
        char c = s[i];

        if (is_sep(c)) {
            in_sep = 1;
            continue;
        }
        if (in_sep && o > 0) {
            if (o + 1 >= cap) {
                return -1;
            }
            out[o++] = '-';
        }
        in_sep = 0;
        if (o + 1 >= cap) {
            return -1;
        }
        out[o++] = (char) tolower((unsigned char) c);
    }
    if (in_sep && o > 0) {
        if (o + 1 >= cap) {
            return -1;
        }
        out[o++] = '-';
    }
    out[o] = '\0';
    return 0;
}

static int
cmp_tag(const void *a, const void *b)
{
    return strcmp((const char *) a, (const char *) b);
}

/* Splits s at '.' like Python's str.split (empty segments kept). */
static int
split_dots(char *s, char **seg, int max)
{
    int n = 0;

    for (;;) {
        char *dot = strchr(s, '.');

        if (n == max) {
            return -1;
        }
        seg[n++] = s;
        if (dot == NULL) {
            return n;
        }
        *dot = '\0';
        s = dot + 1;
    }
}

/* Expands "i1.i2-a-p1.p2" into the sorted, deduplicated tag set. */
static int
expand_tags(const char *s, struct dist *d)
{
    char parts[3][96], *seg[3][WHEEL_TAGS_MAX], *c;
    const char *p = s, *dash;
    int k, n = 0, cnt[3], i, a, q;

    for (k = 0; k < 3; k++) {
        size_t len;

        dash = k < 2 ? strchr(p, '-') : p + strlen(p);
        if (dash == NULL) {
            return -1;
        }
        len = (size_t) (dash - p);
        if (len == 0 || len >= sizeof(parts[k])) {
            return -1;
        }
        memcpy(parts[k], p, len);
        parts[k][len] = '\0';
        for (c = parts[k]; *c != '\0'; c++) {
            *c = (char) tolower((unsigned char) *c);
        }
        cnt[k] = split_dots(parts[k], seg[k], WHEEL_TAGS_MAX);
        if (cnt[k] < 0) {
            return -1;
        }
        p = dash + (k < 2 ? 1 : 0);
    }
    for (i = 0; i < cnt[0]; i++) {
        for (a = 0; a < cnt[1]; a++) {
            for (q = 0; q < cnt[2]; q++) {
                if (n == WHEEL_TAGS_MAX) {
                    return -1;
                }
                if (snprintf(d->tags[n], sizeof(d->tags[n]), "%s-%s-%s",
                        seg[0][i], seg[1][a], seg[2][q])
                    >= (int) sizeof(d->tags[n]))
                {
                    return -1;
                }
                n++;
            }
        }
    }
    qsort(d->tags, (size_t) n, sizeof(d->tags[0]), cmp_tag);
    d->ntags = 0;
    for (k = 0; k < n; k++) {
        if (d->ntags == 0 || strcmp(d->tags[d->ntags - 1], d->tags[k]) != 0)
        {
            if (d->ntags != k) {
                memcpy(d->tags[d->ntags], d->tags[k], sizeof(d->tags[0]));
            }
            d->ntags++;
        }
    }
    return d->ntags > 0 ? 0 : -1;
}

static int
ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);

    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static int
parse_dist(const char *fn, struct dist *d)
{
    size_t len = strlen(fn), i, stem;
    char buf[512], ver[128];
    const char *dash;
    int dashes = 0;

    memset(d, 0, sizeof(*d));
    if (len >= sizeof(buf)) {
        return -1;
    }
    if (ends_with(fn, len, ".whl")) {
        char *f[6], *p;
        int k;

        d->wheel = 1;
        stem = len - 4;
        memcpy(buf, fn, stem);
        buf[stem] = '\0';
        for (i = 0; i < stem; i++) {
            dashes += buf[i] == '-';
        }
        if (dashes != 4 && dashes != 5) {
            return -1;
        }
        /* name-version[-build]-rest: split the first dashes-2 times */
        p = buf;
        for (k = 0; k < dashes - 2; k++) {
            f[k] = p;
            p = strchr(p, '-');
            *p++ = '\0';
        }
        f[k] = p;
        /* name: [\w\d._]* (non-ASCII bytes taken as word characters) */
        for (i = 0; f[0][i] != '\0'; i++) {
            unsigned char c = (unsigned char) f[0][i];

            if (!(isalnum(c) || c == '_' || c == '.' || c >= 0x80)) {
                return -1;
            }
        }
        if (strstr(f[0], "__") != NULL
            || normalize_name(f[0], strlen(f[0]), d->name, sizeof(d->name))
                != 0
            || pep440_parse(f[1], &d->version) != 0)
        {
            return -1;
        }
        if (dashes == 5) {
            const char *b = f[2];

            if (read_num(&b, &d->build_n) != 0
                || strlen(b) >= sizeof(d->build_rest))
            {
                return -1;
            }
            d->has_build = 1;
            memcpy(d->build_rest, b, strlen(b) + 1);
        }
        return expand_tags(f[k], d);
    }
    if (ends_with(fn, len, ".tar.gz")) {
        stem = len - 7;
    } else if (ends_with(fn, len, ".zip")) {
        stem = len - 4;
    } else {
        return -1;
    }
    memcpy(buf, fn, stem);
    buf[stem] = '\0';
    dash = strrchr(buf, '-');
    if (dash == NULL || strlen(dash + 1) >= sizeof(ver)) {
        return -1;
    }
    memcpy(ver, dash + 1, strlen(dash + 1) + 1);
    if (normalize_name(buf, (size_t) (dash - buf), d->name, sizeof(d->name))
        != 0 || pep440_parse(ver, &d->version) != 0)
    {
        return -1;
    }
    return 0;
}

static int
dist_eq(const struct dist *a, const struct dist *b)
{
    int i;

    if (a->wheel != b->wheel || strcmp(a->name, b->name) != 0
        || !pep440_eq(&a->version, &b->version))
    {
        return 0;
    }
    if (!a->wheel) {
        return 1;
    }
    if (a->has_build != b->has_build
        || (a->has_build && (a->build_n != b->build_n
            || strcmp(a->build_rest, b->build_rest) != 0))
        || a->ntags != b->ntags)
    {
        return 0;
    }
    for (i = 0; i < a->ntags; i++) {
        if (strcmp(a->tags[i], b->tags[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

int
pg_pep740_filename_match(const char *a, const char *b)
{
    struct dist *da = malloc(sizeof(*da)), *db = malloc(sizeof(*db));
    int rc;

    if (da == NULL || db == NULL) {
        rc = -1;
    } else if (parse_dist(a, da) != 0 || parse_dist(b, db) != 0) {
        rc = -1;
    } else {
        rc = dist_eq(da, db);
    }
    free(da);
    free(db);
    return rc;
}

/* ------------------------------------------------------------ statement */

static int
digest_keys_ok(const json_t *digest)
{
    static const char *const allowed[] = {
        "sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512"
    };
    const char *key;
    json_t *val;

    if (!json_is_object(digest)) {
        return 0;
    }
    json_object_foreach((json_t *) digest, key, val) {
        size_t i;
        int ok = 0;

        for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
            ok = ok || strcmp(key, allowed[i]) == 0;
        }
        if (!ok || !json_is_string(val)) {
            return 0;
        }
    }
    return 1;
}

int
pg_pep740_check_statement(const unsigned char *payload, size_t len,
    const char *filename, const unsigned char sha256[32],
    const struct pg_sig_limits *limits, struct pg_sig_err *err)
{
    static const char hexd[] = "0123456789abcdef";
    struct pg_sig_limits deflim;
    json_error_t jerr;
    json_t *j, *subs, *s0, *pred, *name;
    const char *type, *ptype, *d;
    char hex[65];
    size_t i;
    int rc = PG_SIG_OK, m;

    if (limits == NULL) {
        pg_sig_limits_default(&deflim);
        limits = &deflim;
    }
    if (len > limits->json_bytes) {
        return fail(err, PG_SIG_ELIMIT, "statement", "%s", "statement over "
            "the JSON size limit");
    }
    j = json_loadb((const char *) payload, len, JSON_REJECT_DUPLICATES,
        &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        return fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "payload is "
            "not a JSON object");
    }
    type = json_string_value(json_object_get(j, "_type"));
    subs = json_object_get(j, "subject");
    ptype = json_string_value(json_object_get(j, "predicateType"));
    pred = json_object_get(j, "predicate");
    if (type == NULL || strcmp(type, STATEMENT_V1) != 0) {
        rc = fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "_type is not "
            STATEMENT_V1);
        goto done;
    }
    if (!json_is_array(subs) || json_array_size(subs) == 0 || ptype == NULL
        || (pred != NULL && !json_is_object(pred) && !json_is_null(pred)))
    {
        rc = fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "malformed "
            "statement (subject, predicateType or predicate)");
        goto done;
    }
    for (i = 0; i < json_array_size(subs); i++) {
        json_t *s = json_array_get(subs, i);

        name = json_object_get(s, "name");
        if (!json_is_object(s) || name == NULL
            || !(json_is_string(name) || json_is_null(name))
            || !digest_keys_ok(json_object_get(s, "digest")))
        {
            rc = fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "malformed "
                "subject (name or digest)");
            goto done;
        }
    }
    if (json_array_size(subs) != 1) {
        rc = fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "statement "
            "must have exactly one subject");
        goto done;
    }
    s0 = json_array_get(subs, 0);
    name = json_object_get(s0, "name");
    if (!json_is_string(name) || json_string_length(name) == 0) {
        rc = fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "subject has "
            "no name");
        goto done;
    }
    m = pg_pep740_filename_match(json_string_value(name), filename);
    if (m != 1) {
        rc = fail(err, PG_SIG_ESTATEMENT, "statement", m < 0
            ? "subject %.100s or file name is not a valid distribution name"
            : "subject %.100s is not this file", json_string_value(name));
        goto done;
    }
    for (i = 0; i < 32; i++) {
        hex[2 * i] = hexd[sha256[i] >> 4];
        hex[2 * i + 1] = hexd[sha256[i] & 15];
    }
    hex[64] = '\0';
    d = json_string_value(json_object_get(json_object_get(s0, "digest"),
        "sha256"));
    if (d == NULL || strcmp(d, hex) != 0) {
        rc = fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "subject sha256 "
            "is not the file's sha256");
        goto done;
    }
    if (strcmp(ptype, PUBLISH_V1) != 0 && strcmp(ptype, SLSA_V1) != 0) {
        rc = fail(err, PG_SIG_ESTATEMENT, "statement", "unsupported "
            "predicateType %.100s", ptype);
    }
done:
    json_decref(j);
    return rc;
}

/* ---------------------------------------------------------- attestation */

static const struct pg_sig_limits *
opts_limits(const struct pg_pep740_opts *o, struct pg_sig_limits *def)
{
    if (o->limits != NULL) {
        return o->limits;
    }
    pg_sig_limits_default(def);
    return def;
}

/* Decodes a base64 string member (attestation fields). */
static int
att_b64(const json_t *obj, const char *key, const struct pg_sig_limits *l,
    unsigned char **out, size_t *len, struct pg_sig_err *err)
{
    json_t *v = json_object_get(obj, key);

    *out = NULL;
    if (!json_is_string(v)) {
        return fail(err, PG_SIG_EPARSE, "attestation", "missing %s", key);
    }
    if (json_string_length(v) > l->b64_chars) {
        return fail(err, PG_SIG_ELIMIT, "attestation", "%s over the base64 "
            "limit", key);
    }
    if (pg_sig_b64_decode(json_string_value(v), json_string_length(v),
            l->b64_chars, out, len) != 0)
    {
        return fail(err, PG_SIG_EPARSE, "attestation", "invalid base64 in "
            "%s", key);
    }
    return PG_SIG_OK;
}

/* Attestation object → bundle (§1.4). */
static int
attestation_bundle(const json_t *att, const struct pg_sig_limits *l,
    struct pg_sig_bundle **out, struct pg_sig_err *err)
{
    json_t *vm, *env, *tes, *tss;
    unsigned char *cert = NULL, *stmt = NULL, *sig = NULL;
    unsigned char *tsr[PG_SIG_MAX_TIMESTAMPS];
    size_t certlen = 0, stmtlen = 0, siglen = 0, tsrlen[PG_SIG_MAX_TIMESTAMPS];
    size_t ntsr = 0, i;
    int rc;

    *out = NULL;
    if (!json_is_object(att)
        || !json_is_integer(json_object_get(att, "version"))
        || json_integer_value(json_object_get(att, "version")) != 1)
    {
        return fail(err, PG_SIG_EPARSE, "attestation", "%s", "attestation "
            "version is not 1");
    }
    vm = json_object_get(att, "verification_material");
    env = json_object_get(att, "envelope");
    tes = json_object_get(vm, "transparency_entries");
    if (!json_is_object(vm) || !json_is_object(env)) {
        return fail(err, PG_SIG_EPARSE, "attestation", "%s", "missing "
            "verification_material or envelope");
    }
    if (!json_is_array(tes) || json_array_size(tes) == 0) {
        return fail(err, PG_SIG_EPARSE, "attestation", "%s", "no "
            "transparency entries");
    }
    if (json_array_size(tes) > l->tlog_entries) {
        return fail(err, PG_SIG_ELIMIT, "attestation", "%s", "too many "
            "transparency entries");
    }
    tss = json_object_get(vm, "timestamps");
    if (tss != NULL && !json_is_null(tss) && (!json_is_array(tss)
            || json_array_size(tss) > l->timestamps
            || json_array_size(tss) > PG_SIG_MAX_TIMESTAMPS))
    {
        return fail(err, PG_SIG_ELIMIT, "attestation", "%s", "timestamps "
            "not an array or over the limit");
    }
    rc = att_b64(vm, "certificate", l, &cert, &certlen, err);
    if (rc == PG_SIG_OK) {
        rc = att_b64(env, "statement", l, &stmt, &stmtlen, err);
    }
    if (rc == PG_SIG_OK) {
        rc = att_b64(env, "signature", l, &sig, &siglen, err);
    }
    for (i = 0; rc == PG_SIG_OK && json_is_array(tss)
        && i < json_array_size(tss); i++)
    {
        json_t *t = json_array_get(tss, i);

        if (!json_is_string(t) || json_string_length(t) > l->b64_chars
            || pg_sig_b64_decode(json_string_value(t),
                json_string_length(t), l->b64_chars, &tsr[ntsr],
                &tsrlen[ntsr]) != 0)
        {
            rc = fail(err, PG_SIG_EPARSE, "attestation", "%s", "invalid "
                "timestamp");
            break;
        }
        ntsr++;
    }
    if (rc == PG_SIG_OK) {
        rc = pg_sig_bundle_from_dsse(cert, certlen, stmt, stmtlen,
            INTOTO_TYPE, sig, siglen, json_array_get(tes, 0),
            (const unsigned char *const *) tsr, tsrlen, ntsr, l, out, err);
    }
    for (i = 0; i < ntsr; i++) {
        free(tsr[i]);
    }
    free(cert);
    free(stmt);
    free(sig);
    return rc;
}

/* The payload of a verified DSSE bundle: an in-toto statement about the
 * file (§5). */
static int
check_payload(const struct pg_sig_result *res, const char *filename,
    const unsigned char sha256[32], const struct pg_sig_limits *l,
    struct pg_sig_err *err)
{
    if (strcmp(res->payload_type, INTOTO_TYPE) != 0) {
        return fail(err, PG_SIG_ESTATEMENT, "statement", "%s", "payload "
            "type is not in-toto");
    }
    return pg_pep740_check_statement(res->payload, res->payload_len,
        filename, sha256, l, err);
}

/* Verifies one attestation object (parsed) for the file. */
static int
verify_att(const struct pg_pep740_opts *o, const json_t *att,
    const char *filename, const unsigned char sha256[32],
    const struct pg_sig_policy *policy, const struct pg_sig_limits *l,
    struct pg_sig_err *err)
{
    struct pg_sig_verify_opts vo;
    struct pg_sig_result res;
    struct pg_sig_bundle *b;
    int rc;

    rc = attestation_bundle(att, l, &b, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    memset(&vo, 0, sizeof(vo));
    vo.root = o->root;
    vo.limits = l;
    vo.policy = policy;
    vo.now = o->now;
    vo.require_p256 = 1;
    rc = pg_sig_verify(&vo, b, &res, err);
    if (rc == PG_SIG_OK && o->identity != NULL) {
        rc = pg_sig_check_identity_bundle(b, o->identity, err);
    }
    if (rc == PG_SIG_OK) {
        rc = check_payload(&res, filename, sha256, l, err);
    }
    pg_sig_bundle_free(b);
    return rc;
}

int
pg_pep740_verify_attestation(const struct pg_pep740_opts *o,
    const char *json, size_t len, const char *filename,
    const unsigned char sha256[32], const struct pg_sig_policy *policy,
    struct pg_sig_err *err)
{
    struct pg_sig_limits def;
    const struct pg_sig_limits *l = opts_limits(o, &def);
    json_t *j;
    int rc;

    pg_sig_err_init(err);
    j = pg_sig_json_load(json, len, l, "attestation", err);
    if (j == NULL) {
        return (int) err->code;
    }
    rc = verify_att(o, j, filename, sha256, policy, l, err);
    json_decref(j);
    return rc;
}

int
pg_pep740_verify_bundle(const struct pg_pep740_opts *o, const char *json,
    size_t len, const char *filename, const unsigned char sha256[32],
    const struct pg_sig_policy *policy, struct pg_sig_err *err)
{
    struct pg_sig_limits def;
    const struct pg_sig_limits *l = opts_limits(o, &def);
    struct pg_sig_verify_opts vo;
    struct pg_sig_result res;
    struct pg_sig_bundle *b;
    int rc;

    pg_sig_err_init(err);
    rc = pg_sig_bundle_parse(json, len, l, &b, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    memset(&vo, 0, sizeof(vo));
    vo.root = o->root;
    vo.limits = l;
    vo.policy = policy;
    vo.now = o->now;
    /* messageSignature: the signature covers the file's digest itself */
    vo.artifact_sha256 = pg_sig_bundle_is_dsse(b) ? NULL : sha256;
    vo.artifact_sha384 = pg_sig_bundle_is_dsse(b) ? NULL : o->sha384;
    vo.artifact_sha512 = pg_sig_bundle_is_dsse(b) ? NULL : o->sha512;
    rc = pg_sig_verify(&vo, b, &res, err);
    if (rc == PG_SIG_OK && res.is_dsse) {
        rc = check_payload(&res, filename, sha256, l, err);
    }
    pg_sig_bundle_free(b);
    return rc;
}

/* ----------------------------------------------------------- provenance */

int
pg_pep740_verify_provenance_ex(const struct pg_pep740_opts *o,
    const char *json, size_t len, const char *filename,
    const unsigned char sha256[32], struct pg_publisher *seen,
    struct pg_sig_err *err)
{
    struct pg_sig_limits def;
    const struct pg_sig_limits *l = opts_limits(o, &def);
    struct pg_publisher first, pub;
    struct pg_sig_policy pol;
    json_t *j, *bundles, *ver;
    size_t i, k, total = 0;
    char reason[150];
    int rc = PG_SIG_OK;

    pg_sig_err_init(err);
    memset(&first, 0, sizeof(first));
    j = pg_sig_json_load(json, len, l, "provenance", err);
    if (j == NULL) {
        return (int) err->code;
    }
    ver = json_object_get(j, "version");
    bundles = json_object_get(j, "attestation_bundles");
    if (!json_is_integer(ver) || json_integer_value(ver) != 1) {
        rc = fail(err, PG_SIG_EPARSE, "provenance", "%s", "provenance "
            "version is not 1");
        goto done;
    }
    if (!json_is_array(bundles)) {
        rc = fail(err, PG_SIG_EPARSE, "provenance", "%s", "missing "
            "attestation_bundles");
        goto done;
    }
    if (json_array_size(bundles) > l->prov_bundles) {
        rc = fail(err, PG_SIG_ELIMIT, "provenance", "%s", "too many "
            "attestation bundles");
        goto done;
    }
    /* first pass, before any cryptography: publishers and the count */
    for (i = 0; i < json_array_size(bundles); i++) {
        json_t *bd = json_array_get(bundles, i);
        json_t *atts = json_object_get(bd, "attestations");

        if (pg_publisher_from_json(json_object_get(bd, "publisher"), &pub,
                reason, sizeof(reason)) != 0)
        {
            rc = fail(err, PG_SIG_EPARSE, "provenance", "%s", reason);
            goto done;
        }
        if (i == 0) {
            first = pub;
        } else if (!pg_publisher_match(&first, &pub)) {
            rc = fail(err, PG_SIG_EIDENTITY, "publisher", "%s", "bundles "
                "name different publishers");
            goto done;
        }
        if (o->expected != NULL && !pg_publisher_match(o->expected, &pub)) {
            char want[200], got[200];

            pg_publisher_format(o->expected, want, sizeof(want));
            pg_publisher_format(&pub, got, sizeof(got));
            snprintf(reason, sizeof(reason), "provenance publisher %.50s is "
                "not the expected %.50s", got, want);
            rc = fail(err, PG_SIG_EIDENTITY, "publisher", "%s", reason);
            goto done;
        }
        if (!json_is_array(atts)) {
            rc = fail(err, PG_SIG_EPARSE, "provenance", "%s", "bundle "
                "without attestations array");
            goto done;
        }
        total += json_array_size(atts);
        if (total > l->attestations) {
            rc = fail(err, PG_SIG_ELIMIT, "provenance", "%s", "too many "
                "attestations");
            goto done;
        }
    }
    if (total == 0) {
        rc = fail(err, PG_SIG_EPARSE, "provenance", "%s", "provenance holds "
            "no attestation");
        goto done;
    }
    /* second pass: every attestation under its bundle's publisher (the
     * first pass parsed every publisher, so this parse cannot fail) */
    for (i = 0; i < json_array_size(bundles); i++) {
        json_t *bd = json_array_get(bundles, i);
        json_t *atts = json_object_get(bd, "attestations");

        (void) pg_publisher_from_json(json_object_get(bd, "publisher"), &pub,
            reason, sizeof(reason));
        pg_publisher_policy(&pub, &pol);
        for (k = 0; k < json_array_size(atts); k++) {
            rc = verify_att(o, json_array_get(atts, k), filename, sha256,
                &pol, l, err);
            if (rc != PG_SIG_OK) {
                goto done;
            }
        }
    }
    if (seen != NULL) {
        *seen = first;
    }
done:
    json_decref(j);
    return rc;
}

int
pg_pep740_verify_provenance(const struct pg_sig_trust_root *root,
    const char *json, size_t len, const char *filename,
    const unsigned char sha256[32], const struct pg_publisher *expected,
    struct pg_publisher *seen, struct pg_sig_err *err)
{
    struct pg_pep740_opts o;

    memset(&o, 0, sizeof(o));
    o.root = root;
    o.expected = expected;
    /* the API edge reads the clock once; the steps below never do */
    o.now = (int64_t) time(NULL);
    return pg_pep740_verify_provenance_ex(&o, json, len, filename, sha256,
        seen, err);
}
