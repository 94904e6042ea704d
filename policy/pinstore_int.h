/* policy/pinstore_int.h — the pin store's engines and what they share.
 *
 * A store is a struct pg_pinstore whose ops table is one engine's
 * (pinstore_lmdb.c, pinstore_pq.c).  Engines know how to keep pin sets
 * and events; what a change MEANS (TOFU only if absent, approve adds a
 * publisher, forget deletes, import replaces) is decided once, in
 * pinstore.c, by a change function the engine calls inside its own
 * transaction with the current set: the engine then writes the new set,
 * the event and a new generation atomically, or nothing.
 *
 * Owns: nothing.  Runs on: see pg_policy.h (the pin store).
 * Spec: issue 12 items 1–4.
 */
#ifndef PG_PINSTORE_INT_H
#define PG_PINSTORE_INT_H

#include <stdarg.h>

#include "pg_policy.h"

/* Computes the change: *next is the new set (n == 0: no pin), *ev the
 * event (the engine fills id).  Returns 1 to write both, 0 for no change,
 * or a PG_POLICY_* code < 0 negated (-code) with err filled. */
typedef int (*pg_pinstore_change_fn)(void *arg, const struct pg_pin_set *cur,
    struct pg_pin_set *next, struct pg_pin_event *ev,
    struct pg_policy_err *err);

/* A token change: cur is the stored record of the name (NULL: none);
 * returns 1 with *next (malloc'd, the engine frees it) to write, 0 for
 * no change, or a PG_POLICY_* code < 0 negated with err filled. */
typedef int (*pg_tokens_change_fn)(void *arg, const char *cur, size_t len,
    char **next, size_t *nlen, struct pg_policy_err *err);

/* One change in flight, allocated by pinstore.c: the engine reads cur
 * (cur.project is filled), pg_pinstore_decide computes next and ev. */
struct pg_pinstore_tx {
    struct pg_pin_set cur;
    struct pg_pin_set next;
    struct pg_pin_event ev;
};

struct pg_pinstore_ops {
    const char *kind;                       /* "lmdb", "postgresql" */
    int (*get)(struct pg_pinstore *s, const char *project,
        struct pg_pin_set *set, struct pg_policy_err *err);
    /* Reads the project's current set into tx->cur, decides with
     * pg_pinstore_decide(fn, arg, tx) and writes tx->next and tx->ev
     * atomically when asked to, or nothing.  On PG_POLICY_OK, *changed
     * says whether it wrote; tx->cur is the set it decided on. */
    int (*update)(struct pg_pinstore *s, const char *project,
        pg_pinstore_change_fn fn, void *arg, struct pg_pinstore_tx *tx,
        int *changed, struct pg_policy_err *err);
    int (*iter)(struct pg_pinstore *s,
        int (*fn)(void *arg, const struct pg_pin_set *set), void *arg,
        struct pg_policy_err *err);
    int (*history)(struct pg_pinstore *s, const char *project,
        int (*fn)(void *arg, const struct pg_pin_event *ev), void *arg,
        struct pg_policy_err *err);
    int (*generation)(struct pg_pinstore *s, uint64_t *gen,
        struct pg_policy_err *err);
    int (*refresh)(struct pg_pinstore *s, struct pg_policy_err *err);
    int (*notify_fd)(struct pg_pinstore *s);
    int (*on_notify)(struct pg_pinstore *s);
    int (*available)(const struct pg_pinstore *s);
    void (*close)(struct pg_pinstore *s);
    /* Tokens (tokens.c decides): reads name's record (NULL: none), asks
     * fn for the next one and, when fn returns 1, writes it, moves the
     * tokens generation and notifies, atomically. */
    int (*tok_update)(struct pg_pinstore *s, const char *name,
        pg_tokens_change_fn fn, void *arg, struct pg_policy_err *err);
    /* Calls fn with every token record, in name order. */
    int (*tok_iter)(struct pg_pinstore *s,
        int (*fn)(void *arg, const char *name, const char *rec,
        size_t len), void *arg, struct pg_policy_err *err);
    int (*tok_generation)(struct pg_pinstore *s, uint64_t *gen,
        struct pg_policy_err *err);
};

/* The head of every engine's store. */
struct pg_pinstore {
    const struct pg_pinstore_ops *ops;
    char where[PG_PINS_MAX_URI + 16];       /* for logs: no password */
};

int pg_pinstore_lmdb_open(const char *dir, const struct pg_pinstore_opts *o,
    struct pg_pinstore **out, struct pg_policy_err *err);
int pg_pinstore_pq_open(const char *conninfo,
    const struct pg_pinstore_opts *o, struct pg_pinstore **out,
    struct pg_policy_err *err);

/* pinstore.c, for the engines.  decide: runs fn on tx->cur, clears and
 * fills tx->next (its project too) and tx->ev; returns fn's answer.
 * parse: a stored record of project into *set (set->project filled),
 * refusing one that names another project. */
int pg_pinstore_decide(pg_pinstore_change_fn fn, void *arg,
    struct pg_pinstore_tx *tx, struct pg_policy_err *err);
int pg_pinstore_parse(const char *project, const char *json, size_t len,
    struct pg_pin_set *set, struct pg_policy_err *err);

/* pins.c helpers shared by the engines. */
void pg_pins_fail(struct pg_policy_err *err, enum pg_policy_code code,
    const char *step, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void pg_pins_fmt_time(int64_t t, char *buf, size_t len);
int pg_pins_is_hex64(const char *s);
const char *pg_pins_str_field(json_t *o, const char *key, size_t max,
    int required, const char **why);
int pg_pins_same_publisher(const struct pg_publisher *a,
    const struct pg_publisher *b);
/* 0 if project is a normalized name, else -1 with err filled. */
int pg_pins_project_ok(const char *project, struct pg_policy_err *err);

#endif
