# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos_monkey action: arguments, catalogue, and the shape of validate, plan and tick answers."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.sutazai.chaos.plugins.action.chaos_monkey import (
    ActionModule,
    load_catalogue,
    plan_table,
    summary,
)

import action_runner  # noqa: E402,I001 (tests/unit/plugins/action/action_runner.py)

PAUSE = """---
name: backend-pause
description: Freeze the backend.
kind: container
targets: {services: [backend]}
fault: {action: pause}
duration: 8
"""
KILL = """---
name: redis-crash
description: Crash redis.
kind: container
targets: {services: [redis]}
fault: {action: kill}
"""
TIMEOUT = """---
name: api-timeout
description: Time out.
kind: dependency
fault: {scenario: api_timeout}
duration: 8
"""
SCHEDULE = {"name": "nightly", "experiments": ["redis-crash", "backend-pause"], "frequency": "daily",
            "schedule_pattern": "02:30", "probability": 1, "targets": ["redis"]}
CONFIG = {"enabled": True, "timezone": "Europe/Berlin", "salt": "sutazai", "schedules": [SCHEDULE]}
TICK = "2026-12-14T01:31:00Z"     # Monday 02:31 in Berlin


@pytest.fixture
def catalogue(tmp_path):
    folder = tmp_path / "experiments"
    folder.mkdir()
    for name, text in (("backend-pause", PAUSE), ("redis-crash", KILL), ("api-timeout", TIMEOUT)):
        (folder / (name + ".yml")).write_text(text, encoding="utf-8")
    (folder / "broken.yml").write_text("name: broken\n", encoding="utf-8")
    return folder


def run_action(**args):
    return action_runner.run_action(ActionModule, "chaos_monkey", **args)


def config(**changes):
    data = copy.deepcopy(CONFIG)
    data.update(changes)
    return data


# --- load_catalogue ---------------------------------------------------------------------------------------------

def test_load_catalogue_splits_valid_and_broken(catalogue, monkeypatch):
    monkeypatch.chdir(catalogue.parent)
    valid, broken = load_catalogue(str(catalogue))
    assert sorted(valid) == ["api-timeout", "backend-pause", "redis-crash"]
    assert valid["redis-crash"]["services"] == ["redis"] and valid["redis-crash"]["file"].endswith("redis-crash.yml")
    assert broken == {"broken": "experiments/broken.yml: description: missing (required); kind: missing (required)"}


# --- validate ---------------------------------------------------------------------------------------------------

def test_validate_gives_each_schedule_its_cron_and_rrule(catalogue):
    result = run_action(config=config(), action="validate", now=TICK, experiment_dir=str(catalogue))
    assert not result.get("failed"), result
    assert (result["action"], result["now"], result["changed"]) == ("validate", TICK, False)
    assert result["config"]["schedules"][0]["experiments"] == {"redis-crash": 1, "backend-pause": 1}
    (schedule,) = result["schedules"]
    assert schedule["name"] == "nightly"
    assert schedule["cron"] == {"minute": "30", "hour": "0,1", "weekday": "*", "day": "*", "month": "*"}
    assert schedule["rrule"] == ("DTSTART;TZID=Europe/Berlin:20260101T000000 "
                                 "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR,SA,SU;BYHOUR=2;BYMINUTE=30;BYSECOND=0")
    json.dumps(result)


def test_validate_with_the_shipped_catalogue():
    result = run_action(config=config(), action="validate", now=TICK)
    assert not result.get("failed"), result


@pytest.mark.parametrize("changes, problem", [
    ({"schedules": [dict(SCHEDULE, probability=1.5)]},
     "chaos_monkey.schedules[0] (nightly).probability: must be between 0 and 1, got 1.5"),
    ({"schedules": [dict(SCHEDULE, experiments=["broken"])]},
     "chaos_monkey.schedules[0] (nightly).experiments[0]: the experiment file of broken has problems: "
     "experiments/broken.yml: description: missing (required); kind: missing (required)"),
    ({"schedules": [dict(SCHEDULE, experiments=["redis-crush"])]},
     "chaos_monkey.schedules[0] (nightly).experiments[0]: no experiment 'redis-crush' in the catalogue (did you mean "
     "redis-crash?); known: api-timeout, backend-pause, redis-crash"),
])
@pytest.mark.parametrize("action", ["validate", "plan", "tick"])
def test_a_bad_config_fails_with_every_problem_and_nothing_else(catalogue, monkeypatch, changes, problem, action):
    monkeypatch.chdir(catalogue.parent)
    result = run_action(config=config(timezone="Mars/Base", **changes), action=action, now=TICK,
                        experiment_dir=str(catalogue))
    assert result["failed"] is True
    assert result["problems"] == ["chaos_monkey.timezone: 'Mars/Base' is not a known IANA time zone (for example "
                                  "Europe/Berlin or UTC)", problem]
    assert result["msg"] == "chaos_monkey has 2 problem(s): %s. Nothing was decided." % " | ".join(result["problems"])
    assert not {"plan", "table", "decisions", "run", "schedules", "config"} & set(result)


