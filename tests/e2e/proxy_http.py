# SPDX-License-Identifier: Apache-2.0
"""The two ends of test_proxy.sh's connections through edgewire-proxy.

  proxy_http.py serve ADDR PORT     HTTP/1.1 keep-alive server: every request
                                    is answered 200 with body "METHOD PATH\\n"
                                    (and the request body's length, when it has
                                    one); /public/big gets BIG bytes instead,
                                    /public/close "Connection: close"
  proxy_http.py SCENARIO SERVER_IP [ARGS]   a client scenario on port 80;
                                    exits 0 when it saw what it expects,
                                    else prints what it saw and exits 1

Each client scenario checks every answer, in order, on one connection."""
import http.server
import os
import socket
import socketserver
import sys
import time

PORT = 80
DENIED = (403, b"Access denied\n")
BIG = 1 << 20  # many times the proxy's buffers


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        got = len(self.rfile.read(n)) if n else 0
        body = f"{self.command} {self.path}{f' {got}' if got else ''}\n".encode()
        if self.path == "/public/big":
            body = b"x" * BIG
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if self.path == "/public/close":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(addr, port):
    Server((addr, int(port)), Handler).serve_forever()


class Conn:
    def __init__(self, server):
        self.s = socket.create_connection((server, PORT), timeout=5)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _more(self):
        d = self.s.recv(65536)
        if not d:
            raise ConnectionError(f"closed; unread: {self.buf!r}")
        self.buf += d

    def response(self):
        """(status, body, headers) of the next response."""
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in
                   (l.split(b":", 1) for l in lines[1:])}
        n = int(headers.get(b"content-length", 0))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, body, headers

    def closed(self):
        """Whether the other end closes with nothing more to say."""
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True


def request(method, path, body=b"", close=False):
    extra = b"Connection: close\r\n" if close else b""
    length = b"Content-Length: %d\r\n" % len(body) if body or method == "POST" else b""
    return (f"{method} {path} HTTP/1.1\r\nHost: web\r\n".encode() + extra + length +
            b"\r\n" + body)


def ok(method, path):
    return (200, f"{method} {path}\n".encode())


def expect(c, wanted):
    got = c.response()
    if got[:2] != wanted:
        raise AssertionError(f"expected {wanted}, got {got}")
    return got


def keepalive(server):
    c = Conn(server)
    c.send(request("GET", "/public"))
    expect(c, ok("GET", "/public"))
    c.send(request("POST", "/admin", b"drop=table"))
    _, _, headers = expect(c, DENIED)
    assert headers[b"connection"] == b"keep-alive", headers
    c.send(request("GET", "/public/again"))
    expect(c, ok("GET", "/public/again"))


def pipelined(server):
    """In one write, and the client's side shut down after it: every request
    is answered, in order, then the connection closed."""
    c = Conn(server)
    c.send(request("GET", "/public/1") + request("GET", "/admin") +
           request("POST", "/public/3", b"abc"))
    c.s.shutdown(socket.SHUT_WR)
    expect(c, ok("GET", "/public/1"))
    expect(c, DENIED)
    expect(c, (200, b"POST /public/3 3\n"))
    assert c.closed(), "the connection stayed open"


def big(server):
    """Bodies far larger than the proxy's buffers, both ways, and a denied
    one dropped: the connection goes on after each."""
    c = Conn(server)
    c.send(request("POST", "/public/upload", b"u" * BIG))
    expect(c, (200, b"POST /public/upload %d\n" % BIG))
    c.send(request("GET", "/public/big"))
    expect(c, (200, b"x" * BIG))
    c.send(request("POST", "/admin", b"a" * BIG))
    expect(c, DENIED)
    c.send(request("GET", "/public/after"))
    expect(c, ok("GET", "/public/after"))


def server_closes(server):
    """The server closes after its answer: so does the proxy, after it."""
    c = Conn(server)
    c.send(request("GET", "/public/close"))
    expect(c, ok("GET", "/public/close"))
    assert c.closed(), "the connection stayed open"


def too_large(server):
    c = Conn(server)
    c.send(b"GET /public HTTP/1.1\r\nHost: web\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n")
    _, _, headers = expect(c, (431, b"Request header fields too large\n"))
    assert c.closed(), "the connection stayed open"


def slow(server):
    """Half a head, then nothing: 408 at the request timeout, closed."""
    c = Conn(server)
    c.send(b"GET /public HTTP/1.1\r\n")
    expect(c, (408, b"Request timeout\n"))
    assert c.closed(), "the connection stayed open"


def idle(server):
    """A keep-alive connection left idle is closed at the request timeout."""
    c = Conn(server)
    c.send(request("GET", "/public"))
    expect(c, ok("GET", "/public"))
    start = time.time()
    assert c.closed(), "the connection stayed open"
    assert time.time() - start > 1, "closed before the timeout"


def split(server):
    c = Conn(server)
    c.send(b"GET /pub")
    time.sleep(0.2)
    c.send(b"lic/split HTTP/1.1\r\nHo")
    time.sleep(0.2)
    c.send(b"st: web\r\n\r\n")
    expect(c, ok("GET", "/public/split"))


def bad_request(c):
    _, _, headers = expect(c, (400, b"Bad request\n"))
    assert headers[b"connection"] == b"close", headers
    assert c.closed(), "the connection stayed open"


def malformed(server):
    c = Conn(server)
    c.send(b"GET /public HTTP/1.1\r\nHost: web\r\nNo colon here\r\n\r\n")
    bad_request(c)


def not_http(server):
    c = Conn(server)
    c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03hello\r\n\r\n")
    bad_request(c)


def closing(server):
    """A denied request that asks to close is answered, then closed."""
    c = Conn(server)
    c.send(request("GET", "/admin", close=True))
    _, _, headers = expect(c, DENIED)
    assert headers[b"connection"] == b"close", headers
    assert c.closed(), "the connection stayed open"


def reload(server, new_config, config):
    """The config changes under an open connection: the next request on it
    is judged by the new rules."""
    c = Conn(server)
    c.send(request("POST", "/admin"))
    expect(c, DENIED)
    os.rename(new_config, config)
    time.sleep(0.5)  # inotify wakes the idle proxy at once
    c.send(request("POST", "/admin"))
    expect(c, ok("POST", "/admin"))


def status(server, method, path):
    c = Conn(server)
    c.send(request(method, path))
    print(c.response()[0])


def unavailable(server):
    c = Conn(server)
    c.send(request("GET", "/public"))
    expect(c, (503, b"Service unavailable\n"))
    assert c.closed(), "the connection stayed open"


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "serve":
        serve(*args)
    try:
        globals()[what](*args)
    except (AssertionError, OSError) as e:
        print(f"{what}: {e}")
        sys.exit(1)
