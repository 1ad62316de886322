# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""sutazai.chaos.dns_chaos against real containers, measured from a real client.

Network safety: the client container's only nameserver (``--dns``) is a resolver container of the tests' own
(``dns_lab.py serve``: authoritative for a few ``*.test`` names, never forwards), and the resolver itself has
``--dns 127.0.0.1``. Both are on the default bridge, which has no embedded resolver. Before anything is queried
a guard goes in: on the host, a FORWARD chain of ours drops (and counts) DNS from either container to any other
address; in the client's namespace, an OUTPUT rule does the same for what leaves it after our nat rules (the
responder's forwarded queries). Every test ends by asserting both counters are 0.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import statistics
import subprocess
import time

import pytest

from conftest import (IMAGE, REPO, RUN_LABEL, SESSION_TAG, VENV_BIN, active_entries, ansible_env,
                      background_playbook, first_applied_entry, kill_orphans, ledger_entries, run_module, wait_for,
                      write_playbook)

LAB = "/srv/dns_lab.py"
ADDRESSES = {"api.test": "192.0.2.1", "other.test": "192.0.2.2"}
EAI_NONAME, EAI_AGAIN = -2, -3


def iptables(*args, netns_pid=None):
    prefix = ["nsenter", "--net=/proc/%d/ns/net" % netns_pid, "--"] if netns_pid else []
    return subprocess.run(prefix + ["iptables", "-w", "5"] + list(args), capture_output=True, text=True, check=True)


