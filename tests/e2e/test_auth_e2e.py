#!/usr/bin/env python3
"""tests/e2e/test_auth_e2e.py — client tokens and upstream credentials
(issue 13 items 4 and 5), with the real pip.

Client identity ([server] auth = token): tokens made with `provgate tokens
add`, pip sending them from the index URL (NAME:TOKEN@) and from a .netrc,
Bearer and __token__, 401 with WWW-Authenticate and problem+json for a
missing, wrong, revoked or expired token (and pip saying so), 429 after
auth_max_failures, /healthz and /readyz open, /metrics behind its own
token, the token name in the access log, two replicas on one PostgreSQL
sharing the tokens (a revoke on one reaches the other).

Upstream credentials ([upstream] credentials_file, *_env): an upstream
that wants HTTP Basic; a redirect to another origin (a second fixture, the
canary, which records the headers it gets) does not carry them; a
credentials file readable by others stops the start (FILE:LINE, exit 2).

Every test greps every log it made (provgate's stderr, access and audit
lines) for every secret it used.

Environment (ctest passes them): PG_PROVGATE, PG_SHARED_DIR.
Spec: issue 13 "Tests".
"""

import base64
import http.client
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pgtest  # noqa: E402

WHEEL = "abi3info-2024.10.8-py3-none-any.whl"
SPEC = "abi3info==2024.10.8"
PROPAGATION_S = 5.0         # a revoke reaches a running replica


def basic(user, password):
    return "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()


class AuthCase(pgtest.Case):

    def setUp(self):
        super().setUp()
        self.secrets = []

    def tokens(self, *args, store=None, cache_dir=None):
        where = ["--pin-store", store] if store else [
            "--cache-dir", cache_dir or os.path.join(self.tmp, "cache")]
        return pgtest.run_cli(["tokens"] + where + [
            "--audit-log", os.path.join(self.tmp, "cli-audit.log")]
            + list(args))

    def new_token(self, name, *extra, **kw):
        p = self.tokens("add", name, *extra, **kw)
        self.assertEqual(p.returncode, 0, p.output)
        tok = p.stdout.decode().strip()
        self.assertRegex(tok, r"^[0-9a-f]{64}$")
        self.secrets.append(tok)
        return tok

    def url_with(self, pg, user, tok):
        return "http://%s:%s@127.0.0.1:%d/simple/" % (user, tok, pg.port)

    def assertNoSecretInLogs(self):
        logs = []
        for root, _dirs, files in os.walk(self.tmp):
            for fn in files:
                if fn.endswith(".log"):
                    logs.append(os.path.join(root, fn))
        self.assertTrue(logs)
        for path in logs:
            with open(path, "rb") as f:
                text = f.read().decode(errors="replace")
            for s in self.secrets:
                self.assertNotIn(s, text, "a secret in %s" % path)
                b = base64.b64encode(s.encode()).decode()
                self.assertNotIn(b, text, "a secret (base64) in %s" % path)

    def tearDown(self):
        try:
            if self._outcome_failed() is False:
                self.assertNoSecretInLogs()
        finally:
            super().tearDown()


