# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""monitoring/ without a running server: promtool checks the config and rules and runs the rules' unit
tests; the dashboard is checked against Grafana's schema (grafana-foundation-sdk) and our own rules; every
metric named anywhere is one the collection produces. Queries against real data: the integration test."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dashboard import (  # noqa: E402 pylint: disable=wrong-import-position,import-error
    REPO_ROOT, annotation_queries, load_dashboard, panel_queries, schema_problems,
)

MONITORING = os.path.join(REPO_ROOT, "monitoring")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
needs_promtool = pytest.mark.skipif(not os.access(PROMTOOL, os.X_OK),
                                    reason="promtool is missing (make setup installs Debian's prometheus)")

# The metrics contract (plugins/module_utils/_metrics.py produces them; the Pushgateway adds push_time_seconds).
CONTRACT = {
    "chaos_experiments_total", "chaos_experiments_success_total",
    "chaos_recovery_time_seconds_bucket", "chaos_recovery_time_seconds_sum", "chaos_recovery_time_seconds_count",
    "chaos_system_health_score", "chaos_cascade_depth", "chaos_availability_during_fault_ratio",
    "chaos_service_availability_ratio", "chaos_experiment_in_progress",
    "chaos_experiment_start_timestamp_seconds", "chaos_experiment_end_timestamp_seconds",
    "chaos_fault_window_start_timestamp_seconds", "chaos_fault_window_end_timestamp_seconds",
    "chaos_experiment_last_success", "chaos_faults_active", "chaos_faults_overdue",
    "chaos_metrics_last_push_timestamp_seconds", "push_time_seconds",
}
ALERTS = {"ChaosExperimentFailureRateHigh", "ChaosRecoverySlow", "ChaosSystemHealthLow", "ChaosCascadeDeep",
          "ChaosMetricsStale", "ChaosExperimentStuck", "ChaosFaultPastDeadline"}
# title: (panel type, unit)
PANELS = {
    "Active experiments": ("stat", "none"),
    "Success rate": ("stat", "percentunit"),
    "Recovery time": ("timeseries", "s"),
    "System health": ("gauge", "percentunit"),
    "Per-service impact": ("bargauge", "percentunit"),
    "Chaos timeline": ("state-timeline", "none"),
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def promtool(*args):
    proc = subprocess.run([PROMTOOL, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, "promtool %s: rc %s\n%s%s" % (" ".join(args), proc.returncode, proc.stdout, proc.stderr)
    return proc.stdout


def load_rules():
    with open(os.path.join(MONITORING, "chaos-rules.yml"), encoding="utf-8") as handle:
        return [rule for group in yaml.safe_load(handle)["groups"] for rule in group["rules"]]


def metric_names(expr):
    return set(re.findall(r"\b(chaos_[a-z0-9_]+|push_time_seconds)\b", expr))


def recorded_names(expr):
    return set(re.findall(r"\bchaos:[a-z0-9_:]+", expr))


@pytest.fixture(scope="module", name="board")
def fixture_board():
    return load_dashboard()


# --- Prometheus: promtool --------------------------------------------------------------------------------------

@needs_promtool
def test_prometheus_config_is_valid():
    promtool("check", "config", "monitoring/prometheus.yml")


@needs_promtool
def test_rules_are_valid():
    promtool("check", "rules", "monitoring/chaos-rules.yml")


@needs_promtool
def test_rule_unit_tests_pass():
    promtool("test", "rules", "monitoring/chaos-rules.test.yml")


def test_every_alert_is_there_with_severity_summary_and_description():
    alerts = {rule["alert"]: rule for rule in load_rules() if "alert" in rule}
    assert set(alerts) == ALERTS
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), name
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], name


def test_every_alert_has_a_unit_test():
    with open(os.path.join(MONITORING, "chaos-rules.test.yml"), encoding="utf-8") as handle:
        tests = yaml.safe_load(handle)["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
              if case.get("exp_alerts")}
    silent = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])
              if not case.get("exp_alerts")}
    assert tested == ALERTS, "alerts never seen firing in chaos-rules.test.yml: %s" % (ALERTS - tested)
    # each firing test also holds series at the threshold that must stay silent; ChaosRecoverySlow and
    # ChaosExperimentStuck additionally have a time at which nothing fires
    assert {"ChaosRecoverySlow", "ChaosExperimentStuck"} <= silent


