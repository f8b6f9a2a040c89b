r"""Squared hinge loss :math:`\max(0, 1 - y s)^2` per element.

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


class SquaredHinge(margin.MarginFamily):
    name = "squared_hinge"
    definition = "max(0, 1 - y s)^2 per element; y = 2t - 1 for {0, 1} labels"

    def margin_loss(self, m: Any) -> Any:
        if MP.isnan(m):
            return NAN
        return MP.mpf(0) if m >= 1 else (1 - m) ** 2

    def margin_loss_float(self, m: np.ndarray) -> np.ndarray:
        return np.maximum(0.0, 1.0 - m) ** 2


FAMILY = SquaredHinge()
