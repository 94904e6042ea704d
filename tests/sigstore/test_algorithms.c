/* tests/sigstore/test_algorithms.c — every signing algorithm of the Sigstore
 * algorithm registry, end to end (V7, V8).
 *
 * pg-mint (tests/tools) mints, under a private trust root made for the
 * test, Sigstore bundles whose Fulcio-style leaf holds each key the
 * registry lists — ECDSA P-256/384/521, Ed25519, RSA 2048/3072/4096 with
 * PKCS#1 v1.5 and PSS — as DSSE envelopes (Rekor v1 dsse 0.0.1) and as
 * message signatures (hashedrekord 0.0.1, messageDigest in the key's
 * digest); each must verify.  Then the pairs the registry does not list:
 * a digest that is not the key's (named, in messageDigest or as the
 * signing digest), keys outside the registry (RSA-1024, secp256k1), and
 * the cases the bundle format cannot carry; each is rejected at its step
 * with the reason.  Needs PG_MINT (the pg-mint binary) and PG_TEST_WORK (a
 * scratch directory) from ctest.
 */
#include "sig_test.h"

#include <spawn.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <openssl/rand.h>

extern char **environ;

#define PUBLISHER "github:acme/demo-pkg:release.yml"
#define SAN "https://github.com/acme/demo-pkg/.github/workflows/release.yml" \
    "@refs/heads/main"
#define ISSUER "https://token.actions.githubusercontent.com"

/* One scratch root per test process: DIR/root, DIR/demo_pkg-1.0.tar.gz. */
struct fixture {
    char dir[512];
    char root[600];
    char dist[600];
    char out[600];
    unsigned char sha256[32], sha384[48], sha512[64];
    struct pg_sig_trust_root *trust;
};

static struct fixture fx;

