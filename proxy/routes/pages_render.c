/* proxy/routes/pages_render.c — an index page's bodies: both formats
 * rendered with their gzip, and where their bytes live.
 *
 * A small body is a refcounted block of memory; a large one (a big
 * project's page) goes to an anonymous memory file and is served with
 * sendfile like a cached file; the bodies of a page over the memory cap
 * go to unlinked files in <cache_dir>/tmp instead.  Also here: what a
 * page's model costs in memory (jansson's allocations, estimated from
 * its shape), which the page cache counts against page_cache_max_bytes.
 *
 * Owns: the bodies it returns (one reference each, the caller's).
 * Runs on: a worker (the render job) or the loop.
 * Spec: issue 2 item 8; issue 10 item 6.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <jansson.h>
#include <openssl/sha.h>

#include "hex_int.h"
#include "index_int.h"
#include "pages_int.h"
#include "pg_cache.h"
#include "server_int.h"

/* ---- bodies ------------------------------------------------------------ */

/* The file a body's bytes go to: an anonymous memory file, or for a page
 * kept out of memory (dir != NULL) an unlinked file in <dir>/tmp (nothing
 * to clean up: it goes with its last reference, also after a crash). */
static int
body_file_open(const char *dir)
{
    char path[PG_CACHE_MAX_DIR + 32];
    int fd;

    if (dir == NULL) {
        return memfd_create("provgate-page", MFD_CLOEXEC);
    }
    snprintf(path, sizeof(path), "%s/tmp", dir);
    fd = open(path, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR)) {
        return fd;
    }
    snprintf(path, sizeof(path), "%s/tmp/page.XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0) {
        unlink(path);
    }
    return fd;
}

/* A large body (a big project's page and its gzip) is kept in an
 * anonymous memory file and served like a cached file, with sendfile:
 * nginx serves the same bytes from the page cache without copying them
 * through user space, and so does this.  The body of a page over the
 * memory cap goes to a file on disk instead (dir: the cache directory).
 * Runs on a worker (the render job).  NULL if the file cannot be made
 * (then data[] is used). */
static struct pg_body *
body_new_file(const char *data, size_t len, const char *dir)
{
    struct pg_body *b;
    size_t off = 0;
    ssize_t w;
    int fd = body_file_open(dir);

    if (fd < 0) {
        return NULL;
    }
    while (off < len) {
        w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            close(fd);
            return NULL;
        }
        off += (size_t)w;
    }
    b = malloc(sizeof(*b) + 1);
    if (b == NULL) {
        close(fd);
        return NULL;
    }
    b->seg = evbuffer_file_segment_new(fd, 0, (ev_off_t)len,
        EVBUF_FS_CLOSE_ON_FREE);
    if (b->seg == NULL) {
        close(fd);
        free(b);
        return NULL;
    }
    b->fd = fd;
    b->on_disk = dir != NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    return b;
}

/* dir: see body_new_file (NULL: in memory). */
static struct pg_body *
body_new(const char *data, size_t len, const char *dir)
{
    struct pg_body *b;

    if (len >= PG_SENDFILE_MIN
        && ((dir != NULL && (b = body_new_file(data, len, dir)) != NULL)
            || (b = body_new_file(data, len, NULL)) != NULL))
    {
        return b;
    }
    b = malloc(sizeof(*b) + (len > 0 ? len : 1));
    if (b == NULL) {
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = len;
    b->seg = NULL;
    b->on_disk = 0;
    memcpy(b->data, data, len);
    return b;
}

/* ---- model size -------------------------------------------------------- */

/* What jansson (2.x, 64-bit) allocates for v, malloc's chunk overhead
 * included: an object is 72 bytes plus its bucket array (16 bytes per
 * bucket, a power of two above its size, 8 at least) and 56 bytes plus
 * the key per member; a string 32 bytes plus its copy; an array 40 bytes
 * plus 8 per slot (a power of two, 8 at least); a number 24; true, false
 * and null are shared.  Checked against glibc's mallinfo2 on a parsed
 * 20,000-file page: within 0.1% (the model is ~4.9 times the JSON).
 * Depth is bounded by the parser (PG_INDEX_MAX_DEPTH). */
static size_t
chunk(size_t n)
{
    n += 8;
    return n < 32 ? 32 : (n + 15) & ~(size_t)15;
}

static size_t
slots(size_t n)
{
    size_t c = 8;

    while (c <= n) {
        c *= 2;
    }
    return c;
}

size_t
pg_pages_model_bytes(json_t *v)
{
    const char *k;
    json_t *x;
    size_t b, i;

    switch (json_typeof(v)) {
    case JSON_OBJECT:
        b = chunk(72) + chunk(16 * slots(json_object_size(v)));
        json_object_foreach(v, k, x) {
            b += chunk(56 + strlen(k) + 1) + pg_pages_model_bytes(x);
        }
        return b;
    case JSON_ARRAY:
        b = chunk(40) + chunk(8 * slots(json_array_size(v)));
        json_array_foreach(v, i, x) {
            b += pg_pages_model_bytes(x);
        }
        return b;
    case JSON_STRING:
        return chunk(32) + chunk(json_string_length(v) + 1);
    case JSON_INTEGER:
    case JSON_REAL:
        return chunk(24);
    case JSON_TRUE:
    case JSON_FALSE:
    case JSON_NULL:
        return 0;
    }
    return 0;
}

/* ---- render + install -------------------------------------------------- */

static void
hash_hex(const char *data, size_t len, char out[24])
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    SHA256((const unsigned char *)data, len, md);
    pg_hex_encode(md, 10, out);
}

/* Renders both formats with their gzip into out.  A page whose model and
 * bodies would take more than max_bytes of memory gets its bodies in
 * files under cache_dir (body_new_file); the HTML is taken to be about
 * as large as the JSON for that choice (page_settle corrects a wrong
 * guess by dropping the page). */
int
pg_pages_render(int is_list, const char *base_url, json_t *model,
    size_t mbytes, size_t max_bytes, const char *cache_dir,
    struct pg_body *out[B_COUNT], char hash[2][24])
{
    char *plain = NULL, *gz = NULL;
    size_t plen = 0, glen = 0;
    int k, rc;
    const char *dir = NULL;
    enum pg_index_format fmts[2] = { PG_FMT_JSON, PG_FMT_HTML_V1 };

    for (k = 0; k < 2; k++) {
        if (is_list) {
            rc = pg_index_render_list(model, fmts[k], base_url, &plain,
                &plen);
        } else {
            rc = pg_index_render_project(model, fmts[k], base_url,
                &plain, &plen);
        }
        if (rc != 0 || pg_index_gzip(plain, plen, &gz, &glen) != 0) {
            free(plain);
            return -1;
        }
        if (k == 0 && mbytes + 2 * (plen + glen) > max_bytes) {
            dir = cache_dir;
        }
        out[2 * k] = body_new(plain, plen, dir);
        out[2 * k + 1] = body_new(gz, glen, dir);
        hash_hex(plain, plen, hash[k]);
        free(plain);
        free(gz);
        plain = gz = NULL;
        if (out[2 * k] == NULL || out[2 * k + 1] == NULL) {
            return -1;
        }
    }
    return 0;
}
