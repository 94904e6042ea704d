#!/usr/bin/env python3
"""tests/proxy/upstream_server.py — loopback HTTP/1.1 test server.

Binds 127.0.0.1 on a free port, prints "PORT\n" on stdout, serves until its
stdin closes (the test holds the other end) or it is killed.  Endpoints:

  /chunks?n=N&size=S    N chunks of S bytes (chunked), byte i is i % 251
  /etag                 200 "hello" with ETag/Last-Modified, 304 when the
                        request's If-None-Match or If-Modified-Since match
  /slow                 Content-Length 100, 10 bytes, then 5 s of silence
  /big?size=N           N bytes with Content-Length
  /nolength?size=N      N bytes, chunked (no Content-Length)
  /redirect?to=URL[&code=C][&body=N]   a C (302) redirect to URL with
                        an N-byte body
  /longetag?n=N         200 "ok" with an N-character ETag
  /hop?n=K              K more redirects (to /hop?n=K-1), then /etag
  /echo                 the request's Accept, Range, If-* headers as text
  /hits?path=P          "hits=H connections=C" (requests for P so far;
                        P=proxied counts absolute-form requests, i.e. the
                        server used as a forward proxy)
"""
import http.server
import os
import sys
import threading
import time
import urllib.parse

HITS = {}
CONNECTIONS = [0]
LOCK = threading.Lock()
LAST_MODIFIED = "Mon, 23 Nov 2026 10:00:00 GMT"


def pattern(start, length):
    return bytes((start + i) % 251 for i in range(length))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with LOCK:
            CONNECTIONS[0] += 1

    def log_message(self, *args):
        pass

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_chunks(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def body(self, code, data, ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        with LOCK:
            HITS[url.path] = HITS.get(url.path, 0) + 1
            if url.scheme:      # absolute-form: we are asked as a proxy
                HITS["proxied"] = HITS.get("proxied", 0) + 1
        if url.path == "/chunks":
            n, size = int(q.get("n", "10")), int(q.get("size", "100"))
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("ETag", '"c1"')
            self.end_headers()
            for i in range(n):
                self.chunk(pattern(i * size, size))
            self.end_chunks()
        elif url.path == "/etag":
            inm = self.headers.get("If-None-Match")
            ims = self.headers.get("If-Modified-Since")
            extra = [("ETag", '"v1"'), ("Last-Modified", LAST_MODIFIED)]
            if inm == '"v1"' or (inm is None and ims == LAST_MODIFIED):
                self.send_response(304)
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
            else:
                self.body(200, b"hello", extra=extra)
        elif url.path == "/slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            time.sleep(5)
            try:
                self.wfile.write(b"x" * 90)
            except OSError:
                pass
        elif url.path == "/big":
            self.body(200, pattern(0, int(q["size"])),
                      "application/octet-stream")
        elif url.path == "/nolength":
            size = int(q["size"])
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for off in range(0, size, 4096):
                self.chunk(pattern(off, min(4096, size - off)))
            self.end_chunks()
        elif url.path == "/redirect":
            body = b"r" * int(q.get("body", "0"))
            self.send_response(int(q.get("code", "302")))
            self.send_header("Location", q["to"])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif url.path == "/longetag":
            self.body(200, b"ok", extra=[("ETag", "e" * int(q["n"]))])
        elif url.path == "/hop":
            n = int(q["n"])
            self.send_response(302)
            self.send_header("Location", "/hop?n=%d" % (n - 1) if n > 1
                             else "/etag")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif url.path == "/echo":
            text = "".join("%s=%s\n" % (h, self.headers.get(h, "-"))
                           for h in ("Accept", "Range", "If-None-Match",
                                     "If-Modified-Since", "Accept-Encoding"))
            self.body(200, text.encode())
        elif url.path == "/hits":
            with LOCK:
                text = "hits=%d connections=%d" % (
                    HITS.get(q["path"], 0), CONNECTIONS[0])
            self.body(200, text.encode())
        else:
            self.body(404, b"not found")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass        # clients that hang up early are what some tests do


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sys.stdin.read()        # returns when the test closes its end or dies
    os._exit(0)


if __name__ == "__main__":
    main()
