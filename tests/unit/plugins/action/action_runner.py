# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one of the collection's action plugins the way Ansible would, without a play (for unit tests)."""

from __future__ import annotations

from unittest import mock


def run_action(action_class, name, check_mode=False, task_vars=None, **args):
    """``action_class(...).run()`` for a task ``sutazai.chaos.<name>`` with ``args``; returns its result."""
    task = mock.MagicMock(args=args, async_val=0, check_mode=check_mode, action="sutazai.chaos.%s" % name)
    connection = mock.MagicMock()
    connection._shell.tmpdir = "/tmp/unused"
    action = action_class(task, connection, mock.MagicMock(), loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars=task_vars or {})
