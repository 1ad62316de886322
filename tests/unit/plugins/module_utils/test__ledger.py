# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _ledger, _undo
from ansible_collections.sutazai.chaos.plugins.module_utils._ledger import (
    DONE_ENTRIES_KEPT,
    UNDO_MAX_ATTEMPTS,
    UNDO_RETRY_SECONDS,
    Ledger,
    LedgerError,
    UndoRefused,
    ensure_reaper,
    execute_undo,
    mark_applied,
    new_entry,
    process_alive,
    reap_once,
    reaper_running,
    revert_entries,
)

NOW = 1_000_000.0


class FakeRunner:
    """A ``run_argv`` that records calls and answers with a scripted return code."""

    def __init__(self, rc=0, err=""):
        self.rc, self.err, self.calls = rc, err, []

    def __call__(self, argv):
        self.calls.append(list(argv))
        return self.rc, "", self.err


def _tc_undo(device):
    """The undo network_chaos records for its tc tree on ``device``."""
    return [{"type": "argv", "argv": ["tc", "qdisc", "del", "dev", device, "root", "handle", "5a17:"], "ok_rc": [0]}]


def _entry(name, deadline=NOW - 1, applying=False, owner_pid=None, undo=None, state="active", **extra):
    entry = new_entry("exp-1", "container_pause", {"id": "id-" + name, "name": name}, {"action": "pause"},
                      undo if undo is not None else _tc_undo(name), 60)
    entry.update(deadline=deadline, applying=applying, state=state)
    if owner_pid is not None:
        entry["owner_pid"] = owner_pid
    entry.update(extra)
    return entry


def _add(ledger, *entries):
    with ledger.locked() as current:
        current.extend(entries)


def _by_name(ledger):
    return {e["target"]["name"]: e for e in ledger.entries(active_only=False)}


def _dead_pid():
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


@pytest.fixture
def ledger(tmp_path):
    return Ledger(str(tmp_path / "state"))


