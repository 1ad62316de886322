# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet fixtures: the collection over real SSH, against the hosts of ``scripts/fleet.sh up``.

Ansible reaches each host the way a user's inventory would (``inventories/fleet``: 127.0.0.1, a published
port, key auth). The tests observe the hosts through ``docker exec`` instead, a channel no fault of ours can
cut, so they can look at a host while its SSH is partitioned. After every test each host must be clean: no
chain or qdisc of ours, no stress-ng, no reaper, no active ledger entry, no emergency-stop flag.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
INVENTORY = REPO / "inventories" / "fleet"
DOCKER = os.environ.get("DOCKER", "/usr/bin/docker")
STATE_DIR = "/var/lib/sutazai-chaos"
RUN_TAG = "szf-" + secrets.token_hex(3)
MARKER_ENV = "SUTAZAI_CHAOS_FLEET_RUN"

# One docker exec per look: what of ours is on a host right now (JSON).
HOST_STATE = r"""
import json, os, subprocess
def out(argv):
    return subprocess.run(argv, capture_output=True, text=True).stdout
procs = []
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        stat = open("/proc/%s/stat" % pid).read()
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode()
    except OSError:
        continue
    if stat.rsplit(")", 1)[1].split()[0] != "Z":
        procs.append((int(pid), cmd))
ledger = "/var/lib/sutazai-chaos/ledger.json"
entries = json.load(open(ledger))["entries"] if os.path.exists(ledger) else []
print(json.dumps({
    "chains": sorted({l.split()[1] for l in out(["iptables", "-w", "5", "-S"]).splitlines() if l.startswith("-N SZC")}),
    "qdisc_ours": "5a17:" in out(["tc", "qdisc", "show", "dev", "eth0"]),
    "stress": [p for p, c in procs if c.startswith("stress-ng")],
    "reapers": [p for p, c in procs if "sutazai_chaos_reaper._ledger" in c and "--exec-in-cgroups" not in c],
    "entries": entries,
    "stop_flag": os.path.exists("/var/lib/sutazai-chaos/emergency-stop"),
    "now": __import__("time").time(),
}))
"""


def fleet_hosts():
    path = INVENTORY / "hosts.yml"
    if not path.exists():
        pytest.fail("inventories/fleet/hosts.yml is missing: run scripts/run-fleet.sh (or make fleet)")
    hosts = yaml.safe_load(path.read_text())["fleet"]["hosts"]
    return {name: dict(vars_) for name, vars_ in hosts.items()}


def docker_exec(host, argv, timeout=30):
    return subprocess.run([DOCKER, "exec", host] + list(argv), capture_output=True, text=True, timeout=timeout,
                          check=False)


def host_state(host):
    proc = docker_exec(host, ["python3", "-c", HOST_STATE])
    assert proc.returncode == 0, proc.stderr
    state = json.loads(proc.stdout)
    state["active"] = [e for e in state["entries"] if e.get("state") == "active"]
    return state


def is_clean(state):
    return not (state["chains"] or state["qdisc_ours"] or state["stress"] or state["reapers"] or state["active"])


def wait_until_clean(hosts, timeout):
    """{host: controller time at which it was first seen clean} (missing: not clean within timeout)."""
    clean_at, pending = {}, set(hosts)
    deadline = time.time() + timeout
    while pending and time.time() < deadline:
        for host in sorted(pending):
            if is_clean(host_state(host)):
                clean_at[host] = time.time()
                pending.discard(host)
        time.sleep(0.2)
    return clean_at


def clean_and_unflagged(state):
    return is_clean(state) and not state["stop_flag"]


def can_ping(source, address):
    """One ICMP echo from fleet host ``source`` to ``address`` (a fleet address), 1 s timeout."""
    return docker_exec(source, ["ping", "-n", "-c", "1", "-W", "1", address]).returncode == 0


