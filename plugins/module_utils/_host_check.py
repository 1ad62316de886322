# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only checks that a host is ready for sutazai.chaos (the deployment validator).

Every check returns a row ``{check, status, detail}`` with status PASS, WARN or FAIL.
The checks take what they need (paths, a ``find_bin``, a ``run_argv``, the engine's
answers) so they run without Ansible or an engine in the unit tests.

Nothing here writes to the host's state folder. The one check that must start
something, the reaper trial, does it in a fresh temporary folder that it removes.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import os
import re
import shutil
import signal
import sys
import tempfile
import time

from ._common import NOTHING_CHANGED, ChaosError
from ._docker import DOCKER_IMPORT_ERROR, HAS_DOCKER, DockerException, connect, list_containers, tls_settings
from ._ledger import Ledger, new_entry, process_alive, spawn_detached
from ._targets import service_of
from ._undo import LedgerError, docker_request

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
STATUSES = (PASS, WARN, FAIL)

# Host tools the fault modules run, and who needs each.
TOOLS = (
    ("tc", "network_chaos"),
    ("iptables", "network_chaos"),
    ("nsenter", "container network faults and resource_stress in containers"),
    ("stress-ng", "resource_stress"),
)
NETEM_MISSING = (
    "network_chaos refuses delay, jitter, duplicate, corrupt and reorder; loss falls back to iptables "
    "statistic and rate to tbf"
)
CLOCK_YEARS = (2024, 2100)
MAX_CLOCK_SKEW_SECONDS = 5.0
# The trial entry expires this long after the reaper starts: long enough to see the reaper running.
REAPER_TRIAL_SECONDS = 1.0
REAPER_TRIAL_TIMEOUT = 20.0
SERVICE_RULE = ("service = label com.docker.compose.service, else label sutazai.chaos.service, "
                "else the container name")


def row(check, status, detail):
    return {"check": check, "status": status, "detail": detail}


# ---------------------------------------------------------------- the engine and the SDK

def engine_facts(params):
    """What the engine says about itself.

    Returns ``{answers, sdk, version, api_version, system_time, asked_at, error, client}``. Without the
    Docker SDK the engine is still asked, with the standard library (as the reaper does), so that the
    row can tell "no engine" from "no SDK".
    """
    facts = {"answers": False, "sdk": HAS_DOCKER, "version": None, "api_version": None, "system_time": None,
             "asked_at": None, "error": None, "client": None}
    before = time.time()
    try:
        if HAS_DOCKER:
            client = connect(params)
            version, info = client.version(), client.info()
            facts["client"] = client
        else:
            version = _engine_get(params, "/version")
            info = _engine_get(params, "/info")
    except ChaosError as exc:
        facts["error"] = exc.msg.replace(" " + NOTHING_CHANGED, "")
        return facts
    except (DockerException, LedgerError, OSError, http.client.HTTPException, ValueError) as exc:
        facts["error"] = "the Docker engine at %s does not answer (%s)" % (params["docker_host"], exc)
        return facts
    facts.update(answers=True, version=version.get("Version"), api_version=version.get("ApiVersion"),
                 system_time=info.get("SystemTime"), asked_at=(before + time.time()) / 2)
    return facts


def _engine_get(params, path):
    status, body = docker_request(params["docker_host"], "GET", path, tls=tls_settings(params),
                                  timeout=params["timeout"])
    if status != 200 or not isinstance(body, dict):
        raise LedgerError("GET %s answered HTTP %s" % (path, status))
    return body


def check_engine(facts, docker_host):
    if not facts["answers"]:
        return row("docker engine", FAIL, facts["error"] or "the Docker engine at %s does not answer" % docker_host)
    found = "Docker %s, API %s at %s" % (facts["version"], facts["api_version"], docker_host)
    if not facts["sdk"]:
        return row("docker engine", FAIL, "%s answers, but without the Docker SDK for Python no module can use it"
                   % found)
    return row("docker engine", PASS, found)


