/* proxy/cli/cmd_admin.c — `provgate admin-token NAME`: a new administrator
 * token for the operator pages (issue 15).
 *
 * Draws a random 256-bit token and a random 128-bit salt, and prints the
 * line admin_token_file takes, "NAME sha256$SALT$HASH" with HASH =
 * SHA-256(SALT as its 32 hex characters, then the token as its 64 hex
 * characters), on stdout; the token itself goes to stderr, once, and is
 * stored nowhere.  The same line can be made with openssl (README,
 * "Operator pages").  The token is random and long, so one salted SHA-256
 * is as strong as a slow hash would be, and checking it never blocks the
 * event loop.
 *
 * Owns: nothing.  Runs on: CLI.  Spec: issue 15 item 2.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cmd_int.h"

static void
hex(const unsigned char *b, size_t n, char *out)
{
    size_t i;

    for (i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    }
}

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
    unsigned char tok[32], salt[16], h[32];
    char tokhex[65], salthex[33], hhex[65];
    const char *name;
    unsigned int hl = sizeof(h);
    EVP_MD_CTX *c;
    size_t i;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0
        || strcmp(argv[1], "-h") == 0))
    {
        return usage(stdout);
    }
    if (argc != 2) {
        return usage(stderr);
    }
    name = argv[1];
    for (i = 0; name[i] != '\0'; i++) {
        unsigned char ch = (unsigned char) name[i];

        if (!isalnum(ch) && ch != '.' && ch != '_' && ch != '-' && ch != '@')
        {
            break;
        }
    }
    if (i == 0 || name[i] != '\0' || i > 63) {
        fprintf(stderr, "provgate: admin-token: NAME must be 1 to 63 "
            "letters, digits, '.', '_', '-' or '@'\n");
        return 2;
    }
    c = EVP_MD_CTX_new();
    if (c == NULL || RAND_bytes(tok, sizeof(tok)) != 1
        || RAND_bytes(salt, sizeof(salt)) != 1)
    {
        EVP_MD_CTX_free(c);
        fprintf(stderr, "provgate: admin-token: no randomness\n");
        return 1;
    }
    hex(tok, sizeof(tok), tokhex);
    hex(salt, sizeof(salt), salthex);
    if (EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1
        || EVP_DigestUpdate(c, salthex, strlen(salthex)) != 1
        || EVP_DigestUpdate(c, tokhex, strlen(tokhex)) != 1
        || EVP_DigestFinal_ex(c, h, &hl) != 1)
    {
        EVP_MD_CTX_free(c);
        fprintf(stderr, "provgate: admin-token: sha256 failed\n");
        return 1;
    }
    EVP_MD_CTX_free(c);
    hex(h, sizeof(h), hhex);
    printf("%s sha256$%s$%s\n", name, salthex, hhex);
    fprintf(stderr, "token for %s (shown once; sign in at /-/login with "
        "this name and token):\n%s\n", name, tokhex);
    OPENSSL_cleanse(tok, sizeof(tok));
    OPENSSL_cleanse(tokhex, sizeof(tokhex));
    return 0;
}
