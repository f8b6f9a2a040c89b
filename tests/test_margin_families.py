"""The binary margin families: labels as ±1 or {0, 1}, values and gradients in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.families.regression import Knobs
from conformance.loader import load_cases
from conformance.oracle import evaluate, evaluate_gradient

S = [0.3, -0.2, 2.5, -1.7, 0.9]
Y = [1, 1, -1, -1, 1]
CLOSED_FORMS = {
    "hinge": (lambda m: np.maximum(0, 1 - m), lambda m, y: np.where(m < 1, -y, 0.0)),
    "squared_hinge": (lambda m: np.maximum(0, 1 - m) ** 2, lambda m, y: -2 * y * np.maximum(0, 1 - m)),
    "perceptron": (lambda m: np.maximum(0, -m), lambda m, y: np.where(m < 0, -y, 0.0)),
    "soft_margin": (lambda m: np.log1p(np.exp(-m)), lambda m, y: -y / (1 + np.exp(m))),
}


def _case(write_cases, loss: str, target: dict, extra: str = "", expected: str = "0.0"):
    text = (f"cases:\n  - id: c\n    loss: {loss}\n    input: {{scores: {S}}}\n"
            f"    target: {target}\n{extra}    expected: {expected}\n")
    loaded = load_cases([write_cases(text)])
    assert not loaded.errors, loaded.errors
    return loaded.cases[0]


@pytest.mark.parametrize("loss", sorted(CLOSED_FORMS))
def test_value_and_gradient_match_the_closed_form(write_cases, loss):
    value, slope = CLOSED_FORMS[loss]
    case = _case(write_cases, loss, {"signs": Y}, "    reduction: sum\n")
    s, y = np.array(S), np.array(Y, float)
    np.testing.assert_allclose(float(evaluate(case, "float64").as_float()), value(y * s).sum(), rtol=1e-14)
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), slope(y * s, y), rtol=1e-14)


@pytest.mark.parametrize("loss", sorted(CLOSED_FORMS))
def test_binary_labels_are_signs_two_t_minus_one(write_cases, loss):
    binary = [(v + 1) // 2 for v in Y]
    as_signs = _case(write_cases, loss, {"signs": Y})
    as_binary = _case(write_cases, loss, {"binary": binary})
    assert float(evaluate(as_signs, "float64").as_float()) == float(evaluate(as_binary, "float64").as_float())


def test_the_label_readings_are_what_apis_do(write_cases):
    """A 0 label taken as it is costs 1 in the hinge; converted it is a -1."""
    case = _case(write_cases, "hinge", {"binary": [0, 1, 0, 1, 1]}, "    reduction: none\n", "[0, 0, 0, 0, 0]")
    taken = case.family.variant(case, "float64", Knobs(labels="signs"))
    np.testing.assert_allclose(taken, [1.0, 1.2, 1.0, 2.7, 0.1])
    assert "takes the {0, 1} labels as they are" in Knobs(labels="signs").describe(case)
