# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading a container's processes from /proc (a fake tree) and signalling only the very process chosen."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _procfs

CONTAINER = "ab" * 32
OTHER = "cd" * 32


def _stat(pid, comm, state, ppid, start):
    # fields 3.. after "(comm)": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
    # cutime cstime priority nice threads itrealvalue starttime (field 22)
    rest = [state, str(ppid)] + ["0"] * 17 + [str(start)] + ["0"] * 10
    return "%d (%s) %s\n" % (pid, comm, " ".join(rest))


def add_process(root, pid, comm, argv, container=CONTAINER, state="S", start=1000, ns_pid=None, ppid=1):
    folder = root / str(pid)
    folder.mkdir()
    (folder / "stat").write_text(_stat(pid, comm, state, ppid, start))
    (folder / "comm").write_text(comm + "\n")
    (folder / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
    nspid = "%d\t%d" % (pid, ns_pid) if ns_pid else "%d" % pid
    (folder / "status").write_text("Name:\t%s\nNSpid:\t%s\n" % (comm, nspid))
    (folder / "cgroup").write_text("12:pids:/docker/%s\n1:name=systemd:/docker/%s\n" % (container, container)
                                   if container else "12:pids:/\n")


@pytest.fixture
def proc_root(tmp_path):
    add_process(tmp_path, 100, "sh", ["sh", "-c", "while true; do sleep 1000 & wait; done"], ns_pid=1)
    add_process(tmp_path, 120, "sleep", ["sleep", "1000"], ns_pid=7, ppid=100)
    add_process(tmp_path, 130, "weird) name", ["/usr/bin/python3", "-m", "x y"], ns_pid=9, start=2000)
    add_process(tmp_path, 140, "sleep", ["sleep", "5"], state="Z", ns_pid=12)
    add_process(tmp_path, 150, "sleep", ["sleep", "1000"], container=OTHER, ns_pid=7)
    add_process(tmp_path, 160, "sshd", ["/usr/sbin/sshd", "-D"], container=None)
    (tmp_path / "self").mkdir()
    (tmp_path / "meminfo").write_text("")
    return tmp_path


def test_container_processes_are_the_live_ones_in_its_cgroup(proc_root):
    found = _procfs.container_processes(CONTAINER, str(proc_root))
    assert [p["pid"] for p in found] == [100, 120, 130]  # not the zombie, not other containers, not the host
    sleep = found[1]
    assert sleep == {"pid": 120, "ns_pid": 7, "comm": "sleep", "cmdline": ["sleep", "1000"], "state": "S",
                     "start_ticks": 1000, "ppid": 100}
    assert found[0]["ns_pid"] == 1
    weird = found[2]
    assert weird["comm"] == "weird) name" and weird["start_ticks"] == 2000 and weird["cmdline"][-1] == "x y"


def test_a_vanished_process_is_skipped(proc_root):
    (proc_root / "120" / "status").unlink()
    assert [p["pid"] for p in _procfs.container_processes(CONTAINER, str(proc_root))] == [100, 130]
    assert _procfs.read_process(999, str(proc_root)) is None


@pytest.mark.parametrize("letter, word", [("S", "sleeping"), ("T", "stopped"), ("R", "running"), (None, "gone")])
def test_state_words(letter, word):
    assert _procfs.state_word(letter) == word


def test_current_state_of_a_reused_pid_is_gone(proc_root):
    assert _procfs.current_state({"pid": 120, "start_ticks": 1000}, CONTAINER, str(proc_root)) == "sleeping"
    assert _procfs.current_state({"pid": 120, "start_ticks": 999}, CONTAINER, str(proc_root)) == "gone"
    assert _procfs.current_state({"pid": 120, "start_ticks": 1000}, OTHER, str(proc_root)) == "gone"


# ------------------------------------------------------------------ real processes

@pytest.fixture
def child():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield proc
    proc.kill()
    proc.wait()


def _me_in_cgroup(monkeypatch, child):
    monkeypatch.setattr(_procfs, "in_cgroup_of", lambda pid, cid, proc_root=_procfs.PROC: pid == child.pid)


def test_send_signal_reaches_the_very_process(child, monkeypatch):
    _me_in_cgroup(monkeypatch, child)
    info = _procfs.read_process(child.pid)
    _procfs.send_signal(info, CONTAINER, signal.SIGKILL)
    assert child.wait(timeout=5) == -signal.SIGKILL


def test_send_signal_spares_a_process_with_another_start_time(child, monkeypatch):
    _me_in_cgroup(monkeypatch, child)
    info = dict(_procfs.read_process(child.pid))
    info["start_ticks"] -= 1  # the one we chose started earlier: this PID is someone else now
    with pytest.raises(_procfs.ProcessGone):
        _procfs.send_signal(info, CONTAINER, signal.SIGKILL)
    time.sleep(0.1)
    assert child.poll() is None


def test_send_signal_spares_a_process_outside_the_container(child):
    info = _procfs.read_process(child.pid)
    with pytest.raises(_procfs.ProcessGone):
        _procfs.send_signal(info, CONTAINER, signal.SIGKILL)  # real cgroup check: our child is in no container
    assert child.poll() is None


def test_send_signal_to_an_ended_process(child, monkeypatch):
    _me_in_cgroup(monkeypatch, child)
    info = _procfs.read_process(child.pid)
    child.kill()
    child.wait()
    with pytest.raises(_procfs.ProcessGone):
        _procfs.send_signal(info, CONTAINER, signal.SIGKILL)
    assert os.getpid()
