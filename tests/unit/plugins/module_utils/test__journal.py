# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The run journal's logic: run ids, the census of the collection's tasks, bounded and redacted results, the
experiment results kept, where it goes, the document against its shipped schema, the atomic write; and the
lifecycle's results against the result schema shipped beside it."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _journal
from ansible_collections.sutazai.chaos.plugins.module_utils._journal import (
    CENSORED,
    RunJournal,
    bound,
    is_collection_task,
    iso,
    journal_dir,
    journal_name,
    new_run_id,
    task_result,
    write_atomic,
)
from ansible_collections.sutazai.chaos.plugins.module_utils._lifecycle import experiment_result
from ansible_collections.sutazai.chaos.plugins.module_utils._redact import MASK

SCHEMA = Path(__file__).resolve().parents[4] / "meta" / "schemas" / "journal.schema.json"
T0 = 1796105700.0  # 2026-12-01T06:15:00Z


def validate(document):
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)


# --- run id, times ----------------------------------------------------------------------------------------------

def test_run_id_is_the_utc_start_second_and_a_random_suffix():
    assert new_run_id(T0, "3f9a1c") == "20261201T061500Z-3f9a1c"
    first, second = new_run_id(T0), new_run_id(T0)
    assert re.match(r"^20261201T061500Z-[0-9a-f]{6}$", first) and first != second
    assert journal_name(first) == "journal-%s.json" % first


@pytest.mark.parametrize("epoch, expected", [
    (T0, "2026-12-01T06:15:00.000Z"),
    (T0 + 0.1234, "2026-12-01T06:15:00.123Z"),
    (T0 + 0.9996, "2026-12-01T06:15:01.000Z"),  # the same millisecond as round(epoch, 3)
    (None, None),
])
def test_iso(epoch, expected):
    assert iso(epoch) == expected


# --- census -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("action, role, expected", [
    ("sutazai.chaos.chaos_ledger_info", None, True),
    ("ansible.builtin.set_fact", "sutazai.chaos.experiment", True),
    ("sutazai.chaos.health_probe", "someone.else.role", True),
    ("ansible.builtin.debug", None, False),
    ("ansible.builtin.copy", "my_role", False),
    ("sutazai.chaosx.thing", None, False),
    ("sutazai.chaos", None, False),
    (None, None, False),
])
def test_census_of_the_collections_tasks(action, role, expected):
    assert is_collection_task(action, role) is expected


# --- bounding ---------------------------------------------------------------------------------------------------

def test_bound_cuts_strings_lists_mappings_and_depth_and_says_so():
    value = {"text": "x" * 2500, "items": list(range(60)), "wide": {"k%03d" % i: i for i in range(55)},
             "deep": {"a": {"b": {"c": 1}}}, "_ansible_no_log": False, "short": "ok", "n": 1.5, "none": None}
    copy, cut = bound(value, strings=2000, items=50, depth=2)
    assert cut is True
    assert copy["text"] == "x" * 2000 + "...[500 more characters]"
    assert copy["items"] == list(range(50)) + ["[10 more items]"]
    assert len(copy["wide"]) == 51 and copy["wide"]["..."] == "[5 more keys]"
    assert copy["deep"] == {"a": "[a mapping of 1 keys, deeper than the journal keeps]"}
    assert "_ansible_no_log" not in copy
    assert (copy["short"], copy["n"], copy["none"]) == ("ok", 1.5, None)


def test_bound_leaves_a_small_value_whole_and_makes_it_json():
    value = {"a": [1, "two", {"three": (3, 4)}], "s": {"b", "a"}, "o": object}
    copy, cut = bound(value)
    assert cut is False
    assert copy["a"] == [1, "two", {"three": [3, 4]}] and copy["s"] == ["a", "b"] and copy["o"] == str(object)
    json.dumps(copy)


