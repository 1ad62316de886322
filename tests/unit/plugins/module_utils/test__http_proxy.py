# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_http_proxy: parsing, matching, the seeded draw, and the proxy in process against a local http.server."""

from __future__ import annotations

import http.client
import http.server
import random
import socket
import threading
import time

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _http_proxy as proxy_mod


class FakeSocket:
    def __init__(self, data, piece=7):
        self.data, self.piece = data, piece

    def recv(self, size):
        out, self.data = self.data[:min(size, self.piece)], self.data[min(size, self.piece):]
        return out


def message(headers):
    return proxy_mod.Message("GET / HTTP/1.1", list(headers.items()))


@pytest.mark.parametrize("target, path", [
    ("/api/items?id=3", "/api/items?id=3"),
    ("http://backend:8000/api/x", "/api/x"),
    ("http://backend:8000", "/"),
])
def test_request_path(target, path):
    assert proxy_mod.request_path(target) == path


@pytest.mark.parametrize("peeked, http1", [
    (b"GET / HTTP/1.1\r\n", True),
    (b"POST /x", True),
    (b"\x16\x03\x01\x02\x00\x01", False),    # TLS ClientHello
    (b"PRI * HTTP/2.0", False),              # HTTP/2 prior-knowledge preface
    (b"SSH-2.0-OpenSSH", False),
])
def test_what_is_faulted_and_what_passes_through(peeked, http1):
    assert proxy_mod.looks_like_http1(peeked) is http1


