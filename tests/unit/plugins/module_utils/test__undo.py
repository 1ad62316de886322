"""Undo steps that need no engine (signal by environment marker, remove_file, write_file), and the
validation that keeps the reaper from running anything but the undo steps this collection writes."""

from __future__ import annotations

import os
import sys
import time
import uuid

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _undo
from ansible_collections.sutazai.chaos.plugins.module_utils._container import ContainerChaos
from ansible_collections.sutazai.chaos.plugins.module_utils._iptables import chain_names, remove_commands
from ansible_collections.sutazai.chaos.plugins.module_utils._network import Target
from ansible_collections.sutazai.chaos.plugins.module_utils._stress import MARKER_VARIABLE, throttle_writes
from ansible_collections.sutazai.chaos.plugins.module_utils._tc import remove_command
from ansible_collections.sutazai.chaos.plugins.module_utils._undo import (LedgerError, UndoRefused, execute_undo,
                                                                          validate_step)

import spawned  # noqa: I001

CONTAINER_ID = "0123456789abcdef" * 4
STATE = "/var/lib/sutazai-chaos"


def _entry(*steps, created=None):
    return {"kind": "test", "target": {"name": "t"}, "undo": list(steps),
            "created": time.time() if created is None else created}


def _alive(proc):
    return proc.poll() is None


def _marker():
    return "%s=%s" % (MARKER_VARIABLE, os.urandom(4).hex())


def _spawn(marker=None, code="import time; time.sleep(30)"):
    env = dict(os.environ)
    if marker:
        key, value = marker.split("=")
        env[key] = value
    return spawned.started([sys.executable, "-c", code], env=env)


def test_signal_ends_only_the_marked_processes():
    marker = _marker()
    created = time.time()
    marked, other = _spawn(marker), _spawn()
    try:
        outcome = execute_undo(_entry({"type": "signal", "marker": marker, "expect_cmd": "time.sleep"},
                                      created=created))
        marked.wait(timeout=3)
        assert not _alive(marked)
        assert _alive(other), "a process without the marker was signalled"
        assert "ended (SIGTERM)" in outcome[0]
        # nothing left: the same undo again is a no-op
        assert execute_undo(_entry({"type": "signal", "marker": marker}))[0] == "no process of ours left"
    finally:
        for proc in (marked, other):
            if _alive(proc):
                proc.kill()
            proc.wait()


def test_signal_kills_what_ignores_sigterm():
    marker = _marker()
    created = time.time()
    stubborn = _spawn(marker, "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)")
    time.sleep(0.3)  # let it install its handler
    try:
        started = time.monotonic()
        outcome = execute_undo(_entry({"type": "signal", "marker": marker}, created=created))
        stubborn.wait(timeout=3)
        assert "SIGKILL" in outcome[0]
        assert time.monotonic() - started < 4
    finally:
        if _alive(stubborn):
            stubborn.kill()
        stubborn.wait()


def test_signal_spares_a_marked_process_older_than_the_entry():
    """A process that was running before the entry was recorded cannot be one the entry started."""
    marker = _marker()
    older = _spawn(marker)
    try:
        time.sleep(0.2)
        outcome = execute_undo(_entry({"type": "signal", "marker": marker},
                                      created=time.time() + _undo.START_SLACK_SECONDS + 5))
        assert outcome == ["no process of ours left"]
        assert _alive(older)
    finally:
        older.kill()
        older.wait()


def test_remove_file_and_write_file(tmp_path, monkeypatch):
    monkeypatch.setattr(_undo, "CGROUP_ROOT", str(tmp_path))
    fill = tmp_path / "sutazai-chaos-fill-1714644672-a1b2c3.bin"
    fill.write_bytes(b"x" * 10)
    knob = tmp_path / "blkio.throttle.read_bps_device"
    knob.write_text("254:0 2097152")
    outcomes = execute_undo(_entry({"type": "remove_file", "path": str(fill)},
                                   {"type": "write_file", "path": str(knob), "content": "254:0 0"}))
    assert not fill.exists() and knob.read_text() == "254:0 0"
    assert outcomes[0].startswith("removed")
    again = execute_undo(_entry({"type": "remove_file", "path": str(fill)},
                                {"type": "write_file", "path": str(tmp_path / "gone" / "io.max"),
                                 "content": "254:0 rbps=max wiops=max"}))
    assert "already gone" in again[0] and "gone" in again[1]


def test_unknown_step_is_an_error():
    with pytest.raises(UndoRefused, match="unknown undo step type 'teleport'"):
        execute_undo(_entry({"type": "teleport"}))


# ------------------------------------------------------------------ what the collection writes passes

def _container():
    return {"id": CONTAINER_ID, "name": "web", "pid": 4242}


