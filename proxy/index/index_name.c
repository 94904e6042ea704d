/* proxy/index/index_name.c — project names (PEP 503/508) and filename versions.
 *
 * A project name is valid when it matches PEP 508's name rule
 * (^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$, case-insensitive) and is at
 * most PG_INDEX_MAX_NAME bytes; its PEP 503 normal form lower-cases it and
 * turns each run of "-", "_" and "." into one "-".  The version of a
 * distribution filename is found by matching the normalized project name
 * against each "-"-separated prefix of the filename's stem, so names that
 * contain "-" (sdists keep them) split at the right place.
 *
 * Owns: nothing.  Borrows: its string arguments.  Runs on: either.
 * Spec: PEP 503 (normalized names), PEP 508 (names), PEP 427 / binary
 * distribution format (wheel names), sdist naming; design §5 /integrity/.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "index_int.h"

static int is_sep(char c);
static int name_norm_eq(const char *s, size_t n, const char *norm);
static int version_ok(const char *s, size_t n);
static int copy_out(const char *s, size_t n, char *out, size_t outlen);

static int
is_sep(char c)
{
    return c == '-' || c == '_' || c == '.';
}

int
pg_index_normalize(const char *name, char *out, size_t outlen)
{
    size_t n, i, o = 0;

    if (name == NULL || out == NULL || outlen == 0)
        return -1;
    n = strlen(name);
    if (n == 0 || n > PG_INDEX_MAX_NAME)
        return -1;
    if (!isalnum((unsigned char) name[0])
        || !isalnum((unsigned char) name[n - 1]))
        return -1;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) name[i];

        if (c >= 0x80 || (!isalnum(c) && !is_sep((char) c)))
            return -1;
        if (is_sep((char) c)) {
            if (o > 0 && out[o - 1] == '-')
                continue;
            c = '-';
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char) tolower(c);
    }
    out[o] = '\0';
    return 0;
}

/* Whether the n bytes at s normalize to norm (already normalized). */
static int
name_norm_eq(const char *s, size_t n, const char *norm)
{
    char buf[PG_INDEX_MAX_NAME + 1];
    char tmp[PG_INDEX_MAX_NAME + 1];

    if (n == 0 || n > PG_INDEX_MAX_NAME)
        return 0;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (pg_index_normalize(tmp, buf, sizeof(buf)) != 0)
        return 0;
    return strcmp(buf, norm) == 0;
}

/* PEP 440 public and legacy versions use these characters only. */
static int
version_ok(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) s[i];

        if (!isalnum(c) && c != '.' && c != '+' && c != '!' && c != '_'
            && c != '-')
            return 0;
    }
    return isalnum((unsigned char) s[0]) && isalnum((unsigned char) s[n - 1]);
}

static int
copy_out(const char *s, size_t n, char *out, size_t outlen)
{
    if (n + 1 > outlen)
        return -1;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static const char *const sdist_ext[] = {
    ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tgz", ".tbz", ".tar",
    ".zip"
};

int
pg_index_filename_version(const char *filename, const char *project,
    char *out, size_t outlen)
{
    char norm[PG_INDEX_MAX_NAME + 1];
    size_t n, stem, i, vstart, vend;
    int wheel = 0, egg = 0;

    if (filename == NULL || project == NULL || out == NULL)
        return -1;
    if (pg_index_normalize(project, norm, sizeof(norm)) != 0)
        return -1;
    n = strlen(filename);
    if (n == 0 || n > PG_INDEX_MAX_FILENAME)
        return -1;
    stem = 0;
    if (n > 4 && strcasecmp(filename + n - 4, ".whl") == 0) {
        wheel = 1;
        stem = n - 4;
    } else if (n > 4 && strcasecmp(filename + n - 4, ".egg") == 0) {
        egg = 1;
        stem = n - 4;
    } else {
        for (i = 0; i < sizeof(sdist_ext) / sizeof(sdist_ext[0]); i++) {
            size_t el = strlen(sdist_ext[i]);

            if (n > el && strcasecmp(filename + n - el, sdist_ext[i]) == 0) {
                stem = n - el;
                break;
            }
        }
    }
    if (stem == 0)
        return -1;

    /* The name is the prefix before a "-" that normalizes to project. */
    vstart = 0;
    for (i = 1; i < stem; i++) {
        if (filename[i] == '-' && name_norm_eq(filename, i, norm)) {
            vstart = i + 1;
            break;
        }
    }
    if (vstart == 0) {
        /* A renamed project: wheels and eggs still have no "-" in the
         * name; an sdist's version is what follows its last "-". */
        const char *d;

        if (wheel || egg) {
            d = memchr(filename, '-', stem);
            if (d == NULL)
                return -1;
            vstart = (size_t) (d - filename) + 1;
        } else {
            for (i = stem; i > 0; i--)
                if (filename[i - 1] == '-')
                    break;
            if (i == 0)
                return -1;
            vstart = i;
        }
    }
    vend = stem;
    if (wheel || egg) {
        const char *d = memchr(filename + vstart, '-', stem - vstart);

        if (d != NULL)
            vend = (size_t) (d - filename);
        else if (wheel)
            return -1;
    }
    if (!version_ok(filename + vstart, vend - vstart))
        return -1;
    return copy_out(filename + vstart, vend - vstart, out, outlen);
}
