/* proxy/util/lru_int.h — one bounded hash table with LRU eviction.
 *
 * Every in-memory table of provgate that remembers something it can
 * find again (the hot table, the file route's records and open blobs)
 * is this one: string keys hashed into a fixed array of buckets, one
 * list from most to least recently used, and two bounds given at
 * creation, a number of entries and a number of bytes.  An insert that
 * would cross either bound first evicts least recently used entries;
 * an entry larger than the byte bound alone is refused, so the table
 * never holds more than its bounds, whatever is put in it.
 *
 * The table is intrusive (as the Linux and nginx lists are): an entry
 * embeds a struct pg_lru_node and sets its key (a string the entry
 * owns; it must not change while linked) and its bytes (what keeping the
 * entry costs; the caller decides what counts).  The table never
 * allocates per entry.  Whenever an entry leaves the table (evicted,
 * replaced by an insert of the same key, removed, cleared) the drop
 * callback gets it: from then on it is the callback's (free it, or drop
 * a reference).  Nothing else is called back.
 *
 * Not thread-safe: a table shared by threads is locked by its owner
 * (hot.c).
 *
 * Owns: the bucket array; linked entries until they are dropped.
 * Runs on: either (the owner's thread or under its lock).
 * Spec: issue 10 item 6 (bounded by bytes), issue 11 (one bounded table).
 */
#ifndef PG_LRU_INT_H
#define PG_LRU_INT_H

#include <stddef.h>
#include <stdint.h>

struct pg_lru_node {
    struct pg_lru_node *hnext;          /* bucket chain */
    struct pg_lru_node *prev, *next;    /* LRU, head = most recent */
    const char *key;                    /* the entry's; set before insert */
    uint32_t hash;                      /* set by the table */
    size_t bytes;                       /* set before insert */
};

struct pg_lru;

/* Called with an entry that left the table (it is the callback's now). */
typedef void pg_lru_drop_fn(void *arg, struct pg_lru_node *n);

/* A table of nbuckets buckets (rounded up to a power of two, at least 1)
 * holding at most max_count entries and max_bytes bytes.  NULL when out
 * of memory or a bound is 0. */
struct pg_lru *pg_lru_new(size_t nbuckets, size_t max_count,
    size_t max_bytes, pg_lru_drop_fn *drop, void *drop_arg);
/* Drops every entry, then frees the table.  NULL is a no-op. */
void pg_lru_free(struct pg_lru *t);

/* The entry whose key is key, or NULL; its recency is unchanged. */
struct pg_lru_node *pg_lru_find(const struct pg_lru *t, const char *key);
/* Marks n (linked) most recently used. */
void pg_lru_touch(struct pg_lru *t, struct pg_lru_node *n);
/* Links n (key and bytes set) as the most recently used entry: an entry
 * with the same key is dropped first, then least recently used ones until
 * n fits both bounds.  -1 when n alone is over max_bytes: nothing is
 * linked or dropped and n stays the caller's. */
int pg_lru_insert(struct pg_lru *t, struct pg_lru_node *n);
/* Unlinks n and drops it. */
void pg_lru_remove(struct pg_lru *t, struct pg_lru_node *n);
/* Drops every entry. */
void pg_lru_clear(struct pg_lru *t);

size_t pg_lru_count(const struct pg_lru *t);
size_t pg_lru_bytes(const struct pg_lru *t);
/* Entries dropped to make room (not removals or replacements) since the
 * table was made. */
uint64_t pg_lru_evictions(const struct pg_lru *t);

/* FNV-1a of a string (the table's hash, for owners that need one). */
uint32_t pg_lru_hash(const char *key);

#endif
