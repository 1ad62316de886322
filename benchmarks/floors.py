"""A one-fault playbook against Ansible's own floor, rollback after a failure, and module vs raw call per fault kind.

    .venv/bin/python benchmarks/floors.py

Playbooks in benchmarks/playbooks/ run with ``ansible-playbook -i localhost, -c local``; the floor is an ad-hoc
``ansible.builtin.ping`` and a play with no tasks. The per-kind table sets each module (in a plain Python process,
benchmarks/modrun.py, and ad hoc) against the engine or kernel call it makes, for one container.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time

import docker

from common import ENV, IMAGE, ROOT, VENV_BIN, log, module, module_bare, ratio, state_folder, table

RUNS = 5
PLAYBOOKS = os.path.join(ROOT, "benchmarks", "playbooks")


def playbook(name, extra):
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
            os.path.join(PLAYBOOKS, name), "-e", json.dumps(extra)]
    started = time.monotonic()
    out = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, check=False)
    return time.monotonic() - started, out


def floors(container, state_dir):
    ping = statistics.median(module("ansible.builtin.ping", {})[0] for _run in range(RUNS))
    noop = statistics.median(playbook("noop.yml", {})[0] for _run in range(RUNS))
    extra = {"bench_container": container.name, "bench_state_dir": state_dir}
    one = []
    for _run in range(RUNS):
        seconds, out = playbook("one-fault.yml", extra)
        if out.returncode:
            raise RuntimeError("floors: one-fault.yml failed: %s" % out.stdout[-1500:])
        one.append(seconds)
    rollback, left = [], 0
    for run in range(RUNS):
        seconds, out = playbook("rollback.yml", dict(extra, bench_experiment="szb-rollback-%d" % run))
        container.reload()
        left += int(container.attrs["State"]["Paused"])
        rollback.append(seconds)
        if container.attrs["State"]["Paused"]:
            container.unpause()
    return ping, noop, statistics.median(one), statistics.median(rollback), left


def raw_loss(pid):
    rule = ["-p", "all", "-m", "statistic", "--mode", "random", "--probability", "0.1", "-j", "DROP"]
    netns = ["nsenter", "--net=/proc/%d/ns/net" % pid, "iptables", "-w"]
    subprocess.run(netns + ["-I", "OUTPUT"] + rule, check=True)
    subprocess.run(netns + ["-D", "OUTPUT"] + rule, check=True)


def raw_stress():
    process = subprocess.Popen(["stress-ng", "--cpu", "1", "--cpu-load", "1", "--timeout", "60"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(0.05)  # stress-ng forks its worker: let it start before the stop, as the module's undo would find it
    os.killpg(process.pid, signal.SIGTERM)
    process.wait()


def kinds(container, state_dir):
    container.reload()
    pid = container.attrs["State"]["Pid"]
    select = {"targets": {"names": [container.name]}, "state_dir": state_dir}
    cases = (
        ("container pause", "Docker SDK pause + unpause", lambda: (container.pause(), container.unpause()),
         "container_chaos", dict(select, action="pause", duration=60), dict(select, action="pause", state="absent")),
        ("network loss 10 % (iptables, no netem here)", "nsenter iptables -I + -D, statistic DROP",
         lambda: raw_loss(pid), "network_chaos", dict(select, loss={"percent": 10}, duration=60),
         dict(select, state="absent")),
        ("CPU stress in a container", "stress-ng started + stopped (on the host)", raw_stress, "resource_stress",
         dict(select, cpu={"workers": 1, "load": 1}, duration=60, max_cpu_percent=100), dict(select, state="absent")),
    )
    rows = []
    for what, raw_name, raw, name, inject, undo in cases:
        raw_times, own, adhoc = [], [], []
        for _run in range(RUNS):
            started = time.monotonic()
            raw()
            raw_times.append(time.monotonic() - started)
            on, result, _rss = module_bare(name, inject)
            off, result_off, _rss = module_bare(name, undo)
            if result.get("failed") or result_off.get("failed"):
                raise RuntimeError("floors: %s failed: %s" % (name, result.get("msg") or result_off.get("msg")))
            own.append(on + off)
        for _run in range(3):
            adhoc.append(module(name, inject)[0] + module(name, undo)[0])
        rows.append((what, raw_name, statistics.median(raw_times), name, statistics.median(own),
                     statistics.median(adhoc)))
        log("floors: %s: raw %.3f s, module %.3f s, ad hoc %.2f s" % (what, rows[-1][2], rows[-1][4], rows[-1][5]))
    return rows


def run():
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    container = client.containers.run(IMAGE, ["sleep", "infinity"], name="szb-%s-floor" % os.urandom(3).hex(),
                                      detach=True)
    try:
        with state_folder("szb-floor-") as state_dir:
            floor = floors(container, state_dir)
            kind_rows = kinds(container, state_dir)
    finally:
        container.remove(force=True)
    return floor, kind_rows


def render(floor, kind_rows):
    ping, noop, one, rollback, left = floor
    out = table(["what (medians of %d)" % RUNS, "s", "ratio to ping", "above the no-op playbook s"],
                [("`ansible localhost -m ansible.builtin.ping`", "%.2f" % ping, "1.0x", "-"),
                 ("no-op playbook (one play, no tasks)", "%.2f" % noop, ratio(noop, ping), "0.00"),
                 ("one-fault playbook (pause + undo, 2 tasks)", "%.2f" % one, ratio(one, ping), "%+.2f" % (one - noop)),
                 ("rollback after a failure in the block (pause, fail, rescue: chaos_rollback)", "%.2f" % rollback,
                  ratio(rollback, ping), "%+.2f" % (rollback - noop))])
    out += ["", "After the %d rollback runs, containers left paused: %d." % (RUNS, left), ""]
    out += table(["fault kind (1 container)", "raw call", "raw s", "module", "module's own s (inject + undo)",
                  "ratio", "ad hoc s (median of 3)", "ad hoc ratio"],
                 [(what, raw_name, "%.3f" % raw, name, "%.3f" % own, ratio(own, raw), "%.2f" % adhoc,
                   ratio(adhoc, raw)) for what, raw_name, raw, name, own, adhoc in kind_rows])
    return out


if __name__ == "__main__":
    print("\n".join(render(*run())))
