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
* ``resume_process``, ``custom``  application faults: see ``_undo_app.py``

The set is closed, and each step is checked (``validate_undo``) before any step of its entry runs: the
ledger is data a person (or a program) with access to the state folder could edit, and the reaper runs as
root. What passes is exactly what this collection writes: an Engine call ``POST /containers/<id>/unpause``
or ``/start``; ``tc qdisc del dev <device> root [handle H]``, ``iptables``/``ip6tables`` deleting our own
``SZC-`` chains and the jumps to them (also from the nat table's PREROUTING/POSTROUTING, for the traffic our
proxies take over), ``nft delete|flush table|chain ...``, alone or under ``nsenter
--net=/proc/<pid>/ns/net --``, each program run by its absolute path from ``PROGRAM_DIRS``; signals only to
processes carrying the entry's marker (``SUTAZAI_CHAOS_MARK=<hex>``) in their environment and started after
the entry was recorded; removal only of our disk-fill files (``sutazai-chaos-fill-*.bin``) or of files in
the state folder; writes only of block-I/O throttle resets to cgroup files under ``/sys/fs/cgroup``.
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
import stat
import time
from urllib.parse import urlsplit

SIGNAL_GRACE_SECONDS = 2.0


class LedgerError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


class UndoRefused(LedgerError):
    """An undo step outside the closed set this collection writes: it is never run, nor retried."""


PROGRAMS = ("tc", "iptables", "ip6tables", "iptables-legacy", "ip6tables-legacy", "iptables-nft", "ip6tables-nft",
            "nft")
PROGRAM_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
ENGINE_CALLS = ("unpause", "start")
CGROUP_ROOT = "/sys/fs/cgroup"
THROTTLE_FILES = ("blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                  "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device", "io.max")
# Bookkeeping of the state folder itself (ledger, journal, reaper, its program): never removed by an undo.
RESERVED_STATE_PREFIXES = ("ledger.", "audit.", "reaper.", "lib", "emergency-stop", "metrics", "stress.",
                           "sidecar.")
START_SLACK_SECONDS = 2.0  # the boot time in /proc/stat has whole seconds

_CONTAINER = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}"
_DEVICE = r"(?!-)(?!\.{1,2}(?: |$))[^\s/:]{1,15}"
_CHAIN = r"SZC-[A-Za-z0-9_]{1,20}-[A-Z]"
_NFT_WORD = r"[A-Za-z][A-Za-z0-9_.-]{0,63}"
SHAPES = {
    "tc": re.compile(r"qdisc (del|delete) dev %s (root|ingress|clsact)( handle [0-9a-fA-F]{1,4}:[0-9a-fA-F]{0,4})?"
                     % _DEVICE),
    "iptables": re.compile(r"(-w( \d{1,3})? )?(-t (filter|mangle|raw|nat) )?((-F|-X) %s|-D (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING)"
                           r"( (-i|-o) %s)? -j %s)" % (_CHAIN, _DEVICE, _CHAIN)),
    "nft": re.compile(r"(delete|flush|destroy) (table|chain) (ip|ip6|inet|arp|bridge|netdev) %s( %s)?"
                      % (_NFT_WORD, _NFT_WORD)),
}
NSENTER_NET = re.compile(r"--net=/proc/[1-9][0-9]{0,9}/ns/net")
MARKER = re.compile(r"SUTAZAI_CHAOS_MARK=[0-9a-f]{8,64}")
FILL_NAME = re.compile(r"sutazai-chaos-fill-[0-9]{1,20}-[0-9a-f]{1,32}\.bin")
THROTTLE_RESET = re.compile(r"[0-9]{1,10}:[0-9]{1,10} (0|[rw](bps|iops)=max( [rw](bps|iops)=max){0,3})")
ENGINE_PATH = re.compile(r"/containers/(%s)/(%s)" % (_CONTAINER, "|".join(ENGINE_CALLS)))


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
    return [resolve_program("nsenter"), "--net=/proc/%d/ns/net" % pid, "--"]


