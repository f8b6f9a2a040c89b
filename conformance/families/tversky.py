r"""Tversky loss of a prediction and a target, per group of elements:

.. math:: 1 - \frac{\sum p y + s_n}{\sum p y + \alpha \sum p (1 - y) + \beta \sum (1 - p) y + s_d}

:math:`\alpha` weighs the false positives, :math:`\beta` the false negatives (Salehi et
al., 2017); :math:`\alpha = \beta = 1/2` is the Dice loss with :math:`s_n, s_d` doubled.
Inputs, targets and the options ``overlap_over``, ``smooth_numerator``,
``smooth_denominator`` and ``include_background`` as for :mod:`conformance.families.dice`
(see :mod:`conformance.families.overlap`); ``alpha`` and ``beta`` (default 1/2, at
least 0). No hidden eps: a group with no prediction and no target is 0/0 = NaN.

Example::

    loss: tversky
    overlap_over: batch
    input: {probs: [0.9, 0.1, 0.8, 0.0]}
    target: {probs: [1.0, 0.0, 1.0, 0.0]}
    alpha: 0.3
    beta: 0.7
    expected: 0.1237113402    # 1 - 1.7 / (1.7 + 0.3 * 0.1 + 0.7 * 0.3)

Gradient: :math:`d/dp_i = (N D'_i - y_i D) / D^2` per group with
:math:`D'_i = y_i + \alpha (1 - y_i) - \beta y_i`, over the number of groups for ``mean``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from conformance.arrays import Number
from conformance.families import overlap
from conformance.families.base import Aspect, Rule
from conformance.families.overlap import OverlapKnobs, OverlapOptions, Sums

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class TverskyOptions(OverlapOptions):
    alpha: Number = Field(default=0.5, ge=0.0)
    beta: Number = Field(default=0.5, ge=0.0)


WEIGHTS = Aspect("tversky_weights", "which error alpha weighs", "false positives",
                 (Rule(lambda knobs, input_kind: bool(knobs.get("weights_swapped")), "false negatives"),
                  Rule(lambda knobs, input_kind: not knobs.get("weights_swapped"), "false positives")),
                 raised=overlap.RAISES_ON_INDEX)


class Tversky(overlap.OverlapFamily):
    name = "tversky"
    definition = ("1 - (sum p y + s_n) / (sum p y + alpha sum p (1 - y) + beta sum (1 - p) y + s_d) per group "
                  "(overlap_over), then reduced")
    options = TverskyOptions
    optax_smoothing = (1.0, 1.0)
    aspects = (overlap.GROUPING, overlap.SMOOTHING, WEIGHTS)
    gradient_readings = overlap.TVERSKY_GRADIENT_READINGS

    def own_settings(self, case: Case) -> dict[str, Any]:
        return {"alpha": case.options.alpha, "beta": case.options.beta, "weights_swapped": False}

    def _weights(self, options: dict[str, Any]) -> tuple[Any, Any]:
        alpha, beta = options["alpha"], options["beta"]
        return (beta, alpha) if options.get("weights_swapped") else (alpha, beta)

    def ratio_parts(self, case: Case, sums: Sums, options: dict[str, Any]) -> tuple[Any, Any]:
        alpha, beta = self._weights(options)
        i = sums.intersection
        return i, i + alpha * (sums.predicted - i) + beta * (sums.target - i)

    def part_slopes(self, case: Case, p: Any, y: Any, options: dict[str, Any]) -> tuple[Any, Any]:
        alpha, beta = self._weights(options)
        return y, y + alpha * (1 - y) - beta * y

    def own_readings(self, case: Case, dtype: DType) -> list[OverlapKnobs]:
        if case.options.alpha == case.options.beta:
            return []
        return [OverlapKnobs(weights_swapped=True)]


FAMILY = Tversky()
