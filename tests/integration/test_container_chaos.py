# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.container_chaos against a real engine: every effect is checked with docker inspect."""

from __future__ import annotations

import datetime
import os
import time

import pytest

from conftest import active_entries, audit_lines, ledger_entries, run_module, run_modules, state_of, wait_for

LONG = 300  # a duration that never expires during a test: the test undoes it itself


def chaos(state_dir, names, **args):
    base = {"targets": {"names": names if isinstance(names, list) else [names]}, "state_dir": str(state_dir)}
    base.update(args)
    return base


def parse_time(text):
    # Docker gives nanoseconds ("2026-11-27T04:46:40.171066123Z"); keep microseconds.
    head, _dot, frac = text.rstrip("Z").partition(".")
    return datetime.datetime.fromisoformat("%s.%s+00:00" % (head, (frac + "000000")[:6]))


def assert_clean_failure(rc, result, pattern):
    assert rc != 0, result
    assert result.get("failed") is True, result
    assert pattern.lower() in result["msg"].lower(), result["msg"]
    assert "Nothing was changed" in result["msg"] or "Undone" in result["msg"], result["msg"]
    assert_no_traceback(result)


def assert_no_traceback(result):
    # ansible-core 2.19 adds exception="(traceback unavailable)" to every fail_json: that is not a traceback.
    assert "Traceback (most recent call last)" not in str(result.get("exception", "")), result["exception"]
    assert "Traceback" not in result.get("module_stderr", "") and "Traceback" not in result.output, result.output


# ------------------------------------------------------------------ kill

def test_kill_host_mode_is_a_crash_the_restart_policy_recovers(containers, state_dir, record_property):
    victim = containers("crash", restart=True)
    before = state_of(victim)
    assert before["Running"] and before["RestartCount"] == 0

    rc, result = run_module("container_chaos", chaos(state_dir, victim.name, action="kill"))
    returned = time.monotonic()

    assert rc == 0, result
    assert result["changed"] is True
    assert [c["name"] for c in result["containers"]] == [victim.name]
    assert result["containers"][0]["state_before"] == "running"

    def restarted():
        state = state_of(victim)
        return state if state["Running"] and state["RestartCount"] == 1 and state["Pid"] != before["Pid"] else None

    after, waited = wait_for(restarted, timeout=10)
    assert after, "not restarted by the engine within 10 s: %s" % state_of(victim)
    old = "/proc/%d/stat" % before["Pid"]
    assert not os.path.exists(old) or open(old).read().rsplit(")", 1)[1].split()[0] == "Z", "old PID still alive"
    # The engine's own clocks: from the death of the old process to the start of the new one.
    recovery = (parse_time(after["StartedAt"]) - parse_time(after["FinishedAt"])).total_seconds()
    record_property("crash_recovery_seconds_engine", round(recovery, 3))
    record_property("crash_running_again_after_module_returned_s", round(waited, 3))
    print("\ncrash recovery: engine restarted it %.3f s after the kill; seen running %.3f s after the module "
          "returned" % (recovery, waited))
    assert 0 <= recovery < 10
    # A kill has no undo: audited, never left active in the ledger.
    assert active_entries(state_dir) == []
    inject = [a for a in audit_lines(state_dir) if a["event"] == "inject"]
    assert len(inject) == 1 and inject[0]["kind"] == "container_kill" and inject[0]["reversible"] is False
    assert returned  # measured above


def test_kill_engine_mode_counts_as_a_manual_stop(containers, state_dir):
    """Docker 20.10: a kill through the API is a manual stop, so restart=always does NOT bring it back."""
    victim = containers("engkill", restart=True)
    rc, result = run_module("container_chaos", chaos(state_dir, victim.name, action="kill", kill_mode="engine"))
    assert rc == 0 and result["changed"], result
    exited, _waited = wait_for(lambda: state_of(victim)["Status"] == "exited", timeout=5)
    assert exited
    time.sleep(3)  # long enough for a restart policy to act (a host-mode kill is back in ~1 s)
    state = state_of(victim)
    assert state["Status"] == "exited" and state["RestartCount"] == 0, state


# ------------------------------------------------------------------ stop, restart, pause

