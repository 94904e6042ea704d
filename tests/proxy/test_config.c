/* tests/proxy/test_config.c — the directive table, its parsers, the loader.
 *
 * Each parser is driven at its limits (limit and limit + 1), the loader is
 * fed small files and its "FILE:LINE: message" compared exactly, flags
 * override the file, the cross-field rules of pg_config_finish refuse what
 * they must, and conf/provgate.conf is compared with the table.
 * argv[1], if given, is a cmocka test-name filter (one ctest per group).
 *
 * Owns: its temp files.  Runs on: the test process.
 * Spec: issue 2 items 2 and 8; design §9.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "config_int.h"

#ifndef PG_SOURCE_DIR
#error "PG_SOURCE_DIR must point at the checkout"
#endif

static char tmp_path[256];

static const struct pg_directive *
row(const char *name)
{
    size_t i;

    for (i = 0; i < pg_config_n_directives; i++) {
        if (strcmp(pg_config_directives[i].name, name) == 0) {
            return &pg_config_directives[i];
        }
    }
    fail_msg("no directive %s", name);
    return NULL;
}

/* Runs the parser of directive name on value into a fresh config. */
static const char *
parse(struct pg_config *cfg, const char *name, const char *value)
{
    const struct pg_directive *d = row(name);
    char *base = strncmp(d->section, "upstream", 8) == 0
        ? (char *)&cfg->upstreams[0] : (char *)cfg;

    return d->parse(d, base + d->offset, value);
}

static void
write_file(const char *text)
{
    const char *dir = getenv("TMPDIR");
    FILE *f;
    int fd;

    snprintf(tmp_path, sizeof(tmp_path), "%s/pgconfXXXXXX",
        dir != NULL ? dir : "/tmp");
    fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Loads text; returns the loader's result, message in msg. */
static int
load_text(struct pg_config *cfg, const char *text, char *msg, size_t mlen)
{
    int rc;

    write_file(text);
    pg_config_defaults(cfg);
    msg[0] = '\0';
    rc = pg_config_load(cfg, tmp_path, msg, mlen);
    unlink(tmp_path);
    return rc;
}

/* Asserts that loading text fails with "TMP:line: rest". */
static void
expect_load_error(const char *text, int line, const char *rest)
{
    struct pg_config cfg;
    char msg[512], want[512];

    assert_int_equal(load_text(&cfg, text, msg, sizeof(msg)), -1);
    snprintf(want, sizeof(want), "%s:%d: %s", tmp_path, line, rest);
    assert_string_equal(msg, want);
    pg_config_free(&cfg);
}

/* ---- parsers ---- */

static void
bool_parser_accepts_words_and_refuses_others(void **state)
{
    struct pg_config cfg;
    static const char *const yes[] = { "on", "ON", "yes", "true", "1" };
    static const char *const no[] = { "off", "Off", "no", "false", "0" };
    size_t i;

    pg_config_defaults(&cfg);
    for (i = 0; i < 5; i++) {
        cfg.upstreams[0].allow_http = 0;
        assert_null(parse(&cfg, "allow_http", yes[i]));
        assert_int_equal(cfg.upstreams[0].allow_http, 1);
        assert_null(parse(&cfg, "allow_http", no[i]));
        assert_int_equal(cfg.upstreams[0].allow_http, 0);
    }
    assert_string_equal(parse(&cfg, "allow_http", "maybe"),
        "expected on or off");
    assert_non_null(parse(&cfg, "allow_http", ""));
    assert_non_null(parse(&cfg, "allow_http", "2"));
    pg_config_free(&cfg);
}

static void
duration_parser_reads_every_unit(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "connect_timeout", "500ms"));
    assert_int_equal(cfg.upstreams[0].connect_timeout_ms, 500);
    assert_null(parse(&cfg, "connect_timeout", "30s"));
    assert_int_equal(cfg.upstreams[0].connect_timeout_ms, 30000);
    assert_null(parse(&cfg, "connect_timeout", "2m"));
    assert_int_equal(cfg.upstreams[0].connect_timeout_ms, 120000);
    assert_null(parse(&cfg, "connect_timeout", "7"));
    assert_int_equal(cfg.upstreams[0].connect_timeout_ms, 7000);
    assert_null(parse(&cfg, "index_ttl", "1h"));
    assert_int_equal(cfg.index_ttl_s, 3600);
    assert_null(parse(&cfg, "index_ttl", "2d"));
    assert_int_equal(cfg.index_ttl_s, 2 * 86400);
    assert_null(parse(&cfg, "index_ttl", "0"));
    assert_int_equal(cfg.index_ttl_s, 0);
    pg_config_free(&cfg);
}

static void
duration_parser_refuses_bad_forms(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_string_equal(parse(&cfg, "connect_timeout", "10x"),
        "unknown duration unit (use ms, s, m, h or d)");
    assert_non_null(parse(&cfg, "connect_timeout", ""));
    assert_non_null(parse(&cfg, "connect_timeout", "-1s"));
    assert_non_null(parse(&cfg, "connect_timeout", "1.5s"));
    assert_non_null(parse(&cfg, "connect_timeout", "s"));
    assert_non_null(parse(&cfg, "connect_timeout", "1 s"));
    assert_string_equal(parse(&cfg, "connect_timeout",
        "99999999999999999999d"),
        "expected a duration such as 500ms, 30s, 10m, 1h or 1d");
    assert_string_equal(parse(&cfg, "connect_timeout", "9999999999999999d"),
        "out of range");
    assert_string_equal(parse(&cfg, "index_ttl", "1500ms"),
        "must be a whole number of seconds");
    /* unchanged */
    assert_int_equal(cfg.upstreams[0].connect_timeout_ms, 10000);
    assert_int_equal(cfg.index_ttl_s, 600);
    pg_config_free(&cfg);
}

static void
duration_parser_enforces_bounds_at_the_limit(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    /* client_timeout: 1s to 1h */
    assert_null(parse(&cfg, "client_timeout", "1s"));
    assert_string_equal(parse(&cfg, "client_timeout", "999ms"),
        "out of range");
    assert_null(parse(&cfg, "client_timeout", "1h"));
    assert_string_equal(parse(&cfg, "client_timeout", "3600001ms"),
        "out of range");
    /* connect_timeout: 100ms to 10m */
    assert_null(parse(&cfg, "connect_timeout", "100ms"));
    assert_non_null(parse(&cfg, "connect_timeout", "99ms"));
    assert_null(parse(&cfg, "connect_timeout", "10m"));
    assert_non_null(parse(&cfg, "connect_timeout", "600001ms"));
    /* index_ttl: 0 to 30d */
    assert_null(parse(&cfg, "index_ttl", "30d"));
    assert_int_equal(cfg.index_ttl_s, 30 * 86400);
    assert_non_null(parse(&cfg, "index_ttl", "2592001s"));
    /* mismatch_hold: 0 to 1d */
    assert_null(parse(&cfg, "mismatch_hold", "86400"));
    assert_non_null(parse(&cfg, "mismatch_hold", "86401"));
    /* check_before_send: 0 (every file streams) to 1GiB */
    assert_null(parse(&cfg, "check_before_send", "0"));
    assert_int_equal(cfg.check_before_send, 0);
    assert_null(parse(&cfg, "check_before_send", "1GiB"));
    assert_int_equal(cfg.check_before_send, 1ULL << 30);
    assert_string_equal(parse(&cfg, "check_before_send", "1073741825"),
        "out of range");
    pg_config_free(&cfg);
}

