"""tinygrad bindings (``Tensor`` loss methods), an out-of-tree framework plugin.

tinygrad 0.14 has five loss methods on ``Tensor`` (``tinygrad/mixin/op.py``):
``sparse_categorical_crossentropy`` (logits, classes on the last axis, class
indices, ``ignore_index``, ``label_smoothing``), ``cross_entropy`` (logits,
classes on axis 1 like PyTorch, class indices or probabilities,
``label_smoothing``), ``nll_loss`` (log-probabilities gathered along axis 1,
``weight``, ``ignore_index``), ``binary_crossentropy`` (probabilities) and
``binary_crossentropy_logits`` (logits, ``pos_weight``). It has no KL
divergence. Every one of them is written out of elementary tensor operations,
with no clipping; what an API lacks (class weights, an ignore index, another
class axis) is glue on what it returns, and the glue is part of the recipe.

This module is the declaration only: it never imports tinygrad. The worker
side is :mod:`conformance_tinygrad.worker`.
"""

from __future__ import annotations

import os
import shutil

from conformance.binding import Binding, Framework
from conformance.case import Case
from conformance.recipe import ArrayOps, RecipeWriter, kwargs

TAG = "v0.14.0"
SOURCE = f"https://github.com/tinygrad/tinygrad/blob/{TAG}/tinygrad/mixin/op.py"
# The methods' definitions in tinygrad/mixin/op.py at v0.14.0.
LINES = {"binary_crossentropy": 1696, "binary_crossentropy_logits": 1710,
         "sparse_categorical_crossentropy": 1725, "cross_entropy": 1750, "nll_loss": 1777}


def _source(api: str) -> str:
    return f"{SOURCE}#L{LINES[api]}"


# sum / mean / where / fancy indexing, as the index glue of RecipeWriter needs them.
OPS = ArrayOps(total="{}.sum()", mean="{}.mean()", where="{}.where({}, {})", take="{}[{}]",
               count="{mask}.sum()", widen="{}.cast(tinygrad.dtypes.{dtype})")


# -- glue ---------------------------------------------------------------------------
def _move_classes(w: RecipeWriter, array: str, to: int) -> str:
    """``array`` with the case's class axis moved to axis ``to`` (as_is: as written)."""
    source = w.case.axis
    if w.as_is or source == to:
        return array
    order = [a for a in range(w.case.ndim) if a != source]
    order.insert(to, source)
    return f"{array}.permute({', '.join(map(str, order))})"


def _as_logits(w: RecipeWriter) -> str:
    x = w.input()
    # Log-probabilities are valid logits: log_softmax(log p) = log p.
    return w.converted("log_probs", f"{x}.log()") if not w.as_is and w.case.input.kind == "probs" else x


def _as_log_probs(w: RecipeWriter, axis: int) -> str:
    x, kind = w.input(), w.case.input.kind
    if w.as_is or kind == "log_probs":
        return x
    if kind == "probs":
        return w.converted("log_probs", f"{x}.log()")
    return f"{x}.log_softmax({axis})"


def _reduction(w: RecipeWriter, native: bool = True) -> str | None:
    """The ``reduction=`` argument: the case's (None for tinygrad's default, mean), or
    ``'none'`` when glue reduces what the API returns."""
    if not native:
        return "'none'"
    return None if w.case.reduction == "mean" else repr(w.case.reduction)


def _safe_labels(w: RecipeWriter) -> str:
    """The class indices with ignored positions pointed at class 0 (masked out afterwards)."""
    labels, ignore = w.target(), w.case.option("ignore_index")
    return labels if ignore is None else f"({labels} != {ignore}).where({labels}, 0)"


def _weighted(w: RecipeWriter, per: str) -> None:
    """Weight per-example losses of index targets by their class's weight, then reduce
    them (weighted mean), dropping ignored positions: the API has no class weights."""
    if w.case.option("weight") is not None:
        w.emit(f"{per} = {per} * {w.weight()}[{_safe_labels(w)}]")
    w.index_glue(per, OPS)


def _no_weight_with_smoothing(api: str):
    def limits(case: Case) -> str | None:
        if case.option("weight") is not None and case.option("label_smoothing"):
            return (f"tinygrad's {api} has no class weights, and weighting its smoothed "
                    "per-example losses is not -sum_c w_c t_c log q_c")
        return None
    return limits


