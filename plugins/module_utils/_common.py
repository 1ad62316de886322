# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Errors and small helpers shared by every driver (no Ansible objects)."""

from __future__ import annotations

import os
import time


class ChaosError(Exception):
    """A user-facing failure: the message says what was wrong and what was (not) changed."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


NOTHING_CHANGED = "Nothing was changed."
ADHOC_PREFIX = "adhoc-"


def new_experiment_id():
    """The id of a fault injected without an experiment_id."""
    # os.urandom, not uuid: importing uuid (and platform with it) cost about 15 ms per task
    return "%s%s-%s" % (ADHOC_PREFIX, time.strftime("%Y%m%dT%H%M%S"), os.urandom(3).hex())


def validate_duration(duration, max_duration, required=False, what="duration"):
    """Return the duration as a float (or None) after bounds checks."""
    if duration is None:
        if required:
            raise ChaosError("%s is required for this fault (seconds, above 0). %s" % (what, NOTHING_CHANGED))
        return None
    if duration <= 0:
        raise ChaosError("%s must be above 0 seconds, got %s. %s" % (what, duration, NOTHING_CHANGED))
    if max_duration is not None and duration > max_duration:
        raise ChaosError(
            "%s %s s is above max_duration %s s; raise max_duration to allow it. %s"
            % (what, duration, max_duration, NOTHING_CHANGED)
        )
    return float(duration)
