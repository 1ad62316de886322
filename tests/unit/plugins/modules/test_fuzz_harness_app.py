# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fuzz harness's stubs for http_chaos and dns_chaos see what they must: a valid call's sidecar start and nat
rules are recorded as effects (so "a refused input changes nothing" is a real check for these modules), check mode
records none, and a sidecar that would die on its config makes the run count as "changed something, then failed".
"""

from __future__ import annotations

import pytest

from _fuzz_harness import run_module

VALID = {
    "http_chaos": {"targets": {"names": ["worker-a"]}, "port": 8080, "delay_ms": 100, "duration": 5},
    "dns_chaos": {"targets": {"names": ["worker-a"]}, "names": ["redis"], "answer": "nxdomain", "duration": 5},
}


def _nat_verbs(run):
    return [argv[argv.index("nat") + 1] for argv in run.commands if "nat" in argv]


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_call_records_sidecar_and_rules(name):
    run = run_module(name, VALID[name])
    try:
        assert run.outcome == "exit", run.result
        assert [e[0] for e in run.effects if e[0] == "sidecar"] == ["sidecar"]
        assert {"-N", "-A", "-I"} <= set(_nat_verbs(run))
        assert len(run.active_entries()) == 1
    finally:
        run.cleanup()


@pytest.mark.parametrize("name", sorted(VALID))
def test_check_mode_records_nothing(name):
    run = run_module(name, dict(VALID[name], _ansible_check_mode=True))
    try:
        assert run.outcome == "exit", run.result
        assert not run.mutations()
        assert not run.active_entries()
    finally:
        run.cleanup()


def test_sidecar_dying_on_its_config_is_a_change_then_failure(monkeypatch):
    """What the harness detects for a config the module accepts and the proxy cannot use."""
    import _fuzz_harness  # pylint: disable=import-outside-toplevel

    def dies(config):
        raise TypeError("the proxy cannot use this config")

    monkeypatch.setitem(_fuzz_harness.SIDECAR_STARTS, "_http_proxy", dies)
    run = run_module("http_chaos", VALID["http_chaos"])
    try:
        assert run.outcome == "fail"
        assert "sidecar exited before it listened" in run.result["msg"]
        assert ("sidecar died", "TypeError('the proxy cannot use this config')") in run.effects
        assert not run.active_entries()  # rolled back, but it had changed things: the fuzz property flags it
        assert run.mutations()
    finally:
        run.cleanup()


def test_absent_removes_leftover_chains_and_responders():
    run = run_module("dns_chaos", {"targets": {"names": ["worker-a"]}, "state": "absent"})
    try:
        assert run.outcome == "exit", run.result
        assert run.result["leftovers"][0]["chains"] == ["SZC-abcdef0123-D"]
        assert _nat_verbs(run).count("-X") == 1
        assert [e[0] for e in run.effects] == ["kill"]
    finally:
        run.cleanup()
