/* policy/pinstore_pq.c — the pin store a fleet shares: PostgreSQL (libpq).
 *
 * The idea: the database is the one truth, each replica answers from a
 * local copy of it.
 *  - Schema "provgate" (pinstore_pq_schema below): meta (schema name,
 *    version, a generation bumped by every change), pins (project PRIMARY
 *    KEY: a second pin for a project is impossible, whatever the client;
 *    the record must name its own project) and pin_events (append-only: a
 *    trigger refuses UPDATE and DELETE).  Created or upgraded at open
 *    under an advisory lock, so replicas starting together do it once;
 *    tables of the same names that are not ours are refused.
 *  - A change is one transaction: SELECT … FOR UPDATE the project's row,
 *    run pinstore.c's change function, then INSERT … ON CONFLICT DO
 *    NOTHING (a first pin: when it inserts nothing another replica won
 *    the race, and the transaction is retried, deciding against the
 *    winner), UPDATE or DELETE; the event; the generation; pg_notify.
 *  - Reads (get, generation) never touch the network: a sorted copy of
 *    every project's record, replaced by pg_pinstore_refresh (a worker:
 *    the server runs it on every notification on the LISTEN connection,
 *    whose descriptor it watches on its loop, and every few seconds as a
 *    safety net; it reads only the generation when nothing changed).
 *  - Unreachable: a round trip that finds the connection broken marks the
 *    store unavailable and returns PG_POLICY_ESTORE; the next attempt
 *    reconnects, no sooner than the back-off (250 ms doubling to 30 s)
 *    allows, so callers fail fast meanwhile.  The local copy stays.
 * Credentials: the connection string may hold a password; it is kept but
 * never put in a message or in where (which names user, host, port and
 * database).  libpq's PGPASSFILE and service files work as usual.
 *
 * Owns: the connections, the local copy.  Locks: conn_mu is held across a
 * round trip on the work connection (workers, CLI); copy_mu only for a
 * few memory operations (the loop takes it), never across I/O.
 * Runs on: open/update/iter/history/refresh: worker or CLI (they block on
 * the network); get/generation/notify_fd/on_notify/available: any thread,
 * never blocking.  Spec: issue 12 items 3–4, design §11.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <libpq-fe.h>

#include "pg_policy.h"
#include "pinstore_int.h"

#define PQ_SCHEMA_NAME "provgate-pins"
#define PQ_SCHEMA_VERSION 1
#define PQ_CHANNEL "provgate_pins"
#define PQ_LOCK_KEY "7152436601"        /* advisory lock of the migration */
#define PQ_BACKOFF_MIN_MS 250
#define PQ_BACKOFF_MAX_MS 30000
#define PQ_TOFU_RETRIES 5
#define PQ_MAX_PINS 1000000             /* rows read into the local copy */

struct pq_pin {
    char *project;
    char *json;
    size_t len;
};

struct pq_store {
    struct pg_pinstore head;
    char *conninfo;                     /* may hold a password: never shown */
    int read_only;
    pthread_mutex_t conn_mu;
    PGconn *work;                       /* conn_mu */
    int64_t next_try_ms;                /* conn_mu: reconnect not before */
    int64_t backoff_ms;                 /* conn_mu */
    pthread_mutex_t copy_mu;
    PGconn *listen;                     /* copy_mu */
    struct pq_pin *pins;                /* copy_mu: sorted by project */
    size_t npins;
    int64_t db_gen;                     /* copy_mu: the copy's generation */
    uint64_t local_gen;                 /* copy_mu: changes with the copy */
    atomic_int up;
};

static const struct pg_pinstore_ops pq_ops;

