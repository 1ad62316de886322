# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.chaos_rollback: one experiment's faults, or all of them, undone on the host."""

from __future__ import annotations

from conftest import active_entries, run_modules, state_of


def test_rollback_one_experiment_then_all(containers, state_dir):
    a1, a2, b1 = containers("a1"), containers("a2"), containers("b1")
    sd = str(state_dir)

    def pause(experiment, names):
        return {"module": "container_chaos", "args": {"action": "pause", "duration": 300, "state_dir": sd,
                                                      "experiment_id": experiment, "targets": {"names": names}}}

    def rollback(check=False, **args):
        return {"module": "chaos_rollback", "args": dict(args, state_dir=sd), "check": check}

    results = run_modules([
        pause("exp-a", [a1.name, a2.name]),
        pause("exp-b", [b1.name]),
        rollback(check=True, experiment_id="exp-a"),
    ], state_dir)
    for result in results:
        assert result.get("failed") is not True, result
    check = results[2]
    assert all(state_of(c)["Paused"] for c in (a1, a2, b1)), "check mode must not unpause anything"
    assert check["changed"] is True
    assert sorted(e["target"]["name"] for e in check["reverted"]) == sorted([a1.name, a2.name])
    assert len(active_entries(state_dir)) == 3

    one, again, rest, after = run_modules([
        rollback(experiment_id="exp-a"),
        rollback(experiment_id="exp-a"),
        rollback(all=True),
        rollback(all=True),
    ], state_dir)
    assert one["changed"] is True and {e["experiment_id"] for e in one["reverted"]} == {"exp-a"}
    assert again["changed"] is False and again["reverted"] == []
    assert rest["changed"] is True and [e["target"]["name"] for e in rest["reverted"]] == [b1.name]
    assert after["changed"] is False
    assert not any(state_of(c)["Paused"] for c in (a1, a2, b1))
    assert active_entries(state_dir) == []


def test_rollback_needs_exactly_one_of_experiment_id_and_all(state_dir):
    neither, both = run_modules([
        {"module": "chaos_rollback", "args": {"state_dir": str(state_dir)}},
        {"module": "chaos_rollback", "args": {"state_dir": str(state_dir), "all": True, "experiment_id": "x"}},
    ], state_dir)
    for result in (neither, both):
        assert result.get("failed") is True and "either experiment_id" in result["msg"], result
        assert "Nothing was changed" in result["msg"]
