# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Host-level faults over SSH on every fleet host, and the target-side reaper with no controller."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from conftest import (REPO, ad_hoc_ping, ansible_env, can_ping, docker_exec, failures, host_state, kill_marked,
                      marked_pids, playbook_argv, run_playbook, task_results, wait_for, wait_until_clean,
                      write_playbook)

NEXT_PEER = ("{{ hostvars[groups['fleet'][(groups['fleet'].index(inventory_hostname) + 1) % (groups['fleet'] "
             "| length)]].fleet_address }}")
PARTITION_ALL = {"peers": ["0.0.0.0/0"], "direction": "both"}
LIGHT_CPU = {"workers": 1, "load": 10}  # 2 cores shared with other test runs: the fault, not a load test


def peers_of(hosts):
    names = sorted(hosts)
    return [(name, names[(i + 1) % len(names)]) for i, name in enumerate(names)]


def wait_until_faulted(hosts, timeout, stress=False):
    def faulted():
        states = {h: host_state(h) for h in hosts}
        return all(s["chains"] and (s["stress"] or not stress) for s in states.values()) and states
    states, _waited = wait_for(faulted, timeout=timeout, interval=0.3)
    assert states, "the fault did not appear on every host within %s s" % timeout
    return states


def lateness(states_before, clean_at, offsets=None):
    """Seconds between each host's recorded deadline (in controller time) and the moment it was seen clean."""
    late = {}
    for host, state in states_before.items():
        deadline = max(e["deadline"] for e in state["active"]) - (offsets or {}).get(host, 0)
        late[host] = round(clean_at[host] - deadline, 2)
    return late


def test_full_partition_spares_the_session_that_injected_it(hosts, tmp_path):
    book = write_playbook(tmp_path, [
        {"name": "partition from everything", "sutazai.chaos.network_chaos": {
            "interface": "eth0", "partition": PARTITION_ALL, "duration": 60}},
        {"name": "a fleet peer is cut off", "ansible.builtin.command": "ping -n -c 1 -W 1 " + NEXT_PEER,
         "register": "peer_ping", "failed_when": False, "changed_when": False},
        {"name": "the same SSH session still answers", "ansible.builtin.ping": {}},
    ])
    proc, output = run_playbook(book, forks=len(hosts))
    assert proc.returncode == 0, failures(output)
    for host, result in task_results(output, 0).items():
        assert result["changed"] and result["faults"][0]["target"] == "host:eth0", result
        assert task_results(output, 1)[host]["rc"] != 0, "%s still reached its peer" % host
        assert task_results(output, 2)[host]["ping"] == "pong"
    # Both directions, every pair, seen from inside the hosts (docker exec is not the control channel).
    for source, peer in peers_of(hosts):
        assert not can_ping(source, hosts[peer]["fleet_address"]), "%s -> %s still passes" % (source, peer)
        assert not can_ping(peer, hosts[source]["fleet_address"]), "%s -> %s still passes" % (peer, source)
    # A brand-new SSH connection (own ControlPath folder) and a new `ansible -m ping` still get through.
    assert ad_hoc_ping() == {host: "ok" for host in hosts}
    for host in hosts:
        assert host_state(host)["chains"], "%s lost its partition while the test looked" % host

    proc, output = run_playbook(write_playbook(tmp_path, [
        {"sutazai.chaos.network_chaos": {"interface": "eth0", "state": "absent"}}]), forks=len(hosts))
    assert proc.returncode == 0, failures(output)
    for host, result in task_results(output, 0).items():
        assert len(result["removed"]) == 1 and result["leftovers"] == [], result
    for source, peer in peers_of(hosts):
        assert can_ping(source, hosts[peer]["fleet_address"]), "%s -> %s still cut after the undo" % (source, peer)


