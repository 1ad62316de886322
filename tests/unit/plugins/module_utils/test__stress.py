# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._docker import list_containers
from ansible_collections.sutazai.chaos.plugins.module_utils._stress import StressTarget


@pytest.mark.parametrize("name, compose_service, service", [
    ("shop-web-1", "web", "web"), ("shop-cache-7f3a", None, "cache"), ("lonely", None, "lonely"),
])
def test_target_record_carries_the_service(engine, name, compose_service, service):
    container = next(c for c in list_containers(engine) if c["name"] == name)
    record = StressTarget(container).record  # pid 0: no cgroups are read
    assert (record["name"], record["compose_service"], record["service"]) == (name, compose_service, service)


def test_host_target_has_no_service():
    assert StressTarget().record == {"id": "host", "name": "host"}


def test_a_launcher_is_alive_while_it_runs_whatever_its_command_line():
    """A process in the middle of exec has an empty cmdline for a moment: that is not a dead launcher."""
    import os
    import subprocess

    from ansible_collections.sutazai.chaos.plugins.module_utils import _stress

    assert _stress._alive(os.getpid())
    child = subprocess.Popen(["true"])
    child.wait()
    assert not _stress._alive(child.pid)  # reaped: gone
    zombie = subprocess.Popen(["true"])
    os.waitid(os.P_PID, zombie.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    assert not _stress._alive(zombie.pid)
    zombie.wait()
