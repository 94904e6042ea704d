/* policy/sigstore/certificate.c — the leaf's path to a Fulcio CA (V2).
 *
 * The CA chains of the trusted root were validated with OpenSSL's
 * X509_verify_cert when the root was loaded (pg_sig_ca.links_ok), so the
 * costly intermediate→root check (P-384) is paid once per root.  Per
 * verification only the last link remains: the leaf must name the CA's
 * issuing certificate (issuer DER == subject DER; AKI == SKI when both
 * exist), carry no critical extension we do not process, and its signature
 * must verify with that certificate's key — one direct EVP verification,
 * no path building.  Bundle-supplied CA certificates are never used.
 *
 * Times are checked here at full precision and inclusive at both ends
 * (OpenSSL treats notAfter == t as expired and has one-second precision):
 * for every verified time t, the CA's validFor, every CA certificate's and
 * the leaf's notBefore <= t <= notAfter.
 *
 * Owns: nothing.  Borrows: bundle and root.  Runs on: either.
 * Spec: sigstore-verification V2, §2.3, §7.1.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "sig_int.h"

#define STEP "chain"

/* 1 if every time lies in the CA's windows and the leaf's validity. */
static int
times_ok(const struct pg_sig_ca *ca, const struct pg_sig_cert *leaf,
    const int64_t *times, size_t ntimes, char *why, size_t whylen)
{
    size_t i, k;
    char ts[40];

    for (i = 0; i < ntimes; i++) {
        int64_t t = times[i];

        /* the time is formatted only for the reason of a failure */
        if (t < leaf->not_before || t > leaf->not_after) {
            pg_sig_fmt_time(t, ts, sizeof(ts));
            snprintf(why, whylen, "leaf certificate not valid at signing "
                "time %s", ts);
            return 0;
        }
        if (!pg_sig_window_contains(&ca->valid, t)) {
            pg_sig_fmt_time(t, ts, sizeof(ts));
            snprintf(why, whylen, "Fulcio CA validFor excludes signing time "
                "%s", ts);
            return 0;
        }
        for (k = 0; k < ca->ncerts; k++) {
            if (t < ca->cert_nb[k] || t > ca->cert_na[k]) {
                pg_sig_fmt_time(t, ts, sizeof(ts));
                snprintf(why, whylen, "CA certificate %zu not valid at %s",
                    k, ts);
                return 0;
            }
        }
    }
    return 1;
}

/* 1 if ca's issuing certificate is the one the leaf names. */
static int
names_issuer(const struct pg_sig_ca *ca, const struct pg_sig_cert *leaf)
{
    if (ca->subject_len != leaf->issuer_len
        || memcmp(ca->subject_der, leaf->issuer, leaf->issuer_len) != 0)
    {
        return 0;
    }
    return leaf->aki_len == 0 || ca->ski_len == 0
        || (leaf->aki_len == ca->ski_len
            && memcmp(leaf->aki, ca->ski, ca->ski_len) == 0);
}

int
pg_sig_verify_chain(const struct pg_sig_bundle *b,
    const struct pg_sig_trust_root *root, const int64_t *times,
    size_t ntimes, const struct pg_sig_ca **ca_out,
    struct pg_sig_err *err)
{
    const struct pg_sig_cert *leaf = b->leaf;
    char why[120] = "no Fulcio CA of the trusted root issued the leaf";
    size_t i;

    *ca_out = NULL;
    if (leaf == NULL) {
        return pg_sig_fail(err, PG_SIG_ECHAIN, STEP, "bundle has no "
            "certificate");
    }
    if (leaf->unknown_critical) {
        return pg_sig_fail(err, PG_SIG_ECHAIN, STEP, "leaf has an "
            "unhandled critical extension");
    }
    for (i = 0; i < root->ncas; i++) {
        const struct pg_sig_ca *ca = &root->cas[i];

        if (!ca->links_ok || !names_issuer(ca, leaf)) {
            continue;
        }
        if (!times_ok(ca, leaf, times, ntimes, why, sizeof(why))) {
            continue;
        }
        if (!pg_sig_pkey_verify_v(ca->vctx, 3,
                X509_get0_pubkey(ca->certs[0]), leaf->md, leaf->tbs,
                leaf->tbs_len, leaf->sig, leaf->sig_len))
        {
            snprintf(why, sizeof(why), "leaf signature does not verify with "
                "the CA key");
            continue;
        }
        *ca_out = ca;
        return PG_SIG_OK;
    }
    return pg_sig_fail(err, PG_SIG_ECHAIN, STEP, "%s", why);
}
