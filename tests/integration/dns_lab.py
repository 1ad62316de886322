# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The DNS tests' own tools, run inside test containers (mounted read-only), standard library only.

* ``serve``: a tiny authoritative resolver (UDP and TCP port 53). It answers A for the fixed test names in
  ``ZONE`` (192.0.2.x), NXDOMAIN for anything else, and never forwards: the client container uses it as its only
  nameserver (``--dns``), so no query of the tests can leave this machine. Each query is logged to stdout.
* ``resolve NAME...``: ``getaddrinfo`` (the libc path, via /etc/resolv.conf) for each name; prints JSON
  ``{name: {"addresses": [...], "error": errno or null, "seconds": s}}``.
* ``query NAME COUNT``: COUNT plain UDP queries, one after the other, to the first nameserver of
  /etc/resolv.conf; prints JSON ``{"rcodes": [...], "addresses": [...], "seconds": [...]}``.

Its wire code is written independently of the collection's responder on purpose: the tests check the responder
with a client that does not share its bugs.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys
import threading
import time

ZONE = {"api.test": "192.0.2.1", "other.test": "192.0.2.2", "db.test": "192.0.2.3"}


def _question(data):
    """(lowercase name, offset after the question) of a query's first question."""
    labels, offset = [], 12
    while data[offset]:
        labels.append(data[offset + 1:offset + 1 + data[offset]].decode().lower())
        offset += 1 + data[offset]
    return ".".join(labels), offset + 5


def _reply(data):
    name, end = _question(data)
    qtype = struct.unpack("!H", data[end - 4:end - 2])[0]
    address = ZONE.get(name)
    rcode = 0 if address else 3
    answers = b""
    if address and qtype == 1:
        answers = struct.pack("!HHHIH", 0xC00C, 1, 1, 30, 4) + socket.inet_aton(address)
    flags = 0x8400 | (struct.unpack("!H", data[2:4])[0] & 0x0100) | rcode  # QR, AA, RD echoed
    print("query %s type %d -> rcode %d" % (name, qtype, rcode), flush=True)
    return data[:2] + struct.pack("!HHHHH", flags, 1, 1 if answers else 0, 0, 0) + data[12:end] + answers


def _serve_tcp(server):
    while True:
        conn, _peer = server.accept()
        with conn:
            size = struct.unpack("!H", conn.recv(2))[0]
            data = b""
            while len(data) < size:
                data += conn.recv(size - len(data))
            out = _reply(data)
            conn.sendall(struct.pack("!H", len(out)) + out)


def serve():
    tcp = socket.socket()
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", 53))
    tcp.listen(16)
    threading.Thread(target=_serve_tcp, args=(tcp,), daemon=True).start()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 53))
    print("ready", flush=True)
    while True:
        data, peer = udp.recvfrom(4096)
        udp.sendto(_reply(data), peer)


def resolve(names):
    out = {}
    for name in names:
        start = time.monotonic()
        try:
            infos = socket.getaddrinfo(name, 80, proto=socket.IPPROTO_TCP)
            out[name] = {"addresses": sorted({info[4][0] for info in infos}), "error": None}
        except socket.gaierror as exc:
            out[name] = {"addresses": [], "error": exc.errno}
        out[name]["seconds"] = time.monotonic() - start
    return out


def nameserver():
    with open("/etc/resolv.conf") as handle:
        return next(line.split()[1] for line in handle if line.startswith("nameserver"))


def query(name, count):
    server = nameserver()
    wire = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    rcodes, addresses, seconds = [], [], []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        sock.connect((server, 53))
        for index in range(count):
            ident = (index * 7919 + os.getpid()) & 0xFFFF
            start = time.monotonic()
            sock.send(struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + wire + struct.pack("!HH", 1, 1))
            while True:
                data = sock.recv(4096)
                if data[:2] == struct.pack("!H", ident):
                    break
            seconds.append(time.monotonic() - start)
            rcodes.append(struct.unpack("!H", data[2:4])[0] & 0xF)
            found = None
            if struct.unpack("!H", data[6:8])[0]:
                found = socket.inet_ntoa(data[-4:])
            addresses.append(found)
    return {"rcodes": rcodes, "addresses": addresses, "seconds": seconds}


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve()
    elif sys.argv[1] == "resolve":
        json.dump(resolve(sys.argv[2:]), sys.stdout)
    else:
        json.dump(query(sys.argv[2], int(sys.argv[3])), sys.stdout)
