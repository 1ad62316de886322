# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Experiment outcomes as Prometheus metrics: accumulated state, exposition, Pushgateway and textfile sinks.

A Pushgateway PUT replaces a whole group and a textfile is rewritten whole, so the counters are kept on
the host, in ``<state_dir>/metrics/<experiment>.json`` (one section per instance), and every push sends
the totals built afresh from that file. A result already counted (same ``experiment_id``) is not
counted again. The file is locked with ``flock`` and replaced atomically, like the ledger.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import time
import traceback

from ansible.module_utils.basic import missing_required_lib

from ._common import ChaosError
from ._grafana import HTTP_ERRORS, SinkError, annotate_run, check_url, http_failure, push_handler
from ._ledger import DEFAULT_STATE_DIR, Ledger, LedgerError
from ._redact import redact_url

try:
    from prometheus_client import CollectorRegistry, delete_from_gateway, generate_latest, push_to_gateway
    from prometheus_client import write_to_textfile
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
    from prometheus_client.utils import floatToGoString
except ImportError:
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMPORT_ERROR = None

DEFAULT_JOB = "sutazai_chaos"
VERDICTS = ("PASS", "FAIL", "ABORTED", "ERROR")
BUCKETS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)  # and +Inf
OVERDUE_GRACE_SECONDS = 30.0
RECORDED_KEPT = 200
HOST_TEXTFILE = "sutazai_chaos_host.prom"
NO_LABEL = "none"
_RUN_SUFFIX = re.compile(r"-\d{8}T\d{6}-[0-9a-f]{6}$")
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_.-]+")

HELP = {
    "chaos_experiments_total": "Chaos experiment runs recorded, by fault kind, target service and verdict.",
    "chaos_experiments_success_total": "Chaos experiment runs recorded with verdict PASS.",
    "chaos_recovery_time_seconds": "Seconds from the fault to recovery, per recorded run that measured it.",
    "chaos_system_health_score": "Share of watched services healthy after the last run (0..1).",
    "chaos_cascade_depth": "Dependency depth the last run's fault reached.",
    "chaos_availability_during_fault_ratio": "Availability of the watched services during the last run's fault.",
    "chaos_service_availability_ratio": "Availability of each watched service during the last run (0..1).",
    "chaos_experiment_in_progress": "1 while the experiment runs (between its start and end records), else 0.",
    "chaos_experiment_start_timestamp_seconds": "When the last run started (epoch seconds).",
    "chaos_experiment_end_timestamp_seconds": "When the last run was recorded as ended (epoch seconds).",
    "chaos_fault_window_start_timestamp_seconds": "When the last run injected its fault (epoch seconds).",
    "chaos_fault_window_end_timestamp_seconds": "When the last run's fault ended (epoch seconds).",
    "chaos_experiment_last_success": "1 when the last run's verdict was PASS, else 0.",
    "chaos_faults_active": "Faults active on this host now (ledger entries not yet undone).",
    "chaos_faults_overdue": "Active faults whose deadline passed more than 30 seconds ago.",
    "chaos_metrics_last_push_timestamp_seconds": "When sutazai.chaos last sent these metrics (epoch seconds).",
}
# Per-series gauges taken from the state: metric name -> series field.
_SERIES_GAUGES = (
    ("chaos_cascade_depth", "cascade_depth"),
    ("chaos_availability_during_fault_ratio", "availability_during_fault"),
    ("chaos_experiment_in_progress", "in_progress"),
    ("chaos_experiment_start_timestamp_seconds", "started_at"),
    ("chaos_experiment_end_timestamp_seconds", "ended_at"),
    ("chaos_fault_window_start_timestamp_seconds", "fault_started_at"),
    ("chaos_fault_window_end_timestamp_seconds", "fault_ended_at"),
    ("chaos_experiment_last_success", "last_success"),
)


# ------------------------------------------------------------------ names and numbers

def experiment_name(given=None, result=None):
    """The experiment's metric name: ``given``, else result.experiment.name, else the run id without its
    ``-YYYYMMDDTHHMMSS-xxxxxx`` suffix. Characters other than letters, digits, ``_ . -`` become ``-``."""
    result = result or {}
    candidate = given
    if not candidate and isinstance(result.get("experiment"), dict):
        candidate = result["experiment"].get("name")
    if not candidate and result.get("experiment_id"):
        candidate = _RUN_SUFFIX.sub("", str(result["experiment_id"]))
    name = _NOT_IN_NAME.sub("-", str(candidate or "")).strip("-.")[:100]
    if not name:
        raise ChaosError("cannot name the experiment: give experiment, or a result with experiment.name or "
                         "experiment_id. Nothing was changed.")
    if name == "host":
        raise ChaosError("experiment may not be called 'host': %s is the host figures' textfile. Nothing was "
                         "changed." % HOST_TEXTFILE)
    return name


