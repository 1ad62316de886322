# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start a child process and return only once it runs its own program.

Between ``fork`` and ``exec`` a child's ``/proc/<pid>/cmdline`` and ``environ`` are still
pytest's: a test that looks for the child by its command line or environment right after
``Popen`` races the child's ``exec`` (the landing CI lost that race once).
"""

from __future__ import annotations

import subprocess
import time


def started(argv, timeout=5.0, **kwargs):
    """``subprocess.Popen(argv, **kwargs)``, waiting until ``/proc/<pid>/cmdline`` is ``argv``."""
    proc = subprocess.Popen(argv, **kwargs)
    wanted = [str(arg).encode() for arg in argv]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/cmdline" % proc.pid, "rb") as handle:
                if handle.read().split(b"\0")[:len(wanted)] == wanted:
                    return proc
        except OSError:
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    raise AssertionError("%s did not exec within %.0f s" % (argv[0], timeout))
