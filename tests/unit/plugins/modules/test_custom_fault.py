# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""custom_fault's main() with the host's edges stubbed (``_fuzz_harness``): what runs, and what never does."""

from __future__ import annotations

import pytest

from _fuzz_harness import assert_clean, run_module

BASE = {"inject": ["/usr/bin/touch", "/tmp/sct-unit-flag"], "undo": ["/bin/rm", "-f", "/tmp/sct-unit-flag"],
        "check": ["/usr/bin/test", "-e", "/tmp/sct-unit-flag"], "duration": 5, "name": "flag"}
CONTAINER = {"where": "container", "targets": {"names": ["demo_web_1"]}}


@pytest.mark.parametrize("extra", [{}, CONTAINER], ids=["host", "container"])
def test_check_mode_runs_no_command_and_records_nothing(extra):
    run = run_module("custom_fault", dict(BASE, _ansible_check_mode=True, **extra))
    assert run.outcome == "exit", run.result
    assert run.commands == [] and run.effects == [] and run.active_entries() == []
    [fault] = run.result["faults"]
    assert fault["changed"] is True and fault["fault"] == "flag" and fault["undo"] == BASE["undo"]
    assert_clean(run, check_mode=True)


def test_a_real_run_records_the_undo_then_runs_inject_and_check_under_timeout():
    run = run_module("custom_fault", dict(BASE))
    assert run.outcome == "exit", run.result
    assert run.commands == [["/usr/bin/timeout", "--kill-after=5", "60"] + BASE["inject"],
                            ["/usr/bin/timeout", "--kill-after=5", "60"] + BASE["check"]]
    [entry] = run.active_entries()
    assert entry["kind"] == "custom_fault" and entry["undo"][0]["argv"] == BASE["undo"]
    assert entry["undo"][0]["timeout"] == 50
    run.cleanup()


@pytest.mark.parametrize("extra, phrase", [
    ({"undo": "/bin/rm -f /tmp/sct-unit-flag"}, "undo must be a list"),
    ({"undo": None}, "undo is required"),
    (dict(CONTAINER, undo=["rm", "-f", "/tmp/x"]), "must be an absolute path inside the container"),
    ({"duration": None}, "duration is required"),
    (dict(CONTAINER, where="host"), "give where=container"),
])
def test_bad_input_fails_and_runs_nothing(extra, phrase):
    run = run_module("custom_fault", dict(BASE, **extra))
    assert run.outcome == "fail" and phrase in run.result["msg"], run.result
    assert "Nothing was changed." in run.result["msg"]
    assert run.commands == [] and run.effects == []
    assert_clean(run)
