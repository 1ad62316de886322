"""The resilience filter: MTTR, cascade depth, affected services and surprises from a sample timeline."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sutazai.chaos.plugins.filter.resilience import resilience

MAP = {"frontend": ["backend"], "backend": ["postgres", "redis"], "postgres": [], "redis": [], "monitor": []}


def _sample(rows, started_at=1000.0, step=0.5):
    """rows: one string per poll, one letter per service in ORDER (H healthy, U unhealthy)."""
    order = ["frontend", "backend", "postgres", "redis", "monitor"]
    timeline = []
    for index, row in enumerate(rows):
        probes = [{"name": name, "healthy": flag == "H", "latency_ms": 10.0} for name, flag in zip(order, row)]
        healthy = all(p["healthy"] for p in probes)
        timeline.append({"t": index * step, "healthy": healthy, "probes": probes,
                         "health_score": sum(p["healthy"] for p in probes) / len(probes)})
    return {"started_at": started_at, "timeline": timeline}


def test_redis_crash_reaches_backend_and_frontend():
    sample = _sample(["HHHHH", "HHHUH", "UUHUH", "UUHHH", "HHHHH", "HHHHH"])
    got = resilience(sample, "redis", MAP, injected_at=1000.7)
    assert got["affected"] == ["backend", "frontend", "redis"]
    assert got["unaffected"] == ["monitor", "postgres"]
    assert got["cascade_depth"] == 2
    assert got["surprises"] == {"unexpected": [], "not_isolated": []}
    # last unhealthy poll at t=1.5; the next poll (t=2.0) answered 10 ms later: 1000 + 2.01 - 1000.7
    assert got["mttr_seconds"] == pytest.approx(1.31)
    assert got["per_service"]["backend"] == {"polls": 6, "healthy": 4, "availability": round(4 / 6, 4), "depth": 1}
    assert got["health_score_min"] == pytest.approx(0.4)


def test_a_service_off_the_map_path_is_a_surprise_and_isolation_is_checked():
    sample = _sample(["HHHUU", "HHHHH"])
    got = resilience(sample, "redis", MAP, injected_at=1000.0, isolated=["frontend", "monitor"])
    assert got["surprises"]["unexpected"] == ["monitor"]
    assert got["surprises"]["not_isolated"] == ["monitor"]
    assert got["cascade_depth"] == 0


def test_dependent_expected_isolated_but_hit():
    got = resilience(_sample(["UHHUH", "HHHHH"]), "redis", MAP, injected_at=1000.0, isolated=["frontend"])
    assert got["surprises"]["not_isolated"] == ["frontend"]
    assert got["cascade_depth"] == 2


@pytest.mark.parametrize("rows, mttr", [
    (["HHHHH", "HHHHH"], 0.0),  # never unhealthy
    (["HHHHH", "UUUUU"], None),  # ended unhealthy: not recovered within the sample
])
def test_mttr_edges(rows, mttr):
    assert resilience(_sample(rows), "redis", MAP, injected_at=1000.0)["mttr_seconds"] == mttr


def test_bad_input():
    with pytest.raises(AnsibleFilterError, match="sample mode"):
        resilience({"polls": 3}, "redis", MAP, 0)
    with pytest.raises(AnsibleFilterError, match="dependency map"):
        resilience(_sample(["HHHHH"]), "redis", ["redis"], 0)
