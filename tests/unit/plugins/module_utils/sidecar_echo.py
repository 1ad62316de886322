# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A sidecar program for the tests of _sidecar: listens on the port in its JSON config and echoes one line."""

from __future__ import annotations

import json
import socket
import sys


def main(config):
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", config["port"]))
    server.listen()
    while True:
        conn, _peer = server.accept()
        with conn:
            conn.sendall(conn.recv(100))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
