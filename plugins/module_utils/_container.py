# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Container faults: kill (a real crash), stop, restart, pause, and their undo."""

from __future__ import annotations

import os
import signal
import time
from urllib.parse import urlsplit

from ._common import NOTHING_CHANGED, ChaosError
from ._docker import APIError, NotFound, container_summary, inspect, list_containers, tls_settings
from ._fault import FaultTransaction
from ._targets import select_targets, service_of

# action -> (ledger kind, engine call that undoes it, container State once undone)
REVERSIBLE = {
    "pause": ("container_pause", "unpause", {"Paused": False}),
    "stop": ("container_stop", "start", {"Running": True}),
}
CANDIDATE_STATES = {
    "kill": ["running"],
    "restart": ["running"],
    "pause": ["running"],
    "stop": ["running"],
}
AFTER_KILL_WAIT_SECONDS = 5.0


def parse_signal(value):
    """'SIGKILL', 'KILL', 'kill' or '9' -> signal number; ChaosError otherwise."""
    text = str(value).strip().upper()
    try:
        if text.isdigit():
            return signal.Signals(int(text))
        return signal.Signals[text if text.startswith("SIG") else "SIG" + text]
    except (KeyError, ValueError):
        raise ChaosError("signal %r is not a known signal (for example SIGKILL, SIGTERM or 9). %s"
                         % (value, NOTHING_CHANGED))


def _host_process_of(container):
    """The container's main PID as seen from here, checked against its cgroup."""
    pid = container.get("pid") or 0
    try:
        with open("/proc/%d/cgroup" % pid) as handle:
            cgroups = handle.read()
    except OSError:
        cgroups = ""
    if pid <= 0 or container["id"] not in cgroups:
        raise ChaosError(
            "the main process of %s (PID %s) is not visible from this host, so it cannot be killed like a crash. "
            "Run the module on the Docker host itself, or use kill_mode=engine. %s"
            % (container["name"], pid, NOTHING_CHANGED)
        )
    return pid


def _wait_for_crash(client, before, deadline_seconds):
    """After a kill, wait briefly until the engine saw the process die; return the new summary."""
    end = time.monotonic() + deadline_seconds
    after = inspect(client, before["id"])
    while time.monotonic() < end:
        if after is None or after["pid"] != before["pid"] or after["status"] != "running" or \
                after["restart_count"] != before["restart_count"]:
            return after
        time.sleep(0.05)
        after = inspect(client, before["id"])
    return after


