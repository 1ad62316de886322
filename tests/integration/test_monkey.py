# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The chaos monkey on the demo stack, with an injected clock: a due slot with a winning roll runs its
experiment through the lifecycle and leaves nothing; a slot outside its window, on a blackout date, under
an emergency stop, under a firing alert (a real Prometheus with a rule that fires), within min_gap, or
aimed at an opted-out container is skipped with that reason; leashed mode records and injects nothing;
plans computed twice are identical and ticks at their slots follow them; cron (a real cron daemon) runs a
leashed tick from the entry install-schedules.yml wrote, and a tick never overlaps the previous one.

Decisions are read from the audit journal of the test's own state folder, effects from the engine.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import shutil
import subprocess
import time
import urllib.request

import pytest
import yaml

from conftest import REPO, VENV_BIN, active_entries, ansible_env, audit_lines, state_of
from prometheus_fixture import PrometheusServer, free_port
from test_run_experiment import demo_stack, results  # noqa: F401 pylint: disable=unused-import

MARKER = "sutazai.chaos monkey: "


def config(*schedules, **top):
    base = {"enabled": True, "leashed": False, "timezone": "Europe/Berlin", "salt": "it", "grace": "10m",
            "blackout_dates": ["12-24..12-26"], "opt_out": [],
            "maintenance_windows": [{"start": "02:00", "end": "04:00", "timezone": "Europe/Berlin"}],
            "min_healthy_services": 0.5, "max_cpu_usage": 100, "max_memory_usage": 100,
            "schedules": list(schedules)}
    base.update(top)
    return base


def schedule(name, **over):
    base = {"name": name, "experiments": ["redis-crash"], "frequency": "daily", "schedule_pattern": "02:30",
            "probability": 1.0, "safe_mode": True, "targets": ["redis"]}
    base.update(over)
    return base


def monkey(tmp_path, monkey_config, *extra, now=None, state_dir, report_dir=None, json_output=False):
    """ansible-playbook playbooks/chaos-monkey.yml with this configuration (as extra vars) and clock."""
    vars_file = tmp_path / ("monkey-%s.json" % os.urandom(3).hex())
    vars_file.write_text(json.dumps({"chaos_monkey": monkey_config}))
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "playbooks/chaos-monkey.yml",
            "-e", "@%s" % vars_file, "-e", "chaos_state_dir=%s" % state_dir,
            "-e", "chaos_report_dir=%s" % (report_dir or state_dir)] + list(extra)
    if now:
        argv += ["-e", "chaos_monkey_now=%s" % now]
    callback = "ansible.posix.json" if json_output else "ansible.builtin.default"
    proc = subprocess.run(argv, cwd=REPO, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": callback}),
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def decisions(state_dir):
    """schedule -> its latest decision record in the journal."""
    found = {}
    for line in audit_lines(state_dir):
        if line.get("event") == "monkey_decision":
            found[line["schedule"]] = line
    return found


def injections(state_dir):
    return [line for line in audit_lines(state_dir) if line.get("event") == "inject"]


def failed_check(decision):
    return [c["check"] for c in decision["checks"] if c["verdict"] == "fail"]


# ------------------------------------------------------------------------------------------------ cron

@pytest.fixture(scope="module")
def cron(tmp_path_factory):
    """A running cron daemon and an entry, written by install-schedules.yml, due at the coming minute.

    Installed when the module starts so that its minute passes while the other tests run.
    """
    if shutil.which("crontab") is None or not os.access("/usr/sbin/cron", os.X_OK):
        pytest.skip("cron is not installed (Debian package cron; scripts/setup.sh installs it)")
    started_cron = subprocess.run(["pgrep", "-x", "cron"], capture_output=True, check=False).returncode != 0
    if started_cron:
        subprocess.run(["/usr/sbin/cron"], check=True)
    before = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False).stdout
    folder = tmp_path_factory.mktemp("cron")
    now = datetime.datetime.now(datetime.timezone.utc)
    minute = (now + datetime.timedelta(minutes=1 if now.second < 45 else 2)).minute
    inventory = folder / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    shutil.copy(REPO / "inventories" / "local" / "hosts.yml", inventory / "hosts.yml")
    group_vars = yaml.safe_load((REPO / "inventories" / "local" / "group_vars" / "all.yml").read_text())
    group_vars.update(
        chaos_state_dir=str(folder / "state"), chaos_report_dir=str(folder / "results"),
        chaos_monkey=config(schedule("cron-leashed", frequency="hourly", schedule_pattern=":%02d" % minute),
                            timezone="UTC", leashed=True, maintenance_windows=[], blackout_dates=[]))
    (inventory / "group_vars" / "all.yml").write_text(json.dumps(group_vars))
    log = folder / "monkey.log"
    install = [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "playbooks/install-schedules.yml",
               "-e", "chaos_monkey_log_file=%s" % log, "-e", "chaos_monkey_lock_folder=%s" % folder]
    proc = subprocess.run(install, cwd=REPO, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    yield {"folder": folder, "log": log, "minute": minute, "inventory": inventory, "install": install,
           "installed_at": time.time()}
    subprocess.run(install + ["-e", "chaos_monkey_state=absent"], cwd=REPO, env=ansible_env(),
                   capture_output=True, check=False, timeout=120)
    if before.strip():
        subprocess.run(["crontab", "-"], input=before, text=True, check=False)
    if started_cron:
        subprocess.run(["pkill", "-x", "cron"], check=False)


def our_entries():
    lines = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False).stdout.splitlines()
    return [(lines[i], lines[i + 1]) for i, line in enumerate(lines[:-1]) if line.startswith("#Ansible: " + MARKER)]


