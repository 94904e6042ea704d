/* proxy/cli/cmd_verify.c — `provgate verify` and `provgate verify-bundle`.
 *
 * Both run the in-process verifier offline, without a server.
 * verify-bundle speaks the Sigstore conformance CLI protocol
 * (../shared/vectors/README.md §3): a bundle, an identity + issuer or a
 * managed key, an optional trusted root (production by default), and an
 * artifact path or "sha256:<64 hex>" (a digest only when it is not an
 * existing path).  verify checks a distribution against a PEP 740
 * provenance object, attestation or Sigstore bundle, under a publisher or
 * identity, and prints the verified publisher.  Both exit 0 when
 * verified, 1 with exactly one line "provgate: <cmd>: <file>: <step>:
 * <reason>" on stderr when not, 2 on usage errors.  This is the edge that
 * reads files and the clock and prints errors; the verifier does neither.
 *
 * Owns: file buffers and the trust root, for the command.
 * Runs on: the CLI process.  Spec: issue 3 item 5; design §9.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>

#include "cmd_int.h"
#include "pg_policy.h"
#include "pg_sigstore.h"

#define MAX_INPUT_FILE PG_SIG_MAX_JSON_BYTES

/* Reads at most max bytes of path; -1 if unreadable, -2 if larger. */
static int
read_file(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    *out = NULL;
    if (f == NULL) {
        return -1;
    }
    buf = malloc(max + 1);
    if (buf == NULL) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        fclose(f);
        free(buf);
        return -1;
    }
    fclose(f);
    if (n > max) {
        free(buf);
        return -2;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* SHA-256 of a file, streamed. */
/* The file's SHA-256 and, when out384/out512 are not NULL, its SHA-384
 * and SHA-512, in one read (a P-384 / P-521 message signature signs
 * those). */
static int
digest_file(const char *path, unsigned char out256[32],
    unsigned char out384[48], unsigned char out512[64])
{
    unsigned char buf[65536];
    EVP_MD_CTX *ctx[3] = { NULL, NULL, NULL };
    const EVP_MD *md[3] = { EVP_sha256(), EVP_sha384(), EVP_sha512() };
    unsigned char *out[3] = { out256, out384, out512 };
    FILE *f = fopen(path, "rb");
    size_t n, i;
    int ok = 1;

    if (f == NULL) {
        return -1;
    }
    for (i = 0; i < 3; i++) {
        if (out[i] != NULL) {
            ctx[i] = EVP_MD_CTX_new();
            ok = ok && ctx[i] != NULL
                && EVP_DigestInit_ex(ctx[i], md[i], NULL) == 1;
        }
    }
    while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        for (i = 0; i < 3; i++) {
            ok = ok && (ctx[i] == NULL
                || EVP_DigestUpdate(ctx[i], buf, n) == 1);
        }
    }
    ok = ok && !ferror(f);
    for (i = 0; i < 3; i++) {
        ok = ok && (ctx[i] == NULL
            || EVP_DigestFinal_ex(ctx[i], out[i], NULL) == 1);
        EVP_MD_CTX_free(ctx[i]);
    }
    fclose(f);
    return ok ? 0 : -1;
}

static int
parse_hex32(const char *s, unsigned char out[32])
{
    size_t i;

    if (strlen(s) != 64) {
        return -1;
    }
    for (i = 0; i < 64; i++) {
        char c = s[i];
        int v;

        if (c >= '0' && c <= '9') {
            v = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
        } else {
            return -1;
        }
        if (i % 2 == 0) {
            out[i / 2] = (unsigned char) (v << 4);
        } else {
            out[i / 2] |= (unsigned char) v;
        }
    }
    return 0;
}

static const char *
basename_of(const char *path)
{
    const char *s = strrchr(path, '/');

    return s != NULL ? s + 1 : path;
}

static int
load_root(const char *cmd, const char *path, int staging,
    struct pg_sig_trust_root **root)
{
    struct pg_sig_err err;
    int rc;

