/* proxy/routes/pins_migrate_int.h — moving pins out of an old cache, once
 * (pins_migrate.c); the pin store's URI of a configuration.
 *
 * Owns: nothing.  Runs on: start (provenance.c, `provgate pins`).
 * Spec: issue 12.
 */
#ifndef PG_PINS_MIGRATE_INT_H
#define PG_PINS_MIGRATE_INT_H

#include <stddef.h>

struct pg_cache;
struct pg_config;
struct pg_pinstore;
struct pg_policy_err;

/* The pin store URI of a configuration (pin_store; "lmdb"
 * is pins.lmdb beside cache_dir).  -1 if it does not fit in len. */
int pg_pins_store_uri(const struct pg_config *cfg, const char *cache_dir,
    char *out, size_t len);
/* Copies the pins of an old cache (PG_CACHE_DB_PINS) into the store, once
 * per cache: 0 when it did (counts in *moved, and *kept for projects the
 * store had already), 1 when the cache was migrated before, -1 with err
 * filled on failure (nothing is marked; the next start tries again). */
int pg_pins_migrate_cache(struct pg_cache *c, const char *cache_dir,
    struct pg_pinstore *store, size_t *moved, size_t *kept,
    struct pg_policy_err *err);

#endif
