# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The deployment validator (playbooks/validate.yml) on this machine and on a host broken on purpose.

(a) This machine with the demo stack up: every row PASS or WARN (sch_netem WARN: no netem here), exit 0,
    the same with --check, and the state folder is byte-for-byte and mtime-for-mtime what it was.
(b) A container of the demo image reached with the community.docker.docker connection: no tc/iptables/
    stress-ng, no Docker SDK or engine inside, and a read-only root filesystem (only /tmp is a tmpfs, where
    Ansible unpacks its modules), so the state folder cannot be made. FAIL rows, a non-zero exit, no traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess

import pytest

from conftest import IMAGE, REPO, RUN_LABEL, SESSION_TAG, VENV_BIN, ansible_env  # noqa: I001 - pytest puts this folder on sys.path

STATUSES = {"PASS", "WARN", "FAIL"}


@pytest.fixture(scope="module")
def demo_stack():
    subprocess.run([str(REPO / "scripts" / "stack.sh"), "up"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


def run_validate(inventory, tmp_path, *extra):
    """Run validate.yml with the JSON callback; returns (rc, {host: report}, {host: table}, raw output)."""
    scratch = tmp_path / ("tmp-%d" % len(list(tmp_path.glob("tmp-*"))))
    scratch.mkdir()
    # TMPDIR: where the module's reaper trial makes (and must remove) its temporary folder.
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "playbooks/validate.yml", "-i", str(inventory)]
                          + list(extra), cwd=REPO, env=ansible_env({"TMPDIR": str(scratch)}), capture_output=True,
                          text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    reports, tables = {}, {}
    for play in data["plays"]:
        for task in play["tasks"]:
            for host, result in task["hosts"].items():
                if task["task"]["name"] == "Count the rows":
                    reports[host] = result["ansible_facts"]["validate_report"]
                elif task["task"]["name"] == "Print the table of this host":
                    tables[host] = result["msg"]
    assert list(scratch.iterdir()) == [], "temporary files left behind: %s" % list(scratch.iterdir())
    return proc.returncode, reports, tables, output


def snapshot(folder):
    """Every path below ``folder`` with its type, mode, mtime and (for files) content hash."""
    if not folder.exists():
        return None
    seen = {".": ("dir", folder.stat().st_mode, folder.stat().st_mtime_ns, None)}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            digest = None
            if name in files and os.path.isfile(path):
                with open(path, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
            seen[os.path.relpath(path, folder)] = ("dir" if name in dirs else "file", info.st_mode,
                                                   info.st_mtime_ns, digest)
    return seen


def rows_of(report):
    return {row["check"]: row for row in report["checks"]}


def test_validate_this_machine_passes_changes_nothing_and_check_mode_agrees(demo_stack, state_dir, tmp_path):
    # A state folder in use: a ledger with a reverted entry, an audit journal, the reaper's files.
    (state_dir / "ledger.json").write_text(json.dumps({"version": 1, "entries": [
        {"id": "e1", "experiment_id": "old", "kind": "container_pause", "state": "reverted", "undo": [],
         "target": {"name": "x"}, "deadline": 1.0}]}))
    (state_dir / "audit.jsonl").write_text('{"event": "inject", "entry_id": "e1"}\n')
    (state_dir / "ledger.lock").write_text("")
    (state_dir / "lib" / "sutazai_chaos_reaper").mkdir(parents=True)
    (state_dir / "lib" / "sutazai_chaos_reaper" / "__init__.py").write_text("")
    os.utime(state_dir / "ledger.json", ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = snapshot(state_dir)

    inventory = REPO / "inventories" / "local"
    runs = {}
    for mode, extra in (("real", ()), ("check", ("--check",))):
        rc, reports, tables, output = run_validate(inventory, tmp_path, "-e", "chaos_state_dir=%s" % state_dir,
                                                   *extra)
        print("validate.yml (%s):\n%s" % (mode, tables.get("localhost")))
        assert rc == 0, output[-4000:]
        assert "Traceback" not in output
        report = reports["localhost"]
        rows = rows_of(report)
        assert {row["status"] for row in report["checks"]} <= {"PASS", "WARN"}, report["checks"]
        assert rows["sch_netem"]["status"] == "WARN" and "tbf" in rows["sch_netem"]["detail"]
        assert rows["state folder"]["status"] == "PASS" and str(state_dir) in rows["state folder"]["detail"]
        for check in ("docker engine", "docker sdk", "tool tc", "tool iptables", "tool nsenter", "tool stress-ng",
                      "reaper", "clock", "protected service postgres", "dependency map", "health check backend",
                      "health check frontend", "health check postgres", "health check redis"):
            assert rows[check]["status"] == "PASS", rows[check]
        assert "experiments" in rows
        assert int(report["failed_checks"]) == 0
        assert int(report["passed"]) + int(report["warned"]) == len(report["checks"])
        assert "pass rate" in tables["localhost"] and "sch_netem" in tables["localhost"]
        assert snapshot(state_dir) == before, "the state folder changed in the %s run" % mode
        runs[mode] = [(row["check"], row["status"]) for row in report["checks"]]
    assert runs["check"] == runs["real"]


@pytest.fixture
def broken_host(docker_client, prefix):
    """A container of the demo image with a read-only root (and a tmpfs /tmp, or no module could run)."""
    container = docker_client.containers.run(
        IMAGE, ["sleep", "infinity"], name=prefix + "broken-host", detach=True, read_only=True,
        tmpfs={"/tmp": "rw,size=64m"}, labels={RUN_LABEL: SESSION_TAG, "sct.prefix": prefix},
    )
    try:
        yield container
    finally:
        container.remove(force=True)


def test_validate_a_broken_host_fails_with_rows_not_tracebacks(broken_host, tmp_path):
    inventory = tmp_path / "broken.yml"
    inventory.write_text(json.dumps({"all": {"children": {"docker_hosts": {"hosts": {"broken": {
        "ansible_connection": "community.docker.docker",
        "ansible_host": broken_host.name,
        "ansible_python_interpreter": "/usr/bin/python3",
        # Ansible's temporary files go to /tmp (the one writable place) through the pipe, not ~/.ansible.
        "ansible_pipelining": True,
        "ansible_remote_tmp": "/tmp",
        "chaos_protected_services": ["postgres"],
        "chaos_dependency_map": {"api": ["db"]},
        "chaos_health_checks": {"api": {"type": "tcp", "host": "127.0.0.1", "port": 9}},
    }}}}}}))
    rc, reports, tables, output = run_validate(inventory, tmp_path)
    print("validate.yml (broken host):\n%s" % tables.get("broken"))
    assert rc != 0
    assert "Traceback" not in output
    rows = rows_of(reports["broken"])
    assert {row["status"] for row in reports["broken"]["checks"]} <= STATUSES
    for check, says in (("tool stress-ng", "stress-ng"), ("tool tc", "tc"), ("tool iptables", "iptables"),
                        ("state folder", "/var/lib/sutazai-chaos"), ("docker engine", "does not answer"),
                        ("docker sdk", "not importable"), ("protected service postgres", "cannot be listed"),
                        ("dependency map", "db"), ("health check api", "")):
        assert rows[check]["status"] == "FAIL", rows[check]
        assert says in rows[check]["detail"], rows[check]
    assert "resource_stress" in rows["tool stress-ng"]["detail"]
    assert "read-only" in rows["state folder"]["detail"]
    assert rows["tool nsenter"]["status"] == "PASS"
    assert rows["sch_netem"]["status"] == "WARN"
    assert rows["reaper"]["status"] == "PASS"  # in a temporary folder on the tmpfs, not in the state folder
    assert int(reports["broken"]["failed_checks"]) >= 9
    assert "check(s) failed on broken" in output
    # nothing was written in the container: its only writable place is /tmp, and that is empty again
    assert broken_host.exec_run(["ls", "-A", "/tmp"]).output.decode().strip() == ""
