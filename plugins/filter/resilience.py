# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: resilience
short_description: Time to recover, cascade and surprises from a sample taken through a fault
version_added: 0.1.0
description:
  - Takes a result of M(sutazai.chaos.health_probe) in V(sample) mode whose probes are named after the services of a
    dependency map, taken from the moment a fault was injected, and works out how the failure spread and when
    the system recovered.
  - C(affected) are the services seen unhealthy at least once; C(cascade_depth) is the largest distance, along the
    map's dependents, from the faulted service to an affected one (0 when only the faulted service suffered).
  - C(surprises.unexpected) are affected services that do not depend on the faulted one at all;
    C(surprises.not_isolated) are affected services that O(isolated) said should have been shielded.
  - C(mttr_seconds) counts from O(injected_at) to the first poll after which every probe stayed healthy to the end
    of the sample (null when the sample ended unhealthy).
positional: faulted, dependency_map, injected_at, isolated
options:
  _input:
    description: The sample (a registered health_probe result in V(sample) mode), with C(started_at) and C(timeline).
    type: dict
    required: true
  faulted:
    description: The service that was faulted.
    type: str
    required: true
  dependency_map:
    description: Service -> the services it depends on.
    type: dict
    required: true
  injected_at:
    description: Epoch time of the injection.
    type: float
    required: true
  isolated:
    description: Services expected to stay healthy although they depend on the faulted one.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: How far did the redis crash spread?
  ansible.builtin.debug:
    msg: "{{ during | sutazai.chaos.resilience('redis', chaos_dependency_map, injected_at) }}"
  # -> {"affected": ["backend", "frontend", "redis"], "cascade_depth": 2, "mttr_seconds": 2.4, ...}
"""

RETURN = r"""
_value:
  description:
    - C(affected), C(unaffected), C(cascade_depth), C(surprises) (C(unexpected), C(not_isolated)),
      C(mttr_seconds), C(per_service) (availability and depth of each service), C(health_score_min).
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.sutazai.chaos.plugins.module_utils._graph import dependent_depths


def _mttr(timeline, started_at, injected_at):
    last_bad = None
    for index, poll in enumerate(timeline):
        if not poll["healthy"]:
            last_bad = index
    if last_bad is None:
        return 0.0
    if last_bad + 1 >= len(timeline):
        return None
    recovered = timeline[last_bad + 1]
    answered = recovered["t"] + max(p.get("latency_ms", 0.0) for p in recovered["probes"]) / 1000.0
    return round(max(0.0, started_at + answered - injected_at), 3)


def resilience(sample, faulted, dependency_map, injected_at, isolated=None):
    if not isinstance(sample, dict) or "timeline" not in sample or "started_at" not in sample:
        raise AnsibleFilterError("resilience: the input must be a health_probe result in sample mode")
    if not isinstance(dependency_map, dict):
        raise AnsibleFilterError("resilience: the dependency map must be a dict of service -> list of services")
    timeline = sample["timeline"]
    depth = dependent_depths([faulted], dependency_map)
    per_service = {}
    for poll in timeline:
        for probe in poll["probes"]:
            seen = per_service.setdefault(probe["name"], {"polls": 0, "healthy": 0})
            seen["polls"] += 1
            seen["healthy"] += 1 if probe["healthy"] else 0
    for name, seen in per_service.items():
        seen["availability"] = round(seen["healthy"] / seen["polls"], 4) if seen["polls"] else None
        seen["depth"] = depth.get(name)
    affected = sorted(n for n, s in per_service.items() if s["healthy"] < s["polls"])
    isolated = list(isolated or [])
    return {
        "faulted": faulted,
        "affected": affected,
        "unaffected": sorted(n for n in per_service if n not in affected),
        "cascade_depth": max([depth[n] for n in affected if n in depth], default=0),
        "surprises": {
            "unexpected": [n for n in affected if n not in depth],
            "not_isolated": [n for n in affected if n in isolated],
        },
        "mttr_seconds": _mttr(timeline, float(sample["started_at"]), float(injected_at)),
        "per_service": per_service,
        "health_score_min": min((p["health_score"] for p in timeline), default=None),
    }


class FilterModule:
    def filters(self):
        return {"resilience": resilience}
