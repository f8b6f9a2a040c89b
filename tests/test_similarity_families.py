"""The similarity families: values and gradients in closed form, the guards APIs add as readings,
and the cross-field rules of their cases."""

from __future__ import annotations

import numpy as np
import pytest

from conformance.exact import MP, total
from conformance.families.similarity import SimilarityKnobs
from conformance.loader import load_cases
from conformance.oracle import evaluate, evaluate_gradient
from tests.conftest import REPO

X = [[1.0, 0.0], [3.0, 4.0], [1.0, 2.0], [-0.5, 2.5]]
Y = [[1.0, 1.0], [4.0, 3.0], [-1.0, 2.0], [2.0, -1.5]]


def _load(write_cases, body: str):
    loaded = load_cases([write_cases("cases:\n  - id: c\n" + body)])
    assert not loaded.errors, loaded.errors
    return loaded.cases[0]


def _errors(write_cases, body: str) -> str:
    loaded = load_cases([write_cases("cases:\n  - id: c\n" + body)])
    return " ".join(str(e) for e in loaded.errors)


def _cosines(x, y):
    x, y = np.asarray(x), np.asarray(y)
    return (x * y).sum(-1) / np.sqrt((x * x).sum(-1) * (y * y).sum(-1))


def _cosine_slopes(x, y):
    x, y = np.asarray(x), np.asarray(y)
    nx, ny = np.linalg.norm(x, axis=-1, keepdims=True), np.linalg.norm(y, axis=-1, keepdims=True)
    return y / (nx * ny) - _cosines(x, y)[:, None] * x / nx ** 2


def _numerical_gradient(case, step: float = 1e-7) -> np.ndarray:
    """Central differences of the oracle's exact value (the steps taken exactly in mpmath)."""
    x = case.input.values.astype(np.float64)
    grad = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] += step
        down[index] -= step
        values = []
        for moved in (up, down):
            exact = evaluate(case.with_input(case.input.kind, moved), "float64").exact
            values.append(total(exact) if isinstance(exact, np.ndarray) else exact)
        grad[index] = float((values[0] - values[1]) / (MP.mpf(float(up[index])) - MP.mpf(float(down[index]))))
    return grad


def test_cosine_similarity_and_distance_match_the_closed_form(write_cases):
    similarity = _load(write_cases, f"    loss: cosine_similarity\n    input: {{embeddings: {X}}}\n"
                                    f"    target: {{references: {Y}}}\n    reduction: none\n    expected: [0, 0, 0, 0]\n")
    distance = _load(write_cases, f"    loss: cosine_distance\n    input: {{embeddings: {X}}}\n"
                                  f"    target: {{references: {Y}}}\n    reduction: sum\n    expected: 0\n")
    np.testing.assert_allclose(evaluate(similarity, "float64").as_float(), _cosines(X, Y), rtol=1e-15)
    np.testing.assert_allclose(float(evaluate(distance, "float64").as_float()), (1 - _cosines(X, Y)).sum(), rtol=1e-15)
    np.testing.assert_allclose(evaluate_gradient(similarity, "float64").as_float(), _cosine_slopes(X, Y), rtol=1e-14)
    np.testing.assert_allclose(evaluate_gradient(distance, "float64").as_float(), -_cosine_slopes(X, Y), rtol=1e-14)


def test_the_feature_axis_is_the_cases_class_axis(write_cases):
    case = _load(write_cases, f"    loss: cosine_similarity\n    class_axis: 0\n"
                              f"    input: {{embeddings: {np.transpose(X).tolist()}}}\n"
                              f"    target: {{references: {np.transpose(Y).tolist()}}}\n    reduction: none\n"
                              "    expected: [0, 0, 0, 0]\n")
    np.testing.assert_allclose(evaluate(case, "float64").as_float(), _cosines(X, Y), rtol=1e-15)
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), _cosine_slopes(X, Y).T, rtol=1e-14)


def test_a_zero_vector_has_no_cosine(write_cases):
    case = _load(write_cases, "    loss: cosine_similarity\n    input: {embeddings: [[0.0, 0.0], [1.0, 0.0]]}\n"
                              "    target: {references: [[1.0, 0.0], [1.0, 0.0]]}\n    reduction: none\n"
                              "    expected: [.nan, 1.0]\n")
    value = evaluate(case, "float64").as_float()
    assert np.isnan(value[0]) and value[1] == 1.0
    assert np.isnan(evaluate_gradient(case, "float64").as_float()[0]).all()


