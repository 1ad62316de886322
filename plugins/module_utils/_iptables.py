# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Packet filter faults (loss by ``statistic``, partitions) in chains of our own, as argv lists.

Standard library only. Each fault gets its own chains, ``SZC-<token>-O`` (egress,
jumped to from OUTPUT) and ``SZC-<token>-I`` (ingress, from INPUT), so removing
the fault deletes exactly the jumps and chains it added and never touches
anybody else's rules. Spared traffic (the control channel) RETURNs first.
"""

from __future__ import annotations

import ipaddress
import re

CHAIN_PREFIX = "SZC-"
HOOKS = {"egress": ("OUTPUT", "-o", "O"), "ingress": ("INPUT", "-i", "I")}
GONE = re.compile(r"No chain/target/match by that name|does a matching rule exist|doesn't exist|"
                  r"No such file or directory|Couldn't load target", re.I)


class IptablesError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


def chain_names(token, directions):
    return {d: "%s%s-%s" % (CHAIN_PREFIX, token[:10], HOOKS[d][2]) for d in directions}


def _ipt(*args):
    return ["iptables", "-w", "5"] + list(args)


def check_address(value):
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise IptablesError("%r is not an IPv4 address or CIDR" % (value,))


def _spared_rules(chain, direction, spared):
    rules = []
    for port in (spared or {}).get("ports") or []:
        for flag in ("--dport", "--sport"):
            rules.append(_ipt("-A", chain, "-p", "tcp", flag, str(int(port)), "-j", "RETURN"))
    for address in (spared or {}).get("addresses") or []:
        flag = "-d" if direction == "egress" else "-s"
        rules.append(_ipt("-A", chain, flag, check_address(address), "-j", "RETURN"))
    return rules


def _ports_match(protocol, ports):
    if not ports:
        return []
    if protocol not in ("tcp", "udp"):
        raise IptablesError("ports need protocol tcp or udp, not %s" % protocol)
    return ["-m", "multiport", "--dports", ",".join(str(int(p)) for p in ports)]


def loss_rules(chain, percent, scope=None, spared=None):
    """Egress loss of ``percent`` (random, per packet) on traffic in ``scope`` (all when None)."""
    if not 0 < float(percent) <= 100:
        raise IptablesError("loss.percent must be above 0 and at most 100, got %s" % percent)
    rules = _spared_rules(chain, "egress", spared)
    probability = "%.6f" % (float(percent) / 100.0)
    cidrs = [check_address(c) for c in (scope or {}).get("cidrs") or []] or [None]
    ports = (scope or {}).get("ports") or []
    for cidr in cidrs:
        for protocol in (("tcp", "udp") if ports else (None,)):
            rule = ["-A", chain]
            if cidr:
                rule += ["-d", cidr]
            if protocol:
                rule += ["-p", protocol] + _ports_match(protocol, ports)
            rules.append(_ipt(*(rule + ["-m", "statistic", "--mode", "random", "--probability", probability,
                                        "-j", "DROP"])))
    return rules


def partition_rules(chains, peers, ports=None, protocol="all", action="drop", spared=None):
    """Cut traffic with ``peers`` (CIDRs) in the chains' directions; reject answers at once, drop times out."""
    if action not in ("drop", "reject"):
        raise IptablesError("partition.action must be drop or reject")
    if protocol not in ("tcp", "udp", "all"):
        raise IptablesError("partition.protocol must be tcp, udp or all")
    if not peers:
        raise IptablesError("partition.peers is empty: name at least one address, CIDR or container")
    rules = []
    protocols = ("tcp", "udp") if (ports and protocol == "all") else (protocol,)
    for direction, chain in chains.items():
        rules += _spared_rules(chain, direction, spared)
        flag = "-d" if direction == "egress" else "-s"
        for peer in peers:
            for proto in protocols:
                match = ["-A", chain, flag, check_address(peer)]
                if proto != "all":
                    match += ["-p", proto] + _ports_match(proto, ports)
                if action == "drop":
                    rules.append(_ipt(*(match + ["-j", "DROP"])))
                elif proto in ("tcp", "all"):
                    if proto == "all":
                        rules.append(_ipt(*(match + ["-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"])))
                        rules.append(_ipt(*(match + ["-j", "REJECT"])))
                    else:
                        rules.append(_ipt(*(match + ["-j", "REJECT", "--reject-with", "tcp-reset"])))
                else:
                    rules.append(_ipt(*(match + ["-j", "REJECT"])))
    return rules


def install_commands(chains, rules, device=None):
    """Create the chains, fill them, then hook them in first (so half-built chains never see traffic)."""
    cmds = [_ipt("-N", chain) for chain in chains.values()] + list(rules)
    for direction, chain in chains.items():
        hook, if_flag, _suffix = HOOKS[direction]
        cmds.append(_ipt("-I", hook, "1", *(([if_flag, device] if device else []) + ["-j", chain])))
    return cmds


def remove_commands(chains, device=None):
    """Unhook, flush and delete our chains; each step may find its object already gone."""
    cmds = []
    for direction, chain in chains.items():
        hook, if_flag, _suffix = HOOKS[direction]
        cmds.append(_ipt("-D", hook, *(([if_flag, device] if device else []) + ["-j", chain])))
    for chain in chains.values():
        cmds += [_ipt("-F", chain), _ipt("-X", chain)]
    return cmds


def list_our_chains(save_output):
    """Names of our chains in ``iptables -S`` output (to prove nothing is left)."""
    return sorted(set(re.findall(r"^-N (%s\S+)" % re.escape(CHAIN_PREFIX), save_output or "", re.M)))


def orphan_commands(save_output):
    """Commands that remove every chain of ours found in ``iptables -S`` output, with the jumps to them.

    For faults whose ledger entry was lost: our chains are ours by their name alone.
    """
    cmds = []
    for line in (save_output or "").splitlines():
        parts = line.split()
        if len(parts) > 2 and parts[0] == "-A" and parts[-2] == "-j" and parts[-1].startswith(CHAIN_PREFIX) \
                and not parts[1].startswith(CHAIN_PREFIX):
            cmds.append(_ipt("-D", *parts[1:]))
    for chain in list_our_chains(save_output):
        cmds += [_ipt("-F", chain), _ipt("-X", chain)]
    return cmds


def is_gone(stderr):
    return bool(GONE.search(stderr or ""))
