/* policy/sigstore/merkle.c — RFC 6962 / RFC 9162 inclusion proofs (V5b).
 *
 * Recomputes the root from the leaf data and the audit path: leaf hash
 * SHA-256(0x00 || data), node hash SHA-256(0x01 || left || right).  The
 * path length must be exactly inner + border (RFC 9162 §2.1.3.2), so a
 * proof with extra or missing hashes is rejected rather than walked.
 * One digest context per proof is allocated; the walk is a loop over at
 * most PG_SIG_MAX_PROOF_HASHES (the parser caps the count).
 *
 * Owns: nothing.  Borrows: its inputs.  Runs on: either.
 * Spec: sigstore-verification V5b; RFC 9162 §2.1.3.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sig_int.h"

#define STEP "inclusion"

void
pg_sig_merkle_leaf_hash(const unsigned char *leaf, size_t len,
    unsigned char out[32])
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char z = 0x00;

    if (c == NULL
        || EVP_DigestInit_ex(c, pg_sig_md_fetched(EVP_sha256()), NULL) != 1
        || EVP_DigestUpdate(c, &z, 1) != 1
        || EVP_DigestUpdate(c, leaf, len) != 1
        || EVP_DigestFinal_ex(c, out, NULL) != 1)
    {
        /* cannot compute: a value no root equals */
        memset(out, 0, 32);
    }
    EVP_MD_CTX_free(c);
}

/* SHA-256(0x01 || l || r) with the proof's one context (reinitialised per
 * node: cheaper than a fresh one-shot digest each time).  A failing
 * digest gives zeros, as a failing leaf hash does. */
static void
node_hash(EVP_MD_CTX *c, const unsigned char *l, const unsigned char *r,
    unsigned char out[32])
{
    unsigned char buf[65];

    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    if (EVP_DigestInit_ex(c, pg_sig_md_fetched(EVP_sha256()), NULL) != 1
        || EVP_DigestUpdate(c, buf, sizeof(buf)) != 1
        || EVP_DigestFinal_ex(c, out, NULL) != 1)
    {
        memset(out, 0, 32);
    }
}

static int
bit_length(uint64_t x)
{
    int n = 0;

    while (x != 0) {
        n++;
        x >>= 1;
    }
    return n;
}

static int
popcount(uint64_t x)
{
    int n = 0;

    while (x != 0) {
        n += (int) (x & 1);
        x >>= 1;
    }
    return n;
}

int
pg_sig_merkle_verify(const unsigned char *leaf, size_t leaf_len,
    int64_t index, int64_t size, const unsigned char (*hashes)[32],
    size_t nhashes, const unsigned char root_hash[32],
    struct pg_sig_err *err)
{
    unsigned char h[32];
    EVP_MD_CTX *c;
    uint64_t i, n;
    size_t k;
    int inner, border;

    if (index < 0 || size <= 0 || index >= size) {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "index %lld outside "
            "tree of size %lld", (long long) index, (long long) size);
    }
    i = (uint64_t) index;
    n = (uint64_t) size;
    inner = bit_length(i ^ (n - 1));
    border = popcount(i >> inner);
    if (nhashes != (size_t) (inner + border)) {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "proof has %zu hashes, "
            "tree position needs %d", nhashes, inner + border);
    }
    c = EVP_MD_CTX_new();
    if (c == NULL) {
        return pg_sig_fail(err, PG_SIG_ENOMEM, STEP, "digest context");
    }
    pg_sig_merkle_leaf_hash(leaf, leaf_len, h);
    for (k = 0; k < (size_t) inner; k++) {
        if (((i >> k) & 1) == 0) {
            node_hash(c, h, hashes[k], h);
        } else {
            node_hash(c, hashes[k], h, h);
        }
    }
    for (; k < nhashes; k++) {
        node_hash(c, hashes[k], h, h);
    }
    EVP_MD_CTX_free(c);
    if (CRYPTO_memcmp(h, root_hash, 32) != 0) {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "computed root hash "
            "differs from the proof's root hash");
    }
    return PG_SIG_OK;
}
