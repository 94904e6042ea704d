/* tests/index/negotiate_probe.c — pg_index_negotiate() on stdin, for
 * negotiate_webob.py.
 *
 * Each input line is "A\t<Accept header>" (bytes as they are; "\n" ends
 * the line), "N" (no Accept header) or "F\t<?format= value>"; each output
 * line is the chosen format: json, v1html, html or none.  A line longer
 * than the buffer stops the probe with exit 2.
 * Runs on: a test process.  Spec: issue 9 item 2.
 */
#include <stdio.h>
#include <string.h>

#include "index_int.h"

#define PROBE_MAX_LINE 65536

static const char *probe_name(enum pg_index_format f);

static const char *
probe_name(enum pg_index_format f)
{
    switch (f) {
    case PG_FMT_JSON:
        return "json";
    case PG_FMT_HTML_V1:
        return "v1html";
    case PG_FMT_HTML:
        return "html";
    case PG_FMT_NONE:
        return "none";
    }
    return "?";
}

int
main(void)
{
    static char line[PROBE_MAX_LINE];

    while (fgets(line, sizeof(line), stdin) != NULL) {
        size_t n = strlen(line);
        enum pg_index_format f;

        if (n == 0 || line[n - 1] != '\n')
            return 2;
        line[--n] = '\0';
        if (line[0] == 'N')
            f = pg_index_negotiate(NULL, NULL);
        else if (line[0] == 'F' && n >= 2)
            f = pg_index_negotiate("text/html", line + 2);
        else if (line[0] == 'A' && n >= 2)
            f = pg_index_negotiate(line + 2, NULL);
        else
            return 2;
        printf("%s\n", probe_name(f));
    }
    return 0;
}
