# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Property: whatever arguments a module gets, it ends in exit_json or fail_json, and a refused call
applies nothing (no mutating tc/iptables command, no signal, no fill, no engine call, no reaper, no
active ledger entry).

Every module's ``main()`` runs in-process; the host edges are mocks (see ``_fuzz_harness``) because the
point is validation. Real effects are tested in ``tests/integration``. The arguments are mostly malformed:
wrong types, NaN/inf, out-of-range numbers, bad regexes/URLs/signals/times/zones, unknown keys, missing
required options, nested dicts with wrong sub-options. When a drawn input happens to be valid, only "no
traceback" is checked (and "nothing applied" when it ran in check mode).
"""

from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _fuzz_harness import assert_clean, run_module

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

NAN, INF = math.nan, math.inf

# ------------------------------------------------------------------ building blocks

SCALAR_JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70), st.floats(),
    st.text(max_size=12), st.sampled_from(["", " ", "\x00", "yes", "NaN", "-1", "1e999", "ünïcødé", "☃" * 40]),
)
JUNK = st.one_of(
    SCALAR_JUNK,
    st.lists(SCALAR_JUNK, max_size=3),
    st.dictionaries(st.text(max_size=6), SCALAR_JUNK, max_size=3),
)
BAD_FLOATS = st.sampled_from([NAN, INF, -INF, -1.0, 0.0, -0.0, 1e9, 1e300, -1e300, 2 ** 63])
FLOATS = st.one_of(st.floats(), BAD_FLOATS, st.integers(-10, 10))
INTS = st.one_of(st.integers(-5, 100), st.sampled_from([-1, 0, 2 ** 31, 2 ** 63, -2 ** 63, 10 ** 30]))
PERCENT = st.one_of(st.floats(0, 100), BAD_FLOATS, st.sampled_from([100.0001, -0.1, 101, 1e9]))
SECONDS = st.one_of(st.floats(0.1, 60), BAD_FLOATS, st.sampled_from(["5", "x", "", "1e3"]))
TEXT = st.one_of(st.text(max_size=20), st.sampled_from(["", "\x00", "a\x00b", " ", "../..", "%s", "{{ x }}"]))
REGEX = st.sampled_from(["(", "[a-", "a{99999999999}", "a{4294967296}", "(?P<x", "\\", "*", "(?<=a+)b", "x" * 300,
                         "worker-.*", "demo_.*", "(a|", "(?i", "\\p{L}", "[[:alpha:]]", "a**", "(?P<n>a)(?P=m)"])
SIZES = st.one_of(
    st.sampled_from(["64M", "1G", "1.5GiB", "512k", "0", "-1M", "1e3M", "M", "", "9" * 400, "9" * 400 + "G",
                     "1" + "0" * 30 + "T", "١٢M", "1 XB", "0.0000001k", "inf", "nan", "1" * 20]),
    st.text(max_size=8))


def maybe(value):
    """A value of the option's type: good ones and edge ones (NaN, negative, bad regex...).

    Values of a wrong type are put in by ``subdict``, one or two options at a time, so that most examples
    get past ansible-core's type checks and reach the module's own validation.
    """
    return value


def subdict(draw, options, required=(), junk_chance=3):
    """A dict with a random subset of ``options`` (required ones mostly present); in about ``junk_chance``
    out of 10 examples one option gets a value of a wrong type, and in 1 of 10 an unknown key is added."""
    chosen = {}
    for key, strategy in options.items():
        keep = draw(st.integers(0, 9)) > 0 if key in required else draw(st.integers(0, 9)) < 4
        if keep:
            chosen[key] = draw(strategy)
    if options and draw(st.integers(0, 9)) < junk_chance:
        chosen[draw(st.sampled_from(sorted(options)))] = draw(JUNK)
    if draw(st.integers(0, 9)) == 0:
        chosen[draw(st.sampled_from(["bogus", "Duration", "", "state_dirr", "_ansible_foo"]))] = draw(JUNK)
    return chosen


def options(opts, required=(), junk_chance=1):
    return st.composite(lambda draw: subdict(draw, opts, required, junk_chance))()


def module_args(opts, required=(), extra=None):
    """Top-level args: options, plus the harness keys (state dir variant, check mode, diff)."""
    @st.composite
    def build(draw):
        args = subdict(draw, opts, required)
        args["_state_dir"] = draw(st.sampled_from(
            ["fresh"] * 8 + ["missing", "file", "corrupt", "bad\x00name", "x" * 300, "ünï cødé", "$HOME/x"]))
        args["_ansible_check_mode"] = draw(st.booleans())
        args["_ansible_diff"] = draw(st.booleans())
        for key, strategy in (extra or {}).items():
            args[key] = draw(strategy)
        return args
    return build()


def nested(opts, required=()):
    """A dict option with sub-options (good or bad ones)."""
    return options(opts, required)


DOCKER = {
    "docker_host": st.sampled_from(["unix:///var/run/docker.sock", "unix:///run/docker.sock", "tcp://127.0.0.1:1",
                                    "unix://[", "http://[::1", "", "\x00"]),
    "tls": maybe(st.booleans()),
    "validate_certs": maybe(st.booleans()),
    "timeout": maybe(INTS),
}
SELECTION = {
    "targets": nested({
        "names": maybe(st.lists(st.one_of(st.sampled_from(
            ["demo_web_1", "worker-*", "web", "db", "nope", "", "[", "0101010101010101"]), TEXT), max_size=3)),
        "name_regex": maybe(st.one_of(REGEX, TEXT)),
        "labels": maybe(st.dictionaries(st.sampled_from(["tier", "com.docker.compose.service", ""]),
                                        st.one_of(st.sampled_from(["worker", "web"]), SCALAR_JUNK), max_size=2)),
        "compose_project": maybe(st.sampled_from(["demo", "other", ""])),
        "compose_services": maybe(st.lists(st.sampled_from(["web", "db", "x", ""]), max_size=2)),
    }),
    "exclude": maybe(st.lists(TEXT, max_size=2)),
    "protected": maybe(st.lists(st.one_of(st.sampled_from(["demo_web_1", "web", "*"]), TEXT), max_size=2)),
    "select": nested({
        "mode": maybe(st.sampled_from(["all", "one", "count", "percent", "some", ""])),
        "value": maybe(st.one_of(FLOATS, PERCENT)),
        "seed": maybe(TEXT),
    }),
    "max_targets": maybe(INTS),
    "allow_empty": maybe(st.booleans()),
}
LEDGER = {"experiment_id": maybe(TEXT)}
LIFETIME = {"duration": maybe(SECONDS), "max_duration": maybe(SECONDS)}

# ------------------------------------------------------------------ per module

CONTAINER_CHAOS = module_args(dict(
    DOCKER, **SELECTION, **LEDGER, **LIFETIME,
    action=maybe(st.sampled_from(["kill", "stop", "restart", "pause", "unpause", "KILL", ""])),
    state=maybe(st.sampled_from(["present", "absent", "paused", ""])),
    signal=maybe(st.sampled_from(["SIGKILL", "KILL", "kill", "9", "0", "-9", "SIGFOO", "99999999999999999999",
                                  "９", "²", "", " ", "SIG_DFL", "SIG", "KILL\x00", "sigterm", "65", "SIGRTMIN"])),
    kill_mode=maybe(st.sampled_from(["host", "engine", "api"])),
    stop_timeout=maybe(INTS),
), required=("action",))

PROCESS_CHAOS = module_args(dict(
    DOCKER, **SELECTION, **LEDGER, **LIFETIME,
    action=maybe(st.sampled_from(["kill", "stop", "restart", "pause", ""])),
    state=maybe(st.sampled_from(["present", "absent", "stopped"])),
    process=nested({"name": maybe(st.one_of(st.sampled_from(["sleep", "sh", "gunicorn", "*", "[", ""]), TEXT)),
                    "pattern": maybe(st.one_of(REGEX, st.sampled_from(["^sleep", "app:main", ""]), TEXT))}),
    signal=maybe(st.sampled_from(["SIGKILL", "TERM", "15", "SIGSTOP", "TSTP", "0", "SIGFOO", "", "SIGCONT"])),
    restart_wait=maybe(FLOATS),
    allow_pid1=maybe(st.booleans()),
), required=("action",))

PERCENT_OPTS = {"percent": maybe(PERCENT), "correlation": maybe(PERCENT)}
NETWORK_CHAOS = module_args(dict(
    DOCKER, **SELECTION, **LEDGER, **LIFETIME,
    state=maybe(st.sampled_from(["present", "absent"])),
    interface=maybe(st.sampled_from(["eth0", "lo", "nope0", "", "eth0; rm -rf /", "-x"])),
    device=maybe(st.sampled_from(["eth0", "", "nope0"])),
    delay=nested({"ms": maybe(FLOATS), "jitter_ms": maybe(FLOATS), "correlation": maybe(PERCENT),
                  "distribution": maybe(st.sampled_from(["uniform", "normal", "pareto", "paretonormal", "cauchy"]))},
                 required=("ms",)),
    loss=nested(PERCENT_OPTS, required=("percent",)),
    duplicate=nested(PERCENT_OPTS, required=("percent",)),
    corrupt=nested(PERCENT_OPTS, required=("percent",)),
    reorder=nested(dict(PERCENT_OPTS, gap=maybe(INTS)), required=("percent",)),
    rate=maybe(st.one_of(st.sampled_from(["8mbit", "1gbit", "0kbit", "-1mbit", "1e3mbit", "fast", "9" * 400 + "mbit",
                                          "9" * 400, "١mbit", "1.5 kbit", ""]), TEXT)),
    limit=maybe(INTS),
    partition=nested({
        "peers": maybe(st.lists(st.sampled_from(["10.0.0.1", "172.17.0.0/16", "demo_db_1", "db", "::1", "nope",
                                                 "300.1.1.1", "", "10.0.0.0/33", "fe80::1%eth0"]), max_size=3)),
        "ports": maybe(st.lists(INTS, max_size=3)),
        "protocol": maybe(st.sampled_from(["tcp", "udp", "all", "icmp"])),
        "direction": maybe(st.sampled_from(["ingress", "egress", "both", "sideways"])),
        "action": maybe(st.sampled_from(["drop", "reject", "accept"])),
    }, required=("peers",)),
    destinations=nested({"cidrs": maybe(st.lists(st.sampled_from(["10.0.0.0/8", "::/0", "x", "", "1.2.3.4/40"]),
                                                 max_size=2)),
                         "ports": maybe(st.lists(INTS, max_size=2))}),
    protect_control_channel=maybe(st.booleans()),
    spare=nested({"ports": maybe(st.lists(INTS, max_size=2)),
                  "addresses": maybe(st.lists(st.sampled_from(["10.0.0.5", "::1", "x", "", "10.0.0.0/8"]),
                                              max_size=2))}),
), extra={"_netem": st.booleans()})

RESOURCE_STRESS = module_args(dict(
    DOCKER, **SELECTION, **LEDGER, **LIFETIME,
    state=maybe(st.sampled_from(["present", "absent"])),
    cpu=nested({"workers": maybe(INTS), "load": maybe(st.one_of(PERCENT, FLOATS))}),
    memory=nested({"bytes": maybe(SIZES), "percent": maybe(PERCENT), "workers": maybe(INTS)}),
    io=nested({"workers": maybe(INTS), "bytes": maybe(SIZES)}),
    disk_fill=nested({"path": maybe(st.sampled_from(["/tmp", "tmp", "/nonexistent", "/tmp\x00x", "", "/proc/self",
                                                    "/" + "x" * 5000])),
                      "size": maybe(SIZES), "percent": maybe(PERCENT)}),
    io_limit=nested({"device": maybe(st.sampled_from(["/dev/sda", "8:0", "x\x00", "", "999:999", "/dev/null",
                                                      "/nonexistent", "١:٠"])),
                     "read_bps": maybe(SIZES), "write_bps": maybe(SIZES),
                     "read_iops": maybe(INTS), "write_iops": maybe(INTS)}),
    max_cpu_percent=maybe(PERCENT),
    max_memory_percent=maybe(PERCENT),
))

ARGV = st.one_of(
    st.lists(st.one_of(st.sampled_from(["/usr/bin/touch", "touch", "/bin/rm", "-f", "/tmp/x", "rm -f", "", "\x00",
                                        "/bin/../bin/rm", "nonexistent-program", "/usr/bin/test"]), TEXT,
                       st.integers(-5, 5), st.booleans(), st.none()), max_size=4),
    st.sampled_from(["/bin/rm -f /tmp/x", "", "touch,/tmp/x"]), JUNK)
CUSTOM_FAULT = module_args(dict(
    DOCKER, **SELECTION, **LEDGER, **LIFETIME,
    state=maybe(st.sampled_from(["present", "absent", "active"])),
    inject=maybe(ARGV), undo=maybe(ARGV), check=maybe(ARGV),
    where=maybe(st.sampled_from(["host", "container", "vm", ""])),
    name=maybe(TEXT),
    command_timeout=maybe(FLOATS),
))


def mostly(good, bad):
    """Good values four times out of five (the application faults have many options: with one broken value
    each, hardly an input would get past validation to the sidecar start and the nat rules)."""
    return st.sampled_from([True] * 4 + [False]).flatmap(lambda is_good: good if is_good else bad)


def near_valid(base, opts, required=()):
    """A valid call (``base``) with a few of the module's own ``opts`` redrawn, good or broken, plus the harness
    keys; this is the branch that reaches the fault's apply path (and its rollback)."""
    @st.composite
    def build(draw):
        args = draw(base)
        args.update(subdict(draw, opts, required, junk_chance=2))
        args["_state_dir"] = draw(st.sampled_from(["fresh"] * 9 + ["corrupt"]))
        args["_ansible_check_mode"] = draw(st.booleans())
        args["_ansible_diff"] = draw(st.booleans())
        return args
    return build()


