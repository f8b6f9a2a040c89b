r"""Multiclass perceptron loss :math:`\max_j s_j - s_y` per sample.

Input ``scores`` of shape ``(C,)`` or ``(N, C)``, classes last, C >= 2; target
``index`` (shape ``()`` or ``(N,)``) or ``one_hot`` (the input's shape). No
options; ``mean`` averages over the samples. Equal to
:math:`\max(0, \max_{j \ne y} s_j - s_y)`: 0 when the true class scores highest.
This is optax's ``multiclass_perceptron_loss`` (Collins 2002). See
:mod:`conformance.families.multiclass_margin` for the shared schema, reduction
and gradient.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.exact import MP
from conformance.families import multiclass_margin as shared

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class MulticlassPerceptron(shared.TrueClassFamily):
    name = "multiclass_perceptron"
    definition = "max_j s_j - s_y per sample"

    def row_loss(self, case: Case, dtype: DType, s: np.ndarray, target: Any) -> Any:
        y = shared.row_index(target)
        violation = shared.others_max_exact(s, y) - s[y]
        return violation if violation > 0 else MP.mpf(0)

    def row_losses_float(self, case: Case, dtype: DType, s: np.ndarray, target: np.ndarray,
                         knobs: shared.Knobs) -> np.ndarray:
        one_hot = shared.one_hot_rows(target, case.num_classes)
        return np.maximum(0.0, shared.other_max(s, one_hot, knobs) - shared.true_scores(s, one_hot))


FAMILY = MulticlassPerceptron()
