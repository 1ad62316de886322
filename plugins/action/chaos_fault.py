# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one fault module named by data, so that the experiment lifecycle holds no task per fault kind."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.sutazai.chaos.plugins.module_utils._lifecycle import FAULT_RESULT_KEYS, fault_hits


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("module", "args"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        module = self._task.args.get("module")
        args = self._task.args.get("args") or {}
        if module not in FAULT_RESULT_KEYS:
            result.update(failed=True, msg="module must be one of %s, got %r. Nothing was changed."
                          % (", ".join(sorted(FAULT_RESULT_KEYS)), module))
            return result
        if not isinstance(args, dict):
            result.update(failed=True, msg="args must be a mapping of %s options. Nothing was changed." % module)
            return result
        outcome = self._execute_module(module_name="sutazai.chaos." + module, module_args=args,
                                       task_vars=task_vars)
        result.update(outcome)
        result["fault_module"] = module
        result["hits"] = fault_hits(module, outcome)
        return result