APP_TARGETS = st.fixed_dictionaries({"names": st.lists(st.sampled_from(["worker-a", "worker-*", "demo_web_1",
                                                                        "demo_*", "worker-b"]), min_size=1, max_size=2)})
HTTP_MATCH = {
    "methods": maybe(st.lists(st.one_of(st.sampled_from(["GET", "post", "", "G ET", "☃", "PATCH"]), TEXT),
                              max_size=3)),
    "path_prefix": maybe(st.one_of(st.sampled_from(["/api", "api", "", "/", "//x", "/\x00"]), TEXT)),
    "path_regex": maybe(st.one_of(REGEX, st.sampled_from(["^/api/.*", ""]), TEXT)),
    "headers": maybe(st.dictionaries(st.sampled_from(["X-Test", "user-agent", "", "☃", "a b"]),
                                     st.one_of(REGEX, TEXT, SCALAR_JUNK, st.lists(TEXT, max_size=2)), max_size=2)),
}
HTTP_OWN = dict(
    state=maybe(mostly(st.sampled_from(["present", "present", "absent"]), st.sampled_from(["active", ""]))),
    port=maybe(mostly(st.sampled_from([80, 8000, 8080, 9999]), st.one_of(st.sampled_from([0, 65535, 65536, -1,
                                                                                         2 ** 31]), INTS))),
    direction=maybe(mostly(st.sampled_from(["inbound", "outbound"]), st.sampled_from(["both", ""]))),
    destinations=maybe(st.lists(st.sampled_from(["10.0.0.0/8", "172.17.0.3", "demo_db_1", "db", "nope", "",
                                                 "300.1.1.1", "::1", "10.0.0.0/33"]), max_size=3)),
    match=nested(HTTP_MATCH),
    percent=maybe(mostly(st.floats(0, 100), st.one_of(PERCENT, st.sampled_from(["50", "x", "", "1e3"])))),
    seed=maybe(mostly(INTS, st.sampled_from(["42", "run-42", ""]))),
    delay_ms=maybe(st.one_of(INTS, st.sampled_from([1, 600000, 600001]))),
    abort=nested({"status": maybe(st.one_of(st.sampled_from([99, 100, 503, 599, 600, 0, -1, 10 ** 30]), INTS)),
                  "reset": maybe(st.booleans())}),
    replace_body=maybe(st.one_of(TEXT, st.sampled_from(['{"ok": false}', "☃" * 40, "x" * 5000]))),
)
HTTP_ACTIONS = ("delay_ms", "abort", "replace_body")
HTTP_VALID = st.tuples(
    st.fixed_dictionaries({"targets": APP_TARGETS, "port": st.sampled_from([80, 8080, 9999]),
                           "duration": st.floats(0.5, 60)}),
    st.one_of(st.fixed_dictionaries({"delay_ms": st.integers(1, 600000)}),
              st.fixed_dictionaries({"abort": st.one_of(st.fixed_dictionaries({"status": st.integers(100, 599)}),
                                                        st.just({"reset": True}))}),
              st.fixed_dictionaries({"replace_body": TEXT}))).map(lambda parts: dict(parts[0], **parts[1]))
