# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Is it safe to inject now? Maintenance windows, thresholds, and the verdict of every check.

Measurements (probes, host CPU and memory, the emergency-stop flag, Docker containers) are
passed in as callables, so the whole verdict can be tested with made-up figures and a fixed
clock. Every failed check gives one sentence; the verdict is safe only when none failed.
"""

from __future__ import annotations

import datetime
import re

from ._common import ChaosError
from ._targets import is_protected, service_of

try:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
except ImportError:  # Python < 3.9: windows then need timezone UTC
    ZoneInfo = None

    class ZoneInfoNotFoundError(Exception):
        pass

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_ALIASES = {name: index for index, name in enumerate(DAYS)}
DAY_ALIASES.update({"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5,
                    "sunday": 6})
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
PASS, FAIL, SKIPPED = "pass", "fail", "skipped"


# ---------------------------------------------------------------- input

def parse_time_of_day(value, where):
    """'02:00' -> minutes after midnight (24:00 is not a time of day: use 00:00)."""
    match = TIME_RE.match(str(value).strip())
    if not match:
        raise ChaosError("%s %r is not a time of day HH:MM between 00:00 and 23:59" % (where, value))
    return int(match.group(1)) * 60 + int(match.group(2))


def load_zone(name, where):
    if not name or name.upper() == "UTC":
        return datetime.timezone.utc
    if ZoneInfo is None:
        raise ChaosError("%s %r needs Python 3.9+ (zoneinfo); only UTC is available here" % (where, name))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ChaosError("%s %r is not a known IANA time zone (for example Europe/Berlin or UTC)" % (where, name))


def day_numbers(days, where):
    """Day names (mon, Monday, ...; one name or a list) -> the set of their numbers (Monday is 0)."""
    if isinstance(days, str):
        days = [days]
    numbers = set()
    for day in days:
        key = str(day).strip().lower()
        if key not in DAY_ALIASES:
            raise ChaosError("%s: unknown day %r (expected one of %s)" % (where, day, ", ".join(DAYS)))
        numbers.add(DAY_ALIASES[key])
    return numbers


def parse_window(window, index=0):
    """A maintenance window as given by the user -> {days, start, end, zone, text}; ChaosError when malformed."""
    where = "maintenance_windows[%d]" % index
    if not isinstance(window, dict):
        raise ChaosError("%s must be a dict with days, start, end and timezone, got %r" % (where, window))
    numbers = day_numbers(window.get("days") or list(DAYS), where + ".days")
    if window.get("start") is None or window.get("end") is None:
        raise ChaosError("%s needs start and end (HH:MM)" % where)
    start = parse_time_of_day(window["start"], where + ".start")
    end = parse_time_of_day(window["end"], where + ".end")
    if start == end:
        raise ChaosError("%s: start and end are both %s, an empty window (a whole day is 00:00 to 23:59)"
                         % (where, window["start"]))
    zone_name = window.get("timezone") or "UTC"
    zone = load_zone(zone_name, where + ".timezone")
    text = "%s %s-%s %s" % (",".join(DAYS[d] for d in sorted(numbers)), window["start"], window["end"], zone_name)
    return {"days": numbers, "start": start, "end": end, "zone": zone, "text": text}


def parse_now(value):
    """An ISO 8601 timestamp -> aware datetime (a timestamp without offset is taken as UTC); None -> now."""
    if value is None or value == "":
        return datetime.datetime.now(datetime.timezone.utc)
    text = str(value).strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ChaosError("now %r is not an ISO 8601 timestamp such as 2024-03-31T01:30:00+00:00" % (value,))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    try:  # every time zone must be able to show it (the year 9999 one hour west of UTC cannot)
        moment.astimezone(datetime.timezone(datetime.timedelta(hours=14)))
        moment.astimezone(datetime.timezone(datetime.timedelta(hours=-14)))
    except OverflowError:
        raise ChaosError("now %r is too close to the end of the calendar to be compared with windows" % (value,))
    return moment


# ---------------------------------------------------------------- windows

def in_window(window, moment):
    """Whether ``moment`` (aware) falls in the parsed window, judged by the wall clock of its time zone.

    A window whose end is before its start crosses midnight and belongs to the day it starts:
    ``fri 23:00-01:00`` covers Friday 23:00 to Saturday 01:00. Wall-clock times skipped by a DST
    change simply never occur; repeated ones occur twice, and both count.
    """
    local = moment.astimezone(window["zone"])
    minute = local.hour * 60 + local.minute
    day = local.weekday()
    if window["start"] < window["end"]:
        return day in window["days"] and window["start"] <= minute < window["end"]
    return (day in window["days"] and minute >= window["start"]) or \
        ((day - 1) % 7 in window["days"] and minute < window["end"])


def matching_windows(windows, moment):
    return [w["text"] for w in windows if in_window(w, moment)]


# ---------------------------------------------------------------- checks

def _check(figure, limit, ok, detail=None, skipped=False):
    return {"figure": figure, "limit": limit, "verdict": SKIPPED if skipped else (PASS if ok else FAIL),
            "detail": detail}


def check_ratio(results, min_ratio):
    """(check, reason) for the share of healthy probes; skipped without probes."""
    if not results:
        return _check(None, min_ratio, True, "no probes given", skipped=True), None
    healthy = sum(1 for r in results if r["healthy"])
    ratio = healthy / float(len(results))
    check = _check(round(ratio, 4), min_ratio, ratio >= min_ratio, "%d of %d probes healthy" % (healthy, len(results)))
    if ratio >= min_ratio:
        return check, None
    down = "; ".join("%s: %s" % (r.get("name"), r.get("detail")) for r in results if not r["healthy"])
    return check, ("only %d of %d probes are healthy (ratio %.2f, below min_healthy_ratio %s): %s"
                   % (healthy, len(results), ratio, min_ratio, down))


def check_ceiling(what, figure, ceiling):
    """(check, reason) for a host figure in percent that must not exceed a ceiling."""
    figure = round(figure, 1)
    ok = figure <= ceiling
    reason = None if ok else "host %s use is %.1f %%, above the ceiling of %s %%" % (what, figure, ceiling)
    return _check(figure, ceiling, ok), reason


def check_window(windows, moment, required):
    """(check, reason, in_window) for the maintenance windows."""
    if not windows:
        return _check(None, None, True, "no maintenance windows given", skipped=True), None, None
    inside = matching_windows(windows, moment)
    if inside:
        detail = "now (%s) is inside %s" % (moment.isoformat(), ", ".join(inside))
    else:
        detail = "now (%s) is outside every window (%s)" % (moment.isoformat(), "; ".join(w["text"] for w in windows))
    ok = bool(inside) or not required
    reason = None if ok else "outside every maintenance window and require_window is true: %s" % detail
    return _check(bool(inside), "required" if required else "informational", ok, detail), reason, bool(inside)


def check_stop_flag(flag_set, path):
    reason = ("the emergency-stop flag is set (%s); clear it with playbooks/resume-chaos.yml when it is safe"
              % path) if flag_set else None
    return _check(flag_set, False, not flag_set, path), reason


def planned_as_containers(planned, containers=None):
    """Planned targets (names or services) as container summaries for ``is_protected``.

    Each name stands for itself (as a container name and as a service name); when the engine's
    containers are known, every container it names (by name or service) is added, so a
    protected label or a protected service behind a container name is caught too.
    """
    found = []
    for name in planned:
        found.append((name, {"id": "", "name": name, "labels": {}, "compose_service": name, "service": name}))
        for container in containers or []:
            if name in (container["name"], service_of(container)):
                found.append((name, container))
    return found


def check_protected(planned, protected, containers=None):
    if not planned:
        return _check([], protected, True, "no planned_targets given", skipped=True), None
    hits = sorted({name for name, container in planned_as_containers(planned, containers)
                   if is_protected(container, protected)})
    reason = None
    if hits:
        reason = ("planned target(s) %s are protected (listed in protected %s, or labelled "
                  "sutazai.chaos.protected=true)" % (", ".join(hits), protected))
    return _check(hits, protected, not hits), reason


def check_safe_mode(planned, duration, max_targets, max_duration):
    """(checks, reasons) of safe mode: blast radius and duration caps."""
    checks, reasons = {}, []
    count = len(planned or [])
    checks["safe_mode_targets"] = _check(count, max_targets, count <= max_targets)
    if count > max_targets:
        reasons.append("safe_mode allows at most %d target(s), %d are planned (%s)"
                       % (max_targets, count, ", ".join(planned)))
    if duration is None:
        checks["safe_mode_duration"] = _check(None, max_duration, True, "no planned_duration given", skipped=True)
    else:
        checks["safe_mode_duration"] = _check(duration, max_duration, duration <= max_duration)
        if duration > max_duration:
            reasons.append("safe_mode allows faults of at most %s s, planned_duration is %s s"
                           % (max_duration, duration))
    return checks, reasons


def validate(params):
    """Raise ChaosError for settings that can never be right; returns the parsed windows."""
    if not 0 <= params["min_healthy_ratio"] <= 1:
        raise ChaosError("min_healthy_ratio must be between 0 and 1, got %s" % params["min_healthy_ratio"])
    for key in ("max_cpu_percent", "max_memory_percent"):
        if not 0 < params[key] <= 100:
            raise ChaosError("%s must be above 0 and at most 100, got %s" % (key, params[key]))
    if params["max_targets_in_safe_mode"] < 0 or params["max_duration_in_safe_mode"] <= 0:
        raise ChaosError("max_targets_in_safe_mode must be 0 or more and max_duration_in_safe_mode above 0")
    if params.get("planned_duration") is not None and params["planned_duration"] < 0:
        raise ChaosError("planned_duration must be 0 or more seconds, got %s" % params["planned_duration"])
    windows = [parse_window(w, i) for i, w in enumerate(params.get("maintenance_windows") or [])]
    if params.get("require_window") and not windows:
        raise ChaosError("require_window is true but no maintenance_windows are given")
    return windows


def evaluate(params, measure):
    """The verdict. ``measure`` gives callables: probes() -> results, cpu() -> %, memory() -> %,
    stop_flag() -> bool, containers() -> summaries or None, and ``stop_flag_path``.

    Returns {safe, reasons, checks, in_window, now}.
    """
    windows = validate(params)
    moment = parse_now(params.get("now"))
    checks, reasons = {}, []

    def add(name, check, reason):
        checks[name] = check
        if reason:
            reasons.append(reason)

    add("emergency_stop", *check_stop_flag(measure["stop_flag"](), measure["stop_flag_path"]))
    window_check, reason, inside = check_window(windows, moment, params.get("require_window"))
    add("maintenance_window", window_check, reason)
    planned = params.get("planned_targets") or []
    add("protected", *check_protected(planned, params.get("protected") or [],
                                      measure["containers"]() if planned else None))
    if params.get("safe_mode"):
        mode_checks, mode_reasons = check_safe_mode(planned, params.get("planned_duration"),
                                                    params["max_targets_in_safe_mode"],
                                                    params["max_duration_in_safe_mode"])
        checks.update(mode_checks)
        reasons.extend(mode_reasons)
    add("healthy_ratio", *check_ratio(measure["probes"](), params["min_healthy_ratio"]))
    add("cpu", *check_ceiling("CPU", measure["cpu"](), params["max_cpu_percent"]))
    add("memory", *check_ceiling("memory", measure["memory"](), params["max_memory_percent"]))
    return {"safe": not reasons, "reasons": reasons, "checks": checks, "in_window": inside,
            "now": moment.isoformat()}
