# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for monitoring/chaos-dashboard.json, shared by the static test and the integration test.

``tests/`` is no package: import this file by path, e.g.::

    sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "unit", "monitoring"))
    from dashboard import load_dashboard, panel_queries  # pylint: disable=import-error

``panel_queries`` turns Grafana's macros and template variables into concrete PromQL
(``GRAFANA_VALUES``) so each query can be sent to Prometheus' HTTP API as it is.
``schema_problems`` checks the dashboard against Grafana's dashboard schema as published in the
``grafana-foundation-sdk`` package (its generated models).
"""

from __future__ import annotations

import enum
import json
import os
import re
import typing

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DASHBOARD_PATH = os.path.join(REPO_ROOT, "monitoring", "chaos-dashboard.json")

# What Grafana puts in place of each macro or variable, as a test sends it: a 1 h time range, a 1 m
# step, and the experiment variable's "All" (its allValue).
GRAFANA_VALUES = {
    "__range": "1h",
    "__rate_interval": "1m",
    "__interval": "1m",
    "experiment": ".*",
}
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")

# Keys Grafana's Prometheus datasource reads from an annotation query besides the schema's common
# ones (AnnotationQuery is open for datasource-specific keys; the generated model keeps only those).
PROMETHEUS_ANNOTATION_KEYS = {"step", "titleFormat", "textFormat", "tagKeys", "useValueForTime"}


def load_dashboard(path=DASHBOARD_PATH):
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def substitute(expr, values=None):
    """expr with every $name / ${name} replaced from values (GRAFANA_VALUES by default); KeyError if unknown."""
    values = GRAFANA_VALUES if values is None else values
    return _VARIABLE.sub(lambda match: values[match.group(1) or match.group(2)], expr)


def panel_queries(dashboard, values=None):
    """[(panel title, refId, PromQL with the macros and variables substituted)] of every panel target."""
    return [(panel["title"], target["refId"], substitute(target["expr"], values))
            for panel in dashboard.get("panels", []) for target in panel.get("targets", [])]


def annotation_queries(dashboard, values=None):
    """[(annotation name, PromQL)] of the annotation queries that read Prometheus."""
    return [(annotation["name"], substitute(annotation["expr"], values))
            for annotation in dashboard.get("annotations", {}).get("list", []) if "expr" in annotation]


def schema_problems(dashboard):
    """Every way the dashboard strays from Grafana's schema, as readable strings (empty: it conforms).

    The dashboard is loaded into grafana_foundation_sdk's models, generated from Grafana's schema. Their
    ``from_json`` silently drops keys the schema does not know, so a key that does not come back from
    ``to_json`` is unknown (or misspelt); a value the model holds must have the type it declares.
    """
    # pylint: disable=import-outside-toplevel  # the package is optional for the rest of this file
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.cog.plugins import register_default_plugins
    from grafana_foundation_sdk.models.dashboard import Dashboard

    register_default_plugins()
    try:
        model = Dashboard.from_json(dashboard)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        return ["the dashboard does not load into Grafana's model: %s: %s" % (type(exc).__name__, exc)]
    problems = []
    _compare(dashboard, json.loads(json.dumps(model, cls=JSONEncoder)), "", problems)
    _check_types(model, "", problems)
    return problems


def _allowed_extra(path, key):
    return re.fullmatch(r"annotations\.list\[\d+\]", path) is not None and key in PROMETHEUS_ANNOTATION_KEYS


def _compare(given, back, path, problems):
    if isinstance(given, dict):
        if not isinstance(back, dict):
            problems.append("%s: an object where the schema has %r" % (path or "<root>", back))
            return
        for key, value in given.items():
            where = "%s.%s" % (path, key) if path else key
            if key not in back:
                if not _allowed_extra(path, key):
                    problems.append("%s: not in Grafana's schema" % where)
            else:
                _compare(value, back[key], where, problems)
    elif isinstance(given, list):
        if not isinstance(back, list) or len(back) != len(given):
            problems.append("%s: the list did not survive the schema's model" % path)
            return
        for index, (item, item_back) in enumerate(zip(given, back)):
            _compare(item, item_back, "%s[%d]" % (path, index), problems)
    elif given != back:
        problems.append("%s: %r came back as %r" % (path, given, back))


def _is_model(value):
    return type(value).__module__.startswith("grafana_foundation_sdk.models.")


def _check_types(model, path, problems):
    for name, hint in typing.get_type_hints(type(model)).items():
        value = getattr(model, name, None)
        where = "%s.%s" % (path, name) if path else name
        if value is not None and not _matches(value, hint):
            problems.append("%s: %r is not %s" % (where, value, hint))
        for item_path, item in _children(value, where):
            if _is_model(item):
                _check_types(item, item_path, problems)


def _children(value, path):
    if isinstance(value, list):
        return [("%s[%d]" % (path, index), item) for index, item in enumerate(value)]
    if isinstance(value, dict):
        return [("%s.%s" % (path, key), item) for key, item in value.items()]
    return [(path, value)]


def _matches(value, hint):  # pylint: disable=too-many-return-statements
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint in (typing.Any, object):
        return True
    if origin is typing.Union:
        return any(_matches(value, arm) for arm in args)
    if origin is typing.Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and all(_matches(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(_matches(item, args[1]) for item in value.values())
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return isinstance(value, hint) or value in {member.value for member in hint}
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and (hint is float or value == int(value))
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True  # a hint this check does not know: the round trip above still covers its keys
