#!/usr/bin/env python3
"""tests/e2e_policy/test_policy_e2e.py — serving only verified files, end to
end: the fixture upstream (tests/e2e/fixture_upstream.py), `provgate serve`
in front of it and the real pip.

Real data: abi3info's files and provenance from ../shared/vectors/pypi under
the production trust root.  Minted data: tests/tools/pg-mint makes a private
trust root (passed with --trust-root) and PEP 740 provenance for small
wheels of a project "demo" under any publisher, so that publisher changes,
downgrades, foreign provenance and tampered files can be staged.

Environment (ctest passes them): PG_PROVGATE, PG_MINT, PG_SHARED_DIR;
PG_E2E_PIN_STORE=postgresql runs the same test with its pins in a private
PostgreSQL (pin_store = postgresql://…, `pins --pin-store`) instead of the
default LMDB store (issue 12).
Spec: issue 4 "Tests"; design §5–§7.
"""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import pgtest  # noqa: E402

GOOD = "github:org/demo:release.yml"
MOVED = "github:org/demo-moved:release.yml"
EVIL = "github:evil/demo:release.yml"
OTHER = "github:org/other:release.yml"
ABI3 = "woodruffw/abi3info"


def record_line(name, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest())
    return "%s,sha256=%s,%d" % (name, digest.rstrip(b"=").decode(), len(data))


