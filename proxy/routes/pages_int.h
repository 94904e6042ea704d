/* proxy/routes/pages_int.h — what pages.c shares with its parts
 * (pages_render.c) only.
 *
 * Owns: nothing.  Runs on: either.  Spec: issue 11 (small files).
 */
#ifndef PG_PAGES_INT_H
#define PG_PAGES_INT_H

#include <stddef.h>

#include <jansson.h>

struct pg_body;

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

#endif
