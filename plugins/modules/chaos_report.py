#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_report
short_description: An experiment's report as a self-contained HTML page with a fault timeline, and as Markdown
version_added: 0.4.0
author:
  - sutazai.chaos maintainers (!UNKNOWN)
description:
  - Runs on the controller and touches no host. It reads experiment results (C(results/<experiment_id>.json), as
    the experiment lifecycle writes them) and writes their reports.
  - "For a result file: C(<dest>/<experiment_id>.html) and C(<dest>/<experiment_id>.md). The HTML page is one file
    that loads nothing (no script, font, stylesheet or image from anywhere; its Content-Security-Policy forbids
    it): the hypothesis and the verdict at the top, then the timeline as inline SVG - the fault window as a shaded
    band, one lane per watched service with each poll coloured healthy, unhealthy or no answer, the injection,
    expiry, rollback and recovery marked, the time to recover drawn as a bracket (labelled C(at most) when it is
    an upper bound), an axis in seconds from the injection - then a table per service (availability, error rate,
    latency p50/p95/p99 before and during the fault, MTTR, cascade depth), the fault and its targets, the
    hypothesis checks and what was left active after the experiment."
  - "For a results folder: the reports of every result in it (from O(since) on) and, with O(index), the trend page
    C(<dest>/index.html) over all of them. Files named C(journal-*.json) are run journals, not results, and are
    passed over; a file that cannot be read is listed in RV(problems) and does not stop the others."
  - Every file is written whole or not at all (a temporary file in O(dest), then renamed). A folder that does not
    exist or is empty, a truncated or invalid JSON file, a result of a newer schema version, an encrypted result
    without the vault password, or a O(dest) that cannot be written fail with a message naming the file, and
    nothing is written.
options:
  src:
    description:
      - A result file (C(<experiment_id>.json)), or a folder of them.
      - One of O(src) and O(result) is required.
    type: path
  result:
    description:
      - An experiment result itself (the lifecycle's C(experiment_result)), written as C(<dest>/<experiment_id>.json)
        together with its reports, all in one step on the controller (no module run). Needs O(dest).
      - With O(encrypt), the result file is an Ansible Vault file too; result and reports are then mode 0600.
    type: dict
  dest:
    description: The folder the reports are written to (made when missing). Default the folder of O(src), or O(src)
      itself when it is a folder.
    type: path
  formats:
    description: The reports to write for each result.
    type: list
    elements: str
    choices: [html, markdown]
    default: [html, markdown]
  vault_password_file:
    description:
      - A file holding the Ansible Vault password (its first line). Needed to read results stored encrypted
        (C(chaos_report_encrypt)) and to write encrypted reports (O(encrypt)).
    type: path
  encrypt:
    description: Write the reports encrypted with Ansible Vault and the password of O(vault_password_file), so that
      C(ansible-vault view) opens them.
    type: bool
    default: false
  since:
    description:
      - For a folder, report the results from this time on - an age such as C(7d), C(36h), C(2w), or a date such
        as C(2026-12-01) or C(2026-12-01T08:00:00Z). Default all of them.
      - The trend page gets every result (its list of experiments not run for a long time looks further back) and
        O(since) for its rates and charts.
    type: str
  index:
    description: For a folder, also write the trend page C(index.html). Default true for a folder; a file has no
      index.
    type: bool
attributes:
  check_mode:
    description: Can run in check mode and return the paths it would write.
    support: full
    details: Reads and renders everything (so every error shows), writes nothing.
  diff_mode:
    description: Would return the changes it makes in diff mode.
    support: none
  idempotent:
    description: Would change nothing when run twice.
    support: none
    details: Each run writes the reports again (they carry the time they were made).
notes:
  - The trend page is made by the collection's trends module; the reports of a folder are written first, so that
    the page links them.
seealso:
  - module: sutazai.chaos.chaos_experiment
"""

EXAMPLES = r"""
- name: The report of one experiment
  sutazai.chaos.chaos_report:
    src: results/backend-pause-20261201T061121-9cc6de.json
  register: report

- name: Show where it is
  ansible.builtin.debug:
    msg: "{{ report.verdict }}: {{ report.html }}"

- name: Reports of the last week's results and the trend page, encrypted
  sutazai.chaos.chaos_report:
    src: results
    dest: reports
    since: 7d
    vault_password_file: ~/.chaos-vault-pass
    encrypt: true
"""

RETURN = r"""
result_file:
  description: With O(result), the path of the result file written (C(<dest>/<experiment_id>.json)).
  returned: when result is given
  type: str
html:
  description: The HTML report written.
  returned: src is a file and html is in formats
  type: str
  sample: results/backend-pause-20261201T061121-9cc6de.html
markdown:
  description: The Markdown report written.
  returned: src is a file and markdown is in formats
  type: str
  sample: results/backend-pause-20261201T061121-9cc6de.md
verdict:
  description: The experiment's verdict (PASS, FAIL, ABORTED or ERROR).
  returned: src is a file
  type: str
  sample: PASS
experiment_id:
  description: The experiment's id (the reports' base name).
  returned: src is a file
  type: str
index:
  description: The trend page written, or null without O(index).
  returned: src is a folder
  type: str
  sample: results/index.html
results:
  description: How many results the folder holds.
  returned: src is a folder
  type: int
reports:
  description: How many results got their reports (those from O(since) on).
  returned: src is a folder
  type: int
problems:
  description: The files of the folder skipped, each with C(file) and C(problem) (why).
  returned: src is a folder
  type: list
  elements: dict
files:
  description: Every file written (in check mode, that would be written).
  returned: success
  type: list
  elements: str
dest:
  description: The folder written to.
  returned: success
  type: str
encrypted:
  description: Whether the files were written Ansible Vault encrypted.
  returned: success
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    src=dict(type="path"),
    result=dict(type="dict"),
    dest=dict(type="path"),
    formats=dict(type="list", elements="str", choices=["html", "markdown"], default=["html", "markdown"]),
    vault_password_file=dict(type="path", no_log=False),
    encrypt=dict(type="bool", default=False),
    since=dict(type="str"),
    index=dict(type="bool"),
)


MUTUALLY_EXCLUSIVE = [("src", "result")]
REQUIRED_ONE_OF = [("src", "result")]
REQUIRED_BY = {"result": "dest"}


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           mutually_exclusive=MUTUALLY_EXCLUSIVE, required_one_of=REQUIRED_ONE_OF,
                           required_by=REQUIRED_BY)
    module.fail_json(msg="chaos_report runs as an action plugin on the controller; this file only documents it.")


if __name__ == "__main__":
    main()
