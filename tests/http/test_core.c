/* tests/http/test_core.c — the HTTP core on a fake transport.
 *
 * Requests are answered through struct pg_req_ops; here a fake one holds
 * the request headers and records the reply (status, phrase, headers,
 * body, the route and cache the access line would show), so the code
 * both front ends answer with is specified without a socket: answering a
 * page view (negotiation, gzip, ETag, 304, Range, If-Range, HEAD), a file
 * view (the same for a cached blob), refusal bodies (problem+json), and
 * the hot table (published answers, invalidation, expiry, a moved LMDB
 * generation), and a streamed reply (start, chunks, end through the
 * transport's table).  Each group is a table of rows; the end-to-end tests
 * (tests/server) show the same answers on the wire.
 *
 * Owns: a temp cache directory under the working directory.  Runs on:
 * the test process.  Spec: RFC 9110 §8.8, §13, §14, §15; RFC 9457;
 * PEP 691; issue 11 item 4.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <jansson.h>

#include "auth_int.h"
#include "config_int.h"
#include "index_int.h"
#include "pg_cache.h"
#include "server_int.h"
#include "../cache/cache_test_util.h"

#define MAX_HDRS 8

/* ---- the fake transport -------------------------------------------------- */

struct fake {
    const char *in[MAX_HDRS][2];        /* request headers */
    const char *query;
    char out[32][2][256];               /* response headers set */
    int nout;
    int replied, aborted;
    int code;
    char phrase[PG_MAX_REASON];
    char body[8192];
    size_t blen;
    const char *route, *cache;          /* as the access line shows them */
};

static int
fake_live(const struct pg_req *r)
{
    const struct fake *f = r->front;

    return f != NULL && !f->replied && !f->aborted;
}

static const char *
fake_query(struct pg_req *r)
{
    return ((struct fake *)r->front)->query;
}

static const char *
fake_header(struct pg_req *r, const char *name)
{
    struct fake *f = r->front;
    int i;

    for (i = 0; i < MAX_HDRS && f->in[i][0] != NULL; i++) {
        if (strcasecmp(f->in[i][0], name) == 0) {
            return f->in[i][1];
        }
    }
    return NULL;
}

static int
find_out(struct fake *f, const char *name)
{
    int i;

    for (i = 0; i < f->nout; i++) {
        if (strcasecmp(f->out[i][0], name) == 0) {
            return i;
        }
    }
    return -1;
}

static void
fake_set_header(struct pg_req *r, const char *name, const char *v)
{
    struct fake *f = r->front;
    int i = find_out(f, name);

    if (i < 0) {
        assert_true(f->nout < 32);
        i = f->nout++;
    }
    snprintf(f->out[i][0], sizeof(f->out[i][0]), "%s", name);
    snprintf(f->out[i][1], sizeof(f->out[i][1]), "%s", v);
}

static int
fake_has_out_header(struct pg_req *r, const char *name)
{
    return find_out(r->front, name) >= 0;
}

static size_t
fake_output_pending(struct pg_req *r)
{
    return 0;
}

static void
fake_reply(struct pg_req *r, int code, const char *phrase,
    struct evbuffer *body)
{
    struct fake *f = r->front;

    f->replied = 1;
    f->code = code;
    snprintf(f->phrase, sizeof(f->phrase), "%s", phrase);
    f->route = r->route;
    f->cache = r->cache;
    if (body != NULL) {
        size_t n = evbuffer_get_length(body);

        assert_true(n < sizeof(f->body));
        f->blen = (size_t)evbuffer_remove(body, f->body, n);
        evbuffer_free(body);
    }
    pg_req_finish(r);
}

static void
fake_abort(struct pg_req *r)
{
    ((struct fake *)r->front)->aborted = 1;
    r->client_gone = 1;
}

static const struct pg_req_ops fake_ops = {
    .live = fake_live,
    .query = fake_query,
    .header = fake_header,
    .set_header = fake_set_header,
    .has_out_header = fake_has_out_header,
    .output_pending = fake_output_pending,
    .reply = fake_reply,
    .abort = fake_abort,
};

static struct pg_server server;
static struct pg_loop loop;

/* A request on the transport ops (front: what they are handed). */
static struct pg_req *
fake_req_on(const struct pg_req_ops *ops, void *front, const char *method,
    const char *path)
{
    struct pg_req *r;

    loop.s = &server;
    r = pg_req_new_ops(&loop, ops, front);
    assert_non_null(r);
    r->method = method != NULL ? method : "GET";
    r->is_head = strcmp(r->method, "HEAD") == 0;
    r->path = pg_req_strdup(r, path);
    return r;
}

static struct pg_req *
fake_req(struct fake *f, const char *method, const char *path)
{
    return fake_req_on(&fake_ops, f, method, path);
}

static const char *
out_header(struct fake *f, const char *name)
{
    int i = find_out(f, name);

    return i >= 0 ? f->out[i][1] : NULL;
}

/* Expected response headers of a row: value, or NULL for "not set". */
struct want {
    const char *name, *value;
    int absent;
};

static void
check_headers(struct fake *f, const char *row, const struct want *w)
{
    int i;

    for (i = 0; i < MAX_HDRS && w[i].name != NULL; i++) {
        const char *v = out_header(f, w[i].name);

        if (w[i].absent) {
            if (v != NULL) {
                fail_msg("%s: %s set to \"%s\"", row, w[i].name, v);
            }
            continue;
        }
        if (v == NULL || strcmp(v, w[i].value) != 0) {
            fail_msg("%s: %s is \"%s\", want \"%s\"", row, w[i].name,
                v != NULL ? v : "(unset)", w[i].value);
        }
    }
}

static void
check_body(struct fake *f, const char *row, const char *body)
{
    size_t n = body != NULL ? strlen(body) : 0;

    if (f->blen != n || (n > 0 && memcmp(f->body, body, n) != 0)) {
        fail_msg("%s: body is %zu bytes \"%.*s\", want \"%s\"", row,
            f->blen, (int)f->blen, f->body, body != NULL ? body : "");
    }
}

