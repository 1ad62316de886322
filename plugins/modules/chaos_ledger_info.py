#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_ledger_info
short_description: List the faults active on a host, with their deadlines
version_added: 0.1.0
description:
  - Reads the ledger on the host and returns its active entries (or every entry kept), and whether the
    reaper that expires them is running. Changes nothing.
  - Also returns, in RV(refused), every entry whose undo the reaper (or a rollback) refused to run because it
    is not one of the undo steps this collection writes (a ledger edited by hand, for example). Such an entry
    is never run nor retried; what it would have undone may still be in place and needs a look by hand.
  - When the ledger exists, O(state_dir) must pass the check every fault module applies (owned by root or
    the user the module runs as, writable by nobody else, and so each folder above it, a sticky one such as
    C(/tmp) excepted; not a symbolic link), or the module fails naming what is wrong. A missing folder is
    an empty ledger.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reads only; runs the same in check mode.
  diff_mode:
    support: none
    description: Changes nothing, so there is no diff.
  idempotent:
    support: full
    description: Reads only.
options:
  experiment_id:
    description: Only this experiment's entries.
    type: str
  include_done:
    description: Also return reverted, failed and refused entries still kept in the ledger (the newest 200).
    type: bool
    default: false
  state_dir:
    description: Folder of the ledger on the host.
    type: path
    default: /var/lib/sutazai-chaos
"""

EXAMPLES = r"""
- name: What is still active?
  sutazai.chaos.chaos_ledger_info:
  register: ledger

- name: Nothing of this experiment is left
  ansible.builtin.assert:
    that: ledger.faults | selectattr('experiment_id', 'equalto', experiment_id) | list | length == 0
"""

RETURN = r"""
faults:
  description: Ledger entries (active only unless O(include_done=true)).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Entry id.
      type: str
    experiment_id:
      description: The experiment.
      type: str
    kind:
      description: Fault kind, for example C(container_pause).
      type: str
    target:
      description: What was hit (id, name, compose service).
      type: dict
    state:
      description: V(active), V(reverted), V(failed), V(replaced) or V(refused).
      type: str
    created:
      description: Epoch time of the injection.
      type: float
    deadline:
      description: Epoch time at which the reaper undoes it (null for no deadline).
      type: float
    seconds_left:
      description: Seconds until the deadline (null for no deadline).
      type: float
refused:
  description:
    - Entries whose undo was refused (state V(refused)), with or without O(include_done), filtered by
      O(experiment_id). Their undo steps are not shown; read C(ledger.json) on the host to see them.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Entry id.
      type: str
    kind:
      description: Fault kind.
      type: str
    target:
      description: What was hit.
      type: dict
    refused_reason:
      description: Which undo step was refused and why.
      type: str
      sample: "undo step 1 of container_pause on web refused: program 'touch' is not one this collection runs"
    refused_at:
      description: Epoch time of the refusal.
      type: float
    refused_by:
      description: Who refused it (V(reaper), V(rollback), V(emergency-stop), ...).
      type: str
reaper_running:
  description: Whether a reaper process watches this ledger now.
  returned: always
  type: bool
emergency_stop:
  description: Whether the emergency-stop flag is set on the host.
  returned: always
  type: bool
"""

import time

from ..module_utils._ledger import DEFAULT_STATE_DIR, Ledger, reaper_running
from ..module_utils._module import build_module, exit_or_fail

OWN_SPEC = dict(
    experiment_id=dict(type="str"),
    include_done=dict(type="bool", default=False),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
)


def main():
    module = build_module(OWN_SPEC, supports_check_mode=True)
    params = module.params

    def body():
        ledger = Ledger(params["state_dir"])
        now = time.time()
        faults, refused = [], []
        for entry in ledger.entries(params["experiment_id"], active_only=False):
            entry.pop("undo", None)
            deadline = entry.get("deadline")
            entry["seconds_left"] = None if deadline is None else round(max(0.0, deadline - now), 3)
            if entry.get("state") == "refused":
                refused.append(entry)
            if params["include_done"] or entry.get("state") == "active":
                faults.append(entry)
        return dict(changed=False, faults=faults, refused=refused, reaper_running=reaper_running(params["state_dir"]),
                    emergency_stop=ledger.stop_flag_set())

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
