#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: container_chaos
short_description: Kill, stop, restart or pause Docker containers, with faults that expire on the host
version_added: 0.1.0
description:
  - Picks containers with a selector (names, regex, labels, compose project/services), skips protected and
    excluded ones, picks all, one, a count or a percentage of them (repeatable with a seed), and hits them.
  - V(kill) sends a signal to the container's main process from the host, as a real crash would, so the
    engine's restart policy brings it back (a kill through the engine API counts as a manual stop on
    Docker 20.10 and leaves C(restart=always) containers exited). O(kill_mode=engine) uses the API instead.
  - V(pause) and V(stop) are recorded in a ledger on the host before they are applied. With O(duration), a
    detached reaper process on the host undoes them when the duration passes, even when the controller dies.
    O(state=absent) undoes them at once.
  - Run the module on the Docker host (for the inventory's Docker hosts, or C(localhost)).
author:
  - sutazai.chaos maintainers (!UNKNOWN)
extends_documentation_fragment:
  - sutazai.chaos.docker
  - sutazai.chaos.selection
  - sutazai.chaos.ledger
  - sutazai.chaos.ledger.LIFETIME
attributes:
  check_mode:
    support: full
    description: Reports which containers would be hit and changes nothing.
  diff_mode:
    support: full
    description: Returns each target's state before and after.
  idempotent:
    support: partial
    description:
      - V(pause) and V(stop) are idempotent for containers this collection already paused or stopped.
        V(kill) and V(restart) hit their targets every time.
options:
  action:
    description: What to do to each selected container.
    type: str
    required: true
    choices: [kill, stop, restart, pause]
  state:
    description:
      - V(present) applies the fault. V(absent) undoes the V(pause) or V(stop) this collection applied to the
        selected containers (idempotent; a selector that matches nothing is then not an error).
    type: str
    default: present
    choices: [present, absent]
  signal:
    description: The signal for V(kill), by name (V(SIGKILL), V(KILL)) or number.
    type: str
    default: SIGKILL
  kill_mode:
    description:
      - V(host) signals the container's main process from the host, as a crash would (the restart policy applies).
      - V(engine) asks the engine to kill it (C(docker kill)); Docker 20.10 then treats it as a manual stop.
    type: str
    default: host
    choices: [host, engine]
  stop_timeout:
    description: Seconds a V(stop) or V(restart) waits for the container to exit before it is killed.
    type: int
    default: 10
notes:
  - O(duration) is required for V(pause). A V(stop) without O(duration) lasts until O(state=absent) or
    M(sutazai.chaos.chaos_rollback).
seealso:
  - module: sutazai.chaos.chaos_rollback
  - module: sutazai.chaos.chaos_ledger_info
"""

EXAMPLES = r"""
- name: Crash one backend container, as an OOM kill would
  sutazai.chaos.container_chaos:
    action: kill
    targets:
      compose_project: sutazai-demo
      compose_services: [backend]
    select:
      mode: one

- name: Pause half of the workers for 30 seconds (undone on the host even if the controller dies)
  sutazai.chaos.container_chaos:
    action: pause
    duration: 30
    targets:
      names: ["worker-*"]
    select:
      mode: percent
      value: 50
      seed: "{{ experiment_id }}"
    max_targets: 3
    experiment_id: "{{ experiment_id }}"

- name: Unpause them now
  sutazai.chaos.container_chaos:
    action: pause
    state: absent
    targets:
      names: ["worker-*"]
"""

RETURN = r"""
experiment_id:
  description: The experiment the faults were recorded under.
  returned: always
  type: str
  sample: adhoc-20261127T050102-1a2b3c
containers:
  description: One item per container hit (or that would be hit, in check mode).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Container id.
      type: str
    name:
      description: Container name.
      type: str
    compose_service:
      description: Compose service, if any (kept for compatibility; prefer RV(containers[].service)).
      type: str
    service:
      description: The container's service, its compose service, else its C(sutazai.chaos.service) label, else its name.
      type: str
    action:
      description: The action.
      type: str
    state_before:
      description: Engine status before (running, paused, exited...).
      type: str
    state_after:
      description: Engine status after (for a kill, as seen after the process died; it may be running again).
      type: str
    changed:
      description: Whether this container was changed.
      type: bool
    injected_at:
      description: Epoch time at which the fault was applied (time to recover counts from it).
      type: float
      returned: when the container was changed
    entry_id:
      description: Ledger entry of a reversible fault.
      type: str
      returned: for pause and stop
    deadline:
      description: Epoch time at which the reaper undoes the fault (null without duration).
      type: float
      returned: for pause and stop
  sample: [{"id": "4f1c...", "name": "sutazai-demo_redis_1", "compose_service": "redis", "service": "redis",
            "action": "kill", "state_before": "running", "state_after": "running", "changed": true}]
selection:
  description: What the selector matched and what was skipped (protected, excluded, wrong state).
  returned: always
  type: dict
  sample: {"matched": ["a", "b"], "protected_skipped": ["b"], "excluded": [], "wrong_state": []}
"""

from ..module_utils._common import ChaosError, NOTHING_CHANGED, new_experiment_id, validate_duration
from ..module_utils._container import ContainerChaos
from ..module_utils._docker import DOCKER_ARG_SPEC, connect
from ..module_utils._fault import FAULT_LIFETIME_ARG_SPEC, LEDGER_ARG_SPEC
from ..module_utils._module import build_module, exit_or_fail, run_argv_with
from ..module_utils._targets import SELECTION_ARG_SPEC

OWN_SPEC = dict(
    action=dict(type="str", required=True, choices=["kill", "stop", "restart", "pause"]),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    signal=dict(type="str", default="SIGKILL"),
    kill_mode=dict(type="str", default="host", choices=["host", "engine"]),
    stop_timeout=dict(type="int", default=10),
)


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, SELECTION_ARG_SPEC, LEDGER_ARG_SPEC, FAULT_LIFETIME_ARG_SPEC,
                          needs_docker=True, supports_check_mode=True)
    params = dict(module.params)

    def body():
        present = params["state"] == "present"
        if present:
            params["duration"] = validate_duration(params["duration"], params["max_duration"],
                                                   required=params["action"] == "pause")
            if params["action"] in ("kill", "restart") and params["duration"] is not None:
                raise ChaosError("duration does not apply to action=%s (the restart policy is its recovery). %s"
                                 % (params["action"], NOTHING_CHANGED))
            params["experiment_id_given"] = params["experiment_id"] is not None
            params["experiment_id"] = params["experiment_id"] or new_experiment_id()
        if params["stop_timeout"] < 0:
            raise ChaosError("stop_timeout must be 0 or more seconds. %s" % NOTHING_CHANGED)
        chaos = ContainerChaos(connect(params), params, module.check_mode, run_argv_with(module))
        containers, selection = chaos.present() if present else chaos.absent()
        result = dict(changed=any(c["changed"] for c in containers), containers=containers, selection=selection,
                      experiment_id=params["experiment_id"])
        if module._diff:
            result["diff"] = {
                "before": {c["name"]: c["state_before"] for c in containers},
                "after": {c["name"]: c["state_after"] for c in containers},
            }
        return result

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
