# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.network_chaos on real packets (this host's kernel: no netem; tbf and iptables statistic).

Each test starts its own containers from the demo image and proves the fault by its effect: a small
Python program (copied into the containers, which have python3 but no network tools) sends UDP
datagrams, opens TCP connections or pushes a few MB between the containers, and the test reads what
arrived. Faults are also looked for in the target's network namespace from the host (``nsenter``
with the host's ``tc`` and ``iptables``). To keep Ansible start-ups few, a test runs its module calls
and its measurements (``docker exec`` as ``ansible.builtin.command`` tasks) as one playbook.
Traffic only flows between the containers of the test (and, for the host-interface case, nowhere:
the interface is one of our own, without addresses).
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import signal
import subprocess
import tarfile
import time

import pytest

from conftest import (REPO, VENV_BIN, active_entries, ansible_env, kill_orphans, ledger_entries, reaper_pids,
                      run_module, run_modules, wait_for, write_playbook)

DOCKER = "/usr/bin/docker"
ROOT = "5a17:"
CHAIN = re.compile(r"^-N (SZC-\S+)", re.M)
SPLIT = "----- tc -----"

# Runs inside the containers (python3 only). "serve" answers UDP on 9999 (echo), accepts TCP on 22 and
# 8080, and counts TCP bytes on 5001; the other commands are clients that print one JSON line.
NET_TOOL = r'''
import json, socket, sys, threading, time

def serve():
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 9999))
    def echo():
        while True:
            data, peer = udp.recvfrom(2048)
            udp.sendto(data, peer)
    def accept(port, sink):
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("0.0.0.0", port))
        srv.listen(64)
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=sink, args=(conn,), daemon=True).start()
    def hold(conn):
        time.sleep(1)
        conn.close()
    def count(conn):
        total = 0
        while True:
            data = conn.recv(1 << 16)
            if not data:
                break
            total += len(data)
        conn.sendall(b"%d\n" % total)
        conn.close()
    threading.Thread(target=echo, daemon=True).start()
    for port, sink in ((22, hold), (8080, hold), (5001, count)):
        threading.Thread(target=accept, args=(port, sink), daemon=True).start()
    time.sleep(0.3)
    open("/tmp/sznet.ready", "w").close()
    while True:
        time.sleep(3600)

def udp(host, count):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(0.05)
    answered = set()
    def drain():
        try:
            while True:
                answered.add(int(sock.recv(64)))
        except (socket.timeout, ValueError):
            pass
    for seq in range(count):
        try:
            sock.sendto(b"%d" % seq, (host, 9999))
        except PermissionError:  # dropped in OUTPUT: the kernel says so to the sender
            pass
        if seq % 20 == 19:
            drain()
    quiet = time.monotonic()
    while time.monotonic() - quiet < 1.0 and len(answered) < count:
        before = len(answered)
        drain()
        if len(answered) != before:
            quiet = time.monotonic()
    return {"sent": count, "answered": len(answered), "loss_percent": 100.0 * (count - len(answered)) / count}

def connect(targets, timeout):
    out = []
    for target in targets:
        host, port = target.rsplit(":", 1)
        sock = socket.socket()
        sock.settimeout(timeout)
        start = time.monotonic()
        try:
            sock.connect((host, int(port)))
            result = "connected"
        except socket.timeout:
            result = "timeout"
        except ConnectionRefusedError:
            result = "refused"
        except OSError as exc:
            result = "error: %s" % exc
        out.append({"target": target, "result": result, "seconds": time.monotonic() - start})
        sock.close()
    return out

def send(host, size):
    chunk = b"x" * 65536
    start = time.monotonic()
    sock = socket.create_connection((host, 5001), timeout=60)
    left = size
    while left > 0:
        left -= sock.send(chunk[:min(left, len(chunk))])
    sock.shutdown(socket.SHUT_WR)
    got = int(sock.makefile().readline())
    seconds = time.monotonic() - start
    return {"bytes": got, "seconds": seconds, "mbit_per_s": got * 8 / seconds / 1e6}

cmd = sys.argv[1]
if cmd == "serve":
    serve()
elif cmd == "udp":
    print(json.dumps(udp(sys.argv[2], int(sys.argv[3]))))
elif cmd == "connect":
    print(json.dumps(connect(sys.argv[3:], float(sys.argv[2]))))
elif cmd == "send":
    print(json.dumps(send(sys.argv[2], int(sys.argv[3]))))
'''


# ------------------------------------------------------------------ helpers

