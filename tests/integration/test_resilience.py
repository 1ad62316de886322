"""The resilience test on the demo stack: killing redis reaches backend and frontend (depth 2), not postgres.

Runs playbooks/resilience-test.yml for redis only and reads the JSON summary it writes. The demo stack is
brought up (idempotent) by scripts/stack.sh.
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


def test_redis_kill_cascade_on_the_demo_stack(demo_stack, tmp_path):
    run = subprocess.run(
        [os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "playbooks/resilience-test.yml",
         "-e", "test_type=quick", "-e", "report_dir=%s" % tmp_path, "-e", '{"resilience_services": ["redis"]}',
         "-e", "resilience_state_dir=%s" % (tmp_path / "state")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    summary = json.load(open(glob.glob(str(tmp_path / "resilience-quick-*.json"))[0]))
    (case,) = summary["services"]
    print("redis kill: mttr %.3f s, affected %s, depth %s, watch lead %s s" % (
        case["mttr_seconds"], case["affected"], case["cascade_depth"], case["watch_lead_seconds"]))
    assert case["watch_lead_seconds"] > 0, "the watch started after the kill: the failure was not observed whole"
    assert case["name"] == "redis" and case["failure"] == "kill"
    assert {"backend", "frontend"} <= set(case["affected"])
    assert "postgres" in case["unaffected"] and "postgres" not in case["affected"]
    assert case["cascade_depth"] == 2
    assert case["surprises"] == {"unexpected": [], "not_isolated": []}
    assert 0 < case["mttr_seconds"] < 60
    assert case["left_active"] == 0 and case["verdict"] == "PASS"
    table = open(glob.glob(str(tmp_path / "resilience-quick-*.md"))[0]).read()
    assert "| redis | kill |" in table and "Verdict: **PASS**" in table
