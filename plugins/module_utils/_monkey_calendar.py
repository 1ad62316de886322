# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos monkey's calendar: durations, blackout dates, the slots a schedule fires, and the same
slots as AWX rrule text and as ansible.builtin.cron fields.

A schedule here is a normalized one (``_monkey.validate_config``): ``frequency``, ``days`` (short day
names, weekly only), ``hour`` (None for hourly) and ``minute``. Slots are wall-clock times in the
monkey's time zone: a wall time that a DST change skips does not occur; a repeated one occurs once,
the first time. Pure Python, no Ansible.
"""

from __future__ import annotations

import datetime
import re

from ._catalogue import _nearest
from ._common import ChaosError
from ._guard import DAY_ALIASES, DAYS, day_numbers, in_window, load_zone, parse_window

UTC = datetime.timezone.utc
FREQUENCIES = ("hourly", "daily", "weekdays", "weekly")
RRULE_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_ONE_OFF_DAYS = 366
MAX_DURATION = 366 * 86400
# days, hours, minutes, seconds; or a bare number of seconds (1h30 is refused: 1h30m or 1h30s?)
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$|^(\d+)$", re.ASCII)
_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")
_DATE = re.compile(r"^(\d{4})-(\d\d)-(\d\d)$")
_MINUTE = re.compile(r"^:?([0-5]?\d)$")
_HOUR_MINUTE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
WINDOW_KEYS = ("days", "start", "end", "timezone")


# ---------------------------------------------------------------- parsers

def parse_duration(value, where="duration"):
    """90, '90', '90s', '30m', '6h', '2d', '1h30m' -> seconds (int, 0 to 366 days)."""
    text = value.strip().lower().replace(" ", "") if isinstance(value, str) else ""
    match = _DURATION.match(text) if text else None
    if isinstance(value, bool) or not (isinstance(value, int) or match):
        raise ChaosError("%s: %r is not a duration (seconds as a number, or text such as 90s, 30m, 6h, 2d, 1h30m)"
                         % (where, value))
    if isinstance(value, int):
        seconds = value
    else:
        days, hours, minutes, seconds, bare = (int(part or 0) for part in match.groups())
        seconds += ((days * 24 + hours) * 60 + minutes) * 60 + bare
    if not 0 <= seconds <= MAX_DURATION:
        raise ChaosError("%s: must be between 0 and %d seconds (366 days), got %r" % (where, MAX_DURATION, value))
    return seconds


def parse_pattern(frequency, pattern, where="schedule_pattern"):
    """(hour, minute) of a schedule; hour is None for hourly ones (':MM' or 'MM')."""
    if isinstance(pattern, bool) or pattern is None:
        raise ChaosError("%s: missing (HH:MM, or :MM for hourly schedules)" % where)
    if frequency == "hourly":
        match = _MINUTE.match(str(pattern).strip())
        if not match:
            raise ChaosError("%s: an hourly schedule takes the minute past each hour as ':MM' or 'MM', got %r"
                             % (where, pattern))
        return None, int(match.group(1))
    if isinstance(pattern, int):
        raise ChaosError("%s: got the number %d; YAML reads an unquoted 02:30 as a number (base 60): quote the time, "
                         "schedule_pattern: \"%02d:%02d\"" % (where, pattern, pattern // 60 % 24, pattern % 60))
    match = _HOUR_MINUTE.match(str(pattern).strip())
    if not match:
        raise ChaosError("%s: %r is not a time of day HH:MM between 00:00 and 23:59" % (where, pattern))
    return int(match.group(1)), int(match.group(2))


def parse_days(days, where="days"):
    """Day names (mon, Monday, ...) -> short names in week order."""
    if isinstance(days, str):
        days = [days]
    if not isinstance(days, list) or not days:
        raise ChaosError("%s: must be a non-empty list of days (%s)" % (where, ", ".join(DAYS)))
    return [DAYS[number] for number in sorted(day_numbers(days, where))]


def _month_day(text):
    match = _MONTH_DAY.match(text)
    if not match:
        return None
    month, day = int(match.group(1)), int(match.group(2))
    try:
        datetime.date(2000, month, day)  # a leap year: 02-29 is a day of the calendar
    except ValueError:
        return None
    return month, day


def _date(text):
    match = _DATE.match(text)
    if not match:
        return None
    try:
        return datetime.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def parse_blackout(value, where="blackout_dates[0]"):
    """'12-24..01-01' (yearly, may wrap the year), '02-29', '2026-12-31', '2027-01-05..2027-01-07'.

    -> {"text", "yearly": bool, "start", "end"}: (month, day) pairs when yearly, dates otherwise.
    """
    if not isinstance(value, str):
        raise ChaosError("%s: %r is not a date: MM-DD or YYYY-MM-DD, or a range of either with '..'" % (where, value))
    text = value.strip()
    first, _sep, last = text.partition("..")
    if not last:
        last = first
    for parse, yearly in ((_month_day, True), (_date, False)):
        start, end = parse(first.strip()), parse(last.strip())
        if start is not None and end is not None:
            if not yearly and end < start:
                raise ChaosError("%s: %r ends before it starts" % (where, value))
            if not yearly and (end - start).days >= MAX_ONE_OFF_DAYS:
                raise ChaosError("%s: %r spans more than %d days; use a yearly MM-DD range, or disable the schedule"
                                 % (where, value, MAX_ONE_OFF_DAYS))
            return {"text": text, "yearly": yearly, "start": start, "end": end}
    raise ChaosError("%s: %r is not a date: MM-DD (every year) or YYYY-MM-DD (once), or a range of the same kind "
                     "such as 12-24..01-01 or 2027-01-05..2027-01-07" % (where, value))


def blackout_match(blackouts, day):
    """The text of the first parsed blackout that holds the local date ``day``, else None."""
    for blackout in blackouts:
        if blackout["yearly"]:
            key, start, end = (day.month, day.day), blackout["start"], blackout["end"]
            inside = start <= key <= end if start <= end else (key >= start or key <= end)
        else:
            inside = blackout["start"] <= day <= blackout["end"]
        if inside:
            return blackout["text"]
    return None


def zone_of(timezone):
    """A time zone name (or a tzinfo, passed through) -> tzinfo."""
    if isinstance(timezone, datetime.tzinfo):
        return timezone
    return load_zone(timezone or "UTC", "timezone")


def parsed_calendar(config):
    """The tz, parsed windows and parsed blackouts of a normalized config."""
    return {"zone": zone_of(config.get("timezone")),
            "windows": [parse_window(w, i) for i, w in enumerate(config.get("maintenance_windows") or [])],
            "blackouts": [parse_blackout(b) for b in config.get("blackout_dates") or []]}


# ---------------------------------------------------------------- validation of the calendar's keys

def collect(parser, problems, *args):
    """parser(*args), or None with its ChaosError's message added to problems."""
    try:
        return parser(*args)
    except ChaosError as exc:
        problems.append(exc.msg)
        return None


