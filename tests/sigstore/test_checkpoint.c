/* tests/sigstore/test_checkpoint.c — signed-note checkpoints (V5c).
 *
 * Notes are built and signed here (Ed25519 as Rekor v2, ECDSA P-256 as
 * Rekor v1) so each parsing rule can be broken on its own: blank line,
 * final newline, three body lines, numeric size, 32-byte root, em-dash
 * signature lines, key hint and name matching, unknown lines skipped,
 * a bad known signature fatal, and the signature-line and size limits at
 * the limit and one over.
 */
#include "sig_test.h"

#include "sig_int.h"

#define ROOT_B64 "rs1YPY0ydAV0lxgfrq5pE4oRpUJwo3syeps5+eGUTDI="

static struct pg_sig_log ed_log, ec_log;

static int
setup(void **state)
{
    (void) state;
    memset(&ed_log, 0, sizeof(ed_log));
    snprintf(ed_log.name, sizeof(ed_log.name), "log.example");
    ed_log.key = pg_test_key("ed25519");
    ed_log.keytype = PG_SIG_KEY_ED25519;
    memcpy(ed_log.log_id, "\x01\x02\x03\x04", 4);
    memset(&ec_log, 0, sizeof(ec_log));
    snprintf(ec_log.name, sizeof(ec_log.name), "rekor.example");
    ec_log.key = pg_test_key("P-256");
    ec_log.keytype = PG_SIG_KEY_EC_P256;
    memcpy(ec_log.log_id, "\xaa\xbb\xcc\xdd", 4);
    return 0;
}

static int
teardown(void **state)
{
    (void) state;
    EVP_PKEY_free(ed_log.key);
    EVP_PKEY_free(ec_log.key);
    return 0;
}

/* "— name b64(hint||sig)\n" signing text with log's key (or other). */
static void
sig_line(const struct pg_sig_log *log, EVP_PKEY *key, const char *name,
    const unsigned char *hint, const char *text, char *out, size_t cap)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    unsigned char raw[200];
    size_t slen = sizeof(raw) - 4;
    char *b64;

    memcpy(raw, hint != NULL ? hint : log->log_id, 4);
    assert_int_equal(EVP_DigestSignInit(c, NULL,
        log->keytype == PG_SIG_KEY_ED25519 ? NULL : EVP_sha256(), NULL,
        key != NULL ? key : log->key), 1);
    assert_int_equal(EVP_DigestSign(c, raw + 4, &slen,
        (const unsigned char *) text, strlen(text)), 1);
    EVP_MD_CTX_free(c);
    b64 = pg_sig_b64_encode(raw, slen + 4);
    snprintf(out, cap, "\xe2\x80\x94 %s %s\n", name != NULL ? name
        : log->name, b64);
    free(b64);
}

static int
check(const char *note, const struct pg_sig_log *log,
    struct pg_sig_checkpoint *cp, struct pg_sig_err *err)
{
    struct pg_sig_limits l;

    pg_sig_limits_default(&l);
    pg_sig_err_init(err);
    return pg_sig_checkpoint_verify(note, strlen(note), log, &l, cp, err);
}

static void
valid_ed25519_checkpoint_is_parsed(void **state)
{
    const char *text = "log.example\n736\n" ROOT_B64 "\n";
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char line[300], note[600];

    (void) state;
    sig_line(&ed_log, NULL, NULL, NULL, text, line, sizeof(line));
    snprintf(note, sizeof(note), "%s\n%s", text, line);
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_OK);
    assert_string_equal(cp.origin, "log.example");
    assert_int_equal(cp.size, 736);
    assert_int_equal(cp.root_hash[0], 0xae);
}

