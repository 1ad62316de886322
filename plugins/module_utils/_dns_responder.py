# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DNS responder of dns_chaos: a standard-library program run detached in a target container's network
namespace (``python -m sutazai_chaos_reaper._dns_responder '<json config>'``).

It listens on UDP and TCP (length-prefixed) ``127.0.0.1:<port>``; the container's queries to port 53 reach it
through our nat rules (REDIRECT of locally generated packets goes to 127.0.0.1). Binding the loopback address,
not 0.0.0.0, matters for UDP: a reply must leave from the address the redirected query arrived at, or conntrack
cannot map it back to the server the client asked, and the client drops it. It also keeps the responder
unreachable from the network. A query whose name matches one of the glob patterns (case-insensitive, trailing dot
ignored) is faulted with probability ``percent``/100, drawn from ``random.Random(seed)`` in arrival order:
NXDOMAIN, SERVFAIL, a fixed address, or a late answer. Every other query is forwarded as is to the upstream
resolver (the container's first nameserver when the fault was injected) from a socket carrying ``PASS_MARK``,
so our rules let it pass, and the upstream's answer is relayed unchanged (same transaction id).

This file is copied into the state folder and run from there: it imports nothing but the standard library.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import random
import socket
import struct
import sys
import threading
import time

PASS_MARK = 0x5a43  # the same value as _sidecar.PASS_MARK (a unit test keeps them equal)
SO_MARK = getattr(socket, "SO_MARK", 36)
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
RCODE_SERVFAIL, RCODE_NXDOMAIN = 2, 3
ANSWER_TTL = 5
UPSTREAM_TIMEOUT = 5.0
MAX_MESSAGE = 65535
LISTEN_ADDRESS = "127.0.0.1"  # where REDIRECT sends locally generated packets


class DnsFormatError(ValueError):
    pass


def read_name(data, offset):
    """(name without trailing dot, offset after the name) from a DNS message; follows compression pointers."""
    labels, end, jumps = [], None, 0
    while True:
        if offset >= len(data):
            raise DnsFormatError("name runs past the end of the message")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data) or jumps > 20:
                raise DnsFormatError("bad compression pointer")
            end = offset + 2 if end is None else end
            offset, jumps = ((length & 0x3F) << 8) | data[offset + 1], jumps + 1
            continue
        if length & 0xC0:
            raise DnsFormatError("unknown label type")
        if length == 0:
            return ".".join(labels), (offset + 1 if end is None else end)
        labels.append(data[offset + 1:offset + 1 + length].decode("ascii", "replace"))
        offset += 1 + length


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def parse_query(data):
    """The header and first question of a query: id, flags, qname, qtype, qclass, question_end."""
    if len(data) < 12:
        raise DnsFormatError("shorter than a DNS header")
    ident, flags, qdcount = struct.unpack("!HHH", data[:6])
    if flags & 0x8000 or qdcount < 1:
        raise DnsFormatError("not a query with a question")
    qname, offset = read_name(data, 12)
    if offset + 4 > len(data):
        raise DnsFormatError("question runs past the end of the message")
    qtype, qclass = struct.unpack("!HH", data[offset:offset + 4])
    return {"id": ident, "flags": flags, "qname": qname, "qtype": qtype, "qclass": qclass,
            "question_end": offset + 4}


def build_response(query, parsed, rcode, answers=()):
    """A response to ``query``: its id, opcode and RD echoed, RA set, the question echoed, then ``answers``
    ((type, rdata) pairs for the question's name)."""
    flags = 0x8000 | (parsed["flags"] & 0x7900) | 0x0080 | (rcode & 0xF)
    header = struct.pack("!HHHHHH", parsed["id"], flags, 1, len(answers), 0, 0)
    body = query[12:parsed["question_end"]]
    for rtype, rdata in answers:
        body += struct.pack("!HHHIH", 0xC00C, rtype, CLASS_IN, ANSWER_TTL, len(rdata)) + rdata
    return header + body


def name_matches(name, patterns):
    name = name.rstrip(".").lower()
    return any(fnmatch.fnmatchcase(name, pattern.rstrip(".").lower()) for pattern in patterns)


class Decider:
    """Which matching queries are faulted: ``percent`` of them, drawn from one seeded generator in order."""

    def __init__(self, patterns, percent, seed=None):
        self.patterns, self.percent = list(patterns), float(percent)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()

    def faulted(self, name):
        if not name_matches(name, self.patterns):
            return False
        if self.percent >= 100:
            return True
        with self.lock:
            return self.rng.random() * 100 < self.percent


