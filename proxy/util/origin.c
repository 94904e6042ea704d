/* proxy/util/origin.c — origins (scheme, host, port) of upstream URLs.
 *
 * Both entry points parse with libcurl's URL API (see origin_int.h for
 * why) and copy out the three parts; a file_hosts entry is parsed as the
 * authority of an https URL, after refusing every character that would
 * make it more than an authority (path, query, userinfo, escapes).
 *
 * Owns: nothing.  Runs on: either.
 * Spec: RFC 6454 §4; issue 10 item 1.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "origin_int.h"

static int origin_copy_host(CURLU *u, struct pg_origin *o);
static int origin_port(CURLU *u, unsigned flags, int *port);

/* o->host = the URL's host, lower-cased.  -1 if none or too long. */
static int
origin_copy_host(CURLU *u, struct pg_origin *o)
{
    char *host = NULL;
    size_t i, n;
    int rc = -1;

    if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
        n = strlen(host);
        if (n > 0 && n <= PG_ORIGIN_MAX_HOST) {
            for (i = 0; i < n; i++) {
                o->host[i] = (char)tolower((unsigned char)host[i]);
            }
            o->host[n] = '\0';
            rc = 0;
        }
    }
    curl_free(host);
    return rc;
}

/* *port = the URL's port (with CURLU_DEFAULT_PORT: the scheme's default
 * when none is written), 0 when there is none.  -1 if out of range. */
static int
origin_port(CURLU *u, unsigned flags, int *port)
{
    char *p = NULL, *end = NULL;
    CURLUcode rc = curl_url_get(u, CURLUPART_PORT, &p, flags);
    long v;

    *port = 0;
    if (rc == CURLUE_NO_PORT) {
        return 0;
    }
    if (rc != CURLUE_OK) {
        return -1;
    }
    v = strtol(p, &end, 10);
    rc = end == p || *end != '\0' || v < 1 || v > 65535
        ? CURLUE_BAD_PORT_NUMBER : CURLUE_OK;
    curl_free(p);
    if (rc != CURLUE_OK) {
        return -1;
    }
    *port = (int)v;
    return 0;
}

int
pg_origin_from_url(const char *url, struct pg_origin *o, char **canon)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *full = NULL;
    struct pg_origin tmp;
    int rc = -1;

    memset(&tmp, 0, sizeof(tmp));
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK)
    {
        goto done;
    }
    /* libcurl lower-cases the scheme it stores */
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        goto done;
    }
    memcpy(tmp.scheme, scheme, strlen(scheme) + 1);
    if (origin_copy_host(u, &tmp) != 0
        || origin_port(u, CURLU_DEFAULT_PORT, &tmp.port) != 0
        || tmp.port == 0)
    {
        goto done;
    }
    if (canon != NULL) {
        if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
            goto done;
        }
        *canon = strdup(full);
        if (*canon == NULL) {
            goto done;
        }
    }
    *o = tmp;
    rc = 0;
done:
    curl_free(scheme);
    curl_free(full);
    curl_url_cleanup(u);
    return rc;
}

int
pg_origin_from_host_entry(const char *entry, struct pg_origin *o)
{
    char buf[PG_ORIGIN_MAX_HOST + 32];
    struct pg_origin tmp;
    size_t n = strlen(entry), i;
    CURLU *u;
    int rc = -1;

    if (n == 0 || n > PG_ORIGIN_MAX_HOST + 6 || entry[n - 1] == ':') {
        return -1;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)entry[i];

        /* an authority's host and port only: no userinfo, path, query,
         * fragment, escape, space or control character */
        if (c <= ' ' || c >= 0x7f || strchr("/?#@%\\", c) != NULL) {
            return -1;
        }
    }
    snprintf(buf, sizeof(buf), "https://%s/", entry);
    memset(&tmp, 0, sizeof(tmp));
    u = curl_url();
    if (u != NULL && curl_url_set(u, CURLUPART_URL, buf, 0) == CURLUE_OK
        && origin_copy_host(u, &tmp) == 0
        && origin_port(u, 0, &tmp.port) == 0)
    {
        *o = tmp;
        rc = 0;
    }
    curl_url_cleanup(u);
    return rc;
}

int
pg_origin_equal(const struct pg_origin *a, const struct pg_origin *b)
{
    return a->port == b->port && strcmp(a->scheme, b->scheme) == 0
        && strcmp(a->host, b->host) == 0;
}
