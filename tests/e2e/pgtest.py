"""tests/e2e/pgtest.py — helpers for provgate's end-to-end tests.

Starts the fixture upstream (fixture_upstream.py) and `provgate serve` as
child processes on 127.0.0.1 with free ports, talks to them over plain
HTTP (http.client, so status lines, reason phrases and raw bytes are seen
as they are), runs the real pip with an environment that cannot reach
anything but the given index, and stops every process it started by its
PID (TERM, then KILL).

Also a private PostgreSQL (class PostgreSQL) for the pin-store tests:
initdb into a temporary directory, a Unix socket there, run as nobody
when the tests run as root (PostgreSQL refuses root), stopped by its PID.

Environment:
  PG_PROVGATE    path of the provgate executable (ctest passes it)
  PG_PGBIN       PostgreSQL's binaries (default /usr/lib/postgresql/15/bin)
  PG_SHARED_DIR  ../shared; without it the tests exit 77 (skipped)
  PG_E2E_KEEP=1  keep the temporary directories (for debugging)

Used by test_e2e.py and by the provenance tests of issue 4, e.g.:

    class T(pgtest.Case):
        def test_x(self):
            up = self.start_fixture()
            up.add_file("/tmp/demo-1.0-py3-none-any.whl",
                        provenance="/tmp/demo.provenance",
                        upload_time="2025-01-01T00:00:00Z")
            pg = self.start_provgate(up, sets={"index_ttl": "1s"})
            r = self.pip_download(pg, "demo==1.0")
"""

import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixture_upstream.py")
SKIP = 77

# What pip 23+ sends for index pages (docs/clients.md).
PIP_ACCEPT = ("application/vnd.pypi.simple.v1+json, "
              "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"

# Names of provgate.conf directives the tests set with --set.
DIRECTIVE_INDEX_TTL = "index_ttl"
DIRECTIVE_MISMATCH_HOLD = "mismatch_hold"
DIRECTIVE_STALE_IF_ERROR = "stale_if_error"
DIRECTIVE_CHECK_BEFORE_SEND = "check_before_send"

START_TIMEOUT_S = 90        # provgate under ASan on a loaded 2-core machine
PIP_TIMEOUT_S = 240

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer", "ThreadSanitizer")


def shared_dir_or_skip():
    """PG_SHARED_DIR, or print why and exit 77."""
    d = os.environ.get("PG_SHARED_DIR", "")
    if not d or not os.path.isdir(os.path.join(d, "vectors", "pypi")):
        print("skipped: PG_SHARED_DIR (%r) has no vectors/pypi; the "
              "end-to-end tests need ../shared beside the checkout" % d)
        sys.exit(SKIP)
    return os.path.abspath(d)


def vectors_dir():
    return os.path.join(shared_dir_or_skip(), "vectors", "pypi")


def vector(name):
    return os.path.join(vectors_dir(), name)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers          # lower-cased name -> value
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s, %d bytes>" % (self.status, self.reason,
                                       len(self.body))


def request(url, method="GET", headers=None, body=None, timeout=60):
    """One HTTP request on a fresh connection; no redirects, no decoding.
    Raises OSError (incl. http.client errors) when the connection fails."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(method, path or "/", body=body, headers=headers or {})
        r = conn.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        return Response(r.status, r.reason, hdrs, data)
    finally:
        conn.close()


def wait_until(pred, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test process dies (e.g.
    killed by ctest's timeout), so no server outlives its test."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)     # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _die_with_parent_preloaded():
    """_die_with_parent for a child that changes user: libc is loaded in
    the parent, as the child may no longer read Python's modules."""
    try:
        import ctypes
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM, 0, 0, 0)


