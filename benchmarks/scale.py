"""Scale in one call: container_chaos, network_chaos and resource_stress over 10, 50 and 200 containers.

    .venv/bin/python benchmarks/scale.py [10 50 200]     # prints the tables; run.py includes them

Containers ``szb-<hex>-<n>`` from the demo image (``sleep infinity``) carry a label per group size, so one
label selects 10, 50 or 200 of them. Each module runs in a plain Python process (benchmarks/modrun.py), so
the figures are the module's own work (imports, engine calls, ledger), not Ansible's start-up (see the ping
floor in run.py). Every inject is checked on the engine or the kernel, and every revert too; everything is
removed at the end. Hold ``flock /tmp/docker.lock`` around it on a shared engine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import docker

from common import IMAGE, PYTHON, log, module_bare, peak_rss_of, ratio, state_folder, table

SIZES = (10, 50, 200)
PREFIX = "szb-%s-" % os.urandom(3).hex()
GROUP_LABEL = "szb.group-%d"


def start_containers(client, count):
    containers = []
    for index in range(count):
        labels = {GROUP_LABEL % size: "yes" for size in SIZES if index < size}
        labels["szb.run"] = PREFIX
        containers.append(client.containers.run(IMAGE, ["sleep", "infinity"], name=PREFIX + str(index),
                                                labels=labels, detach=True, network_mode="bridge"))
    return containers


def remove_containers(client):
    for container in client.containers.list(all=True, filters={"label": "szb.run=" + PREFIX}):
        container.remove(force=True)


def paused_count(client, size):
    return len(client.containers.list(filters={"label": GROUP_LABEL % size, "status": "paused"}))


def iptables_chains_in(container):
    """Our chains inside the container's network namespace (loss without netem is an iptables rule)."""
    container.reload()
    pid = container.attrs["State"]["Pid"]
    out = subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, "iptables-save"], capture_output=True,
                         text=True, check=False).stdout
    return [line for line in out.splitlines() if line.startswith(":SZC")]


def stress_processes(marker_dir):
    out = subprocess.run(["pgrep", "-f", "stress-ng"], capture_output=True, text=True, check=False).stdout
    return len(out.split())


def selection(size):
    return {"targets": {"labels": {GROUP_LABEL % size: "yes"}}, "max_targets": size}


def check(ok, what):
    if not ok:
        raise RuntimeError("scale benchmark: %s" % what)


def bare_pause(client, size):
    """The raw engine work for the same targets: list by label, pause each, then unpause each."""
    started = time.monotonic()
    containers = client.containers.list(filters={"label": GROUP_LABEL % size})
    for container in containers:
        container.pause()
    paused = time.monotonic() - started
    started = time.monotonic()
    for container in containers:
        container.unpause()
    return paused, time.monotonic() - started


def one_kind(name, inject_args, state_dir, size, verify_on, verify_off):
    args = dict(selection(size), state_dir=state_dir, duration=600, **inject_args)
    inject, result, rss = module_bare(name, args)
    if result.get("failed"):  # recorded as a row; state=absent below still cleans up whatever is left
        module_bare(name, dict(selection(size), state_dir=state_dir, state="absent", **{
            k: v for k, v in inject_args.items() if k == "action"}))
        check(verify_off(), "%s at %d: something is left after a failed inject and state=absent" % (name, size))
        return "failed after %.1f s: %s" % (inject, str(result.get("msg"))[:160]), None, rss
    check(verify_on(), "%s at %d: the fault is not in place on every target" % (name, size))
    absent = dict(selection(size), state_dir=state_dir, state="absent", **{
        k: v for k, v in inject_args.items() if k == "action"})
    revert, result_off, rss_off = module_bare(name, absent)
    check(not result_off.get("failed"), "%s revert failed at %d: %s" % (name, size, result_off.get("msg")))
    check(verify_off(), "%s at %d: something is left after state=absent" % (name, size))
    return inject, revert, max(rss, rss_off)


def run(sizes=SIZES):
    """Returns (rows, memory rows, notes) for RESULTS.md."""
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=120)
    rows, memory, notes = [], [], []
    log("scale: starting %d containers %s*" % (max(sizes), PREFIX))
    started = time.monotonic()
    containers = start_containers(client, max(sizes))
    notes.append("Starting the %d containers took %.1f s (not counted)." % (len(containers), time.monotonic() - started))
    try:
        for size in sizes:
            group = containers[:size]
            with state_folder("szb-ledger-") as state_dir:
                bare_on, bare_off = bare_pause(client, size)
                inject, revert, rss = one_kind(
                    "container_chaos", {"action": "pause"}, state_dir, size,
                    lambda: paused_count(client, size) == size, lambda: paused_count(client, size) == 0)
                rows.append(("container_chaos pause", size, inject, revert, bare_on, bare_off))
                memory.append(("container_chaos", size, rss))
                log("scale: pause at %d: inject %.2f s, revert %.2f s" % (size, inject, revert))
                inject, revert, rss = one_kind(
                    "network_chaos", {"loss": {"percent": 10}}, state_dir, size,
                    lambda: all(iptables_chains_in(c) for c in group),
                    lambda: not any(iptables_chains_in(c) for c in group))
                rows.append(("network_chaos loss 10 %", size, inject, revert, None, None))
                memory.append(("network_chaos", size, rss))
                log("scale: loss at %d: inject %.2f s, revert %.2f s" % (size, inject, revert))
                before = stress_processes(state_dir)
                inject, revert, rss = one_kind(
                    "resource_stress", {"cpu": {"workers": 1, "load": 1}, "max_cpu_percent": 100}, state_dir, size,
                    lambda: stress_processes(state_dir) >= before + size,
                    lambda: _settled(lambda: stress_processes(state_dir) <= before))
                rows.append(("resource_stress cpu 1 %", size, inject, revert, None, None))
                memory.append(("resource_stress", size, rss))
                log("scale: stress at %d: inject %s, revert %s" % (size, inject, revert))
    finally:
        remove_containers(client)
        log("scale: containers removed")
    _secs, floor_rss = peak_rss_of([PYTHON, "-c", "import docker, ansible.module_utils.basic"])
    memory.append(("floor: python importing docker + AnsibleModule", "-", floor_rss))
    return rows, memory, notes


def _settled(predicate, seconds=5.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def render(rows, memory, notes):
    out = table(["fault", "targets", "inject s", "per target ms", "revert s", "per target ms",
                 "raw engine pause / unpause s", "inject ratio to raw"],
                [(what, n, inj, "-", "-", "-", "-", "-") if isinstance(inj, str) else
                 (what, n, "%.2f" % inj, "%.1f" % (1000 * inj / n), "%.2f" % rev, "%.1f" % (1000 * rev / n),
                  "%.2f / %.2f" % (bon, boff) if bon is not None else "-", ratio(inj, bon) if bon else "-")
                 for what, n, inj, rev, bon, boff in rows])
    out += ["", "Peak memory (max RSS) of the module process:", ""]
    out += table(["module", "targets", "max RSS MiB"], [(m, n, "%.1f" % rss) for m, n, rss in memory])
    return out + [""] + notes


if __name__ == "__main__":
    chosen = tuple(int(a) for a in sys.argv[1:]) or SIZES
    print("\n".join(render(*run(chosen))))
