/* proxy/core/worker_int.h — a small thread pool whose results come back to the
 * event loop.
 *
 * Work that may block or take long (fsync + rename of a blob, verifying the
 * attestations of a big project) runs on a worker; its completion runs on
 * the loop, where all other state lives.  work() must touch nothing the
 * loop owns except through its own argument.
 *
 * Owns: its threads and queues.  Borrows: the event_base.
 * Runs on: submit and done on the loop; work on a worker.
 */
#ifndef PG_WORKER_INT_H
#define PG_WORKER_INT_H

struct event_base;
struct pg_workers;

int pg_workers_new(struct event_base *base, int nthreads,
    struct pg_workers **out);
/* Waits for running work, runs no further done callbacks. */
void pg_workers_free(struct pg_workers *w);
/* Runs work(arg) on a worker, then done(arg) on the loop.  Returns 0, or -1
 * if the job could not be queued (then neither callback runs). */
int pg_workers_submit(struct pg_workers *w, void (*work)(void *arg),
    void (*done)(void *arg), void *arg);

#endif
