# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Undo steps: how a recorded fault is taken away, by a module or by the reaper.

Standard library only: this file is part of the reaper program (see
``_ledger.ensure_reaper``). A step is data, never code:

* ``docker_api``   an Engine API call (unpause, start), over the unix socket or TCP/TLS
* ``argv``         a command (tc, iptables), optionally inside a container's network namespace
* ``signal``       signal the processes we started (stress-ng), found by an environment marker
* ``remove_file``  delete a file we created (disk fill), also inside a container's filesystem
* ``write_file``   write a value back (cgroup throttles)
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import ssl
import time
from urllib.parse import urlsplit

SIGNAL_GRACE_SECONDS = 2.0


class LedgerError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


def _docker_connection(docker_host, tls, timeout):
    parts = urlsplit(docker_host or "unix:///var/run/docker.sock")
    if parts.scheme == "unix":
        return _UnixHTTPConnection(parts.path, timeout)
    if parts.scheme in ("tcp", "http", "https"):
        port = parts.port or (2376 if tls else 2375)
        if tls or parts.scheme == "https":
            context = ssl.create_default_context(cafile=tls.get("ca_path") if tls else None)
            if tls and not tls.get("validate_certs", True):
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
            if tls and tls.get("client_cert"):
                context.load_cert_chain(tls["client_cert"], tls.get("client_key"))
            return http.client.HTTPSConnection(parts.hostname, port, timeout=timeout, context=context)
        return http.client.HTTPConnection(parts.hostname, port, timeout=timeout)
    raise LedgerError("unsupported docker_host %r" % docker_host)


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def docker_request(docker_host, method, path, tls=None, timeout=30):
    """One Docker Engine API call with the standard library; returns (status, parsed body)."""
    conn = _docker_connection(docker_host, tls, timeout)
    try:
        conn.request(method, path, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = raw.decode("utf-8", "replace")
    return response.status, body


def _state_matches(state, expect):
    return all(state.get(key) == value for key, value in expect.items())


def _undo_docker_api(step):
    """POST an engine call; success when its status is expected or the container already is as wanted."""
    host, tls = step.get("docker_host"), step.get("tls")
    status, body = docker_request(host, step.get("method", "POST"), step["path"], tls=tls)
    if status in step.get("ok_status", [200, 204, 304]):
        return "done (HTTP %s)" % status
    if status == 404:
        return "target gone (HTTP 404): nothing to undo"
    expect = step.get("expect_state")
    if expect:
        inspect_status, info = docker_request(host, "GET", "/containers/%s/json" % step["container"], tls=tls)
        if inspect_status == 404:
            return "target gone: nothing to undo"
        if inspect_status == 200 and _state_matches(info.get("State", {}), expect):
            return "already undone (%s)" % ", ".join("%s=%s" % kv for kv in sorted(expect.items()))
    message = body.get("message") if isinstance(body, dict) else body
    raise LedgerError("%s %s answered HTTP %s: %s" % (step.get("method", "POST"), step["path"], status, message))


def _netns_prefix(netns):
    """``nsenter`` into a container's network namespace, if that container still owns the recorded PID.

    Returns None when the container (and so the namespace, with every fault in it) is gone.
    """
    pid = int(netns["pid"])
    try:
        with open("/proc/%d/cgroup" % pid) as handle:
            if netns["container"] not in handle.read():
                return None
    except OSError:
        return None
    return ["nsenter", "--net=/proc/%d/ns/net" % pid, "--"]


def _undo_argv(step, run_argv):
    """Run a command (a tc/iptables undo) through the caller's runner, in the target's namespace."""
    if run_argv is None:
        raise LedgerError("no command runner given for the undo of %s" % " ".join(step["argv"]))
    prefix = []
    if step.get("netns"):
        prefix = _netns_prefix(step["netns"])
        if prefix is None:
            return "target gone: its network namespace went with the faults in it"
    rc, _out, err = run_argv(prefix + list(step["argv"]))
    if rc in step.get("ok_rc", [0]):
        return "done (rc %s)" % rc
    if step.get("gone_regex") and re.search(step["gone_regex"], err or ""):
        return "already gone (%s)" % (err or "").strip().splitlines()[-1]
    raise LedgerError("%s failed (rc %s): %s" % (" ".join(step["argv"]), rc, (err or "").strip()))


def _process_matches(pid, expect_cmd):
    """Is ``pid`` alive (not a zombie) and running ``expect_cmd``? Guards against PID reuse."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        with open("/proc/%d/stat" % pid) as handle:
            state = handle.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and expect_cmd in cmdline


def marked_processes(marker):
    """PIDs whose environment carries ``marker`` (set by the module when it started them)."""
    needle = marker.encode() + b"\0"
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as handle:
                if needle in handle.read() + b"\0":
                    pids.append(int(name))
        except OSError:
            continue
    return pids


def _undo_signal(step):
    """TERM the processes we started (found by their environment marker), then KILL what is left.

    The marker is chosen before the processes start, so this undo is in the ledger before they exist;
    a PID could be reused by the time of the undo, a marker cannot.
    """
    marker, expect = step["marker"], step.get("expect_cmd", "")
    for sig, wait in ((signal.SIGTERM, SIGNAL_GRACE_SECONDS), (signal.SIGKILL, 1.0)):
        pids = [pid for pid in marked_processes(marker) if _process_matches(pid, expect)]
        if not pids:
            return "no process of ours left" if sig == signal.SIGTERM else "processes ended (SIGTERM)"
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        end = time.monotonic() + wait
        while time.monotonic() < end:
            if not any(_process_matches(pid, expect) for pid in pids):
                return "%d process(es) ended (%s)" % (len(pids), sig.name)
            time.sleep(0.05)
    raise LedgerError("processes marked %s did not end after SIGKILL" % marker)


def container_root(step):
    """The container's filesystem as seen from the host (``/proc/<pid>/root``), or None when it is gone.

    Asks the engine for the container's current PID, so a restarted container is still found.
    """
    status, info = docker_request(step.get("docker_host"), "GET", "/containers/%s/json" % step["container"],
                                  tls=step.get("tls"))
    if status == 404 or not isinstance(info, dict):
        return None
    pid = (info.get("State") or {}).get("Pid") or 0
    return "/proc/%d/root" % pid if pid > 0 else None


def _undo_remove_file(step):
    path = step["path"]
    if step.get("container"):
        root = container_root(step)
        if root is None:
            return "container gone (or not running): the file %s went with it or stays in its stopped layer" % path
        path = root + path
    try:
        os.unlink(path)
    except FileNotFoundError:
        return "%s already gone" % step["path"]
    return "removed %s" % step["path"]


def _undo_write_file(step):
    try:
        with open(step["path"], "w") as handle:
            handle.write(step["content"])
    except FileNotFoundError:
        return "%s gone (its cgroup went with the container)" % step["path"]
    return "wrote %r to %s" % (step["content"], step["path"])


def execute_undo(entry, run_argv=None):
    """Run every undo step of an entry; returns a list of outcomes, raises LedgerError on failure.

    ``run_argv(argv) -> (rc, stdout, stderr)`` runs commands: a module passes
    ``module.run_command``, the reaper its own runner.
    """
    handlers = {"docker_api": _undo_docker_api, "signal": _undo_signal, "remove_file": _undo_remove_file,
                "write_file": _undo_write_file}
    outcomes = []
    for step in entry.get("undo", []):
        kind = step.get("type")
        try:
            if kind == "argv":
                outcomes.append(_undo_argv(step, run_argv))
            elif kind in handlers:
                outcomes.append(handlers[kind](step))
            else:
                raise LedgerError("unknown undo step type %r" % kind)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise LedgerError("undo of %s on %s failed: %s" % (entry.get("kind"), _target_name(entry), exc))
    return outcomes


def _target_name(entry):
    target = entry.get("target") or {}
    return target.get("name") or target.get("id") or "?"
