/* tests/proxy/test_upstream.c — the upstream client against a loopback
 * server.
 *
 * The group setup starts tests/proxy/upstream_server.py (Python 3 stdlib,
 * 127.0.0.1, free port) and the teardown kills it.  Every test runs its
 * transfers on a fresh event_base with a safety timer, so a hang fails the
 * test instead of the suite.  argv[1], if given, is a cmocka test filter.
 *
 * Owns: the server process, its event bases.  Runs on: the test process.
 * Spec: issue 2 items 4 and 8; proxy/upstream_int.h.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "config_int.h"
#include "upstream_int.h"

#define SAFETY_MS 15000
#define BODY_MAX (1 << 20)

static pid_t server_pid = -1;
static int server_stdin = -1;
static int port;

struct res {
    struct event_base *base;
    struct pg_upstream *up;
    struct pg_upstream_xfer *x;
    int *pending;
    int headers, done, data_calls;
    int data_before_headers, data_while_paused, data_after_done;
    int paused;
    int pause_at;           /* pause (from on_data) at this call, 0 = no */
    int pause_every;        /* pause (from on_data) at every call */
    int abort_at;           /* return 1 from on_data at this call */
    struct pg_upstream_xfer *cancel_in_data;   /* cancel it in on_data */
    enum pg_upstream_code code;
    char reason[320];
    long status;
    int http_version;
    int64_t content_length;
    char ctype[128], etag[PG_UPSTREAM_MAX_HEADER + 1], lastmod[128];
    char url[512];
    unsigned char *body;
    size_t len;
};

/* ---- the server ---- */

