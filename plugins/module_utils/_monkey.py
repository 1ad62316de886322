# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos monkey's decisions: its configuration checked, and replayable decisions per slot.

Every slot of a schedule has its own random numbers, seeded by sha256 of
``<salt>|<schedule>|<slot in UTC>``, drawn in a fixed order (roll, experiment, target), so a plan
made today and the tick at the slot agree, and any decision can be replayed from its record.
Everything the tick needs from the world (emergency stop, guard figures, alerts, past decisions,
last hits) is passed in. Pure Python, no Ansible objects.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import random
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ._catalogue import _nearest
from ._common import ChaosError
from ._graph import dependent_depths
from ._guard import FAIL, PASS, SKIPPED, in_window, parse_now
from ._monkey_calendar import (blackout_match, check_calendar, check_schedule_calendar, day_bounds, due_slot,
                               next_slot, parsed_calendar, slots, unknown_keys, utc_text)

SCHEDULE_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
COMPOSITE_KINDS = ("dependency", "resilience")  # the experiment picks its own targets
PICKS = ("random", "weighted")
REQUIRED = object()
TOP = {"enabled": False, "leashed": False, "timezone": "UTC", "salt": "", "grace": "10m", "blackout_dates": [],
       "maintenance_windows": [], "opt_out": [], "min_healthy_services": 0.8, "max_cpu_usage": 85,
       "max_memory_usage": 90, "prometheus_url": None, "schedules": []}
SCHEDULE = {"name": REQUIRED, "enabled": True, "experiments": REQUIRED, "frequency": REQUIRED, "days": None,
            "schedule_pattern": REQUIRED, "probability": REQUIRED, "safe_mode": True, "maintenance_window_only": False,
            "min_gap": 0, "max_runs_per_day": None, "targets": None, "pick": "random"}
NEVER_HIT_DAYS = 30
OPT_OUT_LABEL = "sutazai.chaos.opt-out=true"
ROOT = "chaos_monkey"


# ---------------------------------------------------------------- validation

def _bool(value, where, problems):
    try:
        return boolean(value, strict=True)
    except TypeError:
        problems.append("%s: %r is not true or false" % (where, value))
        return None


def _number(value, where, problems, low, high, low_open=False):
    """A number within [low, high] ((low, high] when low_open; no upper bound when high is None)."""
    try:
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
    except (TypeError, ValueError):
        problems.append("%s: %r is not a number" % (where, value))
        return None
    if not math.isfinite(number) or number < low or (low_open and number == low) or \
            (high is not None and number > high):
        bounds = "above %s" % low if high is None else (
            "above %s and at most %s" if low_open else "between %s and %s") % (low, high)
        problems.append("%s: must be %s, got %s" % (where, bounds, value))
        return None
    return int(number) if number == int(number) and not isinstance(value, float) else number


def _strings(value, where, problems, allow_empty=True):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        problems.append("%s: must be a list of names, got %r" % (where, value))
        return None
    if not value and not allow_empty:
        problems.append("%s: must name at least one service (leave it out to pick from the experiment's own "
                        "services)" % where)
        return None
    return list(value)


def _experiments(value, where, problems, catalogue, broken):
    """A list of names (weight 1 each) or a mapping name -> weight above 0 -> {name: weight}."""
    value = [value] if isinstance(value, str) else value
    if isinstance(value, list):
        entries = [("%s[%d]" % (where, index), name, 1) for index, name in enumerate(value)]
    elif isinstance(value, dict):
        entries = [("%s.%s" % (where, name), name, weight) for name, weight in value.items()]
    else:
        problems.append("%s: must be a list of experiment names or a mapping name -> weight, got %r" % (where, value))
        return None
    weights = {}
    for path, name, weight in entries:
        if not isinstance(name, str) or not name:
            problems.append("%s: %r is not an experiment name" % (path, name))
        elif name in weights:
            problems.append("%s: %s is listed twice (give a mapping name -> weight to favour one)" % (path, name))
        else:
            weights[name] = _number(weight, path, problems, 0, None, low_open=True)
            if weights[name] is None:
                del weights[name]
            elif (broken or {}).get(name):
                problems.append("%s: the experiment file of %s has problems: %s" % (path, name, broken[name]))
            elif catalogue is not None and name not in catalogue:
                problems.append("%s: no experiment %r in the catalogue%s; known: %s"
                                % (path, name, _nearest(name, catalogue), ", ".join(sorted(catalogue))))
    return weights


