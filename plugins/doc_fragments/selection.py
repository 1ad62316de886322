# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of plugins/module_utils/_targets.py SELECTION_ARG_SPEC
    DOCUMENTATION = r"""
options:
  targets:
    description:
      - Which containers may be hit. All given criteria must match (AND); at least one is required, so that
        an empty selector never means every container.
    type: dict
    suboptions:
      names:
        description:
          - Container names, exact or shell globs (V(web-*)). An exact value also matches the container's
            service (see O(targets.services)) or an id prefix of 12 or more characters.
          - An exact name that matches no container at all is an error.
        type: list
        elements: str
      name_regex:
        description: A Python regular expression searched in the container name.
        type: str
      labels:
        description: Labels the container must carry, with these values.
        type: dict
      compose_project:
        description: The compose project (label C(com.docker.compose.project)).
        type: str
      compose_services:
        description: Compose services (label C(com.docker.compose.service)); any of them.
        type: list
        elements: str
      services:
        description:
          - Services; any of them. Every container has one service name, used wherever a service is named
            (O(targets.names), O(exclude), O(protected), results' C(service)).
          - It is its compose service (label C(com.docker.compose.service)), else its C(sutazai.chaos.service)
            label, else its container name. So plain C(docker run) containers have services too.
        type: list
        elements: str
  exclude:
    description: Names, globs or services (see O(targets.services)) never selected (silently skipped).
    type: list
    elements: str
    default: []
  protected:
    description:
      - Names, globs or services (see O(targets.services)) that are protected. Containers labelled
        C(sutazai.chaos.protected=true) are protected too.
      - A protected container matched by a pattern is skipped; naming one exactly is an error.
    type: list
    elements: str
    default: []
  select:
    description: How many of the candidates to hit.
    type: dict
    default: {}
    suboptions:
      mode:
        description:
          - V(all) hits every candidate, V(one) one of them, V(count) O(select.value) of them,
            V(percent) O(select.value) percent of them (rounded down, at least one when above 0).
        type: str
        default: all
        choices: [all, one, count, percent]
      value:
        description: The count (a whole number of at least 1) or the percentage (0 to 100).
        type: float
      seed:
        description: Makes the pick repeatable; the same seed and the same candidates give the same picks.
        type: str
  max_targets:
    description: Blast-radius limit. If the selection is larger, the module fails and changes nothing.
    type: int
  allow_empty:
    description: Accept a selection that matches nothing (by default it is an error).
    type: bool
    default: false
"""
