# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether the state folder may be trusted, the way ``sshd`` (StrictModes) trusts a home folder.

Standard library only: this file is part of the reaper program (see ``_ledger.install_program``).

Every fault records its undo in the state folder and the reaper runs Python from it, as root. So
before anything is written or run there, the folder and each folder above it must be owned by root
or by the effective user and writable by nobody else. A parent that others may write to is accepted
only when it is sticky (``/tmp``): there nobody can rename or replace a folder they do not own. The
state folder itself may not be a symbolic link (it is refused, not followed: a link can be pointed
elsewhere later, and a folder named by its real path needs none). A symbolic link among the parents
(``/var -> /data/var``) is accepted when the link and every folder of the path it leads to pass.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat

from ._undo import LedgerError

NOTHING_CHANGED = "Nothing was changed."


class TrustError(LedgerError):
    """A state folder (or a file in it) that others could have written."""


def describe_user(uid):
    """``uid 1000 (chaos)``: a uid and, when known, its name."""
    try:
        import pwd

        return "uid %d (%s)" % (uid, pwd.getpwuid(uid).pw_name)
    except (ImportError, KeyError):
        return "uid %d" % uid


def _owners(euid):
    return "root" if euid == 0 else "root or %s" % describe_user(euid)


def _mode_problem(path, st, euid, sticky_ok=False, private=False):
    """What is wrong with one lstat result (None when nothing is)."""
    problems = []
    if st.st_uid not in (0, euid):
        problems.append("%s is owned by %s, not by %s" % (path, describe_user(st.st_uid), _owners(euid)))
    mask = 0o077 if private else 0o022
    if st.st_mode & mask and not (sticky_ok and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX):
        problems.append("%s is %s by %s (mode %04o)" % (
            path, "readable or writable" if private else "writable",
            "group and others" if st.st_mode & mask & 0o070 and st.st_mode & mask & 0o007 else
            ("group" if st.st_mode & mask & 0o070 else "others"), stat.S_IMODE(st.st_mode)))
    return "; ".join(problems) or None


def _refuse(folder, problem):
    raise TrustError(
        "the state folder %s is not safe to use: %s. Every fault records its undo there and the reaper runs "
        "code from it as %s, so it and every folder above it must be owned by root (or the user the modules "
        "run as) and writable by nobody else (a sticky parent such as /tmp is fine); fix the folder (for "
        "example chown root: and chmod 700) or choose another state_dir. %s"
        % (folder, problem, describe_user(os.geteuid()), NOTHING_CHANGED))


def not_permitted(folder, exc, euid=None):
    """The error for a state folder the effective user may not write (``exc``: the PermissionError).

    The usual cause is a task run as an ordinary SSH user without ``become``: the default folder belongs to
    root, so the fix is named, not only the errno.
    """
    euid = os.geteuid() if euid is None else euid
    if euid == 0:
        return TrustError("cannot use the state folder %s: %s. %s" % (folder, exc, NOTHING_CHANGED))
    return TrustError(
        "the state folder %s cannot be written as %s (%s): run the task with become: true (root is needed to "
        "record faults there: the reaper that undoes them runs as root), or give a state_dir this user owns. %s"
        % (folder, describe_user(euid), exc.strerror or exc, NOTHING_CHANGED))


def _check_parents(folder, path, euid):
    """Check every folder from / down to ``path`` (inclusive), as parents: sticky world-writable is fine."""
    for real in (False, True):
        walk = os.path.realpath(path) if real else path
        current = "/"
        for part in [""] + [p for p in walk.split("/") if p]:
            current = os.path.join(current, part) if part else "/"
            try:
                st = os.lstat(current)
            except OSError as exc:
                _refuse(folder, "%s cannot be examined (%s)" % (current, exc.strerror))
            if stat.S_ISLNK(st.st_mode):
                if st.st_uid not in (0, euid):
                    _refuse(folder, "the symbolic link %s is owned by %s" % (current, describe_user(st.st_uid)))
                continue  # the folders it leads to are checked on the walk of the real path
            if not stat.S_ISDIR(st.st_mode):
                _refuse(folder, "%s is not a folder" % current)
            problem = _mode_problem(current, st, euid, sticky_ok=True)
            if problem:
                _refuse(folder, problem)


def _check_folder(folder, euid):
    try:
        st = os.lstat(folder)
    except OSError as exc:
        _refuse(folder, "it cannot be examined (%s)" % exc.strerror)
    if stat.S_ISLNK(st.st_mode):
        _refuse(folder, "it is a symbolic link (to %s); symbolic links are refused, not followed: give the real "
                "path of the folder" % os.readlink(folder))
    if not stat.S_ISDIR(st.st_mode):
        _refuse(folder, "it is not a folder (%s)" % _kind(st))
    problem = _mode_problem(folder, st, euid)
    if problem:
        _refuse(folder, problem)
    _check_parents(folder, os.path.dirname(folder), euid)


def _kind(st):
    return "a regular file" if stat.S_ISREG(st.st_mode) else "mode %06o" % st.st_mode


