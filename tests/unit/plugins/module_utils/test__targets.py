# -*- coding: utf-8 -*-
# Copyright (c) sutazai.chaos contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.sutazai.chaos.plugins.module_utils._common import NOTHING_CHANGED, ChaosError
from ansible_collections.sutazai.chaos.plugins.module_utils._targets import (
    PROTECTED_LABEL,
    SERVICE_LABEL,
    is_protected,
    pick,
    select_targets,
    service_name,
    service_of,
)


def _container(name, status="running", labels=None, project=None, service=None, cid=None):
    labels = dict(labels or {})
    if project:
        labels["com.docker.compose.project"] = project
    if service:
        labels["com.docker.compose.service"] = service
    return {
        "id": cid or (name.encode().hex() * 8)[:64],
        "name": name,
        "labels": labels,
        "compose_project": project,
        "compose_service": service,
        "service": service_name(labels, name),
        "status": status,
        "pid": 1234,
        "restart_count": 0,
        "started_at": None,
    }


@pytest.fixture
def fleet():
    return [
        _container("demo-web-1", labels={"tier": "front"}, project="demo", service="web"),
        _container("demo-web-2", labels={"tier": "front"}, project="demo", service="web"),
        _container("demo-api-1", labels={"tier": "back"}, project="demo", service="api"),
        _container("demo-db-1", labels={"tier": "data", PROTECTED_LABEL: "true"}, project="demo", service="db"),
        _container("demo-cache-1", status="exited", labels={"tier": "back"}, project="demo", service="cache"),
        _container("other-web-1", labels={"tier": "front"}, project="other", service="web"),
        _container("lonely"),
    ]


def _names(selected):
    return [c["name"] for c in selected]


def _select(containers, targets, **params):
    params["targets"] = targets
    return select_targets(containers, params, states=params.pop("states", None))


# ------------------------------------------------------------------ selector criteria

@pytest.mark.parametrize(
    "targets, expected",
    [
        ({"names": ["lonely"]}, ["lonely"]),
        ({"names": ["demo-web-*"]}, ["demo-web-1", "demo-web-2"]),
        ({"names": ["*-web-?"]}, ["demo-web-1", "demo-web-2", "other-web-1"]),
        ({"names": ["demo-[a]pi-1"]}, ["demo-api-1"]),
        ({"names": ["api"]}, ["demo-api-1"]),  # a compose service name counts as a name
        ({"names": ["lonely", "demo-api-1"]}, ["demo-api-1", "lonely"]),
        ({"name_regex": "^demo-(web|api)"}, ["demo-api-1", "demo-web-1", "demo-web-2"]),
        ({"name_regex": "web"}, ["demo-web-1", "demo-web-2", "other-web-1"]),  # search, not match
        ({"labels": {"tier": "front"}}, ["demo-web-1", "demo-web-2", "other-web-1"]),
        ({"labels": {"tier": "back"}}, ["demo-api-1", "demo-cache-1"]),
        ({"compose_project": "demo"}, ["demo-api-1", "demo-cache-1", "demo-web-1", "demo-web-2"]),
        ({"compose_services": ["web"]}, ["demo-web-1", "demo-web-2", "other-web-1"]),
        ({"compose_services": ["web", "api"]}, ["demo-api-1", "demo-web-1", "demo-web-2", "other-web-1"]),
    ],
)
def test_each_criterion(fleet, targets, expected):
    selected, report = _select(fleet, targets, allow_empty=True)
    assert _names(selected) == expected
    assert sorted(report["matched"]) == sorted(
        expected + (["demo-db-1"] if "demo-db-1" in report["protected_skipped"] else []))


@pytest.mark.parametrize(
    "targets, expected",
    [
        ({"compose_project": "demo", "compose_services": ["web"]}, ["demo-web-1", "demo-web-2"]),
        ({"labels": {"tier": "front"}, "compose_project": "other"}, ["other-web-1"]),
        ({"names": ["*-web-*"], "name_regex": "2$"}, ["demo-web-2"]),
        ({"names": ["demo-*"], "labels": {"tier": "back"}, "compose_services": ["api"]}, ["demo-api-1"]),
        ({"labels": {"tier": "front", "missing": "x"}}, []),
        ({"compose_project": "other", "compose_services": ["api"]}, []),
    ],
)
def test_criteria_are_anded(fleet, targets, expected):
    selected, _report = _select(fleet, targets, allow_empty=True)
    assert _names(selected) == expected


