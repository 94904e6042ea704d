/* proxy/util/hex_int.h — bytes to lower-case hex and back.
 *
 * One encoder for every digest, token and MAC the proxy prints (tokens,
 * salts, CSRF MACs, page ETags, the relay's token), and one decoder for
 * the hex it reads back (token files, index sha256 values).
 *
 * Runs on: any thread (no state).
 */
#ifndef PG_HEX_INT_H
#define PG_HEX_INT_H

#include <stddef.h>

/* out gets 2 * n hex digits and a NUL (2 * n + 1 bytes). */
void pg_hex_encode(const unsigned char *in, size_t n, char *out);
/* The 2 * n hex digits at hex (either case) as n bytes: 0, or -1 when one
 * is not a hex digit (out is then undefined). */
int pg_hex_decode(const char *hex, size_t n, unsigned char *out);

#endif
