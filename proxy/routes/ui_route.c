/* proxy/routes/ui_route.c — the operator pages' route: /-/, /-/project/NAME,
 * /-/events, /-/login and the approval actions.
 *
 * This file: replies, query strings, administrators, the audit tap,
 * dispatch and life cycle; the pages are in ui_route_lists.c,
 * ui_route_project.c and ui_route_actions.c (ui_route_priv.h).
 *
 * Builds the plain models of proxy/ui/ from what the server holds and
 * hands them to the pure renderers:
 *  - the event store (ui/ui_store.c), fed by the audit log's tap: every
 *    event this process audits, from its start (the audit log file keeps
 *    them all);
 *  - a project's annotated page (pages.c: memory, LMDB or the upstream,
 *    as a client's request would load it) for each file's status,
 *    decision and reason, the hidden files included;
 *  - the pin store: the pin (never blocks) and its history (on a worker:
 *    PostgreSQL is a round trip);
 *  - the cached provenance of the first file of each identity in a
 *    publisher change, for the certificate facts (Fulcio extensions:
 *    source repository, ref, commit digest, workflow run).
 *
 * Administrators.  With admin_token_file set, /-/login asks for HTTP
 * Basic credentials (a NAME and its token); the browser then sends them
 * with every /-/ request, and a request whose credentials do not verify
 * is a 401 (constant-time comparison of salted SHA-256 hashes).  An
 * administrator's project page carries forms: approve a new publisher,
 * forget the pin, re-verify.  Each opens a confirmation page (GET, no
 * effect) whose button POSTs to the same URL with the CSRF token, an HMAC
 * of the administrator's name under a per-process secret, compared in
 * constant time.  The POST carries its fields in the URL's query, not in
 * a body: provgate's front ends take no request body at all (the
 * request-smuggling guard, framing.c), and a POST with an empty body
 * passes it.  The query is never logged (the access log writes the path)
 * and the pages send no Referer.  Approve and forget run on a worker
 * against the pin store exactly as `provgate pins approve|forget` do;
 * re-verify drops the project's verdicts (memory, then LMDB on a worker)
 * so that its provenance is verified again.  Each is audited with the
 * administrator's name as actor and re-annotates every page.
 *
 * Owns: the store, the admins table, request state in the arena.
 * Borrows: the server, the provenance engine.  Runs on: loop (pin store
 * writes and history reads on workers).  Spec: issue 15.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "hex_int.h"
#include "ui_route_priv.h"

static struct pg_uisrv *ui_of(struct pg_req *r);

/* ---- replies ------------------------------------------------------------ */

void
pg_uir_send_html(struct pg_req *r, int code, const char *reason,
    struct pg_buf *b)
{
    struct evbuffer *body;

