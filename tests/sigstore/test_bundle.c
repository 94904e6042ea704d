/* tests/sigstore/test_bundle.c — parsing robustness and shared roots.
 *
 * Strict base64; every truncation of a real bundle and of a real provenance
 * object is rejected without a crash or leak (ASan/LSan builds); one trust
 * root shared by several threads verifies a real provenance object in all
 * of them (the root is immutable after load).  The last three need
 * ../shared and exit 77 without it.
 */
#include "sig_test.h"

#include <pthread.h>

#include "pg_policy.h"

static void
base64_decoding_is_strict(void **state)
{
    static const struct {
        const char *in;
        int ok;
        const char *out;
    } cases[] = {
        { "aGVsbG8=", 1, "hello" },
        { "aGVs\r\nbG8=", 1, "hello" },
        { "aGVsbG8=\n", 1, "hello" },
        { "aGVsbA==", 1, "hell" },
        { "", 1, "" },
        { "aGVsbG8", 0, NULL },        /* missing padding */
        { "aGVsbG8==", 0, NULL },      /* too much padding */
        { "aGV=bG8=", 0, NULL },       /* padding inside */
        { "aGVs bG8=", 0, NULL },      /* space */
        { "aGVs-G8=", 0, NULL },       /* URL-safe alphabet */
        { "aGVsbG8=aGVs", 0, NULL },   /* data after padding */
        { "a===", 0, NULL },
    };
    unsigned char *out;
    size_t i, len;
    int rc;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rc = pg_sig_b64_decode(cases[i].in, strlen(cases[i].in), 1024,
            &out, &len);
        if (cases[i].ok) {
            if (rc != 0 || len != strlen(cases[i].out)
                || memcmp(out, cases[i].out, len) != 0)
            {
                fail_msg("case %zu '%s' should decode", i, cases[i].in);
            }
        } else if (rc != -1) {
            fail_msg("case %zu '%s' should be rejected", i, cases[i].in);
        }
        free(out);
    }
}

static void
reasons_quote_input_as_printable_ascii(void **state)
{
    const char *json = "{\"mediaType\":\"x\\u0001\\u00e9\\n\"}";
    struct pg_sig_limits l;
    struct pg_sig_bundle *b;
    struct pg_sig_err err;
    const char *c;

    (void) state;
    pg_sig_limits_default(&l);
    assert_int_equal(pg_sig_bundle_parse(json, strlen(json), &l, &b, &err),
        PG_SIG_EPARSE);
    assert_non_null(strstr(err.reason, "unknown mediaType 'x?\?\?\?'"));
    for (c = err.reason; *c != '\0'; c++) {
        assert_true(*c >= 0x20 && *c < 0x7f);
    }
}

static char *
shared_file(const char *rel, size_t *len)
{
    const char *shared = getenv("PG_SHARED_DIR");
    char path[1024];
    FILE *f;
    char *buf;

    if (shared == NULL) {
        goto skip;
    }
    snprintf(path, sizeof(path), "%s/vectors/%s", shared, rel);
    f = fopen(path, "rb");
    if (f == NULL) {
        goto skip;
    }
    buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
skip:
    fprintf(stderr, "skip: PG_SHARED_DIR/vectors/%s not found\n", rel);
    exit(77);
}

static void
every_truncated_bundle_is_rejected(void **state)
{
    struct pg_sig_limits l;
    struct pg_sig_bundle *b;
    struct pg_sig_err err;
    size_t len, n;
    char *json = shared_file("conformance/happy-path-v0.3/"
        "bundle.sigstore.json", &len);

    (void) state;
    pg_sig_limits_default(&l);
    assert_int_equal(pg_sig_bundle_parse(json, len, &l, &b, &err),
        PG_SIG_OK);
    pg_sig_bundle_free(b);
    for (n = 0; n + 1 < len; n++) {
        if (pg_sig_bundle_parse(json, n, &l, &b, &err) == PG_SIG_OK) {
            fail_msg("prefix of %zu bytes parsed", n);
        }
        assert_null(b);
        assert_string_equal(err.step, "bundle");
    }
    free(json);
}

static void
every_truncated_provenance_is_rejected(void **state)
{
    struct pg_sig_trust_root *root;
    struct pg_publisher seen;
    struct pg_sig_err err;
    unsigned char sha[32] = { 0 };
    size_t len, n;
    char *json = shared_file("pypi/pypi_attestations-0.0.19.tar.gz."
        "provenance", &len);

    (void) state;
    assert_int_equal(pg_sig_trust_root_builtin(0, &root, &err), PG_SIG_OK);
    for (n = 0; n < len; n += 7) {
        assert_int_not_equal(pg_pep740_verify_provenance(root, json, n,
            "pypi_attestations-0.0.19.tar.gz", sha, NULL, &seen, &err),
            PG_SIG_OK);
        assert_true(err.step != NULL && err.step[0] != '\0');
    }
    pg_sig_trust_root_free(root);
    free(json);
}

