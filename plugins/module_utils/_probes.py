# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Running health probes: one poll of all probes at once, the wait-until loop and sampling, on a monotonic clock.

The probes of each kind (and their validation) are in ``_probe_types``."""

from __future__ import annotations

import concurrent.futures
import http.client
import time
import urllib.error

from ._common import ChaosError
from ._probe_types import CHECKS, COMPARATORS, PROBE_TYPES, validate_probe  # noqa: F401 pylint: disable=unused-import
from ._redact import redact_text

MIN_INTERVAL = 0.1


def run_probe(probe, client=None, timeout=2.0, runner=None):
    """One probe, never raising for the probed system's faults: a dict with healthy/detail/latency.

    ``runner(argv, timeout) -> (rc, stdout, stderr)`` runs command probes (the module passes run_command).
    """
    started = time.monotonic()
    extra = {}
    answered = True
    try:
        healthy, detail, extra = CHECKS[probe["type"]](probe, timeout, client=client, runner=runner)
    except (OSError, urllib.error.URLError, http.client.HTTPException, ValueError) as exc:
        # refused, reset, timed out, unreachable: the service gave no answer at all (a report draws it apart
        # from an answer that was wrong)
        healthy, detail, answered = False, "%s: %s" % (type(exc).__name__, exc), False
    # an error may quote the URL it failed on (with its credentials or token parameters)
    result = {"name": probe.get("name"), "type": probe["type"], "healthy": healthy, "answered": answered,
              "detail": redact_text(detail), "latency_ms": round((time.monotonic() - started) * 1000.0, 3)}
    result.update(extra)
    return result


def run_all(probes, client=None, timeout=2.0, runner=None):
    """Every probe once, at the same time (a slow one does not delay the others' answers).

    Returns (all healthy, health score 0..1, results in the order of ``probes``).
    """
    if len(probes) > 1:
        with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(probes), 16)) as pool:
            results = list(pool.map(lambda probe: run_probe(probe, client, timeout, runner), probes))
    else:
        results = [run_probe(p, client, timeout, runner) for p in probes]
    healthy = sum(1 for r in results if r["healthy"])
    return healthy == len(results), (healthy / len(results)) if results else 1.0, results


def wait_until(probes, want_healthy, timeout, interval, success_threshold=1, client=None, since_monotonic=None,
               probe_timeout=2.0, clock=time.monotonic, sleep=time.sleep, runner=None, trace=None):
    """Poll until every probe is healthy (or, with ``want_healthy=False``, until one is not).

    Returns ``(satisfied, elapsed, last_results, polls)``; ``elapsed`` counts from ``since_monotonic`` (when
    the fault was injected) if given, else from the start of the wait, and ends when the first poll of the
    run of ``success_threshold`` consecutive successes got its answers (not when it was sent: a request sent
    while a service was paused can be answered after it resumed).
    Every poll is appended to ``trace`` (a list, when given) in the shape of a sample's timeline.
    """
    start = clock()
    origin = start if since_monotonic is None else since_monotonic
    streak, first_of_streak, polls, results = 0, None, 0, []
    while True:
        poll_started = clock()
        all_healthy, score, results = run_all(probes, client, probe_timeout, runner)
        answered = clock()
        polls += 1
        if trace is not None:
            trace.append({"t": round(poll_started - start, 3), "healthy": all_healthy, "health_score": score,
                          "probes": results})
        if all_healthy == want_healthy:
            if streak == 0:
                first_of_streak = answered
            streak += 1
            if streak >= success_threshold:
                return True, max(0.0, first_of_streak - origin), results, polls
        else:
            streak = 0
        if clock() - start >= timeout:
            return False, clock() - origin, results, polls
        sleep(max(0.0, interval - (clock() - poll_started)))


def percentile(values, fraction):
    """Nearest-rank percentile of a list of numbers (None for an empty list)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))  # ceil without math
    return ordered[min(rank, len(ordered)) - 1]


def summarize(timeline):
    """Availability, error rate and latency percentiles of a sample timeline."""
    polls = len(timeline)
    healthy = sum(1 for t in timeline if t["healthy"])
    latencies = [r["latency_ms"] for t in timeline for r in t["probes"] if r["healthy"]]
    checks = sum(len(t["probes"]) for t in timeline)
    errors = sum(1 for t in timeline for r in t["probes"] if not r["healthy"])
    return {
        "polls": polls,
        "availability": (healthy / polls) if polls else None,
        "error_rate": (errors / checks) if checks else None,
        "latency_ms": {"p50": percentile(latencies, 0.5), "p95": percentile(latencies, 0.95),
                       "p99": percentile(latencies, 0.99), "max": max(latencies) if latencies else None},
        "health_score_min": min((t["health_score"] for t in timeline), default=None),
    }


# "Availability so far" after one or two polls is all or nothing: one slow answer would abort an experiment.
ABORT_MIN_POLLS = 3


def abort_check(abort_when, stop_flag_set):
    """The ``abort(summary, last_poll)`` callable for sample mode (None without conditions)."""
    if not abort_when:
        return None
    for key in ("availability_below", "health_score_below"):
        if abort_when.get(key) is not None and not 0 <= abort_when[key] <= 1:
            raise ChaosError("abort_when.%s must be between 0 and 1, got %s" % (key, abort_when[key]))

    def abort(summary, last):
        if abort_when.get("emergency_stop") and stop_flag_set():
            return "the emergency-stop flag is set"
        if abort_when.get("health_score_below") is not None and last["health_score"] < abort_when["health_score_below"]:
            return "health score %.2f below %s" % (last["health_score"], abort_when["health_score_below"])
        if (abort_when.get("availability_below") is not None and summary["polls"] >= ABORT_MIN_POLLS
                and summary["availability"] < abort_when["availability_below"]):
            return "availability %.2f below %s" % (summary["availability"], abort_when["availability_below"])
        return None
    return abort


def sample(probes, duration, interval, client=None, probe_timeout=2.0, abort=None, clock=time.monotonic,
           sleep=time.sleep, runner=None):
    """Probe every ``interval`` for ``duration`` seconds; returns (summary, timeline, abort_reason).

    ``abort(summary_so_far, last_poll)`` returns a reason to stop at once (or None).
    """
    start = clock()
    timeline = []
    while clock() - start < duration:
        poll_started = clock()
        all_healthy, score, results = run_all(probes, client, probe_timeout, runner)
        timeline.append({"t": round(poll_started - start, 3), "healthy": all_healthy, "health_score": score,
                         "probes": results})
        reason = abort(summarize(timeline), timeline[-1]) if abort else None
        if reason:
            return summarize(timeline), timeline, reason
        sleep(max(0.0, interval - (clock() - poll_started)))
    return summarize(timeline), timeline, None
