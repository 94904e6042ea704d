#!/usr/bin/env python3
"""tests/server/test_loops.py — several serving threads (serve_loops = 2)
answer like one: each serving thread (h2o, loops 1 and 2) answers cached
hits from the hot table and relays everything else to the main loop
(loop 0, which takes no client connection itself), and a client cannot
tell which thread it reached.

Each request below goes over its own TCP connection, so the kernel spreads
them over both threads (all of 16 on the same one has odds 2^-15; the
tests also check in the metrics that both threads took requests, that
the main loop took none directly, and that the threads both answered
hits and relayed).

  loops_answer_alike        pages (JSON, HTML, gzip, HEAD, 304) and files
                            (GET, HEAD, Range, 304): the same status,
                            reason, body and headers on every connection;
                            one access-log line per request, none twice
  loops_mismatch_resets     a hash mismatch resets the client connection
                            on either loop (never a complete wrong file)
  loops_one_line_per_request  a reset, a refusal and a client gone before
                            its answer each leave exactly one access-log
                            line, and no 502 that no client saw is counted
  loops_policy_reload       after SIGHUP with a policy that denies the
                            file, no loop serves it from its hot table
  loops_failed_policy_reload_keeps_old  a SIGHUP with a bad or missing
                            policy file keeps the old policy on every
                            loop, says why in the main and audit logs,
                            counts it
  loops_one_fetch           concurrent misses on both loops: one upstream
                            request
  loops_big_page_bodies     page bodies of 64 KiB or more (sent from a
                            memory file with sendfile) arrive whole and
                            alike in every format
  loops_send_timeout        a client that stops reading is cut off after
                            client_timeout (h2o has no send timeout)
  loops_single_loop_alike   serve_loops = 1 (evhttp on the main loop) and
                            serving threads (h2o) answer every case alike,
                            and refuse request smuggling (RFC 9112
                            framing), 1,000 fields, CONNECT and oversized
                            heads alike: 400/431, connection closed, no
                            second answer

Uses test_server.py's harness.  Run one: test_loops.py <name>.
Environment: PG_PROVGATE = the provgate executable.
"""

import gzip
import json
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402

check = ts.check
rnd = ts.rnd
N = 16
KEEP = ("content-type", "content-length", "content-range", "etag",
        "last-modified", "vary", "content-encoding", "accept-ranges")


def metric(text, name, labels=""):
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (
                not labels and line.startswith(name + "{")):
            total += float(line.split()[-1])
    return total


def loops_spread(e):
    m = e.get("/metrics").body.decode()
    check(metric(m, "provgate_loop_requests_total", '{loop="0"}') == 0,
          "the main loop took no client request itself")
    check(metric(m, "provgate_loop_requests_total", '{loop="1"}') > 0,
          "serving thread 1 took requests")
    check(metric(m, "provgate_loop_requests_total", '{loop="2"}') > 0,
          "serving thread 2 took requests")
    return m


def shape(r):
    cc = r.h("cache-control", "")
    if cc.startswith("max-age=") and "immutable" not in cc:
        cc = "max-age=N"        # a page's remaining TTL counts down
    return (r.status, r.reason, r.body, r.complete, cc,
            tuple((k, r.h(k)) for k in KEEP))


