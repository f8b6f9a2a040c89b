r"""Weston-Watkins multiclass margin loss, as torch's ``multi_margin_loss`` computes it (without its 1/C).

Per sample, :math:`\sum_{j \ne y} w_y \max(0, \text{margin} - s_y + s_j)^p`: the
textbook sum over the other classes. Input ``scores`` of shape ``(C,)`` or
``(N, C)``, classes last; target ``index`` (shape ``()`` or ``(N,)``). Options:
``p`` (1 or 2, default 1), ``margin`` (default 1) and ``weight``, one weight per
class, of which each sample takes its true class's ``w_y`` as a factor of its
loss. ``mean`` is the plain mean over the samples (the weights are inside each
sample's loss; torch does not divide by them either). The weight multiplies the hinge
term raised to ``p``, ``w_y max(0, ...)^p``, as torch's ``MultiMarginLoss`` documents it
and its kernel computes it.

torch's documentation and kernel divide each sample's sum by C, the true class
included: the faithful glue multiplies torch's per-sample output by C (in
float64), ``as_is`` shows the 1/C (reading ``per_class_mean``), and the case
``asis-mm-per-class`` pins it. See :mod:`conformance.families.multiclass_margin`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from conformance.arrays import FloatArray, Number
from conformance.dtypes import round_to
from conformance.exact import MP, ONE, mp_array
from conformance.families import multiclass_margin as shared
from conformance.families.base import Options
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class MultiMarginOptions(Options):
    p: Literal[1, 2] = 1
    margin: Number = 1.0
    weight: FloatArray | None = None   # one weight per class


class MultiMargin(shared.RowFamily):
    name = "multi_margin"
    definition = "sum_{j != y} w_y max(0, margin - s_y + s_j)^p per sample (Weston-Watkins, no 1/C)"
    targets = {"index": Elements.INDEX}
    options = MultiMarginOptions
    aspects = (shared.PAIR_SUM_SCALE,)

    def check(self, case: Case) -> None:
        super().check(case)
        shared.check_indices(case)
        shared.check_class_weights(case)

    def margins(self, case: Case, dtype: DType) -> tuple[Any, ...]:
        return (self._margin(case, dtype),)

    def _margin(self, case: Case, dtype: DType) -> Any:
        return MP.mpf(float(round_to(case.option("margin"), dtype)))

    def row_loss(self, case: Case, dtype: DType, s: np.ndarray, target: Any) -> Any:
        y = int(target)
        margin = self._margin(case, dtype)
        weight = case.option("weight")
        w = mp_array(weight, dtype)[y] if weight is not None else ONE
        terms = []
        for j in range(len(s)):
            if j == y:
                continue
            z = margin - s[y] + s[j]
            terms.append(z ** case.option("p") if z > 0 else MP.mpf(0))
        return w * shared.summed(terms)

    def row_losses_float(self, case: Case, dtype: DType, s: np.ndarray, target: np.ndarray,
                         knobs: shared.Knobs) -> np.ndarray:
        one_hot = shared.one_hot_rows(target, case.num_classes)
        margin = float(round_to(case.option("margin"), dtype))
        z = np.maximum(0.0, margin - shared.true_scores(s, one_hot)[:, None] + s) ** case.option("p")
        weight = case.option("weight")
        w = round_to(weight, dtype)[target] if weight is not None else 1.0
        return w * np.where(one_hot == 1, 0.0, z).sum(axis=-1)


FAMILY = MultiMargin()
