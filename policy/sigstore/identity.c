/* policy/sigstore/identity.c — leaf profile and identity policy (V4).
 *
 * Reads the Fulcio extensions (OID arc 1.3.6.1.4.1.57264.1: .1–.6 raw
 * UTF-8, .8 and up exactly one DER UTF8String with nothing after it) and
 * the SAN (URI, e-mail, Fulcio otherName .7), then applies one policy:
 * plain SAN + issuer (the conformance protocol), or a PyPI Trusted
 * Publisher as pypi-attestations checks it — GitHub (issuer, Source
 * Repository URI, Build Config URI with digest or ref), GitLab (same with
 * the double slash, digest and ref both required), Google (v1 issuer .1 and
 * SAN e-mail).  All comparisons are exact, except GitHub owner/repository,
 * which compares case-insensitively (GitHub names are case-insensitive and
 * administrators write them by hand).  environment is never checked: no
 * certificate field carries it.
 *
 * Owns: the decoded SAN list, for the call.  Borrows: the leaf and the
 * policy strings.  Runs on: either.  Spec: sigstore-verification V4, §4.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/x509v3.h>

#include "sig_int.h"

#define STEP "identity"

#define GH_ISSUER "https://token.actions.githubusercontent.com"
#define GL_ISSUER "https://gitlab.com"
#define GOOGLE_ISSUER "https://accounts.google.com"

/* DER body of 1.3.6.1.4.1.57264.1 (n is appended). */
static const unsigned char fulcio_arc[] = {
    0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xbf, 0x30, 0x01
};

static int
is_fulcio_oid(const ASN1_OBJECT *o, int n)
{
    const unsigned char *d = OBJ_get0_data(o);
    size_t len = OBJ_length(o);

    return d != NULL && len == sizeof(fulcio_arc) + 1
        && memcmp(d, fulcio_arc, sizeof(fulcio_arc)) == 0
        && d[sizeof(fulcio_arc)] == (unsigned char) n;
}

static int
copy_text(const unsigned char *p, size_t len, char *buf, size_t buflen)
{
    if (len + 1 > buflen || memchr(p, '\0', len) != NULL) {
        return -1;
    }
    memcpy(buf, p, len);
    buf[len] = '\0';
    return 1;
}

int
pg_sig_fulcio_ext(const struct pg_sig_cert *c, int n, char *buf,
    size_t buflen)
{
    int i, count = sk_X509_EXTENSION_num(c->exts);

    if (n < 1 || n > 127 || n == 7) {
        return -1;
    }
    for (i = 0; i < count; i++) {
        X509_EXTENSION *ext = sk_X509_EXTENSION_value(c->exts, i);
        ASN1_OCTET_STRING *os;
        const unsigned char *p, *start;
        ASN1_UTF8STRING *u;
        long len;
        int rc;

        if (!is_fulcio_oid(X509_EXTENSION_get_object(ext), n)) {
            continue;
        }
        os = X509_EXTENSION_get_data(ext);
        start = ASN1_STRING_get0_data(os);
        len = ASN1_STRING_length(os);
        if (n <= 6) {
            return copy_text(start, (size_t) len, buf, buflen);
        }
        p = start;
        u = d2i_ASN1_UTF8STRING(NULL, &p, len);
        if (u == NULL || p != start + len) {
            ASN1_UTF8STRING_free(u);
            return -1;
        }
        rc = copy_text(ASN1_STRING_get0_data(u),
            (size_t) ASN1_STRING_length(u), buf, buflen);
        ASN1_UTF8STRING_free(u);
        return rc;
    }
    return 0;
}

int
pg_sig_fulcio_ext_der(const unsigned char *der, size_t len, int n,
    char *buf, size_t buflen)
{
    struct pg_sig_cert c;
    int rc = -1;

    if (pg_sig_cert_parse(der, len, &c) == 0) {
        rc = pg_sig_fulcio_ext(&c, n, buf, buflen);
    }
    pg_sig_cert_clear(&c);
    return rc;
}