def alike_cases(e, data):
    """The file's URL path and the requests compared, after the file was
    fetched once (3 requests)."""
    path = e.file_url_path("la", "la-1.0.tar.gz")
    first = e.get(path)
    check(first.status == 200 and first.body == data, "file: %r" % first)
    etag = first.h("etag")
    page_etag = e.get("/simple/la/", headers={
        "Accept": ts.JSON_TYPE}).h("etag")
    return [
        ("GET", "/simple/la/", {"Accept": ts.JSON_TYPE}),
        ("GET", "/simple/la/", {"Accept": "text/html"}),
        ("GET", "/simple/la/", {"Accept": ts.JSON_TYPE,
                                "Accept-Encoding": "gzip"}),
        ("HEAD", "/simple/la/", {"Accept": ts.JSON_TYPE}),
        ("GET", "/simple/la/", {"Accept": ts.JSON_TYPE,
                                "If-None-Match": page_etag}),
        ("GET", "/simple/", {"Accept": ts.JSON_TYPE}),
        ("GET", path, {}),
        ("HEAD", path, {}),
        ("GET", path, {"Range": "bytes=100-199"}),
        ("GET", path, {"Range": "bytes=100-", "If-Range": etag}),
        ("GET", path, {"Range": "bytes=999999-"}),
        ("GET", path, {"If-None-Match": etag}),
        ("GET", "/simple/LA/", {}),
        ("GET", "/packages/nope/nope-1.0.tar.gz", {}),
    ]


def t_loops_answer_alike(e):
    e.start_fixture()
    data = rnd(200000, "la")
    e.add("la-1.0.tar.gz", data)
    e.add("la-1.0-py3-none-any.whl", rnd(3000, "lw"))
    alog = os.path.join(e.tmp, "access.log")
    e.start_pg(sets={"serve_loops": "2", "access_log": alog})
    cases = alike_cases(e, data)
    sent = 0
    for method, p, h in cases:
        seen = set()
        for _ in range(N):
            r = e.get(p, method=method, headers=h)
            sent += 1
            seen.add(shape(r))
        check(len(seen) == 1, "%s %s %r: answers differ between "
              "connections: %r" % (method, p, h, [s[:2] + (len(s[2]),)
                                                   + s[4:] for s in seen]))
        st = next(iter(seen))
        check(st[0] in (200, 206, 301, 304, 404, 416),
              "%s %s: %r" % (method, p, st[:2]))
    m = loops_spread(e)
    check(metric(m, "provgate_loop_hot_hits_total", '{loop="1"}') > 0
          and metric(m, "provgate_loop_hot_hits_total", '{loop="2"}') > 0,
          "both serving threads answered hits themselves")
    check(metric(m, "provgate_loop_relayed_requests_total") > 0,
          "the serving thread relayed what it could not answer")
    e.stop_pg()
    with open(alog, "rb") as f:
        lines = f.read().decode().splitlines()
    req_lines = [ln for ln in lines if " provgate: " not in ln
                 and (" /simple/" in ln or " /packages/" in ln)]
    # every request above plus the 3 before the loop (file_url_path's
    # page, the first file GET, the page ETag GET): one line each
    check(len(req_lines) == sent + 3,
          "one access-log line per request: %d lines, %d requests"
          % (len(req_lines), sent + 3))


# Request smuggling and malformed heads (RFC 9112), each sent whole on a
# raw socket: (name, bytes ("PORT": provgate's), status wanted).  Each
# answer must close the connection, and nothing after it (the "body"
# smuggled behind the head) may be answered as a second request.
SMUGGLED = (b"GET /readyz HTTP/1.1\r\nHost: x\r\nX-Pad: yyyyyyyy\r\n"
            b"\r\n")
