# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The monkey's calendar: parsers, slots across DST, due slots, and the rrule and cron text of the same slots."""

from __future__ import annotations

import datetime
import itertools

import pytest
from dateutil import tz as dateutil_tz
from dateutil.rrule import rrulestr

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._guard import in_window, parse_window
from ansible_collections.sutazai.chaos.plugins.module_utils._monkey_calendar import (
    blackout_match,
    cron_fields,
    day_bounds,
    due_slot,
    next_slot,
    parse_blackout,
    parse_days,
    parse_duration,
    parse_pattern,
    rrule,
    slots,
    utc_text,
    wall_time,
    zone_of,
)

UTC = datetime.timezone.utc
BERLIN = zone_of("Europe/Berlin")


def at(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def schedule(frequency="daily", hour=2, minute=30, days=None, window_only=False, name="s"):
    return {"name": name, "frequency": frequency, "hour": None if frequency == "hourly" else hour, "minute": minute,
            "days": days, "maintenance_window_only": window_only,
            "schedule_pattern": ":%02d" % minute if frequency == "hourly" else "%02d:%02d" % (hour, minute)}


# ---------------------------------------------------------------- parsers

@pytest.mark.parametrize("value, seconds", [
    (0, 0), (90, 90), ("90", 90), ("90s", 90), ("30m", 1800), ("6h", 21600), ("2d", 172800), ("1h30m", 5400),
    ("1d2h3m4s", 93784), (" 10M ", 600), ("10 m", 600), ("0s", 0),
])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "abc", "1.5h", "h", "10x", "6 hours", "30m6h", "1h30", "²", "-5", True, 1.5, None, [1], -1,
                                   "367d", 366 * 86400 + 1, 10 ** 30])
def test_parse_duration_refuses(value):
    with pytest.raises(ChaosError, match=r"^chaos_monkey\.grace: "):
        parse_duration(value, "chaos_monkey.grace")


@pytest.mark.parametrize("frequency, pattern, expected", [
    ("daily", "02:30", (2, 30)), ("daily", "2:30", (2, 30)), ("weekly", "23:59", (23, 59)), ("weekdays", "00:00", (0, 0)),
    ("hourly", ":15", (None, 15)), ("hourly", "15", (None, 15)), ("hourly", 5, (None, 5)), ("hourly", ":00", (None, 0)),
])
def test_parse_pattern(frequency, pattern, expected):
    assert parse_pattern(frequency, pattern) == expected


@pytest.mark.parametrize("frequency, pattern, message", [
    ("daily", "24:00", "'24:00' is not a time of day HH:MM between 00:00 and 23:59"),
    ("daily", "02:60", "'02:60' is not a time of day"),
    ("daily", "2:3", "'2:3' is not a time of day"),
    ("daily", "half past two", "is not a time of day"),
    ("daily", 150, 'got the number 150; YAML reads an unquoted 02:30 as a number (base 60): quote the time, '
                   'schedule_pattern: "02:30"'),
    ("hourly", "02:30", "an hourly schedule takes the minute past each hour as ':MM' or 'MM', got '02:30'"),
    ("hourly", ":60", "got ':60'"),
    ("daily", None, "missing"),
])
def test_parse_pattern_refuses(frequency, pattern, message):
    with pytest.raises(ChaosError) as caught:
        parse_pattern(frequency, pattern, "p")
    assert caught.value.msg.startswith("p: ") and message in caught.value.msg


@pytest.mark.parametrize("days, expected", [
    (["thu", "Monday"], ["mon", "thu"]), ("fri", ["fri"]), (["sun", "SUN", "sunday"], ["sun"]),
])
def test_parse_days(days, expected):
    assert parse_days(days) == expected


@pytest.mark.parametrize("days", [["funday"], [], None, {"mon": 1}])
def test_parse_days_refuses(days):
    with pytest.raises(ChaosError, match="^d: "):
        parse_days(days, "d")


