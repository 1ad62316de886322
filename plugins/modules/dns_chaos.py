#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dns_chaos
short_description: Make names resolve to NXDOMAIN, SERVFAIL, a wrong address, or late, inside containers
version_added: 0.2.0
description:
  - For each container picked by the selection options, names matching one of the glob patterns in O(names)
    resolve to NXDOMAIN, SERVFAIL or a fixed address, or answer late; every other name resolves as before.
  - A small DNS responder of ours (standard-library Python, started from the host with C(nsenter)) runs in the
    container's network namespace, and nat rules of ours (chain C(SZC-...-D), hooked first into C(OUTPUT))
    send the container's DNS queries (UDP and TCP port 53) to it. Target images need nothing.
  - Queries that are not faulted (and delayed ones, once the delay has passed) are forwarded unchanged to the
    container's first nameserver in C(/etc/resolv.conf) as read at injection (RV(faults[].upstream)); for a
    container on a user-defined network that is Docker's embedded resolver 127.0.0.11, reached through Docker's
    own rules (ours are hooked in first, and the responder's marked queries pass them).
  - Which queries are steered. Normally every query to port 53, whatever the server; a query sent explicitly to
    another server (C(dig @192.0.2.53 name)) is answered through the container's configured resolver, not the
    server named. When that resolver is on a loopback address (Docker's embedded resolver 127.0.0.11, a local
    cache), only queries to it are steered, because it sends its own forwarded queries from the container's
    namespace and catching those would loop; there a C(dig @server) query is not faulted.
  - Only IPv4 DNS is steered; a container whose first nameserver is an IPv6 address is refused.
  - Each fault is a ledger entry with a deadline, written before anything starts; a reaper on the host removes the
    rules, then ends the responder, when O(duration) passes, even when the controller is gone. The same fault
    again is C(changed=false); a different DNS fault on the same container replaces the active one (the old one
    is undone first, so for a moment names resolve normally).
  - Containers that share the host's network namespace (network_mode host) are refused.
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
    description: Validates the fault, reports the targets, their upstream resolver and whether a fault would be
      added or replaced; starts nothing.
  diff_mode:
    support: full
    description: The active DNS fault spec before and after, per target.
  idempotent:
    support: full
    description: The same fault again is unchanged; O(state=absent) twice removes nothing the second time.
options:
  state:
    description:
      - V(present) applies the fault.
      - V(absent) undoes this collection's DNS faults on the targets (from the ledger), then removes any nat chain
        of ours for DNS and ends any responder of ours still there without a ledger entry (reported as
        RV(leftovers)).
    type: str
    default: present
    choices: [present, absent]
  names:
    description:
      - Glob patterns of the names to fault (C(fnmatch) syntax with C(*), C(?) and C([...])), matched
        case-insensitively, a trailing dot ignored. For example V(api.test) or V(*.internal).
      - Required with O(state=present).
    type: list
    elements: str
  answer:
    description:
      - V(nxdomain) answers "no such name" (RCODE 3), V(servfail) answers "server failure" (RCODE 2).
      - V(address) answers O(address) (an A record for an IPv4 address, AAAA for IPv6; the other type gets an
        empty answer).
      - V(delay) waits O(delay_ms), then forwards the query as usual.
      - Required with O(state=present).
    type: str
    choices: [nxdomain, servfail, address, delay]
  address:
    description: The address matching names resolve to (an IPv4 or IPv6 address); only with O(answer=address).
    type: str
  delay_ms:
    description: Milliseconds added before a matching query is answered (1 to 30000); only with O(answer=delay).
    type: int
  percent:
    description: Share of the matching queries that are faulted (0 to 100); the others are answered normally.
    type: float
    default: 100
  seed:
    description: Seed of the random draw behind O(percent), so that the same queries get the same faults.
    type: str
"""

EXAMPLES = r"""
- name: The backend cannot resolve redis for 60 s
  sutazai.chaos.dns_chaos:
    targets: {compose_services: [backend]}
    names: [redis, "redis.*"]
    answer: nxdomain
    duration: 60

- name: Half of the lookups of *.internal fail with SERVFAIL (reproducibly)
  sutazai.chaos.dns_chaos:
    targets: {names: [web]}
    names: ["*.internal"]
    answer: servfail
    percent: 50
    seed: run-42
    duration: 120

- name: Slow DNS for the payment API
  sutazai.chaos.dns_chaos:
    targets: {names: [web]}
    names: [payments.example.com]
    answer: delay
    delay_ms: 1500
    duration: 60

- name: Remove our DNS faults from the backend now
  sutazai.chaos.dns_chaos:
    targets: {compose_services: [backend]}
    state: absent
"""

RETURN = r"""
experiment_id:
  description: The experiment the faults were recorded under.
  returned: always
  type: str
faults:
  description: One item per target container.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Container name.
      type: str
    target:
      description: Container name (the key other fault modules use).
      type: str
    service:
      description: The container's service, its compose service, else its C(sutazai.chaos.service) label, else
        its name.
      type: str
    compose_service:
      description: Compose service of the container, if any.
      type: str
    names:
      description: The glob patterns faulted.
      type: list
      elements: str
    answer:
      description: The fault answer.
      type: str
    percent:
      description: Share of matching queries faulted.
      type: float
    upstream:
      description: The resolver unmatched queries are forwarded to (the container's first nameserver).
      type: str
    responder_port:
      description: The port our responder listens on in the container's namespace (null in check mode).
      type: int
    deadline:
      description: Epoch time at which the reaper removes the fault.
      type: float
    injected_at:
      description: Epoch time at which the fault was in place (for an unchanged fault, when it was recorded).
      type: float
    entry_id:
      description: Ledger entry.
      type: str
    changed:
      description: Whether this target changed.
      type: bool
    replaced:
      description: The spec of the DNS fault this one replaced, if any.
      type: dict
  sample: [{"name": "sutazai-demo_backend_1", "target": "sutazai-demo_backend_1", "service": "backend",
            "names": ["redis"], "answer": "nxdomain", "percent": 100.0, "upstream": "127.0.0.11",
            "responder_port": 23817, "changed": true}]
removed:
  description: With O(state=absent), the ledger entries undone.
  returned: when state is absent
  type: list
  elements: dict
leftovers:
  description:
    - With O(state=absent), DNS nat chains and responder processes of ours found on a target with no active
      ledger entry, and removed too. Each item has C(target), C(chains) and C(responders) (process ids).
  returned: when state is absent
  type: list
  elements: dict
"""

from ..module_utils._common import new_experiment_id, validate_duration
from ..module_utils._dns import DnsChaos, validate
from ..module_utils._docker import DOCKER_ARG_SPEC, connect, list_containers
from ..module_utils._fault import FAULT_LIFETIME_ARG_SPEC, LEDGER_ARG_SPEC, FaultTransaction
from ..module_utils._module import build_module, exit_or_fail, inject_all, run_argv_with
from ..module_utils._targets import SELECTION_ARG_SPEC, select_targets

OWN_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    names=dict(type="list", elements="str"),
    answer=dict(type="str", choices=["nxdomain", "servfail", "address", "delay"]),
    address=dict(type="str"),
    delay_ms=dict(type="int"),
    percent=dict(type="float", default=100.0),
    seed=dict(type="str"),
)


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, SELECTION_ARG_SPEC, LEDGER_ARG_SPEC, FAULT_LIFETIME_ARG_SPEC,
                          needs_docker=True, supports_check_mode=True,
                          required_if=[("state", "present", ("names", "answer"))])
    params = dict(module.params)
    run_argv = run_argv_with(module)

    def body():
        for tool in ("iptables", "nsenter"):
            module.get_bin_path(tool, required=True)
        present = params["state"] == "present"
        spec = validate(params) if present else None
        if present:
            params["duration"] = validate_duration(params["duration"], params["max_duration"], required=True)
        selection = dict(params, allow_empty=params["allow_empty"] or not present)
        if not present:
            selection.update(select={"mode": "all"}, max_targets=None)
        containers, _report = select_targets(list_containers(connect(params)), selection,
                                             states=["running"] if present else None,
                                             check_protection=present)
        txn = FaultTransaction(params["state_dir"], params["experiment_id"] or new_experiment_id(), run_argv,
                               explicit_experiment=params["experiment_id"] is not None)
        chaos = DnsChaos(params, spec, run_argv, module.check_mode, txn)
        if not present:
            removed, leftovers = chaos.remove(containers)
            return dict(changed=bool(removed or leftovers), faults=[], experiment_id=params["experiment_id"],
                        removed=[{k: e.get(k) for k in ("id", "kind", "target", "spec")} for e in removed],
                        leftovers=leftovers)
        if not module.check_mode:
            txn.refuse_if_stopped()
        return inject_all(module, txn, lambda: chaos.inject(containers), spec, changed_only=True)

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
