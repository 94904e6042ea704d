/* proxy/core/config_int.h — provgate.conf: the server's configuration.
 *
 * The configuration is a table of directives (config.c: name, section,
 * parser, offsetof target, default, help), read with libinih.  Parsers are
 * shared (bool, duration, bytes, int with bounds, string, path, host:port,
 * URL, proxy URL, host list) and return NULL or a short reason; the loader
 * adds "FILE:LINE: directive: reason".
 * Command-line flags override the file (pg_config_set applies one
 * "name=value" the same way, with "--flag" as the location).
 *
 * Owns: its strings (pg_config_free).  Runs on: start-up, reload.
 * Spec: design §9, issue 2 item 2.
 */
#ifndef PG_CONFIG_INT_H
#define PG_CONFIG_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define PG_CONFIG_MAX_HOSTS 16      /* entries in file_hosts */
#define PG_CONFIG_MAX_LINE 196      /* characters per line (inih's buffer
                                       is 200 with CR, LF and NUL) */
#define PG_CONFIG_MAX_VALUE 196     /* characters of one value (flags) */
#define PG_CONFIG_MAX_DIRECTIVES 64 /* rows in the directive table */
#define PG_CONFIG_MAX_UPSTREAMS 16  /* [upstream] and [upstream:NAME] */
#define PG_CONFIG_MAX_UPSTREAM_NAME 32 /* characters of NAME */
#define PG_CONFIG_MAX_CLAIMS 64     /* names and prefixes per upstream
                                       (all its projects lines) */
#define PG_CONFIG_MAX_PROJECT 200   /* characters of a project name */
#define PG_CONFIG_MAX_CLIENT_NETS 64 /* entries in allow_clients (all its
                                       lines together) */

/* One allow_clients entry.  Every address is kept in the 16-byte IPv6
 * form: an IPv4 entry a.b.c.d/n is ::ffff:a.b.c.d/(96 + n), so that an
 * IPv4 client and an IPv4-mapped IPv6 client (::ffff:a.b.c.d, as a
 * dual-stack listener sees it) match the same entries. */
struct pg_client_net {
    unsigned char addr[16];     /* bits beyond prefix are zero */
    int prefix;                 /* 0 to 128 */
};

struct pg_client_nets {
    size_t n;                   /* 0 = every client is allowed */
    struct pg_client_net net[PG_CONFIG_MAX_CLIENT_NETS];
};

#define PG_UP_CRED_MAX_FILE 4096    /* bytes of a credentials_file */
#define PG_UP_CRED_MAX_VALUE 1024   /* a user name, password or token */

/* An upstream's credentials (issue 13 item 4): where they come from (the
 * directives) and, after pg_config_finish, what they are.  Part of the
 * upstream's configuration, so every upstream section has the same keys.
 * The secrets are sent only to the upstream's own origin (upstream.c)
 * and never written anywhere: logs, metrics, audit lines, messages and
 * --reference name at most the file or the variables. */
struct pg_up_cred {
    char *file;                 /* credentials_file: "username = …",
                                   "password = …" or "token = …" lines;
                                   must not be readable by group or
                                   others */
    char *username_env;         /* or these environment variables */
    char *password_env;
    char *token_env;
    char *username, *password;  /* resolved: HTTP Basic, or */
    char *token;                /* resolved: Authorization: Bearer */
};

/* One name or prefix a private upstream claims (projects = ...). */
struct pg_upstream_claim {
    char name[PG_CONFIG_MAX_PROJECT + 1];   /* PEP 503-normalized */
    int prefix;                 /* written "name*": every name starting
                                   with it */
    int line;                   /* where it was written (0: flag) */
};

/* One upstream: [upstream] (the default, name "default") or
 * [upstream:NAME] (a private one).  Every option of an upstream lives
 * here, so that each upstream carries its own URL, TLS settings, proxy,
 * timeouts and (private ones) the names it owns and its default mode.
 * The table rows of section "upstream" (both kinds) and "upstream:"
 * (private upstreams only) fill these fields. */
