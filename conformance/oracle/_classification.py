"""Canonical cross-entropy and binary cross-entropy in exact arithmetic."""

from __future__ import annotations

import numpy as np

from conformance.case import Case
from conformance.dtypes import DType
from conformance.oracle._mp import (MP, ONE, ZERO, divide, log, log_q, log_sigmoid, mp_array,
                                    times_log, total)


def cross_entropy(case: Case, dtype: DType) -> np.ndarray | object:
    r"""Cross-entropy in nats, reduced as the case asks.

    Per position :math:`l = -\sum_c w_c t_c \log q_c` where ``q`` is the
    softmax of logits (or the probabilities, or ``exp`` of log-probabilities)
    and ``t`` the one-hot or soft target, smoothed to ``(1-eps) t + eps/C``.
    ``mean`` divides by the summed weights of the non-ignored targets (index
    targets) or by the number of positions (probability targets).
    """
    logq = log_q(np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1), case.input.kind)
    classes = logq.shape[-1]
    weight, target, counted = weighted_target(case, dtype, classes)
    losses = np.empty(logq.shape[:-1], dtype=object)
    for index in np.ndindex(losses.shape):
        if not counted[index]:
            losses[index] = ZERO
            continue
        terms = [times_log(weight[c] * target[index][c], logq[index][c]) for c in range(classes)]
        losses[index] = -total(terms)
    if case.reduction == "none":
        return losses
    if case.reduction == "sum":
        return total(losses)
    return divide(total(losses), mean_denominator(case, weight, counted))


def weighted_target(case: Case, dtype: DType, classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Class weights, the smoothed target (class axis last) and the mask of counted positions."""
    weight = mp_array(case.weight, dtype) if case.weight is not None else np.full(classes, ONE)
    target, counted = _dense_target(case, dtype, classes)
    eps = MP.mpf(case.label_smoothing)
    if eps:
        target = target * (ONE - eps) + eps / classes
    return weight, target, counted


def mean_denominator(case: Case, weight: np.ndarray, counted: np.ndarray) -> object:
    """What ``mean`` divides by: the summed weights of the counted index targets, or
    the number of positions for probability targets."""
    if case.target.kind == "index":
        labels = case.target.index
        return total([weight[labels[i]] for i in np.ndindex(labels.shape) if counted[i]])
    return MP.mpf(counted.size)


def _dense_target(case: Case, dtype: DType, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """The target as per-class probabilities (class axis last) and a mask of counted positions."""
    if case.target.kind == "probs":
        target = np.moveaxis(mp_array(case.target.probs, dtype), case.axis, -1)
        return target, np.ones(target.shape[:-1], dtype=bool)
    labels = case.target.index
    counted = labels != case.ignore_index if case.ignore_index is not None else np.ones(labels.shape, bool)
    target = np.full(labels.shape + (classes,), ZERO, dtype=object)
    for index in np.ndindex(labels.shape):
        if counted[index]:
            target[index + (int(labels[index]),)] = ONE
    return target, counted


def binary_cross_entropy(case: Case, dtype: DType) -> np.ndarray | object:
    r"""Elementwise :math:`-(w_+ y \log p + (1-y) \log(1-p))`, reduced as asked.

    ``p`` is ``sigmoid(logits)`` (computed as ``log_sigmoid`` so that large
    logits lose nothing) or the given probabilities; ``w_+`` is ``pos_weight``.
    """
    x, y, pos = bce_arrays(case, dtype)
    losses = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape):
        if case.input.kind == "logits":
            log_p, log_not_p = log_sigmoid(x[index]), log_sigmoid(-x[index])
        else:
            log_p, log_not_p = log(x[index]), log(ONE - x[index])
        losses[index] = -(times_log(pos[index] * y[index], log_p) + times_log(ONE - y[index], log_not_p))
    return _reduce_elementwise(losses, case.reduction)


def bce_arrays(case: Case, dtype: DType) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Input, labels and ``pos_weight`` (broadcast to the input) as mpf arrays."""
    x = mp_array(case.input.values, dtype)
    y = mp_array(case.target.probs, dtype)
    pos = mp_array(case.pos_weight, dtype) if case.pos_weight is not None else np.array(ONE, dtype=object)
    return x, y, np.broadcast_to(pos, x.shape)


def _reduce_elementwise(losses: np.ndarray, reduction: str) -> np.ndarray | object:
    if reduction == "none":
        return losses
    if reduction == "sum":
        return total(losses)
    if reduction == "batchmean":
        return divide(total(losses), MP.mpf(losses.shape[0]))
    return divide(total(losses), MP.mpf(losses.size))
