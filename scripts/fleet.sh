#!/usr/bin/env bash
# A fleet of throwaway SSH hosts for the collection's remote path:
#   scripts/fleet.sh up [N]     start N hosts (default 3) and write inventories/fleet/hosts.yml
#   scripts/fleet.sh down       remove every fleet host, the fleet network and hosts.yml
#   scripts/fleet.sh status     list the fleet hosts and their published SSH ports
# Each host is a container from sutazai-chaos/fleet-host:1 (built here with mmdebstrap + docker import,
# cached by recipe hash) running sshd (key auth only) as root, with python3, iproute2, iptables,
# stress-ng, procps, iputils-ping, libfaketime and sudo; NET_ADMIN and SYS_PTRACE (never --privileged); on the docker network
# szf-fleet; its port 22 published on 127.0.0.1 only. The key pair is made for the fleet under
# .cache/fleet/ (never committed). The same key also logs in as the ordinary user `chaos` (uid 1000, its
# own home), who may run anything as root through sudo without a password (/etc/sudoers.d/chaos, 0440):
# the way a real inventory connects, with `become`. The hosts have no Docker engine: they are targets for
# host-level faults.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=fleet
cd "$REPO_ROOT"

IMAGE="${FLEET_IMAGE:-sutazai-chaos/fleet-host:1}"
NETWORK="${FLEET_NETWORK:-szf-fleet}"
NAME_PREFIX="${FLEET_PREFIX:-szf-fleet-}"
FLEET_LABEL=sutazai.chaos.fleet
RECIPE_LABEL=sutazai.chaos.recipe
KEY_DIR="$REPO_ROOT/.cache/fleet"
KEY="$KEY_DIR/id_ed25519"
INVENTORY_DIR="$REPO_ROOT/inventories/fleet"
PACKAGES="openssh-server,python3,iproute2,iptables,stress-ng,procps,iputils-ping,libfaketime,sudo"
BECOME_USER=chaos
# NET_ADMIN for the faults; SYS_PTRACE because root on a real host has it (a container's root does not): with
# it root may read another user's /proc/<pid>/environ, where network_chaos under become (sudo resets the
# environment) finds the SSH login's SSH_CONNECTION, so the controller's address is spared.
CAPABILITIES=(--cap-add NET_ADMIN --cap-add SYS_PTRACE)

# Run by mmdebstrap inside the new root ("$1"): the ordinary user and its passwordless sudo. Its password field
# is "*" (no password, not locked: sshd without PAM refuses a locked account even with a valid key).
# shellcheck disable=SC2016  # "$1" is mmdebstrap's argument, expanded by mmdebstrap
BECOME_USER_HOOK='chroot "$1" useradd --create-home --uid 1000 --shell /bin/bash '"$BECOME_USER"' &&
  chroot "$1" usermod --password "*" '"$BECOME_USER"' &&
  printf "%s ALL=(ALL:ALL) NOPASSWD: ALL\n" '"$BECOME_USER"' > "$1"/etc/sudoers.d/'"$BECOME_USER"' &&
  chmod 0440 "$1"/etc/sudoers.d/'"$BECOME_USER"' &&
  chroot "$1" visudo -c -q'

