"""Lanes: a framework that would set the run's wall time alone is split over several
workers, in blocks of whole cases, and the measured costs carry over between runs."""

from __future__ import annotations

import pytest

from conformance import frameworks as registry
from conformance.dtypes import DEFAULT_DTYPES
from conformance.evaluation import plan
from conformance.loader import load_cases
from conformance.schedule import plan_lanes, read_costs, write_costs
from tests.conftest import REPO

CASES = load_cases([REPO / "cases" / "cross_entropy"]).cases


def _evaluations(*names):
    evaluations, _ = plan(CASES, [registry.framework(n) for n in names], DEFAULT_DTYPES)
    return evaluations


def _key(evaluation):
    return (evaluation.case.id, evaluation.binding.id, evaluation.dtype)


def test_without_measurements_every_row_costs_the_same():
    # One framework alone is the whole run: on two cores, two of its workers share it.
    assert len(plan_lanes(_evaluations("torch"), costs={}, cores=2)) == 2
    evaluations = _evaluations("torch", "keras_torch")
    rows = {name: sum(e.framework.name == name for e in evaluations) for name in ("torch", "keras_torch")}
    even = {name: 1.0 / count for name, count in rows.items()}  # each framework half the work
    assert sorted(lane.framework for lane in plan_lanes(evaluations, costs=even, cores=2)) == \
        ["keras_torch", "torch"]


def _drain(lanes):
    """Take the work as the lanes would, in turn: which lane got which rows."""
    taken = {(lane.framework, lane.index): [] for lane in lanes}
    busy = True
    while busy:
        busy = False
        for lane in lanes:
            block = lane.work.take()
            if block:
                busy = True
                assert len({e.case.id for e in block}) == 1  # one case at a time
                taken[(lane.framework, lane.index)] += block
    return taken


def test_a_framework_costlier_than_its_share_gets_more_lanes_sharing_its_cases():
    evaluations = _evaluations("numpy", "torch")
    lanes = plan_lanes(evaluations, costs={"numpy": 0.001, "torch": 0.2}, cores=2)
    torch = [lane for lane in lanes if lane.framework == "torch"]
    assert len(torch) == 2 and lanes[0].framework == "torch"  # costliest first
    assert torch[0].work is torch[1].work  # one queue: the two finish together
    taken = _drain(lanes)
    assert sorted(_key(e) for rows in taken.values() for e in rows) == sorted(map(_key, evaluations))
    first, second = ({e.case.id for e in taken[("torch", i)]} for i in (0, 1))
    assert first and second and not first & second  # a case's rows stay in one worker


def test_lanes_never_outnumber_the_cores():
    lanes = plan_lanes(_evaluations("torch"), costs={"torch": 1.0}, cores=1)
    assert len(lanes) == 1


def test_costs_are_remembered_per_row_and_merged(tmp_path):
    path = tmp_path / "costs.json"
    write_costs({"jax": (50.0, 1000)}, path)
    write_costs({"torch": (5.0, 1000)}, path)
    assert read_costs(path) == {"jax": 0.05, "torch": 0.005}
    path.write_text("{not json")
    assert read_costs(path) == {}


def test_a_small_run_moves_the_record_of_a_large_one_by_its_share_of_rows(tmp_path):
    path = tmp_path / "costs.json"
    write_costs({"jax": (100.0, 2000)}, path)       # the full matrix: 0.05 s a row
    write_costs({"jax": (4.0, 20)}, path)           # one case, its first compilations: 0.2 s a row
    assert read_costs(path)["jax"] == pytest.approx((100.0 + 4.0) / 2020)
    for _ in range(10):
        write_costs({"jax": (20_000 * 1.0, 20_000)}, path)
    write_costs({"jax": (20_000 * 0.5, 20_000)}, path)  # the record weighs 20,000 rows at most:
    assert read_costs(path)["jax"] == pytest.approx(0.75, rel=1e-3)  # a new framework shows at once


def test_a_record_in_the_older_format_is_read_and_replaced(tmp_path):
    path = tmp_path / "costs.json"
    path.write_text('{"torch": 0.9}')
    assert read_costs(path) == {"torch": 0.9}
    write_costs({"torch": (5.0, 1000)}, path)
    assert read_costs(path) == {"torch": 0.005}


def test_the_record_goes_where_conformance_costs_says(tmp_path, monkeypatch):
    monkeypatch.setenv("CONFORMANCE_COSTS", str(tmp_path / "elsewhere.json"))
    write_costs({"torch": (5.0, 1000)})
    assert read_costs(tmp_path / "elsewhere.json") == {"torch": 0.005}
    monkeypatch.setenv("CONFORMANCE_COSTS", "off")
    write_costs({"jax": (5.0, 1000)})
    assert read_costs() == {}
    assert "jax" not in read_costs(tmp_path / "elsewhere.json")


def test_the_suites_own_tests_keep_the_users_record_apart(tmp_path):
    # tests/conftest.py points every test at a record of its own.
    from conformance.schedule import costs_path

    assert costs_path() is not None and "loss-conformance" not in str(costs_path().parent)
