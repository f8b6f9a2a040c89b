r"""Squared logarithmic error :math:`(\log(1 + x) - \log(1 + y))^2` per element (MSLE).

Input ``predictions``, target ``values``, optional element ``weight``. No
clamp: a value below -1 makes the loss NaN and -1 makes it infinite. Keras
clamps both at 1e-7 first (:math:`\log(\max(v, 10^{-7}) + 1)`), so negative
values count as 0; scikit-learn refuses values at or below -1.

Example::

    loss: squared_log_error
    input: {predictions: [1.0, 3.0]}
    target: {values: [0.0, 1.0]}
    expected: 0.4804530139    # ((log 2)^2 + (log 2)^2) / 2

Gradient: :math:`2 w (\log(1+x) - \log(1+y)) / (1 + x)` over the divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.exact import MP, NAN
from conformance.families import regression as shared
from conformance.vocabulary import Elements


def _log1p(v: Any) -> Any:
    if MP.isnan(v) or v < -1:
        return NAN
    return -MP.inf if v == -1 else MP.log1p(v)


class SquaredLogError(shared.ElementwiseFamily):
    kinks = False  # smooth: no step needs to go below an argument
    name = "squared_log_error"
    definition = "(log(1 + x) - log(1 + y))^2 per element"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}
    asymmetric = False  # symmetric in x and y: swapping them changes nothing
    guards = (1e-7,)
    aspects = (shared.eps_aspect("msle_guard", "what it does before log(1 + v)",
                                 {1e-7: "max(v, 1e-7)", 2.0 ** -52: "max(v, machine eps)"}),
               shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        return (_log1p(x) - _log1p(y)) ** 2

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        if knobs.eps is not None:
            x, y = np.maximum(x, knobs.eps), np.maximum(y, knobs.eps)
        return (np.log1p(x) - np.log1p(y)) ** 2

    def eps_words(self, eps: float) -> str:
        return f"clamps predictions and targets at {eps:.3g} before log(1 + v)"


FAMILY = SquaredLogError()
