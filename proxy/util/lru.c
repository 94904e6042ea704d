/* proxy/util/lru.c — one bounded hash table with LRU eviction (see
 * lru_int.h for the contract).
 *
 * Buckets are a power of two (the hash masked); chains and the LRU list
 * are doubly linked through the node the entry embeds, so find, touch,
 * insert and remove cost a hash and a chain walk, never an allocation.
 * Counts and bytes are kept as entries are linked and unlinked; a drop
 * callback runs only after its entry is fully unlinked, so it may free
 * the entry.
 *
 * Owns: the bucket array.  Borrows: the entries while linked.
 * Runs on: either (not thread-safe).  Spec: issue 10 item 6, issue 11.
 */
#include <stdlib.h>
#include <string.h>

#include "lru_int.h"

struct pg_lru {
    struct pg_lru_node **buckets;
    size_t mask;
    struct pg_lru_node *head, *tail;
    size_t count, bytes, max_count, max_bytes;
    uint64_t evictions;
    pg_lru_drop_fn *drop;
    void *drop_arg;
};

static void lru_unlink(struct pg_lru *t, struct pg_lru_node *n);

uint32_t
pg_lru_hash(const char *key)
{
    uint32_t h = 2166136261u;

    while (*key != '\0') {
        h ^= (unsigned char)*key++;
        h *= 16777619u;
    }
    return h;
}

struct pg_lru *
pg_lru_new(size_t nbuckets, size_t max_count, size_t max_bytes,
    pg_lru_drop_fn *drop, void *drop_arg)
{
    struct pg_lru *t;
    size_t n = 1;

    if (max_count == 0 || max_bytes == 0 || drop == NULL) {
        return NULL;
    }
    while (n < nbuckets && n < ((size_t)1 << 30)) {
        n <<= 1;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    t->buckets = calloc(n, sizeof(*t->buckets));
    if (t->buckets == NULL) {
        free(t);
        return NULL;
    }
    t->mask = n - 1;
    t->max_count = max_count;
    t->max_bytes = max_bytes;
    t->drop = drop;
    t->drop_arg = drop_arg;
    return t;
}

void
pg_lru_free(struct pg_lru *t)
{
    if (t == NULL) {
        return;
    }
    pg_lru_clear(t);
    free(t->buckets);
    free(t);
}

struct pg_lru_node *
pg_lru_find(const struct pg_lru *t, const char *key)
{
    uint32_t h = pg_lru_hash(key);
    struct pg_lru_node *n = t->buckets[h & t->mask];

    while (n != NULL && (n->hash != h || strcmp(n->key, key) != 0)) {
        n = n->hnext;
    }
    return n;
}

static void
list_push_head(struct pg_lru *t, struct pg_lru_node *n)
{
    n->prev = NULL;
    n->next = t->head;
    if (t->head != NULL) {
        t->head->prev = n;
    }
    t->head = n;
    if (t->tail == NULL) {
        t->tail = n;
    }
}

static void
list_unlink(struct pg_lru *t, struct pg_lru_node *n)
{
    if (n->prev != NULL) {
        n->prev->next = n->next;
    } else {
        t->head = n->next;
    }
    if (n->next != NULL) {
        n->next->prev = n->prev;
    } else {
        t->tail = n->prev;
    }
    n->prev = n->next = NULL;
}

/* Takes n out of its chain and the list, and out of the totals. */
static void
lru_unlink(struct pg_lru *t, struct pg_lru_node *n)
{
    struct pg_lru_node **pp = &t->buckets[n->hash & t->mask];

    while (*pp != NULL && *pp != n) {
        pp = &(*pp)->hnext;
    }
    if (*pp == n) {
        *pp = n->hnext;
    }
    n->hnext = NULL;
    list_unlink(t, n);
    t->count--;
    t->bytes -= n->bytes;
}

void
pg_lru_touch(struct pg_lru *t, struct pg_lru_node *n)
{
    if (t->head != n) {
        list_unlink(t, n);
        list_push_head(t, n);
    }
}

/* Unlinks v and hands it to the drop callback as an eviction. */
static void
lru_evict(struct pg_lru *t, struct pg_lru_node *v)
{
    lru_unlink(t, v);
    t->evictions++;
    t->drop(t->drop_arg, v);
}

void
pg_lru_link(struct pg_lru *t, struct pg_lru_node *n)
{
    n->hash = pg_lru_hash(n->key);
    n->hnext = t->buckets[n->hash & t->mask];
    t->buckets[n->hash & t->mask] = n;
    list_push_head(t, n);
    t->count++;
    t->bytes += n->bytes;
}

int
pg_lru_insert(struct pg_lru *t, struct pg_lru_node *n)
{
    struct pg_lru_node *old;

    if (n->bytes > t->max_bytes) {
        return -1;
    }
    old = pg_lru_find(t, n->key);
    if (old != NULL) {
        pg_lru_remove(t, old);
    }
    while (t->tail != NULL && (t->count + 1 > t->max_count
            || t->bytes + n->bytes > t->max_bytes))
    {
        lru_evict(t, t->tail);
    }
    pg_lru_link(t, n);
    return 0;
}

void
pg_lru_set_bytes(struct pg_lru *t, struct pg_lru_node *n, size_t bytes)
{
    t->bytes = t->bytes - n->bytes + bytes;
    n->bytes = bytes;
}

void
pg_lru_trim(struct pg_lru *t, const struct pg_lru_node *keep,
    pg_lru_busy_fn *busy, void *busy_arg)
{
    struct pg_lru_node *v = t->tail, *prev;

    while (v != NULL && (t->count > t->max_count
            || t->bytes > t->max_bytes))
    {
        prev = v->prev;
        if (v != keep && (busy == NULL || !busy(busy_arg, v))) {
            lru_evict(t, v);
        }
        v = prev;
    }
}

struct pg_lru_node *
pg_lru_first(const struct pg_lru *t)
{
    return t->head;
}

struct pg_lru_node *
pg_lru_next(const struct pg_lru_node *n)
{
    return n->next;
}

void
pg_lru_remove(struct pg_lru *t, struct pg_lru_node *n)
{
    lru_unlink(t, n);
    t->drop(t->drop_arg, n);
}

void
pg_lru_clear(struct pg_lru *t)
{
    while (t->tail != NULL) {
        pg_lru_remove(t, t->tail);
    }
}

size_t
pg_lru_count(const struct pg_lru *t)
{
    return t->count;
}

size_t
pg_lru_bytes(const struct pg_lru *t)
{
    return t->bytes;
}

uint64_t
pg_lru_evictions(const struct pg_lru *t)
{
    return t->evictions;
}
