/* proxy/cli/cmd_tokens.c — `provgate tokens …`: the clients' tokens
 * ([server] auth = token; issue 13 item 5).
 *
 *   provgate tokens [--config FILE | --cache-dir DIR] [--pin-store URI]
 *                   [--audit-log DEST] CMD
 *     add NAME [--expires 90d]   a new token for NAME, printed once
 *     list                       name, id, created, expires, state
 *     revoke NAME                every replica refuses it from then on
 *
 * The tokens live in the pin store (policy/tokens.c), so a fleet on
 * PostgreSQL shares them and a revoke on any replica reaches the others
 * with the store's notification; a running server (LMDB) sees a change
 * within half a second.  Only the salted hash is stored (http/auth.c's
 * hashing, as admin-token's); the token itself is printed once on
 * stdout, with the line to use on stderr.  Add and revoke are audited
 * (event token-add / token-revoke, actor $USER), never with the token.
 *
 * Owns: the pin store and audit log it opens.  Runs on: the CLI.
 * Spec: issue 13 item 5.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit_int.h"
#include "auth_int.h"
#include "cmd_int.h"
#include "config_int.h"
#include "pg_policy.h"
#include "provenance_int.h"
#include "server_int.h"

enum {
    TOK_CACHE_DIR, TOK_CONFIG, TOK_PIN_STORE, TOK_AUDIT_LOG, TOK_EXPIRES
};

static const struct pg_cmd_flag tok_flags[] = {
    [TOK_CACHE_DIR] = { "cache-dir", 1 },
    [TOK_CONFIG] = { "config", 1 },
    [TOK_PIN_STORE] = { "pin-store", 1 },
    [TOK_AUDIT_LOG] = { "audit-log", 1 },
    [TOK_EXPIRES] = { "expires", 1 },
};

struct tok_args {
    const char *cache_dir, *config, *store, *audit, *expires;
    const char *args[3];
    size_t nargs;
};

static void
tok_usage(FILE *out)
{
    fprintf(out,
        "usage: provgate tokens [--config FILE | --cache-dir DIR] "
        "[--pin-store URI]\n"
        "                       [--audit-log DEST] COMMAND\n"
        "\n"
        "  add NAME [--expires 90d]   a new client token for NAME (printed "
        "once)\n"
        "  list                       every token: name, id, created, "
        "expires, state\n"
        "  revoke NAME                refuse NAME's token from now on, on "
        "every replica\n"
        "\n"
        "NAME: 1 to 63 letters, digits, '.', '_', '-' or '@'.  Clients "
        "send\nhttp://NAME:TOKEN@gateway/simple/ (or a .netrc line), or "
        "Authorization: Bearer TOKEN.\nThe tokens live in the pin store "
        "(pin_store of the configuration).\n");
}

static int
tok_on_arg(void *arg, int flag, const char *v)
{
    struct tok_args *a = arg;

    switch (flag) {
    case TOK_CACHE_DIR: a->cache_dir = v; break;
    case TOK_CONFIG: a->config = v; break;
    case TOK_PIN_STORE: a->store = v; break;
    case TOK_AUDIT_LOG: a->audit = v; break;
    case TOK_EXPIRES: a->expires = v; break;
    default:
        if (a->nargs == sizeof(a->args) / sizeof(a->args[0])) {
            tok_usage(stderr);
            return 2;
        }
        a->args[a->nargs++] = v;
    }
    return 0;
}

static void
tok_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (t <= 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, len, "-");
    }
}

static void
tok_audit(struct pg_audit *audit, const char *event, const char *name,
    const char *reason)
{
    struct pg_audit_event ev;
    const char *who = getenv("USER");

    memset(&ev, 0, sizeof(ev));
    ev.event = event;
    ev.user = name;
    ev.actor = who != NULL && who[0] != '\0' ? who : "cli";
    ev.reason = reason;
    pg_audit_log(audit, &ev);
}

static int
tok_fail(const char *what, const struct pg_policy_err *err)
{
    fprintf(stderr, "provgate: tokens: %s: %s\n", what,
        err->reason[0] != '\0' ? err->reason
        : pg_policy_strerror(err->code));
    return 2;
}

static int
tok_add(struct pg_pinstore *st, struct pg_audit *audit, const char *name,
    const char *expires)
{
    struct pg_token_rec t;
    struct pg_policy_err err;
    char tok[PG_AUTH_TOKEN_HEX + 1], when[32], host[64], why[96];
    const char *user = getenv("USER");
    int64_t d = 0;
    int exists = 0;

    if (!pg_auth_name_ok(name, strlen(name))) {
        fprintf(stderr, "provgate: tokens: NAME must be 1 to 63 letters, "
            "digits, '.', '_', '-' or '@'\n");
        return 2;
    }
    if (expires != NULL) {
        const char *bad = pg_policy_parse_duration(expires, &d);

        if (bad != NULL || d <= 0) {
            fprintf(stderr, "provgate: tokens: --expires %s: %s\n", expires,
                bad != NULL ? bad : "must be more than 0 (e.g. 90d)");
            return 2;
        }
    }
    memset(&t, 0, sizeof(t));
    memset(&err, 0, sizeof(err));
    if (pg_auth_new_secret(tok, t.hash) != 0) {
        fprintf(stderr, "provgate: tokens: no randomness\n");
        return 1;
    }
    snprintf(t.name, sizeof(t.name), "%s", name);
    memcpy(t.id, tok, PG_AUTH_ID_HEX);
    t.id[PG_AUTH_ID_HEX] = '\0';
    t.created = (int64_t) time(NULL);
    t.expires = d > 0 ? t.created + d : 0;
    if (gethostname(host, sizeof(host)) != 0) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[sizeof(host) - 1] = '\0';
    snprintf(t.by, sizeof(t.by), "%.20s@%.40s", user != NULL ? user : "cli",
        host);
    if (pg_tokens_add(st, &t, &exists, &err) != PG_POLICY_OK) {
        OPENSSL_cleanse(tok, sizeof(tok));
        return tok_fail("add", &err);
    }
    if (exists) {
        OPENSSL_cleanse(tok, sizeof(tok));
        fprintf(stderr, "provgate: tokens: %s has a token already (revoke "
            "it first)\n", name);
        return 1;
    }
    tok_time(t.expires, when, sizeof(when));
    snprintf(why, sizeof(why), "id %s, expires %s", t.id, when);
    tok_audit(audit, "token-add", name, why);
    printf("%s\n", tok);
    fprintf(stderr, "token for %s (id %s, expires %s; shown once, only its "
        "hash is stored):\n  pip: --index-url http://%s:TOKEN@GATEWAY/"
        "simple/  (or a .netrc line)\n  any client: Authorization: "
        "Bearer TOKEN\n", name, t.id, when, name);
    OPENSSL_cleanse(tok, sizeof(tok));
    return 0;
}

static int
tok_list(struct pg_pinstore *st)
{
    struct pg_token_rec *v = NULL;
    struct pg_policy_err err;
    char c[32], e[32], rv[32];
    int64_t now = (int64_t) time(NULL);
    size_t n = 0, i;

    memset(&err, 0, sizeof(err));
    if (pg_tokens_list(st, &v, &n, &err) != PG_POLICY_OK) {
        return tok_fail("list", &err);
    }
    printf("%-24s %-12s %-20s %-20s %s\n", "NAME", "ID", "CREATED",
        "EXPIRES", "STATE");
    for (i = 0; i < n; i++) {
        tok_time(v[i].created, c, sizeof(c));
        tok_time(v[i].expires, e, sizeof(e));
        tok_time(v[i].revoked, rv, sizeof(rv));
        printf("%-24s %-12s %-20s %-20s %s%s\n", v[i].name, v[i].id, c, e,
            v[i].revoked != 0 ? "revoked " : v[i].expires != 0
            && v[i].expires <= now ? "expired" : "active",
            v[i].revoked != 0 ? rv : "");
    }
    free(v);
    return 0;
}

static int
tok_revoke(struct pg_pinstore *st, struct pg_audit *audit, const char *name)
{
    struct pg_policy_err err;
    int found = 0;

    memset(&err, 0, sizeof(err));
    if (pg_tokens_revoke(st, name, (int64_t) time(NULL), &found, &err)
        != PG_POLICY_OK)
    {
        return tok_fail("revoke", &err);
    }
    if (!found) {
        fprintf(stderr, "provgate: tokens: %s has no active token\n", name);
        return 1;
    }
    tok_audit(audit, "token-revoke", name, NULL);
    fprintf(stderr, "revoked the token of %s\n", name);
    return 0;
}

int
pg_cmd_tokens(int argc, char **argv)
{
    struct pg_pinstore_opts opt;
    struct pg_policy_err err;
    struct pg_pinstore *st = NULL;
    struct pg_audit *audit = NULL;
    struct pg_config cfg;
    struct tok_args a;
    char msg[512], bad[256], uri[PG_PINS_MAX_URI + 1];
    const char *cache_dir;
    int rc, write;

    memset(&a, 0, sizeof(a));
    rc = pg_cmd_getopt(argc, argv, tok_flags, sizeof(tok_flags)
        / sizeof(tok_flags[0]), tok_on_arg, &a, bad, sizeof(bad));
    if (rc == PG_CMD_HELP) {
        tok_usage(stdout);
        return 0;
    }
    if (rc == PG_CMD_UNKNOWN || rc == PG_CMD_NO_VALUE) {
        fprintf(stderr, "provgate: tokens: unknown or incomplete option "
            "'%s'\n", bad);
        tok_usage(stderr);
        return 2;
    }
    if (rc != 0) {
        return rc;
    }
    if (!((a.nargs == 2 && strcmp(a.args[0], "add") == 0)
        || (a.nargs == 1 && strcmp(a.args[0], "list") == 0)
        || (a.nargs == 2 && strcmp(a.args[0], "revoke") == 0))
        || (a.expires != NULL && strcmp(a.args[0], "add") != 0))
    {
        tok_usage(stderr);
        return 2;
    }
    pg_config_defaults(&cfg);
    if (a.config != NULL && pg_config_load(&cfg, a.config, msg, sizeof(msg))
        != 0)
    {
        fprintf(stderr, "%s\n", msg);
        pg_config_free(&cfg);
        return 2;
    }
    cache_dir = a.cache_dir != NULL ? a.cache_dir : cfg.cache_dir;
    if (a.store != NULL && strcmp(a.store, "lmdb") != 0) {
        snprintf(uri, sizeof(uri), "%s", a.store);
    } else if ((a.store != NULL ? pg_pinstore_default_uri(cache_dir, uri,
        sizeof(uri)) : pg_pins_store_uri(&cfg, cache_dir, uri,
        sizeof(uri))) != 0)
    {
        fprintf(stderr, "provgate: tokens: the pin store's path is too "
            "long\n");
        pg_config_free(&cfg);
        return 2;
    }
    write = strcmp(a.args[0], "list") != 0;
    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.uri = uri;
    opt.create = write;
    opt.read_only = !write;
    rc = 2;
    if (pg_pinstore_open(&opt, &st, &err) != PG_POLICY_OK) {
        fprintf(stderr, "provgate: tokens: pin store: %s\n", err.reason);
    } else if (write && pg_audit_open(a.audit != NULL ? a.audit
        : cfg.audit_log, &audit, msg, sizeof(msg)) != 0)
    {
        fprintf(stderr, "provgate: tokens: %s\n", msg);
    } else if (strcmp(a.args[0], "add") == 0) {
        rc = tok_add(st, audit, a.args[1], a.expires);
    } else if (strcmp(a.args[0], "revoke") == 0) {
        rc = tok_revoke(st, audit, a.args[1]);
    } else {
        rc = tok_list(st);
    }
    pg_audit_close(audit);
    pg_pinstore_close(st);
    pg_config_free(&cfg);
    return rc;
}