    if (path != NULL) {
        rc = pg_sig_trust_root_load_file(path, root, &err);
    } else {
        rc = pg_sig_trust_root_builtin(staging, root, &err);
    }
    if (rc != PG_SIG_OK) {
        fprintf(stderr, "provgate: %s: %s: %s: %s\n", cmd,
            path != NULL ? path : staging ? "(staging root)"
            : "(production root)", err.step, err.reason);
        return 1;
    }
    return 0;
}

static int
report(const char *cmd, const char *file, const struct pg_sig_err *err)
{
    fprintf(stderr, "provgate: %s: %s: %s: %s\n", cmd, file,
        err->step != NULL && err->step[0] != '\0' ? err->step : "verify",
        err->reason[0] != '\0' ? err->reason : pg_sig_strerror(err->code));
    return 1;
}

/* ------------------------------------------------------- verify-bundle */

static int
usage_bundle(void)
{
    fprintf(stderr, "usage: provgate verify-bundle [--staging] --bundle FILE "
        "(--certificate-identity SAN --certificate-oidc-issuer URL | --key "
        "PEM) [--trusted-root FILE] FILE_OR_DIGEST\n");
    return 2;
}

enum bundle_flag {
    VB_STAGING, VB_BUNDLE, VB_IDENTITY, VB_ISSUER, VB_KEY, VB_ROOT, VB_NFLAGS
};

static const struct pg_cmd_flag bundle_flags[VB_NFLAGS] = {
    [VB_STAGING] = { "staging", 0 },
    [VB_BUNDLE] = { "bundle", 1 },
    [VB_IDENTITY] = { "certificate-identity", 1 },
    [VB_ISSUER] = { "certificate-oidc-issuer", 1 },
    [VB_KEY] = { "key", 1 },
    [VB_ROOT] = { "trusted-root", 1 },
};

int
pg_cmd_verify_bundle(int argc, char **argv)
{
    const char *bundle = NULL, *ident = NULL, *issuer = NULL, *key = NULL;
    const char *rootf = NULL, *art = NULL;
    struct pg_sig_trust_root *root = NULL;
    struct pg_sig_verify_opts o;
    struct pg_sig_policy pol;
    struct pg_sig_limits lim;
    struct pg_sig_err err;
    unsigned char digest[32], d384[48], d512[64];
    char *json = NULL, *pem = NULL;
    int whole = 0;
    size_t jlen, pemlen = 0;
    struct stat st;
    const char *val[VB_NFLAGS + 1];
    struct pg_cmd_values vals;
    char bad[256];
    int staging = 0, rc;

    memset(val, 0, sizeof(val));
    vals.val = val;
    vals.n = VB_NFLAGS;
    vals.usage = usage_bundle;
    rc = pg_cmd_getopt(argc, argv, bundle_flags, VB_NFLAGS, pg_cmd_on_value,
        &vals, bad, sizeof(bad));
    if (rc == PG_CMD_HELP) {
        usage_bundle();
        return 0;
    }
    if (rc != 0) {
        return rc > 0 ? rc : usage_bundle();
    }
    staging = val[VB_STAGING] != NULL;
    bundle = val[VB_BUNDLE];
    ident = val[VB_IDENTITY];
    issuer = val[VB_ISSUER];
    key = val[VB_KEY];
    rootf = val[VB_ROOT];
    art = val[VB_NFLAGS];
    if (bundle == NULL || art == NULL
        || (key == NULL) == (ident == NULL || issuer == NULL)
        || (key != NULL && (ident != NULL || issuer != NULL)))
    {
        return usage_bundle();
    }
    memset(&pol, 0, sizeof(pol));
    if (key != NULL) {
        if (read_file(key, 65536, &pem, &pemlen) != 0) {
            fprintf(stderr, "provgate: verify-bundle: %s: cannot read key\n",
                key);
            return 2;
        }
        pol.kind = PG_SIG_POLICY_KEY;
        pol.key_pem = pem;
        pol.key_pem_len = pemlen;
    } else {
        pol.kind = PG_SIG_POLICY_SAN_ISSUER;
        pol.san = ident;
        pol.issuer = issuer;
    }
    /* a digest only if sha256:<64 hex> and not an existing path */
    if (strncmp(art, "sha256:", 7) == 0 && stat(art, &st) != 0
        && parse_hex32(art + 7, digest) == 0)
    {
        rc = 0;
    } else {
        rc = digest_file(art, digest, d384, d512);
        whole = 1;
    }
    if (rc != 0) {
        fprintf(stderr, "provgate: verify-bundle: %s: cannot read "
            "artifact\n", art);
        free(pem);
        return 2;
    }
    rc = read_file(bundle, MAX_INPUT_FILE, &json, &jlen);
    if (rc != 0) {
        fprintf(stderr, "provgate: verify-bundle: %s: %s\n", bundle,
            rc == -2 ? "bundle: file over the size limit" : strerror(errno));
        free(pem);
        return rc == -2 ? 1 : 2;
    }
    if (load_root("verify-bundle", rootf, staging, &root) != 0) {
        free(json);
        free(pem);
        return 1;
    }
    pg_sig_limits_default(&lim);
    memset(&o, 0, sizeof(o));
    o.root = root;
    o.limits = &lim;
    o.policy = &pol;
    o.artifact_sha256 = digest;
    o.artifact_sha384 = whole ? d384 : NULL;
    o.artifact_sha512 = whole ? d512 : NULL;
    o.now = (int64_t) time(NULL);
    rc = pg_sig_verify_bundle_json(&o, json, jlen, &err);
    if (rc != PG_SIG_OK) {
        rc = report("verify-bundle", bundle, &err);
    }
    pg_sig_trust_root_free(root);
    free(json);
    free(pem);
    return rc;
}

