/* tests/sigstore/test_time.c — times and validity windows (§2.3, V2, V6).
 *
 * RFC 3339 and ASN.1 times are read at full precision; windows are closed
 * at both ends; the chain step (V2) accepts a signing time equal to the
 * leaf's notBefore or notAfter and to the CA's validFor end, and rejects
 * one nanosecond outside; a trust root whose validFor lacks a start is
 * refused (T0).  The CA and leaf are minted here.
 */
#include "sig_test.h"

#include "sig_int.h"

static void
rfc3339_times_keep_fractions(void **state)
{
    int64_t ns, base;

    (void) state;
    assert_int_equal(pg_sig_parse_rfc3339("2022-12-31T23:59:59Z", &base), 0);
    assert_int_equal(base, 1672531199LL * PG_SIG_NS);
    assert_int_equal(pg_sig_parse_rfc3339("2022-12-31T23:59:59.999Z", &ns),
        0);
    assert_int_equal(ns - base, 999000000LL);
    assert_int_equal(pg_sig_parse_rfc3339("2022-12-31T23:59:59.999000Z",
        &ns), 0);
    assert_int_equal(ns - base, 999000000LL);
    assert_int_equal(pg_sig_parse_rfc3339("1970-01-01T00:00:00.000000001Z",
        &ns), 0);
    assert_int_equal(ns, 1);
    assert_int_equal(pg_sig_parse_rfc3339("2022-12-31T23:59:59", &ns), -1);
    assert_int_equal(pg_sig_parse_rfc3339("2022-13-31T23:59:59Z", &ns), -1);
    assert_int_equal(pg_sig_parse_rfc3339("2022-12-31T23:59:59.Z", &ns), -1);
    assert_int_equal(pg_sig_parse_rfc3339("2022-12-31T23:59:59.1234567890Z",
        &ns), -1);
    assert_int_equal(pg_sig_parse_rfc3339("2022-12-31 23:59:59Z", &ns), -1);
}

static void
generalized_time_fraction_is_kept(void **state)
{
    ASN1_GENERALIZEDTIME *g = ASN1_GENERALIZEDTIME_new();
    ASN1_UTCTIME *u = ASN1_UTCTIME_new();
    int64_t ns;

    (void) state;
    assert_int_equal(ASN1_GENERALIZEDTIME_set_string(g,
        "20250704000000.25Z"), 1);
    assert_int_equal(pg_sig_asn1_time_ns(g, &ns), 0);
    assert_int_equal(ns, 1751587200LL * PG_SIG_NS + 250000000LL);
    assert_int_equal(ASN1_UTCTIME_set_string(u, "491231235959Z"), 1);
    assert_int_equal(pg_sig_asn1_time_ns(u, &ns), 0);
    assert_int_equal(ns, 2524607999LL * PG_SIG_NS);
    ASN1_GENERALIZEDTIME_free(g);
    ASN1_UTCTIME_free(u);
}

static void
windows_are_closed_at_both_ends(void **state)
{
    struct pg_sig_window w = { 100, 200 };

    (void) state;
    assert_true(pg_sig_window_contains(&w, 100));
    assert_true(pg_sig_window_contains(&w, 200));
    assert_false(pg_sig_window_contains(&w, 99));
    assert_false(pg_sig_window_contains(&w, 201));
}

/* A root with one CA (a minted self-signed P-256 root issuing leaves),
 * validFor [start, end]. */
static struct pg_sig_trust_root *
minted_root(EVP_PKEY *cak, X509 **ca_out, const char *start, const char *end)
{
    X509 *ca = X509_new();
    X509_NAME *n = X509_NAME_new();
    struct pg_sig_trust_root *root;
    struct pg_sig_err err;
    unsigned char *der;
    size_t len;
    char *b64, json[4096];

    X509_set_version(ca, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
        (const unsigned char *) "test-ca", -1, -1, 0);
    X509_set_subject_name(ca, n);
    X509_set_issuer_name(ca, n);
    X509_NAME_free(n);
    ASN1_TIME_set(X509_getm_notBefore(ca), 1600000000);
    ASN1_TIME_set(X509_getm_notAfter(ca), 1800000000);
    X509_set_pubkey(ca, cak);
    pg_test_add_ext_conf(ca, NID_basic_constraints, "critical,CA:TRUE");
    pg_test_add_ext_conf(ca, NID_key_usage, "critical,keyCertSign");
    pg_test_sign(ca, cak);
    der = pg_test_der(ca, &len);
    b64 = pg_sig_b64_encode(der, len);
    OPENSSL_free(der);
    snprintf(json, sizeof(json), "{\"mediaType\":\"application/vnd.dev."
        "sigstore.trustedroot+json;version=0.1\",\"certificateAuthorities\":"
        "[{\"certChain\":{\"certificates\":[{\"rawBytes\":\"%s\"}]},"
        "\"validFor\":{\"start\":\"%s\",\"end\":\"%s\"}}]}", b64, start,
        end);
    free(b64);
    assert_int_equal(pg_sig_trust_root_load(json, strlen(json), &root, &err),
        PG_SIG_OK);
    *ca_out = ca;
    return root;
}

static int
chain_at(const struct pg_sig_trust_root *root, X509 *leaf, int64_t t,
    struct pg_sig_err *err)
{
    struct pg_sig_bundle b;
    const struct pg_sig_ca *ca;
    unsigned char *der;
    int rc;

    memset(&b, 0, sizeof(b));
    pg_test_cert(leaf, &b.leaf_cert, &der);
    b.leaf = &b.leaf_cert;
    pg_sig_err_init(err);
    rc = pg_sig_verify_chain(&b, root, &t, 1, &ca, err);
    pg_test_cert_free(&b.leaf_cert, der);
    return rc;
}

