/* policy/tokens.c — the clients' tokens in the pin store (issue 13 item 5).
 *
 * Tokens sit beside the pins because the pin store is what a fleet of
 * replicas shares (PostgreSQL) or what one gateway keeps apart from its
 * disposable cache (LMDB): a token made or revoked on one replica is
 * every replica's at its next notification.  Only the name, the token's
 * public id (its first 12 hex digits, to find it from a Bearer header),
 * the salted hash and the dates are stored, as one small JSON record per
 * name; what add and revoke mean is decided here once, by a change
 * function the engine runs inside its own transaction (pinstore_int.h).
 *
 * Owns: nothing.  Runs on: see pg_policy.h (client tokens).
 * Spec: issue 13 item 5.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pg_policy.h"
#include "pinstore_int.h"

int
pg_token_to_json(const struct pg_token_rec *t, char **out, size_t *len,
    struct pg_policy_err *err)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:s}",
        "name", t->name, "id", t->id, "hash", t->hash,
        "created", (json_int_t) t->created,
        "expires", (json_int_t) t->expires,
        "revoked", (json_int_t) t->revoked, "by", t->by);

    *out = o != NULL ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (*out == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "tokens", "%s", "out of memory");
        return PG_POLICY_ENOMEM;
    }
    *len = strlen(*out);
    return PG_POLICY_OK;
}

static int
tok_str(json_t *o, const char *key, char *dst, size_t size,
    struct pg_policy_err *err)
{
    const char *why = NULL;
    const char *v = pg_pins_str_field(o, key, size - 1, 1, &why);

    if (v == NULL) {
        pg_pins_fail(err, PG_POLICY_EPARSE, "tokens", "stored token: %s: %s",
            key, why != NULL ? why : "missing");
        return -1;
    }
    snprintf(dst, size, "%s", v);
    return 0;
}

static int
tok_int(json_t *o, const char *key, int64_t *dst, struct pg_policy_err *err)
{
    json_t *v = json_object_get(o, key);

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        pg_pins_fail(err, PG_POLICY_EPARSE, "tokens", "stored token: %s: "
            "expected a number", key);
        return -1;
    }
    *dst = (int64_t) json_integer_value(v);
    return 0;
}

int
pg_token_from_json(const char *name, const char *json, size_t len,
    struct pg_token_rec *t, struct pg_policy_err *err)
{
    json_error_t je;
    json_t *o;
    int bad;

    memset(t, 0, sizeof(*t));
    if (len > PG_TOKENS_MAX_RECORD) {
        pg_pins_fail(err, PG_POLICY_ELIMIT, "tokens", "stored token of %s "
            "longer than %d bytes", name, PG_TOKENS_MAX_RECORD);
        return PG_POLICY_ELIMIT;
    }
    o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(o)) {
        json_decref(o);
        pg_pins_fail(err, PG_POLICY_EPARSE, "tokens", "stored token of %s: "
            "not a JSON object", name);
        return PG_POLICY_EPARSE;
    }
    bad = tok_str(o, "name", t->name, sizeof(t->name), err) != 0
        || tok_str(o, "id", t->id, sizeof(t->id), err) != 0
        || tok_str(o, "hash", t->hash, sizeof(t->hash), err) != 0
        || tok_str(o, "by", t->by, sizeof(t->by), err) != 0
        || tok_int(o, "created", &t->created, err) != 0
        || tok_int(o, "expires", &t->expires, err) != 0
        || tok_int(o, "revoked", &t->revoked, err) != 0;
    json_decref(o);
    if (bad) {
        return PG_POLICY_EPARSE;
    }
    if (strcmp(t->name, name) != 0) {
        pg_pins_fail(err, PG_POLICY_EPARSE, "tokens", "stored token of %s "
            "names %s", name, t->name);
        return PG_POLICY_EPARSE;
    }
    return PG_POLICY_OK;
}

/* ---- changes ------------------------------------------------------------- */

struct tok_change {
    const struct pg_token_rec *add; /* add: the new token */
    const char *name;
    int64_t when;                   /* revoke */
    int hit;                        /* add: one exists; revoke: found */
};

static int
change_add(void *arg, const char *cur, size_t len, char **next,
    size_t *nlen, struct pg_policy_err *err)
{
    struct tok_change *c = arg;
    struct pg_token_rec old;
    int rc;

    c->hit = 0;
    if (cur != NULL) {
        rc = pg_token_from_json(c->add->name, cur, len, &old, err);
        if (rc != PG_POLICY_OK) {
            return -rc;
        }
        if (old.revoked == 0) {
            c->hit = 1;
            return 0;
        }
    }
    rc = pg_token_to_json(c->add, next, nlen, err);
    return rc == PG_POLICY_OK ? 1 : -rc;
}

