#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_notify
short_description: Tell webhooks (Slack, chat, incident tools) that a chaos experiment started, ended or was stopped
version_added: 0.1.0
description:
  - POSTs one JSON message to each of O(webhooks), all at once (one thread per webhook), so that several slow
    webhooks together cost one O(timeout), not one each.
  - 'The message has the same keys for every event (null when not known): C(event), C(tool) (V(sutazai.chaos)),
    C(experiment_id), C(experiment), C(host), C(verdict), C(reason), C(recovery_seconds), C(result) (the path of
    the result file C(results/<id>.json)), C(report) (the path of its HTML report C(results/<id>.html)),
    C(undone) (what a rollback or an emergency stop undid), C(at) (ISO 8601 time, UTC) and C(text): one line for
    people, which Slack incoming webhooks (and Mattermost, Rocket.Chat, Teams workflows...) show as it is.'
  - B(A webhook never fails the task.) A webhook that refuses the connection, answers an HTTP error or a
    redirect, has a name that does not resolve, does not answer within its timeout, or is given wrongly is a
    warning naming its URL (without its secrets) and its entry in RV(webhooks) says why; the task still
    succeeds. The task never waits longer than the largest webhook timeout (and a quarter of a second).
  - Secrets stay out of the output - the webhook entries are C(no_log); URLs are shown without their
    credentials, tokens and webhook path secrets, header values are never shown, and errors are redacted.
  - The experiment lifecycle (role C(sutazai.chaos.experiment)) calls it on the controller for every host when the
    inventory sets C(chaos_notify_webhooks); C(playbooks/emergency_stop.yml) calls it after the stop.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Builds the message and checks the webhooks; posts nothing.
  diff_mode:
    support: none
    description: Nothing to compare; RV(message) shows what is sent.
  idempotent:
    support: none
    description: Every run posts the message again.