def _written_steps():
    """The undo steps the fault modules really record, built by their own code."""
    chains = chain_names(uuid.uuid4().hex, ["ingress", "egress"])
    host, inside = Target("eth0"), Target("eth0", _container())
    steps = [inside.undo_step(remove_command("eth0"), "tc"), host.undo_step(remove_command("ens3"), "tc")]
    steps += [inside.undo_step(argv, "iptables") for argv in remove_commands(chains, "eth0")]
    steps += [host.undo_step(argv, "iptables") for argv in remove_commands(chains)]
    chaos = ContainerChaos(None, {"action": "pause", "state_dir": STATE, "experiment_id": "e", "docker_host":
                                  "unix:///var/run/docker.sock", "tls": False, "validate_certs": True, "ca_path": None,
                                  "client_cert": None, "client_key": None})
    steps += [chaos._undo_step(_container(), "unpause", {"Paused": False}),
              chaos._undo_step(_container(), "start", {"Running": True})]
    steps += [{"type": "signal", "marker": "%s=%s" % (MARKER_VARIABLE, os.urandom(8).hex())}]
    steps += [{"type": "remove_file", "path": "/tmp/sutazai-chaos-fill-1714644672-a1b2c3.bin",
               "container": CONTAINER_ID, "docker_host": "unix:///var/run/docker.sock", "tls": None},
              {"type": "remove_file", "path": "/data/sutazai-chaos-fill-1714644672-a1b2c3.bin"},
              {"type": "remove_file", "path": STATE + "/trial-marker"}]
    cgroup = "/sys/fs/cgroup/system.slice/docker-%s.scope" % CONTAINER_ID
    steps += [{"type": "write_file", "path": path, "content": back} for path, _value, back in
              throttle_writes({"": cgroup}, "254:0", {"read_bps": 1, "write_iops": 2})]
    steps += [{"type": "write_file", "path": path, "content": back} for path, _value, back in
              throttle_writes({"blkio": "/sys/fs/cgroup/blkio/docker/" + CONTAINER_ID}, "8:0",
                              {"read_bps": 1, "write_bps": 2, "read_iops": 3, "write_iops": 4})]
    return steps


@pytest.mark.parametrize("step", _written_steps(), ids=lambda s: "%s-%s" % (s["type"], (s.get("argv") or [s.get(
    "path", "")])[-1][-24:]))
def test_every_step_the_collection_writes_is_accepted(step):
    validate_step(step, STATE, {"created": time.time()})


@pytest.mark.parametrize("argv", [
    ["iptables", "-t", "mangle", "-F", "SZC-0123456789-O"],
    ["ip6tables", "-w", "-X", "SZC-0123456789-I"],
    ["/usr/sbin/iptables-legacy", "-D", "FORWARD", "-o", "veth1a2b", "-j", "SZC-0123456789-O"],
    ["nft", "delete", "table", "inet", "sutazai_chaos"],
    ["nsenter", "--net=/proc/4242/ns/net", "--", "tc", "qdisc", "del", "dev", "eth0", "root"],
    ["/usr/bin/nsenter", "--net=/proc/1/ns/net", "--", "nft", "flush", "chain", "ip", "filter", "szc_out"],
])
def test_the_other_allowed_commands(argv):
    validate_step({"type": "argv", "argv": argv})


# ------------------------------------------------------------------ anything else is refused

