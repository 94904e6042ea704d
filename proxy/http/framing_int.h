/* proxy/http/framing_int.h — strict HTTP/1.1 framing (framing.c).
 *
 * What a request head says about its framing (header fields, Transfer-
 * Encoding, Content-Length, the target's form) and the one verdict both
 * front ends (evhttp in admit.c, h2o in front.c) answer alike.
 *
 * Owns: nothing.  Runs on: any loop.  Spec: RFC 9112 §6, §3.2.
 */
#ifndef PG_FRAMING_INT_H
#define PG_FRAMING_INT_H

#include <stddef.h>

struct pg_req;

/* What a request head says about its framing. */
struct pg_framing {
    int nfields;                        /* header fields */
    int bad_name;                       /* a field name with a non-token
                                           byte (white space before ':') */
    int te;                             /* Transfer-Encoding fields */
    int te_chunked;                     /* the last one is "chunked" */
    int cl;                             /* Content-Length fields */
    int cl_nonzero;                     /* one is not "0" */
    int body;                           /* body bytes arrived */
    size_t bytes;                       /* "name: value" lengths, as
                                           PG_MAX_HEADERS_BYTES counts */
};
enum pg_framing_verdict {
    PG_FRAMING_OK,
    PG_FRAMING_UNPARSABLE,              /* h2o's parser refuses it */
    PG_FRAMING_TE_UNKNOWN,              /* h2o refuses the coding */
    PG_FRAMING_TE_AND_CL,               /* evhttp refuses the pair */
    PG_FRAMING_REFUSED                  /* 400 problem, connection closed */
};
enum pg_target_form {
    PG_TARGET_ORIGIN,                   /* "/path" */
    PG_TARGET_ORIGIN_ABSOLUTE,          /* "http://us/path": path_at */
    PG_TARGET_OTHER,                    /* absolute-form, another origin */
    PG_TARGET_MALFORMED                 /* authority-form, "*", … */
};
/* One header field (name without the colon, value as received). */
void pg_framing_add(struct pg_framing *f, const char *name, size_t nlen,
    const char *value, size_t vlen);
/* The field lines of a raw head (request line first, up to the empty
 * line), as h2o keeps it. */
void pg_framing_scan(struct pg_framing *f, const char *head, size_t len);
/* PG_FRAMING_REFUSED sets *why (static). */
enum pg_framing_verdict pg_framing_judge(const struct pg_framing *f,
    const char **why);
/* Answers (and finishes) r for a verdict other than PG_FRAMING_OK. */
void pg_framing_answer(struct pg_req *r, enum pg_framing_verdict v,
    const char *why);
/* The request target's form; absolute-form naming provgate's own origin
 * (public_url, else the request's Host) gives the path's offset. */
enum pg_target_form pg_framing_target(struct pg_req *r, const char *target,
    size_t len, size_t *path_at);

#endif
