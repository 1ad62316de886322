# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos_journal callback fed Ansible's events by hand: what it writes at the recap, on interruption
(atexit, SIGTERM), for a run without the collection's tasks, and into a folder it cannot write (one warning)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from unittest import mock

import pytest

from ansible_collections.sutazai.chaos.plugins.callback import chaos_journal
from ansible_collections.sutazai.chaos.plugins.callback.chaos_journal import CallbackModule, collection_version


class Named:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Task:
    def __init__(self, uuid, name, action, role=None, no_log=False):
        self._uuid, self.name, self.action, self.resolved_action = uuid, name, action, action
        self._role = Named(role) if role else None
        self.no_log = no_log


class Result:
    def __init__(self, host, task, result):
        self.host, self.task, self.result = Named(host), task, result


class Stats:
    def __init__(self, counts):
        self.processed = dict.fromkeys(counts, 1)
        self._counts = counts

    def summarize(self, host):
        return dict(self._counts[host])


RECAP = {"localhost": {"ok": 1, "changed": 0, "unreachable": 0, "failures": 0, "skipped": 0, "rescued": 0,
                       "ignored": 0}}


@pytest.fixture
def make(monkeypatch, tmp_path):
    """A callback whose options are given directly, with a recording display; atexit and SIGTERM untouched."""
    registered = []
    monkeypatch.setattr(chaos_journal.atexit, "register", registered.append)
    monkeypatch.setattr(CallbackModule, "_chain_sigterm", lambda self: None)

    def build(folder=None, always=False):
        display = mock.Mock(verbosity=0)
        callback = CallbackModule(display=display)
        callback._plugin_options.update({"dir": str(folder or tmp_path / "journals"), "always": always})
        callback.registered = registered
        callback.v2_playbook_on_start(mock.Mock(_file_name=str(tmp_path / "playbooks" / "noop.yml")))
        return callback, display
    return build


def run_one_task(callback, action="sutazai.chaos.chaos_ledger_info", result=None):
    task = Task("u1", "Ledger", action)
    callback.v2_runner_on_start(Named("localhost"), task)
    callback.v2_runner_on_ok(Result("localhost", task, result or {"changed": False, "faults": []}))


def journals(folder):
    return sorted(Path(folder).glob("journal-*.json"))


def test_a_run_is_written_once_at_its_recap(make, tmp_path):
    callback, display = make()
    run_one_task(callback, result={"changed": False, "faults": [], "token": "t0k3n"})
    callback.v2_playbook_on_stats(Stats(RECAP))
    callback.registered[0]()  # atexit after the recap: nothing more
    (path,) = journals(tmp_path / "journals")
    doc = json.loads(path.read_text())
    assert path.name == "journal-%s.json" % doc["run_id"]
    assert doc["status"] == "ok" and doc["stats"] == RECAP and doc["collection_version"]
    assert doc["playbook"] == str(tmp_path / "playbooks" / "noop.yml")
    (task,) = doc["tasks"]
    assert (task["task"], task["action"], task["status"]) == ("Ledger", "sutazai.chaos.chaos_ledger_info", "ok")
    assert "t0k3n" not in path.read_text()
    display.warning.assert_not_called()


def test_no_log_tasks_leave_only_the_marker(make, tmp_path):
    callback, _display = make()
    task = Task("u1", "Secret", "sutazai.chaos.health_probe", no_log=True)
    callback.v2_runner_on_start(Named("localhost"), task)
    callback.v2_runner_on_ok(Result("localhost", task, {"changed": False, "body": "hunter2"}))
    callback.v2_playbook_on_stats(Stats(RECAP))
    (path,) = journals(tmp_path / "journals")
    assert json.loads(path.read_text())["tasks"][0]["result"] == {"censored": "no_log"}
    assert "hunter2" not in path.read_text()


def test_an_interrupted_run_is_written_by_atexit(make, tmp_path):
    callback, _display = make()
    task = Task("u1", "Inject", "sutazai.chaos.network_chaos")
    callback.v2_runner_on_start(Named("localhost"), task)
    callback.registered[0]()  # Ctrl-C: no recap, the process exits
    (path,) = journals(tmp_path / "journals")
    doc = json.loads(path.read_text())
    assert doc["status"] == "interrupted" and doc["tasks"][0]["status"] == "interrupted"


def test_sigterm_writes_the_journal_then_hands_over_to_the_previous_handler(monkeypatch, tmp_path):
    monkeypatch.setattr(chaos_journal.atexit, "register", lambda function: None)
    previous = mock.Mock()
    original = signal.signal(signal.SIGTERM, previous)
    try:
        callback = CallbackModule(display=mock.Mock(verbosity=0))
        callback._plugin_options.update({"dir": str(tmp_path), "always": False})
        callback.v2_playbook_on_start(mock.Mock(_file_name=str(tmp_path / "noop.yml")))
        assert signal.getsignal(signal.SIGTERM) == callback._on_sigterm
        run_one_task(callback)
        callback._on_sigterm(signal.SIGTERM, None)
    finally:
        signal.signal(signal.SIGTERM, original)
    previous.assert_called_once_with(signal.SIGTERM, None)
    (path,) = journals(tmp_path)
    assert json.loads(path.read_text())["status"] == "interrupted"


def test_a_run_without_the_collections_tasks_writes_nothing_unless_always(make, tmp_path):
    callback, _display = make()
    run_one_task(callback, action="ansible.builtin.ping")
    callback.v2_playbook_on_stats(Stats(RECAP))
    assert not (tmp_path / "journals").exists()
    callback, _display = make(always=True)
    run_one_task(callback, action="ansible.builtin.ping")
    callback.v2_playbook_on_stats(Stats(RECAP))
    (path,) = journals(tmp_path / "journals")
    assert json.loads(path.read_text())["tasks"] == []


def test_a_folder_that_cannot_be_written_gives_one_warning_and_no_error(make, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    callback, display = make(folder=blocker / "journals")
    run_one_task(callback)
    callback.v2_playbook_on_stats(Stats(RECAP))
    callback.registered[0]()
    display.warning.assert_called_once()
    message = display.warning.call_args[0][0]
    assert str(blocker / "journals") in message and "the run itself is not affected" in message
    assert os.listdir(tmp_path) == ["a-file"]


def test_collection_version_from_a_manifest_or_galaxy_yml(tmp_path):
    assert collection_version(str(tmp_path)) is None
    (tmp_path / "galaxy.yml").write_text("namespace: sutazai\nname: chaos\nversion: 1.2.3\n")
    assert collection_version(str(tmp_path)) == "1.2.3"
    (tmp_path / "MANIFEST.json").write_text(json.dumps({"collection_info": {"version": "2.0.0"}}))
    assert collection_version(str(tmp_path)) == "2.0.0"