static int
server_start(void **state)
{
    int in[2], out[2];
    char buf[32];
    ssize_t n;
    size_t got = 0;

    if (pipe(in) != 0 || pipe(out) != 0) {
        return -1;
    }
    server_pid = fork();
    if (server_pid < 0) {
        return -1;
    }
    if (server_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(PG_PYTHON, PG_PYTHON, PG_UPSTREAM_SERVER, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    server_stdin = in[1];
    while (got < sizeof(buf) - 1) {
        n = read(out[0], buf + got, 1);
        if (n <= 0 || buf[got] == '\n') {
            break;
        }
        got++;
    }
    buf[got] = '\0';
    close(out[0]);
    port = (int)strtol(buf, NULL, 10);
    if (port <= 0) {
        fprintf(stderr, "test server did not start\n");
        return -1;
    }
    return 0;
}

static int
server_stop(void **state)
{
    if (server_pid > 0) {
        close(server_stdin);
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
    }
    return 0;
}

/* ---- helpers ---- */

static void
make_config(struct pg_config *cfg, const char *hosts)
{
    char msg[256], url[128];

    pg_config_defaults(cfg);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/simple/", port);
    assert_int_equal(pg_config_set(cfg, "upstream", url, msg, sizeof(msg)),
        0);
    assert_int_equal(pg_config_set(cfg, "allow_http", "on", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_set(cfg, "connect_timeout", "2s", msg,
        sizeof(msg)), 0);
    if (hosts != NULL) {
        assert_int_equal(pg_config_set(cfg, "file_hosts", hosts, msg,
            sizeof(msg)), 0);
    }
    assert_int_equal(pg_config_finish(cfg, msg, sizeof(msg)), 0);
}

static void
url_of(char *out, size_t olen, const char *path)
{
    snprintf(out, olen, "http://127.0.0.1:%d%s", port, path);
}

static int
on_headers(void *arg, const struct pg_upstream_resp *r)
{
    struct res *s = arg;

    s->headers++;
    s->status = r->status;
    s->http_version = r->http_version;
    s->content_length = r->content_length;
    snprintf(s->ctype, sizeof(s->ctype), "%s",
        r->content_type ? r->content_type : "(none)");
    snprintf(s->etag, sizeof(s->etag), "%s", r->etag ? r->etag : "(none)");
    snprintf(s->lastmod, sizeof(s->lastmod), "%s",
        r->last_modified ? r->last_modified : "(none)");
    snprintf(s->url, sizeof(s->url), "%s", r->effective_url);
    return 0;
}

static int
on_data(void *arg, const void *buf, size_t len)
{
    struct res *s = arg;

    s->data_calls++;
    if (s->headers == 0) {
        s->data_before_headers++;
    }
    if (s->paused) {
        s->data_while_paused++;
    }
    if (s->done) {
        s->data_after_done++;
    }
    if (s->len + len <= BODY_MAX) {
        memcpy(s->body + s->len, buf, len);
    }
    s->len += len;
    if (s->cancel_in_data != NULL) {
        pg_upstream_cancel(s->cancel_in_data);
        s->cancel_in_data = NULL;
    }
    if (s->pause_at == s->data_calls || s->pause_every) {
        pg_upstream_pause(s->x);
        s->paused = 1;
    }
    return s->abort_at == s->data_calls;
}

static void
on_done(void *arg, enum pg_upstream_code code, const char *reason,
    const struct pg_upstream_resp *r)
{
    struct res *s = arg;

    s->done++;
    s->code = code;
    s->status = r->status;
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
    s->x = NULL;
    if (s->pending != NULL && --*s->pending == 0) {
        event_base_loopbreak(s->base);
    }
}

static void
res_init(struct res *s, struct event_base *base, struct pg_upstream *up,
    int *pending)
{
    memset(s, 0, sizeof(*s));
    s->base = base;
    s->up = up;
    s->pending = pending;
    s->body = malloc(BODY_MAX);
    assert_non_null(s->body);
    s->code = -1;
}

static struct pg_upstream_xfer *
start(struct res *s, const char *path, struct pg_upstream_req *tmpl)
{
    struct pg_upstream_req req;
    enum pg_upstream_code code;
    char url[512];

    memset(&req, 0, sizeof(req));
    if (tmpl != NULL) {
        req = *tmpl;
    }
    if (strncmp(path, "http", 4) == 0) {
        snprintf(url, sizeof(url), "%s", path);
    } else {
        url_of(url, sizeof(url), path);
    }
    req.url = url;
    req.on_headers = on_headers;
    req.on_data = on_data;
    req.on_done = on_done;
    req.arg = s;
    s->x = pg_upstream_start(s->up, &req, &code);
    assert_non_null(s->x);
    assert_int_equal(code, PG_UP_OK);
    return s->x;
}

static void
on_safety(evutil_socket_t fd, short what, void *arg)
{
    int *fired = arg;

    *fired = 1;
}

/* Runs the loop until pending drops to 0 (on_done breaks it) or ms pass. */
static void
run(struct event_base *base, int ms)
{
    struct event *ev;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    int fired = 0;

    ev = evtimer_new(base, on_safety, &fired);
    evtimer_add(ev, &tv);
    while (!fired && event_base_loop(base, EVLOOP_ONCE) == 0) {
        if (event_base_got_break(base)) {
            break;
        }
    }
    event_free(ev);
}

/* One transfer, run to completion. */
static void
fetch(struct pg_config *cfg, struct res *s, const char *path,
    struct pg_upstream_req *tmpl)
{
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    int pending = 1;

    assert_int_equal(pg_upstream_new(base, &cfg->upstreams[0], &up), 0);
    res_init(s, base, up, &pending);
    start(s, path, tmpl);
    run(base, SAFETY_MS);
    pg_upstream_free(up);
    event_base_free(base);
    s->base = NULL;
    s->up = NULL;
}

static int
pattern_ok(const unsigned char *p, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (p[i] != i % 251) {
            return 0;
        }
    }
    return 1;
}

/* "hits=H connections=C" for path, fetched through the client itself. */
static void
server_hits(struct pg_config *cfg, const char *path, int *hits, int *conns)
{
    struct res s;
    char q[256];

    snprintf(q, sizeof(q), "/hits?path=%s", path);
    fetch(cfg, &s, q, NULL);
    assert_int_equal(s.code, PG_UP_OK);
    s.body[s.len < BODY_MAX ? s.len : BODY_MAX - 1] = '\0';
    assert_int_equal(sscanf((char *)s.body, "hits=%d connections=%d", hits,
        conns), 2);
    free(s.body);
}

/* ---- tests ---- */

static void
upstream_streams_many_chunks_in_order(void **state)
{
    struct pg_config cfg;
    struct res s;

    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/chunks?n=300&size=1000", NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.headers, 1);
    assert_int_equal(s.data_before_headers, 0);
    assert_int_equal(s.len, 300000);
    assert_true(pattern_ok(s.body, s.len));
    assert_true(s.data_calls > 1);
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_reports_headers_once_before_the_body(void **state)
{
    struct pg_config cfg;
    struct res s;
    char url[256];

    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/etag", NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.headers, 1);
    assert_int_equal(s.status, 200);
    assert_string_equal(s.ctype, "text/plain");
    assert_string_equal(s.etag, "\"v1\"");
    assert_string_equal(s.lastmod, "Mon, 23 Nov 2026 10:00:00 GMT");
    assert_int_equal(s.content_length, 5);
    assert_int_equal(s.http_version, 1);
    url_of(url, sizeof(url), "/etag");
    assert_string_equal(s.url, url);
    assert_int_equal(s.len, 5);
    assert_memory_equal(s.body, "hello", 5);
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_revalidation_gets_304_without_body(void **state)
{
    struct pg_config cfg;
    struct pg_upstream_req req = { .if_none_match = "\"v1\"" };
    struct res s;

    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/etag", &req);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.status, 304);
    assert_int_equal(s.headers, 1);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.data_calls, 0);
    assert_string_equal(s.etag, "\"v1\"");
    free(s.body);

    req = (struct pg_upstream_req){
        .if_modified_since = "Mon, 23 Nov 2026 10:00:00 GMT" };
    fetch(&cfg, &s, "/etag", &req);
    assert_int_equal(s.status, 304);
    assert_int_equal(s.data_calls, 0);
    free(s.body);

    req = (struct pg_upstream_req){ .if_none_match = "\"old\"" };
    fetch(&cfg, &s, "/etag", &req);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.len, 5);
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_sends_accept_range_and_conditional_headers(void **state)
{
    struct pg_config cfg;
    struct pg_upstream_req req = {
        .accept = "application/vnd.pypi.simple.v1+json, text/html;q=0.1",
        .range = "bytes=10-19", .if_none_match = "\"x\"",
        .if_modified_since = "Sun, 22 Nov 2026 10:00:00 GMT",
    };
    struct res s;

    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/echo", &req);
    assert_int_equal(s.code, PG_UP_OK);
    s.body[s.len] = '\0';
    assert_string_equal((char *)s.body,
        "Accept=application/vnd.pypi.simple.v1+json, text/html;q=0.1\n"
        "Range=bytes=10-19\nIf-None-Match=\"x\"\n"
        "If-Modified-Since=Sun, 22 Nov 2026 10:00:00 GMT\n"
        "Accept-Encoding=-\n");
    free(s.body);

    /* a header value with CR/LF is refused before anything is sent */
    {
        struct event_base *base = event_base_new();
        struct pg_upstream *up;
        enum pg_upstream_code code;
        struct pg_upstream_req bad = { .accept = "a\r\nX-Evil: 1" };
        char url[256];

        url_of(url, sizeof(url), "/echo");
        bad.url = url;
        assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
        assert_null(pg_upstream_start(up, &bad, &code));
        assert_int_not_equal(code, PG_UP_OK);
        pg_upstream_free(up);
        event_base_free(base);
    }
    pg_config_free(&cfg);
}

static void
upstream_compressed_request_is_decoded(void **state)
{
    struct pg_config cfg;
    struct pg_upstream_req req = { .compressed = 1 };
    struct res s;

    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/echo", &req);
    assert_int_equal(s.code, PG_UP_OK);
    s.body[s.len] = '\0';
    assert_non_null(strstr((char *)s.body, "Accept-Encoding=")
        );
    assert_null(strstr((char *)s.body, "Accept-Encoding=-"));
    assert_non_null(strstr((char *)s.body, "gzip"));
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_idle_timeout_aborts_a_silent_transfer(void **state)
{
    struct pg_config cfg;
    struct pg_upstream_req req = { .idle_timeout_ms = 300 };
    struct res s;

    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/slow", &req);
    assert_int_equal(s.code, PG_UP_ETIMEOUT);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.len, 10);
    assert_non_null(strstr(s.reason, "no data from"));
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_whole_timeout_aborts_a_long_transfer(void **state)
{
    struct pg_config cfg;
    struct pg_upstream_req req = { .timeout_ms = 300 };
    struct res s;

    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/slow", &req);
    assert_int_equal(s.code, PG_UP_ETIMEOUT);
    assert_int_equal(s.done, 1);
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_connection_refused_is_reported(void **state)
{
    struct pg_config cfg;
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    struct res s;
    char url[128], hosts[64];
    int fd;

    /* a port that was free a moment ago: bind, learn it, close */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x",
        ntohs(sin.sin_port));

    /* that origin must be allowed, or nothing would be tried */
    snprintf(hosts, sizeof(hosts), "127.0.0.1:%d", ntohs(sin.sin_port));
    make_config(&cfg, hosts);
    fetch(&cfg, &s, url, NULL);
    assert_int_equal(s.code, PG_UP_ECONNECT);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.headers, 0);
    assert_non_null(strstr(s.reason, "127.0.0.1"));
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_body_cap_at_limit_and_limit_plus_one(void **state)
{
    struct pg_config cfg;
    struct pg_upstream_req req = { .max_body = 1000 };
    struct res s;

    make_config(&cfg, NULL);
    /* with Content-Length: refused at the headers, before any byte */
    fetch(&cfg, &s, "/big?size=1000", &req);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.len, 1000);
    free(s.body);
    fetch(&cfg, &s, "/big?size=1001", &req);
    assert_int_equal(s.code, PG_UP_ETOOBIG);
    assert_int_equal(s.headers, 0);
    assert_int_equal(s.len, 0);
    free(s.body);
    /* without: stopped while streaming, never more than the cap */
    fetch(&cfg, &s, "/nolength?size=1000", &req);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.len, 1000);
    free(s.body);
    fetch(&cfg, &s, "/nolength?size=1001", &req);
    assert_int_equal(s.code, PG_UP_ETOOBIG);
    assert_true(s.len <= 1000);
    assert_non_null(strstr(s.reason, "body over 1000 bytes"));
    free(s.body);
    req.max_body = 8192;
    fetch(&cfg, &s, "/nolength?size=100000", &req);
    assert_int_equal(s.code, PG_UP_ETOOBIG);
    assert_true(s.len <= 8192);
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_redirect_to_allowed_host_is_followed(void **state)
{
    struct pg_config cfg;
    struct res s;
    char path[256], target[128], hosts[64];

    snprintf(hosts, sizeof(hosts), "localhost:%d", port);
    make_config(&cfg, hosts);
    snprintf(target, sizeof(target), "http://localhost:%d/etag", port);
    snprintf(path, sizeof(path), "/redirect?to=%s&code=301", target);
    fetch(&cfg, &s, path, NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.headers, 1);
    assert_string_equal(s.url, target);
    assert_int_equal(s.len, 5);
    free(s.body);

    /* relative Location, five hops: followed */
    fetch(&cfg, &s, "/hop?n=5", NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.status, 200);
    assert_int_equal(s.len, 5);
    free(s.body);

    /* six hops: refused */
    fetch(&cfg, &s, "/hop?n=6", NULL);
    assert_int_equal(s.code, PG_UP_EPROTO);
    assert_int_equal(s.headers, 0);
    assert_non_null(strstr(s.reason, "more than 5 redirects"));
    free(s.body);
    pg_config_free(&cfg);
}

static void
upstream_redirect_to_disallowed_host_is_refused_without_connecting(
    void **state)
{
    struct pg_config cfg;
    struct res s;
    char path[256];
    int hits, conns;

    make_config(&cfg, "127.0.0.1");
    snprintf(path, sizeof(path),
        "/redirect?to=http://localhost:%d/evil-target", port);
    fetch(&cfg, &s, path, NULL);
    assert_int_equal(s.code, PG_UP_EHOST);
    assert_int_equal(s.headers, 0);
    assert_int_equal(s.data_calls, 0);
    assert_non_null(strstr(s.reason, "origin not allowed"));
    free(s.body);
    server_hits(&cfg, "/evil-target", &hits, &conns);
    assert_int_equal(hits, 0);

    /* a non-HTTP scheme is refused the same way */
    fetch(&cfg, &s, "/redirect?to=ftp://127.0.0.1/x", NULL);
    assert_int_equal(s.code, PG_UP_EHOST);
    free(s.body);
    pg_config_free(&cfg);
}

/* A listening socket on another port of 127.0.0.1; *port_out its port. */
static int
canary_listen(int *port_out)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

    assert_true(fd >= 0);
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &slen), 0);
    *port_out = ntohs(sin.sin_port);
    return fd;
}

