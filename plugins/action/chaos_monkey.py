# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos monkey's decisions, on the controller: validate its configuration, plan its slots, decide a tick."""

from __future__ import annotations

import datetime
import os

from ansible.plugins.action import ActionBase
from ansible_collections.sutazai.chaos.plugins.plugin_utils._action import validated_args
from ansible_collections.sutazai.chaos.plugins.action.chaos_experiment import (
    FAULT_SPECS,
    SHIPPED,
    CatalogueError,
    catalogue_files,
    load,
    shown,
)
from ansible_collections.sutazai.chaos.plugins.module_utils._catalogue import run_spec, validate
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._guard import parse_now
from ansible_collections.sutazai.chaos.plugins.module_utils._monkey import plan, selected, tick, validate_config
from ansible_collections.sutazai.chaos.plugins.module_utils._monkey_calendar import cron_fields, rrule, utc_text, zone_of
from ansible_collections.sutazai.chaos.plugins.module_utils._redact import redact, redact_text, redact_url
from ansible_collections.sutazai.chaos.plugins.modules.chaos_monkey import ARGUMENT_SPEC

MAX_PLAN_DAYS = 366
NOTHING = "Nothing was decided."


def load_catalogue(directory):
    """(name -> run spec of every valid experiment file, name -> 'file: problems' of the others)."""
    catalogue, broken = {}, {}
    for path in catalogue_files(directory):
        name = os.path.splitext(os.path.basename(path))[0]
        data, error = load(path)
        problems = ["is empty"] if error is None and data is None else (
            [error] if error else validate(data, name, FAULT_SPECS))
        if problems:
            broken[name] = "%s: %s" % (shown(path), "; ".join(problems))
        else:
            catalogue[name] = run_spec(data, path)
    return catalogue, broken


def short_slot(slot):
    """2026-03-01T02:30:00+01:00 -> 2026-03-01 02:30+01:00"""
    return slot[:16].replace("T", " ") + slot[19:]


def plan_table(rows):
    """The plan as aligned lines of text."""
    head = ("slot", "schedule", "roll", "p", "experiment", "target", "decision", "target weights")
    body = [(short_slot(row["slot"]), row["schedule"], "%.4f" % row["roll"], str(row["probability"]),
             row["experiment"] or "-", row["target"] or "-", row["mark"],
             " ".join("%s=%s" % kv for kv in sorted((row.get("weights") or {}).items())) or "-") for row in rows]
    widths = [max(len(line[i]) for line in [head] + body) for i in range(len(head))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [head] + body]


def summary(record):
    """One line per decision, for the log."""
    slot = short_slot(record["slot"])
    if record["decision"] == "run":
        what = "%s %s on %s" % ("run (leashed: record only)" if record["leashed"] else "run", record["experiment"],
                                record["target"] or "its own services")
        return "%s at %s: %s; %s" % (record["schedule"], slot, what, record["reason"])
    return "%s at %s: skip - %s" % (record["schedule"], slot, record["reason"])


def idle_line(idle):
    """One line for a schedule that decided nothing at this tick."""
    if idle.get("slot"):
        return "%s at %s: nothing decided - %s" % (idle["schedule"], short_slot(idle["slot"]), idle["reason"])
    following = " (next slot %s)" % short_slot(idle["next_slot"]) if idle.get("next_slot") else ""
    return "%s: %s%s" % (idle["schedule"], idle["reason"], following)


def calendar_of(config, schedules, now):
    """Each schedule with its cron fields (UTC) and AWX rrule (DTSTART the 1st of January of this year)."""
    zone = zone_of(config["timezone"])
    new_year = datetime.datetime(now.astimezone(zone).year, 1, 1, tzinfo=zone)
    return [dict(schedule, cron=cron_fields(schedule, config, now), rrule=rrule(schedule, config, new_year))
            for schedule in schedules]


