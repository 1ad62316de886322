# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reading experiment results (``results/<experiment_id>.json``) back for reports, on the controller.

A result may be Ansible Vault encrypted (``chaos_report_encrypt``). Ansible's vault is imported only where a
vault is opened: this file ships as module_utils (modules may import only the standard library and
ansible.module_utils), but it runs on the controller only, in the chaos_report action and the trend page, where
ansible-core is whole; hence the pylint exceptions on those imports.

``load_result(path, vault_secret=None) -> dict`` and ``load_results(folder, since=None, vault_secret=None) ->
(results, problems)`` are the interface the experiment report and the trends page build on.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import time

from ._common import ChaosError

SUPPORTED_SCHEMA_VERSION = 1
VAULT_HEADER = b"$ANSIBLE_VAULT;"
JOURNAL_PREFIX = "journal-"
# Keys every result has had since the lifecycle first wrote one (before schema_version existed it was 1).
RESULT_KEYS = ("experiment_id", "verdict", "experiment")
_SINCE_DURATION = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", re.ASCII)


def vault_secret_from_password(password):
    """A VaultSecret for VaultLib from a password (str or bytes)."""
    from ansible.parsing.vault import VaultSecret  # pylint: disable=import-outside-toplevel,ansible-bad-module-import

    if isinstance(password, str):
        password = password.encode("utf-8")
    return VaultSecret(password)


def vault_secret_from_file(path):
    """The VaultSecret in a vault password file (its first line, as ansible-vault reads a plain file)."""
    path = os.path.expanduser(str(path))
    try:
        with open(path, "rb") as handle:
            password = handle.read().splitlines()[0] if os.path.getsize(path) else b""
    except OSError as exc:
        raise ChaosError("cannot read the vault password file %s: %s" % (path, exc.strerror or exc)) from None
    if not password.strip():
        raise ChaosError("the vault password file %s is empty" % path)
    return vault_secret_from_password(password.strip())


def _secret(vault_secret):
    if vault_secret is None or hasattr(vault_secret, "bytes"):
        return vault_secret
    return vault_secret_from_password(vault_secret)


def decrypt(data, path, vault_secret):
    """The plain bytes of a vault-encrypted file; a ChaosError without a secret or with a wrong one."""
    if vault_secret is None:
        raise ChaosError("%s is encrypted with Ansible Vault: give the vault password file (vault_password_file) "
                         "to read it" % path)
    from ansible.errors import AnsibleError  # pylint: disable=import-outside-toplevel,ansible-bad-module-import
    from ansible.parsing.vault import VaultLib  # pylint: disable=import-outside-toplevel,ansible-bad-module-import

    try:
        return VaultLib([("default", _secret(vault_secret))]).decrypt(data)
    except AnsibleError as exc:
        raise ChaosError("%s could not be decrypted with the vault password given (%s)"
                         % (path, str(exc.message if hasattr(exc, "message") else exc).splitlines()[0])) from None


def encrypt(text, vault_secret):
    """``text`` as Ansible Vault (format 1.1) bytes, as ``ansible-vault encrypt`` writes them."""
    from ansible.parsing.vault import VaultLib  # pylint: disable=import-outside-toplevel,ansible-bad-module-import

    return VaultLib([("default", _secret(vault_secret))]).encrypt(text, _secret(vault_secret))