class ContainerChaos:
    def __init__(self, client, params, check_mode=False, run_argv=None):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.action = params["action"]
        self.txn = FaultTransaction(params["state_dir"], params["experiment_id"], run_argv,
                                    params.get("experiment_id_given", True))

    def _undo_step(self, container, engine_call, expect_state):
        return {
            "type": "docker_api",
            "docker_host": self.params["docker_host"],
            "tls": tls_settings(self.params),
            "method": "POST",
            "path": "/containers/%s/%s" % (container["id"], engine_call),
            "container": container["id"],
            "ok_status": [204, 304],
            "expect_state": expect_state,
        }

    def _check_kill_mode(self):
        if self.action == "kill" and self.params["kill_mode"] == "host" and \
                urlsplit(self.params["docker_host"]).scheme != "unix":
            raise ChaosError("kill_mode=host needs the module to run on the Docker host (docker_host unix://...); "
                             "for a remote engine use kill_mode=engine. %s" % NOTHING_CHANGED)

    def present(self):
        self._check_kill_mode()
        signum = parse_signal(self.params["signal"]) if self.action == "kill" else None
        if not self.check_mode:
            self.txn.refuse_if_stopped()
        kind = REVERSIBLE.get(self.action, ("container_" + self.action,))[0]
        held = self.txn.active_entries(kind) if self.action in REVERSIBLE else {}
        containers = list_containers(self.client)
        for container in containers:
            if container["id"] in held:
                container["status"] = "running"  # already ours: selectable again, so re-runs stay idempotent
        selected, report = select_targets(containers, self.params, states=CANDIDATE_STATES[self.action])
        for container in selected:  # before anything changes
            self.txn.check_conflict(held.get(container["id"]), same_spec=True)
        results, pending = [], []
        try:
            for container in selected:
                result, fault = self._hit(container, kind, signum, container["id"] in held)
                results.append(result)
                if fault:
                    pending.append((result, fault))
            # Pauses and stops: recorded together, applied one by one, marked applied together (apply_many).
            applied = self.txn.apply_many([fault for _result, fault in pending])
            for (result, _fault), (entry, _ignored) in zip(pending, applied):
                after = inspect(self.client, result["id"])
                result.update(entry_id=entry["id"], deadline=entry["deadline"],
                              state_after=after["status"] if after else "removed")
        except (APIError, OSError, ChaosError) as exc:
            message = exc.msg if isinstance(exc, ChaosError) else str(exc)
            raise ChaosError(self.txn.rollback_after("%s failed on a target: %s." % (self.action, message.rstrip("."))),
                             results=results)
        return results, report

    def _hit(self, container, kind, signum, already_held):
        try:  # one engine call gives both the object to act on and the fresh state
            docker_container = self.client.containers.get(container["id"])
            before = container_summary(docker_container)
        except NotFound:
            before = None
        if before is None:
            raise ChaosError("container %s disappeared between selection and %s" % (container["name"], self.action))
        result = {
            "id": container["id"], "name": container["name"], "compose_service": container["compose_service"],
            "service": container["service"], "action": self.action, "state_before": before["status"],
            "changed": not already_held,
        }
        if already_held:
            result.update(state_after=before["status"], note="already %s by this collection" % (
                "paused" if self.action == "pause" else "stopped"))
            return result, None
        if self.check_mode:
            result["state_after"] = {"pause": "paused", "stop": "exited", "kill": "restarting or exited",
                                     "restart": "running"}[self.action]
            return result, None
        target = {"id": container["id"], "name": container["name"], "compose_service": container["compose_service"],
                  "service": container["service"]}
        spec = {"action": self.action}
        if self.action in REVERSIBLE:
            _kind, engine_call, expect_state = REVERSIBLE[self.action]

            def action():
                result["injected_at"] = time.time()  # when the fault itself started, for MTTR
                if self.action == "pause":
                    return docker_container.pause()
                return docker_container.stop(timeout=self.params["stop_timeout"])
            return result, (kind, target, spec, [self._undo_step(container, engine_call, expect_state)],
                            self.params["duration"], action)
        result["injected_at"] = time.time()  # when the fault itself started, for MTTR (not the task's start)
        if self.action == "restart":
            docker_container.restart(timeout=self.params["stop_timeout"])
            self.txn.record_irreversible(kind, target, spec)
        else:
            spec.update(signal=signum.name, kill_mode=self.params["kill_mode"])
            if self.params["kill_mode"] == "host":
                os.kill(_host_process_of(before), signum)
            else:
                docker_container.kill(signal=signum.name)
            self.txn.record_irreversible(kind, target, spec)
            after = _wait_for_crash(self.client, before, AFTER_KILL_WAIT_SECONDS)
            result["state_after"] = after["status"] if after else "removed"
            return result, None
        after = inspect(self.client, container["id"])
        result["state_after"] = after["status"] if after else "removed"
        return result, None

    def absent(self):
        """Undo this module's pause/stop entries for the selected containers (idempotent)."""
        if self.action not in REVERSIBLE:
            raise ChaosError("action=%s cannot be undone; state=absent applies to pause and stop. %s"
                             % (self.action, NOTHING_CHANGED))
        kind = REVERSIBLE[self.action][0]
        params = dict(self.params, allow_empty=True, select={"mode": "all"}, max_targets=None)
        selected, report = select_targets(list_containers(self.client), params, check_protection=False)
        ids = {c["id"] for c in selected}
        experiment = self.params.get("experiment_id")
        reverted = self.txn.revert_where(
            lambda e: e.get("kind") == kind and e["target"]["id"] in ids
            and (experiment is None or e.get("experiment_id") == experiment),
            check_mode=self.check_mode,
        )
        results = []
        for entry in reverted:
            after = inspect(self.client, entry["target"]["id"])
            results.append({
                "id": entry["target"]["id"], "name": entry["target"]["name"],
                "compose_service": entry["target"].get("compose_service"), "service": service_of(entry["target"]),
                "action": self.action,
                "state_before": "paused" if self.action == "pause" else "exited",
                "state_after": (after["status"] if after else "removed") if not self.check_mode else "running",
                "changed": True, "entry_id": entry["id"],
            })
        return results, report
