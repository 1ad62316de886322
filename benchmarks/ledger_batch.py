"""The ledger's share of one call over N targets, with no engine: N faults whose action does nothing.

    .venv/bin/python benchmarks/ledger_batch.py

``one by one`` is FaultTransaction.apply per fault (two whole-ledger writes each, what every module did
before apply_many); ``batched`` is one apply_many call (two writes in all). Both in a fresh state folder.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "collections"))
from ansible_collections.sutazai.chaos.plugins.module_utils._fault import FaultTransaction  # noqa: E402

SIZES = (10, 50, 200)


def _faults(count):
    faults = []
    for index in range(count):
        cid = "%064x" % index
        undo = [{"type": "docker_api", "docker_host": "unix:///var/run/docker.sock", "tls": None, "method": "POST",
                 "path": "/containers/%s/unpause" % cid, "container": cid, "ok_status": [204, 304],
                 "expect_state": {"Paused": False}}]
        faults.append(("container_pause", {"id": cid, "name": "c%d" % index}, {"action": "pause"}, undo, None,
                       lambda: None))
    return faults


def timed(count, batched):
    with tempfile.TemporaryDirectory() as folder:
        txn = FaultTransaction(os.path.join(folder, "state"), "bench")
        faults = _faults(count)
        started = time.monotonic()
        if batched:
            txn.apply_many(faults)
        else:
            for fault in faults:
                txn.apply(*fault)
        return time.monotonic() - started


def run(sizes=SIZES):
    return [(n, timed(n, False), timed(n, True)) for n in sizes]


def render(rows):
    from common import table

    return table(["faults in one call", "one by one s", "per fault ms", "batched s", "per fault ms", "speed-up"],
                 [(n, "%.3f" % one, "%.1f" % (1000 * one / n), "%.3f" % many, "%.1f" % (1000 * many / n),
                   "%.0fx" % (one / many)) for n, one, many in rows])


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    print("\n".join(render(run())))
