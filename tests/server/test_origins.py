#!/usr/bin/env python3
"""tests/server/test_origins.py — what a malicious upstream page cannot make
provgate do: connect to another origin (another port of the upstream's own
host included), or take something that is not an index page for one.

A canary listener on another port of 127.0.0.1 counts every connection it
receives; every way an upstream page can name it (a listed file URL, a
scheme-relative URL, an upper-case scheme, a numeric host, a 301 from a file
URL, a 302 of the index page itself) must leave it untouched.

Uses test_server.py's harness (fixture upstream + provgate on 127.0.0.1
free ports, stopped by PID, sanitizer reports fail the test).

Run one test: test_origins.py <name>   (ctest: server.<name>)
Environment: PG_PROVGATE = the provgate executable.
"""

import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_server as ts  # noqa: E402

check = ts.check
rnd = ts.rnd
JSON_TYPE = ts.JSON_TYPE


class Canary:
    """A listener on a free port of 127.0.0.1 that counts connections (and
    closes them at once, so a client that did connect fails fast)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.lock = threading.Lock()
        self.stopped = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.count += 1
            c.close()

    def connections(self):
        # a connection made just before is accepted within a moment
        time.sleep(0.3)
        with self.lock:
            return self.count

    def close(self):
        self.stopped = True
        self.sock.close()


def add_at(e, filename, data, origin):
    """Adds a file whose listed URL starts with origin (any text)."""
    d = os.path.join(e.tmp, "files")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, filename)
    with open(p, "wb") as f:
        f.write(data)
    e.control("add", path=p, origin=origin)


def listed_path(e, project, filename):
    """The proxy path provgate lists filename under, or None."""
    r = e.get("/simple/%s/" % project, headers={"Accept": JSON_TYPE})
    check(r.status == 200, "page %s: %r" % (project, r))
    for f in r.json()["files"]:
        if f["filename"] == filename:
            return ts.urllib.parse.urlsplit(f["url"]).path
    return None


def t_other_origins_are_never_connected(e):
    canary = Canary()
    try:
        origin = e.start_fixture()
        c = canary.port
        # A file URL of each form names the canary's port.
        forms = {
            "listed": "http://127.0.0.1:%d" % c,
            "schemerel": "//127.0.0.1:%d" % c,
            "upper": "HTTP://127.0.0.1:%d" % c,
            "numeric": "http://2130706433:%d" % c,
        }
        for name, o in forms.items():
            add_at(e, "cn%s-1.0.tar.gz" % name, rnd(2000, name), o)
        # A file the upstream itself answers with a 301 to the canary.
        e.add("cnmoved-1.0.tar.gz", rnd(2000, "moved"))
        url = [f for f in e.control("files")
               if f["filename"] == "cnmoved-1.0.tar.gz"][0]["url"]
        e.control("redirect", filename="cnmoved-1.0.tar.gz", code=301,
                  to=url.replace(origin, "http://127.0.0.1:%d" % c))
        # An index page that answers with a 302 to the canary.
        e.add("cnpage-1.0.tar.gz", rnd(2000, "page"))
        e.control("raw", path="/simple/cnpage/", status=302,
                  location="http://127.0.0.1:%d/simple/cnpage/" % c)
        e.start_pg()

        for name in list(forms) + ["moved"]:
            fn = "cn%s-1.0.tar.gz" % name
            path = listed_path(e, "cn" + name, fn)
            if path is None:
                continue        # not offered at all: nothing to fetch
            r = e.get(path)
            # refused: 403, never a 5xx (clients retry those)
            ts.problem_ok(r, 403)
            check("origin not allowed" in r.reason, "%s: %r" % (name,
                                                               r.reason))
            check(canary.connections() == 0,
                  "%s: the canary got a connection" % name)
        r = e.get("/simple/cnpage/", headers={"Accept": JSON_TYPE})
        check(r.status == 502, "page redirected to the canary: %r" % r)
        check("origin not allowed" in r.reason, repr(r.reason))
        check(canary.connections() == 0, "page: the canary got a connection")
        # The same file served from the upstream's own origin still works.
        e.control("redirect", filename="cnmoved-1.0.tar.gz", to=None)
        path = listed_path(e, "cnmoved", "cnmoved-1.0.tar.gz")
        r = e.get(path)
        check(r.status == 200 and r.body == rnd(2000, "moved"), repr(r))
        check(canary.connections() == 0, "the canary got a connection")
    finally:
        canary.close()


def t_file_hosts_port_is_exact(e):
    canary = Canary()
    try:
        origin = e.start_fixture()
        fport = int(origin.rsplit(":", 1)[1])
        data = rnd(3000, "fh")
        # The page is reached as "localhost"; files are listed on
        # 127.0.0.1 (the fixture's port) and one on the canary's port.
        add_at(e, "fh-1.0.tar.gz", data, origin)
        add_at(e, "fh-2.0.tar.gz", rnd(3000, "fh2"),
               "http://127.0.0.1:%d" % canary.port)
        up = origin.replace("127.0.0.1", "localhost") + "/simple/"
        # A bare host allows its default port only (80 for http).
        e.start_pg(upstream=up, sets={"file_hosts": "127.0.0.1"})
        ts.problem_ok(e.get(listed_path(e, "fh", "fh-1.0.tar.gz")), 403)
        ts.problem_ok(e.get(listed_path(e, "fh", "fh-2.0.tar.gz")), 403)
        e.stop_pg()
        # host:port allows that port and no other.
        e.start_pg(upstream=up, cache=e.cache,
                   sets={"file_hosts": "127.0.0.1:%d" % fport})
        r = e.get(listed_path(e, "fh", "fh-1.0.tar.gz"))
        check(r.status == 200 and r.body == data, repr(r))
        ts.problem_ok(e.get(listed_path(e, "fh", "fh-2.0.tar.gz")), 403)
        check(canary.connections() == 0, "the canary got a connection")
    finally:
        canary.close()


def page_fetches(e, project):
    r = ts.request(e.fx_origin, "/_control/counts")
    return r.json()["paths"].get("/simple/%s/" % project, 0)


def t_only_index_pages_are_pages(e):
    e.start_fixture()
    for p in ("pw", "pwredir", "pwhtml", "pwjson", "keep"):
        e.add("%s-1.0.tar.gz" % p, rnd(500, p))
    # The fixture answers these project pages with what is not a page.
    e.control("raw", path="/simple/pw/", body="PWNED")
    e.control("raw", path="/simple/pwredir/", status=302,
              location="/pwned")
    e.control("raw", path="/pwned", body="PWNED")
    e.control("raw", path="/simple/pwhtml/", body="PWNED",
              content_type="text/html; charset=utf-8")
    e.control("raw", path="/simple/pwjson/", body="PWNED",
              content_type=JSON_TYPE)
    e.start_pg(sets={"index_ttl": "1s"})
    cases = (("pw", "Content-Type absent"),
             ("pwredir", "Content-Type absent"),
             ("pwhtml", "not an HTML page"),
             ("pwjson", "malformed"))
    for project, why in cases:
        for accept in (JSON_TYPE, "text/html"):
            r = e.get("/simple/%s/" % project, headers={"Accept": accept})
            check(r.status == 502, "%s: %r" % (project, r))
            check(why in r.reason, "%s: reason %r lacks %r"
                  % (project, r.reason, why))
    # Nothing was cached: every request went upstream again.
    check(page_fetches(e, "pw") == 2, "pw fetched %d times"
          % page_fetches(e, "pw"))
    # A cached page stays as it was when its refresh is not a page.
    r = e.get("/simple/keep/", headers={"Accept": JSON_TYPE})
    check(r.status == 200 and len(r.json()["files"]) == 1, repr(r))
    e.control("raw", path="/simple/keep/", body="PWNED")
    time.sleep(1.5)
    n = page_fetches(e, "keep")
    r = e.get("/simple/keep/", headers={"Accept": JSON_TYPE})
    check(page_fetches(e, "keep") == n + 1, "refreshed upstream")
    check(r.status == 200 and [f["filename"] for f in r.json()["files"]]
          == ["keep-1.0.tar.gz"], "stale page kept: %r" % r)
    # ... also in LMDB: after a restart (upstream still bad) it is served.
    e.stop_pg()
    e.start_pg(sets={"index_ttl": "1s"}, cache=e.cache)
    r = e.get("/simple/keep/", headers={"Accept": JSON_TYPE})
    check(r.status == 200 and [f["filename"] for f in r.json()["files"]]
          == ["keep-1.0.tar.gz"], "stored page kept: %r" % r)
    # Once the upstream answers a page again, it is taken.
    e.control("raw", path="/simple/pw/", clear=True)
    r = e.get("/simple/pw/", headers={"Accept": JSON_TYPE})
    check(r.status == 200 and len(r.json()["files"]) == 1, repr(r))


def t_file_without_sha256_is_marked_not_servable(e):
    e.start_fixture()
    e.add("nosha-1.0.tar.gz", rnd(700, "ns1"))
    e.add("nosha-2.0.tar.gz", rnd(700, "ns2"))
    files = {f["filename"]: f for f in e.control("files")}
    page = {"meta": {"api-version": "1.1"}, "name": "nosha",
            "files": [{"filename": fn, "url": files[fn]["url"],
                       "hashes": ({} if fn == "nosha-1.0.tar.gz"
                                  else {"sha256": files[fn]["sha256"]})}
                      for fn in sorted(files)]}
    e.control("raw", path="/simple/nosha/", body=ts.json.dumps(page),
              content_type=JSON_TYPE)
    e.start_pg()
    r = e.get("/simple/nosha/", headers={"Accept": JSON_TYPE})
    check(r.status == 200, repr(r))
    got = {f["filename"]: f for f in r.json()["files"]}
    bad, good = got["nosha-1.0.tar.gz"], got["nosha-2.0.tar.gz"]
    why = ("provgate: the index gives no sha256 for nosha-1.0.tar.gz, so it "
           "cannot be checked and is never served")
    # on_violation = yank (the default): listed, yanked with the reason
    check(bad["_provenance"]["decision"] == "yank", repr(bad))
    check(bad["yanked"] == why, repr(bad))
    check(good["_provenance"]["decision"] == "allow"
          and good.get("yanked") in (None, False), repr(good))
    r = e.get("/simple/nosha/", headers={"Accept": "text/html"})
    check(('data-yanked="%s"' % why).encode() in r.body, r.body[:600])
    path = ts.urllib.parse.urlsplit(good["url"]).path
    r = e.get(path)
    check(r.status == 200 and r.body == rnd(700, "ns2"), repr(r))


def t_mismatch_says_which_and_names_the_asked_file(e):
    e.start_fixture()
    same = rnd(5000, "same")
    e.add("aa-1.0.tar.gz", same)
    e.add("bb-1.0.tar.gz", same)        # other project, same bytes
    e.add("sz-1.0.tar.gz", rnd(5000, "sz"))
    e.control("flip", filename="aa-1.0.tar.gz", on=True)
    e.control("flip", filename="bb-1.0.tar.gz", on=True)
    e.control("extra", filename="sz-1.0.tar.gz", bytes=10)
    e.start_pg(sets={"mismatch_hold": "60s"})
    # A size mismatch is reported as one (not as a sha256 mismatch).
    path = e.file_url_path("sz", "sz-1.0.tar.gz")
    r = e.get(path)
    ts.problem_ok(r, 403)
    check("size does not match" in r.reason and "sz-1.0.tar.gz" in r.reason
          and "sha256" not in r.reason, repr(r.reason))
    r = e.get(path)
    ts.problem_ok(r, 403)
    check("size does not match" in r.reason, "held: %r" % r.reason)
    check("size mismatch: sz sz-1.0.tar.gz" in e.log(), "log names it")
    # A sha256 mismatch of aa's bytes holds them; bb lists the same bytes
    # under its own name: each refusal names the file asked for.
    pa = e.file_url_path("aa", "aa-1.0.tar.gz")
    pb = e.file_url_path("bb", "bb-1.0.tar.gz")
    r = e.get(pa)
    check(r.status in (0, 403) or not r.complete, "aa refused: %r" % r)
    r = e.get(pa)
    ts.problem_ok(r, 403)
    check("sha256" in r.reason and "aa-1.0.tar.gz" in r.reason
          and "bb-1.0.tar.gz" not in r.reason, r.reason)
    r = e.get(pb)
    ts.problem_ok(r, 403)
    check("bb-1.0.tar.gz" in r.reason and "aa-1.0.tar.gz" not in r.reason,
          "refusal names the asked file: %r" % r.reason)


def t_malformed_entry_is_dropped_not_the_page(e):
    e.start_fixture()
    e.add("drop-1.0.tar.gz", rnd(600, "drop"))
    good = [f for f in e.control("files")
            if f["filename"] == "drop-1.0.tar.gz"][0]
    entry = {"url": good["url"], "hashes": {"sha256": good["sha256"]}}
    page = {"meta": {"api-version": "1.1"}, "name": "drop", "files": [
        dict(entry, filename="../drop-0.9.tar.gz"),      # not a file name
        dict(entry, filename="drop-0.8\u0000.tar.gz"),   # a NUL in it
        dict(entry, filename="drop-1.0.tar.gz")]}
    body = ts.json.dumps(page)
    check("\\u0000" in body, "test bug: %r" % body)
    e.control("raw", path="/simple/drop/", body=body, content_type=JSON_TYPE)
    # The same in HTML: a link with an encoded NUL, then a good one.
    e.add("droph-1.0.tar.gz", rnd(600, "droph"))
    gh = [f for f in e.control("files")
          if f["filename"] == "droph-1.0.tar.gz"][0]
    html = ('<!DOCTYPE html><html><body>'
            '<a href="%s/packages/aa/droph-0.9%%00.tar.gz">bad</a>'
            '<a href="%s#sha256=%s">droph-1.0.tar.gz</a></body></html>'
            % (e.fx_origin, gh["url"], gh["sha256"]))
    e.control("raw", path="/simple/droph/", body=html,
              content_type="text/html")
    e.start_pg()
    r = e.get("/simple/drop/", headers={"Accept": JSON_TYPE})
    check(r.status == 200, "one bad entry costs the page: %r" % r)
    check([f["filename"] for f in r.json()["files"]] == ["drop-1.0.tar.gz"],
          repr(r.body))
    r = e.get(ts.urllib.parse.urlsplit(r.json()["files"][0]["url"]).path)
    check(r.status == 200 and r.body == rnd(600, "drop"), repr(r))
    r = e.get("/simple/droph/", headers={"Accept": JSON_TYPE})
    check(r.status == 200 and [f["filename"] for f in r.json()["files"]]
          == ["droph-1.0.tar.gz"], repr(r))
    m = e.get("/metrics").body.decode()
    check("provgate_index_entries_dropped_total 3" in m,
          [ln for ln in m.splitlines() if "dropped" in ln])
    log = e.log()
    check("page drop: left out 2 malformed file entries (first: files[0]"
          in log, log[-2000:])
    check("page droph: left out 1 malformed file entry (first: link 0: "
          "filename with an encoded NUL)" in log, log[-2000:])


TESTS = {
    "malformed_entry_is_dropped_not_the_page":
        t_malformed_entry_is_dropped_not_the_page,
    "file_without_sha256_is_marked_not_servable":
        t_file_without_sha256_is_marked_not_servable,
    "mismatch_says_which_and_names_the_asked_file":
        t_mismatch_says_which_and_names_the_asked_file,
    "only_index_pages_are_pages": t_only_index_pages_are_pages,
    "other_origins_are_never_connected": t_other_origins_are_never_connected,
    "file_hosts_port_is_exact": t_file_hosts_port_is_exact,
}


if __name__ == "__main__":
    ts.TESTS.clear()
    ts.TESTS.update(TESTS)
    sys.exit(ts.main())
