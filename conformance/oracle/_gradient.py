r"""Canonical gradients: d(loss)/d(input) in exact arithmetic, derived analytically.

The gradient is taken with respect to the case's input as written (logits,
probabilities or log-probabilities) of the *summed* loss: for a reduced loss
that is the loss itself, for ``reduction: none`` it is the gradient of the sum
of the per-position losses - what ``loss.sum().backward()`` computes.

Per position, with :math:`a_c = w_c t_c` the weighted (smoothed) target and
:math:`A = \sum_c a_c`:

- cross-entropy: logits :math:`\partial l/\partial z_j = q_j A - a_j`;
  probabilities :math:`-a_j / p_j`; log-probabilities :math:`-a_j`.
- binary cross-entropy (:math:`w_+` = ``pos_weight``): logits
  :math:`\sigma(x)(w_+ y + 1 - y) - w_+ y`; probabilities
  :math:`-w_+ y / p + (1 - y) / (1 - p)`.
- KL divergence :math:`t (\log t - \log q)`: log-probabilities :math:`-t`;
  probabilities :math:`-t / q`; logits :math:`q_j \sum_c t_c - t_j`.

A term whose coefficient is 0 is constant (``0 log p = 0``), so its partial
derivative is 0 even where ``p = 0``. Every term is then scaled by the
reduction: 1 for ``sum``/``none``, ``1/D`` for ``mean`` (the oracle's
denominator), ``1/N`` for ``batchmean``. ``tests/test_oracle_gradient.py``
checks these formulas against numerical differentiation of the oracle loss.
"""

from __future__ import annotations

import numpy as np

from conformance.case import Case
from conformance.dtypes import DType
from conformance.oracle._classification import _dense_target
from conformance.oracle._mp import MP, NAN, ONE, ZERO, exp, log_q, log_sigmoid, mp_array, total


def gradient(case: Case, dtype: DType) -> np.ndarray:
    """d(sum of the loss)/d(input) of ``case`` on its inputs rounded to ``dtype``;
    an object array of mpf with the input's shape."""
    return _GRADIENTS[case.loss](case, dtype)


def _scale(grad: np.ndarray, denominator: object) -> np.ndarray:
    if denominator == 0 or MP.isnan(denominator):
        return np.full(grad.shape, NAN, dtype=object)
    return grad / denominator


def _cross_entropy(case: Case, dtype: DType) -> np.ndarray:
    x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
    classes = x.shape[-1]
    weight = mp_array(case.weight, dtype) if case.weight is not None else np.full(classes, ONE)
    target, counted = _dense_target(case, dtype, classes)
    eps = MP.mpf(case.label_smoothing)
    if eps:
        target = target * (ONE - eps) + eps / classes
    coefficients = target * weight
    coefficients[~counted] = ZERO
    grad = _per_class(x, coefficients, case.input.kind)
    return np.moveaxis(_scale(grad, _ce_denominator(case, weight, counted, coefficients)), -1, case.axis)


def _per_class(x: np.ndarray, a: np.ndarray, kind: str) -> np.ndarray:
    """-d/dx of sum_c a_c log q_c(x) for each position (classes last)."""
    if kind == "log_probs":
        return -a
    if kind == "probs":
        return np.vectorize(_minus_ratio, otypes=[object])(a, x)
    q = np.vectorize(exp, otypes=[object])(log_q(x, "logits"))
    summed = np.empty(x.shape[:-1] + (1,), dtype=object)
    for index in np.ndindex(x.shape[:-1]):
        summed[index] = total(a[index])
    return q * summed - a


def _minus_ratio(a: object, p: object) -> object:
    """-a / p, with 0 where the coefficient is 0 (the term is constant)."""
    if MP.isnan(p) or MP.isnan(a):
        return NAN
    if a == 0:
        return ZERO
    return -a / p if p != 0 else -MP.sign(a) * MP.inf


def _ce_denominator(case: Case, weight: np.ndarray, counted: np.ndarray, coefficients) -> object:
    if case.reduction in ("none", "sum"):
        return ONE
    if case.target.kind == "index":
        labels = case.target.index
        return total([weight[labels[i]] for i in np.ndindex(labels.shape) if counted[i]])
    return MP.mpf(counted.size)


def _elementwise_denominator(case: Case, shape: tuple[int, ...]) -> object:
    if case.reduction in ("none", "sum"):
        return ONE
    if case.reduction == "batchmean":
        return MP.mpf(shape[0])
    return MP.mpf(int(np.prod(shape)))


def _binary_cross_entropy(case: Case, dtype: DType) -> np.ndarray:
    x = mp_array(case.input.values, dtype)
    y = mp_array(case.target.probs, dtype)
    pos = mp_array(case.pos_weight, dtype) if case.pos_weight is not None else np.array(ONE, dtype=object)
    pos = np.broadcast_to(pos, x.shape)
    grad = np.empty(x.shape, dtype=object)
    for index in np.ndindex(x.shape):
        grad[index] = _bce_term(x[index], y[index], pos[index], case.input.kind)
    return _scale(grad, _elementwise_denominator(case, x.shape))


def _bce_term(x: object, y: object, pos: object, kind: str) -> object:
    if any(MP.isnan(v) for v in (x, y, pos)):
        return NAN
    if kind == "logits":
        p = exp(log_sigmoid(x))
        return p * (pos * y + ONE - y) - pos * y
    return _minus_ratio(pos * y, x) - _minus_ratio(ONE - y, ONE - x)


def _kl_divergence(case: Case, dtype: DType) -> np.ndarray:
    x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
    raw = np.moveaxis(mp_array(case.target.values, dtype), case.axis, -1)
    t = np.vectorize(exp, otypes=[object])(raw) if case.target.kind == "log_probs" else raw
    grad = _per_class(x, t, case.input.kind)
    return np.moveaxis(_scale(grad, _elementwise_denominator(case, raw.shape)), -1, case.axis)


_GRADIENTS = {
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
    "kl_divergence": _kl_divergence,
}
