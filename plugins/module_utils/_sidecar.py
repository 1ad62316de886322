# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Sidecars of application faults: a small program of ours in a container's network namespace, and the nat rules
(in a chain of our own) that steer the container's traffic to it.

The HTTP proxy and the DNS responder are standard-library programs (``_http_proxy.py``, ``_dns_responder.py``)
started from the host: ``nsenter --net=/proc/<pid>/ns/net`` into the target's namespace, so the image needs
nothing. They run detached, from the state folder's checked copy of our code, with a marker in their environment
so that the undo (a ``signal`` step) finds exactly them. Their own connections carry a firewall mark (``SO_MARK``)
that our rules let pass, so what they forward is never steered back to them.

The undo is recorded before anything starts, in this order: unhook and delete the rules first (traffic flows
directly again), then end the sidecar.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

from ._audit import last_line
from ._common import ChaosError
from ._iptables import CHAIN_PREFIX
from ._ledger import spawn_detached
from ._stress import MARKER_VARIABLE

PROGRAM_PACKAGE = "sutazai_chaos_reaper"
PASS_MARK = 0x5a43  # "ZC": set by a sidecar on the sockets it opens itself; our rules let them pass
PORT_RANGE = (20000, 29999)
START_TIMEOUT_SECONDS = 10.0
# iptables-legacy and iptables-nft word "already gone" differently ("Chain 'X' does not exist" is nft's)
GONE_ERRORS = r"No chain/target/match by that name|does a matching rule exist|doesn't exist|does not exist|No such file"
_LISTEN_STATE = {"tcp": "0A", "udp": "07"}


def _ipt_nat(*args):
    return ["iptables", "-w", "5", "-t", "nat"] + list(args)


def _bound_ports(pid, protocol):
    """Local ports bound in the network namespace of ``pid`` (``/proc/<pid>/net/tcp`` and friends)."""
    ports = {}
    for name in (protocol, protocol + "6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 3:
                ports.setdefault(int(fields[1].rsplit(":", 1)[1], 16), set()).add(fields[3])
    return ports


def free_port(pid, protocol, rng=random):
    """A port nothing is bound to in the namespace of ``pid``, for the sidecar to listen on."""
    taken = _bound_ports(pid, protocol)
    for _attempt in range(200):
        port = rng.randint(*PORT_RANGE)
        if port not in taken:
            return port
    raise ChaosError("no free port between %d and %d in the target's network namespace" % PORT_RANGE)


def listening(pid, port, protocol):
    """Is ``port`` bound (TCP: listening) in the network namespace of ``pid``?"""
    return _LISTEN_STATE[protocol] in _bound_ports(pid, protocol).get(port, set())


def port_in_use(pid, port, protocol="tcp"):
    """Does anything listen on ``port`` in the namespace of ``pid`` (to warn about a fault on a silent port)?"""
    return listening(pid, port, protocol)


def nat_chain(token, suffix):
    return "%s%s-%s" % (CHAIN_PREFIX, token[:10], suffix)


def nat_install_commands(chain, hook, rules):
    """Create the nat chain, fill it (``rules``: argument lists after ``-A <chain>``), then hook it in first."""
    return ([_ipt_nat("-N", chain)] + [_ipt_nat("-A", chain, *rule) for rule in rules]
            + [_ipt_nat("-I", hook, "1", "-j", chain)])


def nat_remove_commands(chain, hook):
    return [_ipt_nat("-D", hook, "-j", chain), _ipt_nat("-F", chain), _ipt_nat("-X", chain)]


def redirect_rule(protocol, port, to_port, destination=None, skip_ours=True):
    """One nat rule: traffic to ``port`` (optionally of ``destination``) goes to the sidecar on ``to_port``."""
    rule = ["-p", protocol]
    if destination:
        rule += ["-d", destination]
    rule += ["--dport", str(int(port))]
    if skip_ours:
        rule += ["-m", "mark", "!", "--mark", str(PASS_MARK)]
    return rule + ["-j", "REDIRECT", "--to-ports", str(int(to_port))]


def netns_prefix(container):
    return ["nsenter", "--net=/proc/%d/ns/net" % container["pid"], "--"]


def undo_steps(container, remove_commands, marker, program):
    """The recorded undo: the rules go first (in the container's namespace), then the sidecar (by its marker)."""
    netns = {"pid": container["pid"], "container": container["id"]}  # _undo enters it while it still exists
    steps = [{"type": "argv", "argv": argv, "netns": netns, "ok_rc": [0], "gone_regex": GONE_ERRORS}
             for argv in remove_commands]
    steps.append({"type": "signal", "marker": "%s=%s" % (MARKER_VARIABLE, marker),
                  "expect_cmd": "%s.%s" % (PROGRAM_PACKAGE, program.__name__.rsplit(".", 1)[-1])})
    return steps


def new_marker():
    return os.urandom(8).hex()


def _alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def start_sidecar(state_dir, container, program, config, marker, port, protocol):
    """Start ``program`` (one of our standard-library modules) in the container's network namespace, detached
    and marked; wait until it listens on ``port``. Returns the launcher's PID (its session)."""
    name = program.__name__.rsplit(".", 1)[-1]
    argv = netns_prefix(container) + [sys.executable, "-B", "-m", "%s.%s" % (PROGRAM_PACKAGE, name),
                                      json.dumps(config, sort_keys=True)]
    launcher = spawn_detached(state_dir, ["--exec-in-cgroups", "[]", "--"] + argv, "sidecar.log",
                              extra_env={MARKER_VARIABLE: marker}, extra_modules=(program,))
    end = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < end:
        if listening(container["pid"], port, protocol):
            return launcher
        # The launcher's PID stays the sidecar's through every exec (its environment may read empty for an
        # instant in between, so the marker is no test of life); a zombie or a missing PID is a failed start.
        if not _alive(launcher):
            raise ChaosError("the %s sidecar exited before it listened on %s port %d in %s's network namespace: "
                             "%s (whole log: %s/sidecar.log)" % (name, protocol, port, container["name"],
                                                                 _last_words(state_dir), state_dir))
        time.sleep(0.05)
    raise ChaosError("the %s sidecar did not start listening on %s port %d in %s's network namespace within %.0f s "
                     "(see %s/sidecar.log)" % (name, protocol, port, container["name"], START_TIMEOUT_SECONDS,
                                               state_dir))


def _last_words(state_dir):
    """The last non-blank line of the sidecar log (where a dead sidecar's traceback ends), or a placeholder."""
    try:
        with open(os.path.join(state_dir, "sidecar.log"), "rb") as handle:
            line = last_line(handle.fileno(), os.fstat(handle.fileno()).st_size)
    except OSError:
        line = None
    return line.decode("utf-8", "replace").strip()[:300] if line else "it wrote nothing"
