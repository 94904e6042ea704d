/* policy/pinstore_lmdb.c — the embedded pin store: an LMDB environment of
 * its own (default pins.lmdb beside the cache directory).
 *
 * Apart from the cache on purpose: `cache gc`, eviction and a rebuild of a
 * damaged cache never touch it.  Three named databases:
 *   pins     project → the set's JSON (pins.c's form)
 *   history  8-byte big-endian event id → the event's JSON
 *   meta     "schema" → "provgate-pins 1", "generation" → 16 hex digits
 *            (a fresh random value on every change, so that two processes
 *            never publish the same generation for different states),
 *            "next_id" → the next event id (decimal), "tokens_generation"
 *            (as generation, for the tokens)
 *   tokens   client token name → its record (tokens.c; issue 13), added
 *            beside the three by the first writable open
 * A change (pinstore.c's change function) runs inside one write
 * transaction: read the set, compute, write set + event + generation,
 * commit.  LMDB serializes writers across processes, so the server and
 * `provgate pins` may change pins at the same time.  An environment with
 * other databases in it (the cache's state.lmdb, say) is refused.
 *
 * Owns: the environment.  Runs on: writes on a worker or the CLI (the
 * commit fsyncs); get and generation are reads of the map (~1 us) and may
 * run on the loop.  Spec: issue 12 items 1–2.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "pg_policy.h"
#include "pinstore_int.h"

#define LMDB_SCHEMA "provgate-pins 1"
#define LMDB_MAP_SIZE (1024ull * 1024 * 1024)

struct lmdb_store {
    struct pg_pinstore head;
    MDB_env *env;                   /* NULL: read-only and absent (empty) */
    MDB_dbi pins, history, meta, tokens;
    int has_tokens;                 /* a read-only open of an older store:
                                       no tokens database (none then) */
};

static const struct pg_pinstore_ops lmdb_ops;

static int
lmdb_fail(struct pg_policy_err *err, const char *step, int rc)
{
    pg_pins_fail(err, rc == MDB_MAP_FULL ? PG_POLICY_ELIMIT
        : PG_POLICY_ESTORE, step, "pin store: %s", mdb_strerror(rc));
    return rc == MDB_MAP_FULL ? PG_POLICY_ELIMIT : PG_POLICY_ESTORE;
}

static int
meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, MDB_val *v)
{
    MDB_val k = { strlen(key), (void *) key };

    return mdb_get(txn, dbi, &k, v);
}

static int
meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, const char *val)
{
    MDB_val k = { strlen(key), (void *) key };
    MDB_val v = { strlen(val), (void *) val };

    return mdb_put(txn, dbi, &k, &v, 0);
}

/* The main database may only name our three databases. */
static int
lmdb_check_foreign(MDB_txn *txn, struct pg_policy_err *err)
{
    MDB_dbi main;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc, bad = 0;

    rc = mdb_dbi_open(txn, NULL, 0, &main);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, main, &cur);
    }
    if (rc != 0) {
        return lmdb_fail(err, "pin-store", rc);
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (!((k.mv_size == 4 && memcmp(k.mv_data, "pins", 4) == 0)
            || (k.mv_size == 7 && memcmp(k.mv_data, "history", 7) == 0)
            || (k.mv_size == 4 && memcmp(k.mv_data, "meta", 4) == 0)
            || (k.mv_size == 6 && memcmp(k.mv_data, "tokens", 6) == 0)))
        {
            bad = 1;
            break;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (bad) {
        pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "%s", "the LMDB "
            "environment holds other data: not a provgate pin store");
        return PG_POLICY_ECONFIG;
    }
    return PG_POLICY_OK;
}

