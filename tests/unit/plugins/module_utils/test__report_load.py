# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading results back: plain and vault-encrypted files, folders, and every kind of bad input."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._report_load import (
    encrypt,
    load_result,
    load_results,
    since_epoch,
    vault_secret_from_file,
)

NOW = 1796105489.0


def result(experiment_id, injected_at, **changes):
    data = {"schema_version": 1, "experiment_id": experiment_id, "experiment": {"name": experiment_id.split("-")[0]},
            "verdict": "PASS", "injected_at": injected_at}
    data.update(changes)
    return data


def write(folder, name, data):
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_a_result_is_read_back_whole(tmp_path):
    data = result("redis-1", NOW, timeline={"services": ["redis"]})
    assert load_result(write(tmp_path, "redis-1.json", data)) == data


def test_a_result_from_before_schema_version_counts_as_version_1(tmp_path):
    data = result("redis-1", NOW)
    del data["schema_version"]
    assert load_result(write(tmp_path, "redis-1.json", data))["experiment_id"] == "redis-1"


@pytest.mark.parametrize("text, expected", [
    ('{"schema_version": 1, "experiment_id": "x", "verd',
     "is truncated JSON: Unterminated string starting at (line 1, column 45: character 44 of 49)"),
    ('{"schema_version": 1,, }', "is invalid JSON: Expecting property name enclosed in double quotes (line 1, "
                                 "column 22: character 21 of 24)"),
    ("", "is empty: not a result file"),
    ("[1, 2]", "is not an experiment result (a JSON list, not an object)"),
    ('{"name": "journal"}', "is not an experiment result (no experiment_id, verdict, experiment)"),
    (json.dumps(result("x", NOW, schema_version=2)),
     "has schema_version 2, written by a newer sutazai.chaos (this one reads up to 1): upgrade the collection"),
    (json.dumps(result("x", NOW, schema_version="one")), "has schema_version 'one', not a version number"),
])
def test_bad_files_are_named_with_what_is_wrong(tmp_path, text, expected):
    path = write(tmp_path, "bad.json", text)
    with pytest.raises(ChaosError) as caught:
        load_result(path)
    assert caught.value.msg.startswith(str(path) + " ") and expected in caught.value.msg, caught.value.msg


def test_a_missing_file_and_a_folder_are_refused(tmp_path):
    with pytest.raises(ChaosError, match="the result file %s/nope.json does not exist" % tmp_path):
        load_result(tmp_path / "nope.json")
    with pytest.raises(ChaosError, match="is a folder, not a result file"):
        load_result(tmp_path)


def test_a_folder_is_read_sorted_by_injection_skipping_journals_and_naming_broken_files(tmp_path):
    write(tmp_path, "b.json", result("late-1", NOW + 60))
    write(tmp_path, "a.json", result("early-1", NOW))
    write(tmp_path, "c.json", result("never-1", None, verdict="ERROR"))
    write(tmp_path, "journal-abc.json", {"schema_version": 1, "run_id": "abc"})
    write(tmp_path, "notes.txt", "not json")
    broken = write(tmp_path, "broken.json", '{"experiment_id": ')
    results, problems = load_results(tmp_path)
    assert [r["experiment_id"] for r in results] == ["early-1", "late-1", "never-1"]
    assert problems == [{"file": str(broken), "problem": "%s is truncated JSON: Expecting value (line 1, column 19: "
                                                         "character 18 of 18)" % broken}]


def test_since_keeps_the_recent_results(tmp_path):
    write(tmp_path, "a.json", result("old-1", NOW - 8 * 86400))
    write(tmp_path, "b.json", result("new-1", NOW - 86400))
    results, problems = load_results(tmp_path, since=NOW - 7 * 86400)
    assert [r["experiment_id"] for r in results] == ["new-1"] and problems == []
    results, dummy = load_results(tmp_path, since="2000-01-01")
    assert len(results) == 2


@pytest.mark.parametrize("since, expected", [
    (None, None), ("7d", NOW - 7 * 86400), ("36h", NOW - 36 * 3600), ("2w", NOW - 14 * 86400),
    ("1d12h", NOW - 36 * 3600), (1000, 1000.0), ("2026-12-01", 1796083200.0),
    ("2026-12-01T08:00:00Z", 1796083200.0 + 8 * 3600), ("2026-12-01T09:00:00+01:00", 1796083200.0 + 8 * 3600),
])
def test_since_reads_ages_and_dates(since, expected):
    assert since_epoch(since, now=NOW) == expected


def test_since_that_is_neither_is_refused():
    with pytest.raises(ChaosError, match=r"since: 'last week' is neither an age \(7d, 36h, 2w\) nor a date"):
        since_epoch("last week")


def test_a_missing_or_empty_folder_is_refused(tmp_path):
    with pytest.raises(ChaosError, match="the results folder %s/nope does not exist" % tmp_path):
        load_results(tmp_path / "nope")
    write(tmp_path, "journal-1.json", {"run_id": "1"})
    with pytest.raises(ChaosError, match="the results folder %s is empty: it holds no result file" % tmp_path):
        load_results(tmp_path)
    with pytest.raises(ChaosError, match="is not a folder"):
        load_results(tmp_path / "journal-1.json")


def test_encrypted_results_need_the_vault_password(tmp_path):
    (tmp_path / "vault-pass").write_text("s3cret\n")
    secret = vault_secret_from_file(tmp_path / "vault-pass")
    data = result("redis-1", NOW)
    path = tmp_path / "redis-1.json"
    path.write_bytes(encrypt(json.dumps(data), secret))
    assert path.read_bytes().startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    assert load_result(path, secret) == data
    assert load_result(path, "s3cret") == data
    with pytest.raises(ChaosError, match="is encrypted with Ansible Vault: give the vault password file"):
        load_result(path)
    with pytest.raises(ChaosError, match="could not be decrypted with the vault password given"):
        load_result(path, "wrong")
    results, problems = load_results(tmp_path, vault_secret=secret)
    assert results == [data] and problems == []
    # a folder with encrypted results is refused whole without the right secret (never a page over the rest)
    with pytest.raises(ChaosError, match="give the vault password file"):
        load_results(tmp_path)
    with pytest.raises(ChaosError, match="could not be decrypted"):
        load_results(tmp_path, vault_secret="wrong")


def test_an_empty_vault_password_file_is_refused(tmp_path):
    (tmp_path / "vault-pass").write_text("\n")
    with pytest.raises(ChaosError, match="the vault password file .* is empty"):
        vault_secret_from_file(tmp_path / "vault-pass")
    with pytest.raises(ChaosError, match="cannot read the vault password file"):
        vault_secret_from_file(tmp_path / "nope")