def test_task_result_keeps_within_the_total_by_bounding_tighter_then_summarising():
    many = {"k%d" % i: "v" * 1500 for i in range(40)}  # 40 x 1500 characters: over the 20000 total
    kept, cut = task_result(many)
    assert cut is True and len(json.dumps(kept)) <= _journal.TASK_RESULT_LIMIT
    assert kept["k0"].startswith("v" * 500 + "...[1000 more characters]")
    summary, cut = task_result(many, limit=200)
    assert cut is True and summary["omitted"].startswith("result of ") and summary["keys"][:2] == ["k0", "k1"]
    small, cut = task_result({"changed": False, "faults": []})
    assert (small, cut) == ({"changed": False, "faults": []}, False)


# --- secrets ----------------------------------------------------------------------------------------------------

def test_no_log_results_are_replaced_by_the_marker():
    secret = {"changed": True, "password": "hunter2", "stdout": "hunter2"}
    assert task_result(secret, no_log=True) == (CENSORED, False)
    hidden_by_ansible = {"censored": "the output has been hidden due to the fact that 'no_log: true' was "
                                     "specified for this result", "changed": True}
    assert task_result(hidden_by_ansible) == (CENSORED, False)
    assert task_result({"_ansible_no_log": True, "msg": "hunter2"}) == (CENSORED, False)


def test_results_are_redacted_before_they_are_kept():
    result = {
        "invocation": {"module_args": {"url": "http://sct:pa55word@127.0.0.1:18000/health?token=t0k3n&a=1",
                                       "headers": {"Authorization": "Bearer abcdef123456", "X-Debug": "1"},
                                       "api_key": "k3y-k3y", "authorization": "Basic c2N0OnBhNTV3b3Jk"}},
        "msg": "probe said: Bearer abcdef123456 at http://u:pa55word@h/x",
        "probes": [{"Authorization": "Bearer abcdef123456"}],
    }
    kept, _cut = task_result(result)
    text = json.dumps(kept)
    for secret in ("pa55word", "t0k3n", "abcdef123456", "k3y-k3y", "c2N0OnBhNTV3b3Jk"):
        assert secret not in text, secret
    args = kept["invocation"]["module_args"]
    assert args["url"] == "http://sct:%s@127.0.0.1:18000/health?token=%s&a=1" % (MASK, MASK)
    assert args["headers"] == {"Authorization": MASK, "X-Debug": MASK} and args["api_key"] == MASK


def test_a_secret_past_the_string_limit_is_still_masked():
    """Redaction comes before bounding: cutting cannot leave half a URL for redaction to miss."""
    text = "x" * 1983 + " http://u:pa55word@h/x"  # cut at 2000: "...http://u:pa55wor", no "@" left
    kept, cut = task_result({"msg": text})
    assert cut is True and "pa55" not in kept["msg"] and "pa55word" not in json.dumps(kept)


# --- the run ----------------------------------------------------------------------------------------------------

def run_of_an_experiment():
    journal = RunJournal(started_at=T0, run_id="20261201T061500Z-3f9a1c")
    journal.playbook, journal.inventory_hosts = "/x/playbooks/run_experiment.yml", ["docker-host", "localhost"]
    role = "sutazai.chaos.experiment"

    def task(uuid, name, action, role, event, result, at, took, host="docker-host", **extra):
        journal.task_started(host, uuid, name=name, action=action, role=role, at=at)
        return journal.task_ended(host, uuid, event, name=name, action=action, role=role, result=result,
                                  at=at + took, **extra)

    assert task("u0", "Validate", "sutazai.chaos.chaos_experiment", None, "ok", {"changed": False}, T0, 0.5)
    assert task("u1", "print it", "ansible.builtin.debug", None, "ok", {"msg": "hi"}, T0 + 1, 0.1) is None
    first = {"experiment_id": "redis-crash-1", "verdict": None}
    task("u2", "Report - the result", "ansible.builtin.set_fact", role, "ok", {"ansible_facts": {
        "experiment_result": first}}, T0 + 2, 0.01)
    last = {"experiment_id": "redis-crash-1", "schema_version": 1, "verdict": "PASS",
            "metrics": {"problems": ["http://u:pa55word@127.0.0.1:9 refused"]}}
    task("u3", "Report - note in the result what the metrics sinks received", "ansible.builtin.set_fact", role, "ok",
         {"ansible_facts": {"experiment_result": last}}, T0 + 3, 0.01)
    task("u4", "Report - write the JSON result", "sutazai.chaos.chaos_report", role, "ok",
         {"changed": True, "result_file": "/r/one/redis-crash-1.json"}, T0 + 4, 0.2)
    task("u5", "Report - write the JSON result", "sutazai.chaos.chaos_report", role, "ok",
         {"changed": True, "result_file": "/r/two/x.json"}, T0 + 5, 0.2)
    task("u6", "Inject", "sutazai.chaos.container_chaos", role, "failed", {"msg": "boom"}, T0 + 6, 1.0,
         ignored=True)
    task("u7", "Secret", "sutazai.chaos.health_probe", role, "ok", {"password": "hunter2"}, T0 + 7, 0.3,
         no_log=True)
    task("u8", "Skip", "ansible.builtin.debug", role, "skipped", {"skipped": True}, T0 + 8, 0.0)
    return journal


