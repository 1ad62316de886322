#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_emergency_stop
short_description: Stop all chaos on a host - set the emergency-stop flag and undo every active fault
version_added: 0.1.0
description:
  - O(state=present) first sets the emergency-stop flag file in O(state_dir) (recording who set it, when and
    why), so that no fault module injects anything from then on, then undoes every active fault in the
    host's ledger, whatever its experiment, with the undo recorded when it was injected.
  - O(state=absent) clears the flag; faults may be injected again.
  - While the flag is set, every fault module of this collection refuses to inject and changes nothing, and
    M(sutazai.chaos.chaos_guard) reports the host as unsafe.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reports whether the flag would be set or cleared and which faults would be undone.
  diff_mode:
    support: full
    description: Returns the flag before and after.
  idempotent:
    support: full
    description: A flag already set is kept as it is (its first reason stays); nothing left to undo is no change.
options:
  state:
    description: V(present) sets the flag and undoes every active fault; V(absent) clears the flag.
    type: str
    default: present
    choices: [present, absent]
  reason:
    description: Why the stop was called; written into the flag file and returned.
    type: str
    default: emergency stop
  requested_by:
    description: Who called the stop; defaults to the user the module runs as, at the host's name.
    type: str
  state_dir:
    description: Folder of the ledger on the host.
    type: path
    default: /var/lib/sutazai-chaos
seealso:
  - module: sutazai.chaos.chaos_rollback
  - module: sutazai.chaos.chaos_guard
"""

EXAMPLES = r"""
- name: Stop everything on this host now
  sutazai.chaos.chaos_emergency_stop:
    reason: "checkout latency alarm, INC-4711"
  register: stop

- name: Allow chaos again
  sutazai.chaos.chaos_emergency_stop:
    state: absent
"""

RETURN = r"""
flag:
  description: The flag file's content (who, when, why), or null when it is not set.
  returned: always
  type: dict
  sample: {"requested_by": "ops@ctl-1", "time": "2024-05-02T10:11:12+00:00", "reason": "INC-4711", "host": "web1"}
flag_path:
  description: Path of the flag file.
  returned: always
  type: str
reverted:
  description: The faults undone (or that would be, in check mode).
  returned: always
  type: list
  elements: dict
not_undone:
  description: Faults whose undo failed (the module then fails; they stay active and the reaper retries).
  returned: always
  type: list
  elements: dict
elapsed_seconds:
  description: The emergency stop time, from the start of the module's work to the last fault undone.
  returned: always
  type: float
"""

import datetime
import getpass
import json
import os
import socket
import time

from ..module_utils._common import ChaosError
from ..module_utils._ledger import DEFAULT_STATE_DIR, STOP_FLAG, Ledger, LedgerError, revert_entries
from ..module_utils._module import build_module, exit_or_fail, run_argv_with

OWN_SPEC = dict(
    state=dict(type="str", default="present", choices=["present", "absent"]),
    reason=dict(type="str", default="emergency stop"),
    requested_by=dict(type="str"),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
)

SHOWN_FIELDS = ("id", "experiment_id", "kind", "target", "spec", "created", "deadline", "outcome", "last_error")


def read_flag(path):
    if not os.path.exists(path):
        return None
    try:
        with open(path) as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {"reason": str(data)}
    except (OSError, ValueError):
        return {"reason": "(flag file not readable as JSON; set by hand?)"}


def write_flag(ledger, path, content):
    ledger.ensure_dir()
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "w") as handle:
            json.dump(content, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise LedgerError("cannot write the emergency-stop flag %s: %s" % (path, exc))


def main():
    module = build_module(OWN_SPEC, supports_check_mode=True)
    params = module.params
    path = os.path.join(params["state_dir"], STOP_FLAG)

    def stop():
        started = time.monotonic()
        ledger = Ledger(params["state_dir"])
        before = read_flag(path)
        flag = before
        if before is None:
            flag = {"requested_by": params["requested_by"] or "%s@%s" % (getpass.getuser(), socket.gethostname()),
                    "host": socket.gethostname(), "reason": params["reason"],
                    "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
            if not module.check_mode:
                # The flag goes first: from now on no fault module injects, so nothing new races the undo.
                write_flag(ledger, path, flag)
                ledger.audit("emergency_stop", {"kind": "emergency_stop"}, flag=flag)
        if module.check_mode:
            reverted, failed = ledger.entries(), []
        else:
            reverted, failed = revert_entries(ledger, lambda entry: True, "emergency-stop", run_argv_with(module))
        result = dict(changed=before is None or bool(reverted), flag=flag, flag_path=path,
                      reverted=[{k: e.get(k) for k in SHOWN_FIELDS} for e in reverted],
                      not_undone=[{k: e.get(k) for k in SHOWN_FIELDS} for e in failed],
                      elapsed_seconds=round(time.monotonic() - started, 3))
        if module._diff:
            result["diff"] = {"before": {"flag": before}, "after": {"flag": flag}}
        if failed:
            raise ChaosError("the emergency-stop flag is set, but %d fault(s) could not be undone (they stay in "
                             "the ledger; the reaper retries): %s" % (len(failed), "; ".join(
                                 "%s on %s: %s" % (e.get("kind"), (e.get("target") or {}).get("name"),
                                                   e.get("last_error")) for e in failed)), **result)
        return result

    def resume():
        before = read_flag(path)
        if before is not None and not module.check_mode:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise LedgerError("cannot remove the emergency-stop flag %s: %s" % (path, exc))
            Ledger(params["state_dir"]).audit("emergency_stop_cleared", {"kind": "emergency_stop"}, flag=before)
        result = dict(changed=before is not None, flag=None, flag_path=path, reverted=[], not_undone=[],
                      elapsed_seconds=0.0)
        if module._diff:
            result["diff"] = {"before": {"flag": before}, "after": {"flag": None}}
        return result

    exit_or_fail(module, stop if params["state"] == "present" else resume)


if __name__ == "__main__":
    main()
