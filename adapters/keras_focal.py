"""Keras 3 bindings of the focal families (``keras.losses``).

``BinaryFocalCrossentropy`` / ``binary_focal_crossentropy`` and
``CategoricalFocalCrossentropy`` / ``categorical_focal_crossentropy``, all taking
``(y_true, y_pred)`` and probabilities by default (``from_logits=False``).

- Binary: ``alpha`` (default 0.25) is applied only with ``apply_class_balancing=True``:
  the faithful glue sets the flag when the case gives α (an ``as_is`` call passes α
  alone, which Keras ignores). A soft label's whole BCE is weighted by
  ``(1 - p_t)^gamma`` (and ``alpha_t``) with ``p_t = t p + (1 - t)(1 - p)``; label
  smoothing squeezes the labels towards 1/2 first. The BCE clips probabilities to
  ``[1e-7, 1 - 1e-7]``; with ``from_logits=True`` the sigmoid's output is clipped
  too, except on TensorFlow, whose ``sigmoid`` keeps its logits for
  ``binary_crossentropy`` to recover. Both forms average over the last axis: faithful
  calls give both arguments a trailing axis of size 1 where the case does not reduce
  by a plain mean.
- Categorical: ``alpha`` (default 0.25) multiplies *every* class; the faithful glue
  passes the case's per-class α (a tensor shaped to broadcast along the class axis),
  or 1.0 when the case has none. Probabilities are renormalised to sum to 1 and
  clipped to ``[1e-7, 1 - 1e-7]`` (after the softmax, with ``from_logits=True``).
  Class-index targets are one-hot encoded by the glue along the class axis.

The declarations are listed by :func:`conformance.adapters.keras.on_backend`
for each backend. This module imports nothing of Keras.
"""

from __future__ import annotations

from conformance.adapters.keras_regression import OPS, V
from conformance.binding import Binding, Inherits
from conformance.case import Expectation
from conformance.recipe import RecipeWriter, kwargs
from conformance.tolerance import Bound

DOCS = "https://keras.io/api/losses/probabilistic_losses/#{}-{}"
LOSSES = f"{V}/losses/losses.py"

# keras.backend.result_type maps float64 to float32 on the JAX and torch backends, so the
# class's "sum_over_batch_size" (ops.mean) and the binary function's ops.mean over the last
# axis compute a float64 mean in float32.
MEAN_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["jax", "torch"],
    link=f"{V}/backend/jax/numpy.py#L226-L263",
    reason="binary_focal_crossentropy ends with ops.mean(..., axis=-1) and the loss classes reduce with "
           "ops.mean, whose compute dtype is result_type(dtype, 'float32'): float32 for float64 input on the "
           "JAX and torch backends (jax/numpy.py mean, torch/numpy.py mean), so float64 rows carry float32 "
           "rounding.")


def _from_logits(w: RecipeWriter) -> str | None:
    return "True" if not w.as_is and w.case.input.kind == "logits" else None


def _gamma(w: RecipeWriter) -> str | None:
    """γ: always explicit in a faithful call; as_is only where the case sets it."""
    return repr(float(w.case.option("gamma"))) if not w.as_is or "gamma" in w.case.options_set() else None


def _binary_options(w: RecipeWriter) -> str:
    alpha = w.case.option("alpha")
    balancing = "True" if alpha is not None and not w.as_is else None
    return kwargs(apply_class_balancing=balancing, alpha=repr(alpha) if alpha is not None else None,
                  gamma=_gamma(w), from_logits=_from_logits(w),
                  label_smoothing=w.case.option("label_smoothing") or None)


def _reduction(w: RecipeWriter) -> str | None:
    return {"none": "None", "sum": '"sum"'}.get(w.case.reduction)


def _binary_arguments(w: RecipeWriter, elementwise: bool) -> tuple[str, str]:
    x, target = w.input(), w.target()
    if elementwise and not w.as_is:
        # Keras averages over the last axis: each element becomes its own row.
        x, target = f"keras.ops.expand_dims({x}, -1)", f"keras.ops.expand_dims({target}, -1)"
    return target, x


def _write_binary_class(w: RecipeWriter) -> None:
    target, x = _binary_arguments(w, w.case.reduction != "mean")
    options = (_binary_options(w) + kwargs(reduction=_reduction(w), dtype=repr(w.dtype))).removeprefix(", ")
    w.emit(f"loss = keras.losses.BinaryFocalCrossentropy({options})({target}, {x})")


