# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Experiment reports on the controller: one result file as HTML and Markdown, or a results folder with its
trend page (index.html). Every file is written whole or not at all (temporary files in dest, then renamed)."""

from __future__ import annotations

import json
import os
import re
import tempfile

from ansible.plugins.action import ActionBase
from ansible_collections.sutazai.chaos.plugins.plugin_utils._action import validated_args
from ansible_collections.sutazai.chaos.plugins.module_utils._common import ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._redact import redact_text
from ansible_collections.sutazai.chaos.plugins.module_utils._report_experiment import render_html, render_markdown
from ansible_collections.sutazai.chaos.plugins.module_utils._report_load import (
    check_result,
    encrypt,
    load_result,
    load_results,
    since_epoch,
    started_at,
    vault_secret_from_file,
)
from ansible_collections.sutazai.chaos.plugins.modules.chaos_report import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
    REQUIRED_BY,
)

NOTHING = "Nothing was written."
RENDERERS = {"html": (".html", render_html), "markdown": (".md", render_markdown)}
SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$")
REPORT_MODE = 0o644
ENCRYPTED_MODE = 0o600  # an encrypted file is its owner's alone, as ansible-vault leaves it


def report_name(result, source):
    """The report's base name: the experiment id when it is a plain file name (it becomes one)."""
    experiment_id = result.get("experiment_id")
    if not isinstance(experiment_id, str) or not SAFE_NAME.match(experiment_id) or ".." in experiment_id:
        raise ChaosError("%s: experiment_id %r is not a plain file name (letters, digits, '.', '_', '-'), so no "
                         "report can be named after it" % (source, experiment_id))
    return experiment_id


def writable_dest(dest):
    """``dest`` made (when missing) and checked writable, or a ChaosError saying why it is not."""
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise ChaosError("dest %s is not a folder" % dest)
    try:
        os.makedirs(dest, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise ChaosError("cannot make the report folder %s: %s" % (dest, exc.strerror or exc)) from None
    if not os.access(dest, os.W_OK | os.X_OK):
        raise ChaosError("the report folder %s cannot be written (no write permission)" % dest)
    return dest


def write_all(dest, files, mode=REPORT_MODE):
    """Write ``{name: bytes}`` into ``dest`` all or nothing: every temporary file first, then the renames."""
    staged = []
    try:
        for name, data in files.items():
            handle, temporary = tempfile.mkstemp(dir=dest, prefix=".%s." % name, suffix=".tmp")
            staged.append((temporary, os.path.join(dest, name)))
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, mode)
    except OSError as exc:
        for temporary, dummy in staged:
            if os.path.exists(temporary):
                os.unlink(temporary)
        raise ChaosError("cannot write the reports to %s: %s" % (dest, exc.strerror or exc)) from None
    for temporary, final in staged:
        os.replace(temporary, final)
    return [final for dummy, final in staged]


def experiment_files(result, name, formats, secret):
    """{file name: bytes} of one result's reports in ``formats`` (vault-encrypted with ``secret``)."""
    files = {}
    for fmt in formats:
        suffix, render = RENDERERS[fmt]
        text = render(result)
        files[name + suffix] = encrypt(text, secret) if secret is not None else text.encode("utf-8")
    return files


def report_file(args, secret, write):
    """Reports of one result file."""
    src = args["src"]
    result = load_result(src, secret)
    name = report_name(result, src)
    dest = args["dest"] or os.path.dirname(os.path.abspath(src))
    files = experiment_files(result, name, args["formats"], secret if args["encrypt"] else None)
    paths = {fmt: os.path.join(dest, name + RENDERERS[fmt][0]) for fmt in args["formats"]}
    if write:
        write_all(writable_dest(dest), files, ENCRYPTED_MODE if args["encrypt"] else REPORT_MODE)
    answer = {"verdict": result.get("verdict"), "experiment_id": result.get("experiment_id"), "dest": dest,
              "files": sorted(os.path.join(dest, n) for n in files), "encrypted": bool(args["encrypt"])}
    answer.update(paths)
    answer["msg"] = "%s: %s, report%s %s" % (name, result.get("verdict"), "s" if len(files) > 1 else "",
                                             ", ".join(sorted(answer["files"])))
    return answer


