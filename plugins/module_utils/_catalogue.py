# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Experiment files that describe themselves: the schema, and every problem of a file, each naming its path.

Pure Python: the caller reads the YAML and hands in the fault modules' option specs and the inventory.
"""

from __future__ import annotations

import difflib
import re

from ._dependency import SCENARIOS
from ._safe_mode import violations

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# kind -> the fault module that makes it (None: a composite experiment run by its own role)
KINDS = {
    "container": "container_chaos",
    "network": "network_chaos",
    "resource": "resource_stress",
    "dependency": None,
    "resilience": None,
}
DEPENDENCY_SCENARIOS = SCENARIOS
RESILIENCE_TYPES = ("quick", "comprehensive")
# module options an experiment file may not set in its fault (the runner sets them)
PLUMBING = ("state", "targets", "exclude", "protected", "select", "max_targets", "allow_empty", "experiment_id",
            "state_dir", "duration", "max_duration", "docker_host", "tls", "validate_certs", "ca_path",
            "client_cert", "client_key", "timeout", "interface")

TOP = {
    "name": {"type": "str", "required": True},
    "description": {"type": "str", "required": True},
    "kind": {"type": "str", "required": True, "choices": list(KINDS)},
    "tags": {"type": "list", "elements": "str"},
    "targets": {"type": "dict", "options": {
        "services": {"type": "list", "elements": "str", "required": True},
        "select": {"type": "dict", "options": {
            "mode": {"type": "str", "choices": ["all", "one", "count", "percent"]},
            "value": {"type": "float", "min": 0}, "seed": {"type": "str"}}},
        "max_targets": {"type": "int", "min": 1}}},
    "fault": {"type": "dict"},
    "duration": {"type": "float", "min": 0.1, "max": 86400},
    "hypothesis": {"type": "dict", "options": {
        "max_recovery_seconds": {"type": "float", "min": 0},
        "min_availability": {"type": "float", "min": 0, "max": 1},
        "max_cascade_depth": {"type": "int", "min": 0}}},
    "observe": {"type": "dict", "options": {
        "baseline_seconds": {"type": "float", "min": 0.5, "max": 3600},
        "sample_interval": {"type": "float", "min": 0.05, "max": 60},
        "settle_seconds": {"type": "float", "min": 1, "max": 3600},
        "recovery_timeout": {"type": "float", "min": 1, "max": 86400},
        "abort_availability_below": {"type": "float", "min": 0, "max": 1}}},
}
COMPOSITE_FAULTS = {
    "dependency": {"scenario": {"type": "str", "required": True, "choices": list(DEPENDENCY_SCENARIOS)},
                   "override_protection": {"type": "bool"}, "dependency": {"type": "str"},
                   "port": {"type": "int", "min": 1, "max": 65535},
                   "error_percent": {"type": "float", "min": 0.1, "max": 100},
                   "status": {"type": "int", "min": 100, "max": 599},
                   "delay_ms": {"type": "int", "min": 1, "max": 600000}},
    "resilience": {"test_type": {"type": "str", "required": True, "choices": list(RESILIENCE_TYPES)}},
}
# Ranges the modules' specs do not carry, by option name wherever it appears in a fault.
RANGES = {"percent": (0, 100), "load": (0, 100), "correlation": (0, 100), "ms": (0, 60000),
          "jitter_ms": (0, 60000), "workers": (1, 64), "limit": (1, None), "gap": (1, None),
          "stop_timeout": (0, 3600), "read_iops": (1, None), "write_iops": (1, None)}
_TYPES = {"str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "dict": (dict,), "list": (list,)}


def _nearest(key, known):
    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    return " (did you mean %s?)" % close[0] if close else ""


def _type_ok(value, kind):
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    if kind == "int" and isinstance(value, float):
        return value == int(value)
    return isinstance(value, _TYPES.get(kind, (object,)))


def _range_problem(value, low, high):
    if low is not None and value < low:
        return "is below %s" % low
    if high is not None and value > high:
        return "is above %s" % high
    return None


def check_options(data, spec, path, problems):
    """Unknown keys (with the nearest known one), missing required keys, wrong types, choices and ranges."""
    if not isinstance(data, dict):
        problems.append("%s: must be a mapping, got %s" % (path, type(data).__name__))
        return
    for key, value in data.items():
        where = "%s.%s" % (path, key) if path else str(key)
        if key not in spec:
            problems.append("%s: unknown key%s; known: %s" % (where, _nearest(key, spec), ", ".join(sorted(spec))))
            continue
        _check_value(value, spec[key], where, key, problems)
    for key, option in spec.items():
        if option.get("required") and data.get(key) in (None, ""):
            problems.append("%s: missing (required)" % ("%s.%s" % (path, key) if path else key))


def _check_value(value, option, where, key, problems):
    kind = option.get("type", "str")
    if value is None:
        return
    if not _type_ok(value, kind):
        problems.append("%s: %r is not a %s" % (where, value, {"str": "string", "dict": "mapping"}.get(kind, kind)))
        return
    if option.get("choices") and value not in option["choices"]:
        choices = [str(choice) for choice in option["choices"]]
        problems.append("%s: %r is not one of %s%s" % (where, value, ", ".join(choices), _nearest(value, choices)))
    if kind in ("int", "float"):
        low, high = option.get("min", RANGES.get(key, (None, None))[0]), option.get("max", RANGES.get(key, (None, None))[1])
        problem = _range_problem(value, low, high)
        if problem:
            problems.append("%s: %s %s" % (where, value, problem))
    if kind == "dict" and option.get("options"):
        check_options(value, option["options"], where, problems)
    if kind == "list":
        for index, item in enumerate(value):
            if option.get("elements") and not _type_ok(item, option["elements"]):
                problems.append("%s[%d]: %r is not a %s" % (where, index, item, option["elements"]))


def is_timed(kind, fault):
    """A fault that lasts a duration and ends by itself; a container kill or restart is a crash."""
    return KINDS.get(kind) is not None and not (kind == "container" and (fault or {}).get("action", "kill")
                                                in ("kill", "restart"))


def fault_spec(module_spec):
    """A fault module's own options, without the ones the runner sets."""
    return {key: value for key, value in module_spec.items() if key not in PLUMBING}


