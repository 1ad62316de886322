# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.process_chaos on real containers: a worker killed and restarted by the container's own
supervisor, one that stays gone, stops resumed by the reaper (also with the controller SIGKILLed), by
state=absent and by the emergency stop, and refusals that change nothing.

The containers run a tiny shell supervisor as their main process:
``sh -c 'sleep 2000 & while true; do sleep 1000 & wait $!; done'``: ``sleep 1000`` is restarted whenever it
dies, ``sleep 2000`` is not. Every effect is read from the host's /proc, not from the module's result.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (IMAGE, REPO, RUN_LABEL, SESSION_TAG, VENV_BIN, active_entries, ansible_env, audit_lines,
                      kill_orphans, ledger_entries, run_module, run_modules, wait_for, write_playbook)

SUPERVISOR = "sleep 2000 & while true; do sleep 1000 & wait $!; done"
SUPERVISED = "^sleep 1000$"
UNSUPERVISED = "^sleep 2000$"


@pytest.fixture
def supervised(docker_client, prefix):
    """Factory: ``supervised(suffix) -> container`` running SUPERVISOR, its workers up; removed after the test."""
    made = []

    def make(suffix):
        container = docker_client.containers.run(IMAGE, ["sh", "-c", SUPERVISOR], name=prefix + suffix, detach=True,
                                                 labels={RUN_LABEL: SESSION_TAG, "sct.prefix": prefix})
        made.append(container)
        up, _waited = wait_for(lambda: worker(container, SUPERVISED) and worker(container, UNSUPERVISED), timeout=10)
        assert up, "the supervisor's workers never started: %s" % processes(container)
        return container

    yield make
    for container in made:
        container.remove(force=True)


def processes(container):
    """{host pid: (state letter, command line)} of the live processes in the container's cgroup."""
    container.reload()
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            if container.id not in Path("/proc/%s/cgroup" % name).read_text():
                continue
            state = Path("/proc/%s/stat" % name).read_text().rsplit(")", 1)[1].split()[0]
            argv = Path("/proc/%s/cmdline" % name).read_bytes().rstrip(b"\0").replace(b"\0", b" ").decode()
        except OSError:
            continue
        if state not in ("Z", "X"):
            found[int(name)] = (state, argv)
    return found


def worker(container, pattern):
    """Host PID of the one live process whose command line is exactly the pattern's text, or None."""
    text = pattern.strip("^$")
    pids = [pid for pid, (_state, argv) in processes(container).items() if argv == text]
    return pids[0] if len(pids) == 1 else None


def state_of(pid):
    try:
        return Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def stopped_in(container):
    """Processes of the container in state T: after every test, none may be left."""
    return {pid: argv for pid, (state, argv) in processes(container).items() if state in ("T", "t")}


def args(sd, container, **extra):
    base = {"state_dir": str(sd), "targets": {"names": [container.name]}}
    base.update(extra)
    return base


def test_restart_kills_a_worker_and_its_supervisor_restarts_it(supervised, state_dir, record_property):
    box = supervised("restart")
    main_pid = box.attrs["State"]["Pid"]
    old, other = worker(box, SUPERVISED), worker(box, UNSUPERVISED)
    predicted, restarted = run_modules([
        {"module": "process_chaos", "check": True,
         "args": args(state_dir, box, action="restart", process={"pattern": "sleep 1000"})},
        {"module": "process_chaos", "args": args(state_dir, box, action="restart", process={"pattern": "sleep 1000"},
                                                 restart_wait=5)},
    ], state_dir)
    # check mode predicted the very process and left it alone (the pattern also matches PID 1: skipped)
    assert predicted["changed"] is True and [p["pid"] for p in predicted["processes"]] == [old], predicted
    assert predicted["selection"]["pid1_skipped"] and predicted["selection"]["processes_matched"] == 2
    [hit] = restarted["processes"]
    assert hit["pid"] == old and hit["ns_pid"] > 1 and hit["comm"] == "sleep" and hit["cmdline"] == "sleep 1000"
    assert hit["state_after"] == "gone" and hit["restarted"] is True and hit["new_pid"] != old
    # the effect, from /proc: the old worker is gone, a new one runs, the rest is untouched
    assert state_of(old) in (None, "Z")
    assert worker(box, SUPERVISED) == hit["new_pid"]
    assert worker(box, UNSUPERVISED) == other and state_of(main_pid) in ("S", "R")
    assert audit_lines(state_dir)[-1]["event"] == "inject" and active_entries(state_dir) == []
    record_property("process_restart_seconds", hit["restart_seconds"])
    print("\nworker back after %.3f s (new PID %d)" % (hit["restart_seconds"], hit["new_pid"]))
    assert stopped_in(box) == {}


