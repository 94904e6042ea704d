/* policy/policy_file.c — the policy file: read, check, merge, publish.
 *
 * The policy file is INI (libinih) with a [defaults] section and one
 * [project:<name>] section per project (design §7).  Directives are data:
 * pg_policy_directives[] names each one with its parser, the offset of the
 * field it fills, its default and a help line; the inih handler only looks
 * rows up.  Every error is collected as "FILE:LINE: message" (not just the
 * first): a line reader in front of inih counts lines, checks the syntax
 * inih would reject (so those errors carry their line too) and validates
 * section headers.  Sections start unset; policy_merge() fills each
 * [project:x] from [defaults] and [defaults] from the table's defaults, in
 * one place.  A loaded policy is immutable and refcounted; its generation is
 * derived from the file's bytes.
 *
 * Owns: the struct pg_policy and everything in it.  Borrows: nothing past
 * the call.  Runs on: start-up, SIGHUP reload (loop: the file is small),
 * the CLI.  Spec: design §7, style "Config tables", issue 4 item 2.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>
#include <openssl/evp.h>

#include "pg_policy.h"

struct pg_policy_project {
    char name[PG_POLICY_MAX_NAME + 1];
    struct pg_policy_rules rules;
};

struct pg_policy {
    atomic_long refs;
    uint64_t generation;
    char *source;
    struct pg_policy_rules defaults;
    size_t n_projects;
    struct pg_policy_project *projects;     /* sorted by name */
};

/* A section while loading: its rules start unset. */
struct policy_section {
    char name[PG_POLICY_MAX_NAME + 1];     /* "" for [defaults] */
    int line;
    struct pg_policy_rules rules;
    int seen_line[8];                       /* per directive row; 0 = unset */
};

struct policy_loader {
    const char *name;                       /* file name for messages */
    const char *buf;
    size_t len, pos;
    int line;                               /* line inih is handling */
    int cur;                                /* section index, -1 none */
    int have_defaults;
    size_t n, cap;
    struct policy_section *sect;
    int nomem;
    struct pg_policy_diag *diag;
};

static const char *parse_mode(const char *v, void *field, char *buf,
    size_t blen);
static const char *parse_violation(const char *v, void *field, char *buf,
    size_t blen);
static const char *parse_legacy(const char *v, void *field, char *buf,
    size_t blen);
static const char *parse_min_age(const char *v, void *field, char *buf,
    size_t blen);
static const char *parse_publisher(const char *v, void *field, char *buf,
    size_t blen);

const struct pg_policy_directive pg_policy_directives[] = {
    { "mode", parse_mode, offsetof(struct pg_policy_rules, mode), 0,
      "tofu",
      "tofu | require | allow | off: how files are judged" },
    { "publisher", parse_publisher, 0, 1, "",
      "accepted Trusted Publisher: github:OWNER/REPO:WORKFLOW"
      "[:ENV], gitlab:NS/PROJECT:PATH[:ENV], google:EMAIL" },
    { "on_violation", parse_violation,
      offsetof(struct pg_policy_rules, on_violation), 0, "yank",
      "yank | hide | deny: what happens to a rejected file" },
    { "legacy", parse_legacy, offsetof(struct pg_policy_rules, legacy), 0,
      "allow",
      "allow | deny: files without provenance uploaded before the "
      "project's first attested upload" },
    { "min_age", parse_min_age, offsetof(struct pg_policy_rules, min_age_s),
      0, "0",
      "hold back files uploaded less than this ago (90s, 15m, 12h, 3d, 2w)" },
};
const size_t pg_policy_n_directives =
    sizeof(pg_policy_directives) / sizeof(pg_policy_directives[0]);
_Static_assert(sizeof(pg_policy_directives) / sizeof(pg_policy_directives[0])
    <= sizeof(((struct policy_section *) 0)->seen_line) / sizeof(int),
    "policy_section.seen_line has a slot per directive");

struct policy_word {
    const char *word;
    int value;
};