def test_the_journal_keeps_the_collections_tasks_with_status_and_timings():
    journal = run_of_an_experiment()
    tasks = journal.tasks
    assert [t["task"] for t in tasks] == [
        "Validate", "Report - the result", "Report - note in the result what the metrics sinks received",
        "Report - write the JSON result", "Report - write the JSON result", "Inject", "Secret", "Skip"]
    assert [t["status"] for t in tasks] == ["ok", "ok", "ok", "changed", "changed", "failed", "ok", "skipped"]
    assert tasks[0]["started_at"] == T0 and tasks[0]["ended_at"] == T0 + 0.5 and tasks[0]["duration"] == 0.5
    assert tasks[5]["ignored"] is True and tasks[5]["role"] == "sutazai.chaos.experiment"
    assert tasks[6]["result"] == CENSORED
    assert journal.result_dirs == ["/r/one", "/r/two"]


def test_the_last_experiment_result_per_host_and_id_is_kept_redacted():
    journal = run_of_an_experiment()
    (kept,) = journal.experiments
    assert (kept["host"], kept["experiment_id"], kept["result"]["verdict"]) == ("docker-host", "redis-crash-1", "PASS")
    assert "pa55word" not in json.dumps(kept)
    other_host = {"experiment_id": "redis-crash-1", "verdict": "FAIL"}
    journal.task_ended("localhost", "u9", "ok", name="Report - the result", action="ansible.builtin.set_fact",
                       role="sutazai.chaos.experiment", result={"ansible_facts": {"experiment_result": other_host}})
    assert [(e["host"], e["result"]["verdict"]) for e in journal.experiments] == [("docker-host", "PASS"),
                                                                                  ("localhost", "FAIL")]


def test_the_document_validates_against_the_shipped_schema():
    journal = run_of_an_experiment()
    stats = {"docker-host": {"ok": 7, "changed": 2, "failures": 0, "unreachable": 0, "skipped": 1, "rescued": 0,
                             "ignored": 1}}
    doc = journal.document(T0 + 10, stats, True, {"ansible_core_version": "2.19.14", "collection_version": None})
    assert doc["status"] == "ok" and doc["schema_version"] == 1 and doc["duration"] == 10.0
    assert doc["started_at_iso"] == "2026-12-01T06:15:00.000Z" and "collection_version" not in doc
    validate(doc)
    failed = journal.document(T0 + 10, {"h": dict(stats["docker-host"], failures=1)}, True,
                              {"ansible_core_version": "2.19.14"})
    assert failed["status"] == "failed"


def test_an_interrupted_run_records_the_tasks_still_running():
    journal = RunJournal(started_at=T0)
    journal.task_started("h", "u1", name="Inject", action="sutazai.chaos.network_chaos", role=None, at=T0 + 1)
    journal.task_started("h", "u2", name="Other", action="ansible.builtin.pause", role=None, at=T0 + 1)
    assert journal.has_collection_tasks
    journal.interrupt(at=T0 + 4)
    doc = journal.document(T0 + 4, {}, finished=False, versions={"ansible_core_version": "2.19.14"})
    assert doc["status"] == "interrupted" and doc["stats"] == {}
    assert [(t["task"], t["status"], t["duration"]) for t in doc["tasks"]] == [("Inject", "interrupted", 3.0)]
    validate(doc)