@pytest.mark.parametrize("text, yearly, start, end", [
    ("12-24..01-01", True, (12, 24), (1, 1)),
    ("02-29", True, (2, 29), (2, 29)),
    (" 07-01 .. 07-31 ", True, (7, 1), (7, 31)),
    ("2026-12-31", False, datetime.date(2026, 12, 31), datetime.date(2026, 12, 31)),
    ("2027-01-05..2027-01-07", False, datetime.date(2027, 1, 5), datetime.date(2027, 1, 7)),
    ("2028-02-29", False, datetime.date(2028, 2, 29), datetime.date(2028, 2, 29)),
])
def test_parse_blackout(text, yearly, start, end):
    parsed = parse_blackout(text)
    assert (parsed["yearly"], parsed["start"], parsed["end"]) == (yearly, start, end)


@pytest.mark.parametrize("text, message", [
    ("13-01", "is not a date: MM-DD (every year) or YYYY-MM-DD (once)"),
    ("02-30", "is not a date"),
    ("2027-02-29", "is not a date"),
    ("12-24..2027-01-01", "is not a date"),
    ("24.12.", "is not a date"),
    ("2027-01-07..2027-01-05", "'2027-01-07..2027-01-05' ends before it starts"),
    ("2026-01-01..2027-06-01", "spans more than 366 days"),
    (20261231, "20261231 is not a date"),
])
def test_parse_blackout_refuses(text, message):
    with pytest.raises(ChaosError) as caught:
        parse_blackout(text, "chaos_monkey.blackout_dates[2]")
    assert caught.value.msg.startswith("chaos_monkey.blackout_dates[2]: ") and message in caught.value.msg


@pytest.mark.parametrize("texts, day, expected", [
    (["12-24..01-01"], datetime.date(2026, 12, 24), "12-24..01-01"),
    (["12-24..01-01"], datetime.date(2026, 12, 31), "12-24..01-01"),
    (["12-24..01-01"], datetime.date(2027, 1, 1), "12-24..01-01"),
    (["12-24..01-01"], datetime.date(2027, 1, 2), None),
    (["12-24..01-01"], datetime.date(2026, 12, 23), None),
    (["02-29"], datetime.date(2028, 2, 29), "02-29"),
    (["02-29"], datetime.date(2027, 2, 28), None),
    (["02-29"], datetime.date(2027, 3, 1), None),
    (["02-28..03-01"], datetime.date(2028, 2, 29), "02-28..03-01"),
    (["02-28..03-01"], datetime.date(2027, 3, 1), "02-28..03-01"),
    (["02-28..03-01"], datetime.date(2027, 3, 2), None),
    (["2026-12-31"], datetime.date(2026, 12, 31), "2026-12-31"),
    (["2026-12-31"], datetime.date(2027, 12, 31), None),
    (["2027-01-05..2027-01-07", "07-04"], datetime.date(2027, 1, 6), "2027-01-05..2027-01-07"),
    (["2027-01-05..2027-01-07", "07-04"], datetime.date(2030, 7, 4), "07-04"),
    ([], datetime.date(2026, 12, 24), None),
])
def test_blackout_match(texts, day, expected):
    assert blackout_match([parse_blackout(text) for text in texts], day) == expected


# ---------------------------------------------------------------- slots

def test_wall_time_skipped_and_repeated():
    assert wall_time(BERLIN, datetime.date(2026, 3, 29), 2, 30) is None          # 02:00-03:00 does not exist
    first = wall_time(BERLIN, datetime.date(2026, 10, 25), 2, 30)                # 02:30 happens twice
    assert first.utcoffset() == datetime.timedelta(hours=2) and utc_text(first) == "2026-10-25T00:30:00Z"