static const struct policy_word policy_modes[] = {
    { "tofu", PG_MODE_TOFU }, { "require", PG_MODE_REQUIRE },
    { "allow", PG_MODE_ALLOW }, { "off", PG_MODE_OFF }, { NULL, 0 }
};
static const struct policy_word policy_violations[] = {
    { "yank", PG_VIOL_YANK }, { "hide", PG_VIOL_HIDE },
    { "deny", PG_VIOL_DENY }, { NULL, 0 }
};
static const struct policy_word policy_legacies[] = {
    { "allow", PG_LEGACY_ALLOW }, { "deny", PG_LEGACY_DENY }, { NULL, 0 }
};

#define PG_POLICY_MAX_DURATION_S (10LL * 366 * 86400)

/* ---- parsers ---------------------------------------------------------- */

static const char *
parse_word(const struct policy_word *t, const char *v, int *out, char *buf,
    size_t blen)
{
    size_t i, off = 0;
    int w;

    for (i = 0; t[i].word != NULL; i++) {
        if (strcmp(t[i].word, v) == 0) {
            *out = t[i].value;
            return NULL;
        }
    }
    w = snprintf(buf, blen, "expected ");
    off = w > 0 ? (size_t) w : 0;
    for (i = 0; t[i].word != NULL && off < blen; i++) {
        w = snprintf(buf + off, blen - off, "%s%s", i == 0 ? "" :
            (t[i + 1].word == NULL ? " or " : ", "), t[i].word);
        off += w > 0 ? (size_t) w : 0;
    }
    if (off < blen) {
        snprintf(buf + off, blen - off, ", not '%.40s'", v);
    }
    return buf;
}

static const char *
parse_mode(const char *v, void *field, char *buf, size_t blen)
{
    int x = 0;
    const char *r = parse_word(policy_modes, v, &x, buf, blen);

    if (r == NULL) {
        *(enum pg_policy_mode *) field = (enum pg_policy_mode) x;
    }
    return r;
}

static const char *
parse_violation(const char *v, void *field, char *buf, size_t blen)
{
    int x = 0;
    const char *r = parse_word(policy_violations, v, &x, buf, blen);

    if (r == NULL) {
        *(enum pg_policy_violation *) field = (enum pg_policy_violation) x;
    }
    return r;
}

static const char *
parse_legacy(const char *v, void *field, char *buf, size_t blen)
{
    int x = 0;
    const char *r = parse_word(policy_legacies, v, &x, buf, blen);

    if (r == NULL) {
        *(enum pg_policy_legacy *) field = (enum pg_policy_legacy) x;
    }
    return r;
}

const char *
pg_policy_parse_duration(const char *s, int64_t *out)
{
    long long n = 0, mul = 1;
    const char *p = s;

    if (*p < '0' || *p > '9') {
        return "expected a duration such as 0, 90s, 15m, 12h, 3d or 2w";
    }
    while (*p >= '0' && *p <= '9') {
        n = n * 10 + (*p - '0');
        if (n > PG_POLICY_MAX_DURATION_S) {
            return "duration is out of range (at most 10 years)";
        }
        p++;
    }
    switch (*p) {
    case '\0': case 's': mul = 1; break;
    case 'm': mul = 60; break;
    case 'h': mul = 3600; break;
    case 'd': mul = 86400; break;
    case 'w': mul = 7 * 86400; break;
    default:
        return "expected a duration such as 0, 90s, 15m, 12h, 3d or 2w";
    }
    if (*p != '\0' && p[1] != '\0') {
        return "expected a duration such as 0, 90s, 15m, 12h, 3d or 2w";
    }
    if (n * mul > PG_POLICY_MAX_DURATION_S) {
        return "duration is out of range (at most 10 years)";
    }
    *out = (int64_t) (n * mul);
    return NULL;
}

static const char *
parse_min_age(const char *v, void *field, char *buf, size_t blen)
{
    (void) buf;
    (void) blen;
    return pg_policy_parse_duration(v, (int64_t *) field);
}

