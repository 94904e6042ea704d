/* proxy/index/index_gzip.c — gzip (RFC 1952) of a rendered page.
 *
 * Pages are compressed once per cache update, so one deflate call over
 * the whole buffer is right: zlib's deflateBound() sizes the output, and
 * windowBits 31 (15 + 16) asks zlib for the gzip wrapper.
 *
 * Owns: *out (malloc'd, caller free()).  Borrows: in.
 * Runs on: either (a 1 MB page takes a few milliseconds at level 6).
 * Spec: RFC 1952; issue 2 item 3.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "index_int.h"

int
pg_index_gzip(const char *in, size_t len, char **out, size_t *outlen)
{
    z_stream zs;
    uLong bound;
    unsigned char *buf;
    int rc;

    if ((in == NULL && len > 0) || out == NULL || outlen == NULL
        || len > PG_INDEX_MAX_RENDER)
        return -1;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    bound = deflateBound(&zs, (uLong) len);
    buf = malloc(bound);
    if (buf == NULL) {
        deflateEnd(&zs);
        return -1;
    }
    zs.next_in = (Bytef *) (uintptr_t) in;
    zs.avail_in = (uInt) len;
    zs.next_out = buf;
    zs.avail_out = (uInt) bound;
    rc = deflate(&zs, Z_FINISH);
    if (rc != Z_STREAM_END) {
        deflateEnd(&zs);
        free(buf);
        return -1;
    }
    *outlen = (size_t) zs.total_out;
    deflateEnd(&zs);
    *out = (char *) buf;
    return 0;
}
