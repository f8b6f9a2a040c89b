r"""Absolute percentage error :math:`100\,|x - y| / |y|` per element (MAPE).

Input ``predictions``, target ``values``, optional element ``weight``. It is
a percentage, with no guard: a zero target gives inf (NaN where the prediction
is 0 too). Keras divides by :math:`\max(|y|, 10^{-7})`; scikit-learn returns a
fraction and divides by :math:`\max(|y|, \epsilon_{64})` (cast to the input's dtype: 0 in
float16, so no guard there).

Example::

    loss: absolute_percentage_error
    input: {predictions: [1.5, 1.0]}
    target: {values: [1.0, 4.0]}
    expected: 62.5            # (50 + 75) / 2

Gradient: :math:`100\,w\,\mathrm{sign}(x - y) / |y|` over the divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.exact import MP, NAN
from conformance.families import regression as shared
from conformance.vocabulary import Elements


class AbsolutePercentageError(shared.ElementwiseFamily):
    name = "absolute_percentage_error"
    definition = "100 |x - y| / |y| per element"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}
    asymmetric = True
    guards = (1e-7,)
    aspects = (shared.factor_aspect("mape_scale", "percentage or fraction", "percentage", {0.01: "fraction"}),
               shared.eps_aspect("mape_guard", "what it divides by", {
                   1e-7: "max(|y|, 1e-7)", 2.0 ** -52: "max(|y|, float64 eps)"}),
               shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        r = abs(x - y)
        if MP.isnan(r):
            return NAN
        if y == 0:
            return NAN if r == 0 else MP.inf
        return 100 * r / abs(y)

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        scale = np.abs(y) if knobs.eps is None else np.maximum(np.abs(y), knobs.eps)
        return 100.0 * np.abs(x - y) / scale

    def factors(self, case: Any) -> tuple[float, ...]:
        return (0.01, 0.5, 2.0)

    def eps_words(self, eps: float) -> str:
        return f"divides by max(|y|, {eps:.3g})"


FAMILY = AbsolutePercentageError()
