# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Dependency-failure scenarios: which fault, on which services, makes a dependency fail in a given way.

For any stack the failing dependency comes from the user (``-e dependency=db``) and the rest from the inventory:
its clients are the services whose entry in ``chaos_dependency_map`` lists it, its port comes from
``chaos_service_ports`` (or ``-e dependency_failure_port``). Without a dependency, the demo stack's scenarios run as
they always have (DEMO_SCENARIOS). Pure Python: no Ansible, no host.
"""

from __future__ import annotations

from ._common import ChaosError

NOTHING = "Nothing was changed."

# scenario -> (description, fault on the dependency itself or on its clients, module, args builder)
SCENARIOS = ("database_down", "service_down", "unavailable", "service_unavailable", "api_timeout", "api_errors",
             "slow_dependency", "dns_failure")

DEMO_SCENARIOS = {
    "database_down": {
        "description": "the database is down (postgres stopped; the engine does not restart a stopped container)",
        "dependency": "postgres", "module": "container_chaos", "args": {"action": "stop"}},
    "api_timeout": {
        "description": "calls to the cache time out (backend's traffic to redis:6379 dropped, so clients wait)",
        "dependency": "redis", "faulted": ["backend"], "module": "network_chaos",
        "args": {"partition": {"peers": ["redis"], "ports": [6379], "protocol": "tcp", "direction": "egress",
                               "action": "drop"}}, "sweep": {}},
    "service_unavailable": {
        "description": "the cache stops answering (redis paused; connections open but nothing answers)",
        "dependency": "redis", "module": "container_chaos", "args": {"action": "pause"}},
    "slow_dependency": {
        "description": "the cache is slow (500 ms added to redis' replies; needs sch_netem)",
        "dependency": "redis", "module": "network_chaos", "args": {"delay": {"ms": 500}}, "sweep": {}},
}


def clients_of(dependency, dependency_map):
    """The services whose dependency-map entry lists ``dependency``, sorted."""
    return sorted(service for service, needs in (dependency_map or {}).items() if dependency in (needs or []))


def _port(dependency, options, scenario):
    port = options.get("port")
    if port in (None, ""):
        raise ChaosError("scenario %s needs the port %s listens on inside its container: set chaos_service_ports."
                         "%s in the inventory or pass -e dependency_failure_port=<port>. %s"
                         % (scenario, dependency, dependency, NOTHING))
    try:
        port = int(port)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ChaosError("the port of %s must be a number from 1 to 65535, got %r. %s"
                         % (dependency, options.get("port"), NOTHING))
    return port


def _clients(dependency, dependency_map, scenario):
    clients = clients_of(dependency, dependency_map)
    if not clients:
        raise ChaosError("scenario %s faults the clients of %s, and no service of chaos_dependency_map depends on it "
                         "(known: %s). Add it to the map of the services that call it. %s"
                         % (scenario, dependency, ", ".join(sorted(dependency_map or {})) or "none", NOTHING))
    return clients


def _percent(options):
    value = options.get("error_percent", 50)
    try:
        value = float(value)
    except (TypeError, ValueError):
        value = -1
    if not 0 < value <= 100:
        raise ChaosError("dependency_failure_error_percent must be above 0 and at most 100, got %r. %s"
                         % (options.get("error_percent"), NOTHING))
    return value


def derived_scenario(scenario, dependency, dependency_map, options=None):
    """The fault for ``scenario`` against ``dependency`` of any stack (see the module doc)."""
    options = options or {}
    if scenario not in SCENARIOS:
        raise ChaosError("dependency_failure_scenario must be one of %s, got %r. %s"
                         % (", ".join(SCENARIOS), scenario, NOTHING))
    known = set(dependency_map or {}) | {d for needs in (dependency_map or {}).values() for d in needs or []}
    if dependency not in known:
        raise ChaosError("dependency %r is not in the inventory's chaos_dependency_map (services: %s). %s"
                         % (dependency, ", ".join(sorted(known)) or "none", NOTHING))
    name = dependency
    if scenario in ("database_down", "service_down"):
        return {"description": "%s is down (stopped for the duration)" % name, "dependency": name,
                "faulted": [name], "module": "container_chaos", "args": {"action": "stop"}}
    if scenario in ("unavailable", "service_unavailable"):
        return {"description": "%s stops answering (paused: connections open, nothing answers)" % name,
                "dependency": name, "faulted": [name], "module": "container_chaos", "args": {"action": "pause"}}
    if scenario == "api_timeout":
        clients = _clients(name, dependency_map, scenario)
        partition = {"peers": [name], "protocol": "tcp", "direction": "egress", "action": "drop"}
        if options.get("port") not in (None, ""):
            partition["ports"] = [_port(name, options, scenario)]
        return {"description": "calls to %s time out (%s's traffic to it dropped)" % (name, ", ".join(clients)),
                "dependency": name, "faulted": clients, "module": "network_chaos", "args": {"partition": partition},
                "sweep": {}}
    if scenario == "api_errors":
        port, percent = _port(name, options, scenario), _percent(options)
        status = int(options.get("status") or 503)
        return {"description": "%s answers HTTP %d to %s%% of its calls (port %d)" % (name, status, _pct(percent),
                                                                                      port),
                "dependency": name, "faulted": [name], "module": "http_chaos",
                "args": {"port": port, "direction": "inbound", "abort": {"status": status}, "percent": percent}}
    if scenario == "slow_dependency":
        port, delay = _port(name, options, scenario), int(options.get("delay_ms") or 2000)
        return {"description": "%s is slow (%d ms added to every HTTP call on port %d)" % (name, delay, port),
                "dependency": name, "faulted": [name], "module": "http_chaos",
                "args": {"port": port, "direction": "inbound", "delay_ms": delay}}
    clients = _clients(name, dependency_map, scenario)
    project = options.get("compose_project")
    names = [name, name + ".*"] + (["%s-%s-*" % (project, name), "%s_%s_*" % (project, name)] if project else [])
    return {"description": "the name %s stops resolving for %s (NXDOMAIN)" % (name, ", ".join(clients)),
            "dependency": name, "faulted": clients, "module": "dns_chaos",
            "args": {"names": names, "answer": "nxdomain"}}


def _pct(value):
    return ("%.1f" % value).rstrip("0").rstrip(".")


def dependency_scenario(scenario, dependency=None, dependency_map=None, options=None):
    """The demo stack's scenario by name when no dependency is given; else the one derived for that dependency."""
    if dependency in (None, ""):
        if scenario not in DEMO_SCENARIOS:
            raise ChaosError("scenario %s needs the failing dependency: pass -e dependency=<service> (one of the "
                             "services of chaos_dependency_map). Without it only the demo stack's %s run. %s"
                             % (scenario, ", ".join(DEMO_SCENARIOS), NOTHING))
        chosen = dict(DEMO_SCENARIOS[scenario])
        chosen.setdefault("faulted", [chosen["dependency"]])
    else:
        chosen = derived_scenario(scenario, dependency, dependency_map, options)
    chosen["timed"] = True
    chosen.setdefault("sweep", None)
    return chosen
