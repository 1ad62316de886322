# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Resource stress: the host's stress-ng inside a container's cgroups, disk fill, block-I/O throttles.

stress-ng is started detached, joins the container's cgroups *before* it execs
(so every worker is born there: the container's CPU and memory limits and its
OOM scope apply), and runs with its own ``--timeout`` as a second bound besides
the ledger deadline. A container's paths are reached from the host through
``/proc/<pid>/root``, i.e. in the container's own mount namespace.
"""

from __future__ import annotations

import json
import math
import os
import re
import time

from ._common import NOTHING_CHANGED, ChaosError
from ._ledger import spawn_detached
from ._targets import service_of
from ._undo import processes_by_marker

SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "ki": 1024, "kib": 1024, "m": 1024 ** 2, "mb": 1024 ** 2,
              "mi": 1024 ** 2, "mib": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3, "gi": 1024 ** 3, "gib": 1024 ** 3,
              "t": 1024 ** 4, "tb": 1024 ** 4, "ti": 1024 ** 4, "tib": 1024 ** 4}
FILL_PREFIX = "sutazai-chaos-fill-"
MAX_SIZE = 1 << 60
START_TIMEOUT_SECONDS = 15.0
NO_LIMIT = 1 << 60


def parse_size(value, what):
    """'256M', '1G', '1.5GiB' or 1048576 -> bytes (binary units)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in SIZE_UNITS or float(match.group(1)) <= 0:
        raise ChaosError("%s %r is not a size such as 256M, 1G or a number of bytes. %s"
                         % (what, value, NOTHING_CHANGED))
    size = float(match.group(1)) * SIZE_UNITS[match.group(2).lower()]
    if not size < MAX_SIZE:
        raise ChaosError("%s %r is larger than any disk or memory (at most %d bytes). %s"
                         % (what, value, MAX_SIZE, NOTHING_CHANGED))
    return int(size)


