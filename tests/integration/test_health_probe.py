# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.health_probe against HTTP servers on 127.0.0.1 and the test's own containers."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.request

import pytest

from conftest import run_module, run_modules
# a fixture, used by name
from prometheus_fixture import prometheus  # noqa: F401 pylint: disable=unused-import

DEMO_HEALTH = "http://127.0.0.1:18000/health"


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
                      {"name": "box", "type": "container", "container": up.name, "max_restarts": 0}]
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
    assert ok["probes"][2]["detail"] == "running, restart_count 0" and ok["probes"][2]["restart_count"] == 0
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
    # The truth is 1.5 s plus one poll; 1.59-1.68 s in fresh-clone runs. The upper bound leaves room for a busy
    # machine (each poll waits for two HTTP answers from this process) and still tells 1.5 s from the 30 s timeout.
    assert 1.0 <= result["recovery_seconds"] <= 3.0
    # Polls were every 0.1 s at best: each one also waits for two HTTP answers from this (busy) process.
    assert result["polls"] >= 3, result


def test_until_healthy_gives_up_at_the_timeout():
    rc, result = run_module("health_probe", {"mode": "until_healthy", "interval": 0.2, "timeout": 1,
                                             "probes": [{"type": "tcp", "host": "127.0.0.1", "port": free_port()}]})
    assert rc != 0 and result["failed"] is True
    assert "still unhealthy after 1.0 s" in result["msg"], result["msg"]
    assert result["healthy"] is False and result["polls"] >= 3


# ------------------------------------------------------------------ bad input: clear messages, nothing probed

def test_bad_input_is_refused_before_any_probe(web, state_dir):
    url = "http://127.0.0.1:%d/health" % web.server_address[1]
    prom = {"type": "prometheus", "prometheus_url": "http://127.0.0.1:9/", "query": "up", "threshold": 1}
    calls = [
        {"probes": [{"type": "http", "url": "http//127.0.0.1/health"}]},
        {"probes": [{"name": "api", "type": "http", "url": url, "json_query": "dependencies.["}]},
        {"probes": [{"type": "http", "url": url}], "interval": 0.05},
        {"probes": [{"type": "http", "url": url}], "mode": "until_healthy", "interval": 1, "timeout": 0.5},
        {"probes": [{"type": "smtp", "host": "127.0.0.1"}]},
        {"probes": [dict(prom, comparator="=~")]},
        {"probes": [{"name": "db", "type": "command"}]},
        {"probes": [{"name": "db", "type": "command", "argv": ["sct-no-such-command", "-q"]}]},
        {"probes": [dict(prom, name="p", comparator="==", prometheus_url="127.0.0.1:9090")]},
        {"probes": [dict(prom, name="p", comparator="==", threshold=None)]},
    ]
    hits_before = len(web.hits)
    results = run_modules([{"module": "health_probe", "args": args} for args in calls], state_dir)
    expected = [
        "url 'http//127.0.0.1/health' is not an http(s) URL with a host",
        "probe api: json_query 'dependencies.[' is not a valid JMESPath expression",
        "interval must be at least 0.1 s, got 0.05",
        "timeout (0.5 s) must not be below interval (1.0 s)",
        "value of type must be one of: http, tcp, container, command, prometheus, got: smtp",
        "value of comparator must be one of: <, <=, >, >=, ==, !=, got: =~",
        "probe db: a command probe needs argv",
        "probe db: command 'sct-no-such-command' not found in PATH",
        "probe p: prometheus_url '127.0.0.1:9090' is not an http(s) URL with a host",
        "probe p: a prometheus probe needs threshold",
    ]
    for result, fragment in zip(results, expected):
        assert result.get("failed") is True and fragment in result["msg"], (fragment, result)
        assert "Traceback (most recent call last)" not in str(result.get("exception", "")) + result.output
    assert len(web.hits) == hits_before, "a probe ran although the input was refused"


# ------------------------------------------------------------------ command probes and the demo backend's JSON

