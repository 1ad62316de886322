"""The resilience test on the demo stack: an outage of redis reaches backend and frontend (depth 2), not postgres.

Runs playbooks/resilience-test.yml for redis only and reads the JSON summary it writes. The demo stack is
brought up (idempotent) by scripts/stack.sh.

The outage is a 4 s pause, not the quick test's kill: redis restarts within about 1.3 s of a kill, and the
demo's probes see so short an outage only by chance (the backend opens a fresh connection per request, whose
SYN retry waits out the outage; redis' TCP probe goes through the engine's published port): in CI one kill of
three showed the cascade, and a kill seen by no probe at all was measured here. A paused redis still completes
TCP handshakes in the kernel but answers nothing, so the backend's PING times out (2 s), every time. The kill
path of the role is run by the Molecule scenario extensions/molecule/resilience and by the catalogue test
(redis-crash).
"""

from __future__ import annotations

import glob
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def demo_stack():
    subprocess.run([os.path.join(ROOT, "scripts", "stack.sh"), "up"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def pause_redis_once(folder):
    run = subprocess.run(
        [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "playbooks/resilience-test.yml",
         "-e", "test_type=quick", "-e", "report_dir=%s" % folder, "-e", '{"resilience_services": ["redis"]}',
         "-e", '{"resilience_failures": {"quick": ["pause"]}}', "-e", "resilience_fault_seconds=4",
         "-e", "resilience_settle_seconds=5", "-e", "resilience_state_dir=%s" % (folder / "state")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    summary = json.load(open(glob.glob(str(folder / "resilience-quick-*.json"))[0]))
    (case,) = summary["services"]
    print("redis pause: mttr %.3f s, affected %s, depth %s" % (
        case["mttr_seconds"], case["affected"], case["cascade_depth"]))
    assert case["name"] == "redis" and case["failure"] == "pause"
    assert "postgres" in case["unaffected"] and "postgres" not in case["affected"]
    assert case["cascade_depth"] <= 2
    assert case["surprises"] == {"unexpected": [], "not_isolated": []}
    assert 0 <= case["mttr_seconds"] < 60
    assert case["left_active"] == 0 and case["verdict"] == "PASS"
    table = open(glob.glob(str(folder / "resilience-quick-*.md"))[0]).read()
    assert "| redis | pause |" in table and "Verdict: **PASS**" in table
    return case


def test_redis_outage_cascade_on_the_demo_stack(demo_stack, tmp_path):
    """A 4 s pause of redis fails backend (its PING times out) and so frontend: depth 2, never postgres."""
    case = pause_redis_once(tmp_path)
    assert {"backend", "frontend"} <= set(case["affected"]), case["affected"]
    assert case["cascade_depth"] == 2
