/* proxy/routes/tokens_sync.c — the client tokens from the pin store into
 * the admission table (issue 13 item 5).
 *
 * The pin store keeps the tokens (policy/tokens.c); http/auth.c checks
 * requests against an in-memory copy, so that no request ever waits for
 * the store.  provenance.c calls pg_tokens_sync at start and on every
 * poll (PG_PROV_POLL_MS) and after every refresh of a shared store (which
 * a NOTIFY from a `provgate tokens` on any replica starts): reading the
 * tokens generation is a read of LMDB's map or of the PostgreSQL local
 * copy, and only when it moved is the list read and the table swapped.
 * A revoke therefore takes effect within PG_PROV_POLL_MS on one gateway,
 * and within a notification's round trip on a fleet.
 *
 * Owns: nothing.  Borrows: the store, the table.  Runs on: loop (never
 * blocks: both reads are local).  Spec: issue 13 item 5.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_int.h"
#include "pg_policy.h"
#include "tokens_sync_int.h"

int
pg_tokens_sync(struct pg_auth *auth, struct pg_pinstore *pins,
    uint64_t *gen, int force, char *msg, size_t mlen)
{
    struct pg_policy_err err;
    struct pg_token_rec *recs = NULL;
    struct pg_auth_token *t = NULL;
    uint64_t g = 0;
    size_t n = 0, i, k = 0;
    int rc = 0;

    if (auth == NULL) {
        return 0;
    }
    memset(&err, 0, sizeof(err));
    if (pg_tokens_generation(pins, &g, &err) != PG_POLICY_OK) {
        snprintf(msg, mlen, "tokens: %s", err.reason);
        return -1;
    }
    if (!force && g == *gen) {
        return 0;
    }
    if (pg_tokens_list(pins, &recs, &n, &err) != PG_POLICY_OK) {
        snprintf(msg, mlen, "tokens: %s", err.reason);
        return -1;
    }
    t = calloc(n > 0 ? n : 1, sizeof(*t));
    if (t == NULL) {
        free(recs);
        snprintf(msg, mlen, "tokens: out of memory");
        return -1;
    }
    for (i = 0; i < n; i++) {
        const char *why;

        why = pg_auth_parse_stored(recs[i].hash, t[k].e.salt, t[k].e.hash);
        if (why != NULL || strlen(recs[i].id) != PG_AUTH_ID_HEX) {
            /* One bad record must not lock everybody out: it is left out
             * (so its token is refused) and named once. */
            snprintf(msg, mlen, "tokens: the stored token %s is malformed "
                "(%s); it is refused", recs[i].name,
                why != NULL ? why : "id");
            rc = 1;
            continue;
        }
        snprintf(t[k].e.name, sizeof(t[k].e.name), "%s", recs[i].name);
        memcpy(t[k].id, recs[i].id, PG_AUTH_ID_HEX + 1);
        t[k].expires = recs[i].expires;
        t[k].revoked = recs[i].revoked;
        k++;
    }
    free(recs);
    if (pg_auth_set_tokens(auth, t, k) != 0) {
        free(t);
        snprintf(msg, mlen, "tokens: out of memory");
        return -1;
    }
    free(t);
    *gen = g;
    return rc;
}