def unknown_keys(data, known, where, problems):
    for key in data:
        if key not in known:
            problems.append("%s.%s: unknown key%s; known: %s"
                            % (where, key, _nearest(key, known), ", ".join(sorted(known))))


def check_calendar(out, root, problems):
    """timezone, grace, blackout_dates and maintenance_windows of a config (normalized in place)
    -> {zone, windows, windows_given} for the schedules' checks."""
    parsed = {"zone": None, "windows": []}
    if not isinstance(out["timezone"], str):
        problems.append("%s.timezone: %r is not a time zone name" % (root, out["timezone"]))
    else:
        parsed["zone"] = collect(load_zone, problems, out["timezone"], root + ".timezone:")
    out["grace"] = collect(parse_duration, problems, out["grace"], root + ".grace")
    if out["grace"] == 0:
        problems.append("%s.grace: must be above 0 (a tick later than grace after a slot misses it)" % root)
    dates = [out["blackout_dates"]] if isinstance(out["blackout_dates"], str) else out["blackout_dates"]
    if not isinstance(dates, list):
        problems.append("%s.blackout_dates: must be a list of dates, got %r" % (root, dates))
        dates = []
    for index, text in enumerate(dates):
        collect(parse_blackout, problems, text, "%s.blackout_dates[%d]" % (root, index))
    out["blackout_dates"] = [text.strip() if isinstance(text, str) else text for text in dates]
    windows = out["maintenance_windows"]
    if not isinstance(windows, list):
        problems.append("%s.maintenance_windows: must be a list of windows, got %r" % (root, windows))
        windows = []
    out["maintenance_windows"], parsed["windows_given"] = list(windows), len(windows)
    for index, window in enumerate(windows):
        where = "%s.maintenance_windows[%d]" % (root, index)
        if isinstance(window, dict):
            unknown_keys(window, WINDOW_KEYS, where, problems)
            wrong = [key for key, kinds in (("days", (str, list)), ("timezone", (str,))) if window.get(key) is not None
                     and not isinstance(window[key], kinds)]
            if wrong:
                problems += ["%s.%s: %r is not %s" % (where, key, window[key], "a list of days" if key == "days" else
                                                      "a time zone name") for key in wrong]
                continue
        try:
            parsed["windows"].append(parse_window(window, index))
        except ChaosError as exc:
            problems.append("%s.%s" % (root, exc.msg))
    return parsed