HTTP_CHAOS = st.one_of(
    module_args(dict(DOCKER, **SELECTION, **LEDGER, **LIFETIME, **HTTP_OWN), required=("port", "targets", "duration")),
    # here match (often with headers) is mostly given: its checks come last, after the action's
    near_valid(HTTP_VALID, dict({k: v for k, v in HTTP_OWN.items() if k not in HTTP_ACTIONS},
                                match=nested(HTTP_MATCH, required=("headers",))), required=("match",)))

DNS_OWN = dict(
    state=maybe(mostly(st.sampled_from(["present", "present", "absent"]), st.sampled_from(["active", ""]))),
    names=maybe(st.one_of(st.lists(st.one_of(st.sampled_from(["redis", "*.internal", "api.test.", "[", "*", "",
                                                              " ", "a" * 300, "☃.test", "*.[a-"]), TEXT), max_size=3),
                          st.lists(st.just("n.test"), min_size=65, max_size=66))),
    answer=maybe(mostly(st.sampled_from(["nxdomain", "servfail", "address", "delay"]),
                        st.sampled_from(["NXDOMAIN", "refused", ""]))),
    address=maybe(st.sampled_from(["10.0.0.9", "::1", "fe80::1%eth0", "2001:db8::1", "300.1.1.1", "10.0.0.0/8",
                                   "", " 10.0.0.9 ", "localhost", "1.2.3", "\x00", "٠.٠.٠.٠"])),
    delay_ms=maybe(st.one_of(INTS, st.sampled_from([1, 30000, 30001]))),
    percent=maybe(mostly(st.floats(0, 100), st.one_of(PERCENT, st.sampled_from(["50", "x", ""])))),
    seed=maybe(TEXT),
)
DNS_VALID = st.tuples(
    st.fixed_dictionaries({"targets": APP_TARGETS, "duration": st.floats(0.5, 60),
                           "names": st.lists(st.sampled_from(["redis", "*.internal", "api.test."]), min_size=1,
                                             max_size=2)}),
    st.one_of(st.fixed_dictionaries({"answer": st.sampled_from(["nxdomain", "servfail"])}),
              st.fixed_dictionaries({"answer": st.just("address"),
                                     "address": st.sampled_from(["10.0.0.9", "2001:db8::1"])}),
              st.fixed_dictionaries({"answer": st.just("delay"), "delay_ms": st.integers(1, 30000)}))
).map(lambda parts: dict(parts[0], **parts[1]))
DNS_CHAOS = st.one_of(
    module_args(dict(DOCKER, **SELECTION, **LEDGER, **LIFETIME, **DNS_OWN),
                required=("names", "answer", "targets", "duration")),
    near_valid(DNS_VALID, {k: v for k, v in DNS_OWN.items() if k not in ("names", "answer")}))