static void
bytes_parser_reads_decimal_and_binary_units(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "max_json_bytes", "64MiB"));
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 64ULL << 20);
    assert_null(parse(&cfg, "max_json_bytes", "2K"));
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 2000);
    assert_null(parse(&cfg, "max_json_bytes", "3KiB"));
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 3072);
    assert_null(parse(&cfg, "max_json_bytes", "5M"));
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 5000000);
    assert_null(parse(&cfg, "max_json_bytes", "1G"));
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 1000000000);
    assert_null(parse(&cfg, "max_json_bytes", "1GiB"));
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 1ULL << 30);
    assert_null(parse(&cfg, "max_json_bytes", "123456"));
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 123456);
    assert_null(parse(&cfg, "cache_max_bytes", "2T"));
    assert_int_equal(cfg.cache_max_bytes, 2000000000000ULL);
    assert_null(parse(&cfg, "cache_max_bytes", "1TiB"));
    assert_int_equal(cfg.cache_max_bytes, 1ULL << 40);
    pg_config_free(&cfg);
}

static void
bytes_parser_refuses_bad_forms_and_enforces_bounds(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_string_equal(parse(&cfg, "max_json_bytes", "64mb"),
        "unknown size unit (use K, M, G, T or KiB, MiB, GiB, TiB)");
    assert_non_null(parse(&cfg, "max_json_bytes", "1 MiB"));
    assert_non_null(parse(&cfg, "max_json_bytes", ""));
    assert_non_null(parse(&cfg, "max_json_bytes", "-1"));
    assert_non_null(parse(&cfg, "max_json_bytes", "18446744073709551616"));
    assert_string_equal(parse(&cfg, "max_json_bytes", "17179869184TiB"),
        "out of range");
    /* max_json_bytes: 1KiB to 4GiB */
    assert_null(parse(&cfg, "max_json_bytes", "1024"));
    assert_string_equal(parse(&cfg, "max_json_bytes", "1023"),
        "out of range");
    assert_null(parse(&cfg, "max_json_bytes", "4GiB"));
    assert_string_equal(parse(&cfg, "max_json_bytes", "4294967297"),
        "out of range");
    /* cache_max_bytes: 1MiB to 1PiB */
    assert_null(parse(&cfg, "cache_max_bytes", "1MiB"));
    assert_non_null(parse(&cfg, "cache_max_bytes", "1048575"));
    assert_null(parse(&cfg, "cache_max_bytes", "1024TiB"));
    assert_non_null(parse(&cfg, "cache_max_bytes", "1125899906842625"));
    pg_config_free(&cfg);
}

static void
int_parser_enforces_bounds_at_the_limit(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "max_connections", "1"));
    assert_int_equal(cfg.max_connections, 1);
    assert_string_equal(parse(&cfg, "max_connections", "0"),
        "out of range");
    assert_null(parse(&cfg, "max_connections", "100000"));
    assert_int_equal(cfg.max_connections, 100000);
    assert_non_null(parse(&cfg, "max_connections", "100001"));
    assert_non_null(parse(&cfg, "max_connections", "-5"));
    assert_string_equal(parse(&cfg, "max_connections", "12a"),
        "expected a whole number");
    assert_non_null(parse(&cfg, "max_connections", ""));
    assert_non_null(parse(&cfg, "max_connections", "99999999999999999999"));
    assert_null(parse(&cfg, "provenance_concurrency", "256"));
    assert_non_null(parse(&cfg, "provenance_concurrency", "257"));
    assert_null(parse(&cfg, "max_upstream_connections", "1024"));
    assert_non_null(parse(&cfg, "max_upstream_connections", "1025"));
    assert_int_equal(cfg.max_connections, 100000);
    /* max_client_connections: 0 (no limit) to 100000, default 128 */
    pg_config_free(&cfg);
    pg_config_defaults(&cfg);
    assert_int_equal(cfg.max_client_connections, 128);
    assert_int_equal(cfg.client_header_timeout_ms, 10000);
    assert_null(parse(&cfg, "max_client_connections", "0"));
    assert_int_equal(cfg.max_client_connections, 0);
    assert_null(parse(&cfg, "max_client_connections", "100000"));
    assert_non_null(parse(&cfg, "max_client_connections", "100001"));
    assert_non_null(parse(&cfg, "max_client_connections", "-1"));
    /* client_header_timeout: 1s to 1h */
    assert_null(parse(&cfg, "client_header_timeout", "1s"));
    assert_int_equal(cfg.client_header_timeout_ms, 1000);
    assert_non_null(parse(&cfg, "client_header_timeout", "999ms"));
    assert_null(parse(&cfg, "client_header_timeout", "1h"));
    assert_non_null(parse(&cfg, "client_header_timeout", "3601s"));
    pg_config_free(&cfg);
}

static void
hostport_parser_accepts_names_ipv4_ipv6_and_refuses_the_rest(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "listen", "0.0.0.0:80"));
    assert_string_equal(cfg.listen, "0.0.0.0:80");
    assert_null(parse(&cfg, "listen", "[::1]:1"));
    assert_null(parse(&cfg, "listen", "proxy.example:65535"));
    assert_string_equal(parse(&cfg, "listen", "host"), "expected HOST:PORT");
    assert_non_null(parse(&cfg, "listen", ":80"));
    assert_string_equal(parse(&cfg, "listen", "host:0"),
        "bad port (1 to 65535)");
    assert_non_null(parse(&cfg, "listen", "host:65536"));
    assert_non_null(parse(&cfg, "listen", "host:http"));
    assert_non_null(parse(&cfg, "listen", "ho st:80"));
    assert_non_null(parse(&cfg, "listen", "[::1:80"));
    assert_non_null(parse(&cfg, "listen", "a..b:80"));
    assert_string_equal(cfg.listen, "proxy.example:65535");
    pg_config_free(&cfg);
}

static void
url_parser_accepts_http_and_https_only(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "upstream", "https://mirror.example/simple"));
    assert_string_equal(cfg.upstreams[0].upstream,
        "https://mirror.example/simple/");
    assert_null(parse(&cfg, "upstream", "http://127.0.0.1:8080/simple/"));
    assert_string_equal(cfg.upstreams[0].upstream,
        "http://127.0.0.1:8080/simple/");
    assert_string_equal(parse(&cfg, "upstream", "ftp://mirror.example/"),
        "scheme must be http or https");
    assert_non_null(parse(&cfg, "upstream", "file:///etc/passwd"));
    assert_non_null(parse(&cfg, "upstream", "mirror.example/simple/"));
    assert_non_null(parse(&cfg, "upstream", "https://"));
    assert_string_equal(parse(&cfg, "upstream", "https://u:p@h.example/"),
        "credentials in the URL are not supported (use credentials_file "
        "or username_env/password_env/token_env)");
    assert_string_equal(parse(&cfg, "upstream", "https://h.example/?x=1"),
        "query or fragment in URL");
    assert_non_null(parse(&cfg, "upstream", "https://h.example/#frag"));
    assert_non_null(parse(&cfg, "upstream", "https://h.example/a b"));
    assert_string_equal(cfg.upstreams[0].upstream,
        "http://127.0.0.1:8080/simple/");
    /* public_url may be empty (= from Host) */
    assert_null(parse(&cfg, "public_url", ""));
    assert_string_equal(cfg.public_url, "");
    assert_non_null(parse(&cfg, "upstream", ""));
    /* proxies: more schemes, credentials allowed */
    assert_null(parse(&cfg, "http_proxy", "socks5h://u:p@proxy:1080"));
    assert_null(parse(&cfg, "http_proxy", "http://proxy:3128"));
    assert_string_equal(parse(&cfg, "http_proxy", "ftp://proxy:21"),
        "unsupported proxy scheme");
    pg_config_free(&cfg);
}

