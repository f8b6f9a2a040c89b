"""The regression and likelihood families: definitions, gradients, schema, readings.

Gradients come from central differences of each element at 50 digits; here
they are checked against the closed forms written out independently.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from conformance.families.regression import Knobs
from conformance.loader import load_cases
from conformance.oracle import evaluate, evaluate_gradient


@pytest.fixture
def case(write_cases):
    def make(text: str):
        # `expected` is not what these tests check: a placeholder of the output's shape.
        size = text.split("input: {", 1)[1].split("]", 1)[0].count(",") + 1
        placeholder = [0.0] * size if "reduction: none" in text else 0.0
        loaded = load_cases([write_cases(f"cases:\n  - id: c\n{text}    expected: {placeholder}\n")])
        assert not loaded.errors, loaded.errors
        return loaded.cases[0]
    return make


X = [0.3, -1.7, 2.5, 0.0, 4.0, -0.2]
Y = [0.1, 0.6, -1.0, 0.0, 1.5, 0.9]
CLOSED_FORM_GRADIENTS = {
    "squared_error": ("", lambda x, y: 2 * (x - y)),
    "absolute_error": ("", lambda x, y: np.sign(x - y)),
    "huber": ("delta: 1.5", lambda x, y: np.clip(x - y, -1.5, 1.5)),
    "smooth_l1": ("beta: 0.5", lambda x, y: np.clip((x - y) / 0.5, -1, 1)),
    "log_cosh": ("", lambda x, y: np.tanh(x - y)),
    "absolute_percentage_error": ("", lambda x, y: 100 * np.sign(x - y) / np.abs(y)),
}


def _lines(loss: str, options: str, x, y, input_kind="predictions", target_kind="values") -> str:
    extra = f"    {options}\n" if options else ""
    return (f"    loss: {loss}\n{extra}    input: {{{input_kind}: {x}}}\n"
            f"    target: {{{target_kind}: {y}}}\n")


@pytest.mark.parametrize("loss", sorted(CLOSED_FORM_GRADIENTS))
def test_gradient_matches_the_closed_form(case, loss):
    options, slope = CLOSED_FORM_GRADIENTS[loss]
    y = [v if loss != "absolute_percentage_error" or v else 1.0 for v in Y]
    made = case(_lines(loss, options, X, y))
    expected = slope(np.array(X), np.array(y)) / len(X)
    np.testing.assert_allclose(evaluate_gradient(made, "float64").as_float(), expected, rtol=1e-14, atol=1e-300)


def test_squared_log_error_and_poisson_gradients(case):
    x, y = [0.5, 2.0, 0.0], [1.0, 0.0, 3.0]
    msle = case(_lines("squared_log_error", "", x, y))
    xs, ys = np.array(x), np.array(y)
    np.testing.assert_allclose(evaluate_gradient(msle, "float64").as_float(),
                               2 * (np.log1p(xs) - np.log1p(ys)) / (1 + xs) / 3, rtol=1e-14)
    rates = case(_lines("poisson_nll", "reduction: sum", x[:2], y[:2], "rates", "counts"))
    np.testing.assert_allclose(evaluate_gradient(rates, "float64").as_float(), 1 - ys[:2] / xs[:2], rtol=1e-14)
    logs = case(_lines("poisson_nll", "reduction: sum", x, y, "log_rates", "counts"))
    np.testing.assert_allclose(evaluate_gradient(logs, "float64").as_float(), np.exp(xs) - ys, rtol=1e-14)


def test_gaussian_gradient_is_the_residual_over_the_variance(case):
    made = case(_lines("gaussian_nll", "variance: [0.5, 2.0, 1.0e-8]", [1.0, -1.0, 0.001], [0.0, 1.0, 0.0], "means"))
    np.testing.assert_allclose(evaluate_gradient(made, "float64").as_float(),
                               np.array([2.0, -1.0, 1e5]) / 3, rtol=1e-12)


def test_smooth_l1_is_huber_over_beta_and_l1_at_zero(case):
    x, y = [0.0, 0.5, 2.0, -3.0, 0.7], [0.0] * 5
    for beta in (0.5, 1.0, 2.0):
        smooth = evaluate(case(_lines("smooth_l1", f"beta: {beta}\n    reduction: none", x, y)), "float64")
        huber = evaluate(case(_lines("huber", f"delta: {beta}\n    reduction: none", x, y)), "float64")
        np.testing.assert_allclose(smooth.as_float(), huber.as_float() / beta, rtol=1e-15)
    l1 = evaluate(case(_lines("smooth_l1", "beta: 0.0\n    reduction: none", x, y)), "float64")
    np.testing.assert_array_equal(l1.as_float(), np.abs(x))


def test_poisson_full_is_the_exact_log_factorial(case):
    made = case(_lines("poisson_nll", "full: true\n    reduction: none", [0.0, 0.0, 0.0], [2.0, 5.0, 1.5],
                       "log_rates", "counts"))
    expected = [1 + math.lgamma(3), 1 + math.lgamma(6), 1 + math.lgamma(2.5)]
    np.testing.assert_allclose(evaluate(made, "float64").as_float(), expected, rtol=1e-15)


def test_log_cosh_is_exact_where_cosh_overflows(case):
    made = case(_lines("log_cosh", "reduction: none", [1000.0, 1e-4], [0.0, 0.0]))
    np.testing.assert_allclose(evaluate(made, "float64").as_float(),
                               [1000 - math.log(2), 1e-8 / 2 - 1e-16 / 12], rtol=1e-15)


def test_a_weighted_mean_divides_by_the_summed_weights(case):
    made = case(_lines("squared_error", "weight: [1.0, 3.0]", [1.0, 2.0], [0.0, 0.0]))
    assert float(evaluate(made, "float64").as_float()) == (1 + 12) / 4
    np.testing.assert_allclose(evaluate_gradient(made, "float64").as_float(), [2 / 4, 12 / 4], rtol=1e-15)


def test_schema_errors_name_the_field(write_cases):
    path = write_cases("cases:\n  - id: g\n    loss: gaussian_nll\n    input: {means: [0.0]}\n"
                       "    target: {values: [0.0]}\n    expected: 0.0\n"
                       "  - id: w\n    loss: squared_error\n    input: {predictions: [0.0, 1.0]}\n"
                       "    target: {values: [0.0, 1.0]}\n    weight: [1.0]\n    expected: 0.0\n")
    errors = {e.case_id: e for e in load_cases([path]).errors}
    assert errors["g"].field == "variance" and "needs `variance:`" in errors["g"].message
    assert errors["w"].field == "weight" and "input's shape [2]" in errors["w"].message
    assert errors["w"].line == 11


@pytest.mark.parametrize("knobs,words", [
    (Knobs(factor=0.5), "halves the loss"),
    (Knobs(row_reduce=True), "averages over the last axis first"),
    (Knobs(denominator="elements"), "divides the weighted mean by the number of elements"),
    (Knobs(stirling="le_1"), "set to 0 where y <= 1"),
])
def test_readings_are_described_in_words(case, knobs, words):
    made = case(_lines("poisson_nll", "full: true", [0.0], [2.0], "log_rates", "counts"))
    assert words in knobs.describe(made)


def test_readings_reproduce_what_the_apis_are_known_to_do(case):
    """The readings the interpretation search names compute what the catalog measured."""
    made = case(_lines("poisson_nll", "full: true\n    reduction: none", [0.0, 1.0, -2.0, 3.0], [0.0, 1.0, 2.0, 5.0],
                       "log_rates", "counts"))
    stirling = made.family.variant(made, "float64", Knobs(stirling="le_1"))
    np.testing.assert_allclose(stirling, [1, 1.7182818, 4.7871418, 9.8563840], rtol=1e-7)
    rates = case(_lines("poisson_nll", "", [0.0], [2.0], "rates", "counts"))
    assert float(rates.family.variant(rates, "float64", Knobs(eps=1e-8))) == pytest.approx(-2 * math.log(1e-8))
