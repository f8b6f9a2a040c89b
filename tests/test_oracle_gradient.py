"""The oracle's analytic gradients against numerical differentiation of the oracle loss.

Central differences are taken on float64 inputs; the step actually taken is
the difference of the two rounded inputs, computed exactly in mpmath, so the
only error is the O(h^2) truncation (about 1e-12 relative here).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.case import Case, Values
from conformance.oracle import evaluate, evaluate_gradient
from conformance.exact import MP, total

STEP = 1e-6


def make(**fields) -> Case:
    # `expected` is not what is tested here; a placeholder of the right shape.
    (kind, values), = fields["input"].items()
    placeholder = Case.model_construct(**{**fields, "input": Values(kind, np.asarray(values, float))})
    shape = placeholder.output_shape if fields.get("reduction") == "none" else ()
    return Case.model_validate({"id": "t", "expected": np.zeros(shape).tolist(), **fields})


def summed_loss(case: Case, values: np.ndarray):
    moved = case.model_copy(update={"input": Values(case.input.kind, values)})
    exact = evaluate(moved, "float64").exact
    return total(exact) if isinstance(exact, np.ndarray) else exact


def numerical_gradient(case: Case) -> np.ndarray:
    x = case.input.values.astype(np.float64)
    grad = np.empty(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        h = STEP * max(abs(x[index]), 1e-3)
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        step = MP.mpf(float(up[index])) - MP.mpf(float(down[index]))
        grad[index] = float((summed_loss(case, up) - summed_loss(case, down)) / step)
    return grad


CASES = {
    "ce-logits-index": dict(loss="cross_entropy", input={"logits": [[1.0, 2.0, -0.5], [0.3, -1.2, 2.2]]},
                            target={"index": [2, 0]}),
    "ce-logits-index-weight-ignore": dict(loss="cross_entropy",
                                          input={"logits": [[1.0, 2.0, -0.5], [0.3, -1.2, 2.2], [1, 1, 1]]},
                                          target={"index": [2, 0, 1]}, weight=[0.2, 1.0, 3.0],
                                          ignore_index=1),
    "ce-logits-soft-smooth-sum": dict(loss="cross_entropy", input={"logits": [[1.0, 2.0, -0.5]]},
                                      target={"probs": [[0.1, 0.6, 0.3]]}, label_smoothing=0.2,
                                      reduction="sum"),
    "ce-logits-axis1-none": dict(loss="cross_entropy", class_axis=1,
                                 input={"logits": [[[1.0, 0.5], [2.0, -1.0], [0.0, 0.7]]]},
                                 target={"index": [[1, 2]]}, reduction="none"),
    "ce-probs-index-weight": dict(loss="cross_entropy", input={"probs": [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]},
                                  target={"index": [1, 0]}, weight=[2.0, 0.5, 1.0]),
    "ce-probs-soft-smooth": dict(loss="cross_entropy", input={"probs": [[0.2, 0.5, 0.3]]},
                                 target={"probs": [[0.0, 1.0, 0.0]]}, label_smoothing=0.1),
    "ce-log-probs-soft": dict(loss="cross_entropy", input={"log_probs": [[-1.6, -0.7, -1.2]]},
                              target={"probs": [[0.3, 0.3, 0.4]]}),
    "bce-logits-pos-weight": dict(loss="binary_cross_entropy", input={"logits": [[0.5, -2.0], [3.0, 0.1]]},
                                  target={"probs": [[1.0, 0.3], [0.0, 0.8]]}, pos_weight=[2.0, 0.5]),
    "bce-probs-none": dict(loss="binary_cross_entropy", input={"probs": [0.3, 0.9, 0.05]},
                           target={"probs": [1.0, 0.2, 0.0]}, reduction="none"),
    "kl-logits-batchmean": dict(loss="kl_divergence", input={"logits": [[0.5, -1.0, 2.0], [0.0, 0.3, 0.1]]},
                                target={"probs": [[0.2, 0.3, 0.5], [0.6, 0.0, 0.4]]}, reduction="batchmean"),
    "kl-probs-log-target-mean": dict(loss="kl_divergence", input={"probs": [[0.2, 0.3, 0.5]]},
                                     target={"log_probs": [[-1.2, -1.5, -0.7]]}),
    "kl-log-probs-none": dict(loss="kl_divergence", input={"log_probs": [[-1.2, -0.9, -1.2]]},
                              target={"probs": [[0.25, 0.5, 0.25]]}, reduction="none"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_analytic_gradient_matches_numerical_differentiation(name):
    case = make(**CASES[name])
    analytic = evaluate_gradient(case, "float64").as_float()
    assert analytic.shape == case.input.values.shape
    np.testing.assert_allclose(analytic, numerical_gradient(case), rtol=1e-8, atol=1e-10)


def test_constant_term_has_zero_gradient_at_zero_probability():
    # 0 * log 0 is the constant 0: its derivative is 0, not 0 * inf.
    case = make(loss="cross_entropy", input={"probs": [[0.0, 0.4, 0.6]]}, target={"index": [1]})
    assert evaluate_gradient(case).as_float().tolist() == [[0.0, -2.5, 0.0]]


def test_mean_of_nothing_has_no_gradient():
    case = make(loss="cross_entropy", input={"logits": [[1.0, 2.0]]}, target={"index": [0]}, ignore_index=0)
    assert np.isnan(evaluate_gradient(case).as_float()).all()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-8, 8), min_size=3, max_size=3), st.integers(0, 2),
       st.floats(0, 0.5), st.sampled_from(["mean", "sum"]))
def test_logits_gradient_of_random_rows(logits, label, smoothing, reduction):
    case = make(loss="cross_entropy", input={"logits": [logits]}, target={"index": [label]},
                label_smoothing=smoothing, reduction=reduction)
    np.testing.assert_allclose(evaluate_gradient(case).as_float(), numerical_gradient(case),
                               rtol=1e-7, atol=1e-9)


# -- readings: the gradients autodiff gives through the usual glue ------------------
UNNORMALISED = dict(loss="cross_entropy", input={"probs": [[0.2, 0.5, 0.6], [0.1, 0.0, 0.4]]},
                    target={"probs": [[0.3, 0.3, 0.4], [0.5, 0.0, 0.5]]}, weight=[1.0, 2.0, 0.5])


def renormalised_numerical_gradient(case: Case) -> np.ndarray:
    """Central differences of the oracle loss of p / sum(p)."""
    x = case.input.values
    grad = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        h = STEP * max(abs(x[index]), 1e-3)
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        normalise = lambda v: v / v.sum(axis=-1, keepdims=True)  # noqa: E731
        grad[index] = float((summed_loss(case, normalise(up)) - summed_loss(case, normalise(down)))
                            / (MP.mpf(float(up[index])) - MP.mpf(float(down[index]))))
    return grad


def test_renormalised_reading_is_the_gradient_of_the_renormalised_loss():
    case = make(**UNNORMALISED)
    got = evaluate_gradient(case, reading="renormalised").as_float()
    want = renormalised_numerical_gradient(case)
    # A central difference cannot step below p = 0; there only the sum term is left.
    # A = 1 * 0.5 + 0.5 * 0.5 = 0.75, sum(p) = 0.5, mean over 2 rows: (0.75 / 0.5) / 2.
    assert np.isnan(want[1, 1]) and got[1, 1] == pytest.approx(0.75)
    mask = ~np.isnan(want)
    np.testing.assert_allclose(got[mask], want[mask], rtol=1e-7, atol=1e-9)


def test_the_converted_case_is_differentiated_by_the_chain_rule_and_finite_at_zero():
    # Glue that feeds log p to the API is differentiated with respect to log p: the oracle's
    # gradient there is the probability gradient times p (d p / d log p = p), finite at p = 0.
    case = make(**UNNORMALISED)
    p = case.input.values
    converted = case.with_input("log_probs", case.family.converted_input(case, "float64", "log_probs"))
    with np.errstate(divide="ignore"):
        np.testing.assert_array_equal(converted.input.values, np.log(p))
    got = evaluate_gradient(converted).as_float()
    want = evaluate_gradient(case).as_float() * p
    assert got[1, 1] == 0.0
    mask = p > 0
    np.testing.assert_allclose(got[mask], want[mask], rtol=1e-12)


def test_probabilities_converted_to_logits_have_the_sigmoid_gradient_at_zero_and_one():
    case = make(loss="binary_cross_entropy", input={"probs": [[0.0, 1.0, 0.25]]}, target={"probs": [[0, 1, 1]]},
                reduction="sum")
    logits = case.family.converted_input(case, "float64", "logits")
    np.testing.assert_allclose(logits, [[-np.inf, np.inf, np.log(0.25 / 0.75)]], rtol=1e-15)
    got = evaluate_gradient(case.with_input("logits", logits)).as_float()
    np.testing.assert_allclose(got, [[0.0, 0.0, 0.25 - 1.0]], rtol=1e-15)


def test_softmax_reading_of_log_probs_is_the_logits_gradient():
    fields = dict(loss="kl_divergence", input={"log_probs": [[-1.2, -0.9, -1.6]]},
                  target={"probs": [[0.25, 0.5, 0.25]]})
    as_logits = make(**{**fields, "input": {"logits": [[-1.2, -0.9, -1.6]]}})
    np.testing.assert_array_equal(evaluate_gradient(make(**fields), reading="softmax").as_float(),
                                  evaluate_gradient(as_logits).as_float())


# Inputs closer to a kink than the numerical derivative's old fixed step (1e-20 of max(|x|, 1),
# or of a row's largest score): both sides were averaged into a number that is neither slope.
# The expected slopes are the closed forms' (sign(r), clip(r / beta, -1, 1), ...), by hand.
NEAR_A_KINK = [
    ({"loss": "absolute_error", "input": {"predictions": [1e-30]}, "target": {"values": [0.0]},
      "reduction": "sum"}, "float64", [1.0]),
    ({"loss": "absolute_error", "input": {"predictions": [1e-21]}, "target": {"values": [0.0]},
      "reduction": "sum"}, "float32", [1.0]),
    ({"loss": "absolute_percentage_error", "input": {"predictions": [1e-30]}, "target": {"values": [2e-30]},
      "reduction": "sum"}, "float64", [-100 / 2e-30]),
    ({"loss": "perceptron", "input": {"scores": [1e-30, -3e-21]}, "target": {"signs": [1.0, 1.0]},
      "reduction": "sum"}, "float64", [0.0, -1.0]),
    ({"loss": "hinge_embedding", "input": {"distances": [1e-30]}, "target": {"signs": [-1.0]}, "margin": 0.0,
      "reduction": "sum"}, "float64", [0.0]),
    ({"loss": "multi_margin", "input": {"scores": [[1.0, 2.0 ** -52, 1e6]]}, "target": {"index": [0]},
      "reduction": "sum"}, "float64", [[-2.0, 1.0, 1.0]]),
    ({"loss": "multiclass_perceptron", "input": {"scores": [[-1e6, 1e-15, 0.0]]}, "target": {"index": [0]},
      "reduction": "sum"}, "float64", [[-1.0, 1.0, 0.0]]),
    ({"loss": "multilabel_margin", "input": {"scores": [[1e6, 1.0, 2.0 ** -52]]},
      "target": {"index_lists": [[1, -1, -1]]}, "reduction": "sum"}, "float64", [[1.0, -2.0, 1.0]]),
    ({"loss": "smooth_l1", "input": {"predictions": [1e-15, 2e-15]}, "target": {"values": [0.0, 0.0]},
      "beta": 1e-15, "reduction": "sum"}, "float64", [1.0, 1.0]),
    ({"loss": "huber", "input": {"predictions": [1e-15]}, "target": {"values": [0.0]}, "delta": 1e-15,
      "reduction": "sum"}, "float64", [1e-15]),
    # Closer still: two steps both above the distance agreed on the average (a review found these).
    ({"loss": "absolute_error", "input": {"predictions": [1e-60, 5e-324]}, "target": {"values": [0.0, 0.0]},
      "reduction": "sum"}, "float64", [1.0, 1.0]),
    ({"loss": "perceptron", "input": {"scores": [1e-60, -1e-60]}, "target": {"signs": [1.0, 1.0]},
      "reduction": "sum"}, "float64", [0.0, -1.0]),
    ({"loss": "hinge_embedding", "input": {"distances": [1e-60]}, "target": {"signs": [-1.0]}, "margin": 0.0,
      "reduction": "sum"}, "float64", [0.0]),
    ({"loss": "multiclass_perceptron", "input": {"scores": [[-1e6, 1e-60, 0.0]]}, "target": {"index": [0]},
      "reduction": "sum"}, "float64", [[-1.0, 1.0, 0.0]]),
    ({"loss": "smooth_l1", "input": {"predictions": [1e-60]}, "target": {"values": [0.0]}, "beta": 1e-70,
      "reduction": "sum"}, "float64", [1.0]),
    # A margin far larger than the inputs sets the loss's size (the steps were too fine to see it),
    # a tiny one sets how close a tie's kink is, and a C1 kink's zero slope at a large scale.
    ({"loss": "hinge_embedding", "input": {"distances": [1.0, 0.5]}, "target": {"signs": [-1.0, -1.0]},
      "margin": 1e35, "reduction": "sum"}, "float64", [-1.0, -1.0]),
    ({"loss": "multi_margin", "input": {"scores": [[0.0, 1.0]]}, "target": {"index": [0]}, "margin": 1e35,
      "reduction": "sum"}, "float64", [[-1.0, 1.0]]),
    ({"loss": "multi_margin", "input": {"scores": [[1.0, 1.0]]}, "target": {"index": [0]}, "margin": 1e-300,
      "reduction": "sum"}, "float64", [[-1.0, 1.0]]),
    ({"loss": "multi_margin", "input": {"scores": [[1.0, 1.0]]}, "target": {"index": [0]}, "margin": -1e-300,
      "reduction": "sum"}, "float64", [[0.0, 0.0]]),
    ({"loss": "multi_margin", "input": {"scores": [[1e100, 0.0]]}, "target": {"index": [0]}, "margin": 1e100, "p": 2,
      "reduction": "sum"}, "float64", [[0.0, 0.0]]),
    ({"loss": "squared_hinge", "input": {"scores": [1.0]}, "target": {"signs": [1.0]}, "reduction": "sum"},
     "float64", [0.0]),
    # A smooth loss at extreme inputs: right, and without stepping below 5e-324 (no test of time).
    ({"loss": "log_cosh", "input": {"predictions": [1.7976931348623157e308, 5e-324]},
      "target": {"values": [5e-324, 1.7976931348623157e308]}, "reduction": "sum"}, "float64", [1.0, -1.0]),
]


@pytest.mark.parametrize("fields,dtype,slopes", NEAR_A_KINK, ids=[f["loss"] + "-" + d for f, d, _ in NEAR_A_KINK])
def test_an_input_beside_a_kink_gets_its_own_side_s_slope(fields, dtype, slopes):
    got = evaluate_gradient(make(**fields), dtype).as_float()
    np.testing.assert_allclose(got, slopes, rtol=1e-14, atol=1e-25)
