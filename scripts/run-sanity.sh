#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection.
#   scripts/run-sanity.sh [extra ansible-test sanity args, e.g. --test pylint]
# ansible-test needs the source at .../ansible_collections/sutazai/chaos/; CI clones
# anywhere, so we copy the tracked and untracked-but-not-ignored files there
# The copy gets its own git repository: otherwise ansible-test would find the checkout's
# .git further up, ask it for files, and see none (.cache/ is git-ignored).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=sanity
cd "$REPO_ROOT"

VENV_BIN="$REPO_ROOT/.venv/bin"
[ -x "$VENV_BIN/ansible-test" ] || die "no .venv/bin/ansible-test (run make setup)"
[ -f "$HOME/.ansible/test/cache/get_pip_24_2.py" ] || \
    msg "warning: no get_pip stand-in in ~/.ansible/test/cache (scripts/setup.sh writes it); ansible-test may try the internet"

DEST_ROOT="$REPO_ROOT/.cache/ansible-test"
DEST="$DEST_ROOT/ansible_collections/sutazai/chaos"
rm -rf "$DEST_ROOT"
mkdir -p "$DEST"
# -z: names with spaces survive; files deleted in the work tree but still tracked are skipped.
git ls-files -z -co --exclude-standard | while IFS= read -r -d '' path; do
    [ -e "$path" ] || continue
    mkdir -p "$DEST/$(dirname "$path")"
    cp -p "$path" "$DEST/$path"
done
msg "copied $(find "$DEST" -type f | wc -l) files to $DEST"

cd "$DEST"
git init -q . && git add -A
start=$(date +%s)
rc=0
PATH="$VENV_BIN:$PATH" "$VENV_BIN/ansible-test" sanity --venv --python 3.11 --color no "$@" || rc=$?
msg "ansible-test sanity finished in $(( $(date +%s) - start ))s with rc=$rc"
exit "$rc"
