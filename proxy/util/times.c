/* proxy/util/times.c — the clock and HTTP dates (see times_int.h).
 *
 * Owns: nothing.  Runs on: either.  Spec: RFC 9110 §5.6.7.
 */
#include <string.h>
#include <time.h>

#include "times_int.h"

int64_t
pg_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
pg_http_date(time_t t, char *out, size_t outlen)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL) {
        return -1;
    }
    if (strftime(out, outlen, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0) {
        return -1;
    }
    return 0;
}

time_t
pg_http_date_parse(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0') {
        return (time_t)-1;
    }
    return timegm(&tm);
}
