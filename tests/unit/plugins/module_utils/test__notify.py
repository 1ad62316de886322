# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Webhook notifications: the message, the Slack line, redaction, timeouts and parallel posting, against
local HTTP servers on 127.0.0.1 (a name lookup failure is simulated: no outside name is ever resolved)."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
import time
from urllib.error import URLError

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _notify
from ansible_collections.sutazai.chaos.plugins.module_utils._notify import (
    EVENTS,
    HookError,
    build_message,
    hook_from,
    notify,
    secrets_of,
    warnings_for,
)
from ansible_collections.sutazai.chaos.plugins.module_utils._redact import MASK

AT = "2026-01-01T10:15:42+00:00"
KEYS = {"event", "tool", "experiment_id", "experiment", "host", "verdict", "reason", "recovery_seconds", "result",
        "report", "undone", "at", "text"}


# ---------------------------------------------------------------------------------------------- a local server

class Recorder(http.server.ThreadingHTTPServer):
    """Records every POST (path, headers, JSON body); answers ``status`` after ``delay`` seconds."""

    daemon_threads = True

    def __init__(self, status=200, delay=0.0):
        self.status, self.delay, self.requests = status, delay, []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self):
        return "http://127.0.0.1:%d/hook" % self.server_address[1]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": json.loads(body)})
        time.sleep(self.server.delay)
        try:
            self.send_response(self.server.status)
            self.send_header("Content-Length", "25")
            self.end_headers()
            self.wfile.write(b"echo Bearer sekrit-123456")
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture
def servers():
    made = []

    def make(status=200, delay=0.0):
        made.append(Recorder(status, delay))
        return made[-1]
    yield make
    for server in made:
        server.shutdown()
        server.server_close()


