# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The trend page over 13 synthetic results whose truth is known (see trend_results.py): the figures of the
model, then the same figures read back from the rendered HTML (tables, SVG bars, the MTTR polylines)."""

from __future__ import annotations

import html.parser
import os
import re

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._report_load import load_results
from ansible_collections.sutazai.chaos.plugins.module_utils._report_trends import (
    SHIPPED_CATALOGUE,
    catalogue_names,
    experiment_label,
    render_index,
    trends,
)
from ansible_collections.sutazai.chaos.plugins.module_utils._report_trends_svg import nice_ceiling
from ansible_collections.sutazai.chaos.plugins.module_utils._report_trends_time import next_iso_week
from trend_results import CATALOGUE, NOW, RUNS, epoch, experiment_id, result, results, write_results  # noqa: I001

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class Page(html.parser.HTMLParser):
    """Every element's attributes by tag, and the text of <title> elements inside the SVGs."""

    def __init__(self, text):
        super().__init__()
        self.elements = []
        self.svg_titles = []
        self._in_title = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        self._in_title = tag == "title" and len(self.elements) > 5

    def handle_endtag(self, tag):
        self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.svg_titles.append(data)

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag
                and all(a.get(key.replace("_", "-")) == value for key, value in attrs.items())]

    def with_class(self, tag, name):
        return [a for t, a in self.elements if t == tag and name in (a.get("class") or "").split()]


def model(**kwargs):
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("catalogue", CATALOGUE)
    return trends(results(), **kwargs)


# --- the model --------------------------------------------------------------------------------------------------

def test_success_rate_per_experiment():
    rows = {row["name"]: row for row in model()["experiments"]}
    assert sorted(rows) == ["api-timeout", "backend-pause", "container on redis", "network-chaos", "redis-crash"]
    figures = {name: (row["runs"], row["passed"], row["pass_rate"], row["last_verdict"]) for name, row in rows.items()}
    assert figures == {
        "backend-pause": (4, 3, 0.75, "PASS"),
        "redis-crash": (4, 3, 0.75, "PASS"),
        "network-chaos": (3, 1, 0.3333, "ABORTED"),
        "api-timeout": (1, 1, 1.0, "PASS"),
        "container on redis": (1, 1, 1.0, "PASS"),
    }
    assert rows["redis-crash"]["verdicts"] == {"PASS": 3, "FAIL": 0, "ABORTED": 0, "ERROR": 1}
    assert rows["backend-pause"]["last_at"] == epoch("2026-12-01T04:00")
    assert rows["container on redis"]["adhoc"] and not rows["backend-pause"]["adhoc"]


def test_success_rate_per_iso_week_with_the_empty_weeks_between():
    weeks = model()["weeks"]
    assert [w["week"] for w in weeks] == ["2026-W%02d" % n for n in range(40, 50)]
    figures = {w["week"]: (w["runs"], w["passed"]) for w in weeks if w["runs"]}
    assert figures == {"2026-W40": (1, 1), "2026-W46": (3, 2), "2026-W47": (3, 2), "2026-W49": (6, 4)}
    assert [w["pass_rate"] for w in weeks if not w["runs"]] == [None] * 6


@pytest.mark.parametrize("since, first_week, runs", [
    ("4w", "2026-W46", 12),            # 2026-11-03 12:00: run 0 (October) is out
    ("2026-11-16", "2026-W47", 9),     # an ISO date
    ("36h", "2026-W49", 6),            # 2026-11-30 00:00: runs 7 to 12
    ("12h", "2026-W49", 3),            # 2026-12-01 00:00: runs 10 to 12
])
def test_since_keeps_the_runs_from_then_on(since, first_week, runs):
    data = model(since=since)
    assert data["runs"] == runs
    assert data["weeks"][0]["week"] == first_week
    assert sum(w["runs"] for w in data["weeks"]) == runs


