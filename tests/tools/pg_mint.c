/* tests/tools/pg_mint.c — test-only private Sigstore: trust root + minting.
 *
 * pg-mint plays Fulcio, a CT log and Rekor v1 for tests, under a private
 * trust root that it writes as a real trusted_root.json.  It mints PEP 740
 * attestation and provenance objects for any file and any publisher in the
 * exact format PyPI serves, plus deliberately broken variants for the
 * negative tests real data cannot give.  Its output is checked against the
 * official sigstore-js verifier (tests/tools/sjs_crosscheck.sh).
 *
 * Usage
 *   pg-mint init DIR
 *       Creates DIR (must not exist or be empty) holding: a Fulcio-like CA
 *       (P-384 root + P-384 intermediate, pathlen 0, EKU codeSigning), a CT
 *       log key (P-256), a Rekor-like log key (P-256), the log state
 *       (rekor.leaves: one 32-byte leaf hash per entry, prefilled with a few
 *       foreign entries; rekor.conf: origin and global index offset) and
 *       DIR/trusted_root.json (same shape as the production root).
 *
 *   pg-mint provenance  --root DIR (--file DIST [--name FILENAME] |
 *                        --sha256 HEX --name FILENAME)
 *                       --publisher SPEC [options] [-o OUT]
 *   pg-mint attestation (same arguments)
 *   pg-mint bundle      (same arguments)
 *       Mints one attestation (publish v1 predicate) for the file: a
 *       10-minute Fulcio-style leaf (P-256, SAN, Fulcio extensions
 *       1.3.6.1.4.1.57264.1.*, embedded SCT from a real precertificate
 *       flow), a DSSE signature over the in-toto statement, and a Rekor v1
 *       dsse 0.0.1 entry appended to the log (SET, inclusion proof, signed
 *       checkpoint with key hint).  "provenance" wraps it in the Integrity
 *       API object {"version":1,"attestation_bundles":[{publisher,…}]};
 *       "bundle" writes it as a Sigstore bundle v0.3 (dsseEnvelope), the
 *       attestation → bundle conversion of pypi-attestations.
 *       Output goes to OUT (default stdout).  Exit 0, or 1 with a message.
 *
 *   SPEC: github:OWNER/REPO:WORKFLOW[:ENV]   (e.g. github:o/r:release.yml)
 *         gitlab:NAMESPACE/PROJECT:WORKFLOW_PATH[:ENV]
 *         google:EMAIL
 *
 *   Options
 *     --time UNIX            signing time (default: now); leaf notBefore
 *     --leaf-key ALG         leaf key and signing algorithm (Sigstore
 *                            algorithm registry): p256 (default), p384,
 *                            p521 (ECDSA with SHA-256/384/512), ed25519,
 *                            rsa2048, rsa3072, rsa4096 (SHA-256, PKCS#1
 *                            v1.5); not in the registry: rsa1024,
 *                            secp256k1
 *     --rsa-pss              RSA keys sign with PSS (MGF1-SHA-256, largest
 *                            salt, as Go's signers do)
 *     --message              bundle only: a messageSignature over the file
 *                            (needs --file) with a Rekor v1 hashedrekord
 *                            0.0.1 entry, messageDigest in the signing
 *                            digest, instead of the DSSE attestation
 *     --sign-digest MD       sign with sha256|sha384|sha512 instead of the
 *                            key's registry digest (with the log entry and
 *                            messageDigest consistent: only the pairing of
 *                            key and digest is wrong)
 *     --digest-label NAME    --message: messageDigest.algorithm written
 *                            (e.g. SHA2_256, SHA1); the digest bytes are
 *                            the file's in that hash when it is a SHA-2
 *     --ref REF              git ref in the certificate (refs/heads/main)
 *     --cert-publisher SPEC  identity put in the certificate when it must
 *                            differ from the provenance's publisher
 *     --predicate-type URI   statement predicateType (publish v1)
 *     --slsa                 provenance: add a 2nd attestation (SLSA v1
 *                            predicate); negative options apply to it only
 *   Negative variants (each breaks exactly one thing; where the log is
 *   involved the log entry is consistent with the broken object so that
 *   only the intended check fails):
 *     --expired              integrated time 10 min after leaf notAfter
 *     --not-yet-valid        integrated time before leaf notBefore
 *     --subject-name NAME    statement subject name (wrong subject)
 *     --wrong-digest         statement sha256 differs from the file's
 *     --two-subjects         statement with two subjects
 *     --no-sct               leaf without the SCT list extension
 *     --tamper-sct           SCT signature does not verify
 *     --unknown-ctlog        SCT from a CT log not in the root
 *     --untrusted-ca         leaf issued by a CA not in the root
 *     --no-codesign          leaf without the codeSigning EKU
 *     --leaf-p384            leaf key P-384 (PEP 740 v1 requires P-256;
 *                            same as --leaf-key p384)
 *     --tamper-signature     DSSE signature does not verify (logged as is)
 *     --body-mismatch        log body payloadHash is not the statement's
 *     --tamper-set           SET does not verify
 *     --no-promise           entry without inclusionPromise (SET)
 *     --tamper-proof         one inclusion-proof hash corrupted
 *     --tamper-checkpoint    checkpoint signature does not verify
 *     --bad-keyhint          checkpoint signed with a wrong key hint
 *     --unknown-log          entry from a Rekor log not in the root
 *
 *   pg-mint combine PROVENANCE... [-o OUT]
 *       One provenance object holding the attestation bundles of all the
 *       given ones, in order (several publishers in one object).
 *
 * Example
 *   pg-mint init /tmp/r
 *   pg-mint provenance --root /tmp/r --file dist/foo-1.0.tar.gz \
 *       --publisher github:acme/foo:release.yml -o foo-1.0.tar.gz.provenance
 *   provgate verify --trusted-root /tmp/r/trusted_root.json \
 *       --provenance foo-1.0.tar.gz.provenance dist/foo-1.0.tar.gz
 *
 * Concurrency: several pg-mint processes may mint under one root at once;
 * the log is appended under flock(2).  A test tool: it is built by CMake,
 * never installed, and exits on the first error (the message is the edge).
 *
 * Owns: everything it allocates (freed before a successful exit).
 * Runs on: a test process.  Spec: sigstore-verification §1–§5 (formats),
 * RFC 6962 (SCT, Merkle tree), C2SP signed-note (checkpoint).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ct.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define MINT_FILL_ENTRIES 6           /* foreign entries in a new log */
#define MINT_INDEX_OFFSET 150000000LL /* global logIndex of tree index 0 */
#define MINT_LEAF_LIFETIME 600        /* seconds, like Fulcio */
#define MINT_MAX_TREE 4000000         /* entries; the log file is read whole */
#define MINT_MAX_PROOF 64
#define MINT_LOG_HOST "rekor.pg-mint.test"
#define MINT_CT_URL "https://ctfe.pg-mint.test/2026"
#define MINT_FULCIO_URL "https://fulcio.pg-mint.test"
#define MINT_ROOT_START "2020-01-01T00:00:00Z"
#define MINT_ROOT_NOT_BEFORE 1577836800L   /* 2020-01-01 */
#define MINT_ROOT_NOT_AFTER 2366841600L    /* 2045-01-01 */

#define PT_INTOTO "application/vnd.in-toto+json"
#define PRED_PUBLISH "https://docs.pypi.org/attestations/publish/v1"
#define PRED_SLSA "https://slsa.dev/provenance/v1"
#define FULCIO_ARC "1.3.6.1.4.1.57264.1."

enum pub_kind { PUB_GITHUB = 1, PUB_GITLAB, PUB_GOOGLE };

enum mint_output { OUT_ATTESTATION, OUT_PROVENANCE, OUT_BUNDLE };

struct publisher {
    enum pub_kind kind;
    char repository[256];
    char workflow[256];
    char environment[128];
    char email[256];
};

/* Negative variants; each flag breaks one thing. */
struct breakage {
    int expired, not_yet_valid, wrong_digest, two_subjects, no_sct;
    int tamper_sct, unknown_ctlog, untrusted_ca, no_codesign, leaf_p384;
    int tamper_signature, body_mismatch, tamper_set, no_promise;
    const char *leaf_alg;       /* --leaf-key; NULL: p256 */
    const char *sign_digest;    /* --sign-digest; NULL: the key's */
    const char *digest_label;   /* --digest-label (--message) */
    int rsa_pss, message;
    int tamper_proof, tamper_checkpoint, bad_keyhint, unknown_log;
    const char *subject_name;
};

struct mint_args {
    const char *root_dir;
    const char *file;
    const char *name;
    const char *sha256_hex;
    const char *out;
    const char *ref;
    const char *predicate_type;
    struct publisher pub;       /* the provenance's publisher */
    struct publisher cert_pub;  /* the identity in the certificate */
    int has_cert_pub;
    int slsa;
    long long now;
    struct breakage brk;
};

/* The private root's keys and certificates, loaded from DIR. */
struct root_keys {
    X509 *root_cert;
    X509 *int_cert;
    EVP_PKEY *int_key;
    EVP_PKEY *ct_key;
    EVP_PKEY *rekor_key;
    char origin[128];
    long long index_offset;
};

