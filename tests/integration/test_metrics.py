# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Metrics for real: catalogue experiments on the demo stack push their outcome to a real Pushgateway (and
node_exporter textfiles, and a Grafana stand-in), a real Prometheus scrapes it with the shipped
monitoring/prometheus.yml and rules, and every query of every panel of the shipped dashboard is evaluated
through Prometheus' HTTP API and must give a non-empty, sensible answer.

Grafana itself cannot be installed here: a local HTTP server records the annotation requests it would get.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import yaml

from conftest import REPO, active_entries
from prometheus_fixture import PrometheusServer, free_port, instant_query
from test_run_experiment import demo_stack, playbook  # noqa: F401 pylint: disable=unused-import

sys.path.insert(0, str(REPO / "tests" / "unit" / "monitoring"))
from dashboard import annotation_queries, load_dashboard, panel_queries  # noqa: E402 pylint: disable=import-error

PUSHGATEWAY = "/usr/bin/prometheus-pushgateway"
STRICT = """---
name: redis-crash-strict
description: Crash redis and demand a recovery within 10 ms, which nothing can do (a FAIL on purpose).
kind: container
targets: {services: [redis], max_targets: 1}
fault: {action: kill}
hypothesis: {max_recovery_seconds: 0.01}
observe: {recovery_timeout: 60}
"""


def _get(url, timeout=2.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # only ever 127.0.0.1
        return response.read().decode()


def wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("%s: not seen within %s s" % (what, timeout))


class Recorder(BaseHTTPRequestHandler):
    """A Grafana stand-in: records every request; answers 200 with an id, or 401 when told to."""

    status = 200
    seen = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body or b"{}")})
        answer = {"id": len(self.seen), "message": "Annotation added"} if self.status == 200 else {
            "message": "invalid API key"}
        raw = json.dumps(answer).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *_args):
        pass


