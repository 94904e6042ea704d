/* tests/sigstore/test_json_bulk.c — pg_sig_json_load parses like jansson.
 *
 * pg_sig_json_load hands jansson a copy of the document with long base64
 * string values replaced by stand-ins and puts the texts back afterwards
 * (policy/sigstore/encoding.c, the verifier's main speed-up next to the
 * signature checks).  Its result must be exactly jansson's on the document
 * itself: the same tree (json_equal) when jansson accepts the document, a
 * failure when jansson rejects it.  Checked on every JSON vector under
 * ${PG_SHARED_DIR}/vectors plus the Rekor bodies inside the PyPI
 * provenance files, on synthetic documents at the edges (bulk length
 * PG_SIG_JSON_BULK_MIN - 1 and MIN, PG_SIG_JSON_BULK_MAX and MAX + 1
 * strings, long keys, duplicate long keys, a document's own "\u0001" text)
 * and on every one-byte change of a small document with bulk strings in
 * values, keys, arrays and nested objects.
 *
 * Usage: test-json-bulk CASE (one ctest per case, sigstore.<case>).
 * Owns: everything it allocates.  Runs on: its own thread.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pg_sigstore.h"
#include "sig_int.h"

#define MAX_FILE (4u * 1024u * 1024u)

static int failures;

/* 1 if pg_sig_json_load and jansson agree on doc, else 0 (and a message). */
static int
same_as_jansson(const char *doc, size_t len, const char *what)
{
    struct pg_sig_limits lim;
    struct pg_sig_err err;
    json_t *a, *b;
    int ok;

    pg_sig_limits_default(&lim);
    pg_sig_err_init(&err);
    a = pg_sig_json_load(doc, len, &lim, "test", &err);
    b = json_loadb(doc, len, JSON_REJECT_DUPLICATES, NULL);
    if (b != NULL && !json_is_object(b)) {
        json_decref(b);
        b = NULL;
    }
    if (a == NULL && b != NULL && err.code == PG_SIG_ELIMIT) {
        ok = 1;     /* the depth pre-scan is stricter than jansson: fine */
    } else {
        ok = (a == NULL) == (b == NULL) && (a == NULL || json_equal(a, b));
    }
    if (!ok) {
        fprintf(stderr, "MISMATCH %s: pg_sig_json_load %s, jansson %s\n",
            what, a != NULL ? "parsed" : err.reason,
            b != NULL ? "parsed" : "failed");
        failures++;
    }
    json_decref(a);
    json_decref(b);
    return ok;
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n = -1;

    if (f == NULL) {
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0) {
        n = ftell(f);
    }
    if (n < 0 || (unsigned long) n > MAX_FILE || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    buf = malloc((size_t) n + 1);
    if (buf == NULL || fread(buf, 1, (size_t) n, f) != (size_t) n) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[n] = '\0';
    fclose(f);
    *len = (size_t) n;
    return buf;
}

/* Checks every canonicalizedBody (base64 Rekor body) found in tree j. */
static int
check_bodies(json_t *j, const char *what, int depth)
{
    const char *key;
    json_t *v;
    size_t i;
    int n = 0;

    if (depth > PG_SIG_MAX_JSON_DEPTH) {
        return 0;
    }
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) {
            n += check_bodies(v, what, depth + 1);
        }
    }
    json_object_foreach(j, key, v) {
        unsigned char *body;
        size_t blen;

        if (strcmp(key, "canonicalizedBody") == 0 && json_is_string(v)
            && pg_sig_b64_decode(json_string_value(v), json_string_length(v),
                PG_SIG_MAX_B64_CHARS, &body, &blen) == 0) {
            same_as_jansson((const char *) body, blen, what);
            free(body);
            n++;
        } else {
            n += check_bodies(v, what, depth + 1);
        }
    }
    return n;
}

/* Every JSON file below dir (bounded depth), and the Rekor bodies in it. */
static int
walk_vectors(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (d == NULL || depth > 4) {
        if (d != NULL) {
            closedir(d);
        }
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        size_t len;
        char *doc;
        json_t *j;

        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (e->d_type == DT_DIR) {
            n += walk_vectors(path, depth + 1);
            continue;
        }
        doc = read_file(path, &len);
        if (doc == NULL || len == 0 || (doc[0] != '{' && doc[0] != '[')) {
            free(doc);
            continue;
        }
        same_as_jansson(doc, len, path);
        n++;
        j = json_loadb(doc, len, 0, NULL);
        n += check_bodies(j, path, 0);
        json_decref(j);
        free(doc);
    }
    closedir(d);
    return n;
}

static int
real_vectors(void)
{
    const char *shared = getenv("PG_SHARED_DIR");
    char dir[4096];
    int n;

    if (shared == NULL || shared[0] == '\0') {
        printf("PG_SHARED_DIR not set: no vectors to compare\n");
        return 77;
    }
    snprintf(dir, sizeof(dir), "%s/vectors", shared);
    n = walk_vectors(dir, 0);
    if (n == 0) {
        printf("%s: no JSON vectors found\n", dir);
        return 77;
    }
    printf("%d documents compared\n", n);
    return 0;
}

/* n base64 characters (a varying alphabet run) at p; returns p + n. */
static char *
put_b64(char *p, size_t n, unsigned seed)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "abcdefghijklmnopqrstuvwxyz0123456789+/-_";
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] = abc[(i * 7 + seed) % (sizeof(abc) - 1)];
    }
    if (n > 0) {
        p[n - 1] = '=';
    }
    return p + n;
}

