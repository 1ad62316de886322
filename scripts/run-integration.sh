#!/usr/bin/env bash
# Integration tests: the modules against a real Docker engine on this machine.
# Starts dockerd and builds the demo image when needed, then runs
# tests/integration with pytest from the repo root (so ansible.cfg applies).
# Extra arguments go to pytest (e.g. -k reaper, -s to see the measured figures).
# JUnit XML, with the measured timings as properties: results/integration.xml.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=integration
cd "$REPO_ROOT"

[ -x .venv/bin/python ] || die ".venv is missing: run 'make setup' first"
[ -d .cache/collections/ansible_collections/community/docker ] || die ".cache/collections is missing: run 'make setup'"
scripts/ensure-docker.sh
scripts/build-images.sh
mkdir -p results
start=$SECONDS
status=0
.venv/bin/python -m pytest tests/integration -v -p no:cacheprovider \
    --junitxml=results/integration.xml -o junit_family=xunit1 "$@" || status=$?
msg "finished in $((SECONDS - start)) s (exit $status); timings: results/integration.xml"
exit "$status"
