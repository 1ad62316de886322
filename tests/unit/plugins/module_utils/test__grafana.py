# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Grafana side of chaos_metrics (the class name keeps these in ``run-unit.sh -k metrics``)."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _grafana, _metrics
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError

NOW = 1_796_086_100.0
RESULT = {
    "experiment_id": "redis-crash-20261130T225459-4eac2e", "experiment": {"name": "redis-crash"},
    "kind": "container", "hit": [{"service": "redis"}], "verdict": "PASS", "recovery_seconds": 1.6,
    "injected_at": 1796086067.3024755, "fault_ended_at": 1796086069.75, "health_score_after": 1.0,
}


class GrafanaStandIn:
    """A tiny Grafana on 127.0.0.1 that records requests and answers with ``status``."""

    def __init__(self):
        self.requests, self.status = [], 200
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # pylint: disable=invalid-name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                stand_in.requests.append({"method": self.command, "path": self.path, "headers": self.headers,
                                          "body": json.loads(body)})
                answer = {"id": len(stand_in.requests), "message": "Annotation added"}
                if stand_in.status != 200:
                    answer = {"message": "Unauthorized" if stand_in.status == 401 else "boom"}
                payload = json.dumps(answer).encode()
                self.send_response(stand_in.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):  # pylint: disable=arguments-differ
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def grafana():
    stand_in = GrafanaStandIn()
    yield stand_in
    stand_in.close()


def params(tmp_path, url, **changes):
    base = {"result": dict(RESULT), "phase": "end", "instance": "web1", "state_dir": str(tmp_path / "state"),
            "grafana_url": url, "grafana_token": "glsa_secret", "grafana_dashboard_uid": "chaos-overview",
            "timeout": 2.0, "required": False, "delete_group": False}
    base.update(changes)
    return base


