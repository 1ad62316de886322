# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the collection's action plugins (they run on the controller) share."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail


def validated_args(action, argument_spec, nothing, **constraints):
    """``(args, None)`` for valid task arguments, else ``(None, failed result)``: the validation's message and
    ``nothing`` (what was therefore not done, e.g. "Nothing was written.")."""
    try:
        dummy, args = action.validate_argument_spec(argument_spec=argument_spec, **constraints)
    except AnsibleActionFail as exc:
        return None, {"failed": True, "msg": "%s. %s" % (exc.message.rstrip("."), nothing)}
    return args, None
