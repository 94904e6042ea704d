/* tests/sigstore/sig_test.h — shared helpers of the verifier's unit tests.
 *
 * pg_test_run runs one named cmocka test (ctest registers each test by
 * name) or all of them; the minting helpers make throw-away EC keys and
 * certificates with chosen extensions, so negative cases do not need
 * shared data.  Test-only code: asserts instead of error paths.
 *
 * Owns: what it returns (callers free).  Runs on: the test process.
 */
#ifndef PG_SIG_TEST_H
#define PG_SIG_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "sig_int.h"

static inline int
pg_test_run(const struct CMUnitTest *tests, size_t n, int argc, char **argv)
{
    size_t i, found = 0;

    if (argc > 1) {
        for (i = 0; i < n; i++) {
            found += strcmp(tests[i].name, argv[1]) == 0;
        }
        if (found == 0) {
            fprintf(stderr, "no test named %s\n", argv[1]);
            return 1;
        }
        cmocka_set_test_filter(argv[1]);
    }
    return _cmocka_run_group_tests("sigstore", tests, n, NULL, NULL);
}

static inline EVP_PKEY *
pg_test_key(const char *type)
{
    EVP_PKEY *k;

    if (strcmp(type, "ed25519") == 0) {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    } else {
        k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
    }
    assert_non_null(k);
    return k;
}

/* Adds extension 1.3.6.1.4.1.57264.1.<n> with raw value bytes. */
static inline void
pg_test_add_raw_ext(X509 *x, int n, const unsigned char *val, size_t len)
{
    char oid[64];
    ASN1_OBJECT *obj;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext;

    snprintf(oid, sizeof(oid), "1.3.6.1.4.1.57264.1.%d", n);
    obj = OBJ_txt2obj(oid, 1);
    assert_non_null(obj);
    assert_int_equal(ASN1_OCTET_STRING_set(os, val, (int) len), 1);
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
    assert_non_null(ext);
    assert_int_equal(X509_add_ext(x, ext, -1), 1);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(obj);
    ASN1_OCTET_STRING_free(os);
}

/* Adds .n as a DER UTF8String (the .8+ encoding). */
static inline void
pg_test_add_utf8_ext(X509 *x, int n, const char *s)
{
    ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
    unsigned char *der = NULL;
    int len;

    assert_int_equal(ASN1_STRING_set(u, s, (int) strlen(s)), 1);
    len = i2d_ASN1_UTF8STRING(u, &der);
    assert_true(len > 0);
    pg_test_add_raw_ext(x, n, der, (size_t) len);
    OPENSSL_free(der);
    ASN1_UTF8STRING_free(u);
}

static inline void
pg_test_add_ext_conf(X509 *x, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, nid, value);

    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* A Fulcio-shaped leaf (KU digitalSignature, EKU codeSigning, SAN san as
 * URI: or email:), issued by "test-ca" and signed by ca_key.  Extra
 * extensions are added by the caller before pg_test_sign. */
static inline X509 *
pg_test_leaf(EVP_PKEY *key, const char *san)
{
    X509 *x = X509_new();
    X509_NAME *iss = X509_NAME_new();

    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
    X509_NAME_add_entry_by_txt(iss, "CN", MBSTRING_ASC,
        (const unsigned char *) "test-ca", -1, -1, 0);
    X509_set_issuer_name(x, iss);
    X509_NAME_free(iss);
    ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 1700000600);
    X509_set_pubkey(x, key);
    pg_test_add_ext_conf(x, NID_key_usage, "critical,digitalSignature");
    pg_test_add_ext_conf(x, NID_ext_key_usage, "codeSigning");
    if (san != NULL) {
        pg_test_add_ext_conf(x, NID_subject_alt_name, san);
    }
    return x;
}

static inline void
pg_test_sign(X509 *x, EVP_PKEY *ca_key)
{
    assert_true(X509_sign(x, ca_key, EVP_sha256()) > 0);
}

static inline unsigned char *
pg_test_der(X509 *x, size_t *len)
{
    unsigned char *der = NULL;
    int n = i2d_X509(x, &der);

    assert_true(n > 0);
    *len = (size_t) n;
    return der;
}

/* A minted certificate as the verifier reads it: *der must be freed
 * (OPENSSL_free) after pg_sig_cert_clear. */
static inline void
pg_test_cert(X509 *x, struct pg_sig_cert *c, unsigned char **der)
{
    size_t len;

    *der = pg_test_der(x, &len);
    assert_int_equal(pg_sig_cert_parse(*der, len, c), 0);
}

static inline void
pg_test_cert_free(struct pg_sig_cert *c, unsigned char *der)
{
    pg_sig_cert_clear(c);
    OPENSSL_free(der);
}

#endif