def test_install_schedules_writes_one_flocked_entry_per_schedule(cron):
    [(marker, entry)] = our_entries()
    assert marker == "#Ansible: %scron-leashed" % MARKER
    fields = entry.split()
    assert fields[:5] == [str(cron["minute"]), "*", "*", "*", "*"], entry
    assert "flock -n -E 75" in entry and "-e chaos_monkey_schedule=cron-leashed" in entry
    assert str(cron["inventory"]) in entry and str(cron["log"]) in entry


# ------------------------------------------------------------------------------------------------ ticks

def test_a_due_slot_runs_and_leaves_nothing_while_unsafe_slots_skip(
        demo_stack, containers, prefix, state_dir, tmp_path):
    containers("optout", labels={"sutazai.chaos.opt-out": "true", "sutazai.chaos.service": prefix + "svc"})
    redis = demo_stack["redis"]
    restarts = state_of(redis)["RestartCount"]
    cfg = config(schedule("crash", min_gap="2d", maintenance_window_only=True),
                 schedule("opted", experiments=["backend-pause"], targets=[prefix + "svc"]))
    report = tmp_path / "results"
    monkey(tmp_path, cfg, now="2026-12-02T02:31:00+01:00", state_dir=state_dir, report_dir=report)
    seen = decisions(state_dir)
    assert seen["crash"]["decision"] == "run" and seen["crash"]["action"] == "inject", seen["crash"]
    # opted out by the container's label, found on the engine at the tick
    assert seen["opted"]["decision"] == "skip" and failed_check(seen["opted"]) == ["opt_out"], seen["opted"]
    assert prefix + "svc" in seen["opted"]["reason"]
    # the experiment really ran: redis was killed and restarted by the engine, PASS, nothing left
    assert state_of(redis)["RestartCount"] > restarts
    [result] = results(report).values()
    assert result["verdict"] == "PASS", result["reason"]
    assert active_entries(state_dir) == []
    outcome = [line for line in audit_lines(state_dir) if line.get("event") == "monkey_outcome"]
    assert [(o["schedule"], o["target"], o["verdict"]) for o in outcome] == [("crash", "redis", "PASS")]

    # the next day: within min_gap (2 days) of the hit recorded in the journal -> skipped, nothing injected
    hits = len(injections(state_dir))
    monkey(tmp_path, cfg, now="2026-12-03T02:30:30+01:00", state_dir=state_dir, report_dir=report)
    seen = decisions(state_dir)
    assert failed_check(seen["crash"]) == ["min_gap"], seen["crash"]
    assert len(injections(state_dir)) == hits


