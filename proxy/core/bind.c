/* proxy/core/bind.c — which upstream a project name comes from (see
 * bind_int.h).
 *
 * Static claims are the config's (pg_config_claims); an @list upstream's
 * names are one malloc'd block of NUL-terminated names plus a sorted
 * array of pointers into it, searched with bsearch.  Replacing a list
 * builds the new copy first and swaps it in, so a failure keeps the old.
 *
 * Owns: the lists' copies.  Borrows: the config.  Runs on: loop, CLI.
 * Spec: issue 13 items 1 and 2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bind_int.h"
#include "config_int.h"

struct bind_list {
    int set;                    /* a list was given */
    char *block;                /* the names, NUL-terminated, one after
                                   the other */
    const char **names;         /* sorted, into block */
    size_t n;
};

struct pg_bind {
    const struct pg_config *cfg;
    struct bind_list lists[PG_CONFIG_MAX_UPSTREAMS];
};

static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
pg_bind_new(const struct pg_config *cfg, struct pg_bind **out)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL) {
        return -1;
    }
    (*out)->cfg = cfg;
    return 0;
}

static void
list_clear(struct bind_list *l)
{
    free(l->block);
    free(l->names);
    memset(l, 0, sizeof(*l));
}

void
pg_bind_free(struct pg_bind *b)
{
    size_t i;

    if (b == NULL) {
        return;
    }
    for (i = 0; i < PG_CONFIG_MAX_UPSTREAMS; i++) {
        list_clear(&b->lists[i]);
    }
    free(b);
}

static int
lists_equal(const struct bind_list *a, const struct bind_list *b)
{
    size_t i;

    if (a->n != b->n) {
        return 0;
    }
    for (i = 0; i < a->n; i++) {
        if (strcmp(a->names[i], b->names[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

int
pg_bind_set_list(struct pg_bind *b, size_t up, const char *const *names,
    size_t n)
{
    struct bind_list nl;
    size_t i, total = 0, off = 0, k = 0;
    int changed;

    if (up == 0 || up >= b->cfg->n_upstreams
        || !b->cfg->upstreams[up].own_list)
    {
        return -1;
    }
    memset(&nl, 0, sizeof(nl));
    for (i = 0; i < n; i++) {
        total += strlen(names[i]) + 2;      /* a trailing "-" and NUL */
    }
    nl.block = malloc(total > 0 ? total : 1);
    nl.names = malloc((n > 0 ? n : 1) * sizeof(*nl.names));
    if (nl.block == NULL || nl.names == NULL) {
        list_clear(&nl);
        return -1;
    }
    for (i = 0; i < n; i++) {
        char *dst = nl.block + off;
        size_t room = strlen(names[i]) + 2;

        if (pg_config_normalize(names[i], dst, room) != 0
            || dst[strlen(dst) - 1] == '-')
        {
            continue;
        }
        nl.names[k++] = dst;
        off += strlen(dst) + 1;
    }
    qsort(nl.names, k, sizeof(*nl.names), name_cmp);
    /* duplicates ("Foo" and "foo") once */
    for (i = 0, n = 0; i < k; i++) {
        if (n == 0 || strcmp(nl.names[n - 1], nl.names[i]) != 0) {
            nl.names[n++] = nl.names[i];
        }
    }
    nl.n = n;
    nl.set = 1;
    changed = !b->lists[up].set || !lists_equal(&b->lists[up], &nl);
    list_clear(&b->lists[up]);
    b->lists[up] = nl;
    return changed;
}

int
pg_bind_has_list(const struct pg_bind *b, size_t up)
{
    return up < PG_CONFIG_MAX_UPSTREAMS && b->lists[up].set;
}

int
pg_bind_listed(const struct pg_bind *b, size_t up, const char *norm)
{
    const struct bind_list *l;

    if (up >= PG_CONFIG_MAX_UPSTREAMS) {
        return 0;
    }
    l = &b->lists[up];
    return l->n > 0 && bsearch(&norm, l->names, l->n, sizeof(*l->names),
        name_cmp) != NULL;
}

void
pg_bind_which(const struct pg_bind *b, const char *norm,
    struct pg_binding *out)
{
    const struct pg_config *cfg = b->cfg;
    size_t i, k;
    int found = 0, unknown = -1;

    memset(out, 0, sizeof(*out));
    for (i = 1; i < cfg->n_upstreams; i++) {
        const struct pg_upstream_conf *u = &cfg->upstreams[i];

        for (k = 0; k < u->n_claims; k++) {
            const struct pg_upstream_claim *c = &u->claims[k];

            if (c->prefix ? strncmp(norm, c->name, strlen(c->name)) == 0
                : strcmp(norm, c->name) == 0)
            {
                out->up = i;
                out->how = c->prefix ? PG_BIND_PREFIX : PG_BIND_NAME;
                snprintf(out->claim, sizeof(out->claim), "%s%s", c->name,
                    c->prefix ? "*" : "");
                return;
            }
        }
    }
    for (i = 1; i < cfg->n_upstreams; i++) {
        if (!cfg->upstreams[i].own_list) {
            continue;
        }
        if (!b->lists[i].set) {
            if (unknown < 0) {
                unknown = (int)i;
            }
            continue;
        }
        if (!pg_bind_listed(b, i, norm)) {
            continue;
        }
        if (found) {
            out->other = i;
            out->how = PG_BIND_CONFLICT;
            return;
        }
        found = 1;
        out->up = i;
        out->how = PG_BIND_LIST;
    }
    if (unknown >= 0 && out->how != PG_BIND_CONFLICT) {
        out->up = (size_t)unknown;
        out->how = PG_BIND_UNKNOWN;
        return;
    }
    if (found) {
        return;
    }
    out->up = 0;
    out->how = PG_BIND_DEFAULT;
}

const char *
pg_bind_how_name(enum pg_bind_how how)
{
    switch (how) {
    case PG_BIND_DEFAULT:
        return "default";
    case PG_BIND_NAME:
        return "name";
    case PG_BIND_PREFIX:
        return "prefix";
    case PG_BIND_LIST:
        return "list";
    case PG_BIND_UNKNOWN:
        return "unknown";
    case PG_BIND_CONFLICT:
        return "conflict";
    }
    return "?";
}