FRAMING_CASES = [
    ("two different Content-Length values",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
     b"Content-Length: %d\r\n\r\n" % len(SMUGGLED) + SMUGGLED, 400),
    ("two Content-Length values, the body first",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
     b"Content-Length: 0\r\n\r\n" % len(SMUGGLED) + SMUGGLED, 400),
    ("Content-Length and Transfer-Encoding",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 400),
    ("Transfer-Encoding: chunked",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked"
     b"\r\n\r\n0\r\n\r\n" + SMUGGLED, 400),
    ("space before the colon",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked"
     b"\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + SMUGGLED, 400),
    ("unknown transfer coding",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip"
     b"\r\n\r\n" + SMUGGLED, 400),
    ("GET with a body",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
     b"\r\n" % len(SMUGGLED) + SMUGGLED + SMUGGLED, 400),
    ("HEAD with a body",
     b"HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n"
     b"\r\n" % len(SMUGGLED) + SMUGGLED, 400),
    ("1,000 header fields",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"".join(
         b"X-F%d: v\r\n" % i for i in range(1000)) + b"\r\n" + SMUGGLED,
     400),
    ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\n"
     b"Host: example.com:443\r\n\r\n" + SMUGGLED, 400),
    ("absolute-form naming another origin",
     b"GET http://127.0.0.2:PORT/healthz HTTP/1.1\r\nHost: 127.0.0.2:PORT"
     b"\r\n\r\n" + SMUGGLED, 400),
    ("a 20 KiB header block",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000
     + b"\r\n\r\n" + SMUGGLED, 431),
    ("a 100 KiB header block",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000
     + b"\r\n\r\n" + SMUGGLED, 431),
    # what stays allowed (the client asks to close)
    ("Content-Length: 0 alone",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
     b"Connection: close\r\n\r\n", 200),
    ("100 header fields",
     b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
     + b"".join(b"X-F%d: v\r\n" % i for i in range(98)) + b"\r\n", 200),
    ("absolute-form naming provgate",
     b"GET http://127.0.0.1:PORT/healthz HTTP/1.1\r\n"
     b"Host: 127.0.0.1:PORT\r\nConnection: close\r\n\r\n", 200),
]


def raw_exchange(port, data, timeout=10):
    """Sends data whole; reads until the server closes (or timeout).
    Returns (responses [(status, reason, headers, body)], closed)."""
    import socket
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    buf, closed = b"", False
    try:
        s.sendall(data.replace(b"PORT", str(port).encode()))
        while True:
            b = s.recv(65536)
            if not b:
                closed = True
                break
            buf += b
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    finally:
        s.close()
    out = []
    while buf.startswith(b"HTTP/1.1 "):
        head, sep, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        # no length: the body runs to the close (evhttp's CONNECT answer)
        n = int(hdrs.get("content-length", len(rest)))
        if data.startswith(b"HEAD "):
            n = 0
        out.append((int(parts[1]), parts[2] if len(parts) > 2 else "",
                    hdrs.get("content-type"), rest[:n]))
        buf = rest[n:]
    if buf:
        out.append((0, "trailing bytes", None, buf[:200]))
    return out, closed


def framing_answers(e):
    """Each FRAMING_CASES answer, checked: (status, reason, type, body)."""
    got = []
    for name, data, want in FRAMING_CASES:
        resp, closed = raw_exchange(e.port, data)
        check(len(resp) == 1, "%s: one answer, no second one: %r"
              % (name, resp))
        check(resp[0][0] == want, "%s: want %d, got %r" % (name, want,
                                                            resp[0]))
        check(closed, "%s: the connection was closed" % name)
        got.append(resp[0])
    r = e.get("/readyz")
    check(r.status == 200, "still serving: %r\n%s" % (r, e.log()[-3000:]))
    return got


