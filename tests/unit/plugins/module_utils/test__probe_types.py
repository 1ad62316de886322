# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import http.server
import json
import threading
import time

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _probe_types
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._probe_types import (
    COMPARATORS,
    PrometheusError,
    evaluate_json_query,
    judge_samples,
    parse_prometheus_response,
    validate_probe,
)
from ansible_collections.sutazai.chaos.plugins.module_utils._probes import run_probe

HEALTH = {"status": "ok", "dependencies": {"redis": {"ok": True, "latency_ms": 2.0}, "postgres": {"ok": False}},
          "replicas": [{"up": True}, {"up": True}], "count": 1}


# ------------------------------------------------------------------ JMESPath

@pytest.mark.parametrize(
    "expression, expect, ok, detail",
    [
        ("dependencies.redis.ok", True, True, "dependencies.redis.ok is true"),
        ("dependencies.redis.ok", None, True, "dependencies.redis.ok is true"),
        ("dependencies.postgres.ok", True, False, "dependencies.postgres.ok is false (expected true)"),
        ("dependencies.postgres.ok", None, False, "is false (expected a truthy value)"),
        ("dependencies.postgres.ok", False, True, "dependencies.postgres.ok is false"),
        ("status", "ok", True, 'status is "ok"'),
        ("status", "down", False, 'status is "ok" (expected "down")'),
        ("dependencies.nothing", None, False, "dependencies.nothing is null (expected a truthy value)"),
        ("count", 1, True, "count is 1"),
        ("count", True, False, "count is 1 (expected true)"),  # JSON values: true is not 1
        ("replicas[?up] | length(@)", 2, True, "is 2"),
        ("replicas[*].up", [True, True], True, "[true, true]"),
        ("length(status)", 3, False, "length(status) is 2 (expected 3)"),
    ],
)
def test_json_query_and_expect(expression, expect, ok, detail):
    got_ok, got_detail = evaluate_json_query(expression, json.dumps(HEALTH), expect)
    assert got_ok is ok
    assert detail in got_detail


def test_json_query_runtime_type_error_is_unhealthy():
    ok, detail = evaluate_json_query("length(count)", json.dumps(HEALTH))
    assert ok is False and "json_query 'length(count)' failed" in detail


def test_json_query_on_a_body_that_is_not_json():
    ok, detail = evaluate_json_query("status", "<html>oops</html>")
    assert ok is False and detail.startswith("the body is not JSON")


@pytest.mark.parametrize("expression", ["dependencies.[", "foo[?", "a..b", "length("])
def test_invalid_json_query_fails_validation(expression):
    with pytest.raises(ChaosError) as info:
        validate_probe({"name": "api", "type": "http", "url": "http://127.0.0.1/", "json_query": expression})
    assert "probe api: json_query %r is not a valid JMESPath expression" % expression in info.value.msg


def test_missing_jmespath_is_a_clear_error_only_for_json_query(monkeypatch):
    monkeypatch.setattr(_probe_types, "HAS_JMESPATH", False)
    validate_probe({"type": "http", "url": "http://127.0.0.1/"})  # no json_query: jmespath not needed
    with pytest.raises(ChaosError) as info:
        validate_probe({"name": "api", "type": "http", "url": "http://127.0.0.1/", "json_query": "status"})
    assert "json_query needs jmespath" in info.value.msg and "jmespath" in info.value.msg.lower()
    assert "exception" in info.value.details


def test_expect_without_json_query_is_rejected():
    with pytest.raises(ChaosError, match="expect is only used with json_query"):
        validate_probe({"type": "http", "url": "http://127.0.0.1/", "expect": True})


# ------------------------------------------------------------------ http with json_query and max_latency_ms

class _SlowJsonHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the http.server API
        if self.path.startswith("/slow"):
            time.sleep(0.3)
        raw = json.dumps(HEALTH).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_args):
        pass


@pytest.fixture(scope="module")
def json_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowJsonHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    "path, extra, healthy, fragment",
    [
        ("/health", {"json_query": "dependencies.redis.ok", "expect": True}, True, "HTTP 200, dependencies.redis.ok is true"),
        ("/health", {"json_query": "dependencies.postgres.ok", "expect": True}, False,
         "HTTP 200 but dependencies.postgres.ok is false (expected true)"),
        ("/health", {"max_latency_ms": 2000}, True, "HTTP 200"),
        ("/slow", {"max_latency_ms": 100}, False, "HTTP 200 but too slow: "),
        ("/slow", {"max_latency_ms": 100, "json_query": "status"}, False, "(max_latency_ms 100)"),
        ("/slow", {"max_latency_ms": 5000, "json_query": "status", "expect": "ok"}, True, 'status is "ok"'),
    ],
)
def test_http_json_query_and_latency(json_server, path, extra, healthy, fragment):
    probe = validate_probe(dict({"name": "api", "type": "http", "url": json_server + path}, **extra))
    result = run_probe(probe)
    assert result["healthy"] is healthy, result
    assert fragment in result["detail"]