PROBE = {
    "name": maybe(TEXT),
    "type": maybe(st.sampled_from(["http", "tcp", "container", "command", "prometheus", "udp", ""])),
    "url": maybe(st.sampled_from(["http://127.0.0.1:8080/health", "https://localhost/", "http://[", "ftp://x",
                                  "http://:99", "http://h:99999", "http://h:abc", "", "127.0.0.1:80", "http://"])),
    "method": maybe(st.sampled_from(["GET", "POST", "", "G ET"])),
    "headers": maybe(st.dictionaries(TEXT, SCALAR_JUNK, max_size=2)),
    "status": maybe(st.lists(INTS, max_size=2)),
    "body_regex": maybe(REGEX),
    "json_query": maybe(st.sampled_from(["status", "a.b[0]", "[", "", "   ", "foo[?bar==`1`]", "&&", "`"])),
    "expect": JUNK,
    "max_latency_ms": maybe(FLOATS),
    "validate_certs": maybe(st.booleans()),
    "host": maybe(st.sampled_from(["127.0.0.1", "", "::1", "\x00"])),
    "port": maybe(INTS),
    "container": maybe(st.sampled_from(["demo_web_1", "nope", ""])),
    "max_restarts": maybe(INTS),
    "argv": maybe(st.lists(st.sampled_from(["true", "", "/bin/false", "pg_isready", "-h"]), max_size=3)),
    "rc": maybe(INTS),
    "stdout_regex": maybe(REGEX),
    "prometheus_url": maybe(st.sampled_from(["http://127.0.0.1:9090", "http://[", "x"])),
    "query": maybe(st.sampled_from(["up", "", " ", "up{job=\"api\""])),
    "comparator": maybe(st.sampled_from(["<", "<=", ">", ">=", "==", "!=", "=<", ""])),
    "threshold": maybe(FLOATS),
}
POLL_SECONDS = st.one_of(st.floats(0.1, 20), st.sampled_from([NAN, INF, -INF, -1.0, 0.0, 0.05, "x"]))
HEALTH_PROBE = module_args(dict(
    DOCKER,
    probes=maybe(st.lists(maybe(options(PROBE, required=("type",))), max_size=3)),
    mode=maybe(st.sampled_from(["once", "until_healthy", "until_unhealthy", "sample", "forever"])),
    duration=maybe(POLL_SECONDS),
    abort_when=nested({"availability_below": maybe(FLOATS), "health_score_below": maybe(FLOATS),
                       "emergency_stop": maybe(st.booleans())}),
    interval=maybe(POLL_SECONDS),
    timeout=maybe(POLL_SECONDS),
    success_threshold=maybe(INTS),
    since=maybe(FLOATS),
    probe_timeout=maybe(FLOATS),
    fail_when_unhealthy=maybe(st.booleans()),
), required=("probes",))