class Tokens(AuthCase):

    def serve(self, up, **sets):
        s = {"auth": "token"}
        s.update(sets)
        return self.start_provgate(up, sets=s)

    def test_pip_with_token_in_url_and_in_netrc(self):
        up = self.start_fixture()
        tok = self.new_token("alice")
        pg = self.serve(up)
        self.assertIn("auth: 1 client tokens", pg.log_text())

        p = self.pip_download(self.url_with(pg, "alice", tok), SPEC)
        self.assertPipOK(p)
        self.assertTrue(os.path.exists(os.path.join(p.dest, WHEEL)))
        self.assertIn(" user=alice", pg.log_text())

        # Without credentials: nothing, and pip says why (-vv shows the
        # page's failure; the file route's 401 is printed at any level).
        p = self.pip_download(pg, SPEC, extra=["-vv"])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("401", p.output)
        self.assertIn("credentials required", p.output)

        # .netrc in HOME (pip_env's HOME is the test directory).
        with open(os.path.join(self.tmp, ".netrc"), "w") as f:
            f.write("machine 127.0.0.1 login alice password %s\n" % tok)
        os.chmod(os.path.join(self.tmp, ".netrc"), 0o600)
        p = self.pip_download(pg, SPEC)
        self.assertPipOK(p)
        os.unlink(os.path.join(self.tmp, ".netrc"))

        # A client's token is provgate's alone: never sent upstream.
        self.assertTrue(up.log())
        for e in up.log():
            self.assertIsNone(e["authorization"], e)

        # Open: liveness and readiness; not the metrics.
        self.assertEqual(pg.get("/healthz").status, 200)
        self.assertEqual(pg.get("/readyz").status, 200)
        r = pg.get("/metrics")
        self.assertEqual(r.status, 401)

    def test_missing_bad_revoked_expired_token_get_401(self):
        up = self.start_fixture()
        tok = self.new_token("alice")
        short = self.new_token("bob", "--expires", "3s")
        made = time.time()
        pg = self.serve(up)
        ok = pg.get("/simple/abi3info/", {"Authorization": basic(
            "alice", tok), "Accept": pgtest.JSON_TYPE})
        self.assertEqual(ok.status, 200)
        file_url = [f["url"] for f in ok.json()["files"]
                    if f["filename"] == WHEEL][0]
        for headers, why in (
                ({}, "credentials required"),
                ({"Authorization": basic("alice", "0" * 64)},
                 "bad credentials"),
                ({"Authorization": basic("mallory", tok)},
                 "bad credentials"),
                ({"Authorization": "Bearer " + tok[:-1] + "x"},
                 "bad credentials"),
                ({"Authorization": "Digest x"}, "bad credentials")):
            r = pg.get("/simple/abi3info/", headers)
            self.assertEqual(r.status, 401, headers)
            self.assertTrue(r.reason.startswith(why), r.reason)
            self.assertEqual(r.header("www-authenticate"),
                             'Basic realm="provgate", charset="UTF-8"')
            self.assertEqual(r.header("content-type"),
                             "application/problem+json")
            self.assertEqual(r.json()["status"], 401)

        # Expired: after its 3 s.
        pgtest.wait_until(lambda: time.time() > made + 4, 10)
        r = pg.get("/simple/abi3info/", {"Authorization": basic("bob",
                                                                short)})
        self.assertEqual((r.status, r.reason), (401, "token expired"))
        url = file_url.replace("http://", "http://bob:%s@" % short, 1)
        p = pgtest.run_pip(self.tmp, ["download", "--no-deps", "-d",
                                      self.new_dir("dl-exp"), url])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("401 Client Error: token expired", p.output)

        # Revoked while the server runs: refused within PROPAGATION_S,
        # including what the serving threads answer from their hot table.
        p = self.tokens("revoke", "alice")
        self.assertEqual(p.returncode, 0, p.output)
        self.assertTrue(pgtest.wait_until(
            lambda: pg.get("/simple/abi3info/", {"Authorization": basic(
                "alice", tok)}).status == 401, PROPAGATION_S))
        r = pg.get("/simple/abi3info/", {"Authorization": basic("alice",
                                                                tok)})
        self.assertEqual(r.reason, "token revoked")
        # pip says so: a file URL's 401 and its reason phrase.
        url = file_url.replace("http://", "http://alice:%s@" % tok, 1)
        p = pgtest.run_pip(self.tmp, ["download", "--no-deps", "-d",
                                      self.new_dir("dl-rev"), url])
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("401 Client Error: token revoked", p.output)
        lst = self.tokens("list")
        self.assertEqual(lst.returncode, 0, lst.output)
        self.assertRegex(lst.output, r"alice\s+%s\s.*revoked" % tok[:12])
        self.assertRegex(lst.output, r"bob\s+%s\s.*expired" % short[:12])
        # The audit lines of the CLI name the token, never its secret.
        with open(os.path.join(self.tmp, "cli-audit.log")) as f:
            audit = f.read()
        self.assertIn('"event":"token-revoke"', audit)
        self.assertIn('"user":"alice"', audit)

    def test_bearer_and_token_user_and_hot_path(self):
        up = self.start_fixture()
        tok = self.new_token("ci-runner")
        pg = self.serve(up)
        for h in ("Bearer " + tok, basic("__token__", tok),
                  basic("ci-runner", tok)):
            r = pg.get("/simple/abi3info/", {"Authorization": h})
            self.assertEqual(r.status, 200, h)
        files = [f["url"] for f in pg.get("/simple/abi3info/", {
            "Authorization": "Bearer " + tok,
            "Accept": pgtest.JSON_TYPE}).json()["files"]]
        path = "/" + files[0].split("/", 3)[3]
        for _ in range(3):      # cached, then answered from the hot table
            r = pg.get(path, {"Authorization": "Bearer " + tok})
            self.assertEqual(r.status, 200)
            r = pg.get(path)
            self.assertEqual(r.status, 401)
        self.assertIn(" user=ci-runner", pg.log_text())

    def test_failed_attempts_are_rate_limited_per_address(self):
        up = self.start_fixture()
        tok = self.new_token("alice")
        pg = self.serve(up, auth_max_failures="3")
        for _ in range(3):
            r = pg.get("/simple/", {"Authorization": basic("alice",
                                                           "f" * 64)})
            self.assertEqual(r.status, 401)
        r = pg.get("/simple/", {"Authorization": basic("alice", "f" * 64)})
        self.assertEqual(r.status, 429)
        self.assertGreater(int(r.header("retry-after")), 0)
        self.assertEqual(r.header("content-type"),
                         "application/problem+json")
        # While blocked, even the right token is not looked at.
        r = pg.get("/simple/", {"Authorization": basic("alice", tok)})
        self.assertEqual(r.status, 429)
        # Asking without credentials first is not a failure of its own.
        self.assertEqual(pg.get("/healthz").status, 200)
        self.assertIn("blocked for 60 s after 3 failed attempts",
                      pg.log_text())
        # Per address: another one (127.0.0.2) is not blocked.
        c = http.client.HTTPConnection("127.0.0.1", pg.port, timeout=30,
                                       source_address=("127.0.0.2", 0))
        c.request("GET", "/metrics", headers={"Authorization": "Bearer "
                                              + tok})
        m = c.getresponse()
        self.assertEqual(m.status, 200)
        text = m.read().decode()
        c.close()
        self.assertEqual(pgtest.metric_sum(
            text, r"^provgate_auth_refused_total$"), 3)
        self.assertEqual(pgtest.metric_sum(
            text, r"^provgate_auth_rate_limited_total$"), 2)

    def test_metrics_token_file(self):
        up = self.start_fixture()
        p = pgtest.run_cli(["admin-token", "prometheus"])
        self.assertEqual(p.returncode, 0, p.output)
        mtok = p.stderr.decode().strip().splitlines()[-1]
        self.secrets.append(mtok)
        path = self.path("metrics.tokens")
        with open(path, "w") as f:
            f.write(p.stdout.decode())
        pg = self.start_provgate(up, sets={"metrics_token_file": path})
        self.assertEqual(pg.get("/metrics").status, 401)
        self.assertEqual(pg.get("/metrics", {"Authorization": "Bearer "
                                             + "0" * 64}).status, 401)
        r = pg.get("/metrics", {"Authorization": "Bearer " + mtok})
        self.assertEqual(r.status, 200)
        self.assertIn(b"provgate_", r.body)
        r = pg.get("/metrics", {"Authorization": basic("prometheus", mtok)})
        self.assertEqual(r.status, 200)
        # auth = off: the index stays open.
        self.assertEqual(pg.get("/simple/").status, 200)


