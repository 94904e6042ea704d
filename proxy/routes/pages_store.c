/* proxy/routes/pages_store.c — an index page in LMDB.
 *
 * A page fetched from upstream is stored as its records: every file's
 * record (FILES: sha256 -> record; PATHS: proxy path -> the path's own
 * record), then the page's (INDEX: the upstream model, its validators and
 * times; META: when it was last fetched), in batches of durable commits,
 * so a page in LMDB always has its file records.  Reading one back gives
 * the model, its validators and times, the latest revalidation included.
 *
 * Owns: nothing beyond each call.  Runs on: a worker (a big page's record
 * is tens of MB of JSON, each commit an fsync).
 * Spec: design §5; issue 2 item 3; issue 10 item 8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config_int.h"
#include "index_int.h"
#include "pages_int.h"
#include "pg_cache.h"
#include "server_int.h"

void
pg_pages_meta_key(const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "fetched:%s", key);
}

/* Reads the stored page of key (see pages_int.h).  Runs on: worker (the
 * record of a big page is tens of MB of JSON). */
int
pg_pages_read_store(struct pg_cache *c, const char *key, json_t **model_out,
    time_t *fetched, time_t *changed, char **etag, char **lastmod)
{
    struct pg_cache_err err;
    void *val = NULL;
    size_t len = 0;
    json_t *rec, *model;
    json_error_t jerr;
    char mk[PAGE_KEY_MAX + 16];
    long long fetched2;

    memset(&err, 0, sizeof(err));
    if (pg_cache_get(c, PG_CACHE_DB_INDEX, key, strlen(key), &val, &len,
            &err) != PG_CACHE_OK)
    {
        return -1;
    }
    rec = json_loadb(val, len, 0, &jerr);
    free(val);
    model = rec != NULL ? json_object_get(rec, "model") : NULL;
    if (!json_is_object(model)) {
        json_decref(rec);
        return -1;
    }
    *model_out = json_incref(model);
    *fetched = (time_t)json_integer_value(
        json_object_get(rec, "fetched_at"));
    *changed = (time_t)json_integer_value(
        json_object_get(rec, "changed_at"));
    pg_pages_set_str(etag, json_string_value(json_object_get(rec, "etag")));
    pg_pages_set_str(lastmod,
        json_string_value(json_object_get(rec, "last_modified")));
    json_decref(rec);
    pg_pages_meta_key(key, mk, sizeof(mk));
    val = NULL;
    if (pg_cache_get(c, PG_CACHE_DB_META, mk, strlen(mk), &val, &len,
            &err) == PG_CACHE_OK)
    {
        fetched2 = strtoll(val, NULL, 10);
        if (fetched2 > (long long)*fetched) {
            *fetched = (time_t)fetched2;
        }
        free(val);
    }
    return 0;
}

/* A batch of LMDB ops whose keys and values are malloc'd strings. */
struct batch {
    struct pg_cache_op ops[PG_CACHE_MAX_OPS];
    char *owned[2 * PG_CACHE_MAX_OPS];
    size_t n, nowned;
};

static void
batch_clear(struct batch *b)
{
    size_t i;

    for (i = 0; i < b->nowned; i++) {
        free(b->owned[i]);
    }
    b->n = 0;
    b->nowned = 0;
}

static int
batch_flush(struct pg_cache *c, struct batch *b, struct pg_cache_err *err)
{
    int rc = PG_CACHE_OK;

    if (b->n > 0) {
        rc = pg_cache_put_many(c, b->ops, b->n, err);
    }
    batch_clear(b);
    return rc;
}

/* Adds db[key] = val, taking ownership of both (freed by batch_clear). */
static int
batch_add(struct pg_cache *c, struct batch *b, enum pg_cache_db db,
    char *key, char *val, struct pg_cache_err *err)
{
    int rc;

    if (key == NULL || val == NULL) {
        free(key);
        free(val);
        return PG_CACHE_ENOMEM;
    }
    if (b->n == PG_CACHE_MAX_OPS) {
        rc = batch_flush(c, b, err);
        if (rc != PG_CACHE_OK) {
            free(key);
            free(val);
            return rc;
        }
    }
    b->ops[b->n].db = db;
    b->ops[b->n].key = key;
    b->ops[b->n].klen = strlen(key);
    b->ops[b->n].val = val;
    b->ops[b->n].len = strlen(val);
    b->n++;
    b->owned[b->nowned++] = key;
    b->owned[b->nowned++] = val;
    return PG_CACHE_OK;
}

/* The "sha256" member of a hashes object if it is 64 lower-case hex. */
static const char *
sha256_of(json_t *hashes)
{
    const char *h = json_string_value(json_object_get(hashes, "sha256"));

    if (h == NULL || strlen(h) != 64 || strspn(h, "0123456789abcdef") != 64)
    {
        return NULL;
    }
    return h;
}

static const char *
file_sha256(json_t *f)
{
    return sha256_of(json_object_get(f, "hashes"));
}

static const char *
meta_sha256(json_t *f)
{
    json_t *cm = json_object_get(f, "core-metadata");

    if (cm == NULL || json_is_false(cm)) {
        cm = json_object_get(f, "dist-info-metadata");
    }
    return sha256_of(cm);
}

