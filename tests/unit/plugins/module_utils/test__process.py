# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""process_chaos's driver: matching, picking, the main-process refusal, bad input, the stop's ledger entry."""

from __future__ import annotations

import json
import signal

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _fault, _process, _undo_app
from ansible_collections.sutazai.chaos.plugins.module_utils._common import NOTHING_CHANGED, ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._lifecycle import fault_hits
from ansible_collections.sutazai.chaos.plugins.module_utils._process import (ProcessChaos, compile_matcher,
                                                                             resolve_signal)


def _proc(pid, comm, argv, ns_pid, state="S", start=None):
    return {"pid": pid, "ns_pid": ns_pid, "comm": comm, "cmdline": argv, "state": state,
            "start_ticks": start if start is not None else pid * 10, "ppid": 1}


class Host:
    """Fake processes per container, and a record of every signal and when the ledger had the stop."""

    def __init__(self, engine, monkeypatch, state_dir):
        self.state_dir = state_dir
        self.signals = []
        self.ledger_at_signal = []
        self.procs = {}
        for index, container in enumerate(engine.list()):
            main = 1000 * (index + 1)
            container.attrs["State"]["Pid"] = main
            self.procs[container.id] = [
                _proc(main, "sh", ["sh", "-c", "while true; do sleep 1000 & wait; done"], 1),
                _proc(main + 1, "sleep", ["sleep", "1000"], 7),
                _proc(main + 2, "gunicorn", ["/usr/bin/gunicorn", "--password", "hunter2", "app:main"], 8),
            ]
        monkeypatch.setattr(_process, "container_processes", lambda cid: [dict(p) for p in self.procs.get(cid, [])])
        monkeypatch.setattr(_process, "in_cgroup_of", lambda pid, cid: True)
        monkeypatch.setattr(_process, "send_signal", self.send)
        monkeypatch.setattr(_process, "current_state", lambda proc, cid: "stopped" if self.signals and
                            self.signals[-1][2] == signal.SIGSTOP else "gone")
        monkeypatch.setattr(_fault, "ensure_reaper", lambda state_dir, python=None: True)
        monkeypatch.setattr(_process, "AFTER_SIGNAL_WAIT_SECONDS", 0.0)

    def send(self, proc, container_id, signum):
        ledger = self.state_dir / "ledger.json"
        self.ledger_at_signal.append(json.loads(ledger.read_text())["entries"] if ledger.exists() else [])
        self.signals.append((container_id, proc["pid"], signum))


@pytest.fixture
def host(engine, monkeypatch, tmp_path):
    return Host(engine, monkeypatch, tmp_path)


def params(state_dir, **extra):
    base = dict(action="kill", state="present", signal=None, restart_wait=0.0, allow_pid1=False, duration=None,
                max_duration=3600.0, state_dir=str(state_dir), experiment_id="unit-proc", experiment_id_given=True,
                docker_host="unix:///var/run/docker.sock", targets={"names": ["shop-web-1"]}, exclude=[],
                protected=[], select={"mode": "all"}, max_targets=None, allow_empty=False,
                process={"name": "sleep", "pattern": None})
    base.update(extra)
    return base


@pytest.mark.parametrize("process, hits", [
    ({"name": "sleep"}, [1001]),
    ({"name": "sle*"}, [1001]),
    ({"name": "gunicorn"}, [1002]),
    ({"pattern": "^sleep 1000$"}, [1001]),
    ({"pattern": "sleep 1000"}, [1001]),  # the supervisor's command line matches too: PID 1 is skipped
    ({"pattern": "app:main", "name": "gunicorn"}, [1002]),
    ({"pattern": "app:main", "name": "sleep"}, []),
    ({"name": "*"}, [1001, 1002]),
])
def test_matching_by_name_and_pattern(engine, host, tmp_path, process, hits):
    chaos = ProcessChaos(engine, params(tmp_path, process=process, allow_empty=True), check_mode=True)
    results, _report = chaos.present()
    assert [r["pid"] for r in results] == hits
    assert host.signals == []  # check mode


