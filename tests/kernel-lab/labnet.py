# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Guest-side helpers for kernel-lab scripts (stdlib only; copied to /lab/labnet.py).

A guest script does ``import labnet`` (PYTHONPATH=/lab) and gets:

* ``run(argv)``: the ``run_argv`` callable our drivers take: ``(rc, stdout, stderr)``.
* ``sh(cmd)``: a shell command that must succeed; returns its stdout.
* ``veth_pair()``: a veth pair into a second network namespace, so a qdisc on the
  root-namespace end shapes one direction only (the echo comes back clean).
* ``ping(...)``: ping figures (sent, received, loss %, min/avg/max/mdev, median).
* ``Checks``: collect figures and tolerance checks, print a table, exit code.
"""

from __future__ import annotations

import os
import re
import shlex
import statistics
import subprocess
import sys

IN_GUEST = os.environ.get("KERNEL_LAB") == "1"


def run(argv, timeout=60):
    """run_argv for the drivers: never raises for a non-zero exit."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        return 127, "", str(exc)
    except subprocess.TimeoutExpired as exc:
        return 124, exc.stdout or "", "timeout after %s s" % timeout
    return p.returncode, p.stdout, p.stderr


def sh(cmd, check=True, timeout=120):
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=timeout, check=False)
    if check and p.returncode != 0:
        raise RuntimeError("command failed (rc=%d): %s\n%s%s" % (p.returncode, cmd, p.stdout, p.stderr))
    return p.stdout


def qdiscs(dev, netns=None):
    pre = "ip netns exec %s " % shlex.quote(netns) if netns else ""
    return sh("%stc qdisc show dev %s" % (pre, shlex.quote(dev)))


def veth_pair(netns="peer", dev="lab0", peer_dev="lab1",
              host_ip="10.200.0.1", peer_ip="10.200.0.2", prefix=24):
    """Create ``dev`` (root netns, host_ip) <-> ``peer_dev`` (in ``netns``, peer_ip).

    Idempotent enough for one boot: an existing pair is deleted first.
    Returns a dict with the names and addresses.
    """
    sh("ip netns del %s 2>/dev/null; ip link del %s 2>/dev/null; true" % (netns, dev))
    sh("ip netns add %s" % netns)
    sh("ip link add %s type veth peer name %s" % (dev, peer_dev))
    sh("ip link set %s netns %s" % (peer_dev, netns))
    sh("ip addr add %s/%d dev %s && ip link set %s up" % (host_ip, prefix, dev, dev))
    sh("ip netns exec %s sh -c 'ip addr add %s/%d dev %s && ip link set %s up && ip link set lo up'"
       % (netns, peer_ip, prefix, peer_dev, peer_dev))
    return {"netns": netns, "dev": dev, "peer_dev": peer_dev, "host_ip": host_ip, "peer_ip": peer_ip}


_SUMMARY = re.compile(r"(\d+) packets transmitted, (\d+) received")
_RTT = re.compile(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")
_TIME = re.compile(r"icmp_seq=(\d+) .*time=([\d.]+) ms")


def ping(target, count=20, interval=0.05, wait=2, netns=None, size=None):
    """Ping and return a dict: sent, received, loss_pct, min, avg, max, mdev, median, rtts."""
    argv = ["ping", "-n", "-c", str(count), "-i", str(interval), "-W", str(wait)]
    if size is not None:
        argv += ["-s", str(size)]
    argv.append(target)
    if netns:
        argv = ["ip", "netns", "exec", netns] + argv
    timeout = 30 + count * (interval + 0.05) + wait
    rc, out, err = run(argv, timeout=timeout)
    m = _SUMMARY.search(out)
    if not m:
        raise RuntimeError("ping gave no summary (rc=%d): %s %s" % (rc, out[-500:], err))
    sent, received = int(m.group(1)), int(m.group(2))
    rtts = [float(t) for _seq, t in _TIME.findall(out)]
    res = {"sent": sent, "received": received,
           "loss_pct": 100.0 * (sent - received) / sent if sent else 100.0,
           "rtts": rtts, "median": statistics.median(rtts) if rtts else None,
           "min": None, "avg": None, "max": None, "mdev": None}
    r = _RTT.search(out)
    if r:
        res.update(zip(("min", "avg", "max", "mdev"), (float(x) for x in r.groups())))
    return res


class Checks(object):
    """Collect (name, figure, expected, ok) rows; print them; give an exit code."""

    def __init__(self, title):
        self.title = title
        self.rows = []

    def figure(self, name, value, unit=""):
        self.rows.append((name, _fmt(value, unit), "", None))

    def between(self, name, value, lo, hi, unit=""):
        ok = value is not None and lo <= value <= hi
        self.rows.append((name, _fmt(value, unit), "%s..%s%s" % (lo, hi, unit), ok))
        return ok

    def true(self, name, cond, shown=""):
        self.rows.append((name, shown or str(bool(cond)), "true", bool(cond)))
        return bool(cond)

    @property
    def failed(self):
        return [r for r in self.rows if r[3] is False]

    def report(self, out=sys.stdout):
        w0 = max([len(r[0]) for r in self.rows] + [6])
        w1 = max([len(r[1]) for r in self.rows] + [6])
        w2 = max([len(r[2]) for r in self.rows] + [8])
        print("== %s ==" % self.title, file=out)
        print("%-*s  %-*s  %-*s  %s" % (w0, "figure", w1, "value", w2, "expected", "result"), file=out)
        for name, val, exp, ok in self.rows:
            res = "" if ok is None else ("ok" if ok else "FAIL")
            print("%-*s  %-*s  %-*s  %s" % (w0, name, w1, val, w2, exp, res), file=out)
        checked = sum(1 for r in self.rows if r[3] is not None)
        print("%s: %d checks, %d failed" % (self.title, checked, len(self.failed)), file=out)
        out.flush()

    def exit_code(self):
        return 1 if self.failed else 0


def _fmt(value, unit):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return "%.1f%s" % (value, unit)
    return "%s%s" % (value, unit)
