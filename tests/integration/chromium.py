# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Open a local HTML file in headless Chromium (Debian's ``chromium``): its DOM after layout, a screenshot, and
every request of Chromium's network log, split into the page's own and the browser's.

Chromium reaches nothing: every request goes to a proxy at 127.0.0.1:9 (nothing listens there) and every host
name resolves to nothing. The browser still tries its own background calls (component updates, sign-in); they
are initiated by no origin and all fail at the dead proxy. A request initiated by the page (its origin is
``null`` for a file:// page) is what a report must never make.

``python tests/integration/chromium.py page.html shot.png [height]`` takes a screenshot from the shell.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
    "--disable-background-networking", "--disable-component-update", "--no-pings", "--no-first-run",
    "--disable-sync", "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--disable-breakpad",
    "--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
)
BROWSER_INITIATED = "not an origin"


def chromium():
    """The Chromium binary, or None."""
    return shutil.which("chromium") or (None if not Path("/usr/bin/chromium").exists() else "/usr/bin/chromium")


class Page:
    """What Chromium saw: ``dom`` (serialized after load), ``screenshot`` (a PNG path or None) and the requests
    of its network log: ``page_requests`` (initiated by the page) and ``browser_requests`` (by Chromium itself),
    each a list of (url, net_error or None)."""

    def __init__(self, dom, screenshot, page_requests, browser_requests):
        self.dom = dom
        self.screenshot = screenshot
        self.page_requests = page_requests
        self.browser_requests = browser_requests


def requests_in(net_log, page_url):
    """(page-initiated, browser-initiated) requests of a --log-net-log file, the page itself left out."""
    data = json.loads(Path(net_log).read_text(encoding="utf-8"))
    names = {number: name for name, number in data["constants"]["logEventTypes"].items()}
    started, errors = {}, {}
    for event in data["events"]:
        params, source = event.get("params") or {}, (event.get("source") or {}).get("id")
        if names.get(event["type"]) == "URL_REQUEST_START_JOB" and "url" in params:
            started[source] = (params["url"], params.get("initiator"))
        elif "net_error" in params and source is not None:
            errors[source] = params["net_error"]
    page, browser = [], []
    for source, (url, initiator) in started.items():
        if url == page_url:
            continue
        (browser if initiator == BROWSER_INITIATED else page).append((url, errors.get(source)))
    return page, browser


def open_page(path, width=1280, height=1400, screenshot=None, timeout=90):
    """Load ``path`` (a local file) in headless Chromium; returns a Page."""
    binary = chromium()
    if binary is None:
        raise RuntimeError("no chromium (Debian's chromium package; scripts/setup.sh installs it)")
    url = Path(path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="sct-chromium-") as profile:
        net_log = Path(profile) / "net-log.json"
        argv = [binary, *FLAGS, "--user-data-dir=%s" % (Path(profile) / "user-data"),
                "--log-net-log=%s" % net_log, "--window-size=%d,%d" % (width, height), "--dump-dom"]
        if screenshot:
            argv.append("--screenshot=%s" % screenshot)
        proc = subprocess.run(argv + [url], capture_output=True, text=True, timeout=timeout, check=False)
        if proc.returncode != 0 or "<html" not in proc.stdout:
            raise RuntimeError("chromium failed (rc %d): %s" % (proc.returncode, proc.stderr[-2000:]))
        page, browser = requests_in(net_log, url)
    return Page(proc.stdout, screenshot, page, browser)


def png_pixels(path):
    """(width, height, set of distinct RGB(A) pixels) of an 8-bit RGB or RGBA PNG, decoded without Pillow."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("%s is not a PNG" % path)
    offset, chunks, header = 8, [], None
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            chunks.append(body)
        offset += 12 + length
    width, height, depth, colour, dummy, dummy, interlace = header
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError("%s: only 8-bit RGB/RGBA, non-interlaced PNGs are decoded here" % path)
    channels = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * channels
    previous, pixels, position = bytearray(stride), set(), 0
    for dummy in range(height):
        kind, row = raw[position], bytearray(raw[position + 1:position + 1 + stride])
        position += 1 + stride
        for i in range(stride):
            left = row[i - channels] if i >= channels else 0
            up, corner = previous[i], previous[i - channels] if i >= channels else 0
            if kind == 1:
                row[i] = (row[i] + left) & 0xFF
            elif kind == 2:
                row[i] = (row[i] + up) & 0xFF
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up), (abs(guess - corner), 2, corner))
                row[i] = (row[i] + near[2]) & 0xFF
        pixels.update(bytes(row[i:i + channels]) for i in range(0, stride, channels))
        previous = row
    return width, height, pixels


if __name__ == "__main__":
    seen = open_page(sys.argv[1], height=int(sys.argv[3]) if len(sys.argv) > 3 else 1400, screenshot=sys.argv[2])
    print("%s: %d page request(s) %s, %d blocked browser request(s)"
          % (sys.argv[2], len(seen.page_requests), seen.page_requests, len(seen.browser_requests)))
    sys.exit(1 if seen.page_requests else 0)
