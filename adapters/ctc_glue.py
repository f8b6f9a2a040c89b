"""What every CTC binding writes around its API: the labels, lengths and layout it wants.

A CTC case states its labels as ragged lists and its input batch-major
``(N, T, C)`` (``time_major: true``: ``(T, N, C)``); each API wants its own
representation, and the recipe shows it: right-padded labels (padded with 0, the
value ``keras.losses.CTC`` reads as padding) plus label lengths, or paddings (1.0 = padded) for optax; the input lengths as a
vector or as per-frame paddings. All of it is data movement: exact.

This module imports no framework.
"""

from __future__ import annotations

from conformance.families.ctc import frame_count, input_lengths
from conformance.recipe import ArrayOps, RecipeWriter
from conformance.sequences import lengths, unpadded
from conformance.vocabulary import Reduction

# Labels are padded with 0 after their end: every API ignores what lies past a
# label's length, and keras.losses.CTC counts the non-zero entries as the length.
PAD = 0


def _pad(w: RecipeWriter, row: list, value: object, width: int) -> list:
    """``row`` padded to ``width``: on the right; on the left where the case shows left padding (as_is)."""
    padding = [value] * (width - len(row))
    return padding + row if w.case.option("left_padded") else row + padding


def padded_labels(w: RecipeWriter) -> str:
    """``labels``: (N, S) padded with 0 (S >= 1: an array of empty rows has no dtype to infer)."""
    rows = unpadded(w.case.target.values)
    width = max(1, max(len(r) for r in rows))
    return w.ints("labels", [_pad(w, r, PAD, width) for r in rows])


def sparse_labels(w: RecipeWriter) -> str:
    """``labels`` as a ``tf.SparseTensor``: the (sequence, position) of each label, its value, and
    the dense shape (N, longest label); an empty label has no entry."""
    rows = unpadded(w.case.target.values)
    # Flat, then reshaped to (entries, 2): a batch of empty labels has no entry, and an empty
    # literal has no shape of its own.
    positions = w.ints("label_positions", [k for n, row in enumerate(rows) for i in range(len(row)) for k in (n, i)])
    values = w.ints("label_values", [v for row in rows for v in row])
    shape = [len(rows), max(1, max(len(r) for r in rows))]
    w.emit(f"labels = tf.SparseTensor(indices=tf.reshape(tf.cast({positions}, tf.int64), [-1, 2]), "
           f"values=tf.cast({values}, tf.int32), dense_shape={shape})")
    return "labels"


def label_lengths(w: RecipeWriter) -> str:
    return w.ints("label_lengths", lengths(w.case.target.values))


def input_length_vector(w: RecipeWriter) -> str:
    return w.ints("input_lengths", input_lengths(w.case))


def label_paddings(w: RecipeWriter) -> str:
    """optax's ``label_paddings``: 1.0 where ``labels`` is padding, in the run's dtype."""
    rows = unpadded(w.case.target.values)
    width = max(1, max(len(r) for r in rows))
    return w.floats("label_paddings", [_pad(w, [0.0] * len(r), 1.0, width) for r in rows])


def frame_paddings(w: RecipeWriter) -> str:
    """optax's ``logit_paddings``: 1.0 for the frames past each sequence's input length."""
    frames = frame_count(w.case)
    return w.floats("logit_paddings", [[0.0] * n + [1.0] * (frames - n) for n in input_lengths(w.case)])


def reduce_sequences(w: RecipeWriter, per: str, ops: ArrayOps) -> None:
    """``loss`` from the API's per-sequence losses ``per``, as the case's reduction asks.

    ``length_mean`` (PyTorch's ``'mean'``, which the other APIs lack) first divides each
    loss by its label length, at least 1: one product per sequence, like a class weight,
    done in float64 so that it rounds nothing; the batch mean follows."""
    if w.case.reduction == Reduction.LENGTH_MEAN:
        divisors = w.floats("label_lengths_at_least_1", [max(n, 1) for n in lengths(w.case.target.values)])
        if ops.widen:
            per, divisors = (ops.widen.format(per, dtype="float64"), ops.widen.format(divisors, dtype="float64"))
        w.emit(f"per_sequence_by_length = {per} / {divisors}")
        per = "per_sequence_by_length"
    w.reduce(per, ops)