static void
hosts_parser_holds_sixteen_hosts_and_refuses_seventeen(void **state)
{
    static const char *const bad_entries[] = {
        "a.example:0", "a.example:65536", "a.example:", ":443",
        "a.example:8x", "a.example:-1", "a@b.example", "a.example/x",
        "[::1]x", "[::1]:", "[::1", "a.example:443:1", "a%2e.example",
        "a.example:99999999999999999999",
    };
    struct pg_config cfg;
    char list[1024];
    size_t i, off = 0;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "file_hosts", "A.Example, files.example"));
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 2);
    assert_string_equal(cfg.upstreams[0].file_hosts[0], "a.example");
    assert_string_equal(cfg.upstreams[0].file_hosts[1], "files.example");
    for (i = 0; i < PG_CONFIG_MAX_HOSTS; i++) {
        off += (size_t)snprintf(list + off, sizeof(list) - off, "h%zu.ex ",
            i);
    }
    assert_null(parse(&cfg, "file_hosts", list));
    assert_int_equal(cfg.upstreams[0].n_file_hosts, PG_CONFIG_MAX_HOSTS);
    assert_string_equal(cfg.upstreams[0].file_hosts[15], "h15.ex");
    snprintf(list + off, sizeof(list) - off, "one.more");
    assert_string_equal(parse(&cfg, "file_hosts", list),
        "too many hosts (at most 16)");
    assert_int_equal(cfg.upstreams[0].n_file_hosts, PG_CONFIG_MAX_HOSTS);
    assert_string_equal(parse(&cfg, "file_hosts", "ok.example,bad_host"),
        "bad host (a name, an IPv4 address or [IPv6], optionally :PORT)");
    /* an entry may name its port (then only that port is allowed) */
    assert_null(parse(&cfg, "file_hosts",
        "Mirror.Example:8443, [::1]:1, [::1], 10.0.0.1:65535"));
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 4);
    assert_string_equal(cfg.upstreams[0].file_hosts[0], "mirror.example:8443");
    assert_string_equal(cfg.upstreams[0].file_hosts[1], "[::1]:1");
    for (i = 0; i < sizeof(bad_entries) / sizeof(bad_entries[0]); i++) {
        if (parse(&cfg, "file_hosts", bad_entries[i]) == NULL) {
            fail_msg("file_hosts = %s accepted", bad_entries[i]);
        }
    }
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 4);
    assert_non_null(parse(&cfg, "file_hosts", " , "));
    /* a DNS label holds 63 characters, not 64 */
    memset(list, 'a', 63);
    memcpy(list + 63, ".example", 9);
    assert_null(parse(&cfg, "file_hosts", list));
    memset(list, 'a', 64);
    memcpy(list + 64, ".example", 9);
    assert_non_null(parse(&cfg, "file_hosts", list));
    /* a host name holds 253 characters, not 254 */
    memset(list, 'a', 253);
    list[63] = list[127] = list[191] = '.';
    list[253] = '\0';
    assert_null(parse(&cfg, "file_hosts", list));
    assert_int_equal(strlen(cfg.upstreams[0].file_hosts[0]), 253);
    list[253] = 'a';
    list[254] = '\0';
    assert_non_null(parse(&cfg, "file_hosts", list));
    pg_config_free(&cfg);
}

static void
string_parsers_refuse_control_characters_and_empty_paths(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_string_equal(parse(&cfg, "cache_dir", ""), "empty path");
    assert_string_equal(parse(&cfg, "cache_dir", "a\tb"),
        "control characters are not allowed");
    assert_null(parse(&cfg, "cache_dir", "/var/cache/provgate"));
    assert_string_equal(cfg.cache_dir, "/var/cache/provgate");
    pg_config_free(&cfg);
}

/* ---- allow_clients ---- */

/* 1 if the textual address (IPv4 or IPv6) is allowed by cfg's list. */
static int
allowed(const struct pg_config *cfg, const char *addr)
{
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;

    memset(&v4, 0, sizeof(v4));
    memset(&v6, 0, sizeof(v6));
    if (inet_pton(AF_INET, addr, &v4.sin_addr) == 1) {
        v4.sin_family = AF_INET;
        return pg_config_client_allowed(&cfg->allow_clients,
            (const struct sockaddr *)&v4);
    }
    assert_int_equal(inet_pton(AF_INET6, addr, &v6.sin6_addr), 1);
    v6.sin6_family = AF_INET6;
    return pg_config_client_allowed(&cfg->allow_clients,
        (const struct sockaddr *)&v6);
}

static void
cidrs_parser_reads_ipv4_ipv6_and_prefixes(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_int_equal(cfg.allow_clients.n, 0);
    assert_true(allowed(&cfg, "192.0.2.1"));      /* empty: everyone */
    assert_true(allowed(&cfg, "2001:db8::1"));
    assert_null(parse(&cfg, "allow_clients",
        "127.0.0.1/32, 10.0.0.0/8, ::1, fd00::/8"));
    assert_int_equal(cfg.allow_clients.n, 4);
    assert_int_equal(cfg.allow_clients.net[0].prefix, 96 + 32);
    assert_int_equal(cfg.allow_clients.net[1].prefix, 96 + 8);
    assert_int_equal(cfg.allow_clients.net[2].prefix, 128);
    assert_int_equal(cfg.allow_clients.net[3].prefix, 8);
    assert_true(allowed(&cfg, "127.0.0.1"));
    assert_false(allowed(&cfg, "127.0.0.2"));
    assert_true(allowed(&cfg, "10.0.0.0"));
    assert_true(allowed(&cfg, "10.255.255.255"));
    assert_false(allowed(&cfg, "11.0.0.0"));
    assert_false(allowed(&cfg, "9.255.255.255"));
    assert_true(allowed(&cfg, "::1"));
    assert_false(allowed(&cfg, "::2"));
    assert_true(allowed(&cfg, "fd12:3456::7"));
    assert_false(allowed(&cfg, "fe00::1"));
    assert_false(allowed(&cfg, "2001:db8::1"));
    /* spaces only, a bare address, prefixes not on a byte boundary */
    assert_null(parse(&cfg, "allow_clients",
        "192.168.4.0/22 2001:db8:8000::/33\t198.51.100.7"));
    assert_int_equal(cfg.allow_clients.n, 3);
    assert_true(allowed(&cfg, "192.168.7.255"));
    assert_false(allowed(&cfg, "192.168.8.0"));
    assert_false(allowed(&cfg, "192.168.3.255"));
    assert_true(allowed(&cfg, "2001:db8:ffff::1"));
    assert_false(allowed(&cfg, "2001:db8:7fff::1"));
    assert_true(allowed(&cfg, "198.51.100.7"));
    assert_false(allowed(&cfg, "198.51.100.6"));
    /* /0 allows every address of its family form (all of them: IPv4 is
     * held as ::ffff:0:0/96, inside ::/0) */
    assert_null(parse(&cfg, "allow_clients", "0.0.0.0/0"));
    assert_true(allowed(&cfg, "203.0.113.9"));
    assert_true(allowed(&cfg, "::ffff:203.0.113.9"));
    assert_false(allowed(&cfg, "2001:db8::1"));
    assert_null(parse(&cfg, "allow_clients", "::/0"));
    assert_true(allowed(&cfg, "2001:db8::1"));
    pg_config_free(&cfg);
}