@pytest.mark.parametrize("value", [0, -5])
def test_max_latency_must_be_positive(value):
    with pytest.raises(ChaosError, match="max_latency_ms must be above 0"):
        validate_probe({"type": "http", "url": "http://127.0.0.1/", "max_latency_ms": value})


# ------------------------------------------------------------------ comparators

@pytest.mark.parametrize(
    "comparator, value, threshold, expected",
    [
        ("<", 0.5, 1, True), ("<", 1, 1, False), ("<", 2, 1, False),
        ("<=", 0.5, 1, True), ("<=", 1, 1, True), ("<=", 2, 1, False),
        (">", 2, 1, True), (">", 1, 1, False), (">", 0.5, 1, False),
        (">=", 2, 1, True), (">=", 1, 1, True), (">=", 0.5, 1, False),
        ("==", 1, 1, True), ("==", 1.0001, 1, False),
        ("!=", 0, 1, True), ("!=", 1, 1, False),
    ],
)
def test_comparators(comparator, value, threshold, expected):
    healthy, _detail = judge_samples([({}, float(value))], comparator, float(threshold))
    assert healthy is expected
    assert sorted(COMPARATORS) == sorted(["<", "<=", ">", ">=", "==", "!="])


def test_nan_never_satisfies_and_every_sample_must():
    assert judge_samples([({}, float("nan"))], "!=", 1.0)[0] is False
    healthy, detail = judge_samples([({"__name__": "up", "job": "a"}, 1.0), ({"__name__": "up", "job": "b"}, 0.0)],
                                    "==", 1.0)
    assert healthy is False and detail == '1 of 2 sample(s) not == 1: up{job="b"} = 0'


def test_no_samples_is_no_data():
    healthy, detail = judge_samples([], ">", 0.0)
    assert healthy is False and detail.startswith("no data")


# ------------------------------------------------------------------ Prometheus answers

VECTOR = {"status": "success", "data": {"resultType": "vector", "result": [
    {"metric": {"__name__": "up", "job": "prometheus", "instance": "127.0.0.1:9090"}, "value": [1700000000.1, "1"]},
    {"metric": {"__name__": "up", "job": "api"}, "value": [1700000000.1, "0"]}]}}


@pytest.mark.parametrize(
    "document, samples",
    [
        (VECTOR, [({"__name__": "up", "job": "prometheus", "instance": "127.0.0.1:9090"}, 1.0),
                  ({"__name__": "up", "job": "api"}, 0.0)]),
        ({"status": "success", "data": {"resultType": "scalar", "result": [1700000000, "42.5"]}}, [({}, 42.5)]),
        ({"status": "success", "data": {"resultType": "vector", "result": []}}, []),
        ({"status": "success", "data": {"resultType": "matrix", "result": [
            {"metric": {"job": "a"}, "values": [[1, "1"], [2, "3"]]}]}}, [({"job": "a"}, 1.0), ({"job": "a"}, 3.0)]),
        ({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [1, "+Inf"]}]}}, [({}, float("inf"))]),
    ],
)
def test_parse_prometheus_response(document, samples):
    assert parse_prometheus_response(document) == samples


@pytest.mark.parametrize(
    "document, fragment",
    [
        ({"status": "error", "errorType": "bad_data", "error": "1:4: parse error: unexpected <EOF>"},
         "query failed: bad_data: 1:4: parse error"),
        ({"status": "error"}, "query failed: error: no error text"),
        ({"status": "success", "data": {"resultType": "string", "result": [1, "hello"]}}, "result type 'string'"),
        ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]}},
         "is not [time, number]"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_parse_prometheus_errors(document, fragment):
    with pytest.raises(PrometheusError) as info:
        parse_prometheus_response(document)
    assert fragment in str(info.value)


def test_prometheus_vector_judged_end_to_end():
    healthy, detail = judge_samples(parse_prometheus_response(VECTOR), ">=", 0.0)
    assert healthy is True and detail == "2 sample(s) >= 0 (values 0, 1)"


@pytest.mark.parametrize(
    "probe, fragment",
    [
        ({"type": "prometheus", "query": "up", "comparator": "==", "threshold": 1.0}, "prometheus_url None is not"),
        ({"type": "prometheus", "prometheus_url": "127.0.0.1:9090", "query": "up", "comparator": "==",
          "threshold": 1.0}, "is not an http(s) URL"),
        ({"type": "prometheus", "prometheus_url": "http://127.0.0.1:99999", "query": "up", "comparator": "==",
          "threshold": 1.0}, "has a bad port"),
        ({"type": "prometheus", "prometheus_url": "http://h:9090", "comparator": "==", "threshold": 1.0},
         "needs query"),
        ({"type": "prometheus", "prometheus_url": "http://h:9090", "query": "up", "comparator": "=~",
          "threshold": 1.0}, "comparator '=~' is not one of <, <=, >, >=, ==, !="),
        ({"type": "prometheus", "prometheus_url": "http://h:9090", "query": "up", "comparator": "=="},
         "needs threshold"),
    ],
)
def test_prometheus_probe_validation(probe, fragment):
    with pytest.raises(ChaosError) as info:
        validate_probe(probe)
    assert fragment in info.value.msg


