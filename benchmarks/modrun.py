"""Run one of the collection's modules in a plain Python process, without Ansible's task machinery.

    .venv/bin/python benchmarks/modrun.py container_chaos '{"action": "pause", ...}'

The module's own cost (imports, engine calls, ledger) with none of Ansible's start-up, so a benchmark can
time it and read its peak memory (``os.wait4``'s ``ru_maxrss``). Prints the module's JSON result. Set
``SUTAZAI_CHAOS_PROFILE=<file>`` to write a cProfile of the run to that file.
"""

from __future__ import annotations

import importlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# SZB_COLLECTIONS: another collections root (benchmarks/task_profile.py points it at the code before a change)
sys.path.insert(0, os.environ.get("SZB_COLLECTIONS") or os.path.join(ROOT, ".cache", "collections"))


def main(name, args):
    from ansible.module_utils.testing import patch_module_args

    profile_path = os.environ.get("SUTAZAI_CHAOS_PROFILE")
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        with patch_module_args(args):
            module = importlib.import_module("ansible_collections.sutazai.chaos.plugins.modules." + name)
            module.main()
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile_path)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]))