static int
lmdb_open_dbs(struct lmdb_store *ls, int create, struct pg_policy_err *err)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    unsigned flags = create ? MDB_CREATE : 0;
    int rc;

    rc = mdb_txn_begin(ls->env, NULL, create ? 0 : MDB_RDONLY, &txn);
    if (rc != 0) {
        return lmdb_fail(err, "pin-store", rc);
    }
    rc = lmdb_check_foreign(txn, err);
    if (rc != PG_POLICY_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = mdb_dbi_open(txn, "pins", flags, &ls->pins);
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "history", flags, &ls->history);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "meta", flags, &ls->meta);
    }
    if (rc == 0) {
        rc = mdb_dbi_open(txn, "tokens", flags, &ls->tokens);
        ls->has_tokens = rc == 0;
        if (rc == MDB_NOTFOUND && !create) {
            rc = 0;                 /* written before tokens existed */
        }
    }
    if (rc == MDB_NOTFOUND && !create) {
        /* A read-only open of an environment nothing wrote yet. */
        mdb_txn_abort(txn);
        mdb_env_close(ls->env);
        ls->env = NULL;
        return PG_POLICY_OK;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(err, "pin-store", rc);
    }
    rc = meta_get(txn, ls->meta, "schema", &v);
    if (rc == MDB_NOTFOUND && create) {
        rc = meta_put(txn, ls->meta, "schema", LMDB_SCHEMA);
    } else if (rc == 0 && (v.mv_size != strlen(LMDB_SCHEMA)
        || memcmp(v.mv_data, LMDB_SCHEMA, v.mv_size) != 0))
    {
        mdb_txn_abort(txn);
        pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "%s", "unknown "
            "pin store schema (written by a newer provgate?)");
        return PG_POLICY_ECONFIG;
    } else if (rc == MDB_NOTFOUND) {
        rc = 0;
    }
    if (rc != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(err, "pin-store", rc);
    }
    rc = mdb_txn_commit(txn);
    return rc != 0 ? lmdb_fail(err, "pin-store", rc) : PG_POLICY_OK;
}

int
pg_pinstore_lmdb_open(const char *dir, const struct pg_pinstore_opts *o,
    struct pg_pinstore **out, struct pg_policy_err *err)
{
    struct lmdb_store *ls;
    struct stat st;
    int rc;

    ls = calloc(1, sizeof(*ls));
    if (ls == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pin-store", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    ls->head.ops = &lmdb_ops;
    snprintf(ls->head.where, sizeof(ls->head.where), "lmdb:%s", dir);
    if (o->read_only && stat(dir, &st) != 0 && errno == ENOENT) {
        *out = &ls->head;           /* nothing pinned yet */
        return PG_POLICY_OK;
    }
    if (!o->read_only && mkdir(dir, 0700) != 0 && errno != EEXIST) {
        pg_pins_fail(err, PG_POLICY_ESTORE, "pin-store", "mkdir %s: %s",
            dir, strerror(errno));
        free(ls);
        return PG_POLICY_ESTORE;
    }
    rc = mdb_env_create(&ls->env);
    if (rc == 0) {
        rc = mdb_env_set_maxdbs(ls->env, 8);
    }
    if (rc == 0) {
        rc = mdb_env_set_mapsize(ls->env, LMDB_MAP_SIZE);
    }
    if (rc == 0) {
        rc = mdb_env_open(ls->env, dir, MDB_NOTLS
            | (o->read_only ? MDB_RDONLY : 0), 0600);
    }
    if (rc != 0) {
        pg_pins_fail(err, PG_POLICY_ESTORE, "pin-store", "%s: %s", dir,
            mdb_strerror(rc));
        if (ls->env != NULL) {
            mdb_env_close(ls->env);
        }
        free(ls);
        return PG_POLICY_ESTORE;
    }
    rc = lmdb_open_dbs(ls, !o->read_only, err);
    if (rc != PG_POLICY_OK) {
        if (ls->env != NULL) {
            mdb_env_close(ls->env);
        }
        free(ls);
        return rc;
    }
    *out = &ls->head;
    return PG_POLICY_OK;
}

static void
lmdb_close(struct pg_pinstore *s)
{
    struct lmdb_store *ls = (struct lmdb_store *) s;

    if (ls->env != NULL) {
        mdb_env_close(ls->env);
    }
    free(ls);
}

/* Reads a project's set inside txn (set->project already filled). */
static int
lmdb_read_set(struct lmdb_store *ls, MDB_txn *txn, const char *project,
    struct pg_pin_set *set, struct pg_policy_err *err)
{
    MDB_val k = { strlen(project), (void *) project }, v;
    int rc;

