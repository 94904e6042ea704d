/* tests/sigstore/test_dsse.c — DSSE pre-authentication encoding (V7).
 *
 * PAE against the DSSE specification's example, the empty payload and
 * payloads containing spaces and NULs (lengths are bytes, not text); the
 * envelope signature with a P-256 key over PAE, and its rejection for a
 * changed payload type, a changed payload and another key.
 */
#include "sig_test.h"

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

static void
sign_pae(EVP_PKEY *k, const char *type, const char *payload,
    unsigned char *sig, size_t *slen)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char *pae;
    size_t len;

    pae = pg_sig_dsse_pae(type, (const unsigned char *) payload,
        strlen(payload), &len);
    assert_int_equal(EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(c, sig, slen, pae, len), 1);
    EVP_MD_CTX_free(c);
    free(pae);
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
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_verify_dsse(k, type,
        (const unsigned char *) body, strlen(body), sig, slen, &err),
        PG_SIG_OK);
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_verify_dsse(k, "application/json",
        (const unsigned char *) body, strlen(body), sig, slen, &err),
        PG_SIG_ESIG);
    assert_string_equal(err.step, "signature");
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_verify_dsse(k, type,
        (const unsigned char *) "{\"a\":2}", 7, sig, slen, &err),
        PG_SIG_ESIG);
    pg_sig_err_init(&err);
    assert_int_equal(pg_sig_verify_dsse(other, type,
        (const unsigned char *) body, strlen(body), sig, slen, &err),
        PG_SIG_ESIG);
    EVP_PKEY_free(k);
    EVP_PKEY_free(other);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pae_matches_dsse_spec_example),
        cmocka_unit_test(pae_of_empty_payload_ends_with_zero_length),
        cmocka_unit_test(pae_counts_bytes_of_binary_payload),
        cmocka_unit_test(envelope_signature_verifies_and_tampering_is_rejected),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