def resolve_program(name):
    """The absolute path of an allowed program, from ``PROGRAM_DIRS`` only (never from PATH).

    The file (after links) must be owned by root or by us and writable by nobody else.
    """
    if os.path.isabs(name):
        candidates = [name]
    else:
        candidates = [os.path.join(folder, name) for folder in PROGRAM_DIRS]
    for path in candidates:
        try:
            info = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_uid in (0, os.geteuid()) and not info.st_mode & 0o022 \
                and info.st_mode & 0o111:
            return path
    raise LedgerError("%s not found as a root-owned program in %s" % (name, ", ".join(PROGRAM_DIRS)))


def _resolved(argv):
    argv = list(argv)
    argv[0] = resolve_program(argv[0])
    if os.path.basename(argv[0]) == "nsenter":
        argv[3] = resolve_program(argv[3])
    return argv


def _undo_argv(step, run_argv):
    """Run a command (a tc/iptables undo) through the caller's runner, in the target's namespace."""
    if run_argv is None:
        raise LedgerError("no command runner given for the undo of %s" % " ".join(step["argv"]))
    prefix = []
    if step.get("netns"):
        prefix = _netns_prefix(step["netns"])
        if prefix is None:
            return "target gone: its network namespace went with the faults in it"
    rc, _out, err = run_argv(prefix + _resolved(step["argv"]))
    if rc in step.get("ok_rc", [0]):
        return "done (rc %s)" % rc
    if step.get("gone_regex") and re.search(step["gone_regex"], err or ""):
        return "already gone (%s)" % (err or "").strip().splitlines()[-1]
    raise LedgerError("%s failed (rc %s): %s" % (" ".join(step["argv"]), rc, (err or "").strip()))


def _process_matches(pid, expect_cmd, not_before=None):
    """Is ``pid`` alive (not a zombie), running ``expect_cmd``, and started at ``not_before`` or later?

    Guards against PID reuse: a process older than the ledger entry cannot be one the entry started.
    """
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    if not_before is not None and _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK") \
            < not_before - START_SLACK_SECONDS:
        return False
    return fields[0] != "Z" and expect_cmd in cmdline


def _boot_time():
    with open("/proc/stat") as handle:
        for line in handle:
            if line.startswith("btime "):
                return int(line.split()[1])
    raise OSError("no btime in /proc/stat")


def marked_processes(marker):
    """PIDs whose environment carries ``marker`` (set by the module when it started them)."""
    return processes_by_marker([marker])[marker]


def processes_by_marker(markers):
    """{marker: PIDs whose environment carries it}, for several markers in one pass over /proc."""
    needles = [(marker, marker.encode() + b"\0") for marker in markers]
    found = {marker: [] for marker in markers}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as handle:
                environ = handle.read() + b"\0"
        except OSError:
            continue
        for marker, needle in needles:
            if needle in environ:
                found[marker].append(int(name))
    return found


def _undo_signal(step, not_before=None):
    """TERM the processes we started (found by their environment marker), then KILL what is left.

    The marker is chosen before the processes start, so this undo is in the ledger before they exist;
    a PID could be reused by the time of the undo, a marker cannot. Only processes started after the
    entry was recorded (``not_before``) are signalled.
    """
    marker, expect = step["marker"], step.get("expect_cmd", "")
    for sig, wait in ((signal.SIGTERM, SIGNAL_GRACE_SECONDS), (signal.SIGKILL, 1.0)):
        pids = [pid for pid in marked_processes(marker) if _process_matches(pid, expect, not_before)]
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