    rc = mdb_get(txn, ls->pins, &k, &v);
    if (rc == MDB_NOTFOUND) {
        set->n = 0;
        return PG_POLICY_OK;
    }
    if (rc != 0) {
        return lmdb_fail(err, "pins-get", rc);
    }
    return pg_pinstore_parse(project, v.mv_data, v.mv_size, set, err);
}

static int
lmdb_get(struct pg_pinstore *s, const char *project, struct pg_pin_set *set,
    struct pg_policy_err *err)
{
    struct lmdb_store *ls = (struct lmdb_store *) s;
    MDB_txn *txn = NULL;
    int rc;

    if (ls->env == NULL) {
        return PG_POLICY_OK;
    }
    rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return lmdb_fail(err, "pins-get", rc);
    }
    rc = lmdb_read_set(ls, txn, project, set, err);
    mdb_txn_abort(txn);
    return rc;
}

static int
lmdb_next_id(struct lmdb_store *ls, MDB_txn *txn, uint64_t *id)
{
    MDB_val v;
    char buf[32];
    int rc;

    rc = meta_get(txn, ls->meta, "next_id", &v);
    *id = 1;
    if (rc == 0 && v.mv_size > 0 && v.mv_size < sizeof(buf)) {
        memcpy(buf, v.mv_data, v.mv_size);
        buf[v.mv_size] = '\0';
        *id = strtoull(buf, NULL, 10);
        if (*id == 0) {
            *id = 1;
        }
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long) (*id + 1));
    return meta_put(txn, ls->meta, "next_id", buf);
}

static int
lmdb_write(struct lmdb_store *ls, MDB_txn *txn, const struct pg_pin_set *next,
    struct pg_pin_event *ev, struct pg_policy_err *err)
{
    MDB_val k = { strlen(next->project), (void *) next->project }, v;
    unsigned char idk[8];
    uint64_t g = 0, id = 0;
    char hex[17], *json = NULL, *evjson;
    size_t len = 0;
    json_t *evo;
    int rc, i;

    while (g == 0) {
        if (getrandom(&g, sizeof(g), 0) != (ssize_t) sizeof(g)) {
            pg_pins_fail(err, PG_POLICY_ESTORE, "pins-put", "getrandom: %s",
                strerror(errno));
            return PG_POLICY_ESTORE;
        }
    }
    if (next->n > 0) {
        rc = pg_pins_to_json(next, &json, &len, err);
        if (rc != PG_POLICY_OK) {
            return rc;
        }
        v.mv_size = len;
        v.mv_data = json;
        rc = mdb_put(txn, ls->pins, &k, &v, 0);
        free(json);
    } else {
        rc = mdb_del(txn, ls->pins, &k, NULL);
        rc = rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (rc == 0) {
        rc = lmdb_next_id(ls, txn, &id);
    }
    if (rc != 0) {
        return lmdb_fail(err, "pins-put", rc);
    }
    ev->id = id;
    evo = pg_pin_event_to_json(ev);
    evjson = evo != NULL ? json_dumps(evo, JSON_COMPACT
        | JSON_PRESERVE_ORDER) : NULL;
    json_decref(evo);
    if (evjson == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-put", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    for (i = 7; i >= 0; i--) {
        idk[i] = (unsigned char) (id & 0xff);
        id >>= 8;
    }
    k.mv_size = sizeof(idk);
    k.mv_data = idk;
    v.mv_size = strlen(evjson);
    v.mv_data = evjson;
    rc = mdb_put(txn, ls->history, &k, &v, MDB_NOOVERWRITE);
    free(evjson);
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long) g);
    if (rc == 0) {
        rc = meta_put(txn, ls->meta, "generation", hex);
    }
    return rc != 0 ? lmdb_fail(err, "pins-put", rc) : PG_POLICY_OK;
}

