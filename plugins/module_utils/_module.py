# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The thin layer between drivers and AnsibleModule: merged specs, errors to fail_json."""

from __future__ import annotations

import math

from ansible.module_utils.basic import AnsibleModule

from ._common import NOTHING_CHANGED, ChaosError
from ._docker import DOCKER_IMPORT_ERROR, HAS_DOCKER, missing_sdk_message
from ._ledger import LedgerError


def build_module(own_spec, *shared_specs, needs_docker=False, **kwargs):
    """An AnsibleModule whose spec is the module's own options plus the shared option sets."""
    spec = {}
    for shared in shared_specs:
        spec.update(shared)
    spec.update(own_spec)
    module = AnsibleModule(argument_spec=spec, **kwargs)
    not_finite = list(_non_finite(module.params))
    if not_finite:
        module.fail_json(msg="%s must be finite numbers (NaN and infinity mean nothing here). %s"
                         % (", ".join(not_finite), NOTHING_CHANGED))
    if needs_docker and not HAS_DOCKER:
        module.fail_json(msg=missing_sdk_message(), exception=DOCKER_IMPORT_ERROR)
    return module


def _non_finite(value, path=""):
    """Paths of float values that are NaN or infinite, anywhere in the parameters."""
    if isinstance(value, float) and not math.isfinite(value):
        yield path or "value"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _non_finite(item, "%s.%s" % (path, key) if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_finite(item, "%s[%d]" % (path, index))


def run_argv_with(module):
    """A ``run_argv(argv) -> (rc, out, err)`` for ledger undo steps, through run_command."""
    def run_argv(argv):
        return module.run_command(argv, environ_update={"LC_ALL": "C"})
    return run_argv


def exit_or_fail(module, body):
    """Run ``body()`` (returns the result dict); a ChaosError or LedgerError becomes fail_json."""
    try:
        result = body()
    except ChaosError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except LedgerError as exc:
        module.fail_json(msg="ledger: %s" % exc.msg)
    module.exit_json(**result)


def inject_all(module, txn, inject, after, changed_only=False):
    """Run ``inject()`` (a driver's inject over every target, returning its ``faults``); when it fails, roll back
    what this call applied and say so. Returns the module's result, with a diff (target -> what it had before,
    ``replaced``, and ``after``) in diff mode."""
    try:
        faults = inject()
    except ChaosError as exc:
        raise ChaosError(txn.rollback_after(exc.msg))
    result = dict(changed=any(f["changed"] for f in faults), faults=faults, experiment_id=txn.experiment_id)
    if module._diff:
        shown = [f for f in faults if f["changed"] or not changed_only]
        result["diff"] = {"before": {f["target"]: f["replaced"] for f in shown},
                          "after": {f["target"]: after for f in shown}}
    return result
