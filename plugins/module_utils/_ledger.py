# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The ledger of active faults on a target host, and the reaper that expires them.

This file, ``_undo.py``, ``_undo_app.py``, ``_trust.py`` and ``_audit.py`` use the Python standard
library only, on purpose: they are also the reaper's program. ``ensure_reaper``
copies them to the state directory (``lib/sutazai_chaos_reaper/``, folders 0700,
files 0600), checks them again (owner, mode, SHA-256) and starts the reaper from
there as a detached process, which must keep working after the module (and its
temporary directory of bundled code) is gone. Nothing is written to or run from
a state directory that fails ``_trust.check_state_dir``.

Layout of the state directory (default ``/var/lib/sutazai-chaos``):

* ``ledger.json``  ``{"version": 1, "entries": [...]}``; an entry records what
  was done, the exact undo (data, not code), the experiment id and a deadline.
* ``ledger.lock``  ``flock`` guard for ledger.json (taken before ``audit.lock``, never after).
* ``audit.jsonl``  append-only, hash-chained journal of every inject and revert (``_audit.py``),
  with ``audit.lock`` / ``audit.head`` and rotated ``audit.jsonl.1`` ...
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

from . import _audit
from ._trust import check_file, check_state_dir, install_files, not_permitted, private_file, verify_files
from ._undo import LedgerError, UndoRefused, execute_undo, validate_undo

DEFAULT_STATE_DIR = "/var/lib/sutazai-chaos"
LEDGER_FILE = "ledger.json"
AUDIT_FILE = _audit.AUDIT_FILE
STOP_FLAG = "emergency-stop"
REAPER_POLL_SECONDS = 0.25
UNDO_RETRY_SECONDS = 2.0
UNDO_MAX_ATTEMPTS = 30
DONE_ENTRIES_KEPT = 200
UNREADABLE = ("the ledger %s is unreadable (%s); move it aside to continue, and check the faults it listed by hand "
              "(audit.jsonl in the same folder records every inject)")


class Ledger:
    """Durable record of the faults this collection applied on one host."""

    def __init__(self, state_dir=DEFAULT_STATE_DIR):
        if "\0" in str(state_dir):
            raise LedgerError("state_dir %r contains a NUL byte; no folder can have that name" % state_dir)
        self.state_dir = state_dir
        self.path = os.path.join(state_dir, LEDGER_FILE)
        self.audit_path = os.path.join(state_dir, AUDIT_FILE)

    def ensure_dir(self):
        """Check that the state folder may be trusted (``_trust``), creating it 0700 when missing."""
        check_state_dir(self.state_dir, create=True)

    @contextlib.contextmanager
    def locked(self):
        """Hold the ledger lock; yields the entries list, saved on a clean exit.

        A new active entry whose undo is not one this collection writes is refused before it is saved.
        """
        self.ensure_dir()
        with _lock_file(os.path.join(self.state_dir, "ledger.lock")) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = self._load()
                before = json.dumps(data, sort_keys=True)
                known = {e.get("id") for e in data["entries"] if isinstance(e, dict)}
                yield data["entries"]
                for entry in data["entries"]:
                    if entry.get("id") not in known and entry.get("state") == "active":
                        self._refuse_unsafe(entry)
                if json.dumps(data, sort_keys=True) != before:
                    self._save(data)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _refuse_unsafe(self, entry):
        try:
            validate_undo(entry, self.state_dir)
        except UndoRefused as exc:
            raise LedgerError("refusing to record a fault whose undo the reaper would refuse to run: %s. Nothing "
                              "was changed." % exc.msg)

    def _load(self):
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return {"version": 1, "entries": []}
        except OSError as exc:
            raise LedgerError(UNREADABLE % (self.path, exc))
        with os.fdopen(fd) as handle:
            check_file(self.path, os.fstat(fd))
            try:
                data = json.load(handle)
            except (OSError, ValueError) as exc:
                raise LedgerError(UNREADABLE % (self.path, exc))
        if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
            raise LedgerError("the ledger %s is not a sutazai.chaos ledger (no 'entries' list)" % self.path)
        if not all(isinstance(entry, dict) and isinstance(entry.get("id"), str) for entry in data["entries"]):
            raise LedgerError("the ledger %s is not a sutazai.chaos ledger (an entry is not a mapping with an id)"
                              % self.path)
        return data

    def quarantine_unreadable(self):
        """Move an unreadable (or untrusted) ledger aside, kept for inspection; True when one was moved."""
        check_state_dir(self.state_dir)
        with _lock_file(os.path.join(self.state_dir, "ledger.lock")) as lock:
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
        with private_file(tmp) as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def audit(self, event, entry, **extra):
        """Append one line to the hash-chained audit.jsonl (with the ledger lock held or not)."""
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
        try:
            _audit.append(self.state_dir, record)
        except OSError as exc:
            raise LedgerError("cannot append to the audit journal %s: %s" % (self.audit_path, exc))

    def stop_flag_set(self):
        """Whether the emergency stop is on; TrustError when the state folder may not be trusted.

        A flag in a folder others could write means nothing either way, and every fault module asks this
        first, before it changes anything (a kill is not recorded until it is done): so the folder (or,
        while it is missing, the folders above it) is checked here too.
        """
        check_state_dir(self.state_dir)
        return os.path.exists(os.path.join(self.state_dir, STOP_FLAG))

    def refused(self):
        """Entries whose undo the reaper refused to run (they are never retried)."""
        if not os.path.exists(self.path):
            return []
        with self.locked() as entries:
            return [dict(e) for e in entries if e.get("state") == "refused"]

    def entries(self, experiment_id=None, active_only=True):
        if not os.path.exists(self.path):
            return []
        with self.locked() as entries:
            return [
                dict(e) for e in entries
                if (not active_only or e.get("state") == "active")
                and (experiment_id is None or e.get("experiment_id") == experiment_id)
            ]