ROLLBACK = module_args({"experiment_id": maybe(TEXT), "all": maybe(st.booleans())})
LEDGER_INFO = module_args({"experiment_id": maybe(TEXT), "include_done": maybe(st.booleans())})
EMERGENCY_STOP = module_args({"state": maybe(st.sampled_from(["present", "absent", "paused"])),
                              "reason": maybe(TEXT), "requested_by": maybe(TEXT)})
AUDIT_INFO = module_args({"experiment_id": maybe(TEXT), "kind": maybe(TEXT), "since": maybe(FLOATS),
                          "limit": maybe(INTS)},
                         extra={"_audit_lines": st.one_of(st.none(), st.lists(st.one_of(
                             st.sampled_from([b'{"time": 1, "kind": "x"}', b"[1]", b"\xff\xfe", b'{"time": "x"}',
                                              b'{"time": NaN}', b"null", b"{", b'{"undo": 1}']),
                             st.binary(max_size=20)), max_size=4))})

TIMES = st.sampled_from(["02:00", "23:59", "00:00", "24:00", "2:00", "02:60", "-1:00", "02:00:00", "", "٠٢:٠٠",
                         "noon", "02:00\n", "99999999999:00"])
ZONES = st.sampled_from(["UTC", "Europe/Berlin", "Mars/Olympus", "", "../../etc/passwd", "\x00", "America",
                         "utc", "Etc/GMT+14", "x" * 300, "/etc/localtime", "EST5EDT", "Europe/Berlin\n"])
