# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One meaning for every figure of an experiment: what was hit, time to recover, the hypothesis, the verdict.

The lifecycle role (roles/experiment) gathers what happened; this turns it into the result and the summary.
Pure Python: no Ansible, no host.
"""

from __future__ import annotations

from ._redact import redact, redact_text

# Fault modules the lifecycle can run, and the key of their result that lists what was hit.
# A new fault kind adds a line here and no lifecycle code.
FAULT_RESULT_KEYS = {
    "container_chaos": "containers",
    "network_chaos": "faults",
    "resource_stress": "stress",
    "process_chaos": "processes",
    "http_chaos": "faults",
    "dns_chaos": "faults",
    "custom_fault": "faults",
}

VERDICTS = ("PASS", "FAIL", "ABORTED", "ERROR")

# results/<experiment>.json: raise it when a field changes meaning or goes away (readers refuse a newer one).
RESULT_SCHEMA_VERSION = 1

# hypothesis key -> (what it bounds, comparison)
THRESHOLDS = {
    "max_recovery_seconds": ("time to recover", "<="),
    "min_availability": ("availability during the fault", ">="),
    "max_cascade_depth": ("cascade depth", "<="),
}


def fault_hits(module, result):
    """The targets a fault module hit, in one shape (target, service, deadline, injected_at) beside the
    module's own fields (a network fault's backend, a stress's kind...)."""
    hits = []
    for item in (result or {}).get(FAULT_RESULT_KEYS.get(module, ""), None) or []:
        target = item.get("name") or item.get("target")
        hits.append(dict(item, **{
            "target": target,
            "service": item.get("service") or item.get("compose_service") or target,
            "deadline": item.get("deadline"),
            "injected_at": item.get("injected_at"),
            "changed": item.get("changed", True),
        }))
    return hits


def number(value, digits=2):
    """A figure for people: rounded, without a trailing '.0'; 'n/a' when unknown."""
    if value is None or value == "":
        return "n/a"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    text = ("%%.%df" % digits) % value
    return text.rstrip("0").rstrip(".") if "." in text else text


def _float(value):
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


def _held(value, comparison, threshold):
    if value is None:
        return False
    return value <= threshold if comparison == "<=" else value >= threshold


def hypothesis_checks(hypothesis, recovery_seconds, availability, cascade_depth):
    """One row per threshold the hypothesis sets: its value and whether it held (unknown counts as broken)."""
    values = {"max_recovery_seconds": recovery_seconds, "min_availability": availability,
              "max_cascade_depth": cascade_depth}
    rows = []
    for key, (what, comparison) in THRESHOLDS.items():
        threshold = _float((hypothesis or {}).get(key))
        if threshold is None:
            continue
        value = _float(values[key])
        rows.append({"check": key, "what": what, "comparison": comparison, "threshold": threshold,
                     "value": value, "held": _held(value, comparison, threshold)})
    return rows


def _recovery(gathered, spread):
    """Seconds to recover and what they count from: the fault's end when it had a duration, else the injection."""
    recovery = gathered.get("recovery") or {}
    if gathered.get("timed"):
        return _float(recovery.get("recovery_seconds")), "fault end", recovery.get("met_at_first_poll")
    mttr = _float((spread or {}).get("mttr_seconds"))
    if mttr is not None:
        return mttr, "injection", False
    return _float(recovery.get("recovery_seconds")), "injection", recovery.get("met_at_first_poll")


def _verdict(gathered, injected, recovered, left, steady_after, checks):
    error = gathered.get("error")
    if error:
        return ("ABORTED" if error.get("aborted") else "ERROR"), error.get("msg") or "failed"
    if not injected:
        return "ERROR", "the fault was not injected"
    reasons = []
    if gathered.get("observed", True) and not recovered:
        reasons.append("the services did not recover")
    if left:
        reasons.append("%d fault(s) were still active after the experiment" % left)
    if steady_after is False:
        reasons.append("the steady state did not hold after the rollback")
    reasons += ["%s %s broke the hypothesis (%s %s)"
                % (row["what"], number(row["value"]), row["comparison"], number(row["threshold"]))
                for row in checks if not row["held"]]
    if reasons:
        return "FAIL", "; ".join(reasons)
    if not gathered.get("observed", True):
        return "PASS", "injected and undone, nothing left behind (unobserved: nothing was measured)"
    return "PASS", "the hypothesis held" if checks else "recovered, nothing left behind"


# The phases of an experiment whose polls a report draws, in the order they happen, with the gathered key.
TIMELINE_PHASES = (("baseline", "baseline"), ("fault", "during"), ("watch", "watch"), ("recovery", "recovery"),
                   ("steady", "steady_after"))


def _sample_state(probe):
    if probe.get("healthy"):
        return "ok"
    return "fail" if probe.get("answered", True) else "none"


