# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The monkey's configuration check and its replayable decisions."""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import random

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._catalogue import run_spec
from ansible_collections.sutazai.chaos.plugins.module_utils import _monkey
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._monkey import (
    draws,
    hit_time,
    pick,
    plan,
    risk_weights,
    runs_on,
    seed_material,
    selected,
    tick,
    validate_config,
    weighted_pick,
)
from ansible_collections.sutazai.chaos.plugins.module_utils._monkey_calendar import slots, utc_text, zone_of

UTC = datetime.timezone.utc
BERLIN = zone_of("Europe/Berlin")
CATALOGUE = {
    "redis-crash": run_spec({"name": "redis-crash", "description": "d", "kind": "container",
                             "targets": {"services": ["redis"]}, "fault": {"action": "kill"}}, "x/redis-crash.yml"),
    "backend-pause": run_spec({"name": "backend-pause", "description": "d", "kind": "container",
                               "targets": {"services": ["backend"]}, "fault": {"action": "pause"}, "duration": 8},
                              "x/backend-pause.yml"),
    "api-timeout": run_spec({"name": "api-timeout", "description": "d", "kind": "dependency",
                             "fault": {"scenario": "api_timeout"}, "duration": 8}, "x/api-timeout.yml"),
    "no-services": {"name": "no-services", "kind": "container", "services": []},
}
DEPENDENCIES = {"backend": ["postgres", "redis"], "frontend": ["backend"], "postgres": [], "redis": []}
SCHEDULE = {"name": "nightly-container-chaos", "enabled": True, "experiments": ["redis-crash", "backend-pause"],
            "frequency": "weekly", "days": ["mon", "thu"], "schedule_pattern": "02:30", "probability": 0.3,
            "safe_mode": True, "maintenance_window_only": True, "min_gap": "6h", "max_runs_per_day": 2,
            "targets": ["redis", "backend"], "pick": "random"}
CONFIG = {"enabled": True, "leashed": False, "timezone": "Europe/Berlin", "salt": "sutazai", "grace": "10m",
          "blackout_dates": ["12-24..01-01", "2026-12-31", "2027-01-05..2027-01-07"],
          "maintenance_windows": [{"days": ["mon", "wed", "thu", "fri"], "start": "02:00", "end": "04:00",
                                   "timezone": "Europe/Berlin"}],
          "opt_out": ["postgres"], "min_healthy_services": 0.8, "max_cpu_usage": 85, "max_memory_usage": 90,
          "prometheus_url": None, "schedules": [SCHEDULE]}
WHERE = "chaos_monkey.schedules[0] (nightly-container-chaos)"
MONDAY_SLOT = "2026-12-14T01:30:00Z"          # Monday 02:30 in Berlin


