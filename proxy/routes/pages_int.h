/* proxy/routes/pages_int.h — what pages.c shares with its parts
 * (pages_render.c, pages_store.c) only.
 *
 * Owns: nothing.  Runs on: either.  Spec: issue 11 (small files).
 */
#ifndef PG_PAGES_INT_H
#define PG_PAGES_INT_H

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config_int.h"
#include "index_int.h"

struct pg_body;
struct pg_cache;
struct pg_cache_err;

/* A page's key: the normalized project ("/" the list), after
 * "NAME:" for a private upstream's. */
#define PAGE_KEY_MAX (PG_CONFIG_MAX_UPSTREAM_NAME + 1 + PG_INDEX_MAX_NAME + 1)

/* The project (or "/") of a page key. */
static inline const char *
pg_pages_key_project(const char *key)
{
    const char *colon = strchr(key, ':');

    return colon != NULL ? colon + 1 : key;
}

/* Replaces *dst with a copy of v (NULL for NULL or ""). */
static inline void
pg_pages_set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = (v != NULL && v[0] != '\0') ? strdup(v) : NULL;
}

/* A page's bodies: JSON, JSON gzip, HTML, HTML gzip. */
enum { B_JSON, B_JSON_GZ, B_HTML, B_HTML_GZ, B_COUNT };

/* Renders both formats of model with their gzip into out (one reference
 * each) and the plain bodies' short hashes; a page whose model (mbytes)
 * and bodies would take more than max_bytes gets its bodies in files
 * under cache_dir.  0, or -1 (what was made is in out, for the caller to
 * drop). */
int pg_pages_render(int is_list, const char *base_url, json_t *model,
    size_t mbytes, size_t max_bytes, const char *cache_dir,
    struct pg_body *out[B_COUNT], char hash[2][24]);
/* What jansson allocates for v (an estimate from its shape). */
size_t pg_pages_model_bytes(json_t *v);

/* ---- pages_store.c ------------------------------------------------------ */
/* The META key of a page key ("fetched:KEY"). */
void pg_pages_meta_key(const char *key, char *out, size_t outlen);
/* Reads the stored page of key: the upstream model (a reference, the
 * caller's), its times and validators (replaced, malloc'd).  0 if found,
 * -1 if not (or unreadable).  Worker. */
int pg_pages_read_store(struct pg_cache *c, const char *key,
    json_t **model, time_t *fetched, time_t *changed, char **etag,
    char **lastmod);
/* Stores the upstream model: file records first, then the page record.
 * A pg_cache code; err filled on failure.  Worker. */
int pg_pages_store(struct pg_cache *c, const char *key, int is_list,
    const char *etag, const char *lastmod, json_t *model, time_t fetched,
    time_t changed, struct pg_cache_err *err);

#endif
