# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One experiment's report: a model of what to draw and show (pure Python), rendered as Markdown or HTML.

``report_model(result)`` turns a result (``results/<experiment_id>.json``, see ``_lifecycle.experiment_result``)
into figures and the geometry of the SVG timeline; ``render_markdown`` and ``render_html`` pass that model to
the Jinja2 templates of ``_report_templates``. Jinja2 is imported where a page is rendered: it ships with
Ansible on the controller, where reports are made, but not necessarily on a target.

The timeline's x scale maps epochs linearly onto ``PLOT_LEFT``..``PLOT_RIGHT``: from the first sample or event
to the last one plus one poll interval (so the last sample has room to be drawn).
"""

from __future__ import annotations

import datetime

from ._lifecycle import number
from ._probes import percentile
from ._redact import redact
from ._report_templates import HTML_TEMPLATE, MARKDOWN_TEMPLATE

WIDTH = 960
PLOT_LEFT = 128           # room for the lane labels
PLOT_RIGHT = WIDTH - 24
EVENT_LABEL_ROWS = (14, 28)
PHASE_Y, PHASE_HEIGHT = 38, 14
LANES_TOP, LANE_HEIGHT, LANE_GAP = 60, 26, 8
SAMPLE_GAP = 1.0          # px between two samples' rects
MIN_SAMPLE_WIDTH = 2.0
INSTANT_WIDTH = 6.0       # the band of a fault without duration (a crash)
LABEL_SPACING = 72        # px two event labels need side by side
NICE_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)
MAX_TICKS = 12
SAMPLE_STATES = {"ok": "healthy", "fail": "unhealthy", "none": "no answer"}
EVENT_NAMES = {"injected": "injected", "expired": "expired", "rolled_back": "rolled back", "recovered": "recovered"}
VERDICT_CLASSES = {"PASS": "pass", "FAIL": "fail", "ABORTED": "aborted", "ERROR": "error"}


def _epoch(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _px(value):
    return round(value, 2)


def utc(epoch):
    """2026-12-01 06:11:29 UTC"""
    if epoch is None:
        return "n/a"
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def percent(value):
    """0.4 -> '40%'; 'n/a' when unknown."""
    return "n/a" if value is None else "%s%%" % number(float(value) * 100, 1)


def seconds(value):
    return "n/a" if value is None else "%s s" % number(value)


class Scale:
    """Epochs onto x pixels, linear, ``start`` at PLOT_LEFT and ``end`` at PLOT_RIGHT."""

    def __init__(self, start, end):
        self.start = start
        self.end = end if end > start else start + 1.0
        self.per_second = (PLOT_RIGHT - PLOT_LEFT) / (self.end - self.start)

    def x(self, epoch):
        return _px(PLOT_LEFT + (epoch - self.start) * self.per_second)


def _median_interval(samples):
    gaps = sorted(b[0] - a[0] for lane in samples.values() for a, b in zip(lane, lane[1:]) if b[0] > a[0])
    return gaps[len(gaps) // 2] if gaps else 1.0


def _phase_of(timeline, samples):
    """A function epoch -> the index of the observation window holding it (-1: none), so that a sample's rect
    reaches the next poll of its own window only, never across a stretch nobody watched."""
    spans = [(float(w["from"]), float(w["to"])) for w in timeline.get("windows") or []
             if isinstance(w, dict) and _epoch(w.get("from")) is not None and _epoch(w.get("to")) is not None]

    def phase(at):
        return next((i for i, (start, stop) in enumerate(spans) if start - 1e-6 <= at <= stop + 1e-6), -1)
    return phase


def _phase_intervals(samples, phases, default):
    """window index -> the median interval between polls inside it (``default`` for a single poll)."""
    gaps = {}
    for lane in samples.values():
        for a, b in zip(lane, lane[1:]):
            if phases(a[0]) == phases(b[0]) and b[0] > a[0]:
                gaps.setdefault(phases(a[0]), []).append(b[0] - a[0])
    intervals = {key: sorted(values)[len(values) // 2] for key, values in gaps.items()}
    for lane in samples.values():
        for sample in lane:
            intervals.setdefault(phases(sample[0]), default)
    return intervals


def _samples(timeline, services):
    """service -> [(epoch, state, latency)], only well-formed samples, in time order."""
    raw = timeline.get("samples") or {}
    out = {}
    for service in services:
        lane = []
        for sample in raw.get(service) or []:
            if isinstance(sample, (list, tuple)) and len(sample) >= 2 and _epoch(sample[0]) is not None:
                latency = sample[2] if len(sample) > 2 else None
                state = sample[1] if sample[1] in SAMPLE_STATES else "none"
                lane.append((float(sample[0]), state, _epoch(latency)))
        out[service] = sorted(lane, key=lambda s: s[0])
    return out


def fault_interval(result):
    """(from, to) of the fault: injection to its end, or to an earlier rollback; (at, None) for a crash."""
    injected = _epoch(result.get("injected_at"))
    if injected is None:
        return None
    ended = _epoch(result.get("fault_ended_at"))
    rolled_back = _epoch((result.get("error") or {}).get("rolled_back_at"))
    if rolled_back is not None and ended is not None and rolled_back < ended:
        ended = rolled_back
    if ended is None or ended <= injected or result.get("duration") is None:
        return injected, None
    return injected, ended


def recovery_span(result):
    """(origin, end) of the time to recover, or None when it was not measured."""
    recovery = _epoch(result.get("recovery_seconds"))
    if not result.get("recovered") or recovery is None:
        return None
    from_end = result.get("recovery_counted_from") == "fault end"
    origin = _epoch(result.get("fault_ended_at") if from_end else result.get("injected_at"))
    return None if origin is None else (origin, origin + recovery)


def _ticks(scale, origin):
    span = scale.end - scale.start
    step = next((s for s in NICE_STEPS if span / s <= MAX_TICKS), NICE_STEPS[-1])
    first = -(-(scale.start - origin) // step) * step
    ticks, offset = [], first
    while origin + offset <= scale.end + 1e-9:
        label = "0" if abs(offset) < 1e-9 else "%+g s" % offset
        ticks.append({"x": scale.x(origin + offset), "label": label, "offset": offset})
        offset += step
    return ticks


def _event_rows(events):
    """Put each event label on the first row where it does not overlap the previous label."""
    last_x = [None] * len(EVENT_LABEL_ROWS)
    for event in events:
        row = next((i for i, x in enumerate(last_x) if x is None or event["x"] - x >= LABEL_SPACING), None)
        if row is None:
            row = min(range(len(last_x)), key=lambda i: last_x[i])
        last_x[row] = event["x"]
        event["label_y"] = EVENT_LABEL_ROWS[row]
    return events


def timeline_model(result):
    """The SVG timeline: size, scale, bands, lanes with their sample rects, events, bracket, axis ticks."""
    timeline = result.get("timeline") or {}
    services = list(timeline.get("services") or result.get("watched") or [])
    samples = _samples(timeline, services)
    events = [e for e in timeline.get("events") or [] if isinstance(e, dict) and _epoch(e.get("at")) is not None]
    fault = fault_interval(result)
    recovery = recovery_span(result)
    phases = _phase_of(timeline, samples)
    intervals = _phase_intervals(samples, phases, _median_interval(samples))
    epochs = [s[0] for lane in samples.values() for s in lane] + [float(e["at"]) for e in events]
    epochs += [v for v in (fault or ()) + (recovery or ()) if v is not None]
    if not epochs:
        return None
    end = max(epochs + [lane[-1][0] + intervals[phases(lane[-1][0])] for lane in samples.values() if lane])
    scale = Scale(min(epochs), end)
    lanes_bottom = LANES_TOP + len(services) * (LANE_HEIGHT + LANE_GAP) - LANE_GAP
    caps = {phase: max(MIN_SAMPLE_WIDTH, gap * scale.per_second - SAMPLE_GAP) for phase, gap in intervals.items()}
    lanes = []
    for index, service in enumerate(services):
        y = LANES_TOP + index * (LANE_HEIGHT + LANE_GAP)
        lane = samples[service]
        rects = []
        for position, (at, state, latency) in enumerate(lane):
            x = scale.x(at)
            cap = caps[phases(at)]
            following = lane[position + 1][0] if position + 1 < len(lane) else None
            room = cap if following is None else scale.x(following) - x - SAMPLE_GAP
            if following is not None and phases(following) != phases(at):
                room = min(room, cap)  # up to the next poll of its window; never into a stretch nobody watched
            rects.append({"x": x, "width": _px(max(MIN_SAMPLE_WIDTH, room)), "state": state, "at": at,
                          "title": "%s %s: %s%s" % (service, utc(at), SAMPLE_STATES[state],
                                                    "" if latency is None else ", %s ms" % number(latency, 1))})
        lanes.append({"service": service, "y": y, "height": LANE_HEIGHT, "label_y": y + LANE_HEIGHT / 2 + 4,
                      "samples": rects})
    bands = []
    if fault:
        start, stop = fault
        if stop is None:
            bands.append({"x": _px(scale.x(start) - INSTANT_WIDTH / 2), "width": INSTANT_WIDTH, "from": start,
                          "to": start, "instant": True, "title": "fault injected at %s (no duration)" % utc(start)})
        else:
            bands.append({"x": scale.x(start), "width": _px(scale.x(stop) - scale.x(start)), "from": start,
                          "to": stop, "instant": False,
                          "title": "fault active %s s, %s to %s" % (number(stop - start), utc(start), utc(stop))})
    marks = _event_rows([{"x": scale.x(float(e["at"])), "at": float(e["at"]), "event": str(e.get("event")),
                          "label": EVENT_NAMES.get(e.get("event"), str(e.get("event"))),
                          "title": "%s at %s: %s" % (EVENT_NAMES.get(e.get("event"), e.get("event")),
                                                     utc(float(e["at"])), e.get("detail") or "")}
                         for e in sorted(events, key=lambda e: float(e["at"]))])
    bracket = None
    bracket_y = lanes_bottom + 18
    if recovery:
        upper = bool(result.get("recovery_is_upper_bound"))
        bracket = {"x": scale.x(recovery[0]), "width": _px(scale.x(recovery[1]) - scale.x(recovery[0])),
                   "from": recovery[0], "to": recovery[1], "y": bracket_y, "upper_bound": upper,
                   "label": "%srecovered in %s after the %s" % (
                       "at most: " if upper else "", seconds(result.get("recovery_seconds")),
                       result.get("recovery_counted_from") or "injection")}
        bracket["label_x"] = bracket["x"] + bracket["width"] + 6
        bracket["label_anchor"] = "start"
        if bracket["label_x"] > PLOT_RIGHT - 200:
            bracket["label_x"], bracket["label_anchor"] = bracket["x"] - 6, "end"
    axis_y = bracket_y + (26 if recovery else 6)
    origin = fault[0] if fault else scale.start
    windows = []
    spans = sorted(((float(w["from"]), float(w["to"]), w) for w in timeline.get("windows") or []
                    if isinstance(w, dict) and _epoch(w.get("from")) is not None and _epoch(w.get("to")) is not None),
                   key=lambda span: span[:2])
    for index, (start, stop, w) in enumerate(spans):
        stop += intervals.get(phases(stop), 0.0)
        if index + 1 < len(spans):
            stop = min(stop, spans[index + 1][0])
        width = _px(max(MIN_SAMPLE_WIDTH, scale.x(stop) - scale.x(start) - SAMPLE_GAP))
        windows.append({"phase": str(w.get("phase")), "x": scale.x(start), "width": width,
                        "polls": w.get("polls"), "labelled": width >= 8 + 6.5 * len(str(w.get("phase")))})
    return {"width": WIDTH, "height": axis_y + 40, "plot_left": PLOT_LEFT, "plot_right": PLOT_RIGHT,
            "start": scale.start, "end": scale.end, "px_per_second": scale.per_second, "origin": origin,
            "phase_y": PHASE_Y, "phase_height": PHASE_HEIGHT, "lanes_top": LANES_TOP, "lanes_bottom": lanes_bottom,
            "bands": bands, "lanes": lanes, "events": marks, "bracket": bracket, "windows": windows,
            "axis_y": axis_y, "ticks": _ticks(scale, origin),
            "axis_title": "seconds from the injection" if fault else "seconds from the first poll"}


def _window(timeline, *phases):
    for phase in phases:
        for window in timeline.get("windows") or []:
            if window.get("phase") == phase and _epoch(window.get("from")) is not None \
                    and _epoch(window.get("to")) is not None:
                return float(window["from"]), float(window["to"])
    return None


def _latencies(lane, window):
    if window is None:
        return {"p50": None, "p95": None, "p99": None}
    answered = [lat for at, state, lat in lane if window[0] <= at <= window[1] and state != "none" and lat is not None]
    return {key: percentile(answered, fraction) for key, fraction in (("p50", .5), ("p95", .95), ("p99", .99))}


def _service_mttr(lane, injected_at):
    """Seconds from the service's first unhealthy poll after the injection to the healthy poll after its last
    unhealthy one; None when it never broke, 'not recovered' when it never came back."""
    if injected_at is None:
        return None
    after = [(at, state) for at, state, _lat in lane if at >= injected_at]
    bad = [i for i, (_at, state) in enumerate(after) if state != "ok"]
    if not bad:
        return None
    back = next((at for at, state in after[bad[-1] + 1:] if state == "ok"), None)
    return "not recovered" if back is None else round(back - after[bad[0]][0], 3)


def service_rows(result):
    """The per-service table: availability, error rate and polls in the fault (or watch) window, latency
    percentiles of the answered polls before (baseline) and during, MTTR and cascade depth."""
    timeline = result.get("timeline") or {}
    services = list(timeline.get("services") or result.get("watched") or [])
    samples = _samples(timeline, services)
    during_window = _window(timeline, "fault", "watch")
    baseline_window = _window(timeline, "baseline")
    per_service = (result.get("spread") or {}).get("per_service") or {}
    rows = []
    for service in services:
        lane = samples[service]
        during = [s for s in lane if during_window and during_window[0] <= s[0] <= during_window[1]]
        polls = len(during)
        healthy = sum(1 for s in during if s[1] == "ok")
        no_answer = sum(1 for s in during if s[1] == "none")
        mttr = _service_mttr(lane, _epoch(result.get("injected_at")))
        rows.append({"service": service, "polls": polls, "no_answer": no_answer,
                     "availability": healthy / polls if polls else None,
                     "error_rate": (polls - healthy) / polls if polls else None,
                     "before": _latencies(lane, baseline_window), "during": _latencies(lane, during_window),
                     "mttr": mttr,
                     "depth": (per_service.get(service) or {}).get("depth")})
    return rows


def _fault_text(fault):
    parts = []
    for key, value in (fault or {}).items():
        if isinstance(value, dict):
            value = "{%s}" % ", ".join("%s: %s" % kv for kv in value.items())
        parts.append("%s=%s" % (key, value))
    return ", ".join(parts) or "n/a"


def leftover_text(item):
    """A leftover (network_chaos' {target, device, qdisc, chains}, or anything else) as one line."""
    if not isinstance(item, dict):
        return str(item)
    head = item.get("target") or item.get("name") or "?"
    rest = ", ".join("%s: %s" % (key, ", ".join(map(str, value)) if isinstance(value, list) else value)
                     for key, value in sorted(item.items()) if key not in ("target", "name") and value not in ("", None))
    return "%s (%s)" % (head, rest) if rest else str(head)


def _hypothesis(result):
    from ._lifecycle import THRESHOLDS  # pylint: disable=import-outside-toplevel

    lines = []
    for key, value in (result.get("hypothesis") or {}).items():
        what, comparison = THRESHOLDS.get(key, (key, "="))
        lines.append("%s %s %s" % (what, comparison, number(value)))
    return lines


def report_model(result):
    """Everything a report shows, computed once (the templates only lay it out)."""
    result = redact(result)
    experiment = result.get("experiment") or {}
    spread = result.get("spread") or {}
    verdict = str(result.get("verdict") or "UNKNOWN")
    fault = fault_interval(result)
    leftovers = [leftover_text(item) for item in result.get("leftovers") or []]
    return {
        "id": result.get("experiment_id"), "name": experiment.get("name") or result.get("experiment_id"),
        "description": experiment.get("description"), "file": experiment.get("file"),
        "verdict": verdict, "verdict_class": VERDICT_CLASSES.get(verdict, "error"), "reason": result.get("reason"),
        "hypothesis": _hypothesis(result),
        "checks": [dict(row, value_text=number(row.get("value")), threshold_text=number(row.get("threshold")))
                   for row in result.get("hypothesis_checks") or []],
        "kind": result.get("kind"), "module": result.get("module"), "host": result.get("host"),
        "fault": _fault_text(result.get("fault")), "duration": result.get("duration"),
        "injected_at": utc(fault[0]) if fault else "not injected",
        "fault_ended_at": utc(fault[1]) if fault and fault[1] else None,
        "targets": [{"target": h.get("target") or h.get("name"), "service": h.get("service"),
                     "detail": ", ".join("%s: %s" % (k, h[k]) for k in ("state_before", "state_after") if h.get(k))}
                    for h in result.get("hit") or []],
        "watched": result.get("watched") or [],
        "recovered": result.get("recovered"), "recovery": seconds(result.get("recovery_seconds")),
        "recovery_upper_bound": result.get("recovery_is_upper_bound"),
        "recovery_counted_from": result.get("recovery_counted_from"),
        "mttr": seconds(spread.get("mttr_seconds")), "cascade_depth": spread.get("cascade_depth",
                                                                                 result.get("cascade_depth")),
        "affected": spread.get("affected") or [],
        "availability": percent(result.get("availability_during_fault")),
        "left_active": result.get("left_active_after_experiment") or 0, "leftovers": leftovers,
        "error": (result.get("error") or {}).get("msg") if isinstance(result.get("error"), dict) else result.get("error"),
        "timeline": timeline_model(result), "services": service_rows(result),
        "generated": utc(datetime.datetime.now(datetime.timezone.utc).timestamp()),
    }


def _environment(autoescape):
    import jinja2  # pylint: disable=import-outside-toplevel

    env = jinja2.Environment(autoescape=autoescape, undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(number=number, percent=percent, seconds=seconds, md=markdown_text,
                       latency=lambda v: "n/a" if v is None else "%s ms" % number(v, 1),
                       latencies=lambda p: " / ".join("n/a" if p[k] is None else number(p[k], 1)
                                                      for k in ("p50", "p95", "p99")),
                       mttr=lambda v: v if isinstance(v, str) else seconds(v) if v is not None else "unaffected")
    return env


MARKDOWN_SPECIAL = "\\`*_{}[]<>()#+!|~"


def markdown_text(value):
    """User text safe in Markdown (and in a table cell): special characters escaped, one line."""
    text = " ".join(str("n/a" if value is None else value).split())
    return "".join("\\" + c if c in MARKDOWN_SPECIAL else c for c in text)


def render_markdown(result):
    """The report as Markdown, for a merge request or a ticket."""
    return _environment(False).from_string(MARKDOWN_TEMPLATE).render(r=report_model(result))


def render_html(result):
    """The report as one self-contained HTML page (inline CSS and SVG, nothing loaded from anywhere)."""
    return _environment(True).from_string(HTML_TEMPLATE).render(r=report_model(result))