def execute_undo(entry, run_argv=None, state_dir=None):
    """Run every undo step of an entry; returns a list of outcomes, raises LedgerError on failure.

    Every step is validated first (``UndoRefused``, and nothing runs, when one fails). ``run_argv(argv) ->
    (rc, stdout, stderr)`` runs commands: a module passes ``module.run_command``, the reaper its own runner.
    ``state_dir`` is the ledger's folder (a file there may be removed by an undo).
    """
    validate_undo(entry, state_dir)
    from . import _undo_app  # it imports this file: loaded on first use

    handlers = {"docker_api": _undo_docker_api, "remove_file": _undo_remove_file, "write_file": _undo_write_file,
                "signal": lambda step: _undo_signal(step, entry.get("created")),
                "argv": lambda step: _undo_argv(step, run_argv)}
    handlers.update({kind: (lambda step, handler=handler: handler(step, run_argv))
                     for kind, handler in _undo_app.HANDLERS.items()})
    outcomes = []
    for step in entry.get("undo", []):
        try:
            outcomes.append(handlers[step["type"]](step))
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise LedgerError("undo of %s on %s failed: %s" % (entry.get("kind"), _target_name(entry), exc))
    return outcomes


# ---------------------------------------------------------------- validation

def validate_undo(entry, state_dir=None):
    """Raise UndoRefused unless every undo step of ``entry`` is one this collection writes."""
    steps = entry.get("undo", [])
    if not isinstance(steps, list):
        raise UndoRefused("the undo of %s on %s is not a list of steps" % (entry.get("kind"), _target_name(entry)))
    for index, step in enumerate(steps, 1):
        try:
            validate_step(step, state_dir, entry)
        except UndoRefused as exc:
            raise UndoRefused("undo step %d of %s on %s refused: %s"
                              % (index, entry.get("kind"), _target_name(entry), exc.msg))


def _require(condition, text):
    if not condition:
        raise UndoRefused(text)


def _match(pattern, value):
    return isinstance(value, str) and "\0" not in value and pattern.fullmatch(value) is not None


def validate_step(step, state_dir=None, entry=None):
    """Raise UndoRefused unless ``step`` has one of the shapes this collection writes (see the module doc)."""
    _require(isinstance(step, dict), "a step is not a mapping")
    kind = step.get("type")
    from . import _undo_app

    checks = {"docker_api": _check_docker_api, "argv": _check_argv, "signal": _check_signal,
              "remove_file": _check_remove_file, "write_file": _check_write_file}
    checks.update(_undo_app.CHECKS)
    _require(kind in checks, "unknown undo step type %r (known: %s)" % (kind, ", ".join(sorted(checks))))
    checks[kind](step, state_dir, entry or {})


def _check_engine(step):
    host = step.get("docker_host")
    _require(host is None or (isinstance(host, str) and urlsplit(host).scheme in ("unix", "tcp", "http", "https")),
             "docker_host %r is not a unix://, tcp:// or http(s):// address" % (host,))
    _require(step.get("tls") is None or isinstance(step["tls"], dict), "tls is not a mapping")
    if "container" in step:
        _require(_match(re.compile(_CONTAINER), step["container"]), "container %r is not a container id"
                 % (step["container"],))


def _check_docker_api(step, _state_dir, _entry):
    _check_engine(step)
    _require(step.get("method", "POST") == "POST", "method %r: only POST calls undo" % (step.get("method"),))
    path = step.get("path")
    match = ENGINE_PATH.fullmatch(path) if isinstance(path, str) else None
    _require(match is not None, "Engine API path %r is not /containers/<id>/%s" % (path, "|".join(ENGINE_CALLS)))
    _require(step.get("container", match.group(1)) == match.group(1),
             "container %r is not the one in the path" % (step.get("container"),))
    ok = step.get("ok_status", [])
    _require(isinstance(ok, list) and all(isinstance(s, int) for s in ok), "ok_status is not a list of numbers")
    _require(step.get("expect_state") is None or isinstance(step["expect_state"], dict),
             "expect_state is not a mapping")


def _shape_of(program):
    name = os.path.basename(program)
    if "/" in program and os.path.dirname(program) not in PROGRAM_DIRS:
        return None
    if name not in PROGRAMS:
        return None
    return SHAPES["iptables" if name.startswith(("iptables", "ip6tables")) else name]