static int
lmdb_update(struct pg_pinstore *s, const char *project,
    pg_pinstore_change_fn fn, void *arg, struct pg_pinstore_tx *tx,
    int *changed, struct pg_policy_err *err)
{
    struct lmdb_store *ls = (struct lmdb_store *) s;
    MDB_txn *txn = NULL;
    int rc;

    if (ls->env == NULL) {
        pg_pins_fail(err, PG_POLICY_ESTORE, "pins-put", "%s",
            "the pin store was opened read-only");
        return PG_POLICY_ESTORE;
    }
    rc = mdb_txn_begin(ls->env, NULL, 0, &txn);
    if (rc != 0) {
        return lmdb_fail(err, "pins-put", rc);
    }
    rc = lmdb_read_set(ls, txn, project, &tx->cur, err);
    if (rc != PG_POLICY_OK) {
        goto done;
    }
    rc = pg_pinstore_decide(fn, arg, tx, err);
    if (rc <= 0) {
        rc = rc < 0 ? -rc : PG_POLICY_OK;
        goto done;
    }
    rc = lmdb_write(ls, txn, &tx->next, &tx->ev, err);
    if (rc != PG_POLICY_OK) {
        goto done;
    }
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0) {
        rc = lmdb_fail(err, "pins-put", rc);
        goto done;
    }
    *changed = 1;
    rc = PG_POLICY_OK;

done:
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc;
}

/* Visits every record of dbi in key order in one read transaction:
 * visit returns 0 to go on, 1 to stop, or a PG_POLICY_* code negated
 * (err filled).  buf: size bytes for the visitor, freed at the end. */
