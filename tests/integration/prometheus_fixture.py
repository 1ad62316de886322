# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private Prometheus (Debian's /usr/bin/prometheus) on 127.0.0.1:<free port>, scraping itself.

Config and TSDB live in a temporary folder; no system service is used or touched. The fixture
waits until /-/ready answers and the first scrape has produced ``up``, and stops the server after.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from urllib.parse import urlencode

import pytest

PROMETHEUS = "/usr/bin/prometheus"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url, timeout=1.0):
    with urllib.request.urlopen(url, timeout=timeout) as response:  # only ever 127.0.0.1
        return response.status, response.read()


def instant_query(base, query):
    _status, raw = _get(base + "/api/v1/query?" + urlencode({"query": query}))
    return json.loads(raw)["data"]["result"]


class PrometheusServer:
    def __init__(self, folder, port, config=None):
        """``config``: the configuration (a dict) to run with; by default Prometheus scrapes itself."""
        self.port = port
        self.url = "http://127.0.0.1:%d" % port
        self.log_path = folder / "prometheus.log"
        self.config_path = config_path = folder / "prometheus.yml"
        # JSON is YAML: no PyYAML needed
        config_path.write_text(json.dumps(config or {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "prometheus",
                                "static_configs": [{"targets": ["127.0.0.1:%d" % port]}]}],
        }))
        (folder / "data").mkdir()
        self.argv = [PROMETHEUS, "--config.file=%s" % config_path, "--storage.tsdb.path=%s" % (folder / "data"),
                     "--web.listen-address=127.0.0.1:%d" % port, "--storage.tsdb.retention.time=1h",
                     "--web.console.templates=%s" % folder, "--web.console.libraries=%s" % folder]
        self.process = None

    def start(self, timeout=60.0):
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        ready = False
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("prometheus exited with rc %s:\n%s" % (self.process.returncode, self.log()))
            try:
                if not ready:
                    ready = _get(self.url + "/-/ready")[0] == 200
                if ready and instant_query(self.url, "up"):  # the first scrape is in
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("prometheus not ready on %s after %s s:\n%s" % (self.url, timeout, self.log()))

    def log(self):
        try:
            return self.log_path.read_text()[-3000:]
        except OSError:
            return ""

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory):
    """A running PrometheusServer (``.url``); skipped only when /usr/bin/prometheus is not installed."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("%s is missing (Debian package prometheus; scripts/setup.sh installs it)" % PROMETHEUS)
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), free_port())
    started = time.monotonic()
    server.start()
    server.startup_seconds = round(time.monotonic() - started, 2)
    yield server
    server.stop()
    assert server.process.poll() is not None, "prometheus still running after teardown"
