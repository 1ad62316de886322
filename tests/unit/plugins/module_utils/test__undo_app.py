# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The undo steps of application faults: resume only the process we stopped, run a user's undo only as recorded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _undo_app
from ansible_collections.sutazai.chaos.plugins.module_utils._undo import (LedgerError, UndoRefused, execute_undo,
                                                                          validate_step)

CONTAINER_ID = "0123456789abcdef" * 4


def _state_letter(pid):
    return _undo_app.process_start_ticks(pid)[1]


def _wait_state(pid, letters, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if _state_letter(pid) in letters:
            return True
        time.sleep(0.02)
    return False


@pytest.fixture
def stopped():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    os.kill(proc.pid, signal.SIGSTOP)
    assert _wait_state(proc.pid, "T")
    yield proc
    proc.kill()
    proc.wait()


def _resume_step(proc, ticks=None):
    return {"type": "resume_process", "pid": proc.pid, "container": CONTAINER_ID,
            "start_ticks": _undo_app.process_start_ticks(proc.pid)[0] if ticks is None else ticks}


def test_resume_continues_the_very_process_stopped(stopped, monkeypatch):
    monkeypatch.setattr(_undo_app, "in_container", lambda pid, cid: pid == stopped.pid and cid == CONTAINER_ID)
    outcome = execute_undo({"kind": "process_chaos", "undo": [_resume_step(stopped)]})
    assert outcome == ["resumed process %d (SIGCONT)" % stopped.pid]
    assert _wait_state(stopped.pid, "SR")


def test_resume_spares_a_reused_pid(stopped, monkeypatch):
    monkeypatch.setattr(_undo_app, "in_container", lambda pid, cid: True)
    step = _resume_step(stopped)
    step["start_ticks"] -= 1  # the recorded process started earlier: this pid is another process now
    outcome = execute_undo({"kind": "process_chaos", "undo": [step]})
    assert "gone (or no longer the one stopped)" in outcome[0]
    time.sleep(0.1)
    assert _state_letter(stopped.pid) == "T"


def test_resume_spares_a_process_outside_the_container(stopped):
    outcome = execute_undo({"kind": "process_chaos", "undo": [_resume_step(stopped)]})  # real cgroup check
    assert "nothing to resume" in outcome[0]
    assert _state_letter(stopped.pid) == "T"


def _runner(calls):
    def run(argv):
        calls.append(argv)
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    return run


def test_custom_undo_runs_the_recorded_command_on_the_host(tmp_path):
    flag = tmp_path / "fault-on"
    flag.write_text("x")
    calls = []
    step = {"type": "custom", "argv": ["/bin/rm", "-f", str(flag)], "where": "host"}
    assert execute_undo({"kind": "custom_fault", "undo": [step]}, _runner(calls)) == ["done (rc 0)"]
    assert not flag.exists()
    assert calls == [["/usr/bin/timeout", "--kill-after=5", "50", "/bin/rm", "-f", str(flag)]]


def test_a_hung_custom_undo_is_stopped_at_its_timeout_and_fails():
    step = {"type": "custom", "argv": ["/bin/sleep", "30"], "where": "host", "timeout": 1}
    started = time.monotonic()
    with pytest.raises(LedgerError, match=r"failed \(rc 124\): timed out after 1 s"):
        execute_undo({"kind": "custom_fault", "undo": [step]}, _runner([]))
    assert time.monotonic() - started < 5


def test_a_failing_custom_undo_is_an_error_with_its_output():
    step = {"type": "custom", "argv": ["/bin/sh", "-c", "echo broken >&2; exit 3"], "where": "host"}
    with pytest.raises(LedgerError, match=r"failed \(rc 3\): broken"):
        execute_undo({"kind": "custom_fault", "undo": [step]}, _runner([]))


@pytest.mark.parametrize("entry, reason", [
    ({"kind": "network_chaos", "undo": [{"type": "custom", "argv": ["/bin/true"]}]},
     "only accepted in a custom_fault entry"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": "/bin/true"}]}, "is not a list of 1 to 64"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": []}]}, "is not a list of 1 to 64"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": ["true"]}]}, "not an absolute, normalised"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": ["/bin/../tmp/x"]}]}, "not an absolute"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": ["/bin/true", "a\0b"]}]}, "no NUL"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": ["/bin/true"], "where": "vm"}]},
     "is not host or container"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": ["/bin/true"], "where": "container",
                                        "container": "web; rm"}]}, "is not a container id"),
    ({"kind": "custom_fault", "undo": [{"type": "custom", "argv": ["/bin/true"], "timeout": 51}]},
     "is not a number of seconds from 1 to 50"),
    ({"kind": "process_chaos", "undo": [{"type": "resume_process", "pid": 1, "start_ticks": 5,
                                         "container": CONTAINER_ID}]}, "is not a process number above 1"),
    ({"kind": "process_chaos", "undo": [{"type": "resume_process", "pid": 42, "start_ticks": "5",
                                         "container": CONTAINER_ID}]}, "is not a start time"),
    ({"kind": "process_chaos", "undo": [{"type": "resume_process", "pid": 42, "start_ticks": 5}]},
     "is not a container id"),
])
def test_bad_application_steps_are_refused_before_anything_runs(entry, reason):
    calls = []
    with pytest.raises(UndoRefused) as info:
        execute_undo(entry, _runner(calls))
    assert reason in info.value.msg
    assert calls == []


def test_written_shapes_pass():
    validate_step({"type": "custom", "argv": ["/usr/sbin/tc", "qdisc", "show"], "where": "container",
                   "container": CONTAINER_ID, "docker_host": "unix:///var/run/docker.sock", "tls": None},
                  None, {"kind": "custom_fault"})
    validate_step({"type": "resume_process", "pid": 4242, "start_ticks": 0, "container": CONTAINER_ID})


def test_nat_prerouting_jump_of_our_own_chain_is_an_allowed_undo():
    validate_step({"type": "argv", "argv": ["iptables", "-w", "-t", "nat", "-D", "PREROUTING", "-j",
                                            "SZC-0123456789-H"]})
    with pytest.raises(UndoRefused):
        validate_step({"type": "argv", "argv": ["iptables", "-t", "nat", "-D", "PREROUTING", "-j", "DOCKER"]})
