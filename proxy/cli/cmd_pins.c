/* proxy/cli/cmd_pins.c — `provgate pins …`: administer TOFU pins.
 *
 *   provgate pins [--config FILE | --cache-dir DIR] [--pin-store URI]
 *                 [--audit-log DEST] CMD
 *     list [--json]                       every project's accepted publishers
 *     show PROJECT                        one project's pin and its history
 *                                         (exit 1: no pin)
 *     approve PROJECT --publisher SPEC [--by NAME] [--why TEXT]
 *     forget PROJECT [--why TEXT]         drop the pin (next sight re-pins)
 *     export                              pins and history as JSON (stdout)
 *     import FILE                         replace the pins of the projects
 *                                         named in FILE (export's format)
 *     migrate                             create/upgrade the store and copy
 *                                         an old cache's pins into it (once)
 *
 * The pins live in the pin store (pin_store of the configuration: LMDB
 * beside the cache by default, or PostgreSQL), which a running server has
 * open too: every change bumps the pins generation and appends a history
 * event, so servers stop reusing decisions made under the old pins
 * (design §7, §11).  Changes are written to the audit log (audit_log of
 * the configuration, stderr by default).
 *
 * Owns: the pin store, cache handle and audit log it opens.
 * Runs on: the CLI.  Spec: design §7, issue 4 item 3, issue 12.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "audit_int.h"
#include "cmd_int.h"
#include "config_int.h"
#include "pg_cache.h"
#include "pg_policy.h"
#include "provenance_int.h"

struct pins_cli {
    struct pg_config cfg;
    const char *cache_dir;
    const char *audit_dest;
    char uri[PG_PINS_MAX_URI + 1];
    const char *why;
    struct pg_pinstore *store;
    struct pg_audit *audit;
};

static void
pins_usage(FILE *out)
{
    fprintf(out,
        "usage: provgate pins [--config FILE | --cache-dir DIR] "
        "[--pin-store URI]\n"
        "                     [--audit-log DEST] COMMAND\n"
        "\n"
        "  list [--json]                          accepted publishers of "
        "every project\n"
        "  show PROJECT                           one project's pin and "
        "its history\n"
        "  approve PROJECT --publisher SPEC [--by NAME] [--why TEXT]\n"
        "                                         accept a publisher "
        "(--by defaults to $USER)\n"
        "  forget PROJECT [--why TEXT]            drop the pin; the next "
        "sight pins again\n"
        "  export                                 all pins and their "
        "history as JSON on stdout\n"
        "  import FILE                            replace the pins of the "
        "projects in FILE\n"
        "  migrate                                create or upgrade the "
        "pin store; copy an old\n"
        "                                         cache's pins into it "
        "(once)\n"
        "\n"
        "SPEC: github:OWNER/REPO:WORKFLOW[:ENV], gitlab:NS/PROJECT:PATH"
        "[:ENV], google:EMAIL.\n"
        "The pin store is the configuration's pin_store (default: "
        "pins.lmdb beside\ncache_dir, ./var); URI: lmdb:DIR or "
        "postgresql://….  Works while the server runs.\n");
}

static void
fmt_time(int64_t t, char *buf, size_t len)
{
    struct tm tm;
    time_t tt = (time_t) t;

    if (t < 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    {
        snprintf(buf, len, "-");
    }
}

static int
pins_open(struct pins_cli *cli, int write)
{
    struct pg_pinstore_opts opt;
    struct pg_policy_err err;
    char msg[256];

    memset(&opt, 0, sizeof(opt));
    memset(&err, 0, sizeof(err));
    opt.uri = cli->uri;
    opt.create = write;
    opt.read_only = !write;
    if (pg_pinstore_open(&opt, &cli->store, &err) != PG_POLICY_OK) {
        fprintf(stderr, "provgate: pins: pin store: %s\n", err.reason);
        return -1;
    }
    if (write && pg_audit_open(cli->audit_dest, &cli->audit, msg,
        sizeof(msg)) != 0)
    {
        fprintf(stderr, "provgate: pins: %s\n", msg);
        return -1;
    }
    return 0;
}

static int
pins_fail(const char *what, const struct pg_policy_err *err)
{
    fprintf(stderr, "provgate: pins: %s: %s: %s\n", what,
        err->step != NULL ? err->step : "pins", err->reason[0] != '\0'
        ? err->reason : pg_policy_strerror(err->code));
    return 2;
}

static int
normalized(const char *in, char *out, size_t len)
{
    if (pg_policy_normalize(in, out, len) != 0) {
        fprintf(stderr, "provgate: pins: '%s' is not a valid project name\n",
            in);
        return -1;
    }
    return 0;
}

/* ---- list / show / export ------------------------------------------------ */

