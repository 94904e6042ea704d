#!/usr/bin/env python3
"""tests/bench/pinstore/run.py — the pin store's own latencies, LMDB next
to PostgreSQL, in the same run (issue 12 "Figures").

Builds pg-bench-pinstore-ops in its own Release tree (no sanitizers),
starts a private PostgreSQL (tests/e2e/pgtest.py) with fsync and
synchronous commit ON (as in production; the tests turn them off), and
runs ROUNDS rounds, LMDB and PostgreSQL alternating, each timing N TOFU
inserts of new projects and N pin reads, one call at a time.  A third row,
postgresql-async, is the same database with synchronous_commit off for
the bench's connection: what the round trip costs without the WAL flush.  Prints the
load (`uptime`) before and after and a markdown table: the median over the
rounds of each round's median and p99.

Usage: tests/bench/pinstore/run.py [--n 2000] [--rounds 5]
Environment: BENCH_BUILD (default /tmp/pg-bench-pinstore-build).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))

import pgtest  # noqa: E402


def build():
    b = os.environ.get("BENCH_BUILD", "/tmp/pg-bench-pinstore-build")
    subprocess.run(["cmake", "-S", SRC, "-B", b, "-DCMAKE_BUILD_TYPE=Release",
                    "-DPG_SANITIZE=OFF", "-DPG_FUZZ=OFF"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", b, "-j2", "--target",
                    "pg-bench-pinstore-ops"], check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(b, "tests", "bench", "pinstore",
                        "pg-bench-pinstore-ops")


def run(exe, uri, n):
    p = subprocess.run([exe, uri, str(n)], capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise RuntimeError(p.stderr)
    out = {}
    for line in p.stdout.splitlines():
        m = re.match(r"(\S+) n=\d+ median_us=([\d.]+) p99_us=([\d.]+)"
                     r" max_us=([\d.]+)", line)
        if m:
            out[m.group(1)] = tuple(float(x) for x in m.group(2, 3, 4))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    exe = build()
    tmp = tempfile.mkdtemp(prefix="pg-bench-pinstore-")
    db = pgtest.PostgreSQL(durable=True)
    res = {}
    try:
        db.start()
        print("uptime before: " + subprocess.run(
            ["uptime"], capture_output=True, text=True).stdout.strip())
        for r in range(a.rounds):
            stores = [("lmdb", "lmdb:%s/pins-%d.lmdb" % (tmp, r)),
                      ("postgresql", db.uri()),
                      ("postgresql-async", db.uri() + "&options="
                       + urllib.parse.quote("-c synchronous_commit=off"))]
            if r % 2:
                stores.reverse()
            for name, uri in stores:
                for op, v in run(exe, uri, a.n).items():
                    res.setdefault((name, op), []).append(v)
        print("uptime after:  " + subprocess.run(
            ["uptime"], capture_output=True, text=True).stdout.strip())
    finally:
        db.stop()
        shutil.rmtree(db.base, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print()
    print("| %d calls × %d rounds (median over rounds) | median µs | p99 µs "
          "| worst µs |" % (a.n, a.rounds))
    print("|---|---:|---:|---:|")
    for op, what in (("tofu_insert", "TOFU insert"),
                     ("pin_read", "pin read (a decision's)")):
        for name in ("lmdb", "postgresql", "postgresql-async"):
            v = res[(name, op)]
            print("| %s, %s | %.1f | %.1f | %.1f |" % (
                what, name, statistics.median(x[0] for x in v),
                statistics.median(x[1] for x in v), max(x[2] for x in v)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
