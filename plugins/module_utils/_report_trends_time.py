# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Times of results and of the files beside them, for the trend page and retention. Pure Python.

Ages and dates given by people ('7d', '12h', '4w', '2026-11-30') are read by _report_load.since_epoch, the one
parser the reports share.
"""

from __future__ import annotations

import datetime
import re
import time

from ._common import ChaosError
from ._report_load import started_at

# The lifecycle's experiment ids end in the UTC second of the run and six hex digits
# (<label>-20261130T225301-e4420c); a journal is named journal-20261201T061500Z-3f9a1c.json.
_NAME_STAMP = re.compile(r"(?:^journal-|-)(\d{8}T\d{6})Z?-[0-9a-f]{6}$", re.ASCII)
_SUFFIXES = (".vault", ".json", ".html", ".md")


def now_epoch(now=None):
    """The reference time: None (the clock), epoch seconds, or ISO 8601 text (no offset: UTC)."""
    if now is None or now == "":
        return time.time()
    if isinstance(now, (int, float)) and not isinstance(now, bool):
        return float(now)
    text = str(now).strip()
    try:
        moment = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise ChaosError("now %r is not an ISO 8601 timestamp such as 2026-12-01T06:00:00Z" % (now,)) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=datetime.timezone.utc)).timestamp()


def name_stamp(name):
    """The UTC time in an experiment id, or in a result, report or journal file named after one; else None."""
    stem = str(name or "")
    for suffix in _SUFFIXES:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    match = _NAME_STAMP.search(stem)
    if not match:
        return None
    try:
        stamp = datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%S")
    except ValueError:
        return None
    return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()


def run_time(result):
    """When a result's experiment ran: its injection (or first observation), else the time in its id; or None."""
    if not isinstance(result, dict):
        return None
    moment = started_at(result)
    return moment if moment is not None else name_stamp(result.get("experiment_id"))


def utc_text(epoch):
    """1796079190.47 -> '2026-11-30 22:53 UTC' (beyond the calendar: the epoch itself)"""
    try:
        return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, ValueError, OSError):
        return "epoch %.0f" % epoch


def iso_week(epoch):
    """The ISO week (UTC) of a moment: '2026-W49'."""
    year, week, dummy = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).isocalendar()
    return "%04d-W%02d" % (year, week)


def next_iso_week(week):
    """'2026-W52' -> '2026-W53' or '2027-W01', as the calendar has it."""
    monday = datetime.date.fromisocalendar(int(week[:4]), int(week[6:]), 1) + datetime.timedelta(days=7)
    year, number, dummy = monday.isocalendar()
    return "%04d-W%02d" % (year, number)
