# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The run journal's logic, without Ansible objects (the ``chaos_journal`` callback only translates events).

One journal per playbook run: which tasks of the collection ran on which host, when, with what outcome and a
*bounded*, *redacted* copy of their results, and the experiment results the run produced. ``RunJournal``
collects in memory; ``document()`` builds the JSON document (see ``meta/schemas/journal.schema.json``);
``write_atomic`` writes it through a temporary file in the same folder and a rename.

Standard library only, so that the unit tests need no Ansible.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import tempfile
import time

from ._redact import redact, redact_text

SCHEMA_VERSION = 1
COLLECTION = "sutazai.chaos"
JOURNAL_PREFIX = "journal-"

# How much of one task's result is kept: strings, list items and mapping keys per level, nesting levels, and
# the whole result as JSON. Past the total the result is bounded again more tightly, then summarised.
STRING_LIMIT = 2000
ITEM_LIMIT = 50
DEPTH_LIMIT = 8
TASK_RESULT_LIMIT = 20000
TIGHTER_LIMITS = ((500, 10, 4), (100, 5, 3))

CENSORED = {"censored": "no_log"}
STATUSES = ("ok", "changed", "failed", "skipped", "unreachable")
CENSORED_BY_ANSIBLE = "the output has been hidden due to the fact that 'no_log: true' was specified"


def new_run_id(now=None, token=None):
    """``20261201T061500Z-3f9a1c``: the UTC start second and 6 random hex digits (two runs in a second differ)."""
    stamp = datetime.datetime.fromtimestamp(time.time() if now is None else now, datetime.timezone.utc)
    return "%s-%s" % (stamp.strftime("%Y%m%dT%H%M%SZ"), token or secrets.token_hex(3))