class DnsLab:
    """The resolver, the client, and the guards that prove no query leaves for another address."""

    def __init__(self, docker_client, prefix, user_network=False):
        self.docker = docker_client
        self.made = []
        self.network = None
        self.guard = "SCTDNS-" + secrets.token_hex(3).upper()
        mount = {str(REPO / "tests" / "integration" / "dns_lab.py"): {"bind": LAB, "mode": "ro"}}
        labels = {RUN_LABEL: SESSION_TAG, "sct.prefix": prefix}
        if user_network:
            # On a user-defined network the client's nameserver is Docker's embedded resolver (127.0.0.11); it
            # answers container names itself and forwards every other name to the client's --dns servers, here
            # only the test resolver.
            self.network = docker_client.networks.create(prefix + "dns-net", labels=labels)
        self.resolver = self._run(prefix + "dns-resolver", ["python3", "-u", LAB, "serve"], mount, labels,
                                  ["127.0.0.1"])
        self.resolver_ip = self._address(self.resolver)
        self.client = self._run(prefix + "dns-client", ["sleep", "infinity"], mount, labels, [self.resolver_ip])
        self.client_ip = self._address(self.client)
        self.client_pid = self.client.attrs["State"]["Pid"]
        self._install_guards()
        ready, _waited = wait_for(lambda: b"ready" in self.resolver.logs(), timeout=10)
        assert ready, self.resolver.logs()

    def _run(self, name, command, mount, labels, dns):
        container = self.docker.containers.run(IMAGE, command, name=name, detach=True, labels=labels,
                                               volumes=mount, dns=dns,
                                               network=self.network.name if self.network else None)
        self.made.append(container)
        container.reload()
        return container

    def _address(self, container):
        if self.network:
            return container.attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"]
        return container.attrs["NetworkSettings"]["IPAddress"]

    def _install_guards(self):
        rules = [["-p", proto, "--dport", "53", "!", "-d", self.resolver_ip, "-j", "DROP"] for proto in ("udp", "tcp")]
        iptables("-N", self.guard)
        for rule in rules:
            iptables("-A", self.guard, *rule)
        for source in (self.client_ip, self.resolver_ip):
            iptables("-I", "FORWARD", "1", "-s", source, "-j", self.guard)
        for rule in rules:
            iptables("-A", "OUTPUT", *rule, netns_pid=self.client_pid)

    def leaked(self):
        """Packets the guards caught (DNS for another address): host FORWARD and the client's OUTPUT."""
        host = iptables("-L", self.guard, "-n", "-v", "-x").stdout.splitlines()[2:]
        inside = [line for line in iptables("-L", "OUTPUT", "-n", "-v", "-x", netns_pid=self.client_pid)
                  .stdout.splitlines()[2:] if "dpt:53" in line]
        assert len(host) == 2 and len(inside) == 2, (host, inside)
        return sum(int(line.split()[0]) for line in host + inside)

    def close(self):
        for source in (self.client_ip, self.resolver_ip):
            subprocess.run(["iptables", "-w", "5", "-D", "FORWARD", "-s", source, "-j", self.guard], check=False)
        subprocess.run(["iptables", "-w", "5", "-F", self.guard], check=False)
        subprocess.run(["iptables", "-w", "5", "-X", self.guard], check=False)
        for container in self.made:
            container.remove(force=True)
        if self.network:
            self.network.remove()

    def in_client(self, *args, timeout=120):
        proc = subprocess.run(["docker", "exec", self.client.name, "python3", LAB] + [str(a) for a in args],
                              capture_output=True, text=True, timeout=timeout, check=False)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    def resolve(self, *names):
        return self.in_client("resolve", *names)

    def getent(self, name):
        proc = subprocess.run(["docker", "exec", self.client.name, "getent", "hosts", name], capture_output=True,
                              text=True, timeout=30, check=False)
        return proc.returncode, proc.stdout.split()[:1]

    def ours_left(self):
        """Our nat chains in the client's namespace and our responder processes (by command line)."""
        chains = [line for line in iptables("-t", "nat", "-S", netns_pid=self.client_pid).stdout.splitlines()
                  if "SZC-" in line]
        responders = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as handle:
                    cmd = handle.read()
                with open("/proc/%s/stat" % pid) as handle:
                    zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
            except OSError:
                continue
            if b"sutazai_chaos_reaper._dns_responder" in cmd and not zombie and \
                    os.readlink("/proc/%s/ns/net" % pid) == os.readlink("/proc/%d/ns/net" % self.client_pid):
                responders.append(int(pid))
        return chains, responders

    def assert_normal(self):
        """Nothing of ours left, and resolution as before the fault."""
        chains, responders = self.ours_left()
        assert chains == [] and responders == [], (chains, responders)
        got = self.resolve(*ADDRESSES)
        assert {name: r["addresses"] for name, r in got.items()} == {n: [a] for n, a in ADDRESSES.items()}, got


@pytest.fixture
def lab(docker_client, prefix):
    made = DnsLab(docker_client, prefix)
    try:
        yield made
        assert made.leaked() == 0, "a DNS query left for an address other than the test resolver"
    finally:
        made.close()


def dns(lab, state_dir, **args):
    base = {"targets": {"names": [lab.client.name]}, "state_dir": str(state_dir), "duration": 60}
    base.update(args)
    return base


