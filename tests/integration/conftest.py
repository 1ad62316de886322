# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration fixtures: run the collection's modules through Ansible against a real Docker engine.

Every test gets its own containers (named ``sct-<6 hex>-...``, from the demo image, running
``sleep infinity``) and its own ledger folder; both are cleaned up even when the test fails. A
session fixture checks at the end that no container, active ledger entry or reaper of ours is left.
Modules run the way a user runs them: ``ansible`` (ad hoc) or ``ansible-playbook`` from the repo
root (so ansible.cfg applies), with the ``ansible.posix.json`` callback so results can be read.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

docker = pytest.importorskip("docker")

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python")
IMAGE = os.environ.get("DEMO_IMAGE", "sutazai-chaos/demo:1")
SESSION_TAG = "sct-" + secrets.token_hex(3)  # marks every container, folder and process of this run
RUN_LABEL = "sutazai.chaos.test-run"
MARKER_ENV = "SUTAZAI_CHAOS_IT_RUN"


def ansible_env(extra=None):
    env = dict(os.environ)
    env.update(
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="false",
        ANSIBLE_DEPRECATION_WARNINGS="false",
    )
    env.pop("DOCKER_HOST", None)
    env[MARKER_ENV] = SESSION_TAG  # inherited by workers and module children: lets us find our orphans
    env.update(extra or {})
    return env


class ModuleResult(dict):
    """A task result (dict) that also keeps the raw output, to look for tracebacks."""

    stdout = ""
    stderr = ""

    @property
    def output(self):
        return self.stdout + self.stderr


def _parse_tasks(stdout):
    start = stdout.find("{")
    if start < 0:
        raise AssertionError("no JSON in ansible output:\n%s" % stdout)
    data = json.loads(stdout[start:])
    return [task["hosts"]["localhost"] for play in data["plays"] for task in play["tasks"]]


def _wrap(raw, proc):
    result = ModuleResult(raw)
    result.stdout, result.stderr = proc.stdout, proc.stderr
    return result


def run_module(name, args, check=False, diff=False, timeout=180):
    """Run one module ad hoc on localhost; returns ``(rc, result)``."""
    if "." not in name:
        name = "sutazai.chaos." + name
    argv = [str(VENV_BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m", name,
            "-a", json.dumps(args), "-e", "ansible_python_interpreter=%s" % PYTHON]
    if check:
        argv.append("--check")
    if diff:
        argv.append("--diff")
    proc = subprocess.run(argv, cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=timeout,
                          check=False)
    tasks = _parse_tasks(proc.stdout)
    assert len(tasks) == 1, proc.stdout
    return proc.returncode, _wrap(tasks[0], proc)


def write_playbook(path, tasks):
    play = [{
        "name": "sutazai.chaos integration",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": PYTHON},
        "tasks": tasks,
    }]
    Path(path).write_text(json.dumps(play, indent=1))  # JSON is YAML
    return path


def run_modules(calls, tmp_dir, timeout=300):
    """Run several module calls as one playbook (one Ansible start-up instead of many).

    ``calls`` are dicts ``{"module": ..., "args": {...}, "check": bool, "diff": bool}``; every task
    has ``ignore_errors`` so each gets a result. Returns the list of results, in order.
    """
    tasks = []
    for index, call in enumerate(calls):
        name = call["module"] if "." in call["module"] else "sutazai.chaos." + call["module"]
        task = {"name": "call %d" % index, name: call["args"], "ignore_errors": True}
        if call.get("check"):
            task["check_mode"] = True
        if call.get("diff"):
            task["diff"] = True
        tasks.append(task)
    book = write_playbook(Path(tmp_dir) / ("batch-%s.yml" % secrets.token_hex(3)), tasks)
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(book)], cwd=REPO,
                          env=ansible_env(), capture_output=True, text=True, timeout=timeout, check=False)
    results = [_wrap(r, proc) for r in _parse_tasks(proc.stdout)]
    assert len(results) == len(calls), proc.stdout + proc.stderr
    return results


