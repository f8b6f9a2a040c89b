r"""Cosine similarity :math:`\cos(x, y) = x \cdot y / (\lVert x\rVert\,\lVert y\rVert)` per position.

Input ``embeddings`` (the prediction ``x``), target ``references`` (``y``), of
the same shape; the vectors lie along the feature axis (the case's
``class_axis``, default the last axis), which the per-position value drops:
an (N, D) case has N values, reduced over N. No options. The value is the
similarity itself, in [-1, 1], higher is more alike; **no epsilon**: a zero
vector gives 0/0 = NaN, and tiny vectors keep their exact direction.

APIs that return it as a loss to minimise document a constant factor -1
(Keras' ``CosineSimilarity`` and ``cosine_similarity`` return ``-cos``): the
faithful glue multiplies by -1 (exact), ``as_is`` shows the sign (reading
``factor = -1``). The guards APIs add are readings of
:mod:`conformance.families.similarity`.

Example::

    loss: cosine_similarity
    input: {embeddings: [[1.0, 0.0], [3.0, 4.0]]}
    target: {references: [[1.0, 1.0], [4.0, 3.0]]}
    reduction: none
    expected: [0.7071067811865476, 0.96]

Gradient (analytic) with respect to ``x``: :math:`y / (\lVert x\rVert \lVert y\rVert) -
\cos(x, y)\, x / \lVert x\rVert^2`, over the reduction's divisor.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.exact import mp_array
from conformance.families import similarity as shared
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class CosineSimilarity(shared.FeatureFamily):
    name = "cosine_similarity"
    definition = "x . y / (|x| |y|) per position along the feature axis (no eps: NaN for a zero vector)"
    inputs = ("embeddings",)
    targets = {"references": Elements.FLOAT}
    aspects = (shared.COSINE_SIGN, shared.COSINE_GUARD, shared.COSINE_AXIS)

    def row_loss(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray, index: tuple[int, ...]) -> Any:
        return self.of_cosine(shared.cosine(x, y))

    def of_cosine(self, c: Any) -> Any:
        """The position's value as a function of its cosine."""
        return c

    # The derivative of of_cosine (-1 for the distance).
    sign = 1

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        xs = self.rows(case, dtype, mp_array(case.input.values, dtype))
        ys = self.rows(case, dtype, mp_array(case.target.values, dtype))
        grad = np.empty(xs.shape, dtype=object)
        for index in np.ndindex(xs.shape[:-1]):
            grad[index] = shared.cosine_slope(xs[index], ys[index]) * self.sign
        return self.scaled_rows(case, grad)

    def own_readings(self, case: Case, dtype: DType) -> list[shared.SimilarityKnobs]:
        return [shared.SimilarityKnobs(factor=-1.0)]

    def rows_float(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray,
                   knobs: shared.SimilarityKnobs) -> np.ndarray:
        return self.of_cosine(shared.cosine_float(x, y, knobs))


FAMILY = CosineSimilarity()
