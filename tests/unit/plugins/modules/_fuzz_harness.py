# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run a module's ``main()`` in-process with given arguments and every edge to the host stubbed.

The stubs are mocks on purpose: these tests are about argument validation (no traceback for any
input, nothing applied when the input is refused), not about the effects of a fault. Real effects
are tested in ``tests/integration`` against a real Docker engine and kernel.

Stubbed edges: the Docker engine (``connect`` returns a tiny fake client), ``run_command`` and
``get_bin_path`` (recorded, canned output), the detached reaper and stress-ng starts, ``os.kill``,
disk fills, cgroup folders (a fake tree in the example's temporary folder), the Docker API calls of
undo steps, the host CPU sample, and the probes' network checks. Sleeps in health_probe's polling
loops run on a fake clock, so a loop that would never end is detected instead of hanging the test.
For the sidecars of http_chaos and dns_chaos: their detached start (recorded as an effect; the port in its
config then counts as bound, so the wait until it listens ends at once), the ports bound in a container's
namespace (a fake table instead of ``/proc/<pid>/net``), the container's resolver and namespace checks, and
the search for leftover responders (one per container). Their nat rules go through ``run_command`` like every
other command, and ``iptables -t nat -S`` shows a lost entry's chains, so state=absent has leftovers to remove.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import shutil
import tempfile
import time
import traceback
from unittest import mock

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.sutazai.chaos.plugins.module_utils import (_container, _dns, _dns_responder, _docker,
                                                                    _fault, _http_proxy, _ledger, _probes, _process,
                                                                    _sidecar, _stress, _undo, _undo_app)
from ansible_collections.sutazai.chaos.plugins.modules import (chaos_audit_info, chaos_emergency_stop, chaos_guard,
                                                               chaos_ledger_info, chaos_rollback, container_chaos,
                                                               custom_fault, dns_chaos, health_probe, http_chaos,
                                                               network_chaos, process_chaos, resource_stress)

MODULES = {
    "container_chaos": container_chaos, "network_chaos": network_chaos, "resource_stress": resource_stress,
    "health_probe": health_probe, "chaos_rollback": chaos_rollback, "chaos_ledger_info": chaos_ledger_info,
    "chaos_guard": chaos_guard, "chaos_emergency_stop": chaos_emergency_stop, "chaos_audit_info": chaos_audit_info,
    "process_chaos": process_chaos,
    "custom_fault": custom_fault,
    "http_chaos": http_chaos, "dns_chaos": dns_chaos,
}
# Modules whose every command is the user's own (inject, check, undo): any command run counts as a change.
EVERY_COMMAND_CHANGES = ("custom_fault",)
# The engines the fake ``connect`` answers for; any other docker_host is "not answering", as for real.
REACHABLE_DOCKER_HOSTS = ("unix:///var/run/docker.sock", "unix:///run/docker.sock")
MAX_FAKE_POLLS = 3000
# What each sidecar program does with its config when it starts (before it binds its port).
SIDECAR_STARTS = {
    "_http_proxy": _http_proxy.Proxy,
    "_dns_responder": lambda config: _dns_responder.Decider(config["names"], config.get("percent", 100),
                                                            config.get("seed")),
}
NOT_A_PID = 2 ** 22 + 1  # above any pid_max: the fake sidecar's launcher is never alive in /proc
LEFTOVER_NAT_RULES = ("-P OUTPUT ACCEPT\n-N SZC-0123456789-H\n-N SZC-abcdef0123-D\n-A PREROUTING -j SZC-0123456789-H\n"
                      "-A OUTPUT -j SZC-abcdef0123-D\n")
# Ports bound in every fake container's network namespace before a sidecar starts (a web server, a resolver).
BOUND_PORTS = (53, 80, 8000, 8080)
# Thousands of tiny folders: on a RAM disk when there is one (a disk makes the run several times slower).
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

COUNTS = collections.Counter()
OUTCOMES = collections.defaultdict(collections.Counter)
STARTED = time.monotonic()


def summary_lines():
    lines = ["fuzz: %-22s %5d inputs (%s)" % (name, COUNTS[name], ", ".join(
        "%s %d" % kv for kv in sorted(OUTCOMES[name].items()))) for name in sorted(COUNTS)]
    lines.append("fuzz: %-22s %5d inputs in %.1f s" % ("TOTAL", sum(COUNTS.values()), time.monotonic() - STARTED))
    return lines


class ExitJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class FailJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class NeverEnds(Exception):
    """A polling loop went past MAX_FAKE_POLLS fake sleeps: for real, the module would hang."""


def _returning(marker):
    def finish(self, msg=None, **kwargs):
        if msg is not None:
            kwargs["msg"] = msg
        kwargs.pop("exception", None)
        self.jsonify(kwargs)  # what Ansible would print; an unserialisable result is a crash too
        raise marker(kwargs)
    return finish


def checked_sleep_length(seconds):
    """Refuse what ``time.sleep`` refuses, the way it refuses it."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("'%s' object cannot be interpreted as an integer or float" % type(seconds).__name__)
    if math.isnan(seconds):
        raise ValueError("Invalid value NaN (not a number)")
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    if seconds > 9.2e9:
        raise OverflowError("timestamp too large to convert to C _PyTime_t")


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = 0

    def clock(self):
        self.now += 0.0005
        return self.now

    def sleep(self, seconds):
        checked_sleep_length(seconds)
        self.sleeps += 1
        if self.sleeps > MAX_FAKE_POLLS:
            raise NeverEnds("more than %d polls" % MAX_FAKE_POLLS)
        self.now += seconds


def _on_fake_clock(real):
    def run(*args, **kwargs):
        clock = FakeClock()
        kwargs.update(clock=clock.clock, sleep=clock.sleep)
        return real(*args, **kwargs)
    return run


def _fake_cpu_percent(sample_seconds=0.5, stat_path="/proc/stat"):
    checked_sleep_length(sample_seconds)
    return 10.0


# ------------------------------------------------------------------ fake Docker engine

class FakeContainer:
    def __init__(self, attrs, effects):
        self.attrs = attrs
        self.name = attrs["Name"].lstrip("/")
        self.id = attrs["Id"]
        self._effects = effects

    def __getattr__(self, name):
        if name in ("pause", "unpause", "stop", "start", "restart", "kill", "remove"):
            return lambda *a, **kw: self._effects.append(("docker", name, self.name))
        raise AttributeError(name)


def _attrs(index, name, labels, status="running"):
    return {"Id": ("%02d" % index) * 32, "Name": "/" + name, "RestartCount": 0,
            "Config": {"Labels": labels},
            "State": {"Status": status, "Pid": 4000 + index, "StartedAt": "2026-01-01T00:00:00Z",
                      "Running": status == "running", "Paused": status == "paused"},
            "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "172.17.0.%d" % (index + 1)}}}}


class FakeClient:
    def __init__(self, effects):
        compose = {"com.docker.compose.project": "demo"}
        attrs = [
            _attrs(1, "demo_web_1", dict(compose, **{"com.docker.compose.service": "web"})),
            _attrs(2, "demo_db_1", dict(compose, **{"com.docker.compose.service": "db",
                                                    "sutazai.chaos.protected": "true"})),
            _attrs(3, "worker-a", {"tier": "worker"}),
            _attrs(4, "worker-b", {"tier": "worker"}, status="exited"),
        ]
        self._containers = [FakeContainer(a, effects) for a in attrs]
        self.containers = self

    def ping(self):
        return True

    def list(self, all=False, ignore_removed=False):  # pylint: disable=redefined-builtin
        return list(self._containers)

    def get(self, container_id):
        for container in self._containers:
            if container.id == container_id or container.name == container_id:
                return container
        raise _docker.NotFound("no such container: %s" % container_id)


# ------------------------------------------------------------------ commands

MUTATING_TC = {"add", "replace", "change", "del", "delete"}
MUTATING_IPTABLES = {"-N", "-I", "-A", "-D", "-F", "-X", "-R", "-P"}


def is_mutating(argv):
    words = [str(w) for w in argv]
    if "tc" in words and MUTATING_TC & set(words[words.index("tc"):]):
        return True
    if "iptables" in words and MUTATING_IPTABLES & set(words):
        return True
    return False


def _fake_output(argv):
    words = [str(w) for w in argv]
    if "route" in words:
        return '[{"dst": "default", "dev": "eth0"}]'
    if "link" in words:
        return '[{"ifname": "lo"}, {"ifname": "eth0"}]'
    if "qdisc" in words and "show" in words:
        return "[]"
    if "nat" in words and "-S" in words:  # a lost entry's chains, for state=absent of http_chaos and dns_chaos
        return LEFTOVER_NAT_RULES
    return ""


# ------------------------------------------------------------------ one run

class Run:
    """What one module run did: its outcome and every stubbed side effect it attempted."""

    def __init__(self, name):
        self.name = name
        self.outcome = None  # "exit", "fail" or "crash"
        self.result = None
        self.crash = None
        self.commands = []
        self.effects = []
        self.bound_ports = set(BOUND_PORTS)
        self.base = tempfile.mkdtemp(prefix="sutazai-fuzz-", dir=SCRATCH)
        self.state_dir = os.path.join(self.base, "state")
        self.cgroup = os.path.join(self.base, "cgroup")
        if name == "resource_stress":
            for controller in ("blkio", "memory", "cpu"):
                os.makedirs(os.path.join(self.cgroup, controller))
                open(os.path.join(self.cgroup, controller, "cgroup.procs"), "w").close()
        os.makedirs(self.state_dir)

    def mutations(self):
        if self.name in EVERY_COMMAND_CHANGES:
            return self.commands + self.effects
        return [c for c in self.commands if is_mutating(c)] + self.effects

    def active_entries(self):
        found = []
        for root, _dirs, files in os.walk(self.base):
            if "ledger.json" in files:
                try:
                    with open(os.path.join(root, "ledger.json")) as handle:
                        data = json.load(handle)
                except ValueError:
                    continue
                found += [e for e in data.get("entries", []) if e.get("state") == "active"]
        return found

    def cgroup_writes(self):
        written = []
        for root, _dirs, files in os.walk(self.cgroup):
            for name in files:
                if name != "cgroup.procs" and os.path.getsize(os.path.join(root, name)):
                    written.append(os.path.join(root, name))
        return written

    def cleanup(self):
        shutil.rmtree(self.base, ignore_errors=True)

    # the stubs --------------------------------------------------------

    def run_command(self, module, args, *a, **kw):
        argv = list(args) if isinstance(args, (list, tuple)) else [args]
        self.commands.append(argv)
        return 0, _fake_output(argv), ""

    def connect(self, params):
        if params.get("docker_host") not in REACHABLE_DOCKER_HOSTS:
            raise _docker.ChaosError("the Docker engine at %s does not answer (fake). Nothing was changed."
                                     % params.get("docker_host"))
        return FakeClient(self.effects)

    def spawn_detached(self, state_dir, program_args, log_name, python=None, extra_env=None):
        self.effects.append(("spawn_detached", log_name))
        return 999999

    def spawn_sidecar(self, state_dir, program_args, log_name, extra_env=None, extra_modules=()):
        """A sidecar's detached start, recorded. The program reads its config (the last argument) as it would at
        its real start; if that raises, it died and its port never binds (the module's wait then fails as for
        real), else the port in the config is bound from now."""
        config = json.loads(program_args[-1])
        self.effects.append(("sidecar", log_name, config))
        try:
            SIDECAR_STARTS[extra_modules[0].__name__.rsplit(".", 1)[-1]](config)
        except Exception as exc:  # pylint: disable=broad-except
            self.effects.append(("sidecar died", repr(exc)))
        else:
            self.bound_ports.add(config.get("listen_port", config.get("port")))
        return NOT_A_PID

    def fake_bound_ports(self, pid, protocol):
        return {port: {"0A", "07"} for port in self.bound_ports}

    @staticmethod
    def resolver_of(container):
        """The first nameserver of a fake container: Docker's embedded resolver for compose ones, else a LAN one."""
        return "127.0.0.11" if container["name"].startswith("demo_") else "10.0.0.2"

    def ensure_reaper(self, state_dir, python=None):
        self.effects.append(("ensure_reaper", state_dir))
        return True

    def start_stress(self, state_dir, target, argv, marker):
        self.effects.append(("stress-ng", argv))
        return 999999

    def fill_file(self, path, size):
        self.effects.append(("fill_file", path, size))

    def kill(self, pid, sig):
        if sig != 0:
            self.effects.append(("kill", pid, sig))
        else:
            raise ProcessLookupError(pid)

    @staticmethod
    def container_processes(container_id):
        """A fake container's processes: its main process (the fake engine's State.Pid), a worker, a server."""
        main = 4000 + int(container_id[:2])
        return [{"pid": pid, "ns_pid": ns_pid, "comm": argv[0], "cmdline": argv, "state": "S",
                 "start_ticks": pid * 10, "ppid": main}
                for pid, ns_pid, argv in ((main, 1, ["sh", "-c", "sleep 1000"]), (main + 100, 7, ["sleep", "1000"]),
                                          (main + 200, 8, ["gunicorn", "--token", "x", "app:main"]))]

    def send_signal(self, process, container_id, signum):
        self.effects.append(("signal", process["pid"], signum))

    def docker_request(self, docker_host, method, path, tls=None, timeout=30):
        if method != "GET":
            self.effects.append(("docker_request", method, path))
        return 404, {"message": "no such container (fake)"}

    def cgroup_dirs(self, pid):
        return {c: os.path.join(self.cgroup, c) for c in ("blkio", "memory", "cpu")}

    @staticmethod
    def probe_check(probe, timeout, **_ignored):
        if timeout is not None:
            checked_sleep_length(timeout)  # socket timeouts refuse what sleep refuses, with the same errors
        return True, "stubbed probe", {}

    @contextlib.contextmanager
    def stubs(self):
        run = self
        with contextlib.ExitStack() as stack:
            enter = stack.enter_context
            enter(mock.patch.object(basic.AnsibleModule, "exit_json", _returning(ExitJson)))
            enter(mock.patch.object(basic.AnsibleModule, "fail_json", _returning(FailJson)))

            def recorded_run_command(module, args, *rest, **kwargs):  # a function, so it binds to the module
                return run.run_command(module, args, *rest, **kwargs)

            enter(mock.patch.object(basic.AnsibleModule, "run_command", recorded_run_command))
            enter(mock.patch.object(basic.AnsibleModule, "get_bin_path",
                                    lambda module, arg, required=False, opt_dirs=None: "/usr/bin/%s" % arg))
            for module in list(MODULES.values()) + [_docker, _container]:
                if hasattr(module, "connect"):
                    enter(mock.patch.object(module, "connect", self.connect))
            for module in (_ledger, _fault, _stress):
                for name in ("spawn_detached", "ensure_reaper"):
                    if hasattr(module, name):
                        enter(mock.patch.object(module, name, getattr(self, name)))
            enter(mock.patch.object(_stress, "start_stress", self.start_stress))
            enter(mock.patch.object(_stress, "wait_until_started", lambda state_dir, launches: None))
            enter(mock.patch.object(_stress, "fill_file", self.fill_file))
            enter(mock.patch.object(_stress, "cgroup_dirs", self.cgroup_dirs))
            enter(mock.patch.object(_undo, "docker_request", self.docker_request))
            enter(mock.patch.object(_undo_app, "docker_request", self.docker_request))
            enter(mock.patch.object(_container, "AFTER_KILL_WAIT_SECONDS", 0.0))
            enter(mock.patch.object(_process, "container_processes", self.container_processes))
            enter(mock.patch.object(_process, "in_cgroup_of", lambda pid, container_id: True))
            enter(mock.patch.object(_process, "send_signal", self.send_signal))
            enter(mock.patch.object(_process, "current_state", lambda process, container_id: "gone"))
            enter(mock.patch.object(_process, "_wait", lambda predicate, seconds: predicate()))
            enter(mock.patch.object(_sidecar, "spawn_detached", self.spawn_sidecar))
            enter(mock.patch.object(_sidecar, "_bound_ports", self.fake_bound_ports))
            enter(mock.patch.object(_dns, "upstream_of", self.resolver_of))
            enter(mock.patch.object(_dns, "require_own_netns", lambda container: None))
            enter(mock.patch.object(_dns, "responders_in", lambda container: [container["pid"] + 500]))
            enter(mock.patch.object(os, "kill", self.kill))
            enter(mock.patch.object(resource_stress, "host_cpu_percent", _fake_cpu_percent))
            enter(mock.patch.object(chaos_guard, "host_cpu_percent", _fake_cpu_percent))
            enter(mock.patch.dict(_probes.CHECKS, {k: self.probe_check for k in list(_probes.CHECKS)}))
            enter(mock.patch.object(health_probe, "sample", _on_fake_clock(_probes.sample)))
            enter(mock.patch.object(health_probe, "wait_until", _on_fake_clock(_probes.wait_until)))
            enter(mock.patch.dict(os.environ, {"SSH_CONNECTION": ""}))
            yield


# Crashes already pinned one by one in test_fuzz_regressions.py (strict xfail): (module, text of the
# traceback's last line). The fuzz tests count them as "known" and keep looking for new ones; remove an
# entry when its regression test starts to pass.
KNOWN_CRASHES = [  # crashes of this collection found by fuzzing: all fixed (see test_fuzz_regressions)
]


def known_crash(name, text):
    last = text.strip().splitlines()[-1] if text.strip() else ""
    return any(module == name and needle in last for module, needle in KNOWN_CRASHES)


def raised_by_ansible_core_validation(exc):
    """An exception raised inside ansible-core's own argument-spec validation (``AnsibleModule(...)``).

    ansible-core 2.19.14 itself raises for some malformed input (a dict option with sub-options given a
    number, a bool or a list; an int option given inf) before the module's code runs: a bug to report
    upstream, not one of this collection. Those are counted apart (and pinned by regression tests).
    """
    frames = traceback.extract_tb(exc.__traceback__)
    in_constructor = any(frame.name == "build_module" for frame in frames)
    innermost = frames[-1].filename.replace(os.sep, "/")
    return in_constructor and "/ansible/module_utils/" in innermost and "ansible_collections" not in innermost


def run_module(name, args):
    """Run ``MODULES[name].main()`` with ``args``; returns a Run (outcome exit/fail/crash)."""
    run = Run(name)
    args = dict(args)
    state = args.pop("_state_dir", "fresh")
    netem = args.pop("_netem", False)
    audit_lines = args.pop("_audit_lines", None)
    if state == "fresh":
        args.setdefault("state_dir", run.state_dir)
    elif state == "missing":
        args["state_dir"] = os.path.join(run.base, "not", "there")
    elif state == "file":
        path = os.path.join(run.base, "a-file")
        with open(path, "w") as handle:
            handle.write("not a folder\n")
        args["state_dir"] = path
    elif state == "corrupt":
        with open(os.path.join(run.state_dir, "ledger.json"), "w") as handle:
            handle.write('{"entries": 5')
        args["state_dir"] = run.state_dir
    else:  # a malformed name, always inside the example's own folder
        args["state_dir"] = os.path.join(run.base, state)
    if audit_lines is not None:
        with open(os.path.join(run.state_dir, "audit.jsonl"), "wb") as handle:
            handle.write(b"\n".join(line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
                                    for line in audit_lines))
    run.args = args
    COUNTS[name] += 1
    try:
        with run.stubs(), mock.patch.object(network_chaos, "netem_available", lambda: netem), \
                patch_module_args(args):
            MODULES[name].main()
    except ExitJson as done:
        run.outcome, run.result = "exit", done.result
    except FailJson as done:
        run.outcome, run.result = "fail", done.result
    except SystemExit as exc:  # only a path around fail_json/exit_json ends up here
        run.outcome, run.crash = "crash", "SystemExit(%r) outside exit_json/fail_json" % (exc.code,)
    except Exception as exc:  # pylint: disable=broad-except
        run.outcome = "upstream" if raised_by_ansible_core_validation(exc) else "crash"
        run.crash = traceback.format_exc()
        if run.outcome == "crash" and known_crash(name, run.crash):
            run.outcome = "known"
    else:
        run.outcome, run.crash = "crash", "main() returned without exit_json or fail_json"
    OUTCOMES[name][run.outcome] += 1
    return run


def assert_clean(run, check_mode=False):
    """The property: no traceback (from this collection's code); a refused (or check-mode) call applied nothing and started no reaper."""
    try:
        assert run.outcome != "crash", "%s crashed on %r:\n%s" % (run.name, run.args, run.crash)
        if run.outcome in ("fail", "upstream", "known") or check_mode:
            assert not run.mutations(), "%s applied %r although it %s: %r" % (
                run.name, run.mutations(), "ran in check mode" if check_mode else "failed", run.args)
            assert not run.active_entries(), "%s left active ledger entries %r (%r)" % (
                run.name, run.active_entries(), run.args)
            assert not run.cgroup_writes(), "%s wrote cgroup files %r (%r)" % (
                run.name, run.cgroup_writes(), run.args)
        if run.outcome == "fail":
            assert isinstance(run.result.get("msg"), str) and run.result["msg"], run.result
    finally:
        run.cleanup()