static void
print_set(const struct pg_pin_set *set)
{
    char spec[1024], when[32], up[32];
    size_t i;

    for (i = 0; i < set->n; i++) {
        const struct pg_pin_entry *e = &set->e[i];

        pg_publisher_format(&e->publisher, spec, sizeof(spec));
        fmt_time(e->time, when, sizeof(when));
        if (e->how == PG_PIN_TOFU) {
            fmt_time(e->upload_time, up, sizeof(up));
            printf("%-24s %-48s tofu     %s  from %s (uploaded %s)\n",
                set->project, spec, when, e->file[0] != '\0' ? e->file : "?",
                up);
        } else {
            printf("%-24s %-48s approved %s  by %s\n", set->project, spec,
                when, e->by[0] != '\0' ? e->by : "?");
        }
    }
}

struct list_ctx {
    json_t *arr;
    size_t n;
    int failed;
};

static int
on_list_text(void *arg, const struct pg_pin_set *set)
{
    struct list_ctx *ctx = arg;

    print_set(set);
    ctx->n++;
    return 0;
}

static int
on_list_json(void *arg, const struct pg_pin_set *set)
{
    struct list_ctx *ctx = arg;
    struct pg_policy_err err;
    json_t *o;
    char *j = NULL;
    size_t len = 0;

    memset(&err, 0, sizeof(err));
    if (pg_pins_to_json(set, &j, &len, &err) != PG_POLICY_OK) {
        ctx->failed = 1;
        return 1;
    }
    o = json_loadb(j, len, 0, NULL);
    free(j);
    if (o == NULL || json_array_append_new(ctx->arr, o) != 0) {
        ctx->failed = 1;
        return 1;
    }
    ctx->n++;
    return 0;
}

/* The pins as a JSON array (list --json, export). */
static json_t *
pins_array(struct pins_cli *cli, struct pg_policy_err *err, int *failed)
{
    struct list_ctx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.arr = json_array();
    if (ctx.arr == NULL) {
        *failed = 1;
        return NULL;
    }
    if (pg_pins_iter(cli->store, on_list_json, &ctx, err) != PG_POLICY_OK
        || ctx.failed)
    {
        *failed = ctx.failed;
        json_decref(ctx.arr);
        return NULL;
    }
    return ctx.arr;
}

static int
print_json(json_t *v)
{
    char *out = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    json_decref(v);
    if (out == NULL) {
        fprintf(stderr, "provgate: pins: out of memory\n");
        return 2;
    }
    printf("%s\n", out);
    free(out);
    return 0;
}

static int
pins_list(struct pins_cli *cli, int as_json)
{
    struct list_ctx ctx;
    struct pg_policy_err err;
    json_t *arr;
    int failed = 0;

    memset(&ctx, 0, sizeof(ctx));
    memset(&err, 0, sizeof(err));
    if (as_json) {
        arr = pins_array(cli, &err, &failed);
        if (arr == NULL) {
            if (failed) {
                fprintf(stderr, "provgate: pins: out of memory\n");
                return 2;
            }
            return pins_fail("list", &err);
        }
        return print_json(arr);
    }
    if (pg_pins_iter(cli->store, on_list_text, &ctx, &err) != PG_POLICY_OK)
    {
        return pins_fail("list", &err);
    }
    if (ctx.n == 0) {
        printf("no pins\n");
    }
    return 0;
}

static int
on_history_json(void *arg, const struct pg_pin_event *ev)
{
    json_t *arr = arg, *o = pg_pin_event_to_json(ev);

    return o == NULL || json_array_append_new(arr, o) != 0;
}

