# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Jinja2 template of the trend page (index.html). Rendered with autoescape: every text is escaped.

Self-contained: inline style only, no script, no font, image or link that would load anything; the CSP meta
tag says so to the browser as well.
"""

from __future__ import annotations

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Chaos experiment trends</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1000px;
       padding: 0 16px; color: #1b1f24; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: 4px; }
h2 { font-size: 1.2em; margin-top: 32px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
.meta { color: #57606a; margin-top: 0; }
.summary { display: flex; gap: 16px; flex-wrap: wrap; margin: 16px 0; }
.figure { border: 1px solid #d0d7de; border-radius: 6px; padding: 8px 16px; min-width: 120px; }
.figure b { display: block; font-size: 1.5em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eaeef2; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { font-weight: 600; padding: 0 6px; border-radius: 4px; }
.PASS { background: #dafbe1; color: #116329; }
.FAIL { background: #ffebe9; color: #a40e26; }
.ABORTED, .ERROR, .UNKNOWN { background: #fff8c5; color: #7d4e00; }
.adhoc { color: #57606a; font-size: 0.85em; }
.note { color: #57606a; font-size: 0.9em; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; font-size: 0.9em; margin: 4px 0 0 56px; }
.swatch { display: inline-block; width: 14px; height: 4px; vertical-align: middle; margin-right: 4px; }
svg text { font-family: inherit; font-size: 11px; fill: #57606a; }
code { font-size: 0.9em; }
#mttr-chart { width: 100%; height: auto; }
</style>
</head>
<body>
<h1>Chaos experiment trends</h1>
<p class="meta">Generated {{ model.now | utc }} from {{ model.read }} result(s)
{%- if model.since is not none %}; runs since {{ model.since | utc }} ({{ since_text }}){% endif %}.
{%- if model.undated %} {{ model.undated | length }} result(s) without a time are left out.{% endif %}</p>

<div class="summary" id="summary">
  <div class="figure">runs<b>{{ model.runs }}</b></div>
  <div class="figure">passed<b>{{ model.passed }}</b></div>
  <div class="figure">success rate<b>{{ model.pass_rate | percent }}</b></div>
  <div class="figure">experiments<b>{{ model.experiments | length }}</b></div>
  <div class="figure">skipped files<b>{{ problems | length }}</b></div>
</div>

<h2>Success rate per experiment</h2>
{% if model.experiments %}
<table id="per-experiment">
<thead><tr><th>experiment</th><th class="num">runs</th><th class="num">PASS</th><th class="num">success rate</th>
<th>FAIL / ABORTED / ERROR</th><th>last verdict</th><th>last run</th></tr></thead>
<tbody>
{% for row in model.experiments %}
<tr data-experiment="{{ row.name }}" data-runs="{{ row.runs }}" data-passed="{{ row.passed }}">
<td>{{ row.name }}{% if row.adhoc %} <span class="adhoc">(ad hoc)</span>{% endif %}</td>
<td class="num">{{ row.runs }}</td><td class="num">{{ row.passed }}</td><td class="num">{{ row.pass_rate | percent }}</td>
<td>{{ row.verdicts.FAIL }} / {{ row.verdicts.ABORTED }} / {{ row.verdicts.ERROR }}</td>
<td><span class="verdict {{ row.last_verdict }}">{{ row.last_verdict }}</span></td><td>{{ row.last_when }}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="note">No runs in this period.</p>{% endif %}

<h2>Success rate per week</h2>
{% if bars %}
<svg id="week-chart" role="img" aria-label="Share of runs that passed, per ISO week" width="{{ bars.width }}"
     height="{{ bars.height }}" viewBox="0 0 {{ bars.width }} {{ bars.height }}" xmlns="http://www.w3.org/2000/svg">
<line x1="0" y1="{{ bars.base }}" x2="{{ bars.width }}" y2="{{ bars.base }}" stroke="#d0d7de"/>
{% for bar in bars.bars %}
<g class="week-bar" data-week="{{ bar.week }}" data-runs="{{ bar.runs }}" data-passed="{{ bar.passed }}">
<title>{{ bar.week }}: {% if bar.runs %}{{ bar.passed }} of {{ bar.runs }} passed ({{ bar.pass_rate | percent }}){% else %}no runs{% endif %}</title>
{% if bar.runs %}<rect x="{{ bar.x }}" y="{{ bar.y }}" width="{{ bars.bar }}" height="{{ bar.height }}" fill="#2da44e"/>
<text x="{{ bar.center }}" y="{{ bar.y - 5 }}" text-anchor="middle">{{ bar.pass_rate | percent }}</text>
{% else %}<text x="{{ bar.center }}" y="{{ bars.base - 5 }}" text-anchor="middle">none</text>{% endif %}
<text x="{{ bar.center }}" y="{{ bars.base + 14 }}" text-anchor="middle">{{ bar.label }}</text>
<text x="{{ bar.center }}" y="{{ bars.base + 28 }}" text-anchor="middle">{{ bar.runs }} run{{ '' if bar.runs == 1 else 's' }}</text>
</g>
{% endfor %}
</svg>
<table id="per-week">
<thead><tr><th>ISO week (UTC)</th><th class="num">runs</th><th class="num">PASS</th><th class="num">success rate</th></tr></thead>
<tbody>
{% for week in model.weeks %}
<tr data-week="{{ week.week }}"><td>{{ week.week }}</td><td class="num">{{ week.runs }}</td>
<td class="num">{{ week.passed }}</td><td class="num">{{ week.pass_rate | percent }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="note">No runs in this period.</p>{% endif %}

<h2>Time to recover per service</h2>
{% if chart %}
<p class="note">Seconds from the fault's end (a fault with a duration) or the injection (a crash) until every
probe was healthy again, per service the fault hit. A hollow point is an upper bound: the service was healthy at
the first check.</p>
<svg id="mttr-chart" role="img" aria-label="Time to recover per service over time" width="{{ chart.width }}"
     height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}" xmlns="http://www.w3.org/2000/svg">
{% for tick in chart.y_ticks %}
<line x1="{{ chart.left }}" y1="{{ tick.y }}" x2="{{ chart.right }}" y2="{{ tick.y }}" stroke="#eaeef2"/>
<text x="{{ chart.left - 6 }}" y="{{ tick.y + 4 }}" text-anchor="end">{{ tick.label }} s</text>
{% endfor %}
{% for tick in chart.x_ticks %}
<line x1="{{ tick.x }}" y1="{{ chart.bottom }}" x2="{{ tick.x }}" y2="{{ chart.bottom + 4 }}" stroke="#8c959f"/>
<text x="{{ tick.x }}" y="{{ chart.bottom + 18 }}" text-anchor="{{ 'start' if loop.first else ('end' if loop.last else 'middle') }}">{{ tick.label }}</text>
{% endfor %}
<line x1="{{ chart.left }}" y1="{{ chart.bottom }}" x2="{{ chart.right }}" y2="{{ chart.bottom }}" stroke="#8c959f"/>
<line x1="{{ chart.left }}" y1="{{ chart.top }}" x2="{{ chart.left }}" y2="{{ chart.bottom }}" stroke="#8c959f"/>
{% for line in chart.lines %}
<g class="mttr-service" data-service="{{ line.service }}">
<polyline class="mttr-line" data-service="{{ line.service }}" points="{{ line.polyline }}" fill="none"
          stroke="{{ line.color }}" stroke-width="2" stroke-linejoin="round"/>
{% for point in line.points %}
<circle class="mttr-point{{ ' upper-bound' if point.upper_bound else '' }}" data-service="{{ line.service }}"
        data-at="{{ point.at }}" data-value="{{ point.value }}" cx="{{ point.x }}" cy="{{ point.y }}" r="4"
        fill="{{ '#ffffff' if point.upper_bound else line.color }}" stroke="{{ line.color }}" stroke-width="2"><title>{{ point.title }}</title></circle>
{% endfor %}
</g>
{% endfor %}
</svg>
<div class="legend">
{% for line in chart.lines %}<span><span class="swatch" style="background: {{ line.color }}"></span>
{{- line.service }} ({{ line.points | length }})</span>{% endfor %}
<span class="note">{{ chart.from }} to {{ chart.to }}</span>
</div>
{% else %}<p class="note">No recovered run in this period: nothing to draw.</p>{% endif %}
{% if model.not_recovered %}
<p class="note" id="not-recovered">Did not recover within the recovery timeout (not drawn):
{% for run in model.not_recovered %}{{ run.name }} on {{ run.services | join(', ') }} at {{ run.when }}{{ '; ' if not loop.last else '.' }}{% endfor %}</p>
{% endif %}

<h2>Slowest recoveries</h2>
{% if model.slowest %}
<table id="slowest">
<thead><tr><th class="num">#</th><th class="num">seconds</th><th>experiment</th><th>services</th><th>run</th>
<th>verdict</th><th>report</th></tr></thead>
<tbody>
{% for run in model.slowest %}
<tr data-experiment-id="{{ run.experiment_id }}" data-value="{{ run.recovery_seconds }}"><td class="num">{{ loop.index }}</td>
<td class="num">{{ 'at most ' if run.upper_bound else '' }}{{ run.recovery_seconds | number(3) }}</td>
<td>{{ run.name }}</td><td>{{ run.services | join(', ') }}</td><td>{{ run.when }}<br><code>{{ run.experiment_id }}</code></td>
<td><span class="verdict {{ run.verdict }}">{{ run.verdict }}</span></td>
<td>{% if run.report %}<a href="{{ run.report }}">report</a>{% else %}-{% endif %}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="note">No recovered run in this period.</p>{% endif %}

<h2>Not run for more than {{ model.stale_days | number }} days</h2>
{% if not model.catalogue_known %}<p class="note">The experiment catalogue was not found: nothing to compare.</p>
{% elif model.stale %}
<p class="note">Experiments of the catalogue whose last run among these results is older, or that never ran.</p>
<table id="stale">
<thead><tr><th>experiment</th><th>last run</th><th class="num">days ago</th><th>last verdict</th></tr></thead>
<tbody>
{% for row in model.stale %}
<tr data-experiment="{{ row.name }}"><td>{{ row.name }}</td>
<td>{{ row.last_when or 'never' }}</td>
<td class="num">{{ row.days if row.days is not none else '-' }}</td>
<td>{% if row.last_verdict %}<span class="verdict {{ row.last_verdict }}">{{ row.last_verdict }}</span>{% else %}-{% endif %}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="note">Every experiment of the catalogue ran in the last {{ model.stale_days | number }} days.</p>{% endif %}

<h2>Skipped files</h2>
{% if problems %}
<table id="skipped">
<thead><tr><th>file</th><th>why</th></tr></thead>
<tbody>
{% for problem in problems %}<tr><td><code>{{ problem.file }}</code></td><td>{{ problem.why }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}<p class="note">None: every file was read.</p>{% endif %}
</body>
</html>
"""