def t_loops_single_loop_alike(e):
    """serve_loops = 1 (the main loop serves clients with evhttp) and the
    default serving threads (h2o) give every case of loops_answer_alike
    the same status, reason, body and headers, and refuse every case of
    FRAMING_CASES (request smuggling, 1,000 fields, CONNECT, oversized
    heads) with the same answer, closing the connection."""
    e.start_fixture()
    data = rnd(200000, "la")
    e.add("la-1.0.tar.gz", data)
    e.add("la-1.0-py3-none-any.whl", rnd(3000, "lw"))
    got, framing = {}, {}
    for loops in ("1", "2"):
        e.start_pg(sets={"serve_loops": loops},
                   cache=os.path.join(e.tmp, "cache-" + loops))
        cases = alike_cases(e, data)
        for i, (method, p, h) in enumerate(cases):
            for _ in range(3):      # the main loop's answer, then hot ones
                st = shape(e.get(p, method=method, headers=h))
                if not p.startswith("/packages/"):
                    # A page names this instance's address in its file
                    # URLs (so its ETag and length differ), and its
                    # Last-Modified is when this instance got it.
                    body = st[2]
                    if dict(st[5]).get("content-encoding") == "gzip":
                        body = gzip.decompress(body)
                    body = body.replace(b"127.0.0.1:%d" % e.port, b"PG")
                    st = (st[:2] + (body,) + st[3:5] + (tuple(
                        kv for kv in st[5] if kv[0] not in (
                            "last-modified", "etag", "content-length")),))
                got.setdefault((i, method, p.startswith("/packages/")),
                               {}).setdefault(loops, set()).add(st)
        framing[loops] = framing_answers(e)
        m = e.get("/metrics").body.decode()
        if loops == "1":
            check("(the main loop serves clients)" in e.log()
                  and metric(m, "provgate_loop_requests_total",
                             '{loop="1"}') == 0,
                  "the main loop served clients, no thread did")
        else:
            loops_spread(e)
        e.stop_pg()
    for (name, _, _), one, two in zip(FRAMING_CASES, framing["1"],
                                      framing["2"]):
        check(one == two, "%s: serve_loops 1 %r, 2 %r" % (name, one, two))
    for key, by in sorted(got.items()):
        check(len(by["1"]) == 1 and by["1"] == by["2"],
              "case %r: serve_loops 1 %r, 2 %r" % (
                  key, [x[:2] + x[4:] for x in by["1"]],
                  [x[:2] + x[4:] for x in by["2"]]))


def t_loops_mismatch_resets(e):
    e.start_fixture()
    names = []
    for i in range(12):
        fn = "mm%d-1.0.tar.gz" % i
        e.add(fn, rnd(300000, "mm%d" % i))
        e.control("flip", filename=fn, on=True)
        names.append(fn)
    e.start_pg(sets={"serve_loops": "2", "mismatch_hold": "120s",
                     "check_before_send": "0"})
    for i, fn in enumerate(names):
        path = e.file_url_path("mm%d" % i, fn)
        r = e.get(path)
        check(r.status in (0, 200) and not r.complete
              and len(r.body) < 300000,
              "%s: the client must not get a complete file: %r" % (fn, r))
    check(e.blobs() == [], "nothing cached")
    loops_spread(e)


def relayed_502s(m):
    return [ln for ln in m.splitlines()
            if ln.startswith("provgate_http_requests_total")
            and 'status="502"' in ln and float(ln.split()[-1]) > 0]


def t_loops_one_line_per_request(e):
    """issue 9 item 4: one request, one answer, one log line.  The main
    loop logs every request a serving thread handed to it (its answer, its
    reset, a client gone); the thread logs none of them again and counts
    no 502 that no client saw."""
    e.start_fixture()
    resets, refusals = [], []
    for i in range(12):
        fn = "ol%d-1.0.tar.gz" % i
        e.add(fn, rnd(2000, "ol%d" % i))
        e.control("flip", filename=fn, on=True)
        (resets if i < 8 else refusals).append(("ol%d" % i, fn))
    e.add("gone-1.0.tar.gz", rnd(2000, "gone"))
    # Resets: every file streams (check_before_send = 0), a small one
    # arrives whole in one loop turn and the main loop resets the relay
    # before its answer's head left.
    e.start_pg(sets={"serve_loops": "2", "mismatch_hold": "120s",
                     "check_before_send": "0"})
    for proj, fn in resets:
        path = e.file_url_path(proj, fn)
        r = e.get(path)
        check(r.status in (0, 200) and not r.complete,
              "%s: reset, never a complete wrong file: %r" % (fn, r))
        lines = ts.access_lines(e, path)
        check(len(lines) == 1 and "connection reset" in lines[0],
              "%s: one access line saying it was reset: %r" % (fn, lines))
    m = e.get("/metrics").body.decode()
    check(relayed_502s(m) == [], "no 502 counted: %r" % relayed_502s(m))
    check("relay to the main loop" not in e.log(), e.log()[-3000:])
    loops_spread(e)
    e.stop_pg()
    # Refusals (checked before the status line) and a client that leaves
    # before its answer.
    e.start_pg(sets={"serve_loops": "2", "mismatch_hold": "120s"},
               cache=os.path.join(e.tmp, "cache2"))
    for proj, fn in refusals:
        path = e.file_url_path(proj, fn)
        r = e.get(path)
        check(r.status == 403, "%s: %r" % (fn, r))
        lines = ts.access_lines(e, path)
        check(len(lines) == 1 and " 403 " in lines[0],
              "%s: one access line, 403: %r" % (fn, lines))
    path = e.file_url_path("gone", "gone-1.0.tar.gz")
    e.control("latency", ms=1500, kinds=["file"])
    for _ in range(N):
        with socket.create_connection(("127.0.0.1", e.port)) as so:
            so.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
                        % path).encode())
            time.sleep(0.05)
    check(ts.wait_until(lambda: len(ts.access_lines(e, path, 0)) >= N,
                        30), "every request logged: %r"
          % ts.access_lines(e, path, 0))
    lines = ts.access_lines(e, path, 1.0)
    check(len(lines) == N, "one line per request, %d requests: %r"
          % (N, lines))
    m = e.get("/metrics").body.decode()
    check(relayed_502s(m) == [], "no 502 counted: %r" % relayed_502s(m))
    loops_spread(e)


