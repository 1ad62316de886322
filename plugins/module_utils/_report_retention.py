# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Retention of a results folder: which files are older than a limit (a plan, touching nothing), and acting on it.

Dated files, each by its own time:
* a result <experiment_id>.json by its injection (its first observation, else the time in its id; an encrypted
  result by the time in its id), and its reports <experiment_id>.html and .md with it;
* a journal journal-<run id>.json by its started_at (else the time in its name);
* a report without its result by the time in its name.
Nothing else is touched (index.html, archives, other files, folders, symbolic links). A file with no time is kept.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile

from ._common import ChaosError
from ._report_load import JOURNAL_PREFIX, load_result, since_epoch
from ._report_trends_time import name_stamp, now_epoch, run_time, utc_text

REPORT_SUFFIXES = (".html", ".md")
NOTHING_REMOVED = "Nothing was removed."


def cutoff_of(older_than, now_at):
    """The epoch before which files go: an age ('90d', '12w', '36h') before now, or an ISO date."""
    if not isinstance(older_than, str) or not older_than.strip():
        raise ChaosError("older_than must be an age such as 90d, 12w or 36h, or an ISO date such as 2026-09-01; "
                         "got %r. %s" % (older_than, NOTHING_REMOVED))
    try:
        cutoff = since_epoch(older_than.strip(), now_at)
    except ChaosError as exc:
        raise ChaosError("older_than: %s. %s" % (exc.msg.split(": ", 1)[-1], NOTHING_REMOVED)) from None
    if cutoff < 0:
        raise ChaosError("older_than %r reaches before 1970. %s" % (older_than, NOTHING_REMOVED))
    if cutoff >= now_at:
        raise ChaosError("older_than %r is not in the past: every file would go. Give an age above 0 (90d) or an "
                         "earlier date. %s" % (older_than, NOTHING_REMOVED))
    return cutoff


def _regular_files(folder):
    """The plain files of folder (no symbolic link, no folder, no hidden temporary file), by name."""
    try:
        names = sorted(os.listdir(folder))
    except OSError as exc:
        raise ChaosError("cannot list the results folder %s: %s. %s" % (folder, exc.strerror or exc, NOTHING_REMOVED))
    return [name for name in names if not name.startswith(".") and not os.path.islink(os.path.join(folder, name))
            and os.path.isfile(os.path.join(folder, name))]


def _journal_time(path, name):
    try:
        with open(path, encoding="utf-8") as handle:
            moment = json.load(handle).get("started_at")
    except (OSError, ValueError, AttributeError):
        moment = None
    if isinstance(moment, (int, float)) and not isinstance(moment, bool):
        return float(moment)
    return name_stamp(name)


def _result_time(path, name):
    try:
        moment = run_time(load_result(path))
    except ChaosError:  # encrypted, broken or not a result: the time in its name, if it has one
        moment = None
    return moment if moment is not None else name_stamp(name)


def dated_files(folder):
    """[(name, kind, epoch or None)] of every file retention knows, kind one of result, report, journal."""
    names = _regular_files(folder)
    present = set(names)
    rows, result_times = [], {}
    for name in names:
        path = os.path.join(folder, name)
        if name.startswith(JOURNAL_PREFIX) and name.endswith(".json"):
            rows.append((name, "journal", _journal_time(path, name)))
        elif name.endswith(".json"):
            result_times[name[: -len(".json")]] = _result_time(path, name)
            rows.append((name, "result", result_times[name[: -len(".json")]]))
    for name in names:
        stem, suffix = os.path.splitext(name)
        if suffix in REPORT_SUFFIXES and name != "index.html":
            has_result = stem + ".json" in present
            rows.append((name, "report", result_times[stem] if has_result else name_stamp(name)))
    return sorted(rows, key=lambda row: row[0])