struct pg_upstream_conf {
    char name[PG_CONFIG_MAX_UPSTREAM_NAME + 1]; /* "default" or NAME */
    int line;                   /* its section header's line, 0: none */
    char *upstream;             /* index base, default
                                   https://pypi.org/simple/ for
                                   [upstream]; required in [upstream:NAME] */
    char *file_hosts[PG_CONFIG_MAX_HOSTS]; /* hosts files/redirects may come
                                   from; default: the upstream's host and
                                   (for [upstream] only)
                                   files.pythonhosted.org */
    size_t n_file_hosts;
    int allow_http;             /* plain-HTTP upstream only if set
                                   (default off) */
    char *http_proxy;           /* upstream HTTP proxy, optional */
    char *ca_bundle;            /* CA file for upstream TLS, optional */
    char *client_cert;          /* TLS client certificate (PEM), optional;
                                   needs client_key */
    char *client_key;           /* its private key (PEM) */
    int64_t connect_timeout_ms; /* default 10 s */
    int64_t timeout_ms;         /* whole index request, default 30 s */
    int64_t file_idle_timeout_ms; /* no bytes for this long aborts, 30 s */
    int max_upstream_connections; /* per host, default 16 */
    uint64_t max_json_bytes;    /* index page cap, default 64 MiB */
    struct pg_up_cred cred;     /* optional credentials (see there) */

    /* [upstream:NAME] only */
    struct pg_upstream_claim claims[PG_CONFIG_MAX_CLAIMS];
    size_t n_claims;
    int own_list;               /* projects = @list: every name its
                                   /simple/ list holds (refreshed on
                                   list_ttl) */
    char *mode;                 /* default policy mode of its projects:
                                   off (default), tofu, require, allow */
    char *trust_root;           /* Sigstore trusted_root.json its
                                   provenance is verified against;
                                   NULL: the [policy] one */

    int origin[PG_CONFIG_MAX_DIRECTIVES]; /* per table row, as in
                                   struct pg_config */
};

enum { PG_AUTH_OFF = 0, PG_AUTH_TOKEN = 1 };   /* [server] auth */


struct pg_config {
    /* [server] */
    char *listen;               /* "HOST:PORT", default 127.0.0.1:3141 */
    char *listen_host;          /* split from listen */
    int listen_port;
    char *public_url;           /* base for rewritten URLs; default
                                   http://<listen>/ (empty = from Host) */
    char *tls_cert, *tls_key;   /* optional TLS listener */
    char *access_log;           /* "-" = stderr (default) or a file */
    char *audit_log;            /* "-" = stderr (default) or a file */
    int64_t client_timeout_ms;  /* idle client connection, default 60 s */
    int max_connections;        /* default 1024 */
    int max_client_connections; /* per client address, default 128 (0:
                                   no limit) */
    int64_t client_header_timeout_ms; /* a request head, default 10 s */
    int serve_loops;            /* event loops serving clients; 0 (the
                                   default) = one per CPU core */
    uint64_t hot_table_max_bytes; /* hot table (serving threads), 256 MiB */
    struct pg_client_nets allow_clients; /* default empty = all */
    int auth;                   /* PG_AUTH_OFF (default) or _TOKEN */
    int auth_max_failures;      /* per address and minute, default 10 */
    char *metrics_token_file;   /* tokens /metrics needs, optional */

    /* [upstream] and [upstream:NAME]: upstreams[0] is [upstream], the
     * default (PyPI unless configured); the others are private upstreams,
     * in the order of their sections */
    struct pg_upstream_conf upstreams[PG_CONFIG_MAX_UPSTREAMS];
    size_t n_upstreams;         /* >= 1 */

    /* [cache] */
    char *cache_dir;            /* default ./var */
    uint64_t cache_max_bytes;   /* blob store cap, default 10 GiB */
    uint64_t page_cache_max_bytes; /* index pages in memory, 256 MiB */
    int64_t index_ttl_s;        /* project pages, default 600 */
    int64_t list_ttl_s;         /* /simple/ list, default 3600 */
    int stale_if_error;         /* default on */
    int64_t mismatch_hold_s;    /* refuse re-fetch after a hash mismatch,
                                   default 60 */
    uint64_t check_before_send; /* cold files up to this size are
                                   checked whole before the status line,
                                   default 16 MiB; 0: all stream */
    uint64_t scrub_rate;        /* blob bytes re-hashed per second by the
                                   background scrub, 0 = off */

