r"""Soft Dice loss of a prediction and a target, per group of elements:

.. math:: 1 - \frac{2 \sum p y + s_n}{\sum p + \sum y + s_d}

(with ``squared: true`` the denominator is :math:`\sum p^2 + \sum y^2 + s_d`, MONAI's
``squared_pred``). Input ``probs`` (per-channel probabilities, as given) or
``logits`` (softmax over ``class_axis``); target ``probs`` (per-channel values of
the input's shape, one-hot or soft) or ``index`` (class indices, the input's shape
without the class axis, read as their one-hot). Options ``overlap_over`` (which
elements share a ratio: ``sample_channel`` (default) | ``batch`` | ``sample`` | ``channel``),
``smooth_numerator`` (:math:`s_n`), ``smooth_denominator`` (:math:`s_d`), both 0 by
default, ``include_background`` and ``squared``; see
:mod:`conformance.families.overlap`. No hidden eps: a group with no prediction and
no target is 0/0 = NaN.

Example::

    loss: dice
    overlap_over: batch
    input: {probs: [0.9, 0.1, 0.8, 0.0]}
    target: {probs: [1.0, 0.0, 1.0, 0.0]}
    expected: 0.1052631579     # 1 - 2 (0.9 + 0.8) / (1.8 + 2)

Gradient: :math:`d/dp_i = (N - 2 y_i D) / D^2` per group (:math:`2 p_i N` in place of
:math:`N` when squared), over the number of groups for ``mean``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conformance.families import overlap
from conformance.families.overlap import OverlapKnobs, OverlapOptions, Sums

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class DiceOptions(OverlapOptions):
    squared: bool = False


class Dice(overlap.OverlapFamily):
    name = "dice"
    definition = "1 - (2 sum p y + s_n) / (sum p + sum y + s_d) per group (overlap_over), then reduced"
    options = DiceOptions
    optax_smoothing = (2.0, 2.0)
    aspects = (overlap.GROUPING, overlap.SMOOTHING)
    gradient_readings = overlap.GRADIENT_READINGS

    def squared(self, case: Case) -> bool:
        return case.options.squared

    def ratio_parts(self, case: Case, sums: Sums, options: dict[str, Any]) -> tuple[Any, Any]:
        return 2 * sums.intersection, sums.predicted + sums.target

    def part_slopes(self, case: Case, p: Any, y: Any, options: dict[str, Any]) -> tuple[Any, Any]:
        return 2 * y, (2 * p if options["squared"] else 1)

    def own_readings(self, case: Case, dtype: DType) -> list[OverlapKnobs]:
        return [OverlapKnobs(squared=not case.options.squared)]


FAMILY = Dice()
