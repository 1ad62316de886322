# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import glob
import os

import pytest
import yaml

from ansible_collections.sutazai.chaos.plugins.module_utils._catalogue import (
    KINDS,
    PLUMBING,
    fault_spec,
    run_spec,
    safe_mode_broken,
    validate,
)
from ansible_collections.sutazai.chaos.plugins.action.chaos_experiment import FAULT_SPECS

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
SHIPPED = sorted(glob.glob(os.path.join(REPO_ROOT, "experiments", "*.yml")))


def _local_inventory():
    with open(os.path.join(REPO_ROOT, "inventories", "local", "group_vars", "all.yml"), encoding="utf-8") as handle:
        group_vars = yaml.safe_load(handle)
    return {"dependency_map": group_vars["chaos_dependency_map"], "health_checks": group_vars["chaos_health_checks"],
            "protected_services": group_vars["chaos_protected_services"]}


INVENTORY = _local_inventory()

PAUSE = {
    "name": "backend-pause", "description": "Freeze the backend.", "kind": "container", "tags": ["container"],
    "targets": {"services": ["backend"], "max_targets": 1}, "fault": {"action": "pause"}, "duration": 8,
    "hypothesis": {"max_recovery_seconds": 15, "max_cascade_depth": 1}, "observe": {"recovery_timeout": 60},
}
KILL = {"name": "redis-crash", "description": "Crash redis.", "kind": "container",
        "targets": {"services": ["redis"]}, "fault": {"action": "kill"}}
LOSS = {"name": "cache-loss", "description": "Lose packets.", "kind": "network",
        "targets": {"services": ["redis"]}, "fault": {"loss": {"percent": 50}}, "duration": 10}
CPU = {"name": "cpu", "description": "Load the CPU.", "kind": "resource",
       "targets": {"services": ["backend"]}, "fault": {"cpu": {"workers": 1, "load": 80}}, "duration": 10}
DEPENDENCY = {"name": "api-timeout", "description": "Time out.", "kind": "dependency",
              "fault": {"scenario": "api_timeout"}, "duration": 8}
RESILIENCE = {"name": "resilience", "description": "Everything.", "kind": "resilience",
              "fault": {"test_type": "quick"}}
BASES = {"pause": PAUSE, "kill": KILL, "loss": LOSS, "cpu": CPU, "dependency": DEPENDENCY, "resilience": RESILIENCE}


def changed(base, *edits):
    """A deep copy of a base experiment with edits: ("a.b", value) sets, ("a.b", DELETE) removes."""
    data = copy.deepcopy(BASES[base])
    for path, value in edits:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return data


DELETE = object()


def problems_of(data, inventory=None, **kwargs):
    return validate(data, data.get("name") if isinstance(data, dict) else "x", FAULT_SPECS, inventory, **kwargs)


@pytest.mark.parametrize("base", sorted(BASES))
def test_the_bases_are_valid(base):
    assert problems_of(BASES[base], INVENTORY) == []
    if base != "resilience":
        assert problems_of(BASES[base], INVENTORY, safe_mode=True) == []


# --- one problem, its path and its words ------------------------------------------------------------------------

