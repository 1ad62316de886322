# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Command lines shown in results: secret option values, NAME=value secrets and URL passwords masked."""

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._redact import redact_argv


@pytest.mark.parametrize("argv, shown", [
    (["sleep", "1000"], ["sleep", "1000"]),
    (["app", "--password", "hunter2", "--port", "80"], ["app", "--password", "********", "--port", "80"]),
    (["app", "--api-key=abc123", "--verbose"], ["app", "--api-key=********", "--verbose"]),
    (["env", "DB_PASSWORD=s3cret", "HOME=/root"], ["env", "DB_PASSWORD=********", "HOME=/root"]),
    (["psql", "postgres://app:s3cret@db/app"], ["psql", "postgres://app:********@db/app"]),
    (["curl", "-H", "Authorization: Bearer abc.def"], ["curl", "-H", "Authorization: Bearer ********"]),
    (["app", "--token"], ["app", "--token"]),
])
def test_redact_argv(argv, shown):
    assert redact_argv(argv) == shown
