# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Webhook notifications: the message (a generic JSON shape plus a Slack-compatible ``text``), the webhooks
as the inventory gives them, and posting to all of them at once.

A webhook never blocks nor fails an experiment: every webhook is posted in its own daemon thread, the caller
waits at most each webhook's timeout (plus a little), and every failure (refused, HTTP error, unknown name,
no answer in time, a bad entry) becomes that webhook's ``error``, redacted: ``notify`` never raises.
Standard library only (``urllib``); no Ansible objects, so all of it is testable without Ansible.
"""

from __future__ import annotations

import base64
import datetime
import http.client
import json
import socket
import ssl
import threading
import time
import urllib.request
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlsplit, urlunsplit

from ._redact import HARMLESS_LENGTH, MASK, SECRET_NAME, redact, redact_text, redact_url, url_secrets

EVENTS = ("experiment_started", "experiment_ended", "experiment_rolled_back", "emergency_stop")
TOOL = "sutazai.chaos"
DEFAULT_TIMEOUT = 3.0
# Beyond its timeout a webhook's thread gets this long to report before it is given up (it is a daemon thread).
GRACE_SECONDS = 0.25
BODY_SHOWN = 200
HOOK_KEYS = ("url", "headers", "timeout", "events")
USER_AGENT = "sutazai.chaos-notify"


class HookError(Exception):
    """One webhook entry that cannot be posted to (its message is shown; it holds no secret)."""


# ---------------------------------------------------------------------------------------------- the message

def _seconds(value):
    return ("%.1f" % value).rstrip("0").rstrip(".") if isinstance(value, (int, float)) else None


def slack_escape(text):
    """Text safe for Slack's mrkdwn: its three control characters escaped, as Slack asks."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_text(message):
    """One line a person reads in a channel, for every event."""
    name = message.get("experiment") or message.get("experiment_id") or "chaos"
    where = " on %s" % message["host"] if message.get("host") else ""
    event = message["event"]
    reason = message.get("reason")
    undone = message.get("undone") or []
    undone_text = "undone: %s" % ", ".join(undone) if undone else "nothing was active"
    if event == "experiment_started":
        line = "Chaos experiment %s started%s (id %s)" % (name, where, message.get("experiment_id"))
    elif event == "experiment_ended":
        verdict = message.get("verdict") or "no verdict"
        recovered = _seconds(message.get("recovery_seconds"))
        line = "Chaos experiment %s%s ended: %s" % (name, where, verdict)
        line += ", recovered in %s s" % recovered if recovered is not None else ""
        line += " (%s)" % reason if reason and verdict != "PASS" else ""
        line += ". Report: %s" % message["report"] if message.get("report") else ""
    elif event == "experiment_rolled_back":
        line = "Chaos experiment %s%s was rolled back: %s; %s" % (name, where, reason or "it failed", undone_text)
    else:
        line = "EMERGENCY STOP of all chaos%s: %s; %s" % (where, reason or "no reason given", undone_text)
    return slack_escape(" ".join(line.split()))


def build_message(event, experiment_id=None, experiment=None, host=None, verdict=None, reason=None,
                  recovery_seconds=None, result=None, report=None, undone=None, at=None):
    """The JSON message of one event: always the same keys (null when not known) and a Slack ``text``.

    ``result`` and ``report`` are the paths of the result file (results/<id>.json) and its HTML report;
    ``undone`` what a rollback or an emergency stop undid (``kind on target`` strings). Anything that looks like
    a secret (a URL's password or token, a Bearer credential) is redacted.
    """
    if event not in EVENTS:
        raise ValueError("event %r is not one of %s" % (event, ", ".join(EVENTS)))
    if at is None:
        at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    message = redact({
        "event": event, "tool": TOOL, "experiment_id": experiment_id, "experiment": experiment, "host": host,
        "verdict": verdict, "reason": reason, "recovery_seconds": recovery_seconds,
        "result": result, "report": report, "undone": list(undone or []), "at": at,
    })
    message["text"] = slack_text(message)
    return message


# ---------------------------------------------------------------------------------------------- the webhooks