@pytest.mark.parametrize("margin", [0.0, 0.5, -0.5])
def test_cosine_embedding_matches_the_closed_form(write_cases, margin):
    labels = [1.0, -1.0, -1.0, 1.0]
    case = _load(write_cases, f"    loss: cosine_embedding\n    input: {{embeddings: {X}}}\n"
                              f"    target: {{pairs: {Y}}}\n    labels: {labels}\n    margin: {margin}\n"
                              "    reduction: none\n    expected: [0, 0, 0, 0]\n")
    c, y = _cosines(X, Y), np.array(labels)
    np.testing.assert_allclose(evaluate(case, "float64").as_float(),
                               np.where(y == 1, 1 - c, np.maximum(c - margin, 0)), rtol=1e-15, atol=1e-16)
    slope = np.where((y == 1)[:, None], -_cosine_slopes(X, Y), _cosine_slopes(X, Y) * (c > margin)[:, None])
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), slope, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), _numerical_gradient(case),
                               rtol=1e-9, atol=1e-12)


A = [[0.0, 0.0], [1.0, 1.0], [0.5, -2.0]]
P = [[0.3, 0.4], [1.5, 0.5], [0.0, -1.0]]
N = [[1.0, 0.0], [0.0, 1.0], [0.7, -1.5]]


@pytest.mark.parametrize(("p", "swap"), [(2.0, False), (1.0, False), (3.0, False), (2.0, True)])
def test_triplet_matches_the_closed_form(write_cases, p, swap):
    case = _load(write_cases, f"    loss: triplet_margin\n    input: {{anchors: {A}}}\n    target: {{positives: {P}}}\n"
                              f"    negatives: {N}\n    p: {p}\n    swap: {str(swap).lower()}\n    margin: 1.5\n"
                              "    reduction: none\n    expected: [0, 0, 0]\n")
    a, pos, neg = np.array(A), np.array(P), np.array(N)

    def d(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (np.abs(u - v) ** p).sum(-1) ** (1 / p)

    negative = np.minimum(d(a, neg), d(pos, neg)) if swap else d(a, neg)
    np.testing.assert_allclose(evaluate(case, "float64").as_float(), np.maximum(d(a, pos) - negative + 1.5, 0),
                               rtol=1e-14)
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), _numerical_gradient(case),
                               rtol=1e-8, atol=1e-10)


def test_the_readings_reproduce_what_the_apis_return(write_cases):
    tiny = _load(write_cases, "    loss: cosine_similarity\n    input: {embeddings: [[1.0e-9, 0.0]]}\n"
                              "    target: {references: [[100.0, 0.0]]}\n    reduction: none\n    expected: [1.0]\n")
    family = tiny.family
    assert family.variant(tiny, "float64", SimilarityKnobs(norm_floor=1e-8)) == pytest.approx([0.1])  # torch
    keras = SimilarityKnobs(norm_floor=1e-7).merge(SimilarityKnobs(factor=-1.0))
    assert family.variant(tiny, "float64", keras) == pytest.approx([-0.01])  # Keras
    assert "clamps each norm at 1e-08" in SimilarityKnobs(norm_floor=1e-8).describe(tiny)
    pair = _load(write_cases, "    loss: cosine_embedding\n    input: {embeddings: [[1.0e-7, 0.0]]}\n"
                              "    target: {pairs: [[1.0, 0.0]]}\n    labels: [1.0]\n    reduction: none\n"
                              "    expected: [0.0]\n")
    torch_value = pair.family.variant(pair, "float64", SimilarityKnobs(squared_added=1e-12))
    np.testing.assert_allclose(torch_value, [1 - 1e-7 / np.sqrt((1e-14 + 1e-12) * (1 + 1e-12))], rtol=1e-12)
    triplets = _load(write_cases, "    loss: triplet_margin\n    input: {anchors: [[0.0, 0.0], [1.0, 1.0]]}\n"
                                  "    target: {positives: [[0.1, 0.1], [1.1, 1.1]]}\n"
                                  "    negatives: [[1.0, 0.0], [0.0, 1.0]]\n    p: 1.0\n    reduction: none\n"
                                  "    expected: [0.2, 0.2]\n")
    signed = SimilarityKnobs(signed_differences=True).merge(SimilarityKnobs(root_added=1e-6))
    np.testing.assert_allclose(triplets.family.variant(triplets, "float64", signed), [1.8, 0.0], atol=1e-5)  # optax
    np.testing.assert_allclose(triplets.family.variant(triplets, "float64", SimilarityKnobs(difference_added=1e-6)),
                               [0.199998, 0.199996], atol=1e-9)  # torch
    assert triplets.family.variant(triplets, "float64", SimilarityKnobs()) == pytest.approx([0.2, 0.2])


def test_the_cases_rules(write_cases):
    body = ("    loss: cosine_embedding\n    input: {embeddings: [[1.0, 0.0]]}\n    target: {pairs: [[1.0, 1.0]]}\n"
            "    expected: 0.0\n")
    assert "needs `labels:`" in _errors(write_cases, body)
    assert "1 (similar) or -1" in _errors(write_cases, body + "    labels: [0.0]\n")
    assert "one entry per pair" in _errors(write_cases, body + "    labels: [1.0, 1.0]\n")
    triplet = ("    loss: triplet_margin\n    input: {anchors: [[0.0, 0.0]]}\n    target: {positives: [[1.0, 0.0]]}\n"
               "    expected: 0.0\n")
    assert "needs `negatives:`" in _errors(write_cases, triplet)
    assert "anchors' shape" in _errors(write_cases, triplet + "    negatives: [[1.0, 0.0, 0.0]]\n")
    assert "features last" in _errors(write_cases, triplet.replace("[[0.0, 0.0]]", "[[[0.0, 0.0]]]")
                                      .replace("[[1.0, 0.0]]", "[[[1.0, 0.0]]]") + "    negatives: [[[1.0, 1.0]]]\n")