/* Version 1 of the schema, one statement per entry (run in order). */
static const char *const pinstore_pq_schema[] = {
    "CREATE SCHEMA IF NOT EXISTS provgate",
    "CREATE TABLE provgate.meta (key text PRIMARY KEY, value text NOT NULL)",
    "CREATE TABLE provgate.pins ("
    " project text PRIMARY KEY"
    "  CHECK (project ~ '^[a-z0-9-]{1,200}$'),"
    " record jsonb NOT NULL"
    "  CHECK (record->>'project' = project"
    "   AND jsonb_typeof(record->'publishers') = 'array'"
    "   AND jsonb_array_length(record->'publishers') BETWEEN 1 AND 16),"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE provgate.pin_events ("
    " id bigserial PRIMARY KEY,"
    " at timestamptz NOT NULL,"
    " project text NOT NULL CHECK (project ~ '^[a-z0-9-]{1,200}$'),"
    " what text NOT NULL"
    "  CHECK (what IN ('tofu','approve','forget','import','migrate')),"
    " before text NOT NULL, after text NOT NULL, by text NOT NULL,"
    " why text NOT NULL, file text NOT NULL)",
    "CREATE INDEX pin_events_project ON provgate.pin_events (project, id)",
    "CREATE FUNCTION provgate.pin_events_append_only() RETURNS trigger"
    " LANGUAGE plpgsql AS $$BEGIN"
    " RAISE EXCEPTION 'provgate.pin_events is append-only'; END$$",
    "CREATE TRIGGER pin_events_append_only BEFORE UPDATE OR DELETE"
    " OR TRUNCATE ON provgate.pin_events FOR EACH STATEMENT"
    " EXECUTE FUNCTION provgate.pin_events_append_only()",
    "INSERT INTO provgate.meta VALUES ('schema', '" PQ_SCHEMA_NAME "'),"
    " ('version', '1'), ('generation', '0')",
};

static int64_t
pq_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libpq's message on one line, cut to fit. */
static void
pq_msg(PGconn *c, const PGresult *r, char *out, size_t len)
{
    const char *m = r != NULL ? PQresultErrorMessage(r) : "";
    size_t i;

    if (m == NULL || m[0] == '\0') {
        m = c != NULL ? PQerrorMessage(c) : "no connection";
    }
    snprintf(out, len, "%s", m != NULL && m[0] != '\0' ? m : "unknown error");
    for (i = 0; out[i] != '\0'; i++) {
        if (out[i] == '\n' || out[i] == '\r') {
            out[i] = out[i + 1] != '\0' ? ' ' : '\0';
        }
    }
}

static int
pq_fail(struct pq_store *ps, PGconn *c, const PGresult *r,
    struct pg_policy_err *err, const char *step)
{
    char m[200];

    pq_msg(c, r, m, sizeof(m));
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        atomic_store(&ps->up, 0);
        pg_pins_fail(err, PG_POLICY_ESTORE, step, "pin store unavailable: "
            "%s", m);
    } else {
        pg_pins_fail(err, PG_POLICY_ESTORE, step, "pin store: %s", m);
    }
    return PG_POLICY_ESTORE;
}

static PGconn *
pq_connect(const char *conninfo)
{
    const char *const keys[] = { "connect_timeout", "application_name",
        "dbname", NULL };
    const char *const vals[] = { "5", "provgate", conninfo, NULL };

    return PQconnectdbParams(keys, vals, 1);
}

/* A small non-negative decimal, -1 if it is not one. */
static int
pq_int(const char *s)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 1000000) {
        return -1;
    }
    return (int) v;
}

static int
pq_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);

    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* The work connection, (re)connected if needed and the back-off allows.
 * Called with conn_mu held. */
static PGconn *
pq_work(struct pq_store *ps, struct pg_policy_err *err)
{
    char m[200];
    PGresult *r;
    int64_t now = pq_now_ms();

    if (ps->work != NULL && PQstatus(ps->work) == CONNECTION_OK) {
        return ps->work;
    }
    if (now < ps->next_try_ms) {
        pg_pins_fail(err, PG_POLICY_ESTORE, "pin-store", "pin store "
            "unavailable (next attempt in %lld ms)",
            (long long) (ps->next_try_ms - now));
        return NULL;
    }
    if (ps->work != NULL) {
        PQfinish(ps->work);
    }
    ps->work = pq_connect(ps->conninfo);
    if (ps->work != NULL && PQstatus(ps->work) == CONNECTION_OK) {
        r = PQexec(ps->work, "SET statement_timeout = '10s'");
        PQclear(r);
        ps->backoff_ms = 0;
        ps->next_try_ms = 0;
        return ps->work;
    }
    pq_msg(ps->work, NULL, m, sizeof(m));
    ps->backoff_ms = ps->backoff_ms == 0 ? PQ_BACKOFF_MIN_MS
        : ps->backoff_ms * 2;
    if (ps->backoff_ms > PQ_BACKOFF_MAX_MS) {
        ps->backoff_ms = PQ_BACKOFF_MAX_MS;
    }
    ps->next_try_ms = now + ps->backoff_ms;
    atomic_store(&ps->up, 0);
    pg_pins_fail(err, PG_POLICY_ESTORE, "pin-store", "pin store "
        "unavailable: %s", m);
    return NULL;
}

/* ---- schema -------------------------------------------------------------- */

static int
pq_schema(struct pq_store *ps, PGconn *c, int create,
    struct pg_policy_err *err)
{
    PGresult *r = NULL;
    int has_meta, has_pins, has_events, version;
    size_t i;

