#!/usr/bin/env python3
"""tests/e2e/fixture_upstream.py — a PyPI-shaped upstream for end-to-end tests.

Serves, on 127.0.0.1 only, what pypi.org and files.pythonhosted.org serve to a
caching proxy:

  GET /simple/                      project list (PEP 691 JSON or PEP 503 HTML)
  GET /simple/<project>/            project page, negotiated by Accept (q-values)
                                    or ?format=; ETag + Last-Modified, 304 on
                                    If-None-Match / If-Modified-Since
  GET /packages/xx/yy/<hex>/<file>  distribution files (absolute URLs in pages,
                                    like PyPI's), HEAD and a single Range
  GET <file URL>.metadata           PEP 658 core metadata of wheels
  GET /integrity/<project>/<version>/<filename>/provenance
                                    PEP 740 provenance, when the file has one

Projects come from the real files in ../shared/vectors/pypi (every *.whl and
*.tar.gz, with <dist>.provenance when present), plus any given with
--extra-dir (files, optional <file>.provenance and <file>.json sidecars with
"upload-time", "requires-python", "yanked", "version", "project") or
--manifest (JSON: {"files": [{"path": ..., "provenance": ..., ...}]}), plus
anything added at run time with POST /_control/add.

Control endpoints (JSON in, JSON out; never counted):
  GET  /_control/counts             {"kinds": {...}, "paths": {...}}; kinds
                                    are page, root, file, metadata,
                                    provenance, other, also "<kind>:<status>"
                                    (e.g. "page:304", "file:200")
  GET  /_control/log                last requests (method, path, status, kind,
                                    conditional and range headers)
  POST /_control/reset              zero the counters and the log
  POST /_control/add                {"path": FILE, "project"?, "version"?,
                                    "filename"?, "provenance"?: FILE|null,
                                    "upload-time"?, "requires-python"?,
                                    "yanked"?: false|true|"reason",
                                    "core-metadata"?: bool, "origin"?: URL
                                    (scheme://host:port its URL names)}
                                    (replaces a file of the same name; the
                                    page changes)
  POST /_control/page_body          {"project": P, "body": TEXT|null}
                                    serve TEXT as the project's page (in
                                    the negotiated type) instead of the
                                    rendering, e.g. malformed JSON
  POST /_control/redirect           {"filename": NAME, "to": URL|null,
                                    "code"?: 301|302|303|307|308}
                                    answer the file with a redirect (302)
                                    to URL
  POST /_control/raw                {"path": PATH, "status"?: N (200),
                                    "body"?: TEXT, "content_type"?: T|null,
                                    "location"?: URL} answer GET/HEAD of
                                    PATH exactly so (no Content-Type when
                                    null), e.g. a project page that
                                    redirects, or a bare "PWNED";
                                    {"path": PATH, "clear": true} undoes it
  POST /_control/remove             {"filename": NAME}
  POST /_control/flip               {"filename": NAME, "on": bool,
                                    "offset"?: N} serve that file with one
                                    byte flipped (the index keeps the hash)
  POST /_control/cut                {"filename": NAME, "on": bool,
                                    "length"?: N, "no_length"?: bool}
                                    serve that file cut to N bytes (default
                                    half; the index keeps hash and size),
                                    with its own Content-Length, or with
                                    none (body until close) if no_length
  POST /_control/extra              {"filename": NAME, "bytes": N} serve
                                    that file with N more bytes (the index
                                    keeps its size and hash); 0 undoes it
  POST /_control/latency            {"ms": N, "kinds"?: [...]}
  POST /_control/fail               {"mode": "none"|"500"|"close"|"truncate",
                                    "kinds"?: [...], "count"?: N}
                                    ("truncate": full Content-Length, half
                                    the body, then close)
  POST /_control/auth               {"authorization": VALUE|null} every
                                    non-control request without exactly
                                    this Authorization value gets 401
                                    (the log records what each sent)
  POST /_control/down               {"on": bool} every non-control request
                                    gets its connection closed unanswered
  POST /_control/html_only          {"on": bool} pages only as text/html,
                                    like a PEP 503-only index
  POST /_control/status             {"project": P, "status": S|null,
                                    "reason"?: R} PEP 792 project-status

Prints the port on stdout (one line) when ready; runs until killed.
Python 3 standard library only.
"""

