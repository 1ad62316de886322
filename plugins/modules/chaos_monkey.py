#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_monkey
short_description: The chaos monkey's decisions - check its configuration, plan its slots, decide a tick
version_added: 0.3.0
author:
  - sutazai.chaos maintainers (!UNKNOWN)
description:
  - Runs on the controller and touches no host. It reads the inventory's C(chaos_monkey) configuration and the
    experiment catalogue, and answers one of three questions (O(action)).
  - "V(validate) checks the configuration against the catalogue and lists every problem at once, each naming
    its path, for example C(chaos_monkey.min_healthy_services: must be between 0 and 1, got 1.2); it
    returns each schedule with its cron fields and its AWX rrule."
  - V(plan) lists every slot of every enabled schedule in the next O(days) days with its roll, the experiment
    and target it picks and whether it would run, judged by the checks known in advance (the monkey or
    schedule disabled, a blackout date, outside the maintenance windows, the roll).
  - V(tick) decides every schedule that has a slot due at O(now) (the latest slot no more than the
    configuration's C(grace) ago), from the state the caller gathered (emergency stop, guard figures, alerts,
    past decisions, last hits). It runs nothing; RV(run) lists what to hand to the experiment lifecycle.
  - "Slots are wall-clock times in the configuration's C(timezone): a wall time that a DST change skips does
    not occur, one that it repeats occurs once (the first). A slot is decided once: a tick finds the slot
    already in O(history) and leaves it."
  - "Decisions are replayable: each slot draws from C(random.Random) seeded by sha256 of
    C(<salt>|<schedule>|<slot in UTC, 2026-03-01T01:30:00Z>), always three numbers in this order - the roll
    (cut to 4 places, so below 1; the slot runs when it is below C(probability)), the experiment (weighted by the schedule's
    experiment weights, names in sorted order), the target (names in sorted order) - whether the roll wins
    or not, so a plan and the tick at that slot agree."
  - "A tick's checks, in this order; the first that fails is the reason to skip, and all are recorded with
    pass, fail or skipped: C(enabled) (the monkey and the schedule), C(blackout) (the slot's local date),
    C(maintenance_window) (only with C(maintenance_window_only); the slot and the tick's time must both be
    inside a window), C(emergency_stop), C(guard) (healthy ratio against C(min_healthy_services), CPU against
    C(max_cpu_usage), memory against C(max_memory_usage)), C(alerts) (any firing alert), C(max_runs_per_day)
    (run decisions of the schedule in O(history) on the slot's local date), C(roll), C(min_gap) (since the
    picked target's last hit), C(opt_out) (the config's C(opt_out) or O(opted_out)). An input left null is
    not gathered, and its check is skipped."
  - "Targets: the schedule's C(targets) when given, else the picked experiment's own services. Experiments of
    kind dependency or resilience pick their own targets: the target is null and C(min_gap) and C(opt_out) are
    skipped. A target outside the experiment's own services is fine: run the experiment with
    C(services: [target])."
  - "With C(pick: weighted) the target is drawn by risk: weight = (1 + the number of services that depend on it,
    directly or transitively, in O(dependency_map)) x (1 + min(days since its last hit, 30) / 7; never hit
    counts as 30 days) x (2 if its last experiment's verdict was FAIL, else 1), rounded to 4 places, days
    counted at the slot. With C(pick: random) every candidate weighs 1. The weights used are in each plan row
    and decision."
  - "The configuration: C(enabled) (default false: nothing runs until it is true), C(leashed) (decide and
    record, inject nothing), C(timezone) (IANA, default UTC), C(salt), C(grace) (default 10m),
    C(blackout_dates) (C(MM-DD) and C(MM-DD..MM-DD) every year, may wrap the year; C(YYYY-MM-DD) and ranges of
    them once, at most 366 days), C(maintenance_windows) (as M(sutazai.chaos.chaos_guard)'s), C(opt_out),
    C(min_healthy_services) (0.8), C(max_cpu_usage) (85), C(max_memory_usage) (90), C(prometheus_url), and
    C(schedules), each with C(name), C(enabled) (true), C(experiments) (a list, or a mapping name -> weight),
    C(frequency) (hourly, daily, weekdays, weekly), C(days) (weekly only, required there),
    C(schedule_pattern) (C(HH:MM), or C(:MM) for hourly), C(probability), C(safe_mode) (true),
    C(maintenance_window_only) (false), C(min_gap) (0), C(max_runs_per_day) (no cap), C(targets), C(pick)
    (random or weighted). Durations are seconds or text such as C(90s), C(30m), C(6h), C(2d), C(1h30m)."
options:
  config:
    description: The C(chaos_monkey) configuration (see the description).
    type: dict
    required: true
  action:
    description: V(validate) the configuration, V(plan) the next O(days) days, or decide a V(tick).
    type: str
    choices: [plan, tick, validate]
    default: tick
  now:
    description:
      - The time of the tick or the start of the plan, ISO 8601 (without an offset it is UTC).
      - Default the controller's clock.
    type: str
  days:
    description: How many days the plan covers.
    type: int
    default: 7
  schedule:
    description: Only this schedule (default every schedule).
    type: str
  experiment_dir:
    description: The catalogue folder. Default the collection's own C(experiments/).
    type: path
  dependency_map:
    description: Service -> the services it depends on (the inventory's C(chaos_dependency_map)), for C(pick=weighted).
    type: dict
    default: {}
  emergency_stop:
    description: Whether the emergency-stop flag is set on any host. Null - not gathered, the check is skipped.
    type: bool
  guard:
    description: The worst guard figures of the hosts. Null (or a null figure) - not gathered, skipped.
    type: dict
    suboptions:
      healthy_ratio:
        description: Share of healthy services, 0 to 1.
        type: float
      cpu_percent:
        description: CPU use in percent.
        type: float
      memory_percent:
        description: Memory use in percent.
        type: float
  alerts_firing:
    description: Names of the Prometheus alerts firing; any skips the slot. Null - not gathered, skipped.
    type: list
    elements: str
  history:
    description: Past decision records (as RV(decisions) gives them, from the audit journal).
    type: list
    elements: dict
    default: []
  last_hits:
    description: Service -> the time of its last hit, epoch seconds or ISO 8601.
    type: dict
    default: {}
  last_verdicts:
    description: Service -> the verdict of the last experiment on it (PASS, FAIL, ABORTED, ERROR).
    type: dict
    default: {}
  opted_out:
    description: Services whose containers carry the label C(sutazai.chaos.opt-out=true).
    type: list
    elements: str
    default: []
notes:
  - It is an action plugin; it runs on the controller and touches no host.
  - "cron cannot follow DST: RV(schedules[].cron) fires at every UTC time a slot takes in the next 366 days, so
    it may fire at times that are not slots; the tick then finds no slot due. RV(schedules[].rrule) may make AWX
    launch a tick at a wall time a DST change skips; that tick too finds no slot due."
attributes:
  check_mode:
    support: full
    description: Decides only; it never changes anything.
  diff_mode:
    support: none
    description: Nothing to diff.
  idempotent:
    support: full
    description: The same inputs give the same answer.
seealso:
  - module: sutazai.chaos.chaos_experiment
  - module: sutazai.chaos.chaos_guard
"""

EXAMPLES = r"""
- name: The plan of the next 7 days
  sutazai.chaos.chaos_monkey:
    config: "{{ chaos_monkey }}"
    action: plan
    days: 7
    dependency_map: "{{ chaos_dependency_map }}"
  register: monkey_plan

- name: Print it
  ansible.builtin.debug:
    msg: "{{ monkey_plan.table }}"

- name: Decide the slots due now
  sutazai.chaos.chaos_monkey:
    config: "{{ chaos_monkey }}"
    action: tick
    dependency_map: "{{ chaos_dependency_map }}"
    emergency_stop: false
    guard: {healthy_ratio: 1.0, cpu_percent: 12.5, memory_percent: 40}
    alerts_firing: []
    history: "{{ journal_decisions }}"
    last_hits: {redis: 1767225600}
  register: monkey
"""

RETURN = r"""
action:
  description: The action done.
  returned: success
  type: str
now:
  description: The time used, ISO 8601 in UTC.
  returned: success
  type: str
config:
  description: The configuration normalized (defaults filled, durations in seconds, experiments as name -> weight).
  returned: success
  type: dict
problems:
  description: Every problem of the configuration, each naming its path.
  returned: failure
  type: list
  elements: str
schedules:
  description: Each schedule (normalized, as in RV(config)) with its cron fields and AWX rrule.
  returned: action is validate
  type: list
  elements: dict
  contains:
    name:
      description: The schedule's name.
      type: str
    cron:
      description:
        - C(minute), C(hour), C(weekday), C(day) and C(month) for M(ansible.builtin.cron), in UTC.
        - Every UTC time a slot takes in the next 366 days; a superset, as cron cannot follow DST.
      type: dict
      sample: {minute: "30", hour: "0,1", weekday: "1,4", day: "*", month: "*"}
    rrule:
      description:
        - AWX rrule text, DTSTART the 1st of January of this year in the configuration's time zone.
        - One C(RRULE) per group of weekdays with the same hours (with C(maintenance_window_only), the hours a slot
          is inside a window in at least one week of the year), an C(EXRULE) per month of yearly blackout dates,
          and an C(EXDATE) of the slots on one-off blackout dates.
      type: str
      sample: "DTSTART;TZID=Europe/Berlin:20260101T000000 RRULE:FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=2;BYMINUTE=30;BYSECOND=0"
plan:
  description: One row per slot - schedule, slot, slot_utc, roll, probability, experiment, target, weights,
    decision (run or skip), mark (run, skip (disabled), skip (blackout), skip (window), skip (roll)), reason,
    safe_mode, seed_material.
  returned: action is plan
  type: list
  elements: dict
table:
  description: The plan as aligned lines of text.
  returned: action is plan
  type: list
  elements: str
decisions:
  description: One record per slot decided - schedule, slot, slot_utc, tick_time, roll, probability,
    experiment, target, weights, decision (run or skip), reason, checks (check, verdict, detail), safe_mode,
    leashed, action (inject, record-only or none), seed_material, summary.
  returned: action is tick
  type: list
  elements: dict
idle:
  description: The schedules not decided, each with a reason (no slot due, with next_slot; or the slot was
    already decided).
  returned: action is tick
  type: list
  elements: dict
run:
  description: The decisions to run - schedule, slot, slot_utc, experiment (the catalogue entry, as
    M(sutazai.chaos.chaos_experiment) returns it), target, safe_mode, leashed.
  returned: action is tick
  type: list
  elements: dict
lines:
  description: One line per schedule for the log - each decision's summary, then why the others decided nothing.
  returned: action is tick
  type: list
  elements: str
opted_out:
  description: The services no experiment may hit now (the configuration's opt_out and O(opted_out)).
  returned: action is tick
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    config=dict(type="dict", required=True),
    action=dict(type="str", choices=["plan", "tick", "validate"], default="tick"),
    now=dict(type="str"),
    days=dict(type="int", default=7),
    schedule=dict(type="str"),
    experiment_dir=dict(type="path"),
    dependency_map=dict(type="dict", default={}),
    emergency_stop=dict(type="bool"),
    guard=dict(type="dict", options=dict(healthy_ratio=dict(type="float"), cpu_percent=dict(type="float"),
                                         memory_percent=dict(type="float"))),
    alerts_firing=dict(type="list", elements="str"),
    history=dict(type="list", elements="dict", default=[]),
    last_hits=dict(type="dict", default={}),
    last_verdicts=dict(type="dict", default={}),
    opted_out=dict(type="list", elements="str", default=[]),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="chaos_monkey runs as an action plugin on the controller; this file only documents it.")


if __name__ == "__main__":
    main()
