/* tests/proxy/test_lru.c — the bounded hash/LRU table (proxy/util/lru.c).
 *
 * A table of scripts: each case makes a table with its bounds, runs
 * operations on named entries (insert with a size, touch, remove, clear)
 * and states what must hold after them: the keys left from most to least
 * recently used, the order the drop callback saw entries leave, and the
 * evictions counted.  The bounds are tested at the limit and one past it,
 * in entries and in bytes.  A churn case then runs thousands of random
 * operations on a table with few buckets (long chains) against a plain
 * array model, checking every count and byte total on the way.  A second
 * table scripts the owners whose entries may be busy (pages, downloads):
 * link without dropping, bytes changed in place, trim that skips busy
 * entries and the caller's, and the walk from most to least recent.
 *
 * Owns: its tables and entries.  Runs on: the test process.
 * Spec: issue 10 item 6, issue 11 (one bounded table).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lru_int.h"

struct ent {
    struct pg_lru_node n;       /* first */
    char key[32];
    int busy;                   /* busy_cases: trim must skip it */
};

struct log {
    char dropped[256];          /* keys in drop order, space separated */
    int ndropped;
};

static void
on_drop(void *arg, struct pg_lru_node *n)
{
    struct log *l = arg;
    struct ent *e = (struct ent *)n;
    size_t at = strlen(l->dropped);

    snprintf(l->dropped + at, sizeof(l->dropped) - at, "%s%s",
        at > 0 ? " " : "", e->key);
    l->ndropped++;
    free(e);
}

struct lru_case {
    const char *name;
    size_t max_count, max_bytes;
    const char *ops;            /* "+k:bytes" insert, "!k:bytes" insert
                                   refused, "~k" touch, "-k" remove,
                                   "*" clear; space separated */
    const char *order;          /* keys left, most recent first */
    const char *dropped;        /* drop callback order */
    unsigned evictions;
};

static const struct lru_case cases[] = {
    { "inserts_are_found_most_recent_first", 8, 100,
      "+a:1 +b:1 +c:1", "c b a", "", 0 },
    { "count_bound_at_limit_keeps_all", 3, 100,
      "+a:1 +b:1 +c:1", "c b a", "", 0 },
    { "count_bound_plus_one_evicts_least_recent", 3, 100,
      "+a:1 +b:1 +c:1 +d:1", "d c b", "a", 1 },
    { "touch_saves_an_entry_from_eviction", 3, 100,
      "+a:1 +b:1 +c:1 ~a +d:1", "d a c", "b", 1 },
    { "byte_bound_at_limit_keeps_all", 8, 30,
      "+a:10 +b:10 +c:10", "c b a", "", 0 },
    { "byte_bound_plus_one_evicts_least_recent", 8, 30,
      "+a:10 +b:10 +c:10 +d:1", "d c b", "a", 1 },
    { "one_big_entry_evicts_as_many_as_it_needs", 8, 30,
      "+a:10 +b:10 +c:10 +d:25", "d", "a b c", 3 },
    { "entry_at_the_byte_bound_alone_fits", 8, 30,
      "+a:10 +d:30", "d", "a", 1 },
    { "entry_over_the_byte_bound_is_refused_and_evicts_nothing", 8, 30,
      "+a:10 +b:10 !d:31", "b a", "", 0 },
    { "same_key_replaces_and_drops_the_old_entry", 8, 30,
      "+a:10 +b:10 +a:15", "a b", "a", 0 },
    { "replacement_is_counted_once_in_bytes", 8, 30,
      "+a:20 +a:30", "a", "a", 0 },
    { "remove_drops_and_frees_room", 2, 100,
      "+a:1 +b:1 -a +c:1", "c b", "a", 0 },
    { "clear_drops_least_recent_first", 8, 100,
      "+a:1 +b:1 +c:1 *", "", "a b c", 0 },
    { "table_is_usable_after_clear", 2, 100,
      "+a:1 * +b:1 +c:1 +d:1", "d c", "a b", 1 },
    { "zero_byte_entries_obey_the_count", 2, 1,
      "+a:0 +b:0 +c:0", "c b", "a", 1 },
};

static struct ent *
ent_new(const char *key, size_t bytes)
{
    struct ent *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    snprintf(e->key, sizeof(e->key), "%s", key);
    e->n.key = e->key;
    e->n.bytes = bytes;
    return e;
}