def test_stop_without_duration_lasts_until_absent(containers, state_dir):
    victim = containers("stop")
    rc, result = run_module("container_chaos", chaos(state_dir, victim.name, action="stop", stop_timeout=1))
    assert rc == 0 and result["changed"], result
    assert result["containers"][0]["state_after"] == "exited"
    assert state_of(victim)["Status"] == "exited"
    [entry] = active_entries(state_dir)
    assert entry["kind"] == "container_stop" and entry["deadline"] is None

    calls = [
        {"module": "container_chaos", "args": chaos(state_dir, victim.name, action="stop", state="absent")},
        {"module": "container_chaos", "args": chaos(state_dir, victim.name, action="stop", state="absent")},
    ]
    undo, again = run_modules(calls, state_dir)
    assert undo.get("failed") is not True and undo["changed"] is True, undo
    assert again.get("failed") is not True and again["changed"] is False, again
    assert state_of(victim)["Running"]
    assert active_entries(state_dir) == []


def test_restart_changes_started_at(containers, state_dir):
    victim = containers("restart")
    before = state_of(victim)
    rc, result = run_module("container_chaos", chaos(state_dir, victim.name, action="restart", stop_timeout=1))
    assert rc == 0 and result["changed"], result
    after = state_of(victim)
    assert after["Running"] and after["StartedAt"] != before["StartedAt"] and after["Pid"] != before["Pid"]


def test_pause_four_ways_then_absent_twice(containers, state_dir):
    """check, real, check again, real again (as community.docker's targets do), then undo twice."""
    victim = containers("pause4")
    args = chaos(state_dir, victim.name, action="pause", duration=LONG, experiment_id="four-way")
    absent = chaos(state_dir, victim.name, action="pause", state="absent")
    calls = [
        {"module": "container_chaos", "args": args, "check": True},
        {"module": "container_chaos", "args": args},
        {"module": "container_chaos", "args": args, "check": True},
        {"module": "container_chaos", "args": args},
    ]
    check1, real1, check2, real2 = run_modules(calls, state_dir)
    for result in (check1, real1, check2, real2):
        assert result.get("failed") is not True, result
    assert check1["changed"] is True and real1["changed"] is True
    assert check1["containers"][0]["name"] == real1["containers"][0]["name"] == victim.name
    assert check1["containers"][0]["state_after"] == real1["containers"][0]["state_after"] == "paused"
    assert check2["changed"] is False and real2["changed"] is False
    assert state_of(victim)["Paused"] is True
    assert len(active_entries(state_dir)) == 1, "a second pause must not add a second ledger entry"

    absent_check, absent1, absent2 = run_modules([
        {"module": "container_chaos", "args": absent, "check": True},
        {"module": "container_chaos", "args": absent},
        {"module": "container_chaos", "args": absent},
    ], state_dir)
    assert absent_check["changed"] is True and absent1["changed"] is True and absent2["changed"] is False
    assert state_of(victim)["Paused"] is False and state_of(victim)["Running"]
    assert active_entries(state_dir) == []


def test_check_mode_changes_nothing_for_every_action(containers, state_dir):
    victim = containers("check", restart=True)
    before = state_of(victim)
    calls = [{"module": "container_chaos", "check": True,
              "args": chaos(state_dir, victim.name, action=action, stop_timeout=1,
                            **({"duration": 5} if action == "pause" else {}))}
             for action in ("kill", "stop", "restart", "pause")]
    for call, result in zip(calls, run_modules(calls, state_dir)):
        assert result.get("failed") is not True, result
        assert result["changed"] is True, (call["args"]["action"], result)
        assert [c["name"] for c in result["containers"]] == [victim.name]
    assert state_of(victim) == before
    assert ledger_entries(state_dir) == [] and audit_lines(state_dir) == []


