# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.health_probe against HTTP servers on 127.0.0.1 and the test's own containers."""

from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest

from conftest import run_module, run_modules


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        self.server.hits.append(time.monotonic())
        code = {"/health": 200, "/broken": 503}.get(self.path, 404)
        body = b"ok" if code == 200 else b"no"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


def serve(port=0):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.hits = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def web():
    server = serve()
    yield server
    server.shutdown()
    server.server_close()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_once_healthy_unhealthy_and_bad_input(web, containers, state_dir):
    port = web.server_address[1]
    up, down = containers("up"), containers("down")
    down.stop(timeout=0)
    closed = free_port()
    url = "http://127.0.0.1:%d" % port
    healthy_probes = [{"name": "web", "type": "http", "url": url + "/health", "body_regex": "^ok$"},
                      {"name": "port", "type": "tcp", "host": "127.0.0.1", "port": port},
                      {"name": "box", "type": "container", "container": up.name}]
    sick_probes = [{"name": "web", "type": "http", "url": url + "/broken"},
                   {"name": "closed", "type": "tcp", "host": "127.0.0.1", "port": closed},
                   {"name": "box", "type": "container", "container": down.name},
                   {"name": "fine", "type": "http", "url": url + "/health"}]
    calls = [
        {"probes": healthy_probes},
        {"probes": sick_probes},
        {"probes": sick_probes[:1], "fail_when_unhealthy": True},
        {"probes": [{"type": "http", "url": "not-a-url"}]},
        {"probes": [{"type": "tcp", "host": "127.0.0.1"}]},
        {"probes": healthy_probes[:1], "mode": "until_healthy", "interval": 0.01},
        {"probes": [{"type": "container", "container": "sct-no-such-container"}]},
    ]
    ok, sick, fail, bad_url, no_port, bad_interval, missing = run_modules(
        [{"module": "health_probe", "args": args} for args in calls], state_dir)

    assert ok.get("failed") is not True and ok["healthy"] is True and ok["health_score"] == 1.0, ok
    assert ok["changed"] is False and [p["healthy"] for p in ok["probes"]] == [True, True, True]
    assert sick.get("failed") is not True and sick["healthy"] is False and sick["health_score"] == 0.25, sick
    details = {p["name"]: p["detail"] for p in sick["probes"]}
    assert "503" in details["web"] and "refused" in details["closed"].lower() and "exited" in details["box"]
    assert fail.get("failed") is True and "unhealthy" in fail["msg"] and "503" in fail["msg"], fail
    assert bad_url.get("failed") is True and "is not an http(s) URL" in bad_url["msg"], bad_url
    assert no_port.get("failed") is True and "port between 1 and 65535" in no_port["msg"], no_port
    assert bad_interval.get("failed") is True and "interval must be at least" in bad_interval["msg"]
    assert missing.get("failed") is not True and missing["healthy"] is False
    assert missing["probes"][0]["detail"] == "no such container"
    for result in (bad_url, no_port, bad_interval):
        assert "Traceback (most recent call last)" not in str(result.get("exception", "")) + result.output
    assert web.hits, "the probes never reached the test server"


def test_until_healthy_times_a_server_that_comes_up(web, record_property):
    """The delayed server starts listening 1.5 s after the module's first poll (seen by an always-up server)."""
    port = free_port()
    late = {}

    def start_later():
        deadline = time.monotonic() + 60
        while not web.hits and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(1.5)
        late["server"] = serve(port)

    thread = threading.Thread(target=start_later, daemon=True)
    thread.start()
    try:
        rc, result = run_module("health_probe", {
            "mode": "until_healthy", "interval": 0.1, "timeout": 30, "probes": [
                {"name": "witness", "type": "http", "url": "http://127.0.0.1:%d/health" % web.server_address[1]},
                {"name": "late", "type": "http", "url": "http://127.0.0.1:%d/health" % port}]})
    finally:
        thread.join(timeout=65)
        if "server" in late:
            late["server"].shutdown()
            late["server"].server_close()
    assert rc == 0, result
    record_property("until_healthy_recovery_seconds", result["recovery_seconds"])
    print("\nuntil_healthy: recovery_seconds=%s after %s polls (server up 1.5 s after the first poll)"
          % (result["recovery_seconds"], result["polls"]))
    assert result["healthy"] is True
    assert 1.0 <= result["recovery_seconds"] <= 2.0
    # Polls were every 0.1 s at best: each one also waits for two HTTP answers from this (busy) process.
    assert result["polls"] >= 3, result


def test_until_healthy_gives_up_at_the_timeout():
    rc, result = run_module("health_probe", {"mode": "until_healthy", "interval": 0.2, "timeout": 1,
                                             "probes": [{"type": "tcp", "host": "127.0.0.1", "port": free_port()}]})
    assert rc != 0 and result["failed"] is True
    assert "still unhealthy after 1.0 s" in result["msg"], result["msg"]
    assert result["healthy"] is False and result["polls"] >= 3
