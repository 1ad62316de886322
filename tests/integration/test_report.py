# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The report is looked at: a real backend-pause run on the demo stack, its HTML made by the chaos_report action,
opened in headless Chromium. The screenshot must be a real picture; the DOM Chromium built must draw what the
result says (the fault band where the axis puts the injection and the fault end, one lane per watched service
with every poll, the events); and the page must ask the network for nothing.
"""

from __future__ import annotations

import html.parser
from pathlib import Path

import pytest

import chromium
from conftest import active_entries, run_module, run_modules
from test_run_experiment import demo_stack, playbook, results  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.skipif(chromium.chromium() is None, reason="no chromium (scripts/setup.sh installs it)")

WIDTH, HEIGHT = 1280, 1400
SAMPLE_COLOURS = {"ok": (0x2F, 0x9E, 0x5D), "none": (0x8A, 0x94, 0xA3)}  # _report_templates: --ok, --none
PIXEL_TOLERANCE = 1.5


class Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag

    def of_class(self, name):
        return [attrs for dummy, attrs in self.tags if name in (attrs.get("class") or "").split()]


@pytest.fixture(scope="module")
def seen(demo_stack, session_root, tmp_path_factory):  # noqa: F811 pylint: disable=redefined-outer-name
    """One real run, its report, and what Chromium made of it."""
    folder = tmp_path_factory.mktemp("report")
    state = session_root / "report-state"
    state.mkdir()
    try:
        yield made_and_seen(folder, state)
    finally:
        if active_entries(state):
            run_module("chaos_rollback", {"all": True, "state_dir": str(state)})


def made_and_seen(folder, state):
    """Run backend-pause, render its report with the action, open it in Chromium."""
    run = playbook("run_experiment.yml", "-e", "experiment=backend-pause", state_dir=state, report_dir=folder)
    assert run.returncode == 0, run.stdout[-4000:]
    (result,) = results(folder).values()
    # the lifecycle wrote the report beside the result and said where
    written = folder / (result["experiment_id"] + ".html")
    assert written.is_file() and "Report: %s" % written in run.stdout, run.stdout[-3000:]
    # the action renders a result file again (the report playbook's way); Chromium opens the lifecycle's page
    (made,) = run_modules([{"module": "chaos_report", "args": {"src": str(folder / (result["experiment_id"] + ".json"))}}],
                          folder)
    assert not made.get("failed"), made
    page = chromium.open_page(str(written), WIDTH, HEIGHT, screenshot=str(folder / "report.png"))
    tags = Tags()
    tags.feed(page.dom)
    return result, made, page, tags


def test_the_action_wrote_both_reports(seen):
    result, made, dummy, dummy = seen
    assert made["verdict"] == result["verdict"] == "PASS"
    assert Path(made["markdown"]).read_text().startswith("# Chaos experiment backend-pause: **PASS**")
    assert Path(made["html"]).name == result["experiment_id"] + ".html"


def test_the_screenshot_is_a_real_picture(seen):
    dummy, dummy, page, dummy = seen
    width, height, pixels = chromium.png_pixels(page.screenshot)
    assert (width, height) == (WIDTH, HEIGHT)
    colours = {tuple(pixel[:3]) for pixel in pixels}
    assert len(colours) > 50, len(colours)   # text, cards, lanes: not a blank or one-colour page
    assert SAMPLE_COLOURS["ok"] in colours   # healthy polls were painted


def axis(tags):
    """(x of the injection, px per second) read from the drawn axis: its ticks are seconds from the injection."""
    ticks = sorted((float(a["data-offset"]), float(a["data-x"])) for a in tags.of_class("tick"))
    (zero,) = [x for offset, x in ticks if offset == 0]
    (first_offset, first_x), (last_offset, last_x) = ticks[0], ticks[-1]
    return zero, (last_x - first_x) / (last_offset - first_offset)


def test_the_fault_band_sits_where_the_axis_puts_the_fault(seen):
    result, dummy, dummy, tags = seen
    zero, per_second = axis(tags)
    (band,) = tags.of_class("fault-band")
    assert abs(float(band["x"]) - zero) <= PIXEL_TOLERANCE
    fault_seconds = result["fault_ended_at"] - result["injected_at"]
    assert abs(float(band["width"]) - fault_seconds * per_second) <= PIXEL_TOLERANCE
    assert abs(fault_seconds - result["duration"]) < 1.0  # the 8 s pause, expired by its deadline


def test_one_lane_per_watched_service_with_every_poll(seen):
    result, dummy, dummy, tags = seen
    timeline = result["timeline"]
    lanes = tags.of_class("lane")
    assert [lane["data-service"] for lane in lanes] == timeline["services"] == result["watched"]
    samples = tags.of_class("sample")
    assert len(samples) == sum(len(polls) for polls in timeline["samples"].values())
    drawn = [(float(s["data-at"]), s["class"].split()[1]) for s in samples]
    truth = [(at, state) for service in timeline["services"] for at, state, dummy in timeline["samples"][service]]
    assert drawn == truth
    assert {"ok", "none"} <= {state for dummy, state in truth}  # the pause really left polls unanswered


def test_the_events_are_marked_on_the_scale(seen):
    result, dummy, dummy, tags = seen
    zero, per_second = axis(tags)
    events = tags.of_class("event")
    assert [e["data-event"] for e in events] == [e["event"] for e in result["timeline"]["events"]]
    assert {"injected", "expired", "recovered"} <= {e["data-event"] for e in events}
    for event in events:
        expected = zero + (float(event["data-at"]) - result["injected_at"]) * per_second
        assert abs(float(event["data-x"]) - expected) <= PIXEL_TOLERANCE
    (bracket,) = tags.of_class("recovery-bracket")
    assert abs(float(bracket["data-width"]) - result["recovery_seconds"] * per_second) <= PIXEL_TOLERANCE


def test_the_page_asks_the_network_for_nothing(seen):
    dummy, made, page, tags = seen
    assert page.page_requests == []
    # Chromium's own background calls were all refused at the dead proxy: nothing left this host
    assert all(error is not None for dummy, error in page.browser_requests), page.browser_requests
    assert not [t for t, a in tags.tags if t in ("script", "link", "img", "iframe")]
    text = Path(made["html"]).read_text()
    assert "default-src 'none'; style-src 'unsafe-inline'; img-src data:" in text


def test_the_network_check_would_see_a_request(tmp_path):
    """The check above can fail: a page without the CSP that loads an image is caught."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    page = chromium.open_page(leaky, 400, 300)
    assert [url for url, dummy in page.page_requests] == ["http://127.0.0.1:9/x.png"]
