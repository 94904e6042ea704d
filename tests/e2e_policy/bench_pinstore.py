#!/usr/bin/env python3
"""tests/e2e_policy/bench_pinstore.py — the pin store's figures (issue 12
"Figures"; a separate command, not a ctest).

  bench_pinstore.py PROVGATE PG_MINT [--first 100] [--approvals 100]
                    [--wrk-seconds 5] [--repeats 3]
                    [--parts serving,first,approvals]

(The store's own TOFU-insert and read latencies, without HTTP and
verification around them: tests/bench/pinstore/run.py.)

A private PostgreSQL (tests/e2e/pgtest.py) and a fixture upstream with
minted provenance, then, in the same run:
1. Cached serving: a warm project page and a warm file through a provgate
   whose pin_store is lmdb and one whose pin_store is the PostgreSQL,
   interleaved, wrk -t2 -c32: req/s and the ratio (a decision never waits
   on the database once the pin is known).
2. First sight: FIRST projects, each seen for the first time (one attested
   wheel; its provenance fetched and verified, then the TOFU pin written
   and the page answered), page latency with each store: the difference
   of the medians is what the database's insert-if-absent adds.
3. Approval propagation: two replicas on the PostgreSQL; APPROVALS times,
   `provgate pins approve` of a new publisher, then the time from the
   command's exit until replica 2's page shows that publisher's file
   verified (polled every 5 ms): median and worst.

Run it against a Release build (no sanitizers).  Prints markdown tables.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)

import pgtest  # noqa: E402
from test_policy_e2e import make_wheel  # noqa: E402

PUB = "github:org/bench:release.yml"


def mint(mintexe, root, dist, name, version, publisher):
    whl = make_wheel(dist, version, name=name)
    prov = whl + ".provenance"
    subprocess.run([mintexe, "provenance", "--root", root, "--file", whl,
                    "--publisher", publisher, "-o", prov], check=True,
                   stdout=subprocess.DEVNULL)
    return whl, prov


def wrk(url, seconds):
    p = subprocess.run(["wrk", "-t2", "-c32", "-d%ds" % seconds, url],
                       capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", p.stdout)
    return float(m.group(1)) if m else 0.0


def page_ms(pg, project):
    t0 = time.monotonic()
    r = pg.page(project, accept=pgtest.JSON_TYPE)
    took = (time.monotonic() - t0) * 1000
    if r.status != 200:
        raise RuntimeError("page %s: %d" % (project, r.status))
    return took, r.json()


def status(pg, project, filename):
    r = pg.page(project, accept=pgtest.JSON_TYPE)
    for f in r.json()["files"]:
        if f["filename"] == filename:
            return f["_provenance"]["status"]
    return None


def uptime():
    return subprocess.run(["uptime"], capture_output=True,
                          text=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("provgate")
    ap.add_argument("mint")
    ap.add_argument("--first", type=int, default=100)
    ap.add_argument("--approvals", type=int, default=100)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parts", default="serving,first,approvals",
                    help="which of serving, first, approvals to run")
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    os.environ["PG_PROVGATE"] = os.path.abspath(a.provgate)
    tmp = tempfile.mkdtemp(prefix="pg-bench-pins-")
    db = pgtest.PostgreSQL()
    procs = []
    fx = None
    try:
        db.start()
        root = os.path.join(tmp, "root")
        subprocess.run([a.mint, "init", root], check=True,
                       stdout=subprocess.DEVNULL)
        trust = os.path.join(root, "trusted_root.json")
        dist = os.path.join(tmp, "dist")
        os.makedirs(dist)
        fx = pgtest.Fixture(tmp, vectors=False)
        whl, prov = mint(a.mint, root, dist, "warm", "1.0", PUB)
        fx.add_file(whl, provenance=prov, upload_time="2025-01-01T00:00:00Z")
        for i in range(a.first):
            whl, prov = mint(a.mint, root, dist, "first%d" % i, "1.0", PUB)
            fx.add_file(whl, provenance=prov,
                        upload_time="2025-01-01T00:00:00Z")

        def start(name, store, sets=None):
            s = {"pin_store": store, "index_ttl": "1h",
                 "access_log": os.path.join(tmp, name + ".access")}
            s.update(sets or {})
            pg = pgtest.Provgate(tmp, fx.index_url,
                                 os.path.join(tmp, "cache-" + name), s,
                                 ["--trust-root", trust], name=name)
            procs.append(pg)
            return pg

        lm = start("lmdb", "lmdb:" + os.path.join(tmp, "pins.lmdb"))
        pq = start("pq", db.uri())
        print("uptime before: " + uptime())
        if "serving" in parts:
            serving(a, lm, pq)
        if "first" in parts:
            first_sight(a, lm, pq)
        for pg in (lm, pq):
            pg.stop()
        if "approvals" in parts:
            approvals(a, root, dist, fx, start, db, tmp)
        print("uptime after:  " + uptime())
    finally:
        for pg in procs:
            pg.stop()
        if fx is not None:
            fx.stop()
        db.stop()
        shutil.rmtree(db.base, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def serving(a, lm, pq):
    """1. cached serving."""
    rows = {}

    def file_path(pg):
        url = list(pg.file_urls("warm").values())[0]
        return re.sub(r"^https?://[^/]+", "", url)

    for pg in (lm, pq):
        page_ms(pg, "warm")
        r = pg.get(file_path(pg))
        if r.status != 200:
            raise RuntimeError("warm file: %d" % r.status)

    def annotations(pg):
        return pgtest.metric_sum(
            pg.metrics(),
            r"^provgate_provenance_annotation_duration_seconds_count$")

    before = {pg: annotations(pg) for pg in (lm, pq)}
    for what in ("page", "file"):
        for rep in range(a.repeats):
            order = (lm, pq) if rep % 2 == 0 else (pq, lm)
            for pg in order:
                path = "/simple/warm/" if what == "page" \
                    else file_path(pg)
                rows.setdefault((what, pg is pq), []).append(
                    wrk(pg.origin + path, a.wrk_seconds))
    print("| cached serving, wrk -t2 -c32 -d%ds, median of %d | lmdb "
          "req/s | postgresql req/s | pg/lmdb |" % (a.wrk_seconds,
                                                  a.repeats))
    print("|---|---:|---:|---:|")
    for what in ("page", "file"):
        x = statistics.median(rows[(what, False)])
        y = statistics.median(rows[(what, True)])
        print("| %s | %.0f | %.0f | %.2f× |" % (
            "warm project page (JSON)" if what == "page"
            else "warm file", x, y, y / x if x else 0))
    print("| page annotations during the runs (0: the served bytes "
          "never consulted the pins) | %d | %d | |" % (
              annotations(lm) - before[lm], annotations(pq) - before[pq]))


def first_sight(a, lm, pq):
    """2. first sight."""
    half = a.first // 2
    lat = {False: [], True: []}
    for i in range(a.first):
        pg = lm if i < half else pq
        took, page = page_ms(pg, "first%d" % i)
        st = page["files"][0]["_provenance"]["status"]
        if st != "verified":
            raise RuntimeError("first%d: %s" % (i, st))
        lat[pg is pq].append(took)
    print()
    print("| first sight of a project (page latency, %d projects each)"
          " | median ms | worst ms |" % half)
    print("|---|---:|---:|")
    for k, name in ((False, "lmdb (LMDB commit)"),
                    (True, "postgresql (INSERT … ON CONFLICT DO "
                     "NOTHING)")):
        print("| %s | %.1f | %.1f |" % (name, statistics.median(lat[k]),
                                        max(lat[k])))
    print("| difference of the medians | %.1f | |" % (
        statistics.median(lat[True]) - statistics.median(lat[False])))


def approvals(a, root, dist, fx, start, db, tmp):
    """3. approval propagation."""
    # at most PG_PINS_MAX_PUBLISHERS (16)
    # publishers per pin, so 15 approvals per project.
    per = 15
    plan = []
    for i in range(a.approvals):
        project = "move%d" % (i // per)
        pub = "github:org/moved%d:release.yml" % i
        whl, prov = mint(a.mint, root, dist, project, "2.%d" % i, pub)
        fx.add_file(whl, provenance=prov,
                    upload_time="2025-02-01T00:00:00Z")
        if i % per == 0:
            whl, prov = mint(a.mint, root, dist, project, "1.0", PUB)
            fx.add_file(whl, provenance=prov,
                        upload_time="2025-01-01T00:00:00Z")
        plan.append((project, pub, "%s-2.%d-py3-none-any.whl"
                     % (project, i)))
    r1 = start("r1", db.uri())
    r2 = start("r2", db.uri())
    for project in sorted({p for p, _, _ in plan}):
        page_ms(r1, project)
        page_ms(r2, project)
    prop = []
    for project, pub, fn in plan:
        p = pgtest.run_cli(["pins", "--pin-store", db.uri(), "--audit-log",
                            os.path.join(tmp, "audit.log"), "approve",
                            project, "--publisher", pub])
        if p.returncode != 0:
            raise RuntimeError(p.output)
        t0 = time.monotonic()
        while status(r2, project, fn) != "verified":
            if time.monotonic() - t0 > 30:
                raise RuntimeError("approval of %s never arrived" % pub)
            time.sleep(0.005)
        prop.append((time.monotonic() - t0) * 1000)
    print()
    print("| approval on the CLI → replica 2 decides under it (%d) | "
          "median ms | worst ms |" % a.approvals)
    print("|---|---:|---:|")
    print("| LISTEN/NOTIFY, refresh on a worker, page re-annotated "
          "| %.1f | %.1f |" % (statistics.median(prop), max(prop)))


if __name__ == "__main__":
    sys.exit(main())