def _check_inventory(data, inventory, problems):
    targets = data.get("targets")
    services = targets.get("services") if isinstance(targets, dict) else None
    if not isinstance(services, list) or not all(isinstance(s, str) for s in services):
        return  # the schema check has reported it
    known = set(inventory.get("dependency_map") or {}) | set(inventory.get("health_checks") or {})
    protected = set(inventory.get("protected_services") or [])
    for index, service in enumerate(services):
        where = "targets.services[%d]" % index
        if service in protected:
            problems.append("%s: %s is protected (chaos_protected_services): an experiment file may not target it"
                            % (where, service))
        elif known and service not in known:
            problems.append("%s: %s is not in the inventory's dependency map or health checks%s"
                            % (where, service, _nearest(service, known)))
        elif not known:
            problems.append("%s: the inventory has no chaos_dependency_map or chaos_health_checks to check %s against"
                            % (where, service))


def validate(data, file_stem, fault_specs, inventory=None, safe_mode=False, safe_mode_limits=None):
    """Every problem of one experiment file's data, as 'path: what is wrong' (empty: it is valid)."""
    problems = []
    if not isinstance(data, dict):
        return ["the file must hold one mapping (name, description, kind, ...), got %s" % type(data).__name__]
    check_options(data, TOP, "", problems)
    name, kind = data.get("name"), data.get("kind")
    if isinstance(name, str) and name != file_stem:
        problems.append("name: %r differs from the file name %r (the runner finds an experiment by its file name)"
                        % (name, file_stem))
    if kind not in KINDS:
        return problems
    module = KINDS[kind]
    fault = data.get("fault")
    if fault is not None and not isinstance(fault, dict):
        return problems  # reported by the schema check; nothing below can read it
    if fault is None and kind != "container":
        problems.append("fault: missing (required for kind %s)" % kind)
    elif fault is not None:
        check_options(fault, COMPOSITE_FAULTS.get(kind) or fault_spec(fault_specs[module]), "fault", problems)
    if module is not None and "targets" not in data:
        problems.append("targets: missing (required for kind %s: targets.services names the services to hit)" % kind)
    if kind == "resilience" and "targets" in data:
        problems.append("targets: a resilience test hits every unprotected service in turn; remove targets")
    timed = is_timed(kind, fault)
    if (timed or kind == "dependency") and data.get("duration") is None:
        problems.append("duration: missing (seconds the fault lasts; required for kind %s%s)"
                        % (kind, " with action %s" % (fault or {}).get("action") if kind == "container" else ""))
    if kind == "container" and not timed and data.get("duration") is not None:
        problems.append("duration: a %s is a crash (the restart policy is its recovery): remove duration"
                        % (fault or {}).get("action", "kill"))
    if inventory is not None:
        _check_inventory(data, inventory, problems)
    if safe_mode and not problems:
        problems += ["safe mode: %s" % broken for broken in safe_mode_broken(data, safe_mode_limits)]
    return problems


def safe_mode_broken(data, limits=None):
    """The safe-mode limits a valid experiment file breaks, before any host is known."""
    kind = data["kind"]
    if kind == "resilience":
        return ["a resilience test hits every unprotected service in turn: it cannot run in safe mode"]
    fault = dict(data.get("fault") or {})
    if kind == "dependency":
        broken = violations("container_chaos", {"duration": data.get("duration")}, limits)
        if fault.get("override_protection"):
            broken.append("override_protection lifts a protection: safe mode never touches a protected service")
        return broken
    args = dict(fault, duration=data.get("duration"))
    targets = data.get("targets") or {}
    args["select"] = targets.get("select") or {}
    planned = len(targets.get("services") or []) if not targets.get("select") else None
    return violations(KINDS[kind], args, limits, targets=planned)


def run_spec(data, path):
    """What the runner needs from a valid file: the lifecycle's inputs (or the composite role's)."""
    kind = data["kind"]
    fault = dict(data.get("fault") or {})
    targets = data.get("targets") or {}
    observe = data.get("observe") or {}
    spec = {
        "name": data["name"], "file": path, "kind": kind, "description": data["description"],
        "tags": data.get("tags") or [], "hypothesis": data.get("hypothesis") or {}, "duration": data.get("duration"),
        "observe": observe, "fault": fault, "services": targets.get("services") or [],
        "select": targets.get("select") or {"mode": "all"}, "max_targets": targets.get("max_targets", 3),
    }
    module = KINDS[kind]
    if module is not None:
        timed = is_timed(kind, fault)
        args = dict(fault, duration=data["duration"]) if timed else dict(fault)
        if kind == "container":
            args.setdefault("action", "kill")
        spec["lifecycle_fault"] = {"kind": kind, "module": module, "timed": timed, "args": args}
        if kind in ("network", "resource"):
            spec["lifecycle_fault"]["sweep"] = {"device": fault["device"]} if fault.get("device") else {}
    return spec