CASES = [
    # a typo in a key names its path and the nearest known key (first: the case people hit most)
    pytest.param(changed("kill", ("fault.actoin", "kill"), ("fault.action", DELETE)), [
        "fault.actoin: unknown key (did you mean action?); known: action, kill_mode, signal, stop_timeout",
        "fault.action: missing (required)"], id="typo-fault-key"),
    pytest.param(changed("pause", ("hypothesys", {}), ("hypothesis", DELETE)), [
        "hypothesys: unknown key (did you mean hypothesis?); known: description, duration, fault, hypothesis, kind, "
        "name, observe, tags, targets"], id="typo-top-key"),
    pytest.param(changed("pause", ("targets.servics", ["backend"]), ("targets.services", DELETE)), [
        "targets.servics: unknown key (did you mean services?); known: max_targets, select, services",
        "targets.services: missing (required)"], id="typo-targets-key"),
    pytest.param(changed("loss", ("fault.loss", {"percnt": 50})), [
        "fault.loss.percnt: unknown key (did you mean percent?); known: correlation, percent",
        "fault.loss.percent: missing (required)"], id="typo-nested-key"),
    pytest.param(changed("cpu", ("fault.cpuu", {"load": 10}), ("fault.cpu", DELETE)), [
        "fault.cpuu: unknown key (did you mean cpu?); known: cpu, disk_fill, io, io_limit, max_cpu_percent, "
        "max_memory_percent, memory"], id="typo-stress-key"),
    pytest.param(changed("pause", ("observe.recovery_timout", 60), ("observe.recovery_timeout", DELETE)), [
        "observe.recovery_timout: unknown key (did you mean recovery_timeout?); known: abort_availability_below, "
        "baseline_seconds, recovery_timeout, sample_interval, settle_seconds"], id="typo-observe-key"),
    pytest.param(changed("pause", ("fault.state", "absent")), [
        "fault.state: unknown key; known: action, kill_mode, signal, stop_timeout"], id="plumbing-not-allowed"),
    # wrong types
    pytest.param(changed("pause", ("duration", "ten")), ["duration: 'ten' is not a float"], id="type-duration"),
    pytest.param(changed("pause", ("duration", True)), ["duration: True is not a float"], id="type-bool-float"),
    pytest.param(changed("pause", ("name", 5)), ["name: 5 is not a string"], id="type-name"),
    pytest.param(changed("pause", ("tags", "container")), ["tags: 'container' is not a list"], id="type-tags"),
    pytest.param(changed("pause", ("tags", ["ok", 3])), ["tags[1]: 3 is not a str"], id="type-tag-element"),
    pytest.param(changed("pause", ("targets.max_targets", "one")), ["targets.max_targets: 'one' is not a int"],
                 id="type-int"),
    pytest.param(changed("pause", ("targets.max_targets", 1.5)), ["targets.max_targets: 1.5 is not a int"],
                 id="type-int-fraction"),
    pytest.param(changed("loss", ("fault.loss.percent", "50")), ["fault.loss.percent: '50' is not a float"],
                 id="type-fault-float"),
    pytest.param(changed("pause", ("fault.stop_timeout", 2.5)), ["fault.stop_timeout: 2.5 is not a int"],
                 id="type-fault-int"),
    # ranges and choices
    pytest.param(changed("loss", ("fault.loss.percent", 140)), ["fault.loss.percent: 140 is above 100"],
                 id="loss-above-100"),
    pytest.param(changed("cpu", ("fault.cpu.workers", 0)), ["fault.cpu.workers: 0 is below 1"], id="workers-below"),
    pytest.param(changed("pause", ("duration", 0)), ["duration: 0 is below 0.1"], id="duration-below"),
    pytest.param(changed("pause", ("duration", 86401)), ["duration: 86401 is above 86400"], id="duration-above"),
    pytest.param(changed("pause", ("hypothesis.min_availability", 1.5)),
                 ["hypothesis.min_availability: 1.5 is above 1"], id="availability-above"),
    pytest.param(changed("pause", ("targets.max_targets", 0)), ["targets.max_targets: 0 is below 1"],
                 id="max-targets-below"),
    pytest.param(changed("pause", ("fault.action", "freeze")),
                 ["fault.action: 'freeze' is not one of kill, stop, restart, pause"], id="choice-no-suggestion"),
    pytest.param(changed("pause", ("fault.action", "puase")),
                 ["fault.action: 'puase' is not one of kill, stop, restart, pause (did you mean pause?)"],
                 id="choice-suggestion"),
    pytest.param(changed("pause", ("targets.select", {"mode": "cout"})),
                 ["targets.select.mode: 'cout' is not one of all, one, count, percent (did you mean count?)"],
                 id="select-mode"),
    pytest.param(changed("dependency", ("fault.scenario", "api_timout")),
                 ["fault.scenario: 'api_timout' is not one of database_down, service_down, unavailable, "
                  "service_unavailable, api_timeout, api_errors, slow_dependency, dns_failure (did you mean "
                  "api_timeout?)"], id="scenario-suggestion"),
    # unknown kind, with the nearest kind
    pytest.param(changed("loss", ("kind", "netwrok")),
                 ["kind: 'netwrok' is not one of container, network, resource, process, http, dns, custom, dependency, resilience "
                  "(did you mean network?)"], id="kind-suggestion"),
    # required keys
    pytest.param(changed("pause", ("description", DELETE)), ["description: missing (required)"], id="no-description"),
    pytest.param(changed("loss", ("fault", DELETE)), ["fault: missing (required for kind network)"], id="no-fault"),
    pytest.param(changed("loss", ("targets", DELETE)),
                 ["targets: missing (required for kind network: targets.services names the services to hit)"],
                 id="no-targets"),
    pytest.param(changed("dependency", ("fault", {})), ["fault.scenario: missing (required)"], id="no-scenario"),
    # duration: required for timed faults, refused for crashes
    pytest.param(changed("pause", ("duration", DELETE)),
                 ["duration: missing (seconds the fault lasts; required for kind container with action pause)"],
                 id="pause-no-duration"),
    pytest.param(changed("pause", ("fault.action", "stop"), ("duration", DELETE)),
                 ["duration: missing (seconds the fault lasts; required for kind container with action stop)"],
                 id="stop-no-duration"),
    pytest.param(changed("loss", ("duration", DELETE)),
                 ["duration: missing (seconds the fault lasts; required for kind network)"], id="network-no-duration"),
    pytest.param(changed("cpu", ("duration", None)),
                 ["duration: missing (seconds the fault lasts; required for kind resource)"], id="resource-no-duration"),
    pytest.param(changed("dependency", ("duration", DELETE)),
                 ["duration: missing (seconds the fault lasts; required for kind dependency)"],
                 id="dependency-no-duration"),
    pytest.param(changed("kill", ("duration", 10)),
                 ["duration: a kill is a crash (the restart policy is its recovery): remove duration"],
                 id="kill-with-duration"),
    pytest.param(changed("kill", ("fault.action", "restart"), ("duration", 10)),
                 ["duration: a restart is a crash (the restart policy is its recovery): remove duration"],
                 id="restart-with-duration"),
    pytest.param(changed("kill", ("fault", DELETE), ("duration", 10)),
                 ["duration: a kill is a crash (the restart policy is its recovery): remove duration"],
                 id="default-kill-with-duration"),
    # resilience takes no targets
    pytest.param(changed("resilience", ("targets", {"services": ["backend"]})),
                 ["targets: a resilience test hits every unprotected service in turn; remove targets"],
                 id="resilience-with-targets"),
]


