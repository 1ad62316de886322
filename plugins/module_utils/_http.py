# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP faults (http_chaos): a proxy of ours in a container's network namespace, traffic steered to it by nat rules.

``inbound``: requests arriving at the target on ``port`` (nat PREROUTING in its namespace) go through the proxy,
which forwards them to the original destination. ``outbound``: the targets are the clients; their requests to
``port`` (optionally only towards ``destinations``) are steered from nat OUTPUT. The proxy's own upstream
connections carry the pass mark, so they are not steered again. One ledger entry per (target, port, direction)
holds the chain's removal and the proxy's end, recorded before either exists.
"""

from __future__ import annotations

import re
import time

from . import _http_proxy
from ._common import NOTHING_CHANGED, ChaosError
from ._iptables import CHAIN_PREFIX
from ._sidecar import (PASS_MARK, free_port, nat_chain, nat_install_commands, nat_remove_commands, netns_prefix,
                       new_marker, port_in_use, redirect_rule, start_sidecar, undo_steps)
from ._targets import service_of

KIND = "http_chaos"
HOOKS = {"inbound": "PREROUTING", "outbound": "OUTPUT"}
CHAIN_SUFFIX = "H"
ACTIONS = ("delay_ms", "abort", "replace_body")
MAX_DELAY_MS = 600000


def _fail(text):
    raise ChaosError("%s %s" % (text, NOTHING_CHANGED))


def validate(params):
    """The fault spec from the module's parameters; ChaosError naming what is wrong (nothing applied)."""
    given = [name for name in ACTIONS if params.get(name) is not None]
    if len(given) != 1:
        _fail("give exactly one action of delay_ms, abort or replace_body (got %s)."
              % (", ".join(given) or "none"))
    port = params["port"]
    if not 1 <= port <= 65535:
        _fail("port must be between 1 and 65535, got %d." % port)
    percent = params["percent"]
    if not 0 <= percent <= 100:
        _fail("percent must be between 0 and 100, got %s." % percent)
    action = {}
    if params.get("delay_ms") is not None:
        if not 0 < params["delay_ms"] <= MAX_DELAY_MS:
            _fail("delay_ms must be above 0 and at most %d, got %s." % (MAX_DELAY_MS, params["delay_ms"]))
        action["delay_ms"] = params["delay_ms"]
    if params.get("abort") is not None:
        abort = params["abort"]
        if (abort.get("status") is None) == (not abort.get("reset")):
            _fail("abort needs exactly one of status (an HTTP status code) or reset: true.")
        if abort.get("status") is not None:
            if not 100 <= abort["status"] <= 599:
                _fail("abort.status must be an HTTP status code between 100 and 599, got %d." % abort["status"])
            action["status"] = abort["status"]
        else:
            action["reset"] = True
    if params.get("replace_body") is not None:
        action["replace_body"] = params["replace_body"]
    match = {k: v for k, v in (params.get("match") or {}).items() if v}
    for key, pattern in [("path_regex", match.get("path_regex"))] + \
            [("headers.%s" % k, v) for k, v in (match.get("headers") or {}).items()]:
        if pattern is None and key == "path_regex":
            continue
        if not isinstance(pattern, str):  # the proxy compiles every header value: a number or null kills it
            _fail("match.%s must be a string (a value or a regular expression), got %r." % (key, pattern))
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:  # a huge {n} overflows
            _fail("match.%s %r is not a valid regular expression (%s)." % (key, pattern, exc))
    if "methods" in match:
        match["methods"] = sorted({m.upper() for m in match["methods"]})
    if match.get("path_prefix") and not match["path_prefix"].startswith("/"):
        _fail("match.path_prefix must start with /, got %r." % match["path_prefix"])
    if params["direction"] == "inbound" and params.get("destinations"):
        _fail("destinations only applies to direction outbound (inbound faults the target's own port).")
    return {"port": port, "direction": params["direction"], "match": match, "percent": float(percent),
            "seed": params.get("seed"), "action": action, "destinations": list(params.get("destinations") or [])}


def action_name(action):
    if "delay_ms" in action:
        return "delay"
    if "status" in action:
        return "abort_status"
    return "abort_reset" if action.get("reset") else "replace_body"


def proxy_config(spec, proxy_port):
    return {"listen_port": proxy_port, "pass_mark": PASS_MARK, "match": spec["match"], "percent": spec["percent"],
            "seed": spec["seed"], "action": spec["action"]}


def steering_rules(spec, proxy_port, destination_cidrs):
    """The nat rules of one fault (argument lists after ``-A <chain>``)."""
    if spec["direction"] == "inbound" or not destination_cidrs:
        return [redirect_rule("tcp", spec["port"], proxy_port)]
    return [redirect_rule("tcp", spec["port"], proxy_port, destination=cidr) for cidr in destination_cidrs]


def target_record(container, spec):
    return {"id": container["id"], "name": container["name"], "service": service_of(container),
            "compose_service": container.get("compose_service"), "port": spec["port"],
            "direction": spec["direction"]}


