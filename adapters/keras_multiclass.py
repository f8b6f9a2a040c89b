"""Keras 3 bindings of the multiclass hinge (``keras.losses.CategoricalHinge`` / ``categorical_hinge``).

Both take ``(y_true, y_pred)`` with one-hot ``y_true`` and compute, per sample,
``maximum(neg - pos + 1, 0)`` with ``neg = max((1 - y_true) * y_pred)`` and ``pos =
sum(y_true * y_pred)``: the Crammer-Singer hinge, except that the true class's
score enters ``neg`` as 0 (keras-team/keras#8083), so a sample whose other scores
are all below 0 costs ``1 - s_y`` instead of ``max(0, 1 + max_{j != y} s_j - s_y)``.
Class-index targets are given as ``keras.ops.one_hot(target, C)`` (data movement,
in both modes). The class computes in the run's ``dtype`` and reduces over the
samples itself; the function returns one loss per sample and the glue reduces it
(in float64, rounding once). Keras has no multiclass perceptron, no Weston-Watkins
loss and no multilabel margin loss.

The declarations are listed by :func:`conformance.adapters.keras.on_backend`
for each backend. This module imports nothing of Keras.
"""

from __future__ import annotations

from conformance.adapters.keras_regression import CLASS_DOCS, FUNCTION_DOCS, OPS, V
from conformance.binding import Binding, Inherits
from conformance.case import Case, Expectation
from conformance.recipe import RecipeWriter, kwargs
from conformance.tolerance import Bound

# ops.maximum on the torch backend casts both arguments to result_type(float64, float64), which
# keras maps to float32 (common/dtypes.py BIT64_TO_BIT32_DTYPE): the last step of
# categorical_hinge rounds a float64 loss to float32 there. Its gradient is a 0/1 mask: exact.
MAXIMUM_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), category="precision", dtypes=["float64"], backends=["torch"],
    link=f"{V}/backend/torch/numpy.py#L1252-L1263",
    reason="categorical_hinge ends with ops.maximum(neg - pos + 1.0, zero); on the torch backend maximum "
           "converts both arguments to dtypes.result_type(float64, float64), and keras' result_type maps "
           "64-bit types to 32-bit ones (BIT64_TO_BIT32_DTYPE, 'to be aligned with JAX's default'), so "
           "the float64 loss comes back as float32 (measured: 0.6 -> 0.6000000238).")


def _one_hot(w: RecipeWriter) -> str:
    """y_true as one-hot rows: index targets through keras.ops.one_hot (exact)."""
    target = w.target()
    if w.case.target.kind == "index":
        w.emit(f"one_hot = keras.ops.one_hot({target}, {w.case.num_classes}, dtype={w.dtype!r})")
        return "one_hot"
    return target


def _write_class(w: RecipeWriter) -> None:
    reduction = {"none": "None", "sum": '"sum"'}.get(w.case.reduction)
    options = kwargs(reduction=reduction, dtype=repr(w.dtype)).removeprefix(", ")
    w.emit(f"loss = keras.losses.CategoricalHinge({options})({_one_hot(w)}, {w.input()})")


def _write_function(w: RecipeWriter) -> None:
    w.emit(f"per_sample = keras.losses.categorical_hinge({_one_hot(w)}, {w.input()})")
    w.reduce("per_sample", OPS)


def _rows(case: Case) -> str | None:
    return None if case.ndim <= 2 else "takes (C,) or (N, C) scores"


_COMMON = dict(inputs=frozenset({"scores"}), targets=frozenset({"index", "one_hot"}), limits=_rows,
               reads="reads (y_true, y_pred) with one-hot y_true and returns max(max((1 - t) s) - sum(t s) + 1, 0) "
                     "per sample: the true class enters the max over the other classes as 0",
               profile={"multiclass_true_class": "enters as 0 (max of (1 - t) s)"},
               deviations=(MAXIMUM_IN_FLOAT32,))

BINDINGS = (
    Binding("keras.CategoricalHinge", "multiclass_hinge", write=_write_class,
            doc=CLASS_DOCS.format(page="hinge", anchor="categoricalhinge"), **_COMMON),
    Binding("keras.losses.categorical_hinge", "multiclass_hinge", write=_write_function,
            doc=FUNCTION_DOCS.format(page="hinge", anchor="categoricalhinge"),
            documented_by=(Inherits("keras.CategoricalHinge", shared_only=True),), **_COMMON),
)
