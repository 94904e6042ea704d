#!/usr/bin/env python3
"""tests/e2e_upstreams/test_upstreams_e2e.py — several upstreams and the
dependency-confusion guard, end to end (issue 13 items 1-3).

Two fixture upstreams (tests/e2e/fixture_upstream.py): a "public" one as
[upstream] and a "private" one as [upstream:corp] behind one
`provgate serve`, the real pip downloading through it; `provgate upstreams
which`; bad configurations (exit 2 with FILE:LINE).

Environment (ctest passes them): PG_PROVGATE, PG_SHARED_DIR, PG_MINT
(tests/tools/pg-mint: a private Sigstore trust root and provenance).
Spec: issue 13 "Tests"; design §11.
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import pgtest  # noqa: E402


class Cli(pgtest.Case):
    """`provgate upstreams` and the configuration errors."""

    def conf(self, text, name="provgate.conf"):
        path = self.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_bad_upstream_sections_exit_2_with_file_line(self):
        cases = [
            ("no URL", "[upstream:corp]\nprojects = corp-*\n",
             ":1: [upstream:corp]: no upstream URL"),
            ("two upstreams claim one name",
             "[upstream:a]\nupstream = https://a.example/simple/\n"
             "projects = corp-*, tools\n"
             "[upstream:b]\nupstream = https://b.example/simple/\n"
             "projects = Corp_Web\n",
             ":6: [upstream:b]: projects: 'corp-web' overlaps 'corp-*' of "
             "[upstream:a] (line 3)"),
            ("unknown key",
             "[upstream:a]\nupstream = https://a.example/simple/\n"
             "projects = x\nsecret_sauce = on\n",
             ":4: unknown directive 'secret_sauce'"),
        ]
        for what, text, want in cases:
            path = self.conf(text)
            for argv in (["serve", "--config", path],
                         ["upstreams", "which", "x", "--config", path]):
                p = pgtest.run_cli(argv)
                self.assertEqual(p.returncode, 2, "%s: %s: %s"
                                 % (what, argv[0], p.output))
                self.assertIn(path + want, p.output, what)

    def test_upstreams_which_names_the_owner_and_why(self):
        path = self.conf(
            "[upstream:corp]\nupstream = https://pypi.corp.example/simple/\n"
            "projects = corp-*, Internal_Tools\nmode = tofu\n")
        want = [
            ("Corp.Web", 0, "corp-web: corp https://pypi.corp.example/simple/"
             " (prefix corp-*)"),
            ("internal-tools", 0, "internal-tools: corp "
             "https://pypi.corp.example/simple/ (name internal-tools)"),
            ("requests", 0, "requests: default https://pypi.org/simple/ "
             "(no private upstream owns it)"),
            ("corp", 0, "corp: default https://pypi.org/simple/"),
            ("bad name!", 2, "'bad name!' is not a project name"),
        ]
        for name, rc, text in want:
            p = pgtest.run_cli(["upstreams", "which", name, "--config", path])
            self.assertEqual(p.returncode, rc, p.output)
            self.assertIn(text, p.output)
        p = pgtest.run_cli(["upstreams", "list", "--config", path])
        self.assertEqual(p.returncode, 0, p.output)
        self.assertIn("corp https://pypi.corp.example/simple/ mode=tofu "
                      "projects=corp-*,internal-tools", p.output)

    def test_which_for_a_list_upstream_is_unknown_until_cached(self):
        path = self.conf(
            "[upstream:corp]\nupstream = https://pypi.corp.example/simple/\n"
            "projects = @list\n")
        p = pgtest.run_cli(["upstreams", "which", "anything", "--config",
                            path, "--cache-dir", self.path("nocache", "x")])
        self.assertEqual(p.returncode, 1, p.output)
        self.assertIn("anything: unknown ([upstream:corp] owns the names of "
                      "its /simple/ list", p.output)


class UpstreamsCase(pgtest.Case):
    """A "public" fixture as [upstream] and a "private" one as
    [upstream:corp] behind one provgate."""

    def setUp(self):
        super().setUp()
        self.public = self.start_fixture(vectors=False)
        self.private = self.start_fixture(vectors=False)
        self.dist = self.new_dir("dist")
        self.audit = self.path("audit.log")

    def wheel(self, up, name, version, payload=b""):
        d = os.path.join(self.dist, "%d-%s" % (up.port, version))
        return up.add_file(pgtest.make_wheel(d, name, version,
                                             payload=payload))

    def serve(self, corp="projects = corp-*\n", extra="", policy=None):
        text = ("[server]\naudit_log = %s\n" % self.audit
                + ("[policy]\npolicy = %s\n" % policy if policy else "")
                + "[upstream:corp]\nupstream = %s\nallow_http = on\n%s%s"
                % (self.private.index_url, corp, extra))
        self.conf_text = text
        return self.start_provgate(self.public, config_text=text)

    def downloaded(self, p):
        self.assertPipOK(p)
        names = os.listdir(p.dest)
        self.assertEqual(len(names), 1, names)
        return names[0], pgtest.sha256_file(os.path.join(p.dest, names[0]))

    def confusion_count(self, pg, via):
        return pgtest.metric_sum(pg.metrics(),
                                 "provgate_dependency_confusion_total",
                                 upstream="corp", via=via)

    def audit_events(self, kind):
        out = []
        try:
            with open(self.audit) as f:
                for line in f:
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if ev.get("event") == kind:
                        out.append(ev)
        except OSError:
            pass
        return out

    def page_json(self, pg, project):
        r = pg.page(project, accept=pgtest.JSON_TYPE)
        self.assertEqual(r.status, 200, "%s: %s %s" % (project, r.status,
                                                       r.reason))
        return r.json()


class TwoUpstreams(UpstreamsCase):
    """Serving, the binding, the guard, the merged list, modes."""

    def test_private_name_is_served_from_the_private_index_only(self):
        mine = self.wheel(self.private, "corp-tools", "1.0", b"# private")
        evil = self.wheel(self.public, "corp-tools", "9.9", b"# attacker")
        pub = self.wheel(self.public, "pubpkg", "2.0")
        pg = self.serve()

        # unpinned: pip would take 9.9 if the indexes were merged
        fn, sha = self.downloaded(self.pip_download(pg, "corp-tools"))
        self.assertEqual((fn, sha), (mine["filename"], mine["sha256"]))
        p = self.pip_download(pg, "corp-tools==9.9")
        self.assertNotEqual(p.returncode, 0, p.output)
        page = self.page_json(pg, "corp-tools")
        self.assertEqual(page["_provenance"]["upstream"], "corp")
        r = pg.page("corp-tools", accept="text/html")
        self.assertIn('<meta name="provgate:upstream" content="corp">',
                      r.body.decode())
        self.assertEqual([f["filename"] for f in page["files"]],
                         [mine["filename"]])
        self.assertEqual(self.public.path_count(evil["path"]), 0)

        # the attempt is logged, audited and counted, once
        self.assertTrue(pgtest.wait_until(
            lambda: self.confusion_count(pg, "page") >= 1, 60),
            pg.metrics())
        events = self.audit_events("dependency-confusion")
        self.assertEqual([e["project"] for e in events], ["corp-tools"])
        self.assertIn("served from [upstream:corp] only", events[0]["reason"])
        self.assertIn("dependency confusion: corp-tools belongs to "
                      "[upstream:corp]", pg.log_text())
        self.assertIn("upstream corp: %s, 1 name and prefix, mode off"
                      % self.private.index_url, pg.log_text())
        # a private name the public index does not have is not reported
        self.wheel(self.private, "corp-only", "1.0")
        self.downloaded(self.pip_download(pg, "corp-only"))
        self.assertTrue(pgtest.wait_until(
            lambda: pgtest.metric_sum(
                pg.metrics(), "provgate_dependency_confusion_probes_total",
                result="absent") >= 1, 60), pg.metrics())
        self.assertEqual(self.confusion_count(pg, "page"), 1)

        # a name no private upstream owns comes from [upstream]
        fn, sha = self.downloaded(self.pip_download(pg, "pubpkg"))
        self.assertEqual((fn, sha), (pub["filename"], pub["sha256"]))
        self.assertEqual(self.page_json(pg, "pubpkg")["_provenance"]
                         ["upstream"], "default")
        self.assertEqual(self.private.path_count("/simple/pubpkg/"), 0)

        # the binding is visible from the command line too
        conf = self.path("which.conf")
        with open(conf, "w") as f:
            f.write(self.conf_text)
        p = pgtest.run_cli(["upstreams", "which", "Corp_Tools", "--config",
                            conf])
        self.assertEqual(p.returncode, 0, p.output)
        self.assertIn("corp-tools: corp %s (prefix corp-*)"
                      % self.private.index_url, p.output)

    def test_list_upstream_owns_the_names_of_its_list(self):
        mine = self.wheel(self.private, "secretpkg", "1.0", b"# private")
        self.wheel(self.public, "secretpkg", "5.0", b"# attacker")
        pub = self.wheel(self.public, "pubpkg", "2.0")
        pg = self.serve(corp="projects = @list\n")
        fn, sha = self.downloaded(self.pip_download(pg, "secretpkg"))
        self.assertEqual((fn, sha), (mine["filename"], mine["sha256"]))
        fn, sha = self.downloaded(self.pip_download(pg, "pubpkg"))
        self.assertEqual((fn, sha), (pub["filename"], pub["sha256"]))
        self.assertEqual(self.page_json(pg, "secretpkg")["_provenance"]
                         ["upstream"], "corp")
        # the server's cached list answers the CLI
        conf = self.path("which.conf")
        with open(conf, "w") as f:
            f.write(self.conf_text)
        p = pgtest.run_cli(["upstreams", "which", "secretpkg", "--config",
                            conf, "--cache-dir", pg.cache_dir])
        self.assertEqual(p.returncode, 0, p.output)
        self.assertIn("secretpkg: corp %s (list: its /simple/ list holds "
                      "it)" % self.private.index_url, p.output)

    def test_unknown_list_refuses_rather_than_guessing(self):
        self.wheel(self.public, "pubpkg", "2.0")
        self.private.down(True)
        pg = self.serve(corp="projects = @list\n")
        r = pg.page("pubpkg")
        self.assertEqual(r.status, 502, r.reason)
        self.assertIn("which upstream serves pubpkg is not known", r.reason)
        self.assertEqual(self.public.path_count("/simple/pubpkg/"), 0)
        self.private.down(False)
        r = pg.page("pubpkg")
        self.assertEqual(r.status, 200, r.reason)

    def test_private_upstream_mode_off_or_tofu_and_project_rules_on_top(self):
        self.wheel(self.private, "corp-a", "1.0")
        self.wheel(self.private, "corp-b", "1.0")
        self.wheel(self.public, "pubpkg", "1.0")
        policy = self.path("policy.ini")
        with open(policy, "w") as f:
            f.write("[defaults]\nmode = tofu\n[project:corp-b]\nmode = allow\n")
        # mode off (the default of a private upstream): nothing annotated
        pg = self.serve(policy=policy)
        files = self.page_json(pg, "corp-a")["files"]
        self.assertNotIn("_provenance", files[0])
        # the project's own section applies on top
        files = self.page_json(pg, "corp-b")["files"]
        self.assertEqual(files[0]["_provenance"]["status"], "unattested")
        # [upstream] keeps the policy's default mode
        files = self.page_json(pg, "pubpkg")["files"]
        self.assertEqual(files[0]["_provenance"]["status"], "unattested")
        self.stop_provgate(pg)
        # mode = tofu on the private upstream: annotated
        pg = self.serve(policy=policy, extra="mode = tofu\n")
        files = self.page_json(pg, "corp-a")["files"]
        self.assertEqual(files[0]["_provenance"]["status"], "unattested")


    def test_project_list_names_each_project_once_from_its_upstream(self):
        self.wheel(self.private, "corp-tools", "1.0")
        self.wheel(self.private, "Corp_Web", "1.0")
        self.wheel(self.private, "unclaimed", "1.0")  # not corp-*: not ours
        self.wheel(self.public, "corp-tools", "9.9")  # the attack
        self.wheel(self.public, "pubpkg", "1.0")
        pg = self.serve()
        r = pg.get("/simple/", {"Accept": pgtest.JSON_TYPE})
        self.assertEqual(r.status, 200, r.reason)
        names = sorted(p["name"] for p in r.json()["projects"])
        self.assertEqual(names, ["corp-tools", "corp-web", "pubpkg"])
        r = pg.get("/simple/", {"Accept": "text/html"})
        self.assertEqual(r.status, 200, r.reason)
        html = r.body.decode()
        for n in ("corp-tools", "corp-web", "pubpkg"):
            self.assertEqual(html.count('/simple/%s/"' % n), 1, html)
        self.assertNotIn("unclaimed", html)
        # the public list holds a private name: audited and counted
        self.assertTrue(pgtest.wait_until(
            lambda: self.confusion_count(pg, "list") >= 1, 60), pg.metrics())
        self.assertEqual(self.audit_events("dependency-confusion")[0]
                         ["project"], "corp-tools")
        # the merge is kept: another request costs no upstream request
        before = (self.public.kind_count("root"),
                  self.private.kind_count("root"))
        self.assertEqual(before, (1, 1))
        r = pg.get("/simple/", {"Accept": pgtest.JSON_TYPE})
        self.assertEqual(r.status, 200, r.reason)
        self.assertEqual(len(r.json()["projects"]), 3)
        self.assertEqual((self.public.kind_count("root"),
                          self.private.kind_count("root")), before)
        self.assertEqual(self.confusion_count(pg, "list"), 1)

    def test_private_file_only_from_the_private_upstreams_origins(self):
        d = os.path.join(self.dist, "x")
        whl = pgtest.make_wheel(d, "corp-x", "1.0")
        # the public index serves these bytes at that path, and the private
        # page points there: not one of [upstream:corp]'s origins
        there = self.public.add_file(whl)
        self.private.add_file(whl, origin=self.public.origin)
        pg = self.serve()
        urls = pg.file_urls("corp-x")
        r = pg.get(urls["corp_x-1.0-py3-none-any.whl"].replace(
            pg.origin, ""))
        self.assertEqual(r.status, 403, r.reason)
        self.assertIn("not allowed", r.reason)
        self.assertEqual(self.public.path_count(there["path"]), 0)
        # with the public host among its file_hosts it is served
        self.stop_provgate(pg)
        pg = self.serve(extra="file_hosts = 127.0.0.1:%d\n"
                        % self.public.port)
        fn, sha = self.downloaded(self.pip_download(pg, "corp-x"))
        self.assertEqual(sha, there["sha256"])
        self.assertEqual(self.public.path_count(there["path"]), 1)

    def test_name_on_two_private_lists_is_served_by_neither(self):
        other = self.start_fixture(vectors=False)
        self.wheel(self.private, "shared", "1.0")
        self.wheel(other, "shared", "2.0")
        self.wheel(self.public, "shared", "3.0")
        mine = self.wheel(self.private, "only-corp", "1.0")
        pg = self.serve(corp="projects = @list\n", extra=(
            "[upstream:lab]\nupstream = %s\nallow_http = on\n"
            "projects = @list\n" % other.index_url))
        r = pg.page("shared")
        self.assertEqual(r.status, 403, r.reason)
        self.assertIn("listed by two private upstreams ([upstream:corp] and "
                      "[upstream:lab])", r.reason)
        p = self.pip_download(pg, "shared")
        self.assertNotEqual(p.returncode, 0, p.output)
        fn, sha = self.downloaded(self.pip_download(pg, "only-corp"))
        self.assertEqual(sha, mine["sha256"])
        r = pg.get("/simple/", {"Accept": pgtest.JSON_TYPE})
        self.assertEqual(r.status, 200, r.reason)
        self.assertEqual(sorted(p["name"] for p in r.json()["projects"]),
                         ["only-corp"])


class PrivateSigstore(UpstreamsCase):
    """A private upstream whose files carry PEP 740 provenance from a
    private Sigstore instance (pg-mint's trust root)."""

    PUBLISHER = "github:corp/tools:release.yml"

    def mint(self, *args):
        mint = os.environ.get("PG_MINT")
        if not mint or not os.access(mint, os.X_OK):
            self.fail("PG_MINT (%r) is not an executable" % mint)
        p = subprocess.run([mint] + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if p.returncode != 0:
            self.fail("pg-mint %s: %s" % (" ".join(args), p.stderr.decode()))

    def status(self, pg, project):
        files = self.page_json(pg, project)["files"]
        return files[0].get("_provenance", {}).get("status")

    def test_provenance_verified_against_the_upstreams_trust_root(self):
        root = os.path.join(self.tmp, "corp-sigstore")
        self.mint("init", root)
        trust_root = os.path.join(root, "trusted_root.json")
        d = os.path.join(self.dist, "signed")
        whl = pgtest.make_wheel(d, "corp-signed", "1.0")
        prov = whl + ".provenance"
        self.mint("provenance", "--root", root, "--file", whl,
                  "--publisher", self.PUBLISHER, "-o", prov)
        mine = self.private.add_file(whl, provenance=prov)

        # verified against [upstream:corp]'s trust_root (tofu pins it)
        pg = self.serve(extra="mode = tofu\ntrust_root = %s\n" % trust_root)
        self.assertTrue(pgtest.wait_until(
            lambda: self.status(pg, "corp-signed") == "verified", 60),
            self.page_json(pg, "corp-signed"))
        fn, sha = self.downloaded(self.pip_download(pg, "corp-signed"))
        self.assertEqual((fn, sha), (mine["filename"], mine["sha256"]))
        self.stop_provgate(pg)

        # without it, the same provenance is checked against the public
        # Sigstore root ([policy]'s, built in): it does not verify, and
        # the file is not served
        self.audit = self.path("audit2.log")
        pg = self.start_provgate(self.public, cache_dir=self.path("c2", "x"),
                                 config_text=(
            "[server]\naudit_log = %s\n[upstream:corp]\nupstream = %s\n"
            "allow_http = on\nprojects = corp-*\nmode = tofu\n"
            % (self.audit, self.private.index_url)))
        self.assertTrue(pgtest.wait_until(
            lambda: self.status(pg, "corp-signed") == "rejected", 60),
            self.page_json(pg, "corp-signed"))
        p = self.pip_download(pg, "corp-signed==1.0")
        self.assertNotEqual(p.returncode, 0, p.output)


class TlsFront:
    """A TLS listener on 127.0.0.1 that requires a client certificate
    signed by ca and forwards each connection, bytes as they are, to a
    plain port (the private fixture)."""

    def __init__(self, ca, cert, key, backend_port):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.ctx.load_verify_locations(ca)
        self.ctx.verify_mode = ssl.CERT_REQUIRED
        self.backend = backend_port
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        self.refused = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,),
                             daemon=True).start()

    def _serve(self, c):
        try:
            t = self.ctx.wrap_socket(c, server_side=True)
        except (ssl.SSLError, OSError):
            self.refused += 1
            c.close()
            return
        b = socket.create_connection(("127.0.0.1", self.backend))

        def pipe(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pipe, args=(b, t), daemon=True).start()
        pipe(t, b)

    def close(self):
        self.sock.close()