def t_loops_policy_reload(e):
    e.start_fixture()
    data = rnd(5000, "pr")
    e.add("pr-1.0.tar.gz", data)
    pol = os.path.join(e.tmp, "policy.ini")
    with open(pol, "w") as f:
        f.write("[defaults]\nmode = off\n")
    e.start_pg(sets={"serve_loops": "2", "policy": pol})
    path = e.file_url_path("pr", "pr-1.0.tar.gz")
    for _ in range(N):
        r = e.get(path)
        check(r.status == 200 and r.body == data, "allowed: %r" % r)
    m = loops_spread(e)
    check(metric(m, "provgate_loop_hot_hits_total") > 0,
          "hot hits before the reload")
    with open(pol, "w") as f:
        f.write("[defaults]\nmode = off\n\n[project:pr]\nmode = require\n"
                "publisher = github:example/pr:release.yml\n"
                "on_violation = deny\n")
    e.pg.send_signal(signal.SIGHUP)
    check(ts.wait_until(lambda: "policy: reloaded" in e.log(), 20),
          "reloaded: " + e.log()[-2000:])
    time.sleep(0.5)
    for _ in range(N):
        r = e.get(path)
        check(r.status == 403, "denied on every loop after the reload: "
              "%r" % r)


def t_loops_failed_policy_reload_keeps_old(e):
    """issue 10 item 8: a SIGHUP whose policy file cannot be loaded (a bad
    value, then the file gone) keeps the old policy on every loop, says
    why in the main log as well as the audit log, and counts it."""
    e.start_fixture()
    data = rnd(5000, "fr")
    e.add("fr-1.0.tar.gz", data)
    pol = os.path.join(e.tmp, "policy.ini")
    audit = os.path.join(e.tmp, "audit.log")
    deny = ("[defaults]\nmode = off\n\n[project:fr]\nmode = require\n"
            "publisher = github:example/fr:release.yml\n"
            "on_violation = deny\n")
    with open(pol, "w") as f:
        f.write(deny)
    e.start_pg(sets={"serve_loops": "2", "policy": pol, "audit_log": audit})
    path = e.file_url_path("fr", "fr-1.0.tar.gz")

    def denied(when):
        for _ in range(N):
            r = e.get(path)
            check(r.status == 403, "%s: denied on every loop: %r"
                  % (when, r))

    def reloads(result):
        return metric(e.get("/metrics").body.decode(),
                      "provgate_policy_reloads_total",
                      '{result="%s"}' % result)
    denied("before")
    failures = [
        ("[defaults]\nmode = sometimes\n", "policy.ini:2: mode: "),
        (None, "policy.ini: No such file or directory"),
    ]
    for n, (text, why) in enumerate(failures, 1):
        if text is None:
            os.unlink(pol)
        else:
            with open(pol, "w") as f:
                f.write(text)
        e.pg.send_signal(signal.SIGHUP)
        check(ts.wait_until(lambda: reloads("error") == n, 20),
              "failed reload %d counted: %r" % (n, reloads("error")))
        lines = [ln for ln in e.log().splitlines()
                 if "policy: reload failed, keeping generation" in ln]
        check(len(lines) == n and why in lines[-1],
              "main log says why (%r): %r" % (why, lines))
        denied("after failed reload %d" % n)
    check(reloads("ok") == 0 and "policy: reloaded" not in e.log(),
          "no reload took effect")
    with open(audit) as f:
        events = [json.loads(ln) for ln in f if ln.strip()]
    failed = [ev for ev in events if ev["event"] == "policy-reload-failed"]
    check(len(failed) == 2 and why in failed[-1]["reason"],
          "audit log: %r" % failed)
    # A good file again takes effect: the failures changed nothing else.
    with open(pol, "w") as f:
        f.write("[defaults]\nmode = off\n")
    e.pg.send_signal(signal.SIGHUP)
    check(ts.wait_until(lambda: reloads("ok") == 1, 20), "reloaded")
    time.sleep(0.5)
    r = e.get(path)
    check(r.status == 200 and r.body == data, "allowed now: %r" % r)


