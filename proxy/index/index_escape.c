/* proxy/index/index_escape.c — HTML escaping for the index renderers.
 *
 * The index pages (PEP 503 HTML) are written into the shared bounded
 * buffer (util/buf.c); text and attribute values from an upstream page go
 * through pg_index_put_html, which replaces the five HTML specials with
 * character references and copies every other byte in runs.
 *
 * Owns: nothing.  Runs on: either.
 * Spec: PEP 503; style.md (every growable buffer has a ceiling).
 */
#include <string.h>

#include "index_priv.h"

/* Characters that need a character reference in text and attributes. */
static const unsigned char html_special[256] = {
    ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1
};

void
pg_index_put_html(struct pg_buf *b, const char *s)
{
    const char *run = s;

    for (; *s != '\0'; s++) {
        const char *rep;

        if (!html_special[(unsigned char) *s])
            continue;
        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        default:
            rep = "&#39;";
            break;
        }
        pg_buf_put(b, run, (size_t) (s - run));
        pg_buf_puts(b, rep);
        run = s + 1;
    }
    pg_buf_put(b, run, (size_t) (s - run));
}