static void fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
fail(const char *fmt, ...)
{
    va_list ap;

    fputs("pg-mint: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
    fputs("usage: pg-mint init DIR\n"
          "       pg-mint provenance|attestation|bundle --root DIR"
          " (--file DIST [--name FILENAME] | --sha256 HEX --name FILENAME)\n"
          "               --publisher SPEC [--cert-publisher SPEC]"
          " [--time UNIX] [--ref REF]\n"
          "               [--predicate-type URI] [--slsa]"
          " [negative options] [-o OUT]\n"
          "               [--leaf-key ALG] [--rsa-pss] [--message]"
          " [--sign-digest MD] [--digest-label NAME]\n"
          "       pg-mint combine PROVENANCE... [-o OUT]\n"
          "(see the comment at the top of tests/tools/pg_mint.c)\n",
          stderr);
    exit(2);
}

/* ---------------------------------------------------------------- utils */

static char *
b64(const unsigned char *data, size_t len)
{
    size_t cap = 4 * ((len + 2) / 3) + 1;
    char *out = malloc(cap);

    if (out == NULL)
        fail("out of memory");
    EVP_EncodeBlock((unsigned char *) out, data, (int) len);
    return out;
}

static void
hex(const unsigned char *data, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
}

static void
sha256(const void *data, size_t len, unsigned char out[32])
{
    if (EVP_Digest(data, len, out, NULL, EVP_sha256(), NULL) != 1)
        fail("sha256 failed");
}

static void
path_join(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);

    if (n < 0 || (size_t) n >= len)
        fail("path too long: %s/%s", dir, name);
}

static void
write_file(const char *path, const void *data, size_t len, int mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    const unsigned char *p = data;

    if (fd < 0)
        fail("%s: %s", path, strerror(errno));
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail("%s: %s", path, strerror(errno));
        }
        p += n;
        len -= (size_t) n;
    }
    if (close(fd) != 0)
        fail("%s: %s", path, strerror(errno));
}

static void
file_digest(const char *path, const EVP_MD *md, unsigned char *out)
{
    unsigned char buf[65536];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL)
        fail("%s: %s", path, strerror(errno));
    if (ctx == NULL || EVP_DigestInit_ex(ctx, md, NULL) != 1)
        fail("digest init failed");
    for (;;) {
        n = fread(buf, 1, sizeof buf, f);
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, buf, n);
    }
    if (ferror(f))
        fail("%s: read error", path);
    fclose(f);
    EVP_DigestFinal_ex(ctx, out, NULL);
    EVP_MD_CTX_free(ctx);
}

static void
file_sha256(const char *path, unsigned char out[32])
{
    file_digest(path, EVP_sha256(), out);
}

static EVP_PKEY *
gen_ec(const char *curve)
{
    EVP_PKEY *k = EVP_EC_gen(curve);

    if (k == NULL)
        fail("EC key generation (%s) failed", curve);
    return k;
}

/* DER ECDSA over data with the given digest. */
static unsigned char *
ec_sign(EVP_PKEY *key, const EVP_MD *md, const void *data, size_t len,
    size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char *sig;

    if (ctx == NULL || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1
        || EVP_DigestSign(ctx, NULL, siglen, data, len) != 1)
        fail("signature setup failed");
    sig = malloc(*siglen);
    if (sig == NULL)
        fail("out of memory");
    if (EVP_DigestSign(ctx, sig, siglen, data, len) != 1)
        fail("signing failed");
    EVP_MD_CTX_free(ctx);
    return sig;
}

/* The leaf key of --leaf-key ALG. */
static EVP_PKEY *
gen_leaf_key(const char *alg)
{
    static const struct {
        const char *name, *curve;
        size_t rsa_bits;
    } keys[] = {
        { "p256", "P-256", 0 }, { "p384", "P-384", 0 },
        { "p521", "P-521", 0 }, { "secp256k1", "secp256k1", 0 },
        { "ed25519", NULL, 0 }, { "rsa1024", NULL, 1024 },
        { "rsa2048", NULL, 2048 }, { "rsa3072", NULL, 3072 },
        { "rsa4096", NULL, 4096 },
    };
    EVP_PKEY *k = NULL;
    size_t i;

    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(alg, keys[i].name) != 0)
            continue;
        if (keys[i].curve != NULL)
            return gen_ec(keys[i].curve);
        if (keys[i].rsa_bits != 0)
            k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", keys[i].rsa_bits);
        else
            k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        if (k == NULL)
            fail("key generation (%s) failed", alg);
        return k;
    }
    fail("--leaf-key %s: want p256, p384, p521, ed25519, rsa2048, rsa3072,"
        " rsa4096, rsa1024 or secp256k1", alg);
}

/* The digest the registry pairs with the key (NULL: pure Ed25519), or
 * --sign-digest. */
static const EVP_MD *
leaf_md(EVP_PKEY *key, const struct breakage *b)
{
    int bits = EVP_PKEY_get_bits(key);

    if (b->sign_digest != NULL) {
        const EVP_MD *md = EVP_get_digestbyname(b->sign_digest);

        if (md == NULL)
            fail("--sign-digest %s: unknown digest", b->sign_digest);
        return md;
    }
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519)
        return NULL;
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && bits > 384)
        return EVP_sha512();
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC && bits > 256)
        return EVP_sha384();
    return EVP_sha256();
}

static void
set_pss(EVP_PKEY_CTX *pctx, const struct breakage *b)
{
    if (b->rsa_pss
        && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                RSA_PSS_SALTLEN_MAX) != 1))
        fail("--rsa-pss needs an RSA leaf key");
}

/* The leaf's signature over data (DSSE PAE, or the artifact itself for a
 * pure Ed25519 message signature). */
static unsigned char *
leaf_sign(EVP_PKEY *key, const struct breakage *b, const void *data,
    size_t len, size_t *siglen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pctx = NULL;
    unsigned char *sig;

    if (ctx == NULL || EVP_DigestSignInit(ctx, &pctx, leaf_md(key, b), NULL,
            key) != 1)
        fail("signature setup failed");
    set_pss(pctx, b);
    if (EVP_DigestSign(ctx, NULL, siglen, data, len) != 1)
        fail("signature setup failed");
    sig = malloc(*siglen);
    if (sig == NULL)
        fail("out of memory");
    if (EVP_DigestSign(ctx, sig, siglen, data, len) != 1)
        fail("signing failed");
    EVP_MD_CTX_free(ctx);
    return sig;
}

/* The leaf's signature over a digest computed with leaf_md (a
 * messageSignature signs the artifact's digest). */
static unsigned char *
leaf_sign_digest(EVP_PKEY *key, const struct breakage *b,
    const unsigned char *dgst, size_t dlen, size_t *siglen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
    unsigned char *sig;

    if (ctx == NULL || EVP_PKEY_sign_init(ctx) != 1
        || EVP_PKEY_CTX_set_signature_md(ctx, leaf_md(key, b)) != 1)
        fail("signature setup failed");
    set_pss(ctx, b);
    if (EVP_PKEY_sign(ctx, NULL, siglen, dgst, dlen) != 1)
        fail("signature setup failed");
    sig = malloc(*siglen);
    if (sig == NULL)
        fail("out of memory");
    if (EVP_PKEY_sign(ctx, sig, siglen, dgst, dlen) != 1)
        fail("signing failed");
    EVP_PKEY_CTX_free(ctx);
    return sig;
}

static unsigned char *
spki_der(EVP_PKEY *key, int *len)
{
    unsigned char *der = NULL;

    *len = i2d_PUBKEY(key, &der);
    if (*len <= 0)
        fail("cannot encode public key");
    return der;
}

/* RFC 6962 log ID: sha256 of the DER SubjectPublicKeyInfo. */
static void
key_id(EVP_PKEY *key, unsigned char out[32])
{
    int len;
    unsigned char *der = spki_der(key, &len);

    sha256(der, (size_t) len, out);
    OPENSSL_free(der);
}

static void
save_key(const char *dir, const char *name, EVP_PKEY *key)
{
    char path[4096];
    FILE *f;

    path_join(path, sizeof path, dir, name);
    f = fopen(path, "w");
    if (f == NULL)
        fail("%s: %s", path, strerror(errno));
    if (PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1)
        fail("%s: cannot write key", path);
    fclose(f);
    chmod(path, 0600);
}

static EVP_PKEY *
load_key(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;
    EVP_PKEY *key;

    path_join(path, sizeof path, dir, name);
    f = fopen(path, "r");
    if (f == NULL)
        fail("%s: %s (not a pg-mint root?)", path, strerror(errno));
    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (key == NULL)
        fail("%s: cannot read key", path);
    return key;
}

static void
save_cert(const char *dir, const char *name, X509 *cert)
{
    char path[4096];
    FILE *f;

    path_join(path, sizeof path, dir, name);
    f = fopen(path, "w");
    if (f == NULL)
        fail("%s: %s", path, strerror(errno));
    if (PEM_write_X509(f, cert) != 1)
        fail("%s: cannot write certificate", path);
    fclose(f);
}

