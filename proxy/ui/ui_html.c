/* proxy/ui/ui_html.c — the operator pages' writer: the escaping every
 * untrusted string goes through on its way into the shared bounded buffer
 * (util/buf.c), and the shared page frame.
 *
 * The index pages escape the five HTML specials (index_escape.c); a page
 * meant for people must also keep text from *looking* like something it
 * is not.  So pg_ui_text additionally shows control characters and the
 * bidirectional overrides (U+202E turns "gpj.exe" into "exe.jpg" on
 * screen) as visible "<U+202E>" marks, replaces invalid UTF-8 with U+FFFD
 * and cuts a 10,000-character claim to PG_UI_MAX_STR characters with a
 * count of what was left out, so one hostile string can neither break the
 * markup nor the layout.  Links to untrusted URLs are written only for
 * http(s) URLs without quoting characters (no "javascript:").
 *
 * The frame: a viewport meta for phones, one inline style sheet (system
 * fonts, contrast above 7:1 for body text, tables that scroll sideways on
 * a narrow screen), a header with the navigation.  No script, no asset.
 *
 * Owns: nothing.  Runs on: either.  Spec: issue 15 item 3; style.md
 * (every growable buffer has a ceiling).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ui_int.h"

/* ---- untrusted text ----------------------------------------------------- */

/* Decodes one UTF-8 sequence at s (n bytes left): its length, or 0 when
 * it is not well-formed (overlong, surrogate, over U+10FFFF, cut). */
static size_t
utf8_len(const unsigned char *s, size_t n, unsigned long *cp)
{
    size_t len, i;
    unsigned long c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        c = s[0] & 0x1f;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        c = s[0] & 0x0f;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)))
        || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
    {
        return 0;
    }
    *cp = c;
    return len;
}

/* Characters shown as a visible mark instead of themselves. */
static int
shown_as_mark(unsigned long c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c
        || c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e)
        || (c >= 0x2066 && c <= 0x2069) || c == 0xfeff;
}

void
pg_ui_text_max(struct pg_buf *b, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t n, shown = 0;

    if (s == NULL) {
        return;
    }
    if (max == 0) {
        max = PG_UI_MAX_STR;
    }
    n = strlen(s);
    while (n > 0) {
        unsigned long c;
        size_t l = utf8_len(p, n, &c);

        if (shown == max) {
            pg_buf_putf(b, "<span class=\"cut\">… (%zu more bytes)</span>",
                n);
            return;
        }
        shown++;
        if (l == 0) {
            pg_buf_puts(b, "\xef\xbf\xbd");      /* U+FFFD */
            p++;
            n--;
            continue;
        }
        if (shown_as_mark(c)) {
            pg_buf_putf(b, "<span class=\"mark\">&lt;U+%04lX&gt;</span>",
                c);
        } else if (c == '&') {
            pg_buf_puts(b, "&amp;");
        } else if (c == '<') {
            pg_buf_puts(b, "&lt;");
        } else if (c == '>') {
            pg_buf_puts(b, "&gt;");
        } else if (c == '"') {
            pg_buf_puts(b, "&quot;");
        } else if (c == '\'') {
            pg_buf_puts(b, "&#39;");
        } else {
            pg_buf_put(b, (const char *) p, l);
        }
        p += l;
        n -= l;
    }
}

void
pg_ui_text(struct pg_buf *b, const char *s)
{
    pg_ui_text_max(b, s, 0);
}

/* The same without markup inside (for attribute values: a mark is
 * "&lt;U+202E&gt;", a cut is "…"). */
static void
attr_text(struct pg_buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t n = strlen(s), shown = 0;

    while (n > 0) {
        unsigned long c;
        size_t l = utf8_len(p, n, &c);

        if (shown++ == PG_UI_MAX_STR) {
            pg_buf_puts(b, "…");
            return;
        }
        if (l == 0) {
            pg_buf_puts(b, "\xef\xbf\xbd");
            p++;
            n--;
            continue;
        }
        if (shown_as_mark(c)) {
            pg_buf_putf(b, "&lt;U+%04lX&gt;", c);
        } else if (c == '&' || c == '<' || c == '>' || c == '"'
            || c == '\'')
        {
            pg_buf_putf(b, "&#%lu;", c);
        } else {
            pg_buf_put(b, (const char *) p, l);
        }
        p += l;
        n -= l;
    }
}

