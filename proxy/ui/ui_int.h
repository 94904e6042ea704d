/* proxy/ui/ui_int.h — the operator pages: plain models, pure renderers,
 * and the bounded event store they read.
 *
 * The pages under /-/ are rendered on the server, as HTML that needs no
 * JavaScript and no external asset (inline CSS, inline SVG bars).  A
 * renderer is a pure function from a plain model (the structs below:
 * strings and numbers, no server, jansson or LMDB type) to bytes in a
 * bounded buffer, so each page is tested from fixtures and timed alone.
 * The route (ui_route.c) builds the models from what the server holds.
 *
 * Every string in a model that came from the network or a file
 * (filenames, publisher claims, reasons, project names, history text) is
 * untrusted: the renderers write it only through pg_ui_text (escaped,
 * control and bidirectional-override characters shown as visible
 * "<U+202E>" marks, invalid UTF-8 replaced, cut at PG_UI_MAX_STR
 * characters) and links only through pg_ui_ext_link (http(s) URLs only).
 *
 * The event store keeps the audit stream's recent events (a ring bounded
 * by count and bytes) and exact per-day counts for the last
 * PG_UI_DAYS days.
 *
 * Owns: what each function says.  Borrows: the models.  Runs on: loop
 * (renderers also anywhere: no globals, no clock).  Spec: issue 15.
 */
#ifndef PG_UI_INT_H
#define PG_UI_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf_int.h"

/* ---- limits ---------------------------------------------------------- */
#define PG_UI_MAX_PAGE (16u * 1024 * 1024) /* one rendered page */
#define PG_UI_MAX_STR 300           /* characters of one untrusted string
                                       shown (longer: cut, "…" + count) */
#define PG_UI_DAYS 7                /* days of counts on the overview */
#define PG_UI_STORE_MAX_EVENTS 4096 /* events the store keeps */
#define PG_UI_STORE_MAX_BYTES (2u * 1024 * 1024) /* their strings */
#define PG_UI_STORE_MAX_FIELD 512   /* bytes kept of one event field */
#define PG_UI_PAGE_EVENTS 50        /* events per /-/events page */

/* ---- writing (ui_html.c) --------------------------------------------- */

/* Pages are written into the shared bounded buffer (util/buf_int.h):
 * trusted bytes (our own markup, numbers) with pg_buf_put, pg_buf_puts and
 * pg_buf_putf; everything untrusted through the functions below. */
/* Untrusted text, for element content and double-quoted attributes:
 * & < > " ' escaped; C0/C1 controls, DEL and the bidirectional controls
 * (U+061C, U+200E/F, U+202A–E, U+2066–9) written as a visible "<U+XXXX>"
 * mark; invalid UTF-8 as U+FFFD; cut after max characters (0: the
 * PG_UI_MAX_STR default) with "… (N more bytes)".  NULL writes nothing. */
void pg_ui_text_max(struct pg_buf *b, const char *s, size_t max);
void pg_ui_text(struct pg_buf *b, const char *s);
/* Untrusted text percent-encoded as one URL path segment or query value
 * (unreserved characters kept). */
void pg_ui_urlpart(struct pg_buf *b, const char *s);
/* <a href="url">label</a> when url is an http:// or https:// URL without
 * spaces, quotes or angle brackets; otherwise just the label as text.
 * Both are untrusted. */
void pg_ui_ext_link(struct pg_buf *b, const char *url,
    const char *label);
/* "2026-12-07 20:51 UTC" (or "—" for t < 0). */
void pg_ui_time(struct pg_buf *b, int64_t t);
/* The document head (title untrusted) with the inline style sheet, the
 * header and navigation; and its end. */
void pg_ui_page_begin(struct pg_buf *b, const char *title, int admin);
void pg_ui_page_end(struct pg_buf *b);

/* ---- statuses -------------------------------------------------------- */

enum pg_ui_status {
    PG_UI_VERIFIED = 0,
    PG_UI_UNATTESTED,
    PG_UI_LEGACY,           /* unattested, older than the first attested
                               upload of a pinned or required project */
    PG_UI_PENDING,
    PG_UI_REJECTED,
    PG_UI_UNDECIDED,        /* mode off, or not annotated */
    PG_UI_NSTATUS
};
const char *pg_ui_status_name(enum pg_ui_status s);

/* ---- overview (ui_overview.c) ---------------------------------------- */

/* What the audit stream says happened, by kind. */
enum pg_ui_kind {
    PG_UI_K_YANK = 0,       /* refused: listed yanked */
    PG_UI_K_HIDE,           /* refused: left out */
    PG_UI_K_DENY,           /* refused: download refused */
    PG_UI_K_PIN,            /* TOFU pin created */
    PG_UI_K_APPROVE,        /* publisher approved */
    PG_UI_K_FORGET,         /* pin forgotten (or imported) */
    PG_UI_K_OTHER,          /* policy reloads, anything else */
    PG_UI_NKINDS
};
const char *pg_ui_kind_name(enum pg_ui_kind k);
/* The kind of an audit event ("reject" + decision, "pin-create", …). */
enum pg_ui_kind pg_ui_kind_of(const char *event, const char *decision);

struct pg_ui_day {
    int64_t start;                  /* 00:00 UTC, Unix seconds */
    uint32_t n[PG_UI_NKINDS];
};

struct pg_ui_count {
    const char *project;
    size_t n;
};

/* A publisher change waiting for an administrator. */
struct pg_ui_pending {
    const char *project;
    const char *seen;               /* the new publisher */
    const char *expected;           /* what is accepted */
    const char *file;               /* a file that showed it */
    int64_t time;
};