class Fleet(AuthCase):

    def test_tokens_shared_by_two_replicas_revoke_reaches_the_other(self):
        db = self.start_postgres()
        up = self.start_fixture()
        tok = self.new_token("alice", store=db.uri())
        r1 = self.start_provgate(up, cache_dir=self.new_dir("c1"), sets={
            "auth": "token", "pin_store": db.uri()})
        r2 = self.start_provgate(up, cache_dir=self.new_dir("c2"), sets={
            "auth": "token", "pin_store": db.uri()})
        for pg in (r1, r2):
            self.assertEqual(pg.get("/simple/", {
                "Authorization": "Bearer " + tok}).status, 200)
        # A token added after both started works on both.
        tok2 = self.new_token("bob", store=db.uri())
        for pg in (r1, r2):
            self.assertTrue(pgtest.wait_until(lambda pg=pg: pg.get(
                "/simple/", {"Authorization": "Bearer " + tok2}).status
                == 200, PROPAGATION_S))
        p = self.tokens("revoke", "alice", store=db.uri())
        self.assertEqual(p.returncode, 0, p.output)
        t0 = time.time()
        for pg in (r1, r2):
            self.assertTrue(pgtest.wait_until(lambda pg=pg: pg.get(
                "/simple/", {"Authorization": "Bearer " + tok}).status
                == 401, PROPAGATION_S), pg.log_tail())
        sys.stderr.write("revoke reached both replicas in %.2f s\n"
                         % (time.time() - t0))
        self.assertEqual(r2.get("/simple/", {
            "Authorization": "Bearer " + tok2}).status, 200)
        lst = self.tokens("list", store=db.uri())
        self.assertEqual(lst.returncode, 0, lst.output)
        self.assertRegex(lst.output, r"alice\s+%s\s.*revoked" % tok[:12])
        self.assertRegex(lst.output, r"bob\s+%s\s.*active" % tok2[:12])