    if (b->failed) {
        pg_buf_free(b);
        pg_req_refuse(r, PG_REFUSE_NOMEM, "the page could not be "
            "rendered (out of memory or over its size limit)");
        return;
    }
    body = evbuffer_new();
    if (body == NULL || evbuffer_add(body, b->p, b->len) != 0) {
        if (body != NULL) {
            evbuffer_free(body);
        }
        pg_buf_free(b);
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    pg_buf_free(b);
    pg_req_set_header(r, "Content-Type", "text/html; charset=utf-8");
    pg_req_set_header(r, "Cache-Control", "no-store");
    pg_req_set_header(r, "X-Content-Type-Options", "nosniff");
    pg_req_set_header(r, "X-Frame-Options", "DENY");
    pg_req_set_header(r, "Referrer-Policy", "no-referrer");
    pg_req_set_header(r, "Content-Security-Policy", "default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'");
    pg_req_send(r, code, reason, body);
}

void
pg_uir_redirect(struct pg_req *r, int code, const char *to)
{
    pg_req_set_header(r, "Location", to);
    pg_req_set_header(r, "Cache-Control", "no-store");
    pg_req_send(r, code, code == 301 ? "Moved permanently" : "See other",
        NULL);
}

/* ---- query strings ------------------------------------------------------ */

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The value of key in the request's query, percent- and '+'-decoded into
 * the arena; NULL when absent (or over UI_MAX_FIELD, or holding a NUL). */
const char *
pg_uir_qget(struct pg_req *r, const char *key)
{
    const char *q = pg_req_query(r), *p;
    size_t kl = strlen(key);

    for (p = q; p != NULL && *p != '\0';) {
        const char *amp = strchr(p, '&'), *end = amp != NULL ? amp
            : p + strlen(p);

        if ((size_t) (end - p) > kl && strncmp(p, key, kl) == 0
            && p[kl] == '=')
        {
            const char *v = p + kl + 1;
            size_t n = (size_t) (end - v), o = 0, i;
            char *out;

            if (n > 3 * UI_MAX_FIELD) {
                return NULL;
            }
            out = pg_req_alloc(r, n + 1);
            if (out == NULL) {
                return NULL;
            }
            for (i = 0; i < n; i++) {
                if (v[i] == '+') {
                    out[o++] = ' ';
                } else if (v[i] == '%' && i + 2 < n
                    && hexval((unsigned char) v[i + 1]) >= 0
                    && hexval((unsigned char) v[i + 2]) >= 0)
                {
                    int c = hexval((unsigned char) v[i + 1]) * 16
                        + hexval((unsigned char) v[i + 2]);

                    if (c == 0) {
                        return NULL;
                    }
                    out[o++] = (char) c;
                    i += 2;
                } else {
                    out[o++] = v[i];
                }
            }
            out[o] = '\0';
            return o <= UI_MAX_FIELD ? out : NULL;
        }
        if (amp == NULL) {
            break;
        }
        p = amp + 1;
    }
    return NULL;
}

/* "24h", "7d", "90m" back from now, or "YYYY-MM-DD[THH:MM:SSZ]"; 0 for
 * none or not understood. */
int64_t
pg_uir_parse_since(const char *s, int64_t now)
{
    int64_t d;
    char buf[40];

    if (s == NULL || s[0] == '\0') {
        return 0;
    }
    if (isdigit((unsigned char) s[0]) && strlen(s) < 8
        && pg_policy_parse_duration(s, &d) == NULL)
    {
        return now - d;
    }
    if (strlen(s) == 10) {
        snprintf(buf, sizeof(buf), "%sT00:00:00Z", s);
        return pg_policy_parse_time(buf) > 0 ? pg_policy_parse_time(buf) : 0;
    }
    d = pg_policy_parse_time(s);
    return d > 0 ? d : 0;
}

/* ---- administrators ------------------------------------------------------ */

/* The administrator the request's Basic credentials name, NULL when it
 * sends none; *bad when it sends credentials that do not verify. */
static const char *
admin_of(struct pg_uisrv *u, struct pg_req *r, int *bad)
{
    const char *h = pg_req_header(r, "Authorization");
    char user[PG_AUTH_MAX_NAME + 8], pass[400];
    size_t i;
    int found = -1, ok;

    *bad = 0;
    if (h == NULL) {
        return NULL;
    }
    *bad = 1;
    if (u->nadmins == 0
        || pg_auth_basic(h, user, sizeof(user), pass, sizeof(pass)) != 0)
    {
        return NULL;
    }
    for (i = 0; i < u->nadmins; i++) {
        if (strcmp(u->admins[i].name, user) == 0) {
            found = (int) i;
        }
    }
    ok = found >= 0 && pg_auth_entry_check(&u->admins[found], pass,
        strlen(pass));
    OPENSSL_cleanse(pass, sizeof(pass));
    if (!ok) {
        return NULL;
    }
    *bad = 0;
    return u->admins[found].name;
}

static void
csrf_of(struct pg_uisrv *u, const char *name, char out[65])
{
    unsigned char mac[32];
    unsigned int ml = sizeof(mac);

    if (HMAC(EVP_sha256(), u->secret, sizeof(u->secret),
            (const unsigned char *) name, strlen(name), mac, &ml) == NULL)
    {
        memset(mac, 0, sizeof(mac));
    }
    pg_hex_encode(mac, 32, out);
}

void
pg_uir_unauthorized(struct pg_req *r)
{
    pg_req_set_header(r, "WWW-Authenticate",
        "Basic realm=\"provgate operator pages\", charset=\"UTF-8\"");
    pg_req_refuse(r, PG_REFUSE_UNAUTHORIZED, "administrator credentials "
        "required (NAME and token from admin_token_file)");
}

/* ---- the audit tap ------------------------------------------------------- */

static void
on_audit(void *arg, const struct pg_audit_event *ev, int64_t t)
{
    struct pg_uisrv *u = arg;
    struct pg_ui_event e;

    e.time = t;
    e.event = ev->event;
    e.client = ev->client;
    e.project = ev->project;
    e.file = ev->file;
    e.sha256 = ev->sha256;
    e.expected = ev->expected;
    e.seen = ev->seen;
    e.decision = ev->decision;
    e.reason = ev->reason;
    e.actor = ev->actor;
    pg_ui_store_add(u->store, &e);
}

/* ---- dispatch ------------------------------------------------------------ */

static struct pg_uisrv *
ui_of(struct pg_req *r)
{
    return r->s->ui_arg;
}

void
pg_uisrv_handle(void *arg, struct pg_req *r, const char *path)
{
    struct pg_uisrv *u = arg;
    struct ui_req *q;
    const char *admin, *rest;
    char raw[PG_INDEX_MAX_NAME + 2];
    size_t n;
    int bad, post = strcmp(r->method, "POST") == 0;

    r->route = "ui";
    (void) ui_of;
    if (strcmp(path, "/-") == 0) {
        pg_uir_redirect(r, 301, "/-/");
        return;
    }
    admin = admin_of(u, r, &bad);
    if (admin == NULL && r->s->auth != NULL
        && r->s->cfg->auth == PG_AUTH_TOKEN)
    {
        /* auth = token: a client's token reads the pages too */
        if (pg_auth_admit_client(r->s->auth, r)) {
            return;
        }
        bad = 0;
    }
    if (bad) {
        pg_uir_unauthorized(r);
        return;
    }
    if (strcmp(path, "/-/login") == 0) {
        if (u->nadmins == 0) {
            pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no admin_token_file: the "
                "operator pages are read-only");
        } else if (admin == NULL) {
            pg_uir_unauthorized(r);
        } else {
            pg_uir_redirect(r, 303, "/-/");
        }
        return;
    }
    if (post && strncmp(path, "/-/project/", 11) != 0) {
        pg_req_set_header(r, "Allow", "GET, HEAD");
        pg_req_refuse(r, PG_REFUSE_METHOD, "method not allowed");
        return;
    }
    if (strcmp(path, "/-/") == 0) {
        pg_uir_overview(u, r, admin);
        return;
    }
    if (strcmp(path, "/-/events") == 0) {
        pg_uir_events(u, r, admin);
        return;
    }
    if (strncmp(path, "/-/project/", 11) != 0) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no such page: %s", path);
        return;
    }
    q = pg_req_alloc(r, sizeof(*q));
    if (q == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    memset(q, 0, sizeof(*q));
    q->u = u;
    q->r = r;
    q->admin = admin;
    if (admin != NULL) {
        csrf_of(u, admin, q->csrf);
    }
    path += 11;
    rest = strchr(path, '/');
    n = rest != NULL ? (size_t) (rest - path) : strlen(path);
    if (n == 0 || n >= sizeof(raw)) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "expected /-/project/NAME");
        return;
    }
    memcpy(raw, path, n);
    raw[n] = '\0';
    if (pg_index_normalize(raw, q->project, sizeof(q->project)) != 0) {
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "not a project name");
        return;
    }
    if (rest == NULL || strcmp(rest, "/") == 0) {
        if (post) {
            pg_req_set_header(r, "Allow", "GET, HEAD");
            pg_req_refuse(r, PG_REFUSE_METHOD, "method not "
                "allowed");
            return;
        }
        if (strcmp(raw, q->project) != 0 || rest != NULL) {
            char to[PG_INDEX_MAX_NAME + 16];

            snprintf(to, sizeof(to), "/-/project/%s", q->project);
            pg_uir_redirect(r, 301, to);
            return;
        }
        q->flash = pg_uir_flash_of(pg_uir_qget(r, "done"));
        pg_uir_show_project(q);
        return;
    }
    if (strcmp(raw, q->project) != 0) {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "use the normalized name");
    } else if (strcmp(rest, "/approve") == 0) {
        pg_uir_action(q, ACT_APPROVE);
    } else if (strcmp(rest, "/forget") == 0) {
        pg_uir_action(q, ACT_FORGET);
    } else if (strcmp(rest, "/reverify") == 0) {
        pg_uir_action(q, ACT_REVERIFY);
    } else {
        pg_req_refuse(r, PG_REFUSE_NOT_FOUND, "no such page");
    }
}