static X509 *
load_cert(const char *dir, const char *name)
{
    char path[4096];
    FILE *f;
    X509 *cert;

    path_join(path, sizeof path, dir, name);
    f = fopen(path, "r");
    if (f == NULL)
        fail("%s: %s (not a pg-mint root?)", path, strerror(errno));
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (cert == NULL)
        fail("%s: cannot read certificate", path);
    return cert;
}

static char *
cert_b64(X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    char *out;

    if (len <= 0)
        fail("cannot encode certificate");
    out = b64(der, (size_t) len);
    OPENSSL_free(der);
    return out;
}

static char *
cert_pem(X509 *cert)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data;
    long len;
    char *out;

    if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1)
        fail("cannot encode certificate as PEM");
    len = BIO_get_mem_data(bio, &data);
    out = malloc((size_t) len + 1);
    if (out == NULL)
        fail("out of memory");
    memcpy(out, data, (size_t) len);
    out[len] = '\0';
    BIO_free(bio);
    return out;
}

static void
random_serial(X509 *cert)
{
    unsigned char raw[20];
    BIGNUM *bn;

    if (RAND_bytes(raw, sizeof raw) != 1)
        fail("RAND_bytes failed");
    raw[0] &= 0x7f;
    raw[0] |= 0x01;
    bn = BN_bin2bn(raw, sizeof raw, NULL);
    if (bn == NULL || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert))
        == NULL)
        fail("cannot set serial");
    BN_free(bn);
}

static void
set_validity(X509 *cert, long long not_before, long long not_after)
{
    if (ASN1_TIME_set(X509_getm_notBefore(cert), (time_t) not_before) == NULL
        || ASN1_TIME_set(X509_getm_notAfter(cert), (time_t) not_after)
        == NULL)
        fail("cannot set validity");
}

/* A standard extension from its OpenSSL config string. */
static void
add_conf_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL || X509_add_ext(cert, ext, -1) != 1)
        fail("cannot add extension %s = %s", OBJ_nid2sn(nid), value);
    X509_EXTENSION_free(ext);
}

static void
set_name(X509_NAME *name, const char *org, const char *cn)
{
    if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
            (const unsigned char *) org, -1, -1, 0) != 1
        || X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
            (const unsigned char *) cn, -1, -1, 0) != 1)
        fail("cannot build name");
}

/* A Fulcio-like CA certificate: self-signed root when issuer is NULL. */
static X509 *
make_ca(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key,
    int pathlen0)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();

    if (cert == NULL || name == NULL)
        fail("out of memory");
    X509_set_version(cert, 2);
    random_serial(cert);
    set_name(name, "pg-mint.test", cn);
    X509_set_subject_name(cert, name);
    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer)
                                              : name);
    X509_NAME_free(name);
    set_validity(cert, MINT_ROOT_NOT_BEFORE, MINT_ROOT_NOT_AFTER);
    X509_set_pubkey(cert, key);
    add_conf_ext(cert, issuer != NULL ? issuer : cert, NID_key_usage,
        "critical,keyCertSign,cRLSign");
    if (issuer != NULL)
        add_conf_ext(cert, issuer, NID_ext_key_usage, "codeSigning");
    add_conf_ext(cert, issuer != NULL ? issuer : cert, NID_basic_constraints,
        pathlen0 ? "critical,CA:TRUE,pathlen:0" : "critical,CA:TRUE");
    add_conf_ext(cert, issuer != NULL ? issuer : cert,
        NID_subject_key_identifier, "hash");
    add_conf_ext(cert, issuer != NULL ? issuer : cert,
        NID_authority_key_identifier, "keyid:always");
    if (X509_sign(cert, issuer_key != NULL ? issuer_key : key, EVP_sha384())
        <= 0)
        fail("cannot sign CA certificate %s", cn);
    return cert;
}

/* --------------------------------------------------------- publishers */

static void
copy_field(char *dst, size_t cap, const char *src, size_t len,
    const char *what)
{
    if (len == 0 || len >= cap)
        fail("publisher %s is empty or too long", what);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void
parse_publisher(const char *spec, struct publisher *p)
{
    const char *rest, *c1, *c2;

    memset(p, 0, sizeof *p);
    if (strncmp(spec, "google:", 7) == 0) {
        p->kind = PUB_GOOGLE;
        copy_field(p->email, sizeof p->email, spec + 7, strlen(spec + 7),
            "email");
        return;
    }
    if (strncmp(spec, "github:", 7) == 0)
        p->kind = PUB_GITHUB;
    else if (strncmp(spec, "gitlab:", 7) == 0)
        p->kind = PUB_GITLAB;
    else
        fail("publisher %s: want github:, gitlab: or google:", spec);
    rest = spec + 7;
    c1 = strchr(rest, ':');
    if (c1 == NULL)
        fail("publisher %s: want KIND:REPOSITORY:WORKFLOW[:ENV]", spec);
    copy_field(p->repository, sizeof p->repository, rest,
        (size_t) (c1 - rest), "repository");
    if (strchr(p->repository, '/') == NULL)
        fail("publisher %s: repository must be OWNER/NAME", spec);
    c2 = strchr(c1 + 1, ':');
    if (c2 == NULL) {
        copy_field(p->workflow, sizeof p->workflow, c1 + 1, strlen(c1 + 1),
            "workflow");
    } else {
        copy_field(p->workflow, sizeof p->workflow, c1 + 1,
            (size_t) (c2 - c1 - 1), "workflow");
        copy_field(p->environment, sizeof p->environment, c2 + 1,
            strlen(c2 + 1), "environment");
    }
}

static json_t *
publisher_json(const struct publisher *p)
{
    json_t *env = p->environment[0] != '\0' ? json_string(p->environment)
                                            : json_null();

    switch (p->kind) {
    case PUB_GITHUB:
        return json_pack("{s:s, s:s, s:s, s:o}", "kind", "GitHub",
            "repository", p->repository, "workflow", p->workflow,
            "environment", env);
    case PUB_GITLAB:
        return json_pack("{s:s, s:s, s:s, s:o}", "kind", "GitLab",
            "repository", p->repository, "workflow_filepath", p->workflow,
            "environment", env);
    case PUB_GOOGLE:
        json_decref(env);
        return json_pack("{s:s, s:s}", "kind", "Google", "email", p->email);
    }
    fail("unknown publisher kind");
}

/* ---------------------------------------------------- leaf certificate */

/* Fulcio extension: .1–.6 raw bytes, .8+ DER UTF8String. */
static void
add_fulcio_ext(X509 *cert, int arc, const char *value)
{
    char oid[64];
    ASN1_OBJECT *obj;
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext;

    snprintf(oid, sizeof oid, FULCIO_ARC "%d", arc);
    obj = OBJ_txt2obj(oid, 1);
    if (obj == NULL || os == NULL)
        fail("cannot build extension %s", oid);
    if (arc <= 6) {
        ASN1_OCTET_STRING_set(os, (const unsigned char *) value,
            (int) strlen(value));
    } else {
        ASN1_UTF8STRING *s = ASN1_UTF8STRING_new();
        unsigned char *der = NULL;
        int len;

        if (s == NULL || ASN1_STRING_set(s, value, (int) strlen(value)) != 1)
            fail("cannot build extension %s", oid);
        len = i2d_ASN1_UTF8STRING(s, &der);
        if (len <= 0)
            fail("cannot encode extension %s", oid);
        ASN1_OCTET_STRING_set(os, der, len);
        OPENSSL_free(der);
        ASN1_UTF8STRING_free(s);
    }
    ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os);
    if (ext == NULL || X509_add_ext(cert, ext, -1) != 1)
        fail("cannot add extension %s", oid);
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    ASN1_OBJECT_free(obj);
}

static void
add_san(X509 *cert, int type, const char *value)
{
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gn = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();

    if (names == NULL || gn == NULL || s == NULL
        || ASN1_STRING_set(s, value, (int) strlen(value)) != 1)
        fail("cannot build SAN");
    GENERAL_NAME_set0_value(gn, type, s);
    sk_GENERAL_NAME_push(names, gn);
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 1,
            X509V3_ADD_DEFAULT) != 1)
        fail("cannot add SAN");
    GENERAL_NAMES_free(names);
}

