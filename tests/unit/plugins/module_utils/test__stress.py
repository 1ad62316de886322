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


def test_launches_are_awaited_together_and_a_dead_launcher_is_named(tmp_path):
    """Every launch is waited for in one loop (one /proc pass per poll); a launcher that died is named at once,
    not after the start timeout, and a launch whose stress-ng runs is taken as started."""
    import os
    import shutil
    import subprocess
    import time

    from ansible_collections.sutazai.chaos.plugins.module_utils import _stress
    from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError

    if not shutil.which("stress-ng"):
        pytest.skip("stress-ng is not installed (make setup installs it)")
    markers = [os.urandom(4).hex() for _index in range(3)]
    running = [subprocess.Popen(["stress-ng", "--cpu", "1", "--cpu-load", "1", "--timeout", "20"],
                                env=dict(os.environ, **{_stress.MARKER_VARIABLE: m}), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for m in markers[:2]]
    dead = subprocess.Popen(["true"])
    dead.wait()
    try:
        started = time.monotonic()
        _stress.wait_until_started(str(tmp_path), [("a", markers[0], running[0].pid), ("b", markers[1], running[1].pid)])
        with pytest.raises(ChaosError, match="stress-ng did not start for c "):
            _stress.wait_until_started(str(tmp_path), [("a", markers[0], running[0].pid),
                                                       ("c", markers[2], dead.pid)])
        assert time.monotonic() - started < _stress.START_TIMEOUT_SECONDS
    finally:
        for process in running:
            process.kill()
            process.wait()
