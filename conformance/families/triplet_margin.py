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

Gradient: analytic, :math:`\partial d(a, v) / \partial a_i = \operatorname{sign}(a_i - v_i)
|a_i - v_i|^{p-1} / d^{p-1}` times the hinge's slope; at the hinge's kink, at a swap's tie, at a
zero coordinate difference under ``p = 1`` and at a zero distance the mean of the one-sided
slopes along each coordinate (what central differences give; the tests check the two agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from conformance.arrays import FloatArray, Number
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, mp_array, total
from conformance.families import similarity as shared
from conformance.families.base import Options
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


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


def _directional(u: np.ndarray, v: np.ndarray, d: Any, p: Any, i: int, sign: int) -> Any:
    """The derivative of d(u, v) (its value ``d``) as u moves along ``sign`` e_i, from that side:
    sign(u_i - v_i) |u_i - v_i|^(p-1) / d^(p-1) where that is smooth; a zero coordinate
    difference under p = 1, or a zero distance, grows as |t| from both sides: slope 1."""
    difference = u[i] - v[i]
    if d == 0 or (difference == 0 and p == 1):
        return MP.mpf(1)
    if difference == 0:
        return MP.mpf(0)
    slope = MP.sign(difference) * MP.power(abs(difference) / d, p - 1)
    return sign * slope


class TripletMargin(shared.FeatureFamily):
    name = "triplet_margin"
    definition = "max(0, d(a, p) - d(a, n) + margin) per triplet, d the p-norm distance (no eps)"
    inputs = ("anchors",)
    targets = {"positives": Elements.FLOAT}
    options = TripletOptions
    aspects = (shared.TRIPLET_GUARD, shared.TRIPLET_ABS)

    def check(self, case: Case) -> None:
        if case.ndim > 2 or not case.class_axis_is_last:
            raise CaseRuleError("input", "triplet_margin takes (N, D) or (D,) anchors, features last")
        negatives = case.options.negatives
        if negatives is None:
            raise CaseRuleError("negatives", "triplet_margin needs `negatives:` (an array of the anchors' shape)")
        if negatives.shape != case.input.values.shape:
            raise CaseRuleError("negatives", f"negatives need the anchors' shape {list(case.input.values.shape)}, "
                                f"got {list(negatives.shape)}")

    def row_loss(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray, index: tuple[int, ...]) -> Any:
        options: TripletOptions = case.options
        # Only this row's negatives: converting the whole array per row made a value O(N²D).
        n = mp_array(np.asarray(options.negatives)[index], dtype)
        p = MP.mpf(options.p)
        negative = distance(x, n, p)
        if options.swap:
            swapped = distance(y, n, p)
            negative = NAN if MP.isnan(swapped) or MP.isnan(negative) else min(negative, swapped)
        return shared.hinge(distance(x, y, p) - negative + MP.mpf(options.margin))

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        """Analytic: per anchor coordinate, the mean of the loss's one-sided slopes (its
        directional derivatives along +e_i and -e_i), which is the derivative where the
        loss is smooth and what central differences give at a kink, a swap's tie or a zero
        distance. Checked against the numerical gradient in the tests."""
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        options: TripletOptions = case.options
        p, margin = MP.mpf(options.p), MP.mpf(options.margin)
        xs = self.rows(case, dtype, mp_array(case.input.values, dtype))
        ys = self.rows(case, dtype, mp_array(case.target.values, dtype))
        grad = np.empty(xs.shape, dtype=object)
        for index in np.ndindex(xs.shape[:-1]):
            a, y = xs[index], ys[index]
            n = mp_array(np.asarray(options.negatives)[index], dtype)
            positive, negative = distance(a, y, p), distance(a, n, p)
            swapped = distance(y, n, p) if options.swap else None
            values = [positive, negative] + ([swapped] if swapped is not None else [])
            if not all(MP.isfinite(v) for v in values):  # inf - inf in the loss: no slope
                grad[index] = [NAN] * len(a)
                continue
            hinged = positive - (min(negative, swapped) if swapped is not None else negative) + margin
            row = []
            for i in range(len(a)):
                slopes = []
                for sign in (1, -1):  # the directional derivatives along +e_i and -e_i
                    d_positive = _directional(a, y, positive, p, i, sign)
                    d_negative = _directional(a, n, negative, p, i, sign)
                    if swapped is not None and negative > swapped:
                        d_negative = MP.mpf(0)  # d(p, n) does not move with the anchor
                    elif swapped is not None and negative == swapped:
                        d_negative = min(d_negative, MP.mpf(0))
                    inner = d_positive - d_negative
                    slopes.append(inner if hinged > 0 else (max(inner, MP.mpf(0)) if hinged == 0 else MP.mpf(0)))
                row.append((slopes[0] - slopes[1]) / 2)  # the mean of the right and the left slope
            grad[index] = row
        return self.scaled_rows(case, grad)

    # -- interpretation -------------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[shared.SimilarityKnobs]:
        singles = [shared.SimilarityKnobs(difference_added=1e-6), shared.SimilarityKnobs(root_added=1e-6)]
        if case.options.p % 2 == 1:  # only odd degrees see the sign of a difference
            singles.append(shared.SimilarityKnobs(signed_differences=True))
        if dtype != "float64":
            singles.append(shared.SimilarityKnobs(overflows_in=dtype))
        return singles

    def rows_float(self, case: Case, dtype: DType, x: np.ndarray, y: np.ndarray,
                   knobs: shared.SimilarityKnobs) -> np.ndarray:
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
