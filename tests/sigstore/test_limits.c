/* tests/sigstore/test_limits.c — every cap of limits.h at the limit and +1.
 *
 * Inputs are synthetic documents built with jansson around one minted leaf
 * (V0 only looks at shape, so no real signatures are needed).  "At the
 * limit" means the cap is not what rejects the input (PG_SIG_ELIMIT is
 * not returned; most documents here then parse); "limit + 1" must return
 * PG_SIG_ELIMIT.  The checkpoint caps (bytes, signature lines) are tested
 * in test_checkpoint.c.
 */
#include "sig_test.h"

#include "pg_policy.h"
#include "sig_int.h"

static char *leaf_b64;

static int
setup(void **state)
{
    EVP_PKEY *k = pg_test_key("P-256"), *ca = pg_test_key("P-256");
    X509 *x = pg_test_leaf(k, "email:a@example.com");
    unsigned char *der;
    size_t len;

    (void) state;
    pg_test_sign(x, ca);
    der = pg_test_der(x, &len);
    leaf_b64 = pg_sig_b64_encode(der, len);
    OPENSSL_free(der);
    X509_free(x);
    EVP_PKEY_free(k);
    EVP_PKEY_free(ca);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    free(leaf_b64);
    return 0;
}

static json_t *
tlog_entry(size_t nhashes)
{
    json_t *hashes = json_array();
    size_t i;

    for (i = 0; i < nhashes; i++) {
        json_array_append_new(hashes, json_string(
            "rs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI="));
    }
    return json_pack("{s:s, s:{s:s}, s:{s:s, s:s}, s:s, s:{s:s}, "
        "s:{s:s, s:s, s:s, s:o, s:{s:s}}, s:s}",
        "logIndex", "1",
        "logId", "keyId", "wNI9atQGlz+VWfO6LRygH4QUfY/8W4RFwiT5i5WRgB0=",
        "kindVersion", "kind", "hashedrekord", "version", "0.0.1",
        "integratedTime", "1700000000",
        "inclusionPromise", "signedEntryTimestamp", "AAAA",
        "inclusionProof", "logIndex", "0", "treeSize", "1000",
        "rootHash", "rs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI=",
        "hashes", hashes, "checkpoint", "envelope", "x\n1\nAA==\n\n",
        "canonicalizedBody", "e30=");
}

/* A v0.2 bundle: ncerts leaf copies in the chain, ntlogs entries with
 * nhashes proof hashes, nts timestamps, a signature of sig_chars. */
static char *
bundle(size_t ncerts, size_t ntlogs, size_t nhashes, size_t nts,
    size_t sig_chars)
{
    json_t *certs = json_array(), *tlogs = json_array(), *ts = json_array();
    json_t *b;
    char *sig = malloc(sig_chars + 1), *out;
    size_t i;

    assert_non_null(sig);
    memset(sig, 'A', sig_chars);
    sig[sig_chars] = '\0';
    for (i = 0; i < ncerts; i++) {
        json_array_append_new(certs, json_pack("{s:s}", "rawBytes",
            leaf_b64));
    }
    for (i = 0; i < ntlogs; i++) {
        json_array_append_new(tlogs, tlog_entry(nhashes));
    }
    for (i = 0; i < nts; i++) {
        json_array_append_new(ts, json_pack("{s:s}", "signedTimestamp",
            "AAAA"));
    }
    b = json_pack("{s:s, s:{s:{s:o}, s:o, s:{s:o}}, s:{s:s}}",
        "mediaType", "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "verificationMaterial", "x509CertificateChain", "certificates",
        certs, "tlogEntries", tlogs, "timestampVerificationData",
        "rfc3161Timestamps", ts, "messageSignature", "signature", sig);
    assert_non_null(b);
    out = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    free(sig);
    return out;
}

static int
parse(const char *json, struct pg_sig_err *err)
{
    struct pg_sig_limits l;
    struct pg_sig_bundle *b = NULL;
    int rc;

    pg_sig_limits_default(&l);
    rc = pg_sig_bundle_parse(json, strlen(json), &l, &b, err);
    pg_sig_bundle_free(b);
    return rc;
}

static void
synthetic_bundle_parses(void **state)
{
    struct pg_sig_err err;
    char *j = bundle(1, 1, 3, 0, 8);

    (void) state;
    if (parse(j, &err) != PG_SIG_OK) {
        fail_msg("%s: %s", err.step, err.reason);
    }
    free(j);
}