struct job {
    const struct pg_sig_trust_root *root;
    const char *json;
    size_t len;
    unsigned char sha[32];
    int failures;
};

static void *
on_thread(void *arg)
{
    struct job *j = arg;
    struct pg_publisher seen;
    struct pg_sig_err err;
    int i;

    for (i = 0; i < 5; i++) {
        if (pg_pep740_verify_provenance(j->root, j->json, j->len,
                "pypi_attestations-0.0.19.tar.gz", j->sha, NULL, &seen,
                &err) != PG_SIG_OK)
        {
            j->failures++;
        }
    }
    return NULL;
}

static void
shared_root_verifies_from_threads(void **state)
{
    struct pg_sig_trust_root *root;
    struct pg_sig_err err;
    struct job jobs[4];
    pthread_t th[4];
    size_t len, dlen;
    char *json = shared_file("pypi/pypi_attestations-0.0.19.tar.gz."
        "provenance", &len);
    char *dist = shared_file("pypi/pypi_attestations-0.0.19.tar.gz", &dlen);
    int i;

    (void) state;
    assert_int_equal(pg_sig_trust_root_builtin(0, &root, &err), PG_SIG_OK);
    for (i = 0; i < 4; i++) {
        jobs[i].root = root;
        jobs[i].json = json;
        jobs[i].len = len;
        jobs[i].failures = 0;
        EVP_Digest(dist, dlen, jobs[i].sha, NULL, EVP_sha256(), NULL);
        assert_int_equal(pthread_create(&th[i], NULL, on_thread, &jobs[i]),
            0);
    }
    for (i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(jobs[i].failures, 0);
    }
    pg_sig_trust_root_free(root);
    free(json);
    free(dist);
}

/* The caller's "now" bounds every verified time (V1). */
static void
signing_time_after_now_is_rejected(void **state)
{
    static const char *id = "https://github.com/sigstore-conformance/"
        "extremely-dangerous-public-oidc-beacon/.github/workflows/"
        "extremely-dangerous-oidc-beacon.yml@refs/heads/main";
    struct pg_sig_trust_root *root;
    struct pg_sig_verify_opts o;
    struct pg_sig_policy p;
    struct pg_sig_limits l;
    struct pg_sig_err err;
    unsigned char sha[32];
    size_t len, alen;
    char *json = shared_file("conformance/happy-path-v0.3/"
        "bundle.sigstore.json", &len);
    char *art = shared_file("conformance/a.txt", &alen);
    json_t *j = json_loadb(json, len, 0, NULL);
    int64_t it = 0;

    (void) state;
    assert_non_null(j);
    it = strtoll(json_string_value(json_object_get(json_array_get(
        json_object_get(json_object_get(j, "verificationMaterial"),
        "tlogEntries"), 0), "integratedTime")), NULL, 10);
    json_decref(j);
    EVP_Digest(art, alen, sha, NULL, EVP_sha256(), NULL);
    assert_int_equal(pg_sig_trust_root_builtin(0, &root, &err), PG_SIG_OK);
    pg_sig_limits_default(&l);
    memset(&p, 0, sizeof(p));
    p.kind = PG_SIG_POLICY_SAN_ISSUER;
    p.san = id;
    p.issuer = "https://token.actions.githubusercontent.com";
    memset(&o, 0, sizeof(o));
    o.root = root;
    o.limits = &l;
    o.policy = &p;
    o.artifact_sha256 = sha;
    o.now = it;
    assert_int_equal(pg_sig_verify_bundle_json(&o, json, len, &err),
        PG_SIG_OK);
    o.now = it - PG_SIG_CLOCK_SKEW - 1;
    assert_int_equal(pg_sig_verify_bundle_json(&o, json, len, &err),
        PG_SIG_ETIME);
    assert_string_equal(err.step, "time");
    assert_non_null(strstr(err.reason, "in the future"));
    pg_sig_trust_root_free(root);
    free(json);
    free(art);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_decoding_is_strict),
        cmocka_unit_test(reasons_quote_input_as_printable_ascii),
        cmocka_unit_test(every_truncated_bundle_is_rejected),
        cmocka_unit_test(every_truncated_provenance_is_rejected),
        cmocka_unit_test(shared_root_verifies_from_threads),
        cmocka_unit_test(signing_time_after_now_is_rejected),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