def test_label_values_compare_as_strings():
    containers = [_container("a", labels={"replicas": "3"}), _container("b", labels={"replicas": "4"})]
    selected, _report = _select(containers, {"labels": {"replicas": 3}})
    assert _names(selected) == ["a"]


def test_glob_is_not_a_prefix_match(fleet):
    # "demo-web" is an exact name (no glob characters): it matches nothing, which is an error
    with pytest.raises(ChaosError, match="no container named 'demo-web' exists"):
        _select(fleet, {"names": ["demo-web"]})


def test_glob_matching_nothing_is_not_an_error_with_allow_empty(fleet):
    selected, _report = _select(fleet, {"names": ["nothing-*"]}, allow_empty=True)
    assert selected == []


def test_exact_unknown_name_is_an_error_even_with_allow_empty(fleet):
    with pytest.raises(ChaosError) as info:
        _select(fleet, {"names": ["lonely", "typo-1"]}, allow_empty=True)
    assert "typo-1" in info.value.msg
    assert NOTHING_CHANGED in info.value.msg


def test_id_prefix_of_12_characters_selects():
    target = _container("x", cid="0123456789ab" + "f" * 52)
    selected, _report = _select([target, _container("y")], {"names": ["0123456789ab"]})
    assert _names(selected) == ["x"]


def test_short_id_prefix_is_not_a_name():
    target = _container("x", cid="0123456789ab" + "f" * 52)
    with pytest.raises(ChaosError, match="no container named '01234'"):
        _select([target], {"names": ["01234"]})


def test_empty_selector_is_refused(fleet):
    for targets in (None, {}, {"names": [], "labels": {}}):
        with pytest.raises(ChaosError) as info:
            select_targets(fleet, {"targets": targets})
        assert "an empty selector would hit every container" in info.value.msg
        assert NOTHING_CHANGED in info.value.msg


# ------------------------------------------------------------------ protection, exclude, states

def test_protected_label_via_selector_is_skipped_and_reported(fleet):
    selected, report = _select(fleet, {"compose_project": "demo"}, states=["running"])
    assert _names(selected) == ["demo-api-1", "demo-web-1", "demo-web-2"]
    assert report["protected_skipped"] == ["demo-db-1"]
    assert report["wrong_state"] == ["demo-cache-1 (exited)"]


@pytest.mark.parametrize("value", ["true", "True", "yes", "1", "TRUE"])
def test_protected_label_truthy_values(value):
    assert is_protected(_container("a", labels={PROTECTED_LABEL: value}), [])


@pytest.mark.parametrize("value", ["false", "no", "0", ""])
def test_protected_label_falsy_values(value):
    assert not is_protected(_container("a", labels={PROTECTED_LABEL: value}), [])


@pytest.mark.parametrize(
    "protected, expected",
    [
        (["lonely"], True),
        (["lon*"], True),
        (["web"], False),
        ([], False),
    ],
)
def test_is_protected_by_list(protected, expected):
    assert is_protected(_container("lonely"), protected) is expected


def test_protected_by_list_skipped_when_matched_by_glob(fleet):
    selected, report = _select(fleet, {"names": ["demo-web-*"]}, protected=["demo-web-1"])
    assert _names(selected) == ["demo-web-2"]
    assert report["protected_skipped"] == ["demo-web-1"]


def test_protected_by_glob_skipped_and_reported(fleet):
    selected, report = _select(fleet, {"labels": {"tier": "front"}}, protected=["demo-*"])
    assert _names(selected) == ["other-web-1"]
    assert report["protected_skipped"] == ["demo-web-1", "demo-web-2"]


@pytest.mark.parametrize(
    "targets, protected",
    [
        ({"names": ["demo-db-1"]}, []),  # protected by label
        ({"names": ["lonely"]}, ["lonely"]),  # protected by list
        ({"names": ["lonely"]}, ["lon*"]),  # protected by glob
        ({"compose_services": ["db"]}, []),  # compose_services also names explicitly
        ({"names": ["db"]}, []),  # the service name as a name
    ],
)
def test_naming_a_protected_container_is_an_error(fleet, targets, protected):
    with pytest.raises(ChaosError) as info:
        _select(fleet, targets, protected=protected, allow_empty=True)
    assert "is protected" in info.value.msg
    assert NOTHING_CHANGED in info.value.msg


