/* proxy/util/origin_int.h — origins (scheme, host, port) of upstream URLs.
 *
 * provgate connects only to origins it was told about: the upstream's own
 * and the file_hosts entries.  An origin is the triple RFC 6454 names:
 * scheme, host, port.  Comparing hosts alone let a page send provgate to
 * any other port of an allowed host (an internal admin endpoint, a port
 * scan), so every URL is reduced to its exact origin and compared whole.
 *
 * Parsing is libcurl's URL API, the parser libcurl itself uses when it
 * connects, so what is checked is what is connected to: scheme lower-cased,
 * host canonical (numeric IPv4 forms such as 2130706433 or 0x7f.1 become
 * dotted quads, IPv6 is compressed and bracketed, names lower-cased),
 * port the effective one (the scheme's default when the URL has none).
 *
 * Owns: nothing (results are in the caller's structs; a canonical URL is
 * the caller's to free).  Runs on: either.
 * Spec: RFC 6454 §4; issue 10 item 1.
 */
#ifndef PG_ORIGIN_INT_H
#define PG_ORIGIN_INT_H

#define PG_ORIGIN_MAX_HOST 255      /* bytes of a canonical host, brackets
                                       of an IPv6 address included */

struct pg_origin {
    char scheme[8];                 /* "http" or "https" */
    char host[PG_ORIGIN_MAX_HOST + 1];
    int port;                       /* 1-65535 */
};

/* The origin of an absolute http(s) URL.  canon, if not NULL, gets the URL
 * as libcurl normalised it (malloc'd; the caller frees it): the string to
 * hand to libcurl, so that it connects where o says.  -1 (o and *canon
 * unset) if url does not parse as an absolute URL, its scheme is not http
 * or https, it has no host, or the host is too long. */
int pg_origin_from_url(const char *url, struct pg_origin *o, char **canon);

/* A file_hosts entry: "host", "host:port", "[v6]" or "[v6]:port".  Fills
 * o->host (canonical, as above) and o->port (0 when the entry names
 * none); o->scheme is left empty.  -1 if the entry is not of that form. */
int pg_origin_from_host_entry(const char *entry, struct pg_origin *o);

/* 1 if a and b are the same origin (scheme, host and port all equal). */
int pg_origin_equal(const struct pg_origin *a, const struct pg_origin *b);

#endif