def _write_binary_function(w: RecipeWriter) -> None:
    target, x = _binary_arguments(w, True)
    w.emit(f"per_element = keras.losses.binary_focal_crossentropy({target}, {x}{_binary_options(w)})")
    w.reduce("per_element", OPS)


def _categorical_arguments(w: RecipeWriter) -> tuple[str, str, str]:
    """(y_true, y_pred, options): one-hot targets, α shaped for the class axis, the axis."""
    case = w.case
    target = w.target()
    if case.target.kind == "index":
        target = f"keras.ops.one_hot({target}, {case.num_classes}, axis={case.axis}, dtype={w.dtype!r})"
    alpha = case.option("alpha")
    if alpha is not None:
        shape = (case.num_classes,) + (1,) * (case.ndim - 1 - case.axis)
        alpha_text = f"keras.ops.reshape({w.floats('alpha', alpha)}, {shape})"
    else:
        alpha_text = None if w.as_is else "1.0"  # the canonical loss has no α; Keras' default is 0.25
    options = kwargs(alpha=alpha_text, gamma=_gamma(w), from_logits=_from_logits(w),
                     label_smoothing=case.option("label_smoothing") or None,
                     axis=None if case.class_axis_is_last else case.axis)
    return target, w.input(), options


def _write_categorical_class(w: RecipeWriter) -> None:
    target, x, options = _categorical_arguments(w)
    options = (options + kwargs(reduction=_reduction(w), dtype=repr(w.dtype))).removeprefix(", ")
    w.emit(f"loss = keras.losses.CategoricalFocalCrossentropy({options})({target}, {x})")


def _write_categorical_function(w: RecipeWriter) -> None:
    target, x, options = _categorical_arguments(w)
    w.emit(f"per_position = keras.losses.categorical_focal_crossentropy({target}, {x}{options})")
    w.reduce("per_position", OPS)


_BINARY = dict(inputs=frozenset({"logits", "probs"}), targets=frozenset({"probs"}),
               options=frozenset({"gamma", "alpha", "label_smoothing"}),
               reads="reads probabilities (from_logits=False), clips them to [1e-7, 1-1e-7] in its BCE, ignores "
                     "alpha unless apply_class_balancing=True, weights a soft label's whole BCE by "
                     "(1 - p_t)^gamma, and averages over the last axis",
               deviations=(MEAN_IN_FLOAT32,),
               profile={"focal_input": "probabilities",
                        "focal_soft_labels": "a_t (1-p_t)^g BCE, p_t = tp + (1-t)(1-p)",
                        "focal_alpha": "ignored", "focal_alpha_default": "none"})
_CATEGORICAL = dict(inputs=frozenset({"logits", "probs"}), targets=frozenset({"index", "probs"}),
                    options=frozenset({"gamma", "alpha", "label_smoothing"}),
                    reads="reads probabilities (from_logits=False), renormalises them to sum to 1, clips them to "
                          "[1e-7, 1-1e-7] and multiplies every class by alpha = 0.25 unless given",
                    deviations=(MEAN_IN_FLOAT32,),
                    profile={"focal_input": "probabilities", "focal_class_alpha_default": "0.25 on every class",
                             "focal_class_mean": "N (positions)", "focal_activation": "softmax"})

BINDINGS = (
    Binding("keras.BinaryFocalCrossentropy", "binary_focal", write=_write_binary_class,
            doc=DOCS.format("binaryfocalcrossentropy", "class"), **_BINARY),
    Binding("keras.losses.binary_focal_crossentropy", "binary_focal", write=_write_binary_function,
            doc=DOCS.format("binaryfocalcrossentropy", "function"),
            documented_by=(Inherits("keras.BinaryFocalCrossentropy", shared_only=True),), **_BINARY),
    Binding("keras.CategoricalFocalCrossentropy", "categorical_focal", write=_write_categorical_class,
            doc=DOCS.format("categoricalfocalcrossentropy", "class"), **_CATEGORICAL),
    Binding("keras.losses.categorical_focal_crossentropy", "categorical_focal",
            write=_write_categorical_function, doc=DOCS.format("categoricalfocalcrossentropy", "function"),
            documented_by=(Inherits("keras.CategoricalFocalCrossentropy", shared_only=True),), **_CATEGORICAL),
)