/* -------------------------------------------------------------- verify */

static int
usage_verify(void)
{
    fprintf(stderr, "usage: provgate verify [--trusted-root FILE | "
        "--staging] (--provenance FILE | --attestation FILE | --bundle "
        "FILE) [--publisher SPEC | --identity SAN --issuer URL] (DIST "
        "[--name FILENAME] | --sha256 HEX --name FILENAME)\n"
        "  SPEC: github:OWNER/REPO:WORKFLOW[:ENV], "
        "gitlab:NAMESPACE/PROJECT:WORKFLOW_PATH[:ENV], google:EMAIL\n");
    return 2;
}

enum verify_flag {
    VF_STAGING, VF_ROOT, VF_PROVENANCE, VF_ATTESTATION, VF_BUNDLE,
    VF_PUBLISHER, VF_IDENTITY, VF_ISSUER, VF_SHA256, VF_NAME, VF_NFLAGS
};

static const struct pg_cmd_flag verify_flags[VF_NFLAGS] = {
    [VF_STAGING] = { "staging", 0 },
    [VF_ROOT] = { "trusted-root", 1 },
    [VF_PROVENANCE] = { "provenance", 1 },
    [VF_ATTESTATION] = { "attestation", 1 },
    [VF_BUNDLE] = { "bundle", 1 },
    [VF_PUBLISHER] = { "publisher", 1 },
    [VF_IDENTITY] = { "identity", 1 },
    [VF_ISSUER] = { "issuer", 1 },
    [VF_SHA256] = { "sha256", 1 },
    [VF_NAME] = { "name", 1 },
};