/* The claims Fulcio copies from the OIDC token into the certificate. */
static void
add_identity(X509 *cert, const struct publisher *p, const char *ref)
{
    char buf[1024], sha[41], repo_uri[512], wf_uri[1024];
    unsigned char h[32];
    const char *owner_end;

    if (p->kind == PUB_GOOGLE) {
        add_san(cert, GEN_EMAIL, p->email);
        add_fulcio_ext(cert, 1, "https://accounts.google.com");
        add_fulcio_ext(cert, 8, "https://accounts.google.com");
        return;
    }
    /* a stable fake commit: sha1-sized hex of repository and ref */
    snprintf(buf, sizeof buf, "%s@%s", p->repository, ref);
    sha256(buf, strlen(buf), h);
    hex(h, 20, sha);
    if (p->kind == PUB_GITHUB) {
        const char *iss = "https://token.actions.githubusercontent.com";

        snprintf(repo_uri, sizeof repo_uri, "https://github.com/%s",
            p->repository);
        snprintf(wf_uri, sizeof wf_uri, "%s/.github/workflows/%s@%s",
            repo_uri, p->workflow, ref);
        add_san(cert, GEN_URI, wf_uri);
        add_fulcio_ext(cert, 1, iss);
        add_fulcio_ext(cert, 2, "push");
        add_fulcio_ext(cert, 3, sha);
        add_fulcio_ext(cert, 4, "release");
        add_fulcio_ext(cert, 5, p->repository);
        add_fulcio_ext(cert, 6, ref);
        add_fulcio_ext(cert, 8, iss);
        add_fulcio_ext(cert, 9, wf_uri);
        add_fulcio_ext(cert, 10, sha);
        add_fulcio_ext(cert, 11, "github-hosted");
        add_fulcio_ext(cert, 12, repo_uri);
        add_fulcio_ext(cert, 13, sha);
        add_fulcio_ext(cert, 14, ref);
        add_fulcio_ext(cert, 15, "123456789");
        owner_end = strchr(p->repository, '/');
        snprintf(buf, sizeof buf, "https://github.com/%.*s",
            (int) (owner_end - p->repository), p->repository);
        add_fulcio_ext(cert, 16, buf);
        add_fulcio_ext(cert, 17, "987654");
        add_fulcio_ext(cert, 18, wf_uri);
        add_fulcio_ext(cert, 19, sha);
        add_fulcio_ext(cert, 20, "push");
        snprintf(buf, sizeof buf, "%s/actions/runs/4242/attempts/1",
            repo_uri);
        add_fulcio_ext(cert, 21, buf);
        add_fulcio_ext(cert, 22, "public");
        if (p->environment[0] != '\0')
            add_fulcio_ext(cert, 23, p->environment);
        return;
    }
    snprintf(repo_uri, sizeof repo_uri, "https://gitlab.com/%s",
        p->repository);
    snprintf(wf_uri, sizeof wf_uri, "%s//%s@%s", repo_uri, p->workflow, ref);
    add_san(cert, GEN_URI, wf_uri);
    add_fulcio_ext(cert, 1, "https://gitlab.com");
    add_fulcio_ext(cert, 8, "https://gitlab.com");
    add_fulcio_ext(cert, 9, wf_uri);
    add_fulcio_ext(cert, 10, sha);
    add_fulcio_ext(cert, 11, "gitlab-hosted");
    add_fulcio_ext(cert, 12, repo_uri);
    add_fulcio_ext(cert, 13, sha);
    add_fulcio_ext(cert, 14, ref);
    add_fulcio_ext(cert, 15, "55555");
    owner_end = strchr(p->repository, '/');
    snprintf(buf, sizeof buf, "https://gitlab.com/%.*s",
        (int) (owner_end - p->repository), p->repository);
    add_fulcio_ext(cert, 16, buf);
    add_fulcio_ext(cert, 17, "66666");
    add_fulcio_ext(cert, 18, wf_uri);
    add_fulcio_ext(cert, 19, sha);
    add_fulcio_ext(cert, 20, "push");
    snprintf(buf, sizeof buf, "%s/-/jobs/4242", repo_uri);
    add_fulcio_ext(cert, 21, buf);
    add_fulcio_ext(cert, 22, "public");
    if (p->environment[0] != '\0')
        add_fulcio_ext(cert, 23, p->environment);
}

static void
put_u(unsigned char **p, uint64_t v, int bytes)
{
    int i;

    for (i = bytes - 1; i >= 0; i--)
        *(*p)++ = (unsigned char) (v >> (8 * i));
}

/* RFC 6962 §3.2 digitally-signed struct for a precert entry. */
static unsigned char *
sct_signed_data(uint64_t ts_ms, const unsigned char issuer_hash[32],
    const unsigned char *tbs, int tbs_len, size_t *len)
{
    size_t cap = 1 + 1 + 8 + 2 + 32 + 3 + (size_t) tbs_len + 2;
    unsigned char *buf = malloc(cap), *p = buf;

    if (buf == NULL)
        fail("out of memory");
    put_u(&p, 0, 1);            /* v1 */
    put_u(&p, 0, 1);            /* certificate_timestamp */
    put_u(&p, ts_ms, 8);
    put_u(&p, 1, 2);            /* precert_entry */
    memcpy(p, issuer_hash, 32);
    p += 32;
    put_u(&p, (uint64_t) tbs_len, 3);
    memcpy(p, tbs, (size_t) tbs_len);
    p += tbs_len;
    put_u(&p, 0, 2);            /* no extensions */
    *len = (size_t) (p - buf);
    return buf;
}

/* Precertificate flow: the CA signs a precert carrying the critical poison
 * extension; the CT log signs the precert's TBS without the poison; the
 * final certificate carries the SCT list where the poison was (last), so
 * its TBS minus the SCT list equals the TBS the log signed. */
static void
add_sct(X509 *cert, X509 *issuer, EVP_PKEY *issuer_key, EVP_PKEY *ct_key,
    uint64_t ts_ms, int tamper)
{
    static const unsigned char asn1_null[] = { 0x05, 0x00 };
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    X509_EXTENSION *poison;
    unsigned char issuer_hash[32], log_id[32], *tbs = NULL, *data, *sig;
    int tbs_len, idx;
    size_t data_len, sig_len;
    SCT *sct = SCT_new();
    STACK_OF(SCT) *list = sk_SCT_new_null();

    if (os == NULL || sct == NULL || list == NULL
        || ASN1_OCTET_STRING_set(os, asn1_null, sizeof asn1_null) != 1)
        fail("out of memory");
    poison = X509_EXTENSION_create_by_NID(NULL, NID_ct_precert_poison, 1, os);
    ASN1_OCTET_STRING_free(os);
    if (poison == NULL || X509_add_ext(cert, poison, -1) != 1)
        fail("cannot add the precertificate poison");
    X509_EXTENSION_free(poison);
    if (X509_sign(cert, issuer_key, EVP_sha384()) <= 0)
        fail("cannot sign the precertificate");

    /* the log's view: precert TBS without the poison */
    idx = X509_get_ext_by_NID(cert, NID_ct_precert_poison, -1);
    X509_EXTENSION_free(X509_delete_ext(cert, idx));
    tbs_len = i2d_re_X509_tbs(cert, &tbs);
    if (tbs_len <= 0)
        fail("cannot encode TBS");
    key_id(X509_get0_pubkey(issuer), issuer_hash);
    data = sct_signed_data(tamper ? ts_ms + 1 : ts_ms, issuer_hash, tbs,
        tbs_len, &data_len);
    sig = ec_sign(ct_key, EVP_sha256(), data, data_len, &sig_len);
    key_id(ct_key, log_id);

    if (SCT_set_version(sct, SCT_VERSION_V1) != 1
        || SCT_set_log_entry_type(sct, CT_LOG_ENTRY_TYPE_PRECERT) != 1
        || SCT_set1_log_id(sct, log_id, sizeof log_id) != 1
        || SCT_set_signature_nid(sct, NID_ecdsa_with_SHA256) != 1)
        fail("cannot build SCT");
    SCT_set_timestamp(sct, ts_ms);
    SCT_set0_signature(sct, sig, sig_len);
    sk_SCT_push(list, sct);
    if (X509_add1_ext_i2d(cert, NID_ct_precert_scts, list, 0,
            X509V3_ADD_APPEND) != 1)
        fail("cannot add the SCT list");
    SCT_LIST_free(list);
    OPENSSL_free(tbs);
    free(data);
}

static X509 *
make_leaf(const struct mint_args *a, const struct root_keys *rk,
    EVP_PKEY *leaf_key, long long not_before, X509 *issuer,
    EVP_PKEY *issuer_key, EVP_PKEY *ct_key)
{
    X509 *cert = X509_new();
    X509_NAME *empty = X509_NAME_new();
    const struct breakage *b = &a->brk;

    (void) rk;
    if (cert == NULL || empty == NULL)
        fail("out of memory");
    X509_set_version(cert, 2);
    random_serial(cert);
    X509_set_issuer_name(cert, X509_get_subject_name(issuer));
    X509_set_subject_name(cert, empty);
    X509_NAME_free(empty);
    set_validity(cert, not_before, not_before + MINT_LEAF_LIFETIME);
    X509_set_pubkey(cert, leaf_key);
    add_conf_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
    if (!b->no_codesign)
        add_conf_ext(cert, issuer, NID_ext_key_usage, "codeSigning");
    add_conf_ext(cert, issuer, NID_subject_key_identifier, "hash");
    add_conf_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
    add_identity(cert, a->has_cert_pub ? &a->cert_pub : &a->pub, a->ref);
    if (!b->no_sct)
        add_sct(cert, issuer, issuer_key, ct_key,
            (uint64_t) not_before * 1000 + 250, b->tamper_sct);
    if (X509_sign(cert, issuer_key, EVP_sha384()) <= 0)
        fail("cannot sign the leaf certificate");
    return cert;
}