/* Number of connections the canary received (accepts them all). */
static int
canary_connections(int fd)
{
    int n = 0, c;

    while ((c = accept(fd, NULL, NULL)) >= 0) {
        close(c);
        n++;
    }
    return n;
}

static void
redirect_to_another_port_of_an_allowed_host_never_connects(void **state)
{
    static const char *const forms[] = {
        "http://127.0.0.1:%d/x",
        "HTTP://127.0.0.1:%d/x",
        "http://2130706433:%d/x",
        "http://0x7f.1:%d/x",
        "//127.0.0.1:%d/x",
        "https://127.0.0.1:%d/x",
    };
    static const int codes[] = { 301, 302, 307 };
    struct pg_config cfg;
    struct res s;
    char to[128], path[256];
    size_t i, k;
    int canary, cport;

    canary = canary_listen(&cport);
    /* the upstream's own origin and 127.0.0.1 (port 80) are allowed */
    make_config(&cfg, "127.0.0.1");
    for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        for (k = 0; k < sizeof(codes) / sizeof(codes[0]); k++) {
            snprintf(to, sizeof(to), forms[i], cport);
            snprintf(path, sizeof(path), "/redirect?to=%s&code=%d", to,
                codes[k]);
            fetch(&cfg, &s, path, NULL);
            if (s.code != PG_UP_EHOST) {
                fail_msg("%s (%d): code %d, want EHOST", to, codes[k],
                    (int)s.code);
            }
            assert_int_equal(s.headers, 0);
            assert_non_null(strstr(s.reason, "origin not allowed"));
            free(s.body);
        }
    }
    assert_int_equal(canary_connections(canary), 0);
    close(canary);
    pg_config_free(&cfg);
}