def grafana_stand_in(status):
    handler = type("Grafana%d" % status, (Recorder,), {"status": status, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler.seen


@pytest.fixture(scope="module")
def monitoring(tmp_path_factory):
    """A Pushgateway and a Prometheus run with the shipped configuration and rules (ports on 127.0.0.1)."""
    for binary in (PUSHGATEWAY, "/usr/bin/prometheus"):
        if not os.access(binary, os.X_OK):
            pytest.skip("%s is missing (scripts/setup.sh installs it)" % binary)
    folder = tmp_path_factory.mktemp("monitoring")
    push_port, prom_port = free_port(), free_port()
    gateway = subprocess.Popen([PUSHGATEWAY, "--web.listen-address=127.0.0.1:%d" % push_port],
                               stdin=subprocess.DEVNULL, stdout=open(folder / "pushgateway.log", "wb"),
                               stderr=subprocess.STDOUT)
    push_url = "http://127.0.0.1:%d" % push_port
    wait(lambda: "push_time_seconds" in _get(push_url + "/metrics") or _get(push_url + "/-/ready") is not None,
         30, "the Pushgateway answering")
    shutil.copy(REPO / "monitoring" / "chaos-rules.yml", folder / "chaos-rules.yml")
    config = yaml.safe_load((REPO / "monitoring" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(folder / "chaos-rules.yml")]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["pushgateway"]["honor_labels"] is True
    jobs["pushgateway"]["static_configs"] = [{"targets": ["127.0.0.1:%d" % push_port]}]
    config["scrape_configs"] = [jobs["pushgateway"]]  # no node_exporter here: the textfiles are parsed instead
    (folder / "prom").mkdir()
    server = PrometheusServer(folder / "prom", prom_port, config=config)
    try:
        server.start()
        yield {"push": push_url, "prometheus": server.url, "folder": folder}
    finally:
        server.stop()
        gateway.terminate()
        gateway.wait(timeout=15)


def metrics_vars(monitoring, textfile_dir, grafana_url, token):
    return ["-e", "chaos_metrics_pushgateway_url=%s" % monitoring["push"],
            "-e", "chaos_metrics_textfile_dir=%s" % textfile_dir,
            "-e", "chaos_grafana_url=%s" % grafana_url, "-e", "chaos_grafana_token=%s" % token]


def result_of(report_dir, name):
    found = [json.loads(p.read_text()) for p in report_dir.glob("*.json") if not p.name.startswith("journal-")]
    found = [r for r in found if (r.get("experiment") or {}).get("name") == name]
    assert len(found) == 1, "expected one result of %s in %s" % (name, report_dir)
    return found[0]


def gauge(text, name, **labels):
    """The value of one series in a text exposition (Pushgateway /metrics), or None."""
    for line in text.splitlines():
        if line.startswith(name + "{") and all('%s="%s"' % kv in line for kv in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_experiments_are_counted_and_every_panel_answers(monitoring, demo_stack, state_dir, tmp_path):
    textfiles = tmp_path / "textfiles"
    textfiles.mkdir()
    grafana, annotations = grafana_stand_in(200)
    refusing, refused = grafana_stand_in(401)
    token = "glsa_it_%s" % os.urandom(4).hex()

    # While the PASS run lasts, its in-progress gauge must read 1 on the Pushgateway.
    seen_in_progress = []

    def watch():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not seen_in_progress:
            try:
                if gauge(_get(monitoring["push"] + "/metrics"), "chaos_experiment_in_progress",
                         experiment="redis-crash") == 1.0:
                    seen_in_progress.append(time.time())
            except OSError:
                pass
            time.sleep(0.1)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    passed = playbook("run_experiment.yml", "-e", "experiment=redis-crash",
                      *metrics_vars(monitoring, textfiles, "http://127.0.0.1:%d" % grafana.server_port, token),
                      state_dir=state_dir, report_dir=tmp_path / "pass")
    watcher.join(timeout=5)
    assert passed.returncode == 0, passed.stdout[-4000:] + passed.stderr[-2000:]
    strict = tmp_path / "redis-crash-strict.yml"
    strict.write_text(STRICT)
    failed = playbook("run_experiment.yml", "-e", "experiment=%s" % strict,
                      *metrics_vars(monitoring, textfiles, "http://127.0.0.1:%d" % refusing.server_port, token),
                      state_dir=state_dir, report_dir=tmp_path / "fail")
    assert failed.returncode == 0, failed.stdout[-4000:] + failed.stderr[-2000:]
    grafana.shutdown()
    refusing.shutdown()

    # The results say what the sinks received; a Grafana that refuses the token loses nothing.
    ok, bad = result_of(tmp_path / "pass", "redis-crash"), result_of(tmp_path / "fail", "redis-crash-strict")
    assert (ok["verdict"], bad["verdict"]) == ("PASS", "FAIL")
    assert ok["metrics"]["problems"] == [] and ok["metrics"]["pushgateway"]["sent"] is True
    assert any("grafana" in p and "401" in p for p in bad["metrics"]["problems"]), bad["metrics"]
    assert bad["metrics"]["pushgateway"]["sent"] is True
    assert token not in passed.stdout + failed.stdout, "the Grafana token was printed"
    assert active_entries(state_dir) == []
    assert seen_in_progress, "the in-progress gauge never read 1 while the experiment ran"

    # The Grafana stand-in got one region annotation: the fault window, in ms, tagged, with the token.
    assert len(annotations) == 1 and len(refused) == 1
    request = annotations[0]
    assert request["path"] == "/api/annotations"
    assert request["headers"]["Authorization"] == "Bearer %s" % token
    body = request["body"]
    assert body["time"] == pytest.approx(ok["injected_at"] * 1000, abs=1)
    assert body["timeEnd"] >= body["time"] and body["timeEnd"] < time.time() * 1000
    assert {"experiment:redis-crash", "kind:container", "target:redis"} <= set(body["tags"])

    # The textfiles node_exporter would read: atomic *.prom files that parse, with the counts.
    from prometheus_client.parser import text_string_to_metric_families  # pylint: disable=import-outside-toplevel
    proms = sorted(p.name for p in textfiles.glob("*.prom"))
    assert "sutazai_chaos_redis-crash.prom" in proms or any("redis-crash" in p for p in proms), proms
    families = {f.name: f for p in textfiles.glob("*.prom") for f in text_string_to_metric_families(p.read_text())}
    assert "chaos_experiments" in families or "chaos_experiments_total" in families, sorted(families)

    # Prometheus scraped the Pushgateway: one PASS and one FAIL counted, nothing in progress.
    prom = monitoring["prometheus"]

    def counted():
        runs = instant_query(prom, 'sum by (experiment, verdict) (chaos_experiments_total) > 0')
        return {(r["metric"]["experiment"], r["metric"]["verdict"]) for r in runs} >= {
            ("redis-crash", "PASS"), ("redis-crash-strict", "FAIL")}
    wait(counted, 30, "both runs in Prometheus")
    assert instant_query(prom, "sum(chaos_experiment_in_progress)")[0]["value"][1] == "0"
    wait(lambda: instant_query(prom, "chaos:experiment_failure_ratio:1d"), 30, "the recording rules")

    # Every query of every panel and annotation of the shipped dashboard: non-empty and finite.
    dashboard = load_dashboard()
    queries = panel_queries(dashboard) + [("annotation " + name, "-", expr)
                                          for name, expr in annotation_queries(dashboard)]
    assert len({title for title, _ref, _expr in panel_queries(dashboard)}) == 6
    answers = {}
    for title, ref, expr in queries:
        series = instant_query(prom, expr)
        assert series, "panel %r query %s is empty: %s" % (title, ref, expr)
        values = [float(s["value"][1]) for s in series]
        assert all(math.isfinite(v) for v in values), (title, ref, expr, values)
        answers[(title, ref)] = values
    success = [v for (title, _ref), vs in answers.items() if title.lower().startswith("success") for v in vs]
    assert success and all(0 < v < 1 for v in success), "one PASS and one FAIL: a success rate strictly between"
    health = [v for (title, _ref), vs in answers.items() if "health" in title.lower() for v in vs]
    assert health and all(0 <= v <= 1 for v in health)
