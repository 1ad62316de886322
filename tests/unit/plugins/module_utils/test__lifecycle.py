# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._lifecycle import (
    FAULT_RESULT_KEYS,
    THRESHOLDS,
    VERDICTS,
    experiment_result,
    fault_hits,
    metrics_problems,
    hypothesis_checks,
    number,
    summary_lines,
)


# --- fault_hits -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module, key, item", [
    ("container_chaos", "containers", {"name": "shop-web-1", "service": "web", "compose_service": "web"}),
    ("network_chaos", "faults", {"target": "shop-web-1", "service": "web", "compose_service": "web"}),
    ("resource_stress", "stress", {"target": "shop-web-1", "service": "web", "compose_service": "web"}),
])
def test_fault_hits_reads_each_modules_result_key(module, key, item):
    item = dict(item, deadline=110.0, injected_at=100.0, changed=False)
    assert FAULT_RESULT_KEYS[module] == key
    (hit,) = fault_hits(module, {key: [item]})
    expected = {"target": "shop-web-1", "service": "web", "deadline": 110.0, "injected_at": 100.0, "changed": False}
    assert {k: hit[k] for k in expected} == expected
    # the module's own fields stay beside the common shape (a network fault's backend, a stress's kind)
    assert hit["compose_service"] == "web"


@pytest.mark.parametrize("module, other_key", [
    ("container_chaos", "faults"),
    ("network_chaos", "containers"),
    ("resource_stress", "faults"),
])
def test_fault_hits_ignores_other_modules_keys(module, other_key):
    assert fault_hits(module, {other_key: [{"name": "a"}]}) == []


@pytest.mark.parametrize("item, service", [
    ({"name": "c1", "service": "web", "compose_service": "compose-web"}, "web"),
    ({"name": "c1", "service": None, "compose_service": "compose-web"}, "compose-web"),
    ({"name": "c1", "compose_service": "compose-web"}, "compose-web"),
    ({"name": "c1", "service": "", "compose_service": None}, "c1"),
    ({"name": "c1"}, "c1"),
    ({"target": "eth0"}, "eth0"),
])
def test_fault_hits_service_falls_back_to_compose_service_then_target(item, service):
    assert fault_hits("container_chaos" if "name" in item else "network_chaos",
                      {"containers": [item], "faults": [item]})[0]["service"] == service


def test_fault_hits_defaults():
    hit = fault_hits("container_chaos", {"containers": [{"name": "c1"}]})[0]
    assert hit == {"name": "c1", "target": "c1", "service": "c1", "deadline": None, "injected_at": None,
                   "changed": True}


@pytest.mark.parametrize("module, result", [
    ("container_chaos", None),
    ("container_chaos", {}),
    ("container_chaos", {"containers": None}),
    ("container_chaos", {"containers": []}),
    ("health_probe", {"containers": [{"name": "c1"}]}),
    (None, {"containers": [{"name": "c1"}]}),
])
def test_fault_hits_nothing(module, result):
    assert fault_hits(module, result) == []


# --- number -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, digits, text", [
    (None, 2, "n/a"),
    ("", 2, "n/a"),
    (1.0, 2, "1"),
    (1, 2, "1"),
    (100, 2, "100"),
    (100.0, 0, "100"),
    (10, 0, "10"),
    (0, 2, "0"),
    (0.0, 2, "0"),
    (0.5, 2, "0.5"),
    (3.14159, 2, "3.14"),
    (2.345678, 2, "2.35"),
    (0.333333, 2, "0.33"),
    (0.999, 2, "1"),
    (0.0001, 2, "0"),
    (12.3456, 3, "12.346"),
    (1.96, 0, "2"),
    ("8", 2, "8"),
    ("8.50", 2, "8.5"),
    ("0.987654", 2, "0.99"),
    ("abc", 2, "abc"),
])
def test_number(value, digits, text):
    assert number(value, digits) == text


