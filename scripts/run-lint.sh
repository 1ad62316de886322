#!/usr/bin/env bash
# ansible-lint over roles, playbooks and the rest of the collection (settings: .ansible-lint).
#   scripts/run-lint.sh [extra ansible-lint args or paths]
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=lint
cd "$REPO_ROOT"

[ -x .venv/bin/ansible-lint ] || die "no .venv/bin/ansible-lint (run make setup)"
# The collection itself and the ones make setup unpacked resolve from here, not ~/.ansible.
export ANSIBLE_COLLECTIONS_PATH="$REPO_ROOT/.cache/collections"
export ANSIBLE_HOME="${ANSIBLE_HOME:-$REPO_ROOT/.cache/ansible-home}"
[ -t 1 ] || set -- --nocolor "$@"  # plain text in logs and CI
start=$(date +%s)
rc=0
PATH="$REPO_ROOT/.venv/bin:$PATH" .venv/bin/ansible-lint "$@" || rc=$?
msg "ansible-lint finished in $(( $(date +%s) - start ))s with rc=$rc"
exit "$rc"