    r = PQexec(c, "BEGIN");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "SELECT pg_advisory_xact_lock(" PQ_LOCK_KEY ")");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "SELECT to_regclass('provgate.meta') IS NOT NULL,"
        " to_regclass('provgate.pins') IS NOT NULL,"
        " to_regclass('provgate.pin_events') IS NOT NULL");
    if (!pq_ok(r) || PQntuples(r) != 1) {
        goto fail;
    }
    has_meta = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    has_pins = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
    has_events = strcmp(PQgetvalue(r, 0, 2), "t") == 0;
    PQclear(r);
    r = NULL;
    if (!has_meta && (has_pins || has_events)) {
        PQclear(PQexec(c, "ROLLBACK"));
        pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "table provgate.%s "
            "exists but is not a provgate pin store (no provgate.meta)",
            has_pins ? "pins" : "pin_events");
        return PG_POLICY_ECONFIG;
    }
    if (has_meta) {
        r = PQexec(c, "SELECT (SELECT value FROM provgate.meta WHERE key ="
            " 'schema'), (SELECT value FROM provgate.meta WHERE key ="
            " 'version')");
        if (!pq_ok(r) || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)
            || strcmp(PQgetvalue(r, 0, 0), PQ_SCHEMA_NAME) != 0
            || PQgetisnull(r, 0, 1))
        {
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "%s",
                "table provgate.meta exists but is not a provgate pin "
                "store's");
            return PG_POLICY_ECONFIG;
        }
        version = pq_int(PQgetvalue(r, 0, 1));
        PQclear(r);
        r = NULL;
        if (version != PQ_SCHEMA_VERSION || !has_pins || !has_events) {
            PQclear(PQexec(c, "ROLLBACK"));
            pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "pin store "
                "schema version %d is not %d (written by %s provgate?)",
                version, PQ_SCHEMA_VERSION, version > PQ_SCHEMA_VERSION
                ? "a newer" : "another");
            return PG_POLICY_ECONFIG;
        }
        r = PQexec(c, "COMMIT");
        if (!pq_ok(r)) {
            goto fail;
        }
        PQclear(r);
        return PG_POLICY_OK;
    }
    if (!create) {
        PQclear(PQexec(c, "ROLLBACK"));
        pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "%s", "the "
            "database has no pin store yet (run `provgate pins migrate`)");
        return PG_POLICY_ECONFIG;
    }
    for (i = 0; i < sizeof(pinstore_pq_schema)
        / sizeof(pinstore_pq_schema[0]); i++)
    {
        r = PQexec(c, pinstore_pq_schema[i]);
        if (!pq_ok(r)) {
            goto fail;
        }
        PQclear(r);
    }
    r = PQexec(c, "COMMIT");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    return PG_POLICY_OK;

fail:
    pq_fail(ps, c, r, err, "pin-store-schema");
    PQclear(r);
    if (PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
    }
    return PG_POLICY_ESTORE;
}

/* ---- the local copy ------------------------------------------------------ */

static void
pq_pins_free(struct pq_pin *pins, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        free(pins[i].project);
        free(pins[i].json);
    }
    free(pins);
}

