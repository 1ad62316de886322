"""MTTR accuracy against a service whose true outage is known, and the cost of probing in ``sample`` mode.

    .venv/bin/python benchmarks/mttr.py

A tiny TCP service of ours on 127.0.0.1 (a thread that accepts and closes) is taken down (its listening socket
closed: connections are refused) for an exactly known interval, drawn between 1 and 2 s. health_probe runs in
``until_healthy`` mode at a 0.1 s poll with ``since`` = the moment it went down; its ``recovery_seconds`` is
compared with the true interval, over TRIALS trials. Then ``sample`` mode at 10 Hz for SAMPLE_SECONDS against
the same service: the module process's CPU seconds against a bare Python loop making the same connections.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import threading
import time

from common import PYTHON, last_cpu_seconds, log, module_bare, table

TRIALS = 20
INTERVAL = 0.1
SAMPLE_SECONDS = 5.0


class ToggledService:
    """Accepts and closes TCP connections on 127.0.0.1:<port> while up; refuses them while down."""

    def __init__(self):
        self.port = None
        self.sock = None
        self.up()

    def up(self):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port or 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self.sock = sock
        threading.Thread(target=self._serve, args=(sock,), daemon=True).start()
        return time.time()

    def _serve(self, sock):
        while True:
            try:
                conn, _addr = sock.accept()
            except OSError:
                return
            conn.close()

    def down(self):
        when = time.time()
        self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone leaves it listening
        self.sock.close()
        return when


def accuracy(service, rng):
    errors = []
    for _trial in range(TRIALS):
        outage = round(rng.uniform(1.0, 2.0), 3)
        went_down = service.down()
        came_up = []
        timer = threading.Timer(outage - (time.time() - went_down), lambda: came_up.append(service.up()))
        timer.start()
        _secs, result, _rss = module_bare("health_probe", {
            "mode": "until_healthy", "interval": INTERVAL, "timeout": 10, "since": went_down,
            "probes": [{"name": "svc", "type": "tcp", "host": "127.0.0.1", "port": service.port}]})
        timer.join()
        if result.get("failed"):
            raise RuntimeError("mttr: health_probe failed: %s" % result.get("msg"))
        errors.append(result["recovery_seconds"] - (came_up[0] - went_down))  # against when it really came up
        time.sleep(0.2)
    return errors


BARE_LOOP = """
import socket, sys, time
port, seconds, interval = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + seconds
while time.monotonic() < end:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    time.sleep(max(0.0, interval - (time.monotonic() - started)))
"""


def sample_overhead(service):
    wall, result, _rss = module_bare("health_probe", {
        "mode": "sample", "duration": SAMPLE_SECONDS, "interval": INTERVAL,
        "probes": [{"name": "svc", "type": "tcp", "host": "127.0.0.1", "port": service.port}]})
    if result.get("failed"):
        raise RuntimeError("mttr: sample failed: %s" % result.get("msg"))
    ours_cpu = last_cpu_seconds()
    _secs, _result, _rss = module_bare("health_probe", {
        "mode": "once", "probes": [{"name": "svc", "type": "tcp", "host": "127.0.0.1", "port": service.port}]})
    start_cpu = last_cpu_seconds()  # a process that starts, probes once and ends: the start-up share
    polls = result.get("polls") or len(result.get("timeline") or [])
    started = time.monotonic()
    process = subprocess.Popen([PYTHON, "-c", BARE_LOOP, str(service.port), str(SAMPLE_SECONDS), str(INTERVAL)])
    _pid, _status, usage = os.wait4(process.pid, 0)
    bare_wall = time.monotonic() - started
    bare_cpu = usage.ru_utime + usage.ru_stime
    return wall, ours_cpu, polls, bare_wall, bare_cpu, start_cpu


def run():
    service = ToggledService()
    rng = random.Random(13)
    errors = accuracy(service, rng)
    log("mttr: errors %s" % ["%.3f" % e for e in errors])
    overhead = sample_overhead(service)
    service.down()
    return errors, overhead


def render(errors, overhead):
    wall, ours_cpu, polls, bare_wall, bare_cpu, start_cpu = overhead
    worst = max(errors, key=abs)
    out = table(["MTTR accuracy (%d trials, true outage 1-2 s, poll %.1f s)" % (TRIALS, INTERVAL), "s"],
                [("max |error| (measured - true)", "%.3f" % abs(worst)),
                 ("mean error", "%+.3f" % (sum(errors) / len(errors))),
                 ("smallest / largest error", "%+.3f / %+.3f" % (min(errors), max(errors)))])
    out += ["", "Errors are positive when the probe reports the recovery later than it happened; the poll"
            " interval bounds them from above, the connect time and the module's start from below."]
    out.append("")
    out += table(["probe overhead, %.0f s at 10 Hz, one TCP probe" % SAMPLE_SECONDS, "wall s", "CPU s",
                  "CPU share of one core"],
                 [("bare Python loop, same connections", "%.2f" % bare_wall, "%.2f" % bare_cpu,
                   "%.1f %%" % (100 * bare_cpu / bare_wall)),
                  ("health_probe mode=sample (module process, incl. start-up)", "%.2f" % wall, "%.2f" % ours_cpu,
                   "%.1f %%" % (100 * ours_cpu / wall)),
                  ("the same minus a once-mode run's CPU (start-up: %.2f s)" % start_cpu, "%.2f" % SAMPLE_SECONDS,
                   "%.2f" % (ours_cpu - start_cpu), "%.1f %%" % (100 * (ours_cpu - start_cpu) / SAMPLE_SECONDS))])
    if polls:
        out += ["", "The module made %s polls." % polls]
    return out


if __name__ == "__main__":
    print("\n".join(render(*run())))