class UpstreamCredentials(AuthCase):

    PASSWORD = "s3cret-Upstream-p4ss"
    TOKEN = "up-bearer-7f3a9c1e5b"

    def cred_file(self, text, mode=0o600):
        path = self.path("upstream.cred")
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def test_basic_from_file_never_follows_a_redirect_to_another_origin(self):
        self.secrets.append(self.PASSWORD)
        up = self.start_fixture()
        canary = self.start_fixture(vectors=False)
        desc = canary.add_file(pgtest.vector(WHEEL), project="abi3info",
                               version="2024.10.8")
        up.control("auth", authorization=basic("mirror", self.PASSWORD))
        up.control("redirect", filename=WHEEL, to=desc["url"])
        path = self.cred_file("# the mirror's account\nusername = mirror\n"
                              "password = %s\n" % self.PASSWORD)
        pg = self.start_provgate(up, sets={
            "credentials_file": path,
            "file_hosts": "127.0.0.1:%d" % canary.port})
        p = self.pip_download(pg, SPEC)
        self.assertPipOK(p)
        sent = [e for e in up.log() if e["kind"] in ("page", "file")]
        self.assertTrue(sent)
        for e in sent:
            self.assertEqual(e["authorization"], basic("mirror",
                                                       self.PASSWORD), e)
        got = [e for e in canary.log() if e["kind"] == "file"]
        self.assertTrue(got, "the redirect was not followed")
        for e in canary.log():
            self.assertIsNone(e["authorization"], e)

    def test_bearer_from_environment(self):
        self.secrets.append(self.TOKEN)
        up = self.start_fixture()
        up.control("auth", authorization="Bearer " + self.TOKEN)
        os.environ["PG_TEST_UPSTREAM_TOKEN"] = self.TOKEN
        try:
            pg = self.start_provgate(up, sets={
                "token_env": "PG_TEST_UPSTREAM_TOKEN"})
        finally:
            del os.environ["PG_TEST_UPSTREAM_TOKEN"]
        r = pg.page("abi3info")
        self.assertEqual(r.status, 200, r.reason)
        self.assertTrue(all(e["authorization"] == "Bearer " + self.TOKEN
                            for e in up.log() if e["kind"] == "page"))
        # Without them the same upstream is a 502 naming no secret.
        pg2 = self.start_provgate(up, cache_dir=self.new_dir("c2"))
        self.assertEqual(pg2.page("abi3info").status, 502)

    def start_bad(self, conf_text, env=None):
        conf = self.path("bad.conf")
        with open(conf, "w") as f:
            f.write(conf_text)
        old = dict(os.environ)
        os.environ.update(env or {})
        try:
            p = pgtest.run_cli(["serve", "--config", conf, "--listen",
                                "127.0.0.1:%d" % pgtest.free_port(),
                                "--cache-dir", self.new_dir("cbad")],
                               timeout=60)
        finally:
            os.environ.clear()
            os.environ.update(old)
        with open(self.path("bad-start.log"), "w") as f:
            f.write(p.output)
        return conf, p

    def test_bad_credentials_stop_the_start_with_exit_2(self):
        self.secrets.append(self.PASSWORD)
        path = self.cred_file("username = u\npassword = %s\n"
                              % self.PASSWORD, mode=0o644)
        conf, p = self.start_bad("[upstream]\nallow_http = on\n"
                                 "credentials_file = %s\n" % path)
        self.assertEqual(p.returncode, 2, p.output)
        self.assertIn("%s:3: credentials_file: %s: group or others may "
                      "read" % (conf, path), p.output)
        self.assertIn("chmod 600", p.output)
        os.chmod(path, 0o600)
        with open(path, "a") as f:
            f.write("colour = blue\n")
        conf, p = self.start_bad("[upstream]\ncredentials_file = %s\n"
                                 % path)
        self.assertEqual(p.returncode, 2, p.output)
        self.assertIn("%s:3: unknown key" % path, p.output)
        conf, p = self.start_bad("[upstream]\ntoken_env = PG_NO_SUCH_VAR\n")
        self.assertEqual(p.returncode, 2, p.output)
        self.assertIn("%s:2: token_env: environment variable PG_NO_SUCH_VAR "
                      "is not set" % conf, p.output)
        conf, p = self.start_bad("[upstream]\nupstream = https://u:%s@"
                                 "example.org/simple/\n" % self.PASSWORD)
        self.assertEqual(p.returncode, 2, p.output)
        self.assertIn("credentials in the URL are not supported", p.output)
        self.assertNotIn(self.PASSWORD, p.output)


