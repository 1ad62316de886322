# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the hosts tell the chaos monkey at a tick, folded into the inputs of its decision.

The tick gathers, on every Docker host, the guard's figures (chaos_guard with fail_on_unsafe false), the
audit journal (chaos_audit_info) and the containers labelled opt-out; this turns those per-host answers
into one view: the emergency stop is set when it is set on any host, the guard's figures are the worst of
any host, a service's last hit is its latest injection on any host, and a decision recorded on every host
counts once.
"""

from __future__ import annotations

OPT_OUT_LABEL = "sutazai.chaos.opt-out"
SERVICE_LABELS = ("com.docker.compose.service", "sutazai.chaos.service")
INJECTIONS = ("inject",)


def _service_of_target(target):
    if isinstance(target, dict):
        return target.get("service") or target.get("compose_service") or target.get("name")
    return target if isinstance(target, str) and target else None


def last_hits(events):
    """service -> epoch of its latest injection."""
    hits = {}
    for event in events:
        if event.get("event") not in INJECTIONS or not isinstance(event.get("time"), (int, float)):
            continue
        service = _service_of_target(event.get("target"))
        if service and event["time"] > hits.get(service, 0):
            hits[service] = event["time"]
    return hits


def last_verdicts(events):
    """service -> the verdict of the latest experiment the monkey ran on it."""
    verdicts = {}
    for event in sorted((e for e in events if e.get("event") == "monkey_outcome"), key=lambda e: e.get("time") or 0):
        if event.get("target") and event.get("verdict"):
            verdicts[event["target"]] = event["verdict"]
    return verdicts


def decision_history(events):
    """The monkey's past decisions, one per (schedule, slot), oldest first."""
    seen = {}
    for event in events:
        if event.get("event") == "monkey_decision" and event.get("schedule") and event.get("slot"):
            seen.setdefault((event["schedule"], event["slot"]), event)
    return sorted(seen.values(), key=lambda e: e.get("time") or 0)


def _figure(guard, check):
    return ((guard.get("checks") or {}).get(check) or {}).get("figure")


def guard_view(guards):
    """The worst figures of every host's chaos_guard answer (None when no host measured them)."""
    ratios = [_figure(g, "healthy_ratio") for g in guards]
    cpus = [_figure(g, "cpu") for g in guards]
    memories = [_figure(g, "memory") for g in guards]
    ratios, cpus, memories = ([v for v in vs if isinstance(v, (int, float))] for vs in (ratios, cpus, memories))
    return {"healthy_ratio": min(ratios) if ratios else None, "cpu_percent": max(cpus) if cpus else None,
            "memory_percent": max(memories) if memories else None}


def emergency_stop_set(guards):
    return any(((g.get("checks") or {}).get("emergency_stop") or {}).get("verdict") == "fail" for g in guards)


def opted_out_services(containers):
    """Services (and names) of containers labelled sutazai.chaos.opt-out=true (docker_host_info, verbose)."""
    services = set()
    for container in containers:
        labels = container.get("Labels") or {}
        if str(labels.get(OPT_OUT_LABEL, "")).lower() not in ("true", "1", "yes"):
            continue
        for key in SERVICE_LABELS:
            if labels.get(key):
                services.add(labels[key])
        for name in container.get("Names") or []:
            services.add(name.lstrip("/"))
    return sorted(services)


def tick_inputs(guards, audit_events, containers):
    """The monkey's tick inputs from the hosts' answers (lists over hosts, already flattened)."""
    return {"emergency_stop": emergency_stop_set(guards), "guard": guard_view(guards),
            "history": decision_history(audit_events), "last_hits": last_hits(audit_events),
            "last_verdicts": last_verdicts(audit_events), "opted_out": opted_out_services(containers)}
