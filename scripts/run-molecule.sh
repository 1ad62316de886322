#!/usr/bin/env bash
# Molecule tests of the roles: every scenario in extensions/molecule/ (container_chaos,
# network_chaos), one after the other, each with its runtime.
#   scripts/run-molecule.sh [extra `molecule test` args, e.g. --destroy=never]
#   MOLECULE_SCENARIOS="network_chaos" scripts/run-molecule.sh   # only some of them
# Needs `make setup` (.venv, .cache/collections, the image sutazai-chaos/demo:1).
# Exit code: 0 when every scenario passed, else the exit code of the last one that failed.
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

# Every scenario's platforms carry the compose label com.docker.compose.project=sutazai-molecule-*
# (extensions/molecule/*/molecule.yml).
leftovers() {
    "$DOCKER" ps -a --filter label=com.docker.compose.project \
        --format '{{.ID}} {{.Label "com.docker.compose.project"}}' | awk '$2 ~ /^sutazai-molecule-/ {print $1}'
}
# Molecule destroys its platforms when a step fails, but not when it is interrupted.
# shellcheck disable=SC2317  # called by the trap below
on_signal() {
    msg "interrupted: removing the scenarios' containers"
    leftovers | xargs -r "$DOCKER" rm -f >/dev/null
    exit 130
}
trap on_signal INT TERM

if [ -n "${MOLECULE_SCENARIOS:-}" ]; then
    read -r -a scenarios <<<"$MOLECULE_SCENARIOS"
else
    scenarios=()
    for f in extensions/molecule/*/molecule.yml; do
        [ -e "$f" ] && scenarios+=("$(basename "$(dirname "$f")")")
    done
fi
[ "${#scenarios[@]}" -gt 0 ] || die "no scenario found in extensions/molecule/"

rc=0
summary=()
# A scenario's containers, by its compose project label (sutazai-molecule-<short name>).
scenario_leftovers() {
    local project
    project=$(awk '/com.docker.compose.project:/ {print $2; exit}' "extensions/molecule/$1/molecule.yml")
    "$DOCKER" ps -aq --filter "label=com.docker.compose.project=$project"
}
for scenario in "${scenarios[@]}"; do
    start=$(date +%s)
    src=0
    # The scenarios' test_sequence starts at syntax: clean up only after an interrupted run.
    if [ -n "$(scenario_leftovers "$scenario")" ]; then
        msg "$scenario: containers of an interrupted run are left: molecule cleanup and destroy first"
        molecule cleanup -s "$scenario" || true
        molecule destroy -s "$scenario" || true
    fi
    molecule test -s "$scenario" "$@" || src=$?
    secs=$(( $(date +%s) - start ))
    msg "molecule test -s $scenario: exit $src after $secs s"
    summary+=("$scenario: $([ "$src" -eq 0 ] && echo pass || echo "FAIL (exit $src)") in $secs s")
    [ "$src" -eq 0 ] || rc=$src
    if [ -n "$(leftovers)" ]; then
        msg "warning: containers left behind (label com.docker.compose.project=sutazai-molecule-*): $(leftovers | tr '\n' ' ')"
    fi
done
for line in "${summary[@]}"; do msg "$line"; done
exit "$rc"