@pytest.mark.parametrize("args, message", [
    ({"config": CONFIG, "bogus": 1}, "Unsupported parameters for "),
    ({"config": CONFIG, "action": "dance"}, "value of action must be one of: plan, tick, validate, got: dance"),
    ({"action": "tick"}, "missing required arguments: config"),
    ({"config": "not a dict"}, "unable to convert to dict"),
    ({"config": CONFIG, "guard": {"cpu": 1}}, "Unsupported parameters for "),
    ({"config": CONFIG, "guard": True}, "guard must be a mapping of cpu_percent, healthy_ratio, memory_percent, got True"),
    ({"config": CONFIG, "guard": [1]}, "guard must be a mapping of "),
    ({"config": CONFIG, "guard": "x"}, "dictionary requested"),
    ({"config": CONFIG, "history": ["x"]}, "Elements value for option 'history' is of type"),
    ({"config": CONFIG, "now": "yesterday"}, "now 'yesterday' is not an ISO 8601 timestamp"),
    ({"config": CONFIG, "action": "plan", "days": 0, "now": TICK}, "days must be between 1 and 366, got 0"),
    ({"config": CONFIG, "schedule": "nighty", "now": TICK}, "no schedule 'nighty' in chaos_monkey.schedules (did you "
                                                            "mean nightly?); known: nightly"),
    ({"config": CONFIG, "now": TICK, "last_hits": {"redis": "last tuesday"}},
     "last_hits.redis: 'last tuesday' is neither epoch seconds nor an ISO 8601 timestamp"),
])
def test_user_mistakes_fail_without_a_traceback(catalogue, args, message):
    result = run_action(experiment_dir=str(catalogue), **args)
    assert result["failed"] is True
    assert message in result["msg"] and result["msg"].endswith("Nothing was decided.")


def test_a_missing_catalogue(tmp_path):
    result = run_action(config=CONFIG, experiment_dir=str(tmp_path / "nowhere"))
    assert result["failed"] is True
    assert result["msg"] == "experiment_dir %s is not a folder. Nothing was decided." % (tmp_path / "nowhere")


# --- plan -------------------------------------------------------------------------------------------------------

def test_plan_rows_and_an_aligned_table(catalogue):
    changed = config(schedules=[dict(SCHEDULE, probability=0.5, experiments=["redis-crash", "api-timeout"]),
                                dict(SCHEDULE, name="hourly-pauses", frequency="hourly", schedule_pattern=":15",
                                     experiments={"backend-pause": 1}, targets=None)],
                     blackout_dates=["12-16"])
    result = run_action(config=changed, action="plan", now=TICK, days=3, experiment_dir=str(catalogue))
    assert not result.get("failed"), result
    # from Monday 02:31 for 3 days: 02:30 on Tue, Wed and Thu; every hour from Mon 03:15 to Thu 02:15
    assert len(result["plan"]) == 3 + 72
    assert result["plan"] == run_action(config=changed, action="plan", now=TICK, days=3,
                                        experiment_dir=str(catalogue))["plan"]
    assert result["msg"].startswith("%d slot(s) in 3 day(s), " % len(result["plan"]))
    table = result["table"]
    assert table[0].split() == ["slot", "schedule", "roll", "p", "experiment", "target", "decision", "target",
                                "weights"]
    assert len(table) == len(result["plan"]) + 1
    for column in ("schedule", "roll", "experiment", "target", "decision"):
        start = table[0].index(column)
        for line, cell in zip(table[1:], _cells(result["plan"], column)):
            assert line[start:start + len(cell) + 1].rstrip() == cell and line[start - 2:start] == "  "
    assert any("  skip (blackout)  " in line for line in table)
    assert table[1].startswith("2026-12-14 03:15+01:00  hourly-pauses  ")