static int
pins_export(struct pins_cli *cli)
{
    struct pg_policy_err err;
    json_t *root, *pins, *hist;
    int failed = 0;

    memset(&err, 0, sizeof(err));
    pins = pins_array(cli, &err, &failed);
    if (pins == NULL) {
        if (failed) {
            fprintf(stderr, "provgate: pins: out of memory\n");
            return 2;
        }
        return pins_fail("export", &err);
    }
    hist = json_array();
    if (hist == NULL || pg_pins_history(cli->store, NULL, on_history_json,
        hist, &err) != PG_POLICY_OK)
    {
        json_decref(pins);
        json_decref(hist);
        return hist == NULL ? 2 : pins_fail("export", &err);
    }
    root = json_pack("{s:s, s:o, s:o}", "pin_store",
        pg_pinstore_kind(cli->store), "pins", pins, "history", hist);
    if (root == NULL) {
        fprintf(stderr, "provgate: pins: out of memory\n");
        return 2;
    }
    return print_json(root);
}

static int
on_history_text(void *arg, const struct pg_pin_event *ev)
{
    char when[32];
    size_t *n = arg;

    if (*n == 0) {
        printf("history:\n");
    }
    (*n)++;
    fmt_time(ev->time, when, sizeof(when));
    printf("  %s  %-8s by %s: %s -> %s", when, ev->what,
        ev->by[0] != '\0' ? ev->by : "?",
        ev->before[0] != '\0' ? ev->before : "(no pin)",
        ev->after[0] != '\0' ? ev->after : "(no pin)");
    if (ev->file[0] != '\0') {
        printf("  file %s", ev->file);
    }
    if (ev->why[0] != '\0') {
        printf("  why: %s", ev->why);
    }
    printf("\n");
    return 0;
}

static int
pins_show(struct pins_cli *cli, const char *name)
{
    char project[PG_POLICY_MAX_NAME + 1];
    struct pg_pin_set *set;
    struct pg_policy_err err;
    size_t nhist = 0;
    int rc, pinned;

    if (normalized(name, project, sizeof(project)) != 0) {
        return 2;
    }
    set = malloc(sizeof(*set));
    if (set == NULL) {
        fprintf(stderr, "provgate: pins: out of memory\n");
        return 2;
    }
    memset(&err, 0, sizeof(err));
    rc = pg_pins_get(cli->store, project, set, &err);
    if (rc != PG_POLICY_OK) {
        free(set);
        return pins_fail(project, &err);
    }
    pinned = set->n > 0;
    if (pinned) {
        print_set(set);
    } else {
        printf("%s: no pin\n", project);
    }
    free(set);
    if (pg_pins_history(cli->store, project, on_history_text, &nhist, &err)
        != PG_POLICY_OK)
    {
        return pins_fail(project, &err);
    }
    return pinned ? 0 : 1;
}

/* ---- approve / forget / import ------------------------------------------- */

static const char *
actor(const char *by)
{
    if (by == NULL || by[0] == '\0') {
        by = getenv("USER");
    }
    return by != NULL && by[0] != '\0' ? by : "unknown";
}

