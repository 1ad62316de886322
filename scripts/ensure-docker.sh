#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: start dockerd if needed
# (installing docker.io first when root and dockerd is missing).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX="${LOG_PREFIX:-setup}"

if [ -x "$DOCKER" ] && "$DOCKER" info >/dev/null 2>&1; then
    msg "docker engine answers"
    exit 0
fi
if ! is_root; then
    die "no Docker engine answers and this is not root: start dockerd (or run 'sudo make setup')"
fi
if ! command -v dockerd >/dev/null 2>&1 || [ ! -x "$DOCKER" ]; then
    msg "installing docker.io"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
mkdir -p "$REPO_ROOT/.cache"
if pgrep -x dockerd >/dev/null 2>&1; then
    msg "dockerd runs but does not answer yet; waiting"
else
    msg "starting dockerd (log: .cache/dockerd.log)"
    # dockerd outlives this run: it keeps no descriptor of ours open beyond its log (a caller's lock file
    # or pipe would stay held for as long as the engine runs).
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            [ "$fd" -gt 2 ] && eval "exec ${fd}>&-" 2>/dev/null
        done
        exec setsid dockerd >"$REPO_ROOT/.cache/dockerd.log" 2>&1 </dev/null
    ) &
fi
for _ in $(seq 1 60); do
    if "$DOCKER" info >/dev/null 2>&1; then
        msg "docker engine answers"
        exit 0
    fi
    sleep 0.5
done
tail -n 20 "$REPO_ROOT/.cache/dockerd.log" >&2 || true
die "dockerd did not answer within 30 s (see .cache/dockerd.log)"
