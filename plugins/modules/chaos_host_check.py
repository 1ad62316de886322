#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_host_check
short_description: Check that a host is ready for chaos experiments, changing nothing
version_added: 0.1.0
description:
  - Runs the deployment validator's host checks and returns one row per check (C(check), C(status) V(PASS),
    V(WARN) or V(FAIL), C(detail)).
  - "The checks: the Docker engine answers (version, API version); the Docker SDK for Python imports in the
    interpreter running the module; C(tc), C(iptables), C(nsenter) and C(stress-ng) are present; C(sch_netem)
    is loaded or loadable for the running kernel (a V(WARN) when not: network_chaos then refuses delay, jitter,
    duplicate, corrupt and reorder, and falls back to iptables for loss and tbf for rate); the state folder is
    writable or can be created; a reaper can start, undo and exit; the clock is sane; and each of
    O(protected_services) has a container on the host."
  - A missing Docker SDK or an engine that does not answer is a V(FAIL) row, not a failed task.
  - Nothing in O(state_dir) is written. C(sch_netem) is looked up in C(/sys/module) and the kernel's module
    lists (or with C(modprobe -n), a dry run); nothing is loaded. The reaper trial runs in a fresh temporary
    folder with a ledger of one entry whose undo removes a file of that folder; the folder is removed afterwards.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
extends_documentation_fragment:
  - sutazai.chaos.docker
attributes:
  check_mode:
    support: full
    description:
      - Reads only, and runs the same in check mode. The reaper trial leaves nothing behind (its temporary folder
        and process are gone when the module returns).
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  idempotent:
    support: full
    description: Changes nothing (the verdict can change as the host does).
options:
  state_dir:
    description: Folder on the host for the ledger, the audit journal and the reaper; it is checked, never written.
    type: path
    default: /var/lib/sutazai-chaos
  protected_services:
    description:
      - Services that must each have a container on the host (V(FAIL) when none, V(WARN) when none runs).
      - A container's service is its C(com.docker.compose.service) label, else its C(sutazai.chaos.service) label,
        else its name.
    type: list
    elements: str
    default: []
  fail_on_fail:
    description: Fail the task (after running every check) when a check is V(FAIL).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Is this host ready for chaos?
  sutazai.chaos.chaos_host_check:
    protected_services: "{{ chaos_protected_services }}"
  register: host_check

- name: Print the failed checks
  ansible.builtin.debug:
    msg: "{{ host_check.checks | selectattr('status', 'equalto', 'FAIL') | list }}"

- name: Stop here when the host is not ready
  sutazai.chaos.chaos_host_check:
    fail_on_fail: true
"""

RETURN = r"""
checks:
  description: One row per check, in a fixed order.
  returned: always
  type: list
  elements: dict
  contains:
    check:
      description: What was checked, for example C(docker engine), C(tool stress-ng), C(protected service postgres).
      type: str
    status:
      description: V(PASS), V(WARN) or V(FAIL).
      type: str
    detail:
      description: What was found, and for a V(FAIL) or V(WARN) what it means for the modules.
      type: str
  sample:
    - {check: docker engine, status: PASS, detail: "Docker 20.10.24, API 1.41 at unix:///var/run/docker.sock"}
    - {check: sch_netem, status: WARN, detail: "not loaded, ...: network_chaos refuses delay, ..."}
passed:
  description: How many checks passed.
  returned: always
  type: int
warned:
  description: How many checks warned.
  returned: always
  type: int
failed_checks:
  description: How many checks failed (not C(failed), which Ansible reads as the task's own failure).
  returned: always
  type: int
pass_rate:
  description: Passed checks divided by all checks, rounded to three decimals.
  returned: always
  type: float
  sample: 0.833
ok:
  description: Whether no check failed.
  returned: always
  type: bool
"""

from ..module_utils._common import ChaosError
from ..module_utils._docker import DOCKER_ARG_SPEC
from ..module_utils._host_check import FAIL, run_checks
from ..module_utils._ledger import DEFAULT_STATE_DIR
from ..module_utils._module import build_module, exit_or_fail, run_argv_with

OWN_SPEC = dict(
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
    protected_services=dict(type="list", elements="str", default=[]),
    fail_on_fail=dict(type="bool", default=False),
)


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, supports_check_mode=True)
    params = module.params

    def body():
        result = run_checks(params, module.get_bin_path, run_argv_with(module))
        result["changed"] = False
        if params["fail_on_fail"] and not result["ok"]:
            raise ChaosError("%d of %d checks failed: %s. Nothing was changed." % (
                result["failed_checks"], len(result["checks"]), "; ".join(
                    "%s: %s" % (r["check"], r["detail"]) for r in result["checks"] if r["status"] == FAIL)),
                **result)
        return result

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