@pytest.mark.parametrize("data, problems", CASES)
def test_problem(data, problems):
    assert problems_of(data) == problems


def test_a_typo_in_a_key_is_the_first_case():
    assert CASES[0].id == "typo-fault-key"
    assert problems_of(CASES[0].values[0])[0].startswith("fault.actoin: unknown key (did you mean action?)")


def test_loss_above_100_exactly():
    assert problems_of(changed("loss", ("fault.loss.percent", 140)), INVENTORY) == [
        "fault.loss.percent: 140 is above 100"]


@pytest.mark.parametrize("name, stem, problems", [
    ("backend-pause", "backend-pause", []),
    ("backend-freeze", "backend-pause", ["name: 'backend-freeze' differs from the file name 'backend-pause' (the "
                                         "runner finds an experiment by its file name)"]),
    ("Backend-Pause", "backend-pause", ["name: 'Backend-Pause' differs from the file name 'backend-pause' (the "
                                        "runner finds an experiment by its file name)"]),
])
def test_name_is_the_file_stem(name, stem, problems):
    assert validate(changed("pause", ("name", name)), stem, FAULT_SPECS, INVENTORY) == problems


def test_a_file_that_is_not_a_mapping():
    assert validate(["name", "kind"], "x", FAULT_SPECS) == [
        "the file must hold one mapping (name, description, kind, ...), got list"]
    assert validate("just text", "x", FAULT_SPECS) == [
        "the file must hold one mapping (name, description, kind, ...), got str"]


def test_every_problem_at_once():
    data = {"name": "other", "kind": "network", "fault": {"loss": {"percent": 140}}, "extra": 1}
    assert validate(data, "mine", FAULT_SPECS) == [
        "extra: unknown key; known: description, duration, fault, hypothesis, kind, name, observe, tags, targets",
        "description: missing (required)",
        "name: 'other' differs from the file name 'mine' (the runner finds an experiment by its file name)",
        "fault.loss.percent: 140 is above 100",
        "targets: missing (required for kind network: targets.services names the services to hit)",
        "duration: missing (seconds the fault lasts; required for kind network)",
    ]


# --- a list where a mapping is expected -------------------------------------------------------------------------

@pytest.mark.parametrize("data, path", [
    pytest.param(changed("pause", ("hypothesis", [15])), "hypothesis", id="hypothesis"),
    pytest.param(changed("pause", ("observe", ["recovery_timeout"])), "observe", id="observe"),
    pytest.param(changed("pause", ("targets.select", ["one"])), "targets.select", id="select"),
    pytest.param(changed("loss", ("fault.loss", [50])), "fault.loss", id="fault-loss"),
    pytest.param(changed("loss", ("fault", ["loss"])), "fault", id="network-fault"),
    pytest.param(changed("dependency", ("fault", ["api_timeout"])), "fault", id="dependency-fault"),
    pytest.param(changed("pause", ("fault", ["pause"])), "fault", id="container-fault"),
    pytest.param(changed("pause", ("targets", ["backend"])), "targets", id="targets"),
])
def test_a_list_where_a_mapping_is_expected(data, path):
    problems = problems_of(data, INVENTORY)
    assert problems
    assert all(p.startswith(path + ": ") for p in problems), problems
    assert "%s: %r is not a mapping" % (path, data_at(data, path)) in problems


