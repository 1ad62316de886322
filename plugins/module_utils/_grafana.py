# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP for the metrics sinks: the URL check, readable failures, the Pushgateway's request handler and
the Grafana region annotation, all through Ansible's ``urls.Request`` (proxies, TLS checks, basic auth).

Grafana's annotations HTTP API: ``POST /api/annotations`` with JSON ``time``/``timeEnd`` (epoch
milliseconds), ``tags``, ``text`` and an optional ``dashboardUID``; it answers ``{"id": n, "message":
"Annotation added"}``. No AnsibleModule objects here: every failure is a ``SinkError``.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import time
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import Request, make_context

from ._redact import redact_url

ANNOTATION_TAG = "sutazai-chaos"
BODY_SHOWN = 300


class SinkError(Exception):
    """One sink (Pushgateway, textfile folder, Grafana) could not take the metrics."""

    def __init__(self, msg):
        super().__init__(msg)
        self.msg = msg


def check_url(url, option):
    """The URL without a trailing slash; SinkError unless it is http(s)://host[:port][/path]."""
    shown = redact_url(url)  # never a password or token in a message
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # .port raises ValueError for a port that is no number
    except ValueError as exc:
        reason = "bad port" if "@" in url else exc  # urlsplit quotes the port, which may hold a password
        raise SinkError("%s %r is not a valid URL (%s); expected http(s)://host[:port][/path]" % (option, shown, reason))
    if parts.scheme not in ("http", "https") or not host:
        raise SinkError("%s %r is not an http:// or https:// URL with a host; expected http(s)://host[:port][/path]"
                        % (option, shown))
    if parts.username is not None or parts.password is not None:
        raise SinkError("%s must not carry credentials (user:password@); give them as options (no_log) instead"
                        % option)
    if parts.query or parts.fragment:
        raise SinkError("%s %r has a query or fragment; expected http(s)://host[:port][/path]" % (option, shown))
    return url.rstrip("/")


def http_failure(exc, what):
    """A one-line reason for a failed HTTP exchange (status and the start of the answer, or the network error)."""
    if isinstance(exc, HTTPError):
        try:
            body = exc.read().decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            body = ""
        reason = "%s answered HTTP %d %s" % (what, exc.code, exc.reason)
        return reason + (": " + body[:BODY_SHOWN] if body else "")
    if isinstance(exc, URLError):
        return "%s is unreachable: %s" % (what, exc.reason)
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "%s did not answer in time" % what
    return "%s failed: %s" % (what, exc)


# What a failed request may raise: urllib, the socket, TLS, http.client, and Request's own checks.
HTTP_ERRORS = (OSError, http.client.HTTPException, ValueError)


_CONTEXTS = {}


def _tls_context(url, validate_certs):
    """The TLS context for ``url``, made once per process.

    Ansible's Request builds a new one, loading the system CA store (about 35 ms), for every request, even over
    plain http. A plain http URL (redirects are not followed) gets a bare context that is never used.
    """
    key = "plain" if urlsplit(url).scheme != "https" else bool(validate_certs)
    if key not in _CONTEXTS:
        _CONTEXTS[key] = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT) if key == "plain" else make_context(
            validate_certs=validate_certs)
    return _CONTEXTS[key]


def send_request(method, url, data, headers, timeout, validate_certs=True, username=None, password=None):
    """One request through Ansible's Request (proxies, TLS checks, basic auth); returns the answer's body."""
    response = Request().open(method, url, data=data or None, headers=headers, timeout=timeout,
                              url_username=username, url_password=password, force_basic_auth=username is not None,
                              follow_redirects="none", use_netrc=False, context=_tls_context(url, validate_certs))
    with response:
        return response.read()


def push_handler(username=None, password=None, headers=None, validate_certs=True):
    """A prometheus_client push handler (``handler=`` of push_to_gateway) that sends through Ansible's Request."""
    extra = {str(k): str(v) for k, v in (headers or {}).items()}

    def handler(url, method, timeout, headers, data):
        def send():
            merged = dict(extra)
            merged.update(dict(headers))  # the protocol's Content-Type wins over a given header
            send_request(method, url, data, merged, timeout, validate_certs, username, password)
        return send
    return handler


def annotation_body(result, experiment, kind, service, dashboard_uid=None, now=None):
    """The JSON body of the region annotation, or None when the result has no injection time."""
    injected_at = result.get("injected_at")
    if not isinstance(injected_at, (int, float)) or isinstance(injected_at, bool):
        return None
    ended_at = result.get("fault_ended_at")
    if not isinstance(ended_at, (int, float)) or isinstance(ended_at, bool):
        ended_at = time.time() if now is None else now
    start_ms = int(round(injected_at * 1000))
    body = {
        "time": start_ms,
        "timeEnd": max(start_ms, int(round(ended_at * 1000))),
        "tags": [ANNOTATION_TAG, "experiment:%s" % experiment, "kind:%s" % kind, "target:%s" % service],
        "text": "%s: %s on %s, verdict %s" % (experiment, kind, service, result.get("verdict")),
    }
    if dashboard_uid:
        body["dashboardUID"] = dashboard_uid
    return body


def post_annotation(url, token, body, timeout, validate_certs=True):
    """POST the annotation; returns Grafana's id for it. SinkError on any failure."""
    endpoint = check_url(url, "grafana_url") + "/api/annotations"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if token:
        headers["Authorization"] = "Bearer %s" % token
    try:
        answer = send_request("POST", endpoint, json.dumps(body).encode("utf-8"), headers, timeout, validate_certs)
    except HTTPError as exc:
        if exc.code in (401, 403):
            raise SinkError("Grafana refused the token (HTTP %d) at %s; nothing was annotated" % (exc.code, endpoint))
        raise SinkError(http_failure(exc, "Grafana at %s" % endpoint))
    except HTTP_ERRORS as exc:
        raise SinkError(http_failure(exc, "Grafana at %s" % endpoint))
    try:
        return json.loads(answer.decode("utf-8")).get("id")
    except (ValueError, AttributeError, UnicodeDecodeError):
        return None  # annotated; Grafana's answer just did not carry an id we can read


def annotate_run(report, url, params, result, names, recorded, now, check_mode):
    """Annotate one run's fault window, once per run id (``recorded`` is its ``[id, annotated]`` or None).

    Fills ``report`` (sent, id, skipped); True when posted (or, in check mode, it would be). SinkError on failure.
    """
    body = annotation_body(result, *names, dashboard_uid=params.get("grafana_dashboard_uid"), now=now)
    if recorded is not None and recorded[1]:
        report["skipped"] = "run %s was annotated before" % recorded[0]
    elif body is None:
        report["skipped"] = "the result has no injected_at: there is no fault window to annotate"
    elif not check_mode:
        report["id"] = post_annotation(url, params.get("grafana_token"), body, params.get("timeout") or 5.0,
                                       params.get("validate_certs", True))
        report["sent"] = True
        if recorded is not None:
            recorded[1] = True
    return report["skipped"] is None
