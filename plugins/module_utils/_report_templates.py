# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Jinja2 templates of an experiment's report (Markdown and HTML), kept as strings so they ship inside the
collection's module_utils and load in action plugins without a template path.

They only lay out ``_report_experiment.report_model``; every figure is computed there. The HTML is rendered
with autoescape on and loads nothing: its Content-Security-Policy forbids every fetch but inline styles and
data: images.
"""

from __future__ import annotations

MARKDOWN_TEMPLATE = """\
# Chaos experiment {{ r.name | md }}: **{{ r.verdict | md }}**

{{ r.description | md if r.description else '' }}

| | |
| --- | --- |
| Verdict | **{{ r.verdict | md }}** ({{ r.reason | md }}) |
| Hypothesis | {{ (r.hypothesis | join('; ')) | md if r.hypothesis else 'none stated' }} |
| Experiment id | {{ r.id | md }} |
| Fault | {{ r.kind | md }} via {{ r.module | md }}: {{ r.fault | md }}{% if r.duration is not none %} for {{ r.duration | seconds }}{% endif %} |
| Injected | {{ r.injected_at }}{% if r.fault_ended_at %} until {{ r.fault_ended_at }}{% endif %} |
| Targets | {% for t in r.targets %}{{ t.target | md }}{% if t.service %} ({{ t.service | md }}){% endif %}{{ ', '
  if not loop.last }}{% else %}nothing{% endfor %} |
| Time to recover | {% if r.recovered %}{{ 'at most ' if r.recovery_upper_bound }}{{ r.recovery }} after the {{ r.recovery_counted_from
  | md }}{% else %}not recovered / not measured{% endif %} |
| MTTR, cascade depth | {{ r.mttr }}, {{ r.cascade_depth | number }} |
| Left active after the experiment | {{ 'nothing' if not r.left_active and not r.leftovers else r.left_active ~ ' fault(s)' }} |
{% if r.error %}
| Error | {{ r.error | md }} |
{% endif %}

## Services

| Service | Availability during | Error rate during | Latency before p50 / p95 / p99 ms | Latency during p50 / p95 / p99 ms | MTTR | Cascade depth |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{% for s in r.services %}
| {{ s.service | md }} | {{ s.availability | percent }} | {{ s.error_rate
  | percent }}{% if s.no_answer %} ({{ s.no_answer }} of {{ s.polls }} unanswered){% endif %} | {{ s.before
  | latencies }} | {{ s.during | latencies }} | {{ s.mttr | mttr }} | {{ s.depth | number }} |
{% else %}
| (no service was watched) | | | | | | |
{% endfor %}

## Hypothesis checks

{% for c in r.checks %}
- {{ 'held' if c.held else '**BROKE**' }}: {{ c.what | md }} {{ c.value_text }} (must be {{ c.comparison | md }} {{ c.threshold_text }})
{% else %}
- none (no hypothesis was checked)
{% endfor %}

## Left active after the experiment