def loop_counts(e):
    m = e.get("/metrics").body.decode()
    return [metric(m, "provgate_loop_requests_total", '{loop="%d"}' % i)
            for i in (1, 2)]


def connections_on_both_loops(e, n):
    """n open keep-alive connections, at least one accepted by each serving
    thread.  A thread is chosen when a connection is accepted, by whichever
    thread takes it first; they are opened while both are idle (a /healthz
    on each), and a set that landed on one thread only is closed and made
    again."""
    import http.client
    for _ in range(20):
        before = loop_counts(e)
        conns = []
        for _ in range(n):
            c = http.client.HTTPConnection("127.0.0.1", e.port, timeout=120)
            c.request("GET", "/healthz")
            r = c.getresponse()
            check(r.status == 200 and r.read() == b"ok\n", "healthz")
            conns.append(c)
        after = loop_counts(e)
        # the healthz requests, plus the second scrape on one of the loops
        d = [a - b for a, b in zip(after, before)]
        if sum(d) == n + 1 and min(d) >= 2:
            return conns
        for c in conns:
            c.close()
    raise ts.Fail("20 sets of %d connections all landed on one loop" % n)


def t_loops_one_fetch(e):
    e.start_fixture()
    data = rnd(3000000, "of")
    e.add("of-1.0.tar.gz", data)
    e.start_pg(sets={"serve_loops": "2"})
    path = e.file_url_path("of", "of-1.0.tar.gz")
    conns = connections_on_both_loops(e, 8)
    e.control("reset")
    out = []

    def one(c):
        c.request("GET", path)
        r = c.getresponse()
        out.append((r.status, r.read()))
        c.close()
    ths = [threading.Thread(target=one, args=(c,)) for c in conns]
    for t in ths:
        t.start()
    for t in ths:
        t.join(120)
    check(len(out) == 8 and all(st == 200 and body == data
                                for st, body in out), "all served")
    check(e.counts("file") == 1, "one upstream fetch, got %d"
          % e.counts("file"))
    loops_spread(e)