/* One event as the store keeps it (every string untrusted). */
struct pg_ui_event {
    int64_t time;
    const char *event, *client, *project, *file, *sha256, *expected,
        *seen, *decision, *reason, *actor;
};

struct pg_ui_overview {
    int64_t now;
    struct pg_ui_day days[PG_UI_DAYS];  /* oldest first; the last: today */
    uint64_t last_day[PG_UI_NKINDS];    /* the last 24 hours */
    uint64_t last_week[PG_UI_NKINDS];   /* the PG_UI_DAYS days */
    const struct pg_ui_count *refusals; /* projects with refusals */
    size_t nrefusals;
    const struct pg_ui_pending *pending;
    size_t npending;
    const struct pg_ui_event *pins;     /* recent pin events, newest first */
    size_t npins;
    uint64_t cache_bytes, cache_max, cache_files;
    uint64_t hits, misses;              /* requests answered from the
                                           cache / needing the upstream */
    uint64_t up_requests, up_errors;
    const char *upstream;               /* the upstream index URL */
    const char *pin_store;              /* "lmdb", "postgresql" */
    int pin_store_up;
    uint64_t events_held, events_seen;  /* the store's ring */
    int admin;
};

int pg_ui_render_overview(const struct pg_ui_overview *m,
    struct pg_buf *out);

/* ---- project (ui_project.c) ------------------------------------------ */

struct pg_ui_file {
    const char *filename;
    const char *version;
    const char *upload_time;        /* as the index says it, or NULL */
    enum pg_ui_status status;
    const char *decision;           /* allow, yank, hide, deny, pending */
    const char *reason;
    const char *publisher;          /* the verified publisher's spec */
};

/* A publisher and what its certificate says (NULL: not known). */
struct pg_ui_identity {
    const char *spec;
    const char *repository, *workflow, *environment;
    const char *ref, *digest;       /* git ref, commit digest */
    const char *repo_url, *run_url; /* source repository, workflow run */
    const char *first_file;         /* the first file that showed it */
    int64_t when;                   /* when it was first seen (-1) */
    const char *how;                /* "tofu", "approved by alice", … */
};

struct pg_ui_change {
    struct pg_ui_identity old_id;   /* pinned / required */
    struct pg_ui_identity new_id;   /* seen, not accepted */
    size_t nfiles;                  /* files showing new_id */
};

struct pg_ui_pin {
    const char *spec, *how, *file, *by;
    int64_t time;
};

struct pg_ui_hist {
    int64_t time;
    const char *what, *before, *after, *by, *why, *file;
};

struct pg_ui_project {
    const char *name;               /* normalized */
    const char *mode, *on_violation, *legacy;
    const char *upstream_url;       /* the upstream's page for it */
    const char *pypi_url;           /* pypi.org's project page, or NULL */
    const char *note;               /* why the list may be incomplete */
    const struct pg_ui_pin *pins;
    size_t npins;
    const char *const *required;    /* policy publisher lines */
    size_t nrequired;
    const struct pg_ui_hist *hist;  /* oldest first */
    size_t nhist;
    const char *hist_note;          /* history unavailable: why */
    const struct pg_ui_change *changes;
    size_t nchanges;
    const struct pg_ui_file *files;
    size_t nfiles;
    int admin;                      /* show the approval forms */
    const char *csrf;               /* their token (admin) */
    const char *flash;              /* result of the last action, or NULL */
};

int pg_ui_render_project(const struct pg_ui_project *m,
    struct pg_buf *out);

/* ---- events (ui_events.c) -------------------------------------------- */

struct pg_ui_events {
    const char *project, *decision, *since;     /* the filters as given */
    size_t page;                    /* from 1 */
    int has_next;
    const struct pg_ui_event *ev;   /* newest first */
    size_t nev;
    uint64_t events_held;
    int admin;
};

int pg_ui_render_events(const struct pg_ui_events *m,
    struct pg_buf *out);

/* ---- the event store (ui_store.c) ------------------------------------ */

struct pg_ui_store;

int pg_ui_store_new(struct pg_ui_store **out);
void pg_ui_store_free(struct pg_ui_store *st);
/* Copies one audit event in (fields cut at PG_UI_STORE_MAX_FIELD bytes;
 * the oldest events leave when count or bytes are over).  time: Unix
 * seconds of the event. */
void pg_ui_store_add(struct pg_ui_store *st, const struct pg_ui_event *ev);
/* Events held, and added since start. */
size_t pg_ui_store_held(const struct pg_ui_store *st);
uint64_t pg_ui_store_seen(const struct pg_ui_store *st);
/* The i-th newest event (0: the newest), borrowed until the next add;
 * NULL past the end. */
const struct pg_ui_event *pg_ui_store_get(const struct pg_ui_store *st,
    size_t i);
/* Per-day counts for the PG_UI_DAYS days ending today (UTC of now),
 * oldest first, and the totals of the last 24 hours and of those days. */
void pg_ui_store_days(const struct pg_ui_store *st, int64_t now,
    struct pg_ui_day days[PG_UI_DAYS], uint64_t last_day[PG_UI_NKINDS],
    uint64_t last_week[PG_UI_NKINDS]);

/* A filter over the store: NULL or "" fields match everything.
 * decision matches the event's decision or its kind name (e.g. "yank",
 * "pin", "approve", "refused" for yank/hide/deny). */
struct pg_ui_filter {
    const char *project;
    const char *decision;
    int64_t since;                  /* events at or after; 0: all */
};
int pg_ui_filter_match(const struct pg_ui_filter *f,
    const struct pg_ui_event *ev);

#endif