/* field is the whole struct pg_policy_rules: publisher lines append. */
static const char *
parse_publisher(const char *v, void *field, char *buf, size_t blen)
{
    struct pg_policy_rules *r = field;
    struct pg_publisher pub, *np;
    char why[160];

    memset(&pub, 0, sizeof(pub));
    why[0] = '\0';
    if (pg_publisher_parse(v, &pub, why, sizeof(why)) != 0) {
        snprintf(buf, blen, "%s", why[0] != '\0' ? why
            : "not a publisher spec");
        return buf;
    }
    if (r->n_publishers >= PG_POLICY_MAX_PUBLISHERS) {
        snprintf(buf, blen, "more than %d publisher lines in one section",
            PG_POLICY_MAX_PUBLISHERS);
        return buf;
    }
    np = realloc(r->publishers, (r->n_publishers + 1) * sizeof(*np));
    if (np == NULL) {
        return "out of memory";
    }
    r->publishers = np;
    r->publishers[r->n_publishers++] = pub;
    r->publishers_set = 1;
    return NULL;
}

/* ---- names ------------------------------------------------------------ */

int
pg_policy_normalize(const char *name, char *out, size_t outlen)
{
    size_t i, o = 0, n = strlen(name);
    int prev_sep = 0;

    if (n == 0 || n > PG_POLICY_MAX_NAME || outlen == 0) {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char) name[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9');

        if (!alnum && ch != '-' && ch != '_' && ch != '.') {
            return -1;
        }
        if ((i == 0 || i == n - 1) && !alnum) {
            return -1;
        }
        if (!alnum) {
            if (!prev_sep) {
                if (o + 1 >= outlen) {
                    return -1;
                }
                out[o++] = '-';
            }
            prev_sep = 1;
            continue;
        }
        prev_sep = 0;
        if (o + 1 >= outlen) {
            return -1;
        }
        out[o++] = (char) ((ch >= 'A' && ch <= 'Z') ? ch - 'A' + 'a' : ch);
    }
    out[o] = '\0';
    return 0;
}

const char *
pg_policy_mode_name(enum pg_policy_mode m)
{
    switch (m) {
    case PG_MODE_UNSET: return "unset";
    case PG_MODE_TOFU: return "tofu";
    case PG_MODE_REQUIRE: return "require";
    case PG_MODE_ALLOW: return "allow";
    case PG_MODE_OFF: return "off";
    }
    return "?";
}

const char *
pg_policy_violation_name(enum pg_policy_violation v)
{
    switch (v) {
    case PG_VIOL_UNSET: return "unset";
    case PG_VIOL_YANK: return "yank";
    case PG_VIOL_HIDE: return "hide";
    case PG_VIOL_DENY: return "deny";
    }
    return "?";
}

const char *
pg_policy_strerror(enum pg_policy_code code)
{
    switch (code) {
    case PG_POLICY_OK: return "ok";
    case PG_POLICY_ENOMEM: return "out of memory";
    case PG_POLICY_ECONFIG: return "invalid policy";
    case PG_POLICY_EIO: return "I/O error";
    case PG_POLICY_ESTORE: return "cache error";
    case PG_POLICY_EPARSE: return "malformed record";
    case PG_POLICY_ELIMIT: return "over a limit";
    case PG_POLICY_EINVAL: return "invalid argument";
    }
    return "unknown error";
}

/* ---- diagnostics -------------------------------------------------------- */

static void
diag_add(struct policy_loader *L, int line, const char *fmt, ...)
{
    struct pg_policy_diag *d = L->diag;
    char msg[PG_POLICY_MAX_LINE + 100];
    va_list ap;

    d->total++;
    if (d->n >= PG_POLICY_MAX_ERRORS) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0) {
        snprintf(d->msg[d->n], sizeof(d->msg[0]), "%s:%d: %s", L->name, line,
            msg);
    } else {
        snprintf(d->msg[d->n], sizeof(d->msg[0]), "%s: %s", L->name, msg);
    }
    d->n++;
}

