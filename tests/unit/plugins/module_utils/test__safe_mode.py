# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._safe_mode import (
    DEFAULT_LIMITS,
    FAULT_LIMITS,
    limits_with,
    size_in_bytes,
    violations,
)

MIB = 1024 * 1024


# --- size_in_bytes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, size", [
    (1048576, 1048576),
    (0, 0),
    (1.9, 1),
    ("512", 512),
    ("512b", 512),
    ("1k", 1024),
    ("1K", 1024),
    ("1.5k", 1536),
    ("256M", 256 * MIB),
    ("256m", 256 * MIB),
    ("256MB", 256 * MIB),
    ("256MiB", 256 * MIB),
    ("256mib", 256 * MIB),
    (" 2 M ", 2 * MIB),
    ("1g", 1024 ** 3),
    ("1G", 1024 ** 3),
    ("0.5G", 512 * MIB),
    ("1t", 1024 ** 4),
])
def test_size_in_bytes(value, size):
    assert size_in_bytes(value) == size


@pytest.mark.parametrize("value", ["10%", "", "abc", "-1M", "1P", "M", "1 MM", "1.2.3k", True, False, None, [1], {}])
def test_size_in_bytes_not_a_size(value):
    assert size_in_bytes(value) is None


# --- limits_with ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("overrides, expected", [
    (None, DEFAULT_LIMITS),
    ({}, DEFAULT_LIMITS),
    ({"max_duration": None}, DEFAULT_LIMITS),
    ({"max_duration": 30}, dict(DEFAULT_LIMITS, max_duration=30)),
    ({"max_targets": 3, "max_loss_percent": None, "max_cpu_load": 50},
     dict(DEFAULT_LIMITS, max_targets=3, max_cpu_load=50)),
    ({"max_duration": 0}, dict(DEFAULT_LIMITS, max_duration=0)),
    ({"new_limit": 1}, dict(DEFAULT_LIMITS, new_limit=1)),
])
def test_limits_with(overrides, expected):
    assert limits_with(overrides) == expected


def test_limits_with_does_not_change_the_defaults():
    before = dict(DEFAULT_LIMITS)
    limits_with({"max_duration": 1})["max_targets"] = 99
    assert DEFAULT_LIMITS == before


def test_default_limits():
    assert DEFAULT_LIMITS == {"max_targets": 1, "max_duration": 60, "max_loss_percent": 50, "max_cpu_load": 80,
                              "max_cpu_workers": 2, "max_memory_percent": 50, "max_disk_fill_bytes": 256 * MIB}
    assert sorted(FAULT_LIMITS) == ["container_chaos", "custom_fault", "dns_chaos", "http_chaos", "network_chaos",
                                    "process_chaos", "resource_stress"]


# --- violations: within every limit -----------------------------------------------------------------------------

@pytest.mark.parametrize("module, args, kwargs", [
    ("container_chaos", None, {}),
    ("container_chaos", {}, {}),
    ("container_chaos", {"action": "kill"}, {"targets": 1}),
    ("container_chaos", {"action": "restart"}, {}),
    ("container_chaos", {"action": "pause", "duration": 60}, {}),
    ("container_chaos", {"action": "stop", "duration": "10"}, {}),
    ("container_chaos", {"action": "kill", "select": {"mode": "count", "value": 1}}, {}),
    ("container_chaos", {"action": "kill", "select": {"mode": "one"}}, {}),
    ("container_chaos", {"action": "kill", "duration": ""}, {}),
    ("container_chaos", {"action": "kill"}, {"targets": 0}),
    ("container_chaos", {"action": "kill"}, {"protection_lifted": []}),
    ("network_chaos", {"loss": {"percent": 50}, "duration": 10}, {}),
    ("network_chaos", {"loss": {}, "delay": {"ms": 100}, "duration": 10}, {}),
    ("network_chaos", {"partition": {"peers": ["db"]}, "duration": 10}, {}),
    ("network_chaos", {"partition": {"peers": ["db"]}, "protect_control_channel": True, "duration": 10}, {}),
    ("network_chaos", {"partition": {}, "protect_control_channel": False, "duration": 10}, {}),
    ("resource_stress", {"cpu": {"load": 80, "workers": 2}, "duration": 10}, {}),
    ("resource_stress", {"cpu": {"load": 50, "workers": 0}, "duration": 10}, {}),
    ("resource_stress", {"cpu": None, "duration": 10}, {}),
    ("resource_stress", {"memory": {"percent": 50}, "duration": 10}, {}),
    ("resource_stress", {"disk_fill": {"size": "256M"}, "duration": 10}, {}),
    ("resource_stress", {"disk_fill": {"size": 1024}, "duration": 10}, {}),
    ("resource_stress", {"io": {"workers": 4}, "duration": 10}, {}),
])
def test_within_the_limits(module, args, kwargs):
    assert violations(module, args, **kwargs) == []


# --- violations: each limit -------------------------------------------------------------------------------------

