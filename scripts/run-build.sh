#!/usr/bin/env bash
# The collection as users get it: build the artifact, install it into an empty
# folder outside the checkout, and use it from there (docs and a module run).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX=build
cd "$REPO_ROOT"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
.venv/bin/ansible-galaxy collection build --force --output-path "$out" . >/dev/null
artifact=$(ls "$out"/sutazai-chaos-*.tar.gz)
msg "built $(basename "$artifact") ($(du -h "$artifact" | cut -f1))"
if tar -tzf "$artifact" | grep -E '^(\.venv|\.cache|tests/output|results)/' >/dev/null; then
    die "the artifact contains local folders (.venv, .cache, tests/output or results)"
fi
# From outside the checkout, so that its ansible.cfg (which points at the checkout) plays no part.
cd "$out"
export ANSIBLE_COLLECTIONS_PATH="$out/installed"
"$REPO_ROOT/.venv/bin/ansible-galaxy" collection install --offline --force -p "$out/installed" "$artifact" >/dev/null
doc=$("$REPO_ROOT/.venv/bin/ansible-doc" sutazai.chaos.container_chaos 2>&1) || true
case "$doc" in
    *"installed/ansible_collections/sutazai/chaos/plugins/modules/container_chaos.py"*) ;;
    *) die "ansible-doc does not read container_chaos from the installed collection: $doc" ;;
esac
for module in container_chaos chaos_rollback chaos_ledger_info health_probe; do
    "$REPO_ROOT/.venv/bin/ansible-doc" -t module "sutazai.chaos.$module" >/dev/null \
        || die "ansible-doc sutazai.chaos.$module fails from the installed artifact"
done
ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
    "$REPO_ROOT/.venv/bin/ansible" localhost -m sutazai.chaos.chaos_ledger_info \
    -a "state_dir=$out/state" -e "ansible_python_interpreter=$REPO_ROOT/.venv/bin/python" >/dev/null \
    || die "a module of the installed collection does not run"
msg "installed artifact works outside the checkout (ansible-doc of 4 modules, a module run)"

# Playbooks by their collection names (ansible-playbook sutazai.chaos.<name>): they must run, not only parse.
play() {
    ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false \
        "$REPO_ROOT/.venv/bin/ansible-playbook" -i localhost, -c local "$@" \
        -e "ansible_python_interpreter=$REPO_ROOT/.venv/bin/python" -e chaos_hosts=localhost \
        -e "chaos_state_dir=$out/state"
}
for book in "$REPO_ROOT"/playbooks/*.yml; do
    name=$(basename "$book" .yml)
    case "$name" in
        *-*) [ -f "$REPO_ROOT/playbooks/${name//-/_}.yml" ] || die "$book has no identifier-named twin" ;;
        *) [[ "$name" =~ ^[a-z_][a-z0-9_]*$ ]] || die "playbook $name is not an identifier" ;;
    esac
done
stopped=$(play sutazai.chaos.emergency_stop -e chaos_stop_reason=build-test 2>&1) \
    || die "ansible-playbook sutazai.chaos.emergency_stop failed from the installed artifact: $stopped"
[ -f "$out/state/emergency-stop" ] || die "sutazai.chaos.emergency_stop ran but set no flag in $out/state"
resumed=$(play sutazai.chaos.resume_chaos 2>&1) || die "ansible-playbook sutazai.chaos.resume_chaos failed: $resumed"
[ ! -e "$out/state/emergency-stop" ] || die "sutazai.chaos.resume_chaos ran but the flag is still set"
audit=$(play sutazai.chaos.audit 2>&1) || die "ansible-playbook sutazai.chaos.audit failed: $audit"
# The runner finds the catalogue shipped inside the installed collection, and validates it.
validated=$(play sutazai.chaos.run_experiment -e experiment=all -e validate_only=true \
    -e "@$REPO_ROOT/inventories/local/group_vars/all.yml" 2>&1) \
    || die "ansible-playbook sutazai.chaos.run_experiment (validate_only) failed: $validated"
shipped=$(find "$REPO_ROOT/experiments" -maxdepth 1 -name '*.yml' | wc -l)
grep -q "Valid ($shipped of $shipped)" <<<"$validated" \
    || die "sutazai.chaos.run_experiment did not validate the $shipped shipped experiments: $validated"
msg "playbooks run by collection name: emergency_stop, resume_chaos, audit, run_experiment (validated $shipped shipped experiments)"