NOW = st.sampled_from(["2024-03-31T01:30:00+00:00", "2024-03-31T01:30:00Z", "0001-01-01T00:00:00+01:00",
                       "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00", "9999-12-31T23:59:59", "yesterday", "",
                       "2024-02-30T00:00:00", "2024-03-31T01:30:00+25:00", "2024-03-31"])
CHAOS_GUARD = module_args(dict(
    DOCKER,
    # probes has no sub-option spec in chaos_guard: the module gets the raw dicts
    probes=maybe(st.lists(maybe(options(PROBE, required=("type",))), max_size=3)),
    min_healthy_ratio=maybe(FLOATS),
    probe_timeout=maybe(FLOATS),
    max_cpu_percent=maybe(PERCENT),
    cpu_sample_seconds=maybe(FLOATS),
    max_memory_percent=maybe(PERCENT),
    maintenance_windows=maybe(st.lists(maybe(options({
        "days": maybe(st.lists(st.sampled_from(["mon", "Sunday", "FRI", "funday", "", "0"]), max_size=3)),
        "start": maybe(TIMES), "end": maybe(TIMES), "timezone": maybe(ZONES)}, required=("start", "end"))),
        max_size=2)),
    require_window=maybe(st.booleans()),
    now=maybe(NOW),
    protected=maybe(st.lists(TEXT, max_size=2)),
    planned_targets=maybe(st.lists(st.sampled_from(["demo_web_1", "web", "db", "", "*"]), max_size=3)),
    planned_duration=maybe(FLOATS),
    safe_mode=maybe(st.booleans()),
    max_targets_in_safe_mode=maybe(INTS),
    max_duration_in_safe_mode=maybe(FLOATS),
    fail_on_unsafe=maybe(st.booleans()),
))

