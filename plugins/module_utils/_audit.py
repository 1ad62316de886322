# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit journal as a hash chain: every line carries the SHA-256 of the line before it.

Standard library only: this file is part of the reaper program (see ``_ledger.install_program``).

* A line is one JSON object (keys sorted) and its ``prev`` field is the hex SHA-256 of the bytes of the
  previous non-blank line, without its newline. The first line of a new journal has ``prev: ""``.
* Appends hold ``audit.lock`` (flock) while they read the last line and write theirs, so the modules and
  the reaper appending at once still make one chain.
* Above ``ROTATE_BYTES`` the journal moves to ``audit.jsonl.1`` (older ones shift up to ``.3``; the oldest
  is dropped) and the new file starts with a ``journal_rotated`` line whose ``prev`` is the hash of the old
  file's last line: the chain runs on across files.
* ``audit.head`` holds the hash of the last line written through here, so lines cut off the end of the
  journal are noticed as well (unless ``audit.head`` is rewritten to match).
* Lines written before the chain existed (no ``prev``) are "unchained", not broken, as long as they come
  before the first chained line; the first chained line then links to the last of them.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import time

from ._trust import check_file

AUDIT_FILE = "audit.jsonl"
LOCK_FILE = "audit.lock"
HEAD_FILE = "audit.head"
ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_KEEP = 3
GENESIS = ""
ROTATED_EVENT = "journal_rotated"


def line_hash(raw):
    return hashlib.sha256(raw.rstrip(b"\r\n")).hexdigest()


def last_line(fd, size):
    """The last non-blank line of an open file (bytes, no newline), or None when there is none."""
    chunk, end, data = 4096, size, b""
    while end > 0:
        start = max(0, end - chunk)
        data = os.pread(fd, end - start, start) + data
        end = start
        lines = data.split(b"\n")
        for line in reversed(lines if start == 0 else lines[1:]):  # lines[0] may be cut short
            if line.strip():
                return line.rstrip(b"\r\n")
        chunk *= 2
    return None


@contextlib.contextmanager
def _locked(state_dir, exclusive=True):
    path = os.path.join(state_dir, LOCK_FILE)
    if exclusive:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    else:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:  # no journal written through here yet (or not ours to lock): read without it
            yield
            return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _open_journal(path):
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        check_file(path, os.fstat(fd))
    except Exception:
        os.close(fd)
        raise
    return fd


def _rotate(path):
    for index in range(ROTATE_KEEP - 1, 0, -1):
        with contextlib.suppress(FileNotFoundError):
            os.replace("%s.%d" % (path, index), "%s.%d" % (path, index + 1))
    os.replace(path, path + ".1")


def _write_line(fd, record, prev):
    raw = json.dumps(dict(record, prev=prev), sort_keys=True).encode("utf-8")
    os.write(fd, raw + b"\n")
    return line_hash(raw)


def append(state_dir, record):
    """Append ``record`` to the journal in ``state_dir`` as the next link of the chain; returns its hash.

    The caller has checked the folder (``_trust.check_state_dir``).
    """
    path = os.path.join(state_dir, AUDIT_FILE)
    with _locked(state_dir):
        fd = _open_journal(path)
        try:
            size = os.fstat(fd).st_size
            last = last_line(fd, size)
            prev = GENESIS if last is None else line_hash(last)
            if size > ROTATE_BYTES:
                os.close(fd)
                fd = -1
                _rotate(path)
                fd = _open_journal(path)
                prev = _write_line(fd, {"time": time.time(), "event": ROTATED_EVENT,
                                        "previous_file": os.path.basename(path) + ".1"}, prev)
            elif size and os.pread(fd, 1, size - 1) != b"\n":
                os.write(fd, b"\n")  # a torn line stays a line of its own (and breaks the chain there)
            head = _write_line(fd, record, prev)
        finally:
            if fd >= 0:
                os.close(fd)
        _write_head(state_dir, head)
    return head


def _write_head(state_dir, digest):
    path = os.path.join(state_dir, HEAD_FILE)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, json.dumps({"hash": digest}).encode("utf-8") + b"\n")
    finally:
        os.close(fd)
    os.replace(tmp, path)


def journal_files(state_dir):
    """The journal's files that exist, oldest first (rotated ones, then ``audit.jsonl``)."""
    path = os.path.join(state_dir, AUDIT_FILE)
    names = ["%s.%d" % (path, i) for i in range(ROTATE_KEEP, 0, -1)] + [path]
    return [name for name in names if os.path.isfile(name)]


def read_lines(state_dir):
    """[(file, line number, raw bytes)] of every non-blank line, oldest first, read under the shared lock."""
    lines = []
    with _locked(state_dir, exclusive=False):
        files = journal_files(state_dir)
        for name in files:
            with open(name, "rb") as handle:
                for number, raw in enumerate(handle, 1):
                    if raw.strip():
                        lines.append((name, number, raw.rstrip(b"\r\n")))
        head = None
        with contextlib.suppress(OSError, ValueError, AttributeError):
            with open(os.path.join(state_dir, HEAD_FILE), "rb") as handle:
                head = json.loads(handle.read().decode("utf-8")).get("hash")
    return lines, files, head


def _link(raw):
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:
        return None, "is not a JSON object (a torn write or an edit)"
    if not isinstance(value, dict):
        return None, "is not a JSON object (a torn write or an edit)"
    if not isinstance(value.get("prev"), str):
        return value, "carries no link to the line before it (not written by sutazai.chaos, or edited)"
    return value, None


def verify(lines, head=None):
    """Check the chain over ``read_lines`` output; returns the ``chain`` result of chaos_audit_info."""
    result = {"verified": True, "lines": len(lines), "chained_lines": 0, "unchained_lines": 0,
              "first_broken_line": None, "first_broken_file": None, "reason": None}

    def broken(name, number, reason):
        result.update(verified=False, first_broken_line=number, first_broken_file=name, reason=reason)
        return result

    prev = None  # hash of the line before; None before the first line
    for index, (name, number, raw) in enumerate(lines):
        value, problem = _link(raw)
        if problem:
            if result["chained_lines"] == 0:
                result["unchained_lines"] += 1  # written before the journal was chained
                prev = line_hash(raw)
                continue
            return broken(name, number, "line %d of %s %s" % (number, name, problem))
        link = value["prev"]
        if prev is None:
            if link != GENESIS and value.get("event") != ROTATED_EVENT:
                return broken(name, number, "the first line (line %d of %s) links to a line that is not there: "
                              "lines were removed from the start of the journal" % (number, name))
        elif link != prev:
            before = lines[index - 1]
            return broken(name, number, "line %d of %s does not link to the line before it (line %d of %s): that "
                          "line or this one was changed, or lines between them were removed, inserted or reordered"
                          % (number, name, before[1], before[0]))
        result["chained_lines"] += 1
        prev = line_hash(raw)
    if head and head != prev:
        later = [i for i, line in enumerate(lines) if line_hash(line[2]) == head]
        if later:
            name, number, _raw = lines[later[-1] + 1]
            return broken(name, number, "line %d of %s and those after it were added behind the journal's back "
                          "(audit.head names the line before it as the last one written)" % (number, name))
        name, number = lines[-1][:2] if lines else (None, None)
        return broken(name, number, "the journal ends %s, but audit.head names a last line that is no longer there: "
                      "lines were removed from its end (or audit.head was changed)"
                      % ("at line %d of %s" % (number, name) if lines else "before its first line"))
    return result
