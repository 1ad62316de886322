#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_guard
short_description: Decide whether it is safe to inject faults now
version_added: 0.1.0
description:
  - Pre-flight and in-flight safety check for chaos experiments, run on the host that will be hit.
    It never changes anything.
  - It only reads. It writes no file, not even in O(state_dir), which it only looks into for the emergency-stop
    flag (a folder that does not exist is not created); host load comes from C(/proc), containers from the
    Docker engine. It needs no root (only access to the Docker engine when O(planned_targets) or container
    probes are given).
  - "It checks: the share of healthy probes, the host's CPU and memory use, the maintenance windows,
    the emergency-stop flag, whether a planned target is protected, and, in safe mode, how many targets
    and how long the fault would last."
  - Every failed check adds one sentence to RV(reasons); with O(fail_on_unsafe=true) the task fails
    listing all of them.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
extends_documentation_fragment:
  - sutazai.chaos.docker
  - sutazai.chaos.probes
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  idempotent:
    support: full
    description: Changes nothing (the verdict can change as the system does).
options:
  min_healthy_ratio:
    description: Fraction (0 to 1) of O(probes) that must be healthy. Without probes this check is skipped.
    type: float
    default: 0.8
  probe_timeout:
    description: Seconds each probe may take.
    type: float
    default: 2.0
  max_cpu_percent:
    description: Ceiling for the host's busy CPU share, in percent, measured over O(cpu_sample_seconds).
    type: float
    default: 85.0
  cpu_sample_seconds:
    description: How long the host CPU is sampled.
    type: float
    default: 0.5
  max_memory_percent:
    description: Ceiling for the host's used memory (MemTotal minus MemAvailable), in percent.
    type: float
    default: 90.0
  maintenance_windows:
    description:
      - When faults may be injected. A window whose O(maintenance_windows[].end) is before its
        O(maintenance_windows[].start) crosses midnight and belongs to the day it starts.
    type: list
    elements: dict
    default: []
    suboptions:
      days:
        description: Days the window opens (V(mon) ... V(sun)); all days when not given.
        type: list
        elements: str
      start:
        description: Opening time, V(HH:MM) on the wall clock of O(maintenance_windows[].timezone).
        type: str
        required: true
      end:
        description: Closing time, V(HH:MM) (excluded).
        type: str
        required: true
      timezone:
        description: IANA time zone of the times, for example V(Europe/Berlin).
        type: str
        default: UTC
  require_window:
    description: Unsafe outside every maintenance window. When false, RV(in_window) is only reported.
    type: bool
    default: false
  now:
    description: An ISO 8601 timestamp that replaces the clock (for tests and replays); without an offset it is UTC.
    type: str
  state_dir:
    description: Folder of the ledger on the host, where the emergency-stop flag lives.
    type: path
    default: /var/lib/sutazai-chaos
  protected:
    description:
      - Container names, services or globs that must never be a target.
      - A container's service is its compose service, else its C(sutazai.chaos.service) label, else its name.
    type: list
    elements: str
    default: []
  planned_targets:
    description:
      - Container names or services the experiment plans to hit. Each is checked against
        O(protected) both as a name and, when the engine has containers of that name or service, as
        those containers (so their service and C(sutazai.chaos.protected) label count).
    type: list
    elements: str
    default: []
  planned_duration:
    description: Seconds the planned fault would last (checked in O(safe_mode)).
    type: float
  safe_mode:
    description: Also cap the number of planned targets and the planned duration.
    type: bool
    default: false
  max_targets_in_safe_mode:
    description: Most planned targets allowed in O(safe_mode).
    type: int
    default: 1
  max_duration_in_safe_mode:
    description: Longest O(planned_duration) in seconds allowed in O(safe_mode).
    type: float
    default: 60.0
  fail_on_unsafe:
    description: Fail the task, listing every reason, when the verdict is unsafe.
    type: bool
    default: true
seealso:
  - module: sutazai.chaos.health_probe
  - module: sutazai.chaos.chaos_emergency_stop
"""

EXAMPLES = r"""
- name: Only in the Berlin night window, with a healthy stack and postgres untouched
  sutazai.chaos.chaos_guard:
    probes:
      - {name: backend, type: http, url: "http://127.0.0.1:18000/health"}
      - {name: redis, type: tcp, host: 127.0.0.1, port: 16379}
    min_healthy_ratio: 1.0
    maintenance_windows:
      - {days: [mon, wed, fri], start: "02:00", end: "04:00", timezone: Europe/Berlin}
    require_window: true
    protected: [postgres]
    planned_targets: [redis]

