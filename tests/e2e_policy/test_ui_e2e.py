#!/usr/bin/env python3
"""tests/e2e_policy/test_ui_e2e.py — the operator pages end to end (issue
15): the fixture upstream, pg-mint's private trust root and provenance for
a project "demo" whose publisher moves, `provgate serve` with ui = on, and
the pages read over HTTP and in a real browser (headless Chromium).

* a minted publisher change shows on the project page with both
  identities side by side and the certificate facts that differ;
* the approve form works with the admin token and its CSRF token, and
  fails without the token, with a wrong one, or without the CSRF token;
* a forget from the command line shows in the page's pin history;
* ui = off serves no /-/ page;
* Chromium loads the overview and the project page: screenshots are saved
  under the build tree (PG_UI_SHOTS) and the rendered DOM is checked.

Environment (ctest passes them): PG_PROVGATE, PG_MINT, PG_SHARED_DIR,
PG_UI_SHOTS, PG_CHROMIUM_REQUIRED (1: a missing chromium fails the test,
as PG_TESTS=ON requires every test package; else it skips).
Spec: issue 15 "Tests".
"""

import base64
import hashlib
import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)

import pgtest  # noqa: E402
from test_policy_e2e import (GOOD, MOVED, PolicyCase, make_wheel,  # noqa
                             month)

MOVED_REF = "refs/tags/v1.1"
VERIFIED_CELL = '<td><span class="st st-verified">verified</span></td>'


def fake_commit(repository, ref):
    """pg-mint's stable fake commit digest for a repository and ref."""
    return hashlib.sha256(("%s@%s" % (repository, ref)).encode()) \
        .hexdigest()[:40]


class UiCase(PolicyCase):

    def moved_project(self, up):
        """demo 1.0 from GOOD (pinned), 1.1 from MOVED at another ref."""
        self.release(up, "1.0", GOOD, month(1))
        whl = make_wheel(self.dist, "1.1")
        prov = whl + ".moved.provenance"
        self.run_mint("provenance", "--root", self.root, "--file", whl,
                      "--publisher", MOVED, "--ref", MOVED_REF, "-o", prov)
        return up.add_file(whl, provenance=prov, upload_time=month(2))

    def serve_ui(self, up, tokens=None, sets=None):
        s = {"ui": "on"}
        if tokens:
            s["admin_token_file"] = tokens
        s.update(sets or {})
        return self.serve(up, sets=s)

    def admin_token(self, name="alice"):
        p = pgtest.run_cli(["admin-token", name])
        self.assertEqual(p.returncode, 0, p.output)
        line = p.stdout.decode().strip()
        self.assertRegex(line, r"^%s sha256\$[0-9a-f]{32}\$[0-9a-f]{64}$"
                         % name)
        token = p.stderr.decode().strip().splitlines()[-1]
        self.assertRegex(token, r"^[0-9a-f]{64}$")
        self.assertNotIn(token, line)
        path = os.path.join(self.tmp, "admins")
        with open(path, "a") as f:
            f.write("# administrators\n" + line + "\n")
        return path, token

    def basic(self, name, token):
        return {"Authorization": "Basic " + base64.b64encode(
            ("%s:%s" % (name, token)).encode()).decode()}

    def ui_get(self, pg, path, headers=None, want=200):
        r = pg.get(path, headers=headers)
        self.assertEqual(r.status, want, (path, r.status, r.reason,
                                          r.body[:400]))
        if want == 200:
            self.assertEqual(r.header("content-type"),
                             "text/html; charset=utf-8")
            self.assertIn("default-src 'none'",
                          r.header("content-security-policy"))
        return r.body.decode()

    def project_page(self, pg, pred, what, headers=None, timeout=20):
        last = {}

        def check():
            last["page"] = self.ui_get(pg, "/-/project/demo", headers)
            return pred(last["page"])
        if not pgtest.wait_until(check, timeout, 0.3):
            self.fail("project page never showed %s:\n%s"
                      % (what, last.get("page", "")[:6000]))
        return last["page"]


