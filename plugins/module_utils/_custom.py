# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Custom faults: a user's own inject, undo and check commands, on the host or inside containers.

The contract, enforced here and by the reaper (``_undo_app``):

* every command is an argv list (no shell), its program an absolute path (on the host a bare name is looked up
  now and recorded as its absolute path; inside a container it must be absolute already);
* the undo is written to the ledger (a ``custom`` step) *before* the inject runs, so the reaper runs it at the
  deadline even when the controller dies; ``state=absent``, ``chaos_rollback`` and the emergency stop run it too;
* the undo must be idempotent: it may run after a partial inject, after the fault went away by itself, or twice;
* a failed inject, or a check that does not confirm the fault, runs the undo at once and fails the task;
* a failed undo stays active and is retried (``_ledger.UNDO_RETRY_SECONDS``) until it has failed
  ``UNDO_MAX_ATTEMPTS`` times; then the entry is ``failed`` and ``chaos_ledger_info`` shows it with its last error.

Inject, check and undo go through one code path: ``_undo_app.custom_argv`` (``nsenter`` into the container's
current namespaces) under ``_undo_app.bounded_argv`` (coreutils' ``timeout``).
"""

from __future__ import annotations

import hashlib
import json
import os
import time

from ._common import NOTHING_CHANGED, ChaosError
from ._redact import redact_argv, redact_text
from ._undo import LedgerError, UndoRefused, resolve_program
from ._undo_app import (CUSTOM_KIND, CUSTOM_TIMEOUT_RANGE, CUSTOM_UNDO_TIMEOUT_MAX, TIMED_OUT_RC, bounded_argv,
                        check_custom_argv, custom_argv)

WHERE = ("host", "container")
HOST_TARGET = {"id": "host", "name": "host"}
OUTPUT_TAIL = 500


def as_argv(value, what, required=False):
    """The user's command as a list of strings; ChaosError (nothing changed) for anything else."""
    if value is None:
        if required:
            raise ChaosError("%s is required: a custom fault %s. %s" % (
                what, "needs an undo command, or nothing could ever take it away" if what == "undo"
                else "needs an inject command", NOTHING_CHANGED))
        return None
    if isinstance(value, str):
        raise ChaosError("%s must be a list (argv: the program, then each argument as its own item; no shell), not "
                         "the string %r; for example [/bin/rm, -f, /tmp/fault-flag]. %s"
                         % (what, value, NOTHING_CHANGED))
    if not isinstance(value, list) or not value:
        raise ChaosError("%s must be a non-empty list of strings (argv), got %r. %s" % (what, value, NOTHING_CHANGED))
    argv = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise ChaosError("%s[%d] is %r, not a string (each argument is one string). %s"
                             % (what, index, item, NOTHING_CHANGED))
        argv.append(item if isinstance(item, str) else str(item))
    if any(ch.isspace() for ch in argv[0]):
        raise ChaosError("%s's program %r contains a space: give the program and each argument as separate list "
                         "items (no shell parses them). %s" % (what, argv[0], NOTHING_CHANGED))
    return argv


def resolve_command(argv, what, where, find_program):
    """``argv`` with an absolute program path that the reaper will accept, or ChaosError (nothing changed).

    ``find_program(name)`` looks a bare name up on the host (``module.get_bin_path``; None when missing).
    """
    program = argv[0]
    if where == "host":
        if not os.path.isabs(program):
            found = find_program(program)
            if not found:
                raise ChaosError("%s's program %r was not found on the host (give its absolute path). %s"
                                 % (what, program, NOTHING_CHANGED))
            program = found
        program = os.path.normpath(program)
        try:
            resolve_program(program)
        except LedgerError as exc:
            raise ChaosError("%s's program %s cannot be run by the reaper: it must be an executable file owned by "
                             "root (or by this user) and writable by nobody else (%s). %s"
                             % (what, program, exc.msg, NOTHING_CHANGED))
    elif not os.path.isabs(program):
        raise ChaosError("%s's program %r must be an absolute path inside the container with where=container (for "
                         "example /usr/bin/touch): nothing there is looked up. %s" % (what, program, NOTHING_CHANGED))
    argv = [program] + argv[1:]
    try:
        check_custom_argv(argv, what)
    except UndoRefused as exc:
        raise ChaosError("%s. %s" % (exc.msg, NOTHING_CHANGED))
    return argv


def shown_argv(argv):
    """An argv safe to show (``_redact.redact_argv``), or None when there is none."""
    return None if argv is None else redact_argv(argv)


def _tail(out, err):
    text = (err or "").strip() or (out or "").strip()
    return text[-OUTPUT_TAIL:] or "no output"


class CustomFault:
    """Plan, inject and remove one custom fault (one ledger entry per target)."""

    def __init__(self, params, txn, check_mode, run_argv, find_program):
        self.params = params
        self.txn = txn
        self.check_mode = check_mode
        self.run_argv = run_argv
        self.where = params["where"]
        if self.where not in WHERE:
            raise ChaosError("where must be host or container, got %r. %s" % (self.where, NOTHING_CHANGED))
        present = params["state"] == "present"
        raw = {what: as_argv(params.get(what), what, required=present and what != "check")
               for what in ("inject", "undo", "check")}
        self.commands = {what: resolve_command(argv, what, self.where, find_program) if argv else None
                         for what, argv in raw.items()}
        self.timeout = float(params.get("command_timeout") or 0)
        if present and not CUSTOM_TIMEOUT_RANGE[0] <= self.timeout <= CUSTOM_TIMEOUT_RANGE[1]:
            raise ChaosError("command_timeout must be from %d to %d seconds, got %s. %s"
                             % (CUSTOM_TIMEOUT_RANGE + (params.get("command_timeout"), NOTHING_CHANGED)))
        inject = self.commands["inject"]
        self.label = params.get("name") or (os.path.basename(inject[0]) if inject else None)

    # ------------------------------------------------------------ what is recorded

    def spec(self):
        """What the ledger, the audit journal and the results show: the commands redacted, plus a fingerprint."""
        commands = json.dumps([self.where, self.commands["inject"], self.commands["undo"], self.commands["check"]])
        return {"name": self.label, "where": self.where, "inject": shown_argv(self.commands["inject"]),
                "undo": shown_argv(self.commands["undo"]), "check": shown_argv(self.commands["check"]),
                "commands_sha256": hashlib.sha256(commands.encode("utf-8")).hexdigest()}

    def _step(self, target, argv):
        step = {"type": "custom", "argv": argv, "where": self.where}
        if self.where == "container":
            from ._docker import tls_settings  # only container faults talk to the engine

            step.update(container=target["id"], docker_host=self.params["docker_host"],
                        tls=tls_settings(self.params))
        return step

    def _run(self, what, target):
        """Run the inject or check command for ``target`` (bounded); returns (rc, out, err)."""
        argv = custom_argv(self._step(target, self.commands[what]))
        if argv is None:
            raise ChaosError("container %s is not running: the %s command cannot enter it"
                             % (target["name"], what))
        rc, out, err = self.run_argv(bounded_argv(argv, self.timeout))
        if rc == TIMED_OUT_RC:
            err = "timed out after %g s (command_timeout). %s" % (self.timeout, err or "")
        return rc, out, err

    def _action(self, target, result):
        def inject_then_check():
            result["injected_at"] = time.time()
            rc, out, err = self._run("inject", target)
            if rc != 0:
                raise ChaosError("the inject command %s on %s failed (rc %s): %s"
                                 % (" ".join(shown_argv(self.commands["inject"])), target["name"], rc,
                                    redact_text(_tail(out, err))))
            if self.commands["check"]:
                rc, out, err = self._run("check", target)
                result["check_rc"] = rc
                if rc != 0:
                    raise ChaosError("the check command %s on %s did not confirm the fault (rc %s): %s"
                                     % (" ".join(shown_argv(self.commands["check"])), target["name"], rc,
                                        redact_text(_tail(out, err))))
        return inject_then_check

    # ------------------------------------------------------------ present / absent

    def _held(self, target):
        """The active custom fault with this label on ``target`` (any experiment), or None."""
        for entry in self.txn.ledger.entries():
            if entry.get("kind") == CUSTOM_KIND and entry["target"]["id"] == target["id"] and \
                    (entry.get("spec") or {}).get("name") == self.label:
                return entry
        return None

    def inject(self, targets):
        spec = self.spec()
        results = []
        for target in targets:
            result = {"name": target["name"], "target": target["name"], "service": target.get("service"),
                      "fault": self.label, "where": self.where, "inject": spec["inject"], "undo": spec["undo"],
                      "check": spec["check"], "check_rc": None, "changed": True, "replaced": None}
            held = self._held(target)
            same = held is not None and held["spec"].get("commands_sha256") == spec["commands_sha256"]
            self.txn.check_conflict(held, same_spec=same)
            if same:
                result.update(changed=False, note="this custom fault is already active", entry_id=held["id"],
                              deadline=held.get("deadline"), injected_at=held.get("created"))
                results.append(result)
                continue
            if held is not None:
                result["replaced"] = held["spec"]
            if not self.check_mode:
                if held is not None:
                    self.txn.revert_where(lambda e, entry_id=held["id"]: e["id"] == entry_id)
                results.append(result)  # the failure message lists what was done so far
                self._apply(target, spec, result)
                continue
            results.append(result)
        return results

    def _apply(self, target, spec, result):
        step = self._step(target, self.commands["undo"])
        step["timeout"] = min(self.timeout, CUSTOM_UNDO_TIMEOUT_MAX)
        if custom_argv(step) is None:  # asked again at inject time; this only spares a useless entry
            raise ChaosError("container %s is not running (or gone) since it was selected: nothing was injected "
                             "into it. %s" % (target["name"], "" if self.txn.applied else NOTHING_CHANGED))
        since = time.time()
        try:
            entry, _ignored = self.txn.apply(CUSTOM_KIND, target, spec, [step], self.params["duration"],
                                             self._action(target, result))
        except (ChaosError, LedgerError, OSError) as exc:
            message = getattr(exc, "msg", None) or str(exc)
            raise ChaosError("%s. %s" % (message.rstrip(". "), self._undo_outcome(target, since)))
        result.update(entry_id=entry["id"], deadline=entry["deadline"])

    def _undo_outcome(self, target, since):
        """What became of the undo that ``FaultTransaction.apply`` ran after a failed inject or check."""
        for entry in reversed(self.txn.ledger.entries(active_only=False)):
            if entry.get("kind") == CUSTOM_KIND and entry["target"]["id"] == target["id"] and \
                    entry.get("created", 0) >= since:
                if entry.get("state") == "reverted":
                    return "The undo command ran at once (%s)." % "; ".join(entry.get("outcome") or [])
                return ("The undo command failed too (%s): the entry stays in the ledger and the reaper retries it."
                        % entry.get("last_error"))
        return "No ledger entry was written, so nothing ran."

    def remove(self, targets):
        """Undo the active custom faults on ``targets`` (only those with O(name), of O(experiment_id), if given)."""
        ids = {t["id"] for t in targets}
        label, experiment = self.params.get("name"), self.params.get("experiment_id")
        return self.txn.revert_where(
            lambda e: e.get("kind") == CUSTOM_KIND and e["target"]["id"] in ids
            and (label is None or (e.get("spec") or {}).get("name") == label)
            and (experiment is None or e.get("experiment_id") == experiment),
            check_mode=self.check_mode)