- name: Ask without failing, then decide
  sutazai.chaos.chaos_guard:
    safe_mode: true
    planned_targets: "{{ chosen }}"
    planned_duration: 30
    fail_on_unsafe: false
  register: guard
"""

RETURN = r"""
safe:
  description: Whether every check passed (skipped checks count as passed).
  returned: always
  type: bool
reasons:
  description: One sentence per failed check.
  returned: always
  type: list
  elements: str
  sample: ["only 2 of 3 probes are healthy (ratio 0.67, below min_healthy_ratio 0.8): db: ConnectionRefusedError"]
checks:
  description: Each check's figure, limit and verdict (V(pass), V(fail) or V(skipped)), by name.
  returned: always
  type: dict
  sample: {"cpu": {"figure": 12.5, "limit": 85.0, "verdict": "pass", "detail": null}}
in_window:
  description: Whether now is inside a maintenance window (null when none are given).
  returned: always
  type: bool
now:
  description: The moment judged, ISO 8601.
  returned: always
  type: str
probes:
  description: The result of each probe.
  returned: always
  type: list
  elements: dict
"""

import os

from ..module_utils._common import ChaosError
from ..module_utils._docker import DOCKER_ARG_SPEC, HAS_DOCKER, connect, list_containers
from ..module_utils._guard import evaluate
from ..module_utils._ledger import DEFAULT_STATE_DIR, STOP_FLAG, Ledger
from ..module_utils._module import build_module, exit_or_fail
from ..module_utils._probe_types import PROBES_ARG_SPEC, command_runner
from ..module_utils._probes import run_all, validate_probe
from ..module_utils._redact import mask_in_module
from ..module_utils._stress import host_cpu_percent, host_memory

OWN_SPEC = dict(
    min_healthy_ratio=dict(type="float", default=0.8),
    probe_timeout=dict(type="float", default=2.0),
    max_cpu_percent=dict(type="float", default=85.0),
    cpu_sample_seconds=dict(type="float", default=0.5),
    max_memory_percent=dict(type="float", default=90.0),
    maintenance_windows=dict(type="list", elements="dict", default=[], options=dict(
        days=dict(type="list", elements="str"),
        start=dict(type="str", required=True),
        end=dict(type="str", required=True),
        timezone=dict(type="str", default="UTC"),
    )),
    require_window=dict(type="bool", default=False),
    now=dict(type="str"),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
    protected=dict(type="list", elements="str", default=[]),
    planned_targets=dict(type="list", elements="str", default=[]),
    planned_duration=dict(type="float"),
    safe_mode=dict(type="bool", default=False),
    max_targets_in_safe_mode=dict(type="int", default=1),
    max_duration_in_safe_mode=dict(type="float", default=60.0),
    fail_on_unsafe=dict(type="bool", default=True),
)


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, PROBES_ARG_SPEC, supports_check_mode=True)
    params = module.params
    mask_in_module(module, params["probes"])  # the no_log URLs shown again, but for their credentials
    probe_results = []

    def engine_containers():
        # Best effort: names are still checked as given when no engine answers.
        if not HAS_DOCKER:
            return None
        try:
            return list_containers(connect(params))
        except ChaosError:
            return None

    def measure_probes():
        if not probes:
            return []
        client = connect(params) if any(p["type"] == "container" for p in probes) else None
        _all, _score, results = run_all(probes, client, params["probe_timeout"], command_runner(module, probes))
        probe_results.extend(results)
        return results

    def body():
        if params["cpu_sample_seconds"] <= 0 or params["probe_timeout"] <= 0:
            raise ChaosError("cpu_sample_seconds and probe_timeout must be above 0")
        if params["cpu_sample_seconds"] > 60:
            raise ChaosError("cpu_sample_seconds must be at most 60 (a preflight that waits longer is no preflight), "
                             "got %s" % params["cpu_sample_seconds"])
        probes[:] = [validate_probe(dict(p, name=p.get("name") or "probe-%d" % i))
                     for i, p in enumerate(params["probes"])]
        ledger = Ledger(params["state_dir"])
        verdict = evaluate(params, {
            "probes": measure_probes,
            "cpu": lambda: host_cpu_percent(params["cpu_sample_seconds"]),
            "memory": lambda: host_memory()[1],
            "stop_flag": ledger.stop_flag_set,
            "stop_flag_path": os.path.join(params["state_dir"], STOP_FLAG),
            "containers": engine_containers,
        })
        result = dict(changed=False, probes=probe_results, **verdict)
        if not verdict["safe"] and params["fail_on_unsafe"]:
            raise ChaosError("unsafe to inject (%d check(s) failed): %s. Nothing was changed."
                             % (len(verdict["reasons"]), "; ".join(verdict["reasons"])), **result)
        return result

    probes = []
    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