def test_heads_and_bodies_are_parsed_by_length_and_chunks():
    wire = (b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nT: 1\r\n\r\nrest")
    reader = proxy_mod.Reader(FakeSocket(wire))
    request = proxy_mod.read_head(reader)
    assert proxy_mod.parse_request_line(request.first_line) == ("POST", "/a", "HTTP/1.1")
    assert b"".join(proxy_mod.iter_body(reader, proxy_mod.body_framing(request))) == b"hello"
    response = proxy_mod.read_head(reader)
    framing = proxy_mod.body_framing(response, True, "POST", 200)
    wire_body = b"".join(proxy_mod.iter_body(reader, framing))
    assert proxy_mod.decode_chunked(wire_body) == b"abcde" and reader.buffer + reader.sock.data == b"rest"


@pytest.mark.parametrize("method, status, framing", [
    ("HEAD", 200, ("none", 0)), ("GET", 204, ("none", 0)), ("GET", 304, ("none", 0)), ("GET", 100, ("none", 0)),
    ("GET", 200, ("close", None)),
])
def test_responses_without_a_body_or_until_close(method, status, framing):
    assert proxy_mod.body_framing(proxy_mod.Message("HTTP/1.1 %d X" % status, []), True, method, status) == framing


def test_matching_needs_every_condition():
    rules = proxy_mod.Rules({"match": {"methods": ["GET"], "path_prefix": "/api", "path_regex": r"/items/\d+$",
                                       "headers": {"X-Tenant": "blue|green"}}})
    ok = message({"x-tenant": "green"})
    assert rules.matches("get", "/api/items/12", ok)
    assert not rules.matches("POST", "/api/items/12", ok)
    assert not rules.matches("GET", "/web/items/12", ok)
    assert not rules.matches("GET", "/api/items/12x", ok)
    assert not rules.matches("GET", "/api/items/12", message({"X-Tenant": "red"}))
    assert not rules.matches("GET", "/api/items/12", message({}))


def test_the_seeded_draw_is_the_documented_sequence_and_only_matching_requests_draw():
    rules = proxy_mod.Rules({"match": {"path_prefix": "/f"}, "percent": 30, "seed": 7})
    expected_rng = random.Random(7)
    expected = [expected_rng.random() * 100 < 30 for _request in range(200)]
    got = []
    for index in range(400):
        path = "/f" if index % 2 else "/other"
        matched, faulted = rules.decide("GET", path, message({}))
        if matched:
            got.append(faulted)
        else:
            assert not faulted
    assert got == expected and rules.counts == {"requests": 400, "matched": 200, "faulted": sum(expected)}


@pytest.fixture
def upstream():
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            body = ("path=%s" % self.path).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            data = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address
    server.shutdown()


def start_proxy(monkeypatch, destination, **config):
    """The proxy in this process, with the original destination given (no nat rule in a unit test)."""
    monkeypatch.setattr(proxy_mod, "original_destination", lambda sock: destination)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proxy = proxy_mod.Proxy(dict(config, listen_port=port, pass_mark=0))
    monkeypatch.setattr(proxy_mod, "SO_MARK", socket.SO_KEEPALIVE)  # setting a mark needs CAP_NET_ADMIN
    threading.Thread(target=proxy.serve, daemon=True).start()
    for _attempt in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    return port


def test_abort_status_keeps_the_connection_and_unmatched_requests_pass(monkeypatch, upstream):
    port = start_proxy(monkeypatch, upstream, match={"path_prefix": "/bad"}, percent=100, action={"status": 503})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    seen = []
    for path in ("/ok", "/bad/1", "/ok2", "/bad/2"):
        conn.request("GET", path)
        response = conn.getresponse()
        seen.append((response.status, response.read()))
    assert seen[0] == (200, b"path=/ok") and seen[2] == (200, b"path=/ok2")
    assert seen[1][0] == 503 and seen[3][0] == 503 and b"injected 503" in seen[1][1]


def test_replace_body_rewrites_a_chunked_response_and_delay_holds_the_request(monkeypatch, upstream):
    port = start_proxy(monkeypatch, upstream, match={"methods": ["POST"]}, action={"replace_body": "chaos!"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("POST", "/x", body=b"original")
    response = conn.getresponse()
    assert response.read() == b"chaos!" and response.getheader("Content-Length") == "6"
    conn.request("GET", "/y")
    assert conn.getresponse().read() == b"path=/y"
    slow = start_proxy(monkeypatch, upstream, action={"delay_ms": 200})
    conn = http.client.HTTPConnection("127.0.0.1", slow, timeout=5)
    started = time.monotonic()
    conn.request("GET", "/z")
    assert conn.getresponse().read() == b"path=/z" and time.monotonic() - started >= 0.2


def test_reset_closes_the_client_connection_with_an_rst(monkeypatch, upstream):
    port = start_proxy(monkeypatch, upstream, action={"reset": True})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/")
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        conn.getresponse()


def test_non_http_bytes_are_spliced_untouched(monkeypatch):
    echo = socket.socket()
    echo.bind(("127.0.0.1", 0))
    echo.listen()

    def serve():
        conn, _peer = echo.accept()
        conn.sendall(conn.recv(100)[::-1])
        conn.close()
    threading.Thread(target=serve, daemon=True).start()
    port = start_proxy(monkeypatch, echo.getsockname(), action={"status": 503})
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"\x16\x03\x01hello")
        assert conn.recv(100) == b"olleh\x01\x03\x16"


def raw_exchange(port, data):
    """Send raw bytes, read until the proxy closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(data)
        received = b""
        while True:
            piece = conn.recv(65536)
            if not piece:
                return received
            received += piece


def test_http_1_0_head_and_connection_close_end_the_connection(monkeypatch, upstream):
    port = start_proxy(monkeypatch, upstream, match={"path_prefix": "/never"}, action={"status": 503})
    old = raw_exchange(port, b"GET /old HTTP/1.0\r\n\r\n")
    assert old.startswith(b"HTTP/1.") and old.endswith(b"path=/old")
    head = raw_exchange(port, b"HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 501") or head.startswith(b"HTTP/1.1 200")  # no HEAD handler upstream
    aborted = start_proxy(monkeypatch, upstream, action={"status": 418})
    teapot = raw_exchange(aborted, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert teapot.startswith(b"HTTP/1.1 418 I'm a Teapot") and b"Connection: close" in teapot
