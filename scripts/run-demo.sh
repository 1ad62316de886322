#!/usr/bin/env bash
# The README's main job as a test: the demo stack up, the demo experiment run,
# and its JSON result says the stack was hit, recovered, and nothing was left.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=demo-test
cd "$REPO_ROOT"
scripts/stack.sh up
report_dir=$(mktemp -d)
trap 'rm -rf "$report_dir"' EXIT
.venv/bin/ansible-playbook playbooks/demo.yml -e "container_chaos_report_dir=$report_dir"
# the result beside its run journal (journal-*.json) and its reports (.html, .md)
result=$(find "$report_dir" -maxdepth 1 -name '*.json' ! -name 'journal-*')
.venv/bin/python - "$result" <<'PY'
import json, os, sys
r = json.load(open(sys.argv[1]))
report = sys.argv[1][:-len(".json")] + ".html"
assert os.path.isfile(report) and "fault-band" in open(report).read(), "no HTML report beside the result"
hit = [h["compose_service"] for h in r["hit"]]
assert hit == ["redis"], "demo hit %s, expected redis" % hit
assert r["hit"][0]["state_before"] == "running", r["hit"][0]
assert r["recovered"] and r["recovery_seconds"] is not None, r
assert {s["service"] for s in r["reach"]} == {"redis", "backend", "frontend"}, r["reach"]
assert r["left_active_after_experiment"] == 0 and r["steady_state_after"] is True, r
assert r["verdict"] == "PASS", r
print("demo-test: redis crashed and everything recovered in %.2f s; verdict %s" % (r["recovery_seconds"], r["verdict"]))
PY
