#!/usr/bin/env bash
# docs/report-screenshot.png, the README's picture of an experiment report, from a real demo run:
#   flock /tmp/docker.lock scripts/report-screenshot.sh          # runs backend-pause on the demo stack, then draws it
#   scripts/report-screenshot.sh results/<experiment_id>.json    # draws a result you already have (no Docker)
# The report is made by the sutazai.chaos.chaos_report action and photographed by headless Chromium
# (tests/integration/chromium.py: no network, and it fails if the page asked for anything).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=report-screenshot
cd "$REPO_ROOT"
HEIGHT="${REPORT_SCREENSHOT_HEIGHT:-1080}"
OUT=docs/report-screenshot.png

[ -x .venv/bin/ansible-playbook ] || die "no .venv (run make setup)"
command -v chromium >/dev/null || die "no chromium (scripts/setup.sh installs it)"
work="$(mktemp -d /tmp/report-screenshot.XXXXXX)"
trap 'rm -rf "$work"' EXIT
if [ "$#" -gt 0 ]; then
    [ -f "$1" ] || die "$1 is not a result file"
    cp "$1" "$work/"
else
    scripts/stack.sh up >/dev/null
    mkdir -m 0700 "$work/state"
    msg "running backend-pause on the demo stack"
    .venv/bin/ansible-playbook -i inventories/local playbooks/run_experiment.yml -e experiment=backend-pause \
        -e chaos_report_dir="$work" -e chaos_state_dir="$work/state" >"$work/run.log" \
        || { tail -40 "$work/run.log"; die "the experiment failed"; }
fi
result="$(find "$work" -maxdepth 1 -name '*.json' ! -name 'journal-*' | head -n 1)"
[ -n "$result" ] || die "no result file in $work"
ANSIBLE_LOCALHOST_WARNING=false .venv/bin/ansible localhost -c local -m sutazai.chaos.chaos_report \
    -a "src=$result dest=$work/out formats=html" >/dev/null
page="$(find "$work/out" -name '*.html' | head -n 1)"
mkdir -p docs
.venv/bin/python tests/integration/chromium.py "$page" "$work/shot.png" "$HEIGHT"
mv "$work/shot.png" "$OUT"
msg "wrote $OUT (1280x$HEIGHT) from $(basename "$result")"
