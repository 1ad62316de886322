# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Secrets out of every output: one catalogue experiment on the demo stack, run with -vvv, with known secrets
in a probe's headers, in probe URLs (user:password@), in the Grafana token and in a Pushgateway URL. None of
them may be found in the output, the Ansible log, the results folder, the state folder (ledger, audit journal,
metrics state, textfiles), the async job files or the remote temporary folder; a recording HTTP server, probed
as one more service, proves that the header, the password and the token were really sent.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import subprocess
import threading
import time
from pathlib import Path

import jsonschema
from conftest import REPO, VENV_BIN, active_entries, ansible_env, audit_lines


class Recorder(http.server.ThreadingHTTPServer):
    """Answers health checks, asks for basic auth on /basic, takes Grafana annotations; records every request."""

    daemon_threads = True

    def __init__(self, basic):
        self.requests, self.basic = [], basic
        super().__init__(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self):
        return "127.0.0.1:%d" % self.server_port

    def seen(self, method, path):
        return [r for r in self.requests if r["method"] == method and r["path"] == path]


class _Handler(http.server.BaseHTTPRequestHandler):
    def _answer(self, status, body=b"ok", headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                                     "body": self.rfile.read(length).decode("utf-8", "replace")})

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self._record()
        if self.path == "/basic" and self.headers.get("Authorization") != self.server.basic:
            self._answer(401, b"", {"WWW-Authenticate": 'Basic realm="sct"'})
        else:
            self._answer(200)

    def do_POST(self):  # noqa: N802
        self._record()
        self._answer(200, b'{"id": 7, "message": "Annotation added"}', {"Content-Type": "application/json"})

    def log_message(self, *args):
        pass


def files_under(*roots):
    for root in roots:
        root = Path(root)
        if root.is_file():
            yield root
        elif root.is_dir():
            yield from (p for p in root.rglob("*") if p.is_file())


def check_journal(report_dir, result):
    """The run's journal (sutazai.chaos.chaos_journal, enabled in ansible.cfg) beside the result: both valid
    against their shipped schemas, the collection's tasks with their timings, and the experiment's result as written.
    (That it holds no secret is checked with every other file of the run.)"""
    (path,) = report_dir.glob("journal-*.json")
    journal = json.loads(path.read_text())
    for name, document in (("journal", journal), ("result", result)):
        schema = json.loads((REPO / "meta" / "schemas" / ("%s.schema.json" % name)).read_text())
        jsonschema.Draft202012Validator(schema).validate(document)
    assert path.name == "journal-%s.json" % journal["run_id"] and journal["status"] == "ok", journal["status"]
    assert journal["playbook"] == str(REPO / "playbooks" / "run_experiment.yml")
    tasks = journal["tasks"]
    assert all(t["action"].startswith("sutazai.chaos.") or (t["role"] or "").startswith("sutazai.chaos.")
               for t in tasks)
    assert all(journal["started_at"] <= t["started_at"] <= t["ended_at"] <= journal["ended_at"] for t in tasks)
    probes = [t for t in tasks if t["action"] == "sutazai.chaos.health_probe" and t["status"] != "skipped"]
    assert probes and any(t["duration"] > 0 for t in probes), [t["task"] for t in tasks]
    assert {"sutazai.chaos.chaos_experiment", "sutazai.chaos.chaos_report"} <= {t["action"] for t in tasks}
    (experiment,) = journal["experiments"]
    assert experiment["experiment_id"] == result["experiment_id"] and experiment["result"] == result
    print("\njournal: %d tasks of the collection, %d experiment result, valid" % (len(tasks), 1))