/* ---- sections ------------------------------------------------------------ */

static void
rules_unset(struct pg_policy_rules *r)
{
    memset(r, 0, sizeof(*r));
    r->min_age_s = -1;
}

static void
rules_free(struct pg_policy_rules *r)
{
    free(r->publishers);
    r->publishers = NULL;
    r->n_publishers = 0;
}

static int
section_add(struct policy_loader *L, const char *name, int line)
{
    struct policy_section *s;

    if (L->n == L->cap) {
        size_t ncap = L->cap == 0 ? 8 : L->cap * 2;
        struct policy_section *ns = realloc(L->sect, ncap * sizeof(*ns));

        if (ns == NULL) {
            L->nomem = 1;
            return -1;
        }
        L->sect = ns;
        L->cap = ncap;
    }
    s = &L->sect[L->n];
    memset(s, 0, sizeof(*s));
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->line = line;
    rules_unset(&s->rules);
    return (int) L->n++;
}

/* A "[...]" line: defaults, or project:<name> (normalized here). */
static void
section_header(struct policy_loader *L, const char *p, size_t len)
{
    char raw[PG_POLICY_MAX_LINE + 1], norm[PG_POLICY_MAX_NAME + 1];
    const char *end = memchr(p, ']', len);
    size_t n;

    L->cur = -1;
    if (end == NULL) {
        diag_add(L, L->line, "section header: expected ']'");
        return;
    }
    n = (size_t) (end - (p + 1));
    memcpy(raw, p + 1, n);
    raw[n] = '\0';
    if (strcmp(raw, "defaults") == 0) {
        if (L->have_defaults) {
            diag_add(L, L->line, "[defaults] is duplicate (first at line %d)",
                L->sect[0].line);
            return;
        }
        L->have_defaults = 1;
        L->sect[0].line = L->line;
        L->cur = 0;
        return;
    }
    if (strncmp(raw, "project:", 8) != 0) {
        diag_add(L, L->line, "unknown section [%s] (expected [defaults] or "
            "[project:NAME])", raw);
        return;
    }
    if (pg_policy_normalize(raw + 8, norm, sizeof(norm)) != 0) {
        diag_add(L, L->line, "[%s]: not a valid project name", raw);
        return;
    }
    if (L->n > PG_POLICY_MAX_PROJECTS) {
        diag_add(L, L->line, "more than %d [project:…] sections",
            PG_POLICY_MAX_PROJECTS);
        return;
    }
    L->cur = section_add(L, norm, L->line);
}

/* ---- the reader in front of inih --------------------------------------- */

/* Hands inih one line at a time (left-stripped, so indentation never
 * makes a continuation line), counting lines and checking what inih would
 * only report as "first error at line N".  A bad line reaches inih as an
 * empty line. */
static char *
policy_reader(char *str, int num, void *stream)
{
    struct policy_loader *L = stream;
    const char *p, *nl, *e;
    size_t len;

    if (L->pos >= L->len) {
        return NULL;
    }
    p = L->buf + L->pos;
    nl = memchr(p, '\n', L->len - L->pos);
    len = nl != NULL ? (size_t) (nl - p) : L->len - L->pos;
    L->pos += len + (nl != NULL ? 1 : 0);
    L->line++;
    str[0] = '\n';
    str[1] = '\0';
    if (len > 0 && p[len - 1] == '\r') {
        len--;
    }
    if (memchr(p, '\0', len) != NULL) {
        diag_add(L, L->line, "line contains a NUL byte");
        return str;
    }
    if (len > PG_POLICY_MAX_LINE || num < PG_POLICY_MAX_LINE + 2) {
        diag_add(L, L->line, "line is too long (at most %d characters)",
            PG_POLICY_MAX_LINE);
        return str;
    }
    if (L->line == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        p += 3;
        len -= 3;
    }
    while (len > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        len--;
    }
    e = p + len;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) {
        e--;
    }
    if (e == p || *p == ';' || *p == '#') {
        return str;
    }
    if (*p == '[') {
        section_header(L, p, (size_t) (e - p));
        if (L->cur < 0) {
            /* inih must still see a section change so that keys after a
             * bad header do not land in the previous section; they are
             * skipped because L->cur is -1. */
            memcpy(str, "[-]\n", 5);
        } else {
            memcpy(str, p, len);
            str[len] = '\n';
            str[len + 1] = '\0';
        }
        return str;
    }
    {
        const char *eq = p;

        while (eq < e && *eq != '=' && *eq != ':' && *eq != ';') {
            eq++;
        }
        if (eq == e || *eq == ';') {
            diag_add(L, L->line, "expected 'name = value'");
            return str;
        }
        if (eq == p) {
            diag_add(L, L->line, "expected a name before '%c'", *eq);
            return str;
        }
    }
    memcpy(str, p, len);
    str[len] = '\n';
    str[len + 1] = '\0';
    return str;
}