static int
pins_approve(struct pins_cli *cli, const char *name, const char *spec,
    const char *by)
{
    char project[PG_POLICY_MAX_NAME + 1], why[160], canon[1024];
    struct pg_pin_entry e;
    struct pg_policy_err err;
    struct pg_audit_event ev;
    int added = 0;

    if (normalized(name, project, sizeof(project)) != 0) {
        return 2;
    }
    memset(&e, 0, sizeof(e));
    why[0] = '\0';
    if (pg_publisher_parse(spec, &e.publisher, why, sizeof(why)) != 0) {
        fprintf(stderr, "provgate: pins: --publisher %s: %s\n", spec, why);
        return 2;
    }
    e.how = PG_PIN_APPROVED;
    e.time = (int64_t) time(NULL);
    e.upload_time = -1;
    snprintf(e.by, sizeof(e.by), "%s", actor(by));
    if (pins_open(cli, 1) != 0) {
        return 2;
    }
    memset(&err, 0, sizeof(err));
    if (pg_pins_approve(cli->store, project, &e, cli->why, &added, &err)
        != PG_POLICY_OK)
    {
        return pins_fail(project, &err);
    }
    pg_publisher_format(&e.publisher, canon, sizeof(canon));
    if (!added) {
        printf("%s: %s is already accepted\n", project, canon);
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    ev.event = "pin-approve";
    ev.project = project;
    ev.seen = canon;
    ev.decision = "approved";
    ev.actor = e.by;
    ev.reason = cli->why;
    pg_audit_log(cli->audit, &ev);
    printf("%s: approved %s (by %s)\n", project, canon, e.by);
    return 0;
}

static int
pins_forget(struct pins_cli *cli, const char *name)
{
    char project[PG_POLICY_MAX_NAME + 1];
    struct pg_policy_err err;
    struct pg_audit_event ev;
    const char *by = actor(NULL);
    int removed = 0;

    if (normalized(name, project, sizeof(project)) != 0) {
        return 2;
    }
    if (pins_open(cli, 1) != 0) {
        return 2;
    }
    memset(&err, 0, sizeof(err));
    if (pg_pins_forget(cli->store, project, by, cli->why, &removed, &err)
        != PG_POLICY_OK)
    {
        return pins_fail(project, &err);
    }
    if (!removed) {
        printf("%s: no pin\n", project);
        return 1;
    }
    memset(&ev, 0, sizeof(ev));
    ev.event = "pin-forget";
    ev.project = project;
    ev.decision = "forgotten";
    ev.actor = by;
    ev.reason = cli->why;
    pg_audit_log(cli->audit, &ev);
    printf("%s: pin forgotten\n", project);
    return 0;
}

static char *
read_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (f == NULL) {
        return NULL;
    }
    buf = malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, max + 1, f);
    fclose(f);
    buf[*len <= max ? *len : max] = '\0';
    return buf;
}

static int
pins_import(struct pins_cli *cli, const char *path)
{
    struct pg_pin_set *sets = NULL;
    struct pg_policy_err err;
    struct pg_audit_event ev;
    json_error_t jerr;
    json_t *root = NULL, *list;
    char *buf, why[PG_PINS_MAX_WHY];
    size_t len = 0, i, n;
    int rc = 2;

    buf = read_file(path, PG_PINS_MAX_IMPORT, &len);
    if (buf == NULL) {
        fprintf(stderr, "provgate: pins: import: cannot read %s\n", path);
        return 2;
    }
    if (len > PG_PINS_MAX_IMPORT) {
        fprintf(stderr, "provgate: pins: import: %s is larger than %d "
            "bytes\n", path, PG_PINS_MAX_IMPORT);
        goto done;
    }
    root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    /* `pins export` writes {"pins": [...], "history": [...]}; older
     * versions wrote the array of pins alone. */
    list = json_is_object(root) ? json_object_get(root, "pins") : root;
    if (root == NULL || !json_is_array(list)) {
        fprintf(stderr, "provgate: pins: import: %s:%d: %s\n", path,
            root == NULL ? jerr.line : 1, root == NULL ? jerr.text
            : "expected the output of `pins export`");
        goto done;
    }
    n = json_array_size(list);
    sets = calloc(n > 0 ? n : 1, sizeof(*sets));
    if (sets == NULL) {
        fprintf(stderr, "provgate: pins: import: out of memory\n");
        goto done;
    }
    /* Check everything before writing anything. */
    for (i = 0; i < n; i++) {
        char *one = json_dumps(json_array_get(list, i), JSON_COMPACT);

        memset(&err, 0, sizeof(err));
        if (one == NULL || pg_pins_from_json(one, strlen(one), &sets[i],
            &err) != PG_POLICY_OK)
        {
            fprintf(stderr, "provgate: pins: import: %s: entry %zu: %s\n",
                path, i + 1, one == NULL ? "out of memory" : err.reason);
            free(one);
            goto done;
        }
        free(one);
    }
    if (pins_open(cli, 1) != 0) {
        goto done;
    }
    snprintf(why, sizeof(why), "%s%s%.200s", cli->why != NULL ? cli->why
        : "", cli->why != NULL ? "; imported from " : "imported from ",
        path);
    for (i = 0; i < n; i++) {
        memset(&err, 0, sizeof(err));
        if (pg_pins_import(cli->store, &sets[i], "import", actor(NULL), why,
            &err) != PG_POLICY_OK)
        {
            rc = pins_fail(sets[i].project, &err);
            goto done;
        }
        memset(&ev, 0, sizeof(ev));
        ev.event = "pin-import";
        ev.project = sets[i].project;
        ev.decision = "imported";
        ev.actor = actor(NULL);
        ev.reason = path;
        pg_audit_log(cli->audit, &ev);
    }
    printf("imported the pins of %zu projects\n", n);
    rc = 0;

done:
    json_decref(root);
    free(sets);
    free(buf);
    return rc;
}

