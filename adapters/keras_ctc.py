"""Keras 3 bindings of CTC (``keras.ops.ctc_loss``, ``keras.losses.CTC``), on every backend.

``keras.ops.ctc_loss(target, output, target_length, output_length, mask_index=0)``
takes batch-major logits ``(N, T, C)``, padded labels with their lengths and the
input lengths; ``mask_index`` *is the blank*. It returns one loss per sequence
(the glue reduces it) and dispatches to a backend: TensorFlow's
``tf.nn.ctc_loss`` dense path (log 0 = log(1e-307) in float32: a label with no
alignment costs about 707), on JAX a copy of optax's recursion (log 0 = -1e5: about
1e5), on torch ``torch.nn.functional.ctc_loss`` (inf). The same call returns 707,
1e5 or inf depending only on the backend. Every backend computes float64 in
float32.

``keras.losses.CTC`` (class, ``reduction="sum_over_batch_size"``: a plain batch
mean) calls ``ops.ctc_loss`` with ``mask_index=0``, every input length ``T``, and
label lengths counted as the non-zero entries of ``y_true``: 0 is both the blank
and the padding, so it has no ``blank``, no ``input_lengths`` (the glue pads with 0).

The declarations are listed by :func:`conformance.adapters.keras.on_backend` for
each backend. This module imports nothing of Keras.
"""

from __future__ import annotations

from conformance.adapters.ctc_glue import input_length_vector, label_lengths, padded_labels, reduce_sequences
from conformance.adapters.keras_regression import OPS, V
from conformance.binding import Binding, Inherits
from conformance.case import Case, Expectation
from conformance.recipe import RecipeWriter
from conformance.tolerance import Bound

OPS_DOCS = "https://keras.io/api/ops/nn/#ctcloss-function"
CLASS_DOCS = "https://keras.io/api/losses/probabilistic_losses/#ctc-class"

IN_FLOAT32 = Expectation(
    within=Bound(like="float32"), grad_within=Bound(like="float32"), category="precision", dtypes=["float64"],
    link=f"{V}/backend/tensorflow/nn.py#L1583-L1585",
    reason="keras.ops.ctc_loss computes float64 in float32 on every backend: on TensorFlow it casts float64 logits "
           "to float32 for tf.nn.ctc_loss (which refuses float64) and the result back; on JAX and torch "
           "backend.result_type(float64, 'float32') is float32 (BIT64_TO_BIT32_DTYPE), the dtype the "
           "loss is computed and returned in.")


def _batch_major(w: RecipeWriter) -> str:
    x = w.input()
    return f"keras.ops.transpose({x}, (1, 0, 2))" if w.case.option("time_major") else x


def _write_ops(w: RecipeWriter) -> None:
    blank = w.case.option("blank")
    w.emit(f"per_sequence = keras.ops.ctc_loss({padded_labels(w)}, {_batch_major(w)}, {label_lengths(w)}, "
           f"{input_length_vector(w)}{f', mask_index={blank}' if blank else ''})")
    reduce_sequences(w, "per_sequence", OPS)


def _write_class(w: RecipeWriter) -> None:
    # length_mean is not a Keras reduction: the class returns the per-sequence losses and the glue
    # divides them by their label lengths before the mean.
    reduction = {"none": "None", "sum": '"sum"', "mean": None, "length_mean": "None"}[w.case.reduction]
    options = f"reduction={reduction}, " if reduction else ""
    call = f"keras.losses.CTC({options}dtype={w.dtype!r})({padded_labels(w)}, {_batch_major(w)})"
    if w.case.reduction != "length_mean":
        w.emit(f"loss = {call}")
        return
    w.emit(f"per_sequence = {call}")
    reduce_sequences(w, "per_sequence", OPS)


def _ops_limits(case: Case) -> str | None:
    if case.mode == "as_is" and case.reduction != "none":
        return "keras.ops.ctc_loss returns one loss per sequence: as_is, it has no reduction of its own"
    return None


REDUCTIONS = frozenset({"mean", "sum", "none", "length_mean"})
def _class_limits(case: Case) -> str | None:
    if case.mode == "as_is" and case.reduction == "length_mean":
        return "keras.losses.CTC has no length-normalised mean: as_is, the glue may not divide by the label lengths"
    return None


_READS = "softmax of batch-major logits, padded labels with lengths; mask_index is the blank (0)"
BINDINGS = (
    Binding("keras.ops.ctc_loss", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}), _write_ops,
            options=frozenset({"blank", "input_lengths", "time_major", "left_padded"}), limits=_ops_limits, doc=OPS_DOCS,
            reductions=REDUCTIONS,
            reads=_READS + "; the backend's log 0 decides an infeasible label's loss (707, 1e5 or inf)",
            grad_readings={"log_probs": "ctc_softmax_assumed"}, deviations=(IN_FLOAT32,),
            profile={"ctc_input": "logits", "ctc_infeasible": "about 707 (log 0 = log 1e-307)"}),
    Binding("keras.CTC", "ctc", frozenset({"logits", "log_probs"}), frozenset({"labels"}), _write_class,
            options=frozenset({"time_major", "left_padded"}), doc=CLASS_DOCS, reductions=REDUCTIONS,
            limits=_class_limits,
            # It calls keras.ops.ctc_loss (mask_index 0): what that documents holds for it.
            documented_by=(Inherits("keras.ops.ctc_loss", shared_only=True),),
            reads="softmax of batch-major logits; 0 is both the blank and the label padding, every input "
                  "length is T; sum_over_batch_size is the plain batch mean",
            grad_readings={"log_probs": "ctc_softmax_assumed"}, deviations=(IN_FLOAT32,),
            profile={"ctc_input": "logits", "ctc_infeasible": "about 707 (log 0 = log 1e-307)", "ctc_mean": "batch size"}),
)

# What an infeasible label gives on the other backends (the bindings above declare TensorFlow's).
_JAX = {"ctc_infeasible": "about 1e5 (log 0 = -1e5)"}
_TORCH = {"ctc_infeasible": "inf"}
BACKEND_PROFILES = {"jax": {"ops.ctc_loss": _JAX, "CTC": _JAX}, "torch": {"ops.ctc_loss": _TORCH, "CTC": _TORCH}}