def check_sdk(has_docker, sdk_version, python, python_version, import_error=None):
    where = "%s (Python %s)" % (python, python_version)
    if has_docker:
        return row("docker sdk", PASS, "docker %s, imported by %s" % (sdk_version, where))
    last = (import_error or "").strip().splitlines()[-1:] or ["ImportError"]
    return row("docker sdk", FAIL, "the Docker SDK for Python is not importable by %s (%s): every container-facing "
               "module needs it; install it for that interpreter (pip install docker, or python3-docker)"
               % (where, last[0]))


def sdk_version():
    if not HAS_DOCKER:
        return None
    import docker

    return getattr(docker, "__version__", "?")


# ---------------------------------------------------------------- tools and the kernel

def check_tools(find_bin):
    """One row per host tool; ``find_bin(name)`` returns its path or None."""
    rows = []
    for name, needed_by in TOOLS:
        path = find_bin(name)
        if path:
            rows.append(row("tool %s" % name, PASS, path))
        else:
            rows.append(row("tool %s" % name, FAIL, "%s not found (PATH and the sbin folders): %s needs it"
                            % (name, needed_by)))
    return rows


_NETEM_RE = re.compile(r"(^|/)sch_netem\.ko(\.[a-z0-9]+)?(:|$)", re.MULTILINE)


def check_netem(sys_module="/sys/module", modules_root="/lib/modules", release=None, modprobe=None,
                run_argv=None):
    """Is ``sch_netem`` loaded, built in, or loadable for the running kernel? Loads nothing."""
    release = release or os.uname().release
    if os.path.isdir(os.path.join(sys_module, "sch_netem")):
        return row("sch_netem", PASS, "loaded (%s/sch_netem)" % sys_module)
    read_any = False
    for name, found in (("modules.builtin", "built into kernel %s"),
                        ("modules.dep", "module available for kernel %s (loaded on first use)")):
        try:
            with open(os.path.join(modules_root, release, name)) as handle:
                text = handle.read()
        except OSError:
            continue
        read_any = True
        if _NETEM_RE.search(text):
            return row("sch_netem", PASS, found % release)
    if not read_any and modprobe and run_argv:
        # -n: a dry run, nothing is loaded.
        rc, _out, _err = run_argv([modprobe, "-n", "sch_netem"])
        if rc == 0:
            return row("sch_netem", PASS, "modprobe -n finds it for kernel %s (loaded on first use)" % release)
    where = "no sch_netem in %s/%s" % (modules_root, release) if read_any else \
        "no module list in %s/%s%s" % (modules_root, release, " and modprobe -n does not find it" if modprobe else "")
    return row("sch_netem", WARN, "not loaded, %s: %s" % (where, NETEM_MISSING))


# ---------------------------------------------------------------- the state folder and the reaper

def _read_only(path):
    with contextlib.suppress(OSError):
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    return False


def _why_not_writable(path):
    return " (read-only filesystem)" if _read_only(path) else " (uid %d)" % os.geteuid()


def check_state_dir(path):
    """The state folder exists and is writable, or can be created. Never writes to it.

    ``os.access`` asks the kernel (access(2)), which answers EROFS on a read-only mount even for root.
    """
    if "\0" in path:
        return row("state folder", FAIL, "%r contains a NUL byte; no folder can have that name" % path)
    path = os.path.abspath(path)
    wanted = os.W_OK | os.X_OK
    if os.path.isdir(path):
        if os.access(path, wanted):
            return row("state folder", PASS, "%s exists and is writable" % path)
        return row("state folder", FAIL, "%s exists but is not writable%s: every fault module records its "
                   "undo there before injecting" % (path, _why_not_writable(path)))
    if os.path.lexists(path):
        return row("state folder", FAIL, "%s exists but is not a folder" % path)
    parent = os.path.dirname(path)
    while not os.path.lexists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        return row("state folder", FAIL, "%s cannot be created: %s is not a folder" % (path, parent))
    if os.access(parent, wanted):
        return row("state folder", WARN, "%s does not exist yet; will be created by the first fault (%s is "
                   "writable)" % (path, parent))
    return row("state folder", FAIL, "%s does not exist and cannot be created: its nearest existing parent %s is "
               "not writable%s" % (path, parent, _why_not_writable(parent)))


