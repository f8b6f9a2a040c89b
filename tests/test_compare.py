"""Statuses: how an outcome of an API is judged against the oracle and `expect`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conformance import frameworks as registry
from conformance.case import Case
from conformance.compare import Outcome, judge, measure
from conformance.vocabulary import Quantity
from conformance.oracle import evaluate

BINDING = registry.all_bindings()["torch.cross_entropy"]
TRUTH = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3  # 0.40760596...


def case(**fields) -> Case:
    base = dict(id="t", loss="cross_entropy", input={"logits": [[1.0, 2.0, 3.0]]}, target={"index": [2]},
                expected=TRUTH)
    return Case.model_validate({**base, **fields})


def verdict(c: Case, value=None, exception=None, dtype="float32", version="2.13.0"):
    outcome = Outcome(value=None if value is None else np.asarray(value, dtype=np.float64),
                      exception=exception, message="boom" if exception else "")
    return judge(Quantity.VALUE, c, BINDING, dtype, outcome, evaluate(c, dtype), version)


def test_pass_within_torch_default_tolerance_and_fail_outside():
    assert verdict(case(), TRUTH * (1 + 1e-6)).status == "pass"
    result = verdict(case(), TRUTH * (1 + 1e-4))
    assert result.status == "fail" and "undocumented deviation" in result.explanation


def test_float64_tolerance_is_tighter():
    assert verdict(case(), TRUTH * (1 + 1e-6), dtype="float64").status == "fail"


def test_nan_where_the_oracle_is_finite_fails_and_nan_matches_nan():
    assert verdict(case(), math.nan).status == "fail"
    nothing = case(target={"index": [-100]}, ignore_index=-100, expected=math.nan)
    assert verdict(nothing, math.nan).status == "pass"
    assert verdict(nothing, 0.0).status == "fail"


def test_documented_deviation_is_known_and_carries_its_reason():
    c = case(expect={"torch.cross_entropy": {"value": 1.5, "reason": "it adds 1.09", "category": "bug"}})
    result = verdict(c, 1.5)
    assert (result.status, result.explanation) == ("known", "it adds 1.09")


def test_deviation_different_from_the_documented_one_fails():
    c = case(expect={"torch.cross_entropy": {"value": 1.5, "reason": "r"}})
    result = verdict(c, 2.5)
    assert result.status == "fail" and "deviates differently" in result.explanation


def test_stale_expectation_fails_when_the_api_agrees_with_the_oracle():
    c = case(expect={"torch.cross_entropy": {"value": 1.5, "reason": "r"}})
    result = verdict(c, TRUTH)
    assert result.status == "fail" and "stale expectation" in result.explanation


def test_expectations_filter_by_version_and_dtype():
    c = case(expect={"torch.cross_entropy": [
        {"value": 1.5, "reason": "old", "versions": "<2.0"},
        {"value": 2.5, "reason": "float64 only", "dtypes": ["float64"]}]})
    assert verdict(c, 1.5, version="1.13.1").status == "known"
    assert verdict(c, 1.5, version="2.13.0+cpu").status == "fail"
    assert verdict(c, 2.5, dtype="float64").explanation == "float64 only"
    assert verdict(c, TRUTH, dtype="float32").status == "pass"


def test_raises_expected_or_not():
    c = case(expect={"torch.cross_entropy": {"raises": "RuntimeError", "reason": "refuses it"}})
    assert verdict(c, exception="RuntimeError").status == "known"
    assert verdict(c, exception="ValueError").status == "error"
    assert "stale" in verdict(c, TRUTH).explanation
    assert verdict(case(), exception="RuntimeError").status == "error"


def test_as_is_deviation_is_a_difference_explained_by_the_binding():
    c = case(mode="as_is", input={"probs": [[0.2, 0.3, 0.5]]}, expected=-math.log(0.5))
    result = verdict(c, 0.95)
    assert result.status == "difference"
    assert "probs went in as written" in result.explanation and "log_softmax" in result.explanation


def test_shape_mismatch_fails_with_shapes_named():
    c = case(reduction="none", expected=[TRUTH])
    result = verdict(c, TRUTH)
    assert result.status == "fail" and "shape" in result.explanation


def test_errors_in_ulps_of_the_evaluated_dtype():
    c = case()
    oracle = evaluate(c, "float32")
    spacing = float(np.spacing(np.float32(TRUTH)))
    tol = c.tolerance_for("float32")
    errors = measure(np.asarray(float(oracle.as_float()) + 3 * spacing), oracle, "float32", tol)
    assert errors.ulp_err == pytest.approx(3, abs=0.01)
    assert errors.abs_err == pytest.approx(3 * spacing, rel=1e-6)
    inf_errors = measure(np.asarray(math.inf), oracle, "float32", tol)
    assert inf_errors.abs_err == math.inf and not inf_errors.close
