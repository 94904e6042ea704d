/* tests/sigstore/test_dsse.c — DSSE pre-authentication encoding (V7).
 *
 * PAE against the DSSE specification's example, the empty payload and
 * payloads containing spaces and NULs (lengths are bytes, not text); the
 * envelope signature with a P-256 key over PAE, and its rejection for a
 * changed payload type, a changed payload and another key; every signing
 * algorithm of the Sigstore algorithm registry over PAE, and the keys and
 * digests the registry does not pair.
 */
#include "sig_test.h"

#include <openssl/rsa.h>

#include "sig_int.h"

static void
pae_matches_dsse_spec_example(void **state)
{
    const char *want = "DSSEv1 29 http://example.com/HelloWorld 11 "
        "hello world";
    unsigned char *pae;
    size_t len;

    (void) state;
    pae = pg_sig_dsse_pae("http://example.com/HelloWorld",
        (const unsigned char *) "hello world", 11, &len);
    assert_int_equal(len, strlen(want));
    assert_memory_equal(pae, want, len);
    free(pae);
}

static void
pae_of_empty_payload_ends_with_zero_length(void **state)
{
    unsigned char *pae;
    size_t len;

    (void) state;
    pae = pg_sig_dsse_pae("", (const unsigned char *) "", 0, &len);
    assert_int_equal(len, strlen("DSSEv1 0  0 "));
    assert_memory_equal(pae, "DSSEv1 0  0 ", len);
    free(pae);
}

static void
pae_counts_bytes_of_binary_payload(void **state)
{
    const unsigned char payload[5] = { 'a', 0, ' ', 0xff, '\n' };
    unsigned char *pae;
    size_t len, head = strlen("DSSEv1 28 application/vnd.in-toto+json 5 ");

    (void) state;
    pae = pg_sig_dsse_pae("application/vnd.in-toto+json", payload, 5, &len);
    assert_int_equal(len, head + 5);
    assert_memory_equal(pae, "DSSEv1 28 application/vnd.in-toto+json 5 ",
        head);
    assert_memory_equal(pae + head, payload, 5);
    free(pae);
}

/* Signs PAE with md (NULL: Ed25519) and padding (RSA: 0 PKCS#1 v1.5,
 * 1 PSS with the largest salt, as Go's signers make it). */
static void
sign_pae_md(EVP_PKEY *k, const EVP_MD *md, int pss, const char *type,
    const char *payload, unsigned char *sig, size_t *slen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *pae;
    size_t len;

    pae = pg_sig_dsse_pae(type, (const unsigned char *) payload,
        strlen(payload), &len);
    assert_int_equal(EVP_DigestSignInit(c, &pctx, md, NULL, k), 1);
    if (pss) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx,
            RSA_PKCS1_PSS_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
            RSA_PSS_SALTLEN_MAX), 1);
    }
    assert_int_equal(EVP_DigestSign(c, sig, slen, pae, len), 1);
    EVP_MD_CTX_free(c);
    free(pae);
}

static void
sign_pae(EVP_PKEY *k, const char *type, const char *payload,
    unsigned char *sig, size_t *slen)
{
    sign_pae_md(k, EVP_sha256(), 0, type, payload, sig, slen);
}

/* pg_sig_verify_dsse with the key's registry entries. */
static int
verify_dsse(EVP_PKEY *k, const char *type, const unsigned char *payload,
    size_t len, const unsigned char *sig, size_t slen,
    struct pg_sig_err *err)
{
    const struct pg_sig_alg *algs[PG_SIG_MAX_KEY_ALGS], *used;
    size_t n;
    int rc;

