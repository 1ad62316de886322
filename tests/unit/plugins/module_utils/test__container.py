# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import signal

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import NOTHING_CHANGED, ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._container import ContainerChaos, parse_signal


@pytest.mark.parametrize(
    "value, expected",
    [
        ("SIGKILL", signal.SIGKILL),
        ("KILL", signal.SIGKILL),
        ("kill", signal.SIGKILL),
        ("sigterm", signal.SIGTERM),
        ("  TERM  ", signal.SIGTERM),
        ("9", signal.SIGKILL),
        (9, signal.SIGKILL),
        (15, signal.SIGTERM),
        ("HUP", signal.SIGHUP),
        ("SIGUSR1", signal.SIGUSR1),
        ("int", signal.SIGINT),
    ],
)
def test_parse_signal_accepts(value, expected):
    result = parse_signal(value)
    assert result == expected
    assert isinstance(result, signal.Signals)


@pytest.mark.parametrize("value", ["SIGNOPE", "nope", "", "999", "-9", "9.0", "SIG", None])
def test_parse_signal_rejects(value):
    with pytest.raises(ChaosError) as info:
        parse_signal(value)
    assert "is not a known signal" in info.value.msg
    assert NOTHING_CHANGED in info.value.msg


# ------------------------------------------------------------------ one service name per container

def _pause_params(state_dir, targets, **extra):
    params = dict(action="pause", state="present", signal="SIGKILL", kill_mode="engine", stop_timeout=1,
                  duration=5.0, max_duration=3600.0, state_dir=str(state_dir), experiment_id="unit-service",
                  experiment_id_given=True, docker_host="unix:///var/run/docker.sock", targets=targets,
                  exclude=[], protected=[], select={"mode": "all"}, max_targets=None, allow_empty=False)
    params.update(extra)
    return params


@pytest.mark.parametrize(
    "targets, name, compose_service, service",
    [
        ({"names": ["shop-web-1"]}, "shop-web-1", "web", "web"),  # compose container -> compose service
        ({"names": ["cache"]}, "shop-cache-7f3a", None, "cache"),  # labelled container -> label value
        ({"services": ["cache"]}, "shop-cache-7f3a", None, "cache"),
        ({"names": ["lonely"]}, "lonely", None, "lonely"),  # plain container -> its name
    ],
)
def test_results_carry_the_service(engine, tmp_path, targets, name, compose_service, service):
    results, report = ContainerChaos(engine, _pause_params(tmp_path, targets), check_mode=True).present()
    assert [(r["name"], r["compose_service"], r["service"]) for r in results] == [(name, compose_service, service)]
    assert results[0]["state_after"] == "paused" and report["matched"] == [name]


@pytest.mark.parametrize("targets", [{"names": ["shop-cache-7f3a"]}, {"services": ["cache"]}])
def test_a_label_named_service_can_be_protected(engine, tmp_path, targets):
    chaos = ContainerChaos(engine, _pause_params(tmp_path, targets, protected=["cache"]), check_mode=True)
    with pytest.raises(ChaosError, match="shop-cache-7f3a is protected") as info:
        chaos.present()
    assert NOTHING_CHANGED in info.value.msg
