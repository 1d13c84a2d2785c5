# SPDX-License-Identifier: Apache-2.0
"""What the lab tests' clients say on a connection to ew-responder: a line
answered until the server closes (plain), or HTTP/1.1 keep-alive requests
answered with a Content-Length body (http). lib.sh puts this file beside the
tests' scripts in $WORK, which import it."""


def plain(s):
    s.sendall(b"hello\n")
    buf = b""
    while True:
        d = s.recv(4096)
        if not d:
            return buf.decode().strip()
        buf += d


def request(s):
    s.sendall(b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n")


def _more(s, buf):
    d = s.recv(4096)
    if not d:
        raise ConnectionError("closed")
    return buf + d


def response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf = _more(s, buf)
    head, body = buf.split(b"\r\n\r\n", 1)
    length = next(int(l.split(b":")[1]) for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:"))
    while len(body) < length:
        body = _more(s, body)
    return body.decode().strip()


def http(s):
    request(s)
    return response(s)