MODULE_ARGS = {
    "container_chaos": CONTAINER_CHAOS, "network_chaos": NETWORK_CHAOS, "resource_stress": RESOURCE_STRESS,
    "health_probe": HEALTH_PROBE, "chaos_rollback": ROLLBACK, "chaos_ledger_info": LEDGER_INFO,
    "chaos_guard": CHAOS_GUARD, "chaos_emergency_stop": EMERGENCY_STOP, "chaos_audit_info": AUDIT_INFO,
    "process_chaos": PROCESS_CHAOS,
    "custom_fault": CUSTOM_FAULT,
    "http_chaos": HTTP_CHAOS, "dns_chaos": DNS_CHAOS,
}


def _fuzz(name):
    @FUZZ
    @given(args=MODULE_ARGS[name])
    def test(args):
        assert_clean(run_module(name, args), check_mode=args.get("_ansible_check_mode", False))
    test.__name__ = "test_fuzz_%s" % name
    return test


test_fuzz_container_chaos = _fuzz("container_chaos")
test_fuzz_network_chaos = _fuzz("network_chaos")
test_fuzz_resource_stress = _fuzz("resource_stress")
test_fuzz_custom_fault = _fuzz("custom_fault")
test_fuzz_health_probe = _fuzz("health_probe")
test_fuzz_chaos_rollback = _fuzz("chaos_rollback")
test_fuzz_chaos_ledger_info = _fuzz("chaos_ledger_info")
test_fuzz_chaos_guard = _fuzz("chaos_guard")
test_fuzz_chaos_emergency_stop = _fuzz("chaos_emergency_stop")
test_fuzz_chaos_audit_info = _fuzz("chaos_audit_info")
test_fuzz_process_chaos = _fuzz("process_chaos")
test_fuzz_http_chaos = _fuzz("http_chaos")
test_fuzz_dns_chaos = _fuzz("dns_chaos")
