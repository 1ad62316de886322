# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.chaos_ledger_info: what is active, how long it has left, whether the reaper watches it."""

from __future__ import annotations

import time

from conftest import reaper_pids, run_module, run_modules, wait_for


def test_active_faults_then_empty_after_rollback(containers, state_dir, session_root):
    victim = containers("info")
    sd = str(state_dir)
    started = time.time()
    pause, info, info_other = run_modules([
        {"module": "container_chaos", "args": {"action": "pause", "duration": 60, "state_dir": sd,
                                               "experiment_id": "exp-info", "targets": {"names": [victim.name]}}},
        {"module": "chaos_ledger_info", "args": {"state_dir": sd}},
        {"module": "chaos_ledger_info", "args": {"state_dir": sd, "experiment_id": "another"}},
    ], state_dir)
    assert pause.get("failed") is not True, pause
    assert info["changed"] is False and info["reaper_running"] is True and info["emergency_stop"] is False
    [fault] = info["faults"]
    assert fault["experiment_id"] == "exp-info" and fault["kind"] == "container_pause"
    assert fault["target"]["name"] == victim.name and fault["state"] == "active"
    assert 0 < fault["seconds_left"] <= 60 - 0.0
    assert abs(fault["deadline"] - time.time() - fault["seconds_left"]) < (time.time() - started) + 1
    assert "undo" not in fault
    assert info_other["faults"] == []
    assert reaper_pids(session_root / state_dir.name), "ledger_info says a reaper runs, but none is found"

    rollback, empty, done = run_modules([
        {"module": "chaos_rollback", "args": {"state_dir": sd, "experiment_id": "exp-info"}},
        {"module": "chaos_ledger_info", "args": {"state_dir": sd}},
        {"module": "chaos_ledger_info", "args": {"state_dir": sd, "include_done": True}},
    ], state_dir)
    assert rollback["changed"] is True
    assert empty["faults"] == []
    assert [f["state"] for f in done["faults"]] == ["reverted"] and done["faults"][0]["seconds_left"] is not None
    gone, _waited = wait_for(lambda: not reaper_pids(session_root / state_dir.name), timeout=5, interval=0.1)
    assert gone
    rc, later = run_module("chaos_ledger_info", {"state_dir": sd})
    assert rc == 0 and later["reaper_running"] is False and later["faults"] == []


def test_missing_state_dir_is_an_empty_ledger(session_root):
    rc, info = run_module("chaos_ledger_info", {"state_dir": str(session_root / "never-used")})
    assert rc == 0 and info["faults"] == [] and info["reaper_running"] is False
    assert not (session_root / "never-used").exists(), "an info module must not create the state folder"
