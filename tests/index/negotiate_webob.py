#!/usr/bin/env python3
"""tests/index/negotiate_webob.py — provgate's Accept negotiation is PyPI's.

Warehouse (warehouse/api/simple.py _select_content_type) picks the first
of WebOb's acceptable_offers(["text/html", v1+html, v1+json]), and
text/html when there is none.  This test runs that very function, with
Debian's WebOb (python3-webob), next to pg_index_negotiate() (through
negotiate_probe) on the clients' headers, the RFC 9110 corner cases and
20,000 generated headers (fixed seed) mixing valid and broken syntax:
media ranges, wildcards, parameters, quoted strings, q values in and out
of range, blanks, empty elements, duplicates.  Every answer must be the
same.  PEP 691's ".latest+" alias, which Warehouse does not know, is left
out (tests/index/test_negotiate.c covers it).

    negotiate_webob.py PROBE [COUNT]

Exits 77 (skipped) without WebOb: PG_TESTS=ON makes that a configure error.
Spec: issue 9 item 2.
"""

import random
import subprocess
import sys

try:
    from webob.acceptparse import create_accept_header
except ImportError:
    print("skipped: WebOb not found (Debian package python3-webob)")
    sys.exit(77)

HTML, V1HTML, JSON = ("text/html", "application/vnd.pypi.simple.v1+html",
                      "application/vnd.pypi.simple.v1+json")
OFFERS = [HTML, V1HTML, JSON]
NAMES = {HTML: "html", V1HTML: "v1html", JSON: "json"}


def warehouse(header):
    """Warehouse's _select_content_type for an Accept value (None: no
    header).  HTTP servers strip blanks around a field value."""
    if header is not None:
        header = header.strip(" \t")
    offers = create_accept_header(header).acceptable_offers(OFFERS)
    return NAMES[offers[0][0] if offers else HTML]


FIXED = [
    None, "", "*/*", "text/*", "application/*", "application/json",
    "text/plain", "image/png", "*/html",
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,*/*;q=0.8",
    JSON + ", " + V1HTML + "; q=0.1, text/html; q=0.01",
    JSON + ", " + V1HTML + ";q=0.2, text/html;q=0.01",
    "text/html, %s, %s" % (V1HTML, JSON),
    "text/html;q=0.01, %s;q=0.2, %s" % (V1HTML, JSON),
    "," + JSON, JSON + ",", ",,", ",", JSON + ";level=1",
    JSON + ";q=0.5, " + JSON + ", text/html;q=0.8",
    JSON + ", " + JSON + ";q=0.1, text/html;q=0.8",
    JSON + ";q=0, */*", "text/html;q=0, " + V1HTML + ";q=0",
    JSON + ";q=2", JSON + ";q=0.1234", JSON + ";q=1.001", JSON + ";q=1.",
    JSON + ";q=0.", JSON + ';q=1.0;ext;ext2="x,y"',
    "*/*;q=0.5, " + JSON + ";q=0.6", "application/*;q=0.5, " + JSON
    + ";q=0.4", "  " + JSON + "  ", JSON + " ; q=0.9 ,\t text/html ;q=0.1",
    'text/html;q=0.1;a="x\\"y", ' + JSON, 'text/html;q=0.1;a="\x01", '
    + JSON, 'text/html;q=0.1;a="\xff", ' + JSON,
]

TYPES = ["text/html", "TEXT/HTML", JSON, V1HTML, JSON.upper(), "*/*",
         "text/*", "application/*", "application/json", "image/png",
         "*/html", "text/plain", "text", "/", "a/", "/b", "te xt/html",
         'text/ht"ml', "application/*json", "*/*json"]
QS = ["0", "1", "0.5", "0.01", "0.001", "0.0001", "1.0", "1.000", "1.001",
      "2", "-1", "0.", "1.", ".5", "", "abc", "0.1234", "0.999", "0,5",
      " 0.5"]
PARAMS = ["level=1", "charset=utf-8", 'a="x,y"', 'a="q=1"', 'a="\\"z"',
          "a=", "=b", "a", 'a="open', "q", "Q=0.5", "q =0.5", "qa=1",
          "ext", 'ext="v"', 'a="\\', "a=\xe9"]
SEPS = [",", ", ", " ,", ",,", ", ,", ",\t", ";", " ", ""]


def generated(rnd):
    def ows():
        return rnd.choice(["", "", "", " ", "\t", "  "])

    def element():
        s = rnd.choice(TYPES)
        for _ in range(rnd.choice([0, 0, 1, 1, 2, 3])):
            if rnd.random() < 0.5:
                s += ows() + ";" + ows() + "q=" + rnd.choice(QS)
            else:
                s += ows() + ";" + ows() + rnd.choice(PARAMS)
        return s
    h = ""
    for _ in range(rnd.choice([1, 1, 2, 3, 4, 5])):
        h += element() + rnd.choice(SEPS[:6] if rnd.random() < 0.8
                                    else SEPS)
    return h.rstrip(",; \t") if rnd.random() < 0.9 else h


def main():
    probe = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    rnd = random.Random(9)
    headers = FIXED + [generated(rnd) for _ in range(count)]
    lines = "".join("N\n" if h is None else "A\t%s\n" % h for h in headers)
    p = subprocess.run([probe], input=lines.encode("latin-1"),
                       stdout=subprocess.PIPE, timeout=120)
    got = p.stdout.decode().split()
    if p.returncode != 0 or len(got) != len(headers):
        print("FAIL: probe exited %d after %d of %d answers"
              % (p.returncode, len(got), len(headers)))
        return 1
    bad = [(h, g, warehouse(h)) for h, g in zip(headers, got)
           if g != warehouse(h)]
    for h, g, w in bad[:40]:
        print("differs: Accept %r: provgate %s, Warehouse %s" % (h, g, w))
    kinds = {}
    for g in got:
        kinds[g] = kinds.get(g, 0) + 1
    print("%d headers, %d differ; provgate's answers: %s"
          % (len(headers), len(bad), kinds))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
