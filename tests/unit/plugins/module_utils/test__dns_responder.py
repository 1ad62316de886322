# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_dns_responder: DNS wire parsing and building, name matching, the seeded share, and a real responder
answering a real stdlib client over UDP and TCP on 127.0.0.1 (forwarding to a fake upstream of the test's own)."""

from __future__ import annotations

import random
import socket
import struct
import threading

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _dns_responder as r
from ansible_collections.sutazai.chaos.plugins.module_utils import _sidecar


def query(name, qtype=r.TYPE_A, ident=0x1234, rd=True):
    return struct.pack("!HHHHHH", ident, 0x0100 if rd else 0, 1, 0, 0, 0) + r.encode_name(name) + \
        struct.pack("!HH", qtype, r.CLASS_IN)


def parse_answer(data):
    """(id, rcode, qname, [(type, rdata)]) of a response, parsed independently of build_response."""
    ident, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", data[:12])
    assert flags & 0x8000, "not a response"
    qname, offset = r.read_name(data, 12)
    offset += 4 * qd
    records = []
    for _index in range(an):
        _name, offset = r.read_name(data, offset)
        rtype, _rclass, _ttl, length = struct.unpack("!HHIH", data[offset:offset + 10])
        records.append((rtype, data[offset + 10:offset + 10 + length]))
        offset += 10 + length
    return ident, flags & 0xF, qname, records


def test_the_pass_mark_is_the_sidecar_s():
    assert r.PASS_MARK == _sidecar.PASS_MARK


@pytest.mark.parametrize("name, qtype", [("api.test", r.TYPE_A), ("Deep.Sub.Example.COM.", r.TYPE_AAAA),
                                         ("x", 16)])
def test_parse_query_reads_what_the_stdlib_built(name, qtype):
    parsed = r.parse_query(query(name, qtype, ident=0xBEEF))
    assert (parsed["id"], parsed["qname"], parsed["qtype"], parsed["qclass"]) == \
        (0xBEEF, name.rstrip("."), qtype, r.CLASS_IN)
    assert parsed["question_end"] == len(query(name, qtype))


@pytest.mark.parametrize("data", [b"", b"\x00" * 11, query("a.test")[:-3], b"\x12\x34\x81\x80" + b"\x00" * 8,
                                  b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c"])
def test_bad_queries_are_refused(data):
    with pytest.raises(r.DnsFormatError):
        r.parse_query(data)


def test_compression_pointers_are_followed():
    message = query("api.test") + b"\xc0\x0c"
    assert r.read_name(message, len(query("api.test"))) == ("api.test", len(message))


@pytest.mark.parametrize("answer, qtype, rcode, records", [
    ("nxdomain", r.TYPE_A, 3, []),
    ("servfail", r.TYPE_AAAA, 2, []),
    ("address", r.TYPE_A, 0, [(r.TYPE_A, socket.inet_aton("192.0.2.99"))]),
    ("address", r.TYPE_AAAA, 0, []),  # an IPv4 fault address: no AAAA data, but no error either
])
def test_fault_answers(answer, qtype, rcode, records):
    q = query("api.test", qtype, ident=77)
    response = r.fault_answer(q, r.parse_query(q), {"answer": answer, "address": "192.0.2.99"})
    assert parse_answer(response) == (77, rcode, "api.test", records)
    assert struct.unpack("!H", response[2:4])[0] & 0x0100, "RD is echoed"


def test_an_ipv6_fault_address_answers_aaaa():
    q = query("api.test", r.TYPE_AAAA)
    response = r.fault_answer(q, r.parse_query(q), {"answer": "address", "address": "2001:db8::7"})
    assert parse_answer(response)[3] == [(r.TYPE_AAAA, socket.inet_pton(socket.AF_INET6, "2001:db8::7"))]


def test_delay_has_no_answer_of_its_own():
    q = query("api.test")
    assert r.fault_answer(q, r.parse_query(q), {"answer": "delay", "delay_ms": 5}) is None


@pytest.mark.parametrize("name, patterns, expected", [
    ("api.test", ["api.test"], True),
    ("API.Test.", ["api.test"], True),
    ("api.test", ["API.TEST."], True),
    ("v2.api.test", ["*.api.test"], True),
    ("api.test", ["*.api.test"], False),
    ("other.test", ["api.*"], False),
    ("db1.internal", ["db[0-9].internal"], True),
    ("api.testing", ["api.test"], False),
])
def test_name_matching(name, patterns, expected):
    assert r.name_matches(name, patterns) is expected


def test_the_seeded_share_is_reproducible_and_about_percent():
    def draws(seed):
        decider = r.Decider(["api.test"], 30, seed)
        return [decider.faulted("api.test") for _index in range(1000)]
    first = draws("s1")
    assert first == draws("s1") and first != draws("s2")
    assert 250 <= sum(first) <= 350
    expected = random.Random("s1")
    assert first == [expected.random() * 100 < 30 for _index in range(1000)]


def test_unmatched_names_do_not_use_up_draws():
    decider = r.Decider(["api.test"], 50, 7)
    mixed = []
    for _index in range(100):
        assert decider.faulted("other.test") is False
        mixed.append(decider.faulted("api.test"))
    again = r.Decider(["api.test"], 50, 7)
    assert mixed == [again.faulted("api.test") for _index in range(100)]


@pytest.mark.parametrize("percent, expected", [(0, 0), (100, 50)])
def test_zero_and_hundred_percent(percent, expected):
    decider = r.Decider(["*"], percent, 1)
    assert sum(decider.faulted("x.test") for _index in range(50)) == expected


class FakeUpstream:
    """An authoritative stand-in on 127.0.0.1 (UDP and TCP): A 192.0.2.10 for everything; counts queries."""

    def __init__(self):
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket()
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen()
        self.seen = []
        threading.Thread(target=self._udp, daemon=True).start()
        threading.Thread(target=self._tcp, daemon=True).start()

    def reply(self, data):
        parsed = r.parse_query(data)
        self.seen.append(parsed["qname"])
        return r.build_response(data, parsed, 0, [(r.TYPE_A, socket.inet_aton("192.0.2.10"))])

    def _udp(self):
        while True:
            data, peer = self.udp.recvfrom(4096)
            self.udp.sendto(self.reply(data), peer)

    def _tcp(self):
        while True:
            conn, _peer = self.tcp.accept()
            with conn:
                data = r._recv_exact(conn, struct.unpack("!H", r._recv_exact(conn, 2))[0])
                out = self.reply(data)
                conn.sendall(struct.pack("!H", len(out)) + out)


@pytest.fixture
def upstream(monkeypatch):
    fake = FakeUpstream()
    monkeypatch.setattr(r, "SO_MARK", socket.SO_REUSEADDR)  # setting a mark needs CAP_NET_ADMIN; not tested here
    real_udp, real_tcp = r.forward_udp, r.forward_tcp
    monkeypatch.setattr(r, "forward_udp", lambda q, up: real_udp(q, up, fake.port))
    monkeypatch.setattr(r, "forward_tcp", lambda q, up: real_tcp(q, up, fake.port))
    return fake


def test_unmatched_queries_are_relayed_unchanged_over_udp_and_tcp(upstream):
    config = {"names": ["api.test"], "answer": "nxdomain", "upstream": "127.0.0.1"}
    decider = r.Decider(config["names"], 100)
    for transport in ("udp", "tcp"):
        q = query("other.test", ident=4321)
        assert parse_answer(r.answer(q, config, decider, transport)) == \
            (4321, 0, "other.test", [(r.TYPE_A, socket.inet_aton("192.0.2.10"))])
        assert parse_answer(r.answer(query("api.test"), config, decider, transport))[1] == 3
    assert upstream.seen == ["other.test", "other.test"], "the faulted name never reaches the upstream"


def test_a_dead_upstream_is_servfail(monkeypatch):
    monkeypatch.setattr(r, "SO_MARK", socket.SO_REUSEADDR)
    monkeypatch.setattr(r, "UPSTREAM_TIMEOUT", 0.2)
    spare = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spare.bind(("127.0.0.1", 0))  # bound but never answering
    port = spare.getsockname()[1]
    real = r.forward_udp
    monkeypatch.setattr(r, "forward_udp", lambda q, up: real(q, up, port))
    config = {"names": ["api.test"], "answer": "nxdomain", "upstream": "127.0.0.1"}
    assert parse_answer(r.answer(query("other.test"), config, r.Decider(["api.test"], 100), "udp"))[1] == 2
    spare.close()