/* ---- life cycle ---------------------------------------------------------- */

int
pg_uisrv_new(struct pg_server *s, struct pg_prov *prov,
    struct pg_uisrv **out, char *msg, size_t mlen)
{
    struct pg_uisrv *u = calloc(1, sizeof(*u));

    *out = NULL;
    if (u == NULL || pg_ui_store_new(&u->store) != 0
        || RAND_bytes(u->secret, sizeof(u->secret)) != 1)
    {
        snprintf(msg, mlen, "operator pages: out of memory");
        pg_uisrv_free(u);
        return -1;
    }
    u->s = s;
    u->prov = prov;
    if (s->cfg->admin_token_file != NULL
        && pg_auth_load_file("admin_token_file", s->cfg->admin_token_file,
        u->admins, UI_MAX_ADMINS, &u->nadmins, msg, mlen) != 0)
    {
        pg_uisrv_free(u);
        return -1;
    }
    pg_audit_set_tap(pg_prov_audit(prov), on_audit, u);
    s->ui_handle = pg_uisrv_handle;
    s->ui_arg = u;
    *out = u;
    return 0;
}

void
pg_uisrv_free(struct pg_uisrv *u)
{
    if (u == NULL) {
        return;
    }
    if (u->prov != NULL && pg_prov_audit(u->prov) != NULL) {
        pg_audit_set_tap(pg_prov_audit(u->prov), NULL, NULL);
    }
    if (u->s != NULL && u->s->ui_arg == u) {
        u->s->ui_handle = NULL;
        u->s->ui_arg = NULL;
    }
    pg_ui_store_free(u->store);
    OPENSSL_cleanse(u->secret, sizeof(u->secret));
    free(u);
}
