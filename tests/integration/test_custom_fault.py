# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.custom_fault on real containers and on the host.

The fault is a flag file (or a DROP rule in the container's own network namespace), seen from outside with
``docker exec``; each test shows it appears, then that it is gone again: at the deadline (the reaper, also after
the playbook was SIGKILLed), after state=absent, after chaos_rollback and after the emergency stop. A failing
check or inject runs the undo at once; a failing undo is retried by the reaper and shown by chaos_ledger_info.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import (PYTHON, REPO, VENV_BIN, active_entries, ansible_env, audit_lines, kill_orphans, ledger_entries,
                      reaper_pids, run_module, run_modules, wait_for, write_playbook)


def flag_in(container, path):
    return container.exec_run(["/usr/bin/test", "-e", path]).exit_code == 0


def flag_args(sd, container, flag, **extra):
    args = {"name": "flag", "where": "container", "targets": {"names": [container.name]}, "state_dir": sd,
            "inject": ["/usr/bin/touch", flag], "undo": ["/bin/rm", "-f", flag], "check": ["/usr/bin/test", "-e", flag],
            "duration": 300}
    args.update(extra)
    return args


def assert_clean(state_dir, session_root):
    assert active_entries(state_dir) == []
    gone, _waited = wait_for(lambda: not reaper_pids(session_root / state_dir.name), timeout=5, interval=0.1)
    assert gone, "the reaper did not exit once nothing was left to undo"


def test_container_fault_present_idempotent_absent(containers, state_dir, prefix, session_root):
    sd, victim, bystander = str(state_dir), containers("cf"), containers("by")
    flag = "/tmp/%sflag" % prefix
    check, real, again, absent, absent_again = run_modules([
        {"module": "custom_fault", "args": flag_args(sd, victim, flag, experiment_id="cf-1"), "check": True},
        {"module": "custom_fault", "args": flag_args(sd, victim, flag, experiment_id="cf-1")},
        {"module": "custom_fault", "args": flag_args(sd, victim, flag, experiment_id="cf-1")},
        {"module": "custom_fault", "args": {"name": "flag", "state": "absent", "where": "container", "state_dir": sd,
                                            "targets": {"names": [victim.name]}}},
        {"module": "custom_fault", "args": {"name": "flag", "state": "absent", "where": "container", "state_dir": sd,
                                            "targets": {"names": [victim.name]}}},
    ], state_dir)
    assert check["changed"] is True and "entry_id" not in check["faults"][0], check
    assert real["changed"] is True, real
    [fault] = real["faults"]
    assert fault["name"] == fault["target"] == victim.name and fault["fault"] == "flag" and fault["check_rc"] == 0
    assert fault["undo"] == ["/bin/rm", "-f", flag] and fault["deadline"] > fault["injected_at"]
    assert again["changed"] is False and again["faults"][0]["entry_id"] == fault["entry_id"], again
    assert absent["changed"] is True and [e["id"] for e in absent["removed"]] == [fault["entry_id"]], absent
    assert absent_again["changed"] is False, absent_again
    # The effect between the calls is in the audit journal; the state now is seen from outside.
    events = [(a["event"], a.get("by")) for a in audit_lines(state_dir)]
    assert events == [("inject", None), ("revert", "rollback")], events
    assert not flag_in(victim, flag) and not flag_in(bystander, flag)
    assert_clean(state_dir, session_root)


def test_container_fault_is_there_until_the_reaper_takes_it_away(containers, state_dir, prefix, session_root,
                                                                 record_property):
    sd, victim = str(state_dir), containers("cx")
    flag = "/tmp/%sflag" % prefix
    rc, result = run_module("custom_fault", flag_args(sd, victim, flag, duration=3))
    assert rc == 0, result
    deadline = result["faults"][0]["deadline"]
    assert flag_in(victim, flag), "the inject did not create the flag in the container"
    assert not Path(flag).exists(), "the command ran on the host, not in the container"
    gone, _waited = wait_for(lambda: not flag_in(victim, flag), timeout=deadline + 5 - time.time(), interval=0.2)
    seen = time.time()
    assert gone, "the flag is still there 5 s after the deadline"
    assert seen >= deadline - 0.5
    wait_for(lambda: ledger_entries(state_dir)[0]["state"] != "active", timeout=3)
    [entry] = ledger_entries(state_dir)
    assert entry["state"] == "reverted" and entry["reverted_by"] == "reaper", entry
    record_property("custom_reaper_lateness_s", round(entry["reverted_at"] - deadline, 3))
    print("\ncustom fault undone by the reaper %.3f s after the deadline" % (entry["reverted_at"] - deadline))
    assert_clean(state_dir, session_root)


def test_host_fault_expires_and_a_bare_program_name_is_resolved(state_dir, tmp_path, session_root):
    flag = tmp_path / "host-flag"
    rc, result = run_module("custom_fault", {"inject": ["touch", str(flag)], "undo": ["rm", "-f", str(flag)],
                                             "check": ["test", "-e", str(flag)], "duration": 2,
                                             "state_dir": str(state_dir)})
    assert rc == 0, result
    [fault] = result["faults"]
    assert fault["target"] == "host" and fault["service"] is None and fault["fault"] == "touch"
    assert os.path.isabs(fault["inject"][0]) and fault["inject"][0].endswith("/touch")
    assert flag.exists()
    gone, _waited = wait_for(lambda: not flag.exists(), timeout=fault["deadline"] + 5 - time.time(), interval=0.1)
    assert gone, "the host flag outlived its deadline by 5 s"
    wait_for(lambda: not active_entries(state_dir), timeout=3)
    assert_clean(state_dir, session_root)


def test_fault_expires_after_the_playbook_is_killed(containers, state_dir, prefix, tmp_path, record_property):
    """SIGKILL to the playbook's process group (an AWX cancel) runs no rescue/always: only the reaper undoes."""
    victim = containers("ck")
    flag = "/tmp/%sflag" % prefix
    book = write_playbook(tmp_path / "cancelled.yml", [
        {"name": "Flag for 4 s",
         "sutazai.chaos.custom_fault": flag_args(str(state_dir), victim, flag, duration=4, experiment_id="cancelled")},
        {"name": "A long observation the job is cancelled during", "ansible.builtin.wait_for": {"timeout": 60}},
    ])
    log = open(tmp_path / "playbook.log", "w")
    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(book)], cwd=REPO,
                            env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def applied():
            entries = ledger_entries(state_dir)
            return entries and not entries[0].get("applying") and flag_in(victim, flag) and entries[0]

        entry, _waited = wait_for(applied, timeout=60, interval=0.1)
        assert entry, "the playbook never injected: %s" % (tmp_path / "playbook.log").read_text()
        os.killpg(proc.pid, signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=10)
        assert killed_at < entry["deadline"], "the kill must happen while the fault is active"
        assert flag_in(victim, flag)
        gone, _waited = wait_for(lambda: not flag_in(victim, flag), timeout=entry["deadline"] + 3 - time.time(),
                                 interval=0.2)
        assert gone, "the flag is still there 3 s after the deadline, with the playbook dead"
        wait_for(lambda: ledger_entries(state_dir)[0]["state"] != "active", timeout=3)
        [final] = ledger_entries(state_dir)
        assert final["state"] == "reverted" and final["reverted_by"] == "reaper", final
        record_property("custom_reaper_lateness_after_kill9_s", round(final["reverted_at"] - entry["deadline"], 3))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_orphans()  # the setsid'ed worker running wait_for survives the group kill
        log.close()


