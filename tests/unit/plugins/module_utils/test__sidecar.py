# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_sidecar: a real detached program started through nsenter, found by its marker, ended by its recorded undo."""

from __future__ import annotations

import os
import socket
import time

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _sidecar
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._undo import execute_undo, marked_processes, validate_undo

import sidecar_echo  # noqa: I001

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="nsenter and a state folder owned by root need root")


def test_a_sidecar_starts_listens_and_its_recorded_undo_ends_it(tmp_path):
    state_dir = str(tmp_path / "state")
    own = {"pid": os.getpid(), "id": "0123456789ab", "name": "self"}  # our own network namespace
    port = _sidecar.free_port(own["pid"], "tcp")
    marker = _sidecar.new_marker()
    chain = _sidecar.nat_chain(marker, "H")
    undo = _sidecar.undo_steps(own, _sidecar.nat_remove_commands(chain, "PREROUTING"), marker, sidecar_echo)
    entry = {"kind": "http_chaos", "target": {"name": "self"}, "undo": undo, "created": time.time()}
    validate_undo(entry, state_dir)  # the ledger would accept it, before anything starts
    _sidecar.start_sidecar(state_dir, own, sidecar_echo, {"port": port}, marker, port, "tcp")
    assert _sidecar.listening(own["pid"], port, "tcp")
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(b"ping")
        assert conn.recv(10) == b"ping"
    pids = marked_processes("SUTAZAI_CHAOS_MARK=" + marker)
    assert len(pids) == 1
    with open("/proc/%d/cmdline" % pids[0], "rb") as handle:
        assert b"sutazai_chaos_reaper.sidecar_echo" in handle.read()

    def run(argv):  # the chain was never created: the undo must take "already gone" as done
        import subprocess
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr
    outcomes = execute_undo(entry, run, state_dir)
    assert outcomes[-1].startswith("1 process(es) ended")
    end = time.monotonic() + 5  # the socket goes with the process's exit, which the undo may see first
    while _sidecar.listening(own["pid"], port, "tcp") and time.monotonic() < end:
        time.sleep(0.02)
    assert not _sidecar.listening(own["pid"], port, "tcp")
    assert marked_processes("SUTAZAI_CHAOS_MARK=" + marker) == []


def test_redirect_rules_skip_the_sidecar_s_own_traffic():
    rule = _sidecar.redirect_rule("tcp", 80, 21000, destination="172.17.0.5")
    assert rule == ["-p", "tcp", "-d", "172.17.0.5", "--dport", "80", "-m", "mark", "!", "--mark",
                    str(_sidecar.PASS_MARK), "-j", "REDIRECT", "--to-ports", "21000"]
    cmds = _sidecar.nat_install_commands("SZC-abc-H", "PREROUTING", [rule])
    assert cmds[0][-2:] == ["-N", "SZC-abc-H"] and cmds[-1][-5:] == ["-I", "PREROUTING", "1", "-j", "SZC-abc-H"]


def test_a_sidecar_that_dies_at_once_is_reported_with_its_last_words_not_as_a_timeout(tmp_path):
    state_dir = str(tmp_path / "state")
    own = {"pid": os.getpid(), "id": "0123456789ab", "name": "self"}
    port = _sidecar.free_port(own["pid"], "tcp")
    started = time.monotonic()
    with pytest.raises(ChaosError) as raised:
        _sidecar.start_sidecar(state_dir, own, sidecar_echo, {"no_port": port}, _sidecar.new_marker(), port, "tcp")
    assert time.monotonic() - started < _sidecar.START_TIMEOUT_SECONDS / 2, "it waited for a dead sidecar"
    assert "sidecar exited before it listened on tcp port %d" % port in raised.value.msg, raised.value.msg
    assert "KeyError: 'port'" in raised.value.msg, raised.value.msg