def host_cpu_percent(sample_seconds=0.5, stat_path="/proc/stat"):
    """Busy CPU of the whole host over a short sample, in percent."""
    def read():
        with open(stat_path) as handle:
            fields = [float(x) for x in handle.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
        return sum(fields), idle
    total1, idle1 = read()
    time.sleep(sample_seconds)
    total2, idle2 = read()
    return 100.0 * (1.0 - (idle2 - idle1) / max(total2 - total1, 1e-9))


def host_memory(meminfo_path="/proc/meminfo"):
    """(total bytes, percent used) from MemTotal and MemAvailable."""
    values = {}
    with open(meminfo_path) as handle:
        for line in handle:
            key, rest = line.split(":", 1)
            values[key] = int(rest.split()[0]) * 1024
    total = values["MemTotal"]
    return total, 100.0 * (1.0 - values.get("MemAvailable", values.get("MemFree", 0)) / total)


def cgroup_dirs(pid):
    """The cgroup folders of a process, per controller: {controller: path} (v1), {"": path} (v2)."""
    dirs = {}
    with open("/proc/%d/cgroup" % pid) as handle:
        for line in handle:
            _hierarchy, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == "":
                for root in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
                    if os.path.exists(os.path.join(root, "cgroup.controllers")):
                        dirs[""] = root + path
                        break
                continue
            mount = controllers.replace("name=", "")
            base = os.path.join("/sys/fs/cgroup", mount)
            if os.path.isdir(base):
                for controller in controllers.split(","):
                    dirs[controller] = base + path
    return dirs


def procs_files(dirs):
    files = sorted({os.path.join(d, "cgroup.procs") for d in dirs.values()})
    return [f for f in files if os.path.exists(f)]


def memory_limit(dirs):
    """The cgroup's memory limit in bytes, or None when unlimited."""
    for name, path in (("memory", "memory.limit_in_bytes"), ("", "memory.max")):
        if name in dirs:
            try:
                with open(os.path.join(dirs[name], path)) as handle:
                    text = handle.read().strip()
            except OSError:
                continue
            if text != "max" and int(text) < NO_LIMIT:
                return int(text)
    return None


def stress_ng_argv(spec, duration, temp_path):
    """stress-ng arguments for the cpu/memory/io parts of a spec (None when there are none)."""
    argv = []
    cpu = spec.get("cpu")
    if cpu:
        argv += ["--cpu", str(cpu["workers"]), "--cpu-load", str(cpu["load"])]
    memory = spec.get("memory_bytes")
    if memory:
        workers = spec["memory"]["workers"]
        argv += ["--vm", str(workers), "--vm-bytes", str(max(4096, memory // workers)), "--vm-keep",
                 "--vm-populate"]
    io = spec.get("io")
    if io:
        argv += ["--hdd", str(io["workers"]), "--hdd-bytes", str(io["bytes"]), "--temp-path", temp_path]
    if not argv:
        return None
    return ["stress-ng"] + argv + ["--timeout", "%ds" % math.ceil(duration), "--quiet"]


def block_device(path):
    """'MAJ:MIN' of the whole disk that holds ``path`` (throttles act on disks, not partitions)."""
    dev = os.stat(path).st_dev
    key = "%d:%d" % (os.major(dev), os.minor(dev))
    if os.path.exists("/sys/dev/block/%s/partition" % key):
        with open(os.path.realpath("/sys/dev/block/%s/.." % key) + "/dev") as handle:
            key = handle.read().strip()
    return key


def device_number(device):
    """'/dev/vda' or '254:0' -> '254:0', checked against /sys/dev/block."""
    if re.fullmatch(r"\d+:\d+", str(device)):
        key = str(device)
    else:
        try:
            rdev = os.stat(device).st_rdev
        except (OSError, ValueError):
            raise ChaosError("io_limit.device %r does not exist. %s" % (device, NOTHING_CHANGED))
        key = "%d:%d" % (os.major(rdev), os.minor(rdev))
    if not os.path.exists("/sys/dev/block/%s" % key):
        raise ChaosError("io_limit.device %r (%s) is not a block device. %s" % (device, key, NOTHING_CHANGED))
    return key


THROTTLE_FILES = {"read_bps": "blkio.throttle.read_bps_device", "write_bps": "blkio.throttle.write_bps_device",
                  "read_iops": "blkio.throttle.read_iops_device", "write_iops": "blkio.throttle.write_iops_device"}
V2_KEYS = {"read_bps": "rbps", "write_bps": "wbps", "read_iops": "riops", "write_iops": "wiops"}


def throttle_writes(dirs, device, limits):
    """[(file, value to write, value that undoes it)] for block-I/O limits on a cgroup (v1 or v2)."""
    writes = []
    if "blkio" in dirs:
        for key, filename in THROTTLE_FILES.items():
            if limits.get(key):
                path = os.path.join(dirs["blkio"], filename)
                writes.append((path, "%s %d" % (device, limits[key]), "%s 0" % device))
    elif "" in dirs:
        parts = ["%s=%d" % (V2_KEYS[k], limits[k]) for k in V2_KEYS if limits.get(k)]
        if parts:
            undo = " ".join("%s=max" % V2_KEYS[k] for k in V2_KEYS if limits.get(k))
            writes.append((os.path.join(dirs[""], "io.max"), "%s %s" % (device, " ".join(parts)),
                           "%s %s" % (device, undo)))
    if not writes:
        raise ChaosError("no block-I/O throttle is possible here (no blkio controller, no io.max). %s"
                         % NOTHING_CHANGED)
    return writes


class StressTarget:
    """The host, or one container (its main PID gives its cgroups and its filesystem)."""

    def __init__(self, container=None):
        self.container = container
        self.dirs = cgroup_dirs(container["pid"]) if container and container.get("pid") else {}

    @property
    def record(self):
        if self.container is None:
            return {"id": "host", "name": "host"}
        return {"id": self.container["id"], "name": self.container["name"],
                "compose_service": self.container.get("compose_service"), "service": service_of(self.container)}

    def host_path(self, path):
        """A path as the target sees it -> the same file from the host."""
        if self.container is None:
            return path
        return "/proc/%d/root%s" % (self.container["pid"], path if path.startswith("/") else "/" + path)


MARKER_VARIABLE = "SUTAZAI_CHAOS_MARK"


def start_stress(state_dir, target, argv, marker):
    """Launch stress-ng for a target, its processes marked in their environment; returns the launcher's PID
    (the process group of the whole stress). ``wait_until_started`` then waits for every launch at once.

    The launcher joins the container's cgroups and then execs ``nsenter --pid`` into the container's PID
    namespace, which starts stress-ng there: the container's limits apply, and a restart or stop of the
    container ends the stress with everything else in it.
    """
    if target.container is not None:
        argv = ["nsenter", "--pid=/proc/%d/ns/pid" % target.container["pid"], "--"] + argv
    return spawn_detached(state_dir, ["--exec-in-cgroups", json.dumps(procs_files(target.dirs)), "--"] + argv,
                          "stress.log", extra_env={MARKER_VARIABLE: marker})


def wait_until_started(state_dir, launches):
    """Wait until each launch ``(target name, marker, launcher PID)`` shows a stress-ng process of its own.

    On a busy host a launch takes a moment (a Python start, the cgroup join, nsenter), so this waits for the
    process rather than for a fixed time, and for all launches together: they start in parallel, and one
    scan of /proc per poll serves every target (200 targets once took 265 ms each, launched one by one).
    Raises ChaosError naming the first target whose launcher died, or that did not start in time.
    """
    waiting = {"%s=%s" % (MARKER_VARIABLE, marker): (name, launcher) for name, marker, launcher in launches}
    end = time.monotonic() + START_TIMEOUT_SECONDS
    while waiting:
        for found in marked_stress(waiting):
            waiting.pop(found)
        dead = [name for name, launcher in waiting.values() if not _alive(launcher)]
        if dead or not waiting or time.monotonic() > end:
            break
        time.sleep(0.05)
    if waiting:
        name = dead[0] if dead else next(iter(waiting.values()))[0]
        raise ChaosError("stress-ng did not start for %s (see %s/stress.log)" % (name, state_dir))


def marked_stress(markers):
    """The markers (``VARIABLE=value``) that a live stress-ng process carries: one pass over /proc."""
    return {marker for marker, pids in processes_by_marker(markers).items()
            if any(_command(pid)[:9] == b"stress-ng" for pid in pids)}


def _alive(pid):
    """Whether the process exists and is no zombie.

    Not "has a command line": while the launcher execs stress-ng its cmdline reads empty for a moment,
    which on a busy host was taken for a dead launcher ("stress-ng did not start", seen on the fleet).
    """
    try:
        with open("/proc/%d/stat" % pid) as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _command(pid):
    """The command line of a live process (empty for a gone or zombie one)."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            if handle.read().rsplit(")", 1)[1].split()[0] == "Z":
                return b""
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read()
    except (OSError, IndexError):
        return b""


def fill_file(path, size):
    """Create a file of ``size`` bytes with real blocks (posix_fallocate), replacing nothing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
    except OSError:
        os.close(fd)
        os.unlink(path)
        raise
    os.close(fd)


def _container_step(target, params):
    if target.container is None:
        return {}
    from ._docker import tls_settings  # only container targets talk to the engine

    return {"container": target.container["id"], "docker_host": params["docker_host"], "tls": tls_settings(params)}


def _requested(spec):
    """What the user asked for: a disk fill's size follows the free space, so it is compared by its request."""
    return {k: v for k, v in spec.items() if k not in ("file", "bytes")} if "request" in spec else spec


class ResourceStress:
    """Plan and apply the stress faults of one module call; one ledger entry per (target, kind)."""

    KINDS = ("stress", "disk_fill", "io_limit")

    def __init__(self, params, txn, check_mode):
        self.params = params
        self.txn = txn
        self.check_mode = check_mode

    def plan(self, target):
        """Validate everything for one target; returns {kind: spec} with sizes in bytes."""
        p = self.params
        planned = {}
        spec = {}
        if p.get("cpu"):
            cpu = dict(p["cpu"])
            if not 1 <= cpu["load"] <= 100:
                raise ChaosError("cpu.load must be between 1 and 100 (percent per worker), got %s. %s"
                                 % (cpu["load"], NOTHING_CHANGED))
            if cpu["workers"] < 1:
                raise ChaosError("cpu.workers must be at least 1. %s" % NOTHING_CHANGED)
            spec["cpu"] = {"workers": cpu["workers"], "load": int(round(cpu["load"]))}
        if p.get("memory"):
            spec.update(self._memory(target, p["memory"]))
        if p.get("io"):
            if p["io"]["workers"] < 1:
                raise ChaosError("io.workers must be at least 1. %s" % NOTHING_CHANGED)
            spec["io"] = {"workers": p["io"]["workers"], "bytes": parse_size(p["io"]["bytes"], "io.bytes")}
        if spec:
            planned["stress"] = spec
        if p.get("disk_fill"):
            planned["disk_fill"] = self._disk_fill(target, p["disk_fill"])
        if p.get("io_limit"):
            planned["io_limit"] = self._io_limit(target, p["io_limit"])
        if not planned:
            raise ChaosError("no stress given: set at least one of cpu, memory, io, disk_fill, io_limit. %s"
                             % NOTHING_CHANGED)
        return planned

    def _memory(self, target, memory):
        if (memory.get("bytes") is None) == (memory.get("percent") is None):
            raise ChaosError("memory needs exactly one of bytes or percent. %s" % NOTHING_CHANGED)
        if memory["workers"] < 1:
            raise ChaosError("memory.workers must be at least 1. %s" % NOTHING_CHANGED)
        limit = memory_limit(target.dirs)
        ceiling = limit or host_memory()[0]
        if memory.get("percent") is not None:
            if not 0 < memory["percent"] <= 100:
                raise ChaosError("memory.percent must be above 0 and at most 100, got %s. %s"
                                 % (memory["percent"], NOTHING_CHANGED))
            wanted = int(ceiling * memory["percent"] / 100.0)
        else:
            wanted = parse_size(memory["bytes"], "memory.bytes")
        if wanted > ceiling:
            raise ChaosError("memory %d bytes is beyond the %s of %d bytes (refused, not clamped). %s"
                             % (wanted, "container's memory limit" if limit else "host's memory", ceiling,
                                NOTHING_CHANGED))
        return {"memory": {"workers": memory["workers"]}, "memory_bytes": wanted}

    def _disk_fill(self, target, fill):
        path = fill.get("path") or "/tmp"
        host_dir = target.host_path(path)
        if not os.path.isdir(host_dir) or not os.access(host_dir, os.W_OK):
            raise ChaosError("disk_fill.path %s is not a writable folder on %s. %s"
                             % (path, target.record["name"], NOTHING_CHANGED))
        if (fill.get("size") is None) == (fill.get("percent") is None):
            raise ChaosError("disk_fill needs exactly one of size or percent (of the free space). %s"
                             % NOTHING_CHANGED)
        stat = os.statvfs(host_dir)
        free = stat.f_bavail * stat.f_frsize
        if fill.get("percent") is not None:
            if not 0 < fill["percent"] <= 100:
                raise ChaosError("disk_fill.percent must be above 0 and at most 100. %s" % NOTHING_CHANGED)
            size = int(free * fill["percent"] / 100.0)
        else:
            size = parse_size(fill["size"], "disk_fill.size")
        if size > free:
            raise ChaosError("disk_fill of %d bytes is more than the %d bytes free in %s. %s"
                             % (size, free, path, NOTHING_CHANGED))
        request = {"percent": fill["percent"]} if fill.get("percent") is not None else {"size": fill["size"]}
        return {"path": path, "bytes": size, "request": request}

    def _io_limit(self, target, limits):
        if target.container is None:
            raise ChaosError("io_limit throttles a container's cgroup: give targets. %s" % NOTHING_CHANGED)
        device = device_number(limits["device"]) if limits.get("device") else block_device("/var/lib/docker")
        values = {}
        for key in ("read_bps", "write_bps"):
            if limits.get(key) is not None:
                values[key] = parse_size(limits[key], "io_limit." + key)
        for key in ("read_iops", "write_iops"):
            if limits.get(key) is not None:
                if limits[key] < 1:
                    raise ChaosError("io_limit.%s must be at least 1. %s" % (key, NOTHING_CHANGED))
                values[key] = limits[key]
        if not values:
            raise ChaosError("io_limit needs at least one of read_bps, write_bps, read_iops, write_iops. %s"
                             % NOTHING_CHANGED)
        throttle_writes(target.dirs, device, values)
        return dict(values, device=device)

    def _undo_and_action(self, kind, target, spec):
        """(undo steps known before applying, action) for one kind."""
        state_dir, duration = self.params["state_dir"], self.params["duration"]
        if kind == "stress":
            argv = stress_ng_argv(spec, duration, target.host_path("/tmp"))
            marker = os.urandom(8).hex()
            # every marked process: the launcher (before it execs) as well as stress-ng and its workers
            undo = [{"type": "signal", "marker": "%s=%s" % (MARKER_VARIABLE, marker)}]
            return undo, lambda: (target.record["name"], marker, start_stress(state_dir, target, argv, marker))
        if kind == "disk_fill":
            name = "%s%d-%s.bin" % (FILL_PREFIX, int(time.time()), os.urandom(3).hex())
            inner = spec["path"].rstrip("/") + "/" + name
            undo = [dict({"type": "remove_file", "path": inner}, **_container_step(
                target, self.params))]
            spec["file"] = inner
            return undo, lambda: fill_file(target.host_path(inner), spec["bytes"])
        writes = throttle_writes(target.dirs, spec["device"], spec)
        undo = [{"type": "write_file", "path": path, "content": back} for path, _value, back in writes]

        def apply_throttles():
            for path, value, _back in writes:
                with open(path, "w") as handle:
                    handle.write(value)
        return undo, apply_throttles

    def inject(self, targets):
        results, pending = [], []
        active = [e for e in self.txn.ledger.entries() if e["kind"] in self.KINDS]  # one read for every target
        for target in targets:
            planned = self.plan(target)
            held = {e["kind"]: e for e in active if e["target"]["id"] == target.record["id"]}
            for kind, spec in planned.items():
                result = {"target": target.record["name"], "compose_service": target.record.get("compose_service"),
                          "service": target.record.get("service"), "kind": kind, "spec": spec, "changed": True}
                old = held.get(kind)
                self.txn.check_conflict(old, same_spec=bool(old) and _requested(old["spec"]) == _requested(spec))
                if old and _requested(old["spec"]) == _requested(spec):
                    result.update(changed=False, note="the same stress is already active", entry_id=old["id"])
                    results.append(result)
                    continue
                result["replaced"] = old["spec"] if old else None
                results.append(result)
                if self.check_mode:
                    continue
                if old:
                    self.txn.revert_where(lambda e, entry_id=old["id"]: e["id"] == entry_id)
                undo, action = self._undo_and_action(kind, target, spec)
                pending.append((result, (kind, target.record, spec, undo, self.params["duration"], action)))
        # Recorded together before the first starts, marked applied together (apply_many: two ledger writes).
        applied = self.txn.apply_many([f for _r, f in pending])
        launches = [launch for (result, _fault), (_entry, launch) in zip(pending, applied) if result["kind"] == "stress"]
        wait_until_started(self.params["state_dir"], launches)  # a failure here is rolled back by the caller
        for (result, _fault), (entry, launch) in zip(pending, applied):
            if result["kind"] == "stress":
                result["pid"] = launch[2]
            result.update(entry_id=entry["id"], deadline=entry["deadline"])
        return results

    def remove(self, targets):
        ids = {t.record["id"] for t in targets}
        return self.txn.revert_where(lambda e: e.get("kind") in self.KINDS and e["target"]["id"] in ids,
                                     check_mode=self.check_mode)