def decide(args):
    """The action's answer for validated arguments; ChaosError or CatalogueError for the user's mistakes."""
    now = parse_now(args.get("now"))
    directory = os.path.abspath(os.path.expanduser(str(args.get("experiment_dir") or SHIPPED)))
    catalogue, broken = load_catalogue(directory)
    config = validate_config(args["config"], catalogue, broken)
    schedules = selected(config, args.get("schedule"))
    action = args["action"]
    result = {"changed": False, "action": action, "now": utc_text(now), "config": config}
    risk = {"dependency_map": args.get("dependency_map") or {}, "last_hits": args.get("last_hits") or {},
            "last_verdicts": args.get("last_verdicts") or {}}
    if action == "validate":
        result["schedules"] = calendar_of(config, schedules, now)
        result["msg"] = "the chaos monkey's configuration is valid (%d schedule(s))" % len(config["schedules"])
    elif action == "plan":
        if not 1 <= args["days"] <= MAX_PLAN_DAYS:
            raise ChaosError("days must be between 1 and %d, got %d. %s" % (MAX_PLAN_DAYS, args["days"], NOTHING))
        rows = plan(config, now, args["days"], catalogue, risk, args.get("schedule"))
        running = sum(row["decision"] == "run" for row in rows)
        result.update(plan=rows, table=plan_table(rows),
                      msg="%d slot(s) in %d day(s), %d would run" % (len(rows), args["days"], running))
    else:
        state = dict(risk, emergency_stop=args.get("emergency_stop"), guard=args.get("guard"),
                     alerts_firing=args.get("alerts_firing"), history=args.get("history") or [],
                     opted_out=args.get("opted_out") or [])
        answer = tick(config, now, catalogue, state, args.get("schedule"))
        for record in answer["decisions"]:
            record["summary"] = summary(record)
        result.update(decisions=answer["decisions"], idle=answer["idle"],
                      opted_out=sorted(set(config["opt_out"]) | set(state["opted_out"])),
                      run=[{"schedule": r["schedule"], "slot": r["slot"], "slot_utc": r["slot_utc"],
                            "experiment": catalogue[r["experiment"]], "target": r["target"],
                            "safe_mode": r["safe_mode"], "leashed": r["leashed"]}
                           for r in answer["decisions"] if r["decision"] == "run"])
        result["lines"] = [r["summary"] for r in answer["decisions"]] + [idle_line(i) for i in answer["idle"]]
        result["msg"] = "%d decision(s), %d to run" % (len(result["decisions"]), len(result["run"]))
    return result


def without_secrets(result):
    """The answer as it may be shown and recorded (the decisions go to the audit journal): no credentials of a
    Prometheus URL, in the configuration or in the alerts the caller gathered (an unreachable Prometheus is named
    there). validate and plan keep config.prometheus_url whole: the tick playbook queries that URL."""
    for key in ("decisions", "idle", "lines", "msg"):
        if key in result:
            result[key] = redact(result[key])
    if result.get("action") == "tick" and isinstance(result.get("config"), dict):
        result["config"] = dict(result["config"], prometheus_url=redact_url(result["config"].get("prometheus_url")))
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # unknown options are reported by validate_argument_spec, with the supported ones

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        for key, spec in ARGUMENT_SPEC.items():
            # ansible-core raises TypeError for a dict option with sub-options given a bool, number or list
            value = self._task.args.get(key)
            if spec.get("options") and value is not None and not isinstance(value, (dict, str)):
                result.update(failed=True, msg="%s must be a mapping of %s, got %r. %s"
                              % (key, ", ".join(sorted(spec["options"])), value, NOTHING))
                return result
        args, failed = validated_args(self, ARGUMENT_SPEC, NOTHING)
        if failed:
            result.update(failed)
            return result
        try:
            result.update(without_secrets(decide(args)))
        except CatalogueError as exc:
            result.update(failed=True, msg="%s. %s" % (redact_text(str(exc)), NOTHING), problems=[redact_text(str(exc))])
        except ChaosError as exc:
            msg = redact_text(exc.msg)
            result.update(failed=True, msg=msg if msg.endswith(NOTHING) else "%s. %s" % (msg, NOTHING),
                          problems=redact(exc.details.get("problems") or [msg]))
        return result