def _cells(rows, column):
    return [{"schedule": row["schedule"], "roll": "%.4f" % row["roll"], "experiment": row["experiment"],
             "target": row["target"] or "-", "decision": row["mark"]}[column] for row in rows]


def test_plan_table_of_nothing():
    assert plan_table([]) == ["slot  schedule  roll  p  experiment  target  decision  target weights"]


# --- tick -------------------------------------------------------------------------------------------------------

def test_tick_decides_and_hands_over_the_catalogue_entry(catalogue):
    result = run_action(config=config(opt_out=["postgres"]), action="tick", now=TICK, experiment_dir=str(catalogue),
                        emergency_stop=False, guard={"healthy_ratio": 1.0, "cpu_percent": 3.0, "memory_percent": 40},
                        alerts_firing=[], opted_out=["frontend"])
    assert not result.get("failed"), result
    (record,) = result["decisions"]
    assert record["decision"] == "run" and record["target"] == "redis"
    assert record["summary"].startswith("nightly at 2026-12-14 02:30+01:00: run %s on redis; every check passed"
                                        % record["experiment"])
    (run,) = result["run"]
    assert set(run) == {"schedule", "slot", "slot_utc", "experiment", "target", "safe_mode", "leashed"}
    assert run["experiment"]["name"] == record["experiment"] and "lifecycle_fault" in run["experiment"]
    assert (run["target"], run["safe_mode"], run["leashed"], run["slot_utc"]) == (
        "redis", True, False, "2026-12-14T01:30:00Z")
    assert result["opted_out"] == ["frontend", "postgres"] and result["idle"] == []
    assert result["msg"] == "1 decision(s), 1 to run"
    json.dumps(result)


def test_tick_leashed_still_lists_the_run_marked_leashed(catalogue):
    result = run_action(config=config(leashed=True), now=TICK, experiment_dir=str(catalogue))
    assert result["run"][0]["leashed"] is True
    assert result["decisions"][0]["summary"].startswith("nightly at 2026-12-14 02:30+01:00: run (leashed: record only) ")


def test_tick_with_nothing_due(catalogue):
    result = run_action(config=CONFIG, now="2026-12-14T12:00:00Z", experiment_dir=str(catalogue))
    assert (result["decisions"], result["run"]) == ([], [])
    assert result["idle"] == [{"schedule": "nightly", "reason": "no slot due", "next_slot": "2026-12-15T02:30:00+01:00"}]


def test_tick_skips_a_slot_in_the_history(catalogue):
    first = run_action(config=CONFIG, now=TICK, experiment_dir=str(catalogue))
    again = run_action(config=CONFIG, now="2026-12-14T01:35:00Z", experiment_dir=str(catalogue),
                       history=first["decisions"])
    assert again["decisions"] == [] and again["idle"][0]["reason"].startswith("slot already decided at ")


def test_tick_shows_and_records_no_prometheus_credentials(catalogue):
    url = "http://mon:s3cr3t@prometheus:9090"
    unreachable = "Prometheus at %s did not answer: Request failed" % url
    result = run_action(config=config(prometheus_url=url), action="tick", now=TICK, experiment_dir=str(catalogue),
                        emergency_stop=False, guard={"healthy_ratio": 1.0, "cpu_percent": 3.0, "memory_percent": 40},
                        alerts_firing=[unreachable])
    assert not result.get("failed"), result
    assert "s3cr3t" not in json.dumps(result)
    assert result["config"]["prometheus_url"] == "http://mon:********@prometheus:9090"
    (record,) = result["decisions"]  # what chaos_monkey_record writes to the audit journal
    assert record["decision"] == "skip" and "Prometheus at http://mon:********@prometheus:9090" in record["reason"]
    # validate hands the URL whole to the playbook, which queries it
    checked = run_action(config=config(prometheus_url=url), action="validate", now=TICK, experiment_dir=str(catalogue))
    assert checked["config"]["prometheus_url"] == url


def test_summary_of_a_skip():
    record = {"schedule": "s", "slot": "2026-12-14T02:30:00+01:00", "decision": "skip", "leashed": False,
              "reason": "roll: 0.7 >= probability 0.3", "experiment": "x", "target": None}
    assert summary(record) == "s at 2026-12-14 02:30+01:00: skip - roll: 0.7 >= probability 0.3"