/* The next space-separated word of *p into out ("" at the end). */
static void
next_word(const char **p, char *out, size_t outlen)
{
    size_t n;

    while (**p == ' ') {
        (*p)++;
    }
    n = strcspn(*p, " ");
    snprintf(out, outlen, "%.*s", (int)n, *p);
    *p += n;
}

static void
run_case(const struct lru_case *c)
{
    struct log l;
    struct pg_lru *t;
    const char *p;
    char op[40], key[32], left[16][32], rev[16 * 33];
    size_t count = 0, bytes = 0, i, at;
    struct pg_lru_node *n;

    memset(&l, 0, sizeof(l));
    t = pg_lru_new(4, c->max_count, c->max_bytes, on_drop, &l);
    assert_non_null(t);
    for (p = c->ops, next_word(&p, op, sizeof(op)); op[0] != '\0';
        next_word(&p, op, sizeof(op)))
    {
        const char *colon = strchr(op, ':');
        size_t klen = colon != NULL ? (size_t)(colon - op - 1)
            : strlen(op + 1);

        snprintf(key, sizeof(key), "%.*s", (int)klen, op + 1);
        if (op[0] == '+' || op[0] == '!') {
            struct ent *e = ent_new(key, strtoul(colon + 1, NULL, 10));
            int rc = pg_lru_insert(t, &e->n);

            assert_int_equal(rc, op[0] == '+' ? 0 : -1);
            if (rc != 0) {
                free(e);
            }
        } else if (op[0] == '~' || op[0] == '-') {
            n = pg_lru_find(t, key);
            if (n == NULL) {
                fail_msg("%s: %s: no entry %s", c->name, op, key);
            }
            if (op[0] == '~') {
                pg_lru_touch(t, n);
            } else {
                pg_lru_remove(t, n);
            }
        } else if (op[0] == '*') {
            pg_lru_clear(t);
        } else {
            fail_msg("%s: bad op %s", c->name, op);
        }
    }
    if (strcmp(l.dropped, c->dropped) != 0) {
        fail_msg("%s: dropped \"%s\", want \"%s\"", c->name, l.dropped,
            c->dropped);
    }
    /* Each key left is found; the table's totals are theirs. */
    rev[0] = '\0';
    for (p = c->order, next_word(&p, key, sizeof(key)); key[0] != '\0';
        next_word(&p, key, sizeof(key)))
    {
        n = pg_lru_find(t, key);
        if (n == NULL) {
            fail_msg("%s: %s is not in the table", c->name, key);
        }
        assert_true(count < 16);
        memcpy(left[count++], key, sizeof(key));
        bytes += n->bytes;
    }
    for (i = count, at = 0; i > 0; i--) {
        at += (size_t)snprintf(rev + at, sizeof(rev) - at, "%s%s",
            i < count ? " " : "", left[i - 1]);
    }
    assert_int_equal(pg_lru_count(t), count);
    assert_int_equal(pg_lru_bytes(t), bytes);
    assert_true(pg_lru_count(t) <= c->max_count);
    assert_true(pg_lru_bytes(t) <= c->max_bytes);
    assert_int_equal(pg_lru_evictions(t), c->evictions);
    /* The recency order: a clear drops least recent first. */
    memset(&l, 0, sizeof(l));
    pg_lru_clear(t);
    if (strcmp(l.dropped, rev) != 0) {
        fail_msg("%s: least recent first \"%s\", want \"%s\"", c->name,
            l.dropped, rev);
    }
    assert_int_equal(pg_lru_count(t), 0);
    assert_int_equal(pg_lru_bytes(t), 0);
    pg_lru_free(t);
}

static void
lru_table_cases(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
    }
}

static void
lru_refuses_zero_bounds(void **state)
{
    struct log l;

    (void) state;
    assert_null(pg_lru_new(4, 0, 10, on_drop, &l));
    assert_null(pg_lru_new(4, 10, 0, on_drop, &l));
    assert_null(pg_lru_new(4, 10, 10, NULL, &l));
    pg_lru_free(NULL);
}

/* Tables whose entries may be in use: "=k:bytes" link (drops nothing),
 * "^k:bytes" set bytes, "@k" mark busy, "&k" mark idle, "T" trim, "Tk"
 * trim keeping k, "~k" touch, "-k" remove.  order is read with
 * pg_lru_first/pg_lru_next; count and bytes are the table's after the
 * script (they may be over the bounds while entries are busy). */
struct busy_case {
    const char *name;
    size_t max_count, max_bytes;
    const char *ops;
    const char *order;          /* most recent first, by the walk */
    const char *dropped;
    unsigned evictions;
    size_t count, bytes;
};