def test_check_protection_false_selects_protected(fleet):
    selected, report = select_targets(fleet, {"targets": {"names": ["demo-db-1"]}}, check_protection=False)
    assert _names(selected) == ["demo-db-1"]
    assert report["protected_skipped"] == []


@pytest.mark.parametrize(
    "exclude, expected",
    [
        (["demo-web-2"], ["demo-web-1", "other-web-1"]),
        (["demo-*"], ["other-web-1"]),
        (["web"], []),  # a service name excludes every container of that service
    ],
)
def test_exclude(fleet, exclude, expected):
    selected, report = _select(fleet, {"labels": {"tier": "front"}}, exclude=exclude, allow_empty=True)
    assert _names(selected) == expected
    assert sorted(report["excluded"] + _names(selected)) == ["demo-web-1", "demo-web-2", "other-web-1"]


def test_states_filter(fleet):
    selected, report = _select(fleet, {"labels": {"tier": "back"}}, states=["running"])
    assert _names(selected) == ["demo-api-1"]
    assert report["wrong_state"] == ["demo-cache-1 (exited)"]
    selected, _report = _select(fleet, {"labels": {"tier": "back"}}, states=["exited"])
    assert _names(selected) == ["demo-cache-1"]
    selected, _report = _select(fleet, {"labels": {"tier": "back"}})
    assert _names(selected) == ["demo-api-1", "demo-cache-1"]


def test_empty_selection_error_lists_why(fleet):
    with pytest.raises(ChaosError) as info:
        _select(fleet, {"labels": {"tier": "back"}}, exclude=["demo-api-1"], states=["running"])
    msg = info.value.msg
    assert "matched no container" in msg
    assert "demo-api-1" in msg and "demo-cache-1 (exited)" in msg
    assert "allow_empty=true" in msg
    assert msg.endswith(NOTHING_CHANGED)


# ------------------------------------------------------------------ picking

def _pool(count):
    return [_container("c%02d" % i) for i in range(count)]


@pytest.mark.parametrize(
    "mode, value, pool_size, expected_count",
    [
        ("all", None, 5, 5),
        ("one", None, 5, 1),
        ("one", None, 1, 1),
        ("count", 3, 5, 3),
        ("count", 1, 5, 1),
        ("count", 9, 5, 5),  # capped at what there is
        ("count", 3.0, 5, 3),
        ("percent", 100, 5, 5),
        ("percent", 50, 5, 2),  # floor(2.5)
        ("percent", 50, 4, 2),
        ("percent", 99, 10, 9),  # floor(9.9)
        ("percent", 1, 10, 1),  # floor(0.1) = 0, but at least 1 above 0 %
        ("percent", 0.5, 3, 1),
        ("percent", 0, 10, 0),
        ("percent", 40, 0, 0),
    ],
)
def test_pick_counts(mode, value, pool_size, expected_count):
    chosen = pick(_pool(pool_size), {"mode": mode, "value": value, "seed": "s"})
    assert len(chosen) == expected_count
    assert _names(chosen) == sorted(_names(chosen))
    assert len(set(_names(chosen))) == expected_count


def test_pick_all_is_sorted_and_ignores_seed():
    pool = _pool(6)
    assert _names(pick(list(reversed(pool)), {"mode": "all", "seed": "x"})) == _names(pool)
    assert _names(pick(pool, {})) == _names(pool)


def test_zero_percent_is_an_error_unless_allow_empty():
    with pytest.raises(ChaosError, match="allow_empty"):
        select_targets(_pool(5), {"targets": {"names": ["c*"]}, "select": {"mode": "percent", "value": 0}})
    selected, _report = select_targets(
        _pool(5), {"targets": {"names": ["c*"]}, "select": {"mode": "percent", "value": 0}, "allow_empty": True})
    assert selected == []


