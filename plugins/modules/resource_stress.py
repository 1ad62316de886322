#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: resource_stress
short_description: CPU, memory, I/O and disk-fill pressure, and block-I/O throttling, in containers or on a host
version_added: 0.1.0
description:
  - Runs the host's C(stress-ng) inside the cgroups of containers picked by the selection options (target images
    need no stress-ng; the container's CPU and memory limits and its OOM scope apply to the stress), or on the
    host itself when O(targets) is not given.
  - O(disk_fill) creates a file of the given size (real blocks) in a folder as the container sees it (its own
    filesystem), removed when the fault ends. O(io_limit) throttles a container's block I/O through its cgroup.
  - Every fault is a ledger entry with a deadline; the reaper on the host ends it when O(duration) passes, even
    when the controller is gone. stress-ng also gets its own C(--timeout) as a second bound.
  - Refuses to start when the host is already above O(max_cpu_percent) or O(max_memory_percent).
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
    description: Validates everything (sizes, limits, paths, devices) and reports what would start.
  diff_mode:
    support: none
    description: No diff is returned; RV(stress) lists what starts or is replaced.
  idempotent:
    support: full
    description: The same stress on the same target is not started twice; a different one replaces it.
options:
  state:
    description: V(present) starts the stress, V(absent) ends this collection's stress on the targets now.
    type: str
    default: present
    choices: [present, absent]
  cpu:
    description: CPU stress.
    type: dict
    suboptions:
      workers:
        description: stress-ng CPU workers.
        type: int
        default: 1
      load:
        description: Load of each worker, in percent (1 to 100), rounded to a whole percent.
        type: float
        default: 100
  memory:
    description: Memory pressure, held until the end. Give O(memory.bytes) or O(memory.percent).
    type: dict
    suboptions:
      bytes:
        description: Size, with binary units (V(256M), V(1G)) or in bytes. Beyond the container's limit is an error.
        type: str
      percent:
        description: Percent of the container's memory limit (of the host's memory when it has none).
        type: float
      workers:
        description: stress-ng VM workers sharing the size.
        type: int
        default: 1
  io:
    description: I/O stress (stress-ng hdd workers writing in the target's C(/tmp)).
    type: dict
    suboptions:
      workers:
        description: Workers.
        type: int
        default: 1
      bytes:
        description: Bytes each worker writes per cycle.
        type: str
        default: 64M
  disk_fill:
    description: Fill a filesystem. Give O(disk_fill.size) or O(disk_fill.percent).
    type: dict
    suboptions:
      path:
        description: Folder, as the target sees it (inside a container, its own filesystem).
        type: str
        default: /tmp
      size:
        description: Bytes to write, with units (V(512M)).
        type: str
      percent:
        description: Percent of the free space of O(disk_fill.path).
        type: float
  io_limit:
    description: Block-I/O throttle of a container's cgroup (containers only).
    type: dict
    suboptions:
      device:
        description: Block device (V(/dev/vda) or V(254:0)); the disk holding C(/var/lib/docker) when omitted.
        type: str
      read_bps:
        description: Bytes per second, with units (V(1M)).
        type: str
      write_bps:
        description: Bytes per second, with units.
        type: str
      read_iops:
        description: Operations per second.
        type: int
      write_iops:
        description: Operations per second.
        type: int
  max_cpu_percent:
    description: Refuse when the host's CPU is already busier than this (percent).
    type: float
    default: 85
  max_memory_percent:
    description: Refuse when the host's memory is already fuller than this (percent).
    type: float
    default: 90
notes:
  - O(duration) is required when starting stress.
  - Needs C(stress-ng) on the host (not in the targets), root, and cgroups (v1 or v2).
  - Block-I/O throttles (cgroup v1 blkio) act on direct and synchronous writes; buffered writes reach the disk
    later from the kernel's writeback and may not be throttled.
seealso:
  - module: sutazai.chaos.chaos_rollback
"""

EXAMPLES = r"""
- name: Two CPU workers at 80 % inside the backend for 60 s
  sutazai.chaos.resource_stress:
    targets: {compose_project: sutazai-demo, compose_services: [backend]}
    cpu: {workers: 2, load: 80}
    duration: 60

- name: Hold 256 MiB in the backend container
  sutazai.chaos.resource_stress:
    targets: {compose_services: [backend]}
    memory: {bytes: 256M}
    duration: 30

- name: Fill 80 % of the free space of the container's /var/tmp
  sutazai.chaos.resource_stress:
    targets: {compose_services: [postgres]}
    disk_fill: {path: /var/tmp, percent: 80}
    protected: []
    duration: 30

- name: Throttle the database's writes to 1 MiB/s
  sutazai.chaos.resource_stress:
    targets: {names: [sutazai-demo_postgres_1]}
    protected: []
    io_limit: {write_bps: 1M}
    duration: 60
"""

RETURN = r"""
experiment_id:
  description: The experiment the faults were recorded under.
  returned: always
  type: str
stress:
  description:
    - One item per (target, kind) with C(target), C(compose_service), C(service), C(kind) (stress, disk_fill,
      io_limit), C(spec) (sizes in bytes), C(changed), C(entry_id), C(deadline), C(pid) and C(replaced).
    - C(service) is the container's service (its compose service, else its C(sutazai.chaos.service) label,
      else its name), null for the host; C(compose_service) stays for compatibility.
    - C(pid) is the process group of the stress, that is stress-ng and the C(nsenter) that starts it in the
      container's PID namespace.
  returned: always
  type: list
  elements: dict
