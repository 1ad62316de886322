# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # The probes option of plugins/module_utils/_probe_types.py PROBES_ARG_SPEC
    DOCUMENTATION = r"""
options:
  probes:
    description:
      - Health probes, each a dict with a O(probes[].type) and the options of that type.
      - All must be healthy for the verdict to be healthy.
      - Secrets are never shown. Header values are C(no_log) (Ansible masks them wherever they appear in the
        result), and so are the secret parts of O(probes[].url) and O(probes[].prometheus_url) (the password of
        C(user:password@), token-like query parameters); results, messages and details show such a URL as
        C(https://user:********@host/...). When Ansible itself refuses the arguments (a wrong type, an unknown
        option), the whole URL is masked.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: A name for the results.
        type: str
      type:
        description: The kind of probe.
        type: str
        required: true
        choices: [http, tcp, container, command, prometheus]
      url:
        description:
          - For V(http), the URL (http or https, with a host).
          - C(user:password@) in it is sent as basic authentication when the server asks for it (HTTP 401).
        type: str
      method:
        description: For V(http), the method.
        type: str
        default: GET
      headers:
        description:
          - For V(http) and V(prometheus), request headers (for example C(Authorization)).
          - Their values are C(no_log), except a value of at most 3 characters under a name that does not look
            secret (C(X-Debug=1)), which Ansible would otherwise mask in every number of the result.
        type: dict
      status:
        description: For V(http), the status codes that count as healthy.
        type: list
        elements: int
        default: [200]
      body_regex:
        description: For V(http), a regular expression the body must match.
        type: str
      json_query:
        description:
          - For V(http), a JMESPath expression evaluated on the body parsed as JSON (needs the C(jmespath) Python
            library on the host the module runs on). An invalid expression fails the task before any probe runs.
          - Without O(probes[].expect), the result must be truthy (not null, false, 0, empty).
        type: str
      expect:
        description:
          - For V(http) with O(probes[].json_query), the value the query must return (compared as JSON values, so
            V(true) is not V(1)).
        type: raw
      max_latency_ms:
        description: For V(http), the slowest answer (milliseconds) that still counts as healthy.
        type: float
      validate_certs:
        description: For V(http) and V(prometheus) over HTTPS, verify the certificate.
        type: bool
        default: true
      host:
        description: For V(tcp), the host.
        type: str
      port:
        description: For V(tcp), the port.
        type: int
      container:
        description: For V(container), a name or id; healthy when running and, if it has a healthcheck, healthy.
        type: str
      max_restarts:
        description:
          - For V(container), the most restarts (the engine's C(RestartCount)) that still count as healthy.
            The detail always reports C(restart_count).
        type: int
      argv:
        description:
          - For V(command), the command and its arguments, run without a shell on the host the module runs on
            (under C(timeout) with O(probe_timeout) when C(timeout) is installed; exit code 124 means it took
            too long). The command must be found when the task starts.
        type: list
        elements: str
      rc:
        description: For V(command), the exit code that counts as healthy.
        type: int
        default: 0
      stdout_regex:
        description: For V(command), a regular expression the standard output must match.
        type: str
      prometheus_url:
        description: For V(prometheus), the base URL of the Prometheus server (for example V(http://127.0.0.1:9090)).
        type: str
      query:
        description:
          - For V(prometheus), a PromQL expression run as an instant query (C(/api/v1/query)). Healthy when it
            returns at least one sample and every sample satisfies O(probes[].comparator) O(probes[].threshold);
            no samples is unhealthy (C(no data)), and so is an unreachable Prometheus.
        type: str
      comparator:
        description: For V(prometheus), how each sample is compared with O(probes[].threshold).
        type: str
        choices: ['<', '<=', '>', '>=', '==', '!=']
      threshold:
        description: For V(prometheus), the number each sample is compared with.
        type: float
"""
