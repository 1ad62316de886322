# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The state folder is trusted the way sshd trusts a home: ours alone, and so every folder above it."""

from __future__ import annotations

import os
import pwd

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._ledger import Ledger
from ansible_collections.sutazai.chaos.plugins.module_utils._trust import TrustError, check_file, check_state_dir

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="changing a folder's owner needs root")


def _nobody():
    return pwd.getpwnam("nobody").pw_uid


def _refused(path, *needles, create=True):
    """check_state_dir refuses ``path`` with a message holding every needle; returns the message."""
    with pytest.raises(TrustError) as info:
        check_state_dir(str(path), create=create)
    msg = info.value.msg
    for needle in needles:
        assert needle in msg, msg
    assert msg.endswith("Nothing was changed."), msg
    return msg


def test_a_private_folder_passes(tmp_path):
    os.chmod(tmp_path, 0o700)
    check_state_dir(str(tmp_path))


def test_a_read_only_for_others_folder_passes(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    check_state_dir(str(folder))


def test_a_missing_folder_is_created_0700_with_its_parents(tmp_path):
    folder = tmp_path / "a" / "b" / "state"
    old = os.umask(0o077)  # the umask does not decide the modes
    try:
        check_state_dir(str(folder), create=True)
    finally:
        os.umask(old)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert os.stat(folder.parent).st_mode & 0o777 == 0o755


def test_a_missing_folder_is_not_created_without_create(tmp_path):
    check_state_dir(str(tmp_path / "state"))
    assert not (tmp_path / "state").exists()


def test_a_sticky_world_writable_parent_is_fine(tmp_path):
    sticky = tmp_path / "tmp"
    sticky.mkdir()
    os.chmod(sticky, 0o1777)
    check_state_dir(str(sticky / "state"), create=True)
    assert os.stat(sticky / "state").st_mode & 0o777 == 0o700


def test_a_sticky_world_writable_folder_itself_is_refused(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    _refused(folder, "is writable by group and others (mode 1777)")


def test_a_symlinked_state_folder_is_refused(tmp_path):
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "state"
    link.symlink_to(real)
    _refused(link, str(link), "it is a symbolic link (to %s)" % real, "give the real path")
    assert os.listdir(real) == []


def test_a_file_is_refused(tmp_path):
    blocker = tmp_path / "state"
    blocker.write_text("x")
    _refused(blocker, "it is not a folder (a regular file)")
    assert blocker.read_text() == "x"


def test_a_folder_under_a_file_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TrustError, match="cannot create the state directory .*file is not a folder"):
        check_state_dir(str(blocker / "state"), create=True)


@pytest.mark.parametrize("mode, what", [(0o775, "writable by group (mode 0775)"),
                                        (0o757, "writable by others (mode 0757)"),
                                        (0o777, "writable by group and others (mode 0777)")])
def test_a_writable_parent_is_refused_and_nothing_is_created(tmp_path, mode, what):
    parent = tmp_path / "shared"
    parent.mkdir()
    os.chmod(parent, mode)
    _refused(parent / "state", "%s is %s" % (parent, what))
    assert not (parent / "state").exists()


def test_a_writable_grandparent_is_refused_for_an_existing_folder(tmp_path):
    shared = tmp_path / "shared"
    (shared / "deep" / "state").mkdir(parents=True)
    os.chmod(shared, 0o777)
    _refused(shared / "deep" / "state", str(shared), "writable by group and others")


def test_a_symlinked_parent_is_judged_by_the_link_and_by_where_it_leads(tmp_path):
    real = tmp_path / "data"
    real.mkdir()
    (tmp_path / "var").symlink_to(real)
    check_state_dir(str(tmp_path / "var" / "state"), create=True)  # /var -> /data/var style: fine
    assert (real / "state").is_dir()
    os.chmod(real, 0o777)  # where the link leads may not be shared
    _refused(tmp_path / "var" / "state", str(real), "writable by group and others")


@ROOT_ONLY
def test_a_folder_owned_by_nobody_is_refused(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    os.chown(folder, _nobody(), -1)
    os.chmod(folder, 0o777)
    msg = _refused(folder, "%s is owned by uid %d (nobody), not by root" % (folder, _nobody()),
                   "is writable by group and others (mode 0777)")
    assert "choose another state_dir" in msg
    assert os.listdir(folder) == []


@ROOT_ONLY
def test_a_parent_owned_by_nobody_is_refused(tmp_path):
    parent = tmp_path / "theirs"
    parent.mkdir(mode=0o755)
    os.chown(parent, _nobody(), -1)
    _refused(parent / "state", "%s is owned by uid %d (nobody)" % (parent, _nobody()))
    assert not (parent / "state").exists()


@ROOT_ONLY
def test_the_effective_user_may_own_it(tmp_path):
    """The folder of the user the modules run as (euid) passes; for anyone else it is another user's."""
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    os.chown(folder, 12345, -1)
    check_state_dir(str(folder), euid=12345)
    with pytest.raises(TrustError, match="is owned by uid 12345, not by root"):
        check_state_dir(str(folder), euid=0)
    with pytest.raises(TrustError, match="is owned by uid 12345, not by root or uid 4242"):
        check_state_dir(str(folder), euid=4242)


def test_a_nul_byte_is_refused():
    with pytest.raises(TrustError, match="contains a NUL byte"):
        check_state_dir("/tmp/x\0y")


def test_files_that_others_could_write_are_refused(tmp_path):
    path = tmp_path / "ledger.json"
    path.write_text("{}")
    os.chmod(path, 0o600)
    check_file(str(path), os.lstat(path))
    os.chmod(path, 0o644)
    check_file(str(path), os.lstat(path))
    with pytest.raises(TrustError, match=r"is not ours alone: .* readable or writable by group and others \(mode 0644\)"):
        check_file(str(path), os.lstat(path), private=True)
    os.chmod(path, 0o666)
    with pytest.raises(TrustError, match=r"ledger.json may have been written by someone else: .* writable by group "
                                         r"and others \(mode 0666\)"):
        check_file(str(path), os.lstat(path))


def test_a_group_writable_ledger_file_is_refused(tmp_path):
    ledger = Ledger(str(tmp_path / "state"))
    ledger.ensure_dir()
    with open(ledger.path, "w") as handle:
        handle.write('{"version": 1, "entries": []}')
    os.chmod(ledger.path, 0o664)
    with pytest.raises(TrustError, match="may have been written by someone else"):
        ledger.entries()


def test_ledger_operations_check_the_folder_before_writing(tmp_path):
    folder = tmp_path / "state"
    folder.mkdir()
    os.chmod(folder, 0o777)
    ledger = Ledger(str(folder))
    with pytest.raises(TrustError):
        ledger.audit("inject", {"kind": "x"})
    with pytest.raises(TrustError):
        with ledger.locked():
            pass  # pragma: no cover
    assert os.listdir(folder) == []


def _told_to_become(msg, folder):
    assert "the state folder %s cannot be written as uid 1000" % folder in msg, msg
    assert "run the task with become: true" in msg and "or give a state_dir this user owns" in msg, msg
    assert msg.endswith("Nothing was changed."), msg


def test_an_ordinary_user_who_cannot_make_the_folder_is_told_to_use_become(tmp_path, monkeypatch):
    """An SSH user without become, and the default state folder not made yet (its parent is root's)."""
    folder = tmp_path / "state"

    def refused_mkdir(path, mode=0o777):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "mkdir", refused_mkdir)
    with pytest.raises(TrustError) as info:
        check_state_dir(str(folder), euid=1000, create=True)
    _told_to_become(info.value.msg, folder)
    assert not folder.exists()


def test_an_ordinary_user_in_roots_state_folder_is_told_to_use_become(tmp_path, monkeypatch):
    """The folder exists (root's, 0700, made by an earlier run with become): its lock cannot be opened."""
    folder = tmp_path / "state"
    folder.mkdir(mode=0o700)
    real_open = os.open

    def refused_open(path, flags, mode=0o777, **kwargs):
        if str(path).startswith(str(folder)):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(os, "open", refused_open)
    with pytest.raises(TrustError) as info:
        with Ledger(str(folder)).locked():
            pass  # pragma: no cover
    _told_to_become(info.value.msg, folder)
    monkeypatch.undo()
    assert os.listdir(folder) == []


def test_root_without_permission_gets_no_become_hint(tmp_path, monkeypatch):
    """become is no answer for root (a read-only file system, say): the error is shown as it is."""
    def refused_mkdir(path, mode=0o777):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(os, "mkdir", refused_mkdir)
    with pytest.raises(TrustError) as info:
        check_state_dir(str(tmp_path / "state"), euid=0, create=True)
    assert "become" not in info.value.msg and "Permission denied" in info.value.msg
    assert info.value.msg.endswith("Nothing was changed.")