/* The problem+json body's title and detail. */
static void
check_problem(struct fake *f, const char *row, int status,
    const char *title, const char *detail_part)
{
    json_error_t e;
    json_t *o = json_loadb(f->body, f->blen, 0, &e);
    const char *t, *d;

    if (o == NULL) {
        fail_msg("%s: problem body is not JSON: %.*s", row, (int)f->blen,
            f->body);
    }
    t = json_string_value(json_object_get(o, "title"));
    d = json_string_value(json_object_get(o, "detail"));
    assert_string_equal(json_string_value(json_object_get(o, "type")),
        "about:blank");
    assert_int_equal(json_integer_value(json_object_get(o, "status")),
        status);
    if (t == NULL || strcmp(t, title) != 0) {
        fail_msg("%s: title \"%s\", want \"%s\"", row, t ? t : "", title);
    }
    if (d == NULL || strstr(d, detail_part) == NULL) {
        fail_msg("%s: detail \"%s\" lacks \"%s\"", row, d ? d : "",
            detail_part);
    }
    /* The reason phrase is the detail. */
    assert_string_equal(f->phrase, d);
    json_decref(o);
}

/* ---- page views ---------------------------------------------------------- */

#define J "{\"meta\":1}"                /* 10 bytes */
#define JZ "jz-bytes"
#define H "<html>h</html>"
#define HZ "hz-bytes"
#define CHANGED 1700000000              /* Tue, 14 Nov 2023 22:13:20 GMT */
#define LM "Tue, 14 Nov 2023 22:13:20 GMT"
#define LM_EARLIER "Tue, 14 Nov 2023 22:13:19 GMT"

static struct pg_body *
body_new(const char *s)
{
    size_t n = strlen(s);
    struct pg_body *b = calloc(1, sizeof(*b) + n);

    assert_non_null(b);
    atomic_init(&b->refs, 1);
    b->len = n;
    b->fd = -1;
    memcpy(b->data, s, n);
    return b;
}

static void
page_view(struct pg_page_view *v, int is_list)
{
    memset(v, 0, sizeof(*v));
    v->body[0] = body_new(J);
    v->body[1] = body_new(JZ);
    v->body[2] = body_new(H);
    v->body[3] = body_new(HZ);
    memcpy(v->hash[0], "hj", 3);
    memcpy(v->hash[1], "hh", 3);
    v->fetched_at = time(NULL);
    v->changed_at = CHANGED;
    v->ttl = 3600;
    v->fresh_until = v->fetched_at + 3600;
    v->is_list = is_list;
    memcpy(v->lm, LM, sizeof(LM));
}

static void
page_view_free(struct pg_page_view *v)
{
    int i;

    for (i = 0; i < PG_VIEW_BODIES; i++) {
        /* every reply dropped its reference */
        assert_int_equal(atomic_load(&v->body[i]->refs), 1);
    }
    pg_page_view_unref(v);
}

struct page_row {
    const char *name;
    const char *method;
    const char *query;
    const char *hdr[MAX_HDRS][2];
    int status;
    enum pg_index_format fmt;           /* its Content-Type (200, 206) */
    const char *body;
    struct want want[MAX_HDRS];
    const char *problem;                /* 4xx: the detail says this */
};

#define ACC_JSON "application/vnd.pypi.simple.v1+json"
#define ACC_HTML1 "application/vnd.pypi.simple.v1+html"