def test_nxdomain_for_the_matched_name_while_others_resolve(lab, state_dir):
    lab.assert_normal()
    seen_before = len(lab.resolver.logs())
    rc, checked = run_module("dns_chaos", dns(lab, state_dir, names=["API.test."], answer="nxdomain"), check=True)
    assert rc == 0 and checked["changed"], checked
    assert checked["faults"][0]["upstream"] == lab.resolver_ip and lab.ours_left() == ([], [])
    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["API.test."], answer="nxdomain"), diff=True)
    assert rc == 0 and result["changed"], result
    fault = result["faults"][0]
    assert fault["name"] == lab.client.name and fault["upstream"] == lab.resolver_ip and fault["answer"] == "nxdomain"
    assert fault["responder_port"] and fault["deadline"] > time.time() + 50 and fault["percent"] == 100
    got = lab.resolve("api.test", "other.test")
    assert got["api.test"]["error"] == EAI_NONAME and got["api.test"]["addresses"] == []
    assert got["other.test"] == dict(got["other.test"], addresses=["192.0.2.2"], error=None)
    assert lab.getent("api.test")[0] == 2 and lab.getent("other.test") == (0, ["192.0.2.2"])
    chains, responders = lab.ours_left()
    assert len(responders) == 1 and any("-A OUTPUT -j SZC-" in line for line in chains), chains
    since = lab.resolver.logs()[seen_before:]
    assert b"query other.test" in since and b"query api.test" not in since, "a faulted name never reaches the resolver"

    rc, again = run_module("dns_chaos", dns(lab, state_dir, names=["API.test."], answer="nxdomain"))
    assert rc == 0 and not again["changed"] and again["faults"][0]["entry_id"] == fault["entry_id"], again
    rc, removed = run_module("dns_chaos", dns(lab, state_dir, state="absent"))
    assert rc == 0 and removed["changed"] and len(removed["removed"]) == 1 and removed["leftovers"] == [], removed
    lab.assert_normal()
    assert active_entries(state_dir) == []
    rc, twice = run_module("dns_chaos", dns(lab, state_dir, state="absent"))
    assert rc == 0 and not twice["changed"], twice


def test_servfail_then_a_wrong_address_then_a_delay(lab, state_dir, record_property):
    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["api.*"], answer="servfail"))
    assert rc == 0, result
    got = lab.resolve("api.test", "other.test")
    assert got["api.test"]["error"] == EAI_AGAIN and got["other.test"]["addresses"] == ["192.0.2.2"], got

    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["api.*"], answer="address",
                                             address="198.51.100.7"))
    assert rc == 0 and result["faults"][0]["replaced"]["answer"] == "servfail", result
    got = lab.resolve("api.test", "other.test")
    assert got["api.test"]["addresses"] == ["198.51.100.7"] and got["other.test"]["addresses"] == ["192.0.2.2"]
    assert len(lab.ours_left()[1]) == 1, "the replaced fault's responder is gone"

    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["api.*"], answer="delay", delay_ms=400))
    assert rc == 0, result
    raw = lab.in_client("query", "api.test", 5)
    other = lab.in_client("query", "other.test", 5)
    assert raw["addresses"] == ["192.0.2.1"] * 5, "a delayed query is forwarded, then answered normally"
    added = statistics.median(raw["seconds"]) - statistics.median(other["seconds"])
    record_property("dns_delay_400ms_added_s", round(added, 4))
    print("\ndelay 400 ms: matched median %.1f ms, unmatched median %.1f ms"
          % (1000 * statistics.median(raw["seconds"]), 1000 * statistics.median(other["seconds"])))
    assert 0.39 <= added <= 1.5, raw["seconds"]

    rc, removed = run_module("dns_chaos", dns(lab, state_dir, state="absent"))
    assert rc == 0 and len(removed["removed"]) == 1, removed
    lab.assert_normal()


def test_percent_with_a_seed_faults_exactly_the_seeded_share(lab, state_dir):
    import random

    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["api.test"], answer="nxdomain", percent=30,
                                             seed="dns-it"))
    assert rc == 0, result
    got = lab.in_client("query", "api.test", 200)
    draws = random.Random("dns-it")
    expected = [3 if draws.random() * 100 < 30 else 0 for _index in range(200)]
    assert got["rcodes"] == expected, "the responder's draws follow random.Random(seed), query by query"
    assert 40 <= got["rcodes"].count(3) <= 80
    assert lab.in_client("query", "other.test", 50)["rcodes"] == [0] * 50
    rc, removed = run_module("dns_chaos", dns(lab, state_dir, state="absent"))
    assert rc == 0, removed
    lab.assert_normal()


