#!/usr/bin/env bash
# Unit tests (tests/unit, pytest) with the project venv, from the repository root.
#   scripts/run-unit.sh [extra pytest args, e.g. -k ledger -x]
# tests/unit/conftest.py puts .cache/collections (made by `make setup`) on sys.path so that
# ansible_collections.sutazai.chaos imports from this checkout.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=unit
cd "$REPO_ROOT"

PYTHON="$REPO_ROOT/.venv/bin/python"
[ -x "$PYTHON" ] || die "no .venv/bin/python (run make setup)"
[ -e .cache/collections/ansible_collections/sutazai/chaos ] || die "no .cache/collections link (run make setup)"

start=$(date +%s)
rc=0
"$PYTHON" -m pytest tests/unit -p no:cacheprovider -ra "$@" || rc=$?
msg "pytest tests/unit finished in $(( $(date +%s) - start ))s with rc=$rc ($([ "$rc" -eq 0 ] && echo PASS || echo FAIL))"
exit "$rc"
