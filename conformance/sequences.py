"""Ragged label sequences (a leaf module of the case format): CTC's targets.

A case writes its labels as a list of label lists, one per batch element, with
the lengths implied: ``target: {labels: [[1, 2], [1, 1], []]}``. They are kept
as one int64 array padded on the right with :data:`PAD` (-1, never a label), so
everything that stores, hashes or shows a target array handles them unchanged;
:func:`unpadded` and :func:`lengths` give the sequences back.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.arrays import INT64, short

PAD = -1
# The most entries the padded array may hold (sequences x the longest): the rows are padded to the
# longest, so a short file of many empty rows and one long row would otherwise allocate gigabytes
# before any other check sees it.
MAX_PADDED_LABELS = 1_000_000


def label_sequences(value: Any) -> np.ndarray:
    """A list of label lists (class indices >= 0, ragged) as a right-padded int64 array."""
    if isinstance(value, np.ndarray):
        if value.ndim == 2 and value.dtype.kind == "i":  # already parsed (a copied case)
            return value.astype(np.int64)
        raise ValueError("label sequences are written out as a list of label lists, not drawn")
    if not isinstance(value, list) or not value:
        raise ValueError(f"labels are a non-empty list of label lists, one per sequence, e.g. "
                         f"[[1, 2], [3], []]; got {short(value)}")
    for i, row in enumerate(value):
        if not isinstance(row, list):
            raise ValueError(f"sequence [{i}] is {short(row)}, not a list of labels")
        for j, label in enumerate(row):
            if isinstance(label, bool) or not isinstance(label, int):
                raise ValueError(f"label [{i}][{j}] is {short(label)}, not an integer class index")
            if not 0 <= label <= INT64[1]:
                raise ValueError(f"label [{i}][{j}] is {label}: labels are class indices >= 0")
    width = max(len(row) for row in value)
    if len(value) * width > MAX_PADDED_LABELS:
        raise ValueError(f"{len(value)} label sequences padded to the longest ({width} labels) make "
                         f"{len(value) * width} entries; at most {MAX_PADDED_LABELS} (every row is padded "
                         f"to the longest): use fewer or shorter sequences")
    padded = np.full((len(value), width), PAD, dtype=np.int64)
    for i, row in enumerate(value):
        padded[i, :len(row)] = row
    return padded


def lengths(padded: np.ndarray) -> np.ndarray:
    """The length of each sequence (its labels before the padding)."""
    return (padded != PAD).sum(axis=1).astype(np.int64)


def unpadded(padded: np.ndarray) -> list[list[int]]:
    """The sequences as lists of labels, as a case writes them."""
    return [[int(v) for v in row if v != PAD] for row in padded]
