# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Webhook notifications on the demo stack: a recording HTTP server on 127.0.0.1 (with a path that answers 500
and two that never answer in time) and a port that refuses, given as chaos_notify_webhooks.

One real pause of the backend passes despite the bad webhooks, the recorder gets experiment_started then
experiment_ended with the run's id, verdict, MTTR and result/report paths, the whole run waited about one
timeout for them (read from the run journal's task timings), and the webhook's credentials reach the server
but no output or file. A second pause is aborted by playbooks/emergency_stop.yml: the recorder gets the
emergency_stop (with what was undone) and experiment_rolled_back messages, and experiment_ended says ABORTED.
"""

from __future__ import annotations

import base64
import glob
import http.server
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, VENV_BIN, active_entries, ansible_env, wait_for

TIMEOUT = 2.0  # chaos_notify_timeout of the runs
SLOW_SECONDS = 30  # how long the slow paths sit on a request (far longer than TIMEOUT)
SECRETS = ("pw0rd-notify", "tok1-notify", "hdr-secret-notify")


class Recorder(http.server.ThreadingHTTPServer):
    """Records every POST (arrival time, path, headers, JSON body); /bad answers 500, /slow* never in time."""

    daemon_threads = True

    def __init__(self):
        self.requests = []
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.server_port, path)

    def events(self, path):
        return [r["body"]["event"] for r in self.requests if r["path"].split("?")[0] == path]

    def body(self, path, event):
        (found,) = [r for r in self.requests if r["path"].split("?")[0] == path and r["body"]["event"] == event]
        return found


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the name http.server calls
        length = int(self.headers.get("Content-Length") or 0)
        self.server.requests.append({"at": time.time(), "path": self.path, "headers": dict(self.headers),
                                     "body": json.loads(self.rfile.read(length))})
        if self.path.startswith("/slow"):
            time.sleep(SLOW_SECONDS)
        try:
            self.send_response(500 if self.path.startswith("/bad") else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        except OSError:  # the client gave up long ago
            pass

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


@pytest.fixture(scope="module", autouse=True)
def demo_stack():
    subprocess.run([str(REPO / "scripts" / "stack.sh"), "up"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)


@pytest.fixture
def recorder():
    server = Recorder()
    yield server
    server.shutdown()
    server.server_close()


def refused_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d/refused" % sock.getsockname()[1]


def webhooks(recorder):
    """The good webhook (with credentials in its URL and a token header), a 500, a refused port and two slow
    ones (posted one after the other they would cost two timeouts)."""
    good = {"url": recorder.url("/ok?token=%s" % SECRETS[1]).replace("http://", "http://bot:%s@" % SECRETS[0]),
            "headers": {"Authorization": "Bearer %s" % SECRETS[2]}}
    return [good, recorder.url("/bad"), refused_url(), recorder.url("/slow1"), recorder.url("/slow2")]


def run(book, hooks, *extra, state_dir, report_dir):
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "playbooks/%s" % book,
            "-e", "chaos_state_dir=%s" % state_dir, "-e", "chaos_report_dir=%s" % report_dir,
            "-e", json.dumps({"chaos_notify_webhooks": hooks, "chaos_notify_timeout": TIMEOUT})] + list(extra)
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=False)


PAUSE = ("-e", "container_chaos_action=pause", "-e", '{"container_chaos_services": ["backend"]}')


def result_and_journal(report_dir):
    (result,) = [p for p in glob.glob(str(Path(report_dir) / "*.json")) if not Path(p).name.startswith("journal-")]
    (journal,) = glob.glob(str(Path(report_dir) / "journal-*.json"))
    return result, json.load(open(result)), json.load(open(journal))


def test_webhooks_hear_start_and_end_and_bad_ones_cost_one_timeout(recorder, state_dir, tmp_path, record_property):
    report_dir = tmp_path / "results"
    proc = run("container_chaos.yml", webhooks(recorder), *PAUSE, "-e", "container_chaos_duration=3",
               state_dir=state_dir, report_dir=report_dir)
    finished = time.time()
    assert proc.returncode == 0, proc.stdout[-4000:]
    path, result, journal = result_and_journal(report_dir)
    assert result["verdict"] == "PASS", result["reason"]

    # every webhook was posted both messages, in order (the slow ones and the 500 too)
    for hook in ("/ok", "/bad", "/slow1", "/slow2"):
        assert recorder.events(hook) == ["experiment_started", "experiment_ended"], (hook, recorder.requests)
    started, ended = recorder.body("/ok", "experiment_started"), recorder.body("/ok", "experiment_ended")
    stem = os.path.realpath(path)[:-len(".json")]
    assert started["body"]["experiment_id"] == ended["body"]["experiment_id"] == result["experiment_id"]
    assert started["at"] <= result["injected_at"], "the start message came after the injection"
    assert ended["body"] == dict(ended["body"], verdict="PASS", host="localhost", tool="sutazai.chaos",
                                 recovery_seconds=result["recovery_seconds"], result=stem + ".json",
                                 report=stem + ".html")
    assert ended["body"]["text"].startswith("Chaos experiment %s on localhost ended: PASS"
                                            % ended["body"]["experiment"])
    assert "Report: %s.html" % stem in ended["body"]["text"]
    assert os.path.isfile(stem + ".html"), "the report the message links was not written"
    # the credentials reached the webhook (Basic from the URL, the token header, the query) ...
    assert ended["headers"]["Authorization"] == "Bearer %s" % SECRETS[2]
    assert ended["path"] == "/ok?token=%s" % SECRETS[1]
    # ... and no output or file: warnings name the failing URLs only
    warned = " ".join((proc.stdout + proc.stderr).split())
    for name in ("/bad", "/refused", "/slow1", "/slow2"):
        for event in ("experiment_started", "experiment_ended"):
            assert "%s was not notified of %s" % (name, event) in warned, (name, event, proc.stderr[-4000:])
    written = proc.stdout + proc.stderr + "".join(Path(p).read_text() for p in glob.glob(str(report_dir / "*")))
    for secret in SECRETS + (base64.b64encode(("bot:%s" % SECRETS[0]).encode()).decode(),):
        assert secret not in written, secret

    # the run waited about one timeout for its webhooks: the start message went out in the background and the
    # end message's five webhooks (two of them slow) were waited for once, in parallel
    notify = [t for t in journal["tasks"] if t["task"].startswith("Notify - ")]
    by_name = {t["task"]: t["duration"] for t in notify}
    record_property("notify_task_seconds", json.dumps(by_name))
    assert by_name["Notify - experiment_started"] < TIMEOUT, by_name
    assert TIMEOUT <= by_name["Notify - experiment_ended"] < TIMEOUT + 2.5, by_name
    assert sum(by_name.values()) < TIMEOUT + 5, by_name  # the waiting plus Ansible's cost of four small tasks
    assert finished - ended["at"] < TIMEOUT + 6, "the end of the run waited for the slow webhooks"
    assert active_entries(state_dir) == []


def test_an_emergency_stop_is_announced_and_the_rollback_too(recorder, state_dir, tmp_path):
    report_dir = tmp_path / "results"
    hooks = [recorder.url("/ok")]

    def stop_once_injected():
        active, _waited = wait_for(lambda: active_entries(state_dir), timeout=120)
        if active:
            stopped = run("emergency_stop.yml", hooks, "-e", "chaos_stop_reason=INC-notify",
                          state_dir=state_dir, report_dir=tmp_path / "stop")
            outcome.append(stopped)

    outcome = []
    stopper = threading.Thread(target=stop_once_injected, daemon=True)
    stopper.start()
    began = time.time()
    proc = run("container_chaos.yml", hooks, *PAUSE, "-e", "container_chaos_duration=40",
               state_dir=state_dir, report_dir=report_dir)
    stopper.join(timeout=60)
    assert proc.returncode != 0 and time.time() - began < 40, proc.stdout[-4000:]
    assert outcome and outcome[0].returncode == 0, outcome and outcome[0].stdout[-3000:]
    _path, result, _journal = result_and_journal(report_dir)
    assert result["verdict"] == "ABORTED", result

    events = recorder.events("/ok")
    assert sorted(events) == sorted(["experiment_started", "emergency_stop", "experiment_rolled_back",
                                     "experiment_ended"]), events
    assert events[0] == "experiment_started" and events[-1] == "experiment_ended", events
    stop = recorder.body("/ok", "emergency_stop")["body"]
    assert stop["reason"] == "INC-notify" and stop["host"] == "localhost"
    assert stop["undone"] == ["container_pause on sutazai-demo_backend_1"], stop
    assert stop["experiment_id"] == result["experiment_id"]
    assert stop["text"].startswith("EMERGENCY STOP of all chaos on localhost: INC-notify; undone: container_pause on sutazai-demo_backend_1")
    rolled = recorder.body("/ok", "experiment_rolled_back")["body"]
    assert rolled["experiment_id"] == result["experiment_id"] and "emergency" in rolled["reason"].lower(), rolled
    assert recorder.body("/ok", "experiment_ended")["body"]["verdict"] == "ABORTED"
    assert active_entries(state_dir) == []
