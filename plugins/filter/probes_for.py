# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: probes_for
short_description: Turn a map of service health checks into health_probe probes
version_added: 0.1.0
description:
  - Takes a map of service -> health check (as in the inventory's C(chaos_health_checks)) and returns the
    probes of the given services, named after them, ready for M(sutazai.chaos.health_probe). Services
    without a health check are left out.
positional: services
options:
  _input:
    description: Service -> health check (C(type) http with C(url), tcp with C(host) and C(port), or container).
    type: dict
    required: true
  services:
    description: The services wanted; all of them when omitted.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Probe backend and frontend
  sutazai.chaos.health_probe:
    probes: "{{ chaos_health_checks | sutazai.chaos.probes_for(['backend', 'frontend']) }}"
"""

RETURN = r"""
_value:
  description: Probes, each the service's health check with C(name) set to the service.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError


def probes_for(health_checks, services=None):
    if not isinstance(health_checks, dict):
        raise AnsibleFilterError("probes_for: the health checks must be a dict of service -> check")
    wanted = list(health_checks) if services is None else list(services)
    return [dict(health_checks[s], name=s) for s in wanted if s in health_checks]


class FilterModule:
    def filters(self):
        return {"probes_for": probes_for}