@contextlib.contextmanager
def _lock_file(path):
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except PermissionError as exc:  # a root-owned state folder, opened by an ordinary user (no become)
        raise not_permitted(os.path.dirname(path), exc)
    with os.fdopen(fd, "r+") as handle:
        yield handle


def new_entry(experiment_id, kind, target, spec, undo, duration):
    """An active ledger entry; ``undo`` is a list of steps for ``execute_undo``."""
    now = time.time()
    return {
        "id": os.urandom(16).hex(),  # 128 random bits, as uuid4 has, without importing uuid (16 ms)
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
    same entry twice. A failed undo stays active (attempts counted) for a retry. An entry
    whose undo fails validation (a hand edit, an unknown step) is never run: it becomes
    ``refused`` for good, is audited as ``revert_refused`` and counts as failed.
    """
    reverted, failed = [], []
    with ledger.locked() as entries:
        for entry in entries:
            if entry.get("state") != "active" or not select(entry):
                continue
            entry["attempts"] = entry.get("attempts", 0) + 1
            try:
                outcome = execute_undo(entry, run_argv, ledger.state_dir)
            except UndoRefused as exc:
                entry.update(state="refused", refused_reason=exc.msg, last_error=exc.msg, refused_at=time.time(),
                             refused_by=reverted_by)
                ledger.audit("revert_refused", entry, by=reverted_by, error=exc.msg)
                failed.append(dict(entry))
                continue
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
        lost = [entry for entry_id, entry in known.items() if entry_id not in present and _valid(entry, ledger)]
        entries.extend(lost)
    for entry in lost:
        ledger.audit("restored", entry, reason="the ledger lost an active entry; the reaper put it back")
    return lost


def _valid(entry, ledger):
    try:
        validate_undo(entry, ledger.state_dir)
    except UndoRefused:
        return False  # it was refused when it came due, or will be: nothing to restore
    return True


def reaper_loop(state_dir):
    """Run until no active entry has a deadline; exits at once if another reaper runs.

    The reaper keeps its own copy of the active timed entries, so a ledger deleted or corrupted while
    faults are active does not make it forget them: a corrupt file is moved aside
    (``ledger.json.corrupt-<time>``) and the entries it knew are written back, then undone at their
    deadlines as usual. It starts only in a state folder that passes ``_trust.check_state_dir``; while the
    folder fails the check later on, it undoes nothing and says so in its log (once).
    """
    ledger = Ledger(state_dir)
    try:
        check_state_dir(state_dir)
        lock = os.fdopen(os.open(os.path.join(state_dir, "reaper.lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW,
                                 0o600), "r+")
    except (LedgerError, OSError) as exc:
        _log(getattr(exc, "msg", str(exc)))
        return 2
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
            for entry in reap_once(ledger, run_argv=_reaper_run_argv)[1]:
                if entry.get("state") == "refused":
                    _log("refused to run the undo of entry %s: %s" % (entry["id"], entry.get("refused_reason")))
            _LOGGED[:] = []  # a problem logged once is logged again if it comes back
            with ledger.locked() as entries:
                pending = [e for e in entries if e.get("state") == "active" and e.get("deadline") is not None]
                known = {e["id"]: dict(e) for e in pending}
                if not pending:
                    # Release our claim while the ledger lock is held: a module that adds an
                    # entry after this point finds no reaper and starts a new one.
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    return 0
        except LedgerError as exc:
            _log(exc.msg, once=True)
            with contextlib.suppress(LedgerError, OSError):
                if known and ledger.quarantine_unreadable():
                    _log("moved the unreadable ledger aside; restoring the %d active entries the reaper knew"
                         % len(known))
            time.sleep(REAPER_POLL_SECONDS)
        time.sleep(REAPER_POLL_SECONDS)


_LOGGED = []


def _log(text, once=False):
    """One line to reaper.log; with ``once``, a message repeated every poll is written only the first time."""
    if once and _LOGGED[-1:] == [text]:
        return
    _LOGGED[:] = [text]
    sys.stderr.write("%s reaper: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), text))
    sys.stderr.flush()


def reaper_running(state_dir):
    path = os.path.join(state_dir, "reaper.lock")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    with os.fdopen(fd) as lock:
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


def _program_sources():
    from . import _audit, _trust, _undo, _undo_app

    return (("__init__.py", ""), ("_ledger.py", _source_of(sys.modules[__name__])), ("_undo.py", _source_of(_undo)),
            ("_undo_app.py", _source_of(_undo_app)),
            ("_trust.py", _source_of(_trust)), ("_audit.py", _source_of(_audit)))


def install_program(state_dir, extra_modules=()):
    """Copy the reaper's modules to ``<state_dir>/lib/sutazai_chaos_reaper/``; returns (lib folder, digests).

    The detached processes run from there: the module's own files are deleted when its task ends. Folders
    are 0700 and files 0600; ``digests`` (file -> SHA-256 of what was written) is for ``verify_program``.
    ``extra_modules`` are more of our standard-library-only modules a detached process needs (a sidecar's).
    """
    check_state_dir(state_dir, create=True)
    lib = os.path.join(state_dir, "lib")
    sources = list(_program_sources())
    sources += [(module.__name__.rsplit(".", 1)[-1] + ".py", _source_of(module)) for module in extra_modules]
    files = [(name, source.encode("utf-8")) for name, source in sources]
    return lib, install_files(lib, PROGRAM_PACKAGE, files)


def verify_program(state_dir, digests):
    """Right before a start: the state folder passes, the program is still ours alone and as written."""
    check_state_dir(state_dir)
    verify_files(os.path.join(state_dir, "lib"), PROGRAM_PACKAGE, digests)


def _reaper_run_argv(argv):
    """The reaper's command runner (the reaper is a plain process, with no AnsibleModule)."""
    import subprocess

    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
                                check=False)
    except subprocess.TimeoutExpired:  # a hung undo is a failed undo (retried), never the reaper's end
        return 124, "", "timed out after 60 s (the reaper's bound for one command)"
    return result.returncode, result.stdout, result.stderr


def spawn_detached(state_dir, program_args, log_name, python=None, extra_env=None, extra_modules=()):
    """Start ``python -m sutazai_chaos_reaper._ledger <program_args>`` detached; returns its PID.

    This is the one place in the collection that starts a process meant to outlive
    the module (the reaper, stress-ng through ``--exec-in-cgroups``, the sidecars of
    application faults, which ship as ``extra_modules``): it gets a new
    session (so it is its own process group) and standard streams on /dev/null and a
    log file, since a child that kept the module's stdout would make Ansible wait for it.
    """
    import subprocess

    lib, digests = install_program(state_dir, extra_modules)
    env = dict(os.environ, PYTHONPATH=lib, PYTHONDONTWRITEBYTECODE="1", **(extra_env or {}))
    log_path = os.path.join(state_dir, log_name)
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    with open(os.devnull, "rb") as devnull, os.fdopen(log_fd, "ab") as log:
        check_file(log_path, os.fstat(log_fd))
        verify_program(state_dir, digests)
        process = subprocess.Popen(
            [python or sys.executable, "-B", "-m", PROGRAM_PACKAGE + "._ledger"] + list(program_args),
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
