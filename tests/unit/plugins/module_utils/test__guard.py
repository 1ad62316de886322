# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._guard import (
    FAIL,
    PASS,
    SKIPPED,
    check_ceiling,
    check_protected,
    check_ratio,
    evaluate,
    in_window,
    parse_now,
    parse_window,
)

BERLIN_NIGHT = {"days": ["mon", "wed", "fri"], "start": "02:00", "end": "04:00", "timezone": "Europe/Berlin"}
BERLIN_FRI_LATE = {"days": ["fri"], "start": "23:00", "end": "01:00", "timezone": "Europe/Berlin"}
BERLIN_SUN_2_4 = {"days": ["sun"], "start": "02:00", "end": "04:00", "timezone": "Europe/Berlin"}
BERLIN_SUN_2_3 = {"days": ["sun"], "start": "02:00", "end": "03:00", "timezone": "Europe/Berlin"}
NEW_YORK_OFFICE = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00",
                   "timezone": "America/New_York"}
UTC_SUNDAY_NIGHT = {"days": ["sun"], "start": "22:00", "end": "02:00"}


@pytest.mark.parametrize("window, now, expected", [
    # 2024-03-01 is a Friday; Berlin is UTC+1 in winter
    (BERLIN_NIGHT, "2024-03-01T01:30:00Z", True),            # Fri 02:30
    (BERLIN_NIGHT, "2024-03-01T02:30:00+01:00", True),       # the same moment, given with an offset
    (BERLIN_NIGHT, "2024-03-01T00:59:00Z", False),           # Fri 01:59, before the start
    (BERLIN_NIGHT, "2024-03-01T03:00:00Z", False),           # Fri 04:00: the end is excluded
    (BERLIN_NIGHT, "2024-03-02T01:30:00Z", False),           # Sat 02:30, wrong day
    (BERLIN_NIGHT, "2024-03-01T02:30:00", True),             # no offset means UTC: Fri 03:30 in Berlin
    # a window crossing midnight belongs to the day it starts
    (BERLIN_FRI_LATE, "2024-03-01T22:30:00Z", True),         # Fri 23:30
    (BERLIN_FRI_LATE, "2024-03-01T23:30:00Z", True),         # Sat 00:30, Friday's window
    (BERLIN_FRI_LATE, "2024-03-02T00:00:00Z", False),        # Sat 01:00, closed
    (BERLIN_FRI_LATE, "2024-02-29T23:30:00Z", False),        # Fri 00:30 is Thursday's window (none)
    (BERLIN_FRI_LATE, "2024-03-02T22:30:00Z", False),        # Sat 23:30
    (UTC_SUNDAY_NIGHT, "2024-03-04T01:00:00Z", True),        # Mon 01:00 after Sunday 22:00, across the week
    (UTC_SUNDAY_NIGHT, "2024-03-03T21:59:00Z", False),
    # 2024-03-31: Berlin skips 02:00-03:00 (01:00 UTC, CET -> CEST)
    (BERLIN_SUN_2_4, "2024-03-31T00:30:00Z", False),         # 01:30 CET
    (BERLIN_SUN_2_4, "2024-03-31T01:00:00Z", True),          # 03:00 CEST, the first minute after the jump
    (BERLIN_SUN_2_4, "2024-03-31T01:59:00Z", True),          # 03:59 CEST
    (BERLIN_SUN_2_4, "2024-03-31T02:00:00Z", False),         # 04:00 CEST
    # 2024-10-27: Berlin lives 02:00-03:00 twice (01:00 UTC, CEST -> CET); both count
    (BERLIN_SUN_2_3, "2024-10-26T23:59:00Z", False),         # 01:59 CEST
    (BERLIN_SUN_2_3, "2024-10-27T00:30:00Z", True),          # 02:30 CEST
    (BERLIN_SUN_2_3, "2024-10-27T01:30:00Z", True),          # 02:30 CET, the second time
    (BERLIN_SUN_2_3, "2024-10-27T02:00:00Z", False),         # 03:00 CET
    # New York switched on 2024-03-10: the same UTC time is 08:30 before and 09:30 after
    (NEW_YORK_OFFICE, "2024-03-08T13:30:00Z", False),
    (NEW_YORK_OFFICE, "2024-03-11T13:30:00Z", True),
])
def test_in_window(window, now, expected):
    assert in_window(parse_window(window), parse_now(now)) is expected


