"""Statuses: how an outcome of an API is judged against the oracle and `expect`."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conformance import frameworks as registry
from conformance.binding import Binding
from conformance.case import Case
from conformance.compare import Outcome, _remedy, _rounded_away, _too_few_digits, judge, measure
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


# -- the measured policy, the tight match of documented literals, binding-level precision ----
def _judged_as(binding, c: Case, value, dtype="float64"):
    outcome = Outcome(value=np.asarray(value, dtype=np.float64))
    return judge(Quantity.VALUE, c, binding, dtype, outcome, evaluate(c, dtype), "3.15.1")


def test_a_float64_row_computed_in_float32_fails():
    truth = evaluate(case(), "float64").as_float()
    rounded = float(np.float32(truth))
    assert rounded != truth
    result = verdict(case(), rounded, dtype="float64")
    assert result.status == "fail" and "undocumented deviation" in result.explanation


def test_a_documented_literal_must_match_within_a_few_ulps_not_the_old_tolerance():
    # The audit's case: the entry says 2e-7, the API returns -log(1 - 1e-7) = 1.00000005e-7. With
    # torch.testing's float64 atol of 1e-7 they matched; they are 4.5e8 ULP apart.
    c = case(expect={"torch.cross_entropy": {"value": 2e-7, "reason": "r", "dtypes": ["float64"]}})
    assert verdict(c, 1.00000005e-7, dtype="float64").status == "fail"
    assert verdict(c, 2e-7 * (1 + 2 ** -50), dtype="float64").status == "known"


def test_an_inherited_entry_is_held_to_the_inheriting_bindings_value():
    keras_jax = registry.all_bindings()["keras_jax.SparseCategoricalCrossentropy"]
    c = case(expect={"keras.SparseCategoricalCrossentropy": {"value": 2e-7, "reason": "TensorFlow's path",
                                                              "dtypes": ["float64"]}})
    result = _judged_as(keras_jax, c, 1.00000005e-7)
    assert result.status == "fail" and "TensorFlow's path" in result.explanation
    assert _judged_as(keras_jax, c, 2e-7).status == "known"


def test_a_binding_level_precision_makes_float32_rounding_known_and_nothing_else():
    keras_torch = registry.all_bindings()["keras_torch.CategoricalCrossentropy"]
    c = case(target={"probs": [[0.0, 0.0, 1.0]]})
    truth = evaluate(c, "float64").as_float()
    assert _judged_as(keras_torch, c, truth).status == "pass"  # an exact row stays a pass
    known = _judged_as(keras_torch, c, float(np.float32(truth)))
    assert known.status == "known" and "divide_no_nan" in known.explanation
    assert known.expectation.link.startswith("https://github.com/keras-team/keras/blob/v3.15.1/")
    assert _judged_as(keras_torch, c, truth * (1 + 1e-5)).status == "fail"
    # Only the reduction that takes that path: a sum is computed in float64.
    assert _judged_as(keras_torch, case(target={"probs": [[0.0, 0.0, 1.0]]}, reduction="sum"),
                      float(np.float32(truth))).status == "fail"


def test_an_exact_loss_beyond_the_dtype_is_the_infinity_it_rounds_to():
    # 5e39 cannot be held in float32 or bfloat16: inf is its correct rounding there, not in float64.
    from mpmath import mp

    from conformance.compare import in_range_of
    from conformance.oracle import OracleValue
    from conformance.tolerance import default_tolerance

    beyond = OracleValue(mp.mpf("5e39"))
    inf = np.asarray(math.inf)
    for dtype in ("float32", "bfloat16"):
        errors = measure(inf, beyond, dtype, default_tolerance(dtype))
        assert errors.close and errors.abs_err == 0 and errors.ulp_err == 0
    assert not measure(inf, beyond, "float64", default_tolerance("float64")).close
    assert not measure(np.asarray(3.0e38), beyond, "float32", default_tolerance("float32")).close
    assert in_range_of(np.array([-5e39, 1.0, math.nan]), "float32").tolist()[:2] == [-math.inf, 1.0]


def test_a_documented_value_written_too_short_is_named_as_such():
    # 16.11809565 for 16.11809565095832: "deviates differently than documented" said no more.
    hint = _too_few_digits(np.array(16.11809565095832), np.array(16.11809565), "float64")
    assert "agree to about 10 significant digits" in hint and "derive it to 17 significant digits" in hint
    assert _too_few_digits(np.array(16.1), np.array(15.9), "float64") == ""  # another value, not a short one
    assert _too_few_digits(np.array([1.0, 2.0]), np.array(1.0), "float64") == ""
    assert _too_few_digits(np.array(np.inf), np.array(1.0), "float64") == ""


def test_a_row_of_your_own_function_asks_you_to_fix_it_not_an_adapter():
    user = Binding("user.mypkg.f", "cross_entropy", frozenset({"logits"}), frozenset({"index"}), lambda w: None)
    assert _remedy(user).startswith("fix your function")
    assert _remedy(registry.all_bindings()["torch.cross_entropy"]) == "fix the adapter or document it in `expect`"


def test_an_input_the_dtype_cannot_hold_is_named_on_a_failing_row():
    # A newcomer's p = 1e-9 is 0 in float16: its float16 rows looked like framework bugs.
    case = Case.model_validate({"id": "t", "loss": "binary_cross_entropy", "input": {"probs": [1e-9, 0.5]},
                                "target": {"probs": [1.0, 0.0]}, "expected": 10.708847208815138})
    assert _rounded_away(case, "float16") == (" (in float16 the input's 1e-09 is 0: the row and its oracle take the "
                                              "input as float16 holds it)")
    assert _rounded_away(case, "float32") == ""
