r"""Soft margin (logistic) loss :math:`\log(1 + e^{-y s})` per element.

Input ``scores``; target ``signs`` (±1 labels, used as they are) or
``binary`` ({0, 1} labels, read as :math:`y = 2t - 1`); optional element
``weight``. See :mod:`conformance.families.margin` for what APIs do with
{0, 1} labels. The gradient is each element's derivative (at a kink, the mean of
its one-sided slopes).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.exact import MP, NAN
from conformance.families import margin


class SoftMargin(margin.MarginFamily):
    kinks = False  # smooth: no step needs to go below an argument
    name = "soft_margin"
    definition = "log(1 + exp(-y s)) per element; y = 2t - 1 for {0, 1} labels"

    def margin_loss(self, m: Any) -> Any:
        if MP.isnan(m):
            return NAN
        return MP.log1p(MP.exp(-m))

    def margin_loss_float(self, m: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, -m)


FAMILY = SoftMargin()
