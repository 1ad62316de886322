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
  - It only reads; it writes no file and does not create O(state_dir). It needs root only to read the default
    O(state_dir), which is root's (mode 0700).
  - Audit lines hold what was done (kind, target, spec, experiment id, outcome), never credentials; the
    undo steps (which may name a Docker TLS setup) are not part of them.
  - A line that is not a JSON object (a torn write, a hand edit) is skipped and counted in RV(skipped_lines).
  - The journal is a hash chain. Each line carries in C(prev) the SHA-256 (hex) of the line before it (of its
    bytes, without the newline); the first line of a new journal carries an empty C(prev). Appends hold
    C(audit.lock), so the modules and the reaper writing at once still make one chain. Above 10 MiB the
    journal moves to C(audit.jsonl.1) (older files shift up to C(audit.jsonl.3), the oldest is dropped) and the
    new file starts with a C(journal_rotated) line linked to the last line of the old one; the files are read
    oldest first, as one journal. C(audit.head) holds the hash of the last line written.
  - RV(chain) says whether the chain holds and names the first line where it breaks. This detects a line of
    the journal changed, removed, inserted or reordered, lines cut from its start, and lines cut from its
    end or appended behind its back (by comparison with C(audit.head)). It does not detect a rewrite by
    someone who can write the state folder (root) and recomputes every hash and C(audit.head), lines cut
    from the end when C(audit.head) is removed or rewritten as well, the loss of the whole journal, nor the
    oldest rotated files being removed. Keep a copy elsewhere (a log shipper, or RV(chain) results recorded
    off the host) for that.
  - Lines written before the journal was chained (no C(prev)) are counted as unchained, not as broken, as
    long as they all come before the first chained line.
  - A broken chain is reported and warned about, not an error; the events are returned all the same.
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
  description: The journal read (rotated files, if any, are read before it).
  returned: always
  type: str
chain:
  description: Whether the hash chain over every journal file holds.
  returned: always
  type: dict
  contains:
    verified:
      description: True when every chained line links to the line before it (and the end matches C(audit.head)).
      type: bool
    lines:
      description: Non-blank lines read, in every file.
      type: int
    chained_lines:
      description: Lines checked as links of the chain.
      type: int
    unchained_lines:
      description: Lines written before the journal was chained (no C(prev)), all before the first chained one.
      type: int
    first_broken_line:
      description:
        - Line number (in RV(chain.first_broken_file), from 1) of the first line whose link does not hold; null
          when verified. The change is in that line, in the line before it, or between the two (lines removed).
      type: int
    first_broken_file:
      description: The file of RV(chain.first_broken_line); null when verified.
      type: str
    reason:
      description: What is wrong at that line; null when verified.
      type: str
    files:
      description: The journal files read, oldest first.
      type: list
      elements: str
  sample: {"verified": false, "lines": 9, "chained_lines": 4, "unchained_lines": 0, "first_broken_line": 5,
           "first_broken_file": "/var/lib/sutazai-chaos/audit.jsonl", "files": ["/var/lib/sutazai-chaos/audit.jsonl"],
           "reason": "line 5 of /var/lib/sutazai-chaos/audit.jsonl does not link to the line before it (...)"}
"""

import json

from ..module_utils._audit import read_lines, verify
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

NEVER_SHOWN = ("undo", "prev")  # undo steps belong to the ledger, not the journal; prev is the chain's own


def read_events(lines):
    """(events, skipped) from the journal's lines."""
    events, skipped = [], 0
    for _name, _number, raw in lines:
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
        try:
            lines, files, head = read_lines(params["state_dir"])
        except OSError as exc:
            raise ChaosError("cannot read the audit journal %s: %s" % (path, exc))
        events, skipped = read_events(lines)
        chain = dict(verify(lines, head), files=files)
        if not chain["verified"]:
            module.warn("the audit journal's hash chain is broken: %s" % chain["reason"])
        chosen = [e for e in events if wanted(e, params)]
        matched = len(chosen)
        if params["limit"]:
            chosen = chosen[-params["limit"]:]
        return dict(changed=False, events=chosen, matched=matched, skipped_lines=skipped, path=path, chain=chain)

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
