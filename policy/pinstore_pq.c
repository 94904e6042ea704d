/* policy/pinstore_pq.c — the pin store a fleet shares: PostgreSQL (libpq).
 *
 * The idea: the database is the one truth, each replica answers from a
 * local copy of it.
 *  - Schema "provgate" (pinstore_pq_schema below): meta (schema name,
 *    version, a generation bumped by every change, and the tokens'
 *    generation), tokens (version 2: the clients' tokens, tokens.c), pins (project PRIMARY
 *    KEY: a second pin for a project is impossible, whatever the client;
 *    the record must name its own project) and pin_events (append-only: a
 *    trigger refuses UPDATE and DELETE).  Created or upgraded at open
 *    under an advisory lock, so replicas starting together do it once;
 *    tables of the same names that are not ours are refused.
 *  - A change is one statement (one round trip): pinstore.c's change
 *    function decides on the local copy's record, and a WITH statement
 *    writes the pin as a compare-and-set (INSERT … ON CONFLICT DO NOTHING
 *    for a first pin, UPDATE or DELETE … WHERE record = the one decided
 *    on), then, only if that wrote, the event, the generation and
 *    pg_notify.  When it wrote nothing, another replica or the CLI got
 *    there first: the record is read again and the change decided again
 *    (TOFU then finds the winner's pin and the caller decides against
 *    it).  The primary key and the row lock the write takes make this
 *    race-free without an explicit transaction.
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
#define PQ_SCHEMA_VERSION 2             /* 2: + provgate.tokens */
#define PQ_CHANNEL "provgate_pins"
#define PQ_LOCK_KEY "7152436601"        /* advisory lock of the migration */
#define PQ_TOK_LOCK_KEY "7152436602"    /* advisory lock of token changes */
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
    struct pq_pin *toks;                /* copy_mu: tokens, sorted by name
                                           (project: the name) */
    size_t ntoks;
    int64_t tok_gen;                    /* copy_mu: the tokens' generation
                                           (-1: none read yet) */
    int has_tokens;                     /* schema 2 (a read-only open of a
                                           version 1 store: no tokens) */
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

