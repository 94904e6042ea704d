/* proxy/core/config.c — provgate.conf: directive table, shared parsers, loader.
 *
 * Directives are data (nginx's command arrays, Redis's static_configs): one
 * row per directive names its section, a shared parser, the offsetof of the
 * field it fills, its default as it would be written in the file and one
 * line of help.  Defaults go through the same parsers as the file and the
 * command line, so a default can never be a value the file could not hold.
 * libinih splits the file into (section, name, value); our handler only
 * looks the row up, runs its parser and, on failure, keeps the FIRST
 * message, located "FILE:LINE: name: reason".  Lines are counted by our own
 * reader (inih does not pass line numbers), which also refuses over-long
 * lines instead of letting inih split them, and checks section headers so
 * an unknown empty section is reported too.  Cross-field rules and derived
 * values live in one function, pg_config_finish.
 *
 * Owns: every string in struct pg_config (pg_config_free).
 * Borrows: nothing.
 * Runs on: start-up and reload (not the loop's hot path; reads a file).
 * Spec: design §9, issue 2 items 2 and 8, style.md "Config tables".
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <ini.h>

#include "config_int.h"
#include "origin_int.h"

#define PG_CONF_INI_LINE 200        /* inih's line buffer, see ini.h */
#define PG_CONF_MAX_NAME 64
#define PG_CONF_MAX_HOSTNAME 253

static const char pg_conf_erange[] = "out of range";
/* A reason whose value is never echoed back: it holds a secret. */
static const char pg_conf_ecreds[] = "credentials in the URL are not "
    "supported (use credentials_file or username_env/password_env/"
    "token_env)";
/* The value as an error message may quote it. */
#define SHOWN(reason, value) ((reason) == pg_conf_ecreds ? "…" : (value))
static const char pg_conf_esyntax[] =
    "syntax error (expected [section], name = value or a comment)";

struct pg_conf_ctx {
    struct pg_config *cfg;
    const char *path;
    FILE *fp;
    int line;                   /* number of the line inih is parsing */
    int up;                     /* the upstream of the current section:
                                   index in cfg->upstreams, -1 none */
    int indented;               /* that line starts with white space */
    int err_line;               /* first error, 0 = none */
    char *msg;
    size_t mlen;
};

static int row_index(const char *name, const char *section);
static const char *cidrs_add(struct pg_client_nets *nets, const char *value);
static const char *apply_more(void *base, int row, const char *value,
    char *extra, size_t elen);
static const char *apply(void *base, int row, const char *value,
    char *extra, size_t elen);
static int row_is_upstream(int row);
static void upstream_defaults(struct pg_upstream_conf *u, int is_default);
static void format_range(const struct pg_directive *d, char *out,
    size_t olen);
