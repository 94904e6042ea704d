/* proxy/cmd_pins.c — `provgate pins …`: administer TOFU pins.
 *
 *   provgate pins [--cache-dir DIR | --config FILE] [--audit-log DEST] CMD
 *     list [--json]                       every project's accepted publishers
 *     show PROJECT                        one project's pin (exit 1: none)
 *     approve PROJECT --publisher SPEC [--by NAME]   accept a publisher
 *     forget PROJECT                      drop the pin (next sight re-pins)
 *     export                              all pins as JSON (stdout)
 *     import FILE                         replace the pins of the projects
 *                                         named in FILE (export's format)
 *
 * The pins live in the cache directory's LMDB, which a running server has
 * open too: LMDB lets a second process read and write it, and every change
 * bumps the pins generation so the server stops reusing decisions made
 * under the old pins (design §7).  Changes are written to the audit log
 * (audit_log of the configuration, stderr by default).
 *
 * Owns: the cache handle and audit log it opens.  Runs on: the CLI.
 * Spec: design §7, issue 4 item 3.
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

struct pins_cli {
    struct pg_config cfg;
    const char *cache_dir;
    const char *audit_dest;
    struct pg_cache *cache;
    struct pg_audit *audit;
};

static void
pins_usage(FILE *out)
{
    fprintf(out,
        "usage: provgate pins [--cache-dir DIR | --config FILE] "
        "[--audit-log DEST] COMMAND\n"
        "\n"
        "  list [--json]                          accepted publishers of "
        "every project\n"
        "  show PROJECT                           one project's pin\n"
        "  approve PROJECT --publisher SPEC [--by NAME]\n"
        "                                         accept a publisher "
        "(--by defaults to $USER)\n"
        "  forget PROJECT                         drop the pin; the next "
        "sight pins again\n"
        "  export                                 all pins as JSON on "
        "stdout\n"
        "  import FILE                            replace the pins of the "
        "projects in FILE\n"
        "\n"
        "SPEC: github:OWNER/REPO:WORKFLOW[:ENV], gitlab:NS/PROJECT:PATH"
        "[:ENV], google:EMAIL.\n"
        "The cache directory defaults to the configuration's cache_dir "
        "(./var).  Works while\nthe server runs.\n");
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
pins_open(struct pins_cli *cli, int read_only)
{
    struct pg_cache_options opt;
    struct pg_cache_err cerr;
    char msg[256];

    memset(&opt, 0, sizeof(opt));
    memset(&cerr, 0, sizeof(cerr));
    opt.dir = cli->cache_dir;
    opt.read_only = read_only;
    if (pg_cache_open(&opt, &cli->cache, &cerr) != PG_CACHE_OK) {
        fprintf(stderr, "provgate: pins: cache %s: %s: %s\n", cli->cache_dir,
            cerr.step != NULL ? cerr.step : "open", cerr.reason[0] != '\0'
            ? cerr.reason : pg_cache_strerror(cerr.code));
        return -1;
    }
    if (!read_only && pg_audit_open(cli->audit_dest, &cli->audit, msg,
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

static int
pins_list(struct pins_cli *cli, int as_json)
{
    struct list_ctx ctx;
    struct pg_policy_err err;
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    memset(&err, 0, sizeof(err));
    if (as_json) {
        ctx.arr = json_array();
        if (ctx.arr == NULL) {
            fprintf(stderr, "provgate: pins: out of memory\n");
            return 2;
        }
        rc = pg_pins_iter(cli->cache, on_list_json, &ctx, &err);
        if (rc == PG_POLICY_OK && !ctx.failed) {
            char *out = json_dumps(ctx.arr, JSON_INDENT(2)
                | JSON_PRESERVE_ORDER);

            if (out != NULL) {
                printf("%s\n", out);
            }
            free(out);
            json_decref(ctx.arr);
            return out != NULL ? 0 : 2;
        }
        json_decref(ctx.arr);
        if (ctx.failed) {
            fprintf(stderr, "provgate: pins: out of memory\n");
            return 2;
        }
        return pins_fail("list", &err);
    }
    rc = pg_pins_iter(cli->cache, on_list_text, &ctx, &err);
    if (rc != PG_POLICY_OK) {
        return pins_fail("list", &err);
    }
    if (ctx.n == 0) {
        printf("no pins\n");
    }
    return 0;
}

static int
pins_show(struct pins_cli *cli, const char *name)
{
    char project[PG_POLICY_MAX_NAME + 1];
    struct pg_pin_set *set;
    struct pg_policy_err err;
    int rc;

    if (normalized(name, project, sizeof(project)) != 0) {
        return 2;
    }
    set = malloc(sizeof(*set));
    if (set == NULL) {
        fprintf(stderr, "provgate: pins: out of memory\n");
        return 2;
    }
    memset(&err, 0, sizeof(err));
    rc = pg_pins_get(cli->cache, project, set, &err);
    if (rc != PG_POLICY_OK) {
        free(set);
        return pins_fail(project, &err);
    }
    if (set->n == 0) {
        printf("%s: no pin\n", project);
        free(set);
        return 1;
    }
    print_set(set);
    free(set);
    return 0;
}

/* ---- approve / forget / import ------------------------------------------- */

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
    if (by == NULL || by[0] == '\0') {
        by = getenv("USER");
    }
    if (by == NULL || by[0] == '\0') {
        by = "unknown";
    }
    e.how = PG_PIN_APPROVED;
    e.time = (int64_t) time(NULL);
    e.upload_time = -1;
    snprintf(e.by, sizeof(e.by), "%s", by);
    if (pins_open(cli, 0) != 0) {
        return 2;
    }
    memset(&err, 0, sizeof(err));
    if (pg_pins_add(cli->cache, project, &e, 0, &added, &err)
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
    const char *by = getenv("USER");
    int removed = 0;

    if (normalized(name, project, sizeof(project)) != 0) {
        return 2;
    }
    if (pins_open(cli, 0) != 0) {
        return 2;
    }
    memset(&err, 0, sizeof(err));
    if (pg_pins_forget(cli->cache, project, &removed, &err)
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
    json_t *root = NULL;
    char *buf;
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
    if (root == NULL || !json_is_array(root)) {
        fprintf(stderr, "provgate: pins: import: %s:%d: %s\n", path,
            root == NULL ? jerr.line : 1, root == NULL ? jerr.text
            : "expected a JSON array (the output of `pins export`)");
        goto done;
    }
    n = json_array_size(root);
    sets = calloc(n > 0 ? n : 1, sizeof(*sets));
    if (sets == NULL) {
        fprintf(stderr, "provgate: pins: import: out of memory\n");
        goto done;
    }
    /* Check everything before writing anything. */
    for (i = 0; i < n; i++) {
        char *one = json_dumps(json_array_get(root, i), JSON_COMPACT);

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
    if (pins_open(cli, 0) != 0) {
        goto done;
    }
    for (i = 0; i < n; i++) {
        memset(&err, 0, sizeof(err));
        if (pg_pins_put(cli->cache, &sets[i], &err) != PG_POLICY_OK) {
            rc = pins_fail(sets[i].project, &err);
            goto done;
        }
        memset(&ev, 0, sizeof(ev));
        ev.event = "pin-import";
        ev.project = sets[i].project;
        ev.decision = "imported";
        ev.actor = getenv("USER");
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

/* ---- dispatch ------------------------------------------------------------ */

int
pg_cmd_pins(int argc, char **argv)
{
    struct pins_cli cli;
    const char *config = NULL, *publisher = NULL, *by = NULL;
    const char *args[4];
    char msg[512];
    size_t nargs = 0;
    int i, as_json = 0, rc = 2;

    memset(&cli, 0, sizeof(cli));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_next = i + 1 < argc;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            pins_usage(stdout);
            return 0;
        } else if (strcmp(a, "--cache-dir") == 0 && has_next) {
            cli.cache_dir = argv[++i];
        } else if (strcmp(a, "--config") == 0 && has_next) {
            config = argv[++i];
        } else if (strcmp(a, "--audit-log") == 0 && has_next) {
            cli.audit_dest = argv[++i];
        } else if (strcmp(a, "--publisher") == 0 && has_next) {
            publisher = argv[++i];
        } else if (strcmp(a, "--by") == 0 && has_next) {
            by = argv[++i];
        } else if (strcmp(a, "--json") == 0) {
            as_json = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "provgate: pins: unknown or incomplete option "
                "'%s'\n", a);
            pins_usage(stderr);
            return 2;
        } else if (nargs < sizeof(args) / sizeof(args[0])) {
            args[nargs++] = a;
        } else {
            pins_usage(stderr);
            return 2;
        }
    }
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

    if (strcmp(args[0], "list") == 0 && nargs == 1) {
        rc = pins_open(&cli, 1) == 0 ? pins_list(&cli, as_json) : 2;
    } else if (strcmp(args[0], "export") == 0 && nargs == 1) {
        rc = pins_open(&cli, 1) == 0 ? pins_list(&cli, 1) : 2;
    } else if (strcmp(args[0], "show") == 0 && nargs == 2) {
        rc = pins_open(&cli, 1) == 0 ? pins_show(&cli, args[1]) : 2;
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
    } else {
        pins_usage(stderr);
    }
    pg_audit_close(cli.audit);
    if (cli.cache != NULL) {
        pg_cache_close(cli.cache);
    }
    pg_config_free(&cli.cfg);
    return rc;
}