def _check_url(url):
    """The URL shown in messages; HookError unless it is http(s)://host..."""
    if not isinstance(url, str) or not url.strip():
        raise HookError("a webhook needs a url (http:// or https://), got %r" % (redact(url),))
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # .port raises ValueError for a port that is no number
    except ValueError:
        raise HookError("%s is not a valid URL; expected http(s)://host[:port]/path" % shown) from None
    if parts.scheme not in ("http", "https") or not host:
        raise HookError("%s is not an http:// or https:// URL with a host" % shown)
    return shown


def hook_from(entry, default_timeout=DEFAULT_TIMEOUT):
    """One inventory entry (a URL, or a dict ``url``, ``headers``, ``timeout``, ``events``) as a dict of all
    four (``events`` None: every event); HookError (naming the URL without its secrets) when it is wrong."""
    if isinstance(entry, str):
        entry = {"url": entry}
    if not isinstance(entry, dict):
        raise HookError("a webhook is a URL or a dict with url, headers, timeout, events; got a %s"
                        % type(entry).__name__)
    shown = _check_url(entry.get("url"))
    unknown = sorted(str(key) for key in entry if key not in HOOK_KEYS)
    if unknown:
        raise HookError("webhook %s: unknown key(s) %s; expected %s" % (shown, ", ".join(unknown), ", ".join(HOOK_KEYS)))
    headers = entry.get("headers") or {}
    if not isinstance(headers, dict):
        raise HookError("webhook %s: headers must be a dict of names to values" % shown)
    timeout = entry.get("timeout")
    try:
        timeout = -1.0 if isinstance(timeout, bool) else float(default_timeout if timeout is None else timeout)
    except (TypeError, ValueError):
        timeout = -1.0
    if not 0 < timeout < float("inf"):
        raise HookError("webhook %s: timeout must be a number of seconds above 0" % shown)
    events = entry.get("events")
    if events is not None:
        if isinstance(events, str):
            events = [events]
        wrong = [str(e) for e in events if e not in EVENTS] if isinstance(events, list) else [str(events)]
        if wrong:
            raise HookError("webhook %s: unknown event(s) %s; expected some of %s"
                            % (shown, ", ".join(wrong), ", ".join(EVENTS)))
    url, headers = _credentials_to_header(entry["url"], {str(k): str(v) for k, v in headers.items()})
    return {"url": url, "shown": shown, "headers": headers, "timeout": timeout, "events": events}