def check_schedule_calendar(data, out, where, parsed, problems, root):
    """frequency, days, schedule_pattern and min_gap of a schedule (into ``out``), and whether a
    maintenance_window_only schedule has any slot inside a window."""
    frequency = out["frequency"] = data.get("frequency")
    if frequency is not None and frequency not in FREQUENCIES:
        problems.append("%s.frequency: %r is not one of %s%s"
                        % (where, frequency, ", ".join(FREQUENCIES), _nearest(frequency, FREQUENCIES)))
    if frequency == "weekly" and data.get("days") in (None, []):
        problems.append("%s.days: missing (required for weekly schedules: the days it fires, e.g. [mon, thu])" % where)
    elif frequency == "weekly":
        out["days"] = collect(parse_days, problems, data["days"], where + ".days")
    elif data.get("days") is not None and frequency in FREQUENCIES:
        problems.append("%s.days: only weekly schedules take days; a %s schedule fires %s"
                        % (where, frequency, "Monday to Friday" if frequency == "weekdays" else "every day"))
    out["schedule_pattern"], out["hour"], out["minute"] = data.get("schedule_pattern"), None, None
    if frequency in FREQUENCIES and data.get("schedule_pattern") not in (None, ""):
        found = collect(parse_pattern, problems, frequency, data["schedule_pattern"], where + ".schedule_pattern")
        out["hour"], out["minute"] = found or (None, None)
    if data.get("min_gap") is not None:
        out["min_gap"] = collect(parse_duration, problems, data["min_gap"], where + ".min_gap")
    if not out.get("maintenance_window_only"):
        return
    if not parsed["windows_given"]:
        problems.append("%s.maintenance_window_only: true, but %s.maintenance_windows is empty: the schedule could "
                        "never run" % (where, root))
    elif (len(parsed["windows"]) == parsed["windows_given"] and parsed["zone"] and out["minute"] is not None
          and (frequency != "weekly" or out["days"])):
        reference = datetime.datetime(2024, 1, 1, tzinfo=UTC)  # 53 weeks: both DST changes
        if not week_hours(out, parsed["zone"], parsed["windows"], reference, True):
            problems.append("%s: no slot of it (%s %s) is ever inside a maintenance window (%s): it could never run"
                            % (where, frequency, out["schedule_pattern"],
                               "; ".join(w["text"] for w in parsed["windows"])))


# ---------------------------------------------------------------- slots

