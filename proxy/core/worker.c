/* proxy/core/worker.c — a small thread pool whose results come back to the
 * loop.
 *
 * Jobs are queued under a mutex; nthreads threads run job->work(arg) and
 * move the job to a done queue, then write one byte to a non-blocking pipe.
 * The loop watches the pipe's read end: on_pipe drains it and runs every
 * finished job's done(arg) on the loop.  A pipe (not event_active from a
 * thread) keeps this independent of libevent's thread support.
 *
 * Owns: the threads, both queues and their jobs, the pipe.
 * Borrows: the event_base.  Runs on: submit/done/free on the loop; work on
 * a worker thread.  Spec: proxy/worker_int.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>

#include "worker_int.h"

#define PG_WORKERS_MAX 16

struct pg_job {
    void (*work)(void *arg);
    void (*done)(void *arg);
    void *arg;
    struct pg_job *next;
};

struct pg_workers {
    struct event_base *base;
    struct event *ev;
    int pipefd[2];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pg_job *todo, *todo_tail;
    struct pg_job *done, *done_tail;
    int stop;
    int nthreads;
    pthread_t threads[PG_WORKERS_MAX];
};

static void *
worker_main(void *arg)
{
    struct pg_workers *w = arg;
    struct pg_job *j;
    ssize_t n;

    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->todo == NULL && !w->stop) {
            pthread_cond_wait(&w->cv, &w->mu);
        }
        if (w->todo == NULL) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        j = w->todo;
        w->todo = j->next;
        if (w->todo == NULL) {
            w->todo_tail = NULL;
        }
        pthread_mutex_unlock(&w->mu);

        j->work(j->arg);

        pthread_mutex_lock(&w->mu);
        j->next = NULL;
        if (w->done_tail != NULL) {
            w->done_tail->next = j;
        } else {
            w->done = j;
        }
        w->done_tail = j;
        pthread_mutex_unlock(&w->mu);
        do {
            n = write(w->pipefd[1], "x", 1);
        } while (n < 0 && errno == EINTR);
        /* EAGAIN: the pipe already holds wake-ups; the loop drains all. */
    }
}

static void
on_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct pg_workers *w = arg;
    struct pg_job *list, *j;
    char buf[256];

    (void) what;
    while (read(fd, buf, sizeof(buf)) > 0) {
        continue;
    }
    pthread_mutex_lock(&w->mu);
    list = w->done;
    w->done = NULL;
    w->done_tail = NULL;
    pthread_mutex_unlock(&w->mu);
    while (list != NULL) {
        j = list;
        list = j->next;
        if (j->done != NULL) {
            j->done(j->arg);
        }
        free(j);
    }
}

int
pg_workers_new(struct event_base *base, int nthreads, struct pg_workers **out)
{
    struct pg_workers *w;
    int i;

    *out = NULL;
    if (nthreads < 1 || nthreads > PG_WORKERS_MAX) {
        return -1;
    }
    w = calloc(1, sizeof(*w));
    if (w == NULL) {
        return -1;
    }
    w->base = base;
    w->pipefd[0] = -1;
    w->pipefd[1] = -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pipe2(w->pipefd, O_NONBLOCK | O_CLOEXEC) != 0) {
        goto err;
    }
    w->ev = event_new(base, w->pipefd[0], EV_READ | EV_PERSIST, on_pipe, w);
    if (w->ev == NULL || event_add(w->ev, NULL) != 0) {
        goto err;
    }
    for (i = 0; i < nthreads; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
            break;
        }
        w->nthreads++;
    }
    if (w->nthreads == 0) {
        goto err;
    }
    *out = w;
    return 0;
err:
    pg_workers_free(w);
    return -1;
}

void
pg_workers_free(struct pg_workers *w)
{
    struct pg_job *j;
    int i;

    if (w == NULL) {
        return;
    }
    /* Queued work still runs (a blob commit must not be lost half-way);
     * no done callback runs after this. */
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (i = 0; i < w->nthreads; i++) {
        pthread_join(w->threads[i], NULL);
    }
    while (w->done != NULL) {
        j = w->done;
        w->done = j->next;
        free(j);
    }
    if (w->ev != NULL) {
        event_free(w->ev);
    }
    if (w->pipefd[0] >= 0) {
        close(w->pipefd[0]);
    }
    if (w->pipefd[1] >= 0) {
        close(w->pipefd[1]);
    }
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int
pg_workers_submit(struct pg_workers *w, void (*work)(void *arg),
    void (*done)(void *arg), void *arg)
{
    struct pg_job *j;

    if (w == NULL || work == NULL) {
        return -1;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        return -1;
    }
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        pthread_mutex_unlock(&w->mu);
        free(j);
        return -1;
    }
    if (w->todo_tail != NULL) {
        w->todo_tail->next = j;
    } else {
        w->todo = j;
    }
    w->todo_tail = j;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}
