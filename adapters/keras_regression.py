"""Keras 3 bindings of the regression and likelihood families (``keras.losses``).

Each loss has a class (``keras.losses.MeanSquaredError``...) and a function
(``keras.losses.mean_squared_error``...), both taking ``(y_true, y_pred)``.
Every function averages over the last axis (one loss per sample), so faithful
calls give both arguments a trailing axis of size 1: each element is its own
sample. Loss classes compute in ``floatx`` (float32) unless given ``dtype``, so
every recipe passes the run's dtype; a weighted mean is the class's
``sample_weight`` with ``reduction="mean_with_sample_weight"`` (the default
reduction divides by the element count). Keras has no smooth L1 and no Gaussian
NLL.

The declarations are listed by :func:`conformance.adapters.keras.on_backend`
for each backend. This module imports nothing of Keras and nothing of
:mod:`conformance.adapters.keras` (which imports it).
"""

from __future__ import annotations

from collections.abc import Callable

from conformance.binding import Binding, Inherits
from conformance.case import Case, Expectation
from conformance.recipe import ArrayOps, RecipeWriter, kwargs
from conformance.tolerance import Bound

CLASS_DOCS = "https://keras.io/api/losses/{page}_losses/#{anchor}-class"
FUNCTION_DOCS = "https://keras.io/api/losses/{page}_losses/#{anchor}-function"
V = "https://github.com/keras-team/keras/blob/v3.15.1/keras/src"
LOSSES = f"{V}/losses/losses.py"

# The same as adapters.keras.OPS: the glue sums in float64 and rounds once
# (keras.ops.mean averages float64 in float32 on the JAX and torch backends).
OPS = ArrayOps(total="keras.ops.sum({})", mean="keras.ops.divide(keras.ops.sum({0}), keras.ops.size({0}))",
               widen="keras.ops.cast({}, {dtype!r})")


Arguments = Callable[[RecipeWriter], tuple[str, str]]


def _elementwise(array: str) -> str:
    """A trailing axis of size 1: the function's mean over the last axis is then the identity."""
    return f"keras.ops.expand_dims({array}, -1)"


def _weighted(w: RecipeWriter) -> bool:
    return w.case.option("weight") is not None


def _arguments(w: RecipeWriter) -> tuple[str, str]:
    """(y_true, y_pred) for the API: Poisson's log-rates become rates (its only input)."""
    x, target = w.input(), w.target()
    if not w.as_is and w.case.input.kind == "log_rates":
        x = w.converted("rates", f"keras.ops.exp({x})")
    return target, x


def _options(w: RecipeWriter) -> dict[str, str | None]:
    """The loss's own options: Huber's delta (faithful: always explicit; as_is: as the case sets it)."""
    if w.case.loss != "huber":
        return {}
    given = not w.as_is or "delta" in w.case.options_set()
    return {"delta": repr(float(w.case.option("delta"))) if given else None}


def class_writer(name: str, arguments: Arguments | None = None) -> Callable[[RecipeWriter], None]:
    """A loss class called on (y_true, y_pred) as ``arguments`` gives them."""
    def write(w: RecipeWriter) -> None:
        case = w.case
        target, x = (arguments or _arguments)(w)
        weighted = _weighted(w)
        if not w.as_is and (case.reduction != "mean" or weighted):
            # The loss averages over the last axis: each element becomes its own sample (an
            # unweighted mean of per-sample means over equal rows is the plain mean already).
            target, x = _elementwise(target), _elementwise(x)
        reduction = {"none": "None", "sum": '"sum"'}.get(case.reduction)
        if reduction is None and weighted and not w.as_is:
            reduction = '"mean_with_sample_weight"'  # the default divides by the element count
        options = kwargs(**_options(w), reduction=reduction, dtype=repr(w.dtype)).removeprefix(", ")
        sample_weight = f", sample_weight={w.weight()}" if weighted else ""
        w.emit(f"loss = keras.losses.{name}({options})({target}, {x}{sample_weight})")
    return write


def function_writer(name: str, arguments: Arguments | None = None) -> Callable[[RecipeWriter], None]:
    """A loss function called on (y_true, y_pred) as ``arguments`` gives them; the glue weighs and reduces."""
    def write(w: RecipeWriter) -> None:
        target, x = (arguments or _arguments)(w)
        if not w.as_is:  # it averages over the last axis: make each element its own sample
            target, x = _elementwise(target), _elementwise(x)
        w.emit(f"per_element = keras.losses.{name}({target}, {x}{kwargs(**_options(w))})")
        per, denominator = "per_element", None
        if _weighted(w):  # the functions take no weights: the glue applies them
            w.emit(f"weighted = keras.ops.multiply(per_element, {w.weight()})")
            # The summed weights in float64, as the glue sums the weighted losses.
            per, denominator = "weighted", OPS.total.format(OPS.widen.format(w.weight(), dtype="float64"))
        w.reduce(per, OPS, denominator=denominator)
    return write


def _function_limits(case: Case) -> str | None:
    if case.mode == "as_is" and case.option("weight") is not None:
        return "the function forms take no weights, and an as_is call has no glue to apply them"
    return None


