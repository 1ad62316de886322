# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _metrics
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._ledger import Ledger, new_entry

prometheus_client = pytest.importorskip("prometheus_client")
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402 pylint: disable=wrong-import-position

PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
NOW = 1_796_086_100.0

# A lifecycle result as written to results/*.json (trimmed).
RESULT = {
    "experiment_id": "container-kill-20261201T004739-ecfff7",
    "experiment": None,
    "kind": "container",
    "host": "localhost",
    "hit": [{"service": "redis", "target": "sutazai-demo_redis_1", "id": "71da78c9b799bca32e804c08f01724e1"}],
    "verdict": "PASS",
    "recovery_seconds": 1.367,
    "cascade_depth": 2,
    "health_score_after": 1.0,
    "availability_during_fault": 0.9459,
    "injected_at": 1796086067.3024755,
    "fault_ended_at": 1796086069.5,
    "observed_from": 1796086064.4648852,
    "duration": None,
    "spread": {"per_service": {"redis": {"availability": 0.973, "depth": 0},
                               "backend": {"availability": 0.5, "depth": 1}}},
}


def run(n, **changes):
    """RESULT as run number ``n`` (its own experiment_id), with changes."""
    result = copy.deepcopy(RESULT)
    result["experiment_id"] = "container-kill-20261201T0047%02d-%06x" % (n % 60, n)
    result.update(changes)
    return result


def params(tmp_path, **changes):
    base = {"result": run(1), "phase": "end", "instance": "web1", "state_dir": str(tmp_path / "state"),
            "pushgateway_url": None, "pushgateway_job": "sutazai_chaos", "timeout": 2.0, "textfile_dir": None,
            "grafana_url": None, "delete_group": False, "required": False, "validate_certs": True}
    base.update(changes)
    return base


def textfile_params(tmp_path, **changes):
    folder = tmp_path / "textfile"
    folder.mkdir(exist_ok=True)
    return params(tmp_path, textfile_dir=str(folder), **changes)