static void
urls_on_disallowed_hosts_or_schemes_are_never_started(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct pg_upstream_req req = { 0 };
    enum pg_upstream_code code;
    char url[256];
    char msg[256];
    size_t i;
    static const char *const own[] = {
        "http://127.0.0.1:%d/x", "HTTP://127.0.0.1:%d/x",
        "http://2130706433:%d/x", "http://127.1:%d/x",
    };
    /* An origin is exact: scheme, canonical host, effective port. */
    static const struct { const char *url; int allowed; } table[] = {
        { "https://FILES.example/packages/a.whl", 1 },
        { "https://files.example:443/a.whl", 1 },
        { "http://files.example/a.whl", 1 },        /* allow_http: 80 */
        { "https://files.example:8443/a.whl", 0 },
        { "http://files.example:443/a.whl", 0 },
        { "https://127.0.0.1/x", 1 },
        { "http://127.0.0.1/x", 1 },
        { "http://127.0.0.1:80/x", 1 },
        { "http://127.0.0.1:1/x", 0 },               /* another port */
        { "http://2130706433:1/x", 0 },
        { "http://0177.0.0.1:22/x", 0 },
        { "http://localhost/x", 0 },
        { "https://[::1]:8443/x", 1 },
        { "https://[0:0::1]:8443/x", 1 },
        { "https://[::1]/x", 0 },
        { "https://mirror.example:8080/x", 1 },
        { "http://mirror.example:8080/x", 1 },
        { "https://mirror.example/x", 0 },
        { "https://mirror.example:8081/x", 0 },
        { "//127.0.0.1:1/x", 0 },                    /* not absolute */
        { "127.0.0.1:80/x", 0 },
    };

    make_config(&cfg, "127.0.0.1, files.example, [::1]:8443, "
        "mirror.example:8080");
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    snprintf(url, sizeof(url), "http://localhost:%d/etag", port);
    req.url = url;
    assert_null(pg_upstream_start(up, &req, &code));
    assert_int_equal(code, PG_UP_EHOST);
    assert_false(pg_upstream_url_allowed(up, url));
    /* the upstream's own origin, in every spelling of it */
    for (i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
        snprintf(url, sizeof(url), own[i], port);
        if (!pg_upstream_url_allowed(up, url)) {
            fail_msg("%s: refused", url);
        }
    }
    for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (pg_upstream_url_allowed(up, table[i].url) != table[i].allowed) {
            fail_msg("%s: want %s", table[i].url,
                table[i].allowed ? "allowed" : "refused");
        }
    }
    assert_false(pg_upstream_url_allowed(up, "ftp://files.example/x"));
    assert_false(pg_upstream_url_allowed(up, "file:///etc/passwd"));
    assert_false(pg_upstream_url_allowed(up,
        "https://files.example.evil.com/x"));
    assert_false(pg_upstream_url_allowed(up, "not a url"));
    pg_upstream_free(up);
    pg_config_free(&cfg);

    /* without allow_http, http:// is refused even on an allowed host */
    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_set(&cfg, "file_hosts", "127.0.0.1", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    url_of(url, sizeof(url), "/etag");
    req.url = url;
    assert_null(pg_upstream_start(up, &req, &code));
    assert_int_equal(code, PG_UP_EHOST);
    assert_true(pg_upstream_url_allowed(up, "https://127.0.0.1/x"));
    assert_false(pg_upstream_url_allowed(up, "http://127.0.0.1/x"));
    assert_false(pg_upstream_url_allowed(up, "https://127.0.0.1:8443/x"));
    assert_true(pg_upstream_url_allowed(up, "https://pypi.org/simple/x/"));
    assert_false(pg_upstream_url_allowed(up, "https://pypi.org:8443/x/"));
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
}

struct resume_ctx {
    struct res *s;
    int resumed;
};

static void
on_resume_timer(evutil_socket_t fd, short what, void *arg)
{
    struct resume_ctx *r = arg;

    r->s->paused = 0;
    r->resumed = 1;
    pg_upstream_resume(r->s->x);
}

