# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import http.server
import socket
import threading

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _probes
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._probes import (
    run_all,
    run_probe,
    validate_probe,
    wait_until,
)

# ------------------------------------------------------------------ wait_until on a fake clock

PROBE_SECONDS = 0.25  # what one poll costs on the fake clock (binary-exact, so sums are exact)
INTERVAL = 1.0


class FakeTime:
    """A monotonic clock that only moves when the code sleeps or a probe runs."""

    def __init__(self, start=100.0):
        self.now = start
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def scripted(monkeypatch):
    """Replace run_all with a script of verdicts ('H' healthy, 'U' not); returns the fake clock."""
    fake = FakeTime()

    def install(script):
        verdicts = iter(script)

        def fake_run_all(probes, client=None, timeout=2.0, runner=None):
            healthy = next(verdicts) == "H"
            fake.now += PROBE_SECONDS
            return healthy, 1.0 if healthy else 0.0, [{"name": "p", "healthy": healthy}]

        monkeypatch.setattr(_probes, "run_all", fake_run_all)
        return fake

    return install


def _wait(fake, **kwargs):
    kwargs.setdefault("want_healthy", True)
    kwargs.setdefault("timeout", 30.0)
    kwargs.setdefault("interval", INTERVAL)
    return wait_until([{"type": "tcp"}], clock=fake.clock, sleep=fake.sleep, **kwargs)


@pytest.mark.parametrize(
    "script, threshold, want_healthy, elapsed, polls",
    [
        # polls start at 0, 1, 2 s and are answered PROBE_SECONDS later: elapsed ends at the answer
        ("H", 1, True, 0.0, 1),
        ("UUH", 1, True, 2.0, 3),  # recovered at the third poll's answer
        ("UUUUUH", 1, True, 5.0, 6),
        ("HHH", 3, True, 0.0, 3),  # elapsed counts to the answer of the first poll of the streak
        ("UHUHHH", 3, True, 3.0, 6),  # the streak broken at poll 3 restarts at poll 4
        ("HUHUHH", 2, True, 4.0, 6),
        ("HHU", 1, False, 2.0, 3),  # until unhealthy
        ("HUUU", 3, False, 1.0, 4),
    ],
)
def test_wait_until_exact_times(scripted, script, threshold, want_healthy, elapsed, polls):
    fake = scripted(script)
    satisfied, got_elapsed, results, got_polls = _wait(fake, want_healthy=want_healthy, success_threshold=threshold)
    assert satisfied is True
    assert got_elapsed == elapsed + PROBE_SECONDS
    assert got_polls == polls
    assert results == [{"name": "p", "healthy": want_healthy}]
    assert fake.sleeps == [INTERVAL - PROBE_SECONDS] * (polls - 1)  # the poll's own time is subtracted


def test_wait_until_counts_from_since_monotonic(scripted):
    fake = scripted("UUH")
    satisfied, elapsed, _results, _polls = _wait(fake, since_monotonic=fake.now - 7.5)
    assert satisfied and elapsed == 9.5 + PROBE_SECONDS


def test_wait_until_times_out(scripted):
    fake = scripted("U" * 10)
    satisfied, elapsed, results, polls = _wait(fake, timeout=2.5)
    # polls at 0, 1, 2 (clock 2.25 < 2.5 after it), 3 (clock 3.25 >= 2.5): give up
    assert satisfied is False
    assert polls == 4
    assert elapsed == 3.25
    assert results == [{"name": "p", "healthy": False}]


def test_wait_until_streak_not_finished_before_timeout(scripted):
    fake = scripted("UHHUHH" + "U" * 10)
    satisfied, _elapsed, _results, polls = _wait(fake, timeout=4.0, success_threshold=3)
    assert satisfied is False and polls == 5


def test_wait_until_slow_probe_does_not_sleep_negative(monkeypatch):
    fake = FakeTime()
    verdicts = iter("UH")

    def slow_run_all(probes, client=None, timeout=2.0, runner=None):
        fake.now += 3.0  # slower than the interval
        return next(verdicts) == "H", 0.0, []

    monkeypatch.setattr(_probes, "run_all", slow_run_all)
    satisfied, elapsed, _results, polls = _wait(fake)
    assert satisfied and polls == 2 and elapsed == 6.0  # the second poll answered at 6 s
    assert fake.sleeps == [0.0]


