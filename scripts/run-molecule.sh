#!/usr/bin/env bash
# Molecule tests of the roles: every scenario in extensions/molecule/ (container_chaos,
# network_chaos, resource_stress, resilience), two at a time, each with its runtime.
#   scripts/run-molecule.sh [extra `molecule test` args, e.g. --destroy=never]
#   MOLECULE_SCENARIOS="network_chaos" scripts/run-molecule.sh   # only some of them
#   MOLECULE_JOBS=1 scripts/run-molecule.sh                       # one after the other
# Scenarios share nothing (own containers, compose project label, state folder, Molecule ephemeral
# folder), so they run side by side; each one's output goes to results/molecule-<scenario>.log
# and is printed whole when it ends, so logs never interleave.
# Needs `make setup` (.venv, .cache/collections, the image sutazai-chaos/demo:1).
# Exit code: 0 when every scenario passed, else the exit code of one that failed.
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
    msg "interrupted: ending the scenarios and removing their containers"
    local pid
    for pid in "${running[@]}"; do pkill -TERM -P "$pid" 2>/dev/null || true; done
    leftovers | xargs -r "$DOCKER" rm -f >/dev/null
    exit 130
}
running=()  # PIDs of the scenarios running now (see below)
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

# The longest first, so two lanes end close together (seconds measured on a 2-core machine).
order="resource_stress resilience network_chaos container_chaos"
sorted_scenarios=()
for name in $order; do
    for scenario in "${scenarios[@]}"; do [ "$scenario" = "$name" ] && sorted_scenarios+=("$scenario"); done
done
for scenario in "${scenarios[@]}"; do
    case " $order " in *" $scenario "*) ;; *) sorted_scenarios+=("$scenario") ;; esac
done

# A scenario's containers, by its compose project label (sutazai-molecule-<short name>).
scenario_leftovers() {
    local project
    project=$(awk '/com.docker.compose.project:/ {print $2; exit}' "extensions/molecule/$1/molecule.yml")
    "$DOCKER" ps -aq --filter "label=com.docker.compose.project=$project"
}
mkdir -p results
# One scenario, output to its log; its exit code and seconds to results/molecule-<scenario>.rc.
run_scenario() {
    local scenario=$1 start src=0
    shift
    start=$(date +%s)
    {
        # The scenarios' test_sequence starts at syntax: clean up only after an interrupted run.
        if [ -n "$(scenario_leftovers "$scenario")" ]; then
            msg "$scenario: containers of an interrupted run are left: molecule cleanup and destroy first"
            molecule cleanup -s "$scenario" || true
            molecule destroy -s "$scenario" || true
        fi
        molecule test -s "$scenario" "$@" || src=$?
    } > "results/molecule-$scenario.log" 2>&1
    echo "$src $(( $(date +%s) - start ))" > "results/molecule-$scenario.rc"
}
jobs_max=${MOLECULE_JOBS:-2}
finish_one() {
    # wait for any scenario of ours to end, then print its log and result
    wait -n "${running[@]}" || true
    local still=() pid scenario src secs
    for pid in "${running[@]}"; do
        if kill -0 "$pid" 2>/dev/null; then still+=("$pid"); fi
    done
    running=("${still[@]}")
    for scenario in "${sorted_scenarios[@]}"; do
        if [ -e "results/molecule-$scenario.rc" ] && [ ! -e "results/molecule-$scenario.shown" ]; then
            cat "results/molecule-$scenario.log"
            read -r src secs < "results/molecule-$scenario.rc"
            msg "molecule test -s $scenario: exit $src after $secs s"
            touch "results/molecule-$scenario.shown"
        fi
    done
}
rm -f results/molecule-*.rc results/molecule-*.shown
for next in "${sorted_scenarios[@]}"; do
    while [ "${#running[@]}" -ge "$jobs_max" ]; do finish_one; done
    msg "$next: started (log: results/molecule-$next.log)"
    run_scenario "$next" "$@" &
    running+=("$!")
done
while [ "${#running[@]}" -gt 0 ]; do finish_one; done

rc=0
for scenario in "${sorted_scenarios[@]}"; do
    read -r src secs < "results/molecule-$scenario.rc"
    msg "$scenario: $([ "$src" -eq 0 ] && echo pass || echo "FAIL (exit $src)") in $secs s"
    [ "$src" -eq 0 ] || rc=$src
done
rm -f results/molecule-*.shown
if [ -n "$(leftovers)" ]; then
    msg "warning: containers left behind (label com.docker.compose.project=sutazai-molecule-*): $(leftovers | tr '\n' ' ')"
fi
exit "$rc"