/* Version 1 to 2: the clients' tokens (issue 13; tokens.c). */
static const char *const pinstore_pq_schema_2[] = {
    "CREATE TABLE provgate.tokens ("
    " name text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9._@-]{1,63}$'),"
    " record text NOT NULL CHECK (length(record) <= 1024),"
    " updated_at timestamptz NOT NULL DEFAULT now())",
    "INSERT INTO provgate.meta VALUES ('tokens_generation', '0')",
    "UPDATE provgate.meta SET value = '2' WHERE key = 'version'",
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

/* A NUL-terminated copy of len bytes. */
static int
pq_dup(const char *v, size_t len, char **out, size_t *outlen,
    struct pg_policy_err *err)
{
    *out = malloc(len + 1);
    if (*out == NULL) {
        *outlen = 0;
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pin-store", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    memcpy(*out, v, len);
    (*out)[len] = '\0';
    *outlen = len;
    return PG_POLICY_OK;
}

/* The end of a transaction that failed: r (may be NULL) freed, a rollback
 * when the connection still stands, and err filled with libpq's message
 * (pq_fail) unless code says the caller filled it already.  Returns the
 * PG_POLICY_* code. */
static int
pq_abort(struct pq_store *ps, PGconn *c, PGresult *r, int code,
    struct pg_policy_err *err, const char *step)
{
    if (code == PG_POLICY_ESTORE) {
        pq_fail(ps, c, r, err, step);
    }
    PQclear(r);
    if (c != NULL && PQstatus(c) == CONNECTION_OK) {
        PQclear(PQexec(c, "ROLLBACK"));
    }
    return code;
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
        pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "table provgate.%s "
            "exists but is not a provgate pin store (no provgate.meta)",
            has_pins ? "pins" : "pin_events");
        return pq_abort(ps, c, NULL, PG_POLICY_ECONFIG, err, NULL);
    }
    if (has_meta) {
        r = PQexec(c, "SELECT (SELECT value FROM provgate.meta WHERE key ="
            " 'schema'), (SELECT value FROM provgate.meta WHERE key ="
            " 'version')");
        if (!pq_ok(r) || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)
            || strcmp(PQgetvalue(r, 0, 0), PQ_SCHEMA_NAME) != 0
            || PQgetisnull(r, 0, 1))
        {
            pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "%s",
                "table provgate.meta exists but is not a provgate pin "
                "store's");
            return pq_abort(ps, c, r, PG_POLICY_ECONFIG, err, NULL);
        }
        version = pq_int(PQgetvalue(r, 0, 1));
        PQclear(r);
        r = NULL;
        if (version == 1 && has_pins && has_events && create) {
            for (i = 0; i < sizeof(pinstore_pq_schema_2)
                / sizeof(pinstore_pq_schema_2[0]); i++)
            {
                r = PQexec(c, pinstore_pq_schema_2[i]);
                if (!pq_ok(r)) {
                    goto fail;
                }
                PQclear(r);
            }
            r = NULL;
            version = 2;
        }
        ps->has_tokens = version == 2;
        if (version == 1 && has_pins && has_events) {
            version = PQ_SCHEMA_VERSION;    /* read: no tokens */
        }
        if (version != PQ_SCHEMA_VERSION || !has_pins || !has_events) {
            pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "pin store "
                "schema version %d is not %d (written by %s provgate?)",
                version, PQ_SCHEMA_VERSION, version > PQ_SCHEMA_VERSION
                ? "a newer" : "another");
            return pq_abort(ps, c, NULL, PG_POLICY_ECONFIG, err, NULL);
        }
        r = PQexec(c, "COMMIT");
        if (!pq_ok(r)) {
            goto fail;
        }
        PQclear(r);
        return PG_POLICY_OK;
    }
    if (!create) {
        pg_pins_fail(err, PG_POLICY_ECONFIG, "pin-store", "%s", "the "
            "database has no pin store yet (run `provgate pins migrate`)");
        return pq_abort(ps, c, NULL, PG_POLICY_ECONFIG, err, NULL);
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
    for (i = 0; i < sizeof(pinstore_pq_schema_2)
        / sizeof(pinstore_pq_schema_2[0]); i++)
    {
        r = PQexec(c, pinstore_pq_schema_2[i]);
        if (!pq_ok(r)) {
            goto fail;
        }
        PQclear(r);
    }
    ps->has_tokens = 1;
    r = PQexec(c, "COMMIT");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    return PG_POLICY_OK;

fail:
    return pq_abort(ps, c, r, PG_POLICY_ESTORE, err, "pin-store-schema");
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

/* Re-reads every token into the copy (inside pq_reload's read-only
 * transaction; gen: the tokens generation it read).  A failure leaves the
 * copy as it was and is for the caller to end the transaction on. */
static int
pq_reload_tokens(struct pq_store *ps, PGconn *c, int64_t gen,
    struct pg_policy_err *err)
{
    PGresult *r;
    struct pq_pin *toks, *old;
    size_t n, i, oldn;

    r = PQexec(c, "SELECT name, record FROM provgate.tokens"
        " ORDER BY name COLLATE \"C\"");
    if (!pq_ok(r)) {
        pq_fail(ps, c, r, err, "tokens-refresh");
        PQclear(r);
        return PG_POLICY_ESTORE;
    }
    n = (size_t) PQntuples(r);
    if (n > PG_TOKENS_MAX) {
        PQclear(r);
        pg_pins_fail(err, PG_POLICY_ELIMIT, "tokens-refresh", "more than %d "
            "tokens in the store", PG_TOKENS_MAX);
        return PG_POLICY_ELIMIT;
    }
    toks = calloc(n > 0 ? n : 1, sizeof(*toks));
    for (i = 0; toks != NULL && i < n; i++) {
        toks[i].project = strdup(PQgetvalue(r, (int) i, 0));
        if (toks[i].project == NULL
            || pq_dup(PQgetvalue(r, (int) i, 1), (size_t) PQgetlength(r,
            (int) i, 1), &toks[i].json, &toks[i].len, err) != PG_POLICY_OK)
        {
            pq_pins_free(toks, i + 1);
            toks = NULL;
        }
    }
    PQclear(r);
    if (toks == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "tokens-refresh", "%s",
            "out of memory");
        return PG_POLICY_ENOMEM;
    }
    pthread_mutex_lock(&ps->copy_mu);
    old = ps->toks;
    oldn = ps->ntoks;
    ps->toks = toks;
    ps->ntoks = n;
    ps->tok_gen = gen;
    pthread_mutex_unlock(&ps->copy_mu);
    pq_pins_free(old, oldn);
    return PG_POLICY_OK;
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
    int64_t gen, have, tgen, thave;
    int rc;

    r = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "SELECT (SELECT value::bigint FROM provgate.meta"
        " WHERE key = 'generation'), (SELECT value::bigint FROM"
        " provgate.meta WHERE key = 'tokens_generation')");
    if (!pq_ok(r) || PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        goto fail;
    }
    gen = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    tgen = PQgetisnull(r, 0, 1) ? 0 : strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    r = NULL;
    pthread_mutex_lock(&ps->copy_mu);
    have = ps->db_gen;
    thave = ps->tok_gen;
    pthread_mutex_unlock(&ps->copy_mu);
    if (ps->has_tokens && (force || tgen != thave)) {
        rc = pq_reload_tokens(ps, c, tgen, err);
        if (rc != PG_POLICY_OK) {
            return pq_abort(ps, c, NULL, rc, err, "tokens-refresh");
        }
    }
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
        pg_pins_fail(err, PG_POLICY_ELIMIT, "pins-refresh", "more than %d "
            "pins in the store", PQ_MAX_PINS);
        return pq_abort(ps, c, r, PG_POLICY_ELIMIT, err, NULL);
    }
    pins = calloc(n > 0 ? n : 1, sizeof(*pins));
    for (i = 0; pins != NULL && i < n; i++) {
        pins[i].project = strdup(PQgetvalue(r, (int) i, 0));
        if (pins[i].project == NULL
            || pq_dup(PQgetvalue(r, (int) i, 1), (size_t) PQgetlength(r,
            (int) i, 1), &pins[i].json, &pins[i].len, err) != PG_POLICY_OK)
        {
            pq_pins_free(pins, i + 1);
            pins = NULL;
        }
    }
    if (pins == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-refresh", "%s",
            "out of memory");
        return pq_abort(ps, c, r, PG_POLICY_ENOMEM, err, NULL);
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
    return pq_abort(ps, c, r, PG_POLICY_ESTORE, err, "pins-refresh");
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

