/* proxy/http/auth_int.h — who a client is (auth.c).
 *
 * Client tokens ([server] auth = token) and the token files of the
 * operator pages and /metrics: names with salted SHA-256 hashes, checked
 * in constant time on every loop, with a per-address block after repeated
 * failures.  Used by admission (admit.c), the operator pages, the token
 * store's sync and the CLI that mints tokens.
 *
 * Owns: see auth.c.  Runs on: any loop (the table is locked).
 * Spec: issue 13 item 5.
 */
#ifndef PG_AUTH_INT_H
#define PG_AUTH_INT_H

#include <stddef.h>
#include <stdint.h>

struct pg_auth;
struct pg_config;
struct pg_req;

#define PG_AUTH_TOKEN_HEX 64        /* a token: 256 random bits in hex */
#define PG_AUTH_ID_HEX 12           /* its first digits: the public id */
#define PG_AUTH_MAX_NAME 64         /* a token's name, with its NUL */
#define PG_AUTH_MAX_STORED 160      /* "sha256$SALT$HASH" with its NUL */
#define PG_AUTH_MAX_TOKENS 4096     /* client tokens in the table */
#define PG_AUTH_MAX_FILE_ENTRIES 16 /* lines of a *_token_file */
#define PG_AUTH_FAIL_SLOTS 4096     /* addresses with failures, tracked */
#define PG_AUTH_FAIL_WINDOW_S 60    /* failures counted over this long */

/* A name and its salted hash (a line of admin_token_file or
 * metrics_token_file, or a client token). */
struct pg_auth_entry {
    char name[PG_AUTH_MAX_NAME];
    char salt[65];
    unsigned char hash[32];
};
/* A client token as the pin store keeps it. */
struct pg_auth_token {
    struct pg_auth_entry e;
    char id[PG_AUTH_ID_HEX + 1];
    int64_t expires;                    /* Unix s, 0: never */
    int64_t revoked;                    /* Unix s, 0: not revoked */
};
/* SHA-256 of salt's text then the token's tlen bytes. */
void pg_auth_hash(const char *salt, const char *token, size_t tlen,
    unsigned char out[32]);
/* A new random token (hex) and its stored form "sha256$SALT$HASH"; -1
 * when there is no randomness. */
int pg_auth_new_secret(char token[PG_AUTH_TOKEN_HEX + 1],
    char stored[PG_AUTH_MAX_STORED]);
/* 1 if s[0..n) is a token name: letters, digits, . _ - @, 1 to 63. */
int pg_auth_name_ok(const char *s, size_t n);
/* "sha256$SALT$HASH" into salt and hash; NULL, or why not. */
const char *pg_auth_parse_stored(const char *s, char salt[65],
    unsigned char hash[32]);
/* Reads a file of "NAME sha256$SALT$HASH" lines (# comments) into out[0..
 * max); -1 with "FILE:LINE: why" (or "directive FILE: why") in msg. */
int pg_auth_load_file(const char *directive, const char *path,
    struct pg_auth_entry *out, size_t max, size_t *n, char *msg,
    size_t mlen);
/* An "Authorization: Basic …" value's user and password; -1 when it is
 * not one or either does not fit. */
int pg_auth_basic(const char *header, char *user, size_t ulen, char *pass,
    size_t plen);
/* 1 if token verifies against e (constant-time comparison). */
int pg_auth_entry_check(const struct pg_auth_entry *e, const char *token,
    size_t tlen);
/* The table of a server; reads metrics_token_file.  -1 with msg. */
int pg_auth_new(const struct pg_config *cfg, struct pg_auth **out,
    char *msg, size_t mlen);
void pg_auth_free(struct pg_auth *a);
/* Replaces the client tokens with a copy of t[0..n); -1 (table kept)
 * over PG_AUTH_MAX_TOKENS or out of memory.  Any thread. */
int pg_auth_set_tokens(struct pg_auth *a, const struct pg_auth_token *t,
    size_t n);
size_t pg_auth_ntokens(struct pg_auth *a);
/* Admission: 0 to go on (r->user set when a token verified), 1 when r
 * was refused (401 with WWW-Authenticate, or 429) and finished.  a may
 * be NULL (no checks).  Any loop. */
int pg_auth_admit(struct pg_auth *a, struct pg_req *r, const char *path);
/* The client-token check alone, whatever the path (the operator pages,
 * which admit.c leaves to their route: an administrator's credentials
 * come in the same header).  0 when auth is off. */
int pg_auth_admit_client(struct pg_auth *a, struct pg_req *r);
/* Requests refused with 401, and with 429, since start. */
void pg_auth_counts(struct pg_auth *a, uint64_t *refused,
    uint64_t *limited);

#endif
