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
#include "provenance_int.h"

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

/* Flag → directive name; NULL value means the flag takes no argument. */
static const struct {
    const char *flag;
    const char *directive;
    int has_value;
} serve_flags[] = {
    { "--listen", "listen", 1 },
    { "--upstream", "upstream", 1 },
    { "--cache-dir", "cache_dir", 1 },
    { "--policy", "policy", 1 },
    { "--trust-root", "trust_root", 1 },
    { "--allow-http", "allow_http", 0 },
};

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
    char pmsg[4096];                /* every FILE:LINE of a bad policy */
    const char *config = NULL;
    char msg[512], name[128];
    int i, rc;
    size_t k;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--reference") == 0) {
            pg_config_dump_reference(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "--config: needs a FILE\n");
                return 2;
            }
            config = argv[++i];
        }
    }
    raise_nofile();
    pg_config_defaults(&cfg);
    if (config != NULL && pg_config_load(&cfg, config, msg,
            sizeof(msg)) != 0)
    {
        fprintf(stderr, "%s\n", msg);
        pg_config_free(&cfg);
        return 2;
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--config") == 0) {
            i++;
            continue;
        }
        if (strcmp(a, "--set") == 0) {
            const char *eq = i + 1 < argc ? strchr(argv[i + 1], '=') : NULL;

            if (eq == NULL || (size_t)(eq - argv[i + 1]) >= sizeof(name))
            {
                fprintf(stderr, "--set: needs NAME=VALUE\n");
                pg_config_free(&cfg);
                return 2;
            }
            memcpy(name, argv[i + 1], (size_t)(eq - argv[i + 1]));
            name[eq - argv[i + 1]] = '\0';
            if (pg_config_set(&cfg, name, eq + 1, msg, sizeof(msg)) != 0) {
                fprintf(stderr, "%s\n", msg);
                pg_config_free(&cfg);
                return 2;
            }
            i++;
            continue;
        }
        for (k = 0; k < sizeof(serve_flags) / sizeof(serve_flags[0]); k++) {
            if (strcmp(a, serve_flags[k].flag) == 0) {
                break;
            }
        }
        if (k == sizeof(serve_flags) / sizeof(serve_flags[0])) {
            fprintf(stderr, "provgate serve: unknown argument '%s'\n", a);
            usage(stderr);
            pg_config_free(&cfg);
            return 2;
        }
        if (serve_flags[k].has_value && i + 1 >= argc) {
            fprintf(stderr, "%s: needs a value\n", a);
            pg_config_free(&cfg);
            return 2;
        }
        if (pg_config_set(&cfg, serve_flags[k].directive,
                serve_flags[k].has_value ? argv[++i] : "on", msg,
                sizeof(msg)) != 0)
        {
            fprintf(stderr, "%s\n", msg);
            pg_config_free(&cfg);
            return 2;
        }
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
    pg_server_set_hooks(s, &hooks);
    rc = pg_server_run(s);
    pg_prov_stop(prov);
    pg_server_free(s);
    pg_prov_free(prov);
    pg_config_free(&cfg);
    return rc == 0 ? 0 : 1;
}