def wait_for(predicate, timeout, interval=0.1):
    """Poll ``predicate()`` until truthy; returns (value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = predicate()
        if value or time.monotonic() - start >= timeout:
            return value, time.monotonic() - start
        time.sleep(interval)


def ansible_env(control_dir=None, persist=True, extra=None):
    """Environment for ansible: JSON output; its own ControlPath folder (so no earlier SSH master is reused)."""
    env = dict(os.environ)
    env.update(
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
        ANSIBLE_SSH_CONTROL_PATH_DIR=str(control_dir or tempfile.mkdtemp(prefix=RUN_TAG + "-cp-")),
    )
    if not persist:
        env["ANSIBLE_SSH_ARGS"] = "-o ControlMaster=no -o ControlPersist=no"
    env[MARKER_ENV] = RUN_TAG  # inherited by ansible's workers and ssh: lets the tests find their orphans
    env.update(extra or {})
    return env


def parse_json_output(stdout):
    start = stdout.find("{")
    if start < 0:
        raise AssertionError("no JSON in ansible output:\n%s" % stdout)
    return json.loads(stdout[start:])


def write_playbook(tmp_path, tasks, hosts="fleet", **play):
    book = [dict({"name": "fleet test", "hosts": hosts, "gather_facts": False, "tasks": tasks}, **play)]
    path = Path(tmp_path) / ("play-%s.yml" % secrets.token_hex(3))
    path.write_text(json.dumps(book, indent=1))  # JSON is YAML
    return path


def playbook_argv(book, inventory=INVENTORY, forks=None, extra=()):
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), str(book)]
    if forks:
        argv += ["-f", str(forks)]
    return argv + list(extra)


def run_playbook(book, inventory=INVENTORY, forks=None, extra=(), env=None, timeout=180):
    proc = subprocess.run(playbook_argv(book, inventory, forks, extra), cwd=REPO, env=env or ansible_env(),
                          capture_output=True, text=True, timeout=timeout, check=False)
    return proc, parse_json_output(proc.stdout)


def ad_hoc_ping(hosts="fleet", inventory=INVENTORY, timeout_s=3):
    """A new SSH connection per host (own ControlPath folder): {host: 'ok' | 'unreachable' | 'failed'}."""
    proc = subprocess.run([str(VENV_BIN / "ansible"), hosts, "-i", str(inventory), "-m", "ansible.builtin.ping",
                           "-T", str(timeout_s)], cwd=REPO, env=ansible_env(), capture_output=True, text=True,
                          timeout=60, check=False)
    stats = parse_json_output(proc.stdout)["stats"]
    return {host: "unreachable" if s["unreachable"] else "failed" if s["failures"] else "ok"
            for host, s in stats.items()}


def failures(output):
    """{host: message} of every failed or unreachable task result, to put in assertion messages."""
    found = {}
    for play in output.get("plays", []):
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if result.get("failed") or result.get("unreachable"):
                    found.setdefault(host, []).append("%s: %s" % (task["task"]["name"], result.get("msg")))
    return found


def task_results(output, task_index):
    """{host: result} of the task at ``task_index`` of the first play."""
    return output["plays"][0]["tasks"][task_index]["hosts"]


def marked_pids():
    """Live controller processes (ansible workers, ssh) started by this test run."""
    found = []
    marker = ("%s=%s" % (MARKER_ENV, RUN_TAG)).encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path("/proc/%s/environ" % entry).read_bytes()
            stat = Path("/proc/%s/stat" % entry).read_text()
        except OSError:
            continue
        if marker in environ.split(b"\0") and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(int(entry))
    return found


def kill_marked():
    """SIGKILL, one PID at a time, what is left on the controller of a killed run (workers, ssh masters)."""
    for pid in marked_pids():
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def force_clean(host):
    """Last resort after a failed test: remove whatever of ours is on the host, through docker exec."""
    # The patterns are bracketed so that pkill does not match this very shell's command line.
    script = ("rm -rf %s; for c in $(iptables -w 5 -S | awk '/^-A (INPUT|OUTPUT|FORWARD) .*-j SZC/{print}' "
              "| sed 's/^-A/-D/' | tr ' ' '#'); do iptables -w 5 $(echo $c | tr '#' ' '); done; "
              "for c in $(iptables -w 5 -S | awk '/^-N SZC/{print $2}'); do iptables -w 5 -F $c; "
              "iptables -w 5 -X $c; done; tc qdisc del dev eth0 root 2>/dev/null; pkill -9 '[s]tress-ng'; "
              "pkill -9 -f '[s]utazai_chaos_reaper'; true" % STATE_DIR)
    docker_exec(host, ["sh", "-c", script])


@pytest.fixture(scope="session")
def hosts():
    found = fleet_hosts()
    assert len(found) >= 2, "the fleet tests need at least 2 hosts, found %s" % sorted(found)
    return found


@pytest.fixture(autouse=True)
def clean_fleet_after(hosts):
    """After every test: each host is clean (waiting a little for reapers to exit), else cleaned and failed."""
    yield
    kill_marked()
    dirty = {}
    for host in hosts:
        clean, _waited = wait_for(lambda h=host: clean_and_unflagged(host_state(h)), timeout=5, interval=0.3)
        if not clean:
            left = host_state(host)
            dirty[host] = {k: left[k] for k in ("chains", "qdisc_ours", "stress", "reapers", "stop_flag")}
            dirty[host]["active"] = [e["kind"] for e in left["active"]]
            force_clean(host)
        else:
            # The next test starts from an empty ledger (entries of earlier tests would confuse the checks).
            docker_exec(host, ["rm", "-rf", STATE_DIR])
    assert not dirty, "left behind on fleet hosts: %s" % dirty
