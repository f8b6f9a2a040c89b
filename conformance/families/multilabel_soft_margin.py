r"""Multilabel soft margin loss: a mean over the classes of binary cross-entropies of logits.

Per sample, :math:`-\frac{1}{C} \sum_i w_i [y_i \log\sigma(s_i) + (1 - y_i) \log\sigma(-s_i)]`.
Input ``scores`` of shape ``(C,)`` or ``(N, C)``, classes last; target ``probs``
of the input's shape (one label in [0, 1] per class: 1 for a class of the
sample, 0 for one that is not; soft labels allowed). Option ``weight``: one
weight per class. ``mean`` averages over the samples. The 1/C is part of the
definition (a mean over the labels), as torch's ``multilabel_soft_margin_loss``
computes it; the reading ``class_sum`` is the sum. See
:mod:`conformance.families.multiclass_margin`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.arrays import FloatArray
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import ONE, log_sigmoid, mp_array, times_log
from conformance.families import multiclass_margin as shared
from conformance.families.base import Options
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class MultilabelSoftMarginOptions(Options):
    weight: FloatArray | None = None   # one weight per class


class MultilabelSoftMargin(shared.RowFamily):
    kinks = False  # smooth: no step needs to go below an argument
    name = "multilabel_soft_margin"
    definition = "-1/C sum_i w_i [y_i log sigmoid(s_i) + (1 - y_i) log sigmoid(-s_i)] per sample"
    targets = {"probs": Elements.FLOAT}
    options = MultilabelSoftMarginOptions
    aspects = (shared.CLASS_MEAN,)

    def target_shape(self, case: Case) -> tuple[int, ...]:
        return case.input.values.shape

    def check(self, case: Case) -> None:
        super().check(case)
        shared.check_class_weights(case)
        t = case.target.values
        if ((t < 0) | (t > 1)).any():
            raise CaseRuleError("target", "multilabel_soft_margin takes labels in [0, 1]")

    def row_loss(self, case: Case, dtype: DType, s: np.ndarray, target: Any) -> Any:
        weight = case.option("weight")
        w = mp_array(weight, dtype) if weight is not None else [ONE] * len(s)
        terms = [w[i] * (times_log(target[i], log_sigmoid(s[i])) + times_log(1 - target[i], log_sigmoid(-s[i])))
                 for i in range(len(s))]
        return -shared.summed(terms) / len(s)

    def row_losses_float(self, case: Case, dtype: DType, s: np.ndarray, target: np.ndarray,
                         knobs: shared.Knobs) -> np.ndarray:
        weight = case.option("weight")
        w = round_to(weight, dtype) if weight is not None else 1.0
        log_p, log_q = -np.logaddexp(0, -s), -np.logaddexp(0, s)
        terms = np.where(target == 0, 0.0, target * log_p) + np.where(target == 1, 0.0, (1 - target) * log_q)
        summed = -(w * terms).sum(axis=-1)
        return summed if knobs.class_sum else summed / s.shape[-1]

    def readings(self, case: Case, dtype: DType) -> list[shared.Knobs]:
        return [shared.Knobs(class_sum=True)]


FAMILY = MultilabelSoftMargin()
