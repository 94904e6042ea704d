/* policy/sigstore/certificate.c — the leaf's path to a Fulcio CA (V2).
 *
 * For each CA of the trusted root whose issuing certificate names the leaf's
 * issuer, OpenSSL's X509_verify_cert builds and checks the path with that
 * certificate as a partial-chain anchor: it verifies the leaf's signature
 * with the intermediate's key directly (one P-384 verify per attestation).
 * The intermediate→root link was checked once when the root was loaded
 * (pg_sig_ca.links_ok).  Bundle-supplied CA certificates are never used.
 *
 * Times are checked here, not by OpenSSL (X509_V_FLAG_NO_CHECK_TIME on the
 * store): OpenSSL treats notAfter == t as expired and has one-second
 * precision, while the spec wants both ends inclusive at full precision.
 * For every verified time t: the CA's validFor, every CA certificate's and
 * the leaf's notBefore <= t <= notAfter.
 *
 * Owns: its X509_STORE_CTX, for the call.  Borrows: bundle and root.
 * Runs on: either.  Spec: sigstore-verification V2, §2.3, §7.1.
 */
#include <stdio.h>

#include <openssl/x509v3.h>

#include "sig_int.h"

#define STEP "chain"

/* 1 if every time lies in the CA's windows and the leaf's validity. */
static int
times_ok(const struct pg_sig_ca *ca, int64_t leaf_nb, int64_t leaf_na,
    const int64_t *times, size_t ntimes, char *why, size_t whylen)
{
    size_t i, k;
    char ts[40];

    for (i = 0; i < ntimes; i++) {
        int64_t t = times[i];

        pg_sig_fmt_time(t, ts, sizeof(ts));
        if (t < leaf_nb || t > leaf_na) {
            snprintf(why, whylen, "leaf certificate not valid at signing "
                "time %s", ts);
            return 0;
        }
        if (!pg_sig_window_contains(&ca->valid, t)) {
            snprintf(why, whylen, "Fulcio CA validFor excludes signing time "
                "%s", ts);
            return 0;
        }
        for (k = 0; k < ca->ncerts; k++) {
            if (t < ca->cert_nb[k] || t > ca->cert_na[k]) {
                snprintf(why, whylen, "CA certificate %zu not valid at %s",
                    k, ts);
                return 0;
            }
        }
    }
    return 1;
}

static int
path_ok(const struct pg_sig_ca *ca, X509 *leaf, char *why, size_t whylen)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;

    if (ctx == NULL) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    ok = X509_STORE_CTX_init(ctx, ca->store, leaf, NULL) == 1
        && X509_verify_cert(ctx) == 1;
    if (!ok) {
        snprintf(why, whylen, "%s",
            X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    }
    X509_STORE_CTX_free(ctx);
    return ok;
}

int
pg_sig_verify_chain(const struct pg_sig_bundle *b,
    const struct pg_sig_trust_root *root, const int64_t *times,
    size_t ntimes, const struct pg_sig_ca **ca_out,
    struct pg_sig_err *err)
{
    int64_t nb, na;
    char why[120] = "no Fulcio CA of the trusted root issued the leaf";
    size_t i;

    *ca_out = NULL;
    if (b->leaf == NULL) {
        return pg_sig_fail(err, PG_SIG_ECHAIN, STEP, "bundle has no "
            "certificate");
    }
    if (pg_sig_asn1_time_ns(X509_get0_notBefore(b->leaf), &nb) != 0
        || pg_sig_asn1_time_ns(X509_get0_notAfter(b->leaf), &na) != 0)
    {
        return pg_sig_fail(err, PG_SIG_ECHAIN, STEP, "leaf validity is not "
            "a valid time");
    }
    for (i = 0; i < root->ncas; i++) {
        const struct pg_sig_ca *ca = &root->cas[i];

        if (!ca->links_ok
            || X509_check_issued(ca->certs[0], b->leaf) != X509_V_OK)
        {
            continue;
        }
        if (!times_ok(ca, nb, na, times, ntimes, why, sizeof(why))) {
            continue;
        }
        if (!path_ok(ca, b->leaf, why, sizeof(why))) {
            continue;
        }
        *ca_out = ca;
        return PG_SIG_OK;
    }
    return pg_sig_fail(err, PG_SIG_ECHAIN, STEP, "%s", why);
}