@pytest.mark.parametrize("value", [0.1, 1.25, 3.14159, 99.999, 12345.678, 1e-9, 7])
def test_number_never_ends_in_a_dot_or_zero_decimals(value):
    text = number(value)
    assert not text.endswith(".")
    assert not re.search(r"\.\d*0$", text)
    assert not re.search(r"\.\d{3,}", text)


# --- hypothesis_checks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hypothesis, values, held", [
    ({"max_recovery_seconds": 15}, (10, None, None), True),
    ({"max_recovery_seconds": 15}, (15, None, None), True),
    ({"max_recovery_seconds": 15}, (15.01, None, None), False),
    ({"max_recovery_seconds": "15"}, ("14.5", None, None), True),
    ({"min_availability": 0.5}, (None, 0.9, None), True),
    ({"min_availability": 0.5}, (None, 0.5, None), True),
    ({"min_availability": 0.5}, (None, 0.49, None), False),
    ({"max_cascade_depth": 1}, (None, None, 1), True),
    ({"max_cascade_depth": 1}, (None, None, 0), True),
    ({"max_cascade_depth": 1}, (None, None, 2), False),
    ({"max_cascade_depth": 0}, (None, None, 0), True),
])
def test_hypothesis_checks_each_threshold(hypothesis, values, held):
    rows = hypothesis_checks(hypothesis, *values)
    assert len(rows) == 1
    row = rows[0]
    key = next(iter(hypothesis))
    assert row["check"] == key
    assert (row["what"], row["comparison"]) == THRESHOLDS[key]
    assert row["threshold"] == float(hypothesis[key])
    assert row["held"] is held


@pytest.mark.parametrize("key", sorted(THRESHOLDS))
@pytest.mark.parametrize("unknown", [None, "", "n/a"])
def test_hypothesis_checks_unknown_value_counts_as_broken(key, unknown):
    rows = hypothesis_checks({key: 1}, unknown, unknown, unknown)
    assert [(r["check"], r["value"], r["held"]) for r in rows] == [(key, None, False)]


@pytest.mark.parametrize("hypothesis", [None, {}, {"max_recovery_seconds": None}, {"min_availability": ""},
                                        {"unrelated": 3}])
def test_hypothesis_checks_missing_thresholds_are_skipped(hypothesis):
    assert hypothesis_checks(hypothesis, 1, 1, 1) == []


def test_hypothesis_checks_all_three_in_order():
    rows = hypothesis_checks({"max_cascade_depth": 2, "min_availability": 0.8, "max_recovery_seconds": 30},
                             12.5, 0.9, 3)
    assert [(r["check"], r["value"], r["held"]) for r in rows] == [
        ("max_recovery_seconds", 12.5, True), ("min_availability", 0.9, True), ("max_cascade_depth", 3.0, False)]


# --- experiment_result ------------------------------------------------------------------------------------------

def gathered_timed(**changes):
    """What the lifecycle gathers for a pause of 8 s that recovered 3.14159 s after its end."""
    base = {
        "experiment_id": "exp-pause-1", "experiment": {"name": "backend-pause"}, "kind": "container",
        "module": "container_chaos", "host": "docker1", "fault": {"action": "pause", "duration": 8}, "timed": True,
        "duration": 8, "safe_mode": False,
        "hits": [{"target": "shop-backend-1", "service": "backend", "deadline": 108.0, "injected_at": 100.0,
                  "changed": True}],
        "reach": [{"service": "backend"}, {"service": "frontend"}], "observed": True,
        "watched": ["backend", "frontend"], "injected_at": 100.0,
        "impact": {"baseline": {"availability": 1.0}, "during": {"availability": 0.333333, "error_rate": 0.666667},
                   "latency_p50_ratio": 2.345678},
        "spread": {"affected": ["backend", "frontend"], "cascade_depth": 1, "mttr_seconds": 11.98765},
        "during": {"availability": 0.333333333, "started_at": 100.0}, "watch": {},
        "recovery": {"recovery_seconds": 3.14159, "met_at_first_poll": False},
        "hypothesis": {"max_recovery_seconds": 15}, "left_active": 0, "leftovers": [],
        "steady_after": {"healthy": True, "health_score": 1.0}, "error": None,
    }
    base.update(changes)
    return base