def test_daily_slots_across_both_dst_changes_in_berlin():
    spring = slots(schedule(), at("2026-03-27T00:00:00Z"), at("2026-03-31T00:00:00Z"), "Europe/Berlin")
    assert [s.isoformat() for s in spring] == ["2026-03-27T02:30:00+01:00", "2026-03-28T02:30:00+01:00",
                                               "2026-03-30T02:30:00+02:00"]   # the 29th has no 02:30
    autumn = slots(schedule(), at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z"), "Europe/Berlin")
    assert [utc_text(s) for s in autumn] == ["2026-10-24T00:30:00Z", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]


@pytest.mark.parametrize("day, count", [("2026-03-29", 23), ("2026-10-25", 24), ("2026-06-01", 24)])
def test_hourly_slots_on_dst_days(day, count):
    start, end = day_bounds(datetime.date.fromisoformat(day), "Europe/Berlin")
    found = slots(schedule("hourly", minute=30), start, end, "Europe/Berlin")
    assert len(found) == count
    assert len({s.strftime("%H:%M") for s in found}) == count      # each wall time once


@pytest.mark.parametrize("frequency, days, weekdays", [
    ("daily", None, {0, 1, 2, 3, 4, 5, 6}), ("weekdays", None, {0, 1, 2, 3, 4}), ("weekly", ["mon", "thu"], {0, 3}),
    ("hourly", None, {0, 1, 2, 3, 4, 5, 6}),
])
def test_slots_fall_on_the_schedule_days(frequency, days, weekdays):
    found = slots(schedule(frequency, days=days), at("2026-06-01T00:00:00Z"), at("2026-06-29T00:00:00Z"), BERLIN)
    assert {s.weekday() for s in found} == weekdays
    assert all(s.minute == 30 for s in found)


def test_slots_are_half_open_and_sorted():
    found = slots(schedule(), at("2026-06-01T00:30:00Z"), at("2026-06-03T00:30:00Z"), BERLIN)
    assert [utc_text(s) for s in found] == ["2026-06-01T00:30:00Z", "2026-06-02T00:30:00Z"]


@pytest.mark.parametrize("now, grace, expected", [
    ("2026-06-01T00:30:00Z", 600, "2026-06-01T02:30:00+02:00"),     # at the slot
    ("2026-06-01T00:39:59Z", 600, "2026-06-01T02:30:00+02:00"),     # late, within grace
    ("2026-06-01T00:40:00Z", 600, None),                            # grace over: missed, not caught up
    ("2026-06-01T00:29:59Z", 600, None),                            # before the slot
    ("2026-06-01T00:30:00Z", 0, None),
    ("2026-06-01T06:00:00Z", 6 * 3600, "2026-06-01T02:30:00+02:00"),
    ("2026-03-29T01:35:00Z", 3600, None),                           # 03:35 CEST; 02:30 did not exist today
])
def test_due_slot(now, grace, expected):
    found = due_slot(schedule(), at(now), grace, "Europe/Berlin")
    assert (found.isoformat() if found else None) == expected


def test_due_slot_hourly_takes_the_latest():
    found = due_slot(schedule("hourly", minute=30), at("2026-06-01T01:35:00Z"), 2 * 3600, BERLIN)
    assert found.isoformat() == "2026-06-01T03:30:00+02:00"


def test_next_slot():
    assert next_slot(schedule("weekly", days=["thu"]), at("2026-06-01T00:00:00Z"), BERLIN).isoformat() == \
        "2026-06-04T02:30:00+02:00"
    assert next_slot(schedule(), at("2026-06-01T00:30:00Z"), BERLIN).isoformat() == "2026-06-02T02:30:00+02:00"


@pytest.mark.parametrize("day, hours", [("2026-03-29", 23), ("2026-10-25", 25), ("2026-06-01", 24)])
def test_day_bounds(day, hours):
    start, end = day_bounds(datetime.date.fromisoformat(day), "Europe/Berlin")
    assert (end - start) == datetime.timedelta(hours=hours)
    assert start.astimezone(BERLIN).strftime("%H:%M") == "00:00"


# ---------------------------------------------------------------- rrule

WEEKNIGHTS = [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "01:00", "end": "04:00",
               "timezone": "Europe/Berlin"}]
UTC_WINDOW = [{"days": ["mon", "thu"], "start": "01:00", "end": "02:00", "timezone": "UTC"}]
BLACKOUTS = ["12-24..01-01", "2026-12-31", "2027-01-05..2027-01-07", "02-29", "03-29"]
CASES = {
    "weekly window-only": (schedule("weekly", days=["mon", "thu"], window_only=True), WEEKNIGHTS),
    "daily 02:30": (schedule(), []),
    "weekdays 23:15": (schedule("weekdays", 23, 15), []),
    "hourly window-only": (schedule("hourly", minute=15, window_only=True), WEEKNIGHTS),
    "hourly": (schedule("hourly", minute=45), []),
}
DTSTARTS = ["2026-12-20T00:00:00", "2026-03-25T12:00:00", "2026-10-20T00:00:00", "2027-02-26T00:00:00"]


