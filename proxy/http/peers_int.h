/* proxy/http/peers_int.h — connections open per client address (peers.c).
 *
 * One table for the whole process, shared by every loop behind a mutex:
 * each accepted connection is counted in under its client address and
 * out when it closes, so max_client_connections holds across loops.
 *
 * Owns: see peers.c.  Runs on: any loop (locked).  Spec: issue 10 item 4.
 */
#ifndef PG_PEERS_INT_H
#define PG_PEERS_INT_H

#include <stddef.h>

struct sockaddr;

/* A client address as peers.c counts it (IPv4-mapped IPv6 as IPv4). */
struct pg_peer_key {
    unsigned char family;               /* 0: none (not counted) */
    unsigned char addr[16];
};

struct pg_peers;
/* A table for connections from up to max_addresses addresses at once. */
int pg_peers_new(size_t max_addresses, struct pg_peers **out);
void pg_peers_free(struct pg_peers *p);
/* The key of sa's address; -1 (key zeroed) for another family. */
int pg_peer_key_of(const struct sockaddr *sa, struct pg_peer_key *key);
/* Counts a connection from key in: 0, or -1 (not counted) when key has
 * limit open already (or the table is full). */
int pg_peers_take(struct pg_peers *p, const struct pg_peer_key *key,
    int limit);
/* Counts one of key's connections out. */
void pg_peers_release(struct pg_peers *p, const struct pg_peer_key *key);
/* Connections key has open. */
int pg_peers_count(struct pg_peers *p, const struct pg_peer_key *key);

#endif