@pytest.mark.parametrize("module, args, kwargs, broken", [
    # duration
    ("container_chaos", {"action": "pause", "duration": 61}, {},
     "duration 61 s is longer than the safe-mode maximum of 60 s"),
    ("network_chaos", {"loss": {"percent": 10}, "duration": "90"}, {},
     "duration 90 s is longer than the safe-mode maximum of 60 s"),
    ("container_chaos", {"action": "pause", "duration": 31}, {"limits": {"max_duration": 30}},
     "duration 31 s is longer than the safe-mode maximum of 30 s"),
    # planned targets
    ("container_chaos", {"action": "kill"}, {"targets": 2}, "2 targets planned, safe mode allows 1"),
    ("container_chaos", {"action": "kill"}, {"targets": 4, "limits": {"max_targets": 3}},
     "4 targets planned, safe mode allows 3"),
    # count select, before planning
    ("container_chaos", {"action": "kill", "select": {"mode": "count", "value": 2}}, {},
     "select asks for 2 targets, safe mode allows 1"),
    # protection lifted
    ("container_chaos", {"action": "kill"}, {"protection_lifted": ["redis", "postgres"]},
     "the protection of postgres, redis is lifted: safe mode never touches a protected service"),
    # stop / pause without duration
    ("container_chaos", {"action": "stop"}, {}, "a stop without duration does not revert by itself"),
    ("container_chaos", {"action": "pause", "duration": None}, {}, "a pause without duration does not revert by itself"),
    ("container_chaos", {"action": "pause", "duration": ""}, {}, "a pause without duration does not revert by itself"),
    # loss cap
    ("network_chaos", {"loss": {"percent": 51}, "duration": 10}, {}, "loss 51% is above the safe-mode cap of 50%"),
    ("network_chaos", {"loss": {"percent": "75"}, "duration": 10}, {"limits": {"max_loss_percent": 70}},
     "loss 75% is above the safe-mode cap of 70%"),
    # partition without control channel protection
    ("network_chaos", {"partition": {"peers": ["db"]}, "protect_control_channel": False, "duration": 10}, {},
     "a partition that may cut the control channel (protect_control_channel: false)"),
    # CPU load, 100 when not given
    ("resource_stress", {"cpu": {"load": 81}, "duration": 10}, {}, "CPU load 81.0% is above the safe-mode cap of 80%"),
    ("resource_stress", {"cpu": {"workers": 1}, "duration": 10}, {}, "CPU load 100.0% is above the safe-mode cap of 80%"),
    ("resource_stress", {"cpu": {}, "duration": 10}, {}, "CPU load 100.0% is above the safe-mode cap of 80%"),
    ("resource_stress", {"cpu": {"load": None}, "duration": 10}, {}, "CPU load 100.0% is above the safe-mode cap of 80%"),
    # CPU workers
    ("resource_stress", {"cpu": {"load": 50, "workers": 3}, "duration": 10}, {},
     "3 CPU workers are more than the safe-mode cap of 2"),
    ("resource_stress", {"cpu": {"load": 50, "workers": "5"}, "duration": 10}, {"limits": {"max_cpu_workers": 4}},
     "5 CPU workers are more than the safe-mode cap of 4"),
    # memory must be a percent
    ("resource_stress", {"memory": {"bytes": "100M"}, "duration": 10}, {},
     "memory must be a percent of the container's limit, at most 50%, in safe mode (got {'bytes': '100M'})"),
    ("resource_stress", {"memory": {"percent": 51}, "duration": 10}, {},
     "memory must be a percent of the container's limit, at most 50%, in safe mode (got {'percent': 51})"),
    ("resource_stress", {"memory": {}, "duration": 10}, {},
     "memory must be a percent of the container's limit, at most 50%, in safe mode (got {})"),
    # disk fill: a size, capped
    ("resource_stress", {"disk_fill": {"size": "257M"}, "duration": 10}, {},
     "disk fill must be a size of at most 268435456 bytes in safe mode (got {'size': '257M'})"),
    ("resource_stress", {"disk_fill": {"size": "1G"}, "duration": 10}, {"limits": {"max_disk_fill_bytes": 1024}},
     "disk fill must be a size of at most 1024 bytes in safe mode (got {'size': '1G'})"),
    ("resource_stress", {"disk_fill": {"percent": 10}, "duration": 10}, {},
     "disk fill must be a size of at most 268435456 bytes in safe mode (got {'percent': 10})"),
    ("resource_stress", {"disk_fill": {"size": "10%"}, "duration": 10}, {},
     "disk fill must be a size of at most 268435456 bytes in safe mode (got {'size': '10%'})"),
    ("resource_stress", {"disk_fill": {}, "duration": 10}, {},
     "disk fill must be a size of at most 268435456 bytes in safe mode (got {})"),
    # a module without limits
    ("chaos_guard", {}, {}, "fault module chaos_guard has no safe-mode limits: it cannot run in safe mode"),
    (None, {}, {}, "fault module None has no safe-mode limits: it cannot run in safe mode"),
])
def test_each_limit(module, args, kwargs, broken):
    assert violations(module, args, **kwargs) == [broken]


