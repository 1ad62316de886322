#!/usr/bin/env bash
# Every test layer, fast to real. Each layer runs even when an earlier one
# failed; the summary shows each layer's result and time; exit 1 if any failed.
# TEST_LAYERS="unit sanity" limits the run to some layers.
set -uo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX="test"
cd "$REPO_ROOT" || exit 1

read -r -a layers <<< "${TEST_LAYERS:-unit sanity lint build kernel-lab integration fleet demo molecule}"
declare -A result seconds
failed=0
for layer in "${layers[@]}"; do
    script="scripts/run-${layer}.sh"
    msg "=== ${layer} (${script}) ==="
    start=$SECONDS
    if "$script"; then result[$layer]=pass; else result[$layer]=FAIL; failed=1; fi
    seconds[$layer]=$((SECONDS - start))
done

printf '\n%-12s %-6s %s\n' layer result seconds
for layer in "${layers[@]}"; do
    printf '%-12s %-6s %s\n' "$layer" "${result[$layer]}" "${seconds[$layer]}"
done
exit "$failed"