import argparse
import email.utils
import hashlib
import html
import io
import json
import os
import re
import socket
import sys
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
LATEST_JSON = "application/vnd.pypi.simple.latest+json"
LATEST_HTML = "application/vnd.pypi.simple.latest+html"
INTEGRITY_TYPE = "application/vnd.pypi.integrity.v1+json"
API_VERSION = "1.3"
LOG_MAX = 2000


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def split_dist(filename):
    """(project, version) from a wheel or sdist file name."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        return parts[0], parts[1]
    for ext in (".tar.gz", ".zip", ".tar.bz2", ".tgz"):
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            name, _, version = stem.rpartition("-")
            return name, version
    raise ValueError("not a distribution file name: " + filename)


def default_upload_time(version, seq):
    """A stable RFC 3339 time: the date when the version is one
    (2024.10.8), else 2024-01-01 plus seq minutes."""
    m = re.match(r"^(20\d\d)\.(\d{1,2})\.(\d{1,2})$", version)
    if m:
        y, mo, d = (int(x) for x in m.groups())
        if 1 <= mo <= 12 and 1 <= d <= 31:
            return "%04d-%02d-%02dT12:00:00.000000Z" % (y, mo, d)
    t = 1704067200 + 60 * seq
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(t))


def http_date(t):
    return email.utils.formatdate(t, usegmt=True)


def wheel_metadata(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for n in z.namelist():
                if n.count("/") == 1 and n.endswith(".dist-info/METADATA"):
                    return z.read(n)
    except zipfile.BadZipFile:
        return None
    return None


def parse_accept(value):
    """[(media type, q)] in header order."""
    out = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        fields = [f.strip() for f in item.split(";")]
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        out.append((fields[0].lower(), q))
    return out


def negotiate(accept, fmt):
    """'json', 'html' (PEP 691 type) or 'text' (text/html), as PyPI's
    Warehouse chooses (WebOb's acceptable_offers over text/html, v1+html,
    v1+json: each offer takes the q of its most specific range, the first
    of equal ones; the highest q > 0 wins, ties in that order; nothing
    acceptable is text/html), for well-formed headers; ?format= replaces
    Accept (None: it selects nothing, 406)."""
    if fmt:
        accept = fmt
    if not accept:
        return "text"
    offers = [("text", "text", ("html",)),
              ("html", "application", (HTML_TYPE[12:], LATEST_HTML[12:])),
              ("json", "application", (JSON_TYPE[12:], LATEST_JSON[12:]))]
    best, best_q = None, 0.0
    for kind, otype, osubs in offers:
        spec, q = 0, 0.0
        for mtype, mq in parse_accept(accept):
            t, _, sub = mtype.partition("/")
            s = (3 if t == otype and sub in osubs else
                 2 if t == otype and sub == "*" else
                 1 if mtype == "*/*" else 0)
            if s > spec:
                spec, q = s, mq
        if q > best_q:
            best, best_q = kind, q
    if best is None and not fmt:
        return "text"
    return best


class Store:
    """Projects and files; every method takes the lock."""

    def __init__(self, base):
        self.base = base
        self.lock = threading.Lock()
        self.projects = {}      # normalized -> {"name", "files": {fn: rec},
        #                          "mtime", "serial", "status"}
        self.by_path = {}       # URL path -> rec
        self.by_prov = {}       # URL path -> rec
        self.seq = 0
        self.serial = 1000
        self.loading = True     # start-up files: Last-Modified in the past

    def add(self, path, project=None, version=None, filename=None,
            provenance=None, upload_time=None, requires_python=None,
            yanked=False, core_metadata=True, origin=None):
        with open(path, "rb") as f:
            data = f.read()
        filename = filename or os.path.basename(path)
        pname, pversion = split_dist(filename)
        project = project or pname
        version = version or pversion
        prov = None
        if provenance:
            with open(provenance, "rb") as f:
                prov = f.read()
        meta = wheel_metadata(data) if (
            core_metadata and filename.endswith(".whl")) else None
        digest = hashlib.blake2b(data + filename.encode(),
                                 digest_size=32).hexdigest()
        urlpath = "/packages/%s/%s/%s/%s" % (digest[:2], digest[2:4],
                                             digest[4:], filename)
        with self.lock:
            self.seq += 1
            self.serial += 1
            rec = {
                "project": project, "version": version, "filename": filename,
                "data": data, "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data), "urlpath": urlpath,
                "upload_time": upload_time or default_upload_time(
                    version, self.seq),
                "requires_python": requires_python, "yanked": yanked,
                "metadata": meta,
                "metadata_sha256": (hashlib.sha256(meta).hexdigest()
                                    if meta is not None else None),
                "provenance": prov,
                "provpath": "/integrity/%s/%s/%s/provenance" % (
                    normalize(project), version, filename),
                "flip": None, "cut": None, "seq": self.seq,
                "redirect": None, "redirect_code": None, "extra": 0,
                "origin": origin or self.base,
            }
            key = normalize(project)
            p = self.projects.setdefault(key, {
                "name": project, "files": {}, "mtime": 0.0, "serial": 0,
                "status": None, "status_reason": None})
            old = p["files"].get(filename)
            if old is not None:
                self.by_path.pop(old["urlpath"], None)
                self.by_path.pop(old["urlpath"] + ".metadata", None)
                self.by_prov.pop(old["provpath"], None)
            p["files"][filename] = rec
            now = time.time() - (600.0 if self.loading else 0.0)
            p["mtime"] = max(now, p["mtime"] + 1.0)
            p["serial"] = self.serial
            self.by_path[urlpath] = rec
            if prov is not None:
                self.by_prov[rec["provpath"]] = rec
            return self.describe(rec)

    def describe(self, rec):
        return {"project": rec["project"], "version": rec["version"],
                "filename": rec["filename"], "sha256": rec["sha256"],
                "size": rec["size"], "url": rec["origin"] + rec["urlpath"],
                "path": rec["urlpath"],
                "provenance": (self.base + rec["provpath"]
                               if rec["provenance"] is not None else None),
                "upload-time": rec["upload_time"]}

    def find(self, filename):
        for p in self.projects.values():
            if filename in p["files"]:
                return p, p["files"][filename]
        return None, None

    def remove(self, filename):
        with self.lock:
            p, rec = self.find(filename)
            if rec is None:
                return False
            del p["files"][filename]
            self.by_path.pop(rec["urlpath"], None)
            self.by_prov.pop(rec["provpath"], None)
            p["mtime"] = max(time.time(), p["mtime"] + 1.0)
            self.serial += 1
            p["serial"] = self.serial
            return True

    def page(self, key, fmt):
        """(body bytes, mtime) or None."""
        with self.lock:
            p = self.projects.get(key)
            if p is None:
                return None
            files = sorted(p["files"].values(), key=lambda r: r["seq"])
            if fmt == "json":
                body = self._page_json(p, files)
            else:
                body = self._page_html(p, files)
            return body, p["mtime"]

    def _page_json(self, p, files):
        out = []
        versions = []
        for r in files:
            if r["version"] not in versions:
                versions.append(r["version"])
            core = ({"sha256": r["metadata_sha256"]}
                    if r["metadata_sha256"] else False)
            fj = {
                "core-metadata": core,
                "data-dist-info-metadata": core,
                "filename": r["filename"],
                "hashes": {"sha256": r["sha256"]},
                "provenance": (self.base + r["provpath"]
                               if r["provenance"] is not None else None),
                "requires-python": r["requires_python"],
                "size": r["size"],
                "upload-time": r["upload_time"],
                "url": r["origin"] + r["urlpath"],
                "yanked": r["yanked"],
            }
            out.append(fj)
        doc = {"meta": {"_last-serial": p["serial"],
                        "api-version": API_VERSION},
               "name": normalize(p["name"]), "versions": versions,
               "files": out}
        if p["status"]:
            doc["project-status"] = {"status": p["status"]}
            if p["status_reason"]:
                doc["project-status"]["reason"] = p["status_reason"]
        return json.dumps(doc, sort_keys=True).encode()

    def _page_html(self, p, files):
        links = []
        for r in files:
            attrs = ['href="%s#sha256=%s"' % (
                html.escape(r["origin"] + r["urlpath"]), r["sha256"])]
            if r["requires_python"]:
                attrs.append('data-requires-python="%s"'
                             % html.escape(r["requires_python"]))
            if r["metadata_sha256"]:
                attrs.append('data-dist-info-metadata="sha256=%s"'
                             % r["metadata_sha256"])
                attrs.append('data-core-metadata="sha256=%s"'
                             % r["metadata_sha256"])
            if r["yanked"]:
                reason = r["yanked"] if isinstance(r["yanked"], str) else ""
                attrs.append('data-yanked="%s"' % html.escape(reason))
            if r["provenance"] is not None:
                attrs.append('data-provenance="%s"'
                             % html.escape(self.base + r["provpath"]))
            links.append("    <a %s>%s</a><br />"
                         % (" ".join(attrs), html.escape(r["filename"])))
        name = html.escape(normalize(p["name"]))
        head = ('    <meta name="pypi:repository-version" content="%s">\n'
                % API_VERSION)
        if p["status"]:
            head += ('    <meta name="pypi:project-status" content="%s">\n'
                     % html.escape(p["status"]))
        return ("<!DOCTYPE html>\n<html>\n  <head>\n%s"
                "    <title>Links for %s</title>\n  </head>\n  <body>\n"
                "    <h1>Links for %s</h1>\n%s\n  </body>\n</html>\n"
                "<!--SERIAL %d-->\n" % (head, name, name, "\n".join(links),
                                         p["serial"])).encode()

    def root(self, fmt):
        with self.lock:
            names = sorted(self.projects)
            mtime = max([p["mtime"] for p in self.projects.values()] or [0])
            if fmt == "json":
                body = json.dumps({
                    "meta": {"_last-serial": self.serial,
                             "api-version": API_VERSION},
                    "projects": [{"name": n, "_last-serial":
                                  self.projects[n]["serial"]}
                                 for n in names]}).encode()
            else:
                body = ("<!DOCTYPE html>\n<html>\n  <head>\n"
                        '    <meta name="pypi:repository-version" '
                        'content="%s">\n    <title>Simple index</title>\n'
                        "  </head>\n  <body>\n%s\n  </body>\n</html>\n" % (
                            API_VERSION, "\n".join(
                                '    <a href="/simple/%s/">%s</a>' % (n, n)
                                for n in names))).encode()
            return body, mtime


class State:
    """Counters and fault injection, shared by the handler threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.kinds = {}
        self.paths = {}
        self.log = []
        self.latency_ms = 0
        self.latency_kinds = None
        self.fail_mode = "none"
        self.fail_kinds = None
        self.fail_count = None
        self.down = False
        self.auth = None            # required Authorization value, or None
        self.html_only = False
        self.page_bodies = {}   # normalized project -> bytes
        self.raw = {}           # URL path -> (status, body, headers)

    def arrive(self, kind, path):
        """Counts a request when it arrives, before any byte of the answer:
        a client that holds the whole answer sees it counted."""
        with self.lock:
            self.kinds[kind] = self.kinds.get(kind, 0) + 1
            self.paths[path] = self.paths.get(path, 0) + 1

    def count(self, kind, path, status, method, headers):
        """Records how an arrived request was answered."""
        with self.lock:
            k = "%s:%d" % (kind, status)
            self.kinds[k] = self.kinds.get(k, 0) + 1
            self.log.append({
                "method": method, "path": path, "status": status,
                "kind": kind, "time": time.time(),
                "if-none-match": headers.get("If-None-Match"),
                "if-modified-since": headers.get("If-Modified-Since"),
                "range": headers.get("Range"),
                "accept": headers.get("Accept"),
                "accept-encoding": headers.get("Accept-Encoding"),
                "user-agent": headers.get("User-Agent"),
                "authorization": headers.get("Authorization")})
            del self.log[:-LOG_MAX]

    def take_failure(self, kind):
        with self.lock:
            if self.fail_mode == "none":
                return "none"
            if self.fail_kinds is not None and kind not in self.fail_kinds:
                return "none"
            if self.fail_count is not None:
                if self.fail_count <= 0:
                    return "none"
                self.fail_count -= 1
            return self.fail_mode

    def latency_for(self, kind):
        with self.lock:
            if self.latency_kinds is not None \
                    and kind not in self.latency_kinds:
                return 0
            return self.latency_ms


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fixture-pypi/1"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fixture: " + (fmt % args) + "\n")

    # ------------------------------------------------------------- plumbing
    def _send(self, status, body=b"", headers=(), head=False, reason=None):
        self.send_response(status, reason)
        has_len = False
        for k, v in headers:
            self.send_header(k, v)
            has_len = has_len or k.lower() == "content-length"
        if not has_len:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _close_now(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _kind(self, path):
        if path.startswith("/_control/"):
            return "control"
        if path in ("/simple", "/simple/"):
            return "root"
        if path.startswith("/simple/"):
            return "page"
        if path.startswith("/packages/"):
            return "metadata" if path.endswith(".metadata") else "file"
        if path.startswith("/integrity/"):
            return "provenance"
        return "other"

    def do_GET(self):
        self._handle(head=False)

    def do_HEAD(self):
        self._handle(head=True)

    def do_POST(self):
        url = urlsplit(self.path)
        if not url.path.startswith("/_control/"):
            self._send(405, b"method not allowed\n")
            return
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        try:
            args = json.loads(raw) if raw else {}
            result = self.server.control(url.path[len("/_control/"):], args)
            code, body = 200, result
        except (KeyError, ValueError, TypeError, OSError) as e:
            code, body = 400, {"error": "%s: %s" % (type(e).__name__, e)}
        self._send(code, json.dumps(body).encode(),
                   [("Content-Type", "application/json")])

    def _handle(self, head):
        url = urlsplit(self.path)
        path = unquote(url.path)
        kind = self._kind(path)
        st = self.server.state
        if kind == "control":
            if path == "/_control/counts":
                with st.lock:
                    body = {"kinds": dict(st.kinds), "paths": dict(st.paths)}
            elif path == "/_control/log":
                with st.lock:
                    body = list(st.log)
            else:
                self._send(404, b"no such control\n")
                return
            self._send(200, json.dumps(body).encode(),
                       [("Content-Type", "application/json")], head)
            return
        st.arrive(kind, path)
        with st.lock:
            need = st.auth
        if need is not None and self.headers.get("Authorization") != need:
            st.count(kind, path, 401, self.command, self.headers)
            self._send(401, b"credentials required\n",
                       [("Content-Type", "text/plain"),
                        ("WWW-Authenticate", 'Basic realm="fixture"')],
                       head)
            return
        if st.down:
            st.count(kind, path, 0, self.command, self.headers)
            self._close_now()
            return
        ms = st.latency_for(kind)
        if ms > 0:
            time.sleep(ms / 1000.0)
        failure = st.take_failure(kind)
        if failure == "close":
            st.count(kind, path, 0, self.command, self.headers)
            self._close_now()
            return
        if failure == "500":
            st.count(kind, path, 500, self.command, self.headers)
            self._send(500, b"injected failure\n",
                       [("Content-Type", "text/plain")], head)
            return
        with st.lock:
            raw = st.raw.get(path)
        if raw is not None:
            self._send(raw[0], raw[1], raw[2], head)
            st.count(kind, path, raw[0], self.command, self.headers)
            return
        status = self._serve(kind, path, url.query, head,
                             truncate=(failure == "truncate"))
        st.count(kind, path, status, self.command, self.headers)

    # ------------------------------------------------------------- routes
    def _serve(self, kind, path, query, head, truncate):
        store = self.server.store
        if kind in ("root", "page"):
            return self._serve_page(kind, path, query, head)
        if kind == "file" or kind == "metadata":
            base = path[:-len(".metadata")] if kind == "metadata" else path
            with store.lock:
                rec = store.by_path.get(base)
                to = rec["redirect"] if rec is not None else None
                if rec is not None:
                    if kind == "metadata":
                        data = rec["metadata"]
                    else:
                        data = rec["data"]
                        if rec["flip"] is not None and data:
                            off = min(rec["flip"], len(data) - 1)
                            data = (data[:off] + bytes([data[off] ^ 0x01])
                                    + data[off + 1:])
                        if rec["cut"] is not None:
                            cut_len, no_length = rec["cut"]
                            data = data[:cut_len]
                        if rec["extra"]:
                            data = data + b"x" * rec["extra"]
            if rec is None or data is None:
                self._send(404, b"not found\n", [("Content-Type",
                                                  "text/plain")], head)
                return 404
            if to and kind == "file":
                code = rec["redirect_code"] or 302
                self._send(code, b"", [("Location", to)], head)
                return code
            ctype = ("application/octet-stream" if kind == "file"
                     else "text/plain")
            if kind == "file" and rec["cut"] is not None and rec["cut"][1]:
                return self._serve_until_close(data, ctype, head)
            return self._serve_bytes(data, ctype, head, truncate,
                                     etag='"%s"' % rec["sha256"])
        if kind == "provenance":
            with store.lock:
                rec = store.by_prov.get(path)
                data = rec["provenance"] if rec is not None else None
            if data is None:
                self._send(404, json.dumps({"message": "not found"}).encode(),
                           [("Content-Type", "application/json")], head)
                return 404
            return self._serve_bytes(data, INTEGRITY_TYPE, head, truncate)
        self._send(404, b"not found\n", [("Content-Type", "text/plain")],
                   head)
        return 404

    def _serve_until_close(self, data, ctype, head):
        """200 without Content-Length: the body ends when the connection
        closes (what a truncated transfer of unknown length looks like)."""
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(data)
            self.wfile.flush()
        self.close_connection = True
        return 200

    def _serve_bytes(self, data, ctype, head, truncate, etag=None):
        total = len(data)
        start, end = 0, total - 1
        status = 200
        hdrs = [("Content-Type", ctype), ("Accept-Ranges", "bytes")]
        if etag:
            hdrs.append(("ETag", etag))
        rng = self.headers.get("Range")
        m = re.match(r"^bytes=(\d*)-(\d*)$", rng or "")
        if m and total > 0 and (m.group(1) or m.group(2)):
            if m.group(1):
                start = int(m.group(1))
                end = int(m.group(2)) if m.group(2) else total - 1
            else:
                start = max(0, total - int(m.group(2)))
            end = min(end, total - 1)
            if start > end:
                self._send(416, b"", [("Content-Range", "bytes */%d" % total)],
                           head)
                return 416
            status = 206
            hdrs.append(("Content-Range", "bytes %d-%d/%d" % (start, end,
                                                              total)))
        body = data[start:end + 1]
        hdrs.append(("Content-Length", str(len(body))))
        self.send_response(status)
        for k, v in hdrs:
            self.send_header(k, v)
        self.end_headers()
        if head:
            return status
        if truncate:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self._close_now()
            return status
        self.wfile.write(body)
        return status

    def _serve_page(self, kind, path, query, head):
        store, st = self.server.store, self.server.state
        qs = parse_qs(query)
        if kind == "page":
            m = re.match(r"^/simple/([^/]+)/?$", path)
            if not m:
                self._send(404, b"not found\n", head=head)
                return 404
            name = m.group(1)
            if normalize(name) != name or not path.endswith("/"):
                self._send(301, b"", [("Location", "/simple/%s/"
                                       % normalize(name))], head)
                return 301
        fmt = negotiate(self.headers.get("Accept"),
                        (qs.get("format") or [None])[0])
        if st.html_only:
            fmt = "text"
        if fmt is None:
            self._send(406, b"not acceptable\n", head=head)
            return 406
        render = "json" if fmt == "json" else "html"
        got = (store.root(render) if kind == "root"
               else store.page(normalize(name), render))
        if got is None:
            self._send(404, b"404 Not Found\n",
                       [("Content-Type", "text/plain")], head)
            return 404
        body, mtime = got
        if kind == "page":
            with st.lock:
                body = st.page_bodies.get(normalize(name), body)
        ctype = {"json": JSON_TYPE, "html": HTML_TYPE,
                 "text": "text/html; charset=utf-8"}[fmt]
        etag = '"%s"' % hashlib.sha256(
            ctype.encode() + b"\0" + body).hexdigest()[:32]
        hdrs = [("Content-Type", ctype), ("ETag", etag),
                ("Last-Modified", http_date(int(mtime))),
                ("Vary", "Accept"), ("Cache-Control", "max-age=600, public")]
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        not_modified = False
        if inm is not None:
            tags = [t.strip() for t in inm.split(",")]
            not_modified = etag in tags or "*" in tags or \
                ("W/" + etag) in tags
        elif ims is not None:
            try:
                t = email.utils.parsedate_to_datetime(ims).timestamp()
                not_modified = int(mtime) <= t
            except (TypeError, ValueError):
                not_modified = False
        if not_modified:
            self.send_response(304)
            for k, v in hdrs:
                if k != "Content-Type":
                    self.send_header(k, v)
            self.end_headers()
            return 304
        self._send(200, body, hdrs, head)
        return 200


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        if self.verbose:
            ThreadingHTTPServer.handle_error(self, request, client_address)

    def control(self, op, a):
        st, store = self.state, self.store
        if op == "reset":
            with st.lock:
                st.kinds.clear()
                st.paths.clear()
                st.log.clear()
            return {"ok": True}
        if op == "add":
            return store.add(
                a["path"], project=a.get("project"),
                version=a.get("version"), filename=a.get("filename"),
                provenance=a.get("provenance"),
                upload_time=a.get("upload-time"),
                requires_python=a.get("requires-python"),
                yanked=a.get("yanked", False),
                core_metadata=a.get("core-metadata", True),
                origin=a.get("origin"))
        if op == "remove":
            return {"ok": store.remove(a["filename"])}
        if op == "page_body":
            with st.lock:
                key = normalize(a["project"])
                if a.get("body") is None:
                    st.page_bodies.pop(key, None)
                else:
                    st.page_bodies[key] = a["body"].encode()
            return {"ok": True}
        if op == "redirect":
            with store.lock:
                _, rec = store.find(a["filename"])
                if rec is None:
                    raise KeyError(a["filename"])
                rec["redirect"] = a.get("to")
                rec["redirect_code"] = int(a.get("code", 302))
            return {"ok": True}
        if op == "raw":
            with st.lock:
                if a.get("clear"):
                    st.raw.pop(a["path"], None)
                    return {"ok": True}
                hdrs = []
                if a.get("content_type") is not None:
                    hdrs.append(("Content-Type", a["content_type"]))
                if a.get("location") is not None:
                    hdrs.append(("Location", a["location"]))
                st.raw[a["path"]] = (int(a.get("status", 200)),
                                     a.get("body", "").encode(), hdrs)
            return {"ok": True}
        if op == "flip":
            with store.lock:
                _, rec = store.find(a["filename"])
                if rec is None:
                    raise KeyError(a["filename"])
                rec["flip"] = (int(a.get("offset", rec["size"] // 2))
                               if a.get("on", True) else None)
            return {"ok": True}
        if op == "cut":
            with store.lock:
                _, rec = store.find(a["filename"])
                if rec is None:
                    raise KeyError(a["filename"])
                rec["cut"] = ((int(a.get("length", rec["size"] // 2)),
                               bool(a.get("no_length", False)))
                              if a.get("on", True) else None)
            return {"ok": True}
        if op == "extra":
            with store.lock:
                _, rec = store.find(a["filename"])
                if rec is None:
                    raise KeyError(a["filename"])
                rec["extra"] = int(a.get("bytes", 0))
            return {"ok": True}
        if op == "latency":
            with st.lock:
                st.latency_ms = int(a.get("ms", 0))
                st.latency_kinds = a.get("kinds")
            return {"ok": True}
        if op == "fail":
            mode = str(a.get("mode", "none"))
            if mode not in ("none", "500", "close", "truncate"):
                raise ValueError("mode must be none, 500, close or truncate")
            with st.lock:
                st.fail_mode = mode
                st.fail_kinds = a.get("kinds")
                st.fail_count = a.get("count")
            return {"ok": True}
        if op == "auth":
            with st.lock:
                st.auth = a.get("authorization")
            return {"ok": True}
        if op == "down":
            with st.lock:
                st.down = bool(a.get("on", True))
            return {"ok": True}
        if op == "html_only":
            with st.lock:
                st.html_only = bool(a.get("on", True))
            return {"ok": True}
        if op == "status":
            with store.lock:
                p = store.projects[normalize(a["project"])]
                p["status"] = a.get("status")
                p["status_reason"] = a.get("reason")
                p["mtime"] = max(time.time(), p["mtime"] + 1.0)
            return {"ok": True}
        if op == "files":
            with store.lock:
                return [store.describe(r) for p in store.projects.values()
                        for r in p["files"].values()]
        raise KeyError("unknown control " + op)


def load_vectors(store, vdir):
    names = sorted(os.listdir(vdir))
    for fn in names:
        if not (fn.endswith(".whl") or fn.endswith(".tar.gz")):
            continue
        path = os.path.join(vdir, fn)
        try:
            split_dist(fn)
        except ValueError:
            continue
        prov = path + ".provenance"
        store.add(path, provenance=prov if os.path.isfile(prov) else None)


def load_extra_dir(store, d):
    for fn in sorted(os.listdir(d)):
        path = os.path.join(d, fn)
        if fn.endswith((".provenance", ".json")) or not os.path.isfile(path):
            continue
        try:
            split_dist(fn)
        except ValueError:
            continue
        side = {}
        if os.path.isfile(path + ".json"):
            with open(path + ".json") as f:
                side = json.load(f)
        prov = path + ".provenance"
        store.add(path, project=side.get("project"),
                  version=side.get("version"),
                  provenance=prov if os.path.isfile(prov) else None,
                  upload_time=side.get("upload-time"),
                  requires_python=side.get("requires-python"),
                  yanked=side.get("yanked", False))


def load_manifest(store, path):
    with open(path) as f:
        doc = json.load(f)
    base = os.path.dirname(os.path.abspath(path))
    for e in doc.get("files", []):
        fpath = os.path.join(base, e["path"])
        prov = e.get("provenance")
        store.add(fpath, project=e.get("project"), version=e.get("version"),
                  filename=e.get("filename"),
                  provenance=os.path.join(base, prov) if prov else None,
                  upload_time=e.get("upload-time"),
                  requires_python=e.get("requires-python"),
                  yanked=e.get("yanked", False),
                  core_metadata=e.get("core-metadata", True))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0, help="0 = a free port")
    ap.add_argument("--vectors", help="../shared/vectors/pypi (real files)")
    ap.add_argument("--no-vectors", action="store_true")
    ap.add_argument("--extra-dir", action="append", default=[])
    ap.add_argument("--manifest", action="append", default=[])
    ap.add_argument("--html-only", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    srv = Server(("127.0.0.1", args.port), Handler)
    port = srv.server_address[1]
    srv.verbose = args.verbose
    srv.state = State()
    srv.state.html_only = args.html_only
    srv.store = Store("http://127.0.0.1:%d" % port)
    if args.vectors and not args.no_vectors:
        load_vectors(srv.store, args.vectors)
    for d in args.extra_dir:
        load_extra_dir(srv.store, d)
    for m in args.manifest:
        load_manifest(srv.store, m)
    srv.store.loading = False
    sys.stdout.write("%d\n" % port)
    sys.stdout.flush()
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