    /* [policy] */
    char *policy_file;          /* optional; default: built-in tofu */
    char *trust_root;           /* optional file; default compiled-in */
    int staging;                /* use the compiled-in staging root */
    int64_t provenance_budget_ms;   /* default 5000 */
    int provenance_concurrency;     /* default 64 */
    int verify_threads;             /* 0: one per core */
    uint64_t provenance_max_bytes;  /* objects in memory, 128 MiB */
    char *pin_store;            /* "lmdb", "lmdb:DIR" or a PostgreSQL URI */

    /* [ui] */
    int ui;                     /* serve the operator pages under /-/
                                   (default off) */
    char *admin_token_file;     /* administrators' salted token hashes;
                                   unset: the pages are read-only */

    /* where the values came from, for messages */
    char *path;                 /* config file path or NULL */
    int origin[PG_CONFIG_MAX_DIRECTIVES]; /* per table row: 0 default,
                                   > 0 line in path, -1 command line */
};

/* One row of the directive table.  parse() reads value into the field at
 * (char *)cfg + offset and returns NULL or a short static reason; it may use
 * min/max (int: bounds; duration: milliseconds; bytes: bytes) and unit
 * (duration: 1 for a millisecond field, 1000 for a seconds field). */
struct pg_directive {
    const char *name;
    const char *section;        /* "server", "upstream" (in [upstream] and
                                   every [upstream:NAME]; offset into
                                   struct pg_upstream_conf), "upstream:"
                                   ([upstream:NAME] only; same), "cache",
                                   "policy", "ui" */
    const char *(*parse)(const struct pg_directive *d, void *field,
        const char *value);
    size_t offset;
    const char *def;            /* default as written in the file, NULL =
                                   unset (or derived in pg_config_finish) */
    const char *help;           /* one line */
    int64_t min, max;
    int64_t unit;
};

extern const struct pg_directive pg_config_directives[];
extern const size_t pg_config_n_directives;

/* The shared parsers (usable by other tables).  Each returns NULL on
 * success or a short static reason; on failure the field is unchanged.
 *  bool: on/off, yes/no, true/false, 1/0 -> int.
 *  duration: N with ms, s, m, h or d (bare N = seconds), within
 *    [min, max] ms, stored divided by unit -> int64_t.
 *  bytes: N with K, M, G, T (powers of 1000) or KiB, MiB, GiB, TiB
 *    (powers of 1024), bare N = bytes, within [min, max] -> uint64_t.
 *  int: decimal within [min, max] -> int.
 *  string: any text without control characters, strdup'd -> char *
 *    (the previous value is freed).
 *  path: as string, not empty.
 *  hostport: HOST:PORT or [IPv6]:PORT, port 1-65535 -> char *.
 *  url: http:// or https:// URL with a host, no query or fragment -> char *
 *    (a missing final '/' is added).
 *  url_opt: empty or a url -> char *.
 *  proxy: http, https, socks4, socks4a, socks5 or socks5h URL -> char *.
 *  hosts: host names separated by commas or spaces, at most
 *    PG_CONFIG_MAX_HOSTS, lower-cased -> the file_hosts array.
 *  cidrs: IPv4/IPv6 addresses and CIDR prefixes (a.b.c.d, a.b.c.d/n,
 *    x:y::z, x:y::/n) separated by commas or spaces, at least one, at
 *    most PG_CONFIG_MAX_CLIENT_NETS -> struct pg_client_nets (replaced).
 *    Read with inet_pton; a prefix is decimal, 0-32 (IPv4) or 0-128
 *    (IPv6); an address with bits set beyond its prefix (10.1.0.0/8) is
 *    refused, not masked, since it is most likely a typo.  In the file
 *    the directive may be repeated: each further line ADDS its entries
 *    (nginx's allow lines), the total still at most
 *    PG_CONFIG_MAX_CLIENT_NETS; a command-line value replaces the
 *    file's list (repeated flags add up the same way).
 *  projects: project names (PEP 503-normalized: "Acme_Tools" claims
 *    acme-tools), prefixes ("acme-*": every name starting with acme-)
 *    and "@list" (every name the upstream's /simple/ list holds),
 *    separated by commas or spaces, at most PG_CONFIG_MAX_CLAIMS; field
 *    is the struct pg_upstream_conf.  Repeated lines add up.
 *  mode: off, tofu, require or allow -> char *. */