def _timeline_events(gathered, hits, recovery_seconds, counted_from):
    events = []
    injected_at = _float(gathered.get("injected_at"))
    if hits and injected_at is not None:
        events.append({"at": injected_at, "event": "injected",
                       "detail": ", ".join(sorted({h["target"] for h in hits if h.get("target")}))})
    deadlines = [_float(h.get("deadline")) for h in hits if h.get("deadline")]
    if gathered.get("timed") and deadlines:
        events.append({"at": max(deadlines), "event": "expired", "detail": "the fault's deadline (the reaper's)"})
    error = gathered.get("error") or {}
    rolled_back_at = _float(error.get("rolled_back_at"))
    if error and rolled_back_at is not None:
        kinds = error.get("rolled_back") or []
        events.append({"at": rolled_back_at, "event": "rolled_back",
                       "detail": ("undid " + ", ".join(kinds)) if kinds else "nothing was applied"})
    origin = max(deadlines) if counted_from == "fault end" and deadlines else injected_at
    if recovery_seconds is not None and origin is not None:
        events.append({"at": round(origin + recovery_seconds, 3), "event": "recovered",
                       "detail": "%s s after the %s" % (number(recovery_seconds), counted_from)})
    return sorted(events, key=lambda e: e["at"])


def experiment_timeline(gathered, recovery_seconds, counted_from):
    """What a report draws: each watched service's polls as [epoch, ok|fail|none, latency ms] (none: no answer
    at all), the observation windows and the events (injected, expired, rolled_back, recovered), on one clock."""
    services = list(gathered.get("watched") or [])
    samples = {service: [] for service in services}
    windows = []
    for phase, key in TIMELINE_PHASES:
        observed = gathered.get(key) or {}
        polls, started_at = observed.get("timeline") or [], _float(observed.get("started_at"))
        if not polls or started_at is None:
            continue
        for poll in polls:
            at = round(started_at + float(poll.get("t") or 0.0), 3)
            for probe in poll.get("probes") or []:
                if probe.get("name") in samples:
                    latency = probe.get("latency_ms")
                    samples[probe["name"]].append(
                        [at, _sample_state(probe), None if latency is None else round(float(latency), 1)])
        windows.append({"phase": phase, "from": round(started_at + float(polls[0].get("t") or 0.0), 3),
                        "to": round(started_at + float(polls[-1].get("t") or 0.0), 3), "polls": len(polls)})
    for lane in samples.values():
        lane.sort(key=lambda sample: sample[0])
    return {"services": services, "windows": windows, "samples": samples,
            "events": _timeline_events(gathered, gathered.get("hits") or [], recovery_seconds, counted_from)}


def experiment_result(gathered):
    """The experiment's result from what the lifecycle gathered (see roles/experiment/tasks/verify_report.yml).

    Written to results/<id>.json and sent to the metrics sinks: secrets are masked (credentials in URLs, values
    of token/password/secret keys and of headers), whatever the fault's arguments or an error message held."""
    hits = gathered.get("hits") or []
    spread = gathered.get("spread") or None
    observed = bool(gathered.get("observed", True))
    recovery_seconds, counted_from, upper_bound = _recovery(gathered, spread)
    injected = bool(hits)
    recovered = recovery_seconds is not None
    window = gathered.get("during") if gathered.get("timed") else gathered.get("watch")
    availability = _float((window or {}).get("availability"))
    availability = None if availability is None else round(availability, 4)
    cascade_depth = (spread or {}).get("cascade_depth")
    checks = hypothesis_checks(gathered.get("hypothesis"), recovery_seconds, availability, cascade_depth) \
        if observed and not gathered.get("error") else []
    left = int(gathered.get("left_active") or 0) + len(gathered.get("leftovers") or [])
    steady_after = (gathered.get("steady_after") or {}).get("healthy")
    verdict, reason = _verdict(gathered, injected, recovered, left, steady_after, checks)
    deadlines = [h["deadline"] for h in hits if h.get("deadline")]
    return redact({
        "schema_version": RESULT_SCHEMA_VERSION,
        "experiment_id": gathered.get("experiment_id"),
        "experiment": gathered.get("experiment") or None,
        "kind": gathered.get("kind"),
        "module": gathered.get("module"),
        "host": gathered.get("host"),
        "fault": gathered.get("fault") or {},
        "duration": gathered.get("duration") if gathered.get("timed") else None,
        "safe_mode": bool(gathered.get("safe_mode")),
        "hit": hits,
        "reach": gathered.get("reach") or [],
        "observed": observed,
        "watched": gathered.get("watched") or [],
        "injected_at": gathered.get("injected_at"),
        "fault_ended_at": max(deadlines) if deadlines else gathered.get("injected_at"),
        "impact": gathered.get("impact") or None,
        "spread": spread,
        "availability_during_fault": availability,
        "cascade_depth": cascade_depth,
        "recovered": recovered,
        "recovery_seconds": recovery_seconds,
        "recovery_counted_from": counted_from,
        "recovery_is_upper_bound": bool(upper_bound) if recovered else None,
        "hypothesis": gathered.get("hypothesis") or {},
        "hypothesis_checks": checks,
        "left_active_after_experiment": left,
        "leftovers": gathered.get("leftovers") or [],
        "steady_state_after": steady_after,
        "health_score_after": (gathered.get("steady_after") or {}).get("health_score"),
        "observed_from": (window or {}).get("started_at"),
        "error": gathered.get("error") or None,
        "timeline": experiment_timeline(gathered, recovery_seconds, counted_from),
        "verdict": verdict,
        "reason": reason,
    })


