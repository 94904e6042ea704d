/* tests/fuzz/pep740_filename.c — libFuzzer: distribution file names.
 *
 * Input: two file names separated by a newline (a statement subject and
 * a distribution name).  Seeds: the file names of the PyPI vectors and
 * equal-after-parsing pairs.  Compares them in both orders and each with
 * itself: the relation must be symmetric, and a name that parses must
 * equal itself.
 * Entry point: pg_pep740_filename_match (wheel/sdist parsing, PEP 440).
 * Runs on: the fuzzer.  Spec: sigstore-verification §5 item 4.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "pg_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *a, *b;
    int ab, ba, aa;

    if (size > 4096)
        return 0;
    a = fuzz_strdup(data, size);
    b = strchr(a, '\n');
    if (b == NULL) {
        free(a);
        return 0;
    }
    *b++ = '\0';
    ab = pg_pep740_filename_match(a, b);
    ba = pg_pep740_filename_match(b, a);
    aa = pg_pep740_filename_match(a, a);
    if (ab != ba)
        abort();
    if (ab == 1 && aa != 1)
        abort();
    free(a);
    return 0;
}
