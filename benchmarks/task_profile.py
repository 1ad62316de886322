"""Where one container_chaos task spends its time, and the same figures for the code before this branch's changes.

    .venv/bin/python benchmarks/task_profile.py      # prints the tables; run.py includes them

* ``before``: the collection at BASELINE_COMMIT (git archive into .cache/bench/baseline-<commit>), ``after``:
  this checkout. Both run in the same way (benchmarks/modrun.py, a plain Python process), alternately.
* The phases come from cProfile inside the module (``SUTAZAI_CHAOS_PROFILE``, see modrun.py), cumulative times
  of the functions named in PHASES, on one pause of one container in a fresh state folder (so the reaper starts).
* What Ansible adds (module transfer, AnsiballZ, the worker) is the ad-hoc task minus the module's own run.
"""

from __future__ import annotations

import os
import pstats
import statistics
import subprocess
import tempfile

import docker

from common import IMAGE, PYTHON, ROOT, log, module, module_bare, state_folder, table

BASELINE_COMMIT = "5b0aa57"  # main when issue 13's benchmarks started
RUNS = 7
MODULE = "ansible_collections.sutazai.chaos.plugins.modules.container_chaos"
PHASES = (  # (label, file suffix, function name)
    ("imports (module and module_utils, docker SDK, AnsibleModule)", "modules/container_chaos.py", "<module>"),
    ("argument parsing (AnsibleModule)", "module_utils/_module.py", "build_module"),
    ("Docker client and ping", "module_utils/_docker.py", "connect"),
    ("listing containers (SDK: one inspect per container)", "module_utils/_docker.py", "list_containers"),
    ("target selection", "module_utils/_targets.py", "select_targets"),
    ("ledger: reading held faults", "module_utils/_fault.py", "active_entries"),
    ("ledger: record + mark applied + audit (apply before, apply_many after)", "module_utils/_fault.py", "apply*"),
    ("reaper start (in the above)", "module_utils/_ledger.py", "ensure_reaper"),
    ("result JSON out", "ansible/module_utils/basic.py", "exit_json"),
)


def baseline_collections():
    root = os.path.join(ROOT, ".cache", "bench", "baseline-%s" % BASELINE_COMMIT)
    target = os.path.join(root, "ansible_collections", "sutazai", "chaos")
    if not os.path.isdir(target):
        os.makedirs(target)
        archive = subprocess.run(["git", "archive", BASELINE_COMMIT, "plugins", "meta", "galaxy.yml"], cwd=ROOT,
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", target], input=archive, check=True)
    return root


def import_seconds(collections):
    env = dict(os.environ, PYTHONPATH=collections)
    code = "import time; t = time.monotonic(); import %s; print(time.monotonic() - t)" % MODULE
    return float(subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, check=True).stdout)


def phases(name, collections):
    with state_folder("szb-prof-") as state_dir, \
            tempfile.NamedTemporaryFile(suffix=".prof") as prof:
        args = {"action": "pause", "duration": 30, "targets": {"names": [name]}, "state_dir": state_dir}
        module_bare("container_chaos", args, env={"SUTAZAI_CHAOS_PROFILE": prof.name, "SZB_COLLECTIONS": collections})
        module_bare("container_chaos", dict(args, state="absent"), env={"SZB_COLLECTIONS": collections})
        stats = pstats.Stats(prof.name).stats
    total = sum(own for (_f, _l, _n), (_cc, _nc, own, _cum, _callers) in stats.items())
    found = {}
    for (filename, _line, function), (_cc, _nc, _tt, cum, _callers) in stats.items():
        for label, suffix, wanted in PHASES:
            if (function == wanted or wanted.endswith("*") and function.startswith(wanted[:-1])) and \
                    filename.endswith(suffix):
                found[label] = max(found.get(label, 0.0), cum)  # apply calls apply_many: the outer one counts
    return total, found


def run():
    client = docker.DockerClient(base_url="unix:///var/run/docker.sock")
    name = "szb-%s-prof" % os.urandom(3).hex()
    container = client.containers.run(IMAGE, ["sleep", "infinity"], name=name, detach=True)
    before_root, after_root = baseline_collections(), os.path.join(ROOT, ".cache", "collections")
    times = {"before": {"import": [], "task": []}, "after": {"import": [], "task": []}}
    try:
        for _run in range(RUNS):
            for label, root in (("before", before_root), ("after", after_root)):
                times[label]["import"].append(import_seconds(root))
                with state_folder("szb-prof-") as state_dir:
                    args = {"action": "pause", "duration": 30, "targets": {"names": [name]}, "state_dir": state_dir}
                    on, _r, _rss = module_bare("container_chaos", args, env={"SZB_COLLECTIONS": root})
                    off, _r, _rss = module_bare("container_chaos", dict(args, state="absent"),
                                                env={"SZB_COLLECTIONS": root})
                    times[label]["task"].append(on + off)
        profiles = {label: phases(name, root) for label, root in (("before", before_root), ("after", after_root))}
        with state_folder("szb-prof-") as state_dir:
            args = {"action": "pause", "duration": 30, "targets": {"names": [name]}, "state_dir": state_dir}
            adhoc = statistics.median(module("container_chaos", args)[0] + module(
                "container_chaos", dict(args, state="absent"))[0] for _run in range(3))
        ping = statistics.median(module("ansible.builtin.ping", {})[0] for _run in range(3)) * 2
    finally:
        container.remove(force=True)
    medians = {label: {k: statistics.median(v) for k, v in t.items()} for label, t in times.items()}
    log("profile: %s" % medians)
    return medians, profiles, adhoc, ping


def render(medians, profiles, adhoc, ping):
    out = table(["what (medians of %d, one container)" % RUNS, "before s", "after s", "change"],
                [("import of the module", "%.3f" % medians["before"]["import"], "%.3f" % medians["after"]["import"],
                  "%+.0f ms" % (1000 * (medians["after"]["import"] - medians["before"]["import"]))),
                 ("pause + state=absent, module's own runs (two processes)", "%.3f" % medians["before"]["task"],
                  "%.3f" % medians["after"]["task"],
                  "%+.0f ms" % (1000 * (medians["after"]["task"] - medians["before"]["task"])))])
    out += ["", "One pause in a fresh state folder (the reaper starts), cProfile inside the module (cumulative s;"
            " one run each, so single figures are noisy):", ""]
    rows = [("whole profiled run", "%.3f" % profiles["before"][0], "%.3f" % profiles["after"][0])]
    rows += [(label, "%.3f" % profiles["before"][1].get(label, 0.0), "%.3f" % profiles["after"][1].get(label, 0.0))
             for label, _s, _f in PHASES]
    out += table(["phase", "before s", "after s"], rows)
    own = medians["after"]["task"]
    out += ["", "The same two tasks ad hoc (`ansible localhost -m ...`, median of 3): %.2f s; two ad-hoc pings"
            " (Ansible's floor): %.2f s; so %.2f s above the floor, against %.2f s for the module's own two runs"
            " (which also pay a Python start and the AnsibleModule import each)." % (adhoc, ping, adhoc - ping, own)]
    return out


if __name__ == "__main__":
    print("\n".join(render(*run())))
