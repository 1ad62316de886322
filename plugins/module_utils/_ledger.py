# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ledger of active faults on a target host, and the reaper that expires them.

This file and ``_undo.py`` use the Python standard library only, on purpose:
they are also the reaper's program. ``ensure_reaper`` copies both to the state
directory (``lib/sutazai_chaos_reaper/``) and starts the reaper from there as
a detached process, which must keep working after the module (and its
temporary directory of bundled code) is gone.

Layout of the state directory (default ``/var/lib/sutazai-chaos``):

* ``ledger.json``  ``{"version": 1, "entries": [...]}``; an entry records what
  was done, the exact undo (data, not code), the experiment id and a deadline.
* ``ledger.lock``  ``flock`` guard for ledger.json and audit.jsonl.
* ``audit.jsonl``  append-only journal of every inject and revert.
* ``lib/sutazai_chaos_reaper/`` / ``reaper.lock`` / ``reaper.log``  the detached reaper.
* ``emergency-stop``  while this file exists, no fault may be injected.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
import time
import uuid

from ._undo import LedgerError, execute_undo

DEFAULT_STATE_DIR = "/var/lib/sutazai-chaos"
LEDGER_FILE = "ledger.json"
AUDIT_FILE = "audit.jsonl"
STOP_FLAG = "emergency-stop"
REAPER_POLL_SECONDS = 0.25
UNDO_RETRY_SECONDS = 2.0
UNDO_MAX_ATTEMPTS = 30
DONE_ENTRIES_KEPT = 200


