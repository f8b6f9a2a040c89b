r"""Multilabel margin loss, as torch's ``multilabel_margin_loss`` computes it (without its 1/C).

Per sample, :math:`\sum_{j \in Y} \sum_{i \notin Y} \max(0, 1 - (s_j - s_i))`, the
textbook sum over (target, non-target) pairs. Input ``scores`` of shape ``(C,)``
or ``(N, C)``, classes last; target ``index_lists``, of the input's shape: each
row lists the sample's classes Y and is padded with -1, and the list ends at the
first -1 (indices after it are not in Y, as torch documents: "a contiguous block of
non-negative targets that starts at the front"). A listed index appears once. No
options; ``mean`` averages over the samples.

torch divides each sample's sum by C: the faithful glue multiplies its per-sample
output by C (in float64), ``as_is`` shows the 1/C (reading ``per_class_mean``),
and the case ``asis-mlm-per-class`` pins it. See
:mod:`conformance.families.multiclass_margin`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.case_rules import CaseRuleError
from conformance.exact import MP
from conformance.families import multiclass_margin as shared
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


def listed(row: np.ndarray, after_padding: bool = False) -> set[int]:
    """The classes a padded index list names: those before the first -1 (or every one)."""
    out: set[int] = set()
    for v in row:
        if v < 0:
            if after_padding:
                continue
            break
        out.add(int(v))
    return out


class MultilabelMargin(shared.RowFamily):
    name = "multilabel_margin"
    definition = "sum_{j in Y} sum_{i not in Y} max(0, 1 - (s_j - s_i)) per sample, Y listed before the first -1"
    targets = {"index_lists": Elements.INDEX}
    aspects = (shared.PAIR_SUM_SCALE, shared.PADDING)

    def target_shape(self, case: Case) -> tuple[int, ...]:
        return case.input.values.shape

    def check(self, case: Case) -> None:
        super().check(case)
        t = case.target.values
        if ((t < -1) | (t >= case.num_classes)).any():
            bad = int(t[(t < -1) | (t >= case.num_classes)].flat[0])
            raise CaseRuleError("target", f"index_lists hold class indices in [0, {case.num_classes}) "
                                          f"padded with -1, got {bad}")
        for row in t.reshape(-1, case.num_classes):
            head = []
            for v in row:
                if v < 0:
                    break
                head.append(int(v))
            if len(head) != len(set(head)):
                raise CaseRuleError("target", f"a class is listed twice in {row.tolist()}")

    def row_loss(self, case: Case, dtype: DType, s: np.ndarray, target: Any) -> Any:
        y = listed(target)
        terms = []
        for j in y:
            for i in range(len(s)):
                if i in y:
                    continue
                z = 1 - (s[j] - s[i])
                terms.append(z if z > 0 else MP.mpf(0))
        return shared.summed(terms)

    def row_losses_float(self, case: Case, dtype: DType, s: np.ndarray, target: np.ndarray,
                         knobs: shared.Knobs) -> np.ndarray:
        out = np.zeros(s.shape[0])
        for n in range(s.shape[0]):
            y = sorted(listed(target[n], knobs.after_padding))
            mask = np.ones(s.shape[1], bool)
            mask[y] = False
            for j in y:
                out[n] += np.maximum(0.0, 1 - (s[n, j] - s[n, mask])).sum()
        return out

    def own_readings(self, case: Case, dtype: DType) -> list[shared.Knobs]:
        return [shared.Knobs(after_padding=True)]


FAMILY = MultilabelMargin()
