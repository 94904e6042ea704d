/* proxy/cli/cmd_opts.c — the subcommands' flags, parsed with getopt_long.
 *
 * A subcommand describes its flags as a table (name without "--", whether
 * it takes a value) and gets them back through one callback in the order
 * they stand on the command line, positional arguments included (getopt's
 * "-" mode): so `serve` can apply --set after --config in order, and each
 * subcommand keeps its own rules and its own messages.  What is the same
 * for all is decided here: -h/--help, an unknown option, an option that
 * needs a value and has none; "--FLAG=VALUE" works as "--FLAG VALUE", and
 * "--" ends the options.
 *
 * Owns: nothing (getopt's globals are reset on each call).
 * Runs on: the CLI.  Spec: issue 11 (the cmd_* tools).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd_int.h"

#define CMD_FLAG_BASE 256               /* getopt_long's val of flags[0] */

int
pg_cmd_getopt(int argc, char **argv, const struct pg_cmd_flag *flags,
    size_t n, pg_cmd_on_arg on, void *arg, char *bad, size_t badlen)
{
    struct option opts[PG_CMD_MAX_FLAGS + 2];
    size_t i;
    int c, rc;

    if (n > PG_CMD_MAX_FLAGS) {
        snprintf(bad, badlen, "(too many flags)");
        return PG_CMD_UNKNOWN;
    }
    memset(opts, 0, sizeof(opts));
    for (i = 0; i < n; i++) {
        opts[i].name = flags[i].name;
        opts[i].has_arg = flags[i].has_value ? required_argument
            : no_argument;
        opts[i].val = CMD_FLAG_BASE + (int) i;
    }
    opts[n].name = "help";
    opts[n].val = 'h';
    optind = 0;                         /* glibc: start afresh */
    opterr = 0;
    while ((c = getopt_long(argc, argv, "-:h", opts, NULL)) != -1) {
        if (c == 'h') {
            return PG_CMD_HELP;
        }
        if (c == 1 || c >= CMD_FLAG_BASE) {
            rc = on(arg, c == 1 ? -1 : c - CMD_FLAG_BASE, optarg);
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        if (optopt > 0 && optopt < CMD_FLAG_BASE) {
            snprintf(bad, badlen, "-%c", optopt);
        } else if (c == ':' && optopt >= CMD_FLAG_BASE
            && optopt < CMD_FLAG_BASE + (int) n)
        {
            /* by its full name, however abbreviated */
            snprintf(bad, badlen, "--%s", flags[optopt - CMD_FLAG_BASE].name);
        } else {
            snprintf(bad, badlen, "%s", optind > 0 && optind <= argc
                ? argv[optind - 1] : "?");
        }
        return c == ':' ? PG_CMD_NO_VALUE : PG_CMD_UNKNOWN;
    }
    for (; optind < argc; optind++) {
        rc = on(arg, -1, argv[optind]);
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

int
pg_cmd_on_value(void *arg, int flag, const char *value)
{
    struct pg_cmd_values *v = arg;

    if (flag < 0) {
        if (v->val[v->n] != NULL) {
            return v->usage();
        }
        v->val[v->n] = value;
        return 0;
    }
    v->val[flag] = value != NULL ? value : "";
    return 0;
}
