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
 * An owner whose entries may be in use (a page with requests waiting on
 * it, a download under way) links them with pg_lru_link, which drops
 * nothing, changes their bytes in place with pg_lru_set_bytes, and makes
 * room with pg_lru_trim, which skips the entries its busy callback names:
 * such a table may be over its bounds while its entries are busy, and
 * comes back within them at the next trim that finds idle ones.  An owner
 * whose entries must never be dropped (a download) gives bounds it cannot
 * reach and never trims: the table is then only its index.
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
/* Links n (key and bytes set, no entry with its key linked) as the most
 * recently used entry and drops nothing: the table may go over its
 * bounds until pg_lru_trim. */
void pg_lru_link(struct pg_lru *t, struct pg_lru_node *n);
/* Sets the bytes of n (linked); drops nothing (see pg_lru_trim). */
void pg_lru_set_bytes(struct pg_lru *t, struct pg_lru_node *n,
    size_t bytes);
/* Says whether a linked entry is in use (1: it must stay). */
typedef int pg_lru_busy_fn(void *arg, const struct pg_lru_node *n);
/* While the table is over a bound, drops least recently used entries
 * except keep (may be NULL) and those busy (may be NULL) says are in
 * use; counted as evictions.  The table stays over its bounds when only
 * busy entries are left. */
void pg_lru_trim(struct pg_lru *t, const struct pg_lru_node *keep,
    pg_lru_busy_fn *busy, void *busy_arg);
/* Unlinks n and drops it. */
void pg_lru_remove(struct pg_lru *t, struct pg_lru_node *n);
/* Drops every entry. */
void pg_lru_clear(struct pg_lru *t);

/* The entries from most to least recently used: the first, or NULL; the
 * one after n, or NULL.  Read the next before removing n. */
struct pg_lru_node *pg_lru_first(const struct pg_lru *t);
struct pg_lru_node *pg_lru_next(const struct pg_lru_node *n);

size_t pg_lru_count(const struct pg_lru *t);
size_t pg_lru_bytes(const struct pg_lru *t);
/* Entries dropped to make room (not removals or replacements) since the
 * table was made. */
uint64_t pg_lru_evictions(const struct pg_lru *t);

/* FNV-1a of a string (the table's hash, for owners that need one). */
uint32_t pg_lru_hash(const char *key);

#endif
