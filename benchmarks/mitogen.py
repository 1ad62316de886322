"""Mitogen (``mitogen`` on PyPI, strategies mitogen_linear / mitogen_free) with this collection, on localhost
and over SSH on the fleet of throwaway hosts (scripts/fleet.sh).

    .venv/bin/python benchmarks/mitogen.py            # localhost, then a fleet of FLEET_HOSTS hosts

Installs ``mitogen==MITOGEN_VERSION`` into the checkout's .venv when it is missing (for the benchmark only; it is
not in requirements.txt). Checks, each with the error when it fails: an ad-hoc ping; a module of ours as it is
(our modules import module_utils relatively, ``from ..module_utils._x import``, which Mitogen cannot run);
the same collection with those imports rewritten to absolute ones (a copy in .cache/bench/mitogen-collections,
made here): a one-fault playbook, ``become`` with pipelining, and the reaper's detached start (a 2 s pause that
nobody undoes must end by itself). Timings compare the linear strategy with mitogen_linear on that copy.
Over SSH (``run_fleet``, the fleet brought up and taken down here): an ad-hoc ping (Mitogen's home ground: it
keeps one SSH connection and one Python per host), a module of ours as shipped, and a host-level fault and its
undo on every host with the copy, each with the linear strategy and with mitogen_linear; every host's ledger is
checked empty of active faults after each fault run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import time

import docker

from common import ENV, IMAGE, PYTHON, ROOT, VENV_BIN, log, ratio, state_folder, table

MITOGEN_VERSION = "0.3.54"
RUNS = 5
FLEET_HOSTS = 5
FLEET_RUNS = 3
FLEET_INVENTORY = os.path.join(ROOT, "inventories", "fleet")
COPY = os.path.join(ROOT, ".cache", "bench", "mitogen-collections")
RELATIVE = re.compile(r"^from \.\.module_utils\.", re.M)


def ensure_mitogen():
    probe = subprocess.run([PYTHON, "-c", "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))"],
                           capture_output=True, text=True, check=False)
    if probe.returncode:
        log("mitogen: installing mitogen==%s into .venv (benchmark only)" % MITOGEN_VERSION)
        subprocess.run([os.path.join(VENV_BIN, "pip"), "install", "-q", "mitogen==%s" % MITOGEN_VERSION], check=True)
        probe = subprocess.run([PYTHON, "-c", "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))"],
                               capture_output=True, text=True, check=True)
    return os.path.join(probe.stdout.strip(), "plugins", "strategy")


def absolute_copy():
    """The collection with ``from ..module_utils.`` rewritten to ``from ansible_collections.sutazai.chaos...``."""
    target = os.path.join(COPY, "ansible_collections", "sutazai", "chaos")
    shutil.rmtree(COPY, ignore_errors=True)
    for part in ("plugins", "meta"):
        shutil.copytree(os.path.join(ROOT, part), os.path.join(target, part))
    shutil.copy(os.path.join(ROOT, "galaxy.yml"), target)
    modules = os.path.join(target, "plugins", "modules")
    for name in os.listdir(modules):
        path = os.path.join(modules, name)
        with open(path) as handle:
            text = handle.read()
        with open(path, "w") as handle:
            handle.write(RELATIVE.sub("from ansible_collections.sutazai.chaos.plugins.module_utils.", text))
    community = os.path.join(ROOT, ".cache", "collections")
    return COPY + ":" + community


def env_for(strategy_dir, strategy, collections=None):
    env = dict(ENV, ANSIBLE_PIPELINING="1")
    if strategy != "linear":
        env.update(ANSIBLE_STRATEGY_PLUGINS=strategy_dir, ANSIBLE_STRATEGY=strategy)
    if collections:
        env["ANSIBLE_COLLECTIONS_PATH"] = collections
    return env


def adhoc(env, name, args, hosts="localhost", extra=()):
    """``ansible <hosts> -m <name>``: (seconds, {host: result}); a run whose output is no JSON is one failure."""
    argv = [os.path.join(VENV_BIN, "ansible"), hosts, "-m", name] + list(extra)
    if args:
        argv += ["-a", json.dumps(args)]
    started = time.monotonic()
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    try:  # the json callback may list one task entry per host (it does when the hosts fail): merge them
        return seconds, {host: result for play in json.loads(out.stdout)["plays"] for task in play["tasks"]
                         for host, result in task["hosts"].items()}
    except (ValueError, KeyError, IndexError):
        return seconds, {hosts: {"failed": True, "msg": (out.stdout + out.stderr)[-600:]}}


def local_adhoc(env, name, args):
    seconds, results = adhoc(env, name, args, extra=["-e", "ansible_python_interpreter=%s" % PYTHON])
    return seconds, results["localhost"]


def playbook(env, name, extra):
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "localhost,", "-c", "local",
            os.path.join(ROOT, "benchmarks", "playbooks", name), "-e", json.dumps(extra)]
    started = time.monotonic()
    out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return time.monotonic() - started, out


def first_error(result):
    text = result.get("module_stdout") or result.get("msg") or ""
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return next((line for line in lines if "Error" in line), lines[-1] if lines else "?")


def run():
    strategy_dir = ensure_mitogen()
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    container = client.containers.run(IMAGE, ["sleep", "infinity"], name="szb-%s-mitogen" % os.urandom(3).hex(),
                                      detach=True)
    checks, timings = [], {}
    try:
        with state_folder("szb-mitogen-") as state_dir:
            mito = env_for(strategy_dir, "mitogen_linear")
            _s, result = local_adhoc(mito, "ansible.builtin.ping", {})
            checks.append(("ad-hoc ansible.builtin.ping, mitogen_linear", "works" if result.get("ping") == "pong"
                           else "fails: %s" % first_error(result)))
            _s, result = local_adhoc(mito, "sutazai.chaos.chaos_ledger_info", {"state_dir": state_dir})
            checks.append(("a module of ours as shipped (relative module_utils imports)",
                           "works" if not result.get("failed") else "fails: %s" % first_error(result)))
            copy = absolute_copy()
            extra = {"bench_container": container.name, "bench_state_dir": state_dir}
            for strategy in ("linear", "mitogen_linear", "mitogen_free"):
                env = env_for(strategy_dir, strategy, copy)
                times, failures = [], []
                for _run in range(RUNS):
                    seconds, out = playbook(env, "one-fault.yml", extra)
                    times.append(seconds)
                    if out.returncode:
                        failures.append(out.stdout[-400:])
                timings[strategy] = (statistics.median(times), failures)
                noop = [playbook(env, "noop.yml", {})[0] for _run in range(RUNS)]
                timings[strategy + " noop"] = (statistics.median(noop), [])
            env = env_for(strategy_dir, "mitogen_linear", copy)
            seconds, out = playbook(env, "become-fault.yml", extra)
            container.reload()
            paused_after_task = container.attrs["State"]["Paused"]
            time.sleep(3.0)
            container.reload()
            still = container.attrs["State"]["Paused"]
            checks.append(("absolute imports: one-fault playbook, pipelining, mitogen_linear and mitogen_free",
                           "works" if not timings["mitogen_linear"][1] and not timings["mitogen_free"][1] else
                           "fails: %s" % (timings["mitogen_linear"][1] + timings["mitogen_free"][1])[0]))
            checks.append(("absolute imports: become (su) + the reaper's detached start (2 s pause nobody undoes)",
                           ("works: paused after the task, unpaused by the reaper 3 s later" if paused_after_task
                            and not still else "fails: rc %s, paused after task %s, 3 s later %s; %s"
                            % (out.returncode, paused_after_task, still, out.stdout[-300:]))))
            if still:
                container.unpause()
    finally:
        container.remove(force=True)
    return checks, timings


def fleet_adhoc(env, name, args):
    """``ansible fleet -m <name>`` over SSH: (seconds, {host: result})."""
    return adhoc(env, name, args, hosts="fleet", extra=["-i", FLEET_INVENTORY, "-f", str(FLEET_HOSTS)])


def fleet_active_faults():
    """Active ledger entries over every fleet host (read with docker exec, outside Ansible)."""
    from fleet_emergency_stop import LEDGER_LOOK, fleet_names  # pylint: disable=import-outside-toplevel

    active = 0
    for name in fleet_names():
        out = subprocess.run(["docker", "exec", name, "python3", "-c", LEDGER_LOOK], capture_output=True, text=True,
                             check=False).stdout
        active += sum(1 for entry in json.loads(out or "[]") if entry.get("state") == "active")
    return active


def run_fleet():
    """Over SSH on FLEET_HOSTS fleet hosts: (checks, {strategy: (ping s, fault s, failures)})."""
    strategy_dir = ensure_mitogen()
    fleet = os.path.join(ROOT, "scripts", "fleet.sh")
    subprocess.run([fleet, "up", str(FLEET_HOSTS)], cwd=ROOT, check=True)
    checks, timings = [], {}
    try:
        copy = absolute_copy()
        _s, results = fleet_adhoc(env_for(strategy_dir, "mitogen_linear"), "sutazai.chaos.chaos_ledger_info", {})
        bad = [r for r in results.values() if r.get("failed") or r.get("unreachable")]
        checks.append(("a module of ours as shipped, over SSH, mitogen_linear",
                       "fails on %d of %d hosts: %s" % (len(bad), len(results), first_error(bad[0])) if bad
                       else "works on all %d hosts" % len(results)))
        for strategy in ("linear", "mitogen_linear"):
            env = env_for(strategy_dir, strategy, copy)
            pings, faults, failures = [], [], []
            for _run in range(FLEET_RUNS):
                seconds, results = fleet_adhoc(env, "ansible.builtin.ping", {})
                pings.append(seconds)
                failures += [first_error(r) for r in results.values() if r.get("ping") != "pong"]
                argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", FLEET_INVENTORY, "-f", str(FLEET_HOSTS),
                        os.path.join(ROOT, "benchmarks", "playbooks", "fleet-fault.yml")]
                started = time.monotonic()
                out = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
                faults.append(time.monotonic() - started)
                if out.returncode:
                    failures.append("fault playbook rc %d: %s" % (out.returncode, out.stdout[-300:]))
                left = fleet_active_faults()
                if left:
                    failures.append("%d fault(s) left active after the undo" % left)
            timings[strategy] = (statistics.median(pings), statistics.median(faults), failures)
        failures = timings["mitogen_linear"][2]
        checks.append(("absolute imports, over SSH: loss on eth0 and its undo on every host, mitogen_linear",
                       "works, nothing left active on any host" if not failures else "fails: %s" % failures[0]))
    finally:
        subprocess.run([fleet, "down"], cwd=ROOT, check=False)
    return checks, timings


def render_fleet(checks, timings):
    out = table(["check (Mitogen %s, %d fleet hosts over SSH, forks %d)" % (MITOGEN_VERSION, FLEET_HOSTS, FLEET_HOSTS),
                 "outcome"], checks)
    base_ping, base_fault = timings["linear"][0], timings["linear"][1]
    out += ["", "Over SSH on the copy with absolute imports, pipelining on, medians of %d:" % FLEET_RUNS, ""]
    out += table(["strategy", "`ansible fleet -m ping` s", "ratio to linear", "fault + undo playbook s",
                  "ratio to linear", "failures"],
                 [(s, "%.2f" % timings[s][0], ratio(timings[s][0], base_ping), "%.2f" % timings[s][1],
                   ratio(timings[s][1], base_fault), len(timings[s][2])) for s in ("linear", "mitogen_linear")])
    return out


def render(checks, timings):
    out = table(["check (Mitogen %s, ansible-core from .venv, localhost)" % MITOGEN_VERSION, "outcome"], checks)
    base = timings["linear"][0]
    out += ["", "Timings on the copy with absolute imports, pipelining on, medians of %d:" % RUNS, ""]
    strategies = ("linear", "mitogen_linear", "mitogen_free")
    out += table(["strategy", "one-fault playbook s", "ratio to linear", "no-op playbook s", "fault above no-op s"],
                 [(s, "%.2f" % timings[s][0], ratio(timings[s][0], base), "%.2f" % timings[s + " noop"][0],
                   "%+.2f" % (timings[s][0] - timings[s + " noop"][0])) for s in strategies])
    return out


if __name__ == "__main__":
    print("\n".join(render(*run()) + [""] + render_fleet(*run_fleet())))
