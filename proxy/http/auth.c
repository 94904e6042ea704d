/* proxy/http/auth.c — who a client is: token checks, shared with the
 * operator pages (issue 13 item 5, issue 15).
 *
 * One hashing for every secret provgate checks: a token is 64 hex digits
 * (256 random bits), stored as "sha256$SALT$HASH" with HASH =
 * SHA-256(SALT's hex text, then the token's text).  The token is random
 * and long, so one salted SHA-256 is as strong as a slow hash and costs
 * ~1 us: a check never blocks a loop, and no cache of verified
 * credentials is needed (a cache keyed by a hash of the presented
 * credential would cost the same SHA-256 as the check itself; the table
 * below IS the cache of the store, swapped whole when the store changes).
 *
 * Clients ([server] auth = token).  The token table is a copy of the pin
 * store's tokens (routes/provenance.c pushes a new one whenever the
 * store's token generation moves: a `provgate tokens revoke` on any
 * replica reaches every other one with the pin store's notification).
 * A request names its token by HTTP Basic, "NAME:TOKEN" (pip, uv, poetry
 * from the index URL or .netrc) or "__token__:TOKEN", or by
 * "Authorization: Bearer TOKEN".  The first 12 hex digits of a token are
 * its public id (stored in clear, shown by `tokens list`), which finds it
 * for Bearer and __token__; the rest is compared as a salted hash with
 * CRYPTO_memcmp.  /healthz and /readyz are always open; /metrics takes
 * the metrics_token_file's tokens when that is set (else a client token).
 *
 * Failed attempts per client address: a bounded table (PG_AUTH_FAIL_SLOTS
 * slots, the oldest entry of a full bucket replaced).  After
 * auth_max_failures failures within PG_AUTH_FAIL_WINDOW_S, the address
 * gets 429 with Retry-After until the window ends, without its
 * credentials being looked at, so guesses stop counting.  429 and not a
 * delayed 401: a delay holds a connection and a timer per attempt (an
 * attacker's concurrency would cost us memory), a 429 costs nothing and
 * says what happens; pip does not retry it, uv backs off.
 *
 * Owns: the token table, the failure table.  Runs on: any loop thread
 * (the table behind a read-write lock, the failures behind a mutex taken
 * only on a failure or while some address is blocked).
 * Spec: issue 13 item 5, issue 15 item 2.
 */
#include <ctype.h>
#include <pthread.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth_int.h"
#include "config_int.h"
#include "hex_int.h"
#include "server_int.h"

#define AUTH_WAYS 4                 /* slots probed per address */

struct auth_fail {
    char client[64];
    int64_t window_start;           /* s */
    int fails;
};

struct pg_auth {
    const struct pg_config *cfg;
    pthread_rwlock_t lock;
    struct pg_auth_token *tokens;   /* lock: sorted by name */
    size_t ntokens;
    struct pg_auth_entry metrics[PG_AUTH_MAX_FILE_ENTRIES];
    size_t nmetrics;
    pthread_mutex_t fail_mu;
    struct auth_fail *fails;        /* PG_AUTH_FAIL_SLOTS, fail_mu */
    atomic_llong blocked_until;     /* latest end of a block, s */
    atomic_ulong refused, limited;  /* counters (metrics) */
};

/* ---- the one hashing ----------------------------------------------------- */

/* SHA-256 fetched from its provider once: EVP_sha256() makes OpenSSL 3
 * look the implementation up again on every EVP_DigestInit_ex (a locked
 * property query), which the per-request check does not need to pay. */
static pthread_once_t auth_md_once = PTHREAD_ONCE_INIT;
static EVP_MD *auth_md;

