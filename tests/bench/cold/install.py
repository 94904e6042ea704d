#!/usr/bin/env python3
"""tests/bench/cold/install.py — a cold install end to end (issue 14 item 3;
a command, not a ctest).

  install.py PROVGATE PG_MINT [--rtt-ms 20] [--projects 20] [--big 3]
             [--big-files 200] [--small-files 6] [--attested 4]
             [--fleet 8] [--runs 2] [--reuse DIR]

A requirements set of PROJECTS projects (BIG of them with BIG_FILES
releases, the others with SMALL_FILES; in each the ATTESTED newest releases
carry minted PEP 740 provenance, the older ones none, as on PyPI), served
like PyPI by nginx over TLS + HTTP/2 behind the delay proxy of run.py (RTT
on every request).  Each project's newest release is asked for.

Measured in one run, best of RUNS, printed as ratios:
  direct  `pip download -r req.txt` straight from the upstream (no
          verification);
  cold    the same through a provgate with a fresh cache (already connected
          to the upstream: one other project fetched first); goal <= 1.3 x
          direct;
  warm    the same again through that provgate; goal <= 0.5 x direct;
  fleet   FLEET `pip download`s at once through a fresh provgate (a CI
          fleet starting together): how many upstream requests were made for
          objects already asked for (goal: 0: each page, provenance object
          and file fetched from the upstream once).
Run it on an otherwise idle machine against a Release build.
"""

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import run as cold  # noqa: E402  (tests/bench/cold/run.py)
from run import pgtest  # noqa: E402
from test_policy_e2e import make_wheel  # noqa: E402

PUB = "github:org/bench:release.yml"


def mint_set(args, mint, root, dist):
    """[(project, [(wheel, provenance or None, upload time)])]."""
    out = []
    for k in range(args.projects):
        project = "proj%02d" % k
        n = args.big_files if k < args.big else args.small_files
        files = []
        for i in range(n):
            version = "1.%d" % i
            whl = os.path.join(dist, "%s-%s-py3-none-any.whl"
                               % (project, version))
            if not os.path.isfile(whl):
                make_wheel(dist, version, name=project)
            prov = None
            if i >= n - args.attested:
                prov = whl + ".provenance"
                if not os.path.isfile(prov):
                    subprocess.run([mint, "provenance", "--root", root,
                                    "--file", whl, "--publisher", PUB,
                                    "-o", prov], check=True,
                                   stdout=subprocess.DEVNULL)
            t = 1704067200 + 3600 * k + 60 * i
            files.append((whl, prov, time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                   time.gmtime(t))))
        out.append((project, files))
    return out


def pip_download(env, index, req):
    dest = tempfile.mkdtemp(prefix="dl-", dir=env.tmp)  # thread-safe
    t0 = time.perf_counter()
    p = pgtest.run_pip(env.tmp, ["download", "--no-deps", "--no-cache-dir",
                                 "--index-url", index, "-d", dest, "-r",
                                 req])
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError("pip failed: %s\n%s" % (p.cmd, p.output[-3000:]))
    got = len(os.listdir(dest))
    shutil.rmtree(dest, ignore_errors=True)
    return dt, got