static void
upstream_pause_holds_data_until_resume(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct resume_ctx r;
    struct event *ev;
    struct timeval tv = { 0, 300000 };
    struct pg_upstream_req req = { .idle_timeout_ms = 200 };
    struct res s;
    int pending = 1;

    make_config(&cfg, NULL);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    res_init(&s, base, up, &pending);
    s.pause_at = 1;
    start(&s, "/chunks?n=100&size=1000", &req);
    r.s = &s;
    r.resumed = 0;
    ev = evtimer_new(base, on_resume_timer, &r);
    evtimer_add(ev, &tv);
    run(base, SAFETY_MS);
    /* paused longer than the idle timeout: not counted as idle */
    assert_int_equal(r.resumed, 1);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.data_while_paused, 0);
    assert_int_equal(s.len, 100000);
    assert_true(pattern_ok(s.body, s.len));
    event_free(ev);
    free(s.body);
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
}

static void
on_resume_tick(evutil_socket_t fd, short what, void *arg)
{
    struct res *s = arg;

    if (s->x != NULL && s->paused) {
        s->paused = 0;
        pg_upstream_resume(s->x);
    }
}

/* The slow-client pattern: pause after every delivery, resume from a
 * timer; libcurl may deliver held-back bytes inside the resume, and the
 * callback pauses again right there. */
static void
upstream_pause_after_every_chunk_loses_nothing(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct event *tick;
    struct timeval tv = { 0, 2000 };
    struct res s;
    int pending = 1;

    make_config(&cfg, NULL);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    res_init(&s, base, up, &pending);
    s.pause_every = 1;
    start(&s, "/chunks?n=200&size=4000", NULL);
    tick = event_new(base, -1, EV_PERSIST, on_resume_tick, &s);
    evtimer_add(tick, &tv);
    run(base, SAFETY_MS);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.data_while_paused, 0);
    assert_int_equal(s.len, 800000);
    assert_true(pattern_ok(s.body, s.len));
    assert_true(s.data_calls > 10);
    event_free(tick);
    free(s.body);
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
}

static void
on_pause_outside(evutil_socket_t fd, short what, void *arg)
{
    struct res *s = arg;

    if (s->x != NULL) {
        pg_upstream_pause(s->x);
        s->paused = 1;
    }
}

static void
upstream_pause_and_resume_from_outside_callbacks(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct resume_ctx r;
    struct event *ev1, *ev2;
    struct timeval t1 = { 0, 1000 }, t2 = { 0, 200000 };
    struct res s;
    int pending = 1;

    make_config(&cfg, NULL);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    res_init(&s, base, up, &pending);
    start(&s, "/chunks?n=2000&size=1000", NULL);
    ev1 = evtimer_new(base, on_pause_outside, &s);
    evtimer_add(ev1, &t1);
    r.s = &s;
    r.resumed = 0;
    ev2 = evtimer_new(base, on_resume_timer, &r);
    evtimer_add(ev2, &t2);
    run(base, SAFETY_MS);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.data_while_paused, 0);
    assert_int_equal(s.len, 2000000);
    event_free(ev1);
    event_free(ev2);
    free(s.body);
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
}

static void
on_cancel_timer(evutil_socket_t fd, short what, void *arg)
{
    struct res *s = arg;

    pg_upstream_cancel(s->x);
    s->x = NULL;
    event_base_loopbreak(s->base);
}

static void
upstream_cancel_runs_no_callback(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct event *ev;
    struct timeval tv = { 0, 200000 };
    struct res s, a, b;
    int pending = 1;

    make_config(&cfg, NULL);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);

    /* mid-transfer, from a timer */
    res_init(&s, base, up, NULL);
    start(&s, "/slow", NULL);
    ev = evtimer_new(base, on_cancel_timer, &s);
    evtimer_add(ev, &tv);
    run(base, SAFETY_MS);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.len, 10);
    event_free(ev);

    /* right after start */
    free(s.body);
    res_init(&s, base, up, NULL);
    start(&s, "/etag", NULL);
    pg_upstream_cancel(s.x);
    run(base, 200);
    assert_int_equal(s.done, 0);
    assert_int_equal(s.headers, 0);

    /* from another transfer's on_data (deferred inside libcurl) */
    res_init(&a, base, up, &pending);
    res_init(&b, base, up, NULL);
    start(&b, "/slow", NULL);
    run(base, 100);     /* b is under way */
    assert_int_equal(b.done, 0);
    assert_int_equal(b.len, 10);
    start(&a, "/chunks?n=20&size=1000", NULL);
    a.cancel_in_data = b.x;
    run(base, SAFETY_MS);
    assert_int_equal(a.code, PG_UP_OK);
    assert_int_equal(a.len, 20000);
    run(base, 200);
    assert_int_equal(b.done, 0);

    free(s.body);
    free(a.body);
    free(b.body);
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
}

static void
upstream_abort_from_on_data_reports_aborted(void **state)
{
    struct pg_config cfg;
    struct res s;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    int pending = 1;

    make_config(&cfg, NULL);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    res_init(&s, base, up, &pending);
    s.abort_at = 2;
    start(&s, "/chunks?n=100&size=1000", NULL);
    run(base, SAFETY_MS);
    assert_int_equal(s.code, PG_UP_EABORTED);
    assert_int_equal(s.done, 1);
    assert_int_equal(s.data_calls, 2);
    free(s.body);
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
}

#define NCONC 32