def _playbook(name, *extra):
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(REPO / "playbooks" / name),
            "-e", "ansible_python_interpreter=%s" % PYTHON] + list(extra)
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_rollback_and_emergency_stop_undo_custom_faults(containers, state_dir, prefix, session_root):
    sd, one, two = str(state_dir), containers("r1"), containers("r2")
    flag = "/tmp/%sflag" % prefix
    first, second = run_modules([
        {"module": "custom_fault", "args": flag_args(sd, one, flag, experiment_id="rb-1")},
        {"module": "custom_fault", "args": flag_args(sd, two, flag, experiment_id="rb-2")},
    ], state_dir)
    assert first["changed"] and second["changed"], (first, second)
    assert flag_in(one, flag) and flag_in(two, flag)

    rc, rolled = run_module("chaos_rollback", {"experiment_id": "rb-1", "state_dir": sd})
    assert rc == 0 and [e["kind"] for e in rolled["reverted"]] == ["custom_fault"], rolled
    assert not flag_in(one, flag) and flag_in(two, flag)

    proc = _playbook("emergency-stop.yml", "-e", "chaos_state_dir=%s" % sd,
                     "-e", json.dumps({"chaos_stop_reason": "custom fault test"}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 fault(s) undone" in proc.stdout and "custom_fault on %s" % two.name in proc.stdout, proc.stdout
    assert not flag_in(two, flag)
    rc, refused = run_module("custom_fault", flag_args(sd, one, flag))
    assert rc != 0 and "emergency-stop flag is set" in refused["msg"], refused
    assert not flag_in(one, flag)
    proc = _playbook("resume-chaos.yml", "-e", "chaos_state_dir=%s" % sd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert_clean(state_dir, session_root)


def test_failing_check_or_inject_runs_the_undo_at_once(containers, state_dir, prefix, session_root):
    sd, victim = str(state_dir), containers("cc")
    flag, half = "/tmp/%sflag" % prefix, "/tmp/%shalf" % prefix
    unconfirmed, broken = run_modules([
        {"module": "custom_fault", "args": flag_args(sd, victim, flag, check=["/usr/bin/test", "-e", "/nonexistent"])},
        {"module": "custom_fault", "args": flag_args(
            sd, victim, half, name="half", inject=["/bin/sh", "-c", "touch %s; echo half done >&2; exit 3" % half],
            undo=["/bin/rm", "-f", half], check=None)},
    ], state_dir)
    assert unconfirmed.get("failed") is True, unconfirmed
    assert "did not confirm the fault (rc 1)" in unconfirmed["msg"], unconfirmed["msg"]
    assert "The undo command ran at once (done (rc 0))" in unconfirmed["msg"], unconfirmed["msg"]
    assert broken.get("failed") is True and "failed (rc 3): half done" in broken["msg"], broken["msg"]
    assert "The undo command ran at once" in broken["msg"]
    assert not flag_in(victim, flag) and not flag_in(victim, half), "a failed fault was left in place"
    entries = ledger_entries(state_dir)
    assert [(e["state"], e["reverted_by"]) for e in entries] == [("reverted", "inject-failed")] * 2, entries
    assert_clean(state_dir, session_root)


def test_bad_input_is_refused_before_anything_runs(containers, state_dir, prefix):
    sd, victim = str(state_dir), containers("cb")
    flag = "/tmp/%sflag" % prefix
    string_undo, no_undo, relative, host_targets = run_modules([
        {"module": "custom_fault", "args": flag_args(sd, victim, flag, undo="/bin/rm -f %s" % flag)},
        {"module": "custom_fault", "args": {k: v for k, v in flag_args(sd, victim, flag).items() if k != "undo"}},
        {"module": "custom_fault", "args": flag_args(sd, victim, flag, undo=["rm", "-f", flag])},
        {"module": "custom_fault", "args": flag_args(sd, victim, flag, where="host")},
    ], state_dir)
    assert "undo must be a list (argv" in string_undo["msg"], string_undo
    assert "undo is required" in no_undo["msg"], no_undo
    assert "must be an absolute path inside the container" in relative["msg"], relative
    assert "give where=container" in host_targets["msg"], host_targets
    for result in (string_undo, no_undo, relative, host_targets):
        assert result.get("failed") is True and "Nothing was changed." in result["msg"]
        assert "Traceback" not in result.output
    assert not flag_in(victim, flag)
    assert ledger_entries(state_dir) == []


def test_a_failing_undo_is_retried_and_shown_by_ledger_info(containers, state_dir, prefix, session_root):
    """The undo fails until a file allows it: chaos_ledger_info shows the error and the attempts; then a retry
    of the reaper succeeds. (After UNDO_MAX_ATTEMPTS failures the entry would be `failed`: test__ledger.)"""
    sd, victim = str(state_dir), containers("cu")
    flag, allow = "/tmp/%sflag" % prefix, "/tmp/%sallow" % prefix
    undo = ["/bin/sh", "-c", "test -e %s || { echo undo blocked >&2; exit 4; }; rm -f %s %s" % (allow, flag, allow)]
    rc, result = run_module("custom_fault", flag_args(sd, victim, flag, undo=undo, duration=1))
    assert rc == 0, result
    retried, _waited = wait_for(lambda: [e for e in ledger_entries(state_dir) if e.get("attempts", 0) >= 2],
                                timeout=10, interval=0.2)
    assert retried, "the reaper did not retry the failing undo"
    rc, info = run_module("chaos_ledger_info", {"state_dir": sd})
    assert rc == 0, info
    [shown] = info["faults"]
    assert shown["kind"] == "custom_fault" and shown["state"] == "active" and shown["attempts"] >= 2, shown
    assert "custom undo /bin/sh -c" in shown["last_error"] and "(rc 4): undo blocked" in shown["last_error"], shown
    assert "undo" not in shown and info["reaper_running"] is True
    assert flag_in(victim, flag)
    victim.exec_run(["/usr/bin/touch", allow])
    gone, _waited = wait_for(lambda: not flag_in(victim, flag), timeout=10, interval=0.2)
    assert gone, "the retried undo never succeeded"
    wait_for(lambda: not active_entries(state_dir), timeout=5)
    [entry] = ledger_entries(state_dir)
    assert entry["state"] == "reverted" and entry["reverted_by"] == "reaper" and entry["attempts"] >= 3, entry
    assert_clean(state_dir, session_root)


def test_a_drop_rule_in_a_container_network_namespace_from_the_host(containers, state_dir, session_root):
    """A network fault of one's own, run on the host (the demo image has no iptables): the host's iptables in the
    container's network namespace drops its TCP to a peer; the peer answers again after state=absent."""
    sd, victim, peer = str(state_dir), containers("cn"), containers("cp")
    peer.exec_run(["/usr/bin/python3", "-c", "import socket\ns=socket.socket();s.bind(('0.0.0.0',8099));"
                   "s.listen(50)\nwhile True: s.accept()"], detach=True)
    peer.reload()
    victim.reload()
    address = peer.attrs["NetworkSettings"]["IPAddress"]
    probe = ["/usr/bin/python3", "-c", "import socket;socket.create_connection(('%s',8099),timeout=1)" % address]
    reachable, _waited = wait_for(lambda: victim.exec_run(probe).exit_code == 0, timeout=10, interval=0.2)
    assert reachable, "the peer's listener never answered"
    netns = ["nsenter", "--net=/proc/%d/ns/net" % victim.attrs["State"]["Pid"], "--", "iptables", "-w"]
    rule = ["OUTPUT", "-p", "tcp", "-d", address, "--dport", "8099", "-j", "DROP"]
    rc, result = run_module("custom_fault", {
        "name": "drop-peer", "state_dir": sd, "inject": netns + ["-I"] + rule,
        "undo": ["/bin/sh", "-c", "while %s -D %s 2>/dev/null; do :; done" % (" ".join(netns), " ".join(rule))],
        "check": netns + ["-C"] + rule, "duration": 300})
    assert rc == 0 and result["faults"][0]["check_rc"] == 0, result
    assert victim.exec_run(probe).exit_code != 0, "the connection went through despite the DROP rule"
    rc, absent = run_module("custom_fault", {"name": "drop-peer", "state": "absent", "state_dir": sd})
    assert rc == 0 and absent["changed"] is True, absent
    assert victim.exec_run(probe).exit_code == 0, "the peer is still unreachable after state=absent"
    rules = subprocess.run(netns + ["-S", "OUTPUT"], capture_output=True, text=True, check=True)
    assert "DROP" not in rules.stdout, rules.stdout
    assert_clean(state_dir, session_root)


def test_the_lifecycle_runs_it_as_data_through_chaos_fault(state_dir, tmp_path, session_root):
    """chaos_fault (how the experiment lifecycle takes a fault as data) runs custom_fault and reports its hits."""
    sd, flag = str(state_dir), tmp_path / "lifecycle-flag"
    fault, seen, absent, after = run_modules([
        {"module": "chaos_fault", "args": {"module": "custom_fault", "args": {
            "name": "lifecycle-flag", "inject": ["/usr/bin/touch", str(flag)], "undo": ["/bin/rm", "-f", str(flag)],
            "duration": 300, "state_dir": sd, "experiment_id": "lc-1"}}},
        {"module": "ansible.builtin.stat", "args": {"path": str(flag)}},
        {"module": "custom_fault", "args": {"name": "lifecycle-flag", "state": "absent", "state_dir": sd}},
        {"module": "ansible.builtin.stat", "args": {"path": str(flag)}},
    ], state_dir)
    assert fault.get("failed") is not True, fault
    [hit] = fault["hits"]
    assert hit["target"] == "host" and hit["service"] == "host" and hit["changed"] is True, hit
    assert hit["deadline"] > hit["injected_at"] > 0 and hit["fault"] == "lifecycle-flag"
    assert seen["stat"]["exists"] is True and after["stat"]["exists"] is False
    assert absent["changed"] is True and absent["removed"][0]["spec"]["name"] == "lifecycle-flag", absent
    assert_clean(state_dir, session_root)


def test_new_commands_under_the_same_name_replace_the_fault(state_dir, tmp_path, session_root):
    sd, first, second = str(state_dir), tmp_path / "first", tmp_path / "second"

    def touch(path, experiment="rp-1"):
        return {"module": "custom_fault", "args": {"name": "marker", "inject": ["/usr/bin/touch", str(path)],
                                                   "undo": ["/bin/rm", "-f", str(path)], "duration": 300,
                                                   "state_dir": sd, "experiment_id": experiment}}

    one, two, first_stat, second_stat, other, absent = run_modules([
        touch(first), touch(second),
        {"module": "ansible.builtin.stat", "args": {"path": str(first)}},
        {"module": "ansible.builtin.stat", "args": {"path": str(second)}},
        touch(second, experiment="rp-2"),
        {"module": "custom_fault", "args": {"name": "marker", "state": "absent", "state_dir": sd}},
    ], state_dir)
    assert one["changed"] and two["changed"], (one, two)
    assert two["faults"][0]["replaced"]["inject"] == ["/usr/bin/touch", str(first)], two
    assert first_stat["stat"]["exists"] is False and second_stat["stat"]["exists"] is True
    assert other.get("failed") is True and "already held by experiment rp-1" in other["msg"], other
    assert "Nothing was changed." in other["msg"]
    assert absent["changed"] is True and len(absent["removed"]) == 1, absent
    assert not first.exists() and not second.exists()
    assert [(e["state"], e["reverted_by"]) for e in ledger_entries(state_dir)] == [("reverted", "rollback")] * 2
    assert_clean(state_dir, session_root)
