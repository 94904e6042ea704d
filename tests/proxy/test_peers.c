/* tests/proxy/test_peers.c — the per-client-address connection counts
 * (proxy/peers.c, max_client_connections).
 *
 * The limit at limit and limit + 1, release making room again, IPv4 and
 * IPv4-mapped IPv6 counting as one address, and the table under churn:
 * many addresses taken and released in a scrambled order (collisions and
 * backward-shift deletion) keep every count exact, and a full table
 * refuses a new address instead of letting it through uncounted.
 *
 * Owns: its tables.  Runs on: the test process.  Spec: issue 10 item 4.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "server_int.h"
#include "peers_int.h"

static struct pg_peer_key
v4(uint32_t addr)
{
    struct sockaddr_in sin;
    struct pg_peer_key k;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(addr);
    assert_int_equal(pg_peer_key_of((struct sockaddr *)&sin, &k), 0);
    return k;
}

static void
limit_holds_at_limit_and_release_makes_room(void **state)
{
    struct pg_peers *p;
    struct pg_peer_key a = v4(0x7f000002), b = v4(0x7f000003);
    int i;

    (void) state;
    assert_int_equal(pg_peers_new(16, &p), 0);
    for (i = 0; i < 8; i++) {
        assert_int_equal(pg_peers_take(p, &a, 8), 0);
    }
    assert_int_equal(pg_peers_take(p, &a, 8), -1);     /* limit + 1 */
    assert_int_equal(pg_peers_count(p, &a), 8);
    assert_int_equal(pg_peers_take(p, &b, 8), 0);      /* another one */
    pg_peers_release(p, &a);
    assert_int_equal(pg_peers_take(p, &a, 8), 0);
    for (i = 0; i < 8; i++) {
        pg_peers_release(p, &a);
    }
    assert_int_equal(pg_peers_count(p, &a), 0);
    assert_int_equal(pg_peers_count(p, &b), 1);
    pg_peers_free(p);
}

static void
mapped_ipv6_counts_as_its_ipv4_address(void **state)
{
    struct sockaddr_in6 s6;
    struct pg_peer_key k6, k4 = v4(0x0a000001);
    struct pg_peers *p;

    (void) state;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, "::ffff:10.0.0.1",
        &s6.sin6_addr), 1);
    assert_int_equal(pg_peer_key_of((struct sockaddr *)&s6, &k6), 0);
    assert_int_equal(pg_peers_new(4, &p), 0);
    assert_int_equal(pg_peers_take(p, &k4, 2), 0);
    assert_int_equal(pg_peers_take(p, &k6, 2), 0);
    assert_int_equal(pg_peers_take(p, &k4, 2), -1);
    assert_int_equal(inet_pton(AF_INET6, "fd00::1", &s6.sin6_addr), 1);
    assert_int_equal(pg_peer_key_of((struct sockaddr *)&s6, &k6), 0);
    assert_int_equal(pg_peers_take(p, &k6, 2), 0);     /* IPv6: its own */
    pg_peers_free(p);
}

static void
churn_keeps_every_count_exact(void **state)
{
    enum { N = 600 };
    struct pg_peers *p;
    struct pg_peer_key k;
    int i, j, n;

    (void) state;
    assert_int_equal(pg_peers_new(N, &p), 0);      /* 2048 slots */
    for (i = 0; i < N; i++) {
        k = v4(0x0a000000u + (uint32_t)i);
        for (j = 0; j <= i % 3; j++) {
            assert_int_equal(pg_peers_take(p, &k, 3), 0);
        }
    }
    /* release every third address in a scrambled order */
    for (n = 0; n < N; n++) {
        i = (n * 7919) % N;
        if (i % 3 != 0) {
            continue;
        }
        k = v4(0x0a000000u + (uint32_t)i);
        pg_peers_release(p, &k);
    }
    for (i = 0; i < N; i++) {
        k = v4(0x0a000000u + (uint32_t)i);
        assert_int_equal(pg_peers_count(p, &k),
            i % 3 == 0 ? 0 : i % 3 + 1);
    }
    pg_peers_free(p);
}

static void
full_table_refuses_a_new_address(void **state)
{
    struct pg_peers *p;
    struct pg_peer_key k;
    int i, taken = 0;

    (void) state;
    assert_int_equal(pg_peers_new(1, &p), 0);      /* 64 slots */
    for (i = 0; i < 100; i++) {
        k = v4(0x0b000000u + (uint32_t)i);
        taken += pg_peers_take(p, &k, 1) == 0;
    }
    assert_int_equal(taken, 63 - 63 / 4);      /* a quarter kept free */
    k = v4(0x0b000000u);
    assert_int_equal(pg_peers_count(p, &k), 1);
    pg_peers_free(p);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(limit_holds_at_limit_and_release_makes_room),
        cmocka_unit_test(mapped_ipv6_counts_as_its_ipv4_address),
        cmocka_unit_test(churn_keeps_every_count_exact),
        cmocka_unit_test(full_table_refuses_a_new_address),
    };

    if (argc > 1) {
        cmocka_set_test_filter(argv[1]);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
