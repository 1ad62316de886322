#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_results
short_description: Retention of a results folder - list, remove or archive results older than a limit
version_added: 0.4.0
author:
  - sutazai.chaos maintainers (!UNKNOWN)
description:
  - Runs on the controller, on the folder the experiments write their results to (C(results/) of the
    collection by default, C(chaos_report_dir)).
  - By default a dry run - it lists the files older than O(prune_older_than) and changes nothing. With
    O(apply=true) it removes them; with O(archive) as well it first stores them in a new tar.gz archive (written
    under a temporary name, read back, then renamed), and removes them only once the archive is complete.
  - "Each file is dated by its own time: a result C(<experiment_id>.json) by its injection (its first
    observation, else the UTC time in its id; an encrypted result by the time in its id), its reports
    C(<experiment_id>.html) and C(.md) with it; a journal C(journal-<run id>.json) by its C(started_at) (else the
    time in its name); a report without its result by the time in its name."
  - Nothing else is touched - C(index.html), archives, folders, symbolic links, hidden temporary files and any
    other file stay. A file that has no time (RV(undated)) is kept.
  - A folder that does not exist, a limit that is not an age or a date, or an archive that exists already or
    cannot be written fails with a clear message and removes nothing.
options:
  path:
    description: The results folder.
    type: path
    required: true
  prune_older_than:
    description:
      - The limit - an age before now, a number and a unit (V(s), V(m), V(h), V(d), V(w), combined as in
        V(1w2d)), for example V(90d), V(12w), V(36h); or an ISO date such as V(2026-09-01) (UTC).
      - Files dated before it go.
    type: str
    required: true
  apply:
    description:
      - V(false) (the default) lists what would go and changes nothing.
      - V(true) removes the files (or archives then removes them, see O(archive)).
    type: bool
    default: false
  archive:
    description:
      - A new C(.tar.gz) (or C(.tgz)) file to store the files in before they are removed (mode 0600, the files
        at its top level). It must not exist; its folder must.
      - Used only with O(apply=true).
    type: path
  now:
    description:
      - The reference time, ISO 8601 (without an offset it is UTC). Default the controller's clock.
    type: str
attributes:
  check_mode:
    support: full
    description: In check mode nothing is removed or written; RV(changed) says whether O(apply=true) would change.
  diff_mode:
    support: none
    description: RV(files) lists what goes.
  idempotent:
    support: full
    description: A second run with the same limit finds nothing more to remove.
seealso:
  - module: sutazai.chaos.chaos_report
"""

EXAMPLES = r"""
- name: What would go after 90 days (a dry run)
  sutazai.chaos.chaos_results:
    path: "{{ playbook_dir }}/../results"
    prune_older_than: 90d
  register: retention

- name: Archive the results of before September, then remove them
  sutazai.chaos.chaos_results:
    path: /srv/chaos/results
    prune_older_than: "2026-09-01"
    apply: true
    archive: /srv/chaos/archive/results-before-2026-09.tar.gz
"""

RETURN = r"""
changed:
  description: Whether files were removed (in check mode - would be, with O(apply=true)). A dry run never changes.
  returned: always
  type: bool
dry_run:
  description: Whether nothing was to be changed (O(apply=false), or check mode).
  returned: always
  type: bool
files:
  description: The files older than the limit, oldest first - C(file) (name), C(path), C(kind) (result, report or
    journal), C(at) (epoch) and C(when) (UTC text).
  returned: always
  type: list
  elements: dict
  sample: [{file: redis-crash-20260801T020000-1a2b3c.json, kind: result, at: 1785549600.0,
            when: "2026-08-01 02:00 UTC", path: /srv/chaos/results/redis-crash-20260801T020000-1a2b3c.json}]
removed:
  description: The names of the files removed (empty in a dry run).
  returned: always
  type: list
  elements: str
archive:
  description: The archive written, or null.
  returned: always
  type: str
kept:
  description: How many dated files are newer than the limit and stay.
  returned: always
  type: int
undated:
  description: Names of result, report and journal files with no time to judge them by; they stay.
  returned: always
  type: list
  elements: str
cutoff:
  description: The limit as UTC text; files dated before it go.
  returned: always
  type: str
  sample: "2026-09-02 06:00 UTC"
path:
  description: The results folder, absolute.
  returned: always
  type: str
msg:
  description: What was done, or would be.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    prune_older_than=dict(type="str", required=True),
    apply=dict(type="bool", default=False),
    archive=dict(type="path"),
    now=dict(type="str"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    module.fail_json(msg="chaos_results runs as an action plugin on the controller; this file only documents it.")


if __name__ == "__main__":
    main()