def our_nat_chains(save_output):
    """Chains of ours in ``iptables -t nat -S`` output (http_chaos's end in -H)."""
    return sorted({line.split()[1] for line in save_output.splitlines()
                   if line.startswith("-N %s" % CHAIN_PREFIX) and line.split()[1].endswith("-" + CHAIN_SUFFIX)})


class HttpChaos:
    def __init__(self, params, run_argv, check_mode, txn, warn):
        self.params = params
        self.run_argv = run_argv
        self.check_mode = check_mode
        self.txn = txn
        self.warn = warn

    def run(self, container, argv):
        rc, out, err = self.run_argv(netns_prefix(container) + list(argv))
        if rc != 0:
            raise ChaosError("`%s` failed in %s's network namespace (rc %s): %s"
                             % (" ".join(argv), container["name"], rc, (err or out).strip()))
        return out

    def _held(self, record):
        return next((e for e in self.txn.ledger.entries() if e.get("kind") == KIND
                     and e["target"]["id"] == record["id"] and e["target"].get("port") == record["port"]
                     and e["target"].get("direction") == record["direction"]), None)

    def inject(self, containers, spec, destination_cidrs):
        results = []
        for container in containers:
            record = target_record(container, spec)
            held = self._held(record)
            result = {"name": container["name"], "target": container["name"], "service": record["service"],
                      "port": spec["port"], "direction": spec["direction"], "action": action_name(spec["action"]),
                      "percent": spec["percent"], "proxy_port": None, "deadline": None, "injected_at": None,
                      "changed": True, "replaced": held["spec"] if held else None}
            self.txn.check_conflict(held, same_spec=bool(held) and held["spec"] == spec)
            if held and held["spec"] == spec:
                result.update(changed=False, note="the same fault is already active", entry_id=held["id"],
                              deadline=held["deadline"], proxy_port=held["target"].get("proxy_port"),
                              injected_at=held.get("created"))
                results.append(result)
                continue
            if spec["direction"] == "inbound" and not port_in_use(container["pid"], spec["port"]):
                self.warn("nothing listens on TCP port %d in %s: the fault is applied, but no request reaches it "
                          "until something does" % (spec["port"], container["name"]))
            if self.check_mode:
                results.append(result)
                continue
            if held:  # a different fault on the same port: the old proxy and rules go first
                self.txn.revert_where(lambda e, held_id=held["id"]: e["id"] == held_id)
            entry = self._apply(container, record, spec, destination_cidrs)
            result.update(entry_id=entry["id"], deadline=entry["deadline"], proxy_port=entry["target"]["proxy_port"],
                          injected_at=time.time())
            results.append(result)
        return results

    def _apply(self, container, record, spec, destination_cidrs):
        proxy_port = free_port(container["pid"], "tcp")
        marker = new_marker()
        chain, hook = nat_chain(marker, CHAIN_SUFFIX), HOOKS[spec["direction"]]
        install = nat_install_commands(chain, hook, steering_rules(spec, proxy_port, destination_cidrs))
        undo = undo_steps(container, nat_remove_commands(chain, hook), marker, _http_proxy)
        record = dict(record, proxy_port=proxy_port, chain=chain)

        def action():
            # The proxy first (it must listen before traffic is steered to it), then the rules.
            start_sidecar(self.params["state_dir"], container, _http_proxy, proxy_config(spec, proxy_port), marker,
                          proxy_port, "tcp")
            for argv in install:
                self.run(container, argv)

        entry, _ignored = self.txn.apply(KIND, record, spec, undo, self.params["duration"], action)
        return entry

    def remove(self, containers):
        """Undo the ledger's http faults on the containers, then any nat chain of ours still there."""
        ids = {c["id"] for c in containers}
        port = self.params.get("port")
        reverted = self.txn.revert_where(
            lambda e: e.get("kind") == KIND and e["target"]["id"] in ids
            and (port is None or e["target"].get("port") == port), check_mode=self.check_mode)
        still_active = {e["target"].get("chain") for e in self.txn.ledger.entries() if e.get("kind") == KIND}
        leftovers = []
        for container in (c for c in containers if c.get("pid")):  # a stopped container has no namespace
            save = self.run(container, ["iptables", "-w", "5", "-t", "nat", "-S"])
            chains = [c for c in our_nat_chains(save) if c not in still_active]
            if not chains:
                continue
            leftovers.append({"target": container["name"], "chains": chains})
            if self.check_mode:
                continue
            for chain in chains:
                for hook in HOOKS.values():
                    while "-A %s -j %s" % (hook, chain) in save:
                        self.run(container, nat_remove_commands(chain, hook)[0])
                        save = save.replace("-A %s -j %s" % (hook, chain), "", 1)
                self.run(container, nat_remove_commands(chain, "PREROUTING")[1])
                self.run(container, nat_remove_commands(chain, "PREROUTING")[2])
        return reverted, leftovers