def report_result(args, secret, write):
    """A result given as data: its file <dest>/<experiment_id>.json and its reports, written together."""
    result = check_result(args["result"], "the result")
    name = report_name(result, "the result")
    dest = args["dest"]
    text = json.dumps(result, indent=4, sort_keys=True) + "\n"
    files = {name + ".json": encrypt(text, secret) if args["encrypt"] else text.encode("utf-8")}
    warnings = []
    try:
        files.update(experiment_files(result, name, args["formats"], secret if args["encrypt"] else None))
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # a report that cannot be drawn must never cost the result itself: it is written alone, with a warning
        warnings.append("the reports of %s could not be rendered (%s: %s); the result file is written"
                        % (name, type(exc).__name__, redact_text(str(exc))))
    if write:
        write_all(writable_dest(dest), files, ENCRYPTED_MODE if args["encrypt"] else REPORT_MODE)
    answer = {"verdict": result.get("verdict"), "experiment_id": result.get("experiment_id"), "dest": dest,
              "result_file": os.path.join(dest, name + ".json"), "files": sorted(os.path.join(dest, n) for n in files),
              "encrypted": bool(args["encrypt"])}
    answer.update({fmt: os.path.join(dest, name + RENDERERS[fmt][0]) for fmt in args["formats"]
                   if name + RENDERERS[fmt][0] in files})
    answer["msg"] = "%s: %s, written %s" % (name, result.get("verdict"), ", ".join(answer["files"]))
    if warnings:
        answer["warnings"] = warnings
    return answer


def report_folder(args, secret, write):
    """Reports of every result in a folder (from ``since`` on) and, with ``index``, the trend page over them."""
    src = args["src"]
    dest = args["dest"] or src
    results, problems = load_results(src, vault_secret=secret)  # the trend page wants all: its stale list does
    since_at = since_epoch(args["since"])
    recent = [r for r in results if since_at is None or (started_at(r) is not None and started_at(r) >= since_at)]
    files = {}
    for result in recent:
        try:
            files.update(experiment_files(result, report_name(result, src), args["formats"],
                                          secret if args["encrypt"] else None))
        except ChaosError as exc:
            problems.append({"file": src, "problem": exc.msg})
    index = os.path.join(dest, "index.html") if args["index"] is not False else None
    if index:
        from ansible_collections.sutazai.chaos.plugins.module_utils._report_trends import (  # pylint: disable=import-outside-toplevel
            render_index,
        )

        def index_page():
            page = render_index(results, problems, since=args["since"], now=None, folder=dest)
            return encrypt(page, secret) if args["encrypt"] else page.encode("utf-8")
        index_page()  # before anything is written: a page that cannot be made stops it all
    if write:
        mode = ENCRYPTED_MODE if args["encrypt"] else REPORT_MODE
        write_all(writable_dest(dest), files, mode)
        if index:
            write_all(dest, {"index.html": index_page()}, mode)  # again: it links the reports now written
    answer = {"dest": dest, "index": index, "results": len(results), "reports": len(recent),
              "files": sorted(os.path.join(dest, n) for n in files) + ([index] if index else []),
              "problems": problems, "encrypted": bool(args["encrypt"])}
    answer["msg"] = "%d result(s) in %s, %d report(s)%s written to %s%s" % (
        len(results), src, len(recent), " and the index" if index else "", dest,
        "; %d file(s) skipped" % len(problems) if problems else "")
    return answer


def make_reports(args, check_mode=False):
    """The action's answer for validated arguments; ChaosError for the user's mistakes (nothing written)."""
    if args["encrypt"] and not args["vault_password_file"]:
        raise ChaosError("encrypt needs vault_password_file (the password the reports are encrypted with)")
    if args["result"] is not None:
        if args["since"] or args["index"]:
            raise ChaosError("since and index are for a results folder, not for a result")
        secret = vault_secret_from_file(args["vault_password_file"]) if args["vault_password_file"] else None
        args = dict(args, dest=os.path.abspath(os.path.expanduser(args["dest"])),
                    formats=sorted(set(args["formats"]), key=list(RENDERERS).index))
        return dict(report_result(args, secret, not check_mode), changed=True)
    if not args["formats"] and not os.path.isdir(args["src"]):
        raise ChaosError("formats is empty: give html, markdown or both")
    args = dict(args, src=os.path.abspath(os.path.expanduser(args["src"])),
                dest=os.path.abspath(os.path.expanduser(args["dest"])) if args["dest"] else None,
                formats=sorted(set(args["formats"]), key=list(RENDERERS).index))
    if not os.path.exists(args["src"]):
        raise ChaosError("src %s does not exist (a result file, or a folder of them)" % args["src"])
    secret = vault_secret_from_file(args["vault_password_file"]) if args["vault_password_file"] else None
    if os.path.isdir(args["src"]):
        answer = report_folder(args, secret, not check_mode)
    else:
        if args["since"] or args["index"]:
            raise ChaosError("since and index are for a results folder; src %s is a file" % args["src"])
        answer = report_file(args, secret, not check_mode)
    answer["changed"] = True
    return answer


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args, failed = validated_args(self, ARGUMENT_SPEC, NOTHING, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                                      required_one_of=REQUIRED_ONE_OF, required_by=REQUIRED_BY)
        if failed:
            result.update(failed)
            return result
        try:
            result.update(make_reports(args, check_mode=bool(self._task.check_mode)))
        except ChaosError as exc:
            result.update(failed=True, msg="%s. %s" % (redact_text(exc.msg).rstrip("."), NOTHING))
        return result