removed:
  description: With O(state=absent), the ledger entries ended.
  returned: when state is absent
  type: list
  elements: dict
host:
  description: The host's CPU and memory use, in percent, as measured before starting.
  returned: when state is present
  type: dict
"""

from ..module_utils._common import NOTHING_CHANGED, ChaosError, new_experiment_id, validate_duration
from ..module_utils._docker import DOCKER_ARG_SPEC, connect, list_containers
from ..module_utils._fault import FAULT_LIFETIME_ARG_SPEC, LEDGER_ARG_SPEC, FaultTransaction
from ..module_utils._module import build_module, exit_or_fail, run_argv_with
from ..module_utils._stress import ResourceStress, StressTarget, host_cpu_percent, host_memory
from ..module_utils._targets import SELECTION_ARG_SPEC, select_targets

OWN_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    cpu=dict(type="dict", options=dict(workers=dict(type="int", default=1), load=dict(type="float", default=100))),
    memory=dict(type="dict", options=dict(bytes=dict(type="str"), percent=dict(type="float"),
                                          workers=dict(type="int", default=1))),
    io=dict(type="dict", options=dict(workers=dict(type="int", default=1), bytes=dict(type="str", default="64M"))),
    disk_fill=dict(type="dict", options=dict(path=dict(type="str", default="/tmp"), size=dict(type="str"),
                                             percent=dict(type="float"))),
    io_limit=dict(type="dict", options=dict(device=dict(type="str"), read_bps=dict(type="str"),
                                            write_bps=dict(type="str"), read_iops=dict(type="int"),
                                            write_iops=dict(type="int"))),
    max_cpu_percent=dict(type="float", default=85.0),
    max_memory_percent=dict(type="float", default=90.0),
)


def _targets(params):
    if params["targets"] is None:
        return [StressTarget()]
    present = params["state"] == "present"
    selection = dict(params, allow_empty=params["allow_empty"] or not present)
    if not present:
        selection.update(select={"mode": "all"}, max_targets=None)
    containers, _report = select_targets(list_containers(connect(params)), selection,
                                         states=["running"] if present else None, check_protection=present)
    return [StressTarget(c) for c in containers]


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, SELECTION_ARG_SPEC, LEDGER_ARG_SPEC, FAULT_LIFETIME_ARG_SPEC,
                          supports_check_mode=True)
    params = dict(module.params)

    def body():
        present = params["state"] == "present"
        txn = FaultTransaction(params["state_dir"], params["experiment_id"] or new_experiment_id(),
                               run_argv_with(module), explicit_experiment=params["experiment_id"] is not None)
        if not present:
            stress = ResourceStress(params, txn, module.check_mode)
            removed = stress.remove(_targets(params))
            return dict(changed=bool(removed), stress=[], experiment_id=params["experiment_id"],
                        removed=[{k: e.get(k) for k in ("id", "kind", "target", "spec")} for e in removed])
        params["duration"] = validate_duration(params["duration"], params["max_duration"], required=True)
        if any(params[k] for k in ("cpu", "memory", "io")):
            module.get_bin_path("stress-ng", required=True)
        cpu = host_cpu_percent()
        _total, memory = host_memory()
        if cpu > params["max_cpu_percent"] or memory > params["max_memory_percent"]:
            raise ChaosError("the host is already loaded (CPU %.0f %%, memory %.0f %%; limits %s %% and %s %%): "
                             "refusing to add stress. Raise max_cpu_percent / max_memory_percent to override. %s"
                             % (cpu, memory, params["max_cpu_percent"], params["max_memory_percent"],
                                NOTHING_CHANGED))
        if not module.check_mode:
            txn.refuse_if_stopped()
        stress = ResourceStress(params, txn, module.check_mode)
        targets = _targets(params)
        for target in targets:  # validate every target before starting anything
            stress.plan(target)
        try:
            results = stress.inject(targets)
        except (ChaosError, OSError) as exc:
            message = exc.msg if isinstance(exc, ChaosError) else str(exc)
            raise ChaosError(txn.rollback_after(message))
        return dict(changed=any(r["changed"] for r in results), stress=results, experiment_id=txn.experiment_id,
                    host={"cpu_percent": round(cpu, 1), "memory_percent": round(memory, 1)})

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