def utc_text(moment):
    """An aware datetime as UTC ISO 8601 to the second: 2026-03-01T01:30:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def wall_time(zone, day, hour, minute):
    """The aware moment of a wall-clock time; None when DST skips it; the first of a repeated one."""
    naive = datetime.datetime.combine(day, datetime.time(hour, minute))
    local = naive.replace(tzinfo=zone)  # fold=0: the earlier of two equal wall times
    if local.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        return None
    return local


def slot_weekdays(schedule):
    """The weekdays (0 = Monday) on which a schedule fires."""
    if schedule["frequency"] == "weekdays":
        return frozenset(range(5))
    if schedule["frequency"] == "weekly":
        return frozenset(DAY_ALIASES[day] for day in schedule["days"])
    return frozenset(range(7))


def slot_hours(schedule):
    return list(range(24)) if schedule.get("hour") is None else [schedule["hour"]]


def slots(schedule, start, end, timezone="UTC"):
    """Every slot of a schedule in [start, end) (aware datetimes), in order, as aware datetimes in the tz."""
    zone = zone_of(timezone)
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    weekdays = slot_weekdays(schedule)
    day = start.astimezone(zone).date() - datetime.timedelta(days=1)
    last = end.astimezone(zone).date() + datetime.timedelta(days=1)
    found = []
    while day <= last:
        if day.weekday() in weekdays:
            for hour in slot_hours(schedule):
                moment = wall_time(zone, day, hour, schedule["minute"])
                if moment is not None and start_utc <= moment.astimezone(UTC) < end_utc:
                    found.append(moment)
        day += datetime.timedelta(days=1)
    return sorted(found, key=lambda moment: moment.astimezone(UTC))


def due_slot(schedule, now, grace, timezone="UTC"):
    """The latest slot <= now with now - slot < grace (seconds), else None."""
    if grace <= 0:
        return None
    window = slots(schedule, now - datetime.timedelta(seconds=grace), now + datetime.timedelta(microseconds=1),
                   timezone)
    due = [slot for slot in window if now - slot < datetime.timedelta(seconds=grace)]
    return due[-1] if due else None


def next_slot(schedule, after, timezone="UTC"):
    """The first slot strictly after ``after`` (None when a schedule never fires within 8 days)."""
    found = slots(schedule, after + datetime.timedelta(microseconds=1), after + datetime.timedelta(days=8), timezone)
    return found[0] if found else None


def day_bounds(day, timezone="UTC"):
    """[start, end) of a local date as aware datetimes (23 or 25 hours long on DST days)."""
    zone = zone_of(timezone)
    start = datetime.datetime.combine(day, datetime.time(0), tzinfo=zone)
    end = datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# ---------------------------------------------------------------- AWX rrule

def week_hours(schedule, zone, windows, start, window_only):
    """weekday -> sorted hours a slot may take, over the 53 weeks from ``start``.

    With ``window_only`` an hour is kept when the slot is inside a maintenance window on at least
    one of those weeks: a window in another time zone than the monkey's may hold a slot in some
    weeks only, and the tick judges each slot anyway.
    """
    hours = {}
    first = start.astimezone(zone).date()
    for offset in range(7 * 53):
        day = first + datetime.timedelta(days=offset)
        if day.weekday() not in slot_weekdays(schedule):
            continue
        for hour in slot_hours(schedule):
            moment = wall_time(zone, day, hour, schedule["minute"])
            if moment is None or (window_only and not any(in_window(w, moment) for w in windows)):
                continue
            hours.setdefault(day.weekday(), set()).add(hour)
    return {weekday: sorted(found) for weekday, found in hours.items()}


def _stamp(moment):
    return moment.strftime("%Y%m%dT%H%M%S")


def _dtstart(dtstart, zone):
    if isinstance(dtstart, datetime.datetime):
        moment = dtstart if dtstart.tzinfo else dtstart.replace(tzinfo=UTC)
        return moment.astimezone(zone).replace(microsecond=0)
    if isinstance(dtstart, datetime.date):
        return datetime.datetime.combine(dtstart, datetime.time(0), tzinfo=zone)
    raise ChaosError("dtstart must be a date or a datetime, got %r" % (dtstart,))


def _numbers(values):
    return ",".join(str(value) for value in sorted(values))


def rrule(schedule, config, dtstart):
    """AWX rrule text for a schedule: DTSTART, one RRULE per group of weekdays with the same hours,
    an EXRULE per month of yearly blackout dates and one per one-off blackout date of DTSTART's year.

    AWX requires INTERVAL in every rule and refuses EXDATE, so a one-off date is a yearly EXRULE counted
    from DTSTART (COUNT = the slots of that day), which is exact for dates within a year of DTSTART; later
    ones cannot be written that way and are left to the tick, which skips them as blackout dates.
    """
    calendar = parsed_calendar(config)
    zone = calendar["zone"]
    start = _dtstart(dtstart, zone)
    window_only = schedule.get("maintenance_window_only")
    hours = week_hours(schedule, zone, calendar["windows"], start, window_only)
    if not hours:
        raise ChaosError("schedule %s has no slot inside its maintenance windows: no rrule can be made"
                         % schedule["name"])
    tzid = getattr(zone, "key", None) or "UTC"
    minute = schedule["minute"]
    parts = ["DTSTART;TZID=%s:%s" % (tzid, _stamp(start))]
    groups = {}
    for weekday in sorted(hours):
        groups.setdefault(tuple(hours[weekday]), []).append(weekday)
    for hour_set, weekdays in sorted(groups.items(), key=lambda item: item[1][0]):
        parts.append("RRULE:FREQ=WEEKLY;INTERVAL=1;BYDAY=%s;BYHOUR=%s;BYMINUTE=%d;BYSECOND=0"
                     % (",".join(RRULE_DAYS[d] for d in weekdays), _numbers(hour_set), minute))
    all_hours = _numbers(set().union(*(set(h) for h in hours.values())))
    months = {}
    once = set()
    for blackout in calendar["blackouts"]:
        if blackout["yearly"]:
            for month, day in _yearly_days(blackout):
                months.setdefault(month, set()).add(day)
            continue
        day = blackout["start"]
        while day <= blackout["end"]:
            if start.date() <= day < _a_year_after(start.date()) and hours.get(day.weekday()):
                once.add(day)
            day += datetime.timedelta(days=1)
    for month in sorted(months):
        parts.append("EXRULE:FREQ=YEARLY;INTERVAL=1;BYMONTH=%d;BYMONTHDAY=%s;BYHOUR=%s;BYMINUTE=%d;BYSECOND=0"
                     % (month, _numbers(months[month]), all_hours, minute))
    for day in sorted(once):
        slots_that_day = hours[day.weekday()]
        parts.append("EXRULE:FREQ=YEARLY;INTERVAL=1;COUNT=%d;BYMONTH=%d;BYMONTHDAY=%d;BYHOUR=%s;BYMINUTE=%d;"
                     "BYSECOND=0" % (len(slots_that_day), day.month, day.day, _numbers(slots_that_day), minute))
    return " ".join(parts)


def _a_year_after(day):
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, month=3, day=1)


def _yearly_days(blackout):
    """(month, day) pairs of a yearly range, counted in a leap year (02-29 exists in leap years only)."""
    day, found = datetime.date(2000, 1, 1), []
    while day.year == 2000:
        if blackout_match([blackout], day):
            found.append((day.month, day.day))
        day += datetime.timedelta(days=1)
    return found


# ---------------------------------------------------------------- cron

def cron_fields(schedule, config, start=None, cron_zone="UTC"):
    """ansible.builtin.cron fields (minute, hour, weekday, day, month) in ``cron_zone`` that fire at
    every slot of the schedule over the 366 days from ``start`` (default now).

    cron cannot follow DST, so this is a superset: the entry may fire at times that are not slots,
    and the tick then answers "no slot due".
    """
    zone = zone_of(config.get("timezone"))
    cron = zone_of(cron_zone)
    start = start or datetime.datetime.now(UTC)
    minutes, hours, weekdays = set(), set(), set()
    for slot in slots(schedule, start, start + datetime.timedelta(days=366), zone):
        local = slot.astimezone(cron)
        minutes.add(local.minute)
        hours.add(local.hour)
        weekdays.add((local.weekday() + 1) % 7)  # cron counts from Sunday = 0
    if not minutes:
        raise ChaosError("schedule %s has no slot in the 366 days from %s" % (schedule["name"], utc_text(start)))
    return {"minute": _numbers(minutes), "hour": "*" if len(hours) == 24 else _numbers(hours),
            "weekday": "*" if len(weekdays) == 7 else _numbers(weekdays), "day": "*", "month": "*"}