static int
lmdb_walk(struct lmdb_store *ls, MDB_dbi dbi, const char *step, size_t size,
    int (*visit)(void *ctx, void *buf, const MDB_val *k, const MDB_val *v,
    struct pg_policy_err *err), void *ctx, struct pg_policy_err *err)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    void *buf;
    int rc, vr = 0;

    if (ls->env == NULL) {
        return PG_POLICY_OK;
    }
    buf = malloc(size);
    if (buf == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, step, "%s", "out of memory");
        return PG_POLICY_ENOMEM;
    }
    rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY, &txn);
    if (rc == 0) {
        rc = mdb_cursor_open(txn, dbi, &cur);
    }
    if (rc == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    }
    while (rc == 0 && (vr = visit(ctx, buf, &k, &v, err)) == 0) {
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (vr < 0) {
        rc = -vr;
    } else {
        rc = rc == 0 || rc == MDB_NOTFOUND ? PG_POLICY_OK
            : lmdb_fail(err, step, rc);
    }
    if (cur != NULL) {
        mdb_cursor_close(cur);
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    free(buf);
    return rc;
}

struct lmdb_visit {
    const char *project;                /* history: NULL for all */
    int (*set_fn)(void *arg, const struct pg_pin_set *set);
    int (*ev_fn)(void *arg, const struct pg_pin_event *ev);
    void *arg;
};

static int
lmdb_visit_pin(void *ctx, void *buf, const MDB_val *k, const MDB_val *v,
    struct pg_policy_err *err)
{
    struct lmdb_visit *c = ctx;
    struct pg_pin_set *set = buf;
    int rc;

    rc = pg_pins_from_json(v->mv_data, v->mv_size, set, err);
    if (rc != PG_POLICY_OK) {
        if (err != NULL) {
            size_t off = strlen(err->reason);

            snprintf(err->reason + off, sizeof(err->reason) - off,
                " (pin of '%.*s')", (int) (k->mv_size < 64 ? k->mv_size
                : 64), (const char *) k->mv_data);
        }
        return -rc;
    }
    return c->set_fn(c->arg, set) != 0 ? 1 : 0;
}

static int
lmdb_visit_event(void *ctx, void *buf, const MDB_val *k, const MDB_val *v,
    struct pg_policy_err *err)
{
    struct lmdb_visit *c = ctx;
    struct pg_pin_event *ev = buf;
    json_t *o;
    int rc;

    (void) k;
    if (v->mv_size > PG_PINS_MAX_EVENT) {
        pg_pins_fail(err, PG_POLICY_ELIMIT, "pins-history", "a history "
            "event is larger than %d bytes", PG_PINS_MAX_EVENT);
        return -PG_POLICY_ELIMIT;
    }
    o = json_loadb(v->mv_data, v->mv_size, JSON_REJECT_DUPLICATES, NULL);
    rc = pg_pin_event_from_json(o, ev, err);
    json_decref(o);
    if (rc != PG_POLICY_OK) {
        return -rc;
    }
    return (c->project == NULL || strcmp(c->project, ev->project) == 0)
        && c->ev_fn(c->arg, ev) != 0 ? 1 : 0;
}

static int
lmdb_iter(struct pg_pinstore *s,
    int (*fn)(void *arg, const struct pg_pin_set *set), void *arg,
    struct pg_policy_err *err)
{
    struct lmdb_store *ls = (struct lmdb_store *) s;
    struct lmdb_visit c = { NULL, fn, NULL, arg };

    return lmdb_walk(ls, ls->pins, "pins-iter", sizeof(struct pg_pin_set),
        lmdb_visit_pin, &c, err);
}

static int
lmdb_history(struct pg_pinstore *s, const char *project,
    int (*fn)(void *arg, const struct pg_pin_event *ev), void *arg,
    struct pg_policy_err *err)
{
    struct lmdb_store *ls = (struct lmdb_store *) s;
    struct lmdb_visit c = { project, NULL, fn, arg };

    return lmdb_walk(ls, ls->history, "pins-history",
        sizeof(struct pg_pin_event), lmdb_visit_event, &c, err);
}

static int
lmdb_meta_gen(struct lmdb_store *ls, const char *key, uint64_t *gen,
    struct pg_policy_err *err)
{
    MDB_txn *txn = NULL;
    MDB_val v;
    char buf[17], *end = NULL;
    int rc;

    *gen = 0;
    if (ls->env == NULL) {
        return PG_POLICY_OK;
    }
    rc = mdb_txn_begin(ls->env, NULL, MDB_RDONLY, &txn);
    if (rc != 0) {
        return lmdb_fail(err, "pins-generation", rc);
    }
    rc = meta_get(txn, ls->meta, key, &v);
    if (rc == MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return PG_POLICY_OK;
    }
    if (rc != 0 || v.mv_size != 16) {
        mdb_txn_abort(txn);
        if (rc != 0) {
            return lmdb_fail(err, "pins-generation", rc);
        }
        pg_pins_fail(err, PG_POLICY_EPARSE, "pins-generation", "%s",
            "stored pins generation is malformed");
        return PG_POLICY_EPARSE;
    }
    memcpy(buf, v.mv_data, 16);
    buf[16] = '\0';
    mdb_txn_abort(txn);
    *gen = strtoull(buf, &end, 16);
    if (end != buf + 16) {
        *gen = 0;
        pg_pins_fail(err, PG_POLICY_EPARSE, "pins-generation", "%s",
            "stored pins generation is malformed");
        return PG_POLICY_EPARSE;
    }
    return PG_POLICY_OK;
}

static int
lmdb_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err)
{
    return lmdb_meta_gen((struct lmdb_store *) s, "generation", gen, err);
}

/* ---- tokens (tokens.c decides) -------------------------------------------- */

static int
lmdb_tok_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err)
{
    return lmdb_meta_gen((struct lmdb_store *) s, "tokens_generation", gen,
        err);
}

