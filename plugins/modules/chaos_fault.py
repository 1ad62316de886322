#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_fault
short_description: Run one fault module of this collection, named by data
version_added: 0.2.0
author:
  - sutazai.chaos maintainers (!UNKNOWN)
description:
  - Runs the fault module O(module) with the options O(args), exactly as if the task named it, and adds
    RV(hits), the targets it hit in one shape whatever the fault kind.
  - This is how the experiment lifecycle (role C(sutazai.chaos.experiment)) takes the fault as data.
  - It is an action plugin; check mode and diff mode are those of the module it runs.
options:
  module:
    description: The fault module, without the collection prefix.
    type: str
    required: true
    choices: [container_chaos, network_chaos, resource_stress, process_chaos, http_chaos, dns_chaos, custom_fault]
  args:
    description: The options of O(module).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Passed on to O(module).
  diff_mode:
    support: full
    description: Passed on to O(module).
  idempotent:
    support: partial
    description: As idempotent as O(module).
"""

EXAMPLES = r"""
- name: Pause the backend for 10 s
  sutazai.chaos.chaos_fault:
    module: container_chaos
    args:
      action: pause
      duration: 10
      targets: {services: [backend]}
"""

RETURN = r"""
fault_module:
  description: The module that ran.
  returned: always
  type: str
hits:
  description: What the fault hit, whatever its kind.
  returned: always
  type: list
  elements: dict
  contains:
    target:
      description: Container (or host) name.
      type: str
    service:
      description: Its service name (compose service, else the sutazai.chaos.service label, else the name).
      type: str
    deadline:
      description: Epoch time at which the reaper undoes the fault (null for a crash).
      type: float
    injected_at:
      description: Epoch time of the injection, when the module says.
      type: float
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(module=dict(type="str", required=True,
                                                          choices=["container_chaos", "network_chaos",
                                                                   "resource_stress", "process_chaos", "http_chaos",
                                                                   "dns_chaos", "custom_fault"]),
                                              args=dict(type="dict", default={})),
                           supports_check_mode=True)
    module.fail_json(msg="chaos_fault runs as an action plugin on the controller; this file only documents it.")


if __name__ == "__main__":
    main()
