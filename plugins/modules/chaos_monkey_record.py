#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_monkey_record
short_description: Append the chaos monkey's decisions and their outcomes to a host's audit journal
version_added: 0.3.0
description:
  - Writes one line per record to C(audit.jsonl) in O(state_dir), the journal every fault module, the reaper
    and the emergency stop write (M(sutazai.chaos.chaos_audit_info) reads it). The monkey reads these lines
    back at its next tick, for its day's run count per schedule, the last hit of each service
    (C(min_gap)) and the last verdict of each service (risk targeting).
  - O(event=monkey_decision) records what a tick decided for a slot (run or skip, the reason, the roll and
    the picks), O(event=monkey_outcome) the verdict of an experiment the monkey ran.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: In check mode nothing is written; RV(recorded) says how many lines would be.
  diff_mode:
    support: none
    description: An append-only journal has no useful diff.
  idempotent:
    support: none
    description: Every call appends its records again.
options:
  event:
    description: What the records are.
    type: str
    choices: [monkey_decision, monkey_outcome]
    required: true
  records:
    description:
      - The records, each a mapping that the line carries as it is (the decision records of
        M(sutazai.chaos.chaos_monkey), or C({schedule, slot, experiment, target, experiment_id, verdict})).
      - The keys C(time) and C(event) are set by this module.
    type: list
    elements: dict
    required: true
  state_dir:
    description: Folder of the ledger and audit journal on the host.
    type: path
    default: /var/lib/sutazai-chaos
seealso:
  - module: sutazai.chaos.chaos_monkey
  - module: sutazai.chaos.chaos_audit_info
"""

EXAMPLES = r"""
- name: Record the tick's decisions on every Docker host
  sutazai.chaos.chaos_monkey_record:
    event: monkey_decision
    records: "{{ monkey.decisions }}"
"""

RETURN = r"""
recorded:
  description: How many lines were appended (or would be, in check mode).
  returned: always
  type: int
path:
  description: The journal written.
  returned: always
  type: str
"""

from ..module_utils._ledger import DEFAULT_STATE_DIR, Ledger
from ..module_utils._module import build_module, exit_or_fail

OWN_SPEC = dict(
    event=dict(type="str", required=True, choices=["monkey_decision", "monkey_outcome"]),
    records=dict(type="list", elements="dict", required=True),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
)


def main():
    module = build_module(OWN_SPEC, supports_check_mode=True)

    def body():
        ledger = Ledger(module.params["state_dir"])
        records = module.params["records"]
        if not module.check_mode:
            for record in records:
                extra = {k: v for k, v in record.items() if k not in ("time", "event")}
                ledger.audit(module.params["event"], {}, **extra)
        return {"changed": bool(records) and not module.check_mode, "recorded": len(records),
                "path": ledger.audit_path}

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