def test_the_main_process_is_refused_unless_allowed(engine, host, tmp_path):
    with pytest.raises(ChaosError) as info:
        ProcessChaos(engine, params(tmp_path, process={"name": "sh"})).present()
    assert "container_chaos" in info.value.msg and "allow_pid1" in info.value.msg
    assert NOTHING_CHANGED in info.value.msg and host.signals == []
    results, report = ProcessChaos(engine, params(tmp_path, process={"name": "sh"}, allow_empty=True)).present()
    assert results == [] and report["pid1_skipped"] == ["shop-web-1: 1000 sh"] and host.signals == []
    results, _report = ProcessChaos(engine, params(tmp_path, process={"name": "sh"}, allow_pid1=True)).present()
    assert [(r["pid"], r["ns_pid"], r["main_process"]) for r in results] == [(1000, 1, True)]
    assert host.signals == [(engine.get("shop-web-1").id, 1000, signal.SIGKILL)]


@pytest.mark.parametrize("process, needle", [
    ({"pattern": "("}, "process.pattern '(' is not a valid regular expression"),
    ({"pattern": "a{99999999999}"}, "is not a valid regular expression"),
    ({}, "process needs a name"),
    ({"name": "nginx"}, "no process in shop-web-1 matches name 'nginx'"),
])
def test_bad_input_changes_nothing(engine, host, tmp_path, process, needle):
    with pytest.raises(ChaosError) as info:
        ProcessChaos(engine, params(tmp_path, process=process)).present()
    assert needle in info.value.msg and NOTHING_CHANGED in info.value.msg
    assert host.signals == [] and not (tmp_path / "ledger.json").exists()


def test_nothing_matching_is_accepted_with_allow_empty(engine, host, tmp_path):
    results, report = ProcessChaos(engine, params(tmp_path, process={"name": "nginx"}, allow_empty=True)).present()
    assert results == [] and report["processes_matched"] == 0 and host.signals == []


@pytest.mark.parametrize("select, count", [({"mode": "all"}, 6), ({"mode": "one"}, 1),
                                           ({"mode": "count", "value": 4}, 4), ({"mode": "percent", "value": 50}, 3)])
def test_select_counts_processes_across_containers(engine, host, tmp_path, select, count):
    chaos = ProcessChaos(engine, params(tmp_path, process={"name": "*"}, select=dict(select, seed="s"),
                                        targets={"names": ["shop-*", "lonely"]}), check_mode=True)
    results, report = chaos.present()
    assert len(results) == count and report["processes_matched"] == 9 and len(report["pid1_skipped"]) == 3
    again, _report = ProcessChaos(engine, params(tmp_path, process={"name": "*"}, select=dict(select, seed="s"),
                                                 targets={"names": ["shop-*", "lonely"]}), check_mode=True).present()
    assert [r["pid"] for r in again] == [r["pid"] for r in results]  # a seed makes the pick repeatable


def test_max_targets_counts_processes(engine, host, tmp_path):
    with pytest.raises(ChaosError, match="above max_targets 1"):
        ProcessChaos(engine, params(tmp_path, process={"name": "*"}, max_targets=1)).present()
    assert host.signals == []


@pytest.mark.parametrize("select", [{"mode": "count", "value": 0}, {"mode": "count", "value": 1.5},
                                    {"mode": "percent", "value": 101}])
def test_bad_select_changes_nothing(engine, host, tmp_path, select):
    with pytest.raises(ChaosError, match="select.value"):
        ProcessChaos(engine, params(tmp_path, select=select)).present()


@pytest.mark.parametrize("action, value, expected", [
    ("kill", None, signal.SIGKILL), ("kill", "TERM", signal.SIGTERM), ("restart", "15", signal.SIGTERM),
    ("stop", None, signal.SIGSTOP), ("stop", "SIGSTOP", signal.SIGSTOP),
])
def test_signals(action, value, expected):
    assert resolve_signal(action, value) == expected


