#!/usr/bin/env python3
"""tests/bench/cold/run.py — the cold attested page at network speed
(issue 14 item 1; a command, not a ctest).

  run.py PROVGATE PG_MINT PG_BENCH_VERIFY [--files 200] [--rtt-ms 20]
         [--runs 3] [--concurrency N] [--reuse DIR]

The upstream is what PyPI is to provgate: nginx over TLS with HTTP/2,
serving a snapshot of the fixture upstream's pages, files and PEP 740
provenance objects (tests/e2e/fixture_upstream.py, objects minted by
pg-mint), behind a delay proxy that holds every chunk RTT/2 in each
direction, so every request (page, provenance, file) costs one round trip
and connection set-up costs what it costs on a real network.

provgate runs with a fresh cache each run, already connected to the
upstream (a one-file project is fetched first, as a gateway in service
is), and the time to its first answer for the project page of FILES
attested wheels is measured.  Printed beside it, measured in the same run:
one verification's CPU time (pg-bench-verify on one of the minted objects,
one thread) and the issue's bound

    2 x RTT + FILES x one verification / cores + 20 ms

with the ratio measured / bound (goal <= 1.00).  Also measured in the
same run: the network floor, curl fetching the page and then every
provenance object at once over one new HTTP/2 connection through the same
delay proxy (no verification): what the upstream and the delay proxy
themselves take.  Run it on an otherwise idle machine, against a Release
build (tests/bench/cold/run.sh builds one).
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
sys.path.insert(0, os.path.join(SRC, "tests", "e2e_policy"))

import pgtest  # noqa: E402
from bench_annotate import mint_project, add_all  # noqa: E402

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


# ---- the delay proxy --------------------------------------------------------

async def _pump(reader, writer, delay):
    """Copies reader to writer, each chunk delivered `delay` seconds after
    it arrived, in order (a propagation delay, no bandwidth limit)."""
    q = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await q.get()
            if data is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
        writer.close()

    task = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            q.put_nowait((time.monotonic() + delay, data))
    except ConnectionError:
        pass
    q.put_nowait((time.monotonic() + delay, None))
    try:
        await task
    except ConnectionError:
        pass


async def _delay_proxy(listen_port, target_port, delay):
    async def handle(cr, cw):
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            cw.close()
            return
        await asyncio.sleep(delay)          # the SYN's way there ...
        await asyncio.gather(_pump(cr, uw, delay), _pump(ur, cw, delay))

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


def delay_proxy_main(listen_port, target_port, rtt_ms):
    asyncio.run(_delay_proxy(listen_port, target_port, rtt_ms / 2000.0))


# ---- the upstream: nginx + TLS + HTTP/2 --------------------------------------

NGINX_CONF = """
daemon off;
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    {access}
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen 127.0.0.1:{port} ssl http2;
        http2_max_concurrent_streams 256;
        ssl_certificate {tmp}/cert.pem;
        ssl_certificate_key {tmp}/key.pem;
        root {root};
        location /simple/ {{
            types {{ }}
            default_type {json};
            index index.json;
        }}
        location /integrity/ {{
            types {{ }}
            default_type application/vnd.pypi.integrity.v1+json;
        }}
        location / {{
            types {{ }}
            default_type application/octet-stream;
        }}
    }}
}}
"""


def snapshot(fx, projects, root, new_base):
    """Copies the fixture's JSON pages, files and provenance objects into
    root, with the fixture's origin in every URL replaced by new_base."""
    old_base = fx.index_url[:fx.index_url.index("/simple/")]
    for project in projects:
        req = urllib.request.Request(
            "%s/simple/%s/" % (old_base, project),
            headers={"Accept": JSON_TYPE})
        page = json.loads(urllib.request.urlopen(req, timeout=60).read())
        for f in page["files"]:
            urls = [("url", f.get("url")), ("provenance", f.get("provenance"))]
            if f.get("core-metadata") or f.get("data-dist-info-metadata"):
                urls.append((None, f["url"] + ".metadata"))     # PEP 658
            for key, url in urls:
                if not url:
                    continue
                path = urllib.parse.urlsplit(url).path
                dst = os.path.join(root, path.lstrip("/"))
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with urllib.request.urlopen(url, timeout=60) as r, \
                        open(dst, "wb") as out:
                    shutil.copyfileobj(r, out)
                if key is not None:
                    f[key] = new_base + path
        d = os.path.join(root, "simple", project)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "index.json"), "w") as out:
            json.dump(page, out)


