"""Guest script: the collection's network_chaos driver on a real netem kernel, measured on real packets.

Runs inside the kernel lab (see README.md). It drives NetworkChaos (the code
behind sutazai.chaos.network_chaos) on the root end of a veth pair, so only the
outgoing direction is shaped, and measures with ping and TCP connects from the
root namespace to the peer namespace:

* delay 100 ms +- 10 ms: the median RTT grows by ~100 ms, jitter is visible
* replacing it by loss 30 %: 18-42 % of 300 pings lost, our root qdisc never left
* duplicate 50 %: ping reports duplicates
* scope: delay only towards another address leaves the peer untouched
* the control channel: with delay 300 ms, TCP connects to the peer's port 22
  stay fast while port 8080 pays the delay
* removal leaves the device as it was; a 3 s fault is removed by the reaper alone
"""

import os
import statistics
import sys
import tempfile
import time

import labnet
from labnet import Checks, ping, qdiscs, sh

from ansible_collections.sutazai.chaos.plugins.module_utils._fault import FaultTransaction
from ansible_collections.sutazai.chaos.plugins.module_utils._ledger import Ledger
from ansible_collections.sutazai.chaos.plugins.module_utils._network import (
    NetworkChaos, Target, netem_available, plan)

STATE_DIR = tempfile.mkdtemp(prefix="lab-state-")
c = Checks("network_chaos driver on a netem kernel")
v = labnet.veth_pair()
PEER = v["peer_ip"]


def chaos(fault, duration=60.0, protect=True, check_mode=False):
    params = {"fault": fault, "duration": duration, "protect_control_channel": protect, "spare": None}
    txn = FaultTransaction(STATE_DIR, "lab", labnet.run)
    return NetworkChaos(params, labnet.run, check_mode, txn), txn


def inject(fault, duration=60.0, protect=True):
    net, _txn = chaos(fault, duration, protect)
    decided = plan(fault, netem_available())
    return net.inject([Target("lab0")], decided, [])[0]


def remove():
    net, _txn = chaos({})
    return net.remove([Target("lab0")])


def connect_ms(port, timeout=3.0):
    """Time a TCP connect from the root namespace to the peer (a listener runs there)."""
    code = ("import socket,time;s=socket.socket();s.settimeout(%s);t=time.monotonic();"
            "s.connect(('%s',%d));print((time.monotonic()-t)*1000)" % (timeout, PEER, port))
    rc, out, err = labnet.run([sys.executable, "-c", code], timeout=timeout + 5)
    return float(out.strip()) if rc == 0 else None


c.true("netem_available() sees sch_netem", netem_available())
base = ping(PEER, count=30, interval=0.05)
c.figure("baseline median RTT", base["median"], " ms")

# 1. delay with jitter
result = inject({"delay": {"ms": 100, "jitter_ms": 10, "distribution": "normal"}})
c.true("backend is netem", result["backend"] == "netem", str(result["backend"]))
delayed = ping(PEER, count=40, interval=0.05)
c.between("added delay (median RTT increase)", delayed["median"] - base["median"], 85, 125, " ms")
# jitter 10 ms, normal: the interquartile range of the RTTs is ~13.5 ms (1.35 sigma). Not max - min: over
# 40 pings that range is ~4.3 sigma plus the emulator's own outliers, and it once passed 60 ms in CI.
q1, _q2, q3 = statistics.quantiles(delayed["rtts"], n=4)
c.figure("RTT min/max", "%s/%s" % (delayed["min"], delayed["max"]), " ms")
c.between("jitter visible (interquartile range of RTTs)", q3 - q1, 5, 35, " ms")
c.true("our tree is the root", "qdisc htb 5a17: root" in qdiscs("lab0"), qdiscs("lab0").strip())

# 2. the same fault again changes nothing; a new one replaces it in place
again = inject({"delay": {"ms": 100, "jitter_ms": 10, "distribution": "normal"}})
c.true("same spec again: changed false", again["changed"] is False)
replaced = inject({"loss": {"percent": 30}})
c.true("new spec replaces the old (replaced is the delay)", (replaced["replaced"] or {}).get("delay") is not None)
lossy = ping(PEER, count=300, interval=0.01, wait=1)
c.between("loss 30 % measured over 300 pings", lossy["loss_pct"], 18, 42, " %")
c.true("no delay left after the replacement", lossy["median"] is not None and lossy["median"] < base["median"] + 20,
       "median %s ms" % lossy["median"])

# 3. duplicates
inject({"duplicate": {"percent": 50}})
rc, out, _err = labnet.run(["ping", "-n", "-c", "60", "-i", "0.02", PEER], timeout=30)
c.between("duplicate 50 %: DUP! replies of 60", out.count("DUP!"), 10, 50, "")

# 4. scope: the fault only towards another address
inject({"delay": {"ms": 200}, "destinations": {"cidrs": ["10.200.0.99/32"]}})
scoped = ping(PEER, count=20, interval=0.05)
c.between("scoped elsewhere: peer RTT increase", scoped["median"] - base["median"], -5, 20, " ms")
inject({"delay": {"ms": 200}, "destinations": {"cidrs": [PEER + "/32"]}})
scoped = ping(PEER, count=20, interval=0.05)
c.between("scoped to the peer: RTT increase", scoped["median"] - base["median"], 180, 230, " ms")

# 5. the control channel (port 22) is spared; other ports pay the delay
for port in (22, 8080):
    sh("ip netns exec %s python3 -c \"import socket,time;s=socket.socket();s.setsockopt(socket.SOL_SOCKET,"
       "socket.SO_REUSEADDR,1);s.bind(('0.0.0.0',%d));s.listen(50);time.sleep(600)\" >/dev/null 2>&1 &"
       % (v["netns"], port))
time.sleep(0.5)
inject({"delay": {"ms": 300}})
ssh_ms, web_ms = connect_ms(22), connect_ms(8080)
c.between("connect to port 22 under delay 300 ms (spared)", ssh_ms, 0, 150, " ms")  # 24-33 ms seen under TCG
c.between("connect to port 8080 under delay 300 ms", web_ms, 280, 400, " ms")
inject({"delay": {"ms": 300}}, protect=False)
c.between("port 22 with protect_control_channel false", connect_ms(22), 280, 400, " ms")

# 6. removal leaves the device as it was
removed, leftovers = remove()
c.true("removal undid one ledger entry and found no leftovers", len(removed) == 1 and leftovers == [],
       str((len(removed), leftovers)))
c.true("no qdisc of ours after removal", "5a17:" not in qdiscs("lab0"), qdiscs("lab0").strip())
after = ping(PEER, count=30, interval=0.05)
c.between("RTT back to baseline", after["median"] - base["median"], -5, 5, " ms")

# 7. a 3 s fault expires by itself: the reaper (a detached process) removes it
inject({"delay": {"ms": 100}}, duration=3.0)
started = time.monotonic()
while "5a17:" in qdiscs("lab0") and time.monotonic() - started < 15:
    time.sleep(0.1)
gone_after = time.monotonic() - started
c.between("duration 3 s: our qdisc gone after", gone_after, 2.5, 6.0, " s")
entries = Ledger(STATE_DIR).entries(active_only=False)
c.true("the ledger says the reaper reverted it", entries[-1]["state"] == "reverted"
       and entries[-1].get("reverted_by") == "reaper", "%s by %s" % (entries[-1]["state"], entries[-1].get("reverted_by")))

c.report()
os.system("pkill -f 'time.sleep\\(600\\)' >/dev/null 2>&1")
sys.exit(c.exit_code())