def t_loops_big_page_bodies(e):
    """A page body of 64 KiB or more is kept in a memory file and sent
    with sendfile: the same bytes as the small-body path, in every
    format, on every loop, HEAD with its length, 304 on its ETag."""
    import gzip
    import json
    e.start_fixture()
    names = []
    for i in range(700):
        fn = "bigpage_with_a_long_name-1.0.%d.tar.gz" % i
        e.add(fn, rnd(64, "bp%d" % i))
        names.append(fn)
    e.start_pg(sets={"serve_loops": "2"})
    first = e.get("/simple/bigpage-with-a-long-name/",
                  headers={"Accept": ts.JSON_TYPE})
    check(first.status == 200, "page: %r" % first)
    check(len(first.body) >= 64 * 1024, "big enough: %d" % len(first.body))
    got = sorted(f["filename"] for f in json.loads(first.body)["files"])
    check(got == sorted(names), "every file listed")
    for _ in range(N):
        r = e.get("/simple/bigpage-with-a-long-name/",
                  headers={"Accept": ts.JSON_TYPE})
        check(r.status == 200 and r.body == first.body and r.complete,
              "same JSON bytes")
        z = e.get("/simple/bigpage-with-a-long-name/",
                  headers={"Accept": ts.JSON_TYPE,
                           "Accept-Encoding": "gzip"})
        check(z.h("content-encoding") == "gzip"
              and gzip.decompress(z.body) == first.body, "gzip body")
        h = e.get("/simple/bigpage-with-a-long-name/",
                  headers={"Accept": "text/html"})
        check(h.status == 200 and len(h.body) == int(h.h("content-length"))
              and all(n.encode() in h.body for n in names[:5]), "HTML")
        hd = e.get("/simple/bigpage-with-a-long-name/", method="HEAD",
                   headers={"Accept": ts.JSON_TYPE})
        check(hd.status == 200 and hd.body == b""
              and int(hd.h("content-length")) == len(first.body), "HEAD")
        nm = e.get("/simple/bigpage-with-a-long-name/",
                   headers={"Accept": ts.JSON_TYPE,
                            "If-None-Match": first.h("etag")})
        check(nm.status == 304 and nm.body == b"", "304")
    loops_spread(e)


def t_loops_send_timeout(e):
    """A client that stops reading its answer is disconnected once it has
    read nothing for client_timeout (h2o has no send timeout of its own:
    front.c's watchdog), and the connection is counted out."""
    import socket
    e.start_fixture()
    data = rnd(24 * 1024 * 1024, "sto")
    e.add("sto-1.0.tar.gz", data)
    e.start_pg(sets={"serve_loops": "2", "client_timeout": "1s"})
    path = e.file_url_path("sto", "sto-1.0.tar.gz")
    for _ in range(3):          # cached, then published to the hot table
        r = e.get(path)
        check(r.status == 200 and r.body == data, "served: %r" % r)
    hot0 = metric(e.get("/metrics").body.decode(),
                  "provgate_loop_hot_hits_total")
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", e.port))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n\r\n")
    time.sleep(3.5)             # reads nothing for over client_timeout
    s.settimeout(10)
    got = 0
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += len(b)
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    check(got < len(data), "the stalled answer was cut (%d of %d bytes)"
          % (got, len(data)))
    m = e.get("/metrics").body.decode()
    check(metric(m, "provgate_loop_hot_hits_total") > hot0,
          "it was answered from the hot table")
    check(metric(m, "provgate_http_send_timeouts_total") >= 1,
          "counted as a send timeout")
    check(ts.wait_until(lambda: metric(
        e.get("/metrics").body.decode(),
        "provgate_http_connections_open") <= 1, 10),
        "its connection was counted out")


TESTS = {
    "loops_send_timeout": t_loops_send_timeout,
    "loops_single_loop_alike": t_loops_single_loop_alike,
    "loops_big_page_bodies": t_loops_big_page_bodies,
    "loops_answer_alike": t_loops_answer_alike,
    "loops_mismatch_resets": t_loops_mismatch_resets,
    "loops_one_line_per_request": t_loops_one_line_per_request,
    "loops_policy_reload": t_loops_policy_reload,
    "loops_failed_policy_reload_keeps_old":
        t_loops_failed_policy_reload_keeps_old,
    "loops_one_fetch": t_loops_one_fetch,
}


if __name__ == "__main__":
    ts.TESTS.clear()
    ts.TESTS.update(TESTS)
    sys.exit(ts.main())
