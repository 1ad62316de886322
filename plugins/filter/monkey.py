# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: monkey_inputs
short_description: Fold every host's guard, audit journal and opt-out containers into the chaos monkey's tick inputs
version_added: 0.3.0
description:
  - The emergency stop counts as set when any host has it; the guard's figures are the worst of any host; a
    service's last hit is its latest injection on any host; a decision recorded on every host counts once.
options:
  _input:
    description: The registered C(sutazai.chaos.chaos_guard) results of every host.
    type: list
    elements: dict
    required: true
  audit_events:
    description: The audit events of every host (C(sutazai.chaos.chaos_audit_info)'s events, flattened).
    type: list
    elements: dict
  containers:
    description: Containers labelled opt-out (C(community.docker.docker_host_info) with verbose output).
    type: list
    elements: dict
"""

EXAMPLES = r"""
inputs: "{{ guards | sutazai.chaos.monkey_inputs(events, containers) }}"
"""

RETURN = r"""
_value:
  description: emergency_stop, guard (healthy_ratio, cpu_percent, memory_percent), history, last_hits,
    last_verdicts, opted_out.
  type: dict
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.sutazai.chaos.plugins.module_utils._monkey_state import tick_inputs


def monkey_inputs(guards, audit_events=None, containers=None):
    if not isinstance(guards, list):
        raise AnsibleFilterError("monkey_inputs: the input must be the list of every host's chaos_guard result")
    return tick_inputs(guards, audit_events or [], containers or [])


class FilterModule:
    def filters(self):
        return {"monkey_inputs": monkey_inputs}