@pytest.mark.parametrize("window, message", [
    ({"days": ["funday"], "start": "02:00", "end": "04:00"}, "unknown day 'funday'"),
    ({"days": ["mon"], "start": "25:00", "end": "04:00"}, "start '25:00' is not a time of day"),
    ({"days": ["mon"], "start": "02:00", "end": "4pm"}, "end '4pm' is not a time of day"),
    ({"days": ["mon"], "start": "02:00", "end": "04:00", "timezone": "Mars/Olympus"}, "not a known IANA time zone"),
    ({"days": ["mon"], "start": "02:00", "end": "02:00"}, "empty window"),
    ({"days": ["mon"], "start": "02:00"}, "needs start and end"),
])
def test_bad_windows(window, message):
    with pytest.raises(ChaosError) as caught:
        parse_window(window, 0)
    assert message in caught.value.msg
    assert "maintenance_windows[0]" in caught.value.msg


def test_days_are_case_insensitive_and_long_names_work():
    assert parse_window({"days": ["Monday", "FRI"], "start": "0:00", "end": "23:59"})["days"] == {0, 4}


@pytest.mark.parametrize("value", ["yesterday", "2024-13-01T00:00:00Z", "2024-03-01 25:00"])
def test_bad_now(value):
    with pytest.raises(ChaosError, match="not an ISO 8601 timestamp"):
        parse_now(value)


def _results(*flags):
    return [{"name": "p%d" % i, "healthy": ok, "detail": "ok" if ok else "ConnectionRefusedError"}
            for i, ok in enumerate(flags)]


@pytest.mark.parametrize("flags, ratio, verdict", [
    ((True, True, True, True, True), 0.8, PASS),
    ((True, True, True, True, False), 0.8, PASS),        # exactly at the limit is fine
    ((True, True, True, False, False), 0.8, FAIL),
    ((False,), 0.0, PASS),
    ((True, False), 1.0, FAIL),
    ((), 0.8, SKIPPED),
])
def test_ratio(flags, ratio, verdict):
    check, reason = check_ratio(_results(*flags), ratio)
    assert check["verdict"] == verdict
    assert (reason is not None) == (verdict == FAIL)
    if reason:
        assert "below min_healthy_ratio %s" % ratio in reason and "ConnectionRefusedError" in reason


@pytest.mark.parametrize("figure, ceiling, verdict", [
    (12.0, 85, PASS), (85.0, 85, PASS), (85.06, 85, FAIL), (99.9, 90, FAIL),
])
def test_ceilings(figure, ceiling, verdict):
    check, reason = check_ceiling("CPU", figure, ceiling)
    assert check["verdict"] == verdict
    assert (reason is not None) == (verdict == FAIL)


def test_protected_by_name_service_glob_and_label():
    db = {"id": "a" * 64, "name": "demo_postgres_1", "labels": {}, "compose_service": "postgres"}
    labelled = {"id": "b" * 64, "name": "demo_vault_1", "labels": {"sutazai.chaos.protected": "true"},
                "compose_service": "vault"}
    check, reason = check_protected(["redis", "postgres"], ["postgres"])
    assert check["figure"] == ["postgres"] and "postgres" in reason
    check, reason = check_protected(["demo_postgres_1"], ["postgres"], [db])  # service behind the name
    assert check["verdict"] == FAIL
    check, reason = check_protected(["demo_postgres_1"], ["postgres"])  # engine unknown: name only
    assert check["verdict"] == PASS and reason is None
    check, _reason = check_protected(["vault"], [], [labelled])
    assert check["verdict"] == FAIL
    check, _reason = check_protected(["db-primary"], ["db-*"])
    assert check["verdict"] == FAIL


def _params(**overrides):
    params = dict(min_healthy_ratio=0.8, max_cpu_percent=85.0, max_memory_percent=90.0, maintenance_windows=[],
                  require_window=False, now="2024-03-01T01:30:00Z", protected=[], planned_targets=[],
                  planned_duration=None, safe_mode=False, max_targets_in_safe_mode=1, max_duration_in_safe_mode=60.0)
    params.update(overrides)
    return params


def _measure(results=(), cpu=10.0, memory=20.0, stop=False):
    return {"probes": lambda: list(results), "cpu": lambda: cpu, "memory": lambda: memory,
            "stop_flag": lambda: stop, "stop_flag_path": "/x/emergency-stop", "containers": lambda: None}


