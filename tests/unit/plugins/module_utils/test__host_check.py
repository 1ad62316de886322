# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _host_check
from ansible_collections.sutazai.chaos.plugins.module_utils._host_check import (
    FAIL,
    PASS,
    WARN,
    check_clock,
    check_engine,
    check_netem,
    check_protected,
    check_reaper,
    check_sdk,
    check_state_dir,
    check_tools,
    engine_facts,
    parse_engine_time,
    run_checks,
    summarize,
)

RELEASE = "6.1.0-28-amd64"
NOW_2026 = 1795000000.0  # 2026-11-18
PARAMS = dict(docker_host="unix:///nonexistent/docker.sock", tls=False, validate_certs=False, ca_path=None,
              client_cert=None, client_key=None, timeout=2, state_dir="/nonexistent/state", protected_services=[])


# ---------------------------------------------------------------- tools

@pytest.mark.parametrize("missing, needed_by", [
    ("tc", "network_chaos"),
    ("iptables", "network_chaos"),
    ("nsenter", "container network faults"),
    ("stress-ng", "resource_stress"),
])
def test_a_missing_tool_fails_naming_what_needs_it(missing, needed_by):
    rows = check_tools(lambda name: None if name == missing else "/usr/bin/" + name)
    by_check = {r["check"]: r for r in rows}
    assert [r["check"] for r in rows] == ["tool tc", "tool iptables", "tool nsenter", "tool stress-ng"]
    failed = by_check["tool " + missing]
    assert failed["status"] == FAIL
    assert missing in failed["detail"] and needed_by in failed["detail"]
    assert all(r["status"] == PASS for r in rows if r is not failed)


# ---------------------------------------------------------------- sch_netem

def _kernel(tmp_path, loaded=False, builtin=None, dep=None):
    sys_module = tmp_path / "sys-module"
    sys_module.mkdir()
    if loaded:
        (sys_module / "sch_netem").mkdir()
    modules = tmp_path / "lib-modules"
    for name, text in (("modules.builtin", builtin), ("modules.dep", dep)):
        if text is not None:
            (modules / RELEASE).mkdir(parents=True, exist_ok=True)
            (modules / RELEASE / name).write_text(text)
    return str(sys_module), str(modules)


@pytest.mark.parametrize("layout, modprobe_rc, status, says", [
    (dict(loaded=True), None, PASS, "loaded"),
    (dict(builtin="kernel/net/sched/sch_netem.ko\n"), None, PASS, "built into"),
    (dict(builtin="", dep="kernel/net/sched/sch_netem.ko.xz: \nkernel/net/sched/sch_tbf.ko.xz:\n"), None, PASS,
     "module available"),
    (dict(builtin="", dep="kernel/net/sched/sch_netem.ko: kernel/lib/x.ko\n"), None, PASS, "module available"),
    (dict(builtin="", dep="kernel/net/sched/sch_netem_extra.ko:\nkernel/net/sched/sch_htb.ko:\n"), 0, WARN,
     "no sch_netem in"),
    (dict(), 0, PASS, "modprobe -n finds it"),
    (dict(), 1, WARN, "modprobe -n does not find it"),
    (dict(), None, WARN, "no module list"),
])
def test_netem_is_looked_up_without_loading_anything(tmp_path, layout, modprobe_rc, status, says):
    sys_module, modules = _kernel(tmp_path, **layout)
    calls = []

    def run_argv(argv):
        calls.append(argv)
        return modprobe_rc, "", ""

    got = check_netem(sys_module, modules, RELEASE, modprobe="/sbin/modprobe" if modprobe_rc is not None else None,
                      run_argv=run_argv)
    assert got["status"] == status and says in got["detail"], got
    # modprobe runs only as a dry run, and only when there is no module list to read
    assert all(argv == ["/sbin/modprobe", "-n", "sch_netem"] for argv in calls)
    if layout:
        assert not calls
    if status == WARN:
        for refused in ("delay", "jitter", "duplicate", "corrupt", "reorder", "iptables statistic", "tbf"):
            assert refused in got["detail"]


# ---------------------------------------------------------------- the state folder

def test_state_dir_existing_and_writable(tmp_path):
    assert check_state_dir(str(tmp_path))["status"] == PASS


