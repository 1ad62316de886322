"""Benchmarks: what the collection costs against a bare baseline measured in the same run.

    .venv/bin/python benchmarks/run.py            # writes benchmarks/RESULTS.md (make bench)
    .venv/bin/python benchmarks/run.py --quick    # scale up to 50 targets only, no Mitogen, no SSH fleet

Sections come from benchmarks/<topic>.py (floors, ledger_batch, scale, mttr, peer, task_profile, mitogen,
fleet_emergency_stop), each also runnable alone. The container-heavy sections (scale, the SSH fleet) take
BENCH_DOCKER_LOCK (default /tmp/docker.lock, the lock the project's helpers share one Docker engine with) while
they run, and only then.

Each row is a median of repeated runs and its ratio to a baseline taken in the same run on the same
machine, so a busy machine slows both sides. Figures are for reading, never asserted: timing tests on
shared 2-core machines are noise.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time

import docker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import floors  # noqa: E402
import ledger_batch  # noqa: E402
import fleet_emergency_stop as fleet_stop  # noqa: E402
import mitogen  # noqa: E402
import mttr  # noqa: E402
import peer  # noqa: E402
import scale  # noqa: E402
import task_profile  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
from ansible_collections.sutazai.chaos.plugins.module_utils._targets import select_targets  # noqa: E402

IMAGE = "sutazai-chaos/demo:1"
PREFIX = "bench-%s-" % os.urandom(3).hex()
ENV = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
           ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")


def module(name, args):
    """Run one module ad hoc (what a one-task playbook costs); returns (seconds, result)."""
    name = name if "." in name else "sutazai.chaos." + name
    argv = [os.path.join(ROOT, ".venv", "bin", "ansible"), "localhost", "-m", name,
            "-e", "ansible_python_interpreter=%s" % os.path.join(ROOT, ".venv/bin/python")]
    if args:
        argv += ["-a", json.dumps(args)]
    started = time.monotonic()
    out = subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - started
    result = json.loads(out)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    return elapsed, result


def median_of(runs, fn):
    return statistics.median(fn() for _run in range(runs))


def bench_pause(client, container, state_dir, runs):
    def bare():
        started = time.monotonic()
        container.pause()
        container.unpause()
        return time.monotonic() - started

    def ours():
        first, _r = module("container_chaos", {"action": "pause", "duration": 60, "targets": {"names": [container.name]},
                                               "state_dir": state_dir})
        second, _r = module("container_chaos", {"action": "pause", "state": "absent",
                                                "targets": {"names": [container.name]}, "state_dir": state_dir})
        return first + second

    def noop():
        return module("ansible.builtin.ping", {})[0] + module("ansible.builtin.ping", {})[0]

    return median_of(runs, bare), median_of(runs, noop), median_of(runs, ours)


def bench_reaper(client, container, state_dir, runs):
    """Seconds between a pause's deadline and the moment the engine shows it unpaused (nobody asks)."""
    lateness = []
    for _run in range(runs):
        _e, result = module("container_chaos", {"action": "pause", "duration": 1.5, "targets": {"names": [container.name]},
                                                "state_dir": state_dir})
        deadline = result["containers"][0]["deadline"]
        while True:
            container.reload()
            if not container.attrs["State"]["Paused"]:
                lateness.append(time.time() - deadline)
                break
            time.sleep(0.02)
    return statistics.median(lateness), max(lateness)


def bench_emergency_stop(client, containers, state_dir):
    """Undo N paused containers: the module's own timing vs a bare unpause loop."""
    for c in containers:
        c.pause()
    started = time.monotonic()
    for c in containers:
        c.unpause()
    bare = time.monotonic() - started
    module("container_chaos", {"action": "pause", "duration": 300, "targets": {"names": [c.name for c in containers]},
                               "state_dir": state_dir, "max_targets": len(containers)})
    _wall, result = module("chaos_emergency_stop", {"state": "present", "reason": "benchmark", "state_dir": state_dir})
    module("chaos_emergency_stop", {"state": "absent", "state_dir": state_dir})
    return bare, result["elapsed_seconds"], len(result["reverted"])


