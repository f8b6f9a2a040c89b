"""Keras 3 bindings of the overlap families (``keras.losses.Dice`` / ``dice``, ``Tversky`` / ``tversky``).

Both take ``(y_true, y_pred)`` with per-channel probabilities and targets of one shape,
and an ``axis``: the axes the sums run over (default None: every axis, one ratio for
the whole batch). The faithful glue expresses ``overlap_over`` through it: ``sample``
sums every axis but 0, ``sample_channel`` every axis but 0 and the class axis,
``channel`` every axis but the class axis. The ratio is ``1 - 2 sum(y p) /
(sum(y) + sum(p) + backend.epsilon())`` and ``1 - sum(y p) / (sum(y p) + alpha
sum((1 - p) y) + beta sum(p (1 - y)) + backend.epsilon())``: no constant in the
numerator, 1e-7 in the denominator that no argument changes (the family's
``smooth_*`` options are not expressible), and Tversky's ``alpha`` multiplies the
sum its code calls ``fp`` - ``sum((1 - y_pred) * y_true)``, the false negatives.

Glue (faithful only): logits become probabilities (``keras.ops.softmax`` over the class
axis, a declared conversion), class indices their one-hot on the class axis, and
``include_background: false`` slices channel 0 off both. The class forms reduce the
groups' losses (``sum_over_batch_size`` is their mean); the function forms return
them and the glue reduces. ``as_is`` passes the arrays as written, with only ``alpha``
and ``beta`` as the case sets them.

The declarations are listed by :func:`conformance.adapters.keras.on_backend` for each
backend. This module imports nothing of Keras.
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.adapters.keras_regression import OPS, V
from conformance.binding import Binding, Inherits
from conformance.case import Case, Expectation
from conformance.recipe import RecipeWriter, kwargs
from conformance.tolerance import Bound

LOSSES = f"{V}/losses/losses.py"
CLASS_DOCS = "https://keras.io/api/losses/probabilistic_losses/#{}-class"
FUNCTION_DOCS = "https://keras.io/api/losses/probabilistic_losses/#{}-function"

# A class's mean divides with ops.divide_no_nan (losses/loss.py reduce_values), which on the
# torch backend casts both operands to result_type(float64, float64, float) = float32.
CLASS_MEAN_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["torch"], reductions=["mean"], shared=False,
    link=f"{V}/backend/torch/numpy.py#L2137-L2146",
    reason="A loss class's mean divides with ops.divide_no_nan (losses/loss.py reduce_values), which "
           "on the torch backend casts both operands to result_type(float64, float64, float) = "
           "float32: the float64 mean is rounded to float32 and returned as float32.")


def _axes(case: Case) -> str | None:
    """The ``axis`` argument that makes the API's groups the case's ``overlap_over``."""
    over, axis = case.option("overlap_over"), case.axis
    if over == "batch":
        return None
    if over == "sample":
        kept = range(1, case.ndim)
    elif over == "sample_channel":
        kept = [a for a in range(1, case.ndim) if a != axis]
    else:
        kept = [a for a in range(case.ndim) if a != axis]
    return repr(tuple(kept))


def _arguments(w: RecipeWriter) -> tuple[str, str]:
    """(y_true, y_pred) as the API takes them: per-channel targets and probabilities."""
    case = w.case
    x, target = w.input(), w.target()
    if w.as_is:
        return target, x
    axis = case.axis
    if case.input.kind == "logits":
        x = w.converted("probs", f"keras.ops.softmax({x}, axis={axis})")
    if case.target.kind == "index":
        w.emit(f"one_hot = keras.ops.one_hot({target}, {case.num_classes}, axis={axis}, dtype={w.dtype!r})")
        target = "one_hot"
    if not case.option("include_background"):
        # Channel 0 off both: data movement along the class axis.
        kept = list(range(1, case.num_classes))
        target, x = (f"keras.ops.take({target}, {kept}, axis={axis})", f"keras.ops.take({x}, {kept}, axis={axis})")
    return target, x


def _options(w: RecipeWriter) -> dict[str, str | None]:
    case = w.case
    options: dict[str, str | None] = {}
    if case.loss == "tversky" and (not w.as_is or {"alpha", "beta"} & set(case.options_set())):
        options = {"alpha": repr(float(case.option("alpha"))), "beta": repr(float(case.option("beta")))}
    if not w.as_is:
        options["axis"] = _axes(case)
    return options


def _class_writer(name: str) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        target, x = _arguments(w)
        reduction = {"none": "None", "sum": '"sum"'}.get(w.case.reduction)
        options = kwargs(**_options(w), reduction=reduction, dtype=repr(w.dtype)).removeprefix(", ")
        w.emit(f"loss = keras.losses.{name}({options})({target}, {x})")
    write.__name__ = write.__qualname__ = f"_write_{name}"
    return write


def _function_writer(name: str) -> Callable[[RecipeWriter], None]:
    def write(w: RecipeWriter) -> None:
        target, x = _arguments(w)
        w.emit(f"per_group = keras.losses.{name}({target}, {x}{kwargs(**_options(w))})")
        w.reduce("per_group", OPS)
    write.__name__ = write.__qualname__ = f"_write_{name}"
    return write


def _limits(case: Case) -> str | None:
    if case.mode == "faithful" and case.option("overlap_over") == "sample_channel" and case.ndim < 3:
        # axis=() sums nothing on NumPy-like backends and everything on torch.
        return "per (sample, channel) groups of a 2-d input would need axis=(), which the backends read differently"
    return None


_READS = ("reads (y_true, y_pred) as per-channel targets and probabilities, sums over `axis` (default: every "
          "axis, one ratio for the batch) and adds backend.epsilon() = 1e-7 to the denominator only")
_TVERSKY_READS = _READS + "; alpha multiplies sum((1 - y_pred) y_true), the false negatives"
_OPTIONS = frozenset({"overlap_over", "include_background"})
_INPUTS, _TARGETS = frozenset({"probs", "logits"}), frozenset({"probs", "index"})
_DICE_PROFILE = {"overlap_grouping": "the whole batch (one ratio)", "overlap_smoothing": "0 / 1e-7"}
_TVERSKY_PROFILE = {**_DICE_PROFILE, "tversky_weights": "false negatives"}
# The gradient with Keras' constant: an input kind maps to the reading (the faithful call's).
_EPSILON_GRADIENT = {"probs": "denominator_plus_1e-7", "logits": "denominator_plus_1e-7"}
# ... and Tversky's: alpha and beta exchanged too (the same as the constant alone where alpha = beta).
_TVERSKY_GRADIENT = {"probs": "weights_swapped_plus_1e-7", "logits": "weights_swapped_plus_1e-7"}

BINDINGS = (
    Binding("keras.Dice", "dice", _INPUTS, _TARGETS, _class_writer("Dice"), options=_OPTIONS, limits=_limits,
            reads=_READS, doc=CLASS_DOCS.format("dice"), profile=_DICE_PROFILE,
            grad_readings=_EPSILON_GRADIENT, deviations=(CLASS_MEAN_IN_FLOAT32,)),
    Binding("keras.Tversky", "tversky", _INPUTS, _TARGETS, _class_writer("Tversky"),
            options=_OPTIONS | {"alpha", "beta"}, limits=_limits, reads=_TVERSKY_READS,
            doc=CLASS_DOCS.format("tversky"), profile=_TVERSKY_PROFILE,
            grad_readings=_TVERSKY_GRADIENT, deviations=(CLASS_MEAN_IN_FLOAT32,)),
    Binding("keras.losses.dice", "dice", _INPUTS, _TARGETS, _function_writer("dice"), options=_OPTIONS,
            limits=_limits, reads=_READS, doc=FUNCTION_DOCS.format("dice"), profile=_DICE_PROFILE,
            grad_readings=_EPSILON_GRADIENT, documented_by=(Inherits("keras.Dice", shared_only=True),)),
    Binding("keras.losses.tversky", "tversky", _INPUTS, _TARGETS, _function_writer("tversky"),
            options=_OPTIONS | {"alpha", "beta"}, limits=_limits, reads=_TVERSKY_READS,
            doc=FUNCTION_DOCS.format("tversky"), profile=_TVERSKY_PROFILE,
            grad_readings=_TVERSKY_GRADIENT, documented_by=(Inherits("keras.Tversky", shared_only=True),)),
)
