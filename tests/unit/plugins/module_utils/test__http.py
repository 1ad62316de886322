# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_http: validation of an http_chaos spec, and the rules that steer traffic to the proxy."""

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _http
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._sidecar import PASS_MARK


def params(**extra):
    base = {"port": 8000, "direction": "inbound", "percent": 100.0, "seed": None, "match": None,
            "delay_ms": None, "abort": None, "replace_body": None, "destinations": None}
    base.update(extra)
    return base


@pytest.mark.parametrize("extra, wrong", [
    ({}, "exactly one action"),
    ({"delay_ms": 10, "abort": {"status": 503}}, "exactly one action"),
    ({"abort": {"status": 600}}, "between 100 and 599, got 600"),
    ({"abort": {"status": 99}}, "between 100 and 599, got 99"),
    ({"abort": {"status": None, "reset": False}}, "exactly one of status"),
    ({"abort": {"status": 503, "reset": True}}, "exactly one of status"),
    ({"abort": {"status": 503}, "percent": 101.0}, "percent must be between 0 and 100"),
    ({"abort": {"status": 503}, "percent": -1.0}, "percent must be between 0 and 100"),
    ({"abort": {"status": 503}, "match": {"path_regex": "(unclosed"}}, "not a valid regular expression"),
    ({"abort": {"status": 503}, "match": {"headers": {"X-A": "[z-a]"}}}, "match.headers.X-A"),
    ({"abort": {"status": 503}, "port": 70000}, "port must be between 1 and 65535"),
    ({"delay_ms": 0}, "delay_ms must be above 0"),
    ({"delay_ms": 10, "destinations": ["10.0.0.1"]}, "only applies to direction outbound"),
])
def test_bad_input_is_refused_and_says_nothing_changed(extra, wrong):
    with pytest.raises(ChaosError) as caught:
        _http.validate(params(**extra))
    assert wrong in caught.value.msg and caught.value.msg.endswith("Nothing was changed.")


def test_a_valid_spec_normalises_methods_and_names_its_action():
    spec = _http.validate(params(abort={"status": 503, "reset": None}, percent=30.0, seed=4,
                                 match={"methods": ["get", "GET", "post"], "path_prefix": "/api", "path_regex": None,
                                        "headers": None}))
    assert spec["match"] == {"methods": ["GET", "POST"], "path_prefix": "/api"}
    assert spec["action"] == {"status": 503} and _http.action_name(spec["action"]) == "abort_status"
    expected = {"listen_port": 21000, "pass_mark": PASS_MARK, "percent": 30.0, "seed": 4, "match": spec["match"],
                "action": {"status": 503}}
    assert _http.proxy_config(spec, 21000) == expected


def test_inbound_steers_from_prerouting_and_outbound_per_destination():
    inbound = _http.validate(params(delay_ms=5))
    assert _http.steering_rules(inbound, 21000, []) == [
        ["-p", "tcp", "--dport", "8000", "-m", "mark", "!", "--mark", str(PASS_MARK), "-j", "REDIRECT",
         "--to-ports", "21000"]]
    outbound = _http.validate(params(delay_ms=5, direction="outbound", destinations=["172.17.0.9"]))
    rules = _http.steering_rules(outbound, 21000, ["172.17.0.9/32", "10.0.0.0/8"])
    assert [r[3] for r in rules] == ["172.17.0.9/32", "10.0.0.0/8"]
    assert _http.HOOKS == {"inbound": "PREROUTING", "outbound": "OUTPUT"}


def test_only_our_http_chains_count_as_leftovers():
    save = "\n".join(["-P PREROUTING ACCEPT", "-N DOCKER", "-N SZC-0123456789-H", "-N SZC-abcdef0123-D",
                      "-A PREROUTING -j SZC-0123456789-H"])
    assert _http.our_nat_chains(save) == ["SZC-0123456789-H"]