static void
cidrs_parser_matches_ipv4_mapped_clients_to_ipv4_entries(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "allow_clients", "10.0.0.0/8, 127.0.0.1"));
    /* a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d */
    assert_true(allowed(&cfg, "::ffff:10.1.2.3"));
    assert_true(allowed(&cfg, "::ffff:127.0.0.1"));
    assert_false(allowed(&cfg, "::ffff:11.1.2.3"));
    assert_false(allowed(&cfg, "::ffff:127.0.0.2"));
    /* not mapped: the IPv4-compatible form and NAT64 are other addresses */
    assert_false(allowed(&cfg, "::10.1.2.3"));
    assert_false(allowed(&cfg, "64:ff9b::10.1.2.3"));
    /* a mapped entry is the same as the IPv4 one */
    assert_null(parse(&cfg, "allow_clients", "::ffff:10.0.0.0/104"));
    assert_true(allowed(&cfg, "10.200.0.1"));
    assert_false(allowed(&cfg, "11.0.0.1"));
    /* an unknown family is never allowed by a non-empty list */
    {
        struct sockaddr sa;

        memset(&sa, 0, sizeof(sa));
        sa.sa_family = AF_UNIX;
        assert_false(pg_config_client_allowed(&cfg.allow_clients, &sa));
        assert_false(pg_config_client_allowed(&cfg.allow_clients, NULL));
    }
    pg_config_free(&cfg);
}

static void
cidrs_parser_refuses_bad_addresses_and_prefixes(void **state)
{
    struct pg_config cfg;
    static const char *const bad_addr[] = {
        "10.0.0", "10.0.0.256", "localhost", "10.0.0.1x", "fd00::g",
        "1:2:3:4:5:6:7:8:9", "/8", "010.0.0.1", "[::1]",
    };
    static const char *const bad_prefix[] = {
        "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8",
        "10.0.0.0/x", "::/0128", "10.0.0.0/ 8",
    };
    size_t i;

    pg_config_defaults(&cfg);
    assert_null(parse(&cfg, "allow_clients", "192.0.2.0/24"));
    for (i = 0; i < sizeof(bad_addr) / sizeof(bad_addr[0]); i++) {
        assert_string_equal(parse(&cfg, "allow_clients", bad_addr[i]),
            "not an IPv4 or IPv6 address");
    }
    for (i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
        const char *reason = parse(&cfg, "allow_clients", bad_prefix[i]);

        assert_non_null(reason);
        if (strcmp(bad_prefix[i], "10.0.0.0/ 8") != 0) {
            assert_string_equal(reason, "bad prefix length (0 to 32 for "
                "IPv4, 0 to 128 for IPv6)");
        }
    }
    /* the limits of the prefix: 32 and 128 in, 33 and 129 out (above) */
    assert_null(parse(&cfg, "allow_clients", "10.0.0.1/32, ::1/128"));
    /* host bits after the prefix are refused, not masked */
    assert_string_equal(parse(&cfg, "allow_clients", "10.1.0.0/8"),
        "address has bits set beyond its prefix length (write the network "
        "address, e.g. 10.0.0.0/8)");
    assert_non_null(parse(&cfg, "allow_clients", "192.168.4.1/22"));
    assert_non_null(parse(&cfg, "allow_clients", "fd00::1/8"));
    assert_non_null(parse(&cfg, "allow_clients", "2001:db8:c000::/33"));
    assert_null(parse(&cfg, "allow_clients", "2001:db8:8000::/33"));
    /* nothing at all */
    assert_string_equal(parse(&cfg, "allow_clients", ""),
        "expected at least one address or network");
    assert_non_null(parse(&cfg, "allow_clients", " , "));
    /* a bad entry anywhere leaves the list as it was */
    assert_non_null(parse(&cfg, "allow_clients", "10.0.0.0/8, bogus"));
    assert_int_equal(cfg.allow_clients.n, 1);
    assert_true(allowed(&cfg, "2001:db8:8000::1"));
    pg_config_free(&cfg);
}

static void
cidrs_parser_holds_sixty_four_entries_and_refuses_sixty_five(void **state)
{
    struct pg_config cfg;
    char list[2048];
    size_t i, off = 0;

    pg_config_defaults(&cfg);
    for (i = 0; i < PG_CONFIG_MAX_CLIENT_NETS; i++) {
        off += (size_t)snprintf(list + off, sizeof(list) - off,
            "10.0.%zu.0/24, ", i);
    }
    assert_null(parse(&cfg, "allow_clients", list));
    assert_int_equal(cfg.allow_clients.n, PG_CONFIG_MAX_CLIENT_NETS);
    assert_true(allowed(&cfg, "10.0.63.9"));
    assert_false(allowed(&cfg, "10.0.64.9"));
    snprintf(list + off, sizeof(list) - off, "::1");
    assert_string_equal(parse(&cfg, "allow_clients", list),
        "too many entries (at most 64)");
    assert_int_equal(cfg.allow_clients.n, PG_CONFIG_MAX_CLIENT_NETS);
    assert_false(allowed(&cfg, "::1"));
    pg_config_free(&cfg);
}

static void
loader_adds_up_repeated_allow_clients_lines_to_the_limit(void **state)
{
    struct pg_config cfg;
    char text[4096], msg[512], want[512];
    size_t i, off;

    /* 64 entries on 8 lines of 8: accepted, in order */
    off = (size_t)snprintf(text, sizeof(text), "[server]\n");
    for (i = 0; i < PG_CONFIG_MAX_CLIENT_NETS; i++) {
        off += (size_t)snprintf(text + off, sizeof(text) - off, "%s10.%zu."
            "0.0/16%s", i % 8 == 0 ? "allow_clients = " : ", ", i,
            i % 8 == 7 ? "\n" : "");
    }
    assert_int_equal(load_text(&cfg, text, msg, sizeof(msg)), 0);
    assert_int_equal(cfg.allow_clients.n, PG_CONFIG_MAX_CLIENT_NETS);
    assert_true(allowed(&cfg, "10.0.1.1"));
    assert_true(allowed(&cfg, "10.63.1.1"));
    assert_false(allowed(&cfg, "10.64.1.1"));
    assert_int_equal(cfg.origin[row("allow_clients")
        - pg_config_directives], 2);           /* its first line */
    pg_config_free(&cfg);

    /* a 65th on a ninth line: FILE:LINE of that line */
    snprintf(text + off, sizeof(text) - off, "allow_clients = ::1\n");
    assert_int_equal(load_text(&cfg, text, msg, sizeof(msg)), -1);
    snprintf(want, sizeof(want), "%s:10: allow_clients: too many entries "
        "(at most 64): '::1'", tmp_path);
    assert_string_equal(msg, want);
    pg_config_free(&cfg);

    expect_load_error("[server]\nallow_clients = 10.0.0.0/8\n"
        "allow_clients = 10.0.0.0/33\n", 3, "allow_clients: bad prefix "
        "length (0 to 32 for IPv4, 0 to 128 for IPv6): '10.0.0.0/33'");
    expect_load_error("[server]\nallow_clients = 10.1.0.0/8\n", 2,
        "allow_clients: address has bits set beyond its prefix length "
        "(write the network address, e.g. 10.0.0.0/8): '10.1.0.0/8'");
    expect_load_error("[upstream]\nallow_clients = ::1\n", 2,
        "allow_clients: belongs in [server], not [upstream]");
}