def check_state_dir(path, euid=None, create=False):
    """Raise TrustError unless ``path`` may hold the ledger; with ``create``, make a missing folder 0700.

    A folder that does not exist is judged by its deepest existing parent; nothing is created unless that
    parent passes, and the new folder is checked again once made (someone may have raced us to it).
    """
    euid = os.geteuid() if euid is None else euid
    if "\0" in str(path):
        raise TrustError("state_dir %r contains a NUL byte; no folder can have that name. %s" % (path, NOTHING_CHANGED))
    folder = os.path.abspath(path)
    if os.path.lexists(folder):
        return _check_folder(folder, euid)
    missing = [folder]
    while not os.path.lexists(os.path.dirname(missing[-1])):
        missing.append(os.path.dirname(missing[-1]))
    parent = os.path.dirname(missing[-1])
    if not os.path.isdir(parent):
        raise TrustError("cannot create the state directory %s: %s is not a folder. %s"
                         % (folder, parent, NOTHING_CHANGED))
    _check_parents(folder, parent, euid)
    if not create:
        return None
    for new in reversed(missing):
        mode = 0o700 if new == folder else 0o755
        try:
            os.mkdir(new, mode)
            os.chmod(new, mode)  # exactly this mode, whatever the umask
        except FileExistsError:
            pass  # made by someone else meanwhile: judged below like any existing folder
        except PermissionError as exc:
            raise not_permitted(folder, exc, euid)
        except OSError as exc:
            raise TrustError("cannot create the state directory %s: %s. %s" % (folder, exc, NOTHING_CHANGED))
    return _check_folder(folder, euid)


def check_file(path, st, euid=None, private=False):
    """Raise TrustError unless ``st`` (an fstat/lstat of ``path``) is a regular file only we could write."""
    euid = os.geteuid() if euid is None else euid
    if not stat.S_ISREG(st.st_mode):
        raise TrustError("%s is not a regular file (%s); refusing to use it. %s" % (path, _kind(st), NOTHING_CHANGED))
    problem = _mode_problem(path, st, euid, private=private)
    if problem:
        raise TrustError("%s %s: %s; refusing to use it. %s" % (
            path, "is not ours alone" if private else "may have been written by someone else", problem,
            NOTHING_CHANGED))


def check_private_folder(path, euid=None):
    """Raise TrustError unless ``path`` is a real folder of ours that nobody else can read or write (0700)."""
    euid = os.geteuid() if euid is None else euid
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise TrustError("%s cannot be examined (%s). %s" % (path, exc.strerror, NOTHING_CHANGED))
    if not stat.S_ISDIR(st.st_mode):
        raise TrustError("%s is not a folder (%s). %s" % (path, _kind(st), NOTHING_CHANGED))
    problem = _mode_problem(path, st, euid, private=True)
    if problem:
        raise TrustError("%s: %s. %s" % (path, problem, NOTHING_CHANGED))


# ---------------------------------------------------------------- the reaper's program

@contextlib.contextmanager
def private_file(path, mode="w"):
    """A new file only we may read or write (0600), replacing a leftover of the same name."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, mode) as handle:
        yield handle


def _private_folder(path):
    """Make ``path`` a folder only we may use (0700; one an older version made 0755 is tightened)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(path, 0o700)
    check_private_folder(path)


def _read_private(path):
    """The bytes of a file that must be ours alone (0600, not a link); TrustError otherwise."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        check_file(path, os.fstat(fd), private=True)
        return handle.read()


def install_files(lib, package, files):
    """Write ``files`` ([(name, bytes)]) to ``lib/package/`` (folders 0700, files 0600); returns name -> SHA-256.

    A file already there with the same bytes and a private mode is left as it is.
    """
    folder = os.path.join(lib, package)
    try:
        _private_folder(lib)
        _private_folder(folder)
        digests = {}
        for name, data in files:
            path = os.path.join(folder, name)
            digests[name] = hashlib.sha256(data).hexdigest()
            current = None
            with contextlib.suppress(OSError, LedgerError):
                current = _read_private(path)
            if current != data:
                tmp = "%s.%d.tmp" % (path, os.getpid())
                with private_file(tmp, "wb") as handle:
                    handle.write(data)
                os.replace(tmp, path)
        cache = os.path.join(folder, "__pycache__")  # the program runs with -B: only checked sources are imported
        if os.path.islink(cache):
            os.unlink(cache)
        shutil.rmtree(cache, ignore_errors=True)
    except OSError as exc:
        raise TrustError("cannot install the reaper's program in %s: %s. %s" % (folder, exc, NOTHING_CHANGED))
    return digests


def verify_files(lib, package, digests):
    """Raise TrustError unless ``lib/package/`` still holds exactly what ``install_files`` wrote, ours alone.

    ``lib`` is on the program's PYTHONPATH, ahead of the standard library: anything else in it is refused.
    """
    folder = os.path.join(lib, package)
    check_private_folder(lib)
    check_private_folder(folder)
    extra = sorted(set(os.listdir(lib)) - {package})
    if extra:
        raise TrustError("%s holds %s besides the reaper's program; Python would import from there before its own "
                         "library, so nothing is started until it is removed. %s"
                         % (lib, ", ".join(extra), NOTHING_CHANGED))
    for name, digest in sorted(digests.items()):
        path = os.path.join(folder, name)
        try:
            data = _read_private(path)
        except OSError as exc:
            raise TrustError("%s cannot be read back (%s). %s" % (path, exc, NOTHING_CHANGED))
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise TrustError("%s changed after it was written (SHA-256 %s, expected %s); nothing is started from it. "
                             "%s" % (path, actual, digest, NOTHING_CHANGED))