def test_rules_read_only_contract_metrics_and_their_own_records():
    rules = load_rules()
    records = {rule["record"] for rule in rules if "record" in rule}
    for rule in rules:
        assert metric_names(rule["expr"]) <= CONTRACT, (rule.get("alert") or rule["record"], rule["expr"])
        assert recorded_names(rule["expr"]) <= records, (rule.get("alert") or rule["record"], rule["expr"])


# --- Grafana dashboard -----------------------------------------------------------------------------------------

def test_dashboard_conforms_to_grafanas_schema(board):
    pytest.importorskip("grafana_foundation_sdk", reason="grafana-foundation-sdk is missing: "
                        ".venv/bin/pip install -r requirements.txt (make setup does)")
    assert schema_problems(board) == []


def test_dashboard_has_the_six_panels(board):
    assert sorted(panel["title"] for panel in board["panels"]) == sorted(PANELS)
    assert len({panel["id"] for panel in board["panels"]}) == len(PANELS)


@pytest.mark.parametrize("title", sorted(PANELS))
def test_panel_has_type_unit_description_and_our_datasource(board, title):
    (panel,) = [p for p in board["panels"] if p["title"] == title]
    kind, unit = PANELS[title]
    assert panel["type"] == kind
    assert panel["fieldConfig"]["defaults"]["unit"] == unit
    assert len(panel["description"]) > 40
    assert panel["datasource"] == DATASOURCE
    assert panel["targets"]
    for target in panel["targets"]:
        assert target["datasource"] == DATASOURCE, target["refId"]
        assert target["expr"].strip() and target["legendFormat"], target["refId"]
    grid = panel["gridPos"]
    assert grid["x"] + grid["w"] <= 24 and grid["h"] > 0


def test_ratio_panels_are_bounded_0_to_1(board):
    for panel in board["panels"]:
        if panel["fieldConfig"]["defaults"]["unit"] == "percentunit":
            defaults = panel["fieldConfig"]["defaults"]
            assert (defaults["min"], defaults["max"]) == (0, 1), panel["title"]
    (health,) = [p for p in board["panels"] if p["title"] == "System health"]
    steps = health["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [step["value"] for step in steps] == [None, 0.8]  # the ChaosSystemHealthLow threshold


def test_template_variables(board):
    variables = {var["name"]: var for var in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    experiment = variables["experiment"]
    assert experiment["type"] == "query" and experiment["datasource"] == DATASOURCE
    assert experiment["query"] == "label_values(chaos_experiments_total, experiment)"
    assert experiment["includeAll"] and experiment["allValue"] == ".*"


def test_annotation_query_reads_the_metrics(board):
    queries = annotation_queries(board)
    assert queries, "no annotation query reads Prometheus"
    for annotation in board["annotations"]["list"]:
        if "expr" in annotation:
            assert annotation["datasource"] == DATASOURCE and annotation["useValueForTime"]


def test_panel_queries_leave_no_grafana_variable(board):
    queries = panel_queries(board)
    assert len(queries) >= len(PANELS)
    for title, ref, expr in queries + [(name, "annotation", expr) for name, expr in annotation_queries(board)]:
        assert "$" not in expr, (title, ref, expr)


def test_dashboard_reads_only_contract_metrics_and_no_recording_rules(board):
    # No recording rules: the dashboard also works on a Prometheus that does not load chaos-rules.yml.
    exprs = [expr for _title, _ref, expr in panel_queries(board)] + [e for _n, e in annotation_queries(board)]
    exprs += [var["query"] for var in board["templating"]["list"] if var["type"] == "query"]
    for expr in exprs:
        assert metric_names(expr) and metric_names(expr) <= CONTRACT, expr
        assert not recorded_names(expr), expr


@needs_promtool
def test_every_dashboard_query_parses(board, tmp_path):
    # promtool check rules parses each expression as PromQL; a query that does not parse fails it.
    queries = [expr for _title, _ref, expr in panel_queries(board)] + [e for _n, e in annotation_queries(board)]
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:query_%d" % index, "expr": expr} for index, expr in enumerate(queries)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules))
    promtool("check", "rules", str(path))


def test_readme_names_every_alert_and_panel():
    with open(os.path.join(MONITORING, "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    missing = [name for name in sorted(ALERTS) + sorted(PANELS) if name not in readme]
    assert not missing, "monitoring/README.md does not mention %s" % missing