/* ------------------------------------------------------------- the log */

static void
node_hash(const unsigned char *l, const unsigned char *r, unsigned char *out)
{
    unsigned char buf[65];

    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    sha256(buf, sizeof buf, out);
}

/* Root and audit path (leaf→root) of leaf m in the tree of n leaves, built
 * level by level; an unpaired last node moves up unchanged, which is the
 * RFC 6962 MTH shape.  leaves is overwritten. */
static int
merkle_prove(unsigned char *leaves, size_t n, size_t m,
    unsigned char proof[][32], unsigned char root[32])
{
    size_t width = n;
    int count = 0;

    while (width > 1) {
        size_t sib = m ^ 1, i;

        if (sib < width) {
            if (count >= MINT_MAX_PROOF)
                fail("proof too long");
            memcpy(proof[count++], leaves + 32 * sib, 32);
        }
        for (i = 0; i + 1 < width; i += 2)
            node_hash(leaves + 32 * i, leaves + 32 * (i + 1),
                leaves + 32 * (i / 2));
        if (width % 2 == 1)
            memmove(leaves + 32 * (width / 2), leaves + 32 * (width - 1), 32);
        width = (width + 1) / 2;
        m >>= 1;
    }
    memcpy(root, leaves, 32);
    return count;
}

struct log_entry {
    long long tree_index;
    long long tree_size;
    unsigned char root[32];
    unsigned char proof[MINT_MAX_PROOF][32];
    int proof_len;
};

/* Appends the body's leaf hash to DIR/rekor.leaves under an exclusive lock
 * and proves it against the tree of that size.  No fsync: a test log
 * need not survive a crash, and minting stays fast. */
static void
log_append(const char *dir, const unsigned char *body, size_t body_len,
    struct log_entry *e)
{
    char path[4096];
    unsigned char leaf[33], *all;
    struct stat st;
    int fd;
    size_t n, off;

    leaf[0] = 0x00;
    path_join(path, sizeof path, dir, "rekor.leaves");
    fd = open(path, O_RDWR);
    if (fd < 0)
        fail("%s: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX) != 0 || fstat(fd, &st) != 0)
        fail("%s: %s", path, strerror(errno));
    if (st.st_size % 32 != 0 || st.st_size / 32 >= MINT_MAX_TREE)
        fail("%s: corrupt or full log", path);
    n = (size_t) st.st_size / 32 + 1;
    all = malloc(32 * n);
    if (all == NULL)
        fail("out of memory");
    for (off = 0; off < 32 * (n - 1);) {
        ssize_t r = pread(fd, all + off, 32 * (n - 1) - off, (off_t) off);

        if (r <= 0)
            fail("%s: short read", path);
        off += (size_t) r;
    }
    {
        unsigned char *buf = malloc(body_len + 1);

        if (buf == NULL)
            fail("out of memory");
        buf[0] = 0x00;
        memcpy(buf + 1, body, body_len);
        sha256(buf, body_len + 1, leaf);
        free(buf);
    }
    memcpy(all + 32 * (n - 1), leaf, 32);
    if (pwrite(fd, leaf, 32, (off_t) (32 * (n - 1))) != 32)
        fail("%s: cannot append", path);
    flock(fd, LOCK_UN);
    close(fd);
    e->tree_index = (long long) (n - 1);
    e->tree_size = (long long) n;
    e->proof_len = merkle_prove(all, n, n - 1, e->proof, e->root);
    free(all);
}

/* C2SP signed note with one ECDSA signature line by the log. */
static char *
checkpoint(EVP_PKEY *key, const char *origin, const struct log_entry *e,
    int tamper, int bad_hint)
{
    char note[512], signed_text[512], *root64, *sig64, *out;
    unsigned char id[32], *sig, *blob;
    size_t sig_len, cap;

    root64 = b64(e->root, 32);
    snprintf(note, sizeof note, "%s\n%lld\n%s\n", origin, e->tree_size,
        root64);
    snprintf(signed_text, sizeof signed_text, "%s\n%lld\n%s\n", origin,
        tamper ? e->tree_size + 1 : e->tree_size, root64);
    free(root64);
    sig = ec_sign(key, EVP_sha256(), signed_text, strlen(signed_text),
        &sig_len);
    key_id(key, id);
    if (bad_hint)
        id[0] ^= 0xff;
    blob = malloc(4 + sig_len);
    if (blob == NULL)
        fail("out of memory");
    memcpy(blob, id, 4);
    memcpy(blob + 4, sig, sig_len);
    sig64 = b64(blob, 4 + sig_len);
    cap = strlen(note) + strlen(sig64) + 64;
    out = malloc(cap);
    if (out == NULL)
        fail("out of memory");
    snprintf(out, cap, "%s\n\xe2\x80\x94 %s %s\n", note, MINT_LOG_HOST,
        sig64);
    free(sig);
    free(blob);
    free(sig64);
    return out;
}

/* ---------------------------------------------------------- root load */

static void
read_log_conf(const char *dir, struct root_keys *rk)
{
    char path[4096], line[256];
    FILE *f;

    path_join(path, sizeof path, dir, "rekor.conf");
    f = fopen(path, "r");
    if (f == NULL)
        fail("%s: %s (not a pg-mint root?)", path, strerror(errno));
    rk->origin[0] = '\0';
    rk->index_offset = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strcspn(line, "\n");

        line[len] = '\0';
        if (strncmp(line, "origin=", 7) == 0 && len - 7 < sizeof rk->origin)
            memcpy(rk->origin, line + 7, len - 7 + 1);
        else if (strncmp(line, "offset=", 7) == 0)
            rk->index_offset = strtoll(line + 7, NULL, 10);
    }
    fclose(f);
    if (rk->origin[0] == '\0' || rk->index_offset < 0)
        fail("%s: incomplete", path);
}

static void
load_root(const char *dir, struct root_keys *rk)
{
    rk->root_cert = load_cert(dir, "fulcio-root.pem");
    rk->int_cert = load_cert(dir, "fulcio-intermediate.pem");
    rk->int_key = load_key(dir, "fulcio-intermediate.key");
    rk->ct_key = load_key(dir, "ctlog.key");
    rk->rekor_key = load_key(dir, "rekor.key");
    read_log_conf(dir, rk);
}

static void
free_root(struct root_keys *rk)
{
    X509_free(rk->root_cert);
    X509_free(rk->int_cert);
    EVP_PKEY_free(rk->int_key);
    EVP_PKEY_free(rk->ct_key);
    EVP_PKEY_free(rk->rekor_key);
}

/* ---------------------------------------------------------------- init */

static json_t *
log_instance(const char *base_url, EVP_PKEY *key)
{
    unsigned char id[32], *der;
    int der_len;
    char *der64, *id64;
    json_t *j;

    der = spki_der(key, &der_len);
    key_id(key, id);
    der64 = b64(der, (size_t) der_len);
    id64 = b64(id, 32);
    j = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:{s:s}}",
        "baseUrl", base_url, "hashAlgorithm", "SHA2_256",
        "publicKey", "rawBytes", der64, "keyDetails",
        "PKIX_ECDSA_P256_SHA_256", "validFor", "start", MINT_ROOT_START,
        "logId", "keyId", id64);
    OPENSSL_free(der);
    free(der64);
    free(id64);
    if (j == NULL)
        fail("cannot build the trusted root");
    return j;
}