    pg_sig_err_init(err);
    rc = pg_sig_alg_for_key(k, algs, &n, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    return pg_sig_verify_dsse(k, algs, n, type, payload, len, sig, slen,
        &used, err);
}

static void
envelope_signature_verifies_and_tampering_is_rejected(void **state)
{
    EVP_PKEY *k = pg_test_key("P-256"), *other = pg_test_key("P-256");
    const char *type = "application/vnd.in-toto+json", *body = "{\"a\":1}";
    unsigned char sig[128];
    size_t slen = sizeof(sig);
    struct pg_sig_err err;

    (void) state;
    sign_pae(k, type, body, sig, &slen);
    assert_int_equal(verify_dsse(k, type,
        (const unsigned char *) body, strlen(body), sig, slen, &err),
        PG_SIG_OK);
    assert_int_equal(verify_dsse(k, "application/json",
        (const unsigned char *) body, strlen(body), sig, slen, &err),
        PG_SIG_ESIG);
    assert_string_equal(err.step, "signature");
    assert_int_equal(verify_dsse(k, type,
        (const unsigned char *) "{\"a\":2}", 7, sig, slen, &err),
        PG_SIG_ESIG);
    assert_int_equal(verify_dsse(other, type,
        (const unsigned char *) body, strlen(body), sig, slen, &err),
        PG_SIG_ESIG);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

/* Each signing algorithm of the Sigstore algorithm registry verifies a
 * DSSE envelope signed with its own digest and padding; the same key
 * signing with another digest is rejected, by name where the reason can
 * say it (P-384/P-521 over SHA-256, the registry's retired pairings). */
static void
every_registry_algorithm_verifies_dsse_and_others_are_rejected(void **state)
{
    static const struct {
        const char *key;        /* EC curve, "ed25519", "rsa:BITS" */
        const char *md;         /* signing digest; NULL: none (Ed25519) */
        int pss;
        int code;
        const char *reason;
    } cases[] = {
        { "P-256", "SHA256", 0, PG_SIG_OK, NULL },
        { "P-384", "SHA384", 0, PG_SIG_OK, NULL },
        { "P-521", "SHA512", 0, PG_SIG_OK, NULL },
        { "ed25519", NULL, 0, PG_SIG_OK, NULL },
        { "rsa:2048", "SHA256", 0, PG_SIG_OK, NULL },
        { "rsa:2048", "SHA256", 1, PG_SIG_OK, NULL },
        { "rsa:3072", "SHA256", 1, PG_SIG_OK, NULL },
        { "P-256", "SHA384", 0, PG_SIG_ESIG, "does not verify" },
        { "P-384", "SHA256", 0, PG_SIG_ESIG, "ECDSA P-384 over SHA2_256; "
            "the algorithm registry pairs ECDSA P-384 with SHA2_384 only" },
        { "P-521", "SHA256", 0, PG_SIG_ESIG, "ECDSA P-521 over SHA2_256" },
        { "P-521", "SHA384", 0, PG_SIG_ESIG, "does not verify" },
        { "rsa:2048", "SHA384", 0, PG_SIG_ESIG, "does not verify" },
        { "rsa:2048", "SHA1", 1, PG_SIG_ESIG, "does not verify" },
        { "secp256k1", "SHA256", 0, PG_SIG_ESIG, "signing key (EC "
            "secp256k1) is not in the Sigstore algorithm registry" },
        { "rsa:1024", "SHA256", 0, PG_SIG_ESIG, "signing key (RSA 1024 "
            "bits) is not in the Sigstore algorithm registry" },
    };
    const char *type = "application/vnd.in-toto+json", *body = "{\"a\":1}";
    struct pg_sig_err err;
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char sig[1024];
        size_t slen = sizeof(sig);
        EVP_PKEY *k;
        int rc;

        if (strncmp(cases[i].key, "rsa:", 4) == 0) {
            k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
                (size_t) strtoul(cases[i].key + 4, NULL, 10));
            assert_non_null(k);
        } else {
            k = pg_test_key(cases[i].key);
        }
        sign_pae_md(k, cases[i].md != NULL ? EVP_get_digestbyname(
            cases[i].md) : NULL, cases[i].pss, type, body, sig, &slen);
        rc = verify_dsse(k, type, (const unsigned char *) body,
            strlen(body), sig, slen, &err);
        if (rc != cases[i].code || (cases[i].reason != NULL
                && strstr(err.reason, cases[i].reason) == NULL))
        {
            fail_msg("case %zu (%s %s%s): got %d '%s'", i, cases[i].key,
                cases[i].md != NULL ? cases[i].md : "-",
                cases[i].pss ? " PSS" : "", rc, err.reason);
        }
        EVP_PKEY_free(k);
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pae_matches_dsse_spec_example),
        cmocka_unit_test(pae_of_empty_payload_ends_with_zero_length),
        cmocka_unit_test(pae_counts_bytes_of_binary_payload),
        cmocka_unit_test(envelope_signature_verifies_and_tampering_is_rejected),
        cmocka_unit_test(
            every_registry_algorithm_verifies_dsse_and_others_are_rejected),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