def test_diff_mode_returns_before_and_after(containers, state_dir):
    victim = containers("diff")
    pause, undo = run_modules([
        {"module": "container_chaos", "diff": True, "args": chaos(state_dir, victim.name, action="pause",
                                                                  duration=LONG)},
        {"module": "container_chaos", "diff": True, "args": chaos(state_dir, victim.name, action="pause",
                                                                  state="absent")},
    ], state_dir)
    assert pause["diff"] == {"before": {victim.name: "running"}, "after": {victim.name: "paused"}}, pause
    assert undo["diff"]["before"] == {victim.name: "paused"}
    assert undo["diff"]["after"] == {victim.name: "running"}
    assert state_of(victim)["Running"] and not state_of(victim)["Paused"]


# ------------------------------------------------------------------ selection

@pytest.fixture
def group(containers, prefix):
    """Four containers sharing a label; the last one is protected by label."""
    made = [containers(s, labels={"sct.group": prefix}) for s in ("a", "b", "c")]
    made.append(containers("guarded", labels={"sct.group": prefix, "sutazai.chaos.protected": "true"}))
    return made


def test_seeded_one_picks_the_same_container_and_check_predicts_it(group, prefix, state_dir):
    args = {"targets": {"labels": {"sct.group": prefix}}, "state_dir": str(state_dir), "action": "pause",
            "duration": LONG, "select": {"mode": "one", "seed": "repeatable"}}
    first, second, real = run_modules([
        {"module": "container_chaos", "args": args, "check": True},
        {"module": "container_chaos", "args": args, "check": True},
        {"module": "container_chaos", "args": args},
    ], state_dir)
    picked = [c["name"] for c in first["containers"]]
    assert len(picked) == 1
    assert [c["name"] for c in second["containers"]] == picked
    assert [c["name"] for c in real["containers"]] == picked
    assert prefix + "guarded" in first["selection"]["protected_skipped"]
    paused = [c.name for c in group if state_of(c)["Paused"]]
    assert paused == picked
    rc, undo = run_module("container_chaos", dict(args, state="absent"))
    assert rc == 0 and undo["changed"]
    assert not any(state_of(c)["Paused"] for c in group)


def test_percent_hits_that_share_of_the_candidates(group, prefix, state_dir):
    # 3 candidates (the 4th is protected), 67 % -> floor(2.01) = 2.
    args = {"targets": {"labels": {"sct.group": prefix}}, "state_dir": str(state_dir), "action": "pause",
            "duration": LONG, "select": {"mode": "percent", "value": 67, "seed": "x"}}
    rc, result = run_module("container_chaos", args)
    assert rc == 0, result
    paused = sorted(c.name for c in group if state_of(c)["Paused"])
    assert len(paused) == 2 and paused == sorted(c["name"] for c in result["containers"])
    assert prefix + "guarded" not in paused
    rc, undo = run_module("container_chaos", dict(args, state="absent", select={}))
    assert rc == 0 and len(undo["containers"]) == 2
    assert not any(state_of(c)["Paused"] for c in group)


def test_refusals_change_nothing(group, prefix, state_dir, containers):
    """max_targets, a protected container named exactly, a name that does not exist, bad values."""
    before = {c.name: state_of(c) for c in group}
    by_label = {"labels": {"sct.group": prefix}}
    one = {"names": [prefix + "a"]}
    base = {"state_dir": str(state_dir), "duration": 30}
    cases = [
        ("max_targets", {"targets": by_label, "action": "pause", "max_targets": 2}),
        ("is protected", {"targets": {"names": [prefix + "guarded"]}, "action": "pause"}),
        ("no container named", {"targets": {"names": [prefix + "does-not-exist"]}, "action": "pause"}),
        ("percentage between 0 and 100", {"targets": by_label, "action": "pause",
                                          "select": {"mode": "percent", "value": 150}}),
        ("whole number of at least 1", {"targets": by_label, "action": "pause",
                                        "select": {"mode": "count", "value": 0}}),
        ("above 0 seconds", {"targets": one, "action": "pause", "duration": 0}),
        ("above 0 seconds", {"targets": one, "action": "pause", "duration": -1}),
        ("value of action must be one of", {"targets": one, "action": "explode"}),
        ("does not answer", {"targets": one, "action": "pause", "docker_host": "unix:///nonexistent.sock"}),
        ("duration is required", {"targets": one, "action": "pause", "duration": None}),
        ("stop_timeout must be 0 or more", {"targets": one, "action": "stop", "stop_timeout": -1}),
        ("not a known signal", {"targets": one, "action": "kill", "signal": "SIGNOPE", "duration": None}),
    ]
    calls = []
    for _pattern, args in cases:
        merged = dict(base, **args)
        calls.append({"module": "container_chaos", "args": {k: v for k, v in merged.items() if v is not None}})
    results = run_modules(calls, state_dir)
    for (pattern, _args), result in zip(cases, results):
        assert result.get("failed") is True, (pattern, result)
        assert pattern.lower() in result["msg"].lower(), (pattern, result["msg"])
        assert_no_traceback(result)
        if "must be one of" not in pattern:  # argument-spec errors come from Ansible itself
            assert "Nothing was changed" in result["msg"], result["msg"]
    assert "Traceback" not in results[0].output
    assert {c.name: state_of(c) for c in group} == before
    assert ledger_entries(state_dir) == [] and audit_lines(state_dir) == []