# ------------------------------------------------------------------ command probes through a fake runner

class FakeRunner:
    def __init__(self, rc=0, out="", err=""):
        self.answer = (rc, out, err)
        self.calls = []

    def __call__(self, argv, timeout):
        self.calls.append((argv, timeout))
        return self.answer


@pytest.mark.parametrize(
    "answer, extra, healthy, detail",
    [
        ((0, "accepting connections\n", ""), {}, True, "rc 0"),
        ((2, "", "no response\n"), {}, False, "rc 2 (expected 0): no response"),
        ((1, "", ""), {"rc": 1}, True, "rc 1"),
        ((0, "accepting connections", ""), {"stdout_regex": "^accepting"}, True, "rc 0"),
        ((0, "rejecting connections", ""), {"stdout_regex": "^accepting"}, False,
         "rc 0 but stdout does not match '^accepting'"),
        ((124, "", ""), {}, False, "rc 124 (expected 0)"),
    ],
)
def test_command_probe(answer, extra, healthy, detail):
    runner = FakeRunner(*answer)
    probe = validate_probe(dict({"name": "db", "type": "command", "argv": ["pg_isready", "-h", "127.0.0.1"]}, **extra))
    result = run_probe(probe, timeout=1.5, runner=runner)
    assert (result["healthy"], result["detail"], result["rc"]) == (healthy, detail, answer[0])
    assert runner.calls == [(["pg_isready", "-h", "127.0.0.1"], 1.5)]


def test_command_runner_oserror_is_unhealthy():
    def broken(argv, timeout):
        raise FileNotFoundError(2, "No such file or directory", argv[0])

    result = run_probe({"type": "command", "argv": ["nope"]}, runner=broken)
    assert result["healthy"] is False and result["detail"].startswith("FileNotFoundError")


@pytest.mark.parametrize("argv", [None, [], [""], "pg_isready -h x", [1, 2]])
def test_command_probe_needs_argv(argv):
    with pytest.raises(ChaosError, match="a command probe needs argv"):
        validate_probe({"name": "db", "type": "command", "argv": argv})


def test_command_probe_bad_stdout_regex():
    with pytest.raises(ChaosError, match="stdout_regex is not a valid regular expression"):
        validate_probe({"type": "command", "argv": ["true"], "stdout_regex": "("})


def test_command_probe_without_runner_is_an_error():
    with pytest.raises(ChaosError, match="command probes need a command runner"):
        run_probe({"name": "c", "type": "command", "argv": ["true"]})


# ------------------------------------------------------------------ container max_restarts

class _Container:
    def __init__(self, restarts, status="running"):
        self.name = "web"
        self.attrs = {"Id": "c0ffee", "Name": "/web", "RestartCount": restarts,
                      "State": {"Status": status, "Pid": 42}, "Config": {"Labels": {}}}


class _Client:
    def __init__(self, container):
        self.containers = type("C", (), {"get": lambda _self, _id: container})()


@pytest.mark.parametrize(
    "restarts, max_restarts, status, healthy, detail",
    [
        (0, None, "running", True, "running, restart_count 0"),
        (5, None, "running", True, "running, restart_count 5"),
        (2, 2, "running", True, "running, restart_count 2"),
        (3, 2, "running", False, "running but restart_count 3 (above max_restarts 2)"),
        (1, 0, "running", False, "running but restart_count 1 (above max_restarts 0)"),
        (4, 10, "restarting", False, "status restarting, restart_count 4"),
    ],
)
def test_container_max_restarts(restarts, max_restarts, status, healthy, detail):
    probe = validate_probe({"type": "container", "container": "web", "max_restarts": max_restarts})
    result = run_probe(probe, client=_Client(_Container(restarts, status)))
    assert (result["healthy"], result["detail"], result["restart_count"]) == (healthy, detail, restarts)


def test_max_restarts_must_not_be_negative():
    with pytest.raises(ChaosError, match="max_restarts must be 0 or more"):
        validate_probe({"type": "container", "container": "web", "max_restarts": -1})


@pytest.mark.parametrize("probe", [
    {"type": "http", "url": "ftp://u:s3cr3t@h/"},
    {"type": "http", "url": "http://u:s3cr3t@h:99999/"},
    {"type": "http", "url": "http://u:s3cr3t@h:x/"},
    {"type": "prometheus", "prometheus_url": "gopher://u:s3cr3t@h", "query": "up", "comparator": ">", "threshold": 0},
])
def test_a_bad_url_is_refused_without_its_password(probe):
    with pytest.raises(ChaosError) as refused:
        validate_probe(dict(probe, name="p"))
    assert "s3cr3t" not in refused.value.msg and "u:********@h" in refused.value.msg


def test_details_never_carry_url_credentials():
    result = run_probe({"name": "p", "type": "prometheus", "prometheus_url": "http://u:s3cr3t@127.0.0.1:1/?token=t0k",
                        "query": "up", "comparator": ">", "threshold": 0}, timeout=0.5)
    assert result["healthy"] is False
    assert result["detail"].startswith("Prometheus at http://u:********@127.0.0.1:1/?token=******** is unreachable")
