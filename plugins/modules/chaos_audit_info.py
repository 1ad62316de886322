#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_audit_info
short_description: Read a host's chaos audit journal (every inject, revert and emergency stop)
version_added: 0.1.0
description:
  - Reads C(audit.jsonl) in O(state_dir), the append-only journal the fault modules, the reaper and
    M(sutazai.chaos.chaos_emergency_stop) write, and returns its events oldest first. Changes nothing.
  - Audit lines hold what was done (kind, target, spec, experiment id, outcome), never credentials; the
    undo steps (which may name a Docker TLS setup) are not part of them.
  - A line that is not a JSON object (a torn write, a hand edit) is skipped and counted in RV(skipped_lines).
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
    description: Only this experiment's events.
    type: str
  kind:
    description: Only events of this fault kind, for example V(container_pause) or V(emergency_stop).
    type: str
  since:
    description: Only events at or after this epoch time (seconds).
    type: float
  limit:
    description: Return at most the newest this many events (after the filters); 0 returns all.
    type: int
    default: 0
  state_dir:
    description: Folder of the ledger and audit journal on the host.
    type: path
    default: /var/lib/sutazai-chaos
seealso:
  - module: sutazai.chaos.chaos_ledger_info
"""

EXAMPLES = r"""
- name: What did experiment demo-1 do?
  sutazai.chaos.chaos_audit_info:
    experiment_id: demo-1
  register: audit

- name: The last 20 events of the past hour
  sutazai.chaos.chaos_audit_info:
    since: "{{ now().timestamp() - 3600 }}"
    limit: 20
"""

RETURN = r"""
events:
  description: Audit events, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"time": 1714644672.1, "event": "inject", "experiment_id": "demo-1", "kind": "container_pause",
            "target": {"name": "sutazai-demo_redis_1"}, "spec": {"action": "pause"}, "deadline": 1714644702.1}]
matched:
  description: How many events passed the filters, before O(limit).
  returned: always
  type: int
skipped_lines:
  description: Lines that could not be read as an event and were skipped.
  returned: always
  type: int
path:
  description: The journal read.
  returned: always
  type: str
"""

import json

from ..module_utils._common import ChaosError
from ..module_utils._ledger import DEFAULT_STATE_DIR, Ledger
from ..module_utils._module import build_module, exit_or_fail

OWN_SPEC = dict(
    experiment_id=dict(type="str"),
    kind=dict(type="str"),
    since=dict(type="float"),
    limit=dict(type="int", default=0),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
)

NEVER_SHOWN = ("undo",)  # defensive: undo steps belong to the ledger, not the journal


def read_events(path):
    """(events, skipped) from a JSON-lines journal; a missing file is an empty journal."""
    events, skipped = [], 0
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return events, skipped
    except OSError as exc:
        raise ChaosError("cannot read the audit journal %s: %s" % (path, exc))
    with handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                event = json.loads(raw.decode("utf-8"))
            except ValueError:
                skipped += 1
                continue
            if not isinstance(event, dict):
                skipped += 1
                continue
            events.append({k: v for k, v in event.items() if k not in NEVER_SHOWN})
    return events, skipped


def wanted(event, params):
    if params["experiment_id"] is not None and event.get("experiment_id") != params["experiment_id"]:
        return False
    if params["kind"] is not None and event.get("kind") != params["kind"]:
        return False
    if params["since"] is not None:
        moment = event.get("time")
        if not isinstance(moment, (int, float)) or moment < params["since"]:
            return False
    return True


def main():
    module = build_module(OWN_SPEC, supports_check_mode=True)
    params = module.params

    def body():
        if params["limit"] < 0:
            raise ChaosError("limit must be 0 (all) or more, got %d" % params["limit"])
        path = Ledger(params["state_dir"]).audit_path  # Ledger refuses a state_dir no folder can have
        events, skipped = read_events(path)
        chosen = [e for e in events if wanted(e, params)]
        matched = len(chosen)
        if params["limit"]:
            chosen = chosen[-params["limit"]:]
        return dict(changed=False, events=chosen, matched=matched, skipped_lines=skipped, path=path)

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
