r"""Absolute error :math:`|x - y|` per element (MAE, L1 with ``mean``).

Input ``predictions``, target ``values``, optional element ``weight``.
Gradient: :math:`w\,\mathrm{sign}(x - y)` over the reduction's divisor, 0 at
:math:`x = y` (the mean of the one-sided slopes).

Example::

    loss: absolute_error
    input: {predictions: [[0.5, 1.0], [0.0, 6.0]]}
    target: {values: [[0.0, 1.0], [2.0, 3.0]]}
    expected: 1.375           # (0.5 + 0 + 2 + 3) / 4
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.families import regression as shared
from conformance.vocabulary import Elements


class AbsoluteError(shared.ElementwiseFamily):
    name = "absolute_error"
    homogeneity = (1, None)
    definition = "|x - y| per element; a weighted mean divides by the summed weights"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}
    aspects = (shared.WEIGHTED_MEAN, shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        return abs(x - y)

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        return np.abs(x - y)


FAMILY = AbsoluteError()
