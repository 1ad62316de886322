"""What the benchmark scripts share: running modules (ad hoc or bare), timing, test containers, the table."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")
PYTHON = os.path.join(VENV_BIN, "python")
IMAGE = "sutazai-chaos/demo:1"
ENV = dict(os.environ, ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
           ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
           ANSIBLE_DEPRECATION_WARNINGS="false")
ENV.pop("DOCKER_HOST", None)


def module(name, args, env=None):
    """Run one module ad hoc (what a one-task playbook costs); returns (seconds, result)."""
    name = name if "." in name else "sutazai.chaos." + name
    argv = [os.path.join(VENV_BIN, "ansible"), "localhost", "-m", name,
            "-e", "ansible_python_interpreter=%s" % PYTHON]
    if args:
        argv += ["-a", json.dumps(args)]
    started = time.monotonic()
    out = subprocess.run(argv, cwd=ROOT, env=dict(ENV, **(env or {})), capture_output=True, text=True,
                         check=True).stdout
    elapsed = time.monotonic() - started
    return elapsed, json.loads(out)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def module_bare(name, args, env=None):
    """Run one module in a plain Python process (benchmarks/modrun.py): (seconds, result, peak RSS in MiB)."""
    import tempfile

    argv = [PYTHON, os.path.join(ROOT, "benchmarks", "modrun.py"), name, json.dumps(args)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(argv, cwd=ROOT, env=dict(ENV, **(env or {})), stdout=out, stderr=err,
                                   stdin=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(process.pid, 0)  # wait4, not wait: it returns the peak RSS
        elapsed = time.monotonic() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    try:
        result = json.loads(text.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise RuntimeError("%s gave no JSON result: %s %s" % (name, text[-2000:], errors[-2000:]))
    _LAST_USAGE[:] = [usage]
    return elapsed, result, usage.ru_maxrss / 1024.0


_LAST_USAGE = [None]


def last_cpu_seconds():
    """User + system CPU seconds of the last module_bare process."""
    usage = _LAST_USAGE[0]
    return usage.ru_utime + usage.ru_stime


def peak_rss_of(argv, env=None):
    """Run argv to the end; (seconds, peak RSS in MiB) of that one process, read with wait4."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=ROOT, env=dict(ENV, **(env or {})), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_maxrss / 1024.0


def timed(fn):
    started = time.monotonic()
    value = fn()
    return time.monotonic() - started, value


def median_of(runs, fn):
    return statistics.median(fn() for _run in range(runs))


def ratio(ours, base):
    return "%.1fx" % (ours / base) if base and base > 0 else "-"


def table(header, rows):
    """A Markdown table; numbers are formatted by the caller."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _h in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def log(text):
    sys.stderr.write("[bench %s] %s\n" % (time.strftime("%H:%M:%S"), text))
    sys.stderr.flush()


class state_folder:
    """A fresh ledger folder; on exit, waits (up to 5 s) for a reaper still watching it to end, then removes it."""

    def __init__(self, prefix="szb-state-"):
        import tempfile

        self.path = tempfile.mkdtemp(prefix=prefix)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        import fcntl
        import shutil

        end = time.monotonic() + 5.0
        lock = os.path.join(self.path, "reaper.lock")
        while os.path.exists(lock) and time.monotonic() < end:
            with open(lock) as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    time.sleep(0.1)
        shutil.rmtree(self.path, ignore_errors=True)
        return False
