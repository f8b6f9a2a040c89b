"""TensorFlow binding of CTC (``tf.nn.ctc_loss`` with dense labels).

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
Sparse labels (a ``SparseTensor``, which takes another kernel) have no binding yet.

This module imports TensorFlow only inside recipe strings.
"""

from __future__ import annotations

from conformance.adapters.ctc_glue import input_length_vector, label_lengths, padded_labels
from conformance.binding import Binding
from conformance.case import Case
from conformance.recipe import ArrayOps, RecipeWriter

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
    w.reduce("per_sequence", OPS)


def _no_reduction_as_is(case: Case) -> str | None:
    if case.mode == "as_is" and case.reduction != "none":
        return "tf.nn.ctc_loss returns one loss per sequence: as_is, it has no reduction of its own"
    return None


# Measured (traceback): the Mul in _ilabel_to_state, float64 log-probabilities times the float32 one-hot of the labels.
_FLOAT64 = {"float64": "float64 logits raise InvalidArgumentError (\"cannot compute Mul\"): the dense path "
                       "multiplies the float64 log-probabilities by a float32 one-hot of the labels "
                       f"({SOURCE}#L605-L608)"}
_OPTIONS = frozenset({"blank", "input_lengths", "time_major", "left_padded"})

BINDINGS = (
    Binding("tensorflow.nn.ctc_loss", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}), _write_dense,
            options=_OPTIONS, limits=_no_reduction_as_is, doc=DOCS, refuses_dtypes=_FLOAT64,
            reads="softmax of logits (time-major by default), dense labels with lengths, blank 0; log 0 is "
                  "log(1e-307) in float32 in the state masks, so no alignment costs about 707",
            grad_readings={"log_probs": "ctc_softmax_assumed"},
            profile={"ctc_input": "logits", "ctc_infeasible": "about 707 (log 0 = log 1e-307)"}),
)