static int
lmdb_tok_update(struct pg_pinstore *s, const char *name,
    pg_tokens_change_fn fn, void *arg, struct pg_policy_err *err)
{
    struct lmdb_store *ls = (struct lmdb_store *) s;
    MDB_val k = { strlen(name), (void *) name }, v;
    MDB_txn *txn = NULL;
    char *cur = NULL, *next = NULL, hex[17];
    size_t curlen = 0, nlen = 0;
    uint64_t g = 0;
    int rc;

    if (ls->env == NULL || !ls->has_tokens) {
        pg_pins_fail(err, PG_POLICY_ESTORE, "tokens", "%s",
            "the pin store was opened read-only");
        return PG_POLICY_ESTORE;
    }
    rc = mdb_txn_begin(ls->env, NULL, 0, &txn);
    if (rc != 0) {
        return lmdb_fail(err, "tokens", rc);
    }
    rc = mdb_get(txn, ls->tokens, &k, &v);
    if (rc == 0) {
        cur = malloc(v.mv_size + 1);
        if (cur == NULL) {
            mdb_txn_abort(txn);
            pg_pins_fail(err, PG_POLICY_ENOMEM, "tokens", "%s",
                "out of memory");
            return PG_POLICY_ENOMEM;
        }
        memcpy(cur, v.mv_data, v.mv_size);
        cur[v.mv_size] = '\0';
        curlen = v.mv_size;
    } else if (rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return lmdb_fail(err, "tokens", rc);
    }
    rc = fn(arg, cur, curlen, &next, &nlen, err);
    free(cur);
    if (rc <= 0) {
        mdb_txn_abort(txn);
        return rc < 0 ? -rc : PG_POLICY_OK;
    }
    while (g == 0) {
        if (getrandom(&g, sizeof(g), 0) != (ssize_t) sizeof(g)) {
            mdb_txn_abort(txn);
            free(next);
            pg_pins_fail(err, PG_POLICY_ESTORE, "tokens", "getrandom: %s",
                strerror(errno));
            return PG_POLICY_ESTORE;
        }
    }
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long) g);
    v.mv_size = nlen;
    v.mv_data = next;
    rc = mdb_put(txn, ls->tokens, &k, &v, 0);
    free(next);
    if (rc == 0) {
        rc = meta_put(txn, ls->meta, "tokens_generation", hex);
    }
    if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (txn != NULL) {
        mdb_txn_abort(txn);
    }
    return rc != 0 ? lmdb_fail(err, "tokens", rc) : PG_POLICY_OK;
}

struct lmdb_tok_visit {
    int (*fn)(void *arg, const char *name, const char *rec, size_t len);
    void *arg;
};

static int
lmdb_visit_tok(void *ctx, void *buf, const MDB_val *k, const MDB_val *v,
    struct pg_policy_err *err)
{
    struct lmdb_tok_visit *c = ctx;
    char *name = buf;

    if (k->mv_size > 63 || v->mv_size > PG_TOKENS_MAX_RECORD) {
        pg_pins_fail(err, PG_POLICY_ELIMIT, "tokens", "%s", "a stored token "
            "is over its size limit");
        return -PG_POLICY_ELIMIT;
    }
    memcpy(name, k->mv_data, k->mv_size);
    name[k->mv_size] = '\0';
    return c->fn(c->arg, name, v->mv_data, v->mv_size) != 0 ? 1 : 0;
}

static int
lmdb_tok_iter(struct pg_pinstore *s,
    int (*fn)(void *arg, const char *name, const char *rec, size_t len),
    void *arg, struct pg_policy_err *err)
{
    struct lmdb_store *ls = (struct lmdb_store *) s;
    struct lmdb_tok_visit c = { fn, arg };

    if (!ls->has_tokens) {
        return PG_POLICY_OK;
    }
    return lmdb_walk(ls, ls->tokens, "tokens", 64, lmdb_visit_tok, &c, err);
}

static int
lmdb_refresh(struct pg_pinstore *s, struct pg_policy_err *err)
{
    (void) s;
    (void) err;
    return PG_POLICY_OK;
}

static int
lmdb_notify_fd(struct pg_pinstore *s)
{
    (void) s;
    return -1;
}

static int
lmdb_on_notify(struct pg_pinstore *s)
{
    (void) s;
    return 0;
}

static int
lmdb_available(const struct pg_pinstore *s)
{
    (void) s;
    return 1;
}

static const struct pg_pinstore_ops lmdb_ops = {
    "lmdb", lmdb_get, lmdb_update, lmdb_iter, lmdb_history,
    lmdb_generation, lmdb_refresh, lmdb_notify_fd, lmdb_on_notify,
    lmdb_available, lmdb_close, lmdb_tok_update, lmdb_tok_iter,
    lmdb_tok_generation
};
