# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AWX / Automation Controller, without an AWX: what it would be given and how it would run our jobs.

* the execution environment: ``ansible-builder create`` makes, with no network, a build context that
  installs the Python requirements, the Galaxy collections and this collection's own artifact;
* the AWX schedules: every rrule of the shipped configuration, expanded by dateutil (as AWX does), only
  gives slots of its schedule inside a maintenance window and outside the blackout dates, around
  Christmas and the spring DST change, and each of them is also a time its cron entry fires;
* awx_configure.yml: its syntax, and a clear refusal, before any AWX call, without a repository URL;
* jobs run the way AWX runs them (``ansible_runner.run`` of the project's playbook): a leashed tick records
  and injects nothing, the emergency stop makes the next tick skip until resume clears it, and a tick
  cancelled while its pause is active is undone on the target by the reaper at the pause's deadline.

Effects are read from files (the build context, the audit journal, the ledger, the flag) and from the
engine, in the test's own state folder; the demo stack is never stopped.
"""

from __future__ import annotations

import datetime
import fnmatch
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import ansible_runner
import yaml
from dateutil.rrule import rrulestr

from conftest import MARKER_ENV, REPO, SESSION_TAG, VENV_BIN, active_entries, ansible_env, audit_lines, kill_orphans, \
    ledger_entries, reaper_pids, state_of, wait_for
from test_chaos_of_chaos import applied_entry, assert_reverted_by_reaper
from test_run_experiment import demo_stack  # noqa: F401 pylint: disable=unused-import

COLLECTIONS = REPO / ".cache" / "collections"
sys.path.insert(0, str(COLLECTIONS))
from ansible_collections.sutazai.chaos.plugins.module_utils._guard import in_window, parse_window  # noqa: E402

UTC = datetime.timezone.utc
SHIPPED = yaml.safe_load((REPO / "inventories" / "local" / "group_vars" / "all.yml").read_text())["chaos_monkey"]
OCCURRENCES = 50


def run(argv, extra_env=None, timeout=120):
    return subprocess.run([str(a) for a in argv], cwd=REPO, env=ansible_env(extra_env), capture_output=True,
                          text=True, timeout=timeout, check=False)


def task_results(proc):
    """name -> result of every task of an ``ansible.posix.json`` run on localhost."""
    data = json.loads(proc.stdout[proc.stdout.find("{"):])
    return {task["task"]["name"]: task["hosts"]["localhost"] for play in data["plays"] for task in play["tasks"]}


# ------------------------------------------------------------------ 1. the execution environment

def netless():
    """argv prefix that runs a command without any network (a new, empty network namespace), if allowed."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "--net"]
    return []


def test_ee_build_context_installs_requirements_collections_and_our_artifact(tmp_path):
    definition = yaml.safe_load((REPO / "meta" / "execution-environment.yml").read_text())
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    ee_dir = tmp_path / "meta"  # a copy of meta/: the definition reads ee-collections next to itself
    (ee_dir / "ee-collections").mkdir(parents=True)
    shutil.copy(REPO / "meta" / "execution-environment.yml", ee_dir)
    offline = netless()
    build = run(offline + [VENV_BIN / "ansible-galaxy", "collection", "build", "--output-path",
                           ee_dir / "ee-collections", REPO])
    assert build.returncode == 0, build.stdout + build.stderr
    artifact = ee_dir / "ee-collections" / ("sutazai-chaos-%s.tar.gz" % version)
    context = tmp_path / "context"
    create = run(offline + [VENV_BIN / "ansible-builder", "create", "-f", ee_dir / "execution-environment.yml",
                            "-c", context])
    assert create.returncode == 0, create.stdout + create.stderr
    print("\nansible-builder create %s" % ("in a network namespace of its own" if offline else "(network not cut)"))

    [containerfile] = [context / n for n in ("Containerfile", "Dockerfile") if (context / n).exists()]
    text = containerfile.read_text()
    build_dir = context / "_build"
    # the Python requirements, as pinned in the definition
    pinned = {re.split(r"[<>=!~ ]", line, maxsplit=1)[0].lower(): line
              for line in (build_dir / "requirements.txt").read_text().splitlines() if line.strip()}
    assert {"prometheus-client", "docker", "python-dateutil"} <= set(pinned), pinned
    assert sorted(pinned.values()) == sorted(definition["dependencies"]["python"])
    assert "introspect --user-pip=requirements.txt" in text
    # the Galaxy collections
    galaxy = yaml.safe_load((build_dir / "requirements.yml").read_text())
    assert {c["name"] for c in galaxy["collections"]} == {"community.docker", "ansible.posix", "awx.awx"}
    assert re.search(r"ansible-galaxy collection install .*-r requirements.yml", text), text
    # ansible-core, ansible-runner and the base image of the definition
    pins = definition["dependencies"]
    refs = "%s %s" % (pins["ansible_core"]["package_pip"], pins["ansible_runner"]["package_pip"])
    assert 'ANSIBLE_INSTALL_REFS="%s"' % refs in text
    assert 'EE_BASE_IMAGE="%s"' % definition["images"]["base_image"]["name"] in text
    assert "stress-ng [platform:dpkg platform:rpm]" in (build_dir / "bindep.txt").read_text()
    # our collection: the very artifact, copied in and installed offline in the final stage
    copied = build_dir / "collections" / artifact.name
    assert [p.name for p in (build_dir / "collections").iterdir()] == [artifact.name]
    assert copied.read_bytes() == artifact.read_bytes()
    final = text[text.rindex("AS final"):]
    install = re.search(r"^RUN ansible-galaxy collection install --offline --no-deps (\S+)", final, re.M)
    assert install and "COPY _build/collections/ /tmp/sutazai-collections/" in final, final
    assert fnmatch.fnmatch("/tmp/sutazai-collections/" + artifact.name, install.group(1))
    assert final.index("COPY --from=galaxy") < final.index(install.group(0))
    with tarfile.open(copied) as tar:
        names = set(tar.getnames())
        manifest = json.load(tar.extractfile("MANIFEST.json"))["collection_info"]
    assert (manifest["namespace"], manifest["name"], manifest["version"]) == ("sutazai", "chaos", version)
    assert {"plugins/action/chaos_monkey.py", "playbooks/chaos_monkey.yml", "roles/experiment/tasks/main.yml",
            "experiments/backend-pause.yml", "meta/runtime.yml"} <= names
    ignored = (".venv/", ".cache/", "results/", "meta/ee-collections/", "tests/output/")
    assert not [n for n in names if n.startswith(ignored)]


# ------------------------------------------------------------------ 2. the AWX schedules and awx_configure.yml

def validated_schedules(tmp_path):
    """The action's validate answer for the shipped configuration (the inventory's group_vars)."""
    book = tmp_path / "validate.yml"
    book.write_text(json.dumps([{"name": "validate the shipped monkey", "hosts": "docker_hosts",
                                 "gather_facts": False, "tasks": [{
                                     "name": "validate", "sutazai.chaos.chaos_monkey": {
                                         "config": "{{ chaos_monkey }}", "action": "validate"}}]}]))
    proc = run([VENV_BIN / "ansible-playbook", "-i", "inventories/local", book])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    return task_results(proc)["validate"]["schedules"]


def slot_of(schedule, local):
    """Whether a local wall time is a slot of the (raw, shipped) schedule: its days and its pattern."""
    frequency, pattern = schedule["frequency"], str(schedule["schedule_pattern"])
    if frequency == "hourly":
        return local.minute == int(pattern.lstrip(":")) and local.second == 0
    hour, minute = (int(part) for part in pattern.split(":"))
    days = {"daily": range(7), "weekdays": range(5)}.get(frequency) or [
        ("mon", "tue", "wed", "thu", "fri", "sat", "sun").index(d[:3].lower()) for d in schedule["days"]]
    return (local.hour, local.minute, local.second) == (hour, minute, 0) and local.weekday() in days


def blacked_out(day, blackouts):
    """The yearly MM-DD..MM-DD range holding a local date, if any (a range may wrap the year)."""
    for text in blackouts:
        match = re.match(r"^(\d\d)-(\d\d)\.\.(\d\d)-(\d\d)$", text)
        assert match, "only yearly ranges are checked here, got %r" % text
        start, end = (int(match.group(1)), int(match.group(2))), (int(match.group(3)), int(match.group(4)))
        key = (day.month, day.day)
        if (start <= key <= end) if start <= end else (key >= start or key <= end):
            return text
    return None


def cron_allows(field, value):
    return field == "*" or value in {int(part) for part in field.split(",")}


def starts(zone):
    """Now; the coming 20 December; three days before the coming spring DST change (last Sunday of March)."""
    now = datetime.datetime.now(zone)
    christmas = datetime.datetime(now.year, 12, 20, tzinfo=zone)
    christmas = christmas if christmas > now else christmas.replace(year=now.year + 1)
    year = now.year
    while True:
        last_sunday = max(datetime.date(year, 3, day) for day in range(25, 32)
                          if datetime.date(year, 3, day).weekday() == 6)
        spring = datetime.datetime.combine(last_sunday - datetime.timedelta(days=3), datetime.time(0), tzinfo=zone)
        if spring > now:
            return {"now": now, "before Christmas": christmas, "before the DST change": spring}
        year += 1


def test_shipped_rrules_give_slots_in_windows_outside_blackouts_and_fired_by_cron(tmp_path):
    schedules = validated_schedules(tmp_path)
    raw = {s["name"]: s for s in SHIPPED["schedules"]}
    assert sorted(s["name"] for s in schedules) == sorted(raw)
    zone = ZoneInfo(SHIPPED["timezone"])
    windows = [parse_window(w, i) for i, w in enumerate(SHIPPED["maintenance_windows"])]
    for schedule in schedules:
        name, text, cron = schedule["name"], schedule["rrule"], schedule["cron"]
        assert text.startswith("DTSTART;TZID=%s:" % SHIPPED["timezone"]), text
        assert (cron["day"], cron["month"]) == ("*", "*"), cron
        # what AWX's API accepts: INTERVAL in every rule, no EXDATE
        assert all("INTERVAL=" in part for part in text.split(" ") if "RULE:" in part), text
        assert "EXDATE" not in text, text
        rules = rrulestr(text, forceset=True)
        for when, start in starts(zone).items():
            found = list(rules.xafter(start, count=OCCURRENCES))
            assert len(found) == OCCURRENCES, (name, when, text)
            for moment in found:
                local = moment.astimezone(zone)
                what = "%s from %s: %s (%s)" % (name, when, local.isoformat(), text)
                assert local.replace(tzinfo=None) == moment.replace(tzinfo=None), "not a real wall time: " + what
                assert slot_of(raw[name], local), "not a slot: " + what
                if raw[name].get("maintenance_window_only"):
                    assert any(in_window(w, moment) for w in windows), "outside every window: " + what
                assert not blacked_out(local.date(), SHIPPED["blackout_dates"]), "on a blackout date: " + what
                utc = moment.astimezone(UTC)
                fired = [cron_allows(cron["minute"], utc.minute), cron_allows(cron["hour"], utc.hour),
                         cron_allows(cron["weekday"], (utc.weekday() + 1) % 7)]
                assert all(fired), "cron %s does not fire at %s: %s" % (cron, utc.isoformat(), what)
            dates = {moment.astimezone(zone).date() for moment in found}
            if when == "before Christmas":  # the blackout was crossed, not just not reached
                assert min(dates) < datetime.date(start.year, 12, 24) and max(dates) > datetime.date(start.year + 1, 1, 1)
            if when == "before the DST change":  # both offsets, each at the schedule's wall time
                assert len({moment.astimezone(zone).utcoffset() for moment in found}) == 2, (name, found)


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_awx_configure_checks_and_refuses_without_a_repository_before_any_awx_call():
    syntax = run([VENV_BIN / "ansible-playbook", "-i", "inventories/local", "--syntax-check",
                  "playbooks/awx_configure.yml", "playbooks/awx-configure.yml"],
                 {"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    assert "playbook: playbooks/awx_configure.yml" in syntax.stdout
    # No AWX anywhere: the variables of a controller that would be used point at a closed local port.
    env = {key: "" for key in os.environ if key.startswith(("CONTROLLER_", "TOWER_", "AWX_"))}
    env.update(CONTROLLER_HOST="https://127.0.0.1:%d" % closed_port(), CONTROLLER_OAUTH_TOKEN="none",
               CONTROLLER_VERIFY_SSL="false", CONTROLLER_CONFIG_FILE="/nonexistent")
    proc = run([VENV_BIN / "ansible-playbook", "-i", "inventories/local", "playbooks/awx_configure.yml"], env)
    assert proc.returncode == 2 and "Traceback" not in proc.stdout + proc.stderr, proc.stdout[-3000:] + proc.stderr
    tasks = task_results(proc)
    refused = tasks["AWX - the repository to use is required"]
    assert refused.get("failed") and refused["msg"] == (
        "Set awx_scm_url (-e awx_scm_url=https://...): the Git repository AWX checks this project out from.")
    checked = tasks["AWX - check the monkey's configuration and compute each schedule's rrule"]
    assert len(checked["schedules"]) == len(SHIPPED["schedules"])
    assert not [name for name in tasks if name.startswith("AWX - the execution environment")], sorted(tasks)


# ------------------------------------------------------------------ 3. jobs run the AWX way (ansible-runner)

def monkey_config(leashed, experiment, target):
    return {"enabled": True, "leashed": leashed, "timezone": "Europe/Berlin", "salt": "awx", "grace": "10m",
            "blackout_dates": [], "maintenance_windows": [], "opt_out": [], "min_healthy_services": 0,
            "max_cpu_usage": 100, "max_memory_usage": 100,
            "schedules": [{"name": "awx-nightly", "experiments": [experiment], "frequency": "daily",
                           "schedule_pattern": "02:30", "probability": 1, "safe_mode": True, "targets": [target]}]}


def awx_job(tmp_path, playbook, extravars, cancel_callback=None):
    """ansible_runner.run of a project playbook, the way AWX runs a job; returns (runner, stdout)."""
    private = tmp_path / ("job-%s-%d" % (Path(playbook).stem, time.monotonic_ns()))
    private.mkdir()
    envvars = {
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS),
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "PATH": "%s:%s" % (VENV_BIN, os.environ.get("PATH", "")),
        MARKER_ENV: SESSION_TAG,  # lets kill_orphans find the setsid'ed workers a cancel leaves
    }
    runner = ansible_runner.run(private_data_dir=str(private), playbook=str(REPO / "playbooks" / playbook),
                                inventory=str(REPO / "inventories" / "local"), extravars=extravars,
                                envvars=envvars, cancel_callback=cancel_callback, quiet=True,
                                settings={"pexpect_timeout": 0.1, "suppress_ansible_output": True})
    output = runner.stdout.read() if runner.stdout else ""
    assert "Traceback" not in output, output[-5000:]
    return runner, output


def monkey_lines(state_dir, event):
    return [line for line in audit_lines(state_dir) if line.get("event") == event]


def test_awx_jobs_leashed_tick_then_emergency_stop_skips_until_resume(state_dir, tmp_path):
    cfg = monkey_config(True, "redis-crash", "redis")

    def tick(now):
        extravars = {"chaos_monkey": cfg, "chaos_monkey_now": now, "chaos_state_dir": str(state_dir),
                     "chaos_report_dir": str(tmp_path)}
        runner, output = awx_job(tmp_path, "chaos_monkey.yml", extravars)
        assert (runner.status, runner.rc) == ("successful", 0), output[-5000:]
        return monkey_lines(state_dir, "monkey_decision")[-1]

    decided = tick("2026-12-02T02:31:00+01:00")
    assert [line["event"] for line in audit_lines(state_dir)] == ["monkey_decision"]
    assert (decided["schedule"], decided["decision"], decided["action"]) == ("awx-nightly", "run", "record-only")
    assert (decided["experiment"], decided["target"]) == ("redis-crash", "redis"), decided

    flag = state_dir / "emergency-stop"
    stop_vars = {"chaos_state_dir": str(state_dir), "chaos_stop_reason": "awx test stop"}
    runner, output = awx_job(tmp_path, "emergency_stop.yml", stop_vars)
    assert (runner.status, runner.rc) == ("successful", 0), output[-5000:]
    assert flag.exists() and "awx test stop" in flag.read_text()
    stopped = tick("2026-12-03T02:31:00+01:00")
    assert (stopped["slot"][:10], stopped["decision"]) == ("2026-12-03", "skip"), stopped
    assert "emergency stop" in stopped["reason"].replace("-", " ").lower(), stopped
    assert [c["check"] for c in stopped["checks"] if c["verdict"] == "fail"] == ["emergency_stop"]

    runner, output = awx_job(tmp_path, "resume_chaos.yml", {"chaos_state_dir": str(state_dir)})
    assert (runner.status, runner.rc) == ("successful", 0), output[-5000:]
    assert not flag.exists()  # what the guard reads: the first tick shows a tick without it runs
    assert len(monkey_lines(state_dir, "monkey_decision")) == 2
    assert not monkey_lines(state_dir, "inject") and not ledger_entries(state_dir)


def backend_settled(backend):
    state = state_of(backend)
    return state["Running"] and not state["Paused"] and state.get("Health", {}).get("Status") in (None, "healthy")


def test_awx_cancelled_tick_leaves_the_unpause_to_the_reaper(demo_stack, state_dir, tmp_path, record_property):
    backend = demo_stack["backend"]
    settled, _waited = wait_for(lambda: backend_settled(backend), timeout=60, interval=0.5)
    assert settled, "the demo backend is not running and healthy: %s" % state_of(backend)
    extravars = {"chaos_monkey": monkey_config(False, "backend-pause", "backend"),
                 "chaos_monkey_now": "2026-12-02T02:30:20+01:00", "chaos_state_dir": str(state_dir),
                 "chaos_report_dir": str(tmp_path)}
    cancel = {}

    def cancel_callback():
        if "at" not in cancel:
            entry = applied_entry(state_dir)
            if not (entry and state_of(backend)["Paused"]):
                return False
            cancel.update(at=time.time(), entry=entry)
        return True

    try:
        runner, output = awx_job(tmp_path, "chaos_monkey.yml", extravars, cancel_callback)
        assert runner.status == "canceled", (runner.status, output[-5000:])
        assert "entry" in cancel, "the pause never became visible:\n%s" % output[-5000:]
        deadline = cancel["entry"]["deadline"]
        assert cancel["at"] < deadline and state_of(backend)["Paused"], "the cancel must come while paused"
        assert (cancel["entry"]["kind"], cancel["entry"]["target"]["name"]) == ("container_pause", backend.name), cancel
        unpaused, _waited = wait_for(lambda: not state_of(backend)["Paused"],
                                     timeout=max(0.0, deadline + 3 - time.time()), interval=0.1)
        seen = time.time()
        assert unpaused, "the backend is still paused 3 s after the deadline, with the job cancelled"
    finally:
        kill_orphans()  # the worker running the observation survives the group kill (it called setsid)
    [entry] = assert_reverted_by_reaper(state_dir)
    record_property("awx_monkey_cancel_unpaused_after_deadline_s", round(seen - deadline, 3))
    print("\nunpaused %.3f s after the deadline, reverted by the reaper %.3f s after it"
          % (seen - deadline, entry["reverted_at"] - deadline))
    [decided] = monkey_lines(state_dir, "monkey_decision")
    assert (decided["decision"], decided["action"], decided["target"]) == ("run", "inject", "backend"), decided
    assert not monkey_lines(state_dir, "monkey_outcome"), "the job was cancelled before its verdict"
    gone, _waited = wait_for(lambda: not reaper_pids(state_dir), timeout=5, interval=0.2)
    assert gone, "the reaper did not exit after its last revert"
    assert active_entries(state_dir) == []
    state = state_of(backend)
    assert state["Running"] and not state["Paused"], state