# -- the calls ------------------------------------------------------------------------
def _write_sparse_categorical_crossentropy(w: RecipeWriter) -> None:
    case = w.case
    logits = _move_classes(w, _as_logits(w), case.ndim - 1)
    ignore = case.option("ignore_index")
    smoothing = case.option("label_smoothing") or None
    if case.option("weight") is None:
        options = kwargs(ignore_index=ignore, label_smoothing=smoothing, reduction=_reduction(w))
        w.emit(f"loss = {logits}.sparse_categorical_crossentropy({w.target()}{options})")
        return
    options = kwargs(ignore_index=ignore, reduction=_reduction(w, native=False))
    w.emit(f"per_example = {logits}.sparse_categorical_crossentropy({w.target()}{options})")
    _weighted(w, "per_example")


def _write_cross_entropy(w: RecipeWriter) -> None:
    case = w.case
    dim = 1 if case.ndim > 1 else 0
    logits = _move_classes(w, _as_logits(w), dim)
    smoothing = case.option("label_smoothing") or None
    if case.target.kind == "probs":
        target = _move_classes(w, w.target(), dim)
        if case.option("weight") is not None:
            # -sum_c w_c t_c log q_c: class weights fold exactly into the target.
            shape = (case.num_classes,) + (1,) * (case.ndim - 1 - dim)
            target = f"{target} * {w.weight()}.reshape({shape})"
        options = kwargs(reduction=_reduction(w), label_smoothing=smoothing)
        w.emit(f"loss = {logits}.cross_entropy({target}{options})")
        return
    if case.option("weight") is None and case.option("ignore_index") is None:
        options = kwargs(reduction=_reduction(w), label_smoothing=smoothing)
        w.emit(f"loss = {logits}.cross_entropy({w.target()}{options})")
        return
    options = kwargs(reduction=_reduction(w, native=False), label_smoothing=smoothing)
    w.emit(f"per_example = {logits}.cross_entropy({_safe_labels(w)}{options})")
    _weighted(w, "per_example")


def _write_nll_loss(w: RecipeWriter) -> None:
    case = w.case
    log_probs = _move_classes(w, _as_log_probs(w, case.axis), 1)
    options = kwargs(weight=w.weight() if case.option("weight") is not None else None,
                     ignore_index=case.option("ignore_index"), reduction=_reduction(w))
    w.emit(f"loss = {log_probs}.nll_loss({w.target()}{options})")


def _write_binary_crossentropy(w: RecipeWriter) -> None:
    w.emit(f"loss = {w.input()}.binary_crossentropy({w.target()}{kwargs(reduction=_reduction(w))})")


def _write_binary_crossentropy_logits(w: RecipeWriter) -> None:
    given = w.case.option("pos_weight")
    pos_weight = w.floats("pos_weight", given) if given is not None else None
    options = kwargs(reduction=_reduction(w), pos_weight=pos_weight)
    w.emit(f"loss = {w.input()}.binary_crossentropy_logits({w.target()}{options})")


def _nll_limits(case: Case) -> str | None:
    if case.ndim < 2:
        return "tinygrad's nll_loss gathers along axis 1: a 1-d input has none"
    return None


# -- the device ------------------------------------------------------------------------
def _compiler() -> str | None:
    """The C compiler tinygrad's CPU device runs (its ``CC``): CONFORMANCE_TINYGRAD_CC, else
    the newest ``clang-N`` (N >= 15) on PATH, else None (tinygrad then runs plain ``clang``)."""
    chosen = os.environ.get("CONFORMANCE_TINYGRAD_CC")
    if chosen:
        return chosen
    return next((f"clang-{n}" for n in range(30, 14, -1) if shutil.which(f"clang-{n}")), None)


DEVICE = os.environ.get("CONFORMANCE_TINYGRAD_DEV", "CPU")
CC = _compiler()
# Set before tinygrad is imported: the device every recipe computes on (another device,
# CONFORMANCE_TINYGRAD_DEV=PYTHON, CUDA..., runs the same recipes; expectations.yaml is
# measured on CPU), and the compiler of its kernels.
# PARALLEL=0: tinygrad otherwise compiles in a pool of processes it respawns every 16 kernels
# (each a fresh Python importing tinygrad); a worker computes on one core, as every
# framework's worker does (conformance/process.py THREAD_ENV).
WORKER_ENV = {"DEV": DEVICE, "PARALLEL": "0", **({"CC": CC} if CC else {})}
# tinygrad's CPU device writes bfloat16 kernels with the C type __bf16. Debian 12's `clang`
# (14) rejects it ("__bf16 is not supported on this target"); clang-15, -16 and -19 compile
# them (measured). Without a clang-N there are no bfloat16 rows, with the reason.
REFUSES = ({"bfloat16": "tinygrad's CPU device compiles bfloat16 kernels as C with __bf16, which "
                        "clang 14 rejects; install clang-15 or newer (Debian 12: clang-19), or set "
                        "CONFORMANCE_TINYGRAD_CC"}
           if DEVICE.split(":")[0].upper() == "CPU" and CC is None else {})

