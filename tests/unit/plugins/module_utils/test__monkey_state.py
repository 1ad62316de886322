# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.sutazai.chaos.plugins.module_utils._monkey_state import (
    decision_history,
    guard_view,
    last_hits,
    last_verdicts,
    opted_out_services,
    tick_inputs,
)


def guard(ratio, cpu, memory, stop=False):
    return {"checks": {"healthy_ratio": {"figure": ratio}, "cpu": {"figure": cpu}, "memory": {"figure": memory},
                       "emergency_stop": {"figure": stop, "verdict": "fail" if stop else "pass"}}}


def test_last_hits_keep_the_latest_injection_per_service_on_any_host():
    events = [
        {"event": "inject", "time": 100.0, "target": {"service": "redis", "name": "demo_redis_1"}},
        {"event": "revert", "time": 400.0, "target": {"service": "redis"}},
        {"event": "inject", "time": 300.0, "target": {"compose_service": "redis", "name": "other_redis_1"}},
        {"event": "inject", "time": 200.0, "target": {"name": "lonely"}},
        {"event": "emergency_stop", "time": 500.0, "target": None},
    ]
    assert last_hits(events) == {"redis": 300.0, "lonely": 200.0}


def test_last_verdicts_are_the_latest_outcome_per_target():
    events = [
        {"event": "monkey_outcome", "time": 2.0, "target": "redis", "verdict": "FAIL"},
        {"event": "monkey_outcome", "time": 1.0, "target": "redis", "verdict": "PASS"},
        {"event": "monkey_outcome", "time": 3.0, "target": "backend", "verdict": "PASS"},
        {"event": "monkey_decision", "time": 4.0, "target": "backend", "decision": "run"},
    ]
    assert last_verdicts(events) == {"redis": "FAIL", "backend": "PASS"}


def test_a_decision_recorded_on_every_host_counts_once():
    decision = {"event": "monkey_decision", "schedule": "nightly", "slot": "2026-12-02T02:30:00+01:00",
                "decision": "run"}
    other = dict(decision, slot="2026-12-03T02:30:00+01:00", time=9.0)
    history = decision_history([dict(decision, time=5.0), dict(decision, time=5.1), other])
    assert [d["slot"] for d in history] == [decision["slot"], other["slot"]]


def test_the_guard_view_is_the_worst_host():
    view = guard_view([guard(1.0, 20.0, 40.0), guard(0.5, 90.0, 30.0), {"checks": {}}])
    assert view == {"healthy_ratio": 0.5, "cpu_percent": 90.0, "memory_percent": 40.0}
    assert guard_view([]) == {"healthy_ratio": None, "cpu_percent": None, "memory_percent": None}


def test_opted_out_services_come_from_labelled_containers_only():
    containers = [
        {"Names": ["/demo_redis_1"], "Labels": {"sutazai.chaos.opt-out": "true",
                                                "com.docker.compose.service": "redis"}},
        {"Names": ["/worker"], "Labels": {"sutazai.chaos.opt-out": "True", "sutazai.chaos.service": "jobs"}},
        {"Names": ["/api"], "Labels": {"sutazai.chaos.opt-out": "false"}},
    ]
    assert opted_out_services(containers) == ["demo_redis_1", "jobs", "redis", "worker"]


def test_tick_inputs_say_stop_when_any_host_has_the_flag():
    inputs = tick_inputs([guard(1.0, 1.0, 1.0), guard(1.0, 1.0, 1.0, stop=True)], [], [])
    assert inputs["emergency_stop"] is True
    assert inputs["history"] == [] and inputs["last_hits"] == {} and inputs["opted_out"] == []
    assert tick_inputs([guard(1.0, 1.0, 1.0)], [], [])["emergency_stop"] is False