# -- precisions Keras computes in whatever the case (binding-level deviations) -----------
# keras.backend.result_type maps float64 to float32 on the JAX and torch backends
# (common/dtypes.py BIT64_TO_BIT32_DTYPE), so ops.mean computes a float64 mean in float32.
MEAN_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["jax", "torch"],
    link=f"{V}/backend/jax/numpy.py#L226-L263",
    reason="Every keras.losses regression function ends with ops.mean(..., axis=-1), whose compute "
           "dtype is result_type(dtype, 'float32'): float32 for float64 input on the JAX and torch "
           "backends (jax/numpy.py mean, torch/numpy.py mean#L165-L197), so float64 rows carry "
           "float32 rounding even over an axis of size 1. On torch a class's mean also divides in "
           "float32 (ops.divide_no_nan casts to result_type(float64, float64, float) = float32).")
MSLE_EPSILON_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["torch"],
    link=f"{LOSSES}#L1912-L1918",
    reason="mean_squared_logarithmic_error makes its epsilon a float32 tensor "
           "(ops.convert_to_tensor(backend.epsilon()), no dtype); ops.maximum(y, epsilon) on the torch "
           "backend casts both to result_type(float64, float32) = float32 (torch/numpy.py maximum), so "
           "both logs and the result are float32.")
LOG_COSH_LOG2_FLOAT32 = Expectation(  # a constant: the gradient is not affected
    within=Bound(like="float32"), category="precision",
    dtypes=["float64"], backends=["tensorflow", "torch"],
    link=f"{LOSSES}#L2050-L2055",
    reason="log_cosh subtracts log2 = ops.convert_to_tensor(ops.log(2.0), dtype=y_pred.dtype): ops.log(2.0) "
           "is computed in float32 (floatx) on the TensorFlow and torch backends, so every float64 element "
           "is off by log(2) - fl32(log 2) = -1.9e-9.")


# -- the declarations -------------------------------------------------------------
# (family, class, function, docs page, class anchor, function anchor, reads, profile, extra)
_SUM = {"sum": "per-sample means (last axis)"}
_SPECS = (
    ("squared_error", "MeanSquaredError", "mean_squared_error", "regression",
     "reads (y_true, y_pred) and averages (y_true - y_pred)^2 over the last axis",
     {"squared_error_scale": "1"}, ()),
    ("absolute_error", "MeanAbsoluteError", "mean_absolute_error", "regression",
     "reads (y_true, y_pred) and averages |y_true - y_pred| over the last axis", {}, ()),
    ("huber", "Huber", "huber", "regression",
     "reads (y_true, y_pred), delta = 1 by default, and averages the Huber loss over the last axis",
     {"huber_scale": "Huber_delta"}, ()),
    ("log_cosh", "LogCosh", "log_cosh", "regression",
     "reads (y_true, y_pred) and averages r + softplus(-2r) - log 2 (r = y_pred - y_true) over the last axis",
     {}, (LOG_COSH_LOG2_FLOAT32,)),
    ("squared_log_error", "MeanSquaredLogarithmicError", "mean_squared_logarithmic_error", "regression",
     "reads (y_true, y_pred), clamps both at 1e-7 (max(v, 1e-7)) and averages (log(1 + x) - log(1 + y))^2 "
     "over the last axis", {"msle_guard": "max(v, 1e-7)"}, (MSLE_EPSILON_FLOAT32,)),
    ("absolute_percentage_error", "MeanAbsolutePercentageError", "mean_absolute_percentage_error", "regression",
     "reads (y_true, y_pred) and averages 100 |y_true - y_pred| / max(|y_true|, 1e-7) over the last axis",
     {"mape_scale": "percentage", "mape_guard": "max(|y|, 1e-7)"}, ()),
    ("poisson_nll", "Poisson", "poisson", "probabilistic",
     "reads (y_true, y_pred) with y_pred a rate and averages y_pred - y_true log(y_pred + 1e-7) over the "
     "last axis", {"rate_input": "rates", "poisson_guard": "+1e-7"}, ()),
)
# sample_weight with the default reduction ("sum_over_batch_size") divides by the element count
# (measured with (N, 1) inputs; (N, M) weights against the (N,) per-sample losses broadcast or raise).
_CLASS_PROFILE = {loss: {"weighted_mean": "the element count"}
                  for loss in ("squared_error", "absolute_error", "huber")}
_INPUTS = {"poisson_nll": frozenset({"rates", "log_rates"})}
_TARGETS = {"poisson_nll": frozenset({"counts"})}
# Poisson has no log(y!) term: no `full` (its cases are skipped, saying so).
_OPTIONS = {"huber": frozenset({"weight", "delta"})}


def _bindings() -> tuple[Binding, ...]:
    classes, functions = [], []
    for loss, cls, function, page, reads, profile, extra in _SPECS:
        common = dict(inputs=_INPUTS.get(loss, frozenset({"predictions"})),
                      targets=_TARGETS.get(loss, frozenset({"values"})),
                      options=_OPTIONS.get(loss, frozenset({"weight"})), reads=reads)
        classes.append(Binding(
            f"keras.{cls}", loss, write=class_writer(cls),
            doc=CLASS_DOCS.format(page=page, anchor=cls.lower()),
            profile={**profile, **_SUM, **_CLASS_PROFILE.get(loss, {})},
            deviations=(*extra, MEAN_IN_FLOAT32), **common))
        functions.append(Binding(
            f"keras.losses.{function}", loss, write=function_writer(function), limits=_function_limits,
            doc=FUNCTION_DOCS.format(page=page, anchor=function.replace("_", "")),
            profile={**profile, **_SUM}, deviations=(*extra, MEAN_IN_FLOAT32),
            documented_by=(Inherits(f"keras.{cls}", shared_only=True),), **common))
    return tuple(classes + functions)


BINDINGS = _bindings()