static void
chain_certs_at_limit_and_over(void **state)
{
    struct pg_sig_err err;
    char *a = bundle(PG_SIG_MAX_CHAIN_CERTS, 1, 0, 0, 8);
    char *b = bundle(PG_SIG_MAX_CHAIN_CERTS + 1, 1, 0, 0, 8);

    (void) state;
    assert_int_equal(parse(a, &err), PG_SIG_OK);
    assert_int_equal(parse(b, &err), PG_SIG_ELIMIT);
    assert_string_equal(err.step, "bundle");
    free(a);
    free(b);
}

static void
tlog_entries_at_limit_and_over(void **state)
{
    struct pg_sig_err err;
    char *a = bundle(1, PG_SIG_MAX_TLOG_ENTRIES, 0, 0, 8);
    char *b = bundle(1, PG_SIG_MAX_TLOG_ENTRIES + 1, 0, 0, 8);

    (void) state;
    /* at the cap the count is read, then "exactly one" rejects it */
    assert_int_equal(parse(a, &err), PG_SIG_EPARSE);
    assert_non_null(strstr(err.reason, "exactly one tlog entry"));
    assert_int_equal(parse(b, &err), PG_SIG_ELIMIT);
    free(a);
    free(b);
}

static void
proof_hashes_at_limit_and_over(void **state)
{
    struct pg_sig_err err;
    char *a = bundle(1, 1, PG_SIG_MAX_PROOF_HASHES, 0, 8);
    char *b = bundle(1, 1, PG_SIG_MAX_PROOF_HASHES + 1, 0, 8);

    (void) state;
    assert_int_equal(parse(a, &err), PG_SIG_OK);
    assert_int_equal(parse(b, &err), PG_SIG_ELIMIT);
    free(a);
    free(b);
}

static void
timestamps_at_limit_and_over(void **state)
{
    struct pg_sig_err err;
    char *a = bundle(1, 1, 0, PG_SIG_MAX_TIMESTAMPS, 8);
    char *b = bundle(1, 1, 0, PG_SIG_MAX_TIMESTAMPS + 1, 8);

    (void) state;
    assert_int_equal(parse(a, &err), PG_SIG_OK);
    assert_int_equal(parse(b, &err), PG_SIG_ELIMIT);
    free(a);
    free(b);
}

static void
base64_field_at_limit_and_over(void **state)
{
    struct pg_sig_err err;
    char *a = bundle(1, 1, 0, 0, PG_SIG_MAX_B64_CHARS);
    char *b = bundle(1, 1, 0, 0, PG_SIG_MAX_B64_CHARS + 4);
    unsigned char *out;
    size_t len;

    (void) state;
    assert_int_equal(parse(a, &err), PG_SIG_OK);
    assert_int_equal(parse(b, &err), PG_SIG_ELIMIT);
    assert_int_equal(pg_sig_b64_decode("AAAA", 4, 4, &out, &len), 0);
    free(out);
    assert_int_equal(pg_sig_b64_decode("AAAAAAAA", 8, 7, &out, &len), -2);
    free(a);
    free(b);
}

static void
json_size_at_limit_and_over(void **state)
{
    struct pg_sig_limits l;
    struct pg_sig_err err;
    size_t n = PG_SIG_MAX_JSON_BYTES + 1;
    char *doc = malloc(n);
    json_t *j;

    (void) state;
    pg_sig_limits_default(&l);
    memset(doc, ' ', n);
    doc[0] = '{';
    doc[PG_SIG_MAX_JSON_BYTES - 1] = '}';
    pg_sig_err_init(&err);
    j = pg_sig_json_load(doc, PG_SIG_MAX_JSON_BYTES, &l, "bundle", &err);
    assert_non_null(j);
    json_decref(j);
    j = pg_sig_json_load(doc, PG_SIG_MAX_JSON_BYTES + 1, &l, "bundle", &err);
    assert_null(j);
    assert_int_equal(err.code, PG_SIG_ELIMIT);
    free(doc);
}

static json_t *
nested(int depth)
{
    char *doc = malloc((size_t) depth * 2 + 16), *p = doc;
    struct pg_sig_limits l;
    struct pg_sig_err err;
    json_t *j;
    int i;

    pg_sig_limits_default(&l);
    memcpy(p, "{\"a\":", 5);
    p += 5;
    for (i = 1; i < depth; i++) {
        *p++ = '[';
    }
    for (i = 1; i < depth; i++) {
        *p++ = ']';
    }
    *p++ = '}';
    pg_sig_err_init(&err);
    j = pg_sig_json_load(doc, (size_t) (p - doc), &l, "bundle", &err);
    if (j == NULL) {
        assert_int_equal(err.code, PG_SIG_ELIMIT);
    }
    free(doc);
    return j;
}

