/* proxy/routes/pins_migrate.c — moving pins out of an old cache, once.
 *
 * Before issue 12 the pins lived in the cache's LMDB (PG_CACHE_DB_PINS).
 * The first start of a newer provgate (or `provgate pins migrate`) copies
 * each of them into the pin store with a "migrate" history event, unless
 * the store already has a pin for that project (the store wins: it is the
 * newer truth, and with PostgreSQL another replica may have migrated or
 * pinned it first).  Then it marks the cache (PG_CACHE_DB_META key
 * "pins_migrated") so that it never happens again, whatever is later
 * forgotten.  The old records are left where they were: an older provgate
 * pointed at the same cache still finds them.
 *
 * Also the pin store's URI for a configuration (pg_pins_store_uri): the
 * pin_store directive, where "lmdb" means pins.lmdb beside the cache.
 *
 * Owns: nothing.  Borrows: the cache and the store.
 * Runs on: start-up or the CLI (LMDB commits, database round trips).
 * Spec: issue 12 item 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config_int.h"
#include "pg_cache.h"
#include "pg_policy.h"
#include "pins_migrate_int.h"

#define PINS_MIGRATED_KEY "pins_migrated"

int
pg_pins_store_uri(const struct pg_config *cfg, const char *cache_dir,
    char *out, size_t len)
{
    const char *v = cfg->pin_store != NULL ? cfg->pin_store : "lmdb";

    if (strcmp(v, "lmdb") == 0) {
        return pg_pinstore_default_uri(cache_dir, out, len);
    }
    if (strlen(v) >= len) {
        return -1;
    }
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

struct migrate_ctx {
    struct pg_pinstore *store;
    const char *cache_dir;
    struct pg_pin_set *set, *have;
    size_t moved, kept;
    int rc;
    struct pg_policy_err *err;
};

static int
on_old_pin(void *arg, const void *key, size_t klen, const void *val,
    size_t len)
{
    struct migrate_ctx *m = arg;
    char why[PG_PINS_MAX_WHY];

    (void) key;
    (void) klen;
    m->rc = pg_pins_from_json(val, len, m->set, m->err);
    if (m->rc == PG_POLICY_OK) {
        m->rc = pg_pins_get(m->store, m->set->project, m->have, m->err);
    }
    if (m->rc != PG_POLICY_OK) {
        return 1;
    }
    if (m->have->n > 0) {
        m->kept++;
        return 0;
    }
    snprintf(why, sizeof(why), "migrated from the cache %.200s",
        m->cache_dir);
    m->rc = pg_pins_import(m->store, m->set, "migrate", "provgate", why,
        m->err);
    if (m->rc != PG_POLICY_OK) {
        return 1;
    }
    m->moved++;
    return 0;
}

int
pg_pins_migrate_cache(struct pg_cache *c, const char *cache_dir,
    struct pg_pinstore *store, size_t *moved, size_t *kept,
    struct pg_policy_err *err)
{
    struct migrate_ctx m;
    struct pg_cache_err cerr;
    void *val = NULL;
    size_t len = 0;
    char mark[PG_PINS_MAX_URI + 64];
    int rc;

    *moved = *kept = 0;
    memset(&cerr, 0, sizeof(cerr));
    rc = pg_cache_get(c, PG_CACHE_DB_META, PINS_MIGRATED_KEY,
        strlen(PINS_MIGRATED_KEY), &val, &len, &cerr);
    free(val);
    if (rc == PG_CACHE_OK) {
        return 1;                   /* done before */
    }
    if (rc != PG_CACHE_NOTFOUND) {
        snprintf(err->reason, sizeof(err->reason), "cache: %.150s",
            cerr.reason);
        err->code = PG_POLICY_ESTORE;
        err->step = "pins-migrate";
        return -1;
    }
    memset(&m, 0, sizeof(m));
    m.store = store;
    m.cache_dir = cache_dir;
    m.err = err;
    m.set = malloc(sizeof(*m.set));
    m.have = malloc(sizeof(*m.have));
    if (m.set == NULL || m.have == NULL) {
        free(m.set);
        free(m.have);
        snprintf(err->reason, sizeof(err->reason), "out of memory");
        err->code = PG_POLICY_ENOMEM;
        err->step = "pins-migrate";
        return -1;
    }
    rc = pg_cache_iter(c, PG_CACHE_DB_PINS, NULL, 0, on_old_pin, &m, &cerr);
    free(m.set);
    free(m.have);
    *moved = m.moved;
    *kept = m.kept;
    if (m.rc != PG_POLICY_OK) {
        return -1;
    }
    if (rc != PG_CACHE_OK) {
        snprintf(err->reason, sizeof(err->reason), "cache: %.150s",
            cerr.reason);
        err->code = PG_POLICY_ESTORE;
        err->step = "pins-migrate";
        return -1;
    }
    snprintf(mark, sizeof(mark), "%lld %s", (long long) time(NULL),
        pg_pinstore_where(store));
    memset(&cerr, 0, sizeof(cerr));
    if (pg_cache_put(c, PG_CACHE_DB_META, PINS_MIGRATED_KEY,
        strlen(PINS_MIGRATED_KEY), mark, strlen(mark), &cerr) != PG_CACHE_OK)
    {
        snprintf(err->reason, sizeof(err->reason), "cache: %.150s",
            cerr.reason);
        err->code = PG_POLICY_ESTORE;
        err->step = "pins-migrate";
        return -1;
    }
    return 0;
}