void
pg_ui_urlpart(struct pg_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; s != NULL && *s != '\0'; s++) {
        unsigned char c = (unsigned char) *s;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~')
        {
            pg_buf_put(b, (const char *) &c, 1);
        } else {
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };

            pg_buf_put(b, e, 3);
        }
    }
}

/* 1 if url may be an href: http(s), no character that could end the
 * attribute or hide in it, not too long. */
static int
safe_url(const char *url)
{
    const unsigned char *p;

    if (url == NULL || (strncmp(url, "https://", 8) != 0
        && strncmp(url, "http://", 7) != 0) || strlen(url) > 2048)
    {
        return 0;
    }
    for (p = (const unsigned char *) url; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\''
            || *p == '<' || *p == '>' || *p == '`' || *p == '\\')
        {
            return 0;
        }
    }
    return 1;
}

void
pg_ui_ext_link(struct pg_buf *b, const char *url, const char *label)
{
    if (!safe_url(url)) {
        pg_ui_text(b, label);
        return;
    }
    pg_buf_puts(b, "<a rel=\"noopener noreferrer nofollow\" href=\"");
    attr_text(b, url);
    pg_buf_puts(b, "\">");
    pg_ui_text(b, label);
    pg_buf_puts(b, "</a>");
}

void
pg_ui_time(struct pg_buf *b, int64_t t)
{
    char out[40];
    time_t tt = (time_t) t;
    struct tm tm;

    if (t < 0 || gmtime_r(&tt, &tm) == NULL
        || strftime(out, sizeof(out), "%Y-%m-%d %H:%M UTC", &tm) == 0)
    {
        pg_buf_puts(b, "—");
        return;
    }
    pg_buf_puts(b, "<time datetime=\"");
    strftime(out, sizeof(out), "%Y-%m-%dT%H:%M:%SZ", &tm);
    pg_buf_puts(b, out);
    pg_buf_puts(b, "\">");
    strftime(out, sizeof(out), "%Y-%m-%d %H:%M UTC", &tm);
    pg_buf_puts(b, out);
    pg_buf_puts(b, "</time>");
}

const char *
pg_ui_status_name(enum pg_ui_status s)
{
    switch (s) {
    case PG_UI_VERIFIED: return "verified";
    case PG_UI_UNATTESTED: return "unattested";
    case PG_UI_LEGACY: return "legacy";
    case PG_UI_PENDING: return "pending";
    case PG_UI_REJECTED: return "rejected";
    case PG_UI_UNDECIDED: return "not decided";
    case PG_UI_NSTATUS: break;
    }
    return "?";
}

/* ---- the frame ---------------------------------------------------------- */

/* Colours: text #1a1a1a on #fff (17:1); muted #4a4a4a (8.9:1); badges'
 * dark text on light fills, each above 7:1; links #0b4f9c (8.2:1). */