def test_unmatched_queries_cost(lab, state_dir, record_property):
    """What the responder adds to queries it does not fault (forwarded). Reported, not asserted as timing."""
    def figures(label):
        seconds = sorted(lab.in_client("query", "other.test", 300)["seconds"])
        median, p95 = statistics.median(seconds), seconds[int(0.95 * len(seconds)) - 1]
        record_property("dns_unmatched_%s_median_ms" % label, round(1000 * median, 3))
        record_property("dns_unmatched_%s_p95_ms" % label, round(1000 * p95, 3))
        return median, p95

    def libc():
        return [1000 * lab.resolve("other.test")["other.test"]["seconds"] for _index in range(20)]

    before, libc_before = figures("without"), libc()
    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["api.test"], answer="nxdomain"))
    assert rc == 0, result
    during = figures("with")
    libc_during = libc()
    rc, removed = run_module("dns_chaos", dns(lab, state_dir, state="absent"))
    assert rc == 0, removed
    after = figures("after")
    print("\nunmatched UDP query (300 each): without median %.3f ms p95 %.3f ms; with the responder median %.3f ms "
          "p95 %.3f ms (+%.3f / +%.3f ms); after removal median %.3f ms p95 %.3f ms; getaddrinfo (A+AAAA, 20 each) "
          "median without %.2f ms, with %.2f ms"
          % (1000 * before[0], 1000 * before[1], 1000 * during[0], 1000 * during[1],
             1000 * (during[0] - before[0]), 1000 * (during[1] - before[1]), 1000 * after[0], 1000 * after[1],
             statistics.median(libc_before), statistics.median(libc_during)))
    record_property("dns_unmatched_getaddrinfo_without_median_ms", round(statistics.median(libc_before), 3))
    record_property("dns_unmatched_getaddrinfo_with_median_ms", round(statistics.median(libc_during), 3))
    lab.assert_normal()


def test_bad_input_is_refused_and_nothing_is_applied(lab, state_dir):
    for args, words in ((dict(names=["api.test"], answer="nxdomain", percent=150), "percent must be between 0 and 100"),
                        (dict(names=["api.test"], answer="address", address="nope"), "needs address"),
                        (dict(names=["api.test"], answer="delay"), "needs delay_ms")):
        rc, result = run_module("dns_chaos", dns(lab, state_dir, **args))
        assert rc != 0 and result.get("failed"), result
        assert words in result["msg"] and "Nothing was changed" in result["msg"], result["msg"]
        assert "Traceback" not in result.output
    assert ledger_entries(state_dir) == [] and lab.ours_left() == ([], [])


def test_the_reaper_removes_the_fault_after_the_controller_is_killed(lab, state_dir, tmp_path, record_property):
    book = write_playbook(tmp_path / "cancelled.yml", [
        {"name": "DNS fault for 5 s", "sutazai.chaos.dns_chaos": dns(lab, state_dir, names=["api.test"],
                                                                     answer="nxdomain", duration=5)},
        {"name": "A long observation the job is cancelled during", "ansible.builtin.wait_for": {"timeout": 60}},
    ])
    proc = background_playbook(book, tmp_path / "playbook.log")
    try:
        entry, _waited = wait_for(lambda: first_applied_entry(state_dir), timeout=60)
        assert entry, (tmp_path / "playbook.log").read_text()
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        assert time.time() < entry["deadline"], "the kill must happen while the fault is active"
        assert lab.resolve("api.test")["api.test"]["error"] == EAI_NONAME, "the fault outlives its controller"
        gone, _waited = wait_for(lambda: lab.ours_left() == ([], []),
                                 timeout=max(0.0, entry["deadline"] + 5 - time.time()), interval=0.1)
        seen = time.time()
        assert gone, lab.ours_left()
        # The reaper's last step ends the responder; it records the entry as reverted right after.
        final, _waited = wait_for(lambda: ledger_entries(state_dir)[0]["state"] != "active"
                                  and ledger_entries(state_dir)[0], timeout=5)
        assert final and final["reverted_by"] == "reaper", ledger_entries(state_dir)
        record_property("dns_reaper_lateness_after_kill9_s", round(seen - entry["deadline"], 3))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        kill_orphans()
    lab.assert_normal()