{% if not r.left_active and not r.leftovers %}
Nothing: every fault was undone.
{% else %}
{{ r.left_active }} fault(s) still active:
{% for item in r.leftovers %}
- {{ item | md }}
{% endfor %}
{% endif %}
"""

HTML_TEMPLATE = """\
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="sutazai.chaos.chaos_report">
<title>{{ r.verdict }} - {{ r.name }} - chaos experiment report</title>
<style>
:root { --ok: #2f9e5d; --fail: #d9434b; --none: #8a94a3; --band: #f3b13e; --ink: #1d2433; --muted: #5d6778;
        --line: #dde2ea; --paper: #ffffff; --bg: #f4f6f9; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1020px; margin: 24px auto; padding: 0 16px; }
section, header { background: var(--paper); border: 1px solid var(--line); border-radius: 8px; padding: 18px 22px;
                  margin-bottom: 16px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 0 0 12px; }
.muted { color: var(--muted); } code { font-size: 13px; }
.verdict { display: inline-block; padding: 2px 12px; border-radius: 999px; color: #fff; font-weight: 700;
           letter-spacing: .04em; margin-right: 10px; vertical-align: 2px; }
.verdict.pass { background: #1f8a4c; } .verdict.fail { background: #c62f37; }
.verdict.aborted { background: #c76a0a; } .verdict.error { background: #6b2c91; }
.headline { display: grid; grid-template-columns: repeat(4, 1fr); gap: 12px; margin-top: 14px; }
.figure { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.figure b { display: block; font-size: 20px; } .figure span { color: var(--muted); font-size: 13px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; font-size: 13px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 18px; margin: 0; }
dt { color: var(--muted); } dd { margin: 0; }
.held { color: #1f8a4c; font-weight: 600; } .broke { color: #c62f37; font-weight: 700; }
svg.timeline { display: block; width: 100%; height: auto; max-width: {{ r.timeline.width if r.timeline else 960 }}px; }
svg text { font-family: inherit; font-size: 12px; fill: var(--ink); }
svg .lane-label { font-weight: 600; } svg .tick text, svg .axis-title { fill: var(--muted); font-size: 11px; }
.sample.ok { fill: var(--ok); } .sample.fail { fill: var(--fail); } .sample.none { fill: var(--none); }
.lane-bg { fill: #e9edf2; fill-opacity: .6; } .fault-band { fill: var(--band); fill-opacity: .28; stroke: var(--band); }
.window { fill: #dfe4ec; fill-opacity: .8; } .window-label { font-size: 10px; fill: var(--muted); }
.event line { stroke-width: 2; stroke-dasharray: 4 3; } .event text { font-size: 11px; font-weight: 600; }
.event-injected { stroke: #b86200; fill: #b86200; } .event-expired { stroke: #6941c6; fill: #6941c6; }
.event-rolled_back { stroke: #c62f37; fill: #c62f37; } .event-recovered { stroke: #1f8a4c; fill: #1f8a4c; }
.event text { stroke: none; }
.recovery-bracket path { fill: none; stroke: #1d4ed8; stroke-width: 2; } .recovery-bracket text { fill: #1d4ed8; }
.axis line, .tick line { stroke: #9aa3b2; }
.legend { display: flex; flex-wrap: wrap; gap: 8px 18px; margin-top: 10px; font-size: 13px; color: var(--muted); }
.legend i { display: inline-block; width: 14px; height: 14px; border-radius: 2px; vertical-align: -2px;
            margin-right: 6px; }
.legend i.ok { background: var(--ok); } .legend i.fail { background: var(--fail); }
.legend i.none { background: var(--none); }
.legend i.band { background: rgba(243, 177, 62, .3); border: 1px solid var(--band); }
.legend i.mark { width: 3px; background: #b86200; } .legend i.bracket { height: 8px; border: 2px solid #1d4ed8;
            border-top: 0; border-radius: 0; background: none; }
.nothing { color: #1f8a4c; font-weight: 600; } .left { color: #c62f37; font-weight: 700; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin: 8px 0 24px; }
@media (max-width: 720px) { .headline { grid-template-columns: repeat(2, 1fr); } }
@media print {
  body { background: #fff; font-size: 11pt; } main { margin: 0; max-width: none; }
  section, header { border: 0; padding: 8px 0; break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
</style>
</head>
<body>
<main>
<header>
  <h1><span class="verdict {{ r.verdict_class }}" id="verdict">{{ r.verdict }}</span>{{ r.name }}</h1>
  <div class="muted"><code>{{ r.id }}</code>{% if r.host %} on {{ r.host }}{% endif %} - injected {{ r.injected_at }}</div>
  {% if r.description %}<p>{{ r.description }}</p>{% endif %}
  <p id="hypothesis"><strong>Hypothesis:</strong>
  {% if r.hypothesis %}{{ r.hypothesis | join('; ') }}{% else %}none stated{% endif %}.
  <strong>Verdict:</strong> {{ r.verdict }} - {{ r.reason }}.</p>
  {% if r.error %}<p class="broke">Error: {{ r.error }}</p>{% endif %}
  <div class="headline">
    <div class="figure"><span>time to recover</span><b>{% if r.recovered %}{{ '≤ ' if r.recovery_upper_bound }}{{ r.recovery }}
      {%- else %}not recovered{% endif %}</b>
      <span>{% if r.recovered %}after the {{ r.recovery_counted_from }}{% else %}within the timeout{% endif %}</span></div>
    <div class="figure"><span>availability during the fault</span><b>{{ r.availability }}</b><span>of polls healthy</span></div>
    <div class="figure"><span>cascade depth</span><b>{{ r.cascade_depth | number }}</b><span>MTTR {{ r.mttr }}</span></div>
    <div class="figure"><span>left active afterwards</span><b class="{{ 'nothing' if not r.left_active else 'left' }}">{{ r.left_active }}</b>
      <span>fault(s)</span></div>
  </div>
</header>

<section id="timeline">
<h2>Timeline</h2>
{% set t = r.timeline %}
{% if t %}
<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {{ t.width }} {{ t.height }}" width="{{ t.width }}" height="{{ t.height }}"
     role="img" aria-label="Timeline of the experiment: fault window, each watched service's polls, events"
     data-start="{{ t.start }}" data-end="{{ t.end }}" data-px-per-second="{{ t.px_per_second }}"
     data-origin="{{ t.origin }}" data-plot-left="{{ t.plot_left }}">
  {% for b in t.bands %}
  <rect class="fault-band{{ ' instant' if b.instant }}" data-from="{{ b.from }}" data-to="{{ b.to }}" data-x="{{ b.x }}" data-width="{{ b.width }}"
        x="{{ b.x }}" y="{{ t.phase_y - 4 }}" width="{{ b.width }}" height="{{ t.lanes_bottom - t.phase_y + 8 }}"><title>{{ b.title }}</title></rect>
  {% endfor %}
  {% for w in t.windows %}
  <g class="window" data-phase="{{ w.phase }}">
    <rect class="window" x="{{ w.x }}" y="{{ t.phase_y }}" width="{{ w.width }}" height="{{ t.phase_height
      }}" rx="2"><title>{{ w.phase }}: {{ w.polls }} poll(s)</title></rect>
    {% if w.labelled %}<text class="window-label" x="{{ w.x + 4 }}" y="{{ t.phase_y + 10.5 }}">{{ w.phase }}</text>{% endif %}</g>
  {% endfor %}
  <text class="lane-label muted" x="8" y="{{ t.phase_y + 11 }}" style="font-size:11px;fill:#5d6778">observed</text>
  {% for lane in t.lanes %}
  <g class="lane" data-service="{{ lane.service }}" data-samples="{{ lane.samples | length }}">
    <text class="lane-label" x="8" y="{{ lane.label_y }}">{{ lane.service | truncate(16, True, '…') }}<title>{{ lane.service }}</title></text>
    <rect class="lane-bg" x="{{ t.plot_left }}" y="{{ lane.y }}" width="{{ t.plot_right - t.plot_left }}" height="{{ lane.height }}" rx="3"/>
    {% for s in lane.samples %}
    <rect class="sample {{ s.state }}" data-at="{{ s.at }}" x="{{ s.x }}" y="{{ lane.y + 3 }}" width="{{ s.width
    }}" height="{{ lane.height - 6 }}" rx="1.5"><title>{{ s.title }}</title></rect>
    {% endfor %}
  </g>
  {% endfor %}
  {% for e in t.events %}
  <g class="event event-{{ e.event }}" data-event="{{ e.event }}" data-at="{{ e.at }}" data-x="{{ e.x }}">
    <line x1="{{ e.x }}" x2="{{ e.x }}" y1="{{ e.label_y + 4 }}" y2="{{ t.lanes_bottom + 4 }}"/>
    <text x="{{ e.x }}" y="{{ e.label_y }}" text-anchor="middle">{{ e.label }}</text><title>{{ e.title }}</title>
  </g>
  {% endfor %}
  {% if t.bracket %}
  {% set b = t.bracket %}
  <g class="recovery-bracket{{ ' upper-bound' if b.upper_bound }}" data-from="{{ b.from }}" data-to="{{ b.to }}" data-x="{{ b.x }}" data-width="{{ b.width }}">
    <path d="M{{ b.x }},{{ b.y - 7 }} V{{ b.y }} H{{ b.x + b.width }} V{{ b.y - 7 }}"/>
    <text x="{{ b.label_x }}" y="{{ b.y + 4 }}" text-anchor="{{ b.label_anchor }}">{{ b.label }}</text>
  </g>
  {% endif %}
  <g class="axis">
    <line x1="{{ t.plot_left }}" x2="{{ t.plot_right }}" y1="{{ t.axis_y }}" y2="{{ t.axis_y }}"/>
    {% for tick in t.ticks %}
    <g class="tick" data-offset="{{ tick.offset }}" data-x="{{ tick.x }}">
      <line x1="{{ tick.x }}" x2="{{ tick.x }}" y1="{{ t.axis_y }}" y2="{{ t.axis_y + 5 }}"/>
      <text x="{{ tick.x }}" y="{{ t.axis_y + 18 }}" text-anchor="middle">{{ tick.label }}</text></g>
    {% endfor %}
    <text class="axis-title" x="{{ t.plot_right }}" y="{{ t.axis_y + 34 }}" text-anchor="end">{{ t.axis_title }}</text>
  </g>
</svg>
<div class="legend">
  <span><i class="ok"></i>healthy</span><span><i class="fail"></i>unhealthy</span><span><i class="none"></i>no answer</span>
  <span><i class="band"></i>fault active</span><span><i class="mark"></i>injected / expired / rolled back / recovered</span>
  <span><i class="bracket"></i>time to recover{{ ' (an upper bound)' if r.recovery_upper_bound }}</span>
</div>
{% else %}
<p class="muted">Nothing was observed: no poll and no event to draw.</p>
{% endif %}
</section>

<section id="services">
<h2>Services</h2>
<table>
<thead><tr><th>Service</th><th class="num">Availability</th><th class="num">Error rate</th>
<th class="num">Latency before<br>p50 / p95 / p99 ms</th><th class="num">Latency during<br>p50 / p95 / p99 ms</th>
<th class="num">MTTR</th><th class="num">Cascade depth</th></tr></thead>
<tbody>
{% for s in r.services %}
<tr data-service="{{ s.service }}"><td>{{ s.service }}</td><td class="num">{{ s.availability | percent }}</td>
<td class="num">{{ s.error_rate | percent }}{% if s.no_answer %} <span class="muted">({{ s.no_answer }}/{{ s.polls }} no answer)</span>{% endif %}</td>
<td class="num">{{ s.before | latencies }}</td>
<td class="num">{{ s.during | latencies }}</td>
<td class="num">{{ s.mttr | mttr }}</td><td class="num">{{ s.depth | number }}</td></tr>
{% else %}
<tr><td colspan="7" class="muted">No service was watched.</td></tr>
{% endfor %}
</tbody>
</table>
<p class="muted">Availability and error rate over the polls while the fault was active; latency over the answered polls
of the baseline and of the fault; MTTR from a service's first unhealthy poll to its healthy one after the last.
Overall MTTR {{ r.mttr }}, cascade depth {{ r.cascade_depth | number }}{% if r.affected %} (affected: {{ r.affected | join(', ') }}){% endif %}.</p>
</section>

<section id="fault">
<h2>Fault and targets</h2>
<dl>
<dt>Fault</dt><dd>{{ r.kind }} via <code>{{ r.module }}</code>: {{ r.fault }}{% if r.duration is not none %} for {{ r.duration | seconds }}{% endif %}</dd>
<dt>Active</dt><dd>{{ r.injected_at }}{% if r.fault_ended_at %} until {{ r.fault_ended_at }}{% endif %}</dd>
<dt>Targets</dt><dd>{% for h in r.targets %}{{ h.target }}{% if h.service %} ({{ h.service }}){% endif %}
  {%- if h.detail %} <span class="muted">{{ h.detail }}</span>{% endif %}
  {%- if not loop.last %}<br>{% endif %}{% else %}nothing{% endfor %}</dd>
<dt>Watched</dt><dd>{{ r.watched | join(', ') if r.watched else 'nothing (unobserved)' }}</dd>
{% if r.file %}<dt>Experiment file</dt><dd><code>{{ r.file }}</code></dd>{% endif %}
</dl>
</section>

<section id="checks">
<h2>Hypothesis checks</h2>
{% if r.checks %}
<table><thead><tr><th>Check</th><th class="num">Value</th><th class="num">Bound</th><th>Result</th></tr></thead><tbody>
{% for c in r.checks %}
<tr><td>{{ c.what }}</td><td class="num">{{ c.value_text }}</td><td class="num">{{ c.comparison }} {{ c.threshold_text }}</td>
<td class="{{ 'held' if c.held else 'broke' }}">{{ 'held' if c.held else 'BROKE' }}</td></tr>
{% endfor %}
</tbody></table>
{% else %}<p class="muted">No hypothesis was checked.</p>{% endif %}
</section>

<section id="left-active">
<h2>Left active after the experiment</h2>
{% if not r.left_active and not r.leftovers %}
<p class="nothing">Nothing: every fault was undone.</p>
{% else %}
<p class="left">{{ r.left_active }} fault(s) still active:</p>
<ul>{% for item in r.leftovers %}<li><code>{{ item }}</code></li>{% endfor %}</ul>
{% endif %}
</section>
<footer>sutazai.chaos report, generated {{ r.generated }}</footer>
</main>
</body>
</html>
"""
