"""Keras 3 bindings of the cosine similarity (``keras.losses``).

Keras has ``CosineSimilarity`` (class) and ``cosine_similarity`` (function),
taking ``(y_true, y_pred)``. Both return the **negative** cosine, ``-sum(l2_norm(
y_true) * l2_norm(y_pred))`` as their documentation states, so that minimising it
maximises the similarity: a constant factor -1 the faithful glue undoes
(``keras.ops.negative``, exact), as the optax ``l2_loss`` glue undoes its 1/2;
``as_is`` shows the sign. ``l2_norm`` is ``keras.ops.normalize``: ``x *
min(rsqrt(sum(x^2)), 1 / epsilon)`` with ``epsilon = backend.epsilon() = 1e-7``,
i.e. each norm clamped at 1e-7, and a zero vector gives 0. The faithful call
names the case's feature axis (``axis=``), passes the run's ``dtype`` to the
class (it computes in floatx otherwise) and lets the class reduce; the
function's per-position output is reduced by the glue (float64, rounding once).
Keras has no cosine distance, cosine embedding or triplet loss.

The declarations are listed by :func:`conformance.adapters.keras.on_backend`
for each backend. This module imports nothing of Keras.
"""

from __future__ import annotations

from conformance.adapters.keras_regression import CLASS_DOCS, FUNCTION_DOCS, OPS, V
from conformance.binding import Binding, Inherits
from conformance.case import Expectation
from conformance.recipe import RecipeWriter, kwargs
from conformance.tolerance import Bound

# On the torch backend, keras.backend.result_type("float64", float) is float32 (a Python float is
# weakly typed, and float64 maps to float32 there), so ops.normalize's minimum(rsqrt(...), 1 / epsilon)
# returns the inverse norms in float32 for float64 input.
NORMALIZE_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["torch"],
    link=f"{V}/backend/torch/numpy.py#L1320-L1331",
    reason="ops.normalize computes inv_norm = minimum(rsqrt(sum(x^2)), 1 / epsilon); on the torch backend "
           "minimum casts both to result_type(float64, float) = float32 (torch/numpy.py minimum), so the inverse "
           "norms of float64 vectors are rounded to float32 and every float64 cosine carries float32 rounding; "
           "the class's mean also divides in float32 (divide_no_nan).")


def _axis(w: RecipeWriter) -> int | None:
    return None if w.as_is else w.case.axis


def _write_class(w: RecipeWriter) -> None:
    reduction = {"none": "None", "sum": '"sum"'}.get(w.case.reduction)
    options = kwargs(axis=_axis(w), reduction=reduction, dtype=repr(w.dtype)).removeprefix(", ")
    call = f"keras.losses.CosineSimilarity({options})({w.target()}, {w.input()})"
    w.emit(f"loss = {call}" if w.as_is else f"loss = keras.ops.negative({call})")


def _write_function(w: RecipeWriter) -> None:
    call = f"keras.losses.cosine_similarity({w.target()}, {w.input()}{kwargs(axis=_axis(w))})"
    w.emit(f"per_position = {call}" if w.as_is else f"per_position = keras.ops.negative({call})")
    w.reduce("per_position", OPS)


_READS = ("reads (y_true, y_pred) and returns -cos, the negative cosine along axis=-1, with each norm clamped "
          "at 1e-7 (normalize: x * min(rsqrt(sum x^2), 1e7)){}")
_PROFILE = {"cosine_sign": "-cos", "cosine_guard": "each norm clamped at 1e-7", "cosine_axis": "last"}
_INPUTS, _TARGETS = frozenset({"embeddings"}), frozenset({"references"})

BINDINGS = (
    Binding("keras.CosineSimilarity", "cosine_similarity", _INPUTS, _TARGETS, _write_class,
            reads=_READS.format("; the mean over the positions (sum_over_batch_size)"),
            doc=CLASS_DOCS.format(page="regression", anchor="cosinesimilarity"), profile=_PROFILE,
            deviations=(NORMALIZE_IN_FLOAT32,)),
    Binding("keras.losses.cosine_similarity", "cosine_similarity", _INPUTS, _TARGETS, _write_function,
            reads=_READS.format(", one per position"),
            doc=FUNCTION_DOCS.format(page="regression", anchor="cosinesimilarity"), profile=_PROFILE,
            deviations=(NORMALIZE_IN_FLOAT32,), documented_by=(Inherits("keras.CosineSimilarity", shared_only=True),)),
)
