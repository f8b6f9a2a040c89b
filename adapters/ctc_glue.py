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
from conformance.recipe import RecipeWriter
from conformance.sequences import lengths, unpadded

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
