# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run guest scripts as root inside a stock Debian 12 kernel under QEMU (TCG).

    from run import run_in_guest          # sys.path: tests/kernel-lab
    code, output = run_in_guest("tests/kernel-lab/test_netem_smoke.py")

or from a shell:

    python3 tests/kernel-lab/run.py tests/kernel-lab/test_*.py      # one boot each
    python3 tests/kernel-lab/run.py --one-boot tests/kernel-lab/test_*.py

Each boot gets a small per-run cpio (the "overlay") appended to the
cached base initramfs from build.sh: the kernel unpacks concatenated archives
in order, so the overlay's files win. The overlay holds:

    /init                                         mounts, lo up, modprobe, runs the scripts, powers off
    /lab/ansible_collections/sutazai/chaos/plugins/...   this checkout's plugins/ (empty __init__.py above)
    /lab/labnet.py  (and every other non-test *.py of tests/kernel-lab/)
    /lab/tests/<name>.py                          the guest scripts

and the scripts run as ``cd /lab && PYTHONPATH=/lab KERNEL_LAB=1 python3 -u /lab/tests/<name>.py``
(their arguments: none; stdin: /dev/null). Host only needs Python 3 and qemu.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CACHE = os.environ.get("KERNEL_LAB_CACHE") or os.path.join(REPO, ".cache", "kernel-lab")

# Loaded before the scripts run (a missing one is reported, not fatal).
MODULES = ("sch_netem sch_prio sch_tbf sch_htb sch_ingress sch_fq_codel cls_u32 cls_basic "
           "cls_matchall cls_fw act_mirred act_gact ifb veth "
           "nf_tables nft_compat x_tables xt_statistic xt_tcpudp xt_comment xt_multiport "
           "ip_tables iptable_filter ipt_REJECT nf_reject_ipv4").split()

# exit codes when the script's own code is unknown
TIMEOUT = 124       # no end marker before the timeout
NO_MARKER = 125     # the guest stopped (panic, crash) without the end marker

_INIT = r"""#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run /tmp /root
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /dev/shm
echo 1 > /proc/sys/kernel/printk
hostname kernel-lab
ip link set lo up
t_init=$(cut -d' ' -f1 /proc/uptime)
modprobe -a -q @MODULES@ 2>/dev/null || {
    missing=""
    for m in @MODULES@; do [ -d /sys/module/$m ] || missing="$missing $m"; done
    echo "kernel-lab: modules not loaded:$missing"
}
echo "@TOKEN@ READY kernel=$(uname -r) init=$t_init up=$(cut -d' ' -f1 /proc/uptime)"
cd /lab
for t in @TESTS@; do
    echo "@TOKEN@ BEGIN $t"
    PYTHONPATH=/lab KERNEL_LAB=1 python3 -u /lab/tests/$t </dev/null 2>&1
    rc=$?
    echo "@TOKEN@ END $t rc=$rc up=$(cut -d' ' -f1 /proc/uptime)"
    # between scripts of one boot: drop what a script may have left behind
    ip -all netns delete 2>/dev/null
    tc qdisc del dev lo root 2>/dev/null
    for l in $(ls /sys/class/net); do [ "$l" = lo ] || ip link del "$l" 2>/dev/null; done
    iptables -F 2>/dev/null; iptables -t mangle -F 2>/dev/null
done
echo "@TOKEN@ POWEROFF"
echo o > /proc/sysrq-trigger
sleep 10
"""