def make_wheel(directory, version, salt="", name="demo"):
    """A minimal pure-Python wheel NAME-VERSION-py3-none-any.whl."""
    fn = "%s-%s-py3-none-any.whl" % (name, version)
    path = os.path.join(directory, fn)
    di = "%s-%s.dist-info" % (name, version)
    files = {
        name + "/__init__.py": ("__version__ = %r\n# %s\n"
                                % (version, salt)).encode(),
        di + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                           "Summary: provgate test project\n\n"
                           % (name, version)).encode(),
        di + "/WHEEL": (b"Wheel-Version: 1.0\nGenerator: pgtest\n"
                        b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    record = [record_line(n, d) for n, d in files.items()]
    record.append(di + "/RECORD,,")
    files[di + "/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in files.items():
            zi = zipfile.ZipInfo(n, date_time=(2025, 1, 1, 0, 0, 0))
            z.writestr(zi, d)
    return path


def month(m):
    return "2025-%02d-01T00:00:00Z" % m


class PolicyCase(pgtest.Case):
    """Adds a private trust root, wheels, provenance and a policy file."""

    def setUp(self):
        super().setUp()
        self.mint = os.environ.get("PG_MINT")
        if not self.mint or not os.access(self.mint, os.X_OK):
            self.fail("PG_MINT (%r) is not an executable" % self.mint)
        self.root = os.path.join(self.tmp, "root")
        self.run_mint("init", self.root)
        self.trust_root = os.path.join(self.root, "trusted_root.json")
        self.dist = self.new_dir("dist")
        self.audit = os.path.join(self.tmp, "audit.log")

    def run_mint(self, *args):
        p = subprocess.run([self.mint] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if p.returncode != 0:
            self.fail("pg-mint %s: %s" % (" ".join(args), p.stderr.decode()))
        return p

    def provenance(self, wheel, publisher, name=None):
        out = wheel + "." + publisher.replace(":", "_").replace("/", "_") \
            + ".provenance"
        args = ["provenance", "--root", self.root, "--file", wheel,
                "--publisher", publisher, "-o", out]
        if name:
            args[5:5] = ["--name", name]
        self.run_mint(*args)
        return out

    def release(self, up, version, publisher, upload, salt="",
                name="demo", dist=None):
        """A wheel with provenance minted for publisher (None: none)."""
        whl = make_wheel(dist or self.dist, version, salt, name)
        prov = self.provenance(whl, publisher) if publisher else None
        return up.add_file(whl, provenance=prov, upload_time=upload)

    def write_policy(self, text, name="policy.ini"):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def serve(self, up, policy=None, cache_dir=None, real_root=False,
              sets=None):
        args = []
        if policy:
            args += ["--policy", policy]
        if not real_root:
            args += ["--trust-root", self.trust_root]
        s = {"audit_log": self.audit}
        if self.on_postgresql():
            s["pin_store"] = self.pin_db().uri()
        s.update(sets or {})
        return self.start_provgate(up, cache_dir=cache_dir, sets=s,
                                   extra_args=args)

    # -- observations
    def json_page(self, pg, project="demo"):
        r = pg.page(project, accept=pgtest.JSON_TYPE)
        self.assertEqual(r.status, 200, r.body[:500])
        return r.json()

    def files_by_name(self, page):
        return {f["filename"]: f for f in page["files"]}

    def wait_page(self, pg, pred, what, timeout=20):
        last = {}

        def check():
            last["page"] = self.json_page(pg)
            return pred(last["page"])
        if not pgtest.wait_until(check, timeout, 0.2):
            self.fail("page never showed %s; last page:\n%s"
                      % (what, json.dumps(last.get("page"), indent=1)[:4000]))
        return last["page"]

    def downloaded(self, p):
        return sorted(os.listdir(p.dest))

    def pin_db(self):
        """The test's PostgreSQL (PG_E2E_PIN_STORE=postgresql), started
        once."""
        if getattr(self, "_pin_db", None) is None:
            self._pin_db = self.start_postgres()
        return self._pin_db

    def on_postgresql(self):
        return os.environ.get("PG_E2E_PIN_STORE") == "postgresql"

    def store_args(self):
        """`pins` options naming the test's pin store besides the cache
        (none for LMDB: the default beside the cache)."""
        return ["--pin-store", self.pin_db().uri()] \
            if self.on_postgresql() else []

    def pins(self, pg, *args):
        where = ["--cache-dir", pg.cache_dir] + self.store_args()
        return pgtest.run_cli(["pins"] + where + ["--audit-log", self.audit]
                              + list(args))

    def audit_events(self):
        try:
            with open(self.audit) as f:
                return [json.loads(line) for line in f if line.strip()]
        except FileNotFoundError:
            return []

    def proxy_path(self, desc):
        return urllib.parse.urlsplit(desc["url"]).path

    def assertRefused(self, pg, desc, needle):
        r = pg.get(self.proxy_path(desc))
        self.assertEqual(r.status, 403, (r.status, r.reason))
        self.assertIn(needle, r.reason)
        self.assertEqual(r.headers.get("content-type"),
                         "application/problem+json")
        self.assertIn(needle, r.json()["detail"])


def write_old_cache_pin(cache, project, publisher):
    """A cache as provgate wrote it before issue 12: the pin in the
    cache's own LMDB (named database "pins").  mdb_load -T reads key and
    value lines."""
    env = os.path.join(cache, "state.lmdb")
    os.makedirs(env, exist_ok=True)
    record = {"project": project, "publishers": [{
        "publisher": publisher, "how": "tofu",
        "time": "2025-06-01T00:00:00Z", "file": "%s-0.1.tar.gz" % project,
        "upload_time": "2024-12-01T00:00:00Z"}]}
    p = subprocess.run(["mdb_load", "-T", "-s", "pins", env],
                       input=("%s\n%s\n" % (project, json.dumps(record)))
                       .encode(), capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("mdb_load: %s" % p.stderr.decode())


class PinStore(PolicyCase):
    """Pins are their own store (issue 12 items 1-2): beside the cache,
    migrated from an old cache once, kept when the cache is gone, with a
    history."""

    def test_pins_leave_an_old_cache_once_and_outlive_the_cache(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        self.release(up, "1.1", EVIL, month(2))
        cache = self.new_dir("cache-old")
        write_old_cache_pin(cache, "demo", OTHER)
        pg = self.serve(up, cache_dir=cache)
        self.assertIn("pins: migrated 1 pins from the cache %s" % cache,
                      pg.log_text())
        self.assertIn("this happens once", pg.log_text())
        # The migrated pin decides: neither file's publisher is accepted.
        page = self.json_page(pg)
        for f in page["files"]:
            self.assertEqual(f["_provenance"]["status"], "rejected", f)
            self.assertIn(OTHER, f["_provenance"]["expected"])
        self.assertEqual(os.path.isdir(os.path.join(self.tmp, "pins.lmdb")),
                         not self.on_postgresql())
        r = self.pins(pg, "show", "demo")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn("migrate  by provgate: (no pin) -> " + OTHER, r.output)
        # Forgotten, then restarted on the same old cache: it is not
        # migrated again, first sight pins the earliest publisher.
        r = self.pins(pg, "forget", "demo", "--why", "wrong pin")
        self.assertEqual(r.returncode, 0, r.output)
        self.stop_provgate(pg)
        pg = self.serve(up, cache_dir=cache)
        self.assertIn("pins: pin store %s" % ("postgresql://"
                      if self.on_postgresql() else "lmdb:"), pg.log_text())
        self.assertNotIn("pins: migrated", pg.log_text())
        files = self.files_by_name(self.json_page(pg))
        self.assertEqual(files["demo-1.0-py3-none-any.whl"]["_provenance"]
                         ["status"], "verified")
        self.assertEqual(files["demo-1.1-py3-none-any.whl"]["_provenance"]
                         ["status"], "rejected")
        self.stop_provgate(pg)
        # The cache is thrown away (a rebuild): the pins stay.
        subprocess.run(["rm", "-rf", cache], check=True)
        os.makedirs(cache)
        up.control("remove", filename="demo-1.0-py3-none-any.whl")
        pg = self.serve(up, cache_dir=cache)
        f = self.json_page(pg)["files"][0]
        self.assertEqual(f["filename"], "demo-1.1-py3-none-any.whl")
        self.assertEqual(f["_provenance"]["status"], "rejected")
        self.assertIn(GOOD, f["_provenance"]["expected"])
        r = self.pins(pg, "show", "demo")
        self.assertEqual(r.returncode, 0, r.output)
        hist = r.output.split("history:\n", 1)[1].splitlines()
        self.assertEqual([h.split()[1] for h in hist],
                         ["migrate", "forget", "tofu"], r.output)
        self.assertIn("why: wrong pin", hist[1])
        self.assertIn("tofu     by provgate@", hist[2])
        self.assertIn("(no pin) -> " + GOOD, hist[2])
        self.assertIn("file demo-1.0-py3-none-any.whl", hist[2])
        exported = json.loads(self.pins(pg, "export").stdout)
        self.assertEqual([e["what"] for e in exported["history"]],
                         ["migrate", "forget", "tofu"])

    def test_pins_migrate_command_on_an_old_cache(self):
        cache = self.new_dir("cache-old")
        write_old_cache_pin(cache, "demo", OTHER)
        args = ["pins", "--cache-dir", cache, "--audit-log",
                self.audit] + self.store_args()
        r = pgtest.run_cli(args + ["migrate"])
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn("migrated 1 pins from the cache %s (0 already in the "
                      "store)" % cache, r.output)
        r = pgtest.run_cli(args + ["migrate"])
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn("were migrated before", r.output)
        r = pgtest.run_cli(args + ["show", "demo"])
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn(OTHER, r.output)
        self.assertEqual(r.output.count("migrate  by provgate"), 1, r.output)


class RealData(PolicyCase):

    def test_abi3info_pins_first_publisher_and_installs_other_versions(self):
        up = self.start_fixture()
        pg = self.serve(up, real_root=True)
        p = self.pip_download(pg, "abi3info==2024.10.3")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p),
                         ["abi3info-2024.10.3-py3-none-any.whl"])
        # First sight pinned the earliest attested upload's publisher.
        shown = self.pins(pg, "show", "abi3info")
        self.assertEqual(shown.returncode, 0, shown.output)
        self.assertIn("github:%s:release.yml" % ABI3, shown.output)
        self.assertIn("tofu", shown.output)
        self.assertIn("abi3info-2024.10.3-py3-none-any.whl", shown.output)
        # The other versions install under that pin.
        p = self.pip_download(pg, "abi3info==2024.10.8")
        self.assertPipOK(p)
        self.assertIn("abi3info-2024.10.8-py3-none-any.whl",
                      self.downloaded(p))
        page = self.json_page(pg, "abi3info")
        self.assertEqual(len(page["files"]), 3)
        for f in page["files"]:
            pv = f["_provenance"]
            self.assertEqual(pv["status"], "verified", f["filename"])
            self.assertEqual(pv["decision"], "allow")
            self.assertEqual(pv["publisher"]["repository"], ABI3)
            self.assertEqual(pv["publisher"]["workflow"], "release.yml")
            self.assertTrue(f["provenance"].startswith(
                pg.origin + "/integrity/abi3info/"), f["provenance"])
        # HTML carries the same facts.
        html = pg.page("abi3info", accept="text/html").body.decode()
        self.assertIn('data-provenance-status="verified"', html)
        self.assertIn('data-publisher="github:%s:release.yml"' % ABI3, html)
        # /integrity/ serves the cached object byte for byte.
        fn = "abi3info-2024.10.8.tar.gz"
        r = pg.get(urllib.parse.urlsplit(
            self.files_by_name(page)[fn]["provenance"]).path)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("content-type"),
                         "application/vnd.pypi.integrity.v1+json")
        with open(pgtest.vector(fn + ".provenance"), "rb") as f:
            self.assertEqual(r.body, f.read())
        events = [e for e in self.audit_events()
                  if e["event"] == "pin-create"]
        self.assertEqual(len(events), 1, self.audit_events())
        self.assertEqual(events[0]["project"], "abi3info")
        metrics = pg.metrics()
        self.assertGreaterEqual(pgtest.metric_sum(
            metrics, r"^provgate_provenance_verdicts_total$",
            result="verified"), 3)
        self.assertEqual(pgtest.metric_sum(
            metrics, r"^provgate_pins_created_total$"), 1)


    def test_html_only_upstream_is_verified_through_data_provenance(self):
        up = self.start_fixture(args=["--html-only"])
        pg = self.serve(up, real_root=True)
        page = self.json_page(pg, "abi3info")
        self.assertEqual(len(page["files"]), 3)
        for f in page["files"]:
            self.assertEqual(f["_provenance"]["status"], "verified",
                             f["filename"])
            self.assertEqual(f["_provenance"]["publisher"]["repository"],
                             ABI3)
        p = self.pip_download(pg, "abi3info==2024.10.8")
        self.assertPipOK(p)


class Minted(PolicyCase):

    def test_new_publisher_is_hidden_until_approved(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        moved = self.release(up, "1.1", MOVED, month(2))
        policy = self.write_policy("[defaults]\non_violation = hide\n")
        pg = self.serve(up, policy)
        page = self.json_page(pg)
        self.assertEqual(sorted(self.files_by_name(page)),
                         ["demo-1.0-py3-none-any.whl"])
        hidden = page["_provenance_hidden"]
        self.assertEqual([h["filename"] for h in hidden],
                         ["demo-1.1-py3-none-any.whl"])
        want = "provgate: publisher %s is not accepted for demo" % MOVED
        self.assertEqual(hidden[0]["reason"], want)
        p = self.pip_download(pg, "demo")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p), ["demo-1.0-py3-none-any.whl"])
        self.assertRefused(pg, moved, want)
        # An administrator accepts the new repository, server running.
        a = self.pins(pg, "approve", "demo", "--publisher", MOVED,
                      "--by", "alice")
        self.assertEqual(a.returncode, 0, a.output)
        self.wait_page(pg, lambda pg_: "demo-1.1-py3-none-any.whl" in
                       self.files_by_name(pg_), "demo 1.1 after approval")
        p = self.pip_download(pg, "demo")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p), ["demo-1.1-py3-none-any.whl"])
        kinds = [e["event"] for e in self.audit_events()]
        self.assertIn("pin-create", kinds)
        self.assertIn("reject", kinds)
        self.assertIn("pin-approve", kinds)
        rej = [e for e in self.audit_events() if e["event"] == "reject"][0]
        self.assertEqual(rej["file"], "demo-1.1-py3-none-any.whl")
        self.assertEqual(rej["seen"], MOVED)
        self.assertEqual(rej["expected"], GOOD)
        self.assertEqual(rej["sha256"], moved["sha256"])
        self.assertEqual(rej["decision"], "hide")

    def test_downgrade_is_rejected_and_legacy_allowed(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "0.9", None, month(1))
        self.release(up, "1.0", GOOD, month(2))
        late = self.release(up, "1.1", None, month(3))
        pg = self.serve(up)
        files = self.files_by_name(self.json_page(pg))
        legacy = files["demo-0.9-py3-none-any.whl"]
        self.assertEqual(legacy["_provenance"]["status"], "unattested")
        self.assertEqual(legacy["_provenance"]["decision"], "allow")
        down = files["demo-1.1-py3-none-any.whl"]
        self.assertEqual(down["_provenance"]["status"], "rejected")
        self.assertIn("(downgrade)", down["yanked"])
        p = self.pip_download(pg, "demo")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p), ["demo-1.0-py3-none-any.whl"])
        p = self.pip_download(pg, "demo==0.9")
        self.assertPipOK(p)
        p = self.pip_download(pg, "demo==1.1")
        self.assertNotEqual(p.returncode, 0, p.output)
        self.assertIn("provgate: demo-1.1-py3-none-any.whl has no provenance",
                      p.output)
        self.assertRefused(pg, late, "(downgrade)")

    def test_foreign_provenance_and_tampered_file_are_rejected(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        # 1.1 is served with the provenance of 1.0.
        w10 = os.path.join(self.dist, "demo-1.0-py3-none-any.whl")
        p10 = self.provenance(w10, GOOD)
        w11 = make_wheel(self.dist, "1.1")
        foreign = up.add_file(w11, provenance=p10, upload_time=month(2))
        # 1.2's provenance is genuine, its bytes are not.
        w12 = make_wheel(self.dist, "1.2")
        p12 = self.provenance(w12, GOOD)
        evil = make_wheel(self.new_dir("evil"), "1.2", salt="tampered")
        with open(w12, "rb") as f, open(evil, "rb") as g:
            self.assertNotEqual(f.read(), g.read())
        tampered = up.add_file(evil, provenance=p12, upload_time=month(3))
        pg = self.serve(up)
        files = self.files_by_name(self.json_page(pg))
        for fn in ("demo-1.1-py3-none-any.whl", "demo-1.2-py3-none-any.whl"):
            pv = files[fn]["_provenance"]
            self.assertEqual(pv["status"], "rejected", fn)
            self.assertIn("does not verify", pv["reason"])
            self.assertTrue(files[fn]["yanked"].startswith("provgate: "))
        self.assertEqual(files["demo-1.0-py3-none-any.whl"]["_provenance"]
                         ["status"], "verified")
        p = self.pip_download(pg, "demo")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p), ["demo-1.0-py3-none-any.whl"])
        for desc in (foreign, tampered):
            self.assertRefused(pg, desc, "does not verify")
        p = self.pip_download(pg, "demo==1.2")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("provenance of demo-1.2-py3-none-any.whl does not "
                      "verify", p.output)

    def test_pinned_rejected_version_shows_the_reason_in_every_mode(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        bad = self.release(up, "1.2", EVIL, month(2))
        want = "provgate: publisher %s is not accepted for demo" % EVIL
        cache = self.new_dir("shared-cache")
        for mode in ("yank", "deny", "hide"):
            policy = self.write_policy("[project:demo]\non_violation = %s\n"
                                       % mode, "policy-%s.ini" % mode)
            pg = self.serve(up, policy, cache_dir=cache)
            page = self.json_page(pg)
            files = self.files_by_name(page)
            p = self.pip_download(pg, "demo==1.2")
            self.assertNotEqual(p.returncode, 0, (mode, p.output))
            if mode == "yank":
                f = files["demo-1.2-py3-none-any.whl"]
                self.assertEqual(f["yanked"], want)
                self.assertEqual(f["_provenance"]["decision"], "yank")
                self.assertIn(want, p.output)
                self.assertRefused(pg, bad, want)
            elif mode == "deny":
                f = files["demo-1.2-py3-none-any.whl"]
                self.assertFalse(f["yanked"])
                self.assertEqual(f["_provenance"]["decision"], "deny")
                self.assertIn("403", p.output)
                self.assertIn(want, p.output)
                self.assertRefused(pg, bad, want)
            else:
                self.assertNotIn("demo-1.2-py3-none-any.whl", files)
                self.assertEqual(page["_provenance_hidden"][0]["reason"],
                                 want)
                self.assertRefused(pg, bad, want)
            self.stop_provgate(pg)

    def test_a_rejection_is_audited_once_across_reannotations(self):
        """A rejection found again when the page is annotated anew (every
        SIGHUP re-annotates every page) is not audited again; a new file's
        rejection is."""
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        self.release(up, "1.2", EVIL, month(2))
        policy = self.write_policy("[project:demo]\non_violation = deny\n")
        pg = self.serve(up, policy, sets={"index_ttl": "1s"})
        self.wait_page(pg, lambda p: self.files_by_name(p)
                       ["demo-1.2-py3-none-any.whl"]["_provenance"]
                       ["decision"] == "deny", "1.2 denied")

        def rejects(fn):
            return [e for e in self.audit_events()
                    if e["event"] == "reject" and e.get("file") == fn]
        self.assertTrue(pgtest.wait_until(
            lambda: len(rejects("demo-1.2-py3-none-any.whl")) == 1, 20, 0.2),
            self.audit_events())
        for i in range(3):
            pg.proc.send_signal(signal.SIGHUP)
            self.assertTrue(pgtest.wait_until(
                lambda: len([e for e in self.audit_events()
                             if e["event"] == "policy-reload"]) > i, 20, 0.2),
                pg.log_tail())
            self.json_page(pg)
        self.release(up, "1.3", EVIL, month(3))
        self.wait_page(pg, lambda p: "demo-1.3-py3-none-any.whl" in
                       self.files_by_name(p), "1.3 listed")
        self.assertTrue(pgtest.wait_until(
            lambda: len(rejects("demo-1.3-py3-none-any.whl")) == 1, 20, 0.2),
            self.audit_events())
        self.assertEqual(len(rejects("demo-1.2-py3-none-any.whl")), 1,
                         self.audit_events())
        self.stop_provgate(pg)

    def test_require_with_another_publisher_serves_nothing(self):
        up = self.start_fixture(vectors=False)
        a = self.release(up, "1.0", GOOD, month(1))
        b = self.release(up, "1.1", GOOD, month(2))
        policy = self.write_policy("[project:demo]\nmode = require\n"
                                   "publisher = %s\n" % OTHER)
        pg = self.serve(up, policy)
        for f in self.json_page(pg)["files"]:
            self.assertEqual(f["_provenance"]["status"], "rejected")
            self.assertTrue(f["yanked"])
        p = self.pip_download(pg, "demo")
        self.assertNotEqual(p.returncode, 0, p.output)
        want = "provgate: publisher %s is not accepted for demo" % GOOD
        for desc in (a, b):
            self.assertRefused(pg, desc, want)
        r = self.pins(pg, "show", "demo")
        self.assertEqual(r.returncode, 1, r.output)     # require pins nothing

    def test_same_bytes_under_two_projects_decided_per_project(self):
        """issue 10 item 8: the same bytes listed by two projects whose
        pinned publishers differ.  Whichever page was stored last, each
        path is decided by its own project's policy (and verified against
        its own provenance)."""
        up = self.start_fixture(vectors=False)
        demo = self.release(up, "1.0", GOOD, month(1))
        twin_dir = self.new_dir("twin")
        twin_whl = os.path.join(twin_dir, "twin-1.0-py3-none-any.whl")
        with open(os.path.join(self.dist, demo["filename"]), "rb") as f, \
                open(twin_whl, "wb") as g:
            g.write(f.read())
        twin = up.add_file(twin_whl, provenance=self.provenance(
            twin_whl, GOOD), upload_time=month(1))
        self.assertEqual(twin["project"], "twin")
        self.assertEqual(twin["sha256"], demo["sha256"])
        self.assertNotEqual(twin["path"], demo["path"])
        policy = self.write_policy(
            "[project:demo]\nmode = require\npublisher = %s\n"
            "[project:twin]\nmode = require\npublisher = %s\n"
            % (GOOD, OTHER))
        want = "provgate: publisher %s is not accepted for twin" % GOOD
        for order in (("demo", "twin"), ("twin", "demo")):
            pg = self.serve(up, policy,
                            cache_dir=self.new_dir("cache-" + order[0]))
            for project in order:       # the last one stored wins today
                page = self.json_page(pg, project)
                self.assertEqual(len(page["files"]), 1, page)
            self.assertRefused(pg, twin, want)
            r = pg.get(self.proxy_path(demo))
            self.assertEqual(r.status, 200, (order, r.status, r.reason))
            self.assertEqual(hashlib.sha256(r.body).hexdigest(),
                             demo["sha256"])
            self.assertRefused(pg, twin, want)
            self.stop_provgate(pg)

    def test_provenance_memory_bounded_whatever_the_file_count(self):
        """issue 10 item 6: provenance objects in memory (fetched, being
        verified, waiting to be stored) stay under provenance_max_bytes
        however many files a page lists; every file is still verified."""
        up = self.start_fixture(vectors=False)
        n, pad, cap = 24, 1 << 20, 8 << 20
        for i in range(n):
            whl = make_wheel(self.dist, "1.%d" % i)
            prov = self.provenance(whl, GOOD)
            with open(prov, "ab") as f:
                f.write(b" " * pad)         # JSON allows trailing space
            up.add_file(whl, provenance=prov, upload_time=month(1))
        pg = self.serve(up, sets={"provenance_max_bytes": "8MiB",
                                  "provenance_budget": "2m"})
        page = self.wait_page(pg, lambda pg_: all(
            f["_provenance"]["status"] == "verified" for f in pg_["files"]),
            "every file verified", timeout=120)
        self.assertEqual(len(page["files"]), n)
        m = pg.metrics()
        peak = pgtest.metric_sum(m, r"^provgate_provenance_memory_peak_bytes$")
        self.assertLessEqual(peak, cap)
        self.assertGreater(peak, 4 * pad)   # objects were held, not none
        self.assertGreater(n * pad, 2 * cap)
        self.assertTrue(pgtest.wait_until(lambda: pgtest.metric_sum(
            pg.metrics(), r"^provgate_provenance_memory_bytes$") == 0, 20,
            0.2), "provenance memory given back")
        r = pg.get(self.proxy_path(page["files"][0]))
        self.assertEqual(r.status, 200, (r.status, r.reason))

    def test_sighup_changes_the_outcome_and_pins_survive_a_restart(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        self.release(up, "1.1", EVIL, month(2))
        policy = self.write_policy("[project:demo]\nmode = allow\n")
        cache = self.new_dir("cache-restart")
        pg = self.serve(up, policy, cache_dir=cache, sets={"index_ttl": "1s"})
        p = self.pip_download(pg, "demo==1.1")
        self.assertPipOK(p)
        # An invalid file on reload keeps the old policy.
        with open(policy, "w") as f:
            f.write("[project:demo]\nmode = sometimes\n")
        pg.proc.send_signal(signal.SIGHUP)
        self.assertTrue(pgtest.wait_until(
            lambda: "reload failed" in pg.log_text(), 20, 0.2),
            pg.log_tail())
        self.assertIn("policy.ini:2: mode: expected tofu", pg.log_text())
        p = self.pip_download(pg, "demo==1.1")
        self.assertPipOK(p)
        # A valid one changes the outcome without a restart.
        with open(policy, "w") as f:
            f.write("[defaults]\nmode = tofu\n")
        pg.proc.send_signal(signal.SIGHUP)
        self.wait_page(pg, lambda pg_: self.files_by_name(pg_)
                       ["demo-1.1-py3-none-any.whl"]["_provenance"]
                       ["status"] == "rejected", "1.1 rejected after SIGHUP")
        p = self.pip_download(pg, "demo==1.1")
        self.assertNotEqual(p.returncode, 0, p.output)
        self.assertIn("is not accepted for demo", p.output)
        kinds = [e["event"] for e in self.audit_events()]
        self.assertIn("policy-reload-failed", kinds)
        self.assertIn("policy-reload", kinds)
        self.stop_provgate(pg)
        # Restarted, with the pinning release gone upstream: without the
        # stored pin, first sight would now pin the other publisher.
        up.control("remove", filename="demo-1.0-py3-none-any.whl")
        time.sleep(1.2)
        pg = self.serve(up, policy, cache_dir=cache, sets={"index_ttl": "1s"})
        page = self.wait_page(pg, lambda pg_: len(pg_["files"]) == 1,
                              "the page without 1.0")
        f = page["files"][0]
        self.assertEqual(f["_provenance"]["status"], "rejected")
        self.assertIn(EVIL, f["_provenance"]["reason"])
        p = self.pip_download(pg, "demo")
        self.assertNotEqual(p.returncode, 0, p.output)
        r = self.pins(pg, "show", "demo")
        self.assertEqual(r.returncode, 0, r.output)
        self.assertIn(GOOD, r.output)

    def test_pending_file_is_verified_before_it_is_served(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        self.release(up, "1.1", GOOD, month(2))
        # Long enough that pip (slow to start on a loaded machine) asks
        # for the file while its provenance is still on the way.
        up.latency(15000, kinds=["provenance"])
        pg = self.serve(up, sets={"provenance_budget": "1s"})
        files = self.files_by_name(self.json_page(pg))
        for f in files.values():
            self.assertEqual(f["_provenance"]["status"], "pending",
                             f["filename"])
            self.assertFalse(f["yanked"])
        # pip picks 1.1 from the pending page; the download waits for the
        # verification instead of being served unverified or refused.
        p = self.pip_download(pg, "demo==1.1")
        self.assertPipOK(p)
        self.assertEqual(self.downloaded(p), ["demo-1.1-py3-none-any.whl"])
        page = self.wait_page(pg, lambda pg_: all(
            f["_provenance"]["status"] == "verified" for f in pg_["files"]),
            "every file verified")
        self.assertEqual(len(page["files"]), 2)
        metrics = pg.metrics()
        self.assertGreaterEqual(pgtest.metric_sum(
            metrics, r"^provgate_provenance_pending_total$"), 1)
        self.assertGreaterEqual(pgtest.metric_sum(
            metrics, r"^provgate_provenance_download_waits_total$"), 1)

    def test_newest_releases_provenance_is_fetched_first(self):
        """issue 14 item 5: a resolver picks the newest release, so a page's
        provenance is fetched newest upload first (not in page order)."""
        up = self.start_fixture(vectors=False)
        # added oldest-last, so page order and upload order differ
        for m, version in ((3, "1.0"), (5, "1.2"), (1, "0.9"), (4, "1.1")):
            self.release(up, version, GOOD, month(m))
        pg = self.serve(up, sets={"provenance_concurrency": "1"})
        page = self.json_page(pg)
        self.assertTrue(all(f["_provenance"]["status"] == "verified"
                            for f in page["files"]), page)
        asked = [e["path"].split("/")[3] for e in up.log()
                 if e["path"].startswith("/integrity/")]
        self.assertEqual(asked, ["1.2", "1.1", "1.0", "0.9"], up.log())

    def test_unverifiable_pending_file_is_refused_not_served(self):
        up = self.start_fixture(vectors=False)
        self.release(up, "1.0", GOOD, month(1))
        up.fail("500", kinds=["provenance"])
        pg = self.serve(up, sets={"provenance_budget": "2s"})
        f = self.json_page(pg)["files"][0]
        self.assertEqual(f["_provenance"]["status"], "pending")
        p = self.pip_download(pg, "demo==1.0")
        self.assertNotEqual(p.returncode, 0, p.output)
        self.assertIn("provgate: provenance of demo-1.0-py3-none-any.whl",
                      p.output)
        self.assertEqual(os.listdir(p.dest), [])


if __name__ == "__main__":
    sys.exit(pgtest.main())