def test_mttr_series_per_service_in_time_order():
    series = {line["service"]: line["points"] for line in model()["mttr"]}
    assert sorted(series) == ["backend", "redis"]
    backend = [(p["at"], p["value"], p["upper_bound"]) for p in series["backend"]]
    assert backend == [(epoch(RUNS[i][0]), RUNS[i][5], RUNS[i][6]) for i in (1, 4, 6, 7, 12)]
    # redis: runs 8 (never injected) and 11 (did not recover) are not points
    assert [p["experiment_id"] for p in series["redis"]] == [experiment_id(i) for i in (0, 2, 3, 5, 9, 10)]


def test_slowest_recoveries_top_ten_slowest_first():
    slowest = model()["slowest"]
    assert [run["recovery_seconds"] for run in slowest] == [12.0, 9.0, 4.0, 3.0, 2.5, 2.2, 2.0, 1.5, 1.2, 1.0]
    assert [run["experiment_id"] for run in slowest[:3]] == [experiment_id(i) for i in (4, 3, 12)]


def test_not_recovered_and_stale():
    data = model()
    assert [run["experiment_id"] for run in data["not_recovered"]] == [experiment_id(11)]
    stale = [(row["name"], row["days"], row["last_verdict"]) for row in data["stale"]]
    # never-run first; api-timeout last ran 2026-11-16 03:00, 15.4 days before NOW; the others within 14 days
    assert stale == [("never-run", None, None), ("api-timeout", 15, "PASS")]
    assert [row["name"] for row in model(stale_days=16)["stale"]] == ["never-run"]
    # 0.4 days = 9.6 h: redis-crash (last 02:00, 10 h ago) is stale, network-chaos (03:00) is not
    assert [row["name"] for row in model(stale_days=0.4)["stale"]] == ["never-run", "api-timeout", "redis-crash"]


def test_stale_looks_at_every_result_given_not_only_the_window():
    stale = model(since="12h")["stale"]
    assert [row["name"] for row in stale] == ["never-run", "api-timeout"]


def test_the_shipped_catalogue_is_read_by_file_name():
    names = catalogue_names()
    assert "backend-pause" in names and "redis-crash" in names
    assert names == sorted(f[:-4] for f in os.listdir(SHIPPED_CATALOGUE) if f.endswith(".yml"))
    assert catalogue_names("/nonexistent/catalogue") is None


def test_ad_hoc_runs_are_named_by_kind_and_services():
    assert experiment_label(result(9)) == ("container on redis", True)
    assert experiment_label(result(1)) == ("backend-pause", False)
    assert experiment_label(dict(result(9), hit=[], spread=None)) == ("container", True)


@pytest.mark.parametrize("since", ["yesterday", "7x", "-3d"])
def test_a_bad_since_is_a_clear_error(since):
    with pytest.raises(ChaosError, match="since"):
        model(since=since)


def test_nice_ceiling_and_iso_weeks_across_the_year():
    assert [nice_ceiling(v) for v in (0.3, 1.0, 1.2, 2.2, 3.0, 12.0, 260)] == [1, 1, 2, 2.5, 5, 20, 500]
    assert next_iso_week("2026-W53") == "2027-W01" and next_iso_week("2026-W52") == "2026-W53"
    assert next_iso_week("2025-W52") == "2026-W01"


# --- the page ---------------------------------------------------------------------------------------------------

def render(tmp_path=None, since=None, problems=(), data=None):
    return render_index(results() if data is None else data, list(problems), since=since, now=NOW,
                        catalogue=CATALOGUE, folder=str(tmp_path) if tmp_path else None)


def test_the_page_is_self_contained():
    text = render()
    page = Page(text)
    assert page.find("meta", http_equiv="Content-Security-Policy")[0]["content"] == CSP
    assert not [tag for tag, dummy in page.elements if tag in ("script", "link", "img", "iframe", "object")]
    assert not re.search(r"(?i)url\(|@import|src=", text)
    assert re.findall(r"https?://[^\"' ]+", text) == ["http://www.w3.org/2000/svg"] * 2  # the SVG namespace only


