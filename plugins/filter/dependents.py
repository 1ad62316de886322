# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: dependents
short_description: The services that depend on some services, directly or through others
version_added: 0.1.0
description:
  - Walks a dependency map (service -> the services it depends on) backwards from the given services and returns
    them with every service that depends on them, in breadth-first order, each with its depth.
positional: dependency_map
options:
  _input:
    description: The faulted services.
    type: list
    elements: str
    required: true
  dependency_map:
    description: Service -> list of the services it depends on.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Services a redis failure may reach
  ansible.builtin.debug:
    msg: "{{ ['redis'] | sutazai.chaos.dependents(chaos_dependency_map) }}"
  # -> [{"service": "redis", "depth": 0}, {"service": "backend", "depth": 1}, {"service": "frontend", "depth": 2}]
"""

RETURN = r"""
_value:
  description: Each reachable service with its distance from the faulted ones.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError


def dependents(services, dependency_map):
    if not isinstance(dependency_map, dict):
        raise AnsibleFilterError("dependents: the dependency map must be a dict of service -> list of services")
    depth = {service: 0 for service in services}
    frontier = list(services)
    while frontier:
        reached = []
        for service, needs in sorted(dependency_map.items()):
            if service not in depth and any(n in frontier for n in (needs or [])):
                depth[service] = depth[frontier[0]] + 1
                reached.append(service)
        frontier = reached
    return [{"service": s, "depth": d} for s, d in sorted(depth.items(), key=lambda item: (item[1], item[0]))]


class FilterModule:
    def filters(self):
        return {"dependents": dependents}