/* Index of project in the sorted copy, or where it would go (*found 0). */
static size_t
pq_find(const struct pq_store *ps, const char *project, int *found)
{
    size_t lo = 0, hi = ps->npins;

    *found = 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ps->pins[mid].project, project);

        if (c == 0) {
            *found = 1;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

static uint64_t
pq_random(void)
{
    uint64_t g = 0;

    while (g == 0) {
        if (getrandom(&g, sizeof(g), 0) != (ssize_t) sizeof(g)) {
            g = (uint64_t) pq_now_ms() ^ 0x9e3779b97f4a7c15ull;
        }
    }
    return g;
}

/* Sets (json != NULL) or removes one project in the copy after our own
 * committed change (gen: the database generation it made). */
static int
pq_copy_set(struct pq_store *ps, const char *project, const char *json,
    size_t len, int64_t gen)
{
    char *pcopy = NULL, *jcopy = NULL;
    size_t at;
    int found, rc = 0;

    if (json != NULL) {
        pcopy = strdup(project);
        jcopy = malloc(len + 1);
        if (pcopy == NULL || jcopy == NULL) {
            free(pcopy);
            free(jcopy);
            return -1;
        }
        memcpy(jcopy, json, len);
        jcopy[len] = '\0';
    }
    pthread_mutex_lock(&ps->copy_mu);
    at = pq_find(ps, project, &found);
    if ((!found && json == NULL) || (found && json != NULL
        && ps->pins[at].len == len
        && memcmp(ps->pins[at].json, json, len) == 0))
    {
        /* The copy holds it already: no change, same generation. */
        pthread_mutex_unlock(&ps->copy_mu);
        free(pcopy);
        free(jcopy);
        return 0;
    }
    if (found && json != NULL) {
        free(ps->pins[at].json);
        ps->pins[at].json = jcopy;
        ps->pins[at].len = len;
        free(pcopy);
    } else if (found) {
        free(ps->pins[at].project);
        free(ps->pins[at].json);
        memmove(&ps->pins[at], &ps->pins[at + 1],
            (ps->npins - at - 1) * sizeof(ps->pins[0]));
        ps->npins--;
    } else if (json != NULL) {
        struct pq_pin *np = realloc(ps->pins,
            (ps->npins + 1) * sizeof(ps->pins[0]));

        if (np == NULL) {
            free(pcopy);
            free(jcopy);
            rc = -1;
        } else {
            ps->pins = np;
            memmove(&ps->pins[at + 1], &ps->pins[at],
                (ps->npins - at) * sizeof(ps->pins[0]));
            ps->pins[at].project = pcopy;
            ps->pins[at].json = jcopy;
            ps->pins[at].len = len;
            ps->npins++;
        }
    }
    if (gen > ps->db_gen + 1) {
        /* Another change came in between ours: the next refresh reads it
         * (its generation is above the copy's). */
    } else if (gen > ps->db_gen) {
        ps->db_gen = gen;
    }
    ps->local_gen = pq_random();
    pthread_mutex_unlock(&ps->copy_mu);
    return rc;
}

/* Re-reads every pin when the database's generation moved.  conn_mu held.
 */
static int
pq_reload(struct pq_store *ps, PGconn *c, int force,
    struct pg_policy_err *err)
{
    PGresult *r = NULL;
    struct pq_pin *pins = NULL, *old;
    size_t n = 0, i, oldn;
    int64_t gen, have;

    r = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "SELECT value::bigint FROM provgate.meta"
        " WHERE key = 'generation'");
    if (!pq_ok(r) || PQntuples(r) != 1) {
        goto fail;
    }
    gen = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = NULL;
    pthread_mutex_lock(&ps->copy_mu);
    have = ps->db_gen;
    pthread_mutex_unlock(&ps->copy_mu);
    if (!force && gen == have) {
        PQclear(PQexec(c, "COMMIT"));
        atomic_store(&ps->up, 1);
        return PG_POLICY_OK;
    }
    r = PQexec(c, "SELECT project, record::text FROM provgate.pins"
        " ORDER BY project COLLATE \"C\"");
    if (!pq_ok(r)) {
        goto fail;
    }
    n = (size_t) PQntuples(r);
    if (n > PQ_MAX_PINS) {
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        pg_pins_fail(err, PG_POLICY_ELIMIT, "pins-refresh", "more than %d "
            "pins in the store", PQ_MAX_PINS);
        return PG_POLICY_ELIMIT;
    }
    pins = calloc(n > 0 ? n : 1, sizeof(*pins));
    if (pins == NULL) {
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-refresh", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    for (i = 0; i < n; i++) {
        pins[i].project = strdup(PQgetvalue(r, (int) i, 0));
        pins[i].len = (size_t) PQgetlength(r, (int) i, 1);
        pins[i].json = malloc(pins[i].len + 1);
        if (pins[i].project == NULL || pins[i].json == NULL) {
            pq_pins_free(pins, i + 1);
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-refresh", "%s",
                "out of memory");
            return PG_POLICY_ENOMEM;
        }
        memcpy(pins[i].json, PQgetvalue(r, (int) i, 1), pins[i].len + 1);
    }
    PQclear(r);
    PQclear(PQexec(c, "COMMIT"));
    pthread_mutex_lock(&ps->copy_mu);
    if (gen < ps->db_gen) {
        /* Our own newer change landed in the copy meanwhile: keep it. */
        pthread_mutex_unlock(&ps->copy_mu);
        pq_pins_free(pins, n);
        return PG_POLICY_OK;
    }
    old = ps->pins;
    oldn = ps->npins;
    ps->pins = pins;
    ps->npins = n;
    if (gen != ps->db_gen || force) {
        ps->local_gen = pq_random();
    }
    ps->db_gen = gen;
    pthread_mutex_unlock(&ps->copy_mu);
    pq_pins_free(old, oldn);
    atomic_store(&ps->up, 1);
    return PG_POLICY_OK;

fail:
    pq_fail(ps, c, r, err, "pins-refresh");
    PQclear(r);
    if (PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
    }
    return PG_POLICY_ESTORE;
}

/* The LISTEN connection, made when there is none.  Not under any lock
 * while connecting. */
static int
pq_listen_ensure(struct pq_store *ps)
{
    PGconn *l;
    PGresult *r;
    int have;

    pthread_mutex_lock(&ps->copy_mu);
    have = ps->listen != NULL;
    pthread_mutex_unlock(&ps->copy_mu);
    if (have || ps->read_only) {
        return 0;
    }
    l = pq_connect(ps->conninfo);
    if (l == NULL || PQstatus(l) != CONNECTION_OK) {
        PQfinish(l);
        return 0;
    }
    r = PQexec(l, "LISTEN " PQ_CHANNEL);
    if (!pq_ok(r) || PQsetnonblocking(l, 1) != 0) {
        PQclear(r);
        PQfinish(l);
        return 0;
    }
    PQclear(r);
    pthread_mutex_lock(&ps->copy_mu);
    if (ps->listen == NULL) {
        ps->listen = l;
        l = NULL;
    }
    pthread_mutex_unlock(&ps->copy_mu);
    have = l == NULL;
    PQfinish(l);
    return have;
}

