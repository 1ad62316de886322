#!/usr/bin/env bash
# The plain-bash baseline of the kill-and-recover comparison: crash, then poll every 0.1 s until it answers.
# usage: kill-and-recover.sh CONTAINER URL      (prints the recovery seconds)
set -euo pipefail
kill -9 "$(/usr/bin/docker inspect -f '{{.State.Pid}}' "$1")"
start=$(date +%s.%N)
until curl -sf -o /dev/null --max-time 0.5 "$2"; do sleep 0.1; done
echo "$(date +%s.%N) - $start" | bc