@pytest.fixture(autouse=True)
def fake_bin(tmp_path, monkeypatch):
    """Undo programs are looked up in _undo.PROGRAM_DIRS only: a folder of our own with a ``tc`` in it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    tc = folder / "tc"
    tc.write_text("#!/bin/sh\nexit 0\n")
    tc.chmod(0o755)
    monkeypatch.setattr(_undo, "PROGRAM_DIRS", (str(folder),))
    return folder


# ------------------------------------------------------------------ storage

def test_entries_persist_across_ledger_objects(ledger):
    entry = _entry("web")
    _add(ledger, entry)
    again = Ledger(ledger.state_dir)
    assert [e["id"] for e in again.entries()] == [entry["id"]]
    with open(again.path) as handle:
        data = json.load(handle)
    assert data["version"] == 1 and data["entries"][0]["id"] == entry["id"]
    assert oct(os.stat(ledger.state_dir).st_mode & 0o777) == "0o700"


def test_entries_filters(ledger):
    _add(ledger, _entry("a"), _entry("b", state="reverted"), dict(_entry("c"), experiment_id="exp-2"))
    assert sorted(e["target"]["name"] for e in ledger.entries()) == ["a", "c"]
    assert [e["target"]["name"] for e in ledger.entries(experiment_id="exp-2")] == ["c"]
    assert len(ledger.entries(active_only=False)) == 3


def test_entries_of_a_missing_ledger_is_empty_and_creates_nothing(ledger):
    assert ledger.entries() == []
    assert not os.path.exists(ledger.state_dir)


def test_locked_saves_only_on_change(ledger):
    with ledger.locked() as entries:
        assert entries == []
    assert not os.path.exists(ledger.path)  # nothing changed: nothing written

    _add(ledger, _entry("web"))
    inode = os.stat(ledger.path).st_ino  # a save replaces the file, so its inode changes
    with ledger.locked() as entries:
        assert len(entries) == 1
    assert os.stat(ledger.path).st_ino == inode

    with ledger.locked() as entries:
        entries[0]["attempts"] = 5
    assert os.stat(ledger.path).st_ino != inode
    assert ledger.entries()[0]["attempts"] == 5


def test_locked_does_not_save_when_the_body_raises(ledger):
    with pytest.raises(RuntimeError):
        with ledger.locked() as entries:
            entries.append(_entry("web"))
            raise RuntimeError("boom")
    assert ledger.entries() == []


@pytest.mark.parametrize("content", ["{not json", "", '{"entries": [1, 2'])
def test_corrupt_json_is_a_clear_error(ledger, content):
    ledger.ensure_dir()
    with open(ledger.path, "w") as handle:
        handle.write(content)
    with pytest.raises(LedgerError) as info:
        with ledger.locked():
            pass  # pragma: no cover
    msg = info.value.msg
    assert ledger.path in msg
    assert "unreadable" in msg and "move it aside" in msg and "audit.jsonl" in msg
    with open(ledger.path) as handle:
        assert handle.read() == content  # left as it was, for a human to inspect


@pytest.mark.parametrize("content", ["[]", '{"version": 1}', '{"entries": {}}', "42"])
def test_json_that_is_not_a_ledger_is_refused(ledger, content):
    ledger.ensure_dir()
    with open(ledger.path, "w") as handle:
        handle.write(content)
    with pytest.raises(LedgerError, match="is not a sutazai.chaos ledger"):
        ledger.entries()


def test_state_dir_under_a_file_is_a_ledger_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(LedgerError, match="cannot create the state directory"):
        Ledger(str(blocker / "state")).ensure_dir()


def test_audit_lines_are_appended(ledger):
    entry = _entry("web")
    ledger.audit("inject", entry, deadline=123)
    ledger.audit("revert", entry, by="test")
    with open(ledger.audit_path) as handle:
        lines = [json.loads(line) for line in handle]
    assert [line["event"] for line in lines] == ["inject", "revert"]
    assert lines[0]["entry_id"] == entry["id"] and lines[0]["deadline"] == 123
    assert lines[1]["by"] == "test" and lines[1]["target"] == {"id": "id-web", "name": "web"}
    assert all(line["experiment_id"] == "exp-1" and line["kind"] == "container_pause" for line in lines)


def test_stop_flag(ledger):
    ledger.ensure_dir()
    assert not ledger.stop_flag_set()
    open(os.path.join(ledger.state_dir, "emergency-stop"), "w").close()
    assert ledger.stop_flag_set()


def test_done_entries_are_trimmed(ledger):
    done = [_entry("done-%03d" % i, state="reverted" if i % 2 else "failed") for i in range(DONE_ENTRIES_KEPT + 7)]
    active = _entry("still-active")
    _add(ledger, done[0], active, *done[1:])
    kept = ledger.entries(active_only=False)
    assert len(kept) == DONE_ENTRIES_KEPT + 1
    assert active["id"] in {e["id"] for e in kept}
    kept_done = [e["target"]["name"] for e in kept if e["state"] != "active"]
    assert kept_done == [e["target"]["name"] for e in done[7:]]  # the oldest go first


# ------------------------------------------------------------------ entries

def test_new_entry_and_mark_applied(ledger, monkeypatch):
    monkeypatch.setattr(_ledger.time, "time", lambda: NOW)
    entry = new_entry("exp", "container_stop", {"id": "x", "name": "x"}, {"action": "stop"}, [], 30)
    assert entry["state"] == "active" and entry["applying"] is True and entry["attempts"] == 0
    assert entry["owner_pid"] == os.getpid()
    assert entry["deadline"] == NOW + 30
    assert new_entry("exp", "k", {}, {}, [], None)["deadline"] is None
    _add(ledger, entry)

    monkeypatch.setattr(_ledger.time, "time", lambda: NOW + 10)
    applied = mark_applied(ledger, entry["id"], 30)
    assert applied["applying"] is False and applied["deadline"] == NOW + 40  # counts from the apply
    assert ledger.entries()[0]["deadline"] == NOW + 40
    assert mark_applied(ledger, "no-such-id", 30) is None


def test_process_alive():
    assert process_alive(os.getpid())
    assert not process_alive(_dead_pid())
    assert not process_alive(None)


# ------------------------------------------------------------------ undo steps

def test_argv_undo_uses_the_runner_with_the_program_s_absolute_path(fake_bin):
    runner = FakeRunner()
    assert execute_undo(_entry("web"), runner) == ["done (rc 0)"]
    assert runner.calls == [[str(fake_bin / "tc"), "qdisc", "del", "dev", "web", "root", "handle", "5a17:"]]


def test_argv_undo_accepts_ok_rc():
    entry = _entry("web", undo=[dict(_tc_undo("web")[0], ok_rc=[0, 2])])
    assert execute_undo(entry, FakeRunner(rc=2)) == ["done (rc 2)"]


def test_argv_undo_failure_names_the_command():
    with pytest.raises(LedgerError, match=r"tc qdisc del dev web root handle 5a17: failed \(rc 1\): no such device"):
        execute_undo(_entry("web"), FakeRunner(rc=1, err="no such device\n"))


def test_argv_undo_without_runner():
    with pytest.raises(LedgerError, match="no command runner given for the undo of tc qdisc del dev web"):
        execute_undo(_entry("web"))


def test_argv_undo_of_a_program_that_is_not_there(fake_bin):
    (fake_bin / "tc").unlink()
    with pytest.raises(LedgerError, match="tc not found as a root-owned program in") as info:
        execute_undo(_entry("web"), FakeRunner())
    assert not isinstance(info.value, UndoRefused)  # a failure (retried), not a refusal


def test_unknown_undo_step_type():
    with pytest.raises(UndoRefused, match="unknown undo step type 'teleport'"):
        execute_undo(_entry("web", undo=[{"type": "teleport"}]))


class _FakeEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A tiny Docker Engine stand-in: answers from ``routes`` and records requests."""

    daemon_threads = True

    def __init__(self, path):
        self.routes, self.requests = {}, []
        super().__init__(path, _EngineHandler)