def plan_prune(folder, older_than, now=None):
    """What would go: the files of ``folder`` older than ``older_than`` (see the module's doc). Touches nothing.

    -> {folder, older_than, cutoff, cutoff_text, files: [{file, path, kind, at, when}] oldest first,
        kept (how many known files stay), undated: [file names kept for want of a time]}"""
    if not isinstance(folder, str) or not folder:
        raise ChaosError("path must name the results folder, got %r. %s" % (folder, NOTHING_REMOVED))
    folder = os.path.abspath(os.path.expanduser(folder))
    if not os.path.exists(folder):
        raise ChaosError("the results folder %s does not exist. %s" % (folder, NOTHING_REMOVED))
    if not os.path.isdir(folder):
        raise ChaosError("%s is not a folder. %s" % (folder, NOTHING_REMOVED))
    now_at = now_epoch(now)
    cutoff = cutoff_of(older_than, now_at)
    files, kept, undated = [], 0, []
    for name, kind, moment in dated_files(folder):
        if moment is None:
            undated.append(name)
        elif moment < cutoff:
            files.append({"file": name, "path": os.path.join(folder, name), "kind": kind, "at": moment,
                          "when": utc_text(moment)})
        else:
            kept += 1
    files.sort(key=lambda row: (row["at"], row["file"]))
    return {"folder": folder, "older_than": older_than, "now": now_at, "cutoff": cutoff,
            "cutoff_text": utc_text(cutoff), "files": files, "kept": kept, "undated": undated}


def archive_target(archive):
    """The absolute path of a new archive, or a ChaosError: not .tar.gz, existing, or in a missing folder."""
    path = os.path.abspath(os.path.expanduser(str(archive)))
    if not path.endswith((".tar.gz", ".tgz")):
        raise ChaosError("archive %s must be a .tar.gz (or .tgz) file name. %s" % (path, NOTHING_REMOVED))
    if os.path.lexists(path):
        raise ChaosError("the archive %s exists already: give a new name (an archive is never overwritten). %s"
                         % (path, NOTHING_REMOVED))
    if not os.path.isdir(os.path.dirname(path)):
        raise ChaosError("the archive's folder %s does not exist. %s" % (os.path.dirname(path), NOTHING_REMOVED))
    return path


def write_archive(path, files):
    """files into a new tar.gz at path: written under a temporary name beside it, checked, then renamed."""
    handle, temporary = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                         dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "wb") as stream:
            with tarfile.open(fileobj=stream, mode="w:gz") as tar:
                for row in files:
                    tar.add(row["path"], arcname=row["file"], recursive=False)
            stream.flush()
            os.fsync(stream.fileno())
        with tarfile.open(temporary, "r:gz") as tar:
            if sorted(tar.getnames()) != sorted(row["file"] for row in files):
                raise ChaosError("the archive written to %s does not hold every file" % temporary)
        os.chmod(temporary, 0o600)  # results can tell more about a system than its owner wants to share
        os.replace(temporary, path)
    except (OSError, tarfile.TarError, ChaosError) as exc:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise ChaosError("could not write the archive %s: %s. %s" % (
            path, getattr(exc, "msg", None) or getattr(exc, "strerror", None) or exc, NOTHING_REMOVED)) from None


def apply_prune(plan, archive=None):
    """Remove the planned files; with ``archive`` (a new .tar.gz path) first store them there.

    -> {removed: [file names], archive: path or None, vanished: [planned files already gone]}"""
    present = [row for row in plan["files"] if os.path.isfile(row["path"]) and not os.path.islink(row["path"])]
    vanished = [row["file"] for row in plan["files"] if row not in present]
    target = archive_target(archive) if archive and present else None  # nothing to store: no archive made
    if target:
        write_archive(target, present)
    removed = []
    for row in present:
        try:
            os.unlink(row["path"])
        except OSError as exc:
            raise ChaosError("could not remove %s (%s); removed before it: %s; not removed: %s%s" % (
                row["path"], exc.strerror or exc, ", ".join(removed) or "nothing",
                ", ".join(r["file"] for r in present[len(removed):]),
                "; the archive %s holds them all" % target if target else ""), removed=removed) from None
        removed.append(row["file"])
    return {"removed": removed, "archive": target, "vanished": vanished}