def samples(text):
    """{(name, frozenset(labels)): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(text, name, **labels):
    found = [v for (n, lab), v in samples(text).items()
             if n == name and all(dict(lab).get(k) == x for k, x in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return found[0]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ names


@pytest.mark.parametrize("given, result, expected", [
    ("my-exp", RESULT, "my-exp"),
    (None, RESULT, "container-kill"),
    (None, dict(RESULT, experiment={"name": "redis-crash"}), "redis-crash"),
    (None, {"experiment_id": "dependency-api_timeout-20261130T224620-6e7bff"}, "dependency-api_timeout"),
    (None, {"experiment_id": "adhoc-20261130T224620-6e7bff"}, "adhoc"),
    (None, {"experiment_id": "no-suffix"}, "no-suffix"),
    (None, {"experiment_id": "kill-20261130T224620-6e7bff-20261130T224620-6e7bff"}, "kill-20261130T224620-6e7bff"),
    ("API timeout / v2", None, "API-timeout-v2"),
    ("../../etc", None, "etc"),
])
def test_experiment_name(given, result, expected):
    assert _metrics.experiment_name(given, result) == expected


@pytest.mark.parametrize("given, result", [(None, None), (None, {"experiment": None}), ("///", None), ("host", None)])
def test_experiment_name_refused(given, result):
    with pytest.raises(ChaosError, match="Nothing was changed"):
        _metrics.experiment_name(given, result)


@pytest.mark.parametrize("result, kind, service, expected", [
    (RESULT, None, None, ("container", "redis")),
    (RESULT, "network", "db", ("network", "db")),
    ({"kind": None, "hit": []}, None, None, ("none", "none")),
    ({"kind": "stress", "hit": "not a list"}, None, None, ("stress", "none")),
    (None, "container", "web", ("container", "web")),
])
def test_series_key(result, kind, service, expected):
    assert _metrics.series_key(result, kind, service) == expected


# ------------------------------------------------------------------ accumulation


def test_two_runs_accumulate_and_every_verdict_is_present(tmp_path):
    _metrics.record(textfile_params(tmp_path, result=run(1)), now=NOW)
    out = _metrics.record(textfile_params(tmp_path, result=run(2, verdict="FAIL", recovery_seconds=None)), now=NOW)
    text = out["metrics"]["exposition"]["experiment"]
    assert value(text, "chaos_experiments_total", verdict="PASS") == 1
    assert value(text, "chaos_experiments_total", verdict="FAIL") == 1
    assert value(text, "chaos_experiments_total", verdict="ABORTED") == 0
    assert value(text, "chaos_experiments_total", verdict="ERROR") == 0
    assert value(text, "chaos_experiments_success_total") == 1
    assert value(text, "chaos_experiment_last_success") == 0
    assert value(text, "chaos_recovery_time_seconds_count") == 1  # the FAIL run measured no recovery
    out = _metrics.record(textfile_params(tmp_path, result=run(3)), now=NOW)
    text = out["metrics"]["exposition"]["experiment"]
    assert value(text, "chaos_experiments_total", verdict="PASS") == 2
    assert value(text, "chaos_experiment_last_success") == 1
    assert out["metrics"]["counted"] is True


def test_a_result_is_counted_once(tmp_path):
    first = _metrics.record(textfile_params(tmp_path), now=NOW)
    again = _metrics.record(textfile_params(tmp_path), now=NOW)
    assert first["metrics"]["counted"] and not again["metrics"]["counted"]
    assert value(again["metrics"]["exposition"]["experiment"], "chaos_experiments_total", verdict="PASS") == 1


def test_unknown_verdict_counts_as_error_with_a_warning(tmp_path):
    out = _metrics.record(textfile_params(tmp_path, result=run(1, verdict="MAYBE")), now=NOW)
    assert value(out["metrics"]["exposition"]["experiment"], "chaos_experiments_total", verdict="ERROR") == 1
    assert any("MAYBE" in w for w in out["warnings"])


def test_recovery_buckets(tmp_path):
    observed = [0.5, 1.0, 1.5, 45.0, 1800.0, 5000.0, None, "soon"]
    for n, seconds in enumerate(observed):
        out = _metrics.record(textfile_params(tmp_path, result=run(n, recovery_seconds=seconds)), now=NOW)
    text = out["metrics"]["exposition"]["experiment"]
    expected = {"1.0": 2, "2.0": 3, "5.0": 3, "10.0": 3, "30.0": 3, "60.0": 4, "120.0": 4, "300.0": 4, "600.0": 4,
                "1800.0": 5, "+Inf": 6}
    for le, count in expected.items():
        assert value(text, "chaos_recovery_time_seconds_bucket", le=le) == count
    assert value(text, "chaos_recovery_time_seconds_count") == 6
    assert value(text, "chaos_recovery_time_seconds_sum") == pytest.approx(6848.0)
    assert value(text, "chaos_experiments_total", verdict="PASS") == len(observed)


def test_last_run_gauges_and_omitted_nulls(tmp_path):
    out = _metrics.record(textfile_params(tmp_path), now=NOW)
    text = out["metrics"]["exposition"]["experiment"]
    assert value(text, "chaos_system_health_score") == 1.0
    assert value(text, "chaos_cascade_depth") == 2
    assert value(text, "chaos_availability_during_fault_ratio") == 0.9459
    assert value(text, "chaos_service_availability_ratio", service="backend") == 0.5
    assert value(text, "chaos_fault_window_start_timestamp_seconds") == RESULT["injected_at"]
    assert value(text, "chaos_fault_window_end_timestamp_seconds") == RESULT["fault_ended_at"]
    assert value(text, "chaos_experiment_start_timestamp_seconds") == RESULT["observed_from"]
    assert value(text, "chaos_experiment_end_timestamp_seconds") == NOW
    assert value(text, "chaos_experiment_in_progress") == 0
    out = _metrics.record(textfile_params(tmp_path, result=run(2, health_score_after=None, spread=None,
                                                               availability_during_fault=None)), now=NOW)
    names = {name for name, _labels in samples(out["metrics"]["exposition"]["experiment"])}
    assert not names & {"chaos_system_health_score", "chaos_availability_during_fault_ratio",
                        "chaos_service_availability_ratio"}


ALLOWED_LABELS = {"kind", "service", "verdict", "experiment", "le"}
LOOKS_LIKE_A_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
LOOKS_LIKE_AN_ID = re.compile(r"([0-9a-f]{12,}|\d{8}T\d{6})")


def test_label_sets_are_bounded(tmp_path):
    for n, (verdict, service) in enumerate([("PASS", "redis"), ("FAIL", "backend"), ("ERROR", "redis")]):
        hits = [{"service": service, "id": "%064x" % n, "target": "c%d" % n}]
        out = _metrics.record(textfile_params(tmp_path, result=run(n, verdict=verdict, hit=hits)), now=NOW + n)
    for text in out["metrics"]["exposition"].values():
        for (name, labels), _value in samples(text).items():
            labels = dict(labels)
            assert set(labels) <= ALLOWED_LABELS, (name, labels)
            for label, label_value in labels.items():
                if label == "le":
                    continue
                assert not LOOKS_LIKE_A_NUMBER.match(label_value), (name, labels)
                assert not LOOKS_LIKE_AN_ID.search(label_value), (name, labels)
    series = {dict(labels)["service"] for (name, labels) in samples(out["metrics"]["exposition"]["experiment"])
              if name == "chaos_experiments_total"}
    assert series == {"redis", "backend"}


# ------------------------------------------------------------------ phases, sinks, check mode


def test_start_then_end(tmp_path):
    _metrics.record(textfile_params(tmp_path, result=run(1)), now=NOW)
    start = textfile_params(tmp_path, result=None, phase="start", experiment="container-kill", kind="container",
                            service="redis", started_at=NOW + 10)
    out = _metrics.record(start, now=NOW + 10)
    text = out["metrics"]["exposition"]["experiment"]
    assert value(text, "chaos_experiment_in_progress") == 1
    assert value(text, "chaos_experiment_start_timestamp_seconds") == NOW + 10
    assert value(text, "chaos_experiments_total", verdict="PASS") == 1, "a start push keeps the totals"
    out = _metrics.record(textfile_params(tmp_path, result=run(2)), now=NOW + 20)
    text = out["metrics"]["exposition"]["experiment"]
    assert value(text, "chaos_experiment_in_progress") == 0
    assert value(text, "chaos_experiment_start_timestamp_seconds") == NOW + 10
    assert value(text, "chaos_experiments_total", verdict="PASS") == 2


@pytest.mark.parametrize("changes, needs", [
    ({"phase": "start", "result": None, "kind": "container"}, "experiment, service"),
    ({"phase": "end", "result": None}, "needs result"),
    ({"result": ["not", "a", "dict"]}, "result must be"),
    ({"instance": ""}, "instance"),
])
def test_bad_input_fails_clearly(tmp_path, changes, needs):
    with pytest.raises(ChaosError, match=needs):
        _metrics.record(textfile_params(tmp_path, **changes), now=NOW)
    assert not os.path.exists(tmp_path / "state")


def test_metrics_off(tmp_path):
    out = _metrics.record(params(tmp_path), now=NOW)
    assert out["changed"] is False and out["metrics"]["enabled"] is False and "off" in out["msg"]
    assert not os.path.exists(tmp_path / "state")


def test_check_mode_writes_nothing(tmp_path):
    out = _metrics.record(textfile_params(tmp_path), check_mode=True, now=NOW)
    assert out["changed"] is True
    assert "chaos_experiments_total" in out["metrics"]["exposition"]["experiment"]
    assert out["metrics"]["textfile"]["written"] is False
    assert os.listdir(tmp_path / "textfile") == [] and not os.path.exists(tmp_path / "state")


def test_textfile_parses_back(tmp_path):
    _metrics.record(textfile_params(tmp_path, result=run(1)), now=NOW)
    out = _metrics.record(textfile_params(tmp_path, result=run(2)), now=NOW)
    assert out["metrics"]["textfile"]["written"] is True
    folder = tmp_path / "textfile"
    assert sorted(os.listdir(folder)) == ["sutazai_chaos_container-kill.prom", "sutazai_chaos_host.prom"]
    text = (folder / "sutazai_chaos_container-kill.prom").read_text()
    assert value(text, "chaos_experiments_total", experiment="container-kill", kind="container", service="redis",
                 verdict="PASS") == 2
    assert all(dict(labels).get("experiment") == "container-kill" for _n, labels in samples(text))
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["chaos_experiments"].type == "counter" and families["chaos_recovery_time_seconds"].type == "histogram"
    assert all(f.documentation for f in families.values())
    host = (folder / "sutazai_chaos_host.prom").read_text()
    assert value(host, "chaos_faults_active") == 0 and value(host, "chaos_metrics_last_push_timestamp_seconds") == NOW


@pytest.mark.parametrize("folder", ["missing", "a-file"])
def test_bad_textfile_dir_is_a_warning(tmp_path, folder):
    (tmp_path / "a-file").write_text("")
    out = _metrics.record(params(tmp_path, textfile_dir=str(tmp_path / folder)), now=NOW)
    assert out["metrics"]["textfile"]["written"] is False and "is not a folder" in out["metrics"]["textfile"]["error"]
    assert out["warnings"] == [out["metrics"]["textfile"]["error"]]
    assert out["metrics"]["counted"] is True, "the counts are kept for the next push"


def test_host_figures_from_the_ledger(tmp_path):
    ledger = Ledger(str(tmp_path / "state"))
    now = time.time()
    with ledger.locked() as entries:
        for deadline in (now - 60, now - 10, now + 60, None):
            entry = new_entry("e1", "container_pause", {"name": "c"}, {}, [], 1)
            entry["deadline"] = deadline
            entries.append(entry)
        entries.append(dict(new_entry("e0", "container_pause", {"name": "c"}, {}, [], 1), state="reverted"))
    assert _metrics.host_figures(str(tmp_path / "state"), now) == (4, 1)


def test_state_file_is_written_atomically_and_locked(tmp_path):
    """Eight records at once, each from its own thread: none is lost, no temporary file is left."""
    errors = []

    def one(n):
        try:
            _metrics.record(textfile_params(tmp_path, result=run(n)), now=NOW)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            errors.append(exc)

    (tmp_path / "textfile").mkdir()
    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    folder = tmp_path / "state" / "metrics"
    assert sorted(os.listdir(folder)) == ["container-kill.json", "container-kill.lock"]
    data = json.loads((folder / "container-kill.json").read_text())
    assert data["instances"]["web1"]["series"][0]["verdicts"]["PASS"] == 8


def test_unreadable_state_is_moved_aside(tmp_path):
    folder = tmp_path / "state" / "metrics"
    folder.mkdir(parents=True)
    (folder / "container-kill.json").write_text("{not json")
    out = _metrics.record(textfile_params(tmp_path), now=NOW)
    assert any("unreadable" in w for w in out["warnings"])
    assert any(name.startswith("container-kill.json.corrupt-") for name in os.listdir(folder))
    assert value(out["metrics"]["exposition"]["experiment"], "chaos_experiments_total", verdict="PASS") == 1


@pytest.mark.parametrize("url", ["ftp://pg:9091", "pg:9091", "http://", "http://u:p@pg:9091", "http://pg:x",
                                 "http://pg:9091/?a=b"])
def test_bad_pushgateway_url(tmp_path, url):
    out = _metrics.record(params(tmp_path, pushgateway_url=url), now=NOW)
    assert out["metrics"]["pushgateway"]["sent"] is False
    assert "pushgateway_url" in out["metrics"]["pushgateway"]["error"] and out["warnings"]
    with pytest.raises(ChaosError, match="Nothing was changed"):
        _metrics.record(params(tmp_path, pushgateway_url=url, required=True, state_dir=str(tmp_path / "other")),
                        now=NOW)
    assert not os.path.exists(tmp_path / "other")


def test_unreachable_pushgateway_is_a_warning(tmp_path):
    url = "http://127.0.0.1:%d" % free_port()
    out = _metrics.record(params(tmp_path, pushgateway_url=url, timeout=1.0), now=NOW)
    assert out["metrics"]["pushgateway"]["sent"] is False
    assert "unreachable" in out["metrics"]["pushgateway"]["error"] and out["warnings"]
    with pytest.raises(ChaosError, match="counts are kept") as raised:
        _metrics.record(params(tmp_path, pushgateway_url=url, result=run(2), required=True), now=NOW)
    assert raised.value.details["changed"] is True


# ------------------------------------------------------------------ a real Pushgateway


@pytest.fixture(scope="module")
def pushgateway():
    if not os.access(PUSHGATEWAY, os.X_OK):
        pytest.skip("%s is missing (Debian package prometheus-pushgateway)" % PUSHGATEWAY)
    port = free_port()
    process = subprocess.Popen([PUSHGATEWAY, "--web.listen-address=127.0.0.1:%d" % port, "--persistence.file="],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = "http://127.0.0.1:%d" % port
    try:
        for _attempt in range(100):
            try:
                urllib.request.urlopen(url + "/-/ready", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.skip("the Pushgateway did not start on %s" % url)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def scrape(url):
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        return response.read().decode("utf-8")


def test_real_pushgateway(tmp_path, pushgateway):
    start = params(tmp_path, result=None, phase="start", experiment="container-kill", kind="container",
                   service="redis", pushgateway_url=pushgateway)
    _metrics.record(start, now=NOW)
    text = scrape(pushgateway)
    assert value(text, "chaos_experiment_in_progress", instance="web1", experiment="container-kill") == 1
    for n in (1, 2):
        out = _metrics.record(params(tmp_path, result=run(n), pushgateway_url=pushgateway), now=NOW)
        assert out["metrics"]["pushgateway"]["sent"] is True and not out["warnings"]
    text = scrape(pushgateway)
    labels = {"job": "sutazai_chaos", "instance": "web1", "experiment": "container-kill"}
    assert value(text, "chaos_experiments_total", verdict="PASS", **labels) == 2
    assert value(text, "chaos_experiments_total", verdict="ABORTED", **labels) == 0
    assert value(text, "chaos_experiment_in_progress", **labels) == 0
    assert value(text, "chaos_recovery_time_seconds_count", **labels) == 2
    assert value(text, "chaos_faults_active", job="sutazai_chaos", instance="web1") == 0
    assert value(text, "push_time_seconds", **labels) > 0
    assert out["metrics"]["pushgateway"]["groups"] == [labels, {"job": "sutazai_chaos", "instance": "web1"}]

    gone = _metrics.record(params(tmp_path, result=None, experiment="container-kill", delete_group=True,
                                  pushgateway_url=pushgateway), now=NOW)
    assert gone["metrics"]["pushgateway"]["deleted"] is True
    # The Pushgateway answers a DELETE with 202 Accepted and applies it from its write queue a moment later
    # (a scrape right after it still showed the group once, in CI): wait for it, a few seconds at most.
    deadline = time.monotonic() + 5
    text = scrape(pushgateway)
    while 'experiment="container-kill"' in text and time.monotonic() < deadline:
        time.sleep(0.05)
        text = scrape(pushgateway)
    assert 'experiment="container-kill"' not in text
    assert value(text, "chaos_faults_active", job="sutazai_chaos", instance="web1") == 0, "the host group stays"


def test_pushgateway_auth_and_headers_reach_the_server(tmp_path):
    """A stand-in that records the request: method, path, basic auth and the extra header."""
    seen = []
    import http.server  # pylint: disable=import-outside-toplevel

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_PUT(self):  # pylint: disable=invalid-name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            seen.append((self.command, self.path, self.headers, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = "http://127.0.0.1:%d/prefix/" % server.server_address[1]
        out = _metrics.record(params(tmp_path, pushgateway_url=url, pushgateway_username="u", pushgateway_password="p",
                                     pushgateway_headers={"X-Scope-OrgID": "chaos"}), now=NOW)
    finally:
        server.shutdown()
        server.server_close()
    assert out["metrics"]["pushgateway"]["sent"] is True
    (method, path, headers, body), (_m, host_path, _h, _b) = seen
    assert method == "PUT"
    assert path == "/prefix/metrics/job/sutazai_chaos/experiment/container-kill/instance/web1"
    assert host_path == "/prefix/metrics/job/sutazai_chaos/instance/web1"
    assert headers["Authorization"] == "Basic dTpw" and headers["X-Scope-OrgID"] == "chaos"
    assert headers["Content-Type"].startswith("text/plain")
    assert b"chaos_experiments_total{" in body and b"experiment=" not in body


def test_missing_library_is_a_warning_unless_required(tmp_path, monkeypatch):
    monkeypatch.setattr(_metrics, "HAS_PROMETHEUS_CLIENT", False)
    out = _metrics.record(textfile_params(tmp_path), now=NOW)
    assert "prometheus-client" in out["metrics"]["textfile"]["error"] and out["metrics"]["counted"] is True
    with pytest.raises(ChaosError, match="prometheus-client"):
        _metrics.record(textfile_params(tmp_path, required=True), now=NOW)