def test_unprotected_partition_cuts_ssh_and_heals_itself_at_the_deadline(hosts, tmp_path):
    duration = 8
    book = write_playbook(tmp_path, [{"sutazai.chaos.network_chaos": {
        "interface": "eth0", "partition": PARTITION_ALL, "protect_control_channel": False,
        "duration": duration}}])
    # The task's own reply is cut too, so the run waits for the heal: it runs in the background.
    run = subprocess.Popen(playbook_argv(book, forks=len(hosts)), cwd=REPO, env=ansible_env(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        faulted = wait_until_faulted(hosts, timeout=40)
        cut = ad_hoc_ping(timeout_s=2)
        assert cut == {host: "unreachable" for host in hosts}, cut
        for host, state in faulted.items():
            assert not any(e.get("spec", {}).get("spared", {}).get("ports") for e in state["active"]), state
        clean_at = wait_until_clean(hosts, timeout=duration + 20)
        assert set(clean_at) == set(hosts), "still faulted: %s" % sorted(set(hosts) - set(clean_at))
        late = lateness(faulted, clean_at)
        print("\nunprotected partition: healed by the reaper, seconds after the deadline: %s" % late)
        assert all(-0.5 <= v <= 3 for v in late.values()), late
        assert ad_hoc_ping() == {host: "ok" for host in hosts}
        for host in hosts:
            reverted = [e for e in host_state(host)["entries"] if e.get("state") == "reverted"]
            assert [e["reverted_by"] for e in reverted] == ["reaper"], reverted
        stdout, _stderr = run.communicate(timeout=90)
        print("the injecting run ended with rc %s once the channel came back" % run.returncode)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
        kill_marked()


def test_reaper_undoes_faults_after_every_ssh_connection_closed(hosts, tmp_path):
    duration = 12  # long enough to look at every host first on a busy 2-core machine
    book = write_playbook(tmp_path, [
        {"name": "all egress lost and rate-limited", "sutazai.chaos.network_chaos": {
            "interface": "eth0", "loss": {"percent": 100}, "rate": "1mbit", "duration": duration}},
        {"name": "CPU stress on the host", "sutazai.chaos.resource_stress": {
            "cpu": LIGHT_CPU, "max_cpu_percent": 100, "duration": duration}},
    ])
    env = ansible_env(persist=False)  # no SSH master: every connection ends with its task
    proc, output = run_playbook(book, forks=len(hosts), env=env)
    assert proc.returncode == 0, failures(output)
    assert not marked_pids(), "an SSH connection or worker of the run is still alive"
    faulted = {h: host_state(h) for h in hosts}
    for source, peer in peers_of(hosts):
        state = faulted[source]
        assert state["chains"] and state["qdisc_ours"] and state["stress"] and state["reapers"], (source, state)
        assert not can_ping(source, hosts[peer]["fleet_address"]), "%s: 100 %% loss let a ping out" % source
    clean_at = wait_until_clean(hosts, timeout=duration + 20)
    assert set(clean_at) == set(hosts), "still faulted: %s" % sorted(set(hosts) - set(clean_at))
    late = lateness(faulted, clean_at)
    print("\nreaper over SSH (no connection left): seconds after the deadline: %s" % late)
    assert all(-0.5 <= v <= 3 for v in late.values()), late
    for source, peer in peers_of(hosts):
        assert can_ping(source, hosts[peer]["fleet_address"])
        assert {e["reverted_by"] for e in host_state(source)["entries"]} == {"reaper"}


def test_awx_style_cancel_of_a_fleet_run_leaves_no_fault(hosts, tmp_path):
    duration = 15
    book = write_playbook(tmp_path, [
        {"sutazai.chaos.network_chaos": {"interface": "eth0", "loss": {"percent": 100}, "duration": duration}},
        {"sutazai.chaos.resource_stress": {"cpu": LIGHT_CPU, "max_cpu_percent": 100, "duration": duration}},
        {"name": "observe (the job is cancelled here)", "ansible.builtin.command": "sleep 60"},
    ])
    run = subprocess.Popen(playbook_argv(book, forks=len(hosts)), cwd=REPO, env=ansible_env(),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        faulted = wait_until_faulted(hosts, timeout=40, stress=True)
    finally:
        # What ansible-runner does on cancel: SIGKILL to the playbook's process group. Then the orphaned
        # workers and the SSH masters (ControlPersist) go too, as when the AWX job's container is removed.
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        kill_marked()
    _gone, _waited = wait_for(lambda: not marked_pids(), timeout=5)
    assert not marked_pids(), "processes of the cancelled run survive on the controller"
    for host in hosts:
        assert host_state(host)["active"], "%s lost its fault at the cancel, before the deadline" % host
    clean_at = wait_until_clean(hosts, timeout=duration + 20)
    assert set(clean_at) == set(hosts), "still faulted: %s" % sorted(set(hosts) - set(clean_at))
    late = lateness(faulted, clean_at)
    print("\nAWX-style cancel: faults undone by the reaper, seconds after the deadline: %s" % late)
    assert all(-0.5 <= v <= 3 for v in late.values()), late


def test_faults_expire_on_time_on_hosts_whose_clock_is_off_by_minutes(hosts, tmp_path):
    """Deadlines are written and read with the target's own clock, so a skewed host expires on time.

    A container cannot have its own CLOCK_REALTIME (time namespaces offset only the monotonic and boot
    clocks; setting the real clock needs CAP_SYS_TIME and would move the whole machine's clock), so the
    skew is made with libfaketime for the Python that runs the modules, and so for the reaper they start.
    """
    duration = 5
    names = sorted(hosts)
    offsets = {names[0]: 0}
    skews = {names[1]: ("+10m", 600)}
    if len(names) > 2:
        skews[names[2]] = ("-10m", -600)
    extra_inventory = {"fleet": {"hosts": {}}}
    for host, (faketime, seconds) in skews.items():
        wrapper = "/usr/local/bin/python3-clock%s" % faketime
        docker_exec(host, ["sh", "-c", "printf '#!/bin/sh\\nexport FAKETIME=%s LD_PRELOAD="
                           "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1\\nexec /usr/bin/python3 \"$@\"\\n' "
                           "> %s && chmod 0755 %s" % (faketime, wrapper, wrapper)])
        extra_inventory["fleet"]["hosts"][host] = {"ansible_python_interpreter": wrapper}
        offsets[host] = seconds
        seen = float(docker_exec(host, [wrapper, "-c", "import time; print(time.time())"]).stdout)
        assert abs(seen - time.time() - seconds) < 30, "libfaketime did not skew %s's clock" % host
    skewed_inventory = tmp_path / "skewed.yml"
    skewed_inventory.write_text(__import__("json").dumps(extra_inventory))
    book = write_playbook(tmp_path, [{"sutazai.chaos.network_chaos": {
        "interface": "eth0", "loss": {"percent": 100}, "duration": duration}}])
    proc, output = run_playbook(book, forks=len(hosts), extra=["-i", str(skewed_inventory)])
    assert proc.returncode == 0, failures(output)
    faulted = {h: host_state(h) for h in hosts}
    now = time.time()
    for host, state in faulted.items():
        ahead = state["active"][0]["deadline"] - now
        assert abs(ahead - duration - offsets[host]) < 20, "%s: deadline %.0f s ahead" % (host, ahead)
    clean_at = wait_until_clean(hosts, timeout=duration + 20)
    assert set(clean_at) == set(hosts), "still faulted: %s" % sorted(set(hosts) - set(clean_at))
    late = lateness(faulted, clean_at, offsets)
    print("\nclocks off by %s s: seconds after the (real) deadline: %s" % (offsets, late))
    assert all(-0.5 <= v <= 3 for v in late.values()), late
