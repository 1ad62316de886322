#!/usr/bin/env bash
# Every test layer, fast to real. Each layer runs even when an earlier one
# failed; the summary shows each layer's result and time; exit 1 if any failed.
# TEST_LAYERS="unit sanity" limits the run to some layers.
# Layers run one after the other, except inside one token: "sanity/unit+lint+build" runs two lanes
# side by side (sanity; unit then lint then build). Only layers that use neither Docker nor timing
# share a token: ansible-test sanity, pytest unit tests, ansible-lint and the collection build are
# CPU work with no clock in their assertions, so the two cores run them together. A lane's output
# goes to results/test-<layer>.log and is printed whole when the token ends.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX="test"
cd "$REPO_ROOT" || exit 1

read -r -a tokens <<< "${TEST_LAYERS:-sanity/unit+lint+build/kernel-lab-build kernel-lab integration fleet demo molecule}"
declare -A result seconds
layers=()
failed=0

# One layer: its result and seconds into the tables above (in this shell) or, in a lane, into a file.
run_layer() {
    local layer=$1 start=$SECONDS
    msg "=== ${layer} (scripts/run-${layer}.sh) ==="
    # A copy for why_failed. Not a pipe into tee: the run would wait for every process that kept the pipe
    # open (anything a layer left running in the background); bash does not wait for a process substitution.
    if "scripts/run-${layer}.sh" > >(tee "results/layer-${layer}.log") 2>&1; then
        result[$layer]=pass
    else
        result[$layer]=FAIL
    fi
    seconds[$layer]=$((SECONDS - start))
}

# Why a layer failed, in a few lines at the very end (a CI log is often cut in the middle):
# pytest's FAILED/E lines, a kernel-lab check row that ends in FAIL, ansible's fatal lines.
why_failed() {
    local layer=$1
    echo "--- ${layer}: the lines that say why (whole output in results/layer-${layer}.log) ---"
    grep -a -E '^(FAILED|ERROR) |^E   |  FAIL$|checks, [1-9][0-9]* failed|fatal: \[|rc=[1-9]' \
        "results/layer-${layer}.log" 2>/dev/null | cut -c1-300 | tail -n 20
}

# A lane: its layers one after the other, output to results/test-<first layer>.log, results to a file.
run_lane() {
    local lane=$1 layer
    IFS=+ read -r -a lane_layers <<< "$lane"
    for layer in "${lane_layers[@]}"; do
        run_layer "$layer"
        echo "$layer ${result[$layer]} ${seconds[$layer]}" >> "results/test-lanes.txt"
    done
}

mkdir -p results
for token in "${tokens[@]}"; do
    if [[ "$token" != */* && "$token" != *+* ]]; then
        layers+=("$token")
        run_layer "$token"
        continue
    fi
    IFS=/ read -r -a lanes <<< "$token"
    rm -f results/test-lanes.txt
    pids=()
    for lane in "${lanes[@]}"; do
        run_lane "$lane" > "results/test-${lane%%+*}.log" 2>&1 &
        pids+=("$!")
    done
    wait "${pids[@]}"
    for lane in "${lanes[@]}"; do
        cat "results/test-${lane%%+*}.log"
    done
    while read -r layer res secs; do
        result[$layer]=$res
        seconds[$layer]=$secs
    done < results/test-lanes.txt
    for lane in "${lanes[@]}"; do
        IFS=+ read -r -a lane_layers <<< "$lane"
        for layer in "${lane_layers[@]}"; do
            layers+=("$layer")
            [ -n "${result[$layer]:-}" ] || { result[$layer]=FAIL; seconds[$layer]=-; }  # the lane died
        done
    done
done

for layer in "${layers[@]}"; do
    [ "${result[$layer]}" = pass ] || why_failed "$layer"
done
printf '\n%-17s %-6s %s\n' layer result seconds
for layer in "${layers[@]}"; do
    [ "${result[$layer]}" = pass ] || failed=1
    printf '%-17s %-6s %s\n' "$layer" "${result[$layer]}" "${seconds[$layer]}"
done
exit "$failed"