# ------------------------------------------------------------------ validate_probe

@pytest.mark.parametrize(
    "probe",
    [
        {"type": "http", "url": "http://127.0.0.1:8080/health"},
        {"type": "http", "url": "https://example.invalid/", "body_regex": "ok|up"},
        {"type": "tcp", "host": "localhost", "port": 1},
        {"type": "tcp", "host": "db", "port": 65535},
        {"type": "container", "container": "demo-web-1"},
    ],
)
def test_validate_probe_accepts(probe):
    assert validate_probe(probe) is probe


@pytest.mark.parametrize(
    "probe, fragment",
    [
        ({"name": "x", "type": "smtp"}, "probe x: unknown type 'smtp' (expected one of http, tcp, container, command, prometheus)"),
        ({"type": None}, "probe ?: unknown type None"),
        ({"type": "http", "url": "ftp://host/"}, "is not an http(s) URL with a host"),
        ({"type": "http", "url": "http://"}, "is not an http(s) URL with a host"),
        ({"type": "http", "url": "localhost:8080"}, "is not an http(s) URL with a host"),
        ({"type": "http"}, "url None is not an http(s) URL"),
        ({"type": "http", "url": "http://h/", "body_regex": "("}, "body_regex is not a valid regular expression"),
        ({"type": "tcp", "host": "h", "port": 0}, "a port between 1 and 65535"),
        ({"type": "tcp", "host": "h", "port": 65536}, "a port between 1 and 65535"),
        ({"type": "tcp", "host": "h", "port": "80"}, "a port between 1 and 65535"),
        ({"type": "tcp", "host": "h"}, "a port between 1 and 65535"),
        ({"type": "tcp", "port": 80}, "a tcp probe needs host"),
        ({"type": "container"}, "a container probe needs container"),
    ],
)
def test_validate_probe_rejects(probe, fragment):
    with pytest.raises(ChaosError) as info:
        validate_probe(probe)
    assert fragment in info.value.msg


# ------------------------------------------------------------------ real probes against local sockets

class _Handler(http.server.BaseHTTPRequestHandler):
    ROUTES = {"/health": (200, "status: ok"), "/down": (503, "overloaded"), "/created": (201, "made")}

    def do_GET(self):
        status, body = self.ROUTES.get(self.path, (404, "not found"))
        raw = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


@pytest.fixture(scope="module")
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d" % server.server_address[1], server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # bound then closed without listen: nothing answers there
    return port


@pytest.mark.parametrize(
    "path, extra, healthy, detail",
    [
        ("/health", {}, True, "HTTP 200"),
        ("/health", {"body_regex": r"status: (ok|up)"}, True, "HTTP 200"),
        ("/health", {"body_regex": "degraded"}, False, "HTTP 200 but the body does not match 'degraded'"),
        ("/down", {}, False, "HTTP 503 (expected [200])"),
        ("/down", {"status": [503]}, True, "HTTP 503"),
        ("/down", {"status": [503], "body_regex": "overload"}, True, "HTTP 503"),
        ("/created", {"status": [200, 201]}, True, "HTTP 201"),
        ("/missing", {}, False, "HTTP 404 (expected [200])"),
    ],
)
def test_http_probe(http_server, path, extra, healthy, detail):
    base, _port = http_server
    probe = dict({"name": "web", "type": "http", "url": base + path}, **extra)
    result = run_probe(validate_probe(probe))
    assert result["healthy"] is healthy
    assert result["detail"] == detail
    assert result["name"] == "web" and result["type"] == "http"
    assert result["latency_ms"] >= 0


def test_http_probe_to_a_closed_port_is_unhealthy(closed_port):
    result = run_probe({"type": "http", "url": "http://127.0.0.1:%d/" % closed_port}, timeout=1.0)
    assert result["healthy"] is False
    assert "URLError" in result["detail"] and "refused" in result["detail"].lower()


