# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A fake Docker engine (the SDK's ``containers.list``/``get`` only) for module_utils tests."""

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._docker import NotFound


class FakeContainer:
    def __init__(self, index, name, labels, status="running"):
        self.id = ("%02x" % index) * 32
        self.name = name
        self.attrs = {
            "Id": self.id, "Name": "/" + name, "RestartCount": 0, "Config": {"Labels": labels},
            "State": {"Status": status, "Pid": 0, "StartedAt": "2026-01-01T00:00:00Z"},
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.%d" % (index + 1)}}},
        }


class FakeEngine:
    """``FakeEngine().add(name, labels)``; answers as ``docker.DockerClient`` does for these calls."""

    def __init__(self):
        self._containers = []
        self.containers = self

    def add(self, name, labels=None, status="running"):
        container = FakeContainer(len(self._containers) + 1, name, dict(labels or {}), status)
        self._containers.append(container)
        return container

    def list(self, all=False, ignore_removed=False):  # pylint: disable=redefined-builtin
        return list(self._containers)

    def get(self, container_id):
        for container in self._containers:
            if container.id == container_id or container.name == container_id:
                return container
        raise NotFound("no such container: %s" % container_id)


@pytest.fixture
def engine():
    """Compose containers, a label-named ``docker run`` container and a plain one."""
    fake = FakeEngine()
    fake.add("shop-web-1", {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"})
    fake.add("shop-cache-7f3a", {"sutazai.chaos.service": "cache"})
    fake.add("lonely")
    return fake
