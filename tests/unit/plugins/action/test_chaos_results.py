# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos_results action: a dry run by default, check mode, apply and archive, and bad input."""

from __future__ import annotations

import json
import os
import sys
import tarfile

import pytest

from ansible_collections.sutazai.chaos.plugins.action.chaos_results import ActionModule

import action_runner  # noqa: E402,I001 (tests/unit/plugins/action/action_runner.py)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "module_utils"))
from trend_results import NOW, experiment_id, write_results  # noqa: E402,I001 pylint: disable=wrong-import-position

OLD = sorted(experiment_id(i) + ".json" for i in range(7))   # before 2026-11-17 12:00 (14 days before NOW)


def run_action(check_mode=False, **args):
    return action_runner.run_action(ActionModule, "chaos_results", check_mode=check_mode, **args)


@pytest.fixture
def folder(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    write_results(results)
    return results


def test_a_dry_run_by_default_lists_and_changes_nothing(folder):
    result = run_action(path=str(folder), prune_older_than="14d", now=NOW)
    assert not result.get("failed"), result
    assert (result["changed"], result["dry_run"], result["removed"], result["archive"]) == (False, True, [], None)
    assert sorted(row["file"] for row in result["files"]) == OLD and result["kept"] == 6
    assert result["msg"] == ("7 file(s) older than 14d (before 2026-11-17 12:00 UTC) would go, 6 stay "
                             "(dry run; set apply to remove them)")
    assert len(os.listdir(folder)) == 13
    json.dumps(result)


def test_check_mode_predicts_and_changes_nothing(folder, tmp_path):
    result = run_action(check_mode=True, path=str(folder), prune_older_than="14d", apply=True,
                        archive=str(tmp_path / "a.tar.gz"), now=NOW)
    assert (result["changed"], result["dry_run"], result["removed"]) == (True, True, [])
    assert len(os.listdir(folder)) == 13 and not (tmp_path / "a.tar.gz").exists()


def test_apply_with_an_archive(folder, tmp_path):
    result = run_action(path=str(folder), prune_older_than="14d", apply=True, archive=str(tmp_path / "a.tar.gz"),
                        now=NOW)
    assert not result.get("failed"), result
    assert (result["changed"], result["dry_run"], sorted(result["removed"])) == (True, False, OLD)
    assert result["archive"] == str(tmp_path / "a.tar.gz")
    assert sorted(os.listdir(folder)) == sorted(experiment_id(i) + ".json" for i in range(7, 13))
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        assert sorted(tar.getnames()) == OLD
    again = run_action(path=str(folder), prune_older_than="14d", apply=True, archive=str(tmp_path / "a.tar.gz"),
                       now=NOW)
    assert (again.get("failed"), again["changed"], again["removed"]) == (None, False, [])


@pytest.mark.parametrize("args, message", [
    ({"prune_older_than": "soon"}, "older_than: 'soon' is neither an age"),
    ({"prune_older_than": "14d", "path": "/nonexistent/results"},
     "the results folder /nonexistent/results does not exist. Nothing was removed."),
    ({"prune_older_than": "14d", "apply": "perhaps"}, "apply"),
    ({"prune_older_than": "14d", "keep": 3}, "keep"),
])
def test_bad_input_fails_clearly_and_removes_nothing(folder, args, message):
    result = run_action(**dict({"path": str(folder), "now": NOW}, **args))
    assert result["failed"] is True and message in result["msg"], result
    assert result["msg"].endswith("Nothing was removed.")
    assert len(os.listdir(folder)) == 13


def test_a_dry_run_refuses_an_archive_the_real_run_would_refuse(folder, tmp_path):
    (tmp_path / "a.tar.gz").write_bytes(b"old")
    result = run_action(path=str(folder), prune_older_than="14d", archive=str(tmp_path / "a.tar.gz"), now=NOW)
    assert result["failed"] is True and "exists already" in result["msg"]
