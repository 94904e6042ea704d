/* policy/pinstore.c — the pin store: one interface, two engines.
 *
 * pg_pinstore_open picks the engine from the URI ("lmdb:DIR" or a libpq
 * connection string) and every other entry point goes through its ops
 * table (pinstore_int.h).  What each change means is written here once,
 * as a change function run inside the engine's transaction:
 *   insert_if_absent  TOFU: a pin only if the project has none (the pin
 *                     that is there wins, and is what the caller decides
 *                     against);
 *   approve           adds one publisher (approved, by whom) to the set;
 *   forget            deletes the pin (the next sight pins again);
 *   import            replaces the set (`pins import`, the migration).
 * Each one appends its history event in the same transaction.
 *
 * Owns: nothing (the engines own their stores).  Runs on: see pg_policy.h.
 * Spec: issue 12 items 1–3, design §7, §11.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_policy.h"
#include "pinstore_int.h"

int
pg_pinstore_default_uri(const char *cache_dir, char *out, size_t len)
{
    char dir[PG_PINS_MAX_URI];
    size_t n;
    char *slash;
    int w;

    if (cache_dir == NULL || strlen(cache_dir) >= sizeof(dir)) {
        return -1;
    }
    snprintf(dir, sizeof(dir), "%s", cache_dir);
    n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') {
        dir[--n] = '\0';
    }
    slash = strrchr(dir, '/');
    if (slash == NULL) {
        w = snprintf(out, len, "lmdb:pins.lmdb");
    } else if (slash == dir) {
        w = snprintf(out, len, "lmdb:/pins.lmdb");
    } else {
        *slash = '\0';
        w = snprintf(out, len, "lmdb:%s/pins.lmdb", dir);
    }
    return w < 0 || (size_t) w >= len ? -1 : 0;
}

static int
is_pq_uri(const char *uri)
{
    return strncmp(uri, "postgresql://", 13) == 0
        || strncmp(uri, "postgres://", 11) == 0
        || strchr(uri, '=') != NULL;
}

int
pg_pinstore_open(const struct pg_pinstore_opts *opt,
    struct pg_pinstore **out, struct pg_policy_err *err)
{
    const char *uri = opt != NULL ? opt->uri : NULL;

    *out = NULL;
    if (uri == NULL || uri[0] == '\0') {
        pg_pins_fail(err, PG_POLICY_EINVAL, "pin-store", "%s",
            "no pin store given");
        return PG_POLICY_EINVAL;
    }
    if (strlen(uri) > PG_PINS_MAX_URI) {
        pg_pins_fail(err, PG_POLICY_EINVAL, "pin-store",
            "pin store URI longer than %d bytes", PG_PINS_MAX_URI);
        return PG_POLICY_EINVAL;
    }
    if (strncmp(uri, "lmdb:", 5) == 0) {
        if (uri[5] == '\0') {
            pg_pins_fail(err, PG_POLICY_EINVAL, "pin-store", "%s",
                "lmdb: needs a directory (lmdb:/var/lib/provgate/"
                "pins.lmdb)");
            return PG_POLICY_EINVAL;
        }
        return pg_pinstore_lmdb_open(uri + 5, opt, out, err);
    }
    if (is_pq_uri(uri)) {
        return pg_pinstore_pq_open(uri, opt, out, err);
    }
    pg_pins_fail(err, PG_POLICY_EINVAL, "pin-store", "%s", "expected lmdb, "
        "lmdb:DIR or a PostgreSQL URI (postgresql://…)");
    return PG_POLICY_EINVAL;
}

void
pg_pinstore_close(struct pg_pinstore *s)
{
    if (s != NULL) {
        s->ops->close(s);
    }
}

const char *
pg_pinstore_kind(const struct pg_pinstore *s)
{
    return s->ops->kind;
}

const char *
pg_pinstore_where(const struct pg_pinstore *s)
{
    return s->where;
}

int
pg_pinstore_available(const struct pg_pinstore *s)
{
    return s->ops->available(s);
}

int
pg_pinstore_refresh(struct pg_pinstore *s, struct pg_policy_err *err)
{
    return s->ops->refresh(s, err);
}

int
pg_pinstore_notify_fd(struct pg_pinstore *s)
{
    return s->ops->notify_fd(s);
}

int
pg_pinstore_on_notify(struct pg_pinstore *s)
{
    return s->ops->on_notify(s);
}

int
pg_pins_get(struct pg_pinstore *s, const char *project,
    struct pg_pin_set *set, struct pg_policy_err *err)
{
    memset(set, 0, sizeof(*set));
    if (pg_pins_project_ok(project, err) != 0) {
        return PG_POLICY_EINVAL;
    }
    snprintf(set->project, sizeof(set->project), "%s", project);
    return s->ops->get(s, project, set, err);
}

int
pg_pins_iter(struct pg_pinstore *s,
    int (*fn)(void *arg, const struct pg_pin_set *set), void *arg,
    struct pg_policy_err *err)
{
    return s->ops->iter(s, fn, arg, err);
}

int
pg_pins_history(struct pg_pinstore *s, const char *project,
    int (*fn)(void *arg, const struct pg_pin_event *ev), void *arg,
    struct pg_policy_err *err)
{
    if (project != NULL && pg_pins_project_ok(project, err) != 0) {
        return PG_POLICY_EINVAL;
    }
    return s->ops->history(s, project, fn, arg, err);
}

int
pg_pins_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err)
{
    return s->ops->generation(s, gen, err);
}

/* ---- changes ------------------------------------------------------------ */