@pytest.mark.parametrize("step, reason", [
    ({"type": "argv", "argv": ["touch", "/tmp/x"]}, "program 'touch' is not one this collection runs"),
    ({"type": "argv", "argv": ["/tmp/evil/tc", "qdisc", "del", "dev", "eth0", "root"]},
     "program '/tmp/evil/tc' is not one"),
    ({"type": "argv", "argv": ["../sbin/tc", "qdisc", "del", "dev", "eth0", "root"]}, "program '../sbin/tc'"),
    ({"type": "argv", "argv": ["sh", "-c", "tc qdisc del dev eth0 root"]}, "program 'sh'"),
    ({"type": "argv", "argv": ["tc", "qdisc", "add", "dev", "eth0", "root", "netem", "loss", "100%"]},
     "is not an undo this collection writes for tc"),
    ({"type": "argv", "argv": ["tc", "-batch", "/tmp/cmds"]}, "is not an undo this collection writes"),
    ({"type": "argv", "argv": ["tc", "qdisc", "del", "dev", "-b", "root"]}, "is not an undo"),
    ({"type": "argv", "argv": ["tc", "qdisc", "del", "dev", "eth0 root", "handle", "1:"]}, "is not an undo"),
    ({"type": "argv", "argv": ["iptables", "--modprobe=/tmp/x", "-F", "SZC-0123456789-O"]}, "is not an undo"),
    ({"type": "argv", "argv": ["iptables", "-M", "/tmp/x", "-F", "SZC-0123456789-O"]}, "is not an undo"),
    ({"type": "argv", "argv": ["iptables", "-F", "INPUT"]}, "is not an undo"),
    ({"type": "argv", "argv": ["iptables", "-D", "INPUT", "-j", "ACCEPT"]}, "is not an undo"),
    ({"type": "argv", "argv": ["iptables", "-P", "INPUT", "DROP"]}, "is not an undo"),
    ({"type": "argv", "argv": ["nft", "-f", "/tmp/rules"]}, "is not an undo"),
    ({"type": "argv", "argv": ["nft", "add", "rule", "inet", "filter", "input", "drop"]}, "is not an undo"),
    ({"type": "argv", "argv": ["nsenter", "--mount=/proc/1/ns/mnt", "--", "tc", "qdisc", "del", "dev", "eth0",
                               "root"]}, "nsenter is only run as"),
    ({"type": "argv", "argv": ["nsenter", "--net=/proc/1/ns/net", "--", "touch", "/x"]}, "program 'touch'"),
    ({"type": "argv", "argv": "tc qdisc del dev eth0 root"}, "argv is not a list"),
    ({"type": "argv", "argv": ["tc", "qdisc", "del", "dev", "eth0", "root"], "netns": {"pid": "1; rm"}},
     "netns is not"),
    ({"type": "argv", "argv": ["tc", "qdisc", "del", "dev", "eth0", "root"], "gone_regex": "("},
     "gone_regex is not a regular expression"),
    ({"type": "docker_api", "path": "/containers/abc/exec"}, "is not /containers/<id>/unpause|start"),
    ({"type": "docker_api", "path": "/containers/abc/../../images/x/unpause"}, "is not /containers"),
    ({"type": "docker_api", "path": "/containers/abc/unpause?x=1"}, "is not /containers"),
    ({"type": "docker_api", "method": "DELETE", "path": "/containers/abc/start"}, "only POST"),
    ({"type": "docker_api", "path": "/containers/abc/start", "container": "def"}, "not the one in the path"),
    ({"type": "docker_api", "path": "/containers/abc/start", "docker_host": "file:///etc/passwd"},
     "is not a unix://"),
    ({"type": "signal", "marker": "HOME=/root"}, "is not SUTAZAI_CHAOS_MARK=<hex>"),
    ({"type": "signal", "marker": "SUTAZAI_CHAOS_MARK="}, "is not SUTAZAI_CHAOS_MARK=<hex>"),
    ({"type": "remove_file", "path": "/etc/passwd"}, "is neither a disk fill nor a file of the state folder"),
    ({"type": "remove_file", "path": STATE + "/../../../etc/shadow"}, "is not an absolute, normalised path"),
    ({"type": "remove_file", "path": STATE + "/ledger.json"}, "other than its bookkeeping"),
    ({"type": "remove_file", "path": STATE + "/lib/sutazai_chaos_reaper/_undo.py"}, "other than its bookkeeping"),
    ({"type": "remove_file", "path": STATE}, "is neither a disk fill"),
    ({"type": "remove_file", "path": "/etc/passwd", "container": CONTAINER_ID}, "is not a file this collection"),
    ({"type": "remove_file", "path": "relative/sutazai-chaos-fill-1-ab.bin"}, "not an absolute"),
    ({"type": "write_file", "path": "/etc/cron.d/x", "content": "254:0 0"}, "is not a block-I/O throttle file"),
    ({"type": "write_file", "path": "/sys/fs/cgroup/x/cgroup.procs", "content": "1"}, "is not a block-I/O"),
    ({"type": "write_file", "path": "/sys/fs/cgroup/../../etc/io.max", "content": "254:0 0"}, "is not a block"),
    ({"type": "write_file", "path": "/sys/fs/cgroup/x/io.max", "content": "254:0 rbps=1"}, "does not lift"),
    ({"type": "teleport"}, "unknown undo step type 'teleport'"),
    ("rm -rf /", "a step is not a mapping"),
])
def test_anything_else_is_refused(step, reason):
    with pytest.raises(UndoRefused) as info:
        validate_step(step, STATE, {"created": time.time()})
    assert reason in info.value.msg


def test_a_signal_step_needs_the_entry_s_creation_time():
    with pytest.raises(UndoRefused, match="the entry has no creation time"):
        validate_step({"type": "signal", "marker": _marker()}, STATE, {})


def test_a_state_folder_file_needs_the_state_folder():
    with pytest.raises(UndoRefused, match="is not a file this collection creates"):
        validate_step({"type": "remove_file", "path": STATE + "/trial-marker"}, None, {})


def test_no_step_runs_when_a_later_one_is_refused(tmp_path):
    fill = tmp_path / "sutazai-chaos-fill-1-abcdef.bin"
    fill.write_text("x")
    with pytest.raises(UndoRefused, match="undo step 2 of test on t refused: program 'touch'"):
        execute_undo(_entry({"type": "remove_file", "path": str(fill)},
                            {"type": "argv", "argv": ["touch", str(tmp_path / "new")]}), run_argv=lambda a: (0, "", ""))
    assert fill.exists() and not (tmp_path / "new").exists()


def test_refused_is_a_ledger_error():
    assert issubclass(UndoRefused, LedgerError)
