"""scikit-learn's ``sklearn.metrics.log_loss``: the metric people validate against.

It takes probabilities of shape (n_samples, n_classes) and labels (indices, or
an indicator matrix), clips the probabilities to [eps, 1 - eps] with eps the
machine epsilon of their dtype, and averages over samples (Σ w l / Σ w with
``sample_weight``, which expresses class weights exactly). It covers only
part of the case format, so it is not a complete framework: cases it cannot
express are simply not its rows.

This module imports scikit-learn only inside the worker-side functions.
"""

from __future__ import annotations

from typing import Any

from conformance.adapters.sklearn_margin import BINDINGS as MARGIN
from conformance.adapters.sklearn_multiclass import BINDINGS as MULTICLASS
from conformance.adapters.sklearn_regression import BINDINGS as REGRESSION
from conformance.binding import Binding, Framework
from conformance.case import Case
from conformance.recipe import RecipeWriter, kwargs

DOCS = "https://scikit-learn.org/stable/modules/generated/sklearn.metrics.log_loss.html"


def _probabilities(w: RecipeWriter) -> str:
    x, kind = w.input(), w.case.input.kind
    if w.as_is or kind == "probs":
        return x
    if kind == "log_probs":
        return f"np.exp({x})"
    return f"scipy.special.softmax({x}, axis=-1)"


def _write_log_loss(w: RecipeWriter) -> None:
    case = w.case
    target = w.target()
    sample_weight = None
    if case.option("weight") is not None:
        sample_weight = f"{w.weight()}[{target}]"
    options = kwargs(normalize="False" if case.reduction == "sum" else None, sample_weight=sample_weight,
                     labels=list(range(case.num_classes)) if case.target.kind == "index" else None)
    w.emit(f"loss = sklearn.metrics.log_loss({target}, {_probabilities(w)}{options})")


def _limits(case: Case) -> str | None:
    if case.ndim != 2 or not case.class_axis_is_last:
        return "log_loss takes (n_samples, n_classes) arrays only"
    if case.target.kind == "probs" and not ((case.target.values == 0) | (case.target.values == 1)).all():
        return "log_loss takes labels or an indicator matrix, not soft targets"
    if case.option("weight") is not None and case.target.kind != "index":
        return "class weights become sample weights only with class-index targets"
    return None


FRAMEWORK = Framework(
    name="sklearn",
    distributions=("scikit-learn",),
    # ml_dtypes gives NumPy the name "bfloat16".
    imports=("import ml_dtypes", "import numpy as np", "import scipy.special", "import sklearn.metrics"),
    float_array="np.array({data}, dtype={dtype!r})",
    index_array="np.array({data})",
    show="float(loss)",
    worker_module="conformance.adapters.sklearn",
    complete=False,
    bindings=(
        Binding("sklearn.log_loss", "cross_entropy", frozenset({"probs", "logits", "log_probs"}),
                frozenset({"index", "probs"}), _write_log_loss, options=frozenset({"weight"}),
                reductions=frozenset({"mean", "sum"}), limits=_limits,
                reads="reads its input as probabilities and clips them to [eps, 1-eps] "
                      "(eps: machine epsilon of their dtype)",
                doc=DOCS,
                refuses_dtypes={"bfloat16": "scikit-learn has no bfloat16: it is not a NumPy dtype "
                                "(ml_dtypes adds it), and log_loss raises TypeError on it for some "
                                "inputs (np.finfo) while leaving it unclipped for others"},
                profile={"input": "probabilities",
                         "unnormalised": "kept as given",
                         "zero_probability": "clipped at machine eps",
                         "neg_inf": "raises ValueError"}),
    ) + REGRESSION + MARGIN + MULTICLASS,
)


# -- worker side: only ever called inside the sklearn worker process --------
def setup() -> None:
    import sklearn.metrics  # noqa: F401


def to_numpy(value: Any) -> Any:
    import numpy as np

    return np.asarray(value, dtype=np.float64)


def result_dtype(value: Any) -> str:
    import numpy as np

    return str(np.asarray(value).dtype)


def device() -> str:
    return "cpu"
