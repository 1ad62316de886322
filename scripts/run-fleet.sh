#!/usr/bin/env bash
# Fleet tests: the collection over real SSH against a fleet of 3 hosts (scripts/fleet.sh up 3), then the
# fleet is taken down again (also when the tests fail). Extra arguments go to pytest (e.g. -k partition, -s
# to see the measured figures). FLEET_KEEP=1 keeps the fleet up afterwards.
# JUnit XML: results/fleet.xml.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=fleet
cd "$REPO_ROOT"

[ -x .venv/bin/python ] || die ".venv is missing: run 'make setup' first"
[ -d .cache/collections/ansible_collections/ansible/posix ] || die ".cache/collections is missing: run 'make setup'"
start=$SECONDS
if [ "${FLEET_KEEP:-0}" != 1 ]; then trap 'scripts/fleet.sh down' EXIT; fi
scripts/fleet.sh up "${FLEET_SIZE:-3}"
mkdir -p results
status=0
.venv/bin/python -m pytest tests/fleet -v -p no:cacheprovider \
    --junitxml=results/fleet.xml -o junit_family=xunit1 "$@" || status=$?
msg "finished in $((SECONDS - start)) s (exit $status); timings: results/fleet.xml"
exit "$status"
