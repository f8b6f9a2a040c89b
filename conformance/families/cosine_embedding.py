r"""Cosine embedding loss of labelled pairs, per pair :math:`(x_1, x_2, y)`:

.. math:: \ell = 1 - \cos(x_1, x_2) \text{ where } y = 1, \qquad
          \ell = \max(0, \cos(x_1, x_2) - \text{margin}) \text{ where } y = -1

Input ``embeddings`` (``x_1``, the array the gradient is taken with respect
to), target ``pairs`` (``x_2``, the other embedding of each pair), both (N, D)
or (D,) with the features on the last axis; option ``labels`` (required: one
±1 label per pair, shape (N,) or a 0-d array for a single pair; other values
are refused: the loss is defined for ±1 only) and ``margin`` (default 0, any
real number; torch documents [-1, 1]). ``mean`` averages over the pairs.
**No epsilon**: a zero vector gives NaN. torch adds ``EPSILON = 1e-12`` to
each squared norm (ATen ``Loss.cpp``), a reading.

Example::

    loss: cosine_embedding
    input: {embeddings: [[1.0, 0.0], [3.0, 4.0]]}
    target: {pairs: [[1.0, 1.0], [4.0, 3.0]]}
    labels: [1.0, -1.0]
    margin: 0.5
    reduction: none
    expected: [0.2928932188134524, 0.46]

Gradient (analytic) with respect to ``x_1``: :math:`-\partial\cos` where
:math:`y = 1`; :math:`\partial\cos` where :math:`y = -1` and
:math:`\cos > \text{margin}`, 0 below, half at the kink.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.arrays import FloatArray, Number
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, mp_array
from conformance.families import similarity as shared
from conformance.families.base import Options
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class CosineEmbeddingOptions(Options):
    labels: FloatArray | None = None
    margin: Number = 0.0


class CosineEmbedding(shared.FeatureFamily):
    name = "cosine_embedding"
    definition = "1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1, per pair"
    inputs = ("embeddings",)
    targets = {"pairs": Elements.FLOAT}
    options = CosineEmbeddingOptions
    aspects = (shared.COSINE_GUARD,)

    def check(self, case: Case) -> None:
        if case.ndim > 2 or not case.class_axis_is_last:
            raise CaseRuleError("input", "cosine_embedding takes (N, D) or (D,) embeddings, features last")
        labels = case.options.labels
        if labels is None:
            raise CaseRuleError("labels", "cosine_embedding needs `labels:` (one ±1 label per pair)")
        if labels.shape != self.output_shape(case):
            raise CaseRuleError("labels", f"labels need one entry per pair, shape {list(self.output_shape(case))}; "
                                f"got {list(labels.shape)}")
        if not np.isin(labels, (-1.0, 1.0)).all():
            raise CaseRuleError("labels", "labels are 1 (similar) or -1 (dissimilar)")

    def row_loss(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray, index: tuple[int, ...]) -> Any:
        c = shared.cosine(x, y)
        if case.options.labels[index] == 1:
            return 1 - c
        return shared.hinge(c - MP.mpf(case.options.margin))

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        xs = self.rows(case, dtype, mp_array(case.input.values, dtype))
        ys = self.rows(case, dtype, mp_array(case.target.values, dtype))
        grad = np.empty(xs.shape, dtype=object)
        for index in np.ndindex(xs.shape[:-1]):
            slope = shared.cosine_slope(xs[index], ys[index])
            if case.options.labels[index] == 1:
                grad[index] = -slope
            else:
                c = shared.cosine(xs[index], ys[index])
                grad[index] = slope * shared.hinge_slope(c - MP.mpf(case.options.margin))
        return self.scaled_rows(case, grad)

    def rows_float(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray,
                   knobs: shared.SimilarityKnobs) -> np.ndarray:
        # As torch: the dot over the product of the norms (an overflowing row is inf / inf = NaN).
        xc, yc = shared.computed(x, knobs), shared.computed(y, knobs)
        products = (xc * yc).sum(axis=-1).astype(np.float64)
        c = products / (shared.norms(x, knobs) * shared.norms(y, knobs))
        labels = case.options.labels
        return np.where(labels == 1, 1 - c, np.maximum(c - float(round_to(case.options.margin, "float64")), 0.0))

    def kink_points(self, reading: Any) -> list[float]:
        return [0.0]


FAMILY = CosineEmbedding()
