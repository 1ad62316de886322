# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/report.yml over 13 synthetic results whose truth is known (no Docker, no experiment run).

The results of tests/unit/plugins/module_utils/trend_results.py are moved in time so that they are as old at this
moment as they are at its NOW (the playbook reads the clock). (a) The trend page over them with since=30d and a
retention dry run: the figures on the page, nothing removed; the page opened in headless Chromium when there is
one. (b) Retention applied with an archive: exactly the old results gone, the archive holds them, the page counts
what stays.
"""

from __future__ import annotations

import html.parser
import importlib.util
import json
import os
import subprocess
import tarfile
import time

import pytest

from conftest import REPO, VENV_BIN, ansible_env  # noqa: I001 - pytest puts this folder on sys.path

_SPEC = importlib.util.spec_from_file_location(
    "trend_results", REPO / "tests" / "unit" / "plugins" / "module_utils" / "trend_results.py")
truth = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(truth)
SHIPPED = sorted(name[:-4] for name in os.listdir(REPO / "experiments") if name.endswith(".yml"))


class Elements(html.parser.HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.elements = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def having(self, tag, attribute):
        return [a for t, a in self.elements if t == tag and attribute in a]


def run_report(tmp_path, *extra):
    """ansible-playbook playbooks/report.yml with the JSON callback -> {task name: result}."""
    journals = tmp_path / "journals"
    journals.mkdir(exist_ok=True)
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "playbooks/report.yml"] + list(extra), cwd=REPO,
                          env=ansible_env({"SUTAZAI_CHAOS_JOURNAL_DIR": str(journals)}), capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    data = json.loads(proc.stdout[proc.stdout.index("{"):])
    return {task["task"]["name"]: task["hosts"]["localhost"] for play in data["plays"] for task in play["tasks"]}


@pytest.fixture
def folder(tmp_path):
    """The 13 results, as old now as at the truth's NOW; returns (folder, shift)."""
    results = tmp_path / "results"
    results.mkdir()
    shift = time.time() - truth.epoch(truth.NOW[:-1])
    truth.write_results(results, shift=shift)
    return results, shift


def test_the_trend_page_and_a_retention_dry_run(folder, tmp_path):
    results, shift = folder
    before = sorted(os.listdir(results))
    tasks = run_report(tmp_path, "-e", "report_dir=%s" % results, "-e", "since=30d", "-e", "prune_older_than=60d")
    retention = tasks["Retention - the results older than prune_older_than"]
    # run 0 is 61.4 days old; run 1, the next, 22.4 days
    assert [row["file"] for row in retention["files"]] == [truth.experiment_id(0, shift) + ".json"]
    assert (retention["changed"], retention["dry_run"], retention["removed"]) == (False, True, [])
    report = tasks["Reports and the trend page"]
    assert (report["results"], report["reports"], report["problems"]) == (13, 12, [])
    assert tasks["Where the trend page is"]["msg"] == "Trend page: %s/index.html (13 result(s), 12 since 30d)" % results
    written = sorted(os.listdir(results))
    assert [name for name in written if name.endswith(".json")] == before  # the dry run removed nothing
    assert len(written) == 13 + 2 * 12 + 1

    text = (results / "index.html").read_text(encoding="utf-8")
    page = Elements(text)
    rows = {a["data-experiment"]: (a["data-runs"], a["data-passed"]) for a in page.having("tr", "data-runs")}
    assert rows == {"api-timeout": ("1", "1"), "backend-pause": ("4", "3"), "container on redis": ("1", "1"),
                    "network-chaos": ("2", "0"), "redis-crash": ("4", "3")}
    weeks = [(a["data-week"], int(a["data-runs"]), int(a["data-passed"])) for a in page.having("g", "data-week")]
    assert (sum(w[1] for w in weeks), sum(w[2] for w in weeks)) == (12, 8) and 4 <= len(weeks) <= 5
    points = page.having("circle", "data-at")
    for service, count in (("backend", 5), ("redis", 5)):
        ats = [float(a["data-at"]) for a in points if a["data-service"] == service]
        assert len(ats) == count and ats == sorted(ats)
        line = [a for a in page.having("polyline", "data-service") if a["data-service"] == service]
        assert len(line) == 1 and len(line[0]["points"].split()) == count
    slowest = [a["data-experiment-id"] for a in page.having("tr", "data-experiment-id")]
    assert slowest == [truth.experiment_id(i, shift) for i in (4, 3, 12, 6, 7, 1, 2, 5, 10, 9)]
    links = [a["href"] for t, a in page.elements if t == "a"]
    assert links == [truth.experiment_id(i, shift) + ".html" for i in (4, 3, 12, 6, 7, 1, 2, 5, 10, 9)]
    stale = [a["data-experiment"] for a in page.having("tr", "data-experiment") if "data-runs" not in a]
    never = [name for name in SHIPPED if name not in {run[1] for run in truth.RUNS}]
    assert stale == never + ["api-timeout"]


def test_the_trend_page_in_chromium(folder, tmp_path):
    browser = pytest.importorskip("chromium")  # tests/integration/chromium.py
    if browser.chromium() is None:
        pytest.skip("no chromium")
    results, dummy = folder
    run_report(tmp_path, "-e", "report_dir=%s" % results)
    shot = tmp_path / "trends.png"
    seen = browser.open_page(results / "index.html", height=2400, screenshot=str(shot))
    assert seen.page_requests == []
    assert seen.dom.count('class="mttr-line"') == 2 and seen.dom.count("mttr-point") == 11
    width, height, pixels = browser.png_pixels(shot)
    assert (width, height) == (1280, 2400)
    assert any(pixel[:3] == bytes.fromhex("0072B2") for pixel in pixels)  # the first service's line is drawn


def test_retention_applied_with_an_archive(folder, tmp_path):
    results, shift = folder
    archive = tmp_path / "old.tar.gz"
    tasks = run_report(tmp_path, "-e", "report_dir=%s" % results, "-e", "prune_older_than=20d",
                       "-e", "prune_apply=true", "-e", "prune_archive=%s" % archive)
    old = sorted(truth.experiment_id(i, shift) + ".json" for i in (0, 1, 2, 3))  # 61.4, 22.4, 21.4, 20.4 days
    retention = tasks["Retention - the results older than prune_older_than"]
    assert (retention["changed"], sorted(retention["removed"]), retention["archive"]) == (True, old, str(archive))
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == old
    remaining = sorted(name for name in os.listdir(results) if name.endswith(".json"))
    assert remaining == sorted(truth.experiment_id(i, shift) + ".json" for i in range(4, 13))
    assert tasks["Reports and the trend page"]["results"] == 9
