# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ledger of active faults on a target host, and the reaper that expires them.

This file uses the Python standard library only, on purpose: it is also the
reaper's program. ``ensure_reaper`` copies this very source to the state
directory and starts it as a detached process, which must keep working after
the module (and its temporary directory of bundled code) is gone.

Layout of the state directory (default ``/var/lib/sutazai-chaos``):

* ``ledger.json``  ``{"version": 1, "entries": [...]}``; an entry records what
  was done, the exact undo (data, not code), the experiment id and a deadline.
* ``ledger.lock``  ``flock`` guard for ledger.json and audit.jsonl.
* ``audit.jsonl``  append-only journal of every inject and revert.
* ``reaper.py`` / ``reaper.lock`` / ``reaper.log``  the detached reaper.
* ``emergency-stop``  while this file exists, no fault may be injected.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import re
import socket
import ssl
import sys
import time
import uuid
from urllib.parse import urlsplit

DEFAULT_STATE_DIR = "/var/lib/sutazai-chaos"
LEDGER_FILE = "ledger.json"
AUDIT_FILE = "audit.jsonl"
STOP_FLAG = "emergency-stop"
REAPER_POLL_SECONDS = 0.25
UNDO_RETRY_SECONDS = 2.0
UNDO_MAX_ATTEMPTS = 30
DONE_ENTRIES_KEPT = 200


class LedgerError(Exception):
    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


