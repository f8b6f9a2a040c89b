r"""Triplet margin loss, per triplet (anchor :math:`a`, positive :math:`p`, negative :math:`n`):

.. math:: \ell = \max\bigl(0,\ d(a, p) - d(a, n) + \text{margin}\bigr), \qquad
          d(u, v) = \Bigl(\sum_i |u_i - v_i|^{\,p}\Bigr)^{1/p}

Input ``anchors`` (the array the gradient is taken with respect to), target
``positives``, option ``negatives`` (required, the input's shape): (N, D) or
(D,) with the features on the last axis. Options ``margin`` (default 1),
``p`` (the norm degree, default 2, at least 1) and ``swap`` (default false:
with ``swap`` the negative distance is :math:`\min(d(a, n), d(p, n))`, the
"distance swap" of Balntas et al. 2016). ``mean`` averages over the triplets.
**No epsilon**: the distance between equal points is 0, and its gradient
there is 0 (the mean of the one-sided slopes along each coordinate). torch's
``pairwise_distance`` adds ``eps = 1e-6`` to every coordinate difference and
optax adds it to the sum under the root (readings).

Example::

    loss: triplet_margin
    input: {anchors: [[0.0, 0.0], [1.0, 1.0]]}
    target: {positives: [[0.1, 0.1], [1.1, 1.1]]}
    negatives: [[1.0, 0.0], [0.0, 1.0]]
    reduction: none
    expected: [0.1414213562373095, 0.1414213562373095]

Gradient: by central differences of the definition (50 digits; at the hinge's
kink, at a swap's tie and at a zero distance the mean of the one-sided slopes).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from conformance.arrays import FloatArray, Number
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, mp_array, total
from conformance.families import similarity as shared
from conformance.families.base import Options
from conformance.vocabulary import Elements


class TripletOptions(Options):
    negatives: FloatArray | None = None
    margin: Number = 1.0
    p: Number = Field(default=2.0, ge=1.0)
    swap: bool = False


def distance(u: np.ndarray, v: np.ndarray, p: Any) -> Any:
    """The exact p-norm distance (Σ |u - v|^p)^(1/p)."""
    differences = [abs(a - b) for a, b in zip(u, v)]
    if any(MP.isnan(d) for d in differences):
        return NAN
    if p == 2:
        return MP.sqrt(total([d * d for d in differences]))
    if p == 1:
        return total(differences)
    powered = total([MP.power(d, p) for d in differences])
    return MP.power(powered, 1 / p) if powered else powered


class TripletMargin(shared.FeatureFamily):
    name = "triplet_margin"
    definition = "max(0, d(a, p) - d(a, n) + margin) per triplet, d the p-norm distance (no eps)"
    inputs = ("anchors",)
    targets = {"positives": Elements.FLOAT}
    options = TripletOptions
    aspects = (shared.TRIPLET_GUARD, shared.TRIPLET_ABS)

    def check(self, case: Any) -> None:
        if case.ndim > 2 or not case.class_axis_is_last:
            raise CaseRuleError("input", "triplet_margin takes (N, D) or (D,) anchors, features last")
        negatives = case.options.negatives
        if negatives is None:
            raise CaseRuleError("negatives", "triplet_margin needs `negatives:` (an array of the anchors' shape)")
        if negatives.shape != case.input.values.shape:
            raise CaseRuleError("negatives", f"negatives need the anchors' shape {list(case.input.values.shape)}, "
                                f"got {list(negatives.shape)}")

    def row_loss(self, case: Any, dtype: Any, x: np.ndarray, y: np.ndarray, index: tuple[int, ...]) -> Any:
        options: TripletOptions = case.options
        n = mp_array(options.negatives, dtype)[index]
        p = MP.mpf(options.p)
        negative = distance(x, n, p)
        if options.swap:
            swapped = distance(y, n, p)
            negative = NAN if MP.isnan(swapped) or MP.isnan(negative) else min(negative, swapped)
        return shared.hinge(distance(x, y, p) - negative + MP.mpf(options.margin))

    # -- interpretation -------------------------------------------------------------
    def readings(self, case: Any, dtype: Any) -> list[shared.SimilarityKnobs]:
        singles = [shared.SimilarityKnobs(difference_added=1e-6), shared.SimilarityKnobs(root_added=1e-6)]
        if case.options.p % 2 == 1:  # only odd degrees see the sign of a difference
            singles.append(shared.SimilarityKnobs(signed_differences=True))
        if dtype != "float64":
            singles.append(shared.SimilarityKnobs(overflows_in=dtype))
        return singles

    def rows_float(self, case, dtype, x, y, knobs) -> np.ndarray:
        options: TripletOptions = case.options
        n = round_to(options.negatives, dtype)

        def d(u: np.ndarray, v: np.ndarray) -> np.ndarray:
            difference = shared.computed(u - v, knobs)
            if knobs.difference_added is not None:
                difference = difference + knobs.difference_added
            powered = difference ** options.p if knobs.signed_differences else np.abs(difference) ** options.p
            summed = powered.sum(axis=-1).astype(np.float64)
            if knobs.root_added is not None:
                summed = summed + knobs.root_added
            return summed ** (1 / options.p)

        negative = d(x, n)
        if options.swap:
            negative = np.minimum(negative, d(y, n))
        return np.maximum(d(x, y) - negative + options.margin, 0.0)


FAMILY = TripletMargin()
