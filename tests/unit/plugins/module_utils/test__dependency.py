# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dependency-failure scenarios for any stack, derived from the inventory, and the demo stack's by name."""

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._dependency import (DEMO_SCENARIOS, SCENARIOS,
                                                                                clients_of, dependency_scenario)

SHOP = {"web": ["api"], "api": ["db", "cache"], "worker": ["db"], "db": [], "cache": []}


def test_the_demo_stack_keeps_its_scenarios_by_name():
    for name, table in DEMO_SCENARIOS.items():
        chosen = dependency_scenario(name)
        assert chosen["module"] == table["module"] and chosen["args"] == table["args"]
        assert chosen["timed"] is True
    assert dependency_scenario("api_timeout")["faulted"] == ["backend"]
    assert dependency_scenario("database_down")["faulted"] == ["postgres"]


def test_clients_are_the_services_whose_map_lists_the_dependency():
    assert clients_of("db", SHOP) == ["api", "worker"]
    assert clients_of("web", SHOP) == []


@pytest.mark.parametrize("scenario, module, faulted, args", [
    ("database_down", "container_chaos", ["db"], {"action": "stop"}),
    ("service_down", "container_chaos", ["db"], {"action": "stop"}),
    ("unavailable", "container_chaos", ["db"], {"action": "pause"}),
    ("service_unavailable", "container_chaos", ["db"], {"action": "pause"}),
    ("api_timeout", "network_chaos", ["api", "worker"],
     {"partition": {"peers": ["db"], "protocol": "tcp", "direction": "egress", "action": "drop", "ports": [5432]}}),
    ("api_errors", "http_chaos", ["db"], {"port": 5432, "direction": "inbound", "abort": {"status": 503},
                                          "percent": 50.0}),
    ("slow_dependency", "http_chaos", ["db"], {"port": 5432, "direction": "inbound", "delay_ms": 2000}),
    ("dns_failure", "dns_chaos", ["api", "worker"],
     {"names": ["db", "db.*", "shop-db-*", "shop_db_*"], "answer": "nxdomain"}),
])
def test_every_scenario_is_derived_for_any_stack(scenario, module, faulted, args):
    chosen = dependency_scenario(scenario, "db", SHOP, {"port": "5432", "compose_project": "shop"})
    assert (chosen["module"], chosen["faulted"], chosen["args"]) == (module, faulted, args)
    assert chosen["dependency"] == "db" and "db" in chosen["description"]


def test_options_shape_the_http_scenarios():
    chosen = dependency_scenario("api_errors", "api", SHOP, {"port": 8080, "error_percent": 30, "status": 500})
    assert chosen["args"]["abort"] == {"status": 500} and chosen["args"]["percent"] == 30.0
    assert "HTTP 500 to 30% of its calls" in chosen["description"]
    assert dependency_scenario("slow_dependency", "api", SHOP, {"port": 8080, "delay_ms": 750})["args"]["delay_ms"] \
        == 750
    assert "ports" not in dependency_scenario("api_timeout", "db", SHOP)["args"]["partition"]


@pytest.mark.parametrize("scenario, dependency, options, message", [
    ("api_errors", "db", {}, "needs the port db listens on inside its container: set chaos_service_ports.db"),
    ("slow_dependency", "db", {"port": 70000}, "must be a number from 1 to 65535"),
    ("api_errors", "db", {"port": 80, "error_percent": 0}, "must be above 0 and at most 100"),
    ("api_timeout", "web", {}, "no service of chaos_dependency_map depends on it"),
    ("dns_failure", "web", {}, "no service of chaos_dependency_map depends on it"),
    ("database_down", "dbb", {}, "dependency 'dbb' is not in the inventory's chaos_dependency_map"),
    ("teleport", "db", {}, "must be one of database_down"),
    ("api_errors", None, {}, "needs the failing dependency: pass -e dependency=<service>"),
])
def test_what_the_inventory_lacks_is_a_clear_error(scenario, dependency, options, message):
    with pytest.raises(ChaosError) as info:
        dependency_scenario(scenario, dependency, SHOP, options)
    assert message in info.value.msg and "Nothing was changed." in info.value.msg


def test_every_named_scenario_is_known():
    assert set(DEMO_SCENARIOS) <= set(SCENARIOS)