def test_the_tables_show_the_truth():
    page = Page(render())
    rows = {a["data-experiment"]: (a["data-runs"], a["data-passed"]) for a in page.find("tr") if "data-runs" in a}
    assert rows == {"api-timeout": ("1", "1"), "backend-pause": ("4", "3"), "container on redis": ("1", "1"),
                    "network-chaos": ("3", "1"), "redis-crash": ("4", "3")}
    bars = [(a["data-week"], a["data-runs"], a["data-passed"]) for a in page.with_class("g", "week-bar")]
    assert len(bars) == 10 and bars[-1] == ("2026-W49", "6", "4") and bars[0] == ("2026-W40", "1", "1")
    assert [a["data-experiment-id"] for a in page.find("tr") if "data-experiment-id" in a] == [
        experiment_id(i) for i in (4, 3, 12, 6, 7, 0, 1, 2, 5, 10)]
    stale = [a["data-experiment"] for a in page.find("tr") if a.get("data-experiment") and "data-runs" not in a]
    assert stale == ["never-run", "api-timeout"]


def test_the_mttr_chart_has_one_polyline_per_service_and_its_points_in_time_order():
    page = Page(render())
    lines = {a["data-service"]: a["points"].split() for a in page.with_class("polyline", "mttr-line")}
    assert sorted(lines) == ["backend", "redis"]
    for service, count in (("backend", 5), ("redis", 6)):
        points = [a for a in page.with_class("circle", "mttr-point") if a["data-service"] == service]
        assert len(points) == len(lines[service]) == count
        ats = [float(a["data-at"]) for a in points]
        assert ats == sorted(ats)
        xs = [float(a["cx"]) for a in points]
        assert xs == sorted(xs) and ["%s,%s" % (a["cx"], a["cy"]) for a in points] == lines[service]
    hollow = [(a["data-service"], float(a["data-value"])) for a in page.with_class("circle", "upper-bound")]
    assert sorted(hollow) == [("backend", 2.0), ("backend", 3.0), ("backend", 4.0)]
    assert all(a["fill"] == "#ffffff" for a in page.with_class("circle", "upper-bound"))
    # higher values are drawn higher (smaller y): 12 s is the top of the backend line
    backend = [a for a in page.with_class("circle", "mttr-point") if a["data-service"] == "backend"]
    assert min(backend, key=lambda a: float(a["cy"]))["data-value"] == "12.0"
    assert any("backend: 12 s at 2026-11-16 02:00 UTC" in title for title in page.svg_titles)


def test_reports_are_linked_only_when_they_exist(tmp_path):
    (tmp_path / (experiment_id(4) + ".html")).write_text("<html></html>", encoding="utf-8")
    page = Page(render(tmp_path))
    assert [a["href"] for a in page.find("a")] == [experiment_id(4) + ".html"]


def test_since_and_skipped_files_are_shown():
    problems = [{"file": "/r/broken.json", "problem": "/r/broken.json is truncated JSON"}, "odd <b>text</b>"]
    text = render(since="4w", problems=problems)
    assert "runs since 2026-11-03 12:00 UTC (4w)" in text
    assert "<code>broken.json</code></td><td>/r/broken.json is truncated JSON" in text
    assert "odd &lt;b&gt;text&lt;/b&gt;" in text


def test_user_text_is_escaped():
    evil = result(1)
    evil["experiment"] = dict(evil["experiment"], name='<script>alert("x")</script>')
    evil["hit"] = [dict(evil["hit"][0], service='"><svg onload=alert(1)>')]
    evil["experiment_id"] = 'x"><b>id'
    text = render(data=[evil])
    assert "<script" not in text and "<svg onload" not in text and "<b>id" not in text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in text


def test_an_empty_period_renders_without_charts():
    text = render(since="1h")
    assert "No runs in this period." in text and 'id="mttr-chart"' not in text
    assert "never-run" in text


def test_with_results_loaded_from_a_folder(tmp_path):
    write_results(tmp_path)
    (tmp_path / "journal-20261201T061500Z-3f9a1c.json").write_text("{}", encoding="utf-8")
    (tmp_path / "broken.json").write_text('{"experiment_id": "x", ', encoding="utf-8")
    loaded, problems = load_results(str(tmp_path))
    assert len(loaded) == len(RUNS) and len(problems) == 1
    page = Page(render_index(loaded, problems, now=NOW, catalogue=CATALOGUE, folder=str(tmp_path)))
    assert len(page.with_class("circle", "mttr-point")) == 11
    assert len(page.find("tr")) > 20