class _Cpio(object):
    """A minimal newc cpio writer (what the kernel's initramfs unpacker reads)."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1
        self.dirs = set()

    def _entry(self, name, mode, data=b""):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, int(time.time()),
                  len(data), 0, 0, 0, 0, len(name_b), 0]
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.buf.write(hdr + name_b)
        self.buf.write(b"\0" * (-(len(hdr) + len(name_b)) % 4))
        self.buf.write(data)
        self.buf.write(b"\0" * (-len(data) % 4))

    def dir(self, path):
        path = path.strip("/")
        parts = path.split("/")
        for i in range(1, len(parts) + 1):
            p = "/".join(parts[:i])
            if p and p not in self.dirs:
                self.dirs.add(p)
                self._entry(p, stat.S_IFDIR | 0o755)

    def file(self, path, data, mode=0o644):
        path = path.strip("/")
        if "/" in path:
            self.dir(path.rsplit("/", 1)[0])
        if isinstance(data, str):
            data = data.encode()
        self._entry(path, stat.S_IFREG | mode, data)

    def tree(self, src, dst):
        for root, dirs, files in os.walk(src):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__" and not d.startswith("."))
            rel = os.path.relpath(root, src)
            base = dst if rel == "." else dst + "/" + rel
            self.dir(base)
            for f in sorted(files):
                if f.endswith((".pyc", ".pyo")):
                    continue
                with open(os.path.join(root, f), "rb") as fh:
                    self.file(base + "/" + f, fh.read())

    def finish(self):
        self._entry("TRAILER!!!", 0)
        self.buf.write(b"\0" * (-self.buf.tell() % 512))
        return self.buf.getvalue()


def build(quiet=True):
    """Run build.sh (cached: about a second when nothing changed). Needs root the first time."""
    p = subprocess.run(["bash", os.path.join(HERE, "build.sh")], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL if quiet else None, text=True, check=False)
    if p.returncode != 0:
        raise RuntimeError("tests/kernel-lab/build.sh failed (rc=%d); run it by hand to see why"
                           % p.returncode)


def _guest_name(path, i):
    name = os.path.basename(path)
    return "%02d_%s" % (i, name if name.endswith(".py") else name + ".py")


def make_overlay(scripts, token, modules=MODULES, extra_files=None):
    """The per-run cpio (uncompressed, a few hundred kB): /init, /lab/..., the scripts. Returns the guest names."""
    c = _Cpio()
    names = [_guest_name(s, i) for i, s in enumerate(scripts)]
    init = (_INIT.replace("@MODULES@", " ".join(modules)).replace("@TOKEN@", token)
            .replace("@TESTS@", " ".join(names)))
    c.file("init", init, 0o755)
    coll = "lab/ansible_collections"
    for pkg in (coll, coll + "/sutazai", coll + "/sutazai/chaos"):
        c.file(pkg + "/__init__.py", b"")
    c.tree(os.path.join(REPO, "plugins"), coll + "/sutazai/chaos/plugins")
    for f in sorted(os.listdir(HERE)):
        if f.endswith(".py") and not f.startswith("test_") and f != "run.py":
            with open(os.path.join(HERE, f), "rb") as fh:
                c.file("lab/" + f, fh.read())
    for dst, src in sorted((extra_files or {}).items()):
        with open(src, "rb") as fh:
            c.file("lab/" + dst.lstrip("/"), fh.read(), 0o755 if os.access(src, os.X_OK) else 0o644)
    for s, n in zip(scripts, names):
        with open(s, "rb") as fh:
            c.file("lab/tests/" + n, fh.read(), 0o755)
    return c.finish(), names


def _kernel(cache):
    for name in ("vmlinux", "vmlinuz"):
        if os.path.exists(os.path.join(cache, name)):
            return os.path.join(cache, name)
    raise RuntimeError("no kernel in %s: run tests/kernel-lab/build.sh (as root)" % cache)


def boot(scripts, timeout=180, memory=1024, cache=CACHE, extra_files=None, smp=1, echo=None):
    """Boot once, run ``scripts`` in order. Returns (results, console, seconds)
    where results is a list of (exit_code, output) in the order of ``scripts``."""
    scripts = [os.path.abspath(s) for s in scripts]
    token = "@@LAB-" + uuid.uuid4().hex[:10]
    overlay, names = make_overlay(scripts, token, extra_files=extra_files)
    tmp = tempfile.mkdtemp(prefix="kernel-lab-")
    try:
        initrd = os.path.join(tmp, "initrd")
        with open(initrd, "wb") as out, open(os.path.join(cache, "base.cpio"), "rb") as base:
            shutil.copyfileobj(base, out, 1 << 20)
            out.write(b"\0" * (-out.tell() % 4))
            out.write(overlay)
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(memory), "-smp", str(smp),
                "-nographic", "-no-reboot", "-nic", "none",
                "-kernel", _kernel(cache), "-initrd", initrd,
                "-append", "console=ttyS0 quiet loglevel=1 panic=-1 rdinit=/init"]
        t0 = time.monotonic()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        chunks = []
        timed_out = False
        deadline = t0 + timeout
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not sel.select(timeout=min(left, 1.0)):
                continue
            data = os.read(proc.stdout.fileno(), 65536)
            if not data:
                break
            chunks.append(data)
            if echo:
                echo.write(data.decode("utf-8", "replace").replace("\r", ""))
                echo.flush()
        if timed_out:
            proc.kill()
        proc.wait()
        elapsed = time.monotonic() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    console = b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "")
    results = []
    for n in names:
        m = re.search(r"^%s BEGIN %s\n(.*?)^%s END %s rc=(\d+)" % (token, re.escape(n), token, re.escape(n)),
                      console, re.S | re.M)
        if m:
            results.append((int(m.group(2)), m.group(1)))
            continue
        m = re.search(r"^%s BEGIN %s\n(.*)" % (token, re.escape(n)), console, re.S | re.M)
        code = TIMEOUT if timed_out else NO_MARKER
        why = ("kernel-lab: no end marker (%s after %.0f s)\n"
               % ("timeout" if timed_out else "guest stopped", elapsed))
        results.append((code, (m.group(1) if m else "kernel-lab: script never started; console:\n"
                               + console[-4000:]) + why))
    return results, console, elapsed


def run_in_guest(script_path, timeout=180, memory=1024, extra_files=None, build_first=True):
    """Boot a fresh guest, run ``script_path`` there as root, return (exit_code, output).

    exit_code is the script's own exit status; 124 if it did not finish within
    ``timeout`` seconds (whole boot), 125 if the guest died without finishing.
    output is the script's stdout+stderr (console line endings normalised).
    ``extra_files`` maps guest paths under /lab to host files, e.g.
    ``{"data/x.json": "/tmp/x.json"}`` -> /lab/data/x.json.
    """
    if build_first:
        build()
    results, _console, _secs = boot([script_path], timeout=timeout, memory=memory,
                                    extra_files=extra_files)
    return results[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    ap.add_argument("scripts", nargs="+")
    ap.add_argument("--one-boot", action="store_true", help="run every script in one boot")
    ap.add_argument("--timeout", type=float, default=180, help="seconds per boot (default 180)")
    ap.add_argument("--memory", type=int, default=1024)
    ap.add_argument("--smp", type=int, default=1)
    ap.add_argument("--no-build", action="store_true", help="do not run build.sh first")
    ap.add_argument("--console", action="store_true", help="echo the raw console")
    args = ap.parse_args(argv)
    if not args.no_build:
        build(quiet=False)
    groups = [args.scripts] if args.one_boot else [[s] for s in args.scripts]
    failed = []
    summary = []
    for group in groups:
        results, console, secs = boot(group, timeout=args.timeout * (len(group) if args.one_boot else 1),
                                      memory=args.memory, smp=args.smp,
                                      echo=sys.stdout if args.console else None)
        for s, (code, out) in zip(group, results):
            name = os.path.relpath(s, REPO) if os.path.isabs(s) else s
            if not args.console:
                print("---- %s (guest) ----" % name)
                sys.stdout.write(out if out.endswith("\n") or not out else out + "\n")
            summary.append((name, code, secs))
            if code != 0:
                failed.append(name)
    print("---- kernel-lab summary ----")
    for name, code, secs in summary:
        print("%-50s %s  (boot %.1f s)" % (name, "ok" if code == 0 else "FAIL rc=%d" % code, secs))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
