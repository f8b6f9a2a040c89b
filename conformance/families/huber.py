r"""Huber loss with parameter :math:`\delta` (``delta``, default 1), per element:

.. math:: \tfrac12 r^2 \text{ if } |r| \le \delta, \text{ else } \delta(|r| - \tfrac12\delta), \quad r = x - y.

Input ``predictions``, target ``values``, optional element ``weight``. At
:math:`\delta = 0` it is 0 (the limit of the formula); for :math:`\delta < 0`
it is undefined and the oracle is NaN, so an API that refuses or silently
computes something shows which. torch's ``huber_loss(δ)`` is δ times
``smooth_l1_loss(β=δ)``: see :mod:`conformance.families.smooth_l1`.

Example::

    loss: huber
    delta: 1.0
    input: {predictions: [[0.5, 1.0], [0.0, 6.0]]}
    target: {values: [[0.0, 1.0], [2.0, 3.0]]}
    expected: 1.03125         # (0.125 + 0 + 1.5 + 2.5) / 4

Gradient: :math:`w \cdot \mathrm{clip}(r, -\delta, \delta)` over the divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from conformance.arrays import Number
from conformance.exact import MP, NAN
from conformance.families import regression as shared
from conformance.vocabulary import Elements


class HuberOptions(shared.WeightedOptions):
    delta: Number = Field(default=1.0, allow_inf_nan=False)


def huber(r: Any, delta: Any) -> Any:
    if delta < 0 or MP.isnan(r):
        return NAN
    if abs(r) <= delta:
        return r * r / 2
    return delta * (abs(r) - delta / 2)


class Huber(shared.ElementwiseFamily):
    name = "huber"
    homogeneity = (2, "delta")
    definition = "1/2 r^2 where |r| <= delta, else delta (|r| - delta/2); r = x - y"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}
    options = HuberOptions
    # The probe uses delta = 2: 1/2 is smooth L1's convention (Huber / delta), 2 torch's
    # huber_loss read as smooth_l1_loss (delta x Huber).
    aspects = (shared.factor_aspect("huber_scale", "the loss at delta = 2 against Huber_delta", "Huber_delta",
                                    {0.5: "Huber_delta / delta (smooth L1)", 2.0: "delta x Huber_delta"}),
               shared.WEIGHTED_MEAN, shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        return huber(x - y, MP.mpf(case.options.delta))

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        delta = case.options.delta
        if delta < 0:
            return np.full(np.shape(x), np.nan)
        r = np.abs(x - y)
        return np.where(r <= delta, 0.5 * r * r, delta * (r - 0.5 * delta))

    def factors(self, case: Any) -> tuple[float, ...]:
        delta = case.options.delta
        extra = (delta, 1 / delta) if delta > 0 and delta != 1 else ()
        return tuple(dict.fromkeys((0.5, 2.0) + extra))


FAMILY = Huber()
