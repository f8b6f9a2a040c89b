r"""Smooth L1 loss with parameter :math:`\beta` (``beta``, default 1), per element:

.. math:: \tfrac12 r^2/\beta \text{ if } |r| < \beta, \text{ else } |r| - \tfrac12\beta, \quad r = x - y.

It equals :math:`\mathrm{Huber}_\beta(r)/\beta`, and :math:`\beta = 0` is the
absolute error :math:`|r|`; for :math:`\beta < 0` it is undefined (NaN).
Input ``predictions``, target ``values``, optional element ``weight``.

Example::

    loss: smooth_l1
    beta: 2.0
    input: {predictions: [0.0, 0.5, 2.0, -3.0]}
    target: {values: [0.0, 0.0, 0.0, 0.0]}
    expected: 0.640625        # (0 + 0.0625 + 1 + 2) / 4

Gradient: :math:`w \cdot \mathrm{clip}(r/\beta, -1, 1)` over the divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from conformance.arrays import Number
from conformance.exact import MP, NAN
from conformance.families import regression as shared
from conformance.vocabulary import Elements


class SmoothL1Options(shared.WeightedOptions):
    beta: Number = Field(default=1.0, allow_inf_nan=False)


class SmoothL1(shared.ElementwiseFamily):
    name = "smooth_l1"
    homogeneity = (1, "beta")
    definition = "1/2 r^2 / beta where |r| < beta, else |r| - beta/2 (= Huber_beta / beta; beta = 0 is |r|)"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}
    options = SmoothL1Options
    aspects = (shared.WEIGHTED_MEAN, shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        beta, r = MP.mpf(case.options.beta), x - y
        if beta < 0 or MP.isnan(r):
            return NAN
        if abs(r) < beta:
            return r * r / (2 * beta)
        return abs(r) - beta / 2

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        beta = case.options.beta
        if beta < 0:
            return np.full(np.shape(x), np.nan)
        r = np.abs(x - y)
        if beta == 0:
            return r
        return np.where(r < beta, 0.5 * r * r / beta, r - 0.5 * beta)

    def factors(self, case: Any) -> tuple[float, ...]:
        beta = case.options.beta
        extra = (beta, 1 / beta) if beta > 0 and beta != 1 else ()
        return tuple(dict.fromkeys((0.5, 2.0) + extra))


FAMILY = SmoothL1()
