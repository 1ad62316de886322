# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.chaos_guard against the running demo stack (sutazai-demo, ports on 127.0.0.1).

The guard only reads; the CPU and memory ceilings are set to 100 % here so that other work on
this machine cannot flip a verdict (the ceilings are unit-tested with injected figures).
"""

from __future__ import annotations

import socket

import pytest

from conftest import run_modules

DEMO = [
    {"name": "backend", "type": "http", "url": "http://127.0.0.1:18000/health"},
    {"name": "frontend", "type": "http", "url": "http://127.0.0.1:18001/health"},
    {"name": "redis", "type": "tcp", "host": "127.0.0.1", "port": 16379},
]
# Fri 2024-03-01 02:30 and 05:30 in Berlin (UTC+1)
INSIDE, OUTSIDE = "2024-03-01T01:30:00Z", "2024-03-01T04:30:00Z"
NIGHT = [{"days": ["mon", "wed", "fri"], "start": "02:00", "end": "04:00", "timezone": "Europe/Berlin"}]


@pytest.fixture(scope="module")
def demo_up():
    for port in (18000, 18001, 16379):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        except OSError:
            pytest.skip("the demo stack sutazai-demo is not up (port %d): run scripts/run-demo.sh" % port)


def closed_port():
    """A port on 127.0.0.1 where nothing listens (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def guard(state_dir, check=False, **args):
    base = {"state_dir": str(state_dir), "max_cpu_percent": 100, "max_memory_percent": 100,
            "fail_on_unsafe": False}
    base.update(args)
    return {"module": "chaos_guard", "args": base, "check": check}


def failed_checks(result):
    return sorted(name for name, check in result["checks"].items() if check["verdict"] == "fail")


def test_guard_verdicts_against_the_demo_stack(demo_up, state_dir):
    sd = str(state_dir)
    unreachable = dict(name="nothing-there", type="tcp", host="127.0.0.1", port=closed_port())
    calls = [
        guard(sd, probes=DEMO),
        guard(sd, probes=DEMO, check=True),
        guard(sd, probes=DEMO[:2] + [unreachable]),
        guard(sd, probes=DEMO[:2] + [unreachable], fail_on_unsafe=True),
        guard(sd, maintenance_windows=NIGHT, require_window=True, now=INSIDE),
        guard(sd, maintenance_windows=NIGHT, require_window=True, now=OUTSIDE),
        guard(sd, maintenance_windows=NIGHT, now=OUTSIDE),
        {"module": "chaos_emergency_stop", "args": {"state_dir": sd, "reason": "guard test"}},
        guard(sd, protected=["postgres"], planned_targets=["redis", "postgres"]),
        guard(sd, protected=["postgres"], planned_targets=["sutazai-demo_postgres_1"]),
        guard(sd, safe_mode=True, planned_targets=["redis", "frontend"], planned_duration=30),
        guard(sd, safe_mode=True, planned_targets=["redis"], planned_duration=30),
        {"module": "chaos_emergency_stop", "args": {"state_dir": sd, "state": "absent"}},
    ]
    (healthy, healthy_check, down, down_fails, inside, outside, no_window_needed, flagged, protected,
     protected_by_container, safe_mode_two, safe_mode_one, _clear) = run_modules(calls, state_dir)

    assert healthy.get("failed") is not True, healthy
    assert healthy["safe"] is True and healthy["reasons"] == [] and healthy["changed"] is False
    assert healthy["checks"]["healthy_ratio"]["figure"] == 1.0
    assert 0 <= healthy["checks"]["cpu"]["figure"] <= 100 and 0 < healthy["checks"]["memory"]["figure"] < 100
    assert [p["healthy"] for p in healthy["probes"]] == [True, True, True]
    assert healthy_check["safe"] is True and healthy_check["changed"] is False

    assert down["safe"] is False and failed_checks(down) == ["healthy_ratio"]
    assert down["checks"]["healthy_ratio"]["figure"] == pytest.approx(0.6667, abs=1e-3)
    assert "only 2 of 3 probes are healthy" in down["reasons"][0] and "nothing-there" in down["reasons"][0]
    assert down_fails.get("failed") is True and "unsafe to inject (1 check(s) failed)" in down_fails["msg"]
    assert "Nothing was changed" in down_fails["msg"] and "Traceback" not in down_fails.output

    assert inside["safe"] is True and inside["in_window"] is True
    assert outside["safe"] is False and outside["in_window"] is False
    assert failed_checks(outside) == ["maintenance_window"]
    assert "outside every maintenance window" in outside["reasons"][0]
    assert no_window_needed["safe"] is True and no_window_needed["in_window"] is False

    assert flagged["changed"] is True
    assert protected["safe"] is False and sorted(failed_checks(protected)) == ["emergency_stop", "protected"]
    assert any("emergency-stop flag is set" in r for r in protected["reasons"])
    assert protected["checks"]["protected"]["figure"] == ["postgres"]
    # the name of the demo's postgres container is protected through its compose service
    assert protected_by_container["checks"]["protected"]["figure"] == ["sutazai-demo_postgres_1"]

    assert "safe_mode_targets" in failed_checks(safe_mode_two)
    assert any("at most 1 target(s), 2 are planned" in r for r in safe_mode_two["reasons"])
    assert failed_checks(safe_mode_one) == ["emergency_stop"]  # the flag is still set here


def test_guard_bad_input_is_a_clear_error(state_dir):
    sd = str(state_dir)
    cases = {
        "unknown day 'someday'": guard(sd, maintenance_windows=[{"days": ["someday"], "start": "02:00", "end": "04:00"}]),
        "'2:61' is not a time of day": guard(sd, maintenance_windows=[{"start": "2:61", "end": "04:00"}]),
        "not a known IANA time zone": guard(sd, maintenance_windows=[{"start": "02:00", "end": "04:00",
                                                                      "timezone": "Europe/Gondor"}]),
        "min_healthy_ratio must be between 0 and 1": guard(sd, min_healthy_ratio=1.2),
        "not an ISO 8601 timestamp": guard(sd, now="next tuesday"),
        "not an http(s) URL": guard(sd, probes=[{"type": "http", "url": "ftp://x"}]),
    }
    results = run_modules(list(cases.values()), state_dir)
    for (message, _call), result in zip(cases.items(), results):
        assert result.get("failed") is True and message in result["msg"], (message, result)
        assert "Traceback" not in result.output
