#!/usr/bin/env python3
"""tests/server/test_conns.py — one client cannot take every connection
(issue 10 item 4), on both front ends: serve_loops = 1 (evhttp on the main
loop) and two serving threads (h2o).

Client addresses: all of 127.0.0.0/8 is loopback on Linux, so a client
socket bound to 127.0.0.2 and one bound to 127.0.0.3 are two clients.

  one_client_cannot_take_every_connection
        one address opening 60 idle connections keeps
        max_client_connections (8) of them, the rest closed at accept;
        then more addresses fill max_connections (40) with idle
        connections: the oldest idle ones are closed to make room; and
        another client's requests succeed throughout
  slow_headers_closed_after_header_timeout
        connections trickling a request head (slowloris) and one sending
        nothing are closed once client_header_timeout (2 s) has passed,
        while another client is served and a kept-alive connection idle
        for longer than that between two requests is not cut

Uses test_server.py's harness.  Run one: test_conns.py <name>.
Environment: PG_PROVGATE = the provgate executable.
"""

import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402

check = ts.check


def metric(e, name):
    for line in e.get("/metrics").body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def connect_from(source, port):
    s = socket.socket()
    s.bind((source, 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def is_open(s):
    """True while the server has not closed s (nothing was sent on it, so
    a read can only see the end or a reset)."""
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


def served_from(e, source, n=5):
    for i in range(n):
        r = ts.request_from(source, e.port, "/healthz")
        check(r.status == 200 and r.body == b"ok\n",
              "client %s request %d: %r" % (source, i, r))


def close_all(socks):
    for s in socks:
        s.close()


def t_one_client_cannot_take_every_connection(e):
    e.start_fixture()
    for loops in ("1", "2"):
        e.start_pg(sets={"serve_loops": loops, "max_connections": "40",
                         "max_client_connections": "8",
                         "client_header_timeout": "60s"})
        held = [connect_from("127.0.0.2", e.port) for _ in range(60)]
        check(ts.wait_until(lambda: sum(map(is_open, held)) == 8, 10),
              "serve_loops %s: one address keeps 8 of its 60 connections, "
              "not %d" % (loops, sum(map(is_open, held))))
        served_from(e, "127.0.0.3")
        got = metric(e, "provgate_http_client_limit_refused_total")
        check(got is not None and got >= 52, "refusals counted: %r" % got)
        check("client 127.0.0.2 has max_client_connections (8) open"
              in e.log(), "logged once a second at most, naming it")
        # Six more addresses, 8 idle connections each: 56 wanted, 40 slots.
        more = []
        for i in range(48):
            more.append(connect_from("127.0.0.%d" % (10 + i // 8), e.port))
            time.sleep(0.01)            # an order of age
        time.sleep(1)
        served_from(e, "127.0.0.4")
        newest = more[-8:]
        check(all(map(is_open, newest)),
              "serve_loops %s: the newest idle connections stay" % loops)
        closed = [s for s in held + more if not is_open(s)]
        check(len(closed) >= 52 + 16,
              "serve_loops %s: idle connections closed at the cap: %d"
              % (loops, len(closed) - 52))
        if loops == "1":
            # one loop: strictly oldest first (each thread has its own)
            check(not any(map(is_open, held)),
                  "the oldest idle connections were closed first")
        check(metric(e, "provgate_http_idle_closed_total") >= 16,
              "idle closures counted")
        close_all(held + more)
        # once they are gone, the address may connect again
        check(ts.wait_until(lambda: ts.request_from(
            "127.0.0.2", e.port, "/healthz").status == 200, 10),
            "the address is served again")
        e.stop_pg()


def t_slow_headers_closed_after_header_timeout(e):
    e.start_fixture()
    for loops in ("1", "2"):
        e.start_pg(sets={"serve_loops": loops, "client_header_timeout": "2s",
                         "client_timeout": "60s",
                         "max_client_connections": "16"})
        keep = ts.http.client.HTTPConnection("127.0.0.1", e.port, timeout=30,
                                             source_address=("127.0.0.6", 0))
        keep.request("GET", "/healthz")
        r = keep.getresponse()
        check(r.status == 200 and r.read() == b"ok\n", "kept-alive: first")
        t0 = time.monotonic()
        slow = [connect_from("127.0.0.5", e.port) for _ in range(10)]
        silent = connect_from("127.0.0.7", e.port)
        for s in slow:
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
        closed_at = {}
        n = 0
        while time.monotonic() - t0 < 8 and len(closed_at) < len(slow):
            for i, s in enumerate(slow):
                if i in closed_at:
                    continue
                try:
                    s.sendall(b"X-Slow-%d: x\r\n" % n)
                except OSError:
                    closed_at[i] = time.monotonic() - t0
                    continue
                if not is_open(s):
                    closed_at[i] = time.monotonic() - t0
            served_from(e, "127.0.0.3", 1)
            n += 1
            time.sleep(0.3)
        check(len(closed_at) == len(slow),
              "serve_loops %s: trickling connections still open after 8 s:"
              " %d" % (loops, len(slow) - len(closed_at)))
        check(min(closed_at.values()) >= 1.5,
              "serve_loops %s: closed before the timeout: %r"
              % (loops, closed_at))
        check(not is_open(silent), "a connection sending nothing is closed")
        # the kept-alive connection idled for longer than the header
        # timeout between its requests: it is still served
        time.sleep(max(0.0, t0 + 2.5 - time.monotonic()))  # > 2 s idle
        keep.request("GET", "/readyz")
        r = keep.getresponse()
        check(r.status == 200 and r.read() == b"ready\n",
              "serve_loops %s: kept-alive connection cut" % loops)
        keep.close()
        check(metric(e, "provgate_http_header_timeouts_total") >= 11,
              "header timeouts counted")
        close_all(slow + [silent])
        e.stop_pg()


TESTS = {
    "one_client_cannot_take_every_connection":
        t_one_client_cannot_take_every_connection,
    "slow_headers_closed_after_header_timeout":
        t_slow_headers_closed_after_header_timeout,
}


if __name__ == "__main__":
    ts.TESTS.clear()
    ts.TESTS.update(TESTS)
    sys.exit(ts.main())