static int
pq_refresh(struct pg_pinstore *s, struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    PGconn *c;
    int rc;

    pthread_mutex_lock(&ps->conn_mu);
    c = pq_work(ps, err);
    if (c == NULL) {
        pthread_mutex_unlock(&ps->conn_mu);
        return PG_POLICY_ESTORE;
    }
    rc = pq_reload(ps, c, 0, err);
    pthread_mutex_unlock(&ps->conn_mu);
    if (rc == PG_POLICY_OK && pq_listen_ensure(ps)) {
        /* Listening again (only once the database answers, within the
         * work connection's back-off): what changed between the reload
         * and the LISTEN is read now. */
        pthread_mutex_lock(&ps->conn_mu);
        c = pq_work(ps, err);
        rc = c != NULL ? pq_reload(ps, c, 0, err) : PG_POLICY_ESTORE;
        pthread_mutex_unlock(&ps->conn_mu);
    }
    return rc;
}

static int
pq_get(struct pg_pinstore *s, const char *project, struct pg_pin_set *set,
    struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    char *json = NULL;
    size_t at, len = 0;
    int found, rc;

    pthread_mutex_lock(&ps->copy_mu);
    at = pq_find(ps, project, &found);
    if (found) {
        len = ps->pins[at].len;
        json = malloc(len + 1);
        if (json != NULL) {
            memcpy(json, ps->pins[at].json, len + 1);
        }
    }
    pthread_mutex_unlock(&ps->copy_mu);
    if (!found) {
        set->n = 0;
        return PG_POLICY_OK;
    }
    if (json == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-get", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    rc = pg_pins_from_json(json, len, set, err);
    free(json);
    if (rc == PG_POLICY_OK && strcmp(set->project, project) != 0) {
        set->n = 0;
        pg_pins_fail(err, PG_POLICY_EPARSE, "pins-get", "record under '%s' "
            "names another project", project);
        return PG_POLICY_EPARSE;
    }
    return rc;
}

static int
pq_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;

    (void) err;
    pthread_mutex_lock(&ps->copy_mu);
    *gen = ps->npins > 0 || ps->db_gen > 0 ? ps->local_gen : 0;
    pthread_mutex_unlock(&ps->copy_mu);
    return PG_POLICY_OK;
}

static int
pq_notify_fd(struct pg_pinstore *s)
{
    struct pq_store *ps = (struct pq_store *) s;
    int fd;

    pthread_mutex_lock(&ps->copy_mu);
    fd = ps->listen != NULL ? PQsocket(ps->listen) : -1;
    pthread_mutex_unlock(&ps->copy_mu);
    return fd;
}

static int
pq_on_notify(struct pg_pinstore *s)
{
    struct pq_store *ps = (struct pq_store *) s;
    PGnotify *n;
    int any = 0;

    pthread_mutex_lock(&ps->copy_mu);
    if (ps->listen == NULL) {
        pthread_mutex_unlock(&ps->copy_mu);
        return -1;
    }
    if (PQconsumeInput(ps->listen) == 0
        || PQstatus(ps->listen) != CONNECTION_OK)
    {
        PQfinish(ps->listen);
        ps->listen = NULL;
        pthread_mutex_unlock(&ps->copy_mu);
        atomic_store(&ps->up, 0);
        return -1;
    }
    while ((n = PQnotifies(ps->listen)) != NULL) {
        any = 1;
        PQfreemem(n);
    }
    pthread_mutex_unlock(&ps->copy_mu);
    return any;
}

static int
pq_available(const struct pg_pinstore *s)
{
    const struct pq_store *ps = (const struct pq_store *) s;

    return atomic_load((atomic_int *) &ps->up);
}

/* ---- changes ------------------------------------------------------------- */

struct pq_tx {
    struct pg_pin_set *cur, *next;
    struct pg_pin_event *ev;
    char *json;                         /* next, as we wrote it */
    size_t jlen;
    char *raw;                          /* the row as the database holds it
                                           (record::text, the form a
                                           refresh reads), NULL: no row */
    size_t rawlen;
    int64_t gen;
};

/* Keeps the database's text of the row (the local copy stores that form,
 * so that an unchanged row compares equal). */
static int
pq_tx_raw(struct pq_tx *tx, const PGresult *r)
{
    free(tx->raw);
    tx->raw = NULL;
    tx->rawlen = 0;
    if (PQntuples(r) != 1) {
        return 0;
    }
    tx->rawlen = (size_t) PQgetlength(r, 0, 0);
    tx->raw = malloc(tx->rawlen + 1);
    if (tx->raw == NULL) {
        return -1;
    }
    memcpy(tx->raw, PQgetvalue(r, 0, 0), tx->rawlen + 1);
    return 0;
}

/* One attempt: 1 done (changed or not in *changed), 0 lost the race for a
 * first pin (retry), or -code. */