static int
cmd_init(int argc, char **argv)
{
    const char *dir;
    EVP_PKEY *root_key, *int_key, *ct_key, *rekor_key;
    X509 *root, *inter;
    json_t *tr;
    char *root64, *int64, *text, path[4096], conf[256];
    unsigned char fill[MINT_FILL_ENTRIES * 32], tree_id[8];
    unsigned long long tid = 0;
    int i;

    if (argc != 3)
        usage();
    dir = argv[2];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        fail("%s: %s", dir, strerror(errno));
    path_join(path, sizeof path, dir, "trusted_root.json");
    if (access(path, F_OK) == 0)
        fail("%s already holds a root", dir);

    root_key = gen_ec("P-384");
    int_key = gen_ec("P-384");
    ct_key = gen_ec("P-256");
    rekor_key = gen_ec("P-256");
    root = make_ca("pg-mint-root", root_key, NULL, NULL, 0);
    inter = make_ca("pg-mint-intermediate", int_key, root, root_key, 1);
    save_key(dir, "fulcio-root.key", root_key);
    save_key(dir, "fulcio-intermediate.key", int_key);
    save_key(dir, "ctlog.key", ct_key);
    save_key(dir, "rekor.key", rekor_key);
    save_cert(dir, "fulcio-root.pem", root);
    save_cert(dir, "fulcio-intermediate.pem", inter);

    /* the log: a tree id for the origin, a few foreign entries */
    if (RAND_bytes(tree_id, sizeof tree_id) != 1
        || RAND_bytes(fill, sizeof fill) != 1)
        fail("RAND_bytes failed");
    for (i = 0; i < 8; i++)
        tid = (tid << 8) | tree_id[i];
    tid &= 0x7fffffffffffffffULL;
    snprintf(conf, sizeof conf, "origin=%s - %llu\noffset=%lld\n",
        MINT_LOG_HOST, tid, MINT_INDEX_OFFSET);
    path_join(path, sizeof path, dir, "rekor.conf");
    write_file(path, conf, strlen(conf), 0644);
    path_join(path, sizeof path, dir, "rekor.leaves");
    write_file(path, fill, sizeof fill, 0644);

    root64 = cert_b64(root);
    int64 = cert_b64(inter);
    tr = json_pack("{s:s, s:[o], s:[{s:{s:s, s:s}, s:s, s:{s:[{s:s}, {s:s}]},"
        " s:{s:s}}], s:[o], s:[]}",
        "mediaType", "application/vnd.dev.sigstore.trustedroot+json;"
        "version=0.1",
        "tlogs", log_instance("https://" MINT_LOG_HOST, rekor_key),
        "certificateAuthorities", "subject", "organization", "pg-mint.test",
        "commonName", "pg-mint", "uri", MINT_FULCIO_URL, "certChain",
        "certificates", "rawBytes", int64, "rawBytes", root64,
        "validFor", "start", MINT_ROOT_START,
        "ctlogs", log_instance(MINT_CT_URL, ct_key),
        "timestampAuthorities");
    if (tr == NULL)
        fail("cannot build the trusted root");
    text = json_dumps(tr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL)
        fail("cannot encode the trusted root");
    path_join(path, sizeof path, dir, "trusted_root.json");
    write_file(path, text, strlen(text), 0644);
    free(text);
    json_decref(tr);
    free(root64);
    free(int64);
    X509_free(root);
    X509_free(inter);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(int_key);
    EVP_PKEY_free(ct_key);
    EVP_PKEY_free(rekor_key);
    return 0;
}

/* ---------------------------------------------------------------- mint */

static char *
statement(const char *name, const char *digest_hex, const char *predicate,
    int two_subjects)
{
    json_t *subjects = json_array(), *st;
    char *out;

    json_array_append_new(subjects, json_pack("{s:s, s:{s:s}}", "name", name,
        "digest", "sha256", digest_hex));
    if (two_subjects)
        json_array_append_new(subjects, json_pack("{s:s, s:{s:s}}", "name",
            "extra-0.0.1.tar.gz", "digest", "sha256", digest_hex));
    st = json_pack("{s:s, s:o, s:s, s:n}", "_type",
        "https://in-toto.io/Statement/v1", "subject", subjects,
        "predicateType", predicate, "predicate");
    if (st == NULL)
        fail("cannot build the statement");
    out = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(st);
    if (out == NULL)
        fail("cannot encode the statement");
    return out;
}

static unsigned char *
pae(const char *payload, size_t len, size_t *out_len)
{
    char head[128];
    int n = snprintf(head, sizeof head, "DSSEv1 %zu %s %zu ",
        strlen(PT_INTOTO), PT_INTOTO, len);
    unsigned char *buf = malloc((size_t) n + len);

    if (buf == NULL)
        fail("out of memory");
    memcpy(buf, head, (size_t) n);
    memcpy(buf + n, payload, len);
    *out_len = (size_t) n + len;
    return buf;
}

/* Appends body to the log and returns its TransparencyLogEntry (SET,
 * inclusion proof, checkpoint), broken as b asks.  The caller owns it. */
static json_t *
log_entry(const struct mint_args *a, const struct root_keys *rk,
    const struct breakage *b, const char *body, const char *kind,
    long long integrated)
{
    EVP_PKEY *log_key;
    unsigned char log_id[32];
    char *body64, *set_text, *set64, *cp, *root64, *id64;
    size_t set_len, sig_len;
    json_t *hashes, *entry;
    struct log_entry le;
    int i;

    log_key = b->unknown_log ? gen_ec("P-256") : rk->rekor_key;
    log_append(a->root_dir, (const unsigned char *) body, strlen(body), &le);
    body64 = b64((const unsigned char *) body, strlen(body));

    /* SET over the canonical {body, integratedTime, logID, logIndex} */
    key_id(log_key, log_id);
    {
        char id_hex[65];
        size_t cap = strlen(body64) + 256;

        hex(log_id, 32, id_hex);
        set_text = malloc(cap);
        if (set_text == NULL)
            fail("out of memory");
        snprintf(set_text, cap, "{\"body\":\"%s\",\"integratedTime\":%lld,"
            "\"logID\":\"%s\",\"logIndex\":%lld}", body64,
            b->tamper_set ? integrated + 1 : integrated, id_hex,
            rk->index_offset + le.tree_index);
        set_len = strlen(set_text);
    }
    {
        unsigned char *set = ec_sign(log_key, EVP_sha256(), set_text,
            set_len, &sig_len);

        set64 = b64(set, sig_len);
        free(set);
    }
    cp = checkpoint(log_key, rk->origin, &le, b->tamper_checkpoint,
        b->bad_keyhint);
    hashes = json_array();
    for (i = 0; i < le.proof_len; i++) {
        char *h64;

        if (b->tamper_proof && i == 0)
            le.proof[i][7] ^= 0x10;
        h64 = b64(le.proof[i], 32);
        json_array_append_new(hashes, json_string(h64));
        free(h64);
    }
    if (b->tamper_proof && le.proof_len == 0)
        fail("--tamper-proof needs a tree of two or more entries");
    root64 = b64(le.root, 32);
    id64 = b64(log_id, 32);
    entry = json_pack("{s:s, s:{s:s}, s:{s:s, s:s}, s:s}",
        "logIndex", "", "logId", "keyId", id64, "kindVersion", "kind", kind,
        "version", "0.0.1", "integratedTime", "");
    {
        char num[32];

        snprintf(num, sizeof num, "%lld", rk->index_offset + le.tree_index);
        json_object_set_new(entry, "logIndex", json_string(num));
        snprintf(num, sizeof num, "%lld", integrated);
        json_object_set_new(entry, "integratedTime", json_string(num));
        if (!b->no_promise)
            json_object_set_new(entry, "inclusionPromise",
                json_pack("{s:s}", "signedEntryTimestamp", set64));
        snprintf(num, sizeof num, "%lld", le.tree_index);
        {
            char size[32];

            snprintf(size, sizeof size, "%lld", le.tree_size);
            json_object_set_new(entry, "inclusionProof",
                json_pack("{s:s, s:s, s:s, s:o, s:{s:s}}", "logIndex", num,
                    "rootHash", root64, "treeSize", size, "hashes", hashes,
                    "checkpoint", "envelope", cp));
        }
    }
    json_object_set_new(entry, "canonicalizedBody", json_string(body64));
    free(body64);
    free(set_text);
    free(set64);
    free(cp);
    free(root64);
    free(id64);
    if (b->unknown_log)
        EVP_PKEY_free(log_key);
    return entry;
}

/* The Fulcio part: a leaf for a fresh key (--leaf-key), issued as b
 * asks; *leaf_key and the result are the caller's. */
static X509 *
mint_leaf(const struct mint_args *a, const struct root_keys *rk,
    const struct breakage *b, EVP_PKEY **leaf_key)
{
    EVP_PKEY *issuer_key = rk->int_key, *ct_key;
    X509 *issuer = rk->int_cert, *leaf;
    long long not_before = a->now;

    *leaf_key = gen_leaf_key(b->leaf_alg != NULL ? b->leaf_alg
        : b->leaf_p384 ? "p384" : "p256");
    if (b->untrusted_ca) {
        issuer_key = gen_ec("P-384");
        issuer = make_ca("pg-mint-intermediate", issuer_key, NULL, NULL, 1);
    }
    ct_key = b->unknown_ctlog ? gen_ec("P-256") : rk->ct_key;
    if (b->expired)
        not_before = a->now - MINT_LEAF_LIFETIME - 600;
    if (b->not_yet_valid)
        not_before = a->now + 600;
    leaf = make_leaf(a, rk, *leaf_key, not_before, issuer, issuer_key,
        ct_key);
    if (b->untrusted_ca) {
        X509_free(issuer);
        EVP_PKEY_free(issuer_key);
    }
    if (b->unknown_ctlog)
        EVP_PKEY_free(ct_key);
    return leaf;
}

