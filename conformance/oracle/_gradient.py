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

*Readings* are the gradients a correct autodiff gives when probabilities or
log-probabilities reach an API through the usual glue; a binding declares
which one its faithful call takes (``Binding.grad_readings``):

- ``renormalised``: the API divides the probabilities by their sum
  (Keras): :math:`-a_j/p_j + A/\sum_c p_c`.
- ``log_then_softmax``: ``log p`` into a logits API, which renormalises:
  :math:`(q_j A - a_j)/p_j` with ``q = p / sum p`` - and ``0/0 = NaN`` where
  ``p_j = 0``, as autodiff multiplies ``0`` by ``d log p/dp = inf``.
- ``through_log``: ``log p`` into a log-probability API:
  :math:`-a_j / p_j`, NaN where ``p_j = 0`` for the same reason.
- ``softmax``: log-probabilities into a logits API, which renormalises them:
  the logits gradient :math:`q_j A - a_j` with ``q = softmax(s)``.
"""

from __future__ import annotations

import numpy as np

from conformance.case import Case, Target
from conformance.dtypes import DType, round_to
from conformance.oracle._classification import bce_arrays, mean_denominator, weighted_target
from conformance.oracle._mp import MP, NAN, ONE, ZERO, divide, exp, log_q, log_sigmoid, mp_array, total


GRADIENT_READINGS = {
    "renormalised": "the API renormalises the probabilities (p / sum p), so the gradient gains "
                    "A / sum(p) in every class (-a/p + A/sum p), and is finite at p = 0",
    "log_then_softmax": "the faithful call feeds log p to an API that takes logits; its softmax "
                        "renormalises (gradient -a/p + A/sum p), and autodiff through log at p = 0 "
                        "gives 0 * inf = NaN where the loss ignores that class",
    "through_log": "the faithful call feeds log p to an API that takes log-probabilities; "
                   "autodiff through log at p = 0 gives 0 * inf = NaN where the loss ignores that class",
    "softmax": "log-probabilities go into an API that takes logits; its softmax renormalises them, "
               "so the gradient is that of the logits, q * A - a, not -a",
    "labels_in_dtype": "the class indices are cast to the evaluated dtype first, so indices it cannot "
                       "represent (above 256 in bfloat16, 2048 in float16) move to another class",
}
READINGS = tuple(GRADIENT_READINGS)


def gradient(case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, object]:
    """d(sum of the loss)/d(input) of ``case`` on its inputs rounded to ``dtype`` (an
    object array of mpf with the input's shape), read canonically or as ``reading``
    says, and the reduction's scale (``1/D`` for a mean, else 1)."""
    if reading is not None and reading not in READINGS:
        raise ValueError(f"unknown gradient reading {reading!r}; known: {', '.join(READINGS)}")
    if reading is not None and case.loss == "binary_cross_entropy":
        raise ValueError("gradient readings are for class-axis losses")
    if reading == "labels_in_dtype":
        labels = round_to(case.target.index, dtype).astype(np.int64)
        case, reading = case.model_copy(update={"target": Target(index=labels)}), None
    return _GRADIENTS[case.loss](case, dtype, reading)


def _scale(grad: np.ndarray, denominator: object) -> tuple[np.ndarray, object]:
    if denominator == 0 or MP.isnan(denominator):
        return np.full(grad.shape, NAN, dtype=object), NAN
    return grad / denominator, ONE / denominator


def _cross_entropy(case: Case, dtype: DType, reading: str | None) -> tuple[np.ndarray, object]:
    x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
    weight, target, counted = weighted_target(case, dtype, x.shape[-1])
    coefficients = target * weight
    coefficients[~counted] = ZERO
    grad = _per_class(x, coefficients, case.input.kind, reading)
    denominator = ONE if case.reduction in ("none", "sum") else mean_denominator(case, weight, counted)
    grad, scale = _scale(grad, denominator)
    return np.moveaxis(grad, -1, case.axis), scale


def _per_class(x: np.ndarray, a: np.ndarray, kind: str, reading: str | None = None) -> np.ndarray:
    """-d/dx of sum_c a_c log q_c(x) for each position (classes last)."""
    if reading is None or kind == "logits":
        if kind == "log_probs":
            return -a
        if kind == "probs":
            return np.vectorize(_minus_ratio, otypes=[object])(a, x)
        return _softmax_gradient(x, a)
    if reading == "softmax" and kind == "log_probs":
        return _softmax_gradient(x, a)
    if kind != "probs" or reading == "softmax":
        raise ValueError(f"reading {reading!r} does not apply to {kind} input")
    if reading == "through_log":
        return np.vectorize(_autodiff_ratio, otypes=[object])(-a, x)
    ratio = np.vectorize(divide, otypes=[object])  # a row that sums to 0 gives NaN, not an exception
    sums = _row_sums(x)
    if reading == "renormalised":
        return np.vectorize(_minus_ratio, otypes=[object])(a, x) + ratio(_row_sums(a), sums)
    return np.vectorize(_autodiff_ratio, otypes=[object])(ratio(x, sums) * _row_sums(a) - a, x)


def _row_sums(values: np.ndarray) -> np.ndarray:
    summed = np.empty(values.shape[:-1] + (1,), dtype=object)
    for index in np.ndindex(values.shape[:-1]):
        summed[index] = total(values[index])
    return summed


def _softmax_gradient(z: np.ndarray, a: np.ndarray) -> np.ndarray:
    q = np.vectorize(exp, otypes=[object])(log_q(z, "logits"))
    return q * _row_sums(a) - a


def _autodiff_ratio(g: object, p: object) -> object:
    """``g / p`` as autodiff through ``log p`` computes it: ``0/0`` is NaN."""
    if MP.isnan(p) or MP.isnan(g) or (p == 0 and g == 0):
        return NAN
    return g / p if p != 0 else MP.sign(g) * MP.inf


def _minus_ratio(a: object, p: object) -> object:
    """-a / p, with 0 where the coefficient is 0 (the term is constant)."""
    if MP.isnan(p) or MP.isnan(a):
        return NAN
    if a == 0:
        return ZERO
    return -a / p if p != 0 else -MP.sign(a) * MP.inf


def _elementwise_denominator(case: Case, shape: tuple[int, ...]) -> object:
    if case.reduction in ("none", "sum"):
        return ONE
    if case.reduction == "batchmean":
        return MP.mpf(shape[0])
    return MP.mpf(int(np.prod(shape)))


def _binary_cross_entropy(case: Case, dtype: DType, reading: str | None) -> tuple[np.ndarray, object]:
    x, y, pos = bce_arrays(case, dtype)
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


def _kl_divergence(case: Case, dtype: DType, reading: str | None) -> tuple[np.ndarray, object]:
    x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
    raw = np.moveaxis(mp_array(case.target.values, dtype), case.axis, -1)
    t = np.vectorize(exp, otypes=[object])(raw) if case.target.kind == "log_probs" else raw
    grad, scale = _scale(_per_class(x, t, case.input.kind, reading),
                         _elementwise_denominator(case, raw.shape))
    return np.moveaxis(grad, -1, case.axis), scale


_GRADIENTS = {
    "cross_entropy": _cross_entropy,
    "binary_cross_entropy": _binary_cross_entropy,
    "kl_divergence": _kl_divergence,
}