def _parse(raw, path):
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ChaosError("%s is not UTF-8 text (byte %d): not a result file" % (path, exc.start)) from None
    if not text.strip():
        raise ChaosError("%s is empty: not a result file" % path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        # the text ended inside a value: cut short (a full disk, a copy interrupted), not mistyped
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        raise ChaosError("%s is %s JSON: %s (line %d, column %d: character %d of %d)"
                         % (path, "truncated" if truncated else "invalid", exc.msg, exc.lineno, exc.colno,
                            exc.pos, len(text))) from None


def check_result(data, path):
    """``data`` when it is an experiment result this version can read, else a ChaosError saying why not."""
    if not isinstance(data, dict) or any(key not in data for key in RESULT_KEYS):
        missing = [key for key in RESULT_KEYS if key not in data] if isinstance(data, dict) else []
        raise ChaosError("%s is not an experiment result (%s)" % (
            path, "no %s" % ", ".join(missing) if missing else "a JSON %s, not an object" % type(data).__name__))
    version = data.get("schema_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ChaosError("%s has schema_version %r, not a version number" % (path, version))
    if version > SUPPORTED_SCHEMA_VERSION:
        raise ChaosError("%s has schema_version %d, written by a newer sutazai.chaos (this one reads up to %d): "
                         "upgrade the collection to read it" % (path, version, SUPPORTED_SCHEMA_VERSION))
    return data


def load_result(path, vault_secret=None):
    """One experiment result (a dict) from ``path``, decrypting it when it is vault-encrypted.

    ``vault_secret``: a VaultSecret or the password itself. Every problem is a ChaosError naming the file."""
    path = str(path)
    if not os.path.exists(path):
        raise ChaosError("the result file %s does not exist" % path)
    if os.path.isdir(path):
        raise ChaosError("%s is a folder, not a result file" % path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ChaosError("cannot read %s: %s" % (path, exc.strerror or exc)) from None
    if raw.lstrip().startswith(VAULT_HEADER):
        raw = decrypt(raw, path, vault_secret)
    return check_result(_parse(raw, path), path)


def since_epoch(since, now=None):
    """The epoch a ``since`` stands for: None, an epoch number, a datetime, an ISO date/time (UTC unless it has
    an offset), or an age such as 7d, 36h, 2w, 1d12h (before ``now``, default the clock)."""
    if since is None or since == "":
        return None
    now = time.time() if now is None else now
    if isinstance(since, datetime.datetime):
        return (since if since.tzinfo else since.replace(tzinfo=datetime.timezone.utc)).timestamp()
    if isinstance(since, (int, float)) and not isinstance(since, bool):
        return float(since)
    text = str(since).strip().lower()
    match = _SINCE_DURATION.match(text)
    if text and match:
        weeks, days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return now - ((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds)
    try:
        moment = datetime.datetime.fromisoformat(str(since).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ChaosError("since: %r is neither an age (7d, 36h, 2w) nor a date (2026-12-01, 2026-12-01T08:00:00Z)"
                         % (since,)) from None
    return since_epoch(moment)


def started_at(result):
    """When a result's experiment happened: its injection, else its first observation (a fault never injected)."""
    for value in (result.get("injected_at"), result.get("observed_from")):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return None


def _is_vault(path):
    try:
        with open(path, "rb") as handle:
            return handle.read(len(VAULT_HEADER)) == VAULT_HEADER
    except OSError:
        return False


def load_results(folder, since=None, vault_secret=None):
    """(every result in ``folder`` from ``since`` on, sorted by injected_at; the files skipped and why).

    Journals (``journal-*.json``) are not results and are passed over. ``problems`` is a list of
    ``{"file": path, "problem": why}``: a broken file does not hide the others. A folder that does not exist,
    is not a folder or holds no result file at all is a ChaosError, and so is an encrypted result without the
    right vault secret."""
    folder = str(folder)
    if not os.path.exists(folder):
        raise ChaosError("the results folder %s does not exist" % folder)
    if not os.path.isdir(folder):
        raise ChaosError("%s is not a folder" % folder)
    try:
        names = sorted(name for name in os.listdir(folder)
                       if name.endswith(".json") and not name.startswith(JOURNAL_PREFIX))
    except OSError as exc:
        raise ChaosError("cannot list the results folder %s: %s" % (folder, exc.strerror or exc)) from None
    if not names:
        raise ChaosError("the results folder %s is empty: it holds no result file (<experiment_id>.json)" % folder)
    threshold = since_epoch(since)
    secret = _secret(vault_secret)
    results, problems = [], []
    for name in names:
        path = os.path.join(folder, name)
        try:
            result = load_result(path, secret)
        except ChaosError as exc:
            if _is_vault(path):
                # no password, or a wrong one: every encrypted result would be skipped, and a page over the rest
                # would pass for the whole folder
                raise
            problems.append({"file": path, "problem": exc.msg})
            continue
        moment = started_at(result)
        if threshold is not None and (moment is None or moment < threshold):
            continue
        results.append(result)
    results.sort(key=lambda result: (started_at(result) is None, started_at(result) or 0.0,
                                     str(result.get("experiment_id"))))
    return results, problems
