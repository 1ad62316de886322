# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Options of plugins/module_utils/_docker.py DOCKER_ARG_SPEC
    DOCUMENTATION = r"""
options:
  docker_host:
    description:
      - The Docker engine to talk to, for example V(unix:///var/run/docker.sock) or V(tcp://10.0.0.5:2376).
      - If not set, the value of the E(DOCKER_HOST) environment variable is used.
    type: str
    default: unix:///var/run/docker.sock
    aliases: [docker_url]
  tls:
    description:
      - Use TLS to reach the engine, without verifying its certificate unless O(validate_certs=true).
      - If not set, the value of the E(DOCKER_TLS) environment variable is used.
    type: bool
    default: false
  validate_certs:
    description:
      - Use TLS and verify the engine's certificate.
      - If not set, the value of the E(DOCKER_TLS_VERIFY) environment variable is used.
    type: bool
    default: false
    aliases: [tls_verify]
  ca_path:
    description: CA certificate used to verify the engine.
    type: path
    aliases: [ca_cert, tls_ca_cert]
  client_cert:
    description: Client certificate for TLS.
    type: path
    aliases: [tls_client_cert, cert_path]
  client_key:
    description: Client key for TLS.
    type: path
    aliases: [tls_client_key, key_path]
  timeout:
    description:
      - Seconds to wait for an answer from the engine.
      - If not set, the value of the E(DOCKER_TIMEOUT) environment variable is used.
    type: int
    default: 60
requirements:
  - Docker SDK for Python >= 5.0 (C(docker)) on the host that runs the module.
"""