static const char style[] =
    "<style>"
    ":root{color-scheme:light}"
    "body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',"
    "Roboto,sans-serif;color:#1a1a1a;background:#fff}"
    "header{background:#14213d;color:#fff;padding:.6rem 1rem;display:flex;"
    "flex-wrap:wrap;gap:.4rem 1.2rem;align-items:baseline}"
    "header a{color:#fff}header .brand{font-weight:700;font-size:1.1rem;"
    "text-decoration:none}header nav a{margin-right:1rem}"
    "main{padding:1rem;max-width:80rem;margin:0 auto}"
    "h1{font-size:1.5rem;margin:.2rem 0 1rem;overflow-wrap:anywhere}"
    "h2{font-size:1.2rem;margin:1.6rem 0 .6rem;border-bottom:1px solid "
    "#ccc}"
    "a{color:#0b4f9c}"
    ".scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}"
    "table{border-collapse:collapse;width:100%;font-size:.95rem}"
    "th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid "
    "#ddd;vertical-align:top;overflow-wrap:break-word}"
    "thead th{white-space:nowrap}"
    ".scroll>table{min-width:42rem}.scroll>table.side{min-width:0}"
    ".side thead th{white-space:normal}.side td{overflow-wrap:anywhere}"
    "th{background:#f2f2f2}td.n,th.n{text-align:right;"
    "font-variant-numeric:tabular-nums}"
    ".muted{color:#4a4a4a}.cut{color:#4a4a4a;font-style:italic}"
    ".mark{background:#ffe08a;color:#1a1a1a;border-radius:2px;"
    "font-family:monospace;font-size:.85em}"
    ".st{display:inline-block;padding:0 .45rem;border-radius:.6rem;"
    "font-weight:600;font-size:.85rem;white-space:nowrap;border:1px solid}"
    ".st-verified{background:#e3f4e5;color:#0d4a17;border-color:#0d4a17}"
    ".st-unattested{background:#eef0f3;color:#2b2f36;border-color:#2b2f36}"
    ".st-legacy{background:#efeaf7;color:#3b2466;border-color:#3b2466}"
    ".st-pending{background:#fff4d6;color:#5c3d00;border-color:#5c3d00}"
    ".st-rejected{background:#fde7e7;color:#7a0d0d;border-color:#7a0d0d}"
    ".st-not{background:#fff;color:#2b2f36;border-color:#2b2f36}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fit,minmax("
    "11rem,1fr));gap:.8rem}"
    ".card{border:1px solid #ccc;border-radius:.4rem;padding:.6rem .8rem}"
    ".card .v{font-size:1.5rem;font-weight:700;display:block}"
    ".card a{text-decoration:none}"
    ".change{display:grid;grid-template-columns:1fr;gap:.8rem}"
    "tr.diff td,tr.diff th{background:#fff4d6}"
    "code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;"
    "font-size:.9em;overflow-wrap:anywhere}"
    ".scroll>table:not(.side) .mono{overflow-wrap:break-word}"
    "form.inline{display:inline-block;margin:.3rem .6rem .3rem 0}"
    "button{font:inherit;padding:.3rem .8rem;border-radius:.3rem;"
    "border:1px solid #14213d;background:#14213d;color:#fff;"
    "cursor:pointer}button.danger{background:#7a0d0d;border-color:#7a0d0d}"
    "label{font-weight:600;margin-right:.3rem}"
    "input,select{font:inherit;padding:.2rem .3rem;max-width:100%}"
    "fieldset{border:1px solid #ccc;border-radius:.4rem;margin:0 0 1rem}"
    ".filters div{display:inline-block;margin:.2rem 1rem .2rem 0}"
    ".flash{border:1px solid #0d4a17;background:#e3f4e5;padding:.5rem .8rem;"
    "border-radius:.4rem}"
    "svg text{font:12px system-ui,sans-serif;fill:#1a1a1a}"
    "@media (max-width:40rem){main{padding:.6rem}th,td{padding:.3rem}"
    "h1{font-size:1.25rem}}"
    "</style>";

void
pg_ui_page_begin(struct pg_buf *b, const char *title, int admin)
{
    pg_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
        "<meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">"
        "<meta name=\"robots\" content=\"noindex\">"
        "<meta name=\"referrer\" content=\"no-referrer\">"
        "<title>");
    pg_ui_text(b, title);
    pg_buf_puts(b, " — provgate</title>");
    pg_buf_puts(b, style);
    pg_buf_puts(b, "</head><body><header>"
        "<a class=\"brand\" href=\"/-/\">provgate</a>"
        "<nav aria-label=\"Operator pages\"><a href=\"/-/\">Overview</a>"
        "<a href=\"/-/events\">Events</a></nav>");
    pg_buf_puts(b, admin ? "<span>administrator</span>"
        : "<span>read-only</span>");
    pg_buf_puts(b, "</header><main>\n");
}

void
pg_ui_page_end(struct pg_buf *b)
{
    pg_buf_puts(b, "</main></body></html>\n");
}