def test_all_good_is_safe_and_skips_what_was_not_asked():
    verdict = evaluate(_params(), _measure())
    assert verdict["safe"] is True and verdict["reasons"] == []
    assert verdict["in_window"] is None
    assert verdict["checks"]["healthy_ratio"]["verdict"] == SKIPPED
    assert verdict["checks"]["maintenance_window"]["verdict"] == SKIPPED
    assert verdict["checks"]["cpu"] == {"figure": 10.0, "limit": 85.0, "verdict": PASS, "detail": None}


def test_every_failed_check_gives_one_reason():
    verdict = evaluate(
        _params(maintenance_windows=[BERLIN_FRI_LATE], require_window=True, protected=["postgres"],
                planned_targets=["postgres", "redis"], planned_duration=300, safe_mode=True),
        _measure(_results(True, False), cpu=97.3, memory=95.0, stop=True))
    assert verdict["safe"] is False
    failed = sorted(name for name, check in verdict["checks"].items() if check["verdict"] == FAIL)
    assert failed == ["cpu", "emergency_stop", "healthy_ratio", "maintenance_window", "memory", "protected",
                      "safe_mode_duration", "safe_mode_targets"]
    assert len(verdict["reasons"]) == len(failed)
    text = " | ".join(verdict["reasons"])
    for part in ("emergency-stop flag is set (/x/emergency-stop)", "outside every maintenance window",
                 "postgres are protected", "at most 1 target(s), 2 are planned", "at most 60.0 s",
                 "only 1 of 2 probes", "CPU use is 97.3 %", "memory use is 95.0 %"):
        assert part in text


def test_window_not_required_is_only_reported():
    verdict = evaluate(_params(maintenance_windows=[BERLIN_FRI_LATE]), _measure())
    assert verdict["safe"] is True and verdict["in_window"] is False
    verdict = evaluate(_params(maintenance_windows=[BERLIN_NIGHT], require_window=True), _measure())
    assert verdict["safe"] is True and verdict["in_window"] is True


def test_safe_mode_within_limits():
    verdict = evaluate(_params(safe_mode=True, planned_targets=["redis"], planned_duration=60), _measure())
    assert verdict["safe"] is True
    assert verdict["checks"]["safe_mode_targets"]["verdict"] == PASS


@pytest.mark.parametrize("overrides, message", [
    ({"min_healthy_ratio": 1.5}, "min_healthy_ratio must be between 0 and 1"),
    ({"min_healthy_ratio": -0.1}, "min_healthy_ratio must be between 0 and 1"),
    ({"max_cpu_percent": 0}, "max_cpu_percent must be above 0"),
    ({"max_memory_percent": 120}, "max_memory_percent must be above 0"),
    ({"require_window": True}, "no maintenance_windows"),
    ({"now": "soon"}, "not an ISO 8601 timestamp"),
    ({"maintenance_windows": [dict(BERLIN_NIGHT, timezone="Europe/Atlantis")]}, "not a known IANA time zone"),
])
def test_bad_settings_measure_nothing(overrides, message):
    def boom():
        raise AssertionError("measured although the input is bad")
    measure = {"probes": boom, "cpu": boom, "memory": boom, "stop_flag": boom, "stop_flag_path": "-",
               "containers": boom}
    with pytest.raises(ChaosError, match=message):
        evaluate(_params(**overrides), measure)


@pytest.mark.parametrize(
    "planned, protected, verdict",
    [
        (["cache"], ["cache"], FAIL),  # the label's service named directly
        (["shop-cache-7f3a"], ["cache"], FAIL),  # the container name, protected by its label service
        (["cache"], ["shop-cache-7f3a"], FAIL),  # the service, protected by its container name
        (["lonely"], ["lonely"], FAIL),  # a plain container's service is its name
        (["shop-web-1"], ["web"], FAIL),  # compose service, as before
        (["shop-cache-7f3a"], ["web", "lonely"], PASS),
    ],
)
def test_protected_by_service_name(planned, protected, verdict):
    containers = [
        {"id": "a" * 64, "name": "shop-cache-7f3a", "labels": {"sutazai.chaos.service": "cache"},
         "compose_service": None, "service": "cache"},
        {"id": "b" * 64, "name": "shop-web-1", "labels": {}, "compose_service": "web", "service": "web"},
        {"id": "c" * 64, "name": "lonely", "labels": {}, "compose_service": None, "service": "lonely"},
    ]
    check, reason = check_protected(planned, protected, containers)
    assert check["verdict"] == verdict
    assert (reason is None) == (verdict == PASS)
