/* proxy/http/views.c — answering from a ready view.
 *
 * A view is what answering a cached page or file needs, by reference:
 * a page's four rendered bodies (JSON, HTML, each plain and gzip) with
 * their validators, or a cached blob's segment with its sha256 and upload
 * time.  The routes (pages.c, files.c) build views on the main loop and
 * answer from them; the hot table (hot.c) keeps published views and
 * answers from them on any loop.  Both call down into here, so every loop
 * answers alike: negotiation, ETag and Last-Modified, 304, one byte range
 * (If-Range), HEAD, gzip.  The refusals here (406, 416) are
 * problem+json bodies like every other (req.c).
 *
 * Owns: nothing (bodies are reference counted; a reply holds its own
 * reference).  Runs on: any loop.  Spec: RFC 9110 §8.8, §13, §14; PEP 691.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "index_int.h"
#include "server_int.h"

/* ---- page bodies -------------------------------------------------------- */

void
pg_body_unref(struct pg_body *b)
{
    if (b != NULL && atomic_fetch_sub(&b->refs, 1) == 1) {
        if (b->seg != NULL) {
            /* replies still sending it hold their own references */
            evbuffer_file_segment_free(b->seg);
        }
        free(b);
    }
}

void
pg_body_on_done(const void *data, size_t len, void *arg)
{
    (void) data;
    (void) len;
    pg_body_unref(arg);
}

/* ---- ranges and validators ---------------------------------------------- */

/* Parses one "bytes=" range against size.  0: [*a, *b]; 1: unsatisfiable;
 * -1: ignore the header (malformed, or several ranges: serve it all). */
int
pg_http_parse_range(const char *h, uint64_t size, uint64_t *a, uint64_t *b)
{
    const char *p;
    char *end;
    unsigned long long x, y;

    if (strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL) {
        return -1;
    }
    p = h + 6;
    while (*p == ' ') {
        p++;
    }
    if (*p == '-') {
        if (p[1] < '0' || p[1] > '9') {
            return -1;
        }
        errno = 0;
        y = strtoull(p + 1, &end, 10);
        if (errno != 0 || *end != '\0') {
            return -1;
        }
        if (y == 0 || size == 0) {
            return 1;
        }
        *a = y >= size ? 0 : size - y;
        *b = size - 1;
        return 0;
    }
    if (*p < '0' || *p > '9') {
        return -1;
    }
    errno = 0;
    x = strtoull(p, &end, 10);
    if (errno != 0 || *end != '-') {
        return -1;
    }
    p = end + 1;
    if (*p == '\0') {
        y = size > 0 ? size - 1 : 0;
    } else {
        if (*p < '0' || *p > '9') {
            return -1;
        }
        y = strtoull(p, &end, 10);
        if (errno != 0 || *end != '\0' || y < x) {
            return -1;
        }
    }
    if (x >= size) {
        return 1;
    }
    if (y >= size) {
        y = size - 1;
    }
    *a = x;
    *b = y;
    return 0;
}

int
pg_http_if_range_ok(const char *ir, const char *etag, const char *lm)
{
    if (ir == NULL) {
        return 1;
    }
    if (ir[0] == '"') {
        return strcmp(ir, etag) == 0;
    }
    if (strncmp(ir, "W/", 2) == 0) {
        return 0;
    }
    return lm[0] != '\0' && pg_http_date_parse(ir) != (time_t)-1
        && pg_http_date_parse(ir) == pg_http_date_parse(lm);
}

/* ---- pages -------------------------------------------------------------- */

void
pg_page_view_ref(struct pg_page_view *v)
{
    int i;

    for (i = 0; i < PG_VIEW_BODIES; i++) {
        if (v->body[i] != NULL) {
            atomic_fetch_add(&v->body[i]->refs, 1);
        }
    }
}

void
pg_page_view_unref(struct pg_page_view *v)
{
    int i;

    for (i = 0; i < PG_VIEW_BODIES; i++) {
        pg_body_unref(v->body[i]);
        v->body[i] = NULL;
    }
}

size_t
pg_body_bytes(const struct pg_body *b)
{
    if (b == NULL) {
        return 0;
    }
    return sizeof(*b) + (b->on_disk ? 0 : b->len);
}

size_t
pg_page_view_bytes(const struct pg_page_view *v)
{
    size_t b = 0;
    int i;

    for (i = 0; i < PG_VIEW_BODIES; i++) {
        b += pg_body_bytes(v->body[i]);
    }
    return b;
}

/* Answers r from a page's rendered state: negotiation, validators, 304,
 * gzip, HEAD.  Runs on any loop (the hot table calls it on serving
 * loops); touches only r and the view (bodies by reference count). */