/* A copy of the local copy's record of project (*raw NULL: none). */
static int
pq_copy_get(struct pq_store *ps, const char *project, char **raw,
    size_t *len, struct pg_policy_err *err)
{
    size_t at;
    int found, rc = PG_POLICY_OK;

    *raw = NULL;
    *len = 0;
    pthread_mutex_lock(&ps->copy_mu);
    at = pq_find(ps, project, &found);
    if (found) {
        rc = pq_dup(ps->pins[at].json, ps->pins[at].len, raw, len, err);
    }
    pthread_mutex_unlock(&ps->copy_mu);
    return rc;
}

static int
pq_get(struct pg_pinstore *s, const char *project, struct pg_pin_set *set,
    struct pg_policy_err *err)
{
    char *raw = NULL;
    size_t len = 0;
    int rc;

    rc = pq_copy_get((struct pq_store *) s, project, &raw, &len, err);
    set->n = 0;
    if (rc == PG_POLICY_OK && raw != NULL) {
        rc = pg_pinstore_parse(project, raw, len, set, err);
    }
    free(raw);
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

/* The project's record as the database holds it now (*raw NULL: none);
 * a new statement, so a new snapshot.  conn_mu held. */
static int
pq_read_row(struct pq_store *ps, PGconn *c, const char *project, char **raw,
    size_t *len, struct pg_policy_err *err)
{
    const char *p1[1] = { project };
    PGresult *r;
    int rc;

    r = PQexecParams(c, "SELECT record::text FROM provgate.pins"
        " WHERE project = $1", 1, NULL, p1, NULL, NULL, 0);
    if (!pq_ok(r)) {
        pq_fail(ps, c, r, err, "pins-put");
        PQclear(r);
        return PG_POLICY_ESTORE;
    }
    free(*raw);
    *raw = NULL;
    *len = 0;
    rc = PQntuples(r) == 1 ? pq_dup(PQgetvalue(r, 0, 0),
        (size_t) PQgetlength(r, 0, 0), raw, len, err) : PG_POLICY_OK;
    PQclear(r);
    return rc;
}

/* The one statement that writes a change, in its own (implicit)
 * transaction: the pin (a compare-and-set against the record the change
 * was decided on: a first pin only if there is none, an update or delete
 * only if the record is still the one read), then, only if that wrote,
 * the event, the generation and the notification.  No row back: the
 * record was not the one read (another replica or the CLI changed it). */
static const char *const pq_write_pin[] = {
    /* no record before, none after (an empty import): an event only */
    "SELECT NULL::text AS rec WHERE NOT EXISTS"
    " (SELECT 1 FROM provgate.pins WHERE project = $1)",
    /* none before: TOFU's insert-if-absent */
    "INSERT INTO provgate.pins (project, record) VALUES ($1, $9::jsonb)"
    " ON CONFLICT (project) DO NOTHING RETURNING record::text AS rec",
    /* one before, none after */
    "DELETE FROM provgate.pins WHERE project = $1 AND record = $9::jsonb"
    " RETURNING NULL::text AS rec",
    /* one before, another after */
    "UPDATE provgate.pins SET record = $10::jsonb, updated_at = now()"
    " WHERE project = $1 AND record = $9::jsonb RETURNING record::text AS rec",
};

#define PQ_WRITE_REST \
    "), e AS (INSERT INTO provgate.pin_events (at, project, what, before," \
    " after, by, why, file) SELECT to_timestamp($2::bigint), $1, $3, $4," \
    " $5, $6, $7, $8 FROM w RETURNING id)," \
    " g AS (UPDATE provgate.meta SET value = (value::bigint + 1)::text" \
    " WHERE key = 'generation' AND EXISTS (SELECT 1 FROM w)" \
    " RETURNING value::bigint AS gen)" \
    " SELECT w.rec, e.id, g.gen, pg_notify('" PQ_CHANNEL "', $1)" \
    " FROM w, e, g"

/* 1 written (*raw: the record the database now holds, NULL for none;
 * *gen the generation it made), 0 the record was not the one read, or
 * -code.  conn_mu held. */
static int
pq_write(struct pq_store *ps, PGconn *c, const char *project,
    const char *was, struct pg_pinstore_tx *tx, char **raw, size_t *rawlen,
    int64_t *gen, struct pg_policy_err *err)
{
    char sql[1024], ts[32], *json = NULL;
    const char *p[10];
    size_t jlen = 0;
    PGresult *r;
    int mode, np = 8, rc;

    mode = (was != NULL ? 2 : 0) + (tx->next.n > 0 ? 1 : 0);
    snprintf(ts, sizeof(ts), "%lld", (long long) tx->ev.time);
    p[0] = project;
    p[1] = ts;
    p[2] = tx->ev.what;
    p[3] = tx->ev.before;
    p[4] = tx->ev.after;
    p[5] = tx->ev.by;
    p[6] = tx->ev.why;
    p[7] = tx->ev.file;
    if (tx->next.n > 0) {
        rc = pg_pins_to_json(&tx->next, &json, &jlen, err);
        if (rc != PG_POLICY_OK) {
            return -rc;
        }
    }
    if (was != NULL) {
        p[np++] = was;
    }
    if (json != NULL) {
        p[np++] = json;
    }
    snprintf(sql, sizeof(sql), "WITH w AS (%s" PQ_WRITE_REST,
        pq_write_pin[mode]);
    r = PQexecParams(c, sql, np, NULL, p, NULL, NULL, 0);
    free(json);
    if (!pq_ok(r)) {
        pq_fail(ps, c, r, err, "pins-put");
        PQclear(r);
        return -PG_POLICY_ESTORE;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return 0;
    }
    tx->ev.id = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
    *gen = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
    free(*raw);
    *raw = NULL;
    *rawlen = 0;
    rc = PQgetisnull(r, 0, 0) ? PG_POLICY_OK : pq_dup(PQgetvalue(r, 0, 0),
        (size_t) PQgetlength(r, 0, 0), raw, rawlen, err);
    PQclear(r);
    return rc == PG_POLICY_OK ? 1 : -rc;
}

/* A change: decided on the local copy's record, written with one
 * statement that only succeeds if the database still holds that record;
 * when it does not, the record is read again and the change decided
 * again (a first pin another replica made meanwhile: the change finds it
 * and does nothing, and the caller decides against it).  One round trip
 * when the copy was current, none when the copy says there is nothing to
 * do. */
static int
pq_update(struct pg_pinstore *s, const char *project,
    pg_pinstore_change_fn fn, void *arg, struct pg_pinstore_tx *tx,
    int *changed, struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    char *raw = NULL;
    size_t rawlen = 0;
    int64_t gen = 0;
    PGconn *c;
    int rc, tries, reconnected = 0, reread = 0;

    rc = pq_copy_get(ps, project, &raw, &rawlen, err);
    if (rc != PG_POLICY_OK) {
        return rc;
    }
    pthread_mutex_lock(&ps->conn_mu);
    for (tries = 0;; tries++) {
        tx->cur.n = 0;
        rc = raw == NULL ? PG_POLICY_OK
            : pg_pinstore_parse(project, raw, rawlen, &tx->cur, err);
        if (rc != PG_POLICY_OK) {
            rc = -rc;
            break;
        }
        rc = pg_pinstore_decide(fn, arg, tx, err);
        if (rc <= 0) {
            break;
        }
        if (tries >= PQ_TOFU_RETRIES) {
            pg_pins_fail(err, PG_POLICY_ESTORE, "pins-put", "%s", "pin "
                "store: gave up after repeated conflicts");
            rc = -PG_POLICY_ESTORE;
            break;
        }
        c = pq_work(ps, err);
        if (c == NULL) {
            rc = -PG_POLICY_ESTORE;
            break;
        }
        rc = pq_write(ps, c, project, raw, tx, &raw, &rawlen, &gen, err);
        if (rc == -PG_POLICY_ESTORE && !reconnected
            && PQstatus(c) != CONNECTION_OK)
        {
            /* The connection broke (a database restart): one new
             * connection, one more try, at once.  Had the write been
             * committed, the record is no longer the one read: the next
             * try reads it again and finds the change made. */
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
        rc = pq_read_row(ps, c, project, &raw, &rawlen, err);
        if (rc != PG_POLICY_OK) {
            rc = -rc;
            break;
        }
        reread = 1;
    }
    pthread_mutex_unlock(&ps->conn_mu);
    if (rc < 0) {
        free(raw);
        return -rc;
    }
    *changed = rc;
    if (rc == 1 || reread) {
        atomic_store(&ps->up, 1);
        /* The copy learns what the database now holds: our change, or
         * what another replica did first. */
        if (pq_copy_set(ps, project, raw, rawlen, rc == 1 ? gen : 0) != 0) {
            pg_pins_fail(err, PG_POLICY_ENOMEM, "pins-put", "%s",
                "out of memory");
            rc = -1;
        }
    }
    free(raw);
    return rc < 0 ? PG_POLICY_ENOMEM : PG_POLICY_OK;
}

/* ---- iterate, history ---------------------------------------------------- */

/* One read on the work connection (np: 0, or 1 for param, which may be
 * NULL): its result, or NULL with *rc and err filled.  *buf: size bytes
 * for the caller's rows (freed on failure). */
static PGresult *
pq_query(struct pq_store *ps, const char *sql, int np, const char *param,
    size_t size, void **buf, int *rc, const char *step,
    struct pg_policy_err *err)
{
    PGresult *r = NULL;
    PGconn *c;

    *rc = PG_POLICY_ESTORE;
    *buf = malloc(size);
    if (*buf == NULL) {
        pg_pins_fail(err, PG_POLICY_ENOMEM, step, "%s", "out of memory");
        *rc = PG_POLICY_ENOMEM;
        return NULL;
    }
    pthread_mutex_lock(&ps->conn_mu);
    c = pq_work(ps, err);
    if (c != NULL) {
        r = PQexecParams(c, sql, np, NULL, &param, NULL,
            NULL, 0);
        if (!pq_ok(r)) {
            pq_fail(ps, c, r, err, step);
            PQclear(r);
            r = NULL;
        }
    }
    pthread_mutex_unlock(&ps->conn_mu);
    if (r == NULL) {
        free(*buf);
        *buf = NULL;
    } else {
        *rc = PG_POLICY_OK;
    }
    return r;
}

static int
pq_iter(struct pg_pinstore *s,
    int (*fn)(void *arg, const struct pg_pin_set *set), void *arg,
    struct pg_policy_err *err)
{
    struct pg_pin_set *set;
    PGresult *r;
    int i, n, rc = PG_POLICY_OK;

    r = pq_query((struct pq_store *) s, "SELECT record::text FROM"
        " provgate.pins ORDER BY project COLLATE \"C\"", 0, NULL, sizeof(*set),
        (void **) &set, &rc, "pins-iter", err);
    if (r == NULL) {
        return rc;
    }
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
    struct pg_pin_event *ev;
    PGresult *r;
    int i, n, rc;

    r = pq_query((struct pq_store *) s, "SELECT id, extract(epoch FROM"
        " at)::bigint, project, what, before, after, by, why, file FROM"
        " provgate.pin_events WHERE $1::text IS NULL OR project = $1"
        " ORDER BY id", 1, project, sizeof(*ev), (void **) &ev, &rc,
        "pins-history", err);
    if (r == NULL) {
        return rc;
    }
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
    pq_pins_free(ps->toks, ps->ntoks);
    pthread_mutex_destroy(&ps->conn_mu);
    pthread_mutex_destroy(&ps->copy_mu);
    if (ps->conninfo != NULL) {
        explicit_bzero(ps->conninfo, strlen(ps->conninfo));
    }
    free(ps->conninfo);
    free(ps);
}

/* ---- tokens (tokens.c decides) -------------------------------------------- */

/* One transaction under an advisory lock (token changes are rare: the
 * CLI): read the record, decide, write it, move tokens_generation and
 * notify the replicas on the pins' channel; then the local copy is read
 * again so this process sees its own change at once. */
static int
pq_tok_update(struct pg_pinstore *s, const char *name,
    pg_tokens_change_fn fn, void *arg, struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    const char *p[2] = { name, NULL };
    PGresult *r = NULL;
    PGconn *c;
    char *cur = NULL, *next = NULL;
    size_t curlen = 0, nlen = 0;
    int rc;

    if (!ps->has_tokens || ps->read_only) {
        pg_pins_fail(err, PG_POLICY_ESTORE, "tokens", "%s", "the pin store "
            "was opened read-only (or has no tokens table: run `provgate "
            "pins migrate`)");
        return PG_POLICY_ESTORE;
    }
    pthread_mutex_lock(&ps->conn_mu);
    c = pq_work(ps, err);
    if (c == NULL) {
        pthread_mutex_unlock(&ps->conn_mu);
        return PG_POLICY_ESTORE;
    }
    r = PQexec(c, "BEGIN");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "SELECT pg_advisory_xact_lock(" PQ_TOK_LOCK_KEY ")");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexecParams(c, "SELECT record FROM provgate.tokens WHERE name = $1",
        1, NULL, p, NULL, NULL, 0);
    if (!pq_ok(r)) {
        goto fail;
    }
    if (PQntuples(r) == 1) {
        rc = pq_dup(PQgetvalue(r, 0, 0), (size_t) PQgetlength(r, 0, 0),
            &cur, &curlen, err);
        if (rc != PG_POLICY_OK) {
            rc = pq_abort(ps, c, r, rc, err, NULL);
            pthread_mutex_unlock(&ps->conn_mu);
            return rc;
        }
    }
    PQclear(r);
    r = NULL;
    rc = fn(arg, cur, curlen, &next, &nlen, err);
    free(cur);
    if (rc <= 0) {
        rc = pq_abort(ps, c, NULL, rc < 0 ? -rc : PG_POLICY_OK, err, NULL);
        pthread_mutex_unlock(&ps->conn_mu);
        return rc;
    }
    p[1] = next;
    r = PQexecParams(c, "INSERT INTO provgate.tokens (name, record)"
        " VALUES ($1, $2) ON CONFLICT (name) DO UPDATE"
        " SET record = EXCLUDED.record, updated_at = now()",
        2, NULL, p, NULL, NULL, 0);
    free(next);
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "UPDATE provgate.meta SET value = (value::bigint + 1)"
        "::text WHERE key = 'tokens_generation'");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "SELECT pg_notify('" PQ_CHANNEL "', 'tokens')");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    r = PQexec(c, "COMMIT");
    if (!pq_ok(r)) {
        goto fail;
    }
    PQclear(r);
    rc = pq_reload(ps, c, 0, err);
    pthread_mutex_unlock(&ps->conn_mu);
    return rc;

