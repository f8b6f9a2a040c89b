r"""Crammer-Singer multiclass hinge loss :math:`\max(0, 1 + \max_{j \ne y} s_j - s_y)` per sample.

Input ``scores`` of shape ``(C,)`` or ``(N, C)``, classes last, C >= 2; target
``index`` (the class y of each sample, shape ``()`` or ``(N,)``) or ``one_hot``
(rows with one 1 at y, the input's shape). No options; ``mean`` averages over the
samples. This is optax's ``multiclass_hinge_loss`` (``max_j(s_j + 1 - [j = y]) -
s_y``, the same number), scikit-learn's ``hinge_loss`` with more than two labels
(documented as Crammer-Singer) and the intent of Keras' ``CategoricalHinge``, which
computes ``max(0, max_j((1 - t_j) s_j) - Σ t_j s_j + 1)``: the true class enters
its max as 0, so with every other score below 0 the max is 0 instead of the
largest other score (keras-team/keras#8083; the reading ``true_class_in_max``).
See :mod:`conformance.families.multiclass_margin` for the shared schema,
reduction and gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.exact import MP
from conformance.families import multiclass_margin as shared

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class MulticlassHinge(shared.TrueClassFamily):
    name = "multiclass_hinge"
    definition = "max(0, 1 + max_{j != y} s_j - s_y) per sample (Crammer-Singer)"

    def row_loss(self, case: Case, dtype: DType, s: np.ndarray, target: Any) -> Any:
        y = shared.row_index(target)
        violation = 1 + shared.others_max_exact(s, y) - s[y]
        return violation if violation > 0 else MP.mpf(0)

    def row_losses_float(self, case: Case, dtype: DType, s: np.ndarray, target: np.ndarray,
                         knobs: shared.Knobs) -> np.ndarray:
        one_hot = shared.one_hot_rows(target, case.num_classes)
        return np.maximum(0.0, 1.0 + shared.other_max(s, one_hot, knobs) - shared.true_scores(s, one_hot))


FAMILY = MulticlassHinge()