class Ledger:
    """Durable record of the faults this collection applied on one host."""

    def __init__(self, state_dir=DEFAULT_STATE_DIR):
        if "\0" in str(state_dir):
            raise LedgerError("state_dir %r contains a NUL byte; no folder can have that name" % state_dir)
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

    def quarantine_unreadable(self):
        """Move an unreadable ledger aside (kept for inspection); True when one was moved."""
        with open(os.path.join(self.state_dir, "ledger.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                try:
                    self._load()
                    return False
                except LedgerError:
                    os.replace(self.path, "%s.corrupt-%d" % (self.path, int(time.time())))
                    return True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

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


def _restore_lost(ledger, known):
    """Put back active entries the reaper knew and the file lost (the ledger was deleted or replaced)."""
    if not known:
        return []
    with ledger.locked() as entries:
        present = {e["id"] for e in entries}
        lost = [entry for entry_id, entry in known.items() if entry_id not in present]
        entries.extend(lost)
    for entry in lost:
        ledger.audit("restored", entry, reason="the ledger lost an active entry; the reaper put it back")
    return lost


def reaper_loop(state_dir):
    """Run until no active entry has a deadline; exits at once if another reaper runs.

    The reaper keeps its own copy of the active timed entries, so a ledger deleted or corrupted while
    faults are active does not make it forget them: a corrupt file is moved aside
    (``ledger.json.corrupt-<time>``) and the entries it knew are written back, then undone at their
    deadlines as usual.
    """
    ledger = Ledger(state_dir)
    lock = open(os.path.join(state_dir, "reaper.lock"), "a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return 0
    known = {}
    while True:
        try:
            for entry in _restore_lost(ledger, known):
                _log("restored entry %s (%s on %s): the ledger had lost it" % (
                    entry["id"], entry.get("kind"), (entry.get("target") or {}).get("name")))
            reap_once(ledger, run_argv=_reaper_run_argv)
            with ledger.locked() as entries:
                pending = [e for e in entries if e.get("state") == "active" and e.get("deadline") is not None]
                known = {e["id"]: dict(e) for e in pending}
                if not pending:
                    # Release our claim while the ledger lock is held: a module that adds an
                    # entry after this point finds no reaper and starts a new one.
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    return 0
        except LedgerError as exc:
            _log(exc.msg)
            if known and ledger.quarantine_unreadable():
                _log("moved the unreadable ledger aside; restoring the %d active entries the reaper knew" % len(known))
            time.sleep(REAPER_POLL_SECONDS)
        time.sleep(REAPER_POLL_SECONDS)


def _log(text):
    sys.stderr.write("%s reaper: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), text))
    sys.stderr.flush()


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


PROGRAM_PACKAGE = "sutazai_chaos_reaper"


def _source_of(module):
    """The source text of one of our modules, however it was loaded (files, zip, Ansible's loader)."""
    loader = getattr(module, "__loader__", None)
    source = None
    if loader is not None and hasattr(loader, "get_source"):
        with contextlib.suppress(ImportError, OSError):
            source = loader.get_source(module.__name__)
    if source is None:
        with open(module.__file__) as handle:
            source = handle.read()
    if isinstance(source, bytes):  # Ansible's collection loader hands out bytes
        source = source.decode("utf-8")
    return source


def install_program(state_dir):
    """Copy this file and ``_undo.py`` to ``<state_dir>/lib/sutazai_chaos_reaper/``; returns the lib folder.

    The detached processes run from there: the module's own files are deleted when its task ends.
    """
    from . import _undo

    package = os.path.join(state_dir, "lib", PROGRAM_PACKAGE)
    os.makedirs(package, mode=0o700, exist_ok=True)
    for name, source in (("__init__.py", ""), ("_ledger.py", _source_of(sys.modules[__name__])),
                         ("_undo.py", _source_of(_undo))):
        path = os.path.join(package, name)
        current = None
        with contextlib.suppress(OSError):
            with open(path) as handle:
                current = handle.read()
        if current != source:
            with open(path + ".tmp", "w") as handle:
                handle.write(source)
            os.replace(path + ".tmp", path)
    return os.path.dirname(package)


def _reaper_run_argv(argv):
    """The reaper's command runner (the reaper is a plain process, with no AnsibleModule)."""
    import subprocess

    result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    return result.returncode, result.stdout, result.stderr


def spawn_detached(state_dir, program_args, log_name, python=None, extra_env=None):
    """Start ``python -m sutazai_chaos_reaper._ledger <program_args>`` detached; returns its PID.

    This is the one place in the collection that starts a process meant to outlive
    the module (the reaper, and stress-ng through ``--exec-in-cgroups``): it gets a new
    session (so it is its own process group) and standard streams on /dev/null and a
    log file, since a child that kept the module's stdout would make Ansible wait for it.
    """
    import subprocess

    lib = install_program(state_dir)
    env = dict(os.environ, PYTHONPATH=lib, **(extra_env or {}))
    with open(os.devnull, "rb") as devnull, open(os.path.join(state_dir, log_name), "ab") as log:
        process = subprocess.Popen(
            [python or sys.executable, "-m", PROGRAM_PACKAGE + "._ledger"] + list(program_args),
            stdin=devnull, stdout=log, stderr=log, close_fds=True, start_new_session=True, cwd="/", env=env,
        )
    return process.pid


def ensure_reaper(state_dir, python=None):
    """Make sure a detached reaper watches ``state_dir``; returns True when one was started."""
    if reaper_running(state_dir):
        return False
    spawn_detached(state_dir, [state_dir], "reaper.log", python)
    return True


def exec_in_cgroups(procs_files, argv):
    """Join the given cgroups (``cgroup.procs`` files), then become ``argv`` (for stress-ng in a container).

    Joining before the exec means every worker stress-ng forks is born inside the container's cgroups,
    under its limits and OOM scope.
    """
    for path in procs_files:
        with open(path, "w") as handle:
            handle.write(str(os.getpid()))
    os.execvp(argv[0], argv)


def _main(args):
    if args[:1] == ["--exec-in-cgroups"]:
        separator = args.index("--")
        exec_in_cgroups(json.loads(args[1]), args[separator + 1:])
    return reaper_loop(args[0] if args else DEFAULT_STATE_DIR)


if __name__ == "__main__":
    # Only the detached processes run this file as a program; a module never gets here.
    raise SystemExit(_main(sys.argv[1:]))
