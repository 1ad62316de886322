#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: http_chaos
short_description: Delay, abort, reset or rewrite HTTP requests to or from containers
version_added: 0.2.0
description:
  - Faults plain HTTP/1.0 and HTTP/1.1 traffic on one TCP port of the containers picked by the selection options.
    A small proxy of ours (Python standard library) is started on the host inside each target's network
    namespace, and nat rules in a chain of our own (C(SZC-...-H)) steer the port's traffic to it, so the image
    needs nothing.
  - With O(direction=inbound), requests that reach the target on O(port) from elsewhere pass through the proxy
    (nat C(PREROUTING)); requests the container sends to itself (over C(lo)) are not faulted. With
    O(direction=outbound), the targets are the clients, and their requests to O(port) (optionally only towards
    O(destinations)) pass through the proxy (nat C(OUTPUT)).
  - A request that matches O(match) is faulted with probability O(percent)/100, drawn from a random sequence
    seeded with O(seed) in the order matching requests arrive (one keep-alive client sees the same faults each
    run). Unmatched requests are forwarded unchanged. Keep-alive is kept on both sides.
  - TLS (a connection starting with a ClientHello), HTTP/2 (prior knowledge, the C(PRI *) preface) and any other
    protocol on the port are forwarded byte for byte and never faulted; so is a connection after
    C(101 Switching Protocols) (WebSocket, h2c). Only IPv4 traffic is steered.
  - Each fault is a ledger entry with a deadline, recorded before the proxy starts; the reaper removes the rules
    first, then ends the proxy, when O(duration) passes, even when the controller is gone. New connections then
    go directly to the server; keep-alive connections still open through the proxy are closed when it ends, and
    clients reconnect directly.
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
    description: Reports the targets and whether a fault would be added or replaced; starts nothing.
  diff_mode:
    support: full
    description: The active fault spec before and after, per target.
  idempotent:
    support: full
    description: The same fault again is unchanged; a different fault on the same port and direction replaces it.
