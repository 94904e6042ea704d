/* tests/sigstore/test_identity.c — Fulcio extensions and identity (V4).
 *
 * Leaves minted here carry chosen Fulcio extensions, so each decoding rule
 * (raw .1–.6, exactly one DER UTF8String for .8+, long-form lengths) and
 * each publisher rule (GitHub, GitLab, Google, SAN + issuer, the
 * case-insensitive GitHub repository) can fail on its own.  The two real
 * leaves of vectors/pypi/certs.json are checked too (skipped without
 * ../shared).
 */
#include "sig_test.h"

#include <openssl/pem.h>

#include "pg_policy.h"
#include "sig_int.h"

#define GH "https://token.actions.githubusercontent.com"
#define REPO "Octo-Org/Repo"
#define SHA "0123456789abcdef0123456789abcdef01234567"

/* A GitHub leaf; which extensions it carries is chosen by flags. */
#define WITH_DIGEST 1
#define WITH_REF 2

static X509 *
github_leaf(int flags, const char *cfg_tail)
{
    EVP_PKEY *k = pg_test_key("P-256"), *ca = pg_test_key("P-256");
    X509 *x = pg_test_leaf(k, "URI:https://github.com/" REPO
        "/.github/workflows/release.yml@refs/tags/v1");
    char cfg[512];

    pg_test_add_raw_ext(x, 1, (const unsigned char *) GH, strlen(GH));
    pg_test_add_utf8_ext(x, 8, GH);
    pg_test_add_utf8_ext(x, 12, "https://github.com/" REPO);
    if (flags & WITH_DIGEST) {
        pg_test_add_utf8_ext(x, 13, SHA);
    }
    if (flags & WITH_REF) {
        pg_test_add_utf8_ext(x, 14, "refs/tags/v1");
    }
    snprintf(cfg, sizeof(cfg), "https://github.com/" REPO
        "/.github/workflows/%s", cfg_tail);
    pg_test_add_utf8_ext(x, 18, cfg);
    pg_test_sign(x, ca);
    EVP_PKEY_free(k);
    EVP_PKEY_free(ca);
    return x;
}

/* V4 on a minted certificate, read the way the verifier reads leaves. */
static int
identity(X509 *x, const struct pg_sig_policy *p, struct pg_sig_err *err)
{
    struct pg_sig_cert c;
    unsigned char *der;
    int rc;

    pg_test_cert(x, &c, &der);
    pg_sig_err_init(err);
    rc = pg_sig_verify_identity(&c, p, err);
    pg_test_cert_free(&c, der);
    return rc;
}

static int
ext(X509 *x, int n, char *buf, size_t len)
{
    struct pg_sig_cert c;
    unsigned char *der;
    int rc;

    pg_test_cert(x, &c, &der);
    rc = pg_sig_fulcio_ext(&c, n, buf, len);
    pg_test_cert_free(&c, der);
    return rc;
}

static int
github(X509 *x, const char *repo, const char *wf, struct pg_sig_err *err)
{
    struct pg_sig_policy p;

    memset(&p, 0, sizeof(p));
    p.kind = PG_SIG_POLICY_GITHUB;
    p.repository = repo;
    p.workflow = wf;
    return identity(x, &p, err);
}