def bench_selection(size):
    rng = random.Random(7)
    fleet = [{"id": "%064x" % i, "name": "svc-%d-%d" % (i % 50, i), "labels": {"tier": rng.choice(["web", "db", "cache"])},
              "compose_project": "p%d" % (i % 10), "compose_service": "svc-%d" % (i % 50), "status": "running",
              "pid": 1000 + i} for i in range(size)]
    params = {"targets": {"labels": {"tier": "web"}, "compose_project": "p3"}, "select": {"mode": "percent", "value": 10,
                                                                                          "seed": "x"},
              "protected": ["svc-7"], "exclude": [], "allow_empty": False, "max_targets": None}
    started = time.monotonic()
    select_targets(fleet, params, states=["running"])
    ours = time.monotonic() - started
    started = time.monotonic()
    [c for c in fleet if c["labels"]["tier"] == "web" and c["compose_project"] == "p3"]
    bare = time.monotonic() - started
    return bare, ours


def base_rows():
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    containers = [client.containers.run(IMAGE, ["sleep", "infinity"], name=PREFIX + str(i), detach=True)
                  for i in range(10)]
    rows = []
    try:
        with tempfile.TemporaryDirectory() as state_dir:
            bare, noop, ours = bench_pause(client, containers[0], state_dir, runs=5)
            rows.append(("pause + unpause one container", "Docker SDK calls", bare, "two module tasks (ad hoc)", ours))
            rows.append(("the same, against Ansible's own floor", "two ad-hoc ping tasks", noop,
                         "two module tasks (ad hoc)", ours))
            median_late, worst_late = bench_reaper(client, containers[1], state_dir, runs=5)
            rows.append(("reaper: deadline to unpaused (median of 5)", "deadline", 0.0,
                         "reaper, no controller", median_late))
            for n in (1, 5, 10):
                bare, ours, undone = bench_emergency_stop(client, containers[:n], state_dir)
                rows.append(("emergency stop on localhost, %d paused container(s) (%d undone)" % (n, undone),
                             "bare unpause loop", bare, "chaos_emergency_stop (in module)", ours))
        for size in (1000, 10000):
            bare, ours = bench_selection(size)
            rows.append(("selection over %d containers (labels+project, 10 %% seeded)" % size,
                         "list comprehension filter", bare, "select_targets", ours))
    finally:
        for c in containers:
            c.remove(force=True)
    lines = ["| what | baseline | baseline s | ours | ours s | ratio |", "| --- | --- | ---: | --- | ---: | ---: |"]
    for what, base_name, base, our_name, ours in rows:
        ratio = "%.1fx" % (ours / base) if base > 0 else "-"
        lines.append("| %s | %s | %.4f | %s | %.4f | %s |" % (what, base_name, base, our_name, ours, ratio))
    lines += ["", "Worst reaper lateness of the 5 runs: %.3f s. The reaper polls the ledger every 0.25 s, which"
              " bounds its lateness." % worst_late]
    return lines


def docker_lock():
    """The shared engine's lock file, held around the container-heavy section (None: no lock)."""
    import fcntl

    path = os.environ.get("BENCH_DOCKER_LOCK", "/tmp/docker.lock")
    if not path:
        return None
    handle = open(path, "a")
    started = time.monotonic()
    fcntl.flock(handle, fcntl.LOCK_EX)
    scale.log("holding %s (waited %.0f s)" % (path, time.monotonic() - started))
    return handle


def section(title, intro, run_and_render):
    """A section's lines; a section that fails says so (and why) instead of ending the whole run."""
    scale.log(title)
    try:
        body = run_and_render()
    except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others' figures
        body = ["**Not measured in this run: the section failed (%s: %s).**" % (type(exc).__name__, str(exc)[:500])]
    return ["", "## " + title, ""] + ([intro, ""] if intro else []) + body


def write(header, out):
    text = "\n".join(header + out) + "\n"
    with open(os.path.join(ROOT, "benchmarks", "RESULTS.md"), "w") as handle:
        handle.write(text)
    return text


def under_docker_lock(run_and_render):
    """``run_and_render`` wrapped to hold the shared engine's lock while it runs (sections that start containers)."""
    def locked():
        lock = docker_lock()
        try:
            return run_and_render()
        finally:
            if lock:
                lock.close()
    return locked


def scale_section(sizes):
    return under_docker_lock(lambda: scale.render(*scale.run(sizes)))()


def scale_only():
    """Run the scale section again and put it in place of the one in RESULTS.md (saying so)."""
    path = os.path.join(ROOT, "benchmarks", "RESULTS.md")
    with open(path) as handle:
        text = handle.read()
    head, _sep, _old = text.partition("\n## Scale in one call")
    load = os.getloadavg()[0]
    body = section("Scale in one call: %s containers selected by one label" % ", ".join(map(str, scale.SIZES)),
                   "Run again on its own (`benchmarks/run.py --scale-only`, %s, load %.1f) after the full run's"
                   " scale section failed; each module in a plain Python process, inject with duration 600, then"
                   " state=absent; every inject and revert checked on the engine, in the containers' network"
                   " namespaces or in the process table." % (time.strftime("%H:%M UTC", time.gmtime()), load),
                   lambda: scale_section(scale.SIZES))
    with open(path, "w") as handle:
        handle.write(head.rstrip("\n") + "\n" + "\n".join(body) + "\n")


