# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Crashes found by fuzzing the modules' arguments, one explicit input each, kept as regression tests.

The collection's own crashes are fixed: each input must now end in a clean failure. The two at the end are
ansible-core's own (inside ``AnsibleModule(...)``, before any module code runs) and stay expected failures
(strict) until ansible-core fixes them upstream. The
host edges are mocks, as in ``test_fuzz_arguments`` (validation only; real effects: tests/integration).
"""

from __future__ import annotations

import math

import pytest

from _fuzz_harness import assert_clean, run_module

NAN, INF = math.nan, math.inf


def _bug(reason):
    return pytest.mark.xfail(strict=True, reason=reason)


CASES = [
    pytest.param("container_chaos", {"action": "stop", "targets": {"names": ["worker-*"]},
                                     "select": {"mode": "count", "value": NAN}},
                 id="container_chaos-select-count-nan"),
    pytest.param("container_chaos", {"action": "stop", "targets": {"names": ["worker-*"]},
                                     "select": {"mode": "count", "value": INF}},
                 id="container_chaos-select-count-inf"),
    pytest.param("container_chaos", {"action": "stop", "targets": {"name_regex": "a{99999999999}"}},
                 id="container_chaos-name-regex-overflow"),
    pytest.param("health_probe", {"probes": [{"type": "http", "url": "http://127.0.0.1/",
                                              "body_regex": "a{99999999999}"}]},
                 id="health_probe-body-regex-overflow"),
    pytest.param("resource_stress", {"duration": 5, "io": {"bytes": "9" * 400}},
                 id="resource_stress-io-bytes-huge"),
    pytest.param("resource_stress", {"duration": 5, "disk_fill": {"size": "9" * 400 + "G"}},
                 id="resource_stress-disk-fill-size-huge"),
    pytest.param("resource_stress", {"duration": 5, "targets": {"names": ["worker-a"]},
                                     "io_limit": {"device": "x\x00", "read_iops": 5}},
                 id="resource_stress-io-limit-device-nul"),
    pytest.param("network_chaos", {"duration": 5, "interface": "eth0", "rate": "9" * 400 + "mbit", "_netem": False},
                 id="network_chaos-rate-huge-tbf"),
    pytest.param("health_probe", {"probes": [{"type": "http", "url": "http://["}]},
                 id="health_probe-url-invalid-ipv6"),
    pytest.param("health_probe", {"probes": [], "mode": "until_healthy"},
                 id="health_probe-no-probes-until-healthy"),
    pytest.param("health_probe", {"probes": [{"type": "tcp", "host": "h", "port": 80}], "probe_timeout": INF},
                 id="health_probe-probe-timeout-inf"),
    pytest.param("health_probe", {"probes": [{"type": "tcp", "host": "h", "port": 80}], "mode": "until_unhealthy",
                                  "timeout": NAN},
                 id="health_probe-timeout-nan-hangs"),
    pytest.param("chaos_guard", {"now": "9999-12-31T23:59:59-01:00",
                                 "maintenance_windows": [{"start": "02:00", "end": "03:00"}]},
                 id="chaos_guard-now-out-of-range"),
    pytest.param("chaos_guard", {"cpu_sample_seconds": NAN},
                 id="chaos_guard-cpu-sample-nan"),
    pytest.param("chaos_guard", {"probes": [{"type": "http", "url": 5}]},
                 id="chaos_guard-probe-url-int"),
    pytest.param("chaos_guard", {"probes": [{"type": "http", "url": "http://x", "max_latency_ms": "x"}]},
                 id="chaos_guard-probe-latency-str"),
    pytest.param("chaos_guard", {"probes": [{"type": "prometheus", "prometheus_url": "http://["}]},
                 id="chaos_guard-prometheus-url-invalid-ipv6"),
    pytest.param("chaos_rollback", {"all": True, "_state_dir": "bad\x00name"},
                 id="chaos_rollback-state-dir-nul"),
    pytest.param("chaos_emergency_stop", {"_state_dir": "bad\x00name"},
                 id="chaos_emergency_stop-state-dir-nul"),
    pytest.param("chaos_audit_info", {"_state_dir": "bad\x00name"},
                 id="chaos_audit_info-state-dir-nul"),
    pytest.param("http_chaos", {"targets": {"names": ["worker-a"]}, "port": 80, "duration": 5, "delay_ms": 1,
                                "match": {"path_regex": "a{99999999999}"}},
                 id="http_chaos-path-regex-overflow"),
    pytest.param("http_chaos", {"targets": {"names": ["worker-a"]}, "port": 80, "duration": 5, "delay_ms": 1,
                                "match": {"headers": {"X-Test": 936}}},
                 id="http_chaos-header-value-number"),
    # not a traceback but worse: accepted, so the ledger entry was written and the proxy started, which then died
    # compiling the null as a regex; the module rolled back and failed after changing things.
    pytest.param("http_chaos", {"targets": {"names": ["worker-a"]}, "port": 80, "duration": 5, "delay_ms": 1,
                                "match": {"headers": {"X-Test": None}}},
                 id="http_chaos-header-value-null-kills-proxy"),
    # ansible-core 2.19.14 itself, inside AnsibleModule(...): upstream bugs every module inherits.
    pytest.param("network_chaos", {"delay": False, "interface": "eth0", "duration": 5},
                 marks=_bug("ansible-core 2.19.14: a dict option with sub-options given a bool/number/list raises "
                            "TypeError in parameters.set_fallbacks instead of failing cleanly (upstream)"),
                 id="ansible-core-suboptions-not-a-dict"),
    pytest.param("chaos_audit_info", {"limit": -INF},
                 marks=_bug("ansible-core 2.19.14: an int option given -inf raises OverflowError in "
                            "check_type_int (upstream)"),
                 id="ansible-core-int-infinity"),
]


@pytest.mark.parametrize("name, args", CASES)
def test_fuzz_found_crash(name, args):
    run = run_module(name, args)
    if run.outcome in ("upstream", "known"):
        run.outcome = "crash"  # here a known or upstream crash counts: it is what this case pins
    assert_clean(run)