def start_upstream(env, fx, projects, rtt_ms, access_log=None):
    """nginx (TLS, HTTP/2) serving a snapshot of fx's projects behind the
    delay proxy: (base URL, CA file).  access_log: a file nginx writes each
    request's URI to, one per line (default: none)."""
    tmp = env.new_dir("upstream")
    root = os.path.join(tmp, "root")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                    "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", os.path.join(tmp, "key.pem"),
                    "-out", os.path.join(tmp, "cert.pem"), "-days", "2",
                    "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    nport, dport = pgtest.free_port(), pgtest.free_port()
    base = "https://127.0.0.1:%d" % dport
    snapshot(fx, projects, root, base)
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        # as root, nginx's workers would drop to nobody, who cannot read
        # the test's private temporary directory
        import pwd
        user = ("user %s;" % pwd.getpwuid(os.geteuid()).pw_name
                if os.geteuid() == 0 else "")
        access = ("log_format uri '$request_uri';\n"
                  "    access_log %s uri;" % access_log
                  if access_log else "access_log off;")
        f.write(NGINX_CONF.format(tmp=tmp, port=nport, root=root,
                                  json=JSON_TYPE, user=user, access=access))
    nginx = subprocess.Popen(["nginx", "-c", os.path.join(tmp, "nginx.conf"),
                              "-e", os.path.join(tmp, "nginx-error.log")],
                             stdin=subprocess.DEVNULL)
    proxy = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                              "--delay-proxy", str(dport), str(nport),
                              str(rtt_ms)], stdin=subprocess.DEVNULL)
    env.bench_procs += [nginx, proxy]
    ok = pgtest.wait_until(lambda: port_open(dport) and port_open(nport), 20)
    if not ok:
        raise RuntimeError("upstream did not start")
    return base, os.path.join(tmp, "cert.pem")


def port_open(port):
    import socket
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


# ---- measurements -------------------------------------------------------------

def one_verification_s(bench_verify, prov, dist, trust_root):
    """CPU seconds of one verification, one thread (pg-bench-verify)."""
    out = subprocess.run([bench_verify, prov, dist, "--seconds", "2",
                          "--trust-root", trust_root],
                         check=True, capture_output=True, text=True).stdout
    kv = dict(line.split("=", 1) for line in out.split())
    return 1.0 / float(kv["provenance_per_s"])


def direct_floor(base, ca, project):
    """Seconds for curl to fetch the page, then all its provenance objects
    at once (HTTP/2, one connection), through the delay proxy."""
    t0 = time.perf_counter()
    page = json.loads(subprocess.run(
        ["curl", "-sf", "--http2", "--cacert", ca, "-H",
         "Accept: " + JSON_TYPE, "%s/simple/%s/" % (base, project)],
        check=True, capture_output=True).stdout)
    cmd = ["curl", "-sf", "--http2", "--cacert", ca, "-Z",
           "--parallel-max", "256"]
    for f in page["files"]:
        cmd += ["-o", "/dev/null", f["provenance"]]
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def cold_run(env, args, base, ca, trust_root, i):
    pg = env.start_provgate(
        base + "/simple/", cache_dir=env.new_dir("cache-%d" % i),
        extra_args=["--trust-root", trust_root],
        sets=dict({"ca_bundle": ca, "provenance_budget": "120s"},
                  **({"provenance_concurrency": str(args.concurrency)}
                     if args.concurrency else {})))
    try:
        r = pg.page("warm", accept=JSON_TYPE)      # a gateway in service
        if r.status != 200:
            raise RuntimeError("warm-up page: %d %s\n%s"
                               % (r.status, r.reason, pg.log_tail()))
        t0 = time.perf_counter()
        r = pg.page("coldbench", accept=JSON_TYPE)
        dt = time.perf_counter() - t0
        if r.status != 200:
            raise RuntimeError("cold page: %d %s" % (r.status, r.reason))
        page = r.json()
        bad = [f["filename"] for f in page["files"]
               if f["_provenance"]["status"] != "verified"]
        if len(page["files"]) != args.files or bad:
            raise RuntimeError("cold page: %d files, not verified: %s\n%s"
                               % (len(page["files"]), bad[:5],
                                  pg.log_tail()))
    finally:
        env.stop_provgate(pg)
    return dt