class Ledger:
    """Durable record of the faults this collection applied on one host."""

    def __init__(self, state_dir=DEFAULT_STATE_DIR):
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, LEDGER_FILE)
        self.audit_path = os.path.join(state_dir, AUDIT_FILE)

    def ensure_dir(self):
        try:
            os.makedirs(self.state_dir, mode=0o700, exist_ok=True)
        except OSError as exc:
            raise LedgerError("cannot create the state directory %s: %s" % (self.state_dir, exc))

    @contextlib.contextmanager
    def locked(self):
        """Hold the ledger lock; yields the entries list, saved on a clean exit."""
        self.ensure_dir()
        with open(os.path.join(self.state_dir, "ledger.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self._load()
                before = json.dumps(data, sort_keys=True)
                yield data["entries"]
                if json.dumps(data, sort_keys=True) != before:
                    self._save(data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {"version": 1, "entries": []}
        except (OSError, ValueError) as exc:
            raise LedgerError(
                "the ledger %s is unreadable (%s); move it aside to continue, and check the faults it "
                "listed by hand (audit.jsonl in the same folder records every inject)" % (self.path, exc)
            )
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise LedgerError("the ledger %s is not a sutazai.chaos ledger (no 'entries' list)" % self.path)
        return data

    def _save(self, data):
        done = [e for e in data["entries"] if e.get("state") != "active"]
        if len(done) > DONE_ENTRIES_KEPT:
            drop = {id(e) for e in done[: len(done) - DONE_ENTRIES_KEPT]}
            data["entries"] = [e for e in data["entries"] if id(e) not in drop]
        tmp = "%s.%d.tmp" % (self.path, os.getpid())
        with open(tmp, "w") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def audit(self, event, entry, **extra):
        """Append one line to audit.jsonl (call with the lock held or not; appends are atomic)."""
        record = {
            "time": time.time(),
            "event": event,
            "entry_id": entry.get("id"),
            "experiment_id": entry.get("experiment_id"),
            "kind": entry.get("kind"),
            "target": entry.get("target"),
            "spec": entry.get("spec"),
        }
        record.update(extra)
        self.ensure_dir()
        with open(self.audit_path, "a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")

    def stop_flag_set(self):
        return os.path.exists(os.path.join(self.state_dir, STOP_FLAG))

    def entries(self, experiment_id=None, active_only=True):
        if not os.path.exists(self.path):
            return []
        with self.locked() as entries:
            return [
                dict(e) for e in entries
                if (not active_only or e.get("state") == "active")
                and (experiment_id is None or e.get("experiment_id") == experiment_id)
            ]


def new_entry(experiment_id, kind, target, spec, undo, duration):
    """An active ledger entry; ``undo`` is a list of steps for ``execute_undo``."""
    now = time.time()
    return {
        "id": uuid.uuid4().hex,
        "experiment_id": experiment_id,
        "kind": kind,
        "target": target,
        "spec": spec,
        "undo": undo,
        "created": now,
        "deadline": now + duration if duration else None,
        "state": "active",
        "attempts": 0,
        # While the module is still applying the fault, the reaper leaves the entry alone
        # (an undo racing a slow stop would be lost); if that module dies, the reaper takes over.
        "applying": True,
        "owner_pid": os.getpid(),
    }


def mark_applied(ledger, entry_id, duration):
    """The fault is in place: its duration counts from now."""
    fields = {"applying": False}
    if duration:
        fields["deadline"] = time.time() + duration
    return update_entry(ledger, entry_id, **fields)


def update_entry(ledger, entry_id, **fields):
    """Set fields of one entry under the lock; returns the updated copy (None when it is not there)."""
    with ledger.locked() as entries:
        for entry in entries:
            if entry["id"] == entry_id:
                entry.update(fields)
                return dict(entry)
    return None


def process_alive(pid):
    """True for a live process; a zombie (PID 1 here may not reap) counts as dead."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError, TypeError):
        return False


# ---------------------------------------------------------------- undo steps

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


def execute_undo(entry, run_argv=None):
    """Run every undo step of an entry; returns a list of outcomes, raises LedgerError on failure.

    ``run_argv(argv) -> (rc, stdout, stderr)`` runs commands: a module passes
    ``module.run_command``, the reaper its own runner.
    """
    outcomes = []
    for step in entry.get("undo", []):
        kind = step.get("type")
        try:
            if kind == "docker_api":
                outcomes.append(_undo_docker_api(step))
            elif kind == "argv":
                outcomes.append(_undo_argv(step, run_argv))
            else:
                raise LedgerError("unknown undo step type %r" % kind)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise LedgerError("undo of %s on %s failed: %s" % (entry.get("kind"), _target_name(entry), exc))
    return outcomes


def _target_name(entry):
    target = entry.get("target") or {}
    return target.get("name") or target.get("id") or "?"


def revert_entries(ledger, select, reverted_by, run_argv=None):
    """Undo the active entries for which ``select(entry)`` is true; returns (reverted, failed).

    The undo runs with the lock held so the reaper and a rollback never undo the
    same entry twice. A failed undo stays active (attempts counted) for a retry.
    """
    reverted, failed = [], []
    with ledger.locked() as entries:
        for entry in entries:
            if entry.get("state") != "active" or not select(entry):
                continue
            entry["attempts"] = entry.get("attempts", 0) + 1
            try:
                outcome = execute_undo(entry, run_argv)
            except LedgerError as exc:
                entry["last_error"] = exc.msg
                entry["retry_after"] = time.time() + UNDO_RETRY_SECONDS
                if entry["attempts"] >= UNDO_MAX_ATTEMPTS:
                    entry["state"] = "failed"
                ledger.audit("revert_failed", entry, by=reverted_by, error=exc.msg)
                failed.append(dict(entry))
                continue
            entry.update(state="reverted", reverted_at=time.time(), reverted_by=reverted_by, outcome=outcome)
            ledger.audit("revert", entry, by=reverted_by, outcome=outcome)
            reverted.append(dict(entry))
    return reverted, failed


# ---------------------------------------------------------------- the reaper

def _due(entry, now):
    return (
        entry.get("state") == "active"
        and entry.get("deadline") is not None
        and entry["deadline"] <= now
        and entry.get("retry_after", 0) <= now
        and not (entry.get("applying") and process_alive(entry.get("owner_pid")))
    )


def reap_once(ledger, now=None, run_argv=None):
    """Undo every entry whose deadline passed; returns (reverted, failed)."""
    now = time.time() if now is None else now
    return revert_entries(ledger, lambda entry: _due(entry, now), "reaper", run_argv)


def reaper_loop(state_dir):
    """Run until no active entry has a deadline; exits at once if another reaper runs."""
    ledger = Ledger(state_dir)
    lock = open(os.path.join(state_dir, "reaper.lock"), "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0
    while True:
        try:
            reap_once(ledger, run_argv=_reaper_run_argv)
            with ledger.locked() as entries:
                pending = [e for e in entries if e.get("state") == "active" and e.get("deadline") is not None]
                if not pending:
                    # Release our claim while the ledger lock is held: a module that adds an
                    # entry after this point finds no reaper and starts a new one.
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    return 0
        except LedgerError as exc:
            sys.stderr.write("%s reaper: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), exc.msg))
            sys.stderr.flush()
            time.sleep(UNDO_RETRY_SECONDS)
        time.sleep(REAPER_POLL_SECONDS)


def reaper_running(state_dir):
    path = os.path.join(state_dir, "reaper.lock")
    if not os.path.exists(path):
        return False
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def _own_source():
    loader = globals().get("__loader__")
    source = None
    if loader is not None and hasattr(loader, "get_source"):
        with contextlib.suppress(ImportError, OSError):
            source = loader.get_source(__name__)
    if source is None:
        with open(__file__) as handle:
            source = handle.read()
    if isinstance(source, bytes):  # Ansible's collection loader hands out bytes
        source = source.decode("utf-8")
    return source


def _reaper_run_argv(argv):
    """The reaper's command runner (the reaper is a plain process, with no AnsibleModule)."""
    import subprocess

    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    return result.returncode, result.stdout, result.stderr


def ensure_reaper(state_dir, python=None):
    """Make sure a detached reaper watches ``state_dir``; returns True when one was started.

    This is the one place in the collection that starts a process with
    ``subprocess``: the reaper must outlive the module, so it gets a new session
    and standard streams on /dev/null and a log file (a child that kept the
    module's stdout would make Ansible wait for it), and runs a copy of this
    file from the state directory (the module's own files are deleted when the
    task ends).
    """
    import subprocess

    if reaper_running(state_dir):
        return False
    script = os.path.join(state_dir, "reaper.py")
    source = _own_source()
    current = None
    with contextlib.suppress(OSError):
        with open(script) as handle:
            current = handle.read()
    if current != source:
        with open(script + ".tmp", "w") as handle:
            handle.write(source)
        os.replace(script + ".tmp", script)
    with open(os.devnull, "rb") as devnull, open(os.path.join(state_dir, "reaper.log"), "ab") as log:
        subprocess.Popen(
            [python or sys.executable, script, state_dir],
            stdin=devnull, stdout=log, stderr=log, close_fds=True, start_new_session=True, cwd="/",
        )
    return True


if __name__ == "__main__":
    # Only the detached reaper runs this file as a program; a module never gets here.
    raise SystemExit(reaper_loop(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_STATE_DIR))