def data_at(data, path):
    for key in path.split("."):
        data = data[key]
    return data


def test_a_string_where_a_list_of_services_is_expected():
    assert problems_of(changed("pause", ("targets.services", "backend")), INVENTORY) == [
        "targets.services: 'backend' is not a list"]


@pytest.mark.parametrize("key", ["name", "description", "kind"])
def test_a_required_key_with_no_value(key):
    data = changed("pause", (key, None))
    assert validate(data, "backend-pause", FAULT_SPECS, INVENTORY) != []


# --- the inventory ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("services, problems", [
    (["backend"], []),
    (["bakend"], ["targets.services[0]: bakend is not in the inventory's dependency map or health checks "
                  "(did you mean backend?)"]),
    (["backend", "mailer"], ["targets.services[1]: mailer is not in the inventory's dependency map or health "
                             "checks"]),
    (["postgres"], ["targets.services[0]: postgres is protected (chaos_protected_services): an experiment file "
                    "may not target it"]),
])
def test_targets_against_the_inventory(services, problems):
    assert problems_of(changed("pause", ("targets.services", services)), INVENTORY) == problems


def test_a_service_known_only_to_the_health_checks_is_known():
    inventory = {"dependency_map": {}, "health_checks": {"backend": {"type": "tcp"}}, "protected_services": []}
    assert problems_of(PAUSE, inventory) == []


def test_an_inventory_without_a_map_or_checks():
    assert problems_of(PAUSE, {"protected_services": ["postgres"]}) == [
        "targets.services[0]: the inventory has no chaos_dependency_map or chaos_health_checks to check backend "
        "against"]


def test_without_an_inventory_the_services_are_not_checked():
    assert problems_of(changed("pause", ("targets.services", ["anything"]))) == []


# --- safe mode --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("data, limits, problems", [
    (changed("loss", ("fault.loss.percent", 60)), None, ["safe mode: loss 60% is above the safe-mode cap of 50%"]),
    (changed("loss", ("fault.loss.percent", 60)), {"max_loss_percent": 60}, []),
    (changed("pause", ("duration", 90)), None,
     ["safe mode: duration 90 s is longer than the safe-mode maximum of 60 s"]),
    (changed("pause", ("targets.services", ["backend", "redis"])), None,
     ["safe mode: 2 targets planned, safe mode allows 1"]),
    (changed("pause", ("targets.select", {"mode": "count", "value": 2})), None,
     ["safe mode: select asks for 2 targets, safe mode allows 1"]),
    (changed("cpu", ("fault.cpu", {"workers": 1})), None,
     ["safe mode: CPU load 100.0% is above the safe-mode cap of 80%"]),
    (changed("cpu", ("fault.cpu", {}), ("fault.memory", {"bytes": "1G"})), None,
     ["safe mode: CPU load 100.0% is above the safe-mode cap of 80%",
      "safe mode: memory must be a percent of the container's limit, at most 50%, in safe mode (got {'bytes': '1G'})"]),
    (changed("loss", ("fault.partition", {"peers": ["postgres"]}), ("fault.protect_control_channel", False)), None,
     ["safe mode: a partition that may cut the control channel (protect_control_channel: false)"]),
    (changed("dependency", ("duration", 61)), None,
     ["safe mode: duration 61 s is longer than the safe-mode maximum of 60 s"]),
    (changed("dependency", ("fault.override_protection", True)), None,
     ["safe mode: override_protection lifts a protection: safe mode never touches a protected service"]),
    (RESILIENCE, None, ["safe mode: a resilience test hits every unprotected service in turn: it cannot run in "
                        "safe mode"]),
])
def test_safe_mode_problems_are_prefixed(data, limits, problems):
    assert problems_of(data, INVENTORY, safe_mode=True, safe_mode_limits=limits) == problems
    assert problems_of(data, INVENTORY) == []


def test_safe_mode_is_judged_only_on_an_otherwise_valid_file():
    data = changed("loss", ("fault.loss.percent", 60), ("observe", {"settle_seconds": 0}))
    problems = problems_of(data, INVENTORY, safe_mode=True)
    assert problems and not any(p.startswith("safe mode: ") for p in problems)


