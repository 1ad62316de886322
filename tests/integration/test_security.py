# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Issue 15, parts 1-3, end to end: a state folder others could write is refused with nothing changed, the
reaper does not run a hand-edited undo, and the audit journal's hash chain shows where it was edited."""

from __future__ import annotations

import json
import os
import pwd
import time
from pathlib import Path

from conftest import ledger_entries, reaper_pids, run_modules, state_of, wait_for

NOTHING = "Nothing was changed."


def _listing(path):
    """What a folder holds (names, recursively), to show nothing was written there."""
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*"))


def test_untrusted_state_folders_are_refused_and_nothing_changes(containers, session_root, request):
    """nobody-owned 0777, a symbolic link, a file, a group-writable parent: each refused, the container untouched."""
    victim = containers("trust")
    base = session_root / ("trust-%s" % request.node.name[:20])
    base.mkdir(mode=0o700)
    nobody = base / "nobody-0777"
    nobody.mkdir()
    os.chown(nobody, pwd.getpwnam("nobody").pw_uid, -1)
    os.chmod(nobody, 0o777)
    real = base / "real"
    real.mkdir(mode=0o700)
    link = base / "link"
    link.symlink_to(real)
    a_file = base / "a-file"
    a_file.write_text("not a folder\n")
    shared = base / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    before = {p: _listing(p) for p in (nobody, real, shared)}

    cases = [(nobody, ["is owned by uid %d (nobody), not by root" % pwd.getpwnam("nobody").pw_uid,
                       "is writable by group and others (mode 0777)"]),
             (link, ["it is a symbolic link (to %s)" % real]),
             (a_file, ["it is not a folder (a regular file)"]),
             (shared / "state", ["%s is writable by group (mode 0775)" % shared])]
    # a kill is recorded only once done, so it must be refused before it, like a pause
    hits = [(path, needles, action) for path, needles in cases for action in ("pause", "kill")
            if action == "pause" or path in (nobody, shared / "state")]
    calls = [{"module": "container_chaos", "args": {"action": action, "duration": 30 if action == "pause" else None,
                                                    "state_dir": str(path), "targets": {"names": [victim.name]}}}
             for path, _needles, action in hits]
    started = time.monotonic()
    results = run_modules(calls, base)
    print("\nfour untrusted folders, six refused calls: %.1f s" % (time.monotonic() - started))
    for (path, needles, _action), result in zip(hits, results):
        assert result.get("failed") is True, result
        msg = result["msg"]
        assert str(path) in msg and msg.endswith(NOTHING), msg
        for needle in needles:
            assert needle in msg, msg
        assert "Traceback" not in result.output
    state = state_of(victim)
    assert state["Running"] and not state["Paused"] and state["RestartCount"] == 0, state
    assert {p: _listing(p) for p in (nobody, real, shared)} == before  # nothing written, nothing created
    assert a_file.read_text() == "not a folder\n"
    assert not reaper_pids(base)


def _hand_edited_entry(undo, **extra):
    now = time.time()
    entry = {"id": os.urandom(16).hex(), "experiment_id": "hand-edit", "kind": "container_pause",
             "target": {"id": "hand", "name": "hand-edited"}, "spec": {}, "undo": undo, "created": now,
             "deadline": now + 1, "state": "active", "attempts": 0, "applying": False, "owner_pid": 1}
    entry.update(extra)
    return entry


def test_the_reaper_refuses_hand_edited_undo_steps_and_the_journal_shows_edits(containers, state_dir, tmp_path):
    victim = containers("hand")
    sd = str(state_dir)
    touched = tmp_path / "touched-by-the-reaper"
    evil = tmp_path / "bin" / "tc"
    evil.parent.mkdir()
    evil.write_text("#!/bin/sh\ntouch %s.evil\n" % touched)
    evil.chmod(0o755)
    hand = [_hand_edited_entry([{"type": "argv", "argv": ["touch", str(touched)]}]),
            _hand_edited_entry([{"type": "argv", "argv": [str(evil), "qdisc", "del", "dev", "eth0", "root"]}]),
            _hand_edited_entry([{"type": "teleport", "to": "/"}])]
    (state_dir / "ledger.json").write_text(json.dumps({"version": 1, "entries": hand}))

    started = time.monotonic()
    [pause] = run_modules([{"module": "container_chaos", "args": {
        "action": "pause", "duration": 2, "state_dir": sd, "targets": {"names": [victim.name]}}}], state_dir)
    assert pause.get("failed") is not True, pause
    unpaused, _waited = wait_for(lambda: not state_of(victim)["Paused"], timeout=10)
    assert unpaused, "the reaper did not undo the module's own pause"
    gone, _waited = wait_for(lambda: not reaper_pids(state_dir), timeout=10, interval=0.1)
    assert gone, "the reaper did not exit"
    states = {e["id"]: e["state"] for e in ledger_entries(state_dir)}
    assert [states[e["id"]] for e in hand] == ["refused"] * 3
    assert not touched.exists() and not Path(str(touched) + ".evil").exists(), "a refused undo ran"

    info, audit = run_modules([{"module": "chaos_ledger_info", "args": {"state_dir": sd}},
                               {"module": "chaos_audit_info", "args": {"state_dir": sd}}], state_dir)
    assert info["faults"] == []
    reasons = {e["id"]: e["refused_reason"] for e in info["refused"]}
    assert "program 'touch' is not one this collection runs" in reasons[hand[0]["id"]]
    assert "program '%s' is not one this collection runs" % evil in reasons[hand[1]["id"]]
    assert "unknown undo step type 'teleport'" in reasons[hand[2]["id"]]
    assert all(e["refused_by"] == "reaper" and "undo" not in e for e in info["refused"])
    events = [(e["event"], e.get("entry_id"), e.get("by")) for e in audit["events"]]
    assert {("revert_refused", e["id"], "reaper") for e in hand} <= set(events)
    assert ("revert", pause["containers"][0]["entry_id"], "reaper") in events
    assert audit["chain"]["verified"] is True and audit["chain"]["chained_lines"] == len(events), audit["chain"]
    assert all("prev" not in e for e in audit["events"])

    # an edit to the journal (the third line, say "reaper" became "rollback") is reported at the next line
    journal = state_dir / "audit.jsonl"
    lines = journal.read_text().splitlines()
    lines[2] = lines[2].replace('"reaper"', '"rollback"').replace('"inject"', '"injected"')
    assert lines[2] != journal.read_text().splitlines()[2]
    journal.write_text("".join(line + "\n" for line in lines))
    [broken] = run_modules([{"module": "chaos_audit_info", "args": {"state_dir": sd}}], state_dir)
    chain = broken["chain"]
    assert chain["verified"] is False and chain["first_broken_line"] == 4, chain
    assert chain["first_broken_file"] == str(journal) and "(line 3 of" in chain["reason"]
    assert any("hash chain is broken" in w for w in broken.get("warnings", [])), broken
    print("\nhand-edited ledger, reaper, info and audit: %.1f s" % (time.monotonic() - started))
