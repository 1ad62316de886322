# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.chaos_emergency_stop against real faults, the emergency-stop and resume playbooks,
and the audit journal (chaos_audit_info) those faults left."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from conftest import (PYTHON, REPO, VENV_BIN, active_entries, ansible_env, ledger_entries, run_module, run_modules,
                      state_of)

CHAIN = re.compile(r"^-N (SZC-\S+)", re.M)


def netns_faults(container):
    """(our SZC iptables chains, our 5a17:/5a18: qdisc lines) in the container's network namespace."""
    container.reload()
    prefix = ["nsenter", "--net=/proc/%d/ns/net" % container.attrs["State"]["Pid"], "--"]
    rules = subprocess.run(prefix + ["iptables", "-S"], capture_output=True, text=True, check=True).stdout
    qdiscs = subprocess.run(prefix + ["tc", "qdisc", "show", "dev", "eth0"], capture_output=True, text=True,
                            check=True).stdout
    return CHAIN.findall(rules), [q for q in qdiscs.splitlines() if "5a17:" in q or "5a18:" in q]


def pause(sd, container, experiment):
    return {"module": "container_chaos", "args": {"action": "pause", "duration": 300, "state_dir": sd,
                                                  "experiment_id": experiment,
                                                  "targets": {"names": [container.name]}}}


def loss(sd, container, experiment):
    return {"module": "network_chaos", "args": {"loss": {"percent": 30}, "duration": 300, "state_dir": sd,
                                                "experiment_id": experiment,
                                                "targets": {"names": [container.name]}}}


def stop(sd, check=False, **args):
    return {"module": "chaos_emergency_stop", "args": dict(args, state_dir=sd), "check": check}


def test_emergency_stop_undoes_every_fault_and_blocks_new_ones(containers, state_dir, record_property):
    sd = str(state_dir)
    one, two, three = containers("p1"), containers("p2"), containers("n3")
    injected = run_modules([pause(sd, one, "es-1"), pause(sd, two, "es-2"), loss(sd, three, "es-3")], state_dir)
    for result in injected:
        assert result.get("failed") is not True and result["changed"] is True, result
    assert state_of(one)["Paused"] and state_of(two)["Paused"]
    chains, qdiscs = netns_faults(three)
    assert chains or qdiscs, "network_chaos left no trace to undo"
    assert len(active_entries(state_dir)) >= 3

    started = time.monotonic()
    rc, stopped = run_module("chaos_emergency_stop", {"state_dir": sd, "reason": "integration test: INC-1"})
    wall = time.monotonic() - started
    assert rc == 0 and stopped["changed"] is True, stopped
    assert {e["experiment_id"] for e in stopped["reverted"]} == {"es-1", "es-2", "es-3"}
    assert stopped["not_undone"] == []
    assert not state_of(one)["Paused"] and not state_of(two)["Paused"]
    assert state_of(one)["Running"] and state_of(two)["Running"]
    assert netns_faults(three) == ([], [])
    assert active_entries(state_dir) == []
    flag = json.loads((state_dir / "emergency-stop").read_text())
    assert flag["reason"] == "integration test: INC-1" and flag["requested_by"] and flag["time"]
    record_property("emergency_stop_seconds", stopped["elapsed_seconds"])
    print("\nemergency stop time: %.3f s in the module (3 faults), %.2f s wall time with Ansible start-up"
          % (stopped["elapsed_seconds"], wall))

    entries_before = len(ledger_entries(state_dir))
    (refused, stop_again, resume_check, resume, resume_again, works, undo) = run_modules([
        pause(sd, one, "es-4"),
        stop(sd, reason="a second call keeps the first reason"),
        stop(sd, check=True, state="absent"),
        stop(sd, state="absent"),
        stop(sd, state="absent"),
        pause(sd, one, "es-5"),
        {"module": "container_chaos", "args": {"action": "pause", "state": "absent", "state_dir": sd,
                                               "targets": {"names": [one.name]}}},
    ], state_dir)
    assert refused.get("failed") is True and refused.get("changed") is not True, refused
    assert "emergency-stop flag is set" in refused["msg"] and "Nothing was changed" in refused["msg"]
    assert "Traceback" not in refused.output
    assert stop_again["changed"] is False and stop_again["reverted"] == []
    assert stop_again["flag"]["reason"] == "integration test: INC-1"
    assert resume_check["changed"] is True
    assert resume["changed"] is True and resume_again["changed"] is False
    assert works.get("failed") is not True and works["changed"] is True, works
    assert undo["changed"] is True
    assert not (state_dir / "emergency-stop").exists()
    # the refused inject wrote nothing to the ledger: es-5 is the only new entry
    assert [e["experiment_id"] for e in ledger_entries(state_dir)[entries_before:]] == ["es-5"]

    # the audit journal has it all, in order
    rc, audit = run_module("chaos_audit_info", {"state_dir": sd})
    assert rc == 0, audit
    steps = [(e["event"], e.get("experiment_id")) for e in audit["events"]]
    injects = [x for x in steps if x[0] == "inject"]
    assert [x[1] for x in injects] == ["es-1", "es-2", "es-3", "es-5"]
    stop_at = steps.index(("emergency_stop", None))
    assert steps.index(("inject", "es-3")) < stop_at
    assert {x[1] for x in steps[stop_at + 1:stop_at + 4]} == {"es-1", "es-2", "es-3"}
    assert all(x[0] == "revert" for x in steps[stop_at + 1:stop_at + 4])
    assert steps[-1] == ("revert", "es-5")
    assert audit["skipped_lines"] == 0
    assert all("undo" not in e for e in audit["events"])


