#!/usr/bin/env bash
# A local Prometheus (monitoring/prometheus.yml, with chaos-rules.yml) and Pushgateway, both on
# 127.0.0.1 only, run in the background. State, pid files and logs: .cache/monitoring/.
#   scripts/monitoring.sh up      start whichever is not running, wait until both answer /-/ready
#   scripts/monitoring.sh down    stop both (only the processes our pid files name)
#   scripts/monitoring.sh status  running or not, and whether each answers
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=monitoring
cd "$REPO_ROOT"

STATE_DIR="$REPO_ROOT/.cache/monitoring"
PROMETHEUS_BIN="${PROMETHEUS_BIN:-/usr/bin/prometheus}"
PUSHGATEWAY_BIN="${PUSHGATEWAY_BIN:-/usr/bin/prometheus-pushgateway}"
# Fixed: monitoring/prometheus.yml scrapes the Pushgateway at 127.0.0.1:9091.
PROMETHEUS_ADDR=127.0.0.1:9090
PUSHGATEWAY_ADDR=127.0.0.1:9091
WAIT_SECONDS="${MONITORING_WAIT_SECONDS:-60}"

argv_of() {
    case "$1" in
        prometheus)
            printf '%s\0' "$PROMETHEUS_BIN" \
                "--config.file=$REPO_ROOT/monitoring/prometheus.yml" \
                "--storage.tsdb.path=$STATE_DIR/prometheus" \
                "--web.listen-address=$PROMETHEUS_ADDR"
            ;;
        pushgateway)
            printf '%s\0' "$PUSHGATEWAY_BIN" \
                "--web.listen-address=$PUSHGATEWAY_ADDR" \
                "--persistence.file=$STATE_DIR/pushgateway.data" \
                "--persistence.interval=1m"
            ;;
    esac
}
addr_of() { if [ "$1" = prometheus ]; then echo "$PROMETHEUS_ADDR"; else echo "$PUSHGATEWAY_ADDR"; fi; }
pid_file() { echo "$STATE_DIR/$1.pid"; }

# The pid in our pid file when that process still runs our binary; nothing otherwise (a pid the
# kernel has since given to another program is never ours).
our_pid() {
    local file pid binary
    file="$(pid_file "$1")"
    [ -s "$file" ] || return 0
    pid="$(cat "$file")"
    binary="$(argv_of "$1" | head -z -n1 | tr -d '\0')"
    if [ -r "/proc/$pid/cmdline" ] && [ "$(head -z -n1 "/proc/$pid/cmdline" | tr -d '\0')" = "$binary" ]; then
        echo "$pid"
    fi
}

ready() { curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$(addr_of "$1")/-/ready" 2>/dev/null | grep -qx 200; }

start() {
    local name="$1" pid binary
    local -a argv
    pid="$(our_pid "$name")"
    if [ -n "$pid" ]; then
        msg "$name already runs (pid $pid)"
        return 0
    fi
    mapfile -d '' -t argv < <(argv_of "$name")
    binary="${argv[0]}"
    [ -x "$binary" ] || die "$binary is missing (run make setup)"
    if ready "$name"; then
        die "something else already answers on $(addr_of "$name") (not started by this script): stop it first"
    fi
    # setsid: its own session, so it outlives this script and a Ctrl-C in the calling terminal.
    setsid "${argv[@]}" </dev/null >"$STATE_DIR/$name.log" 2>&1 &
    echo $! >"$(pid_file "$name")"
    msg "started $name (pid $!, log .cache/monitoring/$name.log)"
}

wait_ready() {
    local name="$1" deadline=$((SECONDS + WAIT_SECONDS))
    until ready "$name"; do
        if [ -z "$(our_pid "$name")" ]; then
            tail -n 20 "$STATE_DIR/$name.log" | sed "s/^/monitoring: $name: /" >&2
            die "$name exited before it was ready (log: .cache/monitoring/$name.log; make monitoring-down stops the rest)"
        fi
        [ "$SECONDS" -lt "$deadline" ] || \
            die "$name not ready on $(addr_of "$name") after ${WAIT_SECONDS}s (log: .cache/monitoring/$name.log)"
        sleep 0.5
    done
}

stop() {
    local name="$1" pid
    pid="$(our_pid "$name")"
    if [ -z "$pid" ]; then
        msg "$name is not running"
        rm -f "$(pid_file "$name")"
        return 0
    fi
    kill -TERM "$pid"
    for _ in $(seq 1 40); do
        [ -d "/proc/$pid" ] || break
        sleep 0.25
    done
    if [ -d "/proc/$pid" ]; then
        msg "$name (pid $pid) ignored SIGTERM for 10s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$(pid_file "$name")"
    msg "stopped $name (pid $pid)"
}

status() {
    local name pid state answer
    for name in prometheus pushgateway; do
        pid="$(our_pid "$name")"
        if [ -n "$pid" ]; then state="running (pid $pid)"; else state="not running"; fi
        if ready "$name"; then answer="ready"; else answer="not answering"; fi
        printf '%-12s %-22s %-14s http://%s\n' "$name" "$state" "$answer" "$(addr_of "$name")"
    done
}

up() {
    mkdir -p "$STATE_DIR/prometheus"
    "$PROMETHEUS_BIN" --version >/dev/null 2>&1 || die "$PROMETHEUS_BIN is missing (run make setup)"
    start pushgateway
    start prometheus
    wait_ready pushgateway
    wait_ready prometheus
    msg "Prometheus:  http://$PROMETHEUS_ADDR  (rules: monitoring/chaos-rules.yml; alerts at /alerts)"
    msg "Pushgateway: http://$PUSHGATEWAY_ADDR"
    msg "Point the collection at it: chaos_metrics_pushgateway_url=http://$PUSHGATEWAY_ADDR"
    msg "  e.g. .venv/bin/ansible-playbook playbooks/run_experiment.yml -e experiment=basic-container-chaos \\"
    msg "         -e chaos_metrics_pushgateway_url=http://$PUSHGATEWAY_ADDR"
    msg "Grafana: import monitoring/chaos-dashboard.json, data source: Prometheus at http://$PROMETHEUS_ADDR"
    msg "Stop with: make monitoring-down"
}

case "${1:-}" in
    up) up ;;
    down)
        stop prometheus
        stop pushgateway
        ;;
    status) status ;;
    *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
