r"""Log-cosh :math:`\log\cosh(x - y)` per element.

Input ``predictions``, target ``values``, optional element ``weight``. The
oracle computes it exactly at any magnitude; in floating point the direct
formula overflows for :math:`|r| > 710` (float64) or 89 (float32), which the
stable form :math:`|r| + \mathrm{log1p}(e^{-2|r|}) - \log 2` avoids.

Example::

    loss: log_cosh
    reduction: none
    input: {predictions: [0.5, 50.0, -100.0]}
    target: {values: [0.0, 0.0, 0.0]}
    expected: [0.1201145069, 49.30685282, 99.30685282]

Gradient: :math:`w \tanh(x - y)` over the divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.exact import MP, NAN
from conformance.families import regression as shared
from conformance.vocabulary import Elements


class LogCosh(shared.ElementwiseFamily):
    kinks = False  # smooth: no step needs to go below an argument
    name = "log_cosh"
    definition = "log cosh(x - y) per element"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}
    aspects = (shared.SUM,)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        r = x - y
        if MP.isnan(r):
            return NAN
        return MP.log(MP.cosh(r)) if MP.isfinite(r) else MP.inf

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        r = x - y
        if knobs.direct:
            return np.log(np.cosh(r.astype(np.dtype(dtype) if dtype != "bfloat16" else np.float32)))
        a = np.abs(r)
        return a + np.log1p(np.exp(-2 * a)) - np.log(2.0)

    def own_readings(self, case: Any, dtype: Any) -> list[shared.Knobs]:
        return [shared.Knobs(direct=True)]


FAMILY = LogCosh()