# Runs as PID 1's child (docker --init reaps orphans): authorize the fleet key (for root and for the
# ordinary user), make a host key, run sshd.
# shellcheck disable=SC2016  # expanded by the host's shell, not here
ENTRYPOINT_SCRIPT='set -eu
install -d -m 0700 /root/.ssh /run/sshd
printf "%s\n" "$FLEET_PUBKEY" > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
install -d -m 0700 -o '"$BECOME_USER"' -g '"$BECOME_USER"' /home/'"$BECOME_USER"'/.ssh
printf "%s\n" "$FLEET_PUBKEY" > /home/'"$BECOME_USER"'/.ssh/authorized_keys
chown '"$BECOME_USER:$BECOME_USER"' /home/'"$BECOME_USER"'/.ssh/authorized_keys
chmod 0600 /home/'"$BECOME_USER"'/.ssh/authorized_keys
[ -f /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key
exec /usr/sbin/sshd -D -e -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
  -o PermitRootLogin=prohibit-password -o UsePAM=no -o HostKey=/etc/ssh/ssh_host_ed25519_key \
  -o MaxSessions=50 -o MaxStartups=100:30:200'

recipe_hash() {
    { printf '%s\n' "$PACKAGES" "$BECOME_USER_HOOK" "$ENTRYPOINT_SCRIPT" "${CAPABILITIES[*]}"; } | sha256sum | cut -d' ' -f1
}

build_image() {
    mkdir -p .cache
    exec 8>.cache/build-fleet-image.lock
    flock 8
    local want have
    want="$(recipe_hash)"
    have="$("$DOCKER" image inspect -f "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$IMAGE" 2>/dev/null || true)"
    if [ "$have" = "$want" ] && [ "${FORCE:-0}" != 1 ]; then
        msg "image $IMAGE is up to date (recipe ${want:0:12})"
        return
    fi
    command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (run scripts/setup.sh)"
    msg "building $IMAGE (recipe ${want:0:12}): mmdebstrap bookworm + $PACKAGES"
    local workdir="$REPO_ROOT/.cache/images" start=$SECONDS
    mkdir -p "$workdir"
    local tar="$workdir/fleet-rootfs.tar"
    # shellcheck disable=SC2016  # "$1" in the hooks is mmdebstrap's argument, expanded by mmdebstrap
    mmdebstrap --quiet --variant=minbase --include="$PACKAGES" \
        --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
        --customize-hook="$BECOME_USER_HOOK" \
        --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        bookworm "$tar"
    "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change "LABEL $RECIPE_LABEL=$want" \
        --change 'CMD ["sleep","infinity"]' \
        "$tar" "$IMAGE" >/dev/null
    rm -f "$tar"
    msg "built $IMAGE in $((SECONDS - start)) s"
}

ensure_key() {
    mkdir -p "$KEY_DIR"
    chmod 0700 "$KEY_DIR"
    [ -f "$KEY" ] || ssh-keygen -q -t ed25519 -N '' -C "sutazai-chaos fleet" -f "$KEY"
}

container_recipe() {
    "$DOCKER" inspect -f "{{ index .Config.Labels \"$RECIPE_LABEL\" }}" "$1" 2>/dev/null || true
}

fleet_names() {
    "$DOCKER" ps -a --filter "label=$FLEET_LABEL=$NETWORK" --format '{{.Names}}' | sort -V
}

write_inventory() {
    mkdir -p "$INVENTORY_DIR"
    local out="$INVENTORY_DIR/hosts.yml" name port
    {
        echo "# Generated by scripts/fleet.sh up; removed by scripts/fleet.sh down. Do not edit."
        echo "fleet:"
        echo "  hosts:"
        for name in $(fleet_names); do
            port="$("$DOCKER" port "$name" 22/tcp | head -n1 | sed 's/.*://')"
            echo "    $name:"
            echo "      ansible_port: $port"
            echo "      fleet_address: $("$DOCKER" inspect -f "{{ (index .NetworkSettings.Networks \"$NETWORK\").IPAddress }}" "$name")"
        done
        echo "  vars:"
        echo "    ansible_ssh_private_key_file: $KEY"
    } > "$out"
    msg "wrote $out"
}

wait_for_ssh() {
    local name port deadline=$((SECONDS + 30))
    for name in $(fleet_names); do
        port="$("$DOCKER" port "$name" 22/tcp | head -n1 | sed 's/.*://')"
        until ssh -q -i "$KEY" -p "$port" -o BatchMode=yes -o ConnectTimeout=2 -o StrictHostKeyChecking=no \
                -o UserKnownHostsFile=/dev/null root@127.0.0.1 true 2>/dev/null; do
            [ $SECONDS -lt $deadline ] || die "$name did not answer on 127.0.0.1:$port within 30 s"
            sleep 0.3
        done
    done
    msg "every fleet host answers over SSH"
}

up() {
    local count="${1:-3}" start=$SECONDS i name
    [[ "$count" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number of hosts, got '$count'"
    command -v ssh >/dev/null || die "ssh (openssh-client) is missing on this controller"
    scripts/ensure-docker.sh
    build_image
    ensure_key
    "$DOCKER" network inspect "$NETWORK" >/dev/null 2>&1 ||
        "$DOCKER" network create --label "$FLEET_LABEL=$NETWORK" "$NETWORK" >/dev/null
    for i in $(seq 1 "$count"); do
        name="$NAME_PREFIX$i"
        if "$DOCKER" inspect "$name" >/dev/null 2>&1; then
            if [ "$(container_recipe "$name")" = "$(recipe_hash)" ]; then
                "$DOCKER" start "$name" >/dev/null
                continue
            fi
            msg "$name was made from an older image recipe: making it again"
            "$DOCKER" rm -f "$name" >/dev/null
        fi
        "$DOCKER" run -d --init --name "$name" --hostname "$name" --network "$NETWORK" \
            --label "$FLEET_LABEL=$NETWORK" "${CAPABILITIES[@]}" -p 127.0.0.1::22 \
            -e FLEET_PUBKEY="$(cat "$KEY.pub")" "$IMAGE" /bin/sh -c "$ENTRYPOINT_SCRIPT" >/dev/null
    done
    # Hosts beyond N from an earlier, larger fleet go away.
    for name in $(fleet_names); do
        i="${name#"$NAME_PREFIX"}"
        if [ "$i" -gt "$count" ]; then "$DOCKER" rm -f "$name" >/dev/null; fi
    done
    write_inventory
    wait_for_ssh
    msg "fleet of $count host(s) up in $((SECONDS - start)) s: ansible -i inventories/fleet fleet -m ping"
}

down() {
    local names
    names="$(fleet_names)"
    # shellcheck disable=SC2086  # one word per container name
    if [ -n "$names" ]; then "$DOCKER" rm -f $names >/dev/null; fi
    "$DOCKER" network rm "$NETWORK" >/dev/null 2>&1 || true
    rm -f "$INVENTORY_DIR/hosts.yml"
    msg "fleet removed ($(echo "$names" | grep -c . || true) host(s))"
}

case "${1:-}" in
    up) up "${2:-3}" ;;
    down) down ;;
    status) "$DOCKER" ps -a --filter "label=$FLEET_LABEL=$NETWORK" --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}' ;;
    *) die "usage: scripts/fleet.sh up [N] | down | status" ;;
esac