/* {"s0":"<len b64>", ..., "s<count-1>": ...} and agreement on it. */
static void
many_strings(size_t count, size_t len)
{
    size_t cap = count * (len + 32) + 16, i;
    char *doc = malloc(cap), *p = doc, what[64];

    *p++ = '{';
    for (i = 0; i < count; i++) {
        p += snprintf(p, cap - (size_t) (p - doc), "%s\"s%zu\":\"",
            i > 0 ? "," : "", i);
        p = put_b64(p, len, (unsigned) i);
        *p++ = '"';
    }
    *p++ = '}';
    snprintf(what, sizeof(what), "%zu strings of %zu", count, len);
    same_as_jansson(doc, (size_t) (p - doc), what);
    free(doc);
}

static int
edges(void)
{
    char doc[4096], *p;

    many_strings(1, PG_SIG_JSON_BULK_MIN - 1);
    many_strings(1, PG_SIG_JSON_BULK_MIN);
    many_strings(PG_SIG_JSON_BULK_MAX, PG_SIG_JSON_BULK_MIN);
    many_strings(PG_SIG_JSON_BULK_MAX + 1, PG_SIG_JSON_BULK_MIN);
    many_strings(3 * PG_SIG_JSON_BULK_MAX, 300);

    /* a long base64 key (never replaced), twice: jansson rejects it */
    p = doc;
    p += snprintf(p, 8, "{\"");
    p = put_b64(p, 200, 1);
    p += snprintf(p, 8, "\":1,\"");
    p = put_b64(p, 200, 1);
    p += snprintf(p, 8, "\":2}");
    same_as_jansson(doc, (size_t) (p - doc), "duplicate long keys");
    p[-2] = '3';
    doc[5] = 'x';
    same_as_jansson(doc, (size_t) (p - doc), "two long keys");

    /* the document's own "\u0001" text next to bulk strings */
    p = doc;
    p += snprintf(p, 32, "{\"a\":\"\\u00010\",\"b\":\"");
    p = put_b64(p, 300, 2);
    p += snprintf(p, 32, "\",\"c\":[\"\\u00011\"]}");
    same_as_jansson(doc, (size_t) (p - doc), "own \\u0001 strings");

    /* bulk string then a colon (a key in a bad place), and whitespace */
    p = doc;
    p += snprintf(p, 32, "{\"a\":[\"");
    p = put_b64(p, 300, 3);
    p += snprintf(p, 32, "\" \n\t: 1]}");
    same_as_jansson(doc, (size_t) (p - doc), "bulk string before colon");
    p = doc;
    p += snprintf(p, 32, "{\"a\" : \"");
    p = put_b64(p, 300, 4);
    p += snprintf(p, 32, "\" \r\n}");
    same_as_jansson(doc, (size_t) (p - doc), "bulk string and whitespace");

    /* unterminated bulk string */
    p = doc;
    p += snprintf(p, 32, "{\"a\":\"");
    p = put_b64(p, 300, 5);
    same_as_jansson(doc, (size_t) (p - doc), "unterminated");
    return 0;
}

static int
one_byte_changes(void)
{
    static const char subst[] = { '"', '\\', ':', ',', '{', '}', '[', ']',
        ' ', 'A', '=', '0', 'u', '\n', '\001', '\x7f', '\xc3', '\xff' };
    char base[2048], doc[2048], *p = base;
    size_t len, i, k;
    int before = failures;

    p += snprintf(p, 64, "{\"cert\":\"");
    p = put_b64(p, 160, 1);
    p += snprintf(p, 64, "\",\"list\":[\"");
    p = put_b64(p, 130, 2);
    p += snprintf(p, 64, "\",1,\"x\",{\"");
    p = put_b64(p, 140, 3);
    p += snprintf(p, 64, "\":\"");
    p = put_b64(p, 128, 4);
    p += snprintf(p, 64, "\"}],\"esc\":\"a\\\"");
    p = put_b64(p, 140, 5);
    p += snprintf(p, 64, "\",\"n\":null}");
    len = (size_t) (p - base);
    if (!same_as_jansson(base, len, "mutation base")) {
        return 1;
    }
    for (i = 0; i < len; i++) {
        for (k = 0; k < sizeof(subst); k++) {
            char what[64];

            memcpy(doc, base, len);
            doc[i] = subst[k];
            snprintf(what, sizeof(what), "byte %zu = 0x%02x", i,
                (unsigned) (unsigned char) subst[k]);
            same_as_jansson(doc, len, what);
        }
        memcpy(doc, base, len);
        same_as_jansson(doc, i, "truncated");
        memcpy(doc, base, i);
        memcpy(doc + i, base + i + 1, len - i - 1);
        same_as_jansson(doc, len - 1, "byte deleted");
    }
    printf("%zu positions x %zu changes compared\n", len, sizeof(subst) + 2);
    return failures > before;
}

int
main(int argc, char **argv)
{
    int rc;

    if (argc != 2) {
        fprintf(stderr, "usage: test-json-bulk CASE\n");
        return 2;
    }
    if (strcmp(argv[1], "json_load_matches_jansson_on_vectors") == 0) {
        rc = real_vectors();
    } else if (strcmp(argv[1], "json_load_matches_jansson_at_edges") == 0) {
        rc = edges();
    } else if (strcmp(argv[1],
            "json_load_matches_jansson_on_one_byte_changes") == 0) {
        rc = one_byte_changes();
    } else {
        fprintf(stderr, "test-json-bulk: unknown case %s\n", argv[1]);
        return 2;
    }
    if (failures > 0) {
        fprintf(stderr, "%d mismatches\n", failures);
        return 1;
    }
    return rc;
}
