# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Puts ``_fuzz_harness`` on the path and prints how many inputs the fuzz tests tried per module."""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))


def pytest_terminal_summary(terminalreporter):
    harness = sys.modules.get("_fuzz_harness")
    if harness is None or not harness.COUNTS:
        return
    terminalreporter.section("fuzzed module arguments")
    for line in harness.summary_lines():
        terminalreporter.write_line(line)
