r"""Squared error :math:`(x - y)^2` per element (MSE with ``mean``).

Input ``predictions`` and target ``values`` of one shape; optional element
``weight`` (``mean`` is then :math:`\sum w (x-y)^2 / \sum w`). No ½: optax's
``l2_loss`` and ``tf.nn.l2_loss`` are half of this.

Example (a case)::

    loss: squared_error
    input: {predictions: [[0.5, 1.0], [0.0, 6.0]]}
    target: {values: [[0.0, 1.0], [2.0, 3.0]]}
    expected: 3.3125          # (0.25 + 0 + 4 + 9) / 4

Gradient: :math:`2 w (x - y)` over the reduction's divisor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from conformance.families import regression as shared
from conformance.vocabulary import Elements


class SquaredError(shared.ElementwiseFamily):
    kinks = False  # smooth: no step needs to go below an argument
    name = "squared_error"
    homogeneity = (2, None)
    definition = "(x - y)^2 per element; a weighted mean divides by the summed weights"
    inputs = ("predictions",)
    targets = {"values": Elements.FLOAT}
    aspects = (shared.factor_aspect("squared_error_scale", "the factor in front of (x - y)^2", "1", {0.5: "1/2"}),
               shared.WEIGHTED_MEAN, shared.SUM)

    def element(self, case: Any, x: Any, y: Any) -> Any:
        return (x - y) ** 2

    def element_float(self, case, dtype, x, y, knobs) -> np.ndarray | None:
        return (x - y) ** 2


FAMILY = SquaredError()