def docker_cli(*args, timeout=60):
    return subprocess.run([DOCKER] + list(args), capture_output=True, text=True, timeout=timeout, check=False)


def install_tool(container, serve=False):
    """Copy the traffic tool into a container; with ``serve``, start its servers and wait until they listen."""
    data = NET_TOOL.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("sznet.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    container.put_archive("/tmp", buf.getvalue())
    if serve:
        container.exec_run(["python3", "/tmp/sznet.py", "serve"], detach=True)
        ready, _waited = wait_for(lambda: container.exec_run(["test", "-e", "/tmp/sznet.ready"]).exit_code == 0,
                                  timeout=15, interval=0.1)
        assert ready, "the traffic servers did not start in %s" % container.name


def tool_argv(container, *args):
    return [DOCKER, "exec", container.name, "python3", "/tmp/sznet.py"] + [str(a) for a in args]


def tool(container, *args):
    """Run a traffic client now (outside any playbook); returns its JSON answer."""
    proc = subprocess.run(tool_argv(container, *args), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def ip_of(container):
    container.reload()
    return container.attrs["NetworkSettings"]["IPAddress"]


def pid_of(container):
    container.reload()
    return container.attrs["State"]["Pid"]


def netns_argv(pid, *argv):
    return ["nsenter", "--net=/proc/%d/ns/net" % pid, "--"] + list(argv)


def netns_state(pid, device="eth0"):
    """(our SZC chains, tc qdisc lines) in a network namespace, read from the host."""
    ipt = subprocess.run(netns_argv(pid, "iptables", "-S"), capture_output=True, text=True, check=True).stdout
    qdiscs = subprocess.run(netns_argv(pid, "tc", "qdisc", "show", "dev", device), capture_output=True, text=True,
                            check=True).stdout
    return CHAIN.findall(ipt), qdiscs


def ours_in(qdiscs):
    return [line for line in qdiscs.splitlines() if " %s " % ROOT in line + " " or "5a18:" in line]


def is_clean(pid, device="eth0"):
    chains, qdiscs = netns_state(pid, device)
    return not chains and not ours_in(qdiscs)


def assert_clean(pid, device="eth0"):
    chains, qdiscs = netns_state(pid, device)
    assert chains == [], "SZC chains left: %s" % chains
    assert ours_in(qdiscs) == [], "our qdiscs left:\n%s" % qdiscs


class Play:
    """Module calls and commands, run as one playbook (every task ignore_errors): one Ansible start-up."""

    def __init__(self, state_dir, **defaults):
        self.calls = []
        self.state_dir = state_dir
        self.defaults = dict(defaults, state_dir=str(state_dir))

    def chaos(self, check=False, diff=False, **args):
        self.calls.append({"module": "network_chaos", "args": dict(self.defaults, **args), "check": check,
                           "diff": diff})
        return len(self.calls) - 1

    def command(self, argv):
        self.calls.append({"module": "ansible.builtin.command", "args": {"argv": list(argv)}})
        return len(self.calls) - 1

    def tool(self, container, *args):
        return self.command(tool_argv(container, *args))

    def netns(self, pid, device="eth0"):
        """One task that reads both our chains and the qdiscs (Played.netns splits them)."""
        return self.command(netns_argv(pid, "sh", "-c", "iptables -S && echo %s && tc qdisc show dev %s"
                                       % (SPLIT, device)))

    def run(self):
        return Played(run_modules(self.calls, self.state_dir))


class Played(list):
    def ok(self, index):
        result = self[index]
        assert result.get("failed") is not True and result.get("rc", 0) == 0, result
        return result

    def json(self, index):
        return json.loads(self.ok(index)["stdout"])

    def netns(self, index):
        rules, qdiscs = self.ok(index)["stdout"].split(SPLIT + "\n")
        return CHAIN.findall(rules), qdiscs


def report(record_property, name, value, unit=""):
    record_property(name, value)
    print("\n%s: %s%s" % (name, value, unit))


@pytest.fixture
def trio(containers):
    """A (the target, with the client), B and C (servers)."""
    a, b, c = containers("a"), containers("b"), containers("c")
    install_tool(a)
    install_tool(b, serve=True)
    install_tool(c, serve=True)
    return a, b, c


def targets(container):
    return {"names": [container.name]}


# ------------------------------------------------------------------ 1. loss

def test_loss_drops_about_the_given_share_of_packets(trio, state_dir, record_property):
    a, b, _c = trio
    pid = pid_of(a)
    play = Play(state_dir, targets=targets(a))
    applied = play.chaos(loss={"percent": 30}, duration=120)
    during = play.tool(a, "udp", ip_of(b), 400)
    chains_during = play.netns(pid)
    removed = play.chaos(state="absent")
    after = play.tool(a, "udp", ip_of(b), 400)
    chains_after = play.netns(pid)
    done = play.run()

    fault = done.ok(applied)["faults"][0]
    assert done[applied]["changed"] is True
    assert fault["backend"] == "iptables-statistic", fault
    chains, qdiscs = done.netns(chains_during)
    assert len(chains) == 1 and ours_in(qdiscs) == [], (chains, qdiscs)
    loss = done.json(during)
    report(record_property, "loss_30_measured_percent", round(loss["loss_percent"], 1), " % of 400 datagrams")
    assert 18 <= loss["loss_percent"] <= 42, loss

    assert done.ok(removed)["changed"] is True
    clean = done.json(after)
    report(record_property, "loss_after_absent_percent", round(clean["loss_percent"], 1), " %")
    assert clean["loss_percent"] < 3, clean
    assert done.netns(chains_after)[0] == []
    assert_clean(pid)
    assert active_entries(state_dir) == []


# ------------------------------------------------------------------ 2. bandwidth

def test_rate_limits_throughput(trio, state_dir, record_property):
    a, b, _c = trio
    size = 4 * 1000 * 1000
    pid = pid_of(a)
    play = Play(state_dir, targets=targets(a))
    baseline = play.tool(a, "send", ip_of(b), size)
    applied = play.chaos(rate="8mbit", duration=120)
    tree = play.netns(pid)
    limited = play.tool(a, "send", ip_of(b), size)
    play.chaos(state="absent")
    done = play.run()

    assert done.ok(applied)["faults"][0]["backend"] == "tbf"
    _chains, qdiscs = done.netns(tree)
    assert "htb %s root" % ROOT in qdiscs and "tbf 5a18:" in qdiscs, qdiscs
    free, slow = done.json(baseline), done.json(limited)
    assert free["bytes"] == size and slow["bytes"] == size
    report(record_property, "rate_8mbit_measured_mbit_s", round(slow["mbit_per_s"], 2),
           " Mbit/s (%.2f s for 4 MB)" % slow["seconds"])
    report(record_property, "rate_baseline_mbit_s", round(free["mbit_per_s"], 1),
           " Mbit/s (%.3f s for 4 MB)" % free["seconds"])
    assert slow["seconds"] >= size / (1.3 * 1e6), slow  # at most 1.3 x 8 Mbit/s
    assert free["seconds"] * 3 < slow["seconds"], (free, slow)
    assert_clean(pid)


# ------------------------------------------------------------------ 3. partition

def test_partition_drop_and_reject(trio, state_dir, record_property):
    a, b, c = trio
    pid = pid_of(a)
    b_ip, c_ip = ip_of(b), ip_of(c)
    play = Play(state_dir, targets=targets(a), duration=120)
    drop = play.chaos(partition={"peers": [b.name]})
    dropped = play.tool(a, "connect", 2, "%s:8080" % b_ip, "%s:8080" % c_ip, "%s:22" % b_ip)
    reject = play.chaos(partition={"peers": [b.name], "action": "reject"})
    rejected = play.tool(a, "connect", 2, "%s:8080" % b_ip, "%s:22" % b_ip)
    chains = play.netns(pid)
    play.chaos(state="absent")
    healed = play.tool(a, "connect", 2, "%s:8080" % b_ip)
    done = play.run()

    assert done.ok(drop)["faults"][0]["backend"] == "iptables"
    to_b, to_c, to_b22 = done.json(dropped)
    report(record_property, "partition_drop_connect_b8080", "%s after %.3f s" % (to_b["result"], to_b["seconds"]))
    report(record_property, "partition_drop_connect_c8080", "%s after %.3f s" % (to_c["result"], to_c["seconds"]))
    report(record_property, "partition_drop_connect_b22", "%s after %.3f s" % (to_b22["result"], to_b22["seconds"]))
    assert to_b["result"] == "timeout" and to_b["seconds"] >= 1.9, to_b
    assert to_c["result"] == "connected", to_c
    assert to_b22["result"] == "connected", to_b22

    replaced = done.ok(reject)
    assert replaced["changed"] is True and replaced["faults"][0]["replaced"]["partition"]["action"] == "drop"
    refused, spared = done.json(rejected)
    report(record_property, "partition_reject_connect_b8080",
           "%s after %.3f s" % (refused["result"], refused["seconds"]))
    assert refused["result"] == "refused" and refused["seconds"] < 0.5, refused
    assert spared["result"] == "connected", spared
    found, _qdiscs = done.netns(chains)
    assert len(found) == 2, found  # ingress and egress of the reject fault; the drop fault's are gone
    assert done.json(healed)[0]["result"] == "connected"
    assert_clean(pid)


# ------------------------------------------------------------------ 4. scope

def test_loss_scoped_to_one_destination(trio, state_dir, record_property):
    a, b, c = trio
    play = Play(state_dir, targets=targets(a))
    applied = play.chaos(loss={"percent": 100}, destinations={"cidrs": ["%s/32" % ip_of(b)]}, duration=120)
    to_b = play.tool(a, "udp", ip_of(b), 100)
    to_c = play.tool(a, "udp", ip_of(c), 100)
    play.chaos(state="absent")
    done = play.run()

    done.ok(applied)
    lost, fine = done.json(to_b), done.json(to_c)
    report(record_property, "scoped_loss_to_b_percent", lost["loss_percent"], " %")
    report(record_property, "scoped_loss_to_c_percent", fine["loss_percent"], " %")
    assert lost["answered"] == 0, lost
    assert fine["answered"] == fine["sent"], fine
    assert_clean(pid_of(a))


# ------------------------------------------------------------------ 5. deadline

def test_deadline_reverts_without_the_controller(containers, state_dir, record_property, session_root):
    a = containers("a")
    pid = pid_of(a)
    rc, result = run_module("network_chaos", {"targets": targets(a), "loss": {"percent": 30}, "rate": "8mbit",
                                              "duration": 3, "state_dir": str(state_dir)})
    assert rc == 0, result
    fault = result["faults"][0]
    assert fault["backend"] == "tbf+iptables-statistic", fault
    chains, qdiscs = netns_state(pid)
    assert len(chains) == 1 and ours_in(qdiscs), (chains, qdiscs)

    deadline = fault["deadline"]
    cleaned, _waited = wait_for(lambda: is_clean(pid), timeout=max(0.0, deadline + 3 - time.time()), interval=0.1)
    seen = time.time()
    assert cleaned, "fault still in place 3 s after its deadline: %s" % (netns_state(pid),)
    report(record_property, "deadline_revert_seen_late_s", round(seen - deadline, 3), " s after the deadline")
    wait_for(lambda: not active_entries(state_dir), timeout=3)
    [entry] = ledger_entries(state_dir)
    assert entry["state"] == "reverted" and entry["reverted_by"] == "reaper", entry
    report(record_property, "deadline_revert_ledger_late_s", round(entry["reverted_at"] - deadline, 3), " s")
    assert_clean(pid)
    gone, _waited = wait_for(lambda: not reaper_pids(session_root / state_dir.name), timeout=5, interval=0.1)
    assert gone, "the reaper did not exit once nothing was left to expire"


# ------------------------------------------------------------------ 6. controller killed

def test_rate_expires_after_the_playbook_is_killed(containers, state_dir, record_property, tmp_path):
    a = containers("a")
    pid = pid_of(a)
    book = write_playbook(tmp_path / "cancelled.yml", [
        {"name": "Limit to 1 mbit for 4 s", "sutazai.chaos.network_chaos": {
            "targets": targets(a), "rate": "1mbit", "duration": 4, "state_dir": str(state_dir)}},
        {"name": "A long observation the job is cancelled during", "ansible.builtin.wait_for": {"timeout": 60}},
        {"name": "Never reached", "sutazai.chaos.network_chaos": {
            "targets": targets(a), "state": "absent", "state_dir": str(state_dir)}},
    ])
    log_path = tmp_path / "playbook.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", str(book)], cwd=REPO,
                                env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            def applied():
                entries = ledger_entries(state_dir)
                return (entries and not entries[0].get("applying") and ours_in(netns_state(pid)[1])
                        and entries[0])

            entry, _waited = wait_for(applied, timeout=60, interval=0.05)
            assert entry, "the playbook never applied the rate: %s" % log_path.read_text()
            os.killpg(proc.pid, signal.SIGKILL)
            killed_at = time.time()
            proc.wait(timeout=10)
            deadline = entry["deadline"]
            assert killed_at < deadline, "the kill must happen while the fault is active"
            report(record_property, "kill9_before_deadline_s", round(deadline - killed_at, 3), " s")

            gone, _waited = wait_for(lambda: not ours_in(netns_state(pid)[1]),
                                     timeout=max(0.0, deadline + 2 - time.time()), interval=0.05)
            seen = time.time()
            assert gone, "qdisc still there 2 s after the deadline, with the playbook dead"
            report(record_property, "kill9_qdisc_gone_late_s", round(seen - deadline, 3), " s after the deadline")
            wait_for(lambda: not active_entries(state_dir), timeout=3)
            [final] = ledger_entries(state_dir)
            assert final["state"] == "reverted" and final["reverted_by"] == "reaper", final
            assert_clean(pid)
            assert "Never reached" not in log_path.read_text()
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            kill_orphans()  # the setsid'ed worker running wait_for survives the group kill


# ------------------------------------------------------------------ 7. idempotence

def test_idempotence_replace_check_mode_and_absent(containers, state_dir):
    a = containers("a")
    pid = pid_of(a)
    play = Play(state_dir, targets=targets(a), duration=120)
    first = play.chaos(loss={"percent": 10})
    again = play.chaos(loss={"percent": 10})
    again_check = play.chaos(loss={"percent": 10}, check=True)
    replace = play.chaos(rate="8mbit", loss={"percent": 20}, diff=True)
    replaced_state = play.netns(pid)
    check_new = play.chaos(partition={"peers": ["172.31.255.254"]}, check=True)
    after_check = play.netns(pid)
    absent = play.chaos(state="absent")
    absent_again = play.chaos(state="absent")
    done = play.run()

    assert done.ok(first)["changed"] is True
    assert done.ok(again)["changed"] is False
    assert done.ok(again_check)["changed"] is False
    assert done[first]["faults"][0]["entry_id"] == done[again]["faults"][0]["entry_id"]

    new = done.ok(replace)
    assert new["changed"] is True
    assert new["faults"][0]["backend"] == "tbf+iptables-statistic"
    old = new["faults"][0]["replaced"]
    assert old["loss"]["percent"] == 10 and "rate" not in old, old
    assert new["diff"]["before"][a.name]["loss"]["percent"] == 10, new["diff"]
    assert new["diff"]["after"][a.name]["rate"] == "8mbit", new["diff"]
    chains, qdiscs = done.netns(replaced_state)
    assert len(chains) == 1, chains  # the loss 10 chain is gone, the loss 20 chain is there
    assert len([q for q in qdiscs.splitlines() if q.startswith("qdisc htb %s root" % ROOT)]) == 1, qdiscs
    assert len([q for q in qdiscs.splitlines() if "tbf 5a18:" in q]) == 1, qdiscs

    would = done.ok(check_new)
    assert would["changed"] is True and would["faults"][0]["replaced"]["loss"]["percent"] == 20, would
    assert done.netns(after_check) == (chains, qdiscs), "check mode changed the netns"

    assert done.ok(absent)["changed"] is True
    assert done.ok(absent_again)["changed"] is False
    states = sorted(e["state"] for e in ledger_entries(state_dir))
    assert states == ["replaced", "reverted"], states
    assert_clean(pid)


# ------------------------------------------------------------------ 8. bad input

def test_bad_input_changes_nothing(containers, state_dir):
    a = containers("a")
    pid = pid_of(a)
    play = Play(state_dir, targets=targets(a))
    cases = {
        "delay": (play.chaos(delay={"ms": 100}, duration=30), "sch_netem"),
        "delay with loss and rate": (play.chaos(delay={"ms": 100}, loss={"percent": 5}, rate="8mbit", duration=30),
                                     "sch_netem"),
        "loss 150": (play.chaos(loss={"percent": 150}, duration=30), "150"),
        "rate fast": (play.chaos(rate="fast", duration=30), "fast"),
        "unknown peer": (play.chaos(partition={"peers": ["no-such-container"]}, duration=30), "no-such-container"),
        "no eth9": (play.chaos(device="eth9", loss={"percent": 5}, duration=30), "eth9"),
        "no duration": (play.chaos(loss={"percent": 5}), "duration"),
        "protected": (play.chaos(loss={"percent": 5}, protected=[a.name], duration=30), "protected"),
    }
    both = play.chaos(interface="sctnone0", loss={"percent": 5}, duration=30)
    cases["interface and targets"] = (both, "interface")
    state = play.netns(pid)
    done = play.run()

    for what, (index, word) in cases.items():
        result = done[index]
        assert result.get("failed") is True, (what, result)
        msg = result.get("msg", "")
        assert word in msg, (what, msg)
        assert "Nothing was changed" in msg, (what, msg)
    assert "Traceback" not in done[0].output
    chains, qdiscs = done.netns(state)
    assert chains == [] and ours_in(qdiscs) == [], (chains, qdiscs)
    assert active_entries(state_dir) == []


def test_bad_address_with_rate_is_a_clear_error(containers, state_dir):
    a = containers("a")
    play = Play(state_dir, targets=targets(a), duration=30)
    scoped = play.chaos(rate="8mbit", destinations={"cidrs": ["not-a-cidr"]})
    spared = play.chaos(rate="8mbit", spare={"addresses": ["bogus"]})
    state = play.netns(pid_of(a))
    done = play.run()

    chains, qdiscs = done.netns(state)
    assert chains == [] and ours_in(qdiscs) == [], (chains, qdiscs)
    assert active_entries(state_dir) == []
    for index, word in ((scoped, "not-a-cidr"), (spared, "bogus")):
        result = done[index]
        assert result.get("failed") is True, result
        assert word in result["msg"] and "Nothing was changed" in result["msg"], result["msg"]
        assert "Traceback" not in json.dumps(result), result


# ------------------------------------------------------------------ 9. restarted target

def test_reaper_copes_with_a_target_that_restarted(containers, state_dir):
    a = containers("a", restart=True)
    old_pid = pid_of(a)
    rc, result = run_module("network_chaos", {"targets": targets(a), "loss": {"percent": 30}, "duration": 4,
                                              "state_dir": str(state_dir)})
    assert rc == 0, result
    deadline = result["faults"][0]["deadline"]
    assert len(netns_state(old_pid)[0]) == 1

    os.kill(old_pid, signal.SIGKILL)  # a crash: the engine restarts it, with a new network namespace
    restarted, _waited = wait_for(lambda: a.reload() or (a.attrs["State"]["Running"] and a.attrs["State"]["Pid"] not in
                                                         (0, old_pid)), timeout=15, interval=0.1)
    assert restarted, a.attrs["State"]
    new_pid = pid_of(a)
    assert time.time() < deadline, "the restart took longer than the fault: the test proves nothing"
    assert_clean(new_pid)

    reverted, _waited = wait_for(lambda: not active_entries(state_dir), timeout=max(0.0, deadline + 4 - time.time()),
                                 interval=0.1)
    assert reverted, ledger_entries(state_dir)
    [entry] = ledger_entries(state_dir)
    assert entry["state"] == "reverted" and entry["reverted_by"] == "reaper", entry
    assert all("gone" in step for step in entry["outcome"]), entry["outcome"]
    log = state_dir / "reaper.log"
    assert "Traceback" not in (log.read_text() if log.exists() else "")
    assert_clean(pid_of(a))

    rc, result = run_module("network_chaos", {"targets": targets(a), "state": "absent",
                                              "state_dir": str(state_dir)})
    assert rc == 0 and result["changed"] is False, result
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ 10. host interface

@pytest.fixture
def own_interface():
    """An interface of our own on the host: a dummy, or (kernel without the dummy driver) a veth pair.

    It has no address and no route, so nothing is ever sent through it; it is deleted afterwards.
    """
    name = "sctdummy%s" % secrets.token_hex(2)
    made = subprocess.run(["ip", "link", "add", name, "type", "dummy"], capture_output=True, text=True, check=False)
    if made.returncode != 0:
        subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", name[:-1] + "p"],
                       check=True, capture_output=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    yield name
    subprocess.run(["ip", "link", "del", name], check=False, capture_output=True)


def test_host_interface_rate(own_interface, state_dir):
    def qdiscs():
        return subprocess.run(["tc", "qdisc", "show", "dev", own_interface], capture_output=True, text=True,
                              check=True).stdout

    play = Play(state_dir, interface=own_interface)
    applied = play.chaos(rate="8mbit", duration=120)
    tree = play.command(["tc", "qdisc", "show", "dev", own_interface])
    removed = play.chaos(state="absent")
    done = play.run()

    fault = done.ok(applied)["faults"][0]
    assert fault["target"] == "host:%s" % own_interface and fault["backend"] == "tbf", fault
    shown = done.ok(tree)["stdout"]
    assert "qdisc htb %s root" % ROOT in shown and "qdisc tbf 5a18:" in shown, shown
    assert done.ok(removed)["changed"] is True
    assert ours_in(qdiscs()) == [], qdiscs()
    assert active_entries(state_dir) == []
