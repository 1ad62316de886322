# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""FaultTransaction.apply_many: many faults, two ledger writes, every entry recorded before its fault."""

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _fault, _ledger, _undo
from ansible_collections.sutazai.chaos.plugins.module_utils._fault import FaultTransaction


class FakeRunner:
    def __init__(self):
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        return 0, "", ""


@pytest.fixture(autouse=True)
def fake_tc(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "tc").write_text("#!/bin/sh\nexit 0\n")
    (folder / "tc").chmod(0o755)
    monkeypatch.setattr(_undo, "PROGRAM_DIRS", (str(folder),))
    monkeypatch.setattr(_fault, "ensure_reaper", lambda state_dir: True)


@pytest.fixture
def saves(monkeypatch):
    """Counts whole-ledger writes."""
    counted = []
    real = _ledger.Ledger._save

    def counting(self, data):
        counted.append(len(data["entries"]))
        return real(self, data)
    monkeypatch.setattr(_ledger.Ledger, "_save", counting)
    return counted


def _fault_for(index, log, ledger, fail=False):
    target = {"id": "id-%d" % index, "name": "c%d" % index}
    undo = [{"type": "argv", "argv": ["tc", "qdisc", "del", "dev", "c%d" % index, "root", "handle", "5a17:"],
             "ok_rc": [0]}]

    def action():
        recorded = {e["target"]["name"]: e for e in ledger.entries()}
        log.append(("c%d" % index, "c%d" % index in recorded, recorded["c%d" % index]["applying"]))
        if fail:
            raise OSError("engine said no for c%d" % index)
        return "done c%d" % index
    return ("container_pause", target, {"action": "pause"}, undo, 30.0, action)


def test_many_faults_cost_two_ledger_writes_and_each_is_recorded_first(tmp_path, saves):
    txn = FaultTransaction(str(tmp_path / "state"), "exp-1", FakeRunner())
    log = []
    applied = txn.apply_many([_fault_for(i, log, txn.ledger) for i in range(20)])
    assert [result for _entry, result in applied] == ["done c%d" % i for i in range(20)]
    assert len(saves) == 2  # one write to record all 20, one to mark them applied
    assert log == [("c%d" % i, True, True) for i in range(20)]  # recorded (and still "applying") before the fault
    entries = txn.ledger.entries()
    assert len(entries) == 20 and not any(e["applying"] for e in entries)
    assert all(e["deadline"] > e["created"] for e in entries)
    assert len(txn.applied) == 20
    assert sum(1 for _line in open(txn.ledger.audit_path)) == 20  # one inject line each


def test_a_failure_undoes_that_fault_retires_the_untried_and_keeps_the_applied_for_rollback(tmp_path):
    runner = FakeRunner()
    txn = FaultTransaction(str(tmp_path / "state"), "exp-1", runner)
    log = []
    faults = [_fault_for(i, log, txn.ledger, fail=i == 2) for i in range(5)]
    with pytest.raises(OSError, match="c2"):
        txn.apply_many(faults)
    assert [name for name, _recorded, _applying in log] == ["c0", "c1", "c2"]  # c3 and c4 never tried
    assert [a[4] for a in runner.calls] == ["c2"]  # the failed fault's own undo ran
    everything = {e["target"]["name"]: e for e in txn.ledger.entries(active_only=False)}
    # the untried ones stay in the file, no longer active (a reaper would restore an active entry that vanished)
    untried = {name: entry["state"] for name, entry in everything.items() if name in ("c3", "c4")}
    assert untried == {"c3": "not_applied", "c4": "not_applied"}
    assert everything["c2"]["state"] == "reverted"
    assert [e["target"]["name"] for e in txn.applied] == ["c0", "c1"]
    assert not everything["c0"]["applying"] and not everything["c1"]["applying"]
    undone = txn.rollback()
    assert "c0" in undone and "c1" in undone
    assert not txn.ledger.entries()


def test_single_apply_is_a_batch_of_one(tmp_path, saves):
    txn = FaultTransaction(str(tmp_path / "state"), "exp-1", FakeRunner())
    entry, result = txn.apply(*_fault_for(0, [], txn.ledger))
    assert result == "done c0" and entry["applying"] is False
    assert len(saves) == 2


def test_an_empty_batch_writes_nothing(tmp_path, saves):
    assert FaultTransaction(str(tmp_path / "state"), "exp-1").apply_many([]) == []
    assert saves == []


def test_a_running_reaper_does_not_bring_back_the_untried(tmp_path):
    """The reaper restores active entries that vanish from the file; the untried ones must not look like that."""
    txn = FaultTransaction(str(tmp_path / "state"), "exp-1", FakeRunner())
    faults = [_fault_for(i, [], txn.ledger, fail=i == 1) for i in range(4)]
    known = {}
    real_action = faults[0][5]

    def first_action():
        known.update({e["id"]: e for e in txn.ledger.entries()})  # what a reaper polling now would remember
        return real_action()
    faults[0] = faults[0][:5] + (first_action,)
    with pytest.raises(OSError):
        txn.apply_many(faults)
    assert len(known) == 4
    assert _ledger._restore_lost(txn.ledger, known) == []
    assert {e["target"]["name"] for e in txn.ledger.entries()} == {"c0"}  # only the applied one is active


def test_an_error_after_a_hit_no_longer_says_nothing_was_changed(tmp_path):
    """A driver's error may end in "Nothing was changed." (true for the target it was on); once another target
    was hit and then undone, the message says what was undone instead, never both."""
    txn = FaultTransaction(str(tmp_path / "state"), "exp-1", FakeRunner())
    assert txn.rollback_after("c9 is protected. Nothing was changed.") == "c9 is protected. Nothing was changed."
    txn.apply(*_fault_for(0, [], txn.ledger))
    message = txn.rollback_after("c1 is protected. Nothing was changed.")
    assert "Nothing was changed" not in message, message
    assert message.startswith("c1 is protected. Undone: ") and "c0" in message, message
    assert not txn.ledger.entries()