void
pg_view_serve_page(struct pg_req *r, const struct pg_page_view *v)
{
    const char *q;
    const char *fparam = NULL, *inm, *ims;
    time_t ims_t = (time_t)-1;
    struct evkeyvalq params;
    enum pg_index_format fmt;
    struct pg_body *b;
    struct evbuffer *out;
    int gz, k;
    char etag[48], cc[64], cr[96];
    int64_t remaining;
    const char *suffix, *range;
    uint64_t a = 0, z = 0;
    size_t len;
    int pr = -1, code = 200;

    if (!pg_req_live(r)) {
        pg_req_finish(r);
        return;
    }
    r->route = v->is_list ? "list" : "project";
    q = pg_req_query(r);
    TAILQ_INIT(&params);
    if (q != NULL && evhttp_parse_query_str(q, &params) == 0) {
        fparam = evhttp_find_header(&params, "format");
    }
    fmt = pg_index_negotiate(pg_req_header(r, "Accept"), fparam);
    if (fmt == PG_FMT_NONE) {
        evhttp_clear_headers(&params);
        pg_req_refuse(r, PG_REFUSE_NOT_ACCEPTABLE, "no acceptable index "
            "format: provgate serves application/vnd.pypi.simple.v1+json, "
            "application/vnd.pypi.simple.v1+html and text/html");
        return;
    }
    evhttp_clear_headers(&params);
    gz = pg_index_accepts_gzip(pg_req_header(r, "Accept-Encoding"));
    k = fmt == PG_FMT_JSON ? 0 : 1;
    b = v->body[2 * k + (gz ? 1 : 0)];
    suffix = fmt == PG_FMT_JSON ? "j" : fmt == PG_FMT_HTML_V1 ? "h" : "t";
    snprintf(etag, sizeof(etag), "\"%s-%s%s\"", v->hash[k], suffix,
        gz ? "z" : "");
    remaining = v->ttl - (int64_t)(time(NULL) - v->fetched_at);
    if (remaining < 0) {
        remaining = 0;
    }
    snprintf(cc, sizeof(cc), "max-age=%lld", (long long)remaining);
    pg_req_set_header(r, "Content-Type", pg_index_content_type(fmt));
    pg_req_set_header(r, "Vary", "Accept, Accept-Encoding");
    pg_req_set_header(r, "ETag", etag);
    pg_req_set_header(r, "Cache-Control", cc);
    if (v->lm[0] != '\0') {
        pg_req_set_header(r, "Last-Modified", v->lm);
    }
    inm = pg_req_header(r, "If-None-Match");
    ims = pg_req_header(r, "If-Modified-Since");
    if (inm == NULL && ims != NULL) {
        ims_t = pg_http_date_parse(ims);
    }
    if ((inm != NULL && pg_etag_match_list(inm, etag))
        || (ims_t != (time_t)-1 && ims_t >= v->changed_at))
    {
        pg_req_send(r, 304, "Not Modified", NULL);
        return;
    }
    if (gz) {
        pg_req_set_header(r, "Content-Encoding", "gzip");
    }
    /* One range of the representation (of the gzip bytes when gzip), as
     * for a file: a big page in a file is served like a blob. */
    pg_req_set_header(r, "Accept-Ranges", "bytes");
    range = pg_req_header(r, "Range");
    if (range != NULL && pg_http_if_range_ok(pg_req_header(r, "If-Range"),
            etag, v->lm))
    {
        pr = pg_http_parse_range(range, b->len, &a, &z);
    }
    if (pr == 1) {
        snprintf(cr, sizeof(cr), "bytes */%zu", b->len);
        pg_req_set_header(r, "Content-Range", cr);
        pg_req_refuse(r, PG_REFUSE_RANGE, "range %.60s not "
            "satisfiable for this page (%zu bytes)", range, b->len);
        return;
    }
    if (pr == 0) {
        code = 206;
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%zu",
            (unsigned long long)a, (unsigned long long)z, b->len);
        pg_req_set_header(r, "Content-Range", cr);
    } else {
        a = 0;
        z = b->len > 0 ? b->len - 1 : 0;
    }
    len = b->len > 0 ? (size_t)(z - a + 1) : 0;
    out = evbuffer_new();
    if (out == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    if (r->is_head) {
        char cl[32];

        snprintf(cl, sizeof(cl), "%zu", len);
        pg_req_set_header(r, "Content-Length", cl);
    } else if (b->seg != NULL) {
        /* Over TLS the bufferevent reads the bytes itself: libevent then
         * maps the memory file instead of using sendfile. */
        if (pg_req_sendfile_ok(r)) {
            evbuffer_set_flags(out, EVBUFFER_FLAG_DRAINS_TO_FD);
        }
        r->body_fd = b->fd;     /* a serving thread sends it itself */
        r->body_off = a;
        if (evbuffer_add_file_segment(out, b->seg, (ev_off_t)a,
                (ev_off_t)len) != 0)
        {
            evbuffer_free(out);
            pg_req_refuse(r, PG_REFUSE_UNAVAILABLE, "cannot send the page");
            return;
        }
    } else {
        atomic_fetch_add(&b->refs, 1);
        if (evbuffer_add_reference(out, b->data + a, len, pg_body_on_done, b)
            != 0)
        {
            atomic_fetch_sub(&b->refs, 1);
        }
    }
    pg_req_send(r, code, code == 206 ? "Partial Content" : "OK", out);
}

