"""Emergency stop vs host count: the time until the last fleet host is clean, for N = 1, 5 and 20 hosts.

    .venv/bin/python benchmarks/fleet_emergency_stop.py [N ...]     # default: 1 5 20

For each N: ``scripts/fleet.sh up N``, a loss fault and CPU stress (two minutes) on every host, then
``playbooks/emergency-stop.yml -i inventories/fleet -f N``. "last clean" is the latest ``reverted_at`` in the
hosts' ledgers minus the moment the playbook started (the fleet's containers share this machine's clock); the
baseline beside it is ``ansible fleet -m ping -f N`` (Ansible's own floor over SSH for the same hosts). The
fleet is taken down at the end. Prints a Markdown table; figures are for reading, never asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv", "bin")
INVENTORY = os.path.join(ROOT, "inventories", "fleet")
ENV = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
           ANSIBLE_DEPRECATION_WARNINGS="false")
COUNTS = (1, 5, 20)
LEDGER_LOOK = ("import json, os; p = '/var/lib/sutazai-chaos/ledger.json'; "
               "print(json.dumps(json.load(open(p))['entries'] if os.path.exists(p) else []))")
INJECT = [{"hosts": "fleet", "gather_facts": False, "tasks": [
    {"sutazai.chaos.network_chaos": {"interface": "eth0", "loss": {"percent": 50}, "duration": 120}},
    {"sutazai.chaos.resource_stress": {"cpu": {"workers": 1, "load": 5}, "max_cpu_percent": 100,
                                       "duration": 120}}]}]


def run(argv, **kwargs):
    return subprocess.run(argv, cwd=ROOT, env=ENV, capture_output=True, text=True, check=False, **kwargs)


def failed_msgs(stdout):
    output = json.loads(stdout[stdout.find("{"):])
    return {host: result.get("msg") for play in output["plays"] for task in play["tasks"]
            for host, result in task["hosts"].items() if result.get("failed") or result.get("unreachable")}


def fleet_names():
    out = run(["docker", "ps", "--filter", "label=sutazai.chaos.fleet=szf-fleet", "--format", "{{.Names}}"]).stdout
    return sorted(out.split())


def measure(count):
    subprocess.run([os.path.join(ROOT, "scripts", "fleet.sh"), "up", str(count)], cwd=ROOT, check=True)
    names = fleet_names()
    for name in names:  # start from empty ledgers and no flag
        run(["docker", "exec", name, "rm", "-rf", "/var/lib/sutazai-chaos"])
    start = time.time()
    ping = run([os.path.join(VENV, "ansible"), "fleet", "-i", INVENTORY, "-m", "ansible.builtin.ping", "-f",
                str(count)])
    ping_seconds = time.time() - start
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as book:
        json.dump(INJECT, book)
    inject = run([os.path.join(VENV, "ansible-playbook"), "-i", INVENTORY, "-f", str(count), book.name])
    os.unlink(book.name)
    if inject.returncode != 0:
        raise SystemExit("injecting on the fleet failed: %s" % failed_msgs(inject.stdout))
    start = time.time()
    stop = run([os.path.join(VENV, "ansible-playbook"), os.path.join(ROOT, "playbooks", "emergency-stop.yml"),
                "-i", INVENTORY, "-f", str(count)])
    wall = time.time() - start
    last = 0.0
    for name in names:
        entries = json.loads(run(["docker", "exec", name, "python3", "-c", LEDGER_LOOK]).stdout)
        if any(e.get("state") == "active" for e in entries):
            raise SystemExit("%s still has active faults after the emergency stop" % name)
        last = max([last] + [e["reverted_at"] - start for e in entries if e.get("reverted_at")])
    run([os.path.join(VENV, "ansible-playbook"), os.path.join(ROOT, "playbooks", "resume-chaos.yml"), "-i",
         INVENTORY, "-f", str(count)])
    return {"hosts": count, "rc": stop.returncode, "last_clean": last, "wall": wall, "ping": ping_seconds}


def run_counts(counts=COUNTS):
    """Rows for ``render``: one per host count; the fleet is taken down at the end."""
    rows = []
    try:
        for count in counts:
            rows.append(measure(count))
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "fleet.sh"), "down"], cwd=ROOT, check=False)
    return rows


def render(rows):
    out = ["| hosts (forks) | last host clean s | emergency-stop.yml wall s | floor: `ansible fleet -m ping` s |"
           " wall / ping | rc |", "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        out.append("| %d | %.2f | %.2f | %.2f | %.1fx | %d |" % (
            row["hosts"], row["last_clean"], row["wall"], row["ping"], row["wall"] / row["ping"], row["rc"]))
    return out


if __name__ == "__main__":
    print("\n".join(render(run_counts([int(n) for n in sys.argv[1:]] or COUNTS))))
