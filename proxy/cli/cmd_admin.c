/* proxy/cli/cmd_admin.c — `provgate admin-token NAME`: a new administrator
 * token for the operator pages (issue 15).
 *
 * Draws a random 256-bit token and a random 128-bit salt, and prints the
 * line admin_token_file takes, "NAME sha256$SALT$HASH" with HASH =
 * SHA-256(SALT as its 32 hex characters, then the token as its 64 hex
 * characters), on stdout; the token itself goes to stderr, once, and is
 * stored nowhere.  The same line can be made with openssl (README,
 * "Operator pages").  The hashing is http/auth.c's, shared with client
 * tokens (`provgate tokens`) and metrics_token_file.
 *
 * Owns: nothing.  Runs on: CLI.  Spec: issue 15 item 2.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_int.h"
#include "cmd_int.h"
#include "server_int.h"

static int
usage(FILE *out)
{
    fprintf(out, "usage: provgate admin-token NAME >> ADMIN_TOKEN_FILE\n"
        "  prints the admin_token_file line for NAME (letters, digits, . _ "
        "- @; at most 63)\n  on stdout and the new token, once, on stderr\n");
    return out == stdout ? 0 : 2;
}

int
pg_cmd_admin_token(int argc, char **argv)
{
    char tok[PG_AUTH_TOKEN_HEX + 1], stored[PG_AUTH_MAX_STORED];
    const char *name;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0))
    {
        return usage(stdout);
    }
    if (argc != 2) {
        return usage(stderr);
    }
    name = argv[1];
    if (!pg_auth_name_ok(name, strlen(name))) {
        fprintf(stderr, "provgate: admin-token: NAME must be 1 to 63 "
            "letters, digits, '.', '_', '-' or '@'\n");
        return 2;
    }
    if (pg_auth_new_secret(tok, stored) != 0) {
        fprintf(stderr, "provgate: admin-token: no randomness\n");
        return 1;
    }
    printf("%s %s\n", name, stored);
    fprintf(stderr, "token for %s (shown once; sign in at /-/login with "
        "this name and token):\n%s\n", name, tok);
    OPENSSL_cleanse(tok, sizeof(tok));
    return 0;
}
