r"""Cosine distance :math:`1 - \cos(x, y)` per position, :math:`\cos(x, y) = x \cdot y / (\lVert x\rVert\,\lVert y\rVert)`.

The same schema as :mod:`conformance.families.cosine_similarity` (input
``embeddings``, target ``references``, the feature axis dropped; no options):
a loss in [0, 2], 0 for vectors pointing the same way. **No epsilon**: a zero
vector gives NaN. A family of its own rather than glue around the similarity,
because ``1 - (1 - c)`` is not exact in floating point: an API that returns the
distance (optax's ``cosine_distance``) is compared with the distance.

Example::

    loss: cosine_distance
    input: {embeddings: [[3.0, 4.0]]}
    target: {references: [[4.0, 3.0]]}
    expected: 0.04

Gradient (analytic) with respect to ``x``: minus that of the cosine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.families import similarity as shared
from conformance.families.cosine_similarity import CosineSimilarity

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class CosineDistance(CosineSimilarity):
    name = "cosine_distance"
    definition = "1 - x . y / (|x| |y|) per position along the feature axis (no eps: NaN for a zero vector)"
    aspects = (shared.COSINE_GUARD, shared.COSINE_AXIS)
    sign = -1

    def of_cosine(self, c: Any) -> Any:
        return 1 - c

    def own_readings(self, case: Case, dtype: DType) -> list[shared.SimilarityKnobs]:
        return []


FAMILY = CosineDistance()