class TestMetricsGrafana:
    def test_body(self):
        body = _grafana.annotation_body(RESULT, "redis-crash", "container", "redis", "uid1", now=NOW)
        assert body == {"time": 1796086067302, "timeEnd": 1796086069750,
                        "tags": ["sutazai-chaos", "experiment:redis-crash", "kind:container", "target:redis"],
                        "text": "redis-crash: container on redis, verdict PASS", "dashboardUID": "uid1"}
        assert "dashboardUID" not in _grafana.annotation_body(RESULT, "e", "k", "s", now=NOW)

    def test_body_open_window_ends_now_and_no_injection_means_no_annotation(self):
        body = _grafana.annotation_body(dict(RESULT, fault_ended_at=None), "e", "k", "s", now=NOW)
        assert body["timeEnd"] == int(NOW * 1000) and body["time"] < body["timeEnd"]
        assert _grafana.annotation_body(dict(RESULT, fault_ended_at=1.0), "e", "k", "s")["timeEnd"] == body["time"]
        assert _grafana.annotation_body(dict(RESULT, injected_at=None), "e", "k", "s") is None

    @pytest.mark.parametrize("url, expected", [
        ("http://grafana:3000/", "http://grafana:3000"),
        ("https://grafana.example.com/sub/path", "https://grafana.example.com/sub/path"),
        ("http://[::1]:3000", "http://[::1]:3000"),
    ])
    def test_good_urls(self, url, expected):
        assert _grafana.check_url(url, "grafana_url") == expected

    @pytest.mark.parametrize("url", ["grafana:3000", "file:///etc/passwd", "http://", "https://u:p@g", "http://g:99999",
                                     "http://g/#x"])
    def test_bad_urls(self, url):
        with pytest.raises(_grafana.SinkError, match="grafana_url"):
            _grafana.check_url(url, "grafana_url")

    @pytest.mark.parametrize("url", ["https://u:s3cr3t@g", "http://u:s3cr3t@g:port", "ftp://u:s3cr3t@g",
                                     "http://u:s3cr3t@g/?x=1"])
    def test_a_refused_url_is_never_shown_with_its_password(self, url):
        with pytest.raises(_grafana.SinkError) as refused:
            _grafana.check_url(url, "pushgateway_url")
        assert "s3cr3t" not in refused.value.msg
        assert "pushgateway_url" in refused.value.msg

    def test_region_annotation_is_posted_once_per_run(self, tmp_path, grafana):
        out = _metrics.record(params(tmp_path, grafana.url), now=NOW)
        assert out["metrics"]["grafana"] == {"sent": True, "id": 1, "error": None, "skipped": None}
        assert out["changed"] is True and not out["warnings"]
        (request,) = grafana.requests
        assert request["method"] == "POST" and request["path"] == "/api/annotations"
        assert request["headers"]["Authorization"] == "Bearer glsa_secret"
        assert request["headers"]["Content-Type"] == "application/json"
        body = request["body"]
        assert isinstance(body["time"], int) and isinstance(body["timeEnd"], int) and body["time"] < body["timeEnd"]
        assert body["time"] > 10 ** 12, "milliseconds"
        assert body["tags"] == ["sutazai-chaos", "experiment:redis-crash", "kind:container", "target:redis"]
        assert body["dashboardUID"] == "chaos-overview" and "verdict PASS" in body["text"]

        again = _metrics.record(params(tmp_path, grafana.url), now=NOW)
        assert again["metrics"]["grafana"]["skipped"] == "run %s was annotated before" % RESULT["experiment_id"]
        assert len(grafana.requests) == 1
        other = dict(RESULT, experiment_id="redis-crash-20261130T230000-aaaaaa")
        _metrics.record(params(tmp_path, grafana.url, result=other), now=NOW)
        assert len(grafana.requests) == 2

    def test_start_phase_and_check_mode_post_nothing(self, tmp_path, grafana):
        start = params(tmp_path, grafana.url, phase="start", result=None, experiment="e", kind="k", service="s")
        assert _metrics.record(start, now=NOW)["metrics"]["grafana"]["sent"] is False
        out = _metrics.record(params(tmp_path, grafana.url), check_mode=True, now=NOW)
        assert out["changed"] is True and out["metrics"]["grafana"]["sent"] is False
        assert grafana.requests == []

    @pytest.mark.parametrize("status", [401, 403])
    def test_refused_token_is_a_warning(self, tmp_path, grafana, status):
        grafana.status = status
        out = _metrics.record(params(tmp_path, grafana.url), now=NOW)
        error = out["metrics"]["grafana"]["error"]
        assert "Grafana refused the token (HTTP %d)" % status in error and out["metrics"]["grafana"]["sent"] is False
        assert out["warnings"] == [error] and "glsa_secret" not in error
        with pytest.raises(ChaosError, match="refused the token"):
            _metrics.record(params(tmp_path, grafana.url, required=True,
                                   result=dict(RESULT, experiment_id="x-20261130T230000-aaaaaa")), now=NOW)

    def test_server_error_names_status_and_answer(self, tmp_path, grafana):
        grafana.status = 500
        out = _metrics.record(params(tmp_path, grafana.url), now=NOW)
        assert "answered HTTP 500" in out["metrics"]["grafana"]["error"] and "boom" in out["metrics"]["grafana"]["error"]

    def test_failed_annotation_is_tried_again_with_the_same_result(self, tmp_path, grafana):
        grafana.status = 401
        _metrics.record(params(tmp_path, grafana.url), now=NOW)
        grafana.status = 200
        out = _metrics.record(params(tmp_path, grafana.url), now=NOW)
        assert out["metrics"]["grafana"]["sent"] is True and out["metrics"]["counted"] is False

    def test_tls_context_is_made_once_and_honours_validate_certs(self):
        import ssl  # pylint: disable=import-outside-toplevel

        checked = _grafana._tls_context("https://g", True)  # pylint: disable=protected-access
        assert checked is _grafana._tls_context("https://other", True)  # pylint: disable=protected-access
        assert checked.verify_mode == ssl.CERT_REQUIRED
        unchecked = _grafana._tls_context("https://g", False)  # pylint: disable=protected-access
        assert unchecked.verify_mode == ssl.CERT_NONE
