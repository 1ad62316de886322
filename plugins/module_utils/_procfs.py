# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The processes of a container, as the Docker host sees them in /proc, and signals that never hit a reused PID.

A process belongs to a container when its ``/proc/<pid>/cgroup`` names the container's full id (cgroup v1
``/docker/<id>`` and v2 ``docker-<id>.scope`` both do). A process is identified by its host PID *and* its start
time (``/proc/<pid>/stat`` field 22, clock ticks since boot): a PID reused by another process has another start
time. Standard library only; no commands are run.
"""

from __future__ import annotations

import os
import signal

PROC = "/proc"
STATE_WORDS = {"R": "running", "S": "sleeping", "D": "disk-sleep", "T": "stopped", "t": "tracing-stop",
               "Z": "zombie", "X": "dead", "I": "idle", "P": "parked", "W": "paging"}
DEAD_STATES = ("Z", "X")
STOPPED_STATES = ("T", "t")


class ProcessGone(Exception):
    """The process ended, or its PID now belongs to another process."""


def _read(path, binary=False):
    with open(path, "rb" if binary else "r") as handle:
        return handle.read()


def read_stat(pid, proc_root=PROC):
    """``(state letter, start ticks, parent pid)`` of ``pid``, or None when it is gone."""
    try:
        # comm (field 2) may hold spaces and parentheses: split after the last ")"
        fields = _read("%s/%d/stat" % (proc_root, pid)).rsplit(")", 1)[1].split()
        return fields[0], int(fields[19]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def _ns_pid(status_text):
    """The PID in the innermost PID namespace (the last NSpid value): the PID the container itself sees."""
    for line in status_text.splitlines():
        if line.startswith("NSpid:"):
            values = line.split()[1:]
            return int(values[-1]) if values else None
    return None


def in_cgroup_of(pid, container_id, proc_root=PROC):
    try:
        return container_id in _read("%s/%d/cgroup" % (proc_root, pid))
    except OSError:
        return False


def read_process(pid, proc_root=PROC):
    """One process: pid, ns_pid, comm, cmdline (list), state, start_ticks, ppid; None when it is gone."""
    stat = read_stat(pid, proc_root)
    if stat is None:
        return None
    try:
        comm = _read("%s/%d/comm" % (proc_root, pid)).rstrip("\n")
        raw = _read("%s/%d/cmdline" % (proc_root, pid), binary=True)
        status = _read("%s/%d/status" % (proc_root, pid))
    except OSError:
        return None
    cmdline = [part.decode("utf-8", "replace") for part in raw.split(b"\0")]
    if cmdline and cmdline[-1] == "":
        cmdline.pop()
    state, start_ticks, ppid = stat
    return {"pid": pid, "ns_pid": _ns_pid(status), "comm": comm, "cmdline": cmdline, "state": state,
            "start_ticks": start_ticks, "ppid": ppid}


def container_processes(container_id, proc_root=PROC):
    """Every live process (zombies left out) in the cgroup of the container with this full id, by PID."""
    found = []
    try:
        names = os.listdir(proc_root)
    except OSError:
        return found
    for name in names:
        if not name.isdigit() or not in_cgroup_of(int(name), container_id, proc_root):
            continue
        info = read_process(int(name), proc_root)
        if info is not None and info["state"] not in DEAD_STATES:
            found.append(info)
    return sorted(found, key=lambda p: p["pid"])


def state_word(letter):
    return STATE_WORDS.get(letter, letter) if letter else "gone"


def current_state(process, container_id, proc_root=PROC):
    """The state word of this very process now ("gone" when it ended or its PID was reused)."""
    stat = read_stat(process["pid"], proc_root)
    if stat is None or stat[1] != process["start_ticks"] or stat[0] in DEAD_STATES or \
            not in_cgroup_of(process["pid"], container_id, proc_root):
        return "gone"
    return state_word(stat[0])


def send_signal(process, container_id, signum, proc_root=PROC):
    """Signal this very process: open a pidfd, check it is still the process we chose (start time, cgroup),
    then signal through the pidfd. A PID reused after the check is held by the pidfd, which still refers to
    the (dead) process we chose, so the new process is never signalled. ProcessGone otherwise."""
    pid = process["pid"]
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        raise ProcessGone("process %d ended" % pid)
    try:
        stat = read_stat(pid, proc_root)
        if stat is None or stat[1] != process["start_ticks"] or stat[0] in DEAD_STATES or \
                not in_cgroup_of(pid, container_id, proc_root):
            raise ProcessGone("process %d ended (its PID is free or belongs to another process now)" % pid)
        try:
            signal.pidfd_send_signal(pidfd, signum)
        except ProcessLookupError:
            raise ProcessGone("process %d ended" % pid)
    finally:
        os.close(pidfd)
