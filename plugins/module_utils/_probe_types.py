# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One probe of each kind (http, tcp, container, command, prometheus): validation and a single check.

Every check returns ``(healthy, detail, extra)``; ``extra`` is a dict merged into the probe's result.
Faults of the probed system are answers (unhealthy), never exceptions; mistakes in the probe's
definition are found by ``validate_probe`` before any probe runs.
"""

from __future__ import annotations

import json
import math
import operator
import re
import socket
import time
import traceback
import urllib.error
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.urls import open_url

from ._common import ChaosError
from ._redact import redact_url

try:
    import jmespath
    from jmespath.exceptions import JMESPathError
    HAS_JMESPATH = True
    JMESPATH_IMPORT_ERROR = None
except ImportError:  # only probes with json_query need it
    jmespath = None
    JMESPathError = Exception
    HAS_JMESPATH = False
    JMESPATH_IMPORT_ERROR = traceback.format_exc()

PROBE_TYPES = ("http", "tcp", "container", "command", "prometheus")
COMPARATORS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
               "==": operator.eq, "!=": operator.ne}
BODY_LIMIT = 65536
JSON_BODY_LIMIT = 1 << 20  # a JSON document cut in the middle cannot be parsed: read more of it
DETAIL_LIMIT = 200


# ------------------------------------------------------------------ validation

def _check_url(name, what, url):
    shown = redact_url(url)  # a URL may carry credentials: never in a message
    try:
        parts = urlsplit(url or "")
    except ValueError as exc:
        raise ChaosError("probe %s: %s %r is not a valid URL: %s" % (name, what, shown, exc))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChaosError("probe %s: %s %r is not an http(s) URL with a host" % (name, what, shown))
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:  # its message quotes the port, which urlsplit may have taken from a password
        raise ChaosError("probe %s: %s %r has a bad port (a number from 0 to 65535 expected)" % (name, what, shown))


def _check_regex(name, what, pattern):
    if pattern:
        try:
            re.compile(pattern)
        except (re.error, OverflowError, RecursionError) as exc:
            raise ChaosError("probe %s: %s is not a valid regular expression: %s" % (name, what, exc))


def compile_json_query(expression, name="?"):
    """The compiled JMESPath expression (ChaosError when jmespath is missing or the expression is invalid)."""
    if not HAS_JMESPATH:
        raise ChaosError("probe %s: json_query needs jmespath. %s" % (name, missing_required_lib("jmespath")),
                         exception=JMESPATH_IMPORT_ERROR)
    try:
        return jmespath.compile(expression)
    except JMESPathError as exc:
        raise ChaosError("probe %s: json_query %r is not a valid JMESPath expression: %s"
                         % (name, expression, " ".join(str(exc).split())))


def _validate_http(probe, name):
    _check_url(name, "url", probe.get("url"))
    _check_regex(name, "body_regex", probe.get("body_regex"))
    if probe.get("json_query") is not None:
        if not str(probe["json_query"]).strip():
            raise ChaosError("probe %s: json_query is empty" % name)
        compile_json_query(probe["json_query"], name)
    elif probe.get("expect") is not None:
        raise ChaosError("probe %s: expect is only used with json_query" % name)
    if probe.get("max_latency_ms") is not None and probe["max_latency_ms"] <= 0:
        raise ChaosError("probe %s: max_latency_ms must be above 0, got %s" % (name, probe["max_latency_ms"]))


def _validate_tcp(probe, name):
    if not probe.get("host") or not isinstance(probe.get("port"), int) or not 0 < probe["port"] < 65536:
        raise ChaosError("probe %s: a tcp probe needs host and a port between 1 and 65535" % name)


def _validate_container(probe, name):
    if not probe.get("container"):
        raise ChaosError("probe %s: a container probe needs container (a name or id)" % name)
    if probe.get("max_restarts") is not None and probe["max_restarts"] < 0:
        raise ChaosError("probe %s: max_restarts must be 0 or more, got %s" % (name, probe["max_restarts"]))


def _validate_command(probe, name):
    argv = probe.get("argv")
    if not argv or not isinstance(argv, (list, tuple)) or not all(isinstance(a, str) for a in argv) or not argv[0]:
        raise ChaosError("probe %s: a command probe needs argv, a list of strings such as [pg_isready, -h, 127.0.0.1]"
                         % name)
    if probe.get("rc") is not None and not isinstance(probe["rc"], int):
        raise ChaosError("probe %s: rc must be an integer, got %r" % (name, probe["rc"]))
    _check_regex(name, "stdout_regex", probe.get("stdout_regex"))


def _validate_prometheus(probe, name):
    _check_url(name, "prometheus_url", probe.get("prometheus_url"))
    if not (probe.get("query") or "").strip():
        raise ChaosError("probe %s: a prometheus probe needs query (PromQL, for example: up{job=\"api\"})" % name)
    if probe.get("comparator") not in COMPARATORS:
        raise ChaosError("probe %s: comparator %r is not one of %s"
                         % (name, probe.get("comparator"), ", ".join(COMPARATORS)))
    threshold = probe.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise ChaosError("probe %s: a prometheus probe needs threshold (a number), got %r" % (name, threshold))


VALIDATORS = {"http": _validate_http, "tcp": _validate_tcp, "container": _validate_container,
              "command": _validate_command, "prometheus": _validate_prometheus}


def validate_probe(probe):
    """Raise ChaosError for a probe that can never work; returns the probe."""
    kind = probe.get("type")
    name = probe.get("name") or "?"
    if kind not in PROBE_TYPES:
        raise ChaosError("probe %s: unknown type %r (expected one of %s)" % (name, kind, ", ".join(PROBE_TYPES)))
    VALIDATORS[kind](probe, name)
    return probe


# ------------------------------------------------------------------ http

def _short(value):
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= DETAIL_LIMIT else text[:DETAIL_LIMIT] + "..."


def evaluate_json_query(expression, body, expect=None):
    """``(ok, detail)``: the JMESPath result must equal ``expect`` (or be truthy when ``expect`` is None)."""
    try:
        document = json.loads(body)
    except ValueError as exc:
        return False, "the body is not JSON (%s)" % exc
    compiled = compile_json_query(expression)
    try:
        found = compiled.search(document)
    except JMESPathError as exc:
        return False, "json_query %r failed: %s" % (expression, " ".join(str(exc).split()))
    if expect is None:
        if found:
            return True, "%s is %s" % (expression, _short(found))
        return False, "%s is %s (expected a truthy value)" % (expression, _short(found))
    if found == expect and isinstance(found, bool) == isinstance(expect, bool):  # True is not 1
        return True, "%s is %s" % (expression, _short(found))
    return False, "%s is %s (expected %s)" % (expression, _short(found), _short(expect))


def http_check(probe, timeout, **_ignored):
    started = time.monotonic()
    limit = JSON_BODY_LIMIT if probe.get("json_query") is not None else BODY_LIMIT
    try:
        # no netrc credentials and no transparent gunzip: the probe sees what a plain client sees
        with open_url(probe["url"], method=probe.get("method") or "GET", headers=probe.get("headers") or {},
                      timeout=timeout, validate_certs=probe.get("validate_certs", True), use_netrc=False,
                      decompress=False) as response:
            status, body = response.status, response.read(limit).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(limit).decode("utf-8", "replace")
    took_ms = (time.monotonic() - started) * 1000.0
    expected = probe.get("status") or [200]
    if status not in expected:
        return False, "HTTP %s (expected %s)" % (status, expected), {}
    if probe.get("body_regex") and not re.search(probe["body_regex"], body):
        return False, "HTTP %s but the body does not match %r" % (status, probe["body_regex"]), {}
    detail = "HTTP %s" % status
    if probe.get("json_query") is not None:
        ok, found = evaluate_json_query(probe["json_query"], body, probe.get("expect"))
        if not ok:
            return False, "HTTP %s but %s" % (status, found), {}
        detail += ", " + found
    if probe.get("max_latency_ms") is not None and took_ms > probe["max_latency_ms"]:
        return False, "HTTP %s but too slow: %.1f ms (max_latency_ms %s)" % (status, took_ms, probe["max_latency_ms"]), {}
    return True, detail, {}


# ------------------------------------------------------------------ tcp, container, command

def tcp_check(probe, timeout, **_ignored):
    with socket.create_connection((probe["host"], probe["port"]), timeout=timeout):
        return True, "connected", {}


def container_check(probe, timeout, client=None, **_ignored):
    from ._docker import inspect  # only container probes need the Docker SDK

    if client is None:
        raise ChaosError("probe %s: container probes need the Docker engine" % probe.get("name"))
    info = inspect(client, probe["container"])
    if info is None:
        return False, "no such container", {}
    container = client.containers.get(info["id"])
    health = ((container.attrs.get("State") or {}).get("Health") or {}).get("Status")
    restarts = info.get("restart_count") or 0
    extra = {"restart_count": restarts}
    counted = "restart_count %d" % restarts
    if info["status"] != "running":
        return False, "status %s, %s" % (info["status"], counted), extra
    if health not in (None, "healthy"):
        return False, "health %s, %s" % (health, counted), extra
    if probe.get("max_restarts") is not None and restarts > probe["max_restarts"]:
        return False, "running but %s (above max_restarts %d)" % (counted, probe["max_restarts"]), extra
    return True, "running%s, %s" % (", healthy" if health else "", counted), extra


def command_check(probe, timeout, runner=None, **_ignored):
    """``runner(argv, timeout) -> (rc, stdout, stderr)`` (the module's run_command; none here)."""
    if runner is None:
        raise ChaosError("probe %s: command probes need a command runner" % probe.get("name"))
    rc, out, err = runner(list(probe["argv"]), timeout)
    want = 0 if probe.get("rc") is None else probe["rc"]
    extra = {"rc": rc}
    if rc != want:
        tail = " ".join((err or out or "").split())[-DETAIL_LIMIT:]
        return False, "rc %s (expected %s)%s" % (rc, want, ": " + tail if tail else ""), extra
    if probe.get("stdout_regex") and not re.search(probe["stdout_regex"], out or ""):
        return False, "rc %s but stdout does not match %r" % (rc, probe["stdout_regex"]), extra
    return True, "rc %s" % rc, extra


# ------------------------------------------------------------------ prometheus

class PrometheusError(Exception):
    """Prometheus answered, but not with numbers (error status, unknown shape)."""


def _sample_value(pair):
    try:
        return float(pair[1])  # values come as strings: "1", "NaN", "+Inf"
    except (TypeError, ValueError, IndexError, KeyError):
        raise PrometheusError("a sample is not [time, number]: %s" % _short(pair))


def parse_prometheus_response(document):
    """``[(labels, value), ...]`` from an /api/v1/query answer; raises PrometheusError for an error answer."""
    if not isinstance(document, dict):
        raise PrometheusError("the answer is not a JSON object")
    if document.get("status") != "success":
        kind = document.get("errorType") or document.get("status")
        raise PrometheusError("query failed: %s: %s" % (kind, document.get("error") or "no error text"))
    data = document.get("data") or {}
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return [({}, _sample_value(result))]
    if kind == "vector":
        return [(item.get("metric") or {}, _sample_value(item.get("value"))) for item in result or []]
    if kind == "matrix":  # a range selector: every point of every series counts
        return [(item.get("metric") or {}, _sample_value(pair)) for item in result or [] for pair in item.get("values") or []]
    raise PrometheusError("result type %r is not a number (expected vector, scalar or matrix)" % kind)


def series_name(labels):
    name = labels.get("__name__", "")
    rest = ",".join('%s="%s"' % (k, v) for k, v in sorted(labels.items()) if k != "__name__")
    return "%s{%s}" % (name, rest) if rest or not name else name


def judge_samples(samples, comparator, threshold):
    """``(healthy, detail)``: healthy when there is data and every sample satisfies ``value <comparator> threshold``."""
    if not samples:
        return False, "no data (the query returned no samples)"
    compare = COMPARATORS[comparator]
    failing = [(labels, value) for labels, value in samples if math.isnan(value) or not compare(value, threshold)]
    if not failing:
        values = sorted({value for _labels, value in samples})
        shown = ", ".join("%g" % v for v in values[:5]) + (", ..." if len(values) > 5 else "")
        return True, "%d sample(s) %s %g (values %s)" % (len(samples), comparator, threshold, shown)
    shown = "; ".join("%s = %g" % (series_name(labels), value) for labels, value in failing[:3])
    more = "; ..." if len(failing) > 3 else ""
    return False, "%d of %d sample(s) not %s %g: %s%s" % (len(failing), len(samples), comparator, threshold, shown, more)


def prometheus_check(probe, timeout, **_ignored):
    url = probe["prometheus_url"].rstrip("/") + "/api/v1/query?" + urlencode({"query": probe["query"]})
    base = redact_url(probe["prometheus_url"])  # how it is named in details
    try:
        with open_url(url, method="GET", headers=probe.get("headers") or {}, timeout=timeout,
                      validate_certs=probe.get("validate_certs", True), use_netrc=False) as response:
            raw = response.read(JSON_BODY_LIMIT)
    except urllib.error.HTTPError as exc:
        raw = exc.read(JSON_BODY_LIMIT)  # a bad query is HTTP 400 with an error document
        if not raw.lstrip().startswith(b"{"):
            return False, "Prometheus at %s answered HTTP %s" % (base, exc.code), {}
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, "Prometheus at %s is unreachable: %s" % (base, reason), {}
    try:
        samples = parse_prometheus_response(json.loads(raw.decode("utf-8", "replace")))
    except ValueError as exc:
        return False, "Prometheus at %s did not answer JSON: %s" % (base, exc), {}
    except (AttributeError, TypeError) as exc:
        return False, "Prometheus at %s answered in an unknown shape: %s" % (base, exc), {}
    except PrometheusError as exc:
        return False, "Prometheus at %s: %s" % (base, exc), {}
    healthy, detail = judge_samples(samples, probe["comparator"], float(probe["threshold"]))
    return healthy, detail, {"samples": len(samples)}


CHECKS = {"http": http_check, "tcp": tcp_check, "container": container_check, "command": command_check,
          "prometheus": prometheus_check}


def command_runner(module, probes):
    """``run(argv, timeout) -> (rc, out, err)`` for command probes (None without any); each command is found now."""
    commands = [p for p in probes if p["type"] == "command"]
    if not commands:
        return None
    for probe in commands:
        if "/" not in probe["argv"][0] and not module.get_bin_path(probe["argv"][0]):
            raise ChaosError("probe %s: command %r not found in PATH" % (probe["name"], probe["argv"][0]))
    timeout_bin = module.get_bin_path("timeout")

    def run(argv, timeout):
        if timeout_bin:  # run_command has no timeout of its own; a hung command must not hold the poll
            argv = [timeout_bin, "--kill-after=1", "%g" % timeout] + argv
        return module.run_command(argv, environ_update={"LC_ALL": "C"}, expand_user_and_vars=False,
                                  handle_exceptions=False)
    return run


# The URLs are no_log so that a task refused by Ansible's own validation (before the module's code runs) shows
# none of their credentials; once the arguments are valid, _redact.mask_in_module shows them again, masking only
# their secret parts.
PROBE_OPTIONS = dict(  # documented in plugins/doc_fragments/probes.py
    name=dict(type="str"),
    type=dict(type="str", required=True, choices=list(PROBE_TYPES)),
    url=dict(type="str", no_log=True),
    method=dict(type="str", default="GET"),
    headers=dict(type="dict", no_log=True),
    status=dict(type="list", elements="int", default=[200]),
    body_regex=dict(type="str"),
    json_query=dict(type="str"),
    expect=dict(type="raw"),
    max_latency_ms=dict(type="float"),
    validate_certs=dict(type="bool", default=True),
    host=dict(type="str"),
    port=dict(type="int"),
    container=dict(type="str"),
    max_restarts=dict(type="int"),
    argv=dict(type="list", elements="str"),
    rc=dict(type="int", default=0),
    stdout_regex=dict(type="str"),
    prometheus_url=dict(type="str", no_log=True),
    query=dict(type="str"),
    comparator=dict(type="str", choices=list(COMPARATORS)),
    threshold=dict(type="float"),
)

PROBES_ARG_SPEC = dict(probes=dict(type="list", elements="dict", default=[], options=PROBE_OPTIONS))
