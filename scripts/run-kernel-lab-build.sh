#!/usr/bin/env bash
# Kernel lab, build only: .cache/kernel-lab/ (a stock Debian kernel + initramfs, ~90 s cold, a few seconds
# when up to date). A layer of its own so `make test` builds it next to the static layers (it waits on the
# Debian mirror and dpkg, not on the clock); the kernel-lab layer then only boots.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=kernel-lab-build
cd "$REPO_ROOT"
is_root || die "the kernel lab build needs root (apt-get, mmdebstrap, dpkg -x)"
start=$(date +%s)
tests/kernel-lab/build.sh >/dev/null
msg "kernel lab ready in $(( $(date +%s) - start ))s ($(cat .cache/kernel-lab/kpkg))"
