# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What every fault module shares: lifetime options and the inject transaction.

A fault is recorded in the ledger (with its undo and deadline) *before* it is
applied, and the reaper is started at once, so that a module killed halfway
still leaves an entry that expires. When applying one of several faults fails,
the ones already applied are undone before the error is raised.
"""

from __future__ import annotations

from ._common import ADHOC_PREFIX, NOTHING_CHANGED, ChaosError
import os
import time

from ._ledger import (DEFAULT_STATE_DIR, Ledger, LedgerError, ensure_reaper, execute_undo, new_entry, revert_entries,
                      update_entry)

LEDGER_ARG_SPEC = dict(
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
    experiment_id=dict(type="str"),
)

FAULT_LIFETIME_ARG_SPEC = dict(
    duration=dict(type="float"),
    max_duration=dict(type="float", default=3600.0),
)


class FaultTransaction:
    """Apply faults one by one; ``rollback()`` undoes every one applied so far."""

    def __init__(self, state_dir, experiment_id, run_argv=None, explicit_experiment=True):
        self.ledger = Ledger(state_dir)
        self.experiment_id = experiment_id
        # False when the id was made up for this call: then an identical fault held by another id is the
        # same ad-hoc fault run again (idempotent), not a second experiment.
        self.explicit_experiment = explicit_experiment
        self.run_argv = run_argv
        self.applied = []
        self.reaper_started = False

    def refuse_if_stopped(self):
        if self.ledger.stop_flag_set():
            raise ChaosError(
                "the emergency-stop flag is set on this host (%s/emergency-stop): no fault may be injected "
                "until it is cleared (playbooks/resume-chaos.yml). %s" % (self.ledger.state_dir, NOTHING_CHANGED)
            )

    def active_entries(self, kind):
        """Target id -> the active entry of this kind on it (any experiment)."""
        return {e["target"]["id"]: e for e in self.ledger.entries() if e.get("kind") == kind}

    def check_conflict(self, held, same_spec):
        """Refuse a fault of a kind that another experiment already holds on this target.

        Faults of different kinds on one target may be combined (a pause and a CPU stress, network loss and a
        disk fill); the same kind twice may not: its undo would be ambiguous.
        """
        if held is None or held.get("experiment_id") == self.experiment_id:
            return
        if not self.explicit_experiment and (same_spec or str(held.get("experiment_id")).startswith(ADHOC_PREFIX)):
            # Tasks without experiment_id are one owner: re-running one is idempotent, changing one replaces it.
            return
        until = held.get("deadline")
        raise ChaosError(
            "%s on %s is already held by experiment %s (%s); two experiments may not hold the same kind of fault "
            "on one target. Wait for it to end, or undo it with chaos_rollback experiment_id=%s. %s"
            % (held.get("kind"), (held.get("target") or {}).get("name"), held.get("experiment_id"),
               "until %s" % time.strftime("%H:%M:%S", time.localtime(until)) if until else "no deadline",
               held.get("experiment_id"), NOTHING_CHANGED))

    def apply(self, kind, target, spec, undo, duration, action):
        """Record, then run ``action()``; on failure run the undo of this entry and re-raise."""
        return self.apply_many([(kind, target, spec, undo, duration, action)])[0]

    def apply_many(self, faults):
        """Apply several faults ``(kind, target, spec, undo, duration, action)``; returns ``[(entry, result)]``.

        All entries are recorded in one ledger write before the first action runs, and marked applied in one
        write after the last, so N targets cost two ledger writes instead of 2N (each write rewrites the whole
        ledger, which made one call over many targets quadratic). Each fault's duration counts from the moment
        its own action returned. When an action fails, its undo runs, the faults not yet tried are marked
        ``not_applied`` (they never were), the ones applied stay in ``self.applied`` for ``rollback()``, and
        the error is raised.
        """
        if not faults:
            return []
        entries = [new_entry(self.experiment_id, kind, target, spec, undo, duration)
                   for kind, target, spec, undo, duration, _action in faults]
        with self.ledger.locked() as recorded:
            recorded.extend(entries)
        if any(fault[4] for fault in faults) and not self.reaper_started:
            self.reaper_started = ensure_reaper(self.ledger.state_dir) or True
        done = []
        try:
            for entry, fault in zip(entries, faults):
                result = fault[5]()
                done.append((entry, result, entry["deadline"] and time.time() + fault[4]))
        except Exception:
            failed = entries[len(done)]
            revert_entries(self.ledger, lambda e: e["id"] == failed["id"], "inject-failed", self.run_argv)
            _drop_entries(self.ledger, {e["id"] for e in entries[len(done) + 1:]})
            self._mark_applied(done)
            raise
        return self._mark_applied(done)

    def _mark_applied(self, done):
        """One ledger write: these faults are in place, with their deadlines; audit and remember them."""
        deadlines = {entry["id"]: deadline for entry, _result, deadline in done}
        marked = {}
        if deadlines:
            with self.ledger.locked() as entries:
                for entry in entries:
                    if entry["id"] in deadlines:
                        entry["applying"] = False
                        if deadlines[entry["id"]]:
                            entry["deadline"] = deadlines[entry["id"]]
                        marked[entry["id"]] = dict(entry)
        applied = []
        for entry, result, _deadline in done:
            entry = marked.get(entry["id"], entry)
            self.ledger.audit("inject", entry, deadline=entry["deadline"])
            self.applied.append(entry)
            applied.append((entry, result))
        return applied

    def claim(self, entry):
        """Keep the reaper off an entry this module is about to replace (until ``retire``)."""
        update_entry(self.ledger, entry["id"], applying=True, owner_pid=os.getpid())

    def retire(self, entry, parts):
        """A replaced entry: run the undo steps of the given parts only, then mark it replaced."""
        steps = [s for s in entry.get("undo", []) if s.get("part") in parts]
        outcome = execute_undo(dict(entry, undo=steps), self.run_argv)
        update_entry(self.ledger, entry["id"], state="replaced", applying=False, reverted_at=time.time(),
                     reverted_by="replaced", outcome=outcome)
        self.ledger.audit("replace", entry, outcome=outcome)

    def revert_where(self, select, check_mode=False):
        """Undo (or, in check mode, list) active entries chosen by ``select``; ChaosError if any undo failed."""
        reverted, failed = revert_matching(self.ledger.state_dir, select, self.run_argv, check_mode)
        if failed:
            raise ChaosError("could not undo %s: %s (the entries stay active; the reaper retries at their deadline)"
                             % (", ".join(_describe(e) for e in failed), failed[0].get("last_error")))
        return reverted

    def record_irreversible(self, kind, target, spec):
        """Audit a fault that has no undo (a kill: the restart policy is the recovery)."""
        self.ledger.audit("inject", {"experiment_id": self.experiment_id, "kind": kind, "target": target,
                                     "spec": spec}, reversible=False)

    def rollback_after(self, message):
        """Roll back, and return the error for a failure midway: ``message`` without its "Nothing was changed"
        (no longer true once a target was hit) and the sentence that says what was undone."""
        return "%s %s" % (message.replace(NOTHING_CHANGED, "").strip(), self.rollback())

    def rollback(self):
        """Undo what this transaction applied; returns a sentence for the error message."""
        if not self.applied:
            return NOTHING_CHANGED
        ids = {e["id"] for e in self.applied}
        try:
            reverted, failed = revert_entries(self.ledger, lambda e: e["id"] in ids, "module-rollback",
                                              self.run_argv)
        except LedgerError as exc:
            return "Rolling back what was applied failed (%s); the reaper retries at each deadline." % exc.msg
        text = "Undone: %s." % (", ".join(_describe(e) for e in reverted) or "nothing")
        if failed:
            text += " NOT undone (the reaper retries): %s." % ", ".join(_describe(e) for e in failed)
        return text


def _drop_entries(ledger, ids):
    """Entries recorded but never applied (a batch stopped before reaching them) end as ``not_applied``.

    They stay in the file, no longer active: an active entry that vanished from the file would look lost to a
    running reaper, which puts such entries back.
    """
    if ids:
        with ledger.locked() as entries:
            for entry in entries:
                if entry["id"] in ids:
                    entry.update(state="not_applied", applying=False, reverted_at=time.time(),
                                 reverted_by="never-applied")


def _describe(entry):
    return "%s on %s" % (entry["kind"], (entry.get("target") or {}).get("name", "?"))


def revert_matching(state_dir, select, run_argv=None, check_mode=False):
    """Revert (or, in check mode, list) active entries chosen by ``select``; returns (reverted, failed)."""
    ledger = Ledger(state_dir)
    if check_mode:
        return [e for e in ledger.entries() if select(e)], []
    return revert_entries(ledger, select, "rollback", run_argv)