def gathered_crash(**changes):
    """What the lifecycle gathers for a kill: no duration, MTTR from the spread, availability from the watch."""
    base = gathered_timed(
        experiment_id="exp-kill-1", experiment={"name": "redis-crash"}, fault={"action": "kill"}, timed=False,
        duration=None, hits=[{"target": "shop-redis-1", "service": "redis", "deadline": None, "injected_at": 100.0,
                              "changed": True}],
        impact=None, during={}, watch={"availability": 0.987654321, "started_at": 99.0},
        spread={"affected": ["redis", "backend"], "cascade_depth": 2, "mttr_seconds": 12.34567},
        recovery={"recovery_seconds": 40.5, "met_at_first_poll": True},
        hypothesis={"max_recovery_seconds": 60, "max_cascade_depth": 2})
    base.update(changes)
    return base


def test_timed_fault_counts_recovery_from_its_end():
    result = experiment_result(gathered_timed())
    # the spread's MTTR (from the injection) is not the recovery of a timed fault
    assert result["recovery_seconds"] == 3.14159
    assert result["recovery_counted_from"] == "fault end"
    assert result["recovery_is_upper_bound"] is False
    assert result["recovered"] is True
    assert result["duration"] == 8
    assert result["fault_ended_at"] == 108.0


def test_timed_fault_healthy_at_the_first_poll_is_an_upper_bound():
    result = experiment_result(gathered_timed(recovery={"recovery_seconds": 1.0, "met_at_first_poll": True}))
    assert result["recovery_is_upper_bound"] is True


def test_timed_fault_without_recovery_did_not_recover_even_with_a_spread_mttr():
    result = experiment_result(gathered_timed(recovery={}))
    assert result["recovered"] is False
    assert result["recovery_seconds"] is None
    assert result["recovery_is_upper_bound"] is None


def test_crash_counts_recovery_from_the_injection_with_the_spread_mttr():
    result = experiment_result(gathered_crash())
    assert result["recovery_seconds"] == 12.34567
    assert result["recovery_counted_from"] == "injection"
    assert result["recovery_is_upper_bound"] is False
    assert result["duration"] is None
    assert result["fault_ended_at"] == 100.0


@pytest.mark.parametrize("spread", [None, {}, {"affected": ["redis"], "cascade_depth": 0, "mttr_seconds": None}])
def test_crash_without_a_spread_mttr_falls_back_to_the_recovery(spread):
    result = experiment_result(gathered_crash(spread=spread))
    assert result["recovery_seconds"] == 40.5
    assert result["recovery_counted_from"] == "injection"
    assert result["recovery_is_upper_bound"] is True


@pytest.mark.parametrize("make, window, availability", [
    (gathered_timed, {"during": {"availability": 0.333333333}}, 0.3333),
    (gathered_timed, {"during": {"availability": "0.98765"}}, 0.9877),
    (gathered_timed, {"during": {"availability": 1}}, 1.0),
    (gathered_timed, {"during": {}}, None),
    (gathered_timed, {"during": None}, None),
    # a timed fault reads the window during the fault, not the watch
    (gathered_timed, {"during": {}, "watch": {"availability": 0.5}}, None),
    (gathered_crash, {"watch": {"availability": 0.987654321}}, 0.9877),
    (gathered_crash, {"watch": {"availability": 0.12345}}, 0.1235),
    (gathered_crash, {"watch": {}, "during": {"availability": 0.5}}, None),
])
def test_availability_is_rounded_to_4_places(make, window, availability):
    assert experiment_result(make(**window))["availability_during_fault"] == availability


