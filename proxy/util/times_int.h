/* proxy/util/times_int.h — the clock and HTTP dates.
 *
 * A leaf (nginx's core/ngx_times.c): every layer reads the monotonic
 * clock and formats or parses IMF-fixdate here, so nothing needs the
 * request layer for the time.
 *
 * Owns: nothing.  Runs on: either.  Spec: RFC 9110 §5.6.7.
 */
#ifndef PG_TIMES_INT_H
#define PG_TIMES_INT_H

#include <stdint.h>
#include <time.h>

/* The monotonic clock in milliseconds. */
int64_t pg_now_ms(void);
/* "Sun, 06 Nov 1994 08:49:37 GMT"; -1 / 0 */
int pg_http_date(time_t t, char *out, size_t outlen);
/* The time of an IMF-fixdate; (time_t)-1 if s is not one. */
time_t pg_http_date_parse(const char *s);

#endif