static const struct busy_case busy_cases[] = {
    { "link_over_the_count_drops_nothing", 2, 100,
      "=a:1 =b:1 =c:1", "c b a", "", 0, 3, 3 },
    { "link_over_the_bytes_drops_nothing", 8, 10,
      "=a:6 =b:6", "b a", "", 0, 2, 12 },
    { "trim_drops_least_recent_until_within_the_count", 2, 100,
      "=a:1 =b:1 =c:1 =d:1 T", "d c", "a b", 2, 2, 2 },
    { "trim_at_the_limit_drops_nothing", 2, 10,
      "=a:5 =b:5 T", "b a", "", 0, 2, 10 },
    { "trim_one_byte_over_drops_the_least_recent", 8, 10,
      "=a:5 =b:6 T", "b", "a", 1, 1, 6 },
    { "trim_skips_busy_entries", 8, 10,
      "=a:5 =b:5 =c:5 @a T", "c a", "b", 1, 2, 10 },
    { "trim_stays_over_when_only_busy_entries_are_left", 8, 10,
      "=a:5 =b:5 =c:5 @a @b @c T", "c b a", "", 0, 3, 15 },
    { "an_idle_entry_goes_at_the_next_trim", 8, 10,
      "=a:5 =b:5 =c:5 @a @b @c T &a T", "c b", "a", 1, 2, 10 },
    { "trim_keeps_the_callers_entry", 8, 10,
      "=a:5 =b:5 =c:5 Ta", "c a", "b", 1, 2, 10 },
    { "set_bytes_counts_the_new_size", 8, 100,
      "=a:5 =b:5 ^a:40", "b a", "", 0, 2, 45 },
    { "set_bytes_then_trim_drops_to_fit", 8, 20,
      "=a:5 =b:5 ^b:18 T", "b", "a", 1, 1, 18 },
    { "an_entry_alone_over_the_bound_goes_unless_kept", 8, 20,
      "=a:5 ^a:30 Ta", "a", "", 0, 1, 30 },
    { "touch_changes_the_walk_and_the_victim", 2, 100,
      "=a:1 =b:1 =c:1 ~a T", "a c", "b", 1, 2, 2 },
    { "remove_during_a_busy_table", 8, 10,
      "=a:5 =b:5 =c:5 @a @b @c -b", "c a", "b", 0, 2, 10 },
};

static int
ent_busy(void *arg, const struct pg_lru_node *n)
{
    (void) arg;
    return ((const struct ent *)n)->busy;
}

static void
run_busy_case(const struct busy_case *c)
{
    struct log l;
    struct pg_lru *t;
    const char *p;
    char op[40], key[32], walk[16 * 33];
    size_t at = 0;
    struct pg_lru_node *n;

    memset(&l, 0, sizeof(l));
    t = pg_lru_new(4, c->max_count, c->max_bytes, on_drop, &l);
    assert_non_null(t);
    for (p = c->ops, next_word(&p, op, sizeof(op)); op[0] != '\0';
        next_word(&p, op, sizeof(op)))
    {
        const char *colon = strchr(op, ':');
        size_t klen = colon != NULL ? (size_t)(colon - op - 1)
            : strlen(op + 1);

        snprintf(key, sizeof(key), "%.*s", (int)klen, op + 1);
        n = key[0] != '\0' ? pg_lru_find(t, key) : NULL;
        if (op[0] == '=') {
            struct ent *e = ent_new(key, strtoul(colon + 1, NULL, 10));

            assert_null(n);
            pg_lru_link(t, &e->n);
            continue;
        }
        if (op[0] == 'T') {
            pg_lru_trim(t, n, ent_busy, NULL);
            continue;
        }
        if (n == NULL) {
            fail_msg("%s: %s: no entry %s", c->name, op, key);
        }
        switch (op[0]) {
        case '^': pg_lru_set_bytes(t, n, strtoul(colon + 1, NULL, 10));
            break;
        case '@': ((struct ent *)n)->busy = 1; break;
        case '&': ((struct ent *)n)->busy = 0; break;
        case '~': pg_lru_touch(t, n); break;
        case '-': pg_lru_remove(t, n); break;
        default: fail_msg("%s: bad op %s", c->name, op);
        }
    }
    if (strcmp(l.dropped, c->dropped) != 0) {
        fail_msg("%s: dropped \"%s\", want \"%s\"", c->name, l.dropped,
            c->dropped);
    }
    walk[0] = '\0';
    for (n = pg_lru_first(t); n != NULL; n = pg_lru_next(n)) {
        at += (size_t)snprintf(walk + at, sizeof(walk) - at, "%s%s",
            at > 0 ? " " : "", ((struct ent *)n)->key);
    }
    if (strcmp(walk, c->order) != 0) {
        fail_msg("%s: walk \"%s\", want \"%s\"", c->name, walk, c->order);
    }
    if (pg_lru_count(t) != c->count || pg_lru_bytes(t) != c->bytes) {
        fail_msg("%s: %zu entries, %zu bytes; want %zu, %zu", c->name,
            pg_lru_count(t), pg_lru_bytes(t), c->count, c->bytes);
    }
    assert_int_equal(pg_lru_evictions(t), c->evictions);
    pg_lru_free(t);
}

