#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: network_chaos
short_description: Latency, jitter, loss, duplication, corruption, reordering, bandwidth limits and partitions
version_added: 0.1.0
description:
  - Applies network faults on a host interface, or inside the network namespace of containers picked by the
    selection options. A container's faults are applied from the host (C(nsenter) and the host's C(tc) and
    C(iptables)), so target images need neither.
  - C(tc) faults (netem, or tbf for O(rate) without netem) live in one qdisc tree with handle C(5a17:); filter
    faults (loss without netem, partitions) live in chains of their own (C(SZC-...)). Removing a fault removes
    exactly these, never anybody else's qdiscs or rules. A root qdisc that is not ours is never replaced.
  - Backends. With C(sch_netem) everything is done by netem. Without it (for example this project's CI kernel),
    O(loss) uses C(iptables -m statistic) and O(rate) uses tbf; O(delay), O(duplicate), O(corrupt), O(reorder)
    and O(limit) fail, naming C(sch_netem), and nothing is applied. The result says which backend was used.
  - Every fault is a ledger entry with a deadline; a reaper on the host removes it when O(duration) passes,
    even when the controller is gone. The same fault again is C(changed=false); a different fault replaces the
    active one (the qdisc tree is replaced in place, new chains are hooked in before the old ones are removed).
  - The control channel is spared by default (O(protect_control_channel)), TCP port 22 both ways and the
    controller's address (from the SSH connection) are never faulted. Spared traffic is matched for IPv4.
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
    description: Reports the targets, the backend and whether a fault would be added or replaced.
  diff_mode:
    support: full
    description: The active fault spec before and after, per target.
  idempotent:
    support: full
    description: The same fault again is unchanged; a different fault replaces the active one in place.
options:
  state:
    description:
      - V(present) applies the fault.
      - V(absent) undoes this collection's network faults on the targets (from the ledger), then removes any qdisc
        tree or chain of ours still there without a ledger entry (reported as RV(leftovers)).
    type: str
    default: present
    choices: [present, absent]
  interface:
    description:
      - Fault a host interface instead of containers. Without O(interface) and O(targets), the host's
        default-route interface is used.
    type: str
  device:
    description: The device inside each container.
    type: str
    default: eth0
  delay:
    description: Added latency (netem).
    type: dict
    suboptions:
      ms:
        description: Milliseconds added to each packet.
        type: float
        required: true
      jitter_ms:
        description: Random variation, in milliseconds.
        type: float
      correlation:
        description: Percent correlation of each delay with the previous one.
        type: float
      distribution:
        description: Shape of the jitter.
        type: str
        choices: [uniform, normal, pareto, paretonormal]
  loss:
    description: Random packet loss (netem, or iptables statistic without netem).
    type: dict
    suboptions:
      percent:
        description: Percent of packets dropped (0 to 100).
        type: float
        required: true
      correlation:
        description: Percent correlation with the previous packet (netem only).
        type: float
  duplicate:
    description: Duplicated packets (netem).
    type: dict
    suboptions:
      percent:
        description: Percent of packets duplicated.
        type: float
        required: true
      correlation:
        description: Percent correlation.
        type: float
  corrupt:
    description: Corrupted packets, a random bit flipped (netem).
    type: dict
    suboptions:
      percent:
        description: Percent of packets corrupted.
        type: float
        required: true
      correlation:
        description: Percent correlation.
        type: float
  reorder:
    description: Reordered packets (netem; needs O(delay)).
    type: dict
    suboptions:
      percent:
        description: Percent of packets sent at once, ahead of the delayed others.
        type: float
        required: true
      correlation:
        description: Percent correlation.
        type: float
      gap:
        description: Reorder every Nth packet.
        type: int
  rate:
    description: Bandwidth limit, such as V(8mbit) or V(512kbit) (netem rate, or tbf without netem).
    type: str
  limit:
    description: netem queue limit in packets.
    type: int
  partition:
    description: Cut the targets off from peers (iptables, in chains of our own).
    type: dict
    suboptions:
      peers:
        description: Addresses, CIDRs or container names (resolved to their addresses).
        type: list
        elements: str
        required: true
      ports:
        description: Only these destination ports (needs O(partition.protocol) tcp or udp, or all for both).
        type: list
        elements: int
      protocol:
        description: Protocol cut.
        type: str
        default: all
        choices: [tcp, udp, all]
      direction:
        description: V(ingress) (traffic from the peers), V(egress) (to them) or V(both).
        type: str
        default: both
        choices: [ingress, egress, both]
      action:
        description: V(drop) (clients time out) or V(reject) (clients are refused at once).
        type: str
        default: drop
        choices: [drop, reject]
  destinations:
    description: Apply netem/tbf/loss only to traffic to these CIDRs and/or ports, instead of the whole interface.
    type: dict
    suboptions:
      cidrs:
        description: Destination addresses or CIDRs.
        type: list
        elements: str
      ports:
        description: Destination ports.
        type: list
        elements: int
  protect_control_channel:
    description: Never fault TCP port 22 or the controller's address.
    type: bool
    default: true
  spare:
    description: More traffic never faulted.
    type: dict
    suboptions:
      ports:
        description: TCP ports, both directions.
        type: list
        elements: int
      addresses:
        description: IPv4 addresses.
        type: list
        elements: str
notes:
  - O(duration) is required when injecting.
  - Needs C(tc) and C(ip) (iproute2), C(iptables) and C(nsenter) (util-linux) on the host, and root.
seealso:
  - module: sutazai.chaos.chaos_rollback
  - module: sutazai.chaos.chaos_ledger_info
"""

EXAMPLES = r"""
- name: 200 ms +- 20 ms latency on the backend for 60 s
  sutazai.chaos.network_chaos:
    targets: {compose_project: sutazai-demo, compose_services: [backend]}
    delay: {ms: 200, jitter_ms: 20, distribution: normal}
    duration: 60

- name: 30 % loss towards postgres only
  sutazai.chaos.network_chaos:
    targets: {compose_services: [backend]}
    loss: {percent: 30}
    destinations: {ports: [5432]}
    duration: 30

- name: Redis times out for the backend (blackhole, clients wait)
  sutazai.chaos.network_chaos:
    targets: {compose_services: [backend]}
    partition: {peers: [sutazai-demo_redis_1], ports: [6379], protocol: tcp, direction: egress, action: drop}
    duration: 20

- name: Remove our network faults from the backend now
  sutazai.chaos.network_chaos:
    targets: {compose_services: [backend]}
    state: absent
"""

RETURN = r"""
experiment_id:
  description: The experiment the faults were recorded under.
  returned: always
  type: str
faults:
  description: One item per target (container or host interface).
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: Container name, or C(host:<interface>).
      type: str
    compose_service:
      description: Compose service of the container, if any (kept for compatibility; prefer RV(faults[].service)).
      type: str
    service:
      description:
        - The container's service, its compose service, else its C(sutazai.chaos.service) label, else its name.
        - Null for a host interface.
      type: str
    device:
      description: The network device.
      type: str
    backend:
      description: V(netem), V(tbf), V(iptables-statistic), V(iptables) or a combination.
      type: str
    changed:
      description: Whether this target changed.
      type: bool
    replaced:
      description: The spec of the fault this one replaced, if any.
      type: dict
    entry_id:
      description: Ledger entry.
      type: str
    deadline:
      description: Epoch time at which the reaper removes the fault.
      type: float
  sample: [{"target": "sutazai-demo_backend_1", "compose_service": "backend", "service": "backend", "device": "eth0",
            "backend": "iptables-statistic", "changed": true}]
removed:
  description: With O(state=absent), the ledger entries undone.
  returned: when state is absent
  type: list
  elements: dict
leftovers:
  description:
    - With O(state=absent), faults of ours found on a target with no active ledger entry (the ledger was lost
      or edited), and removed too. Each item has C(target), C(device), C(qdisc) (our tree was there) and
      C(chains). An empty list after an experiment proves that nothing of ours was left behind.
  returned: when state is absent
  type: list
  elements: dict
"""

from ..module_utils._common import NOTHING_CHANGED, ChaosError, new_experiment_id, validate_duration
from ..module_utils._docker import DOCKER_ARG_SPEC, connect, list_containers
from ..module_utils._fault import FAULT_LIFETIME_ARG_SPEC, LEDGER_ARG_SPEC, FaultTransaction
from ..module_utils._module import build_module, exit_or_fail, inject_all, run_argv_with
from ..module_utils._network import (NetworkChaos, Target, default_interface, netem_available, plan,
                                     require_root, resolve_peers)
from ..module_utils._targets import SELECTION_ARG_SPEC, select_targets

PERCENT = dict(percent=dict(type="float", required=True), correlation=dict(type="float"))
FAULT_KEYS = ("delay", "loss", "duplicate", "corrupt", "reorder", "rate", "limit", "partition", "destinations")
OWN_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    interface=dict(type="str"),
    device=dict(type="str", default="eth0"),
    delay=dict(type="dict", options=dict(ms=dict(type="float", required=True), jitter_ms=dict(type="float"),
                                         correlation=dict(type="float"),
                                         distribution=dict(type="str", choices=["uniform", "normal", "pareto",
                                                                                "paretonormal"]))),
    loss=dict(type="dict", options=PERCENT),
    duplicate=dict(type="dict", options=PERCENT),
    corrupt=dict(type="dict", options=PERCENT),
    reorder=dict(type="dict", options=dict(PERCENT, gap=dict(type="int"))),
    rate=dict(type="str"),
    limit=dict(type="int"),
    partition=dict(type="dict", options=dict(
        peers=dict(type="list", elements="str", required=True),
        ports=dict(type="list", elements="int"),
        protocol=dict(type="str", default="all", choices=["tcp", "udp", "all"]),
        direction=dict(type="str", default="both", choices=["ingress", "egress", "both"]),
        action=dict(type="str", default="drop", choices=["drop", "reject"]))),
    destinations=dict(type="dict", options=dict(cidrs=dict(type="list", elements="str"),
                                                ports=dict(type="list", elements="int"))),
    protect_control_channel=dict(type="bool", default=True),
    spare=dict(type="dict", options=dict(ports=dict(type="list", elements="int"),
                                         addresses=dict(type="list", elements="str"))),
)


def _targets(module, params, run_argv):
    """Target objects, and the Docker client when containers are involved."""
    if params["targets"] is None:
        interface = params["interface"] or default_interface(run_argv)
        return [Target(interface)], None
    if params["interface"]:
        raise ChaosError("give either interface (a host interface) or targets (containers), not both. %s"
                         % NOTHING_CHANGED)
    client = connect(params)
    present = params["state"] == "present"
    selection = dict(params, allow_empty=params["allow_empty"] or not present)
    if not present:
        selection.update(select={"mode": "all"}, max_targets=None)
    containers, _report = select_targets(list_containers(client), selection, states=["running"] if present else None,
                                         check_protection=present)
    return [Target(params["device"], c) for c in containers], client


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, SELECTION_ARG_SPEC, LEDGER_ARG_SPEC, FAULT_LIFETIME_ARG_SPEC,
                          supports_check_mode=True)
    params = dict(module.params)
    run_argv = run_argv_with(module)

    def body():
        require_root()
        for tool in ("tc", "ip", "iptables", "nsenter"):
            module.get_bin_path(tool, required=True)
        present = params["state"] == "present"
        targets, client = _targets(module, params, run_argv)
        txn = FaultTransaction(params["state_dir"], params["experiment_id"] or new_experiment_id(), run_argv,
                               explicit_experiment=params["experiment_id"] is not None)
        chaos = NetworkChaos(params, run_argv, module.check_mode, txn)
        if not present:
            removed, leftovers = chaos.remove(targets)
            return dict(changed=bool(removed or leftovers), faults=[], experiment_id=params["experiment_id"],
                        removed=[{k: e.get(k) for k in ("id", "kind", "target", "spec")} for e in removed],
                        leftovers=leftovers)
        params["duration"] = validate_duration(params["duration"], params["max_duration"], required=True)
        fault = {k: params[k] for k in FAULT_KEYS if params[k] is not None}
        decided = plan(fault, netem_available())
        peers = resolve_peers(client, fault.get("partition"))
        if peers:
            fault["partition"] = dict(fault["partition"], addresses=peers)
        params["fault"] = fault
        if not module.check_mode:
            txn.refuse_if_stopped()
        return inject_all(module, txn, lambda: chaos.inject(targets, decided, peers), fault)

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