def side_by_side(page):
    """{fact: (old, new, differs)} of the first change's table."""
    m = re.search(r'<table class="side">(.*?)</table>', page, re.S)
    if not m:
        return None
    rows = {}
    for tr in re.finditer(r'<tr( class="diff")?><th scope="row">([^<]*)'
                          r'(?: <span class="muted">\(differs\)</span>)?'
                          r'</th><td[^>]*>(.*?)</td><td[^>]*>(.*?)</td></tr>',
                          m.group(1), re.S):
        strip = lambda s: html.unescape(re.sub(r"<[^>]+>", "", s))  # noqa
        rows[tr.group(2).strip()] = (strip(tr.group(3)), strip(tr.group(4)),
                                     bool(tr.group(1)))
    return rows


class Pages(UiCase):

    def test_publisher_change_shows_both_identities_side_by_side(self):
        up = self.start_fixture(vectors=False)
        self.moved_project(up)
        pg = self.serve_ui(up)
        # the certificate facts come from the cached provenance, stored on
        # a worker just after the first decision
        page = self.project_page(pg, lambda p: 'class="side"' in p
                                 and MOVED_REF in p and "refs/heads/main" in p,
                                 "the publisher change with its facts")
        rows = side_by_side(page)
        self.assertEqual(rows["publisher"][:2], (GOOD, MOVED))
        self.assertEqual(rows["repository"], ("org/demo", "org/demo-moved",
                                              True))
        self.assertEqual(rows["workflow"], ("release.yml", "release.yml",
                                            False))
        self.assertEqual(rows["ref"], ("refs/heads/main", MOVED_REF, True))
        self.assertEqual(rows["commit digest"],
                         (fake_commit("org/demo", "refs/heads/main"),
                          fake_commit("org/demo-moved", MOVED_REF), True))
        self.assertEqual(rows["first file"][:2],
                         ("demo-1.0-py3-none-any.whl",
                          "demo-1.1-py3-none-any.whl"))
        self.assertEqual(rows["uploaded"][:2], ("2025-01-01 00:00 UTC",
                                                "2025-02-01 00:00 UTC"))
        self.assertEqual(rows["workflow run"][1], "https://github.com/org/"
                         "demo-moved/actions/runs/4242/attempts/1")
        self.assertIn('href="https://github.com/org/demo-moved/actions/runs/'
                      '4242/attempts/1"', page)
        # every file with its status and reason
        self.assertRegex(page, r'demo-1\.0-py3-none-any\.whl</td><td>'
                         r'2025-01-01T00:00:00Z</td><td><span class="st '
                         r'st-verified">verified')
        self.assertRegex(page, r'demo-1\.1-py3-none-any\.whl</td><td>'
                         r'2025-02-01T00:00:00Z</td><td><span class="st '
                         r'st-rejected">rejected</span></td><td>yank</td>')
        self.assertIn("provgate: publisher %s is not accepted for demo"
                      % MOVED, page)
        # the pin and its first history event
        self.assertIn("<td><code>%s</code></td><td>tofu</td>" % GOOD, page)
        self.assertRegex(page, r'id="history-table".*<td>tofu</td>', )
        # read-only: no form, the command instead
        self.assertNotIn("<form", page)
        self.assertIn("provgate pins approve demo --publisher %s" % MOVED,
                      page)
        # the overview lists it as waiting, and the refusal
        ov = self.ui_get(pg, "/-/")
        self.assertIn('<a href="/-/project/demo">demo</a></td><td><code>%s'
                      '</code>' % MOVED, ov)
        self.assertRegex(ov, r'<span class="v">1</span>refused, last 24 h')
        self.assertRegex(ov, r'<span class="v">1</span>pins created, 7 days')
        self.assertIn("<svg", ov)
        # the events page, filtered
        ev = self.ui_get(pg, "/-/events?project=demo&decision=refused")
        self.assertIn("demo-1.1-py3-none-any.whl", ev)
        self.assertNotIn("pin-create", ev)
        ev = self.ui_get(pg, "/-/events?decision=pin&since=24h")
        self.assertIn("pin-create", ev)
        self.assertNotIn("demo-1.1-py3-none-any.whl</td>", ev)
        # stable URLs: a non-normalized name moves to the normalized one
        r = pg.get("/-/project/Demo")
        self.assertEqual((r.status, r.header("location")),
                         (301, "/-/project/demo"))
        self.ui_get(pg, "/-/project/nonexistent-x", want=404)

    def test_forget_from_the_cli_shows_in_the_history(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        pg = self.serve_ui(up)
        self.project_page(pg, lambda p: "<td>tofu</td>" in p, "the pin")
        f = self.pins(pg, "forget", "demo", "--why", "re-pin <now>")
        self.assertEqual(f.returncode, 0, f.output)
        page = self.project_page(
            pg, lambda p: "<td>forget</td>" in p, "the forget")
        self.assertRegex(page, r'<td>forget</td><td class="mono">%s</td>'
                         r'<td class="mono"></td><td>[^<]+</td><td>re-pin '
                         r'&lt;now&gt;</td>' % re.escape(GOOD))
        # newest first: the first pin last, the forget after it (and the
        # pin made again at the next sight, if it came yet, on top)
        hist = page[page.index('id="history-table"'):]
        what = re.findall(r"<tr><td><time[^>]*>[^<]*</time></td><td>(\w+)"
                          r"</td>", hist)
        self.assertEqual(what[-2:], ["forget", "tofu"], what)

    def test_ui_off_serves_no_page(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        pg = self.serve(up)
        for path in ("/-/", "/-/project/demo", "/-/events", "/-/login"):
            r = pg.get(path)
            self.assertEqual(r.status, 404, path)
        r = pg.get("/-/project/demo/approve?csrf=x", method="POST")
        self.assertEqual(r.status, 404)
        # POST stays refused everywhere else
        r = pg.get("/simple/demo/", method="POST")
        self.assertEqual(r.status, 405)


class Approvals(UiCase):

    def test_approve_needs_the_admin_token_and_the_csrf_token(self):
        up = self.start_fixture(vectors=False)
        self.moved_project(up)
        tokens, token = self.admin_token("alice")
        pg = self.serve_ui(up, tokens=tokens)
        admin = self.basic("alice", token)
        q = "publisher=%s&why=%s" % (urllib.parse.quote(MOVED, safe=""),
                                     urllib.parse.quote("moved to org", safe=""))
        # read-only without credentials: no form
        page = self.project_page(pg, lambda p: 'class="side"' in p,
                                 "the change")
        self.assertNotIn("<form", page)
        self.assertEqual(pg.get("/-/login").status, 401)
        self.assertIn("Basic realm=", pg.get("/-/login")
                      .header("www-authenticate"))
        # with them: the forms, the token in each
        page = self.ui_get(pg, "/-/project/demo", admin)
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
        self.assertIn('action="/-/project/demo/approve"', page)
        self.assertIn('action="/-/project/demo/forget"', page)
        # the confirmation page (GET changes nothing) names the POST URL
        conf = self.ui_get(pg, "/-/project/demo/approve?" + q, admin)
        action = html.unescape(re.search(
            r'<form method="post" action="([^"]+)"', conf).group(1))
        self.assertIn("csrf=" + csrf, action)
        self.assertEqual(self.pins(pg, "show", "demo").output.count(MOVED), 0)
        # refused: no credentials, wrong token, wrong or no CSRF token,
        # a wrong name
        for hdrs, want in ((None, 401),
                           (self.basic("alice", "0" * 64), 401),
                           (self.basic("mallory", token), 401)):
            r = pg.get(action, headers=hdrs, method="POST")
            self.assertEqual(r.status, want, (hdrs, r.status, r.body))
        r = pg.get("/-/project/demo/approve?" + q, headers=admin,
                   method="POST")
        self.assertEqual(r.status, 403, r.body)
        self.assertIn("CSRF", r.reason)
        r = pg.get("/-/project/demo/approve?" + q + "&csrf=" + "0" * 64,
                   headers=admin, method="POST")
        self.assertEqual(r.status, 403)
        self.assertEqual(self.pins(pg, "show", "demo").output.count(MOVED), 0)
        self.assertFalse([e for e in self.audit_events()
                          if e["event"] == "pin-approve"])
        # accepted: the pin takes the publisher, the audit names alice
        r = pg.get(action, headers=admin, method="POST")
        self.assertEqual((r.status, r.header("location")),
                         (303, "/-/project/demo?done=approved"))
        shown = self.pins(pg, "show", "demo")
        self.assertIn(MOVED, shown.output)
        self.assertIn("alice", shown.output)
        ev = [e for e in self.audit_events() if e["event"] == "pin-approve"]
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual((ev[0]["actor"], ev[0]["seen"], ev[0]["reason"]),
                         ("alice", MOVED, "moved to org"))
        # and the page shows 1.1 verified, the change gone, the history
        page = self.project_page(
            pg, lambda p: re.search(r'demo-1\.1-py3-none-any\.whl</td><td>'
                                    r'[^<]*</td><td><span class="st st-'
                                    r'verified">', p) is not None,
            "1.1 verified after the approval", admin)
        self.assertNotIn('class="side"', page)
        self.assertRegex(page, r"<td>approve</td>.*<td>alice</td><td>moved "
                         r"to org</td>")
        page = self.ui_get(pg, "/-/project/demo?done=approved", admin)
        self.assertIn('<p class="flash" role="status">Approved', page)
        p = self.pip_download(pg, "demo")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p), ["demo-1.1-py3-none-any.whl"])

    def test_forget_from_the_page(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        tokens, token = self.admin_token("carol")
        pg = self.serve_ui(up, tokens=tokens)
        admin = self.basic("carol", token)
        page = self.project_page(pg, lambda p: "<td>tofu</td>" in p,
                                 "the pin", admin)
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)
        r = pg.get("/-/project/demo/forget?why=test&csrf=" + csrf,
                   headers=admin, method="POST")
        self.assertEqual(r.status, 303, r.body)
        self.assertEqual(r.header("location"), "/-/project/demo?done=forgotten")
        ev = [e for e in self.audit_events() if e["event"] == "pin-forget"]
        self.assertEqual([(e["actor"], e["project"]) for e in ev],
                         [("carol", "demo")])
        page = self.project_page(pg, lambda p: "<td>forget</td>" in p,
                                 "the forget", admin)
        self.assertIn("<td>carol</td><td>test</td>", page)


    def test_reverify_verifies_the_provenance_again(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        self.release(up, "1.1", GOOD, month(2))
        tokens, token = self.admin_token("erin")
        pg = self.serve_ui(up, tokens=tokens)
        admin = self.basic("erin", token)

        def verified_now():
            return pgtest.metric_sum(pg.metrics(),
                                     r"^provgate_provenance_verdicts_total$",
                                     result="verified", source="verified_now")
        page = self.project_page(pg, lambda p: p.count(VERIFIED_CELL) == 2,
                                 "both files verified", admin)
        self.assertEqual(verified_now(), 2)
        pg_page = self.ui_get(pg, "/-/project/demo", admin)
        self.assertEqual(verified_now(), 2)        # from the verdict cache
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"',
                         pg_page).group(1)
        r = pg.get("/-/project/demo/reverify?why=&csrf=" + "1" * 64,
                   headers=admin, method="POST")
        self.assertEqual(r.status, 403)
        r = pg.get("/-/project/demo/reverify?why=check&csrf=" + csrf,
                   headers=admin, method="POST")
        self.assertEqual((r.status, r.header("location")),
                         (303, "/-/project/demo?done=reverified"), r.body)
        self.project_page(pg, lambda p: p.count(VERIFIED_CELL) == 2,
                          "both files verified again", admin)
        self.assertEqual(verified_now(), 4)
        ev = [e for e in self.audit_events() if e["event"] == "reverify"]
        self.assertEqual([(e["actor"], e["file"]) for e in ev],
                         [("erin", "2 files")])
        del page

    def test_token_line_made_with_openssl_signs_in(self):
        """The README's openssl recipe makes a line provgate accepts."""
        if shutil.which("openssl") is None:
            self.skipTest("openssl is not installed")
        sh = ('tok=$(openssl rand -hex 32); salt=$(openssl rand -hex 16); '
              'echo "dave sha256\\$$salt\\$$(printf %s%s "$salt" "$tok" | '
              'openssl dgst -sha256 -r | cut -d\' \' -f1)" >> "$1"; '
              'echo "$tok"')
        path = os.path.join(self.tmp, "admins")
        p = subprocess.run(["sh", "-c", sh, "sh", path], check=True,
                           stdout=subprocess.PIPE, timeout=60)
        token = p.stdout.decode().strip()
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        pg = self.serve_ui(up, tokens=path)
        r = pg.get("/-/login", headers=self.basic("dave", token))
        self.assertEqual((r.status, r.header("location")), (303, "/-/"))
        page = self.ui_get(pg, "/-/", self.basic("dave", token))
        self.assertIn("<span>administrator</span>", page)
        wrong = token[:-1] + ("1" if token[-1] == "0" else "0")
        self.assertEqual(pg.get("/-/", headers=self.basic(
            "dave", wrong)).status, 401)

    def test_bad_token_file_stops_the_start(self):
        path = os.path.join(self.tmp, "admins")
        with open(path, "w") as f:
            f.write("# ok\nalice sha256$00$11\n")
        p = pgtest.run_cli(["serve", "--cache-dir", self.new_dir("c"),
                            "--listen", "127.0.0.1:%d" % pgtest.free_port(),
                            "--set", "ui=on", "--set",
                            "admin_token_file=" + path])
        self.assertEqual(p.returncode, 2, p.output)
        self.assertIn("%s:2: SALT must be 16 to 64 hex digits" % path,
                      p.output)


