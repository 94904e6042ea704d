/* tests/sigstore/test_merkle.c — RFC 6962 / RFC 9162 inclusion proofs (V5b).
 *
 * The eight-leaf test tree of RFC 6962's reference tests (certificate-
 * transparency merkle_tree_test): a recursive reference implementation of
 * MTH and PATH (RFC 6962 §2.1) is first checked against the published root
 * hashes, then generates every (index, size) proof up to 8 leaves, which
 * pg_sig_merkle_verify must accept; tampered proofs must be rejected.
 */
#include "sig_test.h"

#include <openssl/sha.h>

#include "sig_int.h"

static const char *const leaf_hex[8] = {
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f"
};

/* Roots of the first n leaves, n = 1..8 (RFC 6962 test vectors). */
static const char *const root_hex[8] = {
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
};

static unsigned char leaves[8][16];
static size_t leaf_len[8];

static void
unhex(const char *h, unsigned char *out, size_t *len)
{
    size_t i, n = strlen(h) / 2;

    for (i = 0; i < n; i++) {
        unsigned int v;

        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (unsigned char) v;
    }
    *len = n;
}

static void
load_leaves(void)
{
    size_t i;

    for (i = 0; i < 8; i++) {
        unhex(leaf_hex[i], leaves[i], &leaf_len[i]);
    }
}

static size_t
split(size_t n)
{
    size_t k = 1;

    while (k * 2 < n) {
        k *= 2;
    }
    return k;
}

/* Reference MTH over leaves [lo, hi). */
static void
mth(size_t lo, size_t hi, unsigned char out[32])
{
    unsigned char buf[65];

    if (hi - lo == 1) {
        pg_sig_merkle_leaf_hash(leaves[lo], leaf_len[lo], out);
        return;
    }
    buf[0] = 0x01;
    mth(lo, lo + split(hi - lo), buf + 1);
    mth(lo + split(hi - lo), hi, buf + 33);
    SHA256(buf, sizeof(buf), out);
}

/* Reference PATH(m, D[lo:hi]) appended to path. */
static void
ref_path(size_t m, size_t lo, size_t hi, unsigned char (*path)[32],
    size_t *n)
{
    size_t k;

    if (hi - lo == 1) {
        return;
    }
    k = split(hi - lo);
    if (m < k) {
        ref_path(m, lo, lo + k, path, n);
        mth(lo + k, hi, path[(*n)++]);
    } else {
        ref_path(m - k, lo + k, hi, path, n);
        mth(lo, lo + k, path[(*n)++]);
    }
}

static void
reference_roots_match_rfc6962_vectors(void **state)
{
    unsigned char root[32], want[32];
    size_t n, len;

    (void) state;
    load_leaves();
    for (n = 1; n <= 8; n++) {
        mth(0, n, root);
        unhex(root_hex[n - 1], want, &len);
        assert_memory_equal(root, want, 32);
    }
}

static void
every_proof_in_trees_up_to_8_verifies(void **state)
{
    unsigned char root[32], path[16][32];
    struct pg_sig_err err;
    size_t n, m, np;

    (void) state;
    load_leaves();
    for (n = 1; n <= 8; n++) {
        mth(0, n, root);
        for (m = 0; m < n; m++) {
            np = 0;
            ref_path(m, 0, n, path, &np);
            pg_sig_err_init(&err);
            assert_int_equal(pg_sig_merkle_verify(leaves[m], leaf_len[m],
                (int64_t) m, (int64_t) n, (const unsigned char (*)[32]) path,
                np, root, &err), PG_SIG_OK);
        }
    }
}

static void
known_proof_of_leaf_0_in_tree_of_8_verifies(void **state)
{
    static const char *const p[3] = {
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"
    };
    unsigned char path[3][32], root[32];
    struct pg_sig_err err;
    size_t i, len;

    (void) state;
    load_leaves();
    for (i = 0; i < 3; i++) {
        unhex(p[i], path[i], &len);
    }
    unhex(root_hex[7], root, &len);
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify(leaves[0], 0, 0, 8,
        (const unsigned char (*)[32]) path, 3, root, &err), PG_SIG_OK);
}

static void
tampered_hash_is_rejected(void **state)
{
    unsigned char root[32], path[16][32];
    struct pg_sig_err err;
    size_t np = 0;

    (void) state;
    load_leaves();
    mth(0, 7, root);
    ref_path(3, 0, 7, path, &np);
    path[1][5] ^= 1;
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify(leaves[3], leaf_len[3], 3, 7,
        (const unsigned char (*)[32]) path, np, root, &err), PG_SIG_ETLOG);
    assert_string_equal(err.step, "inclusion");
    assert_non_null(strstr(err.reason, "root hash differs"));
}

static void
wrong_index_is_rejected(void **state)
{
    unsigned char root[32], path[16][32];
    struct pg_sig_err err;
    size_t np = 0;

    (void) state;
    load_leaves();
    mth(0, 8, root);
    ref_path(2, 0, 8, path, &np);
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify(leaves[2], leaf_len[2], 3, 8,
        (const unsigned char (*)[32]) path, np, root, &err), PG_SIG_ETLOG);
}

static void
extra_or_missing_hash_is_rejected(void **state)
{
    unsigned char root[32], path[16][32];
    struct pg_sig_err err;
    size_t np = 0;

    (void) state;
    load_leaves();
    mth(0, 5, root);
    ref_path(4, 0, 5, path, &np);
    assert_int_equal(np, 1);
    memcpy(path[1], path[0], 32);
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify(leaves[4], leaf_len[4], 4, 5,
        (const unsigned char (*)[32]) path, 2, root, &err), PG_SIG_ETLOG);
    assert_non_null(strstr(err.reason, "needs 1"));
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify(leaves[4], leaf_len[4], 4, 5,
        (const unsigned char (*)[32]) path, 0, root, &err), PG_SIG_ETLOG);
}

static void
index_outside_tree_is_rejected(void **state)
{
    unsigned char root[32] = { 0 };
    struct pg_sig_err err;

    (void) state;
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify((const unsigned char *) "", 0, 8,
        8, NULL, 0, root, &err), PG_SIG_ETLOG);
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify((const unsigned char *) "", 0, -1,
        8, NULL, 0, root, &err), PG_SIG_ETLOG);
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_merkle_verify((const unsigned char *) "", 0, 0,
        0, NULL, 0, root, &err), PG_SIG_ETLOG);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reference_roots_match_rfc6962_vectors),
        cmocka_unit_test(every_proof_in_trees_up_to_8_verifies),
        cmocka_unit_test(known_proof_of_leaf_0_in_tree_of_8_verifies),
        cmocka_unit_test(tampered_hash_is_rejected),
        cmocka_unit_test(wrong_index_is_rejected),
        cmocka_unit_test(extra_or_missing_hash_is_rejected),
        cmocka_unit_test(index_outside_tree_is_rejected),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