/* 1 if some SAN (URI, e-mail, Fulcio otherName) equals want exactly. */
static int
san_has(const struct pg_sig_cert *x, const char *want)
{
    GENERAL_NAMES *names = X509V3_get_d2i(x->exts, NID_subject_alt_name,
        NULL, NULL);
    size_t wlen = strlen(want);
    int i, found = 0;

    for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        const ASN1_STRING *s = NULL;

        if (g->type == GEN_URI || g->type == GEN_EMAIL) {
            s = g->d.ia5;
        } else if (g->type == GEN_OTHERNAME
            && is_fulcio_oid(g->d.otherName->type_id, 7)
            && g->d.otherName->value->type == V_ASN1_UTF8STRING)
        {
            s = g->d.otherName->value->value.utf8string;
        }
        if (s != NULL && (size_t) ASN1_STRING_length(s) == wlen
            && memcmp(ASN1_STRING_get0_data(s), want, wlen) == 0)
        {
            found = 1;
        }
    }
    GENERAL_NAMES_free(names);
    return found;
}

/* Reads extension n into buf; fails with a reason if absent/malformed. */
static int
need_ext(const struct pg_sig_cert *x, int n, const char *name, char *buf,
    size_t len, struct pg_sig_err *err)
{
    int rc = pg_sig_fulcio_ext(x, n, buf, len);

    if (rc == 0) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "certificate has "
            "no %s extension (1.3.6.1.4.1.57264.1.%d)", name, n);
    }
    if (rc < 0) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "malformed %s "
            "extension (1.3.6.1.4.1.57264.1.%d)", name, n);
    }
    return PG_SIG_OK;
}

/* s == prefix + repo (repo case-insensitive if icase) + rest. */
static int
url_eq(const char *s, const char *prefix, const char *repo, int icase,
    const char *rest)
{
    size_t pl = strlen(prefix), rl = strlen(repo);

    if (strncmp(s, prefix, pl) != 0) {
        return 0;
    }
    s += pl;
    if (strlen(s) < rl || (icase ? strncasecmp(s, repo, rl)
            : strncmp(s, repo, rl)) != 0)
    {
        return 0;
    }
    return strcmp(s + rl, rest) == 0;
}

/* GitHub and GitLab share their shape (§4.2); gitlab selects the rules. */
static int
check_ci(const struct pg_sig_cert *x, const struct pg_sig_policy *p, int gitlab,
    struct pg_sig_err *err)
{
    const char *host = gitlab ? "https://gitlab.com/" : "https://github.com/";
    const char *sep = gitlab ? "//" : "/.github/workflows/";
    char iss[256], src[1024], cfg[2048], dig[256], ref[512], rest[2048];
    int rc, have_dig, have_ref, icase = !gitlab;

    if (p->repository == NULL || p->workflow == NULL) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "publisher policy "
            "lacks repository or workflow");
    }
    rc = need_ext(x, 8, "Issuer", iss, sizeof(iss), err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    if (strcmp(iss, gitlab ? GL_ISSUER : GH_ISSUER) != 0) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "issuer %.80s is "
            "not %s", iss, gitlab ? GL_ISSUER : GH_ISSUER);
    }
    rc = need_ext(x, 12, "Source Repository URI", src, sizeof(src), err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    if (!url_eq(src, host, p->repository, icase, "")) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "source repository "
            "%.80s is not %s%.40s", src, host, p->repository);
    }
    have_dig = pg_sig_fulcio_ext(x, 13, dig, sizeof(dig));
    have_ref = pg_sig_fulcio_ext(x, 14, ref, sizeof(ref));
    if (have_dig < 0 || have_ref < 0) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "malformed source "
            "repository digest or ref extension");
    }
    if (gitlab ? (have_dig == 0 || have_ref == 0)
        : (have_dig == 0 && have_ref == 0))
    {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "certificate lacks "
            "source repository digest%sref", gitlab ? " and " : "/");
    }
    rc = need_ext(x, 18, "Build Config URI", cfg, sizeof(cfg), err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    if (have_dig == 1) {
        snprintf(rest, sizeof(rest), "%s%s@%s", sep, p->workflow, dig);
        if (url_eq(cfg, host, p->repository, icase, rest)) {
            return PG_SIG_OK;
        }
    }
    if (have_ref == 1) {
        snprintf(rest, sizeof(rest), "%s%s@%s", sep, p->workflow, ref);
        if (url_eq(cfg, host, p->repository, icase, rest)) {
            return PG_SIG_OK;
        }
    }
    return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "build config %.90s is "
        "not workflow %.40s", cfg, p->workflow);
}

