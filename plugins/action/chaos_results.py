# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention of a results folder, on the controller: list (the default), remove or archive old results."""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.sutazai.chaos.plugins.plugin_utils._action import validated_args
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._report_retention import (
    NOTHING_REMOVED,
    apply_prune,
    archive_target,
    plan_prune,
)
from ansible_collections.sutazai.chaos.plugins.modules.chaos_results import ARGUMENT_SPEC


def retention(args, check_mode=False):
    """The action's answer for validated arguments; ChaosError for the user's mistakes (nothing removed)."""
    plan = plan_prune(args["path"], args["prune_older_than"], args.get("now"))
    files = [{key: row[key] for key in ("file", "path", "kind", "at", "when")} for row in plan["files"]]
    acting = bool(args["apply"]) and not check_mode
    result = {"path": plan["folder"], "files": files, "kept": plan["kept"], "undated": plan["undated"],
              "cutoff": plan["cutoff_text"], "removed": [], "archive": None, "dry_run": not acting,
              "changed": bool(args["apply"]) and bool(files)}
    limit = "%s (before %s)" % (plan["older_than"], plan["cutoff_text"])
    if not acting:
        if args.get("archive") and files:
            archive_target(args["archive"])  # a dry run refuses the archive the real run would refuse
        how = "check mode" if args["apply"] else "dry run; set apply to remove them"
        result["msg"] = "%d file(s) older than %s would go, %d stay (%s)" % (len(files), limit, plan["kept"], how)
        return result
    done = apply_prune(plan, args.get("archive"))
    result.update(removed=done["removed"], archive=done["archive"], changed=bool(done["removed"]))
    result["msg"] = "removed %d file(s) older than %s%s, %d stay" % (
        len(done["removed"]), limit, " after archiving them in %s" % done["archive"] if done["archive"] else "",
        plan["kept"])
    if done["vanished"]:
        result["msg"] += "; %d were gone already: %s" % (len(done["vanished"]), ", ".join(done["vanished"]))
    return result


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args, failed = validated_args(self, ARGUMENT_SPEC, NOTHING_REMOVED)
        if failed:
            result.update(failed)
            return result
        try:
            result.update(retention(args, check_mode=bool(self._task.check_mode)))
        except ChaosError as exc:
            result.update(failed=True, msg=exc.msg, removed=exc.details.get("removed", []))
        return result