static int
run(char *const argv[])
{
    pid_t pid;
    int status;

    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0
        || waitpid(pid, &status, 0) != pid)
    {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static const char *
mint_path(void)
{
    const char *m = getenv("PG_MINT");

    if (m == NULL || access(m, X_OK) != 0) {
        fail_msg("PG_MINT does not name the pg-mint binary");
    }
    return m;
}

static int
setup(void **state)
{
    const char *work = getenv("PG_TEST_WORK");
    unsigned char data[5000];
    struct pg_sig_err err;
    char trust[700];
    FILE *f;

    (void) state;
    memset(&fx, 0, sizeof(fx));
    if (work == NULL) {
        fprintf(stderr, "PG_TEST_WORK is not set\n");
        return -1;
    }
    mkdir(work, 0755);
    snprintf(fx.dir, sizeof(fx.dir), "%s/alg-XXXXXX", work);
    if (mkdtemp(fx.dir) == NULL) {
        return -1;
    }
    snprintf(fx.root, sizeof(fx.root), "%s/root", fx.dir);
    snprintf(fx.dist, sizeof(fx.dist), "%s/demo_pkg-1.0.tar.gz", fx.dir);
    snprintf(fx.out, sizeof(fx.out), "%s/bundle.json", fx.dir);
    {
        char *argv[] = { (char *) mint_path(), "init", fx.root, NULL };

        if (run(argv) != 0) {
            return -1;
        }
    }
    if (RAND_bytes(data, sizeof(data)) != 1) {
        return -1;
    }
    f = fopen(fx.dist, "wb");
    if (f == NULL || fwrite(data, 1, sizeof(data), f) != sizeof(data)) {
        return -1;
    }
    fclose(f);
    EVP_Digest(data, sizeof(data), fx.sha256, NULL, EVP_sha256(), NULL);
    EVP_Digest(data, sizeof(data), fx.sha384, NULL, EVP_sha384(), NULL);
    EVP_Digest(data, sizeof(data), fx.sha512, NULL, EVP_sha512(), NULL);
    snprintf(trust, sizeof(trust), "%s/trusted_root.json", fx.root);
    return pg_sig_trust_root_load_file(trust, &fx.trust, &err) == PG_SIG_OK
        ? 0 : -1;
}

static int
teardown(void **state)
{
    char *argv[] = { "/bin/rm", "-rf", fx.dir, NULL };

    (void) state;
    pg_sig_trust_root_free(fx.trust);
    return run(argv) == 0 ? 0 : -1;
}

/* One minted bundle and what verifying it must give. */
struct alg_case {
    const char *name;
    const char *args;       /* pg-mint bundle options, space-separated */
    int sha256_only;        /* the caller knows only the SHA-256 */
    int code;
    const char *step;       /* NULL when code is PG_SIG_OK */
    const char *reason;
};

/* Mints c->args into fx.out and verifies it; fails the test on a result
 * other than the case's. */
static void
check_case(const struct alg_case *c)
{
    char *argv[32], args[256], *p, *json;
    struct pg_sig_verify_opts o;
    struct pg_sig_policy pol;
    struct pg_sig_limits lim;
    struct pg_sig_err err;
    size_t n = 0;
    long len;
    FILE *f;
    int rc;

    argv[n++] = (char *) mint_path();
    argv[n++] = "bundle";
    argv[n++] = "--root";
    argv[n++] = fx.root;
    argv[n++] = "--file";
    argv[n++] = fx.dist;
    argv[n++] = "--publisher";
    argv[n++] = PUBLISHER;
    argv[n++] = "-o";
    argv[n++] = fx.out;
    snprintf(args, sizeof(args), "%s", c->args);
    for (p = args; *p != '\0' && n < 31; ) {
        argv[n++] = p;
        p += strcspn(p, " ");
        if (*p == ' ') {
            *p++ = '\0';
        }
    }
    argv[n] = NULL;
    if (run(argv) != 0) {
        fail_msg("%s: pg-mint %s failed", c->name, c->args);
    }
    f = fopen(fx.out, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    rewind(f);
    json = malloc((size_t) len);
    assert_non_null(json);
    assert_int_equal(fread(json, 1, (size_t) len, f), (size_t) len);
    fclose(f);

    pg_sig_limits_default(&lim);
    memset(&pol, 0, sizeof(pol));
    pol.kind = PG_SIG_POLICY_SAN_ISSUER;
    pol.san = SAN;
    pol.issuer = ISSUER;
    memset(&o, 0, sizeof(o));
    o.root = fx.trust;
    o.limits = &lim;
    o.policy = &pol;
    o.artifact_sha256 = fx.sha256;
    o.artifact_sha384 = c->sha256_only ? NULL : fx.sha384;
    o.artifact_sha512 = c->sha256_only ? NULL : fx.sha512;
    o.now = (int64_t) time(NULL);
    rc = pg_sig_verify_bundle_json(&o, json, (size_t) len, &err);
    free(json);
    if (rc != c->code
        || (c->step != NULL && strcmp(err.step, c->step) != 0)
        || (c->reason != NULL && strstr(err.reason, c->reason) == NULL))
    {
        fail_msg("%s (pg-mint bundle %s): got %d %s: %s; want %d %s: %s",
            c->name, c->args, rc, err.step, err.reason, c->code,
            c->step != NULL ? c->step : "-",
            c->reason != NULL ? c->reason : "-");
    }
}

static void
check_cases(const struct alg_case *cases, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        check_case(&cases[i]);
    }
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void
every_registry_algorithm_verifies_in_dsse_and_message_bundles(void **state)
{
    static const struct alg_case cases[] = {
        { "P-256/SHA-256 DSSE", "--leaf-key p256", 0, PG_SIG_OK, 0, 0 },
        { "P-256/SHA-256 message", "--leaf-key p256 --message", 0,
            PG_SIG_OK, 0, 0 },
        { "P-384/SHA-384 DSSE", "--leaf-key p384", 0, PG_SIG_OK, 0, 0 },
        { "P-384/SHA-384 message (messageDigest SHA2_384)",
            "--leaf-key p384 --message", 0, PG_SIG_OK, 0, 0 },
        { "P-521/SHA-512 DSSE", "--leaf-key p521", 0, PG_SIG_OK, 0, 0 },
        { "P-521/SHA-512 message", "--leaf-key p521 --message", 0,
            PG_SIG_OK, 0, 0 },
        { "Ed25519 DSSE", "--leaf-key ed25519", 0, PG_SIG_OK, 0, 0 },
        { "RSA-2048 PKCS#1 v1.5 DSSE", "--leaf-key rsa2048", 0, PG_SIG_OK,
            0, 0 },
        { "RSA-2048 PKCS#1 v1.5 message", "--leaf-key rsa2048 --message", 0,
            PG_SIG_OK, 0, 0 },
        { "RSA-2048 PSS DSSE", "--leaf-key rsa2048 --rsa-pss", 0,
            PG_SIG_OK, 0, 0 },
        { "RSA-2048 PSS message", "--leaf-key rsa2048 --rsa-pss --message",
            0, PG_SIG_OK, 0, 0 },
        { "RSA-3072 PKCS#1 v1.5 message", "--leaf-key rsa3072 --message", 0,
            PG_SIG_OK, 0, 0 },
        { "RSA-3072 PSS DSSE", "--leaf-key rsa3072 --rsa-pss", 0,
            PG_SIG_OK, 0, 0 },
        { "RSA-4096 PKCS#1 v1.5 DSSE", "--leaf-key rsa4096", 0, PG_SIG_OK,
            0, 0 },
        { "RSA-4096 PSS message", "--leaf-key rsa4096 --rsa-pss --message",
            0, PG_SIG_OK, 0, 0 },
    };

    (void) state;
    check_cases(cases, N(cases));
}

static void
digest_not_paired_with_the_key_is_rejected_with_the_reason(void **state)
{
    static const struct alg_case cases[] = {
        { "P-384 key, messageDigest SHA2_256",
            "--leaf-key p384 --message --digest-label SHA2_256", 0,
            PG_SIG_ESIG, "signature", "messageDigest is SHA2_256 but an "
            "ECDSA P-384 key signs SHA2_384" },
        { "P-384 key signing SHA-256 throughout (retired pairing)",
            "--leaf-key p384 --message --sign-digest sha256", 0,
            PG_SIG_ESIG, "signature", "messageDigest is SHA2_256 but an "
            "ECDSA P-384 key signs SHA2_384" },
        { "P-256 key, SHA-384",
            "--leaf-key p256 --message --sign-digest sha384", 0,
            PG_SIG_ESIG, "signature", "messageDigest is SHA2_384 but an "
            "ECDSA P-256 key signs SHA2_256" },
        { "P-521 key, SHA-384",
            "--leaf-key p521 --message --sign-digest sha384", 0,
            PG_SIG_ESIG, "signature", "messageDigest is SHA2_384 but an "
            "ECDSA P-521 key signs SHA2_512" },
        { "RSA-2048 key, SHA-512",
            "--leaf-key rsa2048 --message --sign-digest sha512", 0,
            PG_SIG_ESIG, "signature", "messageDigest is SHA2_512 but an "
            "RSA-2048 PKCS#1 v1.5 key signs SHA2_256" },
        { "P-256 key, messageDigest SHA1",
            "--leaf-key p256 --message --digest-label SHA1", 0,
            PG_SIG_EPARSE, "bundle", "messageDigest algorithm SHA1 is not "
            "SHA2_256, SHA2_384 or SHA2_512" },
        { "P-384 DSSE signed over SHA-256",
            "--leaf-key p384 --sign-digest sha256", 0, PG_SIG_ESIG,
            "signature", "DSSE signature is ECDSA P-384 over SHA2_256; the "
            "algorithm registry pairs ECDSA P-384 with SHA2_384 only" },
        { "P-521 DSSE signed over SHA-256",
            "--leaf-key p521 --sign-digest sha256", 0, PG_SIG_ESIG,
            "signature", "DSSE signature is ECDSA P-521 over SHA2_256" },
        { "P-256 DSSE signed over SHA-384",
            "--leaf-key p256 --sign-digest sha384", 0, PG_SIG_ESIG,
            "signature", "DSSE signature does not verify" },
        { "RSA-2048 PSS DSSE over SHA-384",
            "--leaf-key rsa2048 --rsa-pss --sign-digest sha384", 0,
            PG_SIG_ESIG, "signature", "DSSE signature does not verify" },
        { "P-384 message, caller knows only the SHA-256",
            "--leaf-key p384 --message", 1, PG_SIG_ESIG, "signature",
            "needs the artifact's SHA2_384, not only its SHA2_256" },
        { "RSA PSS message, tampered signature",
            "--leaf-key rsa2048 --rsa-pss --message --tamper-signature", 0,
            PG_SIG_ESIG, "signature", "message signature does not verify "
            "over the artifact" },
        { "Ed25519 message signature",
            "--leaf-key ed25519 --message", 0, PG_SIG_ESIG, "signature",
            "Ed25519 message signatures are not supported" },
    };

    (void) state;
    check_cases(cases, N(cases));
}

static void
keys_outside_the_registry_are_rejected(void **state)
{
    static const struct alg_case cases[] = {
        { "RSA-1024 DSSE", "--leaf-key rsa1024", 0, PG_SIG_ESIG,
            "signature", "signing key (RSA 1024 bits) is not in the "
            "Sigstore algorithm registry" },
        { "RSA-1024 message", "--leaf-key rsa1024 --message", 0,
            PG_SIG_ESIG, "signature", "signing key (RSA 1024 bits) is not "
            "in the Sigstore algorithm registry" },
        { "secp256k1 DSSE", "--leaf-key secp256k1", 0, PG_SIG_ESIG,
            "signature", "signing key (EC secp256k1) is not in the "
            "Sigstore algorithm registry" },
        { "secp256k1 message", "--leaf-key secp256k1 --message", 0,
            PG_SIG_ESIG, "signature", "signing key (EC secp256k1) is not "
            "in the Sigstore algorithm registry" },
    };

    (void) state;
    check_cases(cases, N(cases));
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            every_registry_algorithm_verifies_in_dsse_and_message_bundles,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            digest_not_paired_with_the_key_is_rejected_with_the_reason,
            setup, teardown),
        cmocka_unit_test_setup_teardown(
            keys_outside_the_registry_are_rejected, setup, teardown),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