static void
raw_and_utf8_extensions_decode(void **state)
{
    X509 *x = github_leaf(WITH_DIGEST | WITH_REF, "release.yml@" SHA);
    char buf[300];

    (void) state;
    assert_int_equal(ext(x, 1, buf, sizeof(buf)), 1);
    assert_string_equal(buf, GH);
    assert_int_equal(ext(x, 8, buf, sizeof(buf)), 1);
    assert_string_equal(buf, GH);
    assert_int_equal(ext(x, 14, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "refs/tags/v1");
    assert_int_equal(ext(x, 9, buf, sizeof(buf)), 0);
    assert_int_equal(ext(x, 8, buf, 10), -1);
    X509_free(x);
}

static void
long_form_utf8_length_decodes(void **state)
{
    EVP_PKEY *k = pg_test_key("P-256");
    X509 *x = pg_test_leaf(k, NULL);
    char val[201], buf[300];

    (void) state;
    memset(val, 'w', 200);
    val[200] = '\0';
    pg_test_add_utf8_ext(x, 18, val);   /* 0x0c 0x81 0xc8 ... */
    pg_test_sign(x, k);
    assert_int_equal(ext(x, 18, buf, sizeof(buf)), 1);
    assert_string_equal(buf, val);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void
malformed_utf8_extensions_are_rejected(void **state)
{
    static const unsigned char trailing[] = { 0x0c, 0x02, 'a', 'b', 0x00 };
    static const unsigned char octets[] = { 0x04, 0x02, 'a', 'b' };
    static const unsigned char short_len[] = { 0x0c, 0x05, 'a', 'b' };
    static const unsigned char nul[] = { 0x0c, 0x03, 'a', 0x00, 'b' };
    EVP_PKEY *k = pg_test_key("P-256");
    X509 *x = pg_test_leaf(k, NULL);
    char buf[64];

    (void) state;
    pg_test_add_raw_ext(x, 8, trailing, sizeof(trailing));
    pg_test_add_raw_ext(x, 9, octets, sizeof(octets));
    pg_test_add_raw_ext(x, 10, short_len, sizeof(short_len));
    pg_test_add_raw_ext(x, 11, nul, sizeof(nul));
    pg_test_sign(x, k);
    assert_int_equal(ext(x, 8, buf, sizeof(buf)), -1);
    assert_int_equal(ext(x, 9, buf, sizeof(buf)), -1);
    assert_int_equal(ext(x, 10, buf, sizeof(buf)), -1);
    assert_int_equal(ext(x, 11, buf, sizeof(buf)), -1);
    X509_free(x);
    EVP_PKEY_free(k);
}

static void
github_publisher_matches_by_ref_or_digest(void **state)
{
    struct pg_sig_err err;
    X509 *x;

    (void) state;
    x = github_leaf(WITH_DIGEST | WITH_REF, "release.yml@refs/tags/v1");
    assert_int_equal(github(x, REPO, "release.yml", &err), PG_SIG_OK);
    X509_free(x);
    x = github_leaf(WITH_DIGEST, "release.yml@" SHA);
    assert_int_equal(github(x, REPO, "release.yml", &err), PG_SIG_OK);
    X509_free(x);
    x = github_leaf(0, "release.yml@refs/tags/v1");
    assert_int_equal(github(x, REPO, "release.yml", &err), PG_SIG_EIDENTITY);
    assert_non_null(strstr(err.reason, "lacks source repository digest"));
    X509_free(x);
}

static void
github_repository_compares_case_insensitively(void **state)
{
    struct pg_sig_err err;
    X509 *x = github_leaf(WITH_REF, "release.yml@refs/tags/v1");

    (void) state;
    assert_int_equal(github(x, "octo-org/REPO", "release.yml", &err),
        PG_SIG_OK);
    /* the workflow is still exact */
    assert_int_equal(github(x, REPO, "Release.yml", &err), PG_SIG_EIDENTITY);
    assert_string_equal(err.step, "identity");
    assert_int_equal(github(x, "octo-org/other", "release.yml", &err),
        PG_SIG_EIDENTITY);
    assert_non_null(strstr(err.reason, "source repository"));
    X509_free(x);
}

static void
gitlab_needs_digest_and_ref_and_double_slash(void **state)
{
    EVP_PKEY *k = pg_test_key("P-256");
    struct pg_sig_policy p;
    struct pg_sig_err err;
    X509 *x = pg_test_leaf(k, NULL), *y = pg_test_leaf(k, NULL);

    (void) state;
    pg_test_add_utf8_ext(x, 8, "https://gitlab.com");
    pg_test_add_utf8_ext(x, 12, "https://gitlab.com/ns/sub/proj");
    pg_test_add_utf8_ext(x, 13, SHA);
    pg_test_add_utf8_ext(x, 14, "refs/heads/main");
    pg_test_add_utf8_ext(x, 18, "https://gitlab.com/ns/sub/proj//ci/"
        "release.yml@refs/heads/main");
    pg_test_sign(x, k);
    pg_test_add_utf8_ext(y, 8, "https://gitlab.com");
    pg_test_add_utf8_ext(y, 12, "https://gitlab.com/ns/sub/proj");
    pg_test_add_utf8_ext(y, 14, "refs/heads/main");
    pg_test_add_utf8_ext(y, 18, "https://gitlab.com/ns/sub/proj//ci/"
        "release.yml@refs/heads/main");
    pg_test_sign(y, k);
    memset(&p, 0, sizeof(p));
    p.kind = PG_SIG_POLICY_GITLAB;
    p.repository = "ns/sub/proj";
    p.workflow = "ci/release.yml";
    assert_int_equal(identity(x, &p, &err), PG_SIG_OK);
    assert_int_equal(identity(y, &p, &err), PG_SIG_EIDENTITY);
    p.repository = "NS/sub/proj";   /* GitLab stays case-sensitive */
    assert_int_equal(identity(x, &p, &err), PG_SIG_EIDENTITY);
    X509_free(x);
    X509_free(y);
    EVP_PKEY_free(k);
}

static void
google_uses_v1_issuer_and_san_email(void **state)
{
    const char *g = "https://accounts.google.com";
    EVP_PKEY *k = pg_test_key("P-256");
    X509 *x = pg_test_leaf(k, "email:sa@proj.iam.gserviceaccount.com");
    X509 *y = pg_test_leaf(k, "email:sa@proj.iam.gserviceaccount.com");
    struct pg_sig_policy p;
    struct pg_sig_err err;

    (void) state;
    pg_test_add_raw_ext(x, 1, (const unsigned char *) g, strlen(g));
    pg_test_sign(x, k);
    pg_test_add_utf8_ext(y, 8, g);          /* only the v2 issuer */
    pg_test_sign(y, k);
    memset(&p, 0, sizeof(p));
    p.kind = PG_SIG_POLICY_GOOGLE;
    p.email = "sa@proj.iam.gserviceaccount.com";
    assert_int_equal(identity(x, &p, &err), PG_SIG_OK);
    assert_int_equal(identity(y, &p, &err), PG_SIG_EIDENTITY);
    p.email = "other@proj.iam.gserviceaccount.com";
    assert_int_equal(identity(x, &p, &err), PG_SIG_EIDENTITY);
    assert_non_null(strstr(err.reason, "no SAN equals"));
    X509_free(x);
    X509_free(y);
    EVP_PKEY_free(k);
}

static void
san_and_issuer_policy_is_exact(void **state)
{
    X509 *x = github_leaf(WITH_REF, "release.yml@refs/tags/v1");
    struct pg_sig_policy p;
    struct pg_sig_err err;

    (void) state;
    memset(&p, 0, sizeof(p));
    p.kind = PG_SIG_POLICY_SAN_ISSUER;
    p.san = "https://github.com/" REPO
        "/.github/workflows/release.yml@refs/tags/v1";
    p.issuer = GH;
    assert_int_equal(identity(x, &p, &err), PG_SIG_OK);
    p.san = "https://github.com/octo-org/repo/.github/workflows/"
        "release.yml@refs/tags/v1";
    assert_int_equal(identity(x, &p, &err), PG_SIG_EIDENTITY);
    p.san = "https://github.com/" REPO
        "/.github/workflows/release.yml@refs/tags/v1";
    p.issuer = "https://token.actions.githubusercontent.com/";
    assert_int_equal(identity(x, &p, &err), PG_SIG_EIDENTITY);
    assert_non_null(strstr(err.reason, "issuer"));
    X509_free(x);
}

static void
leaf_without_code_signing_is_rejected(void **state)
{
    EVP_PKEY *k = pg_test_key("P-256");
    X509 *x = X509_new();
    struct pg_sig_policy p;
    struct pg_sig_err err;

    (void) state;
    X509_set_version(x, 2);
    ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
    ASN1_TIME_set(X509_getm_notAfter(x), 1700000600);
    X509_set_pubkey(x, k);
    pg_test_add_ext_conf(x, NID_key_usage, "critical,digitalSignature");
    pg_test_add_ext_conf(x, NID_ext_key_usage, "serverAuth");
    pg_test_sign(x, k);
    memset(&p, 0, sizeof(p));
    assert_int_equal(identity(x, &p, &err), PG_SIG_EIDENTITY);
    assert_non_null(strstr(err.reason, "codeSigning"));
    X509_free(x);
    EVP_PKEY_free(k);
}

/* vectors/pypi/certs.json: real leaves, policy only. */
static int
real_leaf(const char *name, unsigned char **der, size_t *len)
{
    const char *shared = getenv("PG_SHARED_DIR");
    char path[1024];
    FILE *f;
    X509 *x;

    if (shared == NULL) {
        return -1;
    }
    snprintf(path, sizeof(path), "%s/vectors/pypi/%s", shared, name);
    f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    *der = pg_test_der(x, len);
    X509_free(x);
    return 0;
}

static void
real_pypi_leaves_satisfy_certs_json(void **state)
{
    struct pg_publisher pub;
    struct pg_sig_policy p;
    struct pg_sig_err err;
    unsigned char *der;
    char reason[100], buf[300];
    size_t len;

    (void) state;
    if (real_leaf("200170367.pem", &der, &len) != 0) {
        fprintf(stderr, "skip: PG_SHARED_DIR/vectors/pypi not found\n");
        exit(77);
    }
    assert_int_equal(pg_publisher_parse("google:919436158236-compute@"
        "developer.gserviceaccount.com", &pub, reason, sizeof(reason)), 0);
    pg_publisher_policy(&pub, &p);
    assert_int_equal(pg_sig_check_identity_der(der, len, &p, &err),
        PG_SIG_OK);
    assert_int_equal(pg_publisher_parse("google:someone-else@"
        "developer.gserviceaccount.com", &pub, reason, sizeof(reason)), 0);
    pg_publisher_policy(&pub, &p);
    assert_int_equal(pg_sig_check_identity_der(der, len, &p, &err),
        PG_SIG_EIDENTITY);
    OPENSSL_free(der);

    assert_int_equal(real_leaf("no-source-repository-ref-extension.pem",
        &der, &len), 0);
    assert_int_equal(pg_sig_fulcio_ext_der(der, len, 14, buf, sizeof(buf)),
        0);
    assert_int_equal(pg_publisher_parse("github:SWIFTSIM/swiftgalaxy:"
        "python-publish.yml", &pub, reason, sizeof(reason)), 0);
    pg_publisher_policy(&pub, &p);
    assert_int_equal(pg_sig_check_identity_der(der, len, &p, &err),
        PG_SIG_OK);
    assert_int_equal(pg_publisher_parse("github:SWIFTSIM/swiftgalaxy:"
        "other.yml", &pub, reason, sizeof(reason)), 0);
    pg_publisher_policy(&pub, &p);
    assert_int_equal(pg_sig_check_identity_der(der, len, &p, &err),
        PG_SIG_EIDENTITY);
    OPENSSL_free(der);
}

static void
publisher_specs_parse_format_and_match(void **state)
{
    struct pg_publisher a, b;
    char reason[100], buf[600];
    static const char *const bad[] = {
        "github:repo:wf", "github:o/r", "github:o/r:", "github:o/r:a/b.yml",
        "gitlab:", "google:", "google:nobody", "pypi:o/r:w", "github:/r:w",
        "github:o/r:w:", "github:o/r:w:e:x",
    };
    size_t i;

    (void) state;
    assert_int_equal(pg_publisher_parse("github:Octo/Repo:release.yml:prod",
        &a, reason, sizeof(reason)), 0);
    pg_publisher_format(&a, buf, sizeof(buf));
    assert_string_equal(buf, "github:Octo/Repo:release.yml:prod");
    assert_int_equal(pg_publisher_parse("github:octo/repo:release.yml", &b,
        reason, sizeof(reason)), 0);
    /* expected names an environment: seen must carry it */
    assert_int_equal(pg_publisher_match(&a, &b), 0);
    assert_int_equal(pg_publisher_match(&b, &a), 1);
    assert_int_equal(pg_publisher_parse("gitlab:ns/sub/p:ci/x.yml", &a,
        reason, sizeof(reason)), 0);
    assert_string_equal(a.workflow, "ci/x.yml");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (pg_publisher_parse(bad[i], &a, reason, sizeof(reason)) != -1) {
            fail_msg("'%s' should not parse", bad[i]);
        }
    }
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(raw_and_utf8_extensions_decode),
        cmocka_unit_test(long_form_utf8_length_decodes),
        cmocka_unit_test(malformed_utf8_extensions_are_rejected),
        cmocka_unit_test(github_publisher_matches_by_ref_or_digest),
        cmocka_unit_test(github_repository_compares_case_insensitively),
        cmocka_unit_test(gitlab_needs_digest_and_ref_and_double_slash),
        cmocka_unit_test(google_uses_v1_issuer_and_san_email),
        cmocka_unit_test(san_and_issuer_policy_is_exact),
        cmocka_unit_test(leaf_without_code_signing_is_rejected),
        cmocka_unit_test(real_pypi_leaves_satisfy_certs_json),
        cmocka_unit_test(publisher_specs_parse_format_and_match),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
