/* proxy/cli/cmd_policy.c — `provgate policy check FILE | reference`.
 *
 * `check` loads a policy file exactly as the server does and prints every
 * error as "FILE:LINE: message" (exit 2), or a one-line summary (exit 0).
 * `reference` prints the directive table (name, default, help): the option
 * reference conf/policy.ini documents.
 *
 * Owns: the policy it loads.  Runs on: the CLI.  Spec: design §7, issue 4
 * item 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_int.h"
#include "pg_policy.h"

static void
policy_usage(FILE *out)
{
    fprintf(out,
        "usage: provgate policy check FILE\n"
        "       provgate policy reference\n"
        "\n"
        "check      validate a policy file; prints FILE:LINE: message for\n"
        "           every error and exits 2, or exits 0\n"
        "reference  list every directive with its default and meaning\n");
}

static int
policy_check(const char *path)
{
    struct pg_policy_diag *diag;
    struct pg_policy *p = NULL;
    size_t i;
    int rc;

    diag = malloc(sizeof(*diag));
    if (diag == NULL) {
        fprintf(stderr, "provgate: policy: out of memory\n");
        return 2;
    }
    rc = pg_policy_load(path, &p, diag);
    if (rc != PG_POLICY_OK) {
        for (i = 0; i < diag->n; i++) {
            fprintf(stderr, "%s\n", diag->msg[i]);
        }
        if (diag->total > diag->n) {
            fprintf(stderr, "%s: %zu more errors not shown\n", path,
                diag->total - diag->n);
        }
        if (diag->n == 0) {
            fprintf(stderr, "%s: %s\n", path, pg_policy_strerror(rc));
        }
        free(diag);
        return 2;
    }
    printf("%s: ok (%zu project sections, default mode %s)\n", path,
        pg_policy_n_projects(p),
        pg_policy_mode_name(pg_policy_for(p, NULL)->mode));
    pg_policy_unref(p);
    free(diag);
    return 0;
}

/* The positional arguments (at most two: ACTION [FILE]). */
struct policy_args {
    const char *arg[2];
    size_t n;
};

static int
policy_on_arg(void *arg, int flag, const char *v)
{
    struct policy_args *a = arg;

    (void) flag;                        /* no flags: only positionals */
    if (a->n == sizeof(a->arg) / sizeof(a->arg[0])) {
        policy_usage(stderr);
        return 2;
    }
    a->arg[a->n++] = v;
    return 0;
}

int
pg_cmd_policy(int argc, char **argv)
{
    struct policy_args a;
    char bad[256];
    size_t i;
    int rc;

    memset(&a, 0, sizeof(a));
    rc = pg_cmd_getopt(argc, argv, NULL, 0, policy_on_arg, &a, bad,
        sizeof(bad));
    if (rc == PG_CMD_HELP) {
        policy_usage(stdout);
        return 0;
    }
    if (rc > 0) {
        return rc;
    }
    if (rc == 0 && a.n == 2 && strcmp(a.arg[0], "check") == 0) {
        return policy_check(a.arg[1]);
    }
    if (rc == 0 && a.n == 1 && strcmp(a.arg[0], "reference") == 0) {
        for (i = 0; i < pg_policy_n_directives; i++) {
            const struct pg_policy_directive *d = &pg_policy_directives[i];

            printf("%-13s default %-6s %s%s\n", d->name,
                d->def[0] != '\0' ? d->def : "(none)", d->help,
                d->repeatable ? " (repeatable)" : "");
        }
        return 0;
    }
    policy_usage(stderr);
    return 2;
}
