# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The catalogue and its runner on the demo stack: every shipped experiment (and in safe mode), every
validation failure refused before anything is touched, --check as a dry run, the emergency stop giving
ABORTED, and containers that are not compose services.

Effects are read on the engine (RestartCount, StartedAt, Paused) and in the ledger and audit journal of a
state folder of the test's own, never only from what the playbook says.
"""

from __future__ import annotations

import glob
import json
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import IMAGE, REPO, RUN_LABEL, SESSION_TAG, VENV_BIN, active_entries, ansible_env, audit_lines, \
    ledger_entries, run_module, state_of, wait_for

SHIPPED = sorted(Path(p).stem for p in glob.glob(str(REPO / "experiments" / "*.yml")))
DEMO = ("postgres", "redis", "backend", "frontend")


@pytest.fixture(scope="module")
def demo_stack(docker_client):
    subprocess.run([str(REPO / "scripts" / "stack.sh"), "up"], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return {s: docker_client.containers.get("sutazai-demo_%s_1" % s) for s in DEMO}


def engine_view(stack):
    """What a fault would change on the engine: running, paused, restarts, start time."""
    return {name: {k: state_of(c)[k] for k in ("Running", "Paused", "RestartCount", "StartedAt")}
            for name, c in stack.items()}


def playbook(book, *extra, state_dir, report_dir=None, check=False, inventory="inventories/local", timeout=600):
    argv = [str(VENV_BIN / "ansible-playbook"), "-i", inventory, "playbooks/%s" % book,
            "-e", "chaos_state_dir=%s" % state_dir, "-e", "chaos_report_dir=%s" % (report_dir or state_dir)]
    argv += list(extra) + (["--check"] if check else [])
    env = ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})
    return subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def result_paths(folder):
    """The result files in a folder (the run journals, journal-*.json, beside them are not results)."""
    return [p for p in glob.glob(str(Path(folder) / "*.json")) if not Path(p).name.startswith("journal-")]


def results(report_dir):
    return {json.load(open(p))["experiment"]["name"]: json.load(open(p)) for p in result_paths(report_dir)}


def write(path, text):
    path.write_text(text)
    return str(path)


def summary_lines_of(output):
    """The summary lines printed by the lifecycle (yaml callback: one list item per line, maybe wrapped)."""
    block = output[output.rfind("Report - summary"):]
    return re.findall(r"^\s+- '?(.*?)'?$", block[:block.find("TASK [", 10)], re.M)


# ---------------------------------------------------------------------------------- refused, nothing touched

TYPO = """
name: typo
description: a typo in a key
kind: container
targets: {servics: [redis]}
fault: {action: kill}
"""
BAD_FILES = {
    "typo": (TYPO, "targets.servics: unknown key (did you mean services?)"),
    "percent": ("name: percent\ndescription: x\nkind: network\ntargets: {services: [redis]}\n"
                "fault: {loss: {percent: 140}}\nduration: 5\n", "fault.loss.percent: 140 is above 100"),
    "kind": ("name: kind\ndescription: x\nkind: netwrk\ntargets: {services: [redis]}\n",
             "kind: 'netwrk' is not one of container, network, resource, process, http, dns, custom, dependency, resilience (did you mean network?)"),
    "unmapped": ("name: unmapped\ndescription: x\nkind: container\ntargets: {services: [rediss]}\n",
                 "targets.services[0]: rediss is not in the inventory's dependency map or health checks (did you mean redis?)"),
    "protected": ("name: protected\ndescription: x\nkind: container\ntargets: {services: [postgres]}\n",
                  "targets.services[0]: postgres is protected"),
    "listed": ("- name: listed\n", "the file must hold one mapping"),
    "notyaml": ("name: [unclosed\n", "is not valid YAML"),
    "mapping": ("name: mapping\ndescription: x\nkind: container\ntargets: [redis]\n",
                "targets: ['redis'] is not a mapping"),
}


def test_a_typo_in_a_key_is_refused_before_any_host_is_touched(demo_stack, state_dir, tmp_path):
    before = engine_view(demo_stack)
    path = write(tmp_path / "typo.yml", TYPO)
    run = playbook("run_experiment.yml", "-e", "experiment=%s" % path, state_dir=state_dir)
    assert run.returncode != 0, run.stdout[-3000:]
    assert "%s: targets.servics: unknown key (did you mean services?)" % path in run.stdout, run.stdout[-3000:]
    assert "Traceback" not in run.stdout + run.stderr
    assert ledger_entries(state_dir) == [] and audit_lines(state_dir) == []
    assert engine_view(demo_stack) == before


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_each_bad_file_is_refused_naming_the_path(case, demo_stack, state_dir, tmp_path):
    text, expected = BAD_FILES[case]
    path = write(tmp_path / ("%s.yml" % case), text)
    run = playbook("run_experiment.yml", "-e", "experiment=%s" % path, state_dir=state_dir)
    assert run.returncode != 0, run.stdout[-3000:]
    assert expected in run.stdout.replace("\n        ", " "), run.stdout[-3000:]
    assert "Traceback" not in run.stdout + run.stderr
    assert ledger_entries(state_dir) == [] and not result_paths(state_dir)


@pytest.mark.parametrize("experiment, expected", [
    ("../../etc/passwd", "is not an experiment name"),
    ("sub/dir", "is not an experiment name"),
    ("no-such-experiment", "no experiment 'no-such-experiment'"),
    ("/nonexistent/x.yml", "experiment file /nonexistent/x.yml does not exist"),
    ("", "experiment is required"),
])
def test_bad_names_are_refused(experiment, expected, state_dir):
    run = playbook("run_experiment.yml", "-e", "experiment=%s" % experiment, state_dir=state_dir)
    assert run.returncode != 0 and expected in run.stdout.replace("\n        ", " "), run.stdout[-3000:]
    assert ledger_entries(state_dir) == []


def test_an_empty_catalogue_is_refused(state_dir, tmp_path):
    (tmp_path / "empty").mkdir()
    run = playbook("run_experiment.yml", "-e", "experiment=all", "-e", "experiment_dir=%s" % (tmp_path / "empty"),
                   state_dir=state_dir)
    assert run.returncode != 0 and "holds no experiment files" in run.stdout, run.stdout[-3000:]


def test_validate_only_lists_every_problem_at_once(state_dir, tmp_path):
    for case, (text, _expected) in BAD_FILES.items():
        write(tmp_path / ("%s.yml" % case), text)
    run = playbook("run_experiment.yml", "-e", "experiment=all", "-e", "experiment_dir=%s" % tmp_path,
                   "-e", "validate_only=true", state_dir=state_dir)
    assert run.returncode != 0
    flat = run.stdout.replace("\n        ", " ")
    for case, (_text, expected) in BAD_FILES.items():
        assert expected in flat, (case, run.stdout[-4000:])


def test_safe_mode_refuses_listing_every_limit_broken(demo_stack, state_dir, tmp_path):
    before = engine_view(demo_stack)
    path = write(tmp_path / "greedy.yml", "name: greedy\ndescription: x\nkind: network\n"
                 "targets: {services: [redis, backend]}\nfault: {loss: {percent: 90}}\nduration: 300\n")
    run = playbook("run_experiment.yml", "-e", "experiment=%s" % path, "-e", "safe_mode=true", state_dir=state_dir)
    assert run.returncode != 0
    flat = run.stdout.replace("\n        ", " ")
    for limit in ("duration 300 s is longer than the safe-mode maximum of 60 s",
                  "2 targets planned, safe mode allows 1", "loss 90% is above the safe-mode cap of 50%"):
        assert limit in flat, (limit, run.stdout[-3000:])
    assert ledger_entries(state_dir) == [] and engine_view(demo_stack) == before


def test_the_shipped_catalogue_validates(state_dir):
    run = playbook("run_experiment.yml", "-e", "experiment=all", "-e", "validate_only=true", state_dir=state_dir)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "Valid (%d of %d)" % (len(SHIPPED), len(SHIPPED)) in run.stdout
    assert {"basic-container-chaos", "network-chaos", "resource-stress"} <= set(SHIPPED)


# ---------------------------------------------------------------------------------- running for real

def _assert_green(result, name):
    assert result["verdict"] == "PASS", (name, result["reason"], result)
    assert result["experiment"]["name"] == name and result["experiment"]["file"].endswith(name + ".yml")
    assert result["left_active_after_experiment"] == 0 and result["hit"], result
    assert all(row["held"] for row in result["hypothesis_checks"]), result["hypothesis_checks"]
    assert result["hypothesis_checks"], "every shipped experiment states a hypothesis with thresholds"


def test_every_shipped_experiment_runs_green_in_safe_mode(demo_stack, state_dir, tmp_path, record_property):
    """The whole catalogue in one run, in safe mode (the old framework's promise for its three experiments,
    kept for all of them: one target each, within every limit). Safe mode only adds refusals before the
    injection, so the run without it is the same fault; other tests run the lifecycle with it off."""
    restarts = state_of(demo_stack["redis"])["RestartCount"]
    run = playbook("run_experiment.yml", "-e", "experiment=all", "-e", "safe_mode=true", state_dir=state_dir,
                   report_dir=tmp_path, timeout=1200)
    assert run.returncode == 0, run.stdout[-5000:]
    found = results(tmp_path)
    assert sorted(found) == SHIPPED, sorted(found)
    for name, result in found.items():
        _assert_green(result, name)
        assert result["safe_mode"] is True and len(result["hit"]) == 1, name
        record_property("recovery_%s" % name, result["recovery_seconds"])
    assert active_entries(state_dir) == []
    # the crashes really happened on the engine: redis was restarted by its restart policy (two kills of it)
    assert state_of(demo_stack["redis"])["RestartCount"] >= restarts + 2
    # the timed faults went through this run's ledger and were all undone
    assert len(ledger_entries(state_dir)) >= len(SHIPPED) - 2


# ---------------------------------------------------------------------------------- dry run, abort

def test_check_mode_is_a_dry_run_of_the_whole_experiment(demo_stack, state_dir, tmp_path):
    before = engine_view(demo_stack)
    run = playbook("container_chaos.yml", "-e", "container_chaos_action=pause", "-e", "container_chaos_duration=5",
                   "-e", '{"container_chaos_services": ["backend"]}', state_dir=state_dir, check=True,
                   report_dir=tmp_path)
    assert run.returncode == 0, run.stdout[-4000:]
    flat = run.stdout.replace("\n        ", " ")
    assert "Would hit: sutazai-demo_backend_1 (services backend)" in flat, run.stdout[-3000:]
    assert "Watching: backend, frontend (http)" in flat and "Verdict" not in flat
    run = playbook("run_experiment.yml", "-e", "experiment=network-chaos", state_dir=state_dir, check=True,
                   report_dir=tmp_path)
    assert run.returncode == 0 and "Would hit: sutazai-demo_redis_1" in run.stdout, run.stdout[-4000:]
    assert ledger_entries(state_dir) == [] and audit_lines(state_dir) == []
    assert engine_view(demo_stack) == before and not result_paths(tmp_path)


def test_an_emergency_stop_aborts_with_a_complete_summary(demo_stack, state_dir, tmp_path):
    def stop_once_injected():
        active, _waited = wait_for(lambda: active_entries(state_dir), timeout=120)
        if active:
            run_module("chaos_emergency_stop", {"state_dir": str(state_dir), "reason": "test"})

    stopper = threading.Thread(target=stop_once_injected, daemon=True)
    stopper.start()
    started = time.time()
    run = playbook("network_chaos.yml", "-e", "network_chaos_duration=40", state_dir=state_dir, report_dir=tmp_path)
    stopper.join(timeout=10)
    assert run.returncode != 0, run.stdout[-4000:]
    assert time.time() - started < 40, "the stop did not end the experiment before the fault's deadline"
    (path,) = result_paths(tmp_path)
    result = json.load(open(path))
    assert result["verdict"] == "ABORTED", result
    lines = summary_lines_of(run.stdout)
    assert any(line.startswith("Verdict: ABORTED") for line in lines), lines
    for line in lines:
        assert not re.search(r"(-> ,|  s|: $|None|\d\.\d{3,})", line), line
    assert active_entries(state_dir) == []
    assert all(e["state"] == "reverted" for e in ledger_entries(state_dir))


# ---------------------------------------------------------------------------------- not every container is compose

@pytest.fixture
def shop(docker_client, prefix):
    """Two plain `docker run` containers: an HTTP api published on 127.0.0.1 and a cache, restart always."""
    labels = {RUN_LABEL: SESSION_TAG, "sct.prefix": prefix}
    api = docker_client.containers.run(IMAGE, ["python3", "-m", "http.server", "8000"], name=prefix + "shop-api",
                                       detach=True, labels=labels, restart_policy={"Name": "always"},
                                       ports={"8000/tcp": ("127.0.0.1", None)})
    cache = docker_client.containers.run(IMAGE, ["sleep", "infinity"], name=prefix + "shop-cache", detach=True,
                                         labels=labels, restart_policy={"Name": "always"})
    api.reload()
    port = int(api.attrs["NetworkSettings"]["Ports"]["8000/tcp"][0]["HostPort"])
    yield {"api": api, "cache": cache, "port": port, "api_name": prefix + "shop-api", "cache_name": prefix + "shop-cache"}
    for container in (api, cache):
        container.remove(force=True)


def shop_inventory(tmp_path, shop, health=True):
    checks = {shop["api_name"]: {"type": "http", "url": "http://127.0.0.1:%d/" % shop["port"]},
              shop["cache_name"]: {"type": "container", "container": shop["cache_name"], "max_restarts": 1000}}
    inventory = {"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                 "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
                         "vars": {"chaos_dependency_map": {shop["api_name"]: [shop["cache_name"]], shop["cache_name"]: []},
                                  "chaos_health_checks": checks if health else {},
                                  "chaos_protected_services": []}}}
    path = tmp_path / "shop.yml"
    path.write_text(json.dumps(inventory))
    return str(path)


def test_plain_containers_are_services_by_their_names(shop, state_dir, tmp_path):
    wait_for(lambda: subprocess.run(["python3", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:%d/', "
                                     "timeout=1)" % shop["port"]], capture_output=True, check=False).returncode == 0, timeout=15)
    restarts = state_of(shop["cache"])["RestartCount"]
    run = playbook("container_chaos.yml", "-e", "container_chaos_action=kill", "-e", "chaos_hosts=localhost",
                   "-e", json.dumps({"container_chaos_targets": {"names": [shop["cache_name"]]}}),
                   state_dir=state_dir, report_dir=tmp_path, inventory=shop_inventory(tmp_path, shop))
    assert run.returncode == 0, run.stdout[-4000:]
    (path,) = glob.glob(str(tmp_path / "container-kill-*.json"))
    result = json.load(open(path))
    assert result["hit"][0]["service"] == shop["cache_name"], result["hit"]
    assert sorted(result["watched"]) == sorted([shop["api_name"], shop["cache_name"]])
    assert result["verdict"] == "PASS" and result["recovered"], result
    assert state_of(shop["cache"])["RestartCount"] > restarts, "the kill did not crash the container"


def test_no_health_check_means_no_injection(shop, state_dir, tmp_path):
    before = state_of(shop["cache"])
    run = playbook("container_chaos.yml", "-e", "container_chaos_action=kill", "-e", "chaos_hosts=localhost",
                   "-e", json.dumps({"container_chaos_targets": {"names": [shop["cache_name"]]}}),
                   state_dir=state_dir, report_dir=tmp_path, inventory=shop_inventory(tmp_path, shop, health=False))
    assert run.returncode != 0
    flat = run.stdout.replace("\n        ", " ")
    assert "No health check covers any service the fault can reach (%s, %s)" % (shop["cache_name"], shop["api_name"]) \
        in flat, run.stdout[-3000:]
    after = state_of(shop["cache"])
    assert (after["RestartCount"], after["StartedAt"]) == (before["RestartCount"], before["StartedAt"])
    assert ledger_entries(state_dir) == []