static int
policy_handler(void *user, const char *section, const char *name,
    const char *value)
{
    struct policy_loader *L = user;
    struct policy_section *s;
    const struct pg_policy_directive *d = NULL;
    char buf[160];
    const char *why;
    size_t i;

    (void) section;
    if (L->nomem) {
        return 0;
    }
    if (L->cur < 0) {
        if (section[0] == '\0') {
            diag_add(L, L->line, "%s: outside a section (put it under "
                "[defaults] or [project:NAME])", name);
        }
        return 1;
    }
    s = &L->sect[L->cur];
    for (i = 0; i < pg_policy_n_directives; i++) {
        if (strcmp(pg_policy_directives[i].name, name) == 0) {
            d = &pg_policy_directives[i];
            break;
        }
    }
    if (d == NULL) {
        diag_add(L, L->line, "unknown directive '%s'", name);
        return 1;
    }
    if (!d->repeatable && s->seen_line[i] != 0) {
        diag_add(L, L->line, "%s: is duplicate (first at line %d)", name,
            s->seen_line[i]);
        return 1;
    }
    if (value[0] == '\0') {
        diag_add(L, L->line, "%s: needs a value", name);
        return 1;
    }
    buf[0] = '\0';
    why = d->parse(value, (char *) &s->rules + d->offset, buf, sizeof(buf));
    if (why != NULL) {
        diag_add(L, L->line, "%s: %s", name, why);
        return 1;
    }
    if (s->seen_line[i] == 0) {
        s->seen_line[i] = L->line;
    }
    return 1;
}

/* Duplicate [project:x] sections (after normalization), found by sorting
 * so that 10,000 sections cost n log n, not n². */
static int
section_idx_cmp(const void *a, const void *b, void *arg)
{
    const struct policy_section *s = arg;
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    int c = strcmp(s[x].name, s[y].name);

    if (c != 0) {
        return c;
    }
    return s[x].line - s[y].line;
}

static void
policy_duplicates(struct policy_loader *L)
{
    size_t *idx, i;

    if (L->n < 3) {
        return;
    }
    idx = malloc((L->n - 1) * sizeof(*idx));
    if (idx == NULL) {
        L->nomem = 1;
        return;
    }
    for (i = 1; i < L->n; i++) {
        idx[i - 1] = i;
    }
    qsort_r(idx, L->n - 1, sizeof(*idx), section_idx_cmp, L->sect);
    for (i = 1; i + 1 < L->n; i++) {
        const struct policy_section *a = &L->sect[idx[i - 1]];
        const struct policy_section *b = &L->sect[idx[i]];

        if (strcmp(a->name, b->name) == 0) {
            diag_add(L, b->line, "[project:%s] is duplicate (first at line "
                "%d)", b->name, a->line);
        }
    }
    free(idx);
}

/* ---- merge --------------------------------------------------------------- */

/* The one place where unset fields get their values: a project from
 * [defaults] (deep-copying the publisher list), [defaults] from the
 * table's defaults (parent == NULL). */