class Browser(UiCase):

    def chromium(self):
        exe = shutil.which("chromium")
        if exe is None:
            if os.environ.get("PG_CHROMIUM_REQUIRED") == "1":
                self.fail("chromium is not installed (Debian package "
                          "chromium; conf/install-deps.sh --test)")
            self.skipTest("chromium is not installed (Debian package "
                          "chromium; conf/install-deps.sh --test)")
        return exe

    def run_chromium(self, exe, url, *args):
        profile = tempfile.mkdtemp(prefix="pg-chromium-", dir=self.tmp)
        cmd = [exe, "--headless=new", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--no-default-browser-check",
               "--disable-extensions", "--disable-sync",
               "--no-proxy-server", "--hide-scrollbars",
               "--user-data-dir=" + profile] + list(args) + [url]
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr.decode()[-3000:])
        return p.stdout.decode()

    def test_chromium_renders_overview_and_project_page(self):
        exe = self.chromium()
        shots = os.environ.get("PG_UI_SHOTS") or self.new_dir("shots")
        os.makedirs(shots, exist_ok=True)
        up = self.start_fixture(vectors=False)
        self.release(up, "0.9", None, "2024-12-01T00:00:00Z")
        self.moved_project(up)
        pg = self.serve_ui(up)
        self.project_page(pg, lambda p: 'class="side"' in p, "the change")
        for name, path, size in (
                ("overview", "/-/", "1280,1400"),
                ("project", "/-/project/demo", "1280,2200"),
                ("project-phone", "/-/project/demo", "390,2400"),
                ("events", "/-/events", "1280,1000")):
            png = os.path.join(shots, name + ".png")
            if os.path.exists(png):
                os.unlink(png)
            self.run_chromium(exe, pg.origin + path, "--window-size=" + size,
                              "--screenshot=" + png)
            self.assertTrue(os.path.getsize(png) > 10000, png)
            with open(png, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        dom = self.run_chromium(exe, pg.origin + "/-/project/demo",
                                "--dump-dom")
        with open(os.path.join(shots, "project.dom.html"), "w") as f:
            f.write(dom)
        # the statuses as the browser built the page
        for st in ("verified", "rejected", "legacy"):
            self.assertRegex(dom, r'<span class="st st-%s">%s</span>'
                             % (st, st))
        rows = side_by_side(dom)
        self.assertIsNotNone(rows, dom[:3000])
        self.assertEqual(rows["publisher"][:2], (GOOD, MOVED))
        self.assertTrue(rows["repository"][2])
        self.assertFalse(rows["workflow"][2])
        self.assertNotIn("<script", dom)
        dom = self.run_chromium(exe, pg.origin + "/-/", "--dump-dom")
        with open(os.path.join(shots, "overview.dom.html"), "w") as f:
            f.write(dom)
        self.assertIn('id="pending"', dom)
        self.assertIn(MOVED, dom)
        self.assertRegex(dom, r"<svg[^>]*role=\"img\"")
        sys.stderr.write("screenshots in %s\n" % shots)


if __name__ == "__main__":
    sys.exit(pgtest.main())
