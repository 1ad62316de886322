# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dependency map (service -> the services it depends on), walked backwards."""

from __future__ import annotations


def dependent_depths(services, dependency_map):
    """{service: distance} for the given services (0) and every service that depends on them, directly or not."""
    depth = {service: 0 for service in services}
    frontier = list(services)
    while frontier:
        reached = []
        for service, needs in sorted(dependency_map.items()):
            if service not in depth and any(n in frontier for n in (needs or [])):
                depth[service] = depth[frontier[0]] + 1
                reached.append(service)
        frontier = reached
    return depth
