# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The geometry of the trend page's two charts, as numbers for the template (which only places them).

line_chart: MTTR over time, one polyline per service. week_bars: the pass share of each ISO week.
"""

from __future__ import annotations

import datetime
import math

from ._lifecycle import number
from ._report_trends_time import utc_text

# Okabe-Ito: told apart by people with the common colour-vision deficiencies
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#999933")
WIDTH, HEIGHT = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 24, 16, 40
TICKS = 5


def nice_ceiling(value):
    """The smallest of 1, 2, 2.5, 5 x 10^k at or above value (at least 1): the y axis' top."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return float(step * power)
    return float(10 * power)


def _time_label(epoch, span):
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%m-%d" if span > 3 * 86400 else "%m-%d %H:%M")


def line_chart(series, start=None, end=None):
    """series: [{service, points: [{at, value, upper_bound, ...}]}] -> the chart, or None without any point.

    x runs from start to end (default the first and last point), y from 0 to a round figure above the slowest."""
    points = [point for line in series for point in line["points"]]
    if not points:
        return None
    first = min(point["at"] for point in points) if start is None else min(start, *(p["at"] for p in points))
    last = max(point["at"] for point in points) if end is None else max(end, *(p["at"] for p in points))
    if last - first < 60:  # one moment: a two-hour window around it
        first, last = first - 3600, last + 3600
    top_value = nice_ceiling(max(point["value"] for point in points))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(at):
        return round(LEFT + (at - first) / (last - first) * plot_width, 1)

    def y_of(value):
        return round(TOP + plot_height - value / top_value * plot_height, 1)

    lines = []
    for index, line in enumerate(series):
        drawn = []
        for point in line["points"]:
            drawn.append(dict(point, x=x_of(point["at"]), y=y_of(point["value"]), title="%s: %s s%s at %s (%s, %s)" % (
                line["service"], number(point["value"], 3), " at most" if point["upper_bound"] else "",
                utc_text(point["at"]), point["name"], point["experiment_id"])))
        lines.append({"service": line["service"], "color": PALETTE[index % len(PALETTE)], "points": drawn,
                      "polyline": " ".join("%s,%s" % (point["x"], point["y"]) for point in drawn)})
    return {
        "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - RIGHT, "top": TOP,
        "bottom": HEIGHT - BOTTOM, "lines": lines,
        "y_ticks": [{"y": y_of(top_value * i / (TICKS - 1)), "label": number(top_value * i / (TICKS - 1))}
                    for i in range(TICKS)],
        "x_ticks": [{"x": x_of(first + (last - first) * i / (TICKS - 1)),
                     "label": _time_label(first + (last - first) * i / (TICKS - 1), last - first)}
                    for i in range(TICKS)],
        "from": utc_text(first), "to": utc_text(last), "max": top_value,
    }


def week_bars(weeks):
    """weeks: [{week, runs, passed, pass_rate}] -> one bar per week (its height the pass share), or None."""
    if not weeks:
        return None
    width, gap, plot_height, top = 40, 16, 100, 22
    bars = []
    for index, week in enumerate(weeks):
        height = 0 if week["pass_rate"] is None else round(week["pass_rate"] * plot_height, 1)
        bars.append(dict(week, x=gap + index * (width + gap), y=top + plot_height - height, height=height,
                         label=week["week"][5:], center=gap + index * (width + gap) + width / 2))
    return {"width": gap + len(weeks) * (width + gap), "height": top + plot_height + 34, "bar": width, "bars": bars,
            "base": top + plot_height, "top": top}