static void
json_depth_at_limit_and_over(void **state)
{
    json_t *j = nested(PG_SIG_MAX_JSON_DEPTH);

    (void) state;
    assert_non_null(j);
    json_decref(j);
    assert_null(nested(PG_SIG_MAX_JSON_DEPTH + 1));
}

static int
provenance(size_t nbundles, size_t natts, struct pg_sig_err *err)
{
    struct pg_sig_trust_root *root;
    struct pg_pep740_opts o;
    json_t *bundles = json_array(), *doc;
    unsigned char sha[32] = { 0 };
    size_t i, k;
    char *s;
    int rc;

    for (i = 0; i < nbundles; i++) {
        json_t *atts = json_array();

        for (k = 0; k < natts; k++) {
            json_array_append_new(atts, json_pack("{s:i}", "version", 1));
        }
        json_array_append_new(bundles, json_pack("{s:{s:s, s:s, s:s}, s:o}",
            "publisher", "kind", "GitHub", "repository", "o/r", "workflow",
            "w.yml", "attestations", atts));
    }
    doc = json_pack("{s:i, s:o}", "version", 1, "attestation_bundles",
        bundles);
    s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    assert_int_equal(pg_sig_trust_root_builtin(0, &root, err), PG_SIG_OK);
    memset(&o, 0, sizeof(o));
    o.root = root;
    rc = pg_pep740_verify_provenance_ex(&o, s, strlen(s), "x-1.0.tar.gz",
        sha, NULL, err);
    pg_sig_trust_root_free(root);
    free(s);
    return rc;
}

static void
attestations_at_limit_and_over(void **state)
{
    struct pg_sig_err err;

    (void) state;
    /* at the cap the first (junk) attestation is what fails */
    assert_int_equal(provenance(1, PG_SIG_MAX_ATTESTATIONS, &err),
        PG_SIG_EPARSE);
    assert_string_equal(err.step, "attestation");
    assert_int_equal(provenance(1, PG_SIG_MAX_ATTESTATIONS + 1, &err),
        PG_SIG_ELIMIT);
}

static void
provenance_bundles_at_limit_and_over(void **state)
{
    struct pg_sig_err err;

    (void) state;
    assert_int_equal(provenance(PG_SIG_MAX_PROV_BUNDLES, 1, &err),
        PG_SIG_EPARSE);
    assert_int_equal(provenance(PG_SIG_MAX_PROV_BUNDLES + 1, 1, &err),
        PG_SIG_ELIMIT);
    assert_int_equal(provenance(1, 0, &err), PG_SIG_EPARSE);
    assert_non_null(strstr(err.reason, "no attestation"));
}

static int
root_with_tlogs(size_t n, struct pg_sig_err *err)
{
    struct pg_sig_trust_root *root = NULL;
    json_t *tlogs = json_array(), *doc;
    size_t i;
    char *s;
    int rc;

    for (i = 0; i < n; i++) {
        json_array_append_new(tlogs, json_pack("{s:s}", "baseUrl", "x"));
    }
    doc = json_pack("{s:s, s:o}", "mediaType",
        "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs", tlogs);
    s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    rc = pg_sig_trust_root_load(s, strlen(s), &root, err);
    pg_sig_trust_root_free(root);
    free(s);
    return rc;
}

static void
root_entries_at_limit_and_over(void **state)
{
    struct pg_sig_err err;

    (void) state;
    assert_int_equal(root_with_tlogs(PG_SIG_MAX_ROOT_ENTRIES, &err),
        PG_SIG_EROOT);
    assert_int_equal(root_with_tlogs(PG_SIG_MAX_ROOT_ENTRIES + 1, &err),
        PG_SIG_ELIMIT);
}

int
main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(synthetic_bundle_parses),
        T(chain_certs_at_limit_and_over),
        T(tlog_entries_at_limit_and_over),
        T(proof_hashes_at_limit_and_over),
        T(timestamps_at_limit_and_over),
        T(base64_field_at_limit_and_over),
        T(json_size_at_limit_and_over),
        T(json_depth_at_limit_and_over),
        T(attestations_at_limit_and_over),
        T(provenance_bundles_at_limit_and_over),
        T(root_entries_at_limit_and_over),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
