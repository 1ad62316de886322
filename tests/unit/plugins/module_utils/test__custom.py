# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""custom_fault's driver: bad commands are refused before anything runs; check mode runs nothing."""

from __future__ import annotations

import os

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._custom import (HOST_TARGET, CustomFault, as_argv,
                                                                            shown_argv)
from ansible_collections.sutazai.chaos.plugins.module_utils._fault import FaultTransaction
from ansible_collections.sutazai.chaos.plugins.module_utils._ledger import Ledger

CONTAINER = {"id": "0123456789abcdef" * 4, "name": "web-1", "service": "web"}


def _params(state_dir, **extra):
    params = {"state": "present", "where": "host", "name": None, "command_timeout": 60.0, "duration": 5.0,
              "inject": ["/usr/bin/touch", "/tmp/x"], "undo": ["/bin/rm", "-f", "/tmp/x"], "check": None,
              "docker_host": "unix:///var/run/docker.sock", "tls": False, "validate_certs": False,
              "state_dir": str(state_dir), "experiment_id": "unit"}
    params.update(extra)
    return params


def _fault(tmp_path, calls=None, check_mode=False, **extra):
    calls = [] if calls is None else calls
    params = _params(tmp_path / "state", **extra)
    txn = FaultTransaction(params["state_dir"], "unit", None)

    def run(argv):
        calls.append(argv)
        return 0, "", ""
    return CustomFault(params, txn, check_mode, run, lambda name: "/usr/bin/" + name), calls


@pytest.mark.parametrize("extra, phrase", [
    ({"undo": "/bin/rm -f /tmp/x"}, "undo must be a list (argv"),
    ({"undo": None}, "undo is required: a custom fault needs an undo command"),
    ({"undo": []}, "undo must be a non-empty list"),
    ({"undo": ["/bin/rm", {"f": 1}]}, "undo[1] is {'f': 1}, not a string"),
    ({"undo": ["/bin/rm", True]}, "undo[1] is True, not a string"),
    ({"undo": ["/bin/rm -f", "/tmp/x"]}, "contains a space"),
    ({"inject": None}, "inject is required"),
    ({"inject": "touch /tmp/x"}, "inject must be a list"),
    ({"check": "test -e /tmp/x"}, "check must be a list"),
    ({"where": "container", "inject": ["touch", "/tmp/x"]}, "must be an absolute path inside the container"),
    ({"where": "container", "undo": ["rm", "-f", "/tmp/x"]}, "undo's program 'rm' must be an absolute path"),
    ({"where": "container", "undo": ["/bin/../bin/rm", "x"]}, "not an absolute, normalised path"),
    ({"undo": ["/nonexistent/rm", "x"]}, "cannot be run by the reaper"),
    ({"undo": ["/bin/rm"] + ["x"] * 64}, "is not a list of 1 to 64 strings"),
    ({"command_timeout": 0}, "command_timeout must be from 1 to 3600"),
    ({"where": "vm"}, "where must be host or container"),
])
def test_bad_commands_are_refused_and_nothing_runs(tmp_path, extra, phrase):
    calls = []
    with pytest.raises(ChaosError) as info:
        fault, _calls = _fault(tmp_path, calls, **extra)
        fault.inject([dict(HOST_TARGET, service=None)])
    assert phrase in info.value.msg
    assert "Nothing was changed." in info.value.msg
    assert calls == []
    assert not (tmp_path / "state" / "ledger.json").exists()


def test_a_bare_host_program_is_recorded_by_its_absolute_path(tmp_path):
    fault, _calls = _fault(tmp_path, inject=["touch", "/tmp/x"], check=["test", "-e", "/tmp/x"])
    assert fault.commands["inject"] == ["/usr/bin/touch", "/tmp/x"]
    assert fault.commands["check"] == ["/usr/bin/test", "-e", "/tmp/x"]
    assert fault.label == "touch"


def test_numbers_in_an_argv_become_strings():
    assert as_argv(["/bin/sleep", 5, 0.5], "inject") == ["/bin/sleep", "5", "0.5"]


@pytest.mark.parametrize("where, target", [("host", dict(HOST_TARGET, service=None)), ("container", CONTAINER)])
def test_check_mode_runs_nothing_and_records_nothing(tmp_path, where, target):
    fault, calls = _fault(tmp_path, check_mode=True, where=where, check=["/usr/bin/test", "-e", "/tmp/x"])
    [result] = fault.inject([target])
    assert calls == []
    assert result["changed"] is True and result["target"] == target["name"] and result["fault"] == "touch"
    assert result["undo"] == ["/bin/rm", "-f", "/tmp/x"] and "entry_id" not in result
    assert Ledger(str(tmp_path / "state")).entries(active_only=False) == []


def test_absent_in_check_mode_lists_without_undoing(tmp_path):
    fault, calls = _fault(tmp_path, check_mode=True, state="absent", inject=None, undo=None)
    assert fault.remove([dict(HOST_TARGET, service=None)]) == []
    assert calls == []


def test_shown_argv_masks_secret_flags_and_url_credentials():
    argv = ["/usr/bin/mysql", "--password=hunter2", "--token", "abc", "-u", "root",
            "https://user:pw@example.invalid/x", "Authorization: Bearer xyz", "plain"]
    shown = shown_argv(argv)
    text = " ".join(shown)
    assert "hunter2" not in text and "abc" not in text and ":pw@" not in text and "xyz" not in text
    assert shown[1] == "--password=********" and shown[3] == "********" and shown[-1] == "plain"
    assert shown[4:6] == ["-u", "root"]


def test_spec_fingerprint_changes_with_the_commands_not_with_masking(tmp_path):
    one, _calls = _fault(tmp_path, inject=["/usr/bin/touch", "--token=a"])
    two, _calls = _fault(tmp_path, inject=["/usr/bin/touch", "--token=b"])
    assert one.spec()["inject"] == two.spec()["inject"]
    assert one.spec()["commands_sha256"] != two.spec()["commands_sha256"]
    assert os.path.basename(one.spec()["inject"][0]) == "touch"