static void
flags_replace_the_file_allow_clients_and_add_up(void **state)
{
    struct pg_config cfg;
    char msg[512];

    assert_int_equal(load_text(&cfg, "[server]\n"
        "allow_clients = 10.0.0.0/8\n", msg, sizeof(msg)), 0);
    assert_true(allowed(&cfg, "10.1.1.1"));
    assert_int_equal(pg_config_set(&cfg, "allow-clients", "127.0.0.1", msg,
        sizeof(msg)), 0);
    assert_int_equal(cfg.allow_clients.n, 1);
    assert_false(allowed(&cfg, "10.1.1.1"));
    assert_true(allowed(&cfg, "127.0.0.1"));
    assert_int_equal(pg_config_set(&cfg, "allow_clients", "::1", msg,
        sizeof(msg)), 0);
    assert_int_equal(cfg.allow_clients.n, 2);
    assert_true(allowed(&cfg, "127.0.0.1"));
    assert_true(allowed(&cfg, "::1"));
    assert_int_equal(pg_config_set(&cfg, "allow_clients", "10.0.0.0/4",
        msg, sizeof(msg)), -1);
    assert_string_equal(msg, "--allow-clients: address has bits set beyond "
        "its prefix length (write the network address, e.g. 10.0.0.0/8): "
        "'10.0.0.0/4'");
    assert_int_equal(cfg.allow_clients.n, 2);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    pg_config_free(&cfg);
}

static void
defaults_match_the_documented_values(void **state)
{
    struct pg_config cfg;

    pg_config_defaults(&cfg);
    assert_string_equal(cfg.listen, "127.0.0.1:3141");
    assert_string_equal(cfg.upstreams[0].upstream, "https://pypi.org/simple/");
    assert_string_equal(cfg.cache_dir, "./var");
    assert_string_equal(cfg.access_log, "-");
    assert_int_equal(cfg.client_timeout_ms, 60000);
    assert_int_equal(cfg.max_connections, 1024);
    assert_int_equal(cfg.upstreams[0].allow_http, 0);
    assert_int_equal(cfg.upstreams[0].connect_timeout_ms, 10000);
    assert_int_equal(cfg.upstreams[0].timeout_ms, 30000);
    assert_int_equal(cfg.upstreams[0].file_idle_timeout_ms, 30000);
    assert_int_equal(cfg.upstreams[0].max_upstream_connections, 16);
    assert_int_equal(cfg.upstreams[0].max_json_bytes, 64ULL << 20);
    assert_int_equal(cfg.cache_max_bytes, 10ULL << 30);
    assert_int_equal(cfg.index_ttl_s, 600);
    assert_int_equal(cfg.list_ttl_s, 3600);
    assert_int_equal(cfg.stale_if_error, 1);
    assert_int_equal(cfg.mismatch_hold_s, 60);
    assert_int_equal(cfg.check_before_send, 16ULL << 20);
    assert_null(cfg.policy_file);
    assert_null(cfg.trust_root);
    assert_int_equal(cfg.staging, 0);
    assert_int_equal(cfg.provenance_budget_ms, 5000);
    assert_int_equal(cfg.provenance_concurrency, 64);
    assert_null(cfg.tls_cert);
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 0);
    assert_int_equal(cfg.allow_clients.n, 0);
    pg_config_free(&cfg);
}

/* ---- loader ---- */

static void
loader_reads_a_valid_file(void **state)
{
    struct pg_config cfg;
    char msg[512];

    assert_int_equal(load_text(&cfg,
        "; comment\n# comment\n[server]\nlisten = 0.0.0.0:8080 ; inline\n"
        "[upstream]\r\nupstream = http://127.0.0.1:9/simple/\r\n"
        "allow_http = yes\nfile_hosts = a.example,b.example\n"
        "[cache]\ncache_dir=/tmp/x\nindex_ttl = 5m\n"
        "[policy]\nprovenance_concurrency = 4\n[server]\nmax_connections=9\n",
        msg, sizeof(msg)), 0);
    assert_string_equal(cfg.listen, "0.0.0.0:8080");
    assert_string_equal(cfg.upstreams[0].upstream,
        "http://127.0.0.1:9/simple/");
    assert_int_equal(cfg.upstreams[0].allow_http, 1);
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 2);
    assert_string_equal(cfg.cache_dir, "/tmp/x");
    assert_int_equal(cfg.index_ttl_s, 300);
    assert_int_equal(cfg.provenance_concurrency, 4);
    assert_int_equal(cfg.max_connections, 9);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.listen_host, "0.0.0.0");
    assert_int_equal(cfg.listen_port, 8080);
    assert_string_equal(cfg.public_url, "");
    pg_config_free(&cfg);
}

static void
loader_reports_unknown_directive_with_file_and_line(void **state)
{
    expect_load_error("[server]\nlisten = 127.0.0.1:1\nlisen = x\n", 3,
        "unknown directive 'lisen'");
}

static void
loader_reports_unknown_section_even_when_empty(void **state)
{
    expect_load_error("[server]\n[serverz]\n[cache]\ncache_dir = x\n", 2,
        "unknown section [serverz]");
    expect_load_error("[bogus]\nlisten = 127.0.0.1:1\n", 1,
        "unknown section [bogus]");
}

static void
loader_reports_duplicate_with_first_line(void **state)
{
    expect_load_error("[server]\nlisten = 127.0.0.1:1\n\n"
        "listen = 127.0.0.1:2\n", 4,
        "listen: duplicate (first set on line 2)");
}

static void
loader_reports_bad_value_with_reason_and_range(void **state)
{
    expect_load_error("[upstream]\nconnect_timeout = 10x\n", 2,
        "connect_timeout: unknown duration unit (use ms, s, m, h or d): "
        "'10x'");
    expect_load_error("[upstream]\nconnect_timeout = 11m\n", 2,
        "connect_timeout: out of range (100ms to 10m): '11m'");
    expect_load_error("[cache]\ncache_max_bytes = 1K\n", 2,
        "cache_max_bytes: out of range (1MiB to 1024TiB): '1K'");
    expect_load_error("[server]\nmax_connections = 0\n", 2,
        "max_connections: out of range (1 to 100000): '0'");
}

static void
loader_reports_directive_in_wrong_section_or_outside(void **state)
{
    expect_load_error("[server]\ncache_dir = x\n", 2,
        "cache_dir: belongs in [cache], not [server]");
    expect_load_error("listen = 127.0.0.1:1\n", 1,
        "listen: outside a section (start with [server], [upstream], "
        "[cache] or [policy])");
}

static void
loader_reports_syntax_errors(void **state)
{
    expect_load_error("[server]\nlisten 127.0.0.1:1\n", 2,
        "syntax error (expected [section], name = value or a comment)");
    expect_load_error("[server\nlisten = 127.0.0.1:1\n", 1,
        "syntax error (expected [section], name = value or a comment)");
    expect_load_error("[server]\nlisten = 127.0.0.1:1\n  x\n", 3,
        "indented line (continuation lines are not supported; remove the "
        "leading white space)");
}

static void
loader_keeps_the_first_error(void **state)
{
    expect_load_error("[server]\nmax_connections = x\nbogus = 1\n", 2,
        "max_connections: expected a whole number: 'x'");
}

static void
loader_accepts_line_at_limit_and_refuses_limit_plus_one(void **state)
{
    struct pg_config cfg;
    char text[512], msg[512];
    const char *head = "[cache]\ncache_dir = ";
    size_t hl = strlen(head), vlen = PG_CONFIG_MAX_LINE - strlen(
        "cache_dir = ");

    memcpy(text, head, hl);
    memset(text + hl, 'd', vlen);
    memcpy(text + hl + vlen, "\n", 2);
    assert_int_equal(load_text(&cfg, text, msg, sizeof(msg)), 0);
    assert_int_equal(strlen(cfg.cache_dir), vlen);
    pg_config_free(&cfg);

    memset(text + hl, 'd', vlen + 1);
    memcpy(text + hl + vlen + 1, "\n[server]\n", 11);
    expect_load_error(text, 2, "line too long (at most 196 characters)");
}

