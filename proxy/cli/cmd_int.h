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

#endif