# ------------------------------------------------------------------ processes

def pids_with_marker():
    """PIDs of live processes started (directly or not) by this test run."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path("/proc/%s/environ" % entry).read_bytes()
            stat = Path("/proc/%s/stat" % entry).read_text()
        except OSError:
            continue
        if ("%s=%s" % (MARKER_ENV, SESSION_TAG)).encode() in environ.split(b"\0") and \
                stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(int(entry))
    return found


def cmdline(pid):
    try:
        return Path("/proc/%d/cmdline" % pid).read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def reaper_pids(root):
    """Live reaper processes whose state folder is under ``root``."""
    return [pid for pid in pids_with_marker() if "sutazai_chaos_reaper._ledger" in cmdline(pid) and str(root) in cmdline(pid)]


def kill_orphans(keep_reapers=True):
    """SIGKILL, one PID at a time, the leftovers of a killed ansible-playbook of this run."""
    killed = []
    for pid in pids_with_marker():
        if keep_reapers and "sutazai_chaos_reaper._ledger" in cmdline(pid):
            continue
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
        except ProcessLookupError:
            pass
    return killed


# ------------------------------------------------------------------ ledger

def ledger_entries(state_dir):
    path = Path(state_dir) / "ledger.json"
    if not path.exists():
        return []
    return json.loads(path.read_text())["entries"]


def active_entries(state_dir):
    return [e for e in ledger_entries(state_dir) if e.get("state") == "active"]


def audit_lines(state_dir):
    path = Path(state_dir) / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(predicate, timeout, interval=0.05):
    """Poll ``predicate()`` until truthy; returns (value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = predicate()
        if value or time.monotonic() - start >= timeout:
            return value, time.monotonic() - start
        time.sleep(interval)


# ------------------------------------------------------------------ fixtures

@pytest.fixture(scope="session")
def docker_client():
    try:
        client = docker.from_env(timeout=60)
        client.ping()
        client.images.get(IMAGE)
    except Exception as exc:  # noqa: BLE001 - any failure here means: no usable engine
        pytest.fail("Docker engine or image %s not usable (%s): run scripts/run-integration.sh" % (IMAGE, exc))
    return client


@pytest.fixture(scope="session")
def session_root():
    # Short and under /tmp: unix socket paths made below it must stay under 108 bytes.
    return Path(tempfile.mkdtemp(prefix=SESSION_TAG + "-"))


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(docker_client, session_root):
    """After the whole run: no container, active ledger entry or reaper of this run remains."""
    yield
    leftovers = docker_client.containers.list(all=True, filters={"label": "%s=%s" % (RUN_LABEL, SESSION_TAG)})
    for container in leftovers:
        container.remove(force=True)
    active = {str(p.parent): len(active_entries(p.parent)) for p in session_root.glob("*/ledger.json")}
    active = {k: v for k, v in active.items() if v}
    reapers, _waited = wait_for(lambda: not reaper_pids(session_root), timeout=10, interval=0.2)
    left = reaper_pids(session_root)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    kill_orphans(keep_reapers=False)
    assert not leftovers, "containers left behind: %s" % [c.name for c in leftovers]
    assert not active, "active ledger entries left behind: %s" % active
    assert not left, "reapers still running: %s" % [cmdline(p) for p in left]


@pytest.fixture
def prefix():
    return "sct-%s-" % secrets.token_hex(3)


@pytest.fixture
def state_dir(session_root, request):
    path = session_root / ("%s-%s" % (request.node.name[:40].replace("/", "_"), secrets.token_hex(2)))
    path.mkdir()
    yield path
    # Undo what a failed test left active (unpause/start), so the reaper can exit.
    leftover = active_entries(path)
    if leftover:
        run_module("chaos_rollback", {"all": True, "state_dir": str(path)})


@pytest.fixture
def containers(docker_client, prefix):
    """Factory: ``containers(suffix, labels=None, restart=False) -> docker Container``; all removed after."""
    made = []

    def make(suffix, labels=None, restart=False):
        all_labels = {RUN_LABEL: SESSION_TAG, "sct.prefix": prefix}
        all_labels.update(labels or {})
        container = docker_client.containers.run(
            IMAGE, ["sleep", "infinity"], name=prefix + suffix, detach=True, labels=all_labels,
            restart_policy={"Name": "always"} if restart else None,
        )
        made.append(container)
        return container

    yield make
    for container in made:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def state_of(container):
    """Fresh ``docker inspect`` State plus RestartCount."""
    container.reload()
    state = dict(container.attrs["State"])
    state["RestartCount"] = container.attrs["RestartCount"]
    return state


# ------------------------------------------------------------------ a Docker socket that fails on demand

class FaultyDockerProxy:
    """A unix-socket proxy to the real engine that answers HTTP 500 to requests matching ``fail``.

    It lets a test make one engine call fail honestly (the module sees a real APIError from the
    SDK) while every other call reaches the engine. Each upstream request is sent with
    ``Connection: close``, so every request arrives on a fresh connection and is inspected.
    """

    def __init__(self, path, upstream="/var/run/docker.sock"):
        import re
        import socket
        import threading

        self._re, self._socket, self._threading = re, socket, threading
        self.path, self.upstream = str(path), upstream
        self.fail = []
        self.seen = []
        self.failed = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(64)
        self.closed = False
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return "unix://" + self.path

    def fail_on(self, pattern, status=500, after=0):
        """Answer ``status`` to requests matching ``pattern``, once ``after`` of them went through."""
        self.fail.append([self._re.compile(pattern), status, after])

    def _accept(self):
        while not self.closed:
            try:
                client, _addr = self.server.accept()
            except OSError:
                return
            self._threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client):
        try:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(65536)
                if not chunk:
                    return
                head += chunk
            header, rest = head.split(b"\r\n\r\n", 1)
            lines = header.split(b"\r\n")
            request = " ".join(lines[0].decode("latin-1").split(" ")[:2])
            self.seen.append(request)
            status = None
            with self.lock:
                for rule in self.fail:
                    if rule[0].search(request):
                        if rule[2] > 0:
                            rule[2] -= 1
                        else:
                            status = rule[1]
                        break
            if status is not None:
                self.failed.append(request)
                body = b'{"message":"injected failure (integration test proxy)"}'
                client.sendall(b"HTTP/1.1 %d Injected\r\nContent-Type: application/json\r\n"
                               b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (status, len(body), body))
                return
            lines = [line for line in lines if not line.lower().startswith(b"connection:")]
            lines.append(b"Connection: close")
            upstream = self._socket.socket(self._socket.AF_UNIX, self._socket.SOCK_STREAM)
            upstream.connect(self.upstream)
            upstream.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + rest)
            self._threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()
            self._pipe(upstream, client)
            upstream.close()
        except OSError:
            pass
        finally:
            client.close()

    @staticmethod
    def _pipe(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass

    def close(self):
        self.closed = True
        self.server.close()
        with_path = Path(self.path)
        if with_path.exists():
            with_path.unlink()


@pytest.fixture
def faulty_docker(session_root):
    proxy = FaultyDockerProxy(session_root / ("d%s.sock" % secrets.token_hex(3)))
    yield proxy
    proxy.close()


def background_playbook(book, log_path):
    """Start ansible-playbook on ``book`` in its own process group (so a test can cancel it like AWX: SIGKILL
    to the group), its output in ``log_path``."""
    with open(log_path, "w") as log:  # the child keeps its own copy of the file
        return subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(book)], cwd=REPO,
                                env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def first_applied_entry(state_dir):
    """The ledger's first entry once its fault is applied (not while the module is still applying it)."""
    entries = ledger_entries(state_dir)
    return entries and not entries[0].get("applying") and entries[0]
