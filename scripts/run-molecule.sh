#!/usr/bin/env bash
# Molecule test of the role container_chaos (extensions/molecule/container_chaos).
#   scripts/run-molecule.sh [extra `molecule test` args, e.g. --destroy=never]
# Needs `make setup` (.venv, .cache/collections, the image sutazai-chaos/demo:1).
# Exit code: molecule's.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=molecule
cd "$REPO_ROOT"  # Molecule finds the collection (galaxy.yml) and its scenarios from here

VENV_BIN="$REPO_ROOT/.venv/bin"
[ -x "$VENV_BIN/molecule" ] || die "no .venv/bin/molecule (run make setup)"
[ -e "$REPO_ROOT/.cache/collections/ansible_collections/sutazai/chaos" ] || \
    die "no .cache/collections/ansible_collections/sutazai/chaos (run make setup)"
"$(dirname "$0")/ensure-docker.sh"
"$DOCKER" image inspect sutazai-chaos/demo:1 >/dev/null 2>&1 || \
    die "no image sutazai-chaos/demo:1 (run make images)"

export PATH="$VENV_BIN:$PATH"
# Molecule's playbooks get their own ansible.cfg (from molecule.yml, with collections_path set
# to the checkout); this one is for Molecule's own ansible calls before that.
export ANSIBLE_CONFIG="$REPO_ROOT/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$REPO_ROOT/.cache/collections"
# Collection layout: scenarios live in extensions/molecule/. Naming the glob keeps a stray
# top-level molecule/ folder from switching Molecule back to the old layout.
export MOLECULE_GLOB="extensions/molecule/*/molecule.yml"
export DO_NOT_TRACK=1

# The scenario's platforms carry this label (extensions/molecule/container_chaos/molecule.yml).
PLATFORM_FILTER="label=com.docker.compose.project=sutazai-molecule-cc"
leftovers() { "$DOCKER" ps -aq --filter "$PLATFORM_FILTER"; }
# Molecule destroys its platforms when a step fails, but not when it is interrupted.
on_signal() {
    msg "interrupted: removing the scenario's containers"
    leftovers | xargs -r "$DOCKER" rm -f >/dev/null
    exit 130
}
trap on_signal INT TERM

start=$(date +%s)
rc=0
molecule test -s container_chaos "$@" || rc=$?
msg "molecule test -s container_chaos: exit $rc after $(( $(date +%s) - start )) s"
if [ -n "$(leftovers)" ]; then
    msg "warning: containers left behind ($PLATFORM_FILTER): $(leftovers | tr '\n' ' ')"
fi
exit "$rc"
