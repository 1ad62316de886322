#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: health_probe
short_description: Probe services (HTTP, TCP, container, command, Prometheus) once, or until healthy, and time it
version_added: 0.1.0
description:
  - Runs health probes from the host the module runs on. Never changes anything.
  - It only reads. It writes no file, not even in O(state_dir), which it only looks into for the emergency-stop
    flag (a folder that does not exist is not created); V(command) probes run the command given, nothing else.
    It needs no root; probes reach services over the network, and container probes need only access to the
    Docker engine.
  - Probes of one poll run at the same time. A probe that cannot work (bad URL, invalid JMESPath or regular
    expression, command not found, missing option) fails the task before any probe runs.
  - V(once) returns the verdict. V(until_healthy) polls every O(interval) until O(success_threshold) consecutive
    polls find every probe healthy, and returns C(recovery_seconds) counted from O(since) (for example the
    time of the injection) or from the module's start. V(until_unhealthy) times how long an outage takes to
    be seen. Timing uses a monotonic clock.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
extends_documentation_fragment:
  - sutazai.chaos.docker
  - sutazai.chaos.probes
attributes:
  check_mode:
    support: full
    description: Probes run the same in check mode; they change nothing.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  idempotent:
    support: full
    description: Changes nothing.
options:
  mode:
    description: What to do with the probes.
    type: str
    default: once
    choices: [once, until_healthy, until_unhealthy, sample]
  duration:
    description: In V(sample) mode, seconds to sample for.
    type: float
    default: 10.0
  abort_when:
    description:
      - In V(sample) mode, conditions that stop the sampling at once and fail the task, so that a C(rescue) rolls
        the experiment back.
    type: dict
    suboptions:
      availability_below:
        description: Fraction (0 to 1) of healthy polls so far under which to abort, judged from the third poll on.
        type: float
      health_score_below:
        description: Fraction (0 to 1) of healthy probes in one poll under which to abort.
        type: float
      emergency_stop:
        description: Abort when the emergency-stop flag is set in O(state_dir).
        type: bool
        default: true
  state_dir:
    description: Folder of the ledger, where the emergency-stop flag is looked for.
    type: path
    default: /var/lib/sutazai-chaos
  interval:
    description: Seconds between polls (at least 0.1).
    type: float
    default: 1.0
  timeout:
    description: Seconds to wait in the V(until_*) modes before failing with what was last seen.
    type: float
    default: 60.0
  success_threshold:
    description: Consecutive healthy polls needed in V(until_healthy) (unhealthy ones in V(until_unhealthy)).
    type: int
    default: 1
  since:
    description: Epoch time the measured seconds count from (for example when the fault was injected).
    type: float
  probe_timeout:
    description: Seconds each probe may take.
    type: float
    default: 2.0
  fail_when_unhealthy:
    description:
      - In V(once) mode, fail when not every probe is healthy; the message gives each failing probe's detail
        (for example that the Prometheus at a URL is unreachable).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Is the stack healthy?
  sutazai.chaos.health_probe:
    probes:
      - {name: backend, type: http, url: "http://127.0.0.1:18000/health"}
      - {name: redis, type: tcp, host: 127.0.0.1, port: 16379}
    fail_when_unhealthy: true

- name: Steady state from the backend's JSON, a command and Prometheus
  sutazai.chaos.health_probe:
    probes:
      - name: redis-dependency
        type: http
        url: "http://127.0.0.1:18000/health"
        json_query: dependencies.redis.ok
        expect: true
        max_latency_ms: 500
      - {name: postgres, type: command, argv: [pg_isready, -h, 127.0.0.1, -p, "15432"]}
      - {name: backend-restarts, type: container, container: sutazai-demo-backend-1, max_restarts: 0}
      - name: error-ratio
        type: prometheus
        prometheus_url: "http://127.0.0.1:9090"
        query: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))
        comparator: "<"
        threshold: 0.01
    fail_when_unhealthy: true

- name: Time to recover after the kill
  sutazai.chaos.health_probe:
    probes:
      - {name: backend, type: http, url: "http://127.0.0.1:18000/health"}
    mode: until_healthy
    interval: 0.2
    timeout: 120
    since: "{{ injected_at }}"
  register: recovery
"""

RETURN = r"""
healthy:
  description: Whether every probe was healthy at the last poll.
  returned: always
  type: bool
health_score:
  description: Fraction of probes healthy at the last poll.
  returned: always
  type: float
probes:
  description:
    - Results of the last poll, one per probe (name, type, healthy, detail, latency_ms), plus C(restart_count)
      for container probes, C(rc) for command probes and C(samples) (how many) for Prometheus probes.
  returned: always
  type: list
  elements: dict
recovery_seconds:
  description: In V(until_healthy), seconds from O(since) (or the start) to the first poll of the healthy run.
  returned: when mode is until_healthy
  type: float
met_at_first_poll:
  description:
    - In the V(until_*) modes, whether the goal was already met at the first poll. Then the measured seconds are
      only an upper bound (the service recovered at some time before the module started polling).
  returned: when mode is until_healthy or until_unhealthy
  type: bool
detection_seconds:
  description: In V(until_unhealthy), seconds from O(since) (or the start) until the outage was seen.
  returned: when mode is until_unhealthy
  type: float
polls:
  description: How many polls were made.
  returned: always
  type: int
availability:
  description: In V(sample) mode, the fraction of polls in which every probe was healthy.
  returned: when mode is sample
  type: float
error_rate:
  description: In V(sample) mode, the fraction of probe checks that failed.
  returned: when mode is sample
  type: float
