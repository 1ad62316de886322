# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: impact
short_description: Compare a sample taken during a fault with a baseline sample
version_added: 0.1.0
description:
  - Takes two results of M(sutazai.chaos.health_probe) in V(sample) mode (registered variables), the baseline and
    the one taken during the fault, and returns both summaries and the impact as ratios and differences.
  - A result that is missing or skipped counts as no data (null figures).
positional: during
options:
  _input:
    description: The baseline sample (a registered health_probe result).
    type: dict
    required: true
  during:
    description: The sample taken during the fault.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: How much did the fault hurt?
  ansible.builtin.debug:
    msg: "{{ baseline | sutazai.chaos.impact(during) }}"
  # -> {"baseline": {...}, "during": {...}, "availability_drop": 0.4, "error_rate_increase": 0.3,
  #     "latency_p50_ratio": 3.2, "latency_p95_ratio": 5.1}
"""

RETURN = r"""
_value:
  description:
    - C(baseline) and C(during) (polls, availability, error_rate, latency_ms), C(availability_drop),
      C(error_rate_increase), C(latency_p50_ratio), C(latency_p95_ratio) (null where a figure is missing).
  type: dict
"""

SUMMARY_KEYS = ("polls", "availability", "error_rate", "latency_ms")


def _summary(result):
    result = result if isinstance(result, dict) else {}
    summary = {key: result.get(key) for key in SUMMARY_KEYS}
    summary["latency_ms"] = summary["latency_ms"] or {}
    return summary


def _ratio(during, baseline):
    if during is None or not baseline:
        return None
    return round(during / baseline, 3)


def _difference(first, second):
    if first is None or second is None:
        return None
    return round(first - second, 4)


def impact(baseline_result, during_result):
    baseline, during = _summary(baseline_result), _summary(during_result)
    return {
        "baseline": baseline,
        "during": during,
        "availability_drop": _difference(baseline["availability"], during["availability"]),
        "error_rate_increase": _difference(during["error_rate"], baseline["error_rate"]),
        "latency_p50_ratio": _ratio(during["latency_ms"].get("p50"), baseline["latency_ms"].get("p50")),
        "latency_p95_ratio": _ratio(during["latency_ms"].get("p95"), baseline["latency_ms"].get("p95")),
    }


class FilterModule:
    def filters(self):
        return {"impact": impact}
