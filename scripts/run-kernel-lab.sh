#!/usr/bin/env bash
# Kernel lab: run tests/kernel-lab/test_*.py as root inside a stock Debian 12
# kernel under QEMU (TCG), where sch_netem exists (the host kernel has none).
#   scripts/run-kernel-lab.sh                      every tests/kernel-lab/test_*.py, one boot each (~20-25 s a boot)
#   scripts/run-kernel-lab.sh tests/kernel-lab/test_netem_smoke.py [...]
#   KERNEL_LAB_ONE_BOOT=1 scripts/run-kernel-lab.sh    all scripts in a single boot (saves a boot per script)
#   KERNEL_LAB_TIMEOUT=300 ...                     seconds per boot (default 240)
# First run builds .cache/kernel-lab/ (kernel + base initramfs, needs root and the
# Debian mirror, ~2.5 min); later runs reuse it (tests/kernel-lab/build.sh decides).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=kernel-lab
cd "$REPO_ROOT"

start=$(date +%s)
is_root || die "the kernel lab build needs root (apt-get, mmdebstrap, dpkg -x)"
tests/kernel-lab/build.sh >/dev/null
built=$(date +%s)
msg "kernel lab ready in $(( built - start ))s ($(cat .cache/kernel-lab/kpkg))"

if [ $# -gt 0 ]; then
    scripts=("$@")
else
    mapfile -t scripts < <(find tests/kernel-lab -maxdepth 1 -name 'test_*.py' | sort)
fi
[ ${#scripts[@]} -gt 0 ] || die "no tests/kernel-lab/test_*.py"

args=(--no-build --timeout "${KERNEL_LAB_TIMEOUT:-240}")
[ "${KERNEL_LAB_ONE_BOOT:-0}" = 1 ] && args+=(--one-boot)
rc=0
python3 tests/kernel-lab/run.py "${args[@]}" "${scripts[@]}" || rc=$?
msg "${#scripts[@]} guest script(s) in $(( $(date +%s) - built ))s (build/check $(( built - start ))s), rc=$rc ($([ "$rc" -eq 0 ] && echo PASS || echo FAIL))"
exit "$rc"
