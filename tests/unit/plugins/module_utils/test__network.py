# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._docker import list_containers
from ansible_collections.sutazai.chaos.plugins.module_utils._network import Target, require_root, resolve_peers


@pytest.mark.parametrize(
    "peer, expected",
    [
        ("web", ["172.17.0.2/32"]),  # compose service
        ("cache", ["172.17.0.3/32"]),  # sutazai.chaos.service label
        ("shop-cache-7f3a", ["172.17.0.3/32"]),  # container name
        ("lonely", ["172.17.0.4/32"]),  # a plain container: its name is its service
        ("10.0.0.0/8", ["10.0.0.0/8"]),
    ],
)
def test_partition_peers_by_service(engine, peer, expected):
    assert resolve_peers(engine, {"peers": [peer]}) == expected


def test_unknown_peer_is_refused(engine):
    with pytest.raises(ChaosError, match="neither an address nor a running container"):
        resolve_peers(engine, {"peers": ["nope"]})


@pytest.mark.parametrize("name, compose_service, service", [
    ("shop-web-1", "web", "web"), ("shop-cache-7f3a", None, "cache"), ("lonely", None, "lonely"),
])
def test_target_record_carries_the_service(engine, name, compose_service, service):
    container = next(c for c in list_containers(engine) if c["name"] == name)
    record = Target("eth0", container).record
    assert (record["compose_service"], record["service"]) == (compose_service, service)


def test_host_target_has_no_service():
    assert "service" not in Target("eth0").record


def test_an_ordinary_user_is_told_to_use_become():
    with pytest.raises(ChaosError) as info:
        require_root(euid=1000)
    msg = info.value.msg
    assert msg.startswith("network_chaos runs as uid 1000"), msg
    assert "run the task with become: true (root is needed for tc, iptables and nsenter" in msg, msg
    assert msg.endswith("Nothing was changed."), msg


def test_root_may_go_on():
    assert require_root(euid=0) is None
