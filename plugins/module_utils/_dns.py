# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""DNS faults in containers: our responder (``_dns_responder.py``) in the target's network namespace, and nat
rules of ours that steer the container's DNS queries (UDP and TCP port 53, any server) to it.

One ledger entry per container holds the fault and its undo (``_sidecar.undo_steps``: the rules go first, then
the responder). The entry is written before the responder starts, so a module killed halfway still leaves an
entry that the reaper undoes at the deadline.
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
import time

from . import _dns_responder
from ._common import NOTHING_CHANGED, ChaosError
from ._sidecar import (GONE_ERRORS, free_port, listening, nat_chain, nat_install_commands, nat_remove_commands,
                       netns_prefix, new_marker, redirect_rule, start_sidecar, undo_steps)
from ._targets import service_of

KIND = "dns_chaos"
ANSWERS = ("nxdomain", "servfail", "address", "delay")
MAX_DELAY_MS = 30000  # glibc gives up on a server after 5 s by default; longer delays only test timeouts
MAX_PATTERNS = 64
SPEC_KEYS = ("names", "answer", "address", "delay_ms", "percent", "seed")
CHAIN_SUFFIX = "D"
RESPONDER_COMMAND = b"sutazai_chaos_reaper._dns_responder"  # the module name in its command line
HOOK = "OUTPUT"  # the container's own queries leave through OUTPUT (also those to Docker's 127.0.0.11)


def validate(params):
    """The fault spec from the module's options; ChaosError (nothing changed) on bad input."""
    names = [n.strip() for n in params.get("names") or []]
    if not names or any(not n for n in names):
        raise ChaosError("names must be a non-empty list of non-empty glob patterns (for example api.test or "
                         "*.internal). %s" % NOTHING_CHANGED)
    if len(names) > MAX_PATTERNS:
        raise ChaosError("names has %d patterns; at most %d are allowed. %s"
                         % (len(names), MAX_PATTERNS, NOTHING_CHANGED))
    answer = params.get("answer")
    if answer not in ANSWERS:
        raise ChaosError("answer must be one of %s, not %r. %s" % (", ".join(ANSWERS), answer, NOTHING_CHANGED))
    percent = params.get("percent")
    percent = 100.0 if percent is None else float(percent)
    if not 0 <= percent <= 100:
        raise ChaosError("percent must be between 0 and 100, not %s. %s" % (percent, NOTHING_CHANGED))
    spec = {"names": names, "answer": answer, "address": None, "delay_ms": None, "percent": percent,
            "seed": params.get("seed")}
    address, delay_ms = params.get("address"), params.get("delay_ms")
    if answer == "address":
        try:
            spec["address"] = str(ipaddress.ip_address((address or "").strip()))
        except ValueError:
            raise ChaosError("answer=address needs address, an IPv4 or IPv6 address (got %r). %s"
                             % (address, NOTHING_CHANGED))
    elif address is not None:
        raise ChaosError("address is only used with answer=address (answer is %s). %s" % (answer, NOTHING_CHANGED))
    if answer == "delay":
        if delay_ms is None or not 1 <= delay_ms <= MAX_DELAY_MS:
            raise ChaosError("answer=delay needs delay_ms between 1 and %d (got %s). %s"
                             % (MAX_DELAY_MS, delay_ms, NOTHING_CHANGED))
        spec["delay_ms"] = int(delay_ms)
    elif delay_ms is not None:
        raise ChaosError("delay_ms is only used with answer=delay (answer is %s). %s" % (answer, NOTHING_CHANGED))
    return spec


def upstream_of(container):
    """The container's first nameserver, from its /etc/resolv.conf as seen now (through /proc/<pid>/root)."""
    path = "/proc/%d/root/etc/resolv.conf" % container["pid"]
    try:
        with open(path) as handle:
            text = handle.read()
    except OSError as exc:
        raise ChaosError("cannot read %s's resolver configuration (%s): %s. %s"
                         % (container["name"], path, exc.strerror, NOTHING_CHANGED))
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                address = ipaddress.ip_address(fields[1].split("%", 1)[0])
            except ValueError:
                continue
            if address.version != 4:
                raise ChaosError("%s's first nameserver is %s, an IPv6 address; dns_chaos steers IPv4 DNS only. %s"
                                 % (container["name"], address, NOTHING_CHANGED))
            return str(address)
    raise ChaosError("%s's /etc/resolv.conf names no nameserver, so there is no resolver to forward the "
                     "unmatched queries to. %s" % (container["name"], NOTHING_CHANGED))


def steered_destination(upstream):
    """Which queries our rules steer: all port-53 traffic, or, when the container's resolver lives in its own
    namespace on a loopback address (Docker's embedded resolver 127.0.0.11 on user-defined networks, a local
    cache), only the queries to it. Such a resolver sends its own forwarded queries from the container's namespace
    without our mark; steering them back to the responder would loop."""
    return upstream if ipaddress.ip_address(upstream).is_loopback else None


def require_own_netns(container):
    """Refuse a container that shares the network namespace this module runs in (the host's, for a container with
    network_mode host): our rules would steer the host's own DNS."""
    try:
        ours = os.stat("/proc/%d/ns/net" % container["pid"]).st_ino
        host = os.stat("/proc/self/ns/net").st_ino
    except OSError as exc:
        raise ChaosError("cannot inspect %s's network namespace: %s. %s"
                         % (container["name"], exc.strerror, NOTHING_CHANGED))
    if ours == host:
        raise ChaosError("%s shares the host's network namespace (network_mode host); a DNS fault there would "
                         "steer the host's own queries. %s" % (container["name"], NOTHING_CHANGED))