@pytest.mark.parametrize("mode, value", [("one", None), ("count", 3), ("percent", 30)])
def test_same_seed_same_picks_in_any_candidate_order(mode, value):
    pool = _pool(12)
    select = {"mode": mode, "value": value, "seed": "experiment-42"}
    first = _names(pick(pool, select))
    assert _names(pick(list(reversed(pool)), select)) == first
    assert _names(pick(pool[5:] + pool[:5], select)) == first
    assert _names(pick(pool, dict(select))) == first


def test_seeded_picks_through_select_targets_are_reproducible():
    pool = _pool(12)
    params = {"targets": {"names": ["c*"]}, "select": {"mode": "count", "value": 4, "seed": "abc"}}
    first, _report = select_targets(pool, params)
    again, _report = select_targets(list(reversed(pool)), params)
    assert _names(first) == _names(again)


def test_different_seeds_eventually_differ():
    pool = _pool(12)
    picks = {tuple(_names(pick(pool, {"mode": "count", "value": 3, "seed": "seed-%d" % i}))) for i in range(20)}
    assert len(picks) > 1


def test_unseeded_picks_have_the_right_size():
    pool = _pool(12)
    for _attempt in range(5):
        assert len(pick(pool, {"mode": "count", "value": 3})) == 3


# ------------------------------------------------------------------ max_targets and bad values

def test_max_targets(fleet):
    params = {"targets": {"labels": {"tier": "front"}}, "max_targets": 3}
    selected, _report = select_targets(fleet, params)
    assert len(selected) == 3
    with pytest.raises(ChaosError) as info:
        select_targets(fleet, dict(params, max_targets=2))
    msg = info.value.msg
    assert "above max_targets 2" in msg
    assert "demo-web-1, demo-web-2, other-web-1" in msg
    assert msg.endswith(NOTHING_CHANGED)


def test_max_targets_applies_after_pick(fleet):
    params = {"targets": {"labels": {"tier": "front"}}, "max_targets": 1, "select": {"mode": "one"}}
    selected, _report = select_targets(fleet, params)
    assert len(selected) == 1


@pytest.mark.parametrize(
    "select, fragment",
    [
        ({"mode": "count"}, "whole number of at least 1"),
        ({"mode": "count", "value": 0}, "whole number of at least 1"),
        ({"mode": "count", "value": -2}, "whole number of at least 1"),
        ({"mode": "count", "value": 1.5}, "whole number of at least 1"),
        ({"mode": "percent"}, "between 0 and 100"),
        ({"mode": "percent", "value": -1}, "between 0 and 100"),
        ({"mode": "percent", "value": 100.5}, "between 0 and 100"),
    ],
)
def test_bad_select_values(fleet, select, fragment):
    with pytest.raises(ChaosError) as info:
        select_targets(fleet, {"targets": {"names": ["demo-*"]}, "select": select})
    assert fragment in info.value.msg
    assert NOTHING_CHANGED in info.value.msg


@pytest.mark.parametrize("regex", ["(", "[a-", "*web", "(?P<x"])
def test_bad_regex(fleet, regex):
    with pytest.raises(ChaosError) as info:
        select_targets(fleet, {"targets": {"name_regex": regex}})
    assert "is not a valid regular expression" in info.value.msg
    assert NOTHING_CHANGED in info.value.msg


# ------------------------------------------------------------------ one service name per container

@pytest.mark.parametrize(
    "labels, name, expected",
    [
        ({"com.docker.compose.service": "web"}, "demo-web-1", "web"),  # compose container -> compose service
        ({SERVICE_LABEL: "cache"}, "shop-cache-7f3a", "cache"),  # labelled container -> label value
        ({}, "lonely", "lonely"),  # plain container -> its name
        ({"com.docker.compose.service": "web", SERVICE_LABEL: "cache"}, "demo-web-1", "web"),  # compose wins
        ({"com.docker.compose.service": "", SERVICE_LABEL: "cache"}, "x", "cache"),  # an empty label is no name
        ({SERVICE_LABEL: ""}, "x", "x"),
    ],
)
def test_service_name(labels, name, expected):
    assert service_name(labels, name) == expected


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"name": "n", "service": "s", "compose_service": "c"}, "s"),
        ({"name": "n", "compose_service": "c"}, "c"),  # a ledger entry written before ``service`` existed
        ({"name": "n", "labels": {SERVICE_LABEL: "cache"}}, "cache"),
        ({"name": "n"}, "n"),
    ],
)
def test_service_of_records_without_service(record, expected):
    assert service_of(record) == expected


