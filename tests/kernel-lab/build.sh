#!/usr/bin/env bash
# Build (or reuse) the kernel lab: a stock Debian 12 kernel plus a base
# initramfs (Debian minbase rootfs with python3, iproute2, ping, iptables and
# the kernel's qdisc / classifier / netfilter / veth modules).
#
# Output, under .cache/kernel-lab/ (or $KERNEL_LAB_CACHE):
#   vmlinux       the kernel as an ELF (booted through QEMU's PVH entry: no
#                 in-guest decompression); vmlinuz, the bzImage, is kept too
#   base.cpio     the base initramfs, uncompressed (its /init only says "no
#                 overlay": the per-run overlay made by run.py adds /init, /lab)
#   kver          the kernel release (e.g. 6.1.0-56-amd64)
#   stamp         the cache key the two files were built from
#
# Rebuilds only when the key changes: this script's text, the kernel package
# version the archive offers, and the rootfs package list. Prints the cache dir.
# Needs root (apt-get, mmdebstrap into a directory, dpkg -x keeps ownership).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${KERNEL_LAB_CACHE:-$REPO/.cache/kernel-lab}"
SUITE="${KERNEL_LAB_SUITE:-bookworm}"
INCLUDE="python3-minimal,python3,iproute2,iputils-ping,kmod,iptables,mount"

log() { printf '[kernel-lab build] %s\n' "$*" >&2; }

# --- host tools --------------------------------------------------------------
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] || need+=(kmod)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { log "missing ${need[*]} and not root"; exit 2; }
    log "installing ${need[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2 \
        || { apt-get update -q >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2; }
fi
export PATH="$PATH:/usr/sbin:/sbin"

# --- which kernel -----------------------------------------------------------
KPKG="${KERNEL_LAB_KPKG:-}"
if [ -z "$KPKG" ]; then
    KPKG="$(apt-cache depends linux-image-amd64 2>/dev/null \
            | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)"
fi
if [ -z "$KPKG" ]; then
    apt-get update -q >&2 || true
    KPKG="$(apt-cache depends linux-image-amd64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)"
fi
[ -n "$KPKG" ] || { log "cannot find the kernel package (apt-cache depends linux-image-amd64)"; exit 1; }
KVERSION="$(apt-cache policy "$KPKG" | sed -n 's/^ *Candidate: //p')"
KREL="${KPKG#linux-image-}"