latency_ms:
  description: In V(sample) mode, latency percentiles (p50, p95, p99, max) of the healthy checks.
  returned: when mode is sample
  type: dict
timeline:
  description:
    - Every poll (C(t) seconds from the start, C(healthy), C(health_score), C(probes)), in every mode but V(once).
    - "Each probe's result has C(answered): false when the service gave no answer at all (refused, reset, timed out)."
  returned: when mode is not once
  type: list
  elements: dict
started_at:
  description: The epoch time of the first poll (the timeline's C(t) counts from it), in every mode but V(once).
  returned: when mode is not once
  type: float
aborted:
  description: In V(sample) mode, why the sampling was aborted (null when it ran its course).
  returned: when mode is sample
  type: str
"""

import time

from ..module_utils._common import ChaosError
from ..module_utils._docker import DOCKER_ARG_SPEC, connect
from ..module_utils._module import build_module, exit_or_fail
from ..module_utils._ledger import DEFAULT_STATE_DIR, Ledger
from ..module_utils._probes import MIN_INTERVAL, abort_check, run_all, sample, validate_probe, wait_until
from ..module_utils._probe_types import PROBES_ARG_SPEC, command_runner
from ..module_utils._redact import mask_in_module


OWN_SPEC = dict(
    mode=dict(type="str", default="once", choices=["once", "until_healthy", "until_unhealthy", "sample"]),
    duration=dict(type="float", default=10.0),
    abort_when=dict(type="dict", options=dict(availability_below=dict(type="float"),
                                              health_score_below=dict(type="float"),
                                              emergency_stop=dict(type="bool", default=True))),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
    interval=dict(type="float", default=1.0),
    timeout=dict(type="float", default=60.0),
    success_threshold=dict(type="int", default=1),
    since=dict(type="float"),
    probe_timeout=dict(type="float", default=2.0),
    fail_when_unhealthy=dict(type="bool", default=False),
)


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, PROBES_ARG_SPEC, supports_check_mode=True)
    params = module.params
    mask_in_module(module, params["probes"])  # the no_log URLs shown again, but for their credentials

    def body():
        if not params["probes"]:
            raise ChaosError("probes is empty: give at least one probe")
        if params["interval"] < MIN_INTERVAL:
            raise ChaosError("interval must be at least %s s, got %s" % (MIN_INTERVAL, params["interval"]))
        if params["mode"] != "once" and params["timeout"] < params["interval"]:
            raise ChaosError("timeout (%s s) must not be below interval (%s s)" % (params["timeout"], params["interval"]))
        if params["success_threshold"] < 1:
            raise ChaosError("success_threshold must be at least 1")
        probes = []
        for index, probe in enumerate(params["probes"]):
            probe = dict(probe, name=probe.get("name") or "probe-%d" % index)
            probes.append(validate_probe(probe))
        client = connect(params) if any(p["type"] == "container" for p in probes) else None
        runner = command_runner(module, probes)
        if params["mode"] == "once":
            healthy, score, results = run_all(probes, client, params["probe_timeout"], runner)
            result = dict(changed=False, healthy=healthy, health_score=score, probes=results, polls=1)
            if params["fail_when_unhealthy"] and not healthy:
                raise ChaosError("unhealthy: %s" % "; ".join(
                    "%s: %s" % (r["name"], r["detail"]) for r in results if not r["healthy"]), **result)
            return result
        if params["mode"] == "sample":
            if params["duration"] <= 0:
                raise ChaosError("duration must be above 0 seconds for mode sample")
            started_at = time.time()
            summary, timeline, aborted = sample(probes, params["duration"], params["interval"], client,
                                                params["probe_timeout"],
                                                abort_check(params["abort_when"] or {"emergency_stop": True}, Ledger(params["state_dir"]).stop_flag_set),
                                                runner=runner)
            last = timeline[-1] if timeline else {"healthy": False, "health_score": 0.0, "probes": []}
            result = dict(changed=False, healthy=last["healthy"], health_score=last["health_score"],
                          probes=last["probes"], timeline=timeline, aborted=aborted, started_at=started_at,
                          **{k: summary[k] for k in ("polls", "availability", "error_rate", "latency_ms")})
            if aborted:
                raise ChaosError("sampling aborted after %d polls: %s" % (summary["polls"], aborted), **result)
            return result
        since = None
        if params["since"] is not None:
            since = time.monotonic() - max(0.0, time.time() - params["since"])
        want_healthy = params["mode"] == "until_healthy"
        started_at, timeline = time.time(), []
        satisfied, elapsed, results, polls = wait_until(
            probes, want_healthy, params["timeout"], params["interval"], params["success_threshold"], client,
            since, params["probe_timeout"], runner=runner, trace=timeline)
        healthy = all(r["healthy"] for r in results)
        result = dict(changed=False, healthy=healthy, probes=results, polls=polls, timeline=timeline,
                      started_at=started_at,
                      health_score=sum(1 for r in results if r["healthy"]) / len(results))
        result["recovery_seconds" if want_healthy else "detection_seconds"] = round(elapsed, 3)
        # The wait's own first polls already met the goal: the figure is only an upper bound.
        result["met_at_first_poll"] = satisfied and polls == params["success_threshold"]
        if not satisfied:
            raise ChaosError("still %s after %.1f s: %s" % (
                "unhealthy" if want_healthy else "healthy", params["timeout"],
                "; ".join("%s: %s" % (r["name"], r["detail"]) for r in results)), **result)
        return result

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
