/* proxy/http/peers.c — connections open per client address, for the whole
 * process (max_client_connections).
 *
 * One client must not take every slot of max_connections: an attacker
 * holding 2,000 idle connections, or trickling headers on 1,100, shut out
 * every other client.  Like nginx's limit_conn, each client address may
 * hold at most max_client_connections connections; its further ones are
 * closed at accept.  Connections arrive on several loops (each serving
 * thread accepts on its own socket; with serve_loops = 1 the main loop
 * does), so the counts live in one table shared by all, behind a mutex:
 * it is touched once at accept and once at close, never per request.
 *
 * The table is open addressing with linear probing and backward-shift
 * deletion (no tombstones), sized at creation to twice the most
 * addresses that can hold connections at once (every connection counted
 * here is one of max_connections, plus those being closed to make room):
 * it cannot fill, and if it ever did the connection would be refused,
 * never let through uncounted.  IPv4-mapped IPv6 addresses count as their
 * IPv4 address.
 *
 * Owns: the table.  Borrows: nothing.  Runs on: any loop (locked).
 * Spec: issue 10 item 4.
 */
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "server_int.h"
#include "peers_int.h"

struct peer_slot {
    struct pg_peer_key key;
    uint32_t n;                         /* 0: empty */
};

struct pg_peers {
    pthread_mutex_t mu;
    struct peer_slot *slots;
    size_t mask;                        /* capacity - 1 (a power of 2) */
    size_t used;
};

int
pg_peer_key_of(const struct sockaddr *sa, struct pg_peer_key *key)
{
    static const unsigned char v4mapped[12] = {
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
    };
    const struct sockaddr_in6 *s6;

    memset(key, 0, sizeof(*key));
    if (sa == NULL) {
        return -1;
    }
    if (sa->sa_family == AF_INET) {
        key->family = AF_INET;
        memcpy(key->addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family == AF_INET6) {
        s6 = (const struct sockaddr_in6 *)sa;
        if (memcmp(s6->sin6_addr.s6_addr, v4mapped, 12) == 0) {
            key->family = AF_INET;
            memcpy(key->addr, s6->sin6_addr.s6_addr + 12, 4);
        } else {
            key->family = AF_INET6;
            memcpy(key->addr, s6->sin6_addr.s6_addr, 16);
        }
        return 0;
    }
    return -1;
}

/* FNV-1a over the key. */
static size_t
key_hash(const struct pg_peer_key *k)
{
    uint64_t h = 1469598103934665603ULL;
    size_t i;

    h = (h ^ k->family) * 1099511628211ULL;
    for (i = 0; i < sizeof(k->addr); i++) {
        h = (h ^ k->addr[i]) * 1099511628211ULL;
    }
    return (size_t)(h ^ (h >> 29));
}

static int
key_eq(const struct pg_peer_key *a, const struct pg_peer_key *b)
{
    return a->family == b->family
        && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

int
pg_peers_new(size_t max_addresses, struct pg_peers **out)
{
    struct pg_peers *p;
    size_t cap = 64;

    *out = NULL;
    while (cap < 2 * max_addresses && cap < ((size_t)1 << 30)) {
        cap <<= 1;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return -1;
    }
    p->slots = calloc(cap, sizeof(*p->slots));
    if (p->slots == NULL) {
        free(p);
        return -1;
    }
    p->mask = cap - 1;
    pthread_mutex_init(&p->mu, NULL);
    *out = p;
    return 0;
}

void
pg_peers_free(struct pg_peers *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p);
}

int
pg_peers_take(struct pg_peers *p, const struct pg_peer_key *key, int limit)
{
    size_t i;
    int rc = -1;

    pthread_mutex_lock(&p->mu);
    for (i = key_hash(key) & p->mask; p->slots[i].n != 0;
        i = (i + 1) & p->mask)
    {
        if (key_eq(&p->slots[i].key, key)) {
            if (p->slots[i].n < (uint32_t)limit) {
                p->slots[i].n++;
                rc = 0;
            }
            goto done;
        }
    }
    /* A new address; keep a quarter free so probes stay short. */
    if (limit > 0 && p->used < p->mask - p->mask / 4) {
        p->slots[i].key = *key;
        p->slots[i].n = 1;
        p->used++;
        rc = 0;
    }
done:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void
pg_peers_release(struct pg_peers *p, const struct pg_peer_key *key)
{
    size_t i, j, home;

    pthread_mutex_lock(&p->mu);
    for (i = key_hash(key) & p->mask; p->slots[i].n != 0;
        i = (i + 1) & p->mask)
    {
        if (!key_eq(&p->slots[i].key, key)) {
            continue;
        }
        if (--p->slots[i].n > 0) {
            break;
        }
        /* Backward-shift: pull later entries of the run into the hole
         * when their home slot is not between the hole and them. */
        p->used--;
        j = i;
        for (;;) {
            j = (j + 1) & p->mask;
            if (p->slots[j].n == 0) {
                break;
            }
            home = key_hash(&p->slots[j].key) & p->mask;
            if (((j - home) & p->mask) >= ((j - i) & p->mask)) {
                p->slots[i] = p->slots[j];
                i = j;
            }
        }
        memset(&p->slots[i], 0, sizeof(p->slots[i]));
        break;
    }
    pthread_mutex_unlock(&p->mu);
}

int
pg_peers_count(struct pg_peers *p, const struct pg_peer_key *key)
{
    size_t i;
    int n = 0;

    pthread_mutex_lock(&p->mu);
    for (i = key_hash(key) & p->mask; p->slots[i].n != 0;
        i = (i + 1) & p->mask)
    {
        if (key_eq(&p->slots[i].key, key)) {
            n = (int)p->slots[i].n;
            break;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return n;
}