static int
check_policy(const struct pg_sig_cert *x, const struct pg_sig_policy *p,
    struct pg_sig_err *err)
{
    char iss[256];
    int rc;

    switch (p->kind) {
    case PG_SIG_POLICY_UNSAFE_NONE:
        return PG_SIG_OK;
    case PG_SIG_POLICY_KEY:
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "a public key was "
            "given but the bundle carries a certificate");
    case PG_SIG_POLICY_SAN_ISSUER:
        if (p->san == NULL || p->issuer == NULL) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "policy lacks "
                "SAN or issuer");
        }
        rc = pg_sig_fulcio_ext(x, 8, iss, sizeof(iss));
        if (rc == 0) {
            rc = pg_sig_fulcio_ext(x, 1, iss, sizeof(iss));
        }
        if (rc != 1) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "certificate "
                "has no readable OIDC issuer");
        }
        if (strcmp(iss, p->issuer) != 0) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "issuer %.60s "
                "is not %.60s", iss, p->issuer);
        }
        if (!san_has(x, p->san)) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "no SAN equals "
                "%.100s", p->san);
        }
        return PG_SIG_OK;
    case PG_SIG_POLICY_GITHUB:
        return check_ci(x, p, 0, err);
    case PG_SIG_POLICY_GITLAB:
        return check_ci(x, p, 1, err);
    case PG_SIG_POLICY_GOOGLE:
        if (p->email == NULL) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "policy lacks "
                "email");
        }
        rc = need_ext(x, 1, "Issuer (v1)", iss, sizeof(iss), err);
        if (rc != PG_SIG_OK) {
            return rc;
        }
        if (strcmp(iss, GOOGLE_ISSUER) != 0) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "issuer %.80s "
                "is not " GOOGLE_ISSUER, iss);
        }
        if (!san_has(x, p->email)) {
            return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "no SAN equals "
                "%.100s", p->email);
        }
        return PG_SIG_OK;
    }
    return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "unknown policy kind");
}

int
pg_sig_verify_identity(const struct pg_sig_cert *leaf,
    const struct pg_sig_policy *policy, struct pg_sig_err *err)
{
    if (!leaf->has_ku || !leaf->ku_digital_signature) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "leaf KeyUsage "
            "lacks digitalSignature");
    }
    if (!leaf->has_eku || !leaf->eku_code_signing) {
        return pg_sig_fail(err, PG_SIG_EIDENTITY, STEP, "leaf "
            "ExtendedKeyUsage lacks codeSigning");
    }
    return check_policy(leaf, policy, err);
}

int
pg_sig_check_identity_der(const unsigned char *der, size_t len,
    const struct pg_sig_policy *policy, struct pg_sig_err *err)
{
    struct pg_sig_cert c;
    int rc;

    pg_sig_err_init(err);
    if (pg_sig_cert_parse(der, len, &c) != 0) {
        pg_sig_cert_clear(&c);
        return pg_sig_fail(err, PG_SIG_EPARSE, STEP, "not a usable DER "
            "certificate");
    }
    rc = pg_sig_verify_identity(&c, policy, err);
    pg_sig_cert_clear(&c);
    return rc;
}
