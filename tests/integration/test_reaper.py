# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The detached reaper undoes pause/stop at the deadline with no help from the controller,
including after the controller was SIGKILLed the way AWX cancels a job."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from conftest import (PYTHON, REPO, VENV_BIN, ansible_env, audit_lines, kill_orphans, ledger_entries, reaper_pids,
                      run_module, state_of, wait_for, write_playbook)


def _report(record_property, what, lateness):
    record_property(what, round(lateness, 3))
    print("\n%s: %.3f s after the deadline" % (what, lateness))


def _reverted_by_reaper(state_dir):
    # The engine shows the container running while the reaper's start call is still in flight (the
    # ledger is written when it returns): give the ledger a moment to catch up.
    wait_for(lambda: ledger_entries(state_dir)[0]["state"] != "active", timeout=3)
    [entry] = ledger_entries(state_dir)
    assert entry["state"] == "reverted", entry
    assert entry["reverted_by"] == "reaper", entry
    events = [(a["event"], a["entry_id"], a.get("by")) for a in audit_lines(state_dir)]
    assert ("inject", entry["id"], None) in events
    assert ("revert", entry["id"], "reaper") in events
    return entry


def test_pause_expires_on_the_host(containers, state_dir, record_property, session_root):
    victim = containers("rpause")
    rc, result = run_module("container_chaos", {"action": "pause", "duration": 3, "state_dir": str(state_dir),
                                                "targets": {"names": [victim.name]}})
    assert rc == 0, result
    assert state_of(victim)["Paused"] is True
    deadline = result["containers"][0]["deadline"]
    assert 0 < deadline - time.time() <= 3

    unpaused, _waited = wait_for(lambda: not state_of(victim)["Paused"], timeout=8)
    seen = time.time()
    assert unpaused, "still paused 8 s after the pause"
    assert state_of(victim)["Running"]
    entry = _reverted_by_reaper(state_dir)
    assert entry["reverted_at"] >= deadline
    _report(record_property, "reaper_unpause_lateness_s", entry["reverted_at"] - deadline)
    _report(record_property, "reaper_unpause_seen_lateness_s", seen - deadline)
    gone, _waited = wait_for(lambda: not reaper_pids(session_root / state_dir.name), timeout=5, interval=0.1)
    assert gone, "the reaper did not exit once nothing was left to expire"


def test_stop_expires_on_the_host(containers, state_dir, record_property):
    victim = containers("rstop")
    rc, result = run_module("container_chaos", {"action": "stop", "duration": 3, "stop_timeout": 1,
                                                "state_dir": str(state_dir), "targets": {"names": [victim.name]}})
    assert rc == 0, result
    deadline = result["containers"][0]["deadline"]
    assert state_of(victim)["Status"] == "exited" or time.time() > deadline
    running, _waited = wait_for(lambda: state_of(victim)["Running"], timeout=8)
    assert running, "still stopped 8 s after the stop"
    entry = _reverted_by_reaper(state_dir)
    _report(record_property, "reaper_start_lateness_s", entry["reverted_at"] - deadline)


def test_pause_expires_after_the_playbook_is_killed(containers, state_dir, record_property, tmp_path):
    """SIGKILL to the playbook's process group (an AWX cancel) runs no rescue/always: only the reaper helps."""
    victim = containers("rkill")
    book = write_playbook(tmp_path / "cancelled.yml", [
        {"name": "Pause for 4 s", "sutazai.chaos.container_chaos": {
            "action": "pause", "duration": 4, "state_dir": str(state_dir), "experiment_id": "cancelled",
            "targets": {"names": [victim.name]}}},
        {"name": "A long observation the job is cancelled during", "ansible.builtin.wait_for": {"timeout": 60}},
        {"name": "Never reached", "sutazai.chaos.container_chaos": {
            "action": "pause", "state": "absent", "state_dir": str(state_dir), "targets": {"names": [victim.name]}}},
    ])
    log = open(tmp_path / "playbook.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(book)], cwd=REPO,
                            env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def applied():
            entries = ledger_entries(state_dir)
            return entries and not entries[0].get("applying") and state_of(victim)["Paused"] and entries[0]

        entry, _waited = wait_for(applied, timeout=60, interval=0.05)
        assert entry, "the playbook never paused the container: %s" % (tmp_path / "playbook.log").read_text()
        os.killpg(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=10)
        deadline = entry["deadline"]
        assert killed_at < deadline, "the kill must happen while the fault is active"

        unpaused, _waited = wait_for(lambda: not state_of(victim)["Paused"], timeout=max(0.0, deadline + 2 - time.time()))
        seen = time.time()
        assert unpaused, "still paused 2 s after the deadline, with the playbook dead"
        final = _reverted_by_reaper(state_dir)
        _report(record_property, "reaper_lateness_after_kill9_s", final["reverted_at"] - deadline)
        _report(record_property, "reaper_lateness_after_kill9_seen_s", seen - deadline)
        assert "Never reached" not in (tmp_path / "playbook.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_orphans()  # the setsid'ed worker running wait_for survives the group kill
        log.close()
    assert PYTHON