def test_tcp_probe_open_port(http_server):
    _base, port = http_server
    result = run_probe({"name": "t", "type": "tcp", "host": "127.0.0.1", "port": port})
    assert result["healthy"] is True and result["detail"] == "connected"


def test_tcp_probe_closed_port_is_unhealthy_not_an_exception(closed_port):
    result = run_probe({"name": "t", "type": "tcp", "host": "127.0.0.1", "port": closed_port}, timeout=1.0)
    assert result["healthy"] is False
    assert result["detail"].startswith("ConnectionRefusedError")


def test_run_all_score(http_server, closed_port):
    base, port = http_server
    probes = [
        {"type": "http", "url": base + "/health"},
        {"type": "tcp", "host": "127.0.0.1", "port": port},
        {"type": "tcp", "host": "127.0.0.1", "port": closed_port},
        {"type": "http", "url": base + "/down"},
    ]
    all_healthy, score, results = run_all(probes, timeout=1.0)
    assert all_healthy is False
    assert score == 0.5
    assert [r["healthy"] for r in results] == [True, True, False, False]
    assert run_all([]) == (True, 1.0, [])


def test_wait_until_against_a_real_server(http_server):
    base, _port = http_server
    satisfied, elapsed, results, polls = wait_until([{"type": "http", "url": base + "/health"}], True,
                                                    timeout=5.0, interval=0.1, success_threshold=2)
    assert satisfied and polls == 2 and 0 <= elapsed < 3.0  # ~0.1 s; the bound only tells it from the 5 s timeout
    assert results[0]["healthy"]


# ------------------------------------------------------------------ container probes with a fake client

class _FakeContainer:
    def __init__(self, status, health=None):
        state = {"Status": status, "Pid": 42}
        if health:
            state["Health"] = {"Status": health}
        self.name = "web"
        self.attrs = {"Id": "c0ffee", "Name": "/web", "State": state, "Config": {"Labels": {}}}


class _FakeClient:
    def __init__(self, container):
        outer = self

        class _Containers:
            def get(self, container_id):
                if outer.container is None:
                    from ansible_collections.sutazai.chaos.plugins.module_utils._docker import NotFound
                    raise NotFound("gone")
                return outer.container

        self.container = container
        self.containers = _Containers()


@pytest.mark.parametrize(
    "container, healthy, detail",
    [
        (_FakeContainer("running"), True, "running, restart_count 0"),
        (_FakeContainer("running", "healthy"), True, "running, healthy, restart_count 0"),
        (_FakeContainer("running", "unhealthy"), False, "health unhealthy, restart_count 0"),
        (_FakeContainer("running", "starting"), False, "health starting, restart_count 0"),
        (_FakeContainer("exited"), False, "status exited, restart_count 0"),
        (_FakeContainer("paused"), False, "status paused, restart_count 0"),
        (None, False, "no such container"),
    ],
)
def test_container_probe(container, healthy, detail):
    result = run_probe({"type": "container", "container": "web"}, client=_FakeClient(container))
    assert (result["healthy"], result["detail"]) == (healthy, detail)


def test_container_probe_without_client_is_an_error():
    with pytest.raises(ChaosError, match="container probes need the Docker engine"):
        run_probe({"name": "c", "type": "container", "container": "web"})


@pytest.mark.parametrize("polls, availability, aborted", [
    (1, 0.0, False),   # one slow answer is not an outage
    (2, 0.5, False),
    (3, 0.33, True),   # from the third poll on, the share of healthy polls decides
    (10, 0.9, False),
])
def test_availability_abort_waits_for_enough_polls(polls, availability, aborted):
    abort = _probes.abort_check({"availability_below": 0.5}, lambda: False)
    reason = abort({"polls": polls, "availability": availability}, {"health_score": 1.0})
    assert (reason is not None) is aborted, reason
    if aborted:
        assert reason == "availability 0.33 below 0.5"


def test_emergency_stop_aborts_at_the_first_poll():
    abort = _probes.abort_check({"emergency_stop": True, "availability_below": 0.5}, lambda: True)
    assert abort({"polls": 1, "availability": 1.0}, {"health_score": 1.0}) == "the emergency-stop flag is set"