static void
auth_md_fetch(void)
{
    auth_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void
pg_auth_hash(const char *salt, const char *token, size_t tlen,
    unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned int n = 32;

    memset(out, 0, 32);
    pthread_once(&auth_md_once, auth_md_fetch);
    if (c == NULL) {
        return;
    }
    if (EVP_DigestInit_ex(c, auth_md != NULL ? auth_md : EVP_sha256(),
            NULL) != 1
        || EVP_DigestUpdate(c, salt, strlen(salt)) != 1
        || EVP_DigestUpdate(c, token, tlen) != 1
        || EVP_DigestFinal_ex(c, out, &n) != 1)
    {
        memset(out, 0, 32);
    }
    EVP_MD_CTX_free(c);
}

/* n characters at s are hex digits (either case). */
static int
auth_hex_ok(const char *s, size_t n)
{
    return strspn(s, "0123456789abcdefABCDEF") >= n;
}

int
pg_auth_new_secret(char token[PG_AUTH_TOKEN_HEX + 1],
    char stored[PG_AUTH_MAX_STORED])
{
    unsigned char tok[32], salt[16], h[32];
    char salthex[33], hhex[65];

    if (RAND_bytes(tok, sizeof(tok)) != 1
        || RAND_bytes(salt, sizeof(salt)) != 1)
    {
        return -1;
    }
    pg_hex_encode(tok, sizeof(tok), token);
    pg_hex_encode(salt, sizeof(salt), salthex);
    OPENSSL_cleanse(tok, sizeof(tok));
    pg_auth_hash(salthex, token, PG_AUTH_TOKEN_HEX, h);
    pg_hex_encode(h, sizeof(h), hhex);
    snprintf(stored, PG_AUTH_MAX_STORED, "sha256$%s$%s", salthex, hhex);
    return 0;
}

int
pg_auth_name_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n >= PG_AUTH_MAX_NAME) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];

        if (!isalnum(c) && c != '.' && c != '_' && c != '-' && c != '@') {
            return 0;
        }
    }
    return 1;
}

const char *
pg_auth_parse_stored(const char *s, char salt[65], unsigned char hash[32])
{
    const char *d;

    if (strncmp(s, "sha256$", 7) != 0) {
        return "the hash must be written sha256$SALT$HASH";
    }
    s += 7;
    d = strchr(s, '$');
    if (d == NULL || d - s < 16 || d - s > 64
        || !auth_hex_ok(s, (size_t) (d - s)) || strlen(d + 1) != 64
        || !auth_hex_ok(d + 1, 64))
    {
        return "SALT must be 16 to 64 hex digits and HASH 64";
    }
    memcpy(salt, s, (size_t) (d - s));
    salt[d - s] = '\0';
    (void) pg_hex_decode(d + 1, 32, hash);     /* checked above */
    return NULL;
}

/* One "NAME sha256$SALT$HASH" line; NULL, or why not. */
static const char *
file_line(const char *line, struct pg_auth_entry *a)
{
    const char *sp = strchr(line, ' ');

    if (sp == NULL || !pg_auth_name_ok(line, (size_t) (sp - line))) {
        return "expected NAME sha256$SALT$HASH (NAME: letters, digits, "
            ". _ - @, at most 63)";
    }
    memcpy(a->name, line, (size_t) (sp - line));
    a->name[sp - line] = '\0';
    while (*sp == ' ') {
        sp++;
    }
    return pg_auth_parse_stored(sp, a->salt, a->hash);
}

int
pg_auth_load_file(const char *directive, const char *path,
    struct pg_auth_entry *out, size_t max, size_t *n, char *msg,
    size_t mlen)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int lineno = 0;

    *n = 0;
    if (f == NULL) {
        snprintf(msg, mlen, "%s %s: %s", directive, path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        const char *why;

        lineno++;
        if (len > 0 && line[len - 1] != '\n' && !feof(f)) {
            snprintf(msg, mlen, "%s:%d: line too long", path, lineno);
            fclose(f);
            return -1;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'
            || line[len - 1] == ' '))
        {
            line[--len] = '\0';
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        if (*n == max) {
            snprintf(msg, mlen, "%s:%d: more than %zu entries", path,
                lineno, max);
            fclose(f);
            return -1;
        }
        why = file_line(line, &out[*n]);
        if (why != NULL) {
            snprintf(msg, mlen, "%s:%d: %s", path, lineno, why);
            fclose(f);
            return -1;
        }
        (*n)++;
    }
    fclose(f);
    if (*n == 0) {
        snprintf(msg, mlen, "%s %s: no entry", directive, path);
        return -1;
    }
    return 0;
}

