"""TensorFlow bindings of CTC (``tf.nn.ctc_loss`` with dense labels, and with a ``SparseTensor``).

``tf.nn.ctc_loss(labels, logits, label_length, logit_length, logits_time_major=True,
blank_index=None)`` takes logits (softmax inside), time-major by default
(``logits_time_major=False`` takes the case's batch-major input as it is), and
returns one loss per sequence; the glue reduces it (float64 sums, rounded once).

Dense labels: padded labels plus ``label_length``; blank 0 unless ``blank_index``
(another blank is rotated to column 0 and the smaller labels shifted up). Its
forward writes log 0 as ``log(1e-307)`` in float32 (about -706.9) in its state
masks, so a path may end short of the label at that cost: a label with no
alignment costs about 707, not inf. float16 and bfloat16 logits are computed in
float32; float64 logits raise (the float64 log-probabilities are multiplied by a float32
one-hot of the labels).

Sparse labels (``tensorflow.nn.ctc_loss_sparse``: the same function given a
``tf.SparseTensor``) take another kernel, the older ``CTCLoss`` op: ``blank_index``
is required (the glue always passes the case's blank; the function moves it to the
last class, which the op takes as its blank), there is no ``label_length``, float64
is computed in float64, a label with no alignment costs inf (with a finite
gradient), and an empty label raises ``InvalidArgumentError`` ("Labels length is
zero in batch").

This module imports TensorFlow only inside recipe strings.
"""

from __future__ import annotations

from conformance.adapters.ctc_glue import (input_length_vector, label_lengths, padded_labels, reduce_sequences,
                                          sparse_labels)
from conformance.binding import Binding
from conformance.case import Case, Expectation
from conformance.recipe import ArrayOps, RecipeWriter
from conformance.tolerance import Bound

DOCS = "https://www.tensorflow.org/api_docs/python/tf/nn/ctc_loss"
SOURCE = "https://github.com/tensorflow/tensorflow/blob/v2.21.0/tensorflow/python/ops/ctc_ops.py"

OPS = ArrayOps(total="tf.reduce_sum({})", mean="tf.reduce_mean({})", widen="tf.cast({}, {dtype!r})")


def _layout(w: RecipeWriter) -> str | None:
    return None if w.case.option("time_major") else "False"


def _write_dense(w: RecipeWriter) -> None:
    blank = w.case.option("blank")
    layout = f", logits_time_major={_layout(w)}" if _layout(w) else ""
    w.emit(f"per_sequence = tf.nn.ctc_loss(labels={padded_labels(w)}, logits={w.input()}, "
           f"label_length={label_lengths(w)}, logit_length={input_length_vector(w)}{layout}"
           f"{f', blank_index={blank}' if blank else ''})")
    reduce_sequences(w, "per_sequence", OPS)


def _write_sparse(w: RecipeWriter) -> None:
    layout = f", logits_time_major={_layout(w)}" if _layout(w) else ""
    labels = sparse_labels(w)
    w.emit(f"per_sequence = tf.nn.ctc_loss(labels={labels}, logits={w.input()}, label_length=None, "
           f"logit_length={input_length_vector(w)}{layout}, blank_index={w.case.option('blank')})")
    reduce_sequences(w, "per_sequence", OPS)


def _no_reduction_as_is(case: Case) -> str | None:
    if case.mode == "as_is" and case.reduction != "none":
        return "tf.nn.ctc_loss returns one loss per sequence: as_is, it has no reduction of its own"
    return None


# Measured (traceback): the Mul in _ilabel_to_state, float64 log-probabilities times the float32 one-hot of the labels.
_FLOAT64 = {"float64": "float64 logits raise InvalidArgumentError (\"cannot compute Mul\"): the dense path "
                       "multiplies the float64 log-probabilities by a float32 one-hot of the labels "
                       f"({SOURCE}#L605-L608)"}
# The stored copy of ctc_loss_util.h (the v2.21.0 tag's C++ is not in the index); its LogSumExp is
# unchanged since 2016 apart from the kLogZero template.
_LOG_SUM_EXP = ("https://github.com/tensorflow/tensorflow/blob/2aabaa4b2736ad969680d3ffab4e7c0b11153578/"
                "tensorflow/core/util/ctc/ctc_loss_util.h#L37-L50")
SPARSE_LOG_SUM_EXP_IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision", dtypes=["float64"],
    link=_LOG_SUM_EXP,
    reason="The CTCLoss kernel behind SparseTensor labels is templated on float64, but every log-sum-exp of its "
           "forward, backward and gradient recursions calls log1pf(expf(...)), the float32 functions: float64 "
           "comes back with float32's relative error (about 1e-8).")
_OPTIONS = frozenset({"blank", "input_lengths", "time_major", "left_padded"})

BINDINGS = (
    Binding("tensorflow.nn.ctc_loss", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}), _write_dense,
            options=_OPTIONS, limits=_no_reduction_as_is, doc=DOCS, refuses_dtypes=_FLOAT64,
            reductions=frozenset({"mean", "sum", "none", "length_mean"}),
            reads="softmax of logits (time-major by default), dense labels with lengths, blank 0; log 0 is "
                  "log(1e-307) in float32 in the state masks, so no alignment costs about 707",
            grad_readings={"log_probs": "ctc_softmax_assumed"},
            profile={"ctc_input": "logits", "ctc_infeasible": "about 707 (log 0 = log 1e-307)"}),
    Binding("tensorflow.nn.ctc_loss_sparse", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}),
            _write_sparse, options=_OPTIONS - {"left_padded"}, limits=_no_reduction_as_is, doc=DOCS,
            reductions=frozenset({"mean", "sum", "none", "length_mean"}),
            reads="tf.nn.ctc_loss given a SparseTensor of labels (the older CTCLoss kernel): softmax of logits, "
                  "blank_index required (moved to the last class), float64 in float64; no alignment costs inf; "
                  "an empty label raises",
            grad_readings={"log_probs": "ctc_softmax_assumed"}, deviations=(SPARSE_LOG_SUM_EXP_IN_FLOAT32,),
            profile={"ctc_input": "logits", "ctc_infeasible": "inf"}),
)
