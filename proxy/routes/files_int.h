/* proxy/routes/files_int.h — what the file route's files share (files.c,
 * files_dl.c only).
 *
 * files.c answers a request for a file (records, decisions, the hold
 * table, serving a committed blob); files_dl.c runs the one download per
 * sha256 that an uncached file needs (streaming with the hold-back, the
 * commit, the end of every waiter).  The state they share and the few
 * functions they call across are here.
 *
 * Owns: nothing.  Runs on: loop.  Spec: see files.c.
 */
#ifndef PG_FILES_INT_H
#define PG_FILES_INT_H

#include <stdint.h>
#include <time.h>

#include "config_int.h"
#include "filecache_int.h"
#include "index_int.h"
#include "lru_int.h"
#include "metrics_int.h"
#include "pg_cache.h"
#include "rehash_int.h"
#include "routes_int.h"
#include "server_int.h"
#include "upstream_int.h"
#include "worker_int.h"

#define DL_BUCKETS 256

struct file_rec {
    char sha[65];
    char *project, *filename, *url, *upload_time;
    int64_t size;
    int is_meta;
    const char *lm_pre;             /* Last-Modified made at publication
                                       (hot.c; "" none), NULL: compute */
    time_t ut_pre;                  /* with lm_pre: its time (-1 none) */
};

struct file_req;

struct dl_wait {
    struct file_req *fr;
    struct dl_wait *next;
};

struct pg_dl {
    struct pg_lru_node n;           /* first; key = rec.sha */
    struct pg_files *fs;
    struct file_rec rec;            /* strings malloc'd */
    struct pg_upstream_xfer *xfer;
    struct pg_blob_writer *w;
    struct file_req *live;
    struct dl_wait *waiters, *wtail;
    struct evbuffer *held, *tmp;
    int64_t declared;
    uint64_t received;
    long up_status;
    int paused, committing, mismatch;
    int size_mismatch;              /* the mismatch is of the size */
    int passthrough;                /* the store cannot take it */
    int64_t t0;
    char reason[PG_MAX_REASON];
    struct pg_cache_err cerr;       /* commit result (worker) */
    int commit_rc;
};

struct file_req {
    struct pg_files *fs;            /* the route's state */
    struct pg_req *r;
    struct file_rec rec;            /* strings in the arena */
    int page_tried, decided, after_commit;
    size_t up;                      /* the upstream of the page decided on
                                       (issue 13): the one fetched from */
    int rehashed;                   /* the blob's re-hash was asked for */
    struct pg_dl *dl;               /* when live */
    uint64_t cache_gen;             /* LMDB generation of the lookup */
    struct pg_page *page;           /* set by on_page_for_file for the
                                       lookup it calls (borrowed) */
    time_t fresh_until;             /* of the page decided on (hot.c) */
    int page_hit;
};

#define PG_FILE_NO_PAGE ((time_t)INT64_MAX) /* no decision hook: no page */

/* A held sha256: what did not match, not which file (several projects
 * may list the same bytes under other names: a refusal names the file
 * the client asked for). */
struct hold_slot {
    struct pg_lru_node n;           /* first; key = sha */
    int linked;                     /* in fs->held */
    char sha[65];
    time_t until;
    int size;                       /* 1 size, 0 sha256 */
};

struct pg_files {
    struct pg_ctx ctx;              /* given at construction */
    struct pg_server *log;          /* ctx.log: pg_log's stream, the
                                       serving metrics (pg_stats_*) */
    struct pg_lru *dls;             /* sha256 → download (never dropped:
                                       a download leaves by dl_free) */
    struct hold_slot hold[PG_HOLD_SLOTS];   /* the held entries' room */
    struct pg_lru *held;            /* sha256 → its hold_slot */
    size_t hold_next;               /* slot reused next (the oldest) */
    time_t hold_until_max;          /* no slot holds anything after this */
    struct pg_filecache *fc;        /* records and open blobs */
    struct pg_rehash *rh;           /* re-hash before first serve, scrub */
};

/* ---- files.c ------------------------------------------------------------- */
const char *pg_files_rec_kind(const struct file_rec *rec);
void pg_files_hold_add(struct pg_files *fs, const char *sha, int size);
void pg_files_set_headers(struct pg_req *r, const struct file_rec *rec);
int pg_files_not_modified(struct pg_req *r, const struct file_rec *rec);
void pg_files_serve_blob(struct file_req *fr,
    struct evbuffer_file_segment *seg, int fd, uint64_t size);
void pg_files_proceed(struct file_req *fr);

/* ---- files_dl.c ---------------------------------------------------------- */
void pg_files_dl_drop(void *arg, struct pg_lru_node *n);
struct pg_dl *pg_files_dl_find(struct pg_files *fs, const char *sha);
void pg_files_dl_add_waiter(struct pg_dl *d, struct file_req *fr);
void pg_files_mismatch_reason(int size, const struct pg_req *r,
    const char *dflt, char *out, size_t olen);
void pg_files_dl_start(struct file_req *fr, int live);
void pg_files_dl_stop(struct pg_dl *d);

#endif
