#!/usr/bin/env python3
"""tests/e2e_policy/bench_annotate.py — provenance annotation benchmark
(issue 4 "Benchmark"; a separate command, not a ctest).

  bench_annotate.py PROVGATE PG_MINT [--files 2000] [--cold 200]
                    [--latency-ms 20] [--concurrency 1,16,64] [--rounds 20]

1. Warm: a project with N wheels, each with minted PEP 740 provenance, is
   loaded once (every object fetched, verified and cached).  Then, ROUNDS
   times, the pages are invalidated (SIGHUP: the policy is re-read, every
   page is re-annotated on its next request) and the project page is
   fetched: that request re-reads the upstream model from LMDB, takes every
   verdict from the cache, applies the rules, annotates and renders.  The
   same is measured with mode = off (no annotation) as the baseline.
   The operator page of the project (/-/project/bench, issue 15) is then
   fetched ROUNDS times with its page in memory.
2. Cold: a fresh cache, a project of M attested wheels and a fixture
   upstream that adds LATENCY ms to every provenance request; the first
   page request's wall time is measured for each provenance_concurrency.

Run it against a Release build (no sanitizers) for meaningful figures.
Prints a markdown table.
"""

import argparse
import os
import signal
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


def mint_project(mint, root, dist, project, n):
    """n wheels of `project` with provenance; returns [(wheel, prov)].
    Files already minted in dist (--reuse) are kept."""
    out = []
    for i in range(n):
        version = "1.%d" % i
        dst = os.path.join(dist, "%s-%s-py3-none-any.whl" % (project,
                                                             version))
        prov = dst + ".provenance"
        if not (os.path.isfile(dst) and os.path.isfile(prov)):
            whl = make_wheel(dist, version)
            os.rename(whl, dst)
            subprocess.run([mint, "provenance", "--root", root, "--file",
                            dst, "--publisher", PUB, "-o", prov],
                           check=True, stdout=subprocess.DEVNULL)
        out.append((dst, prov))
    return out


def add_all(fx, items):
    for i, (whl, prov) in enumerate(items):
        t = 1704067200 + 60 * i
        fx.add_file(whl, provenance=prov, upload_time=time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)))


def timed_get(pg, project):
    t0 = time.perf_counter()
    r = pg.page(project, accept=pgtest.JSON_TYPE)
    dt = (time.perf_counter() - t0) * 1000.0
    if r.status != 200:
        raise RuntimeError("page %s: %d %s" % (project, r.status, r.reason))
    return dt, r.json()


class Env(pgtest.Case):
    """pgtest's process bookkeeping, used outside unittest."""

    def runTest(self):
        pass


def warm(env, args, fx, trust_root, mode):
    policy = os.path.join(env.tmp, "policy-%s.ini" % mode)
    with open(policy, "w") as f:
        f.write("[defaults]\nmode = %s\n" % mode)
    pg = env.start_provgate(fx, cache_dir=os.path.join(env.tmp, "warm-" +
                                                       mode),
                            extra_args=["--policy", policy, "--trust-root",
                                        trust_root],
                            sets={"provenance_budget": "120s", "ui": "on"})
    _dt, page = timed_get(pg, "bench")
    if mode != "off":
        bad = [f["filename"] for f in page["files"]
               if f["_provenance"]["status"] != "verified"]
        if bad:
            raise RuntimeError("not verified: %s" % bad[:5])
    times = []
    m0 = pg.metrics()
    end = time.time() + (args.hold if mode != "off" else 0)
    while time.time() < end:
        pg.proc.send_signal(signal.SIGHUP)
        time.sleep(0.05)
        timed_get(pg, "bench")
    for _ in range(args.rounds):
        pg.proc.send_signal(signal.SIGHUP)
        time.sleep(0.3)
        dt, _page = timed_get(pg, "bench")
        times.append(dt)
    m1 = pg.metrics()
    if mode != "off":
        # the operator page of the same project, its page in memory:
        # the model copied and turned into the pages' model, the pin
        # history read on a worker, the HTML rendered (issue 15)
        timed_get(pg, "bench")
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            r = pg.get("/-/project/bench")
            env.ui_times.append((time.perf_counter() - t0) * 1000.0)
            if r.status != 200 or b"Files (%d)" % args.files not in r.body:
                raise RuntimeError("operator page: %d %s" % (r.status,
                                                             r.reason))
    name = r"^provgate_provenance_annotation_duration_seconds_%s$"
    n = (pgtest.metric_sum(m1, name % "count")
         - pgtest.metric_sum(m0, name % "count"))
    secs = (pgtest.metric_sum(m1, name % "sum")
            - pgtest.metric_sum(m0, name % "sum"))
    env.stop_provgate(pg)
    annotate_ms = (secs * 1000.0 / n) if n > 0 else 0.0
    return times, annotate_ms


