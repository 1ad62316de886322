# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dependency failures for any stack: the failing dependency from the user (-e dependency=...), its clients from the
inventory's dependency map. The stack is two plain containers whose names are not the demo's (see the shop fixture)."""

from __future__ import annotations

import json

from conftest import active_entries, ledger_entries, state_of
from test_run_experiment import playbook, result_paths, shop, shop_inventory  # noqa: F401 (shop is a fixture)  # pylint: disable=unused-import


def _run(shop, state_dir, tmp_path, scenario, *extra, inventory_vars=None):
    inventory = shop_inventory(tmp_path, shop)
    if inventory_vars:
        data = json.load(open(inventory))
        data["all"]["vars"].update(inventory_vars)
        open(inventory, "w").write(json.dumps(data))
    return playbook("dependency-failure.yml", "-e", "chaos_hosts=localhost", "-e", "chaos_compose_project=",
                    "-e", "dependency_failure_scenario=%s" % scenario, "-e", "dependency_failure_duration=3",
                    *extra, state_dir=state_dir, report_dir=tmp_path, inventory=inventory)


def _result(tmp_path):
    (path,) = result_paths(tmp_path)
    return json.load(open(path))


def test_unavailable_pauses_the_named_dependency_of_any_stack(shop, state_dir, tmp_path):
    run = _run(shop, state_dir, tmp_path, "unavailable", "-e", "dependency=%s" % shop["cache_name"])
    assert run.returncode == 0, run.stdout[-4000:]
    result = _result(tmp_path)
    assert [hit["target"] for hit in result["hit"]] == [shop["cache_name"]], result["hit"]
    assert result["module"] == "container_chaos" and result["fault"]["action"] == "pause"
    entries = ledger_entries(state_dir)
    assert [e["target"]["name"] for e in entries] == [shop["cache_name"]]
    assert entries[0]["state"] == "reverted"
    assert state_of(shop["cache"])["Paused"] is False and state_of(shop["cache"])["Running"] is True
    assert "%s stops answering" % shop["cache_name"] in run.stdout


def test_api_timeout_cuts_the_clients_found_in_the_dependency_map(shop, state_dir, tmp_path):
    run = _run(shop, state_dir, tmp_path, "api_timeout", "-e", "dependency=%s" % shop["cache_name"])
    assert run.returncode == 0, run.stdout[-4000:]
    result = _result(tmp_path)
    assert [hit["target"] for hit in result["hit"]] == [shop["api_name"]], result["hit"]  # the client, not the cache
    (entry,) = ledger_entries(state_dir)
    shop["cache"].reload()
    assert entry["kind"] == "network" and entry["target"]["name"] == shop["api_name"]
    assert entry["spec"]["partition"]["addresses"] == [shop["cache"].attrs["NetworkSettings"]["IPAddress"] + "/32"]
    assert entry["state"] == "reverted" and active_entries(state_dir) == []


def test_what_the_inventory_lacks_is_refused_before_anything_changes(shop, state_dir, tmp_path):
    before = state_of(shop["cache"])
    unknown = _run(shop, state_dir, tmp_path, "service_down", "-e", "dependency=nosuch")
    assert unknown.returncode != 0
    assert "dependency 'nosuch' is not in the inventory's chaos_dependency_map" in unknown.stdout, unknown.stdout[-3000:]
    no_port = _run(shop, state_dir, tmp_path, "api_errors", "-e", "dependency=%s" % shop["api_name"])
    assert no_port.returncode != 0
    assert "set chaos_service_ports.%s in the inventory" % shop["api_name"] in no_port.stdout.replace("\n", " ")
    no_client = _run(shop, state_dir, tmp_path, "dns_failure", "-e", "dependency=%s" % shop["api_name"])
    assert "no service of chaos_dependency_map depends on it" in no_client.stdout.replace("\n", " ")
    demo_only = _run(shop, state_dir, tmp_path, "api_errors")
    assert "needs the failing dependency: pass -e dependency=<service>" in demo_only.stdout.replace("\n", " ")
    assert ledger_entries(state_dir) == []
    after = state_of(shop["cache"])
    assert (after["StartedAt"], after["Paused"]) == (before["StartedAt"], before["Paused"])