/* ---- files -------------------------------------------------------------- */

const char *
pg_view_file_kind(const struct pg_file_view *v)
{
    return v->is_meta ? "metadata" : "file";
}

void
pg_view_file_headers(struct pg_req *r, const struct pg_file_view *v)
{
    char etag[80];

    snprintf(etag, sizeof(etag), "\"%s\"", v->sha);
    pg_req_set_header(r, "Content-Type", "application/octet-stream");
    pg_req_set_header(r, "ETag", etag);
    pg_req_set_header(r, "Cache-Control", "max-age=365000000, immutable");
    pg_req_set_header(r, "Accept-Ranges", "bytes");
    if (v->lm[0] != '\0') {
        pg_req_set_header(r, "Last-Modified", v->lm);
    }
}

/* If-None-Match (our ETag), else If-Modified-Since (the upload time): the
 * file is named by its content, so a client holding this ETag holds it. */
int
pg_view_file_not_modified(struct pg_req *r, const struct pg_file_view *v)
{
    const char *inm = pg_req_header(r, "If-None-Match");
    const char *ims = pg_req_header(r, "If-Modified-Since");
    char etag[80];
    time_t t;

    if (inm != NULL) {
        snprintf(etag, sizeof(etag), "\"%s\"", v->sha);
        return pg_etag_match_list(inm, etag);
    }
    if (ims == NULL) {
        return 0;
    }
    t = pg_http_date_parse(ims);
    return v->lm_time != (time_t)-1 && t != (time_t)-1 && t >= v->lm_time;
}

void
pg_view_file_send(struct pg_req *r, const struct pg_file_view *v,
    struct evbuffer_file_segment *seg, int fd, uint64_t size)
{
    struct evbuffer *out;
    char etag[80], cl[32], cr[96];
    const char *range = pg_req_header(r, "Range");
    uint64_t a = 0, b = size > 0 ? size - 1 : 0, len = size;
    int code = 200, pr = -1;

    pg_view_file_headers(r, v);
    snprintf(etag, sizeof(etag), "\"%s\"", v->sha);
    if (range != NULL && pg_http_if_range_ok(pg_req_header(r, "If-Range"),
            etag, v->lm))
    {
        pr = pg_http_parse_range(range, size, &a, &b);
    }
    if (pr == 1) {
        snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
        pg_req_set_header(r, "Content-Range", cr);
        pg_req_refuse(r, PG_REFUSE_RANGE,
            "range %.60s not satisfiable for %.100s (%llu bytes)", range,
            v->filename, (unsigned long long)size);
        return;
    }
    if (pr == 0) {
        code = 206;
        len = b - a + 1;
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu",
            (unsigned long long)a, (unsigned long long)b,
            (unsigned long long)size);
        pg_req_set_header(r, "Content-Range", cr);
    } else {
        a = 0;
    }
    snprintf(cl, sizeof(cl), "%llu", (unsigned long long)len);
    pg_req_set_header(r, "Content-Length", cl);
    out = evbuffer_new();
    if (out == NULL) {
        pg_req_refuse(r, PG_REFUSE_NOMEM, "out of memory");
        return;
    }
    if (!r->is_head && len > 0 && !r->client_gone) {
        /* A buffer that only drains to the socket may hold a sendfile
         * segment (else libevent mmaps the file); not over TLS, whose
         * bufferevent reads the bytes itself. */
        if (pg_req_sendfile_ok(r) && len >= PG_SENDFILE_MIN) {
            evbuffer_set_flags(out, EVBUFFER_FLAG_DRAINS_TO_FD);
        }
        if (evbuffer_add_file_segment(out, seg, (ev_off_t)a,
                (ev_off_t)len) != 0)
        {
            evbuffer_free(out);
            pg_req_refuse(r, PG_REFUSE_UNAVAILABLE, "cannot read the blob");
            return;
        }
        r->body_fd = fd;        /* a serving thread sends it itself */
        r->body_off = a;
    }
    pg_req_send(r, code, code == 206 ? "Partial Content" : "OK", out);
}

void
pg_view_serve_file(struct pg_req *r, const struct pg_file_view *v)
{
    r->route = "file";
    if (v->page_hit) {
        r->cache = "hit";
        pg_stats_cache_event(r->s, "page", "hit");
    }
    if (pg_view_file_not_modified(r, v)) {
        pg_view_file_headers(r, v);
        pg_req_send(r, 304, "Not Modified", NULL);
        return;
    }
    r->cache = "hit";
    pg_stats_cache_event(r->s, pg_view_file_kind(v), "hit");
    pg_view_file_send(r, v, v->seg, v->fd, v->size);
}