/* One file record (consumed): FILES by its sha256, and PATHS by its path
 * with the sha256 added.  PATHS is what the file route reads: the same
 * bytes listed by two projects keep a record per path, so each path is
 * decided by the project that listed it (issue 10 item 8); FILES holds
 * the last lister's. */
static int
store_path_record(struct pg_cache *c, struct batch *b, const char *path,
    const char *sha, json_t *rec, struct pg_cache_err *err)
{
    int rc = batch_add(c, b, PG_CACHE_DB_FILES, strdup(sha),
        json_dumps(rec, JSON_COMPACT), err);

    if (rc == PG_CACHE_OK
        && json_object_set_new(rec, "sha256", json_string(sha)) != 0)
    {
        rc = PG_CACHE_ENOMEM;
    }
    if (rc == PG_CACHE_OK) {
        rc = batch_add(c, b, PG_CACHE_DB_PATHS, strdup(path),
            json_dumps(rec, JSON_COMPACT), err);
    }
    json_decref(rec);
    return rc;
}

static int
store_file_records(struct pg_cache *c, const char *key, json_t *model,
    struct batch *b, struct pg_cache_err *err)
{
    json_t *files = json_object_get(model, "files"), *f, *rec;
    size_t i;
    int rc;
    char path[PG_MAX_PATH + 16], mpath[PG_MAX_PATH + 32];
    char murl[4096];

    json_array_foreach(files, i, f) {
        const char *url = json_string_value(json_object_get(f, "url"));
        const char *fn = json_string_value(json_object_get(f, "filename"));
        const char *sha = file_sha256(f), *msha = meta_sha256(f);
        json_t *size = json_object_get(f, "size");

        if (url == NULL || fn == NULL || sha == NULL
            || pg_index_file_path(url, path, sizeof(path)) != 0
            || strlen(path) > PG_MAX_PATH)
        {
            continue;
        }
        rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "kind", "file",
            "project", pg_pages_key_project(key), "filename", fn, "url", url,
            "path", path,
            "size", json_is_integer(size) ? json_integer_value(size)
            : (json_int_t)-1);
        if (rec == NULL) {
            return PG_CACHE_ENOMEM;
        }
        if (json_is_string(json_object_get(f, "upload-time"))) {
            json_object_set(rec, "upload_time",
                json_object_get(f, "upload-time"));
        }
        if (json_is_string(json_object_get(f, "provenance"))) {
            json_object_set(rec, "provenance",
                json_object_get(f, "provenance"));
        }
        if (msha != NULL) {
            json_object_set_new(rec, "metadata_sha256", json_string(msha));
        }
        rc = store_path_record(c, b, path, sha, rec, err);
        if (rc != PG_CACHE_OK) {
            return rc;
        }
        if (msha == NULL) {
            continue;
        }
        snprintf(mpath, sizeof(mpath), "%s.metadata", path);
        snprintf(murl, sizeof(murl), "%s.metadata", url);
        {
            char mfn[512];

            snprintf(mfn, sizeof(mfn), "%s.metadata", fn);
            rec = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "kind",
                "metadata", "project", pg_pages_key_project(key),
                "filename", mfn, "url", murl, "path", mpath, "size",
                (json_int_t)-1, "of", sha);
        }
        if (rec == NULL) {
            return PG_CACHE_ENOMEM;
        }
        rc = store_path_record(c, b, mpath, msha, rec, err);
        if (rc != PG_CACHE_OK) {
            return rc;
        }
    }
    return PG_CACHE_OK;
}

/* Stores the upstream model: file records first, then the page record
 * (so a page in LMDB always has its file records). */
int
pg_pages_store(struct pg_cache *c, const char *key, int is_list,
    const char *etag, const char *lastmod, json_t *model, time_t fetched,
    time_t changed, struct pg_cache_err *err)
{
    struct batch *b = calloc(1, sizeof(*b));
    json_t *rec;
    int rc = PG_CACHE_OK;
    char mk[PAGE_KEY_MAX + 16], v[32];

    if (b == NULL) {
        return PG_CACHE_ENOMEM;
    }
    if (!is_list) {
        rc = store_file_records(c, key, model, b, err);
    }
    if (rc == PG_CACHE_OK) {
        rec = json_pack("{s:i, s:O, s:I, s:I}", "v", 1, "model", model,
            "fetched_at", (json_int_t)fetched, "changed_at",
            (json_int_t)changed);
        if (rec != NULL && etag != NULL) {
            json_object_set_new(rec, "etag", json_string(etag));
        }
        if (rec != NULL && lastmod != NULL) {
            json_object_set_new(rec, "last_modified",
                json_string(lastmod));
        }
        rc = batch_add(c, b, PG_CACHE_DB_INDEX, strdup(key),
            rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL, err);
        json_decref(rec);
        pg_pages_meta_key(key, mk, sizeof(mk));
        snprintf(v, sizeof(v), "%lld", (long long)fetched);
        if (rc == PG_CACHE_OK) {
            rc = batch_add(c, b, PG_CACHE_DB_META, strdup(mk), strdup(v),
                err);
        }
    }
    if (rc == PG_CACHE_OK) {
        rc = batch_flush(c, b, err);
    }
    batch_clear(b);
    free(b);
    return rc;
}