fail:
    rc = pq_abort(ps, c, r, PG_POLICY_ESTORE, err, "tokens");
    pthread_mutex_unlock(&ps->conn_mu);
    return rc;
}

static int
pq_tok_iter(struct pg_pinstore *s,
    int (*fn)(void *arg, const char *name, const char *rec, size_t len),
    void *arg, struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;
    size_t i;

    (void) err;
    pthread_mutex_lock(&ps->copy_mu);
    for (i = 0; i < ps->ntoks; i++) {
        if (fn(arg, ps->toks[i].project, ps->toks[i].json,
            ps->toks[i].len) != 0)
        {
            break;
        }
    }
    pthread_mutex_unlock(&ps->copy_mu);
    return PG_POLICY_OK;
}

static int
pq_tok_generation(struct pg_pinstore *s, uint64_t *gen,
    struct pg_policy_err *err)
{
    struct pq_store *ps = (struct pq_store *) s;

    (void) err;
    pthread_mutex_lock(&ps->copy_mu);
    *gen = ps->tok_gen > 0 ? (uint64_t) ps->tok_gen : 0;
    pthread_mutex_unlock(&ps->copy_mu);
    return PG_POLICY_OK;
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
    ps->tok_gen = -1;
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
    pq_refresh, pq_notify_fd, pq_on_notify, pq_available, pq_close,
    pq_tok_update, pq_tok_iter, pq_tok_generation
};
