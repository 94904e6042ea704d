/* proxy/cli/cmd_serve.c — `provgate serve`: flags, configuration, the server.
 *
 * Flags override the configuration file whatever their order: --config is
 * read first, then every other flag is applied with pg_config_set (the
 * same parsers as the file, "--name" as the location in messages).
 * Bad configuration prints "FILE:LINE: message" (or "--flag: message") on
 * stderr and exits 2, as does a damaged cache state ("FILE: damaged
 * (...)", issue 10); a server that cannot start (port busy, cache
 * directory unusable) exits 1.
 *
 * Owns: the config and the server for the process's life.
 * Runs on: start-up, then the loop.  Spec: issue 2 item 2, design §9.
 */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cmd_int.h"
#include "config_int.h"
#include "pg_proxy.h"
#include "guard_int.h"
#include "provenance_int.h"
#include "ui_route_int.h"

static void
usage(FILE *out)
{
    fprintf(out,
        "usage: provgate serve [--config FILE] [--listen HOST:PORT]\n"
        "         [--upstream URL] [--cache-dir DIR] [--policy FILE]\n"
        "         [--trust-root FILE] [--allow-http] [--set NAME=VALUE]...\n"
        "\n"
        "Runs the caching, verifying proxy.  Flags override the file;\n"
        "--set sets any directive of the configuration file by name.\n"
        "'provgate serve --reference' prints every directive.\n");
}

/* The flags; those after SERVE_REFERENCE set the directive of the same
 * row in serve_directives ("on" for one that takes no value). */
enum serve_flag {
    SERVE_CONFIG, SERVE_SET, SERVE_REFERENCE, SERVE_LISTEN, SERVE_UPSTREAM,
    SERVE_CACHE_DIR, SERVE_POLICY, SERVE_TRUST_ROOT, SERVE_ALLOW_HTTP,
    SERVE_NFLAGS
};

static const struct pg_cmd_flag serve_flags[SERVE_NFLAGS] = {
    [SERVE_CONFIG] = { "config", 1 },
    [SERVE_SET] = { "set", 1 },
    [SERVE_REFERENCE] = { "reference", 0 },
    [SERVE_LISTEN] = { "listen", 1 },
    [SERVE_UPSTREAM] = { "upstream", 1 },
    [SERVE_CACHE_DIR] = { "cache-dir", 1 },
    [SERVE_POLICY] = { "policy", 1 },
    [SERVE_TRUST_ROOT] = { "trust-root", 1 },
    [SERVE_ALLOW_HTTP] = { "allow-http", 0 },
};

static const char *const serve_directives[SERVE_NFLAGS] = {
    [SERVE_LISTEN] = "listen",
    [SERVE_UPSTREAM] = "upstream",
    [SERVE_CACHE_DIR] = "cache_dir",
    [SERVE_POLICY] = "policy",
    [SERVE_TRUST_ROOT] = "trust_root",
    [SERVE_ALLOW_HTTP] = "allow_http",
};

struct serve_args {
    struct pg_config *cfg;          /* NULL: the first pass */
    const char *config;
    int reference;
};

/* First pass: --config and --reference; second pass (cfg loaded): every
 * other flag applied in order. */
static int
serve_on_arg(void *arg, int flag, const char *v)
{
    struct serve_args *a = arg;
    char msg[512], name[128];
    const char *eq;

    if (a->cfg == NULL) {
        if (flag == SERVE_CONFIG) {
            a->config = v;
        } else if (flag == SERVE_REFERENCE) {
            a->reference = 1;
        }
        return 0;
    }
    if (flag == SERVE_CONFIG || flag == SERVE_REFERENCE) {
        return 0;
    }
    if (flag < 0) {
        fprintf(stderr, "provgate serve: unknown argument '%s'\n", v);
        usage(stderr);
        return 2;
    }
    if (flag == SERVE_SET) {
        eq = strchr(v, '=');
        if (eq == NULL || (size_t) (eq - v) >= sizeof(name)) {
            fprintf(stderr, "--set: needs NAME=VALUE\n");
            return 2;
        }
        memcpy(name, v, (size_t) (eq - v));
        name[eq - v] = '\0';
        v = eq + 1;
    } else {
        snprintf(name, sizeof(name), "%s", serve_directives[flag]);
        v = serve_flags[flag].has_value ? v : "on";
    }
    if (pg_config_set(a->cfg, name, v, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "%s\n", msg);
        return 2;
    }
    return 0;
}

