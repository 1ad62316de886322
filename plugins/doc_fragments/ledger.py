# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of plugins/module_utils/_fault.py LEDGER_ARG_SPEC
    DOCUMENTATION = r"""
options:
  state_dir:
    description:
      - Folder on the target host that holds the ledger of active faults, the audit log and the reaper.
      - Trusted the way C(sshd) trusts a home folder. It must be a real folder (a symbolic link is refused, not
        followed) owned by root or by the user the module runs as and writable by nobody else, and so must
        every folder above it (a sticky one such as C(/tmp) excepted). Otherwise the module fails naming the
        path and what is wrong, and changes nothing. A missing folder is created with mode 0700.
    type: path
    default: /var/lib/sutazai-chaos
  experiment_id:
    description:
      - The experiment this fault belongs to; M(sutazai.chaos.chaos_rollback) can undo one experiment's faults.
      - When injecting without it, an id C(adhoc-<time>-<random>) is made and returned.
    type: str
"""

    # Options of plugins/module_utils/_fault.py FAULT_LIFETIME_ARG_SPEC
    LIFETIME = r"""
options:
  duration:
    description:
      - Seconds the fault lasts. When it passes, a reaper process on the target host undoes the fault, even
        if the controller, the connection or the playbook is gone.
    type: float
  max_duration:
    description: Upper bound for O(duration), a guard against typos such as minutes given as seconds.
    type: float
    default: 3600.0
"""