static void
lru_busy_cases(void **state)
{
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(busy_cases) / sizeof(busy_cases[0]); i++) {
        run_busy_case(&busy_cases[i]);
    }
}

/* Thousands of random operations on 4 buckets (long chains) against a
 * model: an array with each key's bytes and last use, evicting the
 * least recently used key while over a bound.  The table must hold
 * exactly the model's keys with their bytes, within both bounds. */
#define CHURN_KEYS 200
#define CHURN_COUNT 50
#define CHURN_BYTES 5000

struct model {
    int present;
    size_t bytes;
    uint64_t used;
};

static void
model_evict(struct model *m, size_t *count, size_t *bytes, size_t need)
{
    while (*count + 1 > CHURN_COUNT || *bytes + need > CHURN_BYTES) {
        size_t i, lru = CHURN_KEYS;

        for (i = 0; i < CHURN_KEYS; i++) {
            if (m[i].present && (lru == CHURN_KEYS
                    || m[i].used < m[lru].used))
            {
                lru = i;
            }
        }
        assert_true(lru < CHURN_KEYS);
        m[lru].present = 0;
        (*count)--;
        *bytes -= m[lru].bytes;
    }
}

static void
lru_churn_matches_a_model(void **state)
{
    struct log l;
    struct pg_lru *t;
    struct model m[CHURN_KEYS];
    size_t i, count = 0, bytes = 0, step;
    uint64_t clock = 0;
    unsigned seed = 12345;
    char key[32];

    (void) state;
    memset(&l, 0, sizeof(l));
    memset(m, 0, sizeof(m));
    t = pg_lru_new(4, CHURN_COUNT, CHURN_BYTES, on_drop, &l);
    assert_non_null(t);
    for (step = 0; step < 20000; step++) {
        size_t k, sz;
        struct pg_lru_node *n;

        seed = seed * 1103515245u + 12345u;
        k = (seed >> 8) % CHURN_KEYS;
        sz = (seed >> 16) % 300;
        snprintf(key, sizeof(key), "key-%zu", k);
        n = pg_lru_find(t, key);
        assert_int_equal(n != NULL, m[k].present);
        if (n != NULL && (seed & 3) == 0) {
            pg_lru_remove(t, n);
            m[k].present = 0;
            count--;
            bytes -= m[k].bytes;
        } else if (n != NULL && (seed & 3) == 1) {
            pg_lru_touch(t, n);
            m[k].used = ++clock;
        } else {
            struct ent *e = ent_new(key, sz);

            assert_int_equal(pg_lru_insert(t, &e->n), 0);
            if (m[k].present) {
                m[k].present = 0;
                count--;
                bytes -= m[k].bytes;
            }
            model_evict(m, &count, &bytes, sz);
            m[k].present = 1;
            m[k].bytes = sz;
            m[k].used = ++clock;
            count++;
            bytes += sz;
        }
        assert_int_equal(pg_lru_count(t), count);
        assert_int_equal(pg_lru_bytes(t), bytes);
        assert_true(count <= CHURN_COUNT && bytes <= CHURN_BYTES);
    }
    for (i = 0; i < CHURN_KEYS; i++) {
        struct pg_lru_node *n;

        snprintf(key, sizeof(key), "key-%zu", i);
        n = pg_lru_find(t, key);
        assert_int_equal(n != NULL, m[i].present);
        if (n != NULL) {
            assert_int_equal(n->bytes, m[i].bytes);
        }
    }
    assert_true(pg_lru_evictions(t) > 0);
    pg_lru_free(t);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lru_table_cases),
        cmocka_unit_test(lru_refuses_zero_bounds),
        cmocka_unit_test(lru_churn_matches_a_model),
        cmocka_unit_test(lru_busy_cases),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