def cold(env, args, fx, trust_root, conc):
    pg = env.start_provgate(fx, cache_dir=os.path.join(env.tmp,
                                                       "cold-%d" % conc),
                            extra_args=["--trust-root", trust_root],
                            sets={"provenance_budget": "120s",
                                  "provenance_concurrency": str(conc)})
    dt, page = timed_get(pg, "coldbench")
    bad = [f["filename"] for f in page["files"]
           if f["_provenance"]["status"] != "verified"]
    env.stop_provgate(pg)
    if bad:
        raise RuntimeError("cold: not verified: %s" % bad[:5])
    return dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("provgate")
    ap.add_argument("mint")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--cold", type=int, default=200)
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--reuse", help="directory keeping the minted root "
                    "and wheels between runs (minting 2,200 takes minutes)")
    ap.add_argument("--hold", type=float, default=0,
                    help="seconds of extra SIGHUP rounds to run (for "
                    "attaching a profiler)")
    args = ap.parse_args()
    os.environ["PG_PROVGATE"] = os.path.abspath(args.provgate)
    os.environ.setdefault("PG_SHARED_DIR", os.path.join(HERE, "..", "..",
                                                        "..", "shared"))
    env = Env()
    env.setUp()
    env.ui_times = []
    try:
        keep = args.reuse or env.tmp
        os.makedirs(keep, exist_ok=True)
        root = os.path.join(keep, "root")
        if not os.path.isfile(os.path.join(root, "trusted_root.json")):
            subprocess.run([args.mint, "init", root], check=True)
        trust_root = os.path.join(root, "trusted_root.json")
        dist = os.path.join(keep, "dist")
        dist2 = os.path.join(keep, "dist2")
        os.makedirs(dist, exist_ok=True)
        os.makedirs(dist2, exist_ok=True)
        t0 = time.time()
        big = mint_project(args.mint, root, dist, "bench", args.files)
        small = mint_project(args.mint, root, dist2, "coldbench", args.cold)
        sys.stderr.write("minted %d objects in %.1f s\n"
                         % (len(big) + len(small), time.time() - t0))
        fx = env.start_fixture(vectors=False)
        add_all(fx, big)
        add_all(fx, small)
        on, on_annotate = warm(env, args, fx, trust_root, "tofu")
        off, _ = warm(env, args, fx, trust_root, "off")
        fx.latency(args.latency_ms, kinds=["provenance"])
        colds = [(int(c), cold(env, args, fx, trust_root, int(c)))
                 for c in args.concurrency.split(",")]
        print("| measurement | value |")
        print("|---|---|")
        print("| warm %d-file page, annotated (median / p90 of %d) | "
              "%.1f / %.1f ms |" % (args.files, args.rounds,
                                    statistics.median(on),
                                    sorted(on)[int(0.9 * len(on)) - 1]))
        print("| of which annotation (hook: verdict lookups, rules, "
              "model edits; mean) | %.1f ms |" % on_annotate)
        print("| warm %d-file page, mode = off (render only) | "
              "%.1f / %.1f ms |" % (args.files, statistics.median(off),
                                    sorted(off)[int(0.9 * len(off)) - 1]))
        ui = env.ui_times
        print("| operator page /-/project/ of the warm %d-file project "
              "(median / p90 of %d) | %.1f / %.1f ms |"
              % (args.files, len(ui), statistics.median(ui),
                 sorted(ui)[int(0.9 * len(ui)) - 1]))
        for c, dt in colds:
            print("| cold page, %d provenance fetches at +%d ms, "
                  "concurrency %d | %.0f ms wall |"
                  % (args.cold, args.latency_ms, c, dt))
    finally:
        env.tearDown()


if __name__ == "__main__":
    main()
