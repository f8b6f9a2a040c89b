r"""Binary cross-entropy: :math:`-(w_+ y \log p + (1-y) \log(1-p))` per element, in nats.

``p`` is ``sigmoid(logits)`` (computed as ``log_sigmoid`` so that large logits
lose nothing) or the probabilities as given; ``y`` the target probability;
:math:`w_+` the ``pos_weight`` (broadcast to the input). ``mean`` averages over
every element. No clipping, no clamping: ``0 log 0 = 0``.

Gradient (analytic, checked against numerical differentiation):
logits :math:`\sigma(x)(w_+ y + 1 - y) - w_+ y`; probabilities
:math:`-w_+ y / p + (1 - y) / (1 - p)`; scaled by the reduction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import log_expit

from conformance.arrays import FloatArray
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, ONE, exp, log, log_sigmoid, mp_array, times_log
from conformance.families import classification as shared
from conformance.families.base import Options, reduce_exact, reduction_denominator
from conformance.families.classification import Knobs
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class BinaryCrossEntropyOptions(Options):
    pos_weight: FloatArray | None = None


class BinaryCrossEntropy(shared.ProbabilityFamily):
    properties = frozenset({"logits_are_sigmoid_probs"})
    name = "binary_cross_entropy"
    definition = "-(w+ y log p + (1-y) log(1-p)) per element; mean over every element"
    inputs = ("logits", "probs")
    targets = {"probs": Elements.FLOAT}
    options = BinaryCrossEntropyOptions
    random_target = "uniform"
    aspects = (shared.INPUT, shared.ZERO_PROBABILITY, shared.NEG_INF)

    def check(self, case: Case) -> None:
        pos_weight = case.options.pos_weight
        if pos_weight is not None:
            shape = case.input.values.shape
            try:
                fits = np.broadcast_shapes(pos_weight.shape, shape) == shape
            except ValueError:
                fits = False
            if not fits:  # it weights the input's elements: it may not enlarge the loss's shape
                raise CaseRuleError("pos_weight", f"pos_weight shape {pos_weight.shape} does not "
                                    f"broadcast to the input's shape {shape}")

    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        y, pos = _target_and_weight(case, dtype, x.shape)
        losses = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            if case.input.kind == "logits":
                log_p, log_not_p = log_sigmoid(x[index]), log_sigmoid(-x[index])
            else:
                log_p, log_not_p = log(x[index]), log(ONE - x[index])
            losses[index] = -(times_log(pos[index] * y[index], log_p) + times_log(ONE - y[index], log_not_p))
        return reduce_exact(losses, case.reduction)

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None:
            raise ValueError("gradient readings are for class-axis losses")
        x = mp_array(case.input.values, dtype)
        y, pos = _target_and_weight(case, dtype, x.shape)
        grad = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            grad[index] = _term(x[index], y[index], pos[index], case.input.kind)
        return shared.scaled(grad, reduction_denominator(case.reduction, x.shape))

    def converted_input(self, case: Case, dtype: DType, kind: str) -> np.ndarray:
        """Probabilities as logits, log p - log(1 - p) (exact; -inf at 0, inf at 1)."""
        if (case.input.kind, kind) != ("probs", "logits"):
            return super().converted_input(case, dtype, kind)
        return probs_as_logits(case, dtype)

    def readings(self, case: Case, dtype: DType) -> list[Knobs]:
        singles = shared.common_readings(case, dtype, {"logits", "probs"})
        singles += [Knobs(log_clamp=-100.0), Knobs(nan_zero_log=True), Knobs(row_reduce=True)]
        return singles + shared.tail_readings(case, class_axis=False)

    def variant_of(self, case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None) -> np.ndarray:
        return _variant(case, dtype, knobs, inputs)


def _target_and_weight(case: Case, dtype: DType, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    y = mp_array(case.target.values, dtype)
    pos_weight = case.options.pos_weight
    pos = mp_array(pos_weight, dtype) if pos_weight is not None else np.array(ONE, dtype=object)
    return y, np.broadcast_to(pos, shape)


def _term(x: object, y: object, pos: object, kind: str) -> object:
    if any(MP.isnan(v) for v in (x, y, pos)):
        return NAN
    if kind == "logits":
        p = exp(log_sigmoid(x))
        return p * (pos * y + ONE - y) - pos * y
    return shared.minus_ratio(pos * y, x) - shared.minus_ratio(ONE - y, ONE - x)


def _variant(case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None) -> np.ndarray:
    x = shared.rounded_input(case, dtype, inputs)
    y = round_to(case.target.values, dtype)
    pos_weight = case.options.pos_weight
    pos = round_to(pos_weight, dtype) if pos_weight is not None else 1.0
    kind = knobs.reads or case.input.kind
    if kind == "logits" and knobs.clip is None and knobs.log_clamp is None:
        log_p, log_not_p = log_expit(x), log_expit(-x)
    else:
        p = 1 / (1 + np.exp(-x)) if kind == "logits" else x
        log_p, log_not_p = shared.clipped_log(p, knobs, dtype), shared.clipped_log(1 - p, knobs, dtype)
    losses = -(shared.times(pos * y, log_p, knobs) + shared.times(1 - y, log_not_p, knobs))
    return shared.reduce_elements(case, losses, knobs, row="mean")


FAMILY = BinaryCrossEntropy()


def probs_as_logits(case: Case, dtype: DType) -> np.ndarray:
    """The case's probabilities as logits, log p - log(1 - p), exactly (-inf at 0, inf at 1)."""
    p = mp_array(case.input.values, dtype)
    logits = [float(log(v) - log(ONE - v)) for v in p.flat]
    return np.array(logits, dtype=np.float64).reshape(p.shape)