static int
pq_update_once(struct pq_store *ps, PGconn *c, const char *project,
    pg_pinstore_change_fn fn, void *arg, struct pq_tx *tx, int *changed,
    struct pg_policy_err *err)
{
    PGresult *r = NULL;
    const char *p1[1], *p9[9];
    char ts[32], idbuf[32];
    int rc;

    *changed = 0;
    p1[0] = project;
    r = PQexec(c, "BEGIN");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexecParams(c, "SELECT record::text FROM provgate.pins"
        " WHERE project = $1 FOR UPDATE", 1, NULL, p1, NULL, NULL, 0);
    if (!pq_ok(r)) {
        goto fail;
    }
    memset(tx->cur, 0, sizeof(*tx->cur));
    snprintf(tx->cur->project, sizeof(tx->cur->project), "%s", project);
    if (pq_tx_raw(tx, r) != 0) {
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-put", "%s",
            "out of memory");
        return -PG_POLICY_ENOMEM;
    }
    if (PQntuples(r) == 1) {
        rc = pg_pins_from_json(PQgetvalue(r, 0, 0),
            (size_t) PQgetlength(r, 0, 0), tx->cur, err);
        if (rc != PG_POLICY_OK) {
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            return -rc;
        }
    }
    PQclear(r);
    r = NULL;
    memset(tx->next, 0, sizeof(*tx->next));
    rc = fn(arg, tx->cur, tx->next, tx->ev, err);
    if (rc <= 0) {
        PQclear(PQexec(c, "ROLLBACK"));
        return rc < 0 ? rc : 1;
    }
    snprintf(tx->next->project, sizeof(tx->next->project), "%s", project);
    free(tx->json);
    tx->json = NULL;
    tx->jlen = 0;
    if (tx->next->n > 0) {
        rc = pg_pins_to_json(tx->next, &tx->json, &tx->jlen, err);
        if (rc != PG_POLICY_OK) {
            PQclear(PQexec(c, "ROLLBACK"));
            return -rc;
        }
        p9[0] = project;
        p9[1] = tx->json;
        if (tx->cur->n == 0) {
            r = PQexecParams(c, "INSERT INTO provgate.pins (project, record)"
                " VALUES ($1, $2::jsonb) ON CONFLICT (project) DO NOTHING"
                " RETURNING record::text", 2, NULL, p9, NULL, NULL, 0);
            if (pq_ok(r) && PQntuples(r) == 0) {
                /* Another replica pinned it first: decide again. */
                PQclear(r);
                PQclear(PQexec(c, "ROLLBACK"));
                return 0;
            }
        } else {
            r = PQexecParams(c, "UPDATE provgate.pins SET record = $2::jsonb,"
                " updated_at = now() WHERE project = $1"
                " RETURNING record::text", 2, NULL, p9, NULL, NULL, 0);
        }
        if (pq_ok(r) && pq_tx_raw(tx, r) != 0) {
            PQclear(r);
            PQclear(PQexec(c, "ROLLBACK"));
            pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-put", "%s",
                "out of memory");
            return -PG_POLICY_ENOMEM;
        }
    } else {
        r = PQexecParams(c, "DELETE FROM provgate.pins WHERE project = $1",
            1, NULL, p1, NULL, NULL, 0);
    }
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    snprintf(ts, sizeof(ts), "%lld", (long long) tx->ev->time);
    p9[0] = ts;
    p9[1] = project;
    p9[2] = tx->ev->what;
    p9[3] = tx->ev->before;
    p9[4] = tx->ev->after;
    p9[5] = tx->ev->by;
    p9[6] = tx->ev->why;
    p9[7] = tx->ev->file;
    r = PQexecParams(c, "INSERT INTO provgate.pin_events (at, project, what,"
        " before, after, by, why, file) VALUES (to_timestamp($1::bigint),"
        " $2, $3, $4, $5, $6, $7, $8) RETURNING id", 8, NULL, p9, NULL,
        NULL, 0);
    if (!pq_ok(r) || PQntuples(r) != 1) {
        goto fail;
    }
    snprintf(idbuf, sizeof(idbuf), "%s", PQgetvalue(r, 0, 0));
    tx->ev->id = strtoull(idbuf, NULL, 10);
    PQclear(r);
    r = PQexecParams(c, "UPDATE provgate.meta SET value ="
        " (value::bigint + 1)::text WHERE key = 'generation'"
        " RETURNING value::bigint", 0, NULL, NULL, NULL, NULL, 0);
    if (!pq_ok(r) || PQntuples(r) != 1) {
        goto fail;
    }
    tx->gen = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    r = PQexecParams(c, "SELECT pg_notify('" PQ_CHANNEL "', $1)", 1, NULL,
        p1, NULL, NULL, 0);
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "COMMIT");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    *changed = 1;
    return 1;

