/* tests/fuzz/fuzz_util.h — what every libFuzzer target shares.
 *
 * The production trust root is loaded once per process (the compiled-in
 * copy of conf/trusted_root.prod.json) and kept for the whole run: it is
 * read-only, so sharing it across inputs is what the proxy does too.
 * Digests below are of real vector files, so the unmodified seeds travel
 * the whole verification path and mutations start from deep states.
 *
 * Owns: the cached root (never freed: reachable until exit, not a leak).
 * Runs on: the fuzzer's thread.  Spec: docs/style.md "Fuzzing".
 */
#ifndef PG_FUZZ_UTIL_H
#define PG_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_sigstore.h"

/* sha256 of ../shared/vectors/conformance/a.txt (the conformance default
 * artifact) and of pypi/pypi_attestations-0.0.19.tar.gz. */
static const unsigned char fuzz_sha_a_txt[32] = {
    0xa0, 0xcf, 0xc7, 0x12, 0x71, 0xd6, 0xe2, 0x78, 0xe5, 0x7c, 0xd3, 0x32,
    0xff, 0x95, 0x7c, 0x3f, 0x70, 0x43, 0xfd, 0xda, 0x35, 0x4c, 0x4c, 0xbb,
    0x19, 0x0a, 0x30, 0xd5, 0x6e, 0xfa, 0x01, 0xbf
};
static const unsigned char fuzz_sha_pypi_attestations[32] = {
    0x9b, 0xb1, 0xad, 0xd0, 0x4b, 0x1b, 0x4e, 0x18, 0x2b, 0xe6, 0xb0, 0xb8,
    0x09, 0x31, 0x59, 0x3f, 0x7a, 0x29, 0x1e, 0xb4, 0x9d, 0x69, 0xb4, 0xfd,
    0x72, 0x8a, 0x5d, 0x4c, 0xbc, 0xdc, 0x4b, 0xd3
};

static inline const struct pg_sig_trust_root *
fuzz_prod_root(void)
{
    static struct pg_sig_trust_root *root;
    struct pg_sig_err err;

    if (root == NULL && pg_sig_trust_root_builtin(0, &root, &err) != 0) {
        fprintf(stderr, "fuzz: builtin root: %s: %s\n", err.step,
            err.reason);
        abort();
    }
    return root;
}

/* A NUL-terminated heap copy of the input (caller frees). */
static inline char *
fuzz_strdup(const unsigned char *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

#endif