def at(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


DELETE = object()


def edited(*edits):
    """A copy of the example config with edits: ("schedules.0.probability", 1.5); the value DELETE removes the key."""
    data = copy.deepcopy(CONFIG)
    for path, value in edits:
        *parents, last = path.split(".")
        node = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return data


def config_with(*edits):
    return validate_config(edited(*edits), CATALOGUE)


def problems_of(*edits, catalogue=None, broken=None):
    """Every problem of the edited example (checked against CATALOGUE unless another catalogue is given)."""
    with pytest.raises(ChaosError) as caught:
        validate_config(edited(*edits), CATALOGUE if catalogue is None else catalogue, broken)
    return caught.value.details["problems"]


# ---------------------------------------------------------------- validation

def test_the_example_is_valid_and_normalized():
    config = validate_config(copy.deepcopy(CONFIG), CATALOGUE)
    schedule = config["schedules"][0]
    assert config["grace"] == 600 and schedule["min_gap"] == 21600
    assert schedule["experiments"] == {"redis-crash": 1, "backend-pause": 1}
    assert (schedule["hour"], schedule["minute"], schedule["days"]) == (2, 30, ["mon", "thu"])
    json.dumps(config)   # JSON-serializable


def test_defaults_are_filled():
    config = validate_config({"schedules": [{"name": "a", "experiments": {"redis-crash": 2.5}, "frequency": "hourly",
                                             "schedule_pattern": ":05", "probability": 1}]}, CATALOGUE)
    assert {key: value for key, value in config.items() if key != "schedules"} == {
        "enabled": False, "leashed": False, "timezone": "UTC", "salt": "", "grace": 600, "blackout_dates": [],
        "maintenance_windows": [], "opt_out": [], "min_healthy_services": 0.8, "max_cpu_usage": 85,
        "max_memory_usage": 90, "prometheus_url": None}
    assert config["schedules"][0] == {
        "name": "a", "enabled": True, "experiments": {"redis-crash": 2.5}, "frequency": "hourly", "days": None,
        "schedule_pattern": ":05", "probability": 1, "safe_mode": True, "maintenance_window_only": False,
        "min_gap": 0, "max_runs_per_day": None, "targets": None, "pick": "random", "hour": None, "minute": 5}


@pytest.mark.parametrize("config", [None, {}])
def test_an_empty_config_is_valid_and_off(config):
    assert validate_config(config)["enabled"] is False


@pytest.mark.parametrize("edits, problem", [
    ([("schedules.0.probability", 1.5)], WHERE + ".probability: must be between 0 and 1, got 1.5"),
    ([("schedules.0.probability", -0.1)], WHERE + ".probability: must be between 0 and 1, got -0.1"),
    ([("schedules.0.probability", "often")], WHERE + ".probability: 'often' is not a number"),
    ([("schedules.0.frequency", "dayly")],
     WHERE + ".frequency: 'dayly' is not one of hourly, daily, weekdays, weekly (did you mean daily?)"),
    ([("schedules.0.frequency", "daily")], WHERE + ".days: only weekly schedules take days; a daily schedule fires "
                                                   "every day"),
    ([("schedules.0.frequency", "weekdays")], WHERE + ".days: only weekly schedules take days; a weekdays schedule "
                                                      "fires Monday to Friday"),
    ([("schedules.0.days", DELETE)], WHERE + ".days: missing (required for weekly schedules: the days it fires, "
                                             "e.g. [mon, thu])"),
    ([("schedules.0.days", ["mon", "funday"])], WHERE + ".days: unknown day 'funday' (expected one of mon, tue, wed, "
                                                        "thu, fri, sat, sun)"),
    ([("schedules.0.schedule_pattern", "25:00")], WHERE + ".schedule_pattern: '25:00' is not a time of day HH:MM "
                                                          "between 00:00 and 23:59"),
    ([("schedules.0.schedule_pattern", 150)], WHERE + ".schedule_pattern: got the number 150; YAML reads an unquoted "
                                                      "02:30 as a number (base 60): quote the time, "
                                                      "schedule_pattern: \"02:30\""),
    ([("blackout_dates", ["12-24..01-01", "13-01"])],
     "chaos_monkey.blackout_dates[1]: '13-01' is not a date: MM-DD (every year) or YYYY-MM-DD (once), or a range of "
     "the same kind such as 12-24..01-01 or 2027-01-05..2027-01-07"),
    ([("schedules.0.min_gap", "6 hours")], WHERE + ".min_gap: '6 hours' is not a duration (seconds as a number, or "
                                                   "text such as 90s, 30m, 6h, 2d, 1h30m)"),
    ([("grace", "soon")], "chaos_monkey.grace: 'soon' is not a duration (seconds as a number, or text such as 90s, "
                          "30m, 6h, 2d, 1h30m)"),
    ([("grace", 0)], "chaos_monkey.grace: must be above 0 (a tick later than grace after a slot misses it)"),
    ([("timezone", "Mars/Olympus")],
     "chaos_monkey.timezone: 'Mars/Olympus' is not a known IANA time zone (for example Europe/Berlin or UTC)"),
    ([("schedules.0.experiments", ["redis-crush"])],
     WHERE + ".experiments[0]: no experiment 'redis-crush' in the catalogue (did you mean redis-crash?); known: "
             "api-timeout, backend-pause, no-services, redis-crash"),
    ([("schedules.0.experiments", {"redis-crash": 0})], WHERE + ".experiments.redis-crash: must be above 0, got 0"),
    ([("schedules.0.experiments", {"redis-crash": -2})], WHERE + ".experiments.redis-crash: must be above 0, got -2"),
    ([("schedules.0.experiments", {"redis-crash": "x"})], WHERE + ".experiments.redis-crash: 'x' is not a number"),
    ([("schedules.0.experiments", ["redis-crash", "redis-crash"])],
     WHERE + ".experiments[1]: redis-crash is listed twice (give a mapping name -> weight to favour one)"),
    ([("schedules.0.experiments", 3)],
     WHERE + ".experiments: must be a list of experiment names or a mapping name -> weight, got 3"),
    ([("schedules.0.experiments", [])], WHERE + ".experiments: missing (required)"),
    ([("schedules.0.targets", [])], WHERE + ".targets: must name at least one service (leave it out to pick from the "
                                            "experiment's own services)"),
    ([("schedules.0.targets", [1])], WHERE + ".targets: must be a list of names, got [1]"),
    ([("schedules.0.targets", DELETE), ("schedules.0.experiments", ["no-services"])],
     WHERE + ".experiments: no-services names no services and the schedule no targets: nothing to pick"),
    ([("schedules.0.pick", "riskiest")], WHERE + ".pick: 'riskiest' is not one of random, weighted"),
    ([("schedules.0.pick", "weigted")], WHERE + ".pick: 'weigted' is not one of random, weighted (did you mean "
                                                "weighted?)"),
    ([("schedules.0.max_runs_per_day", 0)], WHERE + ".max_runs_per_day: must be a whole number of 1 or more (leave "
                                                    "it out for no cap), got 0"),
    ([("schedules.0.enabled", "maybe")], WHERE + ".enabled: 'maybe' is not true or false"),
    ([("schedules.0.name", "night shift")],
     "chaos_monkey.schedules[0] (night shift).name: 'night shift' may hold only letters, digits, '_', '.' and '-'"),
    ([("schedules.0.probabilty", 0.5)],
     WHERE + ".probabilty: unknown key (did you mean probability?); known: days, enabled, experiments, frequency, "
             "maintenance_window_only, max_runs_per_day, min_gap, name, pick, probability, safe_mode, "
             "schedule_pattern, targets"),
    ([("blackout_date", [])], "chaos_monkey.blackout_date: unknown key (did you mean blackout_dates?); known: "
                              "blackout_dates, enabled, grace, leashed, maintenance_windows, max_cpu_usage, "
                              "max_memory_usage, min_healthy_services, opt_out, prometheus_url, salt, schedules, "
                              "timezone"),
    ([("maintenance_windows.0.timezon", "UTC")], "chaos_monkey.maintenance_windows[0].timezon: unknown key (did you "
                                                 "mean timezone?); known: days, end, start, timezone"),
    ([("maintenance_windows.0.start", "2am")], "chaos_monkey.maintenance_windows[0].start '2am' is not a time of "
                                               "day HH:MM between 00:00 and 23:59"),
    ([("maintenance_windows", [])], WHERE + ".maintenance_window_only: true, but chaos_monkey.maintenance_windows is "
                                            "empty: the schedule could never run"),
    ([("maintenance_windows.0.days", ["tue"])],
     WHERE + ": no slot of it (weekly 02:30) is ever inside a maintenance window (tue 02:00-04:00 Europe/Berlin): "
             "it could never run"),
    ([("maintenance_windows.0.days", 1.5)], "chaos_monkey.maintenance_windows[0].days: 1.5 is not a list of days"),
    ([("maintenance_windows.0.timezone", 5)], "chaos_monkey.maintenance_windows[0].timezone: 5 is not a time zone name"),
    ([("grace", 10 ** 30)], "chaos_monkey.grace: must be between 0 and 31622400 seconds (366 days), got %d" % 10 ** 30),
    ([("min_healthy_services", 1.2)], "chaos_monkey.min_healthy_services: must be between 0 and 1, got 1.2"),
    ([("max_cpu_usage", 0)], "chaos_monkey.max_cpu_usage: must be above 0 and at most 100, got 0"),
    ([("max_memory_usage", 150)], "chaos_monkey.max_memory_usage: must be above 0 and at most 100, got 150"),
    ([("enabled", "sometimes")], "chaos_monkey.enabled: 'sometimes' is not true or false"),
    ([("prometheus_url", 9090)], "chaos_monkey.prometheus_url: 9090 is not a URL"),
    ([("opt_out", {"postgres": True})], "chaos_monkey.opt_out: must be a list of names, got {'postgres': True}"),
    ([("schedules", [SCHEDULE, SCHEDULE])],
     "chaos_monkey.schedules[1] (nightly-container-chaos).name: 'nightly-container-chaos' is the name of "
     "schedules[0] too; names must be unique"),
    ([("schedules", ["nightly"])], "chaos_monkey.schedules[0]: must be a mapping, got 'nightly'"),
    ([("schedules.0.name", DELETE)], "chaos_monkey.schedules[0].name: missing (required)"),
])
def test_each_problem_names_its_path(edits, problem):
    assert problem in problems_of(*edits)


def test_every_problem_at_once():
    found = problems_of(("schedules.0.probability", 1.5), ("timezone", "Nowhere/Land"), ("grace", "x"),
                        ("schedules.0.experiments", {"redis-crush": 0}), ("schedules.0.frequency", "often"))
    assert len(found) == 5
    with pytest.raises(ChaosError) as caught:
        validate_config(dict(CONFIG, grace="x", timezone="Nowhere/Land"), CATALOGUE)
    assert caught.value.msg.startswith("chaos_monkey has 2 problem(s): chaos_monkey.timezone: ")
    assert caught.value.msg.endswith(". Nothing was decided.")


def test_a_broken_experiment_file_named_by_a_schedule():
    found = problems_of(catalogue={}, broken={"redis-crash": "experiments/redis-crash.yml: fault.action: 'nuke' is "
                                                             "not one of kill, stop, restart, pause"})
    assert WHERE + ".experiments[0]: the experiment file of redis-crash has problems: experiments/redis-crash.yml: " \
                   "fault.action: 'nuke' is not one of kill, stop, restart, pause" in found


def test_without_a_catalogue_names_are_not_checked():
    assert validate_config(dict(CONFIG, schedules=[dict(SCHEDULE, experiments=["anything"])]))


def test_not_a_mapping():
    with pytest.raises(ChaosError, match=r"^chaos_monkey: must be a mapping, got list"):
        validate_config([1])


# ---------------------------------------------------------------- seeds and picks

def test_draws_are_seeded_by_sha256_of_the_material():
    material = seed_material("sutazai", "nightly", at(MONDAY_SLOT))
    assert material == "sutazai|nightly|2026-12-14T01:30:00Z"
    rng = random.Random(int.from_bytes(hashlib.sha256(material.encode()).digest(), "big"))
    assert draws(material) == (rng.random(), rng.random(), rng.random())


def test_the_recorded_roll_is_cut_to_4_places(monkeypatch):
    config = config_with(("schedules.0.probability", 1))
    monkeypatch.setattr(_monkey, "draws", lambda material: (0.99996, 0.0, 0.0))
    picked = pick(config["schedules"][0], at(MONDAY_SLOT), config, CATALOGUE)
    assert picked["roll"] == 0.9999            # rounding would make it 1.0, and probability 1 would not run
    assert one_decision(config)["decision"] == "run"


def test_same_slot_same_picks_different_salt_different():
    config = config_with()
    schedule = config["schedules"][0]
    found = slots(schedule, at("2026-06-01T00:00:00Z"), at("2026-08-01T00:00:00Z"), BERLIN)
    first = [pick(schedule, slot, config, CATALOGUE) for slot in found]
    assert first == [pick(schedule, slot, config, CATALOGUE) for slot in found]
    salted = [pick(schedule, slot, dict(config, salt="other"), CATALOGUE) for slot in found]
    assert [p["roll"] for p in first] != [p["roll"] for p in salted]
    assert all(p["seed_material"].startswith("other|") for p in salted)


def test_the_draws_do_not_depend_on_the_probability():
    config = config_with()
    low = dict(config["schedules"][0], probability=0.0)
    high = dict(config["schedules"][0], probability=1.0)
    for slot in slots(low, at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z"), BERLIN):
        assert pick(low, slot, config, CATALOGUE) == pick(high, slot, config, CATALOGUE)


@pytest.mark.parametrize("weights, draw, expected", [
    ({"a": 1, "b": 3}, 0.0, "a"), ({"a": 1, "b": 3}, 0.2499, "a"), ({"a": 1, "b": 3}, 0.25, "b"),
    ({"b": 3, "a": 1}, 0.2, "a"), ({"a": 1, "b": 3}, 0.9999999, "b"), ({}, 0.5, None), ({"a": 0}, 0.5, None),
])
def test_weighted_pick(weights, draw, expected):
    assert weighted_pick(weights, draw) == expected


def test_weighted_picks_follow_the_weights_over_many_slots():
    """Fixed seeds (the slots of a fixed year): the counts are always the same, the tolerance cannot flake."""
    config = validate_config({"schedules": [{"name": "h", "experiments": {"redis-crash": 1, "backend-pause": 3},
                                             "frequency": "hourly", "schedule_pattern": ":00", "probability": 0.25,
                                             "targets": ["a", "b", "c"], "pick": "weighted"}]}, CATALOGUE)
    schedule = config["schedules"][0]
    found = slots(schedule, at("2026-01-01T00:00:00Z"), at("2026-07-01T00:00:00Z"), UTC)
    risk = {"dependency_map": {"b": ["a"], "c": ["a"]}, "last_hits": {}, "last_verdicts": {"c": "FAIL"}}
    picks = [pick(schedule, slot, config, CATALOGUE, risk) for slot in found]
    assert picks[0]["weights"] == {"a": 15.8571, "b": 5.2857, "c": 10.5714}     # 3:1:2
    share = {name: sum(p["target"] == name for p in picks) / len(picks) for name in "abc"}
    assert share == pytest.approx({"a": 0.5, "b": 1 / 6.0, "c": 1 / 3.0}, abs=0.03)
    pause = sum(p["experiment"] == "backend-pause" for p in picks) / len(picks)
    assert pause == pytest.approx(0.75, abs=0.03)
    rolled = sum(p["roll"] < 0.25 for p in picks) / len(picks)
    assert rolled == pytest.approx(0.25, abs=0.03)


def test_targets_default_to_the_experiment_services_and_composites_pick_their_own():
    config = config_with(("schedules.0.targets", DELETE), ("schedules.0.experiments", ["redis-crash"]))
    picked = pick(config["schedules"][0], at(MONDAY_SLOT), config, CATALOGUE)
    assert (picked["target"], picked["weights"]) == ("redis", {"redis": 1})
    config = config_with(("schedules.0.experiments", ["api-timeout"]))
    picked = pick(config["schedules"][0], at(MONDAY_SLOT), config, CATALOGUE)
    assert (picked["experiment"], picked["target"], picked["weights"]) == ("api-timeout", None, {})


NOW = at("2026-06-01T00:00:00Z")


@pytest.mark.parametrize("service, hits, verdicts, weight", [
    ("redis", {}, {}, round(3 * (1 + 30 / 7.0), 4)),                         # backend and frontend depend on it
    ("redis", {"redis": NOW.timestamp() - 7 * 86400}, {}, 6.0),              # a week ago: 3 x 2
    ("redis", {"redis": NOW.timestamp() - 7 * 86400}, {"redis": "FAIL"}, 12.0),
    ("redis", {"redis": NOW.timestamp() - 7 * 86400}, {"redis": "fail"}, 12.0),
    ("redis", {"redis": NOW.timestamp() - 7 * 86400}, {"redis": "PASS"}, 6.0),
    ("redis", {"redis": NOW.timestamp() - 90 * 86400}, {}, round(3 * (1 + 30 / 7.0), 4)),   # capped at 30 days
    ("redis", {"redis": NOW.timestamp() + 3600}, {}, 3.0),                  # a clock ahead: 0 days
    ("redis", {"redis": "2026-05-25T00:00:00Z"}, {}, 6.0),
    ("frontend", {"frontend": NOW.timestamp()}, {}, 1.0),                   # nobody depends on it, just hit
    ("backend", {"backend": NOW.timestamp() - 3.5 * 86400}, {}, 3.0),       # frontend: 2 x 1.5
    ("unknown", {}, {}, round(1 + 30 / 7.0, 4)),
])
def test_risk_weights(service, hits, verdicts, weight):
    assert risk_weights([service], DEPENDENCIES, hits, verdicts, NOW) == {service: weight}


@pytest.mark.parametrize("value, expected", [
    (None, None), ("", None), (1780272000, "2026-06-01T00:00:00Z"), (1780272000.5, "2026-06-01T00:00:00Z"),
    ("2026-06-01T02:00:00+02:00", "2026-06-01T00:00:00Z"),
])
def test_hit_time(value, expected):
    found = hit_time(value)
    assert (utc_text(found) if found else None) == expected


@pytest.mark.parametrize("value", ["yesterday", [1], True, 1e20])
def test_hit_time_refuses(value):
    with pytest.raises(ChaosError, match="^last_hits.redis: "):
        hit_time(value, "last_hits.redis")


# ---------------------------------------------------------------- tick

CLEAR = {"emergency_stop": False, "guard": {"healthy_ratio": 1.0, "cpu_percent": 10, "memory_percent": 20},
         "alerts_firing": [], "history": [], "last_hits": {}, "last_verdicts": {}, "opted_out": [],
         "dependency_map": DEPENDENCIES}
RUNNING = [("schedules.0.probability", 1), ("schedules.0.targets", ["redis"])]


def one_decision(config, now=MONDAY_SLOT, state=None):
    answer = tick(config, at(now), CATALOGUE, dict(CLEAR, **(state or {})))
    assert len(answer["decisions"]) == 1, answer
    return answer["decisions"][0]


def test_a_decision_to_run():
    record = one_decision(config_with(*RUNNING), "2026-12-14T01:35:00Z")
    assert record["decision"] == "run" and record["action"] == "inject" and record["leashed"] is False
    assert record["reason"].startswith("every check passed (roll ") and record["reason"].endswith(" < probability 1)")
    assert (record["schedule"], record["slot"], record["slot_utc"], record["tick_time"]) == (
        "nightly-container-chaos", "2026-12-14T02:30:00+01:00", MONDAY_SLOT, "2026-12-14T01:35:00Z")
    assert (record["experiment"] in ("redis-crash", "backend-pause"), record["target"], record["weights"]) == (
        True, "redis", {"redis": 1})
    assert record["seed_material"] == "sutazai|nightly-container-chaos|" + MONDAY_SLOT
    assert [c["check"] for c in record["checks"]] == ["enabled", "blackout", "maintenance_window", "emergency_stop",
                                                      "guard", "alerts", "max_runs_per_day", "roll", "min_gap",
                                                      "opt_out"]
    assert {c["verdict"] for c in record["checks"]} == {"pass"}
    assert set(record) == {"schedule", "slot", "slot_utc", "tick_time", "roll", "probability", "experiment", "target",
                           "weights", "decision", "reason", "checks", "safe_mode", "leashed", "action",
                           "seed_material"}
    json.dumps(record)


def test_leashed_decides_the_same_and_records_only():
    free = one_decision(config_with(*RUNNING))
    leashed = one_decision(config_with(("leashed", True), *RUNNING))
    assert (leashed["decision"], leashed["leashed"], leashed["action"]) == ("run", True, "record-only")
    assert {k: v for k, v in leashed.items() if k not in ("leashed", "action")} == \
        {k: v for k, v in free.items() if k not in ("leashed", "action")}


HIT = at(MONDAY_SLOT).timestamp() - 3600


@pytest.mark.parametrize("edits, state, reason", [
    ([("enabled", False)], {}, "enabled: the monkey is disabled (chaos_monkey.enabled: false)"),
    ([("schedules.0.enabled", False)], {}, "enabled: schedule nightly-container-chaos is disabled"),
    ([("blackout_dates", ["12-14"])], {}, "blackout: 2026-12-14 is a blackout date (12-14)"),
    ([("maintenance_windows.0.days", ["thu"])], {}, "maintenance_window: 2026-12-14T02:30:00+01:00 is outside every "
                                                    "maintenance window (thu 02:00-04:00 Europe/Berlin)"),
    ([], {"emergency_stop": True}, "emergency_stop: the emergency-stop flag is set"),
    ([], {"guard": {"healthy_ratio": 0.5}}, "guard: healthy_ratio 0.5 < min_healthy_services 0.8"),
    ([], {"guard": {"healthy_ratio": 0.9, "cpu_percent": 95.5, "memory_percent": 91}},
     "guard: cpu_percent 95.5 > max_cpu_usage 85; memory_percent 91 > max_memory_usage 90"),
    ([], {"alerts_firing": ["HighLatency", "Watchdog"]}, "alerts: firing: HighLatency, Watchdog"),
    ([], {"history": [{"schedule": "nightly-container-chaos", "decision": "run", "slot": "2026-12-14T00:30:00+01:00"},
                      {"schedule": "nightly-container-chaos", "decision": "run", "slot_utc": "2026-12-14T00:00:00Z"}]},
     "max_runs_per_day: 2 run(s) on 2026-12-14 already, cap 2"),
    ([("schedules.0.probability", 0)], {}, "roll: "),
    ([], {"last_hits": {"redis": HIT}}, "min_gap: redis was last hit at 2026-12-14T00:30:00Z, 3600 s ago; min_gap "
                                        "21600 s"),
    ([("opt_out", ["redis"])], {}, "opt_out: redis is in chaos_monkey.opt_out"),
    ([], {"opted_out": ["redis"]}, "opt_out: the containers of redis carry the label sutazai.chaos.opt-out=true"),
])
def test_each_check_is_a_reason_to_skip(edits, state, reason):
    record = one_decision(config_with(*(RUNNING + edits)), state=state)
    assert record["decision"] == "skip" and record["action"] == "none"
    assert record["reason"].startswith(reason)
    failed = [c for c in record["checks"] if c["verdict"] == "fail"]
    assert "%s: %s" % (failed[0]["check"], failed[0]["detail"]) == record["reason"]


def test_the_first_failure_is_the_reason_and_every_check_is_recorded():
    record = one_decision(config_with(("blackout_dates", ["12-14"]), *RUNNING),
                          state={"emergency_stop": True, "alerts_firing": ["X"]})
    assert record["reason"].startswith("blackout: ")
    assert [c["check"] for c in record["checks"] if c["verdict"] == "fail"] == ["blackout", "emergency_stop", "alerts"]


def test_inputs_not_gathered_are_skipped():
    record = one_decision(config_with(*RUNNING), state={"emergency_stop": None, "guard": None, "alerts_firing": None})
    verdicts = {c["check"]: (c["verdict"], c["detail"]) for c in record["checks"]}
    assert verdicts["emergency_stop"] == verdicts["alerts"] == ("skipped", "not gathered")
    assert verdicts["guard"] == ("skipped", "guard figures not gathered")
    assert record["decision"] == "run"


def test_a_composite_experiment_skips_the_target_checks():
    record = one_decision(config_with(("schedules.0.probability", 1), ("schedules.0.experiments", ["api-timeout"])))
    assert (record["experiment"], record["target"], record["decision"]) == ("api-timeout", None, "run")
    assert [c["verdict"] for c in record["checks"][-2:]] == ["skipped", "skipped"]


def test_the_window_is_judged_at_the_slot_and_at_the_tick():
    config = config_with(("maintenance_windows.0.end", "02:35"), ("grace", "10m"), *RUNNING)
    assert one_decision(config, "2026-12-14T01:34:00Z")["decision"] == "run"
    assert one_decision(config, "2026-12-14T01:36:00Z")["reason"].startswith(
        "maintenance_window: 2026-12-14T02:36:00+01:00 is outside every maintenance window")


def test_no_slot_due_and_a_slot_already_decided():
    config = config_with(*RUNNING)
    answer = tick(config, at("2026-12-14T01:40:00Z"), CATALOGUE, CLEAR)         # grace is 10m: missed
    assert answer == {"decisions": [], "idle": [{"schedule": "nightly-container-chaos", "reason": "no slot due",
                                                 "next_slot": "2026-12-17T02:30:00+01:00"}]}
    earlier = one_decision(config)
    again = tick(config, at("2026-12-14T01:31:00Z"), CATALOGUE, dict(CLEAR, history=[earlier]))
    assert again["decisions"] == []
    assert again["idle"] == [{"schedule": "nightly-container-chaos", "slot": "2026-12-14T02:30:00+01:00",
                              "reason": "slot already decided at 2026-12-14T01:30:00Z (run)"}]


def test_malformed_state_is_refused_or_ignored_without_a_traceback():
    config = config_with(*RUNNING, ("schedules.0.pick", "weighted"))
    history = [{"schedule": ["nightly-container-chaos"], "slot_utc": MONDAY_SLOT, "decision": "run"}, "x", None,
               {"schedule": "nightly-container-chaos", "slot": 5, "decision": ["run"]}]
    assert one_decision(config, state={"history": history})["decision"] == "run"
    with pytest.raises(ChaosError, match=r"^dependency_map.frontend: 'backend' is not a list of the services it "):
        tick(config, at(MONDAY_SLOT), CATALOGUE, dict(CLEAR, dependency_map={"frontend": "backend"}))


def test_runs_are_counted_on_the_slot_local_day():
    config = config_with()
    schedule = config["schedules"][0]
    history = [{"schedule": schedule["name"], "decision": "run", "slot_utc": "2026-12-13T22:59:00Z"},  # Sunday 23:59
               {"schedule": schedule["name"], "decision": "run", "slot_utc": "2026-12-13T23:00:00Z"},  # Monday 00:00
               {"schedule": schedule["name"], "decision": "skip", "slot_utc": "2026-12-14T01:00:00Z"},
               {"schedule": "other", "decision": "run", "slot_utc": "2026-12-14T01:00:00Z"},
               {"schedule": schedule["name"], "decision": "run", "slot": "not a time"}, "not a record"]
    assert runs_on(history, schedule, at(MONDAY_SLOT).astimezone(BERLIN), BERLIN) == 1


def test_selected_schedule():
    config = config_with()
    assert selected(config, "nightly-container-chaos") == config["schedules"]
    with pytest.raises(ChaosError, match=r"no schedule 'nightly' in chaos_monkey.schedules; known: nightly-container"):
        selected(config, "nightly")


# ---------------------------------------------------------------- plan

def test_the_plan_is_identical_twice_and_agrees_with_the_tick():
    config = config_with(("schedules.0.probability", 0.5))
    risk = {"dependency_map": DEPENDENCIES, "last_hits": {"redis": 1780000000}, "last_verdicts": {"redis": "FAIL"}}
    first = plan(config, at("2026-12-01T00:00:00Z"), 60, CATALOGUE, risk)
    assert first == plan(copy.deepcopy(config), at("2026-12-01T00:00:00Z"), 60, copy.deepcopy(CATALOGUE),
                         copy.deepcopy(risk))
    row = next(r for r in first if r["slot_utc"] == MONDAY_SLOT)
    record = one_decision(config, state=dict(CLEAR, **risk))
    assert {k: row[k] for k in ("roll", "experiment", "target", "weights", "seed_material")} == \
        {k: record[k] for k in ("roll", "experiment", "target", "weights", "seed_material")}


def test_the_plan_marks():
    config = config_with(("schedules.0.probability", 0.5), ("maintenance_windows.0.days", ["mon"]))
    rows = plan(config, at("2026-12-01T00:00:00Z"), 45, CATALOGUE)
    marks = {row["slot"][:10]: row["mark"] for row in rows}
    assert marks["2026-12-03"] == "skip (window)"                   # a Thursday
    assert marks["2026-12-28"] == "skip (blackout)"                 # a Monday in 12-24..01-01
    assert {marks[day] for day in ("2026-12-07", "2026-12-14", "2026-12-21", "2027-01-04", "2027-01-11")} == \
        {"run", "skip (roll)"}
    for row in rows:
        assert (row["decision"] == "run") == (row["mark"] == "run")
        assert row["mark"] != "skip (roll)" or row["roll"] >= 0.5


def test_the_plan_of_a_disabled_monkey_and_of_a_disabled_schedule():
    rows = plan(config_with(("enabled", False)), at("2026-12-01T00:00:00Z"), 7, CATALOGUE)
    assert rows and {row["mark"] for row in rows} == {"skip (disabled)"}
    assert plan(config_with(("schedules.0.enabled", False)), at("2026-12-01T00:00:00Z"), 7, CATALOGUE) == []
