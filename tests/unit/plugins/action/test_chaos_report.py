# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos_report action: what it writes for a file and a folder, encryption, and bad input writing nothing."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.sutazai.chaos.plugins.action import chaos_report
from ansible_collections.sutazai.chaos.plugins.action.chaos_report import ActionModule

import action_runner  # noqa: E402,I001 (tests/unit/plugins/action/action_runner.py)
from ansible_collections.sutazai.chaos.plugins.module_utils._report_load import encrypt, load_result


def _synthetic_result():
    """The run whose truth test__report_experiment knows (one place for it)."""
    path = Path(__file__).resolve().parents[1] / "module_utils" / "test__report_experiment.py"
    spec = importlib.util.spec_from_file_location("report_experiment_truth", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RESULT


RESULT = _synthetic_result()
ID = RESULT["experiment_id"]


def run_action(check_mode=False, **args):
    return action_runner.run_action(ActionModule, "chaos_report", check_mode=check_mode, **args)


def listing(folder):
    return sorted(os.listdir(folder))


@pytest.fixture
def results(tmp_path):
    folder = tmp_path / "results"
    folder.mkdir()
    (folder / (ID + ".json")).write_text(json.dumps(RESULT))
    return folder


def test_a_file_gets_its_html_and_markdown_beside_it(results):
    answer = run_action(src=str(results / (ID + ".json")))
    assert not answer.get("failed"), answer
    assert answer["html"] == str(results / (ID + ".html")) and answer["markdown"] == str(results / (ID + ".md"))
    assert answer["verdict"] == "PASS" and answer["changed"]
    assert listing(results) == [ID + ".html", ID + ".json", ID + ".md"]
    assert 'class="fault-band"' in (results / (ID + ".html")).read_text()
    assert (results / (ID + ".md")).read_text().startswith("# Chaos experiment demo: **PASS**")
    assert oct(os.stat(results / (ID + ".html")).st_mode & 0o777) == "0o644"


def test_formats_and_dest(results, tmp_path):
    answer = run_action(src=str(results / (ID + ".json")), dest=str(tmp_path / "out" / "deep"), formats=["markdown"])
    assert not answer.get("failed") and "html" not in answer, answer
    assert listing(tmp_path / "out" / "deep") == [ID + ".md"]


def test_check_mode_writes_nothing(results):
    answer = run_action(check_mode=True, src=str(results / (ID + ".json")))
    assert not answer.get("failed") and answer["html"].endswith(".html"), answer
    assert listing(results) == [ID + ".json"]


def test_a_folder_gets_every_report_and_the_index(results, monkeypatch):
    calls = []

    def fake_index(found, problems, since=None, now=None, folder=None):
        calls.append((len(found), problems, since, sorted(os.listdir(folder))))
        return "<html>index of %d</html>" % len(found)
    monkeypatch.setattr("ansible_collections.sutazai.chaos.plugins.module_utils._report_trends.render_index",
                        fake_index)
    (results / "broken.json").write_text("{")
    (results / "journal-1.json").write_text("{}")
    answer = run_action(src=str(results), since="2w")
    assert not answer.get("failed"), answer
    assert answer["index"] == str(results / "index.html") and answer["results"] == 1
    assert (results / "index.html").read_text() == "<html>index of 1</html>"
    assert answer["reports"] == 0  # RESULT happened in 1970: older than two weeks
    assert [p["file"] for p in answer["problems"]] == [str(results / "broken.json")]
    # rendered once before writing (to fail early), once after the reports exist (to link them)
    assert len(calls) == 2 and calls[0][2] == "2w"
    answer = run_action(src=str(results), index=False)
    assert answer["index"] is None and (results / (ID + ".html")).is_file() and answer["reports"] == 1


def test_encrypted_in_and_out(results, tmp_path):
    password = tmp_path / "vault-pass"
    password.write_text("s3cret\n")
    source = results / (ID + ".json")
    source.write_bytes(encrypt(json.dumps(RESULT), "s3cret"))
    answer = run_action(src=str(source))
    assert answer["failed"] and "is encrypted with Ansible Vault: give the vault password file" in answer["msg"]
    assert answer["msg"].endswith("Nothing was written.") and listing(results) == [ID + ".json"]
    answer = run_action(src=str(source), vault_password_file=str(password), encrypt=True)
    assert not answer.get("failed"), answer
    sealed = (results / (ID + ".html")).read_bytes()
    assert sealed.startswith(b"$ANSIBLE_VAULT;1.1;AES256") and b"fault-band" not in sealed
    from ansible_collections.sutazai.chaos.plugins.module_utils._report_load import decrypt
    assert b'class="fault-band"' in decrypt(sealed, "x.html", "s3cret")


@pytest.mark.parametrize("args, expected", [
    ({"encrypt": True}, "encrypt needs vault_password_file"),
    ({"formats": []}, "formats is empty: give html, markdown or both"),
    ({"formats": ["pdf"]}, "value of formats must be one or more of: html, markdown"),
    ({"since": "7d"}, "since and index are for a results folder"),
])
def test_bad_arguments_write_nothing(results, args, expected):
    answer = run_action(src=str(results / (ID + ".json")), **args)
    assert answer["failed"] and expected in answer["msg"] and answer["msg"].endswith("Nothing was written."), answer
    assert listing(results) == [ID + ".json"]


def test_bad_input_writes_nothing(tmp_path, results):
    answer = run_action(src=str(tmp_path / "nope"))
    assert answer["failed"] and "src %s does not exist" % (tmp_path / "nope") in answer["msg"]
    empty = tmp_path / "empty"
    empty.mkdir()
    answer = run_action(src=str(empty))
    assert answer["failed"] and "is empty: it holds no result file" in answer["msg"] and listing(empty) == []
    newer = results / (ID + ".json")
    newer.write_text(json.dumps(dict(RESULT, schema_version=9)))
    answer = run_action(src=str(newer))
    assert answer["failed"] and "written by a newer sutazai.chaos" in answer["msg"]
    newer.write_text(json.dumps(RESULT)[:300])
    answer = run_action(src=str(newer))
    assert answer["failed"] and "is truncated JSON" in answer["msg"]
    assert listing(results) == [ID + ".json"]


def test_a_dest_that_cannot_be_written(results, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    for dest, expected in ((blocker, "dest %s is not a folder" % blocker),
                           (blocker / "sub", "cannot make the report folder %s/sub" % blocker)):
        answer = run_action(src=str(results / (ID + ".json")), dest=str(dest))
        assert answer["failed"] and expected in answer["msg"], answer
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    with mock.patch.object(chaos_report.os, "access", return_value=False):  # root may write anywhere
        answer = run_action(src=str(results / (ID + ".json")), dest=str(readonly))
    assert answer["failed"] and "the report folder %s cannot be written" % readonly in answer["msg"]
    assert listing(readonly) == [] and blocker.read_text() == "x"


def test_a_write_failing_halfway_leaves_neither_report_nor_temporary_file(results, tmp_path):
    dest = tmp_path / "out"
    real_fsync, calls = os.fsync, []

    def fsync_then_fail(fd):
        calls.append(fd)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)
    with mock.patch.object(chaos_report.os, "fsync", fsync_then_fail):
        answer = run_action(src=str(results / (ID + ".json")), dest=str(dest))
    assert answer["failed"] and "cannot write the reports to %s: No space left on device" % dest in answer["msg"]
    assert listing(dest) == []


def test_an_unsafe_experiment_id_names_no_file(results):
    source = results / (ID + ".json")
    source.write_text(json.dumps(dict(RESULT, experiment_id="../../etc/x")))
    answer = run_action(src=str(source))
    assert answer["failed"] and "is not a plain file name" in answer["msg"]
    assert load_result(source)["experiment_id"] == "../../etc/x" and listing(results) == [ID + ".json"]


def test_a_result_given_as_data_is_written_with_its_reports_in_one_step(tmp_path):
    out = tmp_path / "out"
    answer = run_action(result=RESULT, dest=str(out))
    assert not answer.get("failed"), answer
    assert listing(out) == [ID + ".html", ID + ".json", ID + ".md"]
    assert answer["result_file"] == str(out / (ID + ".json")) and answer["html"] == str(out / (ID + ".html"))
    assert load_result(answer["result_file"]) == json.loads(json.dumps(RESULT))
    assert oct(os.stat(answer["result_file"]).st_mode & 0o777) == "0o644"


def test_an_encrypted_result_and_its_reports_are_vault_files_only_their_owner_reads(tmp_path):
    password = tmp_path / "pw"
    password.write_text("s3cret\n")
    out = tmp_path / "out"
    answer = run_action(result=RESULT, dest=str(out), encrypt=True, vault_password_file=str(password))
    assert not answer.get("failed"), answer
    for name in listing(out):
        raw = (out / name).read_bytes()
        assert raw.startswith(b"$ANSIBLE_VAULT;") and ID.encode() not in raw, name
        assert oct(os.stat(out / name).st_mode & 0o777) == "0o600", name
    assert answer["result_file"] in answer["files"]


@pytest.mark.parametrize("args, expected", [
    ({"result": {"verdict": "PASS"}}, "the result is not an experiment result"),
    ({"result": RESULT, "src": "/x"}, "mutually exclusive"),
    ({"result": RESULT, "dest": None}, "missing parameter(s) required by 'result': dest"),
])
def test_a_bad_result_writes_nothing(tmp_path, args, expected):
    out = tmp_path / "out"
    args = dict({"dest": str(out)}, **args)
    if args["dest"] is None:
        del args["dest"]
    answer = run_action(**args)
    assert answer.get("failed") and expected in answer["msg"] and "Nothing was written" in answer["msg"], answer
    assert not out.exists()


def test_a_report_that_cannot_be_drawn_never_costs_the_result(tmp_path, monkeypatch):
    def broken(result):
        raise KeyError("lanes")

    monkeypatch.setitem(chaos_report.RENDERERS, "html", (".html", broken))
    answer = run_action(result=RESULT, dest=str(tmp_path))
    assert not answer.get("failed") and "could not be rendered" in answer["warnings"][0], answer
    assert listing(tmp_path) == [ID + ".json"] and "html" not in answer