def _recovery_line(result):
    if result["error"] and not result["recovered"]:
        return "Recovery: not measured (the experiment ended early)"
    if not result["observed"]:
        return "Recovery: not measured (unobserved: no health check covers a service the fault can reach)"
    if not result["recovered"]:
        return "Did not recover within the recovery timeout"
    lead = "Healthy at the first check, at most " if result["recovery_is_upper_bound"] else "Recovered in "
    line = "%s%s s after the %s" % (lead, number(result["recovery_seconds"]), result["recovery_counted_from"])
    if result["duration"] is not None:
        line += " (the fault itself lasted %s s)" % number(result["duration"])
    return line


def _impact_line(result):
    impact = result["impact"] or {}
    during = impact.get("during") or {}
    if during.get("availability") is None:
        return None
    baseline = impact.get("baseline") or {}
    parts = ["availability %s -> %s" % (number(baseline.get("availability")), number(during.get("availability"))),
             "error rate %s" % number(during.get("error_rate"))]
    if impact.get("latency_p50_ratio") is not None:
        parts.append("p50 latency x%s" % number(impact["latency_p50_ratio"]))
    return "Impact while it lasted: " + ", ".join(parts)


def summary_lines(result, result_path=None, report_path=None):
    """The summary printed at the end of an experiment: every line complete, every figure rounded."""
    name = (result.get("experiment") or {}).get("name")
    fault = result["fault"]
    lines = ["Experiment %s%s: %s %s%s" % (
        result["experiment_id"], " (%s)" % name if name else "", result["kind"],
        ", ".join("%s=%s" % (k, v if not isinstance(v, dict) else
                             "{%s}" % ", ".join("%s: %s" % kv for kv in v.items())) for k, v in fault.items()),
        " for %s s" % number(result["duration"]) if result["duration"] is not None else "")]
    lines.append("Hit: %s" % (", ".join(h["target"] for h in result["hit"]) or "nothing"))
    lines.append("Watched: %s" % (", ".join(result["watched"]) or "nothing (unobserved)"))
    lines.append(_recovery_line(result))
    spread = result["spread"]
    if spread:
        affected = ", ".join(spread.get("affected") or []) or "nothing"
        lines.append("Affected: %s (cascade depth %s)" % (affected, number(spread.get("cascade_depth"), 0)))
    impact = _impact_line(result)
    if impact:
        lines.append(impact)
    for row in result["hypothesis_checks"]:
        lines.append("Hypothesis: %s %s %s: %s (%s)" % (row["what"], row["comparison"], number(row["threshold"]),
                                                        "held" if row["held"] else "BROKE", number(row["value"])))
    lines.append("Faults left active after the experiment: %d" % result["left_active_after_experiment"])
    metrics = result.get("metrics") or {}
    if metrics.get("enabled"):
        lines.append("Metrics: %s" % ("; ".join(metrics.get("problems") or []) or "sent"))
    lines.append("Verdict: %s (%s)" % (result["verdict"], result["reason"]))
    if result_path:
        lines.append("Full result: %s" % result_path)
    if report_path:
        lines.append("Report: %s" % report_path)
    return lines


METRIC_SINKS = (("pushgateway", "sent"), ("textfile", "written"), ("grafana", "sent"))


def metrics_problems(registered):
    """What a chaos_metrics task (registered, run with failed_when false) did not send, as sentences."""
    if not isinstance(registered, dict) or registered.get("skipped"):
        return []
    metrics = registered.get("metrics")
    if not isinstance(metrics, dict):
        return [redact_text("chaos_metrics failed: %s" % (registered.get("msg") or "no result"))]
    problems = []
    for sink, done in METRIC_SINKS:
        status = metrics.get(sink) or {}
        if status.get("error"):
            problems.append("%s not %s: %s" % (sink, done, status["error"]))
    return redact(problems)