const char *pg_conf_bool(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_duration(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_bytes(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_int(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_string(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_path(const struct pg_directive *d, void *field,
    const char *value);
/* env: an environment variable's name ([A-Za-z_][A-Za-z0-9_]*) ->
 * char *. */
const char *pg_conf_env(const struct pg_directive *d, void *field,
    const char *value);
/* auth: off or token -> int (PG_AUTH_*). */
const char *pg_conf_auth(const struct pg_directive *d, void *field,
    const char *value);
/* pin_store: lmdb, lmdb:DIR, postgresql://… or postgres://… -> char *. */
const char *pg_conf_pin_store(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_hostport(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_url(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_url_opt(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_proxy(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_hosts(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_cidrs(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_projects(const struct pg_directive *d, void *field,
    const char *value);
const char *pg_conf_mode(const struct pg_directive *d, void *field,
    const char *value);

/* PEP 503 normalization (lower-case, runs of "-", "_", "." become one
 * "-") of name into out; -1 if name is empty, longer than
 * PG_CONFIG_MAX_PROJECT or holds another character than [A-Za-z0-9._-]. */
int pg_config_normalize(const char *name, char *out, size_t outlen);
/* 1 if u claims the normalized project name by a name or a prefix of its
 * projects (not @list), else 0. */
int pg_config_claims(const struct pg_upstream_conf *u, const char *norm);
/* The upstream named name ("default" is upstreams[0]), or NULL. */
const struct pg_upstream_conf *pg_config_upstream(const struct pg_config *cfg,
    const char *name);

/* upcred.c: resolves c's secrets from its file or its environment
 * variables (a no-op when neither is set).  -1 with why (never holding a
 * secret) and *directive, the directive the message is about. */
int pg_config_cred_resolve(struct pg_up_cred *c, const char **directive,
    char *why, size_t wlen);
/* Wipes and frees the resolved secrets (not the directives' values). */
void pg_config_cred_clear(struct pg_up_cred *c);

/* 1 if the client address sa (AF_INET or AF_INET6; an IPv4-mapped IPv6
 * address counts as its IPv4 address) is in nets, or nets is empty; 0
 * otherwise (also for any other family).  Pure; runs on the loop per
 * request: at most PG_CONFIG_MAX_CLIENT_NETS comparisons of 16 bytes. */
struct sockaddr;
int pg_config_client_allowed(const struct pg_client_nets *nets,
    const struct sockaddr *sa);

/* Fills cfg with defaults (strings strdup'd).  Call first. */
void pg_config_defaults(struct pg_config *cfg);
/* Reads path over cfg.  On error writes "FILE:LINE: message" into msg and
 * returns -1 (the caller prints it and exits 2). */
int pg_config_load(struct pg_config *cfg, const char *path, char *msg,
    size_t mlen);
/* Sets one directive by name (as a command-line flag does; '-' and '_'
 * are the same: "cache-dir" = "cache_dir").  Overrides the file.  On error
 * writes "--name: message" into msg and returns -1. */
int pg_config_set(struct pg_config *cfg, const char *name, const char *value,
    char *msg, size_t mlen);
/* Checks the whole (cross-field rules: https upstream unless allow_http,
 * tls_cert and tls_key both or neither, client_cert and client_key both
 * or neither; every [upstream:NAME] has an upstream URL and projects, and
 * no two private upstreams claim the same name or overlapping prefixes)
 * and derives listen_host/port,
 * default file_hosts (the upstream's host and files.pythonhosted.org) and
 * default public_url (http(s)://listen/, or "" = from the request's Host
 * when listening on a wildcard address); -1 with a message on error,
 * located like the value it blames ("FILE:LINE: upstream: …",
 * "--upstream: …").  Call once, after load and flags. */
int pg_config_finish(struct pg_config *cfg, char *msg, size_t mlen);
void pg_config_free(struct pg_config *cfg);
/* Writes the option reference (every directive: section, name, default,
 * help) — used for docs and the test that conf/provgate.conf documents
 * every directive. */
void pg_config_dump_reference(FILE *out);

#endif