static void
upstream_runs_many_transfers_on_one_loop(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct res *s = calloc(NCONC, sizeof(*s));
    char msg[128];
    int pending = NCONC, i, hits0, conns0, hits1, conns1;

    make_config(&cfg, NULL);
    assert_int_equal(pg_config_set(&cfg, "max_upstream_connections", "4",
        msg, sizeof(msg)), 0);
    server_hits(&cfg, "/chunks", &hits0, &conns0);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    for (i = 0; i < NCONC; i++) {
        res_init(&s[i], base, up, &pending);
        start(&s[i], "/chunks?n=20&size=5000", NULL);
    }
    run(base, SAFETY_MS);
    for (i = 0; i < NCONC; i++) {
        assert_int_equal(s[i].code, PG_UP_OK);
        assert_int_equal(s[i].len, 100000);
        assert_true(pattern_ok(s[i].body, s[i].len));
        free(s[i].body);
    }
    /* a transfer started after the others reuses a kept-alive connection */
    pending = 1;
    res_init(&s[0], base, up, &pending);
    start(&s[0], "/etag", NULL);
    run(base, SAFETY_MS);
    assert_int_equal(s[0].code, PG_UP_OK);
    free(s[0].body);
    pg_upstream_free(up);
    server_hits(&cfg, "/chunks", &hits1, &conns1);
    assert_int_equal(hits1 - hits0, NCONC);
    /* at most 4 connections for 33 transfers (+1 for the hits query) */
    assert_true(conns1 - conns0 <= 4 + 1);
    free(s);
    pg_config_free(&cfg);
    event_base_free(base);
}

struct chain {
    struct res first, second;
    int started;
};

static void
on_done_chain(void *arg, enum pg_upstream_code code, const char *reason,
    const struct pg_upstream_resp *r)
{
    struct chain *c = arg;
    struct pg_upstream_req req = { 0 };
    enum pg_upstream_code sc;
    char url[256];

    c->first.done++;
    c->first.code = code;
    url_of(url, sizeof(url), "/etag");
    req.url = url;
    req.on_headers = on_headers;
    req.on_data = on_data;
    req.on_done = on_done;
    req.arg = &c->second;
    c->second.x = pg_upstream_start(c->first.up, &req, &sc);
    c->started = c->second.x != NULL;
}

static void
upstream_transfer_started_from_on_done_runs(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct pg_upstream_req req = { 0 };
    enum pg_upstream_code code;
    struct chain c;
    char url[256];
    int pending = 1;

    make_config(&cfg, NULL);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    res_init(&c.first, base, up, NULL);
    res_init(&c.second, base, up, &pending);
    url_of(url, sizeof(url), "/big?size=10");
    req.url = url;
    req.on_done = on_done_chain;
    req.arg = &c;
    c.started = 0;
    assert_non_null(pg_upstream_start(up, &req, &code));
    run(base, SAFETY_MS);
    assert_int_equal(c.first.code, PG_UP_OK);
    assert_int_equal(c.started, 1);
    assert_int_equal(c.second.code, PG_UP_OK);
    assert_int_equal(c.second.len, 5);
    free(c.first.body);
    free(c.second.body);
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
}

static void
upstream_goes_through_the_configured_http_proxy(void **state)
{
    struct pg_config cfg;
    struct res s;
    char proxy[64], msg[128];
    int before, after, conns;

    make_config(&cfg, NULL);
    server_hits(&cfg, "proxied", &before, &conns);
    snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", port);
    assert_int_equal(pg_config_set(&cfg, "http_proxy", proxy, msg,
        sizeof(msg)), 0);
    fetch(&cfg, &s, "/etag", NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.len, 5);
    free(s.body);
    pg_config_free(&cfg);
    make_config(&cfg, NULL);
    server_hits(&cfg, "proxied", &after, &conns);
    assert_int_equal(after - before, 1);
    pg_config_free(&cfg);
}

static void
upstream_ignores_proxy_environment_variables(void **state)
{
    struct pg_config cfg;
    struct res s;

    /* a proxy that does not exist: used, it would fail the transfer */
    setenv("http_proxy", "http://127.0.0.1:1", 1);
    setenv("HTTPS_PROXY", "http://127.0.0.1:1", 1);
    setenv("ALL_PROXY", "http://127.0.0.1:1", 1);
    make_config(&cfg, NULL);
    fetch(&cfg, &s, "/etag", NULL);
    unsetenv("http_proxy");
    unsetenv("HTTPS_PROXY");
    unsetenv("ALL_PROXY");
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.len, 5);
    free(s.body);
    pg_config_free(&cfg);
}

/* ---- HTTP/2 over TLS against nginx (skipped without nginx/openssl) ---- */

struct h2 {
    char dir[64];
    int port;
    pid_t pid;
};

static int
free_port(void)
{
    struct sockaddr_in sin;
    socklen_t slen = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), p;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sin, sizeof(sin));
    getsockname(fd, (struct sockaddr *)&sin, &slen);
    p = ntohs(sin.sin_port);
    close(fd);
    return p;
}

static int
port_open(int p)
{
    struct sockaddr_in sin;
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)p);
    ok = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
    close(fd);
    return ok;
}