def test_kill_without_a_supervisor_stays_gone(supervised, state_dir):
    box = supervised("kill")
    old, supervised_pid = worker(box, UNSUPERVISED), worker(box, SUPERVISED)
    rc, result = run_module("process_chaos", args(state_dir, box, action="kill", signal="SIGTERM",
                                                  process={"name": "sleep", "pattern": "2000"}))
    assert rc == 0 and result["changed"] is True, result
    assert [(p["pid"], p["signal"], p["state_after"]) for p in result["processes"]] == [(old, "SIGTERM", "gone")]
    back, _waited = wait_for(lambda: worker(box, UNSUPERVISED), timeout=1.5)
    assert back is None, "sleep 2000 came back although nothing supervises it"
    assert worker(box, SUPERVISED) == supervised_pid and stopped_in(box) == {}


def test_stop_is_resumed_by_the_reaper_at_the_deadline(supervised, state_dir, record_property):
    box = supervised("expire")
    pid = worker(box, SUPERVISED)
    stop, again = run_modules([
        {"module": "process_chaos", "diff": True, "args": args(state_dir, box, action="stop", duration=2,
                                                               process={"pattern": SUPERVISED})},
        {"module": "process_chaos", "args": args(state_dir, box, action="stop", duration=2,
                                                 process={"pattern": SUPERVISED})},
    ], state_dir)
    [hit] = stop["processes"]
    assert hit["pid"] == pid and hit["state_after"] == "stopped" and hit["signal"] == "SIGSTOP", stop
    key = "%s/%d" % (box.name, pid)
    assert stop["diff"] == {"before": {key: "sleeping"}, "after": {key: "stopped"}}
    assert again["changed"] is False and again["processes"][0]["note"] == "already stopped by this collection"
    deadline = hit["deadline"]
    if time.time() < deadline - 0.2:
        assert state_of(pid) == "T", "not stopped while the fault is active"
    resumed, _waited = wait_for(lambda: state_of(pid) in ("S", "R"), timeout=max(0.0, deadline + 3 - time.time()))
    seen = time.time()
    assert resumed, "still stopped 3 s after the deadline"
    wait_for(lambda: ledger_entries(state_dir)[0]["state"] != "active", timeout=3)
    [entry] = ledger_entries(state_dir)
    assert entry["state"] == "reverted" and entry["reverted_by"] == "reaper", entry
    assert worker(box, SUPERVISED) == pid, "the very process stopped must be the one resumed, not a new one"
    record_property("process_resume_lateness_s", round(entry["reverted_at"] - deadline, 3))
    print("\nreaper resumed the process %.3f s after the deadline (seen %.3f s after)"
          % (entry["reverted_at"] - deadline, seen - deadline))
    assert stopped_in(box) == {}


def test_state_absent_and_the_emergency_stop_resume(supervised, state_dir):
    sd = str(state_dir)
    one, two = supervised("absent"), supervised("estop")
    first, second = worker(one, SUPERVISED), worker(two, UNSUPERVISED)
    stop_one, stop_two, absent, absent_again = run_modules([
        {"module": "process_chaos", "args": args(sd, one, action="stop", duration=300, experiment_id="pc-1",
                                                 process={"name": "sleep", "pattern": "1000"})},
        {"module": "process_chaos", "args": args(sd, two, action="stop", duration=300, experiment_id="pc-2",
                                                 process={"pattern": UNSUPERVISED})},
        {"module": "process_chaos", "args": args(sd, one, action="stop", state="absent")},
        {"module": "process_chaos", "args": args(sd, one, action="stop", state="absent")},
    ], state_dir)
    assert stop_one["changed"] and stop_two["changed"], (stop_one, stop_two)
    assert state_of(first) in ("S", "R") and stopped_in(one) == {}
    assert absent["changed"] is True and [p["pid"] for p in absent["processes"]] == [first]
    assert absent_again["changed"] is False and absent_again["processes"] == []
    assert stopped_in(two) == {second: "sleep 2000"}, "the other experiment's stop must stay"

    rc, stopped = run_module("chaos_emergency_stop", {"state_dir": sd, "reason": "process_chaos test"})
    assert rc == 0 and [e["experiment_id"] for e in stopped["reverted"]] == ["pc-2"], stopped
    assert state_of(second) in ("S", "R") and stopped_in(two) == {}
    assert active_entries(state_dir) == []
    rc, refused = run_module("process_chaos", args(sd, two, action="stop", duration=5,
                                                   process={"pattern": UNSUPERVISED}))
    assert rc != 0 and "emergency-stop flag is set" in refused["msg"] and stopped_in(two) == {}
    rc, resumed = run_module("chaos_emergency_stop", {"state_dir": sd, "state": "absent"})
    assert rc == 0 and resumed["changed"] is True


