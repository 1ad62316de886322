#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_experiment
short_description: Load and validate experiment files before anything is touched
version_added: 0.2.0
author:
  - sutazai.chaos maintainers (!UNKNOWN)
description:
  - Reads one experiment file, or a whole catalogue, on the controller and checks each against the schema
    (README, "Experiment files") and the inventory - unknown keys (with the nearest known key suggested), wrong
    types, values out of range, unknown kinds, target services missing from the dependency map and health
    checks, protected services named as targets, and in O(safe_mode) every safe-mode limit broken.
  - "Every problem names the file and the path inside it, for example
    C(experiments/x.yml: fault.loss.percent: 140 is above 100)."
  - It is an action plugin; it runs on the controller and touches no host.
options:
  experiment:
    description:
      - A name from O(experiment_dir) (the file's name without C(.yml)), a path to a C(.yml) file anywhere, or
        V(all) for every file of the catalogue.
      - A name may not hold C(/) or C(..); give a path ending in C(.yml) to run a file outside the catalogue.
    type: str
    required: true
  experiment_dir:
    description: The catalogue folder. Default the collection's own C(experiments/).
    type: path
  dependency_map:
    description: The inventory's service -> the services it depends on.
    type: dict
  health_checks:
    description: The inventory's service -> health check.
    type: dict
  protected_services:
    description: Services no experiment file may target.
    type: list
    elements: str
  safe_mode:
    description: Also report every safe-mode limit each file breaks.
    type: bool
    default: false
  safe_mode_limits:
    description:
      - The safe-mode limits (README, "Safe mode"); missing keys take the defaults.
      - Default the inventory's C(chaos_safe_mode_*) variables of the host the task runs for.
    type: dict
  validate_only:
    description: Only validate (the runner stops after this task); kept in the result for the caller.
    type: bool
    default: false
  fail_on_problems:
    description: Fail, listing every problem at once, when any file has one.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads files only.
  diff_mode:
    support: none
    description: Nothing to diff.
  idempotent:
    support: full
    description: Reads files only.
"""

EXAMPLES = r"""
- name: Check the whole catalogue against the inventory
  sutazai.chaos.chaos_experiment:
    experiment: all
    dependency_map: "{{ chaos_dependency_map }}"
    health_checks: "{{ chaos_health_checks }}"
    protected_services: "{{ chaos_protected_services }}"
    fail_on_problems: false
  register: catalogue
"""

RETURN = r"""
experiments:
  description: The valid experiments, as the runner needs them (name, file, kind, hypothesis, lifecycle fault...).
  returned: always
  type: list
  elements: dict
problems:
  description: "Every problem found, each as C(file: path: what is wrong)."
  returned: always
  type: list
  elements: str
files:
  description: The files checked.
  returned: always
  type: list
  elements: str
checked:
  description: How many files were checked.
  returned: always
  type: int
valid:
  description: How many of them are valid.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(
        experiment=dict(type="str", required=True), experiment_dir=dict(type="path"),
        dependency_map=dict(type="dict"), health_checks=dict(type="dict"),
        protected_services=dict(type="list", elements="str"), safe_mode=dict(type="bool", default=False),
        safe_mode_limits=dict(type="dict"), validate_only=dict(type="bool", default=False),
        fail_on_problems=dict(type="bool", default=True)), supports_check_mode=True)
    module.fail_json(msg="chaos_experiment runs as an action plugin on the controller; this file only documents it.")


if __name__ == "__main__":
    main()
