"""A plain NumPy/SciPy reference: the canonical formulas written out by hand.

This is what a careful user writes without a deep-learning framework:
``scipy.special.log_softmax`` for the log-probabilities, ``log_expit`` for a
stable log-sigmoid, ``0 log 0 = 0`` written as ``np.where(t == 0, 0, t * log q)``,
and NumPy sums. It has no automatic differentiation. Every array stays in the
evaluated dtype, but every sum accumulates in float64 and is rounded to the dtype
once (NumPy adds bfloat16 and float16 one element at a time in that dtype, which
is our code's error, not a reference); where SciPy computes in another dtype,
the row's ``value_dtype`` shows it.

This module imports NumPy and SciPy only inside the worker-side functions.
"""

from __future__ import annotations

from typing import Any

from conformance.adapters.numpy_ctc import BINDINGS as CTC_BINDINGS
from conformance.adapters.numpy_focal import BINDINGS as FOCAL_BINDINGS
from conformance.adapters.numpy_margin import BINDINGS as MARGIN_BINDINGS
from conformance.adapters.numpy_overlap import BINDINGS as OVERLAP_BINDINGS
from conformance.adapters.numpy_multiclass import BINDINGS as MULTICLASS_BINDINGS
from conformance.adapters.numpy_regression import BINDINGS as REGRESSION_BINDINGS
from conformance.adapters.numpy_similarity import BINDINGS as SIMILARITY_BINDINGS
from conformance.binding import Binding, Framework
from conformance.case import Case
from conformance.recipe import RecipeWriter

DOCS = "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.{}.html"


def _log_q(w: RecipeWriter) -> str:
    """Log-probabilities of the prediction, classes on the case's axis."""
    x, kind = w.input(), w.case.input.kind
    if kind == "logits":
        # A +inf logit is an undefined input (canonical semantics): NaN for its whole row.
        # scipy's log_softmax sets a non-finite max to 0, which leaves -inf in the other classes.
        axis = w.case.axis
        return (f"np.where(np.any(np.isposinf({x}), axis={axis}, keepdims=True), np.nan, "
                f"scipy.special.log_softmax({x}, axis={axis}))")
    return f"np.log({x})" if kind == "probs" else x


def _dense_target(w: RecipeWriter) -> str:
    """The target as per-class probabilities on the class axis (smoothed, weighted, masked)."""
    case = w.case
    target = w.target()
    if case.target.kind == "index":
        labels = target
        if case.option("ignore_index") is not None:
            w.emit(f"counted = {labels} != {case.option('ignore_index')}")
            labels = f"np.where(counted, {labels}, 0)"
        target = f"np.moveaxis(np.eye({case.num_classes}, dtype={w.dtype!r})[{labels}], -1, {case.axis})"
    if case.option("label_smoothing"):
        eps = case.option("label_smoothing")
        target = f"({target} * (1 - {eps}) + {eps} / {case.num_classes})"
    if case.option("weight") is not None:
        shape = (case.num_classes,) + (1,) * (case.ndim - 1 - case.axis)
        target = f"{target} * {w.weight()}.reshape({shape})"
    if case.target.kind == "index" and case.option("ignore_index") is not None:
        target = f"{target} * np.expand_dims(counted, {case.axis})"
    w.emit(f"t = {target}")
    return "t"


def _write_cross_entropy(w: RecipeWriter) -> None:
    case = w.case
    t = _dense_target(w)
    w.emit(f"log_q = {_log_q(w)}")
    w.emit(f"per_position = -{_sum(w, f'np.where({t} == 0, 0, {t} * log_q)', axis=case.axis)}")
    denominator = None
    if case.target.kind == "index" and case.reduction == "mean":
        labels = "np.where(counted, target, 0)" if case.option("ignore_index") is not None else "target"
        weights = (f"{w.weight()}[{labels}]" if case.option("weight") is not None
                   else f"np.ones(target.shape, {w.dtype!r})")
        if case.option("ignore_index") is not None:
            weights = f"np.where(counted, {weights}, 0)"
        denominator = f"np.sum({weights}, dtype=np.float64)"
    _reduce(w, "per_position", denominator)


