/* proxy/cli/cmd_int.h — the provgate subcommands (module-private).
 *
 * main.c only dispatches on argv[1]; each subcommand lives in its own file
 * and owns its argument parsing, usage text and exit status:
 *   0 success, 1 the thing checked failed (verify), 2 usage/configuration.
 * argv[0] is the subcommand's name ("serve", "verify", …).
 */
#ifndef PG_CMD_INT_H
#define PG_CMD_INT_H

int pg_cmd_serve(int argc, char **argv);          /* cmd_serve.c */
int pg_cmd_verify(int argc, char **argv);         /* cmd_verify.c */
int pg_cmd_verify_bundle(int argc, char **argv);  /* cmd_verify.c */
int pg_cmd_policy(int argc, char **argv);         /* cmd_policy.c */
int pg_cmd_pins(int argc, char **argv);           /* cmd_pins.c */
int pg_cmd_cache(int argc, char **argv);          /* cmd_cache.c */
int pg_cmd_admin_token(int argc, char **argv);    /* cmd_admin.c */
int pg_cmd_upstreams(int argc, char **argv);      /* cmd_upstreams.c */
int pg_cmd_tokens(int argc, char **argv);         /* cmd_tokens.c */

/* ---- flags (cmd_opts.c) ---- */

#define PG_CMD_MAX_FLAGS 16

struct pg_cmd_flag {
    const char *name;           /* "cache-dir" for --cache-dir */
    int has_value;
};

/* Called for each flag in command-line order (flag: its index in the
 * table, value NULL when it takes none) and each positional argument
 * (flag -1).  0 goes on; anything else stops and is returned. */
typedef int (*pg_cmd_on_arg)(void *arg, int flag, const char *value);

/* pg_cmd_getopt's answers besides 0 and the callback's. */
#define PG_CMD_HELP (-1)        /* -h or --help */
#define PG_CMD_UNKNOWN (-2)     /* bad: the unknown option */
#define PG_CMD_NO_VALUE (-3)    /* bad: the option missing its value */

/* Parses argv[1..argc-1] (argv[0]: the subcommand's name) with
 * getopt_long. */
int pg_cmd_getopt(int argc, char **argv, const struct pg_cmd_flag *flags,
    size_t n, pg_cmd_on_arg on, void *arg, char *bad, size_t badlen);

/* A ready callback (arg: struct pg_cmd_values): each flag's value by its
 * index (a flag without one: ""), the one positional argument at val[n];
 * a second one: usage()'s answer. */
struct pg_cmd_values {
    const char **val;           /* n + 1 entries, NULL: not given */
    size_t n;
    int (*usage)(void);
};
int pg_cmd_on_value(void *arg, int flag, const char *value);

#endif
