#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: chaos_metrics
short_description: Record a chaos experiment's outcome as Prometheus metrics and a Grafana annotation
version_added: 0.1.0
description:
  - Records one experiment run (O(phase=end), from the lifecycle's result) or marks one as in progress
    (O(phase=start)), and sends the figures to a Prometheus Pushgateway, to node_exporter's textfile collector
    folder, or both; with O(grafana_url) it also adds a region annotation over the fault window.
  - B(Counters accumulate on the host.) A Pushgateway push replaces the whole group and a textfile is rewritten
    whole, so the running totals live in C(<state_dir>/metrics/<experiment>.json) (one section per
    O(instance); locked with C(flock), replaced atomically) and every push sends the totals rebuilt from that
    file. A result already counted (same C(experiment_id)) is not counted again. Deleting that file restarts
    the counters at 0, which Prometheus reads as a counter reset.
  - Pushgateway groups are C({job, instance, experiment}) for the experiment's series and C({job, instance})
    for the host's (C(chaos_faults_active), C(chaos_faults_overdue), C(chaos_metrics_last_push_timestamp_seconds)).
    In the textfile folder the files are C(sutazai_chaos_<experiment>.prom), whose series carry an
    C(experiment) label, and C(sutazai_chaos_host.prom).
  - Series, with their labels - C(chaos_experiments_total{kind,service,verdict}) (all four verdicts V(PASS),
    V(FAIL), V(ABORTED), V(ERROR) present from the first record), C(chaos_experiments_success_total{kind,service}),
    C(chaos_recovery_time_seconds{kind,service}) (histogram, buckets 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800
    seconds and +Inf; a run without C(recovery_seconds) is not observed), C(chaos_system_health_score),
    C(chaos_cascade_depth{kind,service}), C(chaos_availability_during_fault_ratio{kind,service}),
    C(chaos_service_availability_ratio{service}) (per watched service), C(chaos_experiment_in_progress{kind,service}),
    C(chaos_experiment_start_timestamp_seconds{kind,service}), C(chaos_experiment_end_timestamp_seconds{kind,service}),
    C(chaos_fault_window_start_timestamp_seconds{kind,service}),
    C(chaos_fault_window_end_timestamp_seconds{kind,service}) and C(chaos_experiment_last_success{kind,service}).
    Gauges whose figure is null in the last result are left out.
  - B(Stale groups.) The Pushgateway never forgets a group by itself. Remove a retired experiment's group (and
    its textfile) with O(delete_group=true); an alert on the Pushgateway's own C(push_time_seconds) finds groups
    nobody pushes any more.
  - Runs on the host whose ledger it reads for the host figures (the default, not delegated), so
    C(prometheus-client) must be installed there.
  - With O(required=false) (the default) a sink that fails (a Pushgateway that does not answer, a textfile folder
    that is missing or not writable, Grafana refusing the token, a URL that is not C(http(s)://host...)) is a
    warning and the task succeeds with that sink's C(sent)/C(written) false and its C(error); the counts are still
    kept and go out with the next push.
author:
  - sutazai.chaos maintainers (!UNKNOWN)
requirements:
  - prometheus-client (Python library, on the host that runs the module) for O(pushgateway_url) and O(textfile_dir)
attributes:
  check_mode:
    support: full
    description: Builds the exposition and reports what would be sent; sends, writes and counts nothing.
  diff_mode:
    support: none
    description: No diff is returned; RV(metrics.exposition) shows what is sent.
  idempotent:
    support: partial
    description:
      - A result already counted (same C(experiment_id)) is not counted again and its fault window is not
        annotated twice; but every run pushes the group again (a new C(push_time_seconds)), rewrites the
        textfiles and reports C(changed).
options:
  result:
    description:
      - The experiment's result dict as the lifecycle writes it (C(experiment_id), C(experiment), C(kind), C(hit),
        C(verdict), C(recovery_seconds), C(cascade_depth), C(health_score_after), C(availability_during_fault),
        C(injected_at), C(fault_ended_at), C(spread), C(observed_from)).
      - Required with O(phase=end), unless O(delete_group=true).
    type: dict
  phase:
    description:
      - V(start) marks the experiment in progress (C(chaos_experiment_in_progress) 1, its start time) and needs
        O(experiment), O(kind) and O(service).
      - V(end) records the outcome from O(result) and sets C(chaos_experiment_in_progress) back to 0 for every
        series of the experiment on this instance.
    type: str
    choices: [start, end]
    default: end
  experiment:
    description:
      - The experiment's name (the C(experiment) grouping key and state file name).
      - Default from O(result) - C(experiment.name), else C(experiment_id) without its trailing
        C(-YYYYMMDDTHHMMSS-xxxxxx). Characters other than letters, digits, C(_), C(.) and C(-) become C(-);
        the name V(host) is refused (it is the host figures' textfile).
    type: str
  kind:
    description: The C(kind) label (fault kind). Default from O(result) C(kind), else V(none).
    type: str
  service:
    description: The C(service) label (the faulted service). Default the first hit's C(service) in O(result), else V(none).
    type: str
  started_at:
    description: With O(phase=start), when the experiment started (epoch seconds). Default now.
    type: float
  instance:
    description: The C(instance) grouping key, usually C(inventory_hostname).
    type: str
    required: true
  pushgateway_url:
    description: Base URL of the Pushgateway, C(http(s)://host[:port][/path]).
    type: str
  pushgateway_job:
    description: The C(job) grouping key.
    type: str
    default: sutazai_chaos
  pushgateway_username:
    description: User for HTTP basic authentication at the Pushgateway.
    type: str
  pushgateway_password:
    description: Password for HTTP basic authentication at the Pushgateway.
    type: str
  pushgateway_headers:
    description: Extra HTTP headers for the Pushgateway (a bearer token, a tenant header).
    type: dict
  timeout:
    description: Seconds to wait for each HTTP request (Pushgateway and Grafana).
    type: float
    default: 5.0
  validate_certs:
    description: Check the TLS certificates of C(https) URLs.
    type: bool
    default: true
  textfile_dir:
    description: node_exporter's textfile collector folder (C(--collector.textfile.directory)); it must exist.
    type: path
  grafana_url:
    description:
      - Base URL of Grafana. With O(phase=end) and a result with C(injected_at), a region annotation is posted to
        C(/api/annotations) from C(injected_at) to C(fault_ended_at) (now when null), tagged V(sutazai-chaos),
        C(experiment:<name>), C(kind:<kind>) and C(target:<service>).
    type: str
  grafana_token:
    description: Grafana service account token, sent as an C(Authorization) header with the C(Bearer) scheme.
    type: str
  grafana_dashboard_uid:
    description: Attach the annotation to this dashboard; without it the annotation is organisation-wide.
    type: str
  delete_group:
    description:
      - Delete the experiment's Pushgateway group C({job, instance, experiment}) and its textfile instead of
        recording. The state file is kept, so the counters continue if the experiment runs again.
    type: bool
    default: false
  required:
    description:
      - When true, a sink that fails (or a bad URL or folder) fails the task with its reason.
      - When false, it is a warning and the task succeeds.
    type: bool
    default: false
  state_dir:
    description: Folder on the host of the ledger (read for the host figures) and of the C(metrics/) state files.
    type: path
    default: /var/lib/sutazai-chaos
notes:
  - If none of O(pushgateway_url), O(textfile_dir) and O(grafana_url) is given, the module does nothing and
    reports C(changed=false).
seealso:
  - name: Pushgateway README
    description: Grouping keys, PUT versus POST, and why groups are never forgotten.
    link: https://github.com/prometheus/pushgateway/blob/master/README.md
  - name: Grafana annotations HTTP API
    description: The request the region annotation makes.
    link: https://grafana.com/docs/grafana/latest/developers/http_api/annotations/
  - module: sutazai.chaos.chaos_ledger_info
"""

EXAMPLES = r"""
- name: Experiment starts
  sutazai.chaos.chaos_metrics:
    phase: start
    experiment: redis-crash
    kind: container
    service: redis
    instance: "{{ inventory_hostname }}"
    pushgateway_url: http://pushgateway.example.com:9091

- name: Record the outcome (Pushgateway, textfile and a Grafana region)
  sutazai.chaos.chaos_metrics:
    result: "{{ experiment_result }}"
    instance: "{{ inventory_hostname }}"
    pushgateway_url: http://pushgateway.example.com:9091
    textfile_dir: /var/lib/prometheus/node-exporter
    grafana_url: https://grafana.example.com
    grafana_token: "{{ vault_grafana_token }}"
    grafana_dashboard_uid: sutazai-chaos

- name: Retire an experiment's Pushgateway group
  sutazai.chaos.chaos_metrics:
    experiment: old-experiment
    delete_group: true
    instance: "{{ inventory_hostname }}"
    pushgateway_url: http://pushgateway.example.com:9091
"""

RETURN = r"""
msg:
  description: Why nothing was done (no sink configured).
  returned: when no sink is configured
  type: str
  sample: "metrics are off: no pushgateway_url, textfile_dir or grafana_url"
metrics:
  description: What was recorded and sent.
  returned: always
  type: dict
  contains:
    enabled:
      description: Whether any sink was configured.
      type: bool
      returned: always
    experiment:
      description: The experiment name used (null when metrics are off).
      type: str
      returned: always
      sample: container-kill
    counted:
      description: Whether this call added the result to the counters (false for O(phase=start) and for a result
        counted before).
      type: bool
      returned: when enabled
    state_file:
      description: The file that keeps the counters.
      type: str
      returned: when enabled
      sample: /var/lib/sutazai-chaos/metrics/container-kill.json
    exposition:
      description: The experiment's and the host's series in the text format, as written to the textfiles.
      type: dict
      returned: when O(pushgateway_url) or O(textfile_dir) is usable and O(delete_group=false)
      contains:
        experiment:
          description: The experiment's series (with an C(experiment) label).
          type: str
        host:
          description: The host's series (null when the ledger could not be read).
          type: str
    pushgateway:
      description: The Pushgateway sink.
      type: dict
      returned: when enabled
      contains:
        sent:
          description: Whether every group was pushed (or deleted).
          type: bool
        url:
          description: The Pushgateway URL.
          type: str
        groups:
          description: Grouping keys pushed (or deleted), with C(job).
          type: list
          elements: dict
          sample: [{"job": "sutazai_chaos", "instance": "web1", "experiment": "container-kill"},
                   {"job": "sutazai_chaos", "instance": "web1"}]
        deleted:
          description: Whether the experiment group was deleted (O(delete_group=true)).
          type: bool
        error:
          description: Why it was not sent (null when it was).
          type: str
    textfile:
      description: The textfile sink.
      type: dict
      returned: when enabled
      contains:
        written:
          description: Whether the files were written.
          type: bool
        paths:
          description: The files written (or, with O(delete_group=true), the file removed).
          type: list
          elements: str
        deleted:
          description: Whether the experiment's textfile was removed (O(delete_group=true)).
          type: bool
        error:
          description: Why they were not written (null when they were).
          type: str
    grafana:
      description: The Grafana annotation.
      type: dict
      returned: when enabled
      contains:
        sent:
          description: Whether the annotation was posted.
          type: bool
        id:
          description: Grafana's id of the annotation.
          type: int
        skipped:
          description: Why no annotation was due (no C(injected_at), or the run was annotated before).
          type: str
        error:
          description: Why it was not posted (null when it was or was not due).
          type: str
"""

from ansible.module_utils.basic import missing_required_lib

from ..module_utils._common import ChaosError
from ..module_utils._ledger import DEFAULT_STATE_DIR
from ..module_utils._metrics import DEFAULT_JOB, HAS_PROMETHEUS_CLIENT, PROMETHEUS_CLIENT_IMPORT_ERROR, record
from ..module_utils._module import build_module, exit_or_fail
from ..module_utils._redact import url_secrets

OWN_SPEC = dict(
    result=dict(type="dict"),
    phase=dict(type="str", choices=["start", "end"], default="end"),
    experiment=dict(type="str"),
    kind=dict(type="str"),
    service=dict(type="str"),
    started_at=dict(type="float"),
    instance=dict(type="str", required=True),
    # no_log so that a task refused by Ansible's validation shows no credentials; main() shows them again but
    # for their secret parts
    pushgateway_url=dict(type="str", no_log=True),
    pushgateway_job=dict(type="str", default=DEFAULT_JOB),
    pushgateway_username=dict(type="str"),
    pushgateway_password=dict(type="str", no_log=True),
    pushgateway_headers=dict(type="dict", no_log=True),
    timeout=dict(type="float", default=5.0),
    validate_certs=dict(type="bool", default=True),
    textfile_dir=dict(type="path"),
    grafana_url=dict(type="str", no_log=True),
    grafana_token=dict(type="str", no_log=True),
    grafana_dashboard_uid=dict(type="str"),
    delete_group=dict(type="bool", default=False),
    required=dict(type="bool", default=False),
    state_dir=dict(type="path", default=DEFAULT_STATE_DIR),
)


def main():
    module = build_module(OWN_SPEC, supports_check_mode=True,
                          required_together=[("pushgateway_username", "pushgateway_password")])
    params = module.params
    for option in ("pushgateway_url", "grafana_url"):  # refused with credentials, but never shown with them
        module.no_log_values.discard(params[option])
        module.no_log_values.update(url_secrets(params[option]))
    needs_library = params["pushgateway_url"] or params["textfile_dir"]
    if needs_library and params["required"] and not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg=missing_required_lib("prometheus-client") + " Nothing was changed.",
                         exception=PROMETHEUS_CLIENT_IMPORT_ERROR)

    def body():
        if params["timeout"] <= 0:
            raise ChaosError("timeout must be above 0 seconds, got %s. Nothing was changed." % params["timeout"])
        outcome = record(params, check_mode=module.check_mode)
        for warning in outcome.pop("warnings"):
            module.warn(warning)
        return outcome

    exit_or_fail(module, body)


if __name__ == "__main__":
    main()