def test_no_secret_of_a_run_is_left_in_any_file_or_output(docker_client, state_dir, tmp_path):
    subprocess.run([str(REPO / "scripts" / "stack.sh"), "up"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    bearer, password = "sct-bearer-" + secrets.token_hex(12), "sct-pw-" + secrets.token_hex(12)
    grafana_token, push_password = "sct-grafana-" + secrets.token_hex(12), "sct-push-" + secrets.token_hex(12)
    basic = "Basic " + base64.b64encode(("sct:%s" % password).encode()).decode()
    wanted = {"bearer": bearer, "password": password, "grafana token": grafana_token,
              "pushgateway password": push_password, "basic credentials": basic.split()[1]}
    recorder = Recorder(basic)
    checks = {
        # the service the fault reaches: watched in the background (async) through the crash, then verified
        "backend": {"type": "http", "url": "http://sct:%s@127.0.0.1:18000/health" % password,
                    "headers": {"Authorization": "Bearer " + bearer}},
        "frontend": {"type": "http", "url": "http://127.0.0.1:18001/health"},
        "postgres": {"type": "tcp", "host": "127.0.0.1", "port": 15432},
        "redis": {"type": "tcp", "host": "127.0.0.1", "port": 16379},
        # probed by the preflight and the steady-state check; X-Debug: 1 is no secret and masks no number
        "recorder": {"type": "http", "url": "http://%s/health" % recorder.base,
                     "headers": {"Authorization": "Bearer " + bearer, "X-Debug": "1"}},
        "recorder-basic": {"type": "http", "url": "http://sct:%s@%s/basic" % (password, recorder.base)},
    }
    report_dir, work = tmp_path / "results", tmp_path / "ansible"
    extra = tmp_path / "secrets.json"
    extra.write_text(json.dumps({
        "chaos_health_checks": checks, "chaos_state_dir": str(state_dir), "chaos_report_dir": str(report_dir),
        "chaos_grafana_url": "http://%s/grafana" % recorder.base, "chaos_grafana_token": grafana_token,
        # refused (credentials in a URL), and reported without them
        "chaos_metrics_pushgateway_url": "http://sct:%s@127.0.0.1:9" % push_password,
        "chaos_metrics_textfile_dir": str(state_dir / "textfiles"),
    }))
    (state_dir / "textfiles").mkdir()
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
                       "ANSIBLE_LOG_PATH": str(work / "ansible.log"), "ANSIBLE_ASYNC_DIR": str(work / "async"),
                       "ANSIBLE_REMOTE_TMP": str(work / "remote"), "ANSIBLE_LOCAL_TEMP": str(work / "local")})
    started = time.monotonic()
    run = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "playbooks/run_experiment.yml",
                          "-e", "experiment=redis-crash", "-e", "@%s" % extra, "-vvv"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    took = time.monotonic() - started
    recorder.shutdown()
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]

    result_files = [p for p in report_dir.glob("*.json") if not p.name.startswith("journal-")]
    assert len(result_files) == 1, result_files
    result = json.loads(result_files[0].read_text())
    assert result["verdict"] == "PASS", result
    assert result["watched"] == ["redis", "backend", "frontend"]
    assert any("pushgateway_url must not carry credentials" in p for p in result["metrics"]["problems"]), result
    assert not active_entries(state_dir) and audit_lines(state_dir)
    check_journal(report_dir, result)

    # They were really sent: the Bearer header, the URL's password (after the 401 challenge), the Grafana token.
    health = recorder.seen("GET", "/health")
    assert health and all(r["headers"].get("Authorization") == "Bearer " + bearer and r["headers"].get("X-Debug") == "1"
                          for r in health), health
    assert any(r["headers"].get("Authorization") == basic for r in recorder.seen("GET", "/basic"))
    annotations = recorder.seen("POST", "/grafana/api/annotations")
    assert [r["headers"].get("Authorization") for r in annotations] == ["Bearer " + grafana_token], annotations
    # ... and shown without their secret part (-vvv shows each module's arguments: Ansible masks no_log values)
    assert "sct:********@127.0.0.1:18000" in output and "Authorization: VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in output

    # Nowhere: output (-vvv), Ansible's log, results, state folder, async job files, temporary folders.
    assert (work / "ansible.log").stat().st_size > 0 and list((work / "async").iterdir())
    # The background watch (async) leaves its module file until Ansible's async wrapper removes it, just after the
    # job's result is written: the playbook can end first (seen once the report step became quick). Give that
    # cleanup up to 15 s; a file still there after it is a leak like any other.
    remote = work / "remote"
    deadline = time.monotonic() + 15
    while remote.exists() and any(remote.rglob("AnsiballZ_*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    places = {"the output": output}
    for path in files_under(report_dir, state_dir, work):
        places[str(path)] = path.read_bytes().decode("utf-8", "replace")
    leaks = ["%s in %s" % (what, place) for place, text in places.items()
             for what, secret in wanted.items() if secret in text]
    assert not leaks, leaks
    print("\nsecrets: one redis-crash run with -vvv in %.1f s, %d files and the output searched, nothing found"
          % (took, len(places) - 1))