int
pg_auth_basic(const char *h, char *user, size_t ulen, char *pass,
    size_t plen)
{
    unsigned char dec[400];
    const char *colon;
    size_t hl, nl;
    int n;

    if (h == NULL || strncasecmp(h, "Basic ", 6) != 0) {
        return -1;
    }
    h += 6;
    while (*h == ' ') {
        h++;
    }
    hl = strlen(h);
    if (hl == 0 || hl > 4 * ((sizeof(dec) - 1) / 3) || hl % 4 != 0) {
        return -1;
    }
    n = EVP_DecodeBlock(dec, (const unsigned char *) h, (int) hl);
    if (n <= 0) {
        return -1;
    }
    while (n > 0 && h[hl - 1] == '=' && dec[n - 1] == '\0') {
        n--;
        hl--;
    }
    dec[n] = '\0';
    colon = memchr(dec, ':', (size_t) n);
    nl = colon != NULL ? (size_t) (colon - (const char *) dec) : 0;
    if (colon == NULL || nl >= ulen
        || (size_t) n - nl - 1 >= plen
        || memchr(dec, '\0', (size_t) n) != NULL)
    {
        OPENSSL_cleanse(dec, sizeof(dec));
        return -1;
    }
    memcpy(user, dec, nl);
    user[nl] = '\0';
    memcpy(pass, colon + 1, (size_t) n - nl - 1);
    pass[(size_t) n - nl - 1] = '\0';
    OPENSSL_cleanse(dec, sizeof(dec));
    return 0;
}

int
pg_auth_entry_check(const struct pg_auth_entry *e, const char *token,
    size_t tlen)
{
    unsigned char got[32];
    int ok;

    pg_auth_hash(e->salt, token, tlen, got);
    ok = CRYPTO_memcmp(got, e->hash, 32) == 0;
    OPENSSL_cleanse(got, sizeof(got));
    return ok;
}

/* ---- the table ----------------------------------------------------------- */

int
pg_auth_new(const struct pg_config *cfg, struct pg_auth **out, char *msg,
    size_t mlen)
{
    struct pg_auth *a = calloc(1, sizeof(*a));

    *out = NULL;
    if (a == NULL || (a->fails = calloc(PG_AUTH_FAIL_SLOTS,
        sizeof(*a->fails))) == NULL)
    {
        free(a);
        snprintf(msg, mlen, "auth: out of memory");
        return -1;
    }
    a->cfg = cfg;
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->fail_mu, NULL);
    if (cfg->metrics_token_file != NULL
        && pg_auth_load_file("metrics_token_file", cfg->metrics_token_file,
        a->metrics, PG_AUTH_MAX_FILE_ENTRIES, &a->nmetrics, msg, mlen) != 0)
    {
        pg_auth_free(a);
        return -1;
    }
    *out = a;
    return 0;
}

void
pg_auth_free(struct pg_auth *a)
{
    if (a == NULL) {
        return;
    }
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->fail_mu);
    if (a->tokens != NULL) {
        OPENSSL_cleanse(a->tokens, a->ntokens * sizeof(*a->tokens));
    }
    free(a->tokens);
    free(a->fails);
    OPENSSL_cleanse(a->metrics, sizeof(a->metrics));
    free(a);
}

static int
by_name(const void *x, const void *y)
{
    return strcmp(((const struct pg_auth_token *) x)->e.name,
        ((const struct pg_auth_token *) y)->e.name);
}

int
pg_auth_set_tokens(struct pg_auth *a, const struct pg_auth_token *t,
    size_t n)
{
    struct pg_auth_token *copy = NULL, *old;
    size_t oldn;

    if (n > PG_AUTH_MAX_TOKENS) {
        return -1;
    }
    if (n > 0) {
        copy = malloc(n * sizeof(*copy));
        if (copy == NULL) {
            return -1;
        }
        memcpy(copy, t, n * sizeof(*copy));
        qsort(copy, n, sizeof(*copy), by_name);
    }
    pthread_rwlock_wrlock(&a->lock);
    old = a->tokens;
    oldn = a->ntokens;
    a->tokens = copy;
    a->ntokens = n;
    pthread_rwlock_unlock(&a->lock);
    if (old != NULL) {
        OPENSSL_cleanse(old, oldn * sizeof(*old));
    }
    free(old);
    return 0;
}