def test_a_run_without_the_collections_tasks_has_none():
    journal = RunJournal()
    journal.task_started("h", "u", name="x", action="ansible.builtin.ping", role=None)
    journal.task_ended("h", "u", "ok", name="x", action="ansible.builtin.ping", role=None, result={})
    assert not journal.has_collection_tasks and journal.tasks == []


# --- where, how -------------------------------------------------------------------------------------------------

def test_journal_dir_order():
    assert journal_dir("/opt/j", ["/r/one"], "/rep", "/p/playbooks/a.yml") == "/opt/j"
    assert journal_dir(None, ["/r/one", "/r/two"], "/rep", "/p/playbooks/a.yml") == "/r/one"
    assert journal_dir(None, [], "/rep", "/p/playbooks/a.yml") == "/rep"
    assert journal_dir(None, [], None, "/p/playbooks/a.yml") == "/p/results"
    assert journal_dir("~/j") == os.path.expanduser("~/j")


def test_write_atomic_writes_the_whole_file_and_leaves_no_temporary(tmp_path):
    folder = tmp_path / "new" / "results"
    path = write_atomic(str(folder), "journal-x.json", {"a": [1, 2]})
    assert json.loads(Path(path).read_text()) == {"a": [1, 2]}
    assert os.listdir(folder) == ["journal-x.json"] and (os.stat(path).st_mode & 0o777) == 0o644


def test_write_atomic_into_a_folder_that_cannot_be_made_raises_and_leaves_nothing(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    with pytest.raises(OSError):
        write_atomic(str(blocker / "results"), "journal-x.json", {})
    assert os.listdir(tmp_path) == ["a-file"]


def test_write_atomic_cleans_up_when_the_document_is_not_json(tmp_path):
    class Loop(dict):
        pass
    loop = Loop()
    loop["self"] = loop
    with pytest.raises(ValueError):
        write_atomic(str(tmp_path), "journal-x.json", loop)
    assert os.listdir(tmp_path) == []


# --- the result schema beside it --------------------------------------------------------------------------------

def test_every_kind_of_lifecycle_result_validates_against_the_shipped_result_schema():
    """The lifecycle's own result cases (test__lifecycle.RUNS: PASS, FAIL, ABORTED, ERROR, timed, crash,
    unobserved...) against meta/schemas/result.schema.json."""
    jsonschema = pytest.importorskip("jsonschema")
    from test__lifecycle import RUNS  # pylint: disable=import-outside-toplevel

    schema = json.loads((SCHEMA.parent / "result.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    verdicts = set()
    for case in RUNS:
        gathered, verdict = case.values
        result = experiment_result(gathered)
        errors = ["%s at %s" % (e.message, "/".join(map(str, e.path))) for e in validator.iter_errors(result)]
        assert not errors, (case.id, errors)
        verdicts.add(result["verdict"])
        assert result["verdict"] == verdict
    assert verdicts == {"PASS", "FAIL", "ABORTED", "ERROR"}
    broken = dict(experiment_result(RUNS[0].values[0]), verdict="MAYBE")
    assert list(validator.iter_errors(broken))


def test_an_encrypted_journal_is_a_vault_file_only_its_owner_reads(tmp_path):
    from ansible_collections.sutazai.chaos.plugins.module_utils._report_load import (
        decrypt, encrypt, vault_secret_from_password)

    secret = vault_secret_from_password(b"s3cret")
    path = write_atomic(str(tmp_path), "journal-x.json", {"a": 1}, encrypt=lambda text: encrypt(text, secret))
    raw = open(path, "rb").read()
    assert raw.startswith(b"$ANSIBLE_VAULT;") and b'"a"' not in raw
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert json.loads(decrypt(raw, path, secret)) == {"a": 1}
