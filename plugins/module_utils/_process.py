# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Process faults inside containers: kill (any signal), stop (SIGSTOP, resumed at the deadline), restart-by-kill.

Containers come from the shared selector (``_targets``); every one of them is searched, and ``select`` and
``max_targets`` then count the matching *processes*. A stop is a ledger entry (undo: ``resume_process``)
written before the SIGSTOP, so the reaper resumes the process at the deadline even when the controller dies.
A kill cannot be undone: it is only audited.
"""

from __future__ import annotations

import fnmatch
import re
import signal
import time
from urllib.parse import urlsplit

from ._common import NOTHING_CHANGED, ChaosError
from ._container import parse_signal
from ._docker import list_containers
from ._fault import FaultTransaction
from ._procfs import (STOPPED_STATES, ProcessGone, container_processes, current_state, in_cgroup_of,
                      send_signal, state_word)
from ._redact import redact_argv
from ._targets import pick, select_targets, service_of

KIND = "process_chaos"
# Signals that would leave a process stopped with no undo: that is what action=stop (with its resume) is for.
STOPPING_SIGNALS = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)
AFTER_SIGNAL_WAIT_SECONDS = 2.0
POLL_SECONDS = 0.05


def compile_matcher(process):
    """``process`` ({name, pattern}) -> a function ``matches(info)``; ChaosError for a bad or empty one."""
    process = process or {}
    name, pattern = process.get("name"), process.get("pattern")
    if not name and not pattern:
        raise ChaosError("process needs a name (the command name, exact or a glob) or a pattern (a regular "
                         "expression searched in the command line), or both. %s" % NOTHING_CHANGED)
    regex = None
    if pattern:
        try:
            regex = re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ChaosError("process.pattern %r is not a valid regular expression: %s. %s"
                             % (pattern, exc, NOTHING_CHANGED))

    def matches(info):
        if name:
            program = info["cmdline"][0].rsplit("/", 1)[-1] if info["cmdline"] else ""
            if not (fnmatch.fnmatchcase(info["comm"], name) or (program and fnmatch.fnmatchcase(program, name))):
                return False
        return regex is None or regex.search(" ".join(info["cmdline"])) is not None
    return matches


def check_select(select):
    mode, value = select.get("mode") or "all", select.get("value")
    if mode == "count" and (value is None or value < 1 or value != int(value)):
        raise ChaosError("select.value must be a whole number of at least 1 for mode count, got %s. %s"
                         % (value, NOTHING_CHANGED))
    if mode == "percent" and (value is None or not 0 <= value <= 100):
        raise ChaosError("select.value must be a percentage between 0 and 100 for mode percent, got %s. %s"
                         % (value, NOTHING_CHANGED))


def resolve_signal(action, value):
    """The signal an action sends: SIGSTOP for stop, else ``value`` (default SIGKILL), never a stopping one."""
    if action == "stop":
        if value is not None and parse_signal(value) != signal.SIGSTOP:
            raise ChaosError("action=stop always sends SIGSTOP (and SIGCONT at the deadline); signal=%s applies to "
                             "kill and restart. %s" % (value, NOTHING_CHANGED))
        return signal.SIGSTOP
    signum = parse_signal(value if value is not None else "SIGKILL")
    if signum in STOPPING_SIGNALS:
        raise ChaosError("signal %s would leave the process stopped with no undo; use action=stop with a duration "
                         "(it is resumed at the deadline). %s" % (signum.name, NOTHING_CHANGED))
    return signum


def _wait(predicate, seconds):
    end = time.monotonic() + seconds
    value = predicate()
    while not value and time.monotonic() < end:
        time.sleep(POLL_SECONDS)
        value = predicate()
    return value


def _state_once(proc, container_id, wanted, seconds):
    """The process's state as soon as it is one of ``wanted``, or whatever it is after ``seconds``."""
    seen = []

    def settled():
        seen[:] = [current_state(proc, container_id)]
        return seen[0] in wanted
    _wait(settled, seconds)
    return seen[0]