static int
change_revoke(void *arg, const char *cur, size_t len, char **next,
    size_t *nlen, struct pg_policy_err *err)
{
    struct tok_change *c = arg;
    struct pg_token_rec t;
    int rc;

    c->hit = 0;
    if (cur == NULL) {
        return 0;
    }
    rc = pg_token_from_json(c->name, cur, len, &t, err);
    if (rc != PG_POLICY_OK) {
        return -rc;
    }
    if (t.revoked != 0) {
        return 0;
    }
    c->hit = 1;
    t.revoked = c->when > 0 ? c->when : 1;
    rc = pg_token_to_json(&t, next, nlen, err);
    return rc == PG_POLICY_OK ? 1 : -rc;
}

static int
tok_name_ok(const char *name, struct pg_policy_err *err)
{
    size_t i, n = strlen(name);

    for (i = 0; i < n; i++) {
        char ch = name[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_'
            || ch == '-' || ch == '@'))
        {
            break;
        }
    }
    if (n == 0 || n > 63 || i != n) {
        pg_pins_fail(err, PG_POLICY_EINVAL, "tokens", "%s", "a token name "
            "is 1 to 63 letters, digits, '.', '_', '-' or '@'");
        return PG_POLICY_EINVAL;
    }
    return PG_POLICY_OK;
}

int
pg_tokens_add(struct pg_pinstore *s, const struct pg_token_rec *t,
    int *exists, struct pg_policy_err *err)
{
    struct tok_change c;
    int rc;

    *exists = 0;
    rc = tok_name_ok(t->name, err);
    if (rc != PG_POLICY_OK) {
        return rc;
    }
    memset(&c, 0, sizeof(c));
    c.add = t;
    c.name = t->name;
    rc = s->ops->tok_update(s, t->name, change_add, &c, err);
    *exists = c.hit;
    return rc;
}

int
pg_tokens_revoke(struct pg_pinstore *s, const char *name, int64_t when,
    int *found, struct pg_policy_err *err)
{
    struct tok_change c;
    int rc;

    *found = 0;
    rc = tok_name_ok(name, err);
    if (rc != PG_POLICY_OK) {
        return rc;
    }
    memset(&c, 0, sizeof(c));
    c.name = name;
    c.when = when;
    rc = s->ops->tok_update(s, name, change_revoke, &c, err);
    *found = c.hit;
    return rc;
}

struct tok_list {
    struct pg_token_rec *v;
    size_t n, cap;
    int rc;
    struct pg_policy_err *err;
};

static int
list_one(void *arg, const char *name, const char *rec, size_t len)
{
    struct tok_list *l = arg;
    struct pg_token_rec *nv;

    if (l->n == PG_TOKENS_MAX) {
        pg_pins_fail(l->err, PG_POLICY_ELIMIT, "tokens", "more than %d "
            "tokens in the store", PG_TOKENS_MAX);
        l->rc = PG_POLICY_ELIMIT;
        return 1;
    }
    if (l->n == l->cap) {
        l->cap = l->cap == 0 ? 16 : 2 * l->cap;
        nv = realloc(l->v, l->cap * sizeof(*nv));
        if (nv == NULL) {
            pg_pins_fail(l->err, PG_POLICY_ENOMEM, "tokens", "%s",
                "out of memory");
            l->rc = PG_POLICY_ENOMEM;
            return 1;
        }
        l->v = nv;
    }
    l->rc = pg_token_from_json(name, rec, len, &l->v[l->n], l->err);
    if (l->rc != PG_POLICY_OK) {
        return 1;
    }
    l->n++;
    return 0;
}

int
pg_tokens_list(struct pg_pinstore *s, struct pg_token_rec **out,
    size_t *n, struct pg_policy_err *err)
{
    struct tok_list l;
    int rc;

    memset(&l, 0, sizeof(l));
    l.err = err;
    *out = NULL;
    *n = 0;
    rc = s->ops->tok_iter(s, list_one, &l, err);
    if (rc == PG_POLICY_OK) {
        rc = l.rc;
    }
    if (rc != PG_POLICY_OK) {
        free(l.v);
        return rc;
    }
    *out = l.v;
    *n = l.n;
    return PG_POLICY_OK;
}

int
pg_tokens_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err)
{
    return s->ops->tok_generation(s, gen, err);
}
