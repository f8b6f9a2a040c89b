r"""Hinge embedding loss of a distance: :math:`x` where :math:`y = 1`, else :math:`\max(0, \text{margin} - x)`.

Elementwise: input ``distances`` (any shape: a distance or a dissimilarity
between the two items of a pair); target ``signs`` (±1: 1 for a similar pair, -1
for a dissimilar one) or ``binary`` ({0, 1}, read as :math:`y = 2t - 1`, so 0 is
a dissimilar pair), of the input's shape. Option ``margin`` (default 1). ``mean``
averages over the elements. No other label value has a meaning: a case holds
only ±1 (``signs``) or 0 and 1 (``binary``).

torch's ``hinge_embedding_loss`` computes ``where(y != 1, max(0, margin - x), 0) +
where(y != -1, x, 0)``: a label that is neither 1 nor -1 adds *both* terms, so
{0, 1} labels handed to it as they are make every 0 cost ``x + max(0, margin -
x)`` (reading ``labels_as_given``). The gradient is each element's derivative (at
the kink x = margin, the mean of its one-sided slopes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from conformance.arrays import Number
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, ONE, central_slope, mp_array, smallest_magnitude
from conformance.families import multiclass_margin as shared
from conformance.families.base import Family, Options, Reading, reduce_exact
from conformance.vocabulary import Elements, Reduction

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class HingeEmbeddingOptions(Options):
    margin: Number = 1.0


class HingeEmbedding(Family):
    name = "hinge_embedding"
    definition = "x where y = 1, max(0, margin - x) where y = -1, per element; y = 2t - 1 for {0, 1} labels"
    inputs = ("distances",)
    targets = {"signs": Elements.FLOAT, "binary": Elements.FLOAT}
    options = HingeEmbeddingOptions
    aspects = (shared.EMBEDDING_LABELS,)

    def check(self, case: Case) -> None:
        if case.target.values.shape != case.input.values.shape:
            raise CaseRuleError("target", f"{case.loss} takes a target of the input's shape")
        allowed = (-1.0, 1.0) if case.target.kind == "signs" else (0.0, 1.0)
        if not np.isin(case.target.values, allowed).all():
            raise CaseRuleError("target", f"{case.target.kind} labels of the hinge embedding loss are "
                                          f"{' or '.join(f'{v:g}' for v in allowed)}")

    def _margin(self, case: Case, dtype: DType) -> float:
        return float(round_to(case.option("margin"), dtype))

    def element(self, case: Case, dtype: DType, x: Any, t: Any) -> Any:
        if MP.isnan(x):
            return NAN
        y = 2 * t - 1 if case.target.kind == "binary" else t
        if y == 1:
            return x
        z = MP.mpf(self._margin(case, dtype)) - x
        return z if z > 0 else MP.mpf(0)

    def elements(self, case: Case, dtype: DType, x: np.ndarray) -> np.ndarray:
        t = mp_array(case.target.values, dtype)
        out = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            out[index] = self.element(case, dtype, x[index], t[index])
        return out

    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        return reduce_exact(self.elements(case, dtype, x), case.reduction)

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        x = mp_array(case.input.values, dtype)
        t = mp_array(case.target.values, dtype)
        grad = np.empty(x.shape, dtype=object)
        margin = MP.mpf(self._margin(case, dtype))
        for index in np.ndindex(x.shape):
            v = x[index]
            if not MP.isfinite(v):
                grad[index] = NAN
                continue
            # The loss is of the size of the margin too; the kink is where v crosses it.
            grad[index] = central_slope(lambda u, t=t[index]: self.element(case, dtype, u, t), v,
                                        max(abs(v), abs(margin), ONE), smallest_magnitude(v, margin, v - margin))
        scale = self.scale(case, x.shape)
        return grad * scale, scale

    def readings(self, case: Case, dtype: DType) -> list[shared.Knobs]:
        return [shared.Knobs(labels_as_given=True)] if case.target.kind == "binary" else []

    def variant(self, case: Case, dtype: DType, reading: Reading, inputs: np.ndarray | None = None,
                ) -> np.ndarray | None:
        if not isinstance(reading, shared.Knobs):
            if reading.knobs():
                return None
            reading = shared.Knobs()
        if reading.per_class_mean or reading.class_sum or reading.true_class_in_max or reading.after_padding:
            return None
        with np.errstate(all="ignore"):
            x = np.asarray(round_to(case.input.values, dtype) if inputs is None else inputs, dtype=np.float64)
            t = round_to(case.target.values, dtype)
            y = t if case.target.kind == "signs" or reading.labels_as_given else 2 * t - 1
            hinge = np.maximum(0.0, self._margin(case, dtype) - x)
            losses = np.where(y != 1, hinge, 0.0) + np.where(y != -1, x, 0.0)
            if case.reduction == Reduction.NONE:
                return losses
            if case.reduction == Reduction.SUM:
                return np.asarray(losses.sum())
            return np.asarray(losses.sum() / losses.size)

    def kink_points(self, reading: Reading) -> list[float]:
        return [0.0, 1.0]


FAMILY = HingeEmbedding()