static int ctx_error(struct pg_conf_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define F(field) offsetof(struct pg_config, field)
#define U(field) offsetof(struct pg_upstream_conf, field)

const struct pg_directive pg_config_directives[] = {
    /* [server] */
    { "listen", "server", pg_conf_hostport, F(listen), "127.0.0.1:3141",
      "address and port the proxy listens on (HOST:PORT, [IPv6]:PORT)",
      0, 0, 0 },
    { "public_url", "server", pg_conf_url_opt, F(public_url), NULL,
      "base URL clients reach the proxy at, used in rewritten file URLs "
      "(default http://LISTEN/; empty: taken from each request's Host)",
      0, 0, 0 },
    { "tls_cert", "server", pg_conf_path, F(tls_cert), NULL,
      "PEM certificate chain for an HTTPS listener (needs tls_key)",
      0, 0, 0 },
    { "tls_key", "server", pg_conf_path, F(tls_key), NULL,
      "PEM private key for an HTTPS listener (needs tls_cert)", 0, 0, 0 },
    { "access_log", "server", pg_conf_path, F(access_log), "-",
      "one line per request: - for stderr, or a file", 0, 0, 0 },
    { "audit_log", "server", pg_conf_path, F(audit_log), "-",
      "policy decisions (JSON lines): - for stderr, or a file", 0, 0, 0 },
    { "client_timeout", "server", pg_conf_duration, F(client_timeout_ms),
      "60s", "close a client connection idle, or not reading its "
      "answer, for this long (1s to 1h)",
      1000, 3600000, 1 },
    { "max_connections", "server", pg_conf_int, F(max_connections), "1024",
      "most client connections open at once (1 to 100000); further ones "
      "are closed at accept, unanswered",
      1, 100000, 0 },
    { "max_client_connections", "server", pg_conf_int,
      F(max_client_connections), "128",
      "most connections one client address may hold open (0 to 100000; "
      "0: no limit); its further ones are closed at accept, unanswered",
      0, 100000, 0 },
    { "client_header_timeout", "server", pg_conf_duration,
      F(client_header_timeout_ms), "10s",
      "close a connection whose request head has not all arrived this "
      "long after it opened, or after the head's first byte (1s to 1h)",
      1000, 3600000, 1 },
    { "serve_loops", "server", pg_conf_int, F(serve_loops), "0",
      "threads serving clients (0 to 63): h2o loops that answer cached "
      "hits and relay the rest to the main loop; 1 is the main loop "
      "alone; 0 is one per CPU core",
      0, 63, 0 },
    { "hot_table_max_bytes", "server", pg_conf_bytes,
      F(hot_table_max_bytes), "256MiB",
      "memory the serving threads' table of cached hits may hold (page "
      "bodies, and each file's size: it may be mapped), least recently "
      "used dropped first; a hit larger alone is answered by the main "
      "loop (1MiB to 1TiB)", (int64_t)1 << 20, (int64_t)1 << 40, 0 },
    { "allow_clients", "server", pg_conf_cidrs, F(allow_clients), NULL,
      "client addresses and networks served (IPv4, IPv6, CIDR; comma-"
      "separated; the line may be repeated; at most 64 entries); others "
      "get 403 (default: every client)",
      0, 0, 0 },
    { "auth", "server", pg_conf_auth, F(auth), "off",
      "client identity: off, or token (every request but /healthz and "
      "/readyz needs a token of `provgate tokens add`, by HTTP Basic "
      "NAME:TOKEN or Authorization: Bearer; else 401)", 0, 0, 0 },
    { "auth_max_failures", "server", pg_conf_int, F(auth_max_failures),
      "10", "failed authentications an address may make per minute; "
      "past them it gets 429 until the minute ends (0 to 10000; 0: no "
      "limit)", 0, 10000, 0 },
    { "metrics_token_file", "server", pg_conf_path, F(metrics_token_file),
      NULL, "tokens /metrics requires, one \"NAME sha256$SALT$HASH\" line "
      "each (provgate admin-token NAME makes one; Basic NAME:TOKEN or "
      "Bearer TOKEN); unset: /metrics is open, or needs a client token "
      "when auth = token", 0, 0, 0 },

    /* [upstream] */
    { "upstream", "upstream", pg_conf_url, U(upstream),
      "https://pypi.org/simple/",
      "index base URL (PEP 503/691 simple API); http:// needs allow_http; "
      "required in [upstream:NAME]",
      0, 0, 0 },
    { "file_hosts", "upstream", pg_conf_hosts, U(file_hosts), NULL,
      "hosts files and redirects may come from besides the upstream's "
      "own origin, comma-separated; HOST means port 443 (https) or 80 "
      "(http, with allow_http), HOST:PORT that port only (default: "
      "files.pythonhosted.org in [upstream], none in [upstream:NAME])",
      0, 0, 0 },
    { "allow_http", "upstream", pg_conf_bool, U(allow_http), "off",
      "allow plain-HTTP upstream and file URLs (tests, trusted networks)",
      0, 0, 0 },
    { "http_proxy", "upstream", pg_conf_proxy, U(http_proxy), NULL,
      "proxy for upstream requests (http, https, socks4(a), socks5(h) URL)",
      0, 0, 0 },
    { "ca_bundle", "upstream", pg_conf_path, U(ca_bundle), NULL,
      "CA certificates (PEM file) for upstream TLS instead of the system's",
      0, 0, 0 },
    { "client_cert", "upstream", pg_conf_path, U(client_cert), NULL,
      "TLS client certificate (PEM) presented to the upstream (needs "
      "client_key)", 0, 0, 0 },
    { "client_key", "upstream", pg_conf_path, U(client_key), NULL,
      "private key (PEM) of client_cert", 0, 0, 0 },
    { "connect_timeout", "upstream", pg_conf_duration,
      U(connect_timeout_ms), "10s",
      "give up connecting (DNS, TCP, TLS) after this long (100ms to 10m)",
      100, 600000, 1 },
    { "timeout", "upstream", pg_conf_duration, U(timeout_ms), "30s",
      "whole index-page request limit (1s to 1h)", 1000, 3600000, 1 },
    { "file_idle_timeout", "upstream", pg_conf_duration,
      U(file_idle_timeout_ms), "30s",
      "abort a file download that receives no bytes for this long "
      "(1s to 1h)", 1000, 3600000, 1 },
    { "max_upstream_connections", "upstream", pg_conf_int,
      U(max_upstream_connections), "16",
      "connections per upstream host (1 to 1024)", 1, 1024, 0 },
    { "max_json_bytes", "upstream", pg_conf_bytes, U(max_json_bytes),
      "64MiB", "largest index page accepted from upstream (1KiB to 4GiB)",
      1024, (int64_t)4 << 30, 0 },
    { "credentials_file", "upstream", pg_conf_path, U(cred.file), NULL,
      "the upstream's credentials: \"username = U\" and \"password = P\" "
      "lines (HTTP Basic) or a \"token = T\" line (Bearer); refused when "
      "group or others may read it; sent only to the upstream's own "
      "origin", 0, 0, 0 },
    { "username_env", "upstream", pg_conf_env, U(cred.username_env), NULL,
      "environment variable holding the upstream's HTTP Basic user name "
      "(with password_env)", 0, 0, 0 },
    { "password_env", "upstream", pg_conf_env, U(cred.password_env), NULL,
      "environment variable holding the upstream's HTTP Basic password",
      0, 0, 0 },
    { "token_env", "upstream", pg_conf_env, U(cred.token_env), NULL,
      "environment variable holding the upstream's bearer token", 0, 0,
      0 },

    /* [upstream:NAME] only */
    { "projects", "upstream:", pg_conf_projects, 0, NULL,
      "names this private upstream owns, served only from it and never "
      "from another upstream: names and prefixes (acme-*), PEP 503-"
      "normalized, and @list for every name its /simple/ list holds "
      "(refreshed on list_ttl); comma-separated, repeatable, at most 64",
      0, 0, 0 },
    { "mode", "upstream:", pg_conf_mode, U(mode), "off",
      "default policy mode of its projects (off, tofu, require, allow); "
      "a [project:NAME] section of the policy file still applies on top",
      0, 0, 0 },
    { "trust_root", "upstream:", pg_conf_path, U(trust_root), NULL,
      "Sigstore trusted_root.json its provenance is verified against "
      "(a private Sigstore instance; default: the [policy] one)",
      0, 0, 0 },

    /* [cache] */
    { "cache_dir", "cache", pg_conf_path, F(cache_dir), "./var",
      "directory of the LMDB environment and the blob store", 0, 0, 0 },
    { "cache_max_bytes", "cache", pg_conf_bytes, F(cache_max_bytes),
      "10GiB", "blob store size cap, least recently used evicted first "
      "(1MiB to 1PiB)", (int64_t)1 << 20, (int64_t)1 << 50, 0 },
    { "page_cache_max_bytes", "cache", pg_conf_bytes,
      F(page_cache_max_bytes), "256MiB",
      "memory for index pages (parsed models and rendered bodies), least "
      "recently used dropped first; a page larger alone is served from a "
      "file in cache_dir (1MiB to 1TiB)", (int64_t)1 << 20,
      (int64_t)1 << 40, 0 },
    { "index_ttl", "cache", pg_conf_duration, F(index_ttl_s), "10m",
      "project pages are revalidated upstream after this long "
      "(whole seconds, 0 to 30d)", 0, (int64_t)30 * 86400000, 1000 },
    { "list_ttl", "cache", pg_conf_duration, F(list_ttl_s), "1h",
      "the /simple/ project list is revalidated after this long "
      "(whole seconds, 0 to 30d)", 0, (int64_t)30 * 86400000, 1000 },
    { "stale_if_error", "cache", pg_conf_bool, F(stale_if_error), "on",
      "serve stale pages and cached files when the upstream fails",
      0, 0, 0 },
    { "mismatch_hold", "cache", pg_conf_duration, F(mismatch_hold_s), "60s",
      "after a hash mismatch, refuse to re-fetch that file for this long "
      "(whole seconds, 0 to 1d)", 0, 86400000, 1000 },
    { "check_before_send", "cache", pg_conf_bytes, F(check_before_send),
      "16MiB", "a cold file up to this size (by the index or the upstream's "
      "Content-Length) is received whole and hash-checked before its "
      "answer starts, so a mismatch is a clean 403; larger files stream "
      "(0 to 1GiB; 0: every file streams)", 0, (int64_t)1 << 30, 0 },
    { "scrub_rate", "cache", pg_conf_bytes, F(scrub_rate), "8MiB",
      "bytes per second the background scrub re-hashes cached files at "
      "(a pass at most hourly; damaged ones are removed; 0 = off, "
      "up to 1GiB)", 0, (int64_t)1 << 30, 0 },

    /* [policy] */
    { "policy", "policy", pg_conf_path, F(policy_file), NULL,
      "policy file (default: built-in trust on first use)", 0, 0, 0 },
    { "trust_root", "policy", pg_conf_path, F(trust_root), NULL,
      "Sigstore trusted_root.json (default: compiled-in production root)",
      0, 0, 0 },
    { "staging", "policy", pg_conf_bool, F(staging), "off",
      "use the compiled-in Sigstore staging root instead", 0, 0, 0 },
    { "provenance_budget", "policy", pg_conf_duration,
      F(provenance_budget_ms), "5s",
      "time allowed to fetch and verify a page's provenance "
      "(100ms to 10m)", 100, 600000, 1 },
    { "provenance_concurrency", "policy", pg_conf_int,
      F(provenance_concurrency), "64",
      "provenance objects fetched at once, across all pages (1 to 256)",
      1, 256, 0 },
    { "verify_threads", "policy", pg_conf_int, F(verify_threads), "0",
      "threads verifying provenance signatures (0: one per core; 1 to 16)",
      0, 16, 0 },
    { "provenance_max_bytes", "policy", pg_conf_bytes,
      F(provenance_max_bytes), "128MiB",
      "memory for provenance objects being fetched, verified or stored, "
      "across all pages; a fetch reserves 256KiB, more as its object "
      "grows (4MiB at most) "
      "(8MiB to 64GiB)", (int64_t)8 << 20, (int64_t)64 << 30, 0 },
    { "pin_store", "policy", pg_conf_pin_store, F(pin_store), "lmdb",
      "where TOFU pins, approvals and their history live: lmdb (pins.lmdb "
      "beside cache_dir), lmdb:DIR, or a PostgreSQL URI shared by "
      "replicas (postgresql://HOST/DB; a password belongs in PGPASSFILE)",
      0, 0, 0 },

    /* [ui] */
    { "ui", "ui", pg_conf_bool, F(ui), "off",
      "serve the operator pages under /-/ (what was verified, pinned and "
      "refused); off: /-/ is a 404", 0, 0, 0 },
    { "admin_token_file", "ui", pg_conf_path, F(admin_token_file), NULL,
      "administrators' tokens, one \"NAME sha256$SALT$HASH\" line each "
      "(provgate admin-token NAME makes one); unset: the pages are "
      "read-only", 0, 0, 0 },
};

#undef F
#undef U

const size_t pg_config_n_directives =
    sizeof(pg_config_directives) / sizeof(pg_config_directives[0]);

_Static_assert(sizeof(pg_config_directives) / sizeof(pg_config_directives[0])
    <= PG_CONFIG_MAX_DIRECTIVES, "raise PG_CONFIG_MAX_DIRECTIVES");
/* pg_conf_hosts finds the count right after the array. */
_Static_assert(offsetof(struct pg_upstream_conf, n_file_hosts)
    == offsetof(struct pg_upstream_conf, file_hosts)
    + sizeof(char *) * PG_CONFIG_MAX_HOSTS, "n_file_hosts follows file_hosts");
_Static_assert(PG_CONFIG_MAX_LINE + 4 <= PG_CONF_INI_LINE,
    "inih's buffer holds a whole line");

static const char *const pg_conf_sections[] = {
    "server", "upstream", "cache", "policy", "ui"
};

/* ---- shared parsers ---- */

static int
has_ctl(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

const char *
pg_conf_bool(const struct pg_directive *d, void *field, const char *value)
{
    static const char *const yes[] = { "on", "yes", "true", "1" };
    static const char *const no[] = { "off", "no", "false", "0" };
    size_t i;

    for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(value, yes[i]) == 0) {
            *(int *)field = 1;
            return NULL;
        }
        if (strcasecmp(value, no[i]) == 0) {
            *(int *)field = 0;
            return NULL;
        }
    }
    return "expected on or off";
}

