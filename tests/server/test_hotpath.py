#!/usr/bin/env python3
"""tests/server/test_hotpath.py — the warm serving path's caches stay
correct: a changed file record is seen, a blob removed from the store stops
being served, the buffered access log is written, and a file on a host the
configuration does not allow is refused with 403 (never a 5xx) also when
the upstream redirects there.

Uses test_server.py's harness (fixture upstream + provgate on 127.0.0.1
free ports, stopped by PID, sanitizer reports fail the test).

Run one test: test_hotpath.py <name>   (ctest: server.<name>)
Environment: PG_PROVGATE = the provgate executable.
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402

check = ts.check
rnd = ts.rnd
metric_value = ts.metric_value
wait_until = ts.wait_until

# proxy/http/server_int.h
PG_FILECACHE_FD_VALID_MS = 1000


def t_changed_record_is_seen(e):
    origin = e.start_fixture()
    data = rnd(4000, "cr")
    # First listed under a host file_hosts does not allow: refused (and the
    # record, with that URL, is now in provgate's record cache).
    other = origin.replace("127.0.0.1", "localhost")
    p = os.path.join(e.tmp, "cr-1.0.tar.gz")
    with open(p, "wb") as f:
        f.write(data)
    e.control("add", path=p, origin=other)
    e.start_pg(sets={"index_ttl": "1s"})
    path = e.file_url_path("cr", "cr-1.0.tar.gz")
    ts.problem_ok(e.get(path), 403)
    ts.problem_ok(e.get(path), 403)
    # The page now lists the same file (same proxy path, same sha256) on
    # the allowed host: once provgate refreshed the page, the new record
    # must be used, not the remembered one.
    e.control("add", path=p)

    def served():
        e.get("/simple/cr/", headers={"Accept": ts.JSON_TYPE})
        r = e.get(path)
        return r.status == 200 and r.body == data
    check(ts.wait_until(served, 30), "the refreshed record is used")


def t_removed_blob_stops_being_served(e):
    e.start_fixture()
    data = rnd(20000, "rb")
    e.add("rb-1.0.tar.gz", data)
    e.start_pg()
    path = e.file_url_path("rb", "rb-1.0.tar.gz")
    for _ in range(3):
        r = e.get(path)
        check(r.status == 200 and r.body == data, repr(r))
    check(ts.wait_until(lambda: len(e.blobs()) == 1, 30), "cached")
    check(e.counts("file") == 1, "one upstream fetch")
    r = e.get(path)
    check(r.status == 200 and r.body == data, "warm hit: %r" % r)
    check(e.counts("file") == 1, "served from the cache")
    # Remove the blob's file behind provgate's back (what an eviction by
    # another process does last).  Within the fd cache's validity the
    # open file may still be served; after it, the store is asked again.
    for root, _dirs, files in os.walk(os.path.join(e.cache, "blobs")):
        for f in files:
            os.unlink(os.path.join(root, f))
    time.sleep(PG_FILECACHE_FD_VALID_MS / 1000.0 + 0.5)
    r = e.get(path)
    check(r.status == 200 and r.body == data, "refetched: %r" % r)
    check(e.counts("file") == 2, "fetched again after the removal (%d)"
          % e.counts("file"))


def t_buffered_access_log_written(e):
    e.start_fixture()
    e.add("bl-1.0.tar.gz", rnd(1000, "bl"))
    alog = os.path.join(e.tmp, "access.log")
    e.start_pg(sets={"access_log": alog})
    n = 5
    for _ in range(n):
        check(e.get("/simple/bl/").status == 200, "page")

    def lines():
        if not os.path.exists(alog):
            return []
        with open(alog, "rb") as f:
            return [ln for ln in f.read().decode().splitlines()
                    if " /simple/bl/ " in ln]
    # Written within a second or so, without more traffic.
    check(ts.wait_until(lambda: len(lines()) == n, 20),
          "buffered lines written: %r" % lines())
    # And at a clean stop: nothing buffered is lost.
    for _ in range(n):
        e.get("/simple/bl/")
    e.stop_pg()
    got = lines()
    check(len(got) == 2 * n, "%d lines after stop: %r" % (len(got), got))
    check(all(ln.endswith("hit") or ln.endswith("miss") for ln in got),
          "whole lines: %r" % got)


def t_redirect_to_unlisted_host_is_refused(e):
    origin = e.start_fixture()
    data = rnd(3000, "rd")
    e.add("rd-1.0.tar.gz", data)
    e.start_pg()
    path = e.file_url_path("rd", "rd-1.0.tar.gz")
    files = e.control("files")
    url = [f for f in files if f["filename"] == "rd-1.0.tar.gz"][0]["url"]
    # The upstream answers the file with a redirect to a host that
    # file_hosts (default: files.pythonhosted.org) does not allow.
    e.control("redirect", filename="rd-1.0.tar.gz",
              to=url.replace("127.0.0.1", "localhost"))
    r = e.get(path)
    ts.problem_ok(r, 403)
    check(e.blobs() == [], "nothing cached")
    # A HEAD and a Range request wait for the download: also 403.
    ts.problem_ok(e.get(path, headers={"Range": "bytes=0-9"}), 403)
    e.control("redirect", filename="rd-1.0.tar.gz", to=None)
    r = e.get(path)
    check(r.status == 200 and r.body == data, "no redirect: %r" % r)
    del origin


def metric_sum(text, name):
    return sum(float(ln.split()[-1]) for ln in text.splitlines()
               if ln.startswith(name + " ") or ln.startswith(name + "{"))


def t_hot_table_bounded_by_bytes(e):
    """issue 10 item 6: the serving threads' table of cached hits holds at
    most hot_table_max_bytes, least recently used dropped first; a file
    larger than that alone is answered by the main loop, never the table."""
    e.start_fixture()
    size, n, cap = 200 * 1024, 12, 1 << 20
    data = {}
    for i in range(n):
        fn = "hb-%d.0.tar.gz" % (i + 1)
        data[fn] = rnd(size, fn)
        e.add(fn, data[fn])
    big = "hb-99.0.tar.gz"
    data[big] = rnd(cap + 4096, big)
    e.add(big, data[big])
    e.start_pg(sets={"serve_loops": 2, "hot_table_max_bytes": "1MiB"})

    def hot_hits():
        return metric_sum(e.get("/metrics").body.decode(),
                          "provgate_loop_hot_hits_total")

    paths = {fn: e.file_url_path("hb", fn) for fn in data}

    def served(fn):
        r = e.get(paths[fn])
        check(r.status == 200 and r.body == data[fn], "%s: %r" % (fn, r))
    names = sorted(data, key=lambda fn: fn == big)
    for fn in names:
        served(fn)                  # a miss: fetched and cached
    check(wait_until(lambda: len(e.blobs()) == n + 1, 30), "all cached")
    for fn in names:
        for _ in range(3):          # hits: published, then from the table
            served(fn)
        m = e.get("/metrics").body.decode()
        held = metric_value(m, "provgate_hot_table_bytes")
        check(held is not None and 0 < held <= cap,
              "after %s the table holds %r bytes (cap %d)" % (fn, held, cap))
        # The files that fit, and the project page.
        check(metric_value(m, "provgate_hot_table_entries")
              <= cap // size + 1,
              "entries: %r" % metric_value(m, "provgate_hot_table_entries"))
    m = e.get("/metrics").body.decode()
    check(metric_value(m, "provgate_hot_table_evictions_total")
          >= n - cap // size, "evictions: %r"
          % metric_value(m, "provgate_hot_table_evictions_total"))
    # The last small file is answered by a serving thread from the table;
    # the one over the cap alone is never (the main loop answers it).
    last = names[-2]
    before = hot_hits()
    for _ in range(4):
        served(last)
    check(hot_hits() >= before + 3, "hot hits for %s: %r -> %r"
          % (last, before, hot_hits()))
    before = hot_hits()
    for _ in range(4):
        served(big)
    check(hot_hits() == before, "the file over the cap was a hot hit")


TESTS = {
    "changed_record_is_seen": t_changed_record_is_seen,
    "removed_blob_stops_being_served": t_removed_blob_stops_being_served,
    "buffered_access_log_written": t_buffered_access_log_written,
    "redirect_to_unlisted_host_is_refused":
        t_redirect_to_unlisted_host_is_refused,
    "hot_table_bounded_by_bytes": t_hot_table_bounded_by_bytes,
}


if __name__ == "__main__":
    ts.TESTS.clear()
    ts.TESTS.update(TESTS)
    sys.exit(ts.main())
