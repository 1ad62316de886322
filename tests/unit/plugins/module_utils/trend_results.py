# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Synthetic experiment results with a known truth, for the trend page and retention tests (unit and integration).

Each result is a real demo run's result (backend-pause, 2026-12-01) with its name, time, service, verdict and
recovery changed. Plain Python (no pytest): the integration test loads this file by its path.
"""

from __future__ import annotations

import copy
import datetime
import json
import os

NOW = "2026-12-01T12:00:00Z"      # a Tuesday; ISO week 2026-W49 began on Monday 2026-11-30
CATALOGUE = ["api-timeout", "backend-pause", "never-run", "network-chaos", "redis-crash"]

# A real result (playbooks/run_experiment.yml -e experiment=backend-pause on the demo stack), its polls cut short.
REAL = {
    "schema_version": 1, "availability_during_fault": 0.4, "cascade_depth": 1, "duration": 8, "error": None,
    "experiment": {"description": "Freeze the backend for 8 s.", "file": "experiments/backend-pause.yml",
                   "name": "backend-pause", "tags": ["container", "pause"]},
    "experiment_id": "backend-pause-20261201T061121-9cc6de", "fault": {"action": "pause", "duration": 8},
    "fault_ended_at": 1796105498.0018737, "health_score_after": 1.0,
    "hit": [{"action": "pause", "changed": True, "compose_service": "backend", "deadline": 1796105498.0018737,
             "injected_at": 1796105489.9729915, "name": "sutazai-demo_backend_1", "service": "backend",
             "state_after": "paused", "state_before": "running", "target": "sutazai-demo_backend_1"}],
    "host": "localhost", "hypothesis": {"max_cascade_depth": 1, "max_recovery_seconds": 15},
    "hypothesis_checks": [], "impact": None, "injected_at": 1796105489.9729915, "kind": "container",
    "left_active_after_experiment": 0, "leftovers": [], "metrics": {"enabled": False},
    "module": "container_chaos", "observed": True, "observed_from": 1796105490.888785,
    "reach": [{"depth": 0, "service": "backend"}, {"depth": 1, "service": "frontend"}],
    "reason": "the hypothesis held", "recovered": True, "recovery_counted_from": "fault end",
    "recovery_is_upper_bound": True, "recovery_seconds": 2.062, "safe_mode": False,
    "spread": {"affected": ["backend", "frontend"], "cascade_depth": 1, "faulted": "backend", "mttr_seconds": 8.266,
               "per_service": {"backend": {"availability": 0.4, "depth": 0, "healthy": 2, "polls": 5},
                               "frontend": {"availability": 0.4, "depth": 1, "healthy": 2, "polls": 5}},
               "surprises": {"not_isolated": [], "unexpected": []}, "unaffected": []},
    "steady_state_after": True,
    "timeline": {"events": [{"at": 1796105489.9729915, "detail": "sutazai-demo_backend_1", "event": "injected"}],
                 "samples": {"backend": [[1796105486.048, "ok", 70.2], [1796105490.889, "none", 2079.8]]},
                 "services": ["backend"], "windows": []},
    "verdict": "PASS", "watched": ["backend", "frontend"],
}

# (UTC time, catalogue name or None for an ad hoc run, kind, service, verdict, recovery seconds or None, upper bound)
RUNS = [
    ("2026-10-01T02:00", "network-chaos", "network", "redis", "PASS", 2.2, False),     # 0  W40
    ("2026-11-09T02:00", "backend-pause", "container", "backend", "PASS", 2.0, True),  # 1  W46
    ("2026-11-10T02:00", "redis-crash", "container", "redis", "PASS", 1.5, False),     # 2  W46
    ("2026-11-11T02:00", "network-chaos", "network", "redis", "FAIL", 9.0, False),     # 3  W46
    ("2026-11-16T02:00", "backend-pause", "container", "backend", "FAIL", 12.0, False),  # 4 W47
    ("2026-11-17T02:00", "redis-crash", "container", "redis", "PASS", 1.2, False),     # 5  W47
    ("2026-11-16T03:00", "api-timeout", "dependency", "backend", "PASS", 3.0, True),   # 6  W47
    ("2026-11-30T02:00", "backend-pause", "container", "backend", "PASS", 2.5, False),  # 7 W49
    ("2026-11-30T03:00", "redis-crash", "container", None, "ERROR", None, None),       # 8  W49, never injected
    ("2026-11-30T04:00", None, "container", "redis", "PASS", 0.8, False),              # 9  W49, ad hoc
    ("2026-12-01T02:00", "redis-crash", "container", "redis", "PASS", 1.0, False),     # 10 W49
    ("2026-12-01T03:00", "network-chaos", "network", "redis", "ABORTED", None, None),  # 11 W49, not recovered
    ("2026-12-01T04:00", "backend-pause", "container", "backend", "PASS", 4.0, True),  # 12 W49
]


def epoch(text):
    return datetime.datetime.fromisoformat(text).replace(tzinfo=datetime.timezone.utc).timestamp()


def experiment_id(index, shift=0):
    """The id of RUNS[index] (its time moved by shift seconds), as the lifecycle names a run."""
    when, name, kind = RUNS[index][:3]
    moment = datetime.datetime.fromtimestamp(epoch(when) + shift, datetime.timezone.utc)
    stamp = moment.strftime("%Y%m%dT%H%M%S")
    return "%s-%s-%06x" % (name or kind + "-kill", stamp, index)


def result(index, shift=0):
    """The result of RUNS[index], its times moved by shift seconds (to be as old, at another NOW)."""
    when, name, kind, service, verdict, recovery, upper_bound = RUNS[index]
    data = copy.deepcopy(REAL)
    at = epoch(when) + shift
    data.update(experiment_id=experiment_id(index, shift), kind=kind, verdict=verdict, injected_at=at if service else None,
                observed_from=at + 1, recovery_seconds=recovery, recovered=recovery is not None,
                recovery_is_upper_bound=upper_bound, reason="synthetic run %d" % index)
    data["experiment"] = dict(data["experiment"], name=name) if name else None
    if service:
        data["hit"] = [dict(data["hit"][0], service=service, compose_service=service, injected_at=at,
                            name="sutazai-demo_%s_1" % service, target="sutazai-demo_%s_1" % service)]
        data["spread"] = dict(data["spread"], faulted=service)
    else:
        data.update(hit=[], spread=None, error="the target was not found")
    return data


def results():
    return [result(index) for index in range(len(RUNS))]


def write_results(folder, indexes=None, shift=0):
    """Write the results (all, or those of indexes) as <experiment_id>.json into folder; returns their paths."""
    paths = []
    for index in range(len(RUNS)) if indexes is None else indexes:
        data = result(index, shift)
        path = os.path.join(str(folder), data["experiment_id"] + ".json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
        paths.append(path)
    return paths
