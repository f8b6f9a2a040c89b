"""scikit-learn's regression metrics (``sklearn.metrics``): the numbers people report.

``mean_squared_error``, ``mean_absolute_error``, ``mean_squared_log_error`` and
``mean_absolute_percentage_error`` take ``(y_true, y_pred)`` of shape
``(n_samples,)`` or ``(n_samples, n_outputs)``, average each output (column)
over the samples - weighted by ``sample_weight``, one weight per sample (row) -
and then the outputs, uniformly or weighted by an array ``multioutput``. That is
Σ w l / Σ w exactly where the case's element weights are constant along each
row (``sample_weight``) or the same in every row (``multioutput``); other
weights, ``sum``, ``none`` and other shapes cannot be expressed. They return a
Python float; MAPE is a fraction (its faithful glue multiplies by 100).

``mean_poisson_deviance`` is the deviance 2 (y log(y/λ) - y + λ), not the
negative log-likelihood λ - y log λ: the two differ by terms of the target
alone, so no call of it gives ``poisson_nll``; ``root_*`` and ``d2_*`` compute
no family's loss.

This module imports scikit-learn only inside recipes (the sklearn worker).
"""

from __future__ import annotations

import numpy as np

from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.{}.html"


def _rows_constant(weight: np.ndarray) -> bool:
    return bool((weight == weight[:, :1]).all())


def _columns_constant(weight: np.ndarray) -> bool:
    return bool((weight == weight[:1, :]).all())


def _limits(case: Case) -> str | None:
    if case.ndim not in (1, 2):
        return "scikit-learn's regression metrics take arrays of shape (n_samples,) or (n_samples, n_outputs)"
    weight = case.option("weight")
    if weight is not None and case.ndim == 2 and not (_rows_constant(weight) or _columns_constant(weight)):
        return ("sample_weight weighs rows and multioutput weighs columns: element weights that vary "
                "within a row and between rows cannot be expressed")
    return None


def _weights(w: RecipeWriter) -> str:
    """``sample_weight=`` (one weight per row) or ``multioutput=`` (one per column)."""
    weight = w.case.option("weight")
    if weight is None:
        return ""
    name = w.weight()
    if w.case.ndim == 1:
        return kwargs(sample_weight=name)
    if _rows_constant(weight):
        return kwargs(sample_weight=f"{name}.T[0]")  # the first column: one weight per row
    return kwargs(multioutput=f"{name}[0]")


def _writer(function: str, factor: int | None = None):
    """Write ``sklearn.metrics.<function>(y_true, y_pred)``; ``factor`` undoes a documented
    constant (MAPE's fraction) in faithful cases."""

    def write(w: RecipeWriter) -> None:
        call = f"sklearn.metrics.{function}({w.target()}, {w.input()}{_weights(w)})"
        w.emit(f"loss = {call}" if factor is None or w.as_is else f"loss = {factor} * {call}")

    return write


def _binding(function: str, loss: str, reads: str, profile: dict[str, str], factor: int | None = None,
             ) -> Binding:
    return Binding(f"sklearn.{function}", loss, frozenset({"predictions"}), frozenset({"values"}),
                   _writer(function, factor), options=frozenset({"weight"}), reductions=frozenset({"mean"}),
                   limits=_limits, doc=DOCS.format(function),
                   reads=reads + "; (y_true, y_pred) order, means over samples then outputs, a Python float",
                   refuses_dtypes={"bfloat16": "scikit-learn has no bfloat16 (ml_dtypes adds it to NumPy): "
                                   "its regression metrics raise TypeError on it (array API isdtype)"},
                   profile=profile)


BINDINGS = (
    _binding("mean_squared_error", "squared_error", "averages (y_true - y_pred)**2",
             {"squared_error_scale": "1", "weighted_mean": "the summed weights"}),
    _binding("mean_absolute_error", "absolute_error", "averages |y_pred - y_true|",
             {"weighted_mean": "the summed weights"}),
    _binding("mean_squared_log_error", "squared_log_error",
             "averages (log1p(y_true) - log1p(y_pred))**2, raising ValueError where a value is <= -1",
             {"msle_guard": "none"}),
    _binding("mean_absolute_percentage_error", "absolute_percentage_error",
             "averages |y_pred - y_true| / max(|y_true|, eps) with eps the float64 machine epsilon (in the "
             "input's dtype), a fraction, not a percentage (the faithful glue multiplies by 100: exact for "
             "float16 and float32 inputs, one rounding of the float64 result)",
             {"mape_scale": "fraction", "mape_guard": "max(|y|, float64 eps)"}, factor=100),
)
