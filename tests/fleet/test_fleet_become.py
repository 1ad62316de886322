# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The way a real inventory connects: an ordinary SSH user (``chaos``) and ``become`` (sudo) for the faults.

The fleet's group_vars still log in as root; these tests override that on the command line only.
"""

from __future__ import annotations

import json
import time

from conftest import (STATE_DIR, ansible_env, can_ping, docker_exec, failures, host_state, is_clean, marked_pids,
                      run_playbook, task_results, wait_until_clean, write_playbook)

AS_CHAOS = ["-e", "ansible_user=chaos"]
PARTITION_ALL = {"peers": ["0.0.0.0/0"], "direction": "both"}
LIGHT_CPU = {"workers": 1, "load": 10}  # the fault, not a load test: 2 cores shared with other test runs
WHO = {"name": "who runs the modules", "ansible.builtin.shell": 'echo "$SUDO_USER $(id -u)"',
       "changed_when": False}


def faults(duration):
    return [
        {"name": "partition from everything", "sutazai.chaos.network_chaos": {
            "interface": "eth0", "partition": PARTITION_ALL, "duration": duration}},
        {"name": "CPU stress on the host", "sutazai.chaos.resource_stress": {
            "cpu": LIGHT_CPU, "max_cpu_percent": 100, "duration": duration}},
    ]


def owners(host, pids):
    """uid of the state folder and its mode, and the uid of each given process, seen as root on the host."""
    script = "stat -c '%%u %%a' %s; for p in %s; do stat -c %%u /proc/$p; done" % (STATE_DIR, " ".join(map(str, pids)))
    lines = docker_exec(host, ["sh", "-c", script]).stdout.split()
    return (lines[0], lines[1]), lines[2:]


def test_faults_as_an_ordinary_user_with_become_run_as_root_and_expire_without_the_controller(hosts, tmp_path):
    duration = 15  # time to look at every host on a busy 2-core machine before the reaper acts
    book = write_playbook(tmp_path, [WHO] + faults(duration))
    env = ansible_env(persist=False)  # no SSH master: nothing of the controller is left once the run ends
    proc, output = run_playbook(book, forks=len(hosts), env=env, extra=AS_CHAOS + ["-e", "ansible_become=true"])
    assert proc.returncode == 0, failures(output)
    assert not marked_pids(), "an SSH connection or worker of the run is still alive"
    for host, result in task_results(output, 0).items():
        assert result["stdout"] == "chaos 0", "%s: logged in as %r" % (host, result["stdout"])
    # The effect first, while the fault surely lasts (the per-host checks below take seconds on a busy machine).
    names = sorted(hosts)
    for source, peer in zip(names, names[1:] + names[:1]):
        assert not can_ping(source, hosts[peer]["fleet_address"]), "%s -> %s still passes" % (source, peer)
    # The controller's SSH reaches a host through its published port, so from the fleet network's gateway.
    controller = {host: json.loads(docker_exec(host, ["ip", "-j", "route", "show", "default"]).stdout)[0]["gateway"]
                  for host in hosts}
    faulted = {}
    for host in hosts:
        state = host_state(host)
        assert state["chains"] and state["stress"] and state["reapers"] and len(state["active"]) == 2, (host, state)
        folder, uids = owners(host, state["stress"] + state["reapers"])
        assert folder == ("0", "700"), "%s: the ledger folder is uid/mode %s, not root's" % (host, folder)
        assert set(uids) == {"0"}, "%s: stress-ng and the reaper run as uids %s, not root" % (host, uids)
        spared = [e["spec"]["spared"] for e in state["active"] if e["kind"] == "network"]
        assert spared == [{"ports": [22], "addresses": [controller[host]]}], "%s: spared %s" % (host, spared)
        faulted[host] = state
    for host in hosts:
        assert len(host_state(host)["active"]) == 2, "%s lost a fault while the test looked" % host

    last_deadline = max(e["deadline"] for s in faulted.values() for e in s["active"])
    clean_at = wait_until_clean(hosts, timeout=last_deadline + 20 - time.time())
    assert set(clean_at) == set(hosts), "still faulted: %s" % sorted(set(hosts) - set(clean_at))
    late = {h: round(clean_at[h] - max(e["deadline"] for e in s["active"]), 2) for h, s in faulted.items()}
    print("\nas chaos with become: undone by the root reaper, seconds after the deadline: %s" % late)
    assert all(-0.5 <= v <= 3 for v in late.values()), late
    for source, peer in zip(names, names[1:] + names[:1]):
        assert can_ping(source, hosts[peer]["fleet_address"]), "%s -> %s still cut" % (source, peer)
        entries = host_state(source)["entries"]
        assert sorted((e["kind"], e["state"], e["reverted_by"]) for e in entries) == [
            ("network", "reverted", "reaper"), ("stress", "reverted", "reaper")], entries


def test_without_become_an_ordinary_user_is_told_to_use_it_and_nothing_changes(hosts, tmp_path):
    names = sorted(hosts)
    # One host holds the state folder an earlier run with become made (root's, 0700); on the others it is
    # missing, so both ways of not being able to write it are seen.
    docker_exec(names[0], ["install", "-d", "-m", "0700", STATE_DIR])
    book = write_playbook(tmp_path, [dict(task, ignore_errors=True) for task in faults(5)])
    proc, output = run_playbook(book, forks=len(hosts), extra=AS_CHAOS + ["-e", "ansible_become=false"])
    assert proc.returncode == 0, output  # the failures are ignored so that both tasks run
    for index, needle in ((0, "network_chaos runs as uid 1000 (chaos): run the task with become: true"),
                          (1, "the state folder %s cannot be written as uid 1000 (chaos)" % STATE_DIR)):
        for host, result in task_results(output, index).items():
            msg = result.get("msg", "")
            assert result["failed"] and not result["changed"], (host, result)
            assert needle in msg and "become: true" in msg and msg.endswith("Nothing was changed."), (host, msg)
            assert "Traceback" not in str(result) and "module_stderr" not in result, (host, result)
    for host in names:
        state = host_state(host)
        assert is_clean(state) and not state["entries"], (host, state)
    assert docker_exec(names[0], ["ls", "-A", STATE_DIR]).stdout == "", "something was written to the folder"
    for host in names[1:]:
        assert docker_exec(host, ["test", "-e", STATE_DIR]).returncode == 1, "%s: the state folder was made" % host
    assert can_ping(names[0], hosts[names[1]]["fleet_address"])