KEY="$( { sha256sum "$HERE/build.sh" | cut -d' ' -f1; echo "$KPKG=$KVERSION"; echo "$SUITE"; echo "$INCLUDE"; } | sha256sum | cut -d' ' -f1)"
if [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$KEY" ] \
   && [ -s "$CACHE/vmlinux" ] && [ -s "$CACHE/base.cpio" ]; then
    log "cached: $KPKG $KVERSION ($CACHE)"
    echo "$CACHE"; exit 0
fi

if [ "$(id -u)" != 0 ]; then
    log "must run as root to build (apt-get, mmdebstrap, dpkg -x)"; exit 2
fi
mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9                       # another build.sh in this checkout: wait, then reuse its result
if [ -f "$CACHE/stamp" ] && [ "$(cat "$CACHE/stamp")" = "$KEY" ]; then
    log "built meanwhile by another run"; echo "$CACHE"; exit 0
fi
log "building for $KPKG $KVERSION in $CACHE"
WORK="$CACHE/work"
rm -rf "$WORK"; mkdir -p "$WORK/kpkg"
t0=$SECONDS

# --- kernel (the .deb is kept: a change to this script does not fetch it again)
DEB="$CACHE/${KPKG}_${KVERSION}_amd64.deb"
if [ ! -s "$DEB" ]; then
    rm -f "$CACHE"/linux-image-*.deb
    ( cd "$WORK" && apt-get download -q "$KPKG=$KVERSION" >&2 )
    mv "$WORK"/linux-image-*.deb "$DEB"
fi
dpkg -x "$DEB" "$WORK/kpkg"
KDIR="$WORK/kpkg/lib/modules/$KREL"
[ -d "$KDIR" ] || { log "no $KDIR in the package"; exit 1; }
depmod -b "$WORK/kpkg" "$KREL"     # Debian ships no modules.dep: postinst makes it
log "kernel extracted ($((SECONDS - t0)) s)"

# --- rootfs (the slow part, ~100 s): kept as a tarball keyed on its recipe ------
MMOPTS=(--variant=minbase --include="$INCLUDE"
        --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
        --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/info/*')
RKEY="$(printf '%s\n' "$SUITE" "${MMOPTS[@]}" | sha256sum | cut -c1-16)"
RTAR="$CACHE/rootfs-$RKEY.tar"
if [ ! -s "$RTAR" ]; then
    rm -f "$CACHE"/rootfs-*.tar
    mmdebstrap --quiet "${MMOPTS[@]}" "$SUITE" "$WORK/rootfs.tar" >&2
    mv "$WORK/rootfs.tar" "$RTAR"
    log "rootfs built ($((SECONDS - t0)) s)"
fi
ROOT="$WORK/root"
mkdir -p "$ROOT"
tar -C "$ROOT" -xf "$RTAR"

# --- modules: everything under net/sched and netfilter, veth/ifb/dummy, plus
# their dependency closure (modprobe --show-depends against the full tree).
mkdir -p "$ROOT/lib/modules/$KREL"
{
    cd "$KDIR"
    find kernel/net/sched kernel/net/netfilter kernel/net/ipv4/netfilter \
         kernel/net/ipv6/netfilter kernel/net/bridge/netfilter \
         -name '*.ko*' 2>/dev/null || true
    for m in veth ifb dummy; do
        find kernel/drivers/net -maxdepth 1 -name "$m.ko*"
    done
} | sed 's|.*/||; s|\.ko.*$||' | sort -u > "$WORK/wanted"
while read -r m; do
    modprobe -d "$WORK/kpkg" -S "$KREL" --show-depends "$m" 2>/dev/null \
        | awk '$1=="insmod"{print $2}'
done < "$WORK/wanted" | sort -u > "$WORK/files"
while read -r f; do
    rel="${f#"$WORK"/kpkg/lib/modules/"$KREL"/}"
    mkdir -p "$ROOT/lib/modules/$KREL/$(dirname "$rel")"
    cp -a "$f" "$ROOT/lib/modules/$KREL/$rel"
done < "$WORK/files"
cp -a "$KDIR"/modules.order "$KDIR"/modules.builtin* "$ROOT/lib/modules/$KREL/" 2>/dev/null || true
depmod -b "$ROOT" "$KREL"
log "$(wc -l < "$WORK/files") modules copied ($(du -sh "$ROOT/lib/modules" | cut -f1))"

# --- trim what a test boot never reads (the guest unpacks every byte: ~45 ms/MB) ---
R="$ROOT"
rm -rf "$R"/var/cache/apt/* "$R"/var/lib/apt/lists/* "$R"/usr/share/zoneinfo \
       "$R"/usr/share/i18n "$R"/usr/lib/x86_64-linux-gnu/gconv "$R"/usr/lib/locale \
       "$R"/usr/share/perl "$R"/usr/share/perl5 "$R"/usr/lib/x86_64-linux-gnu/perl \
       "$R"/usr/lib/x86_64-linux-gnu/perl-base "$R"/usr/lib/x86_64-linux-gnu/libperl* \
       "$R"/usr/bin/perl* "$R"/var/lib/dpkg "$R"/var/cache/debconf "$R"/usr/lib/apt \
       "$R"/usr/lib/x86_64-linux-gnu/libapt* "$R"/usr/share/lintian \
       "$R"/usr/share/common-licenses "$R"/usr/share/bash-completion \
       "$R"/usr/lib/python3.11/test "$R"/usr/lib/python3.11/pydoc_data \
       "$R"/usr/lib/python3.11/idlelib "$R"/usr/lib/python3.11/ensurepip \
       "$R"/usr/lib/python3.11/lib2to3
# A fallback /init: the overlay from run.py replaces it.
cat > "$ROOT/init" <<'EOF'
#!/bin/sh
echo "kernel-lab: base initramfs booted without an overlay (no /lab/init)"
echo o > /proc/sysrq-trigger 2>/dev/null || true
EOF
chmod 755 "$ROOT/init"
mkdir -p "$ROOT/lab" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/run" "$ROOT/tmp"

# Uncompressed on purpose: under TCG the guest's gunzip costs more than the
# bytes (measured: gzip 41 MB 10.6 s, lz4 8.3 s, plain 102 MB 6.7 s to /init).
( cd "$ROOT" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet ) \
    > "$WORK/base.cpio"
# The bzImage decompresses itself in the guest (slow under TCG): boot the ELF
# vmlinux inside it instead (QEMU's PVH entry; Debian builds CONFIG_PVH=y).
python3 - "$WORK/kpkg/boot/vmlinuz-$KREL" "$WORK/vmlinux" <<'PY' || { log "no vmlinux extracted: booting the bzImage"; cp "$WORK/kpkg/boot/vmlinuz-$KREL" "$WORK/vmlinux"; }
import lzma, sys, zlib
data = open(sys.argv[1], "rb").read()
for magic, dec in ((b"\xfd7zXZ\x00", lambda b: lzma.LZMADecompressor().decompress(b)),
                   (b"\x1f\x8b\x08\x00", lambda b: zlib.decompressobj(31).decompress(b))):
    i = data.find(magic)
    while i >= 0:
        try:
            out = dec(data[i:])
        except Exception:
            out = b""
        if out[:4] == b"\x7fELF":
            open(sys.argv[2], "wb").write(out)
            sys.exit(0)
        i = data.find(magic, i + 1)
sys.exit(1)
PY
cp "$WORK"/kpkg/boot/vmlinuz-"$KREL" "$WORK/vmlinuz"
rm -f "$CACHE/base.cpio.gz"
mv -f "$WORK/base.cpio" "$CACHE/base.cpio"
mv -f "$WORK/vmlinuz" "$CACHE/vmlinuz"
mv -f "$WORK/vmlinux" "$CACHE/vmlinux"
echo "$KREL" > "$CACHE/kver"
echo "$KPKG=$KVERSION" > "$CACHE/kpkg"
echo "$KEY" > "$CACHE/stamp"
rm -rf "$WORK"
log "done in $((SECONDS - t0)) s: $(du -h "$CACHE/base.cpio" | cut -f1) base initramfs, kernel $KREL"
echo "$CACHE"