def _schedule(data, where, parsed, problems, catalogue, broken):
    unknown_keys(data, SCHEDULE, where, problems)
    for key, default in SCHEDULE.items():
        if default is REQUIRED and data.get(key) in (None, "", [], {}):
            problems.append("%s.%s: missing (required)" % (where, key))
    out = {key: None if default is REQUIRED else default for key, default in SCHEDULE.items()}
    out["name"] = data.get("name")
    for key in ("enabled", "safe_mode", "maintenance_window_only"):
        if data.get(key) is not None:
            out[key] = _bool(data[key], "%s.%s" % (where, key), problems)
    if data.get("experiments") not in (None, "", [], {}):
        out["experiments"] = _experiments(data["experiments"], where + ".experiments", problems, catalogue, broken)
    check_schedule_calendar(data, out, where, parsed, problems, ROOT)
    if data.get("probability") is not None:
        out["probability"] = _number(data["probability"], where + ".probability", problems, 0, 1)
    if data.get("max_runs_per_day") is not None:
        runs = data["max_runs_per_day"]
        if isinstance(runs, bool) or not isinstance(runs, int) or runs < 1:
            problems.append("%s.max_runs_per_day: must be a whole number of 1 or more (leave it out for no cap), "
                            "got %r" % (where, runs))
        out["max_runs_per_day"] = runs
    if "targets" in data and data["targets"] is not None:
        out["targets"] = _strings(data["targets"], where + ".targets", problems, allow_empty=False)
    if data.get("pick") is not None:
        out["pick"] = data["pick"]
        if data["pick"] not in PICKS:
            problems.append("%s.pick: %r is not one of %s%s"
                            % (where, data["pick"], ", ".join(PICKS), _nearest(data["pick"], PICKS)))
    if catalogue is not None and not out["targets"]:
        for name in out["experiments"] or {}:
            entry = catalogue.get(name) or {}
            if entry and entry.get("kind") not in COMPOSITE_KINDS and not entry.get("services"):
                problems.append("%s.experiments: %s names no services and the schedule no targets: nothing to pick"
                                % (where, name))
    return out


def validate_config(config, catalogue=None, broken=None):
    """The chaos_monkey variable -> normalized config; ChaosError listing every problem, each with its path.

    ``catalogue`` maps experiment names to their run specs (None: names are not checked); ``broken``
    maps names of experiment files with problems to those problems.
    """
    problems = []
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ChaosError("%s: must be a mapping, got %s" % (ROOT, type(config).__name__),
                         problems=["%s: must be a mapping" % ROOT])
    unknown_keys(config, TOP, ROOT, problems)
    out = {key: config.get(key) if config.get(key) is not None else default for key, default in TOP.items()}
    for key in ("enabled", "leashed"):
        out[key] = _bool(out[key], "%s.%s" % (ROOT, key), problems)
    out["salt"] = str(out["salt"])
    parsed = check_calendar(out, ROOT, problems)
    out["opt_out"] = _strings(out["opt_out"], ROOT + ".opt_out", problems) or []
    out["min_healthy_services"] = _number(out["min_healthy_services"], ROOT + ".min_healthy_services", problems, 0, 1)
    for key in ("max_cpu_usage", "max_memory_usage"):
        out[key] = _number(out[key], "%s.%s" % (ROOT, key), problems, 0, 100, low_open=True)
    if out["prometheus_url"] is not None and not isinstance(out["prometheus_url"], str):
        problems.append("%s.prometheus_url: %r is not a URL" % (ROOT, out["prometheus_url"]))
    schedules = out["schedules"]
    if not isinstance(schedules, list):
        problems.append("%s.schedules: must be a list of schedules, got %r" % (ROOT, schedules))
        schedules = []
    out["schedules"], seen = [], {}
    for index, data in enumerate(schedules):
        where = "%s.schedules[%d]" % (ROOT, index)
        if not isinstance(data, dict):
            problems.append("%s: must be a mapping, got %r" % (where, data))
            continue
        name = data.get("name")
        if isinstance(name, str) and name:
            where += " (%s)" % name
            if not SCHEDULE_NAME.match(name):
                problems.append("%s.name: %r may hold only letters, digits, '_', '.' and '-'" % (where, name))
            if name in seen:
                problems.append("%s.name: %r is the name of schedules[%d] too; names must be unique"
                                % (where, name, seen[name]))
            seen.setdefault(name, index)
        elif name is not None:
            problems.append("%s.name: %r is not a name" % (where, name))
        out["schedules"].append(_schedule(data, where, parsed, problems, catalogue, broken))
    if problems:
        raise ChaosError("%s has %d problem(s): %s. Nothing was decided." % (ROOT, len(problems), " | ".join(problems)),
                         problems=problems)
    return out


