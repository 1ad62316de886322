# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import signal

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import NOTHING_CHANGED, ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._container import parse_signal


@pytest.mark.parametrize(
    "value, expected",
    [
        ("SIGKILL", signal.SIGKILL),
        ("KILL", signal.SIGKILL),
        ("kill", signal.SIGKILL),
        ("sigterm", signal.SIGTERM),
        ("  TERM  ", signal.SIGTERM),
        ("9", signal.SIGKILL),
        (9, signal.SIGKILL),
        (15, signal.SIGTERM),
        ("HUP", signal.SIGHUP),
        ("SIGUSR1", signal.SIGUSR1),
        ("int", signal.SIGINT),
    ],
)
def test_parse_signal_accepts(value, expected):
    result = parse_signal(value)
    assert result == expected
    assert isinstance(result, signal.Signals)


@pytest.mark.parametrize("value", ["SIGNOPE", "nope", "", "999", "-9", "9.0", "SIG", None])
def test_parse_signal_rejects(value):
    with pytest.raises(ChaosError) as info:
        parse_signal(value)
    assert "is not a known signal" in info.value.msg
    assert NOTHING_CHANGED in info.value.msg