_CE_INPUTS = frozenset({"logits", "log_probs", "probs"})
# The faithful glue gives log p (or log-probabilities) to an API that takes logits.
_LOGITS_API_GRADIENTS = {"log_probs": "softmax"}

BINDINGS = (
    Binding("tinygrad.sparse_categorical_crossentropy", "cross_entropy", _CE_INPUTS,
            frozenset({"index"}), _write_sparse_categorical_crossentropy,
            options=frozenset({"weight", "ignore_index", "label_smoothing"}),
            limits=_no_weight_with_smoothing("sparse_categorical_crossentropy"),
            reads="applies log_softmax over the last axis (reads its input as logits)",
            grad_readings=_LOGITS_API_GRADIENTS,
            doc=_source("sparse_categorical_crossentropy"),
            refuses_dtypes=REFUSES,
            profile={"input": "logits",
                     "unnormalised": "n/a: reads logits",
                     "zero_probability": "n/a: reads logits",
                     "neg_inf": "finite (0 log 0 = 0)",
                     "class_axis": "last (raises on (N, C, L))",
                     "smoothing": "eps/C"}),
    Binding("tinygrad.cross_entropy", "cross_entropy", _CE_INPUTS, frozenset({"index", "probs"}),
            _write_cross_entropy,
            options=frozenset({"weight", "ignore_index", "label_smoothing"}),
            limits=_no_weight_with_smoothing("cross_entropy"),
            reads="applies log_softmax over axis 1 (reads its input as logits)",
            grad_readings=_LOGITS_API_GRADIENTS,
            doc=_source("cross_entropy"),
            refuses_dtypes=REFUSES,
            profile={"input": "logits",
                     "unnormalised": "n/a: reads logits",
                     "zero_probability": "n/a: reads logits",
                     "neg_inf": "NaN (0 * -inf) / finite (0 log 0 = 0)",
                     "class_axis": "1",
                     "smoothing": "eps/C"}),
    Binding("tinygrad.nll_loss", "cross_entropy", _CE_INPUTS, frozenset({"index"}), _write_nll_loss,
            options=frozenset({"weight", "ignore_index"}), limits=_nll_limits,
            reads="reads its input as log-probabilities and returns -input[target] (gathered on axis 1)",
            doc=_source("nll_loss"),
            refuses_dtypes=REFUSES,
            profile={"input": "log-probabilities",
                     "unnormalised": "n/a: reads log-probabilities",
                     "zero_probability": "n/a: reads log-probabilities",
                     "neg_inf": "n/a: reads log-probabilities",
                     "class_axis": "n/a: reads log-probabilities"}),
    Binding("tinygrad.binary_crossentropy", "binary_cross_entropy", frozenset({"probs"}),
            frozenset({"probs"}), _write_binary_crossentropy,
            reads="reads its input as probabilities: -(y log p + (1-y) log(1-p)), no clipping",
            doc=_source("binary_crossentropy"),
            refuses_dtypes=REFUSES,
            profile={"input": "probabilities",
                     "zero_probability": "infinite loss (no clip)",
                     "neg_inf": "n/a: reads probabilities"}),
    Binding("tinygrad.binary_crossentropy_logits", "binary_cross_entropy", frozenset({"logits"}),
            frozenset({"probs"}), _write_binary_crossentropy_logits,
            options=frozenset({"pos_weight"}),
            reads="applies logsigmoid (reads its input as logits)",
            doc=_source("binary_crossentropy_logits"),
            refuses_dtypes=REFUSES,
            profile={"input": "logits",
                     "zero_probability": "n/a: reads logits",
                     "neg_inf": "NaN (0 * -inf)"}),
)


FRAMEWORK = Framework(
    name="tinygrad",
    distributions=("tinygrad",),
    imports=("import tinygrad",),
    float_array="tinygrad.Tensor({data}, dtype=tinygrad.dtypes.{dtype})",
    index_array="tinygrad.Tensor({data})",
    show="loss.tolist()",
    worker_module="conformance_tinygrad.worker",
    bindings=BINDINGS,
    env=WORKER_ENV,
    # tinygrad has no KL divergence: it cannot express every faithful case.
    complete=False,
    gradient=("grad, = loss_of({x}).sum().gradient({x})", "print(grad.tolist())"),
    expectations="conformance_tinygrad:expectations.yaml",
)
