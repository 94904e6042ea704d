/* proxy/routes/rehash_int.h — re-hashing cached blobs before this process first
 * serves them, and the background scrub (rehash.c).
 *
 * A blob is trusted by a process only after that process hashed its file
 * (pg_blob_verified): the file route asks pg_rehash_blob before it serves
 * an unverified blob, and serves it when done says PG_CACHE_OK.  One
 * re-hash per sha256 runs at a time on a worker; every request for that
 * blob meanwhile waits for it.  The scrub hashes scrub_rate bytes a second
 * on a worker, walking every blob of the store, a pass at most every
 * PG_SCRUB_PASS_S.  A damaged blob (its sha256 is not its name) is
 * removed by the cache module; here it is logged, counted
 * (provgate_blob_damaged_total) and forgotten by the caller's callback
 * (the open-blob cache), so the next request fetches it again.
 *
 * Owns: the jobs and their waiters, the scrub.  Borrows: the server.
 * Runs on: loop (the hashing on a worker).  Spec: design §8; issue 10
 * item 3.
 */
#ifndef PG_REHASH_INT_H
#define PG_REHASH_INT_H

struct pg_server;
struct pg_rehash;

#define PG_SCRUB_PASS_S 3600        /* a new scrub pass at most this often */
#define PG_REHASH_STOPPING (-1)     /* done's rc when the server stops */

/* done(arg, rc) on the loop: rc PG_CACHE_OK (verified), PG_CACHE_EDAMAGED
 * (it was damaged and is removed), PG_CACHE_NOTFOUND, another cache code
 * (could not be read), or PG_REHASH_STOPPING. */
typedef void (*pg_rehash_done_fn)(void *arg, int rc);
/* Called on the loop for each blob found damaged and removed. */
typedef void (*pg_rehash_damaged_fn)(void *arg, const char *sha);

/* Starts the scrub timer when the config's scrub_rate is not 0. */
int pg_rehash_new(struct pg_server *s, pg_rehash_damaged_fn on_damaged,
    void *arg, struct pg_rehash **out);
/* Ends every waiter with PG_REHASH_STOPPING.  The workers must be stopped
 * (pg_workers_free) first. */
void pg_rehash_free(struct pg_rehash *rh);
/* Re-hashes sha256's blob (64 hex) unless that is already under way, then
 * calls done.  0, or -1 when it could not be queued (done never runs). */
int pg_rehash_blob(struct pg_rehash *rh, const char *sha,
    pg_rehash_done_fn done, void *arg);

#endif