/* Starts nginx with TLS + HTTP/2 serving dir/www; 0 or -1 (skip). */
static int
h2_start(struct h2 *h)
{
    char cmd[1024], path[128];
    unsigned char *buf;
    FILE *f;
    int i;

    if (access("/usr/sbin/nginx", X_OK) != 0
        || system("command -v openssl >/dev/null 2>&1") != 0)
    {
        return -1;
    }
    snprintf(h->dir, sizeof(h->dir), "/tmp/pgh2XXXXXX");
    if (mkdtemp(h->dir) == NULL) {
        return -1;
    }
    snprintf(cmd, sizeof(cmd), "cd %s && mkdir www && openssl req -x509 "
        "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout key.pem "
        "-out cert.pem -days 1 -subj /CN=127.0.0.1 -addext "
        "subjectAltName=IP:127.0.0.1 >/dev/null 2>&1", h->dir);
    if (system(cmd) != 0) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/www/big.bin", h->dir);
    f = fopen(path, "w");
    buf = malloc(1 << 20);
    for (i = 0; i < 1 << 20; i++) {
        buf[i] = (unsigned char)(i % 251);
    }
    fwrite(buf, 1, 1 << 20, f);
    fclose(f);
    free(buf);
    h->port = free_port();
    snprintf(path, sizeof(path), "%s/nginx.conf", h->dir);
    f = fopen(path, "w");
    fprintf(f, "daemon off; master_process off; worker_processes 1;\n"
        "pid %1$s/nginx.pid; error_log %1$s/error.log;\n"
        "events { worker_connections 64; }\n"
        "http { log_format h2 '$connection $server_protocol $uri';\n"
        "  access_log %1$s/access.log h2;\n"
        "  client_body_temp_path %1$s; proxy_temp_path %1$s;\n"
        "  fastcgi_temp_path %1$s; uwsgi_temp_path %1$s;\n"
        "  scgi_temp_path %1$s;\n"
        "  server { listen 127.0.0.1:%2$d ssl http2;\n"
        "    ssl_certificate %1$s/cert.pem;\n"
        "    ssl_certificate_key %1$s/key.pem; root %1$s/www; } }\n",
        h->dir, h->port);
    fclose(f);
    h->pid = fork();
    if (h->pid == 0) {
        execl("/usr/sbin/nginx", "nginx", "-p", h->dir, "-c", path, "-e",
            "stderr", (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 100 && !port_open(h->port); i++) {
        usleep(50000);
    }
    return port_open(h->port) ? 0 : -1;
}

static void
h2_stop(struct h2 *h)
{
    char cmd[128];

    if (h->pid > 0) {
        kill(h->pid, SIGTERM);
        waitpid(h->pid, NULL, 0);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf %s", h->dir);
    if (h->dir[0] != '\0' && system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", h->dir);
    }
}

#define NH2 8

static void
upstream_multiplexes_http2_over_verified_tls(void **state)
{
    struct pg_config cfg;
    struct event_base *base;
    struct pg_upstream *up;
    struct res s[NH2];
    struct h2 h = { .pid = -1 };
    char msg[256], url[128], line[256], conn[32] = "", first[32] = "";
    int pending = NH2, i, lines = 0, same = 1;
    FILE *f;

    if (h2_start(&h) != 0) {
        h2_stop(&h);
        printf("# nginx with TLS and HTTP/2 not available: skipped\n");
        skip();
    }
    pg_config_defaults(&cfg);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/simple/", h.port);
    assert_int_equal(pg_config_set(&cfg, "upstream", url, msg, sizeof(msg)),
        0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/big.bin", h.port);

    /* not trusted without the CA bundle: TLS is verified */
    fetch(&cfg, &s[0], url, NULL);
    assert_int_equal(s[0].code, PG_UP_ECONNECT);
    free(s[0].body);

    snprintf(line, sizeof(line), "%s/cert.pem", h.dir);
    assert_int_equal(pg_config_set(&cfg, "ca_bundle", line, msg,
        sizeof(msg)), 0);
    base = event_base_new();
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    for (i = 0; i < NH2; i++) {
        res_init(&s[i], base, up, &pending);
        start(&s[i], url, NULL);
    }
    run(base, SAFETY_MS);
    for (i = 0; i < NH2; i++) {
        assert_int_equal(s[i].code, PG_UP_OK);
        assert_int_equal(s[i].http_version, 2);
        assert_int_equal(s[i].len, 1 << 20);
        assert_true(pattern_ok(s[i].body, s[i].len));
        free(s[i].body);
    }
    pg_upstream_free(up);
    event_base_free(base);
    pg_config_free(&cfg);

    /* nginx saw every request as HTTP/2.0 on one connection */
    kill(h.pid, SIGTERM);
    waitpid(h.pid, NULL, 0);
    h.pid = -1;
    snprintf(line, sizeof(line), "%s/access.log", h.dir);
    f = fopen(line, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, " /big.bin") == NULL) {
            continue;
        }
        lines++;
        assert_non_null(strstr(line, " HTTP/2.0 "));
        snprintf(conn, sizeof(conn), "%.*s", (int)strcspn(line, " "), line);
        if (first[0] == '\0') {
            memcpy(first, conn, sizeof(first));
        }
        same &= strcmp(first, conn) == 0;
    }
    fclose(f);
    h2_stop(&h);
    assert_int_equal(lines, NH2);
    assert_true(same);
}

static void
upstream_header_values_reported_up_to_the_limit(void **state)
{
    struct pg_config cfg;
    struct res s;
    char path[64];

    make_config(&cfg, NULL);
    snprintf(path, sizeof(path), "/longetag?n=%d", PG_UPSTREAM_MAX_HEADER);
    fetch(&cfg, &s, path, NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(strlen(s.etag), PG_UPSTREAM_MAX_HEADER);
    assert_int_equal(strspn(s.etag, "e"), PG_UPSTREAM_MAX_HEADER);
    free(s.body);
    snprintf(path, sizeof(path), "/longetag?n=%d",
        PG_UPSTREAM_MAX_HEADER + 1);
    fetch(&cfg, &s, path, NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_string_equal(s.etag, "(none)");
    free(s.body);
    pg_config_free(&cfg);
}

static void
request_header_values_and_urls_up_to_the_limit(void **state)
{
    struct pg_config cfg;
    struct event_base *base = event_base_new();
    struct pg_upstream *up;
    struct pg_upstream_req req = { 0 };
    struct pg_upstream_xfer *x;
    enum pg_upstream_code code;
    char *val = malloc(PG_UPSTREAM_MAX_HEADER + 2);
    char *url = malloc(PG_UPSTREAM_MAX_URL + 2);
    char base_url[64];
    size_t n;

    make_config(&cfg, NULL);
    assert_int_equal(pg_upstream_new(base, &cfg.upstreams[0], &up), 0);
    url_of(base_url, sizeof(base_url), "/etag?");
    n = strlen(base_url);
    memcpy(url, base_url, n);
    memset(url + n, 'q', PG_UPSTREAM_MAX_URL - n);
    url[PG_UPSTREAM_MAX_URL] = '\0';
    assert_true(pg_upstream_url_allowed(up, url));
    url[PG_UPSTREAM_MAX_URL] = 'q';
    url[PG_UPSTREAM_MAX_URL + 1] = '\0';
    assert_false(pg_upstream_url_allowed(up, url));
    assert_null(pg_upstream_start(up, &(struct pg_upstream_req){
        .url = url }, &code));
    assert_int_equal(code, PG_UP_EHOST);

    memset(val, 'a', PG_UPSTREAM_MAX_HEADER);
    val[PG_UPSTREAM_MAX_HEADER] = '\0';
    req.url = base_url;
    req.accept = val;
    x = pg_upstream_start(up, &req, &code);
    assert_non_null(x);
    pg_upstream_cancel(x);
    val[PG_UPSTREAM_MAX_HEADER] = 'a';
    val[PG_UPSTREAM_MAX_HEADER + 1] = '\0';
    assert_null(pg_upstream_start(up, &req, &code));
    assert_int_equal(code, PG_UP_EPROTO);
    pg_upstream_free(up);
    pg_config_free(&cfg);
    event_base_free(base);
    free(val);
    free(url);
}

static void
redirect_body_read_up_to_the_limit_then_dropped(void **state)
{
    struct pg_config cfg;
    struct res s;
    char path[256];
    int h0, c0, h1, c1, h2, c2;

    make_config(&cfg, NULL);
    server_hits(&cfg, "/etag", &h0, &c0);
    /* at the limit: the 3xx body is read, the connection kept */
    snprintf(path, sizeof(path), "/redirect?to=/etag&body=%d",
        PG_UPSTREAM_MAX_REDIRECT_BODY);
    fetch(&cfg, &s, path, NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.len, 5);
    free(s.body);
    server_hits(&cfg, "/etag", &h1, &c1);
    assert_int_equal(h1 - h0, 1);
    assert_int_equal(c1 - c0, 1 + 1);   /* + the hits query */
    /* over it: not read, the hop's connection closed, still followed */
    snprintf(path, sizeof(path), "/redirect?to=/etag&body=%d",
        PG_UPSTREAM_MAX_REDIRECT_BODY + 1);
    fetch(&cfg, &s, path, NULL);
    assert_int_equal(s.code, PG_UP_OK);
    assert_int_equal(s.len, 5);
    free(s.body);
    server_hits(&cfg, "/etag", &h2, &c2);
    assert_int_equal(h2 - h1, 1);
    assert_int_equal(c2 - c1, 2 + 1);
    pg_config_free(&cfg);
}

static void
libcurl_resolves_asynchronously(void **state)
{
    char d[512];

    pg_upstream_describe(d, sizeof(d));
    assert_non_null(strstr(d, "async DNS: "));
    assert_null(strstr(d, "async DNS: no"));
    assert_non_null(strstr(d, "HTTP/2: yes"));
    printf("# %s\n", d);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(libcurl_resolves_asynchronously),
        cmocka_unit_test(upstream_streams_many_chunks_in_order),
        cmocka_unit_test(upstream_reports_headers_once_before_the_body),
        cmocka_unit_test(upstream_revalidation_gets_304_without_body),
        cmocka_unit_test(upstream_sends_accept_range_and_conditional_headers),
        cmocka_unit_test(upstream_compressed_request_is_decoded),
        cmocka_unit_test(upstream_idle_timeout_aborts_a_silent_transfer),
        cmocka_unit_test(upstream_whole_timeout_aborts_a_long_transfer),
        cmocka_unit_test(upstream_connection_refused_is_reported),
        cmocka_unit_test(upstream_body_cap_at_limit_and_limit_plus_one),
        cmocka_unit_test(upstream_redirect_to_allowed_host_is_followed),
        cmocka_unit_test(
            upstream_redirect_to_disallowed_host_is_refused_without_connecting),
        cmocka_unit_test(urls_on_disallowed_hosts_or_schemes_are_never_started),
        cmocka_unit_test(
            redirect_to_another_port_of_an_allowed_host_never_connects),
        cmocka_unit_test(upstream_pause_holds_data_until_resume),
        cmocka_unit_test(upstream_pause_and_resume_from_outside_callbacks),
        cmocka_unit_test(upstream_pause_after_every_chunk_loses_nothing),
        cmocka_unit_test(upstream_cancel_runs_no_callback),
        cmocka_unit_test(upstream_abort_from_on_data_reports_aborted),
        cmocka_unit_test(upstream_runs_many_transfers_on_one_loop),
        cmocka_unit_test(upstream_transfer_started_from_on_done_runs),
        cmocka_unit_test(upstream_goes_through_the_configured_http_proxy),
        cmocka_unit_test(upstream_ignores_proxy_environment_variables),
        cmocka_unit_test(upstream_multiplexes_http2_over_verified_tls),
        cmocka_unit_test(upstream_header_values_reported_up_to_the_limit),
        cmocka_unit_test(request_header_values_and_urls_up_to_the_limit),
        cmocka_unit_test(redirect_body_read_up_to_the_limit_then_dropped),
    };

    if (argc > 1) {
        if (strstr(argv[1], "http2") != NULL
            && access("/usr/sbin/nginx", X_OK) != 0)
        {
            printf("nginx (Debian nginx-light) not installed: skipped\n");
            return 77;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, server_start, server_stop);
}
