# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit journal is a hash chain: edits, removals and reordering are found, at the right line."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils import _audit
from ansible_collections.sutazai.chaos.plugins.module_utils._audit import append, read_lines, verify
from ansible_collections.sutazai.chaos.plugins.module_utils._ledger import Ledger
from ansible_collections.sutazai.chaos.plugins.module_utils._trust import TrustError


@pytest.fixture
def state(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    return folder


def _journal(state, count):
    for index in range(count):
        append(str(state), {"event": "inject", "n": index})
    return state / "audit.jsonl"


def _check(state):
    lines, _files, head = read_lines(str(state))
    return verify(lines, head)


def _lines(path):
    return path.read_bytes().decode().splitlines()


def _rewrite(path, lines):
    path.write_text("".join(line + "\n" for line in lines))


def test_each_line_links_to_the_one_before(state):
    path = _journal(state, 4)
    lines = _lines(path)
    assert json.loads(lines[0])["prev"] == ""
    for before, line in zip(lines, lines[1:]):
        assert json.loads(line)["prev"] == hashlib.sha256(before.encode()).hexdigest()
    assert _check(state) == {"verified": True, "lines": 4, "chained_lines": 4, "unchained_lines": 0,
                             "first_broken_line": None, "first_broken_file": None, "reason": None}
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_an_edited_line_breaks_the_chain_at_the_next_line(state):
    path = _journal(state, 6)
    lines = _lines(path)
    lines[2] = lines[2].replace('"n": 2', '"n": 7')
    _rewrite(path, lines)
    chain = _check(state)
    assert chain["verified"] is False and chain["first_broken_line"] == 4
    assert chain["first_broken_file"] == str(path)
    assert "line 4 of %s does not link to the line before it (line 3" % path in chain["reason"]


def test_an_edited_link_breaks_the_chain_at_that_line(state):
    path = _journal(state, 5)
    lines = _lines(path)
    lines[3] = lines[3].replace(json.loads(lines[3])["prev"], "0" * 64)
    _rewrite(path, lines)
    assert _check(state)["first_broken_line"] == 4


@pytest.mark.parametrize("change, line", [
    (lambda lines: lines[:2] + lines[3:], 3),  # a line removed
    (lambda lines: lines[:2] + [lines[3], lines[2]] + lines[4:], 3),  # two lines swapped
    (lambda lines: lines[:2] + ['{"event": "inject", "n": 99}'] + lines[2:], 3),  # a line inserted
    (lambda lines: lines[:2] + ['{"torn": '] + lines[2:], 3),  # not JSON
])
def test_removed_reordered_and_inserted_lines_are_found(state, change, line):
    path = _journal(state, 6)
    _rewrite(path, change(_lines(path)))
    chain = _check(state)
    assert chain["verified"] is False and chain["first_broken_line"] == line, chain


def test_lines_cut_from_the_start_are_found(state):
    path = _journal(state, 5)
    _rewrite(path, _lines(path)[2:])
    chain = _check(state)
    assert chain["first_broken_line"] == 1 and "removed from the start" in chain["reason"]


def test_lines_cut_from_the_end_are_found_through_audit_head(state):
    path = _journal(state, 5)
    _rewrite(path, _lines(path)[:3])
    chain = _check(state)
    assert chain["verified"] is False and chain["first_broken_line"] == 3
    assert "lines were removed from its end" in chain["reason"]


def test_lines_appended_behind_the_journal_s_back_are_found(state):
    path = _journal(state, 3)
    lines = _lines(path)
    forged = json.dumps({"event": "revert", "prev": hashlib.sha256(lines[-1].encode()).hexdigest()}, sort_keys=True)
    _rewrite(path, lines + [forged])
    chain = _check(state)
    assert chain["first_broken_line"] == 4 and "added behind the journal's back" in chain["reason"]


def test_a_journal_written_before_the_chain_is_unchained_not_broken(state):
    path = state / "audit.jsonl"
    path.write_text('{"event": "inject", "n": 0}\n{"event": "revert", "n": 1}\n')
    os.chmod(path, 0o644)
    append(str(state), {"event": "inject", "n": 2})
    append(str(state), {"event": "revert", "n": 3})
    chain = _check(state)
    assert chain["verified"] is True and chain["unchained_lines"] == 2 and chain["chained_lines"] == 2
    assert json.loads(_lines(path)[2])["prev"] == hashlib.sha256(b'{"event": "revert", "n": 1}').hexdigest()
    # an unchained line after the chain began is not "old": it breaks the chain
    with open(path, "a") as handle:
        handle.write('{"event": "inject", "n": 4}\n')
    chain = _check(state)
    assert chain["first_broken_line"] == 5 and "carries no link" in chain["reason"]


def test_a_torn_last_line_stays_a_line_of_its_own(state):
    path = _journal(state, 2)
    with open(path, "a") as handle:
        handle.write('{"event": "inj')
    append(str(state), {"event": "inject", "n": 9})
    lines = _lines(path)
    assert lines[2] == '{"event": "inj' and json.loads(lines[3])["n"] == 9
    assert _check(state)["first_broken_line"] == 3


def test_rotation_keeps_the_chain_across_files(state, monkeypatch):
    monkeypatch.setattr(_audit, "ROTATE_BYTES", 600)
    for index in range(40):
        append(str(state), {"event": "inject", "n": index, "pad": "x" * 40})
    lines, files, head = read_lines(str(state))
    assert [os.path.basename(f) for f in files] == ["audit.jsonl.3", "audit.jsonl.2", "audit.jsonl.1", "audit.jsonl"]
    chain = verify(lines, head)
    assert chain["verified"] is True, chain
    first = json.loads((state / "audit.jsonl").read_text().splitlines()[0])
    previous_last = (state / "audit.jsonl.1").read_text().splitlines()[-1]
    assert first["event"] == "journal_rotated" and first["prev"] == hashlib.sha256(previous_last.encode()).hexdigest()
    assert not (state / "audit.jsonl.4").exists()  # the oldest is dropped
    # an edit in a rotated file is found in that file
    rotated = state / "audit.jsonl.2"
    text = rotated.read_text().splitlines()
    text[1] = text[1].replace('"inject"', '"revert"')
    _rewrite(rotated, text)
    chain = _check(state)
    assert chain["first_broken_file"] == str(rotated) and chain["first_broken_line"] == 3


def _append_many(state_dir, writer, count):
    for index in range(count):
        append(state_dir, {"event": "inject", "writer": writer, "n": index})


def test_concurrent_writers_make_one_chain(state):
    """Several processes (modules, the reaper) appending at once: every line is there, chained."""
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_many, args=(str(state), w, 50)) for w in range(6)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(30)
    assert all(w.exitcode == 0 for w in writers)
    chain = _check(state)
    assert chain["verified"] is True and chain["chained_lines"] == 300, chain


def test_a_journal_that_others_could_write_is_not_appended_to(state):
    path = _journal(state, 1)
    os.chmod(path, 0o666)
    with pytest.raises(TrustError, match="may have been written by someone else"):
        append(str(state), {"event": "inject"})
    assert len(_lines(path)) == 1


def test_a_symlinked_journal_is_not_followed(state, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_text("")
    (state / "audit.jsonl").symlink_to(elsewhere)
    with pytest.raises(OSError):
        append(str(state), {"event": "inject"})
    assert elsewhere.read_text() == ""


def test_ledger_audit_writes_chained_lines(state):
    ledger = Ledger(str(state))
    ledger.audit("inject", {"id": "e1", "kind": "container_pause"})
    ledger.audit("revert", {"id": "e1", "kind": "container_pause"}, by="reaper")
    assert _check(state)["chained_lines"] == 2


def test_a_missing_journal_verifies_empty(tmp_path):
    assert verify(*read_lines(str(tmp_path / "none"))[::2])["verified"] is True
