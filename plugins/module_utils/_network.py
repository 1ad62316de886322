# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Network faults on a host interface or inside containers' network namespaces.

A container's faults are applied from the host with ``nsenter --net=/proc/<pid>/ns/net``
and the host's ``tc``/``iptables``, so target images need neither. One ledger entry
per (target, device) holds the whole fault and its undo.
"""

from __future__ import annotations

import ipaddress
import json
import os

from ._common import NOTHING_CHANGED, ChaosError
from ._iptables import (IptablesError, chain_names, install_commands, list_our_chains, loss_rules, orphan_commands,
                        partition_rules, remove_commands)
from ._iptables import is_gone as iptables_gone
from ._procfs import PROC, read_stat
from ._targets import service_of
from ._trust import describe_user
from ._tc import TcError, netem_args, parse_qdiscs, remove_command, root_state, tbf_args, tree_commands
from ._tc import is_gone as tc_gone

KIND = "network"
NETEM_ONLY = ("delay", "duplicate", "corrupt", "reorder", "limit")
TC_KEYS = ("delay", "loss", "duplicate", "corrupt", "reorder", "rate", "limit")
GONE_ERRORS = r"No such file or directory|Cannot find device|Invalid handle|handle of zero|No such device|" \
              r"No chain/target/match by that name|does a matching rule exist|doesn't exist"


def require_root(euid=None):
    """Refuse to start as an ordinary user: every step (tc, iptables, nsenter, the ledger) needs root.

    Without this, a task run over SSH as an ordinary user without ``become`` failed on whichever step came
    first, with a bare "No such file or directory: b'tc'" (the user's PATH has no sbin folder).
    """
    euid = os.geteuid() if euid is None else euid
    if euid != 0:
        raise ChaosError("network_chaos runs as %s: run the task with become: true (root is needed for tc, "
                         "iptables and nsenter on the host, and for the ledger). %s"
                         % (describe_user(euid), NOTHING_CHANGED))


def controller_address(environ=None, pid=None, proc_root=PROC):
    """The controller's address as the target host sees it (from the SSH connection), if any.

    become (sudo, su) resets the environment: SSH_CONNECTION is then missing from the module's own, and the
    controller would go unspared. The login's value is read from the nearest ancestor process that has it
    (sudo itself, the shell sshd started). A variable that is set, even empty, is taken as it is.
    """
    environ = os.environ if environ is None else environ
    if "SSH_CONNECTION" not in environ and "SSH_CLIENT" not in environ:
        environ = _ancestor_ssh_environment(os.getpid() if pid is None else pid, proc_root)
    parts = (environ.get("SSH_CONNECTION") or environ.get("SSH_CLIENT") or "").split()
    return parts[0] if parts else None


def _ancestor_ssh_environment(pid, proc_root, levels=16):
    """SSH_CONNECTION / SSH_CLIENT of the nearest ancestor of ``pid`` that has one ({} when none has)."""
    for _level in range(levels):
        stat = read_stat(pid, proc_root)
        if stat is None or stat[2] <= 1:
            return {}
        pid = stat[2]
        try:
            with open("%s/%d/environ" % (proc_root, pid), "rb") as handle:
                pairs = [item.partition(b"=") for item in handle.read().split(b"\0")]
        except OSError:
            continue
        wanted = (b"SSH_CONNECTION", b"SSH_CLIENT")
        found = {k.decode(): v.decode("utf-8", "replace") for k, _sep, v in pairs if k in wanted}
        if found:
            return found
    return {}


def spared_traffic(params):
    """What no fault may touch: the control channel (port 22, the controller) unless opted out."""
    spare = params.get("spare") or {}
    ports = list(spare.get("ports") or [])
    addresses = list(spare.get("addresses") or [])
    if params.get("protect_control_channel", True):
        ports = [22] + [p for p in ports if p != 22]
        controller = controller_address()
        if controller and controller not in addresses:
            addresses.append(controller)
    return {"ports": ports, "addresses": addresses}


def default_interface(run_argv):
    """The host's default-route interface."""
    rc, out, err = run_argv(["ip", "-j", "route", "show", "default"])
    routes = json.loads(out or "[]") if rc == 0 else []
    if not routes or not routes[0].get("dev"):
        raise ChaosError("this host has no default route, so no default interface: give interface. %s"
                         % NOTHING_CHANGED)
    return routes[0]["dev"]


def resolve_peers(client, partition):
    """Partition peers as CIDRs: addresses and CIDRs as given, container names as their addresses."""
    if not partition:
        return []
    resolved = []
    for peer in partition["peers"]:
        try:
            resolved.append(str(ipaddress.ip_network(peer, strict=False)))
            continue
        except ValueError:
            pass
        if client is None:
            raise ChaosError("partition peer %r is not an address or CIDR (container names need targets, i.e. the "
                             "Docker engine). %s" % (peer, NOTHING_CHANGED))
        from ._docker import list_containers  # only container peers need the engine (the kernel lab has none)

        matches = [c for c in list_containers(client) if peer in (c["name"], c["service"])]
        addresses = sorted({a for c in matches for a in c["addresses"]})
        if not addresses:
            raise ChaosError("partition peer %r is neither an address nor a running container with an address. %s"
                             % (peer, NOTHING_CHANGED))
        resolved += ["%s/32" % a for a in addresses]
    return resolved


def netem_available():
    """Can this kernel give us sch_netem (loaded, built in, or loadable)?"""
    if os.path.isdir("/sys/module/sch_netem"):
        return True
    release = os.uname().release
    for suffix in ("", ".xz", ".zst", ".gz"):
        if os.path.exists("/lib/modules/%s/kernel/net/sched/sch_netem.ko%s" % (release, suffix)):
            return True
    return False


def plan(spec, has_netem):
    """Decide backends: returns {"tc_leaf": [...] or None, "iptables_loss": pct or None, "backend": text}."""
    wanted = [k for k in TC_KEYS if spec.get(k)]
    if not wanted and not spec.get("partition"):
        raise ChaosError("no fault given: set at least one of %s or partition. %s"
                         % (", ".join(TC_KEYS), NOTHING_CHANGED))
    try:
        if has_netem:
            leaf = ["netem"] + netem_args(spec) if wanted else None
            return {"tc_leaf": leaf, "iptables_loss": None, "backend": "netem" if wanted else "iptables"}
        needs_netem = [k for k in NETEM_ONLY if spec.get(k)]
        if needs_netem:
            raise ChaosError(
                "%s need(s) the sch_netem qdisc, which this kernel (%s) does not have (no /sys/module/sch_netem, "
                "no sch_netem.ko). Install the kernel's modules package (for Debian: linux-image-amd64, or "
                "linux-modules-extra on some distributions) and `modprobe sch_netem`. Without netem only loss "
                "(iptables statistic) and rate (tbf) are possible. %s"
                % (", ".join(needs_netem), os.uname().release, NOTHING_CHANGED))
        netem_args(spec)  # validates loss/rate values the same way
        loss = (spec.get("loss") or {}).get("percent")
        if loss is not None and (spec["loss"].get("correlation") is not None):
            raise ChaosError("loss.correlation needs netem; the iptables fallback drops independently. %s"
                             % NOTHING_CHANGED)
        leaf = tbf_args(spec["rate"]) if spec.get("rate") else None
        parts = (["tbf"] if leaf else []) + (["iptables-statistic"] if loss else [])
        return {"tc_leaf": leaf, "iptables_loss": loss, "backend": "+".join(parts) or "iptables"}
    except (TcError, IptablesError) as exc:
        raise ChaosError("%s. %s" % (exc.msg, NOTHING_CHANGED))


class Target:
    """Where commands run: the host, or a container's network namespace."""

    def __init__(self, device, container=None):
        self.container = container
        self.device = device

    @property
    def prefix(self):
        if self.container is None:
            return []
        return ["nsenter", "--net=/proc/%d/ns/net" % self.container["pid"], "--"]

    @property
    def record(self):
        if self.container is None:
            return {"id": "host:" + self.device, "name": "host:" + self.device, "device": self.device}
        return {"id": self.container["id"], "name": self.container["name"], "device": self.device,
                "compose_service": self.container.get("compose_service"), "service": service_of(self.container)}

    def undo_step(self, argv, part):
        step = {"type": "argv", "argv": list(argv), "ok_rc": [0], "gone_regex": GONE_ERRORS, "part": part}
        if self.container is not None:
            step["netns"] = {"pid": self.container["pid"], "container": self.container["id"]}
        return step


class NetworkChaos:
    def __init__(self, params, run_argv, check_mode, txn):
        self.params = params
        self.run_argv = run_argv
        self.check_mode = check_mode
        self.txn = txn

    def run(self, target, argv, tolerate_gone=False):
        rc, out, err = self.run_argv(target.prefix + list(argv))
        if rc != 0 and not (tolerate_gone and (tc_gone(err) or iptables_gone(err))):
            raise ChaosError("`%s` failed on %s (rc %s): %s"
                             % (" ".join(argv), target.record["name"], rc, (err or out).strip()))
        return out

    def check_device(self, target):
        out = self.run(target, ["ip", "-j", "link", "show"])
        names = [link.get("ifname") for link in json.loads(out or "[]")]
        if target.device not in names:
            raise ChaosError("no network device %r in %s (devices: %s). %s"
                             % (target.device, target.record["name"], ", ".join(names), NOTHING_CHANGED))

    def root(self, target):
        return root_state(parse_qdiscs(self.run(target, ["tc", "-j", "qdisc", "show", "dev", target.device])))

    def build(self, target, decided, peers, tree_present):
        """(apply argv lists, undo steps) for one target; ``tree_present``: our tc tree is already there."""
        spec, spared = self.params["fault"], spared_traffic(self.params)
        scope = spec.get("destinations")
        apply_cmds, undo = [], []
        try:
            if decided["tc_leaf"]:
                apply_cmds += tree_commands(target.device, decided["tc_leaf"], scope, spared, first=not tree_present)
                undo.append(target.undo_step(remove_command(target.device), "tc"))
            elif tree_present:
                apply_cmds.append(remove_command(target.device))
            if decided["iptables_loss"]:
                chains = chain_names(os.urandom(16).hex(), ["egress"])
                apply_cmds += install_commands(chains, loss_rules(chains["egress"], decided["iptables_loss"],
                                                                  scope, spared), target.device)
                undo += [target.undo_step(c, "iptables") for c in remove_commands(chains, target.device)]
            partition = spec.get("partition")
            if partition:
                directions = ["ingress", "egress"] if partition["direction"] == "both" else [partition["direction"]]
                chains = chain_names(os.urandom(16).hex(), directions)
                rules = partition_rules(chains, peers, partition.get("ports"), partition["protocol"],
                                        partition["action"], spared)
                apply_cmds += install_commands(chains, rules, target.device)
                undo += [target.undo_step(c, "iptables") for c in remove_commands(chains, target.device)]
        except (IptablesError, TcError) as exc:
            raise ChaosError("%s. %s" % (exc.msg, NOTHING_CHANGED))
        return apply_cmds, undo

    @staticmethod
    def _held(target, active):
        return next((e for e in active if e["target"]["id"] == target.record["id"]
                     and e["target"]["device"] == target.device), None)

    def inject(self, targets, decided, peers):
        results, pending = [], []
        active = [e for e in self.txn.ledger.entries() if e.get("kind") == KIND]  # one read for every target
        for target in targets:
            self.check_device(target)
            state = self.root(target)
            held = self._held(target, active)
            result = {"target": target.record["name"], "device": target.device, "backend": decided["backend"],
                      "compose_service": target.record.get("compose_service"), "service": target.record.get("service"),
                      "changed": True, "replaced": held["spec"] if held else None}
            # The spared traffic is part of the fault: turning the control-channel protection off is a change.
            spec = dict(self.params["fault"], spared=spared_traffic(self.params))
            self.txn.check_conflict(held, same_spec=bool(held) and held["spec"] == spec)
            if held and held["spec"] == spec:
                result.update(changed=False, note="the same fault is already active", entry_id=held["id"],
                              deadline=held["deadline"])
                results.append(result)
                continue
            if decided["tc_leaf"] and state == "foreign":
                raise ChaosError("%s in %s has a root qdisc that this collection did not add; refusing to replace "
                                 "it. %s" % (target.device, target.record["name"], NOTHING_CHANGED))
            apply_cmds, undo = self.build(target, decided, peers, tree_present=state == "ours")
            results.append(result)
            if self.check_mode:
                continue
            fault = (KIND, target.record, spec, undo, self.params["duration"],
                     lambda cmds=apply_cmds, where=target: [self.run(where, c) for c in cmds])
            if not held:
                pending.append((result, fault))  # new faults: recorded and marked together (apply_many)
                continue
            self.txn.claim(held)
            entry, _ignored = self.txn.apply(*fault)
            # The new fault is in place (tc replaced in place, new chains hooked in): now drop the
            # old fault's chains; its tc undo is the new entry's too.
            self.txn.retire(held, parts=("iptables",))
            result.update(entry_id=entry["id"], deadline=entry["deadline"])
        for (result, _fault), (entry, _ignored) in zip(pending, self.txn.apply_many([f for _r, f in pending])):
            result.update(entry_id=entry["id"], deadline=entry["deadline"])
        return results

    def remove(self, targets):
        """Undo the ledger's network faults on the targets, then remove any tree or chain of ours still there.

        Returns (reverted entries, leftovers found per target). Leftovers are faults whose ledger entry was
        lost; they are ours by their handle (5a17:) or chain name (SZC-...), so they are removed too.
        """
        ids = {(t.record["id"], t.device) for t in targets}
        reverted = self.txn.revert_where(
            lambda e: e.get("kind") == KIND and (e["target"]["id"], e["target"].get("device")) in ids,
            check_mode=self.check_mode)
        leftovers = []
        for target in targets:
            found = self.leftovers(target)
            if found["qdisc"] or found["chains"]:
                leftovers.append(dict(found, target=target.record["name"], device=target.device))
                if not self.check_mode:
                    if found["qdisc"]:
                        self.run(target, remove_command(target.device), tolerate_gone=True)
                    for argv in orphan_commands(self.run(target, ["iptables", "-w", "5", "-S"])):
                        self.run(target, argv, tolerate_gone=True)
        return reverted, leftovers

    def leftovers(self, target):
        """What of ours is on the target now: our qdisc tree, our chains."""
        qdisc = self.root(target) == "ours"
        chains = list_our_chains(self.run(target, ["iptables", "-w", "5", "-S"]))
        return {"qdisc": qdisc, "chains": chains}