def responder_port(pid):
    """A port free for both UDP and TCP in the container's namespace."""
    for _attempt in range(50):
        port = free_port(pid, "udp")
        if not listening(pid, port, "tcp"):
            return port
    raise ChaosError("no port free for both UDP and TCP in the target's network namespace. %s" % NOTHING_CHANGED)


def target_record(container):
    return {"id": container["id"], "name": container["name"], "pid": container["pid"],
            "compose_service": container.get("compose_service"), "service": service_of(container)}


def responders_in(container):
    """PIDs of our DNS responders (by command line) living in the container's network namespace, zombies aside."""
    try:
        netns = os.stat("/proc/%d/ns/net" % container["pid"]).st_ino
    except OSError:
        return []
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as handle:
                if RESPONDER_COMMAND not in handle.read().split(b"\0"):
                    continue
            with open("/proc/%s/stat" % name) as handle:
                zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
            if not zombie and os.stat("/proc/%s/ns/net" % name).st_ino == netns:
                found.append(int(name))
        except (OSError, IndexError):
            continue
    return found


def end_responders(pids):
    """SIGTERM leftover responders (their ledger entry is gone, so no recorded undo will)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass


def our_chains(iptables_save):
    """Our DNS nat chains in ``iptables -t nat -S`` output (a lost ledger entry's leftovers)."""
    return sorted({line.split()[1] for line in iptables_save.splitlines()
                   if line.startswith("-N SZC-") and line.split()[1].endswith("-" + CHAIN_SUFFIX)})


class DnsChaos:
    def __init__(self, params, spec, run_argv, check_mode, txn):
        self.params = params
        self.spec = spec
        self.run_argv = run_argv
        self.check_mode = check_mode
        self.txn = txn

    def run_in(self, container, argv, tolerate_gone=False):
        rc, out, err = self.run_argv(netns_prefix(container) + list(argv))
        if rc != 0 and not (tolerate_gone and re.search(GONE_ERRORS, err or "")):
            raise ChaosError("`%s` failed in %s's network namespace (rc %s): %s"
                             % (" ".join(argv), container["name"], rc, (err or out).strip()))
        return out

    def _held(self, container):
        return next((e for e in self.txn.ledger.entries()
                     if e.get("kind") == KIND and e["target"]["id"] == container["id"]), None)

    def inject(self, containers):
        results = []
        for container in containers:
            held = self._held(container)
            held_spec = {k: held["spec"].get(k) for k in SPEC_KEYS} if held else None
            same = held_spec == self.spec
            self.txn.check_conflict(held, same_spec=same)
            result = dict(name=container["name"], target=container["name"], service=service_of(container),
                          compose_service=container.get("compose_service"), names=self.spec["names"],
                          answer=self.spec["answer"], percent=self.spec["percent"], changed=True,
                          replaced=held_spec if held and not same else None, upstream=None, responder_port=None,
                          deadline=None, injected_at=None, entry_id=None)
            if held and same:
                result.update(changed=False, note="the same DNS fault is already active", entry_id=held["id"],
                              deadline=held.get("deadline"), upstream=held["spec"].get("upstream"),
                              responder_port=held["spec"].get("responder_port"),
                              injected_at=held.get("created"))
                results.append(result)
                continue
            require_own_netns(container)
            result["upstream"] = upstream_of(container)
            if self.check_mode:
                results.append(result)
                continue
            if held:  # a different DNS fault on this target: undo it first (one responder per namespace)
                self.txn.revert_where(lambda e, held_id=held["id"]: e["id"] == held_id)
            entry = self._inject_one(container, result["upstream"])
            result.update(entry_id=entry["id"], deadline=entry.get("deadline"),
                          responder_port=entry["spec"]["responder_port"], injected_at=time.time())
            results.append(result)
        return results

    def _inject_one(self, container, upstream):
        port = responder_port(container["pid"])
        marker = new_marker()
        chain = nat_chain(marker, CHAIN_SUFFIX)
        rules = [redirect_rule(protocol, 53, port, destination=steered_destination(upstream))
                 for protocol in ("udp", "tcp")]
        undo = undo_steps(container, nat_remove_commands(chain, HOOK), marker, _dns_responder)
        spec = dict(self.spec, upstream=upstream, responder_port=port, chain=chain)
        config = dict(self.spec, upstream=upstream, port=port)

        def apply():
            start_sidecar(self.params["state_dir"], container, _dns_responder, config, marker, port, "udp")
            for argv in nat_install_commands(chain, HOOK, rules):
                self.run_in(container, argv)

        entry, _ignored = self.txn.apply(KIND, target_record(container), spec, undo, self.params["duration"], apply)
        return entry

    def remove(self, containers):
        """Undo the ledger's DNS faults on the containers, then remove any chain of ours still hooked there and
        end any responder of ours still running in their namespaces (a lost ledger entry's leftovers).

        Returns (reverted entries, leftovers found per container)."""
        ids = {c["id"] for c in containers}
        reverted = self.txn.revert_where(lambda e: e.get("kind") == KIND and e["target"]["id"] in ids,
                                         check_mode=self.check_mode)
        leftovers = []
        for container in containers:
            if not container.get("pid"):
                continue
            chains = our_chains(self.run_in(container, ["iptables", "-w", "5", "-t", "nat", "-S"]))
            responders = responders_in(container)
            if chains or responders:
                leftovers.append({"target": container["name"], "chains": chains, "responders": responders})
                if not self.check_mode:
                    for chain in chains:  # rules first: traffic flows directly again before a responder ends
                        for argv in nat_remove_commands(chain, HOOK):
                            self.run_in(container, argv, tolerate_gone=True)
                    end_responders(responders)
        return reverted, leftovers