def test_outside_the_window_and_on_a_blackout_date_nothing_runs(demo_stack, state_dir, tmp_path):
    cfg = config(schedule("windowed", maintenance_window_only=True, schedule_pattern="12:30"),
                 maintenance_windows=[{"start": "02:00", "end": "04:00", "timezone": "Europe/Berlin"},
                                      {"days": ["sun"], "start": "12:00", "end": "13:00",
                                       "timezone": "Europe/Berlin"}])
    monkey(tmp_path, cfg, now="2026-12-02T12:30:00+01:00", state_dir=state_dir)  # a Wednesday: no window
    assert failed_check(decisions(state_dir)["windowed"]) == ["maintenance_window"]
    monkey(tmp_path, config(schedule("christmas")), now="2026-12-25T02:30:00+01:00", state_dir=state_dir)
    christmas = decisions(state_dir)["christmas"]
    assert failed_check(christmas) == ["blackout"] and "12-24" in christmas["reason"], christmas
    assert injections(state_dir) == []


def test_emergency_stop_and_leashed_mode(demo_stack, state_dir, tmp_path):
    redis = demo_stack["redis"]
    restarts = state_of(redis)["RestartCount"]
    (state_dir / "emergency-stop").write_text("set by the test\n")
    monkey(tmp_path, config(schedule("stopped")), now="2026-12-02T02:30:00+01:00", state_dir=state_dir)
    assert failed_check(decisions(state_dir)["stopped"]) == ["emergency_stop"]
    (state_dir / "emergency-stop").unlink()
    monkey(tmp_path, config(schedule("leashed"), leashed=True), now="2026-12-03T02:30:00+01:00",
           state_dir=state_dir)
    leashed = decisions(state_dir)["leashed"]
    assert (leashed["decision"], leashed["action"], leashed["leashed"]) == ("run", "record-only", True)
    assert injections(state_dir) == [] and active_entries(state_dir) == []
    assert state_of(redis)["RestartCount"] == restarts


def test_a_firing_alert_skips_the_tick(demo_stack, state_dir, tmp_path):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "rules.yml").write_text(json.dumps({"groups": [{"name": "it", "rules": [
        {"alert": "ChaosTestAlwaysFiring", "expr": "vector(1)"}]}]}))
    port = free_port()
    server = PrometheusServer(folder, port, config={
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(folder / "rules.yml")],
        "scrape_configs": [{"job_name": "prometheus", "static_configs": [{"targets": ["127.0.0.1:%d" % port]}]}]})
    server.start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with urllib.request.urlopen(server.url + "/api/v1/alerts", timeout=2) as answer:  # 127.0.0.1 only
                if any(a["state"] == "firing" for a in json.load(answer)["data"]["alerts"]):
                    break
            time.sleep(0.3)
        monkey(tmp_path, config(schedule("alerting"), prometheus_url=server.url), now="2026-12-02T02:30:00+01:00",
               state_dir=state_dir)
    finally:
        server.stop()
    alerting = decisions(state_dir)["alerting"]
    assert failed_check(alerting) == ["alerts"] and "ChaosTestAlwaysFiring" in alerting["reason"], alerting
    assert injections(state_dir) == []


def plan_rows(proc):
    data = json.loads(proc.stdout[proc.stdout.find("{"):])
    for play in data["plays"]:
        for task in play["tasks"]:
            result = task["hosts"].get("localhost", {})
            if "plan" in result:
                return result["plan"]
    raise AssertionError("no plan in the output")


