#!/usr/bin/env bash
# Everything this checkout needs, from a bare Debian 12 machine (root) to a
# working toolchain; quick and quiet when nothing changed.
#   a. host tools (apt)          d. ansible-test get-pip stand-in
#   b. .venv from requirements   e. Docker engine (scripts/ensure-docker.sh)
#   c. collections, no Galaxy    f. demo image   (scripts/build-images.sh)
# SETUP_SKIP_DOCKER=1 skips e and f (e.g. for lint-only jobs).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=setup
cd "$REPO_ROOT"
t0=$SECONDS

ANSIBLE_VERSION=12.3.0
# awx.awx: playbooks/awx_configure.yml (AWX / Automation Controller as code)
COLLECTIONS=(community/docker community/library_inventory_filtering_v1 ansible/posix awx/awx)
WHEELS=.cache/wheels
COLL_ROOT=.cache/collections/ansible_collections

# ---- a. host tools ---------------------------------------------------------
missing=()
need() { # need PACKAGE TEST...
    local pkg=$1; shift
    "$@" >/dev/null 2>&1 || missing+=("$pkg")
}
need docker.io      test -x /usr/bin/docker -a -x /usr/sbin/dockerd
need docker-compose test -x /usr/bin/docker-compose
need mmdebstrap     command -v mmdebstrap
need iptables       command -v iptables
need stress-ng      command -v stress-ng
need procps         command -v pgrep
need iproute2       command -v ip
need util-linux     command -v nsenter
need curl           command -v curl
need shellcheck     command -v shellcheck   # ansible-test sanity skips its shellcheck test without it
need prometheus     test -x /usr/bin/prometheus   # health_probe and monitoring tests start their own on 127.0.0.1
need prometheus-pushgateway test -x /usr/bin/prometheus-pushgateway   # chaos_metrics tests push to a real one
need cron           command -v crontab   # ansible.builtin.cron (monkey schedules) needs crontab even in check mode
need chromium       command -v chromium  # report tests open the HTML report in headless Chromium and read its screenshot back
need openssh-client command -v ssh-keygen   # the fleet layer (scripts/fleet.sh) logs in to its SSH hosts
need python3-venv   sh -c '/usr/bin/python3 -c "import ensurepip, venv" && ls /usr/share/python-wheels/pip-*.whl'
if [ "${#missing[@]}" -gt 0 ]; then
    if ! is_root; then
        die "missing host packages: ${missing[*]} (install them as root: apt-get install -y ${missing[*]})"
    fi
    msg "installing host packages: ${missing[*]}"
    apt-get update -qq
    # No recommends: prometheus would pull in exporters and start services the tests do not use.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    msg "host tools present"
fi

# ---- b. virtualenv ---------------------------------------------------------
PY=/usr/bin/python3.11
[ -x "$PY" ] || PY=/usr/bin/python3
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' >/dev/null 2>&1; then
    msg "creating .venv with $PY"
    rm -rf .venv
    "$PY" -m venv .venv
fi
want_req="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat .venv/.requirements.sha256 2>/dev/null || true)" != "$want_req" ]; then
    msg "installing requirements.txt into .venv"
    .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
    echo "$want_req" > .venv/.requirements.sha256
else
    msg ".venv matches requirements.txt"
fi

# ---- c. collections from the ansible wheel (Galaxy is unreachable) ---------
# the stamp names the collections too: adding one re-extracts
stamp="$COLL_ROOT/.from-ansible-$ANSIBLE_VERSION-$(echo "${COLLECTIONS[*]}" | tr ' /' '+_')"
if [ ! -f "$stamp" ]; then
    wheel="$(find "$WHEELS" -maxdepth 1 -name "ansible-$ANSIBLE_VERSION-*.whl" 2>/dev/null | head -n 1 || true)"
    if [ -z "$wheel" ]; then
        msg "downloading the ansible==$ANSIBLE_VERSION wheel (for its collections)"
        mkdir -p "$WHEELS"
        .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps \
            --only-binary=:all: "ansible==$ANSIBLE_VERSION" -d "$WHEELS"
        wheel="$(find "$WHEELS" -maxdepth 1 -name "ansible-$ANSIBLE_VERSION-*.whl" | head -n 1)"
    fi
    msg "extracting ${COLLECTIONS[*]} from $(basename "$wheel")"
    .venv/bin/python - "$wheel" .cache/collections "${COLLECTIONS[@]}" <<'PY'
import os, shutil, sys, zipfile
wheel, dest, names = sys.argv[1], sys.argv[2], sys.argv[3:]
prefixes = ["ansible_collections/%s/" % n for n in names]
for p in prefixes:
    shutil.rmtree(os.path.join(dest, p), ignore_errors=True)
with zipfile.ZipFile(wheel) as zf:
    members = [m for m in zf.namelist() if any(m.startswith(p) for p in prefixes)]
    for p in prefixes:
        if not any(m.startswith(p) for m in members):
            sys.exit("setup: %s not found in %s" % (p, wheel))
    zf.extractall(dest, members)
PY
    touch "$stamp"
else
    msg "collections from ansible $ANSIBLE_VERSION present"
fi
# The checkout is the collection sutazai.chaos (relative link: works wherever it is cloned).
mkdir -p "$COLL_ROOT/sutazai"
link="$COLL_ROOT/sutazai/chaos"
if [ "$(readlink "$link" 2>/dev/null || true)" != "../../../.." ]; then
    msg "linking $link -> ../../../.. (this checkout)"
    rm -rf "$link"
    ln -s ../../../.. "$link"
fi

# ---- d. ansible-test's pip bootstrap, offline ------------------------------
getpip="$HOME/.ansible/test/cache/get_pip_24_2.py"
if [ ! -f "$getpip" ]; then
    msg "writing offline stand-in $getpip"
    mkdir -p "$(dirname "$getpip")"
    cat > "$getpip" <<'PY'
"""Offline stand-in for get-pip.py 24.2 (written by sutazai.chaos scripts/setup.sh).

ansible-test downloads get-pip.py to bootstrap pip in its virtualenvs; without
internet, use the interpreter's bundled pip (ensurepip) and then install what
was asked for from the configured package index.
"""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip"])
if any(not a.startswith("-") for a in args):
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi

# ---- e./f. Docker engine and demo image ------------------------------------
if [ "${SETUP_SKIP_DOCKER:-0}" != 1 ]; then
    "$REPO_ROOT/scripts/ensure-docker.sh"
    "$REPO_ROOT/scripts/build-images.sh"
fi
msg "done in $((SECONDS - t0)) s"