size_t
pg_auth_ntokens(struct pg_auth *a)
{
    size_t n;

    pthread_rwlock_rdlock(&a->lock);
    n = a->ntokens;
    pthread_rwlock_unlock(&a->lock);
    return n;
}

/* ---- failures per address ------------------------------------------------ */

static uint64_t
auth_fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;

    while (*s != '\0') {
        h = (h ^ (unsigned char) *s++) * 1099511628211ull;
    }
    return h;
}

/* The slot of client (found, or the stalest of its bucket, reset).
 * fail_mu held. */
static struct auth_fail *
fail_slot(struct pg_auth *a, const char *client, int64_t now)
{
    size_t base = (size_t) (auth_fnv(client) % (PG_AUTH_FAIL_SLOTS
        / AUTH_WAYS)) * AUTH_WAYS, i;
    struct auth_fail *f, *stale = &a->fails[base];

    for (i = 0; i < AUTH_WAYS; i++) {
        f = &a->fails[base + i];
        if (strcmp(f->client, client) == 0) {
            if (now - f->window_start >= PG_AUTH_FAIL_WINDOW_S) {
                f->window_start = now;
                f->fails = 0;
            }
            return f;
        }
        if (f->window_start < stale->window_start) {
            stale = f;
        }
    }
    snprintf(stale->client, sizeof(stale->client), "%s", client);
    stale->window_start = now;
    stale->fails = 0;
    return stale;
}

/* Seconds client must wait, 0 if it is not blocked. */
static int64_t
fail_blocked(struct pg_auth *a, const char *client, int64_t now)
{
    size_t base, i;
    int64_t wait = 0;

    if (atomic_load_explicit(&a->blocked_until, memory_order_relaxed)
        <= now)
    {
        return 0;                   /* nobody is blocked: no lock */
    }
    base = (size_t) (auth_fnv(client) % (PG_AUTH_FAIL_SLOTS / AUTH_WAYS))
        * AUTH_WAYS;
    pthread_mutex_lock(&a->fail_mu);
    for (i = 0; i < AUTH_WAYS; i++) {
        struct auth_fail *f = &a->fails[base + i];

        if (strcmp(f->client, client) == 0
            && f->fails >= a->cfg->auth_max_failures
            && now - f->window_start < PG_AUTH_FAIL_WINDOW_S)
        {
            wait = f->window_start + PG_AUTH_FAIL_WINDOW_S - now;
        }
    }
    pthread_mutex_unlock(&a->fail_mu);
    return wait;
}

/* Counts a failure; 1 if it starts a block. */
static int
fail_count(struct pg_auth *a, const char *client, int64_t now)
{
    struct auth_fail *f;
    int blocked = 0;

    if (a->cfg->auth_max_failures <= 0) {
        return 0;
    }
    pthread_mutex_lock(&a->fail_mu);
    f = fail_slot(a, client, now);
    f->fails++;
    if (f->fails == a->cfg->auth_max_failures) {
        int64_t until = f->window_start + PG_AUTH_FAIL_WINDOW_S;

        blocked = 1;
        if (atomic_load(&a->blocked_until) < until) {
            atomic_store(&a->blocked_until, until);
        }
    }
    pthread_mutex_unlock(&a->fail_mu);
    return blocked;
}

/* ---- the check ----------------------------------------------------------- */

enum auth_result {
    AUTH_OK,
    AUTH_NONE,                      /* no credentials */
    AUTH_BAD,                       /* malformed, unknown or wrong */
    AUTH_EXPIRED,
    AUTH_REVOKED
};

/* A token of the table whose id is token's first PG_AUTH_ID_HEX digits
 * and whose hash matches (name NULL: any name; else *known says whether
 * the table has that name).  rdlock held. */