# ---------------------------------------------------------------- picks

def seed_material(salt, name, slot):
    return "%s|%s|%s" % (salt, name, utc_text(slot))


def draws(material):
    """(roll, experiment draw, target draw) of a slot, always all three, in this order."""
    rng = random.Random(int.from_bytes(hashlib.sha256(material.encode("utf-8")).digest(), "big"))
    return rng.random(), rng.random(), rng.random()


def weighted_pick(weights, draw):
    """The name a draw in [0, 1) lands on, names in sorted order each taking its weight's share."""
    names = sorted(weights)
    total = float(sum(weights[name] for name in names))
    if not names or total <= 0:
        return None
    point, reached = draw * total, 0.0
    for name in names:
        reached += weights[name]
        if point < reached:
            return name
    return names[-1]


def hit_time(value, where="last_hits"):
    """A last hit as epoch seconds or ISO 8601 -> aware datetime (None: never hit)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
        except (OverflowError, OSError, ValueError):
            raise ChaosError("%s: %r is not an epoch time this calendar can show" % (where, value))
    if isinstance(value, str):
        try:
            return parse_now(value)
        except ChaosError:
            pass
    raise ChaosError("%s: %r is neither epoch seconds nor an ISO 8601 timestamp" % (where, value))


def risk_weights(services, dependency_map=None, last_hits=None, last_verdicts=None, at=None):
    """weight = (1 + dependents, direct or transitive) x (1 + min(days since last hit, 30) / 7) x (2 if FAIL else 1)."""
    for service, needs in (dependency_map or {}).items():
        if needs is not None and not isinstance(needs, list):
            raise ChaosError("dependency_map.%s: %r is not a list of the services it depends on" % (service, needs))
    weights = {}
    for service in services:
        dependents = len(dependent_depths([service], dependency_map or {})) - 1
        last = hit_time((last_hits or {}).get(service), "last_hits.%s" % service)
        since = NEVER_HIT_DAYS if last is None else (at - last).total_seconds() / 86400.0
        days = min(max(since, 0), NEVER_HIT_DAYS)
        failed = str((last_verdicts or {}).get(service) or "").upper() == "FAIL"
        weights[service] = round((1 + dependents) * (1 + days / 7.0) * (2 if failed else 1), 4)
    return weights


def pick(schedule, slot, config, catalogue=None, risk=None):
    """The slot's roll, experiment, target and the target weights used."""
    risk = risk or {}
    material = seed_material(config["salt"], schedule["name"], slot)
    roll, experiment_draw, target_draw = draws(material)
    experiment = weighted_pick(schedule["experiments"], experiment_draw)
    entry = (catalogue or {}).get(experiment) or {}
    weights = {}
    if entry.get("kind") not in COMPOSITE_KINDS:
        candidates = schedule.get("targets") or entry.get("services") or []
        if schedule.get("pick") == "weighted":
            weights = risk_weights(candidates, risk.get("dependency_map"), risk.get("last_hits"),
                                   risk.get("last_verdicts"), slot)
        else:
            weights = {service: 1 for service in candidates}
    # the roll cut (not rounded) to 4 places: it stays below 1, and "cut roll < probability" decides exactly
    # as the full roll would for any probability of up to 4 places, so the record alone explains the decision
    return {"roll": math.floor(roll * 10000) / 10000.0, "experiment": experiment, "target": weighted_pick(weights, target_draw),
            "weights": weights, "seed_material": material}


# ---------------------------------------------------------------- checks

def _check(name, verdict, detail):
    return {"check": name, "verdict": verdict, "detail": detail}


def _flag_check(name, value, bad, good):
    """A gathered input that must be false or empty (None: not gathered, skipped)."""
    return _check(name, SKIPPED, "not gathered") if value is None else _check(name, FAIL if value else PASS,
                                                                              bad if value else good)


def static_checks(schedule, slot, config, calendar, moments=None):
    """Checks known in advance: enabled, blackout date, maintenance window (at the slot, or at ``moments``)."""
    checks = []
    if not config["enabled"]:
        checks.append(_check("enabled", FAIL, "the monkey is disabled (%s.enabled: false)" % ROOT))
    elif not schedule["enabled"]:
        checks.append(_check("enabled", FAIL, "schedule %s is disabled" % schedule["name"]))
    else:
        checks.append(_check("enabled", PASS, "the monkey and schedule %s are enabled" % schedule["name"]))
    day = slot.date()
    found = blackout_match(calendar["blackouts"], day)
    if not calendar["blackouts"]:
        checks.append(_check("blackout", SKIPPED, "no blackout_dates"))
    else:
        checks.append(_check("blackout", FAIL if found else PASS, "%s is %sa blackout date%s"
                             % (day.isoformat(), "" if found else "not ", " (%s)" % found if found else "")))
    checks.append(window_check(schedule, moments or [slot], calendar["windows"]))
    return checks