def test_command_probes_and_demo_backend_json(state_dir):
    calls = [
        {"probes": [{"name": "echo", "type": "command", "argv": ["echo", "PONG"], "stdout_regex": "^PONG$"},
                    {"name": "false", "type": "command", "argv": ["false"], "rc": 1}]},
        {"probes": [{"name": "false", "type": "command", "argv": ["false"]},
                    {"name": "slow", "type": "command", "argv": ["sleep", "5"]}], "probe_timeout": 0.5},
        {"probes": [{"name": "redis", "type": "http", "url": DEMO_HEALTH, "json_query": "dependencies.redis.ok",
                     "expect": True, "max_latency_ms": 2000},
                    {"name": "status", "type": "http", "url": DEMO_HEALTH, "json_query": "status", "expect": "ok"},
                    {"name": "all-deps", "type": "http", "url": DEMO_HEALTH,
                     "json_query": "dependencies.* | [?ok == `false`] | length(@) == `0`"}],
         "fail_when_unhealthy": True},
        {"probes": [{"name": "wrong", "type": "http", "url": DEMO_HEALTH, "json_query": "dependencies.redis.ok",
                     "expect": False},
                    {"name": "tight", "type": "http", "url": DEMO_HEALTH, "max_latency_ms": 0.001}]},
    ]
    commands, sick_commands, demo, demo_wrong = run_modules(
        [{"module": "health_probe", "args": args} for args in calls], state_dir)
    assert commands["healthy"] is True, commands
    assert [(p["detail"], p["rc"]) for p in commands["probes"]] == [("rc 0", 0), ("rc 1", 1)]
    assert sick_commands["healthy"] is False and sick_commands["health_score"] == 0.0
    false_probe, slow_probe = sick_commands["probes"]
    assert false_probe["detail"] == "rc 1 (expected 0)"
    assert slow_probe["rc"] == 124 and slow_probe["latency_ms"] < 2500, slow_probe  # killed by probe_timeout
    assert demo.get("failed") is not True and demo["healthy"] is True, demo
    assert demo["probes"][0]["detail"] == "HTTP 200, dependencies.redis.ok is true"
    assert demo_wrong["healthy"] is False and demo_wrong["health_score"] == 0.0
    assert "dependencies.redis.ok is true (expected false)" in demo_wrong["probes"][0]["detail"]
    assert "too slow" in demo_wrong["probes"][1]["detail"] and "max_latency_ms 0.001" in demo_wrong["probes"][1]["detail"]


# ------------------------------------------------------------------ scripted outages: recovery and availability

class ScriptedHandler(http.server.BaseHTTPRequestHandler):
    """``/health``: 200 or 503 as ``server.healthy_at(monotonic now)`` says; ``/down``: start the outage."""

    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path == "/down":
            with self.server.lock:
                if self.server.down_at is None:  # the first trigger starts it; later ones only read it
                    self.server.down_at_epoch, self.server.down_at = time.time(), time.monotonic()
            code, body = 200, repr(self.server.down_at_epoch).encode()
        else:
            healthy = self.server.healthy_at(time.monotonic())
            code, body = (200, b'{"ok": true}') if healthy else (503, b'{"ok": false}')
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args):
        pass


@pytest.fixture
def scripted():
    servers = []

    def make(healthy_at):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ScriptedHandler)
        server.healthy_at = lambda now: healthy_at(server, now)
        server.lock, server.down_at, server.down_at_epoch = threading.Lock(), None, None
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server, "http://127.0.0.1:%d" % server.server_address[1]

    yield make
    for server in servers:
        server.shutdown()
        server.server_close()


OUTAGE_SECONDS = 2.0


def scripted_outage(server, now):
    """Down from T0 for OUTAGE_SECONDS, or, when the first poll came later than T0 + 1.8 s (a very busy
    machine), until 0.2 s after that poll: the module always sees the outage, and the truth is known."""
    if server.down_at is None:
        return True
    with server.lock:
        if server.up_at is None:
            server.up_at = max(server.down_at + OUTAGE_SECONDS, now + 0.2)
    return now >= server.up_at


