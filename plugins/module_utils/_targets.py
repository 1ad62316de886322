# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Choosing containers: match a selector, drop excluded and protected ones, pick, cap.

Works on plain container summaries (see ``_docker.container_summary``) so that it
can be tested without an engine.
"""

from __future__ import annotations

import fnmatch
import math
import random
import re

from ._common import NOTHING_CHANGED, ChaosError

PROTECTED_LABEL = "sutazai.chaos.protected"
# Names the service of a container that is not a compose service (a plain ``docker run``).
SERVICE_LABEL = "sutazai.chaos.service"
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"

SELECTION_ARG_SPEC = dict(
    targets=dict(
        type="dict",
        options=dict(
            names=dict(type="list", elements="str"),
            name_regex=dict(type="str"),
            labels=dict(type="dict"),
            compose_project=dict(type="str"),
            compose_services=dict(type="list", elements="str"),
            services=dict(type="list", elements="str"),
        ),
    ),
    exclude=dict(type="list", elements="str", default=[]),
    protected=dict(type="list", elements="str", default=[]),
    select=dict(
        type="dict",
        default={},
        options=dict(
            mode=dict(type="str", default="all", choices=["all", "one", "count", "percent"]),
            value=dict(type="float"),
            seed=dict(type="str"),
        ),
    ),
    max_targets=dict(type="int"),
    allow_empty=dict(type="bool", default=False),
)


def service_name(labels, name):
    """A container's one service name: its compose service, else its SERVICE_LABEL, else its name."""
    return labels.get(COMPOSE_SERVICE_LABEL) or labels.get(SERVICE_LABEL) or name


def service_of(container):
    """The ``service`` of a container record; records written before it existed fall back to the rule."""
    return container.get("service") or container.get("compose_service") or \
        service_name(container.get("labels") or {}, container["name"])


def _has_glob(pattern):
    return any(ch in pattern for ch in "*?[")


def _name_matches(container, pattern):
    """A name pattern matches the container name, an id prefix, or the service (see ``service_name``)."""
    if _has_glob(pattern):
        return fnmatch.fnmatchcase(container["name"], pattern)
    return (
        container["name"] == pattern
        or (len(pattern) >= 12 and container["id"].startswith(pattern))
        or service_of(container) == pattern
    )


def _matches_selector(container, targets, regex):
    names = targets.get("names")
    if names and not any(_name_matches(container, n) for n in names):
        return False
    if regex is not None and not regex.search(container["name"]):
        return False
    labels = targets.get("labels") or {}
    if any(container["labels"].get(k) != str(v) for k, v in labels.items()):
        return False
    project = targets.get("compose_project")
    if project and container.get("compose_project") != project:
        return False
    services = targets.get("compose_services")
    if services and container.get("compose_service") not in services:
        return False
    services = targets.get("services")
    if services and service_of(container) not in services:
        return False
    return True


def is_protected(container, protected):
    if str(container["labels"].get(PROTECTED_LABEL, "")).lower() in ("true", "yes", "1"):
        return True
    return any(_name_matches(container, p) for p in protected)


def _explicitly_named(container, targets):
    named = [n for n in (targets.get("names") or []) if not _has_glob(n)]
    named += targets.get("compose_services") or []
    named += targets.get("services") or []
    return any(_name_matches(container, n) for n in named)


def _validate(targets, select):
    criteria = ("names", "name_regex", "labels", "compose_project", "compose_services", "services")
    if not targets or not any(targets.get(k) for k in criteria):
        raise ChaosError(
            "targets needs at least one of %s (an empty selector would hit every container). %s"
            % (", ".join(criteria), NOTHING_CHANGED)
        )
    mode, value = select.get("mode") or "all", select.get("value")
    if mode == "count" and (value is None or value < 1 or value != int(value)):
        raise ChaosError("select.value must be a whole number of at least 1 for mode count, got %s. %s"
                         % (value, NOTHING_CHANGED))
    if mode == "percent" and (value is None or not 0 <= value <= 100):
        raise ChaosError("select.value must be a percentage between 0 and 100 for mode percent, got %s. %s"
                         % (value, NOTHING_CHANGED))
    try:
        return re.compile(targets["name_regex"]) if targets.get("name_regex") else None
    except (re.error, OverflowError, RecursionError) as exc:
        raise ChaosError("targets.name_regex %r is not a valid regular expression: %s. %s"
                         % (targets["name_regex"], exc, NOTHING_CHANGED))


def pick(candidates, select):
    """Apply ``select`` (all/one/count/percent, optional seed) to candidates sorted by name."""
    mode, value = select.get("mode") or "all", select.get("value")
    ordered = sorted(candidates, key=lambda c: (c["name"], c["id"]))
    if mode == "all":
        return ordered
    if mode == "one":
        wanted = 1
    elif mode == "count":
        wanted = int(value)
    else:
        wanted = math.floor(len(ordered) * value / 100.0)
        if value > 0:
            wanted = max(1, wanted)
    wanted = min(wanted, len(ordered))
    seed = select.get("seed")
    rng = random.Random(seed) if seed is not None else random.SystemRandom()
    chosen = rng.sample(ordered, wanted)
    return sorted(chosen, key=lambda c: (c["name"], c["id"]))


def select_targets(containers, params, states=None, check_protection=True):
    """Return ``(selected, report)`` or raise ChaosError.

    ``states`` limits candidates to containers in those states (e.g. running).
    The report lists what was matched, skipped as protected/excluded/not in state.
    """
    targets = params.get("targets") or {}
    select = params.get("select") or {}
    regex = _validate(targets, select)
    protected = params.get("protected") or []
    exclude = params.get("exclude") or []

    matched = [c for c in containers if _matches_selector(c, targets, regex)]
    report = {"matched": [c["name"] for c in matched], "protected_skipped": [], "excluded": [],
              "wrong_state": []}
    candidates = []
    for container in matched:
        if check_protection and is_protected(container, protected):
            if _explicitly_named(container, targets):
                raise ChaosError(
                    "container %s is protected (listed in protected, or labelled %s=true) and cannot be a "
                    "target. %s" % (container["name"], PROTECTED_LABEL, NOTHING_CHANGED)
                )
            report["protected_skipped"].append(container["name"])
        elif any(_name_matches(container, pattern) for pattern in exclude):
            report["excluded"].append(container["name"])
        elif states is not None and container["status"] not in states:
            report["wrong_state"].append("%s (%s)" % (container["name"], container["status"]))
        else:
            candidates.append(container)

    _check_named_exist(containers, targets)
    selected = pick(candidates, select)
    if not selected and not params.get("allow_empty"):
        raise ChaosError(
            "the selector matched no container that can be a target (matched: %s; protected: %s; excluded: %s; "
            "not in state %s: %s). Set allow_empty=true to accept an empty selection. %s"
            % (report["matched"] or "none", report["protected_skipped"] or "none", report["excluded"] or "none",
               "/".join(states or []) or "any", report["wrong_state"] or "none", NOTHING_CHANGED)
        )
    cap = params.get("max_targets")
    if cap is not None and len(selected) > cap:
        raise ChaosError(
            "the selection has %d targets, above max_targets %d (blast-radius limit): %s. %s"
            % (len(selected), cap, ", ".join(c["name"] for c in selected), NOTHING_CHANGED)
        )
    return selected, report


def _check_named_exist(containers, targets):
    """An exact name that matches no container at all is a typo: say so instead of selecting nothing."""
    for name in targets.get("names") or []:
        if not _has_glob(name) and not any(_name_matches(c, name) for c in containers):
            raise ChaosError("no container named %r exists on this engine. %s" % (name, NOTHING_CHANGED))
