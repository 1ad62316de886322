"""Measure, from the Docker host, what a resource_stress experiment does to one container.

    stress_proof.py cpu|memory|disk_fill CONTAINER_PID [TIMEOUT_SECONDS]

Started (async) before the role injects: reads a baseline, waits until the stress shows up in the
container (stress-ng in its cgroup, or the fill file in its /tmp), measures the effect while it
lasts, then waits until it is gone. Prints one JSON object. Needs cgroup v1 (this host) or v2.
"""
import glob
import json
import os
import sys
import time

FILL_GLOB = "/tmp/sutazai-chaos-fill-*"


def cgroup_dirs(pid):
    dirs = {}
    with open("/proc/%d/cgroup" % pid) as handle:
        for line in handle:
            _num, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == "":
                dirs.setdefault("v2", "/sys/fs/cgroup" + path)
            for controller in controllers.split(","):
                if controller:
                    dirs[controller] = os.path.join("/sys/fs/cgroup", controller, path.lstrip("/"))
    return dirs


def read_int(path):
    with open(path) as handle:
        return int(handle.read().split()[0])


def cpu_ns(dirs):
    if "cpuacct" in dirs:
        return read_int(os.path.join(dirs["cpuacct"], "cpuacct.usage"))
    with open(os.path.join(dirs["v2"], "cpu.stat")) as handle:
        return int(dict(line.split() for line in handle)["usage_usec"]) * 1000


def memory_bytes(dirs):
    if "memory" in dirs:
        return read_int(os.path.join(dirs["memory"], "memory.usage_in_bytes"))
    return read_int(os.path.join(dirs["v2"], "memory.current"))


def stress_pids(dirs):
    """PIDs of live (not zombie) stress-ng processes in the container's cgroup."""
    procs = os.path.join(dirs.get("pids") or dirs.get("memory") or dirs["v2"], "cgroup.procs")
    found = []
    with open(procs) as handle:
        pids = [int(p) for p in handle.read().split()]
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as handle:
                comm, rest = handle.read().split("(", 1)[1].rsplit(")", 1)
        except OSError:
            continue
        if comm.startswith("stress-ng") and rest.split()[0] != "Z":
            found.append(pid)
    return found


def wait_for(condition, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return None


def main():
    kind, pid = sys.argv[1], int(sys.argv[2])
    timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 60.0
    dirs = cgroup_dirs(pid)
    root = "/proc/%d/root" % pid
    out = {"kind": kind, "container_pid": pid, "cgroups": {k: dirs[k] for k in sorted(dirs)
                                                           if k in ("cpuacct", "memory", "pids", "v2")}}
    if kind in ("cpu", "memory"):
        before = memory_bytes(dirs)
        out["memory_before"] = before
        seen = wait_for(lambda: stress_pids(dirs), timeout)
        out["stress_seen"] = bool(seen)
        out["stress_pids"] = seen or []
        if seen and kind == "cpu":
            # cpuacct.usage every 0.2 s while stress-ng runs; the busiest 2 s window (a busy CI host
            # shares its CPUs with the stress) and the average over the whole stress
            samples = [(time.monotonic(), cpu_ns(dirs))]
            while stress_pids(dirs) and samples[-1][0] - samples[0][0] < timeout:
                time.sleep(0.2)
                samples.append((time.monotonic(), cpu_ns(dirs)))
            best = None
            for i, (t0, used0) in enumerate(samples):
                for t1, used1 in samples[i + 1:]:
                    if t1 - t0 >= 2.0:
                        if best is None or used1 - used0 > best[1] - best[0]:
                            best = (used0, used1, t0, t1)
                        break
            if best:
                used0, used1, t0, t1 = best
                out["cpu_seconds"] = round((used1 - used0) / 1e9, 3)
                out["wall_seconds"] = round(t1 - t0, 3)
                out["cpu_fraction"] = round((used1 - used0) / 1e9 / (t1 - t0), 3)
            (t0, used0), (t1, used1) = samples[0], samples[-1]
            out["stress_seconds_seen"] = round(t1 - t0, 3)
            out["cpu_fraction_whole_stress"] = round((used1 - used0) / 1e9 / max(t1 - t0, 1e-3), 3)
        if seen and kind == "memory":
            peak, end = before, time.monotonic() + 3.0
            while time.monotonic() < end and stress_pids(dirs):
                peak = max(peak, memory_bytes(dirs))
                time.sleep(0.1)
            out["memory_peak"] = peak
            out["memory_growth"] = peak - before
        if seen:
            gone = wait_for(lambda: not stress_pids(dirs), timeout)
            out["stress_gone_after"] = bool(gone)
            out["memory_after_stress"] = memory_bytes(dirs)
    elif kind == "disk_fill":
        found = wait_for(lambda: glob.glob(root + FILL_GLOB), timeout)
        out["fill_seen"] = bool(found)
        if found:
            path = found[0]
            st = os.stat(path)
            out["fill_file"] = path[len(root):]
            out["fill_size"] = st.st_size
            out["fill_allocated"] = st.st_blocks * 512
            out["fill_gone_after"] = bool(wait_for(lambda: not os.path.exists(path), timeout))
    else:
        sys.exit("unknown kind %s" % kind)
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
