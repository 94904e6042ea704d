/* proxy/core/bind_int.h — which upstream a project name comes from.
 *
 * A project comes from exactly one upstream (issue 13 item 2): a private
 * upstream ([upstream:NAME]) owns the names and prefixes of its projects
 * line and, with @list, every name its own /simple/ list holds; every
 * other name comes from [upstream] (the default, index 0).  The static
 * claims never overlap (pg_config_finish refuses that) and are decided
 * first.  A name that no static claim settles while an @list upstream's
 * list is not known yet is UNKNOWN (the caller fetches that list first,
 * or refuses: never guessed), and a name two lists hold is a CONFLICT
 * (refused, never merged).  The lists are given by the caller (the pages
 * route, from each private upstream's cached /simple/ list; the CLI, from
 * the cache's copy) and kept as sorted, PEP 503-normalized copies.
 *
 * Owns: the copies of the lists.  Borrows: the config (outlives it).
 * Runs on: loop (pg_bind_set_list sorts a list: once per list change) and
 * the CLI.  Spec: issue 13 items 1 and 2; design §11.
 */
#ifndef PG_BIND_INT_H
#define PG_BIND_INT_H

#include <stddef.h>

struct pg_config;
struct pg_bind;

enum pg_bind_how {
    PG_BIND_DEFAULT = 0,    /* no private upstream owns it: [upstream] */
    PG_BIND_NAME,           /* a name of a projects line */
    PG_BIND_PREFIX,         /* a prefix of a projects line */
    PG_BIND_LIST,           /* the upstream's /simple/ list (@list) */
    PG_BIND_UNKNOWN,        /* an @list upstream's list is not known */
    PG_BIND_CONFLICT        /* two @list upstreams list it */
};

struct pg_binding {
    size_t up;              /* index in cfg->upstreams (DEFAULT: 0;
                               UNKNOWN: the upstream whose list is
                               missing; CONFLICT: the first) */
    size_t other;           /* CONFLICT: the second upstream */
    enum pg_bind_how how;
    char claim[208];        /* NAME / PREFIX: the claim as written in
                               the config ("acme-*"), else "" */
};

/* 0, or -1 (no memory). */
int pg_bind_new(const struct pg_config *cfg, struct pg_bind **out);
void pg_bind_free(struct pg_bind *b);

/* Replaces upstream up's list (its projects has @list) with n names
 * (normalized here; names that are not valid project names are left
 * out).  1 if the set of names changed, 0 if not, -1 on no memory (the
 * old list is kept) or if up has no @list. */
int pg_bind_set_list(struct pg_bind *b, size_t up, const char *const *names,
    size_t n);
/* 1 once upstream up's list was set. */
int pg_bind_has_list(const struct pg_bind *b, size_t up);
/* 1 if upstream up's list holds the normalized name (0 if up has none). */
int pg_bind_listed(const struct pg_bind *b, size_t up, const char *norm);

/* Who serves the normalized project name.  Pure; O(claims + lists x
 * log(names)). */
void pg_bind_which(const struct pg_bind *b, const char *norm,
    struct pg_binding *out);
/* "default", "name", "prefix", "list", "unknown", "conflict". */
const char *pg_bind_how_name(enum pg_bind_how how);

#endif