@pytest.mark.parametrize("below", ["state", "a/b/state"])
def test_state_dir_missing_under_a_writable_parent_will_be_created(tmp_path, below):
    path = tmp_path / below
    got = check_state_dir(str(path))
    assert got["status"] == WARN and "will be created" in got["detail"] and str(tmp_path) in got["detail"]
    assert not path.exists() and list(tmp_path.iterdir()) == []  # nothing was made


def test_state_dir_that_is_a_file_fails(tmp_path):
    (tmp_path / "state").write_text("")
    assert check_state_dir(str(tmp_path / "state"))["status"] == FAIL
    got = check_state_dir(str(tmp_path / "state" / "below"))
    assert got["status"] == FAIL and "not a folder" in got["detail"]


@pytest.mark.parametrize("exists", [True, False])
@pytest.mark.parametrize("read_only", [True, False])
def test_state_dir_not_writable_fails_and_says_why(tmp_path, monkeypatch, exists, read_only):
    path = tmp_path / "state"
    if exists:
        path.mkdir()
    monkeypatch.setattr(_host_check.os, "access", lambda p, mode: False)
    if read_only:
        class ReadOnly:
            f_flag = os.ST_RDONLY
        monkeypatch.setattr(_host_check.os, "statvfs", lambda p: ReadOnly())
    got = check_state_dir(str(path))
    assert got["status"] == FAIL and "not writable" in got["detail"]
    assert ("read-only filesystem" in got["detail"]) == read_only


def test_state_dir_with_a_nul_byte_fails():
    assert check_state_dir("/var/lib/a\0b")["status"] == FAIL


# ---------------------------------------------------------------- the reaper trial

def test_reaper_trial_starts_undoes_exits_and_leaves_nothing(tmp_path):
    got = check_reaper(sys.executable, parent=str(tmp_path))
    assert got["status"] == PASS, got
    assert "undid a trial entry" in got["detail"]
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone


def test_reaper_trial_without_a_temporary_folder_fails(tmp_path):
    got = check_reaper(sys.executable, parent=str(tmp_path / "missing"))
    assert got["status"] == FAIL and "temporary folder" in got["detail"]


def test_reaper_trial_with_a_python_that_cannot_run_fails_and_cleans_up(tmp_path):
    got = check_reaper(str(tmp_path / "no-python"), parent=str(tmp_path))
    assert got["status"] == FAIL, got
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- the clock

@pytest.mark.parametrize("text, expected", [
    ("2026-11-18T14:13:20Z", 1795011200.0),
    ("2026-11-18T14:13:20.5Z", 1795011200.5),
    ("2026-11-18T14:13:20.123456789Z", 1795011200.123456789),
    ("2026-11-18T15:13:20+01:00", 1795011200.0),
    ("2026-11-18T09:13:20.25-05:00", 1795011200.25),
    ("", None),
    (None, None),
    ("yesterday", None),
    ("2026-11-18 14:13:20", None),
])
def test_parse_engine_time(text, expected):
    got = parse_engine_time(text)
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-6))


@pytest.mark.parametrize("now, engine, asked_at, status, says", [
    (NOW_2026, None, None, PASS, "no engine time"),
    (NOW_2026, "2026-11-18T14:13:20Z", 1795011200.4, PASS, "within 0.40 s"),
    (NOW_2026, "2026-11-18T14:13:20Z", 1795011210.0, WARN, "10.0 s ahead of"),
    (NOW_2026, "2026-11-18T14:13:20Z", 1795011190.0, WARN, "10.0 s behind"),
    (NOW_2026, "not a time", None, PASS, "no engine time"),
    (1700000000.0, None, None, FAIL, "outside 2024-2100"),  # 2023
    (4200000000.0, None, None, FAIL, "outside 2024-2100"),  # 2103
    (0.0, "2026-11-18T14:13:20Z", 0.0, FAIL, "1970"),
])
def test_clock(now, engine, asked_at, status, says):
    got = check_clock(now, engine, asked_at)
    assert got["status"] == status and says in got["detail"], got


# ---------------------------------------------------------------- engine and SDK

@pytest.mark.parametrize("facts, status, says", [
    (dict(answers=True, sdk=True, version="20.10.24", api_version="1.41", error=None), PASS, "Docker 20.10.24, API 1.41"),
    (dict(answers=True, sdk=False, version="20.10.24", api_version="1.41", error=None), FAIL, "without the Docker SDK"),
    (dict(answers=False, sdk=True, version=None, api_version=None, error="no socket"), FAIL, "no socket"),
    (dict(answers=False, sdk=False, version=None, api_version=None, error=None), FAIL, "does not answer"),
])
def test_engine_row(facts, status, says):
    got = check_engine(facts, "unix:///var/run/docker.sock")
    assert got["status"] == status and says in got["detail"]