/* A NUL byte would cut its line (or the whole file) short without a
 * word: the file is refused at the NUL's line. */
static void
loader_refuses_a_nul_byte_with_its_line(void **state)
{
    static const struct { const char *bytes; size_t len; int line; } t[] = {
        { "\0", 1, 1 },
        { "\0[server]\nlisten = 127.0.0.1:1\n", 31, 1 },
        { "[server]\nlisten = 127.0.0.1:1\0junk\n", 35, 2 },
        { "[server]\n\n\n\0", 12, 4 },
    };
    struct pg_config cfg;
    char msg[512], want[512];
    size_t i;
    FILE *f;

    for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        write_file("");
        f = fopen(tmp_path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(t[i].bytes, 1, t[i].len, f), t[i].len);
        fclose(f);
        pg_config_defaults(&cfg);
        assert_int_equal(pg_config_load(&cfg, tmp_path, msg, sizeof(msg)),
            -1);
        snprintf(want, sizeof(want), "%s:%d: NUL byte in the file (not a "
            "text file?)", tmp_path, t[i].line);
        assert_string_equal(msg, want);
        unlink(tmp_path);
        pg_config_free(&cfg);
    }
}

static void
loader_reports_missing_file(void **state)
{
    struct pg_config cfg;
    char msg[512];

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_load(&cfg, "/nonexistent/provgate.conf", msg,
        sizeof(msg)), -1);
    assert_string_equal(msg, "/nonexistent/provgate.conf: cannot open: "
        "No such file or directory");
    pg_config_free(&cfg);
}

/* ---- flags ---- */

