# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Undo steps of application-level faults: resume a stopped process, run a user's own undo command.

Standard library only: part of the reaper's program, like ``_undo.py`` (which dispatches to these).

* ``resume_process``  SIGCONT to one process we stopped, only while it is the very process we stopped: same PID,
  same start time (``/proc/<pid>/stat`` field 22, in clock ticks since boot) and still in the recorded
  container's cgroup. A reused PID never gets a signal.
* ``custom``          a user's undo command (``custom_fault``): an argv list run on the host, or inside the
  target container's namespaces through ``nsenter``. It is the one step that runs a command this collection
  did not write, so it is accepted only in an entry of kind ``custom_fault``, as a plain list of strings with an
  absolute program path, and the ledger that holds it must pass the same trust checks as every ledger (a state
  folder owned by root, or by us, and writable by nobody else): whoever can write such a ledger can already run
  commands as its owner.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal

from ._undo import LedgerError, UndoRefused, docker_request, resolve_program

CUSTOM_KIND = "custom_fault"
CUSTOM_MAX_ARGS = 64
CUSTOM_MAX_ARG_LENGTH = 4096
CUSTOM_TIMEOUT_RANGE = (1, 3600)
CONTAINER_NAMESPACES = ("--mount", "--uts", "--ipc", "--net", "--pid")
_CONTAINER_ID = re.compile(r"[0-9a-f]{12,64}")


def _require(condition, text):
    if not condition:
        raise UndoRefused(text)


def _is_int(value, low=1):
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


# ---------------------------------------------------------------- resume_process

def process_start_ticks(pid):
    """The start time of ``pid`` in clock ticks since boot, and its state letter; (None, None) when gone."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None, None
    return int(fields[19]), fields[0]


def in_container(pid, container_id):
    """Is ``pid`` in the cgroup of the container whose full id is ``container_id``?"""
    try:
        with open("/proc/%d/cgroup" % pid) as handle:
            return container_id in handle.read()
    except OSError:
        return False


def undo_resume_process(step):
    pid, ticks = step["pid"], step["start_ticks"]
    started, state = process_start_ticks(pid)
    if started != ticks or state in (None, "Z", "X") or not in_container(pid, step["container"]):
        return "process %d gone (or no longer the one stopped): nothing to resume" % pid
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGCONT)
        return "resumed process %d (SIGCONT)" % pid
    return "process %d ended before it could be resumed" % pid


def check_resume_process(step, _state_dir, _entry):
    _require(_is_int(step.get("pid"), 2), "pid %r is not a process number above 1" % (step.get("pid"),))
    _require(_is_int(step.get("start_ticks"), 0), "start_ticks %r is not a start time in clock ticks"
             % (step.get("start_ticks"),))
    container = step.get("container")
    _require(isinstance(container, str) and _CONTAINER_ID.fullmatch(container) is not None,
             "container %r is not a container id (the stopped process must stay inside it)" % (container,))


# ---------------------------------------------------------------- custom

def _container_pid(step):
    status, info = docker_request(step.get("docker_host"), "GET", "/containers/%s/json" % step["container"],
                                  tls=step.get("tls"))
    if status == 404 or not isinstance(info, dict):
        return None
    state = info.get("State") or {}
    return state.get("Pid") if state.get("Running") and state.get("Pid") else None


def custom_argv(step):
    """The command line that runs a custom undo (or inject, or check), or None when its container is gone."""
    argv = list(step["argv"])
    if step.get("where", "host") == "host":
        return [resolve_program(argv[0])] + argv[1:]
    pid = _container_pid(step)
    if pid is None:
        return None
    return [resolve_program("nsenter"), "--target", str(pid)] + list(CONTAINER_NAMESPACES) + ["--"] + argv


def undo_custom(step, run_argv):
    if run_argv is None:
        raise LedgerError("no command runner given for the custom undo %s" % " ".join(step["argv"]))
    argv = custom_argv(step)
    if argv is None:
        return "container %s gone (or not running): its custom fault went with it" % step["container"]
    rc, _out, err = run_argv(argv)
    if rc == 0:
        return "done (rc 0)"
    raise LedgerError("custom undo %s failed (rc %s): %s"
                      % (" ".join(step["argv"]), rc, (err or "").strip()[-500:]))


def check_custom_argv(argv, what="undo"):
    """Refuse what is not a plain argv list with an absolute program path (used for inject/undo/check)."""
    _require(isinstance(argv, list) and 0 < len(argv) <= CUSTOM_MAX_ARGS
             and all(isinstance(a, str) and "\0" not in a and len(a) <= CUSTOM_MAX_ARG_LENGTH for a in argv),
             "the %s command is not a list of 1 to %d strings (no NUL, at most %d characters each)"
             % (what, CUSTOM_MAX_ARGS, CUSTOM_MAX_ARG_LENGTH))
    _require(os.path.isabs(argv[0]) and os.path.normpath(argv[0]) == argv[0],
             "the %s command's program %r is not an absolute, normalised path" % (what, argv[0]))


def check_custom(step, _state_dir, entry):
    _require(entry.get("kind") == CUSTOM_KIND, "a custom undo command is only accepted in a %s entry (this is %r)"
             % (CUSTOM_KIND, entry.get("kind")))
    check_custom_argv(step.get("argv"))
    where = step.get("where", "host")
    _require(where in ("host", "container"), "where %r is not host or container" % (where,))
    if where == "container":
        container = step.get("container")
        _require(isinstance(container, str) and _CONTAINER_ID.fullmatch(container) is not None,
                 "container %r is not a container id" % (container,))
        host = step.get("docker_host")
        _require(host is None or (isinstance(host, str) and host.split("://", 1)[0] in ("unix", "tcp", "http",
                                                                                        "https")),
                 "docker_host %r is not a unix://, tcp:// or http(s):// address" % (host,))
        _require(step.get("tls") is None or isinstance(step["tls"], dict), "tls is not a mapping")


HANDLERS = {"resume_process": lambda step, run_argv: undo_resume_process(step), "custom": undo_custom}
CHECKS = {"resume_process": check_resume_process, "custom": check_custom}