struct change {
    const char *what;               /* event kind */
    const struct pg_pin_entry *entry;   /* tofu, approve */
    const struct pg_pin_set *set;   /* import */
    const char *by, *why, *file;
};

static void
event_fill(const struct change *c, const struct pg_pin_set *cur,
    const struct pg_pin_set *next, struct pg_pin_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->time = (int64_t) time(NULL);
    snprintf(ev->project, sizeof(ev->project), "%s", cur->project);
    snprintf(ev->what, sizeof(ev->what), "%s", c->what);
    pg_pins_format(cur, ev->before, sizeof(ev->before));
    pg_pins_format(next, ev->after, sizeof(ev->after));
    snprintf(ev->by, sizeof(ev->by), "%s", c->by != NULL ? c->by : "");
    snprintf(ev->why, sizeof(ev->why), "%s", c->why != NULL ? c->why : "");
    snprintf(ev->file, sizeof(ev->file), "%s",
        c->file != NULL ? c->file : "");
}

static int
on_tofu(void *arg, const struct pg_pin_set *cur, struct pg_pin_set *next,
    struct pg_pin_event *ev, struct pg_policy_err *err)
{
    const struct change *c = arg;

    (void) err;
    if (cur->n > 0) {
        return 0;
    }
    *next = *cur;
    next->n = 1;
    next->e[0] = *c->entry;
    event_fill(c, cur, next, ev);
    return 1;
}

static int
on_approve(void *arg, const struct pg_pin_set *cur, struct pg_pin_set *next,
    struct pg_pin_event *ev, struct pg_policy_err *err)
{
    const struct change *c = arg;
    size_t i;

    for (i = 0; i < cur->n; i++) {
        if (pg_pins_same_publisher(&cur->e[i].publisher,
            &c->entry->publisher))
        {
            return 0;
        }
    }
    if (cur->n >= PG_PINS_MAX_PUBLISHERS) {
        pg_pins_fail(err, PG_POLICY_ELIMIT, "pins-approve", "'%s' already "
            "has the maximum number of accepted publishers", cur->project);
        return -PG_POLICY_ELIMIT;
    }
    *next = *cur;
    next->e[next->n++] = *c->entry;
    event_fill(c, cur, next, ev);
    return 1;
}

static int
on_forget(void *arg, const struct pg_pin_set *cur, struct pg_pin_set *next,
    struct pg_pin_event *ev, struct pg_policy_err *err)
{
    const struct change *c = arg;

    (void) err;
    if (cur->n == 0) {
        return 0;
    }
    memset(next, 0, sizeof(*next));
    memcpy(next->project, cur->project, sizeof(next->project));
    event_fill(c, cur, next, ev);
    return 1;
}

