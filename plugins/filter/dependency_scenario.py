# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: dependency_scenario
short_description: The fault that makes a dependency fail in a named way, for the demo stack or any stack
version_added: 0.3.0
description:
  - Without O(dependency), returns the demo stack's scenario of that name (database_down, api_timeout,
    service_unavailable, slow_dependency), as it always was.
  - With O(dependency), derives the fault from the inventory - database_down and service_down stop the dependency,
    unavailable (or service_unavailable) pauses it, api_timeout drops its clients' traffic to it, api_errors makes
    it answer HTTP 503 (O(options.status)) to a share of its calls, slow_dependency delays its HTTP answers (no
    netem needed), dns_failure makes its name stop resolving for its clients. Its clients are the services whose
    entry in the dependency map lists it.
positional: dependency, dependency_map, options
options:
  _input:
    description: The scenario.
    type: str
    required: true
  dependency:
    description: The service that fails (a compose service of the stack); empty for the demo stack's scenarios.
    type: str
  dependency_map:
    description: Service -> the services it depends on (chaos_dependency_map).
    type: dict
  options:
    description:
      - C(port) the dependency listens on in its container (api_errors, slow_dependency; optional for api_timeout),
        C(error_percent), C(status), C(delay_ms), C(compose_project) (for the container-name patterns of
        dns_failure).
    type: dict
"""

EXAMPLES = r"""
- name: The fault that makes db fail with errors
  ansible.builtin.debug:
    msg: "{{ 'api_errors' | sutazai.chaos.dependency_scenario('api', chaos_dependency_map, {'port': 8080}) }}"
"""

RETURN = r"""
_value:
  description: description, dependency, faulted (the services the fault is put on), module, args, sweep, timed.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._dependency import dependency_scenario


def _scenario(scenario, dependency=None, dependency_map=None, options=None):
    if dependency_map is not None and not isinstance(dependency_map, dict):
        raise AnsibleFilterError("dependency_scenario: the dependency map must be a dict of service -> services")
    try:
        return dependency_scenario(scenario, dependency, dependency_map, options)
    except ChaosError as exc:
        raise AnsibleFilterError(exc.msg)


class FilterModule:
    def filters(self):
        return {"dependency_scenario": _scenario}