/* `pins migrate`: the store's schema is created or upgraded by opening it
 * for write; then an old cache's pins are copied in (once). */
static int
pins_migrate(struct pins_cli *cli)
{
    struct pg_cache_options opt;
    struct pg_cache_err cerr;
    struct pg_cache *cache = NULL;
    struct pg_policy_err err;
    char state[PG_CACHE_MAX_DIR + 32];
    size_t moved = 0, kept = 0;
    FILE *f;
    int rc;

    if (pins_open(cli, 1) != 0) {
        return 2;
    }
    printf("pin store %s is ready\n", pg_pinstore_where(cli->store));
    snprintf(state, sizeof(state), "%s/state.lmdb/data.mdb", cli->cache_dir);
    f = fopen(state, "rb");
    if (f == NULL) {
        printf("no cache at %s: nothing to migrate\n", cli->cache_dir);
        return 0;
    }
    fclose(f);
    memset(&opt, 0, sizeof(opt));
    memset(&cerr, 0, sizeof(cerr));
    opt.dir = cli->cache_dir;
    opt.use_recorded_cap = 1;
    if (pg_cache_open(&opt, &cache, &cerr) != PG_CACHE_OK) {
        fprintf(stderr, "provgate: pins: cache %s: %s\n", cli->cache_dir,
            cerr.reason[0] != '\0' ? cerr.reason
            : pg_cache_strerror(cerr.code));
        return 2;
    }
    memset(&err, 0, sizeof(err));
    rc = pg_pins_migrate_cache(cache, cli->cache_dir, cli->store, &moved,
        &kept, &err);
    pg_cache_close(cache);
    if (rc < 0) {
        return pins_fail("migrate", &err);
    }
    if (rc == 1) {
        printf("the pins of the cache %s were migrated before\n",
            cli->cache_dir);
    } else {
        printf("migrated %zu pins from the cache %s (%zu already in the "
            "store)\n", moved, cli->cache_dir, kept);
    }
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

enum pins_flag {
    PINS_CACHE_DIR, PINS_CONFIG, PINS_PIN_STORE, PINS_AUDIT_LOG,
    PINS_PUBLISHER, PINS_BY, PINS_WHY, PINS_JSON
};

static const struct pg_cmd_flag pins_flags[] = {
    [PINS_CACHE_DIR] = { "cache-dir", 1 },
    [PINS_CONFIG] = { "config", 1 },
    [PINS_PIN_STORE] = { "pin-store", 1 },
    [PINS_AUDIT_LOG] = { "audit-log", 1 },
    [PINS_PUBLISHER] = { "publisher", 1 },
    [PINS_BY] = { "by", 1 },
    [PINS_WHY] = { "why", 1 },
    [PINS_JSON] = { "json", 0 },
};

struct pins_args {
    struct pins_cli *cli;
    const char *config, *publisher, *by, *store;
    const char *args[4];
    size_t nargs;
    int as_json;
};

static int
pins_on_arg(void *arg, int flag, const char *v)
{
    struct pins_args *a = arg;

    switch (flag) {
    case PINS_CACHE_DIR: a->cli->cache_dir = v; break;
    case PINS_CONFIG: a->config = v; break;
    case PINS_PIN_STORE: a->store = v; break;
    case PINS_AUDIT_LOG: a->cli->audit_dest = v; break;
    case PINS_PUBLISHER: a->publisher = v; break;
    case PINS_BY: a->by = v; break;
    case PINS_WHY: a->cli->why = v; break;
    case PINS_JSON: a->as_json = 1; break;
    default:
        if (a->nargs == sizeof(a->args) / sizeof(a->args[0])) {
            pins_usage(stderr);
            return 2;
        }
        a->args[a->nargs++] = v;
    }
    return 0;
}

int
pg_cmd_pins(int argc, char **argv)
{
    struct pins_cli cli;
    struct pins_args pa;
    const char *config, *publisher, *by, *store;
    const char **args = pa.args;
    char msg[512], bad[256];
    size_t nargs;
    int as_json, rc = 2;

    memset(&cli, 0, sizeof(cli));
    memset(&pa, 0, sizeof(pa));
    pa.cli = &cli;
    rc = pg_cmd_getopt(argc, argv, pins_flags, sizeof(pins_flags)
        / sizeof(pins_flags[0]), pins_on_arg, &pa, bad, sizeof(bad));
    if (rc == PG_CMD_HELP) {
        pins_usage(stdout);
        return 0;
    }
    if (rc == PG_CMD_UNKNOWN || rc == PG_CMD_NO_VALUE) {
        fprintf(stderr, "provgate: pins: unknown or incomplete option "
            "'%s'\n", bad);
        pins_usage(stderr);
        return 2;
    }
    if (rc != 0) {
        return rc;
    }
    rc = 2;
    config = pa.config;
    publisher = pa.publisher;
    by = pa.by;
    store = pa.store;
    nargs = pa.nargs;
    as_json = pa.as_json;
    if (nargs == 0) {
        pins_usage(stderr);
        return 2;
    }
    pg_config_defaults(&cli.cfg);
    if (config != NULL && pg_config_load(&cli.cfg, config, msg, sizeof(msg))
        != 0)
    {
        fprintf(stderr, "%s\n", msg);
        pg_config_free(&cli.cfg);
        return 2;
    }
    if (cli.cache_dir == NULL) {
        cli.cache_dir = cli.cfg.cache_dir != NULL ? cli.cfg.cache_dir
            : "./var";
    }
    if (cli.audit_dest == NULL) {
        cli.audit_dest = cli.cfg.audit_log;
    }
    if (store != NULL && strcmp(store, "lmdb") != 0) {
        if (strlen(store) >= sizeof(cli.uri)) {
            fprintf(stderr, "provgate: pins: --pin-store is longer than %d "
                "bytes\n", PG_PINS_MAX_URI);
            pg_config_free(&cli.cfg);
            return 2;
        }
        memcpy(cli.uri, store, strlen(store) + 1);
    } else if ((store != NULL ? pg_pinstore_default_uri(cli.cache_dir,
        cli.uri, sizeof(cli.uri)) : pg_pins_store_uri(&cli.cfg,
        cli.cache_dir, cli.uri, sizeof(cli.uri))) != 0)
    {
        fprintf(stderr, "provgate: pins: the pin store's path is too "
            "long\n");
        pg_config_free(&cli.cfg);
        return 2;
    }

    if (strcmp(args[0], "list") == 0 && nargs == 1) {
        rc = pins_open(&cli, 0) == 0 ? pins_list(&cli, as_json) : 2;
    } else if (strcmp(args[0], "export") == 0 && nargs == 1) {
        rc = pins_open(&cli, 0) == 0 ? pins_export(&cli) : 2;
    } else if (strcmp(args[0], "show") == 0 && nargs == 2) {
        rc = pins_open(&cli, 0) == 0 ? pins_show(&cli, args[1]) : 2;
    } else if (strcmp(args[0], "approve") == 0 && nargs == 2) {
        if (publisher == NULL) {
            fprintf(stderr, "provgate: pins: approve needs --publisher "
                "SPEC\n");
        } else {
            rc = pins_approve(&cli, args[1], publisher, by);
        }
    } else if (strcmp(args[0], "forget") == 0 && nargs == 2) {
        rc = pins_forget(&cli, args[1]);
    } else if (strcmp(args[0], "import") == 0 && nargs == 2) {
        rc = pins_import(&cli, args[1]);
    } else if (strcmp(args[0], "migrate") == 0 && nargs == 1) {
        rc = pins_migrate(&cli);
    } else {
        pins_usage(stderr);
    }
    pg_audit_close(cli.audit);
    pg_pinstore_close(cli.store);
    pg_config_free(&cli.cfg);
    return rc;
}
