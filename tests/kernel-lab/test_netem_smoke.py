# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Guest script: proves the kernel lab with plain `tc` (none of our drivers).

Runs inside the QEMU guest as root (tests/kernel-lab/run.py). Measures:
  * lo: baseline RTT, then `netem delay 100ms 10ms` (both directions pass lo: ~+200 ms)
  * veth into a second netns, netem on the root-namespace end only (one
    direction: ~+100 ms), then `netem loss 30%` over 300 pings (18..42 %)
  * after `tc qdisc del`: no netem left and the RTT is back to baseline.
Prints a table; exits 1 if a figure is out of tolerance.
"""

from __future__ import annotations

import sys

import labnet
from labnet import Checks, ping, qdiscs, sh

c = Checks("netem smoke (plain tc)")
c.figure("kernel", sh("uname -r").strip())

# The collection's own code is importable (this checkout's plugins/, copied per run).
from ansible_collections.sutazai.chaos.plugins.module_utils import _common, _ledger  # noqa: E402
c.true("collection module_utils import (_common, _ledger)", True, "%s, %s" % (_common.__file__, _ledger.__name__))

# --- lo: both directions ------------------------------------------------------
base = ping("127.0.0.1", count=20, interval=0.05)
c.figure("lo baseline median RTT", base["median"], " ms")
sh("tc qdisc add dev lo root netem delay 100ms 10ms")
c.true("lo netem installed", "netem" in qdiscs("lo"), qdiscs("lo").strip().splitlines()[0])
d = ping("127.0.0.1", count=20, interval=0.05)
c.between("lo delay 100ms: median RTT", d["median"], 180, 240, " ms")
c.between("lo delay: added (median-baseline)", d["median"] - base["median"], 170, 235, " ms")
c.figure("lo delay: min/max RTT", "%s/%s" % (d["min"], d["max"]), " ms")
c.between("lo delay: loss", d["loss_pct"], 0, 0, " %")
sh("tc qdisc del dev lo root")
c.true("lo clean after del", "netem" not in qdiscs("lo"))

# --- veth into netns "peer": one direction -----------------------------------------
v = labnet.veth_pair()
vb = ping(v["peer_ip"], count=20, interval=0.05)
c.figure("veth baseline median RTT", vb["median"], " ms")
sh("tc qdisc add dev %s root netem delay 100ms 10ms" % v["dev"])
vd = ping(v["peer_ip"], count=20, interval=0.05)
c.between("veth delay 100ms: median RTT", vd["median"], 90, 135, " ms")
c.between("veth delay: added (median-baseline)", vd["median"] - vb["median"], 85, 125, " ms")
c.figure("veth delay: min/max/mdev", "%s/%s/%s" % (vd["min"], vd["max"], vd["mdev"]), " ms")
jit = [r - vb["median"] for r in vd["rtts"]]
c.between("veth jitter: spread of added delay (max-min)", max(jit) - min(jit), 3, 40, " ms")

sh("tc qdisc change dev %s root netem loss 30%%" % v["dev"])
c.true("veth netem loss installed", "loss 30%" in qdiscs(v["dev"]), qdiscs(v["dev"]).strip())
vl = ping(v["peer_ip"], count=300, interval=0.01, wait=1)
c.figure("veth loss 30%: sent/received", "%d/%d" % (vl["sent"], vl["received"]))
c.between("veth loss 30%: measured loss", vl["loss_pct"], 18, 42, " %")

sh("tc qdisc del dev %s root" % v["dev"])
c.true("veth clean after del", "netem" not in qdiscs(v["dev"]), qdiscs(v["dev"]).strip())
va = ping(v["peer_ip"], count=20, interval=0.05)
c.between("veth after del: median RTT", va["median"], 0, max(20.0, 3 * vb["median"]), " ms")
c.between("veth after del: loss", va["loss_pct"], 0, 0, " %")
c.true("lo clean at the end", "netem" not in qdiscs("lo"))

c.report()
sys.exit(c.exit_code())
