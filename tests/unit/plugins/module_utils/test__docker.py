# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _docker
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._docker import container_summary, inspect, list_containers
from ansible_collections.sutazai.chaos.plugins.module_utils._targets import SERVICE_LABEL

COMPOSE = {"com.docker.compose.project": "shop", "com.docker.compose.service": "web"}


@pytest.mark.parametrize(
    "name, labels, compose_service, service",
    [
        ("shop-web-1", COMPOSE, "web", "web"),  # compose container -> compose service
        ("shop-cache-7f3a", {SERVICE_LABEL: "cache"}, None, "cache"),  # labelled container -> label value
        ("lonely", {}, None, "lonely"),  # plain container -> its name, without the leading slash
        ("shop-web-2", dict(COMPOSE, **{SERVICE_LABEL: "cache"}), "web", "web"),  # the compose service wins
    ],
)
def test_summary_has_one_service(engine, name, labels, compose_service, service):
    summary = container_summary(engine.add(name, labels))
    assert summary["name"] == name
    assert summary["compose_service"] == compose_service  # unchanged, for compatibility
    assert summary["service"] == service


def test_summary_without_labels_at_all(engine):
    container = engine.add("bare")
    container.attrs["Config"]["Labels"] = None
    assert container_summary(container)["service"] == "bare"


def test_every_listed_and_inspected_container_has_a_service(engine):
    listed = {c["name"]: c["service"] for c in list_containers(engine)}
    assert listed == {"shop-web-1": "web", "shop-cache-7f3a": "cache", "lonely": "lonely"}
    assert inspect(engine, engine.get("lonely").id)["service"] == "lonely"
    assert inspect(engine, "gone") is None


def test_missing_sdk_says_what_to_install_for_which_python():
    text = _docker.missing_sdk_message("/usr/bin/python3", "Traceback...\nModuleNotFoundError: No module named 'docker'")
    assert "/usr/bin/python3" in text and "No module named 'docker'" in text
    assert "apt-get install python3-docker" in text and "/usr/bin/python3 -m pip install docker" in text
    assert text.endswith("Nothing was changed.")


def test_connect_without_sdk_fails_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(_docker, "HAS_DOCKER", False)
    monkeypatch.setattr(_docker, "DOCKER_IMPORT_ERROR", "ModuleNotFoundError: No module named 'docker'")
    with pytest.raises(ChaosError) as caught:
        _docker.connect({"docker_host": "unix:///var/run/docker.sock"})
    assert "python3-docker" in caught.value.msg and "pip install docker" in caught.value.msg
