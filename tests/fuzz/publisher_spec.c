/* tests/fuzz/publisher_spec.c — libFuzzer: publisher SPEC strings.
 *
 * Input: one "github:…", "gitlab:…" or "google:…" string (administrator
 * input from the policy file and the command line).  Parses it, formats it
 * back, re-parses the result and requires a match with the first parse.
 * Entry points: pg_publisher_parse, pg_publisher_format,
 * pg_publisher_match.
 * Runs on: the fuzzer.  Spec: design §6, issue 3 §5.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_util.h"
#include "pg_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pg_publisher a, b;
    char reason[160], out[1024];
    char *spec;
    int n;

    if (size > 4096)
        return 0;
    spec = fuzz_strdup(data, size);
    if (pg_publisher_parse(spec, &a, reason, sizeof reason) == 0) {
        n = pg_publisher_format(&a, out, sizeof out);
        if (n > 0 && (size_t) n < sizeof out) {
            /* what we print we must read back as the same publisher */
            if (pg_publisher_parse(out, &b, reason, sizeof reason) != 0
                || !pg_publisher_match(&a, &b))
                abort();
        }
    }
    free(spec);
    return 0;
}