static const struct pg_auth_token *
find_token(struct pg_auth *a, const char *name, const char *token,
    int *known)
{
    size_t tl = strlen(token), i;
    const struct pg_auth_token *hit = NULL;

    *known = 0;
    if (tl != PG_AUTH_TOKEN_HEX && name == NULL) {
        return NULL;
    }
    if (name != NULL) {
        struct pg_auth_token key;
        const struct pg_auth_token *t;

        snprintf(key.e.name, sizeof(key.e.name), "%s", name);
        t = bsearch(&key, a->tokens, a->ntokens, sizeof(key), by_name);
        *known = t != NULL;
        if (t != NULL && tl == PG_AUTH_TOKEN_HEX && memcmp(t->id, token, PG_AUTH_ID_HEX) == 0
            && pg_auth_entry_check(&t->e, token, tl))
        {
            hit = t;
        }
        return hit;
    }
    for (i = 0; i < a->ntokens && hit == NULL; i++) {
        const struct pg_auth_token *t = &a->tokens[i];

        if (memcmp(t->id, token, PG_AUTH_ID_HEX) == 0
            && pg_auth_entry_check(&t->e, token, tl))
        {
            hit = t;
        }
    }
    return hit;
}

/* The token of an "Authorization: Bearer TOKEN" value h, or NULL. */
static const char *
auth_bearer(const char *h)
{
    if (strncasecmp(h, "Bearer ", 7) != 0) {
        return NULL;
    }
    h += 7;
    while (*h == ' ') {
        h++;
    }
    return h;
}

/* The credentials of h checked against the client tokens. */
static enum auth_result
check_client(struct pg_auth *a, const char *h, char *who, size_t wlen,
    int64_t now)
{
    char user[PG_AUTH_MAX_NAME + 8], pass[PG_AUTH_TOKEN_HEX + 8];
    const char *name = NULL, *token = NULL;
    const struct pg_auth_token *t;
    enum auth_result res = AUTH_BAD;
    int known;

    who[0] = '\0';
    if (h == NULL) {
        return AUTH_NONE;
    }
    if ((token = auth_bearer(h)) != NULL) {
    } else if (pg_auth_basic(h, user, sizeof(user), pass, sizeof(pass))
        == 0)
    {
        token = pass;
        if (strcmp(user, "__token__") != 0) {
            if (!pg_auth_name_ok(user, strlen(user))) {
                OPENSSL_cleanse(pass, sizeof(pass));
                return AUTH_BAD;
            }
            name = user;
        }
    } else {
        return AUTH_BAD;
    }
    pthread_rwlock_rdlock(&a->lock);
    t = find_token(a, name, token, &known);
    if (known) {
        /* A name the table holds, never what a client typed: a token
         * put in the user field must not reach a log. */
        snprintf(who, wlen, "%s", name);
    }
    if (t != NULL) {
        snprintf(who, wlen, "%s", t->e.name);
        res = t->revoked != 0 ? AUTH_REVOKED
            : t->expires != 0 && t->expires <= now ? AUTH_EXPIRED : AUTH_OK;
    }
    pthread_rwlock_unlock(&a->lock);
    OPENSSL_cleanse(pass, sizeof(pass));
    return res;
}

/* The credentials of h checked against metrics_token_file. */
static enum auth_result
check_metrics(struct pg_auth *a, const char *h, char *who, size_t wlen)
{
    char user[PG_AUTH_MAX_NAME + 8], pass[PG_AUTH_TOKEN_HEX + 8];
    const char *token;
    size_t i;
    int hit = -1;

    who[0] = '\0';
    if (h == NULL) {
        return AUTH_NONE;
    }
    if ((token = auth_bearer(h)) != NULL) {
        for (i = 0; i < a->nmetrics; i++) {
            if (pg_auth_entry_check(&a->metrics[i], token, strlen(token))) {
                hit = (int) i;
            }
        }
    } else if (pg_auth_basic(h, user, sizeof(user), pass, sizeof(pass))
        == 0)
    {
        for (i = 0; i < a->nmetrics; i++) {
            if (strcmp(a->metrics[i].name, user) == 0
                && pg_auth_entry_check(&a->metrics[i], pass, strlen(pass)))
            {
                hit = (int) i;
            }
        }
        OPENSSL_cleanse(pass, sizeof(pass));
    } else {
        return AUTH_BAD;
    }
    if (hit < 0) {
        return AUTH_BAD;
    }
    snprintf(who, wlen, "%s", a->metrics[hit].name);
    return AUTH_OK;
}

