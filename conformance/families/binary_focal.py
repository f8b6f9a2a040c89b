r"""Binary focal loss: each element an independent binary classification, in nats.

.. math:: \ell = -\,a\,(1-p)^\gamma \log p \;-\; b\,p^\gamma \log(1-p),\qquad
          a = \alpha\,t,\; b = (1-\alpha)(1-t)

``p`` is ``sigmoid(logits)`` (computed in log space, so large logits lose
nothing) or the probabilities as given; ``t`` the target probability, smoothed
to :math:`t(1-\epsilon) + \epsilon/2` with ``label_smoothing``; γ = ``gamma``
(default 2); α = ``alpha`` in [0, 1], or no weighting (:math:`a = t`,
:math:`b = 1 - t`) when it is not given. ``mean`` averages over every element.
Shapes: target of the input's shape. No clipping, no eps; ``0 log 0 = 0`` and
:math:`0^0 = 1`.

For hard labels (t ∈ {0, 1}) this is :math:`-\alpha_t (1-p_t)^\gamma \log p_t`
of Lin et al., on which every API agrees. **Soft labels** (and so label
smoothing) are where APIs differ; the canonical generalisation is the one above,
each term weighted by its label mass - the expectation of the hard-label loss
over a label drawn with probability t. It was chosen because it is (1) the
categorical focal loss (:mod:`conformance.families.categorical_focal`) of the
two classes (p, 1 - p) with the target (t, 1 - t) and class weights
(α, 1 - α), so the binary and categorical families are one definition; and
(2) linear in the target, as binary and categorical cross-entropy are, so
γ = 0 is BCE for every t. kornia's ``binary_focal_loss_with_logits`` computes
it. Keras, optax and torchvision weight the whole BCE by
:math:`\alpha_t (1 - p_t)^\gamma` with :math:`p_t = t p + (1-t)(1-p)` and
:math:`\alpha_t = \alpha t + (1-\alpha)(1-t)`; MONAI by
:math:`\alpha_t\,\sigma(-x(2t-1))^\gamma`. Both are readings (``soft``).

Gradient (analytic, checked against numerical differentiation in
``tests/test_focal_families.py``): with :math:`S(c, q) = c(\gamma (1-q)^{\gamma-1} q
\log q - (1-q)^\gamma)`, logits :math:`(1-p) S(a, p) - p S(b, 1-p)`;
probabilities :math:`S(a, p)/p - S(b, 1-p)/(1-p)`; scaled by the reduction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import Field
from scipy.special import expit, log_expit

from conformance.arrays import Number
from conformance.dtypes import round_to
from conformance.exact import MP, NAN, ONE, mp_array
from conformance.families import binary_cross_entropy
from conformance.families import focal as shared
from conformance.families.base import reduce_exact, reduction_denominator
from conformance.families.focal import FocalKnobs
from conformance.vocabulary import Elements

if TYPE_CHECKING:
    from conformance.case import Case
    from conformance.dtypes import DType


class BinaryFocalOptions(shared.FocalOptions):
    alpha: Number | None = Field(default=None, ge=0.0, le=1.0)


class BinaryFocal(shared.FocalFamily):
    name = "binary_focal"
    definition = "-a (1-p)^g log p - b p^g log(1-p), a = alpha t, b = (1-alpha)(1-t); mean over every element"
    inputs = ("logits", "probs")
    targets = {"probs": Elements.FLOAT}
    options = BinaryFocalOptions
    aspects = (shared.FOCAL_INPUT, shared.FOCAL_SOFT_LABELS, shared.FOCAL_ALPHA, shared.FOCAL_ALPHA_DEFAULT)

    # -- the canonical definition -------------------------------------------------
    def loss(self, case: Case, dtype: DType, x: np.ndarray) -> Any:
        a, b, gamma = _coefficients(case, dtype, x.shape)
        losses = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            p, not_p, log_p, log_not_p = _parts(x[index], case.input.kind)
            losses[index] = (shared.focal_term(a[index], not_p, log_p, gamma)
                             + shared.focal_term(b[index], p, log_not_p, gamma))
        return reduce_exact(losses, case.reduction)

    def gradient(self, case: Case, dtype: DType, reading: str | None = None) -> tuple[np.ndarray, Any]:
        if reading is not None:
            raise ValueError(f"{self.name} has no gradient reading {reading!r}")
        x = mp_array(case.input.values, dtype)
        a, b, gamma = _coefficients(case, dtype, x.shape)
        grad = np.empty(x.shape, dtype=object)
        for index in np.ndindex(x.shape):
            grad[index] = _slope(x[index], a[index], b[index], gamma, case.input.kind)
        denominator = reduction_denominator(case.reduction, x.shape)
        return grad / denominator, ONE / denominator

    def converted_input(self, case: Case, dtype: DType, kind: str) -> np.ndarray:
        """Probabilities as logits, log p - log(1 - p) (exact; -inf at 0, inf at 1)."""
        if (case.input.kind, kind) != ("probs", "logits"):
            return super().converted_input(case, dtype, kind)
        return binary_cross_entropy.probs_as_logits(case, dtype)

    # -- interpretation -----------------------------------------------------------
    def readings(self, case: Case, dtype: DType) -> list[FocalKnobs]:
        other = "probs" if case.input.kind == "logits" else "logits"
        singles = [FocalKnobs(reads=other), FocalKnobs(clip=1e-7),
                   FocalKnobs(soft="p_t"), FocalKnobs(soft="signed_logit")]
        if case.options.alpha is not None:
            singles.append(FocalKnobs(alpha_off=True))
        else:
            singles.append(FocalKnobs(alpha_default=0.25))
        if case.reduction != "mean" and case.ndim > 1:
            singles.append(FocalKnobs(row_reduce=True))
        if case.reduction == "sum":
            singles.append(FocalKnobs(denominator="spatial"))
        return singles

    def variant_of(self, case: Case, dtype: DType, knobs: FocalKnobs, inputs: np.ndarray | None) -> np.ndarray:
        x = round_to(case.input.values, dtype) if inputs is None else inputs
        t = _smoothed(round_to(case.target.values, dtype), case.options.label_smoothing)
        gamma = float(round_to(case.options.gamma, "float64"))
        if (knobs.reads or case.input.kind) == "logits":
            p, not_p, log_p, log_not_p = expit(x), expit(-x), log_expit(x), log_expit(-x)
            if knobs.clip is not None:  # Keras on JAX and torch: sigmoid, then its BCE clips
                p_log = shared.clipped(p, knobs.clip, dtype)
                log_p, log_not_p = np.log(p_log), np.log1p(-p_log)
            logit = x
        else:
            p, not_p = x, 1 - x
            p_log = shared.clipped(x, knobs.clip, dtype)  # Keras clips the probabilities of its BCE
            log_p, log_not_p = np.log(p_log), np.log1p(-p_log)
            logit = np.log(x) - np.log1p(-x)
        alpha = None if knobs.alpha_off else case.options.alpha
        if alpha is None and knobs.alpha_default is not None:
            alpha = knobs.alpha_default
        if knobs.soft is None:
            a = t if alpha is None else alpha * t
            b = 1 - t if alpha is None else (1 - alpha) * (1 - t)
            losses = -(shared.times(a, not_p ** gamma * log_p) + shared.times(b, p ** gamma * log_not_p))
        else:
            bce = -(shared.times(t, log_p) + shared.times(1 - t, log_not_p))
            if knobs.soft == "p_t":
                weight = (t * not_p + (1 - t) * p) ** gamma
            else:
                weight = np.exp(gamma * log_expit(-logit * (2 * t - 1)))
            alpha_t = 1.0 if alpha is None else alpha * t + (1 - alpha) * (1 - t)
            losses = alpha_t * shared.times(weight, bce)
        if knobs.row_reduce:
            losses = losses.mean(axis=-1)
        if knobs.denominator == "spatial":
            return shared.spatial_sum(losses) if case.reduction == "sum" else None
        return shared.reduce_float(case, losses)


def _smoothed(t: Any, eps: float) -> Any:
    return t if not eps else t * (1 - eps) + eps / 2


def _coefficients(case: Case, dtype: DType, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, Any]:
    """(a, b, γ): the weights of the log p and log(1 - p) terms, from the smoothed target and α."""
    options: BinaryFocalOptions = case.options
    t = mp_array(case.target.values, dtype)
    eps = MP.mpf(options.label_smoothing)
    if eps:
        t = t * (ONE - eps) + eps / 2
    t = np.broadcast_to(t, shape)
    if options.alpha is None:
        a, b = t, ONE - t
    else:
        alpha = MP.mpf(options.alpha)
        a, b = alpha * t, (ONE - alpha) * (ONE - t)
    return a, b, MP.mpf(options.gamma)


def _parts(x: Any, kind: str) -> tuple[Any, Any, Any, Any]:
    if MP.isnan(x):
        return NAN, NAN, NAN, NAN
    return shared.sigmoid_parts(x) if kind == "logits" else shared.probability_parts(x)


def _slope(x: Any, a: Any, b: Any, gamma: Any, kind: str) -> Any:
    if any(MP.isnan(v) for v in (x, a, b)):
        return NAN
    p, not_p, log_p, log_not_p = _parts(x, kind)
    if kind == "logits":
        return (not_p * shared.term_slope_logit(a, p, not_p, log_p, gamma)
                - p * shared.term_slope_logit(b, not_p, p, log_not_p, gamma))
    return (shared.term_slope_p(a, p, not_p, log_p, gamma)
            - shared.term_slope_p(b, not_p, p, log_not_p, gamma))


FAMILY = BinaryFocal()
