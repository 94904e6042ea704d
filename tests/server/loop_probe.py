#!/usr/bin/env python3
"""tests/server/loop_probe.py — how long does provgate's event loop stall
while it takes in a big index page?  (A measuring command, not a test.)

Starts the fixture upstream and provgate (like test_server.py), serves a
project page of N files (PEP 691 JSON, PyPI-shaped entries), and fetches it
cold through provgate while a second thread asks /healthz over one
keep-alive connection as fast as it is answered.  Prints the page's size,
the fetch time and the longest the prober waited for a /healthz answer
during the fetch (since its previous answer or its question, whichever
is later: about the longest stall of the loop), then the same for a fetch of the
stored page after a restart (LMDB read + parse + render).

Usage: loop_probe.py [--files N] [--rounds R] [--policy FILE] [PROVGATE]
       (PROVGATE defaults to $PG_PROVGATE)
"""

import argparse
import hashlib
import http.client
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402


def big_page(project, n, origin):
    files = []
    for i in range(n):
        fn = "%s-1.0.%d.tar.gz" % (project, i)
        h = hashlib.sha256(fn.encode()).hexdigest()
        files.append({
            "filename": fn,
            "url": "%s/packages/%s/%s/%s/%s" % (origin, h[:2], h[2:4],
                                                 h[4:], fn),
            "hashes": {"sha256": h},
            "requires-python": ">=3.8",
            "size": 1000 + i,
            "upload-time": "2024-10-08T12:00:00.000000Z",
            "yanked": False,
            "core-metadata": False,
            "data-dist-info-metadata": False,
        })
    return json.dumps({"meta": {"api-version": "1.1"}, "name": project,
                       "versions": ["1.0.%d" % i for i in range(n)],
                       "files": files})


class Prober:
    """Asks /healthz in a loop; records the worst latency while armed."""

    def __init__(self, port):
        self.port = port
        self.stop = False
        self.armed = False
        self.worst = 0.0
        self.answers = 0
        self.last = 0.0
        self.err = None
        self.th = threading.Thread(target=self.run, daemon=True)
        self.th.start()

    def run(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            while not self.stop:
                t0 = time.monotonic()
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                t1 = time.monotonic()
                if r.status != 200:
                    self.err = "healthz %d" % r.status
                if self.armed:
                    # the loop stalled at least this long: time since the
                    # previous answer (or since this question was asked)
                    self.worst = max(self.worst, t1 - max(t0, self.last))
                    self.answers += 1
                self.last = t1
                time.sleep(0.001)
        except Exception as ex:  # noqa: BLE001 — reported by the caller
            self.err = repr(ex)
        finally:
            c.close()

    def measure(self, fn):
        self.worst, self.answers = 0.0, 0
        self.last = time.monotonic()
        self.armed = True
        t0 = time.monotonic()
        out = fn()
        took = time.monotonic() - t0
        # the question in flight at the end counts too (it may have waited
        # for the stall)
        n = self.answers
        end = time.monotonic() + 60
        while self.answers == n and time.monotonic() < end \
                and self.err is None:
            time.sleep(0.0005)
        self.armed = False
        return out, took, self.worst, self.answers

    def close(self):
        self.stop = True
        self.th.join(130)


def fetch(e, project):
    r = e.get("/simple/%s/" % project, headers={"Accept": ts.JSON_TYPE},
              timeout=600)
    ts.check(r.status == 200, "page: %r" % r)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--policy", help="policy file (e.g. mode = off)")
    ap.add_argument("provgate", nargs="?")
    a = ap.parse_args()
    if a.provgate:
        os.environ["PG_PROVGATE"] = a.provgate
    e = ts.Env()
    try:
        e.start_fixture()
        body = big_page("big", a.files, e.fx_origin)
        print("page: %d files, %.1f MB JSON" % (a.files, len(body) / 1e6))
        for rnd in range(a.rounds):
            proj = "big%d" % rnd
            e.add("%s-0.1.tar.gz" % proj, b"x" * 100)
            e.control("page_body", project=proj,
                      body=body.replace('"big-', '"%s-' % proj).replace(
                          '"name": "big"', '"name": "%s"' % proj))
        sets = {"max_json_bytes": "64MiB"}
        if a.policy:
            sets["policy"] = a.policy
        e.start_pg(sets=sets)
        p = Prober(e.port)
        time.sleep(0.3)
        for rnd in range(a.rounds):
            r, took, worst, n = p.measure(lambda: fetch(e, "big%d" % rnd))
            print("cold fetch %d: %.0f ms, worst /healthz %.1f ms "
                  "(%d answers during the fetch), %d files served"
                  % (rnd, took * 1000, worst * 1000, n,
                     len(r.json()["files"])))
        p.close()
        e.stop_pg()
        e.start_pg(sets=sets, cache=e.cache)
        p = Prober(e.port)
        time.sleep(0.3)
        for rnd in range(a.rounds):
            r, took, worst, n = p.measure(lambda: fetch(e, "big%d" % rnd))
            print("stored page after restart %d: %.0f ms, worst /healthz "
                  "%.1f ms (%d answers)" % (rnd, took * 1000, worst * 1000,
                                            n))
        p.close()
        if p.err:
            print("prober: " + p.err)
    finally:
        e.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