def test_the_default_axis_reading_is_torchs_dim_1(write_cases):
    case = _load(write_cases, "    loss: cosine_similarity\n"
                              "    input: {embeddings: [[[1.0, 0.0], [3.0, 4.0], [1.0, 2.0]]]}\n"
                              "    target: {references: [[[1.0, 1.0], [4.0, 3.0], [-1.0, 2.0]]]}\n"
                              "    expected: 0.7557022603955158\n")
    readings = case.family.readings(case, "float64")
    assert SimilarityKnobs(feature_axis=1) in readings
    along_1 = case.family.variant(case, "float64", SimilarityKnobs(feature_axis=1))
    assert float(along_1) == pytest.approx((12 / np.sqrt(198) + 16 / np.sqrt(280)) / 2, rel=1e-15)
    assert float(case.family.variant(case, "float64", SimilarityKnobs())) == pytest.approx(0.7557022603955158,
                                                                                          rel=1e-15)


def test_the_cosine_embedding_kink_takes_the_mean_of_the_two_sides(write_cases):
    case = _load(write_cases, "    loss: cosine_embedding\n    input: {embeddings: [[1.0, 2.0]]}\n"
                              "    target: {pairs: [[-2.0, 1.0]]}\n    labels: [-1.0]\n    reduction: sum\n"
                              "    expected: 0.0\n")
    np.testing.assert_allclose(evaluate_gradient(case, "float64").as_float(), [[-0.2, 0.1]], rtol=1e-15)


def _as_floats(grad: np.ndarray) -> np.ndarray:
    return np.vectorize(float, otypes=[float])(grad)


def _assert_analytic_is_numerical(case, dtype: str) -> None:
    """The triplet family's analytic gradient against the base class's 50-digit central differences."""
    from conformance.families.base import Family

    analytic, analytic_scale = case.family.gradient(case, dtype)
    numerical, numerical_scale = Family.gradient(case.family, case, dtype)
    assert analytic_scale == numerical_scale
    np.testing.assert_allclose(_as_floats(analytic), _as_floats(numerical), rtol=1e-14, atol=1e-15,
                               err_msg=f"{case.id} [{dtype}]")


@pytest.mark.parametrize(("p", "swap"), [(2.0, False), (1.0, False), (1.5, False), (3.0, True), (1.0, True)])
def test_the_triplet_gradient_at_its_kinks_is_the_numerical_one(write_cases, p, swap):
    # Row by row: a zero distance (anchor = positive), a zero coordinate difference, the hinge's
    # kink exactly (1 - 2 + 1 = 0 under every p), a swap's tie (d(a, n) = d(p, n) = 1), a smooth row.
    # The one-sided slopes matter where two kinks meet: a central difference sees both.
    # The last row: under p = 1 a zero coordinate difference at the hinge's kink (1 - 2 + 1 = 0).
    anchors = [[0.5, -1.0], [0.0, 1.0], [0.0, 0.0], [0.0, 0.0], [0.3, 0.7], [0.0, 0.0]]
    positives = [[0.5, -1.0], [1.0, 1.0], [1.0, 0.0], [2.0, 0.0], [-0.4, 1.1], [1.0, 0.0]]
    negatives = [[1.5, 0.0], [-0.5, 1.5], [2.0, 0.0], [1.0, 0.0], [0.9, -0.2], [1.5, 0.5]]
    for reduction, expected in (("none", [0] * len(anchors)), ("mean", 0)):
        case = _load(write_cases, f"    loss: triplet_margin\n    input: {{anchors: {anchors}}}\n"
                                  f"    target: {{positives: {positives}}}\n    negatives: {negatives}\n"
                                  f"    p: {p}\n    swap: {str(swap).lower()}\n    reduction: {reduction}\n"
                                  f"    expected: {expected}\n")
        _assert_analytic_is_numerical(case, "float64")


def test_the_triplet_gradient_of_every_case_is_the_numerical_one():
    loaded = load_cases([REPO / "cases/similarity", REPO / "cases/probes/similarity.yaml",
                         REPO / "cases/as_is/similarity.yaml"])
    triplets = [c for c in loaded.cases if c.loss == "triplet_margin"]
    assert triplets
    for case in triplets:
        for dtype in ("float16", "bfloat16", "float32", "float64"):
            _assert_analytic_is_numerical(case, dtype)
