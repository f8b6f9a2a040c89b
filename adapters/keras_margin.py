"""Keras 3 bindings of the binary margin families (``keras.losses``).

Keras has the hinge (``keras.losses.Hinge`` / ``keras.losses.hinge``) and the
squared hinge (``SquaredHinge`` / ``squared_hinge``), both taking
``(y_true, y_pred)``; no perceptron and no soft-margin loss. Before the margin
they call ``convert_binary_labels_to_hinge``: when *every* label of the whole
``y_true`` tensor is 0 or 1 it returns ``2 y - 1``, otherwise the labels as they
are. The conversion is a test on the batch, so a {0, 1} label means -1 or 0
depending on its neighbours; the faithful glue therefore converts ``binary``
targets itself (``2 * target - 1``, exact for 0 and 1: the API then sees ±1,
which the test leaves unchanged) and gives ``signs`` as they are. ``as_is``
passes the labels exactly as written.

Like the regression functions, both average over the last axis (one loss per
sample): faithful calls give both arguments a trailing axis of size 1, the
classes get the run's ``dtype`` and a weighted mean is ``sample_weight`` with
``reduction="mean_with_sample_weight"``.

The declarations are listed by :func:`conformance.adapters.keras.on_backend`
for each backend. This module imports nothing of Keras.
"""

from __future__ import annotations


from conformance.adapters.keras_regression import CLASS_DOCS, FUNCTION_DOCS, V, class_writer, function_writer
from conformance.binding import Binding, Inherits
from conformance.case import Case, Expectation
from conformance.recipe import RecipeWriter
from conformance.tolerance import Bound

# keras.backend.result_type maps float64 to float32 on the JAX and torch backends
# (common/dtypes.py BIT64_TO_BIT32_DTYPE), so ops.mean computes a float64 mean in float32.
MEAN_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["jax", "torch"],
    link=f"{V}/backend/jax/numpy.py#L226-L263",
    reason="keras.losses.hinge and squared_hinge end with ops.mean(..., axis=-1), whose compute dtype is "
           "result_type(dtype, 'float32'): float32 for float64 input on the JAX and torch backends "
           "(jax/numpy.py mean, torch/numpy.py mean), so float64 rows carry float32 rounding even over "
           "an axis of size 1. On torch a class's mean also divides in float32 (ops.divide_no_nan casts "
           "to result_type(float64, float64, float) = float32).")


def _arguments(w: RecipeWriter) -> tuple[str, str]:
    """(y_true, y_pred): ``binary`` targets as ±1 (faithful), so that the batch-wide test of
    ``convert_binary_labels_to_hinge`` has nothing to decide; as_is: as written."""
    target = w.target()
    if not w.as_is and w.case.target.kind == "binary":
        w.emit(f"signs = 2 * {target} - 1")
        target = "signs"
    return target, w.input()


def _function_limits(case: Case) -> str | None:
    if case.mode == "as_is" and case.option("weight") is not None:
        return "the function forms take no weights, and an as_is call has no glue to apply them"
    return None


_READS = ("reads (y_true, y_pred), converts the labels to 2 y - 1 only when every label of the batch is 0 or 1 "
          "(else takes them as they are), and averages {} over the last axis")
# (family, class, function, the element in words)
_SPECS = (
    ("hinge", "Hinge", "hinge", "max(1 - y_true * y_pred, 0)"),
    ("squared_hinge", "SquaredHinge", "squared_hinge", "square(max(1 - y_true * y_pred, 0))"),
)
_PROFILE = {"margin_labels": "converted to -1, +1", "sum": "per-sample means (last axis)"}


def _bindings() -> tuple[Binding, ...]:
    classes, functions = [], []
    for loss, cls, function, element in _SPECS:
        common = dict(inputs=frozenset({"scores"}), targets=frozenset({"signs", "binary"}),
                      options=frozenset({"weight"}), reads=_READS.format(element), profile=_PROFILE,
                      deviations=(MEAN_IN_FLOAT32,))
        classes.append(Binding(
            f"keras.{cls}", loss, write=class_writer(cls, _arguments),
            doc=CLASS_DOCS.format(page="hinge", anchor=cls.lower()), **common))
        functions.append(Binding(
            f"keras.losses.{function}", loss, write=function_writer(function, _arguments), limits=_function_limits,
            doc=FUNCTION_DOCS.format(page="hinge", anchor=function.replace("_", "")),
            documented_by=(Inherits(f"keras.{cls}", shared_only=True),), **common))
    return tuple(classes + functions)

BINDINGS = _bindings()
