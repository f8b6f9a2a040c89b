"""The multiclass and multilabel margin families: closed forms, gradients and readings."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.families.multiclass_margin import Knobs
from conformance.loader import load_cases
from conformance.oracle import evaluate, evaluate_gradient

S = [[0.1, 0.2, 0.4, 0.8], [0.5, -1.0, 2.0, 0.0], [-0.35, 1.7, 0.25, -2.0]]
Y = [3, 0, 1]


def _case(write_cases, loss: str, target: str, extra: str = "", expected: str = "0.0", scores=S):
    text = (f"cases:\n  - id: c\n    loss: {loss}\n    input: {{scores: {scores}}}\n"
            f"    target: {target}\n{extra}    expected: {expected}\n")
    loaded = load_cases([write_cases(text)])
    assert not loaded.errors, loaded.errors
    return loaded.cases[0]


def _values(case) -> np.ndarray:
    return np.asarray(evaluate(case, "float64").as_float(), dtype=float)


def _numeric_gradient(f, s: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(s)
    for index in np.ndindex(s.shape):
        up, down = s.copy(), s.copy()
        up[index] += h
        down[index] -= h
        grad[index] = (f(up) - f(down)) / (2 * h)
    return grad


def _crammer_singer(s, y):
    s = np.asarray(s)
    others = np.where(np.eye(s.shape[1])[y] == 1, -np.inf, s).max(axis=1)
    return np.maximum(0, 1 + others - s[np.arange(len(y)), y])


def _weston_watkins(s, y, p=1, margin=1.0, w=None):
    s = np.asarray(s)
    z = np.maximum(0, margin - s[np.arange(len(y)), y][:, None] + s) ** p
    z[np.arange(len(y)), y] = 0
    return (1.0 if w is None else np.asarray(w)[y]) * z.sum(axis=1)


def _soft_margin(s, t, w=None):
    s, t = np.asarray(s), np.asarray(t, float)
    terms = t * -np.logaddexp(0, -s) + (1 - t) * -np.logaddexp(0, s)
    return -((1.0 if w is None else np.asarray(w)) * terms).sum(axis=1) / s.shape[1]


def test_crammer_singer_value_and_gradient(write_cases):
    case = _case(write_cases, "multiclass_hinge", f"{{index: {Y}}}", "    reduction: sum\n")
    np.testing.assert_allclose(_values(case), _crammer_singer(S, Y).sum(), rtol=1e-14)
    numeric = _numeric_gradient(lambda s: _crammer_singer(s, Y).sum(), np.array(S))
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), numeric, atol=1e-8)


def test_one_hot_and_index_targets_agree(write_cases):
    one_hot = np.eye(4)[Y].astype(int).tolist()
    by_index = _case(write_cases, "multiclass_hinge", f"{{index: {Y}}}")
    by_rows = _case(write_cases, "multiclass_hinge", f"{{one_hot: {one_hot}}}")
    assert _values(by_index) == _values(by_rows)


def test_perceptron_is_the_hinge_without_its_margin(write_cases):
    case = _case(write_cases, "multiclass_perceptron", f"{{index: {Y}}}", "    reduction: none\n", "[0, 0, 0]")
    s = np.array(S)
    np.testing.assert_allclose(_values(case), s.max(axis=1) - s[np.arange(3), Y], rtol=1e-14)


@pytest.mark.parametrize("p, margin, weight", [(1, 1.0, None), (2, 0.75, None), (1, 1.0, [1.0, 2.0, 3.0, 4.0]),
                                               (2, 2.0, [0.5, 1.0, 1.5, 2.0])])
def test_weston_watkins_value_and_gradient(write_cases, p, margin, weight):
    extra = f"    reduction: sum\n    p: {p}\n    margin: {margin}\n" + (f"    weight: {weight}\n" if weight else "")
    case = _case(write_cases, "multi_margin", f"{{index: {Y}}}", extra)
    np.testing.assert_allclose(_values(case), _weston_watkins(S, Y, p, margin, weight).sum(), rtol=1e-14)
    numeric = _numeric_gradient(lambda s: _weston_watkins(s, Y, p, margin, weight).sum(), np.array(S))
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), numeric, atol=1e-7)


def test_multilabel_margin_lists_end_at_the_first_padding(write_cases):
    lists = [[3, 0, -1, 1], [1, 2, 3, -1], [-1, 2, -1, -1]]
    case = _case(write_cases, "multilabel_margin", f"{{index_lists: {lists}}}", "    reduction: none\n", "[0, 0, 0]")
    # Row 1: {3, 0} against {1, 2}; row 2: {1, 2, 3} against {0}; row 3: nothing listed.
    np.testing.assert_allclose(_values(case), [3.4, 4.0, 0.0], rtol=1e-14)
    counted = case.family.variant(case, "float64", Knobs(after_padding=True))
    s = np.array(S)
    row1 = sum(max(0, 1 - (s[0, j] - s[0, 2])) for j in (3, 0, 1))
    row3 = sum(max(0, 1 - (s[2, 2] - s[2, i])) for i in (0, 1, 3))
    np.testing.assert_allclose(counted, [row1, 4.0, row3], rtol=1e-14)


def test_multilabel_soft_margin_value_and_gradient(write_cases):
    t = [[0, 1, 0, 1], [1, 0, 1, 0], [0.5, 0.25, 1, 0]]
    w = [1.0, 2.0, 3.0, 0.5]
    case = _case(write_cases, "multilabel_soft_margin", f"{{probs: {t}}}", f"    reduction: sum\n    weight: {w}\n")
    np.testing.assert_allclose(_values(case), _soft_margin(S, t, w).sum(), rtol=1e-14)
    numeric = _numeric_gradient(lambda s: _soft_margin(s, t, w).sum(), np.array(S))
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), numeric, atol=1e-8)
    assert case.family.variant(case, "float64", Knobs(class_sum=True)) == pytest.approx(4 * _values(case))


def test_hinge_embedding_binary_labels_and_the_both_terms_reading(write_cases):
    text = ("cases:\n  - id: c\n    loss: hinge_embedding\n    reduction: none\n    margin: 1.5\n"
            "    input: {distances: [0.3, 2.0, -0.5, 0.7]}\n    target: {binary: [1, 0, 0, 1]}\n"
            "    expected: [0.3, 0.0, 2.0, 0.7]\n")
    loaded = load_cases([write_cases(text)])
    assert not loaded.errors, loaded.errors
    case = loaded.cases[0]
    np.testing.assert_allclose(_values(case), [0.3, 0.0, 2.0, 0.7], rtol=1e-15)
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), [1.0, 0.0, -1.0, 1.0])
    both = case.family.variant(case, "float64", Knobs(labels_as_given=True))
    np.testing.assert_allclose(both, [0.3, 2.0, 1.5, 0.7], rtol=1e-15)
    assert "adds both terms" in Knobs(labels_as_given=True).describe(case)


def test_keras_reading_of_all_negative_scores(write_cases):
    case = _case(write_cases, "multiclass_hinge", "{index: [1]}", "    reduction: none\n", "[0.0]",
                 scores=[[-3.0, -2.0, -5.0]])
    assert _values(case).tolist() == [0.0]
    np.testing.assert_allclose(case.family.variant(case, "float64", Knobs(true_class_in_max=True)), [3.0])
    assert case.family.variant(case, "float64", Knobs(per_class_mean=True)).tolist() == [0.0]


def test_torch_per_class_reading_divides_by_c(write_cases):
    case = _case(write_cases, "multi_margin", f"{{index: {Y}}}", "    reduction: none\n", "[0, 0, 0]")
    np.testing.assert_allclose(case.family.variant(case, "float64", Knobs(per_class_mean=True)),
                               _weston_watkins(S, Y) / 4, rtol=1e-15)


@pytest.mark.parametrize("loss, target, message", [
    ("multiclass_hinge", "{one_hot: [[0, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 1]]}", "exactly one 1"),
    ("multiclass_hinge", "{index: [3, 0, 4]}", "outside [0, 4)"),
    ("multilabel_margin", "{index_lists: [[1, 1, -1, -1], [0, -1, -1, -1], [2, -1, -1, -1]]}", "listed twice"),
    ("multilabel_margin", "{index_lists: [[1, -2, -1, -1], [0, -1, -1, -1], [2, -1, -1, -1]]}", "padded with -1"),
])
def test_malformed_targets_are_refused(write_cases, loss, target, message):
    text = (f"cases:\n  - id: c\n    loss: {loss}\n    input: {{scores: {S}}}\n"
            f"    target: {target}\n    expected: 0.0\n")
    loaded = load_cases([write_cases(text)])
    assert loaded.errors and message in str(loaded.errors[0])


def test_large_scores_keep_their_gradient(write_cases):
    """Central differences relative to the row's scale: 1e30 does not swallow the step."""
    case = _case(write_cases, "multi_margin", "{index: [2]}", "    reduction: sum\n", "3.0e30",
                 scores=[[1.0e30, 0.0, -1.0e30]])
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), [[1.0, 1.0, -2.0]], rtol=1e-12)