static int
on_import(void *arg, const struct pg_pin_set *cur, struct pg_pin_set *next,
    struct pg_pin_event *ev, struct pg_policy_err *err)
{
    const struct change *c = arg;

    (void) err;
    *next = *c->set;
    event_fill(c, cur, next, ev);
    return 1;
}

int
pg_pinstore_decide(pg_pinstore_change_fn fn, void *arg,
    struct pg_pinstore_tx *tx, struct pg_policy_err *err)
{
    int rc;

    memset(&tx->next, 0, sizeof(tx->next));
    memset(&tx->ev, 0, sizeof(tx->ev));
    rc = fn(arg, &tx->cur, &tx->next, &tx->ev, err);
    memcpy(tx->next.project, tx->cur.project, sizeof(tx->next.project));
    return rc;
}

int
pg_pinstore_parse(const char *project, const char *json, size_t len,
    struct pg_pin_set *set, struct pg_policy_err *err)
{
    int rc = pg_pins_from_json(json, len, set, err);

    if (rc == PG_POLICY_OK && strcmp(set->project, project) != 0) {
        set->n = 0;
        pg_pins_fail(err, PG_POLICY_EPARSE, "pins-get", "record under '%s' "
            "names another project", project);
        return PG_POLICY_EPARSE;
    }
    return rc;
}

static int
run_change(struct pg_pinstore *s, const char *project,
    pg_pinstore_change_fn fn, struct change *c, struct pg_pin_set *after,
    int *changed, struct pg_policy_err *err)
{
    struct pg_pinstore_tx *tx;
    int rc;

    *changed = 0;
    if (pg_pins_project_ok(project, err) != 0) {
        return PG_POLICY_EINVAL;
    }
    tx = calloc(1, sizeof(*tx));
    if (tx == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-put", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    snprintf(tx->cur.project, sizeof(tx->cur.project), "%s", project);
    rc = s->ops->update(s, project, fn, c, tx, changed, err);
    if (rc == PG_POLICY_OK && after != NULL) {
        *after = *changed ? tx->next : tx->cur;
    }
    free(tx);
    return rc;
}

int
pg_pins_insert_if_absent(struct pg_pinstore *s, const char *project,
    const struct pg_pin_entry *entry, const char *by,
    struct pg_pin_set *winner, int *created, struct pg_policy_err *err)
{
    struct change c;

    memset(&c, 0, sizeof(c));
    c.what = "tofu";
    c.entry = entry;
    c.by = by;
    c.why = "first attested upload (tofu)";
    c.file = entry->file;
    return run_change(s, project, on_tofu, &c, winner, created, err);
}

int
pg_pins_approve(struct pg_pinstore *s, const char *project,
    const struct pg_pin_entry *entry, const char *why, int *added,
    struct pg_policy_err *err)
{
    struct change c;

    memset(&c, 0, sizeof(c));
    c.what = "approve";
    c.entry = entry;
    c.by = entry->by;
    c.why = why;
    return run_change(s, project, on_approve, &c, NULL, added, err);
}

int
pg_pins_forget(struct pg_pinstore *s, const char *project, const char *by,
    const char *why, int *removed, struct pg_policy_err *err)
{
    struct change c;

    memset(&c, 0, sizeof(c));
    c.what = "forget";
    c.by = by;
    c.why = why;
    return run_change(s, project, on_forget, &c, NULL, removed, err);
}

int
pg_pins_import(struct pg_pinstore *s, const struct pg_pin_set *set,
    const char *what, const char *by, const char *why,
    struct pg_policy_err *err)
{
    struct change c;
    int changed = 0;

    if (set->n > PG_PINS_MAX_PUBLISHERS) {
        pg_pins_fail(err, PG_POLICY_ELIMIT, "pins-import", "more than %d "
            "publishers in one pin", PG_PINS_MAX_PUBLISHERS);
        return PG_POLICY_ELIMIT;
    }
    memset(&c, 0, sizeof(c));
    c.what = what;
    c.set = set;
    c.by = by;
    c.why = why;
    return run_change(s, set->project, on_import, &c, NULL, &changed, err);
}