def refused_url():
    """A 127.0.0.1 port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d/hook" % sock.getsockname()[1]


def started():
    return build_message("experiment_started", experiment_id="redis-crash-1", experiment="redis-crash",
                         host="docker1", at=AT)


# ---------------------------------------------------------------------------------------------- the message

def test_every_event_has_the_same_keys_and_a_one_line_text():
    for event in EVENTS:
        message = build_message(event, at=AT)
        assert set(message) == KEYS
        assert message["event"] == event and message["tool"] == "sutazai.chaos" and message["at"] == AT
        assert message["text"] and "\n" not in message["text"]


def test_ended_carries_verdict_mttr_and_both_paths():
    message = build_message("experiment_ended", experiment_id="redis-crash-1", experiment="redis-crash",
                            host="docker1", verdict="PASS", reason="every check held", recovery_seconds=1.37,
                            result="/r/redis-crash-1.json", report="/r/redis-crash-1.html", at=AT)
    assert message["verdict"] == "PASS" and message["recovery_seconds"] == 1.37
    assert message["result"] == "/r/redis-crash-1.json" and message["report"] == "/r/redis-crash-1.html"
    assert message["text"] == ("Chaos experiment redis-crash on docker1 ended: PASS, recovered in 1.4 s. "
                               "Report: /r/redis-crash-1.html")


@pytest.mark.parametrize("event, fields, text", [
    ("experiment_started", {"experiment_id": "x-1", "experiment": "x", "host": "h"},
     "Chaos experiment x started on h (id x-1)"),
    ("experiment_ended", {"experiment": "x", "host": "h", "verdict": "FAIL", "reason": "took 9 s > 5 s"},
     "Chaos experiment x on h ended: FAIL (took 9 s &gt; 5 s)"),
    ("experiment_rolled_back", {"experiment": "x", "host": "h", "reason": "emergency-stop flag set",
                                "undone": ["network on redis"]},
     "Chaos experiment x on h was rolled back: emergency-stop flag set; undone: network on redis"),
    ("experiment_rolled_back", {"experiment_id": "x-1", "reason": "boom"},
     "Chaos experiment x-1 was rolled back: boom; nothing was active"),
    ("emergency_stop", {"host": "h", "reason": "INC-4711 <b>", "undone": ["container on redis", "network on db"]},
     "EMERGENCY STOP of all chaos on h: INC-4711 &lt;b&gt;; undone: container on redis, network on db"),
])
def test_slack_text_per_event(event, fields, text):
    assert build_message(event, at=AT, **fields)["text"] == text


def test_an_unknown_event_is_refused():
    with pytest.raises(ValueError, match="experiment_started"):
        build_message("experiment_exploded")


def test_secrets_in_the_reason_are_redacted_everywhere():
    message = build_message("experiment_rolled_back", reason="probe http://u:pw0rd@127.0.0.1/x failed; Bearer abc.def",
                            at=AT)
    assert "pw0rd" not in json.dumps(message) and "abc.def" not in json.dumps(message)
    assert MASK in message["reason"] and MASK in message["text"]


# ---------------------------------------------------------------------------------------------- the entries

def test_entries_are_urls_or_dicts():
    assert hook_from("http://127.0.0.1/h", 2) == {"url": "http://127.0.0.1/h", "shown": "http://127.0.0.1/h",
                                                  "headers": {}, "timeout": 2.0, "events": None}
    hook = hook_from({"url": "https://127.0.0.1/h?token=t", "headers": {"X-N": 1}, "timeout": "1.5",
                      "events": "emergency_stop"})
    assert hook == {"url": "https://127.0.0.1/h?token=t", "shown": "https://127.0.0.1/h?token=" + MASK,
                    "headers": {"X-N": "1"}, "timeout": 1.5, "events": ["emergency_stop"]}


def test_credentials_in_a_url_are_sent_as_basic_auth():
    hook = hook_from("http://bot:p%40ss@127.0.0.1:8080/h")
    assert hook["url"] == "http://127.0.0.1:8080/h" and hook["shown"] == "http://bot:%s@127.0.0.1:8080/h" % MASK
    assert hook["headers"] == {"Authorization": "Basic " + base64.b64encode(b"bot:p@ss").decode()}
    given = hook_from({"url": "http://bot:x@127.0.0.1/", "headers": {"authorization": "Bearer t"}})
    assert given["headers"] == {"authorization": "Bearer t"}


@pytest.mark.parametrize("entry, expected", [
    (42, "a webhook is a URL or a dict"),
    ({"headers": {}}, "a webhook needs a url"),
    ("ftp://127.0.0.1/x", "ftp://127.0.0.1/x is not an http:// or https:// URL"),
    ("http://u:pw0rd@127.0.0.1:notaport/", "is not a valid URL"),
    ({"url": "http://127.0.0.1/", "token": "x"}, "unknown key(s) token"),
    ({"url": "http://127.0.0.1/", "timeout": 0}, "timeout must be a number of seconds above 0"),
    ({"url": "http://127.0.0.1/", "timeout": "soon"}, "timeout must be a number of seconds above 0"),
    ({"url": "http://127.0.0.1/", "events": ["started"]}, "unknown event(s) started"),
    ({"url": "http://127.0.0.1/", "headers": ["a"]}, "headers must be a dict"),
])
def test_bad_entries_are_named(entry, expected):
    with pytest.raises(HookError) as caught:
        hook_from(entry)
    assert expected in str(caught.value) and "pw0rd" not in str(caught.value)


def test_secrets_of_entries():
    entries = ["https://hooks.slack.com/services/T0/B0/slackSecretXYZ",
               {"url": "http://bot:pw0rd@127.0.0.1/?token=tok1",
                "headers": {"Authorization": "Bearer hdr-secret", "X-Debug": "1"}}, 7]
    assert secrets_of(entries) == {"slackSecretXYZ", "pw0rd", "tok1", "Bearer hdr-secret"}


# ---------------------------------------------------------------------------------------------- posting

def test_posts_the_message_as_json_with_the_given_headers(servers):
    server = servers()
    reports = notify([{"url": server.url + "?x=1", "headers": {"Authorization": "Bearer t0k"}}], started())
    assert reports == [{"url": server.url + "?x=1", "sent": True, "status": 200, "error": None,
                        "seconds": reports[0]["seconds"], "skipped": None}]
    (request,) = server.requests
    assert request["body"] == started() and request["path"] == "/hook?x=1"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["Authorization"] == "Bearer t0k"


def test_failures_are_reported_redacted_and_never_raised(servers):
    failing = servers(status=500)
    secret_url = failing.url.replace("http://", "http://bot:pw0rd@") + "?token=tok1"
    entries = [{"url": secret_url, "headers": {"X-Api-Key": "sekrit-123456"}}, refused_url(), "gopher://x/", 42]
    reports = notify(entries, started(), default_timeout=2)
    assert [r["sent"] for r in reports] == [False] * 4
    assert reports[0]["status"] == 500 and reports[0]["error"].startswith("answered HTTP 500")
    assert failing.requests[0]["headers"]["Authorization"] == "Basic " + base64.b64encode(b"bot:pw0rd").decode()
    assert reports[0]["url"] == failing.url.replace("http://", "http://bot:%s@" % MASK) + "?token=" + MASK
    assert reports[1] == dict(reports[1], status=None, error="connection refused")
    assert "not an http:// or https:// URL" in reports[2]["error"]
    assert "a webhook is a URL or a dict" in reports[3]["error"]
    shown = json.dumps(reports) + json.dumps(warnings_for(reports, "experiment_started"))
    for secret in ("pw0rd", "tok1", "sekrit-123456"):
        assert secret not in shown, secret  # the 500 answer's body echoed the header's token
    assert len(warnings_for(reports, "experiment_started")) == 4
    assert failing.requests, "the failing webhook was posted to"


def test_an_unknown_name_is_reported_without_a_lookup():
    def opener(request, timeout):
        raise URLError(socket.gaierror(-2, "Name or service not known"))
    (report,) = notify(["https://chat.example.invalid/hooks/abcdefghijklmnopqrstu"], started(), opener=opener)
    assert report["error"] == "unknown host name (Name or service not known)"
    assert report["url"] == "https://chat.example.invalid/hooks/" + MASK


def test_anything_an_opener_raises_is_an_error_not_an_exception():
    def opener(request, timeout):
        raise RuntimeError("boom with http://u:pw0rd@127.0.0.1/")
    (report,) = notify(["http://127.0.0.1/"], started(), opener=opener)
    assert report["sent"] is False and "boom" in report["error"] and "pw0rd" not in report["error"]


def test_a_slow_webhook_costs_its_timeout_only(servers):
    slow = servers(delay=5)
    began = time.monotonic()
    (report,) = notify([slow.url], started(), default_timeout=0.5)
    elapsed = time.monotonic() - began
    assert report["sent"] is False and report["error"] == "no answer within 0.5 s"
    # slack for a busy machine (CI runs this beside ansible-test sanity), still far below the server's 5 s
    assert 0.45 <= elapsed < 0.5 + _notify.GRACE_SECONDS + 1.5, elapsed


def test_a_thread_that_outlives_its_timeout_is_given_up_on():
    release = threading.Event()

    def opener(request, timeout):  # ignores its timeout, as a slow name lookup does
        release.wait(5)
        raise URLError("late")
    began = time.monotonic()
    (report,) = notify(["http://127.0.0.1/"], started(), default_timeout=0.3, opener=opener)
    assert time.monotonic() - began < 0.3 + _notify.GRACE_SECONDS + 1.5  # the opener holds on for 5 s
    assert report["error"] == "no answer within 0.3 s"
    release.set()


def test_three_slow_webhooks_cost_one_timeout_and_fast_ones_still_get_through(servers):
    slow = [servers(delay=3), servers(delay=3), servers(delay=3)]
    fast = servers()
    began = time.monotonic()
    reports = notify([s.url for s in slow] + [{"url": fast.url, "timeout": 5}], started(), default_timeout=1)
    elapsed = time.monotonic() - began
    assert elapsed < 1 + _notify.GRACE_SECONDS + 1.0, elapsed  # one timeout, not three (3 s)
    assert [r["sent"] for r in reports] == [False, False, False, True]
    assert all(len(s.requests) == 1 for s in slow + [fast])


def test_events_filter_and_check_mode_post_nothing(servers):
    server = servers()
    reports = notify([{"url": server.url, "events": ["emergency_stop"]}], started())
    assert reports[0]["skipped"] == "not subscribed to experiment_started" and not reports[0]["sent"]
    assert notify([server.url], started(), check_mode=True)[0]["skipped"] == "check mode"
    assert server.requests == [] and warnings_for(reports, "experiment_started") == []


def test_a_redirect_is_not_followed(servers):
    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        (report,) = notify(["http://127.0.0.1:%d/" % server.server_address[1]], started())
    finally:
        server.shutdown()
        server.server_close()
    assert report["status"] == 302 and report["sent"] is False and report["error"].startswith("answered HTTP 302")


def test_no_webhooks_is_nothing():
    assert notify([], started()) == [] and notify(None, started()) == []