static void
flags_override_the_file(void **state)
{
    struct pg_config cfg;
    char msg[512];

    assert_int_equal(load_text(&cfg, "[server]\nlisten = 127.0.0.1:1\n"
        "[cache]\ncache_dir = /from/file\n", msg, sizeof(msg)), 0);
    assert_int_equal(pg_config_set(&cfg, "listen", "127.0.0.1:2", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_set(&cfg, "cache-dir", "/from/flag", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_set(&cfg, "trust-root", "/tr.json", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_set(&cfg, "policy", "/p.ini", msg,
        sizeof(msg)), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:2");
    assert_string_equal(cfg.cache_dir, "/from/flag");
    assert_string_equal(cfg.trust_root, "/tr.json");
    assert_string_equal(cfg.policy_file, "/p.ini");
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_int_equal(cfg.listen_port, 2);
    assert_string_equal(cfg.public_url, "http://127.0.0.1:2/");
    pg_config_free(&cfg);
}

static void
flags_report_errors_with_the_flag_name(void **state)
{
    struct pg_config cfg;
    char msg[512], value[PG_CONFIG_MAX_VALUE + 2];

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_set(&cfg, "bogus", "1", msg, sizeof(msg)),
        -1);
    assert_string_equal(msg, "--bogus: unknown option");
    assert_int_equal(pg_config_set(&cfg, "connect_timeout", "soon", msg,
        sizeof(msg)), -1);
    assert_string_equal(msg, "--connect-timeout: expected a duration such "
        "as 500ms, 30s, 10m, 1h or 1d: 'soon'");
    memset(value, 'v', PG_CONFIG_MAX_VALUE);
    value[PG_CONFIG_MAX_VALUE] = '\0';
    assert_int_equal(pg_config_set(&cfg, "cache_dir", value, msg,
        sizeof(msg)), 0);
    value[PG_CONFIG_MAX_VALUE] = 'v';
    value[PG_CONFIG_MAX_VALUE + 1] = '\0';
    assert_int_equal(pg_config_set(&cfg, "cache_dir", value, msg,
        sizeof(msg)), -1);
    assert_string_equal(msg,
        "--cache-dir: value too long (at most 196 characters)");
    pg_config_free(&cfg);
}

/* ---- cross-field rules ---- */

static void
http_upstream_is_refused_unless_allowed(void **state)
{
    struct pg_config cfg;
    char msg[512], want[512];

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_set(&cfg, "upstream",
        "http://127.0.0.1:8080/simple/", msg, sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "--upstream: plain-HTTP upstreams are allowed "
        "only when configured explicitly (allow_http = on)");
    pg_config_free(&cfg);

    assert_int_equal(load_text(&cfg, "[upstream]\n\n"
        "upstream = http://mirror.example/simple/\n", msg, sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), -1);
    snprintf(want, sizeof(want), "%s:3: upstream: plain-HTTP upstreams are "
        "allowed only when configured explicitly (allow_http = on)",
        tmp_path);
    assert_string_equal(msg, want);
    pg_config_free(&cfg);

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_set(&cfg, "upstream",
        "http://127.0.0.1:8080/simple/", msg, sizeof(msg)), 0);
    assert_int_equal(pg_config_set(&cfg, "allow_http", "on", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 1);
    assert_string_equal(cfg.upstreams[0].file_hosts[0],
        "files.pythonhosted.org");
    pg_config_free(&cfg);
}

static void
tls_cert_and_key_go_together(void **state)
{
    struct pg_config cfg;
    char msg[512];

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_set(&cfg, "tls_cert", "/c.pem", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), -1);
    assert_string_equal(msg,
        "--tls-cert: tls_cert and tls_key must be set together");
    assert_int_equal(pg_config_set(&cfg, "tls_key", "/k.pem", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.public_url, "https://127.0.0.1:3141/");
    pg_config_free(&cfg);
}

static void
finish_derives_listen_and_default_file_hosts(void **state)
{
    struct pg_config cfg;
    char msg[512];

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.listen_host, "127.0.0.1");
    assert_int_equal(cfg.listen_port, 3141);
    assert_string_equal(cfg.public_url, "http://127.0.0.1:3141/");
    /* the upstream's own origin is allowed without being listed */
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 1);
    assert_string_equal(cfg.upstreams[0].file_hosts[0],
        "files.pythonhosted.org");
    pg_config_free(&cfg);

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_set(&cfg, "listen", "[::1]:8443", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_set(&cfg, "upstream",
        "https://FILES.pythonhosted.org/simple/", msg, sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.listen_host, "::1");
    assert_int_equal(cfg.listen_port, 8443);
    assert_string_equal(cfg.public_url, "http://[::1]:8443/");
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 1);
    assert_string_equal(cfg.upstreams[0].file_hosts[0],
        "files.pythonhosted.org");
    pg_config_free(&cfg);

    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_set(&cfg, "file_hosts", "only.example", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_int_equal(cfg.upstreams[0].n_file_hosts, 1);
    assert_string_equal(cfg.upstreams[0].file_hosts[0], "only.example");
    pg_config_free(&cfg);
}

/* ---- [upstream:NAME] ---- */

#define PRIV "[upstream:acme]\nupstream = https://pypi.acme.example/simple/\n"

/* Loads text (load and finish); returns 0 or -1 with the message. */
static int
load_finish(struct pg_config *cfg, const char *text, char *msg, size_t mlen)
{
    if (load_text(cfg, text, msg, mlen) != 0) {
        return -1;
    }
    return pg_config_finish(cfg, msg, mlen);
}

static void
upstreams_named_sections_carry_their_own_options(void **state)
{
    struct pg_config cfg;
    char msg[512];
    const struct pg_upstream_conf *u;

    (void)state;
    assert_int_equal(load_finish(&cfg, "[upstream]\n"
        "upstream = http://127.0.0.1:9/simple/\nallow_http = on\n"
        PRIV "projects = Acme_*, Internal.Tools\nprojects = @list\n"
        "timeout = 5s\nmode = tofu\n"
        "[upstream:b]\nupstream = http://127.0.0.1:8/\nallow_http = on\n"
        "projects = bee\nfile_hosts = files.b.example\n",
        msg, sizeof(msg)), 0);
    assert_int_equal(cfg.n_upstreams, 3);
    assert_string_equal(cfg.upstreams[0].name, "default");
    assert_int_equal(cfg.upstreams[0].timeout_ms, 30000);
    u = pg_config_upstream(&cfg, "acme");
    assert_non_null(u);
    assert_string_equal(u->upstream, "https://pypi.acme.example/simple/");
    assert_int_equal(u->timeout_ms, 5000);
    assert_int_equal(u->allow_http, 0);     /* not [upstream]'s */
    assert_int_equal(u->n_file_hosts, 0);   /* not files.pythonhosted.org */
    assert_string_equal(u->mode, "tofu");
    assert_int_equal(u->n_claims, 2);
    assert_string_equal(u->claims[0].name, "acme-");
    assert_int_equal(u->claims[0].prefix, 1);
    assert_int_equal(u->claims[0].line, 6);
    assert_string_equal(u->claims[1].name, "internal-tools");
    assert_int_equal(u->own_list, 1);
    assert_true(pg_config_claims(u, "acme-web"));
    assert_true(pg_config_claims(u, "internal-tools"));
    assert_false(pg_config_claims(u, "acme"));
    assert_false(pg_config_claims(u, "internal-tools2"));
    u = pg_config_upstream(&cfg, "b");
    assert_non_null(u);
    assert_string_equal(u->mode, "off");    /* the default */
    assert_int_equal(u->n_file_hosts, 1);
    assert_string_equal(u->file_hosts[0], "files.b.example");
    assert_null(pg_config_upstream(&cfg, "c"));
    pg_config_free(&cfg);
}

/* The reference says where the upstream rows may stand. */
static void
upstreams_reference_names_both_sections(void **state)
{
    char *ref = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&ref, &len);

    (void)state;
    assert_non_null(mem);
    pg_config_dump_reference(mem);
    fclose(mem);
    assert_non_null(strstr(ref, "\n[upstream]  (and every "
        "[upstream:NAME])\nupstream = https://pypi.org/simple/\n"));
    assert_non_null(strstr(ref, "\n[upstream:NAME]  (private upstreams "
        "only)\nprojects =\n"));
    free(ref);
}

/* Every bad [upstream:NAME] is refused with FILE:LINE. */
static void
upstreams_bad_sections_are_refused_with_file_and_line(void **state)
{
    static const struct {
        const char *name;
        const char *text;
        int line;
        const char *rest;
    } cases[] = {
        { "section without a URL", "[upstream:acme]\nprojects = acme-*\n",
          1, "[upstream:acme]: no upstream URL (upstream = "
          "https://HOST/simple/)" },
        { "section without projects", PRIV, 1, "[upstream:acme]: no "
          "projects (names, prefixes such as acme-* or @list): a private "
          "upstream serves only the names it owns" },
        { "two upstreams claim one name", PRIV "projects = tools\n"
          "[upstream:b]\nupstream = https://b.example/\n"
          "projects = x, Tools\n", 6, "[upstream:b]: projects: 'tools' "
          "overlaps 'tools' of [upstream:acme] (line 3): a name comes from "
          "exactly one upstream" },
        { "a prefix covers another's name", PRIV "projects = acme-*\n"
          "[upstream:b]\nupstream = https://b.example/\n"
          "projects = acme-tools\n", 6, "[upstream:b]: projects: "
          "'acme-tools' overlaps 'acme-*' of [upstream:acme] (line 3): a "
          "name comes from exactly one upstream" },
        { "nested prefixes", PRIV "projects = ac*\n"
          "[upstream:b]\nupstream = https://b.example/\n"
          "projects = acme-*\n", 6, "[upstream:b]: projects: 'acme-*' "
          "overlaps 'ac*' of [upstream:acme] (line 3): a name comes from "
          "exactly one upstream" },
        { "unknown key", PRIV "projects = a\ncolour = blue\n", 4,
          "unknown directive 'colour'" },
        { "private-only key in [upstream]", "[upstream]\nprojects = a\n", 2,
          "projects: belongs in [upstream:NAME], not [upstream]" },
        { "server key in [upstream:NAME]", PRIV "listen = 1.2.3.4:5\n", 3,
          "listen: belongs in [server], not [upstream:acme]" },
        { "bad name", "[upstream:Acme!]\n", 1, "[upstream:Acme!]: the name "
          "must be 1 to 32 characters a-z, 0-9, - or _" },
        { "default is reserved", "[upstream:default]\n", 1,
          "[upstream:default]: 'default' is the name of [upstream]" },
        { "duplicate section", PRIV "projects = a\n[upstream:acme]\n", 4,
          "[upstream:acme]: duplicate section (first on line 1)" },
        { "bad project word", PRIV "projects = acme-*-x*\n", 3,
          "projects: expected project names, prefixes such as acme-* (a "
          "name's start, then *) or @list: 'acme-*-x*'" },
        { "name ending in a separator", PRIV "projects = acme-\n", 3,
          "projects: a project name cannot end with -, _ or . (a prefix "
          "ends with *): 'acme-'" },
        { "bad mode", PRIV "projects = a\nmode = maybe\n", 4,
          "mode: expected off, tofu, require or allow: 'maybe'" },
        { "http without allow_http", "[upstream:acme]\n"
          "upstream = http://h.example/\nprojects = a\n", 2,
          "[upstream:acme]: upstream: plain-HTTP upstreams are allowed only "
          "when configured explicitly (allow_http = on)" },
        { "client_cert without client_key", PRIV "projects = a\n"
          "client_cert = /c.pem\n", 4, "[upstream:acme]: client_cert: "
          "client_cert and client_key must be set together" },
        { "duplicate key in a section", PRIV "projects = a\ntimeout = 1s\n"
          "timeout = 2s\n", 5, "timeout: duplicate (first set on line 4)" },
    };
    struct pg_config cfg;
    char msg[512], want[512];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = load_finish(&cfg, cases[i].text, msg, sizeof(msg));

        if (rc != -1) {
            fail_msg("%s: accepted", cases[i].name);
        }
        snprintf(want, sizeof(want), "%s:%d: %s", tmp_path, cases[i].line,
            cases[i].rest);
        if (strcmp(msg, want) != 0) {
            fail_msg("%s:\n got  %s\n want %s", cases[i].name, msg, want);
        }
        pg_config_free(&cfg);
        unlink(tmp_path);
    }
}

/* Flags set [upstream]; the private-only keys are no flags (trust_root
 * is [policy]'s). */
static void
upstreams_flags_set_the_default_upstream(void **state)
{
    struct pg_config cfg;
    char msg[512];

    (void)state;
    assert_int_equal(load_text(&cfg, PRIV "projects = a\n", msg,
        sizeof(msg)), 0);
    assert_int_equal(pg_config_set(&cfg, "timeout", "7s", msg, sizeof(msg)),
        0);
    assert_int_equal(cfg.upstreams[0].timeout_ms, 7000);
    assert_int_equal(cfg.upstreams[1].timeout_ms, 30000);
    assert_int_equal(pg_config_set(&cfg, "trust-root", "/t.json", msg,
        sizeof(msg)), 0);
    assert_string_equal(cfg.trust_root, "/t.json");
    assert_null(cfg.upstreams[1].trust_root);
    assert_int_equal(pg_config_set(&cfg, "projects", "x", msg,
        sizeof(msg)), -1);
    assert_string_equal(msg, "--projects: unknown option");
    pg_config_free(&cfg);
}

