r"""Categorical (softmax) focal loss: one classification over a class axis per position, in nats.

.. math:: \ell = -\sum_c \alpha_c\, y_c\, (1 - q_c)^\gamma \log q_c

``q`` is the softmax of logits over the class axis (``class_axis``, default the
last; :math:`1 - q_c` is computed as the sum of the other classes'
probabilities, so a confident class loses nothing), or the probabilities as
given (then :math:`1 - q_c` as written, no renormalisation); ``y`` the one-hot
(class ``index`` target) or soft (``probs`` target) label, smoothed to
:math:`y(1-\epsilon) + \epsilon/C` with ``label_smoothing``; γ = ``gamma``
(default 2); α = ``alpha``, one weight per class (shape ``(C,)``), or 1 for
every class when it is not given. ``mean`` averages over the positions (the
per-position loss drops the class axis). No clipping, no eps; ``0 log 0 = 0``.

γ = 0 is the cross-entropy with class weights (``cross_entropy`` with ``weight``
and probability targets, whose mean is over positions too). A scalar α means
different things to different APIs (Keras: every class times α; kornia and
MONAI: :math:`[1-\alpha, \alpha, \ldots, \alpha]`, class 0 the background), so the
case states the per-class vector and each binding passes it as its API can.

Gradient (analytic, checked against numerical differentiation in
``tests/test_focal_families.py``): with :math:`a_c = \alpha_c y_c` and
:math:`h_c = a_c(\gamma (1-q_c)^{\gamma-1} q_c \log q_c - (1-q_c)^\gamma)`, logits
:math:`h_k - q_k \sum_c h_c`; probabilities :math:`h_k / q_k`; scaled by the reduction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import logsumexp

from conformance.arrays import FloatArray
from conformance.case_rules import CaseRuleError
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, ONE, ZERO, exp, log, log_softmax, mp_array, total
from conformance.families import focal as shared
from conformance.families.base import reduce_exact
from conformance.families.focal import FocalKnobs
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class CategoricalFocalOptions(shared.FocalOptions):
    alpha: FloatArray | None = None


class CategoricalFocal(shared.FocalFamily):
    properties = frozenset({"class_permutation", "index_is_one_hot"})
    name = "categorical_focal"
    definition = ("-sum_c alpha_c y_c (1-q_c)^g log q_c per position, q = softmax over the class axis; "
                  "mean over positions")
    inputs = ("logits", "probs")
    targets = {"index": Elements.INDEX, "probs": Elements.FLOAT}
    options = CategoricalFocalOptions
    class_axis = True
    random_target = "dirichlet"
    aspects = (shared.FOCAL_INPUT, shared.FOCAL_CLASS_ALPHA_DEFAULT, shared.FOCAL_CLASS_MEAN,
               shared.FOCAL_ACTIVATION)

    # -- schema -------------------------------------------------------------------
    def check(self, case: Case) -> None:
        if case.target.kind == "index":
            labels = case.target.values
            bad = labels[(labels < 0) | (labels >= case.num_classes)]
            if bad.size:
                raise CaseRuleError("target", f"class index {int(bad.flat[0])} is outside [0, {case.num_classes})")
        alpha = case.options.alpha
        if alpha is not None and alpha.shape != (case.num_classes,):
            raise CaseRuleError("alpha", f"alpha needs one entry per class ({case.num_classes}), "
                                f"got shape {alpha.shape}")

    # -- the canonical definition -------------------------------------------------
    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        x = np.moveaxis(x, case.axis, -1)
        coefficients = _coefficients(case, dtype, x.shape)
        gamma = MP.mpf(case.options.gamma)
        losses = np.empty(x.shape[:-1], dtype=object)
        for index in np.ndindex(losses.shape):
            q, complement, log_q = _parts(x[index], case.input.kind)
            losses[index] = total([shared.focal_term(coefficients[index][c], complement[c], log_q[c], gamma)
                                   for c in range(x.shape[-1])])
        return reduce_exact(losses, case.reduction)

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        x = np.moveaxis(mp_array(case.input.values, dtype), case.axis, -1)
        coefficients = _coefficients(case, dtype, x.shape)
        gamma = MP.mpf(case.options.gamma)
        grad = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape[:-1]):
            grad[index] = _slopes(x[index], coefficients[index], gamma, case.input.kind)
        positions = int(np.prod(x.shape[:-1]))
        denominator = MP.mpf(positions) if case.reduction == "mean" else ONE
        return np.moveaxis(grad / denominator, -1, case.axis), ONE / denominator

    def divisor(self, case: Case, dtype: DType) -> Any:
        return MP.mpf(int(np.prod(self.output_shape(case)))) if case.reduction == "mean" else ONE

    # -- interpretation -----------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[FocalKnobs]:
        other = "probs" if case.input.kind == "logits" else "logits"
        singles = [FocalKnobs(reads=other), FocalKnobs(clip=1e-7)]
        if case.input.kind == "probs":
            singles.append(FocalKnobs(reads="renormalised"))
        if case.options.alpha is None:
            singles.append(FocalKnobs(alpha_default=0.25))
        if case.reduction == "mean":
            singles.append(FocalKnobs(denominator="elements"))
        singles.append(FocalKnobs(sigmoid=True))
        return singles

    def variant_of(self, case: Case, dtype: DType, knobs: FocalKnobs, inputs: np.ndarray | None) -> np.ndarray:
        x = round_to(case.input.values, dtype) if inputs is None else inputs
        x = np.moveaxis(x, case.axis, -1)
        classes = x.shape[-1]
        y = _dense_float(case, dtype, classes)
        gamma = float(case.options.gamma)
        alpha = round_to(case.options.alpha, dtype) if case.options.alpha is not None else None
        if alpha is None:
            alpha = np.full(classes, 1.0 if knobs.alpha_default is None else knobs.alpha_default)
        kind = knobs.reads or case.input.kind
        if knobs.sigmoid:
            if kind != "logits":
                raise ValueError("a sigmoid reading takes logits")
            # Each class an independent binary focal loss of the label y_c (hard labels: no soft
            # question); a class α weights the positive term only (MONAI: where(target == 1, α_c, 1)).
            log_q, log_not_q = -np.logaddexp(0, -x), -np.logaddexp(0, x)
            q, not_q = np.exp(log_q), np.exp(log_not_q)
            terms = -(shared.times(alpha * y, not_q ** gamma * log_q) + shared.times(1 - y, q ** gamma * log_not_q))
        else:
            if kind == "logits":
                lse = logsumexp(x, axis=-1, keepdims=True)
                q = np.exp(x - lse)
                not_q = np.stack([np.exp(logsumexp(np.delete(x, c, axis=-1), axis=-1) - lse[..., 0])
                                  for c in range(classes)], axis=-1) if classes > 1 else np.zeros(q.shape)
                if knobs.clip is not None:
                    q = shared.clipped(q, knobs.clip, dtype)
                    not_q = 1 - q
                log_q = np.log(q) if knobs.clip is not None else x - lse
            else:
                q = x / x.sum(axis=-1, keepdims=True) if kind == "renormalised" else x
                q = shared.clipped(q, knobs.clip, dtype)
                not_q, log_q = 1 - q, np.log(q)
            terms = -shared.times(alpha * y, not_q ** gamma * log_q)
        losses = terms.sum(axis=-1)
        denominator = losses.size * classes if knobs.denominator == "elements" else None
        return shared.reduce_float(case, losses, denominator)


def _dense_target(case: Case, dtype: DType, classes: int) -> np.ndarray:
    """The (smoothed) target as mpf coefficients, classes last."""
    if case.target.kind == "probs":
        y = np.moveaxis(mp_array(case.target.values, dtype), case.axis, -1)
    else:
        labels = case.target.values
        y = np.full(labels.shape + (classes,), ZERO, dtype=object)
        for index in np.ndindex(labels.shape):
            y[index + (int(labels[index]),)] = ONE
    eps = MP.mpf(case.options.label_smoothing)
    return y * (ONE - eps) + eps / classes if eps else y


def _dense_float(case: Case, dtype: DType, classes: int) -> np.ndarray:
    if case.target.kind == "probs":
        y = np.moveaxis(round_to(case.target.values, dtype), case.axis, -1)
    else:
        y = np.eye(classes)[case.target.values]
    eps = case.options.label_smoothing
    return y * (1 - eps) + eps / classes if eps else y


def _coefficients(case: Case, dtype: DType, shape: tuple[int, ...]) -> np.ndarray:
    """a_c = α_c y_c, classes last."""
    y = _dense_target(case, dtype, shape[-1])
    alpha = case.options.alpha
    return y * mp_array(alpha, dtype) if alpha is not None else y


def _parts(row: np.ndarray, kind: str) -> tuple[list, list, list]:
    """(q_c, 1 - q_c, log q_c) of one position's classes."""
    if kind == "logits":
        log_q = log_softmax(row)
        q = [exp(v) for v in log_q]
        complement = [MP.fsum(q[:c] + q[c + 1:]) if not MP.isnan(q[c]) else NAN for c in range(len(q))]
        return q, complement, log_q
    q = list(row)
    return q, [ONE - v for v in q], [log(v) for v in q]


def _slopes(row: np.ndarray, coefficients: np.ndarray, gamma: Any, kind: str) -> np.ndarray:
    q, complement, log_q = _parts(row, kind)
    classes = len(q)
    if kind == "probs":
        return np.array([shared.term_slope_p(coefficients[c], q[c], complement[c], log_q[c], gamma)
                         for c in range(classes)], dtype=object)
    h = [shared.term_slope_logit(coefficients[c], q[c], complement[c], log_q[c], gamma) for c in range(classes)]
    summed = total(h)
    return np.array([h[k] - q[k] * summed for k in range(classes)], dtype=object)


FAMILY = CategoricalFocal()
