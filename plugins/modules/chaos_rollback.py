#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_rollback
short_description: Undo the active faults recorded in a host's ledger
version_added: 0.1.0
description:
  - Undoes active ledger entries on the host now, without waiting for their deadlines, using the exact undo
    recorded when each fault was injected. It undoes one experiment's faults, or every fault (the emergency stop).
  - Idempotent; a second run finds nothing to undo and reports C(changed=false).
author:
  - sutazai.chaos maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Lists what would be undone.
  diff_mode:
    support: none
    description: Returns no diff; the result lists what was undone.
  idempotent:
    support: full
    description: A second run finds nothing left to undo and reports C(changed=false).
options:
  experiment_id:
    description: Undo only this experiment's faults. Required unless O(all=true).
    type: str
  all:
    description: Undo every active fault on the host, whatever its experiment.
    type: bool
    default: false
  state_dir:
    description: Folder of the ledger on the host.
    type: path
    default: /var/lib/sutazai-chaos
seealso:
  - module: sutazai.chaos.chaos_ledger_info
"""

EXAMPLES = r"""
- name: Roll back this experiment (in a rescue block)
  sutazai.chaos.chaos_rollback:
    experiment_id: "{{ experiment_id }}"

- name: Emergency stop on this host
  sutazai.chaos.chaos_rollback:
    all: true
"""

RETURN = r"""
reverted:
  description: The entries undone (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"id": "fb74...", "kind": "container_pause", "target": {"name": "sutazai-demo_redis_1"},
            "experiment_id": "demo-1", "outcome": ["done (HTTP 204)"]}]
not_undone:
  description:
    - Entries whose undo failed; they stay active and the reaper retries them at their deadline.
    - (Not named C(failed), which Ansible keeps for the task's own verdict.)
  returned: always
  type: list
  elements: dict
"""

from ..module_utils._common import ChaosError
from ..module_utils._fault import revert_matching
from ..module_utils._ledger import DEFAULT_STATE_DIR
from ..module_utils._module import build_module, exit_or_fail, run_argv_with

OWN_SPEC = dict(
    experiment_id=dict(type="str"),
    all=dict(type="bool", default=False),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
)

SHOWN_FIELDS = ("id", "experiment_id", "kind", "target", "spec", "created", "deadline", "outcome", "last_error")


def main():
    module = build_module(OWN_SPEC, supports_check_mode=True)
    experiment = module.params["experiment_id"]

    def body():
        if (experiment is None) == (not module.params["all"]):
            raise ChaosError("give either experiment_id (one experiment's faults) or all=true (every fault on the "
                             "host), not both and not neither. Nothing was changed.")
        reverted, failed = revert_matching(
            module.params["state_dir"],
            lambda entry: experiment is None or entry.get("experiment_id") == experiment,
            run_argv=run_argv_with(module), check_mode=module.check_mode,
        )
        shown = [{k: e.get(k) for k in SHOWN_FIELDS} for e in reverted]
        not_undone = [{k: e.get(k) for k in SHOWN_FIELDS} for e in failed]
        if failed:
            raise ChaosError("%d fault(s) could not be undone (they stay in the ledger; the reaper retries): %s"
                             % (len(failed), "; ".join(e.get("last_error") or "?" for e in failed)),
                             reverted=shown, not_undone=not_undone, changed=bool(reverted))
        return dict(changed=bool(reverted), reverted=shown, not_undone=[])

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
