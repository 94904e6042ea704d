#!/usr/bin/env python3
"""tests/lint/lint_c.py — style checks on our C sources (docs/style.md).

  lint_c.py banned   SRCDIR   calls of sprintf, strcpy, strcat, atoi, strtok
                              or gets in code (not in comments or strings)
  lint_c.py comments SRCDIR   `//` comments
  lint_c.py selftest          the scanner on small samples

Scans every .c and .h under proxy/, policy/, cache/ and tests/ of SRCDIR.
The scanner is a small C lexer: it tracks block comments, line comments,
string and character literals (with backslash escapes and line
continuations), so "https://" in a string or a comment is never taken for
a comment and a banned name inside a string or comment is not a call.
Prints FILE:LINE: message per finding; exit 1 if any, else 0.
"""

import os
import re
import sys

AREAS = ("proxy", "policy", "cache", "tests")
BANNED = ("sprintf", "strcpy", "strcat", "atoi", "strtok", "gets")
# A call: the name as a whole word, not a member (s.gets(), p->gets()).
CALL = re.compile(r"(?<![A-Za-z0-9_.])(?<!->)(%s)\s*\(" % "|".join(BANNED))


def scan(text):
    """(code, line_comments): code is text with comments and literal
    contents blanked (newlines kept, so line numbers hold); line_comments
    is the list of 1-based lines where a `//` comment starts."""
    out = []
    comments = []
    i, n, line = 0, len(text), 1
    state = "code"
    quote = ""
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "\n":
            line += 1
            out.append("\n")
            if state == "line":
                state = "code"
            i += 1
            continue
        if state == "code":
            if c == "/" and nxt == "*":
                state = "block"
                out.append("  ")
                i += 2
            elif c == "/" and nxt == "/":
                state = "line"
                comments.append(line)
                out.append("  ")
                i += 2
            elif c in "\"'":
                state, quote = "lit", c
                out.append(c)
                i += 1
            else:
                out.append(c)
                i += 1
        elif state == "block":
            if c == "*" and nxt == "/":
                state = "code"
                out.append("  ")
                i += 2
            else:
                out.append(" ")
                i += 1
        elif state == "line":
            if c == "\\" and nxt == "\n":     # continued line comment
                out.append(" ")
                i += 1
            else:
                out.append(" ")
                i += 1
        else:                                 # inside a literal
            if c == "\\" and nxt:
                if nxt == "\n":
                    line += 1
                    out.append(" \n")
                else:
                    out.append("  ")
                i += 2
            elif c == quote:
                state = "code"
                out.append(c)
                i += 1
            else:
                out.append(" ")
                i += 1
    return "".join(out), comments


def banned_calls(text):
    code, _ = scan(text)
    found = []
    for no, ln in enumerate(code.split("\n"), 1):
        for m in CALL.finditer(ln):
            found.append((no, m.group(1)))
    return found


def sources(root):
    for area in AREAS:
        base = os.path.join(root, area)
        for d, dirs, files in os.walk(base):
            dirs.sort()
            for fn in sorted(files):
                if fn.endswith((".c", ".h")):
                    yield os.path.join(d, fn)


def read(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", errors="replace")


def run(mode, root):
    bad = 0
    nfiles = 0
    for path in sources(root):
        nfiles += 1
        text = read(path)
        rel = os.path.relpath(path, root)
        if mode == "banned":
            for no, name in banned_calls(text):
                print("%s:%d: %s() is banned (docs/style.md: use snprintf, "
                      "memcpy, strtol ...)" % (rel, no, name))
                bad += 1
        else:
            for no in scan(text)[1]:
                print("%s:%d: // comment (docs/style.md: /* */ only)"
                      % (rel, no))
                bad += 1
    print("%s: %d files scanned, %d findings" % (mode, nfiles, bad))
    return 1 if bad else 0


def selftest():
    cases_banned = [
        ('int x = atoi(s);', ["atoi"]),
        ('sprintf (buf, "%d", 1);', ["sprintf"]),
        ('snprintf(buf, sizeof buf, "%d", 1);', []),
        ('vsnprintf(buf, n, f, ap); fgets(b, n, f);', []),
        ('strcpy(a, b); strcat(a, b); strtok(s, ","); gets(b);',
         ["strcpy", "strcat", "strtok", "gets"]),
        ('/* do not use sprintf(buf) here */ x = 1;', []),
        ('puts("never call strcpy(a, b)");', []),
        ('char c = \'"\'; atoi(s);', ["atoi"]),
        ('s = "a\\"b strcat(x)"; y = 1;', []),
        ('my_atoi(s); atoi_like(s); obj.gets(x); p->gets(x);', []),
        ('x = (atoi)(s);', []),
        ('#define S(x) sprintf(x)\n', ["sprintf"]),
    ]
    cases_comments = [
        ('x = 1; // note', [1]),
        ('url = "https://pypi.org/simple/"; /* see http://x */', []),
        ('/* a\n * b // c\n */\nx = 1;', []),
        ('c = \'/\'; d = \'/\'; e = "//";', []),
        ('s = "a\\\\"; // after an escaped backslash', [1]),
        ('a = 1;\n\n  // third line', [3]),
        ('#include <stdio.h> /* x */ // y', [1]),
    ]
    fails = 0
    for src, want in cases_banned:
        got = [name for _no, name in banned_calls(src)]
        if got != want:
            print("banned: %r: got %r, want %r" % (src, got, want))
            fails += 1
    for src, want in cases_comments:
        got = scan(src)[1]
        if got != want:
            print("comments: %r: got %r, want %r" % (src, got, want))
            fails += 1
    print("selftest: %d cases, %d failures" % (
        len(cases_banned) + len(cases_comments), fails))
    return 1 if fails else 0


def main(argv):
    if len(argv) == 2 and argv[1] == "selftest":
        return selftest()
    if len(argv) != 3 or argv[1] not in ("banned", "comments"):
        sys.stderr.write("usage: lint_c.py banned|comments SRCDIR | "
                         "selftest\n")
        return 2
    return run(argv[1], argv[2])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
