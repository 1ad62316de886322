# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The HTTP fault proxy of http_chaos: a sidecar program, standard library only.

It is copied into the state folder and started detached in a container's network namespace
(``python -m sutazai_chaos_reaper._http_proxy '<json config>'``), so it imports nothing of ours. Our nat rules
REDIRECT the faulted port to it; for each connection it finds the original destination (``SO_ORIGINAL_DST``) and
connects there with ``SO_MARK`` set to the pass mark, which the rules let through.

HTTP/1.0 and HTTP/1.1 (keep-alive on both sides) are parsed request by request. A request that matches (method,
path prefix, path regex, headers) is faulted with probability ``percent``/100, drawn from ``random.Random(seed)``
in the order matching requests arrive: delay it, answer a status code, reset the connection, or replace the
response body. Anything that does not start with an HTTP/1 request line (a TLS ClientHello, the HTTP/2 preface)
is forwarded byte for byte, unfaulted; so is a connection after ``101 Switching Protocols``.
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import sys
import threading
import time

SO_ORIGINAL_DST = 80
SO_MARK = 36
MAX_LINE = 65536
MAX_HEADERS = 200
PEEK_TIMEOUT_SECONDS = 5.0
IO_CHUNK = 65536
_REQUEST_START = re.compile(rb"[A-Z][A-Z_-]{0,19} ")
_HTTP2_PREFACE = b"PRI * HTTP/2.0"
_NO_BODY_STATUSES = (204, 304)


class ProtocolError(Exception):
    pass