static void
leaf_validity_is_inclusive_in_chain_step(void **state)
{
    EVP_PKEY *cak = pg_test_key("P-384"), *k = pg_test_key("P-256");
    struct pg_sig_trust_root *root;
    struct pg_sig_err err;
    X509 *ca, *leaf = pg_test_leaf(k, "email:a@example.com");

    (void) state;
    root = minted_root(cak, &ca, "2020-01-01T00:00:00Z",
        "2030-01-01T00:00:00Z");
    X509_set_issuer_name(leaf, X509_get_subject_name(ca));
    pg_test_sign(leaf, cak);
    /* leaf: notBefore 1700000000, notAfter 1700000600 */
    assert_int_equal(chain_at(root, leaf, 1700000000LL * PG_SIG_NS, &err),
        PG_SIG_OK);
    assert_int_equal(chain_at(root, leaf, 1700000600LL * PG_SIG_NS, &err),
        PG_SIG_OK);
    assert_int_equal(chain_at(root, leaf, 1700000600LL * PG_SIG_NS + 1,
        &err), PG_SIG_ECHAIN);
    assert_string_equal(err.step, "chain");
    assert_non_null(strstr(err.reason, "not valid at signing time"));
    assert_int_equal(chain_at(root, leaf, 1700000000LL * PG_SIG_NS - 1,
        &err), PG_SIG_ECHAIN);
    pg_sig_trust_root_free(root);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
}

static void
ca_valid_for_end_is_inclusive(void **state)
{
    EVP_PKEY *cak = pg_test_key("P-384"), *k = pg_test_key("P-256");
    struct pg_sig_trust_root *root;
    struct pg_sig_err err;
    X509 *ca, *leaf = pg_test_leaf(k, "email:a@example.com");

    (void) state;
    /* 1700000300 = 2023-11-14T22:18:20Z */
    root = minted_root(cak, &ca, "2020-01-01T00:00:00Z",
        "2023-11-14T22:18:20.5Z");
    X509_set_issuer_name(leaf, X509_get_subject_name(ca));
    pg_test_sign(leaf, cak);
    assert_int_equal(chain_at(root, leaf, 1700000300LL * PG_SIG_NS
        + 500000000LL, &err), PG_SIG_OK);
    assert_int_equal(chain_at(root, leaf, 1700000300LL * PG_SIG_NS
        + 500000001LL, &err), PG_SIG_ECHAIN);
    assert_non_null(strstr(err.reason, "validFor excludes"));
    pg_sig_trust_root_free(root);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(k);
}

static void
leaf_from_another_ca_is_rejected(void **state)
{
    EVP_PKEY *cak = pg_test_key("P-384"), *other = pg_test_key("P-384");
    EVP_PKEY *k = pg_test_key("P-256");
    struct pg_sig_trust_root *root;
    struct pg_sig_err err;
    X509 *ca, *leaf = pg_test_leaf(k, "email:a@example.com");

    (void) state;
    root = minted_root(cak, &ca, "2020-01-01T00:00:00Z",
        "2030-01-01T00:00:00Z");
    X509_set_issuer_name(leaf, X509_get_subject_name(ca));
    pg_test_sign(leaf, other);   /* same issuer name, wrong key */
    assert_int_equal(chain_at(root, leaf, 1700000100LL * PG_SIG_NS, &err),
        PG_SIG_ECHAIN);
    pg_sig_trust_root_free(root);
    X509_free(ca);
    X509_free(leaf);
    EVP_PKEY_free(cak);
    EVP_PKEY_free(other);
    EVP_PKEY_free(k);
}

static void
root_with_valid_for_without_start_is_refused(void **state)
{
    const char *json = "{\"mediaType\":\"application/vnd.dev.sigstore."
        "trustedroot+json;version=0.1\",\"tlogs\":[{\"baseUrl\":\"https://x"
        "\",\"publicKey\":{\"rawBytes\":\"AA==\",\"validFor\":{\"end\":"
        "\"2030-01-01T00:00:00Z\"}},\"logId\":{\"keyId\":\"AA==\"}}]}";
    struct pg_sig_trust_root *root;
    struct pg_sig_err err;

    (void) state;
    assert_int_equal(pg_sig_trust_root_load(json, strlen(json), &root, &err),
        PG_SIG_EROOT);
    assert_string_equal(err.step, "trust-root");
    assert_non_null(strstr(err.reason, "validFor without start"));
    assert_null(root);
}

static void
builtin_roots_load(void **state)
{
    struct pg_sig_trust_root *p, *s;
    struct pg_sig_err err;

    (void) state;
    assert_int_equal(pg_sig_trust_root_builtin(0, &p, &err), PG_SIG_OK);
    assert_int_equal(pg_sig_trust_root_builtin(1, &s, &err), PG_SIG_OK);
    assert_int_equal(strlen(pg_sig_trust_root_id(p)), 64);
    assert_string_not_equal(pg_sig_trust_root_id(p),
        pg_sig_trust_root_id(s));
    assert_int_equal(p->ntlogs, 2);
    assert_int_equal(p->ncas, 2);
    assert_true(p->cas[1].links_ok);
    pg_sig_trust_root_free(p);
    pg_sig_trust_root_free(s);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rfc3339_times_keep_fractions),
        cmocka_unit_test(generalized_time_fraction_is_kept),
        cmocka_unit_test(windows_are_closed_at_both_ends),
        cmocka_unit_test(leaf_validity_is_inclusive_in_chain_step),
        cmocka_unit_test(ca_valid_for_end_is_inclusive),
        cmocka_unit_test(leaf_from_another_ca_is_rejected),
        cmocka_unit_test(root_with_valid_for_without_start_is_refused),
        cmocka_unit_test(builtin_roots_load),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