def provgate(env, base, ca, trust_root, name):
    pg = env.start_provgate(base + "/simple/",
                            cache_dir=env.new_dir("cache-" + name),
                            extra_args=["--trust-root", trust_root],
                            sets={"ca_bundle": ca,
                                  "provenance_budget": "60s"})
    r = pg.page("warm", accept=cold.JSON_TYPE)
    if r.status != 200:
        raise RuntimeError("warm-up: %d %s" % (r.status, r.reason))
    return pg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("provgate")
    ap.add_argument("mint")
    ap.add_argument("--rtt-ms", type=float, default=20)
    ap.add_argument("--projects", type=int, default=20)
    ap.add_argument("--big", type=int, default=3)
    ap.add_argument("--big-files", type=int, default=200)
    ap.add_argument("--small-files", type=int, default=6)
    ap.add_argument("--attested", type=int, default=4)
    ap.add_argument("--fleet", type=int, default=8)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--reuse", help="directory keeping the minted root "
                    "and wheels between runs")
    args = ap.parse_args()
    os.environ["PG_PROVGATE"] = os.path.abspath(args.provgate)
    os.environ.setdefault("PG_SHARED_DIR", os.path.join(cold.SRC, "..",
                                                        "shared"))
    env = cold.Env()
    env.setUp()
    env.bench_procs = []
    try:
        keep = args.reuse or env.tmp
        root = os.path.join(keep, "root")
        if not os.path.isfile(os.path.join(root, "trusted_root.json")):
            subprocess.run([args.mint, "init", root], check=True,
                           stdout=subprocess.DEVNULL)
        trust_root = os.path.join(root, "trusted_root.json")
        dist = os.path.join(keep, "set")
        dist_w = os.path.join(keep, "dw")
        os.makedirs(dist, exist_ok=True)
        os.makedirs(dist_w, exist_ok=True)
        t0 = time.time()
        sets = mint_set(args, args.mint, root, dist)
        warm = cold.mint_project(args.mint, root, dist_w, "warm", 1)
        sys.stderr.write("set of %d projects, %d files, ready in %.1f s\n"
                         % (len(sets), sum(len(f) for _, f in sets),
                            time.time() - t0))
        fx = env.start_fixture(vectors=False)
        for _project, files in sets:
            for whl, prov, up in files:
                fx.add_file(whl, provenance=prov, upload_time=up)
        cold.add_all(fx, warm)
        access = os.path.join(env.tmp, "upstream-access.log")
        base, ca = cold.start_upstream(env, fx, [p for p, _ in sets]
                                       + ["warm"], args.rtt_ms,
                                       access_log=access)
        # pip's requests takes REQUESTS_CA_BUNDLE over --cert: set it
        os.environ["REQUESTS_CA_BUNDLE"] = ca
        os.environ.pop("CURL_CA_BUNDLE", None)
        req = os.path.join(env.tmp, "requirements.txt")
        with open(req, "w") as f:
            for project, files in sets:
                f.write("%s==1.%d\n" % (project, len(files) - 1))
        direct, cold_t, warm_t = [], [], []
        for i in range(args.runs):
            dt, got = pip_download(env, base + "/simple/", req)
            direct.append(dt)
            pg = provgate(env, base, ca, trust_root, "run%d" % i)
            dt, got = pip_download(env, pg.index_url, req)
            cold_t.append(dt)
            bad = [ln for ln in pg.log_text().splitlines()
                   if " 403 " in ln or " 502 " in ln]
            if got != len(sets) or bad:
                raise RuntimeError("cold: %d files, refusals %s"
                                   % (got, bad[:3]))
            dt, got = pip_download(env, pg.index_url, req)
            warm_t.append(dt)
            env.stop_provgate(pg)
        # the fleet: FLEET cold pip downloads at once, one fresh provgate
        pg = provgate(env, base, ca, trust_root, "fleet")
        with open(access) as f:
            f.seek(0, os.SEEK_END)
            start = f.tell()
        errors = []

        def one():
            try:
                pip_download(env, pg.index_url, req)
            except Exception as ex:  # noqa: BLE001 — reported below
                errors.append(repr(ex))
        threads = [threading.Thread(target=one) for _ in range(args.fleet)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fleet_t = time.perf_counter() - t0
        env.stop_provgate(pg)
        if errors:
            raise RuntimeError("fleet: %s" % errors[:2])
        with open(access) as f:
            f.seek(start)
            uris = [ln.strip() for ln in f if ln.strip()]
        counts = collections.Counter(uris)
        again = sum(n - 1 for n in counts.values())
        d, c, w = min(direct), min(cold_t), min(warm_t)
        print("| cold install, %d projects (%d files), RTT %.0f ms "
              "| value |" % (len(sets), sum(len(f) for _, f in sets),
                             args.rtt_ms))
        print("|---|---|")
        print("| pip download straight from the upstream (best of %d) "
              "| %.2f s |" % (args.runs, d))
        print("| through a cold provgate | %.2f s (%.2f x direct, "
              "goal <= 1.3) |" % (c, c / d))
        print("| through the same provgate, warm | %.2f s (%.2f x direct, "
              "goal <= 0.5) |" % (w, w / d))
        print("| %d cold pip downloads at once | %.2f s; %d upstream "
              "requests for %d objects, %d repeated (goal 0) |"
              % (args.fleet, fleet_t, len(uris), len(counts), again))
        for uri, n in counts.most_common(5):
            if n > 1:
                print("|   fetched %d times | %s |" % (n, uri))
    finally:
        cold.stop_all(env)


if __name__ == "__main__":
    main()