static int
policy_merge(struct pg_policy_rules *r, const struct pg_policy_rules *parent)
{
    size_t i;

    if (parent == NULL) {
        char buf[160];

        for (i = 0; i < pg_policy_n_directives; i++) {
            const struct pg_policy_directive *d = &pg_policy_directives[i];
            char *field = (char *) r + d->offset;
            int unset = 0;

            if (d->repeatable || d->def[0] == '\0') {
                continue;
            }
            if (d->offset == offsetof(struct pg_policy_rules, min_age_s)) {
                unset = r->min_age_s < 0;
            } else {
                unset = *(int *) field == 0;
            }
            if (unset) {
                (void) d->parse(d->def, field, buf, sizeof(buf));
            }
        }
        return 0;
    }
    if (r->mode == PG_MODE_UNSET) {
        r->mode = parent->mode;
    }
    if (r->on_violation == PG_VIOL_UNSET) {
        r->on_violation = parent->on_violation;
    }
    if (r->legacy == PG_LEGACY_UNSET) {
        r->legacy = parent->legacy;
    }
    if (r->min_age_s < 0) {
        r->min_age_s = parent->min_age_s;
    }
    if (!r->publishers_set && parent->n_publishers > 0) {
        r->publishers = malloc(parent->n_publishers * sizeof(*r->publishers));
        if (r->publishers == NULL) {
            return -1;
        }
        memcpy(r->publishers, parent->publishers,
            parent->n_publishers * sizeof(*r->publishers));
        r->n_publishers = parent->n_publishers;
    }
    return 0;
}

static int
project_cmp(const void *a, const void *b)
{
    return strcmp(((const struct pg_policy_project *) a)->name,
        ((const struct pg_policy_project *) b)->name);
}

static void
policy_free(struct pg_policy *p)
{
    size_t i;

    if (p == NULL) {
        return;
    }
    for (i = 0; i < p->n_projects; i++) {
        rules_free(&p->projects[i].rules);
    }
    free(p->projects);
    rules_free(&p->defaults);
    free(p->source);
    free(p);
}

static uint64_t
policy_generation(const char *buf, size_t len)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    uint64_t g = 0;
    int i;

    if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1) {
        return 1;
    }
    for (i = 0; i < 8; i++) {
        g = (g << 8) | md[i];
    }
    return g == 0 ? 1 : g;
}

int
pg_policy_load_buf(const char *name, const char *buf, size_t len,
    struct pg_policy **out, struct pg_policy_diag *diag)
{
    struct policy_loader L;
    struct pg_policy *p = NULL;
    size_t i;
    int rc;

    *out = NULL;
    memset(diag, 0, sizeof(*diag));
    memset(&L, 0, sizeof(L));
    L.name = name;
    L.buf = buf;
    L.len = len;
    L.cur = -1;
    L.diag = diag;
    if (len > PG_POLICY_MAX_FILE_BYTES) {
        diag_add(&L, 0, "file is larger than %d bytes",
            PG_POLICY_MAX_FILE_BYTES);
        return PG_POLICY_ECONFIG;
    }
    if (section_add(&L, "", 0) < 0) {
        return PG_POLICY_ENOMEM;
    }
    rc = ini_parse_stream(policy_reader, &L, policy_handler, &L);
    if (rc == -2 || L.nomem) {
        goto nomem;
    }
    if (rc > 0 && diag->total == 0) {
        diag_add(&L, rc, "syntax error");
    }
    policy_duplicates(&L);
    if (policy_merge(&L.sect[0].rules, NULL) != 0) {
        goto nomem;
    }
    for (i = 1; i < L.n; i++) {
        if (policy_merge(&L.sect[i].rules, &L.sect[0].rules) != 0) {
            goto nomem;
        }
    }
    for (i = 0; i < L.n; i++) {
        const struct policy_section *s = &L.sect[i];

        if (s->rules.mode == PG_MODE_REQUIRE && s->rules.n_publishers == 0
            && (i > 0 || L.have_defaults))
        {
            diag_add(&L, s->line, "[%s%s]: mode = require needs at least one "
                "publisher line", i == 0 ? "defaults" : "project:",
                s->name);
        }
    }
    if (diag->total > 0) {
        for (i = 0; i < L.n; i++) {
            rules_free(&L.sect[i].rules);
        }
        free(L.sect);
        return PG_POLICY_ECONFIG;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        goto nomem;
    }
    atomic_init(&p->refs, 1);
    p->generation = policy_generation(buf, len);
    p->source = strdup(name);
    p->n_projects = L.n - 1;
    p->projects = calloc(L.n, sizeof(*p->projects));
    if (p->source == NULL || p->projects == NULL) {
        free(p->source);
        free(p->projects);
        free(p);
        goto nomem;
    }
    p->defaults = L.sect[0].rules;
    for (i = 1; i < L.n; i++) {
        memcpy(p->projects[i - 1].name, L.sect[i].name,
            sizeof(p->projects[0].name));
        p->projects[i - 1].rules = L.sect[i].rules;
    }
    free(L.sect);
    qsort(p->projects, p->n_projects, sizeof(*p->projects), project_cmp);
    *out = p;
    return PG_POLICY_OK;

nomem:
    for (i = 0; i < L.n; i++) {
        rules_free(&L.sect[i].rules);
    }
    free(L.sect);
    return PG_POLICY_ENOMEM;
}

