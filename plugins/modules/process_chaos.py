#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: process_chaos
short_description: Kill, stop or restart-by-kill processes inside Docker containers, chosen by name or command line
version_added: 0.1.0
description:
  - Finds the processes of the containers picked by the selection options (every process in the container's
    cgroup, as the Docker host sees it in C(/proc)), keeps those that match O(process), and hits all, one or a
    count of them.
  - V(kill) sends O(signal) (default V(SIGKILL)); it cannot be undone. V(restart) kills the same way, then waits up
    to O(restart_wait) seconds for a new matching process to appear in the container (whatever supervises it
    inside the container restarts it) and reports whether it came back.
  - V(stop) sends C(SIGSTOP) and records the stop in the ledger on the host before it is sent; when O(duration)
    passes, a detached reaper on the host sends C(SIGCONT), even when the controller is gone. O(state=absent),
    M(sutazai.chaos.chaos_rollback) and M(sutazai.chaos.chaos_emergency_stop) resume at once.
  - Each process is signalled through a pidfd after checking its start time and cgroup, so a PID reused by another
    process is never signalled, on the host or in another container.
  - The container's main process (its PID 1) is skipped unless O(allow_pid1=true); to crash a container, use
    M(sutazai.chaos.container_chaos).
  - O(select) and O(max_targets) count processes here, across all the selected containers.
  - Run the module on the Docker host (for the inventory's Docker hosts, or C(localhost)), as root.
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
    description: Reports which processes would be hit and changes nothing.
  diff_mode:
    support: full
    description: Returns each process's state before and after.
  idempotent:
    support: partial
    description:
      - V(stop) is idempotent for processes this collection already stopped. V(kill) and V(restart) hit their
        targets every time.
options:
  process:
    description: Which processes of the selected containers to hit. At least one of O(process.name) and
      O(process.pattern) is required; when both are given, both must match.
    type: dict
    suboptions:
      name:
        description:
          - The command name (C(/proc/<pid>/comm), at most 15 characters) or the file name of the program (the
            first word of its command line), exactly or as a shell glob (V(sleep), V(gunicorn*)).
        type: str
      pattern:
        description:
          - A Python regular expression searched in the command line (its words joined by spaces).
          - A pattern that does not compile is an error, and nothing is changed.
        type: str
  action:
    description: What to do to each selected process.
    type: str
    required: true
    choices: [kill, stop, restart]
  state:
    description:
      - V(present) applies the fault. V(absent) resumes the processes this collection stopped in the selected
        containers (only with V(stop); idempotent; with O(process), only those that match it; with
        O(experiment_id), only that experiment's).
    type: str
    default: present
    choices: [present, absent]
  signal:
    description:
      - The signal for V(kill) and V(restart), by name (V(SIGTERM), V(TERM)) or number. V(SIGKILL) when omitted.
      - Signals that stop a process (C(SIGSTOP), C(SIGTSTP), C(SIGTTIN), C(SIGTTOU)) are refused; V(stop) sends
        C(SIGSTOP) and resumes it at the deadline.
    type: str
  restart_wait:
    description: Seconds V(restart) waits for a new matching process to appear in the container.
    type: float
    default: 10.0
  allow_pid1:
    description:
      - Also hit the container's main process (PID 1 inside the container). By default it is skipped, and when it
        is the only match the module fails and changes nothing (unless O(allow_empty=true)).
    type: bool
    default: false
notes:
  - O(duration) is required for V(stop) and does not apply to V(kill) or V(restart).
  - O(allow_empty=true) also accepts containers that have no matching process.
  - Needs the module to run on the Docker host with a C(unix://) O(docker_host), as root, on Linux 5.3 or later
    (pidfd).
seealso:
  - module: sutazai.chaos.container_chaos
  - module: sutazai.chaos.chaos_rollback
  - module: sutazai.chaos.chaos_ledger_info
"""

EXAMPLES = r"""
- name: Kill one gunicorn worker of the backend (its master starts a new one)
  sutazai.chaos.process_chaos:
    action: restart
    process:
      pattern: "gunicorn: worker"
    targets:
      compose_project: sutazai-demo
      compose_services: [backend]
    select:
      mode: one
      seed: "{{ experiment_id }}"
    experiment_id: "{{ experiment_id }}"

- name: Freeze every celery process of the workers for 20 seconds (resumed on the host even if the controller dies)
  sutazai.chaos.process_chaos:
    action: stop
    process:
      name: celery
    duration: 20
    targets:
      names: ["worker-*"]

- name: Resume them now
  sutazai.chaos.process_chaos:
    action: stop
    state: absent
    targets:
      names: ["worker-*"]

- name: Ask a cron daemon to exit cleanly
  sutazai.chaos.process_chaos:
    action: kill
    signal: SIGTERM
    process:
      name: cron
    targets:
      services: [scheduler]
"""

RETURN = r"""
experiment_id:
  description: The experiment the faults were recorded under.
  returned: always
  type: str
  sample: adhoc-20261127T050102-1a2b3c
processes:
  description: One item per process hit (or that would be hit, in check mode; or resumed, with O(state=absent)).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Container name.
      type: str
    target:
      description: Container name (the lifecycle's name for what was hit).
      type: str
    id:
      description: Container id.
      type: str
    compose_service:
      description: Compose service, if any.
      type: str
    service:
      description: The container's service, its compose service, else its C(sutazai.chaos.service) label, else its name.
      type: str
    pid:
      description: The process's PID on the host.
      type: int
    ns_pid:
      description: The process's PID inside the container.
      type: int
    comm:
      description: The command name.
      type: str
    cmdline:
      description: The command line, words joined by spaces, with secret-looking values masked.
      type: str
    main_process:
      description: Whether it is the container's main process.
      type: bool
      returned: when state is present
    action:
      description: The action.
      type: str
    signal:
      description: The signal sent (C(SIGCONT) for a resume).
      type: str
    state_before:
      description: The process state before (running, sleeping, stopped...).
      type: str
    state_after:
      description: The state of this very process after (C(gone) once it ended; a restart's new process has a new PID).
      type: str
    changed:
      description: Whether this process was changed.
      type: bool
    note:
      description: Why a process was not changed.
      type: str
      returned: when a process was not changed
    injected_at:
      description: Epoch time at which the signal was sent (time to recover counts from it).
      type: float
      returned: when the process was changed
    entry_id:
      description: Ledger entry of a stop.
      type: str
      returned: for stop
    deadline:
      description: Epoch time at which the reaper resumes the process.
      type: float
      returned: for stop
    restarted:
      description: Whether a new matching process appeared in the container within O(restart_wait).
      type: bool
      returned: for restart
    new_pid:
      description: The host PID of that new process (null when none came).
      type: int
      returned: for restart
    restart_seconds:
      description: Seconds from the kill to the new process being seen (null when none came).
      type: float
      returned: for restart
  sample: [{"name": "sct-1a2b3c-sup", "target": "sct-1a2b3c-sup", "service": "sct-1a2b3c-sup", "pid": 48211,
            "ns_pid": 7, "comm": "sleep", "cmdline": "sleep 1000", "action": "restart", "signal": "SIGKILL",
            "state_before": "sleeping", "state_after": "gone", "changed": true, "restarted": true,
            "new_pid": 48240}]
selection:
  description:
    - What the selector matched and what was skipped (protected, excluded, wrong state), plus, when state is
      present, C(processes_matched) (processes matching O(process)), C(pid1_skipped) and C(already_stopped)
      (stopped by someone else, never resumed by us).
  returned: always
  type: dict
  sample: {"matched": ["a"], "protected_skipped": [], "excluded": [], "wrong_state": [], "processes_matched": 3,
           "pid1_skipped": ["a: 4102 sh"], "already_stopped": []}
"""

from ..module_utils._common import ChaosError, NOTHING_CHANGED, new_experiment_id, validate_duration
from ..module_utils._docker import DOCKER_ARG_SPEC, connect
from ..module_utils._fault import FAULT_LIFETIME_ARG_SPEC, LEDGER_ARG_SPEC
from ..module_utils._module import build_module, exit_or_fail, run_argv_with
from ..module_utils._process import ProcessChaos
from ..module_utils._targets import SELECTION_ARG_SPEC

OWN_SPEC = dict(
    process=dict(type="dict", options=dict(name=dict(type="str"), pattern=dict(type="str"))),
    action=dict(type="str", required=True, choices=["kill", "stop", "restart"]),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    signal=dict(type="str"),
    restart_wait=dict(type="float", default=10.0),
    allow_pid1=dict(type="bool", default=False),
)


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, SELECTION_ARG_SPEC, LEDGER_ARG_SPEC, FAULT_LIFETIME_ARG_SPEC,
                          needs_docker=True, supports_check_mode=True)
    params = dict(module.params)

    def body():
        present = params["state"] == "present"
        if present:
            params["duration"] = validate_duration(params["duration"], params["max_duration"],
                                                   required=params["action"] == "stop")
            if params["action"] != "stop" and params["duration"] is not None:
                raise ChaosError("duration does not apply to action=%s (a kill cannot be undone). %s"
                                 % (params["action"], NOTHING_CHANGED))
            if not 0 <= params["restart_wait"] <= params["max_duration"]:
                raise ChaosError("restart_wait must be between 0 and max_duration (%s) seconds, got %s. %s"
                                 % (params["max_duration"], params["restart_wait"], NOTHING_CHANGED))
            params["experiment_id_given"] = params["experiment_id"] is not None
            params["experiment_id"] = params["experiment_id"] or new_experiment_id()
        chaos = ProcessChaos(connect(params), params, module.check_mode, run_argv_with(module))
        processes, selection = chaos.present() if present else chaos.absent()
        result = dict(changed=any(p["changed"] for p in processes), processes=processes, selection=selection,
                      experiment_id=params["experiment_id"])
        if module._diff:
            result["diff"] = {
                "before": {"%s/%s" % (p["name"], p["pid"]): p["state_before"] for p in processes},
                "after": {"%s/%s" % (p["name"], p["pid"]): p["state_after"] for p in processes},
            }
        return result

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
