/* policy/sigstore/checkpoint.c — parse and verify a checkpoint (V5c).
 *
 * A checkpoint is a C2SP signed note: note text (origin, tree size, root
 * hash, optional extension lines), one blank line, then signature lines
 * "— <name> <base64(4-byte key hint || signature)>".  A line whose name and
 * hint are the log's (name = host of baseUrl, hint = first 4 bytes of the
 * log ID) must verify; every other line (witness cosignatures, other logs)
 * is skipped; at least one line of the log must verify.  The log's line
 * may be anywhere in the block.  Rekor v1 signs SHA-256(text) with ECDSA,
 * Rekor v2 signs the text with Ed25519.
 *
 * Owns: nothing beyond the call.  Borrows: the note text and the log.
 * Runs on: either.  Spec: sigstore-verification V5c, §7.17; C2SP
 * signed-note, tlog-checkpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "sig_int.h"

#define STEP "checkpoint"

/* Next line [*pos, nl) of s; 0 at the end. */
static int
next_line(const char *s, size_t len, size_t *pos, const char **line,
    size_t *llen)
{
    const char *nl;

    if (*pos >= len) {
        return 0;
    }
    nl = memchr(s + *pos, '\n', len - *pos);
    if (nl == NULL) {
        return -1;
    }
    *line = s + *pos;
    *llen = (size_t) (nl - (s + *pos));
    *pos = (size_t) (nl - s) + 1;
    return 1;
}

static int
parse_body(const char *text, size_t tlen, struct pg_sig_checkpoint *out,
    struct pg_sig_err *err)
{
    const char *line;
    size_t pos = 0, llen, i;
    int n = 0;

    while (next_line(text, tlen, &pos, &line, &llen) == 1) {
        if (llen == 0) {
            return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "empty line in note "
                "text");
        }
        if (n == 0) {
            if (llen >= sizeof(out->origin)) {
                return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "origin too "
                    "long");
            }
            memcpy(out->origin, line, llen);
            out->origin[llen] = '\0';
        } else if (n == 1) {
            int64_t v = 0;

            if (llen > 19) {
                return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "bad tree size");
            }
            for (i = 0; i < llen; i++) {
                if (line[i] < '0' || line[i] > '9') {
                    return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "bad tree "
                        "size");
                }
                v = v * 10 + (line[i] - '0');
            }
            out->size = v;
        } else if (n == 2) {
            if (pg_sig_b64_decode_fixed(line, llen, out->root_hash, 32)
                != 0)
            {
                return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "bad root hash "
                    "line");
            }
        }
        n++;
    }
    if (n < 3) {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "note has %d lines, "
            "needs origin, size and root hash", n);
    }
    return PG_SIG_OK;
}

static int
verify_line(const struct pg_sig_log *log, const char *text, size_t tlen,
    const unsigned char *sig, size_t slen)
{
    if (log->keytype == PG_SIG_KEY_ED25519) {
        return pg_sig_pkey_verify(log->key, NULL,
            (const unsigned char *) text, tlen, sig, slen);
    }
    return pg_sig_pkey_verify_v(&log->vctx, 1, log->key, EVP_sha256(),
        (const unsigned char *) text, tlen, sig, slen);
}

int
pg_sig_checkpoint_verify(const char *note, size_t len,
    const struct pg_sig_log *log, const struct pg_sig_limits *limits,
    struct pg_sig_checkpoint *out, struct pg_sig_err *err)
{
    const char *sep, *line;
    size_t tlen, pos, llen, nlines = 0, namelen = strlen(log->name);
    int rc, verified = 0;

    memset(out, 0, sizeof(*out));
    if (len > limits->checkpoint_bytes) {
        return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "checkpoint longer "
            "than %zu bytes", limits->checkpoint_bytes);
    }
    sep = memmem(note, len, "\n\n", 2);
    if (sep == NULL || memmem(sep + 1, len - (size_t) (sep + 1 - note),
            "\n\n", 2) != NULL)
    {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "note must contain "
            "exactly one blank line");
    }
    if (len == 0 || note[len - 1] != '\n') {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "note does not end in "
            "a newline");
    }
    tlen = (size_t) (sep - note) + 1;
    rc = parse_body(note, tlen, out, err);
    if (rc != PG_SIG_OK) {
        return rc;
    }
    pos = tlen + 1;
    while ((rc = next_line(note, len, &pos, &line, &llen)) == 1) {
        unsigned char *raw = NULL;
        const char *name, *sp;
        size_t rawlen, nlen;

        if (++nlines > limits->note_sigs) {
            return pg_sig_fail(err, PG_SIG_ELIMIT, STEP, "more than %zu "
                "signature lines", limits->note_sigs);
        }
        /* "\xe2\x80\x94 " = U+2014 EM DASH, space */
        if (llen < 4 || memcmp(line, "\xe2\x80\x94 ", 4) != 0) {
            return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "malformed "
                "signature line");
        }
        name = line + 4;
        sp = memchr(name, ' ', llen - 4);
        if (sp == NULL || sp == name) {
            return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "signature line "
                "without key name");
        }
        nlen = (size_t) (sp - name);
        if (pg_sig_b64_decode(sp + 1, (size_t) (line + llen - sp - 1),
                limits->checkpoint_bytes, &raw, &rawlen) != 0
            || rawlen < 5)
        {
            free(raw);
            return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "signature line "
                "with bad base64 or fewer than 5 bytes");
        }
        if (nlen == namelen && memcmp(name, log->name, nlen) == 0
            && memcmp(raw, log->log_id, 4) == 0)
        {
            int ok = verify_line(log, note, tlen, raw + 4, rawlen - 4);

            free(raw);
            if (!ok) {
                return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "checkpoint "
                    "signature by %.60s does not verify", log->name);
            }
            verified++;
            continue;
        }
        free(raw);
    }
    if (rc < 0) {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "signature block does "
            "not end in a newline");
    }
    if (nlines == 0) {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "note has no signature "
            "lines");
    }
    if (verified == 0) {
        return pg_sig_fail(err, PG_SIG_ETLOG, STEP, "no signature by the "
            "log's key (name %.60s, key hint)", log->name);
    }
    return PG_SIG_OK;
}
