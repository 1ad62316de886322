# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import re

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import (
    NOTHING_CHANGED,
    ChaosError,
    new_experiment_id,
    validate_duration,
)


@pytest.mark.parametrize(
    "duration, max_duration, required, expected",
    [
        (None, 60, False, None),
        (1, 60, False, 1.0),
        (0.5, None, False, 0.5),
        (60, 60, True, 60.0),
        (3600, None, True, 3600.0),
    ],
)
def test_validate_duration_accepts(duration, max_duration, required, expected):
    result = validate_duration(duration, max_duration, required=required)
    assert result == expected
    assert result is None or isinstance(result, float)


@pytest.mark.parametrize(
    "duration, max_duration, required, fragment",
    [
        (None, 60, True, "is required"),
        (0, 60, False, "must be above 0"),
        (-5, 60, False, "must be above 0"),
        (61, 60, False, "above max_duration 60"),
    ],
)
def test_validate_duration_rejects(duration, max_duration, required, fragment):
    with pytest.raises(ChaosError) as info:
        validate_duration(duration, max_duration, required=required)
    assert fragment in info.value.msg
    assert info.value.msg.endswith(NOTHING_CHANGED)


def test_validate_duration_names_the_option():
    with pytest.raises(ChaosError, match="^hold_for must be above 0"):
        validate_duration(0, None, what="hold_for")


def test_chaos_error_keeps_details():
    exc = ChaosError("boom", results=[1], extra="x")
    assert str(exc) == "boom"
    assert exc.msg == "boom"
    assert exc.details == {"results": [1], "extra": "x"}


def test_new_experiment_id_shape_and_uniqueness():
    first, second = new_experiment_id(), new_experiment_id()
    assert re.match(r"^adhoc-\d{8}T\d{6}-[0-9a-f]{6}$", first)
    assert first != second
    assert new_experiment_id().startswith("adhoc-")
