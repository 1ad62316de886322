# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Chaos of the chaos tool: the controller cancelled, the target restarted, the ledger lost or corrupted,
a role failing half way, two experiments on one target (issue "Safety", items 3 and 6).

Every test checks the real effect on its own containers: ``docker inspect`` for a pause, our ``SZC-``
chains and ``5a17:`` qdisc in the container's network namespace (read from the host with ``nsenter``)
for network faults, live ``stress-ng`` processes in the container's cgroup for CPU stress. Lateness
after a deadline is printed and recorded (``record_property``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import (IMAGE, MARKER_ENV, PYTHON, REPO, RUN_LABEL, SESSION_TAG, VENV_BIN, active_entries, ansible_env,
                      cmdline, kill_orphans, ledger_entries, reaper_pids, run_module, run_modules, state_of, wait_for)

ansible_runner = pytest.importorskip("ansible_runner")

CHAIN = re.compile(r"^-N (SZC-\S+)", re.M)
COLLECTIONS = str(REPO / ".cache" / "collections")


# ------------------------------------------------------------------ effects, read from the host

def pid_of(container):
    container.reload()
    return container.attrs["State"]["Pid"]


def netns(pid, *argv):
    return subprocess.run(["nsenter", "--net=/proc/%d/ns/net" % pid, "--"] + list(argv), capture_output=True,
                          text=True, check=True).stdout


def our_chains(container):
    return CHAIN.findall(netns(pid_of(container), "iptables", "-S"))


def our_qdiscs(container, device="eth0"):
    return [line for line in netns(pid_of(container), "tc", "qdisc", "show", "dev", device).splitlines()
            if "5a17:" in line or "5a18:" in line]


def network_clean(container):
    return not our_chains(container) and not our_qdiscs(container)


def _live(pid):
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def stress_pids(container):
    """Live (not zombie) stress-ng processes in the container's cgroup."""
    pid = pid_of(container)
    if not pid:
        return []
    try:
        lines = Path("/proc/%d/cgroup" % pid).read_text().splitlines()
    except OSError:
        return []
    path = next(line.split(":", 2)[2] for line in lines if line.split(":", 2)[1] == "pids")
    procs = Path("/sys/fs/cgroup/pids" + path, "cgroup.procs").read_text().split()
    return [p for p in map(int, procs) if _live(p) and cmdline(p).startswith("stress-ng")]


def targets(container):
    return {"names": [container.name]}


KINDS = {
    # kind: (module, fault args, "the fault is visible", "the fault is gone")
    "pause": ("sutazai.chaos.container_chaos", {"action": "pause"},
              lambda c: state_of(c)["Paused"], lambda c: not state_of(c)["Paused"]),
    "loss": ("sutazai.chaos.network_chaos", {"loss": {"percent": 30}},
             lambda c: bool(our_chains(c)), network_clean),
    "cpu": ("sutazai.chaos.resource_stress", {"cpu": {"workers": 1, "load": 40}, "max_cpu_percent": 100},
            lambda c: bool(stress_pids(c)), lambda c: not stress_pids(c)),
}


def inject_task(kind, container, state_dir, duration, experiment_id):
    module, fault, _seen, _gone = KINDS[kind]
    args = dict(fault, targets=targets(container), duration=duration, state_dir=str(state_dir),
                experiment_id=experiment_id)
    return {"name": "Inject %s" % kind, module: args}


def cancelled_play(kind, container, state_dir, experiment_id):
    return [{
        "name": "chaos of chaos: cancelled job", "hosts": "localhost", "gather_facts": False,
        "tasks": [
            inject_task(kind, container, state_dir, 4, experiment_id),
            {"name": "A long observation the job is cancelled during", "ansible.builtin.wait_for": {"timeout": 60}},
            {"name": "Never reached", "ansible.builtin.debug": {"msg": "never reached"}},
        ],
    }]


def applied_entry(state_dir):
    entries = [e for e in ledger_entries(state_dir) if e.get("state") == "active" and not e.get("applying")]
    return entries[0] if entries else None


def readable_active(state_dir):
    """Active entries, or None while the ledger is missing or unreadable."""
    try:
        return active_entries(state_dir) if (Path(state_dir) / "ledger.json").exists() else None
    except ValueError:
        return None


def report(record_property, what, value):
    record_property(what, round(value, 3))
    print("\n%s: %.3f s" % (what, value))


def wait_gone_by_deadline(kind, container, deadline, slack=2.0):
    """Poll until the fault's effect is gone; returns seconds after the deadline it was seen gone."""
    gone_check = KINDS[kind][3]
    gone, _waited = wait_for(lambda: gone_check(container), timeout=max(0.0, deadline + slack - time.time()), interval=0.05)
    seen = time.time()
    assert gone, "%s still in effect %.1f s after its deadline, with the controller gone" % (kind, slack)
    return seen - deadline


def assert_reverted_by_reaper(state_dir):
    wait_for(lambda: not active_entries(state_dir), timeout=3)
    entries = ledger_entries(state_dir)
    assert entries and all(e["state"] == "reverted" and e.get("reverted_by") == "reaper" for e in entries), entries
    log = Path(state_dir) / "reaper.log"
    assert "Traceback" not in (log.read_text() if log.exists() else "")
    return entries


# ------------------------------------------------------------------ 1. an AWX-style cancel (ansible-runner)

@pytest.mark.parametrize("kind", ["pause", "loss", "cpu"])
def test_awx_cancel_leaves_the_undo_to_the_target(kind, containers, state_dir, tmp_path, record_property):
    victim = containers("cancel" + kind)
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    book = private / "project" / "cancelled.yml"
    book.write_text(json.dumps(cancelled_play(kind, victim, state_dir, "awx-" + kind)))
    envvars = {
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
        "PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", "")),
        MARKER_ENV: SESSION_TAG,  # lets kill_orphans find the setsid'ed workers the cancel leaves
    }
    inventory = "localhost ansible_connection=local ansible_python_interpreter=%s\n" % PYTHON
    seen_check = KINDS[kind][2]
    cancel = {}

    def cancel_callback():
        if "at" in cancel:
            return True
        entry = applied_entry(state_dir)
        if entry and seen_check(victim):
            cancel.update(at=time.time(), entry=entry)
            return True
        return False

    try:
        runner = ansible_runner.run(private_data_dir=str(private), playbook=str(book), inventory=inventory,
                                    envvars=envvars, cancel_callback=cancel_callback, quiet=True,
                                    settings={"pexpect_timeout": 0.1, "suppress_ansible_output": True})
        output = runner.stdout.read() if runner.stdout else ""
        assert runner.status == "canceled", (runner.status, output)
        assert "entry" in cancel, "the fault never became visible:\n%s" % output
        deadline = cancel["entry"]["deadline"]
        assert cancel["at"] < deadline, "the cancel must come while the fault is active"
        assert "Never reached" not in output
        lateness = wait_gone_by_deadline(kind, victim, deadline)
    finally:
        kill_orphans()  # the worker running wait_for survives the group kill (it called setsid)
    [entry] = assert_reverted_by_reaper(state_dir)
    report(record_property, "awx_cancel_%s_seen_gone_after_deadline_s" % kind, lateness)
    report(record_property, "awx_cancel_%s_reverted_after_deadline_s" % kind, entry["reverted_at"] - deadline)


