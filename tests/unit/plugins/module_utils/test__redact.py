# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import base64

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._redact import (
    MASK,
    mask_in_module,
    no_log_values,
    redact,
    redact_text,
    redact_url,
    url_secrets,
)


@pytest.mark.parametrize("url, shown, secrets", [
    ("http://127.0.0.1:18000/health", "http://127.0.0.1:18000/health", set()),
    ("https://user:s3cret@example.com:8443/x?a=1", "https://user:********@example.com:8443/x?a=1", {"s3cret"}),
    ("https://user:p%40ss@example.com/", "https://user:********@example.com/", {"p%40ss", "p@ss"}),
    ("https://ghp_token123@github.com/o/r.git", "https://********@github.com/o/r.git", {"ghp_token123"}),
    ("http://user:@h/", "http://user:@h/", set()),
    ("http://h/q?query=up&access_token=abc&api_key=k1", "http://h/q?query=up&access_token=********&api_key=********",
     {"abc", "k1"}),
    ("http://h/q?password=pw&sig=zz&key=kk&auth=aa&keys=fine", "http://h/q?password=********&sig=********&key=********"
     "&auth=********&keys=fine", {"pw", "zz", "kk", "aa"}),
    ("https://app.example.com/cb#access_token=tk9&state=1", "https://app.example.com/cb#access_token=********&state=1",
     {"tk9"}),
    ("https://hooks.slack.com/services/T0001/B0002/XyZsecretSecret", "https://hooks.slack.com/services/T0001/B0002/********",
     {"XyZsecretSecret"}),
    ("https://hooks.slack.com/workflows/T1/A2/33/s3cretS3cret", "https://hooks.slack.com/workflows/T1/A2/33/********",
     {"s3cretS3cret"}),
    ("https://discord.com/api/webhooks/1234/tokEN-xyz/github", "https://discord.com/api/webhooks/1234/********/github",
     {"tokEN-xyz"}),
    ("https://acme.webhook.office.com/webhookb2/g1@g2/IncomingWebhook/abc/g3",
     "https://acme.webhook.office.com/webhookb2/********", {"g1@g2/IncomingWebhook/abc/g3"}),
    ("https://ci.example.com/hooks/abcdefghijklmnop0123", "https://ci.example.com/hooks/********",
     {"abcdefghijklmnop0123"}),
    ("https://ci.example.com/hooks/short", "https://ci.example.com/hooks/short", set()),
    ("http://[::1", "http://[::1", set()),  # not parsable: returned as is (it has no userinfo)
    ("http://u:pw@[::1", "http://********@[::1", {"u:pw"}),
])
def test_redact_url_and_its_secrets(url, shown, secrets):
    assert redact_url(url) == shown
    assert url_secrets(url) == secrets
    assert not any(secret in redact_url(url) for secret in secrets)


@pytest.mark.parametrize("value", [None, 12, "", "not a url", "/a/path"])
def test_redact_url_leaves_what_is_no_url(value):
    assert redact_url(value) == value
    assert url_secrets(value) == set()


def test_redact_text_masks_urls_and_credentials_in_messages():
    basic = base64.b64encode(b"user:pw").decode()
    text = ("Prometheus at http://u:pw@prom:9090 is unreachable; sent Authorization: Bearer abc.def-123, "
            "Basic %s; Basic auth is fine, Basic QUJD is no credential" % basic)
    assert redact_text(text) == (
        "Prometheus at http://u:********@prom:9090 is unreachable; sent Authorization: Bearer ********, "
        "Basic ********; Basic auth is fine, Basic QUJD is no credential")
    assert redact_text(7) == 7


def test_redact_walks_results():
    value = {
        "url": "https://u:pw@h/x", "headers": {"Authorization": "Bearer t", "X-Count": 3},
        "pushgateway_headers": {"X-Scope-OrgID": "tenant"}, "grafana_token": "glsa_x", "api_key": None,
        "nested": [{"password": {"a": "b", "c": [1, True]}}, ("Bearer zz", 1.5)],
        "latency_ms": 12.5, "healthy": True, "keys": ["a"], "tokens_used": 0,
    }
    assert redact(value) == {
        "url": "https://u:%s@h/x" % MASK, "headers": {"Authorization": MASK, "X-Count": MASK},
        "pushgateway_headers": {"X-Scope-OrgID": MASK}, "grafana_token": MASK, "api_key": None,
        "nested": [{"password": {"a": MASK, "c": [MASK, True]}}, ["Bearer %s" % MASK, 1.5]],
        "latency_ms": 12.5, "healthy": True, "keys": ["a"], "tokens_used": MASK,  # over-masking is the safe side
    }


def test_no_log_values_of_probes():
    probes = [
        {"type": "http", "url": "http://u:pw1@h/",
         "headers": {"Authorization": "Bearer x", "X-Debug": "1", "X-Tenant": "acme-corp"}},
        {"type": "prometheus", "prometheus_url": "http://h/?token=tk"},
        {"type": "http", "url": "http://h/", "headers": {"X-Api-Key": "42"}},  # short, but under a secret name
        {"type": "tcp", "host": "h", "port": 1},
    ]
    add, keep = no_log_values(probes)
    assert add == {"pw1", "tk"}
    # "42" stays masked: its header's name looks secret; the URLs are shown again, but for their secrets
    assert keep == {"1", "http://u:pw1@h/", "http://h/?token=tk", "http://h/"}


def test_mask_in_module_updates_the_modules_no_log_values():
    class Module:
        no_log_values = {"Bearer x", "1", "http://u:pw@h/"}
    module = Module()
    mask_in_module(module, [{"url": "http://u:pw@h/", "headers": {"Authorization": "Bearer x", "X-Debug": "1"}}])
    assert module.no_log_values == {"Bearer x", "pw"}