options:
  webhooks:
    description:
      - Where to post. Each item is a URL (C(http://) or C(https://)), or a dict with C(url) (required),
        C(headers) (a dict, for example an C(Authorization) token), C(timeout) (seconds, default O(timeout)) and
        C(events) (the events this webhook wants; default all of them).
      - An empty list posts nothing.
    type: list
    elements: raw
    required: true
  event:
    description: What happened.
    type: str
    required: true
    choices: [experiment_started, experiment_ended, experiment_rolled_back, emergency_stop]
  experiment_id:
    description: The experiment's id.
    type: str
  experiment:
    description: The experiment's name.
    type: str
  host:
    description: The inventory host the experiment ran on (or that was stopped).
    type: str
  verdict:
    description: The verdict (V(PASS), V(FAIL), V(ABORTED), V(ERROR)), for V(experiment_ended).
    type: str
  reason:
    description: Why - the verdict's reason, the failure that made the experiment roll back, the emergency stop's reason.
    type: str
  recovery_seconds:
    description: The time to recover (MTTR) the experiment measured, in seconds.
    type: float
  result_path:
    description: The path of the experiment's result file (C(results/<id>.json)), sent as C(result).
    type: str
  report_path:
    description: The path (or URL) of the experiment's HTML report (C(results/<id>.html)), sent as C(report).
    type: str
  undone:
    description: What a rollback or an emergency stop undid, one item per fault (for example V(network on redis)).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait for each webhook (connection and answer) that does not set its own C(timeout).
    type: float
    default: 3.0
  validate_certs:
    description: Check the TLS certificates of C(https) webhooks.
    type: bool
    default: true
notes:
  - Proxies are taken from the environment (C(https_proxy), C(no_proxy)) as C(urllib) does. Redirects are not
    followed (a redirected POST would arrive as a GET without its message).
  - Run it on the controller (C(delegate_to) V(localhost)); the hosts under test need not reach the webhooks.
seealso:
  - name: Slack incoming webhooks
    description: The C(text) field is what Slack shows.
    link: https://api.slack.com/messaging/webhooks
  - module: sutazai.chaos.chaos_metrics
"""

EXAMPLES = r"""
- name: Tell the team channel that the experiment ended
  sutazai.chaos.chaos_notify:
    webhooks:
      - https://hooks.slack.com/services/T000/B000/XXXXXXXX
      - url: https://alerts.example.com/chaos
        headers:
          Authorization: "Bearer {{ vault_alerts_token }}"
        timeout: 2
        events: [experiment_ended, emergency_stop]
    event: experiment_ended
    experiment_id: "{{ experiment_result.experiment_id }}"
    experiment: redis-crash
    host: "{{ inventory_hostname }}"
    verdict: "{{ experiment_result.verdict }}"
    reason: "{{ experiment_result.reason }}"
    recovery_seconds: "{{ experiment_result.recovery_seconds }}"
    result_path: results/{{ experiment_result.experiment_id }}.json
    report_path: results/{{ experiment_result.experiment_id }}.html
  delegate_to: localhost
"""

RETURN = r"""
message:
  description: The JSON message posted (or, in check mode, that would be).
  returned: always
  type: dict
  sample:
    event: experiment_ended
    tool: sutazai.chaos
    experiment_id: redis-crash-20260101T101500-3fa2c1
    experiment: redis-crash
    host: docker1
    verdict: PASS
    reason: recovered in 1.4 s after the injection; every hypothesis check held
    recovery_seconds: 1.37
    result: /srv/chaos/results/redis-crash-20260101T101500-3fa2c1.json
    report: /srv/chaos/results/redis-crash-20260101T101500-3fa2c1.html
    undone: []
    at: "2026-01-01T10:15:42+00:00"
    text: "Chaos experiment redis-crash on docker1 ended: PASS, recovered in 1.4 s. Report: /srv/chaos/results/..."
webhooks:
  description: One entry per webhook, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The webhook's URL without its secrets.
      type: str
      sample: https://hooks.slack.com/services/T000/B000/********
    sent:
      description: Whether the webhook took the message (an HTTP 2xx answer).
      type: bool
    status:
      description: The HTTP status it answered (null when it did not answer).
      type: int
      sample: 200
    error:
      description: Why it did not take the message (redacted); null when it did or was skipped.
      type: str
      sample: connection refused
    seconds:
      description: How long the post took (or was waited for).
      type: float
      sample: 0.12
    skipped:
      description: Why nothing was posted to it (not subscribed to the event, check mode); null when it was.
      type: str
"""

from ..module_utils._module import build_module
from ..module_utils._notify import EVENTS, build_message, notify, secrets_of, warnings_for


def _leaves(value):
    """Every scalar in ``value`` as the string Ansible's no_log collects from it."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def main():
    module = build_module(
        dict(
            # no_log so that a task refused by Ansible's validation shows nothing of them; below, Ansible is made
            # to mask only their secrets (masking every leaf would hide each number with a timeout's digit in it)
            webhooks=dict(type="list", elements="raw", required=True, no_log=True),
            event=dict(type="str", required=True, choices=list(EVENTS)),
            experiment_id=dict(type="str"),
            experiment=dict(type="str"),
            host=dict(type="str"),
            verdict=dict(type="str"),
            reason=dict(type="str"),
            recovery_seconds=dict(type="float"),
            result_path=dict(type="str"),
            report_path=dict(type="str"),
            undone=dict(type="list", elements="str", default=[]),
            timeout=dict(type="float", default=3.0),
            validate_certs=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    secrets = secrets_of(params["webhooks"])
    module.no_log_values.difference_update(set(_leaves(params["webhooks"])) - secrets)
    module.no_log_values.update(secrets)
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be above 0 seconds, got %s. Nothing was posted." % params["timeout"])

    message = build_message(
        params["event"], experiment_id=params["experiment_id"], experiment=params["experiment"], host=params["host"],
        verdict=params["verdict"], reason=params["reason"], recovery_seconds=params["recovery_seconds"],
        result=params["result_path"], report=params["report_path"], undone=params["undone"])
    reports = notify(params["webhooks"], message, default_timeout=params["timeout"],
                     validate_certs=params["validate_certs"], check_mode=module.check_mode)
    for warning in warnings_for(reports, params["event"]):
        module.warn(warning)
    module.exit_json(changed=any(report["sent"] for report in reports), message=message, webhooks=reports)


if __name__ == "__main__":
    main()