static int
auth_check(struct pg_auth *a, struct pg_req *r, int metrics)
{
    const char *h, *why;
    char who[PG_AUTH_MAX_NAME];
    int64_t now, wait;
    enum auth_result res;

    now = (int64_t) time(NULL);
    wait = fail_blocked(a, r->client, now);
    if (wait > 0) {
        char ra[24];

        atomic_fetch_add(&a->limited, 1);
        r->route = "refused";
        snprintf(ra, sizeof(ra), "%lld", (long long) wait);
        pg_req_set_header(r, "Retry-After", ra);
        pg_req_refuse(r, PG_REFUSE_TOO_MANY, "too many failed "
            "authentication attempts from this address; retry in %lld s",
            (long long) wait);
        return 1;
    }
    h = pg_req_header(r, "Authorization");
    res = metrics ? check_metrics(a, h, who, sizeof(who))
        : check_client(a, h, who, sizeof(who), now);
    if (res == AUTH_OK) {
        snprintf(r->user, sizeof(r->user), "%s", who);
        return 0;
    }
    r->route = "refused";
    switch (res) {
    case AUTH_NONE:
        why = metrics ? "credentials required (a token of "
            "metrics_token_file)" : "credentials required (a provgate "
            "token: http://NAME:TOKEN@host/simple/ or Authorization: "
            "Bearer TOKEN)";
        break;
    case AUTH_EXPIRED:
        why = "token expired";
        break;
    case AUTH_REVOKED:
        why = "token revoked";
        break;
    default:
        why = "bad credentials";
        break;
    }
    if (who[0] != '\0') {
        /* a name the table holds (never what the client typed) */
        snprintf(r->user, sizeof(r->user), "%s", who);
    }
    atomic_fetch_add(&a->refused, 1);
    if (res != AUTH_NONE) {
        /* Asking first without credentials is how browsers and pip's
         * keyring lookup work: only a presented credential counts. */
        if (fail_count(a, r->client, now)) {
            pg_log(r->s, "auth: client %s blocked for %d s after %d failed "
                "attempts", r->client, PG_AUTH_FAIL_WINDOW_S,
                a->cfg->auth_max_failures);
        }
    }
    pg_req_set_header(r, "WWW-Authenticate",
        "Basic realm=\"provgate\", charset=\"UTF-8\"");
    pg_req_refuse(r, PG_REFUSE_UNAUTHORIZED, "%s", why);
    return 1;
}

void
pg_auth_counts(struct pg_auth *a, uint64_t *refused, uint64_t *limited)
{
    *refused = a != NULL ? atomic_load(&a->refused) : 0;
    *limited = a != NULL ? atomic_load(&a->limited) : 0;
}

int
pg_auth_admit(struct pg_auth *a, struct pg_req *r, const char *path)
{
    int metrics;

    if (a == NULL || strcmp(path, "/healthz") == 0
        || strcmp(path, "/readyz") == 0)
    {
        return 0;
    }
    if (a->cfg->ui && (strcmp(path, "/-") == 0
        || strncmp(path, "/-/", 3) == 0))
    {
        /* The operator pages take an administrator's credentials in the
         * same header: routes/ui_route.c checks either kind. */
        return 0;
    }
    metrics = strcmp(path, "/metrics") == 0 && a->nmetrics > 0;
    if (!metrics && a->cfg->auth != PG_AUTH_TOKEN) {
        return 0;
    }
    return auth_check(a, r, metrics);
}

int
pg_auth_admit_client(struct pg_auth *a, struct pg_req *r)
{
    if (a == NULL || a->cfg->auth != PG_AUTH_TOKEN) {
        return 0;
    }
    return auth_check(a, r, 0);
}