class ClientCertificate(UpstreamsCase):
    """[upstream:NAME] presents its own TLS client certificate."""

    def openssl(self, *args):
        p = subprocess.run(["openssl"] + list(args), cwd=self.tmp,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=60)
        if p.returncode != 0:
            self.fail("openssl %s: %s" % (" ".join(args), p.stderr.decode()))

    def issue(self, name, ext=None):
        """A key and a certificate signed by the test CA."""
        self.openssl("req", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                     name + ".key", "-out", name + ".csr", "-subj",
                     "/CN=" + name)
        args = ["x509", "-req", "-in", name + ".csr", "-CA", "ca.pem",
                "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
                "-out", name + ".pem"]
        if ext:
            with open(os.path.join(self.tmp, name + ".ext"), "w") as f:
                f.write(ext)
            args += ["-extfile", name + ".ext"]
        self.openssl(*args)
        return (os.path.join(self.tmp, name + ".pem"),
                os.path.join(self.tmp, name + ".key"))

    def test_private_upstream_presents_its_client_certificate(self):
        self.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt",
                     "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                     "ca.key", "-out", "ca.pem", "-days", "2", "-subj",
                     "/CN=provgate test CA")
        ca = os.path.join(self.tmp, "ca.pem")
        srv = self.issue("server", "subjectAltName = IP:127.0.0.1\n")
        cli = self.issue("client")
        front = TlsFront(ca, srv[0], srv[1], self.private.port)
        self.addCleanup(front.close)
        origin = "https://127.0.0.1:%d" % front.port
        mine = self.private.add_file(pgtest.make_wheel(
            os.path.join(self.dist, "tls"), "corp-tls", "1.0"), origin=origin)
        url = origin + "/simple/"
        tls = ("[upstream:corp]\nupstream = %s\nca_bundle = %s\n"
               "projects = corp-*\n" % (url, ca))

        pg = self.start_provgate(self.public, config_text=tls + (
            "client_cert = %s\nclient_key = %s\n" % cli))
        fn, sha = self.downloaded(self.pip_download(pg, "corp-tls"))
        self.assertEqual((fn, sha), (mine["filename"], mine["sha256"]))
        self.assertEqual(front.refused, 0)
        self.stop_provgate(pg)

        # the same upstream without the certificate: the handshake fails
        pg = self.start_provgate(self.public, config_text=tls,
                                 cache_dir=self.path("c2", "x"))
        r = pg.page("corp-tls")
        self.assertEqual(r.status, 502, r.reason)
        self.assertGreaterEqual(front.refused, 1)


if __name__ == "__main__":
    sys.exit(pgtest.main())
