/* proxy/routes/tokens_sync_int.h — the client tokens from the pin store
 * into the admission table (tokens_sync.c).
 *
 * Owns: nothing.  Runs on: loop.  Spec: issue 13 item 5.
 */
#ifndef PG_TOKENS_SYNC_INT_H
#define PG_TOKENS_SYNC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "server_int.h"

struct pg_pinstore;

/* When the store's tokens generation differs from *gen (or force),
 * copies its tokens into auth and updates *gen.  0: done or nothing to
 * do; 1: done, but a malformed record was left out (msg says which); -1
 * with msg: the table was kept.  auth NULL: nothing (auth = off). */
int pg_tokens_sync(struct pg_auth *auth, struct pg_pinstore *pins,
    uint64_t *gen, int force, char *msg, size_t mlen);

#endif