@pytest.fixture
def mixed():
    """Compose containers, label-named plain containers and a plain ``docker run`` container."""
    return [
        _container("demo-web-1", project="demo", service="web"),
        _container("shop-cache-7f3a", labels={SERVICE_LABEL: "cache"}),
        _container("shop-cache-91bc", labels={SERVICE_LABEL: "cache"}),
        _container("shop-db", labels={SERVICE_LABEL: "db", PROTECTED_LABEL: "true"}),
        _container("lonely"),
    ]


@pytest.mark.parametrize(
    "targets, expected",
    [
        ({"services": ["web"]}, ["demo-web-1"]),  # a compose service is a service
        ({"services": ["cache"]}, ["shop-cache-7f3a", "shop-cache-91bc"]),  # so is the label
        ({"services": ["lonely"]}, ["lonely"]),  # and the name of a plain container
        ({"services": ["web", "lonely"]}, ["demo-web-1", "lonely"]),
        ({"services": ["nope"]}, []),
        ({"names": ["cache"]}, ["shop-cache-7f3a", "shop-cache-91bc"]),  # a service name counts as a name
        ({"names": ["lonely"]}, ["lonely"]),
        ({"compose_services": ["cache"]}, []),  # compose_services stays compose-only
        ({"compose_services": ["lonely"]}, []),
        ({"services": ["cache"], "names": ["*-91bc"]}, ["shop-cache-91bc"]),  # ANDed like every criterion
    ],
)
def test_services_selector(mixed, targets, expected):
    selected, _report = _select(mixed, targets, allow_empty=True)
    assert _names(selected) == expected


@pytest.mark.parametrize(
    "targets, protected, exclude, expected, skipped",
    [
        ({"names": ["shop-*"]}, ["cache"], [], [], ["shop-cache-7f3a", "shop-cache-91bc", "shop-db"]),
        ({"names": ["*"]}, ["lonely", "web"], [], ["shop-cache-7f3a", "shop-cache-91bc"],
         ["demo-web-1", "shop-db", "lonely"]),  # reported in the engine's order
        ({"names": ["*"]}, [], ["cache"], ["demo-web-1", "lonely"], ["shop-db"]),  # exclude by service
    ],
)
def test_protected_and_excluded_by_service_when_matched_by_glob(mixed, targets, protected, exclude, expected,
                                                                skipped):
    selected, report = _select(mixed, targets, protected=protected, exclude=exclude, allow_empty=True)
    assert _names(selected) == expected
    assert report["protected_skipped"] == skipped


@pytest.mark.parametrize(
    "targets, protected",
    [
        ({"names": ["shop-cache-7f3a"]}, ["cache"]),  # plain container named, protected by its label service
        ({"names": ["cache"]}, ["cache"]),
        ({"services": ["cache"]}, ["cache"]),  # services names explicitly too
        ({"services": ["cache"]}, ["shop-cache-91bc"]),
        ({"names": ["lonely"]}, ["lonely"]),  # a plain container's service is its name
        ({"services": ["lonely"]}, ["lonely"]),
        ({"services": ["db"]}, []),  # protected by label
        ({"names": ["demo-web-1"]}, ["web"]),  # compose service, as before
    ],
)
def test_naming_a_container_protected_by_service_is_an_error(mixed, targets, protected):
    with pytest.raises(ChaosError) as info:
        _select(mixed, targets, protected=protected, allow_empty=True)
    assert "is protected" in info.value.msg
    assert NOTHING_CHANGED in info.value.msg


@pytest.mark.parametrize("protected, expected", [(["cache"], True), (["shop-cache-7f3a"], True), (["db"], False)])
def test_is_protected_by_label_service(protected, expected):
    assert is_protected(_container("shop-cache-7f3a", labels={SERVICE_LABEL: "cache"}), protected) is expected


def test_services_alone_is_a_selector(mixed):
    selected, _report = _select(mixed, {"services": ["cache"]}, select={"mode": "one", "seed": "s"})
    assert len(selected) == 1 and selected[0]["service"] == "cache"


def test_empty_selector_message_names_services(mixed):
    with pytest.raises(ChaosError, match="compose_services, services"):
        select_targets(mixed, {"targets": {"services": []}})
