#!/usr/bin/env bash
# The demo stack (demo/docker-compose.yml, project sutazai-demo).
#   scripts/stack.sh up      engine + image, compose up -d, wait for frontend health
#   scripts/stack.sh down    remove containers, network and volumes
#   scripts/stack.sh status  containers and their health
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=stack
PROJECT=sutazai-demo
COMPOSE_FILE_PATH="$REPO_ROOT/demo/docker-compose.yml"
HEALTH_URL="http://127.0.0.1:18001/health"
WAIT_SECONDS="${STACK_WAIT_SECONDS:-90}"
cd "$REPO_ROOT"

compose() { docker-compose -p "$PROJECT" -f "$COMPOSE_FILE_PATH" "$@"; }

status() {
    "$DOCKER" ps -a --filter "label=com.docker.compose.project=$PROJECT" \
        --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}'
}

http_code() { curl -s -o /dev/null -m 4 -w '%{http_code}' "$1" 2>/dev/null || true; }

up() {
    LOG_PREFIX=stack "$REPO_ROOT/scripts/ensure-docker.sh"
    LOG_PREFIX=stack "$REPO_ROOT/scripts/build-images.sh"
    command -v docker-compose >/dev/null || die "docker-compose is missing (run make setup)"
    compose up -d --remove-orphans 2>&1 | sed 's/^/stack: compose: /'
    msg "waiting up to ${WAIT_SECONDS}s for $HEALTH_URL"
    local deadline=$((SECONDS + WAIT_SECONDS)) code=""
    while [ "$SECONDS" -lt "$deadline" ]; do
        code="$(http_code "$HEALTH_URL")"
        [ "$code" = 200 ] && break
        sleep 1
    done
    if [ "$code" != 200 ]; then
        status
        compose logs --tail=20 2>&1 | sed 's/^/stack: /' >&2
        die "frontend health did not answer 200 within ${WAIT_SECONDS}s (last: ${code:-none})"
    fi
    # Give Docker's own healthchecks the rest of the time to agree.
    while [ "$SECONDS" -lt "$deadline" ]; do
        local not_healthy
        not_healthy="$("$DOCKER" ps -a --filter "label=com.docker.compose.project=$PROJECT" \
            --format '{{.Names}} {{.Status}}' | grep -v '(healthy)' || true)"
        [ -z "$not_healthy" ] && break
        sleep 1
    done
    msg "frontend healthy; containers:"
    status
}

case "${1:-}" in
    up) up ;;
    down)
        if "$DOCKER" info >/dev/null 2>&1; then
            compose down -v --remove-orphans 2>&1 | sed 's/^/stack: compose: /'
        else
            msg "no docker engine answers: nothing to remove"
        fi
        ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