# ------------------------------------------------------------------ 2. SIGTERM to ansible-playbook

def test_sigterm_to_the_playbook_leaves_the_undo_to_the_target(containers, state_dir, tmp_path, record_property):
    victim = containers("term")
    book = tmp_path / "terminated.yml"
    book.write_text(json.dumps(cancelled_play("loss", victim, state_dir, "sigterm")))
    log = open(tmp_path / "playbook.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                             "-e", "ansible_python_interpreter=%s" % PYTHON, str(book)], cwd=REPO,
                            env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        entry, _waited = wait_for(lambda: applied_entry(state_dir) if our_chains(victim) else None, timeout=60)
        assert entry, (tmp_path / "playbook.log").read_text()
        proc.send_signal(signal.SIGTERM)  # to ansible-playbook only, as a service manager would
        termed_at = time.time()
        proc.wait(timeout=20)
        assert termed_at < entry["deadline"]
        lateness = wait_gone_by_deadline("loss", victim, entry["deadline"])
        assert "Never reached" not in (tmp_path / "playbook.log").read_text()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_orphans()
        log.close()
    [final] = assert_reverted_by_reaper(state_dir)
    report(record_property, "sigterm_loss_seen_gone_after_deadline_s", lateness)
    report(record_property, "sigterm_loss_reverted_after_deadline_s", final["reverted_at"] - entry["deadline"])


# ------------------------------------------------------------------ 3. the target restarted mid-fault

@pytest.mark.parametrize("kind", ["loss", "cpu"])
def test_target_restarted_mid_fault(kind, containers, state_dir, record_property):
    victim = containers("restart" + kind, restart=True)
    module, fault, seen_check, gone_check = KINDS[kind]
    rc, result = run_module(module.rsplit(".", 1)[1], dict(fault, targets=targets(victim), duration=5,
                                                           state_dir=str(state_dir)))
    assert rc == 0, result
    entry = applied_entry(state_dir)
    visible, _waited = wait_for(lambda: seen_check(victim), timeout=3)
    assert visible, "the %s fault is not visible" % kind
    old_pid = pid_of(victim)

    victim.restart(timeout=1)  # sleep (PID 1) ignores SIGTERM: killed after 1 s, then started again
    assert pid_of(victim) not in (0, old_pid)
    assert time.time() < entry["deadline"], "the restart outlasted the fault: the test proves nothing"
    if kind == "loss":
        assert gone_check(victim), "the restarted container has a new network namespace: nothing of ours in it"
    else:
        left = stress_pids(victim)
        print("\nstress-ng processes still in the cgroup of the restarted container: %s (%s)"
              % (len(left), ", ".join("%d pidns=%s" % (p, os.readlink("/proc/%d/ns/pid" % p)) for p in left)))
        record_property("restart_cpu_stress_survived", len(left))

    reverted, _waited = wait_for(lambda: not active_entries(state_dir), timeout=max(0.0, entry["deadline"] + 3 - time.time()))
    assert reverted, ledger_entries(state_dir)
    [final] = assert_reverted_by_reaper(state_dir)
    assert gone_check(victim) and network_clean(victim)
    assert state_of(victim)["Running"]
    report(record_property, "restart_%s_reverted_after_deadline_s" % kind, final["reverted_at"] - entry["deadline"])


# ------------------------------------------------------------------ 4. the ledger deleted or corrupted mid-run

@pytest.mark.parametrize("damage", ["deleted", "corrupted"])
def test_ledger_lost_mid_run_pause_still_expires(damage, containers, state_dir, record_property):
    victim = containers("ledger" + damage)
    rc, result = run_module("container_chaos", {"action": "pause", "duration": 5, "targets": targets(victim),
                                                "state_dir": str(state_dir), "experiment_id": "ledger-" + damage})
    assert rc == 0, result
    deadline = result["containers"][0]["deadline"]
    assert state_of(victim)["Paused"]
    ledger = state_dir / "ledger.json"
    if damage == "deleted":
        ledger.unlink()
    else:
        ledger.write_text("{ this is not json \x00\x01")
    damaged_at = time.time()

    restored, _waited = wait_for(lambda: readable_active(state_dir), timeout=3)
    restored_after = time.time() - damaged_at
    assert restored, "the reaper did not write its active entries back"
    if damage == "corrupted":
        moved = list(state_dir.glob("ledger.json.corrupt-*"))
        assert len(moved) == 1 and "not json" in moved[0].read_text(), moved
    assert time.time() < deadline and state_of(victim)["Paused"], "the pause must still be active here"

    lateness = wait_gone_by_deadline("pause", victim, deadline)
    [entry] = assert_reverted_by_reaper(state_dir)
    rc, info = run_module("chaos_ledger_info", {"state_dir": str(state_dir), "include_done": True})
    assert rc == 0 and not info.get("failed"), info  # the rewritten ledger reads again
    assert [f.get("id") or f.get("entry_id") for f in info["faults"]] == [entry["id"]], info["faults"]
    assert "Traceback" not in info.output
    report(record_property, "ledger_%s_pause_seen_gone_after_deadline_s" % damage, lateness)
    report(record_property, "ledger_%s_restored_within_s" % damage, restored_after)
    assert entry["reverted_at"] >= deadline


def test_corrupt_ledger_is_a_clear_error(containers, state_dir, tmp_path):
    """No reaper is running here (nothing active), so the corrupt file stays: calls fail, naming it."""
    victim = containers("corrupt")
    ledger = state_dir / "ledger.json"
    ledger.write_text("garbage{{{")
    try:
        results = run_modules([
            {"module": "chaos_ledger_info", "args": {"state_dir": str(state_dir)}},
            {"module": "container_chaos", "args": {"action": "pause", "duration": 5, "targets": targets(victim),
                                                   "state_dir": str(state_dir)}},
        ], tmp_path)
        still_garbage = ledger.read_text() == "garbage{{{"
    finally:
        ledger.unlink()  # the fixtures read every ledger of the run
    for result in results:
        assert result.get("failed"), result
        assert "ledger" in result["msg"] and "unreadable" in result["msg"], result["msg"]
        assert "Traceback" not in result["msg"] and "Traceback" not in result.get("module_stderr", "")
    assert not state_of(victim)["Paused"], "a refused call must change nothing"
    assert still_garbage
    rc, info = run_module("chaos_ledger_info", {"state_dir": str(state_dir)})
    assert rc == 0 and info["faults"] == [], info


def test_network_absent_removes_ours_without_a_ledger(containers, state_dir, session_root):
    victim = containers("absent")
    rc, result = run_module("network_chaos", {"targets": targets(victim), "loss": {"percent": 20}, "rate": "8mbit",
                                              "duration": 60, "state_dir": str(state_dir)})
    assert rc == 0, result
    assert our_chains(victim) and our_qdiscs(victim)
    # The ledger and the reaper's memory of it are both lost (the reaper is ours: it was started for this test).
    for pid in reaper_pids(session_root / state_dir.name):
        os.kill(pid, signal.SIGKILL)
    (state_dir / "ledger.json").unlink()

    rc, gone = run_module("network_chaos", {"targets": targets(victim), "state": "absent",
                                            "state_dir": str(state_dir)})
    assert rc == 0 and gone["changed"] is True, gone
    assert gone["removed"] == []
    [left] = gone["leftovers"]
    assert left["target"] == victim.name and left["qdisc"] is True and left["chains"], left
    assert network_clean(victim)
    rc, again = run_module("network_chaos", {"targets": targets(victim), "state": "absent",
                                             "state_dir": str(state_dir)})
    assert rc == 0 and again["changed"] is False and again["leftovers"] == [], again


# ------------------------------------------------------------------ 5. a failure inside a role's block

class Switchable(ThreadingHTTPServer):
    """A tiny HTTP server on 127.0.0.1 that answers 200, and can be stopped and started on the same port."""

    def __init__(self):
        class Ok(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.handler = Ok
        super().__init__(("127.0.0.1", 0), Ok)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


def compose_labels(prefix, service):
    return {"com.docker.compose.project": prefix + "proj", "com.docker.compose.service": service}


def run_role_play(tmp_path, role, role_vars, extra_play_vars=None, on_running=None):
    book = tmp_path / ("%s.yml" % role)
    play = [{"name": "role under failure", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": dict({"ansible_python_interpreter": PYTHON}, **(extra_play_vars or {})),
             "tasks": [{"name": "Run the role", "ansible.builtin.include_role": {"name": "sutazai.chaos." + role},
                        "vars": role_vars}]}]
    book.write_text(json.dumps(play))
    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(book)], cwd=REPO,
                            env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = threading.Thread(target=on_running, daemon=True) if on_running else None
    if watcher:
        watcher.start()
    out, err = proc.communicate(timeout=120)
    if watcher:
        watcher.join(timeout=30)
    data = json.loads(out[out.find("{"):])
    tasks = [(t["task"]["name"], t["hosts"]["localhost"]) for p in data["plays"] for t in p["tasks"]]
    return proc.returncode, tasks, out + err


def experiment_failure(tasks, experiment_id):
    return [r["msg"] for _name, r in tasks if r.get("failed") and str(r.get("msg", "")).startswith(
        "Experiment %s failed" % experiment_id)]


def test_network_role_failing_mid_block_leaves_nothing(containers, state_dir, tmp_path, prefix):
    victim = containers("webnet", labels=compose_labels(prefix, "web"))
    server = Switchable()
    experiment = "role-net-" + secrets.token_hex(3)
    timings = {}

    def outage_during_fault():
        # The health check starts healthy (preflight, baseline), fails while the fault is active, and is
        # back once the rescue has rolled it back (so the steady-state check in always can pass).
        active, _waited = wait_for(lambda: active_entries(state_dir), timeout=60)
        if not active:
            return
        timings["fault_at"] = time.time()
        server.stop()
        wait_for(lambda: ledger_entries(state_dir) and not active_entries(state_dir), timeout=60)
        timings["reverted_seen_at"] = time.time()
        timings["server"] = Switchable.__new__(Switchable)
        try:
            ThreadingHTTPServer.__init__(timings["server"], ("127.0.0.1", server.port), server.handler)
            threading.Thread(target=timings["server"].serve_forever, daemon=True).start()
        except OSError as exc:
            timings["restart_error"] = str(exc)

    try:
        rc, tasks, output = run_role_play(tmp_path, "network_chaos", {
            "network_chaos_targets": targets(victim),
            "network_chaos_fault": {"loss": {"percent": 30}},
            "network_chaos_duration": 20,
            "network_chaos_health_checks": {"web": {"type": "http", "url": "http://127.0.0.1:%d/" % server.port}},
            "network_chaos_baseline_seconds": 1,
            "network_chaos_sample_interval": 0.2,
            "network_chaos_abort_availability_below": 0.99,
            "network_chaos_recovery_timeout": 10,
            "network_chaos_experiment_id": experiment,
            "network_chaos_state_dir": str(state_dir),
            "network_chaos_report_dir": str(tmp_path / "results"),
        }, on_running=outage_during_fault)
    finally:
        if "server" in timings:
            timings["server"].shutdown()
            timings["server"].server_close()
    assert rc != 0, output
    messages = experiment_failure(tasks, experiment)
    assert len(messages) == 1, [(n, r.get("msg")) for n, r in tasks if r.get("failed")] or output[-4000:]
    message = messages[0]
    assert "failed at task 'Sample the services'" in message and "sampling aborted" in message, message
    assert "network" in message, message  # the rolled-back kinds
    [entry] = ledger_entries(state_dir)
    assert entry["state"] == "reverted" and entry.get("reverted_by") != "reaper", entry
    assert entry["reverted_at"] < entry["deadline"] - 5, "the rescue must roll back at once, not at the deadline"
    assert not active_entries(state_dir)
    assert network_clean(victim)


def test_container_role_failing_mid_block_unpauses_at_once(docker_client, state_dir, tmp_path, prefix):
    # A web server inside the target, published on 127.0.0.1 only: the pause itself makes it unhealthy.
    victim = docker_client.containers.run(
        IMAGE, ["python3", "-m", "http.server", "8000", "--bind", "0.0.0.0"], name=prefix + "webpause", detach=True,
        labels=dict({RUN_LABEL: SESSION_TAG, "sct.prefix": prefix}, **compose_labels(prefix, "web")),
        ports={"8000/tcp": ("127.0.0.1", None)})
    try:
        victim.reload()
        port = int(victim.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"])
        url = "http://127.0.0.1:%d/" % port
        fetch = ["python3", "-c", "import urllib.request as u; u.urlopen(%r, timeout=1)" % url]
        up, _waited = wait_for(lambda: subprocess.run(fetch, capture_output=True, check=False).returncode == 0,
                               timeout=10, interval=0.2)
        assert up, "the web server in the container did not come up"
        experiment = "role-pause-" + secrets.token_hex(3)
        started = time.time()
        rc, tasks, output = run_role_play(tmp_path, "container_chaos", {
            "container_chaos_action": "pause",
            "container_chaos_targets": targets(victim),
            "container_chaos_duration": 30,
            "container_chaos_health_checks": {"web": {"type": "http", "url": url}},
            "container_chaos_baseline_seconds": 1,
            "container_chaos_sample_interval": 0.2,
            "container_chaos_recovery_timeout": 5,
            "container_chaos_experiment_id": experiment,
            "container_chaos_state_dir": str(state_dir),
            "container_chaos_report_dir": str(tmp_path / "results"),
            "container_chaos_abort_availability_below": 0.99,
        })
        assert rc != 0, output
        messages = experiment_failure(tasks, experiment)
        assert len(messages) == 1, [(n, r.get("msg")) for n, r in tasks if r.get("failed")] or output[-4000:]
        message = messages[0]
        assert "failed at task 'Sample the services'" in message, message
        [entry] = ledger_entries(state_dir)
        assert entry["state"] == "reverted" and entry.get("reverted_by") != "reaper", entry
        assert entry["reverted_at"] < entry["deadline"] - 15, "the rescue must unpause at once, not at the deadline"
        assert not state_of(victim)["Paused"]
        print("\nrole rescue unpaused %.1f s before the pause's deadline (play ran %.1f s)"
              % (entry["deadline"] - entry["reverted_at"], time.time() - started))
    finally:
        victim.remove(force=True)


# ------------------------------------------------------------------ 6. two experiments at once

def test_two_experiments_on_one_target(containers, state_dir, tmp_path):
    x, y = containers("x"), containers("y")
    sd = str(state_dir)
    pause = {"action": "pause", "duration": 30, "targets": targets(x), "state_dir": sd}
    loss = {"loss": {"percent": 30}, "duration": 30, "targets": targets(y), "state_dir": sd}
    cpu = {"cpu": {"workers": 1, "load": 30}, "max_cpu_percent": 100, "duration": 30, "targets": targets(y),
           "state_dir": sd}
    try:
        r = run_modules([
            {"module": "container_chaos", "args": dict(pause, experiment_id="exp-A")},
            {"module": "chaos_ledger_info", "args": {"state_dir": sd}},
            {"module": "container_chaos", "args": dict(pause, experiment_id="exp-B")},
            {"module": "container_chaos", "args": pause},  # ad hoc, identical: idempotent
            {"module": "network_chaos", "args": dict(loss, experiment_id="exp-A")},
            {"module": "chaos_ledger_info", "args": {"state_dir": sd}},
            {"module": "network_chaos", "args": dict(loss, experiment_id="exp-B", loss={"percent": 50})},
            {"module": "network_chaos", "args": loss},  # ad hoc, identical: idempotent
            {"module": "resource_stress", "args": dict(cpu, experiment_id="exp-B")},  # another kind: combines
        ], tmp_path)
        assert r[0]["changed"] and not r[0].get("failed"), r[0]
        for refused, kind in ((r[2], "pause"), (r[6], "network")):
            assert refused.get("failed"), refused
            assert "held by experiment exp-A" in refused["msg"] and kind in refused["msg"], refused["msg"]
            assert "Traceback" not in refused["msg"]
        assert r[3].get("failed") is not True and r[3]["changed"] is False, r[3]
        assert r[7].get("failed") is not True and r[7]["changed"] is False, r[7]
        assert r[8].get("failed") is not True and r[8]["changed"] is True, r[8]
        # Nothing changed by the refusals: the ledger holds what A did, plus B's stress.
        active = active_entries(state_dir)
        assert sorted((e["experiment_id"], e["target"]["name"]) for e in active) == sorted(
            [("exp-A", x.name), ("exp-A", y.name), ("exp-B", y.name)]), active
        loss_entry = next(e for e in active if e["target"]["name"] == y.name and e["experiment_id"] == "exp-A")
        assert loss_entry["spec"]["loss"] == {"percent": 30.0} or loss_entry["spec"]["loss"]["percent"] == 30
        assert state_of(x)["Paused"]
        assert len(our_chains(y)) == 1, "B's loss must not have added a chain"
        assert stress_pids(y), "B's CPU stress runs next to A's loss"
    finally:
        rc, undone = run_module("chaos_rollback", {"all": True, "state_dir": sd})
    assert rc == 0, undone
    assert not active_entries(state_dir)
    assert not state_of(x)["Paused"] and network_clean(y)
    gone, _waited = wait_for(lambda: not stress_pids(y), timeout=3)
    assert gone