int
pg_policy_load(const char *path, struct pg_policy **out,
    struct pg_policy_diag *diag)
{
    FILE *f;
    char *buf = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    memset(diag, 0, sizeof(*diag));
    f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(diag->msg[0], sizeof(diag->msg[0]), "%s: %s", path,
            strerror(errno));
        diag->n = diag->total = 1;
        return PG_POLICY_EIO;
    }
    buf = malloc(PG_POLICY_MAX_FILE_BYTES + 1);
    if (buf == NULL) {
        fclose(f);
        return PG_POLICY_ENOMEM;
    }
    len = fread(buf, 1, PG_POLICY_MAX_FILE_BYTES + 1, f);
    if (ferror(f)) {
        snprintf(diag->msg[0], sizeof(diag->msg[0]), "%s: read error",
            path);
        diag->n = diag->total = 1;
        fclose(f);
        free(buf);
        return PG_POLICY_EIO;
    }
    fclose(f);
    rc = pg_policy_load_buf(path, buf, len, out, diag);
    free(buf);
    return rc;
}

struct pg_policy *
pg_policy_builtin(void)
{
    struct pg_policy *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    atomic_init(&p->refs, 1);
    p->generation = 0;
    p->source = strdup("(built-in)");
    if (p->source == NULL) {
        free(p);
        return NULL;
    }
    rules_unset(&p->defaults);
    (void) policy_merge(&p->defaults, NULL);
    return p;
}

struct pg_policy *
pg_policy_ref(struct pg_policy *p)
{
    if (p != NULL) {
        atomic_fetch_add(&p->refs, 1);
    }
    return p;
}

void
pg_policy_unref(struct pg_policy *p)
{
    if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1) {
        policy_free(p);
    }
}

uint64_t
pg_policy_generation(const struct pg_policy *p)
{
    return p->generation;
}

const char *
pg_policy_source(const struct pg_policy *p)
{
    return p->source;
}

size_t
pg_policy_n_projects(const struct pg_policy *p)
{
    return p->n_projects;
}

const struct pg_policy_rules *
pg_policy_for(const struct pg_policy *p, const char *project)
{
    struct pg_policy_project key;
    const struct pg_policy_project *hit;

    if (project == NULL || strlen(project) > PG_POLICY_MAX_NAME
        || p->n_projects == 0)
    {
        return &p->defaults;
    }
    snprintf(key.name, sizeof(key.name), "%s", project);
    hit = bsearch(&key, p->projects, p->n_projects, sizeof(*p->projects),
        project_cmp);
    return hit != NULL ? &hit->rules : &p->defaults;
}
