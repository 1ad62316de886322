# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: experiment_result
short_description: The result of an experiment, with its verdict, from what the lifecycle gathered
version_added: 0.2.0
description:
  - Time to recover counts from the fault's end for faults with a duration, from the injection for crashes.
  - The verdict is V(PASS) or V(FAIL) for a hypothesis that held or broke, V(ABORTED) when an emergency stop, an
    abort condition or the guard ended the experiment, V(ERROR) when the tool itself failed.
  - This file also holds the filters C(experiment_summary) (the summary lines of a result, every figure rounded),
    C(safe_mode_violations) (every safe-mode limit a fault breaks) and C(metrics_problems) (what a registered
    M(sutazai.chaos.chaos_metrics) task did not send).
options:
  _input:
    description: What the lifecycle gathered (see the role C(sutazai.chaos.experiment)).
    type: dict
    required: true
"""

EXAMPLES = r"""
result: "{{ gathered | sutazai.chaos.experiment_result }}"
summary: "{{ result | sutazai.chaos.experiment_summary('results/x.json') }}"
broken: "{{ 'network_chaos' | sutazai.chaos.safe_mode_violations(args, limits, 1, []) }}"
"""

RETURN = r"""
_value:
  description: The result (experiment_result), lines (experiment_summary) or sentences (safe_mode_violations).
  type: raw
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.sutazai.chaos.plugins.module_utils._lifecycle import experiment_result, metrics_problems, summary_lines
from ansible_collections.sutazai.chaos.plugins.module_utils._safe_mode import violations


def _result(gathered):
    if not isinstance(gathered, dict):
        raise AnsibleFilterError("experiment_result: the input must be a mapping of what the lifecycle gathered")
    return experiment_result(gathered)


def _summary(result, result_path=None, report_path=None):
    if not isinstance(result, dict) or "verdict" not in result:
        raise AnsibleFilterError("experiment_summary: the input must be an experiment_result")
    return summary_lines(result, result_path, report_path)


def _safe_mode_violations(module, args, limits=None, targets=None, protection_lifted=None):
    try:
        return violations(module, args, limits, targets, protection_lifted)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("safe_mode_violations: %s" % exc)


class FilterModule:
    def filters(self):
        return {"experiment_result": _result, "experiment_summary": _summary,
                "safe_mode_violations": _safe_mode_violations, "metrics_problems": metrics_problems}