def test_until_healthy_measures_a_known_outage(scripted, record_property):
    """Down from T0 until T0 + 2.0 s: recovery_seconds counted from ``since`` = T0 is the truth within 0.3 s.

    The outage starts when Ansible templates the task's arguments (the ``url`` lookup of ``since`` asks the
    server to go down and gets T0 back), so Ansible's own start-up (over 2 s on a busy machine) is not
    inside the outage and the module is polling before the service comes back.
    """
    server, base = scripted(scripted_outage)
    server.up_at = None
    rc, result = run_module("health_probe", {
        "mode": "until_healthy", "interval": 0.1, "timeout": 30,
        "since": "{{ lookup('ansible.builtin.url', '%s/down', split_lines=false) | float }}" % base,
        "probes": [{"type": "http", "url": base + "/health"}]})
    assert rc == 0, result
    assert server.down_at is not None and abs(result["invocation"]["module_args"]["since"] - server.down_at_epoch) < 1e-3
    truth = server.up_at - server.down_at
    error = result["recovery_seconds"] - truth
    record_property("recovery_truth_seconds", round(truth, 3))
    record_property("recovery_error_seconds", round(error, 3))
    print("\nknown outage %.3f s: recovery_seconds=%s (error %+.3f s) after %s polls"
          % (truth, result["recovery_seconds"], error, result["polls"]))
    assert result["met_at_first_poll"] is False, result
    assert abs(error) <= 0.3, result
    assert error >= 0, "recovery seen before it happened: %s" % result


def test_sample_of_a_flapping_service(scripted, record_property):
    """Healthy and unhealthy 0.5 s each: 4 s sampled every 0.1 s is about half available."""
    start = time.monotonic()
    _server, base = scripted(lambda _srv, now: int((now - start) / 0.5) % 2 == 0)
    rc, result = run_module("health_probe", {"mode": "sample", "duration": 4, "interval": 0.1,
                                             "abort_when": {"emergency_stop": False},
                                             "probes": [{"type": "http", "url": base + "/health"}]})
    assert rc == 0, result
    record_property("flapping_availability", result["availability"])
    print("\nflapping 0.5 s/0.5 s: availability=%.3f error_rate=%.3f over %s polls"
          % (result["availability"], result["error_rate"], result["polls"]))
    assert abs(result["availability"] - 0.5) <= 0.15, result["availability"]
    assert result["polls"] >= 25, result["polls"]
    assert result["aborted"] is None


# ------------------------------------------------------------------ a real Prometheus

def test_prometheus_probes(prometheus, state_dir, record_property):  # noqa: F811 - the fixture
    record_property("prometheus_startup_seconds", prometheus.startup_seconds)
    nothing = "http://127.0.0.1:%d" % free_port()
    probe = {"name": "up", "type": "prometheus", "prometheus_url": prometheus.url, "query": "up",
             "comparator": "==", "threshold": 1}
    calls = [
        {"probes": [probe], "fail_when_unhealthy": True},
        {"probes": [dict(probe, threshold=2)]},
        {"probes": [dict(probe, query='up{job="sct-no-such-job"}')]},
        {"probes": [dict(probe, prometheus_url=nothing)], "fail_when_unhealthy": True},
        {"probes": [dict(probe, prometheus_url=nothing)], "mode": "until_healthy", "interval": 0.1, "timeout": 0.5},
        {"probes": [dict(probe, query="sum(up{job=")]},
        {"probes": [dict(probe, query="count(up) + 0.5", comparator=">", threshold=1)]},
    ]
    up, above, no_data, unreachable, polled, bad_query, scalar = run_modules(
        [{"module": "health_probe", "args": args} for args in calls], state_dir)
    assert up.get("failed") is not True and up["healthy"] is True, up
    assert up["probes"][0]["detail"] == "1 sample(s) == 1 (values 1)" and up["probes"][0]["samples"] == 1
    assert above["healthy"] is False and above["probes"][0]["detail"].startswith("1 of 1 sample(s) not == 2: up{")
    assert no_data["healthy"] is False and no_data["probes"][0]["detail"].startswith("no data"), no_data
    assert unreachable.get("failed") is True, unreachable
    assert "Prometheus at %s is unreachable" % nothing in unreachable["msg"], unreachable["msg"]
    # In a polling mode an unreachable Prometheus is an unhealthy answer, not an error of the task.
    assert polled.get("failed") is True and polled["polls"] >= 3, polled
    assert "still unhealthy after 0.5 s" in polled["msg"] and "is unreachable" in polled["msg"], polled["msg"]
    assert bad_query["healthy"] is False and "query failed: bad_data" in bad_query["probes"][0]["detail"], bad_query
    assert scalar["healthy"] is True and scalar["probes"][0]["detail"] == "1 sample(s) > 1 (values 1.5)", scalar
    # the fixture's Prometheus is really the one that answered
    with urllib.request.urlopen(prometheus.url + "/api/v1/status/flags", timeout=2) as response:
        flags = json.loads(response.read())["data"]
    assert flags["web.listen-address"] == "127.0.0.1:%d" % prometheus.port
