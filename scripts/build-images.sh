#!/usr/bin/env bash
# Build sutazai-chaos/demo:1 (one image for the four demo services and the
# tests) when it is missing or its recipe (demo/image/**, demo/app/**) changed.
# With a local debian:bookworm-slim image: docker build demo/image/Dockerfile.
# Without a registry: mmdebstrap a rootfs and docker import it.
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"
LOG_PREFIX="${LOG_PREFIX:-setup}"
IMAGE="${DEMO_IMAGE:-sutazai-chaos/demo:1}"
LABEL=sutazai.chaos.recipe
cd "$REPO_ROOT"
# One build at a time (make stack and the tests may both ask for the image).
mkdir -p .cache
exec 9>.cache/build-images.lock
flock 9

recipe_hash() {
    find demo/image demo/app -type f ! -name '*.pyc' ! -path '*/__pycache__/*' -print0 \
        | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}
want="$(recipe_hash)"
have="$("$DOCKER" image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$IMAGE" 2>/dev/null || true)"
if [ "$have" = "$want" ] && [ "${FORCE:-0}" != 1 ]; then
    msg "image $IMAGE is up to date (recipe ${want:0:12})"
    exit 0
fi
if [ -n "$have" ]; then
    msg "image $IMAGE recipe changed (${have:0:12} -> ${want:0:12}): rebuilding"
else
    msg "building image $IMAGE (recipe ${want:0:12})"
fi
start_ns=$(date +%s%N)
packages="$(grep -v -e '^#' -e '^[[:space:]]*$' demo/image/packages.txt | tr '\n' ',' | sed 's/,$//')"

if "$DOCKER" image inspect debian:bookworm-slim >/dev/null 2>&1; then
    msg "debian:bookworm-slim found: docker build -f demo/image/Dockerfile demo"
    "$DOCKER" build -q --label "$LABEL=$want" -t "$IMAGE" -f demo/image/Dockerfile demo
else
    command -v mmdebstrap >/dev/null || die "mmdebstrap is missing (run scripts/setup.sh)"
    workdir="$REPO_ROOT/.cache/images"
    mkdir -p "$workdir"
    tar="$workdir/demo-rootfs.tar"
    trap 'rm -f "$tar"' EXIT
    msg "no base image and no registry: mmdebstrap bookworm (+ $packages)"
    # shellcheck disable=SC2016  # "$1" in the hooks is mmdebstrap's argument, expanded by mmdebstrap
    mmdebstrap --quiet --variant=minbase --include="$packages" \
        --customize-hook='mkdir -p "$1/opt/sutazai-demo"' \
        --customize-hook='sync-in demo/app /opt/sutazai-demo' \
        --customize-hook='chmod 0755 "$1"/opt/sutazai-demo/*.sh "$1"/opt/sutazai-demo/*.py' \
        --customize-hook='rm -rf "$1"/opt/sutazai-demo/__pycache__ "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin' \
        bookworm "$tar"
    "$DOCKER" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PYTHONUNBUFFERED=1' \
        --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
        --change 'WORKDIR /opt/sutazai-demo' \
        --change "LABEL $LABEL=$want" \
        --change 'CMD ["sleep","infinity"]' \
        "$tar" "$IMAGE" >/dev/null
fi
ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
msg "built $IMAGE in $((ms / 1000)).$(( (ms % 1000) / 100 )) s"