@pytest.mark.parametrize("action, value, needle", [
    ("kill", "SIGSTOP", "use action=stop"), ("restart", "TSTP", "use action=stop"),
    ("stop", "SIGTERM", "always sends SIGSTOP"), ("kill", "SIGFOO", "not a known signal"),
])
def test_refused_signals(action, value, needle):
    with pytest.raises(ChaosError, match=needle):
        resolve_signal(action, value)


def test_stop_is_recorded_before_the_signal_and_is_idempotent(engine, host, tmp_path):
    stop = params(tmp_path, action="stop", duration=30.0)
    results, _report = ProcessChaos(engine, stop).present()
    [hit] = results
    assert hit["changed"] and hit["signal"] == "SIGSTOP" and hit["state_after"] == "stopped" and hit["deadline"]
    [entries] = host.ledger_at_signal
    [entry] = entries
    assert entry["kind"] == "process_chaos" and entry["applying"] is True  # written before the SIGSTOP
    assert entry["undo"] == [{"type": "resume_process", "pid": 1001, "start_ticks": 10010,
                              "container": engine.get("shop-web-1").id}]
    host.procs[engine.get("shop-web-1").id][1]["state"] = "T"
    again, _report = ProcessChaos(engine, stop).present()
    assert [r["changed"] for r in again] == [False] and len(host.signals) == 1
    with pytest.raises(ChaosError, match="already held by experiment unit-proc"):
        ProcessChaos(engine, dict(stop, experiment_id="other")).present()


def test_a_process_stopped_by_someone_else_is_left_alone(engine, host, tmp_path):
    host.procs[engine.get("shop-web-1").id][1]["state"] = "T"
    results, report = ProcessChaos(engine, params(tmp_path, action="stop", duration=5.0,
                                                  allow_empty=True)).present()
    assert results == [] and report["already_stopped"] == ["shop-web-1: 1001 sleep"] and host.signals == []


def test_absent_resumes_only_our_stops(engine, host, tmp_path, monkeypatch):
    resumed = []
    monkeypatch.setitem(_undo_app.HANDLERS, "resume_process", lambda step, run_argv: resumed.append(step["pid"]))
    ProcessChaos(engine, params(tmp_path, action="stop", duration=30.0)).present()
    absent = params(tmp_path, action="stop", state="absent", process=None)
    results, _report = ProcessChaos(engine, absent).absent()
    assert [(r["pid"], r["comm"], r["changed"]) for r in results] == [(1001, "sleep", True)]
    assert resumed == [1001]
    assert ProcessChaos(engine, absent).absent()[0] == []
    with pytest.raises(ChaosError, match="cannot be undone"):
        ProcessChaos(engine, dict(absent, action="kill")).absent()


def test_secrets_in_command_lines_are_masked(engine, host, tmp_path):
    results, _report = ProcessChaos(engine, params(tmp_path, process={"name": "gunicorn"}),
                                    check_mode=True).present()
    assert results[0]["cmdline"] == "/usr/bin/gunicorn --password ******** app:main"


def test_a_remote_engine_is_refused(engine, host, tmp_path):
    with pytest.raises(ChaosError, match="must run on the Docker host"):
        ProcessChaos(engine, params(tmp_path, docker_host="tcp://10.0.0.5:2376")).present()


def test_compile_matcher_uses_the_program_file_name_for_long_names():
    matches = compile_matcher({"name": "very-long-program-name"})
    assert matches(_proc(5, "very-long-progr", ["/opt/bin/very-long-program-name", "-x"], 5))
    assert not matches(_proc(5, "other", ["/opt/bin/other"], 5))


def test_the_lifecycle_reads_the_hits_of_a_process_fault(engine, host, tmp_path):
    results, _report = ProcessChaos(engine, params(tmp_path, action="stop", duration=30.0)).present()
    [hit] = fault_hits("process_chaos", {"processes": results})
    assert (hit["target"], hit["service"], hit["pid"], hit["changed"]) == ("shop-web-1", "web", 1001, True)
    assert hit["deadline"] == results[0]["deadline"] and hit["injected_at"] == results[0]["injected_at"]