class ProcessChaos:
    def __init__(self, client, params, check_mode=False, run_argv=None):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.action = params["action"]
        self.txn = FaultTransaction(params["state_dir"], params["experiment_id"], run_argv,
                                    params.get("experiment_id_given", True))

    # ------------------------------------------------------------ choosing

    def _containers(self, present):
        if urlsplit(self.params["docker_host"]).scheme != "unix":
            raise ChaosError("process_chaos reads the containers' processes from /proc, so it must run on the Docker "
                             "host (docker_host unix://...), not against %s. %s"
                             % (self.params["docker_host"], NOTHING_CHANGED))
        params = dict(self.params, select={"mode": "all"}, max_targets=None)
        if not present:
            params["allow_empty"] = True
        return select_targets(list_containers(self.client), params, states=["running"] if present else None,
                              check_protection=present)

    def _candidates(self, containers, matches, held, report):
        candidates = []
        for container in containers:
            main_pid = container.get("pid") or 0
            if main_pid <= 0 or not in_cgroup_of(main_pid, container["id"]):
                raise ChaosError("the processes of %s (main PID %s) are not visible from this host: run the module on "
                                 "the Docker host itself. %s" % (container["name"], main_pid, NOTHING_CHANGED))
            for info in container_processes(container["id"]):
                if not matches(info):
                    continue
                key = (container["id"], info["pid"], info["start_ticks"])
                label = "%s: %d %s" % (container["name"], info["pid"], info["comm"])
                if info["pid"] == main_pid and not self.params["allow_pid1"]:
                    report["pid1_skipped"].append(label)
                elif self.action == "stop" and info["state"] in STOPPED_STATES and key not in held:
                    report["already_stopped"].append(label)
                else:
                    candidates.append(dict(info, container=container, is_main=info["pid"] == main_pid,
                                           name=container["name"], id="%s/%010d" % (container["id"], info["pid"])))
        return candidates

    def _select(self, matches, held):
        containers, report = self._containers(present=True)
        report.update(pid1_skipped=[], already_stopped=[])
        candidates = self._candidates(containers, matches, held, report)
        report["processes_matched"] = len(candidates) + len(report["pid1_skipped"]) + len(report["already_stopped"])
        chosen = pick(candidates, self.params["select"] or {})
        if not candidates and report["pid1_skipped"] and not report["already_stopped"] and \
                not self.params["allow_empty"]:
            raise ChaosError("only the main process (PID 1 of the container) matched: %s. Killing or stopping it is "
                             "container_chaos's job (the restart policy applies); set allow_pid1=true to hit it here "
                             "anyway. %s" % ("; ".join(report["pid1_skipped"]), NOTHING_CHANGED))
        if not chosen and not self.params["allow_empty"]:
            raise ChaosError("no process in %s matches %s (main processes skipped: %s; already stopped: %s). Set "
                             "allow_empty=true to accept that. %s"
                             % (", ".join(c["name"] for c in containers) or "no container",
                                self._describe_match(), report["pid1_skipped"] or "none",
                                report["already_stopped"] or "none", NOTHING_CHANGED))
        cap = self.params.get("max_targets")
        if cap is not None and len(chosen) > cap:
            raise ChaosError("the selection has %d processes, above max_targets %d (blast-radius limit). %s"
                             % (len(chosen), cap, NOTHING_CHANGED))
        return chosen, report

    def _describe_match(self):
        process = self.params.get("process") or {}
        return " and ".join("%s %r" % (k, process[k]) for k in ("name", "pattern") if process.get(k))

    # ------------------------------------------------------------ present

    def _held(self):
        """(container id, pid, start ticks) -> active stop entry of this kind (any experiment)."""
        held = {}
        for entry in self.txn.ledger.entries():
            if entry.get("kind") == KIND:
                for step in entry.get("undo") or []:
                    if step.get("type") == "resume_process":
                        held[(step.get("container"), step.get("pid"), step.get("start_ticks"))] = entry
        return held

    def present(self):
        matches = compile_matcher(self.params.get("process"))
        check_select(self.params["select"] or {})
        signum = resolve_signal(self.action, self.params.get("signal"))
        if not self.check_mode:
            self.txn.refuse_if_stopped()
        held = self._held() if self.action == "stop" else {}
        chosen, report = self._select(matches, held)
        for proc in chosen:  # before anything changes
            self.txn.check_conflict(held.get((proc["container"]["id"], proc["pid"], proc["start_ticks"])),
                                    same_spec=True)
        results = []
        try:
            for proc in chosen:
                key = (proc["container"]["id"], proc["pid"], proc["start_ticks"])
                results.append(self._hit(proc, signum, matches, key in held))
        except (ChaosError, OSError) as exc:
            message = exc.msg if isinstance(exc, ChaosError) else str(exc)
            killed = [r for r in results if r["changed"] and self.action != "stop"]
            undone = self.txn.rollback()
            if killed:
                undone = "%s Already %s (cannot be undone): %s." % (
                    undone if self.txn.applied else "", "killed" if self.action == "kill" else "restarted",
                    ", ".join("%s %d" % (r["name"], r["pid"]) for r in killed))
            raise ChaosError("%s failed on a process: %s. %s" % (self.action, message.replace(NOTHING_CHANGED, "")
                                                                 .strip(), undone.strip()), processes=results)
        return results, report

    def _result(self, proc, signum):
        container = proc["container"]
        return {
            "name": container["name"], "target": container["name"], "id": container["id"],
            "compose_service": container.get("compose_service"), "service": container["service"],
            "pid": proc["pid"], "ns_pid": proc["ns_pid"], "comm": proc["comm"],
            "cmdline": " ".join(redact_argv(proc["cmdline"])), "main_process": proc["is_main"],
            "action": self.action, "signal": signum.name, "state_before": state_word(proc["state"]),
        }

    def _hit(self, proc, signum, matches, already_held):
        result = self._result(proc, signum)
        container_id = proc["container"]["id"]
        if already_held:
            result.update(changed=False, state_after=state_word(proc["state"]),
                          note="already stopped by this collection")
            return result
        result["changed"] = True
        if self.check_mode:
            result["state_after"] = {"stop": "stopped", "kill": "gone", "restart": "gone, then replaced"}[self.action]
            return result
        target = {"id": container_id, "name": result["name"], "compose_service": result["compose_service"],
                  "service": result["service"], "pid": proc["pid"], "comm": proc["comm"]}
        spec = {"action": self.action, "signal": signum.name, "pid": proc["pid"], "ns_pid": proc["ns_pid"],
                "comm": proc["comm"], "cmdline": result["cmdline"]}
        if self.action == "stop":
            undo = [{"type": "resume_process", "pid": proc["pid"], "start_ticks": proc["start_ticks"],
                     "container": container_id}]
            result["injected_at"] = time.time()
            try:
                entry, _ignored = self.txn.apply(KIND, target, spec, undo, self.params["duration"],
                                                 lambda: send_signal(proc, container_id, signum))
            except ProcessGone:
                result.update(changed=False, state_after="gone", note="the process ended before it was stopped")
                result.pop("injected_at")
                return result
            result.update(entry_id=entry["id"], deadline=entry["deadline"])
            result["state_after"] = _state_once(proc, container_id, ("stopped", "gone"), 1.0)
            return result
        before = {p["pid"]: p["start_ticks"] for p in container_processes(container_id)}
        result["injected_at"] = time.time()
        try:
            send_signal(proc, container_id, signum)
        except ProcessGone:
            result.update(changed=False, state_after="gone", note="the process ended before it was signalled")
            result.pop("injected_at")
            return result
        self.txn.record_irreversible(KIND, target, spec)
        result["state_after"] = _state_once(proc, container_id, ("gone",), AFTER_SIGNAL_WAIT_SECONDS)
        if self.action == "restart":
            replacement = _wait(lambda: self._replacement(container_id, matches, before),
                                self.params["restart_wait"])
            result.update(restarted=bool(replacement), new_pid=replacement["pid"] if replacement else None,
                          restart_seconds=round(time.time() - result["injected_at"], 3) if replacement else None)
        return result

    @staticmethod
    def _replacement(container_id, matches, before):
        """A matching process of the container that was not there when the kill was sent."""
        for info in container_processes(container_id):
            if before.get(info["pid"]) != info["start_ticks"] and matches(info):
                return info
        return None

    # ------------------------------------------------------------ absent

    def absent(self):
        """Resume the processes this module stopped in the selected containers (idempotent)."""
        if self.action != "stop":
            raise ChaosError("action=%s cannot be undone; state=absent resumes what action=stop stopped. %s"
                             % (self.action, NOTHING_CHANGED))
        process = self.params.get("process") or {}
        matches = compile_matcher(process) if process.get("name") or process.get("pattern") else None
        containers, report = self._containers(present=False)
        ids = {c["id"] for c in containers}
        experiment = self.params.get("experiment_id")

        def ours(entry):
            spec = entry.get("spec") or {}
            recorded = {"comm": spec.get("comm") or "", "cmdline": (spec.get("cmdline") or "").split(" ")}
            return (entry.get("kind") == KIND and entry["target"]["id"] in ids
                    and (experiment is None or entry.get("experiment_id") == experiment)
                    and (matches is None or matches(recorded)))

        reverted = self.txn.revert_where(ours, check_mode=self.check_mode)
        results = []
        for entry in reverted:
            target, spec = entry["target"], entry.get("spec") or {}
            step = (entry.get("undo") or [{}])[0]
            now = current_state({"pid": step.get("pid"), "start_ticks": step.get("start_ticks")}, target["id"]) \
                if step.get("pid") else "gone"
            results.append({
                "name": target["name"], "target": target["name"], "id": target["id"],
                "compose_service": target.get("compose_service"), "service": service_of(target),
                "pid": spec.get("pid"), "ns_pid": spec.get("ns_pid"), "comm": spec.get("comm"),
                "cmdline": spec.get("cmdline"), "action": "stop", "signal": "SIGCONT", "state_before": "stopped",
                "state_after": "running" if self.check_mode else now, "changed": True, "entry_id": entry["id"],
            })
        return results, report
