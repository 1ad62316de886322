# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention over a folder of synthetic results, reports and journals: the plan touches nothing, apply removes
exactly the old files, the archive holds them, and bad input removes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import tarfile

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._report_retention import apply_prune, plan_prune
from trend_results import NOW, RUNS, experiment_id, write_results  # noqa: I001

# NOW is 2026-12-01 12:00 UTC; 14d -> before 2026-11-17 12:00: runs 0 to 6 (run 5 is 2026-11-17 02:00)
OLD = (0, 1, 2, 3, 4, 5, 6)
OLD_JOURNAL = "journal-20261001T020000Z-aaaaaa.json"
NEW_JOURNAL = "journal-20261201T020000Z-bbbbbb.json"


def snapshot(folder):
    """Every entry of folder with its content hash and mtime (None for folders and links)."""
    seen = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path) and not os.path.islink(path):
            with open(path, "rb") as handle:
                seen[name] = (hashlib.sha256(handle.read()).hexdigest(), os.stat(path).st_mtime_ns)
        else:
            seen[name] = None
    return seen


@pytest.fixture
def folder(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    write_results(results)
    for index in (1, 12):  # reports beside an old and a new result
        for suffix in (".html", ".md"):
            (results / (experiment_id(index) + suffix)).write_text("report", encoding="utf-8")
    (results / "backend-pause-20260901T000000-abcdef.html").write_text("orphan report", encoding="utf-8")
    (results / OLD_JOURNAL).write_text(json.dumps({"started_at": 1790000000.0}), encoding="utf-8")  # 2026-09-21
    (results / NEW_JOURNAL).write_text("{not json", encoding="utf-8")  # dated by its name
    (results / "index.html").write_text("trends", encoding="utf-8")
    (results / "notes.txt").write_text("mine", encoding="utf-8")
    (results / "undated.json").write_text('{"experiment_id": "x", "verdict": "PASS", "experiment": null}',
                                          encoding="utf-8")
    (results / "sub").mkdir()
    (results / "old-link.json").symlink_to(results / (experiment_id(0) + ".json"))
    return results


def old_names():
    return sorted([experiment_id(i) + ".json" for i in OLD] + [experiment_id(1) + ".html", experiment_id(1) + ".md",
                                                               "backend-pause-20260901T000000-abcdef.html",
                                                               OLD_JOURNAL])


def test_the_plan_lists_exactly_the_old_files_and_touches_nothing(folder):
    before = snapshot(folder)
    plan = plan_prune(str(folder), "14d", now=NOW)
    assert snapshot(folder) == before
    assert sorted(row["file"] for row in plan["files"]) == old_names()
    assert plan["cutoff_text"] == "2026-11-17 12:00 UTC"
    # the rest of the 13 results, 2 new reports and the new journal stay; undated.json has no time
    assert plan["kept"] == (len(RUNS) - len(OLD)) + 2 + 1
    assert plan["undated"] == ["undated.json"]
    kinds = {row["file"]: row["kind"] for row in plan["files"]}
    assert kinds[OLD_JOURNAL] == "journal" and kinds[experiment_id(1) + ".md"] == "report"
    ats = [row["at"] for row in plan["files"]]
    assert ats == sorted(ats) and plan["files"][0]["file"] == "backend-pause-20260901T000000-abcdef.html"


def test_apply_removes_exactly_the_old_files(folder):
    before = snapshot(folder)
    done = apply_prune(plan_prune(str(folder), "14d", now=NOW))
    assert sorted(done["removed"]) == old_names() and done["archive"] is None
    after = snapshot(folder)
    assert sorted(set(before) - set(after)) == old_names()
    assert {name: after[name] for name in after} == {name: before[name] for name in after}
    assert os.path.islink(folder / "old-link.json")  # a link is never followed nor removed
    assert apply_prune(plan_prune(str(folder), "14d", now=NOW))["removed"] == []  # idempotent


def test_apply_with_an_archive_stores_them_first(folder, tmp_path):
    contents = {name: (folder / name).read_bytes() for name in old_names()}
    archive = tmp_path / "old.tar.gz"
    done = apply_prune(plan_prune(str(folder), "14d", now=NOW), archive=str(archive))
    assert done["archive"] == str(archive)
    with tarfile.open(archive, "r:gz") as tar:
        assert sorted(tar.getnames()) == old_names()
        assert {name: tar.extractfile(name).read() for name in tar.getnames()} == contents
    assert oct(os.stat(archive).st_mode & 0o777) == "0o600"
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert not set(old_names()) & set(os.listdir(folder))
    # nothing left to archive: no new archive is made, the existing one is not a problem
    assert apply_prune(plan_prune(str(folder), "14d", now=NOW), archive=str(archive)) == {
        "removed": [], "archive": None, "vanished": []}


@pytest.mark.parametrize("archive, message", [
    ("{tmp}/exists.tar.gz", "exists already"),
    ("{tmp}/missing/old.tar.gz", "folder .* does not exist"),
    ("{tmp}/old.zip", "must be a .tar.gz"),
])
def test_a_bad_archive_removes_nothing(folder, tmp_path, archive, message):
    (tmp_path / "exists.tar.gz").write_bytes(b"keep")
    before = snapshot(folder)
    plan = plan_prune(str(folder), "14d", now=NOW)
    with pytest.raises(ChaosError, match=message + ".*Nothing was removed"):
        apply_prune(plan, archive=archive.format(tmp=tmp_path))
    assert snapshot(folder) == before and (tmp_path / "exists.tar.gz").read_bytes() == b"keep"


def test_an_archive_that_cannot_be_written_removes_nothing(folder, tmp_path, monkeypatch):
    plan = plan_prune(str(folder), "14d", now=NOW)
    before = snapshot(folder)
    real_add, added = tarfile.TarFile.add, []

    def add_until_the_disk_is_full(self, name, *args, **kwargs):
        if added:
            raise OSError(28, "No space left on device")
        added.append(name)
        return real_add(self, name, *args, **kwargs)

    monkeypatch.setattr(tarfile.TarFile, "add", add_until_the_disk_is_full)
    with pytest.raises(ChaosError, match="could not write the archive .*No space left on device. Nothing was removed"):
        apply_prune(plan, archive=str(tmp_path / "old.tar.gz"))
    assert len(added) == 1 and snapshot(folder) == before
    assert not list(tmp_path.glob("*.tar.gz")) and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("older_than, message", [
    ("90", "neither an age"),
    ("ninety days", "neither an age"),
    ("", "must be an age"),
    ("0d", "not in the past"),
    ("2027-01-01", "not in the past"),
    (None, "must be an age"),
])
def test_a_bad_limit_is_a_clear_error(folder, older_than, message):
    before = snapshot(folder)
    with pytest.raises(ChaosError, match=message + ".*Nothing was removed"):
        plan_prune(str(folder), older_than, now=NOW)
    assert snapshot(folder) == before


def test_a_missing_folder_or_a_file_is_a_clear_error(tmp_path):
    with pytest.raises(ChaosError, match="does not exist. Nothing was removed"):
        plan_prune(str(tmp_path / "nope"), "90d", now=NOW)
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(ChaosError, match="is not a folder"):
        plan_prune(str(tmp_path / "file"), "90d", now=NOW)


def test_an_iso_date_limit(folder):
    plan = plan_prune(str(folder), "2026-11-10", now=NOW)
    # before 2026-11-10 00:00: runs 0 and 1 (+ run 1's reports), the orphan report and the old journal
    assert sorted(row["file"] for row in plan["files"]) == sorted(
        [experiment_id(0) + ".json", experiment_id(1) + ".json", experiment_id(1) + ".html",
         experiment_id(1) + ".md", "backend-pause-20260901T000000-abcdef.html", OLD_JOURNAL])