fail:
    pq_fail(ps, c, r, err, "pins-put");
    PQclear(r);
    if (PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
    }
    return -PG_POLICY_ESTORE;
}

static int
pq_update(struct pg_pinstore *s, const char *project,
    pg_pinstore_change_fn fn, void *arg, struct pg_pin_set *after,
    int *changed, struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    struct pq_tx tx;
    PGconn *c;
    int rc = 0, tries, reconnected = 0;

    memset(&tx, 0, sizeof(tx));
    tx.cur = calloc(1, sizeof(*tx.cur));
    tx.next = calloc(1, sizeof(*tx.next));
    tx.ev = calloc(1, sizeof(*tx.ev));
    if (tx.cur == NULL || tx.next == NULL || tx.ev == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-put", "%s",
            "out of memory");
        rc = PG_POLICY_ENOMEM;
        goto done;
    }
    pthread_mutex_lock(&ps->conn_mu);
    for (tries = 0; tries < PQ_TOFU_RETRIES; tries++) {
        c = pq_work(ps, err);
        if (c == NULL) {
            rc = -PG_POLICY_ESTORE;
            break;
        }
        rc = pq_update_once(ps, c, project, fn, arg, &tx, changed, err);
        if (rc == -PG_POLICY_ESTORE && !reconnected
            && PQstatus(c) != CONNECTION_OK)
        {
            /* The connection broke (a database restart): one new
             * connection, one more try, at once. */
            reconnected = 1;
            ps->next_try_ms = 0;
            if (err != NULL) {
                memset(err, 0, sizeof(*err));
            }
            continue;
        }
        if (rc != 0) {
            break;
        }
    }
    pthread_mutex_unlock(&ps->conn_mu);
    if (rc == 0) {
        pg_pins_fail(err, PG_POLICY_ESTORE, "pins-put", "%s", "pin store: "
            "gave up after repeated conflicts");
        rc = PG_POLICY_ESTORE;
        goto done;
    }
    if (rc < 0) {
        rc = -rc;
        goto done;
    }
    rc = PG_POLICY_OK;
    atomic_store(&ps->up, 1);
    if (*changed) {
        if (pq_copy_set(ps, project, tx.next->n > 0 ? tx.raw : NULL,
            tx.rawlen, tx.gen) != 0)
        {
            pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-put", "%s",
                "out of memory");
            rc = PG_POLICY_ENOMEM;
        }
        if (after != NULL) {
            *after = *tx.next;
        }
    } else {
        /* Nothing to do: the database holds something else than our
         * copy (a first pin another replica made meanwhile, say); the
         * copy learns it now, before the caller decides against it. */
        (void) pq_copy_set(ps, project, tx.cur->n > 0 ? tx.raw : NULL,
            tx.rawlen, 0);
        if (after != NULL) {
            *after = *tx.cur;
        }
    }

done:
    free(tx.cur);
    free(tx.next);
    free(tx.ev);
    free(tx.json);
    free(tx.raw);
    return rc;
}

/* ---- iterate, history ---------------------------------------------------- */

static int
pq_iter(struct pg_pinstore *s,
    int (*fn)(void *arg, const struct pg_pin_set *set), void *arg,
    struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    struct pg_pin_set *set;
    PGresult *r;
    PGconn *c;
    int i, n, rc = PG_POLICY_OK;

    set = malloc(sizeof(*set));
    if (set == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-iter", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    pthread_mutex_lock(&ps->conn_mu);
    c = pq_work(ps, err);
    if (c == NULL) {
        pthread_mutex_unlock(&ps->conn_mu);
        free(set);
        return PG_POLICY_ESTORE;
    }
    r = PQexec(c, "SELECT record::text FROM provgate.pins"
        " ORDER BY project COLLATE \"C\"");
    if (!pq_ok(r)) {
        pq_fail(ps, c, r, err, "pins-iter");
        PQclear(r);
        pthread_mutex_unlock(&ps->conn_mu);
        free(set);
        return PG_POLICY_ESTORE;
    }
    pthread_mutex_unlock(&ps->conn_mu);
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        rc = pg_pins_from_json(PQgetvalue(r, i, 0),
            (size_t) PQgetlength(r, i, 0), set, err);
        if (rc != PG_POLICY_OK || fn(arg, set) != 0) {
            break;
        }
    }
    PQclear(r);
    free(set);
    return rc;
}

