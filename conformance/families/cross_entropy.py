r"""Cross-entropy: :math:`-\sum_c w_c t_c \log q_c` per position, in nats.

``q`` is the softmax of logits over the class axis, or the probabilities as
given, or ``exp`` of log-probabilities; ``t`` is the one-hot (class index) or
soft (probability) target, smoothed to :math:`(1-\epsilon) t + \epsilon/C`;
``w`` the class weights. ``mean`` divides the sum by the summed weights of the
counted index targets (``ignore_index`` ones are not counted), or by the number
of positions for probability targets. No clipping, no clamping: ``0 log 0 = 0``.

Gradient (analytic, checked against numerical differentiation in
``tests/test_oracle_gradient.py``), per position with :math:`a_c = w_c t_c`,
:math:`A = \sum_c a_c`: logits :math:`q_j A - a_j`; probabilities
:math:`-a_j/p_j`; log-probabilities :math:`-a_j`; scaled by the reduction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field

from conformance.arrays import INT64, FloatArray, Integer, Number
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, ONE, ZERO, divide, log_q, mp_array, times_log, total
from conformance.families import classification as shared
from conformance.families.base import Options
from conformance.families.classification import Knobs
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class CrossEntropyOptions(Options):
    weight: FloatArray | None = None
    ignore_index: Integer | None = Field(default=None, ge=INT64[0], le=INT64[1])
    label_smoothing: Number = Field(default=0.0, ge=0.0, lt=1.0)


@dataclass(frozen=True)
class _Target:
    """The target as dense per-class coefficients (classes last) and the counted positions."""

    weight: np.ndarray
    target: np.ndarray
    counted: np.ndarray


class CrossEntropy(shared.ProbabilityFamily):
    properties = frozenset({"logit_shift", "class_permutation", "index_is_one_hot", "gibbs"})
    name = "cross_entropy"
    definition = "-sum_c w_c t_c log q_c per position; mean over the weights of the counted targets"
    inputs = ("logits", "probs", "log_probs")
    targets = {"index": Elements.INDEX, "probs": Elements.FLOAT}
    options = CrossEntropyOptions
    class_axis = True
    random_target = "dirichlet"
    aspects = (shared.INPUT, shared.UNNORMALISED, shared.ZERO_PROBABILITY, shared.NEG_INF,
               shared.CLASS_AXIS, shared.SMOOTHING)
    gradient_readings = {
        **shared.GRADIENT_READINGS,
        "labels_in_dtype": "the class indices are cast to the evaluated dtype first, so indices it cannot "
                           "represent (above 256 in bfloat16, 2048 in float16) move to another class",
    }

    # -- schema -------------------------------------------------------------------
    def check(self, case: Case) -> None:
        options: CrossEntropyOptions = case.options
        if options.ignore_index is not None and case.target.kind != "index":
            raise CaseRuleError("ignore_index", "`ignore_index` needs class-index targets (target: {index: ...})")
        if case.target.kind == "index":
            labels = case.target.values
            valid = (labels >= 0) & (labels < case.num_classes)
            if options.ignore_index is not None:
                valid |= labels == options.ignore_index
            if not valid.all():
                bad = int(labels[~valid].flat[0])
                raise CaseRuleError("target", f"class index {bad} is outside [0, {case.num_classes}) "
                                    "and is not the ignore_index")
        if options.weight is not None and options.weight.shape != (case.num_classes,):
            raise CaseRuleError("weight", f"weight needs one entry per class ({case.num_classes}), "
                                f"got shape {options.weight.shape}")

    # -- the canonical definition -------------------------------------------------
    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        logq = log_q(np.moveaxis(x, case.axis, -1), case.input.kind)
        dense = weighted_target(case, dtype, logq.shape[-1])
        losses = np.empty(logq.shape[:-1], dtype=object)
        for index in np.ndindex(losses.shape):
            if not dense.counted[index]:
                losses[index] = ZERO
                continue
            terms = [times_log(dense.weight[c] * dense.target[index][c], logq[index][c])
                     for c in range(logq.shape[-1])]
            losses[index] = -total(terms)
        if case.reduction == "none":
            return losses
        if case.reduction == "sum":
            return total(losses)
        return divide(total(losses), mean_denominator(case, dense))

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None and reading not in self.gradient_readings:
            raise ValueError(f"unknown gradient reading {reading!r}; known: {', '.join(self.gradient_readings)}")
        if reading == "labels_in_dtype":
            labels = round_to(case.target.values, dtype).astype(np.int64)
            case, reading = case.with_target("index", labels), None
        x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
        dense = weighted_target(case, dtype, x.shape[-1])
        coefficients = dense.target * dense.weight
        coefficients[~dense.counted] = ZERO
        grad = shared.per_class_gradient(x, coefficients, case.input.kind, reading)
        denominator = ONE if case.reduction in ("none", "sum") else mean_denominator(case, dense)
        grad, scale = shared.scaled(grad, denominator)
        return np.moveaxis(grad, -1, case.axis), scale

    def divisor(self, case: Case, dtype: DType) -> Any:
        if case.reduction in ("none", "sum"):
            return ONE
        return mean_denominator(case, weighted_target(case, dtype, case.num_classes))

    # -- interpretation -----------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[Knobs]:
        singles = shared.common_readings(case, dtype, {"logits", "probs", "log_probs", "renormalised"})
        singles.append(Knobs(reads="clip_renormalised", clip=1e-7))
        singles += [Knobs(log_clamp=-100.0), Knobs(nan_zero_log=True)]
        singles += shared.tail_readings(case, class_axis=True)
        if case.options.label_smoothing:
            singles += [Knobs(smoothing=s) for s in ("others", "half", "last_axis")]
        if case.target.kind == "probs" and case.ndim == 2 and case.axis == 1:
            singles.append(Knobs(target_argmax_axis=0))
        return singles

    def variant_of(self, case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None) -> np.ndarray:
        return _variant(case, dtype, knobs, inputs)


def weighted_target(case: Case, dtype: DType, classes: int) -> _Target:
    """Class weights, the smoothed target (class axis last) and the mask of counted positions."""
    options: CrossEntropyOptions = case.options
    weight = mp_array(options.weight, dtype) if options.weight is not None else np.full(classes, ONE)
    target, counted = _dense_target(case, dtype, classes)
    eps = MP.mpf(options.label_smoothing)
    if eps:
        target = target * (ONE - eps) + eps / classes
    return _Target(weight, target, counted)


def mean_denominator(case: Case, dense: _Target) -> Any:
    """What ``mean`` divides by: the summed weights of the counted index targets, or
    the number of positions for probability targets."""
    if case.target.kind == "index":
        labels = case.target.values
        return total([dense.weight[labels[i]] for i in np.ndindex(labels.shape) if dense.counted[i]])
    return MP.mpf(dense.counted.size)


def _dense_target(case: Case, dtype: DType, classes: int) -> tuple[np.ndarray, np.ndarray]:
    if case.target.kind == "probs":
        target = np.moveaxis(mp_array(case.target.values, dtype), case.axis, -1)
        return target, np.ones(target.shape[:-1], dtype=bool)
    labels = case.target.values
    ignore = case.options.ignore_index
    counted = labels != ignore if ignore is not None else np.ones(labels.shape, bool)
    target = np.full(labels.shape + (classes,), ZERO, dtype=object)
    for index in np.ndindex(labels.shape):
        if counted[index]:
            target[index + (int(labels[index]),)] = ONE
    return target, counted


def _variant(case: Case, dtype: DType, knobs: Knobs, inputs: np.ndarray | None) -> np.ndarray:
    options: CrossEntropyOptions = case.options
    axis = knobs.class_axis if knobs.class_axis is not None else case.axis
    x = np.moveaxis(shared.rounded_input(case, dtype, inputs), axis, -1)
    logq = shared.variant_log_q(x, knobs.reads or case.input.kind, knobs, dtype)
    classes = logq.shape[-1]
    weight = round_to(options.weight, dtype) if options.weight is not None else np.ones(classes)
    labels = _labels(case, dtype, knobs)
    if labels is None and knobs.class_axis is not None and case.target.kind == "index":
        # The one-hot target sits on the case's class axis; the API reads another.
        index = case.target.values
        one_hot = np.eye(case.num_classes)[np.where(index < 0, 0, index)]
        target = np.moveaxis(np.moveaxis(one_hot, -1, case.axis), axis, -1)
        counted = np.ones(target.shape[:-1], bool)
        if target.shape[-1] != classes:
            raise ValueError("one-hot target does not fit this class axis")
    elif labels is not None:
        counted = labels != options.ignore_index if options.ignore_index is not None else np.ones(labels.shape, bool)
        if labels.shape != logq.shape[:-1]:
            raise ValueError("target does not fit this class axis")
        target = np.zeros(labels.shape + (classes,))
        target[counted, labels[counted]] = 1.0
    else:
        target = np.moveaxis(round_to(case.target.values, dtype), axis, -1)
        counted = np.ones(target.shape[:-1], bool)
    target = _smooth(case, target, knobs, classes)
    losses = np.where(counted, -shared.times(weight * target, logq, knobs).sum(axis=-1), 0.0)
    if case.reduction != "mean":
        return losses if case.reduction == "none" else np.asarray(losses.sum())
    if labels is not None and knobs.class_axis is None:
        safe = np.where(counted, labels, 0)
        weights = np.where(counted, weight[safe], 0.0)
    else:
        weights = np.ones(losses.shape)
    default = "weights" if labels is not None else "count"
    return shared.variant_mean(losses, weights, counted, knobs.denominator or default, knobs)


def _labels(case: Case, dtype: DType, knobs: Knobs) -> np.ndarray | None:
    """The class indices the reading uses: the case's, or those the API derives from a
    one-hot target along the wrong axis; None for a soft target read as one."""
    if knobs.target_argmax_axis is not None:
        return np.argmax(round_to(case.target.values, dtype), axis=knobs.target_argmax_axis)
    if case.target.kind == "index" and knobs.class_axis is None:
        return case.target.values
    return None


def _smooth(case: Case, target: np.ndarray, knobs: Knobs, classes: int) -> np.ndarray:
    eps = case.options.label_smoothing
    if not eps:
        return target
    if knobs.smoothing == "others":
        return target * (1 - eps) + (1 - target) * eps / (classes - 1)
    spread = {"half": 2, "last_axis": case.input.values.shape[-1]}.get(knobs.smoothing, classes)
    return target * (1 - eps) + eps / spread


FAMILY = CrossEntropy()