@pytest.mark.parametrize("make, changes, reason", [
    (gathered_timed, {}, "the hypothesis held"),
    (gathered_timed, {"hypothesis": {}}, "recovered, nothing left behind"),
    (gathered_crash, {}, "the hypothesis held"),
    (gathered_timed, {"steady_after": {}}, "the hypothesis held"),
    (gathered_timed, {"left_active": "0", "leftovers": None}, "the hypothesis held"),
])
def test_verdict_pass(make, changes, reason):
    result = experiment_result(make(**changes))
    assert (result["verdict"], result["reason"]) == ("PASS", reason)


@pytest.mark.parametrize("changes, reason", [
    ({"recovery": {}, "hypothesis": {}}, "the services did not recover"),
    ({"left_active": 1}, "1 fault(s) were still active after the experiment"),
    ({"leftovers": [{"target": "shop-backend-1"}, {"target": "shop-backend-2"}]},
     "2 fault(s) were still active after the experiment"),
    ({"left_active": "1", "leftovers": [{"target": "x"}]}, "2 fault(s) were still active after the experiment"),
    ({"steady_after": {"healthy": False, "health_score": 0.5}}, "the steady state did not hold after the rollback"),
    ({"hypothesis": {"max_recovery_seconds": 2}}, "time to recover 3.14 broke the hypothesis (<= 2)"),
    ({"hypothesis": {"min_availability": 0.5}}, "availability during the fault 0.33 broke the hypothesis (>= 0.5)"),
    ({"hypothesis": {"max_cascade_depth": 0}}, "cascade depth 1 broke the hypothesis (<= 0)"),
    ({"recovery": {}, "hypothesis": {"max_recovery_seconds": 15}},
     "the services did not recover; time to recover n/a broke the hypothesis (<= 15)"),
    ({"left_active": 1, "steady_after": {"healthy": False}},
     "1 fault(s) were still active after the experiment; the steady state did not hold after the rollback"),
])
def test_verdict_fail(changes, reason):
    result = experiment_result(gathered_timed(**changes))
    assert (result["verdict"], result["reason"]) == ("FAIL", reason)


@pytest.mark.parametrize("error, reason", [
    ({"aborted": True, "msg": "availability 0.1 fell below 0.2"}, "availability 0.1 fell below 0.2"),
    ({"aborted": True}, "failed"),
    ({"aborted": True, "msg": ""}, "failed"),
])
def test_verdict_aborted(error, reason):
    result = experiment_result(gathered_timed(error=error, recovery={}))
    assert (result["verdict"], result["reason"]) == ("ABORTED", reason)
    assert result["hypothesis_checks"] == []
    assert result["error"] == error


@pytest.mark.parametrize("changes, reason", [
    ({"error": {"msg": "docker is not answering"}}, "docker is not answering"),
    ({"error": {"aborted": False, "msg": "boom"}}, "boom"),
    ({"error": {"aborted": False}}, "failed"),
    ({"error": {"msg": "boom"}, "hits": []}, "boom"),
    ({"hits": []}, "the fault was not injected"),
    ({"hits": None, "recovery": {}}, "the fault was not injected"),
])
def test_verdict_error(changes, reason):
    result = experiment_result(gathered_timed(**changes))
    assert (result["verdict"], result["reason"]) == ("ERROR", reason)


def test_error_outranks_a_failure():
    result = experiment_result(gathered_timed(error={"aborted": True, "msg": "stop"}, left_active=2,
                                              steady_after={"healthy": False}))
    assert result["verdict"] == "ABORTED"
    assert result["left_active_after_experiment"] == 2


def test_unobserved_run_has_no_checks_and_does_not_fail_for_recovery():
    result = experiment_result(gathered_timed(observed=False, watched=[], recovery={}, spread=None))
    assert result["observed"] is False
    assert result["hypothesis_checks"] == []
    assert result["verdict"] == "PASS"


def test_unobserved_pass_does_not_claim_it_recovered():
    result = experiment_result(gathered_timed(observed=False, watched=[], recovery={}, spread=None))
    assert result["recovered"] is False
    assert not re.match(r"recovered\b", result["reason"])


