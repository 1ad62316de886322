# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trends over many experiment results: the weekly review as a model, and as one self-contained HTML page.

trends() is pure: results (dicts as results/<experiment_id>.json hold them) in, figures out. render_index()
draws those figures with Jinja2 (autoescaped) into index.html: success rate per experiment and per ISO week,
MTTR over time per service (SVG), the slowest recoveries, experiments not run for a long time, skipped files.
"""

from __future__ import annotations

import os
import re

from ._common import ChaosError
from ._lifecycle import number
from ._report_load import since_epoch
from ._report_trends_time import iso_week, next_iso_week, now_epoch, run_time, utc_text
from ._report_trends_svg import line_chart, week_bars
from ._report_trends_templates import INDEX

DEFAULT_STALE_DAYS = 14
SLOWEST = 10
VERDICTS = ("PASS", "FAIL", "ABORTED", "ERROR")
# The catalogue shipped with the collection: experiments/ at its root.
SHIPPED_CATALOGUE = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", "experiments"))
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def hit_services(result):
    """The services the fault hit (sorted, unique); the faulted service of the spread when no hit names one."""
    services = {str(hit.get("service") or hit.get("name")) for hit in result.get("hit") or []
                if isinstance(hit, dict) and (hit.get("service") or hit.get("name"))}
    faulted = (result.get("spread") or {}).get("faulted") if isinstance(result.get("spread"), dict) else None
    if not services and faulted:
        services = {str(faulted)}
    return sorted(services)


def experiment_label(result):
    """(name, ad hoc?): the catalogue name, else the kind and the services hit ('container on redis')."""
    experiment = result.get("experiment") if isinstance(result.get("experiment"), dict) else {}
    if experiment.get("name"):
        return str(experiment["name"]), False
    services = hit_services(result)
    kind = str(result.get("kind") or "experiment")
    return ("%s on %s" % (kind, ", ".join(services)) if services else kind), True


def catalogue_names(directory=None):
    """The experiment names of a catalogue folder (its *.yml files, as the runner finds them); None: no folder."""
    directory = directory or SHIPPED_CATALOGUE
    if not os.path.isdir(directory):
        return None
    return sorted(os.path.splitext(name)[0] for name in os.listdir(directory) if name.endswith((".yml", ".yaml"))
                  and not name.startswith("."))


def report_link(folder, experiment_id):
    """'<experiment_id>.html' when that report exists in folder (the id must be a plain file name), else None."""
    if not folder or not isinstance(experiment_id, str) or not _SAFE_ID.match(experiment_id) or ".." in experiment_id:
        return None
    name = experiment_id + ".html"
    return name if os.path.isfile(os.path.join(folder, name)) else None


def _seconds(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def run_row(at, result, folder=None):
    """One run as the page shows it."""
    name, adhoc = experiment_label(result)
    verdict = str(result.get("verdict") or "UNKNOWN").upper()
    recovery = _seconds(result.get("recovery_seconds"))
    return {
        "at": at, "when": utc_text(at), "experiment_id": str(result.get("experiment_id") or "?"), "name": name,
        "adhoc": adhoc, "verdict": verdict, "services": hit_services(result), "host": result.get("host"),
        "recovered": result.get("recovered") is True and recovery is not None, "recovery_seconds": recovery,
        "upper_bound": bool(result.get("recovery_is_upper_bound")),
        "counted_from": result.get("recovery_counted_from") or "injection",
        "observed": result.get("observed") is not False,
        "report": report_link(folder, result.get("experiment_id")),
    }


def _rate(passed, runs):
    return round(passed / runs, 4) if runs else None


def per_experiment(runs):
    """name -> runs, passed, pass_rate, counts per verdict, last verdict and time; sorted by name."""
    table = {}
    for run in runs:
        row = table.setdefault(run["name"], {"name": run["name"], "adhoc": run["adhoc"], "runs": 0, "passed": 0,
                                             "verdicts": dict.fromkeys(VERDICTS, 0)})
        row["runs"] += 1
        row["passed"] += run["verdict"] == "PASS"
        row["verdicts"][run["verdict"]] = row["verdicts"].get(run["verdict"], 0) + 1
        row.update(last_verdict=run["verdict"], last_at=run["at"], last_when=run["when"])
    for row in table.values():
        row["pass_rate"] = _rate(row["passed"], row["runs"])
    return [table[name] for name in sorted(table)]


def per_week(runs):
    """One row per ISO week (UTC) from the first run's to the last run's, weeks without runs included."""
    counts = {}
    for run in runs:
        row = counts.setdefault(iso_week(run["at"]), [0, 0])
        row[0] += 1
        row[1] += run["verdict"] == "PASS"
    if not counts:
        return []
    weeks, week, last = [], min(counts), max(counts)
    while True:
        total, passed = counts.get(week, (0, 0))
        weeks.append({"week": week, "runs": total, "passed": passed, "pass_rate": _rate(passed, total)})
        if week == last:
            return weeks
        week = next_iso_week(week)


def mttr_series(runs):
    """service -> the recovered runs that hit it, oldest first: at, value (recovery seconds), upper bound."""
    series = {}
    for run in runs:
        if not run["recovered"]:
            continue
        for service in run["services"]:
            series.setdefault(service, []).append({
                "at": run["at"], "value": run["recovery_seconds"], "upper_bound": run["upper_bound"],
                "experiment_id": run["experiment_id"], "name": run["name"], "counted_from": run["counted_from"]})
    return [{"service": service, "points": series[service]} for service in sorted(series)]


def stale_experiments(names, dated_runs, now_at, stale_days):
    """Catalogue names last run more than stale_days ago or never (among all results read), oldest first."""
    last = {}
    for run in dated_runs:
        last[run["name"]] = run
    rows = []
    for name in names or []:
        run = last.get(name)
        age_days = None if run is None else (now_at - run["at"]) / 86400.0
        if run is None or age_days > stale_days:
            rows.append({"name": name, "last_at": run and run["at"], "last_when": run and run["when"],
                         "days": None if run is None else int(age_days), "last_verdict": run and run["verdict"]})
    return sorted(rows, key=lambda row: (row["last_at"] is not None, row["last_at"] or 0, row["name"]))


def trends(results, since=None, now=None, catalogue=None, stale_days=DEFAULT_STALE_DAYS, folder=None):
    """The figures of the trend page.

    results: result dicts (any order); since: '7d', '12h', '4w', an ISO date or None (all); now: epoch or ISO
    (default the clock); catalogue: a folder of experiment files (default the shipped one) or a list of names;
    folder: where the results lie, to link each run's <experiment_id>.html when it exists there.
    Rates, MTTR and the slowest count runs since `since`; the stale list looks at every result given."""
    now_at = now_epoch(now)
    since_at = since_epoch(since, now_at)
    if isinstance(stale_days, bool) or not isinstance(stale_days, (int, float)) or stale_days < 0:
        raise ChaosError("stale_days must be a number of days (0 or more), got %r" % (stale_days,))
    dated, undated = [], []
    for result in results or []:
        at = run_time(result) if isinstance(result, dict) else None
        if at is None:
            undated.append(str(result.get("experiment_id") if isinstance(result, dict) else result))
        else:
            dated.append(run_row(at, result, folder))
    dated.sort(key=lambda run: (run["at"], run["experiment_id"]))
    runs = [run for run in dated if since_at is None or run["at"] >= since_at]
    names = catalogue if isinstance(catalogue, (list, tuple)) else catalogue_names(catalogue)
    recovered = [run for run in runs if run["recovered"]]
    passed = sum(run["verdict"] == "PASS" for run in runs)
    return {
        "now": now_at, "since": since_at, "stale_days": stale_days, "runs": len(runs), "passed": passed,
        "pass_rate": _rate(passed, len(runs)), "read": len(dated) + len(undated), "undated": undated,
        "first_at": runs[0]["at"] if runs else None, "last_at": runs[-1]["at"] if runs else None,
        "experiments": per_experiment(runs),
        "weeks": per_week(runs),
        "mttr": mttr_series(runs),
        "slowest": sorted(recovered, key=lambda run: (-run["recovery_seconds"], run["at"]))[:SLOWEST],
        "not_recovered": [run for run in runs if not run["recovered"] and run["services"] and run["observed"]
                          and run["verdict"] != "ERROR"],
        "catalogue_known": names is not None,
        "stale": stale_experiments(names, dated, now_at, stale_days),
    }


def problem_rows(problems):
    """Skipped files as (file, why) rows, whatever shape the loader gives (text, or a mapping)."""
    rows = []
    for problem in problems or []:
        if isinstance(problem, dict):
            where = problem.get("file") or problem.get("path") or "?"
            why = problem.get("why") or problem.get("reason") or problem.get("msg") or problem.get("problem") or ""
            rows.append({"file": os.path.basename(str(where)), "why": str(why)})
        elif isinstance(problem, (list, tuple)) and len(problem) == 2:
            rows.append({"file": os.path.basename(str(problem[0])), "why": str(problem[1])})
        else:
            rows.append({"file": "", "why": str(problem)})
    return rows


def percent(rate):
    return "n/a" if rate is None else "%d%%" % round(rate * 100)


def render_index(results, problems, since=None, now=None, catalogue=None, stale_days=DEFAULT_STALE_DAYS,
                 folder=None):
    """index.html over many results: one self-contained page (no script, no external style, font or image)."""
    # Jinja2 comes with Ansible on the controller; module_utils' import check allows the standard library only
    import jinja2  # pylint: disable=import-outside-toplevel

    model = trends(results, since, now, catalogue, stale_days, folder)
    start = model["since"] if model["since"] is not None else model["first_at"]
    end = model["now"] if model["since"] is not None else model["last_at"]
    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters.update(number=number, percent=percent, utc=utc_text)
    return environment.from_string(INDEX).render(
        model=model, problems=problem_rows(problems), since_text=since,
        chart=line_chart(model["mttr"], start, end), bars=week_bars(model["weeks"]), slowest_limit=SLOWEST)