def _wait(predicate, timeout, interval=0.05):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= end:
            return value
        time.sleep(interval)


def _trial_state(ledger):
    with contextlib.suppress(LedgerError, OSError):
        with ledger.locked() as entries:
            return dict(entries[0]) if entries else {}
    return {}


def _is_trial_reaper(pid, folder):
    """Our reaper process, alive, on this folder (read from /proc: taking its lock could make it quit)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().decode("utf-8", "replace").split("\0")
    except OSError:
        return False
    return process_alive(pid) and folder in argv


def check_reaper(python=None, parent=None, timeout=REAPER_TRIAL_TIMEOUT):
    """Start a real reaper in a fresh temporary folder, watch it undo a trial entry and exit, remove the folder.

    The state folder is not touched: the reaper runs the same program (copied to ``<folder>/lib``) from
    whatever folder it is given. The trial entry's undo removes a marker file in the temporary folder.
    """
    try:
        folder = tempfile.mkdtemp(prefix="sutazai-chaos-validate-", dir=parent)
    except OSError as exc:
        return row("reaper", FAIL, "could not make a temporary folder to try a reaper in (%s); a reaper also "
                   "needs a writable state folder" % exc)
    pid = None
    try:
        marker = os.path.join(folder, "trial-marker")
        with open(marker, "w"):
            pass
        ledger = Ledger(folder)
        entry = new_entry("validator-trial", "validator_trial", {"name": "validator trial"}, {},
                          [{"type": "remove_file", "path": marker}], REAPER_TRIAL_SECONDS)
        entry["applying"] = False
        with ledger.locked() as entries:
            entries.append(entry)
        started = time.monotonic()
        pid = spawn_detached(folder, [folder], "reaper.log", python)
        seen_running = _wait(lambda: "running" if _is_trial_reaper(pid, folder) else (
            "gone" if not process_alive(pid) else None), min(timeout, 5.0)) == "running"
        exited = _wait(lambda: not process_alive(pid), timeout)
        elapsed = time.monotonic() - started
        trial = _trial_state(ledger)
        if not exited:
            return row("reaper", FAIL, "a reaper started (pid %d) but did not exit within %.0f s although its "
                       "only entry was due; it was killed. Log: %s" % (pid, timeout, _log_tail(folder)))
        if trial.get("state") != "reverted" or trial.get("reverted_by") != "reaper" or os.path.exists(marker):
            return row("reaper", FAIL, "a reaper started (pid %d) and exited without undoing its trial entry "
                       "(state %s). Log: %s" % (pid, trial.get("state"), _log_tail(folder)))
        return row("reaper", PASS, "started (pid %d) in a temporary folder%s, undid a trial entry at its deadline "
                   "and exited after %.1f s; folder removed" % (
                       pid, "" if seen_running else " (exited before it was seen running)", elapsed))
    except (OSError, LedgerError) as exc:
        return row("reaper", FAIL, "could not try a reaper in a temporary folder: %s" % exc)
    finally:
        _end_trial(pid)
        shutil.rmtree(folder, ignore_errors=True)


def _log_tail(folder):
    with contextlib.suppress(OSError):
        with open(os.path.join(folder, "reaper.log")) as handle:
            lines = handle.read().strip().splitlines()
        return " | ".join(lines[-3:]) or "(empty)"
    return "(none)"


def _end_trial(pid):
    """Kill the trial reaper if it is still alive (that PID only), and collect it: it is our child."""
    if pid is None:
        return
    if process_alive(pid):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        os.waitpid(pid, 0)


# ---------------------------------------------------------------- clock and containers

_TIME_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def parse_engine_time(text):
    """Epoch seconds of the engine's ``SystemTime`` (RFC 3339, nanoseconds allowed), or None."""
    match = _TIME_RE.match(text or "")
    if not match:
        return None
    stamp = datetime.datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")
    zone = match.group(3)
    offset = 0 if zone == "Z" else (1 if zone[0] == "+" else -1) * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    seconds = stamp.replace(tzinfo=datetime.timezone.utc).timestamp() - offset
    return seconds + float(match.group(2) or 0)