def test_result_shape():
    result = experiment_result(gathered_timed(safe_mode="yes", left_active=1, leftovers=[{"t": 1}]))
    assert result["verdict"] in VERDICTS
    assert result["safe_mode"] is True
    assert result["left_active_after_experiment"] == 2
    assert result["steady_state_after"] is True
    assert result["health_score_after"] == 1.0
    assert result["observed_from"] == 100.0
    assert result["cascade_depth"] == 1
    assert result["hit"][0]["target"] == "shop-backend-1"
    assert [r["check"] for r in result["hypothesis_checks"]] == ["max_recovery_seconds"]


def test_result_of_an_almost_empty_gathering():
    result = experiment_result({})
    assert (result["verdict"], result["reason"]) == ("ERROR", "the fault was not injected")
    assert result["fault"] == {} and result["hit"] == [] and result["error"] is None
    assert result["recovered"] is False and result["recovery_is_upper_bound"] is None


# --- summary_lines ----------------------------------------------------------------------------------------------

EMPTY_VALUE = [
    re.compile(r"->\s*(,|\)|$)"),          # "availability 1.0 -> ,"
    re.compile(r":\s*(,|\)|$)"),           # "Hit: " / "Verdict: X ()"
    re.compile(r"\(\s*\)"),
    re.compile(r",\s*(,|\)|$)"),
    re.compile(r"\bin\s+s\b"),             # "Recovered in  s"
    re.compile(r"\bx\s*(,|$)"),            # "p50 latency x"
]
UNROUNDED = re.compile(r"\d\.\d{3,}")


def assert_clean(lines):
    assert lines, "no summary"
    for line in lines:
        assert line, "an empty line"
        assert line == line.strip(), "surrounding spaces in %r" % line
        assert "None" not in line, line
        assert "  " not in line, line
        assert not UNROUNDED.search(line), "unrounded float in %r" % line
        for pattern in EMPTY_VALUE:
            assert not pattern.search(line), "empty value (%s) in %r" % (pattern.pattern, line)


ABORTED_NO_RECOVERY = dict(
    error={"aborted": True, "msg": "availability 0.1 fell below 0.2", "task": "Observe"}, recovery={},
    impact={"baseline": {"availability": 1.0}, "during": {"availability": None}}, spread=None, during={},
    steady_after={})

RUNS = [
    pytest.param(gathered_timed(hypothesis={"min_availability": 0.5}), "FAIL", id="timed-fail-threshold"),
    pytest.param(gathered_timed(hypothesis={"max_recovery_seconds": 15, "min_availability": 0.2,
                                            "max_cascade_depth": 1}), "PASS", id="timed-pass"),
    pytest.param(gathered_timed(recovery={"recovery_seconds": 0.00012, "met_at_first_poll": True}), "PASS",
                 id="timed-pass-first-poll"),
    pytest.param(gathered_timed(hypothesis={}, impact=None, spread=None), "PASS", id="timed-pass-bare"),
    pytest.param(gathered_crash(), "PASS", id="crash-pass"),
    pytest.param(gathered_crash(spread=None, hypothesis={"max_recovery_seconds": 60}), "PASS",
                 id="crash-pass-recovery-fallback"),
    # no spread: the cascade depth is unknown, which breaks max_cascade_depth
    pytest.param(gathered_crash(spread=None), "FAIL", id="crash-fail-unknown-depth"),
    pytest.param(gathered_timed(recovery={}), "FAIL", id="not-recovered"),
    pytest.param(gathered_timed(left_active=1, leftovers=[{"target": "x"}]), "FAIL", id="leftovers"),
    pytest.param(gathered_timed(steady_after={"healthy": False, "health_score": 0.5}), "FAIL", id="steady-after"),
    pytest.param(gathered_timed(spread={"affected": [], "cascade_depth": None}), "PASS", id="spread-unknown-depth"),
    pytest.param(gathered_timed(impact={"baseline": {}, "during": {"availability": 0.5}}), "PASS",
                 id="impact-unknown-baseline"),
    pytest.param(gathered_timed(**ABORTED_NO_RECOVERY), "ABORTED", id="aborted-no-recovery"),
    pytest.param(gathered_timed(error={"aborted": True, "msg": "stop"}), "ABORTED", id="aborted-recovered"),
    pytest.param(gathered_crash(error={"aborted": True, "msg": "stop"}, recovery={}, spread=None, watch={}),
                 "ABORTED", id="aborted-crash"),
    pytest.param(gathered_timed(error={"msg": "boom"}, hits=[], recovery={}, impact=None, spread=None, during={}),
                 "ERROR", id="error-nothing-injected"),
    pytest.param(gathered_timed(error={}, hits=[], recovery={}, impact=None, spread=None, during={}), "ERROR",
                 id="not-injected"),
    pytest.param(gathered_timed(error={"aborted": False}, recovery={}), "ERROR", id="error-without-msg"),
    pytest.param(gathered_timed(observed=False, watched=[], recovery={}, spread=None, impact=None, during={}),
                 "PASS", id="unobserved"),
    pytest.param(gathered_timed(experiment={}, experiment_id="exp-2", duration="8.0",
                                fault={"loss": {"percent": 50}, "duration": "8.0"}, kind="network",
                                module="network_chaos"), "PASS",
                 id="network-nested-fault"),
]