static int
pq_history(struct pg_pinstore *s, const char *project,
    int (*fn)(void *arg, const struct pg_pin_event *ev), void *arg,
    struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    struct pg_pin_event *ev;
    const char *p1[1] = { project };
    PGresult *r;
    PGconn *c;
    int i, n;

    ev = malloc(sizeof(*ev));
    if (ev == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-history", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    pthread_mutex_lock(&ps->conn_mu);
    c = pq_work(ps, err);
    if (c == NULL) {
        pthread_mutex_unlock(&ps->conn_mu);
        free(ev);
        return PG_POLICY_ESTORE;
    }
    r = PQexecParams(c, "SELECT id, extract(epoch FROM at)::bigint, project,"
        " what, before, after, by, why, file FROM provgate.pin_events"
        " WHERE $1::text IS NULL OR project = $1 ORDER BY id", 1, NULL, p1,
        NULL, NULL, 0);
    if (!pq_ok(r)) {
        pq_fail(ps, c, r, err, "pins-history");
        PQclear(r);
        pthread_mutex_unlock(&ps->conn_mu);
        free(ev);
        return PG_POLICY_ESTORE;
    }
    pthread_mutex_unlock(&ps->conn_mu);
    n = PQntuples(r);
    for (i = 0; i < n; i++) {
        memset(ev, 0, sizeof(*ev));
        ev->id = strtoull(PQgetvalue(r, i, 0), NULL, 10);
        ev->time = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        snprintf(ev->project, sizeof(ev->project), "%s",
            PQgetvalue(r, i, 2));
        snprintf(ev->what, sizeof(ev->what), "%s", PQgetvalue(r, i, 3));
        snprintf(ev->before, sizeof(ev->before), "%s", PQgetvalue(r, i, 4));
        snprintf(ev->after, sizeof(ev->after), "%s", PQgetvalue(r, i, 5));
        snprintf(ev->by, sizeof(ev->by), "%s", PQgetvalue(r, i, 6));
        snprintf(ev->why, sizeof(ev->why), "%s", PQgetvalue(r, i, 7));
        snprintf(ev->file, sizeof(ev->file), "%s", PQgetvalue(r, i, 8));
        if (fn(arg, ev) != 0) {
            break;
        }
    }
    PQclear(r);
    free(ev);
    return PG_POLICY_OK;
}

/* ---- open, close --------------------------------------------------------- */

static void
pq_close(struct pg_pinstore *s)
{
    struct pq_store *ps = (struct pq_store *) s;

    PQfinish(ps->work);
    PQfinish(ps->listen);
    pq_pins_free(ps->pins, ps->npins);
    pthread_mutex_destroy(&ps->conn_mu);
    pthread_mutex_destroy(&ps->copy_mu);
    if (ps->conninfo != NULL) {
        explicit_bzero(ps->conninfo, strlen(ps->conninfo));
    }
    free(ps->conninfo);
    free(ps);
}

int
pg_pinstore_pq_open(const char *conninfo, const struct pg_pinstore_opts *o,
    struct pg_pinstore **out, struct pg_policy_err *err)
{
    struct pq_store *ps;
    PQconninfoOption *opts;
    char *perr = NULL;
    int rc;

    opts = PQconninfoParse(conninfo, &perr);
    if (opts == NULL) {
        /* libpq's message may quote the string, password included. */
        PQfreemem(perr);
        pg_pins_fail(err, PG_POLICY_EINVAL, "pin-store", "%s", "malformed "
            "PostgreSQL connection URI (libpq cannot parse it)");
        return PG_POLICY_EINVAL;
    }
    PQconninfoFree(opts);
    ps = calloc(1, sizeof(*ps));
    if (ps == NULL || (ps->conninfo = strdup(conninfo)) == NULL) {
        free(ps);
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pin-store", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    ps->head.ops = &pq_ops;
    ps->read_only = o->read_only;
    pthread_mutex_init(&ps->conn_mu, NULL);
    pthread_mutex_init(&ps->copy_mu, NULL);
    ps->work = pq_connect(conninfo);
    if (ps->work == NULL || PQstatus(ps->work) != CONNECTION_OK) {
        char m[200];

        pq_msg(ps->work, NULL, m, sizeof(m));
        pg_pins_fail(err, PG_POLICY_ESTORE, "pin-store", "cannot connect to "
            "PostgreSQL: %s", m);
        pq_close(&ps->head);
        return PG_POLICY_ESTORE;
    }
    PQclear(PQexec(ps->work, "SET statement_timeout = '10s'"));
    snprintf(ps->head.where, sizeof(ps->head.where),
        "postgresql://%s@%s:%s/%s (schema provgate)", PQuser(ps->work),
        PQhost(ps->work), PQport(ps->work), PQdb(ps->work));
    rc = pq_schema(ps, ps->work, o->create, err);
    if (rc == PG_POLICY_OK) {
        rc = pq_reload(ps, ps->work, 1, err);
    }
    if (rc != PG_POLICY_OK) {
        pq_close(&ps->head);
        return rc;
    }
    (void) pq_listen_ensure(ps);
    atomic_store(&ps->up, 1);
    *out = &ps->head;
    return PG_POLICY_OK;
}

static const struct pg_pinstore_ops pq_ops = {
    "postgresql", pq_get, pq_update, pq_iter, pq_history, pq_generation,
    pq_refresh, pq_notify_fd, pq_on_notify, pq_available, pq_close
};