int
pg_cmd_verify(int argc, char **argv)
{
    const char *rootf = NULL, *prov = NULL, *att = NULL, *bun = NULL;
    const char *pubspec = NULL, *ident = NULL, *issuer = NULL;
    const char *dist = NULL, *name = NULL, *hex = NULL, *input;
    struct pg_sig_trust_root *root = NULL;
    struct pg_publisher pub, seen;
    struct pg_pep740_opts o;
    struct pg_sig_policy pol, idpol;
    struct pg_sig_err err;
    unsigned char sha[32], d384[48], d512[64];
    char reason[160], out[600], *json = NULL;
    size_t jlen;
    const char *val[VF_NFLAGS + 1];
    struct pg_cmd_values vals;
    char bad[256];
    int staging = 0, rc, inputs;

    memset(val, 0, sizeof(val));
    vals.val = val;
    vals.n = VF_NFLAGS;
    vals.usage = usage_verify;
    rc = pg_cmd_getopt(argc, argv, verify_flags, VF_NFLAGS, pg_cmd_on_value,
        &vals, bad, sizeof(bad));
    if (rc == PG_CMD_HELP) {
        usage_verify();
        return 0;
    }
    if (rc != 0) {
        return rc > 0 ? rc : usage_verify();
    }
    staging = val[VF_STAGING] != NULL;
    rootf = val[VF_ROOT];
    prov = val[VF_PROVENANCE];
    att = val[VF_ATTESTATION];
    bun = val[VF_BUNDLE];
    pubspec = val[VF_PUBLISHER];
    ident = val[VF_IDENTITY];
    issuer = val[VF_ISSUER];
    hex = val[VF_SHA256];
    name = val[VF_NAME];
    dist = val[VF_NFLAGS];
    inputs = (prov != NULL) + (att != NULL) + (bun != NULL);
    if (inputs != 1 || (rootf != NULL && staging)
        || (pubspec != NULL && (ident != NULL || issuer != NULL))
        || ((ident == NULL) != (issuer == NULL))
        || (dist == NULL) == (hex == NULL) || (hex != NULL && name == NULL))
    {
        return usage_verify();
    }
    if (prov == NULL && pubspec == NULL && ident == NULL) {
        fprintf(stderr, "provgate: verify: --attestation and --bundle need "
            "--publisher or --identity/--issuer\n");
        return 2;
    }
    memset(&pub, 0, sizeof(pub));
    if (pubspec != NULL
        && pg_publisher_parse(pubspec, &pub, reason, sizeof(reason)) != 0)
    {
        fprintf(stderr, "provgate: verify: --publisher: %s\n", reason);
        return 2;
    }
    if (hex != NULL) {
        if (parse_hex32(hex, sha) != 0) {
            fprintf(stderr, "provgate: verify: --sha256 needs 64 hex "
                "digits\n");
            return 2;
        }
    } else if (digest_file(dist, sha, d384, d512) != 0) {
        fprintf(stderr, "provgate: verify: %s: cannot read\n", dist);
        return 2;
    }
    if (name == NULL) {
        name = basename_of(dist);
    }
    input = prov != NULL ? prov : att != NULL ? att : bun;
    rc = read_file(input, MAX_INPUT_FILE, &json, &jlen);
    if (rc != 0) {
        if (rc == -2) {
            fprintf(stderr, "provgate: verify: %s: input: over the size "
                "limit\n", input);
            return 1;
        }
        fprintf(stderr, "provgate: verify: %s: %s\n", input,
            strerror(errno));
        return 2;
    }
    if (load_root("verify", rootf, staging, &root) != 0) {
        free(json);
        return 1;
    }
    memset(&idpol, 0, sizeof(idpol));
    idpol.kind = PG_SIG_POLICY_SAN_ISSUER;
    idpol.san = ident;
    idpol.issuer = issuer;
    memset(&o, 0, sizeof(o));
    o.root = root;
    o.now = (int64_t) time(NULL);
    o.sha384 = hex == NULL ? d384 : NULL;
    o.sha512 = hex == NULL ? d512 : NULL;
    if (pubspec != NULL) {
        pg_publisher_policy(&pub, &pol);
    } else {
        pol = idpol;
    }
    if (prov != NULL) {
        o.expected = pubspec != NULL ? &pub : NULL;
        o.identity = ident != NULL ? &idpol : NULL;
        rc = pg_pep740_verify_provenance_ex(&o, json, jlen, name, sha,
            &seen, &err);
    } else if (att != NULL) {
        rc = pg_pep740_verify_attestation(&o, json, jlen, name, sha, &pol,
            &err);
        seen = pub;
    } else {
        rc = pg_pep740_verify_bundle(&o, json, jlen, name, sha, &pol, &err);
        seen = pub;
    }
    if (rc != PG_SIG_OK) {
        rc = report("verify", input, &err);
    } else {
        /* one line: the publisher spec, or the identity that verified */
        if (seen.kind != PG_PUB_NONE) {
            pg_publisher_format(&seen, out, sizeof(out));
        } else {
            snprintf(out, sizeof(out), "identity:%.250s issuer:%.250s",
                ident, issuer);
        }
        printf("%s\n", out);
    }
    pg_sig_trust_root_free(root);
    free(json);
    return rc;
}
