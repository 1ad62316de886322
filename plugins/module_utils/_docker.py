# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One Docker client for every container-facing module (Docker SDK for Python)."""

from __future__ import annotations

import sys
import traceback

from ansible.module_utils.basic import env_fallback

from ._common import NOTHING_CHANGED, ChaosError
from ._targets import COMPOSE_SERVICE_LABEL, service_name

try:
    import docker
    from docker.errors import APIError, DockerException, NotFound

    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError:
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = traceback.format_exc()

    class APIError(Exception):
        pass

    class DockerException(Exception):
        pass

    class NotFound(Exception):
        pass


DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"

DOCKER_ARG_SPEC = dict(
    docker_host=dict(type="str", default=DEFAULT_DOCKER_HOST, aliases=["docker_url"],
                     fallback=(env_fallback, ["DOCKER_HOST"])),
    tls=dict(type="bool", default=False, fallback=(env_fallback, ["DOCKER_TLS"])),
    validate_certs=dict(type="bool", default=False, aliases=["tls_verify"],
                        fallback=(env_fallback, ["DOCKER_TLS_VERIFY"])),
    ca_path=dict(type="path", aliases=["ca_cert", "tls_ca_cert"]),
    client_cert=dict(type="path", aliases=["tls_client_cert", "cert_path"]),
    client_key=dict(type="path", aliases=["tls_client_key", "key_path"]),
    timeout=dict(type="int", default=60, fallback=(env_fallback, ["DOCKER_TIMEOUT"])),
)


def tls_settings(params):
    """The TLS part of the options, as the ledger's undo steps record it (None for plain)."""
    if not (params.get("tls") or params.get("validate_certs")):
        return None
    return {
        "validate_certs": bool(params.get("validate_certs")),
        "ca_path": params.get("ca_path"),
        "client_cert": params.get("client_cert"),
        "client_key": params.get("client_key"),
    }


def missing_sdk_message(python=None, import_error=None):
    """What to install when ``import docker`` failed: the package, for which interpreter, how."""
    python = python or sys.executable
    error = (import_error if import_error is not None else DOCKER_IMPORT_ERROR) or ""
    last = (error.strip().splitlines() or ["ImportError"])[-1]
    return ("the Docker SDK for Python (the `docker` package) is not installed for %s (Python %d.%d) on this host "
            "(%s); container faults need it on the Docker host, not on the controller. Install it for that "
            "interpreter: `apt-get install python3-docker` (Debian, Ubuntu), `dnf install python3-docker` (Fedora, "
            "RHEL with EPEL) or `%s -m pip install docker`; or set ansible_python_interpreter to a Python that has "
            "it. %s" % (python, sys.version_info[0], sys.version_info[1], last, python, NOTHING_CHANGED))


def connect(params):
    """A connected ``docker.DockerClient``; raises ChaosError when the engine does not answer."""
    if not HAS_DOCKER:
        raise ChaosError(missing_sdk_message())
    tls_config = False
    tls = tls_settings(params)
    if tls:
        client_cert = (tls["client_cert"], tls["client_key"]) if tls["client_cert"] else None
        tls_config = docker.tls.TLSConfig(client_cert=client_cert, ca_cert=tls["ca_path"], verify=tls["validate_certs"])
    try:
        client = docker.DockerClient(base_url=params["docker_host"], tls=tls_config, timeout=params["timeout"],
                                     version="auto")
        client.ping()
    except (DockerException, OSError) as exc:
        raise ChaosError(
            "the Docker engine at %s does not answer (%s). Is dockerd running, and may this user use it? %s"
            % (params["docker_host"], exc, NOTHING_CHANGED)
        )
    return client


def container_summary(container):
    """What the modules report about a container (from ``container.attrs``)."""
    attrs = container.attrs
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    state = attrs.get("State") or {}
    name = attrs.get("Name", "").lstrip("/") or container.name
    return {
        "id": attrs["Id"],
        "name": name,
        "labels": labels,
        "compose_project": labels.get("com.docker.compose.project"),
        "compose_service": labels.get(COMPOSE_SERVICE_LABEL),
        "service": service_name(labels, name),
        "status": state.get("Status"),
        "pid": state.get("Pid"),
        "restart_count": attrs.get("RestartCount", 0),
        "started_at": state.get("StartedAt"),
        "addresses": sorted(n["IPAddress"] for n in ((attrs.get("NetworkSettings") or {}).get("Networks") or {}).values()
                            if n.get("IPAddress")),
    }


def list_containers(client):
    """Summaries of every container on the engine, running or not."""
    try:
        containers = client.containers.list(all=True, ignore_removed=True)
    except (APIError, OSError) as exc:
        raise ChaosError("listing containers failed: %s. %s" % (exc, NOTHING_CHANGED))
    return [container_summary(c) for c in containers]


def inspect(client, container_id):
    """Fresh summary of one container, or None when it is gone."""
    try:
        return container_summary(client.containers.get(container_id))
    except NotFound:
        return None
