"""The NumPy reference of the similarity families: each canonical formula by hand.

Vectors are compared along the case's feature axis in float64 (the dtype's
values are exact in it) and each position's value is rounded to the dtype once,
then reduced as :mod:`conformance.adapters.numpy_regression` reduces (summed in
float64, rounded once). A careful user scales each vector by its largest
magnitude before squaring, so that no squared norm overflows or underflows:
``cos = (x/|x|_max) . (y/|y|_max) / (|x/|x|_max| |y/|y|_max|)``; a zero vector
is 0/0 = NaN, as the canonical definition says. Distances are
``np.linalg.norm(u - v, ord=p, axis=-1)`` in float64 (|.| inside the sum).
No eps anywhere.

This module imports NumPy only inside recipe strings.
"""

from __future__ import annotations

from conformance.adapters.numpy_regression import faithful_only, reduce_elements
from conformance.binding import Binding
from conformance.recipe import RecipeWriter

DOCS = "https://numpy.org/doc/stable/reference/generated/numpy.{}.html"


def _cosine(w: RecipeWriter) -> str:
    axis = w.case.axis
    w.emit(f"x = {w.input()}.astype(np.float64)")
    w.emit(f"y = {w.target()}.astype(np.float64)")
    # Scaled by the largest magnitude: the squares can neither overflow nor underflow.
    w.emit(f"x = x / np.max(np.abs(x), axis={axis}, keepdims=True)")
    w.emit(f"y = y / np.max(np.abs(y), axis={axis}, keepdims=True)")
    w.emit(f"cosine = np.sum(x * y, axis={axis}) / np.sqrt(np.sum(x * x, axis={axis}) * np.sum(y * y, axis={axis}))")
    return "cosine"


def _finish(w: RecipeWriter, per: str) -> None:
    w.emit(f"per_position = np.asarray({per}).astype({w.dtype!r})")
    reduce_elements(w, "per_position", None)


def _write_cosine_similarity(w: RecipeWriter) -> None:
    _finish(w, _cosine(w))


def _write_cosine_distance(w: RecipeWriter) -> None:
    _finish(w, f"1 - {_cosine(w)}")


def _write_cosine_embedding(w: RecipeWriter) -> None:
    cosine = _cosine(w)
    labels = w.floats("labels", w.case.option("labels"))
    margin = repr(float(w.case.option("margin")))
    _finish(w, f"np.where({labels} == 1, 1 - {cosine}, np.maximum({cosine} - {margin}, 0))")


def _write_triplet(w: RecipeWriter) -> None:
    case = w.case
    negatives = w.floats("negatives", case.option("negatives"))
    a, p = f"{w.input()}.astype(np.float64)", f"{w.target()}.astype(np.float64)"
    n, degree = f"{negatives}.astype(np.float64)", repr(float(case.option("p")))
    w.emit(f"positive = np.linalg.norm({a} - {p}, ord={degree}, axis=-1)")
    w.emit(f"negative = np.linalg.norm({a} - {n}, ord={degree}, axis=-1)")
    if case.option("swap"):
        w.emit(f"negative = np.minimum(negative, np.linalg.norm({p} - {n}, ord={degree}, axis=-1))")
    _finish(w, f"np.maximum(positive - negative + {float(case.option('margin'))!r}, 0)")


_EMBEDDINGS, _REFERENCES = frozenset({"embeddings"}), frozenset({"references"})

BINDINGS = (
    Binding("numpy.cosine_similarity", "cosine_similarity", _EMBEDDINGS, _REFERENCES, _write_cosine_similarity,
            reads="the canonical formula x . y / (|x| |y|), vectors scaled by their largest magnitude first",
            doc=DOCS.format("sum"), limits=faithful_only),
    Binding("numpy.cosine_distance", "cosine_distance", _EMBEDDINGS, _REFERENCES, _write_cosine_distance,
            reads="the canonical formula 1 - x . y / (|x| |y|)", doc=DOCS.format("sum"), limits=faithful_only),
    Binding("numpy.cosine_embedding", "cosine_embedding", _EMBEDDINGS, frozenset({"pairs"}),
            _write_cosine_embedding, options=frozenset({"labels", "margin"}),
            reads="the canonical formula: 1 - cos where y = 1, max(0, cos - margin) where y = -1",
            doc=DOCS.format("where"), limits=faithful_only),
    Binding("numpy.triplet_margin", "triplet_margin", frozenset({"anchors"}), frozenset({"positives"}),
            _write_triplet, options=frozenset({"negatives", "margin", "p", "swap"}),
            reads="the canonical formula max(0, |a - p|_p - |a - n|_p + margin) (with swap, min(|a - n|_p, "
                  "|p - n|_p))", doc="https://numpy.org/doc/stable/reference/generated/numpy.linalg.norm.html",
            limits=faithful_only),
)