def window_check(schedule, moments, windows):
    if not schedule["maintenance_window_only"]:
        return _check("maintenance_window", SKIPPED, "maintenance_window_only is false")
    moments = sorted(set(moments))
    outside = [moment for moment in moments if not any(in_window(w, moment) for w in windows)]
    shown = " and ".join(moment.isoformat() for moment in outside or moments)
    verb = "is" if len(outside or moments) == 1 else "are"
    if outside:
        return _check("maintenance_window", FAIL, "%s %s outside every maintenance window (%s)"
                      % (shown, verb, "; ".join(w["text"] for w in windows)))
    return _check("maintenance_window", PASS, "%s %s inside a maintenance window" % (shown, verb))


def guard_check(guard, config):
    if guard is None:
        return _check("guard", SKIPPED, "guard figures not gathered")
    limits = (("healthy_ratio", "min_healthy_services", lambda f, l: f >= l, "<"),
              ("cpu_percent", "max_cpu_usage", lambda f, l: f <= l, ">"),
              ("memory_percent", "max_memory_usage", lambda f, l: f <= l, ">"))
    failed, held = [], []
    for figure, limit, ok, worse in limits:
        value = guard.get(figure)
        if value is None:
            continue
        if ok(value, config[limit]):
            held.append("%s %s" % (figure, value))
        else:
            failed.append("%s %s %s %s %s" % (figure, value, worse, limit, config[limit]))
    if failed:
        return _check("guard", FAIL, "; ".join(failed))
    return _check("guard", PASS if held else SKIPPED, ", ".join(held) + " within limits" if held else "no figures")


def _record_slot(record):
    """The slot of a past decision record as an aware datetime (None when it has none)."""
    text = (record.get("slot_utc") or record.get("slot")) if isinstance(record, dict) else None
    try:
        return parse_now(text) if text else None
    except ChaosError:
        return None


def runs_on(history, schedule, slot, zone):
    """How many decisions to run this schedule the history holds for the slot's local date."""
    start, end = day_bounds(slot.astimezone(zone).date(), zone)
    count = 0
    for record in history or []:
        moment = _record_slot(record)
        if moment is not None and record.get("schedule") == schedule["name"] and record.get("decision") == "run":
            count += start <= moment < end
    return count


def dynamic_checks(schedule, slot, now, config, calendar, state, picked):
    """Checks known only at the tick, in order; ``state`` holds what the lead gathered."""
    stop, alerts = state.get("emergency_stop"), state.get("alerts_firing")
    checks = [_flag_check("emergency_stop", stop, "the emergency-stop flag is set", "the emergency-stop flag is clear"),
              guard_check(state.get("guard"), config),
              _flag_check("alerts", alerts, "firing: %s" % ", ".join(alerts or []), "no alert firing")]
    cap = schedule["max_runs_per_day"]
    if cap is None:
        checks.append(_check("max_runs_per_day", SKIPPED, "no cap"))
    else:
        runs = runs_on(state.get("history"), schedule, slot, calendar["zone"])
        checks.append(_check("max_runs_per_day", FAIL if runs >= cap else PASS, "%d run(s) on %s already, cap %d"
                             % (runs, slot.date().isoformat(), cap)))
    checks.append(roll_check(picked, schedule))
    target = picked["target"]
    if target is None:
        return checks + [_check(name, SKIPPED, "no target picked (the experiment picks its own)")
                         for name in ("min_gap", "opt_out")]
    last = hit_time((state.get("last_hits") or {}).get(target), "last_hits.%s" % target)
    since = None if last is None else (now - last).total_seconds()
    checks.append(_check("min_gap", PASS if since is None or since >= schedule["min_gap"] else FAIL,
                         "%s was never hit" % target if since is None else "%s was last hit at %s, %d s ago; min_gap "
                         "%d s" % (target, utc_text(last), since, schedule["min_gap"])))
    opted = target in config["opt_out"] or target in (state.get("opted_out") or [])
    checks.append(_check("opt_out", FAIL if opted else PASS, "%s has not opted out" % target if not opted else
                         "%s is in %s.opt_out" % (target, ROOT) if target in config["opt_out"] else
                         "the containers of %s carry the label %s" % (target, OPT_OUT_LABEL)))
    return checks