def _stop_process(proc, grace=15.0):
    """TERM, wait, KILL: returns the exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    return proc.returncode


PG_BIN = os.environ.get("PG_PGBIN", "/usr/lib/postgresql/15/bin")
PG_PORT = 5432          # only names the socket file in our own directory
PG_PIN_USER = "pinuser"
PG_PIN_PASSWORD = "pin-secret-7f3a"


class PostgreSQL:
    """A private PostgreSQL cluster: initdb into a temporary directory
    under /tmp, listening only on a Unix socket in that directory (no TCP),
    run as nobody when the tests run as root (CI does; PostgreSQL refuses
    root), stopped by its PID (SIGINT: fast shutdown).  The superuser
    "postgres" connects without a password (trust, socket only); the role
    PG_PIN_USER needs PG_PIN_PASSWORD (scram), for the credential tests."""

    def __init__(self, durable=False):
        self.durable = durable      # fsync and synchronous commit (benches)
        if not os.access(os.path.join(PG_BIN, "postgres"), os.X_OK):
            raise unittest.SkipTest(
                "PostgreSQL is not installed (%s/postgres): run "
                "conf/install-deps.sh --test" % PG_BIN)
        self.base = tempfile.mkdtemp(prefix="pg-db-")
        self.data = os.path.join(self.base, "data")
        self.log_path = os.path.join(self.base, "postgres.log")
        self.proc = None
        self.uid = self.gid = None
        if os.geteuid() == 0:
            import pwd
            pw = pwd.getpwnam("nobody")
            self.uid, self.gid = pw.pw_uid, pw.pw_gid
            os.chown(self.base, self.uid, self.gid)
        os.chmod(self.base, 0o755)
        self._run([os.path.join(PG_BIN, "initdb"), "-D", self.data,
                   "-U", "postgres", "--auth-local=trust",
                   "--auth-host=reject", "-E", "UTF8", "--no-sync"])
        hba = os.path.join(self.data, "pg_hba.conf")
        with open(hba) as f:
            rest = f.read()
        with open(hba, "w") as f:
            f.write("local all %s scram-sha-256\n" % PG_PIN_USER + rest)
        self.started = False

    def _run(self, cmd):
        p = subprocess.run(cmd, cwd=self.base, user=self.uid,
                           group=self.gid, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120)
        if p.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(cmd),
                                           (p.stdout + p.stderr).decode()))

    def start(self):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data,
             "-c", "listen_addresses=", "-c",
             "unix_socket_directories=" + self.base,
             "-c", "port=%d" % PG_PORT, "-c", "max_connections=60",
             "-c", "shared_buffers=16MB"] + self._preload()
            + ([] if self.durable else ["-c", "fsync=off", "-c",
                                        "synchronous_commit=off"]),
            cwd=self.base, user=self.uid, group=self.gid,
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=_die_with_parent_preloaded())
        log.close()
        if not wait_until(lambda: self.proc.poll() is not None
                          or self.psql("SELECT 1", check=False)
                          .returncode == 0, 60, 0.1) \
                or self.proc.poll() is not None:
            raise RuntimeError("postgres did not start:\n" + self.log_tail())
        if not self.started:
            self.started = True
            self.psql("CREATE ROLE %s LOGIN PASSWORD '%s'"
                      % (PG_PIN_USER, PG_PIN_PASSWORD))

    @staticmethod
    def _preload():
        """pg_stat_statements when it is there: test_pins counts the
        statements a pin write takes with it."""
        lib = subprocess.run([os.path.join(PG_BIN, "pg_config"),
                              "--pkglibdir"], capture_output=True,
                             text=True).stdout.strip()
        if lib and os.path.exists(os.path.join(lib,
                                               "pg_stat_statements.so")):
            return ["-c", "shared_preload_libraries=pg_stat_statements"]
        return []

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def uri(self, db="postgres", user="postgres", password=None):
        q = "host=%s&port=%d&user=%s" % (self.base, PG_PORT, user)
        if password is not None:
            q += "&password=" + urllib.parse.quote(password)
        return "postgresql:///%s?%s" % (db, q)

    def psql(self, sql, db="postgres", check=True):
        p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v",
                            "ON_ERROR_STOP=1", self.uri(db), "-c", sql],
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, p.stderr))
        return p

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""


class Fixture:
    """A running fixture_upstream.py."""

    def __init__(self, workdir, args=(), vectors=True):
        self.log_path = os.path.join(workdir, "fixture.log")
        n = 1
        while os.path.exists(self.log_path):        # a second upstream
            n += 1
            self.log_path = os.path.join(workdir, "fixture%d.log" % n)
        cmd = [sys.executable, FIXTURE]
        if vectors:
            cmd += ["--vectors", vectors_dir()]
        cmd += list(args)
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self._log, stdin=subprocess.DEVNULL,
                                     preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline().decode().strip()
        if not line.isdigit():
            self.stop()
            raise RuntimeError("fixture upstream did not start: %r; log:\n%s"
                               % (line, self.log_tail()))
        self.port = int(line)
        self.origin = "http://127.0.0.1:%d" % self.port
        self.index_url = self.origin + "/simple/"

    # -- control
    def control(self, op, **args):
        r = request(self.origin + "/_control/" + op, "POST",
                    {"Content-Type": "application/json"},
                    json.dumps(args).encode())
        if r.status != 200:
            raise RuntimeError("fixture control %s: %d %s" % (op, r.status,
                                                              r.body))
        return r.json()

    def counts(self):
        return request(self.origin + "/_control/counts").json()

    def kind_count(self, kind):
        """Requests of a kind ("page", "file", ...) or "kind:status"."""
        return self.counts()["kinds"].get(kind, 0)

    def path_count(self, path):
        return self.counts()["paths"].get(path, 0)

    def log(self):
        return request(self.origin + "/_control/log").json()

    def reset(self):
        self.control("reset")

    def files(self):
        return {f["filename"]: f for f in self.control("files")}

    def file(self, filename):
        return self.files()[filename]

    def add_file(self, path, provenance=None, upload_time=None, **kw):
        """Adds (or replaces) one release file: returns its description
        (url, path, sha256, size, provenance URL, upload-time)."""
        args = dict(kw)
        args["path"] = os.path.abspath(path)
        if provenance is not None:
            args["provenance"] = os.path.abspath(provenance)
        if upload_time is not None:
            args["upload-time"] = upload_time
        return self.control("add", **args)

    def flip(self, filename, on=True):
        return self.control("flip", filename=filename, on=on)

    def cut(self, filename, on=True, length=None, no_length=False):
        """Serve filename cut to length bytes (default half), with its own
        Content-Length, or none (body until close) if no_length."""
        args = {"filename": filename, "on": on, "no_length": no_length}
        if length is not None:
            args["length"] = length
        return self.control("cut", **args)

    def fail(self, mode, kinds=None, count=None):
        return self.control("fail", mode=mode, kinds=kinds, count=count)

    def latency(self, ms, kinds=None):
        return self.control("latency", ms=ms, kinds=kinds)

    def down(self, on=True):
        return self.control("down", on=on)

    def html_only(self, on=True):
        return self.control("html_only", on=on)

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        rc = _stop_process(self.proc, grace=5.0)
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()
        return rc


class Provgate:
    """A running `provgate serve`."""

    def __init__(self, workdir, upstream_url, cache_dir, sets=None,
                 extra_args=(), config_text="", name="provgate"):
        binary = os.environ.get("PG_PROVGATE")
        if not binary or not os.access(binary, os.X_OK):
            raise RuntimeError("PG_PROVGATE (%r) is not an executable" % binary)
        self.cache_dir = cache_dir
        os.makedirs(cache_dir, exist_ok=True)
        conf = os.path.join(workdir, name + ".conf")
        with open(conf, "w") as f:
            f.write("# written by tests/e2e/pgtest.py\n" + config_text)
        self.log_path = os.path.join(workdir, name + ".log")
        self._log = open(self.log_path, "ab")
        last = ""
        for _attempt in range(3):
            self.port = free_port()
            self.origin = "http://127.0.0.1:%d" % self.port
            self.index_url = self.origin + "/simple/"
            cmd = [binary, "serve", "--config", conf,
                   "--listen", "127.0.0.1:%d" % self.port,
                   "--upstream", upstream_url, "--cache-dir", cache_dir,
                   "--allow-http"]
            for k, v in (sets or {}).items():
                cmd += ["--set", "%s=%s" % (k, v)]
            cmd += list(extra_args)
            self.cmd = cmd
            self._log.write(("\n### %s\n" % " ".join(cmd)).encode())
            self._log.flush()
            env = dict(os.environ)
            env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
            self.proc = subprocess.Popen(cmd, stdout=self._log,
                                         stderr=self._log,
                                         stdin=subprocess.DEVNULL, env=env,
                                         preexec_fn=_die_with_parent)
            if wait_until(self._ready, START_TIMEOUT_S, 0.1):
                return
            last = self.log_tail()
            _stop_process(self.proc, grace=5.0)
            if "in use" not in last.lower():
                break
        self._log.close()
        raise RuntimeError("provgate did not become ready (exit %s): %s\n"
                           "log:\n%s" % (self.proc.returncode,
                                         " ".join(self.cmd), last))

    def _ready(self):
        if self.proc.poll() is not None:
            return True     # exited: reported by the caller
        try:
            return request(self.origin + "/healthz", timeout=5).status == 200
        except OSError:
            return False

    def get(self, path, headers=None, method="GET", timeout=60):
        return request(self.origin + path, method, headers, timeout=timeout)

    def page(self, project, accept=PIP_ACCEPT, encoding=None):
        h = {"Accept": accept}
        if encoding:
            h["Accept-Encoding"] = encoding
        return self.get("/simple/%s/" % project, h)

    def file_urls(self, project):
        """filename -> file URL, from provgate's JSON page."""
        r = self.page(project, accept=JSON_TYPE)
        if r.status != 200:
            raise AssertionError("page %s: %d %s" % (project, r.status,
                                                     r.reason))
        return {f["filename"]: f["url"] for f in r.json()["files"]}

    def metrics(self):
        r = self.get("/metrics")
        if r.status != 200:
            raise AssertionError("/metrics: %d %s" % (r.status, r.reason))
        return r.body.decode()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, n=6000):
        return self.log_text()[-n:]

    def running(self):
        return self.proc.poll() is None

    def stop(self):
        rc = _stop_process(self.proc)
        if not self._log.closed:
            self._log.close()
        return rc