def test_count_select_is_not_judged_once_the_targets_are_planned():
    # the planned number is the truth; the select is what produced it
    args = {"action": "kill", "select": {"mode": "count", "value": 5}}
    assert violations("container_chaos", args, targets=1) == []
    assert violations("container_chaos", args, targets=5) == ["5 targets planned, safe mode allows 1"]


@pytest.mark.parametrize("select", [{"mode": "all"}, {"mode": "percent", "value": 90}, {"mode": "one"}, {}])
def test_select_other_than_count_is_not_judged_before_planning(select):
    assert violations("container_chaos", {"action": "kill", "select": select}) == []


def test_limits_can_be_raised():
    args = {"loss": {"percent": 80}, "duration": 120}
    assert len(violations("network_chaos", args)) == 2
    assert violations("network_chaos", args, limits={"max_loss_percent": 80, "max_duration": 120}) == []


def test_every_limit_broken_at_once_in_order():
    args = {"duration": 600, "select": {"mode": "count", "value": 3}, "cpu": {"workers": 8},
            "memory": {"bytes": "1G"}, "disk_fill": {"size": "1G"}}
    assert violations("resource_stress", args, protection_lifted={"postgres"}) == [
        "duration 600 s is longer than the safe-mode maximum of 60 s",
        "select asks for 3 targets, safe mode allows 1",
        "the protection of postgres is lifted: safe mode never touches a protected service",
        "CPU load 100.0% is above the safe-mode cap of 80%",
        "8 CPU workers are more than the safe-mode cap of 2",
        "memory must be a percent of the container's limit, at most 50%, in safe mode (got {'bytes': '1G'})",
        "disk fill must be a size of at most 268435456 bytes in safe mode (got {'size': '1G'})",
    ]


@pytest.mark.parametrize("module, args", [
    ("container_chaos", {"action": "pause", "duration": "ten"}),
    ("network_chaos", {"loss": {"percent": "half"}, "duration": 10}),
    ("resource_stress", {"cpu": {"load": "high"}, "duration": 10}),
])
def test_a_value_that_is_not_a_number_raises_value_error(module, args):
    # the filter safe_mode_violations turns ValueError/TypeError into an AnsibleFilterError
    with pytest.raises(ValueError):
        violations(module, args)


@pytest.mark.parametrize("module, args, limits, targets, broken", [
    ("container_chaos", {"action": "pause", "duration": 45}, {"max_duration": "30"}, None,
     "duration 45 s is longer than the safe-mode maximum of 30 s"),
    ("container_chaos", {"action": "kill"}, {"max_targets": "1"}, 2, "2 targets planned, safe mode allows 1"),
    ("network_chaos", {"loss": {"percent": 60}, "duration": 10}, {"max_loss_percent": "50"}, None,
     "loss 60% is above the safe-mode cap of 50%"),
])
def test_limits_given_as_strings(module, args, limits, targets, broken):
    assert violations(module, args, limits, targets=targets) == [broken]


def test_limits_from_inventory_reads_only_the_known_variables():
    from ansible_collections.sutazai.chaos.plugins.module_utils._safe_mode import limits_from_inventory
    found = limits_from_inventory({"chaos_safe_mode_max_duration": "30", "chaos_safe_mode_max_typo": 1,
                                   "chaos_max_cpu_percent": 85})
    assert found == {"max_duration": "30"}


@pytest.mark.parametrize("module, args, broken", [
    ("process_chaos", {"action": "stop", "duration": 5, "process": {"name": "w"}}, []),
    ("process_chaos", {"action": "kill", "allow_pid1": True}, ["allow_pid1 hits a container's main process"]),
    ("process_chaos", {"action": "stop"}, ["a stop without duration does not revert by itself"]),
    ("http_chaos", {"abort": {"status": 503}, "percent": 50, "duration": 5}, []),
    ("http_chaos", {"abort": {"status": 503}, "duration": 5}, []),
    ("http_chaos", {"abort": {"status": 503}, "duration": 600}, ["duration 600 s is longer than the safe-mode"]),
    ("http_chaos", {"delay_ms": 800, "duration": 5}, []),
    ("dns_chaos", {"answer": "nxdomain", "percent": 100, "duration": 5}, []),
    ("dns_chaos", {"answer": "delay", "delay_ms": 300, "duration": 5}, []),
    ("custom_fault", {"inject": ["/bin/true"], "undo": ["/bin/true"], "duration": 5},
     ["a custom fault runs your own commands"]),
])
def test_application_faults_have_safe_mode_limits(module, args, broken):
    found = violations(module, args)
    assert len(found) == len(broken), found
    for sentence, start in zip(found, broken):
        assert start in sentence
