"""The overlap families (Dice, Tversky): values and gradients in closed form, the groups,
the smoothing constants, the empty group, and the readings the interpretation tries."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conformance.exact import MP
from conformance.families.overlap import OverlapKnobs
from conformance.loader import load_cases
from conformance.oracle import evaluate, evaluate_gradient

# (N, C, L) = (2, 2, 3), classes on axis 1.
P = [[[0.9, 0.4, 0.2], [0.1, 0.6, 0.8]], [[0.3, 0.7, 0.5], [0.7, 0.3, 0.5]]]
Y = [[[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]], [[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]]]
LOGITS = [[[[1.0, -0.5], [0.2, 2.0]], [[0.0, 1.5], [-1.0, 0.3]], [[0.5, 0.1], [1.2, -0.7]]],
          [[[-0.3, 0.8], [1.1, 0.0]], [[2.0, -1.0], [0.4, 0.6]], [[0.1, 0.2], [-0.5, 1.7]]]]
INDEX = [[[0, 1], [2, 0]], [[1, 0], [0, 2]]]


def _case(write_cases, loss: str, extra: str = "", inputs: str = f"{{probs: {P}}}",
          target: str = f"{{probs: {Y}}}", expected: str = "0.0"):
    text = (f"cases:\n  - id: c\n    loss: {loss}\n    class_axis: 1\n    input: {inputs}\n"
            f"    target: {target}\n{extra}    expected: {expected}\n")
    loaded = load_cases([write_cases(text)])
    assert not loaded.errors, loaded.errors
    return loaded.cases[0]


def _closed_dice(p, y, sn=0.0, sd=0.0, squared=False):
    power = 2 if squared else 1
    return 1 - (2 * (p * y).sum() + sn) / ((p ** power).sum() + (y ** power).sum() + sd)


def _closed_tversky(p, y, alpha, beta, sn=0.0, sd=0.0):
    tp, fp, fn = (p * y).sum(), (p * (1 - y)).sum(), ((1 - p) * y).sum()
    return 1 - (tp + sn) / (tp + alpha * fp + beta * fn + sd)


def _groups(array: np.ndarray, over: str) -> list[np.ndarray]:
    """(N, C, L) -> the groups' elements, in the order of the loss's ``none`` output."""
    if over == "batch":
        return [array]
    if over == "sample":
        return list(array)
    if over == "channel":
        return [array[:, c] for c in range(array.shape[1])]
    return [array[n, c] for n in range(array.shape[0]) for c in range(array.shape[1])]


@pytest.mark.parametrize("over", ["batch", "sample", "sample_channel", "channel"])
def test_dice_groups_match_the_closed_form(write_cases, over):
    case = _case(write_cases, "dice", f"    overlap_over: {over}\n    reduction: sum\n")
    p, y = np.array(P), np.array(Y)
    want = sum(_closed_dice(a, b) for a, b in zip(_groups(p, over), _groups(y, over)))
    np.testing.assert_allclose(float(evaluate(case, "float64").as_float()), want, rtol=1e-14)


def test_dice_with_smoothing_and_squared_sums(write_cases):
    extra = ("    overlap_over: sample_channel\n    smooth_numerator: 1.0e-5\n    smooth_denominator: 2.0e-5\n"
             "    squared: true\n    reduction: none\n")
    case = _case(write_cases, "dice", extra, expected="[[0, 0], [0, 0]]")
    p, y = np.array(P), np.array(Y)
    want = [_closed_dice(a, b, 1e-5, 2e-5, squared=True)
            for a, b in zip(_groups(p, "sample_channel"), _groups(y, "sample_channel"))]
    np.testing.assert_allclose(evaluate(case, "float64").as_float().ravel(), want, rtol=1e-14)


def test_tversky_weighs_false_positives_by_alpha(write_cases):
    case = _case(write_cases, "tversky", "    overlap_over: sample_channel\n    alpha: 0.7\n    beta: 0.2\n"
                                         "    reduction: none\n", expected="[[0, 0], [0, 0]]")
    p, y = np.array(P), np.array(Y)
    want = [_closed_tversky(a, b, 0.7, 0.2)
            for a, b in zip(_groups(p, "sample_channel"), _groups(y, "sample_channel"))]
    np.testing.assert_allclose(evaluate(case, "float64").as_float().ravel(), want, rtol=1e-14)
    swapped = case.family.variant(case, "float64", OverlapKnobs(weights_swapped=True)).ravel()
    np.testing.assert_allclose(swapped, [_closed_tversky(a, b, 0.2, 0.7) for a, b in
                                         zip(_groups(p, "sample_channel"), _groups(y, "sample_channel"))])


def test_tversky_at_one_half_is_dice(write_cases):
    for over in ("batch", "sample_channel"):
        dice = _case(write_cases, "dice", f"    overlap_over: {over}\n")
        tversky = _case(write_cases, "tversky", f"    overlap_over: {over}\n")
        assert float(evaluate(dice, "float64").as_float()) == pytest.approx(
            float(evaluate(tversky, "float64").as_float()), rel=1e-15)


def test_an_empty_group_is_nan_without_smoothing_and_zero_with_it(write_cases):
    empty_p = [[[0.5, 1.0], [0.0, 0.0]], [[0.25, 0.75], [0.75, 0.25]]]
    empty_y = [[[1.0, 1.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]]]
    plain = _case(write_cases, "dice", "    overlap_over: sample_channel\n    reduction: none\n",
                  inputs=f"{{probs: {empty_p}}}", target=f"{{probs: {empty_y}}}", expected="[[0, 0], [0, 0]]")
    losses = evaluate(plain, "float64").as_float()
    assert math.isnan(losses[0, 1]) and np.isfinite(losses[[0, 1, 1], [0, 0, 1]]).all()
    smoothed = _case(write_cases, "dice", "    overlap_over: sample_channel\n    reduction: none\n"
                     "    smooth_numerator: 1.0e-5\n    smooth_denominator: 1.0e-5\n",
                     inputs=f"{{probs: {empty_p}}}", target=f"{{probs: {empty_y}}}", expected="[[0, 0], [0, 0]]")
    assert evaluate(smoothed, "float64").as_float()[0, 1] == 0.0
    # Keras' reading: 1e-7 in the denominator only gives loss 1.
    keras = plain.family.variant(plain, "float64", OverlapKnobs(smooth_denominator=1e-7))
    assert keras[0, 1] == 1.0


def _numerical_gradient(case) -> np.ndarray:
    """Central differences of the exact loss, on float64 inputs."""
    x = case.input.values.astype(np.float64)
    grad = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        h = 1e-6
        up, down = x.copy(), x.copy()
        up[index] += h
        down[index] -= h
        values = []
        for moved in (up, down):
            copy = case.with_input(case.input.kind, moved)
            exact = evaluate(copy, "float64").exact
            values.append(MP.fsum(np.asarray(exact, dtype=object).ravel()))
        grad[index] = float((values[0] - values[1]) / (2 * h))
    return grad


@pytest.mark.parametrize("loss,extra", [
    ("dice", "    overlap_over: batch\n"),
    ("dice", "    overlap_over: sample\n    reduction: sum\n"),
    ("dice", "    overlap_over: sample_channel\n    squared: true\n    smooth_numerator: 0.5\n"),
    ("dice", "    overlap_over: channel\n    include_background: false\n    smooth_denominator: 0.1\n"),
    ("tversky", "    overlap_over: sample_channel\n    alpha: 0.7\n    beta: 0.3\n"),
    ("tversky", "    overlap_over: sample\n    alpha: 0.2\n    beta: 0.9\n    include_background: false\n"),
])
def test_analytic_gradient_matches_numerical_differentiation(write_cases, loss, extra):
    for inputs, target in ((f"{{probs: {P}}}", f"{{probs: {Y}}}"), (f"{{logits: {LOGITS}}}", f"{{index: {INDEX}}}")):
        case = _case(write_cases, loss, extra, inputs=inputs, target=target)
        analytic = evaluate_gradient(case, "float64").as_float()
        np.testing.assert_allclose(analytic, _numerical_gradient(case), rtol=1e-7, atol=1e-9)


def test_the_epsilon_gradient_reading_is_the_gradient_with_that_constant(write_cases):
    case = _case(write_cases, "dice", "    overlap_over: sample_channel\n")
    with_constant = _case(write_cases, "dice", "    overlap_over: sample_channel\n    smooth_denominator: 1.0e-7\n")
    reading, _ = case.family.gradient(case, "float64", "denominator_plus_1e-7")
    direct, _ = with_constant.family.gradient(with_constant, "float64")
    np.testing.assert_array_equal(reading, direct)


def test_the_readings_are_what_apis_do(write_cases):
    case = _case(write_cases, "dice", "    overlap_over: sample_channel\n",
                 inputs=f"{{logits: {LOGITS}}}", target="{index: [[[0, 1], [1, 0]], [[1, 0], [0, 2]]]}")
    # kornia's macro average: class 2 is absent from sample 0's target and leaves its mean.
    knobs = OverlapKnobs(overlap_over="sample_channel_present")
    assert knobs in case.family.readings(case, "float64")
    per = case.family.variant(case.model_copy(update={"reduction": "none"}), "float64", OverlapKnobs())
    want = (per[0, :2].mean() + per[1].mean()) / 2
    np.testing.assert_allclose(case.family.variant(case, "float64", knobs), want, rtol=1e-14)
    assert "channels present in its target" in knobs.describe(case)
    words = OverlapKnobs(smooth_numerator=1e-5, smooth_denominator=1e-5).describe(case)
    assert words == "adds 1e-05 to the numerator and 1e-05 to the denominator"


def test_options_are_checked(write_cases):
    text = ("cases:\n  - id: c\n    loss: dice\n    input: {probs: [0.5, 0.5]}\n    target: {probs: [1.0, 0.0]}\n"
            "    overlap_over: sample\n    expected: 0.0\n")
    loaded = load_cases([write_cases(text)])
    assert loaded.errors and "needs a sample axis" in loaded.errors[0].message
    text = text.replace("overlap_over: sample", "smooth_numerator: -1.0")
    assert load_cases([write_cases(text)]).errors


def test_the_present_channels_gradient_reading_is_the_gradient_of_that_mean(write_cases):
    """kornia's macro mean leaves a channel absent from a sample's target out: its reading's
    gradient is the derivative of the variant that averages that way."""
    case = _case(write_cases, "dice", "    overlap_over: sample_channel\n",
                 inputs=f"{{logits: {LOGITS}}}", target="{index: [[[0, 1], [1, 0]], [[1, 0], [0, 2]]]}")
    knobs = OverlapKnobs(overlap_over="sample_channel_present")
    analytic = np.vectorize(float)(case.family.gradient(case, "float64", "present_channels_mean")[0])
    x = case.input.values.astype(np.float64)
    numerical = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += 1e-6
        down[index] -= 1e-6
        numerical[index] = (float(case.family.variant(case, "float64", knobs, up))
                            - float(case.family.variant(case, "float64", knobs, down))) / 2e-6
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-9)
    assert (analytic[0, :, :, :] != 0).all()  # the softmax couples the absent channel to the others
