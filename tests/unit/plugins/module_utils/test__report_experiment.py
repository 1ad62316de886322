# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The experiment report's model and pages, from a synthetic result whose truth is known.

The run: services a, b, c polled every second from t=995 to t=1019; the fault injected at 1000 for 10 s;
a fails 1003-1006, b does not answer 1004-1005, c stays healthy; recovered 2 s after the fault end (1012).
The x scale runs from 995 to 1020 (the last poll plus one interval) onto 128..936 px: 32.32 px a second.
"""

from __future__ import annotations

import copy
import html.parser
import re

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._report_experiment import (
    report_model,
    render_html,
    render_markdown,
    service_rows,
    timeline_model,
)

PX = 32.32
WINDOWS = [("baseline", 995, 999), ("fault", 1001, 1009), ("recovery", 1010, 1014), ("steady", 1016, 1019)]
EPOCHS = [t for _phase, start, stop in WINDOWS for t in range(start, stop + 1)]
BASELINE_LATENCY = {995: 10.0, 996: 20.0, 997: 30.0, 998: 40.0, 999: 50.0}


def x_of(epoch):
    return round(128 + (epoch - 995) * PX, 2)


def lane(bad=(), state="fail"):
    return [[float(t), state if t in bad else "ok", BASELINE_LATENCY.get(t, 100.0 if t not in bad else None)]
            for t in EPOCHS]


RESULT = {
    "schema_version": 1, "experiment_id": "demo-20261201T000000-abcdef",
    "experiment": {"name": "demo", "description": "a known run", "file": "experiments/demo.yml"},
    "kind": "container", "module": "container_chaos", "host": "localhost",
    "fault": {"action": "pause", "duration": 10}, "duration": 10,
    "hit": [{"target": "demo_a_1", "service": "a", "state_before": "running", "state_after": "paused"}],
    "watched": ["a", "b", "c"], "injected_at": 1000.0, "fault_ended_at": 1010.0,
    "recovered": True, "recovery_seconds": 2.0, "recovery_counted_from": "fault end",
    "recovery_is_upper_bound": False, "availability_during_fault": 0.5556, "cascade_depth": 1,
    "hypothesis": {"max_recovery_seconds": 15}, "verdict": "PASS", "reason": "the hypothesis held",
    "hypothesis_checks": [{"check": "max_recovery_seconds", "what": "time to recover", "comparison": "<=",
                           "threshold": 15.0, "value": 2.0, "held": True}],
    "spread": {"cascade_depth": 1, "mttr_seconds": 4.0, "affected": ["a", "b"],
               "per_service": {"a": {"depth": 0}, "b": {"depth": 1}, "c": {"depth": 2}}},
    "left_active_after_experiment": 0, "leftovers": [], "error": None,
    "timeline": {
        "services": ["a", "b", "c"],
        "windows": [{"phase": p, "from": float(s), "to": float(e), "polls": e - s + 1} for p, s, e in WINDOWS],
        "samples": {"a": lane(bad=(1003, 1004, 1005, 1006)), "b": lane(bad=(1004, 1005), state="none"),
                    "c": lane()},
        "events": [{"at": 1000.0, "event": "injected", "detail": "demo_a_1"},
                   {"at": 1010.0, "event": "expired", "detail": "the fault's deadline"},
                   {"at": 1012.0, "event": "recovered", "detail": "2 s after the fault end"}],
    },
}


def changed(**changes):
    data = copy.deepcopy(RESULT)
    data.update(changes)
    return data


def test_the_scale_runs_from_the_first_poll_to_one_interval_after_the_last():
    t = timeline_model(RESULT)
    assert (t["start"], t["end"], t["plot_left"], t["plot_right"]) == (995.0, 1020.0, 128, 936)
    assert t["px_per_second"] == pytest.approx(PX)


def test_the_fault_band_spans_injection_to_fault_end():
    (band,) = timeline_model(RESULT)["bands"]
    assert (band["x"], band["width"], band["instant"]) == (x_of(1000), round(10 * PX, 2), False)
    assert (band["from"], band["to"]) == (1000.0, 1010.0)


def test_a_rollback_before_the_deadline_ends_the_band():
    (band,) = timeline_model(changed(error={"msg": "aborted", "rolled_back_at": 1004.0}))["bands"]
    assert (band["x"], band["width"]) == (x_of(1000), round(4 * PX, 2))


def test_a_crash_without_duration_is_a_narrow_band_at_the_injection():
    (band,) = timeline_model(changed(duration=None, fault_ended_at=1000.0))["bands"]
    assert band["instant"] and band["width"] == 6.0 and band["x"] == round(x_of(1000) - 3, 2)


def test_one_lane_per_watched_service_with_every_sample():
    lanes = timeline_model(RESULT)["lanes"]
    assert [l["service"] for l in lanes] == ["a", "b", "c"]
    assert [l["y"] for l in lanes] == [60, 94, 128]
    for drawn in lanes:
        truth = RESULT["timeline"]["samples"][drawn["service"]]
        assert [(s["at"], s["state"]) for s in drawn["samples"]] == [(t[0], t[1]) for t in truth]
        assert [s["x"] for s in drawn["samples"]] == [x_of(t[0]) for t in truth]
    a = lanes[0]["samples"]
    assert [s["at"] for s in a if s["state"] == "fail"] == [1003.0, 1004.0, 1005.0, 1006.0]
    assert {s["state"] for s in lanes[1]["samples"] if s["at"] in (1004.0, 1005.0)} == {"none"}


def test_a_sample_reaches_the_next_poll_of_its_window_never_across_an_unwatched_stretch():
    a = {s["at"]: s for s in timeline_model(RESULT)["lanes"][0]["samples"]}
    assert a[995.0]["width"] == round(PX - 1, 2)           # up to the next poll, 1 px apart
    assert a[999.0]["width"] == round(PX - 1, 2)           # baseline's last: one interval, not the 2 s gap
    assert a[1019.0]["x"] + a[1019.0]["width"] == pytest.approx(936 - 1, abs=0.02)


def test_events_are_marked_where_they_happened():
    events = timeline_model(RESULT)["events"]
    assert [(e["event"], e["x"]) for e in events] == [("injected", x_of(1000)), ("expired", x_of(1010)),
                                                      ("recovered", x_of(1012))]
    assert events[0]["label_y"] != events[1]["label_y"] or events[1]["x"] - events[0]["x"] >= 72


def test_the_recovery_bracket_runs_from_the_fault_end_for_the_recovery_time():
    bracket = timeline_model(RESULT)["bracket"]
    assert (bracket["x"], bracket["width"]) == (x_of(1010), round(2 * PX, 2))
    assert bracket["label"] == "recovered in 2 s after the fault end" and not bracket["upper_bound"]
    upper = timeline_model(changed(recovery_is_upper_bound=True, recovery_counted_from="injection",
                                   recovery_seconds=12.0))["bracket"]
    assert (upper["x"], upper["width"]) == (x_of(1000), round(12 * PX, 2))
    assert upper["label"].startswith("at most: ") and upper["upper_bound"]


def test_no_bracket_without_recovery():
    assert timeline_model(changed(recovered=False, recovery_seconds=None))["bracket"] is None


def test_the_axis_counts_seconds_from_the_injection():
    ticks = timeline_model(RESULT)["ticks"]
    assert [(t["label"], t["x"]) for t in ticks] == [(label, x_of(1000 + offset)) for label, offset in (
        ("-5 s", -5), ("0", 0), ("+5 s", 5), ("+10 s", 10), ("+15 s", 15), ("+20 s", 20))]


def test_nothing_to_draw_without_polls_or_events():
    nothing = changed(injected_at=None, fault_ended_at=None, recovered=False, recovery_seconds=None,
                      timeline={"services": [], "samples": {}, "events": []})
    assert timeline_model(nothing) is None
    assert "Nothing was observed: no poll and no event to draw." in render_html(nothing)


def test_the_service_table_from_the_samples():
    rows = {row["service"]: row for row in service_rows(RESULT)}
    a, b, c = rows["a"], rows["b"], rows["c"]
    assert (a["polls"], a["availability"], a["error_rate"], a["no_answer"]) == (9, 5 / 9, 4 / 9, 0)
    assert (b["availability"], b["no_answer"]) == (7 / 9, 2)
    assert c["availability"] == 1.0 and c["mttr"] is None
    assert a["before"] == {"p50": 30.0, "p95": 50.0, "p99": 50.0}
    assert a["during"] == {"p50": 100.0, "p95": 100.0, "p99": 100.0}
    assert (a["mttr"], b["mttr"]) == (4.0, 2.0)         # first bad poll -> the healthy one after the last
    assert [rows[s]["depth"] for s in "abc"] == [0, 1, 2]


def test_a_service_that_never_came_back():
    data = copy.deepcopy(RESULT)
    data["timeline"]["samples"]["a"] = lane(bad=[t for t in EPOCHS if t >= 1003])
    assert service_rows(data)[0]["mttr"] == "not recovered"


class Elements(html.parser.HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def with_class(self, name):
        return [a for _t, a in self.tags if name in (a.get("class") or "").split()]


def parsed(page):
    parser = Elements()
    parser.feed(page)
    return parser


def test_the_html_draws_the_truth():
    page = parsed(render_html(RESULT))
    (band,) = page.with_class("fault-band")
    assert (float(band["x"]), float(band["width"])) == (x_of(1000), round(10 * PX, 2))
    assert float(band["data-from"]) == 1000.0 and float(band["data-to"]) == 1010.0
    lanes = page.with_class("lane")
    assert [l["data-service"] for l in lanes] == ["a", "b", "c"]
    samples = page.with_class("sample")
    assert len(samples) == 3 * len(EPOCHS)
    assert sum("fail" in s["class"].split() for s in samples) == 4
    assert sum("none" in s["class"].split() for s in samples) == 2
    assert [e["data-event"] for e in page.with_class("event")] == ["injected", "expired", "recovered"]
    (bracket,) = page.with_class("recovery-bracket")
    assert (float(bracket["data-x"]), float(bracket["data-width"])) == (x_of(1010), round(2 * PX, 2))
    (verdict,) = [a for t, a in page.tags if a.get("id") == "verdict"]
    assert verdict["class"] == "verdict pass"
    text = " ".join(page.text)
    assert "Nothing: every fault was undone." in text and "time to recover" in text


def test_the_html_loads_nothing_and_says_so():
    page = render_html(RESULT)
    tags = parsed(page).tags
    (csp,) = [a for t, a in tags if t == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp["content"] == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
    assert not [t for t, a in tags if t in ("script", "link", "img", "iframe", "object", "embed")]
    assert not [a for t, a in tags if any(k in ("src", "href") for k in a)]
    assert not re.search(r"url\(|@import|https?://(?!www\.w3\.org/2000/svg)", page)


def test_user_text_is_escaped():
    evil = '<script>alert(1)</script> & "x" | *y*'
    data = changed(experiment={"name": evil, "description": evil}, reason=evil)
    data["timeline"]["events"][0]["detail"] = evil
    page = render_html(data)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    markdown = render_markdown(data)
    assert "<script>" not in markdown and r"\<script\>alert\(1\)\</script\>" in markdown
    assert r"\| \*y\*" in markdown


def test_leftovers_are_shown():
    leftover = {"target": "demo_a_1", "device": "eth0", "qdisc": True, "chains": ["SUTAZAI-x"]}
    data = changed(left_active_after_experiment=1, leftovers=[leftover], verdict="FAIL")
    page = render_html(data)
    assert "1 fault(s) still active" in page and 'class="verdict fail"' in page
    assert "demo_a_1 (chains: SUTAZAI-x, device: eth0, qdisc: True)" in page
    assert "- demo\\_a\\_1 \\(chains: SUTAZAI-x, device: eth0, qdisc: True\\)" in render_markdown(data)


def test_the_markdown_report():
    markdown = render_markdown(RESULT)
    assert markdown.startswith("# Chaos experiment demo: **PASS**\n")
    assert "| a | 55.6% | 44.4% | 30 / 50 / 50 | 100 / 100 / 100 | 4 s | 0 |" in markdown
    assert "| b | 77.8% | 22.2% (2 of 9 unanswered) |" in markdown
    assert "| Time to recover | 2 s after the fault end |" in markdown
    assert "- held: time to recover 2 (must be \\<= 15)" in markdown
    assert "Nothing: every fault was undone." in markdown


def test_the_model_masks_secrets_left_in_a_result():
    data = changed(fault={"action": "pause", "token": "hunter2"})
    assert "hunter2" not in render_html(data) and "hunter2" not in render_markdown(data)
    assert "hunter2" not in str(report_model(data))
