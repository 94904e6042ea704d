/* proxy/cli/cmd_upstreams.c — `provgate upstreams list|which`: the
 * configured upstreams and which one serves a project name.
 *
 * Both read the configuration as `serve` does (defaults, --config FILE,
 * pg_config_finish: a bad file exits 2 with FILE:LINE).  `which NAME`
 * normalizes the name (PEP 503) and asks the binding (core/bind.c) the
 * server uses; a private upstream with projects = @list owns the names of
 * its /simple/ list, which `which` reads from the server's cache (the
 * list the server fetched last, read-only, safe while it runs): when it is
 * not cached the answer is "unknown" (exit 1), never a guess.
 *
 * Output, one line: "NAME: UPSTREAM URL (how)", e.g.
 *   acme-tools: acme https://pypi.acme.internal/simple/ (prefix acme-*)
 * Exit status: 0 answered, 1 unknown or claimed by two lists, 2 usage or
 * configuration.
 *
 * Owns: the config, the binding and the cache handle it opens.
 * Runs on: the CLI.  Spec: issue 13 item 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bind_int.h"
#include "cmd_int.h"
#include "config_int.h"
#include "pg_cache.h"

enum up_flag { UP_CONFIG, UP_CACHE_DIR, UP_NFLAGS };

static const struct pg_cmd_flag up_flags[UP_NFLAGS] = {
    [UP_CONFIG] = { "config", 1 },
    [UP_CACHE_DIR] = { "cache-dir", 1 },
};

static int
up_usage(void)
{
    fprintf(stderr,
        "usage: provgate upstreams list [--config FILE]\n"
        "       provgate upstreams which NAME [--config FILE] "
        "[--cache-dir DIR]\n"
        "\n"
        "  list   every upstream: name, URL, the names it owns, its mode\n"
        "  which  the upstream that serves project NAME, and why; an\n"
        "         @list upstream's names are read from the cache (the\n"
        "         server's last copy of its /simple/ list)\n");
    return 2;
}

/* Upstream up's list as the server stored it (its "NAME:/" page) into
 * the binding.  0, or -1 if the cache or the page cannot be read. */
static int
load_cached_list(const struct pg_config *cfg, struct pg_bind *b, size_t up)
{
    struct pg_cache_options opt;
    struct pg_cache_err err;
    struct pg_cache *c = NULL;
    char key[PG_CONFIG_MAX_UPSTREAM_NAME + 4];
    void *val = NULL;
    size_t len = 0, i, n;
    json_t *rec, *projects, *e;
    const char **names;
    int rc = -1;

    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.dir = cfg->cache_dir;
    opt.read_only = 1;
    opt.use_recorded_cap = 1;
    if (pg_cache_open(&opt, &c, &err) != PG_CACHE_OK) {
        return -1;
    }
    snprintf(key, sizeof(key), "%s:/", cfg->upstreams[up].name);
    if (pg_cache_get(c, PG_CACHE_DB_INDEX, key, strlen(key), &val, &len,
        &err) != PG_CACHE_OK)
    {
        pg_cache_close(c);
        return -1;
    }
    rec = json_loadb(val, len, 0, NULL);
    free(val);
    pg_cache_close(c);
    projects = json_object_get(json_object_get(rec, "model"), "projects");
    n = json_array_size(projects);
    names = calloc(n > 0 ? n : 1, sizeof(*names));
    if (json_is_array(projects) && names != NULL) {
        size_t k = 0;

        json_array_foreach(projects, i, e) {
            const char *nm = json_string_value(json_object_get(e, "name"));

            if (nm != NULL) {
                names[k++] = nm;
            }
        }
        rc = pg_bind_set_list(b, up, names, k) < 0 ? -1 : 0;
    }
    free(names);
    json_decref(rec);
    return rc;
}

static void
print_list(const struct pg_config *cfg)
{
    size_t i, k;

    for (i = 0; i < cfg->n_upstreams; i++) {
        const struct pg_upstream_conf *u = &cfg->upstreams[i];

        printf("%s %s", u->name, u->upstream);
        if (i == 0) {
            printf(" (every name no private upstream owns)\n");
            continue;
        }
        printf(" mode=%s projects=", u->mode);
        for (k = 0; k < u->n_claims; k++) {
            printf("%s%s%s", k > 0 ? "," : "", u->claims[k].name,
                u->claims[k].prefix ? "*" : "");
        }
        printf("%s%s\n", u->own_list && u->n_claims > 0 ? "," : "",
            u->own_list ? "@list" : "");
    }
}