def test_safe_mode_broken_does_not_change_the_data():
    data = changed("pause", ("duration", 90))
    before = copy.deepcopy(data)
    assert safe_mode_broken(data) == ["duration 90 s is longer than the safe-mode maximum of 60 s"]
    assert data == before


# --- the shipped catalogue --------------------------------------------------------------------------------------

def _load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_catalogue_is_shipped():
    assert len(SHIPPED) >= 8


@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_every_shipped_experiment_is_valid(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    data = _load(path)
    assert validate(data, stem, FAULT_SPECS, INVENTORY) == []
    spec = run_spec(data, path)
    assert spec["name"] == stem and spec["kind"] in KINDS


@pytest.mark.parametrize("path", SHIPPED, ids=os.path.basename)
def test_every_shipped_experiment_may_run_in_safe_mode(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    assert validate(_load(path), stem, FAULT_SPECS, INVENTORY, safe_mode=True) == []


# --- fault_spec -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("module", sorted(FAULT_SPECS))
def test_fault_spec_drops_the_runners_options(module):
    spec = fault_spec(FAULT_SPECS[module])
    assert spec and not set(spec) & set(PLUMBING)
    assert set(spec) <= set(FAULT_SPECS[module])


def test_container_fault_spec():
    assert sorted(fault_spec(FAULT_SPECS["container_chaos"])) == ["action", "kill_mode", "signal", "stop_timeout"]


# --- run_spec ---------------------------------------------------------------------------------------------------

def test_run_spec_of_a_kill_is_untimed_without_duration():
    spec = run_spec(KILL, "/c/redis-crash.yml")
    assert spec["lifecycle_fault"] == {"kind": "container", "module": "container_chaos", "timed": False,
                                       "args": {"action": "kill"}}
    assert spec["duration"] is None


def test_run_spec_of_a_container_without_fault_is_a_kill():
    data = changed("kill", ("fault", DELETE))
    assert run_spec(data, "f.yml")["lifecycle_fault"] == {"kind": "container", "module": "container_chaos",
                                                          "timed": False, "args": {"action": "kill"}}


@pytest.mark.parametrize("action", ["pause", "stop"])
def test_run_spec_of_a_pause_or_stop_is_timed_with_duration_in_args(action):
    spec = run_spec(changed("pause", ("fault.action", action)), "/c/backend-pause.yml")
    assert spec["lifecycle_fault"] == {"kind": "container", "module": "container_chaos", "timed": True,
                                       "args": {"action": action, "duration": 8}}
    assert "sweep" not in spec["lifecycle_fault"]


@pytest.mark.parametrize("base, module, args", [
    ("loss", "network_chaos", {"loss": {"percent": 50}, "duration": 10}),
    ("cpu", "resource_stress", {"cpu": {"workers": 1, "load": 80}, "duration": 10}),
])
def test_run_spec_of_network_and_resource_has_a_sweep(base, module, args):
    fault = run_spec(BASES[base], "f.yml")["lifecycle_fault"]
    assert fault == {"kind": BASES[base]["kind"], "module": module, "timed": True, "args": args, "sweep": {}}


def test_run_spec_sweep_keeps_the_device():
    fault = run_spec(changed("loss", ("fault.device", "eth1")), "f.yml")["lifecycle_fault"]
    assert fault["sweep"] == {"device": "eth1"}
    assert fault["args"]["device"] == "eth1"


def test_run_spec_fields_and_defaults():
    spec = run_spec(PAUSE, "/c/backend-pause.yml")
    assert {k: v for k, v in spec.items() if k != "lifecycle_fault"} == {
        "name": "backend-pause", "file": "/c/backend-pause.yml", "kind": "container",
        "description": "Freeze the backend.", "tags": ["container"],
        "hypothesis": {"max_recovery_seconds": 15, "max_cascade_depth": 1}, "duration": 8,
        "observe": {"recovery_timeout": 60}, "fault": {"action": "pause"}, "services": ["backend"],
        "select": {"mode": "all"}, "max_targets": 1}
    assert run_spec(LOSS, "f.yml")["max_targets"] == 3


@pytest.mark.parametrize("base", ["dependency", "resilience"])
def test_run_spec_of_a_composite_has_no_lifecycle_fault(base):
    spec = run_spec(BASES[base], "f.yml")
    assert "lifecycle_fault" not in spec
    assert spec["services"] == [] and spec["fault"] == BASES[base]["fault"]


def test_run_spec_does_not_change_the_data():
    data = copy.deepcopy(KILL)
    run_spec(data, "f.yml")
    assert data == KILL