def _credentials_to_header(url, headers):
    """``(url, headers)`` with a URL's ``user:password@`` moved into an ``Authorization: Basic`` header (urllib
    cannot post to such a URL); a given Authorization header wins."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, headers
    pair = "%s:%s" % (unquote(parts.username or ""), unquote(parts.password or ""))
    headers = dict(headers)
    if not any(name.lower() == "authorization" for name in headers):
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
    netloc = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), headers


def secrets_of(entries):
    """The secret strings of the webhook entries as given: URL passwords, tokens and webhook path secrets, and
    the header values (all but short ones under harmless names, as for probes). What output must never show."""
    found = set()
    for entry in entries or []:
        if isinstance(entry, str):
            entry = {"url": entry}
        if not isinstance(entry, dict):
            continue
        found |= url_secrets(entry.get("url"))
        headers = entry.get("headers")
        for name, value in (headers.items() if isinstance(headers, dict) else []):
            value = str(value)
            if value and (SECRET_NAME.search(str(name)) or len(value) > HARMLESS_LENGTH):
                found.add(value)
    return found


def hide(text, secrets):
    """``text`` with URLs and credentials redacted and every known secret masked (longest first)."""
    text = redact_text(text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


# ---------------------------------------------------------------------------------------------- posting

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not a new place to post (urllib would turn the POST into a bodyless GET)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # pylint: disable=too-many-arguments
        return None


def _opener(validate_certs):
    """``open(request, timeout)`` through urllib: environment proxies, TLS checks, no redirects."""
    context = ssl.create_default_context()
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    director = urllib.request.build_opener(_NoRedirect(), urllib.request.HTTPSHandler(context=context))
    return lambda request, timeout: director.open(request, timeout=timeout)


def failure(exc, timeout):
    """A one-line reason for a failed post (status and the start of the answer, or the network error)."""
    if isinstance(exc, HTTPError):
        try:
            body = " ".join(exc.read(BODY_SHOWN).decode("utf-8", "replace").split())
        except (OSError, http.client.HTTPException):
            body = ""
        return "answered HTTP %d %s%s" % (exc.code, exc.reason, (": " + body) if body else "")
    reason = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "no answer within %s s" % _seconds(timeout)
    if isinstance(reason, socket.gaierror):
        return "unknown host name (%s)" % (reason.strerror or reason)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return "failed: %s" % (getattr(reason, "strerror", None) or reason)


def post(hook, body, opener):
    """POST ``body`` (bytes) to one webhook; returns ``(status, error)``. Raises nothing."""
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    headers.update(hook["headers"])
    try:
        request = urllib.request.Request(hook["url"], data=body, headers=headers, method="POST")
        with opener(request, hook["timeout"]) as answer:
            answer.read(BODY_SHOWN)
            return answer.status, None
    except HTTPError as exc:
        return exc.code, failure(exc, hook["timeout"])
    except Exception as exc:  # pylint: disable=broad-except  # a webhook must never fail the experiment
        return None, failure(exc, hook["timeout"])


def notify(entries, message, default_timeout=DEFAULT_TIMEOUT, validate_certs=True, check_mode=False, opener=None):
    """Post ``message`` to every webhook entry at once; returns one report per entry, in order:
    ``url`` (redacted), ``sent``, ``status``, ``error`` (redacted), ``seconds`` and ``skipped`` (why it was
    not posted to: not subscribed to the event, check mode). Waits at most each webhook's timeout (plus
    GRACE_SECONDS); never raises."""
    secrets = secrets_of(entries)
    body = json.dumps(message).encode("utf-8")
    if opener is None:
        opener = _opener(validate_certs)
    reports, threads = [], []
    started = time.monotonic()
    for entry in entries or []:
        report = {"url": None, "sent": False, "status": None, "error": None, "seconds": 0.0, "skipped": None}
        reports.append(report)
        try:
            hook = hook_from(entry, default_timeout)
        except HookError as exc:
            report["url"] = redact_url(entry.get("url")) if isinstance(entry, dict) else redact_url(entry)
            report["error"] = hide(str(exc), secrets)
            continue
        report["url"] = hook["shown"]
        secrets |= secrets_of([{"headers": hook["headers"]}])  # with a Basic header made from the URL
        if hook["events"] is not None and message["event"] not in hook["events"]:
            report["skipped"] = "not subscribed to %s" % message["event"]
        elif check_mode:
            report["skipped"] = "check mode"
        else:
            outcome = {}
            thread = threading.Thread(target=_post_into, args=(outcome, hook, body, opener), daemon=True)
            thread.start()
            threads.append((thread, hook, report, outcome))
    for thread, hook, report, outcome in threads:
        thread.join(max(0.0, started + hook["timeout"] + GRACE_SECONDS - time.monotonic()))
        done = dict(outcome)  # a thread given up on may still write into its own dict later, never here
        if "status" not in done:
            done = {"status": None, "error": "no answer within %s s" % _seconds(hook["timeout"]),
                    "seconds": time.monotonic() - started}
        report["status"] = done["status"]
        report["error"] = hide(done["error"], secrets) if done["error"] else None
        report["sent"] = done["error"] is None
        report["seconds"] = round(done["seconds"], 3)
    return reports


def _post_into(outcome, hook, body, opener):
    """A thread's work: post, then fill ``outcome`` (status, error, seconds) in one step."""
    began = time.monotonic()
    status, error = post(hook, body, opener)
    outcome.update({"status": status, "error": error, "seconds": time.monotonic() - began})


def warnings_for(reports, event):
    """One warning per webhook that was due this message and did not get it."""
    return ["Webhook %s was not notified of %s: %s (a webhook never fails the run)" % (r["url"], event, r["error"])
            for r in reports if r["error"]]