def test_failure_on_the_second_target_undoes_the_first(faulty_docker, containers, state_dir):
    """The engine refuses to pause the second container: the first one is unpaused before the error."""
    first, second = containers("half-a"), containers("half-b")
    faulty_docker.fail_on(r"^POST /v[0-9.]+/containers/%s/pause$" % second.id)
    rc, result = run_module("container_chaos", chaos(state_dir, [first.name, second.name], action="pause",
                                                     duration=LONG, docker_host=faulty_docker.url))
    assert faulty_docker.failed, "the proxy never saw the pause of the second container: %s" % faulty_docker.seen
    assert_clean_failure(rc, result, "pause failed on a target")
    assert "Undone: container_pause on %s" % first.name in result["msg"], result["msg"]
    assert not state_of(first)["Paused"] and not state_of(second)["Paused"]
    assert active_entries(state_dir) == []
    events = [(a["event"], a["target"]["name"], a.get("by")) for a in audit_lines(state_dir)]
    assert ("inject", first.name, None) in events
    assert ("revert", first.name, "module-rollback") in events
    assert ("inject", second.name, None) not in events


def test_target_removed_after_selection_changes_nothing(faulty_docker, containers, state_dir):
    """The second container disappears between listing and action (the engine answers 404 to its inspect).

    Every target is inspected before the first pause (the pauses are recorded and applied as one batch), so the
    vanished one is noticed while nothing has changed yet. (A failure during the pauses themselves undoes the
    ones applied: test_failure_on_the_second_target_undoes_the_first.)
    faulty_docker comes first so the proxy outlives state_dir's clean-up, whose undo goes through it.
    """
    first, second = containers("gone-a"), containers("gone-b")
    # The listing inspects each container once; the module's own inspect of the second one is the next.
    faulty_docker.fail_on(r"^GET /v[0-9.]+/containers/%s/json$" % second.id, status=404, after=1)
    rc, result = run_module("container_chaos", chaos(state_dir, [first.name, second.name], action="pause",
                                                     duration=LONG, docker_host=faulty_docker.url))
    assert faulty_docker.failed, "the proxy never answered 404: %s" % faulty_docker.seen
    try:
        assert rc != 0 and result.get("failed") is True, result
        assert_no_traceback(result)
        assert "%s disappeared between selection and pause" % second.name in result["msg"], result["msg"]
        assert "Nothing was changed" in result["msg"], result["msg"]
        assert not state_of(first)["Paused"]
        assert active_entries(state_dir) == []
    finally:
        if state_of(first)["Paused"]:
            first.unpause()


def test_an_unrelated_container_removed_while_listing_is_ignored(faulty_docker, containers, state_dir):
    target, bystander = containers("list-target"), containers("list-bystander")
    # The bystander vanishes between the engine's list and its inspect (as when another job removes it).
    faulty_docker.fail_on(r"^GET /v[0-9.]+/containers/%s/json$" % bystander.id, status=404)
    rc, result = run_module("container_chaos", chaos(state_dir, target.name, action="restart", stop_timeout=1,
                                                     docker_host=faulty_docker.url))
    assert rc == 0, result.get("msg")
    assert [c["name"] for c in result["containers"]] == [target.name]