def series_key(result=None, kind=None, service=None):
    """(kind, service) label values: the options, else result.kind and the first hit's service, else 'none'."""
    result = result or {}
    hits = result.get("hit") if isinstance(result.get("hit"), list) else []
    first = hits[0] if hits and isinstance(hits[0], dict) else {}
    kind = kind or result.get("kind") or NO_LABEL
    service = service or first.get("service") or NO_LABEL
    return str(kind), str(service)


def _number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _ratio(value):
    value = _number(value)
    return value if value is not None and 0.0 <= value <= 1.0 else None


# ------------------------------------------------------------------ accumulated state

class MetricsState:
    """``<state_dir>/metrics/<experiment>.json``: ``{"version": 1, "buckets": [...], "instances": {...}}``."""

    def __init__(self, state_dir, experiment):
        self.folder = os.path.join(state_dir or DEFAULT_STATE_DIR, "metrics")
        self.path = os.path.join(self.folder, experiment + ".json")

    @contextlib.contextmanager
    def locked(self, create=True):
        """Hold ``<experiment>.lock``; check mode (``create=False``) only reads, which the atomic replace allows."""
        if not create:
            yield
            return
        try:
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            lock = open(self.path[:-len(".json")] + ".lock", "a")
        except OSError as exc:
            raise ChaosError("cannot use the metrics state folder %s: %s. Nothing was changed." % (self.folder, exc))
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def load(self, warnings, move_aside=True):
        """The state; an unreadable file is moved aside (``.corrupt-<time>``) with a warning: counting restarts."""
        fresh = {"version": 1, "buckets": list(BUCKETS), "instances": {}}
        try:
            with open(self.path) as handle:
                data = json.load(handle)
            if not isinstance(data, dict) or not isinstance(data.get("instances"), dict):
                raise ValueError("not a sutazai.chaos metrics state")
        except FileNotFoundError:
            return fresh
        except (OSError, ValueError) as exc:
            aside = "%s.corrupt-%d" % (self.path, int(time.time()))
            if move_aside:
                with contextlib.suppress(OSError):
                    os.replace(self.path, aside)
            warnings.append("the metrics state %s was unreadable (%s)%s; counting starts again from 0" % (
                self.path, exc, ", moved to " + aside if move_aside else ""))
            return fresh
        if data.get("buckets") != list(BUCKETS):
            warnings.append("recovery buckets changed since %s was written; the recovery histogram restarts"
                            % self.path)
            data["buckets"] = list(BUCKETS)
            for instance in data["instances"].values():
                for series in instance.get("series", []):
                    series["recovery"] = _empty_recovery()
        return data

    def save(self, data):
        tmp = "%s.%d.tmp" % (self.path, os.getpid())
        try:
            with open(tmp, "w") as handle:
                json.dump(data, handle, indent=1, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise ChaosError("cannot write the metrics state %s: %s. Nothing was sent." % (self.path, exc))


def _empty_recovery():
    return {"counts": [0] * (len(BUCKETS) + 1), "sum": 0.0}


def _series(instance, kind, service):
    for series in instance["series"]:
        if series["kind"] == kind and series["service"] == service:
            return series
    series = {"kind": kind, "service": service, "verdicts": dict.fromkeys(VERDICTS, 0),
              "recovery": _empty_recovery(), "in_progress": 0}
    instance["series"].append(series)
    return series


def instance_state(data, instance):
    return data["instances"].setdefault(
        instance, {"series": [], "health_score": None, "service_availability": {}, "recorded": []})


def start_run(instance, kind, service, started_at):
    series = _series(instance, kind, service)
    series.update(in_progress=1, started_at=float(started_at))


def end_run(instance, result, kind, service, now, warnings):
    """Count one finished run into the state; False when this experiment_id was counted before."""
    run_id = result.get("experiment_id")
    started = [s["started_at"] for s in instance["series"] if s.get("in_progress") and s.get("started_at")]
    for series in instance["series"]:
        series["in_progress"] = 0
    if run_id is not None and any(entry[0] == run_id for entry in instance["recorded"]):
        return False
    verdict = result.get("verdict")
    if verdict not in VERDICTS:
        warnings.append("verdict %r is none of %s; counted as ERROR" % (verdict, "/".join(VERDICTS)))
        verdict = "ERROR"
    series = _series(instance, kind, service)
    series["verdicts"][verdict] += 1
    recovery = _number(result.get("recovery_seconds"))
    if recovery is not None and recovery >= 0:
        index = next((i for i, bound in enumerate(BUCKETS) if recovery <= bound), len(BUCKETS))
        series["recovery"]["counts"][index] += 1
        series["recovery"]["sum"] += recovery
    injected_at = _number(result.get("injected_at"))
    series.update(
        started_at=max(started) if started else _number(result.get("observed_from")) or injected_at or now,
        ended_at=now, fault_started_at=injected_at, fault_ended_at=_number(result.get("fault_ended_at")),
        cascade_depth=_number(result.get("cascade_depth")),
        availability_during_fault=_ratio(result.get("availability_during_fault")),
        last_success=1 if verdict == "PASS" else 0)
    spread = result.get("spread") if isinstance(result.get("spread"), dict) else {}
    per_service = spread.get("per_service") if isinstance(spread.get("per_service"), dict) else {}
    availability = {str(svc): _ratio((figures or {}).get("availability")) for svc, figures in per_service.items()
                    if isinstance(figures, dict)}
    instance["service_availability"] = {svc: value for svc, value in availability.items() if value is not None}
    instance["health_score"] = _ratio(result.get("health_score_after"))
    if run_id is not None:
        instance["recorded"] = (instance["recorded"] + [[run_id, False]])[-RECORDED_KEPT:]
    return True


# ------------------------------------------------------------------ exposition

def experiment_families(instance, extra=None):
    """Metric families of one experiment on one instance; ``extra`` labels (the textfile's experiment)."""
    extra = dict(extra or {})
    names, values = list(extra), list(extra.values())
    families = []

    def family(cls, name, labels, samples, **kwargs):
        fam = cls(name, HELP[name], labels=labels + names)
        for label_values, value in samples:
            if kwargs.get("histogram"):
                fam.add_metric(label_values + values, buckets=value[0], sum_value=value[1])
            else:
                fam.add_metric(label_values + values, value)
        if fam.samples:
            families.append(fam)

    series = sorted(instance["series"], key=lambda s: (s["kind"], s["service"]))
    key = ["kind", "service"]
    family(CounterMetricFamily, "chaos_experiments_total", key + ["verdict"],
           [([s["kind"], s["service"], v], s["verdicts"].get(v, 0)) for s in series for v in VERDICTS])
    family(CounterMetricFamily, "chaos_experiments_success_total", key,
           [([s["kind"], s["service"]], s["verdicts"].get("PASS", 0)) for s in series])
    family(HistogramMetricFamily, "chaos_recovery_time_seconds", key,
           [([s["kind"], s["service"]], _histogram(s["recovery"])) for s in series], histogram=True)
    if instance.get("health_score") is not None:
        family(GaugeMetricFamily, "chaos_system_health_score", [], [([], instance["health_score"])])
    for name, field in _SERIES_GAUGES:
        family(GaugeMetricFamily, name, key,
               [([s["kind"], s["service"]], s[field]) for s in series if s.get(field) is not None])
    family(GaugeMetricFamily, "chaos_service_availability_ratio", ["service"],
           [([svc], value) for svc, value in sorted(instance.get("service_availability", {}).items())])
    return families


def _histogram(recovery):
    buckets, total = [], 0
    for bound, count in zip(BUCKETS + (float("inf"),), recovery["counts"]):
        total += count
        buckets.append((floatToGoString(bound), total))
    return buckets, recovery["sum"]


def host_families(active, overdue, now):
    families = []
    for name, value in (("chaos_faults_active", active), ("chaos_faults_overdue", overdue),
                        ("chaos_metrics_last_push_timestamp_seconds", now)):
        fam = GaugeMetricFamily(name, HELP[name])
        fam.add_metric([], value)
        families.append(fam)
    return families


class _Families:
    """A collector of families built beforehand."""

    def __init__(self, families):
        self.collect = lambda: iter(families)


def registry_of(families):
    """A registry that yields the families built beforehand (a fresh one per push: a PUT replaces the group)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return registry


def host_figures(state_dir, now):
    """(active, overdue) faults in this host's ledger."""
    active = Ledger(state_dir or DEFAULT_STATE_DIR).entries()
    overdue = [e for e in active if _number(e.get("deadline")) is not None
               and e["deadline"] < now - OVERDUE_GRACE_SECONDS]
    return len(active), len(overdue)


# ------------------------------------------------------------------ sinks

def send_groups(url, job, groups, timeout, handler):
    """PUT each (grouping_key, registry); a registry of None DELETEs the group. SinkError on the first failure."""
    for grouping_key, registry in groups:
        try:
            if registry is None:
                delete_from_gateway(url, job, grouping_key=grouping_key, timeout=timeout, handler=handler)
            else:
                push_to_gateway(url, job, registry, grouping_key=grouping_key, timeout=timeout, handler=handler)
        except HTTP_ERRORS as exc:
            raise SinkError(http_failure(exc, "the Pushgateway at %s" % url))


def check_textfile_dir(folder, option="textfile_dir"):
    """The folder; SinkError unless it is a writable folder."""
    if not os.path.isdir(folder):
        raise SinkError("%s %s is not a folder (node_exporter's --collector.textfile.directory)" % (option, folder))
    if not os.access(folder, os.W_OK | os.X_OK):
        raise SinkError("%s %s is not writable for this user" % (option, folder))
    return folder


# ------------------------------------------------------------------ one record

def record(params, check_mode=False, now=None):
    """Record one phase of one experiment and send it; returns the module result (with ``warnings``).

    Raises ChaosError for bad input, and, when ``params['required']``, for any sink failure.
    """
    if not (params.get("pushgateway_url") or params.get("textfile_dir") or params.get("grafana_url")):
        return {"changed": False, "warnings": [], "metrics": {"enabled": False, "experiment": None},
                "msg": "metrics are off: no pushgateway_url, textfile_dir or grafana_url"}
    return _Run(params, check_mode, time.time() if now is None else now).record()


class _Run:
    """One call of the module: the checked input, the report and the sinks' errors."""

    def __init__(self, params, check_mode, now):
        self.params, self.check_mode, self.now = params, check_mode, now
        result, phase, self.delete = params.get("result"), params.get("phase") or "end", params.get("delete_group")
        if result is not None and not isinstance(result, dict):
            raise ChaosError("result must be the experiment's result dict. Nothing was changed.")
        if phase == "end" and not self.delete and not result:
            raise ChaosError("phase=end needs result (the experiment's result dict). Nothing was changed.")
        missing = [o for o in ("experiment", "kind", "service") if not params.get(o)]
        if phase == "start" and not self.delete and missing:
            raise ChaosError("phase=start needs %s. Nothing was changed." % ", ".join(missing))
        if not params.get("instance"):
            raise ChaosError("instance (the grouping key, usually inventory_hostname) is required. Nothing was "
                             "changed.")
        self.result, self.phase = result or {}, phase
        self.experiment = experiment_name(params.get("experiment"), result)
        self.kind, self.service = series_key(result, params.get("kind"), params.get("service"))
        self.errors, self.warnings = [], []
        self.report = {"enabled": True, "experiment": self.experiment, "counted": False, "state_file": None,
                       "pushgateway": {"sent": False, "url": redact_url(params.get("pushgateway_url")), "groups": [],
                                       "error": None},
                       "textfile": {"written": False, "paths": [], "error": None},
                       "grafana": {"sent": False, "id": None, "error": None, "skipped": None}}
        self.usable = {}
        for sink, option, check in (("pushgateway", "pushgateway_url", check_url), ("grafana", "grafana_url", check_url),
                                    ("textfile", "textfile_dir", check_textfile_dir)):
            if params.get(option) and sink != "grafana" and not HAS_PROMETHEUS_CLIENT:
                self.failed(sink, missing_required_lib("prometheus-client"))
            elif params.get(option):
                try:
                    self.usable[sink] = check(params[option], option)
                except SinkError as exc:
                    self.failed(sink, exc.msg)
        if self.errors and params.get("required"):
            raise ChaosError("metrics not sent: %s. Nothing was changed." % "; ".join(self.errors))

    def failed(self, sink, reason):
        self.report[sink]["error"] = reason
        self.errors.append(reason)

    def record(self):
        store = MetricsState(self.params.get("state_dir"), self.experiment)
        self.report["state_file"] = store.path
        with store.locked(create=not self.check_mode):
            data = store.load(self.warnings, move_aside=not self.check_mode)
            instance = instance_state(data, self.params["instance"])
            before = json.dumps(data, sort_keys=True)
            if self.delete:
                pass
            elif self.phase == "start":
                start_run(instance, self.kind, self.service, self.params.get("started_at") or self.now)
            else:
                self.report["counted"] = end_run(instance, self.result, self.kind, self.service, self.now,
                                                 self.warnings)
            changed = json.dumps(data, sort_keys=True) != before
            if changed and not self.check_mode:
                store.save(data)
            changed |= self.send(instance)
            if self.phase == "end" and not self.delete and "grafana" in self.usable and self.annotate(instance):
                changed = True
                if not self.check_mode:
                    store.save(data)  # the run is marked annotated
        if self.errors and self.params.get("required"):
            raise ChaosError("metrics not fully sent: %s. The counts are kept in %s and go out with the next "
                             "push." % ("; ".join(self.errors), store.path), changed=changed, metrics=self.report)
        return {"changed": changed, "warnings": self.warnings + self.errors, "metrics": self.report}

    def send(self, instance):
        """The Pushgateway and textfile sinks; True when something was (or, in check mode, would be) sent."""
        if not ("pushgateway" in self.usable or "textfile" in self.usable):
            return False
        instance_key, host = {"instance": self.params["instance"]}, None
        groups = [(dict(instance_key, experiment=self.experiment),
                   None if self.delete else registry_of(experiment_families(instance)))]
        labelled = registry_of(experiment_families(instance, {"experiment": self.experiment}))
        if not self.delete:
            try:
                host = registry_of(host_families(*host_figures(self.params.get("state_dir"), self.now), now=self.now))
                groups.append((instance_key, host))
            except LedgerError as exc:
                self.errors.append("host figures left out: ledger: %s" % exc.msg)
            self.report["exposition"] = {"experiment": generate_latest(labelled).decode("utf-8"),
                                         "host": generate_latest(host).decode("utf-8") if host else None}
        pushed = "pushgateway" in self.usable and self.push(groups)
        written = "textfile" in self.usable and self.write(labelled, host)
        return pushed or written

    def push(self, groups):
        params, report = self.params, self.report["pushgateway"]
        job = params.get("pushgateway_job") or DEFAULT_JOB
        report.update(url=self.usable["pushgateway"], deleted=False,
                      groups=[dict(key, job=job) for key, _registry in groups])
        if self.check_mode:
            return True
        handler = push_handler(params.get("pushgateway_username"), params.get("pushgateway_password"),
                               params.get("pushgateway_headers"), params.get("validate_certs", True))
        try:
            send_groups(self.usable["pushgateway"], job, groups, params.get("timeout") or 5.0, handler)
        except SinkError as exc:
            self.failed("pushgateway", exc.msg)
            return False
        report.update(sent=True, deleted=bool(self.delete))
        return True

    def write(self, labelled, host):
        folder = self.usable["textfile"]
        exp_path, host_path = os.path.join(folder, "sutazai_chaos_%s.prom" % self.experiment), os.path.join(
            folder, HOST_TEXTFILE)
        report = self.report["textfile"]
        if self.delete:
            present = os.path.exists(exp_path)
            report.update(paths=[exp_path], deleted=present and not self.check_mode)
            if present and not self.check_mode:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(exp_path)
            return present
        report["paths"] = [exp_path] if host is None else [exp_path, host_path]
        if self.check_mode:
            return True
        try:
            write_to_textfile(exp_path, labelled)
            if host is not None:
                write_to_textfile(host_path, host)
        except OSError as exc:
            self.failed("textfile", "cannot write the textfile in %s: %s" % (folder, exc))
            return False
        report["written"] = True
        return True

    def annotate(self, instance):
        run_id = self.result.get("experiment_id")
        recorded = next((e for e in instance["recorded"] if run_id is not None and e[0] == run_id), None)
        try:
            return annotate_run(self.report["grafana"], self.usable["grafana"], self.params, self.result,
                                (self.experiment, self.kind, self.service), recorded, self.now, self.check_mode)
        except SinkError as exc:
            self.failed("grafana", exc.msg)
            return False