def test_stop_is_resumed_after_the_controller_is_killed(supervised, state_dir, tmp_path, record_property):
    """SIGKILL to the playbook's process group (an AWX cancel): only the reaper on the host resumes the process."""
    box = supervised("kill9")
    pid = worker(box, SUPERVISED)
    book = write_playbook(tmp_path / "cancelled.yml", [
        {"name": "Stop the worker for 3 s", "sutazai.chaos.process_chaos": args(
            state_dir, box, action="stop", duration=3, experiment_id="pc-cancelled", process={"pattern": SUPERVISED})},
        {"name": "A long observation the job is cancelled during", "ansible.builtin.wait_for": {"timeout": 60}},
    ])
    log = open(tmp_path / "playbook.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(book)], cwd=REPO,
                            env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def applied():
            entries = ledger_entries(state_dir)
            return entries and not entries[0].get("applying") and state_of(pid) == "T" and entries[0]

        entry, _waited = wait_for(applied, timeout=60)
        assert entry, "the playbook never stopped the worker: %s" % (tmp_path / "playbook.log").read_text()
        os.killpg(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=10)
        deadline = entry["deadline"]
        assert killed_at < deadline, "the kill must happen while the fault is active"
        assert state_of(pid) == "T"
        resumed, _waited = wait_for(lambda: state_of(pid) in ("S", "R"), timeout=max(0.0, deadline + 3 - time.time()))
        seen = time.time()
        assert resumed, "still stopped 3 s after the deadline, with the controller dead"
        wait_for(lambda: ledger_entries(state_dir)[0]["state"] != "active", timeout=3)
        [final] = ledger_entries(state_dir)
        assert final["state"] == "reverted" and final["reverted_by"] == "reaper", final
        record_property("process_resume_lateness_after_kill9_s", round(final["reverted_at"] - deadline, 3))
        print("\nafter kill -9 of the controller: resumed %.3f s after the deadline (seen %.3f s)"
              % (final["reverted_at"] - deadline, seen - deadline))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_orphans()  # the setsid'ed worker running wait_for survives the group kill
        log.close()
    assert stopped_in(box) == {}


def test_refusals_change_nothing(supervised, state_dir):
    box = supervised("refuse")
    before = processes(box)
    sd = str(state_dir)
    pid1, nothing, bad_regex, empty_ok, stop_signal = run_modules([
        {"module": "process_chaos", "args": args(sd, box, action="kill", process={"name": "sh"})},
        {"module": "process_chaos", "args": args(sd, box, action="stop", duration=5, process={"name": "nginx"})},
        {"module": "process_chaos", "args": args(sd, box, action="kill", process={"pattern": "sleep (1000"})},
        {"module": "process_chaos", "args": args(sd, box, action="kill", process={"name": "nginx"}, allow_empty=True)},
        {"module": "process_chaos", "args": args(sd, box, action="kill", signal="SIGSTOP", process={"name": "sleep"})},
    ], state_dir)
    for refused, needle in ((pid1, "container_chaos"), (nothing, "no process in %s matches name 'nginx'" % box.name),
                            (bad_regex, "is not a valid regular expression"), (stop_signal, "use action=stop")):
        assert refused.get("failed") is True and refused.get("changed") is not True, refused
        assert needle in refused["msg"] and "Nothing was changed" in refused["msg"], refused["msg"]
        assert "Traceback" not in refused.output
    assert empty_ok.get("failed") is not True and empty_ok["changed"] is False and empty_ok["processes"] == []
    assert processes(box) == before, "a refused call changed the container's processes"
    assert ledger_entries(state_dir) == []
