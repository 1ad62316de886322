# Shared helpers for scripts/*.sh (sourced, not run).
# shellcheck shell=bash
# shellcheck disable=SC2034  # used by the scripts that source this file
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DOCKER:-/usr/bin/docker}"
# Talk to the local engine over its unix socket (docker-compose v1 included).
if [ -z "${DOCKER_HOST:-}" ]; then unset DOCKER_HOST; fi
unset DOCKER_CONTEXT 2>/dev/null || true

msg() { printf '%s: %s\n' "${LOG_PREFIX:-setup}" "$*"; }
die() { printf '%s: ERROR: %s\n' "${LOG_PREFIX:-setup}" "$*" >&2; exit 1; }
is_root() { [ "$(id -u)" -eq 0 ]; }