@pytest.mark.parametrize("gathered, verdict", RUNS)
@pytest.mark.parametrize("result_path", [None, "/srv/results/exp.json"])
def test_summary_lines_are_complete_and_rounded(gathered, verdict, result_path):
    result = experiment_result(gathered)
    assert result["verdict"] == verdict
    lines = summary_lines(result, result_path)
    assert_clean(lines)
    assert lines[-1] == ("Full result: %s" % result_path if result_path else "Verdict: %s (%s)"
                         % (verdict, result["reason"]))


def test_every_verdict_is_covered_by_the_summary_runs():
    assert {p.values[1] for p in RUNS} == set(VERDICTS)


def test_summary_of_an_aborted_run_without_recovery():
    lines = summary_lines(experiment_result(gathered_timed(**ABORTED_NO_RECOVERY)))
    assert lines == [
        "Experiment exp-pause-1 (backend-pause): container action=pause, duration=8 for 8 s",
        "Hit: shop-backend-1",
        "Watched: backend, frontend",
        "Recovery: not measured (the experiment ended early)",
        "Faults left active after the experiment: 0",
        "Verdict: ABORTED (availability 0.1 fell below 0.2)",
    ]


def test_summary_of_a_timed_run():
    lines = summary_lines(experiment_result(gathered_timed(hypothesis={"max_recovery_seconds": 15,
                                                                       "min_availability": 0.5})), "/r.json")
    assert lines == [
        "Experiment exp-pause-1 (backend-pause): container action=pause, duration=8 for 8 s",
        "Hit: shop-backend-1",
        "Watched: backend, frontend",
        "Recovered in 3.14 s after the fault end (the fault itself lasted 8 s)",
        "Affected: backend, frontend (cascade depth 1)",
        "Impact while it lasted: availability 1 -> 0.33, error rate 0.67, p50 latency x2.35",
        "Hypothesis: time to recover <= 15: held (3.14)",
        "Hypothesis: availability during the fault >= 0.5: BROKE (0.33)",
        "Faults left active after the experiment: 0",
        "Verdict: FAIL (availability during the fault 0.33 broke the hypothesis (>= 0.5))",
        "Full result: /r.json",
    ]