/* ---- conf/provgate.conf against the table ---- */

/* Collects "[section] name" pairs of lines "name = …" and "#name = …". */
static void
conf_documents_every_directive_and_nothing_else(void **state)
{
    char path[512], line[512], section[64] = "", msg[512];
    char *ref = NULL;
    size_t reflen = 0, i;
    int seen[PG_CONFIG_MAX_DIRECTIVES] = { 0 };
    int lineno = 0;
    struct pg_config cfg;
    FILE *f, *mem;

    /* the reference lists every row once, with its section */
    mem = open_memstream(&ref, &reflen);
    assert_non_null(mem);
    pg_config_dump_reference(mem);
    fclose(mem);
    for (i = 0; i < pg_config_n_directives; i++) {
        char want[128];

        snprintf(want, sizeof(want), "\n%s =",
            pg_config_directives[i].name);
        assert_non_null(strstr(ref, want));
        assert_non_null(strstr(ref, pg_config_directives[i].help));
    }
    free(ref);

    snprintf(path, sizeof(path), "%s/conf/provgate.conf", PG_SOURCE_DIR);
    f = fopen(path, "r");
    assert_non_null(f);
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line, name[64];
        size_t n;
        int commented = 0, named;
        const struct pg_directive *d = NULL;

        lineno++;
        if (line[0] == '[' || (line[0] == '#' && line[1] == '[')) {
            /* "#[upstream:NAME]": an example section, commented out */
            p = line + (line[0] == '#');
            n = strcspn(p + 1, "]");
            assert_true(n < sizeof(section));
            memcpy(section, p + 1, n);
            section[n] = '\0';
            continue;
        }
        if (*p == '#') {
            commented = 1;
            p++;
        }
        n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
        if (n == 0 || n >= sizeof(name) || strncmp(p + n, " =", 2) != 0) {
            assert_true(line[0] == ';' || line[0] == '\n');
            continue;
        }
        memcpy(name, p, n);
        name[n] = '\0';
        /* [upstream:NAME] documents its own rows ("upstream:"); it may
         * also show rows of [upstream] (documented there) */
        named = strncmp(section, "upstream:", 9) == 0;
        for (i = 0; i < pg_config_n_directives; i++) {
            if (strcmp(pg_config_directives[i].name, name) == 0) {
                d = &pg_config_directives[i];
                if (strcmp(d->section, named ? "upstream:" : section)
                    == 0 || (named && strcmp(d->section, "upstream") == 0))
                {
                    break;
                }
            }
        }
        if (d == NULL) {
            fail_msg("%s:%d: '%s' is not a directive", path, lineno, name);
        }
        if (named && strcmp(d->section, "upstream") == 0) {
            continue;
        }
        if (strcmp(d->section, named ? "upstream:" : section) != 0) {
            fail_msg("%s:%d: '%s' belongs in [%s]", path, lineno, name,
                d->section);
        }
        if (seen[i]) {
            fail_msg("%s:%d: '%s' documented twice", path, lineno, name);
        }
        seen[i] = lineno;
        /* a commented-out line shows the real default */
        if (commented && d->def != NULL) {
            char *v = p + n + 2;

            v += strspn(v, " ");
            v[strcspn(v, "\n")] = '\0';
            if (strcmp(v, d->def) != 0) {
                fail_msg("%s:%d: '%s' shows %s, default is %s", path,
                    lineno, name, v, d->def);
            }
        }
        /* every directive has a comment right above it */
    }
    fclose(f);
    for (i = 0; i < pg_config_n_directives; i++) {
        if (!seen[i]) {
            fail_msg("%s does not document '%s'", path,
                pg_config_directives[i].name);
        }
    }

    /* and the file itself is a valid configuration */
    pg_config_defaults(&cfg);
    assert_int_equal(pg_config_load(&cfg, path, msg, sizeof(msg)), 0);
    assert_int_equal(pg_config_finish(&cfg, msg, sizeof(msg)), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:3141");
    assert_string_equal(cfg.upstreams[0].upstream, "https://pypi.org/simple/");
    assert_string_equal(cfg.cache_dir, "./var");
    pg_config_free(&cfg);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bool_parser_accepts_words_and_refuses_others),
        cmocka_unit_test(duration_parser_reads_every_unit),
        cmocka_unit_test(duration_parser_refuses_bad_forms),
        cmocka_unit_test(duration_parser_enforces_bounds_at_the_limit),
        cmocka_unit_test(bytes_parser_reads_decimal_and_binary_units),
        cmocka_unit_test(bytes_parser_refuses_bad_forms_and_enforces_bounds),
        cmocka_unit_test(int_parser_enforces_bounds_at_the_limit),
        cmocka_unit_test(
            hostport_parser_accepts_names_ipv4_ipv6_and_refuses_the_rest),
        cmocka_unit_test(url_parser_accepts_http_and_https_only),
        cmocka_unit_test(
            hosts_parser_holds_sixteen_hosts_and_refuses_seventeen),
        cmocka_unit_test(
            string_parsers_refuse_control_characters_and_empty_paths),
        cmocka_unit_test(cidrs_parser_reads_ipv4_ipv6_and_prefixes),
        cmocka_unit_test(
            cidrs_parser_matches_ipv4_mapped_clients_to_ipv4_entries),
        cmocka_unit_test(cidrs_parser_refuses_bad_addresses_and_prefixes),
        cmocka_unit_test(
            cidrs_parser_holds_sixty_four_entries_and_refuses_sixty_five),
        cmocka_unit_test(defaults_match_the_documented_values),
        cmocka_unit_test(loader_reads_a_valid_file),
        cmocka_unit_test(loader_reports_unknown_directive_with_file_and_line),
        cmocka_unit_test(loader_reports_unknown_section_even_when_empty),
        cmocka_unit_test(loader_reports_duplicate_with_first_line),
        cmocka_unit_test(loader_reports_bad_value_with_reason_and_range),
        cmocka_unit_test(loader_reports_directive_in_wrong_section_or_outside),
        cmocka_unit_test(loader_reports_syntax_errors),
        cmocka_unit_test(loader_keeps_the_first_error),
        cmocka_unit_test(loader_refuses_a_nul_byte_with_its_line),
        cmocka_unit_test(
            loader_accepts_line_at_limit_and_refuses_limit_plus_one),
        cmocka_unit_test(loader_reports_missing_file),
        cmocka_unit_test(
            loader_adds_up_repeated_allow_clients_lines_to_the_limit),
        cmocka_unit_test(flags_override_the_file),
        cmocka_unit_test(flags_report_errors_with_the_flag_name),
        cmocka_unit_test(flags_replace_the_file_allow_clients_and_add_up),
        cmocka_unit_test(http_upstream_is_refused_unless_allowed),
        cmocka_unit_test(tls_cert_and_key_go_together),
        cmocka_unit_test(finish_derives_listen_and_default_file_hosts),
        cmocka_unit_test(conf_documents_every_directive_and_nothing_else),
        cmocka_unit_test(upstreams_named_sections_carry_their_own_options),
        cmocka_unit_test(
            upstreams_bad_sections_are_refused_with_file_and_line),
        cmocka_unit_test(upstreams_flags_set_the_default_upstream),
        cmocka_unit_test(upstreams_reference_names_both_sections),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