def config(windows, blackouts=None, timezone="Europe/Berlin"):
    return {"timezone": timezone, "maintenance_windows": windows,
            "blackout_dates": BLACKOUTS if blackouts is None else blackouts}


def allowed(sched, conf, start, end):
    """The slots that the rrule must produce: the schedule's own, outside blackout dates, inside a window."""
    zone = zone_of(conf["timezone"])
    windows = [parse_window(w, i) for i, w in enumerate(conf["maintenance_windows"])]
    blackouts = [parse_blackout(b) for b in conf["blackout_dates"]]
    return [s for s in slots(sched, start, end, zone) if not blackout_match(blackouts, s.date())
            and (not sched["maintenance_window_only"] or any(in_window(w, s) for w in windows))]


def occurrences(text, count=50):
    """The next ``count`` occurrences dateutil reads from the text, in UTC, without the wall times DST skips
    (AWX may launch those; the tick then finds no slot due)."""
    found = []
    for moment in itertools.islice(rrulestr(text, forceset=True), count):
        if dateutil_tz.datetime_exists(moment):
            found.append(moment.astimezone(UTC))
    return found


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtstart", DTSTARTS)
def test_rrule_round_trip_matches_the_slots(case, dtstart):
    sched, windows = CASES[case]
    conf = config(windows)
    start = datetime.datetime.fromisoformat(dtstart).replace(tzinfo=BERLIN)
    text = rrule(sched, conf, start)
    found = occurrences(text)
    assert len(found) >= 45
    expected = allowed(sched, conf, start, found[-1] + datetime.timedelta(seconds=1))
    assert found == [s.astimezone(UTC) for s in expected]
    blackouts = [parse_blackout(b) for b in BLACKOUTS]
    parsed_windows = [parse_window(w, i) for i, w in enumerate(windows)]
    for moment in found:
        assert blackout_match(blackouts, moment.astimezone(BERLIN).date()) is None
        if sched["maintenance_window_only"]:
            assert any(in_window(w, moment) for w in parsed_windows)


def test_rrule_text():
    sched = schedule("weekly", days=["mon", "thu"], window_only=True)
    text = rrule(sched, config(WEEKNIGHTS, ["12-24..01-01", "2026-12-31", "2027-01-05..2027-01-07"]),
                 datetime.datetime(2026, 12, 1, tzinfo=BERLIN))
    assert text.split(" ") == [
        "DTSTART;TZID=Europe/Berlin:20261201T000000",
        "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TH;BYHOUR=2;BYMINUTE=30;BYSECOND=0",
        "EXRULE:FREQ=YEARLY;INTERVAL=1;BYMONTH=1;BYMONTHDAY=1;BYHOUR=2;BYMINUTE=30;BYSECOND=0",
        "EXRULE:FREQ=YEARLY;INTERVAL=1;BYMONTH=12;BYMONTHDAY=24,25,26,27,28,29,30,31;BYHOUR=2;BYMINUTE=30;"
        "BYSECOND=0",
        "EXRULE:FREQ=YEARLY;INTERVAL=1;COUNT=1;BYMONTH=12;BYMONTHDAY=31;BYHOUR=2;BYMINUTE=30;BYSECOND=0",
        "EXRULE:FREQ=YEARLY;INTERVAL=1;COUNT=1;BYMONTH=1;BYMONTHDAY=7;BYHOUR=2;BYMINUTE=30;BYSECOND=0",
    ]
    assert all("INTERVAL=1;" in part for part in text.split(" ")[1:]), "AWX requires INTERVAL in every rule"
    assert "EXDATE" not in text, "AWX refuses EXDATE"


def test_a_one_off_blackout_more_than_a_year_after_dtstart_is_left_to_the_tick():
    text = rrule(schedule(), config([], ["2028-07-04"]), datetime.date(2026, 6, 1))
    assert "EXRULE" not in text  # the tick skips that date (blackout check); AWX may launch a job then


