/* proxy/http/framing.c — strict HTTP/1.1 framing (RFC 9112) for a server of
 * GET and HEAD.
 *
 * Request smuggling lives in the gaps between two parsers' ideas of where
 * a request ends: two Content-Length values, Content-Length beside
 * Transfer-Encoding, "Transfer-Encoding :" read as a header by one parser
 * and ignored by the next.  provgate serves GET and HEAD only, so it needs
 * no request body at all: any request that carries one, announces one
 * (Transfer-Encoding, a non-zero or repeated Content-Length), spells a
 * field name with white space or another non-token byte, or names another
 * origin in an absolute-form target is answered 400 and its connection
 * closed, so nothing after it on the connection is ever read as a request.
 * (A single "Content-Length: 0" announces nothing and is let through.)
 *
 * Both front ends must answer alike (tests: server.loops_single_loop_
 * alike).  They differ in what their parsers already refuse:
 *  - h2o (serving threads) rejects bad field names and more than
 *    H2O_MAX_HEADERS (100) fields itself with a fixed "400 Bad Request"
 *    and an unknown transfer coding with "400 Invalid Request"; it keeps
 *    Content-Length and Transfer-Encoding out of the request's header
 *    list and only reads the body they announce.  So front.c checks only
 *    requests h2o read a body for (req->entity set), by scanning the raw
 *    head (pg_framing_scan), which h2o keeps in the socket's input buffer
 *    until the answer was sent: the cached-hit path pays nothing.
 *  - evhttp (serve_loops = 1) accepts all of those; server.c hands its
 *    parsed header list to pg_framing_add (a walk over a few fields), and
 *    pg_framing_answer answers what h2o would have answered itself with
 *    h2o's exact words, and the rest as the threads do.
 *  - evhttp refuses Transfer-Encoding beside Content-Length itself (its
 *    HTML 400); the threads answer that with evhttp's words.
 *
 * Owns: nothing.  Borrows: the request.  Runs on: any loop.
 * Spec: issue 10 item 5; RFC 9112 §2.2, §3.2, §5.1, §6.1-6.3.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "config_int.h"
#include "framing_int.h"
#include "server_int.h"

/* RFC 9110 §5.6.2 tchar, as picohttpparser (h2o) checks field names. */
static int
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
        || (c >= 'A' && c <= 'Z'))
    {
        return 1;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
name_is(const char *name, size_t nlen, const char *want)
{
    return nlen == strlen(want) && strncasecmp(name, want, nlen) == 0;
}

void
pg_framing_add(struct pg_framing *f, const char *name, size_t nlen,
    const char *value, size_t vlen)
{
    size_t i;

    f->nfields++;
    f->bytes += nlen + 2;
    if (nlen == 0) {
        f->bad_name = 1;
    }
    for (i = 0; i < nlen; i++) {
        if (!is_tchar((unsigned char)name[i])) {
            f->bad_name = 1;
        }
    }
    while (vlen > 0 && (value[0] == ' ' || value[0] == '\t')) {
        value++;
        vlen--;
    }
    while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
    {
        vlen--;
    }
    f->bytes += vlen;
    if (name_is(name, nlen, "transfer-encoding")) {
        f->te++;
        f->te_chunked = vlen == 7 && strncasecmp(value, "chunked", 7) == 0;
    } else if (name_is(name, nlen, "content-length")) {
        f->cl++;
        if (vlen != 1 || value[0] != '0') {
            f->cl_nonzero = 1;
        }
    }
}

void
pg_framing_scan(struct pg_framing *f, const char *head, size_t len)
{
    const char *p = head, *end = head + len, *eol, *colon;
    size_t n;
    int first = 1;

    while (p < end) {
        eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL) {
            return;                     /* h2o parsed it: cannot happen */
        }
        n = (size_t)(eol - p);
        if (n > 0 && p[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            return;                     /* the end of the head */
        }
        if (!first) {
            colon = memchr(p, ':', n);
            if (colon != NULL) {
                pg_framing_add(f, p, (size_t)(colon - p), colon + 1,
                    n - (size_t)(colon - p) - 1);
            }
        }
        first = 0;
        p = eol + 1;
    }
}

enum pg_framing_verdict
pg_framing_judge(const struct pg_framing *f, const char **why)
{
    *why = NULL;
    if (f->bad_name || f->nfields > PG_MAX_HEADER_FIELDS) {
        return PG_FRAMING_UNPARSABLE;
    }
    if (f->te > 0 && !f->te_chunked) {
        return PG_FRAMING_TE_UNKNOWN;
    }
    if (f->te > 0 && f->cl > 0) {
        return PG_FRAMING_TE_AND_CL;
    }
    if (f->te > 0) {
        *why = "Transfer-Encoding not accepted: provgate takes no request "
            "body";
        return PG_FRAMING_REFUSED;
    }
    if (f->cl > 1) {
        *why = "more than one Content-Length";
        return PG_FRAMING_REFUSED;
    }
    if (f->cl_nonzero || f->body) {
        *why = "request body not accepted: provgate serves GET and HEAD";
        return PG_FRAMING_REFUSED;
    }
    return PG_FRAMING_OK;
}

/* What a parser answers itself, word for word: h2o's (lib/http1.c
 * send_bad_request, h2o_send_error_400) and evhttp's (evhttp_send_error),
 * for what it refuses before provgate sees the request. */
#define PG_EVHTTP_400 "<HTML><HEAD>\n<TITLE>400 Bad Request</TITLE>\n" \
    "</HEAD><BODY>\n<H1>Bad Request</H1>\n</BODY></HTML>\n"

static void
answer_as_parser(struct pg_req *r, const char *phrase, const char *type,
    const char *text)
{
    struct evbuffer *body = evbuffer_new();

    if (body != NULL) {
        evbuffer_add(body, text, strlen(text));
    }
    snprintf(r->note, sizeof(r->note), "%s", phrase);
    pg_req_set_header(r, "Content-Type", type);
    pg_req_set_header(r, "Connection", "close");
    pg_req_send(r, 400, phrase, body);
}

void
pg_framing_answer(struct pg_req *r, enum pg_framing_verdict v,
    const char *why)
{
    if (r->path == NULL) {
        r->path = pg_req_strdup(r, "-");
    }
    r->route = "refused";
    switch (v) {
    case PG_FRAMING_OK:
        return;
    case PG_FRAMING_UNPARSABLE:
        answer_as_parser(r, "Bad Request", "text/plain; charset=utf-8",
            "Bad Request");
        return;
    case PG_FRAMING_TE_UNKNOWN:
        answer_as_parser(r, "Invalid Request", "text/plain; charset=utf-8",
            "unknown transfer-encoding");
        return;
    case PG_FRAMING_TE_AND_CL:
        answer_as_parser(r, "Bad Request", "text/html", PG_EVHTTP_400);
        return;
    case PG_FRAMING_REFUSED:
        pg_req_set_header(r, "Connection", "close");
        pg_req_refuse(r, PG_REFUSE_BAD_REQUEST, "%s", why);
        return;
    }
}

/* The origin provgate is reached at: public_url's scheme and authority,
 * or (public_url empty) the request's own Host. */
static int
own_origin(struct pg_req *r, const char *scheme, size_t slen,
    const char *auth, size_t alen)
{
    const char *pub = r->s->cfg->public_url, *host, *p, *our_scheme;
    size_t n;

    if (pub != NULL && pub[0] != '\0') {
        p = strstr(pub, "://");
        if (p == NULL) {
            return 0;
        }
        n = strcspn(p + 3, "/?#");
        return (size_t)(p - pub) == slen && strncasecmp(pub, scheme, slen)
            == 0 && n == alen && strncasecmp(p + 3, auth, alen) == 0;
    }
    our_scheme = r->s->tls != NULL ? "https" : "http";
    host = pg_req_header(r, "Host");
    return host != NULL && slen == strlen(our_scheme)
        && strncasecmp(scheme, our_scheme, slen) == 0
        && strlen(host) == alen && strncasecmp(host, auth, alen) == 0;
}

enum pg_target_form
pg_framing_target(struct pg_req *r, const char *target, size_t len,
    size_t *path_at)
{
    const char *sep, *auth;
    size_t slen, alen;

    *path_at = 0;
    if (len > 0 && target[0] == '/') {
        return PG_TARGET_ORIGIN;
    }
    sep = len > 3 ? memchr(target, ':', len < 8 ? len : 8) : NULL;
    if (sep == NULL || (size_t)(sep - target) + 3 > len
        || memcmp(sep, "://", 3) != 0)
    {
        return PG_TARGET_MALFORMED;     /* authority-form, "*", … */
    }
    slen = (size_t)(sep - target);
    if (!name_is(target, slen, "http") && !name_is(target, slen, "https")) {
        return PG_TARGET_OTHER;
    }
    auth = sep + 3;
    alen = strcspn(auth, "/?#");
    if ((size_t)(auth - target) + alen > len) {
        alen = len - (size_t)(auth - target);
    }
    if (!own_origin(r, target, slen, auth, alen)) {
        return PG_TARGET_OTHER;
    }
    *path_at = (size_t)(auth - target) + alen;
    if (*path_at >= len || target[*path_at] != '/') {
        return PG_TARGET_MALFORMED;
    }
    return PG_TARGET_ORIGIN_ABSOLUTE;
}