options:
  state:
    description:
      - V(present) applies the fault.
      - V(absent) undoes this collection's HTTP faults on the targets (only those on O(port) when it is given),
        then removes any nat chain of ours for HTTP faults still there without an active ledger entry.
    type: str
    default: present
    choices: [present, absent]
  port:
    description: The TCP port whose HTTP traffic is faulted (the server's port, in both directions).
    type: int
  direction:
    description:
      - V(inbound) faults requests arriving at the targets; V(outbound) faults requests the targets send.
    type: str
    default: inbound
    choices: [inbound, outbound]
  destinations:
    description:
      - With O(direction=outbound), only requests to these addresses, CIDRs or container names (resolved to
        their addresses). All destinations when omitted.
    type: list
    elements: str
  match:
    description: Which requests may be faulted; all given conditions must hold. Every request when omitted.
    type: dict
    suboptions:
      methods:
        description: Request methods (case-insensitive).
        type: list
        elements: str
      path_prefix:
        description: The request path (with its query) starts with this.
        type: str
      path_regex:
        description: A Python regular expression searched for in the request path (with its query).
        type: str
      headers:
        description:
          - Header name (case-insensitive) to value; a header matches when one of its values equals the value,
            or fully matches it as a Python regular expression. Each value must be a string (quote numbers).
        type: dict
  percent:
    description: Percent of matching requests faulted (0 to 100).
    type: float
    default: 100
  seed:
    description: Seed of the draw that picks the faulted requests; random when omitted.
    type: int
  delay_ms:
    description: Hold each faulted request this many milliseconds before forwarding it.
    type: int
  abort:
    description: Answer faulted requests without forwarding them.
    type: dict
    suboptions:
      status:
        description: Answer with this HTTP status code (100 to 599), a short text body and keep-alive.
        type: int
      reset:
        description: Reset the client's connection (TCP RST) instead.
        type: bool
  replace_body:
    description:
      - Forward faulted requests, then replace the response body with this text (UTF-8). C(Content-Length) is
        set again; C(Transfer-Encoding), C(Content-Encoding) and C(ETag) are dropped.
    type: str
notes:
  - Give exactly one of O(delay_ms), O(abort) or O(replace_body). O(port) is required with O(state=present).
  - When nothing listens on O(port) in a target (inbound), the module warns and applies the fault anyway.
  - Needs C(iptables) and C(nsenter) (util-linux) on the host, and root.
seealso:
  - module: sutazai.chaos.network_chaos
  - module: sutazai.chaos.chaos_rollback
"""

EXAMPLES = r"""
- name: 30 % of the backend's API requests answer 503 for 60 s (reproducible draw)
  sutazai.chaos.http_chaos:
    targets: {compose_services: [backend]}
    port: 8000
    match: {path_prefix: /api/}
    percent: 30
    seed: 42
    abort: {status: 503}
    duration: 60

- name: Every POST from the frontend to the backend takes 400 ms longer
  sutazai.chaos.http_chaos:
    targets: {compose_services: [frontend]}
    direction: outbound
    port: 8000
    destinations: [sutazai-demo_backend_1]
    match: {methods: [POST]}
    delay_ms: 400
    duration: 30

- name: Remove our HTTP faults from the backend now
  sutazai.chaos.http_chaos:
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
      description: Container name (as in the other fault modules' C(faults)).
      type: str
    service:
      description: The container's service, its compose service, else its C(sutazai.chaos.service) label, else its name.
      type: str
    port:
      description: The faulted TCP port.
      type: int
    direction:
      description: V(inbound) or V(outbound).
      type: str
    proxy_port:
      description: The port the proxy listens on in the container's network namespace (null in check mode).
      type: int
    action:
      description: V(delay), V(abort_status), V(abort_reset) or V(replace_body).
      type: str
    percent:
      description: Percent of matching requests faulted.
      type: float
    deadline:
      description: Epoch time at which the reaper removes the fault.
      type: float
    injected_at:
      description: Epoch time at which the fault was in place.
      type: float
    changed:
      description: Whether this target changed.
      type: bool
    replaced:
      description: The spec of the fault this one replaced, if any.
      type: dict
    entry_id:
      description: Ledger entry.
      type: str
  sample: [{"name": "sutazai-demo_backend_1", "target": "sutazai-demo_backend_1", "service": "backend",
            "port": 8000, "direction": "inbound", "proxy_port": 23517, "action": "abort_status", "percent": 30.0,
            "deadline": 1764586800.5, "injected_at": 1764586740.5, "changed": true}]
removed:
  description: With O(state=absent), the ledger entries undone.
  returned: when state is absent
  type: list
  elements: dict
leftovers:
  description:
    - With O(state=absent), nat chains of ours for HTTP faults found on a target without an active ledger entry,
      and removed too. Each item has C(target) and C(chains).
  returned: when state is absent
  type: list
  elements: dict
"""

from ..module_utils._common import NOTHING_CHANGED, ChaosError, new_experiment_id, validate_duration
from ..module_utils._docker import DOCKER_ARG_SPEC, connect, list_containers
from ..module_utils._fault import FAULT_LIFETIME_ARG_SPEC, LEDGER_ARG_SPEC, FaultTransaction
from ..module_utils._http import HttpChaos, validate
from ..module_utils._module import build_module, exit_or_fail, inject_all, run_argv_with
from ..module_utils._network import resolve_peers
from ..module_utils._targets import SELECTION_ARG_SPEC, select_targets

OWN_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    port=dict(type="int"),
    direction=dict(type="str", default="inbound", choices=["inbound", "outbound"]),
    destinations=dict(type="list", elements="str"),
    match=dict(type="dict", options=dict(
        methods=dict(type="list", elements="str"),
        path_prefix=dict(type="str"),
        path_regex=dict(type="str"),
        headers=dict(type="dict"))),
    percent=dict(type="float", default=100.0),
    seed=dict(type="int"),
    delay_ms=dict(type="int"),
    abort=dict(type="dict", options=dict(status=dict(type="int"), reset=dict(type="bool"))),
    replace_body=dict(type="str"),
)


def _containers(client, params, present):
    if params["targets"] is None:
        raise ChaosError("targets is required: http_chaos faults containers. %s" % NOTHING_CHANGED)
    selection = dict(params, allow_empty=params["allow_empty"] or not present)
    if not present:
        selection.update(select={"mode": "all"}, max_targets=None)
    containers, _report = select_targets(list_containers(client), selection, states=["running"] if present else None,
                                         check_protection=present)
    return containers


def main():
    module = build_module(OWN_SPEC, DOCKER_ARG_SPEC, SELECTION_ARG_SPEC, LEDGER_ARG_SPEC, FAULT_LIFETIME_ARG_SPEC,
                          supports_check_mode=True)
    params = dict(module.params)
    run_argv = run_argv_with(module)

    def body():
        for tool in ("iptables", "nsenter"):
            module.get_bin_path(tool, required=True)
        present = params["state"] == "present"
        if present:
            if params["port"] is None:
                raise ChaosError("port is required with state=present. %s" % NOTHING_CHANGED)
            spec = validate(params)
            params["duration"] = validate_duration(params["duration"], params["max_duration"], required=True)
        client = connect(params)
        containers = _containers(client, params, present)
        txn = FaultTransaction(params["state_dir"], params["experiment_id"] or new_experiment_id(), run_argv,
                               explicit_experiment=params["experiment_id"] is not None)
        chaos = HttpChaos(params, run_argv, module.check_mode, txn, module.warn)
        if not present:
            removed, leftovers = chaos.remove(containers)
            return dict(changed=bool(removed or leftovers), faults=[], experiment_id=params["experiment_id"],
                        removed=[{k: e.get(k) for k in ("id", "kind", "target", "spec")} for e in removed],
                        leftovers=leftovers)
        cidrs = resolve_peers(client, {"peers": spec["destinations"]}) if spec["destinations"] else []
        if not module.check_mode:
            txn.refuse_if_stopped()
        return inject_all(module, txn, lambda: chaos.inject(containers, spec, cidrs), spec)

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
