"""The focal families: closed forms, the two families as one definition, the soft-label
readings, and the analytic gradients against numerical differentiation."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.case import Case, Values
from conformance.exact import MP, total
from conformance.families.focal import FocalKnobs
from conformance.oracle import evaluate, evaluate_gradient

STEP = 1e-6


def make(**fields) -> Case:
    (kind, values), = fields["input"].items()
    placeholder = Case.model_construct(**{**fields, "input": Values(kind, np.asarray(values, float))})
    shape = placeholder.output_shape if fields.get("reduction") == "none" else ()
    return Case.model_validate({"id": "t", "expected": np.zeros(shape).tolist(), **fields})


def value(case: Case) -> float:
    return float(evaluate(case, "float64").as_float())


def softplus(x):
    return np.logaddexp(0.0, x)


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_binary_hand_values_at_gamma_2():
    x, t = np.array([1.0, -2.0, 0.5, 3.0]), np.array([1.0, 0.0, 0.0, 1.0])
    x_t = np.where(t == 1, x, -x)  # the logit of the true class
    hand = (1 - sigmoid(x_t)) ** 2 * softplus(-x_t)
    case = make(loss="binary_focal", input={"logits": x.tolist()}, target={"probs": t.tolist()}, reduction="none")
    np.testing.assert_allclose(evaluate(case, "float64").as_float(), hand, rtol=1e-14)
    weighted = make(loss="binary_focal", input={"logits": x.tolist()}, target={"probs": t.tolist()},
                    reduction="sum", alpha=0.25)
    np.testing.assert_allclose(value(weighted), (np.where(t == 1, 0.25, 0.75) * hand).sum(), rtol=1e-14)


@pytest.mark.parametrize("fields", [
    dict(input={"logits": [[0.5, -2.0], [3.0, 0.1]]}, target={"probs": [[1.0, 0.3], [0.0, 0.8]]}),
    dict(input={"probs": [0.3, 0.9, 0.05]}, target={"probs": [1.0, 0.2, 0.0]}, reduction="sum"),
])
def test_binary_gamma_0_is_the_binary_cross_entropy(fields):
    focal = make(loss="binary_focal", gamma=0, **fields)
    bce = make(loss="binary_cross_entropy", **fields)
    assert value(focal) == pytest.approx(value(bce), rel=1e-14)


def test_binary_label_smoothing_is_a_target_squeezed_towards_one_half():
    fields = dict(input={"logits": [1.0, -0.5, 2.0]}, reduction="sum")
    smoothed = make(loss="binary_focal", target={"probs": [1.0, 0.0, 1.0]}, label_smoothing=0.2, **fields)
    squeezed = make(loss="binary_focal", target={"probs": [0.9, 0.1, 0.9]}, **fields)
    assert value(smoothed) == pytest.approx(value(squeezed), rel=1e-14)


def test_categorical_gamma_0_is_the_weighted_cross_entropy():
    fields = dict(input={"logits": [[1.0, 2.0, -0.5], [0.3, -1.2, 2.2]]}, target={"index": [2, 0]}, reduction="sum")
    focal = make(loss="categorical_focal", gamma=0, alpha=[0.5, 1.0, 2.0], **fields)
    ce = make(loss="cross_entropy", weight=[0.5, 1.0, 2.0], **fields)
    assert value(focal) == pytest.approx(value(ce), rel=1e-14)


@pytest.mark.parametrize("x, t, alpha, gamma", [(1.0, 0.9, None, 2.0), (-0.7, 0.3, 0.25, 2.0), (2.5, 1.0, 0.6, 0.5)])
def test_binary_is_the_categorical_loss_of_two_classes(x, t, alpha, gamma):
    """sigmoid(x) = softmax([x, 0])[0]: the binary focal loss of (x, t, alpha) is the categorical one
    of the logits [x, 0], the target [t, 1 - t] and the class weights [alpha, 1 - alpha]."""
    binary = make(loss="binary_focal", input={"logits": [x]}, target={"probs": [t]}, gamma=gamma,
                  **({"alpha": alpha} if alpha is not None else {}))
    categorical = make(loss="categorical_focal", input={"logits": [[x, 0.0]]}, target={"probs": [[t, 1 - t]]},
                       gamma=gamma, **({"alpha": [alpha, 1 - alpha]} if alpha is not None else {}))
    assert value(binary) == pytest.approx(value(categorical), rel=1e-13)


def test_soft_labels_three_generalisations_three_values():
    """x = 1, t = 0.9, gamma = 2: each term weighted (canonical, kornia) 0.0905791; (1 - p_t)^2 on
    the BCE (Keras, optax) 0.0410458; sigmoid(-x(2t-1))^2 on the BCE (MONAI) 0.0397210."""
    case = make(loss="binary_focal", input={"logits": [1.0]}, target={"probs": [0.9]})
    p, t = sigmoid(1.0), 0.9
    bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    canonical = t * (1 - p) ** 2 * -np.log(p) + (1 - t) * p ** 2 * -np.log(1 - p)
    p_t = t * p + (1 - t) * (1 - p)
    assert value(case) == pytest.approx(canonical, rel=1e-14) == pytest.approx(0.0905791, rel=1e-6)
    assert float(case.family.variant(case, "float64", FocalKnobs(soft="p_t"))) == \
        pytest.approx((1 - p_t) ** 2 * bce, rel=1e-14) == pytest.approx(0.0410458, rel=1e-6)
    assert float(case.family.variant(case, "float64", FocalKnobs(soft="signed_logit"))) == \
        pytest.approx(sigmoid(-1.0 * (2 * t - 1)) ** 2 * bce, rel=1e-14) == pytest.approx(0.0397210, rel=1e-5)
    assert "p_t = t p + (1 - t)(1 - p)" in FocalKnobs(soft="p_t").describe(case)


def test_keras_ignored_alpha_is_a_reading():
    case = make(loss="binary_focal", input={"logits": [1.0, -1.0]}, target={"probs": [1.0, 0.0]}, alpha=0.25)
    ignored = float(case.family.variant(case, "float64", FocalKnobs(alpha_off=True)))
    plain = make(loss="binary_focal", input={"logits": [1.0, -1.0]}, target={"probs": [1.0, 0.0]})
    assert ignored == pytest.approx(value(plain), rel=1e-14)
    assert value(case) == pytest.approx(0.5 * value(plain), rel=1e-14)  # 0.25 and 0.75 on equal terms


def test_categorical_mean_is_over_positions_and_the_class_slice_reading_divides_by_classes():
    case = make(loss="categorical_focal", input={"logits": [[1.0, 2.0, -0.5], [0.3, -1.2, 2.2]]},
                target={"index": [2, 0]})
    sliced = float(case.family.variant(case, "float64", FocalKnobs(denominator="elements")))
    assert sliced == pytest.approx(value(case) / 3, rel=1e-14)


def _summed(case: Case, values: np.ndarray):
    moved = case.model_copy(update={"input": Values(case.input.kind, values)})
    exact = evaluate(moved, "float64").exact
    return total(exact) if isinstance(exact, np.ndarray) else exact


def _numerical_gradient(case: Case) -> np.ndarray:
    x = case.input.values.astype(np.float64)
    grad = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        h = STEP * max(abs(x[index]), 1e-3)
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        step = MP.mpf(float(up[index])) - MP.mpf(float(down[index]))
        grad[index] = float((_summed(case, up) - _summed(case, down)) / step)
    return grad


GRADIENT_CASES = {
    "binary-logits-soft-alpha": dict(loss="binary_focal", input={"logits": [[0.5, -2.0], [3.0, 0.1]]},
                                     target={"probs": [[1.0, 0.3], [0.0, 0.8]]}, alpha=0.3),
    "binary-logits-gamma-half-smooth": dict(loss="binary_focal", input={"logits": [1.5, -0.2, 4.0]},
                                            target={"probs": [1.0, 0.0, 0.6]}, gamma=0.5, label_smoothing=0.1,
                                            reduction="sum"),
    "binary-probs": dict(loss="binary_focal", input={"probs": [0.3, 0.9, 0.05]}, target={"probs": [1.0, 0.2, 0.0]},
                         gamma=3.0, reduction="none"),
    "categorical-logits-axis1": dict(loss="categorical_focal", class_axis=1,
                                     input={"logits": [[[1.0, 0.5], [2.0, -1.0], [0.0, 0.7]]]},
                                     target={"index": [[1, 2]]}, alpha=[0.2, 1.0, 3.0], label_smoothing=0.1),
    "categorical-logits-soft-gamma-1.5": dict(loss="categorical_focal", input={"logits": [[1.0, 2.0, -0.5]]},
                                              target={"probs": [[0.1, 0.6, 0.3]]}, gamma=1.5, reduction="sum"),
    "categorical-probs-soft": dict(loss="categorical_focal", input={"probs": [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]]},
                                   target={"probs": [[0.0, 0.8, 0.2], [0.5, 0.0, 0.5]]}),
}


@pytest.mark.parametrize("name", sorted(GRADIENT_CASES))
def test_analytic_gradient_matches_numerical_differentiation(name):
    case = make(**GRADIENT_CASES[name])
    analytic = evaluate_gradient(case, "float64").as_float()
    assert analytic.shape == case.input.values.shape
    np.testing.assert_allclose(analytic, _numerical_gradient(case), rtol=1e-8, atol=1e-10)


def test_gradient_at_saturated_logits_is_finite_and_tiny():
    case = make(loss="binary_focal", input={"logits": [100.0, -100.0]}, target={"probs": [1.0, 0.0]},
                reduction="sum")
    grad = evaluate_gradient(case, "float64").as_float()
    assert np.all(np.isfinite(grad)) and np.all(np.abs(grad) < 1e-80)


def test_a_dominant_class_keeps_all_its_digits():
    """Logits [100, 0, -100], class 0: (1 - q)^2 (-log q) = e^-300 (1 + O(e^-100)); log q taken as
    z - logsumexp(z) would keep 6 of its 50 digits (-log q = 3.7e-44 is a difference near 100)."""
    case = make(loss="categorical_focal", input={"logits": [[100.0, 0.0, -100.0]]}, target={"index": [0]},
                reduction="sum")
    exact = evaluate(case, "float64").exact
    assert abs(exact / MP.exp(-300) - 1) < MP.mpf("1e-40")