def iso(epoch):
    """An epoch as ISO 8601 in UTC with milliseconds: ``2026-12-01T06:15:00.123Z`` (None stays None); the same
    millisecond as ``round(epoch, 3)``."""
    if epoch is None:
        return None
    millis = int(round(epoch * 1000))
    stamp = datetime.datetime.fromtimestamp(millis // 1000, datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (millis % 1000)


def is_collection_task(action, role):
    """A task of the collection: its action is ``sutazai.chaos.*`` or it runs in a role ``sutazai.chaos.*``."""
    prefix = COLLECTION + "."
    return str(action or "").startswith(prefix) or str(role or "").startswith(prefix)


class _Bounder:
    """Copies a value within limits and remembers whether anything was cut."""

    def __init__(self, strings, items, depth):
        self.strings, self.items, self.depth = strings, items, depth
        self.cut = False

    def copy(self, value, level=0):
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            if len(value) <= self.strings:
                return value
            self.cut = True
            return "%s...[%d more characters]" % (value[:self.strings], len(value) - self.strings)
        if isinstance(value, dict):
            return self._mapping(value, level)
        if isinstance(value, (list, tuple, set, frozenset)):
            return self._sequence(list(value) if not isinstance(value, (set, frozenset)) else sorted(value, key=str),
                                  level)
        return self.copy(str(value), level)

    def _mapping(self, value, level):
        kept = [(str(k), v) for k, v in value.items() if not str(k).startswith("_ansible_")]
        if level >= self.depth:
            self.cut = True
            return "[a mapping of %d keys, deeper than the journal keeps]" % len(kept)
        out = {key: self.copy(item, level + 1) for key, item in kept[:self.items]}
        if len(kept) > self.items:
            self.cut = True
            out["..."] = "[%d more keys]" % (len(kept) - self.items)
        return out

    def _sequence(self, value, level):
        if level >= self.depth:
            self.cut = True
            return "[a list of %d items, deeper than the journal keeps]" % len(value)
        out = [self.copy(item, level + 1) for item in value[:self.items]]
        if len(value) > self.items:
            self.cut = True
            out.append("[%d more items]" % (len(value) - self.items))
        return out


def bound(value, strings=STRING_LIMIT, items=ITEM_LIMIT, depth=DEPTH_LIMIT):
    """``(copy, cut)``: ``value`` with strings, lists, mappings and nesting within the limits (``_ansible_*``
    keys dropped, sets and tuples as lists, other objects as text) and whether anything was left out."""
    bounder = _Bounder(strings, items, depth)
    copy = bounder.copy(value)
    return copy, bounder.cut


def _json_size(value):
    return len(json.dumps(value, default=str, separators=(",", ":")))


def task_result(result, no_log=False, limit=TASK_RESULT_LIMIT):
    """``(what the journal keeps of one task's result, whether it was cut)``.

    A ``no_log`` task keeps only ``CENSORED``; any other result is redacted first (secret-looking keys, header
    values, URL passwords, tokens), then bounded; when its JSON is still over ``limit`` characters it is bounded
    more tightly, and at last replaced by a note naming its top-level keys."""
    if no_log or is_censored(result):
        return dict(CENSORED), False
    safe = redact(result)
    copy, cut = bound(safe)
    for strings, items, depth in TIGHTER_LIMITS:
        if _json_size(copy) <= limit:
            return copy, cut
        copy, cut = bound(safe, strings, items, depth)
    if _json_size(copy) <= limit:
        return copy, True
    keys = sorted(str(k) for k in safe) if isinstance(safe, dict) else []
    return {"omitted": "result of %d characters, over the journal's limit of %d" % (_json_size(safe), limit),
            "keys": bound(keys, 100, ITEM_LIMIT, 1)[0]}, True


def is_censored(result):
    """Whether Ansible already hid this result (``no_log`` on the task or in the module's own result)."""
    return isinstance(result, dict) and (result.get("_ansible_no_log") is True
                                         or str(result.get("censored", "")).startswith(CENSORED_BY_ANSIBLE))


def task_status(event, result=None):
    """The journal's status of a finished task from the callback event (ok, failed, skipped, unreachable)."""
    if event == "ok":
        return "changed" if isinstance(result, dict) and result.get("changed") is True else "ok"
    if event not in STATUSES:
        raise ValueError("unknown task event %r" % (event,))
    return event


def run_status(stats, finished):
    """``interrupted`` when the run did not reach its recap, ``failed`` when a host failed or was unreachable."""
    if not finished:
        return "interrupted"
    if any(counts.get("failures") or counts.get("unreachable") for counts in (stats or {}).values()):
        return "failed"
    return "ok"


class RunJournal:
    """What one playbook run did, collected in memory as the callback reports it."""

    def __init__(self, started_at=None, run_id=None):
        self.started_at = time.time() if started_at is None else started_at
        self.run_id = run_id or new_run_id(self.started_at)
        self.playbook = None
        self.inventory_hosts = []
        self.check_mode = False
        self.tasks = []
        self.result_dirs = []
        self._running = {}      # (host, task uuid) -> (started at, name, action, role) of the collection's tasks
        self._experiments = {}  # (host, experiment id) -> the last result set

    @property
    def has_collection_tasks(self):
        """Whether any task of the collection ran (or was running when the run was interrupted)."""
        return bool(self.tasks or self._running)

    def task_started(self, host, task_uuid, *, name, action, role, at=None):
        """A task started on a host: remembered when it is one of the collection's."""
        if is_collection_task(action, role):
            self._running[(host, task_uuid)] = (time.time() if at is None else at, name, action, role)

    def task_ended(self, host, task_uuid, event, *, name, action, role, result, no_log=False, ignored=False,
                   at=None):
        """A task ended on a host with ``event`` (ok, failed, skipped, unreachable): kept when it is one of the
        collection's; experiment results it set as a fact and the folder of the result file it wrote are noted.
        Returns the journal's record, or None."""
        ended = time.time() if at is None else at
        started = self._running.pop((host, task_uuid), (ended,))[0]
        if not is_collection_task(action, role):
            return None
        no_log = no_log or is_censored(result)
        kept, cut = task_result(result, no_log)
        record = self._record(host, name, action, role, task_status(event, result), started, ended, kept)
        if ignored:
            record["ignored"] = True
        if cut:
            record["result_cut"] = True
        self.tasks.append(record)
        if event == "ok" and not no_log and isinstance(result, dict):
            self._note_facts(host, result.get("ansible_facts"))
            self._note_result_dir(name, action, result)
        return record

    @staticmethod
    def _record(host, name, action, role, status, started, ended, result):
        return {
            "host": host, "task": redact_text(str(name or action or "")), "action": action or None,
            "role": role or None, "status": status,
            "started_at": round(started, 3), "ended_at": round(ended, 3), "duration": round(ended - started, 3),
            "result": result,
        }

    def interrupt(self, at=None):
        """The tasks of the collection still running when the run was interrupted, recorded as ``interrupted``."""
        ended = time.time() if at is None else at
        for (host, _uuid), (started, name, action, role) in list(self._running.items()):
            self.tasks.append(self._record(host, name, action, role, "interrupted", started, ended, {}))
        self._running.clear()

    def _note_facts(self, host, facts):
        experiment = (facts or {}).get("experiment_result") if isinstance(facts, dict) else None
        if isinstance(experiment, dict) and experiment.get("experiment_id"):
            key = (host, str(experiment["experiment_id"]))
            self._experiments.pop(key, None)  # the last one counts, in the order results were last set
            self._experiments[key] = redact(experiment)

    def _note_result_dir(self, name, action, result):
        """The folder of the lifecycle's result file (``result_file`` of sutazai.chaos.chaos_report), in order."""
        if str(action or "").endswith("chaos_report") and isinstance(result, dict) and result.get("result_file"):
            folder = os.path.dirname(str(result["result_file"]))
            if folder and folder not in self.result_dirs:
                self.result_dirs.append(folder)

    @property
    def experiments(self):
        return [{"host": host, "experiment_id": experiment_id, "result": result}
                for (host, experiment_id), result in self._experiments.items()]

    def document(self, ended_at=None, stats=None, finished=True, versions=None):
        """The journal as a JSON-ready dict (schema ``meta/schemas/journal.schema.json``, version 1)."""
        ended_at = time.time() if ended_at is None else ended_at
        doc = {
            "schema_version": SCHEMA_VERSION,
            "run_id": self.run_id,
            "playbook": self.playbook,
            "inventory_hosts": sorted(self.inventory_hosts),
            "check_mode": bool(self.check_mode),
            "started_at": round(self.started_at, 3), "started_at_iso": iso(self.started_at),
            "ended_at": round(ended_at, 3), "ended_at_iso": iso(ended_at),
            "duration": round(ended_at - self.started_at, 3),
            "status": run_status(stats, finished),
        }
        doc.update({key: value for key, value in (versions or {}).items() if value})
        doc["stats"] = {host: dict(counts) for host, counts in sorted((stats or {}).items())}
        doc["tasks"] = list(self.tasks)
        doc["experiments"] = self.experiments
        return doc


def journal_dir(option=None, result_dirs=(), report_dir=None, playbook=None, cwd=None):
    """Where the journal goes: the ``dir`` option; else the folder of the run's first result file; else the
    ``chaos_report_dir`` the run was given (where results would have gone); else ``<playbook dir>/../results``."""
    for candidate in (option, (list(result_dirs) or [None])[0], report_dir):
        if candidate:
            return os.path.abspath(os.path.expanduser(str(candidate)))
    base = os.path.dirname(os.path.abspath(playbook)) if playbook else (cwd or os.getcwd())
    return os.path.normpath(os.path.join(base, os.pardir, "results"))


def journal_name(run_id):
    return "%s%s.json" % (JOURNAL_PREFIX, run_id)


def write_atomic(folder, name, document, encrypt=None):
    """Write ``document`` as ``folder/name`` through a temporary file in ``folder`` and a rename, creating
    ``folder`` if needed; returns the path. With ``encrypt`` (text -> bytes, an Ansible Vault), the file holds
    its output, mode 0600; else the JSON itself, mode 0644. Raises ``OSError`` when the folder cannot be
    written, with nothing left behind."""
    text = json.dumps(document, indent=1, sort_keys=False, default=str) + "\n"
    data = encrypt(text) if encrypt else text.encode("utf-8")
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix="." + JOURNAL_PREFIX, suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o600 if encrypt else 0o644)
        path = os.path.join(folder, name)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path