def test_rrule_groups_weekdays_with_the_same_hours():
    windows = [{"days": ["mon", "tue"], "start": "01:00", "end": "03:00", "timezone": "Europe/Berlin"},
               {"days": ["sat"], "start": "10:00", "end": "11:00", "timezone": "Europe/Berlin"}]
    text = rrule(schedule("hourly", minute=0, window_only=True), config(windows, []), datetime.date(2026, 6, 1))
    assert text.split(" ")[1:] == ["RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU;BYHOUR=1,2;BYMINUTE=0;BYSECOND=0",
                                   "RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=SA;BYHOUR=10;BYMINUTE=0;BYSECOND=0"]


def test_rrule_in_utc():
    text = rrule(schedule(), config([], [], "UTC"), datetime.datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    assert text == "DTSTART;TZID=UTC:20260601T120000 RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=MO,TU,WE,TH,FR,SA,SU;" \
                   "BYHOUR=2;BYMINUTE=30;BYSECOND=0"


def test_rrule_with_a_window_in_another_zone_is_a_superset():
    """A UTC window holds the Berlin 02:30 slot in winter only (01:30 UTC); the rrule keeps it all year and the
    tick judges each slot: every allowed slot is launched, and the others are the summer ones."""
    sched, conf = schedule("weekly", days=["mon", "thu"], window_only=True), config(UTC_WINDOW, [])
    start = datetime.datetime(2026, 3, 1, tzinfo=BERLIN)
    found = occurrences(rrule(sched, conf, start), 60)
    expected = [s.astimezone(UTC) for s in allowed(sched, conf, start, found[-1] + datetime.timedelta(seconds=1))]
    assert set(expected) < set(found)
    assert all(m.astimezone(BERLIN).utcoffset() == datetime.timedelta(hours=2) for m in set(found) - set(expected))


def test_rrule_without_any_slot_in_a_window():
    windows = [{"days": ["sun"], "start": "10:00", "end": "11:00", "timezone": "Europe/Berlin"}]
    with pytest.raises(ChaosError, match="schedule s has no slot inside its maintenance windows"):
        rrule(schedule(window_only=True), config(windows), datetime.date(2026, 1, 1))


# ---------------------------------------------------------------- cron

@pytest.mark.parametrize("sched, timezone, fields", [
    (schedule(), "Europe/Berlin", {"minute": "30", "hour": "0,1", "weekday": "*"}),
    (schedule(), "UTC", {"minute": "30", "hour": "2", "weekday": "*"}),
    (schedule("weekly", 0, 30, ["mon"]), "Europe/Berlin", {"minute": "30", "hour": "22,23", "weekday": "0"}),
    (schedule("weekdays", 9, 0), "America/New_York", {"minute": "0", "hour": "13,14", "weekday": "1,2,3,4,5"}),
    (schedule("daily", 2, 0), "Asia/Kolkata", {"minute": "30", "hour": "20", "weekday": "*"}),
    (schedule("hourly", minute=15), "Europe/Berlin", {"minute": "15", "hour": "*", "weekday": "*"}),
    (schedule("hourly", minute=15), "Asia/Kathmandu", {"minute": "30", "hour": "*", "weekday": "*"}),
])
def test_cron_fields(sched, timezone, fields):
    assert cron_fields(sched, {"timezone": timezone}, at("2026-01-15T00:00:00Z")) == dict(fields, day="*", month="*")


def _matches(fields, moment):
    def hit(field, value):
        return field == "*" or value in {int(part) for part in field.split(",")}
    return hit(fields["minute"], moment.minute) and hit(fields["hour"], moment.hour) and \
        hit(fields["weekday"], (moment.weekday() + 1) % 7)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("timezone", ["Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe"])
def test_cron_is_a_superset_of_every_slot(case, timezone):
    sched = CASES[case][0]
    start = at("2026-05-01T00:00:00Z")
    fields = cron_fields(sched, {"timezone": timezone}, start)
    found = slots(sched, start, start + datetime.timedelta(days=366), timezone)
    assert found and all(_matches(fields, s.astimezone(UTC)) for s in found)


def test_cron_in_another_zone():
    fields = cron_fields(schedule(), {"timezone": "Europe/Berlin"}, at("2026-01-15T00:00:00Z"),
                         cron_zone="America/New_York")
    # 6 hours apart most of the year, 5 in the weeks when New York has changed its clock and Berlin not yet
    assert (fields["minute"], fields["hour"], fields["weekday"]) == ("30", "20,21", "*")