def stop_all(env):
    """Stops nginx and the delay proxy, then pgtest's own processes."""
    for p in env.bench_procs:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
    env.tearDown()


class Env(pgtest.Case):
    """pgtest's process bookkeeping, used outside unittest."""

    def runTest(self):
        pass


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "--delay-proxy":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        delay_proxy_main(int(sys.argv[2]), int(sys.argv[3]),
                         float(sys.argv[4]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("provgate")
    ap.add_argument("mint")
    ap.add_argument("bench_verify")
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--rtt-ms", type=float, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=0,
                    help="provenance_concurrency (default: provgate's)")
    ap.add_argument("--reuse", help="directory keeping the minted root "
                    "and wheels between runs")
    args = ap.parse_args()
    os.environ["PG_PROVGATE"] = os.path.abspath(args.provgate)
    os.environ.setdefault("PG_SHARED_DIR", os.path.join(SRC, "..",
                                                        "shared"))
    env = Env()
    env.setUp()
    env.bench_procs = []
    try:
        keep = args.reuse or env.tmp
        root = os.path.join(keep, "root")
        if not os.path.isfile(os.path.join(root, "trusted_root.json")):
            subprocess.run([args.mint, "init", root], check=True,
                           stdout=subprocess.DEVNULL)
        trust_root = os.path.join(root, "trusted_root.json")
        dist, dist_w = os.path.join(keep, "dist"), os.path.join(keep, "dw")
        os.makedirs(dist, exist_ok=True)
        os.makedirs(dist_w, exist_ok=True)
        files = mint_project(args.mint, root, dist, "coldbench", args.files)
        warm = mint_project(args.mint, root, dist_w, "warm", 1)
        fx = env.start_fixture(vectors=False)
        add_all(fx, files)
        add_all(fx, warm)
        base, ca = start_upstream(env, fx, ["coldbench", "warm"],
                                  args.rtt_ms)
        verify_s = one_verification_s(args.bench_verify, files[0][1],
                                      files[0][0], trust_root)
        floors, times = [], []
        for i in range(args.runs):
            floors.append(direct_floor(base, ca, "coldbench"))
            times.append(cold_run(env, args, base, ca, trust_root, i))
        cores = os.cpu_count() or 1
        rtt = args.rtt_ms / 1000.0
        bound = 2 * rtt + args.files * verify_s / cores + 0.020
        best, med = min(times), statistics.median(times)
        print("| cold attested page (nginx h2 upstream, RTT %.0f ms) "
              "| value |" % args.rtt_ms)
        print("|---|---|")
        print("| files | %d |" % args.files)
        print("| one verification (CPU, one thread) | %.2f ms |"
              % (verify_s * 1000))
        print("| cores | %d |" % cores)
        print("| bound 2 x RTT + files x verification / cores + 20 ms "
              "| %.0f ms |" % (bound * 1000))
        print("| network floor: curl, page then every object at once "
              "(new connection), best / median | %.0f / %.0f ms |"
              % (min(floors) * 1000, statistics.median(floors) * 1000))
        print("| provgate first answer, best / median of %d runs "
              "| %.0f / %.0f ms |" % (len(times), best * 1000, med * 1000))
        print("| ratio best / bound (goal <= 1.00) | %.2f |" % (best / bound))
        print("| ratio median / bound | %.2f |" % (med / bound))
    finally:
        stop_all(env)


if __name__ == "__main__":
    main()