static const struct page_row page_rows[] = {
    { .name = "no Accept is the legacy HTML page",
      .status = 200, .fmt = PG_FMT_HTML, .body = H,
      .want = { { "ETag", "\"hh-t\"" }, { "Vary", "Accept, Accept-Encoding" },
                { "Last-Modified", LM }, { "Accept-Ranges", "bytes" },
                { "Content-Encoding", NULL, 1 } } },
    { .name = "Accept PEP 691 JSON",
      .hdr = { { "Accept", ACC_JSON } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J,
      .want = { { "ETag", "\"hj-j\"" } } },
    { .name = "Accept PEP 691 HTML",
      .hdr = { { "Accept", ACC_HTML1 } },
      .status = 200, .fmt = PG_FMT_HTML_V1, .body = H,
      .want = { { "ETag", "\"hh-h\"" } } },
    { .name = "pip's Accept prefers JSON",
      .hdr = { { "Accept", ACC_JSON ", " ACC_HTML1 "; q=0.1, text/html; "
                 "q=0.01" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J },
    { .name = "?format= overrides Accept",
      .query = "format=" ACC_JSON,
      .hdr = { { "Accept", "text/html" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J },
    { .name = "an Accept naming no index format is the legacy HTML page",
      .hdr = { { "Accept", "image/png" } },
      .status = 200, .fmt = PG_FMT_HTML, .body = H },
    { .name = "?format= naming no index format is a 406 problem",
      .query = "format=image/png",
      .status = 406, .problem = "no acceptable index format",
      .want = { { "Content-Type", "application/problem+json" },
                { "Cache-Control", "no-store" } } },
    { .name = "gzip when accepted, with its own ETag",
      .hdr = { { "Accept", ACC_JSON }, { "Accept-Encoding", "gzip" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = JZ,
      .want = { { "Content-Encoding", "gzip" }, { "ETag", "\"hj-jz\"" } } },
    { .name = "gzip;q=0 is not gzip",
      .hdr = { { "Accept", ACC_JSON }, { "Accept-Encoding", "gzip;q=0" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J,
      .want = { { "Content-Encoding", NULL, 1 } } },
    { .name = "If-None-Match with the ETag is a 304",
      .hdr = { { "Accept", ACC_JSON }, { "If-None-Match", "\"hj-j\"" } },
      .status = 304, .want = { { "ETag", "\"hj-j\"" } } },
    { .name = "If-None-Match compares weakly",
      .hdr = { { "Accept", ACC_JSON }, { "If-None-Match", "W/\"hj-j\"" } },
      .status = 304 },
    { .name = "If-None-Match list holding the ETag",
      .hdr = { { "Accept", ACC_JSON },
               { "If-None-Match", "\"x\", \"hj-j\"" } },
      .status = 304 },
    { .name = "If-None-Match * is a 304",
      .hdr = { { "If-None-Match", "*" } }, .status = 304 },
    { .name = "If-None-Match of another representation is a 200",
      .hdr = { { "Accept", ACC_JSON }, { "If-None-Match", "\"hh-t\"" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J },
    { .name = "If-Modified-Since at the change is a 304",
      .hdr = { { "If-Modified-Since", LM } }, .status = 304 },
    { .name = "If-Modified-Since before the change is a 200",
      .hdr = { { "If-Modified-Since", LM_EARLIER } },
      .status = 200, .fmt = PG_FMT_HTML, .body = H },
    { .name = "If-None-Match wins over If-Modified-Since",
      .hdr = { { "If-None-Match", "\"x\"" }, { "If-Modified-Since", LM } },
      .status = 200, .fmt = PG_FMT_HTML, .body = H },
    { .name = "one range is a 206",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=0-3" } },
      .status = 206, .fmt = PG_FMT_JSON, .body = "{\"me",
      .want = { { "Content-Range", "bytes 0-3/10" } } },
    { .name = "a suffix range",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=-3" } },
      .status = 206, .fmt = PG_FMT_JSON, .body = ":1}",
      .want = { { "Content-Range", "bytes 7-9/10" } } },
    { .name = "an open range past the end is cut at the end",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=8-100" } },
      .status = 206, .fmt = PG_FMT_JSON, .body = "1}",
      .want = { { "Content-Range", "bytes 8-9/10" } } },
    { .name = "a range of the gzip bytes when gzip",
      .hdr = { { "Accept", ACC_JSON }, { "Accept-Encoding", "gzip" },
               { "Range", "bytes=0-1" } },
      .status = 206, .fmt = PG_FMT_JSON, .body = "jz",
      .want = { { "Content-Range", "bytes 0-1/8" } } },
    { .name = "a range past the end is a 416",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=10-" } },
      .status = 416, .problem = "not satisfiable for this page (10 bytes)",
      .want = { { "Content-Range", "bytes */10" } } },
    { .name = "several ranges: the whole page",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=0-1,4-5" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J,
      .want = { { "Content-Range", NULL, 1 } } },
    { .name = "a malformed range is ignored",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=a-b" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J },
    { .name = "If-Range with the ETag keeps the range",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=0-0" },
               { "If-Range", "\"hj-j\"" } },
      .status = 206, .fmt = PG_FMT_JSON, .body = "{" },
    { .name = "If-Range with another ETag: the whole page",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=0-0" },
               { "If-Range", "\"hj-old\"" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J },
    { .name = "If-Range with a weak ETag: the whole page",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=0-0" },
               { "If-Range", "W/\"hj-j\"" } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J },
    { .name = "If-Range with the Last-Modified date keeps the range",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=1-1" },
               { "If-Range", LM } },
      .status = 206, .fmt = PG_FMT_JSON, .body = "\"" },
    { .name = "If-Range with another date: the whole page",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=1-1" },
               { "If-Range", LM_EARLIER } },
      .status = 200, .fmt = PG_FMT_JSON, .body = J },
    { .name = "HEAD: the length, no body",
      .method = "HEAD", .hdr = { { "Accept", ACC_JSON } },
      .status = 200, .fmt = PG_FMT_JSON, .body = NULL,
      .want = { { "Content-Length", "10" }, { "ETag", "\"hj-j\"" } } },
    { .name = "HEAD of a range: its length",
      .method = "HEAD",
      .hdr = { { "Accept", ACC_JSON }, { "Range", "bytes=0-3" } },
      .status = 206, .fmt = PG_FMT_JSON, .body = NULL,
      .want = { { "Content-Length", "4" } } },
};

static void
check_page_answer(struct fake *f, const struct page_row *row)
{
    const char *cc;

    if (f->code != row->status) {
        fail_msg("%s: status %d, want %d", row->name, f->code, row->status);
    }
    if (row->problem != NULL) {
        check_problem(f, row->name, row->status,
            row->status == 406 ? "Not acceptable" : "Range not satisfiable",
            row->problem);
    } else {
        check_body(f, row->name, row->body);
        if (row->status != 304) {
            assert_string_equal(out_header(f, "Content-Type"),
                pg_index_content_type(row->fmt));
        }
        /* max-age is what is left of the TTL (fetched just now). */
        cc = out_header(f, "Cache-Control");
        assert_non_null(cc);
        assert_true(strcmp(cc, "max-age=3600") == 0
            || strcmp(cc, "max-age=3599") == 0);
    }
    check_headers(f, row->name, row->want);
}

static void
view_page_rows(void **state)
{
    struct pg_page_view v;
    size_t i;

    (void) state;
    page_view(&v, 0);
    for (i = 0; i < sizeof(page_rows) / sizeof(page_rows[0]); i++) {
        const struct page_row *row = &page_rows[i];
        struct fake f;
        struct pg_req *r;

        memset(&f, 0, sizeof(f));
        memcpy(f.in, row->hdr, sizeof(f.in));
        f.query = row->query;
        r = fake_req(&f, row->method, "/simple/x/");
        pg_view_serve_page(r, &v);
        if (!f.replied) {
            fail_msg("%s: not answered", row->name);
        }
        check_page_answer(&f, row);
        assert_string_equal(f.route, "project");
    }
    page_view_free(&v);
}

/* The list page is the same answer, counted as the list route. */
static void
view_list_is_list_route(void **state)
{
    struct pg_page_view v;
    struct fake f;

    (void) state;
    page_view(&v, 1);
    memset(&f, 0, sizeof(f));
    pg_view_serve_page(fake_req(&f, "GET", "/simple/"), &v);
    assert_int_equal(f.code, 200);
    assert_string_equal(f.route, "list");
    page_view_free(&v);
}

/* ---- file views ----------------------------------------------------------- */

#define FILE_BYTES "0123456789abcdef"   /* 16 bytes */
#define UPLOADED "2023-11-14T22:13:20"  /* LM */

static char *cache_dir;
static struct pg_cache *cache;
static char blob_sha[65];

static int
cache_setup(void **state)
{
    struct pg_cache_options opt;
    struct pg_cache_err err;
    struct pg_blob_writer *w;

    (void) state;
    cache_dir = ctu_mkdtemp();
    assert_non_null(cache_dir);
    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.dir = cache_dir;
    assert_int_equal(pg_cache_open(&opt, &cache, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_begin(cache, &w, &err), PG_CACHE_OK);
    assert_int_equal(pg_blob_write(w, FILE_BYTES, 16, &err), PG_CACHE_OK);
    pg_blob_digest(w, blob_sha);
    assert_int_equal(pg_blob_commit(w, blob_sha, &err), PG_CACHE_OK);
    server.cache = cache;
    return 0;
}

static int
cache_teardown(void **state)
{
    (void) state;
    server.cache = NULL;
    pg_cache_close(cache);
    ctu_rmtree(cache_dir);
    return 0;
}

static void
file_view(struct pg_file_view *v)
{
    struct pg_cache_err err;
    uint64_t size = 0;
    int fd = -1;

    memset(v, 0, sizeof(*v));
    memcpy(v->sha, blob_sha, sizeof(v->sha));
    v->filename = "x-1.0.tar.gz";
    v->upload_time = UPLOADED;
    v->size = 16;
    v->cache_gen = pg_cache_generation(cache);
    v->fresh_until = time(NULL) + 3600;
    memcpy(v->lm, LM, sizeof(LM));
    v->lm_time = CHANGED;
    memset(&err, 0, sizeof(err));
    assert_int_equal(pg_blob_open(cache, blob_sha, &fd, &size, &err),
        PG_CACHE_OK);
    assert_int_equal(size, 16);
    v->seg = evbuffer_file_segment_new(fd, 0, 16, EVBUF_FS_CLOSE_ON_FREE);
    assert_non_null(v->seg);
    v->fd = fd;
}

struct file_row {
    const char *name;
    const char *method;
    const char *hdr[MAX_HDRS][2];
    int status;
    const char *body;
    struct want want[MAX_HDRS];
    const char *problem;
};

static const struct file_row file_rows[] = {
    { .name = "a cached file",
      .status = 200, .body = FILE_BYTES,
      .want = { { "Content-Type", "application/octet-stream" },
                { "Cache-Control", "max-age=365000000, immutable" },
                { "Accept-Ranges", "bytes" }, { "Content-Length", "16" },
                { "Last-Modified", LM } } },
    { .name = "HEAD: the length, no body",
      .method = "HEAD", .status = 200, .body = NULL,
      .want = { { "Content-Length", "16" } } },
    { .name = "If-None-Match with the sha256 is a 304",
      .hdr = { { "If-None-Match", "\"@SHA\"" } }, .status = 304,
      .want = { { "Content-Length", NULL, 1 } } },
    { .name = "If-Modified-Since at the upload is a 304",
      .hdr = { { "If-Modified-Since", LM } }, .status = 304 },
    { .name = "If-Modified-Since before the upload is a 200",
      .hdr = { { "If-Modified-Since", LM_EARLIER } },
      .status = 200, .body = FILE_BYTES },
    { .name = "one range",
      .hdr = { { "Range", "bytes=2-5" } }, .status = 206, .body = "2345",
      .want = { { "Content-Range", "bytes 2-5/16" },
                { "Content-Length", "4" } } },
    { .name = "a range past the end is a 416 naming the file",
      .hdr = { { "Range", "bytes=16-" } }, .status = 416,
      .problem = "range bytes=16- not satisfiable for x-1.0.tar.gz "
                 "(16 bytes)",
      .want = { { "Content-Range", "bytes */16" },
                { "Content-Type", "application/problem+json" } } },
    { .name = "If-Range with another ETag: the whole file",
      .hdr = { { "Range", "bytes=2-5" }, { "If-Range", "\"0000\"" } },
      .status = 200, .body = FILE_BYTES },
    { .name = "If-Range with the upload date keeps the range",
      .hdr = { { "Range", "bytes=0-0" }, { "If-Range", LM } },
      .status = 206, .body = "0" },
};

static void
view_file_rows(void **state)
{
    struct pg_file_view v;
    char etag[80];
    size_t i;

    (void) state;
    file_view(&v);
    snprintf(etag, sizeof(etag), "\"%s\"", blob_sha);
    for (i = 0; i < sizeof(file_rows) / sizeof(file_rows[0]); i++) {
        const struct file_row *row = &file_rows[i];
        struct fake f;
        int k;

        memset(&f, 0, sizeof(f));
        memcpy(f.in, row->hdr, sizeof(f.in));
        for (k = 0; k < MAX_HDRS && f.in[k][0] != NULL; k++) {
            if (strcmp(f.in[k][1], "\"@SHA\"") == 0) {
                f.in[k][1] = etag;
            }
        }
        pg_view_serve_file(fake_req(&f, row->method, "/packages/x"), &v);
        if (f.code != row->status) {
            fail_msg("%s: status %d, want %d", row->name, f.code,
                row->status);
        }
        if (row->problem != NULL) {
            check_problem(&f, row->name, row->status,
                "Range not satisfiable", row->problem);
        } else {
            check_body(&f, row->name, row->body);
            assert_string_equal(out_header(&f, "ETag"), etag);
            if (row->status != 304) {
                assert_string_equal(f.cache, "hit");
            }
        }
        assert_string_equal(f.route, "file");
        check_headers(&f, row->name, row->want);
    }
    evbuffer_file_segment_free(v.seg);
}

/* ---- refusal bodies ------------------------------------------------------- */

struct problem_row {
    const char *name;
    const char *method;
    enum pg_refusal why;
    int status;
    const char *title, *detail;
    const char *preset[2];              /* a header the caller set */
    const char *phrase;                 /* the reason phrase sent */
    struct want want[MAX_HDRS];
    int no_body;
};

static const struct problem_row problem_rows[] = {
    { .name = "a refusal is problem+json, not stored",
      .why = PG_REFUSE_FORBIDDEN,
      .status = 403, .title = "Forbidden", .detail = "sha256 mismatch",
      .phrase = "sha256 mismatch",
      .want = { { "Content-Type", "application/problem+json" },
                { "Cache-Control", "no-store" } } },
    { .name = "control bytes in the reason become spaces",
      .why = PG_REFUSE_BAD_GATEWAY,
      .status = 502, .title = "Bad gateway", .detail = "up\r\nstream\tx",
      .phrase = "up  stream x" },
    { .name = "a Cache-Control the caller set is kept (301)",
      .why = PG_REFUSE_MOVED,
      .status = 301, .title = "Moved permanently", .detail = "see /simple/",
      .preset = { "Cache-Control", "max-age=600" }, .phrase = "see /simple/",
      .want = { { "Cache-Control", "max-age=600" } } },
    { .name = "HEAD: the problem's length, no body",
      .method = "HEAD", .why = PG_REFUSE_NOT_FOUND,
      .status = 404, .title = "Not found",
      .detail = "no such route: /x", .phrase = "no such route: /x",
      .no_body = 1 },
};

static void
problem_rows_answer(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(problem_rows) / sizeof(problem_rows[0]); i++) {
        const struct problem_row *row = &problem_rows[i];
        struct fake f;
        struct pg_req *r;

        memset(&f, 0, sizeof(f));
        r = fake_req(&f, row->method, "/x");
        if (row->preset[0] != NULL) {
            pg_req_set_header(r, row->preset[0], row->preset[1]);
        }
        pg_req_refuse(r, row->why, "%s", row->detail);
        assert_int_equal(f.code, row->status);
        assert_string_equal(f.phrase, row->phrase);
        if (row->no_body) {
            struct fake g;
            char cl[32];

            /* The length of the body a GET gets. */
            assert_int_equal(f.blen, 0);
            memset(&g, 0, sizeof(g));
            pg_req_refuse(fake_req(&g, "GET", "/x"), row->why, "%s",
                row->detail);
            snprintf(cl, sizeof(cl), "%zu", g.blen);
            assert_true(g.blen > 0);
            assert_string_equal(out_header(&f, "Content-Length"), cl);
        } else {
            check_problem(&f, row->name, row->status, row->title,
                row->phrase);
        }
        check_headers(&f, row->name, row->want);
    }
}

/* The refusal classes: one (status, title) each, as clients see them
 * (tests/server and tests/e2e assert these on the wire). */
static const struct {
    enum pg_refusal why;
    int status;
    const char *title;
} refusal_rows[] = {
    { PG_REFUSE_MOVED, 301, "Moved permanently" },
    { PG_REFUSE_BAD_REQUEST, 400, "Bad request" },
    { PG_REFUSE_UNAUTHORIZED, 401, "Unauthorized" },
    { PG_REFUSE_FORBIDDEN, 403, "Forbidden" },
    { PG_REFUSE_CLIENT, 403, "Client address not allowed" },
    { PG_REFUSE_NOT_FOUND, 404, "Not found" },
    { PG_REFUSE_METHOD, 405, "Method not allowed" },
    { PG_REFUSE_NOT_ACCEPTABLE, 406, "Not acceptable" },
    { PG_REFUSE_URI_TOO_LONG, 414, "URI too long" },
    { PG_REFUSE_RANGE, 416, "Range not satisfiable" },
    { PG_REFUSE_TOO_MANY, 429, "Too many requests" },
    { PG_REFUSE_HEAD_TOO_LARGE, 431, "Request header fields too large" },
    { PG_REFUSE_BAD_GATEWAY, 502, "Bad gateway" },
    { PG_REFUSE_NOMEM, 503, "Out of memory" },
    { PG_REFUSE_UNAVAILABLE, 503, "Unavailable" },
    { PG_REFUSE_RETRY, 503, "Service unavailable" },
    { PG_REFUSE_STOPPING, 503, "Stopping" },
};

static void
refusal_table_rows(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(refusal_rows) / sizeof(refusal_rows[0]); i++) {
        struct fake f;

        assert_int_equal(pg_refusal_status(refusal_rows[i].why),
            refusal_rows[i].status);
        assert_string_equal(pg_refusal_title(refusal_rows[i].why),
            refusal_rows[i].title);
        memset(&f, 0, sizeof(f));
        pg_req_refuse(fake_req(&f, "GET", "/x"), refusal_rows[i].why,
            "row %zu", i);
        assert_int_equal(f.code, refusal_rows[i].status);
    }
    /* The upstream client's failures: a host not allowed is a 403. */
    assert_int_equal(pg_refusal_of_upstream(PG_UP_EHOST),
        PG_REFUSE_FORBIDDEN);
    assert_int_equal(pg_refusal_of_upstream(PG_UP_ETIMEOUT),
        PG_REFUSE_BAD_GATEWAY);
}

/* A reason longer than PG_MAX_REASON is cut to fit. */
static void
problem_reason_is_bounded(void **state)
{
    char big[PG_MAX_REASON * 2];
    struct fake f;

    (void) state;
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memset(&f, 0, sizeof(f));
    pg_req_refuse(fake_req(&f, "GET", "/x"), PG_REFUSE_BAD_GATEWAY, "%s",
        big);
    assert_int_equal(strlen(f.phrase), PG_MAX_REASON - 1);
}

/* A reply to a client gone is not sent; an abort resets once. */
static void
gone_and_abort(void **state)
{
    struct fake f;
    struct pg_req *r;

    (void) state;
    memset(&f, 0, sizeof(f));
    r = fake_req(&f, "GET", "/x");
    pg_req_abort(r, "hash mismatch");
    assert_true(f.aborted);
    assert_false(f.replied);
    memset(&f, 0, sizeof(f));
    r = fake_req(&f, "GET", "/x");
    r->client_gone = 1;
    pg_req_refuse(r, PG_REFUSE_UNAVAILABLE, "x");
    assert_false(f.replied);
    assert_false(f.aborted);
}

/* ---- streamed replies ------------------------------------------------------ */

/* A transport that streams (the main loop's evhttp does; files.c's
 * downloads stream through it): what reaches it, in order. */
struct stream_log {
    struct fake f;                      /* first: r->front */
    char seq[256];                      /* "start 200 OK|chunk abc|end" */
    size_t bytes;                       /* r->bytes at the end */
    int drained, finished;
};

static void
log_step(struct stream_log *l, const char *fmt, const char *a)
{
    size_t at = strlen(l->seq);

    snprintf(l->seq + at, sizeof(l->seq) - at, "%s", at > 0 ? "|" : "");
    at = strlen(l->seq);
    snprintf(l->seq + at, sizeof(l->seq) - at, fmt, a);
}

static void
fake_start_stream(struct pg_req *r, int code, const char *phrase)
{
    char what[64];

    snprintf(what, sizeof(what), "%d %s", code, phrase);
    log_step(r->front, "start %s", what);
}

static void
fake_stream(struct pg_req *r, struct evbuffer *chunk,
    void (*drained)(void *arg), void *arg)
{
    char buf[64];
    size_t n = evbuffer_get_length(chunk);

    assert_true(n < sizeof(buf));
    evbuffer_remove(chunk, buf, n);
    buf[n] = '\0';
    log_step(r->front, "chunk %s", buf);
    if (drained != NULL) {
        drained(arg);                   /* the fake client takes it all */
    }
}

static void
fake_end_stream(struct pg_req *r)
{
    log_step(r->front, "end%s", "");
}

static void
fake_stream_done(struct pg_req *r)
{
    struct stream_log *l = r->front;

    l->bytes = r->bytes;
    l->finished = 1;
}

static void
on_fake_drained(void *arg)
{
    ((struct stream_log *)arg)->drained++;
}

static const struct pg_req_ops fake_stream_ops = {
    .live = fake_live,
    .query = fake_query,
    .header = fake_header,
    .set_header = fake_set_header,
    .has_out_header = fake_has_out_header,
    .output_pending = fake_output_pending,
    .reply = fake_reply,
    .start_stream = fake_start_stream,
    .stream = fake_stream,
    .end_stream = fake_end_stream,
    .abort = fake_abort,
    .done = fake_stream_done,
};

struct stream_row {
    const char *name;
    int streams;                        /* the transport streams */
    int gone;                           /* client gone before the start */
    const char *seq;                    /* what the transport saw */
    size_t bytes;                       /* counted for the access line */
    int drained;
};

static const struct stream_row stream_rows[] = {
    { .name = "status_chunks_and_end_in_order", .streams = 1,
      .seq = "start 200 OK|chunk abc|chunk defg|end", .bytes = 7,
      .drained = 1 },
    { .name = "client_gone_before_the_start_gets_nothing", .streams = 1,
      .gone = 1, .seq = "", .bytes = 0 },
    { .name = "a_transport_that_cannot_stream_sends_nothing",
      .seq = "", .bytes = 0 },
};

/* The route streams through the transport's table, never a transport by
 * name: start, chunks (the first with a drained callback), end; each
 * request is finished once whatever the transport. */
static void
stream_rows_answer(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(stream_rows) / sizeof(stream_rows[0]); i++) {
        const struct stream_row *row = &stream_rows[i];
        struct stream_log l;
        struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
        struct pg_req *r;

        memset(&l, 0, sizeof(l));
        r = fake_req_on(row->streams ? &fake_stream_ops : &fake_ops, &l,
            "GET", "/packages/x");
        r->client_gone = row->gone;
        evbuffer_add(a, "abc", 3);
        evbuffer_add(b, "defg", 4);
        pg_req_start_stream(r, 200, "OK");
        assert_int_equal(r->status, 200);
        assert_true(r->started);
        pg_req_stream(r, a, on_fake_drained, &l);
        pg_req_stream(r, b, NULL, NULL);
        pg_req_end_stream(r);
        if (strcmp(l.seq, row->seq) != 0) {
            fail_msg("%s: transport saw \"%s\", want \"%s\"", row->name,
                l.seq, row->seq);
        }
        if (row->streams) {
            assert_true(l.finished);
            assert_int_equal(l.bytes, row->bytes);
        }
        assert_int_equal(l.drained, row->drained);
        assert_false(l.f.replied);
        evbuffer_free(a);
        evbuffer_free(b);
    }
}

/* ---- the hot table -------------------------------------------------------- */

struct hot_row {
    const char *name;
    const char *path;                   /* looked up */
    const char *hdr[MAX_HDRS][2];
    int step;                           /* what happens after publishing */
    int answered;
    int status;
    const char *body;
};

enum { HOT_NONE, HOT_INVALIDATE, HOT_REMOVE, HOT_EXPIRED, HOT_GEN_MOVED };

static const struct hot_row hot_rows[] = {
    { .name = "a published page is answered",
      .path = "/simple/x/", .answered = 1, .status = 200, .body = H },
    { .name = "negotiated as the main loop does",
      .path = "/simple/x/", .hdr = { { "Accept", ACC_JSON } },
      .answered = 1, .status = 200, .body = J },
    { .name = "a 304 from a hot entry",
      .path = "/simple/x/", .hdr = { { "If-None-Match", "\"hh-t\"" } },
      .answered = 1, .status = 304 },
    { .name = "another path is not",
      .path = "/simple/y/", .answered = 0 },
    { .name = "nothing after an invalidation",
      .path = "/simple/x/", .step = HOT_INVALIDATE, .answered = 0 },
    { .name = "nothing after the entry is removed",
      .path = "/simple/x/", .step = HOT_REMOVE, .answered = 0 },
    { .name = "nothing once the page is stale",
      .path = "/simple/x/", .step = HOT_EXPIRED, .answered = 0 },
    { .name = "a published file is answered",
      .path = "/packages/x", .answered = 1, .status = 200,
      .body = FILE_BYTES },
    { .name = "a file's range from the hot entry",
      .path = "/packages/x", .hdr = { { "Range", "bytes=0-1" } },
      .answered = 1, .status = 206, .body = "01" },
    { .name = "nothing once LMDB moved on",
      .path = "/packages/x", .step = HOT_GEN_MOVED, .answered = 0 },
};

static struct pg_config hot_cfg;        /* hot_table_max_bytes */

static void
hot_rows_answer(void **state)
{
    size_t i;

    (void) state;
    hot_cfg.hot_table_max_bytes = 1u << 20;
    server.cfg = &hot_cfg;
    server.nloops = 2;                  /* hot.c serves serving threads */
    for (i = 0; i < sizeof(hot_rows) / sizeof(hot_rows[0]); i++) {
        const struct hot_row *row = &hot_rows[i];
        struct pg_page_view pv;
        struct pg_file_view fv;
        struct pg_hot *h;
        struct fake f;
        struct pg_req *r;
        int is_file = strncmp(row->path, "/packages/", 10) == 0;

        assert_int_equal(pg_hot_new(&server, &h), 0);
        if (is_file) {
            file_view(&fv);
            if (row->step == HOT_GEN_MOVED) {
                fv.cache_gen++;
            }
            pg_hot_publish_file(h, "/packages/x", &fv);
            evbuffer_file_segment_free(fv.seg);
        } else {
            page_view(&pv, 0);
            if (row->step == HOT_EXPIRED) {
                pv.fresh_until = time(NULL) - 1;
            }
            pg_hot_publish_page(h, "/simple/x/", &pv);
        }
        if (row->step == HOT_INVALIDATE) {
            pg_hot_invalidate(h);
        } else if (row->step == HOT_REMOVE) {
            pg_hot_remove(h, "/simple/x/");
        }
        memset(&f, 0, sizeof(f));
        memcpy(f.in, row->hdr, sizeof(f.in));
        r = fake_req(&f, "GET", row->path);
        if (pg_hot_serve(h, r) != row->answered) {
            fail_msg("%s: answered is %d", row->name, !row->answered);
        }
        if (!row->answered) {
            assert_false(f.replied);
            pg_req_finish(r);           /* the main loop's, then */
        } else {
            assert_int_equal(f.code, row->status);
            check_body(&f, row->name, row->body);
            assert_string_equal(f.cache, "hit");
        }
        pg_hot_free(h);
        if (!is_file) {
            pg_page_view_unref(&pv);
        }
    }
    server.nloops = 0;
    server.cfg = NULL;
}

/* ---- client tokens (auth.c) ----------------------------------------------- */

static char *
b64(const char *s, char *out, size_t len)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), i, o = 0;

    for (i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)s[i] << 16;

        v |= i + 1 < n ? (unsigned char)s[i + 1] << 8 : 0;
        v |= i + 2 < n ? (unsigned char)s[i + 2] : 0;
        assert_true(o + 5 < len);
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        out[o++] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? a[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* One request per row against a table of three tokens (live, expired,
 * revoked), in order: the answer, its reason phrase (prefix) and the
 * name the access line shows. */
static void
auth_rows_answer(void **state)
{
    static struct pg_config acfg;
    struct pg_auth_token t[3];
    struct pg_auth *a = NULL;
    char tok[3][PG_AUTH_TOKEN_HEX + 1], stored[PG_AUTH_MAX_STORED];
    char msg[256], hdr[64][512], up[512];
    const char *user[3] = { "alice", "bob", "carol" };
    struct {
        const char *name, *path;
        int kind;               /* 0 none, 1 Basic user:tok[k], 2 Bearer
                                   tok[k], 3 raw text, 4 Basic user:x */
        int k;
        const char *raw;
        int status;
        const char *phrase, *who;
    } rows[] = {
        { "health is open", "/healthz", 0, 0, NULL, 0, NULL, "" },
        { "ready is open", "/readyz", 0, 0, NULL, 0, NULL, "" },
        { "nothing", "/simple/", 0, 0, NULL, 401, "credentials required",
          "" },
        { "basic name:token", "/simple/", 1, 0, NULL, 0, NULL, "alice" },
        { "bearer token", "/simple/x/", 2, 0, NULL, 0, NULL, "alice" },
        { "__token__:token", "/packages/a", 3, 0, "__token__", 0, NULL,
          "alice" },
        { "expired", "/simple/", 1, 1, NULL, 401, "token expired", "bob" },
        { "revoked", "/simple/", 2, 2, NULL, 401, "token revoked",
          "carol" },
        { "another name's token", "/simple/", 4, 0, NULL, 401,
          "bad credentials", "bob" },
        { "unknown scheme", "/simple/", 3, 0, "Digest abc", 401,
          "bad credentials", "" },
        { "not base64", "/simple/", 3, 0, "Basic !!!!", 401,
          "bad credentials", "" },
        { "blocked now, even the right token", "/simple/", 1, 0, NULL,
          429, "too many failed", "" },
        { "health still open", "/healthz", 0, 0, NULL, 0, NULL, "" },
    };
    size_t i;

    (void) state;
    memset(&acfg, 0, sizeof(acfg));
    acfg.auth = PG_AUTH_TOKEN;
    acfg.auth_max_failures = 5;
    memset(t, 0, sizeof(t));
    for (i = 0; i < 3; i++) {
        assert_int_equal(pg_auth_new_secret(tok[i], stored), 0);
        snprintf(t[i].e.name, sizeof(t[i].e.name), "%s", user[i]);
        assert_null(pg_auth_parse_stored(stored, t[i].e.salt, t[i].e.hash));
        memcpy(t[i].id, tok[i], PG_AUTH_ID_HEX);
    }
    t[1].expires = 1;                   /* long ago */
    t[2].revoked = 2;
    assert_int_equal(pg_auth_new(&acfg, &a, msg, sizeof(msg)), 0);
    assert_int_equal(pg_auth_set_tokens(a, t, 3), 0);
    server.cfg = &acfg;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct fake f;
        struct pg_req *r;
        int refused;

        memset(&f, 0, sizeof(f));
        switch (rows[i].kind) {
        case 1:
        case 4:
            snprintf(up, sizeof(up), "%s:%s", rows[i].kind == 4 ? "bob"
                : user[rows[i].k], tok[rows[i].k]);
            snprintf(hdr[i], sizeof(hdr[i]), "Basic %s",
                b64(up, msg, sizeof(msg)));
            break;
        case 2:
            snprintf(hdr[i], sizeof(hdr[i]), "Bearer %s", tok[rows[i].k]);
            break;
        case 3:
            if (strcmp(rows[i].raw, "__token__") == 0) {
                snprintf(up, sizeof(up), "__token__:%s", tok[0]);
                snprintf(hdr[i], sizeof(hdr[i]), "Basic %s",
                    b64(up, msg, sizeof(msg)));
            } else {
                snprintf(hdr[i], sizeof(hdr[i]), "%s", rows[i].raw);
            }
            break;
        default:
            hdr[i][0] = '\0';
        }
        if (hdr[i][0] != '\0') {
            f.in[0][0] = "Authorization";
            f.in[0][1] = hdr[i];
        }
        r = fake_req(&f, "GET", rows[i].path);
        snprintf(r->client, sizeof(r->client), "192.0.2.7");
        refused = pg_auth_admit(a, r, rows[i].path);
        if (rows[i].status == 0) {
            assert_int_equal(refused, 0);
            if (strcmp(r->user, rows[i].who) != 0) {
                fail_msg("%s: user '%s', expected '%s'", rows[i].name,
                    r->user, rows[i].who);
            }
            pg_req_finish(r);
            continue;
        }
        if (!refused || f.code != rows[i].status
            || strncmp(f.phrase, rows[i].phrase, strlen(rows[i].phrase))
            != 0)
        {
            fail_msg("%s: %d %d '%s'", rows[i].name, refused, f.code,
                f.phrase);
        }
        if (rows[i].status == 401) {
            assert_string_equal(out_header(&f, "WWW-Authenticate"),
                "Basic realm=\"provgate\", charset=\"UTF-8\"");
        } else {
            assert_non_null(out_header(&f, "Retry-After"));
        }
        assert_string_equal(out_header(&f, "Content-Type"),
            "application/problem+json");
        assert_null(strstr(f.body, tok[0]));
    }
    /* Another address is not blocked. */
    {
        struct fake f;
        struct pg_req *r;

        memset(&f, 0, sizeof(f));
        snprintf(hdr[0], sizeof(hdr[0]), "Bearer %s", tok[0]);
        f.in[0][0] = "Authorization";
        f.in[0][1] = hdr[0];
        r = fake_req(&f, "GET", "/simple/");
        snprintf(r->client, sizeof(r->client), "192.0.2.8");
        assert_int_equal(pg_auth_admit(a, r, "/simple/"), 0);
        assert_string_equal(r->user, "alice");
        pg_req_finish(r);
    }
    server.cfg = NULL;
    pg_auth_free(a);
}

/* "Authorization: Basic" values: what is read, what is refused. */
static void
auth_basic_rows(void **state)
{
    struct {
        const char *in;
        int ok;
        const char *user, *pass;
    } rows[] = {
        { "Basic YWxpY2U6c2VjcmV0", 1, "alice", "secret" },
        { "basic YWxpY2U6c2VjcmV0", 1, "alice", "secret" },
        { "Basic YWxpY2U6", 1, "alice", "" },           /* "alice:" */
        { "Basic OnNlY3JldA==", 1, "", "secret" },       /* ":secret" */
        { "Basic YTpiOmM=", 1, "a", "b:c" },            /* first ':' */
        { "Basic YWxpY2U=", 0, NULL, NULL },            /* no ':' */
        { "Basic YWxp!2U6", 0, NULL, NULL },
        { "Basic YWxpY2U6c2VjcmV", 0, NULL, NULL },     /* not a multiple
                                                           of 4 */
        { "Basic ", 0, NULL, NULL },
        { "Bearer YWxpY2U6c2VjcmV0", 0, NULL, NULL },
        { "Basic YQBiOmM=", 0, NULL, NULL },            /* "a\0b:c" */
    };
    char user[16], pass[16], big[800];
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int rc = pg_auth_basic(rows[i].in, user, sizeof(user), pass,
            sizeof(pass));

        if ((rc == 0) != rows[i].ok) {
            fail_msg("row %zu (%s): %d", i, rows[i].in, rc);
        }
        if (rows[i].ok) {
            assert_string_equal(user, rows[i].user);
            assert_string_equal(pass, rows[i].pass);
        }
    }
    /* A password longer than the caller's buffer is refused, not cut. */
    assert_int_not_equal(pg_auth_basic("Basic YWxpY2U6MDEyMzQ1Njc4OWFiY2Rl"
        "Zg==", user, sizeof(user), pass, sizeof(pass)), 0);
    /* Over the decoder's bound. */
    memcpy(big, "Basic ", 6);
    memset(big + 6, 'Q', sizeof(big) - 7);
    big[sizeof(big) - 1] = '\0';
    assert_int_not_equal(pg_auth_basic(big, user, sizeof(user), pass,
        sizeof(pass)), 0);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(view_page_rows),
        cmocka_unit_test(view_list_is_list_route),
        cmocka_unit_test(view_file_rows),
        cmocka_unit_test(problem_rows_answer),
        cmocka_unit_test(refusal_table_rows),
        cmocka_unit_test(problem_reason_is_bounded),
        cmocka_unit_test(gone_and_abort),
        cmocka_unit_test(hot_rows_answer),
        cmocka_unit_test(auth_rows_answer),
        cmocka_unit_test(auth_basic_rows),
        cmocka_unit_test(stream_rows_answer),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, cache_setup, cache_teardown);
}
