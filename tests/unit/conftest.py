# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make ``ansible_collections.sutazai.chaos`` importable when pytest runs from a plain checkout.

``make setup`` links ``.cache/collections/ansible_collections/sutazai/chaos`` to the
repository root. Under ``ansible-test units`` the collection already sits on a proper
``ansible_collections`` path and this does nothing.
"""

from __future__ import annotations

import os
import sys

_REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_COLLECTIONS = os.path.join(_REPO_ROOT, ".cache", "collections")


def _already_importable():
    try:
        import ansible_collections.sutazai.chaos.plugins.module_utils._common  # noqa: F401 pylint: disable=unused-import
    except ImportError:
        return False
    return True


if not _already_importable():
    if not os.path.isdir(os.path.join(_COLLECTIONS, "ansible_collections", "sutazai", "chaos")):
        raise RuntimeError("%s has no ansible_collections/sutazai/chaos link: run `make setup`" % _COLLECTIONS)
    sys.path.insert(0, _COLLECTIONS)
    for name in [m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")]:
        del sys.modules[name]