static int
which(const struct pg_config *cfg, const char *name)
{
    struct pg_bind *b = NULL;
    struct pg_binding w;
    char norm[PG_CONFIG_MAX_PROJECT + 2];
    size_t i;
    int rc = 0;

    if (pg_config_normalize(name, norm, sizeof(norm)) != 0
        || norm[strlen(norm) - 1] == '-')
    {
        fprintf(stderr, "provgate upstreams: '%s' is not a project name\n",
            name);
        return 2;
    }
    if (pg_bind_new(cfg, &b) != 0) {
        fprintf(stderr, "provgate upstreams: out of memory\n");
        return 1;
    }
    for (i = 1; i < cfg->n_upstreams; i++) {
        if (cfg->upstreams[i].own_list) {
            (void)load_cached_list(cfg, b, i);  /* absent: unknown below */
        }
    }
    pg_bind_which(b, norm, &w);
    switch (w.how) {
    case PG_BIND_DEFAULT:
        printf("%s: default %s (no private upstream owns it)\n", norm,
            cfg->upstreams[0].upstream);
        break;
    case PG_BIND_NAME:
    case PG_BIND_PREFIX:
        printf("%s: %s %s (%s %s)\n", norm, cfg->upstreams[w.up].name,
            cfg->upstreams[w.up].upstream, pg_bind_how_name(w.how),
            w.claim);
        break;
    case PG_BIND_LIST:
        printf("%s: %s %s (list: its /simple/ list holds it)\n", norm,
            cfg->upstreams[w.up].name, cfg->upstreams[w.up].upstream);
        break;
    case PG_BIND_UNKNOWN:
        printf("%s: unknown ([upstream:%s] owns the names of its /simple/ "
            "list, which is not in the cache %s yet)\n", norm,
            cfg->upstreams[w.up].name, cfg->cache_dir);
        rc = 1;
        break;
    case PG_BIND_CONFLICT:
        printf("%s: conflict (the lists of [upstream:%s] and "
            "[upstream:%s] both hold it: refused)\n", norm,
            cfg->upstreams[w.up].name, cfg->upstreams[w.other].name);
        rc = 1;
        break;
    }
    pg_bind_free(b);
    return rc;
}

int
pg_cmd_upstreams(int argc, char **argv)
{
    const char *val[UP_NFLAGS + 1] = { NULL };
    struct pg_cmd_values v = { val, UP_NFLAGS, up_usage };
    struct pg_config cfg;
    const char *action, *name = NULL;
    char bad[256], msg[512];
    int rc;

    if (argc < 2) {
        return up_usage();
    }
    action = argv[1];
    if (strcmp(action, "--help") == 0 || strcmp(action, "-h") == 0) {
        up_usage();
        return 0;
    }
    rc = pg_cmd_getopt(argc - 1, argv + 1, up_flags, UP_NFLAGS,
        pg_cmd_on_value, &v, bad, sizeof(bad));
    if (rc == PG_CMD_HELP) {
        up_usage();
        return 0;
    }
    if (rc == PG_CMD_UNKNOWN || rc == PG_CMD_NO_VALUE) {
        fprintf(stderr, "provgate upstreams: %s '%s'\n",
            rc == PG_CMD_UNKNOWN ? "unknown argument" : "needs a value:",
            bad);
        return up_usage();
    }
    if (rc != 0) {
        return rc;
    }
    name = val[UP_NFLAGS];
    if (strcmp(action, "which") == 0 ? name == NULL
        : strcmp(action, "list") != 0 || name != NULL)
    {
        return up_usage();
    }
    pg_config_defaults(&cfg);
    if ((val[UP_CONFIG] != NULL
        && pg_config_load(&cfg, val[UP_CONFIG], msg, sizeof(msg)) != 0)
        || (val[UP_CACHE_DIR] != NULL && pg_config_set(&cfg, "cache_dir",
        val[UP_CACHE_DIR], msg, sizeof(msg)) != 0)
        || pg_config_finish(&cfg, msg, sizeof(msg)) != 0)
    {
        fprintf(stderr, "%s\n", msg);
        pg_config_free(&cfg);
        return 2;
    }
    if (name != NULL) {
        rc = which(&cfg, name);
    } else {
        print_list(&cfg);
        rc = 0;
    }
    pg_config_free(&cfg);
    return rc;
}
