# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""health_probe and chaos_guard as Ansible runs them (their real JSON output, after Ansible's no_log masking),
against a local HTTP server: secrets of probes are sent but never returned, and the modules write nothing."""

from __future__ import annotations

import http.server
import json
import os
import threading

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sutazai.chaos.plugins.modules import chaos_guard, health_probe

BEARER, PASSWORD, TOKEN = "Bearer unit-bearer-4f1c9a", "unit-pw-7d2e", "unit-token-93ab"


@pytest.fixture(scope="module")
def server():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the name http.server calls
            seen.append({"path": self.path, "headers": dict(self.headers)})
            status = 500 if self.path.startswith("/down") else 200
            body = b'{"status": "ok"}'
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_port, seen
    httpd.shutdown()


def probes(port):
    return [
        {"name": "api", "type": "http", "url": "http://svc:%s@127.0.0.1:%d/health?token=%s" % (PASSWORD, port, TOKEN),
         "headers": {"Authorization": BEARER, "X-Debug": "1"}},
        {"name": "down", "type": "http", "url": "http://svc:%s@127.0.0.1:%d/down" % (PASSWORD, port),
         "headers": {"Authorization": BEARER}},
        {"name": "prom", "type": "prometheus", "prometheus_url": "http://svc:%s@127.0.0.1:1" % PASSWORD,
         "query": "up", "comparator": ">", "threshold": 0},
    ]


def run(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("module, extra", [
    (health_probe, {"mode": "once", "fail_when_unhealthy": True}),
    (health_probe, {"mode": "sample", "duration": 0.3, "interval": 0.1, "abort_when": {"health_score_below": 0.9}}),
    (chaos_guard, {"min_healthy_ratio": 1.0, "cpu_sample_seconds": 0.05, "max_cpu_percent": 100,
                   "max_memory_percent": 100}),
])
def test_secrets_are_sent_never_returned_and_nothing_is_written(module, extra, server, tmp_path, capsys):
    port, seen = server
    state_dir = tmp_path / "state"  # does not exist: it must not be made
    before = len(seen)
    result = run(module, dict(extra, probes=probes(port), state_dir=str(state_dir)), capsys)
    text = json.dumps(result)

    assert result.get("failed"), result  # the down probe (and the unreachable Prometheus) fail it, naming them
    assert "HTTP 500" in text and "Prometheus at http://svc:********@127.0.0.1:1 is unreachable" in text
    sent = seen[before:]
    assert {r["headers"].get("Authorization") for r in sent} == {BEARER}
    assert all("token=%s" % TOKEN in r["path"] for r in sent if r["path"].startswith("/health"))
    for secret in (BEARER, PASSWORD, TOKEN, "unit-bearer-4f1c9a"):
        assert secret not in text
    args = result["invocation"]["module_args"]["probes"]
    assert args[0]["url"] == "http://svc:********@127.0.0.1:%d/health?token=********" % port
    assert args[0]["headers"] == {"Authorization": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "X-Debug": "1"}
    # the short harmless header value masks no number
    assert all(isinstance(p["latency_ms"], float) for p in result["probes"])
    assert not state_dir.exists() and os.listdir(tmp_path) == []