def _check_command(argv):
    _require(isinstance(argv, list) and argv and all(isinstance(a, str) and "\0" not in a for a in argv),
             "argv is not a list of strings")
    shape = _shape_of(argv[0])
    _require(shape is not None, "program %r is not one this collection runs (%s, from %s, or nsenter with one of "
             "them)" % (argv[0], ", ".join(PROGRAMS), ", ".join(PROGRAM_DIRS)))
    _require(shape.fullmatch(" ".join(argv[1:])) is not None and not any(" " in a or not a for a in argv[1:]),
             "%r is not an undo this collection writes for %s" % (" ".join(argv), os.path.basename(argv[0])))


def _check_argv(step, _state_dir, _entry):
    argv = step.get("argv")
    _require(isinstance(argv, list) and argv, "argv is not a list of strings")
    if isinstance(argv[0], str) and os.path.basename(argv[0]) == "nsenter":
        _require(argv[0] == "nsenter" or os.path.dirname(argv[0]) in PROGRAM_DIRS,
                 "program %r is not one this collection runs" % argv[0])
        _require(len(argv) > 3 and _match(NSENTER_NET, argv[1]) and argv[2] == "--",
                 "nsenter is only run as nsenter --net=/proc/<pid>/ns/net -- <program>")
        argv = argv[3:]
    _check_command(argv)
    netns = step.get("netns")
    if netns is not None:
        _require(isinstance(netns, dict) and isinstance(netns.get("pid"), int) and netns["pid"] > 0
                 and _match(re.compile(_CONTAINER), netns.get("container")), "netns is not {pid, container}")
    ok = step.get("ok_rc", [0])
    _require(isinstance(ok, list) and all(isinstance(rc, int) for rc in ok), "ok_rc is not a list of numbers")
    gone = step.get("gone_regex")
    if gone is not None:
        _require(isinstance(gone, str) and len(gone) <= 500, "gone_regex is not a short text")
        try:
            re.compile(gone)
        except re.error as exc:
            raise UndoRefused("gone_regex is not a regular expression (%s)" % exc)


def _check_signal(step, _state_dir, entry):
    _require(_match(MARKER, step.get("marker")), "marker %r is not SUTAZAI_CHAOS_MARK=<hex>, the mark this "
             "collection gives the processes it starts" % (step.get("marker"),))
    _require(isinstance(step.get("expect_cmd", ""), str), "expect_cmd is not a text")
    created = entry.get("created")
    _require(isinstance(created, (int, float)) and not isinstance(created, bool),
             "the entry has no creation time, so the processes it started cannot be told from older ones")


def _normal_path(path):
    return isinstance(path, str) and "\0" not in path and os.path.isabs(path) and os.path.normpath(path) == path


def _check_remove_file(step, state_dir, _entry):
    path = step.get("path")
    _require(_normal_path(path), "path %r is not an absolute, normalised path" % (path,))
    if "container" in step or "docker_host" in step:
        _check_engine(step)
        _require(isinstance(step.get("container"), str), "container is missing")
    if FILL_NAME.fullmatch(os.path.basename(path)):
        return
    _require("container" not in step and state_dir is not None,
             "%s is not a file this collection creates (a disk fill is named sutazai-chaos-fill-*.bin)" % path)
    folder = os.path.abspath(state_dir)
    inside = os.path.relpath(path, folder)
    _require(not inside.startswith("..") and inside != "." and not inside.startswith(RESERVED_STATE_PREFIXES),
             "%s is neither a disk fill nor a file of the state folder %s (other than its bookkeeping)"
             % (path, folder))


def _check_write_file(step, _state_dir, _entry):
    path = step.get("path")
    _require(_normal_path(path) and path.startswith(CGROUP_ROOT + "/")
             and os.path.basename(path) in THROTTLE_FILES,
             "path %r is not a block-I/O throttle file under %s" % (path, CGROUP_ROOT))
    _require(_match(THROTTLE_RESET, step.get("content")),
             "content %r does not lift a throttle (MAJ:MIN 0, or MAJ:MIN rbps=max ...)" % (step.get("content"),))


def _target_name(entry):
    target = entry.get("target") or {}
    return target.get("name") or target.get("id") or "?"
