# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._docker import list_containers
from ansible_collections.sutazai.chaos.plugins.module_utils._network import Target, controller_address, require_root, resolve_peers


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


def _fake_process(proc_root, pid, ppid, environ=None):
    folder = proc_root / str(pid)
    folder.mkdir()
    (folder / "stat").write_text("%d (sh) S %d %s\n" % (pid, ppid, " ".join(["0"] * 20)))
    if environ is not None:
        (folder / "environ").write_bytes(b"".join(b"%s=%s\0" % (k.encode(), v.encode()) for k, v in environ.items()))


def test_under_become_the_controller_address_comes_from_the_ssh_login(tmp_path):
    """sudo resets the environment: the module (pid 40) has no SSH_CONNECTION, its ancestors' login does."""
    _fake_process(tmp_path, 40, 30, {"SUDO_USER": "chaos"})
    _fake_process(tmp_path, 30, 20, {"PATH": "/usr/bin"})  # sudo's command shell: reset too
    _fake_process(tmp_path, 20, 10, {"SSH_CONNECTION": "172.20.0.1 40022 172.20.0.2 22", "USER": "chaos"})
    _fake_process(tmp_path, 10, 1, {"SSH_CONNECTION": "10.9.9.9 1 10.9.9.8 22"})  # farther: not taken
    assert controller_address(environ={}, pid=40, proc_root=str(tmp_path)) == "172.20.0.1"


@pytest.mark.parametrize("environ, expected", [
    ({"SSH_CONNECTION": "192.0.2.7 5555 192.0.2.8 22"}, "192.0.2.7"),  # its own wins
    ({"SSH_CONNECTION": ""}, None),  # set, even empty: taken as it is, no ancestor is read
    ({"SSH_CLIENT": "192.0.2.9 5555 22"}, "192.0.2.9"),
])
def test_the_modules_own_ssh_variables_come_first(tmp_path, environ, expected):
    _fake_process(tmp_path, 40, 20, {})
    _fake_process(tmp_path, 20, 1, {"SSH_CONNECTION": "172.20.0.1 40022 172.20.0.2 22"})
    assert controller_address(environ=environ, pid=40, proc_root=str(tmp_path)) == expected


def test_no_ssh_login_among_the_ancestors_means_no_controller_address(tmp_path):
    _fake_process(tmp_path, 40, 30, {})
    _fake_process(tmp_path, 30, 1)  # its environ cannot be read (another user's process)
    assert controller_address(environ={}, pid=40, proc_root=str(tmp_path)) is None