/* One attestation object (PEP 740 v1).  The caller owns the result. */
static json_t *
mint_one(const struct mint_args *a, const struct root_keys *rk,
    const unsigned char digest[32], const char *predicate,
    const struct breakage *b)
{
    EVP_PKEY *leaf_key;
    X509 *leaf;
    unsigned char dig[32], h[32], *sig, *p;
    char digest_hex[65], hash_hex[65], *stmt, *pem, *pem64, *sig64, *body,
        *leaf64, *stmt64;
    const char *name = b->subject_name != NULL ? b->subject_name : a->name;
    size_t stmt_len, p_len, sig_len;
    long long integrated = a->now + 3;
    json_t *entry, *att;

    memcpy(dig, digest, 32);
    if (b->wrong_digest)
        dig[0] ^= 0x5a;
    hex(dig, 32, digest_hex);
    stmt = statement(name, digest_hex, predicate, b->two_subjects);
    stmt_len = strlen(stmt);

    leaf = mint_leaf(a, rk, b, &leaf_key);

    /* the signer: DSSE over the statement */
    if (b->tamper_signature) {
        char *other = strdup(stmt);

        if (other == NULL)
            fail("out of memory");
        other[stmt_len - 2] ^= 1;   /* a different byte before the '}' */
        p = pae(other, stmt_len, &p_len);
        free(other);
    } else {
        p = pae(stmt, stmt_len, &p_len);
    }
    sig = leaf_sign(leaf_key, b, p, p_len, &sig_len);
    free(p);
    sig64 = b64(sig, sig_len);
    stmt64 = b64((const unsigned char *) stmt, stmt_len);

    /* Rekor: dsse 0.0.1 body */
    pem = cert_pem(leaf);
    pem64 = b64((const unsigned char *) pem, strlen(pem));
    sha256(stmt, stmt_len, h);
    if (b->body_mismatch)
        h[31] ^= 1;
    hex(h, 32, hash_hex);
    {
        json_t *env = json_pack("{s:s, s:s, s:[{s:s, s:s}]}", "payload",
            stmt64, "payloadType", PT_INTOTO, "signatures", "keyid", "",
            "sig", sig64);
        char *env_text = json_dumps(env, JSON_COMPACT | JSON_SORT_KEYS);
        char env_hex[65];
        json_t *bj;

        if (env_text == NULL)
            fail("cannot encode the envelope");
        sha256(env_text, strlen(env_text), h);
        hex(h, 32, env_hex);
        free(env_text);
        json_decref(env);
        bj = json_pack("{s:s, s:s, s:{s:{s:s, s:s}, s:{s:s, s:s},"
            " s:[{s:s, s:s}]}}", "apiVersion", "0.0.1", "kind", "dsse",
            "spec", "envelopeHash", "algorithm", "sha256", "value", env_hex,
            "payloadHash", "algorithm", "sha256", "value", hash_hex,
            "signatures", "signature", sig64, "verifier", pem64);
        body = json_dumps(bj, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(bj);
        if (body == NULL)
            fail("cannot encode the log body");
    }
    entry = log_entry(a, rk, b, body, "dsse", integrated);

    leaf64 = cert_b64(leaf);
    att = json_pack("{s:i, s:{s:s, s:[o]}, s:{s:s, s:s}}", "version", 1,
        "verification_material", "certificate", leaf64,
        "transparency_entries", entry, "envelope", "statement", stmt64,
        "signature", sig64);
    if (att == NULL)
        fail("cannot build the attestation");

    free(stmt);
    free(sig);
    free(sig64);
    free(stmt64);
    free(pem);
    free(pem64);
    free(body);
    free(leaf64);
    X509_free(leaf);
    EVP_PKEY_free(leaf_key);
    return att;
}

/* A Sigstore bundle v0.3 with a messageSignature over the file (--message):
 * the leaf signs the file's digest in the key's registry hash (or
 * --sign-digest), Rekor v1 logs a hashedrekord 0.0.1 entry with that
 * digest.  The caller owns the result. */
static json_t *
mint_message(const struct mint_args *a, const struct root_keys *rk,
    const struct breakage *b)
{
    EVP_PKEY *leaf_key;
    X509 *leaf;
    const EVP_MD *md, *label_md;
    unsigned char dgst[EVP_MAX_MD_SIZE], label_dgst[EVP_MAX_MD_SIZE], *sig;
    char hex_dgst[2 * EVP_MAX_MD_SIZE + 1], md_lower[16], *pem, *pem64,
        *sig64, *body, *leaf64, *dgst64;
    const char *label;
    size_t sig_len, dlen, k;
    json_t *entry, *bj, *bundle;

    if (a->file == NULL)
        fail("--message needs --file");
    leaf = mint_leaf(a, rk, b, &leaf_key);
    md = leaf_md(leaf_key, b);
    if (md == NULL) {
        /* pure Ed25519 signs the artifact itself; logged with SHA-512 */
        FILE *f = fopen(a->file, "rb");
        unsigned char *data = malloc(1 << 20);
        size_t n;

        if (f == NULL || data == NULL)
            fail("%s: cannot read", a->file);
        n = fread(data, 1, 1 << 20, f);
        fclose(f);
        sig = leaf_sign(leaf_key, b, data, n, &sig_len);
        free(data);
        md = EVP_sha512();
        file_digest(a->file, md, dgst);
    } else {
        file_digest(a->file, md, dgst);
        sig = leaf_sign_digest(leaf_key, b, dgst, (size_t) EVP_MD_get_size(md),
            &sig_len);
    }
    dlen = (size_t) EVP_MD_get_size(md);
    if (b->tamper_signature)
        sig[sig_len / 2] ^= 1;
    hex(dgst, dlen, hex_dgst);
    snprintf(md_lower, sizeof md_lower, "%s", EVP_MD_get0_name(md));
    for (k = 0; md_lower[k] != '\0'; k++) {
        if (md_lower[k] >= 'A' && md_lower[k] <= 'Z')
            md_lower[k] = (char) (md_lower[k] - 'A' + 'a');
        if (md_lower[k] == '-') /* "SHA2-384" spellings */
            memmove(md_lower + k, md_lower + k + 1, strlen(md_lower + k));
    }
    sig64 = b64(sig, sig_len);
    pem = cert_pem(leaf);
    pem64 = b64((const unsigned char *) pem, strlen(pem));
    bj = json_pack("{s:s, s:s, s:{s:{s:{s:s, s:s}}, s:{s:s, s:{s:s}}}}",
        "apiVersion", "0.0.1", "kind", "hashedrekord", "spec", "data", "hash",
        "algorithm", md_lower, "value", hex_dgst, "signature", "content",
        sig64, "publicKey", "content", pem64);
    body = json_dumps(bj, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(bj);
    if (body == NULL)
        fail("cannot encode the log body");
    entry = log_entry(a, rk, b, body, "hashedrekord", a->now + 3);

    /* messageDigest: the signing digest, or --digest-label's */
    label = md == EVP_sha384() || strcmp(md_lower, "sha384") == 0
        ? "SHA2_384" : strcmp(md_lower, "sha512") == 0 ? "SHA2_512"
        : "SHA2_256";
    memcpy(label_dgst, dgst, dlen);
    if (b->digest_label != NULL) {
        label = b->digest_label;
        label_md = strcmp(label, "SHA2_256") == 0 ? EVP_sha256()
            : strcmp(label, "SHA2_384") == 0 ? EVP_sha384()
            : strcmp(label, "SHA2_512") == 0 ? EVP_sha512() : NULL;
        if (label_md != NULL) {
            file_digest(a->file, label_md, label_dgst);
            dlen = (size_t) EVP_MD_get_size(label_md);
        }
    }
    dgst64 = b64(label_dgst, dlen);
    leaf64 = cert_b64(leaf);
    bundle = json_pack("{s:s, s:{s:{s:s}, s:[o]}, s:{s:{s:s, s:s}, s:s}}",
        "mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial", "certificate", "rawBytes", leaf64,
        "tlogEntries", entry, "messageSignature", "messageDigest",
        "algorithm", label, "digest", dgst64, "signature", sig64);
    if (bundle == NULL)
        fail("cannot build the bundle");
    free(sig);
    free(sig64);
    free(pem);
    free(pem64);
    free(body);
    free(dgst64);
    free(leaf64);
    X509_free(leaf);
    EVP_PKEY_free(leaf_key);
    return bundle;
}

static int
parse_hex32(const char *s, unsigned char out[32])
{
    int i;

    if (strlen(s) != 64)
        return -1;
    for (i = 0; i < 32; i++) {
        char pair[3] = { s[2 * i], s[2 * i + 1], '\0' };
        char *end;
        long v = strtol(pair, &end, 16);

        if (*end != '\0' || pair[0] == '-' || pair[0] == '+' || pair[0] == ' ')
            return -1;
        out[i] = (unsigned char) v;
    }
    return 0;
}

/* The same attestation as a Sigstore bundle v0.3 (dsseEnvelope), exactly
 * the conversion of sigstore-verification §1.4. */
static json_t *
attestation_to_bundle(json_t *att)
{
    json_t *vm = json_object_get(att, "verification_material");
    json_t *env = json_object_get(att, "envelope");
    json_t *b = json_pack("{s:s, s:{s:{s:O}, s:[O]}, s:{s:O, s:s, s:[{s:O}]}}",
        "mediaType", "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial", "certificate", "rawBytes",
        json_object_get(vm, "certificate"), "tlogEntries",
        json_array_get(json_object_get(vm, "transparency_entries"), 0),
        "dsseEnvelope", "payload", json_object_get(env, "statement"),
        "payloadType", PT_INTOTO, "signatures", "sig",
        json_object_get(env, "signature"));

    if (b == NULL)
        fail("cannot build the bundle");
    return b;
}

static int
cmd_mint(int argc, char **argv, enum mint_output mode)
{
    struct mint_args a;
    struct root_keys rk;
    struct breakage none;
    unsigned char digest[32];
    const char *pub_spec = NULL;
    char name_buf[1024];
    json_t *doc, *atts;
    char *text;
    int i;

    memset(&a, 0, sizeof a);
    memset(&rk, 0, sizeof rk);
    memset(&none, 0, sizeof none);
    a.ref = "refs/heads/main";
    a.predicate_type = PRED_PUBLISH;
    a.now = (long long) time(NULL);
    for (i = 2; i < argc; i++) {
        const char *o = argv[i];
        const char **val = NULL;
        int *flag = NULL;
        struct breakage *b = &a.brk;

        if (strcmp(o, "--root") == 0)
            val = &a.root_dir;
        else if (strcmp(o, "--file") == 0)
            val = &a.file;
        else if (strcmp(o, "--name") == 0)
            val = &a.name;
        else if (strcmp(o, "--sha256") == 0)
            val = &a.sha256_hex;
        else if (strcmp(o, "-o") == 0 || strcmp(o, "--out") == 0)
            val = &a.out;
        else if (strcmp(o, "--ref") == 0)
            val = &a.ref;
        else if (strcmp(o, "--predicate-type") == 0)
            val = &a.predicate_type;
        else if (strcmp(o, "--subject-name") == 0)
            val = &b->subject_name;
        else if (strcmp(o, "--publisher") == 0)
            val = &pub_spec;
        else if (strcmp(o, "--cert-publisher") == 0) {
            if (i + 1 >= argc)
                usage();
            parse_publisher(argv[++i], &a.cert_pub);
            a.has_cert_pub = 1;
            continue;
        } else if (strcmp(o, "--time") == 0) {
            char *end;

            if (i + 1 >= argc)
                usage();
            errno = 0;
            a.now = strtoll(argv[++i], &end, 10);
            if (errno != 0 || *end != '\0' || a.now < MINT_ROOT_NOT_BEFORE
                + 3600 || a.now > MINT_ROOT_NOT_AFTER - 3600)
                fail("--time %s: want Unix seconds in 2020..2044", argv[i]);
            continue;
        }
        else if (strcmp(o, "--slsa") == 0)
            flag = &a.slsa;
        else if (strcmp(o, "--expired") == 0)
            flag = &b->expired;
        else if (strcmp(o, "--not-yet-valid") == 0)
            flag = &b->not_yet_valid;
        else if (strcmp(o, "--wrong-digest") == 0)
            flag = &b->wrong_digest;
        else if (strcmp(o, "--two-subjects") == 0)
            flag = &b->two_subjects;
        else if (strcmp(o, "--no-sct") == 0)
            flag = &b->no_sct;
        else if (strcmp(o, "--tamper-sct") == 0)
            flag = &b->tamper_sct;
        else if (strcmp(o, "--unknown-ctlog") == 0)
            flag = &b->unknown_ctlog;
        else if (strcmp(o, "--untrusted-ca") == 0)
            flag = &b->untrusted_ca;
        else if (strcmp(o, "--no-codesign") == 0)
            flag = &b->no_codesign;
        else if (strcmp(o, "--leaf-p384") == 0)
            flag = &b->leaf_p384;
        else if (strcmp(o, "--leaf-key") == 0)
            val = &b->leaf_alg;
        else if (strcmp(o, "--sign-digest") == 0)
            val = &b->sign_digest;
        else if (strcmp(o, "--digest-label") == 0)
            val = &b->digest_label;
        else if (strcmp(o, "--rsa-pss") == 0)
            flag = &b->rsa_pss;
        else if (strcmp(o, "--message") == 0)
            flag = &b->message;
        else if (strcmp(o, "--tamper-signature") == 0)
            flag = &b->tamper_signature;
        else if (strcmp(o, "--body-mismatch") == 0)
            flag = &b->body_mismatch;
        else if (strcmp(o, "--tamper-set") == 0)
            flag = &b->tamper_set;
        else if (strcmp(o, "--no-promise") == 0)
            flag = &b->no_promise;
        else if (strcmp(o, "--tamper-proof") == 0)
            flag = &b->tamper_proof;
        else if (strcmp(o, "--tamper-checkpoint") == 0)
            flag = &b->tamper_checkpoint;
        else if (strcmp(o, "--bad-keyhint") == 0)
            flag = &b->bad_keyhint;
        else if (strcmp(o, "--unknown-log") == 0)
            flag = &b->unknown_log;
        else {
            fprintf(stderr, "pg-mint: unknown option %s\n", o);
            usage();
        }
        if (flag != NULL) {
            *flag = 1;
        } else {
            if (i + 1 >= argc)
                usage();
            *val = argv[++i];
        }
    }
    if (a.root_dir == NULL || pub_spec == NULL
        || (a.file == NULL) == (a.sha256_hex == NULL))
        usage();
    parse_publisher(pub_spec, &a.pub);
    if (a.file != NULL) {
        file_sha256(a.file, digest);
        if (a.name == NULL) {
            const char *slash = strrchr(a.file, '/');

            snprintf(name_buf, sizeof name_buf, "%s",
                slash != NULL ? slash + 1 : a.file);
            a.name = name_buf;
        }
    } else {
        if (a.name == NULL)
            fail("--sha256 needs --name");
        if (parse_hex32(a.sha256_hex, digest) != 0)
            fail("--sha256 %s: want 64 hex digits", a.sha256_hex);
    }
    load_root(a.root_dir, &rk);

    atts = json_array();
    if (a.brk.message && mode != OUT_BUNDLE)
        fail("--message makes a bundle only");
    if (a.brk.message) {
        json_array_append_new(atts, mint_message(&a, &rk, &a.brk));
    } else if (a.slsa && mode == OUT_PROVENANCE) {
        json_array_append_new(atts, mint_one(&a, &rk, digest,
            a.predicate_type, &none));
        json_array_append_new(atts, mint_one(&a, &rk, digest, PRED_SLSA,
            &a.brk));
    } else {
        json_array_append_new(atts, mint_one(&a, &rk, digest,
            a.predicate_type, &a.brk));
    }
    if (mode == OUT_PROVENANCE) {
        doc = json_pack("{s:i, s:[{s:o, s:o}]}", "version", 1,
            "attestation_bundles", "publisher", publisher_json(&a.pub),
            "attestations", atts);
    } else if (mode == OUT_BUNDLE && a.brk.message) {
        doc = json_incref(json_array_get(atts, 0));
        json_decref(atts);
    } else if (mode == OUT_BUNDLE) {
        doc = attestation_to_bundle(json_array_get(atts, 0));
        json_decref(atts);
    } else {
        doc = json_incref(json_array_get(atts, 0));
        json_decref(atts);
    }
    if (doc == NULL)
        fail("cannot build the output");
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        fail("cannot encode the output");
    if (a.out == NULL || strcmp(a.out, "-") == 0) {
        fputs(text, stdout);
        fputc('\n', stdout);
    } else {
        write_file(a.out, text, strlen(text), 0644);
    }
    free(text);
    json_decref(doc);
    free_root(&rk);
    return 0;
}

/* Concatenates the attestation_bundles of several provenance objects. */
static int
cmd_combine(int argc, char **argv)
{
    const char *out = NULL;
    json_t *all = json_array(), *doc;
    char *text;
    int i, inputs = 0;

    for (i = 2; i < argc; i++) {
        json_error_t jerr;
        json_t *in, *bundles;

        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
            continue;
        }
        in = json_load_file(argv[i], 0, &jerr);
        if (in == NULL)
            fail("%s: %s", argv[i], jerr.text);
        bundles = json_object_get(in, "attestation_bundles");
        if (!json_is_array(bundles))
            fail("%s: not a provenance object", argv[i]);
        json_array_extend(all, bundles);
        json_decref(in);
        inputs++;
    }
    if (inputs == 0)
        usage();
    doc = json_pack("{s:i, s:o}", "version", 1, "attestation_bundles", all);
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text == NULL)
        fail("cannot encode the output");
    if (out == NULL || strcmp(out, "-") == 0) {
        fputs(text, stdout);
        fputc('\n', stdout);
    } else {
        write_file(out, text, strlen(text), 0644);
    }
    free(text);
    json_decref(doc);
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2)
        usage();
    if (strcmp(argv[1], "init") == 0)
        return cmd_init(argc, argv);
    if (strcmp(argv[1], "provenance") == 0)
        return cmd_mint(argc, argv, OUT_PROVENANCE);
    if (strcmp(argv[1], "attestation") == 0)
        return cmd_mint(argc, argv, OUT_ATTESTATION);
    if (strcmp(argv[1], "bundle") == 0)
        return cmd_mint(argc, argv, OUT_BUNDLE);
    if (strcmp(argv[1], "combine") == 0)
        return cmd_combine(argc, argv);
    usage();
}
