# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Not every container is a compose service: plain ``docker run`` containers have a service name too.

Its compose service, else its ``sutazai.chaos.service`` label, else its container name.
"""

from __future__ import annotations

import time

import pytest

from conftest import active_entries, ledger_entries, run_module, run_modules, state_of, wait_for

SERVICE_LABEL = "sutazai.chaos.service"


@pytest.fixture
def plain_pair(containers):
    """Two ``docker run`` containers without compose labels; the second is labelled service ``cache``."""
    plain = containers("plain")
    cache = containers("cache-x", labels={SERVICE_LABEL: "cache"})
    for container in (plain, cache):
        assert not any(k.startswith("com.docker.compose.") for k in container.labels), container.labels
    return plain, cache


def _ours(prefix):
    # ANDed with every selector below: only this test's containers, whatever else on the engine is "cache".
    return {"sct.prefix": prefix}


def test_plain_container_by_name_is_its_own_service_and_the_pause_expires(plain_pair, state_dir):
    plain, cache = plain_pair
    rc, result = run_module("container_chaos", {"action": "pause", "duration": 2, "state_dir": str(state_dir),
                                                "targets": {"names": [plain.name]}})
    assert rc == 0, result
    [hit] = result["containers"]
    assert (hit["name"], hit["service"], hit["compose_service"]) == (plain.name, plain.name, None)
    assert state_of(plain)["Paused"] is True
    assert state_of(cache)["Paused"] is False
    [entry] = active_entries(state_dir)
    assert entry["target"]["service"] == plain.name

    assert hit["deadline"] - time.time() <= 2
    unpaused, waited = wait_for(lambda: not state_of(plain)["Paused"], timeout=8, interval=0.1)
    assert unpaused, "still paused %.1f s after the module returned" % waited
    assert time.time() >= hit["deadline"], "unpaused before the deadline"
    assert state_of(plain)["Running"]
    wait_for(lambda: not active_entries(state_dir), timeout=3)
    assert [e["state"] for e in ledger_entries(state_dir)] == ["reverted"]


def test_services_selector_picks_the_labelled_container(plain_pair, prefix, state_dir):
    plain, cache = plain_pair
    args = {"action": "pause", "duration": 2, "state_dir": str(state_dir),
            "targets": {"services": ["cache"], "labels": _ours(prefix)}}
    rc, result = run_module("container_chaos", args)
    assert rc == 0, result
    assert [(c["name"], c["service"], c["compose_service"]) for c in result["containers"]] == \
        [(cache.name, "cache", None)]
    assert result["selection"]["matched"] == [cache.name]
    assert state_of(cache)["Paused"] is True
    assert state_of(plain)["Paused"] is False
    unpaused, _waited = wait_for(lambda: not state_of(cache)["Paused"], timeout=8, interval=0.1)
    assert unpaused, "the labelled container is still paused after its deadline"
    wait_for(lambda: not active_entries(state_dir), timeout=3)


def test_protected_service_refuses_the_labelled_container(plain_pair, prefix, state_dir):
    plain, cache = plain_pair
    base = {"action": "pause", "duration": 2, "state_dir": str(state_dir), "protected": ["cache"]}
    by_name, by_service, by_label = run_modules([
        {"module": "container_chaos", "args": dict(base, targets={"names": [cache.name]})},
        {"module": "container_chaos", "args": dict(base, targets={"services": ["cache"], "labels": _ours(prefix)})},
        {"module": "container_chaos", "args": dict(base, targets={"labels": _ours(prefix)})},
    ], state_dir)
    for refused in (by_name, by_service):
        assert refused.get("failed") is True, refused
        assert "%s is protected" % cache.name in refused["msg"], refused["msg"]
        assert "Nothing was changed" in refused["msg"], refused["msg"]
    # Matched by a label rather than named: the protected service is skipped, the plain one paused.
    assert by_label.get("failed") is not True, by_label
    assert [c["name"] for c in by_label["containers"]] == [plain.name]
    assert by_label["selection"]["protected_skipped"] == [cache.name]
    assert state_of(cache)["Paused"] is False
    unpaused, _waited = wait_for(lambda: not state_of(plain)["Paused"], timeout=8, interval=0.1)
    assert unpaused
    wait_for(lambda: not active_entries(state_dir), timeout=3)