/* The first pass's answer to the user: 0 go on, else the exit status. */
static int
serve_scan(int argc, char **argv, struct serve_args *a)
{
    char bad[256];
    int rc;

    rc = pg_cmd_getopt(argc, argv, serve_flags, SERVE_NFLAGS, serve_on_arg,
        a, bad, sizeof(bad));
    if (rc == PG_CMD_HELP) {
        usage(stdout);
        return -1;
    }
    if (rc == PG_CMD_UNKNOWN) {
        fprintf(stderr, "provgate serve: unknown argument '%s'\n", bad);
        usage(stderr);
        return 2;
    }
    if (rc == PG_CMD_NO_VALUE) {
        fprintf(stderr, "%s: needs %s\n", bad, strcmp(bad, "--config") == 0
            ? "a FILE" : strcmp(bad, "--set") == 0 ? "NAME=VALUE"
            : "a value");
        return 2;
    }
    if (a->reference) {
        pg_config_dump_reference(stdout);
        return -1;
    }
    return rc;
}

/* Client connections (max_connections, default 1024), upstream sockets and
 * the open-blob cache all need descriptors: the soft limit (often 1024) is
 * raised to the hard one, as nginx's worker_rlimit_nofile does. */
static void
raise_nofile(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int
pg_cmd_serve(int argc, char **argv)
{
    struct pg_config cfg;
    struct pg_server *s = NULL;
    struct pg_proxy_hooks hooks;
    struct pg_ctx ctx;
    struct pg_prov *prov = NULL;
    struct pg_guard *guard = NULL;
    struct pg_uisrv *ui = NULL;
    char pmsg[4096];                /* every FILE:LINE of a bad policy */
    struct serve_args sa;
    char msg[512], name[256];
    int rc;

    memset(&sa, 0, sizeof(sa));
    rc = serve_scan(argc, argv, &sa);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    raise_nofile();
    pg_config_defaults(&cfg);
    if (sa.config != NULL && pg_config_load(&cfg, sa.config, msg,
            sizeof(msg)) != 0)
    {
        fprintf(stderr, "%s\n", msg);
        pg_config_free(&cfg);
        return 2;
    }
    sa.cfg = &cfg;
    rc = pg_cmd_getopt(argc, argv, serve_flags, SERVE_NFLAGS, serve_on_arg,
        &sa, name, sizeof(name));
    if (rc != 0) {
        pg_config_free(&cfg);
        return 2;
    }
    if (pg_config_finish(&cfg, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "%s\n", msg);
        pg_config_free(&cfg);
        return 2;
    }
    rc = pg_server_new(&cfg, &s, msg, sizeof(msg));
    if (rc != 0) {
        fprintf(stderr, "provgate: serve: %s\n", msg);
        pg_config_free(&cfg);
        return rc == PG_SERVER_EDAMAGED ? 2 : 1;
    }
    /* Provenance (issue "Serve only verified files") is built with the
     * server's context and answers through its hooks (pg_proxy.h). */
    pg_server_ctx(s, &ctx);
    if (pg_prov_new(&ctx, &hooks, &prov, pmsg, sizeof(pmsg)) != 0) {
        fprintf(stderr, "%s\n", pmsg);
        pg_server_free(s);
        pg_config_free(&cfg);
        return 2;
    }
    if (pg_guard_new(&ctx, pg_prov_audit(prov), &hooks, &guard) != 0) {
        fprintf(stderr, "provgate: serve: out of memory\n");
        pg_prov_stop(prov);
        pg_server_free(s);
        pg_prov_free(prov);
        pg_config_free(&cfg);
        return 1;
    }
    pg_server_set_hooks(s, &hooks);
    if (cfg.ui && pg_uisrv_new(s, prov, &ui, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "%s\n", msg);
        pg_prov_stop(prov);
        pg_guard_free(guard);
        pg_server_free(s);
        pg_prov_free(prov);
        pg_config_free(&cfg);
        return 2;
    }
    rc = pg_server_run(s);
    pg_prov_stop(prov);
    pg_guard_free(guard);
    pg_uisrv_free(ui);
    pg_server_free(s);
    pg_prov_free(prov);
    pg_config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