@pytest.mark.parametrize("gathered, recovery_line", [
    (gathered_crash(), "Recovered in 12.35 s after the injection"),
    (gathered_crash(spread=None), "Healthy at the first check, at most 40.5 s after the injection"),
    (gathered_timed(recovery={"recovery_seconds": 0.4, "met_at_first_poll": True}),
     "Healthy at the first check, at most 0.4 s after the fault end (the fault itself lasted 8 s)"),
    (gathered_timed(recovery={}), "Did not recover within the recovery timeout"),
    (gathered_timed(observed=False, recovery={}),
     "Recovery: not measured (unobserved: no health check covers a service the fault can reach)"),
    (gathered_timed(error={"msg": "x"}, recovery={}), "Recovery: not measured (the experiment ended early)"),
])
def test_summary_recovery_line(gathered, recovery_line):
    assert summary_lines(experiment_result(gathered))[3] == recovery_line


def test_summary_of_a_crash_has_no_duration_and_names_the_cascade():
    lines = summary_lines(experiment_result(gathered_crash()))
    assert lines[0] == "Experiment exp-kill-1 (redis-crash): container action=kill"
    assert "Affected: redis, backend (cascade depth 2)" in lines
    assert not any(line.startswith("Impact") for line in lines)


@pytest.mark.parametrize("bad_line", [
    "Impact while it lasted: availability 1.0 -> , error rate n/a",
    "Recovered  s after the fault end",
    "Recovered in s after the injection",
    "Recovered in 3.14159 s after the fault end",
    "Hit: ",
    "Verdict: ERROR (None)",
    "Verdict: ERROR ()",
    "Affected: a, , b (cascade depth 1)",
])
def test_the_summary_checker_catches_the_old_mistakes(bad_line):
    with pytest.raises(AssertionError):
        assert_clean([bad_line])


@pytest.mark.parametrize("registered, problems", [
    ({"skipped": True}, []),
    ({"changed": True, "metrics": {"enabled": True, "pushgateway": {"sent": True, "error": None},
                                   "textfile": {"written": False, "error": None}}}, []),
    ({"metrics": {"enabled": True, "pushgateway": {"sent": False, "error": "connection refused"},
                  "grafana": {"sent": False, "error": "Grafana refused the token (401)"}}},
     ["pushgateway not sent: connection refused", "grafana not sent: Grafana refused the token (401)"]),
    ({"failed": False, "msg": "missing prometheus-client"}, ["chaos_metrics failed: missing prometheus-client"]),
])
def test_metrics_problems_names_each_sink_that_did_not_receive(registered, problems):
    assert metrics_problems(registered) == problems


def test_summary_says_whether_metrics_were_sent():
    result = experiment_result(gathered_crash())
    assert not any(line.startswith("Metrics") for line in summary_lines(result))
    result["metrics"] = {"enabled": True, "problems": []}
    assert "Metrics: sent" in summary_lines(result)
    result["metrics"] = {"enabled": True, "problems": ["pushgateway not sent: refused"]}
    assert "Metrics: pushgateway not sent: refused" in summary_lines(result)


def test_the_result_carries_no_secret():
    result = experiment_result(gathered_timed(
        fault={"action": "pause", "duration": 8, "webhook": "https://hooks.slack.com/services/T1/B2/s3cr3tS3cr3t"},
        error={"task": "Observe", "msg": "unhealthy: api: Prometheus at http://u:s3cr3t@p:9090 is unreachable",
               "aborted": False},
        hypothesis={"max_recovery_seconds": 15, "api_token": "s3cr3t"}))
    assert "s3cr3t" not in repr(result)
    assert result["fault"]["webhook"] == "https://hooks.slack.com/services/T1/B2/********"
    assert result["error"]["msg"] == "unhealthy: api: Prometheus at http://u:********@p:9090 is unreachable"
    assert result["reason"] == result["error"]["msg"]  # the verdict's reason comes from the redacted error too
    assert result["hypothesis"] == {"max_recovery_seconds": 15, "api_token": "********"}
    assert metrics_problems({"msg": "refused http://u:s3cr3t@p/"}) == ["chaos_metrics failed: refused http://u:********@p/"]
