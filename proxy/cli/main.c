/* proxy/cli/main.c — the provgate command line: dispatch to a subcommand.
 *
 * Every subcommand owns its flags and exit status (see cmd_int.h); this file
 * only picks one and prints the overview.
 */
#include <stdio.h>
#include <string.h>

#include "cmd_int.h"

struct pg_subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
};

static const struct pg_subcommand pg_subcommands[] = {
    { "serve", pg_cmd_serve, "run the caching, verifying proxy" },
    { "verify", pg_cmd_verify,
      "verify a distribution against PEP 740 provenance, offline" },
    { "verify-bundle", pg_cmd_verify_bundle,
      "verify a Sigstore bundle (conformance CLI protocol)" },
    { "policy", pg_cmd_policy, "policy check FILE" },
    { "pins", pg_cmd_pins, "list|show|approve|forget|export|import pins" },
    { "cache", pg_cmd_cache, "stats|gc of the cache directory" },
    { "admin-token", pg_cmd_admin_token,
      "a new operator-pages administrator token (admin_token_file line)" },
    { "upstreams", pg_cmd_upstreams,
      "list|which NAME: the upstreams and which one serves a name" },
    { "tokens", pg_cmd_tokens,
      "add|list|revoke client tokens (auth = token)" },
};

static void
usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: provgate COMMAND [ARGS]\n\ncommands:\n");
    for (i = 0; i < sizeof(pg_subcommands) / sizeof(pg_subcommands[0]); i++) {
        fprintf(out, "  %-14s %s\n", pg_subcommands[i].name,
            pg_subcommands[i].help);
    }
    fprintf(out, "\n'provgate COMMAND --help' describes each command.\n");
}

int
main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "help") == 0)
    {
        usage(stdout);
        return 0;
    }
    for (i = 0; i < sizeof(pg_subcommands) / sizeof(pg_subcommands[0]); i++) {
        if (strcmp(argv[1], pg_subcommands[i].name) == 0) {
            return pg_subcommands[i].run(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "provgate: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