const char *
pg_conf_env(const struct pg_directive *d, void *field, const char *value)
{
    size_t i;

    if (value[0] == '\0' || isdigit((unsigned char)value[0])) {
        return "expected an environment variable's name";
    }
    for (i = 0; value[i] != '\0'; i++) {
        if (!isalnum((unsigned char)value[i]) && value[i] != '_') {
            return "expected an environment variable's name";
        }
    }
    return pg_conf_string(d, field, value);
}

const char *
pg_conf_auth(const struct pg_directive *d, void *field, const char *value)
{
    (void)d;
    if (strcmp(value, "off") == 0) {
        *(int *)field = PG_AUTH_OFF;
        return NULL;
    }
    if (strcmp(value, "token") == 0) {
        *(int *)field = PG_AUTH_TOKEN;
        return NULL;
    }
    return "expected off or token";
}

/* Reads the decimal prefix of s (digits only, no sign) into *n; *end
 * points after it.  -1 if there is no digit or it overflows. */
static int
read_uint(const char *s, uint64_t *n, const char **end)
{
    uint64_t v = 0;

    if (!isdigit((unsigned char)*s)) {
        return -1;
    }
    for (; isdigit((unsigned char)*s); s++) {
        if (v > (UINT64_MAX - 9) / 10) {
            return -1;
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *n = v;
    *end = s;
    return 0;
}

struct conf_unit {
    const char *suffix;
    uint64_t mul;
};

/* value as a decimal number followed by one of the n units' suffixes,
 * scaled and within d's range, into *out; NULL, or why not: bad_number,
 * bad_unit or pg_conf_erange. */
static const char *
read_scaled(const struct pg_directive *d, const char *value,
    const struct conf_unit *units, size_t n, const char *bad_number,
    const char *bad_unit, uint64_t *out)
{
    const char *end;
    uint64_t v;
    size_t i;

    if (read_uint(value, &v, &end) != 0) {
        return bad_number;
    }
    i = 0;
    while (i < n && strcmp(end, units[i].suffix) != 0) {
        i++;
    }
    if (i == n) {
        return bad_unit;
    }
    if (v > UINT64_MAX / units[i].mul || v * units[i].mul > INT64_MAX) {
        return pg_conf_erange;
    }
    v *= units[i].mul;
    if ((int64_t)v < d->min || (int64_t)v > d->max) {
        return pg_conf_erange;
    }
    *out = v;
    return NULL;
}

const char *
pg_conf_duration(const struct pg_directive *d, void *field,
    const char *value)
{
    static const struct conf_unit units[] = {
        { "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
        { "d", 86400000 }, { "", 1000 },
    };
    uint64_t ms;
    int64_t unit = d->unit > 0 ? d->unit : 1;
    const char *why;

    why = read_scaled(d, value, units, sizeof(units) / sizeof(units[0]),
        "expected a duration such as 500ms, 30s, 10m, 1h or 1d",
        "unknown duration unit (use ms, s, m, h or d)", &ms);
    if (why != NULL) {
        return why;
    }
    if (ms % (uint64_t)unit != 0) {
        return "must be a whole number of seconds";
    }
    *(int64_t *)field = (int64_t)ms / unit;
    return NULL;
}

const char *
pg_conf_bytes(const struct pg_directive *d, void *field, const char *value)
{
    static const struct conf_unit units[] = {
        { "", 1 }, { "K", 1000 }, { "M", 1000000 }, { "G", 1000000000 },
        { "T", 1000000000000ULL }, { "KiB", 1ULL << 10 },
        { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 }, { "TiB", 1ULL << 40 },
    };

    return read_scaled(d, value, units, sizeof(units) / sizeof(units[0]),
        "expected a size such as 512KiB, 64MiB or 10G",
        "unknown size unit (use K, M, G, T or KiB, MiB, GiB, TiB)",
        (uint64_t *)field);
}

const char *
pg_conf_int(const struct pg_directive *d, void *field, const char *value)
{
    const char *p = value;
    const char *end;
    uint64_t n;
    int neg = 0;

    if (*p == '-') {
        neg = 1;
        p++;
    }
    if (read_uint(p, &n, &end) != 0 || *end != '\0') {
        return "expected a whole number";
    }
    if (n > (uint64_t)INT64_MAX) {
        return pg_conf_erange;
    }
    if ((neg ? -(int64_t)n : (int64_t)n) < d->min
        || (neg ? -(int64_t)n : (int64_t)n) > d->max)
    {
        return pg_conf_erange;
    }
    *(int *)field = (int)(neg ? -(int64_t)n : (int64_t)n);
    return NULL;
}

static const char *
set_string(void *field, const char *value)
{
    char *copy;

    if (has_ctl(value)) {
        return "control characters are not allowed";
    }
    copy = strdup(value);
    if (copy == NULL) {
        return "out of memory";
    }
    free(*(char **)field);
    *(char **)field = copy;
    return NULL;
}

const char *
pg_conf_string(const struct pg_directive *d, void *field, const char *value)
{
    return set_string(field, value);
}

const char *
pg_conf_pin_store(const struct pg_directive *d, void *field,
    const char *value)
{
    (void) d;
    if (strcmp(value, "lmdb") == 0
        || (strncmp(value, "lmdb:", 5) == 0 && value[5] != '\0')
        || strncmp(value, "postgresql://", 13) == 0
        || strncmp(value, "postgres://", 11) == 0)
    {
        return set_string(field, value);
    }
    return "expected lmdb, lmdb:DIR or postgresql://…";
}

const char *
pg_conf_path(const struct pg_directive *d, void *field, const char *value)
{
    if (*value == '\0') {
        return "empty path";
    }
    return set_string(field, value);
}

/* A DNS name (letters, digits, '-', '.'; labels 1-63), an IPv4 address or
 * a bracketed IPv6 address; len bytes of s. */
static int
host_ok(const char *s, size_t len)
{
    size_t i, label = 0;

    if (len == 0 || len > PG_CONF_MAX_HOSTNAME) {
        return 0;
    }
    if (s[0] == '[') {
        if (len < 3 || s[len - 1] != ']') {
            return 0;
        }
        for (i = 1; i < len - 1; i++) {
            if (!isxdigit((unsigned char)s[i]) && s[i] != ':'
                && s[i] != '.')
            {
                return 0;
            }
        }
        return 1;
    }
    for (i = 0; i < len; i++) {
        if (s[i] == '.') {
            if (label == 0) {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!isalnum((unsigned char)s[i]) && s[i] != '-') {
            return 0;
        }
        if (++label > 63) {
            return 0;
        }
    }
    return 1;
}

/* A file_hosts entry: host_ok's host, optionally ":PORT" (1-65535), and
 * libcurl's URL parser reads it the same way (origin.c); len bytes of s. */
static int
host_entry_ok(const char *s, size_t len)
{
    char buf[PG_CONF_MAX_HOSTNAME + 8];
    struct pg_origin o;
    const char *colon = NULL;
    size_t hlen = len, i;
    uint64_t port = 0;

    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);

        if (close == NULL) {
            return 0;
        }
        hlen = (size_t)(close - s) + 1;
        if (hlen < len) {
            colon = s + hlen;
        }
    } else {
        colon = memchr(s, ':', len);
        if (colon != NULL) {
            hlen = (size_t)(colon - s);
        }
    }
    if (!host_ok(s, hlen)) {
        return 0;
    }
    if (colon != NULL) {
        if (*colon != ':' || colon + 1 == s + len) {
            return 0;
        }
        for (i = 1; colon + i < s + len; i++) {
            if (!isdigit((unsigned char)colon[i]) || port > 65535) {
                return 0;
            }
            port = port * 10 + (uint64_t)(colon[i] - '0');
        }
        if (port < 1 || port > 65535) {
            return 0;
        }
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    return pg_origin_from_host_entry(buf, &o) == 0;
}

const char *
pg_conf_hostport(const struct pg_directive *d, void *field,
    const char *value)
{
    const char *colon = strrchr(value, ':');
    const char *end;
    uint64_t port;

    if (colon == NULL) {
        return "expected HOST:PORT";
    }
    if (!host_ok(value, (size_t)(colon - value))) {
        return "bad host (a name, an IPv4 address or [IPv6])";
    }
    if (read_uint(colon + 1, &port, &end) != 0 || *end != '\0'
        || port < 1 || port > 65535)
    {
        return "bad port (1 to 65535)";
    }
    return set_string(field, value);
}

/* Parses an absolute URL with libcurl's URL API and checks its scheme
 * against schemes (NULL-terminated).  creds: userinfo allowed.  On success
 * stores the URL (with a '/' path at least) in *field. */
static const char *
set_url(void *field, const char *value, const char *const *schemes,
    int creds, int need_slash)
{
    CURLU *u;
    char *scheme = NULL, *host = NULL, *part = NULL, *path = NULL;
    const char *reason = NULL;
    char buf[PG_CONFIG_MAX_VALUE + 2];
    size_t i, len;

    if (has_ctl(value) || strchr(value, ' ') != NULL) {
        return "white space or control characters in URL";
    }
    len = strlen(value);
    if (len > PG_CONFIG_MAX_VALUE) {
        return "URL too long";
    }
    u = curl_url();
    if (u == NULL) {
        return "out of memory";
    }
    if (curl_url_set(u, CURLUPART_URL, value, CURLU_NON_SUPPORT_SCHEME)
        != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
    {
        reason = "not an absolute URL";
        goto done;
    }
    for (i = 0; schemes[i] != NULL; i++) {
        if (strcasecmp(scheme, schemes[i]) == 0) {
            break;
        }
    }
    if (schemes[i] == NULL) {
        reason = schemes[1] != NULL && schemes[2] == NULL
            ? "scheme must be http or https" : "unsupported proxy scheme";
        goto done;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK
        || host[0] == '\0')
    {
        reason = "URL without a host";
        goto done;
    }
    if (!creds && curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK) {
        reason = pg_conf_ecreds;
        goto done;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK
        || curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK)
    {
        reason = "query or fragment in URL";
        goto done;
    }
    memcpy(buf, value, len + 1);
    if (need_slash && curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK
        && value[len - 1] != '/')
    {
        buf[len] = '/';
        buf[len + 1] = '\0';
    }
    reason = set_string(field, buf);
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(part);
    curl_free(path);
    curl_url_cleanup(u);
    return reason;
}

const char *
pg_conf_url(const struct pg_directive *d, void *field, const char *value)
{
    static const char *const schemes[] = { "http", "https", NULL };

    return set_url(field, value, schemes, 0, 1);
}

const char *
pg_conf_url_opt(const struct pg_directive *d, void *field, const char *value)
{
    if (*value == '\0') {
        return set_string(field, value);
    }
    return pg_conf_url(d, field, value);
}

const char *
pg_conf_proxy(const struct pg_directive *d, void *field, const char *value)
{
    static const char *const schemes[] = {
        "http", "https", "socks4", "socks4a", "socks5", "socks5h", NULL
    };

    return set_url(field, value, schemes, 1, 0);
}

const char *
pg_conf_hosts(const struct pg_directive *d, void *field, const char *value)
{
    char **hosts = field;
    size_t *np = (size_t *)((char *)field
        + sizeof(char *) * PG_CONFIG_MAX_HOSTS);
    char *tmp[PG_CONFIG_MAX_HOSTS];
    size_t n = 0, len, i;
    const char *p = value;

    while (*p != '\0') {
        while (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        len = strcspn(p, ", \t");
        if (!host_entry_ok(p, len)) {
            goto bad;
        }
        if (n == PG_CONFIG_MAX_HOSTS) {
            for (i = 0; i < n; i++) {
                free(tmp[i]);
            }
            return "too many hosts (at most 16)";
        }
        tmp[n] = strndup(p, len);
        if (tmp[n] == NULL) {
            goto nomem;
        }
        for (i = 0; i < len; i++) {
            tmp[n][i] = (char)tolower((unsigned char)tmp[n][i]);
        }
        n++;
        p += len;
    }
    if (n == 0) {
        return "expected at least one host";
    }
    for (i = 0; i < *np; i++) {
        free(hosts[i]);
        hosts[i] = NULL;
    }
    memcpy(hosts, tmp, n * sizeof(tmp[0]));
    *np = n;
    return NULL;
bad:
    for (i = 0; i < n; i++) {
        free(tmp[i]);
    }
    return "bad host (a name, an IPv4 address or [IPv6], optionally "
        ":PORT)";
nomem:
    for (i = 0; i < n; i++) {
        free(tmp[i]);
    }
    return "out of memory";
}

_Static_assert(PG_CONFIG_MAX_HOSTS == 16, "update the message above");

/* Reads one entry (len bytes at s: an address, optionally "/prefix") into
 * *net; NULL or a static reason. */
static const char *
cidr_parse(const char *s, size_t len, struct pg_client_net *net)
{
    char buf[INET6_ADDRSTRLEN + 8];
    const char *slash, *end;
    uint64_t prefix;
    size_t alen, i;
    int v4, max;
    unsigned char a4[4];

    memset(net, 0, sizeof(*net));
    if (len >= sizeof(buf)) {
        return "not an IPv4 or IPv6 address";
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    slash = strchr(buf, '/');
    alen = slash != NULL ? (size_t)(slash - buf) : len;
    buf[alen] = '\0';
    v4 = strchr(buf, ':') == NULL;
    if (v4) {
        if (inet_pton(AF_INET, buf, a4) != 1) {
            return "not an IPv4 or IPv6 address";
        }
        net->addr[10] = 0xff;
        net->addr[11] = 0xff;
        memcpy(net->addr + 12, a4, 4);
    } else if (inet_pton(AF_INET6, buf, net->addr) != 1) {
        return "not an IPv4 or IPv6 address";
    }
    max = v4 ? 32 : 128;
    prefix = (uint64_t)max;
    if (slash != NULL) {
        if (read_uint(slash + 1, &prefix, &end) != 0 || *end != '\0'
            || end - (slash + 1) > 3 || prefix > (uint64_t)max)
        {
            return "bad prefix length (0 to 32 for IPv4, 0 to 128 for "
                "IPv6)";
        }
    }
    net->prefix = (int)prefix + (v4 ? 96 : 0);
    for (i = 0; i < 16; i++) {
        int keep = net->prefix - (int)i * 8;
        unsigned char mask = keep >= 8 ? 0xff
            : keep <= 0 ? 0 : (unsigned char)(0xff << (8 - keep));

        if ((net->addr[i] & (unsigned char)~mask) != 0) {
            return "address has bits set beyond its prefix length "
                "(write the network address, e.g. 10.0.0.0/8)";
        }
    }
    return NULL;
}

/* Adds value's entries to nets (unchanged on failure). */
static const char *
cidrs_add(struct pg_client_nets *nets, const char *value)
{
    struct pg_client_nets tmp;
    const char *p = value, *reason;
    size_t len, added = 0;

    memcpy(&tmp, nets, sizeof(tmp));
    while (*p != '\0') {
        while (*p == ',' || *p == ' ' || *p == '\t') {
            p++;
        }
        if (*p == '\0') {
            break;
        }
        len = strcspn(p, ", \t");
        if (tmp.n == PG_CONFIG_MAX_CLIENT_NETS) {
            return "too many entries (at most 64)";
        }
        reason = cidr_parse(p, len, &tmp.net[tmp.n]);
        if (reason != NULL) {
            return reason;
        }
        tmp.n++;
        added++;
        p += len;
    }
    if (added == 0) {
        return "expected at least one address or network";
    }
    memcpy(nets, &tmp, sizeof(tmp));
    return NULL;
}

_Static_assert(PG_CONFIG_MAX_CLIENT_NETS == 64, "update the messages");

const char *
pg_conf_cidrs(const struct pg_directive *d, void *field, const char *value)
{
    struct pg_client_nets *nets = field;
    struct pg_client_nets tmp;
    const char *reason;

    tmp.n = 0;
    reason = cidrs_add(&tmp, value);
    if (reason == NULL) {
        memcpy(nets, &tmp, sizeof(tmp));
    }
    return reason;
}

int
pg_config_client_allowed(const struct pg_client_nets *nets,
    const struct sockaddr *sa)
{
    unsigned char a[16];
    size_t i;
    int full, rest;

    if (nets->n == 0) {
        return 1;
    }
    if (sa == NULL) {
        return 0;
    }
    if (sa->sa_family == AF_INET) {
        memset(a, 0, 10);
        a[10] = 0xff;
        a[11] = 0xff;
        memcpy(a + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        /* an IPv4-mapped client is already in the entries' form */
        memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    } else {
        return 0;
    }
    for (i = 0; i < nets->n && i < PG_CONFIG_MAX_CLIENT_NETS; i++) {
        const struct pg_client_net *n = &nets->net[i];

        full = n->prefix / 8;
        rest = n->prefix % 8;
        if (memcmp(a, n->addr, (size_t)full) != 0) {
            continue;
        }
        if (rest != 0 && ((a[full] ^ n->addr[full])
            & (unsigned char)(0xff << (8 - rest))) != 0)
        {
            continue;
        }
        return 1;
    }
    return 0;
}

/* ---- upstreams: projects and mode ---- */

int
pg_config_normalize(const char *name, char *out, size_t outlen)
{
    size_t n = 0;
    int sep = 0;

    if (*name == '\0' || strlen(name) > PG_CONFIG_MAX_PROJECT
        || outlen == 0)
    {
        return -1;
    }
    for (; *name != '\0'; name++) {
        unsigned char ch = (unsigned char)*name;

        if (ch == '-' || ch == '_' || ch == '.') {
            sep = 1;
            continue;
        }
        if (!isalnum(ch)) {
            return -1;
        }
        if (n + (size_t)sep + 1 >= outlen) {
            return -1;
        }
        if (sep && n > 0) {
            out[n++] = '-';
        }
        sep = 0;
        out[n++] = (char)tolower(ch);
    }
    if (sep && n > 0) {
        if (n + 1 >= outlen) {
            return -1;
        }
        out[n++] = '-';     /* a trailing separator: "acme-*" */
    }
    if (n == 0) {
        return -1;
    }
    out[n] = '\0';
    return 0;
}

/* A leading separator is kept out by normalization; PEP 503 names start
 * with a letter or digit anyway, so "-x" is refused below. */
const char *
pg_conf_projects(const struct pg_directive *d, void *field,
    const char *value)
{
    struct pg_upstream_conf *u = field;
    struct pg_upstream_claim tmp[PG_CONFIG_MAX_CLAIMS];
    char word[PG_CONFIG_MAX_PROJECT + 2];
    size_t n = u->n_claims, len;
    int own_list = u->own_list;
    const char *p = value;

    (void)d;
    memcpy(tmp, u->claims, n * sizeof(tmp[0]));
    while (*p != '\0') {
        p += strspn(p, ", \t");
        if (*p == '\0') {
            break;
        }
        len = strcspn(p, ", \t");
        if (len == 5 && strncmp(p, "@list", 5) == 0) {
            own_list = 1;
            p += len;
            continue;
        }
        if (len >= sizeof(word)) {
            return "name too long";
        }
        memcpy(word, p, len);
        word[len] = '\0';
        p += len;
        if (n == PG_CONFIG_MAX_CLAIMS) {
            return "too many names (at most 64)";
        }
        memset(&tmp[n], 0, sizeof(tmp[n]));
        if (len > 0 && word[len - 1] == '*') {
            word[--len] = '\0';
            tmp[n].prefix = 1;
        }
        if (!isalnum((unsigned char)word[0]) || strchr(word, '*') != NULL
            || pg_config_normalize(word, tmp[n].name,
            sizeof(tmp[n].name)) != 0)
        {
            return "expected project names, prefixes such as acme-* "
                "(a name's start, then *) or @list";
        }
        if (!tmp[n].prefix
            && tmp[n].name[strlen(tmp[n].name) - 1] == '-')
        {
            return "a project name cannot end with -, _ or . (a prefix "
                "ends with *)";
        }
        n++;
    }
    if (n == u->n_claims && own_list == u->own_list) {
        return "expected at least one name, prefix or @list";
    }
    memcpy(u->claims, tmp, n * sizeof(tmp[0]));
    u->n_claims = n;
    u->own_list = own_list;
    return NULL;
}

_Static_assert(PG_CONFIG_MAX_CLAIMS == 64, "update the message above");

const char *
pg_conf_mode(const struct pg_directive *d, void *field, const char *value)
{
    static const char *const words[] = { "off", "tofu", "require", "allow" };
    size_t i;

    (void)d;
    for (i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(value, words[i]) == 0) {
            return set_string(field, value);
        }
    }
    return "expected off, tofu, require or allow";
}

int
pg_config_claims(const struct pg_upstream_conf *u, const char *norm)
{
    size_t i;

    for (i = 0; i < u->n_claims; i++) {
        const struct pg_upstream_claim *c = &u->claims[i];

        if (c->prefix ? strncmp(norm, c->name, strlen(c->name)) == 0
            : strcmp(norm, c->name) == 0)
        {
            return 1;
        }
    }
    return 0;
}

const struct pg_upstream_conf *
pg_config_upstream(const struct pg_config *cfg, const char *name)
{
    size_t i;

    for (i = 0; i < cfg->n_upstreams; i++) {
        if (strcmp(cfg->upstreams[i].name, name) == 0) {
            return &cfg->upstreams[i];
        }
    }
    return NULL;
}

/* ---- table helpers ---- */

/* 1 if row d may stand in section ("upstream:acme" for a private
 * upstream's section; NULL: a command-line flag, which sets [upstream]'s
 * and the other sections' rows). */
static int
row_fits(const struct pg_directive *d, const char *section)
{
    int named = section != NULL && strncmp(section, "upstream:", 9) == 0;

    if (strcmp(d->section, "upstream:") == 0) {
        return named;
    }
    if (section == NULL) {
        return 1;
    }
    if (strcmp(d->section, "upstream") == 0 && named) {
        return 1;
    }
    return strcmp(d->section, section) == 0;
}

/* The row named name that fits section, else the first row named name
 * (for the "belongs in" message), else -1. */
static int
row_index(const char *name, const char *section)
{
    size_t i;
    int first = -1;

    for (i = 0; i < pg_config_n_directives; i++) {
        if (strcmp(pg_config_directives[i].name, name) != 0) {
            continue;
        }
        if (row_fits(&pg_config_directives[i], section)) {
            return (int)i;
        }
        if (first < 0) {
            first = (int)i;
        }
    }
    return first;
}

/* Rows of [upstream] and [upstream:NAME] fill a struct pg_upstream_conf. */
static int
row_is_upstream(int row)
{
    return strncmp(pg_config_directives[row].section, "upstream", 8) == 0;
}

/* Runs row's parser on the field at base + offset (base: the config, or
 * for an upstream row the upstream's struct); on an out-of-range answer
 * also writes the allowed range into extra (else extra is ""). */
static const char *
apply(void *base, int row, const char *value, char *extra, size_t elen)
{
    const struct pg_directive *d = &pg_config_directives[row];
    const char *reason;

    extra[0] = '\0';
    reason = d->parse(d, (char *)base + d->offset, value);
    if (reason == pg_conf_erange) {
        format_range(d, extra, elen);
    }
    return reason;
}

/* A repeatable directive (allow_clients, projects) set again from the
 * same origin: its entries are added to the current ones. */
static const char *
apply_more(void *base, int row, const char *value, char *extra, size_t elen)
{
    const struct pg_directive *d = &pg_config_directives[row];

    extra[0] = '\0';
    if (d->parse == pg_conf_projects) {
        return pg_conf_projects(d, (char *)base + d->offset, value);
    }
    return cidrs_add((struct pg_client_nets *)((char *)base + d->offset),
        value);
}

/* The struct an upstream row of upstream up (index) fills, or the config
 * for other rows. */
static void *
row_base(struct pg_config *cfg, int row, int up)
{
    return row_is_upstream(row) ? (void *)&cfg->upstreams[up] : (void *)cfg;
}

static int *
row_origin(struct pg_config *cfg, int row, int up)
{
    return row_is_upstream(row) ? &cfg->upstreams[up].origin[row]
        : &cfg->origin[row];
}

static void
format_duration(int64_t ms, char *out, size_t olen)
{
    static const struct { const char *suffix; int64_t ms; } units[] = {
        { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
    };
    size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (ms != 0 && ms % units[i].ms == 0) {
            snprintf(out, olen, "%" PRId64 "%s", ms / units[i].ms,
                units[i].suffix);
            return;
        }
    }
    snprintf(out, olen, "%" PRId64 "ms", ms);
}

static void
format_bytes(int64_t b, char *out, size_t olen)
{
    static const char *const suffix[] = { "TiB", "GiB", "MiB", "KiB" };
    int i;

    for (i = 0; i < 4; i++) {
        int64_t mul = (int64_t)1 << (10 * (4 - i));

        if (b != 0 && b % mul == 0) {
            snprintf(out, olen, "%" PRId64 "%s", b / mul, suffix[i]);
            return;
        }
    }
    snprintf(out, olen, "%" PRId64, b);
}

static void
format_range(const struct pg_directive *d, char *out, size_t olen)
{
    char lo[32], hi[32];

    if (d->parse == pg_conf_duration) {
        format_duration(d->min, lo, sizeof(lo));
        format_duration(d->max, hi, sizeof(hi));
    } else if (d->parse == pg_conf_bytes) {
        format_bytes(d->min, lo, sizeof(lo));
        format_bytes(d->max, hi, sizeof(hi));
    } else {
        snprintf(lo, sizeof(lo), "%" PRId64, d->min);
        snprintf(hi, sizeof(hi), "%" PRId64, d->max);
    }
    snprintf(out, olen, " (%s to %s)", lo, hi);
}

static int
section_known(const char *name)
{
    size_t i;

    if (strncmp(name, "upstream:", 9) == 0) {
        return 1;       /* the name is checked on the header line */
    }
    for (i = 0; i < sizeof(pg_conf_sections) / sizeof(pg_conf_sections[0]);
        i++)
    {
        if (strcmp(pg_conf_sections[i], name) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- public API ---- */

void
pg_config_defaults(struct pg_config *cfg)
{
    char extra[96];
    size_t i;

    memset(cfg, 0, sizeof(*cfg));
    cfg->n_upstreams = 1;
    upstream_defaults(&cfg->upstreams[0], 1);
    for (i = 0; i < pg_config_n_directives; i++) {
        if (pg_config_directives[i].def == NULL
            || row_is_upstream((int)i))
        {
            continue;
        }
        if (apply(cfg, (int)i, pg_config_directives[i].def, extra,
            sizeof(extra)) != NULL)
        {
            /* A default the parser refuses is a bug in the table (the
             * tests parse every default); fail loudly. */
            fprintf(stderr, "provgate: bad default for %s\n",
                pg_config_directives[i].name);
            abort();
        }
    }
}

/* Fills u with the defaults of the upstream rows: those of "upstream"
 * rows for [upstream] (is_default), and for [upstream:NAME] those of
 * every upstream row except the URL (which it must name). */
static void
upstream_defaults(struct pg_upstream_conf *u, int is_default)
{
    char extra[96];
    size_t i;

    memset(u, 0, sizeof(*u));
    snprintf(u->name, sizeof(u->name), "%s", "default");
    for (i = 0; i < pg_config_n_directives; i++) {
        const struct pg_directive *d = &pg_config_directives[i];

        if (d->def == NULL || !row_is_upstream((int)i)
            || (is_default && strcmp(d->section, "upstream:") == 0)
            || (!is_default && strcmp(d->name, "upstream") == 0))
        {
            continue;
        }
        if (apply(u, (int)i, d->def, extra, sizeof(extra)) != NULL) {
            fprintf(stderr, "provgate: bad default for %s\n", d->name);
            abort();
        }
    }
}

/* A new [upstream:NAME] section (name: what follows "upstream:"): its
 * struct, with defaults; c->up points at it.  0, or -1 after ctx_error. */
static int
upstream_section(struct pg_conf_ctx *c, const char *name)
{
    struct pg_config *cfg = c->cfg;
    size_t i, n = strlen(name);

    c->up = -1;
    if (n == 0 || n > PG_CONFIG_MAX_UPSTREAM_NAME
        || name[strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-_")]
        != '\0')
    {
        return ctx_error(c, c->line, "[upstream:%.40s]: the name must be 1 "
            "to %d characters a-z, 0-9, - or _", name,
            PG_CONFIG_MAX_UPSTREAM_NAME) - 1;
    }
    if (strcmp(name, "default") == 0) {
        return ctx_error(c, c->line, "[upstream:default]: 'default' is "
            "the name of [upstream]") - 1;
    }
    for (i = 1; i < cfg->n_upstreams; i++) {
        if (strcmp(cfg->upstreams[i].name, name) == 0) {
            return ctx_error(c, c->line, "[upstream:%s]: duplicate section "
                "(first on line %d)", name, cfg->upstreams[i].line) - 1;
        }
    }
    if (cfg->n_upstreams == PG_CONFIG_MAX_UPSTREAMS) {
        return ctx_error(c, c->line, "[upstream:%s]: too many upstreams "
            "(at most %d)", name, PG_CONFIG_MAX_UPSTREAMS) - 1;
    }
    upstream_defaults(&cfg->upstreams[cfg->n_upstreams], 0);
    snprintf(cfg->upstreams[cfg->n_upstreams].name,
        sizeof(cfg->upstreams[0].name), "%s", name);
    cfg->upstreams[cfg->n_upstreams].line = c->line;
    c->up = (int)cfg->n_upstreams++;
    return 0;
}

static int
ctx_error(struct pg_conf_ctx *c, int line, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (c->err_line != 0) {
        return 0;
    }
    c->err_line = line;
    n = snprintf(c->msg, c->mlen, "%s:%d: ", c->path, line);
    if (n < 0 || (size_t)n >= c->mlen) {
        return 0;
    }
    va_start(ap, fmt);
    vsnprintf(c->msg + n, c->mlen - (size_t)n, fmt, ap);
    va_end(ap);
    return 0;
}

/* A NUL byte ends a line early for fgets and inih: the rest of that line,
 * or all of a file that starts with one, would be lost without a word and
 * provgate would run on defaults.  So a file holding one is refused
 * ("FILE:LINE: NUL byte"), before anything is parsed.  -1 if refused. */
static int
conf_refuse_nul(struct pg_conf_ctx *c)
{
    int ch, line = 1;

    while ((ch = getc(c->fp)) != EOF) {
        if (ch == '\0') {
            ctx_error(c, line, "NUL byte in the file (not a text file?)");
            return -1;
        }
        if (ch == '\n') {
            line++;
        }
    }
    if (ferror(c->fp) || fseek(c->fp, 0, SEEK_SET) != 0) {
        snprintf(c->msg, c->mlen, "%s: read error", c->path);
        c->err_line = -1;
        return -1;
    }
    return 0;
}

/* fgets for inih that counts lines, refuses over-long ones and checks
 * section headers. */
static char *
conf_reader(char *str, int num, void *stream)
{
    struct pg_conf_ctx *c = stream;
    size_t len;
    char *p, *close;

    if (fgets(str, num, c->fp) == NULL) {
        return NULL;
    }
    c->line++;
    len = strlen(str);
    if (len > 0 && str[len - 1] == '\n') {
        len--;
    } else if (!feof(c->fp)) {
        ctx_error(c, c->line, "line too long (at most %d characters)",
            PG_CONFIG_MAX_LINE);
        return NULL;
    }
    if (len > 0 && str[len - 1] == '\r') {
        len--;
    }
    if (len > PG_CONFIG_MAX_LINE) {
        ctx_error(c, c->line, "line too long (at most %d characters)",
            PG_CONFIG_MAX_LINE);
        return NULL;
    }
    c->indented = str[0] == ' ' || str[0] == '\t';
    p = str + strspn(str, " \t");
    if (*p == '[') {
        close = strchr(p, ']');
        if (close != NULL) {
            *close = '\0';
            if (!section_known(p + 1)) {
                ctx_error(c, c->line, "unknown section [%s]", p + 1);
                c->up = -1;
            } else if (strncmp(p + 1, "upstream:", 9) == 0) {
                upstream_section(c, p + 10);
            } else {
                c->up = strcmp(p + 1, "upstream") == 0 ? 0 : -1;
            }
            *close = ']';
        }
    }
    return str;
}

/* The claims a projects line just added (line 0) were written on line. */
static void
claims_locate(void *base, int row, int line)
{
    struct pg_upstream_conf *u = base;
    size_t i;

    if (pg_config_directives[row].parse != pg_conf_projects) {
        return;
    }
    for (i = 0; i < u->n_claims; i++) {
        if (u->claims[i].line == 0) {
            u->claims[i].line = line;
        }
    }
}

static int
on_directive(void *user, const char *section, const char *name,
    const char *value)
{
    struct pg_conf_ctx *c = user;
    const struct pg_directive *d;
    const char *reason;
    char extra[96];
    int row, *origin;
    void *base;

    if (c->indented) {
        return ctx_error(c, c->line, "indented line (continuation lines "
            "are not supported; remove the leading white space)");
    }
    if (name[strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_")]
        != '\0')
    {
        return ctx_error(c, c->line, "%s", pg_conf_esyntax);
    }
    if (!section_known(section)) {
        if (section[0] == '\0') {
            return ctx_error(c, c->line, "%s: outside a section (start "
                "with [server], [upstream], [cache] or [policy])", name);
        }
        return 0;   /* reported on its header line */
    }
    row = row_index(name, section);
    if (row < 0) {
        return ctx_error(c, c->line, "unknown directive '%s'", name);
    }
    d = &pg_config_directives[row];
    if (!row_fits(d, section)) {
        return ctx_error(c, c->line, "%s: belongs in [%s%s], not [%s]",
            name, d->section, strcmp(d->section, "upstream:") == 0
            ? "NAME" : "", section);
    }
    if (row_is_upstream(row) && c->up < 0) {
        return 0;   /* a bad [upstream:NAME] header, reported there */
    }
    origin = row_origin(c->cfg, row, c->up);
    base = row_base(c->cfg, row, c->up);
    if (*origin > 0 && (d->parse == pg_conf_cidrs
        || d->parse == pg_conf_projects))
    {
        reason = apply_more(base, row, value, extra, sizeof(extra));
        if (reason != NULL) {
            return ctx_error(c, c->line, "%s: %s%s: '%s'", name, reason,
                extra, SHOWN(reason, value));
        }
        claims_locate(base, row, c->line);
        return 1;   /* origin stays the first line */
    }
    if (*origin > 0) {
        return ctx_error(c, c->line, "%s: duplicate (first set on line %d)",
            name, *origin);
    }
    reason = apply(base, row, value, extra, sizeof(extra));
    if (reason != NULL) {
        return ctx_error(c, c->line, "%s: %s%s: '%s'", name, reason, extra,
            SHOWN(reason, value));
    }
    claims_locate(base, row, c->line);
    *origin = c->line;
    return 1;
}

int
pg_config_load(struct pg_config *cfg, const char *path, char *msg,
    size_t mlen)
{
    struct pg_conf_ctx c;
    int rc;

    memset(&c, 0, sizeof(c));
    c.up = -1;
    c.cfg = cfg;
    c.path = path;
    c.msg = msg;
    c.mlen = mlen;
    c.fp = fopen(path, "r");
    if (c.fp == NULL) {
        snprintf(msg, mlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    free(cfg->path);
    cfg->path = strdup(path);
    if (cfg->path == NULL) {
        fclose(c.fp);
        snprintf(msg, mlen, "%s: out of memory", path);
        return -1;
    }
    if (conf_refuse_nul(&c) != 0) {
        fclose(c.fp);
        return -1;
    }
    rc = ini_parse_stream(conf_reader, &c, on_directive, &c);
    if (c.err_line == 0 && ferror(c.fp)) {
        snprintf(msg, mlen, "%s: read error", path);
        c.err_line = -1;
    }
    fclose(c.fp);
    if (rc > 0 && (c.err_line == 0 || rc < c.err_line)) {
        c.err_line = 0;
        ctx_error(&c, rc, "%s", pg_conf_esyntax);
    }
    if (rc == -2 && c.err_line == 0) {
        snprintf(msg, mlen, "%s: out of memory", path);
        return -1;
    }
    return c.err_line != 0 ? -1 : 0;
}

int
pg_config_set(struct pg_config *cfg, const char *name, const char *value,
    char *msg, size_t mlen)
{
    char key[PG_CONF_MAX_NAME], flag[PG_CONF_MAX_NAME];
    const char *reason;
    char extra[96];
    size_t i, len = strlen(name);
    int row;

    if (len >= sizeof(key)) {
        snprintf(msg, mlen, "--%.32s…: unknown option", name);
        return -1;
    }
    for (i = 0; i <= len; i++) {
        key[i] = name[i] == '-' ? '_' : name[i];
        flag[i] = name[i] == '_' ? '-' : name[i];
    }
    row = row_index(key, NULL);
    if (row < 0 || !row_fits(&pg_config_directives[row], NULL)) {
        snprintf(msg, mlen, "--%s: unknown option", flag);
        return -1;
    }
    if (strlen(value) > PG_CONFIG_MAX_VALUE) {
        snprintf(msg, mlen, "--%s: value too long (at most %d characters)",
            flag, PG_CONFIG_MAX_VALUE);
        return -1;
    }
    if (*row_origin(cfg, row, 0) < 0
        && pg_config_directives[row].parse == pg_conf_cidrs)
    {
        reason = apply_more(row_base(cfg, row, 0), row, value, extra,
            sizeof(extra));
    } else {
        reason = apply(row_base(cfg, row, 0), row, value, extra,
            sizeof(extra));
    }
    if (reason != NULL) {
        snprintf(msg, mlen, "--%s: %s%s: '%s'", flag, reason, extra,
            SHOWN(reason, value));
        return -1;
    }
    *row_origin(cfg, row, 0) = -1;
    return 0;
}

/* Writes where row's value came from: "FILE:LINE: name: ", "--name: " or
 * "name: " (a default). */
static void
locate(const struct pg_config *cfg, const char *name, char *out,
    size_t olen)
{
    int row = row_index(name, NULL);
    int origin = row < 0 ? 0 : row_is_upstream(row)
        ? cfg->upstreams[0].origin[row] : cfg->origin[row];
    size_t i, n;

    if (origin > 0 && cfg->path != NULL) {
        snprintf(out, olen, "%s:%d: %s: ", cfg->path, origin, name);
    } else if (origin < 0) {
        n = (size_t)snprintf(out, olen, "--%s: ", name);
        for (i = 0; i < n && i < olen; i++) {
            if (out[i] == '_') {
                out[i] = '-';
            }
        }
    } else {
        snprintf(out, olen, "%s: ", name);
    }
}

static int
finish_error(const struct pg_config *cfg, const char *name, char *msg,
    size_t mlen, const char *reason)
{
    char where[PG_CONF_MAX_NAME + 256];

    locate(cfg, name, where, sizeof(where));
    snprintf(msg, mlen, "%s%s", where, reason);
    return -1;
}

/* An error about upstream u's directive name (NULL: about the section),
 * located at the line that set it, else at u's section header:
 * "FILE:LINE: [upstream:NAME]: name: reason".  [upstream]'s own go
 * through finish_error (flags and defaults have no line). */
static int
upstream_error(const struct pg_config *cfg, const struct pg_upstream_conf *u,
    const char *name, char *msg, size_t mlen, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int
upstream_error(const struct pg_config *cfg, const struct pg_upstream_conf *u,
    const char *name, char *msg, size_t mlen, const char *fmt, ...)
{
    int row = name != NULL ? row_index(name, "upstream:x") : -1;
    int line = row >= 0 && u->origin[row] > 0 ? u->origin[row] : u->line;
    char reason[320];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    snprintf(msg, mlen, "%s:%d: [upstream:%s]: %s%s%s",
        cfg->path != NULL ? cfg->path : "(config)", line, u->name,
        name != NULL ? name : "", name != NULL ? ": " : "", reason);
    return -1;
}

/* Upstream i's credentials, read from their file or environment
 * variables (upcred.c); an error names the directive's line. */
static int
upstream_cred(const struct pg_config *cfg, struct pg_upstream_conf *u,
    size_t i, char *msg, size_t mlen)
{
    const char *dir = "credentials_file";
    char why[PG_CONFIG_MAX_VALUE + 256];

    if (u->cred.file == NULL && u->cred.username_env == NULL
        && u->cred.password_env == NULL && u->cred.token_env == NULL)
    {
        return 0;
    }
    if (pg_config_cred_resolve(&u->cred, &dir, why, sizeof(why)) == 0) {
        return 0;
    }
    return i == 0 ? finish_error(cfg, dir, msg, mlen, why)
        : upstream_error(cfg, u, dir, msg, mlen, "%s", why);
}

/* 1 if claims a and b can both match one name. */
static int
claims_overlap(const struct pg_upstream_claim *a,
    const struct pg_upstream_claim *b)
{
    size_t la = strlen(a->name), lb = strlen(b->name);

    if (a->prefix && strncmp(a->name, b->name, la) == 0 && lb >= la) {
        return 1;
    }
    if (b->prefix && strncmp(b->name, a->name, lb) == 0 && la >= lb) {
        return 1;
    }
    return strcmp(a->name, b->name) == 0;
}

/* Each [upstream:NAME]: an upstream URL, http only with allow_http,
 * client_cert with client_key, something claimed; no claim of one
 * overlapping a claim of another (reported at the later line). */
static int
finish_upstreams(struct pg_config *cfg, char *msg, size_t mlen)
{
    size_t i, j, a, b;

    for (i = 0; i < cfg->n_upstreams; i++) {
        const struct pg_upstream_conf *u = &cfg->upstreams[i];

        if (upstream_cred(cfg, &cfg->upstreams[i], i, msg, mlen) != 0) {
            return -1;
        }
        if ((u->client_cert == NULL) != (u->client_key == NULL)) {
            if (i == 0) {
                return finish_error(cfg, u->client_cert != NULL
                    ? "client_cert" : "client_key", msg, mlen,
                    "client_cert and client_key must be set together");
            }
            return upstream_error(cfg, u, u->client_cert != NULL
                ? "client_cert" : "client_key", msg, mlen,
                "client_cert and client_key must be set together");
        }
        if (i == 0) {
            continue;
        }
        if (u->upstream == NULL) {
            return upstream_error(cfg, u, NULL, msg, mlen, "no upstream URL "
                "(upstream = https://HOST/simple/)");
        }
        if (strncasecmp(u->upstream, "http://", 7) == 0 && !u->allow_http) {
            return upstream_error(cfg, u, "upstream", msg, mlen, "plain-HTTP "
                "upstreams are allowed only when configured explicitly "
                "(allow_http = on)");
        }
        if (u->n_claims == 0 && !u->own_list) {
            return upstream_error(cfg, u, NULL, msg, mlen, "no projects "
                "(names, prefixes such as acme-* or @list): a private "
                "upstream serves only the names it owns");
        }
    }
    for (i = 1; i < cfg->n_upstreams; i++) {
        for (j = i + 1; j < cfg->n_upstreams; j++) {
            const struct pg_upstream_conf *u = &cfg->upstreams[i];
            const struct pg_upstream_conf *v = &cfg->upstreams[j];

            for (a = 0; a < u->n_claims; a++) {
                for (b = 0; b < v->n_claims; b++) {
                    const struct pg_upstream_claim *x = &u->claims[a];
                    const struct pg_upstream_claim *y = &v->claims[b];

                    if (!claims_overlap(x, y)) {
                        continue;
                    }
                    snprintf(msg, mlen, "%s:%d: [upstream:%s]: projects: "
                        "'%s%s' overlaps '%s%s' of [upstream:%s] (line %d):"
                        " a name comes from exactly one upstream",
                        cfg->path != NULL ? cfg->path : "(config)", y->line,
                        v->name, y->name, y->prefix ? "*" : "", x->name,
                        x->prefix ? "*" : "", u->name, x->line);
                    return -1;
                }
            }
        }
    }
    return 0;
}


int
pg_config_finish(struct pg_config *cfg, char *msg, size_t mlen)
{
    const char *colon, *h;
    size_t hlen, i;
    struct pg_origin origin;
    char buf[PG_CONFIG_MAX_VALUE + 32];
    struct pg_upstream_conf *u0 = &cfg->upstreams[0];

    if (cfg->n_upstreams == 0 || u0->upstream == NULL || cfg->listen == NULL
        || cfg->cache_dir == NULL)
    {
        snprintf(msg, mlen, "configuration has no defaults "
            "(pg_config_defaults first)");
        return -1;
    }
    if (strncasecmp(u0->upstream, "http://", 7) == 0 && !u0->allow_http) {
        return finish_error(cfg, "upstream", msg, mlen, "plain-HTTP "
            "upstreams are allowed only when configured explicitly "
            "(allow_http = on)");
    }
    if (finish_upstreams(cfg, msg, mlen) != 0) {
        return -1;
    }
    if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
        return finish_error(cfg, cfg->tls_cert ? "tls_cert" : "tls_key",
            msg, mlen, "tls_cert and tls_key must be set together");
    }

    /* listen -> listen_host, listen_port (the parser checked the form) */
    colon = strrchr(cfg->listen, ':');
    h = cfg->listen;
    hlen = (size_t)(colon - h);
    if (hlen >= 2 && h[0] == '[') {
        h++;
        hlen -= 2;
    }
    free(cfg->listen_host);
    cfg->listen_host = strndup(h, hlen);
    if (cfg->listen_host == NULL) {
        return finish_error(cfg, "listen", msg, mlen, "out of memory");
    }
    cfg->listen_port = (int)strtol(colon + 1, NULL, 10);

    if (cfg->public_url == NULL) {
        if (strcmp(cfg->listen_host, "0.0.0.0") == 0
            || strcmp(cfg->listen_host, "::") == 0)
        {
            cfg->public_url = strdup("");
        } else {
            snprintf(buf, sizeof(buf), "%s://%s/",
                cfg->tls_cert != NULL ? "https" : "http", cfg->listen);
            cfg->public_url = strdup(buf);
        }
        if (cfg->public_url == NULL) {
            return finish_error(cfg, "public_url", msg, mlen,
                "out of memory");
        }
    }

    /* The upstream's own origin is always allowed (upstream.c); the
     * default adds PyPI's file host. */
    if (pg_origin_from_url(u0->upstream, &origin, NULL) != 0) {
        return finish_error(cfg, "upstream", msg, mlen,
            "cannot read the URL's origin");
    }
    for (i = 1; i < cfg->n_upstreams; i++) {
        if (pg_origin_from_url(cfg->upstreams[i].upstream, &origin, NULL)
            != 0)
        {
            return upstream_error(cfg, &cfg->upstreams[i], "upstream", msg,
                mlen, "cannot read the URL's origin");
        }
    }
    if (u0->n_file_hosts == 0) {
        u0->file_hosts[0] = strdup("files.pythonhosted.org");
        if (u0->file_hosts[0] == NULL) {
            return finish_error(cfg, "file_hosts", msg, mlen,
                "out of memory");
        }
        u0->n_file_hosts = 1;
    }
    for (i = 0; i < u0->n_file_hosts; i++) {
        if (u0->file_hosts[i] == NULL) {
            return finish_error(cfg, "file_hosts", msg, mlen, "empty host");
        }
    }
    return 0;
}

void
pg_config_free(struct pg_config *cfg)
{
    size_t i, k;

    for (k = 0; k < cfg->n_upstreams && k < PG_CONFIG_MAX_UPSTREAMS; k++) {
        struct pg_upstream_conf *u = &cfg->upstreams[k];

        for (i = 0; i < u->n_file_hosts && i < PG_CONFIG_MAX_HOSTS; i++) {
            free(u->file_hosts[i]);
            u->file_hosts[i] = NULL;
        }
        u->n_file_hosts = 0;
    }
    for (i = 0; i < pg_config_n_directives; i++) {
        const struct pg_directive *d = &pg_config_directives[i];

        if (d->parse == pg_conf_string || d->parse == pg_conf_path
            || d->parse == pg_conf_hostport || d->parse == pg_conf_url
            || d->parse == pg_conf_url_opt || d->parse == pg_conf_proxy
            || d->parse == pg_conf_pin_store || d->parse == pg_conf_mode
            || d->parse == pg_conf_env)
        {
            if (!row_is_upstream((int)i)) {
                free(*(char **)((char *)cfg + d->offset));
                *(char **)((char *)cfg + d->offset) = NULL;
                continue;
            }
            for (k = 0; k < cfg->n_upstreams && k < PG_CONFIG_MAX_UPSTREAMS;
                k++)
            {
                char **f = (char **)((char *)&cfg->upstreams[k] + d->offset);

                free(*f);
                *f = NULL;
            }
        }
    }
    for (k = 0; k < PG_CONFIG_MAX_UPSTREAMS; k++) {
        pg_config_cred_clear(&cfg->upstreams[k].cred);
    }
    cfg->n_upstreams = 0;
    free(cfg->listen_host);
    cfg->listen_host = NULL;
    free(cfg->path);
    cfg->path = NULL;
}

void
pg_config_dump_reference(FILE *out)
{
    const char *section = "";
    size_t i;

    fprintf(out, "# provgate.conf directives (generated from the table in "
        "proxy/config.c)\n");
    for (i = 0; i < pg_config_n_directives; i++) {
        const struct pg_directive *d = &pg_config_directives[i];

        if (strcmp(section, d->section) != 0) {
            section = d->section;
            fprintf(out, "\n[%s%s]%s\n", section,
                strcmp(section, "upstream:") == 0 ? "NAME" : "",
                strcmp(section, "upstream:") == 0
                ? "  (private upstreams only)"
                : strcmp(section, "upstream") == 0
                ? "  (and every [upstream:NAME])" : "");
        }
        fprintf(out, "%s =%s%s\n    %s\n", d->name,
            d->def != NULL ? " " : "", d->def != NULL ? d->def : "",
            d->help);
    }
}