class _EngineHandler(http.server.BaseHTTPRequestHandler):
    def _answer(self):
        self.server.requests.append((self.command, self.path))
        status, body = self.server.routes.get((self.command, self.path), (404, {"message": "no such container"}))
        raw = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = _answer

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass


@pytest.fixture
def engine():
    folder = tempfile.mkdtemp(prefix="sc-")  # short: unix socket paths are limited to ~107 bytes
    server = _FakeEngine(os.path.join(folder, "docker.sock"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    shutil.rmtree(folder, ignore_errors=True)


def _api_entry(engine, expect_state=None):
    step = {"type": "docker_api", "docker_host": "unix://" + engine.server_address, "method": "POST",
            "path": "/containers/abc/unpause", "container": "abc", "ok_status": [204, 304]}
    if expect_state is not None:
        step["expect_state"] = expect_state
    return _entry("web", undo=[step])


def test_docker_api_undo_done(engine):
    engine.routes[("POST", "/containers/abc/unpause")] = (204, None)
    assert execute_undo(_api_entry(engine)) == ["done (HTTP 204)"]
    assert engine.requests == [("POST", "/containers/abc/unpause")]


def test_docker_api_undo_target_gone(engine):
    assert execute_undo(_api_entry(engine)) == ["target gone (HTTP 404): nothing to undo"]


def test_docker_api_undo_already_undone(engine):
    engine.routes[("POST", "/containers/abc/unpause")] = (409, {"message": "container is not paused"})
    engine.routes[("GET", "/containers/abc/json")] = (200, {"State": {"Paused": False, "Running": True}})
    assert execute_undo(_api_entry(engine, {"Paused": False})) == ["already undone (Paused=False)"]


def test_docker_api_undo_failure(engine):
    engine.routes[("POST", "/containers/abc/unpause")] = (500, {"message": "engine on fire"})
    engine.routes[("GET", "/containers/abc/json")] = (200, {"State": {"Paused": True}})
    with pytest.raises(LedgerError, match="POST /containers/abc/unpause answered HTTP 500: engine on fire"):
        execute_undo(_api_entry(engine, {"Paused": False}))


def test_docker_api_undo_engine_unreachable(tmp_path):
    step = {"type": "docker_api", "docker_host": "unix://%s/none.sock" % tmp_path, "path": "/containers/a/start"}
    with pytest.raises(LedgerError, match="undo of container_pause on web failed"):
        execute_undo(_entry("web", undo=[step]))


# ------------------------------------------------------------------ reap_once / revert_entries

def test_reap_once_undoes_only_due_entries(ledger):
    _add(
        ledger,
        _entry("due", deadline=NOW - 1),
        _entry("due-now", deadline=NOW),
        _entry("later", deadline=NOW + 1),
        _entry("no-deadline", deadline=None),
        _entry("already-reverted", deadline=NOW - 100, state="reverted"),
        _entry("waiting-retry", deadline=NOW - 10, retry_after=NOW + 1),
    )
    runner = FakeRunner()
    reverted, failed = reap_once(ledger, now=NOW, run_argv=runner)
    assert sorted(e["target"]["name"] for e in reverted) == ["due", "due-now"]
    assert failed == []
    assert sorted(call[4] for call in runner.calls) == ["due", "due-now"]
    states = {name: e["state"] for name, e in _by_name(ledger).items()}
    assert states == {"due": "reverted", "due-now": "reverted", "later": "active", "no-deadline": "active",
                      "already-reverted": "reverted", "waiting-retry": "active"}
    entry = _by_name(ledger)["due"]
    assert entry["reverted_by"] == "reaper" and entry["outcome"] == ["done (rc 0)"]
    with open(ledger.audit_path) as handle:
        assert sorted(json.loads(line)["event"] for line in handle) == ["revert", "revert"]

    assert reap_once(ledger, now=NOW, run_argv=runner) == ([], [])  # nothing is undone twice


def test_applying_entry_of_a_live_owner_is_left_alone(ledger):
    _add(ledger, _entry("mine", applying=True, owner_pid=os.getpid()))
    assert reap_once(ledger, now=NOW, run_argv=FakeRunner()) == ([], [])
    assert ledger.entries()[0]["state"] == "active"


def test_applying_entry_of_a_dead_owner_is_reaped(ledger):
    _add(ledger, _entry("orphan", applying=True, owner_pid=_dead_pid()))
    reverted, _failed = reap_once(ledger, now=NOW, run_argv=FakeRunner())
    assert [e["target"]["name"] for e in reverted] == ["orphan"]


def test_failed_undo_is_retried_then_marked_failed(ledger):
    _add(ledger, _entry("stuck"))
    runner = FakeRunner(rc=1, err="busy")
    reverted, failed = reap_once(ledger, now=NOW, run_argv=runner)
    assert reverted == [] and len(failed) == 1
    entry = ledger.entries()[0]
    assert entry["state"] == "active" and entry["attempts"] == 1
    assert "busy" in entry["last_error"]
    assert NOW < entry["retry_after"] <= time.time() + UNDO_RETRY_SECONDS  # retry_after uses the real clock

    # before retry_after: not due, not attempted
    assert reap_once(ledger, now=entry["retry_after"] - 0.01, run_argv=runner) == ([], [])
    assert len(runner.calls) == 1

    later = entry["retry_after"]
    for attempt in range(2, UNDO_MAX_ATTEMPTS + 1):
        with ledger.locked() as entries:
            entries[0]["retry_after"] = later  # skip the wait
        reap_once(ledger, now=later, run_argv=runner)
        entry = ledger.entries(active_only=False)[0]
        assert entry["attempts"] == attempt
        assert entry["state"] == ("failed" if attempt == UNDO_MAX_ATTEMPTS else "active")
    assert len(runner.calls) == UNDO_MAX_ATTEMPTS
    assert reap_once(ledger, now=later + 1000, run_argv=runner) == ([], [])  # failed is final
    with open(ledger.audit_path) as handle:
        events = [json.loads(line)["event"] for line in handle]
    assert events == ["revert_failed"] * UNDO_MAX_ATTEMPTS


def test_failed_undo_recovers_on_retry(ledger):
    _add(ledger, _entry("flaky"))
    reap_once(ledger, now=NOW, run_argv=FakeRunner(rc=1))
    retry_at = ledger.entries()[0]["retry_after"]
    reverted, failed = reap_once(ledger, now=retry_at, run_argv=FakeRunner())
    assert len(reverted) == 1 and failed == []
    assert _by_name(ledger)["flaky"]["attempts"] == 2


def test_revert_entries_uses_the_selector(ledger):
    _add(ledger, _entry("a", deadline=None), _entry("b", deadline=None))
    reverted, failed = revert_entries(ledger, lambda e: e["target"]["name"] == "b", "rollback", FakeRunner())
    assert [e["target"]["name"] for e in reverted] == ["b"] and failed == []
    assert _by_name(ledger)["b"]["reverted_by"] == "rollback"
    assert _by_name(ledger)["a"]["state"] == "active"


# ------------------------------------------------------------------ the reaper as a real process

def _wait_for(condition, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _reaper_pids(state_dir):
    """Pids of reaper processes started for this state dir (to clean up only what this test started)."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if b"sutazai_chaos_reaper._ledger" in argv and state_dir.encode() in argv:
            pids.append(int(pid))
    return pids


@pytest.fixture
def reaper_state(tmp_path):
    state_dir = str(tmp_path / "state")
    yield state_dir
    for pid in _reaper_pids(state_dir):
        os.kill(pid, signal.SIGTERM)


def test_reaper_process_undoes_at_the_deadline_and_exits(reaper_state):
    ledger = Ledger(reaper_state)
    marker = os.path.join(reaper_state, "undo-me")
    entry = _entry("web", deadline=time.time() + 1.0, undo=[{"type": "remove_file", "path": marker}])
    _add(ledger, entry)
    open(marker, "w").close()

    assert ensure_reaper(reaper_state) is True
    assert _wait_for(lambda: reaper_running(reaper_state), 3), "the reaper did not take its lock"
    assert ensure_reaper(reaper_state) is False  # one reaper per state dir
    assert os.path.exists(marker)  # not before the deadline

    assert _wait_for(lambda: not os.path.exists(marker), 3), "the reaper did not run the undo"
    assert _wait_for(lambda: not reaper_running(reaper_state), 3), "the reaper did not exit"
    assert _wait_for(lambda: not _reaper_pids(reaper_state), 3)
    done = Ledger(reaper_state).entries(active_only=False)[0]
    assert done["state"] == "reverted" and done["reverted_by"] == "reaper"
    package = os.path.join(reaper_state, "lib", "sutazai_chaos_reaper")
    for name, needle in (("_ledger.py", "def reaper_loop"), ("_undo.py", "def execute_undo"),
                         ("_trust.py", "def check_state_dir"), ("_audit.py", "def append")):
        with open(os.path.join(package, name)) as handle:
            assert needle in handle.read()
        assert os.stat(os.path.join(package, name)).st_mode & 0o777 == 0o600
    assert os.stat(package).st_mode & 0o777 == 0o700 and os.stat(os.path.dirname(package)).st_mode & 0o777 == 0o700
    assert not os.path.exists(os.path.join(package, "__pycache__"))  # run with -B: only checked sources count


def test_reaper_exits_at_once_when_nothing_has_a_deadline(reaper_state):
    ledger = Ledger(reaper_state)
    _add(ledger, _entry("forever", deadline=None))
    assert ensure_reaper(reaper_state) is True
    assert _wait_for(lambda: os.path.exists(os.path.join(reaper_state, "reaper.lock")), 3)
    assert _wait_for(lambda: not _reaper_pids(reaper_state), 3)
    assert not reaper_running(reaper_state)
    assert ledger.entries()[0]["state"] == "active"


def test_reaper_running_without_lock_file(tmp_path):
    assert reaper_running(str(tmp_path)) is False


# ------------------------------------------------------------------ the reaper does not obey a hand-edited ledger

def _write_by_hand(ledger, *entries):
    """A ledger edited outside the collection (no validation on the way in)."""
    ledger.ensure_dir()
    with open(ledger.path, "w") as handle:
        json.dump({"version": 1, "entries": list(entries)}, handle)


def _touch_entry(path, **extra):
    return dict(_entry("web"), undo=[{"type": "argv", "argv": ["touch", path]}], **extra)


def test_hand_edited_undo_is_refused_never_run_and_never_retried(ledger, tmp_path):
    touched = str(tmp_path / "touched")
    _write_by_hand(ledger, _touch_entry(touched), _entry("db"))
    runner = FakeRunner()
    reverted, failed = reap_once(ledger, now=NOW, run_argv=runner)
    assert [e["target"]["name"] for e in reverted] == ["db"]
    assert [e["target"]["name"] for e in failed] == ["web"]
    assert all("touch" not in " ".join(call) for call in runner.calls) and len(runner.calls) == 1
    assert not os.path.exists(touched)
    web = _by_name(ledger)["web"]
    assert web["state"] == "refused" and web["refused_by"] == "reaper"
    assert "program 'touch' is not one this collection runs" in web["refused_reason"]
    assert [e["id"] for e in ledger.refused()] == [web["id"]]
    with open(ledger.audit_path) as handle:
        events = [json.loads(line) for line in handle]
    refused = [e for e in events if e["event"] == "revert_refused"]
    assert len(refused) == 1 and refused[0]["entry_id"] == web["id"] and "touch" in refused[0]["error"]
    assert reap_once(ledger, now=NOW + 1000, run_argv=runner) == ([], [])  # refused is final
    assert len(runner.calls) == 1


def test_no_step_runs_when_one_step_of_the_entry_is_refused(ledger, tmp_path):
    ledger.ensure_dir()
    keep = os.path.join(ledger.state_dir, "fill-marker")
    open(keep, "w").close()
    entry = dict(_entry("web"), undo=[{"type": "remove_file", "path": keep},
                                      {"type": "argv", "argv": ["/tmp/evil/tc", "qdisc", "del", "dev", "x", "root"]}])
    _write_by_hand(ledger, entry)
    reverted, failed = reap_once(ledger, now=NOW, run_argv=FakeRunner())
    assert reverted == [] and "undo step 2" in failed[0]["refused_reason"] and "/tmp/evil/tc" in failed[0]["refused_reason"]
    assert os.path.exists(keep), "step 1 ran although step 2 was refused"


def test_recording_an_undo_the_reaper_would_refuse_is_refused(ledger, tmp_path):
    _add(ledger, _entry("kept"))
    before = open(ledger.path).read()
    with pytest.raises(LedgerError) as info:
        _add(ledger, _touch_entry(str(tmp_path / "x")))
    assert "refusing to record" in info.value.msg and info.value.msg.endswith("Nothing was changed.")
    assert open(ledger.path).read() == before


def test_a_lost_entry_that_would_be_refused_is_not_restored(ledger, tmp_path):
    good, bad = _entry("good", deadline=None), _touch_entry(str(tmp_path / "x"), deadline=None)
    ledger.ensure_dir()
    assert _ledger._restore_lost(ledger, {good["id"]: good, bad["id"]: bad}) == [good]
    assert [e["id"] for e in ledger.entries()] == [good["id"]]


def test_the_real_reaper_refuses_a_hand_edited_touch(reaper_state, tmp_path):
    ledger = Ledger(reaper_state)
    touched = str(tmp_path / "never")
    marker = os.path.join(reaper_state, "undo-me")
    _write_by_hand(ledger, _touch_entry(touched, deadline=time.time() + 0.3),
                   _entry("ok", deadline=time.time() + 0.3, undo=[{"type": "remove_file", "path": marker}]))
    open(marker, "w").close()
    assert ensure_reaper(reaper_state) is True
    assert _wait_for(lambda: not os.path.exists(marker), 5), "the reaper did not undo the valid entry"
    assert _wait_for(lambda: not _reaper_pids(reaper_state), 5), "the reaper did not exit"
    assert not os.path.exists(touched)
    assert {name: e["state"] for name, e in _by_name(ledger).items()} == {"web": "refused", "ok": "reverted"}
    with open(os.path.join(reaper_state, "reaper.log")) as handle:
        assert "refused to run the undo of entry" in handle.read()


# ------------------------------------------------------------------ the reaper's folder and program

def test_program_files_are_written_private_and_checked_before_a_start(tmp_path):
    state = str(tmp_path / "state")
    lib, digests = _ledger.install_program(state)
    assert sorted(digests) == ["__init__.py", "_audit.py", "_ledger.py", "_trust.py", "_undo.py", "_undo_app.py"]
    _ledger.verify_program(state, digests)
    undo = os.path.join(lib, "sutazai_chaos_reaper", "_undo.py")
    with open(undo, "a") as handle:
        handle.write("\nimport os; os.system('touch /tmp/owned')\n")
    with pytest.raises(LedgerError, match="_undo.py changed after it was written"):
        _ledger.verify_program(state, digests)
    _ledger.install_program(state)  # written again: passes again
    _ledger.verify_program(state, digests)
    os.chmod(undo, 0o644)
    with pytest.raises(LedgerError, match=r"_undo.py is not ours alone: .* readable or writable "
                                          r"by group and others \(mode 0644\)"):
        _ledger.verify_program(state, digests)
    os.chmod(undo, 0o600)
    os.mkdir(os.path.join(lib, "json"))  # would shadow the standard library's json
    with pytest.raises(LedgerError, match="holds json besides the reaper's program"):
        _ledger.verify_program(state, digests)


def test_an_older_install_is_tightened(tmp_path):
    state = tmp_path / "state"
    package = state / "lib" / "sutazai_chaos_reaper"
    package.mkdir(parents=True, mode=0o755)
    os.chmod(state, 0o700)
    os.chmod(state / "lib", 0o755)
    (package / "_ledger.py").write_text("old")
    os.chmod(package / "_ledger.py", 0o644)
    _lib, digests = _ledger.install_program(str(state))
    _ledger.verify_program(str(state), digests)
    assert os.stat(package / "_ledger.py").st_mode & 0o777 == 0o600


def test_nothing_is_installed_or_started_in_an_untrusted_folder(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o777)
    with pytest.raises(LedgerError, match=r"is writable by group and others \(mode 0777\).*Nothing was changed"):
        _ledger.spawn_detached(str(state), [str(state)], "reaper.log")
    assert os.listdir(state) == []


def test_the_reaper_does_not_start_in_an_untrusted_folder(tmp_path, capsys):
    state = tmp_path / "state"
    state.mkdir()
    os.chmod(state, 0o770)
    assert _ledger.reaper_loop(str(state)) == 2
    assert "is writable by group (mode 0770)" in capsys.readouterr().err
    assert os.listdir(state) == []
