#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: custom_fault
short_description: A fault of your own (inject, undo and check commands), undone by the host's reaper
version_added: 0.1.0
description:
  - The extension point for faults this collection does not ship. You give an O(inject) command and an O(undo)
    command as argv lists (no shell), and optionally a O(check) command that proves the fault is active. They
    run on the host, or inside each selected container's namespaces (mount, UTS, IPC, network, PID, entered
    from the host with C(nsenter); the container needs none of our tools).
  - The undo is recorded in the ledger on the host B(before) the inject runs, with a deadline. A detached reaper
    runs it when O(duration) passes, even when the controller dies. O(state=absent),
    M(sutazai.chaos.chaos_rollback) and the emergency stop run it too.
  - If the inject fails (non-zero exit code or O(command_timeout)), or the check does not confirm the fault
    (non-zero exit code), the undo runs at once and the task fails naming the exit code and the end of the
    command's error output.
  - B(The contract.) The undo must be idempotent and must work after a partial inject. It may run after an
    inject that failed halfway, after the fault went away by itself, or twice (a rollback after the reaper).
    An undo that fails stays active in the ledger and is retried every 2 seconds, up to 30 attempts; then the
    entry is V(failed) and M(sutazai.chaos.chaos_ledger_info) (O(sutazai.chaos.chaos_ledger_info#module:include_done=true))
    lists it with its C(last_error). While it is active and failing, M(sutazai.chaos.chaos_ledger_info) shows
    its C(attempts) and C(last_error).
  - Each command runs under coreutils' C(timeout) (SIGTERM, then SIGKILL 5 s later, to its whole process group).
    The undo gets O(command_timeout) too, but at most 50 s (the reaper holds the ledger's lock while it runs).
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
    description: Validates the commands and the targets and reports what would run; no command runs.
  diff_mode:
    support: none
    description: No diff is returned; RV(faults) lists what is injected or replaced.
  idempotent:
    support: full
    description:
      - The same fault (same O(name) and the same commands) already active on a target is not injected again.
        Different commands under the same O(name) replace it (its undo runs first).
options:
  state:
    description: V(present) injects the fault; V(absent) runs the recorded undo of custom faults on the targets now.
    type: str
    default: present
    choices: [present, absent]
  inject:
    description:
      - The command that injects the fault, as a list (the program, then each argument as its own item). Required
        with O(state=present). A string is refused (nothing parses a shell command line here).
      - With O(where=host) the program may be a bare name, looked up on the host now and recorded by its
        absolute path; it must be owned by root (or by the user the module runs as) and writable by nobody else.
        With O(where=container) it must be an absolute path inside the container.
    type: raw
  undo:
    description:
      - The command that takes the fault away, a list like O(inject). Required with O(state=present); it is
        recorded before O(inject) runs. It must be idempotent (see the description).
    type: raw
  check:
    description:
      - Optional command run right after O(inject), a list like O(inject). A non-zero exit code means the fault
        is not active, so the undo runs at once and the task fails.
    type: raw
  where:
    description:
      - V(host) runs the commands on the host the module runs on (O(targets) must not be given).
      - V(container) runs them inside each container picked by O(targets), one ledger entry per container.
    type: str
    default: host
    choices: [host, container]
  name:
    description:
      - A label for the fault, shown in results and in the ledger. It is also the fault's identity on a target.
      - With O(state=absent), only custom faults with this label are undone (all custom faults when omitted).
      - Defaults to the file name of the inject program.
    type: str
  command_timeout:
    description: Seconds O(inject) and O(check) may run each (1 to 3600); the undo gets the same, at most 50 s.
    type: float
    default: 60
notes:
  - O(duration) is required with O(state=present).
  - Commands run as the user the module runs as (usually root), with that user's capabilities, also inside a
    container (its user namespace, cgroups and seccomp profile are not entered).
  - The ledger holds the commands as given, in a folder only its owner may read. Results, the audit journal and
    M(sutazai.chaos.chaos_ledger_info) show them with the values of secret-looking flags (C(--password=...),
    C(--token ...)) and URL credentials masked; prefer reading secrets from files.
seealso:
  - module: sutazai.chaos.chaos_rollback
  - module: sutazai.chaos.chaos_ledger_info
"""

EXAMPLES = r"""
- name: Drop the backend's traffic to the database for 30 s (the image's own iptables, run with the host's rights)
  sutazai.chaos.custom_fault:
    name: backend-no-db
    where: container
    targets: {compose_project: sutazai-demo, compose_services: [backend]}
    inject: [/usr/sbin/iptables, -w, -I, OUTPUT, -p, tcp, --dport, "5432", -j, DROP]
    undo: [/bin/sh, -c, "while /usr/sbin/iptables -w -D OUTPUT -p tcp --dport 5432 -j DROP; do :; done; true"]
    check: [/usr/sbin/iptables, -w, -C, OUTPUT, -p, tcp, --dport, "5432", -j, DROP]
    duration: 30
    experiment_id: "{{ experiment_id }}"

- name: A feature flag file the application reads, for 60 s
  sutazai.chaos.custom_fault:
    name: slow-mode
    where: container
    targets: {names: [web-1]}
    inject: [/usr/bin/touch, /tmp/slow-mode]
    undo: [/bin/rm, -f, /tmp/slow-mode]
    check: [/usr/bin/test, -e, /tmp/slow-mode]
    duration: 60

- name: The same without iptables in the image (the host's iptables in the container's network namespace)
  sutazai.chaos.custom_fault:
    name: web-no-db
    inject: [nsenter, "--net=/proc/{{ web_pid }}/ns/net", --, iptables, -w, -I, OUTPUT, -p, tcp, --dport, "5432",
             -j, DROP]
    undo: [/bin/sh, -c, "while nsenter --net=/proc/{{ web_pid }}/ns/net -- iptables -w -D OUTPUT -p tcp --dport 5432
           -j DROP 2>/dev/null; do :; done"]
    duration: 30

- name: Something on the host itself
  sutazai.chaos.custom_fault:
    name: maintenance-page
    inject: [systemctl, start, maintenance-page.service]
    undo: [systemctl, stop, maintenance-page.service]
    duration: 120

- name: Take it away now
  sutazai.chaos.custom_fault:
    name: maintenance-page
    state: absent
"""

RETURN = r"""
experiment_id:
  description: The experiment the faults were recorded under (as given, with O(state=absent)).
  returned: always
  type: str
faults:
  description:
    - One item per target with C(name) and C(target) (the container's name, or V(host)), C(service) (null for the
      host), C(fault) (the label), C(where), C(inject), C(undo) and C(check) (as shown, secret values masked),
      C(check_rc), C(changed), C(entry_id), C(deadline), C(injected_at), C(replaced) (the spec of the fault
      this one replaced, or null) and C(note).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "web-1", "target": "web-1", "service": "web", "fault": "slow-mode", "where": "container",
            "inject": ["/usr/bin/touch", "/tmp/slow-mode"], "undo": ["/bin/rm", "-f", "/tmp/slow-mode"],
            "check": ["/usr/bin/test", "-e", "/tmp/slow-mode"], "check_rc": 0, "changed": true,
            "entry_id": "3f2a...", "deadline": 1764590000.5, "injected_at": 1764589940.4, "replaced": null}]
removed:
  description: With O(state=absent), the ledger entries undone (id, kind, target, spec).
  returned: when state is absent
  type: list
  elements: dict
selection:
  description: With O(where=container), what the selector matched and skipped.
  returned: when where is container
  type: dict
"""

from ..module_utils._common import NOTHING_CHANGED, ChaosError, new_experiment_id, validate_duration
from ..module_utils._custom import HOST_TARGET, CustomFault
from ..module_utils._docker import DOCKER_ARG_SPEC, connect, list_containers
from ..module_utils._fault import FAULT_LIFETIME_ARG_SPEC, LEDGER_ARG_SPEC, FaultTransaction
from ..module_utils._module import build_module, exit_or_fail, run_argv_with
from ..module_utils._targets import SELECTION_ARG_SPEC, select_targets

OWN_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    inject=dict(type="raw"),
    undo=dict(type="raw"),
    check=dict(type="raw"),
    where=dict(type="str", default="host", choices=["host", "container"]),
    name=dict(type="str"),
    command_timeout=dict(type="float", default=60.0),
)


def _targets(params):
    """The host, or the selected containers (running ones when injecting); and the selection report."""
    if params["where"] == "host":
        if params["targets"] is not None:
            raise ChaosError("targets selects containers: give where=container to use it (with where=host the "
                             "commands run on the host). %s" % NOTHING_CHANGED)
        return [dict(HOST_TARGET, service=None)], None
    present = params["state"] == "present"
    selection = dict(params, allow_empty=params["allow_empty"] or not present)
    if not present:
        selection.update(select={"mode": "all"}, max_targets=None)
    containers, report = select_targets(list_containers(connect(params)), selection,
                                        states=["running"] if present else None, check_protection=present)
    return [{"id": c["id"], "name": c["name"], "compose_service": c.get("compose_service"),
             "service": c.get("service")} for c in containers], report


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, SELECTION_ARG_SPEC, LEDGER_ARG_SPEC, FAULT_LIFETIME_ARG_SPEC,
                          supports_check_mode=True)
    params = dict(module.params)

    def body():
        present = params["state"] == "present"
        txn = FaultTransaction(params["state_dir"], params["experiment_id"] or new_experiment_id(),
                               run_argv_with(module), explicit_experiment=params["experiment_id"] is not None)
        fault = CustomFault(params, txn, module.check_mode, run_argv_with(module), module.get_bin_path)
        if present:
            params["duration"] = validate_duration(params["duration"], params["max_duration"], required=True)
            if not module.check_mode:
                txn.refuse_if_stopped()
        targets, report = _targets(params)
        result = dict(experiment_id=txn.experiment_id if present else params["experiment_id"])
        if report is not None:
            result["selection"] = report
        if not present:
            removed = fault.remove(targets)
            return dict(result, changed=bool(removed), faults=[],
                        removed=[{k: e.get(k) for k in ("id", "kind", "target", "spec")} for e in removed])
        try:
            faults = fault.inject(targets)
        except ChaosError as exc:
            if not txn.applied:  # the message says what ran (and was undone) or that nothing was changed
                raise
            raise ChaosError(txn.rollback_after("%s Targets done before it:" % exc.msg))
        return dict(result, changed=any(f["changed"] for f in faults), faults=faults)

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