def test_emergency_stop_removes_the_fault(lab, state_dir):
    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["*.test"], answer="servfail"))
    assert rc == 0 and lab.resolve("other.test")["other.test"]["error"] == EAI_AGAIN, result
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
                           str(REPO / "playbooks" / "emergency_stop.yml"), "-e", "chaos_state_dir=%s" % state_dir,
                           "-e", "ansible_python_interpreter=%s" % (VENV_BIN / "python")],
                          cwd=REPO, env=ansible_env({"ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"}),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0 and "1 fault(s) undone" in proc.stdout, proc.stdout + proc.stderr
    lab.assert_normal()
    rc, refused = run_module("dns_chaos", dns(lab, state_dir, names=["*.test"], answer="servfail"))
    assert rc != 0 and "emergency-stop flag is set" in refused["msg"], refused
    assert lab.ours_left() == ([], [])


def test_on_a_user_defined_network_through_docker_s_embedded_resolver(docker_client, prefix, state_dir):
    """The upstream is 127.0.0.11, reached through Docker's own nat rules after ours. Only names the embedded
    resolver answers itself (container names) or forwards to the test resolver (the client's --dns) are asked,
    with plain A queries of absolute names (no search domains)."""
    lab = DnsLab(docker_client, prefix, user_network=True)
    try:
        peer = lab.resolver.name

        def ask(name):
            got = lab.in_client("query", name, 3)
            return got["rcodes"][-1], got["addresses"][-1]

        assert ask(peer) == (0, lab.resolver_ip) and ask("api.test") == (0, "192.0.2.1")
        rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["api.test", peer], answer="nxdomain"))
        assert rc == 0 and result["faults"][0]["upstream"] == "127.0.0.11", result
        assert ask(peer) == (3, None) and ask("api.test") == (3, None)
        assert ask(lab.client.name) == (0, lab.client_ip) and ask("other.test") == (0, "192.0.2.2")
        rc, removed = run_module("dns_chaos", dns(lab, state_dir, state="absent"))
        assert rc == 0 and len(removed["removed"]) == 1, removed
        assert lab.ours_left() == ([], [])
        assert ask(peer) == (0, lab.resolver_ip) and ask("api.test") == (0, "192.0.2.1")
        assert lab.leaked() == 0, "a DNS query left for an address other than the test resolver"
    finally:
        lab.close()


def test_absent_removes_a_fault_whose_ledger_entry_was_lost(lab, state_dir, tmp_path):
    """A fault recorded in another ledger (as if this one had been lost): state=absent still finds our chain and
    our responder in the container's namespace by name, and removes both."""
    rc, result = run_module("dns_chaos", dns(lab, state_dir, names=["api.test"], answer="nxdomain"))
    assert rc == 0 and lab.resolve("api.test")["api.test"]["error"] == EAI_NONAME, result
    other_ledger = tmp_path / "other-ledger"
    rc, removed = run_module("dns_chaos", dns(lab, other_ledger, state="absent"), check=True)
    assert rc == 0 and removed["changed"] and lab.ours_left() != ([], []), removed
    rc, removed = run_module("dns_chaos", dns(lab, other_ledger, state="absent"))
    assert rc == 0 and removed["removed"] == [] and len(removed["leftovers"]) == 1, removed
    left = removed["leftovers"][0]
    assert len(left["chains"]) == 1 and len(left["responders"]) == 1, left
    gone, _waited = wait_for(lambda: lab.ours_left() == ([], []), timeout=5)
    assert gone, lab.ours_left()
    lab.assert_normal()
    rc, rolled = run_module("chaos_rollback", {"all": True, "state_dir": str(state_dir)})
    assert rc == 0, rolled  # the first ledger's entry: its undo takes "already gone" as done
    assert active_entries(state_dir) == []
