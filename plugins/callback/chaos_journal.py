# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: chaos_journal
type: aggregate
short_description: Writes one JSON journal per playbook run of the collection's tasks and experiment results
version_added: 0.1.0
author:
  - sutazai.chaos maintainers (!UNKNOWN)
description:
  - Writes C(journal-<run id>.json) once per C(ansible-playbook) run in which a task of the collection ran
    (its action is C(sutazai.chaos.*), or it runs in a role C(sutazai.chaos.*)). The run id is the UTC start
    time and a short random suffix, for example C(20261201T061500Z-3f9a1c).
  - The journal holds the schema version (1), run id, playbook, inventory hosts, start and end (epoch and
    ISO 8601), the run's status (V(ok), V(failed), or V(interrupted) when the run was stopped by Ctrl-C or
    SIGTERM before its recap), the ansible-core and collection versions, the recap counts per host, every task
    of the collection with host, status, timings and a bounded copy of its result, and the experiment results
    the run produced (the last C(experiment_result) set per host and experiment id).
  - Its JSON Schema ships with the collection as C(meta/schemas/journal.schema.json).
  - Secrets are never recorded. A C(no_log) task's result is replaced by the marker C(censored=no_log); every other
    result is redacted (values of keys that look like passwords, tokens, API keys or authorization, HTTP header
    values, the password of C(user:password@) in URLs, secret query parameters, Bearer and Basic credentials).
  - A result is bounded (strings cut at 2000 characters, lists at 50 items, 8 levels of nesting, about 20000
    characters in all; C(_ansible_*) internals dropped); a cut result is marked C(result_cut).
  - When the run encrypts its results (C(chaos_report_encrypt) true with C(chaos_report_vault_password_file), given
    as extra variables or in the inventory's C(all) group or host variables), the journal is an Ansible Vault file
    too (mode 0600, opened with C(ansible-vault view)); when that password file cannot be read, no journal is
    written (a warning says why), never a plain copy of encrypted results.
  - The journal is collected in memory and written once at the end (or on interruption) through a temporary
    file in the same folder and a rename. A folder that cannot be written gives one warning; it never fails the
    run. Ad hoc C(ansible) commands write no journal.
requirements:
  - Enabled in C(callbacks_enabled) (C(ansible.cfg) C([defaults]) or E(ANSIBLE_CALLBACKS_ENABLED)).
options:
  dir:
    description:
      - The folder the journal is written to (made when missing).
      - When unset, the folder the run's experiment results were written to (the first result file of the
        experiment lifecycle); else the C(chaos_report_dir) (or C(report_dir), the report playbook's) given as an
        extra variable; else the C(results)
        folder next to the playbook's folder (C(<playbook dir>/../results)), where the results go by default.
    type: path
    env:
      - name: SUTAZAI_CHAOS_JOURNAL_DIR
    ini:
      - section: callback_chaos_journal
        key: dir
  always:
    description:
      - Write a journal even for a run in which no task of the collection ran.
    type: bool
    default: false
    env:
      - name: SUTAZAI_CHAOS_JOURNAL_ALWAYS
    ini:
      - section: callback_chaos_journal
        key: always
notes:
  - "Enable it in your own C(ansible.cfg): C(callbacks_enabled = sutazai.chaos.chaos_journal) under C([defaults])."
"""

import atexit
import json
import os
import signal
import time

import yaml

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible.release import __version__ as ansible_core_version

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._journal import (
    RunJournal, journal_dir, journal_name, write_atomic)

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_version(root=COLLECTION_ROOT):
    """The collection's version from an installed collection's MANIFEST.json or a checkout's galaxy.yml."""
    try:
        with open(os.path.join(root, "MANIFEST.json"), encoding="utf-8") as stream:
            return json.load(stream)["collection_info"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as stream:
            return str(yaml.safe_load(stream)["version"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None


ENCRYPTION_SETTINGS = ("chaos_report_encrypt", "chaos_report_vault_password_file")


def _plain(value):
    """A value as it is, not a template (the callback does not template inventory values)."""
    return isinstance(value, (str, bool)) and not (isinstance(value, str) and ("{{" in value or "{%" in value))


def _setting(manager, inventory, name):
    """``name`` from the extra variables, else from the inventory (group ``all``, then each host's own)."""
    sources = [getattr(manager, "extra_vars", None) or {}]
    try:
        sources.append(inventory.groups["all"].get_vars())
        sources.extend(host.get_vars() for host in inventory.get_hosts("all"))
    except Exception:  # pylint: disable=broad-exception-caught
        pass  # no inventory to read: the extra variables only
    for source in sources:
        value = source.get(name) if isinstance(source, dict) else None
        if value is not None and _plain(value):
            return value
    return None


def _action_of(task):
    """The task's action as a fully qualified name when Ansible can resolve it, else as written."""
    try:
        return task.resolved_action or task.action
    # whatever resolving raises, the journal never breaks a run
    except Exception:  # pylint: disable=broad-exception-caught
        return task.action


def _role_of(task):
    role = getattr(task, "_role", None)
    return role.get_name() if role is not None else None


class CallbackModule(CallbackBase):
    """Collects the collection's tasks and experiment results of one playbook run; writes them at its end."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "sutazai.chaos.chaos_journal"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self._journal = None
        self._report_dir = None
        self._written = False
        self._encryption = {}
        self._previous_sigterm = None

    # ------------------------------------------------------------------ run

    def v2_playbook_on_start(self, playbook):
        if self._journal is not None:  # a second playbook of the same command: one journal for the run
            return
        self._journal = RunJournal()
        self._journal.playbook = os.path.abspath(getattr(playbook, "_file_name", "") or "") or None
        self._journal.check_mode = bool(context.CLIARGS.get("check", False))
        atexit.register(self._write_if_interrupted)
        self._chain_sigterm()

    def v2_playbook_on_play_start(self, play):
        if self._journal is None:
            return
        manager = getattr(play, "_variable_manager", None)
        inventory = getattr(manager, "_inventory", None)
        try:
            hosts = set(self._journal.inventory_hosts) | {host.name for host in inventory.get_hosts("all")}
            self._journal.inventory_hosts = sorted(hosts)
        # a journal without its inventory hosts rather than a broken run
        except Exception:  # pylint: disable=broad-exception-caught
            pass
        extra_vars = getattr(manager, "extra_vars", None) or {}
        # the lifecycle's chaos_report_dir, or playbooks/report.yml's report_dir
        report_dir = extra_vars.get("chaos_report_dir") or extra_vars.get("report_dir")
        if _plain(report_dir):
            self._report_dir = str(report_dir)
        for name in ENCRYPTION_SETTINGS:
            value = _setting(manager, inventory, name)
            if value is not None:
                self._encryption[name] = value

    def v2_playbook_on_stats(self, stats):
        if self._journal is None:
            return
        counts = {host: stats.summarize(host) for host in sorted(stats.processed)}
        self._write(counts, finished=True)

    # ------------------------------------------------------------------ tasks

    def v2_runner_on_start(self, host, task):
        if self._journal is not None:
            self._journal.task_started(host.get_name(), task._uuid, name=task.name, action=_action_of(task),
                                       role=_role_of(task))

    def _ended(self, result, event, ignored=False):
        if self._journal is None:
            return
        task = result.task
        no_log = isinstance(task.no_log, bool) and task.no_log
        self._journal.task_ended(result.host.get_name(), task._uuid, event, name=task.name,
                                 action=_action_of(task), role=_role_of(task), result=result.result,
                                 no_log=no_log, ignored=ignored)

    def v2_runner_on_ok(self, result):
        self._ended(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._ended(result, "failed", ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._ended(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._ended(result, "unreachable")

    # ------------------------------------------------------------------ writing

    def _chain_sigterm(self):
        """On SIGTERM write the journal (interrupted), then let Ansible's own handler stop the run as before.
        (Ctrl-C ends the run through KeyboardInterrupt, where ``atexit`` writes it.)"""
        try:
            self._previous_sigterm = signal.getsignal(signal.SIGTERM)
            signal.signal(signal.SIGTERM, self._on_sigterm)
        except ValueError:  # not the main thread (an embedding program): atexit still writes
            self._previous_sigterm = None

    def _on_sigterm(self, signum, frame):
        self._write_if_interrupted()
        previous = self._previous_sigterm
        if callable(previous):
            previous(signum, frame)
        else:
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
            os.kill(os.getpid(), signum)

    def _encrypter(self):
        """None for a plain journal; text -> Ansible Vault bytes when the run encrypts its results."""
        if not boolean(self._encryption.get("chaos_report_encrypt", False), strict=False):
            return None
        password_file = self._encryption.get("chaos_report_vault_password_file")
        if not password_file:
            raise ChaosError("no chaos_report_vault_password_file is given")
        # pylint: disable-next=import-outside-toplevel
        from ansible_collections.sutazai.chaos.plugins.module_utils._report_load import encrypt, vault_secret_from_file

        secret = vault_secret_from_file(password_file)
        return lambda text: encrypt(text, secret)

    def _write_if_interrupted(self):
        if self._journal is not None and not self._written:
            self._journal.interrupt()
            self._write({}, finished=False)

    def _write(self, stats, finished):
        if self._written:
            return
        self._written = True
        journal = self._journal
        if not journal.has_collection_tasks and not self.get_option("always"):
            return
        folder = journal_dir(self.get_option("dir"), journal.result_dirs, self._report_dir, journal.playbook)
        document = journal.document(time.time(), stats, finished,
                                    {"ansible_core_version": ansible_core_version,
                                     "collection_version": collection_version()})
        try:
            encrypt = self._encrypter()
        except ChaosError as error:
            self._display.warning("sutazai.chaos.chaos_journal: the run's results are encrypted, but %s: no journal "
                                  "was written (never a plain copy of them)" % error)
            return
        try:
            path = write_atomic(folder, journal_name(journal.run_id), document, encrypt)
        except (OSError, TypeError, ValueError) as error:
            self._display.warning("sutazai.chaos.chaos_journal: the run journal could not be written to %s (%s); "
                                  "the run itself is not affected" % (folder, error))
            return
        self._display.vv("sutazai.chaos.chaos_journal: run journal %s" % path)
