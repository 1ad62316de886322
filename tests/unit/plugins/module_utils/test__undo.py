"""Undo steps that need no engine: signal (by environment marker), remove_file, write_file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._undo import LedgerError, execute_undo


def _entry(*steps):
    return {"kind": "test", "target": {"name": "t"}, "undo": list(steps)}


def _alive(proc):
    return proc.poll() is None


def test_signal_ends_only_the_marked_processes():
    marker = "SUTAZAI_CHAOS_MARK=%s" % os.urandom(4).hex()
    key, value = marker.split("=")
    marked = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"], env=dict(os.environ, **{key: value}))
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        outcome = execute_undo(_entry({"type": "signal", "marker": marker, "expect_cmd": "time.sleep"}))
        marked.wait(timeout=3)
        assert not _alive(marked)
        assert _alive(other), "a process without the marker was signalled"
        assert "ended (SIGTERM)" in outcome[0]
        # nothing left: the same undo again is a no-op
        assert execute_undo(_entry({"type": "signal", "marker": marker}))[0] == "no process of ours left"
    finally:
        for proc in (marked, other):
            if _alive(proc):
                proc.kill()
            proc.wait()


def test_signal_kills_what_ignores_sigterm():
    marker = "SUTAZAI_CHAOS_MARK=%s" % os.urandom(4).hex()
    key, value = marker.split("=")
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)"
    stubborn = subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, **{key: value}))
    time.sleep(0.3)  # let it install its handler
    try:
        started = time.monotonic()
        outcome = execute_undo(_entry({"type": "signal", "marker": marker}))
        stubborn.wait(timeout=3)
        assert "SIGKILL" in outcome[0]
        assert time.monotonic() - started < 4
    finally:
        if _alive(stubborn):
            stubborn.kill()
        stubborn.wait()


def test_remove_file_and_write_file(tmp_path):
    fill = tmp_path / "fill.bin"
    fill.write_bytes(b"x" * 10)
    knob = tmp_path / "knob"
    knob.write_text("254:0 2097152")
    outcomes = execute_undo(_entry({"type": "remove_file", "path": str(fill)},
                                   {"type": "write_file", "path": str(knob), "content": "254:0 0"}))
    assert not fill.exists() and knob.read_text() == "254:0 0"
    assert outcomes[0].startswith("removed")
    again = execute_undo(_entry({"type": "remove_file", "path": str(fill)},
                                {"type": "write_file", "path": str(tmp_path / "gone" / "knob"), "content": "0"}))
    assert "already gone" in again[0] and "gone" in again[1]


def test_unknown_step_is_an_error():
    with pytest.raises(LedgerError, match="unknown undo step type 'teleport'"):
        execute_undo(_entry({"type": "teleport"}))
