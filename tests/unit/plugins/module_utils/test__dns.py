# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_dns: validation of the fault (bad input is refused, nothing applied), the upstream from resolv.conf, the
recorded undo the ledger accepts, leftovers found by name."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _dns, _sidecar
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._undo import validate_undo

import spawned  # noqa: I001


def params(**overrides):
    base = {"names": ["api.test"], "answer": "nxdomain", "address": None, "delay_ms": None, "percent": 100.0,
            "seed": None}
    base.update(overrides)
    return base


def test_a_valid_spec():
    assert _dns.validate(params(answer="address", address=" 192.0.2.7 ", percent=50, seed="s")) == \
        {"names": ["api.test"], "answer": "address", "address": "192.0.2.7", "delay_ms": None, "percent": 50.0,
         "seed": "s"}
    assert _dns.validate(params(answer="delay", delay_ms=250))["delay_ms"] == 250
    assert _dns.validate(params(answer="address", address="2001:DB8::1"))["address"] == "2001:db8::1"


@pytest.mark.parametrize("overrides, words", [
    ({"percent": 101}, "percent must be between 0 and 100"),
    ({"percent": -1}, "percent must be between 0 and 100"),
    ({"names": []}, "names must be a non-empty list"),
    ({"names": ["ok", " "]}, "names must be a non-empty list"),
    ({"names": ["n%d" % i for i in range(65)]}, "at most 64"),
    ({"answer": "refused"}, "answer must be one of"),
    ({"answer": "address"}, "needs address"),
    ({"answer": "address", "address": "not-an-ip"}, "needs address"),
    ({"answer": "address", "address": "192.0.2.300"}, "needs address"),
    ({"answer": "delay"}, "needs delay_ms between 1 and 30000"),
    ({"answer": "delay", "delay_ms": 0}, "needs delay_ms between 1 and 30000"),
    ({"answer": "delay", "delay_ms": 30001}, "needs delay_ms between 1 and 30000"),
    ({"address": "192.0.2.1"}, "address is only used with answer=address"),
    ({"delay_ms": 10}, "delay_ms is only used with answer=delay"),
])
def test_bad_input_is_refused_and_says_nothing_changed(overrides, words):
    with pytest.raises(ChaosError) as caught:
        _dns.validate(params(**overrides))
    assert words in caught.value.msg and "Nothing was changed" in caught.value.msg


@pytest.mark.parametrize("text, expected", [
    ("nameserver 172.17.0.3\nnameserver 10.0.0.1\n", "172.17.0.3"),
    ("# generated\nsearch x\noptions ndots:0\nnameserver 127.0.0.11\n", "127.0.0.11"),
    ("nameserver bogus\nnameserver 192.0.2.53\n", "192.0.2.53"),
])
def test_upstream_is_the_first_nameserver(monkeypatch, tmp_path, text, expected):
    root = tmp_path / "proc" / "42" / "root" / "etc"
    root.mkdir(parents=True)
    (root / "resolv.conf").write_text(text)
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(
        str(path).replace("/proc/", str(tmp_path) + "/proc/", 1), *a, **k))
    assert _dns.upstream_of({"pid": 42, "name": "c"}) == expected


def test_steering_is_narrowed_to_a_resolver_on_loopback():
    assert _dns.steered_destination("127.0.0.11") == "127.0.0.11"
    assert _dns.steered_destination("172.17.0.3") is None


@pytest.mark.parametrize("text, words", [("search x\n", "names no nameserver"),
                                         ("nameserver fe80::1%eth0\n", "IPv6 address")])
def test_no_usable_nameserver_is_an_error(monkeypatch, tmp_path, text, words):
    (tmp_path / "resolv.conf").write_text(text)
    real_open = open
    monkeypatch.setattr("builtins.open", lambda path, *a, **k: real_open(str(tmp_path / "resolv.conf"), *a, **k))
    with pytest.raises(ChaosError, match="%s.*Nothing was changed" % words):
        _dns.upstream_of({"pid": 42, "name": "c"})


def test_the_host_namespace_is_refused():
    with pytest.raises(ChaosError, match="shares the host's network namespace"):
        _dns.require_own_netns({"pid": os.getpid(), "name": "hostnet"})


def test_the_recorded_undo_is_one_the_ledger_accepts(tmp_path):
    container = {"pid": os.getpid(), "id": "0123456789ab", "name": "c"}
    marker = _sidecar.new_marker()
    chain = _sidecar.nat_chain(marker, _dns.CHAIN_SUFFIX)
    undo = _sidecar.undo_steps(container, _sidecar.nat_remove_commands(chain, _dns.HOOK), marker,
                               _dns._dns_responder)
    validate_undo({"kind": "dns_chaos", "target": {"name": "c"}, "undo": undo, "created": 1.0}, str(tmp_path))
    assert undo[0]["argv"][-3:] == ["OUTPUT", "-j", chain] and undo[-1]["type"] == "signal"
    assert undo[-1]["expect_cmd"] == "sutazai_chaos_reaper._dns_responder"


def test_our_chains_are_found_by_name():
    save = "\n".join(["-P OUTPUT ACCEPT", "-N DOCKER_OUTPUT", "-N SZC-0123456789-D", "-N SZC-abcdef0123-H",
                      "-A OUTPUT -j SZC-0123456789-D", "-A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT"])
    assert _dns.our_chains(save) == ["SZC-0123456789-D"]


def test_leftover_responders_are_found_in_the_namespace_and_ended():
    fake = spawned.started([sys.executable, "-c", "import time; time.sleep(60)", "-m",
                            "sutazai_chaos_reaper._dns_responder"])
    try:
        assert fake.pid in _dns.responders_in({"pid": os.getpid()})
        _dns.end_responders([fake.pid])
        assert fake.wait(timeout=5) == -15
        assert fake.pid not in _dns.responders_in({"pid": os.getpid()})
    finally:
        fake.kill()
        fake.wait()
