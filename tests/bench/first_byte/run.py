#!/usr/bin/env python3
"""tests/bench/first_byte/run.py — what checking a cold file before its
status line costs (issue 9 item 3).

A file of at most check_before_send bytes is received whole and
hash-checked before provgate answers (so a tampered file is a clean 403);
a larger one streams as it arrives.  This measures, for cold files of
10 KiB, 1 MiB, the default threshold (16 MiB) and 50 MiB, the time to the
first byte of the answer (status line and headers) and the total time, with
the default check_before_send and with 0 (every file streams), in the same
run.

The upstream is tests/e2e/fixture_upstream.py on 127.0.0.1 (files made
here, deterministic bytes).  Each repeat starts a provgate with a new,
empty cache for each setting (settings interleaved, the order alternating
between repeats), fetches each project page first (not timed), then each
file once over a new connection, in size order, and checks its sha256.

Usage: tests/bench/first_byte/run.py     (prints markdown)
Environment:
  PROVGATE  provgate binary (default build/proxy/provgate of this checkout;
            use a build without sanitizers to measure)
  REPEATS   repeats (default 5; medians reported)
  PG_SETS   extra "name=value ..." for provgate (--set)
Everything binds 127.0.0.1; every process started is stopped by its PID.
"""

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
FIXTURE = os.path.join(ROOT, "tests", "e2e", "fixture_upstream.py")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
KIB, MIB = 1024, 1024 * 1024
DEFAULT_THRESHOLD = 16 * MIB        # check_before_send's default
SIZES = (("10 KiB", 10 * KIB), ("1 MiB", MIB),
         ("16 MiB (the threshold)", DEFAULT_THRESHOLD), ("50 MiB", 50 * MIB))
SETTINGS = (("default (16MiB)", None), ("0 (streams)", "0"))


def log(msg):
    sys.stderr.write("[%s] %s\n" % (time.strftime("%H:%M:%S"), msg))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def get(origin, path, headers=None):
    u = urllib.parse.urlsplit(origin)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    try:
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def post(origin, path, doc):
    u = urllib.parse.urlsplit(origin)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        c.request("POST", path, body=json.dumps(doc).encode(),
                  headers={"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        return r.status
    finally:
        c.close()


def timed(origin, path):
    """(status, ms to the status line and headers, ms in total, sha256)."""
    u = urllib.parse.urlsplit(origin)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=300)
    h = hashlib.sha256()
    try:
        t0 = time.perf_counter()
        c.request("GET", path, headers={"Accept-Encoding": "identity"})
        r = c.getresponse()
        t1 = time.perf_counter()
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            h.update(chunk)
        t2 = time.perf_counter()
        return r.status, (t1 - t0) * 1000, (t2 - t0) * 1000, h.hexdigest()
    finally:
        c.close()


def make_file(path, size, seed):
    """Deterministic bytes (sha256 chain) of the given size."""
    block = bytearray()
    d = hashlib.sha256(seed.encode()).digest()
    while len(block) < MIB:
        d = hashlib.sha256(d).digest()
        block += d * 32
    block = bytes(block[:MIB])
    with open(path, "wb") as f:
        left = size
        while left > 0:
            f.write(block[:min(left, MIB)])
            left -= MIB
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def main():
    binary = os.environ.get("PROVGATE",
                            os.path.join(ROOT, "build", "proxy", "provgate"))
    if not os.access(binary, os.X_OK):
        log("no provgate binary at %s (set PROVGATE)" % binary)
        return 1
    repeats = int(os.environ.get("REPEATS", "5"))
    extra = os.environ.get("PG_SETS", "").split()
    work = tempfile.mkdtemp(prefix="pg-bench-first-byte-")
    procs = []
    try:
        fx = subprocess.Popen([sys.executable, FIXTURE, "--no-vectors"],
                              stdout=subprocess.PIPE,
                              stderr=open(os.path.join(work, "fixture.log"),
                                          "wb"), stdin=subprocess.DEVNULL)
        procs.append(fx)
        up = "http://127.0.0.1:%s" % fx.stdout.readline().decode().strip()
        files = []
        for i, (label, size) in enumerate(SIZES):
            name = "cold%d" % i
            fn = "%s-1.0.tar.gz" % name
            path = os.path.join(work, fn)
            sha = make_file(path, size, fn)
            st = post(up, "/_control/add", {"path": path})
            if st != 200:
                log("fixture add %s: %d" % (fn, st))
                return 1
            files.append((label, size, name, fn, sha))
        log("files ready in %s" % work)
        ttfb = {}
        total = {}
        for rep in range(repeats):
            order = SETTINGS if rep % 2 == 0 else tuple(reversed(SETTINGS))
            for slabel, value in order:
                port = free_port()
                origin = "http://127.0.0.1:%d" % port
                cache = os.path.join(work, "cache-%d-%s" % (rep, value))
                cmd = [binary, "serve", "--listen", "127.0.0.1:%d" % port,
                       "--upstream", up + "/simple/", "--cache-dir", cache,
                       "--allow-http", "--set",
                       "access_log=%s" % os.path.join(work, "access.log")]
                if value is not None:
                    cmd += ["--set", "check_before_send=%s" % value]
                for kv in extra:
                    cmd += ["--set", kv]
                pg = subprocess.Popen(cmd, stdout=open(os.path.join(
                    work, "provgate.log"), "ab"), stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL)
                procs.append(pg)
                for _ in range(600):
                    try:
                        if get(origin, "/healthz")[0] == 200:
                            break
                    except OSError:
                        time.sleep(0.1)
                paths = {}
                for label, size, name, fn, sha in files:
                    st, body = get(origin, "/simple/%s/" % name,
                                   {"Accept": JSON_TYPE})
                    if st != 200:
                        log("page %s: %d" % (name, st))
                        return 1
                    url = [f["url"] for f in json.loads(body)["files"]
                           if f["filename"] == fn][0]
                    paths[fn] = urllib.parse.urlsplit(url).path
                for label, size, name, fn, sha in files:
                    st, a, b, got = timed(origin, paths[fn])
                    if st != 200 or got != sha:
                        log("%s %s: status %d, sha256 %s" % (slabel, label,
                                                              st, got))
                        return 1
                    ttfb.setdefault((slabel, label), []).append(a)
                    total.setdefault((slabel, label), []).append(b)
                    log("#%d %s, %s: first byte %.1f ms, total %.1f ms"
                        % (rep + 1, slabel, label, a, b))
                stop(pg)
                shutil.rmtree(cache, ignore_errors=True)
        print()
        print("Cold file through provgate (%s), fixture upstream on "
              "loopback, %d cores, %d repeats, load average %s, %s" % (
                  binary, os.cpu_count(), repeats,
                  " ".join(open("/proc/loadavg").read().split()[:3]),
                  time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime())))
        print()
        print("| file | check_before_send | first byte ms, median "
              "(best) | total ms, median (best) |")
        print("|---|---|---:|---:|")
        for label, _size, _n, _fn, _sha in files:
            for slabel, _v in SETTINGS:
                a, b = ttfb[(slabel, label)], total[(slabel, label)]
                print("| %s | %s | %.1f (%.1f) | %.1f (%.1f) |" % (
                    label, slabel, statistics.median(a), min(a),
                    statistics.median(b), min(b)))
        return 0
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