def test_plans_are_replayable_and_ticks_follow_them(demo_stack, state_dir, tmp_path):
    cfg = config(schedule("coin", frequency="hourly", schedule_pattern=":15", probability=0.5,
                          experiments={"redis-crash": 1, "backend-pause": 1}, targets=["redis", "backend"]),
                 leashed=True)
    start = "2026-12-07T00:00:00+01:00"
    first = plan_rows(monkey(tmp_path, cfg, "-e", "chaos_monkey_action=plan", "-e", "days=7", now=start,
                             state_dir=state_dir, json_output=True))
    again = plan_rows(monkey(tmp_path, cfg, "-e", "chaos_monkey_action=plan", "-e", "days=7", now=start,
                             state_dir=state_dir, json_output=True))
    assert first == again and len(first) == 7 * 24
    assert audit_lines(state_dir) == [], "a plan touches nothing"
    runs = [row for row in first if row["decision"] == "run"]
    skips = [row for row in first if row["mark"] == "skip (roll)"]
    assert runs and skips
    for row in (runs[0], skips[0]):
        slot = datetime.datetime.fromisoformat(row["slot"])
        monkey(tmp_path, cfg, now=(slot + datetime.timedelta(seconds=40)).isoformat(), state_dir=state_dir)
        decided = decisions(state_dir)["coin"]
        assert decided["slot"] == row["slot"]
        for key in ("roll", "experiment", "target", "decision"):
            assert decided[key] == row[key], (key, decided, row)
    assert injections(state_dir) == []


def test_a_bad_configuration_is_refused_naming_each_field_and_nothing_runs(state_dir, tmp_path):
    cfg = config(schedule("broken", probability=1.5, frequency="fortnightly", min_gap="soon",
                          experiments=["no-such-experiment"], targets=[]), timezone="Mars/Olympus")
    vars_file = tmp_path / "bad.json"
    vars_file.write_text(json.dumps({"chaos_monkey": cfg}))
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "inventories/local", "playbooks/chaos-monkey.yml",
                           "-e", "@%s" % vars_file, "-e", "chaos_state_dir=%s" % state_dir], cwd=REPO,
                          env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                          capture_output=True, text=True, timeout=120, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    for field in ("probability", "frequency", "min_gap", "no-such-experiment", "targets", "Mars/Olympus"):
        assert field in out, (field, out[-3000:])
    assert "chaos_monkey.schedules[0] (broken)" in out
    assert audit_lines(state_dir) == [] and not (state_dir / "ledger.json").exists()


# ------------------------------------------------------------------------------------------------ cron, last

def test_cron_runs_a_leashed_tick_that_never_overlaps(cron):
    log = cron["log"]
    deadline = cron["installed_at"] + 150
    while time.time() < deadline and "cron-leashed at" not in (log.read_text() if log.exists() else ""):
        time.sleep(1)
    text = log.read_text() if log.exists() else ""
    assert "cron-leashed at" in text and "run (leashed: record only)" in text, text[-3000:]
    state = cron["folder"] / "state"
    [decision] = [line for line in audit_lines(state) if line.get("event") == "monkey_decision"]
    assert decision["action"] == "record-only"
    assert not any(line.get("event") == "inject" for line in audit_lines(state))

    # The entry's own command while the previous tick still holds its lock: skipped, and the log says so.
    [(_marker, entry)] = our_entries()
    command = entry.split(None, 5)[5].replace("\\%", "%")
    lock = cron["folder"] / "sutazai-chaos-monkey-cron-leashed.lock"
    with open(lock, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        subprocess.run(["sh", "-c", command], check=False, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert "tick of cron-leashed skipped: the previous tick still runs" in log.read_text()

    subprocess.run(cron["install"] + ["-e", "chaos_monkey_state=absent"], cwd=REPO, env=ansible_env(),
                   capture_output=True, check=True, timeout=120)
    assert our_entries() == []
