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
from ansible_collections.sutazai.chaos.plugins.module_utils._graph import dependent_depths


def dependents(services, dependency_map):
    if not isinstance(dependency_map, dict):
        raise AnsibleFilterError("dependents: the dependency map must be a dict of service -> list of services")
    depth = dependent_depths(services, dependency_map)
    return [{"service": s, "depth": d} for s, d in sorted(depth.items(), key=lambda item: (item[1], item[0]))]


class FilterModule:
    def filters(self):
        return {"dependents": dependents}