def main():
    quick = "--quick" in sys.argv[1:]
    if "--scale-only" in sys.argv[1:]:
        return scale_only()
    started = time.monotonic()
    load_before = os.getloadavg()
    sizes = (10, 50) if quick else scale.SIZES

    def header(done):
        return ["# Benchmarks", "",
                "Run `make bench` (`.venv/bin/python benchmarks/run.py%s`) on %s, %s, %d CPUs; %s; %.0f s in all%s." % (
                    " --quick" if quick else "", platform.node(), platform.platform(), os.cpu_count(),
                    time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), time.monotonic() - started,
                    "" if done else " so far (the run had not finished when this was written)"),
                "Machine load (1-minute average) at the start %.1f and when this was written %.1f (the benchmark's"
                " own work counts in it: 200 containers, stress-ng, 20 SSH hosts). Ratios are against baselines"
                " measured in the same run. Medians unless a row says otherwise; figures are for reading, never"
                " asserted." % (load_before[0], os.getloadavg()[0])]

    sections = [
        ("Module calls against the engine, the reaper, the emergency stop on localhost, selection",
         "Ad-hoc tasks (`ansible localhost -m ...`): every figure includes Ansible's start-up per task.", base_rows),
        ("A one-fault playbook against Ansible's own floor; module vs raw call per fault kind",
         "\"Module's own\" is the module in a plain Python process (benchmarks/modrun.py: its imports, engine or"
         " kernel calls and ledger, no Ansible task machinery); \"ad hoc\" adds Ansible's per-task start-up.",
         lambda: floors.render(*floors.run())),
        ("Ledger cost of one call over N targets, one by one vs batched (no engine)",
         "Each ledger write rewrites the whole ledger under its lock, so one write per target made a call over N"
         " targets quadratic; FaultTransaction.apply_many (this run's code) records all, applies, and marks all"
         " applied in two writes. \"one by one\" is the old path (apply per fault).",
         lambda: ledger_batch.render(ledger_batch.run())),
        ("MTTR accuracy and probe overhead", None, lambda: mttr.render(*mttr.run())),
        ("Chaos Toolkit side by side", "benchmarks/peer.py; experiments in benchmarks/peer/.",
         lambda: peer.render(*peer.run())),
        ("Profile of one container_chaos task, before and after this branch",
         "benchmarks/task_profile.py; before = commit %s (main when the work started)." % task_profile.BASELINE_COMMIT,
         lambda: task_profile.render(*task_profile.run())),
    ]
    if not quick:
        sections.append(("Mitogen", "benchmarks/mitogen.py.", lambda: mitogen.render(*mitogen.run())))
        sections.append(("Mitogen over SSH on the fleet", "benchmarks/mitogen.py (run_fleet): %d throwaway SSH"
                         " hosts from scripts/fleet.sh on this machine." % mitogen.FLEET_HOSTS,
                         under_docker_lock(lambda: mitogen.render_fleet(*mitogen.run_fleet()))))
        sections.append(("Emergency stop across an SSH fleet: %s hosts" % ", ".join(map(str, fleet_stop.COUNTS)),
                         "benchmarks/fleet_emergency_stop.py: per host count, `scripts/fleet.sh up N`, a loss fault"
                         " and a CPU stress (120 s) on every host, then `playbooks/emergency-stop.yml -i"
                         " inventories/fleet -f N`. \"Last host clean\" is the latest `reverted_at` in the hosts'"
                         " ledgers after the playbook started (the hosts share this machine's clock); the floor is"
                         " `ansible fleet -m ping -f N` over the same cold SSH connections.",
                         under_docker_lock(lambda: fleet_stop.render(fleet_stop.run_counts()))))
    sections.append(("Scale in one call: %s containers selected by one label" % ", ".join(map(str, sizes)),
                     "Each module in a plain Python process (its own work, no Ansible start-up); inject with"
                     " duration 600, then state=absent; every inject and revert checked on the engine, in the"
                     " containers' network namespaces or in the process table.", lambda: scale_section(sizes)))
    out = []
    for title, intro, body in sections:
        out += section(title, intro, body)
        write(header(False), out)
    print(write(header(True), out))


if __name__ == "__main__":
    main()