def roll_check(picked, schedule):
    won = picked["roll"] < schedule["probability"]
    return _check("roll", PASS if won else FAIL, "%s %s probability %s"
                  % (picked["roll"], "<" if won else ">=", schedule["probability"]))


def _verdict(checks):
    for check in checks:
        if check["verdict"] == FAIL:
            return "skip", "%s: %s" % (check["check"], check["detail"])
    return "run", "every check passed"


# ---------------------------------------------------------------- plan and tick

def selected(config, only=None):
    names = [schedule["name"] for schedule in config["schedules"]]
    if only and only not in names:
        raise ChaosError("no schedule %r in %s.schedules%s; known: %s"
                         % (only, ROOT, _nearest(only, names), ", ".join(names) or "none"))
    return [schedule for schedule in config["schedules"] if not only or schedule["name"] == only]


def plan(config, start, days, catalogue=None, risk_inputs=None, only=None):
    """Every slot of every enabled schedule in [start, start + days), with the roll, the picks and the
    static checks; ``mark`` is run, skip (disabled), skip (blackout), skip (window) or skip (roll)."""
    calendar = parsed_calendar(config)
    rows = []
    for schedule in selected(config, only):
        if not schedule["enabled"]:
            continue
        for slot in slots(schedule, start, start + datetime.timedelta(days=days), calendar["zone"]):
            picked = pick(schedule, slot, config, catalogue, risk_inputs)
            checks = static_checks(schedule, slot, config, calendar) + [roll_check(picked, schedule)]
            decision, reason = _verdict(checks)
            failed = next((c["check"] for c in checks if c["verdict"] == FAIL), None)
            mark = "run" if failed is None else "skip (%s)" % {"enabled": "disabled", "blackout": "blackout",
                                                               "maintenance_window": "window", "roll": "roll"}[failed]
            rows.append({"schedule": schedule["name"], "slot": slot.isoformat(), "slot_utc": utc_text(slot),
                         "roll": picked["roll"], "probability": schedule["probability"],
                         "experiment": picked["experiment"], "target": picked["target"], "weights": picked["weights"],
                         "decision": decision, "mark": mark, "reason": reason, "safe_mode": schedule["safe_mode"],
                         "seed_material": picked["seed_material"]})
    return sorted(rows, key=lambda row: (row["slot_utc"], row["schedule"]))


def decide(schedule, slot, now, config, calendar, catalogue=None, state=None):
    """The decision record of a due slot."""
    state = state or {}
    picked = pick(schedule, slot, config, catalogue, state)
    checks = static_checks(schedule, slot, config, calendar, [slot, now.astimezone(calendar["zone"])])
    checks += dynamic_checks(schedule, slot, now, config, calendar, state, picked)
    decision, reason = _verdict(checks)
    if decision == "run":
        reason = "every check passed (roll %s)" % next(c["detail"] for c in checks if c["check"] == "roll")
    return {"schedule": schedule["name"], "slot": slot.isoformat(), "slot_utc": utc_text(slot),
            "tick_time": utc_text(now), "roll": picked["roll"], "probability": schedule["probability"],
            "experiment": picked["experiment"], "target": picked["target"], "weights": picked["weights"],
            "decision": decision, "reason": reason, "checks": checks, "safe_mode": schedule["safe_mode"],
            "leashed": config["leashed"],
            "action": "none" if decision == "skip" else ("record-only" if config["leashed"] else "inject"),
            "seed_material": picked["seed_material"]}


def tick(config, now, catalogue=None, state=None, only=None):
    """{"decisions": records of the due slots, "idle": [{schedule, reason, ...}] for the others}."""
    state = state or {}
    calendar = parsed_calendar(config)
    decided = {}
    for record in state.get("history") or []:
        moment = _record_slot(record)
        if moment is not None and isinstance(record.get("schedule"), str):
            decided.setdefault((record["schedule"], utc_text(moment)), record)
    decisions, idle = [], []
    for schedule in selected(config, only):
        slot = due_slot(schedule, now, config["grace"], calendar["zone"])
        if slot is None:
            upcoming = next_slot(schedule, now, calendar["zone"])
            idle.append({"schedule": schedule["name"], "reason": "no slot due",
                         "next_slot": upcoming.isoformat() if upcoming else None})
            continue
        earlier = decided.get((schedule["name"], utc_text(slot)))
        if earlier is not None:
            idle.append({"schedule": schedule["name"], "slot": slot.isoformat(),
                         "reason": "slot already decided at %s (%s)" % (earlier.get("tick_time"),
                                                                        earlier.get("decision"))})
            continue
        decisions.append(decide(schedule, slot, now, config, calendar, catalogue, state))
    return {"decisions": decisions, "idle": idle}