def _write_binary_cross_entropy(w: RecipeWriter) -> None:
    case = w.case
    x, y = w.input(), w.target()
    if case.input.kind == "logits":
        w.emit(f"log_p, log_not_p = scipy.special.log_expit({x}), scipy.special.log_expit(-{x})")
    else:
        w.emit(f"log_p, log_not_p = np.log({x}), np.log1p(-{x})")
    pos_weight = case.option("pos_weight")
    positive = f"{w.floats('pos_weight', pos_weight)} * {y}" if pos_weight is not None else y
    w.emit(f"positive = {positive}")
    w.emit(f"per_element = -(np.where(positive == 0, 0, positive * log_p) "
           f"+ np.where({y} == 1, 0, (1 - {y}) * log_not_p))")
    _reduce(w, "per_element")


def _write_kl_divergence(w: RecipeWriter) -> None:
    case = w.case
    raw = w.target()
    t, log_t = (f"np.exp({raw})", raw) if case.target.kind == "log_probs" else (raw, f"np.log({raw})")
    w.emit(f"t, log_t = {t}, {log_t}")
    w.emit(f"log_q = {_log_q(w)}")
    w.emit("per_element = np.where(t == 0, 0, t * (log_t - log_q))")
    _reduce(w, "per_element")


def _sum(w: RecipeWriter, array: str, axis: int | None = None) -> str:
    """The sum of ``array`` accumulated in float64 and rounded to the dtype once."""
    return f"np.sum({array}{'' if axis is None else f', axis={axis}'}, dtype=np.float64).astype({w.dtype!r})"


def _reduce(w: RecipeWriter, per: str, denominator: str | None = None) -> None:
    reduction = w.case.reduction
    if reduction == "none":
        w.emit(f"loss = {per}")
        return
    summed = f"np.sum({per}, dtype=np.float64)"
    if reduction == "batchmean":
        denominator = str(w.case.input.values.shape[0])
    elif reduction == "mean" and denominator is None:
        denominator = f"{per}.size"
    total = f"{summed} / {denominator}" if reduction != "sum" else summed
    w.emit(f"loss = np.asarray({total}).astype({w.dtype!r})")


def _faithful_only(case: Case) -> str | None:
    # A hand-written formula has no default reading to call "as is": it computes
    # what the case declares, so it has no as_is rows and no probe profile.
    return "the reference computes what the case declares; it has no as_is reading" \
        if case.mode == "as_is" else None


_ALL_INPUTS = frozenset({"logits", "probs", "log_probs"})
_ALL_REDUCTIONS = frozenset({"mean", "sum", "none", "batchmean"})

FRAMEWORK = Framework(
    name="numpy",
    distributions=("numpy", "scipy"),
    # ml_dtypes gives NumPy the name "bfloat16".
    imports=("import ml_dtypes", "import numpy as np", "import scipy.special"),
    float_array="np.array({data}, dtype={dtype!r})",
    index_array="np.array({data})",
    show="np.asarray(loss, dtype=np.float64).tolist()",
    worker_module="conformance.adapters.numpy",
    bindings=(
        Binding("numpy.cross_entropy", "cross_entropy", _ALL_INPUTS, frozenset({"index", "probs"}),
                _write_cross_entropy, options=frozenset({"weight", "ignore_index", "label_smoothing"}),
                reads="the canonical formula: log_softmax of logits, log of probabilities",
                doc=DOCS.format("log_softmax"), limits=_faithful_only),
        Binding("numpy.binary_cross_entropy", "binary_cross_entropy", frozenset({"logits", "probs"}),
                frozenset({"probs"}), _write_binary_cross_entropy, options=frozenset({"pos_weight"}),
                reads="the canonical formula: log_expit of logits, log and log1p of probabilities",
                doc=DOCS.format("log_expit"), limits=_faithful_only),
        Binding("numpy.kl_divergence", "kl_divergence", _ALL_INPUTS, frozenset({"probs", "log_probs"}),
                _write_kl_divergence, reductions=_ALL_REDUCTIONS,
                reads="the canonical formula t (log t - log q)",
                doc=DOCS.format("rel_entr"), limits=_faithful_only),
    ) + CTC_BINDINGS + OVERLAP_BINDINGS + REGRESSION_BINDINGS + MARGIN_BINDINGS + SIMILARITY_BINDINGS
    + MULTICLASS_BINDINGS + FOCAL_BINDINGS,
)


# -- worker side: only ever called inside the numpy worker process -----------
def setup() -> None:
    import scipy.special  # noqa: F401


def to_numpy(value: Any) -> Any:
    import numpy as np

    return np.asarray(value).astype(np.float64)


def result_dtype(value: Any) -> str:
    import numpy as np

    return str(np.asarray(value).dtype)


def device() -> str:
    return "cpu"