class Reader:
    """Buffered reads from a socket: lines, exact lengths, or everything until the peer closes."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def _fill(self):
        data = self.sock.recv(IO_CHUNK)
        self.buffer += data
        return bool(data)

    def readline(self):
        """One line with its CRLF; b"" at a clean end of stream."""
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise ProtocolError("line longer than %d bytes" % MAX_LINE)
            if not self._fill():
                if self.buffer:
                    raise ProtocolError("connection closed in the middle of a line")
                return b""
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line + b"\n"

    def read_exact(self, size):
        while len(self.buffer) < size:
            if not self._fill():
                raise ProtocolError("connection closed %d bytes before the end of a body" % (size - len(self.buffer)))
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def chunks(self, size):
        """Up to ``size`` bytes in pieces (for streaming a long body)."""
        while size > 0:
            if not self.buffer and not self._fill():
                raise ProtocolError("connection closed %d bytes before the end of a body" % size)
            piece, self.buffer = self.buffer[:size], self.buffer[size:]
            size -= len(piece)
            yield piece

    def until_close(self):
        if self.buffer:
            piece, self.buffer = self.buffer, b""
            yield piece
        while True:
            data = self.sock.recv(IO_CHUNK)
            if not data:
                return
            yield data


class Message:
    """A request or response head: first line, headers in order (name, value)."""

    def __init__(self, first_line, headers):
        self.first_line = first_line
        self.headers = headers

    def get(self, name, default=None):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def tokens(self, name):
        return {t.strip().lower() for key, value in self.headers if key.lower() == name.lower()
                for t in value.split(",") if t.strip()}

    def without(self, *names):
        names = {n.lower() for n in names}
        self.headers = [(k, v) for k, v in self.headers if k.lower() not in names]

    def encode(self):
        lines = [self.first_line] + ["%s: %s" % (k, v) for k, v in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_head(reader):
    """The next message head, or None at a clean end of stream (between messages)."""
    line = reader.readline()
    while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: tolerate empty lines before a request
        line = reader.readline()
    if not line:
        return None
    headers = []
    while True:
        raw = reader.readline()
        if not raw:
            raise ProtocolError("connection closed inside a message head")
        if raw in (b"\r\n", b"\n"):
            break
        if len(headers) >= MAX_HEADERS:
            raise ProtocolError("more than %d header lines" % MAX_HEADERS)
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep or not name.strip() or name != name.strip():
            raise ProtocolError("malformed header line %r" % raw[:80])
        headers.append((name, value.strip()))
    return Message(line.decode("latin-1").rstrip("\r\n"), headers)


def parse_request_line(line):
    """(method, target, version) of an HTTP/1 request line; ProtocolError otherwise."""
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise ProtocolError("not an HTTP/1 request line: %r" % line[:80])
    return parts[0], parts[1], parts[2]


def request_path(target):
    """The path and query of a request target (origin form, or the path of an absolute URL)."""
    match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*(.*)", target)
    path = match.group(1) if match else target
    return path or "/"


def body_framing(message, is_response=False, request_method=None, status=None):
    """How a body is delimited: ("none", 0), ("length", n), ("chunked", None) or ("close", None)."""
    if is_response and (request_method == "HEAD" or 100 <= status < 200 or status in _NO_BODY_STATUSES):
        return "none", 0
    if "chunked" in message.tokens("transfer-encoding"):
        return "chunked", None
    length = message.get("content-length")
    if length is not None:
        if not length.strip().isdigit():
            raise ProtocolError("bad Content-Length %r" % length)
        return "length", int(length)
    return ("close", None) if is_response else ("none", 0)


def iter_body(reader, framing):
    """The body's bytes as they appear on the wire (chunked bodies keep their chunk framing)."""
    kind, length = framing
    if kind == "length":
        yield from reader.chunks(length)
    elif kind == "close":
        yield from reader.until_close()
    elif kind == "chunked":
        while True:
            size_line = reader.readline()
            if not size_line:
                raise ProtocolError("connection closed inside a chunked body")
            yield size_line
            try:
                size = int(size_line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError("bad chunk size line %r" % size_line[:40])
            if size == 0:
                while True:  # trailers, up to the empty line
                    trailer = reader.readline()
                    if not trailer:
                        raise ProtocolError("connection closed inside chunked trailers")
                    yield trailer
                    if trailer in (b"\r\n", b"\n"):
                        return
            yield from reader.chunks(size)
            yield reader.read_exact(2)


def decode_chunked(wire):
    """The payload of a chunked body given as its wire bytes."""
    payload, rest = b"", wire
    while True:
        size_line, rest = rest.split(b"\n", 1)
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            return payload
        payload, rest = payload + rest[:size], rest[size + 2:]


class Rules:
    """Which requests match, and the seeded draw that decides which matching ones are faulted."""

    def __init__(self, config):
        match = config.get("match") or {}
        self.methods = {m.upper() for m in match.get("methods") or []}
        self.path_prefix = match.get("path_prefix")
        self.path_regex = re.compile(match["path_regex"]) if match.get("path_regex") else None
        self.headers = [(name.lower(), value, re.compile(value)) for name, value in (match.get("headers") or {}).items()]
        self.percent = float(config.get("percent", 100.0))
        self.random = random.Random(config.get("seed"))
        self.lock = threading.Lock()
        self.counts = {"requests": 0, "matched": 0, "faulted": 0}

    def matches(self, method, path, message):
        if self.methods and method.upper() not in self.methods:
            return False
        if self.path_prefix and not path.startswith(self.path_prefix):
            return False
        if self.path_regex and not self.path_regex.search(path):
            return False
        for name, exact, pattern in self.headers:
            values = [v for k, v in message.headers if k.lower() == name]
            if not any(v == exact or pattern.fullmatch(v) for v in values):
                return False
        return True

    def decide(self, method, path, message):
        """(matched, faulted) for one request; draws from the seeded sequence only for matching requests."""
        matched = self.matches(method, path, message)
        with self.lock:
            self.counts["requests"] += 1
            faulted = matched and self.random.random() * 100.0 < self.percent
            self.counts["matched"] += matched
            self.counts["faulted"] += faulted
        return matched, faulted


def status_reason(status):
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return "Injected"


def abort_response(status, method, keep_alive):
    body = b"" if method == "HEAD" or status in _NO_BODY_STATUSES or status < 200 else \
        ("sutazai.chaos http_chaos: injected %d\n" % status).encode()
    head = ["HTTP/1.1 %d %s" % (status, status_reason(status)), "Content-Type: text/plain; charset=utf-8",
            "Content-Length: %d" % len(body), "X-Sutazai-Chaos: abort",
            "Connection: %s" % ("keep-alive" if keep_alive else "close")]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def wants_close(message, version):
    tokens = message.tokens("connection")
    return "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)


def reset(sock):
    """Close with an RST instead of a FIN (SO_LINGER with a zero timeout)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def original_destination(sock):
    """(address, port) the client connected to before our REDIRECT rule, from conntrack."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port, packed = struct.unpack_from("!H4s", raw, 2)
    return socket.inet_ntoa(packed), port


def splice(first, second):
    """Copy bytes both ways until both directions end (one thread per direction)."""
    def pump(source, sink):
        try:
            while True:
                data = source.recv(IO_CHUNK)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    other = threading.Thread(target=pump, args=(second, first), daemon=True)
    other.start()
    pump(first, second)
    other.join()


def looks_like_http1(peeked):
    return bool(_REQUEST_START.match(peeked)) and not peeked.startswith(_HTTP2_PREFACE[:len(peeked)])


class Connection:
    """One client connection and its upstream connection."""

    def __init__(self, proxy, client):
        self.proxy = proxy
        self.client = client
        self.client_reader = Reader(client)
        self.upstream = None
        self.upstream_reader = None
        self.destination = None

    def connect_upstream(self):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_MARK, self.proxy.pass_mark)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.proxy.upstream_timeout)
        sock.connect(self.destination)
        sock.settimeout(None)
        self.upstream, self.upstream_reader = sock, Reader(sock)

    def close_upstream(self):
        if self.upstream is not None:
            self.upstream.close()
        self.upstream = self.upstream_reader = None

    def peek(self):
        """The first bytes the client sends (without consuming them), enough to tell HTTP/1 from the rest."""
        self.client.settimeout(PEEK_TIMEOUT_SECONDS)
        end = time.monotonic() + PEEK_TIMEOUT_SECONDS
        peeked = b""
        try:
            while time.monotonic() < end:
                peeked = self.client.recv(len(_HTTP2_PREFACE), socket.MSG_PEEK)
                if not peeked or len(peeked) >= len(_HTTP2_PREFACE) or b"\n" in peeked or peeked[:1] == b"\x16":
                    break
                time.sleep(0.01)
        except socket.timeout:
            pass
        self.client.settimeout(None)
        return peeked

    def run(self):
        try:
            self.destination = original_destination(self.client)
            if self.destination[1] == self.proxy.port:
                return  # a connection to the proxy's own port, not redirected: nothing to forward to
            self.client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            peeked = self.peek()
            if not peeked:
                return
            self.connect_upstream()
            if not looks_like_http1(peeked):
                splice(self.client, self.upstream)  # TLS, HTTP/2, anything else: forwarded untouched
                return
            while self.exchange():
                pass
        except (OSError, ProtocolError) as exc:
            sys.stderr.write("http_chaos proxy: %s: %s\n" % (type(exc).__name__, exc))
        finally:
            self.close_upstream()
            if self.client is not None:
                self.client.close()

    def exchange(self):
        """One request and its response; returns whether the connection stays open for the next."""
        request = read_head(self.client_reader)
        if request is None:
            return False
        method, target, version = parse_request_line(request.first_line)
        if "100-continue" in request.tokens("expect"):
            # Answer the interim response ourselves: the whole request must be here before we decide.
            request.without("expect")
            self.client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = b"".join(iter_body(self.client_reader, body_framing(request)))
        close = wants_close(request, version)
        _matched, faulted = self.proxy.rules.decide(method, request_path(target), request)
        action = self.proxy.action if faulted else {}
        if action.get("reset"):
            reset(self.client)
            self.client = None
            return False
        if action.get("status"):
            self.client.sendall(abort_response(action["status"], method, not close))
            return not close
        if action.get("delay_ms"):
            time.sleep(action["delay_ms"] / 1000.0)
        return self.forward(request, body, method, close, action.get("replace_body"))

    def forward(self, request, body, method, close, replace_body):
        payload = request.encode() + body
        response = None
        for attempt in (1, 2):  # a kept-alive upstream may have closed meanwhile: reconnect once
            if self.upstream is None:
                self.connect_upstream()
            try:
                self.upstream.sendall(payload)
                response = read_head(self.upstream_reader)
            except (OSError, ProtocolError):
                if attempt == 2:
                    raise
            if response is not None:
                break
            self.close_upstream()
        if response is None:
            raise ProtocolError("the upstream closed without answering")
        while True:
            status = int(response.first_line.split(" ")[1])
            if status == 101:
                self.client.sendall(response.encode())
                splice(self.client, self.upstream)
                return False
            if not 100 <= status < 200:
                break
            self.client.sendall(response.encode())  # interim response (100 Continue, 103 Early Hints)
            response = read_head(self.upstream_reader)
            if response is None:
                raise ProtocolError("the upstream closed after an interim response")
        framing = body_framing(response, True, method, status)
        upstream_closes = framing[0] == "close" or wants_close(response, response.first_line.split(" ")[0])
        if replace_body is not None and framing[0] != "none":
            self.client.sendall(self.replaced(response, framing, replace_body))
        else:
            self.client.sendall(response.encode())
            for piece in iter_body(self.upstream_reader, framing):
                self.client.sendall(piece)
        if upstream_closes:
            self.close_upstream()
            return False
        return not close

    def replaced(self, response, framing, replace_body):
        wire = b"".join(iter_body(self.upstream_reader, framing))
        if framing[0] == "chunked":
            decode_chunked(wire)  # validates; the payload itself is dropped
        new_body = replace_body.encode("utf-8")
        response.without("content-length", "transfer-encoding", "content-encoding", "content-md5", "etag")
        response.headers += [("Content-Length", str(len(new_body))), ("X-Sutazai-Chaos", "replace-body")]
        return response.encode() + new_body


class Proxy:
    def __init__(self, config):
        self.port = int(config["listen_port"])
        self.pass_mark = int(config["pass_mark"])
        self.upstream_timeout = float(config.get("upstream_timeout", 10.0))
        self.rules = Rules(config)
        self.action = dict(config.get("action") or {})
        self.server = None

    def serve(self):
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("0.0.0.0", self.port))
        self.server.listen(256)
        while True:
            client, _peer = self.server.accept()
            threading.Thread(target=Connection(self, client).run, daemon=True).start()


def main(argv):
    config = json.loads(argv[0])
    Proxy(config).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