METRIC_LINE = re.compile(
    r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {label: value}, float)] of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_LINE.match(line)
        if not m:
            continue
        labels = dict(LABEL.findall(m.group(3) or ""))
        try:
            v = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, v))
    return out


def metric_sum(text, name_re, **labels):
    """Sum of samples whose name matches name_re (re.search) and whose
    labels include the given ones."""
    rx = re.compile(name_re)
    total = 0.0
    for name, lab, v in parse_metrics(text):
        if rx.search(name) and all(lab.get(k) == str(val)
                                   for k, val in labels.items()):
            total += v
    return total


def make_wheel(directory, name, version, requires_python=None,
               payload=b"", requires=()):
    """Writes a minimal, valid pure-Python wheel NAME-VERSION-py3-none-any
    (METADATA, WHEEL, RECORD and a module) into directory: returns its
    path.  payload varies the bytes (and so the sha256); requires are
    Requires-Dist lines ("beta>=1.0")."""
    import base64
    import zipfile
    dist = re.sub(r"[-_.]+", "_", name)
    fn = "%s-%s-py3-none-any.whl" % (dist, version)
    path = os.path.join(directory, fn)
    os.makedirs(directory, exist_ok=True)
    info = "%s-%s.dist-info" % (dist, version)
    meta = "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
    if requires_python:
        meta += "Requires-Python: %s\n" % requires_python
    for r in requires:
        meta += "Requires-Dist: %s\n" % r
    files = [
        ("%s/__init__.py" % dist,
         b"VERSION = %r\n" % version.encode() + payload),
        ("%s/METADATA" % info, meta.encode()),
        ("%s/WHEEL" % info, b"Wheel-Version: 1.0\nGenerator: pgtest\n"
         b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
    ]
    record = []
    for arc, data in files:
        digest = base64.urlsafe_b64encode(
            hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append("%s,sha256=%s,%d" % (arc, digest, len(data)))
    record.append("%s/RECORD,," % info)
    files.append(("%s/RECORD" % info, ("\n".join(record) + "\n").encode()))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for arc, data in files:
            zi = zipfile.ZipInfo(arc, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    return path


def run_cli(args, timeout=120):
    """Runs `provgate ARGS...` (pins, policy, cache ...) to completion:
    returns the CompletedProcess with .output (stdout + stderr text)."""
    binary = os.environ.get("PG_PROVGATE")
    if not binary:
        raise RuntimeError("PG_PROVGATE is not set")
    p = subprocess.run([binary] + list(args), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    p.output = (p.stdout + p.stderr).decode(errors="replace")
    return p


def pip_env(workdir):
    """An environment in which pip sees only what the command line says:
    no user/site config, no find-links, no cache, no prompts."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") and k not in ("PYTHONPATH",)}
    env.update({
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_NO_INPUT": "1",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_CACHE_DIR": "1",
        "PIP_DEFAULT_TIMEOUT": "60",
        "HOME": workdir,
        "XDG_CACHE_HOME": os.path.join(workdir, "xdg-cache"),
        "XDG_CONFIG_HOME": os.path.join(workdir, "xdg-config"),
        "http_proxy": "", "https_proxy": "", "HTTP_PROXY": "",
        "HTTPS_PROXY": "", "no_proxy": "127.0.0.1,localhost",
    })
    return env


def pip_version(python=None):
    """(major, minor) of `python -m pip`, or None when it has no pip."""
    try:
        p = subprocess.run([python or sys.executable, "-m", "pip",
                            "--version"], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=60,
                           env=pip_env(tempfile.gettempdir()))
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.match(rb"pip (\d+)\.(\d+)", p.stdout)
    if p.returncode != 0 or not m:
        return None
    return int(m.group(1)), int(m.group(2))


def run_pip(workdir, args, timeout=PIP_TIMEOUT_S, python=None):
    cmd = [python or sys.executable, "-m", "pip"] + list(args)
    p = subprocess.run(cmd, env=pip_env(workdir), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    p.output = p.stdout.decode(errors="replace")
    p.cmd = " ".join(cmd)
    return p


class ProxyTrap:
    """A listening socket given to a client as its HTTP(S) proxy, so that
    any request to a host other than 127.0.0.1 (which no_proxy sends
    straight) lands here: .hits lists the first line of each (e.g.
    "CONNECT pypi.org:443 HTTP/1.1"); each connection is then closed."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.hits = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            try:
                c.settimeout(5)
                line = c.recv(4096).split(b"\r\n", 1)[0]
                self.hits.append(line.decode(errors="replace"))
            except OSError:
                self.hits.append("(connection without a request line)")
            finally:
                c.close()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def client_env(workdir, proxy_url):
    """pip_env(workdir) for an installer other than pip (poetry, pipenv):
    its own home, config and caches under workdir, no keyring, no prompts,
    and every host but 127.0.0.1 reached only through proxy_url (a
    ProxyTrap)."""
    env = pip_env(workdir)
    env.update({
        "PATH": "/usr/bin:/bin",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "NO_COLOR": "1",
        "XDG_DATA_HOME": os.path.join(workdir, "xdg-data"),
        "POETRY_CACHE_DIR": os.path.join(workdir, "poetry-cache"),
        "POETRY_VIRTUALENVS_IN_PROJECT": "true",
        "POETRY_NO_INTERACTION": "1",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "PIPENV_VENV_IN_PROJECT": "1", "PIPENV_NOSPIN": "1",
        "PIPENV_YES": "1", "PIPENV_IGNORE_VIRTUALENVS": "1",
        "PIPENV_CACHE_DIR": os.path.join(workdir, "pipenv-cache"),
        "VIRTUALENV_OVERRIDE_APP_DATA": os.path.join(workdir, "venv-data"),
        "http_proxy": proxy_url, "https_proxy": proxy_url,
        "HTTP_PROXY": proxy_url, "HTTPS_PROXY": proxy_url,
        "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost",
    })
    for k in list(env):
        if k.startswith("PYENV") or k == "VIRTUAL_ENV":
            del env[k]      # pipenv would pick a pyenv Python, not Debian's
    return env


def run_client(cmd, cwd, env, timeout=PIP_TIMEOUT_S):
    """Runs an installer command to completion: the CompletedProcess with
    .output (stdout + stderr text) and .cmd."""
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    p.output = p.stdout.decode(errors="replace")
    p.cmd = " ".join(cmd)
    return p


class Case(unittest.TestCase):
    """Base class: a temporary directory per test, and every fixture and
    provgate started through it stopped (by PID) at the end.  A sanitizer
    report in any provgate log fails the test."""

    def setUp(self):
        shared_dir_or_skip()
        self.tmp = tempfile.mkdtemp(prefix="pg-e2e-")
        self._fixtures = []
        self._provgates = []
        self._databases = []
        self._n = 0

    def tearDown(self):
        reports = []
        for pg in self._provgates:
            pg.stop()
            text = pg.log_text()
            for mark in SANITIZER_MARKS:
                if mark in text:
                    i = text.index(mark)
                    reports.append("%s: %s" % (pg.log_path,
                                               text[max(0, i - 200):i + 3000]))
                    break
        for fx in self._fixtures:
            fx.stop()
        for db in self._databases:
            db.stop()
        failed = self._outcome_failed()
        if failed or reports:
            for pg in self._provgates:
                sys.stderr.write("\n--- %s (tail) ---\n%s\n"
                                 % (pg.log_path, pg.log_tail()))
            for fx in self._fixtures:
                sys.stderr.write("\n--- %s (tail) ---\n%s\n"
                                 % (fx.log_path, fx.log_tail()))
            for db in self._databases:
                sys.stderr.write("\n--- %s (tail) ---\n%s\n"
                                 % (db.log_path, db.log_tail()))
        if os.environ.get("PG_E2E_KEEP") == "1":
            sys.stderr.write("kept %s\n" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
            for db in self._databases:
                shutil.rmtree(db.base, ignore_errors=True)
        if reports:
            self.fail("sanitizer report in provgate's log:\n"
                      + "\n".join(reports))

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return True
        return bool(result.failures or result.errors)

    def path(self, *parts):
        p = os.path.join(self.tmp, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def new_dir(self, name):
        p = os.path.join(self.tmp, name)
        os.makedirs(p, exist_ok=True)
        return p

    def start_fixture(self, args=(), vectors=True):
        fx = Fixture(self.tmp, args, vectors)
        self._fixtures.append(fx)
        return fx

    def start_postgres(self):
        """A private PostgreSQL, stopped (by PID) at the end of the test;
        skips the test when PostgreSQL is not installed."""
        db = PostgreSQL()
        self._databases.append(db)
        db.start()
        return db

    def start_provgate(self, upstream, cache_dir=None, sets=None,
                       extra_args=(), config_text=""):
        """upstream: a Fixture or an index URL."""
        url = upstream.index_url if isinstance(upstream, Fixture) \
            else upstream
        self._n += 1
        pg = Provgate(self.tmp, url, cache_dir or os.path.join(
            self.tmp, "cache"), sets, extra_args, config_text,
            name="provgate%d" % self._n)
        self._provgates.append(pg)
        return pg

    def stop_provgate(self, pg):
        return pg.stop()

    def pip_download(self, index, spec, dest=None, extra=(), python=None):
        """python3 -m pip download --no-deps of spec from index (a Provgate,
        a Fixture or a URL) into dest (a new directory by default)."""
        url = index if isinstance(index, str) else index.index_url
        if dest is None:
            self._n += 1
            dest = self.new_dir("dl%d" % self._n)
        args = ["download", "--no-deps", "--no-cache-dir",
                "--index-url", url, "-d", dest] + list(extra) + [spec]
        p = run_pip(self.tmp, args, python=python)
        p.dest = dest
        return p

    def pip_install_hashes(self, index, requirements_text, target):
        req = self.path("requirements-%d.txt" % (self._n + 1))
        self._n += 1
        with open(req, "w") as f:
            f.write(requirements_text)
        url = index if isinstance(index, str) else index.index_url
        return run_pip(self.tmp, ["install", "--require-hashes", "--no-deps",
                                  "--no-cache-dir", "--index-url", url,
                                  "--target", target, "-r", req])

    def assertPipOK(self, p):
        if p.returncode != 0:
            self.fail("pip failed (%d): %s\n%s" % (p.returncode, p.cmd,
                                                    p.output[-4000:]))

    def blob_files(self, cache_dir):
        """(path, sha256 of contents) of every regular file in the cache
        directory outside LMDB's own files."""
        out = []
        for root, _dirs, files in os.walk(cache_dir):
            for fn in files:
                p = os.path.join(root, fn)
                if fn.endswith(".mdb") or not os.path.isfile(p):
                    continue
                out.append((p, sha256_file(p)))
        return out


def run_concurrently(fns):
    """Runs callables in threads at the same time; returns their results
    (an exception is re-raised)."""
    results = [None] * len(fns)
    errors = [None] * len(fns)
    barrier = threading.Barrier(len(fns))

    def run(i):
        try:
            barrier.wait(timeout=30)
            results[i] = fns[i]()
        except BaseException as e:      # noqa: B902 - re-raised below
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in
               range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return results


def main(argv=None):
    """Runs the named test (Class.method) of the calling module; exit 0 on
    success, 77 when everything selected was skipped, 1 on failure."""
    shared_dir_or_skip()
    argv = list(sys.argv[1:] if argv is None else argv)
    module = sys.modules["__main__"]
    loader = unittest.TestLoader()
    if argv:
        suite = unittest.TestSuite(loader.loadTestsFromName(a, module)
                                   for a in argv)
    else:
        suite = loader.loadTestsFromModule(module)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(
        suite)
    if not result.wasSuccessful():
        return 1
    if result.testsRun > 0 and len(result.skipped) == result.testsRun:
        return SKIP
    return 0