def fault_answer(query, parsed, config):
    """The faulted response, or None for ``delay`` (the caller waits, then forwards)."""
    answer = config["answer"]
    if answer == "nxdomain":
        return build_response(query, parsed, RCODE_NXDOMAIN)
    if answer == "servfail":
        return build_response(query, parsed, RCODE_SERVFAIL)
    if answer == "address":
        address = ipaddress.ip_address(config["address"])
        wanted = TYPE_A if address.version == 4 else TYPE_AAAA
        records = [(wanted, address.packed)] if parsed["qtype"] == wanted and parsed["qclass"] == CLASS_IN else []
        return build_response(query, parsed, 0, records)  # the other type: NOERROR, no data
    return None


def _marked_socket(family, kind):
    sock = socket.socket(family, kind)
    sock.setsockopt(socket.SOL_SOCKET, SO_MARK, PASS_MARK)  # our nat rules let marked traffic pass
    sock.settimeout(UPSTREAM_TIMEOUT)
    return sock


def _family(upstream):
    return socket.AF_INET6 if ipaddress.ip_address(upstream).version == 6 else socket.AF_INET


def forward_udp(query, upstream, port=53):
    with _marked_socket(_family(upstream), socket.SOCK_DGRAM) as sock:
        sock.connect((upstream, port))
        sock.send(query)
        while True:
            reply = sock.recv(MAX_MESSAGE)
            if reply[:2] == query[:2]:
                return reply


def _recv_exact(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def forward_tcp(query, upstream, port=53):
    with _marked_socket(_family(upstream), socket.SOCK_STREAM) as sock:
        sock.connect((upstream, port))
        sock.sendall(struct.pack("!H", len(query)) + query)
        return _recv_exact(sock, struct.unpack("!H", _recv_exact(sock, 2))[0])


def answer(query, config, decider, transport):
    """The response to one query (bytes), or None to stay silent (the client retries or times out)."""
    try:
        parsed = parse_query(query)
    except DnsFormatError:
        parsed = None
    forward = forward_udp if transport == "udp" else forward_tcp
    if parsed is not None and decider.faulted(parsed["qname"]):
        response = fault_answer(query, parsed, config)
        if response is not None:
            return response
        time.sleep(config["delay_ms"] / 1000.0)
    try:
        return forward(query, config["upstream"])
    except (OSError, ValueError):
        return build_response(query, parsed, RCODE_SERVFAIL) if parsed is not None else None


def _log(text):
    sys.stderr.write("%s dns responder: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), text))
    sys.stderr.flush()


def serve_udp(sock, config, decider):
    while True:
        query, peer = sock.recvfrom(MAX_MESSAGE)
        # Decide here, in arrival order, so that a seeded share is reproducible; answer in a thread so that
        # a delayed query does not hold up the others.
        threading.Thread(target=_reply_udp, args=(sock, query, peer, config, decider), daemon=True).start()


def _reply_udp(sock, query, peer, config, decider):
    response = answer(query, config, decider, "udp")
    if response is not None:
        sock.sendto(response, peer)


def serve_tcp(server, config, decider):
    while True:
        conn, _peer = server.accept()
        threading.Thread(target=_reply_tcp, args=(conn, config, decider), daemon=True).start()


def _reply_tcp(conn, config, decider):
    with conn:
        conn.settimeout(UPSTREAM_TIMEOUT + config.get("delay_ms", 0) / 1000.0)
        try:
            while True:
                query = _recv_exact(conn, struct.unpack("!H", _recv_exact(conn, 2))[0])
                response = answer(query, config, decider, "tcp")
                if response is None:
                    return
                conn.sendall(struct.pack("!H", len(response)) + response)
        except OSError:
            return


def main(config):
    decider = Decider(config["names"], config.get("percent", 100), config.get("seed"))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((LISTEN_ADDRESS, config["port"]))
    tcp.listen(64)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((LISTEN_ADDRESS, config["port"]))  # bound last: the module waits for this port, so TCP is ready too
    _log("port %d, %s for %s (%s%%), upstream %s" % (config["port"], config["answer"], ", ".join(config["names"]),
                                                     config.get("percent", 100), config["upstream"]))
    threading.Thread(target=serve_tcp, args=(tcp, config, decider), daemon=True).start()
    serve_udp(udp, config, decider)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