static void
rekor_v1_ecdsa_with_extension_line_verifies(void **state)
{
    const char *text = "rekor.example - 2605736670972794746\n42\n" ROOT_B64
        "\nTimestamp: 1733354041000000000\n";
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char line[300], note[700];

    (void) state;
    sig_line(&ec_log, NULL, NULL, NULL, text, line, sizeof(line));
    snprintf(note, sizeof(note), "%s\n%s", text, line);
    assert_int_equal(check(note, &ec_log, &cp, &err), PG_SIG_OK);
    assert_string_equal(cp.origin, "rekor.example - 2605736670972794746");
}

static void
unknown_cosignature_before_log_line_is_skipped(void **state)
{
    const char *text = "log.example\n736\n" ROOT_B64 "\n";
    EVP_PKEY *other = pg_test_key("ed25519");
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char l1[300], l2[300], note[900];

    (void) state;
    sig_line(&ed_log, other, "witness.example",
        (const unsigned char *) "\x09\x09\x09\x09", text, l1, sizeof(l1));
    sig_line(&ed_log, NULL, NULL, NULL, text, l2, sizeof(l2));
    snprintf(note, sizeof(note), "%s\n%s%s", text, l1, l2);
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_OK);
    EVP_PKEY_free(other);
}

static void
only_unknown_signatures_are_rejected(void **state)
{
    const char *text = "log.example\n736\n" ROOT_B64 "\n";
    EVP_PKEY *other = pg_test_key("ed25519");
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char l1[300], note[600];

    (void) state;
    /* right name, wrong hint: not the log's key, so skipped */
    sig_line(&ed_log, other, NULL, (const unsigned char *) "\x09\x09\x09\x09",
        text, l1, sizeof(l1));
    snprintf(note, sizeof(note), "%s\n%s", text, l1);
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_ETLOG);
    assert_string_equal(err.step, "checkpoint");
    assert_non_null(strstr(err.reason, "no signature by the log"));
    EVP_PKEY_free(other);
}

static void
bad_signature_by_the_log_key_is_rejected(void **state)
{
    const char *text = "log.example\n736\n" ROOT_B64 "\n";
    EVP_PKEY *other = pg_test_key("ed25519");
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char l1[300], l2[300], note[900];

    (void) state;
    /* the log's name and hint, another key's signature */
    sig_line(&ed_log, other, NULL, NULL, text, l1, sizeof(l1));
    sig_line(&ed_log, NULL, NULL, NULL, text, l2, sizeof(l2));
    snprintf(note, sizeof(note), "%s\n%s%s", text, l1, l2);
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_ETLOG);
    assert_non_null(strstr(err.reason, "does not verify"));
    EVP_PKEY_free(other);
}

static void
malformed_notes_are_rejected(void **state)
{
    static const struct {
        const char *note;
        const char *reason;
    } cases[] = {
        { "log.example\n736\n" ROOT_B64 "\n", "exactly one blank line" },
        { "log.example\n736\n" ROOT_B64 "\n\n\n", "exactly one blank line" },
        { "log.example\n736\n" ROOT_B64 "\n\n\xe2\x80\x94 log.example AQID",
          "end in a newline" },
        { "736\n" ROOT_B64 "\n\n\xe2\x80\x94 x AQIDBAU=\n", "bad tree size" },
        { "log.example\n" ROOT_B64 "\n\n\xe2\x80\x94 x AQIDBAU=\n",
          "bad tree size" },
        { "log.example\n736\n\n\xe2\x80\x94 x AQIDBAU=\n", "needs origin" },
        { "log.example\n73x\n" ROOT_B64 "\n\n\xe2\x80\x94 x AQIDBAU=\n",
          "bad tree size" },
        { "log.example\n736\nAAAA\n\n\xe2\x80\x94 x AQIDBAU=\n",
          "bad root hash" },
        { "log.example\n736\n" ROOT_B64 "\n\n- x AQIDBAU=\n",
          "malformed signature line" },
        { "log.example\n736\n" ROOT_B64 "\n\n\xe2\x80\x94 x AQID\n",
          "fewer than 5 bytes" },
        { "log.example\n736\n" ROOT_B64 "\n\n\xe2\x80\x94 AQIDBAU=\n",
          "without key name" },
        { "log.example\n736\n" ROOT_B64 "\n\n", "no signature lines" },
    };
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    size_t i;

    (void) state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(check(cases[i].note, &ed_log, &cp, &err),
            PG_SIG_ETLOG);
        if (strstr(err.reason, cases[i].reason) == NULL) {
            fail_msg("case %zu: reason '%s' lacks '%s'", i, err.reason,
                cases[i].reason);
        }
    }
}

