# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Traffic control: the qdisc tree this collection puts on an interface, as ``tc`` argv lists.

Standard library only (it also runs inside the kernel lab's guest). The tree is
always the same shape, so it can be recognised, replaced and removed without
touching anything that is not ours::

    root 5a17: htb default 1
      class 5a17:1   spared traffic (the control channel, traffic outside the scope)
      class 5a17:2   faulted traffic -> leaf 5a18: netem ...  (or tbf, without netem)
    filters on 5a17:  prio 1: spared (ssh port, controller address) -> 5a17:1
                      prio 2: in scope (destination CIDRs / ports)   -> 5a17:2
                      prio 3: without a scope, everything else       -> 5a17:2
htb is used as the classful root because this is what kernels without ``prio``
still have.
"""

from __future__ import annotations

import ipaddress
import json
import re

ROOT_HANDLE = "5a17:"
LEAF_HANDLE = "5a18:"
SPARED_CLASS = "5a17:1"
FAULTED_CLASS = "5a17:2"
PASS_RATE = "10gbit"
DISTRIBUTIONS = ("uniform", "normal", "pareto", "paretonormal")
DEFAULT_ROOT_KINDS = ("noqueue", "pfifo_fast", "mq", "fq_codel", "fq", "pfifo")
NETEM_UNKNOWN = re.compile(r"qdisc kind is unknown|Unknown qdisc", re.I)
GONE = re.compile(r"No such file or directory|Cannot find device|Invalid handle|handle of zero|No such device", re.I)
MAX_RATE_BITS = 4e12
RATE_UNITS = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
              "bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9, "kibit": 1024, "mibit": 1024 ** 2,
              "gibit": 1024 ** 3}


class TcError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


def rate_bits(text):
    """'8mbit' -> 8e6 bits per second; TcError for anything tc would not take."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = (match.group(2) or "bit").lower() if match else None
    if not match or unit not in RATE_UNITS or float(match.group(1)) <= 0:
        raise TcError("rate %r is not a rate such as 8mbit, 512kbit or 1gbit" % (text,))
    bits = float(match.group(1)) * RATE_UNITS[unit]
    if not bits <= MAX_RATE_BITS:
        raise TcError("rate %r is above what tc takes (4tbit at most)" % (text,))
    return bits


def _percent(value, what):
    if value is None:
        return None
    if not 0 <= float(value) <= 100:
        raise TcError("%s must be a percentage between 0 and 100, got %s" % (what, value))
    return "%g%%" % float(value)


def netem_args(spec):
    """The netem options for a spec (delay, loss, duplicate, corrupt, reorder, rate, limit)."""
    args = []
    delay = spec.get("delay")
    if delay:
        if delay.get("ms") is None or delay["ms"] < 0:
            raise TcError("delay.ms must be 0 or more milliseconds")
        args += ["delay", "%gms" % delay["ms"]]
        jitter = delay.get("jitter_ms")
        if jitter:
            if jitter < 0:
                raise TcError("delay.jitter_ms must be 0 or more")
            args.append("%gms" % jitter)
            if delay.get("correlation") is not None:
                args.append(_percent(delay["correlation"], "delay.correlation"))
            distribution = delay.get("distribution")
            if distribution and distribution not in DISTRIBUTIONS:
                raise TcError("delay.distribution must be one of %s" % ", ".join(DISTRIBUTIONS))
            if distribution and distribution != "uniform":  # uniform is netem's own default: no table
                args += ["distribution", distribution]
        elif delay.get("distribution") not in (None, "uniform"):
            raise TcError("delay.distribution needs delay.jitter_ms")
    for name in ("loss", "duplicate", "corrupt"):
        item = spec.get(name)
        if item:
            args += [name, _percent(item.get("percent"), name + ".percent")]
            if item.get("correlation") is not None:
                args.append(_percent(item["correlation"], name + ".correlation"))
    reorder = spec.get("reorder")
    if reorder:
        if not delay:
            raise TcError("reorder needs a delay (netem reorders by sending some packets without it)")
        args += ["reorder", _percent(reorder.get("percent"), "reorder.percent")]
        if reorder.get("correlation") is not None:
            args.append(_percent(reorder["correlation"], "reorder.correlation"))
        if reorder.get("gap"):
            args += ["gap", str(int(reorder["gap"]))]
    if spec.get("rate"):
        rate_bits(spec["rate"])
        args += ["rate", str(spec["rate"])]
    if spec.get("limit") is not None:
        if int(spec["limit"]) < 1:
            raise TcError("limit must be at least 1 packet, got %s" % spec["limit"])
        args += ["limit", str(int(spec["limit"]))]
    return args


def tbf_args(rate):
    """A token bucket for ``rate``: burst of at least 10 ms of traffic (and one 64 KiB GSO segment)."""
    bits = rate_bits(rate)
    burst = max(65536 + 1514, int(bits / 8 / 100))
    return ["tbf", "rate", str(rate), "burst", str(burst), "latency", "100ms"]


def _ipv4(text, network=True):
    try:
        value = ipaddress.ip_network(text, strict=False) if network else ipaddress.ip_address(text)
    except ValueError:
        raise TcError("%r is not an IP %s" % (text, "address or CIDR" if network else "address"))
    return value


def _u32_matches(cidr=None, port=None, sport=None):
    match = []
    if cidr:
        net = _ipv4(cidr)
        if net.version != 4:
            raise TcError("%s: only IPv4 destinations can be matched" % cidr)
        match += ["match", "ip", "dst", str(net)]
    if port:
        match += ["match", "ip", "dport", str(int(port)), "0xffff"]
    if sport:
        match += ["match", "ip", "sport", str(int(sport)), "0xffff"]
    return match


def tree_commands(device, leaf, scope=None, spared=None, first=True):
    """argv lists that build (or, with ``first=False``, rebuild in place) our tree on ``device``.

    ``leaf`` is ["netem", ...] or ["tbf", ...]; ``scope`` = {"cidrs": [], "ports": []} or None for the whole
    interface; ``spared`` = {"ports": [22], "addresses": ["10.0.0.5"]} never faulted.
    """
    scoped = bool(scope and (scope.get("cidrs") or scope.get("ports")))
    verb = "add" if first else "replace"
    cmds = [
        ["tc", "class", verb, "dev", device, "parent", ROOT_HANDLE, "classid", SPARED_CLASS, "htb",
         "rate", PASS_RATE, "quantum", "60000"],
        ["tc", "class", verb, "dev", device, "parent", ROOT_HANDLE, "classid", FAULTED_CLASS, "htb",
         "rate", PASS_RATE, "quantum", "60000"],
        ["tc", "qdisc", "replace", "dev", device, "parent", FAULTED_CLASS, "handle", LEAF_HANDLE] + list(leaf),
    ]
    if first:
        # htb cannot change its default class later, so the default is always "spared" and the
        # whole-interface case is a catch-all filter: a new scope only swaps filters.
        cmds.insert(0, ["tc", "qdisc", "add", "dev", device, "root", "handle", ROOT_HANDLE, "htb", "default", "1"])
    else:
        cmds.insert(0, ["tc", "filter", "del", "dev", device, "parent", ROOT_HANDLE])
    filt = ["tc", "filter", "add", "dev", device, "parent", ROOT_HANDLE, "protocol", "ip"]
    for port in (spared or {}).get("ports") or []:
        cmds.append(filt + ["prio", "1", "u32"] + _u32_matches(port=port) + ["flowid", SPARED_CLASS])
        cmds.append(filt + ["prio", "1", "u32"] + _u32_matches(sport=port) + ["flowid", SPARED_CLASS])
    for address in (spared or {}).get("addresses") or []:
        if _ipv4(address, network=False).version == 4:
            cmds.append(filt + ["prio", "1", "u32"] + _u32_matches(cidr=address + "/32") + ["flowid", SPARED_CLASS])
    if scoped:
        for cidr in scope.get("cidrs") or [None]:
            for port in scope.get("ports") or [None]:
                cmds.append(filt + ["prio", "2", "u32"] + _u32_matches(cidr=cidr, port=port) + ["flowid", FAULTED_CLASS])
    else:
        cmds.append(["tc", "filter", "add", "dev", device, "parent", ROOT_HANDLE, "protocol", "all", "prio", "3",
                     "u32", "match", "u32", "0", "0", "flowid", FAULTED_CLASS])
    return cmds


def remove_command(device):
    """Deleting our root (and with it every class, filter and leaf below it); refused by the kernel if the
    root qdisc has another handle, so it never removes somebody else's qdisc."""
    return ["tc", "qdisc", "del", "dev", device, "root", "handle", ROOT_HANDLE]


def parse_qdiscs(json_text):
    """``tc -j qdisc show dev D`` -> list of {kind, handle, parent, root}."""
    try:
        items = json.loads(json_text or "[]")
    except ValueError:
        raise TcError("cannot read the output of tc -j qdisc show: %r" % (json_text or "")[:200])
    return [{"kind": q.get("kind"), "handle": q.get("handle"), "parent": q.get("parent"), "root": bool(q.get("root")),
             "options": q.get("options") or {}} for q in items]


def root_state(qdiscs):
    """'ours', 'default' (the kernel's own root, free to replace) or 'foreign' (someone else's tree)."""
    root = next((q for q in qdiscs if q["root"]), None)
    if root is None:
        return "default"
    if root["handle"] == ROOT_HANDLE:
        return "ours"
    if root["handle"] in ("0:", None) and root["kind"] in DEFAULT_ROOT_KINDS:
        return "default"
    return "foreign"


def is_gone(stderr):
    """Does a failed tc delete mean that there was nothing (left) to delete?"""
    return bool(GONE.search(stderr or ""))