def test_audit_filters_and_malformed_lines(containers, state_dir):
    sd = str(state_dir)
    victim = containers("a")
    run_modules([pause(sd, victim, "au-1"), {"module": "chaos_rollback", "args": {"all": True, "state_dir": sd}},
                 pause(sd, victim, "au-2"), {"module": "chaos_rollback", "args": {"all": True, "state_dir": sd}}],
                state_dir)
    with open(state_dir / "audit.jsonl", "a") as handle:
        handle.write('{"torn": \n[1, 2]\n\n')
    since = time.time()
    one, kind, last, later, bad = run_modules([
        {"module": "chaos_audit_info", "args": {"state_dir": sd, "experiment_id": "au-1"}},
        {"module": "chaos_audit_info", "args": {"state_dir": sd, "kind": "container_pause"}},
        {"module": "chaos_audit_info", "args": {"state_dir": sd, "limit": 1}},
        {"module": "chaos_audit_info", "args": {"state_dir": sd, "since": since}},
        {"module": "chaos_audit_info", "args": {"state_dir": sd, "limit": -1}},
    ], state_dir)
    assert [e["event"] for e in one["events"]] == ["inject", "revert"]
    assert {e["experiment_id"] for e in one["events"]} == {"au-1"}
    assert one["skipped_lines"] == 2
    assert [e["experiment_id"] for e in kind["events"]] == ["au-1", "au-1", "au-2", "au-2"]
    assert last["matched"] == 4 and [e["experiment_id"] for e in last["events"]] == ["au-2"]
    assert later["events"] == []
    assert bad.get("failed") is True and "limit must be 0" in bad["msg"]


def _playbook(name, *extra):
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(REPO / "playbooks" / name),
            "-e", "ansible_python_interpreter=%s" % PYTHON] + list(extra)
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_emergency_stop_resume_and_audit_playbooks(containers, state_dir):
    sd = str(state_dir)
    one, two = containers("a"), containers("b")
    run_modules([pause(sd, one, "pb-1"), pause(sd, two, "pb-2")], state_dir)
    assert state_of(one)["Paused"] and state_of(two)["Paused"]

    proc = _playbook("emergency-stop.yml", "-e", "chaos_state_dir=%s" % sd,
                     "-e", json.dumps({"chaos_stop_reason": "playbook test"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    assert "2 fault(s) undone" in proc.stdout and "emergency stop time" in proc.stdout
    assert one.name in proc.stdout and two.name in proc.stdout
    assert not state_of(one)["Paused"] and not state_of(two)["Paused"]
    assert json.loads(Path(sd, "emergency-stop").read_text())["reason"] == "playbook test"

    proc = _playbook("resume-chaos.yml", "-e", "chaos_state_dir=%s" % sd)
    assert proc.returncode == 0 and "emergency-stop flag cleared" in proc.stdout, proc.stdout + proc.stderr
    assert not Path(sd, "emergency-stop").exists()

    proc = _playbook("audit.yml", "-e", "chaos_state_dir=%s" % sd, "-e", "chaos_audit_limit=3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 of 6 matching event(s) shown" in proc.stdout, proc.stdout
    assert "emergency_stop_cleared" in proc.stdout