/* A note whose signature block holds n lines: the log's one first, then
 * n - 1 unknown cosignatures. */
static char *
note_with_lines(size_t n)
{
    const char *text = "log.example\n736\n" ROOT_B64 "\n";
    char line[300];
    size_t cap = 600 + n * 100, len, i;
    char *note = malloc(cap);

    assert_non_null(note);
    sig_line(&ed_log, NULL, NULL, NULL, text, line, sizeof(line));
    len = (size_t) snprintf(note, cap, "%s\n%s", text, line);
    for (i = 1; i < n; i++) {
        len += (size_t) snprintf(note + len, cap - len,
            "\xe2\x80\x94 w%zu AQIDBAUG\n", i);
    }
    return note;
}

static void
signature_lines_at_limit_are_accepted(void **state)
{
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char *note = note_with_lines(PG_SIG_MAX_NOTE_SIGS);

    (void) state;
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_OK);
    free(note);
}

static void
signature_lines_over_limit_are_rejected(void **state)
{
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char *note = note_with_lines(PG_SIG_MAX_NOTE_SIGS + 1);

    (void) state;
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_ELIMIT);
    free(note);
}

/* Pads the note with extension lines to exactly len bytes. */
static char *
note_of_size(size_t want)
{
    const char *head = "log.example\n736\n" ROOT_B64 "\n";
    char line[300], *note = malloc(want + 1), *text;
    size_t pad, hl = strlen(head), ll;

    assert_non_null(note);
    /* the signature line is the same length whatever the text is */
    sig_line(&ed_log, NULL, NULL, NULL, head, line, sizeof(line));
    ll = strlen(line);
    pad = want - hl - ll - 2;       /* "x...x\n" extension + blank line */
    text = malloc(hl + pad + 3);
    assert_non_null(text);
    memcpy(text, head, hl);
    memset(text + hl, 'x', pad);
    text[hl + pad] = '\n';
    text[hl + pad + 1] = '\0';
    sig_line(&ed_log, NULL, NULL, NULL, text, line, sizeof(line));
    snprintf(note, want + 1, "%s\n%s", text, line);
    free(text);
    assert_int_equal(strlen(note), want);
    return note;
}

static void
checkpoint_at_size_limit_is_accepted(void **state)
{
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char *note = note_of_size(PG_SIG_MAX_CHECKPOINT_BYTES);

    (void) state;
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_OK);
    free(note);
}

static void
checkpoint_over_size_limit_is_rejected(void **state)
{
    struct pg_sig_checkpoint cp;
    struct pg_sig_err err;
    char *note = note_of_size(PG_SIG_MAX_CHECKPOINT_BYTES + 1);

    (void) state;
    assert_int_equal(check(note, &ed_log, &cp, &err), PG_SIG_ELIMIT);
    free(note);
}

int
main(int argc, char **argv)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(valid_ed25519_checkpoint_is_parsed),
        T(rekor_v1_ecdsa_with_extension_line_verifies),
        T(unknown_cosignature_before_log_line_is_skipped),
        T(only_unknown_signatures_are_rejected),
        T(bad_signature_by_the_log_key_is_rejected),
        T(malformed_notes_are_rejected),
        T(signature_lines_at_limit_are_accepted),
        T(signature_lines_over_limit_are_rejected),
        T(checkpoint_at_size_limit_is_accepted),
        T(checkpoint_over_size_limit_is_rejected),
    };

    return pg_test_run(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