class PrivateUpstreamCredentials(AuthCase):
    """[upstream:corp] with its own credentials beside a public
    [upstream] without any: the same keys, each upstream's own origin."""

    PASSWORD = "corp-Only-pa55word"

    def test_private_upstream_basic_never_reaches_the_public_one(self):
        self.secrets.append(self.PASSWORD)
        public = self.start_fixture(vectors=False)
        private = self.start_fixture(vectors=False)
        dist = self.new_dir("dist")
        mine = private.add_file(pgtest.make_wheel(
            os.path.join(dist, "p"), "corp-tools", "1.0", payload=b"# corp"))
        pub = public.add_file(pgtest.make_wheel(
            os.path.join(dist, "q"), "pubpkg", "2.0"))
        private.control("auth", authorization=basic("corp-mirror",
                                                     self.PASSWORD))
        cred = self.path("corp.cred")
        with open(cred, "w") as f:
            f.write("username = corp-mirror\npassword = %s\n"
                    % self.PASSWORD)
        os.chmod(cred, 0o400)
        text = ("[upstream:corp]\nupstream = %s\nallow_http = on\n"
                "projects = corp-*\ncredentials_file = %s\n"
                % (private.index_url, cred))
        pg = self.start_provgate(public, config_text=text)
        p = self.pip_download(pg, "corp-tools")
        self.assertPipOK(p)
        self.assertEqual(os.listdir(p.dest), [mine["filename"]])
        p = self.pip_download(pg, "pubpkg")
        self.assertPipOK(p)
        self.assertEqual(os.listdir(p.dest), [pub["filename"]])
        got = [e for e in private.log() if e["kind"] in ("page", "file")]
        self.assertTrue(got)
        for e in got:
            self.assertEqual(e["authorization"], basic("corp-mirror",
                                                       self.PASSWORD), e)
        self.assertTrue(public.log())
        for e in public.log():
            self.assertIsNone(e["authorization"], e)

        # The same rule in a private section: readable by others, exit 2
        # at that section's line.
        os.chmod(cred, 0o640)
        conf = self.path("bad.conf")
        with open(conf, "w") as f:
            f.write(text)
        p = pgtest.run_cli(["serve", "--config", conf, "--listen",
                            "127.0.0.1:%d" % pgtest.free_port(),
                            "--cache-dir", self.new_dir("cbad")], timeout=60)
        with open(self.path("bad-start.log"), "w") as f:
            f.write(p.output)
        self.assertEqual(p.returncode, 2, p.output)
        self.assertIn("%s:5: [upstream:corp]: credentials_file: %s: group "
                      "or others may read" % (conf, cred), p.output)


if __name__ == "__main__":
    unittest.main()
