# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The emergency stop across the fleet, unreachable hosts in the inventory, a host without the Docker SDK."""

from __future__ import annotations

import json
import socket
import subprocess
import time

from conftest import (INVENTORY, REPO, VENV_BIN, ansible_env, failures, host_state, is_clean, parse_json_output,
                      run_playbook, task_results, write_playbook)

EMERGENCY_STOP = REPO / "playbooks" / "emergency-stop.yml"
RESUME = REPO / "playbooks" / "resume-chaos.yml"


def inject_everywhere(hosts, tmp_path):
    """A loss fault and CPU stress on every host, for two minutes (the stop must end them, not the reaper)."""
    book = write_playbook(tmp_path, [
        {"sutazai.chaos.network_chaos": {"interface": "eth0", "loss": {"percent": 50}, "duration": 120}},
        {"sutazai.chaos.resource_stress": {"cpu": {"workers": 1, "load": 10}, "max_cpu_percent": 100,
                                           "duration": 120}},
    ])
    proc, output = run_playbook(book, forks=len(hosts))
    assert proc.returncode == 0, failures(output)
    for host in hosts:
        state = host_state(host)
        assert len(state["active"]) == 2 and state["chains"] and state["stress"], (host, state)


def emergency_stop(inventories, forks):
    argv = [str(VENV_BIN / "ansible-playbook"), str(EMERGENCY_STOP), "-f", str(forks),
            "-e", "chaos_stop_reason=fleet test"]
    for inventory in inventories:
        argv += ["-i", str(inventory)]
    started = time.time()
    proc = subprocess.run(argv, cwd=REPO, env=ansible_env(), capture_output=True, text=True, timeout=180,
                          check=False)
    return proc, parse_json_output(proc.stdout), started, time.time() - started


def assert_stopped_and_resume(hosts, started, tmp_path):
    """Every fleet host clean with its flag set; returns seconds from the stop's start to the last undo."""
    last_undo = {}
    for host in hosts:
        state = host_state(host)
        assert is_clean(state) and state["stop_flag"], (host, state)
        assert {e["reverted_by"] for e in state["entries"]} != {"reaper"}, "the reaper, not the stop, undid them"
        last_undo[host] = max(e["reverted_at"] for e in state["entries"]) - started
    proc, output = run_playbook(RESUME, forks=len(hosts))
    assert proc.returncode == 0, failures(output)
    assert not any(host_state(h)["stop_flag"] for h in hosts)
    return last_undo


def test_emergency_stop_cleans_every_fleet_host(hosts, tmp_path):
    inject_everywhere(hosts, tmp_path)
    proc, output, started, wall = emergency_stop([INVENTORY], forks=len(hosts))
    assert proc.returncode == 0, failures(output)
    for host, result in task_results(output, 0).items():
        assert len(result["reverted"]) == 2, result
    last_undo = assert_stopped_and_resume(hosts, started, tmp_path)
    print("\nemergency stop over %d hosts (forks %d): last host clean %.2f s after the start "
          "(per host %s), playbook wall time %.2f s"
          % (len(hosts), len(hosts), max(last_undo.values()), {h: round(v, 2) for h, v in last_undo.items()}, wall))


def first_result(output, host):
    """The host's first task result in the run (with the free strategy tasks are listed as hosts reach them)."""
    for play in output["plays"]:
        for task in play["tasks"]:
            if host in task["hosts"]:
                return task["hosts"][host]
    raise AssertionError("no result for %s in %s" % (host, json.dumps(output)[:3000]))


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connecting to it is refused


def test_unreachable_hosts_do_not_stop_the_emergency_stop_elsewhere(hosts, tmp_path):
    inject_everywhere(hosts, tmp_path)
    wrong_key = tmp_path / "wrong_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True)
    first = sorted(hosts)[0]
    bad = {"szf-bad-refused": {"ansible_port": free_port()},
           "szf-bad-wrong-key": {"ansible_port": hosts[first]["ansible_port"],
                                 "ansible_ssh_private_key_file": str(wrong_key)}}
    for host_vars in bad.values():
        host_vars.update(ansible_host="127.0.0.1", ansible_user="root", ansible_python_interpreter="/usr/bin/python3",
                         ansible_ssh_common_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                                                 "-o IdentitiesOnly=yes")
    bad_inventory = tmp_path / "bad.yml"
    bad_inventory.write_text(json.dumps({"broken": {"hosts": bad}}))
    proc, output, started, wall = emergency_stop([INVENTORY, bad_inventory], forks=len(hosts) + len(bad))
    stats = output["stats"]
    assert proc.returncode == 4, "ansible-playbook should exit 4 (unreachable hosts), got %s" % proc.returncode
    for host in bad:
        assert stats[host]["unreachable"] == 1, stats[host]
    unreachable = {host: first_result(output, host) for host in bad}
    for host, result in unreachable.items():
        # ssh's own words vary with timing ("Connection refused", "Permission denied (publickey)", or a broken
        # pipe when pipelining writes first); what matters is that the host is reported as not reachable.
        assert result.get("unreachable") and "ssh" in result["msg"].lower(), (host, result)
    for host in hosts:
        assert stats[host]["unreachable"] == 0 and stats[host]["failures"] == 0, stats[host]
    last_undo = assert_stopped_and_resume(hosts, started, tmp_path)
    print("\nemergency stop with 2 unreachable hosts: the %d reachable hosts clean %.2f s after the start; "
          "wall %.2f s" % (len(hosts), max(last_undo.values()), wall))


def test_a_host_without_the_docker_sdk_is_told_what_to_install(hosts):
    host = sorted(hosts)[0]
    for module in ("container_chaos", "network_chaos"):
        args = {"targets": {"names": ["szf-none"]}, "duration": 5}
        args.update({"action": "pause"} if module == "container_chaos" else {"loss": {"percent": 5}})
        proc = subprocess.run([str(VENV_BIN / "ansible"), host, "-i", str(INVENTORY), "-m", "sutazai.chaos." + module,
                               "-a", json.dumps(args)], cwd=REPO, env=ansible_env(), capture_output=True, text=True,
                              timeout=60, check=False)
        result = task_results(parse_json_output(proc.stdout), 0)[host]
        assert result["failed"], result
        for words in ("/usr/bin/python3", "python3-docker", "-m pip install docker", "Nothing was changed"):
            assert words in result["msg"], result["msg"]
        assert "Traceback" not in result["msg"]
    assert is_clean(host_state(host))