def check_clock(now, engine_time=None, asked_at=None, max_skew=MAX_CLOCK_SKEW_SECONDS):
    """The host's year is plausible and, when the engine's time is known, close to it."""
    shown = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    year = time.gmtime(now).tm_year
    if not CLOCK_YEARS[0] <= year <= CLOCK_YEARS[1]:
        return row("clock", FAIL, "the host clock says %s, outside %d-%d: fault deadlines and the audit journal "
                   "would be wrong" % (shown, CLOCK_YEARS[0], CLOCK_YEARS[1]))
    engine = parse_engine_time(engine_time)
    if engine is None:
        return row("clock", PASS, "%s (no engine time to compare with)" % shown)
    skew = (asked_at if asked_at is not None else now) - engine
    if abs(skew) > max_skew:
        return row("clock", WARN, "%s; the host clock is %.1f s %s the engine's (more than %.0f s): times from "
                   "the engine and the host disagree" % (shown, abs(skew), "ahead of" if skew > 0 else "behind",
                                                         max_skew))
    return row("clock", PASS, "%s; within %.2f s of the engine's clock" % (shown, abs(skew)))


def check_protected(services, containers, error=None):
    """One row per protected service: a container of that service exists on the host."""
    rows = []
    for service in services:
        check = "protected service %s" % service
        if containers is None:
            rows.append(row(check, FAIL, "containers cannot be listed: %s" % (error or "the engine does not answer")))
            continue
        matches = sorted((c for c in containers if service_of(c) == service), key=lambda c: c["name"])
        running = [c["name"] for c in matches if c.get("status") == "running"]
        if running:
            rows.append(row(check, PASS, "running: %s" % ", ".join(running)))
        elif matches:
            rows.append(row(check, WARN, "container(s) exist but none runs: %s" % ", ".join(
                "%s (%s)" % (c["name"], c.get("status")) for c in matches)))
        else:
            rows.append(row(check, FAIL, "no container of this service on the host (%s)" % SERVICE_RULE))
    return rows


# ---------------------------------------------------------------- all of it

def summarize(rows):
    counts = {status: sum(1 for r in rows if r["status"] == status) for status in STATUSES}
    return {
        "checks": rows,
        "passed": counts[PASS],
        "warned": counts[WARN],
        # Not "failed": Ansible reads that key of a module result as the task's own failure.
        "failed_checks": counts[FAIL],
        "pass_rate": round(counts[PASS] / len(rows), 3) if rows else 0.0,
        "ok": counts[FAIL] == 0,
    }


def run_checks(params, find_bin, run_argv, python=None):
    """Every check, in table order; returns the summary (see ``summarize``)."""
    python = python or sys.executable
    facts = engine_facts(params)
    rows = [
        check_engine(facts, params["docker_host"]),
        check_sdk(HAS_DOCKER, sdk_version(), python, "%d.%d.%d" % sys.version_info[:3], DOCKER_IMPORT_ERROR),
    ]
    rows.extend(check_tools(find_bin))
    rows.append(check_netem(modprobe=find_bin("modprobe"), run_argv=run_argv))
    rows.append(check_state_dir(params["state_dir"]))
    rows.append(check_reaper(python))
    rows.append(check_clock(time.time(), facts["system_time"], facts["asked_at"]))
    containers, error = None, facts["error"] or "the Docker SDK for Python is missing"
    if facts["client"] is not None:
        try:
            containers = list_containers(facts["client"])
        except ChaosError as exc:
            error = exc.msg.replace(" " + NOTHING_CHANGED, "")
    rows.extend(check_protected(params["protected_services"], containers, error))
    return summarize(rows)