def test_engine_that_does_not_answer_is_a_fact_not_an_exception():
    facts = engine_facts(PARAMS)
    assert facts["answers"] is False and facts["client"] is None
    assert "/nonexistent/docker.sock" in facts["error"] and "Nothing was changed" not in facts["error"]


@pytest.mark.parametrize("has_docker, status, says", [
    (True, PASS, "docker 7.1.0, imported by /usr/bin/python3 (Python 3.11.2)"),
    (False, FAIL, "not importable by /usr/bin/python3 (Python 3.11.2) (ModuleNotFoundError: No module named 'docker')"),
])
def test_sdk_row(has_docker, status, says):
    error = "Traceback...\nModuleNotFoundError: No module named 'docker'\n"
    got = check_sdk(has_docker, "7.1.0", "/usr/bin/python3", "3.11.2", None if has_docker else error)
    assert got["status"] == status and says in got["detail"]


# ---------------------------------------------------------------- protected services

def _container(name, status="running", labels=None):
    labels = labels or {}
    return {"name": name, "status": status, "labels": labels,
            "compose_service": labels.get("com.docker.compose.service")}


CONTAINERS = [
    _container("demo_postgres_1", labels={"com.docker.compose.service": "postgres"}),
    _container("vault-7", labels={"sutazai.chaos.service": "vault"}),
    _container("ldap"),
    _container("old-cache", status="exited", labels={"sutazai.chaos.service": "cache"}),
]


@pytest.mark.parametrize("service, status, says", [
    ("postgres", PASS, "demo_postgres_1"),       # compose service label
    ("vault", PASS, "vault-7"),                  # sutazai.chaos.service label
    ("ldap", PASS, "ldap"),                      # the container name
    ("cache", WARN, "old-cache (exited)"),
    ("demo_postgres_1", FAIL, "no container"),  # a labelled container's name is not its service
    ("mysql", FAIL, "no container"),
])
def test_protected_service_rows(service, status, says):
    (got,) = check_protected([service], CONTAINERS)
    assert got["check"] == "protected service " + service
    assert got["status"] == status and says in got["detail"]


def test_protected_services_without_an_engine_fail_each():
    rows = check_protected(["a", "b"], None, "the engine at X does not answer")
    assert [r["status"] for r in rows] == [FAIL, FAIL] and "does not answer" in rows[0]["detail"]
    assert check_protected([], None) == []


# ---------------------------------------------------------------- summary and the whole run

@pytest.mark.parametrize("statuses, passed, warned, failed, rate, ok", [
    ([PASS, PASS, WARN], 2, 1, 0, 0.667, True),
    ([PASS, FAIL], 1, 0, 1, 0.5, False),
    ([WARN], 0, 1, 0, 0.0, True),
    ([], 0, 0, 0, 0.0, True),
])
def test_summarize(statuses, passed, warned, failed, rate, ok):
    got = summarize([{"check": str(i), "status": s, "detail": ""} for i, s in enumerate(statuses)])
    assert (got["passed"], got["warned"], got["failed_checks"], got["pass_rate"], got["ok"]) == \
        (passed, warned, failed, rate, ok)
    assert "failed" not in got  # Ansible would read it as the task's failure


def test_run_checks_without_an_engine_reports_rows_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(_host_check.tempfile, "tempdir", str(tmp_path))
    params = dict(PARAMS, state_dir=str(tmp_path / "state"), protected_services=["postgres"])
    got = run_checks(params, lambda name: None if name in ("stress-ng", "modprobe") else "/usr/sbin/" + name,
                     lambda argv: (1, "", ""), python=sys.executable)
    checks = [r["check"] for r in got["checks"]]
    assert checks == ["docker engine", "docker sdk", "tool tc", "tool iptables", "tool nsenter", "tool stress-ng",
                      "sch_netem", "state folder", "reaper", "clock", "protected service postgres"]
    status = {r["check"]: r["status"] for r in got["checks"]}
    assert status["docker engine"] == FAIL and status["tool stress-ng"] == FAIL
    assert status["protected service postgres"] == FAIL and status["reaper"] == PASS
    assert status["state folder"] == WARN and not (tmp_path / "state").exists()
    assert got["ok"] is False and got["failed_checks"] == 3
    assert list(tmp_path.iterdir()) == []
